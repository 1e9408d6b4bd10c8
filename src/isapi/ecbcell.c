#define _GNU_SOURCE
#include "ecbcell.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "ecbfault.h"
#include "log.h"

/* Cell 0 of every block. Its state word (at the offset of ecb_cell_t.state) is never written,
 * so a header reads as a dead cell to anyone who gets past the lookup's check. */
typedef struct block_header {
    _Atomic uint32_t freed; /* cells of this block freed since it was handed out */
} block_header_t;
_Static_assert(sizeof(block_header_t) <= offsetof(ecb_cell_t, state), "header stays in the ECB part");

/* Per chunk, under the arena's lock. A chunk is handed out from its first block to its last in
 * one pass; it may be handed out again only once renewed (both counts back at 0). */
typedef struct chunk_state {
    uint32_t taken;    /* blocks handed out since the chunk was last renewed */
    uint32_t released; /* of those, the blocks whose cells were all freed (bit i: block i) */
} chunk_state_t;
_Static_assert(ECB_BLOCKS_PER_CHUNK == 32, "one bit per block of a chunk");

/* Blocks a cursor has finished, oldest first, each looked at once when it falls out: by then
 * the short requests in it have ended, and a block still held by a few long sessions gives
 * back the pages holding none of them (a pending session costs two pages, not 64 KiB). */
#define SWEEP_LAG 16

typedef struct sweep_entry {
    uint64_t block;
    uint64_t wraps; /* the pass it was filled in: a block of an older pass is not looked at */
} sweep_entry_t;

/* ECB_MODE_KEEP: dead memory waiting to be given back, oldest first. */
typedef struct kept_entry {
    uint64_t block;
    uint64_t since_ms; /* when its cells were all seen dead */
    uint64_t wraps;    /* the pass: an entry of an older pass is dropped */
    uint32_t pages;    /* bit i: page i of the block; KEPT_WHOLE: the block, then released */
} kept_entry_t;
#define PAGES_PER_BLOCK (ECB_BLOCK_SIZE / ECB_FAULT_PAGE)
#define KEPT_WHOLE (1u << PAGES_PER_BLOCK)

/* ECB_MODE_USERFAULTFD with moves: blocks taken from the bump pointer at a release and filled
 * with the released block's pages (block_release), handed out before the bump pointer moves
 * on, oldest first, so blocks still go out in the order the bump pointer gave them. As many as
 * cursors fill blocks at once is enough: a release makes one, a cursor's next block takes one. */
#define READY_MAX 8

struct ecb_arena {
    struct ecb_arena_view view; /* first: ecb_cell_lookup reads it through the arena pointer */
    size_t size;
    uint64_t n_blocks;
    /* Set at creation, read-only after (the fault handler reads them without the lock). */
    EXTENSION_CONTROL_BLOCK tombstone; /* ConnID is each cell's own */
    ecb_fault_t *fault;                /* ECB_MODE_USERFAULTFD */
    _Atomic uint64_t fault_errors_seen; /* the handler's errors already logged */
    bool move;                         /* ECB_MODE_USERFAULTFD: released blocks' pages are moved */
    const char *keep_why;              /* ECB_MODE_KEEP: why */
    uint64_t keep_ms;
    size_t keep_bytes;
    uint64_t (*clock_ms)(void);
    pthread_mutex_t lock;       /* everything below but empty */
    uint64_t next_block;        /* the bump pointer, in blocks; wraps to 0 at n_blocks */
    chunk_state_t *chunks;      /* n_blocks / ECB_BLOCKS_PER_CHUNK entries, own mapping */
    size_t chunks_bytes;
    ecb_cursor_t shared;        /* ecb_cell_take_shared */
    sweep_entry_t sweep[SWEEP_LAG];
    unsigned sweep_n, sweep_head;
    uint64_t ready[READY_MAX]; /* a ring: ready_n from ready_head, oldest first */
    unsigned ready_head, ready_n, ready_filling; /* filling: taken for it, being moved into */
    kept_entry_t *kept; /* kept[kept_head .. kept_head + kept_n) */
    size_t kept_cap, kept_head, kept_n;
    ecb_arena_stats_t stats;
    /* The tombstone's strings. Writable, and last: an extension that decodes an ended ECB's
     * query string in place writes its NUL here. */
    char empty[64];
};

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What a freed cell holds, and what a given-back cell reads as under userfaultfd. */
static void tombstone_write(const ecb_arena_t *a, ecb_cell_t *c)
{
    c->ecb = a->tombstone;
    c->ecb.ConnID = (HCONN)c;
}

