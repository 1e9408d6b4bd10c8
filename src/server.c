#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bodyrate.h"
#include "conn.h"
#include "connid.h"
#include "errorpage.h"
#include "extension.h"
#include "handoff.h"
#include "isapi.h"
#include "isapi_host.h"
#include "filter.h"
#include "log.h"
#include "notify.h"
#include "parked.h"
#include "route.h"
#include "status.h"
#include "statusboard.h"

#define ACCEPT_RETRY_MS 100
#define LINGER_TIMEOUT_MS 2000
#define UNLOAD_MIN_MS 1000 /* each extension's unload calls get the grace period, at least this */
#define WORKER_STACK_SIZE (8u << 20)

/* ---- Pausing accepts ----
 * Out of descriptors (or kernel memory) for a new connection, accept4 fails while the connection
 * stays queued, and a level-triggered listener left in the epoll set would wake this loop again
 * at once, for ever. So the loop takes its listeners out of its epoll set (a watch added with
 * EPOLLEXCLUSIVE cannot be modified, only deleted and added again) and puts them back at the
 * next tick after one of its own descriptors closed (netloop_descriptor_freed), or after
 * ACCEPT_RETRY_MS: another loop's or an extension's descriptors may free meanwhile. Connections
 * already accepted are served all along; new ones wait in the listen queue.
 * A listener is `registered` while this loop accepts on it (until shutdown), and `watched`
 * while it is in the epoll set: registered and not watched means paused. Loop thread only. */

/* Paused: the tick tries again ACCEPT_RETRY_MS from now. */
static void accept_retry_later(netloop_t *nl, uint64_t now)
{
    nl->accept_paused = true;
    nl->accept_resume_ms = now + ACCEPT_RETRY_MS;
    loop_deadline(nl->loop, nl->accept_resume_ms);
}

static void accept_pause(netloop_t *nl, int err)
{
    static log_limiter_t out_of_fds = LOG_LIMITER_INIT, out_of_memory = LOG_LIMITER_INIT;
    static log_limiter_t ctl_failed = LOG_LIMITER_INIT;
    bool fds = err == EMFILE || err == ENFILE;
    log_limited(fds ? &out_of_fds : &out_of_memory, LOG_ERROR,
                "accept: %s (%s): new connections wait in the listen queue until %s frees "
                "(retried every %d ms); open connections are still served",
                strerror(err),
                err == EMFILE   ? "the process's descriptor limit, RLIMIT_NOFILE, is reached"
                : err == ENFILE ? "the system's file table is full"
                                : "the kernel is short of memory",
                fds ? "a descriptor" : "memory", ACCEPT_RETRY_MS);
    for (size_t k = 0; k < nl->n_listeners; k++) {
        listener_t *ls = &nl->listeners[k];
        if (!ls->watched)
            continue;
        int rc = loop_del(nl->loop, &ls->watch);
        if (rc < 0)
            log_limited(&ctl_failed, LOG_ERROR, "cannot pause accepting on listener %d: epoll_ctl: %s",
                        ls->watch.fd, strerror(-rc));
        else
            ls->watched = false;
    }
    accept_retry_later(nl, loop_now(nl->loop));
}

static void accept_resume(netloop_t *nl, uint64_t now)
{
    static log_limiter_t ctl_failed = LOG_LIMITER_INIT;
    nl->accept_paused = false;
    for (size_t k = 0; k < nl->n_listeners; k++) {
        listener_t *ls = &nl->listeners[k];
        if (!ls->registered || ls->watched)
            continue;
        int rc = loop_add(nl->loop, &ls->watch, EPOLLIN | EPOLLEXCLUSIVE);
        if (rc < 0) { /* ENOMEM, ENOSPC (max_user_watches): try again later */
            log_limited(&ctl_failed, LOG_ERROR, "cannot resume accepting on listener %d: "
                        "epoll_ctl: %s; retrying in %d ms", ls->watch.fd, strerror(-rc),
                        ACCEPT_RETRY_MS);
            accept_retry_later(nl, now);
        } else {
            ls->watched = true;
        }
    }
}

void netloop_descriptor_freed(netloop_t *nl)
{
    if (nl->accept_paused) {
        nl->accept_resume_ms = 0; /* at the end of this iteration (netloop_tick) */
        loop_deadline(nl->loop, 0);
    }
}

