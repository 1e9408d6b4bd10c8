/* Routing: URL path → static file, extension, redirect or refusal. The rules and their order
 * are in route.h. Containment is decided on canonical paths, never on the URL alone: a URL that
 * looks harmless may still reach a symlink. A static file is opened below a descriptor of the
 * root, refusing every symlink on the way, so the file served is the one checked (route_static.c).
 *
 * Split into three files: this one holds the rules in their order (1: script directories, 2: dot
 * segments, 3: script maps) and the public entry points; route_static.c holds rule 4 (static
 * files); route_site.c the router object: the per-thread resolution cache and site, and the root
 * descriptor; route_internal.h what they share. A route_t filled here owns its strings
 * (route_free). */
#define _GNU_SOURCE /* O_PATH */
#include "route_internal.h"

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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "httputil.h"
#include "log.h"
#include "path.h"

static void route_clear(route_t *r)
{
    memset(r, 0, offsetof(route_t, st));
    r->kind = ROUTE_NOT_FOUND;
    r->fd = -1;
}

void route_release(route_t *r)
{
    if (r->kind == ROUTE_STATIC && r->fd >= 0)
        close(r->fd);
    if (!r->borrowed) {
        free(r->file);
        free(r->location);
        free(r->strings); /* the EXTENSION strings */
    }
}

void route_disown(route_t *r)
{
    r->kind = ROUTE_NOT_FOUND;
    r->fd = -1;
    r->borrowed = false;
    r->file = r->location = r->strings = NULL;
}

void route_free(route_t *r)
{
    if (r == NULL)
        return;
    route_release(r);
    route_clear(r);
}

char *route_strings_alloc(route_t *out, route_mem_t *mem, size_t n)
{
    if (mem->buf == NULL || n > mem->cap)
        return malloc(n);
    out->borrowed = true;
    out->strings = mem->buf;
    out->strings_size = (uint32_t)n;
    mem->buf = NULL;
    return out->strings;
}

size_t route_keep_size(const route_t *r)
{
    return r->borrowed ? r->strings_size : 0;
}

void route_keep(route_t *r, char *dst)
{
    if (!r->borrowed)
        return;
    const char *from = r->strings;
    memcpy(dst, from, r->strings_size);
    /* Each string of the route lies in the block: the same offset in dst. */
    if (r->kind == ROUTE_EXTENSION) {
        r->handler = dst + (r->handler - from);
        r->script_name = dst + (r->script_name - from);
        r->script_filename = dst + (r->script_filename - from);
        r->path_info = dst + (r->path_info - from);
        r->path_translated = dst + (r->path_translated - from);
        r->appl_physical_path = dst + (r->appl_physical_path - from);
    } else if (r->kind == ROUTE_STATIC) {
        r->file = dst + (r->file - from);
    } else {
        r->location = dst + (r->location - from); /* REDIRECT */
    }
    r->strings = dst;
}

void route_replace_file(route_t *r, char *file)
{
    /* A STATIC route's only string is its file: once it is replaced, nothing of the route lies
     * in a borrowed block any more. */
    if (!r->borrowed)
        free(r->file);
    r->borrowed = false;
    r->strings = NULL;
    r->strings_size = 0;
    r->file = file;
}

static bool is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* s[0..end) ends in suffix (k bytes, lower case), in any case. */
static bool ends_ci(const char *s, size_t end, const char *suffix, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[end - k + i];
        if (http_ascii_lower(c) != (unsigned char)suffix[i])
            return false;
    }
    return true;
}

/* Length of a configured prefix without trailing '/' ("/" stays 1). */
static size_t prefix_len(const char *prefix)
{
    size_t n = strlen(prefix);
    while (n > 1 && prefix[n - 1] == '/')
        n--;
    return n;
}

/* A string as (pointer, length), not necessarily NUL-terminated. */
typedef struct {
    const char *s;
    size_t n;
} piece_t;

