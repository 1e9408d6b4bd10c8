/* Request body reading and blocking output of a connection (src/http/conn.h): conn_body_read and the
 * waits for body bytes, the minimum body rate checks, and conn_send_blocking, used by
 * the loop thread or by the thread owning an extension request. Moved out of src/http/conn.c.
 *
 * Ownership: the body fields and c->body_rate belong to the thread reading the body (the loop
 * thread, or the thread owning an extension request), c->rate_timer to the loop; see the
 * comment on each function for which thread may call it. */

#define _GNU_SOURCE
#include "conn.h"
#include "conn_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accesslog.h"
#include "httputil.h"
#include "log.h"
#include "path.h"
#include "resphead.h"
#include "route.h"
#include "static_file.h"

/* ------------------------------------------------------------------------------------------ */
/* Body reading (loop thread, or the thread owning an extension request) */

/* The client sent "Expect: 100-continue" and waits for this before sending the body: say it
 * when the body is first needed (never for a response that does not read the body). */
static void conn_send_continue(conn_t *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    c->sent_continue = true;
    out_nagle_before_send(c->watch.fd, &c->nagle);
    ssize_t n = send(c->watch.fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
    (void)n; /* a full or failed socket shows up on the next read or write */
}

ssize_t conn_body_read(conn_t *c, void *dst, size_t cap)
{
    if (c->body_done || c->body_mode == BODY_NONE)
        return 0;
    if (cap == 0)
        return -EINVAL;
    uint64_t max_body = conn_cfg(c)->max_body_bytes;
    for (;;) {
        uint32_t avail = c->in_end - c->in_start;
        if (avail == 0 && c->expect_continue && !c->sent_continue)
            conn_send_continue(c);
        if (c->body_mode == BODY_LENGTH) {
            if (c->body_left == 0) {
                c->body_done = true;
                return 0;
            }
            size_t want = cap < c->body_left ? cap : (size_t)c->body_left;
            ssize_t n;
            if (avail > 0) {
                n = (ssize_t)(want < avail ? want : avail);
                if (dst)
                    memcpy(dst, c->in + c->in_start, (size_t)n);
                c->in_start += (uint32_t)n;
            } else if (dst) {
                /* Nothing buffered: receive straight into the caller's buffer. */
                n = recv(c->watch.fd, dst, want, 0);
            } else {
                c->in_start = c->in_end = c->in_keep;
                if (want > c->in_cap - c->in_keep)
                    want = c->in_cap - c->in_keep;
                n = recv(c->watch.fd, c->in + c->in_keep, want, 0);
            }
            if (n == 0)
                return -ECONNRESET;
            if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : -ECONNRESET;
            c->body_left -= (uint64_t)n;
            c->body_read += (uint64_t)n;
            if (c->body_left == 0)
                c->body_done = true;
            return n;
        }

        /* Chunked. */
        if (avail == 0) {
            c->in_start = c->in_end = c->in_keep;
            ssize_t n = recv(c->watch.fd, c->in + c->in_keep, c->in_cap - c->in_keep, 0);
            if (n == 0)
                return -ECONNRESET;
            if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : -ECONNRESET;
            c->in_end = c->in_keep + (uint32_t)n;
            continue;
        }
        size_t used, got;
        chunked_status_t st = chunked_decode(&c->chunked, c->in + c->in_start, avail, dst, cap,
                                             &used, &got);
        c->in_start += (uint32_t)used;
        c->body_read += got;
        if (st == CHUNKED_ERROR)
            return -EPROTO;
        if (max_body && c->body_read > max_body)
            return -EFBIG;
        if (st == CHUNKED_DONE)
            c->body_done = true;
        if (got > 0)
            return (ssize_t)got;
        if (c->body_done)
            return 0;
    }
}

int conn_wait_readable(conn_t *c, uint32_t timeout_ms)
{
    struct pollfd pfd = {.fd = c->watch.fd, .events = POLLIN | POLLRDHUP};
    for (;;) {
        int r = poll(&pfd, 1, (int)timeout_ms);
        if (r > 0)
            return 0;
        if (r == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Minimum body rate (src/http/bodyrate.h). c->body_rate belongs to the thread reading the body, as
 * the other body fields do; c->rate_timer to the loop. */

/* Judges the windows that have ended by now (the reader has consumed what there was, or its
 * wait ran past a window's end); false (logged once per body) when the body fell under the
 * minimum rate. Any thread that reads the body. */
bool conn_body_rate_ok(conn_t *c, uint64_t now)
{
    const config_t *cfg = conn_cfg(c);
    uint64_t got = 0;
    bool already = c->body_rate.failed;
    if (body_rate_check(&c->body_rate, cfg->min_body_rate, cfg->body_rate_window_ms, c->body_read,
                        now, &got))
        return true;
    if (!already)
        log_info("%s: request body too slow: %llu bytes in %u ms of waiting for it, under the "
                 "minimum of %u bytes/s (%llu needed); %llu body bytes received in all; cutting it",
                 c->peer_text, (unsigned long long)got, cfg->body_rate_window_ms,
                 cfg->min_body_rate,
                 (unsigned long long)body_rate_quota(cfg->min_body_rate, cfg->body_rate_window_ms),
                 (unsigned long long)c->body_read);
    return false;
}

int conn_body_wait(conn_t *c, uint32_t timeout_ms)
{
    const config_t *cfg = conn_cfg(c);
    if (cfg->min_body_rate == 0)
        return conn_wait_readable(c, timeout_ms);
    /* The caller has consumed what there was: judge, then wait. Each poll ends no later than
     * the current window, so that a window that came short is cut when it ends; after one that
     * did not, the wait goes on in the next window, still bounded by the body timeout in all.
     * Only the time inside poll is waiting time: the two clock reads around it are the rule's
     * whole cost here (vDSO, no system call). */
    uint64_t now = clock_now_ms(), start = now;
    for (;;) {
        if (!conn_body_rate_ok(c, now))
            return -ETIMEDOUT;
        uint64_t silent = now - start;
        if (silent >= timeout_ms)
            return -ETIMEDOUT;
        uint32_t t = timeout_ms - (uint32_t)silent;
        uint32_t left = body_rate_left(&c->body_rate, cfg->min_body_rate, cfg->body_rate_window_ms);
        bool capped = left < t;
        if (capped)
            t = left;
        body_rate_wait(&c->body_rate, now);
        int w = conn_wait_readable(c, t);
        now = clock_now_ms();
        body_rate_stop(&c->body_rate, now);
        if (w != -ETIMEDOUT || !capped)
            return w;
    }
}

void conn_body_wake(conn_t *c)
{
    if (!c->body_rate.waiting)
        return;
    timeq_disarm(&c->rate_timer);
    body_rate_stop(&c->body_rate, loop_now(c->nl->loop));
}

bool conn_body_sleep(conn_t *c)
{
    if (conn_cfg(c)->min_body_rate == 0)
        return true;
    uint64_t now = loop_now(c->nl->loop);
    if (!conn_body_rate_ok(c, now))
        return false;
    body_rate_wait(&c->body_rate, now);
    /* Bytes wake the reader; the timer judges a wait that goes on without them. */
    if (!timeq_node_armed(&c->rate_timer))
        loop_timer_arm(c->nl->loop, &c->nl->tq_rate, &c->rate_timer);
    return true;
}

void conn_body_wait_over(conn_t *c)
{
    timeq_disarm(&c->rate_timer);
    body_rate_stop(&c->body_rate, loop_now(c->nl->loop));
}

int conn_send_blocking(conn_t *c, out_chain_t *ch)
{
    if (c->batch_len || atomic_load_explicit(&c->gather_owner, memory_order_relaxed))
        return conn_batch_write(c, ch);
    return conn_send_chain_blocking(c, ch);
}

int conn_send_chain_blocking(conn_t *c, out_chain_t *ch)
{
    uint32_t timeout = conn_cfg(c)->send_timeout_ms;
    /* No account once the socket is released (the client left): the send fails anyway. */
    conn_resp_t *rs = c->watch.fd >= 0 ? conn_resp_take(c) : NULL;
    if (c->watch.fd >= 0 && !rs)
        return -ENOMEM;
    send_rate_t *rate = rs ? &rs->send_rate : NULL;
    uint64_t stall_start = 0;
    bool stalled = false;
    for (;;) {
        uint64_t before = ch->bytes;
        int r = out_chain_send_nagle(c->watch.fd, ch, &c->nagle);
        if (rate)
            send_rate_took(rate, ch->bytes - before);
        if (r == 1)
            return 0;
        if (r < 0)
            return r;
        /* The socket is full. The send timeout counts from the last progress; each poll also
         * ends with the minimum send rate's current window, which is then judged. The clock
         * is read only here, on a full socket. */
        uint64_t now = clock_now_ms();
        if (!stalled || ch->bytes != before) {
            stalled = true;
            stall_start = now;
        }
        if (now - stall_start >= timeout)
            return -ETIMEDOUT;
        uint32_t t = timeout - (uint32_t)(now - stall_start);
        if (rate && !send_rate_full(rate, now, &t))
            return -ETIMEDOUT; /* under the minimum send rate: logged */
        struct pollfd pfd = {.fd = c->watch.fd, .events = POLLOUT};
        int p;
        do
            p = poll(&pfd, 1, (int)t);
        while (p < 0 && errno == EINTR);
        if (rate)
            send_rate_drained(rate, clock_now_ms());
        if (p < 0)
            return -errno;
        if (p > 0 && (pfd.revents & (POLLERR | POLLHUP)) && !(pfd.revents & POLLOUT))
            return -EPIPE;
        /* p == 0: the window or the timeout ended; the next round sends, then judges. */
    }
}

bool conn_peer_gone(conn_t *c)
{
    if (atomic_load(&c->peer_gone))
        return true;
    struct pollfd pfd = {.fd = c->watch.fd, .events = POLLRDHUP};
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return true;
    return false;
}
