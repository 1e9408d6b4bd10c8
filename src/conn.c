#define _GNU_SOURCE
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accesslog.h"
#include "httputil.h"
#include "isapi.h"
#include "log.h"
#include "parked.h"
#include "path.h"
#include "resphead.h"
#include "route.h"
#include "static_file.h"

#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define LINGER_DISCARD_MAX (256 * 1024)

static llhttp_settings_t parser_settings;
static pthread_once_t parser_settings_once = PTHREAD_ONCE_INIT;

static void conn_drive(conn_t *c);
static bool conn_body_pending(const conn_t *c);
static void conn_close(conn_t *c);
static void conn_next_request(conn_t *c);
static void conn_route(conn_t *c);

/* ------------------------------------------------------------------------------------------ */
/* llhttp callbacks. Spans are recorded as offsets into c->in: the head is parsed in place and
 * the buffer is never moved while a head is being parsed, so successive pieces of one field are
 * adjacent and simply extend it. */

static conn_t *parser_conn(llhttp_t *p) { return p->data; }

static uint32_t offset_of(conn_t *c, const char *at) { return (uint32_t)(at - c->in); }

static int on_message_begin(llhttp_t *p)
{
    conn_t *c = parser_conn(p);
    c->head_started = true;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = parser_conn(p);
    if (c->url.len == 0)
        c->url.off = offset_of(c, at);
    c->url.len += (uint32_t)len;
    if (c->url.len > c->nl->srv->cfg->max_uri_bytes) {
        c->parse_error_status = 414;
        return HPE_USER;
    }
    return 0;
}

static int on_url_complete(llhttp_t *p)
{
    parser_conn(p)->url_done = true;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = parser_conn(p);
    if (c->hstate != 1) {
        if (c->n_headers == CONN_MAX_HEADERS) {
            c->parse_error_status = 431;
            return HPE_USER;
        }
        unsigned i = c->n_headers++;
        c->hd->hname[i] = (span_t){offset_of(c, at), 0};
        c->hd->hvalue[i] = (span_t){0, 0};
        c->hstate = 1;
    }
    c->hd->hname[c->n_headers - 1].len += (uint32_t)len;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = parser_conn(p);
    span_t *v = &c->hd->hvalue[c->n_headers - 1];
    if (c->hstate != 2) {
        v->off = offset_of(c, at);
        v->len = 0;
        c->hstate = 2;
    }
    v->len += (uint32_t)len;
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    parser_conn(p)->hstate = 0;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    conn_t *c = parser_conn(p);
    c->head_done = true;
    /* Decided here: llhttp clears its flags once the message completes. */
    c->keep_alive = llhttp_should_keep_alive(p) != 0;
    if (p->flags & F_CHUNKED) {
        c->body_mode = BODY_CHUNKED;
        chunked_init(&c->chunked);
    } else if (p->flags & F_CONTENT_LENGTH) {
        c->body_mode = BODY_LENGTH;
        c->body_left = p->content_length;
    } else {
        c->body_mode = BODY_NONE;
    }
    /* Bodies are read by conn_body_read, not by llhttp (its chunked decoder in the packaged
     * version does not check the CRLF after chunk data): tell it the message has no body, so
     * that it stops right after the head. */
    return 1;
}

static int on_message_complete(llhttp_t *p)
{
    (void)p;
    return HPE_PAUSED; /* stop exactly at the end of the head: body and pipelined bytes stay */
}

static void parser_settings_init(void)
{
    llhttp_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_url_complete = on_url_complete;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_header_value_complete = on_header_value_complete;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_message_complete = on_message_complete;
}

/* ------------------------------------------------------------------------------------------ */
/* Buffers and timers */

static config_t *conn_cfg(conn_t *c) { return c->nl->srv->cfg; }

static uint32_t conn_input_cap(conn_t *c)
{
    uint32_t cap = conn_cfg(c)->max_header_bytes;
    return cap < 1024 ? 1024 : cap;
}

/* Give the connection's buffers back to the loop's spares (or free them). */
static void conn_release_input(conn_t *c)
{
    netloop_t *nl = c->nl;
    if (c->in && !nl->spare_in)
        nl->spare_in = c->in;
    else
        free(c->in);
    if (c->hd)
        timeq_disarm(&c->hd->send_rate.timer); /* not armed here: kept as a safety net */
    if (c->hd && !nl->spare_hd)
        nl->spare_hd = c->hd;
    else
        free(c->hd);
    c->in = NULL;
    c->hd = NULL;
    c->in_cap = c->in_start = c->in_end = 0;
}

/* First read of a request on a connection without buffers: into the loop's spare buffer, which
 * becomes the connection's only if bytes came. 1 bytes read, 0 would block, -1 EOF/error/ENOMEM. */
static int conn_first_read(conn_t *c)
{
    netloop_t *nl = c->nl;
    uint32_t cap = conn_input_cap(c);
    if (!nl->spare_in && !(nl->spare_in = malloc(cap)))
        return -1;
    ssize_t n = recv(c->watch.fd, nl->spare_in, cap, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (errno == EAGAIN)
            c->readable = false;
        return 0;
    }
    if (n <= 0)
        return -1;
    c->hd = nl->spare_hd ? nl->spare_hd : malloc(sizeof *c->hd);
    if (!c->hd)
        return -1;
    nl->spare_hd = NULL;
    memset(&c->hd->ri, 0, sizeof c->hd->ri);
    llhttp_init(&c->hd->parser, HTTP_REQUEST, &parser_settings);
    /* Any HTTP/d.d gets through (llhttp_reset keeps the flag): conn_build_reqinfo answers 505
     * for a major version other than 1 and serves a higher 1.x as 1.1 (RFC 9110 §2.5), which
     * strict llhttp would refuse outright. */
    c->hd->parser.lenient_flags |= LENIENT_VERSION;
    c->hd->parser.data = c;
    send_rate_reset(&c->hd->send_rate, c);
    c->in = nl->spare_in;
    nl->spare_in = NULL;
    c->in_cap = cap;
    c->in_start = 0;
    c->in_end = (uint32_t)n;
    return 1;
}

static void conn_timer(conn_t *c, timeq_t *q)
{
    timeq_arm(q, &c->timer, loop_now(c->nl->loop));
}

