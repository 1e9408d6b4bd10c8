#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(log_level_t level) { atomic_store(&log_level, (int)level); }

bool log_level_from_name(const char *name, log_level_t *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return true;
        }
    return false;
}

static int open_log_file(const char *path, char *err, size_t err_size)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0 && err && err_size)
        snprintf(err, err_size, "%s", strerror(errno));
    return fd;
}

int log_check(const char *path, char *err, size_t err_size)
{
    if (!path || strcmp(path, "-") == 0)
        return 0;
    int fd = open_log_file(path, err, err_size);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

int log_open(const char *path, char *err, size_t err_size)
{
    if (!path || strcmp(path, "-") == 0)
        return 0;
    int fd = open_log_file(path, err, err_size);
    if (fd < 0)
        return -1;
    /* dup2, not close-then-open: descriptor 2 stays open throughout (see log.h). */
    int rc = fd == STDERR_FILENO ? fcntl(fd, F_SETFD, 0) : dup2(fd, STDERR_FILENO);
    if (rc < 0 && err && err_size)
        snprintf(err, err_size, "%s", strerror(errno));
    if (fd != STDERR_FILENO)
        close(fd); /* the file stays open as descriptor 2 */
    return rc < 0 ? -1 : 0;
}

static void log_vmsg(log_level_t level, const char *suffix, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, " [%s] ", level_names[level]);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    if (suffix) {
        size_t k = strlen(suffix);
        if (k > sizeof line - 2 - len)
            k = sizeof line - 2 - len;
        memcpy(line + len, suffix, k);
        len += k;
    }
    line[len++] = '\n';
    /* One write per line: lines from several threads never interleave. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, NULL, fmt, ap);
    va_end(ap);
}

bool log_limited(log_limiter_t *lim, log_level_t level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level))
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* +1: second 0 of the monotonic clock must differ from a limiter that never wrote. */
    unsigned long long now = (unsigned long long)ts.tv_sec + 1, last = atomic_load(&lim->second);
    if (last == now || !atomic_compare_exchange_strong(&lim->second, &last, now)) {
        atomic_fetch_add(&lim->suppressed, 1);
        return false;
    }
    unsigned long long left_out = atomic_exchange(&lim->suppressed, 0);
    char suffix[96];
    if (left_out)
        snprintf(suffix, sizeof suffix, " (%llu more like this since the last such line, %llu s ago)",
                 left_out, now - last);
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, left_out ? suffix : NULL, fmt, ap);
    va_end(ap);
    return true;
}
