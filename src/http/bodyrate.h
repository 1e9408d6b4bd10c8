/* Minimum request-body data rate (--min-body-rate, --body-rate-window): the rule that cuts a
 * client keeping a request body alive by trickling it, which the body timeout alone cannot do
 * (every byte re-arms it).
 *
 * The rule. Only time during which the server waits for body bytes counts: the event loop's
 * read-ahead and discard, an asynchronous read (HSE_REQ_ASYNC_READ_CLIENT) outstanding, a
 * synchronous ReadClient waiting in poll. Time the extension spends between reads does not.
 * That waiting time is cut into consecutive windows of `window_ms`, the first starting with the
 * body; each window must bring at least its quota, ceil(rate × window_ms / 1000) body bytes, or
 * the body is cut when the window ends. Bytes beyond a window's quota are not carried into the
 * next window, so a burst buys at most the rest of its window: a client cannot send a large
 * first part and then trickle. The first window is the grace period: nothing is cut before the
 * server has waited window_ms for the body. Bytes count when the server consumes them (decoded
 * body bytes; chunk framing does not count), including bytes that arrived while nobody waited.
 *
 * When windows are judged: when the server is about to wait again, after it has consumed what
 * was there, and in the middle of a wait that runs past a window's end (a poll bounded by the
 * window, the event loop's rate timer). So the bytes that end a wait count for the window in
 * which they came, even when the reader got to them late (a busy loop, a descheduled thread):
 * the server's own delays are not held against the client.
 *
 * Use. The thread that reads the body calls body_rate_stop() when it wakes (the wait's time is
 * accounted, not judged), reads what there is, and when a read finds nothing calls
 * body_rate_check() (false: cut the body) then body_rate_wait(); a timer may call
 * body_rate_check() in the middle of a wait, which goes on. Each call is a few arithmetic
 * operations on a clock value the caller already has (the event loop's cached time, or the
 * clock read around a poll), so the rule adds no system call.
 *
 * Ownership: a body_rate_t lives in its connection and belongs, like the connection's other
 * body fields, to whichever thread reads the body at the moment. */
#ifndef ISAPID_BODYRATE_H
#define ISAPID_BODYRATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct body_rate {
    uint64_t since_ms;   /* while waiting: the time waiting is accounted up to */
    uint64_t base;       /* body bytes consumed when the current window began */
    uint32_t waited_ms;  /* waiting time in the current window, up to since_ms */
    bool waiting;
    bool failed;         /* a window came short: every later check fails too */
} body_rate_t;

/* Longest interval between two checks of a wait in which no byte arrives (the event loop's
 * rate timer): a window that came short is cut at most this long after its end. */
#define BODY_RATE_TICK_MAX_MS 1000u

/* A new body: no window has begun. */
static inline void body_rate_reset(body_rate_t *m) { *m = (body_rate_t){0}; }

/* Bytes one window must bring: ceil(rate × window_ms / 1000); 0 when the rule is off (rate 0). */
uint64_t body_rate_quota(uint32_t rate, uint32_t window_ms);

/* The rate timer's interval for a window length: the window, at most BODY_RATE_TICK_MAX_MS. */
uint32_t body_rate_tick_ms(uint32_t window_ms);

/* A read found nothing: waiting begins at now_ms (no change if it already has). */
void body_rate_wait(body_rate_t *m, uint64_t now_ms);

/* Accounts the waiting time up to now_ms and closes the windows that have ended. `consumed` is
 * the number of body bytes consumed so far. Returns false when a window ended with fewer bytes
 * than its quota (*short_bytes, if not NULL, is how many it had; 0 for a repeated failure): the
 * body must be cut. The failure is sticky: later checks fail too (m->failed). Always true when
 * rate is 0. */
bool body_rate_check(body_rate_t *m, uint32_t rate, uint32_t window_ms, uint64_t consumed,
                     uint64_t now_ms, uint64_t *short_bytes);

/* The wait is over at now_ms: its time is accounted, to be judged by the next check. */
void body_rate_stop(body_rate_t *m, uint64_t now_ms);

/* Waiting time left in the current window as of the last check (call it right after one), at
 * least 1 ms; UINT32_MAX when the rule is off. A wait bounded by this ends no later than the
 * window does. */
uint32_t body_rate_left(const body_rate_t *m, uint32_t rate, uint32_t window_ms);

#endif
