/* Configuration: defaults, every command-line option, --opt=value, the INI file (relative paths,
 * repeated keys, errors with line numbers), the command line overriding the file, and the final
 * existence checks. Runs in a temporary directory it creates and removes. */
#define _GNU_SOURCE
#include "config.h"
#include "check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[PATH_MAX]; /* the test's directory, realpath'ed; also the working directory */
static char *errors;       /* what the last parse() wrote as errors */

/* tmp + "/" + rel, in one of a few rotating buffers. */
static const char *at(const char *rel)
{
    static char bufs[8][PATH_MAX + 64];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp, rel);
    return b;
}

static void write_file(const char *rel, const char *text)
{
    FILE *f = fopen(at(rel), "w");
    if (!f) {
        perror(at(rel));
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static void make_dir(const char *rel) { mkdir(at(rel), 0755); }

/* config_parse_args with argv {"isapid", args..., NULL}; the error text goes to `errors`. */
static config_status_t parse_v(config_t *cfg, const char *first, va_list ap)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "isapid";
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    argv[argc] = NULL;
    free(errors);
    errors = NULL;
    size_t len;
    FILE *f = open_memstream(&errors, &len);
    cfg->errors = f;
    config_status_t rc = config_parse_args(cfg, argc, argv);
    cfg->errors = NULL;
    fclose(f);
    return rc;
}

static config_status_t parse(config_t *cfg, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    config_status_t rc = parse_v(cfg, first, ap);
    va_end(ap);
    return rc;
}

/* Defaults (exe_dir = tmp/bin), then argv; the config is freed again. Returns the status and
 * leaves the error text in `errors`. */
static config_status_t try_args(const char *first, ...)
{
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    va_list ap;
    va_start(ap, first);
    config_status_t rc = parse_v(&cfg, first, ap);
    va_end(ap);
    config_free(&cfg);
    return rc;
}

static config_status_t load(config_t *cfg, const char *path)
{
    free(errors);
    errors = NULL;
    size_t len;
    FILE *f = open_memstream(&errors, &len);
    cfg->errors = f;
    config_status_t rc = config_load_file(cfg, path);
    cfg->errors = NULL;
    fclose(f);
    return rc;
}

static unsigned port_of(const listen_addr_t *l)
{
    if (l->addr.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
}

static char *ip_of(const listen_addr_t *l)
{
    static char buf[INET6_ADDRSTRLEN];
    if (l->addr.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&l->addr)->sin6_addr, buf, sizeof buf);
    else
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&l->addr)->sin_addr, buf, sizeof buf);
    return buf;
}

/* Runs fn with standard output sent to a file; returns what it printed. */
static char *capture_stdout(config_status_t (*fn)(const char *), const char *arg,
                            config_status_t *rc)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(at("stdout.txt"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDOUT_FILENO);
    *rc = fn(arg);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);
    if (pread(fd, text, (size_t)size, 0) != size)
        text[0] = '\0';
    close(fd);
    unlink(at("stdout.txt"));
    return text;
}

static config_status_t run_one(const char *arg) { return try_args(arg, NULL); }

/* ---- defaults ---- */

static void test_defaults(void)
{
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK_INT(cfg.n_listen, 1);
    CHECK_STR(cfg.listen[0].text, "127.0.0.1:8080");
    CHECK_INT(cfg.listen[0].addr.ss_family, AF_INET);
    CHECK_INT(cfg.listen[0].addr_len, sizeof(struct sockaddr_in));
    CHECK_STR(ip_of(&cfg.listen[0]), "127.0.0.1");
    CHECK_INT(port_of(&cfg.listen[0]), 8080);
    CHECK_STR(cfg.root, at("www")); /* bin/../www */
    CHECK_INT(cfg.n_scripts, 1);
    if (cfg.n_scripts == 1) {
        CHECK_STR(cfg.scripts[0].prefix, "/examples");
        CHECK_STR(cfg.scripts[0].dir, at("bin/examples"));
    }
    CHECK_INT(cfg.n_maps, 0);
    CHECK_INT(cfg.threads, 0);
    CHECK_INT(cfg.workers_min, 4);
    CHECK_INT(cfg.workers_max, 64);
    CHECK_INT(cfg.completion_workers_min, 2);
    CHECK_INT(cfg.completion_workers_max, 32);
    CHECK_INT(cfg.extension_share, 75);
    CHECK_INT(cfg.min_send_rate, 240);
    CHECK_INT(cfg.send_rate_window_ms, 5000);
    CHECK(cfg.access_log == NULL);
    CHECK(cfg.server_name == NULL);
    CHECK_INT(cfg.max_header_bytes, 16384);
    CHECK_INT(cfg.max_uri_bytes, 8192);
    CHECK_INT(cfg.max_body_bytes, 0);
    CHECK_INT(cfg.read_ahead_bytes, 49152);
    CHECK_INT(cfg.min_body_rate, 240);
    CHECK_INT(cfg.body_rate_window_ms, 5000);
    CHECK_INT(cfg.header_timeout_ms, 10000);
    CHECK_INT(cfg.keepalive_timeout_ms, 15000);
    CHECK_INT(cfg.body_timeout_ms, 30000);
    CHECK_INT(cfg.send_timeout_ms, 30000);
    CHECK_INT(cfg.shutdown_grace_ms, 10000);
    CHECK_INT(cfg.handoff_after_ms, 1);
    CHECK_INT(cfg.pending_report_ms, 60000);
    CHECK(!cfg.send_url_redirect);
    CHECK(cfg.extensions_inline);
    CHECK(!cfg.test_config);
    CHECK(cfg.errors == NULL);
    /* No options at all: the defaults validate. */
    CHECK_INT(parse(&cfg, NULL), CONFIG_OK);
    CHECK_STR(errors, "");
    config_free(&cfg);
    config_free(&cfg); /* safe twice */

    /* exe_dir unknown: ./www, and ./build/examples only when it exists. */
    config_defaults(&cfg, NULL);
    CHECK_STR(cfg.root, at("www"));
    CHECK_INT(cfg.n_scripts, 0);
    config_free(&cfg);
    make_dir("build");
    make_dir("build/examples");
    config_defaults(&cfg, NULL);
    CHECK_INT(cfg.n_scripts, 1);
    if (cfg.n_scripts == 1)
        CHECK_STR(cfg.scripts[0].dir, at("build/examples"));
    config_free(&cfg);

    /* exe_dir without ../www or examples falls back to the working directory's. */
    config_defaults(&cfg, at("conf/sub/bin"));
    CHECK_STR(cfg.root, at("www"));
    CHECK_INT(cfg.n_scripts, 1);
    if (cfg.n_scripts == 1)
        CHECK_STR(cfg.scripts[0].dir, at("build/examples"));
    config_free(&cfg);
    rmdir(at("build/examples"));
    rmdir(at("build"));

    /* A missing default root is an error at the end of parsing. */
    CHECK(chdir(at("ext")) == 0);
    config_defaults(&cfg, NULL);
    CHECK_STR(cfg.root, at("ext/www"));
    CHECK_INT(parse(&cfg, NULL), CONFIG_ERROR);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want, "isapid: document root %s (default): No such file or directory\n",
             at("ext/www"));
    CHECK_STR(errors, want);
    config_free(&cfg);
    CHECK(chdir(tmp) == 0);
}

/* ---- command line ---- */

