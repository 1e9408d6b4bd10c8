/* Routing: what a decoded, normalised URL path names. Consults the configuration (script dirs,
 * script maps, root) and the file system; for a static file it also opens the file, since the
 * open is what enforces containment (rule 4). */
#ifndef ISAPID_ROUTE_H
#define ISAPID_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "config.h"

typedef enum {
    ROUTE_STATIC,       /* file: a regular file below the root (index.html already appended) */
    ROUTE_EXTENSION,    /* extension (--scripts) or handler (--map): handler is the .so to run */
    ROUTE_REDIRECT,     /* directory named without trailing '/': 301 to location */
    ROUTE_NOT_FOUND,    /* 404 */
    ROUTE_FORBIDDEN,    /* 403: dotfile, directory without index.html, escape from the root via
                         * symlink, a file the server may not read */
} route_kind_t;

/* Every string is owned by the route_t (EXTENSION's six share one allocation, `strings`);
 * route_free releases them. Absent = NULL. */
typedef struct route {
    route_kind_t kind;
    char *file;               /* STATIC: absolute canonical path of the file (for its name: the
                               * bytes come from fd) */
    int fd;                   /* STATIC: the file, opened O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NONBLOCK, or
                               * -1 when opening it failed (fd_errno says why). Owned by the route_t
                               * while kind is STATIC: route_free closes it; whoever takes it sets
                               * fd to -1. Other kinds: -1, never closed (so a route_t zeroed by a
                               * move, kind set to NOT_FOUND, never closes descriptor 0). */
    int fd_errno;             /* STATIC with fd -1: errno of the failed open/fstat */
    struct stat st;           /* STATIC with fd >= 0: fstat(fd), a regular file */
    char *location;           /* REDIRECT: path + "/" (the caller appends "?query" if any) */

    /* EXTENSION only: */
    char *handler;            /* absolute path of the .so to load (the X.so found, or the --map handler) */
    char *script_name;        /* URL of the extension ("/scripts/x.dll" exactly as the URL wrote it)
                               * or of the mapped file ("/dir/page.ext") */
    char *script_filename;    /* the extension's .so, or the mapped file (--map) */
    char *path_info;          /* --scripts: what follows the extension's name in the URL ("" if none);
                               * --map: the whole URL path (IIS's default for script maps) */
    char *path_translated;    /* --scripts: path_info mapped below the root ("" when path_info is "");
                               * --map: the mapped file */
    char *appl_physical_path; /* directory of script_filename with a trailing '/' */
    char *strings;            /* EXTENSION: the one allocation the six strings above live in */
} route_t;

/* path: output of path_normalize. Rules, in order:
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
 * (route.c: route_site_t); the root descriptor is one for the process, replaced when the root's
 * real path changes (route.c: root_handle_t). */
void route_resolve(const config_t *cfg, const char *path, route_t *out);
/* Releases the strings and, for STATIC, closes fd if it is still owned (>= 0). */
void route_free(route_t *r);

/* The rules above for code outside routing that applies them (urlmap.c). */
/* The script directory whose prefix owns path (the longest, as in rule 1; "/" owns every path
 * here), NULL for none; *prefix_len := the prefix's length without trailing '/'. */
const script_dir_t *route_script_dir_of(const config_t *cfg, const char *path, size_t *prefix_len);
/* Canonical path real lies in canonical directory dir_real (or is it), with no dot segment below
 * it (rules 2 and 4). */
bool route_contained(const char *real, const char *dir_real);
/* The root's canonical path into out[n]; false when it has none (gone) or it does not fit. */
bool route_root_real(const config_t *cfg, char *out, size_t n);
/* Canonical path real is code the server runs: inside a script directory, or a --map handler
 * (never served as bytes). true also when the real paths cannot be had (out of memory). */
bool route_is_server_code(const config_t *cfg, const char *real);

/* Opens the root's descriptor (one for the whole process, shared by every thread) now, at
 * start-up, rather than at the first request: the process then holds that one extra descriptor
 * for its whole life (a new one only if the root is re-pointed). Optional: route_resolve does
 * the same lazily. */
void route_prepare(const config_t *cfg);

/* Forgets the calling thread's cached resolutions and site, and the process's current root
 * handle (its descriptor is closed once no thread holds it): the next resolution starts afresh.
 * For tests, whose configurations change under one pointer; the server never needs it (a
 * configuration lives as long as the server). */
void route_cache_flush(void);
/* Tests: false makes static files open by path as on kernels without openat2 (and flushes the
 * calling thread's caches); true lets the next resolution probe for openat2 again. */
void route_use_openat2_for_tests(bool use);

#endif