/* Read from the socket into the input buffer. 1 bytes read, 0 would block, -1 EOF or error. */
static int conn_fill(conn_t *c)
{
    if (c->in_end == c->in_cap)
        return 0;
    ssize_t n = recv(c->watch.fd, c->in + c->in_end, c->in_cap - c->in_end, 0);
    if (n > 0) {
        c->in_end += (uint32_t)n;
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (errno == EAGAIN)
            c->readable = false;
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Body reading (loop thread, or the thread owning an extension request) */

/* The client sent "Expect: 100-continue" and waits for this before sending the body: say it
 * when the body is first needed (never for a response that does not read the body). */
static void conn_send_continue(conn_t *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    c->sent_continue = true;
    ssize_t n = send(c->watch.fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
    (void)n; /* a full or failed socket shows up on the next read or write */
}

ssize_t conn_body_read(conn_t *c, void *dst, size_t cap)
{
    if (c->body_done || c->body_mode == BODY_NONE)
        return 0;
    if (cap == 0)
        return -EINVAL;
    uint64_t max_body = conn_cfg(c)->max_body_bytes;
    for (;;) {
        uint32_t avail = c->in_end - c->in_start;
        if (avail == 0 && c->expect_continue && !c->sent_continue)
            conn_send_continue(c);
        if (c->body_mode == BODY_LENGTH) {
            if (c->body_left == 0) {
                c->body_done = true;
                return 0;
            }
            size_t want = cap < c->body_left ? cap : (size_t)c->body_left;
            ssize_t n;
            if (avail > 0) {
                n = (ssize_t)(want < avail ? want : avail);
                if (dst)
                    memcpy(dst, c->in + c->in_start, (size_t)n);
                c->in_start += (uint32_t)n;
            } else if (dst) {
                /* Nothing buffered: receive straight into the caller's buffer. */
                n = recv(c->watch.fd, dst, want, 0);
            } else {
                c->in_start = c->in_end = c->in_keep;
                if (want > c->in_cap - c->in_keep)
                    want = c->in_cap - c->in_keep;
                n = recv(c->watch.fd, c->in + c->in_keep, want, 0);
            }
            if (n == 0)
                return -ECONNRESET;
            if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : -ECONNRESET;
            c->body_left -= (uint64_t)n;
            c->body_read += (uint64_t)n;
            if (c->body_left == 0)
                c->body_done = true;
            return n;
        }

        /* Chunked. */
        if (avail == 0) {
            c->in_start = c->in_end = c->in_keep;
            ssize_t n = recv(c->watch.fd, c->in + c->in_keep, c->in_cap - c->in_keep, 0);
            if (n == 0)
                return -ECONNRESET;
            if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : -ECONNRESET;
            c->in_end = c->in_keep + (uint32_t)n;
            continue;
        }
        size_t used, got;
        chunked_status_t st = chunked_decode(&c->chunked, c->in + c->in_start, avail, dst, cap,
                                             &used, &got);
        c->in_start += (uint32_t)used;
        c->body_read += got;
        if (st == CHUNKED_ERROR)
            return -EPROTO;
        if (max_body && c->body_read > max_body)
            return -EFBIG;
        if (st == CHUNKED_DONE)
            c->body_done = true;
        if (got > 0)
            return (ssize_t)got;
        if (c->body_done)
            return 0;
    }
}

int conn_wait_readable(conn_t *c, uint32_t timeout_ms)
{
    struct pollfd pfd = {.fd = c->watch.fd, .events = POLLIN | POLLRDHUP};
    for (;;) {
        int r = poll(&pfd, 1, (int)timeout_ms);
        if (r > 0)
            return 0;
        if (r == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Minimum body rate (src/bodyrate.h). c->body_rate belongs to the thread reading the body, as
 * the other body fields do; c->rate_timer to the loop. */

/* Judges the windows that have ended by now (the reader has consumed what there was, or its
 * wait ran past a window's end); false (logged once per body) when the body fell under the
 * minimum rate. Any thread that reads the body. */
static bool conn_body_rate_ok(conn_t *c, uint64_t now)
{
    const config_t *cfg = conn_cfg(c);
    uint64_t got = 0;
    bool already = c->body_rate.failed;
    if (body_rate_check(&c->body_rate, cfg->min_body_rate, cfg->body_rate_window_ms, c->body_read,
                        now, &got))
        return true;
    if (!already)
        log_info("%s: request body too slow: %llu bytes in %u ms of waiting for it, under the "
                 "minimum of %u bytes/s (%llu needed); %llu body bytes received in all; cutting it",
                 c->peer_text, (unsigned long long)got, cfg->body_rate_window_ms,
                 cfg->min_body_rate,
                 (unsigned long long)body_rate_quota(cfg->min_body_rate, cfg->body_rate_window_ms),
                 (unsigned long long)c->body_read);
    return false;
}

int conn_body_wait(conn_t *c, uint32_t timeout_ms)
{
    const config_t *cfg = conn_cfg(c);
    if (cfg->min_body_rate == 0)
        return conn_wait_readable(c, timeout_ms);
    /* The caller has consumed what there was: judge, then wait. Each poll ends no later than
     * the current window, so that a window that came short is cut when it ends; after one that
     * did not, the wait goes on in the next window, still bounded by the body timeout in all.
     * Only the time inside poll is waiting time: the two clock reads around it are the rule's
     * whole cost here (vDSO, no system call). */
    uint64_t now = clock_now_ms(), start = now;
    for (;;) {
        if (!conn_body_rate_ok(c, now))
            return -ETIMEDOUT;
        uint64_t silent = now - start;
        if (silent >= timeout_ms)
            return -ETIMEDOUT;
        uint32_t t = timeout_ms - (uint32_t)silent;
        uint32_t left = body_rate_left(&c->body_rate, cfg->min_body_rate, cfg->body_rate_window_ms);
        bool capped = left < t;
        if (capped)
            t = left;
        body_rate_wait(&c->body_rate, now);
        int w = conn_wait_readable(c, t);
        now = clock_now_ms();
        body_rate_stop(&c->body_rate, now);
        if (w != -ETIMEDOUT || !capped)
            return w;
    }
}

void conn_body_wake(conn_t *c)
{
    if (!c->body_rate.waiting)
        return;
    timeq_disarm(&c->rate_timer);
    body_rate_stop(&c->body_rate, loop_now(c->nl->loop));
}

bool conn_body_sleep(conn_t *c)
{
    if (conn_cfg(c)->min_body_rate == 0)
        return true;
    uint64_t now = loop_now(c->nl->loop);
    if (!conn_body_rate_ok(c, now))
        return false;
    body_rate_wait(&c->body_rate, now);
    /* Bytes wake the reader; the timer judges a wait that goes on without them. */
    if (!timeq_node_armed(&c->rate_timer))
        timeq_arm(&c->nl->tq_rate, &c->rate_timer, now);
    return true;
}

void conn_body_wait_over(conn_t *c)
{
    timeq_disarm(&c->rate_timer);
    body_rate_stop(&c->body_rate, loop_now(c->nl->loop));
}

int out_send(int fd, out_cursor_t *cur)
{
    while (cur->i < cur->n) {
        out_seg_t *seg = &cur->segs[cur->i];
        ssize_t n;
        if (seg->len == cur->seg_done) {
            cur->i++;
            cur->seg_done = 0;
            continue;
        }
        if (seg->mem) {
            /* Gather consecutive memory segments into one sendmsg. */
            struct iovec iov[16];
            int cnt = 0;
            size_t k = cur->i;
            for (; k < cur->n && cnt < 16 && cur->segs[k].mem; k++) {
                uint64_t skip = k == cur->i ? cur->seg_done : 0;
                iov[cnt].iov_base = (char *)cur->segs[k].mem + skip;
                iov[cnt].iov_len = (size_t)(cur->segs[k].len - skip);
                cnt++;
            }
            struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
            n = sendmsg(fd, &msg, MSG_NOSIGNAL | (k < cur->n ? MSG_MORE : 0));
        } else {
            /* sendfile has no MSG_MORE: cork so that what follows the file (a tail, the chunk's
             * CRLF) shares its last packet. */
            if (!cur->corked && cur->i + 1 < cur->n) {
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one);
                cur->corked = true;
            }
            off_t off = (off_t)(seg->off + cur->seg_done);
            uint64_t left = seg->len - cur->seg_done;
            n = sendfile(fd, seg->fd, &off, left > (1u << 30) ? (1u << 30) : (size_t)left);
            if (n == 0)
                return -EIO; /* the file is shorter than the range promised */
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -errno;
        }
        /* Account the bytes over the segments they covered. */
        uint64_t left = (uint64_t)n;
        while (left > 0 && cur->i < cur->n) {
            out_seg_t *s2 = &cur->segs[cur->i];
            uint64_t room = s2->len - cur->seg_done;
            uint64_t take = left < room ? left : room;
            cur->seg_done += take;
            if (s2->payload)
                cur->payload_sent += take;
            cur->bytes += take;
            left -= take;
            if (cur->seg_done == s2->len) {
                cur->i++;
                cur->seg_done = 0;
            }
        }
    }
    if (cur->corked) {
        int zero = 0;
        setsockopt(fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
        cur->corked = false;
    }
    return 1;
}

int conn_send_blocking(conn_t *c, out_cursor_t *cur)
{
    uint32_t timeout = conn_cfg(c)->send_timeout_ms;
    send_rate_t *rate = c->hd ? &c->hd->send_rate : NULL;
    uint64_t stall_start = 0;
    bool stalled = false;
    for (;;) {
        uint64_t before = cur->bytes;
        int r = out_send(c->watch.fd, cur);
        if (rate)
            send_rate_took(rate, cur->bytes - before);
        if (r == 1)
            return 0;
        if (r < 0)
            return r;
        /* The socket is full. The send timeout counts from the last progress; each poll also
         * ends with the minimum send rate's current window, which is then judged. The clock
         * is read only here, on a full socket. */
        uint64_t now = clock_now_ms();
        if (!stalled || cur->bytes != before) {
            stalled = true;
            stall_start = now;
        }
        if (now - stall_start >= timeout)
            return -ETIMEDOUT;
        uint32_t t = timeout - (uint32_t)(now - stall_start);
        if (rate && !send_rate_full(rate, now, &t))
            return -ETIMEDOUT; /* under the minimum send rate: logged */
        struct pollfd pfd = {.fd = c->watch.fd, .events = POLLOUT};
        int p;
        do
            p = poll(&pfd, 1, (int)t);
        while (p < 0 && errno == EINTR);
        if (rate)
            send_rate_drained(rate, clock_now_ms());
        if (p < 0)
            return -errno;
        if (p > 0 && (pfd.revents & (POLLERR | POLLHUP)) && !(pfd.revents & POLLOUT))
            return -EPIPE;
        /* p == 0: the window or the timeout ended; the next round sends, then judges. */
    }
}

bool conn_peer_gone(conn_t *c)
{
    if (atomic_load(&c->peer_gone))
        return true;
    struct pollfd pfd = {.fd = c->watch.fd, .events = POLLRDHUP};
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return true;
    return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Output from the loop */

/* Queue a buffer (taken over) and optionally a file range for sending. */
static void conn_queue(conn_t *c, char *buf, size_t len, int fd, uint64_t off, uint64_t count)
{
    /* One response (or response tail) at a time: the state machine flushes it before it
     * queues anything else. */
    c->out = buf;
    c->out_len = len;
    c->out_off = 0;
    c->out_fd = fd;
    c->file_off = off;
    c->file_left = count;
}

static bool conn_output_pending(const conn_t *c) { return c->out != NULL || c->out_fd >= 0; }

static void conn_output_free(conn_t *c)
{
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->out_fd >= 0) {
        close(c->out_fd);
        netloop_descriptor_freed(c->nl);
    }
    c->out_fd = -1;
    c->file_left = 0;
}

/* 1 everything sent, 0 the socket is full (wait for EPOLLOUT), -1 failed. */
static int conn_flush(conn_t *c)
{
    bool progress = false;
    int result = 1;
    uint64_t sent_before = c->log_bytes;
    conn_send_drained(c); /* a wait for the socket, if one went on, is over */
    while (c->out && c->out_off < c->out_len) {
        int flags = MSG_NOSIGNAL | (c->file_left ? MSG_MORE : 0);
        ssize_t n = send(c->watch.fd, c->out + c->out_off, c->out_len - c->out_off, flags);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            result = errno == EAGAIN ? 0 : -1;
            goto out;
        }
        c->out_off += (size_t)n;
        c->log_bytes += (uint64_t)n;
        progress = true;
    }
    while (c->file_left > 0) {
        off_t off = (off_t)c->file_off;
        size_t chunk = c->file_left > (1u << 30) ? (1u << 30) : (size_t)c->file_left;
        ssize_t n = sendfile(c->watch.fd, c->out_fd, &off, chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            result = errno == EAGAIN ? 0 : -1;
            goto out;
        }
        if (n == 0) { /* the file shrank under us: the promised length cannot be kept */
            log_warn("%s: file shorter than announced, closing", c->peer_text);
            result = -1;
            goto out;
        }
        c->file_off += (uint64_t)n;
        c->file_left -= (uint64_t)n;
        c->log_bytes += (uint64_t)n;
        progress = true;
    }
out:
    if (c->hd)
        send_rate_took(&c->hd->send_rate, c->log_bytes - sent_before);
    if (result == 1) {
        conn_output_free(c);
        timeq_disarm(&c->timer);
    } else if (result == 0) {
        c->writable = false;
        if (!conn_send_full(c))
            result = -1; /* under the minimum send rate: logged; the caller closes */
        else if (progress || !timeq_node_armed(&c->timer))
            conn_timer(c, &c->nl->tq_send);
    }
    return result;
}

static void sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t n, unsigned *port)
{
    out[0] = '\0';
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)n);
        *port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], out, (socklen_t)n);
        else
            inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)n);
        *port = ntohs(a->sin6_port);
    }
}

