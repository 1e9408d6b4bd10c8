/* ECB cells: where every request's EXTENSION_CONTROL_BLOCK lives, so that a ConnID — the ECB's
 * own address (ISAPI-NOTES §7.2) — can be checked from the address alone, also long after its
 * request has ended, without reading freed memory and without naming another request; and so
 * that an ended ECB stays callable: a call through its function pointers fails cleanly.
 *
 * An arena is one big virtual range, reserved PROT_NONE at start-up and committed as it is
 * used, cut into 256-byte cells. Cells are handed out in address order only (a bump pointer
 * that never moves back), so a cell's address is not handed out again until the whole range
 * has been used once (16 TiB: ~68 billion requests). A freed cell holds a tombstone: a dead ECB
 * (ConnID = its own address, strings "", sizes 0, the server's four callbacks, which refuse
 * it), the same in every cell but the ConnID.
 *
 *   block (64 KiB, 256 cells): cell 0 is the block's header (a count of freed cells; its
 *       state word is always 0), the others are handed out by one cursor at a time. When all
 *       255 have been freed the block's memory is given back (MADV_DONTNEED; under
 *       userfaultfd, where the kernel can, its pages are moved onto the next fresh block
 *       instead, which is then handed out without a fill: see the modes). A block still
 *       holding live cells some 4,000 requests after it was filled gives back the pages that
 *       hold none.
 *   chunk (2 MiB, 32 blocks): when all its blocks have been given back, it is replaced by a
 *       fresh mapping, which frees its page table without ever leaving a hole that a
 *       concurrent stale read could fault on. After the range wraps, only such fresh chunks
 *       are used again: a chunk with a live cell (a session pending for the whole cycle) is
 *       skipped.
 *
 * What given-back memory reads as depends on the arena's mode (ecb_arena_mode):
 *   ECB_MODE_USERFAULTFD: tombstones, always. The range is registered with a userfaultfd
 *       (src/isapi/ecbfault.h); a read of a missing page is answered with a page of tombstones built
 *       for its address (headers zero). Fresh blocks are filled (zeros, one ioctl) before
 *       they are handed out, so requests never wait for the handler; from Linux 6.8 a fresh
 *       block is filled instead with a given-back block's pages (UFFDIO_MOVE: tombstones, the
 *       header reset), so no page is freed, allocated or zeroed on the way. Chunks are renewed
 *       by moving a registered spare over them (mremap).
 *   ECB_MODE_KEEP (userfaultfd not available): zeros, but only after a delay. A block whose
 *       cells are all dead, and the dead pages of a block that still holds live cells, are
 *       kept (as tombstones) until keep_ms have passed or more than keep_bytes are kept
 *       (oldest first), whichever comes first; then given back as above (chunks renewed with
 *       mmap MAP_FIXED).
 *
 * Validation (ecb_cell_lookup) is arithmetic: in the committed part of the range, cell-aligned,
 * not a header. The cell's state word then says whether it is live; what the state means
 * beyond "0 is dead" is the owner's (src/isapi/isapi.c). The callbacks get only a ConnID, so the
 * server uses one process-wide arena (src/isapi/connid.c); the type is an object so tests can make
 * small ones. Locking: a mutex per arena for block hand-out, the chunk table, commits and the
 * kept blocks (once per 255 cells); a cell is taken through a cursor owned by one thread at a
 * time (an event loop's) and freed by any thread with a copy of the tombstone and one atomic
 * add. The fault handler takes no lock. */
#ifndef ISAPID_ECBCELL_H
#define ISAPID_ECBCELL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <windows.h>
#include <httpext.h>

#define ECB_CELL_SIZE 256u
#define ECB_BLOCK_SIZE (64u * 1024u)
#define ECB_CHUNK_SIZE (2u * 1024u * 1024u)
#define ECB_CELLS_PER_BLOCK (ECB_BLOCK_SIZE / ECB_CELL_SIZE)  /* cell 0 is the header */
#define ECB_BLOCKS_PER_CHUNK (ECB_CHUNK_SIZE / ECB_BLOCK_SIZE)

typedef struct ecb_cell {
    EXTENSION_CONTROL_BLOCK ecb; /* first: the cell's address is the ECB's, the ConnID */
    _Atomic uint64_t state;      /* 0: dead (never handed out, freed, or given back) */
    void *owner;                 /* the request while live */
    unsigned char spare[ECB_CELL_SIZE - sizeof(EXTENSION_CONTROL_BLOCK) - sizeof(uint64_t) -
                        sizeof(void *)];
} ecb_cell_t;

