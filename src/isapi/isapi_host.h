/* What the ISAPI layer uses of the server: the configuration, the two pools, the extension
 * table, the MIME table, the access log, the Server header's text and the stopping flag, and
 * the ECB cursors of the event loops. The ISAPI code reaches the server only through it (and the
 * connection only through src/http/conn.h).
 *
 * Ownership: server.c creates it (server_init) after what it points to and frees it with them
 * (server_free); every pointer is borrowed from the server_t, which owns the objects. The
 * fields do not change after server_init: any thread may read them. cells[i] belongs to event
 * loop i's thread (its requests take their ECBs there), one thread at a time. */
#ifndef ISAPID_ISAPI_HOST_H
#define ISAPID_ISAPI_HOST_H

#include <stdatomic.h>

#include "accesslog.h"
#include "config.h"
#include "ecbcell.h"
#include "mime.h"
#include "pool.h"

typedef struct extensions extensions_t;

typedef struct isapi_host {
    config_t *cfg;
    pool_t *pool;                /* HttpExtensionProc calls off the loops */
    pool_t *completions;         /* completion callbacks */
    extensions_t *extensions;
    mime_table_t *mime;
    accesslog_t *access_log;     /* NULL when off */
    const char *software;        /* "isapid/VERSION" (the server's string) */
    const atomic_bool *stopping; /* the server's: shutdown began */
    ecb_cursor_t *cells;         /* one per event loop, indexed by its netloop index */
    unsigned n_cells;
} isapi_host_t;

#endif
