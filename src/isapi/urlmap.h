/* HSE_REQ_MAP_URL_TO_PATH(_EX): where a URL lies on disk, under the rules static files obey
 * (src/http/route.h), so that an extension that opens what it is given cannot be led where a static
 * request could not go. */
#ifndef ISAPID_URLMAP_H
#define ISAPID_URLMAP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "route.h"

typedef enum {
    URLMAP_OK = 0,
    URLMAP_FORBIDDEN, /* the rules refuse it (urlmap_resolve) */
    URLMAP_NO_PATH,   /* a component on the way is not a directory; the root or the script
                       * directory is gone */
    URLMAP_TOO_LONG,  /* over PATH_MAX */
} urlmap_status_t;

typedef struct urlmap {
    char path[PATH_MAX];
    size_t match_path; /* length of the directory's canonical path at the start of path (0 when
                        * --follow-script-symlinks let the path lead elsewhere) */
    size_t match_url;  /* length of the script prefix in the URL (0 for the root and for "/") */
    bool script;       /* in a script directory (HSE_URL_FLAGS_EXECUTE | SCRIPT) */
} urlmap_t;

/* path: a normalised URL path (output of path_normalize), mapped under rt's configuration.
 * Under a script prefix (the one routing picks, route_match_prefix; "/" counts for every URL
 * here) the path lies in that script directory, else below the root. Like IIS, the path need
 * not exist: the longest existing ancestor is resolved (realpath) and the missing rest appended
 * as written. The path returned is canonical, with no symlink in it, so the extension can open
 * it refusing every symlink (RESOLVE_NO_SYMLINKS, or O_NOFOLLOW for the last component): what it
 * opens is then what was checked here.
 * Refused (URLMAP_FORBIDDEN), whether or not the file exists:
 * - a dot segment below the prefix or root, as written or once resolved (route rule 2);
 * - a canonical path outside the directory: a symlink leading out (route rule 4), except in a
 *   script directory with --follow-script-symlinks;
 * - below the root: anything inside a script directory or a --map handler (never served as
 *   bytes either). Files of mapped types do map: their handlers map their own URLs;
 * - a component that exists but does not resolve (a dangling symlink, a loop, EACCES): nobody
 *   can tell where it leads. */
urlmap_status_t urlmap_resolve(router_t *rt, const char *path, urlmap_t *out);

#endif
