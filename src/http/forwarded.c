/* Trusted proxies and X-Forwarded-For / X-Forwarded-Proto (src/http/forwarded.h). */
#include "forwarded.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httputil.h"

_Static_assert(FORWARDED_ADDR_TEXT >= INET6_ADDRSTRLEN, "a client's text fits cidr_addr_text");

static bool trusted_addr(const cidr_t *ranges, size_t n, const struct in6_addr *addr)
{
    for (size_t i = 0; i < n; i++)
        if (cidr_contains(&ranges[i], addr))
            return true;
    return false;
}

bool forwarded_trusted(const cidr_t *ranges, size_t n, const char *addr)
{
    struct in6_addr a;
    return cidr_addr_parse(addr, &a) && trusted_addr(ranges, n, &a);
}

/* One X-Forwarded-For entry [s, e), blanks trimmed: address and optional port. */
static bool parse_entry(const char *s, const char *e, struct in6_addr *addr, unsigned *port)
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
    return cidr_addr_parse(host, addr);
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* X-Forwarded-For from the right; returns false when nothing was taken. */
static bool resolve_for(const reqinfo_t *ri, const cidr_t *ranges, size_t n,
                        forwarded_client_t *out, const char **why)
{
    bool taken = false;
    for (size_t i = ri->n_headers; i-- > 0;) {
        const http_header_t *h = &ri->headers[i];
        if (!http_header_named(h, "x-forwarded-for", 15))
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
            struct in6_addr addr;
            unsigned port;
            if (!parse_entry(s, e, &addr, &port)) {
                *why = "an X-Forwarded-For entry that is not an address (the entries to its "
                       "right were used)";
                return taken;
            }
            cidr_addr_text(&addr, out->addr, sizeof out->addr);
            out->port = port;
            taken = true;
            if (!trusted_addr(ranges, n, &addr))
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
        if (!http_header_named(h, "x-forwarded-proto", 17))
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
        if (len == 5 && http_ascii_ncasecmp(s, "https", 5) == 0)
            return 1;
        if (len == 4 && http_ascii_ncasecmp(s, "http", 4) == 0)
            return 0;
        *why = "an X-Forwarded-Proto that is neither http nor https (ignored)";
        return -1;
    }
    return -1;
}

bool forwarded_resolve(const reqinfo_t *ri, const cidr_t *ranges, size_t n,
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
