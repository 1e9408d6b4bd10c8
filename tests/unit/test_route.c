/* route_resolve against a real tree in a temporary directory: script dirs, script maps, static
 * files, redirects and every way out of the root that route must refuse; files swapped for
 * symlinks, directories or nothing between two resolutions (inside the cache's second). The
 * static checks run twice: with openat2 and with the by-path fallback of older kernels. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "route.h"
#include "urlmap.h"

/* The mode under test, and whether this kernel has openat2 (when it has not, both runs are
 * the fallback). */
static bool want_openat2;
static bool have_openat2;

static char base[PATH_MAX]; /* canonical temp dir */
#define PBUF (PATH_MAX + 64)
static char R[PBUF], S[PBUF], S2[PBUF], RS[PBUF], O[PBUF], H[PBUF], CGI[PBUF];

static const char *at(const char *dir, const char *rel)
{
    static char bufs[8][2 * PBUF];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, rel);
    return b;
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("x", f);
        fclose(f);
    }
}

static void mk(const char *path)
{
    CHECK_INT(mkdir(path, 0755), 0);
}

static void setup(void)
{
    char tmpl[] = "/tmp/isapid-route-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    CHECK(realpath(tmpl, base) != NULL);
    snprintf(R, sizeof R, "%s/www", base);
    snprintf(S, sizeof S, "%s/scripts", base);
    snprintf(S2, sizeof S2, "%s/scripts2", base);
    snprintf(RS, sizeof RS, "%s/rootscripts", base);
    snprintf(O, sizeof O, "%s/outside", base);
    snprintf(CGI, sizeof CGI, "%s/www/cgi-bin", base);
    snprintf(H, sizeof H, "%s/www/handlers/asp.so", base);
    mk(R);
    mk(S);
    mk(S2);
    mk(RS);
    mk(O);

    touch(at(O, "secret.txt"));
    touch(at(O, "real.so"));
    mk(at(O, "outdir"));
    touch(at(O, "outdir/secret.txt"));

    touch(at(R, "index.html"));
    touch(at(R, "a.txt"));
    touch(at(R, ".hidden"));
    mk(at(R, ".git"));
    touch(at(R, ".git/config"));
    mk(at(R, "dir"));
    touch(at(R, "dir/index.html"));
    touch(at(R, "dir/b.txt"));
    mk(at(R, "noindex"));
    touch(at(R, "noindex/c.txt"));
    mk(at(R, "badindex"));
    mk(at(R, "badindex/index.html"));
    mk(at(R, "outindex"));
    CHECK_INT(symlink(at(O, "secret.txt"), at(R, "outindex/index.html")), 0);
    mk(at(R, "my dir"));
    mk(at(R, "scripts"));
    touch(at(R, "scripts/readme.txt"));
    touch(at(R, "page.asp"));
    touch(at(R, "Page2.ASP"));
    mk(at(R, "adir.asp"));
    touch(at(R, "adir.asp/x.txt"));
    mk(at(R, "handlers"));
    touch(H);
    mk(CGI);
    touch(at(CGI, "hello.so"));
    touch(at(CGI, "secret.ini"));
    CHECK_INT(mkfifo(at(R, "fifo"), 0600), 0);
    CHECK_INT(symlink(at(O, "secret.txt"), at(R, "link-out")), 0);
    CHECK_INT(symlink(at(O, "outdir"), at(R, "dirlink-out")), 0);
    CHECK_INT(symlink("a.txt", at(R, "link-in")), 0);
    CHECK_INT(symlink(".hidden", at(R, "link-dot")), 0);
    CHECK_INT(symlink("page.asp", at(R, "link-asp")), 0);
    CHECK_INT(symlink("dir", at(R, "link-dir")), 0);
    CHECK_INT(symlink("loop2", at(R, "loop1")), 0);
    CHECK_INT(symlink("loop1", at(R, "loop2")), 0);

    touch(at(S, "hello.so"));
    touch(at(S, "Mixed.DLL"));
    touch(at(S, "both.dll"));
    touch(at(S, "both.so"));
    touch(at(S, "only.dll"));
    touch(at(S, ".hidden.so"));
    touch(at(S, "notes.txt"));
    mk(at(S, "notfile.so"));
    mk(at(S, "sub"));
    touch(at(S, "sub/deep.so"));
    mk(at(S, ".priv"));
    touch(at(S, ".priv/x.so"));
    CHECK_INT(symlink(at(O, "real.so"), at(S, "linked.so")), 0);
    touch(at(S2, "x.so"));
    touch(at(RS, "top.so"));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    CHECK_INT(nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static script_dir_t scripts[3];
static script_map_t maps[1];
static config_t cfg;

/* The router under test, over cfg; renew_router gives a fresh one (empty caches, the root's
 * descriptor opened anew) after cfg changed in ways the caches cannot see, in the mode under
 * test. */
static router_t *rt;

static void renew_router(void)
{
    router_free(rt);
    rt = router_new(&cfg, want_openat2 ? 0 : ROUTER_OPEN_BY_PATH);
    CHECK(rt != NULL);
    CHECK(router_config(rt) == &cfg);
}

static void setup_config(void)
{
    memset(&cfg, 0, sizeof cfg);
    cfg.root = R;
    scripts[0] = (script_dir_t){.prefix = "/scripts", .dir = S};
    scripts[1] = (script_dir_t){.prefix = "/scripts/deep", .dir = S2};
    scripts[2] = (script_dir_t){.prefix = "/cgi", .dir = CGI};
    cfg.scripts = scripts;
    cfg.n_scripts = 3;
    maps[0] = (script_map_t){.ext = ".asp", .handler = H};
    cfg.maps = maps;
    cfg.n_maps = 1;
}

static bool same_str(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Every string of two routes of one path is the same. */
static bool same_route(const route_t *a, const route_t *b)
{
    return a->kind == b->kind && same_str(a->file, b->file) &&
           same_str(a->location, b->location) && same_str(a->handler, b->handler) &&
           same_str(a->script_name, b->script_name) &&
           same_str(a->script_filename, b->script_filename) &&
           same_str(a->path_info, b->path_info) &&
           same_str(a->path_translated, b->path_translated) &&
           same_str(a->appl_physical_path, b->appl_physical_path) && a->wildcard == b->wildcard;
}

/* route_resolve_in gives what route_resolve gives: in the caller's memory when the strings fit
 * (borrowed, none allocated), on the heap when they do not; and route_keep moves them, so the
 * route no longer needs the memory it was resolved in. */
static void check_in(const char *path)
{
    route_t want;
    route_resolve(rt, path, &want);
    CHECK(!want.borrowed);
    static const size_t caps[] = {ROUTE_MEM_COMMON, 8, 0};
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        char mem[ROUTE_MEM_COMMON], kept[ROUTE_MEM_COMMON];
        route_t r;
        route_resolve_in(rt, path, mem, caps[k], &r);
        bool has_strings = r.file || r.location || r.handler;
        CHECK(same_route(&r, &want));
        CHECK(!r.borrowed || (has_strings && r.strings_size <= caps[k]));
        if (has_strings && caps[k] == ROUTE_MEM_COMMON && strlen(path) < 200)
            CHECK(r.borrowed); /* a common route: no allocation */
        size_t n = route_keep_size(&r);
        CHECK(n <= caps[k]);
        CHECK(r.borrowed || n == 0);
        if (r.borrowed)
            CHECK(r.strings == mem);
        route_keep(&r, kept);
        memset(mem, 'x', sizeof mem);
        CHECK(same_route(&r, &want));
        CHECK(!r.borrowed || r.strings == kept);
        route_free(&r); /* frees what the route owns: the heap's strings, never kept's */
        CHECK(r.kind == ROUTE_NOT_FOUND && r.fd == -1 && !r.borrowed && r.strings == NULL);
    }
    route_free(&want);
}

static route_kind_t kind_of(const char *path)
{
    check_in(path);
    route_t r;
    route_resolve(rt, path, &r);
    route_kind_t k = r.kind;
    route_free(&r);
    return k;
}

static void check_ext(const char *path, const char *handler, const char *script_name,
                      const char *path_info, const char *path_translated)
{
    check_in(path);
    route_t r;
    route_resolve(rt, path, &r);
    CHECK_INT(r.kind, ROUTE_EXTENSION);
    if (r.kind == ROUTE_EXTENSION) {
        CHECK_STR(r.handler, handler);
        CHECK_STR(r.script_filename, handler);
        CHECK_STR(r.script_name, script_name);
        CHECK_STR(r.path_info, path_info);
        CHECK_STR(r.path_translated, path_translated);
        char dir[2 * PBUF];
        snprintf(dir, sizeof dir, "%s", handler);
        strrchr(dir, '/')[1] = '\0';
        CHECK_STR(r.appl_physical_path, dir);
        CHECK(r.file == NULL && r.location == NULL);
    } else {
        fprintf(stderr, "  for %s\n", path);
    }
    route_free(&r);
}

static void check_static(const char *path, const char *file)
{
    check_in(path);
    route_t r;
    route_resolve(rt, path, &r);
    CHECK_INT(r.kind, ROUTE_STATIC);
    if (r.kind == ROUTE_STATIC) {
        CHECK_STR(r.file, file);
        CHECK(r.handler == NULL && r.location == NULL);
        /* the route holds that very file open, as static_file wants it */
        struct stat st, fst;
        CHECK(r.fd >= 0);
        CHECK_INT(stat(file, &st), 0);
        CHECK_INT(fstat(r.fd, &fst), 0);
        CHECK(fst.st_ino == st.st_ino && fst.st_dev == st.st_dev);
        CHECK(r.st.st_ino == st.st_ino && S_ISREG(r.st.st_mode));
        int fl = fcntl(r.fd, F_GETFL);
        CHECK((fl & O_ACCMODE) == O_RDONLY && (fl & O_NONBLOCK));
        CHECK(fcntl(r.fd, F_GETFD) & FD_CLOEXEC);
        /* only the by-path fallback opens with O_NOFOLLOW: this tells the modes apart */
        CHECK(!(fl & O_NOFOLLOW) == (want_openat2 && have_openat2));
    } else {
        fprintf(stderr, "  for %s\n", path);
    }
    route_free(&r);
}

static void check_kind(const char *path, route_kind_t want)
{
    route_kind_t k = kind_of(path);
    CHECK_INT(k, want);
    if (k != want)
        fprintf(stderr, "  for %s\n", path);
}

static void test_scripts(void)
{
    check_ext("/scripts/hello.so", at(S, "hello.so"), "/scripts/hello.so", "", "");
    check_ext("/scripts/hello.dll", at(S, "hello.so"), "/scripts/hello.dll", "", "");
    check_ext("/scripts/hello.dll/a/b c", at(S, "hello.so"), "/scripts/hello.dll", "/a/b c",
              at(R, "a/b c"));
    check_ext("/scripts/hello.dll/", at(S, "hello.so"), "/scripts/hello.dll", "/", at(R, ""));
    check_ext("/scripts/Hello.DLL", at(S, "hello.so"), "/scripts/Hello.DLL", "", "");
    check_ext("/scripts/HELLO.SO/x", at(S, "hello.so"), "/scripts/HELLO.SO", "/x", at(R, "x"));
    check_ext("/scripts/mixed.dll", at(S, "Mixed.DLL"), "/scripts/mixed.dll", "", "");
    check_ext("/scripts/Mixed.DLL", at(S, "Mixed.DLL"), "/scripts/Mixed.DLL", "", "");
    check_ext("/scripts/both.dll", at(S, "both.dll"), "/scripts/both.dll", "", "");
    check_ext("/scripts/both.so", at(S, "both.so"), "/scripts/both.so", "", "");
    check_ext("/scripts/BOTH.DLL", at(S, "both.dll"), "/scripts/BOTH.DLL", "", "");
    check_ext("/scripts/Both.So", at(S, "both.so"), "/scripts/Both.So", "", "");
    check_ext("/scripts/only.so", at(S, "only.dll"), "/scripts/only.so", "", "");
    check_ext("/scripts/sub/deep.dll/x", at(S, "sub/deep.so"), "/scripts/sub/deep.dll", "/x",
              at(R, "x"));
    /* dot segments after the extension are PATH_INFO, the extension's business */
    check_ext("/scripts/hello.so/.git", at(S, "hello.so"), "/scripts/hello.so", "/.git",
              at(R, ".git"));
    /* the first .dll/.so segment names the extension */
    check_ext("/scripts/hello.so/other.dll", at(S, "hello.so"), "/scripts/hello.so", "/other.dll",
              at(R, "other.dll"));
    /* a symlink leading out of the script dir is refused, unless the operator allows it; then
     * it is followed and paths are canonical */
    check_kind("/scripts/linked.so", ROUTE_FORBIDDEN);
    cfg.follow_script_symlinks = true;
    check_ext("/scripts/linked.so", at(O, "real.so"), "/scripts/linked.so", "", "");
    cfg.follow_script_symlinks = false;
    renew_router(); /* the resolution allowed above is cached */
    check_kind("/scripts/linked.so", ROUTE_FORBIDDEN);
    /* longest prefix first */
    check_ext("/scripts/deep/x.dll", at(S2, "x.so"), "/scripts/deep/x.dll", "", "");
    check_kind("/scripts/deep/hello.so", ROUTE_NOT_FOUND);
    check_ext("/cgi/hello.dll/p", at(CGI, "hello.so"), "/cgi/hello.dll", "/p", at(R, "p"));

    check_kind("/scripts/missing.dll", ROUTE_NOT_FOUND);
    check_kind("/scripts/missing.so/x", ROUTE_NOT_FOUND);
    check_kind("/scripts/notfile.so", ROUTE_NOT_FOUND);
    check_kind("/scripts/readme.txt", ROUTE_NOT_FOUND); /* exists in the root: not served */
    check_kind("/scripts/notes.txt", ROUTE_NOT_FOUND);
    check_kind("/scripts/sub", ROUTE_NOT_FOUND);
    check_kind("/scripts/", ROUTE_NOT_FOUND);
    check_kind("/scripts", ROUTE_NOT_FOUND);
    check_kind("/scripts/.so", ROUTE_NOT_FOUND);
    check_kind("/scripts/.hidden.so", ROUTE_FORBIDDEN);
    check_kind("/scripts/.priv/x.so", ROUTE_FORBIDDEN);
    check_kind("/scripts/hello.sox", ROUTE_NOT_FOUND);
    /* not under the prefix: segment boundaries, and case */
    check_kind("/scriptsX/hello.so", ROUTE_NOT_FOUND);
    check_kind("/Scripts/hello.so", ROUTE_NOT_FOUND);
}

static void test_static(void)
{
    check_static("/", at(R, "index.html"));
    check_static("/a.txt", at(R, "a.txt"));
    check_static("/dir/", at(R, "dir/index.html"));
    check_static("/dir/b.txt", at(R, "dir/b.txt"));
    check_static("/noindex/c.txt", at(R, "noindex/c.txt"));
    check_static("/link-in", at(R, "a.txt"));
    check_static("/link-dir/b.txt", at(R, "dir/b.txt"));
    check_static("/adir.asp/x.txt", at(R, "adir.asp/x.txt"));

    route_t r;
    route_resolve(rt, "/dir", &r);
    CHECK_INT(r.kind, ROUTE_REDIRECT);
    CHECK_STR(r.location, "/dir/");
    route_free(&r);
    route_resolve(rt, "/my dir", &r);
    CHECK_INT(r.kind, ROUTE_REDIRECT);
    CHECK_STR(r.location, "/my%20dir/");
    route_free(&r);
    route_resolve(rt, "/link-dir", &r);
    CHECK_INT(r.kind, ROUTE_REDIRECT);
    CHECK_STR(r.location, "/link-dir/");
    route_free(&r);

    check_kind("/noindex/", ROUTE_FORBIDDEN);
    check_kind("/badindex/", ROUTE_FORBIDDEN);
    check_kind("/missing", ROUTE_NOT_FOUND);
    check_kind("/missing/", ROUTE_NOT_FOUND);
    check_kind("/a.txt/", ROUTE_NOT_FOUND);
    check_kind("/a.txt/x", ROUTE_NOT_FOUND);
    check_kind("/fifo", ROUTE_FORBIDDEN);
}

static void test_refusals(void)
{
    check_kind("/.hidden", ROUTE_FORBIDDEN);
    check_kind("/.git/config", ROUTE_FORBIDDEN);
    check_kind("/.git/", ROUTE_FORBIDDEN);
    check_kind("/dir/.nothing", ROUTE_FORBIDDEN); /* refused before looking */
    check_kind("/link-dot", ROUTE_FORBIDDEN);
    check_kind("/link-out", ROUTE_FORBIDDEN);
    check_kind("/dirlink-out/secret.txt", ROUTE_FORBIDDEN);
    check_kind("/dirlink-out/", ROUTE_FORBIDDEN);
    check_kind("/outindex/", ROUTE_FORBIDDEN);
    check_kind("/loop1", ROUTE_FORBIDDEN);
    /* extensions and handlers below the root are never bytes */
    check_kind("/cgi-bin/hello.so", ROUTE_FORBIDDEN);
    check_kind("/cgi-bin/secret.ini", ROUTE_FORBIDDEN);
    check_kind("/handlers/asp.so", ROUTE_FORBIDDEN);
    check_kind("/link-asp", ROUTE_FORBIDDEN);
    /* not a normalised path */
    check_kind("", ROUTE_NOT_FOUND);
    check_kind("a.txt", ROUTE_NOT_FOUND);

    char *longp = malloc(3 * PATH_MAX);
    memset(longp, 'a', 3 * PATH_MAX - 1);
    longp[0] = '/';
    longp[3 * PATH_MAX - 1] = '\0';
    check_kind(longp, ROUTE_NOT_FOUND);
    memcpy(longp, "/scripts/", 9);
    check_kind(longp, ROUTE_NOT_FOUND);
    memcpy(longp + 3 * PATH_MAX - 5, ".dll", 5);
    check_kind(longp, ROUTE_NOT_FOUND);
    for (size_t i = 1; i < 3 * PATH_MAX - 1; i += 2)
        longp[i] = '/';
    check_kind(longp, ROUTE_NOT_FOUND);
    memcpy(longp, "/page.asp/", 10);
    check_kind(longp, ROUTE_EXTENSION);
    memcpy(longp + 3 * PATH_MAX - 5, ".asp", 5);
    memcpy(longp, "/x", 2);
    check_kind(longp, ROUTE_NOT_FOUND);
    free(longp);
}

static void test_maps(void)
{
    route_t r;
    route_resolve(rt, "/page.asp", &r);
    CHECK_INT(r.kind, ROUTE_EXTENSION);
    CHECK_STR(r.handler, H);
    CHECK_STR(r.script_name, "/page.asp");
    CHECK_STR(r.script_filename, at(R, "page.asp"));
    CHECK_STR(r.path_info, "/page.asp");
    CHECK_STR(r.path_translated, at(R, "page.asp"));
    CHECK_STR(r.appl_physical_path, at(R, ""));
    route_free(&r);

    route_resolve(rt, "/page.asp/extra/x", &r);
    CHECK_INT(r.kind, ROUTE_EXTENSION);
    CHECK_STR(r.handler, H);
    CHECK_STR(r.script_name, "/page.asp");
    CHECK_STR(r.path_info, "/page.asp/extra/x");
    /* IIS 6: the physical path of the whole PATH_INFO. */
    CHECK_STR(r.path_translated, at(R, "page.asp/extra/x"));
    route_free(&r);

    route_resolve(rt, "/Page2.ASP", &r);
    CHECK_INT(r.kind, ROUTE_EXTENSION);
    CHECK_STR(r.script_filename, at(R, "Page2.ASP"));
    route_free(&r);

    check_kind("/missing.asp", ROUTE_NOT_FOUND);
    check_kind("/adir.asp", ROUTE_REDIRECT);
    check_kind("/page.aspx", ROUTE_NOT_FOUND);

    /* without the map, an .asp file is plain bytes again */
    cfg.n_maps = 0;
    check_static("/page.asp", at(R, "page.asp"));
    cfg.n_maps = 1;
}

static void test_slash_prefix(void)
{
    script_dir_t one = {.prefix = "/", .dir = RS};
    config_t c = cfg;
    c.scripts = &one;
    c.n_scripts = 1;
    c.n_maps = 0;
    config_t saved = cfg;
    cfg = c;
    check_ext("/top.dll", at(RS, "top.so"), "/top.dll", "", "");
    check_ext("/TOP.DLL/x/y", at(RS, "top.so"), "/TOP.DLL", "/x/y", at(R, "x/y"));
    check_kind("/nope.dll", ROUTE_NOT_FOUND);
    check_kind("/dir/top.so", ROUTE_NOT_FOUND);
    /* no extension named: the rest of the site is still served */
    check_static("/a.txt", at(R, "a.txt"));
    check_static("/", at(R, "index.html"));
    check_kind("/.hidden", ROUTE_FORBIDDEN);
    cfg = saved;
}

/* Wildcard maps (rule 0): before every other rule, in their order, on segment boundaries;
 * route_resolve_after passes over the ones up to the current. */
static void test_wildcards(void)
{
    char h1[2 * PBUF], h2[2 * PBUF], asp[] = ".asp", app[] = "/app", slash[] = "/",
         deep[] = "/app/deep";
    snprintf(h1, sizeof h1, "%s", at(RS, "w1.so"));
    snprintf(h2, sizeof h2, "%s", at(RS, "w2.so"));
    script_map_t w[4] = {{.ext = asp, .handler = H}, {.ext = app, .handler = h1},
                         {.ext = slash, .handler = h2}, {.ext = deep, .handler = h1}};
    config_t saved = cfg;
    cfg.maps = w;
    cfg.n_maps = 4;
    renew_router();
    route_t r;
    route_resolve(rt, "/app/a.txt", &r);
    CHECK_INT(r.kind, ROUTE_EXTENSION);
    CHECK_STR(r.handler, h1);
    CHECK_INT(r.wildcard, 2);
    CHECK_STR(r.script_name, "/app/a.txt");
    CHECK_STR(r.path_info, "/app/a.txt");
    CHECK_STR(r.path_translated, at(R, "app/a.txt"));
    CHECK_STR(r.script_filename, at(R, "app/a.txt"));
    CHECK_STR(r.appl_physical_path, at(R, "app/"));
    route_free(&r);
    /* the first that holds the path, not the longest; every URL, even a script dir's or a file */
    CHECK_INT(route_match_wildcard(rt, "/app/deep/x", 0), 2);
    CHECK_INT(route_match_wildcard(rt, "/app", 0), 2);
    CHECK_INT(route_match_wildcard(rt, "/apple", 0), 3);
    CHECK_INT(route_match_wildcard(rt, "/scripts/hello.dll", 0), 3);
    CHECK_INT(route_match_wildcard(rt, "/App/x", 0), 3); /* case-sensitive */
    /* passing over the current one: the chain goes on, then the normal rules */
    CHECK_INT(route_match_wildcard(rt, "/app/deep/x", 2), 3);
    CHECK_INT(route_match_wildcard(rt, "/app/deep/x", 3), 4);
    CHECK_INT(route_match_wildcard(rt, "/app/deep/x", 4), 0);
    route_resolve_after(rt, "/page.asp", 3, &r);
    CHECK_INT(r.kind, ROUTE_EXTENSION);
    CHECK_STR(r.handler, H);
    CHECK_INT(r.wildcard, 0);
    route_free(&r);
    route_resolve_after(rt, "/a.txt", 3, &r);
    CHECK_INT(r.kind, ROUTE_STATIC);
    route_free(&r);
    /* a file whose name ends like a wildcard's prefix is no mapped file */
    touch(at(R, "app"));
    route_resolve_after(rt, "/app", 4, &r);
    CHECK_INT(r.kind, ROUTE_STATIC);
    route_free(&r);
    CHECK_INT(unlink(at(R, "app")), 0);
    route_resolve_after(rt, "/scripts/hello.dll", 3, &r);
    CHECK_INT(r.kind, ROUTE_EXTENSION);
    CHECK_INT(r.wildcard, 0);
    route_free(&r);
    cfg = saved;
    renew_router();
}

/* path becomes a symlink to target in one step (rename over it), as a hostile upload would. */
static void swap_to_symlink(const char *target, const char *path)
{
    char tmp[2 * PBUF + 8];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    CHECK_INT(symlink(target, tmp), 0);
    CHECK_INT(rename(tmp, path), 0);
}

/* Files changing between two resolutions, well inside the cache's second: what was checked is
 * what is opened, or the URL is resolved afresh. */
static void test_swaps(void)
{
    /* a regular file replaced by a symlink leading out, and back */
    touch(at(R, "swap.txt"));
    check_static("/swap.txt", at(R, "swap.txt"));
    swap_to_symlink(at(O, "secret.txt"), at(R, "swap.txt"));
    check_kind("/swap.txt", ROUTE_FORBIDDEN);
    CHECK_INT(unlink(at(R, "swap.txt")), 0);
    touch(at(R, "swap.txt"));
    check_static("/swap.txt", at(R, "swap.txt"));

    /* deleted, then a directory, then one with an index */
    CHECK_INT(unlink(at(R, "swap.txt")), 0);
    check_kind("/swap.txt", ROUTE_NOT_FOUND);
    mk(at(R, "swap.txt"));
    check_kind("/swap.txt", ROUTE_REDIRECT);
    check_kind("/swap.txt/", ROUTE_FORBIDDEN);
    touch(at(R, "swap.txt/index.html"));
    check_static("/swap.txt/", at(R, "swap.txt/index.html"));

    /* reached through a symlink, so cached: the file it names changes under the cache */
    touch(at(R, "target.txt"));
    CHECK_INT(symlink("target.txt", at(R, "alias.txt")), 0);
    check_static("/alias.txt", at(R, "target.txt"));
    check_static("/alias.txt", at(R, "target.txt"));
    swap_to_symlink(at(O, "secret.txt"), at(R, "target.txt"));
    check_kind("/alias.txt", ROUTE_FORBIDDEN);
    swap_to_symlink("page.asp", at(R, "target.txt")); /* a mapped file behind two links */
    check_kind("/alias.txt", ROUTE_FORBIDDEN);
    CHECK_INT(unlink(at(R, "target.txt")), 0);
    touch(at(R, "target.txt"));
    check_static("/alias.txt", at(R, "target.txt"));
    CHECK_INT(unlink(at(R, "target.txt")), 0);
    check_kind("/alias.txt", ROUTE_NOT_FOUND);
    touch(at(R, "target.txt"));
    check_static("/alias.txt", at(R, "target.txt"));
    CHECK_INT(unlink(at(R, "target.txt")), 0);
    mk(at(R, "target.txt"));
    check_kind("/alias.txt", ROUTE_REDIRECT);
    touch(at(R, "target.txt/index.html"));
    check_static("/alias.txt/", at(R, "target.txt/index.html"));
    CHECK_INT(unlink(at(R, "target.txt/index.html")), 0);
    CHECK_INT(mkfifo(at(R, "target.txt/index.html"), 0600), 0);
    check_kind("/alias.txt/", ROUTE_FORBIDDEN);

    /* a directory on the cached canonical path replaced by a symlink leading out, to a file of
     * the same name */
    mk(at(R, "d"));
    touch(at(R, "d/secret.txt"));
    CHECK_INT(symlink("d/secret.txt", at(R, "alias2.txt")), 0);
    check_static("/alias2.txt", at(R, "d/secret.txt"));
    CHECK_INT(rename(at(R, "d"), at(R, "d.old")), 0);
    CHECK_INT(symlink(O, at(R, "d")), 0);
    check_kind("/alias2.txt", ROUTE_FORBIDDEN);
    check_kind("/d/secret.txt", ROUTE_FORBIDDEN);

    /* the symlink itself re-pointed out of the root: the cached target (inside, checked) may be
     * served for the rest of the second, the new one never */
    touch(at(R, "t3.txt"));
    CHECK_INT(symlink("t3.txt", at(R, "alias3.txt")), 0);
    check_static("/alias3.txt", at(R, "t3.txt"));
    swap_to_symlink(at(O, "secret.txt"), at(R, "alias3.txt"));
    route_t r;
    route_resolve(rt, "/alias3.txt", &r);
    CHECK(r.kind == ROUTE_FORBIDDEN ||
          (r.kind == ROUTE_STATIC && r.file != NULL && strcmp(r.file, at(R, "t3.txt")) == 0));
    route_free(&r);
    renew_router();
    check_kind("/alias3.txt", ROUTE_FORBIDDEN);

    /* protected files stay protected: the script dir through a symlink, a served file swapped
     * for a symlink to a mapped file or into the script dir */
    CHECK_INT(symlink("cgi-bin", at(R, "cgi-link")), 0);
    check_kind("/cgi-link/secret.ini", ROUTE_FORBIDDEN);
    check_kind("/cgi-link/hello.so", ROUTE_FORBIDDEN);
    touch(at(R, "swap2.txt"));
    check_static("/swap2.txt", at(R, "swap2.txt"));
    swap_to_symlink("page.asp", at(R, "swap2.txt"));
    check_kind("/swap2.txt", ROUTE_FORBIDDEN);
    swap_to_symlink("cgi-bin/secret.ini", at(R, "swap2.txt"));
    check_kind("/swap2.txt", ROUTE_FORBIDDEN);
    swap_to_symlink("handlers/asp.so", at(R, "swap2.txt"));
    check_kind("/swap2.txt", ROUTE_FORBIDDEN);

    /* a file the server may not open: STATIC, fd -1 and the reason (static_file answers 403) */
    if (geteuid() != 0) {
        touch(at(R, "unreadable.txt"));
        CHECK_INT(chmod(at(R, "unreadable.txt"), 0), 0);
        route_resolve(rt, "/unreadable.txt", &r);
        CHECK_INT(r.kind, ROUTE_STATIC);
        CHECK_INT(r.fd, -1);
        CHECK_INT(r.fd_errno, EACCES);
        route_free(&r);
    }
}

/* route_free closes a STATIC route's descriptor, and only that: a route moved out by zeroing
 * (kind NOT_FOUND, fd 0) must not close descriptor 0. */
static void test_fd_ownership(void)
{
    route_t r;
    route_resolve(rt, "/a.txt", &r);
    CHECK_INT(r.kind, ROUTE_STATIC);
    int fd = r.fd;
    CHECK(fd >= 0);
    route_free(&r);
    CHECK_INT(r.fd, -1);
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);

    route_resolve(rt, "/scripts/hello.so", &r);
    CHECK_INT(r.fd, -1);
    route_free(&r);
    memset(&r, 0, sizeof r);
    r.kind = ROUTE_NOT_FOUND;
    route_free(&r);
    CHECK(fcntl(0, F_GETFD) != -1 || errno != EBADF);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

static void *resolve_a_txt(void *arg)
{
    route_t r;
    route_resolve(rt, "/a.txt", &r);
    *(bool *)arg = r.kind == ROUTE_STATIC && r.fd >= 0;
    route_free(&r);
    return NULL;
}

/* One root descriptor for the router, opened by router_new, shared by every thread; closed by
 * router_free, with the calling thread's caches (the other threads' went when they exited). */
static void test_one_root_descriptor(void)
{
    router_free(rt);
    rt = NULL;
    int before = open_fds();
    renew_router();
    int root_fds = want_openat2 && have_openat2 ? 1 : 0;
    CHECK_INT(open_fds(), before + root_fds);
    pthread_t t[4];
    bool ok[4] = {false};
    for (int i = 0; i < 4; i++)
        CHECK_INT(pthread_create(&t[i], NULL, resolve_a_txt, &ok[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(ok[i]);
    }
    check_static("/a.txt", at(R, "a.txt"));
    CHECK_INT(open_fds(), before + root_fds);
    router_free(rt);
    rt = NULL;
    CHECK_INT(open_fds(), before);
    renew_router();
}

/* The root re-pointed (its symlink swapped to another tree, as deployments do): seen within the
 * site's second (polled, bounded), and the old root descriptor is closed once no thread holds
 * it. */
static void test_root_repointed(void)
{
    char R2[PBUF], link[PBUF];
    snprintf(R2, sizeof R2, "%s/www2", base);
    snprintf(link, sizeof link, "%s/wwwlink", base);
    mk(R2);
    touch(at(R2, "a.txt"));
    CHECK_INT(symlink(R, link), 0);
    config_t saved = cfg;
    cfg.root = link;
    renew_router();
    check_static("/a.txt", at(R, "a.txt"));
    int fds = open_fds();
    swap_to_symlink(R2, link);
    bool moved = false;
    for (int i = 0; i < 500 && !moved; i++) { /* the site's second, with room for a slow machine */
        route_t r;
        route_resolve(rt, "/a.txt", &r);
        moved = r.kind == ROUTE_STATIC && strcmp(r.file, at(R2, "a.txt")) == 0;
        if (!moved)
            CHECK(r.kind == ROUTE_STATIC && strcmp(r.file, at(R, "a.txt")) == 0);
        route_free(&r);
        if (!moved)
            usleep(10 * 1000);
    }
    CHECK(moved);
    check_static("/a.txt", at(R2, "a.txt"));
    CHECK_INT(open_fds(), fds);
    cfg = saved;
    renew_router();
}

/* HSE_REQ_MAP_URL_TO_PATH (urlmap.c): the static-file rules, on paths that need not exist. */
static void check_map(const char *url, urlmap_status_t want, const char *path)
{
    urlmap_t m;
    urlmap_status_t st = urlmap_resolve(rt, url, &m);
    CHECK_INT(st, want);
    if (st == URLMAP_OK && path != NULL)
        CHECK_STR(m.path, path);
    if (st != want)
        fprintf(stderr, "  for %s\n", url);
}

static void test_map_url(void)
{
    check_map("/a.txt", URLMAP_OK, at(R, "a.txt"));
    check_map("/dir/", URLMAP_OK, at(R, "dir/"));
    check_map("/not/there/yet.txt", URLMAP_OK, at(R, "not/there/yet.txt"));
    check_map("/dir/new/", URLMAP_OK, at(R, "dir/new/"));
    check_map("/link-in", URLMAP_OK, at(R, "a.txt"));   /* canonical */
    check_map("/link-dir/b.txt", URLMAP_OK, at(R, "dir/b.txt"));
    check_map("/page.asp", URLMAP_OK, at(R, "page.asp")); /* handlers map their own URLs */
    check_map("/link-out", URLMAP_FORBIDDEN, NULL);
    check_map("/dirlink-out/secret.txt", URLMAP_FORBIDDEN, NULL);
    check_map("/dirlink-out/missing", URLMAP_FORBIDDEN, NULL);
    check_map("/outindex/index.html", URLMAP_FORBIDDEN, NULL);
    check_map("/.hidden", URLMAP_FORBIDDEN, NULL);
    check_map("/.git/config", URLMAP_FORBIDDEN, NULL);
    check_map("/link-dot", URLMAP_FORBIDDEN, NULL);
    check_map("/loop1", URLMAP_FORBIDDEN, NULL);
    check_map("/cgi-bin/secret.ini", URLMAP_FORBIDDEN, NULL); /* a script dir below the root */
    check_map("/handlers/asp.so", URLMAP_FORBIDDEN, NULL);
    check_map("/a.txt/x", URLMAP_NO_PATH, NULL);
    /* under a script prefix: the script directory, with the same no-escape rule */
    check_map("/scripts/hello.so", URLMAP_OK, at(S, "hello.so"));
    check_map("/scripts/new.so", URLMAP_OK, at(S, "new.so"));
    check_map("/scripts/.priv/x.so", URLMAP_FORBIDDEN, NULL);
    check_map("/scripts/linked.so", URLMAP_FORBIDDEN, NULL);
    cfg.follow_script_symlinks = true;
    check_map("/scripts/linked.so", URLMAP_OK, at(O, "real.so"));
    cfg.follow_script_symlinks = false;
    urlmap_t m;
    CHECK_INT(urlmap_resolve(rt, "/scripts/deep/x.so", &m), URLMAP_OK);
    CHECK_STR(m.path, at(S2, "x.so"));
    CHECK_INT(m.match_url, strlen("/scripts/deep"));
    CHECK_INT(m.match_path, strlen(S2));
    CHECK(m.script);
    CHECK_INT(urlmap_resolve(rt, "/dir/b.txt", &m), URLMAP_OK);
    CHECK_INT(m.match_url, 0);
    CHECK_INT(m.match_path, strlen(R));
    CHECK(!m.script);
}

/* The one prefix matcher, as route_resolve (rule 1) and MAP_URL_TO_PATH use it. */
static void check_prefix(const char *path, const script_dir_t *dir, size_t url_len)
{
    route_prefix_t m;
    route_match_prefix(rt, path, &m);
    CHECK(m.dir == dir);
    CHECK_INT(m.url_len, url_len);
    CHECK(m.rest == path + url_len);
    if (m.dir != dir || m.url_len != url_len)
        fprintf(stderr, "  for %s\n", path);
}

static void test_match_prefix(void)
{
    check_prefix("/scripts/hello.so", &scripts[0], strlen("/scripts"));
    check_prefix("/scripts", &scripts[0], strlen("/scripts"));
    check_prefix("/scripts/", &scripts[0], strlen("/scripts"));
    check_prefix("/scripts/deep/x.so", &scripts[1], strlen("/scripts/deep")); /* the longest */
    check_prefix("/scripts/deeper/x.so", &scripts[0], strlen("/scripts"));  /* segments */
    check_prefix("/scriptsX/hello.so", NULL, 0);
    check_prefix("/Scripts/hello.so", NULL, 0); /* case-sensitive */
    check_prefix("/a.txt", NULL, 0);

    /* "/" owns every path and leaves it whole; a longer prefix still wins */
    script_dir_t two[2] = {{.prefix = "/", .dir = RS}, {.prefix = "/cgi/", .dir = CGI}};
    config_t saved = cfg;
    cfg.scripts = two;
    cfg.n_scripts = 2;
    check_prefix("/top.dll", &two[0], 0);
    check_prefix("/", &two[0], 0);
    check_prefix("/cgi/hello.so", &two[1], strlen("/cgi")); /* trailing '/' left out */
    check_prefix("/cgix", &two[0], 0);
    cfg = saved;
}

/* A path resolved again within the second gives the same strings (from the thread's memo of
 * whole routes), also with more paths than the memo holds, and none made under other
 * configuration arrays: a new root or script array is seen at the next resolution (an
 * extension's file found under the old array may be used for up to a second, as before). */
static void test_memo(void)
{
    char path[64], info[64];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 20; i++) {
            snprintf(path, sizeof path, "/scripts/hello.dll/p%d", i);
            snprintf(info, sizeof info, "/p%d", i);
            check_ext(path, at(S, "hello.so"), "/scripts/hello.dll", info, at(R, info + 1));
        }
    }
    check_ext("/scripts/hello.dll/q", at(S, "hello.so"), "/scripts/hello.dll", "/q", at(R, "q"));
    config_t saved = cfg;
    char other_root[PBUF];
    snprintf(other_root, sizeof other_root, "%s", O);
    cfg.root = other_root;
    check_ext("/scripts/hello.dll/q", at(S, "hello.so"), "/scripts/hello.dll", "/q", at(O, "q"));
    cfg = saved;
    check_ext("/scripts/hello.dll/q", at(S, "hello.so"), "/scripts/hello.dll", "/q", at(R, "q"));
    script_dir_t moved[1] = {{.prefix = "/scripts", .dir = S2}};
    cfg.scripts = moved;
    cfg.n_scripts = 1;
    check_ext("/scripts/x.dll/q", at(S2, "x.so"), "/scripts/x.dll", "/q", at(R, "q"));
    cfg = saved;
    check_ext("/scripts/hello.dll/q", at(S, "hello.so"), "/scripts/hello.dll", "/q", at(R, "q"));
}

/* A filter's URL_MAP replaces a static route's file (filter_req.c): the new one is the route's,
 * whether the old one was borrowed or owned. */
static void test_replace_file(void)
{
    char mem[ROUTE_MEM_COMMON];
    route_t r;
    route_resolve_in(rt, "/a.txt", mem, sizeof mem, &r);
    CHECK_INT(r.kind, ROUTE_STATIC);
    CHECK(r.borrowed);
    route_replace_file(&r, strdup("/elsewhere"));
    memset(mem, 'x', sizeof mem);
    CHECK(!r.borrowed && route_keep_size(&r) == 0);
    CHECK_STR(r.file, "/elsewhere");
    route_free(&r);
    route_resolve(rt, "/a.txt", &r);
    CHECK(!r.borrowed);
    route_replace_file(&r, strdup("/elsewhere"));
    CHECK_STR(r.file, "/elsewhere");
    route_free(&r);
}

static void test_free(void)
{
    route_t r;
    route_resolve(rt, "/scripts/hello.dll/x", &r);
    route_free(&r);
    CHECK(r.handler == NULL && r.path_info == NULL);
    route_free(&r); /* harmless twice */
    route_free(NULL);
}

/* Whether this kernel (or a seccomp filter) lets openat2 with RESOLVE_ flags through. */
static bool probe_openat2(void)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
    long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
    if (fd < 0)
        return false;
    close((int)fd);
    return true;
}

int main(void)
{
    have_openat2 = probe_openat2();
    if (!have_openat2)
        printf("test_route: no openat2 here: both runs test the by-path fallback\n");
    for (int mode = 0; mode < 2; mode++) {
        want_openat2 = mode == 0;
        setup();
        setup_config();
        renew_router();
        test_scripts();
        test_static();
        test_refusals();
        test_maps();
        test_slash_prefix();
        test_wildcards();
        test_swaps();
        test_fd_ownership();
        test_one_root_descriptor();
        test_root_repointed();
        test_map_url();
        test_match_prefix();
        test_replace_file();
        test_memo();
        test_free();
        teardown();
    }
    router_free(rt);
    return check_report("test_route");
}
