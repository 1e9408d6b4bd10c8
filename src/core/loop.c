/* The loop core (loop.h): the task queue and its eventfd wake-up, the iteration that any thread
 * can resume, the owner word and the hand-off, the tick. Watching descriptors is the backend's
 * (loop_backend.h): one call per wait, none per event. */
#define _GNU_SOURCE /* gettid */
#include "loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h> /* the event bits (loop_backend.h) */
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "loop_backend.h"

/* Who runs the loop: the low two bits of l->owner. Exactly one thread runs a loop in RUNNING,
 * and it is the thread whose tls_running points at it; IN_CALL keeps that thread the owner as
 * long as the call ends before the watchdog sees it; TAKEN means nobody runs it until
 * loop_run_taken (a helper) or loop_run (the home thread, coming back) claims it. The bits above
 * are the number of the call that set IN_CALL: a call that lost the loop can never mistake a
 * later call's IN_CALL, made by the thread that runs the loop now, for its own. */
enum { OWNER_FREE, OWNER_RUNNING, OWNER_IN_CALL, OWNER_TAKEN };
#define OWNER_STATE(word) ((int)((word) & 3u))
#define OWNER_WORD(call, state) (((uint64_t)(call) << 2) | (uint64_t)(state))

/* Where the iteration in progress stands, so that whichever thread runs the loop next finishes
 * it: events fetched by the backend are edge-triggered and would be lost otherwise. PHASE_TICK
 * lasts only while the tick runs, which never loses the loop (loop_in_tick). */
enum { PHASE_WAIT, PHASE_EVENTS, PHASE_TASKS, PHASE_TICK };

struct loop {
    loop_backend_t *backend;
    loop_watch_t wake;        /* eventfd: readable when tasks were posted or stop was asked */
    pthread_mutex_t lock;     /* guards tasks_head/tail and the hand-back (owner_free) */
    /* Written under the lock; tasks_head is also read without it (atomic), to skip the lock
     * when nothing was posted: a post the read misses wakes the loop (loop_post). */
    _Atomic(loop_task_t *) tasks_head;
    loop_task_t *tasks_tail;
    atomic_bool stopping;
    uint64_t now_ms;
    loop_tick_fn tick;
    void *tick_arg;
    uint64_t next_deadline;   /* when the tick is due: the last tick's return, lowered by
                               * loop_deadline; UINT64_MAX = never */

    /* The iteration (touched only by the running thread). */
    int phase;
    loop_ready_t events[LOOP_BACKEND_BATCH];
    int ev_next, ev_count;
    loop_task_t *task_next;   /* taken from the queue, not run yet */
    /* Posted by the thread running the loop (outside a call: loop_call_begin clears
     * tls_running), so touched by that thread alone, without the lock or a wake-up. Run after
     * the event callback that posted them returns, before the next event of the batch: a
     * request that ends in an event (a `Connection: close` response) closes its connection
     * then, as a server that finishes a request in its event callback does, not after the
     * events of every other connection in the batch (by then most clients have closed their
     * end first, and the loopback's FIN handling of their sockets is charged to this thread's
     * close). Tasks of other threads still wait for the end of the batch: a task that closes
     * or reaps connections (a shutdown's) never runs while later events of the batch may name
     * them. */
    loop_task_t *own_head, *own_tail;

    /* Ownership. */
    _Atomic uint64_t owner;   /* OWNER_WORD(call number, state) */
    uint64_t calls;           /* the running thread's count of loop_call_begin */
    void *call_ctx;           /* loop_call_begin's ctx, for the watchdog once it has taken it */
    atomic_uint home_waiting; /* threads in loop_acquire */
    pthread_cond_t owner_free;/* under lock: the state left RUNNING for FREE or TAKEN */
    loop_watcher_t *watcher;
    uint64_t wd_seen;         /* watchdog thread only: the IN_CALL word of its last tick, or 0 */
    _Atomic pid_t runner_tid; /* the thread that claimed the loop last (set before it runs it,
                               * so an IN_CALL word the watchdog reads was made by it) */
};

static __thread loop_t *tls_running; /* the loop this thread runs now (RUNNING), or NULL */

uint64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wake_drain(loop_watch_t *w, uint32_t events)
{
    (void)events;
    uint64_t v;
    while (read(w->fd, &v, sizeof v) > 0) {
    }
}

