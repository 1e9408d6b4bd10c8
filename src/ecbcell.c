#define _GNU_SOURCE
#include "ecbcell.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

struct ecb_arena {
    struct ecb_arena_view view; /* first: ecb_cell_lookup reads it through the arena pointer */
    size_t size;
    uint64_t n_blocks;
    pthread_mutex_t lock;       /* everything below */
    uint64_t next_block;        /* the bump pointer, in blocks; wraps to 0 at n_blocks */
    chunk_state_t *chunks;      /* n_blocks / ECB_BLOCKS_PER_CHUNK entries, own mapping */
    size_t chunks_bytes;
    ecb_cursor_t shared;        /* ecb_cell_take_shared */
    sweep_entry_t sweep[SWEEP_LAG];
    unsigned sweep_n, sweep_head;
    ecb_arena_stats_t stats;
};

static size_t round_down_chunks(size_t n) { return n - n % ECB_CHUNK_SIZE; }

ecb_arena_t *ecb_arena_create(size_t max_bytes, size_t min_bytes)
{
    max_bytes = round_down_chunks(max_bytes);
    min_bytes = round_down_chunks(min_bytes);
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
    return a;
}

void ecb_arena_destroy(ecb_arena_t *a)
{
    if (!a)
        return;
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
    pthread_mutex_unlock(&a->lock);
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

/* Under the lock: the next block, in address order. At a chunk's first block, a chunk still
 * holding cells of the previous pass is skipped whole. False when every chunk is held (or a
 * commit failed: out of memory). */
static bool block_take_locked(ecb_arena_t *a, uint64_t *out)
{
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
 * back its pages without one (never page 0, which holds the header). Every cell of a filled
 * block was made live or freed before the block was queued (the cursor queues it only when it
 * moves on), and a dead cell is never written again, so a page whose cells all read dead may
 * go. Pages are taken as 4 KiB; with larger pages the madvise fails and nothing is lost. */
static void sweep_block_locked(ecb_arena_t *a, uint64_t block)
{
    const chunk_state_t *cs = &a->chunks[block / ECB_BLOCKS_PER_CHUNK];
    if (cs->taken == 0 || (cs->released >> (block % ECB_BLOCKS_PER_CHUNK) & 1))
        return; /* given back already (reading it would only map zero pages back in) */
    char *p = block_addr(a, block);
    if (atomic_load_explicit(&((block_header_t *)p)->freed, memory_order_acquire) >=
        ECB_CELLS_PER_BLOCK - 1)
        return; /* all dead: block_release gives it back whole */
    enum { PAGES = ECB_BLOCK_SIZE / 4096, CELLS_PER_PAGE = 4096 / ECB_CELL_SIZE };
    unsigned live_pages = 0; /* bit i: page i holds a live cell */
    for (unsigned i = 1; i < ECB_CELLS_PER_BLOCK; i++) {
        const ecb_cell_t *c = (const ecb_cell_t *)(p + (size_t)i * ECB_CELL_SIZE);
        if (atomic_load_explicit(&c->state, memory_order_acquire) != 0)
            live_pages |= 1u << (i / CELLS_PER_PAGE);
    }
    if (!live_pages)
        return; /* all dead: its last free is giving it back whole */
    live_pages |= 1u | 1u << PAGES; /* the header's page stays; a sentinel ends the last run */
    size_t run_start = 0;
    for (unsigned page = 1; page <= PAGES; page++) {
        bool dead = !(live_pages >> page & 1);
        if (dead && !run_start)
            run_start = (size_t)page * 4096;
        if (!dead && run_start) {
            (void)madvise(p + run_start, (size_t)page * 4096 - run_start, MADV_DONTNEED);
            a->stats.pages_swept += page - run_start / 4096;
            run_start = 0;
        }
    }
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

static ecb_cell_t *take_from(ecb_arena_t *a, ecb_cursor_t *cur, bool locked)
{
    if (cur->next == 0 || cur->next >= ECB_CELLS_PER_BLOCK) {
        if (!locked)
            pthread_mutex_lock(&a->lock);
        /* Not the shared cursor's blocks: another thread may still be filling in the cell it
         * took last. A thread's own cursor moves on only after its last cell was made live. */
        if (cur->next >= ECB_CELLS_PER_BLOCK && cur != &a->shared)
            block_filled_locked(a, cur->block);
        bool ok = block_take_locked(a, &cur->block);
        if (!locked)
            pthread_mutex_unlock(&a->lock);
        if (!ok)
            return NULL;
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

/* Every cell of the block has been freed: give its memory back, and renew its chunk when that
 * was the chunk's last block. No cell of the block can be handed out again before the chunk is
 * renewed (block_take_locked), so the madvise needs no lock. */
static void block_release(ecb_arena_t *a, uint64_t block)
{
    char *p = block_addr(a, block);
    (void)madvise(p, ECB_BLOCK_SIZE, MADV_DONTNEED); /* zeros: dead cells, a fresh header */
    uint64_t chunk = block / ECB_BLOCKS_PER_CHUNK;
    pthread_mutex_lock(&a->lock);
    a->stats.blocks_released++;
    chunk_state_t *cs = &a->chunks[chunk];
    cs->released |= 1u << (block % ECB_BLOCKS_PER_CHUNK);
    if (cs->released == UINT32_MAX) {
        /* The page table of these 2 MiB goes with the old mapping; the new one reads as zeros
         * at once, so a stale lookup racing with this never faults. */
        void *at = block_addr(a, chunk * ECB_BLOCKS_PER_CHUNK);
        if (mmap(at, ECB_CHUNK_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
            static log_limiter_t lim = LOG_LIMITER_INIT;
            log_limited(&lim, LOG_WARN, "ECB arena: cannot renew a 2 MiB chunk (%s); its page "
                        "table stays until the next try", strerror(errno));
        } else {
            a->stats.chunks_renewed++;
        }
        cs->taken = cs->released = 0; /* usable again on the next pass either way: all dead */
    }
    pthread_mutex_unlock(&a->lock);
}

void ecb_cell_free(ecb_arena_t *a, ecb_cell_t *cell)
{
    cell->owner = NULL;
    atomic_store_explicit(&cell->state, 0, memory_order_release);
    uintptr_t off = (uintptr_t)cell - a->view.base;
    uint64_t block = off / ECB_BLOCK_SIZE;
    block_header_t *h = (block_header_t *)block_addr(a, block);
    if (atomic_fetch_add_explicit(&h->freed, 1, memory_order_acq_rel) + 1 == ECB_CELLS_PER_BLOCK - 1)
        block_release(a, block);
}