static void test_cli_options(void)
{
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--listen", "0.0.0.0:9000", "--listen", "[::1]:9001", "--listen",
                    "*:9002", "--listen", ":9003", "--root", "www2", "--scripts", "/cgi/=ext",
                    "--scripts", "/=ext", "--map", ".isa=conf/handler.so", "--map",
                    ".ISB=conf/handler.so", "--threads", "3", "--workers", "2:8", "--access-log",
                    "logs/../access.log", "--server-name", "example.org", "--send-url-redirect",
                    "--max-header-size", "32k", "--max-uri", "4096", "--max-body", "10M",
                    "--read-ahead", "0", "--header-timeout", "500ms", "--keepalive-timeout", "2s",
                    "--body-timeout", "1500", "--send-timeout", "1s", "--shutdown-grace", "0",
                    "--min-body-rate", "1k", "--body-rate-window", "2s", "--test-config", NULL),
              CONFIG_OK);
    CHECK_STR(errors, "");
    CHECK_INT(cfg.n_listen, 4);
    CHECK_STR(cfg.listen[0].text, "0.0.0.0:9000");
    CHECK_INT(port_of(&cfg.listen[0]), 9000);
    CHECK_INT(cfg.listen[1].addr.ss_family, AF_INET6);
    CHECK_INT(cfg.listen[1].addr_len, sizeof(struct sockaddr_in6));
    CHECK_STR(ip_of(&cfg.listen[1]), "::1");
    CHECK_INT(port_of(&cfg.listen[1]), 9001);
    CHECK_STR(ip_of(&cfg.listen[2]), "0.0.0.0");
    CHECK_STR(cfg.listen[2].text, "*:9002");
    CHECK_STR(ip_of(&cfg.listen[3]), "0.0.0.0");
    CHECK_INT(port_of(&cfg.listen[3]), 9003);
    CHECK_STR(cfg.root, at("www2"));
    CHECK_INT(cfg.n_scripts, 2); /* the default /examples was replaced */
    if (cfg.n_scripts == 2) {
        CHECK_STR(cfg.scripts[0].prefix, "/cgi");
        CHECK_STR(cfg.scripts[0].dir, at("ext"));
        CHECK_STR(cfg.scripts[1].prefix, "/");
    }
    CHECK_INT(cfg.n_maps, 2);
    if (cfg.n_maps == 2) {
        CHECK_STR(cfg.maps[0].ext, ".isa");
        CHECK_STR(cfg.maps[0].handler, at("conf/handler.so"));
        CHECK_STR(cfg.maps[1].ext, ".ISB");
    }
    CHECK_INT(cfg.threads, 3);
    CHECK_INT(cfg.workers_min, 2);
    CHECK_INT(cfg.workers_max, 8);
    CHECK_STR(cfg.access_log, at("access.log")); /* does not exist: resolved lexically */
    CHECK_STR(cfg.server_name, "example.org");
    CHECK(cfg.send_url_redirect);
    CHECK_INT(cfg.max_header_bytes, 32768);
    CHECK_INT(cfg.max_uri_bytes, 4096);
    CHECK_INT(cfg.max_body_bytes, 10 * 1024 * 1024);
    CHECK_INT(cfg.read_ahead_bytes, 0);
    CHECK_INT(cfg.header_timeout_ms, 500);
    CHECK_INT(cfg.keepalive_timeout_ms, 2000);
    CHECK_INT(cfg.body_timeout_ms, 1500);
    CHECK_INT(cfg.send_timeout_ms, 1000);
    CHECK_INT(cfg.shutdown_grace_ms, 0);
    CHECK_INT(cfg.min_body_rate, 1024);
    CHECK_INT(cfg.body_rate_window_ms, 2000);
    CHECK(cfg.test_config);
    config_free(&cfg);

    /* --option=value, the same settings. */
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--listen=[::]:81", "--root=./www2/", "--scripts=/s=ext",
                    "--map=.x=conf/handler.so", "--threads=0", "--workers=8", "--access-log=-",
                    "--server-name=a.b", "--send-url=redirect", "--send-url=internal",
                    "--run-extensions=pool",
                    "--max-header-size=1m", "--max-uri=2K", "--max-body=2g", "--read-ahead=64k",
                    "--header-timeout=3s", "--keepalive-timeout=100", "--body-timeout=7ms",
                    "--send-timeout=9s", "--shutdown-grace=1s", "--handoff-after=5ms",
                    "--min-body-rate=0", "--body-rate-window=1", "--pending-report=0", NULL),
              CONFIG_OK);
    CHECK_STR(errors, "");
    CHECK_INT(cfg.n_listen, 1);
    CHECK_STR(ip_of(&cfg.listen[0]), "::");
    CHECK_STR(cfg.root, at("www2"));
    CHECK_INT(cfg.n_scripts, 1);
    CHECK_INT(cfg.n_maps, 1);
    CHECK_INT(cfg.threads, 0);
    CHECK_INT(cfg.workers_min, 8);
    CHECK_INT(cfg.workers_max, 64); /* MIN alone keeps the default maximum */
    CHECK_STR(cfg.access_log, "-");
    CHECK_STR(cfg.server_name, "a.b");
    CHECK(!cfg.send_url_redirect); /* the later one wins */
    CHECK(!cfg.extensions_inline);
    CHECK_INT(cfg.handoff_after_ms, 5);
    CHECK_INT(cfg.pending_report_ms, 0);
    CHECK_INT(cfg.max_header_bytes, 1048576);
    CHECK_INT(cfg.max_uri_bytes, 2048);
    CHECK_INT(cfg.max_body_bytes, 2147483648LL);
    CHECK_INT(cfg.read_ahead_bytes, 65536);
    CHECK_INT(cfg.header_timeout_ms, 3000);
    CHECK_INT(cfg.keepalive_timeout_ms, 100);
    CHECK_INT(cfg.body_timeout_ms, 7);
    CHECK_INT(cfg.send_timeout_ms, 9000);
    CHECK_INT(cfg.shutdown_grace_ms, 1000);
    CHECK_INT(cfg.min_body_rate, 0); /* off */
    CHECK_INT(cfg.body_rate_window_ms, 1);
    CHECK(!cfg.test_config);
    config_free(&cfg);

    /* Odd but valid forms. */
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--workers", "100", "--access-log", "x", "--access-log=", "--server-name",
                    "n", "--server-name=", "--max-body", "16G", "--root", "/", "--root", "www",
                    "--listen", "127.0.0.1:65535", NULL),
              CONFIG_OK);
    CHECK_INT(cfg.workers_min, 100);
    CHECK_INT(cfg.workers_max, 100); /* MIN above the default maximum raises it */

    CHECK(cfg.access_log == NULL);   /* empty = off */
    CHECK(cfg.server_name == NULL);
    CHECK_INT(cfg.max_body_bytes, 16LL << 30);
    CHECK_STR(cfg.root, at("www")); /* the last --root wins */
    CHECK_INT(port_of(&cfg.listen[0]), 65535);
    config_free(&cfg);

    /* --root / stays "/". */
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--root", "/", NULL), CONFIG_OK);
    CHECK_STR(cfg.root, "/");
    config_free(&cfg);

    /* Lexical resolution of paths that do not exist yet. */
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--access-log", "a/./b//../c.log", NULL), CONFIG_OK);
    CHECK_STR(cfg.access_log, at("a/c.log"));
    CHECK_INT(parse(&cfg, "--access-log", "/../../x.log", NULL), CONFIG_OK);
    CHECK_STR(cfg.access_log, "/x.log");
    config_free(&cfg);
}