loop_t *loop_new(void)
{
    loop_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->backend = loop_backend_create();
    l->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->wake.on_event = wake_drain;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->owner_free, NULL);
    if (!l->backend || l->wake.fd < 0 || loop_add(l, &l->wake, EPOLLIN) < 0) {
        loop_free(l);
        return NULL;
    }
    l->now_ms = clock_now_ms();
    l->next_deadline = 0; /* the first iteration ticks */
    l->phase = PHASE_WAIT;
    atomic_init(&l->owner, OWNER_WORD(0, OWNER_FREE));
    return l;
}

void loop_free(loop_t *l)
{
    if (!l)
        return;
    loop_backend_destroy(l->backend);
    if (l->wake.fd >= 0)
        close(l->wake.fd);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->owner_free);
    free(l);
}

int loop_add(loop_t *l, loop_watch_t *w, uint32_t events)
{
    return loop_backend_add(l->backend, w, events);
}

int loop_mod(loop_t *l, loop_watch_t *w, uint32_t events)
{
    return loop_backend_mod(l->backend, w, events);
}

int loop_del(loop_t *l, loop_watch_t *w)
{
    return loop_backend_del(l->backend, w);
}

void loop_forget(loop_t *l, loop_watch_t *w)
{
    loop_backend_forget(l->backend, w);
}

static void loop_wake(loop_t *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->wake.fd, &one, sizeof one);
    (void)r; /* EAGAIN means the counter is already non-zero: the loop will wake anyway */
}

void loop_post(loop_t *l, loop_task_t *t, loop_task_fn fn)
{
    t->fn = fn;
    t->next = NULL;
    if (tls_running == l) {
        if (l->own_head)
            l->own_tail->next = t;
        else
            l->own_head = t;
        l->own_tail = t;
        return;
    }
    pthread_mutex_lock(&l->lock);
    bool was_empty = atomic_load_explicit(&l->tasks_head, memory_order_relaxed) == NULL;
    if (was_empty)
        atomic_store_explicit(&l->tasks_head, t, memory_order_relaxed);
    else
        l->tasks_tail->next = t;
    l->tasks_tail = t;
    pthread_mutex_unlock(&l->lock);
    /* Only the empty → non-empty transition needs a wake-up: a non-empty queue is already due
     * to be drained by the loop. */
    if (was_empty)
        loop_wake(l);
}

void loop_set_tick(loop_t *l, loop_tick_fn fn, void *arg)
{
    l->tick = fn;
    l->tick_arg = arg;
}

uint64_t loop_now(const loop_t *l) { return l->now_ms; }

void loop_deadline(loop_t *l, uint64_t at_ms)
{
    if (at_ms < l->next_deadline)
        l->next_deadline = at_ms;
}

void loop_stop(loop_t *l)
{
    atomic_store(&l->stopping, true);
    loop_wake(l);
}

loop_t *loop_current(void) { return tls_running; }

bool loop_in_tick(const loop_t *l) { return l->phase == PHASE_TICK; }

/* ------------------------------------------------------------------------------------------ */
/* The iteration, resumable by another thread */

/* Every task posted and not yet run, in one list, the loop's lists left empty: the queue's
 * (other threads', and calls'), then the running thread's own. */
static loop_task_t *take_posted(loop_t *l)
{
    loop_task_t *t = NULL, *tail = NULL;
    /* Without the lock first: most iterations find the queue empty. A task seen here was
     * published by the unlock of its post, which the lock below pairs with. */
    if (atomic_load_explicit(&l->tasks_head, memory_order_relaxed)) {
        pthread_mutex_lock(&l->lock);
        t = atomic_load_explicit(&l->tasks_head, memory_order_relaxed);
        tail = l->tasks_tail;
        atomic_store_explicit(&l->tasks_head, NULL, memory_order_relaxed);
        l->tasks_tail = NULL;
        pthread_mutex_unlock(&l->lock);
    }
    if (t)
        tail->next = l->own_head;
    else
        t = l->own_head;
    l->own_head = l->own_tail = NULL;
    return t;
}

/* Events, tasks and the tick of the current iteration, from wherever it stands. A callback
 * that lost the loop returns to it like any other: the loop tells by loop_current(). */
