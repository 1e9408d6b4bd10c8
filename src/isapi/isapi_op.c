/* ISAPI asynchronous operations and the ECB's I/O callbacks (split out of src/isapi/isapi.c; no
 * change in behaviour). Holds: the single operation slot of a request (op_claim / op_unclaim /
 * op_launch, started on any thread, driven by the connection's loop (src/http/conn_async.h) or,
 * for a read whose bytes are there, done by the thread that starts it; completed on the pool), and the callback bodies GetServerVariable, WriteClient and ReadClient
 * behind the ConnID check (the cb_* wrappers stay in src/isapi/isapi.c).
 * Invariants: at most one operation in flight per request (op_busy); its completion runs once,
 * on the pool; the operation, then its callback, holds a reference on the request (refs), and
 * the end of the request is posted through request_unref_locked / request_post_end only.
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
#include "filter_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Asynchronous operations. Started on any thread, driven by the connection's loop, completed on
 * the pool. */

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
    if (r->refs == 0) /* the end is due: a call from another thread, in flight since before it */
        err = ERROR_INVALID_PARAMETER;
    else if (r->op.kind != OP_NONE || (kind == OP_READ && r->sync_reading))
        err = ERROR_BUSY;
    else if (atomic_load(&r->closed_by_extension))
        err = ERROR_NETNAME_DELETED;
    else if (!r->op.mem && !(r->op.mem = calloc(1, sizeof *r->op.mem)))
        err = ERROR_NOT_ENOUGH_MEMORY;
    else {
        if (!r->op.mem->owner) { /* just taken */
            r->op.mem->owner = r;
            plan_init(&r->op.mem->plan);
        }
        r->op.kind = kind;
        r->cancel_wanted = false; /* a CANCEL_IO was for an earlier operation */
        r->op.fn = fn;
        r->op.ctx = ctx;
        r->op.report_error = ERROR_SUCCESS; /* a builder may set it */
        r->op.mem->io.shut_after = false; /* a builder may set it (HSE_IO_DISCONNECT_AFTER_SEND) */
        request_ref_locked(r); /* the operation's */
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
    bool end = request_unref_locked(r); /* the operation's */
    pthread_mutex_unlock(&r->lock);
    if (end)
        request_post_end(r);
}

static void op_complete_work(pool_work_t *w)
{
    request_t *r = ((async_op_mem_t *)((char *)w - offsetof(async_op_mem_t, work)))->owner;
    pthread_mutex_lock(&r->lock);
    PFN_HSE_IO_COMPLETION fn = r->op.fn;
    PVOID ctx = r->op.ctx;
    DWORD bytes = r->op.result_bytes, err = r->op.result_error;
    /* No longer outstanding: the callback may start the next operation. The operation's
     * reference on the request is now the callback's. */
    r->op.kind = OP_NONE;
    parked_release_if_due_locked(r); /* a client that left waited for this operation */
    pthread_mutex_unlock(&r->lock);
    if (fn) {
        crash_context_enter(r->route.handler, r->ri.raw_target);
        ecb_cell_t *outer = connid_own_enter(r->cell);
        fn(&r->cell->ecb, ctx, bytes, err);
        connid_own_leave(outer);
        crash_context_leave();
        request_deferred_flush(r); /* still alive: the callback's reference holds the request */
    }
    pthread_mutex_lock(&r->lock);
    bool end = request_unref_locked(r); /* the callback's */
    pthread_mutex_unlock(&r->lock);
    if (end)
        request_post_end(r);
}

/* The Win32 code of an operation's end, from the loop's status (src/http/conn_async.h): the one
 * table (runtime/errors.c) names timeouts and broken bodies; a connection that failed under the
 * operation aborts it, as IIS reports to a completion. */
static DWORD op_error(request_t *r, int status)
{
    if (status == -ECONNRESET)
        return atomic_load(&r->closed_by_extension) ? ERROR_NETNAME_DELETED
                                                    : ERROR_OPERATION_ABORTED;
    return isapi_win32_error_from_socket_errno(status);
}

/* The operation is over (io->got set for a read); queue its completion. On the loop thread
 * (op_done), or on the thread that started a read which completed at once (op_read_launch). */
