/* The HTTP_FILTER_CONTEXT callbacks (ISAPI-FILTERS.md §2.8-2.10): GetServerVariable,
 * AddResponseHeaders, WriteClient, AllocMem, ServerSupportFunction (SF_REQ_*), and SEND_RESPONSE.
 * A pfc is its filter's slot in the connection's session (filter_internal.h); ServerContext is
 * the session. Every failing callback sets the last error (ISAPI-NOTES §7.13).
 *
 * WriteClient writes raw bytes at once, on the calling thread, as they are: not through the
 * filters' SEND_RAW_DATA (a SEND_RAW_DATA filter that writes would call itself); the head of
 * SF_REQ_SEND_RESPONSE_HEADER is the server's and passes SEND_RESPONSE and SEND_RAW_DATA. */
#define _GNU_SOURCE
#include "filter_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "path.h"
#include "isapi_internal.h"

static BOOL WINAPI cb_get_server_variable(PHTTP_FILTER_CONTEXT pfc, LPSTR name, LPVOID buf,
                                          LPDWORD size);
static BOOL WINAPI cb_add_response_headers(PHTTP_FILTER_CONTEXT pfc, LPSTR headers, DWORD res);
static BOOL WINAPI cb_write_client(PHTTP_FILTER_CONTEXT pfc, LPVOID buf, LPDWORD bytes, DWORD res);
static VOID *WINAPI cb_alloc_mem(PHTTP_FILTER_CONTEXT pfc, DWORD size, DWORD res);
static BOOL WINAPI cb_server_support_function(PHTTP_FILTER_CONTEXT pfc, enum SF_REQ_TYPE req,
                                              PVOID data, ULONG_PTR ul1, ULONG_PTR ul2);

void filter_slot_init(filter_slot_t *slot, filter_session_t *s)
{
    HTTP_FILTER_CONTEXT *pfc = &slot->pfc;
    pfc->cbSize = sizeof *pfc;
    pfc->Revision = HTTP_FILTER_REVISION;
    pfc->ServerContext = s;
    pfc->fIsSecurePort = s->secure;
    pfc->pFilterContext = NULL;
    pfc->GetServerVariable = cb_get_server_variable;
    pfc->AddResponseHeaders = cb_add_response_headers;
    pfc->WriteClient = cb_write_client;
    pfc->AllocMem = cb_alloc_mem;
    pfc->ServerSupportFunction = cb_server_support_function;
}

bool filter_server_variable(request_t *r, const char *name, LPVOID buf, LPDWORD size,
                            bool for_filter, BOOL *result)
{
    filter_req_t *fr = r->filt;
    if (!fr)
        return false;
    const char *v = NULL;
    if (strcmp(name, "AUTH_USER") == 0 || strcmp(name, "REMOTE_USER") == 0 ||
        strcmp(name, "LOGON_USER") == 0 || strcmp(name, "UNMAPPED_REMOTE_USER") == 0)
        v = fr->user;
    else if (strcmp(name, "AUTH_PASSWORD") == 0)
        v = fr->password;
    else if (strcmp(name, "AUTH_TYPE") == 0)
        v = fr->auth_type;
    if (v) {
        *result = filter_copy_out(v, strlen(v), buf, size);
        return true;
    }
    if (for_filter && strncmp(name, "HEADER_", 7) == 0 && name[7]) {
        /* the first header of exactly that name (dashes as given); GetHeader would join
         * repeated ones with ", " */
        const http_header_t *h = reqinfo_header(&r->ri, name + 7);
        *result = h ? filter_copy_out(h->value, h->value_len, buf, size)
                    : fail(ERROR_INVALID_INDEX);
        return true;
    }
    return false;
}

static BOOL WINAPI cb_get_server_variable(PHTTP_FILTER_CONTEXT pfc, LPSTR name, LPVOID buf,
                                          LPDWORD size)
{
    request_t *r = filter_pfc_request(pfc);
    if (!name || !size)
        return fail(ERROR_INVALID_PARAMETER);
    if (!r)
        return fail(ERROR_INVALID_PARAMETER); /* END_OF_NET_SESSION: no request any more */
    BOOL result;
    if (filter_server_variable(r, name, buf, size, true, &result))
        return result;
    return get_server_variable(r, name, buf, size);
}

