/* Configuration values: parsing one setting's value and storing it in the config_t: listen
 * addresses, the repeatable lists (listen, scripts, maps, trust_proxy, status_allow) and the
 * per-setting dispatch config_set_value(), over the primitives of src/config_parse.c (paths,
 * sizes, durations, counts).
 *
 * Invariants: every string stored in a config_t is heap-allocated and owned by it; track_t
 * entries (owned strings) stay index-aligned with cfg->scripts / cfg->maps. Errors go through
 * config_fail() (config.c), which prints at once on the command line and keeps the first one in
 * a file. No global state: everything lives in the config_t and the caller's source_t. */
#define _GNU_SOURCE
#include "config_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"
#include "httputil.h"

#define MAX_THREADS 1024u
#define MAX_WORKERS 4096u
#define MAX_PROCESSES 256u
#define MAX_RAPID_FAIL_CRASHES 1000u
#define MAX_RAPID_FAIL_SECONDS 86400u

/* ---- listen addresses ---- */

/* NULL, or why text is not a usable ADDR:PORT. */
static const char *parse_listen(const char *text, listen_addr_t *out)
{
    size_t len = strlen(text);
    if (len >= sizeof out->text)
        return "too long for an address";
    char host[sizeof out->text];
    const char *port_text;
    bool v6 = text[0] == '[';
    if (v6) {
        const char *close = strchr(text, ']');
        if (!close)
            return "missing ']' after the IPv6 address";
        if (close[1] != ':')
            return "expected [IPv6]:PORT, e.g. [::1]:8080";
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon)
            return "expected ADDR:PORT, e.g. 127.0.0.1:8080 or *:8080";
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        if (strchr(host, ':'))
            return "IPv6 addresses go in brackets, e.g. [::1]:8080";
        port_text = colon + 1;
    }

    unsigned port;
    if (config_parse_uint(port_text, 65535, &port) < 0 || port == 0)
        return "the port must be a number from 1 to 65535";

    memset(out, 0, sizeof *out);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->addr;
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return "not a numeric IPv6 address";
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        out->addr_len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&out->addr;
        if (host[0] == '\0' || strcmp(host, "*") == 0)
            a->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return "not a numeric IPv4 address (host names are not resolved; *:PORT means all)";
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        out->addr_len = sizeof *a;
    }
    memcpy(out->text, text, len + 1);
    return NULL;
}

int config_parse_listen(const char *text, listen_addr_t *out)
{
    return parse_listen(text, out) ? -1 : 0;
}

