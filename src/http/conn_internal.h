/* Private to the pieces of src/http/conn.c (conn.c, conn_parse.c, conn_io.c, conn_out.c,
 * conn_timers.c): the functions they share. Not for use outside them.
 * Ownership and invariants are those of src/http/conn.h: the loop thread owns a connection, except
 * while an extension owns its current request. */
#ifndef ISAPID_CONN_INTERNAL_H
#define ISAPID_CONN_INTERNAL_H

#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "conn.h"
#include "server.h"

/* conn.c: buffers, timers, the state machine */
static inline config_t *conn_cfg(conn_t *c) { return c->nl->srv->cfg; }
static inline const handler_t *conn_handler(conn_t *c) { return &c->nl->srv->handler; }
/* The current request's pathbuf is over: freed, unless it is the head block's path_buf (then
 * it goes with the block: conn_release_input frees it first). */
static inline void conn_pathbuf_free(conn_t *c)
{
    if (!c->hd || c->pathbuf != c->hd->path_buf)
        free(c->pathbuf);
    c->pathbuf = NULL;
}
void conn_timer(conn_t *c, timeq_t *q);
bool conn_body_pending(const conn_t *c);
void conn_readahead_too_slow(conn_t *c);
loop_kept_t conn_drive(conn_t *c);
void conn_close(conn_t *c);

/* conn_parse.c: the request head */
const llhttp_settings_t *conn_parser_settings(void);
unsigned conn_build_reqinfo(conn_t *c);
/* The PROXY protocol header at the start of the input (c->proxy_pending): 1 taken (the
 * addresses replaced, the bytes after it moved to the buffer's start), 0 more bytes needed,
 * -1 refused (logged: the caller closes). */
int conn_proxy_header(conn_t *c);

/* conn_io.c: body reading (c->body_rate belongs to the thread reading the body) */
bool conn_body_rate_ok(conn_t *c, uint64_t now);

/* conn_out.c: output from the loop (loop thread only) */
static inline bool conn_output_pending(const conn_t *c)
{
    return c->out_buf != NULL || c->out_fd >= 0;
}
void conn_queue(conn_t *c, char *buf, size_t len, int fd, uint64_t off, uint64_t count);
void conn_output_free(conn_t *c);
int conn_flush(conn_t *c);
void conn_sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t n, unsigned *port);
/* conn_respond, conn_respond_error: conn.h (a respond handler's) */

#endif
