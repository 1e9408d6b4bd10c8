/* Configuration: defaults, INI file (libinih), command line, and the final checks.
 *
 * One table (opts[]) describes every setting once: its long option, its INI section and key,
 * and how its value is parsed. The command line and the file both go through config_set_value()
 * (config_values.c), so a setting means the same thing wherever it is written. Each source (the
 * file, then the command line) is a source_t: it carries the base directory for relative paths,
 * and remembers whether it has already replaced the repeatable lists (listen, scripts, maps) that
 * an earlier source set.
 *
 * This file holds the option table, error reporting, the INI reader, the final checks, the
 * command line, defaults, config_free() and the usage text; parsing and storing one value lives
 * in config_values.c, the shared types in config_internal.h. Everything a config_t holds is owned
 * by it (see config.h); a source_t lives on the stack of load_file() or apply_cli(), a track_t
 * on that of config_load_file() or config_parse_args(), which free it. */
#define _GNU_SOURCE
#include "config_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"

#ifndef ISAPID_VERSION
#define ISAPID_VERSION "0.0.0"
#endif

#define AT(field) offsetof(config_t, field)

static const opt_t opts[] = {
    {"config", NULL, NULL, K_CONFIG, 0, 0},
    {"help", NULL, NULL, K_HELP, 0, 0},
    {"version", NULL, NULL, K_VERSION, 0, 0},
    {"test-config", NULL, NULL, K_TEST_CONFIG, 0, 0},
    {"listen", "server", "listen", K_LISTEN, 0, 0},
    {"root", "server", "root", K_ROOT, 0, 0},
    {"scripts", NULL, NULL, K_SCRIPTS, 0, 0}, /* file: every key of [scripts] */
    {"map", NULL, NULL, K_MAP, 0, 0},         /* file: every key of [maps] */
    {"threads", "server", "threads", K_THREADS, 0, 0},
    {"workers", "server", "workers", K_WORKERS, 0, 0},
    {"completion-workers", "server", "completion_workers", K_COMPLETION_WORKERS, 0, 0},
    {"extension-share", "server", "extension_share", K_PERCENT, AT(extension_share), 1},
    {"access-log", "server", "access_log", K_ACCESS_LOG, 0, 0},
    {"server-name", "server", "server_name", K_SERVER_NAME, 0, 0},
    {"send-url", "server", "send_url", K_SEND_URL, 0, 0},
    {"send-url-redirect", NULL, NULL, K_SEND_URL_REDIRECT, 0, 0},
    {"run-extensions", "server", "run_extensions", K_RUN_EXTENSIONS, 0, 0},
    {"follow-script-symlinks", "server", "follow_script_symlinks", K_FOLLOW_SCRIPT_SYMLINKS, 0, 0},
    {"max-header-size", "limits", "max_header_size", K_SIZE32, AT(max_header_bytes), 1},
    {"max-uri", "limits", "max_uri", K_SIZE32, AT(max_uri_bytes), 1},
    {"max-body", "limits", "max_body", K_SIZE64, AT(max_body_bytes), 0},
    {"read-ahead", "limits", "read_ahead", K_SIZE32, AT(read_ahead_bytes), 0},
    {"min-body-rate", "limits", "min_body_rate", K_RATE, AT(min_body_rate), 0},
    {"min-send-rate", "limits", "min_send_rate", K_RATE, AT(min_send_rate), 0},
    {"header-timeout", "timeouts", "header", K_MS, AT(header_timeout_ms), 1},
    {"keepalive-timeout", "timeouts", "keepalive", K_MS, AT(keepalive_timeout_ms), 1},
    {"body-timeout", "timeouts", "body", K_MS, AT(body_timeout_ms), 1},
    {"send-timeout", "timeouts", "send", K_MS, AT(send_timeout_ms), 1},
    {"shutdown-grace", "timeouts", "shutdown_grace", K_MS, AT(shutdown_grace_ms), 0},
    {"handoff-after", "timeouts", "handoff_after", K_MS, AT(handoff_after_ms), 1},
    {"body-rate-window", "timeouts", "body_rate_window", K_MS, AT(body_rate_window_ms), 1},
    {"pending-report", "timeouts", "pending_report", K_MS, AT(pending_report_ms), 0},
    {"send-rate-window", "timeouts", "send_rate_window", K_MS, AT(send_rate_window_ms), 1},
    {"trust-proxy", "server", "trust_proxy", K_TRUST_PROXY, 0, 0},
    {"reuse-port", "server", "reuse_port", K_REUSE_PORT, 0, 0},
    {"defer-accept", "server", "defer_accept", K_SECONDS, AT(defer_accept_s), 0},
    {"status", "server", "status", K_STATUS, 0, 0},
    {"status-allow", "server", "status_allow", K_STATUS_ALLOW, 0, 0},
    {"error-log", "server", "error_log", K_ERROR_LOG, 0, 0},
    {"log-level", "server", "log_level", K_LOG_LEVEL, 0, 0},
    {"user", "server", "user", K_USER, 0, 0},
    {"processes", "server", "processes", K_PROCESSES, 0, 0},
    {"rapid-fail", "server", "rapid_fail", K_RAPID_FAIL, 0, 0},
    {"recycle-requests", "server", "recycle_requests", K_COUNT, AT(recycle_requests), 0},
    {"recycle-time", "server", "recycle_time", K_SECONDS, AT(recycle_time_s), 0},
    {"recycle-memory", "server", "recycle_memory", K_COUNT, AT(recycle_memory_mib), 0},
    {"health-timeout", "server", "health_timeout", K_SECONDS, AT(health_timeout_s), 0},
    {"filter", NULL, NULL, K_FILTER, 0, 0}, /* file: every key of [filters] */
    {"error-page", "server", "error_page", K_ERROR_PAGE, 0, 0},
};

