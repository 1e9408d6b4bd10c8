#define _GNU_SOURCE
#include "handoff.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "threadprobe.h"
#include "threads.h"

#define QUIET_MS 1000            /* a second without calls: sleep until the next call */
#define HELPER_IDLE_EXIT_MS 30000
#define MAX_HELPERS 256
#define STOP_SLICE_NS 50000000L /* the watchdog's longest sleep: how late it may see a stop */

/* The watchdog's note, per loop, of a call past the limit whose thread could run. */
typedef struct {
    uint64_t call;  /* that call (loop_call_stuck's word), or 0 */
    int64_t cpu_ns; /* its thread's CPU time when the watchdog first found it runnable */
} call_watch_t;

/* Lock order: h->lock, then a loop's own lock (inside loop_take_call). */
struct handoff {
    loop_watcher_t watcher;   /* first: wake() finds h from it */
    pthread_mutex_t lock;
    pthread_cond_t tick;      /* the watchdog's sleep through a quiet spell: wake-ups, stop
                               * (its ticks are plain clock_nanosleep) */
    pthread_cond_t work;      /* idle helpers wait here */
    pthread_cond_t exited;    /* the last helper exited */
    loop_t **loops;
    size_t n_loops;
    bool *pending;            /* loops taken, waiting for a helper */
    size_t n_pending;
    uint64_t *last_seen;      /* watchdog: each loop's loop_activity() at the previous tick */
    call_watch_t *watch;      /* watchdog: one per loop */
    bool wake_pending, stopping, watchdog_started, cap_logged;
    log_limiter_t probe_log;  /* a thread's state could not be read */
    pthread_t watchdog;
    thread_set_t helpers;     /* MAX_HELPERS slots; .idle: those waiting for a loop */
    void (*on_taken)(void *ctx);
    long tick_ns;             /* a blocked call is taken a tick after it is first seen */
};

static void watcher_wake(loop_watcher_t *w)
{
    handoff_t *h = (handoff_t *)w;
    pthread_mutex_lock(&h->lock);
    atomic_store(&h->watcher.asleep, false);
    h->wake_pending = true;
    pthread_cond_signal(&h->tick);
    pthread_mutex_unlock(&h->lock);
}

static void helper_main(thread_slot_t *self);

handoff_t *handoff_new(loop_t *const *loops, size_t n_loops, unsigned tick_ms, size_t stack_size,
                       void (*on_taken)(void *ctx))
{
    handoff_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->loops = calloc(n_loops ? n_loops : 1, sizeof *h->loops);
    h->pending = calloc(n_loops ? n_loops : 1, sizeof *h->pending);
    h->last_seen = calloc(n_loops ? n_loops : 1, sizeof *h->last_seen);
    h->watch = calloc(n_loops ? n_loops : 1, sizeof *h->watch);
    if (!h->loops || !h->pending || !h->last_seen || !h->watch ||
        thread_set_init(&h->helpers, &h->lock, &h->exited, h, helper_main, "isapid-helper",
                        MAX_HELPERS, stack_size, HELPER_IDLE_EXIT_MS) < 0) {
        free(h->loops);
        free(h->pending);
        free(h->last_seen);
        free(h->watch);
        free(h);
        return NULL;
    }
    memcpy(h->loops, loops, n_loops * sizeof *loops);
    h->n_loops = n_loops;
    h->on_taken = on_taken;
    h->tick_ns = (long)(tick_ms ? tick_ms : 1) * 1000000L;
    h->watcher.wake = watcher_wake;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->tick, &ca);
    pthread_cond_init(&h->work, &ca);
    pthread_cond_init(&h->exited, &ca);
    pthread_condattr_destroy(&ca);
    for (size_t i = 0; i < n_loops; i++)
        loop_set_watcher(loops[i], &h->watcher);
    return h;
}

/* ---- helpers ---- */

static void helper_main(thread_slot_t *self)
{
    handoff_t *h = self->set->owner;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        if (h->n_pending > 0) {
            size_t i = 0;
            while (!h->pending[i])
                i++;
            h->pending[i] = false;
            h->n_pending--;
            pthread_mutex_unlock(&h->lock);
            loop_run_taken(h->loops[i]);
            pthread_mutex_lock(&h->lock);
            continue;
        }
        if (h->stopping)
            break;
        if (thread_set_idle_wait(self, &h->work) && h->n_pending == 0)
            break;
    }
    thread_set_exit_locked(self); /* joined by the next spawn that needs its slot, or the stop */
    pthread_mutex_unlock(&h->lock);
}

/* Under h->lock: loop i was taken; make sure a helper will run it. */
static void assign_locked(handoff_t *h, size_t i)
{
    if (!h->pending[i]) {
        h->pending[i] = true;
        h->n_pending++;
    }
    if (h->helpers.idle >= h->n_pending) {
        pthread_cond_signal(&h->work);
        return;
    }
    int rc = thread_set_spawn_locked(&h->helpers);
    if (rc == 0)
        return;
    /* The loop stays taken until its home thread comes back from its call. */
    if (!h->cap_logged) {
        h->cap_logged = true;
        log_error("loop hand-off: cannot start a helper thread (%s); a loop waits for its "
                  "blocked extension call",
                  rc == -ENOSPC ? "all helper slots are busy" : strerror(-rc));
    }
}

/* ---- the watchdog ---- */

