/* Worker pool: the threads that run extension code (HttpExtensionProc, extension loading,
 * and completion callbacks). Between min and max threads. Work that waits adds threads: a
 * monitor thread looks every 2 ms while work is queued and, when the oldest item has waited that
 * long (every worker busy, e.g. blocked in an extension), starts one more worker. Short work
 * never grows the pool. Workers above min exit after an idle period.
 * Stacks are large (extensions keep big buffers on the stack).
 *
 * Ownership: pool_work_t is embedded in the submitter's structure and must stay valid until its
 * function has started; the pool never frees it. */
#ifndef ISAPID_POOL_H
#define ISAPID_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pool pool_t;
typedef struct pool_work pool_work_t;
typedef void (*pool_work_fn)(pool_work_t *w);
struct pool_work {
    pool_work_t *next;
    pool_work_fn fn;
    uint64_t queued_at; /* monotonic ms, set by pool_submit */
};

pool_t *pool_new(unsigned min_threads, unsigned max_threads, size_t stack_size);
/* Thread-safe. Fails (returns false) only after pool_stop has begun. */
bool pool_submit(pool_t *p, pool_work_t *w, pool_work_fn fn);
/* Stop accepting work, let queued work run, wait up to timeout_ms for the workers to exit.
 * Returns true when every worker has exited (then pool_free may be called). */
bool pool_stop(pool_t *p, unsigned timeout_ms);
void pool_free(pool_t *p);

#endif
