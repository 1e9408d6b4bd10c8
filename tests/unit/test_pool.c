/* Worker pool shares (src/core/pool.h): one share's items beyond its limit are held back while
 * another share's work runs; held items start as the share's running items finish;
 * a share at the pool's maximum (--extension-share 100) is not held back; pool_share_max's
 * arithmetic. Items block on a gate the test opens, so nothing depends on timing; every wait is
 * bounded. */
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

static void reset(void)
{
    gate_open = false;
    running_a = max_running_a = n_started = 0;
    atomic_store(&done_count, 0);
    atomic_store(&other_ran, false);
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

int main(void)
{
    test_share_max();
    test_share_holds_back();
    test_full_share_is_not_held();
    return check_report("test_pool");
}