static bool same_addr(const listen_addr_t *a, const listen_addr_t *b)
{
    return a->addr_len == b->addr_len && memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

/* ---- list settings ---- */

void config_clear_scripts(config_t *cfg, track_t *t)
{
    for (size_t i = 0; i < cfg->n_scripts; i++) {
        free(cfg->scripts[i].prefix);
        free(cfg->scripts[i].dir);
    }
    free(cfg->scripts);
    cfg->scripts = NULL;
    cfg->n_scripts = 0;
    if (t)
        config_track_clear(&t->scripts, &t->n_scripts);
}

void config_clear_maps(config_t *cfg, track_t *t)
{
    for (size_t i = 0; i < cfg->n_maps; i++) {
        free(cfg->maps[i].ext);
        free(cfg->maps[i].handler);
    }
    free(cfg->maps);
    cfg->maps = NULL;
    cfg->n_maps = 0;
    if (t)
        config_track_clear(&t->maps, &t->n_maps);
}

static int add_listen(source_t *src, const char *value, const char *origin)
{
    config_t *cfg = src->cfg;
    if (!src->replaced_listen) {
        cfg->n_listen = 0;
        src->replaced_listen = true;
    }
    /* ADDR:PORT[,proxy-protocol] */
    const char *comma = strchr(value, ',');
    char addr[sizeof cfg->listen[0].text];
    size_t alen = comma ? (size_t)(comma - value) : strlen(value);
    if (alen >= sizeof addr)
        return config_fail(src, "%s: too long for an address", origin);
    memcpy(addr, value, alen);
    addr[alen] = '\0';
    listen_addr_t la;
    const char *why = parse_listen(addr, &la);
    if (why)
        return config_fail(src, "%s: %s", origin, why);
    if (comma && strcmp(comma + 1, "proxy-protocol") != 0)
        return config_fail(src, "%s: unknown listen option '%s' (known: proxy-protocol)", origin,
                           comma + 1);
    la.proxy_protocol = comma != NULL;
    for (size_t i = 0; i < cfg->n_listen; i++)
        if (same_addr(&cfg->listen[i], &la))
            return config_fail(src, "%s: the same address as %s, given earlier", origin,
                               cfg->listen[i].text);
    if (cfg->n_listen == CONFIG_MAX_LISTEN)
        return config_fail(src, "%s: too many listen addresses (at most %d)", origin,
                           CONFIG_MAX_LISTEN);
    cfg->listen[cfg->n_listen++] = la;
    return 0;
}

static int add_trust_proxy(source_t *src, const char *value, const char *origin)
{
    config_t *cfg = src->cfg;
    if (!src->replaced_trust_proxy) {
        cfg->n_trust_proxy = 0;
        src->replaced_trust_proxy = true;
    }
    cidr_t r;
    const char *why = cidr_parse(value, &r);
    if (why)
        return config_fail(src, "%s: %s", origin, why);
    if (cfg->n_trust_proxy == CONFIG_MAX_TRUST_PROXY)
        return config_fail(src, "%s: too many trusted proxy ranges (at most %d)", origin,
                           CONFIG_MAX_TRUST_PROXY);
    cfg->trust_proxy[cfg->n_trust_proxy++] = r;
    return 0;
}

/* Checks and normalises a URL prefix into a new string: starts with '/', no trailing '/' (except
 * "/" itself), and already in the form path_normalize produces (no empty, "." or ".." segments,
 * no backslash or control bytes), so that routing can compare it with a request path as is. */
static char *normalize_prefix(source_t *src, const char *prefix, const char *origin)
{
    if (prefix[0] != '/') {
        config_fail(src, "%s: the URL prefix must start with '/'", origin);
        return NULL;
    }
    size_t len = strlen(prefix);
    while (len > 1 && prefix[len - 1] == '/')
        len--;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)prefix[i];
        if (c < 0x20 || c == 0x7f || c == '\\' || c == '?' || c == '#') {
            config_fail(src, "%s: the URL prefix contains a control character, '\\', '?' or '#'",
                        origin);
            return NULL;
        }
        if (c == '/' && i + 1 < len) {
            const char *seg = prefix + i + 1;
            size_t seg_len = strcspn(seg, "/");
            if (seg + seg_len > prefix + len)
                seg_len = (size_t)(prefix + len - seg);
            if (seg_len == 0 || (seg_len == 1 && seg[0] == '.') ||
                (seg_len == 2 && seg[0] == '.' && seg[1] == '.')) {
                config_fail(src, "%s: the URL prefix must not contain '//', '.' or '..' segments",
                            origin);
                return NULL;
            }
        }
    }
    char *p = strndup(prefix, len);
    if (!p)
        config_fail_oom(src);
    return p;
}

int config_add_script(source_t *src, const char *prefix, const char *dir, const char *origin)
{
    config_t *cfg = src->cfg;
    if (!src->replaced_scripts) {
        config_clear_scripts(cfg, src->track);
        src->replaced_scripts = true;
    }
    char *p = normalize_prefix(src, prefix, origin);
    if (!p)
        return -1;
    for (size_t i = 0; i < cfg->n_scripts; i++) {
        if (strcmp(cfg->scripts[i].prefix, p) == 0) {
            free(p);
            return config_fail(src, "%s: the URL prefix %s is already mapped to %s", origin,
                               cfg->scripts[i].prefix, cfg->scripts[i].dir);
        }
    }
    char *d = config_resolve(src, dir, origin);
    if (!d) {
        free(p);
        return -1;
    }
    script_dir_t *grown = realloc(cfg->scripts, (cfg->n_scripts + 1) * sizeof *grown);
    if (!grown) {
        free(p);
        free(d);
        return config_fail_oom(src);
    }
    cfg->scripts = grown;
    grown[cfg->n_scripts].prefix = p;
    grown[cfg->n_scripts].dir = d;
    cfg->n_scripts++;
    char *t = config_track_text(origin, dir, d);
    if (!t || config_track_put(&src->track->scripts, &src->track->n_scripts, cfg->n_scripts - 1, t) < 0)
        return config_fail_oom(src);
    return 0;
}