_Static_assert(sizeof(ecb_cell_t) == ECB_CELL_SIZE, "an ECB cell is 256 bytes");

typedef struct ecb_arena ecb_arena_t;

/* The callbacks a tombstone points to: the server's own (src/isapi/isapi.c), which refuse a dead
 * cell with FALSE + ERROR_INVALID_PARAMETER. */
typedef struct ecb_callbacks {
    __typeof__(((EXTENSION_CONTROL_BLOCK *)0)->GetServerVariable) GetServerVariable;
    __typeof__(((EXTENSION_CONTROL_BLOCK *)0)->WriteClient) WriteClient;
    __typeof__(((EXTENSION_CONTROL_BLOCK *)0)->ReadClient) ReadClient;
    __typeof__(((EXTENSION_CONTROL_BLOCK *)0)->ServerSupportFunction) ServerSupportFunction;
} ecb_callbacks_t;

typedef enum { ECB_MODE_USERFAULTFD, ECB_MODE_KEEP } ecb_mode_t;

#define ECB_KEEP_MS_DEFAULT (60u * 1000u)                /* a minute */
#define ECB_KEEP_BYTES_DEFAULT ((size_t)64 << 20)      /* 1,024 blocks: ~260,000 requests */

typedef struct ecb_arena_params {
    size_t max_bytes, min_bytes; /* the range: the largest of at most max that can be had */
    const ecb_callbacks_t *callbacks; /* the tombstone's; NULL: NULL pointers (tests) */
    bool keep;                        /* ECB_MODE_KEEP even where userfaultfd works (tests) */
    bool no_move;                     /* no UFFDIO_MOVE even where the kernel has it (tests) */
    uint64_t keep_ms;                 /* ECB_MODE_KEEP: 0 is ECB_KEEP_MS_DEFAULT */
    size_t keep_bytes;                /* ECB_MODE_KEEP: 0 is ECB_KEEP_BYTES_DEFAULT */
    uint64_t (*clock_ms)(void);       /* a monotonic clock; NULL is CLOCK_MONOTONIC (tests) */
} ecb_arena_params_t;

/* Where one thread takes cells from: a block and the next slot in it (0: take a new block).
 * Zero-initialised is ready. Owned by one thread at a time. */
typedef struct ecb_cursor {
    uint64_t block;
    unsigned next;
} ecb_cursor_t;

typedef struct ecb_arena_stats {
    size_t size;               /* bytes of the range */
    size_t committed;          /* bytes made accessible so far */
    uint64_t blocks_taken;
    uint64_t blocks_released;  /* given back: MADV_DONTNEED, or moved */
    uint64_t blocks_moved;     /* of those, moved whole onto a fresh block (UFFDIO_MOVE) */
    uint64_t chunks_renewed;   /* replaced by a fresh mapping */
    uint64_t pages_swept;      /* given back from blocks still holding a live cell */
    uint64_t wraps;            /* times hand-out went back to the start of the range */
    uint64_t kept_bytes;       /* ECB_MODE_KEEP: dead memory kept, not yet given back */
    uint64_t faults;           /* ECB_MODE_USERFAULTFD: pages the handler answered */
    uint64_t fault_errors;     /* ECB_MODE_USERFAULTFD: failed answers (retried) or populates */
    bool moves;                /* ECB_MODE_USERFAULTFD: released blocks' pages are moved */
} ecb_arena_stats_t;

/* Reserve the largest range of at most max_bytes and at least min_bytes (halving on failure:
 * sanitizer runtimes restrict where big mappings can go); both are rounded to chunks. Then the
 * mode: userfaultfd unless p->keep or it cannot be had. NULL (errno set) when not even
 * min_bytes can be reserved. */
ecb_arena_t *ecb_arena_create(const ecb_arena_params_t *p);
/* The mode, and (ECB_MODE_KEEP) why userfaultfd is not used. */
ecb_mode_t ecb_arena_mode(const ecb_arena_t *a, const char **why);
/* Unmaps the range: only when no cell address can be used any more (tests). */
void ecb_arena_destroy(ecb_arena_t *a);
void ecb_arena_stats(ecb_arena_t *a, ecb_arena_stats_t *out);

