#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "loop.h"
#include "threads.h"

#define POOL_IDLE_EXIT_MS 30000
#define POOL_GROW_AFTER_MS 2

/* Lock order: p->lock only; work functions run without it, and log lines are written after
 * it is released. */
struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work_ready;   /* signalled when work is queued or stop begins */
    pthread_cond_t all_exited;   /* signalled when the last worker or the monitor exits */
    pthread_cond_t monitor_wake; /* signalled when work arrives while the monitor sleeps, or stop */
    bool monitor_alive;
    bool monitor_sleeping;       /* in its untimed wait: the queue was empty */
    pool_work_t *head, *tail;    /* ready to run: no share over its limit */
    thread_set_t workers;        /* max slots; .running counts the workers, .idle those waiting;
                                  * a slot's .running is the share of the item it runs (for the
                                  * log) */
    unsigned min, max;
    unsigned queued;             /* work items waiting in the queue */
    unsigned share_max;          /* workers one share may hold */
    const char *name;
    log_limiter_t full_log;      /* at max_threads with work waiting */
    bool stopping;
    pthread_t monitor_tid;
};

static void worker_main(thread_slot_t *self);
static void *monitor_main(void *arg);

static int spawn_locked(pool_t *p)
{
    int rc = thread_set_spawn_locked(&p->workers);
    if (rc < 0 && rc != -ENOSPC)
        log_error("worker pool: cannot start a thread: %s", strerror(-rc));
    return rc;
}

unsigned pool_share_max(unsigned max_threads, unsigned percent)
{
    unsigned long long n = (unsigned long long)max_threads * percent / 100;
    if (n < 1)
        n = 1;
    return n > max_threads && max_threads > 0 ? max_threads : (unsigned)n;
}

pool_t *pool_new(const char *name, const char *thread_name, unsigned min_threads,
                 unsigned max_threads, unsigned share_max, size_t stack_size)
{
    pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->work_ready, &ca);
    pthread_cond_init(&p->all_exited, &ca);
    pthread_cond_init(&p->monitor_wake, &ca);
    pthread_condattr_destroy(&ca);
    p->min = min_threads ? min_threads : 1;
    p->max = max_threads < p->min ? p->min : max_threads;
    if (thread_set_init(&p->workers, &p->lock, &p->all_exited, p, worker_main, thread_name,
                        p->max, stack_size, POOL_IDLE_EXIT_MS) < 0) {
        free(p);
        return NULL;
    }
    p->name = name;
    p->share_max = share_max < 1 ? 1 : share_max > p->max ? p->max : share_max;
    pthread_mutex_lock(&p->lock);
    for (unsigned i = 0; i < p->min; i++)
        if (spawn_locked(p) < 0)
            break;
    if (pthread_create(&p->monitor_tid, NULL, monitor_main, p) == 0)
        p->monitor_alive = true;
    else
        p->monitor_tid = 0;
    bool ok = p->workers.running > 0 && p->monitor_alive;
    pthread_mutex_unlock(&p->lock);
    if (!ok) {
        if (!pool_stop(p, 1000))
            return NULL; /* threads that would not stop keep p: leak it rather than free it */
        pool_free(p);
        return NULL;
    }
    return p;
}

/* Under p->lock: w joins the pool's queue. */
static void ready_append(pool_t *p, pool_work_t *w, uint64_t now)
{
    w->next = NULL;
    w->queued_at = now;
    if (p->tail)
        p->tail->next = w;
    else
        p->head = w;
    p->tail = w;
    p->queued++;
    if (w->share)
        w->share->ready++;
}

bool pool_submit(pool_t *p, pool_work_t *w, pool_work_fn fn, pool_share_t *share)
{
    w->fn = fn;
    w->next = NULL;
    w->share = share;
    uint64_t now = clock_now_ms();
    unsigned held = 0;
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        return false;
    }
    if (share && p->share_max < p->max &&
        (share->head || share->running + share->ready >= p->share_max)) {
        /* Over its share: held back behind its own earlier items; a worker that finishes one
         * of them moves the first held item to the queue. */
        if (share->tail)
            share->tail->next = w;
        else
            share->head = w;
        share->tail = w;
        held = ++share->held;
        pthread_mutex_unlock(&p->lock);
        log_limited(&share->held_log, LOG_WARN,
                    "%s pool: %s holds its share of %u workers (--extension-share); %u more of "
                    "its items wait, while other extensions' work goes ahead",
                    p->name, share->name, p->share_max, held);
        return true;
    }
    ready_append(p, w, now);
    if (p->monitor_sleeping) { /* only then: a signal per request would cost a futex each */
        p->monitor_sleeping = false;
        pthread_cond_signal(&p->monitor_wake);
    }
    pthread_cond_signal(&p->work_ready);
    pthread_mutex_unlock(&p->lock);
    return true;
}

