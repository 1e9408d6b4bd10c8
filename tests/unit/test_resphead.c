/* Response heads: status strings, header text as extensions send it, raw heads, the
 * header-in-body heuristic, and the builder's exact output. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "httputil.h"
#include "resphead.h"
#include "resphead_internal.h"

#define S(lit) lit, sizeof lit - 1

static time_t fixed_now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

static time_t fixed_clock(void)
{
    return fixed_now;
}

static const char *lines_of(const resphead_t *h)
{
    return h->lines ? h->lines : "";
}

static void test_status(void)
{
    resphead_t h;
    CHECK_INT(resphead_parse_status(&h, NULL, 0), 0);
    CHECK_INT(h.status, 200);
    CHECK_STR(h.reason, "OK");
    CHECK_INT(resphead_parse_status(&h, S("")), 0);
    CHECK_INT(h.status, 200);
    CHECK_INT(resphead_parse_status(&h, S(" \t ")), 0);
    CHECK_INT(h.status, 200);

    CHECK_INT(resphead_parse_status(&h, S("200 OK")), 0);
    CHECK_INT(h.status, 200);
    CHECK_STR(h.reason, "OK");
    CHECK_INT(resphead_parse_status(&h, S("404")), 0);
    CHECK_INT(h.status, 404);
    CHECK_STR(h.reason, http_status_reason(404));
    CHECK_INT(resphead_parse_status(&h, S("302 Moved Temporarily")), 0);
    CHECK_INT(h.status, 302);
    CHECK_STR(h.reason, "Moved Temporarily");
    CHECK_INT(resphead_parse_status(&h, S("HTTP/1.1 200 OK")), 0);
    CHECK_INT(h.status, 200);
    CHECK_STR(h.reason, "OK");
    CHECK_INT(resphead_parse_status(&h, S("http/1.0 404 Nope")), 0);
    CHECK_INT(h.status, 404);
    CHECK_STR(h.reason, "Nope");
    CHECK_INT(resphead_parse_status(&h, S("HTTP/1.1 503")), 0);
    CHECK_INT(h.status, 503);
    CHECK_STR(h.reason, http_status_reason(503));
    CHECK_INT(resphead_parse_status(&h, S("  500   Internal  Error \r\n")), 0);
    CHECK_INT(h.status, 500);
    CHECK_STR(h.reason, "Internal  Error");
    CHECK_INT(resphead_parse_status(&h, S("201\tCreated")), 0);
    CHECK_INT(h.status, 201);
    CHECK_STR(h.reason, "Created");
    CHECK_INT(resphead_parse_status(&h, "200 OK", 7), 0); /* cch counting the NUL */
    CHECK_STR(h.reason, "OK");
    CHECK_INT(resphead_parse_status(&h, "404 Not Found", 3), 0); /* len shorter than the string */
    CHECK_INT(h.status, 404);
    CHECK_INT(resphead_parse_status(&h, S("100 Continue")), 0);
    CHECK_INT(h.status, 100);
    CHECK_INT(resphead_parse_status(&h, S("999 Custom")), 0);
    CHECK_INT(h.status, 999);
    CHECK_INT(resphead_parse_status(&h, S("200 Caf\xc3\xa9")), 0);
    CHECK_STR(h.reason, "Caf\xc3\xa9");

    /* Forms near the common "NNN reason": each as the general rules take it. */
    CHECK_INT(resphead_parse_status(&h, S("200 OK ")), 0);
    CHECK_STR(h.reason, "OK");
    CHECK_INT(resphead_parse_status(&h, S("200  OK")), 0);
    CHECK_STR(h.reason, "OK");
    CHECK_INT(resphead_parse_status(&h, S("200 OK\0junk")), 0);
    CHECK_STR(h.reason, "OK");
    CHECK_INT(resphead_parse_status(&h, S("200 O\tK")), 0);
    CHECK_STR(h.reason, "O\tK");
    CHECK_INT(resphead_parse_status(&h, S("200 OK\r\n")), 0);
    CHECK_STR(h.reason, "OK");
    CHECK_INT(resphead_parse_status(&h, S("200 OK\rX")), -1);
    CHECK_INT(resphead_parse_status(&h, S("099 Low")), -1);

    char longs[300];
    memset(longs, 'r', sizeof longs);
    memcpy(longs, "418 ", 4);
    CHECK_INT(resphead_parse_status(&h, longs, sizeof longs), 0);
    CHECK_INT(h.status, 418);
    CHECK_INT(strlen(h.reason), sizeof h.reason - 1);

    static const char *const bad[] = {
        "99", "99 Low", "1000", "099 x", "abc", "20", "200OK", "2000 OK", "HTTP/1.1",
        "HTTP/1.1 abc", "OK 200", "200 OK\r\nSet-Cookie: evil=1", "200 O\rK", "200 O\nK",
        "200 O\x01K", "200 O\x7fK", "-200 OK", "+200",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = resphead_parse_status(&h, bad[i], strlen(bad[i]));
        if (r != -1)
            fprintf(stderr, "accepted bad status %zu\n", i);
        CHECK_INT(r, -1);
        CHECK_INT(h.status, 200);
        CHECK(h.lines == NULL);
    }
}

