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

static BOOL WINAPI cb_get_server_variable(HCONN h, LPSTR name, LPVOID buf, LPDWORD size);
static BOOL WINAPI cb_write_client(HCONN h, LPVOID buf, LPDWORD bytes, DWORD flags);
static BOOL WINAPI cb_read_client(HCONN h, LPVOID buf, LPDWORD size);
static BOOL WINAPI cb_server_support_function(HCONN h, DWORD code, LPVOID buf, LPDWORD size,
                                              LPDWORD data_type);
/* The ECB's callbacks, in every live ECB and in every ended one (src/ecbcell.h tombstones). */
static const ecb_callbacks_t ecb_callbacks = {
    .GetServerVariable = cb_get_server_variable,
    .WriteClient = cb_write_client,
    .ReadClient = cb_read_client,
    .ServerSupportFunction = cb_server_support_function,
};

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
    case EIO:
        return ERROR_HANDLE_EOF;
    case EMFILE:
    case ENFILE:
        return ERROR_TOO_MANY_OPEN_FILES;
    default:
        return ERROR_WRITE_FAULT;
    }
}

static BOOL fail(DWORD win32)
{
    SetLastError(win32);
    return FALSE;
}

static void post_end(request_t *r);

/* A callback is over (connid.h): the last call out of a request whose end is due posts it.
 * Passes result through (GetLastError is untouched). */
static BOOL unhold(connid_held_t *h, BOOL result)
{
    if (connid_unhold(h))
        post_end(h->owner);
    return result;
}

static bool is_head_method(const request_t *r) { return strcmp(r->ri.method, "HEAD") == 0; }

/* ------------------------------------------------------------------------------------------ */
/* Creation: copy the head out of the connection's buffer */

/* Copies s (n bytes and its NUL) to *cursor and moves the cursor past it. */
static char *put(char **cursor, const char *s, size_t n)
{
    char *dst = *cursor;
    memcpy(dst, s, n + 1);
    *cursor += n + 1;
    return dst;
}

/* A request on connection c from the head in src (its strings are copied) and the route (taken
 * over, left zeroed). The body read-ahead buffer holds readahead_cap bytes (+ NUL). */
static request_t *request_create(conn_t *c, ecb_cursor_t *cells, const reqinfo_t *src,
                                 route_t *route, uint32_t readahead_cap)
{
    const char *const strs[] = {src->method, src->raw_target, src->raw_path,
                                src->path,   src->query,      src->server_name};
    size_t lens[sizeof strs / sizeof strs[0]];
    size_t total = 0;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        lens[i] = strlen(strs[i]);
        total += lens[i] + 1;
    }
    for (size_t i = 0; i < src->n_headers; i++)
        total += src->headers[i].name_len + src->headers[i].value_len + 2;
    /* One block: the request, its header table, the head's strings, the read-ahead buffer.
     * Freed with the request. Only the struct is zeroed (the read-ahead may be 48 KiB). */
    size_t headers_bytes = (src->n_headers ? src->n_headers : 1) * sizeof(http_header_t);
    char *block = malloc(sizeof(request_t) + headers_bytes + total + (size_t)readahead_cap + 1);
    if (!block)
        return NULL;
    ecb_cell_t *cell = connid_cell_take(cells, src->raw_target);
    if (!cell) {
        free(block);
        return NULL;
    }
    request_t *r = (request_t *)block;
    memset(r, 0, sizeof *r);
    r->cell = cell;
    r->headers = (http_header_t *)(block + sizeof(request_t));
    r->strings = block + sizeof(request_t) + headers_bytes;
    r->readahead = r->strings + total;
    r->readahead_cap = readahead_cap;
    char *cur = r->strings;
    reqinfo_t *ri = &r->ri;
    *ri = *src;
    ri->method = put(&cur, strs[0], lens[0]);
    ri->raw_target = put(&cur, strs[1], lens[1]);
    ri->raw_path = put(&cur, strs[2], lens[2]);
    ri->path = put(&cur, strs[3], lens[3]);
    ri->query = put(&cur, strs[4], lens[4]);
    ri->server_name = put(&cur, strs[5], lens[5]);
    ri->content_type = "";
    for (size_t i = 0; i < src->n_headers; i++) {
        http_header_t *h = &r->headers[i];
        *h = src->headers[i];
        h->name = put(&cur, src->headers[i].name, src->headers[i].name_len);
        h->value = put(&cur, src->headers[i].value, src->headers[i].value_len);
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

    r->srv = c->nl->srv;
    r->conn = c;
    r->start_time = time(NULL);
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->io_lock, NULL);
    r->op.plan.owned_fd = -1;

    EXTENSION_CONTROL_BLOCK *ecb = &cell->ecb;
    memset(ecb, 0, sizeof *ecb); /* a cell handed out again after a wrap holds an old ECB */
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
    ecb->GetServerVariable = ecb_callbacks.GetServerVariable;
    ecb->WriteClient = ecb_callbacks.WriteClient;
    ecb->ReadClient = ecb_callbacks.ReadClient;
    ecb->ServerSupportFunction = ecb_callbacks.ServerSupportFunction;
    ecb_cell_open(cell, r);
    return r;
}

bool isapi_init(void) { return connid_init(&ecb_callbacks); }

request_t *isapi_request_new(conn_t *c, route_t *route)
{
    uint32_t ra = c->nl->srv->cfg->read_ahead_bytes;
    if (c->body_mode == BODY_NONE)
        ra = 0;
    else if (c->body_mode == BODY_LENGTH && c->body_left < ra)
        ra = (uint32_t)c->body_left;
    return request_create(c, &c->nl->ecb_cells, &c->hd->ri, route, ra);
}

static void plan_free(out_plan_t *p)
{
    free(p->segs);
    free(p->head);
    if (p->owned_fd >= 0)
        close(p->owned_fd);
    memset(p, 0, sizeof *p);
    p->owned_fd = -1;
}

static void request_free(request_t *r)
{
    connid_cell_free(r->cell); /* dead now: a late call fails from here on */
    plan_free(&r->op.plan);
    route_free(&r->route);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->io_lock);
    free(r->log_param);
    free(r->pending);
    free(r->deferred_head);
    free(r);
}

void isapi_request_discard(request_t *r) { request_free(r); }

/* ------------------------------------------------------------------------------------------ */
/* Lifetime: the session, the operation slot, running callbacks and calls in flight from other
 * threads. Whoever makes the last condition true posts the end, exactly once: under the lock
 * for the first three (`finalized`), then through the cell's state word for the calls in flight
 * (ecb_cell_end_due here, or the last call's unhold). After that post the loop may free the
 * request at any moment, so the poster touches nothing more. */

