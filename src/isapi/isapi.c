/* ISAPI requests: creation (the ECB and the head copied out of the connection), the session's
 * states and the request's references, which decide who posts its end (exactly once), running
 * HttpExtensionProc inline or on the pool, the ECB callback table (cb_*: ConnID check, hold /
 * unhold) and the end of the request on the loop. The rest of the request code is in
 * src/isapi/isapi_plan.c (response composition), src/isapi/isapi_op.c (asynchronous operations,
 * GetServerVariable / WriteClient / ReadClient), src/isapi/isapi_ssf.c (ServerSupportFunction) and
 * src/isapi/isapi_sendurl.c (send-URL); what they share is in src/isapi/isapi_internal.h.
 * Invariants and ownership of a request_t: src/isapi/isapi.h. */
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
#include "loop_backend.h"
#include "parked.h"
#include "path.h"
#include "servervars.h"
#include "static_file.h"
#include "urlmap.h"
#include "isapi_internal.h"
#include "filter_internal.h"

static BOOL WINAPI cb_get_server_variable(HCONN h, LPSTR name, LPVOID buf, LPDWORD size);
static BOOL WINAPI cb_write_client(HCONN h, LPVOID buf, LPDWORD bytes, DWORD flags);
static BOOL WINAPI cb_read_client(HCONN h, LPVOID buf, LPDWORD size);
static BOOL WINAPI cb_server_support_function(HCONN h, DWORD code, LPVOID buf, LPDWORD size,
                                              LPDWORD data_type);
/* The ECB's callbacks, in every live ECB and in every ended one (src/isapi/ecbcell.h tombstones). */
static const ecb_callbacks_t ecb_callbacks = {
    .GetServerVariable = cb_get_server_variable,
    .WriteClient = cb_write_client,
    .ReadClient = cb_read_client,
    .ServerSupportFunction = cb_server_support_function,
};

/* A callback is over (connid.h): the last call out of a request whose end is due posts it.
 * Passes result through (GetLastError is untouched). */
static BOOL unhold(connid_held_t *h, BOOL result)
{
    if (connid_unhold(h))
        request_post_end(h->owner);
    return result;
}

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

/* Spare request blocks (isapi_loop_t.spare_requests). Hello-sized requests all need about the
 * same block, a little over 1 KiB: too big for malloc's per-thread cache, so each one took
 * malloc's slow path twice. A loop keeps up to one event batch's worth (LOOP_BACKEND_BATCH) of
 * freed blocks of at most 4 KiB: a request's end is a task run after the batch that started
 * it, so one batch of clients holds that many blocks at once (with 32 spares, 64 clients made
 * half the requests malloc theirs). The first spare is taken when it is big enough. */
enum { SPARE_REQUESTS = LOOP_BACKEND_BATCH, SPARE_REQUEST_MAX = 4096 };

typedef struct spare_block {
    struct spare_block *next;
    size_t size;
} spare_block_t;

static char *block_take(isapi_loop_t *il, size_t need, size_t *size)
{
    spare_block_t *b = il ? il->spare_requests : NULL;
    if (b && b->size >= need) {
        il->spare_requests = b->next;
        il->n_spare_requests--;
        *size = b->size;
        return (char *)b;
    }
    *size = need;
    return malloc(need);
}

static void block_give(isapi_loop_t *il, void *block, size_t size)
{
    if (!il || size > SPARE_REQUEST_MAX || il->n_spare_requests >= SPARE_REQUESTS) {
        free(block);
        return;
    }
    spare_block_t *b = block;
    b->next = il->spare_requests;
    b->size = size;
    il->spare_requests = b;
    il->n_spare_requests++;
}

void isapi_loop_spares_free(isapi_loop_t *il)
{
    while (il->spare_requests) {
        spare_block_t *b = il->spare_requests;
        il->spare_requests = b->next;
        free(b);
    }
    il->n_spare_requests = 0;
}

