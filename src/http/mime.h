/* Content-Type by file extension: /etc/mime.types when readable, plus a built-in table
 * for the common web types (used when the file is missing and for types it lacks).
 *
 * Types are returned exactly as the table has them, WITHOUT a charset parameter: text/html,
 * not "text/html; charset=utf-8". The server does not know how a file is encoded, so it does
 * not claim one. Where /etc/mime.types and the built-in table disagree, the file wins (so on
 * Debian .js is "text/javascript"); within the file, the first line naming an extension wins.
 *
 * The table is immutable after mime_load, so lookups may run on any number of threads. */
#ifndef ISAPID_MIME_H
#define ISAPID_MIME_H

typedef struct mime_table mime_table_t;

/* path NULL or unreadable → built-in table only. Never returns NULL except on ENOMEM.
 * File format: one type per line followed by its extensions (without the dot), separated by
 * blanks; '#' starts a comment; malformed lines are skipped. */
mime_table_t *mime_load(const char *path);
/* Type for a file name (a path is fine: only its last segment counts), extension (after the
 * last '.') compared case-insensitively, returned as the table has it. Unknown or no extension
 * (also a name whose only '.' is its first character) → "application/octet-stream".
 * The string lives as long as the table. t NULL → "application/octet-stream". */
const char *mime_lookup(const mime_table_t *t, const char *filename);
void mime_free(mime_table_t *t);

#endif