static void test_lines_basic(void)
{
    resphead_t h;
    const char *t;

    resphead_init(&h);
    t = "Content-Type: text/html\r\n\r\n";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t)), 0);
    CHECK_STR(lines_of(&h), "Content-Type: text/html\r\n");
    CHECK_INT(h.lines_len, strlen(lines_of(&h)));
    CHECK_INT(h.consumed, strlen(t));
    resphead_free(&h);

    /* Bare LF, any case, blanks around the value, none after the colon. */
    resphead_init(&h);
    t = "content-type:text/plain\nX-A: \t b c \t\n\n";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t)), 0);
    CHECK_STR(lines_of(&h), "content-type: text/plain\r\nX-A: b c\r\n");
    CHECK_INT(h.consumed, strlen(t));
    resphead_free(&h);

    /* Body after the blank line. */
    resphead_init(&h);
    t = "A: 1\r\n\r\n<html>body</html>";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t)), 0);
    CHECK_STR(lines_of(&h), "A: 1\r\n");
    CHECK_INT(h.consumed, 8);
    CHECK_STR(t + h.consumed, "<html>body</html>");
    resphead_free(&h);

    /* cch counting the NUL, with and without the final blank line. */
    resphead_init(&h);
    t = "A: 1\r\nB: 2\r\n";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t) + 1), 0);
    CHECK_STR(lines_of(&h), "A: 1\r\nB: 2\r\n");
    CHECK_INT(h.consumed, strlen(t) + 1);
    resphead_free(&h);
    resphead_init(&h);
    t = "A: 1\r\n\r\n";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t) + 1), 0);
    CHECK_INT(h.consumed, strlen(t));
    resphead_free(&h);

    /* Missing final blank line, last line without terminator, trailing CR at the end. */
    resphead_init(&h);
    t = "A: 1\r\nB: 2";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t)), 0);
    CHECK_STR(lines_of(&h), "A: 1\r\nB: 2\r\n");
    CHECK_INT(h.consumed, strlen(t));
    resphead_free(&h);
    resphead_init(&h);
    t = "A: 1\r";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t)), 0);
    CHECK_STR(lines_of(&h), "A: 1\r\n");
    resphead_free(&h);

    /* A NUL ends the text even when len goes on. */
    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, S("A: 1\0B: 2\r\n")), 0);
    CHECK_STR(lines_of(&h), "A: 1\r\n");
    CHECK_INT(h.consumed, sizeof "A: 1\0B: 2\r\n" - 1);
    resphead_free(&h);

    /* Empty inputs. */
    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, "", 0), 0);
    CHECK_INT(h.consumed, 0);
    CHECK_INT(h.lines_len, 0);
    CHECK_INT(resphead_parse_lines(&h, NULL, 0), 0);
    CHECK_INT(resphead_parse_lines(&h, S("\r\nbody")), 0);
    CHECK_INT(h.consumed, 2);
    CHECK_INT(h.lines_len, 0);
    CHECK_INT(resphead_parse_lines(&h, S("\nbody")), 0);
    CHECK_INT(h.consumed, 1);
    resphead_free(&h);

    /* Two calls append; the value may carry obs-text. */
    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, S("A: 1\r\n")), 0);
    CHECK_INT(resphead_parse_lines(&h, S("B: caf\xc3\xa9\r\n\r\n")), 0);
    CHECK_STR(lines_of(&h), "A: 1\r\nB: caf\xc3\xa9\r\n");
    CHECK_INT(resphead_add(&h, "Location", "  /next  "), 0);
    CHECK_STR(lines_of(&h), "A: 1\r\nB: caf\xc3\xa9\r\nLocation: /next\r\n");
    CHECK_INT(resphead_add(&h, "X-Empty", ""), 0);
    CHECK_STR(lines_of(&h), "A: 1\r\nB: caf\xc3\xa9\r\nLocation: /next\r\nX-Empty: \r\n");
    resphead_free(&h);
}