static void worker_main(thread_slot_t *self)
{
    pool_t *p = self->set->owner;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->head) {
            pool_work_t *w = p->head;
            p->head = w->next;
            if (!p->head)
                p->tail = NULL;
            p->queued--;
            pool_share_t *share = w->share; /* w may be gone once fn has run */
            if (share) {
                share->ready--;
                share->running++;
            }
            self->running = share;
            pthread_mutex_unlock(&p->lock);
            w->fn(w);
            pthread_mutex_lock(&p->lock);
            self->running = NULL;
            if (share) {
                share->running--;
                pool_work_t *next = share->head;
                if (next) { /* its share has room again: its oldest held item queues */
                    share->head = next->next;
                    if (!share->head)
                        share->tail = NULL;
                    share->held--;
                    ready_append(p, next, clock_now_ms());
                    /* This worker takes the queue's head next; with more queued, wake another
                     * (or the monitor, to grow the pool). */
                    if (p->queued > 1) {
                        if (p->workers.idle)
                            pthread_cond_signal(&p->work_ready);
                        else if (p->monitor_sleeping) {
                            p->monitor_sleeping = false;
                            pthread_cond_signal(&p->monitor_wake);
                        }
                    }
                }
            }
            continue;
        }
        if (p->stopping)
            break;
        if (thread_set_idle_wait(self, &p->work_ready) && !p->head &&
            p->workers.running > p->min && !p->stopping) {
            thread_set_retire_locked(self);
            pthread_mutex_unlock(&p->lock);
            return;
        }
    }
    thread_set_exit_locked(self); /* joined by pool_stop */
    pthread_mutex_unlock(&p->lock);
}

/* Grows the pool when work has waited POOL_GROW_AFTER_MS: every worker is busy (blocked in an
 * extension, or simply loaded), and one more worker lets the queue move. Sleeps while
 * the queue is empty. */
static void *monitor_main(void *arg)
{
    pool_t *p = arg;
    pthread_setname_np(pthread_self(), "isapid-pool");
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        if (!p->head) {
            p->monitor_sleeping = true;
            pthread_cond_wait(&p->monitor_wake, &p->lock);
            p->monitor_sleeping = false;
            continue;
        }
        struct timespec ts;
        thread_deadline_in(&ts, POOL_GROW_AFTER_MS);
        pthread_cond_timedwait(&p->monitor_wake, &p->lock, &ts);
        if (p->stopping || !p->head)
            continue;
        /* One worker per tick: enough for blocked workers (a burst of blocking calls is
         * covered within a few ticks), while a CPU-bound burst, where more threads would only
         * contend, adds few. */
        if (clock_now_ms() - p->head->queued_at < POOL_GROW_AFTER_MS ||
            p->queued <= p->workers.idle)
            continue;
        if (p->workers.running < p->max) {
            spawn_locked(p);
            continue;
        }
        /* At the maximum with work waiting: say so, and who holds the workers. */
        const pool_share_t *top = NULL;
        unsigned waiting = p->queued, busy = p->workers.running - p->workers.idle;
        for (unsigned i = 0; i < p->max; i++) {
            const thread_slot_t *w = &p->workers.slots[i];
            const pool_share_t *sh = w->in_use ? w->running : NULL;
            if (sh && (!top || sh->running > top->running))
                top = sh;
        }
        const char *top_name = top ? top->name : NULL;
        unsigned top_running = top ? top->running : 0;
        pthread_mutex_unlock(&p->lock);
        if (top_name)
            log_limited(&p->full_log, LOG_WARN,
                        "%s pool: all %u workers busy (its maximum), %u items waiting; %s holds "
                        "%u of them",
                        p->name, busy, waiting, top_name, top_running);
        else
            log_limited(&p->full_log, LOG_WARN,
                        "%s pool: all %u workers busy (its maximum), %u items waiting",
                        p->name, busy, waiting);
        pthread_mutex_lock(&p->lock);
    }
    p->monitor_alive = false;
    pthread_cond_broadcast(&p->all_exited);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

bool pool_stop(pool_t *p, unsigned timeout_ms)
{
    struct timespec ts;
    thread_deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->work_ready);
    pthread_cond_broadcast(&p->monitor_wake);
    bool all = thread_set_wait_locked(&p->workers, &ts);
    while (p->monitor_alive)
        if (pthread_cond_timedwait(&p->all_exited, &p->lock, &ts) == ETIMEDOUT)
            break;
    all = all && !p->monitor_alive;
    /* Every worker that has left its loop is joined, so none is still ending when the process
     * exits; one stuck in extension code is detached: the process exits without it. */
    thread_set_reap_locked(&p->workers);
    pthread_t monitor = p->monitor_tid;
    bool monitor_gone = !p->monitor_alive;
    p->monitor_tid = 0;
    pthread_mutex_unlock(&p->lock);
    if (monitor) {
        if (monitor_gone)
            pthread_join(monitor, NULL); /* it released the lock last: returns at once */
        else
            pthread_detach(monitor);
    }
    return all;
}

unsigned pool_thread_count(pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = p->workers.running;
    pthread_mutex_unlock(&p->lock);
    return n;
}

unsigned pool_busy_count(pool_t *p, unsigned *threads)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = p->workers.running, busy = n - p->workers.idle;
    pthread_mutex_unlock(&p->lock);
    *threads = n;
    return busy;
}

void pool_set_idle_exit(pool_t *p, unsigned ms)
{
    pthread_mutex_lock(&p->lock);
    p->workers.idle_exit_ms = ms;
    pthread_cond_broadcast(&p->work_ready);
    pthread_mutex_unlock(&p->lock);
}

void pool_free(pool_t *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work_ready);
    pthread_cond_destroy(&p->all_exited);
    pthread_cond_destroy(&p->monitor_wake);
    thread_set_destroy(&p->workers);
    free(p);
}

