/* Fuzz harness: the PROXY protocol parser (src/http/proxyproto.c, proxy_parse).
 *
 * Input: the first bytes of a connection (a v1 line or a v2 header, then anything). The input is
 * parsed whole and as prefixes (every prefix of a short input, a sample of a long one), each from
 * a buffer of exactly its size. Checked:
 * - the same bytes give the same answer (no state between calls);
 * - DONE: used fits the input, is at least the shortest header, names version 1 or 2, and the
 *   addresses are NUL-terminated text, empty exactly when local; ports fit 16 bits;
 * - prefixes agree with the whole: a prefix shorter than a DONE header is MORE, a longer one is
 *   DONE with the same header; once a prefix is BAD every longer one is BAD; a whole that is
 *   MORE has only MORE prefixes (a header is decided by its own bytes, never by what follows);
 * - a DONE TCP header written again in its own version parses to the same fields. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "proxyproto.h"

static proxy_status_t parse_copy(const uint8_t *data, size_t n, proxy_header_t *h, size_t *used)
{
    uint8_t *copy = malloc(n ? n : 1);
    FUZZ_REQUIRE(copy);
    memcpy(copy, data, n);
    const char *why = NULL;
    memset(h, 0, sizeof *h);
    *used = 0;
    proxy_status_t st = proxy_parse(copy, n, h, used, &why);
    FUZZ_CHECK(st == PROXY_MORE || st == PROXY_DONE || st == PROXY_BAD);
    if (st == PROXY_BAD)
        FUZZ_CHECK(why != NULL && *why);
    free(copy);
    return st;
}

static bool same_header(const proxy_header_t *a, const proxy_header_t *b)
{
    return a->version == b->version && a->local == b->local && a->ssl == b->ssl &&
           a->src_port == b->src_port && a->dst_port == b->dst_port &&
           strcmp(a->src_addr, b->src_addr) == 0 && strcmp(a->dst_addr, b->dst_addr) == 0;
}

static void check_header(const proxy_header_t *h, size_t used, size_t size)
{
    FUZZ_CHECK(used <= size);
    FUZZ_CHECK(h->version == 1 || h->version == 2);
    FUZZ_CHECK(used >= (h->version == 1 ? 15u : PROXY_V2_FIXED)); /* "PROXY UNKNOWN\r\n" */
    if (h->version == 1)
        FUZZ_CHECK(used <= PROXY_V1_MAX);
    FUZZ_CHECK(memchr(h->src_addr, '\0', sizeof h->src_addr) != NULL);
    FUZZ_CHECK(memchr(h->dst_addr, '\0', sizeof h->dst_addr) != NULL);
    FUZZ_CHECK(h->local == (h->src_addr[0] == '\0'));
    FUZZ_CHECK(h->local == (h->dst_addr[0] == '\0'));
    FUZZ_CHECK(h->src_port <= 65535 && h->dst_port <= 65535);
    if (h->local)
        FUZZ_CHECK(h->src_port == 0 && h->dst_port == 0);
}

/* The header written again from its fields, in its version (TCP only). */
static void check_round_trip(const proxy_header_t *h)
{
    if (h->local)
        return;
    uint8_t src[16], dst[16];
    bool v6 = strchr(h->src_addr, ':') != NULL;
    FUZZ_CHECK(inet_pton(v6 ? AF_INET6 : AF_INET, h->src_addr, src) == 1);
    FUZZ_CHECK(inet_pton(strchr(h->dst_addr, ':') ? AF_INET6 : AF_INET, h->dst_addr, dst) == 1);
    uint8_t out[128];
    size_t n;
    if (h->version == 1) {
        /* A v1 TCP6 line may name an IPv4-mapped address, shown as IPv4: write both as IPv6. */
        bool any6 = v6 || strchr(h->dst_addr, ':');
        char a[64], b[64];
        snprintf(a, sizeof a, "%s%s", any6 && !v6 ? "::ffff:" : "", h->src_addr);
        snprintf(b, sizeof b, "%s%s", any6 && !strchr(h->dst_addr, ':') ? "::ffff:" : "",
                 h->dst_addr);
        int k = snprintf((char *)out, sizeof out, "PROXY %s %s %s %u %u\r\n",
                         any6 ? "TCP6" : "TCP4", a, b, h->src_port, h->dst_port);
        FUZZ_CHECK(k > 0 && (size_t)k < sizeof out);
        n = (size_t)k;
    } else {
        if (v6 || strchr(h->dst_addr, ':'))
            return; /* a v2 TCP6 header naming a mapped address: nothing simple to compare */
        static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                        0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
        memcpy(out, sig, 12);
        out[12] = 0x21;
        out[13] = 0x11;
        out[14] = 0;
        out[15] = h->ssl ? 12 + 8 : 12;
        memcpy(out + 16, src, 4);
        memcpy(out + 20, dst, 4);
        out[24] = (uint8_t)(h->src_port >> 8);
        out[25] = (uint8_t)h->src_port;
        out[26] = (uint8_t)(h->dst_port >> 8);
        out[27] = (uint8_t)h->dst_port;
        n = 28;
        if (h->ssl) {
            const uint8_t ssl[8] = {0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0};
            memcpy(out + 28, ssl, 8);
            n += 8;
        }
    }
    proxy_header_t again;
    size_t used;
    FUZZ_CHECK(parse_copy(out, n, &again, &used) == PROXY_DONE);
    FUZZ_CHECK(used == n);
    FUZZ_CHECK(same_header(h, &again));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proxy_header_t whole, h;
    size_t used = 0, u = 0;
    proxy_status_t st = parse_copy(data, size, &whole, &used);
    FUZZ_CHECK(parse_copy(data, size, &h, &u) == st);
    if (st == PROXY_DONE) {
        FUZZ_CHECK(u == used && same_header(&h, &whole));
        check_header(&whole, used, size);
        check_round_trip(&whole);
    }

    /* Prefixes: all of a short input; of a long one a sample, with the header's edges. */
    size_t step = size <= 512 ? 1 : size / 256;
    bool seen_bad = false;
    for (size_t i = 0; i <= size; i += step) {
        size_t n = i;
        proxy_status_t p = parse_copy(data, n, &h, &u);
        if (st == PROXY_DONE) {
            FUZZ_CHECK(p == (n < used ? PROXY_MORE : PROXY_DONE));
            if (p == PROXY_DONE)
                FUZZ_CHECK(u == used && same_header(&h, &whole));
        } else if (st == PROXY_MORE) {
            FUZZ_CHECK(p == PROXY_MORE);
        } else {
            FUZZ_CHECK(p != PROXY_DONE);
            if (seen_bad)
                FUZZ_CHECK(p == PROXY_BAD);
            seen_bad = p == PROXY_BAD;
        }
    }
    if (st == PROXY_DONE && used > 0) {
        FUZZ_CHECK(parse_copy(data, used - 1, &h, &u) == PROXY_MORE);
        FUZZ_CHECK(parse_copy(data, used, &h, &u) == PROXY_DONE && u == used);
    }
    return 0;
}
