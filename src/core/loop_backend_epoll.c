/* The epoll backend of the loop (loop_backend.h has the contract). Event bits are epoll's own,
 * so nothing is translated; wait copies the kernel's batch into the loop's, one pass over the
 * events it returned. */
#include "loop_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct loop_backend {
    int epfd;
    struct epoll_event fetched[LOOP_BACKEND_BATCH]; /* scratch of wait: its caller's thread only */
};

loop_backend_t *loop_backend_create(void)
{
    loop_backend_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        int err = errno;
        free(b);
        errno = err;
        return NULL;
    }
    return b;
}

void loop_backend_destroy(loop_backend_t *b)
{
    if (!b)
        return;
    close(b->epfd);
    free(b);
}

int loop_backend_add(loop_backend_t *b, loop_watch_t *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(b->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

int loop_backend_mod(loop_backend_t *b, loop_watch_t *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(b->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

int loop_backend_del(loop_backend_t *b, loop_watch_t *w)
{
    return epoll_ctl(b->epfd, EPOLL_CTL_DEL, w->fd, NULL) < 0 ? -errno : 0;
}

int loop_backend_wait(loop_backend_t *b, loop_ready_t *batch, int max, int timeout_ms)
{
    if (max > LOOP_BACKEND_BATCH)
        max = LOOP_BACKEND_BATCH;
    int n = epoll_wait(b->epfd, b->fetched, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        batch[i].watch = b->fetched[i].data.ptr;
        batch[i].events = b->fetched[i].events;
    }
    return n > 0 ? n : 0;
}
