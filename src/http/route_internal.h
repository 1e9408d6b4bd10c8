/* Internals shared by the pieces of routing (route.c: the rules and the public entry points;
 * route_site.c: the per-thread resolution cache, the process-wide root descriptor and the
 * per-thread site; route_static.c: rule 4, static files). Private to those three files: nothing
 * else includes it. It declares no state: the caches, the root handle and the site stay static in
 * route_site.c, and are reached only through the functions below. */
#ifndef ISAPID_ROUTE_INTERNAL_H
#define ISAPID_ROUTE_INTERNAL_H

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "route.h"

typedef struct strbuf {
    char s[PATH_MAX];
} strbuf_t;

/* An allocation failed: report NOT_FOUND with every string NULL. */
static inline void route_oom(route_t *r)
{
    route_free(r);
}

/* path lies in canonical directory dir (or is dir). */
static inline bool is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The part of canonical path below canonical dir ("" or "/..."); path must be under dir. */
static inline const char *below(const char *path, const char *dir)
{
    return strcmp(dir, "/") == 0 ? path : path + strlen(dir);
}

/* ---- resolution cache (route_site.c) ---- */
typedef enum { CACHE_EXTENSION = 1, CACHE_STATIC = 2 } cache_tag_t;

bool route_cache_get(const config_t *cfg, cache_tag_t tag, unsigned gen, const char *url,
                     size_t url_len, time_t now, char *real, size_t real_size);
void route_cache_put(const config_t *cfg, cache_tag_t tag, unsigned gen, const char *url,
                     size_t url_len, time_t now, const char *real);
void route_cache_drop(const config_t *cfg, cache_tag_t tag, unsigned gen, const char *url,
                      size_t url_len, time_t now);

/* The root's handle: defined in route_site.c (see there). */
typedef struct root_handle root_handle_t;

/* ---- the site: the root and configured real paths, per thread ----
 * What every static or mapped request needs besides its own path: the root's handle (its
 * descriptor and canonical path), and the canonical paths of the script directories and --map
 * handlers (the files that are never sent as bytes). Built per thread, rebuilt after
 * ROUTE_CACHE_TTL seconds (a root or script directory re-pointed is seen within that time) or
 * when the configuration it was built from differs. Each rebuild takes a new generation
 * number; a cached static resolution records the generation it was checked against and is used
 * with no other, so its canonical path is always opened below the very root descriptor, and
 * judged against the very real paths, it was resolved with.
 *
 * Ownership: the thread's route_site_t owns its reference to the root handle and the two
 * arrays; a thread-exit destructor (pthread key) releases them, so pool threads that retire
 * leak nothing. */
typedef struct route_site {
    /* what it was built from; any difference means a rebuild */
    const config_t *cfg;
    const char *root;
    const script_dir_t *scripts;
    size_t n_scripts;
    const script_map_t *maps;
    size_t n_maps;
    time_t at;

    bool ok;                 /* built: root_h and the arrays are valid */
    unsigned gen;            /* of this build; never 0 once built */
    root_handle_t *root_h;   /* a reference */
    const char *root_real;   /* root_h->real */
    int root_fd;             /* root_h->fd */
    char **script_real;      /* [n_scripts]: realpath of each script dir; NULL where it has none */
    char **handler_real;     /* [n_maps]: realpath of each handler; NULL where it has none */
} route_site_t;

/* This thread's site for cfg, rebuilt when stale. NULL when the root has no real path (missing)
 * or memory ran out. */
const route_site_t *route_site_get(const config_t *cfg, time_t now);

/* Static files are opened read-only, never as a controlling terminal, never blocking (a FIFO
 * swapped in after the checks cannot stall the loop; O_NONBLOCK is moot for sendfile from a
 * regular file). Below the root descriptor, no symlink may be met anywhere on the way (the last
 * component included: ELOOP) and nothing may lead out of the root (EXDEV). */
#define STATIC_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
#define STATIC_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* Static files may be opened below the site's root descriptor (openat2 is available). */
bool route_site_openat2(const route_site_t *site);
/* rel: a path relative to the root (no leading '/'). */
int route_site_open_beneath(const route_site_t *site, const char *rel);

/* ---- rule 4: static files (route_static.c) ---- */
void route_static(const config_t *cfg, const route_site_t *site, const char *path, time_t now,
                  route_t *out);

#endif
