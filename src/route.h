/* Routing: what a decoded, normalised URL path names. Consults the configuration (script dirs,
 * script maps, root) and the file system. */
#ifndef ISAPID_ROUTE_H
#define ISAPID_ROUTE_H

#include "config.h"

typedef enum {
    ROUTE_STATIC,       /* file: a regular file below the root (index.html already appended) */
    ROUTE_EXTENSION,    /* extension (--scripts) or handler (--map): handler is the .so to run */
    ROUTE_REDIRECT,     /* directory named without trailing '/': 301 to location */
    ROUTE_NOT_FOUND,    /* 404 */
    ROUTE_FORBIDDEN,    /* 403: dotfile, directory without index.html, escape from the root via
                         * symlink, a file the server may not read */
} route_kind_t;

/* Every string is malloc'ed and owned by the route_t; route_free releases them. Absent = NULL. */
typedef struct route {
    route_kind_t kind;
    char *file;               /* STATIC: absolute file path to serve */
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
 * 4. Static below the root: realpath() must stay below realpath(root) (symlinks leading out →
 *    FORBIDDEN); directory without trailing '/' → REDIRECT; directory → its index.html or
 *    FORBIDDEN; missing → NOT_FOUND.
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
 * - Script directories are the administrator's: symlinks in them are followed. handler and
 *   script_filename are the realpath() of the extension, so one library reached by two names
 *   is loaded once.
 * - Script maps need the mapped file to exist as a regular file below the root (first matching
 *   segment from the left, longest --map extension wins); a directory named "x.EXT" does not
 *   count. handler is the map's handler as configured.
 * - Never served as bytes (→ FORBIDDEN even when they lie below the root): anything inside a
 *   script directory, a --map handler, and any file whose real name has a mapped extension
 *   (reached through a symlink or as index.html of another name, it would leak its source).
 * - file, script_filename and appl_physical_path are canonical (realpath) paths.
 *   path_translated for --scripts is root + path_info as text (it need not exist).
 * - A regular file the server cannot read is STATIC; static_file_respond answers 403 when
 *   open() fails. Directories the server cannot search give FORBIDDEN here.
 * - location is percent-encoded (the path it comes from is decoded).
 * - Out of memory → NOT_FOUND with every string NULL.
 * Cost: realpath() of the root, of each script dir and each handler on every static request;
 * a table resolved once at start-up would remove those if they show up in profiles. */
void route_resolve(const config_t *cfg, const char *path, route_t *out);
void route_free(route_t *r);

#endif
