/* Dropping root: see privileges.h. The order matters: supplementary groups and the group are
 * changed while still root (both need CAP_SETGID), the user last. setuid from root changes the
 * real, effective and saved IDs together, and glibc applies it to every thread of the process;
 * the checks after it make sure no ID of root is left to go back to. */
#define _GNU_SOURCE
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Name lookups use a buffer this big at most (the NSS's suggestion, else 64 KiB). */
static size_t lookup_buffer_size(int which)
{
    long n = sysconf(which);
    return n > 0 && n < (1L << 20) ? (size_t)n : 65536;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int find_user(const char *name, privileges_t *out, char *err, size_t err_size)
{
    size_t size = lookup_buffer_size(_SC_GETPW_R_SIZE_MAX);
    char *buf = malloc(size);
    struct passwd pw, *found = NULL;
    int rc = buf ? getpwnam_r(name, &pw, buf, size, &found) : ENOMEM;
    if (!found && rc == 0 && all_digits(name))
        rc = getpwuid_r((uid_t)strtoul(name, NULL, 10), &pw, buf, size, &found);
    if (found) {
        out->uid = pw.pw_uid;
        out->gid = pw.pw_gid;
        snprintf(out->user, sizeof out->user, "%s", pw.pw_name);
    } else if (rc == 0) {
        snprintf(err, err_size, "no such user '%s'", name);
    } else {
        snprintf(err, err_size, "cannot look up user '%s': %s", name, strerror(rc));
    }
    free(buf);
    return found ? 0 : -1;
}

static int find_group(const char *name, privileges_t *out, char *err, size_t err_size)
{
    size_t size = lookup_buffer_size(_SC_GETGR_R_SIZE_MAX);
    char *buf = malloc(size);
    struct group gr, *found = NULL;
    int rc = buf ? getgrnam_r(name, &gr, buf, size, &found) : ENOMEM;
    if (!found && rc == 0 && all_digits(name))
        rc = getgrgid_r((gid_t)strtoul(name, NULL, 10), &gr, buf, size, &found);
    if (found) {
        out->gid = gr.gr_gid;
        snprintf(out->group, sizeof out->group, "%s", gr.gr_name);
    } else if (rc == 0) {
        snprintf(err, err_size, "no such group '%s'", name);
    } else {
        snprintf(err, err_size, "cannot look up group '%s': %s", name, strerror(rc));
    }
    free(buf);
    return found ? 0 : -1;
}

int privileges_resolve(const char *spec, privileges_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    char user[256];
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (len == 0 || len >= sizeof user) {
        snprintf(err, err_size, "'%s': expected USER or USER:GROUP", spec);
        return -1;
    }
    memcpy(user, spec, len);
    user[len] = '\0';
    if (find_user(user, out, err, err_size) < 0)
        return -1;
    if (colon)
        return find_group(colon + 1, out, err, err_size);
    snprintf(out->group, sizeof out->group, "%u", (unsigned)out->gid);
    return 0;
}

int privileges_drop(const config_t *cfg)
{
    if (!cfg->user) {
        if (geteuid() == 0 && (cfg->n_scripts || cfg->n_maps || cfg->n_filters))
            log_warn("running as root with extensions configured (or filters): their code runs "
                     "as root too (use --user USER[:GROUP] to drop to an unprivileged user)");
        return 0;
    }
    privileges_t p;
    char err[320];
    if (privileges_resolve(cfg->user, &p, err, sizeof err) < 0) {
        log_error("--user %s: %s", cfg->user, err);
        return -1;
    }
    if (geteuid() != 0) {
        if (geteuid() == p.uid && getegid() == p.gid)
            return 0; /* already that user: nothing to give up */
        log_error("--user %s: cannot switch users: not started as root (running as uid %u)",
                  cfg->user, (unsigned)geteuid());
        return -1;
    }
    if (initgroups(p.user, p.gid) < 0) {
        log_error("--user %s: initgroups: %s", cfg->user, strerror(errno));
        return -1;
    }
    if (setgid(p.gid) < 0) {
        log_error("--user %s: setgid(%u): %s", cfg->user, (unsigned)p.gid, strerror(errno));
        return -1;
    }
    if (setuid(p.uid) < 0) {
        log_error("--user %s: setuid(%u): %s", cfg->user, (unsigned)p.uid, strerror(errno));
        return -1;
    }
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    bool ids_ok = getresuid(&ru, &eu, &su) == 0 && getresgid(&rg, &eg, &sg) == 0 &&
                  ru == p.uid && eu == p.uid && su == p.uid && rg == p.gid && eg == p.gid &&
                  sg == p.gid;
    /* The proof: with an unprivileged user, going back must fail. */
    bool regained = p.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0);
    if (!ids_ok || regained) {
        log_error("--user %s: the switch did not hold (%s); refusing to go on", cfg->user,
                  regained ? "root could be regained" : "an ID of the old user is left");
        return -1;
    }
    log_info("running as user %s (uid %u), group %s (gid %u)", p.user, (unsigned)p.uid, p.group,
             (unsigned)p.gid);
    return 0;
}
