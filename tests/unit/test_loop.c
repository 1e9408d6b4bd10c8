/* The event loop's ownership protocol (src/core/loop.h), driven by hand: tasks run in posting
 * order on the thread running the loop; a task posted by that thread runs on the next
 * iteration, which does not sleep, or, posted from an event callback, before the batch's next
 * event; a call between loop_call_begin and loop_call_end found on
 * two watchdog looks (loop_take_if_stuck, called here by the test) is taken, a helper thread
 * finishes the iteration and runs the loop (loop_run_taken), the home thread's loop_call_end
 * returns false and the loop goes back to the home thread; or, with no helper, the home thread
 * takes it back itself. A poster thread posts tasks all along: each runs exactly once, in order.
 *
 * Nothing depends on timing: the blocking call waits on a gate the test opens, and every wait
 * for a condition polls it with a bound of a few seconds (alarm() ends a test that hangs). */
#define _GNU_SOURCE /* gettid */
#include "check.h"
#include "loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* ---- a log of the tasks that ran, under log_lock ---- */

enum { POSTER_MAIN, POSTER_THREAD, N_POSTERS };
#define MAX_POSTED 20000

typedef struct record_task {
    loop_task_t task; /* first */
    int poster;
    int seq;          /* 1, 2, ... per poster */
} record_task_t;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int last_seq[N_POSTERS];   /* the last seq that ran, per poster */
static int order_errors;          /* a task that ran out of order, twice, or off the loop */
static int ran_total;
static pthread_t ran_on[MAX_POSTED + 1]; /* main poster's tasks: the thread that ran seq */

static void record_run(loop_task_t *t)
{
    record_task_t *r = (record_task_t *)t;
    pthread_mutex_lock(&log_lock);
    if (r->seq != last_seq[r->poster] + 1)
        order_errors++;
    last_seq[r->poster] = r->seq;
    if (r->poster == POSTER_MAIN)
        ran_on[r->seq] = pthread_self();
    ran_total++;
    pthread_mutex_unlock(&log_lock);
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_lock);
    for (int i = 0; i < N_POSTERS; i++)
        last_seq[i] = 0;
    order_errors = ran_total = 0;
    pthread_mutex_unlock(&log_lock);
}

static int main_seq_ran(void)
{
    pthread_mutex_lock(&log_lock);
    int n = last_seq[POSTER_MAIN];
    pthread_mutex_unlock(&log_lock);
    return n;
}

static pthread_t ran_on_of(int seq)
{
    pthread_mutex_lock(&log_lock);
    pthread_t t = ran_on[seq];
    pthread_mutex_unlock(&log_lock);
    return t;
}

static record_task_t main_tasks[64];
static int main_posted;

static void post_main(loop_t *l)
{
    record_task_t *r = &main_tasks[main_posted++];
    r->poster = POSTER_MAIN;
    r->seq = main_posted;
    loop_post(l, &r->task, record_run);
}

/* Polls cond(arg) every millisecond for up to 5 s; true when it held. */
static bool wait_for(bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < 5000; i++) {
        if (cond(arg))
            return true;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return cond(arg);
}

static bool main_seq_reached(void *arg) { return main_seq_ran() >= *(int *)arg; }
static bool flag_set(void *arg) { return atomic_load((atomic_bool *)arg); }
static bool loop_is_in_call(void *arg) { return loop_in_call(arg); }

/* ---- post and run on one thread ---- */

static loop_t *task_loop;
static bool current_was_loop;
static record_task_t nested = {.poster = POSTER_MAIN};

static void posting_task(loop_task_t *t)
{
    (void)t;
    current_was_loop = loop_current() == task_loop;
    /* Posted by the thread running the loop: runs on the next iteration, not this one. */
    nested.seq = ++main_posted;
    loop_post(task_loop, &nested.task, record_run);
}

static void test_post_order(void)
{
    log_reset();
    main_posted = 0;
    loop_t *l = loop_new();
    CHECK(l != NULL);
    task_loop = l;
    CHECK(loop_current() == NULL);
    for (int i = 0; i < 5; i++)
        post_main(l);
    loop_run_once(l, 0); /* the eventfd woke it: all five, in order */
    CHECK_INT(main_seq_ran(), 5);
    CHECK(loop_current() == NULL); /* loop_run_once gives the loop back */

    loop_task_t poster;
    loop_post(l, &poster, posting_task);
    post_main(l); /* seq 6, after posting_task; the nested task becomes seq 7 */
    loop_run_once(l, 0);
    CHECK(current_was_loop);
    CHECK_INT(main_seq_ran(), 6);
    /* The nested task is due: this iteration must not sleep its 10 s. */
    uint64_t t0 = clock_now_ms();
    loop_run_once(l, 10000);
    CHECK(clock_now_ms() - t0 < 5000);
    CHECK_INT(main_seq_ran(), 7);
    pthread_mutex_lock(&log_lock);
    CHECK_INT(order_errors, 0);
    CHECK_INT(ran_total, 7);
    pthread_mutex_unlock(&log_lock);
    loop_free(l);
}

