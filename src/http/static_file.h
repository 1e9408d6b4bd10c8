/* Static files: decides the response for a file below the root (status, headers, which byte
 * range to send). The connection code sends the head and then the range with sendfile.
 * Runs on the event loop: it never reads file contents; for a route, whose file route_resolve
 * opened and fstat()ed, its only system call is the close() of a file that is not sent. */
#ifndef ISAPID_STATIC_FILE_H
#define ISAPID_STATIC_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "mime.h"
#include "reqinfo.h"
#include "route.h"

typedef struct static_response {
    unsigned status;        /* 200, 206, 304, 403, 404, 405, 412, 416, 500, 503 */
    int fd;                 /* open file to send from, or -1; the caller closes it. Opened
                             * O_RDONLY|O_CLOEXEC|O_NONBLOCK|O_NOCTTY (a FIFO swapped in after
                             * routing cannot block the loop; O_NONBLOCK is moot for sendfile
                             * from a regular file) */
    uint64_t offset;        /* first byte to send from fd */
    uint64_t length;        /* bytes to send from fd (also the Content-Length for 200/206) */
    bool has_body_length;   /* true: Content-Length: length goes in the head (200, 206; 416 → 0).
                             * false: 304 (no body), or an error (403, 404, 405, 412, 500, 503) whose
                             * body, if any, the caller makes */
    char headers[768];      /* extra header lines, each "Name: value\r\n": Content-Type, Last-Modified,
                             * ETag, Accept-Ranges, Content-Range, Allow (405); NUL-terminated */
    unsigned headers_len;
} static_response_t;

/* route: a ROUTE_STATIC result of route_resolve, whose file is open (route->fd, route->st) or
 * failed to open (route->fd -1, route->fd_errno). Takes route->fd over (route->fd is -1 after
 * the call, whatever the outcome), so route_free no longer closes it. ri supplies the method and
 * the conditional/range headers:
 * GET and HEAD only (others → 405 with Allow: GET, HEAD); If-Match (strong comparison) or, without
 * it, If-Unmodified-Since failing → 412; If-None-Match (then If-Modified-Since is ignored) → 304;
 * If-Modified-Since → 304; Range with If-Range (an ETag or a date that must
 * match, else the whole file) → 206 / 416. For HEAD the fd is still returned (the caller
 * does not send it) so lengths are right; HEAD gets exactly the headers GET would.
 * Errors opening the file: ENOENT/ENOTDIR → 404, EACCES/EPERM/ELOOP/EXDEV (a symlink swapped in
 * after routing) → 403, not a regular file → 403, EMFILE/ENFILE → 503 (logged, at most once a
 * second), other → 500 (fd -1).
 * Only 200 and 206 leave fd open; every other status closes it and sets fd -1.
 * 304 carries ETag and Last-Modified; 200/206 carry Content-Type (from the file's canonical
 * name, route->file), Last-Modified, ETag and Accept-Ranges (206 also Content-Range: bytes
 * A-B/SIZE); 416 carries only Content-Range ("bytes * / SIZE", written without the blanks). */
void static_file_respond_route(const mime_table_t *mime, const reqinfo_t *ri, route_t *route,
                               static_response_t *out);

/* The same for a file named by path (absolute, an existing regular file below the root: the
 * caller checked containment), which is opened here with O_NOFOLLOW and fstat()ed. */
void static_file_respond(const mime_table_t *mime, const reqinfo_t *ri, const char *file,
                         static_response_t *out);

#endif
