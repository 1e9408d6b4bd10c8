/* The IIS 6/7 support functions: HSE_REQ_SEND_CUSTOM_ERROR, HSE_REQ_CANCEL_IO,
 * HSE_REQ_SET_FLUSH_FLAG, HSE_REQ_NORMALIZE_URL, HSE_REQ_MAP_UNICODE_URL_TO_PATH(_EX),
 * HSE_REQ_GET_CERT_INFO_EX and the token requests (GET_IMPERSONATION_TOKEN, GET_SSPI_INFO).
 * server_support_function (src/isapi/isapi_ssf.c) dispatches to them; docs/isapi.md has what
 * each does and the errors it gives.
 * Invariants: writes go through the output plan under io_lock (src/isapi/isapi_plan.c), the
 * asynchronous custom error through op_issue (src/isapi/isapi_op.c); a cancel reaches the loop
 * through cancel_task, posted under the request's lock (isapi.h).
 * Ownership: the request_t is owned by src/isapi/isapi.c's lifecycle. */
#define _GNU_SOURCE
#include "isapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errorpage.h"
#include "log.h"
#include "path.h"
#include "isapi_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* HSE_REQ_SEND_CUSTOM_ERROR */

/* Under io_lock: the whole custom error response (head and the page) as one plan. The page is
 * copied behind the head, so the plan owns everything it sends. */
static BOOL custom_error_plan(request_t *r, resphead_t *h, out_plan_t *plan, DWORD *body_len)
{
    error_body_t body;
    errorpage_body(r->host->error_pages, h->status, &body);
    BOOL ok = TRUE;
    if (resphead_add(h, "Content-Type", body.content_type) < 0)
        ok = fail(ERROR_NOT_ENOUGH_MEMORY);
    char *head = NULL;
    size_t head_len = 0;
    if (ok)
        ok = prepare_head(r, h, body.len, true, &head, &head_len);
    if (ok) {
        ok = plan_build_copy(r, plan, head, head_len, body.data, body.len, true);
        *body_len = (DWORD)body.len;
    }
    errorpage_release(&body);
    return ok;
}

static BOOL custom_error_build(request_t *r, void *arg)
{
    return custom_error_plan(r, arg, &r->op.mem->plan, &r->op.report_bytes);
}

