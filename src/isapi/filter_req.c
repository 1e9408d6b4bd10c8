/* ISAPI filters on a request (ISAPI-FILTERS.md §2.2-2.4): the connection's session
 * (pFilterContext, AllocMem), delivering a notification, the head stage (PREPROC_HEADERS with
 * the re-route of a changed "url", URL_MAP, AUTHENTICATION, AUTH_COMPLETE), serving the routes
 * the loop would answer itself (static file, redirect, 403, 404) through the ISAPI output path
 * so that SEND_RESPONSE sees every response, and the request's end (END_OF_REQUEST, LOG).
 * Contracts: src/isapi/filter.h, src/isapi/filter_internal.h. */
#define _GNU_SOURCE
#include "filter_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash.h"
#include "errorpage.h"
#include "extension.h"
#include "log.h"
#include "path.h"
#include "static_file.h"
#include "isapi_internal.h"
#include "httputil.h"

/* ---- the connection's session ---- */

static filter_session_t *session_get(request_t *r)
{
    filter_session_t *s = conn_session(r->conn);
    if (s)
        return s;
    const filters_t *fs = r->host->filters;
    s = calloc(1, sizeof *s + fs->n * sizeof s->slots[0]);
    if (!s)
        return NULL;
    s->filters = fs;
    s->pool = r->host->pool;
    s->secure = r->ri.https;
    for (size_t i = 0; i < fs->n; i++)
        filter_slot_init(&s->slots[i], s);
    conn_set_session(r->conn, s);
    return s;
}

/* END_OF_NET_SESSION, then the session's memory (AllocMem's with it). */
static void session_finish(filter_session_t *s)
{
    if (s->filters->wanted & SF_NOTIFY_END_OF_NET_SESSION)
        (void)filter_notify(NULL, s, SF_NOTIFY_END_OF_NET_SESSION, NULL);
    while (s->mem) {
        filter_mem_t *m = s->mem;
        s->mem = m->next;
        free(m);
    }
    free(s);
}

static void session_finish_work(pool_work_t *w)
{
    session_finish((filter_session_t *)((char *)w - offsetof(filter_session_t, end_work)));
}

/* The connection is gone (conn_close: any context of the loop, a tick included, where no call
 * may block): a filter that wants END_OF_NET_SESSION gets it on the pool, where it may block;
 * nothing else uses the session any more. TerminateFilter comes after the pool has run it
 * (server_stop: pool_stop runs what was submitted). Inline only when the pool refuses (it is
 * stopping). */
void filter_session_end(conn_t *c, void *session)
{
    (void)c;
    filter_session_t *s = session;
    s->req = NULL;
    if ((s->filters->wanted & SF_NOTIFY_END_OF_NET_SESSION) && s->pool &&
        pool_submit(s->pool, &s->end_work, session_finish_work, NULL))
        return;
    session_finish(s);
}

char *filter_strdup(filter_req_t *fr, const char *str, size_t n)
{
    filter_str_t *fs = malloc(sizeof *fs + n + 1);
    if (!fs)
        return NULL;
    memcpy(fs->s, str, n);
    fs->s[n] = '\0';
    fs->next = fr->strs;
    fr->strs = fs;
    return fs->s;
}

/* ---- delivering a notification ---- */

DWORD filter_notify(request_t *r, filter_session_t *s, DWORD type, void *notification)
{
    const filters_t *fs = s->filters;
    filter_req_t *fr = r ? r->filt : NULL;
    DWORD outer = fr ? fr->current : 0;
    if (fr)
        fr->current = type;
    DWORD result = SF_STATUS_REQ_NEXT_NOTIFICATION;
    const char *target = r ? r->ri.raw_target : "(connection)";
    for (size_t k = 0; k < fs->n; k++) {
        size_t i = type == SF_NOTIFY_SEND_RAW_DATA ? fs->n - 1 - k : k;
        const filter_t *f = &fs->list[i];
        filter_slot_t *slot = &s->slots[i];
        if (!filter_wants(f, type, s->secure) || (slot->disabled & type))
            continue;
        crash_context_enter(f->path, target);
        SetLastError(0);
        DWORD st = f->proc(&slot->pfc, type, notification);
        DWORD err = GetLastError();
        crash_context_leave();
        if (st == SF_STATUS_REQ_HANDLED_NOTIFICATION)
            break; /* no lower filter sees this notification */
        if (st == SF_STATUS_REQ_FINISHED || st == SF_STATUS_REQ_FINISHED_KEEP_CONN ||
            st == SF_STATUS_REQ_ERROR) {
            if (fr && !fr->finish) {
                fr->finish = st;
                fr->error = err;
            }
            result = st;
            break;
        }
        /* NEXT_NOTIFICATION, READ_NEXT (raw reads only: as NEXT here), or an unknown value */
    }
    if (fr)
        fr->current = outer;
    return result;
}