/* ---- a task posted by an event callback runs before the batch's next event ---- */

static char batch_log[8];
static int batch_len;
static loop_t *batch_loop;
static loop_task_t batch_task;

static void batch_task_run(loop_task_t *t)
{
    (void)t;
    batch_log[batch_len++] = 'T';
}

static void batch_on_event(loop_watch_t *w, uint32_t events)
{
    (void)events;
    uint64_t v;
    CHECK(read(w->fd, &v, sizeof v) == (ssize_t)sizeof v);
    bool first = batch_len == 0;
    batch_log[batch_len++] = 'E';
    if (first)
        loop_post(batch_loop, &batch_task, batch_task_run);
}

static void test_event_task_before_next_event(void)
{
    loop_t *l = loop_new();
    CHECK(l != NULL);
    batch_loop = l;
    batch_len = 0;
    loop_watch_t w[2];
    uint64_t one = 1;
    for (int i = 0; i < 2; i++) {
        w[i].fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        CHECK(w[i].fd >= 0);
        w[i].on_event = batch_on_event;
        CHECK(loop_add(l, &w[i], EPOLLIN) == 0);
        CHECK(write(w[i].fd, &one, sizeof one) == (ssize_t)sizeof one);
    }
    loop_run_once(l, 1000); /* both readable: one batch of two events */
    CHECK_INT(batch_len, 3);
    CHECK(batch_len == 3 && batch_log[0] == 'E' && batch_log[1] == 'T' && batch_log[2] == 'E');
    for (int i = 0; i < 2; i++) {
        loop_forget(l, &w[i]);
        close(w[i].fd);
    }
    loop_free(l);
}

/* ---- the tick ---- */

static int ticks;

static uint64_t count_tick(void *arg, uint64_t now_ms)
{
    (void)arg;
    ticks++;
    return now_ms + 5; /* a deadline shortly after: the next wait must end by then */
}

static void test_tick_deadline(void)
{
    loop_t *l = loop_new();
    ticks = 0;
    loop_set_tick(l, count_tick, NULL);
    loop_run_once(l, 0);
    CHECK_INT(ticks, 1);
    loop_run_once(l, -1); /* no event and no task: only the deadline ends the wait */
    CHECK_INT(ticks, 2);
    loop_free(l);
}

/* ---- a call taken by the watchdog ---- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_changed = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static loop_t *call_loop;
static int call_ctx_marker;
static atomic_bool call_returned, call_end_result, call_was_running;

static void gate_set(bool open)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = open;
    pthread_cond_broadcast(&gate_changed);
    pthread_mutex_unlock(&gate_lock);
}

/* What HttpExtensionProc does on the loop's thread: a call that blocks until the gate opens. */
static void blocking_call_task(loop_task_t *t)
{
    (void)t;
    loop_t *l = call_loop;
    atomic_store(&call_was_running, loop_current() == l);
    uint64_t call = loop_call_begin(l, &call_ctx_marker);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate_changed, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    bool kept = loop_call_end(l, call) == LOOP_KEPT;
    /* Lost: from here on nothing of the loop's may be touched. */
    atomic_store(&call_end_result, kept);
    atomic_store(&call_returned, true);
}

static atomic_bool home_returned, helper_returned, poster_stop, poster_done;
static pthread_t home_tid, helper_tid;

static void *home_main(void *arg)
{
    loop_run(arg);
    atomic_store(&home_returned, true);
    return NULL;
}

static void *helper_main(void *arg)
{
    loop_run_taken(arg);
    atomic_store(&helper_returned, true);
    return NULL;
}

static record_task_t poster_tasks[MAX_POSTED];
static int poster_posted; /* read by main after joining the poster */

static void *poster_main(void *arg)
{
    loop_t *l = arg;
    while (!atomic_load(&poster_stop) && poster_posted < MAX_POSTED) {
        record_task_t *r = &poster_tasks[poster_posted++];
        r->poster = POSTER_THREAD;
        r->seq = poster_posted;
        loop_post(l, &r->task, record_run);
        /* Spread over the whole test, not a synchronisation. */
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
    atomic_store(&poster_done, true);
    return NULL;
}

static atomic_int wakes;

static void count_wake(loop_watcher_t *w)
{
    atomic_store(&w->asleep, false);
    atomic_fetch_add(&wakes, 1);
}

static bool poster_tasks_all_ran(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&log_lock);
    bool ok = last_seq[POSTER_THREAD] == poster_posted;
    pthread_mutex_unlock(&log_lock);
    return ok;
}

