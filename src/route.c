/* Routing: URL path → static file, extension, redirect or refusal. The rules and their order
 * are in route.h. Containment is decided on canonical paths, never on the URL alone: a URL that
 * looks harmless may still reach a symlink. A static file is opened here, below a descriptor of
 * the root and refusing every symlink on the way, so the file served is the one checked. */
#define _GNU_SOURCE /* O_PATH */
#include "route.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "path.h"

typedef struct strbuf {
    char s[PATH_MAX];
} strbuf_t;

static void route_clear(route_t *r)
{
    memset(r, 0, sizeof *r);
    r->kind = ROUTE_NOT_FOUND;
    r->fd = -1;
}

void route_free(route_t *r)
{
    if (r == NULL)
        return;
    if (r->kind == ROUTE_STATIC && r->fd >= 0)
        close(r->fd);
    free(r->file);
    free(r->location);
    free(r->strings); /* the EXTENSION strings */
    route_clear(r);
}

/* An allocation failed: report NOT_FOUND with every string NULL. */
static void route_oom(route_t *r)
{
    route_free(r);
}

/* path lies in canonical directory dir (or is dir). */
static bool is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The part of canonical path below canonical dir ("" or "/..."); path must be under dir. */
static const char *below(const char *path, const char *dir)
{
    return strcmp(dir, "/") == 0 ? path : path + strlen(dir);
}

static bool is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Length of a configured prefix without trailing '/' ("/" stays 1). */
static size_t prefix_len(const char *prefix)
{
    size_t n = strlen(prefix);
    while (n > 1 && prefix[n - 1] == '/')
        n--;
    return n;
}

static bool prefix_matches(const char *path, const char *prefix, size_t n)
{
    if (n == 1 && prefix[0] == '/')
        return true;
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* out := EXTENSION with these strings, copied into one allocation (out->strings). Each string
 * is (pointer, length); appl_physical_path is the directory of script_filename with its '/'. */
typedef struct {
    const char *s;
    size_t n;
} piece_t;

static void extension_found(route_t *out, piece_t handler, piece_t script_name,
                            piece_t script_filename, piece_t path_info, piece_t path_translated)
{
    const char *slash = strrchr(script_filename.s, '/');
    piece_t appl = {script_filename.s, slash ? (size_t)(slash - script_filename.s) + 1 : 0};
    piece_t src[] = {handler, script_name, script_filename, path_info, path_translated, appl};
    char **dst[] = {&out->handler, &out->script_name, &out->script_filename, &out->path_info,
                    &out->path_translated, &out->appl_physical_path};
    size_t total = 0;
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        total += src[i].n + 1;
    char *p = malloc(total);
    if (p == NULL) {
        route_oom(out);
        return;
    }
    out->kind = ROUTE_EXTENSION;
    out->strings = p;
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++) {
        memcpy(p, src[i].s, src[i].n);
        p[src[i].n] = '\0';
        *dst[i] = p;
        p += src[i].n + 1;
    }
}

static piece_t piece(const char *s) { return (piece_t){s, strlen(s)}; }

/* Location header value: path + "/" percent-encoded, so a decoded path can never put a
 * blank, CR/LF or '?' into the response head. */
static char *make_location(const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(path);
    char *loc = malloc(n * 3 + 2);
    if (loc == NULL)
        return NULL;
    char *o = loc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~!$&'()*+,;=:@/", c) != NULL) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '/';
    *o = '\0';
    return loc;
}

/* ---- rule 1: script directories ---- */

/* In directory dirpath, the regular file named stem + ".dll" or stem + ".so", compared
 * case-insensitively; prefer_so picks which suffix wins when both exist, and among equals the
 * smallest name (strcmp) wins so the answer does not depend on readdir order. */