_Static_assert(sizeof opts / sizeof opts[0] == N_OPTS, "N_OPTS must match opts[]");

static const char *const sections[] = {"server", "limits", "timeouts", "scripts", "maps",
                                       "filters"};

static bool takes_value(const opt_t *o)
{
    return o->kind != K_HELP && o->kind != K_VERSION && o->kind != K_TEST_CONFIG &&
           o->kind != K_SEND_URL_REDIRECT && o->kind != K_FOLLOW_SCRIPT_SYMLINKS &&
           o->kind != K_REUSE_PORT;
}

static FILE *err_stream(const config_t *cfg) { return cfg->errors ? cfg->errors : stderr; }

static void vsay(const config_t *cfg, const char *fmt, va_list ap)
{
    FILE *to = err_stream(cfg);
    fputs("isapid: ", to);
    vfprintf(to, fmt, ap);
    fputc('\n', to);
    fflush(to);
}

__attribute__((format(printf, 2, 3))) static void say(const config_t *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(cfg, fmt, ap);
    va_end(ap);
}

/* Reports an error and returns -1. On the command line the message is printed at once; in a file
 * only the first one is kept, because libinih may still report an earlier syntax error. */
__attribute__((format(printf, 2, 3))) int config_fail(source_t *src, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!src->file) {
        vsay(src->cfg, fmt, ap);
    } else if (!src->failed) {
        src->failed = true;
        src->error_line = src->line;
        if (vasprintf(&src->error, fmt, ap) < 0)
            src->error = NULL;
    }
    va_end(ap);
    return -1;
}

int config_fail_oom(source_t *src) { return config_fail(src, "out of memory"); }
/* ---- INI file ---- */

static bool known_section(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (strlen(sections[i]) == len && memcmp(sections[i], name, len) == 0)
            return true;
    return false;
}

/* libinih reader: hands over one physical line per call, so libinih's line numbers and
 * src->line agree. Leading blanks are dropped so that libinih never takes an indented line for
 * the continuation of the previous value. A line that does not fit libinih's buffer (num
 * bytes) is reported here rather than silently split in two. Section names are checked here too,
 * because libinih never calls the handler for a section without keys. */
