/* Response heads: parsing the header text an extension hands over (SEND_RESPONSE_HEADER[_EX],
 * a raw "HTTP/1.x" head or "Name: value" lines at the start of its first WriteClient) and
 * building the head the server actually sends (the server owns framing: Date, Server,
 * Content-Length / chunked, Connection). */
#ifndef ISAPID_RESPHEAD_H
#define ISAPID_RESPHEAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Most header text (status line and header lines, not the body behind them) accepted from an
 * extension; larger heads are malformed. A caller buffering an incomplete raw head can stop here. */
#define RESPHEAD_MAX_HEAD 65536

/* Header lines up to this many bytes (with their NUL) live inside the object: a short head
 * costs no allocation. */
#define RESPHEAD_INLINE_LINES 256

/* Lives where its user declares it (on the stack, inside an operation's state); lines may point
 * into the object itself, so a copy made by value neither owns nor may use them. */
typedef struct resphead {
    unsigned status;            /* 100..999 */
    bool has_server;            /* the extension set Server: (kept in lines; builder adds none) */
    bool has_date;              /* the extension set Date: (kept in lines; builder adds none) */
    bool has_content_length;
    bool chunked;               /* the extension declared Transfer-Encoding: chunked and frames the
                                 * body itself; has_content_length is then false (chunked wins) */
    bool conn_close;            /* the extension asked for Connection: close */
    uint64_t content_length;
    size_t consumed;            /* bytes of the input that formed the head, incl. the blank line;
                                 * what follows is body */
    char *lines;                /* header lines, each "Name: value\r\n", in order, minus the
                                 * ones the server owns: Connection, Keep-Alive, and
                                 * Transfer-Encoding / Content-Length (recorded above instead);
                                 * NULL or NUL-terminated; inline_lines or malloc'ed (owned,
                                 * resphead_free) */
    size_t lines_len;
    size_t lines_cap;           /* bytes lines has room for, its NUL included; 0 for lines a
                                 * caller malloc'ed and set itself (then grown by realloc) */
    char reason[128];           /* reason phrase; default from http_status_reason() */
    char inline_lines[RESPHEAD_INLINE_LINES];
} resphead_t;

/* Status text as extensions pass it: "200 OK", "404", "302 Moved Temporarily", "HTTP/1.1 200 OK",
 * NULL or "" → 200. Leading/trailing blanks (and CR/LF) ignored; a NUL inside len ends the text.
 * Initialises h (as resphead_init: do not call on an h holding lines), then sets status and
 * reason; a missing reason comes from http_status_reason(). A code that is not three digits in
 * 100..999, or a reason with control characters (a CR/LF inside it) → -1, h left at 200 "OK".
 * Reasons longer than the field are truncated. 0 ok, -1 malformed. */
int resphead_parse_status(resphead_t *h, const char *status, size_t len);

/* Header lines: zero or more lines terminated by CRLF or bare LF, ended by an empty line or by
 * the end of the text (then consumed = len: no body). A final NUL inside len ends the text (cch
 * values that count the NUL). Header names in any case. A line without ':' or with an invalid
 * name → -1. Bytes after the empty line are body: consumed tells where they start (for a
 * C-string argument such as SEND_RESPONSE_HEADER's, the body also ends at the string's NUL).
 * Malformed, also → -1: a control character in a value (a lone CR: header injection), a
 * folded continuation line, Content-Length not a number or conflicting with another one,
 * Transfer-Encoding other than "chunked" ("identity" is ignored), more than RESPHEAD_MAX_HEAD
 * bytes before the empty line. Values are stored trimmed, names as given.
 * Appends to h->lines (call resphead_parse_status first or resphead_init). 0 ok, -1 malformed:
 * h is then unchanged. */
int resphead_parse_lines(resphead_t *h, const char *text, size_t len);

/* A raw head "HTTP/1.x NNN reason\r\n" + lines + empty line. Returns 0 and fills h (consumed =
 * head length), 1 when text starts like a raw head but the empty line has not arrived yet,
 * -1 when it is not a raw head at all / malformed (also a NUL inside the head, or a head longer
 * than RESPHEAD_MAX_HEAD). Initialises h first; on 1 and -1 h holds no lines. */
