/* The router over files that change and over its own resources (route_fixture.h's tree): files
 * swapped for symlinks, directories or nothing between two resolutions (inside the cache's
 * second), the root re-pointed, the descriptors a route and the router own, the thread's memo of
 * extension routes, and a filter's replacement of a static route's file. Run twice: with openat2
 * and with the by-path fallback of older kernels. */
#define _GNU_SOURCE

#include "route_fixture.h"

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

int main(void)
{
    have_openat2 = probe_openat2();
    if (!have_openat2)
        printf("test_route_files: no openat2 here: both runs test the by-path fallback\n");
    for (int mode = 0; mode < 2; mode++) {
        want_openat2 = mode == 0;
        setup();
        setup_config();
        renew_router();
        test_swaps();
        test_fd_ownership();
        test_one_root_descriptor();
        test_root_repointed();
        test_replace_file();
        test_memo();
        teardown();
    }
    router_free(rt);
    return check_report("test_route_files");
}
