/* A client connection: HTTP/1.x parsing (llhttp), keep-alive and pipelining, request bodies
 * (Content-Length and chunked), responses written from the loop (static files, errors) and
 * timeouts. Lives on one event loop.
 *
 * Ownership: the loop thread owns a connection, except while a handler (src/http/handler.h: the
 * ISAPI host) owns its current request (state CONN_EXTENSION): then the request's threads may
 * read the body and write the response through the functions below, and the loop only watches
 * for the peer going away (and then releases the socket as soon as nothing uses it:
 * src/isapi/parked.h). The handler reaches the connection only through the functions and
 * accessors of this header, never through conn_t's fields (who may touch which: at the type).
 * The handler hands the connection back with conn_request_ended() (on the loop thread). */
#ifndef ISAPID_CONN_H
#define ISAPID_CONN_H

#include <llhttp.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "bodyrate.h"
#include "chunked.h"
#include "handler.h"
#include "outchain.h"
#include "reqinfo.h"
#include "sendrate.h"
#include "server.h"


typedef enum {
    CONN_HEAD,       /* reading a request head */
    CONN_READAHEAD,  /* reading the body read-ahead for an extension */
    CONN_EXTENSION,  /* an extension owns the request */
    CONN_SENDING,    /* the loop writes a response */
    CONN_DISCARD,    /* response done; reading and dropping the rest of the body */
    CONN_DRAIN,      /* reading and dropping a chunked body before the loop answers: its
                      * framing must be sound before a response is committed */
    CONN_LINGER,     /* closing: write side shut, draining input briefly */
    CONN_CLOSED,     /* closed; freed at the end of the loop iteration */
} conn_state_t;

typedef enum { BODY_NONE, BODY_LENGTH, BODY_CHUNKED } body_mode_t;

#define CONN_MAX_HEADERS 100

typedef struct span {
    uint32_t off, len;
} span_t;

/* Scratch for parsing one request head; allocated with the input buffer when a request begins
 * and released with it when the connection goes idle, so idle keep-alive connections stay
 * small. */
typedef struct conn_head {
    span_t hname[CONN_MAX_HEADERS], hvalue[CONN_MAX_HEADERS];
    http_header_t headers[CONN_MAX_HEADERS];
    char host_buf[256]; /* SERVER_NAME from the Host header */
    char client_addr[48]; /* REMOTE_ADDR from a trusted proxy's X-Forwarded-For */
    char path_buf[160];   /* the connection's pathbuf when the path is short (conn_parse.c) */
    reqinfo_t ri;       /* view of the current request (points into in/pathbuf and the above) */
    llhttp_t parser;    /* initialised when the block is taken for a connection's first read */
} conn_head_t;

/* The response side of the current request: taken with the head block, given back with it when
 * the connection goes idle, but kept while a handler owns the request, when the head block and
 * the input buffer may already be gone (conn_release_head): a parked request holds only this. */
typedef struct conn_resp {
    send_rate_t send_rate; /* the minimum send rate's account of the current response: here,
                            * not in conn_t, because only a connection with a request in
                            * progress writes (src/http/sendrate.h) */
    /* The loop's output (src/http/conn_out.c), here for the same reason: a chain of at most
     * three segments (the batch of earlier responses, src/http/conn_batch.c, then a buffer's
     * framing and its body, the framing and a file range, or a tail); nothing pending:
     * out.n == 0. */
    out_chain_t out;
    out_seg_t out_segs[3];
} conn_resp_t;

typedef struct conn_async conn_async_t;

/* Every field is the loop thread's, with these exceptions while a handler owns the request
 * (CONN_EXTENSION):
 * - the request's threads use the socket (watch.fd), the input buffer and the body fields
 *   (in*, body_*, chunked, body_rate, expect_continue, sent_continue) through conn_body_read,
 *   conn_body_wait, conn_send_blocking and conn_peer_gone, between parked_socket_enter and
 *   parked_socket_leave (src/isapi/parked.h); the loop then reads the body only for the
 *   handler's own loop-driven operation (op), which excludes those threads' reads;
 * - peer_gone is atomic: set by the loop, read by any thread;
 * - nagle is atomic: whichever thread sends updates it (src/http/outchain.h);
 * - keep_alive, peer_text, local_text, the ports and nl do not change: any thread may read them
 *   (conn_keep_alive, conn_peer_text, ...);
 * - rs->send_rate belongs to the thread that writes the response (src/http/sendrate.h).
 * The handler never touches the fields themselves: the accessors below do. */
