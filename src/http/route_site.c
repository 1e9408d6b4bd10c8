/* Routing's memory (split from route.c): the router object (router_new, router_free), each
 * thread's resolution cache and site, and the router's root descriptor (reference-counted
 * handles, root_lock, the openat2 probe). The ownership and invariants of each are in the comment
 * above it, and the router's at struct router (route_internal.h). No state is static here:
 * everything is the router's, or a thread's for one router. */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "route_internal.h"

/* ---- resolution cache ----
 * Resolving an extension's file (stat + realpath: a readlink per path component) costs several
 * system calls per request; so does a static file reached through a symlink (realpath).
 * Results are kept per thread (in its router_thread_t) for ROUTE_CACHE_TTL seconds: a file
 * added, removed or re-pointed is seen within that time. Only successful lookups are cached.
 * Per thread, so loops and workers never contend. Entries are tagged by what they hold, so the
 * key spaces never mix: CACHE_EXTENSION maps an extension's URL to the real path of its .so;
 * CACHE_STATIC maps a static URL to the canonical path of its file relative to the root, and is
 * only valid with the site generation it was checked against (see route_site_t). Static URLs
 * are cached only when they needed realpath(): one that opens as it is written costs no more
 * than a cache hit, and leaving it out keeps the slots for the lookups that save system calls. */
#define ROUTE_CACHE_SLOTS 16
#define ROUTE_CACHE_TTL 1
#define ROUTE_CACHE_URL 200
#define ROUTE_CACHE_REAL 512

typedef struct route_cache_entry {
    cache_tag_t tag;     /* CACHE_EMPTY: an empty slot */
    unsigned gen;        /* CACHE_STATIC: the site generation; 0 for the others */
    time_t at;
    size_t url_len;      /* strlen(url) */
    size_t real_len;     /* strlen(real) */
    char url[ROUTE_CACHE_URL];
    char real[ROUTE_CACHE_REAL];
} route_cache_entry_t;

/* ---- whole extension routes ----
 * What rule 1 made of a whole URL path (route_script: the six strings of an EXTENSION), so that
 * the next request for the same path copies one block instead of matching the prefix, scanning
 * for the extension's name, looking its file up and laying the strings out again. An entry
 * lasts as long as the resolution of the extension's file it was built from (its `at`, the
 * CACHE_EXTENSION entry's): it can never outlive what the resolution cache would have answered.
 * Valid only for the configuration arrays it was built under (route_cfg_snap_t: a change of
 * the root, script dirs or maps empties the table); wildcard maps are matched before it is
 * consulted. Per thread, like the resolution cache; separate from it, so that many paths below
 * one extension (PATH_INFO) never push the extensions' resolutions out. */
#define ROUTE_MEMO_SLOTS 8

typedef struct route_memo_entry {
    time_t at;
    uint32_t size;                /* of block */
    uint16_t off[6];              /* handler, script_name, script_filename, path_info,
                                   * path_translated, appl_physical_path: offsets in block */
    char path[ROUTE_CACHE_URL];
    char block[ROUTE_CACHE_REAL];
} route_memo_entry_t;

/* One thread's state for one router, reached through the router's key (router_thread). Touched
 * by that thread only, but for the links (next, prev), which are the router's threads_lock's.
 * Freed at the thread's exit (thread_exit) or by router_free, whichever comes first. */
struct router_thread {
    router_t *rt;
    router_thread_t *next, *prev; /* rt->threads */
    route_cache_entry_t cache[ROUTE_CACHE_SLOTS];
    unsigned cache_next;
    route_cfg_snap_t memo_cfg; /* the arrays the memo table was filled under */
    size_t memo_len[ROUTE_MEMO_SLOTS]; /* memo[i]'s path length; 0: memo[i] is empty, and so
                                        * is every slot after it (filled in order, emptied all
                                        * at once). Apart from the entries: a miss reads this */
    route_memo_entry_t memo[ROUTE_MEMO_SLOTS];
    unsigned memo_next;
    route_site_t site;
    unsigned site_gen;   /* the last generation this thread's site took */
};

