/* reqinfo_t: everything the server knows about a request that an extension may ask for
 * (server variables, ECB strings). A flat view with plain NUL-terminated strings, so the
 * variable code does not depend on the connection or parser structures.
 *
 * Ownership: all pointers point into memory owned by the request (its arena) and live as long
 * as the request. Strings are never NULL: absent values are "". */
#ifndef ISAPID_REQINFO_H
#define ISAPID_REQINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_header {
    const char *name;   /* as received (case preserved), NUL-terminated */
    const char *value;  /* leading/trailing blanks removed, NUL-terminated */
    uint32_t name_len;
    uint32_t value_len;
} http_header_t;

/* Whether h's name is name[0, len) in any case: ASCII only, on purpose (names are tokens, and
 * the C library's case functions follow the process locale, which a loaded extension may
 * change). The one header-name comparison of the server. */
bool http_header_named(const http_header_t *h, const char *name, size_t len);

typedef struct reqinfo {
    const char *method;           /* "GET" */
    const char *raw_target;       /* request target as received, e.g. "/scripts/x.dll/a%20b?q=1" */
    const char *raw_path;         /* raw_target without the query, still percent-encoded */
    const char *path;             /* decoded, normalised path: "/scripts/x.dll/a b" */
    const char *query;            /* raw query without '?', not decoded; "" if none */
    unsigned http_major, http_minor;
    const http_header_t *headers; /* in received order */
    size_t n_headers;

    const char *remote_addr;      /* "127.0.0.1" or "::1": the client, as a PROXY protocol
                                   * header or a trusted proxy's X-Forwarded-For names it */
    unsigned remote_port;         /* 0 when a forwarded address came without a port */
    unsigned local_port;          /* (beside remote_port: no padding) */
    const char *local_addr;
    const char *server_name;      /* Host header without port, else config server_name, else local_addr */

    const char *document_root;    /* config root, absolute */
    const char *script_name;      /* URL of the extension or mapped file: "/scripts/x.dll" */
    const char *script_filename;  /* file system path of the extension (or mapped file, for --map) */
    const char *path_info;        /* see docs: path after the extension name; URL path for --map */
    const char *path_translated;  /* path_info mapped below the root (for --map the whole path) */
    const char *appl_physical_path; /* directory holding the extension, with trailing '/' */

    bool has_content_length;
    bool chunked;                 /* Transfer-Encoding: chunked */
    bool https;                   /* a proxy in front terminated TLS: the PROXY v2 SSL TLV, or
                                   * X-Forwarded-Proto: https from a trusted peer */
    uint64_t content_length;      /* valid when has_content_length */
    const char *content_type;     /* Content-Type header or "" */
    const char *server_software;  /* "isapid/VERSION" */
    uint64_t instance_id;         /* 1 */
} reqinfo_t;

/* Find a header by name, case-insensitively. NULL when absent. */
const http_header_t *reqinfo_header(const reqinfo_t *ri, const char *name);

#endif
