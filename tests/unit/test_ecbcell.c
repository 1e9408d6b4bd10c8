/* ECB cells (src/isapi/ecbcell.h): hand-out order, validation from the address alone, the call count
 * of the state word, giving blocks back, renewing chunks, the wrap that skips live chunks, and
 * what a dead cell reads as: a tombstone when freed, and after its memory was given back
 * (userfaultfd), or kept until its time or the budget is up (the fallback). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "ecbcell.h"

#define CELLS_PER_CHUNK ((ECB_CELLS_PER_BLOCK - 1) * ECB_BLOCKS_PER_CHUNK)
#define KEEP_MS 5000u

static BOOL WINAPI fake_gsv(HCONN h, LPSTR n, LPVOID b, LPDWORD s) { return (void)h, (void)n, (void)b, (void)s, FALSE; }
static BOOL WINAPI fake_wc(HCONN h, LPVOID b, LPDWORD n, DWORD f) { return (void)h, (void)b, (void)n, (void)f, FALSE; }
static BOOL WINAPI fake_rc(HCONN h, LPVOID b, LPDWORD n) { return (void)h, (void)b, (void)n, FALSE; }
static BOOL WINAPI fake_ssf(HCONN h, DWORD c, LPVOID b, LPDWORD s, LPDWORD t) { return (void)h, (void)c, (void)b, (void)s, (void)t, FALSE; }
static const ecb_callbacks_t fake_callbacks = {fake_gsv, fake_wc, fake_rc, fake_ssf};

static uint64_t fake_now_ms = 1000000;
static uint64_t fake_clock(void) { return fake_now_ms; }

/* Userfaultfd arenas without UFFDIO_MOVE: tests run again so, for the path of older kernels. */
static bool arenas_without_moves;

/* An arena of `bytes` in the given mode; NULL (test skipped) when userfaultfd is wanted but
 * this machine has none. */
static ecb_arena_t *arena_new(size_t bytes, ecb_mode_t mode, size_t keep_bytes)
{
    ecb_arena_params_t p = {.max_bytes = bytes, .min_bytes = ECB_CHUNK_SIZE,
                            .callbacks = &fake_callbacks, .keep = mode == ECB_MODE_KEEP,
                            .no_move = arenas_without_moves,
                            .keep_ms = KEEP_MS, .keep_bytes = keep_bytes, .clock_ms = fake_clock};
    ecb_arena_t *a = ecb_arena_create(&p);
    CHECK(a != NULL);
    const char *why = NULL;
    if (a && ecb_arena_mode(a, &why) != mode) {
        fprintf(stderr, "test_ecbcell: userfaultfd mode not available here (%s): its tests are "
                "left out\n", why);
        ecb_arena_destroy(a);
        return NULL;
    }
    return a;
}

static uint64_t faults(ecb_arena_t *a)
{
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    return st.faults;
}

/* The dead ECB a freed or given-back cell reads as. Returns the number of fields wrong. */
static unsigned tombstone_errors(const ecb_cell_t *c)
{
    const EXTENSION_CONTROL_BLOCK *e = &c->ecb;
    unsigned bad = 0;
    bad += e->cbSize != sizeof *e;
    bad += e->dwVersion != MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    bad += e->ConnID != (HCONN)c;
    bad += !e->lpszMethod || e->lpszMethod[0] || !e->lpszQueryString || e->lpszQueryString[0];
    bad += !e->lpszPathInfo || e->lpszPathInfo[0] || !e->lpszPathTranslated || e->lpszPathTranslated[0];
    bad += !e->lpszContentType || e->lpszContentType[0] || !e->lpbData || e->lpbData[0];
    bad += e->cbTotalBytes != 0 || e->cbAvailable != 0;
    for (unsigned i = 0; i < HSE_LOG_BUFFER_LEN; i++)
        bad += e->lpszLogData[i] != 0;
    bad += e->GetServerVariable != fake_gsv || e->WriteClient != fake_wc;
    bad += e->ReadClient != fake_rc || e->ServerSupportFunction != fake_ssf;
    bad += atomic_load(&c->state) != 0 || c->owner != NULL;
    return bad;
}

/* A live ECB's bytes, all different from a tombstone's. */
static void scribble(ecb_cell_t *c)
{
    memset(&c->ecb, 0xA5, sizeof c->ecb);
}

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
    ecb_arena_t *a = arena_new(4 * ECB_CHUNK_SIZE, ECB_MODE_KEEP, 0);
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
    ecb_arena_t *a = arena_new(ECB_CHUNK_SIZE, ECB_MODE_KEEP, 0);
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

