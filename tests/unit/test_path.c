/* path_normalize and friends: decoding, dot segments, refusals, and hostile input that must
 * neither crash nor overflow. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "path.h"

static char out[8192];

/* Normalise a C string; out holds the result. */
static path_status_t norm(const char *raw)
{
    return path_normalize(raw, strlen(raw), out, sizeof out);
}

#define NORM_OK(raw, want)                                                                   \
    do {                                                                                     \
        CHECK_INT(norm(raw), PATH_OK);                                                       \
        CHECK_STR(out, want);                                                                \
    } while (0)

static void test_basic(void)
{
    NORM_OK("/", "/");
    NORM_OK("/index.html", "/index.html");
    NORM_OK("/a/b/c", "/a/b/c");
    NORM_OK("/a/b/", "/a/b/");
    NORM_OK("//a///b//", "/a/b/");
    NORM_OK("/a/./b", "/a/b");
    NORM_OK("/a/.", "/a/");
    NORM_OK("/./", "/");
    NORM_OK("/a/b/../c", "/a/c");
    NORM_OK("/a/b/..", "/a/");
    NORM_OK("/a/b/../", "/a/");
    NORM_OK("/a/..", "/");
    NORM_OK("/a/b/../../c/", "/c/");
    NORM_OK("/a/...", "/a/...");
    NORM_OK("/a/..b", "/a/..b");
    NORM_OK("/a/.git", "/a/.git"); /* dotfiles are route's business */
}

static void test_query_fragment(void)
{
    NORM_OK("/a/b?x=1/../..", "/a/b");
    NORM_OK("/a#frag/..", "/a");
    NORM_OK("/?", "/");
    NORM_OK("/a%3Fb", "/a?b"); /* an encoded '?' is part of the name */
    /* the length is explicit: bytes past len are never read */
    CHECK_INT(path_normalize("/abc/def", 4, out, sizeof out), PATH_OK);
    CHECK_STR(out, "/abc");
}

static void test_decoding(void)
{
    NORM_OK("/a%20b", "/a b");
    NORM_OK("/%41%42%43", "/ABC");
    NORM_OK("/%e2%82%ac", "/\xe2\x82\xac"); /* € */
    NORM_OK("/caf%C3%A9", "/caf\xc3\xa9");
    NORM_OK("/a+b", "/a+b");
    NORM_OK("/%2e/x", "/x");
    NORM_OK("/a/%2e%2e/b", "/b");
    NORM_OK("/a/%2E%2e/b", "/b");
    NORM_OK("/a/.%2e/b", "/b");
    NORM_OK("/a/%25", "/a/%");
    NORM_OK("/a/%252e%252e", "/a/%2e%2e"); /* decoded once only */
    CHECK_INT(norm("/a%"), PATH_BAD);
    CHECK_INT(norm("/a%2"), PATH_BAD);
    CHECK_INT(norm("/a%zz"), PATH_BAD);
    CHECK_INT(norm("/a%g0"), PATH_BAD);
    CHECK_INT(norm("/%%30"), PATH_BAD);
}

