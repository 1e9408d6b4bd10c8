/* Routing: what a decoded, normalised URL path names. Consults the configuration (script dirs,
 * script maps, root) and the file system; for a static file it also opens the file, since the
 * open is what enforces containment (rule 4). The state routing keeps (the root's descriptor,
 * caches of resolutions and real paths) lives in a router_t, one per server. */
#ifndef ISAPID_ROUTE_H
#define ISAPID_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config.h"

/* The router: the configuration's rules plus what routing remembers between requests (the
 * root's descriptor, shared by every thread; per-thread caches of resolutions and real paths,
 * route_site.c). Created from the configuration by router_new, owned by the server, freed by
 * router_free. Any number of threads may use one router at once; each thread's caches are its
 * own and are freed when it exits. */
typedef struct router router_t;

/* Options of router_new (flags, or-ed). */
enum {
    /* Open static files by path (realpath, the checks, then open with O_NOFOLLOW), as on
     * kernels without openat2, even where openat2 is available; nothing static is cached. */
    ROUTER_OPEN_BY_PATH = 1u << 0,
};

/* A router for cfg, which must outlive it. cfg is read at every resolution: a change of its
 * root, script or map arrays is seen at the next one (cached resolutions of URLs last up to a
 * second). Opens the root's descriptor now (when the root exists), so the process holds that one
 * extra descriptor from start-up (a new one only when the root is re-pointed). NULL when memory
 * (or a thread-specific key) runs out. */
router_t *router_new(const config_t *cfg, unsigned flags);
/* Closes the root's descriptor and frees the caches. No other thread may use the router any
 * more. The caches of the threads that used it and have exited were freed when they exited, the
 * caller's are freed here; those of any other thread still alive are never reached again and
 * leak (with their reference to the root's descriptor), so the server frees its router only
 * after joining the threads that route. NULL is ignored. */
void router_free(router_t *rt);
/* The configuration the router was created from. */
const config_t *router_config(const router_t *rt);

typedef enum {
    ROUTE_STATIC,       /* file: a regular file below the root (index.html already appended) */
    ROUTE_EXTENSION,    /* extension (--scripts) or handler (--map): handler is the .so to run */
    ROUTE_REDIRECT,     /* directory named without trailing '/': 301 to location */
    ROUTE_NOT_FOUND,    /* 404 */
    ROUTE_FORBIDDEN,    /* 403: dotfile, directory without index.html, escape from the root via
                         * symlink, a file the server may not read */
} route_kind_t;

/* A route's strings are owned by the route_t (EXTENSION's six share one allocation, `strings`;
 * file and location have one each) and route_free releases them; or, when `borrowed`, they all
 * lie in one block of memory the route does not own (route_resolve_in's, or wherever route_keep
 * put them) and route_free releases none. Absent = NULL. */
typedef struct route {
    route_kind_t kind;
    bool borrowed;            /* the strings are in `strings`, strings_size bytes, not the route's
                               * (only EXTENSION, STATIC and REDIRECT routes have strings) */
    char *file;               /* STATIC: absolute canonical path of the file (for its name: the
                               * bytes come from fd) */
    int fd;                   /* STATIC: the file, opened O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NONBLOCK, or
                               * -1 when opening it failed (fd_errno says why). Owned by the route_t
                               * while kind is STATIC: route_free closes it; whoever takes it sets
                               * fd to -1. Other kinds: -1, never closed (so a route_t zeroed by a
                               * move, kind set to NOT_FOUND, never closes descriptor 0). */
    int fd_errno;             /* STATIC with fd -1: errno of the failed open/fstat */
    char *location;           /* REDIRECT: path + "/" (the caller appends "?query" if any) */

    /* EXTENSION only: */
    char *handler;            /* absolute path of the .so to load (the X.so found, or the --map handler) */
    char *script_name;        /* URL of the extension ("/scripts/x.dll" exactly as the URL wrote it)
                               * or of the mapped file ("/dir/page.ext") */
    char *script_filename;    /* the extension's .so, or the mapped file (--map) */
    char *path_info;          /* --scripts: what follows the extension's name in the URL ("" if none);
                               * --map: the whole URL path (IIS's default for script maps) */
    char *path_translated;    /* --scripts: path_info mapped below the root ("" when path_info is "");
                               * --map: the whole path mapped below the root (the mapped file when
                               * nothing follows its name) */
    char *appl_physical_path; /* directory of script_filename with a trailing '/' */
    unsigned wildcard;        /* EXTENSION routed by a wildcard map: 1 + its index in cfg->maps
                               * (what route_resolve_after passes over); 0 otherwise */
    uint32_t strings_size;    /* EXTENSION, and any borrowed route: the bytes of the block in
                               * `strings` */
    char *strings;            /* owned: EXTENSION's one allocation the six strings above live in;
                               * borrowed: the block every string of the route lies in (the six,
                               * file or location) */
    struct stat st;           /* STATIC with fd >= 0: fstat(fd), a regular file; undefined for
                               * any other route (last: clearing a route leaves its 144 bytes) */
} route_t;

