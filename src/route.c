/* Routing: URL path → static file, extension, redirect or refusal. The rules and their order
 * are in route.h. Containment is decided on realpath() results, never on the URL alone: a URL
 * that looks harmless may still reach a symlink. */
#include "route.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/stat.h>

#include "path.h"

typedef struct strbuf {
    char s[PATH_MAX];
} strbuf_t;

static void route_clear(route_t *r)
{
    memset(r, 0, sizeof *r);
    r->kind = ROUTE_NOT_FOUND;
}

void route_free(route_t *r)
{
    if (r == NULL)
        return;
    free(r->file);
    free(r->location);
    free(r->handler);
    free(r->script_name);
    free(r->script_filename);
    free(r->path_info);
    free(r->path_translated);
    free(r->appl_physical_path);
    route_clear(r);
}

/* An allocation failed: report NOT_FOUND with every string NULL. */
static void route_oom(route_t *r)
{
    route_free(r);
}

static char *dup_n(const char *s, size_t n)
{
    return strndup(s, n);
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

/* Directory part of canonical file path, with a trailing '/'. */
static char *dir_with_slash(const char *file)
{
    const char *slash = strrchr(file, '/');
    size_t n = slash ? (size_t)(slash - file) + 1 : 0;
    return dup_n(file, n);
}

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

/* Returns false when the path names no extension and the prefix is "/", which then leaves the
 * rest of the URL space to the other rules. Otherwise fills out and returns true. */
/* ---- resolution cache ----
 * Resolving an extension's file (stat + realpath: a readlink per path component) and the root's
 * real path cost several system calls per request. Results are kept per thread for
 * ROUTE_CACHE_TTL seconds: a file added, removed or re-pointed is seen within that time. Only
 * successful lookups are cached. Thread-local, so loops and workers never contend. */
#define ROUTE_CACHE_SLOTS 16
#define ROUTE_CACHE_TTL 1
#define ROUTE_CACHE_URL 200
#define ROUTE_CACHE_REAL 512

typedef struct route_cache_entry {
    const config_t *cfg;
    time_t at;
    char url[ROUTE_CACHE_URL];
    char real[ROUTE_CACHE_REAL];
} route_cache_entry_t;

static __thread route_cache_entry_t route_cache[ROUTE_CACHE_SLOTS];
static __thread unsigned route_cache_next;

static bool route_cache_get(const config_t *cfg, const char *url, size_t url_len, char *real,
                            size_t real_size)
{
    if (url_len >= ROUTE_CACHE_URL)
        return false;
    time_t now = time(NULL);
    for (unsigned i = 0; i < ROUTE_CACHE_SLOTS; i++) {
        route_cache_entry_t *e = &route_cache[i];
        if (e->cfg == cfg && now - e->at < ROUTE_CACHE_TTL && now >= e->at &&
            strncmp(e->url, url, url_len) == 0 && e->url[url_len] == '\0') {
            size_t n = strlen(e->real);
            if (n >= real_size)
                return false;
            memcpy(real, e->real, n + 1);
            return true;
        }
    }
    return false;
}

static void route_cache_put(const config_t *cfg, const char *url, size_t url_len, const char *real)
{
    size_t n = strlen(real);
    if (url_len >= ROUTE_CACHE_URL || n >= ROUTE_CACHE_REAL)
        return;
    route_cache_entry_t *e = &route_cache[route_cache_next++ % ROUTE_CACHE_SLOTS];
    e->cfg = cfg;
    e->at = time(NULL);
    memcpy(e->url, url, url_len);
    e->url[url_len] = '\0';
    memcpy(e->real, real, n + 1);
}

static bool route_script(const config_t *cfg, const script_dir_t *sd, size_t plen,
                         const char *path, route_t *out)
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
    bool cached = route_cache_get(cfg, path, url_len, real.s, sizeof real.s);
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
        route_cache_put(cfg, path, url_len, real.s);
    }

    out->kind = ROUTE_EXTENSION;
    out->handler = strdup(real.s);
    out->script_filename = strdup(real.s);
    out->script_name = dup_n(path, (size_t)(rest - path) + end);
    out->path_info = strdup(rest + end);
    out->appl_physical_path = dir_with_slash(real.s);
    if (rest[end] == '\0') {
        out->path_translated = strdup("");
    } else {
        strbuf_t pt;
        out->path_translated = path_join(cfg->root, rest + end, pt.s, sizeof pt.s) == 0
                                   ? strdup(pt.s)
                                   : strdup("");
    }
    if (!out->handler || !out->script_filename || !out->script_name || !out->path_info ||
        !out->appl_physical_path || !out->path_translated)
        route_oom(out);
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
        if (path_join(cfg->root, url.s, full.s, sizeof full.s) != 0 || !is_regular(full.s) ||
            realpath(full.s, real.s) == NULL)
            continue;
        if (!is_under(real.s, rootreal) || path_has_dot_segment(below(real.s, rootreal))) {
            out->kind = ROUTE_FORBIDDEN;
            return true;
        }
        out->kind = ROUTE_EXTENSION;
        out->handler = strdup(map->handler);
        out->script_name = strdup(url.s);
        out->script_filename = strdup(real.s);
        out->path_info = strdup(path);
        out->path_translated = strdup(real.s);
        out->appl_physical_path = dir_with_slash(real.s);
        if (!out->handler || !out->script_name || !out->script_filename || !out->path_info ||
            !out->path_translated || !out->appl_physical_path)
            route_oom(out);
        return true;
    }
    return false;
}