/* ---- Rotating accepts (several worker processes) ----
 * EPOLLEXCLUSIVE wakes the first epoll set in the listener's wait queue that has a thread
 * waiting, and that order is the order of registration: an idle server would give every
 * connection to the same loop of the same worker. With several workers (--processes), a loop
 * that accepted takes its listener out of its set and adds it back, which puts it at the end of
 * the queue: connections go round the loops of all workers. Two epoll_ctl calls per accepting
 * wake-up, not per request; a failed add pauses accepting as for want of memory. */
static void accept_rotate(netloop_t *nl, listener_t *ls)
{
    if (!ls->watched || loop_del(nl->loop, &ls->watch) < 0)
        return;
    if (loop_add(nl->loop, &ls->watch, EPOLLIN | EPOLLEXCLUSIVE) == 0)
        return;
    ls->watched = false;
    accept_retry_later(nl, loop_now(nl->loop));
}

/* ---- Counting the accept queue ----
 * An accept4 that finds the queue empty is not cheap: the kernel allocates the new socket's
 * file before it looks and frees it (a deferred fput) after, and a loop that accepts until
 * EAGAIN makes one such call per accepting wake-up (half a call per request with
 * `Connection: close`). A TCP listener's TCP_INFO says how many connections wait
 * (tcpi_unacked is the accept queue's length for a listener; the kernel answers without
 * locking the socket), so the loop accepts that many and stops. The count may be stale both
 * ways: another loop may take one first (EAGAIN ends the batch, as before), and one that
 * arrives after it keeps the level-triggered listener readable for the next wait. -1: not
 * known (not a TCP listener): accept until EAGAIN. */
static int accept_queue_length(listener_t *ls)
{
    if (ls->queue_unknown)
        return -1;
    struct tcp_info info;
    socklen_t len = sizeof info;
    if (getsockopt(ls->watch.fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0 ||
        len < offsetof(struct tcp_info, tcpi_unacked) + sizeof info.tcpi_unacked ||
        info.tcpi_state != TCP_LISTEN) {
        ls->queue_unknown = true;
        return -1;
    }
    return info.tcpi_unacked > INT_MAX ? INT_MAX : (int)info.tcpi_unacked;
}

/* ---- Deferred accepts ----
 * A listener with TCP_DEFER_ACCEPT (--defer-accept, or systemd's DeferAcceptSec= on a socket it
 * passed) hands a connection over only once its first bytes came (or, without any, after the
 * kernel's wait): the request is most likely there already. Waiting for the event that
 * epoll_ctl(ADD) queues for it would cost every connection a second pass through epoll_wait
 * (under `Connection: close` load, 0.4 more waits per request). So the connections one
 * accepting event took are read by one task that the event posts, which runs right after it
 * (loop_post from the loop's own thread); a read that finds nothing waits for the event as
 * usual. The task takes the list first: a request it starts may run an extension that loses
 * the loop, and then the rest of the list is driven by their events, on whichever thread runs
 * the loop by then. */
static void start_deferred(loop_task_t *t)
{
    netloop_t *nl = (netloop_t *)((char *)t - offsetof(netloop_t, deferred_task));
    unsigned n = nl->n_deferred;
    conn_t *started[NETLOOP_ACCEPT_BATCH];
    memcpy(started, nl->deferred, n * sizeof *started);
    nl->n_deferred = 0;
    loop_t *l = nl->loop;
    for (unsigned i = 0; i < n && loop_current() == l; i++)
        conn_start_reading(started[i]);
}

/* Whether the listener defers accepts (its TCP_DEFER_ACCEPT, whoever set it). */
static bool listener_defers(int fd)
{
    int seconds = 0;
    socklen_t len = sizeof seconds;
    return getsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, &len) == 0 && seconds > 0;
}

