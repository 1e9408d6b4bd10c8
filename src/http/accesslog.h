/* Access log in the combined format, plus the HSE_APPEND_LOG_PARAMETER text:
 *   host - user [22/Nov/2026:10:00:00 +0000] "GET /x?y HTTP/1.1" 200 1234 "referer" "agent" "param"
 * The time is the request start in UTC. The last field is present only when an extension appended
 * a log parameter. Fields are escaped (", \ and control bytes as \xHH; bytes >= 0x80 pass
 * through), and a field longer than 2 KiB once escaped is cut and ends in "...". One write(2) per
 * line on an O_APPEND descriptor: lines from many threads never interleave (on a pipe, only lines
 * up to PIPE_BUF = 4 KiB are atomic). */
#ifndef ISAPID_ACCESSLOG_H
#define ISAPID_ACCESSLOG_H

#include <stdint.h>
#include <time.h>

#include "reqinfo.h"

typedef struct accesslog accesslog_t;

typedef struct accesslog_entry {
    const char *remote_addr;   /* NULL → "-" */
    const char *user;          /* NULL or "" → "-" */
    time_t when;               /* request start */
    const char *method;        /* NULL or "" → the whole request field is "-" (no request line) */
    const char *target;        /* raw request target; NULL → "-" */
    unsigned http_major, http_minor;
    unsigned status;
    uint64_t body_bytes;       /* response body bytes sent ("-" when 0) */
    const char *referer;       /* NULL or "" → "-" */
    const char *user_agent;    /* NULL or "" → "-" */
    const char *log_param;     /* NULL or "" → field omitted */
} accesslog_entry_t;

/* The entry of the request ri describes, as both the loop (its own responses) and the ISAPI
 * host (an extension's) log it: method, target, version, Referer and User-Agent from ri, the rest
 * from the caller (log_param: NULL, or the extension's text). ri may be a head that was never
 * parsed through (a 400, 408, 414 or 431 of the loop): its missing method and target log as
 * "-", its missing version as HTTP/1.x. */
void accesslog_entry_fill(accesslog_entry_t *e, const reqinfo_t *ri, const char *remote_addr,
                          time_t when, unsigned status, uint64_t body_bytes,
                          const char *log_param);

/* Opens (creates, mode 0644) path for appending; "-" = standard output, which accesslog_close
 * leaves open. On failure: NULL, and err holds the reason alone (strerror text, e.g. "Permission
 * denied"), for the caller to put after the path. accesslog_write may be called from any thread;
 * close only when no write can be running. */
accesslog_t *accesslog_open(const char *path, char *err, size_t err_size);
void accesslog_write(accesslog_t *log, const accesslog_entry_t *e);
/* Reopens the file by its name (SIGUSR1, after logrotate renamed it): the new file takes the
 * old one's descriptor number in one dup3(2), so writers running meanwhile need no lock and
 * never write to a closed descriptor; each line lands whole in the old file or the new one.
 * Standard output is left as it is. On failure the old file stays in use, and err holds the
 * reason. Not for concurrent callers. */
int accesslog_reopen(accesslog_t *log, char *err, size_t err_size);
void accesslog_close(accesslog_t *log);

#endif