static void test_refusals(void)
{
    CHECK_INT(norm("/.."), PATH_FORBIDDEN);
    CHECK_INT(norm("/../etc/passwd"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a/../../etc/passwd"), PATH_FORBIDDEN);
    CHECK_INT(norm("/%2e%2e/etc/passwd"), PATH_FORBIDDEN);
    CHECK_INT(norm("/%2E%2E/"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a%2fb"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a%2F..%2F..%2Fetc"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a%00.html"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a%0d%0aSet-Cookie:x"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a%7f"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a\\..\\..\\etc"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a%5c..%5cetc"), PATH_FORBIDDEN);
    CHECK_INT(path_normalize("/a\0b", 4, out, sizeof out), PATH_FORBIDDEN);
    CHECK_STR(out, "");
    CHECK_INT(path_normalize("/a\tb", 4, out, sizeof out), PATH_FORBIDDEN);
}

static void test_bad(void)
{
    CHECK_INT(norm(""), PATH_BAD);
    CHECK_INT(norm("a/b"), PATH_BAD);
    CHECK_INT(norm("*"), PATH_BAD);
    CHECK_INT(norm("?x"), PATH_BAD);
    CHECK_INT(norm("ftp://host/x"), PATH_BAD);
    CHECK_INT(path_normalize(NULL, 0, out, sizeof out), PATH_BAD);
    CHECK_INT(path_normalize("/", 1, out, 1), PATH_BAD);
    CHECK_INT(path_normalize("/", 1, out, 0), PATH_BAD);
}

static void test_utf8(void)
{
    /* overlong '.', '/' and NUL: the classic IIS unicode traversal */
    CHECK_INT(norm("/%c0%ae%c0%ae/etc"), PATH_BAD);
    CHECK_INT(norm("/a%c0%afb"), PATH_BAD);
    CHECK_INT(norm("/a%c1%9c"), PATH_BAD);
    CHECK_INT(norm("/a%c0%80"), PATH_BAD);
    CHECK_INT(norm("/%e0%80%ae"), PATH_BAD);     /* 3-byte overlong */
    CHECK_INT(norm("/%f0%80%80%ae"), PATH_BAD);  /* 4-byte overlong */
    CHECK_INT(norm("/%ed%a0%80"), PATH_BAD);     /* surrogate U+D800 */
    CHECK_INT(norm("/%f4%90%80%80"), PATH_BAD);  /* above U+10FFFF */
    CHECK_INT(norm("/%f5%80%80%80"), PATH_BAD);
    CHECK_INT(norm("/%ff"), PATH_BAD);
    CHECK_INT(norm("/%80"), PATH_BAD);           /* stray continuation */
    CHECK_INT(norm("/%e9t%e9"), PATH_BAD);       /* Latin-1, not UTF-8 */
    CHECK_INT(norm("/%e2%82"), PATH_BAD);        /* truncated */
    CHECK_INT(norm("/%c3/%a9"), PATH_BAD);       /* split by a separator */
    CHECK_INT(norm("/\xc0\xae\xc0\xae/x"), PATH_BAD); /* raw bytes too */
    NORM_OK("/%f0%9f%98%80", "/\xf0\x9f\x98\x80");  /* U+1F600 */
    NORM_OK("/%f4%8f%bf%bf", "/\xf4\x8f\xbf\xbf");  /* U+10FFFF */
    NORM_OK("/%ee%80%80", "/\xee\x80\x80");         /* U+E000 */
}

static void test_absolute_form(void)
{
    NORM_OK("http://example.com/a/b", "/a/b");
    NORM_OK("HTTP://example.com:8080/a/../b", "/b");
    NORM_OK("https://example.com", "/");
    NORM_OK("http://example.com?x=/etc", "/");
    NORM_OK("http://user@host/x%20y", "/x y");
    CHECK_INT(norm("http://host/../x"), PATH_FORBIDDEN);
    /* a leading "//" is a path, not an authority */
    NORM_OK("//evil.com/x", "/evil.com/x");
}

static void test_sizes(void)
{
    char small[8];
    CHECK_INT(path_normalize("/abcdef", 7, small, sizeof small), PATH_OK);
    CHECK_STR(small, "/abcdef");
    CHECK_INT(path_normalize("/abcdefg", 8, small, sizeof small), PATH_BAD);
    CHECK_STR(small, "");
    CHECK_INT(path_normalize("/abcdef/", 8, small, sizeof small), PATH_BAD);
    CHECK_INT(path_normalize("/a/b/../c/d", 11, small, sizeof small), PATH_OK);
    CHECK_STR(small, "/a/c/d");

    /* len + 1 always suffices, whatever the input */
    static const char *const inputs[] = {"/", "//", "/a/", "/%41", "/./../", "http://h",
                                         "http://h/", "/a/b/..", "/%2e", "///./././"};
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        size_t n = strlen(inputs[k]);
        char *buf = malloc(n + 1);
        path_status_t st = path_normalize(inputs[k], n, buf, n + 1);
        CHECK(st == PATH_OK || st == PATH_FORBIDDEN);
        free(buf);
    }
}

static void test_long(void)
{
    /* 1 MiB of slashes, of "a/", of "../" and of "%2e%2e/": bounded, no overflow */
    size_t n = 1 << 20;
    char *raw = malloc(n);
    char *buf = malloc(n + 1);
    memset(raw, '/', n);
    CHECK_INT(path_normalize(raw, n, buf, n + 1), PATH_OK);
    CHECK_STR(buf, "/");
    for (size_t i = 0; i < n; i += 2) {
        raw[i] = '/';
        raw[i + 1] = 'a';
    }
    CHECK_INT(path_normalize(raw, n, buf, n + 1), PATH_OK);
    CHECK_INT(strlen(buf), n);
    CHECK_INT(path_normalize(raw, n, buf, 4096), PATH_BAD);
    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(raw + i, "/..", 3);
    CHECK_INT(path_normalize(raw, n - n % 3, buf, n + 1), PATH_FORBIDDEN);
    /* deep then back up to the root exactly: "/a/a/.../.. x same" */
    size_t depth = 1000, k = 0;
    for (size_t i = 0; i < depth; i++, k += 2)
        memcpy(raw + k, "/a", 2);
    for (size_t i = 0; i < depth; i++, k += 3)
        memcpy(raw + k, "/..", 3);
    CHECK_INT(path_normalize(raw, k, buf, n + 1), PATH_OK);
    CHECK_STR(buf, "/");
    memcpy(raw + k, "/..", 3);
    CHECK_INT(path_normalize(raw, k + 3, buf, n + 1), PATH_FORBIDDEN);
    free(raw);
    free(buf);
}

/* Every byte value at every position of a short path, and random junk: only the three
 * statuses, and on success a '/'-led, NUL-terminated result no longer than the input. */
static void test_junk(void)
{
    char raw[16], buf[17];
    int bad = 0;
    for (int c = 0; c < 256; c++) {
        for (size_t pos = 0; pos < 6; pos++) {
            memcpy(raw, "/a/%2e.b", 8);
            raw[pos] = (char)c;
            path_status_t st = path_normalize(raw, 8, buf, 9);
            if (st == PATH_OK && (buf[0] != '/' || strlen(buf) > 8))
                bad++;
            if (st != PATH_OK && st != PATH_BAD && st != PATH_FORBIDDEN)
                bad++;
        }
    }
    unsigned seed = 12345;
    for (int iter = 0; iter < 200000; iter++) {
        size_t n = 1 + (seed = seed * 1103515245u + 12345u) % sizeof raw;
        raw[0] = '/';
        for (size_t i = 1; i < n; i++) {
            static const char alphabet[] = "/./%2e%2E%2f%c0%ae..ab\\%00";
            seed = seed * 1103515245u + 12345u;
            raw[i] = (seed >> 16) % 4 == 0 ? (char)(seed >> 8)
                                           : alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        path_status_t st = path_normalize(raw, n, buf, n + 1);
        if (st == PATH_OK && (buf[0] != '/' || strlen(buf) > n || strstr(buf, "/../") ||
                              strstr(buf, "//") || strchr(buf, '\\')))
            bad++;
    }
    CHECK_INT(bad, 0);
}

/* A path that is already normal is copied as it is (one pass); any other goes the long way.
 * An absolute-form target always goes the long way, so "http://h" + path must give what path
 * gives, whatever path is: every string of up to 6 bytes over an alphabet of the bytes that
 * matter, then longer random ones. */
static void test_normal_shortcut(void)
{
    static const char alphabet[] = "/.a%2e?#\\ \x80\xc3\xa9";
    enum { K = sizeof alphabet - 1, MAXLEN = 6 };
    char raw[32], abs_raw[40], a[40], b[40];
    int differ = 0;
    unsigned long total = 0;
    for (size_t n = 1; n <= MAXLEN; n++) {
        size_t combos = 1;
        for (size_t i = 1; i < n; i++)
            combos *= K;
        for (size_t v = 0; v < combos; v++) {
            raw[0] = '/';
            for (size_t i = 1, x = v; i < n; i++, x /= K)
                raw[i] = alphabet[x % K];
            memcpy(abs_raw, "http://h", 8);
            memcpy(abs_raw + 8, raw, n);
            for (size_t cap = n; cap <= n + 1; cap++) { /* too tight for a copy, and room */
                path_status_t sa = path_normalize(raw, n, a, cap);
                path_status_t sb = path_normalize(abs_raw, n + 8, b, cap);
                if (sa != sb || strcmp(a, b) != 0)
                    differ++;
                total++;
            }
        }
    }
    unsigned seed = 777;
    for (int iter = 0; iter < 100000; iter++) {
        size_t n = 1 + (seed = seed * 1103515245u + 12345u) % 24;
        raw[0] = '/';
        for (size_t i = 1; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            raw[i] = (seed >> 16) % 8 == 0 ? (char)(seed >> 8) : "abc/.%2e"[(seed >> 16) % 8];
        }
        memcpy(abs_raw, "http://h", 8);
        memcpy(abs_raw + 8, raw, n);
        path_status_t sa = path_normalize(raw, n, a, n + 1);
        path_status_t sb = path_normalize(abs_raw, n + 8, b, n + 1);
        if (sa != sb || strcmp(a, b) != 0)
            differ++;
        total++;
    }
    /* Longer ones, mostly plain: the steps of sixteen bytes where the build has them. */
    for (int iter = 0; iter < 300000; iter++) {
        size_t n = 1 + (seed = seed * 1103515245u + 12345u) % 31;
        raw[0] = '/';
        for (size_t i = 1; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = (seed >> 16) % 64;
            raw[i] = r < 40 ? "abcdefgh"[r % 8]
                   : r < 48 ? '/'
                   : r < 54 ? '.'
                   : r < 63 ? "?#%\\ \x7f\x01\xc3~"[r - 54]
                            : (char)(seed >> 8);
        }
        memcpy(abs_raw, "http://h", 8);
        memcpy(abs_raw + 8, raw, n);
        for (size_t cap = n; cap <= n + 1; cap++) {
            path_status_t sa = path_normalize(raw, n, a, cap);
            path_status_t sb = path_normalize(abs_raw, n + 8, b, cap);
            if (sa != sb || strcmp(a, b) != 0)
                differ++;
            total++;
        }
    }
    CHECK(total > 500000);
    CHECK_INT(differ, 0);
    NORM_OK("/examples/hello.dll?x=/../..", "/examples/hello.dll");
    NORM_OK("/a/b.c/d./e-f_g~h!$&'()*+,;=:@[]", "/a/b.c/d./e-f_g~h!$&'()*+,;=:@[]");
    NORM_OK("/a/.b", "/a/.b");
    NORM_OK("/a//b", "/a/b");
    NORM_OK("/a b", "/a b");
    CHECK_INT(norm("/a/%2e%2e/%2e%2e"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a\\b"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a\x7f"), PATH_FORBIDDEN);
    CHECK_INT(norm("/a\x80"), PATH_BAD);
}

static void test_helpers(void)
{
    CHECK(path_has_dot_segment("/.git/config"));
    CHECK(path_has_dot_segment("/a/.htaccess"));
    CHECK(path_has_dot_segment("/a/b/.."));
    CHECK(path_has_dot_segment(".x"));
    CHECK(!path_has_dot_segment("/a/b.c/d."));
    CHECK(!path_has_dot_segment("/"));
    CHECK(!path_has_dot_segment(""));

    CHECK(path_ends_with_ci("/scripts/Hello.DLL", ".dll"));
    CHECK(path_ends_with_ci("x.so", ".SO"));
    CHECK(!path_ends_with_ci("so", ".so"));
    CHECK(path_ends_with_ci("abc", ""));

    char buf[16];
    CHECK_INT(path_join("/www", "a/b", buf, sizeof buf), 0);
    CHECK_STR(buf, "/www/a/b");
    CHECK_INT(path_join("/www/", "/a", buf, sizeof buf), 0);
    CHECK_STR(buf, "/www/a");
    CHECK_INT(path_join("/", "/a", buf, sizeof buf), 0);
    CHECK_STR(buf, "/a");
    CHECK_INT(path_join("/www", "", buf, sizeof buf), 0);
    CHECK_STR(buf, "/www");
    CHECK_INT(path_join("/www", "/", buf, sizeof buf), 0);
    CHECK_STR(buf, "/www/");
    CHECK_INT(path_join("/0123456789", "abc", buf, sizeof buf), 0);
    CHECK_STR(buf, "/0123456789/abc");
    CHECK_INT(path_join("/0123456789", "abcd", buf, sizeof buf), -ENAMETOOLONG);
    CHECK_STR(buf, "");
}

int main(void)
{
    test_basic();
    test_query_fragment();
    test_decoding();
    test_refusals();
    test_bad();
    test_utf8();
    test_absolute_form();
    test_sizes();
    test_long();
    test_junk();
    test_normal_shortcut();
    test_helpers();
    return check_report("test_path");
}