static void call_reset(loop_t *l)
{
    log_reset();
    main_posted = 0;
    poster_posted = 0;
    call_loop = l;
    gate_set(false);
    atomic_store(&call_returned, false);
    atomic_store(&call_end_result, true);
    atomic_store(&call_was_running, false);
    atomic_store(&home_returned, false);
    atomic_store(&helper_returned, false);
    atomic_store(&poster_stop, false);
    atomic_store(&poster_done, false);
}

/* Two watchdog looks at a loop blocked in a call: the first notes the call, the second takes
 * it and hands over the call's ctx. */
static void watchdog_take(loop_t *l)
{
    CHECK(wait_for(loop_is_in_call, l));
    void *ctx = NULL;
    uint64_t activity = loop_activity(l);
    CHECK(!loop_take_if_stuck(l, &ctx)); /* first sight of this call */
    CHECK(loop_activity(l) == activity); /* looking does not change it */
    CHECK(loop_take_if_stuck(l, &ctx));  /* the same call on the next tick */
    CHECK(ctx == &call_ctx_marker);
    CHECK(!loop_in_call(l));             /* taken now */
    CHECK(loop_activity(l) != activity);
    CHECK(!loop_take_if_stuck(l, &ctx)); /* nothing more to take */
}

/* quiet_handback: the poster stops before the call returns, so nothing but the home thread's
 * own wake-up gets the helper out of its wait to hand the loop back. */
static void test_call_taken_by_helper(bool quiet_handback)
{
    loop_t *l = loop_new();
    call_reset(l);
    loop_watcher_t watcher = {.wake = count_wake};
    atomic_init(&watcher.asleep, true);
    atomic_store(&wakes, 0);
    loop_set_watcher(l, &watcher);

    /* One batch: the call, then two tasks the helper must finish for it. */
    loop_task_t call_task;
    loop_post(l, &call_task, blocking_call_task);
    post_main(l); /* 1 */
    post_main(l); /* 2 */
    pthread_t poster;
    CHECK(pthread_create(&home_tid, NULL, home_main, l) == 0);
    CHECK(pthread_create(&poster, NULL, poster_main, l) == 0);

    watchdog_take(l);
    CHECK(atomic_load(&call_was_running));
    CHECK_INT(atomic_load(&wakes), 1); /* the first call after a quiet spell wakes the watchdog */
    CHECK_INT(main_seq_ran(), 0);      /* nobody runs the loop until a helper comes */

    post_main(l); /* 3: queued while the loop is taken */
    CHECK(pthread_create(&helper_tid, NULL, helper_main, l) == 0);
    int want = 3;
    CHECK(wait_for(main_seq_reached, &want));
    for (int seq = 1; seq <= 3; seq++)
        CHECK(pthread_equal(ran_on_of(seq), helper_tid));
    CHECK(!atomic_load(&call_returned));
    loop_run_taken(l); /* another thread runs it: returns at once */
    loop_run_once(l, 0); /* likewise */

    if (quiet_handback) {
        atomic_store(&poster_stop, true);
        CHECK(wait_for(flag_set, &poster_done));
        CHECK(wait_for(poster_tasks_all_ran, NULL));
    }
    /* The call returns: it lost the loop, and the helper hands it back. */
    gate_set(true);
    CHECK(wait_for(flag_set, &call_returned));
    CHECK(!atomic_load(&call_end_result));
    CHECK(wait_for(flag_set, &helper_returned));
    CHECK(pthread_join(helper_tid, NULL) == 0);
    CHECK(!atomic_load(&home_returned));

    post_main(l); /* 4: on the home thread again */
    want = 4;
    CHECK(wait_for(main_seq_reached, &want));
    CHECK(pthread_equal(ran_on_of(4), home_tid));

    atomic_store(&poster_stop, true);
    CHECK(wait_for(flag_set, &poster_done));
    CHECK(pthread_join(poster, NULL) == 0);
    CHECK(wait_for(poster_tasks_all_ran, NULL));
    loop_stop(l);
    CHECK(wait_for(flag_set, &home_returned));
    CHECK(pthread_join(home_tid, NULL) == 0);
    pthread_mutex_lock(&log_lock);
    CHECK_INT(order_errors, 0);
    CHECK_INT(ran_total, 4 + poster_posted);
    pthread_mutex_unlock(&log_lock);
    CHECK(poster_posted > 0);
    loop_free(l);
}

/* Taken, but no helper comes before the call returns: the home thread runs the loop again
 * itself, finishing the iteration; a helper that comes late returns at once. */
