#define _GNU_SOURCE
#include "statusboard.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define RELAXED memory_order_relaxed
#define LINE 64u

/* A loop's block: its own cache line, so loops never share one. */
typedef struct loop_block {
    _Atomic uint64_t requests;
    _Atomic uint32_t active, reading, writing, idle, parked;
    _Atomic int64_t parked_oldest;
} __attribute__((aligned(LINE))) loop_block_t;

typedef struct ext_counts {
    _Atomic uint32_t loaded, in_flight;
    _Atomic uint64_t requests;
} ext_counts_t;

typedef struct pool_block {
    _Atomic uint32_t busy, threads, max;
} pool_block_t;

/* pid: 0 free, -1 being emptied by a claim, else the worker's. A slot is followed by its
 * max_extensions ext_counts_t. */
struct status_slot {
    _Atomic int32_t pid;
    _Atomic uint32_t n_loops;
    _Atomic uint64_t start_ms, rss_bytes;
    pool_block_t calls, completions;
    loop_block_t loops[STATUS_MAX_LOOPS];
};

/* state: 0 free, 1 in use (path set before, under the lock, published with release). */
typedef struct ext_entry {
    _Atomic uint32_t state;
    _Atomic uint32_t crashes;
    atomic_bool disabled;
    char path[STATUS_PATH_MAX];
} ext_entry_t;

struct status_board {
    size_t map_size, slot_size;
    unsigned max_workers, max_extensions;
    pthread_mutex_t lock; /* process-shared, robust: additions to the extension table */
    size_t ext_off, slots_off;
};

static size_t round_up(size_t n) { return (n + LINE - 1) / LINE * LINE; }

static ext_entry_t *ext_at(status_board_t *b, unsigned i)
{
    return (ext_entry_t *)((char *)b + b->ext_off) + i;
}

static status_slot_t *slot_at(status_board_t *b, unsigned i)
{
    return (status_slot_t *)((char *)b + b->slots_off + i * b->slot_size);
}

/* A slot's extension counts follow it. */
static ext_counts_t *slot_ext(status_slot_t *s, unsigned i)
{
    return (ext_counts_t *)((char *)s + sizeof *s) + i;
}

