/* The server: listeners, event loops (one thread each), the worker pool, the extension table,
 * and staged shutdown. One server_t per process, passed around (no globals). */
#ifndef ISAPID_SERVER_H
#define ISAPID_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "accesslog.h"
#include "config.h"
#include "handler.h"
#include "loop.h"
#include "mime.h"
#include "pool.h"
#include "timeq.h"

typedef struct server server_t;
typedef struct extensions extensions_t;
typedef struct conn conn_t;
typedef struct conn_head conn_head_t;
typedef struct conn_resp conn_resp_t;

typedef struct listener {
    loop_watch_t watch; /* fd shared by all loops (EPOLLEXCLUSIVE) */
    struct netloop *nl;
    bool registered;    /* this loop accepts on it (until shutdown) */
    bool watched;       /* in the loop's epoll set: registered and not watched = paused */
    const struct sockaddr_storage *local; /* the address it is bound to, when that is not a
                                           * wildcard: every connection's local address */
    bool proxy_protocol; /* connections start with a PROXY protocol header */
    bool queue_unknown;  /* TCP_INFO cannot count its accept queue (not a TCP listener) */
    bool deferred;       /* TCP_DEFER_ACCEPT: a connection is accepted once bytes came
                          * (server.c, "Deferred accepts") */
} listener_t;

#define NETLOOP_ACCEPT_BATCH 64 /* connections one accepting event takes at most */

/* One event loop and everything it owns. Only its own thread touches its fields, except
 * where noted. */
typedef struct netloop {
    server_t *srv;
    loop_t *loop;
    pthread_t thread;
    bool started;
    unsigned index;
    timeq_t tq_header, tq_keepalive, tq_body, tq_send, tq_linger;
    timeq_t tq_rate;          /* minimum body rate checks of waits without bytes (conn rate_timer) */
    timeq_t tq_send_rate;     /* minimum send rate checks of waits to write (src/http/sendrate.h) */
    listener_t listeners[CONFIG_MAX_LISTEN];
    size_t n_listeners;
    bool accept_paused;       /* out of descriptors: accepting resumes at accept_resume_ms
                               * (server.c, "Pausing accepts") */
    uint64_t accept_resume_ms;
    conn_t *conns;            /* every open connection of this loop (for shutdown) */
    conn_t *closed;           /* closed this iteration, freed by conn_reap */
    void *spare_in;           /* input buffers no connection holds: reads into a connection
                               * without one land in the first, and it is handed over only when
                               * bytes arrive, so idle connections hold no buffer */
    void *spare_hd;           /* head blocks (conn_head_t) no connection holds. Both lists are
                               * linked through their blocks' first bytes, at most CONN_SPARES (16)
                               * each (src/http/conn_buffers.c) */
    void *spare_rs;           /* response blocks (conn_resp_t) no connection holds (same lists) */
    _Atomic(void *) handy_rs; /* one more, for any thread: a handler's writer takes it with an
                               * atomic exchange (conn_resp_take), the loop puts one back */
    void *spare_conn;         /* conn_t blocks conn_reap kept for the next accepts (same lists) */
    void *spare_batch;        /* batch buffers no connection holds (src/http/conn_batch.c;
                               * same lists, at most one) */
    unsigned n_spare_in, n_spare_hd, n_spare_rs, n_spare_conn, n_spare_batch;
    bool draining;            /* shutdown began: no keep-alive, idle connections closed */
    _Atomic uint64_t requests; /* responses completed (written by this loop, read by the
                                * worker's health check: --recycle-requests, and the status
                                * page: src/status.h) */
    loop_task_t drain_task, idle_task, force_task, stop_task;
    /* Connections the accepting event in progress took from deferring listeners, read by
     * deferred_task right after it (server.c, "Deferred accepts"); empty between events. */
    conn_t *deferred[NETLOOP_ACCEPT_BATCH];
    unsigned n_deferred;
    loop_task_t deferred_task;
} netloop_t;