static void test_call_taken_home_returns_first(void)
{
    loop_t *l = loop_new();
    call_reset(l);
    loop_task_t call_task;
    loop_post(l, &call_task, blocking_call_task);
    post_main(l); /* 1: in the call's batch */
    pthread_t poster;
    CHECK(pthread_create(&home_tid, NULL, home_main, l) == 0);
    CHECK(pthread_create(&poster, NULL, poster_main, l) == 0);
    watchdog_take(l);
    post_main(l); /* 2 */
    gate_set(true);
    CHECK(wait_for(flag_set, &call_returned));
    CHECK(!atomic_load(&call_end_result));
    int want = 2;
    CHECK(wait_for(main_seq_reached, &want));
    CHECK(pthread_equal(ran_on_of(1), home_tid));
    CHECK(pthread_equal(ran_on_of(2), home_tid));
    CHECK(pthread_create(&helper_tid, NULL, helper_main, l) == 0);
    CHECK(wait_for(flag_set, &helper_returned)); /* nothing taken: at once */
    CHECK(pthread_join(helper_tid, NULL) == 0);
    post_main(l); /* 3 */
    want = 3;
    CHECK(wait_for(main_seq_reached, &want));
    CHECK(pthread_equal(ran_on_of(3), home_tid));

    atomic_store(&poster_stop, true);
    CHECK(wait_for(flag_set, &poster_done));
    CHECK(pthread_join(poster, NULL) == 0);
    CHECK(wait_for(poster_tasks_all_ran, NULL));
    loop_stop(l);
    CHECK(wait_for(flag_set, &home_returned));
    CHECK(pthread_join(home_tid, NULL) == 0);
    pthread_mutex_lock(&log_lock);
    CHECK_INT(order_errors, 0);
    CHECK_INT(ran_total, 3 + poster_posted);
    pthread_mutex_unlock(&log_lock);
    loop_free(l);
}

/* The watchdog's two halves: loop_call_stuck names the call and the thread making it on every
 * look from the second on (the watchdog looks at that thread before it decides), and takes
 * nothing; loop_take_call then takes that call, once. */
static atomic_int home_kernel_tid;

static void *home_tid_main(void *arg)
{
    atomic_store(&home_kernel_tid, gettid());
    return home_main(arg);
}

static void test_call_stuck_names_its_thread(void)
{
    loop_t *l = loop_new();
    call_reset(l);
    atomic_store(&home_kernel_tid, 0);
    loop_task_t call_task;
    loop_post(l, &call_task, blocking_call_task);
    CHECK(pthread_create(&home_tid, NULL, home_tid_main, l) == 0);
    CHECK(wait_for(loop_is_in_call, l));
    uint64_t call = 0, again = 0;
    pid_t tid = 0;
    void *ctx = NULL;
    CHECK(!loop_call_stuck(l, &call, &tid)); /* first sight */
    CHECK(loop_call_stuck(l, &call, &tid));
    CHECK_INT(tid, atomic_load(&home_kernel_tid));
    CHECK(loop_call_stuck(l, &again, &tid)); /* and on every look while it lasts */
    CHECK(again == call);
    CHECK(loop_in_call(l));                  /* nothing taken */
    CHECK(loop_take_call(l, call, &ctx));
    CHECK(ctx == &call_ctx_marker);
    CHECK(!loop_in_call(l));
    CHECK(!loop_take_call(l, call, &ctx));   /* once */
    CHECK(!loop_call_stuck(l, &call, &tid));
    gate_set(true);
    CHECK(wait_for(flag_set, &call_returned));
    CHECK(!atomic_load(&call_end_result));   /* it lost the loop; the home thread takes it back */
    loop_stop(l);
    CHECK(wait_for(flag_set, &home_returned));
    CHECK(pthread_join(home_tid, NULL) == 0);
    loop_free(l);
}

/* A call that ends before the watchdog's second look keeps the loop. */
static atomic_bool short_call_kept;

static void short_call_task(loop_task_t *t)
{
    (void)t;
    uint64_t call = loop_call_begin(call_loop, NULL);
    atomic_store(&short_call_kept, loop_call_end(call_loop, call) == LOOP_KEPT);
}

static void test_short_call_kept(void)
{
    loop_t *l = loop_new();
    call_loop = l;
    atomic_store(&short_call_kept, false);
    void *ctx = NULL;
    CHECK(!loop_take_if_stuck(l, &ctx)); /* not in a call */
    loop_task_t t;
    loop_post(l, &t, short_call_task);
    loop_run_once(l, 0);
    CHECK(atomic_load(&short_call_kept));
    CHECK(!loop_in_call(l));
    CHECK(!loop_take_if_stuck(l, &ctx));
    CHECK(!loop_take_if_stuck(l, &ctx));
    loop_free(l);
}

int main(void)
{
    alarm(60); /* a hang fails the test instead of stalling the suite */
    test_post_order();
    test_event_task_before_next_event();
    test_tick_deadline();
    test_short_call_kept();
    test_call_taken_by_helper(false);
    test_call_taken_by_helper(true);
    test_call_taken_home_returns_first();
    test_call_stuck_names_its_thread();
    return check_report("test_loop");
}