static char *read_ini_line(char *str, int num, void *stream)
{
    source_t *src = stream;
    errno = 0;
    ssize_t n = getline(&src->buf, &src->cap, src->fp);
    if (n < 0) {
        if (ferror(src->fp))
            src->read_errno = errno ? errno : EIO;
        return NULL;
    }
    src->line++;
    str[0] = '\0';
    const char *p = src->buf, *end = src->buf + n;
    while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if (memchr(p, '\0', (size_t)(end - p))) {
        config_fail(src, "%s:%d: the line contains a NUL byte", src->file, src->line);
        return str;
    }
    if (src->line == 1 && end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* UTF-8 byte-order mark */
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    size_t len = (size_t)(end - p);
    if (num < 1 || len > (size_t)num - 1) {
        config_fail(src, "%s:%d: line too long (at most %d characters)", src->file, src->line,
                    num - 1);
        return str;
    }
    if (*p == '[') {
        const char *close = memchr(p, ']', len);
        if (close && !known_section(p + 1, (size_t)(close - p - 1)))
            config_fail(src,
                        "%s:%d: unknown section [%.*s] (known: [server], [limits], [timeouts], "
                        "[scripts], [maps], [filters])",
                        src->file, src->line, (int)(close - p - 1), p + 1);
    }
    memcpy(str, p, len);
    str[len] = '\0';
    return str;
}

static const opt_t *find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].section && strcmp(opts[i].section, section) == 0 &&
            strcmp(opts[i].key, key) == 0)
            return &opts[i];
    return NULL;
}

static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
    source_t *src = user;
    if (src->failed)
        return 1; /* only the first error is reported */
    char *origin;
    if (asprintf(&origin, "%s:%d: %s = %s", src->file, src->line, name, value) < 0) {
        config_fail_oom(src);
        return 0;
    }
    if (!*section) {
        config_fail(src,
                    "%s:%d: key '%s' is outside any section (put it under [server], [limits], ...)",
                    src->file, src->line, name);
    } else if (strcmp(section, "scripts") == 0) {
        config_add_script(src, name, value, origin);
    } else if (strcmp(section, "maps") == 0) {
        config_add_map(src, name, value, origin);
    } else if (strcmp(section, "filters") == 0) {
        config_add_filter(src, name, value, origin);
    } else if (!known_section(section, strlen(section))) {
        config_fail(src, "%s:%d: unknown section [%s]", src->file, src->line, section);
    } else {
        const opt_t *o = find_key(section, name);
        if (!o)
            config_fail(src, "%s:%d: unknown key '%s' in [%s]", src->file, src->line, name,
                        section);
        else if (o->kind != K_LISTEN && o->kind != K_TRUST_PROXY && o->kind != K_STATUS_ALLOW &&
                 o->kind != K_ERROR_PAGE &&
                 src->seen[o - opts])
            config_fail(src, "%s:%d: duplicate key '%s' in [%s] (first set on line %d)", src->file,
                        src->line, name, section, src->seen[o - opts]);
        else {
            src->seen[o - opts] = src->line;
            config_set_value(src, o, value, origin);
        }
    }
    free(origin);
    return src->failed ? 0 : 1;
}

/* The directory the file was named in, absolute and resolved: relative paths in the file are
 * relative to it. A symlinked file counts as being where the link is. NULL with errno set. */
static char *file_dir(const char *path)
{
    char *dir;
    const char *slash = strrchr(path, '/');
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (!dir) {
        errno = ENOMEM;
        return NULL;
    }
    char *real = realpath(dir, NULL);
    int saved = errno;
    free(dir);
    errno = saved;
    return real;
}

