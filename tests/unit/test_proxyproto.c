/* PROXY protocol parser (src/http/proxyproto.c): v1 and v2 fields, truncation at every byte,
 * bad signatures, versions, commands, families, lengths, TLVs and the CRC32C. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proxyproto.h"

static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

typedef struct hdr {
    uint8_t b[1024];
    size_t n;
} hdr_t;

/* A v2 header: version/command byte, family byte, the address block and TLVs as given. */
static void v2(hdr_t *h, uint8_t ver_cmd, uint8_t fam, const void *body, size_t body_len)
{
    memcpy(h->b, sig, 12);
    h->b[12] = ver_cmd;
    h->b[13] = fam;
    h->b[14] = (uint8_t)(body_len >> 8);
    h->b[15] = (uint8_t)body_len;
    if (body_len)
        memcpy(h->b + 16, body, body_len); /* body may be NULL when empty */
    h->n = 16 + body_len;
}

static const uint8_t tcp4_block[12] = {192, 0, 2, 1, 198, 51, 100, 7, 0xC3, 0x50, 0x1F, 0x90};

/* Every strict prefix of a valid header is PROXY_MORE, and the whole header is DONE with the
 * bytes after it left alone. */
static void check_prefixes_more(const void *buf, size_t n)
{
    uint8_t *copy = malloc(n + 5);
    memcpy(copy, buf, n);
    memcpy(copy + n, "GET /", 5);
    for (size_t i = 0; i < n; i++) {
        proxy_header_t h;
        size_t used = 12345;
        const char *why = NULL;
        proxy_status_t st = proxy_parse(copy, i, &h, &used, &why);
        if (st != PROXY_MORE)
            fprintf(stderr, "prefix %zu of %zu: status %d (%s)\n", i, n, st, why ? why : "");
        CHECK_INT(st, PROXY_MORE);
        CHECK_INT(used, 12345);
    }
    proxy_header_t h;
    size_t used = 0;
    const char *why = NULL;
    CHECK_INT(proxy_parse(copy, n + 5, &h, &used, &why), PROXY_DONE);
    CHECK_INT(used, n);
    free(copy);
}

/* A bad header: never DONE on any prefix, BAD on the whole, and the reason mentions `want`. */
static void check_bad(const void *buf, size_t n, const char *want)
{
    for (size_t i = 0; i < n; i++) {
        proxy_header_t h;
        size_t used;
        const char *why = NULL;
        CHECK(proxy_parse(buf, i, &h, &used, &why) != PROXY_DONE);
    }
    proxy_header_t h;
    size_t used;
    const char *why = NULL;
    proxy_status_t st = proxy_parse(buf, n, &h, &used, &why);
    CHECK_INT(st, PROXY_BAD);
    CHECK(why != NULL && strstr(why, want) != NULL);
    if (st == PROXY_BAD && why && !strstr(why, want))
        fprintf(stderr, "reason \"%s\", want \"%s\"\n", why, want);
}

static proxy_status_t parse_str(const char *s, proxy_header_t *h, size_t *used)
{
    const char *why;
    return proxy_parse(s, strlen(s), h, used, &why);
}

static void test_v1_fields(void)
{
    proxy_header_t h;
    size_t used;
    const char *l4 = "PROXY TCP4 192.0.2.1 198.51.100.7 50000 8080\r\n";
    CHECK_INT(parse_str(l4, &h, &used), PROXY_DONE);
    CHECK_INT(used, strlen(l4));
    CHECK_INT(h.version, 1);
    CHECK(!h.local && !h.ssl);
    CHECK_STR(h.src_addr, "192.0.2.1");
    CHECK_STR(h.dst_addr, "198.51.100.7");
    CHECK_INT(h.src_port, 50000);
    CHECK_INT(h.dst_port, 8080);
    check_prefixes_more(l4, strlen(l4));

    const char *l6 = "PROXY TCP6 2001:0db8::0001 ::1 0 65535\r\n";
    CHECK_INT(parse_str(l6, &h, &used), PROXY_DONE);
    CHECK_STR(h.src_addr, "2001:db8::1"); /* canonical text */
    CHECK_STR(h.dst_addr, "::1");
    CHECK_INT(h.src_port, 0);
    CHECK_INT(h.dst_port, 65535);
    check_prefixes_more(l6, strlen(l6));

    CHECK_INT(parse_str("PROXY TCP6 ::ffff:10.1.2.3 ::1 1 2\r\n", &h, &used), PROXY_DONE);
    CHECK_STR(h.src_addr, "10.1.2.3"); /* as a socket's v4-mapped address reads */

    CHECK_INT(parse_str("PROXY UNKNOWN\r\n", &h, &used), PROXY_DONE);
    CHECK(h.local);
    CHECK_INT(used, 15);
    CHECK_STR(h.src_addr, "");
    const char *unk = "PROXY UNKNOWN ffff::1 ffff::2 a b c d e f\r\n";
    CHECK_INT(parse_str(unk, &h, &used), PROXY_DONE);
    CHECK(h.local);
    CHECK_INT(used, strlen(unk));
    check_prefixes_more(unk, strlen(unk));

    /* The longest line there is: 107 bytes (UNKNOWN with two full IPv6 addresses). */
    const char *longest = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    CHECK_INT(strlen(longest), PROXY_V1_MAX);
    CHECK_INT(parse_str(longest, &h, &used), PROXY_DONE);
    check_prefixes_more(longest, strlen(longest));
}

