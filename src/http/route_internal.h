/* Internals shared by the pieces of routing (route.c: the rules and the public entry points;
 * route_site.c: the router object, its per-thread resolution cache and site, and the root
 * descriptor; route_static.c: rule 4, static files). Private to those three files, and to the
 * unit tests of routing. The router's state is defined here (struct router); the per-thread
 * state and the root handle stay opaque, defined in route_site.c and reached only through the
 * functions below. */
#ifndef ISAPID_ROUTE_INTERNAL_H
#define ISAPID_ROUTE_INTERNAL_H

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "route.h"

typedef struct strbuf {
    char s[PATH_MAX];
} strbuf_t;

/* Memory for the strings of the route being resolved: the caller's (route_resolve_in), taken at
 * most once since a route has one block of strings; buf NULL: the heap. */
typedef struct route_mem {
    char *buf;
    size_t cap;
} route_mem_t;

/* n bytes for out's strings: mem's when they fit (out then borrows them: borrowed, strings and
 * strings_size are set), else malloc's (the caller stores the block where route_free frees it:
 * `strings`, `file` or `location`). NULL when memory runs out. */
char *route_strings_alloc(route_t *out, route_mem_t *mem, size_t n);

/* An allocation failed: report NOT_FOUND with every string NULL. */
static inline void route_oom(route_t *r)
{
    route_free(r);
}

/* Absolute path lies under dir[0..n) (a directory or URL prefix, without trailing '/') on a
 * segment boundary, or is it: the one rule for "below" of canonical paths and script prefixes
 * alike. "/" holds every absolute path. */
