/* The hand-off watchdog: extension calls run on the thread that runs the event loop, and this
 * module makes sure a call that blocks or runs long stalls only itself. While calls happen (it
 * sleeps through quiet spells) it looks at each loop; a loop found in the same call on two looks
 * in a row is taken from its thread and given to a helper thread, which runs it until the home
 * thread is back (loop.h has the protocol), unless the scheduler says that thread only waits for
 * a CPU (threadprobe.h): then it is taken only once it has used a tick of CPU time more in the
 * call. The tick is --handoff-after (1 ms). A look that finds a loop in a call is followed by
 * the next one a tick later, so a blocked call is taken a tick after it is first seen; a look
 * that finds none doubles the time to the next, up to HANDOFF_MAX_LOOK_TICKS ticks
 * (handoff_next_look_ns): while every call is short the watchdog wakes a few times less often
 * (each wake-up preempts a loop where they share a core), and a call is seen at most that many
 * ticks after it began.
 *
 * Helper threads belong to this module, not to the worker pool: a loop must get a thread even
 * when every worker is blocked in extension code. They are started on demand, reused, and
 * retire after 30 s idle. */
#ifndef ISAPID_HANDOFF_H
#define ISAPID_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

typedef struct handoff handoff_t;

#define HANDOFF_MAX_LOOK_TICKS 4

/* The time from this look to the next: a tick when this one found a loop in a call, else
 * twice look_ns, at most HANDOFF_MAX_LOOK_TICKS ticks. */
long handoff_next_look_ns(long look_ns, long tick_ns, bool saw_call);

/* on_taken(ctx) runs on the watchdog thread when a call is taken, with the ctx the call passed
 * to loop_call_begin (when not NULL). */
handoff_t *handoff_new(loop_t *const *loops, size_t n_loops, unsigned tick_ms, size_t stack_size,
                       void (*on_taken)(void *ctx));
/* Starts the watchdog. 0 or -errno. */
int handoff_start(handoff_t *h);
/* Stops the watchdog and waits up to timeout_ms for helpers to leave (they do once their loops
 * have stopped). False when some helper is still inside extension code: h must then be leaked. */
bool handoff_stop(handoff_t *h, unsigned timeout_ms);
void handoff_free(handoff_t *h);

#endif
