/* Shared by the fuzz harnesses and the corpus replayer.
 *
 * Every harness defines LLVMFuzzerTestOneInput, and LLVMFuzzerInitialize when it needs one-time
 * set-up (both with libFuzzer's signatures and semantics: Initialize runs once before any input,
 * TestOneInput once per input, must return 0, and must leave no state behind that changes how
 * the next input behaves). The same object files link either with libFuzzer (-fsanitize=fuzzer,
 * ISAPID_FUZZ=ON) or with replay_main.c, which runs every file of the corpus directories it is
 * given: the corpora are ordinary ctest tests in the normal build. */
#ifndef ISAPID_FUZZ_H
#define ISAPID_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test: on failure, say which and abort(), which libFuzzer
 * records as a crash (with the input saved) and the replayer as a failed test. */
#define FUZZ_CHECK(expr)                                                                   \
    do {                                                                                   \
        if (!(expr)) {                                                                     \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #expr); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* A set-up step that cannot fail in a sane environment (temp files, sockets): abort with why. */
#define FUZZ_REQUIRE(expr)                                                                 \
    do {                                                                                   \
        if (!(expr)) {                                                                     \
            perror("fuzz set-up: " #expr);                                                 \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#endif
