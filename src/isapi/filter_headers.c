/* GetHeader / SetHeader / AddHeader (ISAPI-FILTERS.md §2.7): over the request's head in
 * PREPROC_HEADERS and AUTH_COMPLETE, over the response head in SEND_RESPONSE. Names carry their
 * trailing colon ("Host:"); the pseudo-names "method", "url", "version" (request) and "status"
 * (response) have none. SetHeader with "" deletes. The request's header table is copied into a
 * table of the filters' own the first time a filter changes it (fr->headers), so the extension
 * sees the changed headers as HTTP_* variables; new strings live in fr->strs. Errors:
 * ERROR_INVALID_PARAMETER (NULL arguments, a name without its colon, CR/LF in a value),
 * ERROR_INVALID_INDEX (absent), ERROR_INSUFFICIENT_BUFFER (with the size needed, NUL included),
 * ERROR_NOT_SUPPORTED outside those notifications. */
#define _GNU_SOURCE
#include "filter_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isapi_internal.h"
#include "httputil.h"

BOOL filter_copy_out(const char *v, size_t n, LPVOID buf, LPDWORD size)
{
    if (!size)
        return fail(ERROR_INVALID_PARAMETER);
    if (!buf || *size < n + 1) {
        *size = (DWORD)(n + 1);
        return fail(ERROR_INSUFFICIENT_BUFFER);
    }
    memcpy(buf, v, n);
    ((char *)buf)[n] = '\0';
    *size = (DWORD)(n + 1);
    return TRUE;
}

typedef enum { ON_NONE, ON_REQUEST, ON_RESPONSE } header_side_t;

static header_side_t side(const filter_req_t *fr)
{
    if (!fr)
        return ON_NONE;
    if (fr->current == SF_NOTIFY_PREPROC_HEADERS || fr->current == SF_NOTIFY_AUTH_COMPLETE)
        return ON_REQUEST;
    if (fr->current == SF_NOTIFY_SEND_RESPONSE && fr->resp)
        return ON_RESPONSE;
    return ON_NONE;
}

/* A header name "Name:" → its length without the colon; 0 when it has none (or is empty). */
static size_t header_name_len(const char *name)
{
    size_t n = strlen(name);
    return n > 1 && name[n - 1] == ':' ? n - 1 : 0;
}

static bool value_ok(const char *v)
{
    return !strpbrk(v, "\r\n");
}

/* ---- request side ---- */

/* The request's headers as a table the filters may change. */
static bool own_headers(request_t *r, size_t extra)
{
    filter_req_t *fr = r->filt;
    size_t n = r->ri.n_headers;
    if (fr->headers && n + extra <= fr->headers_cap)
        return true;
    size_t cap = (n + extra) * 2 + 8;
    http_header_t *t = malloc(cap * sizeof *t);
    if (!t)
        return false;
    if (n)
        memcpy(t, r->ri.headers, n * sizeof *t);
    free(fr->headers);
    fr->headers = t;
    fr->headers_cap = cap;
    r->ri.headers = t;
    return true;
}

static const char *request_pseudo(request_t *r, const char *name, char *tmp, size_t tmp_size)
{
    if (strcmp(name, "method") == 0)
        return r->ri.method;
    if (strcmp(name, "url") == 0)
        return r->filt->url;
    if (strcmp(name, "version") == 0) {
        snprintf(tmp, tmp_size, "HTTP/%u.%u", r->ri.http_major, r->ri.http_minor);
        return tmp;
    }
    return NULL;
}

