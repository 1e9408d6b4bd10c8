#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(log_level_t level) { atomic_store(&log_level, (int)level); }

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
