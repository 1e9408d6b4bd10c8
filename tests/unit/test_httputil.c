/* httputil: dates both ways, entity tags, byte ranges, reason phrases. */
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "httputil.h"

static void test_date_format(void)
{
    char buf[HTTP_DATE_LEN + 1];
    CHECK_INT(http_date_format(784111777, buf), HTTP_DATE_LEN);
    CHECK_STR(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    http_date_format(0, buf);
    CHECK_STR(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    http_date_format(951782400, buf); /* leap day */
    CHECK_STR(buf, "Tue, 29 Feb 2000 00:00:00 GMT");
    http_date_format(-5, buf);
    CHECK_STR(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    http_date_format((time_t)1 << 40, buf); /* beyond year 9999: clamped, still 29 bytes */
    CHECK_STR(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    CHECK_INT(strlen(buf), HTTP_DATE_LEN);

    /* the memo: formatted again only for another time (time 0 on an empty memo included) */
    http_date_memo_t memo = {0};
    CHECK_STR(http_date_memo(&memo, 0), "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK_STR(http_date_memo(&memo, 784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    memo.text[0] = 'X'; /* the same time again: the memo's text as it is, not formatted anew */
    CHECK(http_date_memo(&memo, 784111777)[0] == 'X');
    CHECK_STR(http_date_memo(&memo, 784111778), "Sun, 06 Nov 1994 08:49:38 GMT");

    /* the calendar arithmetic agrees with gmtime_r: every day of 1970..2500 at a moving time of
     * day, and the days around each century's end (2100 and 2200 are no leap years, 2400 is) */
    int wrong = 0;
    for (int64_t day = 0; day < 194 * 1000; day++) {
        time_t x = (time_t)(day * 86400 + (day * 7919) % 86400);
        struct tm tm;
        char want[HTTP_DATE_LEN + 1];
        gmtime_r(&x, &tm);
        strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm); /* "C" locale yet */
        http_date_format(x, buf);
        if (strcmp(buf, want) != 0 && wrong++ < 5)
            fprintf(stderr, "http_date_format(%lld) = %s, want %s\n", (long long)x, buf, want);
    }
    CHECK_INT(wrong, 0);
    http_date_format(4107542399, buf);
    CHECK_STR(buf, "Sun, 28 Feb 2100 23:59:59 GMT");
    http_date_format(4107542400, buf);
    CHECK_STR(buf, "Mon, 01 Mar 2100 00:00:00 GMT");
    http_date_format(13574563200, buf);
    CHECK_STR(buf, "Tue, 29 Feb 2400 00:00:00 GMT");
    http_date_format(253402300799, buf);
    CHECK_STR(buf, "Fri, 31 Dec 9999 23:59:59 GMT");

    /* a locale with other day names changes nothing */
    setlocale(LC_ALL, "");
    http_date_format(784111777, buf);
    CHECK_STR(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
}

static void test_date_parse(void)
{
    time_t t = 1;
    CHECK_INT(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    CHECK_INT(t, 784111777);
    t = 1;
    CHECK_INT(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    CHECK_INT(t, 784111777);
    t = 1;
    CHECK_INT(http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    CHECK_INT(t, 784111777);
    CHECK_INT(http_date_parse("Thu Nov 16 08:49:37 1994", &t), 0);
    CHECK_INT(t, 784111777 + 10 * 86400);
    CHECK_INT(http_date_parse("Wednesday, 01-Jan-25 00:00:00 GMT", &t), 0);
    CHECK_INT(t, 1735689600);
    CHECK_INT(http_date_parse("Tue, 29 Feb 2000 00:00:00 GMT", &t), 0);
    CHECK_INT(t, 951782400);

    /* round trip */
    char buf[HTTP_DATE_LEN + 1];
    int wrong = 0;
    for (time_t x = 0; x < 4102444800; x += 86400 * 37 + 3671) {
        http_date_format(x, buf);
        if (http_date_parse(buf, &t) != 0 || t != x)
            wrong++;
    }
    CHECK_INT(wrong, 0);

    static const char *const bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT junk",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 32 Jan 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 31 Apr 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "06 Nov 1994 08:49:37 GMT",
        "1994-11-06T08:49:37Z",
        "Sun",
        "Sunday",
        "Sun, ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = 42;
        if (http_date_parse(bad[i], &t) != -1 || t != 42) {
            fprintf(stderr, "accepted bad date \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
    CHECK_INT(http_date_parse(NULL, &t), -1);
}

static void test_etag(void)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_mtime = 0x5f5e100;
    st.st_size = 0x1234;
    char tag[48];
    CHECK_INT(http_etag_format(&st, tag, sizeof tag), strlen("\"5f5e100-1234\""));
    CHECK_STR(tag, "\"5f5e100-1234\"");
    st.st_size = 0;
    http_etag_format(&st, tag, sizeof tag);
    CHECK_STR(tag, "\"5f5e100-0\"");
    char tiny[8];
    CHECK_INT(http_etag_format(&st, tiny, sizeof tiny), 0);
    CHECK_STR(tiny, "");

    const char *e = "\"abc-12\"";
    CHECK(http_etag_match_list("\"abc-12\"", e));
    CHECK(http_etag_match_list("*", e));
    CHECK(http_etag_match_list("  * ", e));
    CHECK(http_etag_match_list("W/\"abc-12\"", e));
    CHECK(http_etag_match_list("\"x\", \"abc-12\"", e));
    CHECK(http_etag_match_list("\"x\",W/\"abc-12\" ,\"y\"", e));
    CHECK(http_etag_match_list("\"abc-12\"", "W/\"abc-12\""));
    CHECK(http_etag_match_list("abc-12", "abc-12")); /* unquoted, compared as sent */
    CHECK(!http_etag_match_list("\"abc-1\"", e));
    CHECK(!http_etag_match_list("\"abc-123\"", e));
    CHECK(!http_etag_match_list("abc-12", e));
    CHECK(!http_etag_match_list("", e));
    CHECK(!http_etag_match_list(",,, ,", e));
    CHECK(!http_etag_match_list("\"abc-12", e));
    CHECK(!http_etag_match_list("**", e));
    CHECK(!http_etag_match_list(NULL, e));
    CHECK(!http_etag_match_list("W/", e));
    CHECK(!http_etag_match_list("\"", e));

    CHECK(http_etag_match_list_strong("\"abc-12\"", e));
    CHECK(http_etag_match_list_strong("*", e));
    CHECK(http_etag_match_list_strong("\"a\", \"abc-12\"", e));
    CHECK(!http_etag_match_list_strong("W/\"abc-12\"", e));
    CHECK(!http_etag_match_list_strong("\"abc-12\"", "W/\"abc-12\""));
    CHECK(!http_etag_match_list_strong("\"nope\"", e));
}

#define RANGE(h, size, want_r, want_start, want_len)                                        \
    do {                                                                                     \
        uint64_t s_ = 999, l_ = 999;                                                         \
        CHECK_INT(http_range_parse(h, size, &s_, &l_), want_r);                              \
        if ((want_r) == RANGE_OK) {                                                          \
            CHECK_INT(s_, want_start);                                                       \
            CHECK_INT(l_, want_len);                                                         \
        }                                                                                    \
    } while (0)

static void test_range(void)
{
    RANGE("bytes=0-0", 100, RANGE_OK, 0, 1);
    RANGE("bytes=0-99", 100, RANGE_OK, 0, 100);
    RANGE("bytes=10-19", 100, RANGE_OK, 10, 10);
    RANGE("bytes=10-", 100, RANGE_OK, 10, 90);
    RANGE("bytes=99-", 100, RANGE_OK, 99, 1);
    RANGE("bytes=50-1000", 100, RANGE_OK, 50, 50);
    RANGE("bytes=0-18446744073709551615", 100, RANGE_OK, 0, 100);
    RANGE("bytes=0-99999999999999999999999", 100, RANGE_OK, 0, 100);
    RANGE("bytes=-10", 100, RANGE_OK, 90, 10);
    RANGE("bytes=-100", 100, RANGE_OK, 0, 100);
    RANGE("bytes=-1000", 100, RANGE_OK, 0, 100);
    RANGE("bytes=-99999999999999999999999", 100, RANGE_OK, 0, 100);
    RANGE("Bytes=1-2", 100, RANGE_OK, 1, 2);
    RANGE(" bytes=1-2 ", 100, RANGE_OK, 1, 2);

    RANGE("bytes=100-", 100, RANGE_UNSATISFIABLE, 0, 0);
    RANGE("bytes=100-200", 100, RANGE_UNSATISFIABLE, 0, 0);
    RANGE("bytes=99999999999999999999999-", 100, RANGE_UNSATISFIABLE, 0, 0);
    RANGE("bytes=-0", 100, RANGE_UNSATISFIABLE, 0, 0);
    RANGE("bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0);
    RANGE("bytes=-5", 0, RANGE_UNSATISFIABLE, 0, 0);

    RANGE(NULL, 100, RANGE_NONE, 0, 0);
    RANGE("", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=-", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=5-3", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=0-1,5-6", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=0-1,", 100, RANGE_NONE, 0, 0);
    RANGE("items=0-1", 100, RANGE_NONE, 0, 0);
    RANGE("bytes 0-1", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=a-b", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=1-2x", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=--1", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=1", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=+1-2", 100, RANGE_NONE, 0, 0);
    RANGE("bytes=1 - 2", 100, RANGE_NONE, 0, 0);
}

static void test_reason(void)
{
    CHECK_STR(http_status_reason(200), "OK");
    CHECK_STR(http_status_reason(206), "Partial Content");
    CHECK_STR(http_status_reason(304), "Not Modified");
    CHECK_STR(http_status_reason(404), "Not Found");
    CHECK_STR(http_status_reason(405), "Method Not Allowed");
    CHECK_STR(http_status_reason(416), "Range Not Satisfiable");
    CHECK_STR(http_status_reason(500), "Internal Server Error");
    CHECK_STR(http_status_reason(299), "Unknown");
    CHECK_STR(http_status_reason(0), "Unknown");
}

static void test_request_line_start(void)
{
    CHECK(http_skip_empty_lines("GET / HTTP/1.1", 14) == 0);
    CHECK(http_skip_empty_lines("\r\nGET", 5) == 2);
    CHECK(http_skip_empty_lines("\r\n\r\nGET", 7) == 4);
    CHECK(http_skip_empty_lines("\rGET", 4) == -1);
    CHECK(http_skip_empty_lines("\nGET", 4) == -1);
    CHECK(http_skip_empty_lines("\r\n\rGET", 6) == -1);
    CHECK(http_skip_empty_lines("\r\r\nGET", 6) == -1);
    CHECK(http_skip_empty_lines("", 0) == 0);

    CHECK(http_method_token("FOOBAR / HTTP/1.1", 17) == 6);
    CHECK(http_method_token("get / HTTP/1.1", 14) == 3);
    CHECK(http_method_token("FOOB", 4) == 4);        /* the rest not received yet */
    CHECK(http_method_token("GET\r\n", 5) == 0);    /* no target, no version */
    CHECK(http_method_token("\x01\x02 / HTTP/1.1", 12) == 0);
    CHECK(http_method_token(" / HTTP/1.1", 11) == 0);
    CHECK(http_method_token("G(T / HTTP/1.1", 14) == 0);
}

/* ASCII-only case folding, whatever the process locale: the C library's answers in the C
 * locale, and bytes above 0x7f compared as they are. */
static void test_ascii_casecmp(void)
{
    CHECK(http_ascii_casecmp("Transfer-Encoding", "TRANSFER-ENCODING") == 0);
    CHECK(http_ascii_casecmp("x.DLL", "x.dll") == 0);
    CHECK(http_ascii_casecmp("", "") == 0);
    CHECK(http_ascii_casecmp("a", "b") < 0);
    CHECK(http_ascii_casecmp("B", "a") > 0);
    CHECK(http_ascii_casecmp("ab", "a") > 0); /* a prefix sorts first */
    CHECK(http_ascii_casecmp("a", "ab") < 0);
    CHECK(http_ascii_casecmp("\xc9", "\xe9") != 0); /* no folding above ASCII (Latin-1 E/e acute) */
    CHECK(http_ascii_casecmp("[", "{") != 0);     /* not letters: '[' is not '{' lowered */
    CHECK(http_ascii_ncasecmp("HTTPS://x", "https://y", 8) == 0);
    CHECK(http_ascii_ncasecmp("bytes=0-1", "BYTES=", 6) == 0);
    CHECK(http_ascii_ncasecmp("abc", "abd", 2) == 0);
    CHECK(http_ascii_ncasecmp("abc", "abd", 3) < 0);
    CHECK(http_ascii_ncasecmp("ab", "ab\0zz", 5) == 0); /* stops at the end of both */
    CHECK(http_ascii_ncasecmp("x", "y", 0) == 0);
}

int main(void)
{
    test_ascii_casecmp();
    test_request_line_start();
    test_date_format();
    test_date_parse();
    test_etag();
    test_range();
    test_reason();
    return check_report("test_httputil");
}
