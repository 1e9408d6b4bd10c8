#define _GNU_SOURCE
#include "conn.h"
#include "conn_internal.h"
#include "conn_async.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accesslog.h"
#include "httputil.h"
#include "log.h"
#include "path.h"
#include "resphead.h"
#include "route.h"
#include "loop_handler.h"

#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define LINGER_DISCARD_MAX (256 * 1024)


static void conn_next_request(conn_t *c);
static void conn_route(conn_t *c);


/* ------------------------------------------------------------------------------------------ */
/* Buffers and timers */

/* Armed through the loop (loop_timer_arm): one in an empty queue may come before anything the
 * last tick knew of. */
void conn_timer(conn_t *c, timeq_t *q) { loop_timer_arm(c->nl->loop, q, &c->timer); }

/* Read from the socket into the input buffer. 1 bytes read, 0 would block, -1 EOF or error. */
static int conn_fill(conn_t *c)
{
    if (c->in_end == c->in_cap)
        return 0;
    uint32_t room = c->in_cap - c->in_end;
    ssize_t n = recv(c->watch.fd, c->in + c->in_end, room, 0);
    if (n > 0) {
        c->in_end += (uint32_t)n;
        conn_note_short_read(c, (size_t)n, room);
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (errno == EAGAIN)
            c->readable = false;
        return 0;
    }
    return -1;
}

uint32_t conn_readahead_size(const conn_t *c, uint32_t max)
{
    if (c->body_mode == BODY_NONE)
        return 0;
    if (c->body_mode == BODY_LENGTH && c->body_left < max)
        return (uint32_t)c->body_left;
    return max;
}

bool conn_body_pending(const conn_t *c)
{
    return c->body_mode != BODY_NONE && !c->body_done;
}


/* What `OPTIONS *` answers: the methods the server itself implements for static files, and
 * those it passes on to extensions as well (which receive any method the parser knows). */
static const char options_allow[] = "Allow: OPTIONS, GET, HEAD, POST, PUT, DELETE\r\n";

static void conn_dispatch(conn_t *c)
{
    c->log_time = time(NULL);
    unsigned err = conn_build_reqinfo(c);
    if (err) {
        /* Framing errors leave the body unread: close after the response. */
        conn_respond_error(c, err, err != 404 && err != 403);
        return;
    }
    c->is_head = strcmp(c->hd->ri.method, "HEAD") == 0;
    conn_route(c);
}

/* Read a chunked body before answering (conn_route). The head's strings stay where they are,
 * in the input buffer (the response and its log line need them), so body bytes are read behind
 * the head: in_keep (also during an extension's read-ahead of a chunked body, conn_route). A
 * head that leaves too little room for that is refused. */
#define DRAIN_MIN_ROOM 1024u

static void conn_start_drain(conn_t *c)
{
    if (c->in_cap - c->in_start < DRAIN_MIN_ROOM) {
        conn_respond_error(c, 431, true);
        return;
    }
    c->in_keep = c->in_start;
    c->state = CONN_DRAIN;
    conn_timer(c, &c->nl->tq_body);
}