/* A dead cell (state 0) for the caller to fill and make live. NULL when no block can be
 * committed, or every chunk holds a live cell. */
ecb_cell_t *ecb_cell_take(ecb_arena_t *a, ecb_cursor_t *cur);
/* The same from a cursor of the arena's own, under its lock: for threads without one. */
ecb_cell_t *ecb_cell_take_shared(ecb_arena_t *a);
/* Dead from now on (state 0, owner NULL), the ECB a tombstone. Any thread. */
void ecb_cell_free(ecb_arena_t *a, ecb_cell_t *cell);

/* The cell at addr, or NULL when addr cannot be a cell of this arena. Never faults and reads
 * nothing: the caller reads the state. */
static inline ecb_cell_t *ecb_cell_lookup(const ecb_arena_t *a, const void *addr);

/* ---- The state word of a live cell ----
 * LIVE while the owner exists. CLOSED: calls from outside the owner's own callbacks are refused
 * from now on (the session is over). ENDING: the owner's end is due; it runs when the last call
 * in flight leaves. The count of calls in flight is above bit 8. A call holds the owner alive
 * while it runs: the end never runs under it.
 *   caller:  ecb_call_enter ... ecb_call_leave (true: it was the last of an ending cell → run
 *            the end)
 *   owner:   ecb_cell_open, ecb_cell_close when the session ends, ecb_cell_end_due when
 *            nothing else holds the owner (true: no call in flight → run the end now)
 * Exactly one of ecb_cell_end_due and the last ecb_call_leave returns true. */
#define ECB_STATE_LIVE 1u
#define ECB_STATE_CLOSED 2u
#define ECB_STATE_ENDING 4u
#define ECB_STATE_CALL ((uint64_t)1 << 8)

static inline void ecb_cell_open(ecb_cell_t *c, void *owner)
{
    c->owner = owner;
    atomic_store_explicit(&c->state, ECB_STATE_LIVE, memory_order_release);
}

static inline void ecb_cell_close(ecb_cell_t *c)
{
    atomic_fetch_or_explicit(&c->state, ECB_STATE_CLOSED, memory_order_acq_rel);
}

static inline bool ecb_cell_end_due(ecb_cell_t *c)
{
    uint64_t s = atomic_fetch_or_explicit(&c->state, ECB_STATE_CLOSED | ECB_STATE_ENDING,
                                          memory_order_acq_rel);
    return s / ECB_STATE_CALL == 0;
}

/* The live, open cell named by addr with one more call in flight, or NULL (not a cell of a,
 * dead, or closed). Reads the state before any write, so a dead cell's page is never written. */
static inline ecb_cell_t *ecb_call_enter(const ecb_arena_t *a, const void *addr);

static inline bool ecb_call_leave(ecb_cell_t *c)
{
    uint64_t s = atomic_fetch_sub_explicit(&c->state, ECB_STATE_CALL, memory_order_acq_rel);
    return (s & ECB_STATE_ENDING) && s / ECB_STATE_CALL == 1;
}

/* ---- inline part (the lookup is on the path of every ISAPI callback) ---- */
struct ecb_arena_view {
    uintptr_t base;
    _Atomic size_t committed; /* grows while the first pass over the range commits it */
};

static inline ecb_cell_t *ecb_cell_lookup(const ecb_arena_t *a, const void *addr)
{
    const struct ecb_arena_view *v = (const struct ecb_arena_view *)a;
    uintptr_t off = (uintptr_t)addr - v->base; /* below the base wraps to a huge offset */
    if (off >= atomic_load_explicit(&v->committed, memory_order_acquire) ||
        off % ECB_CELL_SIZE != 0 || off % ECB_BLOCK_SIZE == 0)
        return NULL;
    return (ecb_cell_t *)addr;
}

static inline ecb_cell_t *ecb_call_enter(const ecb_arena_t *a, const void *addr)
{
    ecb_cell_t *c = ecb_cell_lookup(a, addr);
    if (!c)
        return NULL;
    uint64_t s = atomic_load_explicit(&c->state, memory_order_acquire);
    do {
        if ((s & (ECB_STATE_LIVE | ECB_STATE_CLOSED | ECB_STATE_ENDING)) != ECB_STATE_LIVE)
            return NULL;
    } while (!atomic_compare_exchange_weak_explicit(&c->state, &s, s + ECB_STATE_CALL,
                                                    memory_order_acquire, memory_order_acquire));
    return c;
}

#endif
