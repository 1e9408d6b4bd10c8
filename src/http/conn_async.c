/* A handler's asynchronous operation on a connection, driven by the loop (src/http/conn_async.h).
 * Its timer is the connection's (c->timer: the body or send timeout), its rate accounts are the
 * connection's (body_rate and the response block's send_rate), so the loop's timer expiry
 * (src/http/conn_timers.c) and event handler (src/http/conn.c) come back here through c->op. */
#define _GNU_SOURCE
#include "conn_async.h"
#include "conn_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

/* The operation is over: the loop waits for it no more; the handler gets its status. */
static void async_finish(conn_t *c, int status)
{
    conn_async_t *op = c->op;
    c->op = NULL;
    timeq_disarm(&c->timer);
    if (op->read)
        conn_body_wait_over(c); /* however the read ended, the loop waits no more */
    else
        conn_send_drained(c);
    op->done(c, op, status);
}

static void async_read(conn_t *c, conn_async_t *op)
{
    /* Only the time the read is outstanding counts for the minimum body rate. */
    conn_body_wake(c);
    ssize_t n = op->empty ? 0 : conn_body_read(c, op->buf, op->cap);
    if (n >= 0) {
        op->got = (size_t)n;
        async_finish(c, 0);
    } else if (n == -EAGAIN) {
        if (!conn_body_sleep(c))
            async_finish(c, -ETIMEDOUT); /* under the minimum body rate */
        else if (!timeq_node_armed(&c->timer))
            conn_timer(c, &c->nl->tq_body);
    } else if (n == -EPROTO || n == -EFBIG) {
        async_finish(c, (int)n);
    } else {
        async_finish(c, -ECONNRESET);
    }
}

static void async_send(conn_t *c, conn_async_t *op)
{
    conn_send_drained(c); /* a wait for the socket, if one went on, is over */
    out_chain_t *cur = &op->cur;
    uint64_t before = cur->payload_sent;
    size_t before_i = cur->i;
    uint64_t before_done = cur->seg_done, before_bytes = cur->bytes;
    int rc = out_chain_send_nagle(c->watch.fd, cur, &c->nagle);
    if (c->rs)
        send_rate_took(&c->rs->send_rate, cur->bytes - before_bytes);
    if (rc == 1) {
        if (op->shut_after)
            shutdown(c->watch.fd, SHUT_WR); /* the client sees the end of the response now */
        async_finish(c, 0);
    } else if (rc == 0) {
        if (!conn_send_full(c)) { /* under the minimum send rate: logged */
            async_finish(c, -ETIMEDOUT);
            return;
        }
        bool progress = cur->payload_sent != before || cur->i != before_i ||
                        cur->seg_done != before_done;
        if (progress || !timeq_node_armed(&c->timer))
            conn_timer(c, &c->nl->tq_send);
    } else {
        log_debug("%s: asynchronous send failed: %s", c->peer_text, strerror(-rc));
        async_finish(c, -ECONNRESET);
    }
}

void conn_async_drive(conn_t *c)
{
    if (c->watch.fd < 0) { /* released (the client left): fails like a reset */
        async_finish(c, -ECONNRESET);
        return;
    }
    if (c->op->read)
        async_read(c, c->op);
    else
        async_send(c, c->op);
}

void conn_async_start(conn_t *c, conn_async_t *op)
{
    c->op = op;
    if (!op->read && c->watch.fd >= 0 && !conn_resp_take(c)) { /* the send rate's account */
        async_finish(c, -ENOMEM);
        return;
    }
    conn_async_drive(c);
}

void conn_async_kick(conn_t *c, conn_async_t *op)
{
    if (c->op == op)
        conn_async_drive(c);
}

void conn_async_cancel(conn_t *c, conn_async_t *op)
{
    if (c->op == op) {
        log_debug("%s: asynchronous %s cancelled by its handler", c->peer_text,
                  op->read ? "read" : "write");
        async_finish(c, -ECANCELED);
    }
}

void conn_async_timeout(conn_t *c)
{
    log_debug("%s: asynchronous %s timed out", c->peer_text, c->op->read ? "read" : "write");
    async_finish(c, -ETIMEDOUT);
}
