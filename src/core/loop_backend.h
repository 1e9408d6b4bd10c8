/* The loop's readiness backend: what src/core/loop.c needs from the kernel to watch descriptors,
 * and nothing more. The loop core (task queue, wake-ups, the owner-word protocol, ticks) is
 * loop.c's; a backend is one file implementing the seven functions below. The build links
 * exactly one (src/core/loop_backend_epoll.c today), so every call is a direct one.
 *
 * What a backend must guarantee:
 * - Event bits are epoll's (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR, EPOLLET,
 *   EPOLLEXCLUSIVE, ...), the vocabulary of loop.h's callers; a backend of another kind
 *   translates them, both ways.
 * - add, mod and del return 0 or -errno with epoll_ctl's meaning (a watch added with
 *   EPOLLEXCLUSIVE can only be deleted, not modified: -EINVAL). forget ends a watch whose
 *   descriptor its caller closes next, without a system call if it can: after it, nothing is
 *   reported for that watch (a socket another process still holds may stay in the kernel's
 *   set: its reports are dropped).
 * - add, mod, del, forget and wait are called by the thread running the loop, one at a time
 *   (or by any one thread before the loop runs).
 * - wait fills at most max entries of the caller's batch and returns how many (0 on timeout,
 *   interruption or error: never negative); timeout_ms < 0 waits without a bound. Each readiness it
 *   reports is reported once, in the caller's batch and nowhere else: the loop keeps that batch
 *   in the loop object, so whichever thread runs the loop next delivers what is left of it
 *   (edge-triggered events are not reported again).
 * - create and destroy are called once each, by the loop's owner, with no wait in progress.
 *
 * Ownership: the backend owns its kernel object and its scratch space; it owns no watch (a
 * watch belongs to whoever embeds it, and stays valid until deleted). */
#ifndef ISAPID_LOOP_BACKEND_H
#define ISAPID_LOOP_BACKEND_H

#include <stdint.h>

#include "loop.h"

/* Readiness events fetched per wait, at most. */
#define LOOP_BACKEND_BATCH 128

typedef struct loop_backend loop_backend_t;

typedef struct loop_ready {
    loop_watch_t *watch;
    uint32_t events;
} loop_ready_t;

/* NULL (errno set) when the kernel object cannot be made. */
loop_backend_t *loop_backend_create(void);
void loop_backend_destroy(loop_backend_t *b);
int loop_backend_add(loop_backend_t *b, loop_watch_t *w, uint32_t events);
int loop_backend_mod(loop_backend_t *b, loop_watch_t *w, uint32_t events);
int loop_backend_del(loop_backend_t *b, loop_watch_t *w);
void loop_backend_forget(loop_backend_t *b, loop_watch_t *w);
int loop_backend_wait(loop_backend_t *b, loop_ready_t *batch, int max, int timeout_ms);

#endif