static void tombstone_make(ecb_arena_t *a, const ecb_callbacks_t *cb)
{
    EXTENSION_CONTROL_BLOCK *t = &a->tombstone;
    memset(t, 0, sizeof *t); /* lpszLogData empty, sizes 0 */
    t->cbSize = sizeof *t;
    t->dwVersion = MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    t->lpszMethod = t->lpszQueryString = t->lpszPathInfo = t->lpszPathTranslated =
        t->lpszContentType = a->empty;
    t->lpbData = (LPBYTE)a->empty;
    if (cb) {
        t->GetServerVariable = cb->GetServerVariable;
        t->WriteClient = cb->WriteClient;
        t->ReadClient = cb->ReadClient;
        t->ServerSupportFunction = cb->ServerSupportFunction;
    }
}

/* The fault handler's page (src/isapi/ecbfault.h): a tombstone in every cell, headers zero (a fresh
 * header and a dead cell, which is also right for a block never handed out). */
static void tombstones_fill(void *arg, uintptr_t page, unsigned char *out)
{
    const ecb_arena_t *a = arg;
    memset(out, 0, ECB_FAULT_PAGE);
    for (unsigned i = 0; i < ECB_FAULT_PAGE / ECB_CELL_SIZE; i++) {
        uintptr_t addr = page + (uintptr_t)i * ECB_CELL_SIZE;
        if ((addr - a->view.base) % ECB_BLOCK_SIZE == 0)
            continue;
        ecb_cell_t *c = (ecb_cell_t *)(out + (size_t)i * ECB_CELL_SIZE);
        c->ecb = a->tombstone;
        c->ecb.ConnID = (HCONN)addr;
    }
}

static size_t round_down_chunks(size_t n) { return n - n % ECB_CHUNK_SIZE; }

ecb_arena_t *ecb_arena_create(const ecb_arena_params_t *p)
{
    size_t max_bytes = round_down_chunks(p->max_bytes);
    size_t min_bytes = round_down_chunks(p->min_bytes);
    if (min_bytes == 0)
        min_bytes = ECB_CHUNK_SIZE;
    ecb_arena_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    void *base = MAP_FAILED;
    size_t size = max_bytes;
    /* Reserved, not committed: PROT_NONE mappings are not charged against overcommit limits. */
    while (size >= min_bytes) {
        base = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base != MAP_FAILED)
            break;
        size = round_down_chunks(size / 2);
    }
    if (base == MAP_FAILED) {
        free(a);
        errno = ENOMEM;
        return NULL;
    }
    a->size = size;
    a->n_blocks = size / ECB_BLOCK_SIZE;
    a->chunks_bytes = (size / ECB_CHUNK_SIZE) * sizeof(chunk_state_t);
    /* Touched only as far as chunks are used (8 bytes per 2 MiB of range). */
    a->chunks = mmap(NULL, a->chunks_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a->chunks == MAP_FAILED) {
        munmap(base, size);
        free(a);
        errno = ENOMEM;
        return NULL;
    }
    a->view.base = (uintptr_t)base;
    atomic_init(&a->view.committed, 0);
    pthread_mutex_init(&a->lock, NULL);
    a->stats.size = size;
    a->keep_ms = p->keep_ms ? p->keep_ms : ECB_KEEP_MS_DEFAULT;
    a->keep_bytes = p->keep_bytes ? p->keep_bytes : ECB_KEEP_BYTES_DEFAULT;
    a->clock_ms = p->clock_ms ? p->clock_ms : monotonic_ms;
    tombstone_make(a, p->callbacks); /* before the handler can be asked for a page */
    if (p->keep)
        a->keep_why = "asked for";
    else
        a->fault = ecb_fault_start(base, size, tombstones_fill, a, &a->keep_why);
    a->move = a->fault && !p->no_move && ecb_fault_can_move(a->fault);
    return a;
}

ecb_mode_t ecb_arena_mode(const ecb_arena_t *a, const char **why)
{
    if (why)
        *why = a->fault ? NULL : a->keep_why;
    return a->fault ? ECB_MODE_USERFAULTFD : ECB_MODE_KEEP;
}

