/* Configuration values, the primitives (src/config_internal.h): paths made absolute against a
 * source's base and tracked as given for messages (track_t), and the number formats every
 * setting shares: sizes, durations, bounded counts. Pure functions of their arguments and the
 * source_t; errors through config_fail(). The lists and the per-setting dispatch are
 * src/config_values.c. */
#define _GNU_SOURCE
#include "config_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- paths ---- */

/* Resolves ".", ".." and repeated '/' in an absolute path, in place; no trailing '/' unless the
 * result is "/". Lexical only: used for paths that do not exist (yet). */
static void normalize_lexically(char *p)
{
    size_t out = 0;
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        const char *seg = s;
        while (*s && *s != '/')
            s++;
        size_t len = (size_t)(s - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > 0 && p[out - 1] != '/')
                out--;
            if (out > 0)
                out--;
            continue;
        }
        p[out++] = '/';
        memmove(p + out, seg, len); /* out <= seg - p: never overtakes the input */
        out += len;
    }
    if (out == 0)
        p[out++] = '/';
    p[out] = '\0';
}

/* Absolute form of path: realpath() when it exists, else base/path resolved lexically. NULL with
 * errno set (ENOMEM; ENOENT when path is relative and base is NULL). */
char *config_make_absolute(const char *base, const char *path)
{
    char *joined;
    if (path[0] == '/') {
        joined = strdup(path);
    } else {
        if (!base) {
            errno = ENOENT;
            return NULL;
        }
        if (asprintf(&joined, "%s/%s", base, path) < 0)
            joined = NULL;
    }
    if (!joined) {
        errno = ENOMEM;
        return NULL;
    }
    char *real = realpath(joined, NULL);
    if (real) {
        free(joined);
        return real;
    }
    normalize_lexically(joined);
    return joined;
}

bool config_is_dir(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Resolves a path value against the source's base directory; NULL after reporting an error. */
char *config_resolve(source_t *src, const char *value, const char *origin)
{
    if (!*value) {
        config_fail(src, "%s: empty path", origin);
        return NULL;
    }
    char *abs = config_make_absolute(src->base, value);
    if (!abs) {
        if (errno == ENOENT)
            config_fail(src, "%s: cannot resolve a relative path: the working directory is unknown",
                        origin);
        else
            config_fail_oom(src);
    }
    return abs;
}

/* The origin to remember for the final checks: with the resolved path when it differs. */
char *config_track_text(const char *origin, const char *value, const char *abs)
{
    char *t;
    int rc =
        strcmp(value, abs) == 0 ? asprintf(&t, "%s", origin) : asprintf(&t, "%s (%s)", origin, abs);
    return rc < 0 ? NULL : t;
}

/* Stores text as entry i of a track array, growing it with NULLs (defaults) as needed. */
int config_track_put(char ***arr, size_t *n, size_t i, char *text)
{
    if (i >= *n) {
        char **grown = realloc(*arr, (i + 1) * sizeof *grown);
        if (!grown) {
            free(text);
            return -1;
        }
        for (size_t k = *n; k <= i; k++)
            grown[k] = NULL;
        *arr = grown;
        *n = i + 1;
    }
    free((*arr)[i]);
    (*arr)[i] = text;
    return 0;
}

void config_track_clear(char ***arr, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*arr)[i]);
    free(*arr);
    *arr = NULL;
    *n = 0;
}

void config_track_free(track_t *t)
{
    free(t->root);
    t->root = NULL;
    config_track_clear(&t->scripts, &t->n_scripts);
    config_track_clear(&t->maps, &t->n_maps);
    config_track_clear(&t->filters, &t->n_filters);
}

/* ---- numbers ---- */

/* Decimal digits only: no sign, no spaces, no base prefix. *end is set past the digits.
 * 0, -1 = not a number, -2 = does not fit in 64 bits. */
static int parse_digits(const char *s, uint64_t *out, const char **end)
{
    if (*s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    *out = v;
    *end = s;
    return 0;
}

/* N, Nk, Nm, Ng (either case; 1024 multiples). 0, -1 = malformed, -2 = over max. */
int config_parse_size(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v;
    const char *end;
    int rc = parse_digits(s, &v, &end);
    if (rc < 0)
        return rc == -2 ? -2 : -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        return -1;
    }
    if (*end && end[1])
        return -1;
    if (v > (max >> shift))
        return -2;
    *out = v << shift;
    return 0;
}

/* N (milliseconds), Nms, Ns. 0, -1 = malformed, -2 = over UINT32_MAX ms. */
int config_parse_ms(const char *s, uint32_t *out)
{
    uint64_t v;
    const char *end;
    int rc = parse_digits(s, &v, &end);
    if (rc < 0)
        return rc;
    if (strcmp(end, "s") == 0) {
        if (v > UINT32_MAX / 1000)
            return -2;
        v *= 1000;
    } else if (*end && strcmp(end, "ms") != 0) {
        return -1;
    }
    if (v > UINT32_MAX)
        return -2;
    *out = (uint32_t)v;
    return 0;
}

/* A plain decimal number up to max. 0, -1 = malformed, -2 = over max. */
int config_parse_uint(const char *s, unsigned max, unsigned *out)
{
    uint64_t v;
    const char *end;
    int rc = parse_digits(s, &v, &end);
    if (rc < 0)
        return rc;
    if (*end)
        return -1;
    if (v > max)
        return -2;
    *out = (unsigned)v;
    return 0;
}
