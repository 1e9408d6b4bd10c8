/* The master process: workers, their deaths, rapid-fail protection, signals (src/master.h).
 *
 * Single-threaded: one poll over the signalfd and the workers' up pipes. Workers are objects of
 * their own (pointers stay valid until the worker is reaped); the master's ends of the pipes
 * are non-blocking, so a worker that stops reading can never stall the master. */
#define _GNU_SOURCE
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "log.h"
#include "master_rapidfail.h"
#include "master_worker.h"
#include "notify.h"
#include "server.h"
#include "statusboard.h"

/* A worker that exits before it said "ready" (a start-up failure: the access log cannot be
 * opened, memory...) is started again only after this long, so a failure that persists costs
 * one fork a second, not a spin. */
#define RESPAWN_BACKOFF_MS 1000
/* The health check's period: a ping to every worker, and the recycling limits looked at. */
#define HEALTH_INTERVAL_MS 1000
/* A worker not ready after this long is killed, and counts as a start-up failure (IIS's
 * startupTimeLimit, 90 s). */
#define STARTUP_LIMIT_MS 90000

typedef struct worker {
    pid_t pid;
    int up_fd, down_fd;     /* the master's ends; -1 once closed */
    unsigned generation;    /* the configuration it runs (one more per reload) */
    bool ready;             /* said "ready": its loops accept */
    bool stopping;          /* told to stop (shutdown, retirement): its exit is expected */
    char buf[4096];         /* the up pipe's partial line */
    size_t len;
    uint64_t started_ms;
    uint64_t last_pong_ms;  /* its loops last answered the health check (or it became ready) */
    bool recycling;         /* its replacement is starting */
    pid_t replaces;         /* a recycled worker this one replaces once ready; 0 = none */
    int crash_sig;          /* from its crash record; 0 = none */
    char module[1024];      /* "" = the server's own code */
    char target[2048];
} worker_t;

typedef struct master {
    config_t *cfg;
    const char *exe_dir;
    int argc;
    char **argv;
    int listen_fds[CONFIG_MAX_LISTEN];
    size_t n_listen;
    int sfd;
    worker_t **workers;
    size_t n_workers, cap;
    unsigned generation;
    bool starting;          /* the first generation is not ready yet: a failure stops all */
    bool reloading;         /* a new generation starts: the older ones retire once it is ready */
    bool stopping;
    int exit_status;
    unsigned respawn_due;   /* workers to start at respawn_at_ms (after a start-up failure) */
    uint64_t respawn_at_ms;
    rapidfail_t crashes;    /* per extension file (src/master_rapidfail.h) */
    unsigned long server_crashes;
    uint64_t health_at_ms;  /* the next health check */
    unsigned long ping_seq;
    status_board_t *board;  /* the status page's numbers, shared with every worker (NULL: none) */
} master_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- starting workers ---- */

/* In the child, right after fork: it keeps only what is its own. Never returns. */
static void worker_child(master_t *m, int up_w, int down_r)
{
    close(m->sfd);
    for (size_t i = 0; i < m->n_workers; i++) {
        if (m->workers[i]->up_fd >= 0)
            close(m->workers[i]->up_fd);
        if (m->workers[i]->down_fd >= 0)
            close(m->workers[i]->down_fd);
    }
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD); /* the master's: an extension's children are its business */
    pthread_sigmask(SIG_UNBLOCK, &chld, NULL);

    size_t n = 0;
    for (rapidfail_entry_t *c = m->crashes.entries; c; c = c->next)
        n += c->disabled;
    const char *paths[n ? n : 1];
    ext_file_id_t ids[n ? n : 1];
    n = 0;
    for (rapidfail_entry_t *c = m->crashes.entries; c; c = c->next)
        if (c->disabled) {
            paths[n] = c->path;
            ids[n++] = c->id;
        }
    worker_link_t link = {.up_fd = up_w, .down_fd = down_r, .disabled_paths = paths,
                          .disabled_ids = ids, .n_disabled = n, .board = m->board};
    int fds[CONFIG_MAX_LISTEN];
    memcpy(fds, m->listen_fds, sizeof fds);
    exit(worker_run(m->cfg, fds, &link));
}

