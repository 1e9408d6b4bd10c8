/* A thread's scheduler state and CPU time (threadprobe.h). */
#define _GNU_SOURCE
#include "threadprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void thread_probe_init(thread_probe_t *p) { *p = (thread_probe_t){.tid = 0, .stat_fd = -1}; }

void thread_probe_close(thread_probe_t *p)
{
    if (p->stat_fd >= 0)
        close(p->stat_fd);
    p->stat_fd = -1;
    p->tid = 0;
}

static thread_run_state_t probe_failed(thread_probe_t *p, int err)
{
    thread_probe_close(p);
    p->last_errno = err;
    return THREAD_UNKNOWN;
}

thread_run_state_t thread_probe_state(thread_probe_t *p, pid_t tid)
{
    if (tid <= 0)
        return probe_failed(p, EINVAL);
    if (p->tid != tid || p->stat_fd < 0) {
        thread_probe_close(p);
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
        p->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (p->stat_fd < 0)
            return probe_failed(p, errno);
        p->tid = tid;
    }
    /* "TID (COMM) S ...": COMM is at most 15 bytes but may hold ')' and spaces, so the state is
     * the letter after the last ')'; what follows it is numbers only, so a short read that
     * stops in them still has it. The file stays open: the next read regenerates it (and
     * fails with ESRCH once the thread is gone, even if its number is reused). */
    char buf[96];
    ssize_t n = pread(p->stat_fd, buf, sizeof buf, 0);
    if (n <= 0)
        return probe_failed(p, n < 0 ? errno : ESRCH);
    const char *paren = memrchr(buf, ')', (size_t)n);
    if (!paren || paren + 2 >= buf + n)
        return probe_failed(p, EPROTO);
    p->last_errno = 0;
    return paren[2] == 'R' ? THREAD_RUNNABLE : THREAD_SLEEPING;
}

/* The clock id of a thread's CPU time, from its id: what pthread_getcpuclockid returns, without
 * the pthread_t, which the watchdog cannot hold safely for a thread that may exit meanwhile.
 * The encoding is the kernel's ABI (linux/posix-timers.h: the bitwise complement of the id,
 * shifted past three bits that say "per thread" (4) and "scheduler time" (2)). The kernel only
 * answers for threads of the caller's own process. */
static clockid_t thread_cpu_clock(pid_t tid)
{
    return (clockid_t)((~(unsigned)tid << 3) | 4u | 2u);
}

int64_t thread_cpu_ns(pid_t tid)
{
    struct timespec ts;
    if (tid <= 0) /* 0 would name the calling thread */
        return -EINVAL;
    if (clock_gettime(thread_cpu_clock(tid), &ts) < 0)
        return -errno;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