static void op_queue_completion(request_t *r, int status)
{
    conn_async_t *io = &r->op.mem->io;
    plan_free(&r->op.mem->plan);
    DWORD err = op_error(r, status);
    if (io->read)
        r->op.result_bytes = err ? 0 : (DWORD)io->got;
    else
        r->op.result_bytes = err ? (DWORD)io->cur.payload_sent : r->op.report_bytes;
    r->op.result_error = err ? err : r->op.report_error;
    if (err || (io->shut_after && !io->read)) /* HSE_IO_DISCONNECT_AFTER_SEND: shut, sent */
        atomic_store(&r->must_close, true);
    /* Never inline: the completion pool runs the callback, even when the I/O finished at once;
     * its own workers, so completions never wait behind blocked HttpExtensionProc calls, and
     * within the extension's share, so one extension's blocking callbacks cannot starve the
     * others' completions. */
    if (!pool_submit(r->host->completions, &r->op.mem->work, op_complete_work,
                     r->ext ? &r->ext->completion_share : NULL))
        op_complete_work(&r->op.mem->work); /* only while stopping, after the loops are gone */
}

/* Loop thread: the operation is over. */
static void op_done(conn_t *c, conn_async_t *io, int status)
{
    (void)c;
    op_queue_completion(((async_op_mem_t *)((char *)io - offsetof(async_op_mem_t, io)))->owner,
                        status);
}

/* Loop thread: the operation, claimed and prepared, goes to the loop (a write sends the plan). */
void op_start(request_t *r)
{
    conn_async_t *io = &r->op.mem->io;
    io->read = r->op.kind == OP_READ;
    io->empty = r->no_body;
    io->got = 0;
    out_chain_init(&io->cur, r->op.mem->plan.segs, r->op.mem->plan.n);
    io->done = op_done;
    conn_async_start(r->conn, io);
    /* HSE_REQ_CANCEL_IO between the claim and this start (its task ran first and found nothing
     * to cancel); the request is alive: its end is posted to this loop, behind us. */
    pthread_mutex_lock(&r->lock);
    bool cancel = r->cancel_wanted;
    pthread_mutex_unlock(&r->lock);
    if (cancel)
        conn_async_cancel(r->conn, io);
}

static void op_start_task(loop_task_t *t)
{
    op_start(((async_op_mem_t *)((char *)t - offsetof(async_op_mem_t, start_task)))->owner);
}

/* The operation is claimed and prepared: hand it to the loop. */
static void op_launch(request_t *r)
{
    loop_post(conn_loop(r->conn), &r->op.mem->start_task, op_start_task);
}

BOOL op_issue(request_t *r, op_kind_t kind, PFN_HSE_IO_COMPLETION fn, PVOID ctx,
              const op_builder_t *b, void *arg)
{
    /* A write composes the response: under io_lock. A read takes no io_lock: it must not wait
     * behind a synchronous write. */
    bool write = op_is_write(kind);
    if (write)
        pthread_mutex_lock(&r->io_lock);
    DWORD err;
    if (b->whole_response && op_busy(r))
        err = ERROR_BUSY;
    else if (b->whole_response && r->head_sent)
        err = ERROR_INVALID_PARAMETER;
    else if (write && conn_batch_pending(r->conn) && !plan_send_batch(r))
        err = GetLastError(); /* the loop sends the write without the batch: the batch first */
    else
        err = op_claim(r, kind, fn, ctx);
    if (err) {
        if (write)
            pthread_mutex_unlock(&r->io_lock);
        return fail(err);
    }
    BOOL ok = b->build(r, arg);
    DWORD e = ok ? 0 : GetLastError();
    if (write)
        pthread_mutex_unlock(&r->io_lock);
    if (ok && b->launch) {
        ok = b->launch(r, arg);
        e = ok ? 0 : GetLastError();
    } else if (ok) {
        op_launch(r);
    }
    if (!ok) {
        op_unclaim(r);
        return fail(e);
    }
    return TRUE;
}

/* A read whose bytes are already there (in the read-ahead or the socket) completes without the
 * loop: the thread that starts it receives them through conn_body_read, under
 * parked_socket_enter as a synchronous ReadClient does (the claimed slot excludes any other
 * reader), and queues the completion to the pool, never inline. A body that arrives faster than
 * the extension consumes it then costs no loop wake-up per read. A read that would wait (or was
 * cancelled meanwhile, or finds the socket released) goes to the loop, which tries it again:
 * the wait, the body timeout and the body rate stay the loop's. A failed read ends as the loop's
 * would (src/http/conn_async.c, async_read). */
