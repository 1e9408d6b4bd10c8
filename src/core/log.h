/* Error log: one line per event on standard error, "YYYY-MM-DDTHH:MM:SSZ [level] message".
 * Thread-safe (one write(2) per line). Messages say what happened and why.
 *
 * The error log is descriptor 2 itself: log_open puts the file there, so crash reports
 * (crash.c), sanitizers and whatever an extension prints to stderr land in it too. Reopening
 * (SIGUSR1, after logrotate renamed the file) swaps the file under descriptor 2 with one
 * dup2(2), which the kernel does atomically: a line being written goes whole to the old file or
 * whole to the new one, and no writer ever sees a closed descriptor. */
#ifndef ISAPID_LOG_H
#define ISAPID_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 } log_level_t;

void log_set_level(log_level_t level);
/* "error", "warn", "info", "debug" → *out; false for anything else. */
bool log_level_from_name(const char *name, log_level_t *out);

/* Opens path (created mode 0644 if missing, appended to, never truncated) and makes it the
 * error log; call it again with the same path to reopen after a rename. NULL or "-" = standard
 * error as the process got it (nothing to do). On failure the log is left as it was, and err
 * holds the reason (strerror text) for the caller to report. Not for concurrent callers (the
 * signal-handling thread calls it); log lines may be written meanwhile from any thread. */
int log_open(const char *path, char *err, size_t err_size);
/* Checks that path would open as log_open opens it (--test-config), without making it the log. */
int log_check(const char *path, char *err, size_t err_size);
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A repeated condition (out of descriptors, a full pool...) is logged at most once per second
 * per limiter, and the first line after a quiet second says how many were left out. One limiter
 * per cause, usually a static at the call site (it is a counter, not configuration).
 * Thread-safe, lock-free. */
typedef struct log_limiter {
    _Atomic unsigned long long second; /* CLOCK_MONOTONIC second of the last line written */
    _Atomic unsigned long long suppressed; /* calls left out since that line */
} log_limiter_t;
#define LOG_LIMITER_INIT {0, 0}

/* Writes the line when the limiter allows it, with " (N more like this in the last Ms)" added
 * when lines were left out; returns whether it wrote. */
bool log_limited(log_limiter_t *lim, log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
