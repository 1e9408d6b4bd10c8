/* What the ISAPI layer uses of the server: the configuration, the two pools, the extension
 * table, the MIME table, the router, the access log, the Server header's text and the stopping
 * flag; and its own state for each event loop. The ISAPI code reaches the server only through it (and the
 * connection only through src/http/conn.h).
 *
 * Ownership: server.c creates it (server_init) after what it points to and frees it with them
 * (server_free); every pointer is borrowed from the server_t, which owns the objects. The
 * fields do not change after server_init: any thread may read them. loops[i] belongs to event
 * loop i's thread (conn_loop_index), one thread at a time, except where noted. */
#ifndef ISAPID_ISAPI_HOST_H
#define ISAPID_ISAPI_HOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accesslog.h"
#include "config.h"
#include "ecbcell.h"
#include "errorpage.h"
#include "mime.h"
#include "pool.h"
#include "route.h"

typedef struct extensions extensions_t;
typedef struct filters filters_t;

/* The ISAPI layer's state on one event loop. */
typedef struct isapi_loop {
    ecb_cursor_t cells;       /* where this loop's requests take their ECBs (src/isapi/ecbcell.h) */
    uint64_t census_next_ms;  /* the next count of long-pending sessions (src/isapi/parked.h) */
    atomic_uint pending_long, pending_long_gone; /* its last result (read by any thread) */
    bool trim_wanted;         /* sockets were released: give the freed memory back (parked.c) */
    uint64_t trim_next_ms;
    void *spare_requests;     /* blocks of freed client requests, for the next ones (isapi.c):
                               * linked through their first bytes; loop thread only */
    unsigned n_spare_requests;
} isapi_loop_t;

/* After the loop stopped: free its spare request blocks. */
void isapi_loop_spares_free(isapi_loop_t *il);

typedef struct isapi_host {
    config_t *cfg;
    pool_t *pool;                /* HttpExtensionProc calls off the loops */
    pool_t *completions;         /* completion callbacks */
    extensions_t *extensions;
    mime_table_t *mime;
    router_t *router;            /* MAP_URL_TO_PATH's rules (urlmap.c) */
    errorpages_t *error_pages;   /* the bodies of error responses (src/http/errorpage.h) */
    accesslog_t *access_log;     /* NULL when off */
    const char *software;        /* "isapid/VERSION" (the server's string) */
    const atomic_bool *stopping; /* the server's: shutdown began */
    atomic_bool *unhealthy;      /* the server's: HSE_REQ_REPORT_UNHEALTHY was called */
    filters_t *filters;          /* ISAPI filters (src/isapi/filter.h); NULL when none. Set by
                                  * server_start before any loop runs */
    isapi_loop_t *loops;         /* one per event loop, indexed by conn_loop_index */
    unsigned n_loops;
} isapi_host_t;

#endif