status_board_t *status_board_new(unsigned max_workers, unsigned max_extensions)
{
    if (max_workers == 0 || max_extensions == 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t ext_off = round_up(sizeof(status_board_t));
    size_t slots_off = round_up(ext_off + (size_t)max_extensions * sizeof(ext_entry_t));
    size_t slot_size = round_up(sizeof(status_slot_t) + (size_t)max_extensions * sizeof(ext_counts_t));
    size_t size = slots_off + (size_t)max_workers * slot_size;
    /* Pages are touched only as loops and extensions publish: most of it never becomes resident. */
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    status_board_t *b = p;
    b->map_size = size;
    b->slot_size = slot_size;
    b->max_workers = max_workers;
    b->max_extensions = max_extensions;
    b->ext_off = ext_off;
    b->slots_off = slots_off;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(&b->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (rc != 0) {
        munmap(p, size);
        errno = rc;
        return NULL;
    }
    return b;
}

void status_board_free(status_board_t *b)
{
    if (b)
        munmap(b, b->map_size);
}

unsigned status_board_max_workers(const status_board_t *b) { return b->max_workers; }
unsigned status_board_max_extensions(const status_board_t *b) { return b->max_extensions; }

status_slot_t *status_board_claim(status_board_t *b, pid_t pid)
{
    for (unsigned i = 0; i < b->max_workers; i++) {
        status_slot_t *s = slot_at(b, i);
        int32_t expected = 0;
        if (!atomic_compare_exchange_strong(&s->pid, &expected, -1))
            continue;
        /* Readers skip the slot until its pid is published (release: after the emptying). */
        memset((char *)s + offsetof(status_slot_t, n_loops), 0,
               b->slot_size - offsetof(status_slot_t, n_loops));
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        atomic_store_explicit(&s->start_ms, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
                              RELAXED);
        atomic_store_explicit(&s->pid, (int32_t)pid, memory_order_release);
        return s;
    }
    return NULL;
}

bool status_board_release(status_board_t *b, pid_t pid)
{
    if (pid <= 0)
        return false;
    for (unsigned i = 0; i < b->max_workers; i++) {
        status_slot_t *s = slot_at(b, i);
        int32_t expected = (int32_t)pid;
        if (atomic_compare_exchange_strong(&s->pid, &expected, 0))
            return true;
    }
    return false;
}

static void lock_board(status_board_t *b)
{
    /* A process that died holding the lock held it only to add an entry: the entry it was
     * writing is not published (state 0), so the table is consistent as it is. */
    if (pthread_mutex_lock(&b->lock) == EOWNERDEAD)
        pthread_mutex_consistent(&b->lock);
}

static int ext_find(status_board_t *b, const char *path)
{
    for (unsigned i = 0; i < b->max_extensions; i++) {
        ext_entry_t *e = ext_at(b, i);
        uint32_t st = atomic_load_explicit(&e->state, memory_order_acquire);
        if (st == 0)
            return -1; /* entries are added in order and never removed */
        if (strncmp(e->path, path, STATUS_PATH_MAX - 1) == 0)
            return (int)i;
    }
    return -1;
}

int status_board_ext_index(status_board_t *b, const char *path)
{
    int i = ext_find(b, path);
    if (i >= 0)
        return i;
    lock_board(b);
    i = ext_find(b, path);
    if (i < 0) {
        for (unsigned k = 0; k < b->max_extensions; k++) {
            ext_entry_t *e = ext_at(b, k);
            if (atomic_load_explicit(&e->state, RELAXED) != 0)
                continue;
            snprintf(e->path, sizeof e->path, "%s", path);
            atomic_store_explicit(&e->state, 1, memory_order_release);
            i = (int)k;
            break;
        }
    }
    pthread_mutex_unlock(&b->lock);
    return i;
}

void status_board_ext_crashed(status_board_t *b, const char *path)
{
    int i = status_board_ext_index(b, path);
    if (i >= 0)
        atomic_fetch_add_explicit(&ext_at(b, (unsigned)i)->crashes, 1, RELAXED);
}

void status_board_ext_set_disabled(status_board_t *b, const char *path, bool disabled)
{
    int i = status_board_ext_index(b, path);
    if (i >= 0)
        atomic_store_explicit(&ext_at(b, (unsigned)i)->disabled, disabled, RELAXED);
}

/* ---- a worker's numbers ---- */

void status_slot_set_loops(status_slot_t *s, unsigned n_loops)
{
    atomic_store_explicit(&s->n_loops, n_loops < STATUS_MAX_LOOPS ? n_loops : STATUS_MAX_LOOPS,
                          RELAXED);
}

void status_slot_publish_loop(status_slot_t *s, unsigned loop, const status_loop_sample_t *v)
{
    if (loop >= STATUS_MAX_LOOPS)
        return;
    loop_block_t *l = &s->loops[loop];
    atomic_store_explicit(&l->requests, v->requests, RELAXED);
    atomic_store_explicit(&l->active, v->active, RELAXED);
    atomic_store_explicit(&l->reading, v->reading, RELAXED);
    atomic_store_explicit(&l->writing, v->writing, RELAXED);
    atomic_store_explicit(&l->idle, v->idle, RELAXED);
    atomic_store_explicit(&l->parked, v->parked, RELAXED);
    atomic_store_explicit(&l->parked_oldest, v->parked_oldest, RELAXED);
}

void status_slot_publish_requests(status_slot_t *s, unsigned loop, uint64_t requests)
{
    if (loop < STATUS_MAX_LOOPS)
        atomic_store_explicit(&s->loops[loop].requests, requests, RELAXED);
}

static void pool_store(pool_block_t *p, const status_pool_sample_t *v)
{
    atomic_store_explicit(&p->busy, v->busy, RELAXED);
    atomic_store_explicit(&p->threads, v->threads, RELAXED);
    atomic_store_explicit(&p->max, v->max, RELAXED);
}

static status_pool_sample_t pool_load(pool_block_t *p)
{
    return (status_pool_sample_t){atomic_load_explicit(&p->busy, RELAXED),
                                  atomic_load_explicit(&p->threads, RELAXED),
                                  atomic_load_explicit(&p->max, RELAXED)};
}

void status_slot_publish_pools(status_slot_t *s, const status_pool_sample_t *calls,
                               const status_pool_sample_t *completions)
{
    pool_store(&s->calls, calls);
    pool_store(&s->completions, completions);
}

void status_slot_publish_rss(status_slot_t *s, uint64_t rss_bytes)
{
    atomic_store_explicit(&s->rss_bytes, rss_bytes, RELAXED);
}

void status_slot_publish_ext(status_slot_t *s, int ext_index, bool loaded, uint64_t requests,
                             uint32_t in_flight)
{
    if (ext_index < 0)
        return;
    ext_counts_t *e = slot_ext(s, (unsigned)ext_index);
    atomic_store_explicit(&e->loaded, loaded, RELAXED);
    atomic_store_explicit(&e->requests, requests, RELAXED);
    atomic_store_explicit(&e->in_flight, in_flight, RELAXED);
}

/* ---- the page's side ---- */

unsigned status_board_workers(status_board_t *b, status_worker_t *out, unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < b->max_workers && n < max; i++) {
        status_slot_t *s = slot_at(b, i);
        int32_t pid = atomic_load_explicit(&s->pid, memory_order_acquire);
        if (pid <= 0)
            continue;
        status_worker_t *w = &out[n++];
        memset(w, 0, sizeof *w);
        w->pid = pid;
        w->start_ms = atomic_load_explicit(&s->start_ms, RELAXED);
        w->rss_bytes = atomic_load_explicit(&s->rss_bytes, RELAXED);
        w->calls = pool_load(&s->calls);
        w->completions = pool_load(&s->completions);
        unsigned loops = atomic_load_explicit(&s->n_loops, RELAXED);
        for (unsigned k = 0; k < loops; k++) {
            loop_block_t *l = &s->loops[k];
            w->total.requests += atomic_load_explicit(&l->requests, RELAXED);
            w->total.active += atomic_load_explicit(&l->active, RELAXED);
            w->total.reading += atomic_load_explicit(&l->reading, RELAXED);
            w->total.writing += atomic_load_explicit(&l->writing, RELAXED);
            w->total.idle += atomic_load_explicit(&l->idle, RELAXED);
            w->total.parked += atomic_load_explicit(&l->parked, RELAXED);
            int64_t oldest = atomic_load_explicit(&l->parked_oldest, RELAXED);
            if (oldest && (!w->total.parked_oldest || oldest < w->total.parked_oldest))
                w->total.parked_oldest = oldest;
        }
    }
    return n;
}

unsigned status_board_extensions(status_board_t *b, status_extension_t *out, unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < b->max_extensions && n < max; i++) {
        ext_entry_t *e = ext_at(b, i);
        if (atomic_load_explicit(&e->state, memory_order_acquire) == 0)
            break;
        status_extension_t *x = &out[n++];
        memset(x, 0, sizeof *x);
        snprintf(x->path, sizeof x->path, "%s", e->path);
        x->crashes = atomic_load_explicit(&e->crashes, RELAXED);
        x->disabled = atomic_load_explicit(&e->disabled, RELAXED);
        for (unsigned k = 0; k < b->max_workers; k++) {
            status_slot_t *s = slot_at(b, k);
            if (atomic_load_explicit(&s->pid, memory_order_acquire) <= 0)
                continue;
            ext_counts_t *c = slot_ext(s, i);
            x->loaded += atomic_load_explicit(&c->loaded, RELAXED) != 0;
            x->requests += atomic_load_explicit(&c->requests, RELAXED);
            x->in_flight += atomic_load_explicit(&c->in_flight, RELAXED);
        }
    }
    return n;
}
