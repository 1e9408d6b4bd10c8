/* Watches forgotten without epoll_ctl(DEL) (loop_forget, src/core/loop.h): after the forget
 * and the close, nothing is delivered for the old watch, even when a forked child still holds
 * the socket open and the kernel keeps reporting it; a watch added after it (which takes the
 * same slot of the backend's table, and often the same descriptor number) gets its own events
 * only; loop_del and loop_add again (the listeners' pause and resume) keep working; many
 * watches at once grow the table.
 *
 * Nothing depends on timing: events are made before the loop is run once without waiting
 * (the peer's writes and closes are reported at once on a socketpair), and the child waits on
 * a pipe the test closes. */
#define _GNU_SOURCE
#include "check.h"
#include "loop.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)

typedef struct counted {
    loop_watch_t watch; /* first */
    int events;         /* deliveries to this watch */
} counted_t;

static void on_counted(loop_watch_t *w, uint32_t events)
{
    (void)events;
    ((counted_t *)w)->events++;
}

static void watch_init(counted_t *c, int fd)
{
    c->watch.fd = fd;
    c->watch.on_event = on_counted;
    c->events = 0;
}

/* Two iterations without waiting: whatever is reported now is delivered. */
static void run_now(loop_t *l)
{
    loop_run_once(l, 0);
    loop_run_once(l, 0);
}

static void test_forget_then_close(loop_t *l)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    counted_t a;
    watch_init(&a, sv[0]);
    CHECK_INT(loop_add(l, &a.watch, EVENTS), 0);
    CHECK(write(sv[1], "x", 1) == 1);
    run_now(l);
    CHECK_INT(a.events, 1);
    loop_forget(l, &a.watch);
    close(sv[0]);
    CHECK(write(sv[1], "y", 1) < 0); /* the only holder closed it: the peer sees the end */
    close(sv[1]);
    run_now(l);
    CHECK_INT(a.events, 1);
}

static void test_forked_holder(loop_t *l)
{
    int sv[2], gate[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(pipe(gate) == 0);
    counted_t old;
    watch_init(&old, sv[0]);
    CHECK_INT(loop_add(l, &old.watch, EVENTS), 0);
    pid_t child = fork();
    if (child == 0) { /* holds sv[0] (inherited) until the gate closes */
        char b;
        close(gate[1]);
        while (read(gate[0], &b, 1) > 0) {
        }
        _exit(0);
    }
    CHECK(child > 0);
    close(gate[0]);
    loop_forget(l, &old.watch);
    close(sv[0]); /* the child's copy keeps the socket, and the kernel's entry, alive */

    /* A new watch takes the freed slot (and likely the same descriptor number). */
    int nv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, nv) == 0);
    counted_t fresh;
    watch_init(&fresh, nv[0]);
    CHECK_INT(loop_add(l, &fresh.watch, EVENTS), 0);
    CHECK_INT(fresh.watch.slot, old.watch.slot);

    /* The old socket becomes readable: its entry reports it, and the report is dropped. */
    CHECK(write(sv[1], "z", 1) == 1);
    run_now(l);
    CHECK_INT(old.events, 0);
    CHECK_INT(fresh.events, 0);
    CHECK(write(nv[1], "w", 1) == 1);
    run_now(l);
    CHECK_INT(fresh.events, 1);
    CHECK_INT(old.events, 0);

    close(gate[1]);
    int st = 0;
    CHECK(waitpid(child, &st, 0) == child);
    close(sv[1]);
    loop_forget(l, &fresh.watch);
    close(nv[0]);
    close(nv[1]);
    run_now(l);
    CHECK_INT(old.events, 0);
    CHECK_INT(fresh.events, 1);
}

static void test_del_and_add_again(loop_t *l)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    counted_t a;
    watch_init(&a, sv[0]);
    CHECK_INT(loop_add(l, &a.watch, EPOLLIN), 0); /* level-triggered, as a listener */
    CHECK(write(sv[1], "x", 1) == 1);
    run_now(l);
    CHECK(a.events >= 1);
    CHECK_INT(loop_del(l, &a.watch), 0);
    int before = a.events;
    run_now(l);
    CHECK_INT(a.events, before);
    CHECK(loop_del(l, &a.watch) < 0); /* not watched any more: the kernel says so */
    CHECK_INT(loop_add(l, &a.watch, EPOLLIN), 0);
    run_now(l);
    CHECK(a.events > before);
    CHECK_INT(loop_del(l, &a.watch), 0);
    close(sv[0]);
    close(sv[1]);
}

static void test_many(loop_t *l)
{
    enum { N = 300 }; /* past the table's first size */
    static counted_t w[N];
    static int peer[N];
    for (int i = 0; i < N; i++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        watch_init(&w[i], sv[0]);
        peer[i] = sv[1];
        CHECK_INT(loop_add(l, &w[i].watch, EVENTS), 0);
    }
    for (int i = 0; i < N; i += 3)
        CHECK(write(peer[i], "x", 1) == 1);
    for (int k = 0; k < 4; k++) /* at most LOOP_BACKEND_BATCH per wait */
        loop_run_once(l, 0);
    int wrong = 0;
    for (int i = 0; i < N; i++)
        wrong += w[i].events != (i % 3 == 0);
    CHECK_INT(wrong, 0);
    for (int i = 0; i < N; i++) {
        loop_forget(l, &w[i].watch);
        close(w[i].watch.fd);
        close(peer[i]);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(60);
    loop_t *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return check_report("test_loop_forget");
    test_forget_then_close(l);
    test_forked_holder(l);
    test_del_and_add_again(l);
    test_many(l);
    loop_free(l);
    return check_report("test_loop_forget");
}