BOOL op_read_launch(request_t *r, void *arg)
{
    (void)arg;
    conn_async_t *io = &r->op.mem->io; /* claimed: op_claim took the memory */
    pthread_mutex_lock(&r->lock);
    bool cancel = r->cancel_wanted;
    pthread_mutex_unlock(&r->lock);
    /* -EAGAIN: to the loop (op_start cancels; conn_async_drive fails a released socket). */
    ssize_t n = -EAGAIN;
    if (!cancel && r->no_body) {
        n = 0;
    } else if (!cancel && parked_socket_enter(r)) {
        n = conn_body_read(r->conn, io->buf, io->cap);
        parked_socket_leave(r);
    }
    if (n == -EAGAIN) {
        op_launch(r);
        return TRUE;
    }
    io->read = true;
    io->got = n >= 0 ? (size_t)n : 0;
    op_queue_completion(r, n >= 0 ? 0 : n == -EPROTO || n == -EFBIG ? (int)n : -ECONNRESET);
    return TRUE;
}

/* CLOSE_CONNECTION: the loop re-drives a pending operation so that it fails now. */
void op_kick_task(loop_task_t *t)
{
    request_t *r = ((async_op_mem_t *)((char *)t - offsetof(async_op_mem_t, kick_task)))->owner;
    pthread_mutex_lock(&r->lock);
    r->kick_posted = false;
    pthread_mutex_unlock(&r->lock);
    conn_async_kick(r->conn, &r->op.mem->io);
}

/* ------------------------------------------------------------------------------------------ */
/* The four ECB callbacks, behind the ConnID check (cb_* below) */

BOOL get_server_variable(request_t *r, LPSTR name, LPVOID buf, LPDWORD size)
{
    if (!name || !size)
        return fail(ERROR_INVALID_PARAMETER);
    BOOL filtered;
    if (r->filt && filter_server_variable(r, name, buf, size, false, &filtered))
        return filtered; /* AUTH_* as the filters left them */
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

typedef struct write_args {
    const char *buf;
    size_t len;
} write_args_t;

static BOOL write_build(request_t *r, void *arg)
{
    const write_args_t *w = arg;
    bool buffered;
    if (!plan_write(r, w->buf, w->len, &r->op.mem->plan, &buffered))
        return FALSE;
    r->op.report_bytes = (DWORD)w->len;
    return TRUE;
}

static BOOL write_async(request_t *r, const char *buf, size_t len)
{
    PVOID ctx;
    PFN_HSE_IO_COMPLETION fn = registered_callback(r, &ctx);
    if (!fn)
        return fail(ERROR_INVALID_PARAMETER);
    static const op_builder_t builder = {.build = write_build};
    write_args_t w = {.buf = buf, .len = len};
    return op_issue(r, OP_WRITE, fn, ctx, &builder, &w);
}

BOOL request_write_client(request_t *r, LPVOID buf, LPDWORD bytes, DWORD flags)
{
    if (!bytes || (!buf && *bytes))
        return fail(ERROR_INVALID_PARAMETER);
    size_t len = *bytes;
    if (flags & HSE_IO_ASYNC)
        return write_async(r, buf, len); /* *lpdwBytes means nothing for asynchronous writes */
    pthread_mutex_lock(&r->io_lock);
    BOOL ok;
    DWORD refused = sync_send_refusal(r);
    if (refused) {
        ok = fail(refused);
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
        ssize_t n = entered                  ? conn_body_read(r->conn, buf, *size)
                    : conn_body_over(r->conn) ? 0
                                             : -ECONNRESET;
        if (n >= 0) {
            got = (DWORD)n;
            break;
        }
        if (n == -EAGAIN) {
            /* The body timeout, and the minimum body rate over the time spent waiting here. */
            int w = conn_body_wait(r->conn, r->host->cfg->body_timeout_ms);
            if (w == 0)
                continue;
            n = w;
        }
        if (n == -EFBIG)
            log_warn("%s: request body over the %llu byte limit", r->ri.raw_target,
                     (unsigned long long)r->host->cfg->max_body_bytes);
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