static uint64_t released(ecb_arena_t *a)
{
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    return st.blocks_released;
}

/* A new block is taken (which is when kept memory whose time is up is given back). */
static void take_a_block(ecb_arena_t *a)
{
    ecb_cursor_t other = {0};
    CHECK(ecb_cell_take(a, &other) != NULL);
}

/* A freed cell reads as a tombstone. A block's memory goes when its last cell is freed
 * (userfaultfd: it reads as tombstones after, each page through the handler once) or when it
 * has been kept long enough (fallback); a chunk is renewed with its last block. */
static void test_release(ecb_mode_t mode)
{
    ecb_arena_t *a = arena_new(2 * ECB_CHUNK_SIZE, mode, 0);
    if (!a)
        return;
    ecb_cursor_t cur = {0};
    static ecb_cell_t *cells[CELLS_PER_CHUNK];
    for (unsigned i = 0; i < CELLS_PER_CHUNK; i++) {
        cells[i] = ecb_cell_take(a, &cur);
        scribble(cells[i]);
        ecb_cell_open(cells[i], cells + i);
    }
    char *block0 = (char *)cells[0] - ECB_CELL_SIZE;
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), ECB_BLOCK_SIZE / 4096);
    /* All but one cell of block 0: nothing is given back; the freed ones are tombstones. */
    for (unsigned i = 0; i < ECB_CELLS_PER_BLOCK - 2; i++)
        ecb_cell_free(a, cells[i]);
    CHECK_INT(released(a), 0);
    unsigned bad = 0;
    for (unsigned i = 0; i < ECB_CELLS_PER_BLOCK - 2; i++)
        bad += tombstone_errors(cells[i]);
    CHECK_INT(bad, 0);
    CHECK(ecb_call_enter(a, cells[0]) == NULL);
    ecb_cell_free(a, cells[ECB_CELLS_PER_BLOCK - 2]);
    if (mode == ECB_MODE_KEEP) {
        CHECK_INT(released(a), 0); /* kept */
        CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), ECB_BLOCK_SIZE / 4096);
        fake_now_ms += KEEP_MS - 1;
        take_a_block(a);
        CHECK_INT(released(a), 0); /* not yet */
        fake_now_ms += 1;
        take_a_block(a);
    }
    CHECK_INT(released(a), 1);
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), 0);
    uint64_t f0 = mode == ECB_MODE_USERFAULTFD ? faults(a) : 0;
    bad = 0;
    if (mode == ECB_MODE_USERFAULTFD) {
        for (unsigned i = 0; i < ECB_CELLS_PER_BLOCK - 1; i++)
            bad += tombstone_errors(cells[i]);
        CHECK_INT(bad, 0); /* given back, read back as tombstones */
        CHECK_INT(faults(a) - f0, ECB_BLOCK_SIZE / 4096); /* one answer per page */
        for (unsigned i = 0; i < ECB_CELL_SIZE; i++)
            bad += block0[i] != 0;
        CHECK_INT(bad, 0); /* the header reads as a fresh one */
    } else {
        CHECK(((unsigned char *)&cells[0]->ecb)[8] == 0); /* zeros: dead, no longer callable */
    }
    CHECK(ecb_call_enter(a, cells[0]) == NULL);
    CHECK(ecb_call_enter(a, cells[ECB_CELLS_PER_BLOCK - 1]) == cells[ECB_CELLS_PER_BLOCK - 1]);
    ecb_call_leave(cells[ECB_CELLS_PER_BLOCK - 1]);
    /* The rest of the chunk: every block given back, the chunk renewed. */
    for (unsigned i = ECB_CELLS_PER_BLOCK - 1; i < CELLS_PER_CHUNK; i++)
        ecb_cell_free(a, cells[i]);
    if (mode == ECB_MODE_KEEP) {
        CHECK_INT(released(a), 1);
        fake_now_ms += KEEP_MS;
        take_a_block(a);
    }
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    CHECK_INT(st.blocks_released, ECB_BLOCKS_PER_CHUNK);
    CHECK_INT(st.chunks_renewed, 1);
    CHECK_INT(st.kept_bytes, 0);
    CHECK_INT(resident_pages(block0, ECB_CHUNK_SIZE), 0);
    /* Still mapped and readable: a stale lookup after the renewal sees a dead cell, and under
     * userfaultfd a tombstone (the fresh mapping is registered too). */
    CHECK(ecb_cell_lookup(a, cells[5]) == cells[5]);
    CHECK(ecb_call_enter(a, cells[5]) == NULL);
    CHECK(atomic_load(&cells[CELLS_PER_CHUNK - 1]->state) == 0);
    if (mode == ECB_MODE_USERFAULTFD) {
        CHECK_INT(tombstone_errors(cells[5]), 0);
        CHECK_INT(tombstone_errors(cells[CELLS_PER_CHUNK - 1]), 0);
        ecb_arena_stats(a, &st);
        CHECK_INT(st.fault_errors, 0);
    }
    ecb_arena_destroy(a);
}

