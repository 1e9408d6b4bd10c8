/* Custom error pages (--error-page STATUS=/URL): the body of an error response. The server's own
 * errors (conn_respond_error: the router's 403/404, 400/408/413/414/431 of bad requests, 503) and
 * the ISAPI host's (500 of a failed or crashed extension, 503 of a disabled one,
 * HSE_REQ_SEND_CUSTOM_ERROR) all take their body from here: the configured page for the status,
 * else the built-in one.
 *
 * A page is opened and read at each use, through the router (the static-file rules: below the
 * root, no symlink out, no dot segment), not cached: a page the administrator edits is seen at
 * the next error without any invalidation, and error pages are small (at most
 * ERRORPAGE_MAX_BYTES), so the cost is that of serving a small static file. A page that cannot
 * be served (gone, not a regular file, too big, unreadable) gives the built-in body and a
 * rate-limited log line saying which page and why.
 *
 * Ownership: the server creates the table from its configuration (errorpages_new) and frees it
 * after the threads that use it; the table borrows the configuration, the router and the MIME
 * table, which outlive it. Any thread may call errorpage_body at once. */
#ifndef ISAPID_ERRORPAGE_H
#define ISAPID_ERRORPAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "mime.h"
#include "route.h"

#define ERRORPAGE_MAX_BYTES (256u * 1024u)

typedef struct errorpages errorpages_t;

/* The body of one error response: data (len bytes) and its Content-Type. Filled by
 * errorpage_body, released by errorpage_release. */
typedef struct error_body {
    char *data; /* builtin, or a malloc'ed copy of the page */
    size_t len;
    const char *content_type; /* static, or from the MIME table */
    char builtin[256];
} error_body_t;

/* The table of cfg->error_pages. NULL when none are configured or memory runs out (then every
 * error gets the built-in body; running out is logged). */
errorpages_t *errorpages_new(const config_t *cfg, router_t *router, const mime_table_t *mime);
void errorpages_free(errorpages_t *t);
/* The body for an error response with this status; t may be NULL (no pages). */
void errorpage_body(errorpages_t *t, unsigned status, error_body_t *out);
void errorpage_release(error_body_t *b);

#endif
