/* Trusted proxies and X-Forwarded-For / X-Forwarded-Proto (src/http/forwarded.h). */
#include "forwarded.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool name_is(const http_header_t *h, const char *name)
{
    size_t n = strlen(name);
    if (h->name_len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)h->name[i]) != (unsigned char)name[i])
            return false;
    return true;
}

/* Text to bytes; an IPv4-mapped IPv6 address becomes IPv4. */
static bool parse_addr(const char *text, int *family, uint8_t bytes[16])
{
    if (inet_pton(AF_INET, text, bytes) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, bytes) != 1)
        return false;
    if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)bytes)) {
        memmove(bytes, bytes + 12, 4);
        *family = AF_INET;
    } else {
        *family = AF_INET6;
    }
    return true;
}

const char *forwarded_parse_range(const char *text, net_range_t *out)
{
    char host[64];
    const char *slash = strchr(text, '/');
    size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
    if (hlen == 0 || hlen >= sizeof host)
        return "expected ADDR/BITS or ADDR, e.g. 10.0.0.0/8, 127.0.0.1 or fd00::/8";
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    net_range_t r = {0};
    bool mapped = false;
    if (inet_pton(AF_INET, host, r.addr) == 1) {
        r.family = AF_INET;
    } else if (inet_pton(AF_INET6, host, r.addr) == 1) {
        r.family = AF_INET6;
        mapped = IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)r.addr);
    } else {
        return "not a numeric IPv4 or IPv6 address (host names are not resolved)";
    }
    unsigned max = r.family == AF_INET ? 32 : 128;
    r.bits = max;
    if (slash) {
        const char *b = slash + 1;
        size_t n = strlen(b);
        if (n == 0 || n > 3 || strspn(b, "0123456789") != n || (b[0] == '0' && n > 1))
            return "the prefix length after '/' must be a number";
        r.bits = (unsigned)atoi(b);
        if (r.bits > max)
            return r.family == AF_INET ? "an IPv4 prefix length is at most 32"
                                       : "an IPv6 prefix length is at most 128";
    }
    for (unsigned i = r.bits; i < max; i++)
        if (r.addr[i / 8] & (0x80u >> (i % 8)))
            return "the address has bits set past the prefix length (write the network "
                   "address, e.g. 10.0.0.0/8)";
    if (mapped) {
        if (r.bits < 96)
            return "an IPv4-mapped range must have a prefix of at least 96 bits";
        memmove(r.addr, r.addr + 12, 4);
        memset(r.addr + 4, 0, 12);
        r.family = AF_INET;
        r.bits -= 96;
    }
    *out = r;
    return NULL;
}

static bool in_range(const net_range_t *r, int family, const uint8_t *a)
{
    if (r->family != family)
        return false;
    unsigned full = r->bits / 8, rest = r->bits % 8;
    if (memcmp(r->addr, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xFFu << (8 - rest));
    return (r->addr[full] & mask) == (a[full] & mask);
}

static bool trusted_bytes(const net_range_t *ranges, size_t n, int family, const uint8_t *a)
{
    for (size_t i = 0; i < n; i++)
        if (in_range(&ranges[i], family, a))
            return true;
    return false;
}

bool forwarded_trusted(const net_range_t *ranges, size_t n, const char *addr)
{
    int family;
    uint8_t a[16];
    return n && parse_addr(addr, &family, a) && trusted_bytes(ranges, n, family, a);
}

/* One X-Forwarded-For entry [s, e), blanks trimmed: address and optional port. */
static bool parse_entry(const char *s, const char *e, int *family, uint8_t a[16], unsigned *port)
{
    char buf[FORWARDED_ADDR_TEXT + 8];
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *host = buf, *port_text = NULL;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close)
            return false;
        *close = '\0';
        host = buf + 1;
        if (close[1] == ':')
            port_text = close + 2;
        else if (close[1] != '\0')
            return false;
    } else {
        char *colon = strchr(buf, ':');
        if (colon && !strchr(colon + 1, ':')) { /* one colon: IPv4:port */
            *colon = '\0';
            port_text = colon + 1;
        }
    }
    *port = 0;
    if (port_text) {
        size_t pn = strlen(port_text);
        if (pn == 0 || pn > 5 || strspn(port_text, "0123456789") != pn)
            return false;
        unsigned long v = strtoul(port_text, NULL, 10);
        if (v > 65535)
            return false;
        *port = (unsigned)v;
    }
    return parse_addr(host, family, a);
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* X-Forwarded-For from the right; returns false when nothing was taken. */
static bool resolve_for(const reqinfo_t *ri, const net_range_t *ranges, size_t n,
                        forwarded_client_t *out, const char **why)
{
    bool taken = false;
    for (size_t i = ri->n_headers; i-- > 0;) {
        const http_header_t *h = &ri->headers[i];
        if (!name_is(h, "x-forwarded-for"))
            continue;
        const char *v = h->value, *end = v + h->value_len;
        while (end > v) {
            const char *comma = end;
            while (comma > v && comma[-1] != ',')
                comma--;
            const char *s = comma, *e = end;
            end = comma > v ? comma - 1 : v;
            while (s < e && is_blank(*s))
                s++;
            while (e > s && is_blank(e[-1]))
                e--;
            if (s == e)
                continue; /* "a, , b": an empty element, as lists allow */
            int family;
            uint8_t a[16];
            unsigned port;
            if (!parse_entry(s, e, &family, a, &port)) {
                *why = "an X-Forwarded-For entry that is not an address (the entries to its "
                       "right were used)";
                return taken;
            }
            inet_ntop(family, a, out->addr, sizeof out->addr);
            out->port = port;
            taken = true;
            if (!trusted_bytes(ranges, n, family, a))
                return true;
        }
    }
    return taken;
}

/* X-Forwarded-Proto: the right-most entry of the last header. */
static int resolve_proto(const reqinfo_t *ri, const char **why)
{
    for (size_t i = ri->n_headers; i-- > 0;) {
        const http_header_t *h = &ri->headers[i];
        if (!name_is(h, "x-forwarded-proto"))
            continue;
        const char *v = h->value, *e = v + h->value_len;
        const char *s = e;
        while (s > v && s[-1] != ',')
            s--;
        while (s < e && is_blank(*s))
            s++;
        while (e > s && is_blank(e[-1]))
            e--;
        size_t len = (size_t)(e - s);
        if (len == 5 && strncasecmp(s, "https", 5) == 0)
            return 1;
        if (len == 4 && strncasecmp(s, "http", 4) == 0)
            return 0;
        *why = "an X-Forwarded-Proto that is neither http nor https (ignored)";
        return -1;
    }
    return -1;
}

bool forwarded_resolve(const reqinfo_t *ri, const net_range_t *ranges, size_t n,
                       const char *peer, unsigned peer_port, forwarded_client_t *out,
                       const char **why)
{
    *why = NULL;
    if (!forwarded_trusted(ranges, n, peer))
        return false;
    snprintf(out->addr, sizeof out->addr, "%s", peer);
    out->port = peer_port;
    bool for_taken = resolve_for(ri, ranges, n, out, why);
    const char *proto_why = NULL;
    out->https = resolve_proto(ri, &proto_why);
    if (!*why)
        *why = proto_why;
    return for_taken || out->https >= 0;
}