/* A request on connection c from the head in src (its strings are copied) and the route (taken
 * over, left zeroed). The body read-ahead buffer holds readahead_cap bytes (+ NUL). home: a
 * client's request, its connection's loop (the ECB cells and spare blocks it takes); NULL for a
 * child. */
request_t *request_create(isapi_host_t *host, conn_t *c, isapi_loop_t *home,
                          const reqinfo_t *src, route_t *route, uint32_t readahead_cap)
{
    /* The client's address as the connection has it (no PROXY header or trusted proxy named
     * another) is the connection's text, which outlives the request and does not change after
     * the first request (as local_addr below): borrowed, not copied. */
    bool remote_is_conn = src->remote_addr == conn_peer_text(c);
    const char *const strs[] = {src->method, src->raw_target, src->raw_path,  src->path,
                                src->query,  src->server_name, src->remote_addr};
    size_t lens[sizeof strs / sizeof strs[0]];
    size_t measured = sizeof strs / sizeof strs[0] - (remote_is_conn ? 1 : 0); /* remote last */
    size_t total = 0;
    for (size_t i = 0; i < measured; i++) {
        lens[i] = strlen(strs[i]);
        total += lens[i] + 1;
    }
    /* The request may be parked for long: a path without escapes is its raw path, and the
     * query the end of the raw target (the strings are never written through). */
    bool path_is_raw = lens[3] == lens[2] && memcmp(strs[3], strs[2], lens[2]) == 0;
    bool query_in_target = lens[4] <= lens[1] &&
                           memcmp(strs[1] + lens[1] - lens[4], strs[4], lens[4]) == 0;
    total -= (path_is_raw ? lens[3] + 1 : 0) + (query_in_target ? lens[4] + 1 : 0);
    for (size_t i = 0; i < src->n_headers; i++)
        total += src->headers[i].name_len + src->headers[i].value_len + 2;
    total += route_keep_size(route); /* the route's strings, when they are the caller's */
    /* One block: the request, its header table, the head's (and the route's) strings, the
     * read-ahead buffer.
     * Freed with the request. Only the struct is zeroed (the read-ahead may be 48 KiB). */
    size_t headers_bytes = (src->n_headers ? src->n_headers : 1) * sizeof(http_header_t);
    /* A client's request takes a spare block of its loop; a child none. */
    size_t block_size;
    char *block = block_take(
        home, sizeof(request_t) + headers_bytes + total + (size_t)readahead_cap + 1, &block_size);
    if (!block)
        return NULL;
    ecb_cell_t *cell = connid_cell_take(home ? &home->cells : NULL, src->raw_target);
    if (!cell) {
        block_give(home, block, block_size);
        return NULL;
    }
    request_t *r = (request_t *)block;
    memset(&r->ext, 0, sizeof *r - offsetof(request_t, ext)); /* the rest is set below */
    r->block_home = home;
    r->block_size = block_size;
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
    ri->path = path_is_raw ? ri->raw_path : put(&cur, strs[3], lens[3]);
    ri->query = query_in_target ? ri->raw_target + lens[1] - lens[4] : put(&cur, strs[4], lens[4]);
    ri->server_name = put(&cur, strs[5], lens[5]);
    if (!remote_is_conn) /* the head's X-Forwarded-For, or a parent request's copy */
        ri->remote_addr = put(&cur, strs[6], lens[6]);
    ri->content_type = "";
    for (size_t i = 0; i < src->n_headers; i++) {
        http_header_t *h = &r->headers[i];
        *h = src->headers[i];
        h->name = put(&cur, src->headers[i].name, src->headers[i].name_len);
        h->value = put(&cur, src->headers[i].value, src->headers[i].value_len);
        if (!ri->content_type[0] && http_header_named(h, "Content-Type", 12))
            ri->content_type = h->value;
    }
    ri->headers = r->headers;
    /* The connection outlives the request (it is not freed while an extension owns it). */
    ri->local_addr = conn_local_text(c);

    route_keep(route, cur); /* into the block, after the head's strings */
    r->route = *route;
    route_disown(route);
    ri->script_name = r->route.script_name ? r->route.script_name : "";
    ri->script_filename = r->route.script_filename ? r->route.script_filename : "";
    ri->path_info = r->route.path_info ? r->route.path_info : "";
    ri->path_translated = r->route.path_translated ? r->route.path_translated : "";
    ri->appl_physical_path = r->route.appl_physical_path ? r->route.appl_physical_path : "";

    r->host = host;
    r->conn = c;
    r->start_time = time(NULL);
    /* Default mutexes, without two calls: the static initialiser's value. */
    r->lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    r->io_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    r->session = SESSION_RUNNING;
    r->refs = 1; /* the open session's */

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

request_t *isapi_request_new(void *ctx, conn_t *c, const reqinfo_t *head, route_t *route,
                             char **readahead, uint32_t *readahead_cap)
{
    isapi_host_t *host = ctx;
    uint32_t ra = conn_readahead_size(c, host->cfg->read_ahead_bytes);
    request_t *r = request_create(host, c, &host->loops[conn_loop_index(c)], head, route, ra);
    if (r) {
        *readahead = r->readahead;
        *readahead_cap = r->readahead_cap;
    }
    return r;
}

static void request_free(request_t *r)
{
    connid_cell_free(r->cell); /* dead now: a late call fails from here on */
    if (r->op.mem) {
        plan_free(&r->op.mem->plan);
        free(r->op.mem);
    }
    route_release(&r->route); /* the block, route and all, is given up below */
#ifdef __SANITIZE_THREAD__
    /* The block is reused for the next request: TSan must not carry this request's lock history
     * (its happens-before edges) over to that one's. A default glibc mutex holds nothing else. */
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->io_lock);
#endif
    /* Most requests have none of these: no call then. */
    if (r->log_param)
        free(r->log_param);
    if (r->pending)
        free(r->pending);
    if (r->deferred_head && !atomic_load(&r->deferred_held)) /* held: never here (request_returned) */
        free(r->deferred_head);
    if (r->filt && !r->filt_borrowed)
        filter_request_free(r);
    block_give(r->block_home, r, r->block_size); /* a client's request: on its loop's thread */
}

