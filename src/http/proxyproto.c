/* PROXY protocol v1 and v2 (src/http/proxyproto.h). Every length is checked against what was
 * received before a byte is read; nothing is written to *out before the header is whole. */
#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const uint8_t v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_signature[] = "PROXY ";

/* v2 commands, families and TLV types (proxy-protocol.txt §2.2). */
enum { CMD_LOCAL = 0x0, CMD_PROXY = 0x1 };
enum { FAM_UNSPEC = 0x00, FAM_TCP4 = 0x11, FAM_UDP4 = 0x12, FAM_TCP6 = 0x21, FAM_UDP6 = 0x22,
       FAM_UNIX_STREAM = 0x31, FAM_UNIX_DGRAM = 0x32 };
enum { TLV_CRC32C = 0x03, TLV_UNIQUE_ID = 0x05, TLV_SSL = 0x20 };
#define PP2_CLIENT_SSL 0x01u
#define UNIQUE_ID_MAX 128u

static proxy_status_t bad(const char **why, const char *reason)
{
    *why = reason;
    return PROXY_BAD;
}

/* ---- addresses as text ---- */

/* The same text conn.c makes of a socket address: an IPv4-mapped IPv6 address as IPv4. */
static void addr_text(int family, const uint8_t *bytes, char *out)
{
    if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)bytes))
        inet_ntop(AF_INET, bytes + 12, out, PROXY_ADDR_TEXT);
    else
        inet_ntop(family, bytes, out, PROXY_ADDR_TEXT);
}

/* ---- version 1 ---- */

/* A port: 1-5 digits, no leading zero (but "0"), at most 65535. */
static bool v1_port(const char *s, unsigned *port)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *port = v;
    return true;
}

static proxy_status_t parse_v1(const uint8_t *buf, size_t len, proxy_header_t *out, size_t *used,
                               const char **why)
{
    size_t sig = sizeof v1_signature - 1;
    if (memcmp(buf, v1_signature, len < sig ? len : sig) != 0)
        return bad(why, "not a PROXY protocol header (neither the v1 \"PROXY \" nor the v2 "
                        "signature)");
    size_t scan = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
    size_t lf = 0;
    for (size_t i = 0; i < scan && !lf; i++) {
        uint8_t ch = buf[i];
        if (ch == '\n')
            lf = i;
        else if (ch == '\r' && i + 1 < scan && buf[i + 1] != '\n')
            return bad(why, "v1: a CR not followed by LF");
        else if (ch != '\r' && (ch < 0x20 || ch > 0x7e))
            return bad(why, "v1: a control or non-ASCII byte in the line");
    }
    if (!lf)
        return len >= PROXY_V1_MAX ? bad(why, "v1: no CRLF within 107 bytes") : PROXY_MORE;
    if (buf[lf - 1] != '\r')
        return bad(why, "v1: the line ends with LF alone, not CRLF");

    char line[PROXY_V1_MAX];
    size_t n = lf - 1 - sig; /* between "PROXY " and CR */
    memcpy(line, buf + sig, n);
    line[n] = '\0';
    proxy_header_t h = {.version = 1};
    if (strncmp(line, "UNKNOWN", 7) == 0 && (line[7] == '\0' || line[7] == ' ')) {
        /* The rest of the line, if any, is to be ignored (§2.1). */
        h.local = true;
        *out = h;
        *used = lf + 1;
        return PROXY_DONE;
    }
    char *tok[6];
    size_t ntok = 0;
    for (char *p = line;;) {
        char *sp = strchr(p, ' ');
        if (ntok == 6)
            return bad(why, "v1: too many fields");
        tok[ntok++] = p;
        if (!sp)
            break;
        *sp = '\0';
        p = sp + 1;
    }
    int family;
    if (strcmp(tok[0], "TCP4") == 0)
        family = AF_INET;
    else if (strcmp(tok[0], "TCP6") == 0)
        family = AF_INET6;
    else
        return bad(why, "v1: the protocol is not TCP4, TCP6 or UNKNOWN");
    if (ntok != 5)
        return bad(why, "v1: expected PROXY TCP4|TCP6 SRC DST SPORT DPORT, single spaces");
    for (size_t i = 1; i < 5; i++)
        if (!*tok[i])
            return bad(why, "v1: an empty field (two spaces in a row)");
    uint8_t src[16], dst[16];
    if (inet_pton(family, tok[1], src) != 1 || inet_pton(family, tok[2], dst) != 1)
        return bad(why, family == AF_INET ? "v1: TCP4 with an address that is not IPv4"
                                          : "v1: TCP6 with an address that is not IPv6");
    if (!v1_port(tok[3], &h.src_port) || !v1_port(tok[4], &h.dst_port))
        return bad(why, "v1: a port that is not a number from 0 to 65535");
    addr_text(family, src, h.src_addr);
    addr_text(family, dst, h.dst_addr);
    *out = h;
    *used = lf + 1;
    return PROXY_DONE;
}

/* ---- version 2 ---- */

/* CRC-32C (Castagnoli, reflected 0x82F63B78) of the header with its checksum field read as zero. */
static uint32_t crc32c(const uint8_t *p, size_t n, size_t zero_at)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = i >= zero_at && i < zero_at + 4 ? 0 : p[i];
        crc ^= b;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Sub-TLVs of an SSL TLV: framing only. */
