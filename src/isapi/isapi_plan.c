/* ISAPI response composition (split out of src/isapi/isapi.c; no change in behaviour).
 * Holds: the output plan of every write (WriteClient, TransmitFile, vector send, send-URL) —
 * prepare_head / plan_build frame the response and build its head, plan_send_sync and
 * plan_write send or buffer it, request_deferred_flush sends what a buffered response held back.
 * Invariants: everything here runs under the request's io_lock; a plan owns the head buffer
 * and the pieces it was built with until plan_free releases them.
 * Ownership: the request_t is owned by src/isapi/isapi.c's lifecycle; nothing here frees it. */
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
/* Response composition (under io_lock). Every write — synchronous or not, WriteClient,
 * TransmitFile, vector send, send-URL — becomes a plan: the head if this write carries it, then
 * the extension's pieces with the response's framing. */

/* The head each thread built last (resphead.h): per thread, so no lock; each thread that
 * sends heads mostly sends the same few. A head held back inside HttpExtensionProc may stay
 * in it (prepare_head_held) until the write that carries it is sent on that thread. */
static _Thread_local resphead_build_memo_t head_memo;

void plan_init(out_plan_t *p)
{
    p->segs = NULL;
    p->n = 0;
    p->head = NULL;
    p->head_held = NULL;
    p->owned_fd = -1;
    p->filtered = NULL;
}

void plan_free(out_plan_t *p)
{
    if (p->segs != p->inline_segs)
        free(p->segs);
    if (p->head_held) /* sent: the memo may build over it */
        atomic_store_explicit(p->head_held, false, memory_order_release);
    else
        free(p->head);
    if (p->filtered) /* only with a SEND_RAW_DATA filter: no call otherwise */
        free(p->filtered);
    if (p->owned_fd >= 0)
        close(p->owned_fd);
    plan_init(p);
}