/* ---- the head stage ---- */

/* The request's route and the strings of its URL after a filter changed "url" (raw target
 * form, query included): resolved again, as a new request would be. HTTP_URL keeps the raw
 * original (ri.raw_target). 0, or the status to answer (400: not a path). */
static unsigned reroute(request_t *r)
{
    filter_req_t *fr = r->filt;
    const char *url = fr->url;
    fr->url_changed = false;
    size_t plen = strcspn(url, "?");
    char *raw_path = filter_strdup(fr, url, plen);
    size_t cap = plen + 2;
    filter_str_t *norm = malloc(sizeof *norm + cap);
    if (!raw_path || !norm) {
        free(norm);
        return 503;
    }
    if (url[0] != '/' || path_normalize(url, plen, norm->s, cap) != PATH_OK) {
        static log_limiter_t bad = LOG_LIMITER_INIT;
        log_limited(&bad, LOG_WARN,
                    "%s: a filter set the url to \"%.200s\", which is not a "
                    "valid path: 400",
                    r->ri.raw_target, url);
        free(norm);
        return 400;
    }
    norm->next = fr->strs;
    fr->strs = norm;
    route_t route;
    route_resolve(r->host->router, norm->s, &route);
    route_free(&r->route);
    r->route = route;
    reqinfo_t *ri = &r->ri;
    ri->raw_path = raw_path;
    ri->path = norm->s;
    ri->query = url[plen] == '?' ? url + plen + 1 : "";
    ri->script_name = r->route.script_name ? r->route.script_name : "";
    ri->script_filename = r->route.script_filename ? r->route.script_filename : "";
    ri->path_info = r->route.path_info ? r->route.path_info : "";
    ri->path_translated = r->route.path_translated ? r->route.path_translated : "";
    ri->appl_physical_path = r->route.appl_physical_path ? r->route.appl_physical_path : "";
    EXTENSION_CONTROL_BLOCK *ecb = &r->cell->ecb;
    ecb->lpszQueryString = (LPSTR)ri->query;
    ecb->lpszPathInfo = (LPSTR)ri->path_info;
    ecb->lpszPathTranslated = (LPSTR)ri->path_translated;
    return 0;
}

/* URL_MAP for a static file: a filter may point the physical path elsewhere; the file served is
 * then that one, if it is a regular file below the root (else 403 / 404). 0 or a status. */
static unsigned url_map_static(request_t *r, DWORD *st)
{
    char phys[4096];
    snprintf(phys, sizeof phys, "%s", r->route.file ? r->route.file : "");
    HTTP_FILTER_URL_MAP_EX um = {.pszURL = r->ri.path,
                                 .pszPhysicalPath = phys,
                                 .cbPathBuff = sizeof phys,
                                 .dwFlags = HSE_URL_FLAGS_READ};
    *st = filter_notify(r, r->filt->s, SF_NOTIFY_URL_MAP, &um);
    phys[sizeof phys - 1] = '\0';
    if (*st != SF_STATUS_REQ_NEXT_NOTIFICATION || !r->route.file ||
        strcmp(phys, r->route.file) == 0)
        return 0;
    /* The router's rules for any static file: the real path below the root's, no dot segment,
     * not code the server runs; opened without following a last symlink. */
    char *real = realpath(phys, NULL);
    if (!real)
        return errno == ENOENT || errno == ENOTDIR ? 404 : 403;
    char root[PATH_MAX];
    bool inside = route_root_real(r->host->router, root, sizeof root) &&
                  route_contained(real, root) && !route_is_server_code(r->host->router, real);
    int fd = inside ? open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW) : -1;
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        static log_limiter_t refused = LOG_LIMITER_INIT;
        log_limited(&refused, LOG_WARN, "%s: a filter mapped the URL to %s, %s: 403",
                    r->ri.raw_target, phys,
                    inside ? "not a readable regular file"
                           : "which is not a file below the document root");
        if (fd >= 0)
            close(fd);
        free(real);
        return 403;
    }
    if (r->route.fd >= 0)
        close(r->route.fd);
    r->route.fd = fd;
    r->route.st = sb;
    route_replace_file(&r->route, real); /* the route's now */
    return 0;
}