static void test_help_version(void)
{
    config_status_t rc;
    char *out = capture_stdout(run_one, "--help", &rc);
    CHECK_INT(rc, CONFIG_EXIT);
    CHECK(strncmp(out, "Usage: isapid", 13) == 0);
    const char *documented[] = {"--config",
                                "--listen",
                                "--root",
                                "--scripts",
                                "--map",
                                "--threads",
                                "--workers",
                                "--access-log",
                                "--server-name",
                                "--send-url-redirect",
                                "--max-header-size",
                                "--max-uri",
                                "--max-body",
                                "--read-ahead",
                                "--min-body-rate",
                                "--header-timeout",
                                "--keepalive-timeout",
                                "--body-timeout",
                                "--send-timeout",
                                "--shutdown-grace",
                                "--body-rate-window",
                                "--test-config",
                                "--version",
                                "--help"};
    for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++)
        CHECK(strstr(out, documented[i]) != NULL);
    free(out);

    out = capture_stdout(run_one, "-h", &rc);
    CHECK_INT(rc, CONFIG_EXIT);
    CHECK(strncmp(out, "Usage: isapid", 13) == 0);
    free(out);

    out = capture_stdout(run_one, "--version", &rc);
    CHECK_INT(rc, CONFIG_EXIT);
    CHECK(strncmp(out, "isapid ", 7) == 0 && strlen(out) > 8 && out[strlen(out) - 1] == '\n');
    free(out);

    /* --help wins even over a config file that cannot be read. */
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    rc = parse(&cfg, "--config", "missing.ini", "--help", NULL);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(devnull);
    CHECK_INT(rc, CONFIG_EXIT);
    CHECK_STR(errors, "");
    config_free(&cfg);
}

/* Each bad command line fails with exactly this message. */
static void expect_error(const char *want, const char *a, const char *b, const char *c)
{
    config_status_t rc = try_args(a, b, c, NULL);
    CHECK_INT(rc, CONFIG_ERROR);
    if (strcmp(errors ? errors : "", want) != 0)
        fprintf(stderr, "for %s %s %s:\n", a, b ? b : "", c ? c : "");
    CHECK_STR(errors, want);
}

/* The pools' settings and the minimum send rate. */
static void test_pool_and_send_rate_options(void)
{
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--completion-workers", "40", "--extension-share=100", "--min-send-rate",
                    "1k", "--send-rate-window", "2s", NULL),
              CONFIG_OK);
    CHECK_INT(cfg.completion_workers_min, 40);
    CHECK_INT(cfg.completion_workers_max, 40); /* MIN above the default maximum raises it */
    CHECK_INT(cfg.extension_share, 100);
    CHECK_INT(cfg.min_send_rate, 1024);
    CHECK_INT(cfg.send_rate_window_ms, 2000);
    config_free(&cfg);
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--completion-workers", "1:4", "--min-send-rate", "0", NULL), CONFIG_OK);
    CHECK_INT(cfg.completion_workers_min, 1);
    CHECK_INT(cfg.completion_workers_max, 4);
    CHECK_INT(cfg.min_send_rate, 0); /* off */
    config_free(&cfg);
}

/* --error-log, --log-level, --user (issue 11): values, defaults and errors. */
static void test_ops_options(void)
{
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK(cfg.error_log == NULL); /* standard error */
    CHECK_INT(cfg.log_level, LOG_INFO);
    CHECK(cfg.user == NULL);
    CHECK_INT(parse(&cfg, "--error-log", "logs/./e.log", "--log-level", "debug", "--user",
                    "www-data:adm", NULL),
              CONFIG_OK);
    CHECK_STR(cfg.error_log, at("logs/e.log"));
    CHECK_INT(cfg.log_level, LOG_DEBUG);
    CHECK_STR(cfg.user, "www-data:adm");
    CHECK_INT(parse(&cfg, "--error-log", "-", "--log-level=error", "--user=", NULL), CONFIG_OK);
    CHECK(cfg.error_log == NULL);
    CHECK_INT(cfg.log_level, LOG_ERROR);
    CHECK(cfg.user == NULL); /* empty = keep the starting user */
    config_free(&cfg);

    expect_error("isapid: --log-level loud: expected error, warn, info or debug\n", "--log-level",
                 "loud", NULL);
    expect_error("isapid: --error-log '': empty path (use - for standard error)\n",
                 "--error-log=", NULL, NULL);
    expect_error("isapid: --user www:: expected USER or USER:GROUP\n", "--user", "www:", NULL);
    expect_error("isapid: --user :adm: expected USER or USER:GROUP\n", "--user", ":adm", NULL);
    expect_error("isapid: --user a:b:c: expected USER or USER:GROUP\n", "--user", "a:b:c", NULL);
}