BOOL ssf_send_custom_error(request_t *r, const HSE_CUSTOM_ERROR_INFO *info)
{
    if (!info || !info->pszStatus)
        return fail(ERROR_INVALID_PARAMETER);
    /* uHttpSubError picks IIS's sub-status page (404.2 ...); there is one page per status here,
     * so it is accepted and has no effect. */
    resphead_t h;
    bool malformed = resphead_parse_status(&h, info->pszStatus, strlen(info->pszStatus)) < 0;
    if (malformed || h.status < 400 || h.status > 599) {
        static log_limiter_t bad_status = LOG_LIMITER_INIT;
        char why[64] = "a malformed status";
        if (!malformed)
            snprintf(why, sizeof why, "status %u is not an error status (400-599)", h.status);
        log_limited(&bad_status, LOG_WARN, "%s: %s: HSE_REQ_SEND_CUSTOM_ERROR refused: %s",
                    r->ri.raw_target, r->route.handler, why);
        resphead_free(&h);
        return fail(ERROR_INVALID_PARAMETER);
    }
    BOOL ok;
    if (info->fAsync) {
        PVOID ctx;
        PFN_HSE_IO_COMPLETION fn = registered_callback(r, &ctx);
        static const op_builder_t builder = {.build = custom_error_build, .whole_response = true};
        ok = fn ? op_issue(r, OP_WRITE, fn, ctx, &builder, &h) : fail(ERROR_INVALID_PARAMETER);
    } else {
        pthread_mutex_lock(&r->io_lock);
        if (op_write_outstanding(r)) {
            ok = fail(ERROR_BUSY);
        } else if (r->head_sent) {
            ok = fail(ERROR_INVALID_PARAMETER);
        } else if (r->io_failed || atomic_load(&r->closed_by_extension)) {
            ok = fail(ERROR_NETNAME_DELETED);
        } else {
            out_plan_t plan;
            DWORD n;
            ok = custom_error_plan(r, &h, &plan, &n);
            if (ok)
                ok = plan_send_sync(r, &plan);
        }
        pthread_mutex_unlock(&r->io_lock);
    }
    resphead_free(&h);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* HSE_REQ_CANCEL_IO */

/* The I/O a cancel reaches: the loop's reads and sends. A SEND_URL's child request is not an
 * I/O of the connection's; it ends when the child does. */
static bool op_cancellable(op_kind_t k)
{
    return k == OP_READ || k == OP_WRITE || k == OP_TRANSMIT || k == OP_VECTOR;
}

BOOL ssf_cancel_io(request_t *r)
{
    pthread_mutex_lock(&r->lock);
    bool outstanding = op_cancellable(r->op.kind);
    if (outstanding) {
        r->cancel_wanted = true;
        /* Posted under the lock, as CLOSE_CONNECTION's kick: the end of the request is posted
         * only after a later acquisition of it, so the task never finds the request freed; and
         * an operation claimed after this one starts from a task queued behind it. */
        if (!r->cancel_posted) {
            r->cancel_posted = true;
            loop_post(conn_loop(r->conn), &r->op.mem->cancel_task, op_cancel_task);
        }
    }
    pthread_mutex_unlock(&r->lock);
    /* As IHttpContext::CancelIo: nothing pending to cancel is ERROR_INVALID_HANDLE. */
    return outstanding ? TRUE : fail(ERROR_INVALID_HANDLE);
}

void op_cancel_task(loop_task_t *t)
{
    request_t *r = ((async_op_mem_t *)((char *)t - offsetof(async_op_mem_t, cancel_task)))->owner;
    pthread_mutex_lock(&r->lock);
    r->cancel_posted = false;
    bool wanted = r->cancel_wanted;
    async_op_mem_t *mem = r->op.mem;
    pthread_mutex_unlock(&r->lock);
    /* Not started yet (claimed, its start task behind this one): op_start cancels it. Over
     * already: conn_async_cancel finds another (or no) operation and does nothing. */
    if (wanted && mem)
        conn_async_cancel(r->conn, &mem->io);
}

/* ------------------------------------------------------------------------------------------ */
/* HSE_REQ_SET_FLUSH_FLAG */

BOOL ssf_set_flush_flag(request_t *r, bool on)
{
    /* The request's own output held back is the head of SEND_RESPONSE_HEADER[_EX] without body
     * bytes (isapi_plan.c): with the flag, it goes out now and no later head waits. The other is
     * the connection's gathering (src/http/conn_batch.c): the writes of an inline call behind
     * pipelined responses join the batch until the call returns; with the flag it ends here, so
     * every later WriteClient is sent when it is called. */
    pthread_mutex_lock(&r->io_lock);
    r->flush_writes = on;
    if (on)
        conn_gather_end(r->conn); /* the batch's writers hold io_lock: none is writing now */
    pthread_mutex_unlock(&r->io_lock);
    if (on)
        request_deferred_flush(r);
    return TRUE;
}

/* ------------------------------------------------------------------------------------------ */
/* HSE_REQ_NORMALIZE_URL */

BOOL ssf_normalize_url(char *url)
{
    if (!url)
        return fail(ERROR_INVALID_PARAMETER);
    /* The server's one normaliser (path.h): %xx decoded, dot segments resolved, "//" collapsed;
     * what it refuses (a bad escape, %2F, %00, a backslash, ".." above "/", invalid UTF-8) is
     * refused. A query stays as it was, after the path. The result is never longer than the
     * input, so it fits in place. */
    size_t len = strlen(url);
    size_t path_len = strcspn(url, "?#");
    char *out = malloc(len + 2);
    if (!out)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    if (path_normalize(url, path_len, out, len + 2) != PATH_OK) {
        free(out);
        return fail(ERROR_INVALID_PARAMETER);
    }
    size_t n = strlen(out);
    memmove(url + n, url + path_len, len - path_len + 1);
    memcpy(url, out, n);
    free(out);
    return TRUE;
}

/* ------------------------------------------------------------------------------------------ */
/* HSE_REQ_MAP_UNICODE_URL_TO_PATH(_EX): UTF-16 in and out around MAP_URL_TO_PATH's rule */

char *utf16_to_utf8(const WCHAR *in, size_t cap, DWORD *err)
{
    size_t n = 0;
    while (n < cap && in[n])
        n++;
    if (n == cap) { /* no NUL inside the buffer */
        *err = ERROR_INVALID_PARAMETER;
        return NULL;
    }
    char *out = malloc(n * 3 + 1); /* a unit is at most 3 bytes; a pair, 4 for 2 units */
    if (!out) {
        *err = ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && in[i + 1] >= 0xDC00 && in[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (in[i + 1] - 0xDC00u);
            i++;
        } else if (c >= 0xD800 && c <= 0xDFFF) { /* a lone surrogate names no character */
            free(out);
            *err = ERROR_INVALID_PARAMETER;
            return NULL;
        }
        if (c < 0x80) {
            *o++ = (char)c;
        } else if (c < 0x800) {
            *o++ = (char)(0xC0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            *o++ = (char)(0xE0 | (c >> 12));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        } else {
            *o++ = (char)(0xF0 | (c >> 18));
            *o++ = (char)(0x80 | ((c >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *o = '\0';
    return out;
}

/* UTF-16 units of the first len bytes of s (valid UTF-8: a path the server made). With out,
 * also writes them there (room for the count, which the caller checked). */
static size_t utf8_to_utf16(const char *s, size_t len, WCHAR *out)
{
    size_t units = 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        uint32_t c;
        size_t k = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
        if ((size_t)(end - p) < k)
            k = (size_t)(end - p); /* cut inside a character: count what is there */
        c = k == 1 ? *p : (uint32_t)(*p & (0xFF >> (k + 1)));
        for (size_t j = 1; j < k; j++)
            c = (c << 6) | (p[j] & 0x3F);
        p += k;
        if (c >= 0x10000) {
            if (out) {
                out[units] = (WCHAR)(0xD800 + ((c - 0x10000) >> 10));
                out[units + 1] = (WCHAR)(0xDC00 + ((c - 0x10000) & 0x3FF));
            }
            units += 2;
        } else {
            if (out)
                out[units] = (WCHAR)c;
            units++;
        }
    }
    return units;
}

/* The mapping of a UTF-16 URL: the UTF-8 path (malloc'ed) and what MAP_URL_TO_PATH_EX reports.
 * 0 or a Win32 error. */
static DWORD map_unicode(request_t *r, const WCHAR *url, size_t cap_units, char **path,
                         DWORD *flags, size_t *match_path, size_t *match_url_units)
{
    DWORD err = 0;
    char *u8 = utf16_to_utf8(url, cap_units, &err);
    if (!u8)
        return err;
    size_t cap = 4096, needed = 0, mu = 0;
    char *out = malloc(cap);
    err = out ? ssf_map_url(r, u8, out, cap, &needed, flags, match_path, &mu)
              : ERROR_NOT_ENOUGH_MEMORY;
    if (err == ERROR_INSUFFICIENT_BUFFER) { /* longer than PATH_MAX: once more, with room */
        char *grown = realloc(out, needed);
        out = grown ? grown : out;
        err = grown ? ssf_map_url(r, u8, out, needed, &needed, flags, match_path, &mu)
                    : ERROR_NOT_ENOUGH_MEMORY;
    }
    if (!err) {
        /* The matched prefix as the URL wrote it (prefixes are plain text in URLs in practice). */
        *match_url_units = utf8_to_utf16(u8, mu < strlen(u8) ? mu : strlen(u8), NULL);
        *path = out;
    } else {
        free(out);
    }
    free(u8);
    return err;
}

BOOL ssf_map_unicode_url_to_path(request_t *r, WCHAR *buf, LPDWORD size)
{
    if (!buf || !size || *size < sizeof(WCHAR))
        return fail(ERROR_INVALID_PARAMETER);
    char *path = NULL;
    DWORD flags;
    size_t mp, mu;
    DWORD err = map_unicode(r, buf, *size / sizeof(WCHAR), &path, &flags, &mp, &mu);
    if (err)
        return fail(err);
    size_t plen = strlen(path);
    size_t units = utf8_to_utf16(path, plen, NULL) + 1;
    DWORD needed = (DWORD)(units * sizeof(WCHAR)); /* sizes in bytes, the NUL counted */
    BOOL ok = TRUE;
    if (needed > *size) {
        ok = fail(ERROR_INSUFFICIENT_BUFFER);
    } else {
        utf8_to_utf16(path, plen, buf);
        buf[units - 1] = 0;
    }
    *size = needed;
    free(path);
    return ok;
}

BOOL ssf_map_unicode_url_to_path_ex(request_t *r, const WCHAR *url, LPDWORD size, LPDWORD data_type)
{
    HSE_UNICODE_URL_MAPEX_INFO *info = (HSE_UNICODE_URL_MAPEX_INFO *)data_type;
    if (!url || !info)
        return fail(ERROR_INVALID_PARAMETER);
    /* *lpdwSize, when given, bounds the URL (bytes); without it the URL's NUL does. */
    size_t cap = size && *size ? *size / sizeof(WCHAR) : (size_t)1 << 20;
    char *path = NULL;
    DWORD flags;
    size_t mp, mu;
    DWORD err = map_unicode(r, url, cap, &path, &flags, &mp, &mu);
    if (err)
        return fail(err);
    size_t plen = strlen(path);
    size_t units = utf8_to_utf16(path, plen, NULL);
    BOOL ok = TRUE;
    if (units + 1 > MAX_PATH) {
        ok = fail(ERROR_INSUFFICIENT_BUFFER);
        if (size)
            *size = (DWORD)((units + 1) * sizeof(WCHAR));
    } else {
        utf8_to_utf16(path, plen, info->lpszPath);
        info->lpszPath[units] = 0;
        info->dwFlags = flags;
        info->cchMatchingPath = (DWORD)utf8_to_utf16(path, mp < plen ? mp : plen, NULL);
        info->cchMatchingURL = (DWORD)mu;
    }
    free(path);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Certificates and tokens */

BOOL ssf_get_cert_info_ex(void *cert)
{
    /* isapid has no TLS; behind a TLS-terminating proxy no client certificate reaches it. Real
     * code takes ERROR_NO_DATA as "no certificate" (ISAPI-FILTERS.md §3.2, §5.1). */
    CERT_CONTEXT_EX *cx = cert;
    if (!cx)
        return fail(ERROR_INVALID_PARAMETER);
    cx->CertContext.cbCertEncoded = 0;
    cx->dwCertificateFlags = 0;
    return fail(ERROR_NO_DATA);
}

BOOL ssf_token_request(void *out)
{
    /* A Windows access token (or an SSPI context) does not exist on Linux: nothing could be
     * handed out that the extension could use; the out-parameter is cleared so that it never
     * looks like a handle. */
    if (out)
        *(HANDLE *)out = NULL;
    return fail(ERROR_NOT_SUPPORTED);
}