static void test_v1_bad(void)
{
#define BAD1(s, want) check_bad(s, strlen(s), want)
    BAD1("GET / HTTP/1.1\r\n\r\n", "not a PROXY protocol header");
    BAD1("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n", "not a PROXY protocol header");
    BAD1("PROXY\r\n", "not a PROXY protocol header");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n", "LF alone");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX\n", "CR not followed by LF");
    BAD1("PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n", "control");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\xff\r\n", "control or non-ASCII");
    BAD1("PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", "not TCP4, TCP6 or UNKNOWN");
    BAD1("PROXY \r\n", "not TCP4");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", "expected PROXY TCP4");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", "expected PROXY TCP4");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3 4\r\n", "too many fields");
    BAD1("PROXY TCP4  1.2.3.4 1.2.3.4 1\r\n", "empty field");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n", "expected PROXY TCP4");
    BAD1("PROXY TCP4 ::1 1.2.3.4 1 2\r\n", "not IPv4");
    BAD1("PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n", "not IPv4");
    BAD1("PROXY TCP4 1.2.3.4 host 1 2\r\n", "not IPv4");
    BAD1("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "not IPv6");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", "port");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 080 2\r\n", "port");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 1 -2\r\n", "port");
    BAD1("PROXY TCP4 1.2.3.4 1.2.3.4 1 123456\r\n", "port");
    /* No CRLF within 107 bytes: refused at the 107th, whatever follows. */
    char big[200];
    memset(big, 'a', sizeof big);
    memcpy(big, "PROXY UNKNOWN ", 14);
    check_bad(big, PROXY_V1_MAX, "no CRLF within 107 bytes");
    proxy_header_t h;
    size_t used;
    const char *why;
    CHECK_INT(proxy_parse(big, PROXY_V1_MAX - 1, &h, &used, &why), PROXY_MORE);
    CHECK_INT(proxy_parse(big, sizeof big, &h, &used, &why), PROXY_BAD);
    /* A refusal on the first byte that cannot start a header. */
    CHECK_INT(proxy_parse("G", 1, &h, &used, &why), PROXY_BAD);
    CHECK_INT(proxy_parse("P", 1, &h, &used, &why), PROXY_MORE);
    CHECK_INT(proxy_parse("PX", 2, &h, &used, &why), PROXY_BAD);
    CHECK_INT(proxy_parse("", 0, &h, &used, &why), PROXY_MORE);
#undef BAD1
}

static void test_v2_fields(void)
{
    hdr_t x;
    proxy_header_t h;
    size_t used;
    const char *why;

    v2(&x, 0x21, 0x11, tcp4_block, sizeof tcp4_block);
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
    CHECK_INT(used, 28);
    CHECK_INT(h.version, 2);
    CHECK(!h.local && !h.ssl);
    CHECK_STR(h.src_addr, "192.0.2.1");
    CHECK_STR(h.dst_addr, "198.51.100.7");
    CHECK_INT(h.src_port, 50000);
    CHECK_INT(h.dst_port, 8080);
    check_prefixes_more(x.b, x.n);

    uint8_t b6[36] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1, [31] = 1, [32] = 0x12, 0x34, 0x00, 0x50};
    v2(&x, 0x21, 0x21, b6, sizeof b6);
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
    CHECK_STR(h.src_addr, "2001:db8::1");
    CHECK_STR(h.dst_addr, "::1");
    CHECK_INT(h.src_port, 0x1234);
    CHECK_INT(h.dst_port, 80);
    check_prefixes_more(x.b, x.n);

    /* LOCAL: whatever follows is skipped, the socket's addresses stay. */
    v2(&x, 0x20, 0x00, NULL, 0);
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
    CHECK(h.local);
    CHECK_INT(used, 16);
    check_prefixes_more(x.b, x.n);
    uint8_t junk[7] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    v2(&x, 0x20, 0x77, junk, sizeof junk); /* even an unknown family and broken TLVs */
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
    CHECK(h.local);
    CHECK_INT(used, 23);
    v2(&x, 0x20, 0x12, NULL, 0); /* a datagram family is harmless for LOCAL */
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);

    /* PROXY with UNSPEC or a UNIX socket: no IP client; keep the socket's addresses. */
    v2(&x, 0x21, 0x00, NULL, 0);
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
    CHECK(h.local);
    uint8_t unix_block[216] = {'/', 't', 'm', 'p'};
    v2(&x, 0x21, 0x31, unix_block, sizeof unix_block);
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
    CHECK(h.local);
    CHECK_INT(used, 232);

    /* An address block longer than the family's: the rest is TLVs (here a NOOP). */
    uint8_t longer[12 + 3] = {0};
    memcpy(longer, tcp4_block, 12);
    longer[12] = 0x04;
    v2(&x, 0x21, 0x11, longer, sizeof longer);
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
    CHECK_INT(used, 31);
}

