/* The master process (--processes N, N >= 1): binds the listeners, never loads an extension,
 * forks N worker processes (src/master_worker.h) that inherit the listeners and serve on them,
 * and supervises them from one small loop of its own (a signalfd and the workers' up pipes; no
 * timers but the start-up back-off).
 *
 *  - A worker that dies is logged in one line (pid, signal or exit status, and the extension and
 *    request its crash record named) and replaced at once; the listeners stay open in the master
 *    and the other workers, so no connection is refused meanwhile.
 *  - Rapid-fail protection: crashes are counted per extension (by its path, for the file it
 *    is: a changed file starts a new count); cfg->rapid_fail_crashes of them within
 *    cfg->rapid_fail_window_ms disable the extension in every worker (the running ones over
 *    their down pipes, new ones from the list they are forked with) until its file changes or a
 *    reload. Crashes outside extension code are counted apart and disable nothing.
 *  - SIGTERM/SIGINT: every worker stops gracefully; SIGQUIT: at once; SIGUSR1 is forwarded
 *    (log reopen); SIGHUP re-reads the configuration (argv again, with --test-config's rules; a
 *    bad one keeps the old and logs why), starts a new generation of workers with it and, once
 *    every one of them is ready, stops the old ones gracefully.
 *
 * Everything that must outlive a worker (crash counts and the disabled list:
 * src/master_rapidfail.h) lives here. */
#ifndef ISAPID_MASTER_H
#define ISAPID_MASTER_H

#include "config.h"

/* Runs the master until the last worker has stopped; returns the process's exit status (the
 * highest of the last workers', 1 when the first ones could not start). cfg (parsed from argc,
 * argv with exe_dir as config_defaults took it) is owned by the master from here on: a reload
 * replaces it. Signals must be blocked already (main.c). */
int master_run(config_t *cfg, const char *exe_dir, int argc, char **argv);

#endif
