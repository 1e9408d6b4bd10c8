/* Custom error pages (src/http/errorpage.h): the status → page table and the read of a page at
 * each use. No state beyond the table, which does not change after errorpages_new. */
#define _GNU_SOURCE
#include "errorpage.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httputil.h"
#include "log.h"

struct errorpages {
    const error_page_t *pages; /* the configuration's */
    size_t n;
    router_t *router;
    const mime_table_t *mime;
    /* One limiter per table, not per page: a flood of errors for a missing page logs once a
     * second whatever the status. */
    log_limiter_t failed;
};

errorpages_t *errorpages_new(const config_t *cfg, router_t *router, const mime_table_t *mime)
{
    if (cfg->n_error_pages == 0)
        return NULL;
    errorpages_t *t = calloc(1, sizeof *t);
    if (!t) {
        log_error("out of memory for the error pages: the built-in ones are used");
        return NULL;
    }
    t->pages = cfg->error_pages;
    t->n = cfg->n_error_pages;
    t->router = router;
    t->mime = mime;
    return t;
}

void errorpages_free(errorpages_t *t)
{
    free(t);
}

static void builtin_body(unsigned status, error_body_t *out)
{
    out->data = out->builtin;
    out->len = http_error_body(status, out->builtin, sizeof out->builtin);
    out->content_type = "text/html";
}

/* The whole of an open regular file of size bytes into a new buffer; NULL with errno set. */
static char *read_page(int fd, size_t size)
{
    char *data = malloc(size ? size : 1);
    if (!data)
        return NULL;
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, data + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(data);
            if (n == 0)
                errno = EIO; /* shrank while being read */
            return NULL;
        }
        got += (size_t)n;
    }
    return data;
}

void errorpage_body(errorpages_t *t, unsigned status, error_body_t *out)
{
    builtin_body(status, out);
    const error_page_t *page = NULL;
    for (size_t i = 0; t && i < t->n && !page; i++)
        if (t->pages[i].status == status)
            page = &t->pages[i];
    if (!page)
        return;
    /* The page is the administrator's file: served as the static-file rules say, past every
     * wildcard map (a map on "/" with a star would otherwise claim it for its extension). */
    route_t route;
    route_resolve_after(t->router, page->url, UINT_MAX, &route);
    const char *why = NULL;
    char *data = NULL;
    if (route.kind != ROUTE_STATIC)
        why = route.kind == ROUTE_NOT_FOUND ? "no such file"
                                            : "not a static file the server may send";
    else if (route.fd < 0)
        why = strerror(route.fd_errno);
    else if ((uint64_t)route.st.st_size > ERRORPAGE_MAX_BYTES)
        why = "larger than 256 KiB";
    else if (!(data = read_page(route.fd, (size_t)route.st.st_size)))
        why = strerror(errno);
    if (why) {
        log_limited(&t->failed, LOG_WARN,
                    "error page %u=%s cannot be served (%s): the built-in page is sent instead",
                    status, page->url, why);
    } else {
        out->data = data;
        out->len = (size_t)route.st.st_size;
        out->content_type = mime_lookup(t->mime, route.file);
    }
    route_free(&route);
}

void errorpage_release(error_body_t *b)
{
    if (b->data != b->builtin)
        free(b->data);
    b->data = b->builtin;
    b->len = 0;
}
