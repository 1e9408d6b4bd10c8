/* The seam between the transport (src/http) and what serves a route the loop does not answer
 * itself (an extension route: ROUTE_EXTENSION). The connection layer calls the handler only
 * through this table; the handler reaches the connection only through the functions of
 * src/http/conn.h. The ISAPI host (src/isapi) is the one handler today; server.c fills the
 * table (src/isapi/isapi.h: isapi_handler) and keeps it in server_t. Static files, redirects,
 * OPTIONS * and error responses stay loop-served by src/http/conn.c.
 *
 * Life of a handler's request on a connection (loop thread unless noted):
 *   request_new     at head-complete: the handler copies what it needs of the head (it must not
 *                   keep pointers into it) and takes the route over; it says how much body to
 *                   read ahead, and where to. Connection state: CONN_READAHEAD.
 *   request_start   the read-ahead is in: from here the handler owns the request (state
 *                   CONN_EXTENSION) until it hands the connection back.
 *   request_discard instead of start: the request never reached the handler's code (the body
 *                   was bad or too slow, the client left, the server closed the connection).
 *   peer_left       a hang-up came while the handler owns the request.
 * Meanwhile the handler may have the loop drive an operation on the socket for it
 * (src/http/conn_async.h).
 * The handler ends its request with conn_request_ended(), on the loop thread, exactly once per
 * started request; it frees its request itself. */
#ifndef ISAPID_HANDLER_H
#define ISAPID_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "reqinfo.h"
#include "route.h"

typedef struct conn conn_t;
/* The handler's own request: opaque to the transport, which only holds the pointer. */
typedef struct request request_t;

typedef struct handler {
    void *ctx; /* the handler's (the ISAPI host): passed to request_new */
    /* NULL on ENOMEM (the loop answers 503). *readahead: the buffer for the body read-ahead,
     * owned by the request, of *readahead_cap bytes (0: none). */
    request_t *(*request_new)(void *ctx, conn_t *c, const reqinfo_t *head, route_t *route,
                              char **readahead, uint32_t *readahead_cap);
    /* readahead_len bytes are in the buffer. The handler may run its code on this thread, and
     * lose the loop meanwhile (a hand-off, src/core/handoff.h; the rule: loop_kept_t). */
    loop_kept_t (*request_start)(request_t *r, uint32_t readahead_len);
    void (*request_discard)(request_t *r);
    void (*peer_left)(request_t *r);
} handler_t;

/* How a request ended: what the loop still has to send, and whether the connection may carry
 * another request. */
typedef struct request_end {
    char *tail;       /* bytes the loop still has to send (head / last chunk), malloc'ed or NULL;
                       * the connection takes it over */
    size_t tail_len;
    bool keep_alive;  /* the connection may carry another request */
    unsigned status;  /* the response's status, for the log */
    uint64_t body_bytes;
} request_end_t;

#endif
