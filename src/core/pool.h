/* Worker pools: the threads that run extension code. The server has two (docs/design.md,
 * "Threads"): one for HttpExtensionProc calls that do not run on a loop's thread (--workers),
 * one for completion callbacks of asynchronous I/O (--completion-workers), so that completions
 * never wait behind blocked calls. Each pool has between min and max threads. Work that waits
 * adds threads: a monitor thread looks every 2 ms while work is queued and, when the oldest item
 * has waited that long (every worker busy, e.g. blocked in an extension), starts one more
 * worker. Short work never grows a pool. Workers above min exit after an idle period. Stacks are
 * large (extensions keep big buffers on the stack).
 *
 * Shares. Work is submitted with the pool_share_t of the extension it runs (NULL: no share).
 * At most share_max workers of a pool run one share's work at a time; its further items wait
 * in the share's own list, not in the pool's queue, so the work of other extensions passes them
 * and one extension that blocks in every call (or every callback) cannot take a whole pool.
 * Items of one share start in the order they were submitted.
 *
 * A pool at its maximum with work waiting, and a share at its limit with work held back, are
 * logged at most once per second each (log_limited), naming the pool and the extension.
 *
 * Ownership: pool_work_t is embedded in the submitter's structure and must stay valid until its
 * function has started; the pool never frees it. A pool_share_t belongs to its extension (which
 * lives until the pools are gone); its counters are the pool's, under the pool's lock. */
#ifndef ISAPID_POOL_H
#define ISAPID_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

typedef struct pool pool_t;
typedef struct pool_work pool_work_t;
typedef struct pool_share pool_share_t;
typedef void (*pool_work_fn)(pool_work_t *w);
struct pool_work {
    pool_work_t *next;
    pool_work_fn fn;
    pool_share_t *share; /* set by pool_submit */
    uint64_t queued_at;  /* monotonic ms: when it entered the pool's queue */
};

/* One extension's part of one pool. Zero it and set name (not owned; it must outlive the
 * pool's use of the share) before the first submit. Fields other than name are the pool's. */
struct pool_share {
    const char *name;
    unsigned running;          /* its items running on workers */
    unsigned ready;            /* its items in the pool's queue */
    unsigned held;             /* its items held back in head..tail: running + ready reached
                                * the pool's share_max; never non-zero below it */
    pool_work_t *head, *tail;
    log_limiter_t held_log;
};

/* name: for log lines ("completion"); thread_name: for the workers (at most 15 characters);
 * share_max: workers one share may hold at once (at least 1, at most max_threads). */
pool_t *pool_new(const char *name, const char *thread_name, unsigned min_threads,
                 unsigned max_threads, unsigned share_max, size_t stack_size);
/* Thread-safe. share may be NULL. Fails (returns false) only after pool_stop has begun. */
bool pool_submit(pool_t *p, pool_work_t *w, pool_work_fn fn, pool_share_t *share);
/* Stop accepting work (pool_submit fails from now on), let the work submitted before run (queued,
 * or held back by its share), and wait up to timeout_ms for the workers to exit. Returns true
 * when every worker has exited (then pool_free may be called). False when some worker was still
 * running work at the timeout: the pool must then never be freed; its workers go on with the
 * queue as they get free, and exit when it is empty. */
bool pool_stop(pool_t *p, unsigned timeout_ms);
void pool_free(pool_t *p);

/* workers one share may hold in a pool of max_threads: percent of it, at least 1. */
unsigned pool_share_max(unsigned max_threads, unsigned percent);

/* Workers the pool has now: started, and not exited or retired. Thread-safe. */
unsigned pool_thread_count(pool_t *p);
/* Workers running work now; *threads: the workers it has (pool_thread_count). Thread-safe. */
unsigned pool_busy_count(pool_t *p, unsigned *threads);
/* How long a worker above min waits for work before it exits (30 s unless set; tests shorten
 * it). Thread-safe: workers waiting now start their wait again with the new period. */
void pool_set_idle_exit(pool_t *p, unsigned ms);

#endif
