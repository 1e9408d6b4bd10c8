/* What resphead.c and resphead_build.c share, and what they let their unit tests change (the
 * clock of the Date header). Private to them and tests/unit/test_resphead.c. */
#ifndef ISAPID_RESPHEAD_INTERNAL_H
#define ISAPID_RESPHEAD_INTERNAL_H

#include <stdbool.h>
#include <time.h>

/* field-vchar, SP and HTAB; obs-text (0x80..0xFF) passes through: what a header value or a
 * reason may hold (the parser refuses anything else, the builder sends it as a space). A table:
 * the loop over every header value the extension sends asks it of each byte. */
extern const unsigned char resphead_field_char_table[256];

static inline bool resphead_is_field_char(unsigned char c)
{
    return resphead_field_char_table[c] != 0;
}

/* The clock the builder reads for Date (NULL restores time()). Not thread-safe: set it before
 * building heads. */
void resphead_set_clock_for_tests(time_t (*now)(void));

#endif
