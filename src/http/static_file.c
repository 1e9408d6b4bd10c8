/* Static file responses: conditional requests (RFC 9110 §13.2.2 order), single byte ranges,
 * headers. Everything is decided from fstat of the open descriptor (route_resolve's, or the one
 * static_file_respond opens), so what the validators describe is exactly what sendfile will
 * send. Runs for every static request: header lines are assembled from pieces, not printf. */
#include "static_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httputil.h"
#include "log.h"

/* Appends the concatenation of the strings (a NULL ends the list) to the header lines. -1 when
 * it does not fit; the buffer is then unchanged. */
__attribute__((sentinel)) static int add_header(static_response_t *r, ...)
{
    size_t at = r->headers_len, room = sizeof r->headers - 1; /* the NUL's byte is kept */
    va_list ap;
    va_start(ap, r);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
        size_t n = strlen(s);
        if (n > room - at) {
            va_end(ap);
            r->headers[r->headers_len] = '\0';
            return -1;
        }
        memcpy(r->headers + at, s, n);
        at += n;
    }
    va_end(ap);
    r->headers[at] = '\0';
    r->headers_len = (unsigned)at;
    return 0;
}

/* v in decimal into buf (at least 21 bytes); returns the start of the digits. */
static const char *dec(char buf[static 21], uint64_t v)
{
    char *p = buf + 20;
    *p = '\0';
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    return p;
}

static const char *header_value(const reqinfo_t *ri, const char *name)
{
    const http_header_t *h = reqinfo_header(ri, name);
    return h ? h->value : NULL;
}

static void finish_without_file(static_response_t *r, unsigned status)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->status = status;
    r->offset = 0;
    r->length = 0;
    r->has_body_length = false;
}

/* If-Range: a strong ETag equal to ours, or exactly our Last-Modified date. */
static bool if_range_holds(const char *value, const char *etag, time_t mtime)
{
    if (value[0] == '"')
        return strcmp(value, etag) == 0;
    if (value[0] == 'W' && value[1] == '/')
        return false;
    time_t t;
    return http_date_parse(value, &t) == 0 && t == mtime;
}

/* Last-Modified text of mtime. The last one formatted is kept per thread: a busy file is served
 * many times with one mtime. */
static const char *last_modified_text(time_t mtime)
{
    static _Thread_local http_date_memo_t last;
    return http_date_memo(&last, mtime);
}

/* Errors opening the file, as statuses. Out of descriptors is the server's momentary state, not
 * the file's: 503, and a line (at most one a second) saying why. */
static unsigned open_error_status(int err, const char *file)
{
    static log_limiter_t out_of_fds = LOG_LIMITER_INIT;
    if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG)
        return 404;
    if (err == EACCES || err == EPERM || err == ELOOP || err == EXDEV)
        return 403;
    if (err == EMFILE || err == ENFILE) {
        log_limited(&out_of_fds, LOG_ERROR, "cannot open %s: %s (%s); answering 503", file,
                    strerror(err), err == EMFILE ? "the process's descriptor limit is reached"
                                                 : "the system's file table is full");
        return 503;
    }
    return 500;
}

static bool method_allowed(const reqinfo_t *ri, static_response_t *out)
{
    if (strcmp(ri->method, "GET") == 0 || strcmp(ri->method, "HEAD") == 0)
        return true;
    finish_without_file(out, 405);
    add_header(out, "Allow: GET, HEAD\r\n", NULL);
    return false;
}

/* out->fd is open and st is its fstat. name: the file's canonical path (for its type). */
static void respond_open(const mime_table_t *mime, const reqinfo_t *ri, const char *name,
                         const struct stat *st, static_response_t *out)
{
    if (!S_ISREG(st->st_mode)) {
        finish_without_file(out, 403);
        return;
    }

    char etag[48];
    http_etag_format(st, etag, sizeof etag);
    const char *last_modified = last_modified_text(st->st_mtime);
    uint64_t size = (uint64_t)st->st_size;
    time_t date;

    const char *if_match = header_value(ri, "If-Match");
    const char *if_unmodified = header_value(ri, "If-Unmodified-Since");
    if (if_match != NULL ? !http_etag_match_list_strong(if_match, etag)
                         : (if_unmodified != NULL && http_date_parse(if_unmodified, &date) == 0 &&
                            st->st_mtime > date)) {
        finish_without_file(out, 412);
        return;
    }

    const char *if_none_match = header_value(ri, "If-None-Match");
    const char *if_modified = header_value(ri, "If-Modified-Since");
    if (if_none_match != NULL ? http_etag_match_list(if_none_match, etag)
                              : (if_modified != NULL && http_date_parse(if_modified, &date) == 0 &&
                                 st->st_mtime <= date)) {
        finish_without_file(out, 304);
        if (add_header(out, "ETag: ", etag, "\r\nLast-Modified: ", last_modified, "\r\n",
                       NULL) != 0)
            finish_without_file(out, 500);
        return;
    }

    out->status = 200;
    out->offset = 0;
    out->length = size;
    char n1[21], n2[21], n3[21];
    const char *range = header_value(ri, "Range");
    const char *if_range = header_value(ri, "If-Range");
    if (range != NULL && (if_range == NULL || if_range_holds(if_range, etag, st->st_mtime))) {
        uint64_t start, length;
        switch (http_range_parse(range, size, &start, &length)) {
        case RANGE_OK:
            out->status = 206;
            out->offset = start;
            out->length = length;
            break;
        case RANGE_UNSATISFIABLE:
            finish_without_file(out, 416);
            out->has_body_length = true;
            if (add_header(out, "Content-Range: bytes */", dec(n1, size), "\r\n", NULL) != 0)
                finish_without_file(out, 500);
            return;
        case RANGE_NONE:
            break;
        }
    }

    out->has_body_length = true;
    int rc = add_header(out, "Content-Type: ", mime_lookup(mime, name), "\r\nLast-Modified: ",
                        last_modified, "\r\nETag: ", etag, "\r\nAccept-Ranges: bytes\r\n", NULL);
    if (rc == 0 && out->status == 206)
        rc = add_header(out, "Content-Range: bytes ", dec(n1, out->offset), "-",
                        dec(n2, out->offset + out->length - 1), "/", dec(n3, size), "\r\n", NULL);
    if (rc != 0) {
        out->headers_len = 0;
        out->headers[0] = '\0';
        finish_without_file(out, 500);
    }
}

static void respond_init(static_response_t *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->headers[0] = '\0';
}

void static_file_respond(const mime_table_t *mime, const reqinfo_t *ri, const char *file,
                         static_response_t *out)
{
    respond_init(out);
    if (!method_allowed(ri, out))
        return;
    out->fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (out->fd < 0) {
        finish_without_file(out, open_error_status(errno, file));
        return;
    }
    struct stat st;
    if (fstat(out->fd, &st) != 0) {
        finish_without_file(out, 500);
        return;
    }
    respond_open(mime, ri, file, &st, out);
}

void static_file_respond_route(const mime_table_t *mime, const reqinfo_t *ri, route_t *route,
                               static_response_t *out)
{
    respond_init(out);
    out->fd = route->fd; /* taken over: closed below unless it is sent */
    route->fd = -1;
    if (!method_allowed(ri, out))
        return;
    if (out->fd < 0) {
        finish_without_file(out, open_error_status(route->fd_errno, route->file));
        return;
    }
    respond_open(mime, ri, route->file, &route->st, out);
}
