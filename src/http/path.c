/* URL path decoding and normalisation. Every loop is bounded by an explicit length and every
 * write into out is checked against out_size: this code faces hostile input and fuzzers. */
#include "path.h"
#include "httputil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* RFC 3629 well-formedness of s[0..n): no overlong forms, no surrogates, nothing above
 * U+10FFFF, no stray continuation bytes, no truncated sequences. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false; /* 0x80..0xc1 (continuation or overlong lead), 0xf5..0xff */
        }
        if (n - i - 1 < need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

/* Skip "scheme://authority" of an absolute-form target; returns the offset of its path (which
 * may be len, or point at '?'/'#': the path is then "/"). Returns 0 for anything else. */
static size_t skip_absolute_form(const char *raw, size_t len)
{
    size_t skip;
    if (len < 7 || (raw[0] != 'h' && raw[0] != 'H')) /* the origin-form's '/', without a call */
        return 0;
    if (http_ascii_ncasecmp(raw, "http://", 7) == 0)
        skip = 7;
    else if (len >= 8 && http_ascii_ncasecmp(raw, "https://", 8) == 0)
        skip = 8;
    else
        return 0;
    while (skip < len && raw[skip] != '/' && raw[skip] != '?' && raw[skip] != '#')
        skip++;
    return skip;
}

/* What each byte is to a path: one table for both ways through path_normalize.
 * PATH_BYTE_PLAIN, _DOT and _END are the printable ASCII a segment takes as it is (not '%', an
 * escape; '/', the segment's end; '\\', refused): byte_taken_as_is. The already-normal check
 * (normal_prefix) tells them apart: '.' may not start a segment, and '?' / '#' end the path
 * there (the long way has cut the path at them before it looks at a segment). Anything else
 * (an escape, a backslash, a control or high byte) is PATH_BYTE_OTHER. */
enum { PATH_BYTE_OTHER = 0, PATH_BYTE_SLASH, PATH_BYTE_PLAIN, PATH_BYTE_DOT, PATH_BYTE_END };
static const unsigned char path_byte[256] = {
    ['!' ... '"'] = PATH_BYTE_PLAIN, ['#'] = PATH_BYTE_END,         ['$'] = PATH_BYTE_PLAIN,
    ['&' ... '-'] = PATH_BYTE_PLAIN, ['.'] = PATH_BYTE_DOT,         ['/'] = PATH_BYTE_SLASH,
    ['0' ... '>'] = PATH_BYTE_PLAIN, ['?'] = PATH_BYTE_END,         ['@' ... '['] = PATH_BYTE_PLAIN,
    [']' ... '~'] = PATH_BYTE_PLAIN,
};

static inline bool byte_taken_as_is(unsigned char c) { return path_byte[c] >= PATH_BYTE_PLAIN; }

static path_status_t fail(char *out, size_t out_size, path_status_t st)
{
    if (out_size > 0)
        out[0] = '\0';
    return st;
}

#ifdef __SSE2__
/* The bytes of s[0..16) that stop a path from being normal as it is (bit k for s[k]): not
 * printable ASCII, '#', '%', '?' or '\\', or a '/' or '.' right after a '/' (s[-1] is read:
 * the caller has a byte before s). Each bit says the same as path_byte does for its byte. */
static unsigned not_normal16(const unsigned char *s)
{
    __m128i a = _mm_loadu_si128((const __m128i *)s);
    __m128i prev = _mm_loadu_si128((const __m128i *)(s - 1));
    __m128i slash = _mm_set1_epi8('/');
    /* signed compares: a byte >= 0x80 is negative, so below 0x21 too */
    __m128i printable = _mm_and_si128(_mm_cmpgt_epi8(a, _mm_set1_epi8(0x20)),
                                      _mm_cmplt_epi8(a, _mm_set1_epi8(0x7f)));
    __m128i special = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8('#')), _mm_cmpeq_epi8(a, _mm_set1_epi8('%'))),
        _mm_or_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8('?')), _mm_cmpeq_epi8(a, _mm_set1_epi8('\\'))));
    __m128i after_slash = _mm_and_si128(
        _mm_cmpeq_epi8(prev, slash),
        _mm_or_si128(_mm_cmpeq_epi8(a, slash), _mm_cmpeq_epi8(a, _mm_set1_epi8('.'))));
    __m128i bad = _mm_or_si128(_mm_andnot_si128(printable, _mm_set1_epi8(-1)),
                               _mm_or_si128(special, after_slash));
    return (unsigned)_mm_movemask_epi8(bad);
}
#endif

/* The length of raw[0..len)'s path when it needs no change at all: it starts with '/' and,
 * up to its '?' or '#' (or len), holds only bytes taken as they are, with no empty segment
 * ("//") and no segment that starts with '.' (so no "." or ".." segment; a dotfile is sent
 * the long way too, which decides the same). 0 when it may need a change. One pass, no copy:
 * sixteen bytes a step where SSE2 is, a table look-up a byte elsewhere and for short tails. */
