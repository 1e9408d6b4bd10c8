/* Access log in the combined format, plus the HSE_APPEND_LOG_PARAMETER text:
 *   host - user [22/Nov/2026:10:00:00 +0000] "GET /x?y HTTP/1.1" 200 1234 "referer" "agent" "param"
 * The last field is present only when an extension appended a log parameter. Fields are escaped
 * (", \ and control bytes as \xHH). One write(2) per line on an O_APPEND descriptor: lines from
 * many threads never interleave. */
#ifndef ISAPID_ACCESSLOG_H
#define ISAPID_ACCESSLOG_H

#include <stdint.h>
#include <time.h>

typedef struct accesslog accesslog_t;

typedef struct accesslog_entry {
    const char *remote_addr;
    const char *user;          /* NULL → "-" */
    time_t when;               /* request start */
    const char *method;
    const char *target;        /* raw request target */
    unsigned http_major, http_minor;
    unsigned status;
    uint64_t body_bytes;       /* response body bytes sent ("-" when 0) */
    const char *referer;       /* NULL → "-" */
    const char *user_agent;    /* NULL → "-" */
    const char *log_param;     /* NULL or "" → field omitted */
} accesslog_entry_t;

/* path "-" = standard output. NULL + message in err on failure. */
accesslog_t *accesslog_open(const char *path, char *err, size_t err_size);
void accesslog_write(accesslog_t *log, const accesslog_entry_t *e);
void accesslog_close(accesslog_t *log);

#endif
