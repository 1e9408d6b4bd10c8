/* Private to the configuration code (config.c, config_values.c, config_parse.c): the option table's types, the
 * per-source parsing state and the functions the two files share. Not for use elsewhere.
 *
 * config.c owns the option table (opts[]), error reporting, the INI reader, the command line,
 * the final checks and defaults; config_values.c owns the parsing and storing of one setting's
 * value (paths, numbers, listen addresses, the repeatable lists). A source_t lives on the stack
 * of load_file() or apply_cli(), a track_t (owned strings) on that of config_load_file() or
 * config_parse_args(), which free it with config_track_free(). Nothing here is global. */
#ifndef ISAPID_CONFIG_INTERNAL_H
#define ISAPID_CONFIG_INTERNAL_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DEFAULT_WORKERS_MIN 4u
#define DEFAULT_WORKERS_MAX 64u
#define DEFAULT_COMPLETION_WORKERS_MIN 2u
#define DEFAULT_COMPLETION_WORKERS_MAX 32u
#define DEFAULT_EXTENSION_SHARE 75u

enum kind {
    K_CONFIG,
    K_HELP,
    K_VERSION,
    K_TEST_CONFIG,
    K_LISTEN,
    K_ROOT,
    K_SCRIPTS,
    K_MAP,
    K_THREADS,
    K_WORKERS,
    K_COMPLETION_WORKERS,
    K_PERCENT, /* unsigned percentage 1-100 at off */
    K_ACCESS_LOG,
    K_SERVER_NAME,
    K_SEND_URL,
    K_SEND_URL_REDIRECT,
    K_RUN_EXTENSIONS,
    K_FOLLOW_SCRIPT_SYMLINKS, /* a flag on the command line, yes/no in the file */
    K_SIZE32, /* uint32_t at off, k/m/g suffixes */
    K_SIZE64, /* uint64_t at off, k/m/g suffixes */
    K_MS,     /* uint32_t milliseconds at off, ms/s suffixes */
    K_RATE,   /* uint32_t bytes per second at off, k/m/g suffixes */
    K_TRUST_PROXY, /* repeatable CIDR */
    K_REUSE_PORT,  /* a flag on the command line, yes/no in the file */
    K_STATUS,       /* the status page's path; empty = off */
    K_STATUS_ALLOW, /* repeatable CIDR */
    K_ERROR_LOG,
    K_LOG_LEVEL,
    K_USER,
    K_PROCESSES,  /* N or auto */
    K_RAPID_FAIL, /* N/SECONDS or off */
    K_COUNT,      /* unsigned at off, 0 = off */
    K_SECONDS,    /* uint32_t seconds at off, 0 = off */
    K_FILTER,     /* repeatable PATH.so; file: every key of [filters] */
    K_ERROR_PAGE, /* repeatable STATUS=/URL */
};

typedef struct opt {
    const char *cli;     /* long option without "--"; NULL = file only */
    const char *section; /* INI section and key; NULL = command line only */
    const char *key;
    enum kind kind;
    size_t off;   /* K_SIZE32, K_SIZE64, K_MS, K_RATE: the field in config_t */
    uint64_t min; /* K_SIZE32, K_SIZE64, K_MS, K_RATE: smallest accepted value */
} opt_t;

/* Number of entries in opts[] (config.c checks it against the table). */
#define N_OPTS 49u

/* Where each path setting came from ("--root www (/home/u/www)", "x.ini:3: root = ../www"), so
 * that the existence checks at the end of config_parse_args can name the option or the file
 * line. scripts[i] / maps[i] describe cfg->scripts[i] / cfg->maps[i]; a NULL entry, or an index
 * past n_*, is a default. Owned strings. */
typedef struct track {
    char *root;
    char **scripts;
    size_t n_scripts;
    char **maps;
    size_t n_maps;
    char **filters; /* filters[i] describes cfg->filters[i] */
    size_t n_filters;
} track_t;

typedef struct source {
    config_t *cfg;
    track_t *track;
    const char *base;     /* absolute directory relative paths resolve against; NULL = unknown */
    const char *file;     /* config file as the user named it; NULL = the command line */
    int line;             /* file: physical line being parsed (1-based) */
    bool replaced_listen; /* this source has already dropped the previous source's list */
    bool replaced_scripts;
    bool replaced_maps;
    bool replaced_filters;
    bool replaced_trust_proxy;
    bool replaced_status_allow;
    bool replaced_error_pages;
    int seen[N_OPTS]; /* file: line where each single-valued key was set, 0 = not yet */
    bool failed;      /* file: the first error is kept and reported after parsing */
    char *error;
    int error_line;
    FILE *fp; /* file reader state */
    char *buf;
    size_t cap;
    int read_errno;
} source_t;

/* config.c: error reporting (see there). */
__attribute__((format(printf, 2, 3))) int config_fail(source_t *src, const char *fmt, ...);
int config_fail_oom(source_t *src);

/* config_parse.c: paths, their tracking for messages, and the number formats (see there). */
char *config_make_absolute(const char *base, const char *path);
bool config_is_dir(const char *path);
void config_track_free(track_t *t);
/* A path value resolved against the source's base directory; NULL after reporting an error. */
char *config_resolve(source_t *src, const char *value, const char *origin);
/* The origin to remember for the final checks: with the resolved path when it differs. */
char *config_track_text(const char *origin, const char *value, const char *abs);
int config_track_put(char ***arr, size_t *n, size_t i, char *text);
void config_track_clear(char ***arr, size_t *n);
/* 0, -1 not a number of the format, -2 over max. */
int config_parse_size(const char *s, uint64_t max, uint64_t *out);
int config_parse_ms(const char *s, uint32_t *out);
int config_parse_uint(const char *s, unsigned max, unsigned *out);

/* config_values.c: lists and one setting (see there). */
void config_clear_scripts(config_t *cfg, track_t *t);
void config_clear_maps(config_t *cfg, track_t *t);
void config_clear_error_pages(config_t *cfg);
int config_add_script(source_t *src, const char *prefix, const char *dir, const char *origin);
int config_add_map(source_t *src, const char *ext, const char *handler, const char *origin);
/* --filter PATH.so / [filters] NAME = PATH.so: appended in order (the load order). */
void config_clear_filters(config_t *cfg, track_t *t);
int config_add_filter(source_t *src, const char *name, const char *path, const char *origin);
int config_set_value(source_t *src, const opt_t *o, const char *value, const char *origin);

#endif
