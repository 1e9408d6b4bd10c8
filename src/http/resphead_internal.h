/* What resphead.c lets its unit tests change, and nothing else may: the clock of the Date
 * header. Private to resphead.c and tests/unit/test_resphead.c. */
#ifndef ISAPID_RESPHEAD_INTERNAL_H
#define ISAPID_RESPHEAD_INTERNAL_H

#include <time.h>

/* The clock the builder reads for Date (NULL restores time()). Not thread-safe: set it before
 * building heads. */
void resphead_set_clock_for_tests(time_t (*now)(void));

#endif