int resphead_parse_raw(resphead_t *h, const char *text, size_t len);

/* "Name: value" lines ended by an empty line at the start of body text, as old extensions write
 * them in the first WriteClient: true when text starts with a valid header line and every line
 * up to an empty line is one resphead_parse_lines accepts (a NUL before it: false). Callers
 * then use resphead_parse_lines. */
bool resphead_looks_like_headers(const char *text, size_t len);

/* The last status and header text one caller parsed, and the head they made: extensions send
 * the same few heads (static strings) again and again, and a parsed head is a function of its
 * text alone. Lives where its user declares it (one per thread: no lock); zero-initialised it
 * holds nothing. Only heads whose text fits key and whose lines fit inline are kept. */
#define RESPHEAD_MEMO_KEY 256
typedef struct resphead_memo {
    bool valid;
    bool has_text;              /* the text was not NULL */
    size_t status_len;          /* key: status_len bytes of status, then text_len of text */
    size_t text_len;
    size_t reason_len;          /* of head.reason */
    uint64_t gen;               /* heads kept so far: the kept head's tag (resphead_build_memo) */
    char key[RESPHEAD_MEMO_KEY];
    resphead_t head;            /* lines, if any, in head.inline_lines */
} resphead_memo_t;

/* resphead_parse_status(h, status, status_len), then, unless text is NULL,
 * resphead_parse_lines(h, text, text_len): the same result, 0 or -1, the same h, answered from
 * memo when its key is these bytes, and a success remembered there. status NULL is "". */
int resphead_parse_memo(resphead_memo_t *memo, resphead_t *h, const char *status,
                        size_t status_len, const char *text, size_t text_len);
/* The head memo holds for these bytes (what resphead_parse_memo would copy out), or NULL. To be
 * read, not changed or freed; it stays that head, tagged memo->gen, until memo is next used. */
const resphead_t *resphead_memo_find(const resphead_memo_t *memo, const char *status,
                                     size_t status_len, const char *text, size_t text_len);

void resphead_init(resphead_t *h);       /* status 200 "OK", no lines */
/* Status with its default reason phrase (http_status_reason). */
void resphead_set_status(resphead_t *h, unsigned status);
void resphead_free(resphead_t *h);
/* Append one header line (name, value without CRLF) to h->lines, with the same rules as a
 * parsed line: server-owned names set the fields instead, the value is trimmed. 0, or -1 with
 * errno EINVAL (name not a token, control character such as CR/LF in the value, a conflicting
 * Content-Length) or ENOMEM; h is then unchanged. */
int resphead_add(resphead_t *h, const char *name, const char *value);

/* Append lines the server made itself, len bytes of "Name: value\r\n" lines none of which is
 * server-owned (not checked: never an extension's text), as resphead_add would store them. 0, or
 * -1 with errno ENOMEM, or EINVAL past RESPHEAD_MAX_HEAD; h is then unchanged. */
int resphead_add_own_lines(resphead_t *h, const char *lines, size_t len);

typedef enum {
    FRAME_LENGTH,    /* Content-Length: h->content_length (written by the builder) */
    FRAME_CHUNKED,   /* the server chunks the body: Transfer-Encoding: chunked */
    FRAME_PASSTHRU,  /* the extension frames (its own Transfer-Encoding: chunked is written back) */
    FRAME_CLOSE,     /* body ends when the connection closes (HTTP/1.0 with unknown length) */
    FRAME_NONE,      /* no body by definition (1xx, 204, 304, or HEAD with unknown length) */
} resp_framing_t;

