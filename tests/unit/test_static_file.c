/* static_file_respond and static_file_respond_route: status, headers and byte range for
 * GET/HEAD, conditionals, ranges, refusals. Works on files in a temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "httputil.h"
#include "mime.h"
#include "static_file.h"

#define MTIME 1700000000

static char dir[] = "/tmp/isapid-static-XXXXXX";
static char file_txt[128], file_html[128], file_empty[128], link_txt[128], fifo[128],
    subdir[128];
static char etag[48], last_modified[HTTP_DATE_LEN + 1];
static mime_table_t *mime;

static void make_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs(content, f);
    fclose(f);
    struct timeval tv[2] = {{MTIME, 0}, {MTIME, 0}};
    CHECK_INT(utimes(path, tv), 0);
}

static void setup(void)
{
    CHECK(mkdtemp(dir) != NULL);
    snprintf(file_txt, sizeof file_txt, "%s/a.txt", dir);
    snprintf(file_html, sizeof file_html, "%s/page.HTML", dir);
    snprintf(file_empty, sizeof file_empty, "%s/empty.txt", dir);
    snprintf(link_txt, sizeof link_txt, "%s/link.txt", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(subdir, sizeof subdir, "%s/sub", dir);
    make_file(file_txt, "0123456789");
    make_file(file_html, "<p>hi</p>");
    make_file(file_empty, "");
    CHECK_INT(symlink(file_txt, link_txt), 0);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    CHECK_INT(mkdir(subdir, 0700), 0);

    struct stat st;
    CHECK_INT(stat(file_txt, &st), 0);
    http_etag_format(&st, etag, sizeof etag);
    http_date_format(st.st_mtime, last_modified);
    mime = mime_load(NULL);
}

static void teardown(void)
{
    unlink(file_txt);
    unlink(file_html);
    unlink(file_empty);
    unlink(link_txt);
    unlink(fifo);
    rmdir(subdir);
    CHECK_INT(rmdir(dir), 0);
    mime_free(mime);
}

/* Request with up to four headers given as name, value pairs (NULL-terminated). */
typedef struct req {
    reqinfo_t ri;
    http_header_t h[4];
} req_t;

static const reqinfo_t *req(req_t *r, const char *method, ...)
{
    memset(r, 0, sizeof *r);
    r->ri.method = method;
    r->ri.headers = r->h;
    va_list ap;
    va_start(ap, method);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL && r->ri.n_headers < 4) {
        http_header_t *h = &r->h[r->ri.n_headers++];
        h->name = name;
        h->value = va_arg(ap, const char *);
        h->name_len = (uint32_t)strlen(h->name);
        h->value_len = (uint32_t)strlen(h->value);
    }
    va_end(ap);
    return &r->ri;
}

static int has(const static_response_t *r, const char *line)
{
    return strstr(r->headers, line) != NULL;
}

static int count_lines(const static_response_t *r)
{
    int n = 0;
    for (const char *p = r->headers; (p = strstr(p, "\r\n")) != NULL; p += 2)
        n++;
    return n;
}

static void done(static_response_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

static void check_full_headers(const static_response_t *r, const char *type)
{
    char line[128];
    snprintf(line, sizeof line, "Content-Type: %s\r\n", type);
    CHECK(has(r, line));
    snprintf(line, sizeof line, "Last-Modified: %s\r\n", last_modified);
    CHECK(has(r, line));
    snprintf(line, sizeof line, "ETag: %s\r\n", etag);
    CHECK(has(r, line));
    CHECK(has(r, "Accept-Ranges: bytes\r\n"));
    CHECK_INT(strlen(r->headers), r->headers_len);
}

static void test_get_head(void)
{
    req_t q;
    static_response_t r;

    static_file_respond(mime, req(&q, "GET", NULL), file_txt, &r);
    CHECK_INT(r.status, 200);
    CHECK(r.fd >= 0);
    CHECK_INT(r.offset, 0);
    CHECK_INT(r.length, 10);
    CHECK(r.has_body_length);
    check_full_headers(&r, "text/plain");
    CHECK_INT(count_lines(&r), 4);
    CHECK(!has(&r, "Content-Range"));
    char buf[16] = {0};
    CHECK_INT(pread(r.fd, buf, sizeof buf, 0), 10);
    CHECK_STR(buf, "0123456789");
    CHECK(fcntl(r.fd, F_GETFD) & FD_CLOEXEC);
    done(&r);

    static_response_t h;
    static_file_respond(mime, req(&q, "HEAD", NULL), file_txt, &h);
    CHECK_INT(h.status, 200);
    CHECK(h.fd >= 0);
    CHECK_INT(h.length, 10);
    CHECK(h.has_body_length);
    CHECK_STR(h.headers, r.headers);
    done(&h);

    static_file_respond(mime, req(&q, "GET", NULL), file_html, &r);
    CHECK_INT(r.status, 200);
    CHECK(has(&r, "Content-Type: text/html\r\n"));
    CHECK_INT(r.length, 9);
    done(&r);

    static_file_respond(mime, req(&q, "GET", NULL), file_empty, &r);
    CHECK_INT(r.status, 200);
    CHECK(r.fd >= 0);
    CHECK_INT(r.length, 0);
    CHECK(r.has_body_length);
    done(&r);
}

static void test_methods(void)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "get", "Head",
                                          "TRACE", ""};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        req_t q;
        static_response_t r;
        static_file_respond(mime, req(&q, methods[i], NULL), file_txt, &r);
        CHECK_INT(r.status, 405);
        CHECK_INT(r.fd, -1);
        CHECK(!r.has_body_length);
        CHECK_STR(r.headers, "Allow: GET, HEAD\r\n");
        CHECK_INT(r.headers_len, strlen("Allow: GET, HEAD\r\n"));
    }
}

