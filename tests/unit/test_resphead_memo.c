/* The response-head memos. The parse memo: a head answered from it is the head a parse makes of
 * the same text; other text, a malformed head, and a head too large to keep are parsed afresh.
 * The build memo: a head copied from it is the head resphead_build makes of the same inputs,
 * the Date's second among them. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "resphead.h"
#include "resphead_internal.h"

#define S(lit) lit, sizeof lit - 1

static const char *lines_of(const resphead_t *h)
{
    return h->lines ? h->lines : "";
}

/* Parsed with the memo and without it: the same result and the same head. */
static void same_as_parse(resphead_memo_t *m, const char *status, size_t slen, const char *text,
                          size_t tlen)
{
    resphead_t want, got;
    int rw = resphead_parse_status(&want, status, status ? slen : 0);
    if (rw == 0 && text)
        rw = resphead_parse_lines(&want, text, tlen);
    int rg = resphead_parse_memo(m, &got, status, slen, text, tlen);
    CHECK_INT(rg, rw);
    if (rw == 0 && rg == 0) {
        CHECK_INT(got.status, want.status);
        CHECK_STR(got.reason, want.reason);
        CHECK_STR(lines_of(&got), lines_of(&want));
        CHECK_INT(got.lines_len, want.lines_len);
        CHECK_INT(got.consumed, want.consumed);
        CHECK_INT(got.has_content_length, want.has_content_length);
        CHECK_INT(got.content_length, want.content_length);
        CHECK_INT(got.has_server, want.has_server);
        CHECK_INT(got.has_date, want.has_date);
        CHECK_INT(got.chunked, want.chunked);
        CHECK_INT(got.conn_close, want.conn_close);
    }
    resphead_free(&want);
    resphead_free(&got);
}

static void test_hit_and_miss(void)
{
    resphead_memo_t m = {0};
    static const char hello[] = "Content-Type: text/plain\r\nContent-Length: 14\r\n\r\n";
    same_as_parse(&m, S("200 OK"), S(hello));
    CHECK(m.valid);
    same_as_parse(&m, S("200 OK"), S(hello)); /* from the memo */
    same_as_parse(&m, S("200 OK"), S(hello));

    /* The same text in another buffer is the same key; one byte more or less is not. */
    char copy[sizeof hello];
    memcpy(copy, hello, sizeof hello);
    same_as_parse(&m, S("200 OK"), copy, sizeof hello - 1);
    same_as_parse(&m, S("200 OK"), copy, sizeof hello); /* cch counting the NUL */
    same_as_parse(&m, S("200 OK"), S("Content-Type: text/plain\r\nContent-Length: 15\r\n\r\n"));
    same_as_parse(&m, S("404 Not Found"), S(hello));
    same_as_parse(&m, "404 Not Found", 3, S(hello)); /* "404" */

    /* Body behind the empty line, server-owned lines, Connection: close. */
    same_as_parse(&m, S("500 Oops"), S("Connection: close\r\nKeep-Alive: x\r\n\r\nbody"));
    same_as_parse(&m, S("500 Oops"), S("Connection: close\r\nKeep-Alive: x\r\n\r\nbody"));
    same_as_parse(&m, S("200 OK"), S("Transfer-Encoding: chunked\r\n\r\n"));
    same_as_parse(&m, S("200 OK"), S("Transfer-Encoding: chunked\r\n\r\n"));

    /* NULL status and NULL text are not "" text. */
    same_as_parse(&m, NULL, 0, NULL, 0);
    same_as_parse(&m, NULL, 0, NULL, 0);
    same_as_parse(&m, NULL, 0, S(""));
    same_as_parse(&m, NULL, 0, S(""));
    same_as_parse(&m, S(""), NULL, 0);
}

static void test_malformed_not_kept(void)
{
    resphead_memo_t m = {0};
    same_as_parse(&m, S("200 OK"), S("X: a\r\n\r\n"));
    same_as_parse(&m, S("200 OK"), S("Bad Line\r\n\r\n"));
    same_as_parse(&m, S("200 OK"), S("Bad Line\r\n\r\n")); /* still refused */
    same_as_parse(&m, S("2000 OK"), S("X: a\r\n\r\n"));
    same_as_parse(&m, S("200 OK"), S("X: a\r\n\r\n"));
}

