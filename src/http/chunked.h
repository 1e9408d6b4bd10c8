/* Strict decoder for the chunked transfer coding of request bodies (RFC 9112 §7.1).
 * Pure state machine, no allocation: input can arrive in pieces of any size.
 * Strict where laxness enables request smuggling: every line ends in CRLF (a bare LF or CR is
 * an error), the CRLF after chunk data is checked, sizes are bounded, chunk extensions and
 * trailer lines are skipped but bounded in length. */
#ifndef ISAPID_CHUNKED_H
#define ISAPID_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHUNKED_MAX_LINE 4096      /* chunk-size line including extensions */
#define CHUNKED_MAX_TRAILERS 8192  /* all trailer lines together */

typedef struct chunked_decoder {
    uint8_t state;
    uint8_t digits;       /* hex digits of the current size */
    uint64_t left;        /* size being parsed, then data bytes left in the chunk */
    uint32_t line_len;    /* bytes of the current size line */
    uint32_t trailer_len; /* bytes of trailer section so far */
} chunked_decoder_t;

typedef enum {
    CHUNKED_MORE = 0,   /* consumed what it could; give more input or more output room */
    CHUNKED_DONE = 1,   /* the last chunk and the trailer section are complete */
    CHUNKED_ERROR = -1, /* malformed: the body's framing is lost (400, close) */
} chunked_status_t;

void chunked_init(chunked_decoder_t *d);

/* Decode from in[0..in_len) into out (up to out_cap data bytes; out NULL = count and drop).
 * Stops at the end of the input, when out is full, or at the end of the body (bytes after it
 * are not consumed: they belong to the next request). *consumed and *produced say how much. */
chunked_status_t chunked_decode(chunked_decoder_t *d, const char *in, size_t in_len, char *out,
                                size_t out_cap, size_t *consumed, size_t *produced);

/* Whether the last chunk and the trailer section have been decoded (CHUNKED_DONE). */
bool chunked_finished(const chunked_decoder_t *d);

#endif
