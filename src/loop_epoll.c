#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct loop {
    int epfd;
    loop_watch_t wake;        /* eventfd: readable when tasks were posted or stop was asked */
    pthread_mutex_t lock;     /* guards tasks_head/tasks_tail */
    loop_task_t *tasks_head, *tasks_tail;
    atomic_bool stopping;
    uint64_t now_ms;
    loop_tick_fn tick;
    void *tick_arg;
    uint64_t next_deadline;   /* from the last tick; UINT64_MAX = none */
};

uint64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wake_drain(loop_watch_t *w, uint32_t events)
{
    (void)events;
    uint64_t v;
    while (read(w->fd, &v, sizeof v) > 0) {
    }
}

loop_t *loop_new(void)
{
    loop_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->wake.on_event = wake_drain;
    if (l->epfd < 0 || l->wake.fd < 0 || loop_add(l, &l->wake, EPOLLIN) < 0) {
        loop_free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    l->now_ms = clock_now_ms();
    l->next_deadline = UINT64_MAX;
    return l;
}

void loop_free(loop_t *l)
{
    if (!l)
        return;
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wake.fd >= 0)
        close(l->wake.fd);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

int loop_add(loop_t *l, loop_watch_t *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

int loop_mod(loop_t *l, loop_watch_t *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

void loop_del(loop_t *l, loop_watch_t *w) { epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL); }

static void loop_wake(loop_t *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->wake.fd, &one, sizeof one);
    (void)r; /* EAGAIN means the counter is already non-zero: the loop will wake anyway */
}

void loop_post(loop_t *l, loop_task_t *t, loop_task_fn fn)
{
    t->fn = fn;
    t->next = NULL;
    pthread_mutex_lock(&l->lock);
    bool was_empty = l->tasks_head == NULL;
    if (was_empty)
        l->tasks_head = t;
    else
        l->tasks_tail->next = t;
    l->tasks_tail = t;
    pthread_mutex_unlock(&l->lock);
    /* Only the empty → non-empty transition needs a wake-up: a non-empty queue is already due
     * to be drained by the loop. */
    if (was_empty)
        loop_wake(l);
}

static void run_tasks(loop_t *l)
{
    pthread_mutex_lock(&l->lock);
    loop_task_t *t = l->tasks_head;
    l->tasks_head = l->tasks_tail = NULL;
    pthread_mutex_unlock(&l->lock);
    while (t) {
        loop_task_t *next = t->next; /* the task may free itself */
        t->fn(t);
        t = next;
    }
}

void loop_set_tick(loop_t *l, loop_tick_fn fn, void *arg)
{
    l->tick = fn;
    l->tick_arg = arg;
}

uint64_t loop_now(const loop_t *l) { return l->now_ms; }

void loop_stop(loop_t *l)
{
    atomic_store(&l->stopping, true);
    loop_wake(l);
}

/* One iteration: wait up to timeout_ms (-1 = until an event; capped by the tick's deadline),
 * handle events, run posted tasks and the tick. */
void loop_run_once(loop_t *l, int timeout_ms)
{
    struct epoll_event events[128];
    if (l->next_deadline != UINT64_MAX) {
        uint64_t now = clock_now_ms();
        int until = l->next_deadline <= now ? 0
                    : (int)(l->next_deadline - now > 60000 ? 60000 : l->next_deadline - now);
        if (timeout_ms < 0 || until < timeout_ms)
            timeout_ms = until;
    }
    int n = epoll_wait(l->epfd, events, 128, timeout_ms);
    l->now_ms = clock_now_ms();
    for (int i = 0; i < n; i++) {
        loop_watch_t *w = events[i].data.ptr;
        w->on_event(w, events[i].events);
    }
    run_tasks(l);
    l->next_deadline = l->tick ? l->tick(l->tick_arg, l->now_ms) : UINT64_MAX;
}

void loop_run(loop_t *l)
{
    while (!atomic_load(&l->stopping))
        loop_run_once(l, -1);
    run_tasks(l);
}