static BOOL request_get(request_t *r, const char *name, LPVOID buf, LPDWORD size)
{
    char tmp[32];
    const char *v = request_pseudo(r, name, tmp, sizeof tmp);
    if (v)
        return filter_copy_out(v, strlen(v), buf, size);
    size_t n = header_name_len(name);
    if (!n)
        return fail(ERROR_INVALID_PARAMETER);
    /* Several headers of one name: their values joined with ", " (RFC 9110 §5.3). */
    size_t total = 0, found = 0;
    const http_header_t *first = NULL;
    for (size_t i = 0; i < r->ri.n_headers; i++) {
        const http_header_t *h = &r->ri.headers[i];
        if (h->name_len == n && http_ascii_ncasecmp(h->name, name, n) == 0) {
            total += (found ? 2 : 0) + h->value_len;
            if (!found++)
                first = h;
        }
    }
    if (!found)
        return fail(ERROR_INVALID_INDEX);
    if (found == 1)
        return filter_copy_out(first->value, first->value_len, buf, size);
    char *joined = malloc(total + 1);
    if (!joined)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    size_t at = 0;
    for (size_t i = 0; i < r->ri.n_headers; i++) {
        const http_header_t *h = &r->ri.headers[i];
        if (h->name_len == n && http_ascii_ncasecmp(h->name, name, n) == 0) {
            if (at) {
                memcpy(joined + at, ", ", 2);
                at += 2;
            }
            memcpy(joined + at, h->value, h->value_len);
            at += h->value_len;
        }
    }
    BOOL ok = filter_copy_out(joined, total, buf, size);
    free(joined);
    return ok;
}

static BOOL request_set(request_t *r, const char *name, const char *value, bool add)
{
    filter_req_t *fr = r->filt;
    if (!value_ok(value))
        return fail(ERROR_INVALID_PARAMETER);
    if (strcmp(name, "url") == 0) {
        if (value[0] != '/')
            return fail(ERROR_INVALID_PARAMETER);
        const char *u = filter_strdup(fr, value, strlen(value));
        if (!u)
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        fr->url = u;
        fr->url_changed = true;
        return TRUE;
    }
    if (strcmp(name, "method") == 0) {
        if (!value[0] || strpbrk(value, " \t"))
            return fail(ERROR_INVALID_PARAMETER);
        const char *m = filter_strdup(fr, value, strlen(value));
        if (!m)
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        r->ri.method = m;
        r->cell->ecb.lpszMethod = (LPSTR)m;
        return TRUE;
    }
    if (strcmp(name, "version") == 0)
        return fail(ERROR_NOT_SUPPORTED); /* the connection's framing depends on it */
    size_t n = header_name_len(name);
    if (!n)
        return fail(ERROR_INVALID_PARAMETER);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] <= ' ' || name[i] == ':' || name[i] == 0x7f)
            return fail(ERROR_INVALID_PARAMETER);
    if (!own_headers(r, 1))
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    http_header_t *t = fr->headers;
    size_t m = r->ri.n_headers;
    if (!add) { /* replace: every header of that name goes */
        size_t k = 0;
        for (size_t i = 0; i < m; i++)
            if (!(t[i].name_len == n && http_ascii_ncasecmp(t[i].name, name, n) == 0))
                t[k++] = t[i];
        m = k;
    }
    const char *v = "";
    if (value[0] || add) {
        const char *nm = filter_strdup(fr, name, n);
        v = filter_strdup(fr, value, strlen(value));
        if (!nm || !v)
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        t[m++] = (http_header_t){
            .name = nm, .value = v, .name_len = (uint32_t)n, .value_len = (uint32_t)strlen(v)};
    }
    r->ri.n_headers = m;
    if (n == 12 && http_ascii_ncasecmp(name, "Content-Type", 12) == 0 && (!add || !r->ri.content_type[0])) {
        /* CONTENT_TYPE and the ECB's lpszContentType follow the header (an added one only
         * when there was none) */
        r->ri.content_type = v;
        r->cell->ecb.lpszContentType = (LPSTR)v;
    }
    return TRUE;
}

/* ---- response side ---- */

/* The line of h->lines for name (n bytes, no colon), or NULL; *len: the line's length. */
static char *find_line(resphead_t *h, const char *name, size_t n, size_t from, size_t *len)
{
    char *p = h->lines ? h->lines + from : NULL;
    char *end = h->lines ? h->lines + h->lines_len : NULL;
    while (p && p < end) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t l = eol ? (size_t)(eol - p) + 1 : (size_t)(end - p);
        if (l > n && p[n] == ':' && http_ascii_ncasecmp(p, name, n) == 0) {
            *len = l;
            return p;
        }
        p += l;
    }
    return NULL;
}

