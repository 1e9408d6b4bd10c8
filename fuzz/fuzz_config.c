/* Fuzz harness: the configuration reader (config_load_file, config_parse_args).
 *
 * Input: an INI file, optionally followed by "\0\0" and command-line arguments separated by
 * NUL bytes. The file part is written to a scratch file and read with config_load_file; when
 * arguments follow, they are also parsed with config_parse_args, with every --config pointed at
 * the scratch file (so the file and the command line meet as they do in use). --help, -h and
 * --version are dropped (they print to stdout). Errors go to /dev/null. Checked: no crash, no
 * leak (config_free releases everything), a status the header documents, and a config that
 * loads keeps its documented invariants (listen count, absolute paths, limits >= 1). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static char scratch_dir[64];
static char ini_path[96];
static FILE *devnull;

static void cleanup(void)
{
    unlink(ini_path);
    rmdir(scratch_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch_dir, sizeof scratch_dir, "%s/isapid-fuzz-XXXXXX",
             tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    FUZZ_REQUIRE(mkdtemp(scratch_dir));
    snprintf(ini_path, sizeof ini_path, "%s/isapid.ini", scratch_dir);
    devnull = fopen("/dev/null", "w");
    FUZZ_REQUIRE(devnull);
    atexit(cleanup);
    return 0;
}

static void write_ini(const uint8_t *data, size_t len)
{
    int fd = open(ini_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_REQUIRE(fd >= 0);
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        FUZZ_REQUIRE(n > 0);
        data += n;
        len -= (size_t)n;
    }
    close(fd);
}

static void check_config(const config_t *cfg)
{
    FUZZ_CHECK(cfg->n_listen <= CONFIG_MAX_LISTEN);
    if (cfg->root)
        FUZZ_CHECK(cfg->root[0] == '/');
    for (size_t i = 0; i < cfg->n_scripts; i++) {
        FUZZ_CHECK(cfg->scripts[i].prefix[0] == '/' && cfg->scripts[i].dir[0] == '/');
        size_t n = strlen(cfg->scripts[i].prefix);
        FUZZ_CHECK(n == 1 || cfg->scripts[i].prefix[n - 1] != '/');
    }
    for (size_t i = 0; i < cfg->n_maps; i++)
        FUZZ_CHECK((cfg->maps[i].ext[0] == '.' || script_map_is_wildcard(&cfg->maps[i])) &&
                   cfg->maps[i].handler[0] == '/'); /* .EXT= or a wildcard map */
    FUZZ_CHECK(cfg->max_header_bytes >= 1 && cfg->max_uri_bytes >= 1);
    FUZZ_CHECK(cfg->header_timeout_ms >= 1 && cfg->keepalive_timeout_ms >= 1);
    FUZZ_CHECK(cfg->body_timeout_ms >= 1 && cfg->send_timeout_ms >= 1);
}

static bool dropped_arg(const char *a)
{
    if (strcmp(a, "-h") == 0)
        return true;
    if (strncmp(a, "--", 2) != 0)
        return false;
    size_t n = strcspn(a + 2, "=");
    return (n == 4 && strncmp(a + 2, "help", 4) == 0) ||
           (n == 7 && strncmp(a + 2, "version", 7) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memmem(data, size, "\0\0", 2);
    size_t ini_len = sep ? (size_t)(sep - data) : size;
    write_ini(data, ini_len);

    config_t cfg;
    config_defaults(&cfg, NULL);
    cfg.errors = devnull;
    config_status_t st = config_load_file(&cfg, ini_path);
    FUZZ_CHECK(st == CONFIG_OK || st == CONFIG_ERROR);
    check_config(&cfg);
    config_free(&cfg);
    config_free(&cfg); /* documented safe twice */
    if (!sep)
        return 0;

    /* argv: NUL-separated strings after the separator; a --config value becomes the file. */
    const char *p = (const char *)sep + 2, *end = (const char *)data + size;
    size_t max = (size_t)(end - p) + 2;
    char **argv = calloc(max + 1, sizeof *argv);
    FUZZ_REQUIRE(argv);
    int argc = 0;
    argv[argc++] = strdup("isapid");
    bool want_file = false;
    while (p < end) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        size_t n = z ? (size_t)(z - p) : (size_t)(end - p);
        char *a = strndup(p, n);
        FUZZ_REQUIRE(a);
        p += n + (z != NULL);
        if (want_file) {
            free(a);
            a = strdup(ini_path);
            want_file = false;
        } else if (strncmp(a, "--config=", 9) == 0) {
            free(a);
            FUZZ_REQUIRE(asprintf(&a, "--config=%s", ini_path) >= 0);
        } else if (strcmp(a, "--config") == 0) {
            want_file = true;
        } else if (dropped_arg(a)) {
            free(a);
            continue;
        }
        argv[argc++] = a;
    }
    config_defaults(&cfg, NULL);
    cfg.errors = devnull;
    st = config_parse_args(&cfg, argc, argv);
    FUZZ_CHECK(st == CONFIG_OK || st == CONFIG_ERROR);
    check_config(&cfg);
    if (st == CONFIG_OK) {
        FUZZ_CHECK(cfg.n_listen >= 1 && cfg.root != NULL);
        FUZZ_CHECK(cfg.workers_max >= 1 && cfg.workers_min <= cfg.workers_max);
    }
    config_free(&cfg);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    return 0;
}