/* Build the head the server sends into a malloc'ed buffer (*out, *out_len):
 * "HTTP/1.<minor> status reason\r\n", "Date: <now>\r\n" unless h has_date,
 * "Server: <server>\r\n" unless h has_server (or server is NULL or ""), h->lines, the framing line, "Connection: close\r\n"
 * when !keep_alive (or "Connection: keep-alive\r\n" for an HTTP/1.0 client when keep_alive),
 * then "\r\n". http_minor above 1 is answered as 1.
 * Framing line: FRAME_LENGTH "Content-Length: <h->content_length>" (also for HEAD), FRAME_CHUNKED
 * and FRAME_PASSTHRU "Transfer-Encoding: chunked" (HTTP/1.1 only: the caller never picks them
 * for an HTTP/1.0 client), none for FRAME_CLOSE and FRAME_NONE, and none at all for 1xx, 204
 * and 304 whatever framing says.
 * The connection is announced as closing, whatever keep_alive says, when h->conn_close or
 * framing is FRAME_CLOSE: the caller must then close it after the response.
 * Control characters in h->reason are sent as spaces; an empty reason is http_status_reason().
 * 0, or -1 with errno ENOMEM, or EINVAL for a status outside 100..999. */
int resphead_build(const resphead_t *h, unsigned http_minor, resp_framing_t framing,
                   bool keep_alive, const char *server, char **out, size_t *out_len);

/* The last head one caller built, and what it was built from (every input of resphead_build,
 * the Date second among them): the responses of one extension route mostly share their head
 * to the byte. Lives where its user declares it (one per thread: no lock); zero-initialised it
 * holds nothing. Only heads that fit head are kept. */
#define RESPHEAD_BUILD_MEMO_HEAD 512
typedef struct resphead_build_memo {
    bool valid;
    atomic_bool held;           /* set by the user while a head it took in place (below) is in
                                 * use, by any thread: the memo is then read, never replaced */
    /* key: h's fields and lines, the other arguments, and the second the Date was taken in */
    unsigned status;
    bool has_server, has_date, has_content_length, chunked, conn_close, keep_alive;
    unsigned minor;
    resp_framing_t framing;
    uint64_t content_length;
    time_t date_sec;
    size_t reason_len, lines_len;
    uint64_t tag;               /* the parse memo's tag of the head it was built from, or 0 */
    const char *server;
    char reason[128];
    char lines[RESPHEAD_INLINE_LINES];
    size_t head_len;
    char head[RESPHEAD_BUILD_MEMO_HEAD];
} resphead_build_memo_t;

/* resphead_build, the same result, with the head copied from memo when every input is the one
 * memo was built from (and a head built remembered there). server is told by its address: a
 * string that does not change (the server's own name, fixed for its life). tag: 0, or the tag
 * one parse memo (always the same one) gave h (resphead_memo_find), h being that head
 * unchanged: it is then told by its tag, without a look at its fields. */
int resphead_build_memo(resphead_build_memo_t *memo, const resphead_t *h, uint64_t tag,
                        unsigned http_minor, resp_framing_t framing, bool keep_alive,
                        const char *server, char **out, size_t *out_len);
/* The same head left in memo: 0 with *out = memo->head (NUL-terminated) when memo is not held
 * and the head is or can be kept there (the caller then sets memo->held while it uses it); 1
 * with *out a malloc'ed head of the caller's otherwise; -1 as resphead_build. */
int resphead_build_memo_in_place(resphead_build_memo_t *memo, const resphead_t *h,
                                 uint64_t tag, unsigned http_minor, resp_framing_t framing, bool keep_alive,
                                 const char *server, char **out, size_t *out_len);

/* A whole response in one malloc'ed buffer (*out, *len): the head resphead_build makes of the
 * same arguments (*head_len bytes), then body_len bytes of body unless body is NULL. The
 * caller decides the framing and whether a body goes (not for HEAD, 1xx, 204, 304): the loop's
 * own responses (src/http/conn_out.c) and those the ISAPI host makes for an extension that sent
 * none (src/isapi/isapi.c). 0, or -1 with errno as resphead_build. */
int resphead_build_response(const resphead_t *h, unsigned http_minor, resp_framing_t framing,
                            bool keep_alive, const char *server, const char *body,
                            size_t body_len, char **out, size_t *head_len, size_t *len);

#endif
