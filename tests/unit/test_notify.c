/* systemd notifications through a socket this test binds as NOTIFY_SOCKET (what sd_notify
 * sends for READY, RELOADING, STOPPING), nothing at all without NOTIFY_SOCKET, and socket
 * activation's collection when no socket was passed. */
#define _GNU_SOURCE
#include "notify.h"
#include "check.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int receive(int fd, char *buf, size_t size)
{
    ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return (int)n;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[80]; /* a socket's path is short (sun_path) */
    int n = snprintf(dir, sizeof dir, "%s/isapid-notify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof dir)
        snprintf(dir, sizeof dir, "/tmp/isapid-notify-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0);
    char buf[512];

    unsetenv("NOTIFY_SOCKET");
    notify_ready(NULL); /* nowhere to send: nothing happens */

    setenv("NOTIFY_SOCKET", sun.sun_path, 1);
    notify_ready("serving");
    CHECK(receive(fd, buf, sizeof buf) > 0);
    CHECK_STR(buf, "READY=1\nSTATUS=serving");
    notify_reloading();
    CHECK(receive(fd, buf, sizeof buf) > 0);
    CHECK(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0 && strtoull(buf + 27, NULL, 10) > 0);
    notify_stopping();
    CHECK(receive(fd, buf, sizeof buf) > 0);
    CHECK_STR(buf, "STOPPING=1");
    CHECK(receive(fd, buf, sizeof buf) < 0); /* one datagram per state */

    /* No LISTEN_FDS: nothing passed, every address is bound as usual. */
    unsetenv("LISTEN_FDS");
    notify_listeners_t passed;
    CHECK_INT(notify_listeners_collect(&passed), 0);
    CHECK_INT(passed.n, 0);
    listen_addr_t want;
    CHECK_INT(config_parse_listen("127.0.0.1:8080", &want), 0);
    CHECK_INT(notify_listeners_take(&passed, &want), -1);
    CHECK_INT(notify_listeners_check_all_taken(&passed), 0);

    close(fd);
    unlink(sun.sun_path);
    rmdir(dir);
    return check_report("test_notify");
}