void filter_url_map(request_t *r, const char *url, char *path, size_t cap, DWORD flags)
{
    if (!(r->filt->s->filters->wanted & SF_NOTIFY_URL_MAP))
        return;
    HTTP_FILTER_URL_MAP_EX um = {
        .pszURL = url, .pszPhysicalPath = path, .cbPathBuff = (DWORD)cap, .dwFlags = flags};
    (void)filter_notify(r, r->filt->s, SF_NOTIFY_URL_MAP, &um);
    path[cap - 1] = '\0';
}

/* Basic credentials of the Authorization header into the AUTHENT buffers (empty: anonymous). */
static void decode_basic(request_t *r)
{
    filter_req_t *fr = r->filt;
    const http_header_t *h = reqinfo_header(&r->ri, "Authorization");
    if (!h || http_ascii_ncasecmp(h->value, "Basic ", 6) != 0)
        return;
    const char *p = h->value + 6;
    while (*p == ' ')
        p++;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[SF_MAX_USERNAME + SF_MAX_PASSWORD];
    size_t n = 0;
    unsigned acc = 0, bits = 0;
    for (; *p && *p != '='; p++) {
        const char *c = strchr(b64, *p);
        if (!c || !*c)
            return; /* not base64: anonymous */
        acc = (acc << 6) | (unsigned)(c - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= sizeof out)
                return;
            out[n++] = (char)((acc >> bits) & 0xFF);
        }
    }
    out[n] = '\0';
    char *colon = memchr(out, ':', n);
    if (!colon || memchr(out, '\0', n))
        return;
    *colon = '\0';
    if (strlen(out) >= sizeof fr->user || strlen(colon + 1) >= sizeof fr->password)
        return;
    strcpy(fr->user, out);
    strcpy(fr->password, colon + 1);
    strcpy(fr->auth_type, "Basic");
}

static BOOL WINAPI get_user_token(PHTTP_FILTER_CONTEXT pfc, HANDLE *token)
{
    (void)pfc;
    if (!token)
        return fail(ERROR_INVALID_PARAMETER);
    *token = NULL;
    return fail(ERROR_NOT_SUPPORTED); /* no Windows accounts here */
}

/* The notifications before the handler; 0 when the request goes on to its route, else the status
 * to answer with (0 with fr->finish set: a filter answered). */
