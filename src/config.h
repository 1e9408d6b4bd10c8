/* isapid configuration: one config_t built from defaults, an optional INI file, then the
 * command line (later sources override earlier ones; repeatable options given on the command
 * line replace those from the file).
 *
 * Ownership: every string and array in a config_t is heap-allocated and owned by it;
 * config_free() releases them. Paths are stored absolute (resolved when parsed: command-line
 * paths against the working directory, config-file paths against the file's directory). */
#ifndef ISAPID_CONFIG_H
#define ISAPID_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "cidr.h"
#include "log.h"

#define CONFIG_MAX_LISTEN 16
#define CONFIG_MAX_TRUST_PROXY 32

typedef struct listen_addr {
    struct sockaddr_storage addr; /* AF_INET or AF_INET6, port set */
    socklen_t addr_len;
    char text[64];                /* as given, e.g. "127.0.0.1:8080" or "[::1]:8080" */
    bool proxy_protocol;          /* ",proxy-protocol": every connection starts with a PROXY
                                   * protocol header (src/http/proxyproto.h) */
} listen_addr_t;

/* --scripts /PREFIX=DIR: URL prefix (starts with '/', no trailing '/', "/" itself is allowed)
 * mapped to a directory whose X.so / X.dll files are extensions. */
typedef struct script_dir {
    char *prefix;
    char *dir;
} script_dir_t;

/* --map .EXT=HANDLER.so: files under the root with this extension are run by the handler.
 * ext keeps its leading dot and is compared case-insensitively.
 * --map /PREFIX/\*=HANDLER.so (and /\*): a wildcard application map; ext then holds the URL
 * prefix without the trailing "/\*" ("/" for /\*), matched on segment boundaries and
 * case-sensitively. Wildcards keep their order in maps (the first one first, src/http/route.h). */
typedef struct script_map {
    char *ext;
    char *handler;
} script_map_t;

/* --filter PATH.so, or [filters] NAME = PATH.so: an ISAPI filter (src/isapi/filter.h), loaded
 * at start-up in every worker; the array is in load order. name is the INI key, or the file's
 * base name for --filter. */
typedef struct filter_conf {
    char *name;
    char *path;
} filter_conf_t;
/* --error-page STATUS=/URL: the server's error responses with this status (its own and
 * HSE_REQ_SEND_CUSTOM_ERROR's) carry this static file below the root (src/http/errorpage.h). */
typedef struct error_page {
    unsigned status; /* 400-599 */
    char *url;       /* normalised path, starts with '/' */
} error_page_t;

static inline bool script_map_is_wildcard(const script_map_t *m) { return m->ext[0] == '/'; }