void isapi_request_discard(request_t *r) { request_free(r); }

/* ------------------------------------------------------------------------------------------ */
/* Lifetime: the references on the request (request_t.refs) and the session's states
 * (session_state_t). Whoever drops the last reference, or is the last call out after that,
 * posts the end, exactly once. After that post the loop may free the request at any moment, so
 * the poster touches nothing more. */

/* Under lock, by a thread that holds the request already (a reference, or a call). */
void request_ref_locked(request_t *r) { r->refs++; }

/* Under lock. True when this was the last reference and no call from another thread is in
 * flight: the caller posts the end (request_post_end) once it has unlocked. */
bool request_unref_locked(request_t *r)
{
    if (--r->refs)
        return false;
    return ecb_cell_end_due(r->cell); /* else the last call out posts it (connid_unhold) */
}

typedef enum { SESSION_EVENT_RETURN, SESSION_EVENT_DONE } session_event_t;

/* Under lock: the one place the session changes state (the diagram at session_state_t). status:
 * what HttpExtensionProc returned, or DONE_WITH_SESSION's. True when the end is due (post it). */
static bool session_advance_locked(request_t *r, session_event_t ev, DWORD status)
{
    session_state_t next;
    switch (r->session) {
    case SESSION_RUNNING:
        if (ev == SESSION_EVENT_DONE)
            next = SESSION_DONE_EARLY;
        else
            next = status == HSE_STATUS_PENDING ? SESSION_PENDING : SESSION_OVER;
        break;
    case SESSION_DONE_EARLY: /* waits for the return */
        if (ev != SESSION_EVENT_RETURN)
            return false; /* a duplicate DONE */
        next = SESSION_OVER;
        break;
    case SESSION_PENDING: /* waits for DONE */
        if (ev != SESSION_EVENT_DONE)
            return false; /* not reached: HttpExtensionProc returns once */
        next = SESSION_OVER;
        break;
    default: /* SESSION_OVER: a DONE after the end is ignored */
        return false;
    }
    if (ev == SESSION_EVENT_RETURN)
        r->proc_status = status;
    else
        r->done_status = status;
    r->session = next;
    if (next == SESSION_PENDING)
        return false;
    /* The extension is done with it: later calls from other threads are late, even while
     * HttpExtensionProc has not returned yet (its own calls still work). */
    if (next == SESSION_OVER && r->refs == 1) { /* the session's reference is the last */
        r->refs = 0;
        return ecb_cell_end_due(r->cell); /* closes the cell too: one atomic operation */
    }
    ecb_cell_close(r->cell);
    return next == SESSION_OVER && request_unref_locked(r); /* the session's reference */
}