static unsigned head_stage(request_t *r)
{
    filter_req_t *fr = r->filt;
    filter_session_t *s = fr->s;
    DWORD wanted = s->filters->wanted;
    DWORD st;
    unsigned status;
    filter_read_raw_head(r);
    if (fr->finish)
        return 0;
    if (wanted & SF_NOTIFY_PREPROC_HEADERS) {
        HTTP_FILTER_PREPROC_HEADERS ph = {.GetHeader = filter_get_header,
                                          .SetHeader = filter_set_header,
                                          .AddHeader = filter_add_header};
        if (filter_notify(r, s, SF_NOTIFY_PREPROC_HEADERS, &ph) != SF_STATUS_REQ_NEXT_NOTIFICATION)
            return 0;
        if (fr->url_changed && (status = reroute(r)))
            return status;
    }
    if ((wanted & SF_NOTIFY_URL_MAP) && r->route.kind == ROUTE_STATIC) {
        if ((status = url_map_static(r, &st)) || st != SF_STATUS_REQ_NEXT_NOTIFICATION)
            return status;
    } else if ((wanted & SF_NOTIFY_URL_MAP) && r->route.kind == ROUTE_EXTENSION) {
        /* The extension's file: shown, not changeable (the route is loaded by its path). */
        char phys[4096];
        snprintf(phys, sizeof phys, "%s", r->route.script_filename ? r->route.script_filename : "");
        HTTP_FILTER_URL_MAP_EX um = {.pszURL = r->ri.path,
                                     .pszPhysicalPath = phys,
                                     .cbPathBuff = sizeof phys,
                                     .dwFlags = HSE_URL_FLAGS_READ | HSE_URL_FLAGS_EXECUTE |
                                                HSE_URL_FLAGS_SCRIPT,
                                     .cchMatchingURL = (DWORD)strlen(r->ri.script_name)};
        if (filter_notify(r, s, SF_NOTIFY_URL_MAP, &um) != SF_STATUS_REQ_NEXT_NOTIFICATION)
            return 0;
    }
    decode_basic(r);
    if (wanted & SF_NOTIFY_AUTHENTICATION) {
        HTTP_FILTER_AUTHENT au = {.pszUser = fr->user,
                                  .cbUserBuff = sizeof fr->user,
                                  .pszPassword = fr->password,
                                  .cbPasswordBuff = sizeof fr->password};
        if (filter_notify(r, s, SF_NOTIFY_AUTHENTICATION, &au) != SF_STATUS_REQ_NEXT_NOTIFICATION)
            return 0;
        fr->user[sizeof fr->user - 1] = fr->password[sizeof fr->password - 1] = '\0';
        if (fr->user[0] && !fr->auth_type[0])
            strcpy(fr->auth_type, "Basic");
        if (!fr->user[0])
            fr->auth_type[0] = fr->password[0] = '\0';
    }
    if (wanted & SF_NOTIFY_AUTH_COMPLETE) {
        HTTP_FILTER_AUTH_COMPLETE_INFO ac = {.GetHeader = filter_get_header,
                                             .SetHeader = filter_set_header,
                                             .AddHeader = filter_add_header,
                                             .GetUserToken = get_user_token,
                                             .HttpStatus = 200};
        if (filter_notify(r, s, SF_NOTIFY_AUTH_COMPLETE, &ac) != SF_STATUS_REQ_NEXT_NOTIFICATION)
            return 0;
        if (fr->url_changed && (status = reroute(r)))
            return status;
    }
    return 0;
}

/* SF_STATUS_REQ_ERROR: the response from the filter's last error (a small table; docs/isapi.md). */
static unsigned status_of_error(DWORD err)
{
    switch (err) {
    case ERROR_ACCESS_DENIED:
        return 401;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
        return 404;
    case ERROR_INVALID_PARAMETER:
        return 400;
    case ERROR_NOT_SUPPORTED:
        return 501;
    case ERROR_NOT_ENOUGH_MEMORY:
        return 503;
    default:
        return 500;
    }
}

/* ---- serving the loop's routes through the ISAPI output path ---- */

typedef struct builtin_args {
    resphead_t *h;
    int fd; /* a file to send, or -1 */
    uint64_t off, len;
    const char *body; /* or memory */
    size_t body_len;
} builtin_args_t;

static BOOL builtin_build(request_t *r, void *arg)
{
    builtin_args_t *a = arg;
    char *head = NULL;
    size_t head_len = 0;
    uint64_t len = a->fd >= 0 ? a->len : a->body_len;
    if (!prepare_head(r, a->h, len, true, &head, &head_len))
        return FALSE;
    if (a->fd < 0 && a->body_len) { /* the plan owns its memory: the body goes behind the head */
        char *both = realloc(head, head_len + a->body_len);
        if (!both) {
            free(head);
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        }
        head = both;
        memcpy(head + head_len, a->body, a->body_len);
    }
    piece_t pc = a->fd >= 0 ? (piece_t){.mem = NULL, .fd = a->fd, .off = a->off, .len = a->len}
                            : (piece_t){.mem = head + head_len, .fd = -1, .len = a->body_len};
    if (!plan_build(r, &r->op.mem->plan, head, head_len, &pc, len ? 1 : 0, true))
        return FALSE;
    r->op.mem->plan.owned_fd = a->fd; /* closed with the plan */
    r->op.mem->io.shut_after = false;
    r->op.report_bytes = (DWORD)len;
    return TRUE;
}

