/* Asynchronous operations on a connection, driven by its event loop: a read of request body
 * bytes, or a send of segments, for the handler that owns the connection's request (an ISAPI
 * extension's ReadClient / WriteClient / TransmitFile / vector send with HSE_IO_ASYNC, and the
 * end of a HSE_REQ_SEND_URL child). The loop tries the operation at once and again whenever the
 * socket is ready, under the body or send timeout and the minimum body or send rate, until it
 * ends; then it calls op->done on the loop thread, inside conn_async_start itself when the
 * operation ends at once: done only records the result and queues the completion elsewhere
 * (the ISAPI host: to its completion pool, never inline to the extension).
 *
 * Ownership: the handler owns the conn_async_t (embedded in its request) and fills it before
 * conn_async_start; from then until done is called it belongs to the loop, which is the only one
 * to touch it. At most one operation per connection at a time. Loop thread only. */
#ifndef ISAPID_CONN_ASYNC_H
#define ISAPID_CONN_ASYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"

struct conn_async {
    bool read;            /* a read of body bytes into buf; else a send of cur */
    bool empty;           /* read: the reader has no body (0 bytes, the end, at once) */
    char *buf;            /* read: the destination, cap bytes */
    size_t cap;
    size_t got;           /* read: the bytes read, when done with status 0 */
    out_chain_t cur;     /* send: the segments and how far they went (cur.payload_sent) */
    bool shut_after;      /* send: shut the write side once everything is sent */
    /* The operation is over: status 0, -ETIMEDOUT (the body or send timeout, or under the
     * minimum rate: logged), -EPROTO (a malformed chunked body), -EFBIG (over the body limit),
     * -ECONNRESET (the connection failed, was shut down or released), or -ECANCELED
     * (conn_async_cancel: a send may have sent part of its segments, cur.payload_sent says how
     * much; the response is then cut short and the handler must close the connection). */
    void (*done)(conn_t *c, conn_async_t *op, int status);
};

/* Start op on c (nothing else outstanding on it) and try it at once. */
void conn_async_start(conn_t *c, conn_async_t *op);
/* Try c's operation again (the socket is ready, or may have failed). c->op must be set. */
void conn_async_drive(conn_t *c);
/* c's operation's timer expired: it ends with -ETIMEDOUT. */
void conn_async_timeout(conn_t *c);
/* Try op again if it is still c's operation (it may have ended meanwhile). */
void conn_async_kick(conn_t *c, conn_async_t *op);
/* The handler cancels op: if it is still c's operation it ends now, done called once with
 * -ECANCELED; if it ended meanwhile (or another one runs), nothing happens. */
void conn_async_cancel(conn_t *c, conn_async_t *op);
static inline bool conn_async_busy(const conn_t *c) { return c->op != NULL; }

#endif