/* Build and queue a complete response from the loop. body may be NULL. */
static void conn_respond(conn_t *c, unsigned status, const char *extra_lines, size_t extra_len,
                         const char *body, size_t body_len, int fd, uint64_t file_off,
                         uint64_t file_len, bool has_length)
{
    resphead_t h;
    resphead_init(&h);
    resphead_set_status(&h, status);
    if (extra_len) {
        h.lines = malloc(extra_len);
        if (h.lines) {
            memcpy(h.lines, extra_lines, extra_len);
            h.lines_len = extra_len;
        }
    }
    resp_framing_t framing = FRAME_LENGTH;
    h.content_length = fd >= 0 ? file_len : body_len;
    if (!has_length)
        framing = FRAME_NONE;
    if (c->nl->draining)
        c->keep_alive = false;
    /* A client that waits for 100 Continue never sends a body we did not ask for: the connection
     * cannot carry another request, and the head must say so. */
    if (c->expect_continue && !c->sent_continue && conn_body_pending(c))
        c->close_after = true;
    if (!c->keep_alive)
        c->close_after = true;
    char *head = NULL;
    size_t head_len = 0;
    int rc = resphead_build(&h, c->hd->ri.http_minor, framing, !c->close_after, c->nl->srv->software,
                            &head, &head_len);
    resphead_free(&h);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        c->close_after = true;
        c->log_status = status;
        return;
    }
    bool send_body = !c->is_head;
    if (body && body_len && send_body) {
        char *all = realloc(head, head_len + body_len);
        if (!all) {
            free(head);
            if (fd >= 0)
                close(fd);
            c->close_after = true;
            return;
        }
        memcpy(all + head_len, body, body_len);
        head = all;
        head_len += body_len;
    }
    if (fd >= 0 && (!send_body || file_len == 0)) {
        close(fd);
        fd = -1;
        file_len = 0;
    }
    c->log_status = status;
    conn_queue(c, head, head_len, fd, file_off, file_len);
    /* conn_flush counts the head too; the access log wants body bytes. */
    c->log_bytes = 0;
    c->log_head_len = head_len - ((body && send_body) ? body_len : 0);
    c->state = CONN_SENDING;
}

