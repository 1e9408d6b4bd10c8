/* The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a load
 * balancer sends at the start of a connection to name the client it accepted: a pure parser,
 * no socket, no allocation, no state between calls.
 *
 * A listener marked proxy-protocol (--listen ADDR:PORT,proxy-protocol) hands the first bytes of
 * every connection to proxy_parse before the HTTP parser sees any (src/http/conn.c); the bytes
 * after the header are the client's HTTP request.
 *
 * What is accepted:
 * - v1: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" (single spaces, numeric addresses of the named
 *   family, ports 0-65535 without leading zeros), or "PROXY UNKNOWN[ anything]\r\n"; at most
 *   107 bytes with the CRLF.
 * - v2: the 12-byte signature, version 2, command LOCAL or PROXY; for PROXY the families
 *   UNSPEC, TCP over IPv4 or IPv6, or a UNIX stream socket, with an address block at least as
 *   long as the family needs; then TLVs that fill the rest exactly. A CRC32C TLV must be 4 bytes
 *   and match; an SSL TLV must hold its 5 fixed bytes and well-formed sub-TLVs.
 * - LOCAL (a v2 health check), v1 UNKNOWN, v2 UNSPEC and UNIX: the connection keeps the
 *   socket's own addresses (proxy_header_t.local).
 * Anything else is refused with a reason, as soon as the bytes received prove it bad (a plain
 * "GET /" is refused on its first byte). */
#ifndef ISAPID_PROXYPROTO_H
#define ISAPID_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_V1_MAX 107u           /* the longest v1 line, CRLF included */
#define PROXY_V2_FIXED 16u          /* signature, version and command, family, length */
#define PROXY_ADDR_TEXT 48u         /* room for any IPv6 address as text */

typedef enum {
    PROXY_BAD = -1,  /* not a valid header: *why says what is wrong */
    PROXY_MORE = 0,  /* valid so far; more bytes needed */
    PROXY_DONE = 1,  /* a whole header: *used bytes */
} proxy_status_t;

/* What a complete header says. With local set, the addresses are empty and the ports 0: the
 * connection keeps the socket's own. */
typedef struct proxy_header {
    unsigned version;               /* 1 or 2 */
    bool local;
    char src_addr[PROXY_ADDR_TEXT]; /* the client: "192.0.2.1" or "2001:db8::1" */
    char dst_addr[PROXY_ADDR_TEXT]; /* the address the client connected to at the proxy */
    unsigned src_port, dst_port;
    bool ssl;                       /* v2 SSL TLV with PP2_CLIENT_SSL: the client used TLS, the
                                     * proxy terminated it */
} proxy_header_t;

/* Parse the header at the start of buf (len bytes received so far). PROXY_DONE fills *out and
 * *used; PROXY_BAD sets *why (a static string); PROXY_MORE touches neither. A caller whose
 * buffer is full while PROXY_MORE is still returned must refuse the header itself. */
proxy_status_t proxy_parse(const void *buf, size_t len, proxy_header_t *out, size_t *used,
                           const char **why);

#endif
