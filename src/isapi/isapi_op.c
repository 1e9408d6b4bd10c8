/* ISAPI asynchronous operations and the ECB's I/O callbacks (split out of src/isapi/isapi.c; no
 * change in behaviour). Holds: the single operation slot of a request (op_claim / op_unclaim /
 * op_launch, started on any thread, driven by the connection's loop in isapi_op_drive, completed
 * on the pool), and the callback bodies GetServerVariable, WriteClient and ReadClient behind the
 * ConnID check (the cb_* wrappers stay in src/isapi/isapi.c).
 * Invariants: at most one operation in flight per request (op_busy); its completion runs once,
 * on the pool; the end of the request is posted through finish_due_locked / post_end only.
 * Ownership: the request_t and its plan are owned by src/isapi/isapi.c's lifecycle. */
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

/* ------------------------------------------------------------------------------------------ */
/* Asynchronous operations. Started on any thread, driven by the connection's loop, completed on
 * the pool. */

static bool op_is_write(op_kind_t k) { return k == OP_WRITE || k == OP_TRANSMIT || k == OP_VECTOR || k == OP_SENDURL; }

/* Whether an operation is outstanding (checked first, so that "busy" wins over other errors). */
bool op_busy(request_t *r)
{
    pthread_mutex_lock(&r->lock);
    bool busy = r->op.kind != OP_NONE;
    pthread_mutex_unlock(&r->lock);
    return busy;
}

/* Reserve the operation slot. 0, or a Win32 error. */
DWORD op_claim(request_t *r, op_kind_t kind, PFN_HSE_IO_COMPLETION fn, PVOID ctx)
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
void op_unclaim(request_t *r)
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
    int rc = out_chain_send(c->watch.fd, &r->op.cur);
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
    out_chain_init(&r->op.cur, r->op.plan.segs, r->op.plan.n);
    isapi_op_drive(r);
}

/* The operation is claimed and prepared: hand it to the loop. */
void op_launch(request_t *r)
{
    loop_post(r->conn->nl->loop, &r->op_task, op_start_task);
}

/* CLOSE_CONNECTION: the loop re-drives a pending operation so that it fails now. */
void kick_task(loop_task_t *t)
{
    request_t *r = (request_t *)((char *)t - offsetof(request_t, kick_task));
    pthread_mutex_lock(&r->lock);
    r->kick_posted = false;
    pthread_mutex_unlock(&r->lock);
    isapi_op_drive(r);
}

/* ------------------------------------------------------------------------------------------ */
/* The four ECB callbacks, behind the ConnID check (cb_* below) */

BOOL get_server_variable(request_t *r, LPSTR name, LPVOID buf, LPDWORD size)
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

PFN_HSE_IO_COMPLETION registered_callback(request_t *r, PVOID *ctx)
{
    pthread_mutex_lock(&r->lock);
    PFN_HSE_IO_COMPLETION fn = r->io_fn;
    *ctx = r->io_ctx;
    pthread_mutex_unlock(&r->lock);
    return fn;
}

/* A write-type operation outstanding: a synchronous write now would interleave with it. */
bool async_write_outstanding(request_t *r)
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

BOOL write_client(request_t *r, LPVOID buf, LPDWORD bytes, DWORD flags)
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

BOOL read_client(request_t *r, LPVOID buf, LPDWORD size)
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
                                                        : isapi_win32_error_from_socket_errno((int)n));
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
