/* systemd integration: see notify.h. */
#define _GNU_SOURCE
#include "notify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static void send_state(const char *state)
{
    static log_limiter_t failed = LOG_LIMITER_INIT;
    /* 0: keep NOTIFY_SOCKET, later states are sent through it too. */
    int rc = sd_notify(0, state);
    if (rc < 0)
        log_limited(&failed, LOG_WARN, "cannot notify systemd (%.40s): %s", state, strerror(-rc));
}

void notify_ready(const char *status)
{
    char state[512];
    snprintf(state, sizeof state, "READY=1%s%.400s", status ? "\nSTATUS=" : "",
             status ? status : "");
    send_state(state);
}

void notify_reloading(void)
{
    /* MONOTONIC_USEC: how systemd 253+ tells this reload from an earlier one. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char state[96];
    snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
    send_state(state);
}

void notify_stopping(void) { send_state("STOPPING=1"); }

/* "127.0.0.1:8080" / "[::1]:8080" for messages. */
static void addr_text(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, size, "%s:%u", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, size, "[%s]:%u", host, port);
    } else {
        snprintf(out, size, "(address family %d)", (int)ss->ss_family);
    }
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

int notify_listeners_collect(notify_listeners_t *l)
{
    memset(l, 0, sizeof *l);
    int n = sd_listen_fds(1); /* 1: unset LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES */
    if (n < 0) {
        log_error("socket activation: cannot take the sockets systemd passed: %s", strerror(-n));
        return -1;
    }
    if (n > CONFIG_MAX_LISTEN) {
        log_error("socket activation: systemd passed %d sockets; at most %d are supported", n,
                  CONFIG_MAX_LISTEN);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        socklen_t len = sizeof l->addr[i];
        bool tcp = sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0;
        if (!tcp || getsockname(fd, (struct sockaddr *)&l->addr[i], &len) < 0) {
            log_error("socket activation: descriptor %d is not a listening TCP socket (isapid "
                      "takes ListenStream= sockets on IP addresses only)", fd);
            for (int k = 0; k < n; k++)
                close(SD_LISTEN_FDS_START + k);
            l->n = 0;
            return -1;
        }
        l->fd[i] = fd;
    }
    l->n = (size_t)n;
    return 0;
}

int notify_listeners_take(notify_listeners_t *l, const listen_addr_t *want)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->taken[i] || !same_address(&l->addr[i], &want->addr))
            continue;
        int flags = fcntl(l->fd[i], F_GETFL);
        if (flags < 0 || fcntl(l->fd[i], F_SETFL, flags | O_NONBLOCK) < 0)
            continue;
        l->taken[i] = true;
        log_info("listening on %s: the socket systemd passed (descriptor %d)", want->text,
                 l->fd[i]);
        return l->fd[i];
    }
    return -1;
}

int notify_listeners_check_all_taken(notify_listeners_t *l)
{
    int rc = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->taken[i])
            continue;
        char text[80];
        addr_text(&l->addr[i], text, sizeof text);
        log_error("socket activation: systemd passed a socket on %s (descriptor %d) that no "
                  "--listen address names: add --listen %s, or remove it from the socket unit",
                  text, l->fd[i], text);
        close(l->fd[i]);
        rc = -1;
    }
    return rc;
}
