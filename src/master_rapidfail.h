/* Rapid-fail protection's bookkeeping in the master (src/master.h): crashes counted per
 * extension file, and the extensions disabled for it. The master owns one rapidfail_t; it
 * outlives every worker. Single-threaded (the master's loop). */
#ifndef ISAPID_MASTER_RAPIDFAIL_H
#define ISAPID_MASTER_RAPIDFAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "extension.h"

/* One extension file's crashes: the times of the last `limit` of them (a ring). */
typedef struct rapidfail_entry {
    struct rapidfail_entry *next;
    char *path;
    ext_file_id_t id;       /* the file the count is for: another file starts a new count */
    uint64_t *at;
    unsigned slots, head;
    bool disabled;
} rapidfail_entry_t;

typedef struct rapidfail {
    rapidfail_entry_t *entries;
} rapidfail_t;

/* The identity of the file at path now (all zero when it cannot be looked at). */
void rapidfail_file_id(const char *path, ext_file_id_t *id);
/* Counts a crash of the extension at path at now_ms, for the file it is now. Returns the
 * crashes within window_ms, this one included; *newly_disabled is the entry when this crash
 * reached limit (0 = never) and disabled it, else NULL. Out of memory: logged, counts 1. */
unsigned rapidfail_count(rapidfail_t *t, const char *path, unsigned limit, uint32_t window_ms,
                         uint64_t now_ms, rapidfail_entry_t **newly_disabled);
/* Forgets every count and every disabled extension (a reload; the limit may change only
 * then). */
void rapidfail_clear(rapidfail_t *t);

#endif
