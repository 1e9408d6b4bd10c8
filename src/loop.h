/* Event loop: one epoll instance driven by whichever thread calls loop_run(). Other threads
 * hand work to it with loop_post(); it wakes through an eventfd only when its task queue goes
 * from empty to non-empty, and drains the queue in batches.
 *
 * Ownership: the loop owns neither watches nor tasks: both are embedded in their owners'
 * structures (connections, listeners, requests), which must outlive their registration. */
#ifndef ISAPID_LOOP_H
#define ISAPID_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct loop loop_t;

typedef struct loop_watch loop_watch_t;
typedef void (*loop_event_fn)(loop_watch_t *w, uint32_t events);
struct loop_watch {
    int fd;
    loop_event_fn on_event;
};

typedef struct loop_task loop_task_t;
typedef void (*loop_task_fn)(loop_task_t *t);
struct loop_task {
    loop_task_t *next;
    loop_task_fn fn;
};

/* Called once per iteration (on the loop thread) after events and tasks; returns the time
 * (monotonic ms) of the next deadline the owner needs, or UINT64_MAX. */
typedef uint64_t (*loop_tick_fn)(void *arg, uint64_t now_ms);

loop_t *loop_new(void);
void loop_free(loop_t *l);

int loop_add(loop_t *l, loop_watch_t *w, uint32_t events); /* 0 or -errno */
int loop_mod(loop_t *l, loop_watch_t *w, uint32_t events);
void loop_del(loop_t *l, loop_watch_t *w);

/* Thread-safe. The task runs on the loop thread, in posting order. A task must not be posted
 * again before it has run. */
void loop_post(loop_t *l, loop_task_t *t, loop_task_fn fn);

void loop_set_tick(loop_t *l, loop_tick_fn fn, void *arg);
void loop_run(loop_t *l);  /* until loop_stop() */
/* One iteration (for tests and fuzzers driving a loop by hand). */
void loop_run_once(loop_t *l, int timeout_ms);
void loop_stop(loop_t *l); /* thread-safe */

/* Monotonic milliseconds, refreshed once per iteration (cheap to call on the loop thread). */
uint64_t loop_now(const loop_t *l);
uint64_t clock_now_ms(void);

#endif