static void test_cli_errors(void)
{
    char want[PATH_MAX * 2];

    expect_error("isapid: --workers 9:2: minimum exceeds maximum\n", "--workers", "9:2", NULL);
    expect_error("isapid: --workers 0:0: the maximum must be at least 1\n", "--workers", "0:0",
                 NULL);
    expect_error("isapid: --workers x: expected MIN or MIN:MAX (numbers)\n", "--workers=x", NULL,
                 NULL);
    expect_error("isapid: --workers 4:: expected MIN or MIN:MAX (numbers)\n", "--workers",
                 "4:", NULL);
    expect_error("isapid: --workers 5000: too many workers (at most 4096)\n", "--workers", "5000",
                 NULL);
    expect_error("isapid: --completion-workers 9:2: minimum exceeds maximum\n",
                 "--completion-workers", "9:2", NULL);
    expect_error("isapid: --extension-share 0: expected a percentage from 1 to 100\n",
                 "--extension-share", "0", NULL);
    expect_error("isapid: --extension-share 101: expected a percentage from 1 to 100\n",
                 "--extension-share", "101", NULL);
    expect_error("isapid: --send-rate-window 0: must be greater than 0\n", "--send-rate-window",
                 "0", NULL);
    expect_error("isapid: --threads abc: not a number\n", "--threads", "abc", NULL);
    expect_error("isapid: --threads -1: not a number\n", "--threads=-1", NULL, NULL);
    expect_error("isapid: --threads '': not a number\n", "--threads=", NULL, NULL);
    expect_error("isapid: --threads  4: not a number\n", "--threads", " 4", NULL);
    expect_error("isapid: --threads 0x10: not a number\n", "--threads", "0x10", NULL);
    expect_error("isapid: --threads 99999999999999999999999: too many threads (at most 1024; 0 = "
                 "one per CPU)\n",
                 "--threads", "99999999999999999999999", NULL);
    expect_error(
        "isapid: --max-body 10x: not a size (a number, optionally followed by k, m or g)\n",
        "--max-body", "10x", NULL);
    expect_error(
        "isapid: --max-body 10kk: not a size (a number, optionally followed by k, m or g)\n",
        "--max-body", "10kk", NULL);
    expect_error(
        "isapid: --max-body 20000000000G: too large (at most 18446744073709551615 bytes)\n",
        "--max-body", "20000000000G", NULL);
    expect_error("isapid: --max-header-size 4g: too large (at most 4294967295 bytes)\n",
                 "--max-header-size", "4g", NULL);
    expect_error("isapid: --max-uri 0: must be at least 1\n", "--max-uri", "0", NULL);
    expect_error("isapid: --header-timeout 5m: not a duration (milliseconds, or a number followed "
                 "by ms or s)\n",
                 "--header-timeout", "5m", NULL);
    expect_error("isapid: --send-timeout 1.5s: not a duration (milliseconds, or a number followed "
                 "by ms or s)\n",
                 "--send-timeout", "1.5s", NULL);
    expect_error("isapid: --body-timeout 0: must be greater than 0\n", "--body-timeout", "0", NULL);
    expect_error("isapid: --handoff-after 0: must be greater than 0\n", "--handoff-after", "0",
                 NULL);
    expect_error("isapid: --min-body-rate 240/s: not a rate (bytes per second: a number, "
                 "optionally followed by k, m or g; 0 = off)\n",
                 "--min-body-rate", "240/s", NULL);
    expect_error("isapid: --min-body-rate -1: not a rate (bytes per second: a number, "
                 "optionally followed by k, m or g; 0 = off)\n",
                 "--min-body-rate=-1", NULL, NULL);
    expect_error("isapid: --min-body-rate '': not a rate (bytes per second: a number, "
                 "optionally followed by k, m or g; 0 = off)\n",
                 "--min-body-rate=", NULL, NULL);
    expect_error("isapid: --min-body-rate 4g: too large (at most 4294967295 bytes per second)\n",
                 "--min-body-rate", "4g", NULL);
    expect_error("isapid: --min-body-rate: missing value (see --help)\n", "--min-body-rate", NULL,
                 NULL);
    expect_error("isapid: --body-rate-window 0: must be greater than 0\n", "--body-rate-window",
                 "0", NULL);
    expect_error("isapid: --body-rate-window 5m: not a duration (milliseconds, or a number "
                 "followed by ms or s)\n",
                 "--body-rate-window", "5m", NULL);
    expect_error("isapid: --keepalive-timeout 4294968s: too long (at most 4294967295 ms)\n",
                 "--keepalive-timeout", "4294968s", NULL);
    expect_error("isapid: --run-extensions inline: expected loop or pool\n", "--run-extensions",
                 "inline", NULL);
    expect_error("isapid: --send-url bogus: expected internal or redirect\n", "--send-url", "bogus",
                 NULL);
    expect_error("isapid: --server-name a b: the server name must not contain spaces or control "
                 "characters\n",
                 "--server-name", "a b", NULL);

    expect_error("isapid: --listen foo: expected ADDR:PORT, e.g. 127.0.0.1:8080 or *:8080\n",
                 "--listen", "foo", NULL);
    expect_error("isapid: --listen 1.2.3.4:0: the port must be a number from 1 to 65535\n",
                 "--listen", "1.2.3.4:0", NULL);
    expect_error("isapid: --listen 1.2.3.4:65536: the port must be a number from 1 to 65535\n",
                 "--listen", "1.2.3.4:65536", NULL);
    expect_error("isapid: --listen ::1:80: IPv6 addresses go in brackets, e.g. [::1]:8080\n",
                 "--listen", "::1:80", NULL);
    expect_error("isapid: --listen [::1:80: missing ']' after the IPv6 address\n", "--listen",
                 "[::1:80", NULL);
    expect_error("isapid: --listen [1.2.3.4]:80: not a numeric IPv6 address\n", "--listen",
                 "[1.2.3.4]:80", NULL);
    expect_error("isapid: --listen localhost:80: not a numeric IPv4 address (host names are not "
                 "resolved; *:PORT means all)\n",
                 "--listen", "localhost:80", NULL);
    expect_error("isapid: --listen 0.0.0.0:80: the same address as *:80, given earlier\n",
                 "--listen=*:80", "--listen=0.0.0.0:80", NULL);

    expect_error("isapid: unknown option --bogus (see --help)\n", "--bogus", NULL, NULL);
    expect_error("isapid: unknown option --roo (see --help)\n", "--roo=www", NULL, NULL);
    expect_error("isapid: unexpected argument 'www' (options start with --; see --help)\n", "www",
                 NULL, NULL);
    expect_error("isapid: unexpected argument '-r' (options start with --; see --help)\n", "-r",
                 NULL, NULL);
    expect_error("isapid: --root: missing value (see --help)\n", "--root", NULL, NULL);
    expect_error("isapid: --root: missing value (see --help)\n", "--root", "--threads", "2");
    expect_error("isapid: --help takes no value\n", "--help=yes", NULL, NULL);
    expect_error("isapid: --root '': empty path\n", "--root=", NULL, NULL);

    expect_error("isapid: --scripts ext: expected /PREFIX=DIR\n", "--scripts", "ext", NULL);
    expect_error("isapid: --scripts x=ext: the URL prefix must start with '/'\n", "--scripts",
                 "x=ext", NULL);
    expect_error("isapid: --scripts /a//b=ext: the URL prefix must not contain '//', '.' or '..' "
                 "segments\n",
                 "--scripts", "/a//b=ext", NULL);
    expect_error("isapid: --scripts /a/../b=ext: the URL prefix must not contain '//', '.' or '..' "
                 "segments\n",
                 "--scripts", "/a/../b=ext", NULL);
    expect_error("isapid: --scripts /a\\b=ext: the URL prefix contains a control character, '\\', "
                 "'?' or '#'\n",
                 "--scripts", "/a\\b=ext", NULL);
    snprintf(want, sizeof want,
             "isapid: --scripts /a/=www: the URL prefix /a is already mapped to %s\n", at("ext"));
    expect_error(want, "--scripts=/a=ext", "--scripts=/a/=www", NULL);
    snprintf(want, sizeof want, "isapid: --scripts /x=nope (%s): No such file or directory\n",
             at("nope"));
    expect_error(want, "--scripts", "/x=nope", NULL);
    snprintf(want, sizeof want, "isapid: --scripts /x=conf/handler.so (%s): Not a directory\n",
             at("conf/handler.so"));
    expect_error(want, "--scripts", "/x=conf/handler.so", NULL);

    expect_error("isapid: --map isa=h.so: the extension must start with '.', e.g. .isa\n", "--map",
                 "isa=h.so", NULL);
    expect_error("isapid: --map .=h.so: the extension must start with '.', e.g. .isa\n", "--map",
                 ".=h.so", NULL);
    expect_error("isapid: --map .a/b=h.so: the extension contains '/', '\\' or a control "
                 "character\n",
                 "--map", ".a/b=h.so", NULL);
    snprintf(want, sizeof want,
             "isapid: --map .ISA=conf/handler.so: the extension .isa is already mapped to %s\n",
             at("conf/handler.so"));
    expect_error(want, "--map=.isa=conf/handler.so", "--map=.ISA=conf/handler.so", NULL);
    snprintf(want, sizeof want, "isapid: --map .isa=missing.so (%s): No such file or directory\n",
             at("missing.so"));
    expect_error(want, "--map", ".isa=missing.so", NULL);
    snprintf(want, sizeof want, "isapid: --map .isa=ext (%s): Is a directory\n", at("ext"));
    expect_error(want, "--map", ".isa=ext", NULL);
    expect_error("isapid: --map .isa=/dev/null: not a regular file\n", "--map", ".isa=/dev/null",
                 NULL);
    /* wildcard maps: /PREFIX/\* with a prefix --scripts would take, each prefix once */
    expect_error("isapid: --map /app=h.so: a wildcard map must end in /*, e.g. /app/*=HANDLER.so\n",
                 "--map", "/app=h.so", NULL);
    expect_error("isapid: --map /a//b/*=h.so: the URL prefix must not contain '//', '.' or '..' "
                 "segments\n", "--map", "/a//b/*=h.so", NULL);
    snprintf(want, sizeof want,
             "isapid: --map /app/*=conf/handler.so: the URL prefix /app is already mapped to %s\n",
             at("conf/handler.so"));
    expect_error(want, "--map=/app/*=conf/handler.so", "--map=/app/*=conf/handler.so", NULL);
    {
        config_t wc;
        config_defaults(&wc, at("bin"));
        CHECK_INT(parse(&wc, "--map", "/app/*=conf/handler.so", "--map", ".isa=conf/handler.so",
                        "--map", "/*=conf/handler.so", NULL),
                  CONFIG_OK);
        CHECK_INT(wc.n_maps, 3);
        if (wc.n_maps == 3) {
            CHECK_STR(wc.maps[0].ext, "/app");
            CHECK(script_map_is_wildcard(&wc.maps[0]));
            CHECK(!script_map_is_wildcard(&wc.maps[1]));
            CHECK_STR(wc.maps[2].ext, "/");
            CHECK_STR(wc.maps[2].handler, at("conf/handler.so"));
        }
        config_free(&wc);
    }

    /* Missing root: the message names the option and the resolved path. */
    snprintf(want, sizeof want, "isapid: --root %s: No such file or directory\n", at("nope"));
    expect_error(want, "--root", at("nope"), NULL);
    snprintf(want, sizeof want, "isapid: --root nope (%s): No such file or directory\n",
             at("nope"));
    expect_error(want, "--root", "nope", NULL);
    snprintf(want, sizeof want, "isapid: --root conf/handler.so (%s): Not a directory\n",
             at("conf/handler.so"));
    expect_error(want, "--root", "conf/handler.so", NULL);

    expect_error("isapid: cannot read config file missing.ini: No such file or directory\n",
                 "--config", "missing.ini", NULL);
    expect_error("isapid: cannot read config file ext: Is a directory\n", "--config", "ext", NULL);
    expect_error("isapid: --config b.ini: only one config file may be given (already a.ini)\n",
                 "--config=a.ini", "--config=b.ini", NULL);

    /* At most CONFIG_MAX_LISTEN addresses. */
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    char *argv[2 * CONFIG_MAX_LISTEN + 4];
    char texts[CONFIG_MAX_LISTEN + 1][32];
    int argc = 0;
    argv[argc++] = "isapid";
    for (int i = 0; i <= CONFIG_MAX_LISTEN; i++) {
        snprintf(texts[i], sizeof texts[i], "127.0.0.1:%d", 10000 + i);
        argv[argc++] = "--listen";
        argv[argc++] = texts[i];
    }
    size_t len;
    free(errors);
    FILE *f = open_memstream(&errors, &len);
    cfg.errors = f;
    CHECK_INT(config_parse_args(&cfg, argc, argv), CONFIG_ERROR);
    fclose(f);
    CHECK_STR(errors, "isapid: --listen 127.0.0.1:10016: too many listen addresses (at most 16)\n");
    CHECK_INT(cfg.n_listen, CONFIG_MAX_LISTEN);
    config_free(&cfg);
}

