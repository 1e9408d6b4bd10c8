/* Response heads: lenient on what extensions send, strict on what reaches the wire.
 *
 * Every header line, parsed or added, goes through one gate (accept_field): the name must be a
 * token and the value free of control characters, so no CR or LF supplied by an extension can
 * start a new line on the wire. The server-owned fields are taken out of the line list there.
 * Parsing runs twice over the input: once to validate and measure, once to copy into a buffer
 * grown to fit; a malformed input therefore leaves the head as it was.
 *
 * All character tests are ASCII-only: a loaded extension may change the process locale. */
#include "resphead.h"
#include "resphead_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "httputil.h"

/* Validation and copy state for a run of header fields. Seeded from the head, committed back
 * only on success. */
typedef struct {
    bool raw;            /* raw head: a NUL inside it is malformed */
    bool need_end;       /* the empty line must be present, else 1 (incomplete) */
    char *out;           /* NULL: validate and measure only */
    size_t out_len;
    size_t consumed;
    bool has_server;
    bool has_date;
    bool has_content_length;
    uint64_t content_length;
    bool chunked;
    bool conn_close;
} scan_t;

static inline bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 9110 tchar. */

/* field-vchar, SP and HTAB; obs-text (0x80..0xFF) passes through. A table: the loop over
 * every header value the extension sends asks it of each byte. */
static const unsigned char field_char_table[256] = {
    ['\t'] = 1,
    [0x20 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

static inline bool is_field_char(unsigned char c)
{
    return field_char_table[c] != 0;
}

static inline unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool ieq_n(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    return true;
}

/* Against a literal: its length is known at compile time, so most names are rejected by length. */
#define ieq(a, alen, lit) ieq_n((a), (alen), (lit), sizeof(lit) - 1)

/* Against a lower-case literal: only a's bytes need folding. */
static bool ieq_lower_n(const char *a, size_t alen, const char *lower, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (ascii_lower((unsigned char)a[i]) != (unsigned char)lower[i])
            return false;
    return true;
}
#define ieq_lower(a, alen, lit) ieq_lower_n((a), (alen), (lit), sizeof(lit) - 1)

static void trim(const char **p, size_t *n)
{
    while (*n && is_blank((unsigned char)(*p)[0])) {
        (*p)++;
        (*n)--;
    }
    while (*n && is_blank((unsigned char)(*p)[*n - 1]))
        (*n)--;
}

/* Calls fn on each comma-separated element, trimmed; stops at the first nonzero result. */
static int for_each_element(const char *v, size_t n, int (*fn)(scan_t *, const char *, size_t),
                            scan_t *st)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || v[i] == ',') {
            const char *e = v + start;
            size_t elen = i - start;
            trim(&e, &elen);
            int r = fn(st, e, elen);
            if (r)
                return r;
            start = i + 1;
        }
    }
    return 0;
}

/* "Content-Length: 42" or the list form "42, 42"; every value must agree with the others and
 * with one seen earlier. */