static bool find_ci(const char *dirpath, const char *stem, size_t stem_len, bool prefer_so,
                    strbuf_t *found)
{
    DIR *d = opendir(dirpath);
    if (d == NULL)
        return false;
    bool have = false;
    int have_rank = 0;
    strbuf_t best;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strncasecmp(name, stem, stem_len) != 0)
            continue;
        int rank;
        if (strcasecmp(name + stem_len, ".so") == 0)
            rank = prefer_so ? 2 : 1;
        else if (strcasecmp(name + stem_len, ".dll") == 0)
            rank = prefer_so ? 1 : 2;
        else
            continue;
        if (have && (rank < have_rank || (rank == have_rank && strcmp(name, best.s) >= 0)))
            continue;
        strbuf_t full;
        if (path_join(dirpath, name, full.s, sizeof full.s) != 0 || !is_regular(full.s))
            continue;
        strcpy(best.s, name); /* d_name is at most NAME_MAX bytes */
        have = true;
        have_rank = rank;
    }
    closedir(d);
    return have && path_join(dirpath, best.s, found->s, sizeof found->s) == 0;
}

/* ---- resolution cache ----
 * Resolving an extension's file (stat + realpath: a readlink per path component) costs several
 * system calls per request; so does a static file reached through a symlink (realpath).
 * Results are kept per thread for ROUTE_CACHE_TTL seconds: a file added, removed or re-pointed
 * is seen within that time. Only successful lookups are cached. Thread-local, so loops and
 * workers never contend. Entries are tagged by what they hold, so the key spaces never mix:
 * CACHE_EXTENSION maps an extension's URL to the real path of its .so; CACHE_STATIC maps a
 * static URL to the canonical path of its file relative to the root, and is only valid with
 * the site generation it was checked against (see route_site_t). Static URLs are cached only
 * when they needed realpath(): one that opens as it is written costs no more than a cache hit,
 * and leaving it out keeps the slots for the lookups that save system calls. */
#define ROUTE_CACHE_SLOTS 16
#define ROUTE_CACHE_TTL 1
#define ROUTE_CACHE_URL 200
#define ROUTE_CACHE_REAL 512

typedef enum { CACHE_EXTENSION = 1, CACHE_STATIC = 2 } cache_tag_t;

typedef struct route_cache_entry {
    const config_t *cfg; /* NULL: empty slot */
    cache_tag_t tag;
    unsigned gen;        /* CACHE_STATIC: the site generation; 0 for the others */
    time_t at;
    char url[ROUTE_CACHE_URL];
    char real[ROUTE_CACHE_REAL];
} route_cache_entry_t;

static __thread route_cache_entry_t route_cache[ROUTE_CACHE_SLOTS];
static __thread unsigned route_cache_next;

static bool fresh(time_t at, time_t now)
{
    return now - at < ROUTE_CACHE_TTL && now >= at;
}

static route_cache_entry_t *route_cache_find(const config_t *cfg, cache_tag_t tag, unsigned gen,
                                             const char *url, size_t url_len, time_t now)
{
    if (url_len >= ROUTE_CACHE_URL)
        return NULL;
    for (unsigned i = 0; i < ROUTE_CACHE_SLOTS; i++) {
        route_cache_entry_t *e = &route_cache[i];
        if (e->cfg == cfg && e->tag == tag && e->gen == gen && fresh(e->at, now) &&
            strncmp(e->url, url, url_len) == 0 && e->url[url_len] == '\0')
            return e;
    }
    return NULL;
}

static bool route_cache_get(const config_t *cfg, cache_tag_t tag, unsigned gen, const char *url,
                            size_t url_len, time_t now, char *real, size_t real_size)
{
    const route_cache_entry_t *e = route_cache_find(cfg, tag, gen, url, url_len, now);
    if (e == NULL)
        return false;
    size_t n = strlen(e->real);
    if (n >= real_size)
        return false;
    memcpy(real, e->real, n + 1);
    return true;
}

static void route_cache_put(const config_t *cfg, cache_tag_t tag, unsigned gen, const char *url,
                            size_t url_len, time_t now, const char *real)
{
    size_t n = strlen(real);
    if (url_len >= ROUTE_CACHE_URL || n >= ROUTE_CACHE_REAL)
        return;
    route_cache_entry_t *e = route_cache_find(cfg, tag, gen, url, url_len, now);
    if (e == NULL)
        e = &route_cache[route_cache_next++ % ROUTE_CACHE_SLOTS];
    e->cfg = cfg;
    e->tag = tag;
    e->gen = gen;
    e->at = now;
    memcpy(e->url, url, url_len);
    e->url[url_len] = '\0';
    memcpy(e->real, real, n + 1);
}

