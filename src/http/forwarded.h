/* The client behind a trusted proxy: the X-Forwarded-For / X-Forwarded-Proto headers of a
 * request from a peer inside a --trust-proxy range (cidr_t, src/core/cidr.h parses and matches
 * the ranges and addresses). Pure functions, no state.
 *
 * Only a peer inside a trusted range is believed. X-Forwarded-For is read from the right (its
 * header lines in order, their comma-separated entries): the right-most entry is the peer's own
 * client; while that one is itself trusted, the next one to the left is taken, and so on. The
 * client is the first entry that is not trusted (or the left-most, if all are). A client cannot
 * forge anything to the right of what the trusted proxies appended. An entry is an address,
 * optionally with a port: "192.0.2.1", "192.0.2.1:5000", "2001:db8::1", "[2001:db8::1]:5000".
 * Without a port the client's port is unknown (0). X-Forwarded-Proto: its right-most entry, the
 * one the nearest proxy wrote, "https" or "http" (any case). */
#ifndef ISAPID_FORWARDED_H
#define ISAPID_FORWARDED_H

#include <stdbool.h>
#include <stddef.h>

#include "cidr.h"
#include "reqinfo.h"

#define FORWARDED_ADDR_TEXT 48u

/* addr (text, as the connection keeps it) lies in one of the n ranges. */
bool forwarded_trusted(const cidr_t *ranges, size_t n, const char *addr);

typedef struct forwarded_client {
    char addr[FORWARDED_ADDR_TEXT]; /* the client, canonical text */
    unsigned port;                  /* 0: unknown */
    int https;                      /* from X-Forwarded-Proto: 1 https, 0 http, -1 not said */
} forwarded_client_t;

/* The client of a request from peer (trusted or not: an untrusted peer's headers are ignored).
 * Returns true when the headers changed something (out filled: addr and port start as the
 * peer's). *why is set when a header of a trusted peer was malformed (the part before it is
 * used): for the caller's log line; else NULL. */
bool forwarded_resolve(const reqinfo_t *ri, const cidr_t *ranges, size_t n,
                       const char *peer, unsigned peer_port, forwarded_client_t *out,
                       const char **why);

#endif
