/* The routing tests' fixture (test_route.c, test_route_files.c): a real tree in a temporary
 * directory (setup, teardown), a configuration over it (setup_config), the router under test
 * (renew_router), and the checks that compare routes. Each test executable has its own copy of
 * this state; the functions are static inline so one that a test does not use costs nothing. */
#ifndef ISAPID_TEST_ROUTE_FIXTURE_H
#define ISAPID_TEST_ROUTE_FIXTURE_H

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

static inline const char *at(const char *dir, const char *rel)
{
    static char bufs[8][2 * PBUF];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, rel);
    return b;
}

static inline void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("x", f);
        fclose(f);
    }
}

static inline void mk(const char *path)
{
    CHECK_INT(mkdir(path, 0755), 0);
}

static inline void setup(void)
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

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void teardown(void)
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

static inline void renew_router(void)
{
    router_free(rt);
    rt = router_new(&cfg, want_openat2 ? 0 : ROUTER_OPEN_BY_PATH);
    CHECK(rt != NULL);
    CHECK(router_config(rt) == &cfg);
}

static inline void setup_config(void)
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

static inline bool same_str(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Every string of two routes of one path is the same. */
static inline bool same_route(const route_t *a, const route_t *b)
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
static inline void check_in(const char *path)
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

static inline route_kind_t kind_of(const char *path)
{
    check_in(path);
    route_t r;
    route_resolve(rt, path, &r);
    route_kind_t k = r.kind;
    route_free(&r);
    return k;
}

static inline void check_ext(const char *path, const char *handler, const char *script_name,
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

static inline void check_static(const char *path, const char *file)
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

static inline void check_kind(const char *path, route_kind_t want)
{
    route_kind_t k = kind_of(path);
    CHECK_INT(k, want);
    if (k != want)
        fprintf(stderr, "  for %s\n", path);
}

/* Whether this kernel (or a seccomp filter) lets openat2 with RESOLVE_ flags through. */
static inline bool probe_openat2(void)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
    long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
    if (fd < 0)
        return false;
    close((int)fd);
    return true;
}

#endif
