/* What the scheduler says of one thread of this process: whether it can run (on a CPU now, or
 * runnable and waiting for one) or sleeps (blocked in a system call, a lock or I/O; stopped),
 * and how much CPU time it has used. The hand-off watchdog asks before it takes a loop from a
 * call (handoff.c): a loop thread that was merely preempted is not blocked, and a helper would
 * only wait for a CPU as well.
 *
 * The state is the one letter of /proc/self/task/TID/stat (exact when read); the CPU time is
 * the thread's CPU-time clock (exact to the nanosecond, one system call, no file).
 *
 * Ownership: a probe belongs to one thread at a time (the watchdog); it keeps the stat file of
 * the thread it looked at last open, so that looking at the same thread again is one pread. */
#ifndef ISAPID_THREADPROBE_H
#define ISAPID_THREADPROBE_H

#include <stdint.h>
#include <sys/types.h>

typedef enum {
    THREAD_UNKNOWN,  /* the state could not be read (no /proc, the thread is gone) */
    THREAD_RUNNABLE, /* on a CPU, or waiting for one */
    THREAD_SLEEPING, /* anything else: it waits for something other than a CPU */
} thread_run_state_t;

typedef struct thread_probe {
    pid_t tid;   /* the thread stat_fd reads, or 0 */
    int stat_fd; /* its /proc/self/task/TID/stat, or -1 */
    int last_errno; /* of the last open or read that failed (THREAD_UNKNOWN), else 0 */
} thread_probe_t;

void thread_probe_init(thread_probe_t *p);
void thread_probe_close(thread_probe_t *p);
/* The state of thread tid of this process, now. */
thread_run_state_t thread_probe_state(thread_probe_t *p, pid_t tid);
/* CPU time thread tid of this process has used, in nanoseconds, or -errno (no such thread in
 * this process). */
int64_t thread_cpu_ns(pid_t tid);

#endif