static bool fresh(time_t at, time_t now)
{
    return now - at < ROUTE_CACHE_TTL && now >= at;
}

/* The entry for (tag, gen, url), fresh or not; NULL for none. */
static route_cache_entry_t *route_cache_find(router_thread_t *t, cache_tag_t tag, unsigned gen,
                                             const char *url, size_t url_len)
{
    if (url_len >= ROUTE_CACHE_URL)
        return NULL;
    for (unsigned i = 0; i < ROUTE_CACHE_SLOTS; i++) {
        route_cache_entry_t *e = &t->cache[i];
        if (e->url_len == url_len && e->tag == tag && e->gen == gen &&
            memcmp(e->url, url, url_len) == 0)
            return e;
    }
    return NULL;
}

const char *route_cache_get(router_thread_t *t, cache_tag_t tag, unsigned gen, const char *url,
                            size_t url_len, time_t now, size_t *real_len, time_t *at)
{
    const route_cache_entry_t *e = route_cache_find(t, tag, gen, url, url_len);
    if (e == NULL || !fresh(e->at, now))
        return NULL;
    *real_len = e->real_len;
    if (at != NULL)
        *at = e->at;
    return e->real;
}

void route_cache_put(router_thread_t *t, cache_tag_t tag, unsigned gen, const char *url,
                     size_t url_len, time_t now, const char *real)
{
    size_t n = strlen(real);
    if (url_len >= ROUTE_CACHE_URL || n >= ROUTE_CACHE_REAL)
        return;
    /* A stale entry of the same key is renewed in its slot, so it is never found again in
     * another while its old slot still holds it. */
    route_cache_entry_t *e = route_cache_find(t, tag, gen, url, url_len);
    if (e == NULL)
        e = &t->cache[t->cache_next++ % ROUTE_CACHE_SLOTS];
    e->tag = tag;
    e->gen = gen;
    e->at = now;
    e->url_len = url_len;
    e->real_len = n;
    memcpy(e->url, url, url_len);
    e->url[url_len] = '\0';
    memcpy(e->real, real, n + 1);
}

void route_cache_drop(router_thread_t *t, cache_tag_t tag, unsigned gen, const char *url,
                      size_t url_len)
{
    route_cache_entry_t *e = route_cache_find(t, tag, gen, url, url_len);
    if (e != NULL)
        e->tag = CACHE_EMPTY;
}

static route_cfg_snap_t cfg_snap(const config_t *cfg)
{
    return (route_cfg_snap_t){cfg->root, cfg->scripts, cfg->n_scripts, cfg->maps, cfg->n_maps};
}

static bool cfg_snap_is(const route_cfg_snap_t *m, const config_t *cfg)
{
    return m->root == cfg->root && m->scripts == cfg->scripts && m->n_scripts == cfg->n_scripts &&
           m->maps == cfg->maps && m->n_maps == cfg->n_maps;
}

/* The memo table is for cfg's arrays: emptied when they are not the ones it was filled under. */
static void memo_for(router_thread_t *t, const config_t *cfg)
{
    if (cfg_snap_is(&t->memo_cfg, cfg))
        return;
    for (unsigned i = 0; i < ROUTE_MEMO_SLOTS; i++)
        t->memo_len[i] = 0;
    t->memo_next = 0;
    t->memo_cfg = cfg_snap(cfg);
}

/* The slot of path (path_len >= 1), or ROUTE_MEMO_SLOTS for none. */
static unsigned memo_find(const router_thread_t *t, const char *path, size_t path_len)
{
    for (unsigned i = 0; i < ROUTE_MEMO_SLOTS && t->memo_len[i] != 0; i++) {
        if (t->memo_len[i] == path_len && memcmp(t->memo[i].path, path, path_len) == 0)
            return i;
    }
    return ROUTE_MEMO_SLOTS;
}

