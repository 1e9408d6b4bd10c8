/* ISAPI requests: the EXTENSION_CONTROL_BLOCK and its callbacks (GetServerVariable,
 * ReadClient, WriteClient, ServerSupportFunction), the session state machine
 * (HSE_STATUS_PENDING / HSE_REQ_DONE_WITH_SESSION from any thread), and response framing.
 *
 * The ISAPI host is the transport's handler (src/http/handler.h: isapi_handler() fills the table);
 * it reaches the connection through src/http/conn.h and the server through isapi_host_t.
 *
 * Life of a request_t:
 *   loop thread: isapi_request_new() at head-complete → read-ahead → isapi_request_start()
 *   loop thread or worker: load the extension, HttpExtensionProc (on the loop's thread unless
 *                the configuration or a recent hand-off says otherwise); callbacks: workers
 *   any thread:  the session ends (HttpExtensionProc returned a final status, or returned
 *                PENDING and DONE_WITH_SESSION came, in either order) → exactly one post of
 *                end_task to the connection's loop
 *   loop thread: isapi_request_end() writes the access log, composes the response tail, frees;
 *                conn_request_ended() gives the connection back with that tail.
 * The ECB lives in an ECB cell (src/isapi/ecbcell.h), not in the request: ConnID == &ecb (ISAPI-NOTES
 * §7.2) == the cell's address, which is not handed out again while a stale ConnID could name
 * it, so every callback checks its ConnID from the address alone. A call from a thread other
 * than the request's own HttpExtensionProc or completion callback holds the request while it
 * runs (a count in the cell's state word); after DONE or the end of the session such calls
 * fail with ERROR_INVALID_PARAMETER, and the end of the request waits for those in flight. */
#ifndef ISAPID_ISAPI_H
#define ISAPID_ISAPI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <windows.h>
#include <httpext.h>

#include "chunked.h"
#include "conn.h"
#include "conn_async.h"
#include "ecbcell.h"
#include "extension.h"
#include "handler.h"
#include "isapi_host.h"
#include "loop.h"
#include "pool.h"
#include "reqinfo.h"
#include "resphead.h"
#include "route.h"

typedef enum { OP_NONE, OP_READ, OP_WRITE, OP_TRANSMIT, OP_VECTOR, OP_SENDURL } op_kind_t;

/* Segments a plan holds in itself: a write has at most a head, a chunk line, its pieces and a
 * tail (plan_build), and the common ones have at most three pieces (WriteClient and a
 * send-URL one, SEND_RESPONSE_HEADER two, TransmitFile its head, file and tail), so only a
 * vector send of more elements allocates. */
#define OUT_PLAN_INLINE_SEGS 6

/* What one write sends: segments (server framing + the extension's pieces) and the memory they
 * own. Built under io_lock by the thread that calls, sent by it (synchronous) or by the loop.
 * A plan is not moved once built: segs may point into it. */
typedef struct out_plan {
    out_seg_t *segs;        /* inline_segs, or malloc'ed for more; NULL in an empty plan */
    size_t n;
    out_seg_t inline_segs[OUT_PLAN_INLINE_SEGS];
    char *head;             /* malloc'ed response head, or NULL; or, with head_held, one that
                             * lies in a build memo (isapi_plan.c) */
    atomic_bool *head_held; /* the memo's flag that keeps head there: plan_free clears it */
    char chunk_line[24];    /* "<hex>\r\n" */
    int owned_fd;           /* a descriptor the plan owns (SEND_URL's file), or -1 */
    char *filtered;         /* malloc'ed bytes SEND_RAW_DATA filters left (src/isapi/filter_raw.c),
                             * which segs point into, or NULL */
} out_plan_t;

/* What an asynchronous operation sends or reads into: taken when the request's first operation
 * is claimed (op_claim, under the lock) and kept until the request is freed, so that the many
 * requests that never start one (a parked long-poll among them) do not carry it. */