static void session_over_locked(request_t *r)
{
    r->session_over = true;
    ecb_cell_close(r->cell); /* calls from other threads fail from now on */
}

static bool finish_due_locked(request_t *r)
{
    if (r->finalized || !r->session_over || r->op.kind != OP_NONE || r->callbacks_running)
        return false;
    r->finalized = true;
    return ecb_cell_end_due(r->cell);
}

static void child_ended(loop_task_t *t);

static void post_end(request_t *r)
{
    loop_post(r->conn->nl->loop, &r->end_task, r->parent ? child_ended : conn_request_ended);
}

static void session_returned(request_t *r, DWORD status)
{
    pthread_mutex_lock(&r->lock);
    r->returned = true;
    r->proc_status = status;
    if (status != HSE_STATUS_PENDING || r->done_called)
        session_over_locked(r);
    bool end = finish_due_locked(r);
    pthread_mutex_unlock(&r->lock);
    if (end)
        post_end(r);
}

static BOOL session_done(request_t *r, DWORD status)
{
    pthread_mutex_lock(&r->lock);
    if (r->done_called || r->session_over) { /* duplicates are ignored */
        pthread_mutex_unlock(&r->lock);
        return TRUE;
    }
    r->done_called = true;
    r->done_status = status;
    /* The extension is done with it: later calls from other threads are late, even while
     * HttpExtensionProc has not returned yet (its own calls still work). */
    ecb_cell_close(r->cell);
    /* Before HttpExtensionProc has returned, this is only recorded: the return ends it. */
    if (r->returned && r->proc_status == HSE_STATUS_PENDING)
        session_over_locked(r);
    bool end = finish_due_locked(r);
    pthread_mutex_unlock(&r->lock);
    if (end)
        post_end(r);
    return TRUE;
}

static void deferred_flush(request_t *r);

/* Calls HttpExtensionProc of ext, or of the route's extension loaded first when ext is NULL:
 * the status it returned, or HSE_STATUS_ERROR with r->load_failed when it could not be loaded. */
static DWORD request_call(request_t *r, extension_t *ext)
{
    char err[512];
    bool out_of_fds = false;
    if (!ext)
        ext = extensions_acquire(r->srv->extensions, r->route.handler, err, sizeof err, &out_of_fds);
    if (!ext) {
        if (out_of_fds)
            r->refused = true; /* 503: retried by the next request */
        else
            r->load_failed = true;
        return HSE_STATUS_ERROR;
    }
    r->ext = ext;
    SetLastError(0);
    crash_context_enter(ext->path, r->ri.raw_target);
    ecb_cell_t *outer = connid_own_enter(r->cell);
    DWORD status = ext->proc(&r->cell->ecb);
    connid_own_leave(outer);
    crash_context_leave();
    return status;
}

/* Still ours until session_returned: a final status leaves the head to the loop's tail. */
static void request_returned(request_t *r, DWORD status)
{
    if (status == HSE_STATUS_PENDING)
        deferred_flush(r);
    session_returned(r, status);
}

static void request_run(pool_work_t *w)
{
    request_t *r = (request_t *)((char *)w - offsetof(request_t, work));
    request_returned(r, request_call(r, NULL));
}

/* On the call pool, within the extension's share of it (src/pool.h): an extension whose calls
 * block cannot take the workers other extensions' calls need. */
static void request_submit(request_t *r)
{
    extension_t *ext = extensions_entry(r->srv->extensions, r->route.handler);
    if (!pool_submit(r->srv->pool, &r->work, request_run, ext ? &ext->call_share : NULL)) {
        r->refused = true;
        session_returned(r, HSE_STATUS_ERROR);
    }
}

/* HttpExtensionProc on the thread that runs the connection's loop (docs/design.md, "Extensions
 * on the loop's thread"). An extension one of whose calls had to be handed off runs on the pool
 * while that call lasts and for EXT_POOL_AFTER_HANDOFF_MS after: it is likely to block again.
 * ext is NULL for the call that loads the extension (a one-off cost, not held against it).
 * False when the loop was handed off during the call: the caller must unwind without touching
 * the connection. */
#define EXT_POOL_AFTER_HANDOFF_MS 1000

static bool request_run_inline(request_t *r, loop_t *l, extension_t *ext)
{
    uint64_t call = loop_call_begin(l, ext);
    DWORD status = request_call(r, ext); /* ext found already: no second lookup */
    bool kept = loop_call_end(l, call);
    if (!kept && ext) {
        atomic_store(&ext->pool_until_ms, clock_now_ms() + EXT_POOL_AFTER_HANDOFF_MS);
        atomic_fetch_sub(&ext->calls_taken, 1); /* counted by isapi_call_taken */
    }
    request_returned(r, status);
    return kept;
}

void isapi_call_taken(void *ctx)
{
    extension_t *ext = ctx;
    atomic_fetch_add(&ext->calls_taken, 1);
    if (!atomic_exchange(&ext->handoff_logged, true))
        log_info("%s: a call ran past --handoff-after on an event loop's thread; the loop went on "
                 "on a helper thread, and this extension's requests run on the worker pool until "
                 "a second after such a call returns (logged once per extension)",
                 ext->path);
    else
        log_debug("%s: a call ran past --handoff-after: loop handed off", ext->path);
}

bool isapi_request_start(request_t *r, uint32_t readahead_len)
{
    r->readahead[readahead_len] = '\0'; /* extensions treat lpbData as a C string */
    r->cell->ecb.cbAvailable = readahead_len;
    loop_t *l = loop_current();
    if (l && r->srv->cfg->extensions_inline && !r->parent) {
        /* Not loaded yet: loading (DllMain, GetExtensionVersion) happens inside the call. */
        extension_t *ext = extensions_peek(r->srv->extensions, r->route.handler);
        if (!ext || (atomic_load(&ext->calls_taken) == 0 &&
                     atomic_load(&ext->pool_until_ms) <= loop_now(l)))
            return request_run_inline(r, l, ext);
    }
    request_submit(r);
    return true;
}

/* Called from extension threads: reads only what the loop does not change while the extension
 * owns the request (conn->keep_alive) and atomics. */
static bool request_keep_alive_possible(request_t *r)
{
    return r->conn->keep_alive && !atomic_load(&r->srv->stopping) && !atomic_load(&r->must_close);
}

/* ------------------------------------------------------------------------------------------ */
/* Response composition (under io_lock). Every write — synchronous or not, WriteClient,
 * TransmitFile, vector send, send-URL — becomes a plan: the head if this write carries it, then
 * the extension's pieces with the response's framing. */

typedef struct piece {
    const char *mem; /* memory, or NULL for a file range */
    int fd;
    uint64_t off, len;
} piece_t;