struct conn {
    loop_watch_t watch;
    netloop_t *nl;
    conn_t *prev, *next;        /* netloop's list */
    conn_state_t state;
    timeq_node_t timer;

    char peer_text[48], local_text[48]; /* the addresses, kept only as text (and ports); a
                                         * PROXY protocol header replaces them before the
                                         * first request */
    unsigned peer_port, local_port;

    /* input: [0, in_start) consumed, [in_start, in_end) unparsed */
    char *in;
    uint32_t in_cap, in_start, in_end;
    uint32_t in_keep;           /* [0, in_keep) must stay: the head, while a body is read before
                                 * the response (CONN_DRAIN); body reads land behind it */
    bool readable;              /* edge-triggered: the socket may have more to read */
    bool writable;
    atomic_bool peer_gone;      /* hang-up seen while an extension owned the request */
    out_nagle_t nagle;          /* TCP_NODELAY, set before the socket's second send call
                                 * (src/http/outchain.h): every sender's, atomic */
    bool hup_seen;              /* a hang-up (or half-close) was reported outside
                                 * CONN_EXTENSION: told again when a handler takes a request */
    bool body_done;             /* the current request's body is all read (here for the
                                 * padding; the other body fields are below) */

    /* head being parsed */
    conn_head_t *hd;            /* with `in`: NULL while idle; holds the parser and the
                                 * request view, so an idle connection keeps neither */
    conn_resp_t *rs;            /* taken with hd; NULL while idle; kept while a handler owns
                                 * the request, even once hd and `in` are released */
    span_t url;
    unsigned n_headers;
    uint8_t hstate;             /* 0 between headers, 1 in a name, 2 in a value */
    bool url_done;
    bool head_started;          /* a byte of the current request arrived */
    bool head_done;
    bool proxy_pending;         /* the PROXY protocol header has yet to arrive (a listener
                                 * with proxy-protocol): no byte goes to the HTTP parser */
    bool proxy_ssl;             /* the PROXY header said the proxy terminated TLS (here, with
                                 * the head's flags, where the padding has room) */
    int parse_error_status;     /* set by callbacks: 414, 431 */
    char *pathbuf;              /* decoded path, then the raw path, of the current request */

    /* current request */
    bool keep_alive;            /* client allows and server agrees so far */
    bool expect_continue;       /* client waits for 100 Continue */
    bool sent_continue;
    bool is_head;
    body_mode_t body_mode;
    uint64_t body_left;         /* BODY_LENGTH: bytes not yet read */
    uint64_t body_read;         /* decoded bytes consumed so far */
    chunked_decoder_t chunked;  /* BODY_CHUNKED */
    body_rate_t body_rate;      /* the minimum body rate's account of this body */
    timeq_node_t rate_timer;    /* in nl->tq_rate only while the loop waits for body bytes
                                 * (read-ahead, discard, an asynchronous read): every such
                                 * wait ends with conn_body_wake, conn_body_wait_over or the
                                 * connection's close */
    request_t *req;             /* the handler's request, while there is one */
    conn_async_t *op;           /* the asynchronous operation this loop drives for req (or a
                                 * child request of req's HSE_REQ_SEND_URL): owned by the
                                 * request, NULL when none (src/http/conn_async.h) */
    char *readahead;            /* the handler's read-ahead buffer (owned by req) */
    uint32_t readahead_want, readahead_got;

    /* Output written by the loop (src/http/conn_out.c): one response, or the tail of an
     * extension's, at a time, as rs->out. The connection owns what its segments point into;
     * both are freed once the chain is sent or dropped. */
    char *out_buf;              /* the buffer behind rs->out_segs, or NULL */
    int out_fd;                 /* the file behind rs->out_segs, or -1 */
    bool close_after;           /* close once the output is written */

    /* The batch (src/http/conn_batch.c): complete responses to pipelined requests, held back
     * so that one send carries them all; always sent before anything else is written to the
     * socket, before the loop reads it or waits for anything, and before a request's
     * extension goes on past its call. The loop thread's, except while a handler owns the
     * request: then only the request's writers touch it, one at a time (the handler's lock),
     * through conn_send_blocking; gather_owner is the one thread whose synchronous writes go
     * into it (the loop's thread in an extension call it runs), 0 for none. */
    char *batch;                /* CONN_BATCH_MAX bytes, or NULL */
    uint32_t batch_len;
    bool batch_queued;          /* the batch is rs->out's first segment (being sent) */
    _Atomic uintptr_t gather_owner;
    size_t linger_read;