typedef struct async_op_mem {
    out_plan_t plan;              /* write kinds */
    conn_async_t io;              /* what the loop does (src/http/conn_async.h): OP_READ's
                                   * destination (the extension's buffer), a write's segments
                                   * (the plan's), HSE_IO_DISCONNECT_AFTER_SEND (shut_after) */
    /* Posted only while an operation is outstanding: its completion, its start on the loop,
     * CLOSE_CONNECTION's kick and HSE_REQ_CANCEL_IO's cancel. */
    pool_work_t work;
    loop_task_t start_task, kick_task, cancel_task;
    request_t *owner;
} async_op_mem_t;

/* The request's one asynchronous operation. `kind` and `mem` (set once) are under the request's
 * lock; the rest is written by the starting thread before the operation is posted to the loop,
 * then belongs to the loop until the completion is queued, then to the pool thread that calls
 * back. `kind` is also atomic: a write kind is only ever claimed under io_lock as well, so a
 * thread holding io_lock may read it without the lock (op_write_outstanding): a write kind it
 * sees stays until it lets io_lock go or the completion clears it, which is what the locked read
 * gave too. */
typedef struct async_op {
    _Atomic op_kind_t kind;       /* OP_NONE: nothing outstanding */
    PFN_HSE_IO_COMPLETION fn;     /* snapshot at start; NULL: no callback (SEND_URL) */
    PVOID ctx;
    async_op_mem_t *mem;          /* NULL until the first operation is claimed */
    DWORD report_bytes;           /* cbIO on success */
    DWORD report_error;           /* dwError when the I/O itself succeeded: ERROR_SUCCESS, or what a
                                   * SEND_URL that answered with an error page reports (404:
                                   * ERROR_FILE_NOT_FOUND ...), or an EXEC_URL child's Win32 error;
                                   * reset by every claim (op_claim) */
    DWORD result_bytes, result_error;
} async_op_t;

/* The session: how far HttpExtensionProc and HSE_REQ_DONE_WITH_SESSION have got (docs/design.md,
 * "Life of a request" 7). Under the request's lock, and changed only by session_advance_locked
 * (src/isapi/isapi.c), the one place of these transitions:
 *
 *   RUNNING ──returns PENDING──▶ PENDING ──DONE──────────▶ OVER
 *      │ └────returns anything else───────────────────────▶ OVER
 *      └──DONE──▶ DONE_EARLY ──returns (any status)────────▶ OVER
 *
 * DONE in DONE_EARLY or OVER is a duplicate, ignored. Entering DONE_EARLY or OVER closes the
 * ECB cell: calls from other threads fail from then on, while the extension's own
 * HttpExtensionProc and completion callbacks may still call. Entering OVER drops the session's
 * reference on the request (refs). The response's status comes from done_status after a PENDING
 * return, else from proc_status. */
typedef enum session_state {
    SESSION_RUNNING,    /* HttpExtensionProc has not returned; no DONE_WITH_SESSION yet */
    SESSION_DONE_EARLY, /* DONE_WITH_SESSION came before the return, which ends the session */
    SESSION_PENDING,    /* returned HSE_STATUS_PENDING: waits for DONE_WITH_SESSION */
    SESSION_OVER,       /* the extension is done with the request */
} session_state_t;

/* Child requests (HSE_REQ_EXEC_URL, HSE_REQ_SEND_URL of an extension URL) nest at most this
 * deep: one past it answers 500 itself (an extension handing a request to itself: a loop). */
#define CHILD_MAX_DEPTH 8