/* TCP4 with the given TLV bytes after the address block. */
static void v2_tlvs(hdr_t *x, const uint8_t *tlvs, size_t n)
{
    uint8_t body[512];
    memcpy(body, tcp4_block, 12);
    memcpy(body + 12, tlvs, n);
    v2(x, 0x21, 0x11, body, 12 + n);
}

/* CRC-32C of a buffer, bit by bit, independently of the parser's loop. */
static uint32_t ref_crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = ~0u;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static void test_v2_tlvs(void)
{
    hdr_t x;
    proxy_header_t h;
    size_t used;
    const char *why;
    CHECK_INT(ref_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u); /* the check value */

    /* SSL with the client bit and sub-TLVs (version "TLSv1.3", CN), ALPN, AUTHORITY, NOOP,
     * UNIQUE_ID, NETNS and a custom type: all fine, ssl set. */
    const uint8_t tl[] = {
        0x20, 0x00, 0x13, 0x01, 0, 0, 0, 0,            /* SSL: client SSL, verify 0 */
        0x21, 0x00, 0x07, 'T', 'L', 'S', 'v', '1', '.', '3',
        0x22, 0x00, 0x01, 'x',
        0x01, 0x00, 0x02, 'h', '2',                      /* ALPN */
        0x02, 0x00, 0x03, 'a', '.', 'b',                 /* AUTHORITY */
        0x04, 0x00, 0x00,                                /* NOOP */
        0x05, 0x00, 0x01, 'u',                           /* UNIQUE_ID */
        0x30, 0x00, 0x02, 'n', 's',                      /* NETNS */
        0xE5, 0x00, 0x01, 0x00,                          /* custom */
        0x7A, 0x00, 0x00,                                /* unknown */
    };
    v2_tlvs(&x, tl, sizeof tl);
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
    CHECK(h.ssl);
    CHECK_INT(used, x.n);
    check_prefixes_more(x.b, x.n);

    /* SSL TLV without the client bit: not TLS. */
    const uint8_t plain[] = {0x20, 0x00, 0x05, 0x00, 0, 0, 0, 0};
    v2_tlvs(&x, plain, sizeof plain);
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
    CHECK(!h.ssl);

    /* CRC32C: right, then wrong. */
    uint8_t crc[] = {0x03, 0x00, 0x04, 0, 0, 0, 0};
    v2_tlvs(&x, crc, sizeof crc);
    uint32_t c = ref_crc32c(x.b, x.n);
    x.b[x.n - 4] = (uint8_t)(c >> 24);
    x.b[x.n - 3] = (uint8_t)(c >> 16);
    x.b[x.n - 2] = (uint8_t)(c >> 8);
    x.b[x.n - 1] = (uint8_t)c;
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
    check_prefixes_more(x.b, x.n);
    x.b[20] ^= 1; /* a changed address */
    check_bad(x.b, x.n, "CRC32C checksum does not match");

#define BAD2(bytes, want)                     \
    do {                                      \
        const uint8_t t_[] = bytes;           \
        v2_tlvs(&x, t_, sizeof t_);           \
        check_bad(x.b, x.n, want);            \
    } while (0)
#define B(...) {__VA_ARGS__}
    BAD2(B(0x03, 0x00, 0x03, 0, 0, 0), "CRC32C TLV that is not 4 bytes");
    BAD2(B(0x04, 0x00), "TLV cut short");
    BAD2(B(0x04), "TLV cut short");
    BAD2(B(0x04, 0x00, 0x02, 0x00), "TLV longer than the header");
    BAD2(B(0x20, 0x00, 0x04, 0x01, 0, 0, 0), "SSL TLV shorter");
    BAD2(B(0x20, 0x00, 0x07, 0x01, 0, 0, 0, 0, 0x21, 0x00), "sub-TLVs do not fit");
    BAD2(B(0x20, 0x00, 0x08, 0x01, 0, 0, 0, 0, 0x21, 0x00, 0x01), "sub-TLVs do not fit");
#undef B
#undef BAD2
    uint8_t uid[3 + 129] = {0x05, 0x00, 129};
    v2_tlvs(&x, uid, sizeof uid);
    check_bad(x.b, x.n, "UNIQUE_ID TLV over 128 bytes");
    uid[2] = 128;
    v2_tlvs(&x, uid, sizeof uid - 1);
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_DONE);
}

