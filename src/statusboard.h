/* The status board: the numbers the status page shows (src/status.h), in memory every process of
 * the server shares, so that any worker's page shows every worker.
 *
 * Layout. One MAP_SHARED anonymous mapping: a table of extensions (by path: what the master
 * counts for each, its crashes and whether it is disabled) and one slot per worker process. A
 * slot holds the worker's pid, when it started, its RSS, its pools' use, one block per event loop
 * (requests served, connections by state, parked sessions), and one entry per extension of the
 * table (loaded here, requests, in flight).
 *
 * Writers. Each number has one writer at a time: a loop's block is stored by that loop's thread,
 * the rest of a slot by one loop of the worker at a time (status.c samples on the loops' ticks),
 * the extension table's crash counts and disabled flags by the master. Every field is an atomic written and read with
 * relaxed order: a reader may see one number a tick older than its neighbour, never a torn one.
 * Nothing on the request path locks or makes a system call; adding an extension to the table
 * (once per extension and worker) takes the board's process-shared robust mutex.
 *
 * How the master uses it (src/master.c, once it exists; until then server_init makes a board of
 * one slot for the single process: server_status_init in src/server.h):
 *   1. status_board_new(max_workers, max_extensions) before the first fork, so every worker
 *      inherits the same mapping;
 *   2. each worker claims its slot when it starts (server_status_init(server, board) calls
 *      status_board_claim(board, getpid())) and publishes into it from then on;
 *   3. after waitpid() reports a worker gone (any exit, any signal), the master calls
 *      status_board_release(board, pid): the slot is free for the replacement, and the dead
 *      worker's numbers leave the page;
 *   4. the master records crashes with status_board_ext_crashed() and rapid-fail decisions with
 *      status_board_ext_set_disabled(), by the extension's path;
 *   5. status_board_free() when the master exits (each worker's copy of the mapping goes with it).
 *
 * Ownership: the creator owns the board; status_slot_t pointers stay valid until the board is
 * freed. */
#ifndef ISAPID_STATUSBOARD_H
#define ISAPID_STATUSBOARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Event loops of one worker that publish; loops past it are left out of the page (the
 * configuration allows --threads up to this). */
#define STATUS_MAX_LOOPS 1024u
/* Extensions a board made by the server has room for (more are left off the page). */
#define STATUS_MAX_EXTENSIONS 256u
/* An extension path longer than this is shown cut. */
#define STATUS_PATH_MAX 512u

typedef struct status_board status_board_t;
typedef struct status_slot status_slot_t;

/* NULL (errno set) when the mapping cannot be made. max_workers, max_extensions: at least 1. */
status_board_t *status_board_new(unsigned max_workers, unsigned max_extensions);
void status_board_free(status_board_t *b);

/* The slot of worker pid, emptied; NULL when every slot is taken. */
status_slot_t *status_board_claim(status_board_t *b, pid_t pid);
/* The master, after waitpid: pid's slot becomes free. False when pid had none. */
bool status_board_release(status_board_t *b, pid_t pid);

/* The index of path in the extension table, added when new (any process); -1 when the table is
 * full (the extension is then left off the page). */
int status_board_ext_index(status_board_t *b, const char *path);
/* The master's fields of an extension, by path (added when new). */
void status_board_ext_crashed(status_board_t *b, const char *path);
void status_board_ext_set_disabled(status_board_t *b, const char *path, bool disabled);

/* ---- a worker's numbers (written by the worker that claimed the slot) ---- */

/* One event loop, sampled (by that loop's thread). */
typedef struct status_loop_sample {
    uint64_t requests;                    /* responses completed since the worker started */
    uint32_t active, reading, writing, idle; /* connections: all, and by state */
    uint32_t parked;                      /* sessions left pending (HSE_STATUS_PENDING) */
    int64_t parked_oldest;                /* wall-clock seconds when the oldest began; 0: none */
} status_loop_sample_t;

typedef struct status_pool_sample {
    uint32_t busy, threads, max;
} status_pool_sample_t;

void status_slot_set_loops(status_slot_t *s, unsigned n_loops);
void status_slot_publish_loop(status_slot_t *s, unsigned loop, const status_loop_sample_t *v);
/* Between samples: only the loop's count of responses. */
void status_slot_publish_requests(status_slot_t *s, unsigned loop, uint64_t requests);
void status_slot_publish_pools(status_slot_t *s, const status_pool_sample_t *calls,
                               const status_pool_sample_t *completions);
void status_slot_publish_rss(status_slot_t *s, uint64_t rss_bytes);
void status_slot_publish_ext(status_slot_t *s, int ext_index, bool loaded, uint64_t requests,
                             uint32_t in_flight);

/* ---- what the page reads (any process) ---- */

typedef struct status_worker {
    pid_t pid;
    uint64_t start_ms;                /* CLOCK_MONOTONIC, the same clock in every process */
    uint64_t rss_bytes;
    status_loop_sample_t total;       /* its loops summed (parked_oldest: the oldest of them) */
    status_pool_sample_t calls, completions;
} status_worker_t;

typedef struct status_extension {
    char path[STATUS_PATH_MAX];
    unsigned loaded;                  /* workers that have it loaded */
    uint64_t requests;                /* all workers' */
    uint32_t in_flight;
    uint32_t crashes;                 /* the master's count */
    bool disabled;
} status_extension_t;

/* The workers with a slot, at most max, in slot order; returns how many. */
unsigned status_board_workers(status_board_t *b, status_worker_t *out, unsigned max);
/* The extensions of the table, at most max, in the order they were added; returns how many. */
unsigned status_board_extensions(status_board_t *b, status_extension_t *out, unsigned max);
unsigned status_board_max_workers(const status_board_t *b);
unsigned status_board_max_extensions(const status_board_t *b);

#endif
