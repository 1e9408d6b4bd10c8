/* Parsing the request head of a connection (src/http/conn.h): the llhttp callbacks that record the
 * head's spans as offsets into c->in, and the building of c->hd->ri (the request info) and its
 * checks of the parsed head (header names, Host, server name). Moved out of src/http/conn.c.
 *
 * Invariants: the head is parsed in place; c->in is never moved while a head is being parsed,
 * so the successive pieces of one field are adjacent. The llhttp settings are a constant.
 * Ownership: everything here runs on the connection's loop thread, which owns c and its head. */

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
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accesslog.h"
#include "forwarded.h"
#include "httputil.h"
#include "log.h"
#include "path.h"
#include "proxyproto.h"
#include "resphead.h"
#include "route.h"
#include "static_file.h"


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

/* The llhttp settings every connection's parser uses: constant (llhttp_settings_init only
 * zeroes a settings object, which the initialiser's unnamed members are). */
static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

const llhttp_settings_t *conn_parser_settings(void)
{
    return &parser_settings;
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
    if (http_ascii_ncasecmp(value, want, n) != 0)
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
static const unsigned char value_ctl[256] = {[0x00 ... 0x08] = 1, [0x0a ... 0x1f] = 1, [0x7f] = 1};

/* Some byte of the eight at p is under 0x20 or is 0x7f (exact: a borrow only ever follows a
 * byte that matched). */
static bool word_has_ctl(const char *p)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t x;
    memcpy(&x, p, sizeof x);
    uint64_t del = x ^ (0x7f * ones);
    return ((((x - 0x20 * ones) & ~x) | ((del - ones) & ~del)) & highs) != 0;
}

/* Eight bytes at a time, the last word overlapping the one before it, while no byte is under
 * 0x20 or 0x7f (most values have neither: bytes of 0x80 and up are obs-text, allowed); from a
 * word that has one (HTAB too), byte by byte. */
static bool value_valid(const char *v, uint32_t n)
{
    uint32_t i = 0;
    if (n >= 8) {
        while (i + 8 <= n && !word_has_ctl(v + i))
            i += 8;
        if (i == n || (i + 8 > n && !word_has_ctl(v + n - 8)))
            return true;
    }
    for (; i < n; i++)
        if (value_ctl[(unsigned char)v[i]])
            return false;
    return true;
}

static bool header_valid(const http_header_t *h)
{
    if (h->name_len == 0)
        return false;
    for (uint32_t i = 0; i < h->name_len; i++)
        if (!http_is_tchar((unsigned char)h->name[i]))
            return false;
    return value_valid(h->value, h->value_len);
}

