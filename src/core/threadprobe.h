/* What the scheduler says of one thread of this process: whether it can run (on a CPU now, or
 * runnable and waiting for one) or sleeps (blocked in a system call, a lock or I/O; stopped),
 * and how much CPU time it has used. The hand-off watchdog asks before it takes a loop from a
 * call (handoff.c): a loop thread that was merely preempted is not blocked, and a helper would
 * only wait for a CPU as well.
 *
 * The state is the one letter of /proc/self/task/TID/stat (exact when read), opened and closed
 * at each look: a descriptor held between looks would be one the server keeps for no
 * connection (operators and tests count them). The CPU time is the thread's CPU-time clock
 * (exact to the nanosecond, one system call, no file). Thread-safe; no state. */
#ifndef ISAPID_THREADPROBE_H
#define ISAPID_THREADPROBE_H

#include <stdint.h>
#include <sys/types.h>

typedef enum {
    THREAD_UNKNOWN,  /* the state could not be read (no /proc, no such thread) */
    THREAD_RUNNABLE, /* on a CPU, or waiting for one */
    THREAD_SLEEPING, /* anything else: it waits for something other than a CPU */
} thread_run_state_t;

/* The state of thread tid of this process, now. THREAD_UNKNOWN sets *err to the reason (an
 * errno value: ENOENT or ESRCH when there is no such thread). */
thread_run_state_t thread_run_state(pid_t tid, int *err);
/* CPU time thread tid of this process has used, in nanoseconds, or -errno (no such thread in
 * this process). */
int64_t thread_cpu_ns(pid_t tid);

#endif