/* The response h (+ file or memory body) as the request's one operation; the session is over
 * with it. On failure the descriptor is closed and the end builds a 500. */
static void serve_builtin(request_t *r, resphead_t *h, int fd, uint64_t off, uint64_t len,
                          const char *body, size_t body_len)
{
    static const op_builder_t builder = {.build = builtin_build, .whole_response = true};
    builtin_args_t a = {
        .h = h, .fd = fd, .off = off, .len = len, .body = body, .body_len = body_len};
    if (!op_issue(r, OP_SENDURL, NULL, NULL, &builder, &a)) {
        if (fd >= 0)
            close(fd);
        session_returned(r, HSE_STATUS_ERROR);
        return;
    }
    session_returned(r, HSE_STATUS_SUCCESS);
}

/* The server's error page for status (a --error-page page, else the built-in one:
 * src/http/errorpage.h), with extra header lines. */
static void serve_error(request_t *r, unsigned status, const char *lines, size_t lines_len)
{
    resphead_t h;
    resphead_init(&h);
    resphead_set_status(&h, status);
    error_body_t body;
    errorpage_body(r->host->error_pages, status, &body);
    bool ok = resphead_add(&h, "Content-Type", body.content_type) == 0 &&
              filter_resp_add_lines(&h, lines, lines_len);
    if (ok) /* the plan copies the body */
        serve_builtin(r, &h, -1, 0, 0, body.data, body.len);
    else
        session_returned(r, HSE_STATUS_ERROR);
    errorpage_release(&body);
    resphead_free(&h);
}

static void serve_static(request_t *r)
{
    static_response_t sr;
    static_file_respond_route(r->host->mime, &r->ri, &r->route, &sr);
    if (sr.status >= 400 && sr.status != 416) {
        if (sr.fd >= 0)
            close(sr.fd);
        /* 405 keeps its Allow line */
        serve_error(r, sr.status, sr.headers, sr.status == 405 ? sr.headers_len : 0);
        return;
    }
    resphead_t h;
    resphead_init(&h);
    resphead_set_status(&h, sr.status);
    if (!filter_resp_add_lines(&h, sr.headers, sr.headers_len)) {
        if (sr.fd >= 0)
            close(sr.fd);
        resphead_free(&h);
        session_returned(r, HSE_STATUS_ERROR);
        return;
    }
    if (sr.fd >= 0 && sr.has_body_length && !is_head_method(r)) {
        serve_builtin(r, &h, sr.fd, sr.offset, sr.length, NULL, 0);
    } else {
        if (sr.fd >= 0)
            close(sr.fd);
        if (sr.has_body_length) { /* HEAD, or a 416: the length, no body */
            h.has_content_length = true;
            h.content_length = sr.length;
        }
        serve_builtin(r, &h, -1, 0, 0, NULL, 0);
    }
    resphead_free(&h);
}

static void serve_redirect(request_t *r)
{
    size_t n = strlen(r->route.location) + strlen(r->ri.query) + 32;
    char *lines = malloc(n);
    if (!lines) {
        session_returned(r, HSE_STATUS_ERROR);
        return;
    }
    int m = snprintf(lines, n, "Location: %s%s%s\r\n", r->route.location, r->ri.query[0] ? "?" : "",
                     r->ri.query);
    resphead_t h;
    resphead_init(&h);
    resphead_set_status(&h, 301);
    if (filter_resp_add_lines(&h, lines, (size_t)m))
        serve_builtin(r, &h, -1, 0, 0, NULL, 0);
    else
        session_returned(r, HSE_STATUS_ERROR);
    resphead_free(&h);
    free(lines);
}

