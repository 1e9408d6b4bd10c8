/* Response heads, the builder: the head the server sends, from a parsed or assembled one (the
 * parser is resphead.c). Strict on what reaches the wire: a control character the head's
 * reason may still hold goes out as a space; the lines are as the parser's gate let them in.
 * All character tests are ASCII-only: a loaded extension may change the process locale. */
#include "resphead.h"
#include "resphead_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "httputil.h"

static time_t (*test_clock)(void);

void resphead_set_clock_for_tests(time_t (*now)(void))
{
    test_clock = now;
}

static time_t clock_now(void)
{
    return test_clock ? test_clock() : time(NULL);
}

/* The Date value of second now, formatted at most once per second per thread. */
static const char *date_at(time_t now)
{
    static _Thread_local http_date_memo_t memo;
    return http_date_memo(&memo, now);
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* Decimal digits of v: compared with powers of ten, no division. */
static size_t decimal_len(uint64_t v)
{
    size_t n = 1;
    for (uint64_t p = 10; n < 20 && v >= p; p *= 10)
        n++;
    return n;
}

/* v in decimal, decimal_len(v) bytes ending at end: two digits a step. */
static void put_decimal(char *end, uint64_t v)
{
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        end -= 2;
        memcpy(end, http_digit_pairs + 2 * r, 2);
    }
    if (v >= 10)
        memcpy(end - 2, http_digit_pairs + 2 * v, 2);
    else
        end[-1] = (char)('0' + v);
}

/* The head into a malloc'ed buffer with room for `room` more bytes (and a NUL) behind it. */
static int build_head(const resphead_t *h, unsigned http_minor, resp_framing_t framing,
                      bool keep_alive, const char *server, time_t now, size_t room, char **out,
                      size_t *out_len)
{
    if (h->status < 100 || h->status > 999) {
        errno = EINVAL;
        return -1;
    }
    const char *reason = h->reason;
    size_t rlen = 0; /* a loop, not strnlen: reasons are mostly a few bytes ("OK") */
    while (rlen < sizeof h->reason && h->reason[rlen])
        rlen++;
    if (rlen == 0) {
        reason = http_status_reason(h->status);
        rlen = strlen(reason);
    }
    unsigned minor = http_minor >= 1 ? 1 : 0;
    bool bodiless = h->status < 200 || h->status == 204 || h->status == 304;
    bool keep = keep_alive && !h->conn_close && framing != FRAME_CLOSE;
    const char *date = h->has_date ? NULL : date_at(now);
    size_t slen = (h->has_server || !server) ? 0 : strlen(server);

    static const char cl_name[] = "Content-Length: ";
    static const char te_line[] = "Transfer-Encoding: chunked\r\n";
    static const char close_line[] = "Connection: close\r\n";
    static const char ka_line[] = "Connection: keep-alive\r\n";
    size_t ndigits = 0; /* of Content-Length's value */
    const char *framing_line = NULL;
    size_t flen = 0;
    if (!bodiless && framing == FRAME_LENGTH) {
        ndigits = decimal_len(h->content_length);
        flen = sizeof cl_name - 1 + ndigits + 2;
    } else if (!bodiless && (framing == FRAME_CHUNKED || framing == FRAME_PASSTHRU)) {
        framing_line = te_line;
        flen = sizeof te_line - 1;
    }
    const char *conn_line = !keep ? close_line : minor == 0 ? ka_line : NULL;
    size_t clen = conn_line ? strlen(conn_line) : 0;

    size_t total = sizeof "HTTP/1.x NNN \r\n" - 1 + rlen +
                   (date ? sizeof "Date: \r\n" - 1 + HTTP_DATE_LEN : 0) +
                   (slen ? sizeof "Server: \r\n" - 1 + slen : 0) +
                   h->lines_len + flen + clen + 2;
    char *buf = malloc(total + room + 1);
    if (!buf)
        return -1;

    char *p = buf;
    p = put(p, "HTTP/1.", 7);
    *p++ = (char)('0' + minor);
    *p++ = ' ';
    *p++ = (char)('0' + h->status / 100);
    *p++ = (char)('0' + h->status / 10 % 10);
    *p++ = (char)('0' + h->status % 10);
    *p++ = ' ';
    for (size_t i = 0; i < rlen; i++) {
        unsigned char c = (unsigned char)reason[i];
        *p++ = resphead_is_field_char(c) ? (char)c : ' ';
    }
    p = put(p, "\r\n", 2);
    if (date) {
        p = put(p, "Date: ", 6);
        p = put(p, date, HTTP_DATE_LEN);
        p = put(p, "\r\n", 2);
    }
    if (slen) {
        p = put(p, "Server: ", 8);
        p = put(p, server, slen);
        p = put(p, "\r\n", 2);
    }
    if (h->lines_len)
        p = put(p, h->lines, h->lines_len);
    if (framing_line) {
        p = put(p, framing_line, flen);
    } else if (flen) {
        p = put(p, cl_name, sizeof cl_name - 1);
        put_decimal(p + ndigits, h->content_length);
        p = put(p + ndigits, "\r\n", 2);
    }
    if (conn_line)
        p = put(p, conn_line, clen);
    p = put(p, "\r\n", 2);
    *p = '\0';

    *out = buf;
    *out_len = (size_t)(p - buf);
    return 0;
}

int resphead_build(const resphead_t *h, unsigned http_minor, resp_framing_t framing,
                   bool keep_alive, const char *server, char **out, size_t *out_len)
{
    return build_head(h, http_minor, framing, keep_alive, server, clock_now(), 0, out, out_len);
}

