/* Fuzz harness: the parser of header text that extensions send (SEND_RESPONSE_HEADER[_EX]
 * status and header block, a raw "HTTP/1.x" head or "Name: value" lines at the start of the
 * first WriteClient) and the builder of the head that goes on the wire.
 *
 * Input: byte 0 picks the builder's options (framing, HTTP minor version, keep-alive, Server),
 * byte 1 is the length of the status text that follows, the rest is the header text.
 * The status and text go through resphead_parse_status + resphead_parse_lines (as
 * SEND_RESPONSE_HEADER does), resphead_parse_raw, resphead_looks_like_headers and
 * resphead_add; every head parsed is built with resphead_build. Checked:
 * - a parse that fails leaves the head as it was (parse_lines, add) or empty (parse_raw);
 * - parsed lines are "Name: value\r\n" with a token name, a trimmed value free of control
 *   characters, none of the server-owned names, and has_server says whether Server is there;
 * - a raw head that parses is reported incomplete (1) for every shorter prefix: a caller that
 *   buffers WriteClient data until the head is complete gets the same head;
 * - resphead_looks_like_headers true implies resphead_parse_lines accepts the text;
 * - a built head is "HTTP/1.x NNN reason", CRLF lines, one empty line at the very end, no
 *   bare CR or LF, no control byte (the injection test), at most one framing header and none
 *   for 1xx/204/304, and "Connection: close" when the response must close. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "resphead.h"

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool field_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static bool name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* h->lines as documented in resphead.h. */
static void check_lines(const resphead_t *h)
{
    FUZZ_CHECK(!(h->chunked && h->has_content_length));
    if (h->lines_len == 0) {
        FUZZ_CHECK(!h->has_server);
        return;
    }
    FUZZ_CHECK(h->lines && strlen(h->lines) == h->lines_len);
    bool server = false, date = false;
    const char *p = h->lines, *end = h->lines + h->lines_len;
    while (p < end) {
        const char *eol = strstr(p, "\r\n");
        FUZZ_CHECK(eol != NULL);
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        FUZZ_CHECK(colon != NULL && colon > p && colon + 1 < eol && colon[1] == ' ');
        size_t nlen = (size_t)(colon - p);
        for (size_t i = 0; i < nlen; i++)
            FUZZ_CHECK(tchar((unsigned char)p[i]));
        const char *v = colon + 2;
        size_t vlen = (size_t)(eol - v);
        for (size_t i = 0; i < vlen; i++)
            FUZZ_CHECK(field_char((unsigned char)v[i]));
        if (vlen)
            FUZZ_CHECK(v[0] != ' ' && v[0] != '\t' && v[vlen - 1] != ' ' && v[vlen - 1] != '\t');
        static const char *const owned[] = {"Connection", "Keep-Alive", "Transfer-Encoding",
                                            "Content-Length"};
        for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
            FUZZ_CHECK(!name_is(p, nlen, owned[i]));
        if (name_is(p, nlen, "Server"))
            server = true;
        if (name_is(p, nlen, "Date")) {
            FUZZ_CHECK(!date); /* at most one, the extension's first */
            date = true;
        }
        p = eol + 2;
    }
    FUZZ_CHECK(server == h->has_server);
    FUZZ_CHECK(date == h->has_date);
}

static void check_status(const resphead_t *h)
{
    FUZZ_CHECK(h->status >= 100 && h->status <= 999);
    size_t n = strnlen(h->reason, sizeof h->reason);
    FUZZ_CHECK(n < sizeof h->reason);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(field_char((unsigned char)h->reason[i]));
}

/* A field-wise copy, to tell that a failed parse left h unchanged. */
typedef struct {
    resphead_t h;
    char *lines;
} snapshot_t;

static void snap(snapshot_t *s, const resphead_t *h)
{
    s->h = *h;
    s->lines = h->lines ? strdup(h->lines) : NULL;
    FUZZ_REQUIRE(!h->lines || s->lines);
}

static void check_unchanged(snapshot_t *s, const resphead_t *h)
{
    FUZZ_CHECK(h->status == s->h.status && strcmp(h->reason, s->h.reason) == 0);
    FUZZ_CHECK(h->lines_len == s->h.lines_len);
    FUZZ_CHECK(h->has_server == s->h.has_server && h->chunked == s->h.chunked);
    FUZZ_CHECK(h->has_content_length == s->h.has_content_length);
    FUZZ_CHECK(h->content_length == s->h.content_length && h->conn_close == s->h.conn_close);
    if (h->lines_len)
        FUZZ_CHECK(memcmp(h->lines, s->lines, h->lines_len) == 0);
    free(s->lines);
    s->lines = NULL;
}

static size_t count_field(const char *head, const char *name)
{
    size_t n = 0, len = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, len) == 0 && p[2 + len] == ':')
            n++;
    return n;
}