/* Answer the request the head describes (again after CONN_DRAIN, with the body read). */
static void conn_route(conn_t *c)
{
    /* A response of the loop's own goes out before the body is read (CONN_DISCARD after it),
     * which is safe when the body's length is known. A chunked body's framing can be broken
     * anywhere: read it first (bounded by the body limit, timeout and minimum rate), so that a
     * bad one gets 400 and a close instead of a response followed by a silent close. A client
     * that waits for 100 Continue sends no body: it is answered at once, and the connection
     * closed after (conn_respond). */
    bool drain_first = c->body_mode == BODY_CHUNKED && !c->body_done && !c->expect_continue;
    if (c->hd->ri.raw_target[0] == '*') { /* OPTIONS *, the only asterisk-form let through */
        if (drain_first) {
            conn_start_drain(c);
            return;
        }
        conn_respond(c, 200, options_allow, sizeof options_allow - 1, NULL, 0, -1, 0, 0, true);
        return;
    }
    route_t route;
    char route_mem[ROUTE_MEM_COMMON]; /* the route's strings: the route is done with, or kept
                                       * elsewhere (request_new: route_keep), before we return */
    const handler_t *h;
    const server_t *srv = c->nl->srv;
    if (srv->status_handler.respond && strcmp(c->hd->ri.path, srv->cfg->status_path) == 0) {
        /* --status: before every rule of the router (the page is the server's own) */
        route = (route_t){.kind = ROUTE_NOT_FOUND, .fd = -1};
        h = &srv->status_handler;
    } else {
        route_resolve_in(srv->router, c->hd->ri.path, route_mem, sizeof route_mem, &route);
        h = route.kind == ROUTE_EXTENSION || conn_handler(c)->takes_every_route ? conn_handler(c)
                                                                                 : &loop_handler;
    }
    if (drain_first && h->respond) {
        route_free(&route); /* resolved again once the body is in */
        conn_start_drain(c);
        return;
    }
    if (h->respond) {
        h->respond(h->ctx, c, &route);
        route_free(&route);
        return;
    }
    /* A handler that takes the request over: first the body read-ahead. A chunked body is
     * decoded through the input buffer; the head's strings there stay in use until the
     * extension has the request (a 408, 413 or 400 of the read-ahead is logged from them): body
     * bytes land behind the head, as for a drain. */
    if (c->body_mode == BODY_CHUNKED && !c->body_done) {
        if (c->in_cap - c->in_start < DRAIN_MIN_ROOM) {
            conn_respond_error(c, 431, true);
            route_free(&route);
            return;
        }
        c->in_keep = c->in_start;
    }
    uint32_t want = 0;
    request_t *r = h->request_new(h->ctx, c, &c->hd->ri, &route, &c->readahead, &want);
    route_release(&route); /* what the handler did not take over */
    if (!r) {
        conn_respond_error(c, 503, true);
        return;
    }
    c->req = r;
    c->readahead_want = want; /* decided by the handler */
    c->readahead_got = 0;
    c->state = CONN_READAHEAD;
    if (want)
        conn_timer(c, &c->nl->tq_body);
}