static void route_cache_drop(const config_t *cfg, cache_tag_t tag, unsigned gen, const char *url,
                             size_t url_len, time_t now)
{
    route_cache_entry_t *e = route_cache_find(cfg, tag, gen, url, url_len, now);
    if (e != NULL)
        e->cfg = NULL;
}

/* ---- the root: one descriptor for the process ----
 * Static files are opened below a descriptor of the root (rule 4). One descriptor serves every
 * thread, so the process holds one more descriptor than before, from start-up
 * (route_prepare), not one per thread that ever served a file. The root may be re-pointed (a
 * symlink swapped to another release): a thread that finds, at its once-a-second site rebuild,
 * that the root's real path changed opens a new handle and makes it the current one; threads
 * move to it at their own next rebuild, and the old descriptor is closed when the last of them
 * lets go (an idle thread holds it until it next resolves a URL or exits).
 *
 * Ownership: handles are reference-counted; root_current holds one reference, each thread's
 * site one. root_lock guards root_current and handle creation; refs is atomic so a thread can
 * let go without the lock. fd and real never change after creation. */
typedef struct root_handle {
    atomic_uint refs;
    const config_t *cfg; /* what it was opened for: cfg and its root string */
    const char *root;
    int fd;              /* O_PATH|O_DIRECTORY of real, opened refusing symlinks; -1 when
                          * openat2 is unavailable or the root changed under us (static files
                          * are then opened by path) */
    char real[PATH_MAX]; /* realpath of the root when it was opened */
} root_handle_t;

static pthread_mutex_t root_lock = PTHREAD_MUTEX_INITIALIZER;
static root_handle_t *root_current;

/* openat2 and its RESOLVE_ flags (Linux 5.6): unknown until the first root handle probes it.
 * An older kernel (ENOSYS) or a seccomp filter that refuses the call makes every static file
 * open by path as before: realpath, checks, open(O_NOFOLLOW). */
enum { OPENAT2_UNKNOWN = 0, OPENAT2_YES = 1, OPENAT2_NO = -1 };
static atomic_int openat2_state;

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
 * This is also where openat2 is probed. */
static int root_open(const char *real)
{
    if (atomic_load(&openat2_state) == OPENAT2_NO)
        return -1;
    long fd = sys_openat2(AT_FDCWD, real, O_PATH | O_DIRECTORY | O_CLOEXEC,
                          RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0) {
        atomic_store(&openat2_state, OPENAT2_YES);
        return (int)fd;
    }
    if (errno == ENOSYS || errno == EPERM || errno == EINVAL || errno == E2BIG ||
        errno == EOPNOTSUPP)
        atomic_store(&openat2_state, OPENAT2_NO);
    return -1;
}

/* A reference to the current handle for cfg's root, whose real path is real; a new handle when
 * the root changed (or its descriptor could not be opened last time). NULL on ENOMEM. */
static root_handle_t *root_acquire(const config_t *cfg, const char *real)
{
    pthread_mutex_lock(&root_lock);
    root_handle_t *h = root_current;
    if (h == NULL || h->cfg != cfg || h->root != cfg->root || strcmp(h->real, real) != 0 ||
        (h->fd < 0 && atomic_load(&openat2_state) != OPENAT2_NO)) {
        h = malloc(sizeof *h);
        if (h == NULL) {
            pthread_mutex_unlock(&root_lock);
            return NULL;
        }
        atomic_init(&h->refs, 1); /* root_current's */
        h->cfg = cfg;
        h->root = cfg->root;
        memcpy(h->real, real, strlen(real) + 1); /* real is a realpath result: < PATH_MAX */
        h->fd = root_open(real);
        root_release(root_current);
        root_current = h;
    }
    atomic_fetch_add(&h->refs, 1);
    pthread_mutex_unlock(&root_lock);
    return h;
}

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