static void request_finish(request_t *r, request_end_t *out);

/* Loop thread: the hand-back of a filtered request whose end request_finish computed
 * (request_ended: at once, or as a task posted by the thread that lost the loop meanwhile):
 * r is freed and the connection handed back here, on the loop. */
static void request_handback(loop_task_t *t)
{
    request_t *r = (request_t *)((char *)t - offsetof(request_t, end_task));
    conn_t *c = r->conn;
    request_end_t end = r->filt->end;
    request_free(r);
    (void)conn_request_ended(c, &end);
}

/* Loop thread: the request's end, posted once; the connection goes back to the transport.
 * Filter code may run in the end (SEND_RESPONSE of a head the server still builds,
 * SEND_RAW_DATA of the tail, END_OF_REQUEST, LOG): a guarded call, as the head stage's, so a
 * filter that blocks there costs this loop its thread, not its connections. A thread that lost
 * the loop finishes the request (its own call) and posts the hand-back; until then r stays
 * alive, so the loop (run by a helper) still finds the request it expects on c. */
static void request_ended(loop_task_t *t)
{
    request_t *r = (request_t *)((char *)t - offsetof(request_t, end_task));
    conn_t *c = r->conn;
    request_end_t end;
    if (r->filt && !r->filt_borrowed && (r->host->filters->wanted & FILTER_END_NOTIFICATIONS)) {
        loop_t *l = conn_loop(c);
        uint64_t call = loop_call_begin(l, NULL);
        request_finish(r, &r->filt->end);
        if (loop_call_end(l, call) == LOOP_LOST) {
            loop_post(l, &r->end_task, request_handback); /* end_task has run: free to post */
            return;
        }
        request_handback(&r->end_task);
        return;
    }
    isapi_request_end(r, &end); /* frees r */
    (void)conn_request_ended(c, &end); /* a loop task: the loop tells whether it lost the loop */
}

void request_post_end(request_t *r)
{
    loop_post(conn_loop(r->conn), &r->end_task, r->parent ? child_request_ended : request_ended);
}

void session_returned(request_t *r, DWORD status)
{
    pthread_mutex_lock(&r->lock);
    bool end = session_advance_locked(r, SESSION_EVENT_RETURN, status);
    pthread_mutex_unlock(&r->lock);
    if (end)
        request_post_end(r);
}

BOOL session_done(request_t *r, DWORD status)
{
    pthread_mutex_lock(&r->lock);
    bool end = session_advance_locked(r, SESSION_EVENT_DONE, status);
    pthread_mutex_unlock(&r->lock);
    if (end)
        request_post_end(r);
    return TRUE; /* duplicates too: they are ignored */
}


/* Calls HttpExtensionProc of ext, or of the route's extension loaded first when ext is NULL:
 * the status it returned, or HSE_STATUS_ERROR with r->load_failed when it could not be loaded. */
