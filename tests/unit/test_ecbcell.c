/* ECB cells (src/ecbcell.h): hand-out order, validation from the address alone, the call count
 * of the state word, giving blocks back, renewing chunks, and the wrap that skips live chunks. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "ecbcell.h"

#define CELLS_PER_CHUNK ((ECB_CELLS_PER_BLOCK - 1) * ECB_BLOCKS_PER_CHUNK)

static uintptr_t first_cell_of_chunk(uintptr_t base, unsigned chunk)
{
    return base + (uintptr_t)chunk * ECB_CHUNK_SIZE + ECB_CELL_SIZE;
}

/* Pages of [p, p + len) resident in memory. */
static unsigned resident_pages(void *p, size_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t n = (len + (size_t)page - 1) / (size_t)page;
    unsigned char vec[ECB_CHUNK_SIZE / 4096];
    if (n > sizeof vec || mincore(p, len, vec) < 0)
        return ~0u;
    unsigned count = 0;
    for (size_t i = 0; i < n; i++)
        count += vec[i] & 1;
    return count;
}

static void test_order_and_lookup(void)
{
    ecb_arena_t *a = ecb_arena_create(4 * ECB_CHUNK_SIZE, ECB_CHUNK_SIZE);
    CHECK(a != NULL);
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    CHECK_INT(st.size, 4 * ECB_CHUNK_SIZE);
    CHECK_INT(st.committed, 0);

    ecb_cursor_t cur = {0};
    ecb_cell_t *first = ecb_cell_take(a, &cur);
    CHECK(first != NULL);
    uintptr_t base = (uintptr_t)first - ECB_CELL_SIZE; /* cell 0 of block 0 is its header */
    CHECK_INT(base % ECB_BLOCK_SIZE, 0);
    ecb_arena_stats(a, &st);
    CHECK_INT(st.committed, ECB_CHUNK_SIZE); /* one chunk at a time */

    /* Address order, headers skipped, blocks in order across the chunk. */
    uintptr_t prev = (uintptr_t)first;
    unsigned out_of_order = 0, headers = 0;
    for (unsigned i = 1; i < CELLS_PER_CHUNK; i++) {
        uintptr_t c = (uintptr_t)ecb_cell_take(a, &cur);
        uintptr_t want = (c - base) % ECB_BLOCK_SIZE == ECB_CELL_SIZE && prev % ECB_BLOCK_SIZE ==
                         ECB_BLOCK_SIZE - ECB_CELL_SIZE ? prev + 2 * ECB_CELL_SIZE : prev + ECB_CELL_SIZE;
        out_of_order += c != want;
        headers += (c - base) % ECB_BLOCK_SIZE == 0;
        prev = c;
    }
    CHECK_INT(out_of_order, 0);
    CHECK_INT(headers, 0);
    CHECK_INT(prev, base + ECB_CHUNK_SIZE - ECB_CELL_SIZE); /* the chunk's last cell */
    /* The next comes from the next chunk, committed on the way. */
    CHECK_INT((uintptr_t)ecb_cell_take(a, &cur), first_cell_of_chunk(base, 1));
    ecb_arena_stats(a, &st);
    CHECK_INT(st.committed, 2 * ECB_CHUNK_SIZE);

    /* Validation from the address alone. */
    int on_stack;
    CHECK(ecb_cell_lookup(a, first) == first);
    CHECK(ecb_cell_lookup(a, NULL) == NULL);
    CHECK(ecb_cell_lookup(a, (void *)base) == NULL);                        /* a header */
    CHECK(ecb_cell_lookup(a, (void *)(base + ECB_BLOCK_SIZE)) == NULL);     /* a header */
    CHECK(ecb_cell_lookup(a, (char *)first + 1) == NULL);                   /* misaligned */
    CHECK(ecb_cell_lookup(a, (char *)first + ECB_CELL_SIZE / 2) == NULL);   /* misaligned */
    CHECK(ecb_cell_lookup(a, (void *)(base - ECB_CELL_SIZE)) == NULL);      /* below */
    CHECK(ecb_cell_lookup(a, (void *)(base + 2 * ECB_CHUNK_SIZE + ECB_CELL_SIZE)) == NULL); /* not committed */
    CHECK(ecb_cell_lookup(a, (void *)(base + 4 * ECB_CHUNK_SIZE + ECB_CELL_SIZE)) == NULL); /* past the end */
    CHECK(ecb_cell_lookup(a, &on_stack) == NULL);
    CHECK(ecb_call_enter(a, (void *)base) == NULL);
    CHECK(ecb_call_enter(a, &on_stack) == NULL);
    ecb_arena_destroy(a);
}