/* Fallback: more than the budget kept gives back the oldest first, before its time. */
static void test_keep_budget(void)
{
    ecb_arena_t *a = arena_new(2 * ECB_CHUNK_SIZE, ECB_MODE_KEEP, 2 * ECB_BLOCK_SIZE);
    ecb_cursor_t cur = {0};
    static ecb_cell_t *cells[3 * (ECB_CELLS_PER_BLOCK - 1)];
    for (unsigned i = 0; i < 3 * (ECB_CELLS_PER_BLOCK - 1); i++) {
        cells[i] = ecb_cell_take(a, &cur);
        ecb_cell_open(cells[i], NULL);
    }
    for (unsigned i = 0; i < 2 * (ECB_CELLS_PER_BLOCK - 1); i++)
        ecb_cell_free(a, cells[i]);
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    CHECK_INT(st.blocks_released, 0);
    CHECK_INT(st.kept_bytes, 2 * ECB_BLOCK_SIZE);
    for (unsigned i = 2 * (ECB_CELLS_PER_BLOCK - 1); i < 3 * (ECB_CELLS_PER_BLOCK - 1); i++)
        ecb_cell_free(a, cells[i]);
    ecb_arena_stats(a, &st);
    CHECK_INT(st.blocks_released, 1);
    CHECK_INT(st.kept_bytes, 2 * ECB_BLOCK_SIZE);
    char *block0 = (char *)cells[0] - ECB_CELL_SIZE;
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), 0);                  /* the oldest went */
    CHECK_INT(resident_pages(block0 + ECB_BLOCK_SIZE, 2 * ECB_BLOCK_SIZE), 2 * ECB_BLOCK_SIZE / 4096);
    CHECK_INT(tombstone_errors(cells[ECB_CELLS_PER_BLOCK - 1]), 0);        /* block 1: kept */
    ecb_arena_destroy(a);
}

/* Userfaultfd: requests never wait for the handler. Fresh blocks, on the first pass and in
 * renewed chunks, are mapped before they are handed out; renewals keep the range one mapping. */
/* Mappings that overlap [lo, hi) (the arena's range). */
static unsigned mappings(uintptr_t lo, uintptr_t hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    unsigned n = 0;
    unsigned long start, end;
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx", &start, &end) == 2 && start < hi && end > lo)
            n++;
    if (f)
        fclose(f);
    return n;
}

static void test_fresh_blocks(void)
{
    enum { CHUNKS = 4 };
    ecb_arena_t *a = arena_new(CHUNKS * ECB_CHUNK_SIZE, ECB_MODE_USERFAULTFD, 0);
    if (!a)
        return;
    ecb_cursor_t cur = {0};
    ecb_cell_t *first = ecb_cell_take(a, &cur);
    scribble(first);
    ecb_cell_open(first, NULL);
    uintptr_t lo = (uintptr_t)first - ECB_CELL_SIZE, hi = lo + CHUNKS * ECB_CHUNK_SIZE;
    unsigned maps = mappings(lo, hi);
    CHECK_INT(maps, 2); /* committed, reserved */
    ecb_cell_free(a, first);
    /* Three chunks' worth of requests, each written whole and freed: three renewals. */
    for (unsigned i = 1; i < 3 * CELLS_PER_CHUNK; i++) {
        ecb_cell_t *c = ecb_cell_take(a, &cur);
        scribble(c);
        ecb_cell_open(c, NULL);
        ecb_cell_free(a, c);
    }
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    CHECK_INT(st.chunks_renewed, 3);
    CHECK_INT(st.faults, 0);
    CHECK_INT(st.fault_errors, 0);
    /* With moves one mapping fewer: the last release took its block from chunk 3 already,
     * which committed the rest of the range. */
    CHECK_INT(mappings(lo, hi), st.moves ? maps - 1 : maps);
    /* A stale read of a renewed chunk goes through the handler. */
    CHECK_INT(tombstone_errors(first), 0);
    CHECK_INT(faults(a), 1);
    /* A garbage ConnID into a committed page never handed out: a dead cell, through the handler;
     * the block is then handed out all the same (the populate skips the present page). */
    ecb_cell_t *next = ecb_cell_take(a, &cur); /* commits the last chunk */
    ecb_cell_open(next, NULL);
    ecb_cell_t *ahead = (ecb_cell_t *)((char *)next + 2 * ECB_BLOCK_SIZE);
    CHECK(ecb_call_enter(a, ahead) == NULL);
    CHECK_INT(faults(a), 2);
    for (unsigned i = 0; i < 3 * (ECB_CELLS_PER_BLOCK - 1); i++) {
        ecb_cell_t *c = ecb_cell_take(a, &cur);
        scribble(c);
        ecb_cell_open(c, NULL);
    }
    CHECK(ecb_call_enter(a, ahead) == ahead); /* live now */
    ecb_call_leave(ahead);
    CHECK_INT(faults(a), 2);
    ecb_arena_stats(a, &st);
    CHECK_INT(st.fault_errors, 0);
    ecb_arena_destroy(a);
}