static void accept_some(loop_watch_t *w, uint32_t events)
{
    (void)events;
    listener_t *ls = (listener_t *)w;
    netloop_t *nl = ls->nl;
    static log_limiter_t accept_failed = LOG_LIMITER_INIT;
    bool accepted = false;
    int queued = accept_queue_length(ls);
    /* At least one: a count of 0 under a readable listener (another loop was first, or the
     * count read between the queue's update and its counter's) must not leave the
     * level-triggered listener reported and never accepted. */
    int batch = queued < 0 ? NETLOOP_ACCEPT_BATCH : queued < 1 ? 1 : queued;
    if (batch > NETLOOP_ACCEPT_BATCH)
        batch = NETLOOP_ACCEPT_BATCH;
    for (int i = 0; i < batch && !nl->accept_paused; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(w->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_t *c = conn_accept(nl, fd, &peer, ls->local, ls->proxy_protocol);
            if (c && ls->deferred) /* at most NETLOOP_ACCEPT_BATCH per event (on_accept) */
                nl->deferred[nl->n_deferred++] = c;
            accepted = true;
            continue;
        }
        int err = errno;
        switch (err) {
        case EAGAIN: /* another loop took it, or nothing left */
            if (accepted && nl->srv->cfg->processes > 1)
                accept_rotate(nl, ls);
            return;
        case EINTR:
        case ECONNABORTED:
        /* Errors of the connection being accepted (accept(2)): that one is gone, go on. */
        case EPROTO: case ENOPROTOOPT: case ENETDOWN: case ENETUNREACH: case EHOSTDOWN:
        case EHOSTUNREACH: case ENONET: case EOPNOTSUPP: case EPERM:
            continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            accept_pause(nl, err);
            return;
        default:
            log_limited(&accept_failed, LOG_ERROR, "accept on listener %d: %s", w->fd, strerror(err));
            return;
        }
    }
    /* The whole counted queue taken (it fitted the batch): as EAGAIN would have said. */
    if (accepted && queued >= 0 && queued <= NETLOOP_ACCEPT_BATCH && nl->srv->cfg->processes > 1)
        accept_rotate(nl, ls);
}

static uint64_t netloop_tick(void *arg, uint64_t now)
{
    netloop_t *nl = arg;
    uint64_t next = conn_timers_run(nl, now); /* may close connections: resume after it */
    if (nl->accept_paused && now >= nl->accept_resume_ms)
        accept_resume(nl, now);
    if (nl->accept_paused && nl->accept_resume_ms < next)
        next = nl->accept_resume_ms;
    uint64_t parked = parked_tick(nl->srv->isapi, nl, now);
    if (parked < next)
        next = parked;
    if (nl->srv->status) {
        uint64_t status = status_loop_tick(nl->srv->status, nl, now);
        if (status < next)
            next = status;
    }
    return next;
}

/* n_deferred is 0 between events: start_deferred, posted by the event that filled the list,
 * runs before the next one. */
static void on_accept(loop_watch_t *w, uint32_t events)
{
    netloop_t *nl = ((listener_t *)w)->nl;
    accept_some(w, events);
    if (nl->n_deferred)
        loop_post(nl->loop, &nl->deferred_task, start_deferred);
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return true;
}

static int listen_on(const listen_addr_t *la, const config_t *cfg)
{
    int fd = socket(la->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error("cannot listen on %s: socket: %s", la->text, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Several instances on one port (--reuse-port): the kernel spreads connections over them. */
    if (cfg->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        log_error("cannot listen on %s: SO_REUSEPORT: %s", la->text, strerror(errno));
        close(fd);
        return -1;
    }
    if (la->addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&la->addr, la->addr_len) < 0) {
        int e = errno;
        if (e == EADDRINUSE)
            log_error("cannot listen on %s: the address is already in use (another server on "
                      "that port?)", la->text);
        else
            log_error("cannot listen on %s: bind: %s", la->text, strerror(e));
        close(fd);
        return -1;
    }
    if (listen(fd, 4096) < 0) {
        log_error("cannot listen on %s: listen: %s", la->text, strerror(errno));
        close(fd);
        return -1;
    }
    /* The kernel rounds the time to its SYN-ACK retransmissions (1 s, then 2, 4, ...). */
    int defer = cfg->defer_accept_s > INT_MAX ? INT_MAX : (int)cfg->defer_accept_s;
    if (defer && setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer) < 0)
        log_warn("%s: cannot defer accepts (TCP_DEFER_ACCEPT: %s): connections are accepted "
                 "before their first bytes", la->text, strerror(errno));
    return fd;
}

