/* isapid: parse the configuration, start the server, wait for SIGTERM/SIGINT, shut down. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "accesslog.h"
#include "config.h"
#include "crash.h"
#include "log.h"
#include "notify.h"
#include "privileges.h"
#include "server.h"

static char *executable_dir(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    return buf;
}

/* Exit status when shutdown ended with a thread still inside extension code (a call that
 * outlived the grace period, or TerminateExtension / DllMain(DLL_PROCESS_DETACH) that did not
 * return): docs/design.md, "Shutdown". */
#define EXIT_EXTENSION_STILL_RUNNING 3

/* Signals operators send by habit (reload, new binary): they have no meaning here yet, so
 * they are logged and ignored rather than left to kill the process. */
static const int ignored_signals[] = {SIGHUP, SIGUSR2};

/* Waits for SIGTERM or SIGINT and returns it; SIGUSR1 reopens the logs on the way, and the
 * ignored signals are logged, one line per signal per second (a loop sending them cannot flood
 * the log). */
static int wait_for_stop(const sigset_t *handled, server_t *server)
{
    log_limiter_t limiters[sizeof ignored_signals / sizeof ignored_signals[0]];
    for (size_t i = 0; i < sizeof limiters / sizeof limiters[0]; i++)
        limiters[i] = (log_limiter_t)LOG_LIMITER_INIT;
    for (;;) {
        int sig = 0;
        if (sigwait(handled, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (sig == SIGUSR1) {
            server_reopen_logs(server);
            continue;
        }
        for (size_t i = 0; i < sizeof ignored_signals / sizeof ignored_signals[0]; i++)
            if (ignored_signals[i] == sig)
                log_limited(&limiters[i], LOG_WARN, "SIG%s received: ignored (it has no meaning "
                            "for isapid yet; SIGTERM or SIGINT stops the server)",
                            sigabbrev_np(sig));
    }
}

int main(int argc, char **argv)
{
    char exe_buf[PATH_MAX];
    config_t cfg;
    config_defaults(&cfg, executable_dir(exe_buf, sizeof exe_buf));
    config_status_t st = config_parse_args(&cfg, argc, argv);
    if (st != CONFIG_OK) {
        config_free(&cfg);
        return st == CONFIG_EXIT ? 0 : 2;
    }
    log_set_level(cfg.log_level);
    if (cfg.test_config) {
        /* As nginx -t does: the files the server would write must open (for appending, never
         * truncated; created if missing, as the server would), and the user must exist.
         * Errors go to stderr. */
        char err[320];
        privileges_t user;
        accesslog_t *access = NULL;
        const char *failed = NULL;
        if (log_check(cfg.error_log, err, sizeof err) < 0)
            log_error("cannot open the error log %s: %s", failed = cfg.error_log, err);
        else if (cfg.access_log && !(access = accesslog_open(cfg.access_log, err, sizeof err)))
            log_error("cannot open the access log %s: %s", failed = cfg.access_log, err);
        else if (cfg.user && privileges_resolve(cfg.user, &user, err, sizeof err) < 0)
            log_error("--user %s: %s", failed = cfg.user, err);
        accesslog_close(access);
        if (failed) {
            fprintf(stderr, "isapid: configuration test failed\n");
            config_free(&cfg);
            return 2;
        }
        printf("isapid: configuration OK\n");
        config_free(&cfg);
        return 0;
    }

    char log_err[256];
    if (log_open(cfg.error_log, log_err, sizeof log_err) < 0) {
        log_error("cannot open the error log %s: %s", cfg.error_log, log_err);
        config_free(&cfg);
        return 1;
    }
    crash_handlers_install();

    /* Every connection is a descriptor, and pending sessions keep theirs: use all we may. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    /* Signals are taken synchronously by this thread; every thread started later inherits the
     * mask, so none of them is interrupted. Writes to closed sockets must not kill the server,
     * nor a SIGPIPE sent by hand: ignored, and blocked besides, so that an extension that
     * restores its default action still cannot let one through. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    for (size_t i = 0; i < sizeof ignored_signals / sizeof ignored_signals[0]; i++)
        sigaddset(&handled, ignored_signals[i]);
    sigaddset(&handled, SIGUSR1);
    sigaddset(&handled, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &handled, NULL);
    sigdelset(&handled, SIGPIPE);

    server_t server;
    /* The user is dropped after binding and opening the logs, before an extension can load. */
    if (server_init(&server, &cfg) < 0 || privileges_drop(&cfg) < 0 ||
        server_start(&server) < 0) {
        server_free(&server);
        config_free(&cfg);
        return 1;
    }
    for (size_t i = 0; i < cfg.n_listen; i++)
        log_info("listening on http://%s/ (root %s, %u loop%s)", cfg.listen[i].text, cfg.root,
                 server.n_loops, server.n_loops == 1 ? "" : "s");

    notify_ready("serving");
    int sig = wait_for_stop(&handled, &server);
    notify_stopping();
    log_info("%s: shutting down (grace period %u ms)", strsignal(sig), cfg.shutdown_grace_ms);
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
    if (clean)
        config_free(&cfg);
    log_info("stopped");
    return 0;
}
