/* A set of worker threads: the slots, start, idle retirement, stop and join that the worker
 * pools (pool.c) and the hand-off helpers (handoff.c) share. The owner keeps its own work
 * queue and decides when a thread is needed and when an idle one may go; the set keeps the
 * threads themselves.
 *
 * Threads get stack_size bytes of stack (extensions keep big buffers on theirs) and, like every
 * thread started through pthread_create, an alternate signal stack (altstack.c). Each stays
 * joinable while it has its slot: a process must not exit while one of its threads is still
 * in the thread-exit path (sanitizers' exit-time checks stop every thread and crash on one that
 * is half gone), so thread_set_reap_locked joins every thread that has left its main function.
 *
 * Locking: the set has no lock of its own. Every field, and every function named _locked, is
 * under the owner's lock, given to thread_set_init; a thread's main function is called without
 * it, takes it, and ends with thread_set_exit_locked or thread_set_retire_locked still holding
 * it, then releases it and returns.
 *
 * Ownership: the set is embedded in its owner, which must outlive every thread of it that was
 * not detached; the slots are allocated by thread_set_init and freed by thread_set_destroy. */
#ifndef ISAPID_THREADS_H
#define ISAPID_THREADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct thread_set thread_set_t;
typedef struct thread_slot thread_slot_t;
typedef void (*thread_main_fn)(thread_slot_t *self);

struct thread_slot {
    thread_set_t *set;
    void *running;   /* the owner's note of what the thread runs now (the pool: its item's share) */
    pthread_t tid;
    bool in_use;     /* a thread was started in this slot and was neither joined nor detached */
    bool exited;     /* it has called thread_set_exit_locked: joining it does not wait */
};

struct thread_set {
    pthread_mutex_t *lock;   /* the owner's */
    pthread_cond_t *exited;  /* the owner's: broadcast when running drops to 0 */
    void *owner;             /* for the main function: self->set->owner */
    thread_main_fn main;
    const char *thread_name; /* at most 15 characters */
    size_t stack_size;
    unsigned idle_exit_ms;   /* how long thread_set_idle_wait waits for work */
    thread_slot_t *slots;
    unsigned n_slots;        /* the most threads the set can hold */
    unsigned running;        /* started and not yet exited or retired */
    unsigned idle;           /* inside thread_set_idle_wait */
};

/* 0 or -ENOMEM. Starts no thread. */
int thread_set_init(thread_set_t *s, pthread_mutex_t *lock, pthread_cond_t *exited, void *owner,
                    thread_main_fn main, const char *thread_name, unsigned max_threads,
                    size_t stack_size, unsigned idle_exit_ms);
/* After the last thread was joined or detached (thread_set_reap_locked). */
void thread_set_destroy(thread_set_t *s);

/* Starts one more thread, in a slot never used or whose thread has exited (joined now).
 * 0, -ENOSPC when every slot holds a thread, or -errno of pthread_create. */
int thread_set_spawn_locked(thread_set_t *s);

/* Waits on cond (which the owner signals when work arrives) for at most the set's idle period,
 * counting the thread in idle meanwhile. True when the period ran out: the owner then decides,
 * from its own state, whether the thread goes. */
bool thread_set_idle_wait(thread_slot_t *self, pthread_cond_t *cond);

/* A thread's last call, before it releases the lock and returns. exit: it stays joinable, joined
 * by a later spawn that needs its slot or by thread_set_reap_locked. retire: it gives up its
 * slot and detaches itself (nobody will join it). */
void thread_set_exit_locked(thread_slot_t *self);
void thread_set_retire_locked(thread_slot_t *self);

/* Waits until no thread runs, up to the absolute CLOCK_MONOTONIC deadline (the owner's exited
 * condition variable must use that clock). True when none runs. */
bool thread_set_wait_locked(thread_set_t *s, const struct timespec *deadline);
/* Joins every thread that has exited and detaches the others (stuck in extension code: the
 * process exits without them); every slot is free after. */
void thread_set_reap_locked(thread_set_t *s);

/* An absolute CLOCK_MONOTONIC time ms milliseconds from now. */
void thread_deadline_in(struct timespec *ts, unsigned ms);

#endif