/* After the whole range, hand-out starts again at the beginning and skips a chunk that still
 * holds a live cell; with every chunk held, nothing is handed out. */
static void test_wrap(void)
{
    enum { CHUNKS = 3 };
    ecb_arena_t *a = arena_new(CHUNKS * ECB_CHUNK_SIZE, ECB_MODE_USERFAULTFD, 0);
    if (!a)
        return;
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
    CHECK_INT(faults(a), 0); /* every block, of both passes, was mapped before use */
    ecb_arena_destroy(a);
}

/* A block still holding one live cell 16 fills later keeps only the header's page and that
 * cell's page (fallback: once the other pages have been kept long enough). */
static void test_sweep(ecb_mode_t mode)
{
    ecb_arena_t *a = arena_new(2 * ECB_CHUNK_SIZE, mode, 0);
    if (!a)
        return;
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
    if (mode == ECB_MODE_KEEP) {
        ecb_arena_stats(a, &st);
        CHECK_INT(st.pages_swept, 0);
        CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), ECB_BLOCK_SIZE / 4096);
        CHECK_INT(tombstone_errors(first), 0);
        fake_now_ms += KEEP_MS;
        take_a_block(a);
    }
    ecb_arena_stats(a, &st);
    CHECK_INT(st.pages_swept, ECB_BLOCK_SIZE / 4096 - 2);
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), 2);
    CHECK(ecb_call_enter(a, pinned) == pinned); /* untouched */
    CHECK(((unsigned char *)&pinned->ecb)[4] == 0x5A);
    ecb_call_leave(pinned);
    if (mode == ECB_MODE_USERFAULTFD) /* swept pages read as tombstones */
        CHECK_INT(tombstone_errors(first), 0);
    uint64_t moved_before = st.blocks_moved, faults_before = st.faults;
    ecb_cell_free(a, pinned);
    if (mode == ECB_MODE_KEEP) {
        fake_now_ms += KEEP_MS;
        take_a_block(a);
    }
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), 0);
    if (mode == ECB_MODE_USERFAULTFD) {
        /* With moves: page 0 moved, then the first swept page stopped the move; the rest of
         * the new block filled the old way. Its cells are handed out without a fault. */
        ecb_arena_stats(a, &st);
        CHECK_INT(st.blocks_moved, moved_before);
        for (unsigned i = 0; i < ECB_CELLS_PER_BLOCK - 1; i++)
            ecb_cell_free(a, ecb_cell_take(a, &cur));
        ecb_arena_stats(a, &st);
        CHECK_INT(st.faults, faults_before);
        CHECK_INT(st.fault_errors, 0);
    }
    ecb_arena_destroy(a);
}

/* Userfaultfd with UFFDIO_MOVE: a released block's pages become the next fresh block's, which
 * is handed out without a fill or a fault, its header reset (it is released again when its
 * own cells are all freed); the old block reads as tombstones. Where a stale read filled a
 * page of the next block first, the move gives way to the fill. */