void netloop_timers_init(netloop_t *nl, const config_t *cfg)
{
    timeq_init(&nl->tq_header, cfg->header_timeout_ms);
    timeq_init(&nl->tq_keepalive, cfg->keepalive_timeout_ms);
    timeq_init(&nl->tq_body, cfg->body_timeout_ms);
    timeq_init(&nl->tq_send, cfg->send_timeout_ms);
    timeq_init(&nl->tq_linger, LINGER_TIMEOUT_MS);
    timeq_init(&nl->tq_rate, body_rate_tick_ms(cfg->body_rate_window_ms));
    timeq_init(&nl->tq_send_rate, body_rate_tick_ms(cfg->send_rate_window_ms));
}

bool server_isapi_host_new(server_t *s)
{
    isapi_host_t *h = calloc(1, sizeof *h);
    isapi_loop_t *loops = calloc(s->n_loops, sizeof *loops);
    if (!h || !loops) {
        free(h);
        free(loops);
        return false;
    }
    *h = (isapi_host_t){
        .cfg = s->cfg,
        .pool = s->pool,
        .completions = s->completions,
        .extensions = s->extensions,
        .mime = s->mime,
        .router = s->router,
        .error_pages = s->error_pages,
        .access_log = s->access_log,
        .software = s->software,
        .stopping = &s->stopping,
        .unhealthy = &s->unhealthy,
        .loops = loops,
        .n_loops = s->n_loops,
    };
    s->isapi = h;
    s->handler = isapi_handler(h);
    return true;
}

bool server_status_init(server_t *s, struct status_board *shared)
{
    if (!shared) { /* one process: a board of one slot, this process's */
        shared = status_board_new(1, STATUS_MAX_EXTENSIONS);
        if (!shared) {
            log_error("cannot create the status board: %s", strerror(errno));
            return false;
        }
        s->status_board_owned = true;
    }
    s->status_board = shared;
    s->status_slot = status_board_claim(shared, getpid());
    if (!s->status_slot && !s->status_board_owned) {
        /* The master's board is full (more workers at once than it was made for): serve on,
         * with a page that shows this worker alone. */
        log_warn("the status board's %u slots are all taken: this worker's status page shows "
                 "itself only", status_board_max_workers(shared));
        return server_status_init(s, NULL);
    }
    if (!s->status_slot) {
        log_error("cannot take a slot of the status board: all %u are taken",
                  status_board_max_workers(shared));
        return false;
    }
    if (s->cfg->status_path) {
        s->status = status_new(s, s->status_board, s->status_slot);
        if (!s->status) {
            log_error("cannot start the status page: out of memory");
            return false;
        }
        s->status_handler = status_handler(s->status);
        log_info("status page at %s (JSON: %s?json), for %s", s->cfg->status_path,
                 s->cfg->status_path, s->cfg->n_status_allow ? "the --status-allow ranges"
                                                             : "loopback peers only");
    }
    return true;
}

int server_listeners_bind(const config_t *cfg, int fds[CONFIG_MAX_LISTEN])
{
    /* Socket activation: a socket systemd passed stands in for binding its address. */
    notify_listeners_t passed;
    if (notify_listeners_collect(&passed) < 0)
        return -1;
    size_t i;
    for (i = 0; i < cfg->n_listen; i++) {
        int fd = notify_listeners_take(&passed, &cfg->listen[i]);
        if (fd < 0)
            fd = listen_on(&cfg->listen[i], cfg);
        if (fd < 0)
            break;
        fds[i] = fd;
    }
    int rest = notify_listeners_check_all_taken(&passed); /* a passed socket no --listen names */
    if (i < cfg->n_listen || rest < 0) {
        while (i > 0)
            close(fds[--i]);
        return -1;
    }
    return (int)cfg->n_listen;
}

