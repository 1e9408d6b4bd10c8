/* Fuzz harness: the URL path normaliser (path_normalize), plus path_join.
 *
 * Input: the raw request target, as it comes off the wire. Checked for every input:
 * - no out-of-bounds access with an output buffer of exactly len + 2 bytes (ASan);
 * - on success the result starts with '/', is NUL-terminated within the buffer, and has no
 *   empty, "." or ".." segment, no control byte, no backslash, and is valid UTF-8;
 * - on failure the output is "";
 * - len + 1 bytes always suffice; one byte less than the result's size never does;
 * - normalising is idempotent: a result without '%', '?' or '#' normalises to itself;
 * - an origin-form target normalises as the same path in absolute form does ("http://h" + it:
 *   the long way, never the copy of a path that is already normal);
 * - path_join of two parts of the input puts exactly one '/' between them. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "path.h"

/* The same rules path_normalize applies (RFC 3629): no overlong forms, surrogates, values above
 * U+10FFFF, stray or missing continuation bytes. Written independently of path.c on purpose. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

static void check_normalized(const char *p)
{
    size_t n = strlen(p);
    FUZZ_CHECK(n >= 1 && p[0] == '/');
    FUZZ_CHECK(strstr(p, "//") == NULL);
    /* Segment by segment: none is ".", "..", and none but the last is empty. */
    for (const char *s = p + 1; *s;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        FUZZ_CHECK(!(len == 1 && s[0] == '.'));
        FUZZ_CHECK(!(len == 2 && s[0] == '.' && s[1] == '.'));
        if (!e)
            break;
        s = e + 1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7f && c != '\\');
    }
    FUZZ_CHECK(utf8_ok((const unsigned char *)p, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *raw = (const char *)data;
    size_t out_size = size + 2;
    char *out = malloc(out_size);
    FUZZ_REQUIRE(out);
    path_status_t st = path_normalize(raw, size, out, out_size);
    FUZZ_CHECK(st == PATH_OK || st == PATH_BAD || st == PATH_FORBIDDEN);
    if (st != PATH_OK) {
        FUZZ_CHECK(out[0] == '\0');
    } else {
        FUZZ_CHECK(memchr(out, '\0', out_size) != NULL);
        check_normalized(out);
        size_t n = strlen(out);
        FUZZ_CHECK(n <= size + 1);

        /* len + 1 bytes always suffice (documented). A buffer of exactly the result's size
         * may not: ".." segments are written before they are resolved ("/a/../b" needs 5
         * bytes on the way to "/b"), so that gives the same result or PATH_BAD. With less
         * than the result's size it is PATH_BAD, and nothing is written past the buffer. */
        char *tight = malloc(size + 1);
        FUZZ_REQUIRE(tight);
        FUZZ_CHECK(path_normalize(raw, size, tight, size + 1) == PATH_OK);
        FUZZ_CHECK(strcmp(tight, out) == 0);
        free(tight);
        tight = malloc(n + 1);
        FUZZ_REQUIRE(tight);
        st = path_normalize(raw, size, tight, n + 1);
        FUZZ_CHECK(st == PATH_BAD ? tight[0] == '\0' : st == PATH_OK && strcmp(tight, out) == 0);
        if (n >= 2) {
            FUZZ_CHECK(path_normalize(raw, size, tight, n) == PATH_BAD);
            FUZZ_CHECK(tight[0] == '\0');
        }
        free(tight);

        /* Idempotent where the result has nothing left to decode and no '?' or '#' (decoded
         * from %3F / %23) that would end the path early. */
        if (!strpbrk(out, "%?#")) {
            char *again = malloc(n + 2);
            FUZZ_REQUIRE(again);
            FUZZ_CHECK(path_normalize(out, n, again, n + 2) == PATH_OK);
            FUZZ_CHECK(strcmp(again, out) == 0);
            free(again);
        }
        /* The dot-segment test must see no "." segment in a normalised path that has none
         * starting with '.'. */
        if (!strstr(out, "/."))
            FUZZ_CHECK(!path_has_dot_segment(out));
    }
    free(out);

    if (size > 0 && raw[0] == '/') {
        char *abs_raw = malloc(size + 8), *a = malloc(size + 2), *b = malloc(size + 2);
        FUZZ_REQUIRE(abs_raw && a && b);
        memcpy(abs_raw, "http://h", 8);
        memcpy(abs_raw + 8, raw, size);
        for (size_t cap = size; cap <= size + 1; cap++) {
            path_status_t sa = path_normalize(raw, size, a, cap);
            FUZZ_CHECK(path_normalize(abs_raw, size + 8, b, cap) == sa);
            FUZZ_CHECK(strcmp(a, b) == 0);
        }
        free(abs_raw);
        free(a);
        free(b);
    }

    /* path_join: dir and rel are the input split at its first NUL (no NUL: the input twice). */
    const char *nul = memchr(raw, '\0', size);
    size_t dlen = nul ? (size_t)(nul - raw) : size;
    char *dir = strndup(raw, dlen);
    char *rel = nul ? strndup(nul + 1, size - dlen - 1) : strndup(raw, size);
    FUZZ_REQUIRE(dir && rel);
    size_t jn = strlen(dir) + strlen(rel) + 2;
    for (size_t cap = jn > 8 ? jn - 8 : 1; cap <= jn; cap++) {
        char *j = malloc(cap);
        FUZZ_REQUIRE(j);
        int rc = path_join(dir, rel, j, cap);
        if (rc == 0 && rel[0]) {
            /* dir's trailing '/'s and rel's leading ones become exactly one. */
            size_t d = strlen(dir), r = 0;
            while (d > 0 && dir[d - 1] == '/')
                d--;
            while (rel[r] == '/')
                r++;
            FUZZ_CHECK(strlen(j) == d + 1 + strlen(rel + r));
            FUZZ_CHECK(memcmp(j, dir, d) == 0 && j[d] == '/' && strcmp(j + d + 1, rel + r) == 0);
        } else if (rc == 0) {
            FUZZ_CHECK(strcmp(j, dir) == 0);
        } else {
            FUZZ_CHECK(j[0] == '\0');
        }
        free(j);
    }
    free(dir);
    free(rel);
    return 0;
}