static worker_t *worker_spawn(master_t *m)
{
    if (m->n_workers == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 8;
        worker_t **grown = realloc(m->workers, cap * sizeof *grown);
        if (!grown)
            return NULL;
        m->workers = grown;
        m->cap = cap;
    }
    worker_t *w = calloc(1, sizeof *w);
    int up[2] = {-1, -1}, down[2] = {-1, -1};
    if (!w || pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0) {
        log_error("cannot start a worker process: %s", strerror(errno));
        goto fail;
    }
    fcntl(up[0], F_SETFL, O_NONBLOCK);
    fcntl(down[1], F_SETFL, O_NONBLOCK);
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cannot start a worker process: fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        worker_child(m, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    *w = (worker_t){.pid = pid, .up_fd = up[0], .down_fd = down[1], .generation = m->generation,
                    .started_ms = now_ms()};
    m->workers[m->n_workers++] = w;
    return w;
fail:
    for (int i = 0; i < 2; i++) {
        if (up[i] >= 0)
            close(up[i]);
        if (down[i] >= 0)
            close(down[i]);
    }
    free(w);
    return NULL;
}

/* Starts n workers; those that cannot be started are tried again after the back-off. */
static void workers_spawn(master_t *m, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!worker_spawn(m)) {
            m->respawn_due += n - i;
            m->respawn_at_ms = now_ms() + RESPAWN_BACKOFF_MS;
            return;
        }
}

static void pids_text(master_t *m, unsigned generation, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n_workers && len < size; i++)
        if (m->workers[i]->generation == generation && !m->workers[i]->stopping)
            len += (size_t)snprintf(buf + len, size - len, "%s%d", len ? " " : "",
                                    (int)m->workers[i]->pid);
}

/* Retirement (a reload, a recycle): "retire" on the down pipe, SIGTERM when that fails. */
static void worker_retire(worker_t *w)
{
    w->stopping = true;
    if (w->down_fd < 0 || write(w->down_fd, "retire\n", 7) != 7)
        kill(w->pid, SIGTERM);
}

/* A worker said "ready": when its whole generation is, the start (or the reload) is over. */
static void generation_check(master_t *m)
{
    unsigned ready = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        ready += m->workers[i]->generation == m->generation && m->workers[i]->ready &&
                 !m->workers[i]->stopping;
    if (ready < m->cfg->processes)
        return;
    char pids[512];
    pids_text(m, m->generation, pids, sizeof pids);
    if (m->starting) {
        m->starting = false;
        notify_ready("serving");
        for (size_t i = 0; i < m->cfg->n_listen; i++)
            log_info("listening on http://%s/ (root %s, %u worker process%s: %s)",
                     m->cfg->listen[i].text, m->cfg->root, m->cfg->processes,
                     m->cfg->processes == 1 ? "" : "es", pids);
    }
    if (m->reloading) {
        m->reloading = false;
        unsigned retired = 0;
        for (size_t i = 0; i < m->n_workers; i++) {
            worker_t *w = m->workers[i];
            if (w->generation != m->generation && !w->stopping) {
                worker_retire(w);
                retired++;
            }
        }
        log_info("reload: new worker process%s ready (%s); %u old one%s finish their requests "
                 "and stop", m->cfg->processes == 1 ? "" : "es", pids, retired,
                 retired == 1 ? "" : "s");
        notify_ready("reloaded");
    }
}

/* ---- what workers say, and how they end ---- */


static worker_t *worker_by_pid(master_t *m, pid_t pid)
{
    for (size_t i = 0; i < m->n_workers; i++)
        if (m->workers[i]->pid == pid)
            return m->workers[i];
    return NULL;
}

/* Overlapped recycling, as IIS's: the replacement starts first; once it is ready the old worker
 * stops accepting, finishes its requests within the grace period and exits. */
static void worker_recycle(master_t *m, worker_t *w, const char *why)
{
    if (w->recycling || w->stopping || m->stopping)
        return;
    worker_t *next = worker_spawn(m);
    if (!next)
        return; /* logged; tried again at the next health check */
    w->recycling = true;
    next->replaces = w->pid;
    log_info("worker %d is recycled (%s): worker %d starts, then the old one stops", (int)w->pid,
             why, (int)next->pid);
}

/* Private memory (KiB) of a worker, from /proc; 0 when unknown. */
static unsigned long private_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "re");
    unsigned long total = 0, kib;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if ((sscanf(line, "Private_Clean: %lu kB", &kib) == 1 ||
             sscanf(line, "Private_Dirty: %lu kB", &kib) == 1))
            total += kib;
    fclose(f);
    return total;
}