int config_add_map(source_t *src, const char *ext, const char *handler, const char *origin)
{
    config_t *cfg = src->cfg;
    if (!src->replaced_maps) {
        config_clear_maps(cfg, src->track);
        src->replaced_maps = true;
    }
    char *e;
    if (ext[0] == '/') {
        /* A wildcard application map: /PREFIX/\* or /\*; ext keeps /PREFIX ("/" for /\*), in the
         * form --scripts prefixes take. */
        size_t n = strlen(ext);
        if (n < 2 || strcmp(ext + n - 2, "/*") != 0)
            return config_fail(src, "%s: a wildcard map must end in /*, e.g. /app/*=HANDLER.so",
                               origin);
        char *prefix = strndup(ext, n > 2 ? n - 2 : 1);
        if (!prefix)
            return config_fail_oom(src);
        e = normalize_prefix(src, prefix, origin);
        free(prefix);
        if (!e)
            return -1;
    } else {
        if (ext[0] != '.' || ext[1] == '\0')
            return config_fail(src, "%s: the extension must start with '.', e.g. .isa", origin);
        for (const char *c = ext; *c; c++) {
            unsigned char u = (unsigned char)*c;
            if (u < 0x20 || u == 0x7f || u == '/' || u == '\\')
                return config_fail(src, "%s: the extension contains '/', '\\' or a control "
                                   "character", origin);
        }
        e = strdup(ext);
    }
    if (!e)
        return config_fail_oom(src);
    for (size_t i = 0; i < cfg->n_maps; i++)
        if ((e[0] == '/' ? strcmp(cfg->maps[i].ext, e) : http_ascii_casecmp(cfg->maps[i].ext, e)) == 0) {
            int rc = e[0] == '/' ? config_fail(src, "%s: the URL prefix %s is already mapped to %s",
                                               origin, e, cfg->maps[i].handler)
                                 : config_fail(src, "%s: the extension %s is already mapped to %s",
                                               origin, cfg->maps[i].ext, cfg->maps[i].handler);
            free(e);
            return rc;
        }
    char *h = config_resolve(src, handler, origin);
    if (!h) {
        free(e);
        return -1;
    }
    script_map_t *grown = realloc(cfg->maps, (cfg->n_maps + 1) * sizeof *grown);
    if (!grown) {
        free(e);
        free(h);
        return config_fail_oom(src);
    }
    cfg->maps = grown;
    grown[cfg->n_maps].ext = e;
    grown[cfg->n_maps].handler = h;
    cfg->n_maps++;
    char *t = config_track_text(origin, handler, h);
    if (!t || config_track_put(&src->track->maps, &src->track->n_maps, cfg->n_maps - 1, t) < 0)
        return config_fail_oom(src);
    return 0;
}

void config_clear_filters(config_t *cfg, track_t *t)
{
    for (size_t i = 0; i < cfg->n_filters; i++) {
        free(cfg->filters[i].name);
        free(cfg->filters[i].path);
    }
    free(cfg->filters);
    cfg->filters = NULL;
    cfg->n_filters = 0;
    if (t)
        config_track_clear(&t->filters, &t->n_filters);
}