int server_init(server_t *s, config_t *cfg, const int *listen_fds, struct status_board *board)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    snprintf(s->software, sizeof s->software, "isapid/%s", ISAPID_VERSION);
    for (size_t i = 0; i < cfg->n_listen; i++)
        s->listen_fds[s->n_listen++] = listen_fds[i];
    s->mime = mime_load("/etc/mime.types");
    if (!s->mime)
        goto fail;
    s->router = router_new(cfg, 0); /* opens the root's descriptor, once for every thread */
    if (!s->router)
        goto fail;
    s->error_pages = errorpages_new(cfg, s->router, s->mime); /* NULL: the built-in pages */
    if (!isapi_init()) /* the address range of ECBs, reserved before any request */
        goto fail;
    if (cfg->access_log) {
        char err[256];
        s->access_log = accesslog_open(cfg->access_log, err, sizeof err);
        if (!s->access_log) {
            log_error("cannot open the access log %s: %s", cfg->access_log, err);
            goto fail;
        }
    }
    s->extensions = extensions_new();
    s->pool = pool_new("extension-call", "isapid-worker", cfg->workers_min, cfg->workers_max,
                       pool_share_max(cfg->workers_max, cfg->extension_share), WORKER_STACK_SIZE);
    s->completions = pool_new("completion", "isapid-compl", cfg->completion_workers_min,
                              cfg->completion_workers_max,
                              pool_share_max(cfg->completion_workers_max, cfg->extension_share),
                              WORKER_STACK_SIZE);
    if (!s->extensions || !s->pool || !s->completions) {
        log_error("cannot start the worker pool");
        goto fail;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s->n_loops = cfg->threads ? cfg->threads : (unsigned)(ncpu > 0 ? ncpu : 1);
    s->loops = calloc(s->n_loops, sizeof *s->loops);
    if (!s->loops)
        goto fail;
    for (unsigned i = 0; i < s->n_loops; i++) {
        netloop_t *nl = &s->loops[i];
        nl->srv = s;
        nl->index = i;
        nl->loop = loop_new();
        if (!nl->loop) {
            log_error("cannot create an event loop: %s", strerror(errno));
            goto fail;
        }
        netloop_timers_init(nl, cfg);
        loop_set_tick(nl->loop, netloop_tick, nl);
        for (size_t k = 0; k < s->n_listen; k++) {
            listener_t *ls = &nl->listeners[k];
            ls->watch.fd = s->listen_fds[k];
            ls->local = is_wildcard(&cfg->listen[k].addr) ? NULL : &cfg->listen[k].addr;
            ls->proxy_protocol = cfg->listen[k].proxy_protocol;
            ls->watch.on_event = on_accept;
            ls->nl = nl;
            /* EPOLLEXCLUSIVE: one loop wakes per incoming connection, not all of them. */
            if (loop_add(nl->loop, &ls->watch, EPOLLIN | EPOLLEXCLUSIVE) < 0) {
                log_error("cannot watch the listener: %s", strerror(errno));
                goto fail;
            }
            ls->registered = ls->watched = true;
            ls->deferred = listener_defers(ls->watch.fd);
        }
        nl->n_listeners = s->n_listen;
    }
    if (!server_isapi_host_new(s))
        goto fail;
    if (!server_status_init(s, board))
        goto fail;
    if (cfg->extensions_inline) {
        loop_t *loops[s->n_loops];
        for (unsigned i = 0; i < s->n_loops; i++)
            loops[i] = s->loops[i].loop;
        s->handoff = handoff_new(loops, s->n_loops, cfg->handoff_after_ms, WORKER_STACK_SIZE,
                                 isapi_call_taken);
        if (!s->handoff) {
            log_error("cannot create the loop hand-off watchdog");
            goto fail;
        }
    }
    return 0;
fail:
    server_free(s);
    return -1;
}

void server_reopen_logs(server_t *s)
{
    log_info("SIGUSR1: reopening the logs");
    char err[256];
    bool ok = true;
    if (log_open(s->cfg->error_log, err, sizeof err) < 0) {
        log_error("cannot reopen the error log %s: %s; still writing to the old file",
                  s->cfg->error_log, err);
        ok = false;
    }
    if (accesslog_reopen(s->access_log, err, sizeof err) < 0) {
        log_error("cannot reopen the access log %s: %s; still writing to the old file",
                  s->cfg->access_log, err);
        ok = false;
    }
    if (ok)
        log_info("logs reopened (error log %s, access log %s)",
                 s->cfg->error_log ? s->cfg->error_log : "standard error",
                 !s->cfg->access_log ? "off"
                 : strcmp(s->cfg->access_log, "-") == 0 ? "standard output"
                                                        : s->cfg->access_log);
}