static DWORD request_call(request_t *r, extension_t *ext)
{
    char err[512];
    bool out_of_fds = false;
    /* ext found already: no lookup by path */
    if (ext ? extension_disabled(ext)
            : extensions_disabled(r->host->extensions, r->route.handler)) {
        static log_limiter_t disabled = LOG_LIMITER_INIT;
        log_limited(&disabled, LOG_WARN, "503 for %s: extension %s is disabled by rapid-fail "
                    "protection (it crashed %u times within %u s) until its file changes or the "
                    "server is reloaded (SIGHUP)", r->ri.raw_target,
                    ext ? ext->path : r->route.handler, r->host->cfg->rapid_fail_crashes,
                    (unsigned)(r->host->cfg->rapid_fail_window_ms / 1000));
        r->refused = true;
        return HSE_STATUS_ERROR;
    }
    if (!ext)
        ext = extensions_acquire(r->host->extensions, r->route.handler, err, sizeof err, &out_of_fds);
    if (!ext) {
        if (out_of_fds)
            r->refused = true; /* 503: retried by the next request */
        else
            r->load_failed = true;
        return HSE_STATUS_ERROR;
    }
    r->ext = ext;
    if (r->host->cfg->status_path) /* only the status page reads them */
        atomic_fetch_add_explicit(&ext->requests_started, 1, memory_order_relaxed);
    SetLastError(0);
    crash_context_enter(ext->path, r->ri.raw_target);
    ecb_cell_t *outer = connid_own_enter(r->cell);
    r->proc_thread = pthread_self();
    atomic_store(&r->in_proc, true);
    DWORD status = ext->proc(&r->cell->ecb);
    atomic_store(&r->in_proc, false);
    connid_own_leave(outer);
    crash_context_leave();
    return status;
}

/* Still ours until session_returned: a final status leaves the head to the loop's tail. */
static void request_returned(request_t *r, DWORD status)
{
    if (atomic_load(&r->deferred_held)) { /* the memo holding it is this thread's */
        pthread_mutex_lock(&r->io_lock);
        (void)deferred_head_own(r);
        pthread_mutex_unlock(&r->io_lock);
    }
    if (status == HSE_STATUS_PENDING)
        request_deferred_flush(r);
    session_returned(r, status);
}

static void request_run(pool_work_t *w)
{
    request_t *r = (request_t *)((char *)w - offsetof(request_t, work));
    request_returned(r, request_call(r, NULL));
}

/* On the call pool, within the extension's share of it (src/core/pool.h): an extension whose calls
 * block cannot take the workers other extensions' calls need. */
static void request_submit(request_t *r)
{
    extension_t *ext = extensions_entry(r->host->extensions, r->route.handler);
    if (!pool_submit(r->host->pool, &r->work, request_run, ext ? &ext->call_share : NULL)) {
        r->refused = true;
        session_returned(r, HSE_STATUS_ERROR);
    }
}

/* HttpExtensionProc on the thread that runs the connection's loop (docs/design.md, "Extensions
 * on the loop's thread"). An extension one of whose calls had to be handed off runs on the pool
 * while that call lasts and for EXT_POOL_AFTER_HANDOFF_MS after: it is likely to block again.
 * ext is NULL for the call that loads the extension (a one-off cost, not held against it).
 * A call that lost the loop still ends its session (posted to the loop like any thread's). */
#define EXT_POOL_AFTER_HANDOFF_MS 1000

/* Inlined into its one caller: the hello path pays no call for it (the filters made dispatch
 * a function of its own). */
static inline __attribute__((always_inline)) loop_kept_t
request_run_inline(request_t *r, loop_t *l, extension_t *ext)
{
    uint64_t call = loop_call_begin(l, ext);
    DWORD status = request_call(r, ext); /* ext found already: no second lookup */
    conn_gather_end(r->conn); /* its writes went into the connection's batch: no more */
    loop_kept_t kept = loop_call_end(l, call);
    if (kept == LOOP_LOST && ext) {
        atomic_store(&ext->pool_until_ms, clock_now_ms() + EXT_POOL_AFTER_HANDOFF_MS);
        atomic_fetch_sub(&ext->calls_taken, 1); /* counted by isapi_call_taken */
    }
    request_returned(r, status);
    return kept;
}