int config_add_filter(source_t *src, const char *name, const char *path, const char *origin)
{
    config_t *cfg = src->cfg;
    if (!src->replaced_filters) {
        config_clear_filters(cfg, src->track);
        src->replaced_filters = true;
    }
    if (!*path)
        return config_fail(src, "%s: expected the path of a filter's .so", origin);
    char *p = config_resolve(src, path, origin);
    if (!p)
        return -1;
    if (!name) { /* --filter: named after the file */
        const char *slash = strrchr(p, '/');
        name = slash ? slash + 1 : p;
    }
    for (size_t i = 0; i < cfg->n_filters; i++)
        if (strcmp(cfg->filters[i].name, name) == 0) {
            /* name may point into p (--filter's file name): report before p goes */
            int rc = config_fail(src, "%s: a filter named %s is already loaded (from %s)", origin,
                                 name, cfg->filters[i].path);
            free(p);
            return rc;
        }
    char *n = strdup(name);
    filter_conf_t *grown = n ? realloc(cfg->filters, (cfg->n_filters + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(n);
        free(p);
        return config_fail_oom(src);
    }
    cfg->filters = grown;
    grown[cfg->n_filters] = (filter_conf_t){.name = n, .path = p};
    cfg->n_filters++;
    char *t = config_track_text(origin, path, p);
    if (!t ||
        config_track_put(&src->track->filters, &src->track->n_filters, cfg->n_filters - 1, t) < 0)
        return config_fail_oom(src);
    return 0;
}

/* ---- one setting ---- */

/* MIN or MIN:MAX into *min / *max; MIN alone keeps MAX at default_max, or raises it to MIN. */
static int set_workers(source_t *src, const char *value, const char *origin, unsigned default_max,
                       unsigned *min, unsigned *max)
{
    unsigned lo, hi;
    const char *colon = strchr(value, ':');
    char min_text[24];
    size_t min_len = colon ? (size_t)(colon - value) : strlen(value);
    if (min_len >= sizeof min_text)
        return config_fail(src, "%s: expected MIN or MIN:MAX (numbers)", origin);
    memcpy(min_text, value, min_len);
    min_text[min_len] = '\0';
    int rc = config_parse_uint(min_text, MAX_WORKERS, &lo);
    if (rc == 0 && colon)
        rc = config_parse_uint(colon + 1, MAX_WORKERS, &hi);
    else if (rc == 0)
        hi = lo > default_max ? lo : default_max;
    if (rc == -1)
        return config_fail(src, "%s: expected MIN or MIN:MAX (numbers)", origin);
    if (rc == -2)
        return config_fail(src, "%s: too many workers (at most %u)", origin, MAX_WORKERS);
    if (hi == 0)
        return config_fail(src, "%s: the maximum must be at least 1", origin);
    if (lo > hi)
        return config_fail(src, "%s: minimum exceeds maximum", origin);
    *min = lo;
    *max = hi;
    return 0;
}

/* Replaces the string at *slot with a new one (NULL when value is empty). */
static int set_string(source_t *src, char **slot, const char *value)
{
    char *s = NULL;
    if (*value && !(s = strdup(value)))
        return config_fail_oom(src);
    free(*slot);
    *slot = s;
    return 0;
}

static int add_status_allow(source_t *src, const char *value, const char *origin)
{
    config_t *cfg = src->cfg;
    if (!src->replaced_status_allow) {
        free(cfg->status_allow);
        cfg->status_allow = NULL;
        cfg->n_status_allow = 0;
        src->replaced_status_allow = true;
    }
    cidr_t range;
    const char *why = cidr_parse(value, &range);
    if (why)
        return config_fail(src, "%s: %s", origin, why);
    cidr_t *grown = realloc(cfg->status_allow, (cfg->n_status_allow + 1) * sizeof *grown);
    if (!grown)
        return config_fail_oom(src);
    grown[cfg->n_status_allow++] = range;
    cfg->status_allow = grown;
    return 0;
}

void config_clear_error_pages(config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_error_pages; i++)
        free(cfg->error_pages[i].url);
    free(cfg->error_pages);
    cfg->error_pages = NULL;
    cfg->n_error_pages = 0;
}