static inline bool is_under_n(const char *path, const char *dir, size_t n)
{
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* path lies in canonical directory dir (or is dir). */
static inline bool is_under(const char *path, const char *dir)
{
    return is_under_n(path, dir, strlen(dir));
}

/* The part of canonical path below canonical dir ("" or "/..."); path must be under dir. */
static inline const char *below(const char *path, const char *dir)
{
    return strcmp(dir, "/") == 0 ? path : path + strlen(dir);
}

/* The root's handle: defined in route_site.c (see there). */
typedef struct root_handle root_handle_t;

/* What one thread keeps for one router (its resolution cache and its site): defined in
 * route_site.c. */
typedef struct router_thread router_thread_t;

/* openat2 and its RESOLVE_ flags (Linux 5.6): unknown until the first root handle probes it;
 * NO from the start with ROUTER_OPEN_BY_PATH. */
enum { OPENAT2_UNKNOWN = 0, OPENAT2_YES = 1, OPENAT2_NO = -1 };

/* The router (route.h). Ownership: the server creates it (router_new) and frees it
 * (router_free) once no thread uses it. Thread safety, field by field:
 * - cfg, thread_key: immutable after router_new. cfg itself is the configuration's owner's; the
 *   router only reads it.
 * - root_current: guarded by root_lock (which also serialises the creation of handles); the
 *   handle it points to is reference-counted, and its own fields never change.
 * - openat2_state (OPENAT2_*): atomic; moves once from UNKNOWN to YES or NO.
 * - script_refused: a rate limiter of atomics, any thread.
 * - each thread's router_thread_t (through thread_key): touched by that thread only, created at
 *   its first resolution, freed by a thread-exit destructor or by router_free, whichever comes
 *   first. threads lists them all, under threads_lock (a leaf: nothing is taken under it), so
 *   router_free frees the states of threads that outlive the router. A thread may exit at any
 *   time before router_free, or after it returned. */
struct router {
    const config_t *cfg;
    pthread_key_t thread_key;
    pthread_mutex_t root_lock;
    root_handle_t *root_current; /* one reference */
    pthread_mutex_t threads_lock;
    router_thread_t *threads;    /* every thread's state, linked through next/prev */
    atomic_int openat2_state;
    log_limiter_t script_refused; /* an extension's file leads out of its script directory */
};

/* This thread's state for rt, created at the first call; NULL when memory runs out. */
router_thread_t *router_thread(router_t *rt);

/* ---- resolution cache (route_site.c): the calling thread's, t = router_thread(rt) ---- */
typedef enum { CACHE_EMPTY = 0, CACHE_EXTENSION = 1, CACHE_STATIC = 2 } cache_tag_t;

/* The real path cached for url[0..url_len) (its length in *real_len; when it was resolved in
 * *at, unless at is NULL), or NULL: valid until the thread's next route_cache_put or
 * route_cache_drop. */
const char *route_cache_get(router_thread_t *t, cache_tag_t tag, unsigned gen, const char *url,
                            size_t url_len, time_t now, size_t *real_len, time_t *at);
void route_cache_put(router_thread_t *t, cache_tag_t tag, unsigned gen, const char *url,
                     size_t url_len, time_t now, const char *real);
void route_cache_drop(router_thread_t *t, cache_tag_t tag, unsigned gen, const char *url,
                      size_t url_len);

/* ---- whole extension routes (route_site.c): rule 1's results, the calling thread's ----
 * route_memo_get: out := the EXTENSION route_script made of path under cfg's arrays,
 * while the resolution it was built from (resolved at `at`) is fresh; its strings in mem or on
 * the heap (out of memory: NOT_FOUND). false when there is none. route_memo_put: remember r, a
 * route_script result whose extension's file was resolved at `at` (the strings are copied;
 * routes too big for an entry are not kept). */
bool route_memo_get(router_thread_t *t, const config_t *cfg, const char *path, time_t now,
                    route_mem_t *mem, route_t *out);
void route_memo_put(router_thread_t *t, const config_t *cfg, const char *path, time_t at,
                    const route_t *r);

/* ---- the site: the root and configured real paths, per thread ----
 * What every static or mapped request needs besides its own path: the root's handle (its
 * descriptor and canonical path), and the canonical paths of the script directories and --map
 * handlers (the files that are never sent as bytes). Built per thread, rebuilt after
 * ROUTE_CACHE_TTL seconds (a root or script directory re-pointed is seen within that time) or
 * when the configuration's root, script or map arrays differ from those it was built from. Each
 * rebuild takes a new generation number; a cached static resolution records the generation it
 * was checked against and is used with no other, so its canonical path is always opened below
 * the very root descriptor, and judged against the very real paths, it was resolved with.
 *
 * Ownership: the thread's route_site_t (in its router_thread_t) owns its reference to the root
 * handle and the two arrays; the thread-exit destructor of the router's key releases them, so
 * pool threads that retire leak nothing. */
/* The configuration arrays (of the router's cfg) a per-thread table was built or filled under:
 * the site's and the memo table's. Any difference from cfg's current ones means a rebuild. */
typedef struct route_cfg_snap {
    const char *root;
    const script_dir_t *scripts;
    size_t n_scripts;
    const script_map_t *maps;
    size_t n_maps;
} route_cfg_snap_t;

typedef struct route_site {
    route_cfg_snap_t from; /* what it was built from; n_scripts, n_maps size the arrays below */
    time_t at;

    bool ok;                 /* built: root_h and the arrays are valid */
    unsigned gen;            /* of this build; never 0 once built */
    root_handle_t *root_h;   /* a reference */
    const char *root_real;   /* root_h->real */
    int root_fd;             /* root_h->fd */
    char **script_real;      /* [n_scripts]: realpath of each script dir; NULL where it has none */
    char **handler_real;     /* [n_maps]: realpath of each handler; NULL where it has none */
} route_site_t;

/* This thread's site (t = router_thread(rt)), rebuilt when stale. NULL when the root has no real
 * path (missing) or memory ran out. */
const route_site_t *route_site_get(router_t *rt, router_thread_t *t, time_t now);

/* Static files are opened read-only, never as a controlling terminal, never blocking (a FIFO
 * swapped in after the checks cannot stall the loop; O_NONBLOCK is moot for sendfile from a
 * regular file). Below the root descriptor, no symlink may be met anywhere on the way (the last
 * component included: ELOOP) and nothing may lead out of the root (EXDEV). */
#define STATIC_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
#define STATIC_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* Static files may be opened below the site's root descriptor (openat2 is available). */
bool route_site_openat2(router_t *rt, const route_site_t *site);
/* rel: a path relative to the root (no leading '/'). */
int route_site_open_beneath(const route_site_t *site, const char *rel);

/* ---- rule 4: static files (route_static.c) ---- */
void route_static(router_t *rt, router_thread_t *t, const route_site_t *site, const char *path,
                  time_t now, route_mem_t *mem, route_t *out);

#endif
