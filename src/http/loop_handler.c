/* The loop's own handler (src/http/handler.h): the routes the event loop answers at once,
 * without handing the request to anyone — a static file (from the descriptor the route opened),
 * a redirect to the directory's slash form, and the 403 and 404 of the router (their bodies:
 * src/http/errorpage.h). The response is
 * queued on the connection (conn_respond, src/http/conn_out.c) and written by the loop;
 * nothing here blocks, and nothing here can lose the loop. */
#include "conn.h"
#include "conn_internal.h"
#include "loop_handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "static_file.h"

/* route: ROUTE_STATIC, its file already open; the response takes the descriptor over. */
static void respond_static(conn_t *c, route_t *route)
{
    static_response_t sr;
    static_file_respond_route(c->nl->srv->mime, &c->hd->ri, route, &sr);
    if (sr.status >= 400 && sr.fd < 0 && sr.status != 416 && sr.status != 405) {
        conn_respond_error(c, sr.status, false);
        return;
    }
    if (sr.status == 405) {
        if (sr.fd >= 0)
            close(sr.fd);
        _Static_assert(sizeof sr.headers <= CONN_ERROR_LINES_MAX, "the 405's lines fit");
        conn_respond_error_lines(c, 405, sr.headers, sr.headers_len, false);
        return;
    }
    conn_respond(c, sr.status, sr.headers, sr.headers_len, NULL, 0, sr.fd, sr.offset, sr.length,
                 sr.has_body_length);
}

/* route: ROUTE_REDIRECT (a directory named without its trailing slash). */
static void respond_redirect(conn_t *c, const route_t *route)
{
    size_t n = strlen(route->location) + strlen(c->hd->ri.query) + 32;
    char *lines = malloc(n);
    if (!lines) {
        conn_respond_error(c, 503, true);
        return;
    }
    int m = snprintf(lines, n, "Location: %s%s%s\r\n", route->location,
                     c->hd->ri.query[0] ? "?" : "", c->hd->ri.query);
    conn_respond(c, 301, lines, (size_t)m, NULL, 0, -1, 0, 0, true);
    free(lines);
}

static void loop_respond(void *ctx, conn_t *c, route_t *route)
{
    (void)ctx;
    switch (route->kind) {
    case ROUTE_STATIC:
        respond_static(c, route);
        break;
    case ROUTE_REDIRECT:
        respond_redirect(c, route);
        break;
    case ROUTE_FORBIDDEN:
        conn_respond_error(c, 403, false);
        break;
    case ROUTE_NOT_FOUND:
    default: /* ROUTE_EXTENSION goes to the server's handler, never here */
        conn_respond_error(c, 404, false);
        break;
    }
}

const handler_t loop_handler = {.respond = loop_respond};
