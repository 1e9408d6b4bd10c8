/* HSE_REQ_EXEC_URL, HSE_REQ_EXEC_UNICODE_URL and HSE_REQ_GET_EXEC_URL_STATUS (IIS 6): a child
 * request for a URL (NULL: the current one), routed as a fresh request — through the wildcard maps
 * after the current one with HSE_EXEC_URL_IGNORE_CURRENT_INTERCEPTOR, else from the first — whose
 * response becomes this request's (its body only, with HSE_EXEC_URL_NO_HEADERS). Always
 * asynchronous: the request's one operation (OP_SENDURL kind), completed with cbIO = the child's
 * body bytes once its response is out, dwError 0 (whatever its status: GET_EXEC_URL_STATUS says
 * why it is an error) unless the EXEC_URL itself failed (nested too deep) or the send did.
 * An extension the URL routes to runs as a child request (child_issue, src/isapi/isapi_sendurl.c:
 * the one child-request path); what the server answers itself (a static file, a redirect, 403,
 * 404, and the 500 of a child past CHILD_MAX_DEPTH) is built here as the operation's plan.
 * What is chosen where IIS leaves it open is in docs/isapi.md ("HSE_REQ_EXEC_URL"). */
#define _GNU_SOURCE
#include "isapi.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "errorpage.h"
#include "httputil.h"
#include "log.h"
#include "path.h"
#include "static_file.h"
#include "isapi_internal.h"

/* The error an EXEC_URL too deep completes with (and GET_EXEC_URL_STATUS reports). */
#define EXEC_URL_ERROR_TOO_DEEP ERROR_INTERNAL_ERROR
/* A URL (UTF-8 or UTF-16 units) or child header block longer than this is refused. */
#define EXEC_URL_MAX_URL 8192
#define EXEC_URL_MAX_HEADERS 65536

static const DWORD known_flags = HSE_EXEC_URL_NO_HEADERS | HSE_EXEC_URL_IGNORE_CURRENT_INTERCEPTOR |
                                 HSE_EXEC_URL_IGNORE_VALIDATION_AND_RANGE |
                                 HSE_EXEC_URL_DISABLE_CUSTOM_ERROR |
                                 HSE_EXEC_URL_HTTP_CACHE_ELIGIBLE;

/* ---- what the server answers itself ---- */

typedef struct answer {
    unsigned status;
    resphead_t h;     /* status and header lines (owned) */
    const char *body; /* memory body (copied into the plan), or NULL */
    size_t body_len;
    int fd; /* file body (taken over by the plan), or -1 */
    uint64_t off, len;
    DWORD win32;    /* why the answer is an error (GET_EXEC_URL_STATUS's dwWin32Error) */
    DWORD op_error; /* the completion's dwError: the EXEC_URL itself failed (too deep) */
    bool no_headers;
    bool head_only; /* the child's method is HEAD: the head declares a body none follows */
    bool custom_errors; /* an error answer carries its --error-page (no DISABLE_CUSTOM_ERROR) */
} answer_t;

/* Under io_lock: the answer as the operation's plan. With NO_HEADERS only its body goes out, in
 * this request's framing (behind a default head when none was sent yet). */
static BOOL answer_build(request_t *r, void *arg)
{
    answer_t *a = arg;
    uint64_t len = a->fd >= 0 ? a->len : a->body_len;
    char *head = NULL;
    size_t head_len = 0;
    if (!a->no_headers || !r->head_sent) {
        resphead_t plain;
        resphead_init(&plain);
        resphead_t *h = a->no_headers ? &plain : &a->h;
        BOOL ok = prepare_head(r, h, len, !a->no_headers, &head, &head_len);
        resphead_free(&plain);
        if (!ok)
            return FALSE;
        if (a->head_only && !a->no_headers)
            r->framing = FRAME_NONE; /* nothing more goes out: the response is complete */
    }
    if (a->fd < 0) {
        /* The plan owns what it sends: the body goes behind the head, in one buffer. */
        if (!plan_build_copy(r, &r->op.mem->plan, head, head_len, a->body, a->body_len,
                             !a->no_headers))
            return FALSE;
    } else {
        piece_t pc = {.mem = NULL, .fd = a->fd, .off = a->off, .len = a->len};
        if (!plan_build(r, &r->op.mem->plan, head, head_len, &pc, len ? 1 : 0, !a->no_headers))
            return FALSE;
        r->op.mem->plan.owned_fd = a->fd; /* closed with the plan */
        a->fd = -1;
    }
    r->op.report_bytes = (DWORD)len;
    r->op.report_error = a->op_error;
    r->exec_status = (HSE_EXEC_URL_STATUS){.uHttpStatusCode = (USHORT)a->status,
                                           .dwWin32Error = a->win32};
    r->exec_error = a->op_error;
    r->exec_status_set = true;
    return TRUE;
}