/* Parse what is buffered; read more when needed. Returns false when it must wait. */
static bool conn_step_head(conn_t *c)
{
    if (!c->in) {
        if (!c->readable)
            return false;
        int r = conn_first_read(c);
        if (r == 0)
            return false;
        if (r < 0) {
            conn_close(c);
            return false;
        }
    }
    for (;;) {
        if (c->proxy_pending && c->in_end > c->in_start && conn_proxy_header(c) < 0) {
            conn_close(c);
            return false;
        }
        if (!c->proxy_pending && c->in_end > c->in_start) {
            bool was_started = c->head_started;
            const char *start = c->in + c->in_start;
            llhttp_errno_t err = llhttp_execute(&c->hd->parser, start, c->in_end - c->in_start);
            if (err == HPE_OK) {
                /* The head needs more bytes: the header timeout runs from its first ones (a
                 * head already in the buffer, as pipelined ones are, costs no timer). */
                if (!was_started)
                    conn_timer(c, &c->nl->tq_header);
                c->in_start = c->in_end;
            } else if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
                /* on_message_complete paused right after the head. */
                c->in_start += (uint32_t)(llhttp_get_error_pos(&c->hd->parser) - start);
                if (err == HPE_PAUSED_UPGRADE) {
                    /* Not reached in practice (on_message_complete's pause comes first, and an
                     * Upgrade request is then served like any other, without a 101); kept so a
                     * parser that reports the upgrade still never switches protocols. */
                    llhttp_resume_after_upgrade(&c->hd->parser);
                    c->keep_alive = false;
                    c->close_after = true;
                } else {
                    llhttp_resume(&c->hd->parser);
                }
                c->body_done = c->body_mode == BODY_NONE ||
                               (c->body_mode == BODY_LENGTH && c->body_left == 0);
                timeq_disarm(&c->timer);
                conn_dispatch(c);
                return true;
            } else {
                unsigned status = c->parse_error_status ? (unsigned)c->parse_error_status : 400;
                if (err == HPE_INVALID_TRANSFER_ENCODING) {
                    /* "gzip" alone: a coding we do not know (501); chunked not last: 400. */
                    bool has_chunked = false;
                    for (unsigned i = 0; i < c->n_headers; i++) {
                        span_t n = c->hd->hname[i], v = c->hd->hvalue[i];
                        if (n.len == 17 && http_ascii_ncasecmp(c->in + n.off, "transfer-encoding", 17) == 0 &&
                            memmem(c->in + v.off, v.len, "chunked", 7))
                            has_chunked = true;
                    }
                    status = has_chunked ? 400 : 501;
                }
                long line = http_skip_empty_lines(c->in, c->in_end);
                if (line < 0)
                    status = 400;
                else if (err == HPE_INVALID_METHOD &&
                         http_method_token(c->in + line, c->in_end - (uint32_t)line) > 0)
                    status = 501; /* a method token, not one the server knows */
                log_debug("%s: bad request: %s", c->peer_text, llhttp_get_error_reason(&c->hd->parser));
                c->hd->ri.http_major = 1;
                /* The version, when the parser got that far; else answered as 1.1. */
                c->hd->ri.http_minor = c->hd->parser.http_major == 1 && c->hd->parser.http_minor == 0 ? 0 : 1;
                c->log_time = time(NULL);
                conn_respond_error(c, status, true);
                return true;
            }
        }
        if (c->in_end == c->in_cap) {
            c->hd->ri.http_major = 1;
            c->hd->ri.http_minor = 1;
            c->log_time = time(NULL);
            conn_respond_error(c, c->url_done ? 431 : 414, true);
            return true;
        }
        if (c->batch_len) { /* every request read is answered: the batch leaves first */
            conn_batch_queue(c);
            return true;
        }
        if (!c->readable)
            return false;
        int r = conn_fill(c);
        if (r == 0)
            return false;
        if (r < 0) {
            static log_limiter_t cut = LOG_LIMITER_INIT;
            if (c->proxy_pending)
                log_limited(&cut, LOG_WARN, "%s:%u: connection closed in the middle of its "
                            "PROXY protocol header", c->peer_text, c->peer_port);
            conn_close(c);
            return false;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Body read-ahead for an extension, discard, linger */

/* The body came too slowly during the read-ahead: the request never reaches the extension;
 * 408 and close. */
void conn_readahead_too_slow(conn_t *c)
{
    request_t *r = c->req;
    c->req = NULL;
    conn_handler(c)->request_discard(r);
    conn_respond_error(c, 408, true);
}

/* Starts the extension once the read-ahead is in: it may run on this thread (loop_kept_t). */
static loop_kept_t conn_step_readahead(conn_t *c)
{
    request_t *r = c->req;
    conn_body_wake(c);
    while (c->readahead_got < c->readahead_want) {
        ssize_t n = conn_body_read(c, c->readahead + c->readahead_got,
                                   c->readahead_want - c->readahead_got);
        if (n > 0) {
            c->readahead_got += (uint32_t)n;
            conn_timer(c, &c->nl->tq_body);
            continue;
        }
        if (n == 0)
            break;
        if (n == -EAGAIN) {
            c->readable = false;
            if (!conn_body_sleep(c))
                conn_readahead_too_slow(c);
            return LOOP_KEPT;
        }
        /* The request never reaches the extension. */
        c->req = NULL;
        conn_handler(c)->request_discard(r);
        if (n == -ECONNRESET) {
            conn_close(c);
            return LOOP_KEPT;
        }
        conn_respond_error(c, n == -EFBIG ? 413 : 400, true);
        return LOOP_KEPT;
    }
    timeq_disarm(&c->timer);
    c->state = CONN_EXTENSION;
    if (c->hup_seen) /* the edge went by before the handler had the request: report it again */
        (void)loop_mod(c->nl->loop, &c->watch, CONN_EVENTS);
    conn_release_unreadable(c);
    conn_gather_begin(c);
    if (conn_handler(c)->request_start(r, c->readahead_got) == LOOP_LOST)
        return LOOP_LOST; /* the call ended its gathering (conn_gather_end) */
    conn_gather_end(c);
    return LOOP_KEPT;
}


/* Read and drop a body: the rest of it after its response (CONN_DISCARD), or all of it before
 * the loop answers (CONN_DRAIN, see conn_route). */
static void conn_step_discard(conn_t *c)
{
    char scratch[16384];
    /* After the response there is nothing left to tell the client: failures just close. */
    bool answered = c->state == CONN_DISCARD;
    conn_body_wake(c);
    for (;;) {
        ssize_t n = conn_body_read(c, scratch, sizeof scratch);
        if (n > 0) {
            conn_timer(c, &c->nl->tq_body);
            continue;
        }
        if (n == 0) {
            timeq_disarm(&c->timer);
            if (answered)
                conn_next_request(c);
            else
                conn_route(c);
            return;
        }
        if (n == -EAGAIN) {
            c->readable = false;
            if (!timeq_node_armed(&c->timer))
                conn_timer(c, &c->nl->tq_body);
            if (!conn_body_sleep(c)) {
                if (answered)
                    conn_close(c);
                else
                    conn_respond_error(c, 408, true);
            }
            return;
        }
        if (answered || n == -ECONNRESET)
            conn_close(c);
        else
            conn_respond_error(c, n == -EFBIG ? 413 : 400, true);
        return;
    }
}

/* Lingering close: the response is out; shut our side and read what the client still sends for
 * a moment, so that unread input does not turn into a reset that destroys the response before
 * the client has read it. */
static void conn_start_linger(conn_t *c)
{
    shutdown(c->watch.fd, SHUT_WR);
    c->state = CONN_LINGER;
    c->linger_read = 0;
    conn_timer(c, &c->nl->tq_linger);
    c->readable = true;
}

static void conn_step_linger(conn_t *c)
{
    char scratch[4096];
    for (;;) {
        ssize_t n = recv(c->watch.fd, scratch, sizeof scratch, 0);
        if (n > 0) {
            c->linger_read += (size_t)n;
            if (c->linger_read > LINGER_DISCARD_MAX)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            c->readable = false;
            return;
        }
        break;
    }
    conn_close(c);
}

/* ------------------------------------------------------------------------------------------ */
/* Response completion and the next request */

static void conn_log(conn_t *c)
{
    accesslog_t *log = c->nl->srv->access_log;
    if (!log || c->log_status == 0)
        return;
    accesslog_entry_t e;
    /* The request's client: a trusted proxy's X-Forwarded-For, else the peer. */
    const char *client = c->hd->ri.remote_addr ? c->hd->ri.remote_addr : c->peer_text;
    accesslog_entry_fill(&e, &c->hd->ri, client, c->log_time ? c->log_time : time(NULL),
                         c->log_status, c->log_bytes, NULL);
    accesslog_write(log, &e);
}

static void conn_response_done(conn_t *c)
{
    bool closing = c->close_after || !c->keep_alive || c->nl->draining;
    if (closing && c->batch_len) {
        /* A response that wrote nothing of its own (an extension's): the batch leaves before
         * the close; conn_drive sends it and comes back here. */
        conn_batch_queue(c);
        return;
    }
    /* This loop's thread is the counter's one writer: a plain add, published for the readers
     * (the health check, the status page) with a relaxed store, no locked instruction. */
    atomic_store_explicit(&c->nl->requests,
                          atomic_load_explicit(&c->nl->requests, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    conn_log(c);
    c->log_status = 0;
    if (closing) {
        if (conn_body_pending(c) || c->in_end > c->in_start)
            conn_start_linger(c);
        else
            conn_close(c);
        return;
    }
    if (conn_body_pending(c)) {
        c->state = CONN_DISCARD;
        conn_timer(c, &c->nl->tq_body);
        return;
    }
    conn_next_request(c);
}

/* Reset per-request state; keep pipelined bytes (moved to the buffer's start). */
static void conn_next_request(conn_t *c)
{
    conn_pathbuf_free(c);
    c->url = (span_t){0, 0};
    c->n_headers = 0;
    c->hstate = 0;
    c->url_done = c->head_started = c->head_done = false;
    c->in_keep = 0;
    c->parse_error_status = 0;
    c->keep_alive = c->expect_continue = c->sent_continue = c->is_head = false;
    c->body_mode = BODY_NONE;
    c->body_left = c->body_read = 0;
    c->body_done = false;
    body_rate_reset(&c->body_rate);
    timeq_disarm(&c->rate_timer); /* not armed here: every wait ended; kept as a safety net */
    c->close_after = false;
    c->log_bytes = 0;
    c->log_time = 0;
    c->state = CONN_HEAD;
    /* Going idle, the buffers go back (idle keep-alive connections cost little memory), and
     * conn_first_read sets up the next request's parser, view and send rate in whatever blocks
     * it takes: nothing of them is reset here. */
    uint32_t pending = c->in ? c->in_end - c->in_start : 0;
    if (!c->in) {
        if (c->rs)
            conn_release_input(c, CONN_SPARES); /* the head went when a handler took the request */
    } else if (pending == 0 && !c->batch_len) {
        conn_release_input(c, CONN_SPARES);
        conn_batch_release(c);
    } else {
        /* Pipelined bytes, or a batch still to send before the next read (the buffers stay
         * until it is out): the next head starts at the buffer's start. */
        memmove(c->in, c->in + c->in_start, pending);
        c->in_start = 0;
        c->in_end = pending;
        memset(&c->hd->ri, 0, sizeof c->hd->ri);
        llhttp_reset(&c->hd->parser);
        if (c->rs) {
            timeq_disarm(&c->rs->send_rate.timer); /* not armed here: kept as a safety net */
            send_rate_reset(&c->rs->send_rate, c);
        }
    }
    if (c->in && c->in_end > 0)
        timeq_disarm(&c->timer); /* conn_step_head times the head if it is not all there */
    else
        conn_timer(c, &c->nl->tq_keepalive);
}

/* ------------------------------------------------------------------------------------------ */
/* The state machine */

loop_kept_t conn_drive(conn_t *c)
{
    for (;;) {
        if (conn_output_pending(c) && (!conn_batch_take(c) || conn_output_pending(c))) {
            conn_batch_prepend(c); /* what waits in the batch goes first */
            if (!c->writable)
                return LOOP_KEPT;
            int r = conn_flush(c);
            if (r == 0)
                return LOOP_KEPT;
            if (r < 0) {
                conn_close(c);
                return LOOP_KEPT;
            }
            if (c->state != CONN_SENDING) /* a batch sent before a read: its wait's timer */
                conn_timer(c, c->state == CONN_HEAD
                                  ? (c->in_end > 0 ? &c->nl->tq_header : &c->nl->tq_keepalive)
                                  : &c->nl->tq_body);
        }
        switch (c->state) {
        case CONN_HEAD:
            if (!conn_step_head(c))
                return LOOP_KEPT;
            break;
        case CONN_READAHEAD:
            if (c->batch_len && conn_readahead_reads_socket(c)) {
                conn_batch_queue(c); /* sent before the body is read */
                continue;
            }
            if (conn_step_readahead(c) == LOOP_LOST)
                return LOOP_LOST; /* c may be gone already */
            if (c->state == CONN_READAHEAD)
                return LOOP_KEPT;
            break;
        case CONN_EXTENSION:
            return LOOP_KEPT;
        case CONN_SENDING:
            conn_response_done(c);
            break;
        case CONN_DISCARD:
        case CONN_DRAIN:
            if (c->batch_len) {
                conn_batch_queue(c);
                continue;
            }
            conn_step_discard(c);
            if (c->state == CONN_DISCARD || c->state == CONN_DRAIN)
                return LOOP_KEPT;
            break;
        case CONN_LINGER:
            conn_step_linger(c);
            return LOOP_KEPT;
        case CONN_CLOSED:
            return LOOP_KEPT;
        }
        if (c->state == CONN_CLOSED)
            return LOOP_KEPT;
    }
}

static void conn_on_event(loop_watch_t *w, uint32_t events)
{
    conn_t *c = (conn_t *)w;
    if (c->state == CONN_EXTENSION) {
        /* The extension owns the socket's I/O, except for an asynchronous operation it handed
         * to this loop; otherwise only note that the peer went away, and what the edge said
         * about reading (the next request's read, once the handler gives the connection back,
         * goes by it). */
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            c->readable = true;
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            c->hup_seen = true;
            atomic_store(&c->peer_gone, true);
        }
        if (c->op)
            conn_async_drive(c);
        if (atomic_load(&c->peer_gone))
            conn_handler(c)->peer_left(c->req); /* the socket goes now, or when its last use ends */
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->hup_seen = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        c->writable = true;
    if ((events & (EPOLLHUP | EPOLLERR)) && c->state != CONN_LINGER && !conn_output_pending(c) &&
        c->state == CONN_HEAD && c->in_end == c->in_start) {
        conn_close(c);
        return;
    }
    (void)conn_drive(c); /* a loop callback: the loop sees for itself whether it lost the loop */
}

void conn_start_reading(conn_t *c)
{
    c->readable = true;
    (void)conn_drive(c); /* a loop task: the loop sees for itself whether it lost the loop */
}

conn_t *conn_accept(netloop_t *nl, int fd, const struct sockaddr_storage *peer,
                    const struct sockaddr_storage *local, bool proxy_protocol)
{
    static log_limiter_t no_conn = LOG_LIMITER_INIT;
    conn_t *c = spare_pop(&nl->spare_conn, &nl->n_spare_conn);
    if (c)
        memset(c, 0, sizeof *c);
    else
        c = calloc(1, sizeof *c);
    if (!c) {
        log_limited(&no_conn, LOG_ERROR, "out of memory for a new connection: closing it");
        close(fd);
        return NULL;
    }
    c->watch.fd = fd;
    c->watch.on_event = conn_on_event;
    c->nl = nl;
    c->out_fd = -1;
    c->proxy_pending = proxy_protocol;
    struct sockaddr_storage own;
    if (!local) {
        socklen_t len = sizeof own;
        memset(&own, 0, sizeof own);
        getsockname(fd, (struct sockaddr *)&own, &len);
        local = &own;
    }
    conn_sockaddr_text(peer, c->peer_text, sizeof c->peer_text, &c->peer_port);
    conn_sockaddr_text(local, c->local_text, sizeof c->local_text, &c->local_port);
    c->state = CONN_HEAD;
    c->writable = true;
    /* The first read waits for the first edge (or conn_start_reading): epoll_ctl(ADD) reports
     * bytes that came before it, and a read now would mostly find none unless the listener
     * deferred the accept (a client sends its request once its connect completes, which is
     * also when the accept queue hands the connection over: under `Connection: close` load,
     * 86% of such reads failed with EAGAIN). */
    c->readable = false;
    int rc = loop_add(nl->loop, &c->watch, CONN_EVENTS);
    if (rc < 0) {
        log_limited(&no_conn, LOG_ERROR, "cannot watch a new connection: epoll_ctl: %s; closing it",
                    strerror(-rc));
        close(fd);
        free(c);
        return NULL;
    }
    c->next = nl->conns;
    if (nl->conns)
        nl->conns->prev = c;
    nl->conns = c;
    atomic_fetch_add(&nl->srv->open_conns, 1);
    conn_timer(c, &nl->tq_header);
    return c;
}

/* Out of the loop's set, then closed: the close takes the socket out of the kernel's set (no
 * epoll_ctl, as nginx does), and the loop drops what is still reported for a socket another
 * process holds (a child an extension forked: loop_forget). */
static void conn_unwatch_and_close(conn_t *c)
{
    loop_forget(c->nl->loop, &c->watch);
    close(c->watch.fd);
    c->watch.fd = -1;
}

void conn_release_socket(conn_t *c)
{
    timeq_disarm(&c->timer);
    timeq_disarm(&c->rate_timer);
    conn_unwatch_and_close(c);
    conn_release_input(c, 1); /* and the pathbuf: the request has its own copies of the head */
    netloop_descriptor_freed(c->nl);
}

void conn_close(conn_t *c)
{
    if (c->state == CONN_CLOSED)
        return;
    netloop_t *nl = c->nl;
    c->state = CONN_CLOSED;
    timeq_disarm(&c->timer);
    timeq_disarm(&c->rate_timer);
    if (c->rs)
        timeq_disarm(&c->rs->send_rate.timer);
    if (c->watch.fd >= 0) { /* -1: released already (conn_release_socket) */
        conn_unwatch_and_close(c);
        netloop_descriptor_freed(nl);
    }
    conn_output_free(c);
    if (c->req) { /* only in READAHEAD: the extension never saw it */
        conn_handler(c)->request_discard(c->req);
        c->req = NULL;
    }
    if (c->session) {
        conn_handler(c)->session_end(c, c->session);
        c->session = NULL;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        nl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* Freed at the end of the loop iteration: an event for this connection may still be in the
     * current epoll batch. */
    c->next = nl->closed;
    nl->closed = c;
    loop_deadline(nl->loop, 0); /* the tick frees it (conn_reap) */
    atomic_fetch_sub(&nl->srv->open_conns, 1);
}

void conn_reap(netloop_t *nl)
{
    while (nl->closed) {
        conn_t *c = nl->closed;
        nl->closed = c->next;
        conn_release_input(c, CONN_SPARES); /* the next connections' first reads */
        conn_batch_release(c);
        spare_push(&nl->spare_conn, &nl->n_spare_conn, CONN_SPARES, c);
    }
}

loop_kept_t conn_request_ended(conn_t *c, request_end_t *end)
{
    c->req = NULL;
    conn_gather_end(c);
    if (c->watch.fd < 0) { /* released: the client left while the session was pending */
        free(end->tail);
        conn_close(c);
        return LOOP_KEPT;
    }
    /* The extension's threads may have read a body from the socket, and have written to it:
     * that readiness is unknown. Without a body, only the loop read it, and every edge while
     * the handler had the request was noted (conn_on_event): `readable` still holds. */
    if (c->body_mode != BODY_NONE)
        c->readable = true;
    c->writable = true;
    c->state = CONN_SENDING;
    c->log_status = 0; /* the request wrote its own access log line */
    if (!end->keep_alive)
        c->close_after = true;
    if (atomic_load(&c->peer_gone) && !end->tail) {
        conn_close(c);
        return LOOP_KEPT;
    }
    if (end->tail && !conn_resp_take(c)) {
        static log_limiter_t no_mem = LOG_LIMITER_INIT;
        log_limited(&no_mem, LOG_ERROR, "%s: out of memory for the end of a response: closing "
                    "the connection", c->peer_text);
        free(end->tail);
        conn_close(c);
        return LOOP_KEPT;
    }
    if (end->tail)
        conn_queue(c, end->tail, end->tail_len, -1, 0, 0);
    return conn_drive(c); /* a pipelined request may run an extension on this thread */
}
