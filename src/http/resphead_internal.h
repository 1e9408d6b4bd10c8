/* What resphead.c and resphead_build.c share, and what they let their unit tests change (the
 * clock of the Date header). Private to them and tests/unit/test_resphead.c. */
#ifndef ISAPID_RESPHEAD_INTERNAL_H
#define ISAPID_RESPHEAD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <time.h>

/* field-vchar, SP and HTAB; obs-text (0x80..0xFF) passes through: what a header value or a
 * reason may hold (the parser refuses anything else, the builder sends it as a space). A table:
 * the loop over every header value the extension sends asks it of each byte. */
extern const unsigned char resphead_field_char_table[256];

static inline bool resphead_is_field_char(unsigned char c)
{
    return resphead_field_char_table[c] != 0;
}

/* n bytes at a and at b alike: the memos' key test, inline (keys are a few dozen bytes, where a
 * call to memcmp costs more than the comparison). Words of 16 (SSE2) or 8, the last one
 * overlapping. */
__attribute__((always_inline)) static inline bool resphead_same_bytes(const char *a, const char *b,
                                                                    size_t n)
{
#ifdef __SSE2__
    if (n >= 16) { /* 16 bytes a step, the last step overlapping */
        __m128i diff = _mm_setzero_si128();
        size_t i = 0;
        for (; i + 16 <= n; i += 16)
            diff = _mm_or_si128(diff, _mm_xor_si128(_mm_loadu_si128((const __m128i *)(a + i)),
                                                    _mm_loadu_si128((const __m128i *)(b + i))));
        diff = _mm_or_si128(diff, _mm_xor_si128(_mm_loadu_si128((const __m128i *)(a + n - 16)),
                                                _mm_loadu_si128((const __m128i *)(b + n - 16))));
        return _mm_movemask_epi8(_mm_cmpeq_epi8(diff, _mm_setzero_si128())) == 0xffff;
    }
#endif
    uint64_t x, y, diff = 0;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            diff |= x ^ y;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return (diff | (x ^ y)) == 0;
    }
    if (n >= 4) {
        uint32_t u, v, w, z;
        memcpy(&u, a, 4);
        memcpy(&v, b, 4);
        memcpy(&w, a + n - 4, 4);
        memcpy(&z, b + n - 4, 4);
        return ((u ^ v) | (w ^ z)) == 0;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* The clock the builder reads for Date (NULL restores time()). Not thread-safe: set it before
 * building heads. */
void resphead_set_clock_for_tests(time_t (*now)(void));

#endif