/* Every HEALTH_INTERVAL_MS: pings, the recycling limits, and workers whose loops stopped
 * answering (killed and replaced: one that does not run its loops cannot drain either). */
static void health_check(master_t *m)
{
    uint64_t now = now_ms();
    const config_t *cfg = m->cfg;
    char ping[32];
    int n = snprintf(ping, sizeof ping, "ping %lu\n", ++m->ping_seq);
    /* Only the workers there at `now`: a replacement started below (a recycle, a stuck
     * worker's) is appended to the array and is younger than `now`. */
    size_t n_before = m->n_workers;
    for (size_t i = 0; i < n_before; i++) {
        worker_t *w = m->workers[i];
        if (!w->ready && !w->stopping && now > w->started_ms &&
            now - w->started_ms > STARTUP_LIMIT_MS) {
            log_error("worker %d is not ready after %d s: killed", (int)w->pid,
                      STARTUP_LIMIT_MS / 1000);
            kill(w->pid, SIGKILL); /* its end is a start-up failure's */
            continue;
        }
        if (!w->ready || w->stopping)
            continue;
        if (cfg->health_timeout_s && now - w->last_pong_ms > cfg->health_timeout_s * 1000ull) {
            worker_t *next = worker_spawn(m);
            log_error("worker %d has not answered the health check for %u s (a loop is stuck): "
                      "killed%s%d", (int)w->pid, cfg->health_timeout_s,
                      next ? "; replaced by worker " : "", next ? (int)next->pid : 0);
            if (!next) {
                m->respawn_due++;
                m->respawn_at_ms = now + RESPAWN_BACKOFF_MS;
            }
            w->stopping = true;
            kill(w->pid, SIGKILL);
            continue;
        }
        if (cfg->recycle_time_s && now - w->started_ms >= cfg->recycle_time_s * 1000ull)
            worker_recycle(m, w, "its uptime reached --recycle-time");
        else if (cfg->recycle_memory_mib &&
                 private_kib(w->pid) > (unsigned long)cfg->recycle_memory_mib * 1024ul)
            worker_recycle(m, w, "its private memory exceeds --recycle-memory");
        if (w->down_fd >= 0 && write(w->down_fd, ping, (size_t)n) != n) {
            static log_limiter_t ping_failed = LOG_LIMITER_INIT;
            log_limited(&ping_failed, LOG_WARN, "cannot ping worker %d: %s", (int)w->pid,
                        errno == EAGAIN ? "its pipe is full" : strerror(errno));
        }
    }
}

static void worker_line(master_t *m, worker_t *w, char *line)
{
    if (strcmp(line, "ready") == 0) {
        w->ready = true;
        w->last_pong_ms = now_ms();
        worker_t *old = w->replaces ? worker_by_pid(m, w->replaces) : NULL;
        if (old && !old->stopping) {
            worker_retire(old);
            log_info("worker %d is ready: recycled worker %d finishes its requests and stops",
                     (int)w->pid, (int)old->pid);
        }
        generation_check(m);
        return;
    }
    unsigned long seq;
    unsigned long long requests;
    int unhealthy;
    if (sscanf(line, "pong %lu %llu %d", &seq, &requests, &unhealthy) == 3) {
        (void)seq; /* any answer shows the loops run: pings are not told apart */
        w->last_pong_ms = now_ms();
        if (unhealthy)
            worker_recycle(m, w, "an extension reported it unhealthy (HSE_REQ_REPORT_UNHEALTHY)");
        else if (m->cfg->recycle_requests && requests >= m->cfg->recycle_requests)
            worker_recycle(m, w, "it served --recycle-requests requests");
        return;
    }
    if (strncmp(line, "crash\t", 6) == 0) {
        /* "crash\tSIG\tMODULE\tTARGET": MODULE and TARGET may be empty. */
        char *sig = line + 6, *module = strchr(sig, '\t');
        char *target = module ? strchr(module + 1, '\t') : NULL;
        if (!target)
            return;
        *module++ = '\0';
        *target++ = '\0';
        w->crash_sig = atoi(sig);
        snprintf(w->module, sizeof w->module, "%s", module);
        snprintf(w->target, sizeof w->target, "%s", target);
        /* A crash while serving a request: its loops ran, even if it died between starting them
         * and saying "ready" (the queued request it took first crashed it). It is replaced as a
         * serving worker, not taken for one that could not start (which, at start-up, would
         * stop the server). A recycled worker's replacement keeps the not-ready path: the old
         * worker serves on. */
        if ((w->module[0] || w->target[0]) && !w->replaces)
            w->ready = true;
        return;
    }
    log_warn("worker %d sent a line the master does not know: %.80s", (int)w->pid, line);
}

