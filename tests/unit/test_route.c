/* route_resolve against a real tree in a temporary directory (route_fixture.h): script dirs,
 * script maps, wildcard maps, static files, redirects and every way out of the root that route
 * must refuse; MAP_URL_TO_PATH's rules and the one prefix matcher. test_route_files.c has the
 * files that change between resolutions and what the router owns. The static checks run twice:
 * with openat2 and with the by-path fallback of older kernels. */
#define _GNU_SOURCE

#include "route_fixture.h"

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

static void test_free(void)
{
    route_t r;
    route_resolve(rt, "/scripts/hello.dll/x", &r);
    route_free(&r);
    CHECK(r.handler == NULL && r.path_info == NULL);
    route_free(&r); /* harmless twice */
    route_free(NULL);
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
        test_map_url();
        test_match_prefix();
        test_free();
        teardown();
    }
    router_free(rt);
    return check_report("test_route");
}
