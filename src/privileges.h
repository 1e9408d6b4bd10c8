/* --user USER[:GROUP]: the process gives up root once the listeners are bound and the logs are
 * open, before any extension is loaded, so extension code never runs as root.
 *
 * Call privileges_drop once, from the thread that started the server, before extensions can
 * load (today main.c right after server_init; with worker processes, each worker as it starts).
 * It also warns when the server runs extensions as root without --user. */
#ifndef ISAPID_PRIVILEGES_H
#define ISAPID_PRIVILEGES_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

typedef struct privileges {
    uid_t uid;
    gid_t gid;
    char user[64];   /* the user's name, for initgroups and messages */
    char group[64];  /* the group's name, for messages */
} privileges_t;

/* Looks USER[:GROUP] up (names or numbers; without GROUP, the user's own group). 0, or -1 with
 * err saying which name does not exist. Used by --test-config too. */
int privileges_resolve(const char *spec, privileges_t *out, char *err, size_t err_size);

/* cfg->user NULL: nothing changes (a warning when running as root with extensions configured).
 * Else: supplementary groups (initgroups), then the group, then the user, and a check that
 * root cannot be regained. 0, or -1 after logging why (an unknown user, not started as root,
 * a failed call): the server must not go on. */
int privileges_drop(const config_t *cfg);

#endif