/* Where extension_found puts piece s: no copy of its own when it is empty (the NUL that ends the
 * handler's copy) or the handler's piece itself (the handler's copy); else the next one at *p.
 * The route lives as long as its request, a parked one too, so nothing is copied twice; the
 * strings are never written through. */
static size_t piece_room(piece_t s, piece_t handler)
{
    return s.n == 0 || (s.s == handler.s && s.n == handler.n) ? 0 : s.n + 1;
}

static char *piece_put(char **p, piece_t s, piece_t handler, char *handler_copy)
{
    if (s.n == 0)
        return handler_copy + handler.n;
    if (s.s == handler.s && s.n == handler.n)
        return handler_copy;
    char *d = *p;
    memcpy(d, s.s, s.n);
    d[s.n] = '\0';
    *p += s.n + 1;
    return d;
}

/* out := EXTENSION with these strings, copied into one block (out->strings: mem's or the
 * heap's); appl_physical_path is the directory of script_filename with its '/'. */
static void extension_found(route_t *out, route_mem_t *mem, piece_t handler, piece_t script_name,
                            piece_t script_filename, piece_t path_info, piece_t path_translated)
{
    const char *slash = memrchr(script_filename.s, '/', script_filename.n);
    piece_t appl = {script_filename.s, slash ? (size_t)(slash - script_filename.s) + 1 : 0};
    size_t total = handler.n + 1 + piece_room(script_name, handler) +
                   piece_room(script_filename, handler) + piece_room(path_info, handler) +
                   piece_room(path_translated, handler) + piece_room(appl, handler);
    char *p = route_strings_alloc(out, mem, total);
    if (p == NULL) {
        route_oom(out);
        return;
    }
    out->kind = ROUTE_EXTENSION;
    out->strings = p;
    out->strings_size = (uint32_t)total;
    out->handler = p;
    memcpy(p, handler.s, handler.n);
    p[handler.n] = '\0';
    p += handler.n + 1;
    out->script_name = piece_put(&p, script_name, handler, out->handler);
    out->script_filename = piece_put(&p, script_filename, handler, out->handler);
    out->path_info = piece_put(&p, path_info, handler, out->handler);
    out->path_translated = piece_put(&p, path_translated, handler, out->handler);
    out->appl_physical_path = piece_put(&p, appl, handler, out->handler);
}

static piece_t piece(const char *s) { return (piece_t){s, strlen(s)}; }

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
        if (http_ascii_ncasecmp(name, stem, stem_len) != 0)
            continue;
        int rank;
        if (http_ascii_casecmp(name + stem_len, ".so") == 0)
            rank = prefer_so ? 2 : 1;
        else if (http_ascii_casecmp(name + stem_len, ".dll") == 0)
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

static bool is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The directory base + "/" + rel (rel: "" or "/a/b/", as the URL wrote it) into out, each
 * segment that does not exist as written matched without regard to case, as IIS's file system
 * would: a form posts to /scripts/forms/x.dll for Forms/X.so. Among names that differ only in
 * case the smallest (strcmp) wins, so the answer does not depend on readdir order. */
static bool resolve_dir_ci(const char *base, const char *rel, strbuf_t *out)
{
    if (path_join(base, rel, out->s, sizeof out->s) != 0)
        return false;
    if (rel[0] == '\0' || is_directory(out->s))
        return true; /* the common case: as written */
    strbuf_t cur;
    if (strlen(base) >= sizeof cur.s)
        return false;
    strcpy(cur.s, base);
    for (const char *p = rel; *p != '\0';) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            break;
        if (n > NAME_MAX)
            return false;
        char seg[NAME_MAX + 1], best[NAME_MAX + 1] = "";
        memcpy(seg, p, n);
        seg[n] = '\0';
        p += n;
        strbuf_t next;
        if (path_join(cur.s, seg, next.s, sizeof next.s) == 0 && is_directory(next.s)) {
            cur = next;
            continue;
        }
        DIR *d = opendir(cur.s);
        if (d == NULL)
            return false;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (http_ascii_casecmp(e->d_name, seg) != 0 || (best[0] != '\0' && strcmp(e->d_name, best) >= 0))
                continue;
            strbuf_t cand;
            if (path_join(cur.s, e->d_name, cand.s, sizeof cand.s) == 0 && is_directory(cand.s))
                strcpy(best, e->d_name); /* d_name is at most NAME_MAX bytes */
        }
        closedir(d);
        if (best[0] == '\0' || path_join(cur.s, best, next.s, sizeof next.s) != 0)
            return false;
        cur = next;
    }
    *out = cur;
    return true;
}

