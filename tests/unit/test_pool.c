/* Worker pools (src/core/pool.h). Shares: one share's items beyond its limit are held back
 * while another share's work runs; held items start as the share's running items finish;
 * a share at the pool's maximum (--extension-share 100) is not held back; pool_share_max's
 * arithmetic. Threads: work that waits grows the pool up to its maximum and no further; idle
 * workers retire down to the minimum; pool_stop runs the work queued (or held) before it began,
 * refuses work after, and, when a worker is still busy at its timeout, returns false and leaves
 * the pool to run the rest of the queue and exit. Items block on a gate the test opens, so
 * nothing depends on timing; every wait is bounded. */
#include "check.h"
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

typedef struct item {
    pool_work_t work; /* first */
    int index;
} item_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int running_a, max_running_a, started_order[16], n_started;
static atomic_int done_count;
static atomic_bool other_ran;

static void blocking_item(pool_work_t *w)
{
    item_t *it = (item_t *)w;
    pthread_mutex_lock(&lock);
    started_order[n_started++] = it->index;
    if (++running_a > max_running_a)
        max_running_a = running_a;
    pthread_cond_broadcast(&changed);
    while (!gate_open)
        pthread_cond_wait(&changed, &lock);
    running_a--;
    pthread_mutex_unlock(&lock);
    atomic_fetch_add(&done_count, 1);
}

static void other_item(pool_work_t *w)
{
    (void)w;
    atomic_store(&other_ran, true);
}