struct server {
    config_t *cfg;
    mime_table_t *mime;
    struct errorpages *error_pages; /* --error-page (src/http/errorpage.h); NULL: none */
    struct router *router;    /* routing's state: the root's descriptor, the caches (route.h) */
    accesslog_t *access_log;  /* NULL when off */
    pool_t *pool;             /* HttpExtensionProc calls off the loops (--workers) */
    pool_t *completions;      /* completion callbacks (--completion-workers) */
    struct handoff *handoff;  /* NULL when extensions run on the pool only */
    extensions_t *extensions;
    struct filters *filters;  /* ISAPI filters loaded by server_start (src/isapi/filter.h); NULL
                               * when none */
    struct isapi_host *isapi; /* what the ISAPI layer uses of the server (src/isapi/isapi_host.h) */
    handler_t handler;        /* serves extension routes: the ISAPI host's (src/http/handler.h) */
    handler_t status_handler; /* --status: the page's (src/status.h); respond NULL when off */
    struct status_board *status_board; /* the numbers of every worker (src/statusboard.h) */
    struct status_slot *status_slot;   /* this process's slot in it */
    bool status_board_owned;  /* created by server_init (one process), freed by server_free */
    struct status *status;    /* the page's publisher; NULL when --status is off */
    netloop_t *loops;
    unsigned n_loops;
    int listen_fds[CONFIG_MAX_LISTEN];
    size_t n_listen;
    atomic_int open_conns;    /* all loops; shutdown waits for 0 */
    atomic_bool stopping;
    atomic_bool unhealthy;    /* an extension sent HSE_REQ_REPORT_UNHEALTHY: the master
                               * recycles this worker at its next health check */
    atomic_int loops_drained; /* shutdown: loops that stopped accepting */
    uint32_t idle_linger_ms;  /* shutdown: idle keep-alive connections stay open this long
                              * first (a retiring worker: server_shutdown) */
    bool clean;               /* shutdown left no extension work running: safe to free */
    bool extension_code_running; /* shutdown: a thread is still inside extension code (a call
                                  * past the grace period, an unload call that did not return):
                                  * the process must leave with _exit, not exit() */
    char software[32];        /* "isapid/VERSION" */
};

/* Binds every listen address of cfg into fds, in cfg's order (a clear error for a port in use);
 * returns how many, or -1 with the reason logged (none left open). In a master, before the
 * workers are forked: they inherit the descriptors. */
int server_listeners_bind(const config_t *cfg, int fds[CONFIG_MAX_LISTEN]);
/* Build loops, pool, tables around the cfg->n_listen descriptors bound by server_listeners_bind
 * (the server owns them from here on, failure included: server_free closes them). */
int server_init(server_t *s, config_t *cfg, const int *listen_fds, struct status_board *board);
/* Start loop threads; returns at once. */
int server_start(server_t *s);
/* Graceful: stop accepting, close idle connections, wait up to the grace period for in-flight
 * requests, force-close the rest, TerminateExtension(HSE_TERM_MUST_UNLOAD) every extension.
 * With s->idle_linger_ms (a worker retired while others serve on), idle keep-alive connections
 * are closed only after that long (at most the grace period): a client that sends its next
 * request meanwhile gets it answered, with Connection: close, instead of a connection closed
 * under a request it was sending. */
void server_shutdown(server_t *s);
void server_free(server_t *s);
/* SIGUSR1: reopen the error log and the access log by name (logrotate renamed them); a log
 * that cannot be reopened keeps its old file, and the reason is logged. Safe while requests
 * run (log.h, accesslog.h). */
void server_reopen_logs(server_t *s);

/* The parts of server_init that the fuzz harnesses, which build a server by hand around one
 * loop and a socket pair, share with it.
 * netloop_timers_init: nl's timer queues, with the timeouts of cfg.
 * server_isapi_host_new: what the ISAPI layer uses of s (s->isapi, borrowed from s: its pools,
 * tables, router, log, once those exist) and its handler table (s->handler). False on ENOMEM;
 * server_free frees it. */
void netloop_timers_init(netloop_t *nl, const config_t *cfg);
bool server_isapi_host_new(server_t *s);
/* The status board and page (src/statusboard.h, src/status.h), once the loops, pools and
 * extension table exist: this process claims a slot of shared (a worker: the master's board,
 * created before the fork), or of a board of its own when shared is NULL (one process; freed by
 * server_free). server_init calls it with NULL. False after logging why. */
bool server_status_init(server_t *s, struct status_board *shared);

/* Loop thread: one of nl's descriptors was closed; if accepting was paused for want of
 * descriptors, it resumes at the end of this loop iteration. */
void netloop_descriptor_freed(netloop_t *nl);

#endif
