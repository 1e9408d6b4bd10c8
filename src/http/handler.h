/* The seam between the transport (src/http) and what serves a route. The connection layer
 * calls a handler only through this table; the handler reaches the connection only through the
 * functions of src/http/conn.h. Two kinds:
 * - a handler that answers at once, on the loop (respond set, the request_* entries NULL): the
 *   loop's own for static files, redirects and the router's 403/404 (src/http/loop_handler.h);
 *   it queues the response on the connection, which the loop writes;
 * - a handler that takes the request over (respond NULL): an extension route's, the ISAPI host
 *   (src/isapi); server.c fills its table (src/isapi/isapi.h: isapi_handler) and keeps it in
 *   server_t.
 * Errors of the head itself (400, 413, 431 ...) and OPTIONS * are answered by the connection
 * before any route exists.
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
    void *ctx; /* the handler's (the ISAPI host): passed to respond and request_new */
    /* Answer route on c now (loop thread; the connection's state is the loop's, the response
     * goes out with conn_respond or conn_respond_error); the route's descriptor is taken over
     * or closed. */
    void (*respond)(void *ctx, conn_t *c, route_t *route);
    /* NULL on ENOMEM (the loop answers 503). *readahead: the buffer for the body read-ahead,
     * owned by the request, of *readahead_cap bytes (0: none). */
    request_t *(*request_new)(void *ctx, conn_t *c, const reqinfo_t *head, route_t *route,
                              char **readahead, uint32_t *readahead_cap);
    /* readahead_len bytes are in the buffer. The handler may run its code on this thread, and
     * lose the loop meanwhile (a hand-off, src/core/handoff.h; the rule: loop_kept_t). */
    loop_kept_t (*request_start)(request_t *r, uint32_t readahead_len);
    void (*request_discard)(request_t *r);
    void (*peer_left)(request_t *r);
    /* True: every route (static, redirect, 403, 404; not the --status page nor OPTIONS *) goes
     * to this handler, not to the loop's own (ISAPI filters see every request). Read once per
     * request. */
    bool takes_every_route;
    /* The connection closes with its session slot set (conn_session): loop thread, no request
     * on it any more. NULL when the handler never sets one. */
    void (*session_end)(conn_t *c, void *session);
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