static config_status_t load_file(config_t *cfg, const char *path, track_t *track)
{
    FILE *fp = fopen(path, "re");
    char *real = fp ? file_dir(path) : NULL;
    if (!real) {
        say(cfg, "cannot read config file %s: %s", path, strerror(errno));
        if (fp)
            fclose(fp);
        return CONFIG_ERROR;
    }

    source_t src = {.cfg = cfg, .track = track, .base = real, .file = path, .fp = fp};
    int rc = ini_parse_stream(read_ini_line, &src, on_ini_value, &src);
    config_status_t status = CONFIG_ERROR;
    if (src.read_errno)
        say(cfg, "cannot read config file %s: %s", path, strerror(src.read_errno));
    else if (rc == -2)
        say(cfg, "%s: out of memory", path);
    else if (rc > 0 && (!src.failed || rc < src.error_line))
        say(cfg, "%s:%d: syntax error: expected [section] or key = value", path, rc);
    else if (src.failed)
        say(cfg, "%s", src.error ? src.error : "out of memory");
    else
        status = CONFIG_OK;
    free(src.error);
    free(src.buf);
    free(real);
    fclose(fp);
    return status;
}

config_status_t config_load_file(config_t *cfg, const char *path)
{
    track_t track = {0};
    config_status_t rc = load_file(cfg, path, &track);
    config_track_free(&track);
    return rc;
}

/* ---- final checks ---- */

/* 0 if path is a directory we can search (want_dir) or a regular file we can read. */
static int check_path(const config_t *cfg, const char *path, const char *origin, const char *what,
                      bool want_dir)
{
    struct stat st;
    int err = 0;
    const char *why = NULL;
    if (stat(path, &st) != 0)
        err = errno;
    else if (want_dir && !S_ISDIR(st.st_mode))
        err = ENOTDIR;
    else if (!want_dir && S_ISDIR(st.st_mode))
        err = EISDIR;
    else if (!want_dir && !S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (access(path, want_dir ? R_OK | X_OK : R_OK) != 0)
        err = errno;
    if (!err && !why)
        return 0;
    if (!why)
        why = strerror(err);
    if (origin)
        say(cfg, "%s: %s", origin, why);
    else
        say(cfg, "%s %s (default): %s", what, path, why);
    return -1;
}

static int validate(const config_t *cfg, const track_t *t)
{
    if (cfg->n_listen == 0) {
        say(cfg, "no listen address (use --listen ADDR:PORT)");
        return -1;
    }
    if (!cfg->root) {
        say(cfg, "no document root (use --root DIR, or root in [server])");
        return -1;
    }
    if (check_path(cfg, cfg->root, t->root, "document root", true) < 0)
        return -1;
    for (size_t i = 0; i < cfg->n_scripts; i++)
        if (check_path(cfg, cfg->scripts[i].dir, i < t->n_scripts ? t->scripts[i] : NULL,
                       "script directory", true) < 0)
            return -1;
    for (size_t i = 0; i < cfg->n_maps; i++)
        if (check_path(cfg, cfg->maps[i].handler, i < t->n_maps ? t->maps[i] : NULL, "handler",
                       false) < 0)
            return -1;
    for (size_t i = 0; i < cfg->n_filters; i++)
        if (check_path(cfg, cfg->filters[i].path, i < t->n_filters ? t->filters[i] : NULL,
                       "filter", false) < 0)
            return -1;
    if (cfg->n_status_allow && !cfg->status_path) {
        say(cfg, "--status-allow (status_allow) is given without --status /PATH: there is no "
                 "status page to allow");
        return -1;
    }
    for (size_t i = 0; i < cfg->n_error_pages; i++) {
        char file[4096];
        const error_page_t *e = &cfg->error_pages[i];
        if (path_join(cfg->root, e->url, file, sizeof file) < 0 ||
            check_path(cfg, file, NULL, "error page", false) < 0) {
            say(cfg, "--error-page %u=%s (error_page): the page must be a readable file below the "
                     "root", e->status, e->url);
            return -1;
        }
    }
    if (cfg->workers_max == 0 || cfg->workers_min > cfg->workers_max) {
        say(cfg, "workers %u:%u: the maximum must be at least 1 and not below the minimum",
            cfg->workers_min, cfg->workers_max);
        return -1;
    }
    return 0;
}

/* ---- command line ---- */

typedef struct cli_item {
    const opt_t *opt;
    const char *value; /* NULL for flags */
} cli_item_t;

static const opt_t *find_cli(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].cli && strlen(opts[i].cli) == len && memcmp(opts[i].cli, name, len) == 0)
            return &opts[i];
    return NULL;
}

