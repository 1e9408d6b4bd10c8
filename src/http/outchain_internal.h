/* The output chain's test hook: included only by src/http/outchain.c and its unit test
 * (tests/unit/test_outchain.c), never by the server's other code. */
#ifndef ISAPID_OUTCHAIN_INTERNAL_H
#define ISAPID_OUTCHAIN_INTERNAL_H

#include <stddef.h>

/* Lower the most one sendfile call sends (0 restores OUT_CHAIN_SENDFILE_MAX), so a test sees
 * a file range split over several calls without a file of a gigabyte. Not thread-safe: set it
 * before sending. */
void out_chain_set_sendfile_max_for_tests(size_t max);

#endif
