/* ISAPI ServerSupportFunction (split out of src/isapi/isapi.c; no change in behaviour). Holds: the
 * support functions — response headers, redirects, log appends, URL mapping, TransmitFile,
 * vector send, close connection and asynchronous ReadClient — and the dispatcher
 * server_support_function; send-URL is in src/isapi/isapi_sendurl.c.
 * Invariants: writes go through the output plan (src/isapi/isapi_plan.c) under io_lock;
 * asynchronous ones go through op_issue (src/isapi/isapi_op.c), which claims the request's single
 * operation slot.
 * Ownership: the request_t is owned by src/isapi/isapi.c's lifecycle. */
#define _GNU_SOURCE
#include "isapi.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accesslog.h"
#include "config.h"
#include "connid.h"
#include "crash.h"
#include "httputil.h"
#include "log.h"
#include "parked.h"
#include "path.h"
#include "servervars.h"
#include "static_file.h"
#include "urlmap.h"
#include "isapi_internal.h"
#include "filter_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Support functions */

/* SEND_RESPONSE_HEADER[_EX]: status text, header text (may carry body after the blank line). */
static BOOL send_response_header(request_t *r, const char *status, size_t status_len,
                                 const char *headers, size_t headers_len, bool keep_conn)
{
    pthread_mutex_lock(&r->io_lock);
    BOOL ok;
    if (op_write_outstanding(r)) {
        ok = fail(ERROR_BUSY);
        goto out;
    }
    if (r->head_sent) {
        ok = fail(ERROR_INVALID_PARAMETER);
        goto out;
    }
    /* Per thread, so no lock: the threads that send heads are the loops', the pool's and a
     * few of the extensions' own, each sending the same few heads. */
    static _Thread_local resphead_memo_t memo;
    /* Without filters (which may change it) the head is only read here and in prepare_head
     * (not final): the memo's own, read in place, tagged for the build memo. */
    resphead_t parsed;
    resphead_t *h = NULL;
    uint64_t tag = 0;
    if (!r->filt && !r->child_no_headers &&
        (h = (resphead_t *)resphead_memo_find(&memo, status, status_len, headers, headers_len)))
        tag = memo.gen;
    if (!h) {
        h = &parsed;
        if (resphead_parse_memo(&memo, h, status, status_len, headers, headers_len) < 0) {
            log_warn("%s: %s sent a malformed response header", r->ri.raw_target,
                     r->route.handler);
            resphead_free(h);
            ok = fail(ERROR_INVALID_PARAMETER);
            goto out;
        }
    }
    if (!keep_conn)
        atomic_store(&r->must_close, true);
    const char *body = headers ? headers + h->consumed : NULL;
    size_t body_len = headers ? headers_len - h->consumed : 0;
    /* cch that counted the terminating NUL: the NUL is not body. */
    while (body_len && body[body_len - 1] == '\0')
        body_len--;
    char *head = NULL;
    size_t head_len = 0;
    /* Inside HttpExtensionProc, on its thread, a head without body is held for the next write or
     * the return (request_deferred_flush, the end's tail): one send instead of two. From any
     * other thread (one the extension made, a completion callback) nothing on this thread is
     * sure to follow soon: the head goes out now, as IIS sends it. A held head may stay in
     * this thread's build memo (r->deferred_held). */
    bool hold = body_len == 0 && !r->pending && !r->flush_writes && atomic_load(&r->in_proc) &&
                pthread_equal(r->proc_thread, pthread_self());
    atomic_bool *held = NULL;
    ok = prepare_head_tagged(r, h, tag, &head, &head_len, hold ? &held : NULL);
    if (h == &parsed)
        resphead_free(h);
    if (ok && hold) {
        r->deferred_head = head;
        r->deferred_len = head_len;
        atomic_store(&r->deferred_held, held);
    } else if (ok) {
        /* Bytes written before that never formed a head go out as body, after the head. */
        piece_t pcs[2] = {{.mem = r->pending, .fd = -1, .len = r->pending_len},
                          {.mem = body, .fd = -1, .len = body_len}};
        out_plan_t p;
        ok = plan_build(r, &p, head, head_len, pcs, 2, false);
        if (ok)
            ok = plan_send_sync(r, &p);
        free(r->pending);
        r->pending = NULL;
        r->pending_len = 0;
    }
out:
    pthread_mutex_unlock(&r->io_lock);
    return ok;
}