static BOOL answer_issue(request_t *r, answer_t *a, PFN_HSE_IO_COMPLETION fn, PVOID ctx)
{
    static const op_builder_t whole = {.build = answer_build, .whole_response = true};
    static const op_builder_t body_only = {.build = answer_build};
    BOOL ok = op_issue(r, OP_SENDURL, fn, ctx, a->no_headers ? &body_only : &whole, a);
    DWORD e = ok ? 0 : GetLastError();
    if (a->fd >= 0)
        close(a->fd); /* not the plan's: the operation never started */
    resphead_free(&a->h);
    return ok ? TRUE : fail(e);
}

/* An error response as the answer: the --error-page for the status (unless the caller said
 * HSE_EXEC_URL_DISABLE_CUSTOM_ERROR), else the server's built-in body. */
static BOOL answer_error(request_t *r, answer_t *a, unsigned status, DWORD win32,
                         PFN_HSE_IO_COMPLETION fn, PVOID ctx)
{
    a->status = status;
    a->win32 = win32;
    resphead_set_status(&a->h, status);
    error_body_t body;
    errorpage_body(a->custom_errors ? r->host->error_pages : NULL, status, &body);
    a->body = body.data; /* copied into the plan by answer_issue */
    a->body_len = body.len;
    BOOL ok;
    if (resphead_add(&a->h, "Content-Type", body.content_type) < 0) {
        resphead_free(&a->h);
        ok = fail(ERROR_NOT_ENOUGH_MEMORY);
    } else {
        ok = answer_issue(r, a, fn, ctx);
    }
    errorpage_release(&body);
    return ok;
}

/* The static file of route for the child's request (ri: its method, and its headers unless
 * IGNORE_VALIDATION_AND_RANGE), as static_file_respond_route decides it. */