static void build_and_check(const resphead_t *h, uint8_t opts)
{
    resp_framing_t framing = (resp_framing_t)(opts % 5);
    unsigned minor = (opts >> 3) & 3;
    bool keep = (opts >> 5) & 1;
    const char *server = (opts >> 6) & 1 ? "isapid/fuzz" : NULL;
    char *out = NULL;
    size_t len = 0;
    FUZZ_CHECK(resphead_build(h, minor, framing, keep, server, &out, &len) == 0);

    FUZZ_CHECK(strlen(out) == len);
    char first[16];
    snprintf(first, sizeof first, "HTTP/1.%u %03u ", minor >= 1 ? 1 : 0, h->status);
    FUZZ_CHECK(len > strlen(first) && memcmp(out, first, strlen(first)) == 0);
    /* One empty line, at the very end: nothing the extension sent ends the head early. */
    FUZZ_CHECK(len >= 4 && memcmp(out + len - 4, "\r\n\r\n", 4) == 0);
    FUZZ_CHECK((size_t)(strstr(out, "\r\n\r\n") - out) == len - 4);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '\r')
            FUZZ_CHECK(i + 1 < len && out[i + 1] == '\n');
        else if (c == '\n')
            FUZZ_CHECK(i > 0 && out[i - 1] == '\r');
        else
            FUZZ_CHECK(field_char(c));
    }
    /* Every line after the status line is a field with a token name. */
    for (const char *p = strstr(out, "\r\n") + 2; p < out + len - 2; p = strstr(p, "\r\n") + 2) {
        const char *q = p;
        while (tchar((unsigned char)*q))
            q++;
        FUZZ_CHECK(q > p && *q == ':');
    }
    size_t cl = count_field(out, "Content-Length"), te = count_field(out, "Transfer-Encoding");
    FUZZ_CHECK(cl + te <= 1);
    bool bodiless = h->status < 200 || h->status == 204 || h->status == 304;
    if (bodiless)
        FUZZ_CHECK(cl + te == 0);
    else if (framing == FRAME_LENGTH)
        FUZZ_CHECK(cl == 1);
    else if (framing == FRAME_CHUNKED || framing == FRAME_PASSTHRU)
        FUZZ_CHECK(te == 1);
    else
        FUZZ_CHECK(cl + te == 0);
    FUZZ_CHECK(count_field(out, "Date") == 1);
    FUZZ_CHECK(count_field(out, "Connection") <= 1);
    if (h->conn_close || framing == FRAME_CLOSE || !keep)
        FUZZ_CHECK(strstr(out, "\r\nConnection: close\r\n") != NULL);
    free(out);
}

/* An exact-size copy, so that ASan catches a read past the given length. */
static char *copy(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    FUZZ_REQUIRE(c);
    memcpy(c, p, n);
    return c;
}

static void fuzz_raw(const char *text, size_t len, uint8_t opts)
{
    resphead_t h;
    int rc = resphead_parse_raw(&h, text, len);
    FUZZ_CHECK(rc == 0 || rc == 1 || rc == -1);
    if (rc != 0) {
        FUZZ_CHECK(h.lines == NULL && h.lines_len == 0);
    } else {
        FUZZ_CHECK(h.consumed > 0 && h.consumed <= len && text[h.consumed - 1] == '\n');
        check_status(&h);
        check_lines(&h);
        build_and_check(&h, opts);
    }
    /* Prefixes of a complete or incomplete head are incomplete heads. */
    size_t upto = rc == 0 ? h.consumed : rc == 1 ? len : 0;
    resphead_free(&h);
    size_t cuts[] = {upto / 2, upto > 0 ? upto - 1 : 0, upto > 2 ? upto - 2 : 0,
                     (size_t)opts % (upto ? upto : 1)};
    for (size_t i = 0; upto > 0 && i < sizeof cuts / sizeof cuts[0]; i++) {
        char *pre = copy(text, cuts[i]);
        resphead_t hp;
        FUZZ_CHECK(resphead_parse_raw(&hp, pre, cuts[i]) == 1);
        FUZZ_CHECK(hp.lines == NULL);
        free(pre);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t opts = data[0];
    size_t slen = data[1];
    if (slen > size - 2)
        slen = size - 2;
    const char *status = (const char *)data + 2;
    const char *text = status + slen;
    size_t tlen = size - 2 - slen;

    /* SEND_RESPONSE_HEADER: status string, then the header block (twice: lines append, and
     * a second Content-Length must agree with the first). */
    resphead_t h;
    snapshot_t s;
    if (resphead_parse_status(&h, slen ? status : NULL, slen) < 0) {
        FUZZ_CHECK(h.status == 200 && strcmp(h.reason, "OK") == 0);
    }
    check_status(&h);
    for (int round = 0; round < 2; round++) {
        snap(&s, &h);
        if (resphead_parse_lines(&h, text, tlen) == 0) {
            FUZZ_CHECK(h.consumed <= tlen);
            free(s.lines);
        } else {
            check_unchanged(&s, &h);
        }
        check_lines(&h);
    }
    build_and_check(&h, opts);

    /* resphead_add: name = the status bytes, value = the text (both up to a NUL). */
    char *name = strndup(status, slen), *value = strndup(text, tlen);
    FUZZ_REQUIRE(name && value);
    snap(&s, &h);
    if (resphead_add(&h, name, value) == 0)
        free(s.lines);
    else
        check_unchanged(&s, &h);
    check_lines(&h);
    build_and_check(&h, opts);
    free(name);
    free(value);
    resphead_free(&h);

    /* First WriteClient: a raw head, or header lines at the start of the body. */
    fuzz_raw(text, tlen, opts);
    if (resphead_looks_like_headers(text, tlen)) {
        resphead_t hl;
        resphead_init(&hl);
        FUZZ_CHECK(resphead_parse_lines(&hl, text, tlen) == 0);
        FUZZ_CHECK(hl.consumed > 0 && hl.consumed <= tlen && text[hl.consumed - 1] == '\n');
        check_lines(&hl);
        build_and_check(&hl, opts);
        resphead_free(&hl);
    }
    return 0;
}