static void test_parse_listen(void)
{
    listen_addr_t l;
    CHECK_INT(config_parse_listen("*:8080", &l), 0);
    CHECK_STR(ip_of(&l), "0.0.0.0");
    CHECK_INT(port_of(&l), 8080);
    CHECK_INT(config_parse_listen(":1", &l), 0);
    CHECK_STR(ip_of(&l), "0.0.0.0");
    CHECK_INT(config_parse_listen("[::]:443", &l), 0);
    CHECK_INT(l.addr.ss_family, AF_INET6);
    CHECK_STR(l.text, "[::]:443");
    CHECK_INT(config_parse_listen("[2001:db8::1]:80", &l), 0);
    CHECK_STR(ip_of(&l), "2001:db8::1");
    CHECK_INT(config_parse_listen("127.0.0.1", &l), -1);
    CHECK_INT(config_parse_listen("127.0.0.1:", &l), -1);
    CHECK_INT(config_parse_listen("127.0.0.1:+80", &l), -1);
    CHECK_INT(config_parse_listen("127.0.0.1:80x", &l), -1);
    CHECK_INT(config_parse_listen("1.2.3:80", &l), -1);
    CHECK_INT(config_parse_listen("[::1]80", &l), -1);
    CHECK_INT(config_parse_listen("", &l), -1);
    CHECK_INT(config_parse_listen("[0000:0000:0000:0000:0000:0000:0000:0001]:8080", &l), 0);
    CHECK_INT(
        config_parse_listen("[0000:0000:0000:0000:0000:0000:0000:0001]:8080xxxxxxxxxxxxxxxx", &l),
        -1);
}

/* ---- INI file ---- */

static void test_ini_full(void)
{
    /* CRLF endings, indentation, comments, a repeated listen key, paths relative to conf/. */
    write_file("conf/full.ini", "\xEF\xBB\xBF; isapid test configuration\r\n"
                                "# also a comment\r\n"
                                "[server]\r\n"
                                "  listen = 127.0.0.1:8081    ; first address\r\n"
                                "  listen = [::1]:8082\r\n"
                                "  root = www\r\n"
                                "  threads = 2\r\n"
                                "  workers = 3:30\r\n"
                                "  access_log = logs/access.log\r\n"
                                "  server_name = example\r\n"
                                "  send_url = redirect\r\n"
                                "  run_extensions = pool\r\n"
                                "\r\n"
                                "[limits]\n"
                                "max_header_size = 8k\n"
                                "max_uri = 1024\n"
                                "max_body = 1g\n"
                                "read_ahead = 0\n"
                                "min_body_rate = 100\n"
                                "[timeouts]\n"
                                "header = 1s\n"
                                "keepalive = 2000ms\n"
                                "body = 3000\n"
                                "send = 4s\n"
                                "shutdown_grace = 0\n"
                                "body_rate_window = 2500ms\n"
                                "[scripts]\n"
                                "/examples = ../ext\n"
                                "/cgi-bin/ = ../ext\n"
                                "[maps]\n"
                                ".isa = handler.so\n"
                                ".asp = ./sub/../handler.so\n");
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK_INT(load(&cfg, "conf/full.ini"), CONFIG_OK);
    CHECK_STR(errors, "");
    CHECK_INT(cfg.n_listen, 2); /* the file replaced the default address */
    CHECK_STR(cfg.listen[0].text, "127.0.0.1:8081");
    CHECK_STR(cfg.listen[1].text, "[::1]:8082");
    CHECK_STR(cfg.root, at("conf/www"));
    CHECK_INT(cfg.threads, 2);
    CHECK_INT(cfg.workers_min, 3);
    CHECK_INT(cfg.workers_max, 30);
    CHECK_STR(cfg.access_log, at("conf/logs/access.log"));
    CHECK_STR(cfg.server_name, "example");
    CHECK(cfg.send_url_redirect);
    CHECK(!cfg.extensions_inline);
    CHECK_INT(cfg.max_header_bytes, 8192);
    CHECK_INT(cfg.max_uri_bytes, 1024);
    CHECK_INT(cfg.max_body_bytes, 1073741824);
    CHECK_INT(cfg.read_ahead_bytes, 0);
    CHECK_INT(cfg.header_timeout_ms, 1000);
    CHECK_INT(cfg.keepalive_timeout_ms, 2000);
    CHECK_INT(cfg.body_timeout_ms, 3000);
    CHECK_INT(cfg.send_timeout_ms, 4000);
    CHECK_INT(cfg.shutdown_grace_ms, 0);
    CHECK_INT(cfg.min_body_rate, 100);
    CHECK_INT(cfg.body_rate_window_ms, 2500);
    CHECK_INT(cfg.n_scripts, 2);
    if (cfg.n_scripts == 2) {
        CHECK_STR(cfg.scripts[0].prefix, "/examples");
        CHECK_STR(cfg.scripts[0].dir, at("ext"));
        CHECK_STR(cfg.scripts[1].prefix, "/cgi-bin");
    }
    CHECK_INT(cfg.n_maps, 2);
    if (cfg.n_maps == 2) {
        CHECK_STR(cfg.maps[0].ext, ".isa");
        CHECK_STR(cfg.maps[0].handler, at("conf/handler.so"));
        CHECK_STR(cfg.maps[1].handler, at("conf/handler.so"));
    }
    config_free(&cfg);

    /* The same through --config, from another working directory: still relative to the file. */
    CHECK(chdir(at("ext")) == 0);
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config", "../conf/full.ini", NULL), CONFIG_OK);
    CHECK_STR(errors, "");
    CHECK_STR(cfg.root, at("conf/www"));
    config_free(&cfg);
    CHECK(chdir(tmp) == 0);

    /* Through a symbolic link, paths are relative to the link's directory. */
    CHECK(symlink("conf/full.ini", at("link.ini")) == 0);
    config_defaults(&cfg, at("bin"));
    CHECK_INT(load(&cfg, "link.ini"), CONFIG_OK);
    CHECK_STR(cfg.root, at("www"));
    CHECK_STR(cfg.maps[0].handler, at("handler.so"));
    config_free(&cfg);
    unlink(at("link.ini"));

    /* An empty file changes nothing; a file in a sub-directory given by absolute path works. */
    write_file("conf/empty.ini", "");
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config", at("conf/empty.ini"), NULL), CONFIG_OK);
    CHECK_STR(cfg.root, at("www"));
    CHECK_INT(cfg.n_scripts, 1);
    config_free(&cfg);
    unlink(at("conf/empty.ini"));
    unlink(at("conf/full.ini"));
}