BOOL deferred_head_own(request_t *r)
{
    atomic_bool *held = atomic_load(&r->deferred_held);
    if (!held)
        return TRUE;
    char *copy = malloc(r->deferred_len + 1);
    if (copy)
        memcpy(copy, r->deferred_head, r->deferred_len + 1);
    atomic_store_explicit(held, false, memory_order_release); /* after the copy */
    atomic_store(&r->deferred_held, NULL);
    r->deferred_head = copy;
    if (!copy) {
        r->deferred_len = 0;
        r->io_failed = true;
        atomic_store(&r->must_close, true);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    return TRUE;
}

static BOOL prepare_head_in(request_t *r, resphead_t *h, uint64_t tag, uint64_t final_length,
                            bool final, char **head, size_t *head_len, atomic_bool **held);

/* Decide the framing for h and build the head into *head. */
BOOL prepare_head(request_t *r, resphead_t *h, uint64_t final_length, bool final,
                  char **head, size_t *head_len)
{
    return prepare_head_in(r, h, 0, final_length, final, head, head_len, NULL);
}

BOOL prepare_head_tagged(request_t *r, resphead_t *h, uint64_t tag, char **head,
                         size_t *head_len, atomic_bool **held)
{
    if (held)
        *held = NULL;
    return prepare_head_in(r, h, tag, 0, false, head, head_len, held);
}

/* held non-NULL: the head may be left in this thread's memo, *held then the flag that holds it
 * (set here). tag: resphead_build_memo's. */
static BOOL prepare_head_in(request_t *r, resphead_t *h, uint64_t tag, uint64_t final_length,
                            bool final, char **head, size_t *head_len, atomic_bool **held)
{
    unsigned st = h->status;
    /* A 1xx is interim: sent as the only response, it would make the client take the next
     * request's response for this one's. */
    if (st < 200)
        return fail(ERROR_INVALID_PARAMETER);
    if (r->child_no_headers) {
        /* HSE_EXEC_URL_NO_HEADERS: the parent's head and framing are the response's (copied
         * into this child when it was made); this head is dropped, its status remembered. */
        r->head_sent = true;
        r->status_sent = st;
        r->cell->ecb.dwHttpStatusCode = st;
        *head = NULL;
        *head_len = 0;
        return TRUE;
    }
    if (r->filt) { /* SEND_RESPONSE: the filters may change the head (src/isapi/filter_cb.c) */
        filter_send_response(r, h);
        st = h->status;
    }
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
        chunked_init(&r->passthru);
        r->passthru_lost = false;
    } else if (r->ri.http_minor >= 1) {
        r->framing = FRAME_CHUNKED;
    } else {
        r->framing = FRAME_CLOSE;
        atomic_store(&r->must_close, true);
    }
    if (h->conn_close)
        atomic_store(&r->must_close, true);
    bool keep = request_keep_alive_possible(r);
    if (held) {
        int in_place = resphead_build_memo_in_place(&head_memo, h, tag, r->ri.http_minor,
                                                    r->framing, keep, r->host->software, head,
                                                    head_len);
        if (in_place < 0)
            return fail(ERROR_NOT_ENOUGH_MEMORY);
        if (in_place == 0) {
            atomic_store_explicit(&head_memo.held, true, memory_order_relaxed); /* this thread's */
            *held = &head_memo.held;
        }
    } else if (resphead_build_memo(&head_memo, h, tag, r->ri.http_minor, r->framing, keep,
                                   r->host->software, head, head_len) < 0) {
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    r->head_sent = true;
    r->status_sent = st;
    r->cell->ecb.dwHttpStatusCode = st;
    return TRUE;
}

/* The plan past the SEND_RAW_DATA filters, if any. A failure frees it: every caller of plan_build
 * owns a plan only when it returns TRUE. */
static BOOL plan_filtered(request_t *r, out_plan_t *p)
{
    if (!r->filt || filter_send_raw_plan(r, p))
        return TRUE;
    plan_free(p);
    return FALSE;
}

/* FRAME_PASSTHRU: follows the extension's framing over the pieces it sends now (under io_lock)
 * and returns how many of their bytes go out. Bytes after the last chunk are not sent: the
 * client would read them as the next response (the connection closes after the response, as
 * past a Content-Length). Malformed framing or a file's bytes (not read here) go out whole: the
 * body runs to the close. */
static uint64_t passthru_follow(request_t *r, const piece_t *pieces, size_t n, uint64_t total)
{
    uint64_t framed = 0; /* bytes of the pieces the framing has taken so far */
    for (size_t i = 0; i < n; i++) {
        const char *at = pieces[i].mem;
        for (uint64_t left = pieces[i].len; left > 0;) {
            if (chunked_finished(&r->passthru)) { /* after the last chunk: cut here */
                r->passthru_lost = true;
                return framed;
            }
            size_t used = 0, produced;
            chunked_status_t st = CHUNKED_ERROR; /* malformed before, or a file's bytes */
            if (!r->passthru_lost && at)
                st = chunked_decode(&r->passthru, at, (size_t)left, NULL, SIZE_MAX, &used,
                                    &produced);
            if (st == CHUNKED_ERROR || used == 0) { /* the body runs to the close */
                r->passthru_lost = true;
                return total;
            }
            at += used;
            left -= used;
            framed += used;
        }
    }
    return framed;
}

bool plan_passthru_ended(const request_t *r)
{
    return !r->passthru_lost && chunked_finished(&r->passthru);
}

/* Build the plan: head (taken over, may be NULL), then the pieces framed. `final`: nothing
 * follows (HSE_IO_FINAL_SEND, HSE_IO_DISCONNECT_AFTER_SEND): a chunked body is ended here. */
BOOL plan_build(request_t *r, out_plan_t *p, char *head, size_t head_len,
                const piece_t *pieces, size_t n, bool final)
{
    plan_init(p);
    /* At most a head, a chunk line, the pieces and a tail. */
    if (n + 3 <= OUT_PLAN_INLINE_SEGS) {
        p->segs = p->inline_segs;
    } else if (!(p->segs = malloc((n + 3) * sizeof *p->segs))) {
        free(head);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    if (!head && r->deferred_head) { /* the held-back head leaves with this write */
        /* One in the memo of the thread in HttpExtensionProc goes as it is when this thread
         * is that one and the plan is not an operation's: a plan on the stack is sent, and
         * freed, before the call that built it returns. Else it is copied first. */
        atomic_bool *held = atomic_load(&r->deferred_held);
        if (held && ((r->op.mem && p == &r->op.mem->plan) || !atomic_load(&r->in_proc) ||
                     !pthread_equal(r->proc_thread, pthread_self()))) {
            if (!deferred_head_own(r)) {
                plan_free(p);
                return FALSE;
            }
            held = NULL;
        }
        head = r->deferred_head;
        head_len = r->deferred_len;
        p->head_held = held;
        atomic_store(&r->deferred_held, NULL);
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
        if (is_head_method(r)) { /* a HEAD's body never goes out: no length to overrun */
            sendable = 0;
            break;
        }
        if (r->body_sent >= r->declared_length)
            sendable = 0;
        else if (total > r->declared_length - r->body_sent)
            sendable = r->declared_length - r->body_sent;
        if (sendable < total) /* beyond Content-Length: would read as the next response */
            atomic_store(&r->must_close, true);
        break;
    case FRAME_PASSTHRU:
        if (sendable)
            sendable = passthru_follow(r, pieces, n, total);
        break;
    case FRAME_CHUNKED:
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
        return plan_filtered(r, p);
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
    return plan_filtered(r, p);
}

/* plan_build of one memory piece the plan must own: body_len bytes of body copied behind head
 * (taken over; NULL: the held-back head, if any, or none), in one buffer. */
BOOL plan_build_copy(request_t *r, out_plan_t *p, char *head, size_t head_len, const char *body,
                     size_t body_len, bool final)
{
    if (!head && r->deferred_head) { /* it must leave first, in the buffer the body joins */
        if (!deferred_head_own(r))
            return FALSE;
        head = r->deferred_head;
        head_len = r->deferred_len;
        r->deferred_head = NULL;
        r->deferred_len = 0;
    }
    char *both = realloc(head, head_len + body_len + 1);
    if (!both) {
        free(head);
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    if (body_len)
        memcpy(both + head_len, body, body_len);
    piece_t pc = {.mem = both + head_len, .fd = -1, .len = body_len};
    return plan_build(r, p, both, head_len, &pc, body_len ? 1 : 0, final);
}

/* Send a plan on the calling thread, behind the responses the connection's batch holds (an
 * empty plan sends just those). Frees it. */
BOOL plan_send_sync(request_t *r, out_plan_t *p)
{
    out_chain_t ch;
    out_chain_init(&ch, p->segs, p->n);
    int rc = 0;
    if (p->n || conn_batch_pending(r->conn)) {
        if (parked_socket_enter(r)) {
            rc = conn_send_blocking(r->conn, &ch);
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
                                                          : isapi_win32_error_from_socket_errno(rc));
    }
    return TRUE;
}

BOOL plan_send_batch(request_t *r)
{
    out_plan_t p;
    plan_init(&p);
    return plan_send_sync(r, &p);
}

/* An extension call (HttpExtensionProc returning PENDING, a completion callback) is over: a
 * head HttpExtensionProc held back goes out now, so a client of a long-running session sees it
 * promptly, and so do the responses to earlier pipelined requests the connection's batch
 * holds (src/http/conn_batch.c). (Heads sent from other threads are never held:
 * send_response_header.) */
void request_deferred_flush(request_t *r)
{
    pthread_mutex_lock(&r->io_lock);
    if ((r->deferred_head || conn_batch_pending(r->conn)) && !r->io_failed) {
        out_plan_t p;
        if (plan_build(r, &p, NULL, 0, NULL, 0, false))
            plan_send_sync(r, &p);
    }
    pthread_mutex_unlock(&r->io_lock);
}

int head_from_bytes(resphead_t *h, const char *d, size_t n)
{
    int raw = resphead_parse_raw(h, d, n);
    if (raw == 1)
        return 1;
    if (raw != 0) {
        resphead_free(h);
        resphead_init(h);
        if (!resphead_looks_like_headers(d, n) || resphead_parse_lines(h, d, n) < 0) {
            resphead_free(h);
            resphead_init(h);
            h->consumed = 0;
        }
    }
    return 0;
}

/* Plan for bytes an extension writes. When no head was sent, the first bytes decide it
 * (§7.4-7.5): a raw head ("HTTP/1.1 200 OK\r\n...", possibly written over several calls, kept in
 * r->pending until its empty line arrives), header lines ended by an empty line (the FoxISAPI
 * style), or plain body behind a default head. *buffered: the bytes were kept, nothing to send. */
BOOL plan_write(request_t *r, const char *buf, size_t len, out_plan_t *p, bool *buffered)
{
    *buffered = false;
    if (r->head_sent) {
        piece_t pc = {.mem = buf, .fd = -1, .len = len};
        return plan_build(r, p, NULL, 0, &pc, len ? 1 : 0, false);
    }
    if (len == 0 && !r->pending) {
        plan_init(p);
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
    int raw = head_from_bytes(&h, d, n);
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
        plan_init(p);
        return TRUE;
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
