/* Configuration from the command line: defaults, every option, --opt=value, --help and
 * --version, errors, listen addresses, the proxy, filter and error-page options (the INI file is
 * test_config_file.c). Runs in a temporary directory it creates and removes
 * (config_fixture.h). */
#define _GNU_SOURCE
#include "config_fixture.h"

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

/* Behind a load balancer: proxy-protocol listeners, trusted proxies, SO_REUSEPORT,
 * TCP_DEFER_ACCEPT. */
static void test_proxy_options(void)
{
    config_t cfg;
    config_defaults(&cfg, at("bin"));
    CHECK(!cfg.reuse_port && cfg.n_trust_proxy == 0 && !cfg.listen[0].proxy_protocol);
    CHECK_INT(cfg.defer_accept_s, 1);
    CHECK_INT(parse(&cfg, "--listen", "127.0.0.1:9100,proxy-protocol", "--listen", "[::1]:9101",
                    "--trust-proxy", "10.0.0.0/8", "--trust-proxy=::1", "--reuse-port",
                    "--defer-accept", "0", NULL),
              CONFIG_OK);
    CHECK_INT(cfg.defer_accept_s, 0);
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
                             "reuse_port = yes\ndefer_accept = 3\n");
    config_defaults(&cfg, at("bin"));
    CHECK_INT(load(&cfg, "conf/p.ini"), CONFIG_OK);
    CHECK_INT(cfg.defer_accept_s, 3);
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
    expect_error("isapid: --defer-accept 1s: expected a number of seconds (0 = off)\n",
                 "--defer-accept", "1s", NULL);
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
    /* --filter's name is its file's, a pointer into the resolved path: the message is made
     * before the path is freed (a fuzz finding: it read the freed path) */
    snprintf(
        want, sizeof want,
        "isapid: --filter conf/handler.so: a filter named handler.so is already loaded (from %s)\n",
        at("conf/handler.so"));
    expect_error(want, "--filter=conf/handler.so", "--filter=conf/handler.so", NULL);
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
    if (config_fixture_setup(cwd, sizeof cwd) != 0)
        return 1;
    test_defaults();
    test_cli_options();
    test_help_version();
    test_cli_errors();
    test_ops_options();
    test_pool_and_send_rate_options();
    test_parse_listen();
    test_proxy_options();
    test_filters();
    test_error_page_options();
    return config_fixture_teardown(cwd, "test_config");
}
