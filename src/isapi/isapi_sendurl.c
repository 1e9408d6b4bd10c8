/* HSE_REQ_SEND_URL (split out of src/isapi/isapi_ssf.c): the URL's static
 * file sent as the request's operation, or the extension it names run as a child request
 * (request_child) whose response is this one's and whose end (sendurl_child_ended) completes the
 * parent's operation, or — for a URL with nothing to send — the server's answer to a GET of it
 * (404, 403, a directory's 301), as IIS's child request answers; with --send-url-redirect, IIS 6's
 * 302.
 * Ownership: a child request is owned by its parent until sendurl_child_ended frees it on the loop; the
 * parent's operation (OP_SENDURL) is outstanding for the child's whole life. */
#define _GNU_SOURCE
#include "isapi.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "httputil.h"
#include "path.h"
#include "static_file.h"
#include "isapi_internal.h"

/* Loop thread: a SEND_URL child's session is over. Its last bytes become the parent's
 * operation, which completes once they are out. */
void sendurl_child_ended(loop_task_t *t)
{
    request_t *child = (request_t *)((char *)t - offsetof(request_t, end_task));
    request_t *parent = child->parent;
    bool closed = atomic_load(&child->closed_by_extension);
    request_end_t end;
    isapi_request_end(child, &end); /* frees child */
    pthread_mutex_lock(&parent->io_lock);
    parent->status_sent = end.status;
    parent->cell->ecb.dwHttpStatusCode = end.status;
    parent->body_sent = end.body_bytes;
    pthread_mutex_unlock(&parent->io_lock);
    if (!end.keep_alive)
        atomic_store(&parent->must_close, true);
    if (closed)
        atomic_store(&parent->closed_by_extension, true);
    out_plan_t *p = &parent->op.plan;
    plan_init(p);
    p->segs = p->inline_segs;
    if (end.tail) {
        p->head = end.tail;
        p->segs[p->n++] = (out_seg_t){.mem = end.tail, .fd = -1, .len = end.tail_len};
    }
    parent->op.report_bytes = (DWORD)end.body_bytes;
    parent->op.io.shut_after = false;
    op_start(parent);
}

/* A GET (HEAD for a HEAD) of url on the parent's connection, with the parent's headers minus
 * those about a body: the child reads none. */
static request_t *request_child(request_t *parent, const char *url, const char *path, route_t *route)
{
    reqinfo_t ri = parent->ri;
    size_t plen = strcspn(url, "?");
    char *raw_path = strndup(url, plen);
    http_header_t *hs = calloc(parent->ri.n_headers ? parent->ri.n_headers : 1, sizeof *hs);
    if (!raw_path || !hs) {
        free(raw_path);
        free(hs);
        return NULL;
    }
    size_t m = 0;
    for (size_t i = 0; i < parent->ri.n_headers; i++) {
        const char *n = parent->ri.headers[i].name;
        if (strcasecmp(n, "Content-Length") && strcasecmp(n, "Transfer-Encoding") &&
            strcasecmp(n, "Content-Type") && strcasecmp(n, "Expect"))
            hs[m++] = parent->ri.headers[i];
    }
    ri.method = is_head_method(parent) ? "HEAD" : "GET";
    ri.raw_target = url;
    ri.raw_path = raw_path;
    ri.path = path;
    ri.query = url[plen] == '?' ? url + plen + 1 : "";
    ri.headers = hs;
    ri.n_headers = m;
    ri.has_content_length = ri.chunked = false;
    ri.content_length = 0;
    /* any thread */
    request_t *child = request_create(parent->host, parent->conn, NULL, &ri, route, 0);
    free(raw_path);
    free(hs);
    if (child) {
        child->parent = parent;
        child->no_body = true;
    }
    return child;
}

typedef struct child_args {
    const char *url, *path;
    route_t *route;
} child_args_t;

static BOOL child_build(request_t *r, void *arg)
{
    (void)arg;
    /* The child writes the head; this request writes nothing more. */
    r->head_sent = true;
    r->framing = FRAME_NONE;
    return TRUE;
}