static void test_lines_server_owned(void)
{
    resphead_t h;
    resphead_init(&h);
    const char *t = "Connection: close\r\nKeep-Alive: timeout=5\r\nDate: Mon, 01 Jan 2001 "
                    "00:00:00 GMT\r\nContent-Length: 42\r\nServer: Foo/1\r\nX: y\r\n\r\n";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t)), 0);
    /* The extension's Date is its own header, kept as written (the builder then adds none). */
    CHECK_STR(lines_of(&h), "Date: Mon, 01 Jan 2001 00:00:00 GMT\r\nServer: Foo/1\r\nX: y\r\n");
    CHECK(h.conn_close);
    CHECK(h.has_server);
    CHECK(h.has_date);
    CHECK(h.has_content_length);
    CHECK_INT(h.content_length, 42);
    CHECK(!h.chunked);
    resphead_free(&h);

    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, S("connection: keep-alive\r\n")), 0);
    CHECK(!h.conn_close);
    CHECK_INT(h.lines_len, 0);
    CHECK_INT(resphead_parse_lines(&h, S("CONNECTION: Keep-Alive, CLOSE\r\n")), 0);
    CHECK(h.conn_close);
    resphead_free(&h);

    /* Content-Length: duplicates must agree. */
    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, S("Content-Length: 5\r\ncontent-length: 5\r\n")), 0);
    CHECK_INT(h.content_length, 5);
    CHECK_INT(resphead_parse_lines(&h, S("Content-Length: 5, 5\r\n")), 0);
    CHECK_INT(resphead_parse_lines(&h, S("Content-Length: 6\r\n")), -1);
    CHECK_INT(h.content_length, 5);
    resphead_free(&h);
    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, S("Content-Length: 18446744073709551615\r\n")), 0);
    CHECK(h.content_length == UINT64_MAX);
    resphead_free(&h);

    static const char *const bad_cl[] = {
        "Content-Length: 5, 6\r\n", "Content-Length: abc\r\n", "Content-Length:\r\n",
        "Content-Length: -1\r\n", "Content-Length: +5\r\n", "Content-Length: 5 5\r\n",
        "Content-Length: 18446744073709551616\r\n", "Content-Length: 5,\r\n",
        "Content-Length: 5\r\nContent-Length: 7\r\n", "Content-Length: 0x10\r\n",
    };
    for (size_t i = 0; i < sizeof bad_cl / sizeof bad_cl[0]; i++) {
        resphead_init(&h);
        CHECK_INT(resphead_parse_lines(&h, bad_cl[i], strlen(bad_cl[i])), -1);
        CHECK(!h.has_content_length);
        resphead_free(&h);
    }

    /* Transfer-Encoding: chunked wins over Content-Length; anything else but identity fails. */
    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, S("Content-Length: 9\r\nTransfer-Encoding: Chunked\r\n")), 0);
    CHECK(h.chunked);
    CHECK(!h.has_content_length);
    CHECK_INT(h.lines_len, 0);
    resphead_free(&h);
    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, S("Transfer-Encoding: identity\r\n")), 0);
    CHECK(!h.chunked);
    CHECK_INT(resphead_parse_lines(&h, S("Transfer-Encoding: gzip\r\n")), -1);
    CHECK_INT(resphead_parse_lines(&h, S("Transfer-Encoding: gzip, chunked\r\n")), -1);
    CHECK_INT(resphead_parse_lines(&h, S("Transfer-Encoding:\r\n")), -1);
    CHECK(!h.chunked);
    resphead_free(&h);
}

static void test_lines_malformed(void)
{
    static const char *const bad[] = {
        "X-A: a\rInjected: yes\r\n",   /* lone CR inside a value */
        "X-A: a\r\rB: c\r\n",          /* CR CR LF */
        "X-A: a\x01\r\n",              /* control character */
        "X-A: a\x7f\r\n",
        "Bad Name: x\r\n",             /* space in the name */
        "X-A : b\r\n",                 /* blank before the colon */
        " Folded: x\r\n",              /* starts with a blank */
        "A: 1\r\n continued\r\n",      /* obs-fold */
        "NoColon\r\n",
        ": empty name\r\n",
        "X(A): b\r\n",
        "X\x80: b\r\n",
        "A: 1\r\nHTTP/1.1 200 OK\r\n",
        "Set-Cookie: a=1\r\nStatus 302\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resphead_t h;
        resphead_init(&h);
        CHECK_INT(resphead_add(&h, "Keep", "me"), 0);
        int r = resphead_parse_lines(&h, bad[i], strlen(bad[i]));
        if (r != -1)
            fprintf(stderr, "accepted bad lines %zu\n", i);
        CHECK_INT(r, -1);
        /* h unchanged on failure */
        CHECK_STR(lines_of(&h), "Keep: me\r\n");
        CHECK_INT(h.lines_len, 10);
        resphead_free(&h);
    }

    /* A failing run does not leak its server-owned fields either. */
    resphead_t h;
    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, S("Connection: close\r\nContent-Length: 3\r\nbad\r\n")), -1);
    CHECK(!h.conn_close);
    CHECK(!h.has_content_length);
    resphead_free(&h);

    /* Size cap. */
    size_t big = RESPHEAD_MAX_HEAD + 100;
    char *t = malloc(big + 3);
    memcpy(t, "X: ", 3);
    memset(t + 3, 'a', big - 3);
    memcpy(t + big, "\r\n", 2);
    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, t, big + 2), -1);
    CHECK(h.lines == NULL);
    /* ... but a large body behind a small head is fine. */
    memcpy(t, "A: b\r\n\r\n", 8);
    CHECK_INT(resphead_parse_lines(&h, t, big + 2), 0);
    CHECK_INT(h.consumed, 8);
    resphead_free(&h);
    free(t);
}