/* After the head stage: a filter's answer, an error, or the route. */
static loop_kept_t serve(request_t *r, unsigned status)
{
    filter_req_t *fr = r->filt;
    if (fr->finish == SF_STATUS_REQ_ERROR) {
        status = status_of_error(fr->error);
        fr->denied = SF_DENIED_FILTER;
        fr->finish = 0;
    }
    if (fr->finish) { /* FINISHED / FINISHED_KEEP_CONN: the filter answered */
        pthread_mutex_lock(&r->io_lock);
        bool wrote = r->head_sent;
        pthread_mutex_unlock(&r->io_lock);
        if (!wrote || fr->finish == SF_STATUS_REQ_FINISHED)
            atomic_store(&r->must_close, true);
        if (!wrote) /* nothing to send: the connection just closes */
            atomic_store(&r->closed_by_extension, true);
        session_returned(r, HSE_STATUS_SUCCESS);
        return LOOP_KEPT;
    }
    if (status) {
        serve_error(r, status, NULL, 0);
        return LOOP_KEPT;
    }
    switch (r->route.kind) {
    case ROUTE_EXTENSION:
        return request_dispatch(r);
    case ROUTE_STATIC:
        serve_static(r);
        break;
    case ROUTE_REDIRECT:
        serve_redirect(r);
        break;
    case ROUTE_FORBIDDEN:
        fr->denied = SF_DENIED_RESOURCE | SF_DENIED_BY_CONFIG; /* the router's rules */
        serve_error(r, 403, NULL, 0);
        break;
    default:
        serve_error(r, 404, NULL, 0);
        break;
    }
    return LOOP_KEPT;
}

/* The head stage on this thread; on the loop's thread it is a guarded call (a filter that blocks
 * has the loop handed to a helper, src/core/handoff.h) and the route is served from here on as
 * a worker would when the loop was lost. */
#define FILTERS_POOL_AFTER_HANDOFF_MS 1000

static loop_kept_t filter_run(request_t *r, loop_t *l)
{
    uint64_t call = l ? loop_call_begin(l, NULL) : 0;
    unsigned status = head_stage(r);
    loop_kept_t kept = l ? loop_call_end(l, call) : LOOP_KEPT;
    if (kept == LOOP_LOST) {
        if (!atomic_exchange(&r->host->filters->handoff_logged, true))
            log_info("a filter's call ran past --handoff-after on an event loop's thread; the "
                     "loop went on on a helper thread, and the filters' head stage runs on the "
                     "worker pool until a second after such a call (logged once)");
        atomic_store(&r->host->filters->pool_until_ms,
                     clock_now_ms() + FILTERS_POOL_AFTER_HANDOFF_MS);
    }
    loop_kept_t served = serve(r, status);
    return kept == LOOP_LOST ? LOOP_LOST : served;
}

static void filter_run_work(pool_work_t *w)
{
    request_t *r = (request_t *)((char *)w - offsetof(request_t, work));
    (void)filter_run(r, NULL);
}

/* Rapid-fail protection (src/master.h) disabled a filter that kept crashing its workers: no
 * request is served without it (a filter may be what guards the site), so every one answers
 * 503 until a reload (or a change of its file: extensions_disabled; the copy loaded stays). */
static const filter_t *filter_disabled(request_t *r)
{
    const filters_t *fs = r->host->filters;
    for (size_t i = 0; i < fs->n; i++)
        if (extensions_disabled(r->host->extensions, fs->list[i].path))
            return &fs->list[i];
    return NULL;
}