/* path: output of path_normalize. Rules, in order:
 * 0. Wildcard application maps (--map /PREFIX/\*=HANDLER.so, /\* for every path), in their order
 *    in cfg->maps: the first whose prefix holds the path (on segment boundaries, case-sensitively,
 *    as script prefixes) → EXTENSION with handler = its handler, whatever the path names (static
 *    file, extension, nothing). Strings as IIS 6 sets them for a wildcard map (the requested
 *    resource, as for a script map): script_name = path_info = the path; path_translated =
 *    script_filename = root + path as text (it need not exist); appl_physical_path its directory.
 * 1. Script dirs (longest prefix first): the path is under PREFIX; the first segment below it
 *    whose name ends in ".dll" or ".so" (case-insensitive) names the extension. For "X.dll" the
 *    file DIR/X.dll is used if it exists, else DIR/X.so (case-insensitive match of the file name
 *    when the exact one is missing, §7.12); "X.so" likewise. Missing → NOT_FOUND. Anything under a
 *    script prefix that names no extension → NOT_FOUND (script dirs never serve static files).
 *    Sub-directories of a script dir are allowed ("/scripts/sub/x.dll").
 * 2. Dot segments anywhere → FORBIDDEN.
 * 3. Script maps: the path names an existing regular file below the root whose extension matches
 *    a --map (case-insensitive), or a segment "page.EXT" followed by more path → EXTENSION with
 *    handler = the map's handler.
 * 4. Static below the root: the file's canonical path must stay below realpath(root) (symlinks
 *    leading out → FORBIDDEN); directory without trailing '/' → REDIRECT; directory → its
 *    index.html or FORBIDDEN; missing → NOT_FOUND. A STATIC result holds the file open (fd, st).
 *
 * Details the rules above leave open:
 * - Prefixes match on segment boundaries and case-sensitively ("/scriptsX/a" and "/Scripts/a"
 *   are not under "/scripts"); only the extension's file name is matched in any case. Candidates
 *   for "X.DLL", in order: DIR/X.DLL, DIR/X.dll, DIR/X.so, then a directory scan for x.dll/x.so
 *   in any case (the URL's suffix preferred, then the smallest name, so the answer does not
 *   depend on readdir order).
 * - The prefix "/" owns only the URLs that name an extension: a path with no ".dll"/".so"
 *   segment falls through to rules 2-4, or "--scripts /=DIR" would turn the whole site into
 *   404s. A named extension that is missing is still NOT_FOUND.
 * - Dot segments in the sub-directories or name of an extension → FORBIDDEN; in PATH_INFO they
 *   are the extension's business and allowed.
 * - Script directories are the administrator's: symlinks in them are followed as long as the
 *   extension's real path stays in the directory's real path; one leading out is FORBIDDEN
 *   (logged, rate-limited) unless cfg->follow_script_symlinks. handler and script_filename are
 *   the realpath() of the extension, so one library reached by two names is loaded once.
 * - Script maps need the mapped file to exist as a regular file below the root (first matching
 *   segment from the left, longest --map extension wins); a directory named "x.EXT" does not
 *   count. handler is the map's handler as configured.
 * - Never served as bytes (→ FORBIDDEN even when they lie below the root): anything inside a
 *   script directory, a --map handler, and any file whose real name has a mapped extension
 *   (reached through a symlink or as index.html of another name, it would leak its source).
 * - file, script_filename and appl_physical_path are canonical (realpath) paths.
 *   path_translated for --scripts is root + path_info as text (it need not exist).
 * - A regular file the server cannot open is STATIC with fd -1 and fd_errno set;
 *   static_file_respond_route answers 403 (EACCES, ELOOP...), 404 or 500. Directories the
 *   server cannot search give FORBIDDEN here.
 * - location is percent-encoded (the path it comes from is decoded).
 * - Out of memory → NOT_FOUND with every string NULL.
 *
 * How rule 4 is enforced (Linux 5.6+, openat2): every static file is opened with
 * openat2(root descriptor, canonical path relative to the root, RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS). The kernel then refuses any symlink on the way
 * and any way out of the root, so the file opened is the one at the canonical path that was
 * checked, whatever changed in between; what is served is decided by fstat of that descriptor.
 * Three ways to the canonical path, tried in this order:
 * - a cached resolution of the URL (per thread, 1 s; only those that needed realpath, i.e.
 *   went through a symlink). A cached path that no longer opens as a regular file is dropped
 *   and resolved afresh, so a file deleted or replaced by a directory or a symlink is seen at
 *   once; a symlink re-pointed to another file inside the root may still serve its old target
 *   for up to a second, never anything unchecked.
 * - the URL path itself: normalised and free of dot segments, it is canonical exactly when it
 *   opens without meeting a symlink. One openat2 and one fstat, as for nginx. Like nginx, this
 *   opens before it knows the type: a FIFO or device node in the root is opened (non-blocking,
 *   never as a controlling terminal), then closed when fstat shows it is no regular file (403).
 * - realpath() and the checks on its result, then the open of the canonical path (a symlink
 *   swapped in after realpath() makes the open fail: 403).
 * Without openat2 (older kernels, a seccomp filter refusing it, a valgrind that does not know
 * the call, such as 3.19) the last way is the only one, the open is by absolute path with
 * O_NOFOLLOW, and nothing static is cached: containment then relies on realpath() just before
 * the open, as before openat2.
 * The real paths of the root, script dirs and handlers are resolved per thread once a second
 * (route_internal.h: route_site_t); the root descriptor is one for the router, shared by every
 * thread, replaced when the root's real path changes (route_site.c: root_handle_t). */