static void test_add(void)
{
    resphead_t h;
    resphead_init(&h);
    errno = 0;
    CHECK_INT(resphead_add(&h, "Location", "http://x/\r\nSet-Cookie: evil=1"), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(resphead_add(&h, "Location", "http://x/\nSet-Cookie: evil=1"), -1);
    CHECK_INT(resphead_add(&h, "Location", "http://x/\r"), -1);
    CHECK_INT(resphead_add(&h, "Bad Name", "x"), -1);
    CHECK_INT(resphead_add(&h, "Bad:Name", "x"), -1);
    CHECK_INT(resphead_add(&h, "", "x"), -1);
    CHECK_INT(resphead_add(&h, NULL, "x"), -1);
    CHECK_INT(resphead_add(&h, "X", NULL), -1);
    CHECK(h.lines == NULL);

    CHECK_INT(resphead_add(&h, "Content-Length", "10"), 0);
    CHECK(h.has_content_length);
    CHECK_INT(h.content_length, 10);
    CHECK_INT(resphead_add(&h, "Content-Length", "11"), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(resphead_add(&h, "Connection", "close"), 0);
    CHECK(h.conn_close);
    CHECK_INT(resphead_add(&h, "Server", "Ext/2"), 0);
    CHECK(h.has_server);
    CHECK_STR(lines_of(&h), "Server: Ext/2\r\n");
    resphead_free(&h);
    CHECK(h.lines == NULL);
}

/* Lines past the inline buffer move to the heap and keep their order; a failure after the
 * move leaves the lines as they were. Server-owned names are told apart in any case, and a name
 * as long as one of them but another is an ordinary line. */
static void test_lines_grow_and_names(void)
{
    resphead_t h;
    resphead_init(&h);
    char want[4096] = "", line[64];
    for (int i = 0; i < 40; i++) { /* 40 * 19 bytes: past RESPHEAD_INLINE_LINES */
        snprintf(line, sizeof line, "X-Line-%02d: v%05d\r\n", i, i);
        CHECK_INT(resphead_parse_lines(&h, line, strlen(line)), 0);
        strcat(want, line);
    }
    CHECK(h.lines_len > RESPHEAD_INLINE_LINES);
    CHECK_STR(lines_of(&h), want);
    CHECK_INT(resphead_parse_lines(&h, S("A: 1\r\nB: \x01\r\n")), -1);
    CHECK_STR(lines_of(&h), want);
    CHECK_INT(h.lines_len, strlen(want));
    CHECK_INT(resphead_add(&h, "Last", " one "), 0);
    strcat(want, "Last: one\r\n");
    CHECK_STR(lines_of(&h), want);
    resphead_free(&h);
    CHECK(h.lines == NULL);

    /* One parse that outgrows the buffer midway, then fails: nothing of it stays. */
    resphead_init(&h);
    CHECK_INT(resphead_add(&h, "Keep", "me"), 0);
    char big[2048] = "";
    for (int i = 0; i < 30; i++)
        strcat(big, "X-Filler: 0123456789abcdef\r\n");
    strcat(big, "bad line\r\n\r\n");
    CHECK_INT(resphead_parse_lines(&h, big, strlen(big)), -1);
    CHECK_STR(lines_of(&h), "Keep: me\r\n");
    CHECK_INT(h.lines_len, 10);
    resphead_free(&h);

    resphead_init(&h);
    CHECK_INT(resphead_parse_lines(&h, S("CONTENT-LENGTH: 7\r\ntransfer-encoding: IDENTITY\r\n"
                                         "KEEP-ALIVE: 1\r\nDaTe: d\r\nsErVeR: s\r\n")), 0);
    CHECK(h.has_content_length);
    CHECK_INT(h.content_length, 7);
    CHECK(h.has_date);
    CHECK(h.has_server);
    CHECK_STR(lines_of(&h), "DaTe: d\r\nsErVeR: s\r\n");
    resphead_free(&h);
    resphead_init(&h);
    const char *t = "Content-Lengtx: 1\r\nContent_Length: 2\r\nConnectioN2: 3\r\nKeep-Alivf: 4\r\n"
                    "Transfer-Encodinf: 5\r\nServe`: 6\r\nDat^: 7\r\nConnection-: 8\r\n\r\n";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t)), 0);
    CHECK(!h.has_content_length && !h.has_date && !h.has_server && !h.conn_close);
    CHECK_INT(h.lines_len, strlen(t) - 2);
    resphead_free(&h);
}