loop_kept_t filter_request_start(request_t *r)
{
    const filter_t *off = filter_disabled(r);
    if (off) {
        static log_limiter_t disabled = LOG_LIMITER_INIT;
        log_limited(&disabled, LOG_WARN,
                    "503 for %s: filter %s is disabled by rapid-fail "
                    "protection (it crashed %u times within %u s); every request answers 503 "
                    "until the server is reloaded (SIGHUP)",
                    r->ri.raw_target, off->path, r->host->cfg->rapid_fail_crashes,
                    (unsigned)(r->host->cfg->rapid_fail_window_ms / 1000));
        r->refused = true;
        session_returned(r, HSE_STATUS_ERROR);
        return LOOP_KEPT;
    }
    filter_req_t *fr = calloc(1, sizeof *fr);
    filter_session_t *s = fr ? session_get(r) : NULL;
    if (!s) {
        free(fr);
        r->refused = true; /* 503 */
        session_returned(r, HSE_STATUS_ERROR);
        return LOOP_KEPT;
    }
    fr->s = s;
    fr->start_ms = clock_now_ms();
    fr->url = r->ri.raw_target;
    r->filt = fr;
    s->req = r;
    for (size_t i = 0; i < s->filters->n; i++)
        s->slots[i].disabled = 0;
    loop_t *l = loop_current();
    if (l && r->host->cfg->extensions_inline && !loop_in_tick(l) &&
        atomic_load(&r->host->filters->pool_until_ms) <= loop_now(l))
        return filter_run(r, l);
    /* a tick (a pipelined request) must not lose the loop, and a filter that blocked recently
     * is likely to block again: the pool runs it */
    if (!pool_submit(r->host->pool, &r->work, filter_run_work, NULL)) {
        r->refused = true;
        session_returned(r, HSE_STATUS_ERROR);
    }
    return LOOP_KEPT;
}

/* ---- the end ---- */

void filter_request_end(request_t *r, accesslog_entry_t *log)
{
    filter_req_t *fr = r->filt;
    filter_session_t *s = fr->s;
    DWORD wanted = s->filters->wanted;
    if (wanted & SF_NOTIFY_END_OF_REQUEST)
        (void)filter_notify(r, s, SF_NOTIFY_END_OF_REQUEST, NULL);
    if (log && fr->user[0])
        log->user = fr->user; /* the access log's user: what the filters left */
    if (log && (wanted & SF_NOTIFY_LOG)) {
        /* Copies the filters may not write to, which live until the line is written (the
         * request's strings: freed with it, after accesslog_write). */
        const char *op = filter_strdup(fr, r->ri.method, strlen(r->ri.method));
        const char *target = filter_strdup(fr, r->ri.raw_path, strlen(r->ri.raw_path));
        if (!op || !target)
            return;
        HTTP_FILTER_LOG fl = {
            .pszClientHostName = log->remote_addr,
            .pszClientUserName = log->user ? log->user : "",
            .pszServerName = r->ri.server_name,
            .pszOperation = op,
            .pszTarget = target,
            .pszParameters = r->ri.query,
            .dwHttpStatus = log->status,
            .dwBytesSent = (DWORD)log->body_bytes,
            .dwBytesRecvd = (DWORD)(r->ri.has_content_length ? r->ri.content_length : 0),
            .msTimeForProcessing = (DWORD)(clock_now_ms() - fr->start_ms)};
        (void)filter_notify(r, s, SF_NOTIFY_LOG, &fl);
        /* The pointers the filters left (valid until the next notification: the line is
         * written before it). */
        log->remote_addr = fl.pszClientHostName;
        log->user = fl.pszClientUserName;
        log->method = fl.pszOperation;
        log->target = fl.pszTarget;
        if (fl.pszParameters && fl.pszParameters[0]) {
            char *t = NULL;
            if (asprintf(&t, "%s?%s", fl.pszTarget ? fl.pszTarget : "", fl.pszParameters) >= 0) {
                log->target = filter_strdup(fr, t, strlen(t));
                free(t);
            }
        }
        log->status = fl.dwHttpStatus;
    }
}

void filter_request_free(request_t *r)
{
    filter_req_t *fr = r->filt;
    if (fr->s->req == r)
        fr->s->req = NULL;
    for (size_t i = 0; i < fr->s->filters->n; i++)
        fr->s->slots[i].disabled = 0; /* DISABLE_NOTIFICATIONS lasted for the request */
    while (fr->strs) {
        filter_str_t *n = fr->strs;
        fr->strs = n->next;
        free(n);
    }
    free(fr->headers);
    free(fr->resp_add);
    free(fr->denial_add);
    free(fr);
    r->filt = NULL;
}