/* Whether a call loop_call_stuck reports loses its loop now. Yes when its thread sleeps (blocked
 * in a system call, a lock, I/O: what the hand-off is for), and when it has used a tick's worth
 * of CPU time since the watchdog first found it runnable (it computes or spins: its loop is
 * taken a tick or two later than a blocked one's). Not while it is runnable and has used less:
 * it was preempted and waits for a CPU, as a helper would (two workers and their clients on two
 * cores: taking those loops sent short calls to the pool and grew it). When the state cannot be
 * read, the time limit alone decides, as before the look. Costs nothing while calls are short:
 * only a call seen on two ticks is looked at (a small /proc read and, when runnable, a clock
 * read). */
static bool call_loses_loop(handoff_t *h, call_watch_t *cw, uint64_t call, pid_t tid)
{
    int err = 0;
    thread_run_state_t state = thread_run_state(tid, &err);
    if (state == THREAD_UNKNOWN && err != ENOENT && err != ESRCH) /* those: it has gone */
        log_limited(&h->probe_log, LOG_WARN,
                    "loop hand-off: cannot read the scheduler state of thread %d "
                    "(/proc/self/task/%d/stat: %s); a call past --handoff-after loses its loop "
                    "even if its thread only waits for a CPU",
                    (int)tid, (int)tid, strerror(err));
    if (state != THREAD_RUNNABLE)
        return true;
    int64_t cpu_ns = thread_cpu_ns(tid);
    if (cpu_ns < 0)
        return true;
    if (cw->call != call) {
        cw->call = call;
        cw->cpu_ns = cpu_ns;
        return false;
    }
    return cpu_ns - cw->cpu_ns >= h->tick_ns;
}

static bool any_in_call(handoff_t *h)
{
    for (size_t i = 0; i < h->n_loops; i++)
        if (loop_in_call(h->loops[i]))
            return true;
    return false;
}

long handoff_next_look_ns(long look_ns, long tick_ns, bool saw_call)
{
    if (saw_call)
        return tick_ns;
    long cap = tick_ns * HANDOFF_MAX_LOOK_TICKS;
    return look_ns < cap / 2 ? look_ns * 2 : cap;
}

static void *watchdog_main(void *arg)
{
    handoff_t *h = arg;
    long look_ns = h->tick_ns; /* to the next look: handoff_next_look_ns */
    long quiet_ns = 0;         /* looks with no call and no activity, in a row */
    pthread_setname_np(pthread_self(), "isapid-watchdog");
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        /* Plain sleeps: one system call per look (a timed condition wait took nearly two). A
         * look longer than STOP_SLICE_NS (a long --handoff-after) sleeps in slices of that, so
         * a stop is seen within one, not after minutes. */
        for (long left = look_ns; left > 0 && !h->stopping;) {
            long ns = left < STOP_SLICE_NS ? left : STOP_SLICE_NS;
            pthread_mutex_unlock(&h->lock);
            struct timespec ts = {.tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L};
            clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
            pthread_mutex_lock(&h->lock);
            left -= ns;
        }
        if (h->stopping)
            break;
        bool active = false, in_call = false;
        for (size_t i = 0; i < h->n_loops; i++) {
            loop_t *l = h->loops[i];
            uint64_t seen = loop_activity(l);
            if (loop_in_call(l))
                in_call = true;
            if (seen != h->last_seen[i])
                active = true;
            h->last_seen[i] = seen;
            uint64_t call;
            pid_t tid;
            void *ctx = NULL;
            if (loop_call_stuck(l, &call, &tid) && call_loses_loop(h, &h->watch[i], call, tid) &&
                loop_take_call(l, call, &ctx)) {
                assign_locked(h, i);
                if (ctx && h->on_taken)
                    h->on_taken(ctx);
            }
        }
        quiet_ns = active || in_call ? 0 : quiet_ns + look_ns;
        look_ns = handoff_next_look_ns(look_ns, h->tick_ns, in_call);
        if (quiet_ns < (long)QUIET_MS * 1000000L)
            continue;
        /* A quiet spell: sleep until the next call begins (loop_call_begin sees asleep). */
        h->wake_pending = false;
        atomic_store(&h->watcher.asleep, true);
        if (!any_in_call(h)) {
            while (!h->wake_pending && !h->stopping)
                pthread_cond_wait(&h->tick, &h->lock);
        }
        atomic_store(&h->watcher.asleep, false);
        quiet_ns = 0;
        look_ns = h->tick_ns;
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int handoff_start(handoff_t *h)
{
    int rc = pthread_create(&h->watchdog, NULL, watchdog_main, h);
    if (rc != 0)
        return -rc;
    h->watchdog_started = true;
    return 0;
}

bool handoff_stop(handoff_t *h, unsigned timeout_ms)
{
    struct timespec ts;
    thread_deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    pthread_cond_broadcast(&h->tick);
    pthread_cond_broadcast(&h->work);
    bool all = thread_set_wait_locked(&h->helpers, &ts);
    pthread_mutex_unlock(&h->lock);
    if (h->watchdog_started) {
        pthread_join(h->watchdog, NULL);
        h->watchdog_started = false;
    }
    pthread_mutex_lock(&h->lock);
    thread_set_reap_locked(&h->helpers); /* a helper still in extension code is detached */
    pthread_mutex_unlock(&h->lock);
    return all;
}

void handoff_free(handoff_t *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->tick);
    pthread_cond_destroy(&h->work);
    pthread_cond_destroy(&h->exited);
    thread_set_destroy(&h->helpers);
    free(h->loops);
    free(h->pending);
    free(h->last_seen);
    free(h->watch);
    free(h);
}