/* Appends text to *dst (owned) after checking it is header lines. */
static BOOL queue_lines(char **dst, size_t *len, const char *text)
{
    size_t n = strlen(text);
    resphead_t probe;
    resphead_init(&probe);
    int rc = resphead_parse_lines(&probe, text, n);
    resphead_free(&probe);
    if (rc < 0)
        return fail(ERROR_INVALID_PARAMETER);
    char *grown = realloc(*dst, *len + n + 1);
    if (!grown)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    memcpy(grown + *len, text, n + 1);
    *dst = grown;
    *len += n;
    return TRUE;
}

static BOOL WINAPI cb_add_response_headers(PHTTP_FILTER_CONTEXT pfc, LPSTR headers, DWORD res)
{
    (void)res;
    request_t *r = filter_pfc_request(pfc);
    if (!r || !headers)
        return fail(ERROR_INVALID_PARAMETER);
    filter_req_t *fr = r->filt;
    if (fr->current == SF_NOTIFY_SEND_RESPONSE || fr->current == SF_NOTIFY_SEND_RAW_DATA)
        return fail(ERROR_NOT_SUPPORTED); /* too late: SEND_RESPONSE's own SetHeader/AddHeader */
    return queue_lines(&fr->resp_add, &fr->resp_add_len, headers);
}

/* Whether a filter may answer the request itself in the notification being delivered: before
 * the handler (the head stage; URL_MAP also from an extension's mapping call). Later the
 * server's own head or tail is being composed around it. */
static bool may_answer(const filter_req_t *fr)
{
    switch (fr->current) {
    case SF_NOTIFY_READ_RAW_DATA:
    case SF_NOTIFY_PREPROC_HEADERS:
    case SF_NOTIFY_URL_MAP:
    case SF_NOTIFY_AUTHENTICATION:
    case SF_NOTIFY_AUTH_COMPLETE:
        return true;
    default:
        return false;
    }
}

/* Raw bytes to the client now (the request's io_lock held, or taken here). */
static BOOL raw_send(request_t *r, const char *buf, size_t len)
{
    filter_req_t *fr = r->filt;
    bool lock = !fr->io_locked;
    if (lock)
        pthread_mutex_lock(&r->io_lock);
    BOOL ok;
    if (r->io_failed) {
        ok = fail(ERROR_NETNAME_DELETED);
    } else {
        out_plan_t p;
        plan_init(&p);
        p.segs = p.inline_segs;
        p.segs[p.n++] = (out_seg_t){.mem = buf, .fd = -1, .len = len, .payload = true};
        if (!r->head_sent) { /* the filter's bytes are the response: nothing frames them */
            r->head_sent = true;
            r->framing = FRAME_CLOSE;
            atomic_store(&r->must_close, true);
        }
        r->body_sent += len;
        ok = plan_send_sync(r, &p);
    }
    if (lock)
        pthread_mutex_unlock(&r->io_lock);
    return ok;
}

static BOOL WINAPI cb_write_client(PHTTP_FILTER_CONTEXT pfc, LPVOID buf, LPDWORD bytes, DWORD res)
{
    (void)res;
    request_t *r = filter_pfc_request(pfc);
    if (!r || !bytes || (!buf && *bytes))
        return fail(ERROR_INVALID_PARAMETER);
    if (*bytes == 0)
        return TRUE;
    /* SEND_RAW_DATA may write ahead of the block it sees; elsewhere after the head stage the
     * bytes would land inside the response the server is composing. */
    if (!may_answer(r->filt) && r->filt->current != SF_NOTIFY_SEND_RAW_DATA)
        return fail(ERROR_NOT_SUPPORTED);
    return raw_send(r, buf, *bytes);
}

