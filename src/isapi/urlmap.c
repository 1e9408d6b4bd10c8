/* HSE_REQ_MAP_URL_TO_PATH: URL → canonical path, refused where a static request would be
 * (urlmap.h). The rules themselves are routing's (route.h: route_match_prefix, route_contained,
 * route_is_server_code); this file only finds the canonical path of something that need not
 * exist yet. */
#define _GNU_SOURCE
#include "urlmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "path.h"
#include "route.h"

typedef struct strbuf {
    char s[PATH_MAX];
} strbuf_t;

/* The canonical form of full, an absolute path that need not exist: the realpath() of its
 * longest existing ancestor, followed by the rest as written (normalised URL text: no dot
 * segments, single slashes). The first missing component must really be missing: one that
 * exists but does not resolve is a dangling symlink, whose target nobody has checked. A
 * trailing '/' is kept. */
static urlmap_status_t canonical_of(const char *full, strbuf_t *real)
{
    strbuf_t anc, anc_real;
    size_t n = strlen(full);
    if (n >= sizeof anc.s)
        return URLMAP_TOO_LONG;
    memcpy(anc.s, full, n + 1);
    bool dir = n > 1 && full[n - 1] == '/';
    size_t cut = n; /* anc.s is full[0..cut) */
    while (realpath(anc.s, anc_real.s) == NULL) {
        if (errno == ENOTDIR)
            return URLMAP_NO_PATH;
        if (errno != ENOENT)
            return URLMAP_FORBIDDEN; /* EACCES, ELOOP */
        struct stat st;
        if (lstat(anc.s, &st) == 0)
            return URLMAP_FORBIDDEN; /* there, yet ENOENT: a dangling symlink */
        while (cut > 1 && anc.s[cut - 1] == '/')
            cut--;
        while (cut > 1 && anc.s[cut - 1] != '/')
            cut--;
        if (cut <= 1)
            return URLMAP_NO_PATH; /* the base directory itself is gone */
        anc.s[cut] = '\0';
    }
    const char *tail = full + cut; /* "" or the missing components, the trailing '/' with them */
    if (path_join(anc_real.s, tail, real->s, sizeof real->s) != 0)
        return URLMAP_TOO_LONG;
    size_t m = strlen(real->s);
    if (dir && *tail == '\0' && real->s[m - 1] != '/') {
        if (m + 2 > sizeof real->s)
            return URLMAP_TOO_LONG;
        memcpy(real->s + m, "/", 2);
    }
    return URLMAP_OK;
}

urlmap_status_t urlmap_resolve(router_t *rt, const char *path, urlmap_t *out)
{
    const config_t *cfg = router_config(rt);
    memset(out, 0, sizeof *out);
    if (path == NULL || path[0] != '/' || cfg->root == NULL)
        return URLMAP_NO_PATH;
    route_prefix_t m;
    route_match_prefix(rt, path, &m);
    const script_dir_t *sd = m.dir;
    if (path_has_dot_segment(m.rest))
        return URLMAP_FORBIDDEN;

    strbuf_t base_real, full, real;
    if (sd != NULL ? realpath(sd->dir, base_real.s) == NULL
                   : !route_root_real(rt, base_real.s, sizeof base_real.s))
        return URLMAP_NO_PATH;
    if (path_join(base_real.s, m.rest, full.s, sizeof full.s) != 0)
        return URLMAP_TOO_LONG;
    urlmap_status_t st = canonical_of(full.s, &real);
    if (st != URLMAP_OK)
        return st;
    bool contained = route_contained(real.s, base_real.s);
    memcpy(out->path, real.s, strlen(real.s) + 1);
    out->script = sd != NULL;
    out->match_url = m.url_len;
    out->match_path = contained ? strlen(base_real.s) : 0;
    if (sd != NULL) /* the script directory's rule: no way out but the operator's */
        return contained || cfg->follow_script_symlinks ? URLMAP_OK : URLMAP_FORBIDDEN;
    return contained && !route_is_server_code(rt, real.s) ? URLMAP_OK : URLMAP_FORBIDDEN;
}
