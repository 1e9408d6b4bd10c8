#include "cidr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool addr_parse(const char *text, struct in6_addr *out, bool *written_as_ipv4)
{
    struct in_addr v4;
    *written_as_ipv4 = inet_pton(AF_INET, text, &v4) == 1;
    if (*written_as_ipv4) {
        memset(out, 0, sizeof *out);
        out->s6_addr[10] = out->s6_addr[11] = 0xff;
        memcpy(&out->s6_addr[12], &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, text, out) == 1;
}

bool cidr_addr_parse(const char *text, struct in6_addr *out)
{
    bool ipv4;
    return addr_parse(text, out, &ipv4);
}

void cidr_addr_text(const struct in6_addr *addr, char *out, size_t size)
{
    if (IN6_IS_ADDR_V4MAPPED(addr))
        inet_ntop(AF_INET, &addr->s6_addr[12], out, (socklen_t)size);
    else
        inet_ntop(AF_INET6, addr, out, (socklen_t)size);
}

static void mask_to_prefix(struct in6_addr *a, unsigned prefix)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
        if (bits < 8)
            a->s6_addr[i] &= (uint8_t)(0xff00u >> bits);
    }
}

/* Decimal, no sign, no leading zero (but "0"), at most max. */
static bool prefix_parse(const char *digits, unsigned max, unsigned *out)
{
    size_t n = strlen(digits);
    if (n == 0 || n > 3 || strspn(digits, "0123456789") != n || (digits[0] == '0' && n > 1))
        return false;
    *out = (unsigned)atoi(digits);
    return *out <= max;
}

const char *cidr_parse(const char *text, cidr_t *out)
{
    char host[INET6_ADDRSTRLEN];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    if (len == 0)
        return "expected ADDRESS/PREFIX or ADDRESS, e.g. 10.0.0.0/8, 127.0.0.1 or fd00::/8";
    struct in6_addr addr;
    bool ipv4 = false;
    if (len < sizeof host) {
        memcpy(host, text, len);
        host[len] = '\0';
    }
    if (len >= sizeof host || !addr_parse(host, &addr, &ipv4))
        return "not a numeric IPv4 or IPv6 address (host names are not resolved)";
    unsigned prefix = ipv4 ? 32 : 128;
    if (slash && !prefix_parse(slash + 1, prefix, &prefix))
        return ipv4 ? "the prefix length must be a number 0-32 for an IPv4 address"
                    : "the prefix length must be a number 0-128 for an IPv6 address";
    if (ipv4)
        prefix += 96;
    else if (IN6_IS_ADDR_V4MAPPED(&addr) && prefix < 96)
        return "an IPv4-mapped range must have a prefix of at least 96 bits";
    struct in6_addr network = addr;
    mask_to_prefix(&network, prefix);
    if (memcmp(&network, &addr, sizeof addr) != 0)
        return "the address has bits set past the prefix length (write the network address, "
               "e.g. 10.0.0.0/8)";
    out->addr = addr;
    out->prefix = prefix;
    return NULL;
}

bool cidr_contains(const cidr_t *range, const struct in6_addr *addr)
{
    /* Only an IPv4 range (prefix 96 or more, all mapped) holds an IPv4 address. */
    if (range->prefix < 96 && IN6_IS_ADDR_V4MAPPED(addr))
        return false;
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