    /* access log for loop-served responses */
    unsigned log_status;
    uint64_t log_bytes;         /* body bytes of the current response conn_flush wrote */
    time_t log_time;

    /* The handler's state for the whole connection (filters: src/isapi/filter_req.c), or NULL.
     * Set by the handler on the loop thread while it has a request; the handler's session_end
     * frees it when the connection closes (conn_close). */
    void *session;
};

/* Accept path (loop thread). */
/* local: the listener's own address when it names one (saves a getsockname); NULL for a
 * wildcard listener. proxy_protocol: the connection must start with a PROXY protocol header
 * (src/http/proxyproto.h), else it is closed. Nothing is read here: the socket's first event
 * starts the connection, or conn_start_reading. Returns the connection, or NULL when it could
 * not be kept (out of memory, epoll_ctl failed: the socket is closed, and the failure logged). */
conn_t *conn_accept(netloop_t *nl, int fd, const struct sockaddr_storage *peer,
                    const struct sockaddr_storage *local, bool proxy_protocol);
/* Read now, as if the socket's first event had come: for a connection whose listener deferred
 * the accept until bytes came (TCP_DEFER_ACCEPT). Called from a loop task; the request it
 * starts may lose the loop. */
void conn_start_reading(conn_t *c);
/* Shutdown (loop thread): close idle keep-alive connections / force-close everything. */
void conn_close_idle(netloop_t *nl);
void conn_close_all(netloop_t *nl);
/* Timer expiry and freeing of closed connections (loop thread); returns the next deadline. */
uint64_t conn_timers_run(netloop_t *nl, uint64_t now_ms);
void conn_reap(netloop_t *nl);
/* Loop thread or after the loop stopped: free the loop's spare buffers. */
void conn_spares_free(netloop_t *nl);

/* --- used by the thread that currently owns an extension request --- */

/* Decoded body bytes into dst: >0 bytes, 0 end of body, -EAGAIN nothing buffered and the socket
 * has nothing now, -EPROTO malformed chunked framing, -EFBIG over the body limit,
 * -ECONNRESET the peer closed or failed before the end of the body. */
ssize_t conn_body_read(conn_t *c, void *dst, size_t cap);
/* Wait until the socket is readable (poll); 0, -ETIMEDOUT, or -errno. */
int conn_wait_readable(conn_t *c, uint32_t timeout_ms);
/* A synchronous read found no body bytes: wait for more (poll), up to timeout_ms without any,
 * under the minimum body rate (src/http/bodyrate.h). 0 readable, -ETIMEDOUT (no data for
 * timeout_ms, or the body fell under the minimum rate: logged), or -errno. */
int conn_body_wait(conn_t *c, uint32_t timeout_ms);
/* The event loop's side of the minimum body rate, for a read the loop drives (an asynchronous
 * read; read-ahead and discard use them inside conn.c). Loop thread only.
 * conn_body_wake: a wait for body bytes, if one was going on, is over: call before reading.
 * conn_body_sleep: a read found nothing: judge the ended windows (false: the body fell under
 * the minimum rate, logged, and the caller cuts it), then the wait begins, which the rate timer
 * judges while it lasts.
 * conn_body_wait_over: the wait ended without a read (the operation failed or timed out). */
void conn_body_wake(conn_t *c);
bool conn_body_sleep(conn_t *c);
void conn_body_wait_over(conn_t *c);
/* Send a chain (src/http/outchain.h), blocking the calling thread (poll on a full socket; the
 * send timeout applies per stall, and the minimum send rate to the time spent waiting:
 * src/http/sendrate.h): 0 or -errno (-ETIMEDOUT: a stall, or the client under the minimum send
 * rate, logged; -EPIPE, -ECONNRESET, -EIO: out_chain_send's). */
int conn_send_blocking(conn_t *c, out_chain_t *ch);
/* The batch of responses held back for one send (src/http/conn_batch.c), read by the thread
 * that writes the request's response (under the handler's lock): conn_send_blocking sends it
 * first, and an empty chain sends just the batch. */
static inline bool conn_batch_pending(const conn_t *c) { return c->batch_len != 0; }
/* Loop thread, before a handler hands a request it has not started writing to another thread:
 * send what the batch holds without blocking (what the socket does not take stays in it, for
 * that thread's first write), so earlier responses do not wait for the call. */
void conn_batch_try_send(conn_t *c);
/* The extension call that conn_request_start let gather its writes is over (the thread that
 * ran it, before anything else writes): later writes are sent, after the batch. */