/* Loads text as conf/t.ini (named "conf/t.ini" in messages) and expects this error. */
static void expect_ini_error(const char *text, const char *want)
{
    write_file("conf/t.ini", text);
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK_INT(load(&cfg, "conf/t.ini"), CONFIG_ERROR);
    if (strcmp(errors ? errors : "", want) != 0)
        fprintf(stderr, "for file:\n%s", text);
    CHECK_STR(errors, want);
    config_free(&cfg);
    unlink(at("conf/t.ini"));
}

static void test_ini_errors(void)
{
    expect_ini_error("[server]\nroot = www\nfoo = 1\n",
                     "isapid: conf/t.ini:3: unknown key 'foo' in [server]\n");
    expect_ini_error("[limits]\n\n\n\nmax_headers = 1\n",
                     "isapid: conf/t.ini:5: unknown key 'max_headers' in [limits]\n");
    expect_ini_error("[server]\nthreads = 1\n[bogus]\n",
                     "isapid: conf/t.ini:3: unknown section [bogus] (known: [server], [limits], "
                     "[timeouts], [scripts], [maps], [filters])\n");
    expect_ini_error("\xEF\xBB\xBF[bogus]\n",
                     "isapid: conf/t.ini:1: unknown section [bogus] (known: [server], [limits], "
                     "[timeouts], [scripts], [maps], [filters])\n");
    expect_ini_error("[Server]\nthreads = 1\n",
                     "isapid: conf/t.ini:1: unknown section [Server] (known: [server], [limits], "
                     "[timeouts], [scripts], [maps], [filters])\n");
    expect_ini_error("threads = 1\n",
                     "isapid: conf/t.ini:1: key 'threads' is outside any section (put it under "
                     "[server], [limits], ...)\n");
    expect_ini_error("[server]\nroot = www\nthreads 4\n",
                     "isapid: conf/t.ini:3: syntax error: expected [section] or key = value\n");
    expect_ini_error("[server\nroot = www\n",
                     "isapid: conf/t.ini:1: syntax error: expected [section] or key = value\n");
    /* The first error wins, whether libinih or the handler found it. */
    expect_ini_error("[server]\nnonsense\nfoo = 1\n",
                     "isapid: conf/t.ini:2: syntax error: expected [section] or key = value\n");
    expect_ini_error("[server]\nfoo = 1\nnonsense\n",
                     "isapid: conf/t.ini:2: unknown key 'foo' in [server]\n");
    expect_ini_error(
        "[server]\nroot = www\nthreads = 1\nroot = www2\n",
        "isapid: conf/t.ini:4: duplicate key 'root' in [server] (first set on line 2)\n");
    expect_ini_error("[server]\nthreads = x\n",
                     "isapid: conf/t.ini:2: threads = x: not a number\n");
    expect_ini_error("[server]\nworkers = 9:2\n",
                     "isapid: conf/t.ini:2: workers = 9:2: minimum exceeds maximum\n");
    expect_ini_error("[server]\nlisten = 1.2.3.4\n",
                     "isapid: conf/t.ini:2: listen = 1.2.3.4: expected ADDR:PORT, e.g. "
                     "127.0.0.1:8080 or *:8080\n");
    expect_ini_error("[server]\nroot =\n", "isapid: conf/t.ini:2: root = : empty path\n");
    expect_ini_error("[server]\nrun_extensions = both\n",
                     "isapid: conf/t.ini:2: run_extensions = both: expected loop or pool\n");
    expect_ini_error("[server]\nsend_url = maybe\n",
                     "isapid: conf/t.ini:2: send_url = maybe: expected internal or redirect\n");
    expect_ini_error("[limits]\nmax_body = 1t\n",
                     "isapid: conf/t.ini:2: max_body = 1t: not a size (a number, optionally "
                     "followed by k, m or g)\n");
    expect_ini_error("[timeouts]\nheader = 10 s\n",
                     "isapid: conf/t.ini:2: header = 10 s: not a duration (milliseconds, or a "
                     "number followed by ms or s)\n");
    expect_ini_error("[limits]\nmin_body_rate = fast\n",
                     "isapid: conf/t.ini:2: min_body_rate = fast: not a rate (bytes per second: a "
                     "number, optionally followed by k, m or g; 0 = off)\n");
    expect_ini_error("[timeouts]\nbody_rate_window = 0\n",
                     "isapid: conf/t.ini:2: body_rate_window = 0: must be greater than 0\n");
    expect_ini_error("[timeouts]\nmin_body_rate = 240\n",
                     "isapid: conf/t.ini:2: unknown key 'min_body_rate' in [timeouts]\n");
    expect_ini_error("[timeouts]\nsend_url = redirect\n",
                     "isapid: conf/t.ini:2: unknown key 'send_url' in [timeouts]\n");
    expect_ini_error(
        "[scripts]\nexamples = ../ext\n",
        "isapid: conf/t.ini:2: examples = ../ext: the URL prefix must start with '/'\n");
    expect_ini_error("[maps]\nisa = handler.so\n",
                     "isapid: conf/t.ini:2: isa = handler.so: the extension must start with '.', "
                     "e.g. .isa\n");
    expect_ini_error("[server]\n--threads = 2\n",
                     "isapid: conf/t.ini:2: unknown key '--threads' in [server]\n");

    /* Lines longer than libinih's buffer are refused, not split. */
    char text[1024];
    char long_value[400];
    memset(long_value, 'a', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    snprintf(text, sizeof text, "[server]\nroot = %s\nthreads = 1\n", long_value);
    write_file("conf/t.ini", text);
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK_INT(load(&cfg, "conf/t.ini"), CONFIG_ERROR);
    CHECK(strncmp(errors, "isapid: conf/t.ini:2: line too long (at most ", 45) == 0);
    config_free(&cfg);

    /* A NUL byte. */
    FILE *f = fopen(at("conf/t.ini"), "w");
    fwrite("[server]\nthreads = 1\0\n", 1, 22, f);
    fclose(f);
    config_defaults(&cfg, at("bin"));
    CHECK_INT(load(&cfg, "conf/t.ini"), CONFIG_ERROR);
    CHECK_STR(errors, "isapid: conf/t.ini:2: the line contains a NUL byte\n");
    config_free(&cfg);
    unlink(at("conf/t.ini"));

    /* Unreadable and missing files. */
    config_defaults(&cfg, at("bin"));
    CHECK_INT(load(&cfg, "conf/none.ini"), CONFIG_ERROR);
    CHECK_STR(errors, "isapid: cannot read config file conf/none.ini: No such file or directory\n");
    config_free(&cfg);
}

/* The [scripts] duplicate message ends with the directory; check the whole of it here. */
static void test_ini_duplicate_prefix(void)
{
    write_file("conf/t.ini", "[scripts]\n/a = ../ext\n/a/ = ../ext\n");
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK_INT(load(&cfg, "conf/t.ini"), CONFIG_ERROR);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want,
             "isapid: conf/t.ini:3: /a/ = ../ext: the URL prefix /a is already mapped to %s\n",
             at("ext"));
    CHECK_STR(errors, want);
    config_free(&cfg);
    unlink(at("conf/t.ini"));
}

