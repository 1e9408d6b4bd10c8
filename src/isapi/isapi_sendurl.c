/* HSE_REQ_SEND_URL (split out of src/isapi/isapi_ssf.c): the URL's static file sent as the
 * request's operation, or the extension it names run as a child request (request_child) whose
 * response is this one's and whose end (child_request_ended) completes the parent's operation,
 * or — for a URL with nothing to send — the server's answer to a GET of it (404, 403, a
 * directory's 301), as IIS's child request answers; with --send-url-redirect, IIS 6's 302. The
 * child requests are HSE_REQ_EXEC_URL's too (src/isapi/isapi_execurl.c): one child-request path
 * (child_issue), made as a child_spec_t says.
 * Ownership: a child request is owned by its parent until child_request_ended frees it on the
 * loop; the parent's operation (OP_SENDURL) is outstanding for the child's whole life. */
#define _GNU_SOURCE
#include "errorpage.h"
#include "isapi.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "httputil.h"
#include "path.h"
#include "static_file.h"
#include "isapi_internal.h"

/* Loop thread: a child's session is over. Its last bytes become the parent's operation, which
 * completes once they are out. Without NO_HEADERS the child's response was the parent's whole
 * response (status, length); with it the child's body went on in the parent's framing, which the
 * parent keeps (the child's own end adds no last chunk: the parent may write more). */
void child_request_ended(loop_task_t *t)
{
    request_t *child = (request_t *)((char *)t - offsetof(request_t, end_task));
    request_t *parent = child->parent;
    bool closed = atomic_load(&child->closed_by_extension);
    bool no_headers = child->child_no_headers, exec = child->child_exec;
    /* What the child's own EXEC_URL reported (an error page's cause; a failure, such as one
     * nested too deep, fails the parent's too). */
    DWORD child_win32 = child->exec_status_set ? child->exec_status.dwWin32Error : 0;
    DWORD child_error = child->exec_status_set ? child->exec_error : 0;
    uint64_t body_sent = 0;
    bool body_ended = false;
    chunked_decoder_t passthru = {0};
    bool passthru_lost = false;
    if (no_headers) {
        pthread_mutex_lock(&child->io_lock);
        body_sent = child->body_sent;
        body_ended = child->body_ended;
        passthru = child->passthru;
        passthru_lost = child->passthru_lost;
        child->framing = FRAME_NONE; /* the framing is the parent's to end */
        child->head_sent = true;     /* the parent's head is the response's, even if none went */
        pthread_mutex_unlock(&child->io_lock);
    }
    request_end_t end;
    isapi_request_end(child, &end); /* frees child */
    pthread_mutex_lock(&parent->io_lock);
    uint64_t before = parent->body_sent;
    if (no_headers) {
        parent->body_sent = body_sent;
        parent->body_ended = body_ended;
        if (parent->framing == FRAME_PASSTHRU) { /* else the union holds declared_length */
            parent->passthru = passthru;
            parent->passthru_lost = passthru_lost;
        }
    } else {
        parent->status_sent = end.status;
        parent->cell->ecb.dwHttpStatusCode = end.status;
        parent->body_sent = end.body_bytes;
    }
    if (exec) {
        parent->exec_status = (HSE_EXEC_URL_STATUS){.uHttpStatusCode = (USHORT)end.status,
                                                    .dwWin32Error = child_win32};
        parent->exec_error = child_error;
        parent->exec_status_set = true;
    }
    pthread_mutex_unlock(&parent->io_lock);
    if (!end.keep_alive)
        atomic_store(&parent->must_close, true);
    if (closed)
        atomic_store(&parent->closed_by_extension, true);
    out_plan_t *p = &parent->op.mem->plan;
    plan_init(p);
    p->segs = p->inline_segs;
    if (end.tail) {
        p->head = end.tail;
        p->segs[p->n++] = (out_seg_t){.mem = end.tail, .fd = -1, .len = end.tail_len};
    }
    parent->op.report_bytes = (DWORD)(no_headers ? body_sent - before : end.body_bytes);
    parent->op.report_error = exec ? child_error : 0;
    op_start(parent);
}

static bool header_about_body(const char *name, child_body_t body)
{
    if (body == CHILD_BODY_PARENT)
        return false; /* the body is the parent's: so are its headers */
    return !http_ascii_casecmp(name, "Content-Length") || !http_ascii_casecmp(name, "Transfer-Encoding") ||
           !http_ascii_casecmp(name, "Expect") ||
           (body == CHILD_BODY_NONE && !http_ascii_casecmp(name, "Content-Type"));
}