struct request {
    ecb_cell_t *cell;             /* the ECB (cell->ecb) and the request's identity: owned */
    isapi_host_t *host;           /* borrowed: outlives every request */
    conn_t *conn;                 /* outlives the request; reached through src/http/conn.h */
    /* Everything above `ext` is set in full by request_create; from `ext` on, every field starts
     * zeroed (one memset), so a field added there needs no line in request_create. */
    route_t route;                /* owned; its strings may be in the request's block (route_keep) */
    reqinfo_t ri;                 /* strings live in `strings` */
    char *strings;                /* copies of the head: in the request's own block */
    http_header_t *headers;       /* in the request's own block */
    struct isapi_loop *block_home; /* a client's request: the loop whose spare blocks take this
                                    * one back when it is freed (isapi.c); a child's: NULL */
    size_t block_size;             /* the request's block, in bytes */
    time_t start_time;
    extension_t *ext;             /* set once loaded (never unloaded while running) */
    request_t *parent;            /* a child request (HSE_REQ_SEND_URL of an extension URL,
                                   * HSE_REQ_EXEC_URL): this child's response is the parent's;
                                   * the parent's operation ends with it (child_request_ended) */
    /* Child requests (src/isapi/isapi_sendurl.c, src/isapi/isapi_execurl.c). Set when the child
     * is made, before it runs (the bit-fields, one memory location, are never written once
     * others may read them); exec_status under io_lock, written on the loop (or by the
     * operation's build) before the EXEC_URL's completion is queued. Packed: a parked session
     * holds all of this (bench's parked long-poll row, 2 KiB each at most). */
    uint8_t child_depth;          /* 0: the client's request; a child: its parent's + 1, at most
                                   * CHILD_MAX_DEPTH */
    bool no_body : 1;             /* a child: it has no request body to read */
    bool child_exec : 1;          /* a child of HSE_REQ_EXEC_URL (not SEND_URL) */
    bool child_no_headers : 1;    /* HSE_EXEC_URL_NO_HEADERS: its head is the parent's, its body
                                   * goes on in the parent's framing */
    bool exec_status_set;         /* an EXEC_URL of this request has ended: exec_status holds */
    HSE_EXEC_URL_STATUS exec_status; /* dwWin32Error: why the child answered an error (404 ...) */
    DWORD exec_error;             /* its completion's dwError: the EXEC_URL itself failed (too
                                   * deep, here or in a child of the child); 0 when the child's
                                   * response, whatever its status, went out */

    /* Under lock: the session, the operation slot, callbacks, and when the request ends.
     * refs counts what holds the request: one reference for the open session (until
     * SESSION_OVER), one for the outstanding operation (op.kind != OP_NONE; at its completion it
     * passes to the callback), one for each completion callback running. The calls in flight
     * from other threads are counted in the cell's state word instead, because a stale ConnID
     * must be checked there without touching the request (src/isapi/connid.h); together they
     * hold the request as one more reference: when refs reaches 0 the request hands its end to
     * the cell (ecb_cell_end_due), and whichever of that and the last call out comes second
     * posts the end, exactly once (request_unref_locked; connid_unhold). refs == 0: the end is
     * due, and a call still in flight may start no operation (op_issue). */
    pthread_mutex_t lock;
    session_state_t session;
    unsigned refs;
    DWORD proc_status;            /* HttpExtensionProc's return */
    DWORD done_status;            /* DONE_WITH_SESSION's status (HSE_STATUS_SUCCESS if NULL) */
    PFN_HSE_IO_COMPLETION io_fn;  /* HSE_REQ_IO_COMPLETION */
    PVOID io_ctx;
    bool load_failed;             /* the extension could not be loaded: 500 */
    bool refused;                 /* 503: the pool is stopping, or the extension could not be
                                   * loaded for want of descriptors */
    bool sync_reading;            /* a ReadClient is in progress */
    bool kick_posted;
    /* The connection's socket (src/isapi/parked.h). sock_word, atomic and taken without the
     * lock: the extension threads using the socket now (the low bits) and SOCK_RELEASED once the
     * loop released it (the client had gone; never undone). A use begins only while the bit is
     * clear, and the loop sets it only from 0 (no use), so no use outlives the socket.
     * release_posted, under lock: the release is queued on the loop. */
    atomic_uint sock_word;
    bool release_posted;
    /* Not under lock: atomic, any thread (here, where the padding has room). */
    atomic_bool closed_by_extension; /* HSE_REQ_CLOSE_CONNECTION */
    atomic_bool must_close;          /* the connection cannot carry another request */
    async_op_t op;

    pool_work_t work;
    loop_task_t end_task, release_task;

    /* Body read-ahead (lpbData), NUL-terminated at cbAvailable; in the request's own block. */
    char *readahead;
    uint32_t readahead_cap;