/* The server's own lines go in as they are, behind the others, inline or not. */
static void test_add_own_lines(void)
{
    resphead_t h;
    resphead_init(&h);
    CHECK_INT(resphead_add_own_lines(&h, S("Content-Type: text/plain\r\nETag: \"x\"\r\n")), 0);
    CHECK_INT(resphead_add(&h, "X-A", "1"), 0);
    CHECK_STR(lines_of(&h), "Content-Type: text/plain\r\nETag: \"x\"\r\nX-A: 1\r\n");
    char big[600];
    memset(big, 'v', sizeof big);
    memcpy(big, "X-Big: ", 7);
    memcpy(big + sizeof big - 2, "\r\n", 2);
    CHECK_INT(resphead_add_own_lines(&h, big, sizeof big), 0);
    CHECK_INT(h.lines_len, 45 + sizeof big);
    CHECK(memcmp(lines_of(&h) + 45, big, sizeof big) == 0);
    CHECK_INT(strlen(lines_of(&h)), h.lines_len);
    char *huge = malloc(RESPHEAD_MAX_HEAD);
    memset(huge, 'a', RESPHEAD_MAX_HEAD);
    errno = 0;
    CHECK_INT(resphead_add_own_lines(&h, huge, RESPHEAD_MAX_HEAD), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(h.lines_len, 45 + sizeof big);
    CHECK_INT(strlen(lines_of(&h)), h.lines_len);
    free(huge);
    resphead_free(&h);
}

/* Lines a caller malloc'ed itself, without room for a NUL (as SEND_URL's static answer sets
 * them): runs that write nothing leave the buffer alone, the first line written grows it. */
static void test_callers_lines(void)
{
    resphead_t h;
    resphead_init(&h);
    h.lines = malloc(10);
    memcpy(h.lines, "Keep: me\r\n", 10);
    h.lines_len = 10;
    CHECK_INT(resphead_parse_lines(&h, S("bad\r\n")), -1);
    CHECK_INT(resphead_parse_lines(&h, S("Connection: close\r\n\r\n")), 0);
    CHECK_INT(resphead_add(&h, "Content-Length", "5"), 0);
    CHECK_INT(resphead_add(&h, "Bad Name", "x"), -1);
    CHECK_INT(h.lines_len, 10);
    CHECK(h.conn_close && h.has_content_length);
    CHECK_INT(resphead_add(&h, "X", "y"), 0);
    CHECK_STR(lines_of(&h), "Keep: me\r\nX: y\r\n");
    resphead_free(&h);
}

static void test_raw(void)
{
    resphead_t h;
    const char *t;

    t = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello";
    CHECK_INT(resphead_parse_raw(&h, t, strlen(t)), 0);
    CHECK_INT(h.status, 200);
    CHECK_STR(h.reason, "OK");
    CHECK_STR(lines_of(&h), "Content-Type: text/html\r\n");
    CHECK(h.has_content_length);
    CHECK_INT(h.content_length, 5);
    CHECK_STR(t + h.consumed, "hello");
    resphead_free(&h);

    t = "HTTP/1.0 404 Not Found\nA: b\n\nbody\0with NUL";
    CHECK_INT(resphead_parse_raw(&h, t, strlen(t) + 9), 0);
    CHECK_INT(h.status, 404);
    CHECK_STR(h.reason, "Not Found");
    CHECK_STR(lines_of(&h), "A: b\r\n");
    CHECK_STR(t + h.consumed, "body");
    resphead_free(&h);

    t = "HTTP/1.1 302\r\nLocation: /x\r\n\r\n";
    CHECK_INT(resphead_parse_raw(&h, t, strlen(t)), 0);
    CHECK_INT(h.status, 302);
    CHECK_STR(h.reason, http_status_reason(302));
    CHECK_INT(h.consumed, strlen(t));
    resphead_free(&h);

    t = "HTTP/1.1 204 No Content\r\n\r\n";
    CHECK_INT(resphead_parse_raw(&h, t, strlen(t)), 0);
    CHECK_INT(h.status, 204);
    CHECK_INT(h.lines_len, 0);
    CHECK_INT(h.consumed, strlen(t));
    resphead_free(&h);

    /* Incomplete: every prefix of a valid head. */
    t = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n";
    for (size_t n = 0; n < strlen(t); n++) {
        int r = resphead_parse_raw(&h, t, n);
        if (r != 1)
            fprintf(stderr, "prefix %zu: %d\n", n, r);
        CHECK_INT(r, 1);
        CHECK(h.lines == NULL);
    }
    CHECK_INT(resphead_parse_raw(&h, t, strlen(t)), 0);
    resphead_free(&h);
    CHECK_INT(resphead_parse_raw(&h, NULL, 0), 1);

    /* Not a raw head, or malformed. */
    static const char *const bad[] = {
        "<html>",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.x 200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 2x",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 20\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 200 O\rK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nbad line\r\n\r\n",
        "HTTP/1.1 200 OK\r\nbad line\r\n",          /* invalid before complete */
        "HTTP/1.1 200 OK\r\nX: a\rInjected: b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        " HTTP/1.1 200 OK\r\n\r\n",
        "Content-Type: text/html\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = resphead_parse_raw(&h, bad[i], strlen(bad[i]));
        if (r != -1)
            fprintf(stderr, "accepted bad raw head %zu: %d\n", i, r);
        CHECK_INT(r, -1);
        CHECK(h.lines == NULL);
    }
    CHECK_INT(resphead_parse_raw(&h, S("HTTP/1.1 200 OK\0\r\n\r\n")), -1);
    CHECK_INT(resphead_parse_raw(&h, S("HTTP/1.1 200 OK\r\nA: b\0\r\n\r\n")), -1);
    CHECK_INT(resphead_parse_raw(&h, S("HTTP/1.1 200 OK\r\n\0")), -1);

    /* A head that never ends is refused once it passes the cap. */
    size_t big = RESPHEAD_MAX_HEAD + 64;
    char *b = malloc(big);
    memcpy(b, "HTTP/1.1 200 OK\r\n", 17);
    for (size_t i = 17; i + 6 <= big; i += 6)
        memcpy(b + i, "X: y\r\n", 6);
    CHECK_INT(resphead_parse_raw(&h, b, 17 + 6 * 100), 1);
    CHECK_INT(resphead_parse_raw(&h, b, big - (big - 17) % 6), -1);
    memset(b, 'x', big);
    memcpy(b, "HTTP/1.1 200 ", 13);
    CHECK_INT(resphead_parse_raw(&h, b, big), -1); /* status line without end */
    free(b);
}

static void test_looks_like_headers(void)
{
    struct {
        const char *text;
        size_t len;
        bool want;
    } cases[] = {
        {S("<html>"), false},
        {S("<html><body>Content-Type: x\r\n\r\n"), false},
        {S("Content-Type: text/html\r\n\r\n<html>"), true},
        {S("Content-Type: text/html\n\nbody"), true},
        {S("Content-Type: text/html\r\nSet-Cookie: a=1\r\n\r\n"), true},
        {S("Content-Type: text/html\r\n"), false},     /* no empty line yet */
        {S("Content-Type: text/html"), false},
        {S("\r\n\r\n<html>"), false},                  /* no header line */
        {S("\n<html>"), false},
        {S(""), false},
        {S("Content-Type: text/html\0\r\n\r\n"), false},
        {S("Content-Type: text/html\r\nbad line\r\n\r\n"), false},
        {S("HTTP/1.1 200 OK\r\n\r\n"), false},
        {S("Hello world: x\r\n\r\n"), false},
        {S("Content-Length: x\r\n\r\n"), false},
        {S("Content-Type: text/html\r\n\r\nbinary\0body"), true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = resphead_looks_like_headers(cases[i].text, cases[i].len);
        if (got != cases[i].want)
            fprintf(stderr, "looks_like_headers case %zu\n", i);
        CHECK(got == cases[i].want);
    }
    CHECK(!resphead_looks_like_headers(NULL, 0));
}

/* Builds and returns the head as a NUL-terminated string (freed by the next call). */
static char *built;

static const char *build(const resphead_t *h, unsigned minor, resp_framing_t f, bool keep,
                         const char *server)
{
    size_t len = 0;
    free(built);
    built = NULL;
    if (resphead_build(h, minor, f, keep, server, &built, &len) < 0)
        return "<error>";
    CHECK_INT(len, strlen(built));
    return built;
}

#define DATE "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"

static void test_build(void)
{
    resphead_set_clock_for_tests(fixed_clock);
    resphead_t h;
    resphead_init(&h);
    CHECK_INT(resphead_add(&h, "Content-Type", "text/html"), 0);
    h.content_length = 5;

    CHECK_STR(build(&h, 1, FRAME_LENGTH, true, "isapid/0.1"),
              "HTTP/1.1 200 OK\r\n" DATE "Server: isapid/0.1\r\nContent-Type: text/html\r\n"
              "Content-Length: 5\r\n\r\n");
    CHECK_STR(build(&h, 1, FRAME_CHUNKED, true, "isapid/0.1"),
              "HTTP/1.1 200 OK\r\n" DATE "Server: isapid/0.1\r\nContent-Type: text/html\r\n"
              "Transfer-Encoding: chunked\r\n\r\n");
    CHECK_STR(build(&h, 1, FRAME_PASSTHRU, false, "isapid/0.1"),
              "HTTP/1.1 200 OK\r\n" DATE "Server: isapid/0.1\r\nContent-Type: text/html\r\n"
              "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    CHECK_STR(build(&h, 0, FRAME_CLOSE, true, "isapid/0.1"),
              "HTTP/1.0 200 OK\r\n" DATE "Server: isapid/0.1\r\nContent-Type: text/html\r\n"
              "Connection: close\r\n\r\n");
    CHECK_STR(build(&h, 0, FRAME_LENGTH, true, "isapid/0.1"),
              "HTTP/1.0 200 OK\r\n" DATE "Server: isapid/0.1\r\nContent-Type: text/html\r\n"
              "Content-Length: 5\r\nConnection: keep-alive\r\n\r\n");
    CHECK_STR(build(&h, 0, FRAME_LENGTH, false, "isapid/0.1"),
              "HTTP/1.0 200 OK\r\n" DATE "Server: isapid/0.1\r\nContent-Type: text/html\r\n"
              "Content-Length: 5\r\nConnection: close\r\n\r\n");
    /* HEAD: length known or not. */
    h.content_length = 1234;
    CHECK_STR(build(&h, 1, FRAME_LENGTH, true, NULL),
              "HTTP/1.1 200 OK\r\n" DATE "Content-Type: text/html\r\nContent-Length: 1234\r\n\r\n");
    CHECK_STR(build(&h, 1, FRAME_NONE, true, ""),
              "HTTP/1.1 200 OK\r\n" DATE "Content-Type: text/html\r\n\r\n");
    h.content_length = 0;
    CHECK_STR(build(&h, 1, FRAME_LENGTH, true, NULL),
              "HTTP/1.1 200 OK\r\n" DATE "Content-Type: text/html\r\nContent-Length: 0\r\n\r\n");
    /* Every number of digits, at the powers of ten and below them. */
    uint64_t p10 = 1;
    for (int digits = 1; digits <= 20; digits++, p10 *= 10) {
        uint64_t vals[] = {p10, digits < 20 ? p10 * 10 - 1 : UINT64_MAX, p10 + 7};
        for (size_t k = 0; k < 3; k++) {
            h.content_length = vals[k];
            char want[64];
            snprintf(want, sizeof want, "Content-Length: %llu\r\n\r\n",
                     (unsigned long long)vals[k]);
            const char *got = build(&h, 1, FRAME_LENGTH, true, NULL);
            CHECK(strlen(got) > strlen(want) && strcmp(got + strlen(got) - strlen(want), want) == 0);
        }
    }
    /* HTTP/1.2+ is answered as 1.1. */
    CHECK_STR(build(&h, 7, FRAME_NONE, true, NULL),
              "HTTP/1.1 200 OK\r\n" DATE "Content-Type: text/html\r\n\r\n");
    resphead_free(&h);

    /* Bodiless statuses never get framing. */
    static const unsigned bodiless[] = {100, 101, 199, 204, 304};
    for (size_t i = 0; i < sizeof bodiless / sizeof bodiless[0]; i++) {
        resphead_init(&h);
        h.status = bodiless[i];
        strcpy(h.reason, "R");
        h.content_length = 7;
        char want[128];
        snprintf(want, sizeof want, "HTTP/1.1 %u R\r\n" DATE "\r\n", bodiless[i]);
        CHECK_STR(build(&h, 1, FRAME_LENGTH, true, NULL), want);
        CHECK_STR(build(&h, 1, FRAME_CHUNKED, true, NULL), want);
        CHECK_STR(build(&h, 1, FRAME_PASSTHRU, true, NULL), want);
    }

    /* The extension's Server and Connection: close; parsed status and lines end to end. */
    CHECK_INT(resphead_parse_status(&h, S("302 Moved Temporarily")), 0);
    const char *t = "Location: /next\r\nServer: Ext/1\r\nConnection: close\r\n"
                    "Content-Length: 0\r\n\r\n";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t)), 0);
    CHECK_STR(build(&h, 1, FRAME_LENGTH, true, "isapid/0.1"),
              "HTTP/1.1 302 Moved Temporarily\r\n" DATE "Location: /next\r\nServer: Ext/1\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n");
    resphead_free(&h);

    /* The extension's Date replaces the server's, where the extension put it; a second one
     * is dropped (Date is a single field). */
    CHECK_INT(resphead_parse_status(&h, S("200 Fine")), 0);
    t = "X-First: 1\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\nDate: Tue, 02 Jan 2001 00:00:00 GMT\r\n\r\n";
    CHECK_INT(resphead_parse_lines(&h, t, strlen(t)), 0);
    CHECK_STR(build(&h, 1, FRAME_CHUNKED, true, "isapid/0.1"),
              "HTTP/1.1 200 Fine\r\nServer: isapid/0.1\r\nX-First: 1\r\n"
              "Date: Mon, 01 Jan 2001 00:00:00 GMT\r\nTransfer-Encoding: chunked\r\n\r\n");
    resphead_free(&h);

    /* Empty reason → the standard one; control characters never reach the wire. */
    resphead_init(&h);
    h.status = 404;
    h.reason[0] = '\0';
    CHECK_STR(build(&h, 1, FRAME_NONE, true, NULL), "HTTP/1.1 404 Not Found\r\n" DATE "\r\n");
    strcpy(h.reason, "A\r\nB");
    CHECK_STR(build(&h, 1, FRAME_NONE, true, NULL), "HTTP/1.1 404 A  B\r\n" DATE "\r\n");
    memset(h.reason, 'r', sizeof h.reason); /* unterminated */
    const char *s = build(&h, 1, FRAME_NONE, true, NULL);
    CHECK_INT(strlen(s), strlen("HTTP/1.1 404 \r\n" DATE "\r\n") + sizeof h.reason);

    /* Status out of range. */
    h.status = 42;
    char *out = NULL;
    size_t len = 0;
    errno = 0;
    CHECK_INT(resphead_build(&h, 1, FRAME_NONE, true, NULL, &out, &len), -1);
    CHECK_INT(errno, EINVAL);
    h.status = 1000;
    CHECK_INT(resphead_build(&h, 1, FRAME_NONE, true, NULL, &out, &len), -1);
    CHECK(out == NULL);
}