void isapi_call_taken(void *ctx)
{
    extension_t *ext = ctx;
    if (!ext) /* a filter's call in the head stage (filter_req.c), or a loading call */
        return;
    atomic_fetch_add(&ext->calls_taken, 1);
    if (!atomic_exchange(&ext->handoff_logged, true))
        log_info("%s: a call ran past --handoff-after on an event loop's thread; the loop went on "
                 "on a helper thread, and this extension's requests run on the worker pool until "
                 "a second after such a call returns (logged once per extension)",
                 ext->path);
    else
        log_debug("%s: a call ran past --handoff-after: loop handed off", ext->path);
}

static inline loop_kept_t dispatch(request_t *r);

loop_kept_t isapi_request_start(request_t *r, uint32_t readahead_len)
{
    r->readahead[readahead_len] = '\0'; /* extensions treat lpbData as a C string */
    r->cell->ecb.cbAvailable = readahead_len;
    if (r->host->filters) {
        if (!r->parent) /* the filters' head stage first (filter_req.c) */
            return filter_request_start(r);
        r->filt = r->parent->filt; /* a child's response is its parent's: the same filters */
        r->filt_borrowed = r->filt != NULL;
    }
    return dispatch(r);
}

loop_kept_t request_dispatch(request_t *r) { return dispatch(r); }

/* Inline in isapi_request_start: the path without filters has no extra call. */
static inline loop_kept_t dispatch(request_t *r)
{
    loop_t *l = loop_current();
    /* Not from the loop's tick (a timer that finished a response and read the next, pipelined
     * request): the tick must not lose the loop, so the call goes to the pool. */
    if (l && r->host->cfg->extensions_inline && !r->parent && !loop_in_tick(l)) {
        /* Not loaded yet: loading (DllMain, GetExtensionVersion) happens inside the call. */
        extension_t *ext = extensions_peek(r->host->extensions, r->route.handler);
        if (!ext || (atomic_load(&ext->calls_taken) == 0 &&
                     atomic_load(&ext->pool_until_ms) <= loop_now(l)))
            return request_run_inline(r, l, ext);
    }
    if (l && !r->parent && !r->filt)
        conn_batch_try_send(r->conn); /* the pool's thread may not write for a while */
    request_submit(r);
    return LOOP_KEPT;
}

/* Called from extension threads: reads only what the loop does not change while the extension
 * owns the request (conn_keep_alive) and atomics. */
bool request_keep_alive_possible(request_t *r)
{
    return conn_keep_alive(r->conn) && !atomic_load(r->host->stopping) &&
           !atomic_load(&r->must_close);
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
    return unhold(&h, request_write_client(h.owner, buf, bytes, flags));
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
    bool send_body = body_len && !no_body && !is_head_method(r);
    if (r->filt)
        filter_send_response(r, h);
    h->has_content_length = true;
    h->content_length = body_len;
    char *out = NULL;
    size_t head_len;
    if (resphead_build_response(h, r->ri.http_minor, no_body ? FRAME_NONE : FRAME_LENGTH, keep,
                                r->host->software, send_body ? body : NULL, body_len, &out,
                                &head_len, len) < 0)
        return NULL;
    if (send_body)
        r->body_sent = body_len;
    r->head_sent = true;
    r->status_sent = h->status;
    return out;
}

static char *error_page(request_t *r, unsigned status, size_t *len)
{
    resphead_t h;
    resphead_init(&h);
    resphead_set_status(&h, status);
    error_body_t body; /* the --error-page for the status, or the built-in one */
    errorpage_body(r->host->error_pages, status, &body);
    char *out = NULL;
    if (resphead_add(&h, "Content-Type", body.content_type) == 0)
        out = build_response(r, &h, body.data, body.len, false, len);
    errorpage_release(&body);
    resphead_free(&h);
    return out;
}

