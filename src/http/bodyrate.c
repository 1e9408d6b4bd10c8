#include "bodyrate.h"

uint64_t body_rate_quota(uint32_t rate, uint32_t window_ms)
{
    /* Both factors are below 2^32: the product fits 64 bits. */
    return ((uint64_t)rate * window_ms + 999) / 1000;
}

uint32_t body_rate_tick_ms(uint32_t window_ms)
{
    if (window_ms == 0)
        return BODY_RATE_TICK_MAX_MS;
    return window_ms < BODY_RATE_TICK_MAX_MS ? window_ms : BODY_RATE_TICK_MAX_MS;
}

/* Adds the waiting time up to now_ms to the current window. */
static void account(body_rate_t *m, uint64_t now_ms)
{
    if (m->waiting && now_ms > m->since_ms) {
        /* waited_ms stays below window_ms across checks (ended windows are closed by them), so
         * the sum only overflows for a wait of about 49 days: clamp instead. */
        uint64_t total = (uint64_t)m->waited_ms + (now_ms - m->since_ms);
        m->waited_ms = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
        m->since_ms = now_ms;
    }
}

void body_rate_stop(body_rate_t *m, uint64_t now_ms)
{
    account(m, now_ms);
    m->waiting = false;
}

void body_rate_wait(body_rate_t *m, uint64_t now_ms)
{
    if (m->waiting)
        return;
    m->waiting = true;
    m->since_ms = now_ms;
}

bool body_rate_check(body_rate_t *m, uint32_t rate, uint32_t window_ms, uint64_t consumed,
                     uint64_t now_ms, uint64_t *short_bytes)
{
    if (rate == 0 || window_ms == 0)
        return true;
    if (m->failed) {
        if (short_bytes)
            *short_bytes = 0;
        return false;
    }
    account(m, now_ms);
    uint64_t quota = body_rate_quota(rate, window_ms);
    while (m->waited_ms >= window_ms) {
        uint64_t got = consumed - m->base;
        if (got < quota) {
            m->failed = true;
            if (short_bytes)
                *short_bytes = got;
            return false;
        }
        /* The window is over; the next begins with no bytes (a surplus does not carry over)
         * and with the waiting time that went past the window's end. */
        m->waited_ms -= window_ms;
        m->base = consumed;
    }
    return true;
}

uint32_t body_rate_left(const body_rate_t *m, uint32_t rate, uint32_t window_ms)
{
    if (rate == 0 || window_ms == 0)
        return UINT32_MAX;
    return m->waited_ms < window_ms ? window_ms - m->waited_ms : 1;
}