static BOOL answer_static(request_t *r, answer_t *a, const reqinfo_t *ri, route_t *route,
                          PFN_HSE_IO_COMPLETION fn, PVOID ctx)
{
    static_response_t sr;
    static_file_respond_route(r->host->mime, ri, route, &sr);
    bool sent_as_is = sr.has_body_length || sr.status == 304;
    if (!sent_as_is && sr.status != 405) {
        if (sr.fd >= 0)
            close(sr.fd);
        return answer_error(r, a, sr.status,
                            sr.status == 404   ? ERROR_FILE_NOT_FOUND
                            : sr.status == 403 ? ERROR_ACCESS_DENIED
                            : sr.status == 503 ? ERROR_TOO_MANY_OPEN_FILES
                                               : ERROR_INVALID_PARAMETER /* 412 */,
                            fn, ctx);
    }
    a->status = sr.status;
    resphead_set_status(&a->h, sr.status);
    if (sr.headers_len && resphead_add_own_lines(&a->h, sr.headers, sr.headers_len) < 0) {
        if (sr.fd >= 0)
            close(sr.fd);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    if (sr.status == 405) /* the method: the body says so, the Allow line is sr's */
        return answer_error(r, a, 405, ERROR_INVALID_FUNCTION, fn, ctx);
    if (sr.fd >= 0 && sr.length > 0 && strcmp(ri->method, "HEAD") != 0) {
        a->fd = sr.fd;
        a->off = sr.offset;
        a->len = sr.length;
    } else {
        if (sr.fd >= 0)
            close(sr.fd);
        a->h.has_content_length = sr.has_body_length;
        a->h.content_length = sr.length;
        a->head_only = strcmp(ri->method, "HEAD") == 0;
    }
    return answer_issue(r, a, fn, ctx);
}

static BOOL answer_redirect(request_t *r, answer_t *a, const route_t *route, const char *query,
                            PFN_HSE_IO_COMPLETION fn, PVOID ctx)
{
    size_t n = strlen(route->location) + strlen(query) + 2;
    char *loc = malloc(n);
    if (!loc)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    snprintf(loc, n, "%s%s%s", route->location, *query ? "?" : "", query);
    a->status = 301;
    resphead_set_status(&a->h, 301);
    int rc = resphead_add(&a->h, "Location", loc);
    free(loc);
    if (rc < 0) {
        resphead_free(&a->h);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    return answer_issue(r, a, fn, ctx);
}

/* ---- the request ---- */

/* pszChildHeaders ("Name: value\r\n"...) into a header table pointing into *text (a copy, owned
 * by the caller). FALSE + ERROR_INVALID_PARAMETER for a line without a name and a colon. */
static BOOL parse_child_headers(const char *block, char **text, http_header_t **out, size_t *n)
{
    size_t len = strnlen(block, EXEC_URL_MAX_HEADERS + 1);
    if (len > EXEC_URL_MAX_HEADERS)
        return fail(ERROR_INVALID_PARAMETER);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += block[i] == '\n';
    *text = strndup(block, len);
    *out = calloc(lines, sizeof **out);
    *n = 0;
    if (!*text || !*out) {
        free(*text);
        free(*out);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    for (char *p = *text; *p;) {
        char *eol = p + strcspn(p, "\n");
        char *next = *eol ? eol + 1 : eol;
        if (eol > p && eol[-1] == '\r')
            eol--;
        *eol = '\0';
        if (*p) {
            char *colon = strchr(p, ':');
            bool name_ok = colon && colon > p;
            for (const char *c = p; name_ok && c < colon; c++)
                name_ok = *c > ' ' && *c < 0x7f;
            if (!name_ok) {
                free(*text);
                free(*out);
                return fail(ERROR_INVALID_PARAMETER);
            }
            *colon = '\0';
            char *v = colon + 1;
            v += strspn(v, " \t");
            size_t vl = strlen(v);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                v[--vl] = '\0';
            (*out)[(*n)++] = (http_header_t){.name = p,
                                             .value = v,
                                             .name_len = (uint32_t)(colon - p),
                                             .value_len = (uint32_t)vl};
        }
        p = next;
    }
    return TRUE;
}

static bool method_valid(const char *m)
{
    size_t n = strnlen(m, 33);
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] <= ' ' || m[i] >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", m[i]))
            return false;
    return true;
}

/* The EXEC_URL itself, with url in UTF-8 (NULL: the current request's). */
static BOOL exec_url(request_t *r, const char *url, const char *method, const char *child_headers,
                     const HSE_EXEC_URL_ENTITY_INFO *entity, HANDLE token, DWORD flags)
{
    if (flags & HSE_EXEC_URL_SSI_CMD)
        return fail(ERROR_INVALID_PARAMETER); /* server-side includes: none here */
    if (flags & ~known_flags)
        return fail(ERROR_INVALID_PARAMETER);
    if (token)
        return fail(ERROR_NOT_SUPPORTED); /* no Windows impersonation tokens */
    if (url && (url[0] != '/' || strpbrk(url, "\r\n") ||
                strnlen(url, EXEC_URL_MAX_URL + 1) > EXEC_URL_MAX_URL))
        return fail(ERROR_INVALID_PARAMETER);
    if (method && !method_valid(method))
        return fail(ERROR_INVALID_PARAMETER);
    if (entity && entity->cbAvailable && !entity->lpbData)
        return fail(ERROR_INVALID_PARAMETER);
    uint64_t max_body = r->host->cfg->max_body_bytes;
    if (entity && max_body && entity->cbAvailable > max_body)
        return fail(ERROR_INVALID_PARAMETER);
    PVOID ctx;
    PFN_HSE_IO_COMPLETION fn = registered_callback(r, &ctx);
    if (!fn)
        return fail(ERROR_INVALID_PARAMETER); /* always asynchronous: IO_COMPLETION first */

    answer_t a = {.fd = -1,
                  .no_headers = (flags & HSE_EXEC_URL_NO_HEADERS) || r->child_no_headers,
                  .custom_errors = !(flags & HSE_EXEC_URL_DISABLE_CUSTOM_ERROR)};
    resphead_init(&a.h);
    if (child_too_deep(r, "HSE_REQ_EXEC_URL",
                       "an extension handing a request to itself: a wildcard map without "
                       "HSE_EXEC_URL_IGNORE_CURRENT_INTERCEPTOR?")) {
        pthread_mutex_lock(&r->io_lock);
        bool head_sent = r->head_sent;
        pthread_mutex_unlock(&r->io_lock);
        a.no_headers = a.no_headers || head_sent; /* the 500's body, behind the head sent */
        a.op_error = EXEC_URL_ERROR_TOO_DEEP;
        return answer_error(r, &a, 500, EXEC_URL_ERROR_TOO_DEEP, fn, ctx);
    }

    /* The URL: the current request's as it came (path and query), or the one given. */
    char *norm = NULL;
    const char *path = r->ri.path;
    if (url) {
        size_t len = strcspn(url, "?");
        if (!(norm = malloc(len + 2)))
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        if (path_normalize(url, len, norm, len + 2) != PATH_OK) {
            free(norm);
            return fail(ERROR_INVALID_PARAMETER);
        }
        path = norm;
    } else {
        url = r->ri.raw_target;
    }
    char *header_text = NULL;
    http_header_t *headers = NULL;
    size_t n_headers = 0;
    if (child_headers && !parse_child_headers(child_headers, &header_text, &headers, &n_headers)) {
        DWORD e = GetLastError();
        free(norm);
        return fail(e);
    }
    unsigned after = flags & HSE_EXEC_URL_IGNORE_CURRENT_INTERCEPTOR ? r->route.wildcard : 0;
    route_t route;
    route_resolve_after(r->host->router, path, after, &route);

    BOOL ok;
    const char *child_method = method ? method : r->ri.method;
    if (route.kind == ROUTE_EXTENSION) {
        child_spec_t spec = {.url = url,
                             .path = path,
                             .route = &route,
                             .method = child_method,
                             .headers = headers,
                             .n_headers = n_headers,
                             .body = entity ? CHILD_BODY_ENTITY : CHILD_BODY_PARENT,
                             .entity = entity ? entity->lpbData : NULL,
                             .entity_len = entity ? entity->cbAvailable : 0,
                             .exec = true,
                             .no_headers = a.no_headers};
        ok = child_issue(r, &spec, fn, ctx);
    } else if (route.kind == ROUTE_STATIC) {
        reqinfo_t ri = {.method = child_method,
                        .raw_target = url,
                        .path = path,
                        .query = "",
                        .http_major = 1,
                        .http_minor = r->ri.http_minor};
        if (!(flags & HSE_EXEC_URL_IGNORE_VALIDATION_AND_RANGE)) {
            ri.headers = headers ? headers : r->ri.headers;
            ri.n_headers = headers ? n_headers : r->ri.n_headers;
        }
        ok = answer_static(r, &a, &ri, &route, fn, ctx);
    } else if (route.kind == ROUTE_REDIRECT && route.location) {
        const char *q = strchr(url, '?');
        ok = answer_redirect(r, &a, &route, q ? q + 1 : "", fn, ctx);
    } else {
        bool forbidden = route.kind == ROUTE_FORBIDDEN;
        ok = answer_error(r, &a, forbidden ? 403 : 404,
                          forbidden ? ERROR_ACCESS_DENIED : ERROR_FILE_NOT_FOUND, fn, ctx);
    }
    DWORD e = ok ? 0 : GetLastError();
    route_free(&route);
    free(norm);
    free(header_text);
    free(headers);
    return ok ? TRUE : fail(e);
}

BOOL ssf_exec_url(request_t *r, const HSE_EXEC_URL_INFO *info)
{
    if (!info)
        return fail(ERROR_INVALID_PARAMETER);
    const HSE_EXEC_URL_USER_INFO *u = info->pUserInfo;
    return exec_url(r, info->pszUrl, info->pszMethod, info->pszChildHeaders, info->pEntity,
                    u ? u->hImpersonationToken : NULL, info->dwExecUrlFlags);
}

BOOL ssf_exec_unicode_url(request_t *r, const HSE_EXEC_UNICODE_URL_INFO *info)
{
    if (!info)
        return fail(ERROR_INVALID_PARAMETER);
    char *url = NULL;
    DWORD err = ERROR_SUCCESS;
    if (info->pszUrl && !(url = utf16_to_utf8(info->pszUrl, EXEC_URL_MAX_URL + 1, &err)))
        return fail(err);
    const HSE_EXEC_UNICODE_URL_USER_INFO *u = info->pUserInfo;
    BOOL ok = exec_url(r, url, info->pszMethod, info->pszChildHeaders, info->pEntity,
                       u ? u->hImpersonationToken : NULL, info->dwExecUrlFlags);
    DWORD e = ok ? 0 : GetLastError();
    free(url);
    return ok ? TRUE : fail(e);
}

BOOL ssf_get_exec_url_status(request_t *r, HSE_EXEC_URL_STATUS *out)
{
    if (!out)
        return fail(ERROR_INVALID_PARAMETER);
    pthread_mutex_lock(&r->io_lock);
    bool set = r->exec_status_set;
    if (set)
        *out = r->exec_status;
    pthread_mutex_unlock(&r->io_lock);
    return set ? TRUE : fail(ERROR_NO_DATA); /* no EXEC_URL of this request has ended */
}