/* STATUS=/URL: an error status and the static page (a normalised path below the root) it gets. */
static int add_error_page(source_t *src, const char *value, const char *origin)
{
    config_t *cfg = src->cfg;
    if (!src->replaced_error_pages) {
        config_clear_error_pages(cfg);
        src->replaced_error_pages = true;
    }
    const char *eq = strchr(value, '=');
    unsigned status = 0;
    char digits[8];
    size_t dl = eq ? (size_t)(eq - value) : 0;
    if (dl == 0 || dl >= sizeof digits)
        return config_fail(src, "%s: expected STATUS=/URL, e.g. 404=/errors/404.html", origin);
    memcpy(digits, value, dl);
    digits[dl] = '\0';
    if (config_parse_uint(digits, 599, &status) < 0 || status < 400)
        return config_fail(src, "%s: the status must be an error status, 400 to 599", origin);
    const char *url = eq + 1;
    size_t len = strlen(url);
    if (url[0] != '/' || strpbrk(url, "?#"))
        return config_fail(src, "%s: the page must be a URL path starting with '/' (no query)",
                           origin);
    char *norm = malloc(len + 1);
    if (!norm)
        return config_fail_oom(src);
    if (path_normalize(url, len, norm, len + 1) != PATH_OK || path_has_dot_segment(norm) ||
        norm[strlen(norm) - 1] == '/') {
        free(norm);
        return config_fail(src, "%s: the page must name a file below the root (no dot segments, "
                                "no trailing '/', no %%2F or backslash)", origin);
    }
    for (size_t i = 0; i < cfg->n_error_pages; i++) {
        if (cfg->error_pages[i].status == status) {
            free(norm);
            return config_fail(src, "%s: status %u already has the page %s", origin, status,
                               cfg->error_pages[i].url);
        }
    }
    error_page_t *grown = realloc(cfg->error_pages, (cfg->n_error_pages + 1) * sizeof *grown);
    if (!grown) {
        free(norm);
        return config_fail_oom(src);
    }
    grown[cfg->n_error_pages++] = (error_page_t){.status = status, .url = norm};
    cfg->error_pages = grown;
    return 0;
}

