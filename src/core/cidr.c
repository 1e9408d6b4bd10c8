#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cidr_addr_parse(const char *text, struct in6_addr *out)
{
    char buf[INET6_ADDRSTRLEN + 2];
    size_t len = strlen(text);
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    struct in_addr v4;
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        memset(out, 0, sizeof *out);
        out->s6_addr[10] = out->s6_addr[11] = 0xff;
        memcpy(&out->s6_addr[12], &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, buf, out) == 1;
}

static void mask_to_prefix(struct in6_addr *a, unsigned prefix)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
        if (bits < 8)
            a->s6_addr[i] &= (uint8_t)(0xff00u >> bits);
    }
}

const char *cidr_parse(const char *text, cidr_t *out)
{
    char addr[INET6_ADDRSTRLEN + 2];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    if (len == 0 || len >= sizeof addr)
        return "expected ADDRESS or ADDRESS/PREFIX (e.g. 10.0.0.0/8, ::1/128)";
    memcpy(addr, text, len);
    addr[len] = '\0';
    if (!cidr_addr_parse(addr, &out->addr))
        return "not a numeric IPv4 or IPv6 address";
    bool v4 = IN6_IS_ADDR_V4MAPPED(&out->addr) && !strchr(addr, ':');
    unsigned max = v4 ? 32 : 128;
    unsigned prefix = max;
    if (slash) {
        char *end;
        const char *digits = slash + 1;
        unsigned long n = strtoul(digits, &end, 10);
        if (*digits < '0' || *digits > '9' || *end || n > max)
            return v4 ? "the prefix length must be 0-32 for an IPv4 address"
                      : "the prefix length must be 0-128 for an IPv6 address";
        prefix = (unsigned)n;
    }
    out->prefix = v4 ? prefix + 96 : prefix;
    mask_to_prefix(&out->addr, out->prefix);
    return NULL;
}

bool cidr_contains(const cidr_t *range, const struct in6_addr *addr)
{
    struct in6_addr a = *addr;
    mask_to_prefix(&a, range->prefix);
    return memcmp(&a, &range->addr, sizeof a) == 0;
}

bool cidr_is_loopback(const struct in6_addr *addr)
{
    if (IN6_IS_ADDR_V4MAPPED(addr))
        return addr->s6_addr[12] == 127;
    return IN6_IS_ADDR_LOOPBACK(addr);
}
