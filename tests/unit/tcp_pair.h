/* A connected TCP pair over the loopback for unit tests that look at TCP socket options
 * (TCP_NODELAY, TCP_CORK), which a socketpair does not have. The caller owns both descriptors
 * and closes them. */
#ifndef ISAPID_TEST_TCP_PAIR_H
#define ISAPID_TEST_TCP_PAIR_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

/* *sender is the accepted side, non-blocking; *receiver the connecting side, blocking. With
 * buf > 0 the receiver's SO_RCVBUF and the sender's SO_SNDBUF are set to it, so that a send
 * fills the socket soon; 0 leaves the kernel's sizes. False (nothing left open) without TCP. */
static inline bool tcp_pair(int *sender, int *receiver, int buf)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
        if (l >= 0)
            close(l);
        return false;
    }
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (buf > 0)
        setsockopt(c, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) {
        close(c);
        close(l);
        return false;
    }
    int s = accept(l, NULL, NULL);
    close(l);
    if (s < 0) {
        close(c);
        return false;
    }
    if (buf > 0)
        setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    fcntl(s, F_SETFL, O_NONBLOCK);
    *sender = s;
    *receiver = c;
    return true;
}

#endif
