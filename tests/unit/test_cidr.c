/* Address ranges (src/core/cidr.c): the one parser of --trust-proxy and --status-allow, and the
 * containment test both use. */
#include <arpa/inet.h>
#include <string.h>

#include "check.h"
#include "cidr.h"

static bool in(const char *range, const char *addr)
{
    cidr_t r;
    struct in6_addr a;
    return cidr_parse(range, &r) == NULL && cidr_addr_parse(addr, &a) && cidr_contains(&r, &a);
}

static bool same_range(const char *a, const char *b)
{
    cidr_t ra, rb;
    return cidr_parse(a, &ra) == NULL && cidr_parse(b, &rb) == NULL &&
           memcmp(&ra.addr, &rb.addr, sizeof ra.addr) == 0 && ra.prefix == rb.prefix;
}

static void test_parse(void)
{
    cidr_t r;
    CHECK(cidr_parse("10.0.0.0/8", &r) == NULL);
    CHECK(IN6_IS_ADDR_V4MAPPED(&r.addr)); /* IPv4 is kept as IPv4-mapped IPv6 */
    CHECK_INT(r.prefix, 96 + 8);
    CHECK(cidr_parse("127.0.0.1", &r) == NULL);
    CHECK_INT(r.prefix, 96 + 32);
    CHECK(cidr_parse("fd00::/8", &r) == NULL);
    CHECK(!IN6_IS_ADDR_V4MAPPED(&r.addr));
    CHECK_INT(r.prefix, 8);
    CHECK(cidr_parse("::1", &r) == NULL);
    CHECK_INT(r.prefix, 128);
    CHECK(cidr_parse("0.0.0.0/0", &r) == NULL);
    CHECK_INT(r.prefix, 96);
    CHECK(cidr_parse("::/0", &r) == NULL);
    CHECK_INT(r.prefix, 0);
    CHECK(cidr_parse("::ffff:10.0.0.0/104", &r) == NULL);
    CHECK(IN6_IS_ADDR_V4MAPPED(&r.addr));
    CHECK_INT(r.prefix, 96 + 8);
    CHECK(same_range("::ffff:10.0.0.0/104", "10.0.0.0/8")); /* the IPv4 range it covers */
    CHECK(same_range("::ffff:0.0.0.0/96", "0.0.0.0/0"));

    const char *bad[] = {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.1/8",
                         "10.0.0.0/08", "10.0.0.0/x", "localhost", "10.0.0.0/8/8",
                         "::ffff:10.0.0.0/90", "1.2.3.4 ", "10.0.0.0/-1", "10.0.0.0/+8",
                         "10.0.0.0/ 8", "host.example", "192.168.1.7/24", "[::1]", "[::1]/128",
                         "[10.0.0.1]", "010.0.0.1", "::1/0128",
                         "0000:0000:0000:0000:0000:0000:0000:0000:0000/128"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cidr_t untouched = {.prefix = 7};
        const char *why = cidr_parse(bad[i], &untouched);
        CHECK(why != NULL);
        CHECK_INT(untouched.prefix, 7);
        if (!why)
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
    }

    /* The reasons the configuration's error messages give (test_config.c, test_status.py). */
    CHECK(strstr(cidr_parse("10.0.0.1/8", &r), "past the prefix"));
    CHECK(strstr(cidr_parse("192.168.1.7/24", &r), "past the prefix"));
    CHECK(strstr(cidr_parse("proxy.example", &r), "not a numeric"));
    CHECK(strstr(cidr_parse("300.0.0.1", &r), "not a numeric"));
    CHECK(strstr(cidr_parse("10.0.0.0/33", &r), "0-32"));
    CHECK(strstr(cidr_parse("10.0.0.0/08", &r), "0-32"));
    CHECK(strstr(cidr_parse("::1/129", &r), "0-128"));
    CHECK(strstr(cidr_parse("::ffff:10.0.0.0/90", &r), "at least 96"));
    CHECK(strstr(cidr_parse("", &r), "expected"));
}

static void test_contains(void)
{
    CHECK(in("127.0.0.0/8", "127.1.2.3"));
    CHECK(!in("127.0.0.0/8", "128.0.0.1"));
    CHECK(in("10.1.2.3", "10.1.2.3"));
    CHECK(!in("10.1.2.3", "10.1.2.4"));
    CHECK(in("0.0.0.0/0", "192.0.2.1"));
    CHECK(!in("0.0.0.0/0", "2001:db8::1"));
    CHECK(in("10.0.0.0/8", "::ffff:10.9.9.9")); /* an IPv4 client on an IPv6 socket */
    CHECK(in("::ffff:10.0.0.0/104", "10.9.9.9"));
    CHECK(in("2001:db8::/32", "2001:db8:1::5"));
    CHECK(!in("2001:db8::/32", "2001:db9::1"));
    CHECK(in("::1", "::1"));
    CHECK(!in("::1", "[::1]")); /* addresses are taken without brackets */
    CHECK(in("192.168.1.0/24", "192.168.1.200"));
    CHECK(!in("192.168.1.7/24", "192.168.1.200")); /* host bits set: not a range */
    CHECK(in("192.168.1.128/25", "192.168.1.255"));
    CHECK(!in("192.168.1.128/25", "192.168.1.127"));
    /* An IPv6 range holds no IPv4 address, even when its bits would cover ::ffff:0:0/96. */
    CHECK(in("::/0", "2001:db8::1"));
    CHECK(!in("::/0", "10.0.0.1"));
    CHECK(!in("::/0", "::ffff:10.0.0.1"));
    cidr_t r;
    CHECK(cidr_parse("::ffc0:0:0/90", &r) == NULL);
    CHECK(!in("::ffc0:0:0/90", "10.0.0.1"));
    CHECK(in("::ffc0:0:0/90", "::ffc0:0:1"));
}

static void test_addresses(void)
{
    struct in6_addr a;
    CHECK(cidr_addr_parse("127.0.0.2", &a) && cidr_is_loopback(&a));
    CHECK(cidr_addr_parse("::1", &a) && cidr_is_loopback(&a));
    CHECK(cidr_addr_parse("::ffff:127.0.0.1", &a) && cidr_is_loopback(&a));
    CHECK(cidr_addr_parse("10.0.0.1", &a) && !cidr_is_loopback(&a));
    CHECK(cidr_addr_parse("::2", &a) && !cidr_is_loopback(&a));
    CHECK(!cidr_addr_parse("nonsense", &a));
    CHECK(!cidr_addr_parse("", &a));
    CHECK(!cidr_addr_parse("[::1]", &a));
    CHECK(!cidr_addr_parse("1.2.3.4:80", &a));

    char text[INET6_ADDRSTRLEN];
    CHECK(cidr_addr_parse("::ffff:192.0.2.7", &a));
    cidr_addr_text(&a, text, sizeof text);
    CHECK_STR(text, "192.0.2.7"); /* an IPv4-mapped address is shown as IPv4 */
    CHECK(cidr_addr_parse("2001:DB8:0::1", &a));
    cidr_addr_text(&a, text, sizeof text);
    CHECK_STR(text, "2001:db8::1");
}

int main(void)
{
    test_parse();
    test_contains();
    test_addresses();
    return check_report("test_cidr");
}
