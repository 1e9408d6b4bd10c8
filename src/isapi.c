#define _GNU_SOURCE
#include "isapi.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "accesslog.h"
#include "config.h"
#include "httputil.h"
#include "log.h"
#include "path.h"
#include "servervars.h"

static BOOL WINAPI cb_get_server_variable(HCONN h, LPSTR name, LPVOID buf, LPDWORD size);
static BOOL WINAPI cb_write_client(HCONN h, LPVOID buf, LPDWORD bytes, DWORD flags);
static BOOL WINAPI cb_read_client(HCONN h, LPVOID buf, LPDWORD size);
static BOOL WINAPI cb_server_support_function(HCONN h, DWORD code, LPVOID buf, LPDWORD size,
                                              LPDWORD data_type);

/* ------------------------------------------------------------------------------------------ */
/* Errors at the ISAPI boundary */

DWORD isapi_win32_error(int err)
{
    switch (err < 0 ? -err : err) {
    case 0:
        return ERROR_SUCCESS;
    case ECONNRESET:
    case EPIPE:
    case ENOTCONN:
    case ESHUTDOWN:
        return ERROR_NETNAME_DELETED;
    case ETIMEDOUT:
        return ERROR_TIMEOUT;
    case ENOMEM:
        return ERROR_NOT_ENOUGH_MEMORY;
    case EPROTO:
    case EFBIG:
        return ERROR_INVALID_DATA;
    case EINVAL:
        return ERROR_INVALID_PARAMETER;
    default:
        return ERROR_WRITE_FAULT;
    }
}

static BOOL fail(DWORD win32)
{
    SetLastError(win32);
    return FALSE;
}

/* The request behind a ConnID, or NULL for one that is not a live request of ours. */
static request_t *request_of(HCONN h)
{
    request_t *r = (request_t *)h;
    if (!r || r->magic != REQUEST_MAGIC)
        return NULL;
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* Creation: copy the head out of the connection's buffer */

static size_t str_size(const char *s) { return strlen(s) + 1; }

static char *put(char **cursor, const char *s)
{
    size_t n = strlen(s) + 1;
    char *dst = *cursor;
    memcpy(dst, s, n);
    *cursor += n;
    return dst;
}

request_t *isapi_request_new(conn_t *c, route_t *route)
{
    const reqinfo_t *src = &c->ri;
    request_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    size_t total = str_size(src->method) + str_size(src->raw_target) + str_size(src->raw_path) +
                   str_size(src->path) + str_size(src->query) + str_size(src->server_name);
    for (size_t i = 0; i < src->n_headers; i++)
        total += src->headers[i].name_len + src->headers[i].value_len + 2;
    r->strings = malloc(total);
    r->headers = calloc(src->n_headers ? src->n_headers : 1, sizeof *r->headers);
    config_t *cfg = c->nl->srv->cfg;
    uint32_t ra = cfg->read_ahead_bytes;
    if (c->body_mode == BODY_NONE)
        ra = 0;
    else if (c->body_mode == BODY_LENGTH && c->body_left < ra)
        ra = (uint32_t)c->body_left;
    r->readahead_cap = ra;
    r->readahead = malloc((size_t)ra + 1);
    if (!r->strings || !r->headers || !r->readahead) {
        free(r->strings);
        free(r->headers);
        free(r->readahead);
        free(r);
        return NULL;
    }
    char *cur = r->strings;
    reqinfo_t *ri = &r->ri;
    *ri = *src;
    ri->method = put(&cur, src->method);
    ri->raw_target = put(&cur, src->raw_target);
    ri->raw_path = put(&cur, src->raw_path);
    ri->path = put(&cur, src->path);
    ri->query = put(&cur, src->query);
    ri->server_name = put(&cur, src->server_name);
    ri->content_type = "";
    for (size_t i = 0; i < src->n_headers; i++) {
        http_header_t *h = &r->headers[i];
        *h = src->headers[i];
        h->name = put(&cur, src->headers[i].name);
        h->value = put(&cur, src->headers[i].value);
        if (strcasecmp(h->name, "Content-Type") == 0 && !ri->content_type[0])
            ri->content_type = h->value;
    }
    ri->headers = r->headers;
    /* The connection outlives the request (it is not freed while an extension owns it). */
    ri->remote_addr = c->peer_text;
    ri->local_addr = c->local_text;

    r->route = *route;
    memset(route, 0, sizeof *route);
    route->kind = ROUTE_NOT_FOUND;
    ri->script_name = r->route.script_name ? r->route.script_name : "";
    ri->script_filename = r->route.script_filename ? r->route.script_filename : "";
    ri->path_info = r->route.path_info ? r->route.path_info : "";
    ri->path_translated = r->route.path_translated ? r->route.path_translated : "";
    ri->appl_physical_path = r->route.appl_physical_path ? r->route.appl_physical_path : "";

    r->magic = REQUEST_MAGIC;
    r->srv = c->nl->srv;
    r->conn = c;
    r->start_time = time(NULL);
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->io_lock, NULL);
    pthread_mutex_init(&r->read_lock, NULL);

    EXTENSION_CONTROL_BLOCK *ecb = &r->ecb;
    ecb->cbSize = sizeof *ecb;
    ecb->dwVersion = MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    ecb->ConnID = (HCONN)ecb;
    ecb->dwHttpStatusCode = 200;
    ecb->lpszMethod = (LPSTR)ri->method;
    ecb->lpszQueryString = (LPSTR)ri->query;
    ecb->lpszPathInfo = (LPSTR)ri->path_info;
    ecb->lpszPathTranslated = (LPSTR)ri->path_translated;
    ecb->lpszContentType = (LPSTR)ri->content_type;
    if (ri->chunked || (ri->has_content_length && ri->content_length >= 0xFFFFFFFFull))
        ecb->cbTotalBytes = 0xFFFFFFFFu; /* unknown (chunked) or 4 GiB and more */
    else
        ecb->cbTotalBytes = (DWORD)ri->content_length;
    ecb->cbAvailable = 0;
    ecb->lpbData = (LPBYTE)r->readahead;
    r->readahead[0] = '\0';
    ecb->GetServerVariable = cb_get_server_variable;
    ecb->WriteClient = cb_write_client;
    ecb->ReadClient = cb_read_client;
    ecb->ServerSupportFunction = cb_server_support_function;
    return r;
}