/* Splits argv into options and values; 0 or -1 after reporting. --opt=VALUE and --opt VALUE are
 * the same; a separate VALUE may not start with "--" (that is taken for a forgotten value). */
static int tokenize(const config_t *cfg, int argc, char **argv, cli_item_t *items, size_t *n)
{
    *n = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0) {
            items[(*n)++] = (cli_item_t){find_cli("help", 4), NULL};
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            say(cfg, "unexpected argument '%s' (options start with --; see --help)", arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_t *o = find_cli(name, len);
        if (!o) {
            say(cfg, "unknown option --%.*s (see --help)", (int)len, name);
            return -1;
        }
        const char *value = NULL;
        if (takes_value(o)) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                value = argv[++i];
            else {
                say(cfg, "--%s: missing value (see --help)", o->cli);
                return -1;
            }
        } else if (eq) {
            say(cfg, "--%s takes no value", o->cli);
            return -1;
        }
        items[(*n)++] = (cli_item_t){o, value};
    }
    return 0;
}

/* Applies the command-line settings in order, relative paths against cwd. */
static int apply_cli(config_t *cfg, track_t *track, const char *cwd, const cli_item_t *items,
                     size_t n)
{
    source_t src = {.cfg = cfg, .track = track, .base = cwd};
    for (size_t i = 0; i < n; i++) {
        const opt_t *o = items[i].opt;
        const char *v = items[i].value;
        char *origin;
        int rc = v ? asprintf(&origin, "--%s %s", o->cli, *v ? v : "''")
                   : asprintf(&origin, "--%s", o->cli);
        if (rc < 0) {
            say(cfg, "out of memory");
            return -1;
        }
        rc = config_set_value(&src, o, v ? v : "", origin);
        free(origin);
        if (rc < 0)
            return -1;
    }
    return 0;
}

config_status_t config_parse_args(config_t *cfg, int argc, char **argv)
{
    cli_item_t *items = calloc(argc > 0 ? (size_t)argc : 1, sizeof *items);
    char *cwd = getcwd(NULL, 0);
    track_t track = {0};
    config_status_t status = CONFIG_ERROR;
    size_t n = 0;
    if (!items) {
        say(cfg, "out of memory");
        goto out;
    }
    if (tokenize(cfg, argc, argv, items, &n) < 0)
        goto out;

    /* --help and --version win over everything else, even a broken config file. */
    for (size_t i = 0; i < n; i++) {
        if (items[i].opt->kind == K_HELP) {
            config_usage(stdout);
            status = CONFIG_EXIT;
            goto out;
        }
        if (items[i].opt->kind == K_VERSION) {
            printf("isapid %s\n", ISAPID_VERSION);
            status = CONFIG_EXIT;
            goto out;
        }
    }

    const char *config_file = NULL;
    for (size_t i = 0; i < n; i++) {
        if (items[i].opt->kind != K_CONFIG)
            continue;
        if (config_file) {
            say(cfg, "--config %s: only one config file may be given (already %s)", items[i].value,
                config_file);
            goto out;
        }
        config_file = items[i].value;
    }
    if (config_file && load_file(cfg, config_file, &track) != CONFIG_OK)
        goto out;

    if (apply_cli(cfg, &track, cwd, items, n) < 0)
        goto out;
    if (validate(cfg, &track) == 0)
        status = CONFIG_OK;
out:
    config_track_free(&track);
    free(cwd);
    free(items);
    return status;
}

/* ---- defaults, free, usage ---- */