/* Decide the framing for h and build the head into *head. */
static BOOL prepare_head(request_t *r, resphead_t *h, uint64_t final_length, bool final,
                         char **head, size_t *head_len)
{
    unsigned st = h->status;
    if (!h->has_content_length && final && !h->chunked) {
        /* Nothing follows this write: the length is known. */
        h->has_content_length = true;
        h->content_length = final_length;
    }
    if (st < 200 || st == 204 || st == 304) {
        r->framing = FRAME_NONE;
    } else if (h->has_content_length) {
        r->framing = FRAME_LENGTH;
        r->declared_length = h->content_length;
    } else if (is_head_method(r)) {
        r->framing = FRAME_NONE;
    } else if (h->chunked) {
        r->framing = FRAME_PASSTHRU;
    } else if (r->ri.http_minor >= 1) {
        r->framing = FRAME_CHUNKED;
    } else {
        r->framing = FRAME_CLOSE;
        atomic_store(&r->must_close, true);
    }
    if (h->conn_close)
        atomic_store(&r->must_close, true);
    if (resphead_build(h, r->ri.http_minor, r->framing, request_keep_alive_possible(r),
                       r->srv->software, head, head_len) < 0)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    r->head_sent = true;
    r->status_sent = st;
    r->cell->ecb.dwHttpStatusCode = st;
    return TRUE;
}

/* Build the plan: head (taken over, may be NULL), then the pieces framed. `final`: nothing
 * follows (HSE_IO_FINAL_SEND, HSE_IO_DISCONNECT_AFTER_SEND): a chunked body is ended here. */
