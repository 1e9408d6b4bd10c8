/* Output from the loop for a connection: queueing a response's buffer and file range on the
 * connection's output chain (src/http/outchain.h), flushing it to the socket, and building
 * complete responses (conn_respond, conn_respond_error).
 *
 * Invariants: a queued buffer is taken over by the connection and freed once sent or when the
 * output is dropped; a queued file descriptor is owned (closed) by the connection.
 * Ownership: loop thread only. */

#define _GNU_SOURCE
#include "conn.h"
#include "conn_internal.h"

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
#include "errorpage.h"
#include "httputil.h"
#include "log.h"
#include "path.h"
#include "resphead.h"
#include "route.h"
#include "static_file.h"

/* ------------------------------------------------------------------------------------------ */
/* Output from the loop */

/* One response (or response tail) at a time: the state machine flushes it before it queues
 * anything else. buf (taken over, may be NULL) holds head_len bytes of framing, then body up to
 * len; fd (taken over, or -1) count bytes of body from off. The body is in the buffer or in the
 * file, never both (conn_respond's callers). */
static void conn_queue_response(conn_t *c, char *buf, size_t head_len, size_t len, int fd,
                                uint64_t off, uint64_t count)
{
    out_seg_t *segs = c->rs->out_segs; /* a response belongs to a request: rs is there */
    size_t n = 0;
    segs[n++] = (out_seg_t){.mem = buf, .len = head_len, .fd = -1};
    if (len > head_len)
        segs[n++] = (out_seg_t){.mem = buf + head_len, .len = len - head_len, .fd = -1,
                                       .payload = true};
    else if (fd >= 0 && count > 0)
        segs[n++] = (out_seg_t){.off = off, .len = count, .fd = fd, .payload = true};
    out_chain_init(&c->rs->out, segs, n);
    c->out_buf = buf;
    c->out_fd = fd;
}

conn_resp_t *conn_resp_take(conn_t *c)
{
    if (c->rs)
        return c->rs;
    /* Any thread: the loop's handy block (an atomic exchange), else a new one. */
    conn_resp_t *rs = atomic_exchange_explicit(&c->nl->handy_rs, NULL, memory_order_acq_rel);
    if (!rs)
        rs = malloc(sizeof *rs);
    if (!rs)
        return NULL;
    send_rate_reset(&rs->send_rate, c);
    out_chain_init(&rs->out, NULL, 0);
    c->rs = rs;
    return rs;
}

void conn_queue(conn_t *c, char *buf, size_t len, int fd, uint64_t off, uint64_t count)
{
    conn_queue_response(c, buf, len, len, fd, off, count);
}

void conn_output_free(conn_t *c)
{
    if (c->batch_queued)
        conn_batch_sent(c);
    free(c->out_buf);
    c->out_buf = NULL;
    if (c->out_fd >= 0) {
        close(c->out_fd);
        netloop_descriptor_freed(c->nl);
    }
    c->out_fd = -1;
    if (c->rs)
        out_chain_init(&c->rs->out, NULL, 0);
}

/* 1 everything sent, 0 the socket is full (wait for EPOLLOUT), -1 failed. */
int conn_flush(conn_t *c)
{
    if (!c->rs) { /* no request in progress, so nothing queued */
        conn_output_free(c);
        return 1;
    }
    out_chain_t *out = &c->rs->out;
    uint64_t sent_before = out->bytes, payload_before = out->payload_sent;
    conn_send_drained(c); /* a wait for the socket, if one went on, is over */
    int rc = out_chain_send_nagle(c->watch.fd, out, &c->nagle);
    bool progress = out->bytes != sent_before;
    c->log_bytes += out->payload_sent - payload_before;
    send_rate_took(&c->rs->send_rate, out->bytes - sent_before);
    if (rc == -EIO) /* the file shrank under us: the promised length cannot be kept */
        log_warn("%s: file shorter than announced, closing", c->peer_text);
    int result = rc > 0 ? 1 : rc == 0 ? 0 : -1;
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

/* inet_ntop's dotted quad without its sprintf (some 1,700 instructions, twice per connection)
 * when out has room for any (n >= INET_ADDRSTRLEN); inet_ntop's otherwise. */
static void ipv4_text(const unsigned char b[4], char *out, size_t n)
{
    if (n < INET_ADDRSTRLEN) {
        inet_ntop(AF_INET, b, out, (socklen_t)n);
        return;
    }
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100) {
            *out++ = (char)('0' + v / 100);
            v %= 100;
            memcpy(out, http_digit_pairs + 2 * v, 2);
            out += 2;
        } else if (v >= 10) {
            memcpy(out, http_digit_pairs + 2 * v, 2);
            out += 2;
        } else {
            *out++ = (char)('0' + v);
        }
        *out++ = '.';
    }
    out[-1] = '\0';
}

void conn_sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t n, unsigned *port)
{
    out[0] = '\0';
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        ipv4_text((const unsigned char *)&a->sin_addr, out, n);
        *port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            ipv4_text(&a->sin6_addr.s6_addr[12], out, n);
        else
            inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)n);
        *port = ntohs(a->sin6_port);
    }
}

/* Build and queue a complete response from the loop: body (may be NULL) or a file range,
 * not both. */
void conn_respond(conn_t *c, unsigned status, const char *extra_lines, size_t extra_len,
                  const char *body, size_t body_len, int fd, uint64_t file_off,
                  uint64_t file_len, bool has_length)
{
    resphead_t h;
    resphead_init(&h);
    resphead_set_status(&h, status);
    if (extra_len) /* without them when out of memory */
        (void)resphead_add_own_lines(&h, extra_lines, extra_len);
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
    bool send_body = !c->is_head;
    char *buf = NULL;
    size_t head_len = 0, len = 0;
    int rc = resphead_build_response(&h, c->hd->ri.http_minor, framing, !c->close_after,
                                     c->nl->srv->software, send_body ? body : NULL, body_len,
                                     &buf, &head_len, &len);
    resphead_free(&h);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        c->close_after = true;
        c->log_status = status;
        return;
    }
    if (fd >= 0 && (!send_body || file_len == 0)) {
        close(fd);
        fd = -1;
        file_len = 0;
    }
    c->log_status = status;
    conn_queue_response(c, buf, head_len, len, fd, file_off, file_len);
    c->log_bytes = 0; /* the body bytes conn_flush sends of this response */
    c->state = CONN_SENDING;
}

void conn_respond_error(conn_t *c, unsigned status, bool close_after)
{
    conn_respond_error_lines(c, status, NULL, 0, close_after);
}

void conn_respond_error_lines(conn_t *c, unsigned status, const char *lines, size_t lines_len,
                              bool close_after)
{
    error_body_t body;
    errorpage_body(c->nl->srv->error_pages, status, &body);
    if (lines_len > CONN_ERROR_LINES_MAX)
        lines_len = CONN_ERROR_LINES_MAX;
    char head[CONN_ERROR_LINES_MAX + 160];
    if (lines_len) /* lines may be NULL */
        memcpy(head, lines, lines_len);
    char *ctype = head + lines_len;
    int m = snprintf(ctype, 160, "Content-Type: %s\r\n", body.content_type);
    if (m < 0 || (size_t)m >= 160)
        m = snprintf(ctype, 160, "Content-Type: application/octet-stream\r\n");
    if (close_after) {
        c->close_after = true;
        c->keep_alive = false;
    }
    conn_respond(c, status, head, lines_len + (size_t)m, body.data, body.len, -1, 0, 0, true);
    errorpage_release(&body);
}