int config_set_value(source_t *src, const opt_t *o, const char *value, const char *origin)
{
    config_t *cfg = src->cfg;
    char *cfg_base = (char *)cfg;
    switch (o->kind) {
    case K_CONFIG:
    case K_HELP:
    case K_VERSION:
        return 0; /* handled by config_parse_args before anything else */
    case K_TEST_CONFIG:
        cfg->test_config = true;
        return 0;
    case K_SEND_URL_REDIRECT:
        cfg->send_url_redirect = true;
        return 0;
    case K_LISTEN:
        return add_listen(src, value, origin);
    case K_STATUS_ALLOW:
        return add_status_allow(src, value, origin);
    case K_ERROR_PAGE:
        return add_error_page(src, value, origin);
    case K_STATUS: {
        char *p = NULL;
        if (*value && !(p = normalize_prefix(src, value, origin)))
            return -1;
        free(cfg->status_path);
        cfg->status_path = p;
        return 0;
    }
    case K_FILTER:
        return config_add_filter(src, NULL, value, origin);
    case K_SCRIPTS:
    case K_MAP: {
        const char *eq = strchr(value, '=');
        if (!eq)
            return config_fail(src, "%s: expected %s", origin,
                               o->kind == K_SCRIPTS ? "/PREFIX=DIR"
                                                    : ".EXT=HANDLER.so or /PREFIX/*=HANDLER.so");
        char *left = strndup(value, (size_t)(eq - value));
        if (!left)
            return config_fail_oom(src);
        int rc = o->kind == K_SCRIPTS ? config_add_script(src, left, eq + 1, origin)
                                      : config_add_map(src, left, eq + 1, origin);
        free(left);
        return rc;
    }
    case K_ROOT: {
        char *abs = config_resolve(src, value, origin);
        if (!abs)
            return -1;
        char *t = config_track_text(origin, value, abs);
        if (!t) {
            free(abs);
            return config_fail_oom(src);
        }
        free(cfg->root);
        cfg->root = abs;
        free(src->track->root);
        src->track->root = t;
        return 0;
    }
    case K_ACCESS_LOG: {
        char *v = NULL;
        if (strcmp(value, "-") == 0) {
            if (!(v = strdup(value)))
                return config_fail_oom(src);
        } else if (*value && !(v = config_resolve(src, value, origin))) {
            return -1;
        }
        free(cfg->access_log);
        cfg->access_log = v;
        return 0;
    }
    case K_ERROR_LOG: {
        char *v = NULL;
        if (!*value)
            return config_fail(src, "%s: empty path (use - for standard error)", origin);
        if (strcmp(value, "-") != 0 && !(v = config_resolve(src, value, origin)))
            return -1;
        free(cfg->error_log);
        cfg->error_log = v;
        return 0;
    }
    case K_LOG_LEVEL:
        if (!log_level_from_name(value, &cfg->log_level))
            return config_fail(src, "%s: expected error, warn, info or debug", origin);
        return 0;
    case K_USER: {
        const char *colon = strchr(value, ':');
        if (*value && (colon == value || (colon && (!colon[1] || strchr(colon + 1, ':')))))
            return config_fail(src, "%s: expected USER or USER:GROUP", origin);
        return set_string(src, &cfg->user, value); /* empty = keep the starting user */
    }
    case K_SERVER_NAME:
        for (const char *c = value; *c; c++)
            if ((unsigned char)*c <= 0x20 || *c == 0x7f)
                return config_fail(
                    src, "%s: the server name must not contain spaces or control characters",
                    origin);
        return set_string(src, &cfg->server_name, value);
    case K_SEND_URL:
        if (strcmp(value, "internal") == 0)
            cfg->send_url_redirect = false;
        else if (strcmp(value, "redirect") == 0)
            cfg->send_url_redirect = true;
        else
            return config_fail(src, "%s: expected internal or redirect", origin);
        return 0;
    case K_FOLLOW_SCRIPT_SYMLINKS: /* the command line's is a flag */
        if (src->file == NULL || strcmp(value, "yes") == 0)
            cfg->follow_script_symlinks = true;
        else if (strcmp(value, "no") == 0)
            cfg->follow_script_symlinks = false;
        else
            return config_fail(src, "%s: expected yes or no", origin);
        return 0;
    case K_TRUST_PROXY:
        return add_trust_proxy(src, value, origin);
    case K_REUSE_PORT: /* the command line's is a flag */
        if (src->file == NULL || strcmp(value, "yes") == 0)
            cfg->reuse_port = true;
        else if (strcmp(value, "no") == 0)
            cfg->reuse_port = false;
        else
            return config_fail(src, "%s: expected yes or no", origin);
        return 0;
    case K_RUN_EXTENSIONS:
        if (strcmp(value, "loop") == 0)
            cfg->extensions_inline = true;
        else if (strcmp(value, "pool") == 0)
            cfg->extensions_inline = false;
        else
            return config_fail(src, "%s: expected loop or pool", origin);
        return 0;
    case K_THREADS: {
        int rc = config_parse_uint(value, MAX_THREADS, &cfg->threads);
        if (rc == -1)
            return config_fail(src, "%s: not a number", origin);
        if (rc == -2)
            return config_fail(src, "%s: too many threads (at most %u; 0 = one per CPU)", origin,
                               MAX_THREADS);
        return 0;
    }
    case K_PROCESSES: {
        if (strcmp(value, "auto") == 0) {
            long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
            cfg->processes = ncpu > 0 ? (unsigned)(ncpu < MAX_PROCESSES ? ncpu : MAX_PROCESSES) : 1;
            return 0;
        }
        int rc = config_parse_uint(value, MAX_PROCESSES, &cfg->processes);
        if (rc == -1)
            return config_fail(src, "%s: expected a number or auto", origin);
        if (rc == -2)
            return config_fail(src, "%s: too many processes (at most %u)", origin, MAX_PROCESSES);
        return 0;
    }
    case K_RAPID_FAIL: {
        if (strcmp(value, "off") == 0) {
            cfg->rapid_fail_crashes = 0;
            return 0;
        }
        const char *slash = strchr(value, '/');
        char n_text[24];
        size_t n_len = slash ? (size_t)(slash - value) : 0;
        unsigned n = 0, seconds = 0;
        if (!slash || n_len >= sizeof n_text)
            return config_fail(src, "%s: expected N/SECONDS (e.g. 5/300) or off", origin);
        memcpy(n_text, value, n_len);
        n_text[n_len] = '\0';
        if (config_parse_uint(n_text, MAX_RAPID_FAIL_CRASHES, &n) != 0 || n == 0 ||
            config_parse_uint(slash + 1, MAX_RAPID_FAIL_SECONDS, &seconds) != 0 || seconds == 0)
            return config_fail(src, "%s: expected N/SECONDS with N from 1 to %u and SECONDS from "
                               "1 to %u, or off", origin, MAX_RAPID_FAIL_CRASHES,
                               MAX_RAPID_FAIL_SECONDS);
        cfg->rapid_fail_crashes = n;
        cfg->rapid_fail_window_ms = seconds * 1000u;
        return 0;
    }
    case K_COUNT:
    case K_SECONDS: {
        unsigned v = 0;
        int rc = config_parse_uint(value, UINT32_MAX, &v);
        if (rc == -1)
            return config_fail(src, "%s: expected a number%s (0 = off)", origin,
                               o->kind == K_SECONDS ? " of seconds" : "");
        if (rc == -2)
            return config_fail(src, "%s: too large (at most %u)", origin, UINT32_MAX);
        if (o->kind == K_SECONDS)
            *(uint32_t *)(cfg_base + o->off) = v;
        else
            *(unsigned *)(cfg_base + o->off) = v;
        return 0;
    }
    case K_WORKERS:
        return set_workers(src, value, origin, DEFAULT_WORKERS_MAX, &cfg->workers_min,
                           &cfg->workers_max);
    case K_COMPLETION_WORKERS:
        return set_workers(src, value, origin, DEFAULT_COMPLETION_WORKERS_MAX,
                           &cfg->completion_workers_min, &cfg->completion_workers_max);
    case K_PERCENT: {
        unsigned v = 0;
        int rc = config_parse_uint(value, 100, &v);
        if (rc == -1 || rc == -2 || v < o->min)
            return config_fail(src, "%s: expected a percentage from %llu to 100", origin,
                               (unsigned long long)o->min);
        *(unsigned *)(cfg_base + o->off) = v;
        return 0;
    }
    case K_SIZE32:
    case K_SIZE64:
    case K_RATE: {
        bool rate = o->kind == K_RATE;
        uint64_t max = o->kind == K_SIZE64 ? UINT64_MAX : UINT32_MAX, v = 0;
        int rc = config_parse_size(value, max, &v);
        if (rc == -1 && rate)
            return config_fail(
                src,
                "%s: not a rate (bytes per second: a number, optionally followed by k, "
                "m or g; 0 = off)",
                origin);
        if (rc == -1)
            return config_fail(src, "%s: not a size (a number, optionally followed by k, m or g)",
                               origin);
        if (rc == -2)
            return config_fail(src, "%s: too large (at most %llu bytes%s)", origin,
                               (unsigned long long)max, rate ? " per second" : "");
        if (v < o->min)
            return config_fail(src, "%s: must be at least %llu", origin,
                               (unsigned long long)o->min);
        if (o->kind == K_SIZE64)
            *(uint64_t *)(cfg_base + o->off) = v;
        else
            *(uint32_t *)(cfg_base + o->off) = (uint32_t)v;
        return 0;
    }
    case K_MS: {
        uint32_t v = 0;
        int rc = config_parse_ms(value, &v);
        if (rc == -1)
            return config_fail(
                src, "%s: not a duration (milliseconds, or a number followed by ms or s)", origin);
        if (rc == -2)
            return config_fail(src, "%s: too long (at most %u ms)", origin, UINT32_MAX);
        if (v < o->min)
            return config_fail(src, "%s: must be greater than 0", origin);
        *(uint32_t *)(cfg_base + o->off) = v;
        return 0;
    }
    }
    return config_fail(src, "%s: unhandled setting", origin);
}