static void test_large_not_kept(void)
{
    resphead_memo_t m = {0};
    char big[600];
    memset(big, 'v', sizeof big);
    memcpy(big, "X-Big: ", 7);
    memcpy(big + sizeof big - 4, "\r\n\r\n", 4);
    same_as_parse(&m, S("200 OK"), big, sizeof big);
    CHECK(!m.valid);
    same_as_parse(&m, S("200 OK"), big, sizeof big);

    /* A key that fits whose lines (and their NUL) do not fit inline: not kept. One line of the
     * key's whole size, the text's end ending the head. */
    char lines[RESPHEAD_MEMO_KEY];
    memset(lines, 'w', sizeof lines);
    memcpy(lines, "X-W: ", 5);
    memcpy(lines + sizeof lines - 2, "\r\n", 2);
    resphead_memo_t m2 = {0};
    same_as_parse(&m2, NULL, 0, lines, sizeof lines);
    CHECK(!m2.valid);
}

static time_t now_for_test = 784111777;

static time_t test_now(void)
{
    return now_for_test;
}

/* Built with the memo and without it: the same bytes. */
static void same_as_build(resphead_build_memo_t *m, const resphead_t *h, unsigned minor,
                          resp_framing_t framing, bool keep, const char *server)
{
    char *want = NULL, *got = NULL;
    size_t want_len = 0, got_len = 0;
    int rw = resphead_build(h, minor, framing, keep, server, &want, &want_len);
    int rg = resphead_build_memo(m, h, 0, minor, framing, keep, server, &got, &got_len);
    CHECK_INT(rg, rw);
    if (rw == 0 && rg == 0) {
        CHECK_INT(got_len, want_len);
        CHECK_STR(got, want);
    }
    free(want);
    free(got);
}

static void test_build_memo(void)
{
    static const char server[] = "isapid/test";
    static const char other_server[] = "other/1";
    resphead_set_clock_for_tests(test_now);
    resphead_build_memo_t m = {0};
    resphead_t h;
    CHECK_INT(resphead_parse_status(&h, S("200 OK")), 0);
    CHECK_INT(resphead_parse_lines(&h, S("Content-Type: text/plain\r\nContent-Length: 14\r\n\r\n")), 0);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    CHECK(m.valid);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server); /* from the memo */
    same_as_build(&m, &h, 0, FRAME_LENGTH, true, server);
    same_as_build(&m, &h, 1, FRAME_LENGTH, false, server);
    same_as_build(&m, &h, 1, FRAME_CHUNKED, true, server);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, other_server);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, NULL);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    now_for_test++; /* a new second: a new Date */
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);

    /* Each field of the head is part of the key. */
    h.content_length = 15;
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    h.conn_close = true;
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    h.conn_close = false;
    h.status = 404;
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    memcpy(h.reason, "Nope", 5);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    memcpy(h.reason, "Nopf", 5);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    h.status = 204;
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    h.status = 200;
    CHECK_INT(resphead_add(&h, "Date", "Sun, 06 Nov 1994 08:49:37 GMT"), 0);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    CHECK_INT(resphead_add(&h, "Server", "mine"), 0);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    h.lines[0] = 'c'; /* same length, other lines */
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    resphead_free(&h);

    /* A head too long to keep is built every time. */
    char big[400];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    resphead_init(&h);
    CHECK_INT(resphead_add(&h, "X-Big", big), 0);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    char *in_place = NULL;
    size_t in_place_len = 0;
    CHECK_INT(resphead_build_memo_in_place(&m, &h, 0, 1, FRAME_LENGTH, true, server, &in_place,
                                           &in_place_len), 1); /* not kept: the caller's */
    CHECK(in_place != m.head);
    free(in_place);
    resphead_free(&h);

    /* A status outside 100..999 fails, as resphead_build does. */
    resphead_init(&h);
    h.status = 1000;
    same_as_build(&m, &h, 1, FRAME_LENGTH, true, server);
    resphead_set_clock_for_tests(NULL);
}

/* A head left in place is the memo's own bytes; while the memo is held, other heads are built
 * right but the memo keeps the held one. */