/* ---- rule 4: static files ---- */

/* Files the root may contain but must never be sent as bytes: anything inside a script
 * directory, a --map handler, and any file of a mapped type (reached through a symlink or an
 * index file under another name, it would leak its source). */
/* realpath() of a configured path, through the resolution cache (key: kind + index, which
 * cannot collide with a URL). */
static bool cached_realpath(const config_t *cfg, char kind, size_t index, const char *path,
                            char *out, size_t out_size)
{
    char key[24];
    int n = snprintf(key, sizeof key, "\001%c%zu", kind, index);
    if (route_cache_get(cfg, key, (size_t)n, out, out_size))
        return true;
    if (realpath(path, out) == NULL)
        return false;
    route_cache_put(cfg, key, (size_t)n, out);
    return true;
}

static bool is_protected(const config_t *cfg, const char *real)
{
    strbuf_t other;
    for (size_t i = 0; i < cfg->n_scripts; i++) {
        if (cached_realpath(cfg, 's', i, cfg->scripts[i].dir, other.s, sizeof other.s) &&
            is_under(real, other.s))
            return true;
    }
    for (size_t i = 0; i < cfg->n_maps; i++) {
        const char *ext = cfg->maps[i].ext;
        if (ext[0] != '\0' && path_ends_with_ci(real, ext))
            return true;
        if (cached_realpath(cfg, 'm', i, cfg->maps[i].handler, other.s, sizeof other.s) &&
            strcmp(real, other.s) == 0)
            return true;
    }
    return false;
}

static route_kind_t realpath_error_kind(int err)
{
    return err == EACCES || err == ELOOP ? ROUTE_FORBIDDEN : ROUTE_NOT_FOUND;
}

static void route_static(const config_t *cfg, const char *rootreal, const char *path,
                         route_t *out)
{
    strbuf_t full, real;
    if (path_join(cfg->root, path, full.s, sizeof full.s) != 0) {
        out->kind = ROUTE_NOT_FOUND;
        return;
    }
    if (realpath(full.s, real.s) == NULL) {
        out->kind = realpath_error_kind(errno);
        return;
    }
    if (!is_under(real.s, rootreal) || path_has_dot_segment(below(real.s, rootreal))) {
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
        if (!is_under(real.s, rootreal) || path_has_dot_segment(below(real.s, rootreal)) ||
            stat(real.s, &st) != 0) {
            out->kind = ROUTE_FORBIDDEN;
            return;
        }
    }
    if (!S_ISREG(st.st_mode) || is_protected(cfg, real.s)) {
        out->kind = ROUTE_FORBIDDEN;
        return;
    }
    out->kind = ROUTE_STATIC;
    out->file = strdup(real.s);
    if (out->file == NULL)
        route_oom(out);
}

void route_resolve(const config_t *cfg, const char *path, route_t *out)
{
    route_clear(out);
    if (path == NULL || path[0] != '/' || cfg->root == NULL)
        return;

    const script_dir_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < cfg->n_scripts; i++) {
        size_t n = prefix_len(cfg->scripts[i].prefix);
        if ((best == NULL || n > best_len) && prefix_matches(path, cfg->scripts[i].prefix, n)) {
            best = &cfg->scripts[i];
            best_len = n;
        }
    }
    if (best != NULL && route_script(cfg, best, best_len, path, out))
        return;

    if (path_has_dot_segment(path)) {
        out->kind = ROUTE_FORBIDDEN;
        return;
    }

    strbuf_t rootreal;
    static const char root_key[] = "\001root"; /* not a URL: cannot collide with one */
    if (!route_cache_get(cfg, root_key, sizeof root_key - 1, rootreal.s, sizeof rootreal.s)) {
        if (realpath(cfg->root, rootreal.s) == NULL) {
            out->kind = ROUTE_NOT_FOUND;
            return;
        }
        route_cache_put(cfg, root_key, sizeof root_key - 1, rootreal.s);
    }
    if (cfg->n_maps > 0 && route_map(cfg, rootreal.s, path, out))
        return;
    route_static(cfg, rootreal.s, path, out);
}