static void request_free(request_t *r)
{
    if (r->ext)
        extensions_release(r->srv->extensions, r->ext);
    r->magic = 0;
    route_free(&r->route);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->io_lock);
    pthread_mutex_destroy(&r->read_lock);
    free(r->strings);
    free(r->headers);
    free(r->readahead);
    free(r->log_param);
    free(r->pending);
    free(r);
}

void isapi_request_discard(request_t *r) { request_free(r); }

/* ------------------------------------------------------------------------------------------ */
/* Session: ends exactly once, when HttpExtensionProc has returned a final status, or has
 * returned PENDING and DONE_WITH_SESSION has come (in either order, from any thread). */

static void session_post_end(request_t *r)
{
    /* After this post the loop may free r at any moment: touch nothing afterwards. */
    loop_post(r->conn->nl->loop, &r->end_task, conn_request_ended);
}

static void session_returned(request_t *r, DWORD status)
{
    pthread_mutex_lock(&r->lock);
    r->returned = true;
    r->proc_status = status;
    bool end = !r->ended && (status != HSE_STATUS_PENDING || r->done_called);
    if (end)
        r->ended = true;
    pthread_mutex_unlock(&r->lock);
    if (end)
        session_post_end(r);
}

static BOOL session_done(request_t *r, DWORD status)
{
    pthread_mutex_lock(&r->lock);
    if (r->done_called || r->ended) { /* duplicates are ignored */
        pthread_mutex_unlock(&r->lock);
        return TRUE;
    }
    r->done_called = true;
    r->done_status = status;
    bool end = r->returned && r->proc_status == HSE_STATUS_PENDING;
    if (end)
        r->ended = true;
    pthread_mutex_unlock(&r->lock);
    if (end)
        session_post_end(r);
    return TRUE;
}

