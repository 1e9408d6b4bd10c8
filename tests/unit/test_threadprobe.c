/* A thread's scheduler state and CPU time (src/core/threadprobe.h): the calling thread, which is
 * running, reads as runnable; a thread waiting on a condition variable reads as sleeping once
 * it is in the wait; a thread that spins reads as runnable at every look and its CPU time grows;
 * a thread that has exited, or one of another process, reads as unknown. CPU time agrees with
 * the thread's own CLOCK_THREAD_CPUTIME_ID.
 *
 * Nothing depends on timing: each wait for a condition polls it with a bound of a few seconds
 * (alarm() ends a test that hangs). */
#define _GNU_SOURCE
#include "check.h"
#include "threadprobe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static bool poll_until(bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < 5000; i++) {
        if (cond(arg))
            return true;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return false;
}

static atomic_int other_tid;
static atomic_bool release;
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate = PTHREAD_COND_INITIALIZER;
static bool gate_open;

static void *waiter_main(void *arg)
{
    (void)arg;
    atomic_store(&other_tid, gettid());
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return NULL;
}

static void *spinner_main(void *arg)
{
    (void)arg;
    atomic_store(&other_tid, gettid());
    while (!atomic_load(&release)) {
    }
    return NULL;
}

static bool tid_known(void *arg)
{
    (void)arg;
    return atomic_load(&other_tid) != 0;
}

static bool reads_sleeping(void *arg)
{
    (void)arg;
    int err = 0;
    return thread_run_state(atomic_load(&other_tid), &err) == THREAD_SLEEPING;
}

/* The kernel releases an exited thread a moment after pthread_join returns. */
static bool reads_gone(void *arg)
{
    (void)arg;
    int err = 0;
    return thread_run_state(atomic_load(&other_tid), &err) == THREAD_UNKNOWN &&
           (err == ENOENT || err == ESRCH) && thread_cpu_ns(atomic_load(&other_tid)) < 0;
}

static void test_self_is_runnable(void)
{
    int err = 0;
    CHECK(thread_run_state(gettid(), &err) == THREAD_RUNNABLE);
    struct timespec ts;
    int64_t before = thread_cpu_ns(gettid());
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    int64_t own = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int64_t after = thread_cpu_ns(gettid());
    CHECK(before > 0);
    CHECK(before <= own && own <= after);
}

static void test_waiting_thread_sleeps(void)
{
    atomic_store(&other_tid, 0);
    gate_open = false;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, waiter_main, NULL) == 0);
    CHECK(poll_until(tid_known, NULL));
    CHECK(poll_until(reads_sleeping, NULL));
    CHECK(thread_cpu_ns(atomic_load(&other_tid)) >= 0);
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate);
    pthread_mutex_unlock(&gate_lock);
    pthread_join(t, NULL);
    CHECK(poll_until(reads_gone, NULL));
}

static void test_spinning_thread_runs(void)
{
    atomic_store(&other_tid, 0);
    atomic_store(&release, false);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, spinner_main, NULL) == 0);
    CHECK(poll_until(tid_known, NULL));
    pid_t tid = atomic_load(&other_tid);
    int64_t first = thread_cpu_ns(tid);
    CHECK(first >= 0);
    /* Every look finds it runnable (on a CPU or waiting for one), until it has used 2 ms more. */
    int looks = 0, runnable = 0, err = 0;
    int64_t now = first;
    while (now - first < 2000000 && looks < 100000) {
        looks++;
        runnable += thread_run_state(tid, &err) == THREAD_RUNNABLE;
        nanosleep(&(struct timespec){0, 100000}, NULL);
        now = thread_cpu_ns(tid);
    }
    CHECK(now - first >= 2000000);
    CHECK_INT(runnable, looks);
    atomic_store(&release, true);
    pthread_join(t, NULL);
}

static void test_not_ours(void)
{
    /* pid 1 is never a thread of this process (the test is not init). */
    int err = 0;
    CHECK(thread_run_state(1, &err) == THREAD_UNKNOWN);
    CHECK_INT(err, ENOENT);
    CHECK(thread_cpu_ns(1) < 0);
    err = 0;
    CHECK(thread_run_state(0, &err) == THREAD_UNKNOWN);
    CHECK_INT(err, EINVAL);
    CHECK(thread_cpu_ns(0) < 0);
}

int main(void)
{
    alarm(60); /* a hang fails the test instead of stalling the suite */
    test_self_is_runnable();
    test_waiting_thread_sleeps();
    test_spinning_thread_runs();
    test_not_ours();
    return check_report("test_threadprobe");
}
