/* The configuration tests' fixture (test_config.c, test_config_file.c): a temporary directory
 * that is also the working directory (config_fixture_setup: tmp/bin is the "binary's directory",
 * with bin/../www and bin/examples), the parse and load calls that catch the error text in
 * `errors`, and the checks' small helpers. Each test executable has its own copy of this state;
 * the functions are static inline so one that a test does not use costs nothing. */
#ifndef ISAPID_TEST_CONFIG_FIXTURE_H
#define ISAPID_TEST_CONFIG_FIXTURE_H

#include "config.h"
#include "check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[PATH_MAX]; /* the test's directory, realpath'ed; also the working directory */
static char *errors;       /* what the last parse() wrote as errors */

/* tmp + "/" + rel, in one of a few rotating buffers. */
static inline const char *at(const char *rel)
{
    static char bufs[8][PATH_MAX + 64];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp, rel);
    return b;
}

static inline void write_file(const char *rel, const char *text)
{
    FILE *f = fopen(at(rel), "w");
    if (!f) {
        perror(at(rel));
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static inline void make_dir(const char *rel) { mkdir(at(rel), 0755); }

/* config_parse_args with argv {"isapid", args..., NULL}; the error text goes to `errors`. */
static inline config_status_t parse_v(config_t *cfg, const char *first, va_list ap)
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

static inline config_status_t parse(config_t *cfg, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    config_status_t rc = parse_v(cfg, first, ap);
    va_end(ap);
    return rc;
}

/* Defaults (exe_dir = tmp/bin), then argv; the config is freed again. Returns the status and
 * leaves the error text in `errors`. */
static inline config_status_t try_args(const char *first, ...)
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

static inline config_status_t load(config_t *cfg, const char *path)
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

static inline unsigned port_of(const listen_addr_t *l)
{
    if (l->addr.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
}

static inline char *ip_of(const listen_addr_t *l)
{
    static char buf[INET6_ADDRSTRLEN];
    if (l->addr.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&l->addr)->sin6_addr, buf, sizeof buf);
    else
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&l->addr)->sin_addr, buf, sizeof buf);
    return buf;
}

/* Runs fn with standard output sent to a file; returns what it printed. */
static inline char *capture_stdout(config_status_t (*fn)(const char *), const char *arg,
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

static inline config_status_t run_one(const char *arg) { return try_args(arg, NULL); }

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Loads text as conf/t.ini (named "conf/t.ini" in messages) and expects this error. */
static inline void expect_ini_error(const char *text, const char *want)
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

/* Makes the temporary directory, enters it and lays out the tree the tests use; 1 on failure.
 * cwd receives the directory the test started in (tests/unit, as ctest runs it). */
static inline int config_fixture_setup(char *cwd, size_t cwd_size)
{
    if (!getcwd(cwd, cwd_size))
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
    make_dir("www");
    make_dir("www2");
    make_dir("ext");
    make_dir("bin");
    make_dir("bin/examples");
    make_dir("conf");
    make_dir("conf/sub");
    make_dir("conf/www");
    write_file("conf/handler.so", "not really a shared object\n");
    return 0;
}

/* Leaves the directory (back to cwd), removes it and reports; the test's exit status. */
static inline int config_fixture_teardown(const char *cwd, const char *test_name)
{
    if (chdir(cwd) != 0)
        return 1;
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(errors);
    return check_report(test_name);
}

#endif