/* An extension found in script directory sd whose real path is real may be loaded: it lies in
 * the directory's real path, or the operator allows symlinks out of it
 * (--follow-script-symlinks). A refusal is logged (rate-limited: any client can repeat it);
 * url[0..url_len) is the extension's URL. Only successes are cached, so a refusal is checked
 * again on every request, and a symlink fixed by the operator is seen at once. */
static bool script_contained(router_t *rt, const script_dir_t *sd, const char *url,
                             size_t url_len, const char *real)
{
    if (rt->cfg->follow_script_symlinks)
        return true;
    strbuf_t dir_real;
    if (realpath(sd->dir, dir_real.s) != NULL && is_under(real, dir_real.s))
        return true;
    log_limited(&rt->script_refused, LOG_WARN,
                "refusing to load %.*s: the extension's file is %s, outside the script "
                "directory %s (a symlink leads out of it; --follow-script-symlinks allows that)",
                (int)url_len, url, real, sd->dir);
    return false;
}

/* The strings of an extension found by route_script (real: its file's real path). */
static void script_strings(const config_t *cfg, const char *path, const char *rest, size_t end,
                           piece_t real, route_mem_t *mem, route_t *out)
{
    strbuf_t pt;
    size_t pt_len = 0;
    if (rest[end] != '\0' && path_join(cfg->root, rest + end, pt.s, sizeof pt.s) == 0)
        pt_len = strlen(pt.s);
    extension_found(out, mem, real, (piece_t){path, (size_t)(rest - path) + end}, real,
                    piece(rest + end), (piece_t){pt.s, pt_len});
}

/* The file of the extension named by rest[seg..end) (its suffix suffix_len bytes) in script
 * directory sd: its real path into real and ROUTE_EXTENSION, or why not (NOT_FOUND,
 * FORBIDDEN). The cases of rule 1 (route.h): the name as written, other suffixes, any case. */
