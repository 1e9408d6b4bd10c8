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
#include "loop_backend.h"
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
/* A read of the head took n bytes of the room it offered: fewer means the socket had no more,
 * and the next bytes bring an event of their own (edge-triggered), so no read is tried before
 * it (nginx's test too; a read that would find nothing is a system call per request). Not once
 * a hang-up was reported: that edge is gone, and only a read sees the end. */
static inline void conn_note_short_read(conn_t *c, size_t n, size_t room)
{
    if (n < room && !c->hup_seen)
        c->readable = false;
}
/* src/http/conn_buffers.c */
/* The loop's spare input buffers, head blocks, response blocks and connections (netloop_t): enough for the
 * connections that one loop iteration closes (conn_reap) to hand theirs to the next ones
 * accepted, without a malloc and free of 20 KiB per connection (a busy loop reaps a dozen and
 * more at a time); bounded, so that a burst leaves little behind: 16 of each. (Under callgrind,
 * whose slow loop reaps more at a time, 64 clients at a time cost 12,098 instructions per
 * `Connection: close` request with 16 spares and 10,843 with 64; but 64 spares, some 1.3 MiB,
 * added 130 bytes of RSS per idle connection over 5,000 to bench.py idle's count, as the idle
 * connections' first reads touched the spares' pages.) */
#define CONN_SPARES 16
/* Response blocks are small (a conn_resp_t) and a connection keeps its block from the
 * extension's first write until it goes idle, after the event batch that served it: a loop keeps
 * one batch's worth (with 16, 64 clients made three requests in four malloc one). */
#define CONN_SPARE_RESPONSES LOOP_BACKEND_BATCH
void *spare_pop(void **list, unsigned *n);
/* Onto the list while it holds fewer than keep, else freed; blk may be NULL. */
void spare_push(void **list, unsigned *n, unsigned keep, void *blk);
/* Give the connection's input buffer, head block and response block (and the decoded path)
 * back to the loop's spares while they hold fewer than keep, else free them. */
void conn_release_input(conn_t *c, unsigned keep);
/* A handler took the request over: the buffers go at once when nothing can be read any more. */
void conn_release_unreadable(conn_t *c);
/* First read of a request into a connection without buffers: 1 bytes read, 0 would block,
 * -1 EOF/error/ENOMEM. */
int conn_first_read(conn_t *c);

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

/* In CONN_HEAD: no byte of the next request has been read or is buffered (a new connection, or
 * one kept alive between requests). Bytes still in the socket are not looked at. */
static inline bool conn_no_request_bytes(const conn_t *c)
{
    return !c->head_started && c->in_end == c->in_start;
}

/* conn_out.c: output from the loop (loop thread only) */
static inline bool conn_output_pending(const conn_t *c)
{
    return c->out_buf != NULL || c->out_fd >= 0 || c->batch_queued;
}
void conn_queue(conn_t *c, char *buf, size_t len, int fd, uint64_t off, uint64_t count);
/* The response side (c->rs), taken if the connection has none (a handler's request whose head
 * was released): NULL on ENOMEM. Called by the thread that writes the response: while a handler
 * owns the request, the one writing (a synchronous write's, or the loop's); else the loop. */
conn_resp_t *conn_resp_take(conn_t *c);
void conn_output_free(conn_t *c);
int conn_flush(conn_t *c);
void conn_sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t n, unsigned *port);
/* conn_respond, conn_respond_error: conn.h (a respond handler's) */

/* conn_batch.c: responses to pipelined requests gathered into one send (loop thread, but
 * conn_batch_write: the request's writer). */
#define CONN_BATCH_MAX (64u * 1024)     /* per connection, at most: what a client that stops
                                         * reading can make the server hold in memory */
#define CONN_BATCH_FILE_MAX (16u * 1024) /* file ranges up to this are read into the batch */
#define CONN_BATCH_SPARES 1 /* batch buffers the loop keeps for the next connections */
/* The queued response (nothing of it sent yet) goes into the batch instead of the socket,
 * when the connection stays open and more pipelined input waits, or a batch waits for it:
 * true taken (the output is freed; its payload counted in log_bytes). */
bool conn_batch_take_slow(conn_t *c);
static inline bool conn_batch_take(conn_t *c)
{
    return (c->in_end > c->in_start || c->batch_len) && conn_batch_take_slow(c);
}
/* The read-ahead needs bytes that are not in the buffer yet, or 100 Continue first: the
 * batch leaves before it. */
bool conn_readahead_reads_socket(const conn_t *c);
/* The batch alone becomes the output (when it is not empty and nothing else is queued). */
void conn_batch_queue(conn_t *c);
/* Before the output is first flushed: a waiting batch becomes its first segment. */
void conn_batch_prepend_slow(conn_t *c);
static inline void conn_batch_prepend(conn_t *c)
{
    if (c->batch_len && !c->batch_queued)
        conn_batch_prepend_slow(c);
}
/* The batch is sent or dropped: empty it (the buffer stays). */
void conn_batch_sent(conn_t *c);
/* The connection goes idle or away: the buffer back to the loop's spare, or freed. */
void conn_batch_release_slow(conn_t *c);
static inline void conn_batch_release(conn_t *c)
{
    if (c->batch)
        conn_batch_release_slow(c);
}
/* Loop thread, before the handler starts a request: let this thread's synchronous writes of
 * it gather into the batch when the connection stays open and more pipelined input waits. */
void conn_gather_begin_slow(conn_t *c);
static inline void conn_gather_begin(conn_t *c)
{
    if (c->in_end > c->in_start)
        conn_gather_begin_slow(c);
}
/* conn_send_blocking with a batch or a gathering thread: the chain's memory goes into the
 * batch (the gathering thread, room left), or the batch is sent first, then the chain
 * (together when they fit one sendmsg); an empty chain sends the batch. 0 or -errno, as
 * conn_send_blocking. */
int conn_batch_write(conn_t *c, out_chain_t *ch);

/* conn_io.c: conn_send_blocking without the batch. */
int conn_send_chain_blocking(conn_t *c, out_chain_t *ch);

#endif