static loop_kept_t loop_continue(loop_t *l)
{
    for (;;) {
        while (l->task_next) {
            loop_task_t *t = l->task_next;
            l->task_next = t->next; /* before the call: the task may free itself */
            t->fn(t);
            if (tls_running != l)
                return LOOP_LOST;
        }
        if (l->ev_next < l->ev_count) {
            const loop_ready_t *e = &l->events[l->ev_next++];
            e->watch->on_event(e->watch, e->events);
            if (tls_running != l)
                return LOOP_LOST;
            l->task_next = l->own_head; /* what it posted itself: before the next event */
            l->own_head = l->own_tail = NULL;
            continue;
        }
        if (l->phase != PHASE_EVENTS)
            break;
        l->task_next = take_posted(l);
        l->phase = PHASE_TASKS;
    }
    /* The tick only runs timers, never a call that may block (loop_in_tick tells those who
     * would make one), so it cannot lose the loop. What it asks of loop_deadline while it runs
     * comes on top of what it returns. */
    if (l->tick && l->now_ms >= l->next_deadline) {
        l->phase = PHASE_TICK;
        l->next_deadline = UINT64_MAX;
        uint64_t next = l->tick(l->tick_arg, l->now_ms);
        loop_deadline(l, next);
    }
    l->phase = PHASE_WAIT;
    return LOOP_KEPT;
}

static loop_kept_t loop_iterate(loop_t *l, int timeout_ms)
{
    if (l->phase == PHASE_WAIT) {
        if (l->next_deadline != UINT64_MAX) {
            uint64_t now = clock_now_ms();
            int until = l->next_deadline <= now ? 0
                        : (int)(l->next_deadline - now > 60000 ? 60000 : l->next_deadline - now);
            if (timeout_ms < 0 || until < timeout_ms)
                timeout_ms = until;
        }
        if (l->own_head) /* tasks this thread posted after the last drain: do not sleep */
            timeout_ms = 0;
        int n = loop_backend_wait(l->backend, l->events, LOOP_BACKEND_BATCH, timeout_ms);
        l->now_ms = clock_now_ms();
        l->ev_count = n;
        l->ev_next = 0;
        l->phase = PHASE_EVENTS;
    }
    return loop_continue(l);
}

/* ------------------------------------------------------------------------------------------ */
/* Ownership and the hand-off */

/* This thread has just claimed the loop (its owner word moved to RUNNING): it runs it now. The
 * thread's id is noted for the watchdog (runner_tid) before any call of it can begin. */
static void loop_claimed(loop_t *l)
{
    atomic_store_explicit(&l->runner_tid, gettid(), memory_order_relaxed);
    tls_running = l;
}

/* Blocks until the loop is free or taken (nobody runs it), then runs it on this thread. */
static void loop_acquire(loop_t *l)
{
    pthread_mutex_lock(&l->lock);
    atomic_fetch_add(&l->home_waiting, 1);
    for (;;) {
        uint64_t w = atomic_load(&l->owner);
        if ((OWNER_STATE(w) == OWNER_FREE || OWNER_STATE(w) == OWNER_TAKEN) &&
            atomic_compare_exchange_strong(&l->owner, &w, OWNER_WORD(w >> 2, OWNER_RUNNING)))
            break;
        /* A helper runs it: wake it from its wait so it sees home_waiting and hands back. */
        loop_wake(l);
        pthread_cond_wait(&l->owner_free, &l->lock);
    }
    atomic_fetch_sub(&l->home_waiting, 1);
    pthread_mutex_unlock(&l->lock);
    loop_claimed(l);
}

static void loop_release(loop_t *l)
{
    tls_running = NULL;
    pthread_mutex_lock(&l->lock);
    atomic_store(&l->owner, OWNER_WORD(l->calls, OWNER_FREE));
    pthread_cond_broadcast(&l->owner_free);
    pthread_mutex_unlock(&l->lock);
}

uint64_t loop_call_begin(loop_t *l, void *ctx)
{
    uint64_t call = ++l->calls;
    l->call_ctx = ctx; /* published by the store of IN_CALL below */
    tls_running = NULL;
    atomic_store(&l->owner, OWNER_WORD(call, OWNER_IN_CALL));
    /* Pairs with the watcher's store of asleep before its last look at the loops: one of the
     * two sees the other (both sequentially consistent). */
    loop_watcher_t *w = l->watcher;
    if (w && atomic_load(&w->asleep))
        w->wake(w);
    return call;
}