static int on_length(scan_t *st, const char *e, size_t n)
{
    if (n == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)e[i]))
            return -1;
        unsigned d = (unsigned)(e[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (st->has_content_length && st->content_length != v)
        return -1;
    st->has_content_length = true;
    st->content_length = v;
    return 0;
}

static int on_connection(scan_t *st, const char *e, size_t n)
{
    if (ieq(e, n, "close"))
        st->conn_close = true;
    return 0;
}

/* One field, name and value already split and the value trimmed. */
static int accept_field(scan_t *st, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (nlen == 0)
        return -1;
    for (size_t i = 0; i < nlen; i++)
        if (!http_is_tchar((unsigned char)name[i]))
            return -1;
    for (size_t i = 0; i < vlen; i++)
        if (!is_field_char((unsigned char)value[i]))
            return -1;

    if (ieq_lower(name, nlen, "content-length"))
        return for_each_element(value, vlen, on_length, st);
    if (ieq_lower(name, nlen, "transfer-encoding")) {
        /* The server can pass through only a body the extension chunks itself. */
        if (ieq(value, vlen, "chunked"))
            st->chunked = true;
        else if (!ieq(value, vlen, "identity"))
            return -1;
        return 0;
    }
    if (ieq_lower(name, nlen, "connection"))
        return for_each_element(value, vlen, on_connection, st);
    if (ieq_lower(name, nlen, "keep-alive"))
        return 0;
    if (ieq_lower(name, nlen, "server"))
        st->has_server = true;
    if (ieq_lower(name, nlen, "date")) {
        if (st->has_date) /* one Date: the extension's first */
            return 0;
        st->has_date = true;
    }

    if (st->out) {
        char *p = st->out + st->out_len;
        memcpy(p, name, nlen);
        p += nlen;
        *p++ = ':';
        *p++ = ' ';
        memcpy(p, value, vlen);
        p += vlen;
        *p++ = '\r';
        *p = '\n';
    }
    st->out_len += nlen + vlen + 4;
    return 0;
}

static int accept_line(scan_t *st, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return -1;
    const char *value = colon + 1;
    size_t vlen = n - (size_t)(value - line);
    trim(&value, &vlen);
    return accept_field(st, line, (size_t)(colon - line), value, vlen);
}

/* Lines up to the empty line. 0: done (st->consumed set), 1: the text ended first and
 * st->need_end, -1: malformed. A line ends at LF, with an optional CR before it; where the text
 * ends without a line end (len, or a NUL unless raw) the last line ends too. */
static int scan_lines(scan_t *st, const char *text, size_t len)
{
    size_t pos = 0;
    for (;;) {
        /* The line ends at the first LF or NUL (memchr: both searches are vectorised). */
        const char *lf = memchr(text + pos, '\n', len - pos);
        size_t end = lf ? (size_t)(lf - text) : len;
        const char *nul = memchr(text + pos, '\0', end - pos);
        if (nul)
            end = (size_t)(nul - text);
        if (end > RESPHEAD_MAX_HEAD)
            return -1;
        size_t n = end - pos;
        if (end == len || text[end] == '\0') {
            if (end < len && st->raw)
                return -1;
            if (st->need_end)
                return 1;
            if (n && text[end - 1] == '\r')
                n--;
            if (n && accept_line(st, text + pos, n) < 0)
                return -1;
            st->consumed = len;
            return 0;
        }
        if (n && text[end - 1] == '\r')
            n--;
        if (n == 0) {
            st->consumed = end + 1;
            return 0;
        }
        if (accept_line(st, text + pos, n) < 0)
            return -1;
        pos = end + 1;
    }
}

static void scan_seed(scan_t *st, const resphead_t *h, bool raw, bool need_end)
{
    *st = (scan_t){
        .raw = raw,
        .need_end = need_end,
        .has_server = h->has_server,
        .has_date = h->has_date,
        .has_content_length = h->has_content_length,
        .content_length = h->content_length,
        .chunked = h->chunked,
        .conn_close = h->conn_close,
    };
}

static void scan_commit(const scan_t *st, resphead_t *h)
{
    h->has_server = st->has_server;
    h->has_date = st->has_date;
    h->chunked = st->chunked;
    h->has_content_length = st->has_content_length && !st->chunked;
    h->content_length = h->has_content_length ? st->content_length : 0;
    h->conn_close = st->conn_close;
    h->lines_len += st->out_len;
    if (h->lines)
        h->lines[h->lines_len] = '\0';
}

/* Room for extra more bytes of lines (kept NUL-terminated). */
static int lines_reserve(resphead_t *h, size_t extra)
{
    if (h->lines_len + extra > RESPHEAD_MAX_HEAD) {
        errno = EINVAL;
        return -1;
    }
    char *p = realloc(h->lines, h->lines_len + extra + 1);
    if (!p)
        return -1;
    h->lines = p;
    return 0;
}

/* Scans text's lines into h: scan_lines' result; h changes only on 0. One pass writing into
 * room reserved for the worst case (each line of n bytes comes out at most n + 3 bytes long:
 * ": " and CRLF for ':' and its line end; a line is at least 2 bytes, "a:"); two passes (validate
 * and measure, then copy) when that bound would pass the head limit. */
static int scan_apply(resphead_t *h, scan_t *st, const char *text, size_t len);

static int scan_into(resphead_t *h, scan_t *st, const char *text, size_t len)
{
    size_t bound = len + 3 * (len / 2 + 1);
    if (h->lines_len + bound > RESPHEAD_MAX_HEAD) {
        int r = scan_lines(st, text, len);
        if (r != 0)
            return r;
        return scan_apply(h, st, text, len) < 0 ? -1 : 0;
    }
    if (lines_reserve(h, bound) < 0)
        return -1;
    st->out = h->lines + h->lines_len;
    int r = scan_lines(st, text, len);
    if (r == 0)
        scan_commit(st, h);
    else
        h->lines[h->lines_len] = '\0'; /* what the failed scan wrote is not part of h */
    return r;
}

/* Second pass of a validated scan: copy the lines and commit. */
static int scan_apply(resphead_t *h, scan_t *st, const char *text, size_t len)
{
    if (st->out_len == 0) {
        scan_commit(st, h);
        return 0;
    }
    if (lines_reserve(h, st->out_len) < 0)
        return -1;
    bool raw = st->raw, need_end = st->need_end;
    scan_seed(st, h, raw, need_end);
    st->out = h->lines + h->lines_len;
    scan_lines(st, text, len);
    scan_commit(st, h);
    return 0;
}

void resphead_init(resphead_t *h)
{
    memset(h, 0, sizeof *h);
    h->status = 200;
    strcpy(h->reason, "OK");
}

void resphead_set_status(resphead_t *h, unsigned status)
{
    h->status = status;
    const char *reason = http_status_reason(status);
    size_t n = strnlen(reason, sizeof h->reason - 1); /* every known reason fits */
    memcpy(h->reason, reason, n);
    h->reason[n] = '\0';
}

void resphead_free(resphead_t *h)
{
    free(h->lines);
    h->lines = NULL;
    h->lines_len = 0;
}

int resphead_parse_status(resphead_t *h, const char *status, size_t len)
{
    resphead_init(h);
    if (!status)
        return 0;
    len = strnlen(status, len);
    while (len && (is_blank((unsigned char)status[0]) || status[0] == '\r' || status[0] == '\n')) {
        status++;
        len--;
    }
    while (len && (is_blank((unsigned char)status[len - 1]) || status[len - 1] == '\r' ||
                   status[len - 1] == '\n'))
        len--;
    if (len == 0)
        return 0;

    size_t i = 0;
    if (len >= 5 && ieq(status, 5, "HTTP/")) {
        while (i < len && !is_blank((unsigned char)status[i]))
            i++;
        while (i < len && is_blank((unsigned char)status[i]))
            i++;
    }
    if (len - i < 3 || !is_digit((unsigned char)status[i]) ||
        !is_digit((unsigned char)status[i + 1]) || !is_digit((unsigned char)status[i + 2]))
        return -1;
    unsigned code = (unsigned)(status[i] - '0') * 100 + (unsigned)(status[i + 1] - '0') * 10 +
                    (unsigned)(status[i + 2] - '0');
    i += 3;
    if (code < 100 || (i < len && !is_blank((unsigned char)status[i])))
        return -1;
    while (i < len && is_blank((unsigned char)status[i]))
        i++;

    const char *reason = status + i;
    size_t rlen = len - i;
    for (size_t k = 0; k < rlen; k++)
        if (!is_field_char((unsigned char)reason[k]))
            return -1;
    if (rlen == 0) {
        reason = http_status_reason(code);
        rlen = strlen(reason);
    }
    if (rlen > sizeof h->reason - 1)
        rlen = sizeof h->reason - 1;
    h->status = code;
    memcpy(h->reason, reason, rlen);
    h->reason[rlen] = '\0';
    return 0;
}

int resphead_parse_lines(resphead_t *h, const char *text, size_t len)
{
    if (!text)
        return len ? -1 : 0;
    scan_t st;
    scan_seed(&st, h, false, false);
    if (scan_into(h, &st, text, len) != 0)
        return -1;
    h->consumed = st.consumed;
    return 0;
}

int resphead_parse_raw(resphead_t *h, const char *text, size_t len)
{
    static const char prefix[] = "HTTP/1.";
    const size_t plen = sizeof prefix - 1;

    resphead_init(h);
    if (!text)
        return len ? -1 : 1;
    if (memcmp(text, prefix, len < plen ? len : plen) != 0)
        return -1;
    if (len <= plen)
        return 1;

    /* "HTTP/1.x NNN": check each byte as it arrives, so that body text is refused early. */
    size_t eol = plen;
    for (; eol < len && text[eol] != '\n'; eol++) {
        unsigned char c = (unsigned char)text[eol];
        if (c == '\0' || eol > RESPHEAD_MAX_HEAD)
            return -1;
        if ((eol == plen && !is_digit(c)) || (eol == plen + 1 && c != ' ') ||
            (eol >= plen + 2 && eol <= plen + 4 && !is_digit(c)) ||
            (eol == plen + 5 && !is_blank(c) && c != '\r'))
            return -1;
    }
    if (eol == len)
        return 1;
    size_t sl = eol;
    if (text[sl - 1] == '\r')
        sl--;
    if (sl < plen + 5)
        return -1;
    if (resphead_parse_status(h, text + plen + 2, sl - (plen + 2)) < 0)
        return -1;

    scan_t st;
    scan_seed(&st, h, true, true);
    int r = scan_into(h, &st, text + eol + 1, len - eol - 1);
    if (r != 0) {
        resphead_free(h);
        return r;
    }
    h->consumed = eol + 1 + st.consumed;
    return 0;
}

bool resphead_looks_like_headers(const char *text, size_t len)
{
    if (!text || len == 0 || text[0] == '\n' || (text[0] == '\r' && len > 1 && text[1] == '\n'))
        return false;
    resphead_t h;
    resphead_init(&h);
    scan_t st;
    scan_seed(&st, &h, false, true);
    return scan_lines(&st, text, len) == 0;
}

int resphead_add(resphead_t *h, const char *name, const char *value)
{
    if (!name || !value) {
        errno = EINVAL;
        return -1;
    }
    size_t vlen = strlen(value);
    trim(&value, &vlen);
    size_t nlen = strlen(name);
    scan_t st;
    scan_seed(&st, h, false, false);
    if (accept_field(&st, name, nlen, value, vlen) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (st.out_len == 0) {
        scan_commit(&st, h);
        return 0;
    }
    if (lines_reserve(h, st.out_len) < 0)
        return -1;
    scan_seed(&st, h, false, false);
    st.out = h->lines + h->lines_len;
    accept_field(&st, name, nlen, value, vlen);
    scan_commit(&st, h);
    return 0;
}

/* ---- Builder ---------------------------------------------------------------------------- */

static time_t (*test_clock)(void);

void resphead_set_clock_for_tests(time_t (*now)(void))
{
    test_clock = now;
}

/* The Date value, formatted at most once per second per thread. */
static const char *date_now(void)
{
    static _Thread_local struct {
        bool valid;
        time_t sec;
        char text[HTTP_DATE_LEN + 1];
    } cache;
    time_t now = test_clock ? test_clock() : time(NULL);
    if (!cache.valid || cache.sec != now) {
        http_date_format(now, cache.text);
        cache.sec = now;
        cache.valid = true;
    }
    return cache.text;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* The head into a malloc'ed buffer with room for `room` more bytes (and a NUL) behind it. */
static int build_head(const resphead_t *h, unsigned http_minor, resp_framing_t framing,
                      bool keep_alive, const char *server, size_t room, char **out,
                      size_t *out_len)
{
    if (h->status < 100 || h->status > 999) {
        errno = EINVAL;
        return -1;
    }
    const char *reason = h->reason;
    size_t rlen = strnlen(h->reason, sizeof h->reason);
    if (rlen == 0) {
        reason = http_status_reason(h->status);
        rlen = strlen(reason);
    }
    unsigned minor = http_minor >= 1 ? 1 : 0;
    bool bodiless = h->status < 200 || h->status == 204 || h->status == 304;
    bool keep = keep_alive && !h->conn_close && framing != FRAME_CLOSE;
    const char *date = h->has_date ? NULL : date_now();
    size_t slen = (h->has_server || !server) ? 0 : strlen(server);

    static const char cl_name[] = "Content-Length: ";
    static const char te_line[] = "Transfer-Encoding: chunked\r\n";
    static const char close_line[] = "Connection: close\r\n";
    static const char ka_line[] = "Connection: keep-alive\r\n";
    char num[24], *digits = num + sizeof num;
    const char *framing_line = NULL;
    size_t flen = 0;
    if (!bodiless && framing == FRAME_LENGTH) {
        uint64_t v = h->content_length;
        do {
            *--digits = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        flen = sizeof cl_name - 1 + (size_t)(num + sizeof num - digits) + 2;
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
        *p++ = is_field_char(c) ? (char)c : ' ';
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
        p = put(p, digits, (size_t)(num + sizeof num - digits));
        p = put(p, "\r\n", 2);
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
    return build_head(h, http_minor, framing, keep_alive, server, 0, out, out_len);
}

int resphead_build_response(const resphead_t *h, unsigned http_minor, resp_framing_t framing,
                            bool keep_alive, const char *server, const char *body,
                            size_t body_len, char **out, size_t *head_len, size_t *len)
{
    if (!body)
        body_len = 0;
    char *buf;
    if (build_head(h, http_minor, framing, keep_alive, server, body_len, &buf, head_len) < 0)
        return -1;
    if (body_len)
        memcpy(buf + *head_len, body, body_len);
    buf[*head_len + body_len] = '\0';
    *out = buf;
    *len = *head_len + body_len;
    return 0;
}
