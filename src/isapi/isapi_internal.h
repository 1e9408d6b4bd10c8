/* Internals shared by the pieces of the ISAPI request code (src/isapi/isapi.c,
 * src/isapi/isapi_plan.c, src/isapi/isapi_op.c, src/isapi/isapi_ssf.c, src/isapi/isapi_ssf_iis.c,
 * src/isapi/isapi_sendurl.c, src/isapi/isapi_execurl.c),
 * split from one file with no change in behaviour. Private: include only from those files. It declares no state; the request_t (src/isapi/isapi.h) and the locks
 * in it (lock, io_lock) keep the rules documented in src/isapi/isapi.h and at each definition.
 *
 * Lock order: r->io_lock, then r->lock, then the loop's queue lock (loop_post under r->lock).
 * What the request path reads or writes without either lock, and why that holds:
 *   op.kind        atomic; a write kind is claimed under io_lock too, so op_write_outstanding
 *                  (under io_lock) reads it alone
 *   sock_word      atomic: the socket's users and its release (src/isapi/parked.h)
 *   request_finish on the loop after the end was posted: no other thread can reach the request,
 *                  and the post ordered their writes before it (no io_lock)
 * The locks a synchronous hello request takes: io_lock in SEND_RESPONSE_HEADER(_EX) and in
 * WriteClient, r->lock in session_returned, the loop's queue lock in request_post_end. */
#ifndef ISAPID_ISAPI_INTERNAL_H
#define ISAPID_ISAPI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "isapi.h"

typedef struct piece {
    const char *mem; /* memory, or NULL for a file range */
    int fd;
    uint64_t off, len;
} piece_t;

static inline BOOL fail(DWORD win32)
{
    SetLastError(win32);
    return FALSE;
}

static inline bool is_head_method(const request_t *r) { return strcmp(r->ri.method, "HEAD") == 0; }

/* src/isapi/isapi.c */
request_t *request_create(isapi_host_t *host, conn_t *c, isapi_loop_t *home,
                          const reqinfo_t *src, route_t *route, uint32_t readahead_cap);
void request_ref_locked(request_t *r);
bool request_unref_locked(request_t *r);
void request_post_end(request_t *r);
BOOL session_done(request_t *r, DWORD status);
/* HttpExtensionProc (or what stands for it: the filters' serving of a static route) returned. */
void session_returned(request_t *r, DWORD status);
/* Run the route's extension: on this loop's thread, or the pool (isapi_request_start's rule). */
loop_kept_t request_dispatch(request_t *r);
bool request_keep_alive_possible(request_t *r);

/* src/isapi/isapi_plan.c */
void plan_init(out_plan_t *p); /* empty: nothing to send, nothing owned */
void plan_free(out_plan_t *p); /* releases what it owns; empty after */
BOOL prepare_head(request_t *r, resphead_t *h, uint64_t final_length, bool final,
                  char **head, size_t *head_len);
/* prepare_head (not final) of SEND_RESPONSE_HEADER[_EX]'s head: tag, resphead_build_memo's
 * (0: none); held non-NULL for a head to be held back (r->deferred_head) by the thread inside
 * HttpExtensionProc: *held is then non-NULL when *head lies in this thread's build memo, not
 * the heap (r->deferred_held). */
BOOL prepare_head_tagged(request_t *r, resphead_t *h, uint64_t tag, char **head,
                         size_t *head_len, atomic_bool **held);
/* Under io_lock: a held-back head that lies in a build memo copied into the heap (before any
 * use but the next write's on the thread in HttpExtensionProc). FALSE: no memory; the head is
 * lost and the connection will close. */
BOOL deferred_head_own(request_t *r);
BOOL plan_build(request_t *r, out_plan_t *p, char *head, size_t head_len,
                const piece_t *pieces, size_t n, bool final);
/* FRAME_PASSTHRU, under io_lock or after the last write: whether the extension's own chunked
 * body has ended, where its framing says and with nothing after it. */
bool plan_passthru_ended(const request_t *r);
/* plan_build of body_len bytes of body copied behind head (taken over; NULL: the held-back
 * head, if any), so the plan owns everything it sends. */