static __thread route_site_t route_site;
static __thread unsigned route_site_gen;
static pthread_key_t route_site_key;
static pthread_once_t route_site_once = PTHREAD_ONCE_INIT;

static void site_release(route_site_t *s)
{
    root_release(s->root_h);
    s->root_h = NULL;
    s->root_real = NULL;
    s->root_fd = -1;
    for (size_t i = 0; s->script_real != NULL && i < s->n_scripts; i++)
        free(s->script_real[i]);
    for (size_t i = 0; s->handler_real != NULL && i < s->n_maps; i++)
        free(s->handler_real[i]);
    free(s->script_real);
    free(s->handler_real);
    s->script_real = s->handler_real = NULL;
    s->cfg = NULL;
    s->ok = false;
}

static void site_destructor(void *p)
{
    site_release(p);
}

static void site_key_create(void)
{
    pthread_key_create(&route_site_key, site_destructor);
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
    return s->ok && s->cfg == cfg && s->root == cfg->root && s->scripts == cfg->scripts &&
           s->n_scripts == cfg->n_scripts && s->maps == cfg->maps && s->n_maps == cfg->n_maps &&
           fresh(s->at, now);
}

/* This thread's site for cfg, rebuilt when stale. NULL when the root has no real path (missing)
 * or memory ran out. */