static void test_errors(void)
{
    req_t q;
    static_response_t r;
    char path[256];

    snprintf(path, sizeof path, "%s/missing.txt", dir);
    static_file_respond(mime, req(&q, "GET", NULL), path, &r);
    CHECK_INT(r.status, 404);
    CHECK_INT(r.fd, -1);
    CHECK_INT(r.headers_len, 0);

    snprintf(path, sizeof path, "%s/x", file_txt); /* ENOTDIR */
    static_file_respond(mime, req(&q, "GET", NULL), path, &r);
    CHECK_INT(r.status, 404);

    static_file_respond(mime, req(&q, "GET", NULL), link_txt, &r); /* symlink swapped in */
    CHECK_INT(r.status, 403);
    CHECK_INT(r.fd, -1);

    static_file_respond(mime, req(&q, "GET", NULL), subdir, &r);
    CHECK_INT(r.status, 403);
    CHECK_INT(r.fd, -1);

    static_file_respond(mime, req(&q, "GET", NULL), fifo, &r); /* must not block */
    CHECK_INT(r.status, 403);
    CHECK_INT(r.fd, -1);

    if (geteuid() != 0) { /* root reads anything */
        CHECK_INT(chmod(file_html, 0), 0);
        static_file_respond(mime, req(&q, "GET", NULL), file_html, &r);
        CHECK_INT(r.status, 403);
        CHECK_INT(r.fd, -1);
        CHECK_INT(chmod(file_html, 0644), 0);
    }
}

static void test_conditional(void)
{
    req_t q;
    static_response_t r;
    char old_date[HTTP_DATE_LEN + 1], new_date[HTTP_DATE_LEN + 1];
    http_date_format(MTIME - 1, old_date);
    http_date_format(MTIME + 1, new_date);
    char want[128];

    static_file_respond(mime, req(&q, "GET", "If-None-Match", etag, NULL), file_txt, &r);
    CHECK_INT(r.status, 304);
    CHECK_INT(r.fd, -1);
    CHECK(!r.has_body_length);
    snprintf(want, sizeof want, "ETag: %s\r\nLast-Modified: %s\r\n", etag, last_modified);
    CHECK_STR(r.headers, want);

    static_file_respond(mime, req(&q, "HEAD", "if-none-match", "\"x\", W/\"y\", *", NULL),
                        file_txt, &r);
    CHECK_INT(r.status, 304);

    static_file_respond(mime, req(&q, "GET", "If-None-Match", "\"other\"", NULL), file_txt, &r);
    CHECK_INT(r.status, 200);
    done(&r);

    /* If-None-Match present: If-Modified-Since is ignored */
    static_file_respond(
        mime, req(&q, "GET", "If-None-Match", "\"other\"", "If-Modified-Since", last_modified, NULL),
        file_txt, &r);
    CHECK_INT(r.status, 200);
    done(&r);

    static_file_respond(mime, req(&q, "GET", "If-Modified-Since", last_modified, NULL), file_txt,
                        &r);
    CHECK_INT(r.status, 304);
    CHECK(has(&r, "ETag: "));
    static_file_respond(mime, req(&q, "GET", "If-Modified-Since", new_date, NULL), file_txt, &r);
    CHECK_INT(r.status, 304);
    static_file_respond(mime, req(&q, "GET", "If-Modified-Since", old_date, NULL), file_txt, &r);
    CHECK_INT(r.status, 200);
    done(&r);
    static_file_respond(mime, req(&q, "GET", "If-Modified-Since", "yesterday", NULL), file_txt,
                        &r);
    CHECK_INT(r.status, 200);
    done(&r);

    /* preconditions */
    static_file_respond(mime, req(&q, "GET", "If-Match", "\"nope\"", NULL), file_txt, &r);
    CHECK_INT(r.status, 412);
    CHECK_INT(r.fd, -1);
    CHECK(!r.has_body_length);
    static_file_respond(mime, req(&q, "GET", "If-Match", etag, NULL), file_txt, &r);
    CHECK_INT(r.status, 200);
    done(&r);
    static_file_respond(mime, req(&q, "GET", "If-Match", "*", NULL), file_txt, &r);
    CHECK_INT(r.status, 200);
    done(&r);
    char weak[64];
    snprintf(weak, sizeof weak, "W/%s", etag);
    static_file_respond(mime, req(&q, "GET", "If-Match", weak, NULL), file_txt, &r);
    CHECK_INT(r.status, 412);
    static_file_respond(mime, req(&q, "GET", "If-Unmodified-Since", old_date, NULL), file_txt,
                        &r);
    CHECK_INT(r.status, 412);
    static_file_respond(mime, req(&q, "GET", "If-Unmodified-Since", last_modified, NULL), file_txt,
                        &r);
    CHECK_INT(r.status, 200);
    done(&r);
    /* If-Match present: If-Unmodified-Since is ignored */
    static_file_respond(
        mime, req(&q, "GET", "If-Match", etag, "If-Unmodified-Since", old_date, NULL), file_txt,
        &r);
    CHECK_INT(r.status, 200);
    done(&r);
}

