/* Timers and shutdown of a loop's connections: expiry of the timeout queues, the body-rate and
 * send-rate timers (conn_timers_run), closing idle connections and closing all of them.
 * Moved out of src/http/conn.c.
 *
 * Also the timers of a handler's loop-driven operation (src/http/conn_async.c) and the walk
 * over the handler's requests (conn_for_each_request), and the census of the loop's
 * connections by state (conn_census).
 *
 * Invariants and ownership: loop thread only; a connection is in at most one timeout queue. */

#define _GNU_SOURCE
#include "conn.h"
#include "conn_internal.h"
#include "conn_async.h"

#include <assert.h>
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
/* Timers and shutdown */

/* Drives a connection a timer answered with an error: that answer closes the connection, so no
 * request is read after it and no extension runs here; the tick cannot lose the loop
 * (loop_kept_t), as the loop's tick requires. */
static void drive_after_timer(conn_t *c)
{
    loop_kept_t kept = conn_drive(c);
    (void)kept;
    assert(kept == LOOP_KEPT);
}

static void expire_queue(netloop_t *nl, timeq_t *q, uint64_t now)
{
    timeq_node_t *n;
    while ((n = timeq_expired(q, now)) != NULL) {
        conn_t *c = (conn_t *)((char *)n - offsetof(conn_t, timer));
        timeq_disarm(n);
        if (c->state == CONN_EXTENSION) { /* an asynchronous operation's timer */
            if (c->op)
                conn_async_timeout(c);
            continue;
        }
        if (q == &nl->tq_header && c->proxy_pending) {
            static log_limiter_t late = LOG_LIMITER_INIT;
            log_limited(&late, LOG_WARN, "%s:%u: no complete PROXY protocol header within %u ms "
                        "(%s); closing the connection", c->peer_text, c->peer_port, q->timeout_ms,
                        c->in_end > c->in_start ? "part of one came" : "nothing came");
            conn_close(c);
            continue;
        }
        if (q == &nl->tq_header && c->head_started && c->state == CONN_HEAD && !conn_output_pending(c)) {
            log_debug("%s: request head not complete within %u ms", c->peer_text, q->timeout_ms);
            c->hd->ri.http_major = 1;
            c->hd->ri.http_minor = 1;
            c->log_time = time(NULL);
            conn_respond_error(c, 408, true);
            c->writable = true;
            drive_after_timer(c);
            continue;
        }
        if (q == &nl->tq_body && (c->state == CONN_READAHEAD || c->state == CONN_DRAIN) &&
            !conn_output_pending(c)) {
            log_debug("%s: request body stalled for %u ms", c->peer_text, q->timeout_ms);
            if (c->state == CONN_READAHEAD) {
                request_t *r = c->req;
                c->req = NULL;
                conn_handler(c)->request_discard(r);
            }
            conn_respond_error(c, 408, true);
            c->writable = true;
            drive_after_timer(c);
            continue;
        }
        if (q == &nl->tq_send)
            log_debug("%s: client did not read for %u ms, closing", c->peer_text, q->timeout_ms);
        conn_close(c);
    }
}

/* The rate timer: a wait for body bytes went on for a tick without a byte (a byte wakes the
 * reader, which checks the rate itself). Check it, and cut a body that fell under the minimum
 * rate: 408 during the read-ahead or a drain before the response, a close while discarding, ERROR_TIMEOUT for an asynchronous
 * read. */
static void expire_rate(netloop_t *nl, uint64_t now)
{
    timeq_node_t *n;
    while ((n = timeq_expired(&nl->tq_rate, now)) != NULL) {
        conn_t *c = (conn_t *)((char *)n - offsetof(conn_t, rate_timer));
        timeq_disarm(n);
        if (conn_body_rate_ok(c, now)) {
            timeq_arm(&nl->tq_rate, n, now);
            continue;
        }
        switch (c->state) {
        case CONN_READAHEAD:
        case CONN_DRAIN:
            body_rate_stop(&c->body_rate, now);
            if (conn_output_pending(c)) {
                conn_close(c);
                break;
            }
            if (c->state == CONN_READAHEAD)
                conn_readahead_too_slow(c);
            else
                conn_respond_error(c, 408, true);
            c->writable = true;
            drive_after_timer(c);
            break;
        case CONN_DISCARD:
            conn_close(c);
            break;
        case CONN_EXTENSION: /* an asynchronous read: its completion reports the timeout */
            if (c->op)
                conn_async_timeout(c);
            break;
        default: /* not reached: the timer is armed only while the loop waits for body bytes */
            body_rate_stop(&c->body_rate, now);
            break;
        }
    }
}