int resphead_build_response(const resphead_t *h, unsigned http_minor, resp_framing_t framing,
                            bool keep_alive, const char *server, const char *body,
                            size_t body_len, char **out, size_t *head_len, size_t *len)
{
    if (!body)
        body_len = 0;
    char *buf;
    if (build_head(h, http_minor, framing, keep_alive, server, clock_now(), body_len, &buf,
                   head_len) < 0)
        return -1;
    if (body_len)
        memcpy(buf + *head_len, body, body_len);
    buf[*head_len + body_len] = '\0';
    *out = buf;
    *len = *head_len + body_len;
    return 0;
}

/* The memo holds the head these inputs make (rlen: h's reason's length). */
static bool memo_matches(const resphead_build_memo_t *m, const resphead_t *h, unsigned minor,
                         resp_framing_t framing, bool keep_alive, const char *server, time_t now,
                         size_t rlen)
{
    return m->valid && m->status == h->status && m->date_sec == now &&
           m->has_server == h->has_server && m->has_date == h->has_date &&
           m->has_content_length == h->has_content_length && m->chunked == h->chunked &&
           m->conn_close == h->conn_close && m->keep_alive == keep_alive && m->minor == minor &&
           m->framing == framing && m->content_length == h->content_length &&
           m->reason_len == rlen && m->lines_len == h->lines_len && m->server == server &&
           resphead_same_bytes(m->reason, h->reason, rlen) &&
           resphead_same_bytes(m->lines, h->lines, h->lines_len);
}

/* head (head_len bytes and a NUL), built from these inputs, into the memo. The caller checked
 * that the key fits and the memo is not held. */
static void memo_store(resphead_build_memo_t *m, const resphead_t *h, uint64_t tag,
                       unsigned minor, resp_framing_t framing, bool keep_alive,
                       const char *server, time_t now, size_t rlen, const char *head,
                       size_t head_len)
{
    m->valid = false;
    if (head_len >= sizeof m->head)
        return;
    m->valid = true;
    m->tag = tag;
    m->status = h->status;
    m->date_sec = now;
    m->has_server = h->has_server;
    m->has_date = h->has_date;
    m->has_content_length = h->has_content_length;
    m->chunked = h->chunked;
    m->conn_close = h->conn_close;
    m->keep_alive = keep_alive;
    m->minor = minor;
    m->framing = framing;
    m->content_length = h->content_length;
    m->reason_len = rlen;
    m->lines_len = h->lines_len;
    m->server = server;
    memcpy(m->reason, h->reason, rlen);
    if (h->lines_len)
        memcpy(m->lines, h->lines, h->lines_len);
    m->head_len = head_len;
    memcpy(m->head, head, head_len + 1);
}

/* The memo's part of both entry points: 0 head in memo (*out there), 1 a malloc'ed head in
 * *out (a hit copied when !in_place; a head the memo cannot take), -1 failed. */
static int build_memo(resphead_build_memo_t *m, const resphead_t *h, uint64_t tag,
                      unsigned http_minor, resp_framing_t framing, bool keep_alive,
                      const char *server, bool in_place, char **out, size_t *out_len)
{
    time_t now = clock_now();
    unsigned minor = http_minor >= 1 ? 1 : 0;
    bool held = atomic_load_explicit(&m->held, memory_order_acquire);
    /* A tagged head the memo was built from: its fields need no look. */
    bool tagged = tag && m->valid && m->tag == tag && m->date_sec == now && m->minor == minor &&
                  m->framing == framing && m->keep_alive == keep_alive && m->server == server;
    size_t rlen = 0; /* a loop, not strnlen: reasons are mostly a few bytes ("OK") */
    bool keyable = true;
    if (!tagged) {
        while (rlen < sizeof h->reason && h->reason[rlen])
            rlen++;
        keyable = h->lines_len <= sizeof m->lines && rlen < sizeof m->reason;
    }
    if (tagged ||
        (keyable && memo_matches(m, h, minor, framing, keep_alive, server, now, rlen))) {
        if (tag)
            m->tag = tag; /* the same head: known by this tag from now on */
        if (in_place && !held) {
            *out = m->head;
            *out_len = m->head_len;
            return 0;
        }
        char *buf = malloc(m->head_len + 1);
        if (!buf)
            return -1;
        memcpy(buf, m->head, m->head_len + 1);
        *out = buf;
        *out_len = m->head_len;
        return 1;
    }
    if (build_head(h, http_minor, framing, keep_alive, server, now, 0, out, out_len) < 0)
        return -1;
    if (!keyable || held)
        return 1;
    memo_store(m, h, tag, minor, framing, keep_alive, server, now, rlen, *out, *out_len);
    if (!in_place || !m->valid)
        return 1;
    free(*out);
    *out = m->head;
    return 0;
}

int resphead_build_memo(resphead_build_memo_t *m, const resphead_t *h, uint64_t tag,
                        unsigned http_minor, resp_framing_t framing, bool keep_alive,
                        const char *server, char **out, size_t *out_len)
{
    return build_memo(m, h, tag, http_minor, framing, keep_alive, server, false, out, out_len) < 0
               ? -1
               : 0;
}

int resphead_build_memo_in_place(resphead_build_memo_t *m, const resphead_t *h, uint64_t tag,
                                 unsigned http_minor, resp_framing_t framing, bool keep_alive,
                                 const char *server, char **out, size_t *out_len)
{
    return build_memo(m, h, tag, http_minor, framing, keep_alive, server, true, out, out_len);
}
