/* The minimum body rate's rule (src/http/bodyrate.h), driven with explicit times: the quota, the
 * grace period (the first window), paced clients above, at and under the rate, a burst followed
 * by a trickle, waiting time only (pauses between waits do not count), a late reader, several
 * windows ending in one wait, the failure being sticky, and the rule off. */
#include "bodyrate.h"
#include "check.h"

#include <stdint.h>

#define RATE 1000u   /* bytes per second */
#define WIN 1000u    /* ms: quota 1000 bytes */

static bool check_at(body_rate_t *m, uint64_t consumed, uint64_t now, uint64_t *short_bytes)
{
    return body_rate_check(m, RATE, WIN, consumed, now, short_bytes);
}

/* A reader that has consumed what there was and is about to wait: judge, then wait. */
static bool sleep_at(body_rate_t *m, uint64_t consumed, uint64_t now, uint64_t *short_bytes)
{
    if (!check_at(m, consumed, now, short_bytes))
        return false;
    body_rate_wait(m, now);
    return true;
}

static void test_quota_and_tick(void)
{
    CHECK_INT(body_rate_quota(240, 5000), 1200); /* the defaults */
    CHECK_INT(body_rate_quota(1000, 1000), 1000);
    CHECK_INT(body_rate_quota(1, 1), 1);          /* rounded up: never a zero quota */
    CHECK_INT(body_rate_quota(3, 500), 2);
    CHECK_INT(body_rate_quota(0, 5000), 0);
    CHECK_INT(body_rate_quota(UINT32_MAX, UINT32_MAX),
              ((uint64_t)UINT32_MAX * UINT32_MAX + 999) / 1000); /* no overflow */
    CHECK_INT(body_rate_tick_ms(5000), 1000);
    CHECK_INT(body_rate_tick_ms(1000), 1000);
    CHECK_INT(body_rate_tick_ms(300), 300);
    CHECK_INT(body_rate_tick_ms(0), 1000);
}

static void test_off(void)
{
    body_rate_t m;
    body_rate_reset(&m);
    body_rate_wait(&m, 0);
    CHECK(body_rate_check(&m, 0, WIN, 0, 1000000, NULL));
    CHECK_INT(body_rate_left(&m, 0, WIN), UINT32_MAX);
}

static void test_grace(void)
{
    /* Nothing is cut before the server has waited one whole window, whatever came. */
    body_rate_t m;
    body_rate_reset(&m);
    CHECK(sleep_at(&m, 0, 10000, NULL));
    CHECK(check_at(&m, 0, 10999, NULL)); /* the rate timer, in the middle of the wait */
    CHECK_INT(body_rate_left(&m, RATE, WIN), 1);
    uint64_t got = 99;
    CHECK(!check_at(&m, 0, 11000, &got));
    CHECK_INT(got, 0);
}

/* A client sending `first` bytes, then `piece` bytes every `gap` ms, read as they come by a
 * reader whose waits end no later than the current window (as ReadClient's poll does). Returns
 * the time of the cut, or 0 if there was none within `limit` ms; *got: the bytes of the window
 * that came short. */
static uint64_t paced(uint64_t first, uint64_t piece, uint64_t gap, uint64_t limit, uint64_t *got)
{
    body_rate_t m;
    body_rate_reset(&m);
    uint64_t now = 0, consumed = first;
    while (now < limit) {
        if (!sleep_at(&m, consumed, now, got))
            return now;
        uint64_t arrive = now + gap;
        for (;;) {
            uint32_t left = body_rate_left(&m, RATE, WIN);
            if (now + left >= arrive)
                break;
            now += left;             /* the wait timed out at the window's end */
            body_rate_stop(&m, now);
            if (!sleep_at(&m, consumed, now, got))
                return now;
        }
        now = arrive;
        body_rate_stop(&m, now); /* the bytes woke the reader */
        consumed += piece;       /* which reads them */
    }
    return 0;
}

static void test_paced_clients(void)
{
    uint64_t got = 0;
    /* Exactly the rate, in pieces: 100 bytes every 100 ms. */
    CHECK_INT(paced(0, 100, 100, 100000, &got), 0);
    /* Above it, in pieces with pauses under the window. */
    CHECK_INT(paced(0, 1500, 900, 100000, &got), 0);
    /* 90 bytes every 100 ms: the first window ends with 900 bytes. */
    CHECK_INT(paced(0, 90, 100, 100000, &got), 1000);
    CHECK_INT(got, 900);
    /* 1000 bytes every 1100 ms: the first window ends before any came, and is cut then. */
    CHECK_INT(paced(0, 1000, 1100, 100000, &got), 1000);
    CHECK_INT(got, 0);
}

