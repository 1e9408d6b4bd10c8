/* Event loop: one epoll instance driven by whichever thread calls loop_run(). Other threads
 * hand work to it with loop_post(); it wakes through an eventfd only when its task queue goes
 * from empty to non-empty, and drains the queue in batches.
 *
 * The loop is an object any thread can run, one thread at a time (docs/design.md, "Extensions
 * on the loop's thread"). The thread running it may make a call that can block (an extension's
 * HttpExtensionProc) between loop_call_begin() and loop_call_end(); a watchdog that finds one
 * call still running on two of its ticks, its thread blocked or long on a CPU, takes the loop
 * (loop_call_stuck, loop_take_call) and has a helper thread finish the iteration and run it
 * (loop_run_taken) until the home thread, the one in loop_run(), is back from its call
 * (loop_kept_t below says what the thread that lost it does).
 *
 * Ownership: the loop owns neither watches nor tasks: both are embedded in their owners'
 * structures (connections, listeners, requests), which must outlive their registration. */
#ifndef ISAPID_LOOP_H
#define ISAPID_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "timeq.h"

typedef struct loop loop_t;

/* Whether the calling thread still runs its loop after a call that may have lost it (a call
 * made between loop_call_begin and loop_call_end, or anything that may make one: running an
 * extension on the loop's thread). Every function that can lose the loop returns this, and only
 * such functions do.
 *
 * The rule, for every caller of such a function: after LOOP_LOST the loop belongs to another
 * thread, which may already have freed what the loop owns (connections, watches, their
 * requests, the iteration in progress). Touch none of it, not even to read, and return
 * LOOP_LOST to your own caller at once; the loop's iteration (an event or task callback that
 * lost it returns, and the loop sees loop_current() change) and loop_run (which waits to get
 * the loop back) end the unwinding. Whatever the thread still had to do for its own call (the
 * end of an extension's request) it does before returning, as any worker thread would, through
 * loop_post. */
typedef enum { LOOP_KEPT, LOOP_LOST } loop_kept_t;

typedef struct loop_watch loop_watch_t;
typedef void (*loop_event_fn)(loop_watch_t *w, uint32_t events);
struct loop_watch {
    int fd;
    uint32_t slot; /* the backend's, while the watch is added: its entry for this watch */
    loop_event_fn on_event;
};

typedef struct loop_task loop_task_t;
typedef void (*loop_task_fn)(loop_task_t *t);
struct loop_task {
    loop_task_t *next;
    loop_task_fn fn;
};

/* Called on the loop thread at the end of an iteration (after its events and tasks) that has
 * something due: the time the tick last returned has come, or loop_deadline named an earlier
 * one. Returns the time (monotonic ms) of the next deadline the owner needs, or UINT64_MAX.
 * The first iteration always ticks. An iteration with nothing due skips the tick (most of a
 * busy loop's iterations: the owner's timer queues only move their deadlines later). */
typedef uint64_t (*loop_tick_fn)(void *arg, uint64_t now_ms);

/* Something of the tick's is due at at_ms (monotonic ms; 0 or a past time: at the end of this
 * iteration): the tick runs then, if it was not due earlier. For whatever the tick's last
 * return did not cover: a timer armed in an empty queue, a closed connection to free. Loop
 * thread only; from the tick itself too (then it comes on top of what the tick returns). */
void loop_deadline(loop_t *l, uint64_t at_ms);

loop_t *loop_new(void);
void loop_free(loop_t *l);

/* 0 or -errno each. A watch added with EPOLLEXCLUSIVE cannot be modified (EINVAL): only deleted
 * and added again. The thread running the loop calls these (or any thread before it runs). */
int loop_add(loop_t *l, loop_watch_t *w, uint32_t events);
int loop_mod(loop_t *l, loop_watch_t *w, uint32_t events);
int loop_del(loop_t *l, loop_watch_t *w);
/* The watch's descriptor is closed right after this: the watch is forgotten without a system
 * call (close() takes the descriptor out of the kernel's set). Should another process hold the
 * same socket (a child an extension forked, until it execs or exits), the kernel keeps
 * reporting it: those reports are dropped, never delivered to w or to a later watch. */