static BOOL plan_build(request_t *r, out_plan_t *p, char *head, size_t head_len,
                       const piece_t *pieces, size_t n, bool final)
{
    memset(p, 0, sizeof *p);
    p->owned_fd = -1;
    p->segs = malloc((n + 4) * sizeof *p->segs);
    if (!p->segs) {
        free(head);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    if (!head && r->deferred_head) { /* the held-back head leaves with this write */
        head = r->deferred_head;
        head_len = r->deferred_len;
        r->deferred_head = NULL;
        r->deferred_len = 0;
    }
    p->head = head;
    if (head && head_len)
        p->segs[p->n++] = (out_seg_t){.mem = head, .fd = -1, .len = head_len};
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += pieces[i].len;
    uint64_t sendable = r->body_ended ? 0 : total; /* nothing may follow a final send */
    switch (r->framing) {
    case FRAME_NONE:
        sendable = 0;
        break;
    case FRAME_LENGTH:
        if (r->body_sent >= r->declared_length)
            sendable = 0;
        else if (total > r->declared_length - r->body_sent)
            sendable = r->declared_length - r->body_sent;
        if (sendable < total) /* beyond Content-Length: would read as the next response */
            atomic_store(&r->must_close, true);
        if (is_head_method(r))
            sendable = 0;
        break;
    case FRAME_CHUNKED:
    case FRAME_PASSTHRU:
    case FRAME_CLOSE:
        break;
    }
    r->body_sent += total;
    bool end_chunks = final && r->framing == FRAME_CHUNKED && !r->body_ended;
    if (end_chunks)
        r->body_ended = true;
    if (sendable == 0) {
        if (end_chunks)
            p->segs[p->n++] = (out_seg_t){.mem = "0\r\n\r\n", .fd = -1, .len = 5};
        return TRUE;
    }
    if (r->framing == FRAME_CHUNKED) {
        int m = snprintf(p->chunk_line, sizeof p->chunk_line, "%llx\r\n", (unsigned long long)sendable);
        p->segs[p->n++] = (out_seg_t){.mem = p->chunk_line, .fd = -1, .len = (uint64_t)m};
    }
    uint64_t left = sendable;
    for (size_t i = 0; i < n && left; i++) {
        uint64_t take = pieces[i].len < left ? pieces[i].len : left;
        if (take == 0)
            continue;
        p->segs[p->n++] = (out_seg_t){.mem = pieces[i].mem, .fd = pieces[i].fd,
                                      .off = pieces[i].off, .len = take, .payload = true};
        left -= take;
    }
    if (r->framing == FRAME_CHUNKED)
        p->segs[p->n++] = (out_seg_t){.mem = end_chunks ? "\r\n0\r\n\r\n" : "\r\n", .fd = -1,
                                      .len = end_chunks ? 7 : 2};
    return TRUE;
}

/* Send a plan on the calling thread. Frees it. */
static BOOL plan_send_sync(request_t *r, out_plan_t *p)
{
    out_cursor_t cur = {.segs = p->segs, .n = p->n};
    int rc = 0;
    if (p->n) {
        if (parked_socket_enter(r)) {
            rc = conn_send_blocking(r->conn, &cur);
            parked_socket_leave(r);
        } else {
            rc = -ENOTCONN; /* the client left and its socket was released */
        }
    }
    plan_free(p);
    if (rc < 0) {
        r->io_failed = true;
        atomic_store(&r->must_close, true);
        return fail(atomic_load(&r->closed_by_extension) ? ERROR_NETNAME_DELETED
                                                          : isapi_win32_error(rc));
    }
    return TRUE;
}

/* An extension call (HttpExtensionProc returning PENDING, a completion callback) is over: a
 * head it held back goes out now, so a client of a long-running session sees it promptly. */
static void deferred_flush(request_t *r)
{
    pthread_mutex_lock(&r->io_lock);
    if (r->deferred_head && !r->io_failed) {
        out_plan_t p;
        if (plan_build(r, &p, NULL, 0, NULL, 0, false))
            plan_send_sync(r, &p);
    }
    pthread_mutex_unlock(&r->io_lock);
}

/* Plan for bytes an extension writes. When no head was sent, the first bytes decide it
 * (§7.4-7.5): a raw head ("HTTP/1.1 200 OK\r\n...", possibly written over several calls, kept in
 * r->pending until its empty line arrives), header lines ended by an empty line (the FoxISAPI
 * style), or plain body behind a default head. *buffered: the bytes were kept, nothing to send. */
static BOOL plan_write(request_t *r, const char *buf, size_t len, out_plan_t *p, bool *buffered)
{
    *buffered = false;
    if (r->head_sent) {
        piece_t pc = {.mem = buf, .fd = -1, .len = len};
        return plan_build(r, p, NULL, 0, &pc, len ? 1 : 0, false);
    }
    if (len == 0 && !r->pending) {
        memset(p, 0, sizeof *p);
        p->owned_fd = -1;
        return TRUE;
    }
    const char *d = buf;
    size_t n = len;
    char *joined = NULL;
    if (r->pending) {
        joined = realloc(r->pending, r->pending_len + len);
        if (!joined)
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        memcpy(joined + r->pending_len, buf, len);
        r->pending = NULL;
        d = joined;
        n = r->pending_len + len;
        r->pending_len = 0;
    }
    resphead_t h;
    int raw = resphead_parse_raw(&h, d, n);
    if (raw == 1) {
        /* An incomplete head: keep it until the rest arrives (resphead refuses heads over
         * RESPHEAD_MAX_HEAD, so this is bounded). */
        resphead_free(&h);
        if (!joined && !(joined = malloc(n)))
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        if (d != joined)
            memcpy(joined, d, n);
        r->pending = joined;
        r->pending_len = n;
        *buffered = true;
        memset(p, 0, sizeof *p);
        p->owned_fd = -1;
        return TRUE;
    }
    if (raw != 0) {
        resphead_free(&h);
        resphead_init(&h);
        if (!resphead_looks_like_headers(d, n) || resphead_parse_lines(&h, d, n) < 0) {
            resphead_free(&h);
            resphead_init(&h);
            h.consumed = 0;
        }
    }
    char *head = NULL;
    size_t head_len = 0;
    BOOL ok = prepare_head(r, &h, 0, false, &head, &head_len);
    if (ok) {
        /* The body part may live in `joined`, which the plan must not outlive: copy it behind the
         * head so the plan owns everything. */
        size_t body = n - h.consumed;
        if (joined && body) {
            char *both = realloc(head, head_len + body);
            if (!both) {
                free(head);
                ok = fail(ERROR_NOT_ENOUGH_MEMORY);
            } else {
                head = both;
                memcpy(head + head_len, d + h.consumed, body);
                piece_t pc = {.mem = head + head_len, .fd = -1, .len = body};
                ok = plan_build(r, p, head, head_len, &pc, 1, false);
            }
        } else {
            piece_t pc = {.mem = d + h.consumed, .fd = -1, .len = body};
            ok = plan_build(r, p, head, head_len, &pc, body ? 1 : 0, false);
        }
    }
    resphead_free(&h);
    free(joined);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Asynchronous operations. Started on any thread, driven by the connection's loop, completed on
 * the pool. */

static bool op_is_write(op_kind_t k) { return k == OP_WRITE || k == OP_TRANSMIT || k == OP_VECTOR || k == OP_SENDURL; }

/* Whether an operation is outstanding (checked first, so that "busy" wins over other errors). */
static bool op_busy(request_t *r)
{
    pthread_mutex_lock(&r->lock);
    bool busy = r->op.kind != OP_NONE;
    pthread_mutex_unlock(&r->lock);
    return busy;
}

/* Reserve the operation slot. 0, or a Win32 error. */
static DWORD op_claim(request_t *r, op_kind_t kind, PFN_HSE_IO_COMPLETION fn, PVOID ctx)
{
    DWORD err = 0;
    pthread_mutex_lock(&r->lock);
    if (r->finalized) /* a call from another thread that was in flight when the session ended */
        err = ERROR_INVALID_PARAMETER;
    else if (r->op.kind != OP_NONE || (kind == OP_READ && r->sync_reading))
        err = ERROR_BUSY;
    else if (atomic_load(&r->closed_by_extension))
        err = ERROR_NETNAME_DELETED;
    else {
        r->op.kind = kind;
        r->op.fn = fn;
        r->op.ctx = ctx;
    }
    pthread_mutex_unlock(&r->lock);
    return err;
}

/* Give the slot back when the start failed after claiming it. */
static void op_unclaim(request_t *r)
{
    pthread_mutex_lock(&r->lock);
    r->op.kind = OP_NONE;
    parked_release_if_due_locked(r);
    bool end = finish_due_locked(r);
    pthread_mutex_unlock(&r->lock);
    if (end)
        post_end(r);
}

static void op_complete_work(pool_work_t *w)
{
    request_t *r = (request_t *)((char *)w - offsetof(request_t, op_work));
    pthread_mutex_lock(&r->lock);
    PFN_HSE_IO_COMPLETION fn = r->op.fn;
    PVOID ctx = r->op.ctx;
    DWORD bytes = r->op.result_bytes, err = r->op.result_error;
    /* No longer outstanding: the callback may start the next operation. */
    r->op.kind = OP_NONE;
    r->callbacks_running++;
    parked_release_if_due_locked(r); /* a client that left waited for this operation */
    pthread_mutex_unlock(&r->lock);
    if (fn) {
        crash_context_enter(r->route.handler, r->ri.raw_target);
        ecb_cell_t *outer = connid_own_enter(r->cell);
        fn(&r->cell->ecb, ctx, bytes, err);
        connid_own_leave(outer);
        crash_context_leave();
        deferred_flush(r); /* still alive: callbacks_running holds the request */
    }
    pthread_mutex_lock(&r->lock);
    r->callbacks_running--;
    bool end = finish_due_locked(r);
    pthread_mutex_unlock(&r->lock);
    if (end)
        post_end(r);
}

/* Loop thread: the operation is over; queue its completion. */
static void op_finish(request_t *r, DWORD bytes, DWORD err)
{
    conn_t *c = r->conn;
    c->op_req = NULL;
    timeq_disarm(&c->timer);
    if (r->op.kind == OP_READ)
        conn_body_wait_over(c); /* however the read ended, the loop waits no more */
    else
        conn_send_drained(c);
    plan_free(&r->op.plan);
    r->op.result_bytes = bytes;
    r->op.result_error = err;
    if (err)
        atomic_store(&r->must_close, true);
    /* Never inline: the completion pool runs the callback, even when the I/O finished at once;
     * its own workers, so completions never wait behind blocked HttpExtensionProc calls, and
     * within the extension's share, so one extension's blocking callbacks cannot starve the
     * others' completions. */
    if (!pool_submit(r->srv->completions, &r->op_work, op_complete_work,
                     r->ext ? &r->ext->completion_share : NULL))
        op_complete_work(&r->op_work); /* only while stopping, after the loops are gone */
}

static DWORD op_abort_error(request_t *r)
{
    return atomic_load(&r->closed_by_extension) ? ERROR_NETNAME_DELETED : ERROR_OPERATION_ABORTED;
}

void isapi_op_drive(request_t *r)
{
    conn_t *c = r->conn;
    if (c->op_req != r)
        return;
    netloop_t *nl = c->nl;
    if (c->watch.fd < 0) { /* released (the client left): fails on the pool like a reset */
        op_finish(r, r->op.kind == OP_READ ? 0 : (DWORD)r->op.cur.payload_sent, op_abort_error(r));
        return;
    }
    if (r->op.kind == OP_READ) {
        /* Only the time the read is outstanding counts for the minimum body rate. */
        conn_body_wake(c);
        ssize_t n = r->no_body ? 0 : conn_body_read(c, r->op.rbuf, r->op.rcap);
        if (n >= 0) {
            op_finish(r, (DWORD)n, 0);
        } else if (n == -EAGAIN) {
            if (!conn_body_sleep(c))
                op_finish(r, 0, ERROR_TIMEOUT); /* under the minimum body rate */
            else if (!timeq_node_armed(&c->timer))
                timeq_arm(&nl->tq_body, &c->timer, loop_now(nl->loop));
        } else if (n == -EPROTO || n == -EFBIG) {
            op_finish(r, 0, ERROR_INVALID_DATA);
        } else {
            op_finish(r, 0, op_abort_error(r));
        }
        return;
    }
    conn_send_drained(c); /* a wait for the socket, if one went on, is over */
    uint64_t before = r->op.cur.payload_sent;
    size_t before_i = r->op.cur.i;
    uint64_t before_done = r->op.cur.seg_done, before_bytes = r->op.cur.bytes;
    int rc = out_send(c->watch.fd, &r->op.cur);
    if (c->hd)
        send_rate_took(&c->hd->send_rate, r->op.cur.bytes - before_bytes);
    if (rc == 1) {
        if (r->op.disconnect_after) {
            atomic_store(&r->must_close, true);
            shutdown(c->watch.fd, SHUT_WR); /* the client sees the end of the response now */
        }
        op_finish(r, r->op.report_bytes, 0);
    } else if (rc == 0) {
        if (!conn_send_full(c)) { /* under the minimum send rate: logged */
            op_finish(r, (DWORD)r->op.cur.payload_sent, ERROR_TIMEOUT);
            return;
        }
        bool progress = r->op.cur.payload_sent != before || r->op.cur.i != before_i ||
                        r->op.cur.seg_done != before_done;
        if (progress || !timeq_node_armed(&c->timer))
            timeq_arm(&nl->tq_send, &c->timer, loop_now(nl->loop));
    } else {
        log_debug("%s: asynchronous send failed: %s", c->peer_text, strerror(-rc));
        op_finish(r, (DWORD)r->op.cur.payload_sent, op_abort_error(r));
    }
}

void isapi_op_timeout(request_t *r)
{
    conn_t *c = r->conn;
    if (c->op_req != r)
        return;
    log_debug("%s: asynchronous %s timed out", c->peer_text, r->op.kind == OP_READ ? "read" : "write");
    op_finish(r, r->op.kind == OP_READ ? 0 : (DWORD)r->op.cur.payload_sent, ERROR_TIMEOUT);
}

static void op_start_task(loop_task_t *t)
{
    request_t *r = (request_t *)((char *)t - offsetof(request_t, op_task));
    conn_t *c = r->conn;
    c->op_req = r;
    r->op.cur = (out_cursor_t){.segs = r->op.plan.segs, .n = r->op.plan.n};
    isapi_op_drive(r);
}

/* The operation is claimed and prepared: hand it to the loop. */
static void op_launch(request_t *r)
{
    loop_post(r->conn->nl->loop, &r->op_task, op_start_task);
}

/* CLOSE_CONNECTION: the loop re-drives a pending operation so that it fails now. */
static void kick_task(loop_task_t *t)
{
    request_t *r = (request_t *)((char *)t - offsetof(request_t, kick_task));
    pthread_mutex_lock(&r->lock);
    r->kick_posted = false;
    pthread_mutex_unlock(&r->lock);
    isapi_op_drive(r);
}

/* ------------------------------------------------------------------------------------------ */
/* The four ECB callbacks, behind the ConnID check (cb_* below) */

static BOOL get_server_variable(request_t *r, LPSTR name, LPVOID buf, LPDWORD size)
{
    if (!name || !size)
        return fail(ERROR_INVALID_PARAMETER);
    uint32_t sz = *size;
    uint32_t err = servervar_get(&r->ri, name, buf, &sz);
    *size = sz;
    if (err)
        return fail(err);
    return TRUE;
}

static PFN_HSE_IO_COMPLETION registered_callback(request_t *r, PVOID *ctx)
{
    pthread_mutex_lock(&r->lock);
    PFN_HSE_IO_COMPLETION fn = r->io_fn;
    *ctx = r->io_ctx;
    pthread_mutex_unlock(&r->lock);
    return fn;
}

/* A write-type operation outstanding: a synchronous write now would interleave with it. */
static bool async_write_outstanding(request_t *r)
{
    pthread_mutex_lock(&r->lock);
    bool busy = op_is_write(r->op.kind);
    pthread_mutex_unlock(&r->lock);
    return busy;
}

static BOOL write_async(request_t *r, const char *buf, size_t len)
{
    PVOID ctx;
    PFN_HSE_IO_COMPLETION fn = registered_callback(r, &ctx);
    if (!fn)
        return fail(ERROR_INVALID_PARAMETER);
    pthread_mutex_lock(&r->io_lock);
    DWORD err = op_claim(r, OP_WRITE, fn, ctx);
    if (err) {
        pthread_mutex_unlock(&r->io_lock);
        return fail(err);
    }
    bool buffered;
    if (!plan_write(r, buf, len, &r->op.plan, &buffered)) {
        DWORD e = GetLastError();
        pthread_mutex_unlock(&r->io_lock);
        op_unclaim(r);
        return fail(e);
    }
    r->op.report_bytes = (DWORD)len;
    r->op.disconnect_after = false;
    pthread_mutex_unlock(&r->io_lock);
    op_launch(r);
    return TRUE;
}

static BOOL write_client(request_t *r, LPVOID buf, LPDWORD bytes, DWORD flags)
{
    if (!bytes || (!buf && *bytes))
        return fail(ERROR_INVALID_PARAMETER);
    size_t len = *bytes;
    if (flags & HSE_IO_ASYNC)
        return write_async(r, buf, len); /* *lpdwBytes means nothing for asynchronous writes */
    pthread_mutex_lock(&r->io_lock);
    BOOL ok;
    if (async_write_outstanding(r)) {
        ok = fail(ERROR_BUSY);
    } else if (r->io_failed || atomic_load(&r->closed_by_extension)) {
        ok = fail(ERROR_NETNAME_DELETED);
    } else {
        out_plan_t p;
        bool buffered;
        ok = plan_write(r, buf, len, &p, &buffered);
        if (ok)
            ok = plan_send_sync(r, &p);
    }
    pthread_mutex_unlock(&r->io_lock);
    if (ok)
        *bytes = (DWORD)len;
    return ok;
}

static BOOL read_client(request_t *r, LPVOID buf, LPDWORD size)
{
    if (!size || (!buf && *size))
        return fail(ERROR_INVALID_PARAMETER);
    if (*size == 0)
        return TRUE;
    if (r->no_body) {
        *size = 0;
        return TRUE;
    }
    pthread_mutex_lock(&r->lock);
    bool busy = r->op.kind == OP_READ || r->sync_reading;
    if (!busy)
        r->sync_reading = true;
    pthread_mutex_unlock(&r->lock);
    if (busy)
        return fail(ERROR_BUSY);
    BOOL ok = TRUE;
    DWORD got = 0;
    bool entered = parked_socket_enter(r);
    for (;;) {
        /* Released socket: the rest of the body is lost with the client. */
        conn_t *c = r->conn;
        ssize_t n = entered                                  ? conn_body_read(c, buf, *size)
                    : c->body_done || c->body_mode == BODY_NONE ? 0
                                                             : -ECONNRESET;
        if (n >= 0) {
            got = (DWORD)n;
            break;
        }
        if (n == -EAGAIN) {
            /* The body timeout, and the minimum body rate over the time spent waiting here. */
            int w = conn_body_wait(r->conn, r->srv->cfg->body_timeout_ms);
            if (w == 0)
                continue;
            n = w;
        }
        if (n == -EFBIG)
            log_warn("%s: request body over the %llu byte limit", r->ri.raw_target,
                     (unsigned long long)r->srv->cfg->max_body_bytes);
        atomic_store(&r->must_close, true); /* the body's framing is lost */
        ok = fail(atomic_load(&r->closed_by_extension) ? ERROR_NETNAME_DELETED
                                                        : isapi_win32_error((int)n));
        break;
    }
    if (entered)
        parked_socket_leave(r);
    pthread_mutex_lock(&r->lock);
    r->sync_reading = false;
    pthread_mutex_unlock(&r->lock);
    *size = got;
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Support functions */

/* SEND_RESPONSE_HEADER[_EX]: status text, header text (may carry body after the blank line). */
static BOOL send_response_header(request_t *r, const char *status, size_t status_len,
                                 const char *headers, size_t headers_len, bool keep_conn)
{
    pthread_mutex_lock(&r->io_lock);
    BOOL ok;
    if (async_write_outstanding(r)) {
        ok = fail(ERROR_BUSY);
        goto out;
    }
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
        atomic_store(&r->must_close, true);
    const char *body = headers ? headers + h.consumed : NULL;
    size_t body_len = headers ? headers_len - h.consumed : 0;
    /* cch that counted the terminating NUL: the NUL is not body. */
    while (body_len && body[body_len - 1] == '\0')
        body_len--;
    char *head = NULL;
    size_t head_len = 0;
    ok = prepare_head(r, &h, 0, false, &head, &head_len);
    resphead_free(&h);
    if (ok && body_len == 0 && !r->pending) {
        /* Header only: hold it for the next write or the end of the call (deferred_flush). */
        r->deferred_head = head;
        r->deferred_len = head_len;
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
    if (async_write_outstanding(r)) {
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

static BOOL ssf_redirect(request_t *r, const char *url)
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
static DWORD map_url(request_t *r, const char *url, char *out, size_t out_size, size_t *needed,
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
        switch (urlmap_resolve(r->srv->cfg, norm, m)) {
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
    size_t needed = 0, mp = 0, mu = 0; /* set by map_url on success (the compiler cannot tell) */
    DWORD flags = 0;
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
 * no head was sent and raw bytes start one — from those bytes (§7.5), or the default head.
 * *consumed: bytes of raw that formed the head. Under io_lock. */
static BOOL head_for(request_t *r, bool send_headers, const char *status, const char *header_text,
                     const char *raw, size_t raw_len, uint64_t final_length, bool final,
                     char **head, size_t *head_len, size_t *consumed)
{
    *head = NULL;
    *head_len = 0;
    *consumed = 0;
    if (r->head_sent) {
        if (send_headers)
            return fail(ERROR_INVALID_PARAMETER); /* a second head */
        return TRUE;
    }
    resphead_t h;
    resphead_init(&h);
    if (send_headers) {
        if (resphead_parse_status(&h, status, status ? strlen(status) : 0) < 0 ||
            (header_text && resphead_parse_lines(&h, header_text, strlen(header_text)) < 0)) {
            resphead_free(&h);
            return fail(ERROR_INVALID_PARAMETER);
        }
    } else if (raw_len && resphead_parse_raw(&h, raw, raw_len) == 0) {
        *consumed = h.consumed;
    } else {
        resphead_free(&h);
        resphead_init(&h);
    }
    BOOL ok = prepare_head(r, &h, final_length - *consumed, final, head, head_len);
    resphead_free(&h);
    return ok;
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

    pthread_mutex_lock(&r->io_lock);
    DWORD err = op_claim(r, OP_TRANSMIT, fn, ctx);
    if (err) {
        pthread_mutex_unlock(&r->io_lock);
        return fail(err);
    }
    /* Disconnecting ends the response: a head sent now says so and gets its length. */
    if (disconnect)
        atomic_store(&r->must_close, true);
    char *head;
    size_t head_len, consumed;
    BOOL ok = head_for(r, send_headers, tf->pszStatusCode, head_text, raw, raw_len,
                       raw_len + len + tail_len, disconnect, &head, &head_len, &consumed);
    if (ok) {
        piece_t pcs[3] = {{.mem = raw ? raw + consumed : NULL, .fd = -1, .len = raw_len - consumed},
                          {.mem = NULL, .fd = fd, .off = off, .len = len},
                          {.mem = tf->pTail, .fd = -1, .len = tail_len}};
        ok = plan_build(r, &r->op.plan, head, head_len, pcs, 3, disconnect);
    }
    if (!ok) {
        DWORD e = GetLastError();
        pthread_mutex_unlock(&r->io_lock);
        op_unclaim(r);
        return fail(e);
    }
    size_t text_len = head_text ? strlen(head_text) : raw_len;
    r->op.report_bytes = (DWORD)(text_len + len + tail_len);
    r->op.disconnect_after = disconnect;
    pthread_mutex_unlock(&r->io_lock);
    op_launch(r);
    return TRUE;
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

    pthread_mutex_lock(&r->io_lock);
    DWORD err = 0;
    if (async)
        err = op_claim(r, OP_VECTOR, fn, ctx);
    else if (async_write_outstanding(r))
        err = ERROR_BUSY;
    else if (r->io_failed || atomic_load(&r->closed_by_extension))
        err = ERROR_NETNAME_DELETED;
    if (err) {
        pthread_mutex_unlock(&r->io_lock);
        free(pcs);
        return fail(err);
    }
    bool disconnect = (v->dwFlags & HSE_IO_DISCONNECT_AFTER_SEND) != 0;
    if (disconnect) {
        final = true;
        atomic_store(&r->must_close, true);
    }
    char *head;
    size_t head_len, consumed;
    out_plan_t local, *plan = async ? &r->op.plan : &local;
    BOOL ok = head_for(r, send_headers, v->pszStatus, v->pszHeaders, NULL, 0, total, final, &head,
                       &head_len, &consumed);
    if (ok)
        ok = plan_build(r, plan, head, head_len, pcs, n, final);
    free(pcs);
    if (ok && !async) {
        ok = plan_send_sync(r, plan);
        if (ok && disconnect) {
            atomic_store(&r->must_close, true);
            if (parked_socket_enter(r)) {
                shutdown(r->conn->watch.fd, SHUT_WR);
                parked_socket_leave(r);
            }
        }
    }
    if (!ok) {
        DWORD e = GetLastError();
        pthread_mutex_unlock(&r->io_lock);
        if (async)
            op_unclaim(r);
        return fail(e);
    }
    if (async) {
        r->op.report_bytes = (DWORD)total;
        r->op.disconnect_after = disconnect;
    }
    pthread_mutex_unlock(&r->io_lock);
    if (async)
        op_launch(r);
    return TRUE;
}

static BOOL ssf_close_connection(request_t *r)
{
    atomic_store(&r->closed_by_extension, true);
    atomic_store(&r->must_close, true);
    /* Shut down now, even under a pending operation: the loop sees the socket fail and completes
     * the operation with ERROR_NETNAME_DELETED; the kick makes sure it looks at once. */
    if (parked_socket_enter(r)) { /* else released: nothing left to shut down */
        shutdown(r->conn->watch.fd, SHUT_RDWR);
        parked_socket_leave(r);
    }
    /* Posted under the lock: the end of the request is only ever posted after a later
     * acquisition of it, so the kick runs first and never finds the request freed.
     * (Lock order: r->lock, then the loop's queue lock.) */
    pthread_mutex_lock(&r->lock);
    if (!r->kick_posted && r->op.kind != OP_NONE) {
        r->kick_posted = true;
        loop_post(r->conn->nl->loop, &r->kick_task, kick_task);
    }
    pthread_mutex_unlock(&r->lock);
    return TRUE;
}

/* Loop thread: a SEND_URL child's session is over. Its last bytes become the parent's
 * operation, which completes once they are out. */
static void child_ended(loop_task_t *t)
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
    memset(p, 0, sizeof *p);
    p->owned_fd = -1;
    p->segs = malloc(sizeof *p->segs);
    if (p->segs && end.tail) {
        p->head = end.tail;
        p->segs[p->n++] = (out_seg_t){.mem = end.tail, .fd = -1, .len = end.tail_len};
    } else {
        free(end.tail);
    }
    parent->op.report_bytes = (DWORD)end.body_bytes;
    parent->op.disconnect_after = false;
    parent->conn->op_req = parent;
    parent->op.cur = (out_cursor_t){.segs = p->segs, .n = p->n};
    isapi_op_drive(parent);
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
    request_t *child = request_create(parent->conn, NULL, &ri, route, 0); /* any thread */
    free(raw_path);
    free(hs);
    if (child) {
        child->parent = parent;
        child->no_body = true;
    }
    return child;
}

/* SEND_URL of an extension URL: run it as a child request whose response is this one. */
static BOOL send_url_child(request_t *r, const char *url, const char *path, route_t *route,
                           PFN_HSE_IO_COMPLETION fn, PVOID ctx)
{
    pthread_mutex_lock(&r->io_lock);
    DWORD err = op_busy(r)      ? ERROR_BUSY
                : r->head_sent ? ERROR_INVALID_PARAMETER
                               : op_claim(r, OP_SENDURL, fn, ctx);
    if (!err) {
        /* The child writes the head; this request writes nothing more. */
        r->head_sent = true;
        r->framing = FRAME_NONE;
    }
    pthread_mutex_unlock(&r->io_lock);
    if (err)
        return fail(err);
    request_t *child = request_child(r, url, path, route);
    if (!child) {
        pthread_mutex_lock(&r->io_lock);
        r->head_sent = false;
        pthread_mutex_unlock(&r->io_lock);
        op_unclaim(r);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    (void)isapi_request_start(child, 0); /* inside an extension's call: runs on the pool */
    return TRUE;
}

/* HSE_REQ_SEND_URL: internal (the URL's static file, or the extension it names, is this
 * response, as an operation) or, with --send-url-redirect, IIS 6's 302. */
static BOOL ssf_send_url(request_t *r, const char *url)
{
    if (!url || url[0] != '/' || strpbrk(url, "\r\n"))
        return fail(ERROR_INVALID_PARAMETER);
    config_t *cfg = r->srv->cfg;
    if (cfg->send_url_redirect) {
        char abs[4096];
        const http_header_t *host = reqinfo_header(&r->ri, "Host");
        char local[80];
        snprintf(local, sizeof local, "%s:%u", r->ri.local_addr, r->ri.local_port);
        snprintf(abs, sizeof abs, "http://%s%s", host ? host->value : local, url);
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
    route_resolve(cfg, norm, &route);
    if (route.kind == ROUTE_EXTENSION) {
        PVOID cctx;
        PFN_HSE_IO_COMPLETION cfn = registered_callback(r, &cctx);
        BOOL ok = send_url_child(r, url, norm, &route, cfn, cctx);
        route_free(&route);
        free(norm);
        return ok;
    }
    free(norm);
    if (route.kind != ROUTE_STATIC) {
        route_free(&route);
        return fail(ERROR_FILE_NOT_FOUND);
    }
    /* The file as a plain GET of it: no conditional or range headers of this request apply. */
    reqinfo_t get = {.method = "GET", .raw_target = url, .path = url, .query = "",
                     .http_major = 1, .http_minor = r->ri.http_minor};
    static_response_t sr;
    static_file_respond_route(r->srv->mime, &get, &route, &sr);
    route_free(&route);
    if (sr.status != 200) {
        if (sr.fd >= 0)
            close(sr.fd);
        /* 503: the file could not be opened for want of descriptors (logged) */
        return fail(sr.status == 503 ? ERROR_TOO_MANY_OPEN_FILES : ERROR_FILE_NOT_FOUND);
    }
    PVOID ctx;
    PFN_HSE_IO_COMPLETION fn = registered_callback(r, &ctx);
    pthread_mutex_lock(&r->io_lock);
    DWORD err = op_busy(r)      ? ERROR_BUSY
                : r->head_sent ? ERROR_INVALID_PARAMETER
                               : op_claim(r, OP_SENDURL, fn, ctx);
    if (err) {
        pthread_mutex_unlock(&r->io_lock);
        close(sr.fd);
        return fail(err);
    }
    resphead_t h;
    resphead_init(&h);
    char *head = NULL;
    size_t head_len = 0;
    BOOL ok = TRUE;
    if (sr.headers_len) {
        h.lines = malloc(sr.headers_len);
        if (h.lines) {
            memcpy(h.lines, sr.headers, sr.headers_len);
            h.lines_len = sr.headers_len;
        } else {
            ok = fail(ERROR_NOT_ENOUGH_MEMORY);
        }
    }
    if (ok)
        ok = prepare_head(r, &h, sr.length, true, &head, &head_len);
    resphead_free(&h);
    if (ok) {
        piece_t pc = {.mem = NULL, .fd = sr.fd, .off = sr.offset, .len = sr.length};
        ok = plan_build(r, &r->op.plan, head, head_len, &pc, 1, true);
    }
    if (!ok) {
        DWORD e = GetLastError();
        pthread_mutex_unlock(&r->io_lock);
        close(sr.fd);
        op_unclaim(r);
        return fail(e);
    }
    r->op.plan.owned_fd = sr.fd; /* closed with the plan */
    r->op.report_bytes = (DWORD)sr.length;
    r->op.disconnect_after = false;
    pthread_mutex_unlock(&r->io_lock);
    op_launch(r);
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
    DWORD err = op_claim(r, OP_READ, fn, ctx);
    if (err)
        return fail(err);
    r->op.rbuf = buf;
    r->op.rcap = *size;
    op_launch(r);
    return TRUE;
}

static BOOL server_support_function(request_t *r, DWORD code, LPVOID buf, LPDWORD size,
                                    LPDWORD data_type)
{
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
    case HSE_REQ_IS_IN_PROCESS:
        if (!buf)
            return fail(ERROR_INVALID_PARAMETER);
        *(DWORD *)buf = HSE_APP_FLAG_IN_PROCESS;
        return TRUE;
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
/* The four ECB callbacks as the extension sees them: the ConnID checked and the request held
 * for the call (hold / unhold). */

static BOOL WINAPI cb_get_server_variable(HCONN hc, LPSTR name, LPVOID buf, LPDWORD size)
{
    connid_held_t h;
    if (!connid_hold(hc, &h))
        return fail(ERROR_INVALID_PARAMETER);
    return unhold(&h, get_server_variable(h.owner, name, buf, size));
}

static BOOL WINAPI cb_write_client(HCONN hc, LPVOID buf, LPDWORD bytes, DWORD flags)
{
    connid_held_t h;
    if (!connid_hold(hc, &h))
        return fail(ERROR_INVALID_PARAMETER);
    return unhold(&h, write_client(h.owner, buf, bytes, flags));
}

static BOOL WINAPI cb_read_client(HCONN hc, LPVOID buf, LPDWORD size)
{
    connid_held_t h;
    if (!connid_hold(hc, &h))
        return fail(ERROR_INVALID_PARAMETER);
    return unhold(&h, read_client(h.owner, buf, size));
}

static BOOL WINAPI cb_server_support_function(HCONN hc, DWORD code, LPVOID buf, LPDWORD size,
                                              LPDWORD data_type)
{
    connid_held_t h;
    if (!connid_hold(hc, &h))
        return fail(ERROR_INVALID_PARAMETER);
    return unhold(&h, server_support_function(h.owner, code, buf, size, data_type));
}

/* ------------------------------------------------------------------------------------------ */
/* End of the request, on the loop */

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
    if (body_len && !no_body && !is_head_method(r)) {
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
    resphead_set_status(&h, status);
    char body[256];
    size_t n = http_error_body(status, body, sizeof body);
    char *out = NULL;
    if (resphead_add(&h, "Content-Type", "text/html") == 0)
        out = build_response(r, &h, body, n, false, len);
    resphead_free(&h);
    return out;
}

void isapi_request_end(request_t *r, request_end_t *out)
{
    memset(out, 0, sizeof *out);
    DWORD final = r->proc_status == HSE_STATUS_PENDING ? r->done_status : r->proc_status;
    bool error = final == HSE_STATUS_ERROR;
    pthread_mutex_lock(&r->io_lock);
    bool keep = request_keep_alive_possible(r) && !r->io_failed && !error &&
                !atomic_load(&r->closed_by_extension);
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
            DWORD st = r->cell->ecb.dwHttpStatusCode;
            resphead_set_status(&h, st >= 100 && st <= 999 ? st : 200);
            out->tail = build_response(r, &h, NULL, 0, keep, &out->tail_len);
        }
        resphead_free(&h);
        if (!out->tail)
            keep = false;
    } else if (r->deferred_head || (r->framing == FRAME_CHUNKED && !r->io_failed && !r->body_ended)) {
        /* The held-back head, if any, then the last chunk if the body is chunked. */
        static const char last[] = "0\r\n\r\n";
        bool chunk_end = r->framing == FRAME_CHUNKED && !r->io_failed && !r->body_ended;
        size_t n = r->deferred_len + (chunk_end ? sizeof last - 1 : 0);
        out->tail = malloc(n ? n : 1);
        if (out->tail) {
            if (r->deferred_len)
                memcpy(out->tail, r->deferred_head, r->deferred_len);
            if (chunk_end)
                memcpy(out->tail + r->deferred_len, last, sizeof last - 1);
            out->tail_len = n;
        } else {
            keep = false;
        }
        if (r->framing == FRAME_LENGTH && r->body_sent < r->declared_length && !is_head_method(r))
            keep = false; /* a head promising a body that never came */
    } else if (r->framing == FRAME_LENGTH && r->body_sent < r->declared_length && !is_head_method(r)) {
        keep = false; /* fewer bytes than the Content-Length promised */
        log_warn("%s: %s sent %llu of %llu body bytes; closing the connection", r->ri.raw_target,
                 r->route.handler, (unsigned long long)r->body_sent,
                 (unsigned long long)r->declared_length);
    } else if (r->framing == FRAME_CLOSE) {
        keep = false;
    }
    if (atomic_load(&r->closed_by_extension)) {
        free(out->tail);
        out->tail = NULL;
        out->tail_len = 0;
    }
    out->status = r->status_sent;
    out->body_bytes = r->body_sent;
    pthread_mutex_unlock(&r->io_lock);
    out->keep_alive = keep;

    accesslog_t *log = r->parent ? NULL : r->srv->access_log; /* a child's line is its parent's */
    if (log) {
        char param[HSE_LOG_BUFFER_LEN + 1024];
        size_t n = strnlen(r->cell->ecb.lpszLogData, HSE_LOG_BUFFER_LEN);
        snprintf(param, sizeof param, "%.*s%s%s", (int)n, r->cell->ecb.lpszLogData,
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