bool route_memo_get(router_thread_t *t, const config_t *cfg, const char *path, time_t now,
                    route_mem_t *mem, route_t *out)
{
    if (t->memo_len[0] == 0)
        return false; /* empty: not even the path's length is needed */
    unsigned i = memo_find(t, path, strlen(path));
    if (i == ROUTE_MEMO_SLOTS)
        return false;
    memo_for(t, cfg);
    const route_memo_entry_t *e = &t->memo[i];
    if (t->memo_len[i] == 0 || !fresh(e->at, now)) /* emptied by memo_for, or stale */
        return false;
    char *p = route_strings_alloc(out, mem, e->size);
    if (p == NULL) {
        route_oom(out);
        return true;
    }
    memcpy(p, e->block, e->size);
    out->kind = ROUTE_EXTENSION;
    out->strings = p;
    out->strings_size = e->size;
    out->handler = p + e->off[0];
    out->script_name = p + e->off[1];
    out->script_filename = p + e->off[2];
    out->path_info = p + e->off[3];
    out->path_translated = p + e->off[4];
    out->appl_physical_path = p + e->off[5];
    return true;
}

void route_memo_put(router_thread_t *t, const config_t *cfg, const char *path, time_t at,
                    const route_t *r)
{
    size_t path_len = strlen(path);
    if (r->kind != ROUTE_EXTENSION || path_len >= ROUTE_CACHE_URL ||
        r->strings_size > ROUTE_CACHE_REAL)
        return;
    memo_for(t, cfg);
    unsigned i = memo_find(t, path, path_len);
    if (i == ROUTE_MEMO_SLOTS)
        i = t->memo_next++ % ROUTE_MEMO_SLOTS;
    route_memo_entry_t *e = &t->memo[i];
    const char *const strs[6] = {r->handler,   r->script_name,     r->script_filename,
                                 r->path_info, r->path_translated, r->appl_physical_path};
    for (int k = 0; k < 6; k++)
        e->off[k] = (uint16_t)(strs[k] - r->strings);
    t->memo_len[i] = path_len;
    e->at = at;
    e->size = r->strings_size;
    memcpy(e->path, path, path_len);
    memcpy(e->block, r->strings, r->strings_size);
}

/* ---- the root: one descriptor for the router ----
 * Static files are opened below a descriptor of the root (rule 4). One descriptor serves every
 * thread, so the process holds one more descriptor than before, from start-up (router_new), not
 * one per thread that ever served a file. The root may be re-pointed (a symlink swapped to
 * another release): a thread that finds, at its once-a-second site rebuild, that the root's real
 * path changed opens a new handle and makes it the current one; threads move to it at their own
 * next rebuild, and the old descriptor is closed when the last of them lets go (an idle thread
 * holds it until it next resolves a URL or exits).
 *
 * Ownership: handles are reference-counted; the router's root_current holds one reference, each
 * thread's site one. The router's root_lock guards root_current and handle creation; refs is
 * atomic so a thread can let go without the lock (and without the router: a thread's exit may
 * come after router_free). fd and real never change after creation. */
typedef struct root_handle {
    atomic_uint refs;
    const char *root;    /* what it was opened for: the router's cfg->root string */
    int fd;              /* O_PATH|O_DIRECTORY of real, opened refusing symlinks; -1 when
                          * openat2 is unavailable or the root changed under us (static files
                          * are then opened by path) */
    char real[PATH_MAX]; /* realpath of the root when it was opened */
} root_handle_t;

static long sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
    struct open_how how = {.flags = flags, .resolve = resolve};
    long fd;
    do
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    return fd;
}

static void root_release(root_handle_t *h)
{
    if (h != NULL && atomic_fetch_sub(&h->refs, 1) == 1) {
        if (h->fd >= 0)
            close(h->fd);
        free(h);
    }
}

/* The descriptor is opened from real refusing symlinks, so it is the directory real names (a
 * root re-pointed between realpath and here gives ELOOP or ENOENT: no descriptor this time).
 * This is also where openat2 is probed (the router's openat2_state): an older kernel (ENOSYS) or
 * a seccomp filter that refuses the call makes every static file open by path as before:
 * realpath, checks, open(O_NOFOLLOW). */