static void test_state(void)
{
    ecb_arena_t *a = ecb_arena_create(ECB_CHUNK_SIZE, ECB_CHUNK_SIZE);
    ecb_cursor_t cur = {0};
    ecb_cell_t *c = ecb_cell_take(a, &cur);
    int owner;
    CHECK(ecb_call_enter(a, c) == NULL); /* handed out, not yet live */
    ecb_cell_open(c, &owner);
    CHECK(ecb_call_enter(a, c) == c);
    CHECK(c->owner == &owner);
    CHECK(ecb_call_enter(a, c) == c);
    CHECK(!ecb_call_leave(c)); /* not ending: nobody runs the end */
    ecb_cell_close(c);
    CHECK(ecb_call_enter(a, c) == NULL); /* the session is over: no new calls */
    CHECK(!ecb_cell_end_due(c));         /* one call still in flight: it will run the end */
    CHECK(ecb_call_leave(c));            /* the last one out */
    ecb_cell_t *d = ecb_cell_take(a, &cur);
    ecb_cell_open(d, &owner);
    CHECK(ecb_cell_end_due(d)); /* no call in flight: the owner runs the end itself */
    CHECK(ecb_call_enter(a, d) == NULL);
    ecb_cell_free(a, c);
    ecb_cell_free(a, d);
    CHECK(ecb_call_enter(a, c) == NULL);
    CHECK(ecb_call_enter(a, d) == NULL);
    CHECK(c->owner == NULL);
    ecb_arena_destroy(a);
}

/* A block's memory goes when its last cell is freed; a chunk is renewed with its last block. */
static void test_release(void)
{
    ecb_arena_t *a = ecb_arena_create(2 * ECB_CHUNK_SIZE, ECB_CHUNK_SIZE);
    ecb_cursor_t cur = {0};
    static ecb_cell_t *cells[CELLS_PER_CHUNK];
    for (unsigned i = 0; i < CELLS_PER_CHUNK; i++) {
        cells[i] = ecb_cell_take(a, &cur);
        memset(&cells[i]->ecb, 0xA5, sizeof cells[i]->ecb);
        ecb_cell_open(cells[i], cells + i);
    }
    char *block0 = (char *)cells[0] - ECB_CELL_SIZE;
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), ECB_BLOCK_SIZE / 4096);
    /* All but one cell of block 0: nothing is given back. */
    for (unsigned i = 0; i < ECB_CELLS_PER_BLOCK - 2; i++)
        ecb_cell_free(a, cells[i]);
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    CHECK_INT(st.blocks_released, 0);
    CHECK(((unsigned char *)&cells[0]->ecb)[8] == 0xA5); /* still there: the ECB bytes stay */
    ecb_cell_free(a, cells[ECB_CELLS_PER_BLOCK - 2]);
    ecb_arena_stats(a, &st);
    CHECK_INT(st.blocks_released, 1);
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), 0);
    CHECK(((unsigned char *)&cells[0]->ecb)[8] == 0); /* reads as zeros: dead */
    CHECK(ecb_call_enter(a, cells[0]) == NULL);
    CHECK(ecb_call_enter(a, cells[ECB_CELLS_PER_BLOCK - 1]) == cells[ECB_CELLS_PER_BLOCK - 1]);
    ecb_call_leave(cells[ECB_CELLS_PER_BLOCK - 1]);
    /* The rest of the chunk: every block given back, the chunk renewed. */
    for (unsigned i = ECB_CELLS_PER_BLOCK - 1; i < CELLS_PER_CHUNK; i++)
        ecb_cell_free(a, cells[i]);
    ecb_arena_stats(a, &st);
    CHECK_INT(st.blocks_released, ECB_BLOCKS_PER_CHUNK);
    CHECK_INT(st.chunks_renewed, 1);
    CHECK_INT(resident_pages(block0, ECB_CHUNK_SIZE), 0);
    /* Still mapped and readable: a stale lookup after the renewal sees a dead cell. */
    CHECK(ecb_cell_lookup(a, cells[5]) == cells[5]);
    CHECK(ecb_call_enter(a, cells[5]) == NULL);
    CHECK(atomic_load(&cells[CELLS_PER_CHUNK - 1]->state) == 0);
    ecb_arena_destroy(a);
}

/* After the whole range, hand-out starts again at the beginning and skips a chunk that still
 * holds a live cell; with every chunk held, nothing is handed out. */