void route_resolve(router_t *rt, const char *path, route_t *out);
/* route_resolve with the wildcard maps up to and including cfg->maps[after - 1] passed over
 * (after: a route's `wildcard`; 0 = none passed over, UINT_MAX = all):
 * HSE_EXEC_URL_IGNORE_CURRENT_INTERCEPTOR, the chain going on after the current wildcard. */
void route_resolve_after(router_t *rt, const char *path, unsigned after, route_t *out);
/* route_resolve with the route's strings (of EXTENSION, STATIC or REDIRECT) built into mem[0..cap)
 * when they fit, the heap otherwise: the route then borrows them, and lasts only as long as mem
 * unless route_keep moves them. For a caller that is done with the route before mem goes (the
 * transport's own frame), or that keeps it with route_keep: no allocation for a common route.
 * ROUTE_MEM_COMMON bytes hold the strings of common routes. */
enum { ROUTE_MEM_COMMON = 1024 };
void route_resolve_in(router_t *rt, const char *path, char *mem, size_t cap, route_t *out);
/* The bytes route_keep needs: strings_size when the route borrows its strings, else 0. */
size_t route_keep_size(const route_t *r);
/* Moves the strings r borrows into dst (route_keep_size(r) bytes; nothing when that is 0): r
 * then borrows dst's, which must outlive it and never be written through (the ISAPI host's
 * request block, which a parked request holds anyway: no allocation of its own). */
void route_keep(route_t *r, char *dst);
/* A STATIC route's file becomes file (a heap string, now the route's; route_free frees it), the
 * one it had freed if the route owned it. */
void route_replace_file(route_t *r, char *file);
/* Releases the strings (unless borrowed) and, for STATIC, closes fd if it is still owned (>= 0). */
void route_free(route_t *r);
/* route_free for a route whose memory is given up right after: r is left as it was, its
 * strings and descriptor no longer its own (the ISAPI host's request end). */
void route_release(route_t *r);
/* What r held (its descriptor, its strings) now belongs to whoever copied r: r holds nothing,
 * and route_release / route_free of it do nothing. Cheaper than clearing it. */
void route_disown(route_t *r);

/* The rules above for code outside routing that applies them (urlmap.c). */

/* Which script prefix owns a path (rule 1: the longest; on segment boundaries and
 * case-sensitively). */
typedef struct route_prefix {
    const script_dir_t *dir; /* NULL: no script prefix owns the path */
    size_t url_len;          /* length of the prefix in the URL, without trailing '/'; 0 for the
                              * prefix "/" and for none */
    const char *rest;        /* the path below the prefix: path + url_len ("" or "/...") */
} route_prefix_t;
/* The script prefix that owns path ("/" owns every path here; route_resolve lets the paths that
 * name no extension fall through from it to rules 2-4). path: as for route_resolve. */
void route_match_prefix(const router_t *rt, const char *path, route_prefix_t *out);
/* The wildcard map that owns path (rule 0), the maps up to cfg->maps[after - 1] passed over: 1 +
 * its index in cfg->maps, 0 for none. */
unsigned route_match_wildcard(const router_t *rt, const char *path, unsigned after);
/* Canonical path real lies in canonical directory dir_real (or is it), with no dot segment below
 * it (rules 2 and 4). */
bool route_contained(const char *real, const char *dir_real);
/* The root's canonical path into out[n]; false when it has none (gone) or it does not fit. */
bool route_root_real(router_t *rt, char *out, size_t n);
/* Canonical path real is code the server runs: inside a script directory, or a --map handler
 * (never served as bytes). true also when the real paths cannot be had (out of memory). */
bool route_is_server_code(router_t *rt, const char *real);

#endif