loop_kept_t loop_call_end(loop_t *l, uint64_t call)
{
    uint64_t w = OWNER_WORD(call, OWNER_IN_CALL);
    if (atomic_compare_exchange_strong(&l->owner, &w, OWNER_WORD(call, OWNER_RUNNING))) {
        tls_running = l;
        return LOOP_KEPT;
    }
    return LOOP_LOST;
}

void loop_set_watcher(loop_t *l, loop_watcher_t *w) { l->watcher = w; }

bool loop_in_call(loop_t *l) { return OWNER_STATE(atomic_load(&l->owner)) == OWNER_IN_CALL; }

uint64_t loop_activity(loop_t *l) { return atomic_load(&l->owner); }

bool loop_call_stuck(loop_t *l, uint64_t *call, pid_t *tid)
{
    uint64_t w = atomic_load(&l->owner);
    if (OWNER_STATE(w) != OWNER_IN_CALL || w != l->wd_seen) {
        l->wd_seen = OWNER_STATE(w) == OWNER_IN_CALL ? w : 0;
        return false;
    }
    /* wd_seen stays: the call is reported on every look until it ends or is taken. */
    *call = w;
    *tid = atomic_load_explicit(&l->runner_tid, memory_order_relaxed);
    return true;
}

bool loop_take_call(loop_t *l, uint64_t call, void **ctx)
{
    /* The exchange fails if the call has ended since loop_call_stuck saw it. */
    uint64_t w = call;
    if (OWNER_STATE(w) != OWNER_IN_CALL ||
        !atomic_compare_exchange_strong(&l->owner, &w, OWNER_WORD(w >> 2, OWNER_TAKEN)))
        return false;
    l->wd_seen = 0;
    *ctx = l->call_ctx; /* the exchange read the IN_CALL store that published it */
    /* A home thread waiting for the loop may run it itself, should no helper come. */
    pthread_mutex_lock(&l->lock);
    pthread_cond_broadcast(&l->owner_free);
    pthread_mutex_unlock(&l->lock);
    return true;
}

bool loop_take_if_stuck(loop_t *l, void **ctx)
{
    uint64_t call;
    pid_t tid;
    return loop_call_stuck(l, &call, &tid) && loop_take_call(l, call, ctx);
}

void loop_run_taken(loop_t *l)
{
    uint64_t w = atomic_load(&l->owner);
    if (OWNER_STATE(w) != OWNER_TAKEN ||
        !atomic_compare_exchange_strong(&l->owner, &w, OWNER_WORD(w >> 2, OWNER_RUNNING)))
        return; /* the home thread came back first and runs it */
    loop_claimed(l);
    if (loop_continue(l) == LOOP_LOST)
        return; /* lost again in a call: the next helper goes on */
    while (!atomic_load(&l->stopping) && atomic_load(&l->home_waiting) == 0) {
        if (loop_iterate(l, -1) == LOOP_LOST)
            return;
    }
    loop_release(l);
}

void loop_run_once(loop_t *l, int timeout_ms)
{
    bool mine = tls_running == l;
    if (!mine) {
        uint64_t w = atomic_load(&l->owner);
        if (OWNER_STATE(w) != OWNER_FREE ||
            !atomic_compare_exchange_strong(&l->owner, &w, OWNER_WORD(w >> 2, OWNER_RUNNING)))
            return; /* another thread runs it */
        loop_claimed(l);
    }
    if (loop_iterate(l, timeout_ms) == LOOP_KEPT && !mine)
        loop_release(l);
}

void loop_run(loop_t *l)
{
    loop_acquire(l);
    while (!atomic_load(&l->stopping)) {
        if (loop_iterate(l, -1) == LOOP_LOST)
            loop_acquire(l); /* it was taken while this thread was in a call: get it back */
    }
    /* Tasks posted before the stop: the iteration's own (if a helper left one half done), then
     * the queue. */
    if (l->phase != PHASE_WAIT)
        loop_continue(l);
    loop_task_t *t = take_posted(l);
    while (t && tls_running == l) {
        loop_task_t *next = t->next;
        t->fn(t);
        t = next;
    }
    if (tls_running == l)
        loop_release(l);
}