static void test_wrap(void)
{
    enum { CHUNKS = 3 };
    ecb_arena_t *a = ecb_arena_create(CHUNKS * ECB_CHUNK_SIZE, ECB_CHUNK_SIZE);
    ecb_cursor_t cur = {0};
    ecb_cell_t *pinned = NULL;
    uintptr_t base = 0, prev = 0;
    unsigned repeats = 0;
    for (unsigned i = 0; i < CHUNKS * CELLS_PER_CHUNK; i++) {
        ecb_cell_t *c = ecb_cell_take(a, &cur);
        if (i == 0)
            base = (uintptr_t)c - ECB_CELL_SIZE;
        repeats += (uintptr_t)c <= prev; /* the first pass never goes back */
        prev = (uintptr_t)c;
        ecb_cell_open(c, NULL);
        if (i == CELLS_PER_CHUNK + 7)
            pinned = c; /* a session that never ends, in chunk 1 */
        else
            ecb_cell_free(a, c);
    }
    CHECK_INT(repeats, 0);
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    CHECK_INT(st.wraps, 1);
    CHECK_INT(st.chunks_renewed, CHUNKS - 1);
    /* Second pass: chunk 0, then chunk 2 (chunk 1 is held), then chunk 0 again. */
    ecb_cell_t *c = ecb_cell_take(a, &cur);
    CHECK_INT((uintptr_t)c, first_cell_of_chunk(base, 0));
    CHECK_INT(atomic_load(&c->state), 0);
    ecb_cell_free(a, c);
    for (unsigned i = 1; i < CELLS_PER_CHUNK; i++)
        ecb_cell_free(a, ecb_cell_take(a, &cur));
    c = ecb_cell_take(a, &cur);
    CHECK_INT((uintptr_t)c, first_cell_of_chunk(base, 2));
    CHECK(ecb_call_enter(a, pinned) == pinned); /* the held session is untouched */
    ecb_call_leave(pinned);
    /* Hold chunks 2 and 0 as well (one live cell each): every chunk is held, none handed out. */
    ecb_cell_open(c, NULL);
    for (unsigned i = 1; i < CELLS_PER_CHUNK; i++)
        ecb_cell_free(a, ecb_cell_take(a, &cur));
    ecb_cell_t *held0 = ecb_cell_take(a, &cur);
    CHECK_INT((uintptr_t)held0, first_cell_of_chunk(base, 0));
    for (unsigned i = 1; i < CELLS_PER_CHUNK; i++)
        ecb_cell_free(a, ecb_cell_take(a, &cur));
    CHECK(ecb_cell_take(a, &cur) == NULL);
    /* The shared cursor draws from the same range. */
    CHECK(ecb_cell_take_shared(a) == NULL);
    ecb_cell_free(a, pinned); /* chunk 1 becomes free: hand-out resumes there */
    ecb_cell_t *s = ecb_cell_take_shared(a);
    CHECK_INT((uintptr_t)s, first_cell_of_chunk(base, 1));
    ecb_arena_destroy(a);
}

/* A block still holding one live cell 16 fills later keeps only the header's page and that
 * cell's page. */
static void test_sweep(void)
{
    ecb_arena_t *a = ecb_arena_create(2 * ECB_CHUNK_SIZE, ECB_CHUNK_SIZE);
    ecb_cursor_t cur = {0};
    ecb_cell_t *pinned = NULL, *first = NULL;
    for (unsigned i = 0; i < ECB_CELLS_PER_BLOCK - 1; i++) {
        ecb_cell_t *c = ecb_cell_take(a, &cur);
        memset(&c->ecb, 0x5A, sizeof c->ecb);
        ecb_cell_open(c, NULL);
        if (i == 0)
            first = c;
        if (i == 100) /* page 6 (cell 101 of the block) */
            pinned = c;
        else
            ecb_cell_free(a, c);
    }
    char *block0 = (char *)first - ECB_CELL_SIZE;
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), ECB_BLOCK_SIZE / 4096);
    /* 16 more blocks, all of whose requests end. */
    for (unsigned i = 0; i < 16 * (ECB_CELLS_PER_BLOCK - 1); i++) {
        ecb_cell_t *c = ecb_cell_take(a, &cur);
        ecb_cell_open(c, NULL);
        ecb_cell_free(a, c);
    }
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    CHECK_INT(st.pages_swept, 0);            /* block 0 is 16 fills back only at the next fill */
    ecb_cell_free(a, ecb_cell_take(a, &cur)); /* the 17th block */
    ecb_arena_stats(a, &st);
    CHECK_INT(st.pages_swept, ECB_BLOCK_SIZE / 4096 - 2);
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), 2);
    CHECK(ecb_call_enter(a, pinned) == pinned); /* untouched */
    CHECK(((unsigned char *)&pinned->ecb)[4] == 0x5A);
    ecb_call_leave(pinned);
    ecb_cell_free(a, pinned);
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), 0);
    ecb_arena_destroy(a);
}

static void test_reserve_fallback(void)
{
    /* More than any address space: halves down to what can be had, at least the minimum. */
    ecb_arena_t *a = ecb_arena_create((size_t)1 << 62, 4 * ECB_CHUNK_SIZE);
    CHECK(a != NULL);
    if (a) {
        ecb_arena_stats_t st;
        ecb_arena_stats(a, &st);
        CHECK(st.size >= 4 * ECB_CHUNK_SIZE && st.size < ((size_t)1 << 62));
        ecb_arena_destroy(a);
    }
}

int main(void)
{
    test_order_and_lookup();
    test_state();
    test_release();
    test_wrap();
    test_sweep();
    test_reserve_fallback();
    return check_report("test_ecbcell");
}