static const route_site_t *site_get(const config_t *cfg, time_t now)
{
    route_site_t *s = &route_site;
    if (site_current(s, cfg, now))
        return s;
    pthread_once(&route_site_once, site_key_create);
    site_release(s);
    s->cfg = cfg;
    s->root = cfg->root;
    s->scripts = cfg->scripts;
    s->n_scripts = cfg->n_scripts;
    s->maps = cfg->maps;
    s->n_maps = cfg->n_maps;
    s->at = now;
    if (++route_site_gen == 0)
        route_site_gen = 1;
    s->gen = route_site_gen;
    pthread_setspecific(route_site_key, s);
    strbuf_t real;
    if (realpath(cfg->root, real.s) == NULL || (s->root_h = root_acquire(cfg, real.s)) == NULL ||
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

void route_prepare(const config_t *cfg)
{
    strbuf_t real;
    if (cfg->root != NULL && realpath(cfg->root, real.s) != NULL)
        root_release(root_acquire(cfg, real.s)); /* root_current keeps it */
}

void route_cache_flush(void)
{
    site_release(&route_site);
    memset(route_cache, 0, sizeof route_cache);
    pthread_mutex_lock(&root_lock);
    root_release(root_current);
    root_current = NULL;
    pthread_mutex_unlock(&root_lock);
}

void route_use_openat2_for_tests(bool use)
{
    atomic_store(&openat2_state, use ? OPENAT2_UNKNOWN : OPENAT2_NO);
    route_cache_flush();
}

/* An extension found in script directory sd whose real path is real may be loaded: it lies in
 * the directory's real path, or the operator allows symlinks out of it
 * (--follow-script-symlinks). A refusal is logged (rate-limited: any client can repeat it);
 * url[0..url_len) is the extension's URL. Only successes are cached, so a refusal is checked
 * again on every request, and a symlink fixed by the operator is seen at once. */
static bool script_contained(const config_t *cfg, const script_dir_t *sd, const char *url,
                             size_t url_len, const char *real)
{
    static log_limiter_t refused = LOG_LIMITER_INIT;
    if (cfg->follow_script_symlinks)
        return true;
    strbuf_t dir_real;
    if (realpath(sd->dir, dir_real.s) != NULL && is_under(real, dir_real.s))
        return true;
    log_limited(&refused, LOG_WARN,
                "refusing to load %.*s: the extension's file is %s, outside the script "
                "directory %s (a symlink leads out of it; --follow-script-symlinks allows that)",
                (int)url_len, url, real, sd->dir);
    return false;
}

/* Returns false when the path names no extension and the prefix is "/", which then leaves the
 * rest of the URL space to the other rules. Otherwise fills out and returns true. */
static bool route_script(const config_t *cfg, const script_dir_t *sd, size_t plen,
                         const char *path, time_t now, route_t *out)
{
    bool is_slash = plen == 1 && sd->prefix[0] == '/';
    const char *rest = is_slash ? path : path + plen; /* "" or "/..." */

    /* The first segment whose name ends in .dll or .so, with something before the suffix. */
    size_t seg = 0, end = 0, suffix_len = 0;
    bool found = false;
    for (size_t i = 0; rest[i] != '\0' && !found;) {
        if (rest[i] == '/') {
            i++;
            continue;
        }
        seg = i;
        while (rest[i] != '\0' && rest[i] != '/')
            i++;
        end = i;
        size_t n = end - seg;
        if (n > 4 && strncasecmp(rest + end - 4, ".dll", 4) == 0) {
            suffix_len = 4;
            found = true;
        } else if (n > 3 && strncasecmp(rest + end - 3, ".so", 3) == 0) {
            suffix_len = 3;
            found = true;
        }
    }
    if (!found) {
        if (is_slash)
            return false;
        out->kind = ROUTE_NOT_FOUND;
        return true;
    }

    /* rel = sub-directories and the extension's name as the URL wrote them: "/sub/X.dll" */
    strbuf_t rel, try1, dirpath, real;
    if (end >= sizeof rel.s) {
        out->kind = ROUTE_NOT_FOUND;
        return true;
    }
    memcpy(rel.s, rest, end);
    rel.s[end] = '\0';
    if (path_has_dot_segment(rel.s)) {
        out->kind = ROUTE_FORBIDDEN;
        return true;
    }

    bool url_so = suffix_len == 3;
    const char *stem = rest + seg;
    size_t stem_len = end - seg - suffix_len;
    rel.s[seg] = '\0'; /* rel.s is now the sub-directory part */
    size_t url_len = (size_t)(rest - path) + end; /* the extension's URL: the cache key */
    bool cached = route_cache_get(cfg, CACHE_EXTENSION, 0, path, url_len, now, real.s, sizeof real.s);
    bool have = false;
    if (!cached && end - seg <= NAME_MAX && path_join(sd->dir, rel.s, dirpath.s, sizeof dirpath.s) == 0) {
        /* The name as written, then with the suffix in lower case, then with the other suffix,
         * then any case (§7.12: forms written for IIS use any case). */
        const char *suffixes[3] = {NULL, url_so ? ".so" : ".dll", url_so ? ".dll" : ".so"};
        char name[NAME_MAX + 6];
        for (int k = 0; k < 3 && !have; k++) {
            const char *suf = suffixes[k] ? suffixes[k] : stem + stem_len;
            size_t suf_len = suffixes[k] ? strlen(suffixes[k]) : suffix_len;
            if (k == 1 && memcmp(suf, stem + stem_len, suf_len) == 0)
                continue; /* already tried as written */
            memcpy(name, stem, stem_len);
            memcpy(name + stem_len, suf, suf_len);
            name[stem_len + suf_len] = '\0';
            have = path_join(dirpath.s, name, try1.s, sizeof try1.s) == 0 && is_regular(try1.s);
        }
        if (!have)
            have = find_ci(dirpath.s, stem, stem_len, url_so, &try1);
    }
    if (!cached) {
        if (!have || realpath(try1.s, real.s) == NULL) {
            out->kind = ROUTE_NOT_FOUND;
            return true;
        }
        if (!script_contained(cfg, sd, path, url_len, real.s)) {
            out->kind = ROUTE_FORBIDDEN;
            return true;
        }
        route_cache_put(cfg, CACHE_EXTENSION, 0, path, url_len, now, real.s);
    }

    strbuf_t pt;
    pt.s[0] = '\0';
    if (rest[end] != '\0' && path_join(cfg->root, rest + end, pt.s, sizeof pt.s) != 0)
        pt.s[0] = '\0';
    piece_t real_p = piece(real.s);
    extension_found(out, real_p, (piece_t){path, (size_t)(rest - path) + end}, real_p,
                    piece(rest + end), piece(pt.s));
    return true;
}

/* ---- rule 3: script maps ---- */

/* The --map whose extension ends name[0..n) (longest wins), with a non-empty name before it. */
static const script_map_t *map_for(const config_t *cfg, const char *name, size_t n)
{
    const script_map_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < cfg->n_maps; i++) {
        const char *ext = cfg->maps[i].ext;
        size_t k = strlen(ext);
        if (k > 0 && k < n && k > best_len && strncasecmp(name + n - k, ext, k) == 0) {
            best = &cfg->maps[i];
            best_len = k;
        }
    }
    return best;
}

/* Returns true when a mapped file handled (or refused) the request. */
static bool route_map(const config_t *cfg, const char *rootreal, const char *path, route_t *out)
{
    for (size_t i = 0; path[i] != '\0';) {
        if (path[i] == '/') {
            i++;
            continue;
        }
        size_t seg = i;
        while (path[i] != '\0' && path[i] != '/')
            i++;
        const script_map_t *map = map_for(cfg, path + seg, i - seg);
        if (map == NULL)
            continue;

        strbuf_t url, full, real;
        if (i >= sizeof url.s)
            return false;
        memcpy(url.s, path, i);
        url.s[i] = '\0';
        if (path_join(rootreal, url.s, full.s, sizeof full.s) != 0 || !is_regular(full.s) ||
            realpath(full.s, real.s) == NULL)
            continue;
        if (!route_contained(real.s, rootreal)) {
            out->kind = ROUTE_FORBIDDEN;
            return true;
        }
        extension_found(out, piece(map->handler), piece(url.s), piece(real.s), piece(path),
                        piece(real.s));
        return true;
    }
    return false;
}

/* ---- rule 4: static files ---- */

/* Files the root may contain but must never be sent as bytes: anything inside a script
 * directory, a --map handler, and any file of a mapped type (reached through a symlink or an
 * index file under another name, it would leak its source). real is canonical. */
/* The code the server runs: anything inside a script directory, and the --map handlers.
 * real is canonical. */
static bool is_server_code(const config_t *cfg, const route_site_t *site, const char *real)
{
    for (size_t i = 0; i < cfg->n_scripts; i++) {
        if (site->script_real[i] != NULL && is_under(real, site->script_real[i]))
            return true;
    }
    for (size_t i = 0; i < cfg->n_maps; i++) {
        if (site->handler_real[i] != NULL && strcmp(real, site->handler_real[i]) == 0)
            return true;
    }
    return false;
}

static bool is_protected(const config_t *cfg, const route_site_t *site, const char *real)
{
    if (is_server_code(cfg, site, real))
        return true;
    for (size_t i = 0; i < cfg->n_maps; i++) {
        const char *ext = cfg->maps[i].ext;
        if (ext[0] != '\0' && path_ends_with_ci(real, ext))
            return true;
    }
    return false;
}

static route_kind_t realpath_error_kind(int err)
{
    return err == EACCES || err == ELOOP ? ROUTE_FORBIDDEN : ROUTE_NOT_FOUND;
}

/* Static files are opened read-only, never as a controlling terminal, never blocking (a FIFO
 * swapped in after the checks cannot stall the loop; O_NONBLOCK is moot for sendfile from a
 * regular file). Below the root descriptor, no symlink may be met anywhere on the way (the last
 * component included: ELOOP) and nothing may lead out of the root (EXDEV). */
#define STATIC_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
#define STATIC_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

static bool use_openat2(const route_site_t *site)
{
    return site->root_fd >= 0 &&
           atomic_load_explicit(&openat2_state, memory_order_relaxed) == OPENAT2_YES;
}

/* rel: a path relative to the root (no leading '/'). */
static int open_beneath(const route_site_t *site, const char *rel)
{
    return (int)sys_openat2(site->root_fd, rel, STATIC_OPEN_FLAGS, STATIC_RESOLVE);
}

/* out := STATIC for the open regular file fd (taken over) whose canonical path is real. */
static void static_found(route_t *out, const char *real, int fd, const struct stat *st)
{
    out->kind = ROUTE_STATIC;
    out->fd = fd;
    out->st = *st;
    out->file = strdup(real);
    if (out->file == NULL)
        route_oom(out); /* closes fd */
}

/* out := STATIC whose open failed with err: static_file_respond turns err into the status. */
static void static_failed(route_t *out, const char *real, int err)
{
    out->kind = ROUTE_STATIC;
    out->fd = -1;
    out->fd_errno = err;
    out->file = strdup(real);
    if (out->file == NULL)
        route_oom(out);
}

/* A cached resolution: rel was found canonical, below the root, not protected and a regular
 * file, with this very site (same generation, so the same root descriptor and real paths).
 * Opening it refusing symlinks opens exactly that path, so the verdict still holds for whatever
 * is there now, if it is a regular file. false (nothing opened) when it is not, or is gone: the
 * caller then resolves afresh. */
static bool static_cached(const route_site_t *site, const char *rel, route_t *out)
{
    strbuf_t real;
    if (path_join(site->root_real, rel, real.s, sizeof real.s) != 0)
        return false;
    int fd = open_beneath(site, rel);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return false;
    }
    static_found(out, real.s, fd, &st);
    return true;
}