BOOL plan_build_copy(request_t *r, out_plan_t *p, char *head, size_t head_len, const char *body,
                     size_t body_len, bool final);
BOOL plan_send_sync(request_t *r, out_plan_t *p);
/* Under io_lock: the responses the connection's batch holds (src/http/conn_batch.c) sent on
 * this thread, an empty plan's plan_send_sync. */
BOOL plan_send_batch(request_t *r);
void request_deferred_flush(request_t *r);
BOOL plan_write(request_t *r, const char *buf, size_t len, out_plan_t *p, bool *buffered);
/* The head the first bytes of a response make when no head was sent (§7.4-7.5): a raw
 * "HTTP/1.x" head or header lines ended by an empty line, parsed into h (h->consumed: their
 * length, what follows is body); anything else leaves h the default head, consumed 0. Returns 1
 * when a raw head has begun but its empty line has not come (h holds nothing then), else 0.
 * Initialises h. */
int head_from_bytes(resphead_t *h, const char *d, size_t n);

/* src/isapi/isapi_op.c */
/* How one kind of asynchronous operation is made, for op_issue. */
typedef struct op_builder {
    /* The slot is claimed (and io_lock held, for a write kind): fill in r->op (a write's plan,
     * report_bytes, io.shut_after; a read's buffer). FALSE + SetLastError on failure. */
    BOOL (*build)(request_t *r, void *arg);
    /* NULL: post the operation to the connection's loop. Else called after io_lock is released,
     * instead, to set the operation going; FALSE + SetLastError on failure (having undone what
     * it changed). */
    BOOL (*launch)(request_t *r, void *arg);
    /* The operation is the whole response: refused with ERROR_INVALID_PARAMETER once a head was
     * sent (after ERROR_BUSY, before the claim's own errors). */
    bool whole_response;
} op_builder_t;
/* The one sequence of every asynchronous operation (WriteClient(HSE_IO_ASYNC), TransmitFile,
 * vector send, send-URL, asynchronous ReadClient): claim the request's one operation slot, build,
 * launch; on a failure after the claim the slot is given back. TRUE, or FALSE + SetLastError;
 * the completion callback then comes from the pool, never from inside this call. */
BOOL op_issue(request_t *r, op_kind_t kind, PFN_HSE_IO_COMPLETION fn, PVOID ctx,
              const op_builder_t *b, void *arg);
/* The launch of an asynchronous read (op_builder_t.launch): at once on the calling thread when
 * the bytes are there, else through the loop. */
BOOL op_read_launch(request_t *r, void *arg);
/* Loop thread: a claimed and built operation goes to the connection (SEND_URL's sendurl_child_ended). */
void op_start(request_t *r);
void op_kick_task(loop_task_t *t);
BOOL get_server_variable(request_t *r, LPSTR name, LPVOID buf, LPDWORD size);
PFN_HSE_IO_COMPLETION registered_callback(request_t *r, PVOID *ctx);
static inline bool op_is_write(op_kind_t k)
{
    return k == OP_WRITE || k == OP_TRANSMIT || k == OP_VECTOR || k == OP_SENDURL;
}
/* A write-type operation outstanding: a synchronous write now would interleave with it.
 * Under io_lock, which every claim of a write kind holds too: an atomic read, no lock
 * (async_op_t.kind). */
static inline bool op_write_outstanding(request_t *r)
{
    return op_is_write(atomic_load(&r->op.kind));
}
/* Under io_lock: why a synchronous send of body bytes cannot go now, or 0 when it can:
 * ERROR_BUSY while a write is outstanding, ERROR_NETNAME_DELETED once the connection failed or
 * the extension closed it (WriteClient and the vector send, alike). */
static inline DWORD sync_send_refusal(request_t *r)
{
    if (op_write_outstanding(r))
        return ERROR_BUSY;
    if (r->io_failed || atomic_load(&r->closed_by_extension))
        return ERROR_NETNAME_DELETED;
    return 0;
}
BOOL request_write_client(request_t *r, LPVOID buf, LPDWORD bytes, DWORD flags);
BOOL read_client(request_t *r, LPVOID buf, LPDWORD size);

