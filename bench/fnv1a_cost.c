/* fnv1a_cost: how long examples/upload.c's checksum takes over a body, without any I/O.
 *
 *     fnv1a_cost [BYTES [RUNS]]     (default 64 MiB, 5 runs)
 *
 * Prints one JSON object: the median milliseconds to hash BYTES with the same byte-at-a-time
 * 32-bit FNV-1a loop as upload_add() in examples/upload.c, read from a 64 KiB buffer as the
 * extension's reads deliver it. bench/run.sh runs it on the server's core so that the upload
 * result can be split into the extension's own work and the server's. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READ_SIZE (64u * 1024u) /* upload.c's READ_SIZE */

static uint32_t fnv1a(uint32_t h, const unsigned char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= data[i];
        h *= 16777619u;
    }
    return h;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t bytes = argc > 1 ? strtoull(argv[1], NULL, 10) : (size_t)64 << 20;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 100)
        runs = 5;
    static unsigned char buf[READ_SIZE];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 131u + 7u);

    double ms[100];
    volatile uint32_t sink = 0;
    for (int r = 0; r < runs; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        uint32_t h = 2166136261u;
        for (size_t done = 0; done < bytes; done += READ_SIZE) {
            size_t n = bytes - done < READ_SIZE ? bytes - done : READ_SIZE;
            h = fnv1a(h, buf, n);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        sink ^= h;
        ms[r] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    }
    qsort(ms, (size_t)runs, sizeof ms[0], cmp_double);
    printf("{\"bytes\": %zu, \"runs\": %d, \"median_ms\": %.3f, \"checksum\": %u}\n", bytes, runs,
           ms[runs / 2], (unsigned)sink);
    return 0;
}
