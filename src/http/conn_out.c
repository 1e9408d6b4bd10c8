/* Output from the loop for a connection: queueing buffers and file ranges, flushing them to the
 * socket, and building complete responses (conn_respond, conn_respond_error). Moved out of
 * src/http/conn.c.
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
#include "httputil.h"
#include "log.h"
#include "path.h"
#include "resphead.h"
#include "route.h"
#include "static_file.h"

/* ------------------------------------------------------------------------------------------ */
/* Output from the loop */

/* Queue a buffer (taken over) and optionally a file range for sending. */
void conn_queue(conn_t *c, char *buf, size_t len, int fd, uint64_t off, uint64_t count)
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

void conn_output_free(conn_t *c)
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
int conn_flush(conn_t *c)
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

void sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t n, unsigned *port)
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
void conn_respond(conn_t *c, unsigned status, const char *extra_lines, size_t extra_len,
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

void conn_respond_error(conn_t *c, unsigned status, bool close_after)
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
