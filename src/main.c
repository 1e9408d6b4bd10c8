/* isapid: parse the configuration, start the server, wait for SIGTERM/SIGINT, shut down. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "crash.h"
#include "log.h"
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
    config_defaults(&cfg, executable_dir(exe_buf, sizeof exe_buf));
    config_status_t st = config_parse_args(&cfg, argc, argv);
    if (st != CONFIG_OK) {
        config_free(&cfg);
        return st == CONFIG_EXIT ? 0 : 2;
    }
    if (cfg.test_config) {
        printf("isapid: configuration OK\n");
        config_free(&cfg);
        return 0;
    }

    crash_handlers_install();

    /* Every connection is a descriptor, and pending sessions keep theirs: use all we may. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    /* Signals are taken synchronously by this thread; every thread started later inherits the
     * mask, so none of them is interrupted. Writes to closed sockets must not kill the server. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    server_t server;
    if (server_init(&server, &cfg) < 0 || server_start(&server) < 0) {
        server_free(&server);
        config_free(&cfg);
        return 1;
    }
    for (size_t i = 0; i < cfg.n_listen; i++)
        log_info("listening on http://%s/ (root %s, %u loop%s)", cfg.listen[i].text, cfg.root,
                 server.n_loops, server.n_loops == 1 ? "" : "s");

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    log_info("%s: shutting down (grace period %u ms)", strsignal(sig), cfg.shutdown_grace_ms);
    server_shutdown(&server);
    bool clean = server.clean;
    server_free(&server);
    if (clean)
        config_free(&cfg);
    log_info("stopped");
    return 0;
}