/* A request for s->url on the parent's connection, made as s says (method, headers, body); its
 * read-ahead (*readahead_len bytes) is filled in. */
static request_t *request_child(request_t *parent, const child_spec_t *s, uint32_t *readahead_len)
{
    reqinfo_t ri = parent->ri;
    size_t plen = strcspn(s->url, "?");
    const http_header_t *src = s->headers ? s->headers : parent->ri.headers;
    size_t n_src = s->headers ? s->n_headers : parent->ri.n_headers;
    char *raw_path = strndup(s->url, plen);
    http_header_t *hs = calloc(n_src ? n_src : 1, sizeof *hs);
    if (!raw_path || !hs) {
        free(raw_path);
        free(hs);
        return NULL;
    }
    size_t m = 0;
    for (size_t i = 0; i < n_src; i++)
        if (!header_about_body(src[i].name, s->body))
            hs[m++] = src[i];
    ri.method = s->method;
    ri.raw_target = s->url;
    ri.raw_path = raw_path;
    ri.path = s->path;
    ri.query = s->url[plen] == '?' ? s->url + plen + 1 : "";
    ri.headers = hs;
    ri.n_headers = m;
    const char *readahead = NULL;
    uint32_t len = 0;
    if (s->body == CHILD_BODY_PARENT) {
        /* the server's buffer, not the ECB's fields: the extension may have changed those */
        readahead = parent->readahead;
        len = parent->cell->ecb.cbAvailable < parent->readahead_cap ? parent->cell->ecb.cbAvailable
                                                                    : parent->readahead_cap;
    } else {
        ri.has_content_length = s->body == CHILD_BODY_ENTITY;
        ri.chunked = false;
        ri.content_length = s->body == CHILD_BODY_ENTITY ? s->entity_len : 0;
        if (s->body == CHILD_BODY_ENTITY) {
            readahead = s->entity;
            len = s->entity_len;
        }
    }
    /* any thread */
    request_t *child = request_create(parent->host, parent->conn, NULL, &ri, s->route, len);
    free(raw_path);
    free(hs);
    if (child) {
        child->parent = parent;
        child->no_body = s->body != CHILD_BODY_PARENT || parent->no_body;
        child->child_depth = parent->child_depth + 1;
        child->child_exec = s->exec;
        child->child_no_headers = s->no_headers;
        if (len)
            memcpy(child->readahead, readahead, len);
        *readahead_len = len;
    }
    return child;
}

typedef struct child_args {
    const child_spec_t *spec;
    request_t *child;
    uint32_t readahead_len;
} child_args_t;

/* Under the parent's io_lock: the child is made, and the parent's response state set for it. */
static BOOL child_build(request_t *r, void *arg)
{
    child_args_t *a = arg;
    a->child = request_child(r, a->spec, &a->readahead_len);
    if (!a->child)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    if (!a->spec->no_headers) {
        /* The child writes the head; this request writes nothing more. */
        r->head_sent = true;
        r->framing = FRAME_NONE;
        return TRUE;
    }
    /* NO_HEADERS: the parent's head (a default one if it sent none: it leaves with the child's
     * first bytes), the parent's framing; the child's own head is composed as usual and then
     * dropped (prepare_head), so its header calls succeed and its body goes on in that framing. */
    request_t *c = a->child;
    if (!r->head_sent) {
        resphead_t h;
        resphead_init(&h);
        char *head = NULL;
        size_t head_len = 0;
        BOOL ok = prepare_head(r, &h, 0, false, &head, &head_len);
        resphead_free(&h);
        if (!ok) {
            isapi_request_discard(c);
            a->child = NULL;
            return FALSE;
        }
        c->deferred_head = head;
        c->deferred_len = head_len;
    } else if (r->deferred_head && deferred_head_own(r)) { /* a heap head moves to the child */
        c->deferred_head = r->deferred_head;
        c->deferred_len = r->deferred_len;
        r->deferred_head = NULL;
        r->deferred_len = 0;
    }
    c->framing = r->framing; /* c's own head is dropped by prepare_head (child_no_headers) */
    if (r->framing == FRAME_PASSTHRU) /* one union: which member counts is the framing's */
        c->passthru = r->passthru;
    else
        c->declared_length = r->declared_length;
    c->passthru_lost = r->passthru_lost;
    c->body_sent = r->body_sent;
    c->body_ended = r->body_ended;
    c->status_sent = r->status_sent;
    return TRUE;
}

