/* systemd integration, through libsystemd: readiness notification (sd_notify) and socket
 * activation (sd_listen_fds). Outside systemd (no NOTIFY_SOCKET, no LISTEN_FDS) every call
 * here does nothing.
 *
 * Notifications: READY=1 once the listeners accept (main.c, after server_start),
 * RELOADING=1 when a configuration reload begins (READY=1 again when it is done), STOPPING=1
 * when a stop begins. A failed notification is logged (rate-limited) and otherwise ignored:
 * serving matters more than telling systemd about it. */
#ifndef ISAPID_NOTIFY_H
#define ISAPID_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config.h"

/* status: a line for `systemctl status` (STATUS=), or NULL. */
void notify_ready(const char *status);
void notify_reloading(void);
void notify_stopping(void);

/* Listening sockets systemd passed (LISTEN_FDS, for this process: LISTEN_PID), each with the
 * address it is bound to. A --listen address whose socket was passed uses it instead of
 * binding; a passed socket that no --listen address names is an error (it would take
 * connections nobody serves). Lives on the stack of the listener set-up (server.c). */
typedef struct notify_listeners {
    int fd[CONFIG_MAX_LISTEN];
    struct sockaddr_storage addr[CONFIG_MAX_LISTEN];
    bool taken[CONFIG_MAX_LISTEN];
    size_t n;
} notify_listeners_t;

/* Collects the passed sockets and removes LISTEN_* from the environment (children must not
 * take them for theirs). 0, or -1 after logging why (a passed descriptor that is not a
 * listening TCP socket, more than CONFIG_MAX_LISTEN of them): the server must not start. */
int notify_listeners_collect(notify_listeners_t *l);
/* The passed socket bound to want's address (set non-blocking), now the caller's; -1 if none. */
int notify_listeners_take(notify_listeners_t *l, const listen_addr_t *want);
/* After every --listen address took its socket: -1 after logging each passed socket that none
 * named (they are closed), else 0. */
int notify_listeners_check_all_taken(notify_listeners_t *l);

#endif