static void test_moved_blocks(void)
{
    ecb_arena_t *a = arena_new(2 * ECB_CHUNK_SIZE, ECB_MODE_USERFAULTFD, 0);
    if (!a)
        return;
    ecb_arena_stats_t st;
    ecb_arena_stats(a, &st);
    if (!st.moves) {
        fprintf(stderr, "test_ecbcell: the kernel has no UFFDIO_MOVE: the test of moved blocks "
                "is left out\n");
        ecb_arena_destroy(a);
        return;
    }
    ecb_cursor_t cur = {0};
    static ecb_cell_t *cells[ECB_CELLS_PER_BLOCK - 1];
    for (unsigned i = 0; i < ECB_CELLS_PER_BLOCK - 1; i++) {
        cells[i] = ecb_cell_take(a, &cur);
        scribble(cells[i]);
        ecb_cell_open(cells[i], NULL);
        ecb_cell_free(a, cells[i]);
    }
    char *block0 = (char *)cells[0] - ECB_CELL_SIZE;
    ecb_arena_stats(a, &st);
    CHECK_INT(st.blocks_released, 1);
    CHECK_INT(st.blocks_moved, 1);
    CHECK_INT(resident_pages(block0, ECB_BLOCK_SIZE), 0);
    CHECK_INT(resident_pages(block0 + ECB_BLOCK_SIZE, ECB_BLOCK_SIZE), ECB_BLOCK_SIZE / 4096);
    /* The next block, in address order, from the moved pages: dead cells, no fault. */
    ecb_cell_t *c = ecb_cell_take(a, &cur);
    CHECK_INT((uintptr_t)c, (uintptr_t)block0 + ECB_BLOCK_SIZE + ECB_CELL_SIZE);
    CHECK_INT(atomic_load(&c->state), 0);
    ecb_cell_open(c, NULL);
    ecb_cell_free(a, c);
    for (unsigned i = 1; i < ECB_CELLS_PER_BLOCK - 1; i++)
        ecb_cell_free(a, ecb_cell_take(a, &cur));
    ecb_arena_stats(a, &st);
    CHECK_INT(st.faults, 0);
    CHECK_INT(st.blocks_released, 2); /* the header was reset: its last free released it */
    CHECK_INT(st.blocks_moved, 2);
    CHECK_INT(tombstone_errors(cells[7]), 0); /* the old address, through the handler */
    CHECK_INT(faults(a), 1);
    /* A stale read into the block after the next fresh one fills its page 0 first. */
    ecb_cell_t *ahead = (ecb_cell_t *)(block0 + 3 * ECB_BLOCK_SIZE + ECB_CELL_SIZE);
    CHECK(ecb_call_enter(a, ahead) == NULL);
    CHECK_INT(faults(a), 2);
    for (unsigned i = 0; i < 2 * (ECB_CELLS_PER_BLOCK - 1); i++)
        ecb_cell_free(a, ecb_cell_take(a, &cur));
    ecb_arena_stats(a, &st);
    CHECK_INT(st.blocks_released, 4);
    CHECK_INT(st.blocks_moved, 3); /* block 2's pages could not go onto block 3 */
    CHECK_INT(st.faults, 2);
    CHECK_INT(st.fault_errors, 0);
    CHECK_INT(resident_pages(block0 + 4 * ECB_BLOCK_SIZE, ECB_BLOCK_SIZE), ECB_BLOCK_SIZE / 4096);
    ecb_arena_destroy(a);
}

/* Where userfaultfd is refused (here: a seccomp filter, as in many containers), the arena
 * says so and keeps dead memory instead. In a child process, which the filter stays in. */
static void test_userfaultfd_refused(void)
{
#ifdef __NR_userfaultfd
    pid_t pid = fork();
    if (pid == 0) {
        struct sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_userfaultfd, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
            _exit(2);
        ecb_arena_params_t p = {.max_bytes = ECB_CHUNK_SIZE, .min_bytes = ECB_CHUNK_SIZE};
        ecb_arena_t *a = ecb_arena_create(&p);
        const char *why = NULL;
        int rc = !a ? 3 : ecb_arena_mode(a, &why) != ECB_MODE_KEEP ? 4
                 : !why || !strstr(why, "not permitted") ? 5 : 0;
        _exit(rc);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
        fprintf(stderr, "test_ecbcell: no seccomp filter here: the refused case is left out\n");
    else
        CHECK_INT(WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status), 0);
#endif
}

static void test_reserve_fallback(void)
{
    /* More than any address space: halves down to what can be had, at least the minimum. */
    ecb_arena_params_t p = {.max_bytes = (size_t)1 << 62, .min_bytes = 4 * ECB_CHUNK_SIZE};
    ecb_arena_t *a = ecb_arena_create(&p);
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
    test_release(ECB_MODE_USERFAULTFD);
    test_release(ECB_MODE_KEEP);
    test_keep_budget();
    test_fresh_blocks();
    test_wrap();
    test_sweep(ECB_MODE_USERFAULTFD);
    test_sweep(ECB_MODE_KEEP);
    test_moved_blocks();
    arenas_without_moves = true;
    test_release(ECB_MODE_USERFAULTFD);
    test_fresh_blocks();
    test_sweep(ECB_MODE_USERFAULTFD);
    arenas_without_moves = false;
    test_userfaultfd_refused();
    test_reserve_fallback();
    return check_report("test_ecbcell");
}