/* Waits up to 5 s for cond(); true when it held. */
static bool wait_until(bool (*cond)(void))
{
    for (int i = 0; i < 5000; i++) {
        if (cond())
            return true;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return cond();
}

static bool two_started(void)
{
    pthread_mutex_lock(&lock);
    bool ok = n_started >= 2;
    pthread_mutex_unlock(&lock);
    return ok;
}
static bool other_done(void) { return atomic_load(&other_ran); }
static bool all_done(void) { return atomic_load(&done_count) == 6; }
static bool four_started(void)
{
    pthread_mutex_lock(&lock);
    bool ok = n_started >= 4;
    pthread_mutex_unlock(&lock);
    return ok;
}
static bool one_started(void)
{
    pthread_mutex_lock(&lock);
    bool ok = n_started >= 1;
    pthread_mutex_unlock(&lock);
    return ok;
}

static void open_gate(void)
{
    pthread_mutex_lock(&lock);
    gate_open = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

/* Items that only count their runs, by index. */
#define MAX_COUNTED 6000
static atomic_int runs[MAX_COUNTED];

static void counted_item(pool_work_t *w)
{
    atomic_fetch_add(&runs[((item_t *)w)->index], 1);
}

static int counted_expected; /* items 0 .. counted_expected - 1 */
static bool counted_all(void)
{
    for (int i = 0; i < counted_expected; i++)
        if (atomic_load(&runs[i]) != 1)
            return false;
    return true;
}

static void reset(void)
{
    gate_open = false;
    running_a = max_running_a = n_started = 0;
    atomic_store(&done_count, 0);
    atomic_store(&other_ran, false);
    for (int i = 0; i < MAX_COUNTED; i++)
        atomic_store(&runs[i], 0);
}

static void test_share_holds_back(void)
{
    reset();
    pool_t *p = pool_new("test", "test-worker", 4, 4, 2, 256 * 1024);
    CHECK(p != NULL);
    pool_share_t a = {.name = "a"}, b = {.name = "b"};
    item_t items[6], other = {.index = 99};
    for (int i = 0; i < 6; i++) {
        items[i].index = i;
        CHECK(pool_submit(p, &items[i].work, blocking_item, &a));
    }
    CHECK(wait_until(two_started));
    pthread_mutex_lock(&lock);
    CHECK_INT(a.running, 2);
    CHECK_INT(a.held, 4);
    pthread_mutex_unlock(&lock);
    /* Two workers are free: b's item runs although six of a's were submitted first. */
    CHECK(pool_submit(p, &other.work, other_item, &b));
    CHECK(wait_until(other_done));
    pthread_mutex_lock(&lock);
    CHECK_INT(n_started, 2);
    gate_open = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    CHECK(wait_until(all_done));
    CHECK_INT(max_running_a, 2);
    /* The first two submitted ran first (the rest start as workers finish, in queue order,
     * but which of two workers records its start first is not fixed). */
    CHECK_INT(started_order[0] + started_order[1], 0 + 1);
    CHECK(pool_stop(p, 5000)); /* joins the workers: their last updates are visible */
    CHECK_INT(a.running + a.ready + a.held, 0);
    pool_free(p);
}

static void test_full_share_is_not_held(void)
{
    reset();
    pool_t *p = pool_new("test", "test-worker", 4, 4, 4, 256 * 1024);
    pool_share_t a = {.name = "a"};
    item_t items[6];
    for (int i = 0; i < 6; i++) {
        items[i].index = i;
        CHECK(pool_submit(p, &items[i].work, blocking_item, &a));
    }
    CHECK(wait_until(four_started));
    pthread_mutex_lock(&lock);
    CHECK_INT(a.held, 0); /* queued in the pool, not held */
    gate_open = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    CHECK(wait_until(all_done));
    CHECK(pool_stop(p, 5000));
    pool_free(p);
}

static void test_share_max(void)
{
    CHECK_INT(pool_share_max(16, 75), 12);
    CHECK_INT(pool_share_max(64, 75), 48);
    CHECK_INT(pool_share_max(8, 75), 6);
    CHECK_INT(pool_share_max(1, 75), 1);
    CHECK_INT(pool_share_max(3, 10), 1);
    CHECK_INT(pool_share_max(64, 100), 64);
}

static pool_t *polled_pool;
static unsigned polled_count;
static bool thread_count_is(void)
{
    return pool_thread_count(polled_pool) == polled_count;
}

/* Blocked items make the pool grow from 1 to its maximum of 4 and no further; once they are
 * done, the three surplus workers retire after the (shortened) idle period, and the one left
 * still runs work. */
static void test_grow_and_retire(void)
{
    reset();
    pool_t *p = pool_new("test", "test-worker", 1, 4, 4, 256 * 1024);
    CHECK(p != NULL);
    CHECK_INT(pool_thread_count(p), 1);
    item_t items[6];
    for (int i = 0; i < 6; i++) {
        items[i].index = i;
        CHECK(pool_submit(p, &items[i].work, blocking_item, NULL));
    }
    CHECK(wait_until(four_started)); /* three more workers, one per monitor tick */
    CHECK_INT(pool_thread_count(p), 4);
    pthread_mutex_lock(&lock);
    CHECK_INT(n_started, 4); /* the other two wait: the pool is at its maximum */
    pthread_mutex_unlock(&lock);
    open_gate();
    CHECK(wait_until(all_done));
    CHECK_INT(max_running_a, 4);
    CHECK_INT(pool_thread_count(p), 4); /* idle, not yet retired (30 s) */

    pool_set_idle_exit(p, 20);
    polled_pool = p;
    polled_count = 1;
    CHECK(wait_until(thread_count_is)); /* down to the minimum, and no lower */
    item_t after = {.index = 0};
    CHECK(pool_submit(p, &after.work, counted_item, NULL));
    counted_expected = 1;
    CHECK(wait_until(counted_all));
    CHECK_INT(pool_thread_count(p), 1);
    CHECK(pool_stop(p, 5000));
    CHECK_INT(pool_thread_count(p), 0);
    pool_free(p);
}

typedef struct stopper {
    pool_t *p;
    atomic_bool done;
    bool result;
} stopper_t;

static void *stopper_main(void *arg)
{
    stopper_t *s = arg;
    s->result = pool_stop(s->p, 5000);
    atomic_store(&s->done, true);
    return NULL;
}

/* pool_stop with both workers blocked, two items queued and two held back by their share: once
 * the stop has begun (a submit is refused), the gate opens and everything submitted before
 * runs exactly once; then pool_stop returns true. */
static item_t probes[MAX_COUNTED];

static void test_stop_runs_queued_work(void)
{
    reset();
    pool_t *p = pool_new("test", "test-worker", 2, 2, 1, 256 * 1024);
    CHECK(p != NULL);
    pool_share_t a = {.name = "a"};
    item_t blocked_a = {.index = 100}, blocked_other = {.index = 101};
    CHECK(pool_submit(p, &blocked_a.work, blocking_item, &a));
    CHECK(pool_submit(p, &blocked_other.work, blocking_item, NULL));
    int n = 0;
    for (; n < 2; n++) { /* held: a's share of one worker is taken */
        probes[n].index = n;
        CHECK(pool_submit(p, &probes[n].work, counted_item, &a));
    }
    for (; n < 4; n++) { /* queued: both workers are blocked */
        probes[n].index = n;
        CHECK(pool_submit(p, &probes[n].work, counted_item, NULL));
    }
    pthread_mutex_lock(&lock);
    CHECK_INT(a.held, 2);
    pthread_mutex_unlock(&lock);

    stopper_t st = {.p = p};
    pthread_t stopper;
    CHECK(pthread_create(&stopper, NULL, stopper_main, &st) == 0);
    /* Work submitted until the stop begins is queued and must run too. */
    bool refused = false;
    for (int tries = 0; tries < 5000 && n < MAX_COUNTED; tries++) {
        probes[n].index = n;
        if (!pool_submit(p, &probes[n].work, counted_item, NULL)) {
            refused = true;
            break;
        }
        n++;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    CHECK(refused);
    CHECK(!atomic_load(&st.done)); /* both workers are still blocked */
    open_gate();
    CHECK(pthread_join(stopper, NULL) == 0); /* pool_stop waits at most 5 s */
    CHECK_INT(atomic_load(&done_count), 2);
    CHECK(st.result);
    counted_expected = n;
    CHECK(counted_all());
    CHECK_INT(a.running + a.ready + a.held, 0);
    CHECK_INT(pool_thread_count(p), 0);
    pool_free(p);
}

/* pool_stop's timeout runs out while the only worker is blocked: it returns false, and the pool
 * must then be left alone (never freed): its worker, once free, runs what was queued and exits. */
static pool_t *left_pool; /* reachable, so leak checkers do not count it */

static void test_stop_times_out(void)
{
    reset();
    pool_t *p = pool_new("test", "test-worker", 1, 1, 1, 256 * 1024);
    CHECK(p != NULL);
    left_pool = p;
    item_t blocked = {.index = 100}, queued = {.index = 0}, late = {.index = 1};
    CHECK(pool_submit(p, &blocked.work, blocking_item, NULL));
    CHECK(pool_submit(p, &queued.work, counted_item, NULL));
    CHECK(wait_until(one_started));
    CHECK(!pool_stop(p, 20));
    CHECK(!pool_submit(p, &late.work, counted_item, NULL));
    open_gate();
    counted_expected = 1;
    CHECK(wait_until(counted_all));
    polled_pool = p;
    polled_count = 0;
    CHECK(wait_until(thread_count_is));
    CHECK_INT(atomic_load(&runs[1]), 0);
}

int main(void)
{
    test_share_max();
    test_share_holds_back();
    test_full_share_is_not_held();
    test_stop_times_out(); /* early: its detached worker is long gone when the process exits */
    test_grow_and_retire();
    test_stop_runs_queued_work();
    return check_report("test_pool");
}