static route_kind_t script_find(router_t *rt, const script_dir_t *sd, const char *path,
                                const char *rest, size_t seg, size_t end, size_t suffix_len,
                                strbuf_t *real)
{
    /* rel = sub-directories as the URL wrote them: "/sub/" of "/sub/X.dll" */
    strbuf_t rel, try1, dirpath; /* route_script saw end < PATH_MAX */
    memcpy(rel.s, rest, seg);
    rel.s[seg] = '\0';
    bool url_so = suffix_len == 3;
    const char *stem = rest + seg;
    size_t stem_len = end - seg - suffix_len;
    size_t url_len = (size_t)(rest - path) + end;
    bool have = false;
    if (end - seg <= NAME_MAX && resolve_dir_ci(sd->dir, rel.s, &dirpath)) {
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
    if (!have || realpath(try1.s, real->s) == NULL)
        return ROUTE_NOT_FOUND;
    if (!script_contained(rt, sd, path, url_len, real->s))
        return ROUTE_FORBIDDEN;
    return ROUTE_EXTENSION;
}

/* Returns false when the path names no extension and the prefix is "/", which then leaves the
 * rest of the URL space to the other rules. Otherwise fills out and returns true. */
static bool route_script(router_t *rt, router_thread_t *t, const route_prefix_t *m,
                         const char *path, time_t now, route_mem_t *mem, route_t *out)
{
    const script_dir_t *sd = m->dir;
    bool is_slash = m->url_len == 0;
    const char *rest = m->rest; /* "" or "/..." */

    /* The first segment whose name ends in .dll or .so, with something before the suffix; and
     * whether any segment up to it starts with '.' (path_has_dot_segment of that part). */
    size_t seg = 0, end = 0, suffix_len = 0;
    bool found = false, dot_segment = false;
    for (size_t i = 0; rest[i] != '\0' && !found;) {
        if (rest[i] == '/') {
            i++;
            continue;
        }
        seg = i;
        dot_segment |= rest[i] == '.';
        i = end = (size_t)(strchrnul(rest + i, '/') - rest);
        size_t n = end - seg;
        if (n > 4 && ends_ci(rest, end, ".dll", 4)) {
            suffix_len = 4;
            found = true;
        } else if (n > 3 && ends_ci(rest, end, ".so", 3)) {
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
    if (end >= PATH_MAX || dot_segment) {
        out->kind = end >= PATH_MAX ? ROUTE_NOT_FOUND : ROUTE_FORBIDDEN;
        return true;
    }

    size_t url_len = (size_t)(rest - path) + end; /* the extension's URL: the cache key */
    size_t real_len;
    time_t at;
    const char *real_s =
        route_cache_get(t, CACHE_EXTENSION, 0, path, url_len, now, &real_len, &at);
    if (real_s == NULL) {
        strbuf_t real;
        route_kind_t refused = script_find(rt, sd, path, rest, seg, end, suffix_len, &real);
        if (refused != ROUTE_EXTENSION) {
            out->kind = refused;
            return true;
        }
        route_cache_put(t, CACHE_EXTENSION, 0, path, url_len, now, real.s);
        script_strings(rt->cfg, path, rest, end, piece(real.s), mem, out);
        at = now;
    } else {
        script_strings(rt->cfg, path, rest, end, (piece_t){real_s, real_len}, mem, out);
    }
    route_memo_put(t, rt->cfg, path, at, out);
    return true;
}

/* ---- rule 3: script maps ---- */

/* The --map whose extension ends name[0..n) (longest wins), with a non-empty name before it. */
static const script_map_t *map_for(const config_t *cfg, const char *name, size_t n)
{
    const script_map_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < cfg->n_maps; i++) {
        if (script_map_is_wildcard(&cfg->maps[i]))
            continue;
        const char *ext = cfg->maps[i].ext;
        size_t k = strlen(ext);
        if (k > 0 && k < n && k > best_len && http_ascii_ncasecmp(name + n - k, ext, k) == 0) {
            best = &cfg->maps[i];
            best_len = k;
        }
    }
    return best;
}

/* Returns true when a mapped file handled (or refused) the request. */
static bool route_map(const config_t *cfg, const char *rootreal, const char *path,
                      route_mem_t *mem, route_t *out)
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
        /* IIS 6's script maps: PATH_INFO is the whole URL path, PATH_TRANSLATED its physical
         * path (the mapped file itself when no path follows it). */
        strbuf_t pt;
        if (path[i] == '\0' || path_join(cfg->root, path, pt.s, sizeof pt.s) != 0)
            strcpy(pt.s, real.s);
        extension_found(out, mem, piece(map->handler), piece(url.s), piece(real.s), piece(path),
                        piece(pt.s));
        return true;
    }
    return false;
}

void route_match_prefix(const router_t *rt, const char *path, route_prefix_t *out)
{
    const config_t *cfg = rt->cfg;
    const script_dir_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < cfg->n_scripts; i++) {
        size_t n = prefix_len(cfg->scripts[i].prefix);
        if ((best == NULL || n > best_len) && is_under_n(path, cfg->scripts[i].prefix, n)) {
            best = &cfg->scripts[i];
            best_len = n;
        }
    }
    /* "/" (length 1) leaves the whole path below it */
    out->dir = best;
    out->url_len = best != NULL && !(best_len == 1 && best->prefix[0] == '/') ? best_len : 0;
    out->rest = path + out->url_len;
}

