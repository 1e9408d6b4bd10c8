/* Rapid-fail protection's crash counts (src/master_rapidfail.h). */
#include "master_rapidfail.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

void rapidfail_file_id(const char *path, ext_file_id_t *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (stat(path, &st) == 0)
        *id = (ext_file_id_t){.dev = st.st_dev, .ino = st.st_ino, .mtime = st.st_mtim};
}

static bool file_id_equal(const ext_file_id_t *a, const ext_file_id_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void entry_free(rapidfail_entry_t *e)
{
    free(e->path);
    free(e->at);
    free(e);
}

void rapidfail_clear(rapidfail_t *t)
{
    while (t->entries) {
        rapidfail_entry_t *e = t->entries;
        t->entries = e->next;
        entry_free(e);
    }
}

static rapidfail_entry_t *entry_new(const char *path, unsigned slots)
{
    rapidfail_entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->path = strdup(path);
    e->at = calloc(slots, sizeof *e->at);
    if (!e->path || !e->at) {
        entry_free(e);
        return NULL;
    }
    e->slots = slots;
    return e;
}

unsigned rapidfail_count(rapidfail_t *t, const char *path, unsigned limit, uint32_t window_ms,
                         uint64_t now_ms, rapidfail_entry_t **newly_disabled)
{
    *newly_disabled = NULL;
    ext_file_id_t id;
    rapidfail_file_id(path, &id);
    rapidfail_entry_t *e = t->entries;
    while (e && strcmp(e->path, path) != 0)
        e = e->next;
    if (!e) {
        if (!(e = entry_new(path, limit ? limit : 1))) {
            log_error("rapid-fail protection: out of memory counting a crash of %s", path);
            return 1;
        }
        e->id = id;
        e->next = t->entries;
        t->entries = e;
    } else if (!file_id_equal(&e->id, &id)) {
        e->id = id; /* another file: a count of its own */
        memset(e->at, 0, e->slots * sizeof *e->at);
        e->head = 0;
        e->disabled = false;
    }
    e->at[e->head] = now_ms;
    e->head = (e->head + 1) % e->slots;
    unsigned recent = 0;
    for (unsigned i = 0; i < e->slots; i++)
        recent += e->at[i] != 0 && now_ms - e->at[i] <= window_ms;
    if (limit && recent >= limit && !e->disabled) {
        e->disabled = true;
        *newly_disabled = e;
    }
    return recent;
}
