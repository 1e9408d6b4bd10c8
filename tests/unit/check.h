/* Minimal assertion helpers for unit tests: each failed CHECK prints file:line and the
 * expression, counts the failure, and the test's main returns check_report(). */
#ifndef ISAPID_TEST_CHECK_H
#define ISAPID_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(expr)                                                                      \
    do {                                                                                 \
        check_count++;                                                                   \
        if (!(expr)) {                                                                   \
            check_failures++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);     \
        }                                                                                \
    } while (0)

#define CHECK_STR(got, want)                                                             \
    do {                                                                                 \
        const char *check_g_ = (got), *check_w_ = (want);                               \
        check_count++;                                                                   \
        if (check_g_ == NULL || strcmp(check_g_, check_w_) != 0) {                       \
            check_failures++;                                                            \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s = \"%s\", want \"%s\"\n",       \
                    __FILE__, __LINE__, #got, check_g_ ? check_g_ : "(null)", check_w_); \
        }                                                                                \
    } while (0)

#define CHECK_INT(got, want)                                                             \
    do {                                                                                 \
        long long check_g_ = (long long)(got), check_w_ = (long long)(want);             \
        check_count++;                                                                   \
        if (check_g_ != check_w_) {                                                      \
            check_failures++;                                                            \
            fprintf(stderr, "%s:%d: CHECK_INT failed: %s = %lld, want %lld\n",           \
                    __FILE__, __LINE__, #got, check_g_, check_w_);                       \
        }                                                                                \
    } while (0)

static inline int check_report(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
