/* Routing rule 4 (split from route.c): static files below the root. A static file is opened
 * here, below the site's descriptor of the root and refusing every symlink on the way, so the
 * file served is the one checked; without openat2 it is opened by path after realpath() and the
 * checks. Holds no state of its own: the cache and the site are the router's (route_site.c). A
 * route_t filled here owns its fd and strings (route_free releases them). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "path.h"
#include "route_internal.h"

/* out := REDIRECT to path + "/", percent-encoded, so a decoded path can never put a blank,
 * CR/LF or '?' into the response head. */
static void redirect_found(route_t *out, route_mem_t *mem, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(path);
    char *loc = route_strings_alloc(out, mem, n * 3 + 2);
    if (loc == NULL) {
        route_oom(out);
        return;
    }
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
    out->kind = ROUTE_REDIRECT;
    out->location = loc;
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
        if (ext[0] != '\0' && !script_map_is_wildcard(&cfg->maps[i]) && path_ends_with_ci(real, ext))
            return true;
    }
    return false;
}

static route_kind_t realpath_error_kind(int err)
{
    return err == EACCES || err == ELOOP ? ROUTE_FORBIDDEN : ROUTE_NOT_FOUND;
}

/* out->file := a copy of real (mem's or the heap's); false when memory runs out. */
static bool file_copy(route_t *out, route_mem_t *mem, const char *real)
{
    size_t n = strlen(real) + 1;
    out->file = route_strings_alloc(out, mem, n);
    if (out->file == NULL)
        return false;
    memcpy(out->file, real, n);
    return true;
}

/* out := STATIC for the open regular file fd (taken over) whose canonical path is real. */
static void static_found(route_t *out, route_mem_t *mem, const char *real, int fd,
                         const struct stat *st)
{
    out->kind = ROUTE_STATIC;
    out->fd = fd;
    out->st = *st;
    if (!file_copy(out, mem, real))
        route_oom(out); /* closes fd */
}

/* out := STATIC whose open failed with err: static_file_respond turns err into the status. */
static void static_failed(route_t *out, route_mem_t *mem, const char *real, int err)
{
    out->kind = ROUTE_STATIC;
    out->fd = -1;
    out->fd_errno = err;
    if (!file_copy(out, mem, real))
        route_oom(out);
}

/* A cached resolution: rel was found canonical, below the root, not protected and a regular
 * file, with this very site (same generation, so the same root descriptor and real paths).
 * Opening it refusing symlinks opens exactly that path, so the verdict still holds for whatever
 * is there now, if it is a regular file. false (nothing opened) when it is not, or is gone: the
 * caller then resolves afresh. */
static bool static_cached(const route_site_t *site, const char *rel, route_mem_t *mem,
                          route_t *out)
{
    strbuf_t real;
    if (path_join(site->root_real, rel, real.s, sizeof real.s) != 0)
        return false;
    int fd = route_site_open_beneath(site, rel);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return false;
    }
    static_found(out, mem, real.s, fd, &st);
    return true;
}

/* The URL path taken as the canonical path: it is normalised and free of dot segments (rule 2
 * ran), so when it opens below the root without meeting a symlink, root_real + path is the
 * file's real path and realpath() could only confirm it. A path ending in '/' names its
 * directory's index.html. Returns false when only the full resolution can tell: a symlink on
 * the way (ELOOP), a directory without index.html (ENOENT), permissions, anything unusual. */
static bool static_direct(const config_t *cfg, const route_site_t *site, const char *path,
                          route_mem_t *mem, route_t *out)
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
    int fd = route_site_open_beneath(site, rel.s);
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
        static_found(out, mem, real.s, fd, &st);
        return true;
    }
    close(fd);
    if (S_ISDIR(st.st_mode) && !dir) {
        redirect_found(out, mem, path);
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
static void static_full(router_t *rt, router_thread_t *t, const route_site_t *site,
                        const char *path, time_t now, route_mem_t *mem, route_t *out)
{
    const config_t *cfg = rt->cfg;
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
            redirect_found(out, mem, path);
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

    bool beneath = route_site_openat2(rt, site);
    const char *rel = below(real.s, rootreal); /* "/..." (real is a file, the root a directory) */
    while (*rel == '/')
        rel++;
    int fd = beneath ? route_site_open_beneath(site, rel) : open(real.s, STATIC_OPEN_FLAGS | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        static_failed(out, mem, real.s, err);
        return;
    }
    if (!S_ISREG(st.st_mode)) { /* swapped after the checks */
        close(fd);
        out->kind = ROUTE_FORBIDDEN;
        return;
    }
    static_found(out, mem, real.s, fd, &st);
    if (beneath && out->kind == ROUTE_STATIC)
        route_cache_put(t, CACHE_STATIC, site->gen, path, strlen(path), now, rel);
}

void route_static(router_t *rt, router_thread_t *t, const route_site_t *site, const char *path,
                  time_t now, route_mem_t *mem, route_t *out)
{
    if (route_site_openat2(rt, site)) {
        size_t n = strlen(path), rel_len;
        const char *rel = route_cache_get(t, CACHE_STATIC, site->gen, path, n, now, &rel_len, NULL);
        if (rel != NULL) {
            if (static_cached(site, rel, mem, out))
                return;
            route_cache_drop(t, CACHE_STATIC, site->gen, path, n);
        }
        if (static_direct(rt->cfg, site, path, mem, out))
            return;
    }
    static_full(rt, t, site, path, now, mem, out);
}

bool route_is_server_code(router_t *rt, const char *real)
{
    router_thread_t *t = router_thread(rt);
    const route_site_t *site = t ? route_site_get(rt, t, time(NULL)) : NULL;
    return site == NULL || is_server_code(rt->cfg, site, real); /* no site: nothing is known safe */
}
