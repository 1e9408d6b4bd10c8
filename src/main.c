/* isapid: parse the configuration, then run the master and its workers (src/master.h), or with
 * --processes 0 the server alone in this process (src/master_worker.h). */
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
#include "privileges.h"
#include "master.h"
#include "master_worker.h"
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

int main(int argc, char **argv)
{
    char exe_buf[PATH_MAX];
    config_t cfg;
    const char *exe_dir = executable_dir(exe_buf, sizeof exe_buf);
    config_defaults(&cfg, exe_dir);
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

    /* Signals are taken synchronously (a signalfd in the master and in each worker); every
     * thread started later inherits the mask, so none of them is interrupted. Writes to closed
     * sockets must not kill the server, nor a SIGPIPE sent by hand: ignored, and blocked
     * besides, so that an extension that restores its default action still cannot let one
     * through. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t handled;
    sigemptyset(&handled);
    int sigs[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&handled, sigs[i]);
    pthread_sigmask(SIG_BLOCK, &handled, NULL);

    int status;
    if (cfg.processes > 0) {
        status = master_run(&cfg, exe_dir, argc, argv);
    } else {
        int fds[CONFIG_MAX_LISTEN];
        worker_link_t alone = {.up_fd = -1, .down_fd = -1};
        /* worker_run frees cfg when nothing may use it any more. */
        return server_listeners_bind(&cfg, fds) < 0 ? 1 : worker_run(&cfg, fds, &alone);
    }
    config_free(&cfg);
    return status;
}