/* Reads what the worker wrote; at its end (the worker gone) the descriptor is closed. */
static void worker_read(master_t *m, worker_t *w)
{
    while (w->up_fd >= 0) {
        ssize_t n = read(w->up_fd, w->buf + w->len, sizeof w->buf - 1 - w->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close(w->up_fd);
            w->up_fd = -1;
            return;
        }
        w->len += (size_t)n;
        w->buf[w->len] = '\0';
        char *line = w->buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            worker_line(m, w, line);
            line = nl + 1;
        }
        w->len -= (size_t)(line - w->buf);
        memmove(w->buf, line, w->len);
        if (w->len == sizeof w->buf - 1)
            w->len = 0; /* longer than any line a worker writes: dropped */
    }
}

/* What crashed: a --filter's module (every request passes it) or an extension's. */
static bool module_is_filter(const config_t *cfg, const char *path)
{
    for (size_t i = 0; i < cfg->n_filters; i++)
        if (strcmp(cfg->filters[i].path, path) == 0)
            return true;
    return false;
}

static void disable_everywhere(master_t *m, const rapidfail_entry_t *c, unsigned crashes)
{
    char line[4096];
    size_t len = worker_disable_line(line, sizeof line, c->path, &c->id);
    for (size_t i = 0; i < m->n_workers && len; i++) {
        worker_t *w = m->workers[i];
        if (w->down_fd >= 0 && write(w->down_fd, line, len) != (ssize_t)len)
            log_error("cannot tell worker %d to disable %s: %s", (int)w->pid, c->path,
                      strerror(errno));
    }
    bool filter = module_is_filter(m->cfg, c->path);
    log_error("rapid-fail protection: %s %s crashed %u times within %u s: disabled in every "
              "worker (%s answer 503) until its file changes or a reload (SIGHUP)",
              filter ? "filter" : "extension", c->path, crashes,
              (unsigned)(m->cfg->rapid_fail_window_ms / 1000),
              filter ? "all requests" : "its URLs");
}

static void status_text(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
}

static void worker_ended(master_t *m, worker_t *w, int status)
{
    char how[64], what[3200];
    status_text(status, how, sizeof how);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (w->stopping) {
        if (m->stopping && code > m->exit_status) /* the last workers' statuses are the server's */
            m->exit_status = code;
        log_info("worker %d stopped (%s)", (int)w->pid, how);
        return;
    }
    if (w->module[0]) {
        rapidfail_entry_t *disabled;
        unsigned n = rapidfail_count(&m->crashes, w->module, m->cfg->rapid_fail_crashes,
                                     m->cfg->rapid_fail_window_ms, now_ms(), &disabled);
        if (m->board)
            status_board_ext_crashed(m->board, w->module);
        if (disabled) {
            disable_everywhere(m, disabled, n);
            if (m->board)
                status_board_ext_set_disabled(m->board, w->module, true);
        }
        snprintf(what, sizeof what, " in %s %s while serving %s (crash %u within %u s%s)",
                 module_is_filter(m->cfg, w->module) ? "filter" : "extension", w->module, w->target[0] ? w->target : "(no request known)", n,
                 (unsigned)(m->cfg->rapid_fail_window_ms / 1000),
                 m->cfg->rapid_fail_crashes && n >= m->cfg->rapid_fail_crashes ? ": disabled" : "");
    } else if (w->crash_sig) {
        m->server_crashes++;
        snprintf(what, sizeof what, " in the server, not in extension code (server crash %lu)",
                 m->server_crashes);
    } else {
        what[0] = '\0';
    }
    worker_t *replaced = w->replaces ? worker_by_pid(m, w->replaces) : NULL;
    if (!w->ready && replaced) {
        replaced->recycling = false; /* it serves on; recycled again at the next occasion */
        log_error("worker %d %s%s before it was ready: worker %d, to be recycled, serves on",
                  (int)w->pid, how, what, (int)replaced->pid);
        return;
    }
    if (!w->ready) {
        if (m->starting) {
            log_error("worker %d could not start (%s%s); stopping", (int)w->pid, how, what);
            m->exit_status = 1;
            return;
        }
        m->respawn_due++;
        m->respawn_at_ms = now_ms() + RESPAWN_BACKOFF_MS;
        log_error("worker %d %s%s before it was ready; another starts in %d ms", (int)w->pid, how,
                  what, RESPAWN_BACKOFF_MS);
        return;
    }
    worker_t *next = m->stopping ? NULL : worker_spawn(m);
    if (next)
        log_error("worker %d %s%s; worker %d replaces it", (int)w->pid, how, what, (int)next->pid);
    else
        log_error("worker %d %s%s", (int)w->pid, how, what);
    if (!next && !m->stopping) {
        m->respawn_due++;
        m->respawn_at_ms = now_ms() + RESPAWN_BACKOFF_MS;
    }
}