/* The URL path taken as the canonical path: it is normalised and free of dot segments (rule 2
 * ran), so when it opens below the root without meeting a symlink, root_real + path is the
 * file's real path and realpath() could only confirm it. A path ending in '/' names its
 * directory's index.html. Returns false when only the full resolution can tell: a symlink on
 * the way (ELOOP), a directory without index.html (ENOENT), permissions, anything unusual. */
static bool static_direct(const config_t *cfg, const route_site_t *site, const char *path,
                          route_t *out)
{
    static const char index_name[] = "index.html";
    size_t n = strlen(path); /* path starts with '/' */
    bool dir = path[n - 1] == '/';
    strbuf_t rel, real;
    if (n + sizeof index_name > sizeof rel.s)
        return false;
    memcpy(rel.s, path + 1, n); /* with the NUL */
    if (dir)
        memcpy(rel.s + n - 1, index_name, sizeof index_name);
    int fd = open_beneath(site, rel.s);
    if (fd < 0) {
        /* No symlink was met before the missing component (that would be ELOOP), so the
         * realpath() of the full resolution would fail the same way. */
        if (errno == ENOTDIR || (errno == ENOENT && !dir)) {
            out->kind = ROUTE_NOT_FOUND;
            return true;
        }
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || path_join(site->root_real, rel.s, real.s, sizeof real.s) != 0) {
        close(fd);
        return false;
    }
    if (S_ISREG(st.st_mode) && !is_protected(cfg, site, real.s)) {
        static_found(out, real.s, fd, &st);
        return true;
    }
    close(fd);
    if (S_ISDIR(st.st_mode) && !dir) {
        out->kind = ROUTE_REDIRECT;
        out->location = make_location(path);
        if (out->location == NULL)
            route_oom(out);
    } else {
        out->kind = ROUTE_FORBIDDEN; /* protected, an index.html that is no regular file, a FIFO */
    }
    return true;
}

