/* Access log: each line is built in a stack buffer and handed to the kernel in one write(2) on an
 * O_APPEND descriptor, so concurrent writers need no lock. On a regular file every line lands
 * whole; on a pipe (stdout under a supervisor) only lines up to PIPE_BUF (4096) bytes are atomic,
 * which is why fields are capped. */
#define _GNU_SOURCE
#include "accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest escaped field; longer ones are cut and end in "...". */
#define FIELD_MAX 2048
/* 7 text fields (with quotes and separators), the time, status, size and the version. */
#define LINE_MAX_BYTES (7 * (FIELD_MAX + 4) + 128)

struct accesslog {
    int fd;        /* never changes: a reopen puts the new file under the same number */
    bool close_fd; /* false for "-": standard output belongs to the process */
    char *path;    /* owned; NULL for "-" */
};

static int open_for_append(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

accesslog_t *accesslog_open(const char *path, char *err, size_t err_size)
{
    int fd;
    bool is_stdout = path && strcmp(path, "-") == 0;
    if (!path || !*path) {
        errno = EINVAL;
        fd = -1;
    } else if (is_stdout) {
        fd = STDOUT_FILENO;
    } else {
        fd = open_for_append(path);
    }
    if (fd < 0) {
        if (err && err_size)
            snprintf(err, err_size, "%s", strerror(errno));
        return NULL;
    }
    accesslog_t *log = malloc(sizeof *log);
    if (!log) {
        if (!is_stdout)
            close(fd);
        if (err && err_size)
            snprintf(err, err_size, "%s", strerror(ENOMEM));
        return NULL;
    }
    log->fd = fd;
    log->close_fd = !is_stdout;
    log->path = is_stdout ? NULL : strdup(path);
    if (!is_stdout && !log->path) {
        close(fd);
        free(log);
        if (err && err_size)
            snprintf(err, err_size, "%s", strerror(ENOMEM));
        return NULL;
    }
    return log;
}

int accesslog_reopen(accesslog_t *log, char *err, size_t err_size)
{
    if (!log || !log->path)
        return 0;
    int fd = open_for_append(log->path);
    int rc = fd < 0 ? -1 : dup3(fd, log->fd, O_CLOEXEC);
    if (rc < 0 && err && err_size)
        snprintf(err, err_size, "%s", strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc < 0 ? -1 : 0;
}

void accesslog_close(accesslog_t *log)
{
    if (!log)
        return;
    if (log->close_fd)
        close(log->fd);
    free(log->path);
    free(log);
}

typedef struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
} line_t;

/* Appends raw bytes; callers size their pieces so the buffer never overflows, the check is a
 * backstop. */
static void put(line_t *l, const char *s, size_t n)
{
    if (n > sizeof l->buf - l->len)
        n = sizeof l->buf - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_str(line_t *l, const char *s) { put(l, s, strlen(s)); }

static bool needs_escape(unsigned char c) { return c < 0x20 || c == 0x7f || c == '"' || c == '\\'; }

/* Appends s with '"', '\' and control bytes (< 0x20, 0x7f) as \xHH; "-" when s is NULL or "".
 * Bytes >= 0x80 pass through (UTF-8 user agents stay readable). A field whose escaped form is
 * longer than FIELD_MAX is cut at a whole character so that, with a "..." marker, it is
 * FIELD_MAX bytes at most. */
static void put_field(line_t *l, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s || !*s) {
        put(l, "-", 1);
        return;
    }
    size_t need = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && need <= FIELD_MAX; p++)
        need += needs_escape(*p) ? 4 : 1;
    size_t limit = need <= FIELD_MAX ? FIELD_MAX : FIELD_MAX - 3;

    char out[FIELD_MAX];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool esc = needs_escape(*p);
        if (n + (esc ? 4 : 1) > limit)
            break;
        if (esc) {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        } else {
            out[n++] = (char)*p;
        }
    }
    if (need > FIELD_MAX) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    put(l, out, n);
}

static void put_quoted(line_t *l, const char *s)
{
    put(l, "\"", 1);
    put_field(l, s);
    put(l, "\"", 1);
}

/* "[22/Nov/2026:10:00:00 +0000]" in UTC. Month names are spelled out here: strftime's %b follows
 * the locale, and the combined format wants English. */
static void put_time(line_t *l, time_t when)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!gmtime_r(&when, &tm)) {
        time_t zero = 0;
        gmtime_r(&zero, &tm);
    }
    char t[40];
    int n = snprintf(t, sizeof t, "[%02d/%s/%04d:%02d:%02d:%02d +0000]", tm.tm_mday,
                     months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    put(l, t, n > 0 ? (size_t)n : 0);
}

void accesslog_entry_fill(accesslog_entry_t *e, const reqinfo_t *ri, const char *remote_addr,
                          time_t when, unsigned status, uint64_t body_bytes,
                          const char *log_param)
{
    const http_header_t *ref = ri->n_headers ? reqinfo_header(ri, "Referer") : NULL;
    const http_header_t *ua = ri->n_headers ? reqinfo_header(ri, "User-Agent") : NULL;
    *e = (accesslog_entry_t){
        .remote_addr = remote_addr,
        .when = when,
        .method = ri->method ? ri->method : "-",
        .target = ri->raw_target ? ri->raw_target : "-",
        .http_major = ri->http_major ? ri->http_major : 1,
        .http_minor = ri->http_minor,
        .status = status,
        .body_bytes = body_bytes,
        .referer = ref ? ref->value : NULL,
        .user_agent = ua ? ua->value : NULL,
        .log_param = log_param,
    };
}

void accesslog_write(accesslog_t *log, const accesslog_entry_t *e)
{
    if (!log || !e)
        return;
    line_t l;
    l.len = 0;
    char num[48];
    int n;

    put_field(&l, e->remote_addr);
    put_str(&l, " - ");
    put_field(&l, e->user);
    put(&l, " ", 1);
    put_time(&l, e->when);
    put(&l, " \"", 2);
    if (e->method && *e->method) {
        put_field(&l, e->method);
        put(&l, " ", 1);
        put_field(&l, e->target);
        n = snprintf(num, sizeof num, " HTTP/%u.%u", e->http_major, e->http_minor);
        put(&l, num, n > 0 ? (size_t)n : 0);
    } else {
        put(&l, "-", 1); /* no request line was parsed (e.g. a 400 for garbage) */
    }
    put(&l, "\"", 1);
    if (e->body_bytes)
        n = snprintf(num, sizeof num, " %u %" PRIu64 " ", e->status, e->body_bytes);
    else
        n = snprintf(num, sizeof num, " %u - ", e->status);
    put(&l, num, n > 0 ? (size_t)n : 0);
    put_quoted(&l, e->referer);
    put(&l, " ", 1);
    put_quoted(&l, e->user_agent);
    if (e->log_param && *e->log_param) {
        put(&l, " ", 1);
        put_quoted(&l, e->log_param);
    }
    if (l.len == sizeof l.buf)
        l.len--;
    l.buf[l.len++] = '\n';

    /* A short write only happens on errors (disk full, a signal mid-way on a pipe); the rest is
     * written after it so the file stays line-structured. Failures are dropped: losing a log line
     * must not fail the request. */
    const char *p = l.buf;
    size_t left = l.len;
    while (left > 0) {
        ssize_t w = write(log->fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        left -= (size_t)w;
    }
}
