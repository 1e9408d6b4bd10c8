/* A worker process: the server, its signals and the master's down pipe (src/master_worker.h). */
#define _GNU_SOURCE
#include "master_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "crash.h"
#include "log.h"
#include "notify.h"
#include "privileges.h"
#include "server.h"

size_t worker_disable_line(char *buf, size_t size, const char *path, const ext_file_id_t *id)
{
    int n = snprintf(buf, size, "disable\t%ju\t%ju\t%jd\t%ld\t%s\n", (uintmax_t)id->dev,
                     (uintmax_t)id->ino, (intmax_t)id->mtime.tv_sec, (long)id->mtime.tv_nsec, path);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* The health check: the master's "ping SEQ" posts a task to every loop; the last to run answers
 * "pong SEQ REQUESTS UNHEALTHY" (responses completed so far, and whether an extension reported
 * the worker unhealthy). A ping that comes while the previous one's tasks are still queued (a
 * loop that does not run them) is not answered: the master's timeout notices. */
typedef struct health_task {
    loop_task_t task;
    struct health *h;
} health_task_t;

typedef struct health {
    server_t *s;
    bool retire;          /* the master's "retire": stop, lingering for idle connections */
    int up_fd;
    health_task_t *tasks; /* one per loop */
    atomic_uint pending;  /* tasks of the current ping not yet run */
    unsigned long seq;    /* written by the main thread before the tasks are posted (and only
                           * once pending is 0 again); every task reads it before its
                           * decrement, so no read can meet the next ping's write */
} health_t;

static void on_health_task(loop_task_t *t)
{
    health_t *h = ((health_task_t *)t)->h;
    unsigned long seq = h->seq;
    if (atomic_fetch_sub(&h->pending, 1) != 1)
        return;
    uint64_t requests = 0;
    for (unsigned i = 0; i < h->s->n_loops; i++)
        requests += atomic_load_explicit(&h->s->loops[i].requests, memory_order_relaxed);
    char line[96];
    int n = snprintf(line, sizeof line, "pong %lu %ju %d\n", seq, (uintmax_t)requests,
                     atomic_load(&h->s->unhealthy) ? 1 : 0);
    ssize_t w = write(h->up_fd, line, (size_t)n);
    (void)w; /* the master gone: the down pipe says so */
}

static void health_ping(health_t *h, const char *line)
{
    unsigned long seq;
    if (!h->tasks || sscanf(line, "ping %lu", &seq) != 1 || atomic_load(&h->pending) != 0)
        return;
    h->seq = seq;
    atomic_store(&h->pending, h->s->n_loops);
    for (unsigned i = 0; i < h->s->n_loops; i++)
        loop_post(h->s->loops[i].loop, &h->tasks[i].task, on_health_task);
}

static void apply_disable_line(server_t *s, char *line)
{
    static log_limiter_t bad_line = LOG_LIMITER_INIT;
    uintmax_t dev, ino;
    intmax_t sec;
    long nsec;
    int path_at = 0;
    if (sscanf(line, "disable\t%ju\t%ju\t%jd\t%ld\t%n", &dev, &ino, &sec, &nsec, &path_at) != 4 ||
        path_at == 0 || line[path_at] != '/') {
        log_limited(&bad_line, LOG_ERROR, "worker: ignored a malformed line from the master: %.80s",
                    line);
        return;
    }
    ext_file_id_t id = {.dev = (dev_t)dev, .ino = (ino_t)ino,
                        .mtime = {.tv_sec = (time_t)sec, .tv_nsec = nsec}};
    if (!extensions_disable(s->extensions, line + path_at, &id))
        log_error("worker: out of memory disabling %s", line + path_at);
}

/* Reads what the master sent; false when its end closed (the master is gone). */
static bool read_master(health_t *h, int fd, char *buf, size_t size, size_t *len)
{
    for (;;) {
        ssize_t n = read(fd, buf + *len, size - 1 - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN;
        if (n == 0)
            return false;
        *len += (size_t)n;
        buf[*len] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            if (strncmp(line, "ping ", 5) == 0)
                health_ping(h, line);
            else if (strcmp(line, "retire") == 0)
                h->retire = true;
            else
                apply_disable_line(h->s, line);
            line = nl + 1;
        }
        *len -= (size_t)(line - buf);
        memmove(buf, line, *len);
        if (*len == size - 1)
            *len = 0; /* a line longer than any the master writes: dropped */
    }
}

/* Waits for a stop: SIGTERM/SIGINT (returned), SIGQUIT (leaves at once), the master gone
 * (SIGTERM returned); SIGUSR1 reopens the logs, the others are logged and ignored. */