static int root_open(router_t *rt, const char *real)
{
    if (atomic_load(&rt->openat2_state) == OPENAT2_NO)
        return -1;
    long fd = sys_openat2(AT_FDCWD, real, O_PATH | O_DIRECTORY | O_CLOEXEC,
                          RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0) {
        atomic_store(&rt->openat2_state, OPENAT2_YES);
        return (int)fd;
    }
    if (errno == ENOSYS || errno == EPERM || errno == EINVAL || errno == E2BIG ||
        errno == EOPNOTSUPP)
        atomic_store(&rt->openat2_state, OPENAT2_NO);
    return -1;
}

/* A reference to the router's current handle for its root, whose real path is real; a new
 * handle when the root changed (or its descriptor could not be opened last time). NULL on
 * ENOMEM. */
static root_handle_t *root_acquire(router_t *rt, const char *real)
{
    const config_t *cfg = rt->cfg;
    pthread_mutex_lock(&rt->root_lock);
    root_handle_t *h = rt->root_current;
    if (h == NULL || h->root != cfg->root || strcmp(h->real, real) != 0 ||
        (h->fd < 0 && atomic_load(&rt->openat2_state) != OPENAT2_NO)) {
        h = malloc(sizeof *h);
        if (h == NULL) {
            pthread_mutex_unlock(&rt->root_lock);
            return NULL;
        }
        atomic_init(&h->refs, 1); /* root_current's */
        h->root = cfg->root;
        memcpy(h->real, real, strlen(real) + 1); /* real is a realpath result: < PATH_MAX */
        h->fd = root_open(rt, real);
        root_release(rt->root_current);
        rt->root_current = h;
    }
    atomic_fetch_add(&h->refs, 1);
    pthread_mutex_unlock(&rt->root_lock);
    return h;
}

/* ---- the site: the root and configured real paths, per thread ----
 * route_site_t and its ownership are described in route_internal.h. */

static void site_release(route_site_t *s)
{
    root_release(s->root_h);
    s->root_h = NULL;
    s->root_real = NULL;
    s->root_fd = -1;
    for (size_t i = 0; s->script_real != NULL && i < s->from.n_scripts; i++)
        free(s->script_real[i]);
    for (size_t i = 0; s->handler_real != NULL && i < s->from.n_maps; i++)
        free(s->handler_real[i]);
    free(s->script_real);
    free(s->handler_real);
    s->script_real = s->handler_real = NULL;
    s->ok = false;
}

/* Touches nothing but the thread's state and the reference-counted root handle; the caller has
 * taken t off its router's list. */
static void thread_state_free(router_thread_t *t)
{
    site_release(&t->site);
    free(t);
}

/* The destructor of the router's key. It runs only while the key exists, so before router_free
 * (which deletes the key, and after which no destructor runs for it). */
static void thread_exit(void *p)
{
    router_thread_t *t = p;
    router_t *rt = t->rt;
    pthread_mutex_lock(&rt->threads_lock);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        rt->threads = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&rt->threads_lock);
    thread_state_free(t);
}

router_thread_t *router_thread(router_t *rt)
{
    router_thread_t *t = pthread_getspecific(rt->thread_key);
    if (t != NULL)
        return t;
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->site.root_fd = -1;
    t->rt = rt;
    if (pthread_setspecific(rt->thread_key, t) != 0) {
        free(t);
        return NULL;
    }
    pthread_mutex_lock(&rt->threads_lock);
    t->next = rt->threads;
    if (t->next != NULL)
        t->next->prev = t;
    rt->threads = t;
    pthread_mutex_unlock(&rt->threads_lock);
    return t;
}

/* realpath() of each path into a new array of n strings (NULL where realpath fails). false on
 * ENOMEM. */