    /* Response, under io_lock (lock order: io_lock, then lock). Packed without holes: a parked
     * session holds all of this (bench's parked long-poll row, 2 KiB each at most). */
    unsigned status_sent; /* status code in the head (0 before) */
    pthread_mutex_t io_lock;
    bool head_sent;
    bool io_failed;               /* a send failed or timed out: the connection will close */
    bool body_ended;              /* a final send ended the body (last chunk written) */
    bool passthru_lost;           /* FRAME_PASSTHRU: where the body ends cannot be known (a
                                   * file's bytes, malformed framing, bytes after the last chunk) */
    resp_framing_t framing;
    union {                       /* which one: framing */
        uint64_t declared_length; /* FRAME_LENGTH: Content-Length sent */
        /* FRAME_PASSTHRU: the extension's own chunked framing, followed over the bytes it sends
         * (isapi_plan.c), so that the connection is kept only when the body ends where its
         * framing says. */
        chunked_decoder_t passthru;
    };
    uint64_t body_sent;           /* body bytes accepted from the extension */
    char *deferred_head;          /* a head sent by SEND_RESPONSE_HEADER[_EX] without body bytes
                                   * inside HttpExtensionProc on its thread, held back to leave
                                   * with the next write (one send instead of two); flushed when
                                   * the extension's call returns */
    size_t deferred_len;
    /* Non-NULL: deferred_head is not malloc'ed but lies in the build memo of proc_thread
     * (isapi_plan.c), which this flag holds; only while that thread is inside
     * HttpExtensionProc (request_returned takes a copy before it leaves). Set under io_lock,
     * atomic so that the return can look without the lock. */
    _Atomic(atomic_bool *) deferred_held;
    char *pending;                /* start of a raw "HTTP/1.x" head written in pieces, owned */
    size_t pending_len;
    char *log_param;              /* HSE_APPEND_LOG_PARAMETER text, owned */

    /* The IIS 6/7 support functions (src/isapi/isapi_ssf_iis.c). */
    bool flush_writes;            /* HSE_REQ_SET_FLUSH_FLAG TRUE: no head is held back; under io_lock */
    /* HSE_REQ_CANCEL_IO, under lock: the outstanding operation is to end with
     * ERROR_OPERATION_ABORTED (cleared when the next one is claimed); cancel_task is posted to the
     * loop (at most once at a time: cancel_posted) under lock, so it runs before the start of any
     * operation claimed after the cancel. The task is op.mem's (an operation is outstanding). */
    bool cancel_wanted, cancel_posted;
    /* Where a head may be held back (send_response_header): only a call made inside
     * HttpExtensionProc on the thread running it, whose write or return follows on that thread.
     * proc_thread is written before in_proc is set, by that thread (request_call); in_proc is
     * cleared when HttpExtensionProc returns. */
    atomic_bool in_proc;
    bool filt_borrowed;           /* the filters' (below), here where the padding has room */
    pthread_t proc_thread;
    /* ISAPI filters (src/isapi/filter_internal.h): the filters' part of this request, owned;
     * NULL when no filter is loaded. A child request (SEND_URL) borrows its parent's
     * (filt_borrowed): its head and bytes are the parent's response. */
    struct filter_req *filt;
};

/* Once, before any request: the address range of ECBs (src/isapi/connid.h). False if it cannot be had. */
bool isapi_init(void);
/* The handler table the transport calls (src/http/handler.h), for requests served with host. */
handler_t isapi_handler(isapi_host_t *host);
/* Loop thread, at head-complete: copy what the request needs from the connection's head
 * and take ownership of *route (left zeroed). NULL on ENOMEM. The handler's request_new. */
request_t *isapi_request_new(void *host, conn_t *c, const reqinfo_t *head, route_t *route,
                             char **readahead, uint32_t *readahead_cap);
/* Loop thread: the read-ahead is in r->readahead (len bytes); run the extension, on this thread
 * (extensions_inline: it may lose the loop, loop_kept_t) or the pool. A SEND_URL child (made on
 * any thread) always goes to the pool. */
loop_kept_t isapi_request_start(request_t *r, uint32_t readahead_len);
/* The hand-off watchdog took a loop during an extension's call (ctx: its extension_t): until
 * that call returns, the extension's requests go to the pool. */
void isapi_call_taken(void *ctx);
/* Loop thread: the request never started (client gone during read-ahead): free it. */
void isapi_request_discard(request_t *r);

/* Loop thread, after end_task: finish the response framing, log, free the request
 * (request_end_t: src/http/handler.h). */
void isapi_request_end(request_t *r, request_end_t *out);


#endif
