/* Minimum send rate (--min-send-rate, --send-rate-window; http.sys's MinSendRate): the rule that
 * cuts a client that takes a response slower than the rate. The send timeout alone cannot do
 * it: every byte the client takes re-arms it, so a client reading a few bytes a second would
 * hold its connection, and, for a synchronous WriteClient, the extension's thread, for as long
 * as the response lasts.
 *
 * The rule is the minimum body rate's (src/http/bodyrate.h), with "bytes consumed" being the bytes of
 * the response the socket has taken (head and framing included): only time during which the
 * server waits for the socket to drain counts (a send found it full), cut into windows of
 * send_rate_window_ms, each of which must see rate × window bytes taken, else the client is cut
 * when the window ends. The first window is the grace period, and bytes beyond a window's quota
 * do not carry over. Time the extension spends between writes does not count.
 *
 * Every write path applies it: the event loop's responses (static files, errors, the tail of an
 * extension's response: conn_flush), asynchronous writes, TransmitFile and vector sends on the
 * loop (src/http/conn_async.c), synchronous WriteClient and vector sends on the extension's thread
 * (conn_send_blocking, whose poll ends no later than the current window). A wait that goes on
 * without the socket draining is judged by the loop's send-rate timer (tq_send_rate, every
 * window, at most every second), which first tries to send: bytes the socket would take count
 * even when the kernel has not said it is writable.
 *
 * The cut. The connection is closed with a reset (SO_LINGER 0: what the client did not take
 * is dropped, not left to drain from an orphaned socket), logged at most once a second. A
 * synchronous write fails with ERROR_TIMEOUT, an asynchronous one completes with it; the
 * connection closes when the request ends.
 *
 * Ownership: a send_rate_t lives in the connection's response block (conn_resp_t: idle
 * connections and parked requests hold none; the first write of a response takes it)
 * and belongs, like the socket's write side, to whichever thread writes the response: the loop,
 * or the extension's thread inside a synchronous write. The timer node is the loop's, armed
 * only while the loop itself waits to write. */
#ifndef ISAPID_SENDRATE_H
#define ISAPID_SENDRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "bodyrate.h"
#include "timeq.h"

typedef struct conn conn_t;

typedef struct send_rate {
    body_rate_t windows;  /* the windows' account; "consumed" is `sent` */
    uint64_t sent;        /* bytes of the current response the socket has taken */
    timeq_node_t timer;   /* in the loop's tq_send_rate while the loop waits to write */
    conn_t *conn;         /* the timer's connection */
} send_rate_t;

/* A new response on c (the response block was just taken or is reused). */
void send_rate_reset(send_rate_t *s, conn_t *c);

/* The socket took n more bytes of the response. */
static inline void send_rate_took(send_rate_t *s, uint64_t n) { s->sent += n; }

/* Any thread that writes the response; now_ms from its clock.
 * send_rate_full: a send found the socket full. Judges the windows that have ended (false: the
 * client is cut: logged, the socket set to reset on close; the caller fails the write), then
 * the wait begins. *wait_ms, if not NULL, is lowered to the time left in the current window, so
 * that a wait bounded by it ends when the window does.
 * send_rate_drained: the wait is over (the socket became writable, or a bounded wait ended). */
bool send_rate_full(send_rate_t *s, uint64_t now_ms, uint32_t *wait_ms);
void send_rate_drained(send_rate_t *s, uint64_t now_ms);

/* The loop's side, for writes it drives (loop thread only): the same, with the loop's cached
 * time, and the send-rate timer armed while the wait lasts and disarmed when it ends. */
bool conn_send_full(conn_t *c);
void conn_send_drained(conn_t *c);

#endif
