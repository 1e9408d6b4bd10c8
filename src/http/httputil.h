/* Small HTTP helpers: dates, entity tags, byte ranges, status reasons (pure functions). */
#ifndef ISAPID_HTTPUTIL_H
#define ISAPID_HTTPUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* IMF-fixdate, out must hold HTTP_DATE_LEN + 1. Returns HTTP_DATE_LEN. */
size_t http_date_format(time_t t, char *out);

/* The last date one caller formatted, kept for the next call with the same time (the Date of
 * this second, a busy file's Last-Modified). Zero-initialised is empty; one thread's (make it
 * _Thread_local). */
typedef struct http_date_memo {
    bool valid;
    time_t t;
    char text[HTTP_DATE_LEN + 1];
} http_date_memo_t;
/* The IMF-fixdate of t, formatted only when t is not the memo's (inline: once per response). */
static inline const char *http_date_memo(http_date_memo_t *m, time_t t)
{
    if (!m->valid || m->t != t) {
        http_date_format(t, m->text);
        m->t = t;
        m->valid = true;
    }
    return m->text;
}
/* Accepts IMF-fixdate, RFC 850 and asctime forms. 0 ok, -1 malformed. */
int http_date_parse(const char *s, time_t *out);

/* Strong validator from the file's identity: "\"<mtime-seconds hex>-<size hex>\"" including the
 * double quotes. Returns the length; out should hold 48 bytes. */
size_t http_etag_format(const struct stat *st, char *out, size_t out_size);
/* If-None-Match semantics (weak comparison): "*" matches anything; otherwise a comma-separated
 * list of entity tags, any of which (ignoring a W/ prefix on either side) equals etag. */
bool http_etag_match_list(const char *header_value, const char *etag);
/* If-Match semantics (strong comparison): "*" matches anything; otherwise a listed tag matches
 * only when neither it nor etag is weak (W/) and they are equal. */
bool http_etag_match_list_strong(const char *header_value, const char *etag);

typedef enum {
    RANGE_NONE = 0,      /* no Range, not a bytes range, several ranges, or malformed: send 200 */
    RANGE_OK = 1,        /* one satisfiable range: send 206 with *start, *length */
    RANGE_UNSATISFIABLE = 2 /* send 416 with Content-Range: bytes * / size */
} range_result_t;

/* Single byte range: "bytes=A-B", "bytes=A-", "bytes=-N" (suffix). B past the end is clipped.
 * A >= size → RANGE_UNSATISFIABLE. "bytes=-0" → RANGE_UNSATISFIABLE. */
range_result_t http_range_parse(const char *header_value, uint64_t size, uint64_t *start,
                                uint64_t *length);

/* RFC 9110 token characters (header names, methods): a lookup table, since the check runs for
 * every byte of every header name. */
extern const unsigned char http_tchar_table[256];
static inline bool http_is_tchar(unsigned char c) { return http_tchar_table[c] != 0; }

/* "00" to "99" in a row, two bytes a number (2 * v is v's): decimal text two digits a step. */
extern const char http_digit_pairs[201];

/* 'A'..'Z' to 'a'..'z', every other byte as it is: ASCII only, on purpose (header names are
 * tokens, and the C library's tolower follows the process locale, which an extension may
 * change). */
static inline unsigned char http_ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* strcasecmp and strncasecmp by http_ascii_lower: the server's case-insensitive comparisons of
 * protocol text (header names and values, URL schemes, file suffixes, MIME extensions) do not
 * follow the process locale (in a Turkish single-byte locale the C library's would not take
 * "TRANSFER-ENCODING" for "transfer-encoding"). Same results as theirs in the C locale. */
int http_ascii_casecmp(const char *a, const char *b);
int http_ascii_ncasecmp(const char *a, const char *b, size_t n);

/* RFC 9112 §2.2: empty lines (CRLF) before a request line may be skipped, nothing else. The
 * offset of the first byte after them in buf[0, len), or -1 when a bare CR or LF comes first
 * (the parser would skip it too, and a front end may frame such bytes differently). */
long http_skip_empty_lines(const char *buf, size_t len);

/* The length of the method token at p when it is followed by SP or ends with the bytes there
 * are (the rest of the request line not received yet): a method, if an unknown one (501).
 * 0 when the bytes cannot start a request line (400). */
size_t http_method_token(const char *p, size_t len);

/* The small HTML page of an error or redirect response ("<h1>404 Not Found</h1>" ...) into buf;
 * returns its length (truncated to size - 1). */
size_t http_error_body(unsigned status, char *buf, size_t size);

/* Reason phrase for a status code ("Not Found"); "Unknown" for codes it does not know. */
const char *http_status_reason(unsigned status);

#endif
