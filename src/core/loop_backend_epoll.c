/* The epoll backend of the loop (loop_backend.h has the contract). Event bits are epoll's own,
 * so nothing is translated; wait copies the kernel's batch into the loop's, one pass over the
 * events it returned.
 *
 * Each added watch has a slot in the backend's table, and the kernel's entry carries the
 * slot's index and generation, not the watch's address: forget (a descriptor about to be
 * closed) gives the slot up without epoll_ctl(DEL), since close() takes the descriptor out of
 * the set. Not always: while another process holds the same socket (a child an extension
 * forked, until it execs or exits), the kernel keeps the entry and may still report it; its
 * generation is then stale and wait drops the report, where an address would name a watch
 * freed or reused. (A generation wraps after 2^32 reuses of one slot, which such an entry
 * would have to outlive.) The table only grows: one slot per watch at the busiest moment. */
#include "loop_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define NO_SLOT UINT32_MAX

/* The table, as two arrays (12 bytes a slot: an idle connection's share of it). A slot in use
 * holds its watch's address; a free one holds the next free slot's index, tagged with the low
 * bit (a watch's address is even). Slots from `used` on have never been taken. */
struct loop_backend {
    int epfd;
    uintptr_t *slot_watch;
    uint32_t *slot_gen;        /* bumped whenever the slot is given up */
    uint32_t cap, used, free_head;
    struct epoll_event fetched[LOOP_BACKEND_BATCH]; /* scratch of wait */
};

#define FREE_TAG(next) (((uintptr_t)(next) << 1) | 1u)

loop_backend_t *loop_backend_create(void)
{
    loop_backend_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->free_head = NO_SLOT;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        int err = errno;
        free(b);
        errno = err;
        return NULL;
    }
    return b;
}

void loop_backend_destroy(loop_backend_t *b)
{
    if (!b)
        return;
    close(b->epfd);
    free(b->slot_watch);
    free(b->slot_gen);
    free(b);
}

/* A free slot for w (the table grows when none is left): 0 or -ENOMEM. */
static int slot_take(loop_backend_t *b, loop_watch_t *w)
{
    uint32_t i = b->free_head;
    if (i != NO_SLOT) {
        b->free_head = (uint32_t)(b->slot_watch[i] >> 1);
    } else {
        if (b->used == b->cap) {
            if (b->cap >= NO_SLOT / 2)
                return -ENOMEM;
            uint32_t cap = b->cap ? 2 * b->cap : 64;
            uintptr_t *watch = realloc(b->slot_watch, cap * sizeof *watch);
            if (!watch)
                return -ENOMEM;
            b->slot_watch = watch;
            uint32_t *gen = realloc(b->slot_gen, cap * sizeof *gen);
            if (!gen)
                return -ENOMEM; /* the larger watch array is kept; cap stays */
            b->slot_gen = gen;
            b->cap = cap;
        }
        i = b->used++;
        b->slot_gen[i] = 0;
    }
    b->slot_watch[i] = (uintptr_t)w;
    w->slot = i;
    return 0;
}

static void slot_give(loop_backend_t *b, loop_watch_t *w)
{
    b->slot_gen[w->slot]++;
    b->slot_watch[w->slot] = FREE_TAG(b->free_head); /* NO_SLOT too: uintptr_t holds it */
    b->free_head = w->slot;
}

static epoll_data_t slot_key(const loop_backend_t *b, const loop_watch_t *w)
{
    return (epoll_data_t){.u64 = (uint64_t)b->slot_gen[w->slot] << 32 | w->slot};
}

int loop_backend_add(loop_backend_t *b, loop_watch_t *w, uint32_t events)
{
    int rc = slot_take(b, w);
    if (rc < 0)
        return rc;
    struct epoll_event ev = {.events = events, .data = slot_key(b, w)};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
        rc = -errno;
        slot_give(b, w);
        return rc;
    }
    return 0;
}

int loop_backend_mod(loop_backend_t *b, loop_watch_t *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data = slot_key(b, w)};
    return epoll_ctl(b->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

int loop_backend_del(loop_backend_t *b, loop_watch_t *w)
{
    if (epoll_ctl(b->epfd, EPOLL_CTL_DEL, w->fd, NULL) < 0)
        return -errno; /* still watched, as far as the kernel is concerned: the slot stays */
    slot_give(b, w);
    return 0;
}

void loop_backend_forget(loop_backend_t *b, loop_watch_t *w)
{
    slot_give(b, w);
}

int loop_backend_wait(loop_backend_t *b, loop_ready_t *batch, int max, int timeout_ms)
{
    if (max > LOOP_BACKEND_BATCH)
        max = LOOP_BACKEND_BATCH;
    int n = epoll_wait(b->epfd, b->fetched, max, timeout_ms);
    int k = 0;
    for (int i = 0; i < n; i++) {
        uint64_t key = b->fetched[i].data.u64;
        uint32_t slot = (uint32_t)key, gen = (uint32_t)(key >> 32);
        if (slot >= b->used || b->slot_gen[slot] != gen || (b->slot_watch[slot] & 1u))
            continue; /* a forgotten watch's socket, held open by another process */
        batch[k].watch = (loop_watch_t *)b->slot_watch[slot];
        batch[k].events = b->fetched[i].events;
        k++;
    }
    return k;
}