static void test_v2_bad(void)
{
    hdr_t x;
    proxy_header_t h;
    size_t used;
    const char *why;
    /* Every byte of the signature matters. */
    for (size_t i = 0; i < 12; i++) {
        v2(&x, 0x21, 0x11, tcp4_block, sizeof tcp4_block);
        x.b[i] ^= 0x40;
        check_bad(x.b, x.n, "not a PROXY protocol header");
        CHECK_INT(proxy_parse(x.b, i + 1, &h, &used, &why), PROXY_BAD); /* at once */
    }
    v2(&x, 0x11, 0x11, tcp4_block, sizeof tcp4_block);
    check_bad(x.b, x.n, "version other than 2");
    CHECK_INT(proxy_parse(x.b, 13, &h, &used, &why), PROXY_BAD);
    v2(&x, 0x31, 0x11, tcp4_block, sizeof tcp4_block);
    check_bad(x.b, x.n, "version other than 2");
    v2(&x, 0x22, 0x11, tcp4_block, sizeof tcp4_block);
    check_bad(x.b, x.n, "command other than LOCAL or PROXY");
    v2(&x, 0x2F, 0x11, tcp4_block, sizeof tcp4_block);
    check_bad(x.b, x.n, "command other than LOCAL or PROXY");
    v2(&x, 0x21, 0x12, tcp4_block, sizeof tcp4_block);
    check_bad(x.b, x.n, "datagram family");
    v2(&x, 0x21, 0x22, tcp4_block, sizeof tcp4_block);
    check_bad(x.b, x.n, "datagram family");
    v2(&x, 0x21, 0x32, tcp4_block, sizeof tcp4_block);
    check_bad(x.b, x.n, "datagram family");
    uint8_t fams[] = {0x01, 0x10, 0x13, 0x41, 0xFF};
    for (size_t i = 0; i < sizeof fams; i++) {
        v2(&x, 0x21, fams[i], tcp4_block, sizeof tcp4_block);
        check_bad(x.b, x.n, "unknown address family");
        CHECK_INT(proxy_parse(x.b, 14, &h, &used, &why), PROXY_BAD);
    }
    /* Lengths too short for the family, refused as soon as the length is in. */
    v2(&x, 0x21, 0x11, tcp4_block, 11);
    check_bad(x.b, x.n, "too short for the address family");
    CHECK_INT(proxy_parse(x.b, 16, &h, &used, &why), PROXY_BAD);
    uint8_t b36[36] = {0};
    v2(&x, 0x21, 0x21, b36, 35);
    check_bad(x.b, x.n, "too short for the address family");
    v2(&x, 0x21, 0x21, b36, 12); /* a TCP4-sized block under TCP6 */
    check_bad(x.b, x.n, "too short for the address family");
    uint8_t b216[216] = {0};
    v2(&x, 0x21, 0x31, b216, 215);
    check_bad(x.b, x.n, "too short for the address family");
    /* A length that announces more than arrives: MORE until the bytes come, however many. */
    v2(&x, 0x21, 0x11, tcp4_block, sizeof tcp4_block);
    x.b[14] = 0xFF;
    x.b[15] = 0xFF;
    CHECK_INT(proxy_parse(x.b, x.n, &h, &used, &why), PROXY_MORE);
    uint8_t *huge = calloc(1, 16 + 65535);
    memcpy(huge, x.b, 28);
    huge[28] = 0x04; /* one NOOP TLV filling the rest */
    huge[29] = (uint8_t)((65535 - 15) >> 8);
    huge[30] = (uint8_t)(65535 - 15);
    CHECK_INT(proxy_parse(huge, 16 + 65535, &h, &used, &why), PROXY_DONE);
    CHECK_INT(used, 16 + 65535);
    free(huge);
}

int main(void)
{
    test_v1_fields();
    test_v1_bad();
    test_v2_fields();
    test_v2_tlvs();
    test_v2_bad();
    return check_report("test_proxyproto");
}