static void test_ranges(void)
{
    req_t q;
    static_response_t r;

    static_file_respond(mime, req(&q, "GET", "Range", "bytes=2-5", NULL), file_txt, &r);
    CHECK_INT(r.status, 206);
    CHECK(r.fd >= 0);
    CHECK_INT(r.offset, 2);
    CHECK_INT(r.length, 4);
    CHECK(r.has_body_length);
    CHECK(has(&r, "Content-Range: bytes 2-5/10\r\n"));
    check_full_headers(&r, "text/plain");
    done(&r);

    static_file_respond(mime, req(&q, "HEAD", "Range", "bytes=-3", NULL), file_txt, &r);
    CHECK_INT(r.status, 206);
    CHECK(r.fd >= 0);
    CHECK_INT(r.offset, 7);
    CHECK_INT(r.length, 3);
    CHECK(has(&r, "Content-Range: bytes 7-9/10\r\n"));
    done(&r);

    static_file_respond(mime, req(&q, "GET", "Range", "bytes=5-100", NULL), file_txt, &r);
    CHECK_INT(r.status, 206);
    CHECK(has(&r, "Content-Range: bytes 5-9/10\r\n"));
    done(&r);

    static_file_respond(mime, req(&q, "GET", "Range", "bytes=10-", NULL), file_txt, &r);
    CHECK_INT(r.status, 416);
    CHECK_INT(r.fd, -1);
    CHECK(r.has_body_length);
    CHECK_INT(r.length, 0);
    CHECK_STR(r.headers, "Content-Range: bytes */10\r\n");

    static_file_respond(mime, req(&q, "GET", "Range", "bytes=0-", NULL), file_empty, &r);
    CHECK_INT(r.status, 416);
    CHECK_STR(r.headers, "Content-Range: bytes */0\r\n");

    static_file_respond(mime, req(&q, "GET", "Range", "bytes=0-1,4-5", NULL), file_txt, &r);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.length, 10);
    done(&r);
    static_file_respond(mime, req(&q, "GET", "Range", "lines=1-2", NULL), file_txt, &r);
    CHECK_INT(r.status, 200);
    done(&r);

    /* If-Range */
    static_file_respond(mime, req(&q, "GET", "Range", "bytes=1-1", "If-Range", etag, NULL),
                        file_txt, &r);
    CHECK_INT(r.status, 206);
    done(&r);
    static_file_respond(mime, req(&q, "GET", "Range", "bytes=1-1", "If-Range", "\"old\"", NULL),
                        file_txt, &r);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.length, 10);
    CHECK(!has(&r, "Content-Range"));
    done(&r);
    char weak[64];
    snprintf(weak, sizeof weak, "W/%s", etag);
    static_file_respond(mime, req(&q, "GET", "Range", "bytes=1-1", "If-Range", weak, NULL),
                        file_txt, &r);
    CHECK_INT(r.status, 200);
    done(&r);
    static_file_respond(mime,
                        req(&q, "GET", "Range", "bytes=1-1", "If-Range", last_modified, NULL),
                        file_txt, &r);
    CHECK_INT(r.status, 206);
    done(&r);
    char other[HTTP_DATE_LEN + 1];
    http_date_format(MTIME + 60, other);
    static_file_respond(mime, req(&q, "GET", "Range", "bytes=1-1", "If-Range", other, NULL),
                        file_txt, &r);
    CHECK_INT(r.status, 200);
    done(&r);
    /* an unsatisfiable range under a failed If-Range is the whole file, not 416 */
    static_file_respond(mime, req(&q, "GET", "Range", "bytes=50-", "If-Range", "\"old\"", NULL),
                        file_txt, &r);
    CHECK_INT(r.status, 200);
    done(&r);

    /* 304 wins over Range */
    static_file_respond(mime, req(&q, "GET", "Range", "bytes=1-1", "If-None-Match", etag, NULL),
                        file_txt, &r);
    CHECK_INT(r.status, 304);
}