void config_defaults(config_t *cfg, const char *exe_dir)
{
    memset(cfg, 0, sizeof *cfg);
    config_parse_listen("127.0.0.1:8080", &cfg->listen[0]);
    cfg->n_listen = 1;
    cfg->threads = 0;
    cfg->workers_min = DEFAULT_WORKERS_MIN;
    cfg->workers_max = DEFAULT_WORKERS_MAX;
    cfg->completion_workers_min = DEFAULT_COMPLETION_WORKERS_MIN;
    cfg->completion_workers_max = DEFAULT_COMPLETION_WORKERS_MAX;
    cfg->extension_share = DEFAULT_EXTENSION_SHARE;
    cfg->max_header_bytes = 16384;
    cfg->max_uri_bytes = 8192;
    cfg->max_body_bytes = 0;
    cfg->read_ahead_bytes = 49152;
    /* Kestrel's MinRequestBodyDataRate defaults: 240 bytes/s, after a 5 s grace period (here
     * the first 5 s window). */
    cfg->min_body_rate = 240;
    cfg->body_rate_window_ms = 5000;
    /* http.sys's MinSendRate: 240 bytes/s; judged over 5 s windows of waiting, as the body. */
    cfg->min_send_rate = 240;
    cfg->send_rate_window_ms = 5000;
    cfg->header_timeout_ms = 10000;
    cfg->keepalive_timeout_ms = 15000;
    cfg->body_timeout_ms = 30000;
    cfg->send_timeout_ms = 30000;
    cfg->shutdown_grace_ms = 10000;
    cfg->pending_report_ms = 60000;
    cfg->extensions_inline = true;
    cfg->handoff_after_ms = 1;
    cfg->log_level = LOG_INFO;
    cfg->processes = 1;
    cfg->rapid_fail_crashes = 5; /* IIS's rapidFailProtection: 5 crashes in 5 minutes */
    cfg->rapid_fail_window_ms = 300000;
    cfg->health_timeout_s = 30;
    cfg->defer_accept_s = 1;

    /* Allocation failures leave root NULL or the script list empty; config_parse_args then
     * reports the missing root. */
    char *cwd = getcwd(NULL, 0);
    char *exe = exe_dir ? config_make_absolute(cwd, exe_dir) : NULL;
    char *www = NULL, *examples = NULL;
    if (exe && asprintf(&www, "%s/../www", exe) >= 0 && config_is_dir(www))
        cfg->root = config_make_absolute(NULL, www);
    if (!cfg->root && cwd)
        cfg->root = config_make_absolute(cwd, "www");
    if (exe && asprintf(&examples, "%s/examples", exe) < 0)
        examples = NULL;
    if (!config_is_dir(examples)) {
        free(examples);
        examples = cwd ? config_make_absolute(cwd, "build/examples") : NULL;
    }
    if (config_is_dir(examples)) {
        char *prefix = strdup("/examples");
        char *dir = config_make_absolute(NULL, examples);
        cfg->scripts = prefix && dir ? malloc(sizeof *cfg->scripts) : NULL;
        if (cfg->scripts) {
            cfg->scripts[0] = (script_dir_t){prefix, dir};
            cfg->n_scripts = 1;
        } else {
            free(prefix);
            free(dir);
        }
    }
    free(examples);
    free(www);
    free(exe);
    free(cwd);
}

void config_free(config_t *cfg)
{
    config_clear_scripts(cfg, NULL);
    config_clear_maps(cfg, NULL);
    config_clear_filters(cfg, NULL);
    free(cfg->root);
    free(cfg->access_log);
    free(cfg->server_name);
    free(cfg->status_path);
    free(cfg->status_allow);
    cfg->status_allow = NULL;
    cfg->n_status_allow = 0;
    config_clear_error_pages(cfg);
    free(cfg->error_log);
    free(cfg->user);
    cfg->root = cfg->access_log = cfg->server_name = cfg->status_path = NULL;
    cfg->error_log = cfg->user = NULL;
    cfg->n_listen = 0;
}

