/* Content-Type table: an open-addressing hash table (linear probing, at most half full) keyed by
 * the lower-cased extension. Keys and types live in one string pool addressed by offsets, so
 * growing the pool never invalidates a slot; offset 0 is a dummy byte meaning "empty slot". */
#include "mime.h"
#include "httputil.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIME_DEFAULT "application/octet-stream"
#define MIME_EXT_MAX 31          /* longer extensions are ignored in the file and at lookup */
#define MIME_TYPE_MAX 127        /* longer types are skipped (keeps response heads bounded) */
#define MIME_POOL_LIMIT (8u << 20) /* stop reading a mime.types that would need more */

typedef struct mime_slot {
    uint32_t ext;   /* pool offset of the lower-case extension; 0 = empty */
    uint32_t type;  /* pool offset of the type */
    uint32_t hash;
} mime_slot_t;

struct mime_table {
    mime_slot_t *slots;
    size_t cap;      /* power of two */
    size_t count;
    char *pool;
    size_t pool_len;
    size_t pool_cap;
};

static const char *const builtin[][2] = {
    {"html", "text/html"},          {"htm", "text/html"},
    {"css", "text/css"},            {"js", "application/javascript"},
    {"mjs", "application/javascript"}, {"json", "application/json"},
    {"txt", "text/plain"},          {"xml", "application/xml"},
    {"csv", "text/csv"},            {"md", "text/markdown"},
    {"svg", "image/svg+xml"},       {"png", "image/png"},
    {"jpg", "image/jpeg"},          {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},           {"webp", "image/webp"},
    {"avif", "image/avif"},         {"ico", "image/x-icon"},
    {"bmp", "image/bmp"},           {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},   {"woff", "font/woff"},
    {"woff2", "font/woff2"},        {"ttf", "font/ttf"},
    {"otf", "font/otf"},            {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},           {"wav", "audio/wav"},
    {"mp4", "video/mp4"},           {"webm", "video/webm"},
    {"zip", "application/zip"},     {"gz", "application/gzip"},
    {"tar", "application/x-tar"},   {"map", "application/json"},
};

static uint32_t hash_ext(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint32_t)tolower((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

/* Copies s[0..n) plus a NUL into the pool, lower-cased if asked. 0 on failure. */
static uint32_t pool_add(mime_table_t *t, const char *s, size_t n, bool lower)
{
    if (t->pool_len + n + 1 > MIME_POOL_LIMIT)
        return 0;
    if (t->pool_len + n + 1 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap : 1024;
        while (cap < t->pool_len + n + 1)
            cap *= 2;
        char *p = realloc(t->pool, cap);
        if (p == NULL)
            return 0;
        t->pool = p;
        t->pool_cap = cap;
    }
    uint32_t off = (uint32_t)t->pool_len;
    for (size_t i = 0; i < n; i++)
        t->pool[off + i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
    t->pool[off + n] = '\0';
    t->pool_len += n + 1;
    return off;
}

static const mime_slot_t *find(const mime_table_t *t, const char *ext, size_t n, uint32_t h)
{
    size_t mask = t->cap - 1;
    for (size_t i = h & mask, probes = 0; probes < t->cap; i = (i + 1) & mask, probes++) {
        const mime_slot_t *s = &t->slots[i];
        if (s->ext == 0)
            return NULL;
        const char *k = t->pool + s->ext;
        if (s->hash == h && http_ascii_ncasecmp(k, ext, n) == 0 && k[n] == '\0')
            return s;
    }
    return NULL;
}

static void place(mime_slot_t *slots, size_t cap, mime_slot_t s)
{
    size_t mask = cap - 1, i = s.hash & mask;
    while (slots[i].ext != 0)
        i = (i + 1) & mask;
    slots[i] = s;
}

static int grow(mime_table_t *t)
{
    size_t cap = t->cap * 2;
    mime_slot_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].ext != 0)
            place(slots, cap, t->slots[i]);
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* Insert unless the extension is already known (first definition wins). type_off 0 means
 * "add type[0..type_len) to the pool first" and is updated, so one line's type is stored once.
 * 0 ok (also when skipped), -1 out of memory or pool limit. */
static int insert(mime_table_t *t, const char *ext, size_t n, const char *type, size_t type_len,
                  uint32_t *type_off)
{
    uint32_t h = hash_ext(ext, n);
    if (find(t, ext, n, h) != NULL)
        return 0;
    if ((t->count + 1) * 2 > t->cap && grow(t) != 0)
        return -1;
    if (*type_off == 0 && (*type_off = pool_add(t, type, type_len, false)) == 0)
        return -1;
    uint32_t ext_off = pool_add(t, ext, n, true);
    if (ext_off == 0)
        return -1;
    place(t->slots, t->cap, (mime_slot_t){.ext = ext_off, .type = *type_off, .hash = h});
    t->count++;
    return 0;
}

static bool type_char(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~/", c) != NULL;
}

static bool valid_type(const char *s, size_t n)
{
    if (n == 0 || n > MIME_TYPE_MAX || memchr(s, '/', n) == NULL || s[0] == '/' || s[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!type_char((unsigned char)s[i]))
            return false;
    }
    return true;
}

static bool valid_ext(const char *s, size_t n)
{
    if (n == 0 || n > MIME_EXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == '.' || c == '/')
            return false;
    }
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* One mime.types line. -1 only when memory runs out. */
static int parse_line(mime_table_t *t, char *line)
{
    char *hash = strchr(line, '#');
    if (hash != NULL)
        *hash = '\0';
    char *p = line;
    while (is_blank(*p))
        p++;
    const char *type = p;
    while (*p != '\0' && !is_blank(*p))
        p++;
    size_t type_len = (size_t)(p - type);
    if (!valid_type(type, type_len))
        return 0;
    uint32_t type_off = 0;
    for (;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0')
            return 0;
        const char *ext = p;
        while (*p != '\0' && !is_blank(*p))
            p++;
        size_t n = (size_t)(p - ext);
        if (valid_ext(ext, n) && insert(t, ext, n, type, type_len, &type_off) != 0)
            return -1;
    }
}

static void load_file(mime_table_t *t, const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        if (parse_line(t, line) != 0)
            break; /* out of memory or absurd file: keep what was read, built-ins still go in */
    }
    free(line);
    fclose(f);
}

mime_table_t *mime_load(const char *path)
{
    mime_table_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->cap = 256;
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (t->slots != NULL)
        (void)pool_add(t, "", 0, false); /* the dummy at offset 0 */
    if (t->slots == NULL || t->pool_len != 1) {
        mime_free(t);
        return NULL;
    }
    if (path != NULL)
        load_file(t, path);
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        uint32_t type_off = 0;
        if (insert(t, builtin[i][0], strlen(builtin[i][0]), builtin[i][1], strlen(builtin[i][1]),
                   &type_off) != 0) {
            mime_free(t);
            return NULL;
        }
    }
    return t;
}

const char *mime_lookup(const mime_table_t *t, const char *filename)
{
    if (t == NULL || filename == NULL)
        return MIME_DEFAULT;
    const char *base = strrchr(filename, '/');
    base = base ? base + 1 : filename;
    const char *dot = strrchr(base, '.');
    if (dot == NULL || dot == base)
        return MIME_DEFAULT;
    const char *ext = dot + 1;
    size_t n = strlen(ext);
    if (n == 0 || n > MIME_EXT_MAX)
        return MIME_DEFAULT;
    const mime_slot_t *s = find(t, ext, n, hash_ext(ext, n));
    return s ? t->pool + s->type : MIME_DEFAULT;
}

void mime_free(mime_table_t *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t->pool);
    free(t);
}