static inline void conn_gather_end(conn_t *c)
{
    atomic_store_explicit(&c->gather_owner, 0, memory_order_relaxed);
}
/* The peer has closed or reset (checked without blocking). */
bool conn_peer_gone(conn_t *c);

/* Loop thread, under the request's lock (src/isapi/parked.h): the client of a parked session has gone;
 * close the descriptor, free the input buffer and head block. The connection object stays until
 * the session ends, and is then freed without a response. */
void conn_release_socket(conn_t *c);

/* Loop thread: the handler's request is over (it has freed it); send end->tail (taken over),
 * then the next request or the close, which may run an extension here (loop_kept_t). */
loop_kept_t conn_request_ended(conn_t *c, request_end_t *end);

/* --- what a handler reads of its connection (any thread: these do not change while it owns
 * the request, or are atomic) --- */

static inline loop_t *conn_loop(const conn_t *c) { return c->nl->loop; }
/* Which of the server's event loops c lives on: 0 .. n_loops - 1. */
static inline unsigned conn_loop_index(const conn_t *c) { return c->nl->index; }
/* The socket; -1 once released (conn_release_socket). Used by the request's threads only
 * between parked_socket_enter and parked_socket_leave, or on the loop. */
static inline int conn_fd(const conn_t *c) { return c->watch.fd; }
static inline const char *conn_peer_text(const conn_t *c) { return c->peer_text; }
static inline const char *conn_local_text(const conn_t *c) { return c->local_text; }
/* The handler's per-connection state (conn_t.session): loop thread, or the thread that owns the
 * connection's request. */
static inline void *conn_session(const conn_t *c) { return c->session; }
static inline void conn_set_session(conn_t *c, void *session) { c->session = session; }
/* The client allows another request on this connection, and the server agreed so far. */
static inline bool conn_keep_alive(const conn_t *c) { return c->keep_alive; }
/* A hang-up was seen (an event, conn_close_all, or a census that looked: conn_note_peer_gone). */
static inline bool conn_peer_gone_seen(conn_t *c) { return atomic_load(&c->peer_gone); }
static inline void conn_note_peer_gone(conn_t *c) { atomic_store(&c->peer_gone, true); }
/* The request body is over: none, or all of it read (the handler's threads, or the loop). */
static inline bool conn_body_over(const conn_t *c)
{
    return c->body_mode == BODY_NONE || c->body_done;
}

/* Loop thread, in request_new: how many body bytes to read ahead, at most max: 0 without a
 * body, the rest of a known length if shorter. */
uint32_t conn_readahead_size(const conn_t *c, uint32_t max);

/* --- for a handler that answers at once (handler_t.respond; loop thread) --- */

/* The request being answered (valid during respond). */
static inline const reqinfo_t *conn_reqinfo(const conn_t *c) { return &c->hd->ri; }
/* Queue a complete response: extra header lines (CRLF-terminated), then body (copied) or a file
 * range (fd taken over), not both; has_length false: no Content-Length, close after. */
void conn_respond(conn_t *c, unsigned status, const char *extra_lines, size_t extra_len,
                  const char *body, size_t body_len, int fd, uint64_t file_off,
                  uint64_t file_len, bool has_length);
/* The status's error page: the configured one (src/http/errorpage.h), else the built-in HTML. */
void conn_respond_error(conn_t *c, unsigned status, bool close_after);
/* The same with extra header lines (CRLF-terminated, at most CONN_ERROR_LINES_MAX bytes: a
 * static file's, as its 405's Allow) before the page's Content-Type. */
#define CONN_ERROR_LINES_MAX 768
void conn_respond_error_lines(conn_t *c, unsigned status, const char *lines, size_t lines_len,
                              bool close_after);

/* Loop thread: the handler's request that owns c now (CONN_EXTENSION), else NULL. */
static inline request_t *conn_request(const conn_t *c)
{
    return c->state == CONN_EXTENSION ? c->req : NULL;
}
/* Loop thread: nl's connections, all and by state (the status page's: src/status.h). idle:
 * waiting for a request; reading: a head or a body being read; writing: a handler owns the
 * request, or its response is being written or finished off. serving (may be NULL): the
 * connection being answered right now, counted as writing. */
typedef struct conn_census {
    unsigned active, reading, writing, idle;
} conn_census_t;
void conn_census(netloop_t *nl, const conn_t *serving, conn_census_t *out);

/* Loop thread: call fn for each of nl's connections whose request a handler owns. fn must not
 * close connections. */
void conn_for_each_request(netloop_t *nl, void (*fn)(conn_t *c, request_t *r, void *arg),
                           void *arg);

#endif