/* src/isapi/isapi_ssf.c */
BOOL ssf_redirect(request_t *r, const char *url);
/* MAP_URL_TO_PATH's one rule: url (a query is ignored) to its path in out (out_size bytes);
 * *needed the path's size with its NUL, the access flags and matching lengths. 0 or a Win32
 * error (ERROR_INSUFFICIENT_BUFFER with *needed set). */
DWORD ssf_map_url(request_t *r, const char *url, char *out, size_t out_size, size_t *needed,
                  DWORD *flags, size_t *match_path, size_t *match_url);
BOOL server_support_function(request_t *r, DWORD code, LPVOID buf, LPDWORD size,
                             LPDWORD data_type);

/* src/isapi/isapi_ssf_iis.c: the IIS 6/7 support functions (docs/isapi.md has each one's
 * behaviour and errors). */
BOOL ssf_send_custom_error(request_t *r, const HSE_CUSTOM_ERROR_INFO *info);
BOOL ssf_cancel_io(request_t *r);
void op_cancel_task(loop_task_t *t); /* loop thread: CANCEL_IO reaches the operation */
BOOL ssf_set_flush_flag(request_t *r, bool on);
BOOL ssf_normalize_url(char *url);
BOOL ssf_map_unicode_url_to_path(request_t *r, WCHAR *buf, LPDWORD size);
BOOL ssf_map_unicode_url_to_path_ex(request_t *r, const WCHAR *url, LPDWORD size,
                                    LPDWORD data_type);
BOOL ssf_get_cert_info_ex(void *cert);
/* UTF-16 (NUL-terminated within cap units) to a new UTF-8 string; NULL + *err
 * (ERROR_INVALID_PARAMETER: no NUL within cap, or an unpaired surrogate). */
char *utf16_to_utf8(const WCHAR *in, size_t cap, DWORD *err);
BOOL ssf_token_request(void *out);

/* src/isapi/isapi_sendurl.c: send-URL, and the child requests of SEND_URL and EXEC_URL */
typedef enum {
    CHILD_BODY_NONE,   /* no body (SEND_URL): the headers about one are dropped */
    CHILD_BODY_PARENT, /* the parent's read-ahead, then what is left of its body on the connection */
    CHILD_BODY_ENTITY, /* entity[0..entity_len) is the whole body */
} child_body_t;
/* What a child request is made of. Strings are borrowed for the call. */
typedef struct child_spec {
    const char *url;               /* raw target: path, maybe "?query" */
    const char *path;              /* url's path, normalised (path_normalize) */
    route_t *route;                /* an EXTENSION route: taken over */
    const char *method;
    const http_header_t *headers;  /* NULL: the parent's (minus those about a body, per body) */
    size_t n_headers;
    child_body_t body;
    const void *entity;
    uint32_t entity_len;
    bool exec;                     /* HSE_REQ_EXEC_URL's (child_exec) */
    bool no_headers;               /* HSE_EXEC_URL_NO_HEADERS */
} child_spec_t;
/* Run spec's extension as a child request whose response is r's, as r's one operation (OP_SENDURL
 * kind: it is the whole response unless no_headers); it completes once the child's response is
 * out (child_request_ended). TRUE, or FALSE + SetLastError. */
BOOL child_issue(request_t *r, const child_spec_t *spec, PFN_HSE_IO_COMPLETION fn, PVOID ctx);
/* True (and a rate-limited warning naming `call` and `hint`) when a child of r would nest past
 * CHILD_MAX_DEPTH: the caller answers 500 instead of issuing it. */
bool child_too_deep(const request_t *r, const char *call, const char *hint);
/* Loop thread: a child's session is over (its end_task). */
void child_request_ended(loop_task_t *t);
BOOL ssf_send_url(request_t *r, const char *url);

/* src/isapi/isapi_execurl.c */
BOOL ssf_exec_url(request_t *r, const HSE_EXEC_URL_INFO *info);
BOOL ssf_exec_unicode_url(request_t *r, const HSE_EXEC_UNICODE_URL_INFO *info);
BOOL ssf_get_exec_url_status(request_t *r, HSE_EXEC_URL_STATUS *out);

#endif