/* What the loop still has to send and how the request ended, its access-log line written;
 * r is not freed. Loop thread, after the end was posted: no other thread can reach r any more
 * (the session is over, no operation or call is left, refs is 0), and the post ordered their
 * writes before this, so the fields under io_lock are read without it. */
static void request_finish(request_t *r, request_end_t *out)
{
    memset(out, 0, sizeof *out);
    DWORD final = r->proc_status == HSE_STATUS_PENDING ? r->done_status : r->proc_status;
    bool error = final == HSE_STATUS_ERROR;
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
            resphead_set_status(&h, st >= 200 && st <= 999 ? st : 200); /* 1xx: not final */
            out->tail = build_response(r, &h, NULL, 0, keep, &out->tail_len);
        }
        resphead_free(&h);
        if (!out->tail)
            keep = false;
    } else if (r->deferred_head ||
               (r->framing == FRAME_CHUNKED && !r->io_failed && !r->body_ended && !error)) {
        /* The held-back head, if any, then the last chunk if the body is chunked. Not after
         * HSE_STATUS_ERROR: the connection closes without it, so the client sees a truncated
         * body, not a complete one. */
        static const char last[] = "0\r\n\r\n";
        bool chunk_end = r->framing == FRAME_CHUNKED && !r->io_failed && !r->body_ended && !error;
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
    if (keep && r->framing == FRAME_PASSTHRU && !plan_passthru_ended(r)) {
        /* The client cannot tell where this body ends: the next response would be read as
         * part of it. */
        keep = false;
        static log_limiter_t lim = LOG_LIMITER_INIT;
        log_limited(&lim, LOG_WARN, "%s: %s declared Transfer-Encoding: chunked but its body "
                    "did not end as chunked framing ends (%s); closing the connection",
                    r->ri.raw_target, r->route.handler,
                    r->passthru_lost ? "malformed, a file's bytes, or bytes after the last chunk"
                                     : "no last chunk");
    }
    if (atomic_load(&r->closed_by_extension)) {
        free(out->tail);
        out->tail = NULL;
        out->tail_len = 0;
    }
    if (r->filt)
        filter_send_raw_tail(r, &out->tail, &out->tail_len);
    out->status = r->status_sent;
    out->body_bytes = r->body_sent;
    out->keep_alive = keep;

    accesslog_t *log = r->parent ? NULL : r->host->access_log; /* a child's line is its parent's */
    if (log) {
        char param[HSE_LOG_BUFFER_LEN + 1024];
        size_t n = strnlen(r->cell->ecb.lpszLogData, HSE_LOG_BUFFER_LEN);
        snprintf(param, sizeof param, "%.*s%s%s", (int)n, r->cell->ecb.lpszLogData,
                 n && r->log_param ? " " : "", r->log_param ? r->log_param : "");
        accesslog_entry_t e;
        accesslog_entry_fill(&e, &r->ri, r->ri.remote_addr, r->start_time, r->status_sent,
                             r->body_sent, param);
        if (r->filt)
            filter_request_end(r, &e);
        accesslog_write(log, &e);
    } else if (r->filt && !r->filt_borrowed) { /* a child's end is its parent's */
        filter_request_end(r, NULL);
    }
    if (r->ext && r->host->cfg->status_path)
        atomic_fetch_add_explicit(&r->ext->requests_ended, 1, memory_order_relaxed);
}

void isapi_request_end(request_t *r, request_end_t *out)
{
    request_finish(r, out);
    request_free(r);
}

handler_t isapi_handler(isapi_host_t *host)
{
    return (handler_t){
        .ctx = host,
        .request_new = isapi_request_new,
        .request_start = isapi_request_start,
        .request_discard = isapi_request_discard,
        .peer_left = parked_peer_left,
        .takes_every_route = host->filters != NULL,
        .session_end = filter_session_end,
    };
}