/* A whole response: the same head, the body behind it in the same buffer. */
static void test_build_response(void)
{
    resphead_set_clock_for_tests(fixed_clock);
    resphead_t h;
    resphead_init(&h);
    CHECK_INT(resphead_add(&h, "Content-Type", "text/html"), 0);
    h.content_length = 5;
    char *out = NULL;
    size_t head_len = 0, len = 0;
    CHECK_INT(resphead_build_response(&h, 1, FRAME_LENGTH, false, "isapid/0.1", "hello", 5, &out,
                                      &head_len, &len), 0);
    static const char want_head[] = "HTTP/1.1 200 OK\r\n" DATE "Server: isapid/0.1\r\n"
                                    "Content-Type: text/html\r\nContent-Length: 5\r\n"
                                    "Connection: close\r\n\r\n";
    CHECK_INT(head_len, sizeof want_head - 1);
    CHECK_INT(len, head_len + 5);
    CHECK_STR(out, "HTTP/1.1 200 OK\r\n" DATE "Server: isapid/0.1\r\nContent-Type: text/html\r\n"
                   "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
    free(out);

    /* No body (HEAD, 304): the head alone, as resphead_build makes it. */
    out = NULL;
    CHECK_INT(resphead_build_response(&h, 0, FRAME_LENGTH, true, "isapid/0.1", NULL, 5, &out,
                                      &head_len, &len), 0);
    CHECK_INT(len, head_len);
    CHECK_STR(out, build(&h, 0, FRAME_LENGTH, true, "isapid/0.1"));
    free(out);

    h.status = 42;
    out = NULL;
    errno = 0;
    CHECK_INT(resphead_build_response(&h, 1, FRAME_NONE, true, NULL, "x", 1, &out, &head_len,
                                      &len), -1);
    CHECK_INT(errno, EINVAL);
    CHECK(out == NULL);
    resphead_free(&h);
    resphead_set_clock_for_tests(NULL);
}

static void test_date(void)
{
    resphead_t h;
    resphead_init(&h);
    resphead_set_clock_for_tests(fixed_clock);
    CHECK_STR(build(&h, 1, FRAME_NONE, true, NULL), "HTTP/1.1 200 OK\r\n" DATE "\r\n");
    fixed_now++;
    CHECK_STR(build(&h, 1, FRAME_NONE, true, NULL),
              "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:38 GMT\r\n\r\n");
    fixed_now = 0;
    CHECK_STR(build(&h, 1, FRAME_NONE, true, NULL),
              "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n");
    fixed_now = 951782400; /* leap day */
    CHECK_STR(build(&h, 1, FRAME_NONE, true, NULL),
              "HTTP/1.1 200 OK\r\nDate: Tue, 29 Feb 2000 00:00:00 GMT\r\n\r\n");
    fixed_now = 4102444799; /* last second of 2099 */
    CHECK_STR(build(&h, 1, FRAME_NONE, true, NULL),
              "HTTP/1.1 200 OK\r\nDate: Thu, 31 Dec 2099 23:59:59 GMT\r\n\r\n");

    /* The real clock: well-formed. */
    resphead_set_clock_for_tests(NULL);
    const char *s = build(&h, 1, FRAME_NONE, true, NULL);
    CHECK_INT(strlen(s), strlen("HTTP/1.1 200 OK\r\nDate: \r\n\r\n") + HTTP_DATE_LEN);
    CHECK(strstr(s, " GMT\r\n\r\n") != NULL);
}

int main(void)
{
    test_status();
    test_lines_basic();
    test_lines_server_owned();
    test_lines_malformed();
    test_add();
    test_lines_grow_and_names();
    test_add_own_lines();
    test_callers_lines();
    test_raw();
    test_looks_like_headers();
    test_build();
    test_build_response();
    test_date();
    free(built);
    return check_report("test_resphead");
}