static BOOL response_get(resphead_t *h, const char *name, LPVOID buf, LPDWORD size)
{
    char tmp[160];
    if (strcmp(name, "status") == 0) {
        int m = snprintf(tmp, sizeof tmp, "%u %s", h->status, h->reason);
        return filter_copy_out(tmp, (size_t)m, buf, size);
    }
    size_t n = header_name_len(name);
    if (!n)
        return fail(ERROR_INVALID_PARAMETER);
    if (n == 14 && http_ascii_ncasecmp(name, "Content-Length", 14) == 0) {
        if (!h->has_content_length)
            return fail(ERROR_INVALID_INDEX);
        int m = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)h->content_length);
        return filter_copy_out(tmp, (size_t)m, buf, size);
    }
    size_t len;
    char *line = find_line(h, name, n, 0, &len);
    if (!line)
        return fail(ERROR_INVALID_INDEX);
    const char *v = line + n + 1, *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
        e--;
    return filter_copy_out(v, (size_t)(e - v), buf, size);
}

static void remove_lines(resphead_t *h, const char *name, size_t n)
{
    size_t len;
    char *line;
    while ((line = find_line(h, name, n, 0, &len))) {
        size_t after = h->lines_len - (size_t)(line - h->lines) - len;
        memmove(line, line + len, after + 1); /* with the NUL */
        h->lines_len -= len;
    }
}

static BOOL response_set(resphead_t *h, const char *name, const char *value, bool add)
{
    if (!value_ok(value))
        return fail(ERROR_INVALID_PARAMETER);
    if (strcmp(name, "status") == 0) {
        resphead_t st;
        if (resphead_parse_status(&st, value, strlen(value)) < 0 || st.status < 200)
            return fail(ERROR_INVALID_PARAMETER);
        h->status = st.status;
        memcpy(h->reason, st.reason, sizeof h->reason);
        resphead_free(&st);
        return TRUE;
    }
    size_t n = header_name_len(name);
    if (!n)
        return fail(ERROR_INVALID_PARAMETER);
    char *nm = strndup(name, n);
    if (!nm)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    if (!add) {
        remove_lines(h, nm, n);
        if (n == 14 && http_ascii_ncasecmp(nm, "Content-Length", 14) == 0)
            h->has_content_length = false;
        if (n == 6 && http_ascii_ncasecmp(nm, "Server", 6) == 0)
            h->has_server = true; /* deleted: the server adds none either */
    }
    int rc = value[0] || add ? resphead_add(h, nm, value) : 0;
    free(nm);
    return rc == 0 ? TRUE : fail(ERROR_INVALID_PARAMETER);
}

BOOL filter_resp_add_lines(resphead_t *h, const char *text, size_t len)
{
    return len == 0 || resphead_parse_lines(h, text, len) == 0;
}

/* ---- the three callbacks ---- */

BOOL WINAPI filter_get_header(PHTTP_FILTER_CONTEXT pfc, LPSTR name, LPVOID buf, LPDWORD size)
{
    request_t *r = filter_pfc_request(pfc);
    if (!name || !size)
        return fail(ERROR_INVALID_PARAMETER);
    switch (side(r ? r->filt : NULL)) {
    case ON_REQUEST:
        return request_get(r, name, buf, size);
    case ON_RESPONSE:
        return response_get(r->filt->resp, name, buf, size);
    default:
        return fail(ERROR_NOT_SUPPORTED);
    }
}

static BOOL set_or_add(PHTTP_FILTER_CONTEXT pfc, LPSTR name, LPSTR value, bool add)
{
    request_t *r = filter_pfc_request(pfc);
    if (!name || !value)
        return fail(ERROR_INVALID_PARAMETER);
    switch (side(r ? r->filt : NULL)) {
    case ON_REQUEST:
        return request_set(r, name, value, add);
    case ON_RESPONSE:
        return response_set(r->filt->resp, name, value, add);
    default:
        return fail(ERROR_NOT_SUPPORTED);
    }
}

BOOL WINAPI filter_set_header(PHTTP_FILTER_CONTEXT pfc, LPSTR name, LPSTR value)
{
    return set_or_add(pfc, name, value, false);
}

BOOL WINAPI filter_add_header(PHTTP_FILTER_CONTEXT pfc, LPSTR name, LPSTR value)
{
    return set_or_add(pfc, name, value, true);
}