static void *netloop_main(void *arg)
{
    netloop_t *nl = arg;
    char name[16];
    snprintf(name, sizeof name, "isapid-loop%u", nl->index % 1000);
    pthread_setname_np(pthread_self(), name);
    loop_run(nl->loop);
    return NULL;
}

int server_start(server_t *s)
{
    /* ISAPI filters: after the privileges drop, before any connection (src/isapi/filter.h). */
    bool filters_failed;
    s->isapi->filters = s->filters = filters_load(s->cfg, &filters_failed);
    if (filters_failed)
        return -1;
    s->handler = isapi_handler(s->isapi); /* with filters, every route goes to the ISAPI host */
    if (s->handoff) {
        int rc = handoff_start(s->handoff);
        if (rc < 0) {
            log_error("cannot start the loop hand-off watchdog: %s", strerror(-rc));
            return -1;
        }
    }
    /* Extensions run on these threads too: the same stack as the pool's workers. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
    for (unsigned i = 0; i < s->n_loops; i++) {
        int rc = pthread_create(&s->loops[i].thread, &attr, netloop_main, &s->loops[i]);
        if (rc != 0) {
            pthread_attr_destroy(&attr);
            log_error("cannot start event loop thread: %s", strerror(rc));
            return -1;
        }
        s->loops[i].started = true;
    }
    pthread_attr_destroy(&attr);
    return 0;
}

/* Shutdown stage 1, on each loop: no more accepts, idle connections closed, no keep-alive. */
static void drain_task(loop_task_t *t)
{
    netloop_t *nl = (netloop_t *)((char *)t - offsetof(netloop_t, drain_task));
    for (size_t k = 0; k < nl->n_listeners; k++) {
        listener_t *ls = &nl->listeners[k];
        int rc = ls->watched ? loop_del(nl->loop, &ls->watch) : 0;
        if (rc < 0) /* the listener is closed right after: it leaves the set then */
            log_warn("shutdown: cannot stop watching listener %d: epoll_ctl: %s", ls->watch.fd,
                     strerror(-rc));
        ls->registered = ls->watched = false;
    }
    nl->accept_paused = false;
    nl->draining = true;
    if (nl->srv->idle_linger_ms == 0)
        conn_close_idle(nl);
    atomic_fetch_add(&nl->srv->loops_drained, 1);
}

/* Stage 1b of a retirement, after the idle linger: close what is still idle. */
static void idle_task(loop_task_t *t)
{
    netloop_t *nl = (netloop_t *)((char *)t - offsetof(netloop_t, idle_task));
    conn_close_idle(nl);
}

/* Stage 2, after the grace period: cut whatever is left. */
static void force_task(loop_task_t *t)
{
    netloop_t *nl = (netloop_t *)((char *)t - offsetof(netloop_t, force_task));
    conn_close_all(nl);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void server_shutdown(server_t *s)
{
    atomic_store(&s->stopping, true);
    for (unsigned i = 0; i < s->n_loops; i++)
        loop_post(s->loops[i].loop, &s->loops[i].drain_task, drain_task);
    while (atomic_load(&s->loops_drained) < (int)s->n_loops)
        sleep_ms(5);
    for (size_t k = 0; k < s->n_listen; k++) {
        close(s->listen_fds[k]);
        s->listen_fds[k] = -1;
    }
    uint64_t deadline = clock_now_ms() + s->cfg->shutdown_grace_ms;
    if (s->idle_linger_ms) {
        uint64_t linger_end = clock_now_ms() + s->idle_linger_ms;
        while (atomic_load(&s->open_conns) > 0 && clock_now_ms() < linger_end &&
               clock_now_ms() < deadline)
            sleep_ms(10);
        for (unsigned i = 0; i < s->n_loops; i++)
            loop_post(s->loops[i].loop, &s->loops[i].idle_task, idle_task);
    }
    while (atomic_load(&s->open_conns) > 0 && clock_now_ms() < deadline)
        sleep_ms(10);
    int left = atomic_load(&s->open_conns);
    if (left > 0) {
        log_warn("shutdown: %d connection(s) still busy after the %u ms grace period; closing them",
                 left, s->cfg->shutdown_grace_ms);
        for (unsigned i = 0; i < s->n_loops; i++)
            loop_post(s->loops[i].loop, &s->loops[i].force_task, force_task);
        /* Connections whose extension still runs stay open until it returns; give them a moment. */
        uint64_t until = clock_now_ms() + 1000;
        while (atomic_load(&s->open_conns) > 0 && clock_now_ms() < until)
            sleep_ms(10);
    }
    for (unsigned i = 0; i < s->n_loops; i++)
        loop_stop(s->loops[i].loop);
    /* Helpers leave once their loops have stopped; a loop thread (or helper) still inside an
     * extension call is left behind, like a stuck worker. */
    bool loops_done = s->handoff ? handoff_stop(s->handoff, 1000) : true;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    for (unsigned i = 0; i < s->n_loops; i++) {
        if (s->loops[i].started && pthread_timedjoin_np(s->loops[i].thread, NULL, &until) != 0) {
            pthread_detach(s->loops[i].thread);
            loops_done = false;
        }
        s->loops[i].started = false;
    }
    bool calls_done = pool_stop(s->pool, 1000);
    bool workers_done = pool_stop(s->completions, 1000) && calls_done && loops_done;
    /* Extensions are told to unload off the event loops, after their requests are gone when
     * possible (TerminateExtension may sleep), each bounded like the requests were. */
    unsigned unload_ms = s->cfg->shutdown_grace_ms < UNLOAD_MIN_MS ? UNLOAD_MIN_MS
                                                                   : s->cfg->shutdown_grace_ms;
    unsigned stuck = extensions_terminate_all(s->extensions, unload_ms);
    /* TerminateFilter once every connection is gone and the call pool has stopped: a
     * connection's END_OF_NET_SESSION runs on that pool, after the connection is counted gone,
     * and may still be inside a filter when pool_stop gives up. */
    if (atomic_load(&s->open_conns) == 0 && calls_done) {
        filters_terminate(s->filters);
        s->filters = NULL;
        s->isapi->filters = NULL;
    } else if (s->filters) {
        log_warn("shutdown: %s; the filters are not terminated",
                 calls_done ? "connections still open" : "filter or extension calls still running");
    }
    s->extension_code_running = !workers_done || stuck > 0;
    s->clean = workers_done && stuck == 0 && atomic_load(&s->open_conns) == 0;
    if (!s->clean)
        log_warn("shutdown: extension work still running; exiting without waiting for it");
}

void server_free(server_t *s)
{
    if (s->loops && !s->clean && atomic_load(&s->stopping)) {
        /* Some extension thread may still reference requests, loops or the pool: leave them. */
        return;
    }
    for (size_t k = 0; k < s->n_listen; k++)
        if (s->listen_fds[k] >= 0)
            close(s->listen_fds[k]);
    if (s->loops) {
        for (unsigned i = 0; i < s->n_loops; i++) {
            conn_reap(&s->loops[i]);
            conn_spares_free(&s->loops[i]);
            loop_free(s->loops[i].loop);
        }
        free(s->loops);
    }
    /* A server that failed to start was never shut down: its pools' threads still wait for
     * work (pool_stop returns at once for a pool already stopped). */
    if (s->pool && pool_stop(s->pool, 1000))
        pool_free(s->pool);
    if (s->completions && pool_stop(s->completions, 1000))
        pool_free(s->completions);
    handoff_free(s->handoff);
    if (s->isapi) {
        for (unsigned i = 0; s->isapi->loops && i < s->n_loops; i++)
            isapi_loop_spares_free(&s->isapi->loops[i]);
        free(s->isapi->loops);
        free(s->isapi);
    }
    status_free(s->status); /* after the loops, which publish through it */
    if (s->status_board_owned)
        status_board_free(s->status_board);
    errorpages_free(s->error_pages); /* borrows the router */
    router_free(s->router); /* after the threads that route: loops, pools, hand-off helpers */
    if (s->extensions)
        extensions_free(s->extensions);
    if (s->access_log)
        accesslog_close(s->access_log);
    if (s->mime)
        mime_free(s->mime);
    memset(s, 0, sizeof *s);
}