static void conn_respond_error(conn_t *c, unsigned status, bool close_after)
{
    char body[256];
    size_t n = http_error_body(status, body, sizeof body);
    static const char ctype[] = "Content-Type: text/html\r\n";
    if (close_after) {
        c->close_after = true;
        c->keep_alive = false;
    }
    conn_respond(c, status, ctype, sizeof ctype - 1, body, n, -1, 0, 0, true);
}

/* ------------------------------------------------------------------------------------------ */
/* Request dispatch */

static char *span_str(conn_t *c, span_t s)
{
    /* The byte after a completed span is a delimiter the parser has already consumed (' ',
     * ':', CR, LF or trailing blank): terminating in place is safe. */
    static char empty[1];
    if (s.len == 0)
        return empty;
    c->in[s.off + s.len] = '\0';
    return c->in + s.off;
}

static bool token_list_is(const char *value, const char *want)
{
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(want);
    if (strncasecmp(value, want, n) != 0)
        return false;
    value += n;
    while (*value == ' ' || *value == '\t')
        value++;
    return *value == '\0';
}

static void server_name_from_host(conn_t *c, const char *host)
{
    /* "name:port" or "[v6]:port" → name; stored in pathbuf's tail (allocated with room). */
    const char *end;
    if (host[0] == '[') {
        end = strchr(host, ']');
        end = end ? end + 1 : host + strlen(host);
    } else {
        end = strchr(host, ':');
        if (!end)
            end = host + strlen(host);
    }
    size_t n = (size_t)(end - host);
    if (n >= sizeof c->hd->host_buf)
        n = sizeof c->hd->host_buf - 1;
    memcpy(c->hd->host_buf, host, n);
    c->hd->host_buf[n] = '\0';
    c->hd->ri.server_name = c->hd->host_buf;
}

/* The packaged llhttp accepts some malformed header lines ("Bad Name: v", ": v"); check names
 * and values ourselves. Values: no control characters but HTAB. */