static void test_build_in_place(void)
{
    static const char server[] = "isapid/test";
    resphead_set_clock_for_tests(test_now);
    resphead_build_memo_t m = {0};
    resphead_t a, b;
    CHECK_INT(resphead_parse_status(&a, S("200 OK")), 0);
    CHECK_INT(resphead_parse_lines(&a, S("Content-Length: 3\r\n\r\n")), 0);
    CHECK_INT(resphead_parse_status(&b, S("404 Not Found")), 0);
    CHECK_INT(resphead_parse_lines(&b, S("Content-Length: 5\r\n\r\n")), 0);

    char *want_a, *want_b, *got;
    size_t want_a_len, want_b_len, got_len;
    CHECK_INT(resphead_build(&a, 1, FRAME_LENGTH, true, server, &want_a, &want_a_len), 0);
    CHECK_INT(resphead_build(&b, 1, FRAME_LENGTH, true, server, &want_b, &want_b_len), 0);

    /* A miss built into the memo, then a hit: both in place. */
    CHECK_INT(resphead_build_memo_in_place(&m, &a, 0, 1, FRAME_LENGTH, true, server, &got, &got_len), 0);
    CHECK(got == m.head);
    CHECK_INT(got_len, want_a_len);
    CHECK_STR(got, want_a);
    CHECK_INT(resphead_build_memo_in_place(&m, &a, 0, 1, FRAME_LENGTH, true, server, &got, &got_len), 0);
    CHECK(got == m.head);

    /* Held: nothing is left in place, nothing replaces the held head. */
    atomic_store(&m.held, true);
    CHECK_INT(resphead_build_memo_in_place(&m, &a, 0, 1, FRAME_LENGTH, true, server, &got, &got_len), 1);
    CHECK(got != m.head);
    CHECK_STR(got, want_a);
    free(got);
    CHECK_INT(resphead_build_memo_in_place(&m, &b, 0, 1, FRAME_LENGTH, true, server, &got, &got_len), 1);
    CHECK_STR(got, want_b);
    free(got);
    CHECK_INT(resphead_build_memo(&m, &b, 0, 1, FRAME_LENGTH, true, server, &got, &got_len), 0);
    CHECK_STR(got, want_b);
    free(got);
    CHECK_STR(m.head, want_a);

    /* Released: the next head takes the memo. */
    atomic_store(&m.held, false);
    CHECK_INT(resphead_build_memo_in_place(&m, &b, 0, 1, FRAME_LENGTH, true, server, &got, &got_len), 0);
    CHECK(got == m.head);
    CHECK_STR(got, want_b);

    free(want_a);
    free(want_b);
    resphead_free(&a);
    resphead_free(&b);
    resphead_set_clock_for_tests(NULL);
}

/* The parse memo's head read in place, and its tag telling it to the build memo. */
static void test_find_and_tag(void)
{
    static const char server[] = "isapid/test";
    static const char text[] = "Content-Type: text/plain\r\nContent-Length: 14\r\n\r\n";
    resphead_set_clock_for_tests(test_now);
    resphead_memo_t pm = {0};
    resphead_build_memo_t bm = {0};
    CHECK(resphead_memo_find(&pm, S("200 OK"), S(text)) == NULL);
    resphead_t h;
    CHECK_INT(resphead_parse_memo(&pm, &h, S("200 OK"), S(text)), 0);
    uint64_t gen = pm.gen;
    CHECK(gen != 0);
    const resphead_t *found = resphead_memo_find(&pm, S("200 OK"), S(text));
    CHECK(found != NULL);
    CHECK(resphead_memo_find(&pm, S("404 Not Found"), S(text)) == NULL);
    CHECK(resphead_memo_find(&pm, S("200 OK"), text, sizeof text - 2) == NULL);
    if (found) {
        CHECK_STR(lines_of(found), lines_of(&h));
        CHECK_INT(found->consumed, h.consumed);
        char *want, *got;
        size_t want_len, got_len;
        CHECK_INT(resphead_build(&h, 1, FRAME_LENGTH, true, server, &want, &want_len), 0);
        /* Untagged, then tagged (a full look, the tag noted), then told by the tag alone. */
        for (int round = 0; round < 3; round++) {
            CHECK_INT(resphead_build_memo(&bm, found, round ? gen : 0, 1, FRAME_LENGTH, true,
                                          server, &got, &got_len), 0);
            CHECK_INT(got_len, want_len);
            CHECK_STR(got, want);
            free(got);
        }
        CHECK(bm.tag == gen);
        /* The other inputs still count with a tag. */
        char *want0;
        size_t want0_len;
        CHECK_INT(resphead_build(&h, 0, FRAME_LENGTH, false, server, &want0, &want0_len), 0);
        CHECK_INT(resphead_build_memo(&bm, found, gen, 0, FRAME_LENGTH, false, server, &got,
                                      &got_len), 0);
        CHECK_STR(got, want0);
        free(got);
        free(want0);
        now_for_test++;
        CHECK_INT(resphead_build(&h, 1, FRAME_LENGTH, true, server, &want0, &want0_len), 0);
        CHECK_INT(resphead_build_memo(&bm, found, gen, 1, FRAME_LENGTH, true, server, &got,
                                      &got_len), 0);
        CHECK_STR(got, want0);
        free(got);
        free(want0);
        free(want);
    }
    /* A new head kept: a new tag. */
    resphead_free(&h);
    CHECK_INT(resphead_parse_memo(&pm, &h, S("404 Not Found"), S(text)), 0);
    CHECK(pm.gen != gen);
    resphead_free(&h);
    resphead_set_clock_for_tests(NULL);
}

int main(void)
{
    test_find_and_tag();
    test_build_in_place();
    test_build_memo();
    test_hit_and_miss();
    test_malformed_not_kept();
    test_large_not_kept();
    return check_report("test_resphead_memo");
}