/* ---- file + command line ---- */

static void test_cli_overrides_file(void)
{
    write_file("conf/o.ini", "[server]\n"
                             "listen = 127.0.0.1:8081\n"
                             "listen = 127.0.0.1:8082\n"
                             "root = www\n"
                             "threads = 2\n"
                             "server_name = fromfile\n"
                             "[scripts]\n"
                             "/a = ../ext\n"
                             "/b = ../ext\n"
                             "[maps]\n"
                             ".isa = handler.so\n");
    config_t cfg;

    /* --config is read first wherever it appears; later options override it. */
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--threads", "5", "--listen", "127.0.0.1:9999", "--root", "www2",
                    "--scripts", "/c=ext", "--config", "conf/o.ini", NULL),
              CONFIG_OK);
    CHECK_STR(errors, "");
    CHECK_INT(cfg.threads, 5);
    CHECK_INT(cfg.n_listen, 1); /* the command line replaced the file's list */
    CHECK_STR(cfg.listen[0].text, "127.0.0.1:9999");
    CHECK_STR(cfg.root, at("www2")); /* relative to the working directory */
    CHECK_INT(cfg.n_scripts, 1);
    if (cfg.n_scripts == 1)
        CHECK_STR(cfg.scripts[0].prefix, "/c");
    CHECK_INT(cfg.n_maps, 1); /* not on the command line: the file's list stays */
    CHECK_STR(cfg.server_name, "fromfile");
    config_free(&cfg);

    /* Without overrides the file's values stand; a later --map replaces the file's maps. */
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config=conf/o.ini", "--map", ".x=conf/handler.so", "--map",
                    ".y=conf/handler.so", NULL),
              CONFIG_OK);
    CHECK_INT(cfg.n_listen, 2);
    CHECK_STR(cfg.root, at("conf/www"));
    CHECK_INT(cfg.threads, 2);
    CHECK_INT(cfg.n_scripts, 2);
    CHECK_INT(cfg.n_maps, 2);
    if (cfg.n_maps == 2) {
        CHECK_STR(cfg.maps[0].ext, ".x");
        CHECK_STR(cfg.maps[1].ext, ".y");
    }
    config_free(&cfg);

    /* A root that only the file gets wrong: fixed by --root, or reported with file and line. */
    write_file("conf/o.ini", "[server]\n\nroot = nope\n[scripts]\n/a = nodir\n");
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config", "conf/o.ini", "--root", "www", "--scripts", "/a=ext", NULL),
              CONFIG_OK);
    CHECK_STR(errors, "");
    config_free(&cfg);

    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config", "conf/o.ini", NULL), CONFIG_ERROR);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want,
             "isapid: conf/o.ini:3: root = nope (%s): No such file or directory\n",
             at("conf/nope"));
    CHECK_STR(errors, want);
    config_free(&cfg);

    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config", "conf/o.ini", "--root", "www", NULL), CONFIG_ERROR);
    snprintf(want, sizeof want,
             "isapid: conf/o.ini:5: /a = nodir (%s): No such file or directory\n",
             at("conf/nodir"));
    CHECK_STR(errors, want);
    config_free(&cfg);

    /* A command-line error after the file was read. */
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config", "conf/o.ini", "--threads", "x", NULL), CONFIG_ERROR);
    CHECK_STR(errors, "isapid: --threads x: not a number\n");
    config_free(&cfg);
    unlink(at("conf/o.ini"));
}

/* The sample configuration in examples/ parses (run from tests/unit, as ctest does). */
static void test_example_file(const char *cwd)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/../../examples/isapid.ini", cwd);
    if (access(path, R_OK) != 0)
        return;
    config_t cfg;
    config_defaults(&cfg, NULL);
    CHECK_INT(load(&cfg, path), CONFIG_OK);
    CHECK_STR(errors, "");
    CHECK_INT(cfg.n_listen, 1);
    CHECK_STR(cfg.listen[0].text, "127.0.0.1:8080");
    CHECK_INT(cfg.n_scripts, 1);
    if (cfg.n_scripts == 1)
        CHECK_STR(cfg.scripts[0].prefix, "/examples");
    config_free(&cfg);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Behind a load balancer: proxy-protocol listeners, trusted proxies, SO_REUSEPORT. */