/* ---- rule 0: wildcard application maps ---- */

unsigned route_match_wildcard(const router_t *rt, const char *path, unsigned after)
{
    const config_t *cfg = rt->cfg;
    for (size_t i = after; i < cfg->n_maps; i++) {
        const char *prefix = cfg->maps[i].ext;
        if (script_map_is_wildcard(&cfg->maps[i]) && is_under_n(path, prefix, prefix_len(prefix)))
            return (unsigned)i + 1;
    }
    return 0;
}

/* The requested resource is the wildcard's: the strings of rule 0 (route.h). */
static void route_wildcard(const config_t *cfg, unsigned wildcard, const char *path,
                           route_mem_t *mem, route_t *out)
{
    strbuf_t pt;
    if (path_join(cfg->root, path, pt.s, sizeof pt.s) != 0) {
        out->kind = ROUTE_NOT_FOUND;
        return;
    }
    piece_t p = piece(path), t = piece(pt.s);
    extension_found(out, mem, piece(cfg->maps[wildcard - 1].handler), p, t, p, t);
    if (out->kind == ROUTE_EXTENSION)
        out->wildcard = wildcard;
}

bool route_contained(const char *real, const char *dir_real)
{
    return is_under(real, dir_real) && !path_has_dot_segment(below(real, dir_real));
}

bool route_root_real(router_t *rt, char *out, size_t n)
{
    router_thread_t *t = router_thread(rt);
    const route_site_t *site = t ? route_site_get(rt, t, time(NULL)) : NULL;
    size_t len = site ? strlen(site->root_real) : 0;
    if (site == NULL || len >= n)
        return false;
    memcpy(out, site->root_real, len + 1);
    return true;
}

static void resolve(router_t *rt, const char *path, unsigned after, route_mem_t *mem,
                    route_t *out);

void route_resolve(router_t *rt, const char *path, route_t *out)
{
    route_mem_t heap = {NULL, 0};
    resolve(rt, path, 0, &heap, out);
}

void route_resolve_after(router_t *rt, const char *path, unsigned after, route_t *out)
{
    route_mem_t heap = {NULL, 0};
    resolve(rt, path, after, &heap, out);
}

void route_resolve_in(router_t *rt, const char *path, char *mem, size_t cap, route_t *out)
{
    route_mem_t caller = {mem, cap};
    resolve(rt, path, 0, &caller, out);
}

static void resolve(router_t *rt, const char *path, unsigned after, route_mem_t *mem,
                    route_t *out)
{
    const config_t *cfg = rt->cfg;
    route_clear(out);
    if (path == NULL || path[0] != '/' || cfg->root == NULL)
        return;
    unsigned wildcard = cfg->n_maps > 0 ? route_match_wildcard(rt, path, after) : 0;
    if (wildcard) {
        route_wildcard(cfg, wildcard, path, mem, out);
        return;
    }
    router_thread_t *t = router_thread(rt);
    if (t == NULL)
        return; /* out of memory: NOT_FOUND */
    time_t now = time(NULL);
    if (cfg->n_scripts > 0 && route_memo_get(t, cfg, path, now, mem, out))
        return; /* rule 1, as it was decided for this path in the last second */

    route_prefix_t m;
    route_match_prefix(rt, path, &m);
    if (m.dir != NULL && route_script(rt, t, &m, path, now, mem, out))
        return;

    if (path_has_dot_segment(path)) {
        out->kind = ROUTE_FORBIDDEN;
        return;
    }

    const route_site_t *site = route_site_get(rt, t, now);
    if (site == NULL) {
        out->kind = ROUTE_NOT_FOUND;
        return;
    }
    if (cfg->n_maps > 0 && route_map(cfg, site->root_real, path, mem, out))
        return;
    route_static(rt, t, site, path, now, mem, out);
}

