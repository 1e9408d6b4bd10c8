/* Address ranges written as CIDR ("127.0.0.0/8", "::1/128", "10.1.2.3" = one host) and the test
 * whether an address is inside one. IPv4 ranges and addresses are kept as IPv4-mapped IPv6
 * (::ffff:a.b.c.d), so an IPv4 client reaching an IPv6 listener matches its IPv4 range.
 * Plain values: no allocation, no state. */
#ifndef ISAPID_CIDR_H
#define ISAPID_CIDR_H

#include <stdbool.h>
#include <netinet/in.h>

typedef struct cidr {
    struct in6_addr addr; /* the bits past the prefix are zero */
    unsigned prefix;      /* 0-128, counted on the IPv6 form */
} cidr_t;

/* NULL on success, else why the text is not a range (for an error message). */
const char *cidr_parse(const char *text, cidr_t *out);
/* A numeric address as text (IPv4 or IPv6, brackets allowed) into its IPv6 form; false when it
 * is not one. */
bool cidr_addr_parse(const char *text, struct in6_addr *out);
bool cidr_contains(const cidr_t *range, const struct in6_addr *addr);
/* 127.0.0.0/8 or ::1. */
bool cidr_is_loopback(const struct in6_addr *addr);

#endif