static int wait_for_stop(health_t *h, int sfd, int down_fd)
{
    log_limiter_t ignored = LOG_LIMITER_INIT;
    char buf[8192];
    size_t len = 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = down_fd, .events = POLLIN}};
        if (poll(p, down_fd >= 0 ? 2 : 1, -1) < 0)
            continue;
        if (p[1].revents && down_fd >= 0 && !read_master(h, down_fd, buf, sizeof buf, &len)) {
            log_warn("worker %d: the master process is gone; stopping", (int)getpid());
            return SIGTERM;
        }
        if (h->retire)
            return SIGTERM;
        struct signalfd_siginfo si;
        if (!(p[0].revents & POLLIN) || read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
            continue;
        int sig = (int)si.ssi_signo;
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (sig == SIGQUIT) {
            log_info("SIGQUIT: stopping at once");
            _exit(0);
        }
        if (sig == SIGUSR1)
            server_reopen_logs(h->s);
        else if (down_fd >= 0)
            log_limited(&ignored, LOG_WARN, "worker %d: SIG%s received: ignored (signals are "
                        "for the master process, %d)", (int)getpid(), sigabbrev_np(sig),
                        (int)getppid());
        else
            log_limited(&ignored, LOG_WARN, "SIG%s received: ignored (%s)", sigabbrev_np(sig),
                        sig == SIGHUP ? "a reload needs the master process: --processes 1 or more"
                                      : "it has no meaning for isapid");
    }
}

int worker_run(config_t *cfg, const int *listen_fds, const worker_link_t *link)
{
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGQUIT);
    sigaddset(&handled, SIGHUP);
    sigaddset(&handled, SIGUSR1);
    sigaddset(&handled, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &handled, NULL);
    int sfd = signalfd(-1, &handled, SFD_CLOEXEC);
    if (sfd < 0) {
        log_error("cannot start: signalfd: %s", strerror(errno));
        for (size_t i = 0; i < cfg->n_listen; i++)
            close(listen_fds[i]);
        return 1;
    }
    crash_record_to(link->up_fd);
    if (link->down_fd >= 0)
        fcntl(link->down_fd, F_SETFL, O_NONBLOCK); /* read until EAGAIN: never waits */

    server_t server;
    /* The user is dropped after binding (the master's) and opening the logs, before an
     * extension can load (at its first request). */
    if (server_init(&server, cfg, listen_fds, link->board) < 0 || privileges_drop(cfg) < 0) {
        server_free(&server);
        close(sfd);
        return 1;
    }
    /* What rapid-fail protection disabled stays disabled from the first request on: before the
     * loops accept. */
    for (size_t i = 0; i < link->n_disabled; i++)
        extensions_disable(server.extensions, link->disabled_paths[i], &link->disabled_ids[i]);
    if (server_start(&server) < 0) {
        server_free(&server);
        close(sfd);
        return 1;
    }
    if (link->up_fd >= 0) {
        ssize_t w = write(link->up_fd, "ready\n", 6);
        (void)w; /* the master gone: the down pipe says so */
    } else {
        for (size_t i = 0; i < cfg->n_listen; i++)
            log_info("listening on http://%s/ (root %s, %u loop%s, one process: no master)",
                     cfg->listen[i].text, cfg->root, server.n_loops,
                     server.n_loops == 1 ? "" : "s");
        notify_ready("serving"); /* no master to say it */
    }

    health_t health = {.s = &server, .up_fd = link->up_fd};
    if (link->up_fd >= 0 && (health.tasks = calloc(server.n_loops, sizeof *health.tasks)))
        for (unsigned i = 0; i < server.n_loops; i++)
            health.tasks[i].h = &health;
    int sig = wait_for_stop(&health, sfd, link->down_fd);
    close(sfd);
    if (link->up_fd < 0)
        notify_stopping();
    if (health.retire) {
        /* Others serve on: a client's next request on an idle connection is still answered. */
        uint32_t linger = cfg->keepalive_timeout_ms < cfg->shutdown_grace_ms
                              ? cfg->keepalive_timeout_ms : cfg->shutdown_grace_ms;
        server.idle_linger_ms = linger / 2;
        log_info("worker %d retired: no new connections; idle ones are closed in %u ms, requests "
                 "in flight get %u ms", (int)getpid(), (unsigned)server.idle_linger_ms,
                 cfg->shutdown_grace_ms);
    } else {
        log_info("%s: shutting down (grace period %u ms)", strsignal(sig), cfg->shutdown_grace_ms);
    }
    server_shutdown(&server);
    if (server.extension_code_running) {
        /* A thread is still inside an extension: exit() would run the libraries' destructors
         * and atexit handlers under it. Both logs are written with one write(2) per line, so
         * there is nothing buffered to flush first. */
        log_warn("stopped with extension code still running (exit status %d)",
                 EXIT_EXTENSION_STILL_RUNNING);
        _exit(EXIT_EXTENSION_STILL_RUNNING);
    }
    bool clean = server.clean;
    server_free(&server);
    if (clean || atomic_load(&health.pending) == 0)
        free(health.tasks); /* else a stuck loop may still run its task */
    if (clean)
        config_free(cfg);
    log_info("stopped");
    return 0;
}