void ecb_arena_destroy(ecb_arena_t *a)
{
    if (!a)
        return;
    ecb_fault_stop(a->fault);
    free(a->kept);
    munmap((void *)a->view.base, a->size);
    munmap(a->chunks, a->chunks_bytes);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

void ecb_arena_stats(ecb_arena_t *a, ecb_arena_stats_t *out)
{
    pthread_mutex_lock(&a->lock);
    *out = a->stats;
    out->committed = atomic_load(&a->view.committed);
    out->moves = a->move;
    pthread_mutex_unlock(&a->lock);
    if (a->fault) {
        ecb_fault_stats_t fs;
        ecb_fault_stats(a->fault, &fs);
        out->faults = fs.faults;
        out->fault_errors = fs.errors;
    }
}

static char *block_addr(const ecb_arena_t *a, uint64_t block)
{
    return (char *)a->view.base + block * ECB_BLOCK_SIZE;
}

/* Under the lock: the first pass over the range makes each chunk accessible before its first
 * block is handed out. The committed size is published after the mprotect (lookups compare
 * against it, so they never read an inaccessible page). */
static bool commit_chunk_locked(ecb_arena_t *a, uint64_t chunk)
{
    size_t end = (size_t)(chunk + 1) * ECB_CHUNK_SIZE;
    size_t committed = atomic_load_explicit(&a->view.committed, memory_order_relaxed);
    if (end <= committed)
        return true;
    if (mprotect((char *)a->view.base + committed, end - committed, PROT_READ | PROT_WRITE) < 0)
        return false;
    atomic_store_explicit(&a->view.committed, end, memory_order_release);
    a->stats.committed = end;
    return true;
}

/* ---- Giving memory back ---- */

static void madvise_pages(char *block, uint32_t pages)
{
    for (unsigned page = 0; page < PAGES_PER_BLOCK;) {
        if (!(pages >> page & 1)) {
            page++;
            continue;
        }
        unsigned end = page;
        while (end < PAGES_PER_BLOCK && (pages >> end & 1))
            end++;
        (void)madvise(block + (size_t)page * ECB_FAULT_PAGE, (size_t)(end - page) * ECB_FAULT_PAGE,
                      MADV_DONTNEED);
        page = end;
    }
}

/* Under the lock: `block` has been given back whole; renew its chunk when that was the chunk's
 * last block. No cell of the chunk can be handed out again before it is renewed
 * (block_take_locked). */
static void block_released_locked(ecb_arena_t *a, uint64_t block)
{
    uint64_t chunk = block / ECB_BLOCKS_PER_CHUNK;
    a->stats.blocks_released++;
    chunk_state_t *cs = &a->chunks[chunk];
    cs->released |= 1u << (block % ECB_BLOCKS_PER_CHUNK);
    if (cs->released != UINT32_MAX)
        return;
    /* The page table of these 2 MiB goes with the old mapping; the new one is there at once
     * (a stale read racing with this never faults, and under userfaultfd never reads an
     * unregistered page). */
    void *at = block_addr(a, chunk * ECB_BLOCKS_PER_CHUNK);
    bool renewed = a->fault ? ecb_fault_renew(a->fault, at, ECB_CHUNK_SIZE)
                            : mmap(at, ECB_CHUNK_SIZE, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
                                   0) != MAP_FAILED;
    if (renewed) {
        a->stats.chunks_renewed++;
    } else {
        static log_limiter_t lim = LOG_LIMITER_INIT;
        log_limited(&lim, LOG_WARN, "ECB arena: cannot renew a 2 MiB chunk (%s); its page "
                    "table stays until the next try", strerror(errno));
    }
    cs->taken = cs->released = 0; /* usable again on the next pass either way: all dead */
}

/* Under the lock, ECB_MODE_KEEP: give back what has been kept long enough, or the oldest while
 * more than the budget is kept. */
static void kept_drain_locked(ecb_arena_t *a)
{
    uint64_t now = a->clock_ms();
    while (a->kept_n) {
        kept_entry_t *e = &a->kept[a->kept_head];
        if (now - e->since_ms < a->keep_ms && a->stats.kept_bytes <= a->keep_bytes)
            break;
        kept_entry_t k = *e;
        a->kept_head++;
        a->kept_n--;
        if (!a->kept_n)
            a->kept_head = 0;
        a->stats.kept_bytes -= k.pages & KEPT_WHOLE ? ECB_BLOCK_SIZE
                                                     : (uint64_t)__builtin_popcount(k.pages) * ECB_FAULT_PAGE;
        if (k.pages & KEPT_WHOLE) {
            (void)madvise(block_addr(a, k.block), ECB_BLOCK_SIZE, MADV_DONTNEED);
            block_released_locked(a, k.block);
            continue;
        }
        const chunk_state_t *cs = &a->chunks[k.block / ECB_BLOCKS_PER_CHUNK];
        if (k.wraps == a->stats.wraps && cs->taken != 0 &&
            !(cs->released >> (k.block % ECB_BLOCKS_PER_CHUNK) & 1)) {
            madvise_pages(block_addr(a, k.block), k.pages);
            a->stats.pages_swept += (uint64_t)__builtin_popcount(k.pages);
        }
    }
}

/* Under the lock, ECB_MODE_KEEP: memory to give back later. False when it cannot be queued
 * (out of memory): the caller gives it back now. */
static bool kept_push_locked(ecb_arena_t *a, uint64_t block, uint32_t pages)
{
    if (a->kept_head + a->kept_n == a->kept_cap) {
        if (a->kept_head >= a->kept_cap / 2 && a->kept_head) {
            memmove(a->kept, a->kept + a->kept_head, a->kept_n * sizeof *a->kept);
            a->kept_head = 0;
        } else {
            size_t cap = a->kept_cap ? 2 * a->kept_cap : 64;
            kept_entry_t *k = realloc(a->kept, cap * sizeof *k);
            if (!k)
                return false;
            a->kept = k;
            a->kept_cap = cap;
        }
    }
    a->kept[a->kept_head + a->kept_n++] =
        (kept_entry_t){.block = block, .since_ms = a->clock_ms(), .wraps = a->stats.wraps, .pages = pages};
    a->stats.kept_bytes += pages & KEPT_WHOLE ? ECB_BLOCK_SIZE
                                               : (uint64_t)__builtin_popcount(pages) * ECB_FAULT_PAGE;
    return true;
}

/* Under the lock: the next block, in address order. At a chunk's first block, a chunk still
 * holding cells of the previous pass is skipped whole. False when every chunk is held (or a
 * commit failed: out of memory). */
static bool block_take_locked(ecb_arena_t *a, uint64_t *out)
{
    if (!a->fault)
        kept_drain_locked(a);
    uint64_t n_chunks = a->n_blocks / ECB_BLOCKS_PER_CHUNK;
    for (uint64_t tries = 0; tries <= n_chunks; tries++) {
        uint64_t b = a->next_block;
        uint64_t chunk = b / ECB_BLOCKS_PER_CHUNK;
        if (b % ECB_BLOCKS_PER_CHUNK == 0) {
            chunk_state_t *cs = &a->chunks[chunk];
            if (cs->taken != 0) { /* not renewed since the last pass: a cell there is live */
                a->next_block = b + ECB_BLOCKS_PER_CHUNK;
                if (a->next_block >= a->n_blocks) {
                    a->next_block = 0;
                    a->stats.wraps++;
                }
                continue;
            }
            if (!commit_chunk_locked(a, chunk))
                return false;
        }
        a->chunks[chunk].taken++;
        a->next_block = b + 1;
        if (a->next_block >= a->n_blocks) {
            a->next_block = 0;
            a->stats.wraps++;
        }
        a->stats.blocks_taken++;
        *out = b;
        return true;
    }
    return false;
}

/* Under the lock: a block that was filled SWEEP_LAG fills ago and still has live cells gives
 * back its pages without one (never page 0, which holds the header) — under ECB_MODE_KEEP
 * only after those pages have been kept. Every cell of a filled block was made live or freed
 * before the block was queued (the cursor queues it only when it moves on), a freed cell's
 * tombstone is written before its state turns 0, and a dead cell is never written again, so a
 * page whose cells all read dead may go. */
static void sweep_block_locked(ecb_arena_t *a, uint64_t block)
{
    const chunk_state_t *cs = &a->chunks[block / ECB_BLOCKS_PER_CHUNK];
    if (cs->taken == 0 || (cs->released >> (block % ECB_BLOCKS_PER_CHUNK) & 1))
        return; /* given back already (reading it would only map pages back in) */
    char *p = block_addr(a, block);
    if (atomic_load_explicit(&((block_header_t *)p)->freed, memory_order_acquire) >=
        ECB_CELLS_PER_BLOCK - 1)
        return; /* all dead: block_release gives it back whole */
    enum { CELLS_PER_PAGE = ECB_FAULT_PAGE / ECB_CELL_SIZE };
    uint32_t live_pages = 0; /* bit i: page i holds a live cell */
    for (unsigned i = 1; i < ECB_CELLS_PER_BLOCK; i++) {
        const ecb_cell_t *c = (const ecb_cell_t *)(p + (size_t)i * ECB_CELL_SIZE);
        if (atomic_load_explicit(&c->state, memory_order_acquire) != 0)
            live_pages |= 1u << (i / CELLS_PER_PAGE);
    }
    if (!live_pages)
        return; /* all dead: its last free is giving it back whole */
    uint32_t dead_pages = ~(live_pages | 1u) & (KEPT_WHOLE - 1); /* the header's page stays */
    if (!dead_pages)
        return;
    if (!a->fault && kept_push_locked(a, block, dead_pages))
        return;
    madvise_pages(p, dead_pages);
    a->stats.pages_swept += (uint64_t)__builtin_popcount(dead_pages);
}

/* Under the lock: the cursor has finished `block`. */
static void block_filled_locked(ecb_arena_t *a, uint64_t block)
{
    if (a->sweep_n == SWEEP_LAG) {
        sweep_entry_t old = a->sweep[a->sweep_head];
        if (old.wraps == a->stats.wraps)
            sweep_block_locked(a, old.block);
        a->sweep[a->sweep_head] = (sweep_entry_t){block, a->stats.wraps};
        a->sweep_head = (a->sweep_head + 1) % SWEEP_LAG;
    } else {
        a->sweep[(a->sweep_head + a->sweep_n++) % SWEEP_LAG] = (sweep_entry_t){block, a->stats.wraps};
    }
}

/* Once per block: the fault handler logs nothing itself (src/isapi/ecbfault.h). */
static void fault_errors_report(ecb_arena_t *a)
{
    ecb_fault_stats_t fs;
    ecb_fault_stats(a->fault, &fs);
    uint64_t seen = atomic_load_explicit(&a->fault_errors_seen, memory_order_relaxed);
    if (fs.errors == seen ||
        !atomic_compare_exchange_strong(&a->fault_errors_seen, &seen, fs.errors))
        return;
    static log_limiter_t lim = LOG_LIMITER_INIT;
    log_limited(&lim, LOG_WARN, "ECB arena: %llu failures to fill pages of ECBs through "
                "userfaultfd (last: %s); a fault is retried every millisecond, a fresh block is "
                "left to the handler",
                (unsigned long long)(fs.errors - seen), strerror(fs.last_error));
}

/* Fresh memory filled before use: the requests of a block never wait for the fault handler. */
static void block_fill(ecb_arena_t *a, char *p, size_t len)
{
    (void)ecb_fault_populate(a->fault, p, len);
    fault_errors_report(a);
}

/* Under the lock: the oldest ready block, if any. */
static bool ready_pop_locked(ecb_arena_t *a, uint64_t *out)
{
    if (a->ready_n == 0)
        return false;
    *out = a->ready[a->ready_head];
    a->ready_head = (a->ready_head + 1) % READY_MAX;
    a->ready_n--;
    return true;
}

static ecb_cell_t *take_from(ecb_arena_t *a, ecb_cursor_t *cur, bool locked)
{
    if (cur->next == 0 || cur->next >= ECB_CELLS_PER_BLOCK) {
        if (!locked)
            pthread_mutex_lock(&a->lock);
        /* Not the shared cursor's blocks: another thread may still be filling in the cell it
         * took last. A thread's own cursor moves on only after its last cell was made live. */
        if (cur->next >= ECB_CELLS_PER_BLOCK && cur != &a->shared)
            block_filled_locked(a, cur->block);
        bool ready = ready_pop_locked(a, &cur->block);
        bool ok = ready || block_take_locked(a, &cur->block);
        if (!locked)
            pthread_mutex_unlock(&a->lock);
        if (!ok)
            return NULL;
        if (a->fault && !ready) /* a ready block holds moved pages already */
            block_fill(a, block_addr(a, cur->block), ECB_BLOCK_SIZE);
        cur->next = 1; /* cell 0 is the header */
    }
    return (ecb_cell_t *)(block_addr(a, cur->block) + (size_t)cur->next++ * ECB_CELL_SIZE);
}

ecb_cell_t *ecb_cell_take(ecb_arena_t *a, ecb_cursor_t *cur) { return take_from(a, cur, false); }

ecb_cell_t *ecb_cell_take_shared(ecb_arena_t *a)
{
    pthread_mutex_lock(&a->lock);
    ecb_cell_t *cell = take_from(a, &a->shared, true);
    pthread_mutex_unlock(&a->lock);
    return cell;
}

/* ECB_MODE_USERFAULTFD with moves: the released block's pages moved onto the next fresh block,
 * which then needs no fill, and nothing is freed, allocated or zeroed. The moved cells are
 * tombstones (their ConnIDs those of the old addresses: all dead, so any call through one is
 * refused either way); the header is reset. False when no block can be taken for it or enough
 * are ready: the caller gives the memory back. */
static bool block_move_to_ready(ecb_arena_t *a, uint64_t block)
{
    uint64_t to = 0;
    pthread_mutex_lock(&a->lock);
    bool got = a->ready_n + a->ready_filling < READY_MAX && block_take_locked(a, &to);
    a->ready_filling += got;
    pthread_mutex_unlock(&a->lock);
    if (!got)
        return false;
    char *dst = block_addr(a, to), *src = block_addr(a, block);
    size_t moved = ecb_fault_move(a->fault, dst, src, ECB_BLOCK_SIZE);
    if (moved < ECB_BLOCK_SIZE) { /* a page swept or read in meanwhile: the rest the old way */
        (void)madvise(src + moved, ECB_BLOCK_SIZE - moved, MADV_DONTNEED);
        block_fill(a, dst + moved, ECB_BLOCK_SIZE - moved);
    }
    atomic_store_explicit(&((block_header_t *)dst)->freed, 0, memory_order_relaxed);
    pthread_mutex_lock(&a->lock); /* publishes the header to the cursor that takes the block */
    a->ready_filling--;
    a->ready[(a->ready_head + a->ready_n++) % READY_MAX] = to;
    a->stats.blocks_moved += moved == ECB_BLOCK_SIZE;
    block_released_locked(a, block);
    pthread_mutex_unlock(&a->lock);
    return true;
}

/* Every cell of the block has been freed: give its memory back now (userfaultfd: it reads as
 * tombstones from now on) or after it has been kept. */
static void block_release(ecb_arena_t *a, uint64_t block)
{
    if (a->move && block_move_to_ready(a, block))
        return;
    if (a->fault) /* no cell of the block is handed out again before its chunk is renewed */
        (void)madvise(block_addr(a, block), ECB_BLOCK_SIZE, MADV_DONTNEED);
    pthread_mutex_lock(&a->lock);
    if (a->fault) {
        block_released_locked(a, block);
    } else if (!kept_push_locked(a, block, KEPT_WHOLE)) {
        (void)madvise(block_addr(a, block), ECB_BLOCK_SIZE, MADV_DONTNEED);
        block_released_locked(a, block);
    } else {
        kept_drain_locked(a);
    }
    pthread_mutex_unlock(&a->lock);
}

void ecb_cell_free(ecb_arena_t *a, ecb_cell_t *cell)
{
    /* The tombstone before the state: whoever sees the cell dead (the sweep) sees it whole. No
     * call is in flight (the owner's end runs after the last one left). */
    tombstone_write(a, cell);
    cell->owner = NULL;
    atomic_store_explicit(&cell->state, 0, memory_order_release);
    uintptr_t off = (uintptr_t)cell - a->view.base;
    uint64_t block = off / ECB_BLOCK_SIZE;
    block_header_t *h = (block_header_t *)block_addr(a, block);
    if (atomic_fetch_add_explicit(&h->freed, 1, memory_order_acq_rel) + 1 == ECB_CELLS_PER_BLOCK - 1)
        block_release(a, block);
}
