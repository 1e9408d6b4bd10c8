/* URL path decoding and normalisation (pure functions, no file system access). */
#ifndef ISAPID_PATH_H
#define ISAPID_PATH_H

#include <stddef.h>

typedef enum {
    PATH_OK = 0,
    PATH_BAD = -1,       /* malformed: bad %-escape, does not start with '/', invalid UTF-8
                          * (overlong forms, surrogates, stray bytes), too long → 400 */
    PATH_FORBIDDEN = -2, /* encoded '/' (%2F), NUL (%00) or another control byte, a backslash
                          * (raw or %5C), or '..' climbing above '/' → 403 */
} path_status_t;

/* Decode the path part of a request target (raw[0..len), stopping at '?' or '#') into out:
 * percent-decoding, collapsing "//", removing "." segments, resolving ".." segments (also when
 * they were written %2e%2e), keeping a trailing '/' when the input had one. The result starts
 * with '/' and is NUL-terminated. An absolute-form target ("http://host/path") is reduced to its
 * path first. out_size: len + 1 always suffices. The result itself may be shorter than the room
 * it needs, since ".." segments are written before they are resolved ("/a/../b" needs 5 bytes
 * to give "/b"); output that does not fit is PATH_BAD. On any error out holds "" (when out_size > 0).
 *
 * Only a literal '/' separates segments: a decoded "%2F" could never be told apart from one in
 * a file name, so it is refused. Backslashes are refused because extensions written for Windows
 * treat them as separators. The decoded path must be valid UTF-8 (RFC 3629), so "%c0%ae" is not
 * a disguised '.' for anyone downstream. A trailing "." or ".." segment leaves a trailing '/'
 * ("/a/b/.." → "/a/"), as RFC 3986 remove_dot_segments does. Reads exactly raw[0..len). */
path_status_t path_normalize(const char *raw, size_t len, char *out, size_t out_size);

/* True if any segment of the normalised path starts with '.' (dotfiles, ".git", ...). */
int path_has_dot_segment(const char *path);

/* Case-insensitive "does s end with suffix". */
int path_ends_with_ci(const char *s, const char *suffix);

/* dir + "/" + rel into out (n bytes), with exactly one '/' between them whatever slashes dir
 * ends with or rel starts with; rel "" gives dir unchanged. 0, or -ENAMETOOLONG when the result
 * and its NUL do not fit (out then holds ""). */
int path_join(const char *dir, const char *rel, char *out, size_t n);

#endif
