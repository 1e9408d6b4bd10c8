/* conn_sockaddr_text: the connection's address texts (REMOTE_ADDR, LOCAL_ADDR and the log's),
 * IPv4 formatted by the server itself; each must equal inet_ntop's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "conn_internal.h"

static void text_of_v4(const unsigned char b[4], unsigned short port, char *out, size_t n,
                       unsigned *got_port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    memcpy(&a->sin_addr, b, 4);
    conn_sockaddr_text(&ss, out, n, got_port);
}

static void test_v4_like_inet_ntop(void)
{
    /* Every byte value in every position, and the widths that change the text's length. */
    int mismatches = 0;
    for (unsigned v = 0; v < 256; v++) {
        for (int pos = 0; pos < 4; pos++) {
            unsigned char b[4] = {1, 22, 255, 9};
            b[pos] = (unsigned char)v;
            char got[64], want[INET_ADDRSTRLEN];
            unsigned port = 0;
            text_of_v4(b, 8080, got, sizeof got, &port);
            inet_ntop(AF_INET, b, want, sizeof want);
            if (strcmp(got, want) != 0 || port != 8080)
                mismatches++;
        }
    }
    CHECK_INT(mismatches, 0);
    char got[64];
    unsigned port;
    text_of_v4((const unsigned char[]){255, 255, 255, 255}, 65535, got, sizeof got, &port);
    CHECK_STR(got, "255.255.255.255");
    CHECK_INT(port, 65535);
    text_of_v4((const unsigned char[]){0, 0, 0, 0}, 0, got, sizeof got, &port);
    CHECK_STR(got, "0.0.0.0");
    /* A buffer too small for any address: inet_ntop's answer (empty), never an overflow. */
    char tiny[8];
    text_of_v4((const unsigned char[]){127, 0, 0, 1}, 80, tiny, sizeof tiny, &port);
    CHECK_STR(tiny, "");
}

static void test_v6(void)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(443);
    inet_pton(AF_INET6, "::ffff:192.168.10.200", &a->sin6_addr);
    char got[64];
    unsigned port = 0;
    conn_sockaddr_text(&ss, got, sizeof got, &port);
    CHECK_STR(got, "192.168.10.200");
    CHECK_INT(port, 443);
    inet_pton(AF_INET6, "2001:db8::1", &a->sin6_addr);
    conn_sockaddr_text(&ss, got, sizeof got, &port);
    CHECK_STR(got, "2001:db8::1");
}

int main(void)
{
    test_v4_like_inet_ntop();
    test_v6();
    return check_report("test_sockaddr_text");
}