static void stop_all(master_t *m, int sig);

static void reap(master_t *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < m->n_workers; i++) {
            worker_t *w = m->workers[i];
            if (w->pid != pid)
                continue;
            m->workers[i] = m->workers[--m->n_workers];
            worker_read(m, w); /* its crash record, written before it died */
            if (m->board)
                status_board_release(m->board, pid); /* its numbers leave the page */
            if (w->up_fd >= 0)
                close(w->up_fd);
            if (w->down_fd >= 0)
                close(w->down_fd);
            bool start_failed = m->starting && !w->ready && !w->stopping;
            worker_ended(m, w, status);
            free(w);
            if (start_failed)
                stop_all(m, SIGTERM);
            break;
        }
    }
}

/* ---- signals ---- */

static void stop_all(master_t *m, int sig)
{
    if (!m->stopping) {
        notify_stopping();
        for (size_t k = 0; k < m->n_listen; k++)
            close(m->listen_fds[k]); /* the workers' copies keep them until they drain */
    }
    m->stopping = true;
    m->respawn_due = 0;
    for (size_t i = 0; i < m->n_workers; i++) {
        m->workers[i]->stopping = true;
        kill(m->workers[i]->pid, sig);
    }
}

static bool same_listeners(const config_t *a, const config_t *b)
{
    if (a->n_listen != b->n_listen)
        return false;
    for (size_t i = 0; i < a->n_listen; i++)
        if (strcmp(a->listen[i].text, b->listen[i].text) != 0)
            return false;
    return true;
}

static void reload(master_t *m)
{
    config_t next;
    config_defaults(&next, m->exe_dir);
    if (config_parse_args(&next, m->argc, m->argv) != CONFIG_OK) {
        log_error("SIGHUP: the configuration has errors (above); the running one is kept");
        config_free(&next);
        return;
    }
    if (next.access_log) {
        char err[256];
        accesslog_t *log = accesslog_open(next.access_log, err, sizeof err);
        if (!log) {
            log_error("SIGHUP: cannot open the access log %s: %s; the running configuration is "
                      "kept", next.access_log, err);
            config_free(&next);
            return;
        }
        accesslog_close(log);
    }
    if (!same_listeners(m->cfg, &next)) {
        log_warn("SIGHUP: the listen addresses changed; new ones take effect at a restart, the "
                 "bound ones are kept");
        memcpy(next.listen, m->cfg->listen, sizeof next.listen);
        next.n_listen = m->cfg->n_listen;
    }
    if (next.processes == 0) {
        log_warn("SIGHUP: --processes 0 (no master) takes effect at a restart; 1 worker started");
        next.processes = 1;
    }
    config_free(m->cfg);
    *m->cfg = next;
    notify_reloading();
    rapidfail_clear(&m->crashes); /* a reload enables every extension again */
    m->generation++;
    m->reloading = true;
    log_info("SIGHUP: configuration read again; starting %u new worker process%s",
             m->cfg->processes, m->cfg->processes == 1 ? "" : "es");
    workers_spawn(m, m->cfg->processes);
}

