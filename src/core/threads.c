/* A set of worker threads (threads.h). */
#define _GNU_SOURCE
#include "threads.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

int thread_set_init(thread_set_t *s, pthread_mutex_t *lock, pthread_cond_t *exited, void *owner,
                    thread_main_fn main, const char *thread_name, unsigned max_threads,
                    size_t stack_size, unsigned idle_exit_ms)
{
    *s = (thread_set_t){.lock = lock, .exited = exited, .owner = owner, .main = main,
                        .thread_name = thread_name, .stack_size = stack_size,
                        .idle_exit_ms = idle_exit_ms, .n_slots = max_threads};
    s->slots = calloc(max_threads ? max_threads : 1, sizeof *s->slots);
    return s->slots ? 0 : -ENOMEM;
}

void thread_set_destroy(thread_set_t *s)
{
    free(s->slots);
    s->slots = NULL;
}

void thread_deadline_in(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *slot_start(void *arg)
{
    thread_slot_t *self = arg;
    pthread_setname_np(pthread_self(), self->set->thread_name);
    self->set->main(self);
    return NULL;
}

int thread_set_spawn_locked(thread_set_t *s)
{
    thread_slot_t *slot = NULL;
    for (unsigned i = 0; i < s->n_slots && !slot; i++) {
        thread_slot_t *t = &s->slots[i];
        if (t->in_use && t->exited) {
            pthread_join(t->tid, NULL); /* past its last touch of the set: returns at once */
            t->in_use = false;
        }
        if (!t->in_use)
            slot = t;
    }
    if (!slot)
        return -ENOSPC;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, s->stack_size);
    slot->set = s;
    slot->running = NULL;
    slot->exited = false;
    int rc = pthread_create(&slot->tid, &attr, slot_start, slot);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return -rc;
    slot->in_use = true;
    s->running++;
    return 0;
}

bool thread_set_idle_wait(thread_slot_t *self, pthread_cond_t *cond)
{
    thread_set_t *s = self->set;
    struct timespec ts;
    thread_deadline_in(&ts, s->idle_exit_ms);
    s->idle++;
    int rc = pthread_cond_timedwait(cond, s->lock, &ts);
    s->idle--;
    return rc == ETIMEDOUT;
}

static void thread_gone_locked(thread_set_t *s)
{
    s->running--;
    if (s->running == 0)
        pthread_cond_broadcast(s->exited);
}

void thread_set_exit_locked(thread_slot_t *self)
{
    self->exited = true;
    thread_gone_locked(self->set);
}

void thread_set_retire_locked(thread_slot_t *self)
{
    thread_set_t *s = self->set;
    self->in_use = false; /* a spawn may take the slot once the lock is released */
    pthread_detach(pthread_self());
    thread_gone_locked(s);
}

bool thread_set_wait_locked(thread_set_t *s, const struct timespec *deadline)
{
    while (s->running > 0)
        if (pthread_cond_timedwait(s->exited, s->lock, deadline) == ETIMEDOUT)
            break;
    return s->running == 0;
}

void thread_set_reap_locked(thread_set_t *s)
{
    for (unsigned i = 0; i < s->n_slots; i++) {
        thread_slot_t *t = &s->slots[i];
        if (!t->in_use)
            continue;
        if (t->exited)
            pthread_join(t->tid, NULL);
        else
            pthread_detach(t->tid);
        t->in_use = false;
    }
}
