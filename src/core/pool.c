#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "loop.h"

#define POOL_IDLE_EXIT_MS 30000
#define POOL_GROW_AFTER_MS 2

/* A worker's slot: its thread stays joinable while it is in the pool, so pool_stop can join it
 * (a process must not exit while a worker is still inside the thread-exit path: sanitizers'
 * exit-time checks stop every thread and crash on one that is half gone). A worker that retires
 * on idle frees its slot and detaches itself. */
typedef struct worker {
    struct pool *p;
    pthread_t tid;
    bool in_use;
    pool_share_t *running; /* the share of the item it runs, under p->lock (for the log) */
} worker_t;

/* Lock order: p->lock only; work functions run without it, and log lines are written after
 * it is released. */
struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work_ready;   /* signalled when work is queued or stop begins */
    pthread_cond_t all_exited;   /* signalled when threads drops to 0 after stop */
    pthread_cond_t monitor_wake; /* signalled when work arrives while the monitor sleeps, or stop */
    bool monitor_alive;
    bool monitor_sleeping;       /* in its untimed wait: the queue was empty */
    pool_work_t *head, *tail;    /* ready to run: no share over its limit */
    unsigned threads, idle, min, max;
    unsigned queued;             /* work items waiting in the queue */
    unsigned share_max;          /* workers one share may hold */
    size_t stack_size;
    const char *name, *thread_name;
    log_limiter_t full_log;      /* at max_threads with work waiting */
    bool stopping;
    worker_t *workers;           /* max slots */
    pthread_t monitor_tid;
};

static void *worker_main(void *arg);
static void *monitor_main(void *arg);

static int spawn_locked(pool_t *p)
{
    worker_t *slot = NULL;
    for (unsigned i = 0; i < p->max && !slot; i++)
        if (!p->workers[i].in_use)
            slot = &p->workers[i];
    if (!slot)
        return -EAGAIN;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, p->stack_size);
    slot->p = p;
    int rc = pthread_create(&slot->tid, &attr, worker_main, slot);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        log_error("worker pool: cannot start a thread: %s", strerror(rc));
        return -rc;
    }
    slot->in_use = true;
    p->threads++;
    return 0;
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
    p->workers = calloc(p->max, sizeof *p->workers);
    if (!p->workers) {
        free(p);
        return NULL;
    }
    p->stack_size = stack_size;
    p->name = name;
    p->thread_name = thread_name;
    p->share_max = share_max < 1 ? 1 : share_max > p->max ? p->max : share_max;
    pthread_mutex_lock(&p->lock);
    for (unsigned i = 0; i < p->min; i++)
        if (spawn_locked(p) < 0)
            break;
    if (pthread_create(&p->monitor_tid, NULL, monitor_main, p) == 0)
        p->monitor_alive = true;
    else
        p->monitor_tid = 0;
    bool ok = p->threads > 0 && p->monitor_alive;
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

static void deadline_in(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *worker_main(void *arg)
{
    worker_t *self = arg;
    pool_t *p = self->p;
    pthread_setname_np(pthread_self(), p->thread_name);
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
                        if (p->idle)
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
        struct timespec ts;
        deadline_in(&ts, POOL_IDLE_EXIT_MS);
        p->idle++;
        int rc = pthread_cond_timedwait(&p->work_ready, &p->lock, &ts);
        p->idle--;
        if (rc == ETIMEDOUT && !p->head && p->threads > p->min && !p->stopping) {
            /* Retiring: nobody will join this thread. */
            self->in_use = false;
            pthread_detach(pthread_self());
            break;
        }
    }
    p->threads--;
    if (p->threads == 0)
        pthread_cond_broadcast(&p->all_exited);
    pthread_mutex_unlock(&p->lock);
    return NULL;
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
        deadline_in(&ts, POOL_GROW_AFTER_MS);
        pthread_cond_timedwait(&p->monitor_wake, &p->lock, &ts);
        if (p->stopping || !p->head)
            continue;
        /* One worker per tick: enough for blocked workers (a burst of blocking calls is
         * covered within a few ticks), while a CPU-bound burst, where more threads would only
         * contend, adds few. */
        if (clock_now_ms() - p->head->queued_at < POOL_GROW_AFTER_MS || p->queued <= p->idle)
            continue;
        if (p->threads < p->max) {
            spawn_locked(p);
            continue;
        }
        /* At the maximum with work waiting: say so, and who holds the workers. */
        const pool_share_t *top = NULL;
        unsigned waiting = p->queued, busy = p->threads - p->idle;
        for (unsigned i = 0; i < p->max; i++) {
            const pool_share_t *sh = p->workers[i].in_use ? p->workers[i].running : NULL;
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
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->work_ready);
    pthread_cond_broadcast(&p->monitor_wake);
    while (p->threads > 0 || p->monitor_alive) {
        if (pthread_cond_timedwait(&p->all_exited, &p->lock, &ts) == ETIMEDOUT)
            break;
    }
    bool all = p->threads == 0 && !p->monitor_alive;
    pthread_mutex_unlock(&p->lock);
    if (all) {
        /* Every worker has left its loop: wait until each thread has really ended. Stuck
         * workers (all == false) are left alone: the process exits without them. */
        for (unsigned i = 0; i < p->max; i++) {
            if (p->workers[i].in_use) {
                pthread_join(p->workers[i].tid, NULL);
                p->workers[i].in_use = false;
            }
        }
        if (p->monitor_tid) {
            pthread_join(p->monitor_tid, NULL);
            p->monitor_tid = 0;
        }
    } else {
        /* Some worker is stuck in extension code: the process will exit without it. Nobody
         * will join these threads any more. */
        pthread_mutex_lock(&p->lock);
        for (unsigned i = 0; i < p->max; i++) {
            if (p->workers[i].in_use) {
                pthread_detach(p->workers[i].tid);
                p->workers[i].in_use = false;
            }
        }
        if (p->monitor_tid) {
            pthread_detach(p->monitor_tid);
            p->monitor_tid = 0;
        }
        pthread_mutex_unlock(&p->lock);
    }
    return all;
}

void pool_free(pool_t *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work_ready);
    pthread_cond_destroy(&p->all_exited);
    pthread_cond_destroy(&p->monitor_wake);
    free(p->workers);
    free(p);
}