static void test_no_fd_leak(void)
{
    int before = open("/dev/null", O_RDONLY);
    close(before);
    for (int i = 0; i < 50; i++) {
        req_t q;
        static_response_t r;
        static_file_respond(mime, req(&q, "GET", "If-None-Match", "*", NULL), file_txt, &r);
        static_file_respond(mime, req(&q, "GET", "Range", "bytes=99-", NULL), file_txt, &r);
        static_file_respond(mime, req(&q, "GET", "If-Match", "\"x\"", NULL), file_txt, &r);
        static_file_respond(mime, req(&q, "GET", NULL), subdir, &r);
    }
    int after = open("/dev/null", O_RDONLY);
    close(after);
    CHECK_INT(after, before);
}

/* A route as route_resolve leaves it for a static file: open, or failed with err. */
static void static_route(route_t *rt, const char *path, int err)
{
    memset(rt, 0, sizeof *rt);
    rt->kind = ROUTE_STATIC;
    rt->file = strdup(path);
    rt->fd = err ? -1 : open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    rt->fd_errno = err;
    if (rt->fd >= 0)
        CHECK_INT(fstat(rt->fd, &rt->st), 0);
}

static void test_route(void)
{
    req_t q;
    static_response_t r;
    route_t rt;

    /* the route's descriptor is taken over and answered from, without a new open */
    static_route(&rt, file_txt, 0);
    int fd = rt.fd;
    static_file_respond_route(mime, req(&q, "GET", NULL), &rt, &r);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.fd, fd);
    CHECK_INT(rt.fd, -1);
    CHECK_INT(r.length, 10);
    check_full_headers(&r, "text/plain");
    route_free(&rt);
    CHECK(fcntl(fd, F_GETFD) != -1); /* route_free left it alone: it is r's now */
    done(&r);

    /* the type comes from route->file, the file's canonical name */
    static_route(&rt, file_html, 0);
    static_file_respond_route(mime, req(&q, "HEAD", NULL), &rt, &r);
    CHECK_INT(r.status, 200);
    CHECK(has(&r, "Content-Type: text/html\r\n"));
    done(&r);
    route_free(&rt);

    /* every status but 200/206 closes the descriptor */
    static_route(&rt, file_txt, 0);
    fd = rt.fd;
    static_file_respond_route(mime, req(&q, "GET", "If-None-Match", etag, NULL), &rt, &r);
    CHECK_INT(r.status, 304);
    CHECK_INT(r.fd, -1);
    CHECK(fcntl(fd, F_GETFD) == -1);
    route_free(&rt);

    static_route(&rt, file_txt, 0);
    fd = rt.fd;
    static_file_respond_route(mime, req(&q, "POST", NULL), &rt, &r);
    CHECK_INT(r.status, 405);
    CHECK_INT(r.fd, -1);
    CHECK(fcntl(fd, F_GETFD) == -1);
    CHECK_STR(r.headers, "Allow: GET, HEAD\r\n");
    route_free(&rt);

    static_route(&rt, file_txt, 0);
    fd = rt.fd;
    static_file_respond_route(mime, req(&q, "GET", "Range", "bytes=99-", NULL), &rt, &r);
    CHECK_INT(r.status, 416);
    CHECK(fcntl(fd, F_GETFD) == -1);
    route_free(&rt);

    /* a failed open: the errno decides */
    static const struct {
        int err;
        unsigned status;
    } errs[] = {{ENOENT, 404}, {ENOTDIR, 404}, {EACCES, 403}, {ELOOP, 403}, {EXDEV, 403},
                {EMFILE, 503}, {ENFILE, 503}, {EIO, 500}};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        static_route(&rt, file_txt, errs[i].err);
        static_file_respond_route(mime, req(&q, "GET", NULL), &rt, &r);
        CHECK_INT(r.status, errs[i].status);
        CHECK_INT(r.fd, -1);
        CHECK(!r.has_body_length);
        route_free(&rt);
    }
}

int main(void)
{
    setup();
    test_get_head();
    test_methods();
    test_errors();
    test_conditional();
    test_ranges();
    test_no_fd_leak();
    test_route();
    teardown();
    return check_report("test_static_file");
}