typedef struct config {
    listen_addr_t listen[CONFIG_MAX_LISTEN];
    size_t n_listen;

    char *root;                 /* document root (absolute, no trailing '/' unless it is "/") */
    script_dir_t *scripts;
    size_t n_scripts;
    script_map_t *maps;
    size_t n_maps;
    filter_conf_t *filters;     /* ISAPI filters, in load order */
    size_t n_filters;

    unsigned processes;         /* worker processes under a master (src/master.h); 0 = a single
                                 * process without master ("auto" is resolved when parsed) */
    unsigned rapid_fail_crashes;   /* an extension crashing this often within the window is
                                    * disabled; 0 = off */
    uint32_t rapid_fail_window_ms;
    /* Recycling (src/master.h): a worker is replaced, overlapped, after this many requests, this
     * uptime, or above this private memory; 0 = off. */
    unsigned recycle_requests;
    uint32_t recycle_time_s;
    unsigned recycle_memory_mib;
    uint32_t health_timeout_s;  /* a worker whose loops do not answer for this long is replaced */
    unsigned threads;           /* event loops; 0 = one per online CPU */
    unsigned workers_min;       /* extension worker pool */
    unsigned workers_max;
    unsigned completion_workers_min; /* completion callbacks' pool */
    unsigned completion_workers_max;
    unsigned extension_share;   /* percent of each pool's max that one extension may hold */

    cidr_t trust_proxy[CONFIG_MAX_TRUST_PROXY]; /* --trust-proxy, in the order given: peers
                                                 * whose X-Forwarded-* are believed
                                                 * (src/http/forwarded.h) */
    size_t n_trust_proxy;
    bool reuse_port;            /* --reuse-port: SO_REUSEPORT on every listener */
    uint32_t defer_accept_s;    /* --defer-accept: TCP_DEFER_ACCEPT on the listeners isapid
                                 * opens (not on those systemd passes); 0 = off */

    char *access_log;           /* NULL = off, "-" = stdout, else a file path (not opened here) */
    char *server_name;          /* SERVER_NAME when the request has no Host; NULL = local address */
    char *status_path;          /* --status: the status page's URL path; NULL = off */
    cidr_t *status_allow;       /* --status-allow: who may see it; none = loopback only */
    size_t n_status_allow;
    error_page_t *error_pages;  /* --error-page, at most one per status */
    size_t n_error_pages;
    char *error_log;            /* NULL = standard error, else a file path (opened by log_open) */
    log_level_t log_level;      /* lines above this level are left out */
    char *user;                 /* --user USER[:GROUP] as given; NULL = keep the starting user
                                 * (src/privileges.h) */

    /* limits */
    uint32_t max_header_bytes;  /* request line + headers; over → 431 (414 when the URI alone is too long) */
    uint32_t max_uri_bytes;     /* request target; over → 414 */
    uint64_t max_body_bytes;    /* over → 413; 0 = unlimited */
    uint32_t read_ahead_bytes;  /* body bytes read before HttpExtensionProc (IIS UploadReadAheadSize) */
    uint32_t min_body_rate;     /* bytes per second a request body must bring in every window of
                                 * waiting (src/http/bodyrate.h); 0 = off */
    uint32_t min_send_rate;     /* bytes per second a client must take of a response in every
                                 * window of waiting for it (src/http/sendrate.h); 0 = off */

    /* timeouts, milliseconds */
    uint32_t header_timeout_ms;    /* whole request head must arrive within this */
    uint32_t keepalive_timeout_ms; /* idle between requests */
    uint32_t body_timeout_ms;      /* no body progress for this long → close */
    uint32_t send_timeout_ms;      /* no send progress for this long → close */
    uint32_t shutdown_grace_ms;    /* SIGTERM: in-flight requests get this long */
    uint32_t handoff_after_ms;     /* the hand-off watchdog's tick: a call seen on two is taken */
    uint32_t body_rate_window_ms;  /* window of the minimum body rate; the first is the grace period */
    uint32_t pending_report_ms;    /* sessions pending longer than this are counted and logged,
                                    * once per this period (src/isapi/parked.h); 0 = off */
    uint32_t send_rate_window_ms;  /* window of the minimum send rate; the first is the grace period */

    bool follow_script_symlinks; /* load an extension whose file is reached through a symlink
                                  * leading out of its script directory (default: 403) */
    bool send_url_redirect;     /* HSE_REQ_SEND_URL: false = serve the URL internally, true = IIS 6 302 */
    bool extensions_inline;     /* HttpExtensionProc on the loop's thread (hand-off when it blocks);
                                 * false = always on the worker pool */
    bool test_config;           /* --test-config: validate and exit */

    FILE *errors;               /* where parse errors are written; NULL (the default) = stderr.
                                 * Not owned: config_free leaves it open. */
} config_t;

/* Result of parsing: 0 = go on, 1 = exit 0 now (--help/--version printed), -1 = error (one
 * message, "isapid: WHERE: WHAT", already written to cfg->errors or stderr, naming the option, or
 * the file and line). */
typedef enum { CONFIG_OK = 0, CONFIG_EXIT = 1, CONFIG_ERROR = -1 } config_status_t;

/* Fill defaults; cfg's previous contents are overwritten, not freed. exe_dir is the directory
 * of the running binary (NULL = unknown); the default root is exe_dir/../www and the default
 * script dir /examples=exe_dir/examples when those exist, else ./www and ./build/examples
 * relative to the working directory (the default script dir is left out when neither exists).
 * Default listen 127.0.0.1:8080, threads 0, workers 4:64, completion workers 2:32, extension
 * share 75 %, limits 16384/8192/0 (unlimited)/49152,
 * minimum body rate 240 bytes/s over 5 s windows (Kestrel's MinRequestBodyDataRate: 240 bytes/s
 * after a 5 s grace period), minimum send rate 240 bytes/s over 5 s windows (http.sys's
 * MinSendRate), timeouts header 10 s, keep-alive 15 s, body 30 s, send 30 s,
 * grace 10 s, hand-off after 1 ms, access log off, error log standard error, log level info,
 * no --user,
 * server name NULL, HSE_REQ_SEND_URL internal, extensions run on the loop's thread. Whatever config_parse_args or config_load_file
 * return, the caller ends with config_free. */
void config_defaults(config_t *cfg, const char *exe_dir);

/* Parse argv (argv[0] is the program). Handles --config FILE (read first, wherever it appears),
 * then every other option in order. Validates at the end: the root exists and is a directory,
 * script dirs exist, handlers exist, workers_min <= workers_max, ports in range. */
config_status_t config_parse_args(config_t *cfg, int argc, char **argv);

/* Read an INI file into cfg (no existence checks: config_parse_args does those at the end).
 * Errors name the file and line; the first error is reported and cfg may be partly updated. */
config_status_t config_load_file(config_t *cfg, const char *path);

/* Frees everything cfg owns and leaves it empty (safe to call twice). */
void config_free(config_t *cfg);

/* Parse "ADDR:PORT" ("127.0.0.1:8080", "[::1]:80", "*:8080" = all IPv4, ":8080" likewise).
 * Addresses are numeric (no host names); the port is 1-65535. Returns 0 or -1. */
int config_parse_listen(const char *text, listen_addr_t *out);

/* Print the usage text to the stream. */
void config_usage(FILE *to);

#endif
