/* Configuration from the INI file: every section and key, relative paths, repeated keys, errors
 * with line numbers, duplicate prefixes, the command line overriding the file, and the sample
 * file in examples/. Runs in a temporary directory it creates and removes (config_fixture.h). */
#define _GNU_SOURCE
#include "config_fixture.h"

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

int main(void)
{
    char cwd[PATH_MAX];
    if (config_fixture_setup(cwd, sizeof cwd) != 0)
        return 1;
    test_ini_full();
    test_ini_errors();
    test_ini_duplicate_prefix();
    test_cli_overrides_file();
    if (chdir(cwd) != 0)
        return 1;
    test_example_file(cwd);
    return config_fixture_teardown(cwd, "test_config_file");
}