static void on_signal(master_t *m, int sig)
{
    static log_limiter_t ignored = LOG_LIMITER_INIT;
    switch (sig) {
    case SIGCHLD:
        reap(m);
        break;
    case SIGTERM:
    case SIGINT:
        log_info("%s: stopping the workers (grace period %u ms)", strsignal(sig),
                 m->cfg->shutdown_grace_ms);
        stop_all(m, SIGTERM);
        break;
    case SIGQUIT:
        log_info("SIGQUIT: stopping the workers at once");
        stop_all(m, SIGQUIT);
        break;
    case SIGHUP:
        if (!m->stopping)
            reload(m);
        break;
    case SIGUSR1: {
        /* The master's own lines go to the error log too: it reopens it as the workers do. */
        char err[256];
        if (m->cfg->error_log && log_open(m->cfg->error_log, err, sizeof err) < 0)
            log_error("cannot reopen the error log %s: %s; the master still writes to the old "
                      "file", m->cfg->error_log, err);
        for (size_t i = 0; i < m->n_workers; i++)
            kill(m->workers[i]->pid, SIGUSR1);
        break;
    }
    default:
        log_limited(&ignored, LOG_WARN, "SIG%s received: ignored (it has no meaning for isapid)",
                    sigabbrev_np(sig));
    }
}

int master_run(config_t *cfg, const char *exe_dir, int argc, char **argv)
{
    master_t m = {.cfg = cfg, .exe_dir = exe_dir, .argc = argc, .argv = argv, .starting = true,
                  .generation = 1, .health_at_ms = now_ms() + HEALTH_INTERVAL_MS};
    int n = server_listeners_bind(cfg, m.listen_fds);
    if (n < 0)
        return 1;
    m.n_listen = (size_t)n;
    /* Room for every worker of two generations (a reload, a recycle overlap) and then some; a
     * worker that finds no free slot keeps a board of its own (server_status_init). */
    m.board = status_board_new(cfg->processes * 4 + 8, STATUS_MAX_EXTENSIONS);
    if (!m.board)
        log_warn("cannot create the status board: %s; each worker's status page shows itself",
                 strerror(errno));
    sigset_t handled;
    sigemptyset(&handled);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&handled, sigs[i]);
    pthread_sigmask(SIG_BLOCK, &handled, NULL);
    m.sfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m.sfd < 0) {
        log_error("cannot start the master: signalfd: %s", strerror(errno));
        for (size_t k = 0; k < m.n_listen; k++)
            close(m.listen_fds[k]);
        return 1;
    }
    workers_spawn(&m, cfg->processes);
    if (m.respawn_due) /* not even the first ones could be forked */
        stop_all(&m, SIGTERM), m.exit_status = 1;

    while (!(m.stopping && m.n_workers == 0)) {
        struct pollfd p[1 + m.n_workers];
        worker_t *by_slot[1 + m.n_workers];
        size_t np = 0;
        p[np++] = (struct pollfd){.fd = m.sfd, .events = POLLIN};
        for (size_t i = 0; i < m.n_workers; i++)
            if (m.workers[i]->up_fd >= 0) {
                by_slot[np] = m.workers[i];
                p[np++] = (struct pollfd){.fd = m.workers[i]->up_fd, .events = POLLIN};
            }
        uint64_t now = now_ms(), wake = m.stopping ? UINT64_MAX : m.health_at_ms;
        if (m.respawn_due && m.respawn_at_ms < wake)
            wake = m.respawn_at_ms;
        int timeout = wake == UINT64_MAX ? -1 : now >= wake ? 0 : (int)(wake - now);
        if (poll(p, np, timeout) < 0 && errno != EINTR) {
            log_error("master: poll: %s", strerror(errno));
            break;
        }
        /* Up pipes first: a worker's crash record is read before its death is handled (reap
         * reads what is left besides). */
        for (size_t i = 1; i < np; i++)
            if (p[i].revents)
                worker_read(&m, by_slot[i]);
        struct signalfd_siginfo si;
        while (read(m.sfd, &si, sizeof si) == (ssize_t)sizeof si)
            on_signal(&m, (int)si.ssi_signo);
        if (!m.stopping && now_ms() >= m.health_at_ms) {
            m.health_at_ms = now_ms() + HEALTH_INTERVAL_MS;
            health_check(&m);
        }
        if (m.respawn_due && now_ms() >= m.respawn_at_ms && !m.stopping) {
            unsigned due = m.respawn_due;
            m.respawn_due = 0;
            workers_spawn(&m, due);
        }
    }
    close(m.sfd);
    if (!m.stopping)
        for (size_t k = 0; k < m.n_listen; k++)
            close(m.listen_fds[k]);
    for (size_t i = 0; i < m.n_workers; i++) {
        kill(m.workers[i]->pid, SIGKILL);
        free(m.workers[i]);
    }
    free(m.workers);
    rapidfail_clear(&m.crashes);
    status_board_free(m.board);
    log_info("stopped");
    return m.exit_status;
}