static bool realpaths(char ***out, size_t n, const char *(*path_of)(const config_t *, size_t),
                      const config_t *cfg)
{
    *out = calloc(n ? n : 1, sizeof **out);
    if (*out == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        strbuf_t real;
        if (realpath(path_of(cfg, i), real.s) != NULL && ((*out)[i] = strdup(real.s)) == NULL)
            return false;
    }
    return true;
}

static const char *script_dir_of(const config_t *cfg, size_t i)
{
    return cfg->scripts[i].dir;
}

static const char *handler_of(const config_t *cfg, size_t i)
{
    return cfg->maps[i].handler;
}

static bool site_current(const route_site_t *s, const config_t *cfg, time_t now)
{
    return s->ok && cfg_snap_is(&s->from, cfg) && fresh(s->at, now);
}

const route_site_t *route_site_get(router_t *rt, router_thread_t *t, time_t now)
{
    const config_t *cfg = rt->cfg;
    route_site_t *s = &t->site;
    if (site_current(s, cfg, now))
        return s;
    site_release(s);
    s->from = cfg_snap(cfg);
    s->at = now;
    if (++t->site_gen == 0)
        t->site_gen = 1;
    s->gen = t->site_gen;
    strbuf_t real;
    if (realpath(cfg->root, real.s) == NULL || (s->root_h = root_acquire(rt, real.s)) == NULL ||
        !realpaths(&s->script_real, cfg->n_scripts, script_dir_of, cfg) ||
        !realpaths(&s->handler_real, cfg->n_maps, handler_of, cfg)) {
        site_release(s);
        return NULL;
    }
    s->root_real = s->root_h->real;
    s->root_fd = s->root_h->fd;
    s->ok = true;
    return s;
}

bool route_site_openat2(router_t *rt, const route_site_t *site)
{
    return site->root_fd >= 0 &&
           atomic_load_explicit(&rt->openat2_state, memory_order_relaxed) == OPENAT2_YES;
}

/* rel: a path relative to the root (no leading '/'). */
int route_site_open_beneath(const route_site_t *site, const char *rel)
{
    return (int)sys_openat2(site->root_fd, rel, STATIC_OPEN_FLAGS, STATIC_RESOLVE);
}

/* ---- the router ---- */

router_t *router_new(const config_t *cfg, unsigned flags)
{
    router_t *rt = calloc(1, sizeof *rt);
    if (rt == NULL)
        return NULL;
    if (pthread_key_create(&rt->thread_key, thread_exit) != 0) {
        free(rt);
        return NULL;
    }
    pthread_mutex_init(&rt->root_lock, NULL);
    pthread_mutex_init(&rt->threads_lock, NULL);
    rt->cfg = cfg;
    atomic_init(&rt->openat2_state, flags & ROUTER_OPEN_BY_PATH ? OPENAT2_NO : OPENAT2_UNKNOWN);
    /* calloc left script_refused as LOG_LIMITER_INIT would: all zero */
    /* The root's descriptor, opened once for every thread. */
    strbuf_t real;
    if (cfg->root != NULL && realpath(cfg->root, real.s) != NULL)
        root_release(root_acquire(rt, real.s)); /* root_current keeps it */
    return rt;
}

void router_free(router_t *rt)
{
    if (rt == NULL)
        return;
    /* Every thread's state, the living threads' too (a pool that outlives the router, as the
     * fuzzers' does): once the key is gone no destructor runs for it, so none is left behind. */
    pthread_mutex_lock(&rt->threads_lock);
    pthread_key_delete(rt->thread_key);
    router_thread_t *t = rt->threads;
    rt->threads = NULL;
    pthread_mutex_unlock(&rt->threads_lock);
    while (t != NULL) {
        router_thread_t *next = t->next;
        thread_state_free(t);
        t = next;
    }
    root_release(rt->root_current);
    pthread_mutex_destroy(&rt->threads_lock);
    pthread_mutex_destroy(&rt->root_lock);
    free(rt);
}

const config_t *router_config(const router_t *rt)
{
    return rt->cfg;
}