static void test_proxy_options(void)
{
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK(!cfg.reuse_port && cfg.n_trust_proxy == 0 && !cfg.listen[0].proxy_protocol);
    CHECK_INT(parse(&cfg, "--listen", "127.0.0.1:9100,proxy-protocol", "--listen", "[::1]:9101",
                    "--trust-proxy", "10.0.0.0/8", "--trust-proxy=::1", "--reuse-port", NULL),
              CONFIG_OK);
    CHECK_INT(cfg.n_listen, 2);
    CHECK(cfg.listen[0].proxy_protocol);
    CHECK(!cfg.listen[1].proxy_protocol);
    CHECK_STR(cfg.listen[0].text, "127.0.0.1:9100");
    CHECK_INT(cfg.n_trust_proxy, 2);
    CHECK_INT(cfg.trust_proxy[0].prefix, 96 + 8); /* IPv4, kept as IPv4-mapped (cidr.h) */
    CHECK(!IN6_IS_ADDR_V4MAPPED(&cfg.trust_proxy[1].addr));
    CHECK(cfg.reuse_port);
    config_free(&cfg);

    write_file("conf/p.ini", "[server]\nlisten = 127.0.0.1:9102,proxy-protocol\n"
                             "trust_proxy = 192.168.0.0/16\ntrust_proxy = fd00::/8\n"
                             "reuse_port = yes\n");
    config_defaults(&cfg, at("bin"));
    CHECK_INT(load(&cfg, "conf/p.ini"), CONFIG_OK);
    CHECK(cfg.listen[0].proxy_protocol);
    CHECK_INT(cfg.n_trust_proxy, 2);
    CHECK(cfg.reuse_port);
    /* The command line's list replaces the file's. */
    CHECK_INT(parse(&cfg, "--config", "conf/p.ini", "--trust-proxy", "127.0.0.1", NULL), CONFIG_OK);
    CHECK_INT(cfg.n_trust_proxy, 1);
    CHECK_INT(cfg.trust_proxy[0].prefix, 96 + 32);
    config_free(&cfg);
    unlink(at("conf/p.ini"));

    expect_error("isapid: --listen 127.0.0.1:9100,proxy: unknown listen option 'proxy' (known: "
                 "proxy-protocol)\n", "--listen", "127.0.0.1:9100,proxy", NULL);
    expect_error("isapid: --trust-proxy 10.0.0.1/8: the address has bits set past the prefix "
                 "length (write the network address, e.g. 10.0.0.0/8)\n",
                 "--trust-proxy", "10.0.0.1/8", NULL);
    expect_error("isapid: --trust-proxy proxy.example: not a numeric IPv4 or IPv6 address (host "
                 "names are not resolved)\n", "--trust-proxy", "proxy.example", NULL);
    expect_error("isapid: --reuse-port takes no value\n", "--reuse-port=yes", NULL, NULL);
    expect_ini_error("[server]\nreuse_port = maybe\n",
                     "isapid: conf/t.ini:2: reuse_port = maybe: expected yes or no\n");
}

/* --filter (repeatable, in order) and [filters] NAME = PATH (relative to the file); the CLI list
 * replaces the file's; a missing file fails the final checks; duplicate names are refused. */
static void test_filters(void)
{
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK_INT(cfg.n_filters, 0);
    CHECK_INT(parse(&cfg, "--filter", "conf/handler.so", "--filter=conf/sub/../f2.so", NULL),
              CONFIG_ERROR); /* f2.so does not exist */
    config_free(&cfg);
    write_file("conf/f2.so", "not really a shared object\n");
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--filter", "conf/handler.so", "--filter=conf/sub/../f2.so", NULL),
              CONFIG_OK);
    CHECK_INT(cfg.n_filters, 2);
    if (cfg.n_filters == 2) {
        CHECK_STR(cfg.filters[0].path, at("conf/handler.so"));
        CHECK_STR(cfg.filters[0].name, "handler.so");
        CHECK_STR(cfg.filters[1].path, at("conf/f2.so"));
    }
    config_free(&cfg);
    write_file("conf/filters.ini", "[filters]\nsecond = f2.so\nfirst = handler.so\n");
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config", at("conf/filters.ini"), NULL), CONFIG_OK);
    CHECK_INT(cfg.n_filters, 2);
    if (cfg.n_filters == 2) {
        CHECK_STR(cfg.filters[0].name, "second");
        CHECK_STR(cfg.filters[0].path, at("conf/f2.so"));
        CHECK_STR(cfg.filters[1].name, "first");
    }
    config_free(&cfg);
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config", at("conf/filters.ini"), "--filter", "conf/f2.so", NULL),
              CONFIG_OK);
    CHECK_INT(cfg.n_filters, 1); /* the command line's list replaces the file's */
    config_free(&cfg);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want,
             "isapid: conf/t.ini:4: a = f2.so: a filter named a is already loaded (from %s)\n",
             at("conf/handler.so"));
    expect_ini_error("[filters]\na = handler.so\nb = handler.so\na = f2.so\n", want);
    unlink(at("conf/filters.ini"));
    unlink(at("conf/f2.so"));
}

/* --error-page / error_page: a repeatable list of STATUS=/URL, the URL normalised; the command
 * line's list replaces the file's; the page must exist below the root. */
static void test_error_page_options(void)
{
    config_t cfg;
    write_file("www/e404.html", "not found\n");
    write_file("www/e500.html", "server error\n");
    config_defaults(&cfg, at("bin"));
    CHECK_INT(cfg.n_error_pages, 0);
    CHECK_INT(parse(&cfg, "--root", "www", "--error-page", "404=/e404.html", "--error-page",
                    "500=//x/../e500.html", NULL),
              CONFIG_OK);
    CHECK_STR(errors, "");
    CHECK_INT(cfg.n_error_pages, 2);
    if (cfg.n_error_pages == 2) {
        CHECK_INT(cfg.error_pages[0].status, 404);
        CHECK_STR(cfg.error_pages[0].url, "/e404.html");
        CHECK_INT(cfg.error_pages[1].status, 500);
        CHECK_STR(cfg.error_pages[1].url, "/e500.html");
    }
    config_free(&cfg);
    CHECK_INT(cfg.n_error_pages, 0);

    write_file("conf/e.ini", "[server]\nroot = ../www\nerror_page = 404=/e404.html\n"
                             "error_page = 500=/e500.html\n");
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config", "conf/e.ini", NULL), CONFIG_OK);
    CHECK_INT(cfg.n_error_pages, 2);
    config_free(&cfg);
    config_defaults(&cfg, at("bin"));
    CHECK_INT(parse(&cfg, "--config", "conf/e.ini", "--error-page", "503=/e500.html", NULL),
              CONFIG_OK);
    CHECK_INT(cfg.n_error_pages, 1); /* the command line's list replaced the file's */
    if (cfg.n_error_pages == 1)
        CHECK_INT(cfg.error_pages[0].status, 503);
    config_free(&cfg);
    unlink(at("conf/e.ini"));

    expect_error("isapid: --error-page 302=/e404.html: the status must be an error status, 400 to "
                 "599\n", "--error-page", "302=/e404.html", NULL);
    expect_error("isapid: --error-page 404=/a%2Fb: the page must name a file below the root (no dot "
                 "segments, no trailing '/', no %2F or backslash)\n", "--error-page", "404=/a%2Fb",
                 NULL);
    expect_ini_error("[server]\nerror_page = 404=/e404.html\nerror_page = 404=/e500.html\n",
                     "isapid: conf/t.ini:3: error_page = 404=/e500.html: status 404 already has the "
                     "page /e404.html\n");
    unlink(at("www/e404.html"));
    unlink(at("www/e500.html"));
}

int main(void)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return 1;
    const char *base = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/isapid-config-XXXXXX", base && *base ? base : P_tmpdir);
    if (!mkdtemp(dir) || !realpath(dir, tmp)) {
        perror("mkdtemp");
        return 1;
    }
    if (chdir(tmp) != 0)
        return 1;
    /* tmp/bin is the "binary's directory": bin/../www and bin/examples exist. */
    make_dir("www");
    make_dir("www2");
    make_dir("ext");
    make_dir("bin");
    make_dir("bin/examples");
    make_dir("conf");
    make_dir("conf/sub");
    make_dir("conf/www");
    write_file("conf/handler.so", "not really a shared object\n");

    test_defaults();
    test_cli_options();
    test_help_version();
    test_cli_errors();
    test_ops_options();
    test_pool_and_send_rate_options();
    test_parse_listen();
    test_ini_full();
    test_ini_errors();
    test_ini_duplicate_prefix();
    test_cli_overrides_file();
    test_proxy_options();
    test_filters();
    test_error_page_options();

    if (chdir(cwd) != 0)
        return 1;
    test_example_file(cwd);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(errors);
    return check_report("test_config");
}