static VOID *WINAPI cb_alloc_mem(PHTTP_FILTER_CONTEXT pfc, DWORD size, DWORD res)
{
    (void)res;
    filter_session_t *s = pfc ? pfc->ServerContext : NULL;
    if (!s) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    if (size > FILTER_MEM_MAX - s->mem_bytes) {
        static log_limiter_t over = LOG_LIMITER_INIT;
        log_limited(&over, LOG_WARN,
                    "a filter's AllocMem of %u bytes refused: its connection "
                    "holds %zu bytes of AllocMem already (at most %u; freed when the connection "
                    "closes)",
                    (unsigned)size, s->mem_bytes, FILTER_MEM_MAX);
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    filter_mem_t *m = malloc(sizeof *m + (size ? size : 1));
    if (!m) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    s->mem_bytes += size;
    m->next = s->mem;
    s->mem = m;
    return m->data;
}

/* SF_REQ_SEND_RESPONSE_HEADER: status ("302 Found"; NULL: "200 OK") and a header block (ul1, or
 * 0), through SEND_RESPONSE like every head. Bytes after the block's empty line are body. */
static BOOL send_response_header(request_t *r, const char *status, const char *lines)
{
    filter_req_t *fr = r->filt;
    resphead_t h;
    if (resphead_parse_status(&h, status ? status : "200 OK", status ? strlen(status) : 6) < 0)
        return fail(ERROR_INVALID_PARAMETER);
    size_t n = lines ? strlen(lines) : 0;
    if (n && resphead_parse_lines(&h, lines, n) < 0) {
        resphead_free(&h);
        return fail(ERROR_INVALID_PARAMETER);
    }
    bool lock = !fr->io_locked;
    if (lock)
        pthread_mutex_lock(&r->io_lock);
    BOOL ok;
    if (r->head_sent) {
        ok = fail(ERROR_INVALID_PARAMETER); /* once per request */
    } else {
        filter_send_response(r, &h);
        /* The filter writes the body raw with WriteClient: no chunking; without a length the
         * connection closes after it. */
        r->framing = h.status == 204 || h.status == 304 ? FRAME_NONE
                     : h.has_content_length             ? FRAME_LENGTH
                                                        : FRAME_CLOSE;
        if (r->framing == FRAME_CLOSE || h.conn_close)
            atomic_store(&r->must_close, true);
        r->declared_length = h.content_length;
        char *head = NULL;
        size_t head_len = 0;
        if (resphead_build(&h, r->ri.http_minor, r->framing, request_keep_alive_possible(r),
                           r->host->software, &head, &head_len) < 0) {
            ok = fail(ERROR_NOT_ENOUGH_MEMORY);
        } else {
            r->head_sent = true;
            r->status_sent = h.status;
            r->cell->ecb.dwHttpStatusCode = h.status;
            out_plan_t p;
            plan_init(&p);
            p.segs = p.inline_segs;
            p.head = head;
            p.segs[p.n++] = (out_seg_t){.mem = head, .fd = -1, .len = head_len};
            size_t body = n > h.consumed ? n - h.consumed : 0;
            if (body && !is_head_method(r)) {
                p.segs[p.n++] = (out_seg_t){
                    .mem = lines + h.consumed, .fd = -1, .len = body, .payload = true};
                r->body_sent += body;
            }
            ok = filter_send_raw_plan(r, &p) ? plan_send_sync(r, &p) : FALSE;
            if (!ok)
                plan_free(&p);
        }
    }
    if (lock)
        pthread_mutex_unlock(&r->io_lock);
    resphead_free(&h);
    return ok;
}

static BOOL WINAPI cb_server_support_function(PHTTP_FILTER_CONTEXT pfc, enum SF_REQ_TYPE req,
                                              PVOID data, ULONG_PTR ul1, ULONG_PTR ul2)
{
    (void)ul2;
    request_t *r = filter_pfc_request(pfc);
    filter_slot_t *slot = (filter_slot_t *)pfc;
    switch (req) {
    case SF_REQ_GET_CONNID: /* never implemented by IIS: TRUE and 0 */
        if (data)
            *(DWORD *)data = 0;
        return TRUE;
    case SF_REQ_GET_PROPERTY:
        if (ul1 == SF_PROPERTY_INSTANCE_NUM_ID) {
            if (!data)
                return fail(ERROR_INVALID_PARAMETER);
            *(DWORD *)data = 1;
            return TRUE;
        }
        return fail(ERROR_NOT_SUPPORTED); /* SSL_CTXT: no TLS here */
    case SF_REQ_NORMALIZE_URL: {
        if (!data)
            return fail(ERROR_INVALID_PARAMETER);
        char *url = data;
        size_t n = strlen(url);
        char *out = malloc(n + 2);
        if (!out)
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        BOOL ok = path_normalize(url, n, out, n + 2) == PATH_OK;
        if (ok && strlen(out) > n) { /* "" → "/": more than the filter's buffer holds */
            free(out);
            return fail(ERROR_INSUFFICIENT_BUFFER);
        }
        if (ok)
            memcpy(url, out, strlen(out) + 1);
        free(out);
        return ok ? TRUE : fail(ERROR_INVALID_PARAMETER);
    }
    case SF_REQ_SET_NEXT_READ_SIZE:
    case SF_REQ_SET_PROXY_INFO:
        return pfc ? TRUE : fail(ERROR_INVALID_PARAMETER); /* accepted, no effect here */
    case SF_REQ_SET_CERTIFICATE_INFO:
        return fail(ERROR_NOT_SUPPORTED);
    default:
        break;
    }
    if (!r)
        return fail(ERROR_INVALID_PARAMETER); /* the rest are about a request */
    switch (req) {
    case SF_REQ_SEND_RESPONSE_HEADER:
        if (!may_answer(r->filt))
            return fail(ERROR_NOT_SUPPORTED); /* the response is under way */
        return send_response_header(r, data, (const char *)ul1);
    case SF_REQ_ADD_HEADERS_ON_DENIAL:
        if (!data)
            return fail(ERROR_INVALID_PARAMETER);
        return queue_lines(&r->filt->denial_add, &r->filt->denial_add_len, data);
    case SF_REQ_DISABLE_NOTIFICATIONS:
        slot->disabled |= (DWORD)ul1;
        return TRUE;
    default:
        return fail(ERROR_INVALID_PARAMETER);
    }
}

/* SF_REQ_ADD_HEADERS_ON_DENIAL's lines into a 401 head (once). */
static void add_denial_lines(filter_req_t *fr, resphead_t *h)
{
    if (h->status == 401 && fr->denial_add_len) {
        (void)filter_resp_add_lines(h, fr->denial_add, fr->denial_add_len);
        fr->denial_add_len = 0;
    }
}

void filter_send_response(request_t *r, resphead_t *h)
{
    filter_req_t *fr = r->filt;
    if (fr->resp_add_len) { /* AddResponseHeaders queued earlier */
        (void)filter_resp_add_lines(h, fr->resp_add, fr->resp_add_len);
        free(fr->resp_add);
        fr->resp_add = NULL;
        fr->resp_add_len = 0;
    }
    add_denial_lines(fr, h);
    DWORD wanted = fr->s->filters->wanted;
    if (!(wanted & (SF_NOTIFY_SEND_RESPONSE | SF_NOTIFY_ACCESS_DENIED)))
        return;
    resphead_t *outer = fr->resp;
    bool was_locked = fr->io_locked;
    fr->io_locked = true; /* callers hold io_lock */
    if ((h->status == 401 || h->status == 403) && (wanted & SF_NOTIFY_ACCESS_DENIED)) {
        /* Before the denial goes out; what the filter returns does not stop it (it is being
         * sent): a filter that wants its own page answers in an earlier notification. */
        const char *phys = r->route.kind == ROUTE_STATIC && r->route.file ? r->route.file
                                                                          : r->ri.path_translated;
        HTTP_FILTER_ACCESS_DENIED ad = {.pszURL = r->ri.path,
                                        .pszPhysicalPath = phys ? phys : "",
                                        .dwReason = fr->denied ? fr->denied
                                                    : r->route.kind == ROUTE_EXTENSION
                                                        ? SF_DENIED_APPLICATION
                                                    : h->status == 401 ? SF_DENIED_LOGON
                                                                       : SF_DENIED_RESOURCE};
        (void)filter_notify(r, fr->s, SF_NOTIFY_ACCESS_DENIED, &ad);
        add_denial_lines(fr, h); /* queued in ACCESS_DENIED itself */
    }
    if (!(wanted & SF_NOTIFY_SEND_RESPONSE)) {
        fr->io_locked = was_locked;
        return;
    }
    HTTP_FILTER_SEND_RESPONSE sr = {.GetHeader = filter_get_header,
                                    .SetHeader = filter_set_header,
                                    .AddHeader = filter_add_header,
                                    .HttpStatus = h->status};
    fr->resp = h;
    (void)filter_notify(r, fr->s, SF_NOTIFY_SEND_RESPONSE, &sr);
    fr->resp = outer;
    fr->io_locked = was_locked;
}