/* The operation is the child's whole life: it ends with sendurl_child_ended. */
static BOOL child_launch(request_t *r, void *arg)
{
    const child_args_t *a = arg;
    request_t *child = request_child(r, a->url, a->path, a->route);
    if (!child) {
        pthread_mutex_lock(&r->io_lock);
        r->head_sent = false;
        pthread_mutex_unlock(&r->io_lock);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    (void)isapi_request_start(child, 0); /* a child runs on the pool: LOOP_KEPT */
    return TRUE;
}

/* SEND_URL of an extension URL: run it as a child request whose response is this one. */
static BOOL send_url_child(request_t *r, const char *url, const char *path, route_t *route,
                           PFN_HSE_IO_COMPLETION fn, PVOID ctx)
{
    static const op_builder_t builder = {.build = child_build, .launch = child_launch,
                                         .whole_response = true};
    child_args_t a = {.url = url, .path = path, .route = route};
    return op_issue(r, OP_SENDURL, fn, ctx, &builder, &a);
}

typedef struct static_args {
    const static_response_t *sr;
} static_args_t;

/* The plan of SEND_URL's static file; the file's descriptor becomes the plan's. */
static BOOL static_build(request_t *r, void *arg)
{
    const static_response_t *sr = ((const static_args_t *)arg)->sr;
    resphead_t h;
    resphead_init(&h);
    char *head = NULL;
    size_t head_len = 0;
    BOOL ok = TRUE;
    if (sr->headers_len) {
        h.lines = malloc(sr->headers_len);
        if (h.lines) {
            memcpy(h.lines, sr->headers, sr->headers_len);
            h.lines_len = sr->headers_len;
        } else {
            ok = fail(ERROR_NOT_ENOUGH_MEMORY);
        }
    }
    if (ok)
        ok = prepare_head(r, &h, sr->length, true, &head, &head_len);
    resphead_free(&h);
    if (ok) {
        piece_t pc = {.mem = NULL, .fd = sr->fd, .off = sr->offset, .len = sr->length};
        ok = plan_build(r, &r->op.plan, head, head_len, &pc, 1, true);
    }
    if (!ok)
        return FALSE;
    r->op.plan.owned_fd = sr->fd; /* closed with the plan */
    r->op.report_bytes = (DWORD)sr->length;
    r->op.io.shut_after = false;
    return TRUE;
}

typedef struct error_args {
    unsigned status;      /* 404, 403, 500, or 301 to the directory's slash form */
    const char *location; /* 301: the Location value */
} error_args_t;

/* The server's own answer to a GET of the URL, as IIS's child request makes it: head and page in
 * one buffer the plan owns. */
static BOOL error_build(request_t *r, void *arg)
{
    const error_args_t *a = arg;
    resphead_t h;
    resphead_init(&h);
    resphead_set_status(&h, a->status);
    char body[256];
    size_t body_len = http_error_body(a->status, body, sizeof body);
    BOOL ok = TRUE;
    if (resphead_add(&h, "Content-Type", "text/html") < 0 ||
        (a->location && resphead_add(&h, "Location", a->location) < 0))
        ok = fail(ERROR_NOT_ENOUGH_MEMORY);
    char *head = NULL;
    size_t head_len = 0;
    if (ok)
        ok = prepare_head(r, &h, body_len, true, &head, &head_len);
    resphead_free(&h);
    if (!ok)
        return FALSE;
    char *both = realloc(head, head_len + body_len);
    if (!both) {
        free(head);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    memcpy(both + head_len, body, body_len);
    piece_t pc = {.mem = both + head_len, .fd = -1, .len = body_len};
    if (!plan_build(r, &r->op.plan, both, head_len, &pc, 1, true))
        return FALSE;
    r->op.report_bytes = (DWORD)body_len;
    r->op.report_error = a->status == 404   ? ERROR_FILE_NOT_FOUND
                         : a->status == 403 ? ERROR_ACCESS_DENIED
                         : a->status == 301 ? ERROR_SUCCESS
                                            : ERROR_INTERNAL_ERROR;
    r->op.io.shut_after = false;
    return TRUE;
}

/* SEND_URL of a URL that names nothing to send: its error response (or redirect) is this
 * response, as the operation; the completion reports it in dwError. */
static BOOL send_url_error(request_t *r, unsigned status, const char *location)
{
    PVOID ctx;
    PFN_HSE_IO_COMPLETION fn = registered_callback(r, &ctx);
    static const op_builder_t builder = {.build = error_build, .whole_response = true};
    error_args_t a = {.status = status, .location = location};
    return op_issue(r, OP_SENDURL, fn, ctx, &builder, &a);
}

/* HSE_REQ_SEND_URL: internal (the URL's static file, or the extension it names, or the server's
 * answer to a GET of it — 404, 403, a directory's 301 — is this response, as an operation) or,
 * with --send-url-redirect, IIS 6's 302. */
BOOL ssf_send_url(request_t *r, const char *url)
{
    if (!url || url[0] != '/' || strpbrk(url, "\r\n"))
        return fail(ERROR_INVALID_PARAMETER);
    config_t *cfg = r->host->cfg;
    if (cfg->send_url_redirect) {
        char abs[4096];
        const http_header_t *host = reqinfo_header(&r->ri, "Host");
        char local[80];
        snprintf(local, sizeof local, "%s:%u", r->ri.local_addr, r->ri.local_port);
        /* https when a proxy in front terminated TLS: the client must not be sent to http. */
        snprintf(abs, sizeof abs, "%s://%s%s", r->ri.https ? "https" : "http",
                 host ? host->value : local, url);
        return ssf_redirect(r, abs);
    }
    size_t len = strcspn(url, "?");
    char *norm = malloc(len + 2);
    if (!norm)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    if (path_normalize(url, len, norm, len + 2) != PATH_OK) {
        free(norm);
        return fail(ERROR_INVALID_PARAMETER);
    }
    route_t route;
    route_resolve(r->host->router, norm, &route);
    if (route.kind == ROUTE_EXTENSION) {
        PVOID cctx;
        PFN_HSE_IO_COMPLETION cfn = registered_callback(r, &cctx);
        BOOL ok = send_url_child(r, url, norm, &route, cfn, cctx);
        route_free(&route);
        free(norm);
        return ok;
    }
    free(norm);
    if (route.kind == ROUTE_REDIRECT) {
        const char *q = url + len;
        char *location = route.location ? malloc(strlen(route.location) + strlen(q) + 1) : NULL;
        BOOL ok = location ? TRUE : fail(ERROR_NOT_ENOUGH_MEMORY);
        if (ok) {
            strcpy(location, route.location);
            strcat(location, q); /* "?query" or "" */
            ok = send_url_error(r, 301, location);
        }
        free(location);
        route_free(&route);
        return ok;
    }
    if (route.kind != ROUTE_STATIC) {
        unsigned status = route.kind == ROUTE_FORBIDDEN ? 403 : 404;
        route_free(&route);
        return send_url_error(r, status, NULL);
    }
    /* The file as a plain GET of it: no conditional or range headers of this request apply. */
    reqinfo_t get = {.method = "GET", .raw_target = url, .path = url, .query = "",
                     .http_major = 1, .http_minor = r->ri.http_minor};
    static_response_t sr;
    static_file_respond_route(r->host->mime, &get, &route, &sr);
    route_free(&route);
    if (sr.status != 200) {
        if (sr.fd >= 0)
            close(sr.fd);
        /* 503: the file could not be opened for want of descriptors (logged): a passing
         * condition of this server, which the extension may retry, so nothing is sent. */
        if (sr.status == 503)
            return fail(ERROR_TOO_MANY_OPEN_FILES);
        return send_url_error(r, sr.status == 403 || sr.status == 404 ? sr.status : 500, NULL);
    }
    PVOID ctx;
    PFN_HSE_IO_COMPLETION fn = registered_callback(r, &ctx);
    static const op_builder_t builder = {.build = static_build, .whole_response = true};
    static_args_t a = {.sr = &sr};
    if (!op_issue(r, OP_SENDURL, fn, ctx, &builder, &a)) {
        DWORD e = GetLastError();
        close(sr.fd); /* not the plan's: the operation never started */
        return fail(e);
    }
    return TRUE;
}

