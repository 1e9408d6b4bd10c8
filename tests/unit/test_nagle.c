/* TCP_NODELAY set lazily (out_nagle_before_send, src/http/outchain.h): a socket's first send
 * call goes without it (nothing of the connection is unacknowledged yet); every later one has
 * it set first, whatever it is: a second chain, the second call of one chain (a file range
 * after its head, a tail after a file), the rest of a send the socket did not take whole, a
 * 100 Continue's plain send. Over TCP on the loopback; skipped (77) without it. */
#define _GNU_SOURCE
#include "outchain.h"
#include "check.h"
#include "tcp_pair.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int nodelay(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) < 0)
        return -1;
    return v != 0;
}

/* Two memory chains: the first leaves Nagle on, the second sets TCP_NODELAY before it goes. */
static void test_second_chain(int s)
{
    out_nagle_t ng = OUT_NAGLE_UNSENT;
    out_seg_t seg = {.mem = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", .len = 40, .fd = -1};
    out_chain_t ch;
    out_chain_init(&ch, &seg, 1);
    CHECK_INT(out_chain_send_nagle(s, &ch, &ng), 1);
    CHECK_INT(nodelay(s), 0);
    CHECK_INT(atomic_load(&ng), OUT_NAGLE_SENT);
    out_chain_init(&ch, &seg, 1);
    CHECK_INT(out_chain_send_nagle(s, &ch, &ng), 1);
    CHECK_INT(nodelay(s), 1);
    CHECK_INT(atomic_load(&ng), OUT_NAGLE_OFF);
    out_chain_init(&ch, &seg, 1); /* and it stays so */
    CHECK_INT(out_chain_send_nagle(s, &ch, &ng), 1);
    CHECK_INT(nodelay(s), 1);
}

/* One chain of a head and a file range: two calls (sendmsg, sendfile); the second has it. */
static void test_head_and_file(int s)
{
    const char *tmp = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/isapid-nagle-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    int fd = mkstemp(buf);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    unlink(buf);
    CHECK(write(fd, "0123456789", 10) == 10);
    out_nagle_t ng = OUT_NAGLE_UNSENT;
    out_seg_t segs[2] = {{.mem = "head", .len = 4, .fd = -1},
                         {.fd = fd, .off = 0, .len = 10, .payload = true}};
    out_chain_t ch;
    out_chain_init(&ch, segs, 2);
    CHECK_INT(out_chain_send_nagle(s, &ch, &ng), 1);
    CHECK_INT(nodelay(s), 1);
    close(fd);
}

/* A plain send (100 Continue) first, then a chain: the chain's call is the second. */
static void test_gate_then_chain(int s)
{
    out_nagle_t ng = OUT_NAGLE_UNSENT;
    out_nagle_before_send(s, &ng);
    CHECK(send(s, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL) == 25);
    CHECK_INT(nodelay(s), 0);
    out_seg_t seg = {.mem = "x", .len = 1, .fd = -1};
    out_chain_t ch;
    out_chain_init(&ch, &seg, 1);
    CHECK_INT(out_chain_send_nagle(s, &ch, &ng), 1);
    CHECK_INT(nodelay(s), 1);
}

/* A chain the socket does not take whole: the call that sends the rest has it set. */
static void test_partial(int s, int c)
{
    int small = 4096;
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    size_t len = 1 << 20;
    char *big = calloc(1, len);
    out_nagle_t ng = OUT_NAGLE_UNSENT;
    out_seg_t seg = {.mem = big, .len = len, .fd = -1};
    out_chain_t ch;
    out_chain_init(&ch, &seg, 1);
    int rc = out_chain_send_nagle(s, &ch, &ng);
    CHECK_INT(rc, 0); /* a megabyte does not fit a small send buffer */
    CHECK_INT(nodelay(s), 1); /* the sendmsg that found it full was the second call */
    fcntl(c, F_SETFL, O_NONBLOCK);
    char sink[65536];
    unsigned spins = 0;
    while (rc == 0 && spins++ < 1000000) {
        while (recv(c, sink, sizeof sink, 0) > 0) {
        }
        rc = out_chain_send_nagle(s, &ch, &ng);
    }
    CHECK_INT(rc, 1);
    free(big);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    int s, c;
    if (!tcp_pair(&s, &c, 0)) {
        fprintf(stderr, "test_nagle: no TCP on the loopback: skipped\n");
        return 77;
    }
    test_second_chain(s);
    close(s);
    close(c);
    CHECK(tcp_pair(&s, &c, 0));
    test_head_and_file(s);
    close(s);
    close(c);
    CHECK(tcp_pair(&s, &c, 0));
    test_gate_then_chain(s);
    close(s);
    close(c);
    CHECK(tcp_pair(&s, &c, 0));
    test_partial(s, c);
    close(s);
    close(c);
    return check_report("test_nagle");
}