static bool tlvs_well_formed(const uint8_t *p, size_t n)
{
    while (n) {
        if (n < 3)
            return false;
        size_t l = (size_t)p[1] << 8 | p[2];
        if (l > n - 3)
            return false;
        p += 3 + l;
        n -= 3 + l;
    }
    return true;
}

/* The TLVs at hdr[at, total): each must fit; the known ones are checked. */
static proxy_status_t parse_tlvs(const uint8_t *hdr, size_t at, size_t total, proxy_header_t *h,
                                 const char **why)
{
    while (at < total) {
        if (total - at < 3)
            return bad(why, "v2: a TLV cut short (fewer than 3 bytes left)");
        uint8_t type = hdr[at];
        size_t l = (size_t)hdr[at + 1] << 8 | hdr[at + 2];
        const uint8_t *v = hdr + at + 3;
        if (l > total - at - 3)
            return bad(why, "v2: a TLV longer than the header");
        switch (type) {
        case TLV_CRC32C:
            if (l != 4)
                return bad(why, "v2: a CRC32C TLV that is not 4 bytes");
            if (crc32c(hdr, total, at + 3) != be32(v))
                return bad(why, "v2: the CRC32C checksum does not match");
            break;
        case TLV_UNIQUE_ID:
            if (l > UNIQUE_ID_MAX)
                return bad(why, "v2: a UNIQUE_ID TLV over 128 bytes");
            break;
        case TLV_SSL:
            if (l < 5)
                return bad(why, "v2: an SSL TLV shorter than its 5 fixed bytes");
            if (!tlvs_well_formed(v + 5, l - 5))
                return bad(why, "v2: an SSL TLV whose sub-TLVs do not fit it");
            h->ssl = (v[0] & PP2_CLIENT_SSL) != 0;
            break;
        default: /* ALPN, AUTHORITY, NOOP, NETNS, custom and unknown types: ignored (§2.2.7) */
            break;
        }
        at += 3 + l;
    }
    return PROXY_DONE;
}

static proxy_status_t parse_v2(const uint8_t *buf, size_t len, proxy_header_t *out, size_t *used,
                               const char **why)
{
    if (memcmp(buf, v2_signature, len < 12 ? len : 12) != 0)
        return bad(why, "not a PROXY protocol header (neither the v1 \"PROXY \" nor the v2 "
                        "signature)");
    if (len < 13)
        return PROXY_MORE;
    if (buf[12] >> 4 != 2)
        return bad(why, "v2: a version other than 2");
    unsigned cmd = buf[12] & 0x0F;
    if (cmd != CMD_LOCAL && cmd != CMD_PROXY)
        return bad(why, "v2: a command other than LOCAL or PROXY");
    if (len < 14)
        return PROXY_MORE;
    uint8_t fam = buf[13];
    size_t need; /* the address block's length for the family */
    switch (fam) {
    case FAM_UNSPEC: need = 0; break;
    case FAM_TCP4: need = 12; break;
    case FAM_TCP6: need = 36; break;
    case FAM_UNIX_STREAM: need = 216; break;
    case FAM_UDP4: case FAM_UDP6: case FAM_UNIX_DGRAM:
        if (cmd == CMD_PROXY)
            return bad(why, "v2: a datagram family on a stream connection");
        need = 0;
        break;
    default:
        if (cmd == CMD_PROXY)
            return bad(why, "v2: an unknown address family or transport");
        need = 0;
        break;
    }
    if (len < PROXY_V2_FIXED)
        return PROXY_MORE;
    size_t body = (size_t)buf[14] << 8 | buf[15];
    if (cmd == CMD_PROXY && body < need)
        return bad(why, "v2: the length is too short for the address family");
    size_t total = PROXY_V2_FIXED + body;
    if (len < total)
        return PROXY_MORE;

    proxy_header_t h = {.version = 2};
    if (cmd == CMD_LOCAL) {
        /* A health check of the proxy's own: the addresses and TLVs are to be ignored (§2.2). */
        h.local = true;
        *out = h;
        *used = total;
        return PROXY_DONE;
    }
    const uint8_t *a = buf + PROXY_V2_FIXED;
    if (fam == FAM_TCP4) {
        addr_text(AF_INET, a, h.src_addr);
        addr_text(AF_INET, a + 4, h.dst_addr);
        h.src_port = (unsigned)a[8] << 8 | a[9];
        h.dst_port = (unsigned)a[10] << 8 | a[11];
    } else if (fam == FAM_TCP6) {
        addr_text(AF_INET6, a, h.src_addr);
        addr_text(AF_INET6, a + 16, h.dst_addr);
        h.src_port = (unsigned)a[32] << 8 | a[33];
        h.dst_port = (unsigned)a[34] << 8 | a[35];
    } else {
        h.local = true; /* UNSPEC, or a UNIX socket: no IP address to name */
    }
    proxy_status_t st = parse_tlvs(buf, PROXY_V2_FIXED + need, total, &h, why);
    if (st != PROXY_DONE)
        return st;
    *out = h;
    *used = total;
    return PROXY_DONE;
}

proxy_status_t proxy_parse(const void *data, size_t len, proxy_header_t *out, size_t *used,
                           const char **why)
{
    const uint8_t *buf = data;
    if (len == 0)
        return PROXY_MORE;
    if (buf[0] == v2_signature[0])
        return parse_v2(buf, len, out, used, why);
    return parse_v1(buf, len, out, used, why);
}