static bool header_valid(const http_header_t *h)
{
    if (h->name_len == 0)
        return false;
    for (uint32_t i = 0; i < h->name_len; i++)
        if (!http_is_tchar((unsigned char)h->name[i]))
            return false;
    for (uint32_t i = 0; i < h->value_len; i++) {
        unsigned char ch = (unsigned char)h->value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

/* Host: uri-host [":" port]; no blanks, no characters that would change a URL's meaning. */
static bool host_valid(const char *v)
{
    return v[strcspn(v, " \t/\\?#@")] == '\0';
}

/* Fill c->hd->ri from the parsed head. Returns an HTTP error status, or 0. */
static unsigned conn_build_reqinfo(conn_t *c)
{
    reqinfo_t *ri = &c->hd->ri;
    memset(ri, 0, sizeof *ri);
    llhttp_t *parser = &c->hd->parser;
    ri->method = llhttp_method_name((llhttp_method_t)parser->method);
    ri->http_major = parser->http_major;
    ri->http_minor = parser->http_minor > 1 ? 1 : parser->http_minor; /* 1.2 is served as 1.1 */
    /* llhttp skips any CR and LF before a request line; only empty lines may come first. */
    if (http_skip_empty_lines(c->in, c->in_start) < 0)
        return 400;
    /* Obsolete line folding (a line starting with a blank) is refused, as RFC 9112 allows: llhttp
     * folds it into the previous value even when that value is empty ("Content-Length:\r\n 39"),
     * which a front end that does not fold would read differently. The head is [0, in_start). */
    const char *end = c->in + c->in_start;
    for (const char *lf = c->in; (lf = memchr(lf, '\n', (size_t)(end - lf))) != NULL; lf++)
        if (lf + 1 < end && (lf[1] == ' ' || lf[1] == '\t'))
            return 400;
    /* llhttp takes a request line without a version for HTTP/0.9: that is a malformed
     * HTTP/1 request line (400), while an explicit "HTTP/0.9" is a version we do not serve. */
    bool no_version = ri->http_major == 0 && c->in[c->url.off + c->url.len] != ' ';
    for (unsigned i = 0; i < c->n_headers; i++) {
        span_t v = c->hd->hvalue[i];
        while (v.len && (c->in[v.off + v.len - 1] == ' ' || c->in[v.off + v.len - 1] == '\t'))
            v.len--;
        c->hd->headers[i].name = span_str(c, c->hd->hname[i]);
        c->hd->headers[i].name_len = c->hd->hname[i].len;
        c->hd->headers[i].value = span_str(c, v);
        c->hd->headers[i].value_len = v.len;
    }
    ri->headers = c->hd->headers;
    ri->n_headers = c->n_headers;
    unsigned hosts = 0;
    for (unsigned i = 0; i < c->n_headers; i++) {
        if (!header_valid(&c->hd->headers[i]))
            return 400;
        if (c->hd->headers[i].name_len == 4 && strncasecmp(c->hd->headers[i].name, "host", 4) == 0)
            hosts++;
    }
    ri->raw_target = span_str(c, c->url);
    ri->remote_addr = c->peer_text;
    ri->remote_port = c->peer_port;
    ri->local_addr = c->local_text;
    ri->local_port = c->local_port;
    server_t *srv = c->nl->srv;
    ri->document_root = srv->cfg->root;
    ri->server_software = srv->software;
    ri->instance_id = 1;
    ri->script_name = ri->script_filename = ri->path_info = ri->path_translated = "";
    ri->appl_physical_path = "";
    ri->query = "";

    if (no_version)
        return 400;
    if (ri->http_major != 1)
        return 505;
    /* A proxy's method: this server is no proxy and has no tunnels. */
    if (parser->method == HTTP_CONNECT)
        return 501;
    const http_header_t *host = reqinfo_header(ri, "Host");
    if ((!host && ri->http_minor >= 1) || hosts > 1 || (host && !host_valid(host->value)))
        return 400;
    if (host)
        server_name_from_host(c, host->value);
    else
        ri->server_name = srv->cfg->server_name ? srv->cfg->server_name : c->local_text;

    const http_header_t *te = reqinfo_header(ri, "Transfer-Encoding");
    /* HTTP/1.0 with Transfer-Encoding: the framing is faulty (RFC 9112 §6.1), whatever the
     * coding; 400 and close. */
    if (te && ri->http_minor == 0)
        return 400;
    if (te && !token_list_is(te->value, "chunked"))
        return 501;
    ri->chunked = c->body_mode == BODY_CHUNKED;
    ri->has_content_length = c->body_mode == BODY_LENGTH;
    ri->content_length = c->body_mode == BODY_LENGTH ? c->body_left : 0;
    const http_header_t *ct = reqinfo_header(ri, "Content-Type");
    ri->content_type = ct ? ct->value : "";

    const http_header_t *expect = reqinfo_header(ri, "Expect");
    if (expect) {
        if (!token_list_is(expect->value, "100-continue"))
            return 417;
        c->expect_continue = ri->http_minor >= 1 && c->body_mode != BODY_NONE;
    }

    /* "*" (asterisk-form) is for OPTIONS only; conn_route answers it. */
    if (ri->raw_target[0] == '*' && ri->raw_target[1] == '\0') {
        if (parser->method != HTTP_OPTIONS)
            return 400;
        return 0;
    }

    /* Path and query. */
    char *q = strchr(ri->raw_target, '?');
    size_t raw_path_len = q ? (size_t)(q - ri->raw_target) : strlen(ri->raw_target);
    c->pathbuf = malloc(2 * raw_path_len + 4);
    if (!c->pathbuf)
        return 503;
    char *raw_path = c->pathbuf + raw_path_len + 2;
    memcpy(raw_path, ri->raw_target, raw_path_len);
    raw_path[raw_path_len] = '\0';
    ri->raw_path = raw_path;
    ri->query = q ? q + 1 : "";
    path_status_t ps = path_normalize(ri->raw_target, raw_path_len, c->pathbuf, raw_path_len + 2);
    if (ps == PATH_BAD)
        return 400;
    if (ps == PATH_FORBIDDEN)
        return 403;
    ri->path = c->pathbuf;

    uint64_t max_body = srv->cfg->max_body_bytes;
    if (max_body && c->body_mode == BODY_LENGTH && c->body_left > max_body)
        return 413;
    return 0;
}

static bool conn_body_pending(const conn_t *c)
{
    return c->body_mode != BODY_NONE && !c->body_done;
}


/* route: ROUTE_STATIC, its file already open; the response takes the descriptor over. */
static void conn_serve_static(conn_t *c, route_t *route)
{
    static_response_t sr;
    static_file_respond_route(c->nl->srv->mime, &c->hd->ri, route, &sr);
    if (sr.status >= 400 && sr.fd < 0 && sr.status != 416 && sr.status != 405) {
        conn_respond_error(c, sr.status, false);
        return;
    }
    if (sr.status == 405) {
        char body[256];
        size_t n = http_error_body(405, body, sizeof body);
        char lines[sizeof sr.headers + 32];
        int m = snprintf(lines, sizeof lines, "%.*sContent-Type: text/html\r\n",
                         (int)sr.headers_len, sr.headers);
        if (sr.fd >= 0)
            close(sr.fd);
        conn_respond(c, 405, lines, (size_t)m, body, n, -1, 0, 0, true);
        return;
    }
    bool has_length = sr.has_body_length;
    conn_respond(c, sr.status, sr.headers, sr.headers_len, NULL, 0, sr.fd, sr.offset, sr.length,
                 has_length);
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
    route_resolve(conn_cfg(c), c->hd->ri.path, &route);
    if (drain_first && route.kind != ROUTE_EXTENSION) {
        route_free(&route); /* resolved again once the body is in */
        conn_start_drain(c);
        return;
    }
    switch (route.kind) {
    case ROUTE_STATIC:
        conn_serve_static(c, &route);
        break;
    case ROUTE_REDIRECT: {
        size_t n = strlen(route.location) + strlen(c->hd->ri.query) + 32;
        char *lines = malloc(n);
        if (!lines) {
            conn_respond_error(c, 503, true);
            break;
        }
        int m = snprintf(lines, n, "Location: %s%s%s\r\n", route.location,
                         c->hd->ri.query[0] ? "?" : "", c->hd->ri.query);
        conn_respond(c, 301, lines, (size_t)m, NULL, 0, -1, 0, 0, true);
        free(lines);
        break;
    }
    case ROUTE_FORBIDDEN:
        conn_respond_error(c, 403, false);
        break;
    case ROUTE_NOT_FOUND:
        conn_respond_error(c, 404, false);
        break;
    case ROUTE_EXTENSION: {
        /* A chunked body is decoded through the input buffer; the head's strings there stay
         * in use until the extension has the request (a 408, 413 or 400 of the read-ahead
         * is logged from them): body bytes land behind the head, as for a drain. */
        if (c->body_mode == BODY_CHUNKED && !c->body_done) {
            if (c->in_cap - c->in_start < DRAIN_MIN_ROOM) {
                conn_respond_error(c, 431, true);
                break;
            }
            c->in_keep = c->in_start;
        }
        request_t *r = isapi_request_new(c, &route);
        if (!r) {
            conn_respond_error(c, 503, true);
            break;
        }
        c->req = r;
        c->readahead_want = r->readahead_cap; /* decided by isapi_request_new */
        c->readahead_got = 0;
        c->state = CONN_READAHEAD;
        conn_timer(c, &c->nl->tq_body);
        break;
    }
    }
    route_free(&route);
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
        if (c->in_end > c->in_start) {
            if (!c->head_started)
                conn_timer(c, &c->nl->tq_header);
            const char *start = c->in + c->in_start;
            llhttp_errno_t err = llhttp_execute(&c->hd->parser, start, c->in_end - c->in_start);
            if (err == HPE_OK) {
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
                        if (n.len == 17 && strncasecmp(c->in + n.off, "transfer-encoding", 17) == 0 &&
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
        if (!c->readable)
            return false;
        int r = conn_fill(c);
        if (r == 0)
            return false;
        if (r < 0) {
            conn_close(c);
            return false;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Body read-ahead for an extension, discard, linger */

/* The body came too slowly during the read-ahead: the request never reaches the extension;
 * 408 and close. */
static void conn_readahead_too_slow(conn_t *c)
{
    request_t *r = c->req;
    c->req = NULL;
    isapi_request_discard(r);
    conn_respond_error(c, 408, true);
}

/* False when the extension ran on this thread and the loop was handed off meanwhile: c may be
 * gone already, and the caller returns without touching it. */
static bool conn_step_readahead(conn_t *c)
{
    request_t *r = c->req;
    conn_body_wake(c);
    while (c->readahead_got < c->readahead_want) {
        ssize_t n = conn_body_read(c, r->readahead + c->readahead_got,
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
            return true;
        }
        /* The request never reaches the extension. */
        c->req = NULL;
        isapi_request_discard(r);
        if (n == -ECONNRESET) {
            conn_close(c);
            return true;
        }
        conn_respond_error(c, n == -EFBIG ? 413 : 400, true);
        return true;
    }
    timeq_disarm(&c->timer);
    c->state = CONN_EXTENSION;
    return isapi_request_start(r, c->readahead_got);
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
    const reqinfo_t *ri = &c->hd->ri;
    const http_header_t *ref = ri->n_headers ? reqinfo_header(ri, "Referer") : NULL;
    const http_header_t *ua = ri->n_headers ? reqinfo_header(ri, "User-Agent") : NULL;
    uint64_t body = c->log_bytes > c->log_head_len ? c->log_bytes - c->log_head_len : 0;
    accesslog_entry_t e = {
        .remote_addr = c->peer_text,
        .when = c->log_time ? c->log_time : time(NULL),
        .method = ri->method ? ri->method : "-",
        .target = ri->raw_target ? ri->raw_target : "-",
        .http_major = ri->http_major ? ri->http_major : 1,
        .http_minor = ri->http_minor,
        .status = c->log_status,
        .body_bytes = body,
        .referer = ref ? ref->value : NULL,
        .user_agent = ua ? ua->value : NULL,
    };
    accesslog_write(log, &e);
}

static void conn_response_done(conn_t *c)
{
    conn_log(c);
    c->log_status = 0;
    if (c->close_after || !c->keep_alive || c->nl->draining) {
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
    free(c->pathbuf);
    c->pathbuf = NULL;
    c->url = (span_t){0, 0};
    c->n_headers = 0;
    c->hstate = 0;
    c->url_done = c->head_started = c->head_done = false;
    c->in_keep = 0;
    c->parse_error_status = 0;
    if (c->hd)
        memset(&c->hd->ri, 0, sizeof c->hd->ri);
    c->keep_alive = c->expect_continue = c->sent_continue = c->is_head = false;
    c->body_mode = BODY_NONE;
    c->body_left = c->body_read = 0;
    c->body_done = false;
    body_rate_reset(&c->body_rate);
    timeq_disarm(&c->rate_timer); /* not armed here: every wait ended; kept as a safety net */
    if (c->hd) {
        timeq_disarm(&c->hd->send_rate.timer); /* likewise */
        send_rate_reset(&c->hd->send_rate, c);
    }
    c->close_after = false;
    c->log_bytes = c->log_head_len = 0;
    c->log_time = 0;
    if (c->hd)
        llhttp_reset(&c->hd->parser);
    c->state = CONN_HEAD;
    if (c->in) {
        uint32_t pending = c->in_end - c->in_start;
        if (pending == 0) {
            /* Idle: give the buffers back (idle keep-alive connections cost little memory). */
            conn_release_input(c);
        } else {
            memmove(c->in, c->in + c->in_start, pending);
            c->in_start = 0;
            c->in_end = pending;
        }
    }
    if (c->in && c->in_end > 0)
        conn_timer(c, &c->nl->tq_header);
    else
        conn_timer(c, &c->nl->tq_keepalive);
}

/* ------------------------------------------------------------------------------------------ */
/* The state machine */

static void conn_drive(conn_t *c)
{
    for (;;) {
        if (conn_output_pending(c)) {
            if (!c->writable)
                return;
            int r = conn_flush(c);
            if (r == 0)
                return;
            if (r < 0) {
                conn_close(c);
                return;
            }
        }
        switch (c->state) {
        case CONN_HEAD:
            if (!conn_step_head(c))
                return;
            break;
        case CONN_READAHEAD:
            if (!conn_step_readahead(c))
                return; /* the loop went to another thread: c is not ours any more */
            if (c->state == CONN_READAHEAD)
                return;
            break;
        case CONN_EXTENSION:
            return;
        case CONN_SENDING:
            conn_response_done(c);
            break;
        case CONN_DISCARD:
        case CONN_DRAIN:
            conn_step_discard(c);
            if (c->state == CONN_DISCARD || c->state == CONN_DRAIN)
                return;
            break;
        case CONN_LINGER:
            conn_step_linger(c);
            return;
        case CONN_CLOSED:
            return;
        }
        if (c->state == CONN_CLOSED)
            return;
    }
}

static void conn_on_event(loop_watch_t *w, uint32_t events)
{
    conn_t *c = (conn_t *)w;
    if (c->state == CONN_EXTENSION) {
        /* The extension owns the socket's I/O, except for an asynchronous operation it handed
         * to this loop; otherwise only note that the peer went away. */
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            atomic_store(&c->peer_gone, true);
        if (c->op_req)
            isapi_op_drive(c->op_req);
        if (atomic_load(&c->peer_gone))
            parked_peer_left(c->req); /* the socket goes now, or when its last use ends */
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        c->writable = true;
    if ((events & (EPOLLHUP | EPOLLERR)) && c->state != CONN_LINGER && !conn_output_pending(c) &&
        c->state == CONN_HEAD && c->in_end == c->in_start) {
        conn_close(c);
        return;
    }
    conn_drive(c);
}

void conn_accept(netloop_t *nl, int fd, const struct sockaddr_storage *peer,
                 const struct sockaddr_storage *local)
{
    static log_limiter_t no_conn = LOG_LIMITER_INIT;
    pthread_once(&parser_settings_once, parser_settings_init);
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        log_limited(&no_conn, LOG_ERROR, "out of memory for a new connection: closing it");
        close(fd);
        return;
    }
    c->watch.fd = fd;
    c->watch.on_event = conn_on_event;
    c->nl = nl;
    c->out_fd = -1;
    struct sockaddr_storage own;
    if (!local) {
        socklen_t len = sizeof own;
        memset(&own, 0, sizeof own);
        getsockname(fd, (struct sockaddr *)&own, &len);
        local = &own;
    }
    sockaddr_text(peer, c->peer_text, sizeof c->peer_text, &c->peer_port);
    sockaddr_text(local, c->local_text, sizeof c->local_text, &c->local_port);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = CONN_HEAD;
    c->writable = true;
    c->readable = true; /* data may already be waiting: try once before the first edge */
    int rc = loop_add(nl->loop, &c->watch, CONN_EVENTS);
    if (rc < 0) {
        log_limited(&no_conn, LOG_ERROR, "cannot watch a new connection: epoll_ctl: %s; closing it",
                    strerror(-rc));
        close(fd);
        free(c);
        return;
    }
    c->next = nl->conns;
    if (nl->conns)
        nl->conns->prev = c;
    nl->conns = c;
    atomic_fetch_add(&nl->srv->open_conns, 1);
    conn_timer(c, &nl->tq_header);
    conn_drive(c);
}

/* Out of the epoll set, then closed. */
static void conn_unwatch_and_close(conn_t *c)
{
    static log_limiter_t del_failed = LOG_LIMITER_INIT;
    int rc = loop_del(c->nl->loop, &c->watch);
    if (rc < 0) /* not expected: close() below removes the watch all the same */
        log_limited(&del_failed, LOG_ERROR, "%s: epoll_ctl(DEL) of connection %d: %s", c->peer_text,
                    c->watch.fd, strerror(-rc));
    close(c->watch.fd);
    c->watch.fd = -1;
}

void conn_release_socket(conn_t *c)
{
    timeq_disarm(&c->timer);
    timeq_disarm(&c->rate_timer);
    conn_unwatch_and_close(c);
    conn_release_input(c);
    free(c->pathbuf); /* the request has its own copies of the head */
    c->pathbuf = NULL;
    netloop_descriptor_freed(c->nl);
}

static void conn_close(conn_t *c)
{
    if (c->state == CONN_CLOSED)
        return;
    netloop_t *nl = c->nl;
    c->state = CONN_CLOSED;
    timeq_disarm(&c->timer);
    timeq_disarm(&c->rate_timer);
    if (c->hd)
        timeq_disarm(&c->hd->send_rate.timer);
    if (c->watch.fd >= 0) { /* -1: released already (conn_release_socket) */
        conn_unwatch_and_close(c);
        netloop_descriptor_freed(nl);
    }
    conn_output_free(c);
    if (c->req) { /* only in READAHEAD: the extension never saw it */
        isapi_request_discard(c->req);
        c->req = NULL;
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
    atomic_fetch_sub(&nl->srv->open_conns, 1);
}

void conn_reap(netloop_t *nl)
{
    while (nl->closed) {
        conn_t *c = nl->closed;
        nl->closed = c->next;
        free(c->in);
        free(c->hd);
        free(c->pathbuf);
        free(c);
    }
}

/* Called by the request (posted to the loop) when the extension's session has ended. */
void conn_request_ended(loop_task_t *t)
{
    request_t *r = (request_t *)((char *)t - offsetof(request_t, end_task));
    conn_t *c = r->conn;
    request_end_t end;
    isapi_request_end(r, &end); /* frees r */
    c->req = NULL;
    if (c->watch.fd < 0) { /* released: the client left while the session was pending */
        free(end.tail);
        conn_close(c);
        return;
    }
    /* The extension's threads may have read the socket: readiness is unknown. */
    c->readable = c->writable = true;
    c->state = CONN_SENDING;
    c->log_status = 0; /* the request wrote its own access log line */
    if (!end.keep_alive)
        c->close_after = true;
    if (atomic_load(&c->peer_gone) && !end.tail) {
        conn_close(c);
        return;
    }
    if (end.tail)
        conn_queue(c, end.tail, end.tail_len, -1, 0, 0);
    conn_drive(c);
}

/* ------------------------------------------------------------------------------------------ */
/* Timers and shutdown */

static void expire_queue(netloop_t *nl, timeq_t *q, uint64_t now)
{
    timeq_node_t *n;
    while ((n = timeq_expired(q, now)) != NULL) {
        conn_t *c = (conn_t *)((char *)n - offsetof(conn_t, timer));
        timeq_disarm(n);
        if (c->state == CONN_EXTENSION) { /* an asynchronous operation's timer */
            if (c->op_req)
                isapi_op_timeout(c->op_req);
            continue;
        }
        if (q == &nl->tq_header && c->head_started && c->state == CONN_HEAD && !conn_output_pending(c)) {
            log_debug("%s: request head not complete within %u ms", c->peer_text, q->timeout_ms);
            c->hd->ri.http_major = 1;
            c->hd->ri.http_minor = 1;
            c->log_time = time(NULL);
            conn_respond_error(c, 408, true);
            c->writable = true;
            conn_drive(c);
            continue;
        }
        if (q == &nl->tq_body && (c->state == CONN_READAHEAD || c->state == CONN_DRAIN) &&
            !conn_output_pending(c)) {
            log_debug("%s: request body stalled for %u ms", c->peer_text, q->timeout_ms);
            if (c->state == CONN_READAHEAD) {
                request_t *r = c->req;
                c->req = NULL;
                isapi_request_discard(r);
            }
            conn_respond_error(c, 408, true);
            c->writable = true;
            conn_drive(c);
            continue;
        }
        if (q == &nl->tq_send)
            log_debug("%s: client did not read for %u ms, closing", c->peer_text, q->timeout_ms);
        conn_close(c);
    }
}

/* The rate timer: a wait for body bytes went on for a tick without a byte (a byte wakes the
 * reader, which checks the rate itself). Check it, and cut a body that fell under the minimum
 * rate: 408 during the read-ahead or a drain before the response, a close while discarding, ERROR_TIMEOUT for an asynchronous
 * read. */
static void expire_rate(netloop_t *nl, uint64_t now)
{
    timeq_node_t *n;
    while ((n = timeq_expired(&nl->tq_rate, now)) != NULL) {
        conn_t *c = (conn_t *)((char *)n - offsetof(conn_t, rate_timer));
        timeq_disarm(n);
        if (conn_body_rate_ok(c, now)) {
            timeq_arm(&nl->tq_rate, n, now);
            continue;
        }
        switch (c->state) {
        case CONN_READAHEAD:
        case CONN_DRAIN:
            body_rate_stop(&c->body_rate, now);
            if (conn_output_pending(c)) {
                conn_close(c);
                break;
            }
            if (c->state == CONN_READAHEAD)
                conn_readahead_too_slow(c);
            else
                conn_respond_error(c, 408, true);
            c->writable = true;
            conn_drive(c);
            break;
        case CONN_DISCARD:
            conn_close(c);
            break;
        case CONN_EXTENSION: /* an asynchronous read: its completion reports the timeout */
            if (c->op_req)
                isapi_op_timeout(c->op_req);
            break;
        default: /* not reached: the timer is armed only while the loop waits for body bytes */
            body_rate_stop(&c->body_rate, now);
            break;
        }
    }
}

/* The send-rate timer: the loop has waited a tick for the socket to drain. The write is driven
 * again: what the socket takes now counts, and a socket still full has the windows judged
 * (conn_send_full), which cuts a client under the minimum send rate. */
static void expire_send_rate(netloop_t *nl, uint64_t now)
{
    /* The expired nodes are taken off the queue first: a write that finds the socket still
     * full re-arms its timer (from the loop's time), and that belongs to a later pass. */
    timeq_t due;
    timeq_init(&due, 0);
    timeq_node_t *n;
    while ((n = timeq_expired(&nl->tq_send_rate, now)) != NULL)
        timeq_arm(&due, n, 0); /* moves it; the order is kept */
    while ((n = timeq_expired(&due, UINT64_MAX)) != NULL) {
        conn_t *c = ((send_rate_t *)((char *)n - offsetof(send_rate_t, timer)))->conn;
        timeq_disarm(n);
        if (c->state == CONN_EXTENSION) { /* an asynchronous write */
            if (c->op_req)
                isapi_op_drive(c->op_req);
        } else if (conn_output_pending(c)) {
            c->writable = true;
            conn_drive(c);
        }
    }
}

uint64_t conn_timers_run(netloop_t *nl, uint64_t now)
{
    /* Rate checks first: a cut may arm the send or linger timer, whose deadlines follow. */
    expire_rate(nl, now);
    expire_send_rate(nl, now);
    timeq_t *qs[] = {&nl->tq_header, &nl->tq_keepalive, &nl->tq_body, &nl->tq_send, &nl->tq_linger};
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        expire_queue(nl, qs[i], now);
        uint64_t d = timeq_next_deadline(qs[i]);
        if (d < next)
            next = d;
    }
    if (timeq_next_deadline(&nl->tq_rate) < next) /* no expiry above arms a rate timer */
        next = timeq_next_deadline(&nl->tq_rate);
    if (timeq_next_deadline(&nl->tq_send_rate) < next)
        next = timeq_next_deadline(&nl->tq_send_rate);
    conn_reap(nl);
    return next;
}

void conn_close_idle(netloop_t *nl)
{
    conn_t *c = nl->conns;
    while (c) {
        conn_t *next = c->next;
        if (c->state == CONN_HEAD && !c->head_started && !conn_output_pending(c))
            conn_close(c);
        c = next;
    }
    conn_reap(nl);
}

void conn_close_all(netloop_t *nl)
{
    conn_t *c = nl->conns;
    while (c) {
        conn_t *next = c->next;
        if (c->state == CONN_EXTENSION) {
            /* The extension still holds the request: cut the socket, keep the object until
             * the session ends; an operation on the loop fails now. */
            if (c->watch.fd >= 0) /* not released already */
                shutdown(c->watch.fd, SHUT_RDWR);
            atomic_store(&c->peer_gone, true);
            if (c->op_req)
                isapi_op_drive(c->op_req);
        } else {
            conn_close(c);
        }
        c = next;
    }
    conn_reap(nl);
}
