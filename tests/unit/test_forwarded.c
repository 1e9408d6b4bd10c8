/* Trusted proxies and X-Forwarded-For / X-Forwarded-Proto (src/http/forwarded.c); the ranges'
 * parser is tested in test_cidr.c. */
#include <arpa/inet.h>
#include <string.h>

#include "check.h"
#include "forwarded.h"

static void test_trusted(void)
{
    cidr_t rs[3];
    CHECK(cidr_parse("10.0.0.0/8", &rs[0]) == NULL);
    CHECK(cidr_parse("192.168.1.128/25", &rs[1]) == NULL);
    CHECK(cidr_parse("2001:db8::/32", &rs[2]) == NULL);
    CHECK(forwarded_trusted(rs, 3, "10.255.255.255"));
    CHECK(!forwarded_trusted(rs, 3, "11.0.0.0"));
    CHECK(forwarded_trusted(rs, 3, "192.168.1.128"));
    CHECK(forwarded_trusted(rs, 3, "192.168.1.255"));
    CHECK(!forwarded_trusted(rs, 3, "192.168.1.127"));
    CHECK(forwarded_trusted(rs, 3, "2001:db8:ffff::1"));
    CHECK(!forwarded_trusted(rs, 3, "2001:db9::1"));
    CHECK(forwarded_trusted(rs, 3, "::ffff:10.1.2.3")); /* mapped: as IPv4 */
    CHECK(!forwarded_trusted(rs, 0, "10.0.0.1"));
    CHECK(!forwarded_trusted(rs, 3, ""));
    CHECK(!forwarded_trusted(rs, 3, "junk"));
    CHECK(!forwarded_trusted(rs, 3, "[2001:db8::1]")); /* a peer's text has no brackets */
    cidr_t everything_v6;
    CHECK(cidr_parse("::/0", &everything_v6) == NULL);
    CHECK(forwarded_trusted(&everything_v6, 1, "2001:db9::1"));
    CHECK(!forwarded_trusted(&everything_v6, 1, "10.0.0.1")); /* an IPv6 range: no IPv4 peer */
}

/* A request view with the given headers. */
typedef struct view {
    http_header_t h[8];
    reqinfo_t ri;
} view_t;

static void view_init(view_t *v, const char *const *pairs, size_t n)
{
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v->h[i].name = pairs[2 * i];
        v->h[i].name_len = (uint32_t)strlen(pairs[2 * i]);
        v->h[i].value = pairs[2 * i + 1];
        v->h[i].value_len = (uint32_t)strlen(pairs[2 * i + 1]);
    }
    v->ri.headers = v->h;
    v->ri.n_headers = n;
}

static void test_resolve(void)
{
    cidr_t rs[2];
    CHECK(cidr_parse("127.0.0.0/8", &rs[0]) == NULL);
    CHECK(cidr_parse("10.0.0.0/8", &rs[1]) == NULL);
    view_t v;
    forwarded_client_t fc;
    const char *why;

    /* The right-most untrusted entry, across header lines; a port taken with it. */
    const char *a[] = {"X-Forwarded-For", "6.6.6.6, 1.1.1.1", "Host", "x",
                       "x-forwarded-for", "203.0.113.5:777 , 10.1.1.1"};
    view_init(&v, a, 3);
    CHECK(forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 4000, &fc, &why));
    CHECK_STR(fc.addr, "203.0.113.5");
    CHECK_INT(fc.port, 777);
    CHECK_INT(fc.https, -1);
    CHECK(why == NULL);

    /* An untrusted peer: ignored. */
    CHECK(!forwarded_resolve(&v.ri, rs, 2, "192.0.2.1", 4000, &fc, &why));
    CHECK(why == NULL);

    /* Every entry trusted: the left-most. */
    const char *b[] = {"X-Forwarded-For", "10.0.0.3,10.0.0.2"};
    view_init(&v, b, 1);
    CHECK(forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 1, &fc, &why));
    CHECK_STR(fc.addr, "10.0.0.3");
    CHECK_INT(fc.port, 0);

    /* IPv6 forms, with and without brackets and ports; canonical text; empty elements. */
    const char *c[] = {"X-Forwarded-For", "[2001:DB8::1]:8443"};
    view_init(&v, c, 1);
    CHECK(forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 1, &fc, &why));
    CHECK_STR(fc.addr, "2001:db8::1");
    CHECK_INT(fc.port, 8443);
    const char *d[] = {"X-Forwarded-For", "2001:db8::2, ,"};
    view_init(&v, d, 1);
    CHECK(forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 1, &fc, &why));
    CHECK_STR(fc.addr, "2001:db8::2");
    const char *e[] = {"X-Forwarded-For", "[::ffff:192.0.2.7]"};
    view_init(&v, e, 1);
    CHECK(forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 1, &fc, &why));
    CHECK_STR(fc.addr, "192.0.2.7");

    /* A malformed entry stops the walk: what lies to its right is used, and why is said. */
    const char *f[] = {"X-Forwarded-For", "1.2.3.4, unknown, 10.0.0.9"};
    view_init(&v, f, 1);
    CHECK(forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 1, &fc, &why));
    CHECK_STR(fc.addr, "10.0.0.9");
    CHECK(why && strstr(why, "not an address"));
    const char *g[] = {"X-Forwarded-For", "1.2.3.4:99999"};
    view_init(&v, g, 1);
    CHECK(!forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 5, &fc, &why));
    CHECK(why != NULL);
    const char *bad_entries[] = {"[::1", "[::1]x", "1.2.3.4:", "1.2.3.4:a", "300.1.1.1",
                                 "a very long entry that is no address at all, really not"};
    for (size_t i = 0; i < sizeof bad_entries / sizeof bad_entries[0]; i++) {
        const char *h[] = {"X-Forwarded-For", bad_entries[i]};
        view_init(&v, h, 1);
        CHECK(!forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 5, &fc, &why));
        CHECK(why != NULL);
    }

    /* X-Forwarded-Proto: the right-most entry of the last header line. */
    const char *p[] = {"X-Forwarded-Proto", "http", "X-Forwarded-Proto", "http, HTTPS "};
    view_init(&v, p, 2);
    CHECK(forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 9, &fc, &why));
    CHECK_INT(fc.https, 1);
    CHECK_STR(fc.addr, "127.0.0.1"); /* no X-Forwarded-For: the peer stays */
    CHECK_INT(fc.port, 9);
    const char *q[] = {"X-Forwarded-Proto", "https,http"};
    view_init(&v, q, 1);
    CHECK(forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 9, &fc, &why));
    CHECK_INT(fc.https, 0);
    const char *r[] = {"X-Forwarded-Proto", "gopher"};
    view_init(&v, r, 1);
    CHECK(!forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 9, &fc, &why));
    CHECK(why && strstr(why, "X-Forwarded-Proto"));
    CHECK(!forwarded_resolve(&v.ri, rs, 2, "192.0.2.1", 9, &fc, &why)); /* untrusted */

    /* No headers at all from a trusted peer: nothing to change. */
    view_init(&v, NULL, 0);
    CHECK(!forwarded_resolve(&v.ri, rs, 2, "127.0.0.1", 9, &fc, &why));
    CHECK(why == NULL);
}

int main(void)
{
    test_trusted();
    test_resolve();
    return check_report("test_forwarded");
}
