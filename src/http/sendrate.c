#include "sendrate.h"

#include <sys/socket.h>

#include "conn.h"
#include "log.h"

void send_rate_reset(send_rate_t *s, conn_t *c)
{
    body_rate_reset(&s->windows);
    s->sent = 0;
    s->timer.prev = s->timer.next = NULL;
    s->conn = c;
}

/* Cut: the client took less than the quota of an ended window. The connection will close with
 * a reset, dropping what the client never took. */
static void send_rate_cut(send_rate_t *s, uint64_t window_bytes)
{
    conn_t *c = s->conn;
    const config_t *cfg = c->nl->srv->cfg;
    static log_limiter_t slow_reader_log = LOG_LIMITER_INIT; /* one cause: slow readers */
    log_limited(&slow_reader_log, LOG_INFO,
                "%s: client reads the response too slowly: it took %llu bytes in %u ms of waiting "
                "for it, under the minimum of %u bytes/s (%llu needed); %llu bytes taken in all; "
                "cutting the connection",
                c->peer_text, (unsigned long long)window_bytes, cfg->send_rate_window_ms,
                cfg->min_send_rate,
                (unsigned long long)body_rate_quota(cfg->min_send_rate, cfg->send_rate_window_ms),
                (unsigned long long)s->sent);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->watch.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

bool send_rate_full(send_rate_t *s, uint64_t now_ms, uint32_t *wait_ms)
{
    const config_t *cfg = s->conn->nl->srv->cfg;
    if (cfg->min_send_rate == 0)
        return true;
    bool already = s->windows.failed;
    uint64_t got = 0;
    if (!body_rate_check(&s->windows, cfg->min_send_rate, cfg->send_rate_window_ms, s->sent, now_ms,
                         &got)) {
        if (!already)
            send_rate_cut(s, got);
        return false;
    }
    body_rate_wait(&s->windows, now_ms);
    if (wait_ms) {
        uint32_t left = body_rate_left(&s->windows, cfg->min_send_rate, cfg->send_rate_window_ms);
        if (left < *wait_ms)
            *wait_ms = left;
    }
    return true;
}

void send_rate_drained(send_rate_t *s, uint64_t now_ms)
{
    if (s->windows.waiting)
        body_rate_stop(&s->windows, now_ms);
}

bool conn_send_full(conn_t *c)
{
    if (!c->rs)
        return true;
    send_rate_t *s = &c->rs->send_rate;
    uint64_t now = loop_now(c->nl->loop);
    if (!send_rate_full(s, now, NULL))
        return false;
    /* The socket's wake-up ends the wait; the timer judges one that goes on without it. */
    if (c->nl->srv->cfg->min_send_rate && !timeq_node_armed(&s->timer))
        loop_timer_arm(c->nl->loop, &c->nl->tq_send_rate, &s->timer);
    return true;
}

void conn_send_drained(conn_t *c)
{
    if (!c->rs)
        return;
    send_rate_t *s = &c->rs->send_rate;
    timeq_disarm(&s->timer);
    send_rate_drained(s, loop_now(c->nl->loop));
}
