/* Address ranges written as CIDR ("127.0.0.0/8", "::1/128", "10.1.2.3" = one host) and the test
 * whether an address is inside one: the one parser of --trust-proxy and --status-allow.
 *
 * IPv4 ranges and addresses are kept as IPv4-mapped IPv6 (::ffff:a.b.c.d), so an IPv4 client
 * reaching an IPv6 listener matches its IPv4 range. An IPv6 range (not written as IPv4 or as
 * ::ffff:a.b.c.d/96 or longer) never holds an IPv4 address: "::/0" is every IPv6 peer, and
 * "0.0.0.0/0" every IPv4 one. Plain values: no allocation, no state. */
#ifndef ISAPID_CIDR_H
#define ISAPID_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

typedef struct cidr {
    struct in6_addr addr; /* the network address: the bits past the prefix are zero */
    unsigned prefix;      /* 0-128, counted on the IPv6 form (an IPv4 /8 is 104); an
                           * IPv4-mapped addr has a prefix of at least 96 */
} cidr_t;

/* "ADDRESS/PREFIX" or "ADDRESS" (one host), IPv4 or IPv6, numeric, no brackets; the prefix is
 * decimal without leading zeros, the address the network address (no bits set past the
 * prefix). NULL on success (out filled), else why the text is not a range, for an error
 * message (out untouched). */
const char *cidr_parse(const char *text, cidr_t *out);
/* A numeric IPv4 or IPv6 address (no brackets, no port) into its IPv6 form; false when text is
 * not one. */
bool cidr_addr_parse(const char *text, struct in6_addr *out);
/* The canonical text of addr, an IPv4-mapped one as IPv4 (as connections show their peers);
 * size at least INET6_ADDRSTRLEN. */
void cidr_addr_text(const struct in6_addr *addr, char *out, size_t size);
bool cidr_contains(const cidr_t *range, const struct in6_addr *addr);
/* 127.0.0.0/8 or ::1. */
bool cidr_is_loopback(const struct in6_addr *addr);

#endif