void config_usage(FILE *to)
{
    fputs("Usage: isapid [OPTION]...\n"
          "HTTP/1.1 server that hosts ISAPI extensions.\n"
          "\n"
          "  --config FILE           read settings from an INI file first\n"
          "  --listen ADDR:PORT      address to listen on, e.g. 127.0.0.1:8080, [::1]:8080,\n"
          "                          *:8080 (all IPv4); repeatable (default 127.0.0.1:8080)\n"
          "  --listen ADDR:PORT,proxy-protocol\n"
          "                          the same, and every connection must start with a\n"
          "                          PROXY protocol header (v1 or v2), as HAProxy sends\n"
          "  --trust-proxy CIDR      believe X-Forwarded-For and X-Forwarded-Proto from\n"
          "                          peers in this range (e.g. 10.0.0.0/8, ::1);\n"
          "                          repeatable (default none)\n"
          "  --reuse-port            SO_REUSEPORT on the listeners: several instances\n"
          "                          may listen on the same port\n"
          "  --defer-accept SECONDS  accept a connection once its first bytes came, or\n"
          "                          after this long without (TCP_DEFER_ACCEPT); 0 = off\n"
          "                          (default 1)\n"
          "  --root DIR              document root (default ../www next to the binary,\n"
          "                          else ./www)\n"
          "  --scripts /PREFIX=DIR   URLs under /PREFIX run the extensions DIR/NAME.so\n"
          "                          (or .dll); repeatable (default /examples=examples\n"
          "                          next to the binary, else ./build/examples, if present)\n"
          "  --map .EXT=HANDLER.so   files under the root ending in .EXT run through\n"
          "                          HANDLER.so; repeatable\n"
          "  --map /PREFIX/*=HANDLER.so  wildcard map: every URL under /PREFIX (/* for\n"
          "                          all) goes to HANDLER.so first; repeatable, in order\n"
          "  --filter FILE.so        load the ISAPI filter FILE.so at start-up in every\n"
          "                          worker; repeatable, in load order\n"
          "  --processes N|auto      worker processes under a master that restarts them;\n"
          "                          auto = one per CPU, 0 = one process, no master\n"
          "                          (for debugging; a crash ends the server) (default 1)\n"
          "  --rapid-fail N/SECONDS  disable an extension that crashed N times within\n"
          "                          SECONDS (its URLs answer 503 until its file changes\n"
          "                          or a reload); off = never (default 5/300)\n"
          "  --recycle-requests N    replace a worker after N requests; 0 = off (default)\n"
          "  --recycle-time SECONDS  replace a worker after this uptime; 0 = off (default)\n"
          "  --recycle-memory MIB    replace a worker whose private memory exceeds this;\n"
          "                          0 = off (default)\n"
          "  --health-timeout SECONDS  replace a worker whose loops do not answer the\n"
          "                          master's health check for this long; 0 = off\n"
          "                          (default 30)\n"
          "  --threads N             event loops; 0 = one per CPU (default 0)\n"
          "  --workers MIN[:MAX]     threads for HttpExtensionProc calls off the event\n"
          "                          loops (default 4:64); MIN alone keeps MAX at 64, or\n"
          "                          raises it to MIN\n"
          "  --completion-workers MIN[:MAX]\n"
          "                          threads for completion callbacks of asynchronous I/O\n"
          "                          (default 2:32); MIN alone keeps MAX at 32, or raises\n"
          "                          it to MIN\n"
          "  --extension-share PCT   at most PCT percent of each pool's MAX workers run one\n"
          "                          extension's code at a time; 100 = no limit (default 75)\n"
          "  --access-log FILE|-     combined-format access log; - = standard output,\n"
          "                          empty = off (default off)\n"
          "  --error-log FILE|-      error log, one line per event; - = standard error\n"
          "                          (default -); SIGUSR1 reopens it and the access log\n"
          "  --log-level LEVEL       error, warn, info (default) or debug\n"
          "  --user USER[:GROUP]     started as root: drop to USER (and GROUP, else USER's\n"
          "                          group) once the listeners are bound and the logs open\n"
          "  --server-name NAME      SERVER_NAME for requests without a Host header\n"
          "  --send-url-redirect     HSE_REQ_SEND_URL answers 302 (IIS 6) instead of\n"
          "                          serving the URL internally\n"
          "  --send-url MODE         internal (default) or redirect\n"
          "  --run-extensions WHERE  loop (default): HttpExtensionProc runs on the thread\n"
          "                          that read the request, and a call that blocks hands\n"
          "                          the event loop to another thread; pool: always on\n"
          "                          the worker pool\n"
          "  --status /PATH          serve the server's status page at /PATH (text; JSON\n"
          "                          with ?json); default off\n"
          "  --status-allow CIDR     peers that may see the status page, e.g. 10.0.0.0/8;\n"
          "                          repeatable (default: loopback only; others get 403)\n"
          "  --error-page STATUS=/URL\n"
          "                          error responses with STATUS (400-599; the server's\n"
          "                          own and HSE_REQ_SEND_CUSTOM_ERROR's) carry this\n"
          "                          static file below the root; repeatable\n"
          "  --follow-script-symlinks\n"
          "                          load extensions reached through a symlink that\n"
          "                          leads out of their --scripts directory (default:\n"
          "                          refused with 403 and a log line)\n"
          "\n"
          "Limits (N in bytes; suffixes k, m, g multiply by 1024, 1024^2, 1024^3):\n"
          "  --max-header-size N     request line and headers (default 16k)\n"
          "  --max-uri N             request target (default 8k)\n"
          "  --max-body N            request body; 0 = unlimited (default 0)\n"
          "  --read-ahead N          body read before the extension runs (default 48k)\n"
          "  --min-body-rate N       bytes per second a request body must bring in every\n"
          "                          window of waiting, else it is cut (408, or ReadClient\n"
          "                          fails with ERROR_TIMEOUT); 0 = off (default 240)\n"
          "  --min-send-rate N       bytes per second a client must take of a response in\n"
          "                          every window of waiting for it, else the connection is\n"
          "                          cut (WriteClient fails with ERROR_TIMEOUT); 0 = off\n"
          "                          (default 240)\n"
          "\n"
          "Timeouts (MS in milliseconds, or with a unit: 500ms, 10s):\n"
          "  --header-timeout MS     the request head must arrive within this (default 10s)\n"
          "  --keepalive-timeout MS  idle time between requests (default 15s)\n"
          "  --body-timeout MS       longest wait for request body data (default 30s)\n"
          "  --send-timeout MS       longest wait for the client to take data (default 30s)\n"
          "  --shutdown-grace MS     time in-flight requests get on SIGTERM (default 10s)\n"
          "  --handoff-after MS      an extension call on a loop's thread blocked longer\n"
          "                          than this (taken one to five times this after it\n"
          "                          began), or that has run this long more on a CPU,\n"
          "                          hands the loop to another thread (default 1ms)\n"
          "  --body-rate-window MS   window of --min-body-rate, counting only time spent\n"
          "                          waiting for body bytes; the first window is the grace\n"
          "                          period (default 5s)\n"
          "  --pending-report MS     sessions left pending (HSE_STATUS_PENDING, no\n"
          "                          DONE_WITH_SESSION yet) longer than this are counted\n"
          "                          and logged, once per this period; 0 = off (default 60s)\n"
          "  --send-rate-window MS   window of --min-send-rate, counting only time spent\n"
          "                          waiting for the client to take data (default 5s)\n"
          "\n"
          "  --test-config           check the configuration (that the logs open, without\n"
          "                          truncating them, and that the --user exists) and exit\n"
          "  --version               print the version and exit\n"
          "  -h, --help              print this help and exit\n"
          "\n"
          "Every option also takes the form --option=VALUE. Command-line options override\n"
          "the config file; a repeatable option (--listen, --scripts, --map, --filter,\n"
          "--status-allow, --error-page) given on the command line replaces the file's whole\n"
          "list. Relative paths are relative to the working directory on the command line,\n"
          "and to the file's directory in the file.\n",
          to);
}