/* The full resolution, for what neither the cache nor static_direct settles: realpath() and the
 * checks on the canonical path, then the open of that path, below the root descriptor refusing
 * symlinks (a symlink swapped in after realpath() gives ELOOP: 403), or, without openat2, by
 * path with O_NOFOLLOW (which guards the last component only). With openat2, a file found is
 * cached: the next request for the URL opens its canonical path directly. */
static void static_full(const config_t *cfg, const route_site_t *site, const char *path,
                        time_t now, route_t *out)
{
    const char *rootreal = site->root_real;
    strbuf_t full, real;
    if (path_join(rootreal, path, full.s, sizeof full.s) != 0) {
        out->kind = ROUTE_NOT_FOUND;
        return;
    }
    if (realpath(full.s, real.s) == NULL) {
        out->kind = realpath_error_kind(errno);
        return;
    }
    if (!route_contained(real.s, rootreal)) {
        out->kind = ROUTE_FORBIDDEN;
        return;
    }
    struct stat st;
    if (stat(real.s, &st) != 0) {
        out->kind = realpath_error_kind(errno);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path);
        if (n == 0 || path[n - 1] != '/') {
            out->kind = ROUTE_REDIRECT;
            out->location = make_location(path);
            if (out->location == NULL)
                route_oom(out);
            return;
        }
        strbuf_t index;
        if (path_join(real.s, "index.html", index.s, sizeof index.s) != 0 ||
            realpath(index.s, real.s) == NULL) {
            out->kind = ROUTE_FORBIDDEN; /* no index.html: no directory listing either */
            return;
        }
        if (!route_contained(real.s, rootreal) || stat(real.s, &st) != 0) {
            out->kind = ROUTE_FORBIDDEN;
            return;
        }
    }
    if (!S_ISREG(st.st_mode) || is_protected(cfg, site, real.s)) {
        out->kind = ROUTE_FORBIDDEN;
        return;
    }

    bool beneath = use_openat2(site);
    const char *rel = below(real.s, rootreal); /* "/..." (real is a file, the root a directory) */
    while (*rel == '/')
        rel++;
    int fd = beneath ? open_beneath(site, rel) : open(real.s, STATIC_OPEN_FLAGS | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        static_failed(out, real.s, err);
        return;
    }
    if (!S_ISREG(st.st_mode)) { /* swapped after the checks */
        close(fd);
        out->kind = ROUTE_FORBIDDEN;
        return;
    }
    static_found(out, real.s, fd, &st);
    if (beneath && out->kind == ROUTE_STATIC)
        route_cache_put(cfg, CACHE_STATIC, site->gen, path, strlen(path), now, rel);
}

