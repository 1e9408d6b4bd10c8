/* A thread's scheduler state and CPU time (threadprobe.h). */
#define _GNU_SOURCE
#include "threadprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

thread_run_state_t thread_run_state(pid_t tid, int *err)
{
    if (tid <= 0) {
        *err = EINVAL;
        return THREAD_UNKNOWN;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return THREAD_UNKNOWN;
    }
    /* "TID (COMM) S ...": COMM is at most 15 bytes but may hold ')' and spaces, so the state is
     * the letter after the last ')'; what follows it is numbers only, so a short read that
     * stops in them still has it. */
    char buf[96];
    ssize_t n = read(fd, buf, sizeof buf);
    int read_errno = errno;
    close(fd);
    if (n <= 0) {
        *err = n < 0 ? read_errno : ESRCH; /* ESRCH: the thread went between open and read */
        return THREAD_UNKNOWN;
    }
    const char *paren = memrchr(buf, ')', (size_t)n);
    if (!paren || paren + 2 >= buf + n) {
        *err = EPROTO;
        return THREAD_UNKNOWN;
    }
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