/* The send-rate timer: the loop has waited a tick for the socket to drain. The write is driven
 * again: what the socket takes now counts, and a socket still full has the windows judged
 * (conn_send_full), which cuts a client under the minimum send rate. */
static void expire_send_rate(netloop_t *nl, uint64_t now)
{
    /* The expired nodes are taken off the queue first: a write that finds the socket still
     * full re-arms its timer (from the loop's time), and that belongs to a later pass. */
    timeq_t due;
    timeq_init(&due, 0);
    timeq_node_t *n;
    while ((n = timeq_expired(&nl->tq_send_rate, now)) != NULL)
        timeq_arm(&due, n, 0); /* moves it; the order is kept */
    while ((n = timeq_expired(&due, UINT64_MAX)) != NULL) {
        conn_t *c = ((send_rate_t *)((char *)n - offsetof(send_rate_t, timer)))->conn;
        timeq_disarm(n);
        if (c->state == CONN_EXTENSION) { /* an asynchronous write */
            if (c->op)
                conn_async_drive(c);
        } else if (conn_output_pending(c)) {
            c->writable = true;
            /* A keep-alive response whose end reads a pipelined extension request starts it
             * from here; a handler does not make a call that may block from the loop's tick
             * (loop_in_tick), so this cannot lose the loop. */
            drive_after_timer(c);
        }
    }
}

uint64_t conn_timers_run(netloop_t *nl, uint64_t now)
{
    /* Rate checks first: a cut may arm the send or linger timer, whose deadlines follow. */
    expire_rate(nl, now);
    expire_send_rate(nl, now);
    timeq_t *qs[] = {&nl->tq_header, &nl->tq_keepalive, &nl->tq_body, &nl->tq_send, &nl->tq_linger};
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        expire_queue(nl, qs[i], now);
        uint64_t d = timeq_next_deadline(qs[i]);
        if (d < next)
            next = d;
    }
    if (timeq_next_deadline(&nl->tq_rate) < next) /* no expiry above arms a rate timer */
        next = timeq_next_deadline(&nl->tq_rate);
    if (timeq_next_deadline(&nl->tq_send_rate) < next)
        next = timeq_next_deadline(&nl->tq_send_rate);
    conn_reap(nl);
    return next;
}

/* Idle: between requests, with no byte of the next one read, buffered or waiting in the socket.
 * One that reached the socket while the loop was busy (its event not yet handled) is read and
 * answered, with Connection: close once the server is stopping, rather than cut unanswered. */
static bool conn_is_idle(const conn_t *c)
{
    if (c->state != CONN_HEAD || !conn_no_request_bytes(c) || conn_output_pending(c))
        return false;
    char byte;
    return recv(c->watch.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

void conn_close_idle(netloop_t *nl)
{
    conn_t *c = nl->conns;
    while (c) {
        conn_t *next = c->next;
        if (conn_is_idle(c))
            conn_close(c);
        c = next;
    }
    conn_reap(nl);
}

void conn_close_all(netloop_t *nl)
{
    conn_t *c = nl->conns;
    while (c) {
        conn_t *next = c->next;
        if (c->state == CONN_EXTENSION) {
            /* The extension still holds the request: cut the socket, keep the object until
             * the session ends; an operation on the loop fails now. */
            if (c->watch.fd >= 0) /* not released already */
                shutdown(c->watch.fd, SHUT_RDWR);
            atomic_store(&c->peer_gone, true);
            if (c->op)
                conn_async_drive(c);
        } else {
            conn_close(c);
        }
        c = next;
    }
    conn_reap(nl);
}

void conn_census(netloop_t *nl, const conn_t *serving, conn_census_t *out)
{
    *out = (conn_census_t){0};
    for (conn_t *c = nl->conns; c; c = c->next) {
        out->active++;
        if (c == serving) {
            out->writing++;
            continue;
        }
        switch (c->state) {
        case CONN_HEAD:
            if (conn_no_request_bytes(c))
                out->idle++; /* new, or kept alive */
            else
                out->reading++;
            break;
        case CONN_READAHEAD:
        case CONN_DRAIN:
        case CONN_DISCARD:
            out->reading++;
            break;
        case CONN_EXTENSION:
        case CONN_SENDING:
        case CONN_LINGER:
        case CONN_CLOSED:
            out->writing++; /* being answered, or its response finished off */
            break;
        }
    }
}

void conn_for_each_request(netloop_t *nl, void (*fn)(conn_t *c, request_t *r, void *arg),
                           void *arg)
{
    for (conn_t *c = nl->conns; c; c = c->next) {
        request_t *r = conn_request(c);
        if (r)
            fn(c, r, arg);
    }
}