static void request_run(pool_work_t *w)
{
    request_t *r = (request_t *)((char *)w - offsetof(request_t, work));
    char err[512];
    extension_t *ext = extensions_acquire(r->srv->extensions, r->route.handler, err, sizeof err);
    if (!ext) {
        r->load_failed = true;
        session_returned(r, HSE_STATUS_ERROR);
        return;
    }
    r->ext = ext;
    SetLastError(0);
    DWORD status = ext->proc(&r->ecb);
    session_returned(r, status);
}

void isapi_request_start(request_t *r, uint32_t readahead_len)
{
    r->readahead[readahead_len] = '\0'; /* extensions treat lpbData as a C string */
    r->ecb.cbAvailable = readahead_len;
    if (!pool_submit(r->srv->pool, &r->work, request_run)) {
        r->refused = true;
        session_returned(r, HSE_STATUS_ERROR);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Response output (under io_lock) */

/* Called from extension threads: reads only what the loop does not change while the extension
 * owns the request (conn->keep_alive) and the server-wide atomic stop flag. */
static bool request_keep_alive_possible(request_t *r)
{
    return r->conn->keep_alive && !atomic_load(&r->srv->stopping);
}

/* Send bytes of the body with the response's framing. head (may be NULL) goes first. */
static BOOL send_body(request_t *r, const char *head, size_t head_len, const void *data,
                      size_t len)
{
    struct iovec iov[4];
    int n = 0;
    char chunk_line[24];
    if (head_len)
        iov[n++] = (struct iovec){(void *)head, head_len};
    size_t send_len = len;
    switch (r->framing) {
    case FRAME_NONE:
        send_len = 0;
        break;
    case FRAME_LENGTH:
        if (r->body_sent >= r->declared_length)
            send_len = 0;
        else if (len > r->declared_length - r->body_sent)
            send_len = (size_t)(r->declared_length - r->body_sent);
        if (send_len < len) {
            /* More than Content-Length: the excess would read as the next response. */
            r->close_after = true;
        }
        if (r->ri.method[0] == 'H' && strcmp(r->ri.method, "HEAD") == 0)
            send_len = 0;
        break;
    case FRAME_CHUNKED:
        break;
    case FRAME_PASSTHRU:
    case FRAME_CLOSE:
        break;
    }
    if (send_len) {
        if (r->framing == FRAME_CHUNKED) {
            int m = snprintf(chunk_line, sizeof chunk_line, "%zx\r\n", send_len);
            iov[n++] = (struct iovec){chunk_line, (size_t)m};
            iov[n++] = (struct iovec){(void *)data, send_len};
            iov[n++] = (struct iovec){"\r\n", 2};
        } else {
            iov[n++] = (struct iovec){(void *)data, send_len};
        }
    }
    r->body_sent += len;
    if (n == 0)
        return TRUE;
    int rc = conn_send_all(r->conn, iov, n);
    if (rc < 0) {
        r->io_failed = true;
        return fail(isapi_win32_error(rc));
    }
    return TRUE;
}

/* Decide the framing for h, build the head, send it with the first body bytes. */
static BOOL send_head(request_t *r, resphead_t *h, const void *body, size_t body_len)
{
    bool is_head = strcmp(r->ri.method, "HEAD") == 0;
    unsigned st = h->status;
    if (st < 200 || st == 204 || st == 304) {
        r->framing = FRAME_NONE;
    } else if (h->has_content_length) {
        r->framing = FRAME_LENGTH;
        r->declared_length = h->content_length;
    } else if (is_head) {
        r->framing = FRAME_NONE;
    } else if (h->chunked) {
        r->framing = FRAME_PASSTHRU;
    } else if (r->ri.http_minor >= 1) {
        r->framing = FRAME_CHUNKED;
    } else {
        r->framing = FRAME_CLOSE;
        r->close_after = true;
    }
    if (h->conn_close)
        r->close_after = true;
    bool keep = request_keep_alive_possible(r) && !r->close_after;
    char *head = NULL;
    size_t head_len = 0;
    if (resphead_build(h, r->ri.http_minor, r->framing, keep, r->srv->software, &head,
                       &head_len) < 0)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    r->head_sent = true;
    r->status_sent = st;
    r->ecb.dwHttpStatusCode = st;
    BOOL ok = send_body(r, head, head_len, body, body_len);
    free(head);
    return ok;
}

/* SEND_RESPONSE_HEADER[_EX]: status text, header text (may carry body after the blank line). */
static BOOL send_response_header(request_t *r, const char *status, size_t status_len,
                                 const char *headers, size_t headers_len, bool keep_conn)
{
    pthread_mutex_lock(&r->io_lock);
    BOOL ok;
    if (r->head_sent) {
        ok = fail(ERROR_INVALID_PARAMETER);
        goto out;
    }
    resphead_t h;
    resphead_init(&h);
    if (resphead_parse_status(&h, status, status_len) < 0 ||
        (headers && resphead_parse_lines(&h, headers, headers_len) < 0)) {
        log_warn("%s: %s sent a malformed response header", r->ri.raw_target, r->route.handler);
        resphead_free(&h);
        ok = fail(ERROR_INVALID_PARAMETER);
        goto out;
    }
    if (!keep_conn)
        r->close_after = true;
    const char *body = headers ? headers + h.consumed : NULL;
    size_t body_len = headers ? headers_len - h.consumed : 0;
    /* cch that counted the terminating NUL: the NUL is not body. */
    while (body_len && body[body_len - 1] == '\0')
        body_len--;
    ok = send_head(r, &h, body, body_len);
    resphead_free(&h);
    if (ok && r->pending) { /* bytes written before the header that never formed a head */
        ok = send_body(r, NULL, 0, r->pending, r->pending_len);
        free(r->pending);
        r->pending = NULL;
        r->pending_len = 0;
    }
out:
    pthread_mutex_unlock(&r->io_lock);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* The four ECB callbacks */

static BOOL WINAPI cb_get_server_variable(HCONN hc, LPSTR name, LPVOID buf, LPDWORD size)
{
    request_t *r = request_of(hc);
    if (!r || !name || !size)
        return fail(ERROR_INVALID_PARAMETER);
    uint32_t sz = *size;
    uint32_t err = servervar_get(&r->ri, name, buf, &sz);
    *size = sz;
    if (err)
        return fail(err);
    return TRUE;
}

/* The first bytes an extension writes when no header went through a support function
 * (§7.4-7.5): a raw head ("HTTP/1.1 200 OK\r\n...", possibly written over several calls, kept
 * in r->pending until its empty line arrives), header lines ended by an empty line (the
 * FoxISAPI style), or plain body behind a default head. Under io_lock. */
static BOOL write_first(request_t *r, const char *buf, size_t len)
{
    const char *p = buf;
    size_t n = len;
    char *joined = NULL;
    if (r->pending) {
        joined = realloc(r->pending, r->pending_len + len);
        if (!joined)
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        memcpy(joined + r->pending_len, buf, len);
        r->pending = NULL;
        p = joined;
        n = r->pending_len + len;
        r->pending_len = 0;
    }
    resphead_t h;
    resphead_init(&h);
    int raw = resphead_parse_raw(&h, p, n);
    if (raw == 1) {
        /* An incomplete head: keep it until the rest arrives (resphead refuses heads over
         * RESPHEAD_MAX_HEAD, so this is bounded). */
        resphead_free(&h);
        if (!joined && !(joined = malloc(n)))
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        if (p != joined)
            memcpy(joined, p, n);
        r->pending = joined;
        r->pending_len = n;
        return TRUE;
    }
    if (raw != 0) {
        resphead_free(&h);
        resphead_init(&h);
        if (!resphead_looks_like_headers(p, n) || resphead_parse_lines(&h, p, n) < 0) {
            resphead_free(&h);
            resphead_init(&h);
            h.consumed = 0;
        }
    }
    BOOL ok = send_head(r, &h, p + h.consumed, n - h.consumed);
    resphead_free(&h);
    free(joined);
    return ok;
}

static BOOL WINAPI cb_write_client(HCONN hc, LPVOID buf, LPDWORD bytes, DWORD flags)
{
    request_t *r = request_of(hc);
    if (!r || !bytes || (!buf && *bytes))
        return fail(ERROR_INVALID_PARAMETER);
    if (flags & HSE_IO_ASYNC)
        return fail(ERROR_NOT_SUPPORTED); /* asynchronous I/O: not yet implemented */
    size_t len = *bytes;
    pthread_mutex_lock(&r->io_lock);
    BOOL ok;
    if (r->io_failed) {
        ok = fail(ERROR_NETNAME_DELETED);
    } else if (r->head_sent) {
        ok = send_body(r, NULL, 0, buf, len);
    } else if (len == 0) {
        ok = TRUE; /* nothing to decide the head from yet */
    } else {
        ok = write_first(r, buf, len);
    }
    pthread_mutex_unlock(&r->io_lock);
    if (ok)
        *bytes = (DWORD)len;
    return ok;
}

static BOOL WINAPI cb_read_client(HCONN hc, LPVOID buf, LPDWORD size)
{
    request_t *r = request_of(hc);
    if (!r || !size || (!buf && *size))
        return fail(ERROR_INVALID_PARAMETER);
    if (*size == 0)
        return TRUE;
    pthread_mutex_lock(&r->read_lock);
    BOOL ok = TRUE;
    DWORD got = 0;
    for (;;) {
        ssize_t n = conn_body_read(r->conn, buf, *size);
        if (n >= 0) {
            got = (DWORD)n;
            break;
        }
        if (n == -EAGAIN) {
            int w = conn_wait_readable(r->conn, r->srv->cfg->body_timeout_ms);
            if (w == 0)
                continue;
            n = w;
        }
        if (n == -EFBIG)
            log_warn("%s: request body over the %llu byte limit", r->ri.raw_target,
                     (unsigned long long)r->srv->cfg->max_body_bytes);
        r->close_after = true; /* the body's framing is lost: no further request on it */
        ok = fail(isapi_win32_error((int)n));
        break;
    }
    pthread_mutex_unlock(&r->read_lock);
    *size = got;
    return ok;
}

/* MAP_URL_TO_PATH: a URL (possibly with a query, which is ignored) to a file system path:
 * below a script directory when the URL is under its prefix, else below the root. */
static DWORD map_url(request_t *r, const char *url, char *out, size_t out_size, size_t *needed,
                     DWORD *flags, size_t *match_path, size_t *match_url)
{
    size_t len = strcspn(url, "?");
    if (len == 0 || url[0] != '/')
        return ERROR_INVALID_PARAMETER;
    char *norm = malloc(len + 2);
    if (!norm)
        return ERROR_NOT_ENOUGH_MEMORY;
    path_status_t ps = path_normalize(url, len, norm, len + 2);
    if (ps != PATH_OK) {
        free(norm);
        return ERROR_INVALID_PARAMETER;
    }
    config_t *cfg = r->srv->cfg;
    const char *base = cfg->root;
    const char *rest = norm;
    size_t prefix_len = 0;
    *flags = HSE_URL_FLAGS_READ;
    for (size_t i = 0; i < cfg->n_scripts; i++) {
        const script_dir_t *sd = &cfg->scripts[i];
        size_t pl = strlen(sd->prefix);
        bool root_prefix = pl == 1 && sd->prefix[0] == '/';
        if (root_prefix || (strncmp(norm, sd->prefix, pl) == 0 && (norm[pl] == '/' || norm[pl] == '\0'))) {
            size_t eff = root_prefix ? 0 : pl;
            if (eff >= prefix_len && (base == cfg->root || eff > prefix_len)) {
                base = sd->dir;
                rest = norm + eff;
                prefix_len = eff;
                *flags = HSE_URL_FLAGS_READ | HSE_URL_FLAGS_EXECUTE | HSE_URL_FLAGS_SCRIPT;
            }
        }
    }
    size_t base_len = strlen(base);
    *needed = base_len + strlen(rest) + 1;
    *match_path = base_len;
    *match_url = prefix_len;
    DWORD result = ERROR_SUCCESS;
    if (*needed > out_size)
        result = ERROR_INSUFFICIENT_BUFFER;
    else
        snprintf(out, out_size, "%s%s", base, rest);
    free(norm);
    return result;
}

static BOOL ssf_map_url_to_path(request_t *r, LPVOID buf, LPDWORD size)
{
    if (!buf || !size)
        return fail(ERROR_INVALID_PARAMETER);
    /* In place: the URL comes in the buffer the path goes out in. */
    size_t cap = *size;
    char *url = strndup(buf, cap ? cap : 1);
    if (!url)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    char *out = malloc(cap + 1);
    size_t needed = 0, mp, mu;
    DWORD flags;
    DWORD err = out ? map_url(r, url, out, cap, &needed, &flags, &mp, &mu) : ERROR_NOT_ENOUGH_MEMORY;
    if (err == ERROR_SUCCESS)
        memcpy(buf, out, needed);
    if (err == ERROR_SUCCESS || err == ERROR_INSUFFICIENT_BUFFER)
        *size = (DWORD)needed;
    free(url);
    free(out);
    return err ? fail(err) : TRUE;
}

static BOOL ssf_map_url_to_path_ex(request_t *r, LPVOID buf, LPDWORD data_type)
{
    HSE_URL_MAPEX_INFO *info = (HSE_URL_MAPEX_INFO *)data_type;
    if (!buf || !info)
        return fail(ERROR_INVALID_PARAMETER);
    size_t needed, mp, mu;
    DWORD flags;
    char path[MAX_PATH];
    DWORD err = map_url(r, buf, path, sizeof path, &needed, &flags, &mp, &mu);
    if (err)
        return fail(err);
    memcpy(info->lpszPath, path, needed);
    info->dwFlags = flags;
    info->cchMatchingPath = (DWORD)mp;
    info->cchMatchingURL = (DWORD)mu;
    info->dwReserved1 = info->dwReserved2 = 0;
    return TRUE;
}

static BOOL ssf_redirect(request_t *r, const char *url)
{
    if (!url || !url[0] || strpbrk(url, "\r\n"))
        return fail(ERROR_INVALID_PARAMETER);
    resphead_t h;
    resphead_init(&h);
    h.status = 302;
    snprintf(h.reason, sizeof h.reason, "%s", http_status_reason(302));
    char body[] = "<!DOCTYPE html>\n<html><head><title>302 Found</title></head>"
                  "<body><h1>302 Found</h1></body></html>\n";
    if (resphead_add(&h, "Location", url) < 0 || resphead_add(&h, "Content-Type", "text/html") < 0) {
        resphead_free(&h);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    h.has_content_length = true;
    h.content_length = sizeof body - 1;
    pthread_mutex_lock(&r->io_lock);
    BOOL ok = r->head_sent ? fail(ERROR_INVALID_PARAMETER) : send_head(r, &h, body, sizeof body - 1);
    pthread_mutex_unlock(&r->io_lock);
    resphead_free(&h);
    return ok;
}

static BOOL ssf_append_log(request_t *r, const char *text)
{
    if (!text)
        return fail(ERROR_INVALID_PARAMETER);
    pthread_mutex_lock(&r->io_lock);
    size_t old = r->log_param ? strlen(r->log_param) : 0;
    size_t add = strlen(text);
    char *p = realloc(r->log_param, old + add + 1);
    if (p) {
        memcpy(p + old, text, add + 1);
        r->log_param = p;
    }
    pthread_mutex_unlock(&r->io_lock);
    return p ? TRUE : fail(ERROR_NOT_ENOUGH_MEMORY);
}

static BOOL WINAPI cb_server_support_function(HCONN hc, DWORD code, LPVOID buf, LPDWORD size,
                                              LPDWORD data_type)
{
    request_t *r = request_of(hc);
    if (!r)
        return fail(ERROR_INVALID_PARAMETER);
    switch (code) {
    case HSE_REQ_SEND_RESPONSE_HEADER: {
        const char *status = buf;
        const char *headers = (const char *)data_type;
        return send_response_header(r, status, status ? strlen(status) : 0, headers,
                                    headers ? strlen(headers) : 0, true);
    }
    case HSE_REQ_SEND_RESPONSE_HEADER_EX: {
        const HSE_SEND_HEADER_EX_INFO *info = buf;
        if (!info)
            return fail(ERROR_INVALID_PARAMETER);
        /* cch may or may not count the NUL; never read past one. */
        size_t sl = info->pszStatus ? strnlen(info->pszStatus, info->cchStatus ? info->cchStatus : 4096) : 0;
        size_t hl = info->pszHeader ? strnlen(info->pszHeader, info->cchHeader ? info->cchHeader : 1u << 20) : 0;
        return send_response_header(r, info->pszStatus, sl, info->pszHeader, hl, info->fKeepConn != FALSE);
    }
    case HSE_REQ_SEND_URL_REDIRECT_RESP:
        return ssf_redirect(r, buf);
    case HSE_REQ_DONE_WITH_SESSION:
        return session_done(r, buf ? *(DWORD *)buf : HSE_STATUS_SUCCESS);
    case HSE_REQ_IS_KEEP_CONN:
        if (!buf)
            return fail(ERROR_INVALID_PARAMETER);
        *(BOOL *)buf = request_keep_alive_possible(r) && !r->close_after;
        return TRUE;
    case HSE_REQ_IS_CONNECTED:
        if (!buf)
            return fail(ERROR_INVALID_PARAMETER);
        *(BOOL *)buf = !conn_peer_gone(r->conn);
        return TRUE;
    case HSE_APPEND_LOG_PARAMETER:
        return ssf_append_log(r, buf);
    case HSE_REQ_MAP_URL_TO_PATH:
        return ssf_map_url_to_path(r, buf, size);
    case HSE_REQ_MAP_URL_TO_PATH_EX:
        return ssf_map_url_to_path_ex(r, buf, data_type);
    case HSE_REQ_ABORTIVE_CLOSE:
        return TRUE; /* ignored, as by IIS 5.1 and later */
    case HSE_REQ_IS_IN_PROCESS:
        if (!buf)
            return fail(ERROR_INVALID_PARAMETER);
        *(DWORD *)buf = HSE_APP_FLAG_IN_PROCESS;
        return TRUE;
    case HSE_REQ_SEND_URL:
    case HSE_REQ_IO_COMPLETION:
    case HSE_REQ_TRANSMIT_FILE:
    case HSE_REQ_ASYNC_READ_CLIENT:
    case HSE_REQ_CLOSE_CONNECTION:
    case HSE_REQ_VECTOR_SEND:
    case HSE_REQ_EXEC_URL:
    case HSE_REQ_EXEC_UNICODE_URL:
    case HSE_REQ_GET_EXEC_URL_STATUS:
    case HSE_REQ_SEND_CUSTOM_ERROR:
    case HSE_REQ_MAP_UNICODE_URL_TO_PATH:
    case HSE_REQ_MAP_UNICODE_URL_TO_PATH_EX:
    case HSE_REQ_GET_CERT_INFO_EX:
    case HSE_REQ_GET_IMPERSONATION_TOKEN:
    case HSE_REQ_GET_SSPI_INFO:
    case HSE_REQ_CANCEL_IO:
    case HSE_REQ_NORMALIZE_URL:
    case HSE_REQ_SET_FLUSH_FLAG:
        /* Known ISAPI requests this server does not implement yet. */
        return fail(ERROR_NOT_SUPPORTED);
    default:
        return fail(ERROR_INVALID_PARAMETER);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* End of the session, on the loop */

/* A whole response (head and body) as one buffer, for the loop to send. Length framing. */
static char *build_response(request_t *r, resphead_t *h, const char *body, size_t body_len,
                            bool keep, size_t *len)
{
    bool no_body = h->status < 200 || h->status == 204 || h->status == 304;
    h->has_content_length = true;
    h->content_length = body_len;
    char *head = NULL;
    size_t head_len = 0;
    if (resphead_build(h, r->ri.http_minor, no_body ? FRAME_NONE : FRAME_LENGTH, keep,
                       r->srv->software, &head, &head_len) < 0)
        return NULL;
    if (body_len && !no_body && strcmp(r->ri.method, "HEAD") != 0) {
        char *all = realloc(head, head_len + body_len);
        if (!all) {
            free(head);
            return NULL;
        }
        memcpy(all + head_len, body, body_len);
        head = all;
        head_len += body_len;
        r->body_sent = body_len;
    }
    r->head_sent = true;
    r->status_sent = h->status;
    *len = head_len;
    return head;
}

static char *error_page(request_t *r, unsigned status, size_t *len)
{
    resphead_t h;
    resphead_init(&h);
    h.status = status;
    snprintf(h.reason, sizeof h.reason, "%s", http_status_reason(status));
    char body[256];
    int n = snprintf(body, sizeof body,
                     "<!DOCTYPE html>\n<html><head><title>%u %s</title></head>"
                     "<body><h1>%u %s</h1></body></html>\n",
                     status, h.reason, status, h.reason);
    char *out = NULL;
    if (resphead_add(&h, "Content-Type", "text/html") == 0)
        out = build_response(r, &h, body, (size_t)n, false, len);
    resphead_free(&h);
    return out;
}

void isapi_request_end(request_t *r, request_end_t *out)
{
    memset(out, 0, sizeof *out);
    DWORD final = r->proc_status == HSE_STATUS_PENDING ? r->done_status : r->proc_status;
    bool error = final == HSE_STATUS_ERROR;
    pthread_mutex_lock(&r->io_lock);
    bool keep = request_keep_alive_possible(r) && !r->close_after && !r->io_failed && !error;
    if (!r->head_sent) {
        resphead_t h;
        resphead_init(&h);
        if (error || r->load_failed || r->refused) {
            out->tail = error_page(r, r->refused ? 503 : 500, &out->tail_len);
            keep = false;
        } else if (r->pending) {
            /* An incomplete raw head was all the extension wrote: it was body after all. */
            out->tail = build_response(r, &h, r->pending, r->pending_len, keep, &out->tail_len);
        } else {
            /* Nothing sent: an empty response with the status the extension left in the ECB. */
            DWORD st = r->ecb.dwHttpStatusCode;
            h.status = st >= 100 && st <= 999 ? st : 200;
            snprintf(h.reason, sizeof h.reason, "%s", http_status_reason(h.status));
            out->tail = build_response(r, &h, NULL, 0, keep, &out->tail_len);
        }
        resphead_free(&h);
        if (!out->tail)
            keep = false;
    } else if (r->framing == FRAME_CHUNKED && !r->io_failed) {
        static const char last[] = "0\r\n\r\n";
        out->tail = malloc(sizeof last - 1);
        if (out->tail) {
            memcpy(out->tail, last, sizeof last - 1);
            out->tail_len = sizeof last - 1;
        } else {
            keep = false;
        }
    } else if (r->framing == FRAME_LENGTH && r->body_sent < r->declared_length &&
               strcmp(r->ri.method, "HEAD") != 0) {
        keep = false; /* fewer bytes than the Content-Length promised */
        log_warn("%s: %s sent %llu of %llu body bytes; closing the connection", r->ri.raw_target,
                 r->route.handler, (unsigned long long)r->body_sent,
                 (unsigned long long)r->declared_length);
    } else if (r->framing == FRAME_CLOSE) {
        keep = false;
    }
    pthread_mutex_unlock(&r->io_lock);
    out->keep_alive = keep;

    accesslog_t *log = r->srv->access_log;
    if (log) {
        char param[HSE_LOG_BUFFER_LEN + 1024];
        size_t n = strnlen(r->ecb.lpszLogData, HSE_LOG_BUFFER_LEN);
        snprintf(param, sizeof param, "%.*s%s%s", (int)n, r->ecb.lpszLogData,
                 n && r->log_param ? " " : "", r->log_param ? r->log_param : "");
        const http_header_t *ref = reqinfo_header(&r->ri, "Referer");
        const http_header_t *ua = reqinfo_header(&r->ri, "User-Agent");
        accesslog_entry_t e = {
            .remote_addr = r->ri.remote_addr,
            .when = r->start_time,
            .method = r->ri.method,
            .target = r->ri.raw_target,
            .http_major = r->ri.http_major,
            .http_minor = r->ri.http_minor,
            .status = r->status_sent,
            .body_bytes = r->body_sent,
            .referer = ref ? ref->value : NULL,
            .user_agent = ua ? ua->value : NULL,
            .log_param = param,
        };
        accesslog_write(log, &e);
    }
    request_free(r);
}