/* Host: uri-host [":" port]; no blanks, no characters that would change a URL's meaning. */
static bool host_valid(const char *v)
{
    return v[strcspn(v, " \t/\\?#@")] == '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* The client behind a proxy */

_Static_assert(sizeof ((conn_t *)0)->peer_text >= PROXY_ADDR_TEXT &&
               sizeof ((conn_head_t *)0)->client_addr >= FORWARDED_ADDR_TEXT,
               "the connection's address texts hold any address");

int conn_proxy_header(conn_t *c)
{
    static log_limiter_t refused = LOG_LIMITER_INIT;
    proxy_header_t h;
    size_t used = 0;
    const char *why = NULL;
    proxy_status_t st = proxy_parse(c->in + c->in_start, c->in_end - c->in_start, &h, &used, &why);
    if (st == PROXY_MORE) {
        if (c->in_end < c->in_cap)
            return 0;
        st = PROXY_BAD;
        why = "v2: longer than the input buffer (--max-header-size)";
    }
    if (st == PROXY_BAD) {
        log_limited(&refused, LOG_WARN, "%s:%u: PROXY protocol header refused: %s; closing the "
                    "connection", c->peer_text, c->peer_port, why);
        return -1;
    }
    c->proxy_pending = false;
    c->proxy_ssl = h.ssl;
    if (!h.local) {
        memcpy(c->peer_text, h.src_addr, sizeof h.src_addr);
        memcpy(c->local_text, h.dst_addr, sizeof h.dst_addr);
        c->peer_port = h.src_port;
        c->local_port = h.dst_port;
    }
    /* The request head is parsed from the buffer's start (conn_build_reqinfo relies on it). */
    c->in_start += (uint32_t)used;
    memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
    c->in_end -= c->in_start;
    c->in_start = 0;
    return 1;
}

/* REMOTE_ADDR, REMOTE_PORT and HTTPS from a trusted proxy's X-Forwarded-For and -Proto. */
static void apply_forwarded(conn_t *c, reqinfo_t *ri)
{
    static log_limiter_t malformed = LOG_LIMITER_INIT;
    const config_t *cfg = conn_cfg(c);
    forwarded_client_t fc;
    const char *why = NULL;
    if (forwarded_resolve(ri, cfg->trust_proxy, cfg->n_trust_proxy, c->peer_text, c->peer_port,
                          &fc, &why)) {
        memcpy(c->hd->client_addr, fc.addr, sizeof fc.addr);
        ri->remote_addr = c->hd->client_addr;
        ri->remote_port = fc.port;
        if (fc.https == 1)
            ri->https = true;
    }
    if (why)
        log_limited(&malformed, LOG_WARN, "%s:%u: a request from a trusted proxy has %s",
                    c->peer_text, c->peer_port, why);
}

/* Fill c->hd->ri from the parsed head. Returns an HTTP error status, or 0. */
unsigned conn_build_reqinfo(conn_t *c)
{
    /* ri is all zero: conn_first_read and conn_next_request clear it for each request, and
     * before a head is complete only the error paths write it, which answer and close. */
    reqinfo_t *ri = &c->hd->ri;
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
    /* The headers the checks below need, found in the validating pass: the first of each, as
     * reqinfo_header would answer, and how many Host headers there are. */
    const http_header_t *host = NULL, *te = NULL, *ct = NULL, *expect = NULL;
    unsigned hosts = 0;
    for (unsigned i = 0; i < c->n_headers; i++) {
        const http_header_t *h = &c->hd->headers[i];
        if (!header_valid(h))
            return 400;
        switch (h->name_len) {
        case 4:
            if (http_header_named(h, "host", 4)) {
                hosts++;
                host = host ? host : h;
            }
            break;
        case 6:
            if (!expect && http_header_named(h, "expect", 6))
                expect = h;
            break;
        case 12:
            if (!ct && http_header_named(h, "content-type", 12))
                ct = h;
            break;
        case 17:
            if (!te && http_header_named(h, "transfer-encoding", 17))
                te = h;
            break;
        }
    }
    ri->raw_target = span_str(c, c->url);
    ri->remote_addr = c->peer_text;
    ri->remote_port = c->peer_port;
    ri->local_addr = c->local_text;
    ri->local_port = c->local_port;
    ri->https = c->proxy_ssl;
    server_t *srv = c->nl->srv;
    if (srv->cfg->n_trust_proxy)
        apply_forwarded(c, ri);
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
    if ((!host && ri->http_minor >= 1) || hosts > 1 || (host && !host_valid(host->value)))
        return 400;
    if (host)
        server_name_from_host(c, host->value);
    else
        ri->server_name = srv->cfg->server_name ? srv->cfg->server_name : c->local_text;

    /* HTTP/1.0 with Transfer-Encoding: the framing is faulty (RFC 9112 §6.1), whatever the
     * coding; 400 and close. */
    if (te && ri->http_minor == 0)
        return 400;
    if (te && !token_list_is(te->value, "chunked"))
        return 501;
    ri->chunked = c->body_mode == BODY_CHUNKED;
    ri->has_content_length = c->body_mode == BODY_LENGTH;
    ri->content_length = c->body_mode == BODY_LENGTH ? c->body_left : 0;
    ri->content_type = ct ? ct->value : "";

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
    /* The decoded path, then the raw path: in the head block when they fit. */
    c->pathbuf = 2 * raw_path_len + 4 <= sizeof c->hd->path_buf ? c->hd->path_buf
                                                                : malloc(2 * raw_path_len + 4);
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