static void route_static(const config_t *cfg, const route_site_t *site, const char *path,
                         time_t now, route_t *out)
{
    if (use_openat2(site)) {
        size_t n = strlen(path);
        strbuf_t rel;
        if (route_cache_get(cfg, CACHE_STATIC, site->gen, path, n, now, rel.s, sizeof rel.s)) {
            if (static_cached(site, rel.s, out))
                return;
            route_cache_drop(cfg, CACHE_STATIC, site->gen, path, n, now);
        }
        if (static_direct(cfg, site, path, out))
            return;
    }
    static_full(cfg, site, path, now, out);
}

const script_dir_t *route_script_dir_of(const config_t *cfg, const char *path, size_t *prefix_length)
{
    const script_dir_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < cfg->n_scripts; i++) {
        size_t n = prefix_len(cfg->scripts[i].prefix);
        if ((best == NULL || n > best_len) && prefix_matches(path, cfg->scripts[i].prefix, n)) {
            best = &cfg->scripts[i];
            best_len = n;
        }
    }
    *prefix_length = best_len;
    return best;
}

bool route_contained(const char *real, const char *dir_real)
{
    return is_under(real, dir_real) && !path_has_dot_segment(below(real, dir_real));
}

bool route_root_real(const config_t *cfg, char *out, size_t n)
{
    const route_site_t *site = site_get(cfg, time(NULL));
    size_t len = site ? strlen(site->root_real) : 0;
    if (site == NULL || len >= n)
        return false;
    memcpy(out, site->root_real, len + 1);
    return true;
}

bool route_is_server_code(const config_t *cfg, const char *real)
{
    const route_site_t *site = site_get(cfg, time(NULL));
    return site == NULL || is_server_code(cfg, site, real); /* no site: nothing is known safe */
}

void route_resolve(const config_t *cfg, const char *path, route_t *out)
{
    route_clear(out);
    if (path == NULL || path[0] != '/' || cfg->root == NULL)
        return;
    time_t now = time(NULL);

    size_t best_len;
    const script_dir_t *best = route_script_dir_of(cfg, path, &best_len);
    if (best != NULL && route_script(cfg, best, best_len, path, now, out))
        return;

    if (path_has_dot_segment(path)) {
        out->kind = ROUTE_FORBIDDEN;
        return;
    }

    const route_site_t *site = site_get(cfg, now);
    if (site == NULL) {
        out->kind = ROUTE_NOT_FOUND;
        return;
    }
    if (cfg->n_maps > 0 && route_map(cfg, site->root_real, path, out))
        return;
    route_static(cfg, site, path, now, out);
}