static void test_burst_then_trickle(void)
{
    /* A megabyte at once, then a byte every 100 ms: the burst covers its own window only, so
     * the body is cut at the end of the second window (an average since the start would allow
     * about 1000 s). */
    uint64_t got = 0;
    CHECK_INT(paced(1000000, 1, 100, 100000, &got), 2000);
    CHECK_INT(got, 10);
}

static void test_sticky(void)
{
    body_rate_t m;
    body_rate_reset(&m);
    CHECK(sleep_at(&m, 0, 0, NULL));
    CHECK(!check_at(&m, 10, 1000, NULL));
    CHECK(m.failed);
    uint64_t got = 99;
    CHECK(!check_at(&m, 1000000, 1001, &got)); /* whatever comes later */
    CHECK_INT(got, 0);
}

static void test_pauses_do_not_count(void)
{
    /* The extension works for 10 s between two reads: only the waits count. */
    body_rate_t m;
    body_rate_reset(&m);
    CHECK(sleep_at(&m, 0, 0, NULL));
    body_rate_stop(&m, 500);
    /* not waiting from 500 to 10500 */
    CHECK(sleep_at(&m, 0, 10500, NULL));
    CHECK_INT(body_rate_left(&m, RATE, WIN), 500);
    body_rate_wait(&m, 10700); /* already waiting: the wait began at 10500 */
    CHECK(check_at(&m, 0, 10999, NULL));
    CHECK(!check_at(&m, 0, 11000, NULL));

    /* Bytes consumed while nobody waited count for the window in progress. */
    body_rate_reset(&m);
    CHECK(sleep_at(&m, 0, 0, NULL));
    body_rate_stop(&m, 900);
    uint64_t consumed = 1000; /* read without waiting, at any time */
    CHECK(sleep_at(&m, consumed, 60000, NULL));
    CHECK(check_at(&m, consumed, 60100, NULL)); /* the first window ends with 1000 bytes */
    CHECK_INT(body_rate_left(&m, RATE, WIN), 1000);
}

static void test_late_reader(void)
{
    /* The client's bytes came in time but the reader got to them late (a busy loop): they count
     * for the window in which the wait ended, not against the client. */
    body_rate_t m;
    body_rate_reset(&m);
    CHECK(sleep_at(&m, 0, 0, NULL));
    body_rate_stop(&m, 1300);
    CHECK(sleep_at(&m, 1000, 1300, NULL));
    CHECK_INT(body_rate_left(&m, RATE, WIN), 700); /* the next window has used 300 ms */
    CHECK(check_at(&m, 1000, 1999, NULL));
    CHECK(!check_at(&m, 1000, 2000, NULL));
}

static void test_many_windows_in_one_wait(void)
{
    /* A wait over two windows (no check in between): its bytes count for the first, the second
     * had none. */
    body_rate_t m;
    body_rate_reset(&m);
    CHECK(sleep_at(&m, 0, 0, NULL));
    body_rate_stop(&m, 2600);
    uint64_t got = 99;
    CHECK(!sleep_at(&m, 5000, 2600, &got));
    CHECK_INT(got, 0);
}

static void test_timer_checks_in_a_wait(void)
{
    /* A check in the middle of a wait (the loop's rate timer) leaves the wait going on. */
    body_rate_t m;
    body_rate_reset(&m);
    CHECK(sleep_at(&m, 2000, 0, NULL));
    CHECK(check_at(&m, 2000, 1000, NULL)); /* window 1 closed with 2000 bytes */
    CHECK(m.waiting);
    CHECK(check_at(&m, 2000, 1999, NULL));
    CHECK(!check_at(&m, 2000, 2000, NULL));
    /* A clock that did not move (or an earlier time) adds nothing. */
    body_rate_reset(&m);
    CHECK(sleep_at(&m, 0, 500, NULL));
    CHECK(check_at(&m, 0, 400, NULL));
    CHECK_INT(body_rate_left(&m, RATE, WIN), 1000);
}

int main(void)
{
    test_quota_and_tick();
    test_off();
    test_grace();
    test_paced_clients();
    test_burst_then_trickle();
    test_sticky();
    test_pauses_do_not_count();
    test_late_reader();
    test_many_windows_in_one_wait();
    test_timer_checks_in_a_wait();
    return check_report("test_bodyrate");
}
