/* Response heads: lenient on what extensions send, strict on what reaches the wire.
 *
 * Every header line, parsed or added, goes through one gate (apply_field after the name is
 * known to be a token and the value free of control characters), so no CR or LF supplied by an
 * extension can start a new line on the wire. The server-owned fields are taken out of the
 * line list there. Parsing makes one pass over each line: the name's bytes are checked as the
 * search for ':' passes them, the value's as the search for the line end does, and the name is
 * told from the special ones by its length first. Lines are written as they are accepted,
 * behind those h already holds; a malformed input leaves the head as it was: what was written
 * lies past h->lines_len and is cut off again.
 *
 * All character tests are ASCII-only: a loaded extension may change the process locale. The
 * builder, resphead_build*, is in resphead_build.c. */
#include "resphead.h"
#include "resphead_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "httputil.h"

/* Validation and output state for a run of header fields. Seeded from the head, committed back
 * only on success. */
typedef struct {
    resphead_t *h;       /* NULL: validate only */
    bool raw;            /* raw head: a NUL inside it is malformed */
    bool need_end;       /* the empty line must be present, else 1 (incomplete) */
    bool unwritable;     /* a line did not fit (past RESPHEAD_MAX_HEAD, or no memory): fails */
    char *buf;           /* where lines go: h->lines, or h->inline_lines while h has none */
    size_t cap;          /* buf's size */
    size_t len;          /* bytes of lines in buf: h's own, then this run's */
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

/* RFC 9110 tchar: http_is_tchar (httputil.h); field chars: resphead_is_field_char
 * (resphead_internal.h). */

const unsigned char resphead_field_char_table[256] = {
    ['\t'] = 1,
    [0x20 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

static bool ieq_n(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (http_ascii_lower((unsigned char)a[i]) != http_ascii_lower((unsigned char)b[i]))
            return false;
    return true;
}

/* Against a literal: its length is known at compile time, so most names are rejected by length. */
#define ieq(a, alen, lit) ieq_n((a), (alen), (lit), sizeof(lit) - 1)

static inline uint64_t load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t load4(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* A token (every byte a tchar) of n bytes, 4 <= n, against a literal of lower-case letters and
 * '-' as long: whole words compared, each byte of the name OR 0x20. That folds exactly: OR 0x20
 * takes 'A'..'Z' to 'a'..'z', and the only other bytes it takes to a letter or '-' are
 * lower-case letters themselves and CR, which is no tchar. */
static inline bool token_is(const char *name, const char *lit, size_t n)
{
    if (n < 8) {
        const uint32_t fold = 0x20202020u;
        return ((load4(name) | fold) ^ load4(lit)) == 0 &&
               ((load4(name + n - 4) | fold) ^ load4(lit + n - 4)) == 0;
    }
    const uint64_t fold = 0x2020202020202020ull;
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        diff |= (load8(name + i) | fold) ^ load8(lit + i);
    if (i < n)
        diff |= (load8(name + n - 8) | fold) ^ load8(lit + n - 8);
    return diff == 0;
}
#define token_is_lit(name, lit) token_is((name), (lit), sizeof(lit) - 1)

typedef enum {
    FIELD_OTHER,
    FIELD_CONTENT_LENGTH,
    FIELD_TRANSFER_ENCODING,
    FIELD_CONNECTION,
    FIELD_KEEP_ALIVE,
    FIELD_SERVER,
    FIELD_DATE,
} field_t;

/* The field a token of n bytes names: its length picks the candidate first. */
static inline field_t field_of(const char *name, size_t n)
{
    switch (n) {
    case 4:
        return token_is_lit(name, "date") ? FIELD_DATE : FIELD_OTHER;
    case 6:
        return token_is_lit(name, "server") ? FIELD_SERVER : FIELD_OTHER;
    case 10:
        return token_is_lit(name, "connection")   ? FIELD_CONNECTION
               : token_is_lit(name, "keep-alive") ? FIELD_KEEP_ALIVE
                                                  : FIELD_OTHER;
    case 14:
        return token_is_lit(name, "content-length") ? FIELD_CONTENT_LENGTH : FIELD_OTHER;
    case 17:
        return token_is_lit(name, "transfer-encoding") ? FIELD_TRANSFER_ENCODING : FIELD_OTHER;
    default:
        return FIELD_OTHER;
    }
}

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
 * with one seen earlier. st changes only when e is accepted. */
static int on_length(scan_t *st, const char *e, size_t n)
{
    if (n == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)e[i]))
            return -1;
        unsigned d = (unsigned)(e[i] - '0');
        if (i >= 19 && v > (UINT64_MAX - d) / 10) /* 19 digits cannot pass UINT64_MAX */
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

/* One field whose name is a token and whose value (trimmed) is free of control characters:
 * -1 malformed, 0 taken by the server (not a line), 1 a line to keep. */
__attribute__((always_inline)) static inline int apply_field(scan_t *st, field_t field,
                                                             const char *value, size_t vlen)
{
    switch (field) {
    case FIELD_CONTENT_LENGTH:
        /* Mostly one number; a list only where a comma is (its elements are then judged one
         * by one, this one failing: a comma is no digit). */
        if (on_length(st, value, vlen) == 0)
            return 0;
        if (!memchr(value, ',', vlen))
            return -1;
        return for_each_element(value, vlen, on_length, st) < 0 ? -1 : 0;
    case FIELD_TRANSFER_ENCODING:
        /* The server can pass through only a body the extension chunks itself. */
        if (ieq(value, vlen, "chunked"))
            st->chunked = true;
        else if (!ieq(value, vlen, "identity"))
            return -1;
        return 0;
    case FIELD_CONNECTION:
        return for_each_element(value, vlen, on_connection, st) < 0 ? -1 : 0;
    case FIELD_KEEP_ALIVE:
        return 0;
    case FIELD_SERVER:
        st->has_server = true;
        return 1;
    case FIELD_DATE:
        if (st->has_date) /* one Date: the extension's first */
            return 0;
        st->has_date = true;
        return 1;
    case FIELD_OTHER:
        break;
    }
    return 1;
}

static char *lines_grow(scan_t *st, size_t n);

/* Where the next n bytes of lines go (room for the NUL behind them kept), or NULL when they are
 * not written: validating only, or they do not fit (st->unwritable, errno EINVAL past the head
 * limit, ENOMEM). */
static inline char *lines_room(scan_t *st, size_t n)
{
    if (st->len + n < st->cap)
        return st->buf + st->len;
    return lines_grow(st, n);
}

/* The buffer grows into the heap; h adopts it at once, holding the same lines. */
static char *lines_grow(scan_t *st, size_t n)
{
    if (!st->h || st->unwritable)
        return NULL;
    if (st->len + n > RESPHEAD_MAX_HEAD) {
        st->unwritable = true;
        errno = EINVAL;
        return NULL;
    }
    size_t cap = st->cap * 2;
    if (cap < st->len + n + 1)
        cap = st->len + n + 1;
    if (cap > RESPHEAD_MAX_HEAD + 1)
        cap = RESPHEAD_MAX_HEAD + 1;
    resphead_t *h = st->h;
    char *p;
    if (st->buf == h->inline_lines) {
        if ((p = malloc(cap)))
            memcpy(p, st->buf, st->len);
    } else {
        p = realloc(st->buf, cap);
    }
    if (!p) {
        st->unwritable = true;
        return NULL;
    }
    st->buf = h->lines = p;
    st->cap = h->lines_cap = cap;
    return st->buf + st->len;
}

/* "name: value\r\n" into the lines. */
static void put_field(scan_t *st, const char *name, size_t nlen, const char *value, size_t vlen)
{
    char *p = lines_room(st, nlen + vlen + 4);
    if (p) {
        memcpy(p, name, nlen);
        p += nlen;
        *p++ = ':';
        *p++ = ' ';
        memcpy(p, value, vlen);
        p += vlen;
        *p++ = '\r';
        *p = '\n';
    }
    st->len += nlen + vlen + 4;
}

/* The first byte at or after i that is no tchar, or len: four bytes a step while four remain. */
static inline size_t skip_tchars(const unsigned char *t, size_t i, size_t len)
{
    const unsigned char *tc = http_tchar_table; /* 0 or 1 */
    while (len - i >= 4 && (tc[t[i]] & tc[t[i + 1]] & tc[t[i + 2]] & tc[t[i + 3]]))
        i += 4;
    while (i < len && tc[t[i]])
        i++;
    return i;
}

/* The first byte at or after i that is no field char, or len. Byte by byte: values are short
 * (the word-wise searches measured no faster on them). */
static inline size_t skip_field_chars(const unsigned char *t, size_t i, size_t len)
{
    while (i < len && resphead_is_field_char(t[i]))
        i++;
    return i;
}

/* A line the fast path of scan_lines refused, starting at pos: malformed (-1), unless it is the
 * unfinished last line of a head whose end must be present (1: scan_lines does not judge
 * those). */
static int refused_line(const scan_t *st, const char *text, size_t pos, size_t len)
{
    const char *lf = memchr(text + pos, '\n', len - pos);
    size_t end = lf ? (size_t)(lf - text) : len;
    const char *nul = memchr(text + pos, '\0', end - pos);
    if (nul)
        end = (size_t)(nul - text);
    if (end > RESPHEAD_MAX_HEAD || (lf && !nul))
        return -1;
    if (end < len && st->raw)
        return -1;
    return st->need_end ? 1 : -1;
}

/* Lines up to the empty line. 0: done (st->consumed set), 1: the text ended first and
 * st->need_end, -1: malformed. A line ends at LF, with an optional CR before it; where the text
 * ends without a line end (len, or a NUL unless raw) the last line ends too, unjudged when
 * st->need_end. The line's end must lie within RESPHEAD_MAX_HEAD bytes. */
static int scan_lines(scan_t *st, const char *text, size_t len)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t pos = 0;
    for (;;) {
        size_t i = skip_tchars(t, pos, len);
        size_t nlen = i - pos;
        size_t v = i, vend = i, end;
        bool terminated;
        if (nlen && i < len && t[i] == ':') {
            v = i + 1;
            while (v < len && is_blank(t[v]))
                v++;
            vend = skip_field_chars(t, v, len);
        } else if (nlen) {
            return refused_line(st, text, pos, len);
        }
        /* vend: the first byte past the value (or at the start of an empty line), which must
         * end the line: LF, CR LF, CR at the text's end, or the text's end. */
        size_t e = vend;
        if (e == len) {
            end = len;
            terminated = false;
        } else if (t[e] == '\n') {
            end = e;
            terminated = true;
        } else if (t[e] == '\r' && e + 1 < len && t[e + 1] == '\n') {
            end = e + 1;
            terminated = true;
        } else if (t[e] == '\r' && (e + 1 == len || t[e + 1] == '\0')) {
            end = e + 1;
            terminated = false;
        } else if (t[e] == '\0') {
            end = e;
            terminated = false;
        } else {
            return refused_line(st, text, pos, len);
        }
        if (end > RESPHEAD_MAX_HEAD)
            return -1;
        if (!terminated) {
            if (end < len && st->raw)
                return -1;
            if (st->need_end)
                return 1;
        }
        if (nlen == 0) { /* the empty line */
            st->consumed = terminated ? end + 1 : len;
            return 0;
        }
        while (vend > v && is_blank(t[vend - 1]))
            vend--;
        int keep = apply_field(st, field_of(text + pos, nlen), text + v, vend - v);
        if (keep < 0)
            return -1;
        if (keep) {
            /* "Name: value\r\n" as written: copied whole. */
            if (v == i + 2 && t[i + 1] == ' ' && vend == e && end == e + 1 && terminated) {
                size_t n = e + 2 - pos;
                char *p = lines_room(st, n);
                if (p)
                    memcpy(p, text + pos, n);
                st->len += n;
            } else {
                put_field(st, text + pos, nlen, text + v, vend - v);
            }
        }
        if (!terminated) {
            st->consumed = len;
            return 0;
        }
        pos = end + 1;
    }
}

static void scan_seed(scan_t *st, resphead_t *h, bool raw, bool need_end)
{
    *st = (scan_t){
        .h = h,
        .raw = raw,
        .need_end = need_end,
        .buf = h->lines ? h->lines : h->inline_lines,
        .cap = h->lines ? h->lines_cap : sizeof h->inline_lines,
        .len = h->lines_len,
        .has_server = h->has_server,
        .has_date = h->has_date,
        .has_content_length = h->has_content_length,
        .content_length = h->content_length,
        .chunked = h->chunked,
        .conn_close = h->conn_close,
    };
}

/* A run's result into h: on r == 0 its lines and fields, else nothing. 0, or -1 when r is 0
 * but a line could not be written. */
static int scan_commit(const scan_t *st, resphead_t *h, int r)
{
    if (r == 0 && st->unwritable)
        r = -1;
    if (r != 0) {
        /* What the failed run wrote is not part of h. Lines a caller set itself (lines_cap 0)
         * may have no room for a NUL: the run wrote to them only once it had grown them. */
        if (h->lines && h->lines_cap > h->lines_len)
            h->lines[h->lines_len] = '\0';
        return r;
    }
    h->has_server = st->has_server;
    h->has_date = st->has_date;
    h->chunked = st->chunked;
    h->has_content_length = st->has_content_length && !st->chunked;
    h->content_length = h->has_content_length ? st->content_length : 0;
    h->conn_close = st->conn_close;
    if (st->len > h->lines_len) { /* written, with room for the NUL behind */
        h->lines = st->buf;
        h->lines_cap = st->cap;
        h->lines_len = st->len;
        h->lines[h->lines_len] = '\0';
    }
    return 0;
}

void resphead_init(resphead_t *h)
{
    /* Field by field: reason and inline_lines are read only up to what was written. */
    h->status = 200;
    h->has_server = false;
    h->has_date = false;
    h->has_content_length = false;
    h->chunked = false;
    h->conn_close = false;
    h->content_length = 0;
    h->consumed = 0;
    h->lines = NULL;
    h->lines_len = 0;
    h->lines_cap = 0;
    memcpy(h->reason, "OK", 3);
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
    if (h->lines != h->inline_lines)
        free(h->lines);
    h->lines = NULL;
    h->lines_len = 0;
    h->lines_cap = 0;
}

int resphead_parse_status(resphead_t *h, const char *status, size_t len)
{
    resphead_init(h);
    if (!status)
        return 0;
    /* The common form "NNN reason", the reason ending the text: as the general path below
     * takes it, in one pass. */
    if (len > 4 && is_digit((unsigned char)status[0]) && status[0] != '0' &&
        is_digit((unsigned char)status[1]) && is_digit((unsigned char)status[2]) &&
        status[3] == ' ' && !is_blank((unsigned char)status[4])) {
        size_t k = 4;
        while (k < len && resphead_is_field_char((unsigned char)status[k]))
            k++;
        if (k > 4 && (k == len || status[k] == '\0') && !is_blank((unsigned char)status[k - 1])) {
            size_t rlen = k - 4 < sizeof h->reason - 1 ? k - 4 : sizeof h->reason - 1;
            h->status = (unsigned)(status[0] - '0') * 100 + (unsigned)(status[1] - '0') * 10 +
                        (unsigned)(status[2] - '0');
            memcpy(h->reason, status + 4, rlen);
            h->reason[rlen] = '\0';
            return 0;
        }
    }
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
        if (!resphead_is_field_char((unsigned char)reason[k]))
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
    if (scan_commit(&st, h, scan_lines(&st, text, len)) != 0)
        return -1;
    h->consumed = st.consumed;
    return 0;
}

/* The head's parsed state into dst, lines copied into dst's own inline buffer (src's lines, if
 * any, fit there); reason_len: src's reason's. */
static void head_copy_small(resphead_t *dst, const resphead_t *src, size_t reason_len)
{
    dst->status = src->status;
    dst->has_server = src->has_server;
    dst->has_date = src->has_date;
    dst->has_content_length = src->has_content_length;
    dst->chunked = src->chunked;
    dst->conn_close = src->conn_close;
    dst->content_length = src->content_length;
    dst->consumed = src->consumed;
    if (reason_len < 16) /* a fixed size: no call (most reasons are a word or two) */
        memcpy(dst->reason, src->reason, 16);
    else
        memcpy(dst->reason, src->reason, reason_len + 1);
    dst->lines_len = src->lines_len;
    if (src->lines) {
        memcpy(dst->inline_lines, src->lines, src->lines_len + 1);
        dst->lines = dst->inline_lines;
        dst->lines_cap = sizeof dst->inline_lines;
    } else {
        dst->lines = NULL;
        dst->lines_cap = 0;
    }
}

/* memo's key is these bytes (status_len + text_len fit the key). */
static bool memo_holds(const resphead_memo_t *memo, const char *status, size_t status_len,
                       const char *text, size_t text_len)
{
    return memo->valid && memo->status_len == status_len && memo->text_len == text_len &&
           memo->has_text == (text != NULL) && resphead_same_bytes(memo->key, status, status_len) &&
           resphead_same_bytes(memo->key + status_len, text, text_len);
}

const resphead_t *resphead_memo_find(const resphead_memo_t *memo, const char *status,
                                     size_t status_len, const char *text, size_t text_len)
{
    if (!status)
        status_len = 0;
    if (!text)
        text_len = 0;
    if (status_len + text_len > sizeof memo->key ||
        !memo_holds(memo, status, status_len, text, text_len))
        return NULL;
    return &memo->head;
}

int resphead_parse_memo(resphead_memo_t *memo, resphead_t *h, const char *status,
                        size_t status_len, const char *text, size_t text_len)
{
    if (!status)
        status_len = 0;
    if (!text)
        text_len = 0;
    bool fits = status_len + text_len <= sizeof memo->key;
    if (fits && memo_holds(memo, status, status_len, text, text_len)) {
        head_copy_small(h, &memo->head, memo->reason_len);
        return 0;
    }
    if (resphead_parse_status(h, status, status_len) < 0 ||
        (text && resphead_parse_lines(h, text, text_len) < 0))
        return -1;
    if (fits && (!h->lines || h->lines == h->inline_lines)) {
        memo->valid = true;
        memo->gen++;
        memo->has_text = text != NULL;
        memo->status_len = status_len;
        memo->text_len = text_len;
        if (status_len)
            memcpy(memo->key, status, status_len);
        if (text_len)
            memcpy(memo->key + status_len, text, text_len);
        memo->reason_len = strnlen(h->reason, sizeof h->reason - 1);
        head_copy_small(&memo->head, h, memo->reason_len);
    }
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
    int r = scan_commit(&st, h, scan_lines(&st, text + eol + 1, len - eol - 1));
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
    scan_t st = {.need_end = true}; /* no head: validates only */
    return scan_lines(&st, text, len) == 0;
}

int resphead_add(resphead_t *h, const char *name, const char *value)
{
    if (!name || !value) {
        errno = EINVAL;
        return -1;
    }
    size_t nlen = strlen(name);
    bool ok = nlen > 0;
    for (size_t i = 0; ok && i < nlen; i++)
        ok = http_is_tchar((unsigned char)name[i]);
    size_t vlen = strlen(value);
    trim(&value, &vlen);
    for (size_t i = 0; ok && i < vlen; i++)
        ok = resphead_is_field_char((unsigned char)value[i]);
    scan_t st;
    scan_seed(&st, h, false, false);
    int keep = ok ? apply_field(&st, field_of(name, nlen), value, vlen) : -1;
    if (keep < 0) {
        errno = EINVAL;
        return -1;
    }
    if (keep)
        put_field(&st, name, nlen, value, vlen);
    return scan_commit(&st, h, 0);
}

int resphead_add_own_lines(resphead_t *h, const char *lines, size_t len)
{
    scan_t st;
    scan_seed(&st, h, false, false);
    char *p = lines_room(&st, len);
    if (p)
        memcpy(p, lines, len);
    st.len += len;
    return scan_commit(&st, h, 0);
}
