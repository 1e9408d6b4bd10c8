/* One worker process: today's server (loops, pools, extensions) on listeners it inherited, and
 * its side of the two pipes to the master (src/master.h). Also the whole server of the
 * single-process mode (--processes 0), with no master and no pipes.
 *
 * The pipes carry lines of text, each written with one write(2) of fewer than PIPE_BUF bytes:
 *   worker → master (up):   "ready\n" once the loops run; crash records (src/core/crash.h);
 *                           "pong SEQ REQUESTS UNHEALTHY\n" once every loop ran the ping's
 *                           task (responses so far; 1 when HSE_REQ_REPORT_UNHEALTHY was called)
 *   master → worker (down): "disable\tDEV\tINO\tSEC\tNSEC\tPATH\n": rapid-fail protection
 *                           disabled the extension at PATH while its file is that one;
 *                           "ping SEQ\n": the health check (every second);
 *                           "retire\n": stop gracefully while other workers serve (a reload,
 *                           a recycle): idle keep-alive connections linger half the keep-alive
 *                           timeout (at most half the grace period), so a client's next request
 *                           is answered (Connection: close) rather than cut
 * The master's end of the down pipe closing (the master died) stops the worker gracefully. */
#ifndef ISAPID_MASTER_WORKER_H
#define ISAPID_MASTER_WORKER_H

#include <stddef.h>

#include "config.h"
#include "extension.h"

/* Exit status when shutdown ended with a thread still inside extension code (a call that
 * outlived the grace period, or TerminateExtension / DllMain(DLL_PROCESS_DETACH) that did not
 * return): docs/design.md, "Shutdown". */
#define EXIT_EXTENSION_STILL_RUNNING 3

typedef struct worker_link {
    int up_fd;   /* write end of the up pipe; -1 = no master */
    int down_fd; /* read end of the down pipe; -1 = no master */
    /* Extensions disabled when the worker starts (the master's list, borrowed). */
    const char *const *disabled_paths;
    const ext_file_id_t *disabled_ids;
    size_t n_disabled;
    struct status_board *board; /* the master's (src/statusboard.h); NULL: one of its own */
} worker_link_t;

/* Runs the server on cfg->n_listen listeners (owned from here on) until SIGTERM/SIGINT
 * (graceful), SIGQUIT (at once) or the master's end of the down pipe closing. Signals must be
 * blocked in the calling thread already (main.c). Returns the process's exit status: 0, 1 when
 * the server could not start, EXIT_EXTENSION_STILL_RUNNING (then it has not returned: it left
 * with _exit). */
int worker_run(config_t *cfg, const int *listen_fds, const worker_link_t *link);

/* The down pipe's line for a disabled extension, into buf; its length, or 0 when it does not
 * fit (a path that long is not disabled in running workers, only in new ones). */
size_t worker_disable_line(char *buf, size_t size, const char *path, const ext_file_id_t *id);

#endif