void loop_forget(loop_t *l, loop_watch_t *w);

/* Thread-safe. The task runs on the loop thread, in each posting thread's order. One posted by
 * the thread running the loop from an event callback runs as soon as that callback returns,
 * before the loop's next event; the others run after the events of the current batch. A task
 * must not be posted again before it has run. */
void loop_post(loop_t *l, loop_task_t *t, loop_task_fn fn);

void loop_set_tick(loop_t *l, loop_tick_fn fn, void *arg);
/* The home thread: runs the loop until loop_stop(), taking it back whenever a call of its own was
 * handed off. */
void loop_run(loop_t *l);
/* One iteration (for tests and fuzzers driving a loop by hand). */
void loop_run_once(loop_t *l, int timeout_ms);
void loop_stop(loop_t *l); /* thread-safe */

/* The loop the calling thread runs right now (not inside a call), or NULL. */
loop_t *loop_current(void);
/* The thread running l is in its tick (timers): a call that may block must not be made there,
 * since the tick cannot lose the loop; work that might block goes elsewhere (a pool). */
bool loop_in_tick(const loop_t *l);

/* A call that may block, made by the thread running l; loop_call_end takes what loop_call_begin
 * returned and says whether the loop was taken meanwhile (LOOP_LOST: see loop_kept_t). ctx is
 * handed to the watchdog if it takes the loop during the call (loop_take_call). */
uint64_t loop_call_begin(loop_t *l, void *ctx);
loop_kept_t loop_call_end(loop_t *l, uint64_t call);

/* The watchdog's side. It sets asleep before its last look at the loops when it wants to stop
 * ticking; loop_call_begin then calls wake (rarely: only the first call after a quiet spell). */
typedef struct loop_watcher loop_watcher_t;
struct loop_watcher {
    atomic_bool asleep;
    void (*wake)(loop_watcher_t *w);
};
void loop_set_watcher(loop_t *l, loop_watcher_t *w); /* before the loop runs */
bool loop_in_call(loop_t *l);
/* Changes whenever a call begins or ends (the watchdog's test for a quiet spell). */
uint64_t loop_activity(loop_t *l);
/* One watchdog look (one thread calls it, once a tick, for a loop): true when the loop is in the
 * same call as at the previous look, and on every look after while that call lasts; *call
 * names it for loop_take_call, *tid is the thread making it (for a look at its scheduler
 * state: handoff.c). Nothing is taken. */
bool loop_call_stuck(loop_t *l, uint64_t *call, pid_t *tid);
/* Takes the loop from the call loop_call_stuck named, unless that call has ended: true, with
 * the call's ctx in *ctx; the caller must then start loop_run_taken(l) on a thread that is free
 * to run it. */
bool loop_take_call(loop_t *l, uint64_t call, void **ctx);
/* Both: takes the loop when it is in the same call as at the previous look, whatever its
 * thread is doing. The unit tests' (the watchdog looks at the thread in between: handoff.c). */
bool loop_take_if_stuck(loop_t *l, void **ctx);
/* On a helper thread: finish the taken loop's iteration and run it until its home thread wants
 * it back or it stops. Returns at once when the home thread already took it back. */
void loop_run_taken(loop_t *l);

/* Monotonic milliseconds, refreshed once per iteration (cheap to call on the loop thread). */
uint64_t loop_now(const loop_t *l);

/* (Re)arm n in q at the loop's time and tell the loop its deadline (loop thread only): every
 * arm outside the loop's own tick goes through this. The tick re-arms with timeq_arm alone:
 * what it returns is the loop's next deadline. */
static inline void loop_timer_arm(loop_t *l, timeq_t *q, timeq_node_t *n)
{
    timeq_arm(q, n, loop_now(l));
    loop_deadline(l, n->deadline_ms);
}
uint64_t clock_now_ms(void);

#endif