static size_t normal_prefix(const char *raw, size_t len)
{
    const unsigned char *s = (const unsigned char *)raw;
    if (len == 0 || s[0] != '/')
        return 0;
    size_t i = 1;
#ifdef __SSE2__
    /* Steps of 16 from s[1]; the last one overlaps the one before it so as to end at len
     * (bytes checked twice are judged the same). The first flagged byte is '?' or '#' that
     * ends the path, or one that needs the long way. */
    if (len >= 17) {
        for (;;) {
            unsigned bad = not_normal16(s + i);
            if (bad != 0) {
                size_t j = i + (size_t)__builtin_ctz(bad);
                return s[j] == '?' || s[j] == '#' ? j : 0;
            }
            if (i + 16 == len)
                return len;
            i = len - i - 16 >= 16 ? i + 16 : len - 16;
        }
    }
#endif
    while (i < len) {
        unsigned char k = path_byte[s[i]];
        if (k == PATH_BYTE_END)
            return i;
        if (k == PATH_BYTE_OTHER)
            return 0;
        if (k != PATH_BYTE_PLAIN && s[i - 1] == '/') /* "//", or a segment that starts with '.' */
            return 0;
        i++;
    }
    return i;
}

path_status_t path_normalize(const char *raw, size_t len, char *out, size_t out_size)
{
    if (out_size < 2)
        return fail(out, out_size, PATH_BAD);
    if (raw == NULL)
        return fail(out, out_size, PATH_BAD);

    /* Already normal: the result is the path as it is (when it fits; else the long way says
     * PATH_BAD, as for any result that does not fit). */
    size_t plain = normal_prefix(raw, len);
    if (plain > 0 && plain < out_size) {
        memcpy(out, raw, plain);
        out[plain] = '\0';
        return PATH_OK;
    }

    size_t end = len;
    const char *stop = memchr(raw, '?', end);
    if (stop)
        end = (size_t)(stop - raw);
    stop = memchr(raw, '#', end);
    if (stop)
        end = (size_t)(stop - raw);

    size_t i = skip_absolute_form(raw, end);
    bool absolute = i > 0;
    if (!absolute && (end == 0 || raw[0] != '/'))
        return fail(out, out_size, PATH_BAD);

    /* Invariant between segments: out[0..o) starts with '/' and ends with '/'. The only way
     * for it to end otherwise is a final segment with no '/' after it. out_size - 1 bytes are
     * usable; the last one is kept for the NUL. */
    size_t o = 0;
    out[o++] = '/';
    while (i < end) {
        if (raw[i] == '/') {
            i++;
            continue;
        }
        size_t seg = o;
        unsigned char high = 0; /* any byte >= 0x80 in the segment: only then check UTF-8 */
        while (i < end && raw[i] != '/') {
            /* The common bytes, a run at a time: out has room for the rest of the input. */
            if (end - i <= out_size - 1 - o) {
                while (i < end && byte_taken_as_is((unsigned char)raw[i]))
                    out[o++] = raw[i++];
                if (i == end || raw[i] == '/')
                    break;
            }
            unsigned char c = (unsigned char)raw[i];
            if (byte_taken_as_is(c)) {
                /* The common byte: printable ASCII taken as it is. */
                if (o >= out_size - 1)
                    return fail(out, out_size, PATH_BAD);
                out[o++] = (char)c;
                i++;
                continue;
            }
            if (c == '%') {
                if (end - i < 3)
                    return fail(out, out_size, PATH_BAD);
                int hi = hex_value((unsigned char)raw[i + 1]);
                int lo = hex_value((unsigned char)raw[i + 2]);
                if (hi < 0 || lo < 0)
                    return fail(out, out_size, PATH_BAD);
                c = (unsigned char)(hi << 4 | lo);
                i += 3;
                if (c == '/')
                    return fail(out, out_size, PATH_FORBIDDEN);
            } else {
                i++;
            }
            if (c < 0x20 || c == 0x7f || c == '\\')
                return fail(out, out_size, PATH_FORBIDDEN);
            if (o >= out_size - 1)
                return fail(out, out_size, PATH_BAD);
            high |= c & 0x80;
            out[o++] = (char)c;
        }
        size_t seg_len = o - seg;
        if (high && !utf8_valid((const unsigned char *)out + seg, seg_len))
            return fail(out, out_size, PATH_BAD);

        if (seg_len == 1 && out[seg] == '.') {
            o = seg;
        } else if (seg_len == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            if (seg == 1)
                return fail(out, out_size, PATH_FORBIDDEN);
            /* out[seg - 1] is the '/' closing the parent segment: drop back past the parent. */
            o = seg - 1;
            while (o > 0 && out[o - 1] != '/')
                o--;
        } else if (i < end) {
            if (o >= out_size - 1)
                return fail(out, out_size, PATH_BAD);
            out[o++] = '/';
        }
    }
    out[o] = '\0';
    return PATH_OK;
}

int path_has_dot_segment(const char *path)
{
    if (path == NULL)
        return 0;
    if (path[0] == '.')
        return 1;
    for (const char *p = strchr(path, '/'); p != NULL; p = strchr(p + 1, '/')) {
        if (p[1] == '.')
            return 1;
    }
    return 0;
}

int path_ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && http_ascii_casecmp(s + n - k, suffix) == 0;
}

int path_join(const char *dir, const char *rel, char *out, size_t n)
{
    size_t dlen = strlen(dir);
    if (rel[0] == '\0') {
        if (dlen + 1 > n)
            goto too_long;
        memcpy(out, dir, dlen + 1);
        return 0;
    }
    while (dlen > 0 && dir[dlen - 1] == '/')
        dlen--;
    while (rel[0] == '/')
        rel++;
    size_t rlen = strlen(rel);
    if (dlen + 1 + rlen + 1 > n)
        goto too_long;
    memcpy(out, dir, dlen);
    out[dlen] = '/';
    memcpy(out + dlen + 1, rel, rlen + 1);
    return 0;
too_long:
    if (n > 0)
        out[0] = '\0';
    return -ENAMETOOLONG;
}