/* A complete response (head + memory body) sent synchronously: redirects. */
static BOOL send_whole_response(request_t *r, resphead_t *h, const char *body, size_t body_len)
{
    pthread_mutex_lock(&r->io_lock);
    BOOL ok;
    if (op_write_outstanding(r)) {
        ok = fail(ERROR_BUSY);
    } else if (r->head_sent) {
        ok = fail(ERROR_INVALID_PARAMETER);
    } else {
        char *head = NULL;
        size_t head_len = 0;
        ok = prepare_head(r, h, body_len, true, &head, &head_len);
        if (ok) {
            piece_t pc = {.mem = body, .fd = -1, .len = body_len};
            out_plan_t p;
            ok = plan_build(r, &p, head, head_len, &pc, 1, true);
            if (ok)
                ok = plan_send_sync(r, &p);
        }
    }
    pthread_mutex_unlock(&r->io_lock);
    return ok;
}

BOOL ssf_redirect(request_t *r, const char *url)
{
    if (!url || !url[0] || strpbrk(url, "\r\n"))
        return fail(ERROR_INVALID_PARAMETER);
    resphead_t h;
    resphead_init(&h);
    resphead_set_status(&h, 302);
    char body[256];
    size_t body_len = http_error_body(302, body, sizeof body);
    BOOL ok;
    if (resphead_add(&h, "Location", url) < 0 || resphead_add(&h, "Content-Type", "text/html") < 0)
        ok = fail(ERROR_INVALID_PARAMETER);
    else
        ok = send_whole_response(r, &h, body, body_len);
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
/* MAP_URL_TO_PATH: a URL (possibly with a query, which is ignored) to a canonical file system
 * path, under the rules static files obey (urlmap.h; docs/isapi.md has the errors). */
DWORD ssf_map_url(request_t *r, const char *url, char *out, size_t out_size, size_t *needed,
                  DWORD *flags, size_t *match_path, size_t *match_url)
{
    size_t len = strcspn(url, "?");
    if (len == 0 || url[0] != '/')
        return ERROR_INVALID_PARAMETER;
    char *norm = malloc(len + 2);
    urlmap_t *m = malloc(sizeof *m);
    if (!norm || !m) {
        free(norm);
        free(m);
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    DWORD result = ERROR_SUCCESS;
    if (path_normalize(url, len, norm, len + 2) != PATH_OK) {
        result = ERROR_INVALID_PARAMETER;
    } else {
        switch (urlmap_resolve(r->host->router, norm, m)) {
        case URLMAP_OK:
            break;
        case URLMAP_FORBIDDEN:
            result = ERROR_ACCESS_DENIED;
            break;
        case URLMAP_NO_PATH:
            result = ERROR_PATH_NOT_FOUND;
            break;
        case URLMAP_TOO_LONG:
            result = ERROR_FILENAME_EXCED_RANGE;
            break;
        }
    }
    if (result == ERROR_SUCCESS) {
        *flags = m->script ? HSE_URL_FLAGS_READ | HSE_URL_FLAGS_EXECUTE | HSE_URL_FLAGS_SCRIPT
                           : HSE_URL_FLAGS_READ;
        if (r->filt) /* URL_MAP: the filters may change the path (src/isapi/filter_req.c) */
            filter_url_map(r, norm, m->path, sizeof m->path, *flags);
        *needed = strlen(m->path) + 1;
        *match_path = m->match_path;
        *match_url = m->match_url;
        if (*needed > out_size)
            result = ERROR_INSUFFICIENT_BUFFER;
        else
            memcpy(out, m->path, *needed);
    }
    free(norm);
    free(m);
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
    size_t needed = 0, mp = 0, mu = 0;
    DWORD flags = 0;
    DWORD err = out ? ssf_map_url(r, url, out, cap, &needed, &flags, &mp, &mu)
                    : ERROR_NOT_ENOUGH_MEMORY;
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
    size_t needed = 0, mp = 0, mu = 0; /* set by ssf_map_url on success (the compiler can't tell) */
    DWORD flags = 0;
    char path[MAX_PATH];
    DWORD err = ssf_map_url(r, buf, path, sizeof path, &needed, &flags, &mp, &mu);
    if (err)
        return fail(err);
    memcpy(info->lpszPath, path, needed);
    info->dwFlags = flags;
    info->cchMatchingPath = (DWORD)mp;
    info->cchMatchingURL = (DWORD)mu;
    info->dwReserved1 = info->dwReserved2 = 0;
    return TRUE;
}


/* A descriptor an extension passes as a HANDLE: NULL / INVALID_HANDLE_VALUE = none (-1). */
static int handle_fd(HANDLE h) { return (h == NULL || h == INVALID_HANDLE_VALUE) ? -1 : (int)(intptr_t)h; }

/* Size of a regular file behind fd, or a Win32 error. */
static DWORD file_size(int fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return ERROR_INVALID_HANDLE;
    *size = (uint64_t)st.st_size;
    return 0;
}

/* The head for a write that may carry it: from status + header text (send_headers), or — when
 * no head was sent — from the response's first bytes: r->pending (a raw head an earlier
 * WriteClient began) followed by raw (TransmitFile's pHead), taken as the head when they hold a
 * raw "HTTP/1.x" head or header lines (§7.4-7.5: head_from_bytes), else the default head.
 * Whatever of pending + raw the head does not take is body, sent in front of the write's other
 * bytes (`after` of them): *body, *body_len point into raw or, once pending was joined, into the
 * head's own buffer behind the head (the plan owns it; r->pending is then used up). Under
 * io_lock. */
static BOOL head_for(request_t *r, bool send_headers, const char *status, const char *header_text,
                     const char *raw, size_t raw_len, uint64_t after, bool final,
                     char **head, size_t *head_len, const char **body, size_t *body_len)
{
    *head = NULL;
    *head_len = 0;
    *body = raw;
    *body_len = raw_len;
    if (r->head_sent) {
        if (send_headers)
            return fail(ERROR_INVALID_PARAMETER); /* a second head */
        return TRUE;
    }
    resphead_t h;
    if (send_headers) {
        if (resphead_parse_status(&h, status, status ? strlen(status) : 0) < 0 ||
            (header_text && resphead_parse_lines(&h, header_text, strlen(header_text)) < 0)) {
            resphead_free(&h);
            return fail(ERROR_INVALID_PARAMETER);
        }
    }
    const char *d = raw;
    size_t n = raw_len;
    char *joined = NULL;
    if (r->pending) {
        if (!(joined = malloc(r->pending_len + raw_len))) {
            if (send_headers)
                resphead_free(&h);
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        }
        memcpy(joined, r->pending, r->pending_len);
        if (raw_len)
            memcpy(joined + r->pending_len, raw, raw_len);
        d = joined;
        n = r->pending_len + raw_len;
    }
    size_t consumed = 0;
    if (!send_headers) {
        /* A raw head still without its empty line gets none now: the write's file, tail or
         * elements come next. It was body. */
        if (n == 0) {
            resphead_init(&h);
        } else if (head_from_bytes(&h, d, n) == 1) {
            resphead_free(&h);
            resphead_init(&h);
        }
        consumed = h.consumed;
    }
    BOOL ok = prepare_head(r, &h, (n - consumed) + after, final, head, head_len);
    resphead_free(&h);
    if (ok && joined) {
        char *both = realloc(*head, *head_len + (n - consumed));
        if (!both) {
            free(*head);
            *head = NULL;
            ok = fail(ERROR_NOT_ENOUGH_MEMORY);
        } else {
            memcpy(both + *head_len, d + consumed, n - consumed);
            *head = both;
            *body = both + *head_len;
            *body_len = n - consumed;
            free(r->pending);
            r->pending = NULL;
            r->pending_len = 0;
        }
    } else if (ok) {
        *body = raw ? raw + consumed : NULL;
        *body_len = raw_len - consumed;
    }
    free(joined);
    return ok;
}

typedef struct transmit_args {
    const HSE_TF_INFO *tf;
    int fd;
    uint64_t off, len;
    bool send_headers, disconnect;
    const char *head_text, *raw;
    size_t raw_len, tail_len;
} transmit_args_t;

static BOOL transmit_build(request_t *r, void *arg)
{
    const transmit_args_t *t = arg;
    /* Disconnecting ends the response: a head sent now says so and gets its length. */
    if (t->disconnect)
        atomic_store(&r->must_close, true);
    char *head;
    size_t head_len, body_len;
    const char *body;
    BOOL ok = head_for(r, t->send_headers, t->tf->pszStatusCode, t->head_text, t->raw, t->raw_len,
                       t->len + t->tail_len, t->disconnect, &head, &head_len, &body, &body_len);
    if (ok) {
        piece_t pcs[3] = {
            {.mem = body, .fd = -1, .len = body_len},
            {.mem = NULL, .fd = t->fd, .off = t->off, .len = t->len},
            {.mem = t->tf->pTail, .fd = -1, .len = t->tail_len}};
        ok = plan_build(r, &r->op.mem->plan, head, head_len, pcs, 3, t->disconnect);
    }
    if (!ok)
        return FALSE;
    size_t text_len = t->head_text ? strlen(t->head_text) : t->raw_len;
    r->op.report_bytes = (DWORD)(text_len + t->len + t->tail_len);
    r->op.mem->io.shut_after = t->disconnect;
    return TRUE;
}

static BOOL ssf_transmit_file(request_t *r, HSE_TF_INFO *tf)
{
    if (!tf)
        return fail(ERROR_INVALID_PARAMETER);
    PVOID ctx = tf->pContext;
    PFN_HSE_IO_COMPLETION fn = tf->pfnHseIO;
    if (!fn)
        fn = registered_callback(r, &ctx);
    if (!fn)
        return fail(ERROR_INVALID_PARAMETER);
    int fd = handle_fd(tf->hFile);
    uint64_t size = 0, off = tf->Offset, len = 0;
    if (fd >= 0) {
        DWORD e = file_size(fd, &size);
        if (e)
            return fail(e);
        if (off > size)
            return fail(WSAEINVAL);
        len = size - off;
        if (tf->BytesToWrite && tf->BytesToWrite < len)
            len = tf->BytesToWrite;
    }
    bool send_headers = (tf->dwFlags & HSE_IO_SEND_HEADERS) != 0;
    bool disconnect = (tf->dwFlags & HSE_IO_DISCONNECT_AFTER_SEND) != 0;
    const char *head_text = send_headers ? (const char *)tf->pHead : NULL;
    const char *raw = send_headers ? NULL : (const char *)tf->pHead;
    size_t raw_len = raw ? tf->HeadLength : 0;
    size_t tail_len = tf->pTail ? tf->TailLength : 0;
    if ((!raw && raw_len) || (!tf->pTail && tf->TailLength))
        return fail(ERROR_INVALID_PARAMETER);
    static const op_builder_t builder = {.build = transmit_build};
    transmit_args_t t = {.tf = tf, .fd = fd, .off = off, .len = len, .send_headers = send_headers,
                         .disconnect = disconnect, .head_text = head_text, .raw = raw,
                         .raw_len = raw_len, .tail_len = tail_len};
    return op_issue(r, OP_TRANSMIT, fn, ctx, &builder, &t);
}

typedef struct vector_args {
    const HSE_RESPONSE_VECTOR *v;
    const piece_t *pcs;
    size_t n;
    uint64_t total;
    bool send_headers, final, disconnect;
} vector_args_t;

/* Under io_lock: the vector's plan (HSE_IO_DISCONNECT_AFTER_SEND makes the send final). */
static BOOL vector_plan(request_t *r, const vector_args_t *a, out_plan_t *plan)
{
    bool final = a->final;
    if (a->disconnect) {
        final = true;
        atomic_store(&r->must_close, true);
    }
    char *head;
    size_t head_len, body_len;
    const char *body;
    BOOL ok = head_for(r, a->send_headers, a->v->pszStatus, a->v->pszHeaders, NULL, 0, a->total,
                       final, &head, &head_len, &body, &body_len);
    if (!ok)
        return FALSE;
    if (body_len == 0)
        return plan_build(r, plan, head, head_len, a->pcs, a->n, final);
    /* Bytes an earlier WriteClient left as the start of a head that never ended: body first. */
    piece_t *pcs = malloc((a->n + 1) * sizeof *pcs);
    if (!pcs) {
        free(head);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    pcs[0] = (piece_t){.mem = body, .fd = -1, .len = body_len};
    if (a->n)
        memcpy(pcs + 1, a->pcs, a->n * sizeof *pcs);
    ok = plan_build(r, plan, head, head_len, pcs, a->n + 1, final);
    free(pcs);
    return ok;
}

static BOOL vector_build(request_t *r, void *arg)
{
    const vector_args_t *a = arg;
    if (!vector_plan(r, a, &r->op.mem->plan))
        return FALSE;
    r->op.report_bytes = (DWORD)a->total;
    r->op.mem->io.shut_after = a->disconnect;
    return TRUE;
}

/* A synchronous vector send. */
static BOOL vector_send_sync(request_t *r, const vector_args_t *a)
{
    pthread_mutex_lock(&r->io_lock);
    BOOL ok;
    DWORD refused = sync_send_refusal(r);
    if (refused) {
        ok = fail(refused);
    } else {
        out_plan_t plan;
        ok = vector_plan(r, a, &plan);
        if (ok)
            ok = plan_send_sync(r, &plan);
        if (ok && a->disconnect) {
            atomic_store(&r->must_close, true);
            if (parked_socket_enter(r)) {
                shutdown(conn_fd(r->conn), SHUT_WR);
                parked_socket_leave(r);
            }
        }
    }
    pthread_mutex_unlock(&r->io_lock);
    return ok;
}

static BOOL ssf_vector_send(request_t *r, HSE_RESPONSE_VECTOR *v)
{
    if (!v || (v->nElementCount && !v->lpElementArray))
        return fail(ERROR_INVALID_PARAMETER);
    bool send_headers = (v->dwFlags & HSE_IO_SEND_HEADERS) != 0;
    if (send_headers != (v->pszStatus != NULL) || send_headers != (v->pszHeaders != NULL))
        return fail(ERROR_INVALID_PARAMETER);
    bool async = (v->dwFlags & HSE_IO_ASYNC) != 0;
    bool final = (v->dwFlags & HSE_IO_FINAL_SEND) != 0;
    PVOID ctx = NULL;
    PFN_HSE_IO_COMPLETION fn = NULL;
    if (async && !(fn = registered_callback(r, &ctx)))
        return fail(ERROR_INVALID_PARAMETER);

    size_t n = v->nElementCount;
    piece_t *pcs = calloc(n ? n : 1, sizeof *pcs);
    if (!pcs)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const HSE_VECTOR_ELEMENT *e = &v->lpElementArray[i];
        if (e->ElementType == HSE_VECTOR_ELEMENT_TYPE_MEMORY_BUFFER) {
            if (!e->pvContext || e->cbSize == 0) {
                free(pcs);
                return fail(ERROR_INVALID_PARAMETER);
            }
            pcs[i] = (piece_t){.mem = (const char *)e->pvContext + e->cbOffset, .fd = -1, .len = e->cbSize};
        } else if (e->ElementType == HSE_VECTOR_ELEMENT_TYPE_FILE_HANDLE) {
            int fd = handle_fd(e->pvContext);
            uint64_t size;
            DWORD err = fd < 0 ? ERROR_INVALID_HANDLE : file_size(fd, &size);
            if (!err && e->cbOffset > size)
                err = WSAEINVAL;
            if (err) {
                free(pcs);
                return fail(err);
            }
            uint64_t len = size - e->cbOffset;
            if (e->cbSize && e->cbSize < len)
                len = e->cbSize;
            pcs[i] = (piece_t){.mem = NULL, .fd = fd, .off = e->cbOffset, .len = len};
        } else {
            free(pcs);
            return fail(ERROR_INVALID_PARAMETER);
        }
        total += pcs[i].len;
    }

    vector_args_t a = {.v = v, .pcs = pcs, .n = n, .total = total, .send_headers = send_headers,
                       .final = final,
                       .disconnect = (v->dwFlags & HSE_IO_DISCONNECT_AFTER_SEND) != 0};
    static const op_builder_t builder = {.build = vector_build};
    BOOL ok = async ? op_issue(r, OP_VECTOR, fn, ctx, &builder, &a) : vector_send_sync(r, &a);
    free(pcs); /* the plan holds copies of the pieces */
    return ok;
}

static BOOL ssf_close_connection(request_t *r)
{
    /* What the connection's batch holds (responses to earlier pipelined requests, and this
     * one's writes of a call on the loop's thread) goes before the shutdown. A writer holding
     * io_lock sends it itself (conn_send_blocking); the close does not wait for one. */
    if (pthread_mutex_trylock(&r->io_lock) == 0) {
        if (conn_batch_pending(r->conn) && !r->io_failed)
            (void)plan_send_batch(r);
        pthread_mutex_unlock(&r->io_lock);
    }
    atomic_store(&r->closed_by_extension, true);
    atomic_store(&r->must_close, true);
    /* Shut down now, even under a pending operation: the loop sees the socket fail and completes
     * the operation with ERROR_NETNAME_DELETED; the kick makes sure it looks at once. */
    if (parked_socket_enter(r)) { /* else released: nothing left to shut down */
        shutdown(conn_fd(r->conn), SHUT_RDWR);
        parked_socket_leave(r);
    }
    /* Posted under the lock: the end of the request is only ever posted after a later
     * acquisition of it, so the kick runs first and never finds the request freed.
     * (Lock order: r->lock, then the loop's queue lock.) */
    pthread_mutex_lock(&r->lock);
    if (!r->kick_posted && r->op.kind != OP_NONE) {
        r->kick_posted = true;
        loop_post(conn_loop(r->conn), &r->op.mem->kick_task, op_kick_task); /* outstanding: mem is there */
    }
    pthread_mutex_unlock(&r->lock);
    return TRUE;
}

typedef struct read_args {
    void *buf;
    DWORD cap;
} read_args_t;

static BOOL read_build(request_t *r, void *arg)
{
    const read_args_t *a = arg;
    r->op.mem->io.buf = a->buf;
    r->op.mem->io.cap = a->cap;
    return TRUE;
}

static BOOL ssf_async_read(request_t *r, LPVOID buf, LPDWORD size, LPDWORD data_type)
{
    if (!buf || !size || *size == 0 || !data_type || !(*data_type & HSE_IO_ASYNC))
        return fail(ERROR_INVALID_PARAMETER);
    PVOID ctx;
    PFN_HSE_IO_COMPLETION fn = registered_callback(r, &ctx);
    if (!fn)
        return fail(ERROR_INVALID_PARAMETER);
    static const op_builder_t builder = {.build = read_build, .launch = op_read_launch};
    read_args_t a = {.buf = buf, .cap = *size};
    return op_issue(r, OP_READ, fn, ctx, &builder, &a);
}

static BOOL send_response_header_ex(request_t *r, const HSE_SEND_HEADER_EX_INFO *info)
{
    if (!info)
        return fail(ERROR_INVALID_PARAMETER);
    /* cch may or may not count the NUL; never read past one. */
    size_t sl = info->pszStatus ? strnlen(info->pszStatus, info->cchStatus ? info->cchStatus : 4096) : 0;
    size_t hl = info->pszHeader ? strnlen(info->pszHeader, info->cchHeader ? info->cchHeader : 1u << 20) : 0;
    return send_response_header(r, info->pszStatus, sl, info->pszHeader, hl, info->fKeepConn != FALSE);
}

BOOL server_support_function(request_t *r, DWORD code, LPVOID buf, LPDWORD size,
                             LPDWORD data_type)
{
    switch (code) {
    case HSE_REQ_SEND_RESPONSE_HEADER: {
        const char *status = buf;
        const char *headers = (const char *)data_type;
        return send_response_header(r, status, status ? strlen(status) : 0, headers,
                                    headers ? strlen(headers) : 0, true);
    }
    case HSE_REQ_SEND_RESPONSE_HEADER_EX:
        return send_response_header_ex(r, buf);
    case HSE_REQ_SEND_URL_REDIRECT_RESP:
        return ssf_redirect(r, buf);
    case HSE_REQ_SEND_URL:
        return ssf_send_url(r, buf);
    case HSE_REQ_DONE_WITH_SESSION:
        return session_done(r, buf ? *(DWORD *)buf : HSE_STATUS_SUCCESS);
    case HSE_REQ_IO_COMPLETION:
        pthread_mutex_lock(&r->lock);
        r->io_fn = (PFN_HSE_IO_COMPLETION)buf;
        r->io_ctx = (PVOID)data_type;
        pthread_mutex_unlock(&r->lock);
        return TRUE;
    case HSE_REQ_ASYNC_READ_CLIENT:
        return ssf_async_read(r, buf, size, data_type);
    case HSE_REQ_TRANSMIT_FILE:
        return ssf_transmit_file(r, buf);
    case HSE_REQ_VECTOR_SEND:
        return ssf_vector_send(r, buf);
    case HSE_REQ_CLOSE_CONNECTION:
        return ssf_close_connection(r);
    case HSE_REQ_IS_KEEP_CONN:
        if (!buf)
            return fail(ERROR_INVALID_PARAMETER);
        *(BOOL *)buf = request_keep_alive_possible(r);
        return TRUE;
    case HSE_REQ_IS_CONNECTED:
        if (!buf)
            return fail(ERROR_INVALID_PARAMETER);
        *(BOOL *)buf = !atomic_load(&r->closed_by_extension) && !parked_peer_gone(r);
        return TRUE;
    case HSE_APPEND_LOG_PARAMETER:
        return ssf_append_log(r, buf);
    case HSE_REQ_MAP_URL_TO_PATH:
        return ssf_map_url_to_path(r, buf, size);
    case HSE_REQ_MAP_URL_TO_PATH_EX:
        return ssf_map_url_to_path_ex(r, buf, data_type);
    case HSE_REQ_ABORTIVE_CLOSE:
        return TRUE; /* ignored, as by IIS 5.1 and later */
    case HSE_REQ_REPORT_UNHEALTHY: {
        /* IIS: the worker is reported at its next ping and replaced (a recycle, overlapped). */
        static log_limiter_t reported = LOG_LIMITER_INIT;
        const char *reason = buf ? (const char *)buf : "(no reason given)";
        log_limited(&reported, LOG_WARN, "extension %s reports the worker unhealthy: %.200s; "
                    "a master replaces this worker (with --processes 0 nothing happens)",
                    r->ext ? r->ext->path : r->route.handler, reason);
        if (r->host->unhealthy)
            atomic_store(r->host->unhealthy, true);
        return TRUE;
    }
    case HSE_REQ_IS_IN_PROCESS:
        if (!buf)
            return fail(ERROR_INVALID_PARAMETER);
        *(DWORD *)buf = HSE_APP_FLAG_IN_PROCESS;
        return TRUE;
    case HSE_REQ_SEND_CUSTOM_ERROR:
        return ssf_send_custom_error(r, buf);
    case HSE_REQ_CANCEL_IO:
        return ssf_cancel_io(r);
    case HSE_REQ_SET_FLUSH_FLAG:
        return ssf_set_flush_flag(r, buf != NULL);
    case HSE_REQ_NORMALIZE_URL:
        return ssf_normalize_url(buf);
    case HSE_REQ_MAP_UNICODE_URL_TO_PATH:
        return ssf_map_unicode_url_to_path(r, buf, size);
    case HSE_REQ_MAP_UNICODE_URL_TO_PATH_EX:
        return ssf_map_unicode_url_to_path_ex(r, buf, size, data_type);
    case HSE_REQ_GET_CERT_INFO_EX:
        return ssf_get_cert_info_ex(buf);
    case HSE_REQ_GET_IMPERSONATION_TOKEN:
    case HSE_REQ_GET_SSPI_INFO:
        return ssf_token_request(buf);
    case HSE_REQ_EXEC_URL:
        return ssf_exec_url(r, buf);
    case HSE_REQ_EXEC_UNICODE_URL:
        return ssf_exec_unicode_url(r, buf);
    case HSE_REQ_GET_EXEC_URL_STATUS:
        return ssf_get_exec_url_status(r, buf);
    default:
        return fail(ERROR_INVALID_PARAMETER);
    }
}