/* The operation is the child's whole life: it ends with child_request_ended. */
static BOOL child_launch(request_t *r, void *arg)
{
    (void)r;
    child_args_t *a = arg;
    (void)isapi_request_start(a->child, a->readahead_len); /* a child runs on the pool: LOOP_KEPT */
    return TRUE;
}

BOOL child_issue(request_t *r, const child_spec_t *spec, PFN_HSE_IO_COMPLETION fn, PVOID ctx)
{
    static const op_builder_t whole = {.build = child_build, .launch = child_launch,
                                       .whole_response = true};
    static const op_builder_t body_only = {.build = child_build, .launch = child_launch};
    child_spec_t s = *spec;
    s.no_headers = s.no_headers || r->child_no_headers; /* r's head is its parent's already */
    child_args_t a = {.spec = &s};
    return op_issue(r, OP_SENDURL, fn, ctx, s.no_headers ? &body_only : &whole, &a);
}

bool child_too_deep(const request_t *r, const char *call, const char *hint)
{
    if (r->child_depth + 1 <= CHILD_MAX_DEPTH)
        return false;
    static log_limiter_t deep = LOG_LIMITER_INIT;
    log_limited(&deep, LOG_WARN, "%s: %s: %s nested more than %d deep (%s): 500", r->ri.raw_target,
                r->route.handler, call, CHILD_MAX_DEPTH, hint);
    return true;
}

/* SEND_URL of an extension URL: run it as a child request (a GET, HEAD for a HEAD, without a
 * body) whose response is this one. */
static BOOL send_url_child(request_t *r, const char *url, const char *path, route_t *route,
                           PFN_HSE_IO_COMPLETION fn, PVOID ctx)
{
    child_spec_t spec = {.url = url, .path = path, .route = route,
                         .method = is_head_method(r) ? "HEAD" : "GET", .body = CHILD_BODY_NONE};
    return child_issue(r, &spec, fn, ctx);
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
    if (sr->headers_len && resphead_add_own_lines(&h, sr->headers, sr->headers_len) < 0)
        ok = fail(ERROR_NOT_ENOUGH_MEMORY);
    if (ok)
        ok = prepare_head(r, &h, sr->length, true, &head, &head_len);
    resphead_free(&h);
    if (ok) {
        piece_t pc = {.mem = NULL, .fd = sr->fd, .off = sr->offset, .len = sr->length};
        ok = plan_build(r, &r->op.mem->plan, head, head_len, &pc, 1, true);
    }
    if (!ok)
        return FALSE;
    r->op.mem->plan.owned_fd = sr->fd; /* closed with the plan */
    r->op.report_bytes = (DWORD)sr->length;
    return TRUE;
}

typedef struct error_args {
    unsigned status;      /* 404, 403, 500, or 301 to the directory's slash form */
    const char *location; /* 301: the Location value */
} error_args_t;

/* The server's own answer to a GET of the URL, as IIS's child request makes it: head and page in
 * one buffer the plan owns. An error's page is the --error-page for its status, as the server's
 * own answer would carry (the redirect keeps the built-in one). */
static BOOL error_build(request_t *r, void *arg)
{
    const error_args_t *a = arg;
    resphead_t h;
    resphead_init(&h);
    resphead_set_status(&h, a->status);
    error_body_t body;
    errorpage_body(a->location ? NULL : r->host->error_pages, a->status, &body);
    size_t body_len = body.len;
    BOOL ok = TRUE;
    if (resphead_add(&h, "Content-Type", body.content_type) < 0 ||
        (a->location && resphead_add(&h, "Location", a->location) < 0))
        ok = fail(ERROR_NOT_ENOUGH_MEMORY);
    char *head = NULL;
    size_t head_len = 0;
    if (ok)
        ok = prepare_head(r, &h, body_len, true, &head, &head_len);
    resphead_free(&h);
    if (ok)
        ok = plan_build_copy(r, &r->op.mem->plan, head, head_len, body.data, body_len, true);
    errorpage_release(&body);
    if (!ok)
        return FALSE;
    r->op.report_bytes = (DWORD)body_len;
    r->op.report_error = a->status == 404   ? ERROR_FILE_NOT_FOUND
                         : a->status == 403 ? ERROR_ACCESS_DENIED
                         : a->status == 301 ? ERROR_SUCCESS
                                            : ERROR_INTERNAL_ERROR;
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
    if (route.kind == ROUTE_EXTENSION &&
        child_too_deep(r, "HSE_REQ_SEND_URL",
                       "an extension sending a request to itself, a wildcard map's?")) {
        route_free(&route);
        free(norm);
        return send_url_error(r, 500, NULL);
    }
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

