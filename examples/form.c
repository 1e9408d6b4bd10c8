/* form: an HTML form that posts to itself, and the reading of a request body.
 *
 * GET (or HEAD) returns the form. POST reads the whole body — the bytes the server already
 * read (lpbData, cbAvailable), then ReadClient until cbTotalBytes bytes have arrived, or,
 * when cbTotalBytes is 0xFFFFFFFF (chunked upload, or 4 GiB and more), until ReadClient
 * returns no more data — then decodes an application/x-www-form-urlencoded body and echoes
 * the fields back, HTML-escaped, followed by a line "Received N bytes" with the body size.
 * Only the first KEEP_MAX bytes are kept for decoding; the count covers the whole body.
 *
 * Responses are sent without Content-Length: the server frames them (chunked on HTTP/1.1),
 * so the connection survives without computing a length up front.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags isapi) -o form.so form.c */
#include <windows.h>
#include <httpext.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEEP_MAX (1024u * 1024u)

/* A growing byte buffer; data is NUL-terminated whenever len > 0. */
typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

static BOOL buf_append(buf_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = (char *)realloc(b->data, cap);
        if (data == NULL) {
            SetLastError(ERROR_NOT_ENOUGH_MEMORY);
            return FALSE;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return TRUE;
}

static BOOL buf_puts(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

static BOOL buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static BOOL buf_printf(buf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        SetLastError(ERROR_INSUFFICIENT_BUFFER);
        return FALSE;
    }
    return buf_append(b, tmp, (size_t)n);
}

/* Appends s[0..n) with the five HTML-special characters replaced by entities. */
static BOOL buf_html(buf_t *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *entity;
        switch (s[i]) {
        case '&': entity = "&amp;"; break;
        case '<': entity = "&lt;"; break;
        case '>': entity = "&gt;"; break;
        case '"': entity = "&quot;"; break;
        case '\'': entity = "&#39;"; break;
        default: continue;
        }
        if (!buf_append(b, s + start, i - start) || !buf_puts(b, entity))
            return FALSE;
        start = i + 1;
    }
    return buf_append(b, s + start, n - start);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one urlencoded component in place ('+' is a space, %XX a byte; a malformed
 * escape is kept as it is) and returns the decoded length. */
static size_t url_decode(char *s, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            s[out++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hex_value(s[i + 1]) >= 0 &&
                   hex_value(s[i + 2]) >= 0) {
            s[out++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            s[out++] = s[i];
        }
    }
    return out;
}

/* GetServerVariable into a malloc'd string, growing the buffer as the server asks.
 * NULL on failure, with the last error set. */
static char *get_variable(EXTENSION_CONTROL_BLOCK *ecb, const char *name)
{
    DWORD size = 64;
    char *value = (char *)malloc(size);
    for (;;) {
        if (value == NULL) {
            SetLastError(ERROR_NOT_ENOUGH_MEMORY);
            return NULL;
        }
        DWORD len = size;
        if (ecb->GetServerVariable(ecb->ConnID, (LPSTR)name, value, &len))
            return value;
        if (GetLastError() != ERROR_INSUFFICIENT_BUFFER || len <= size) {
            DWORD err = GetLastError();
            free(value);
            SetLastError(err);
            return NULL;
        }
        size = len;
        char *bigger = (char *)realloc(value, size);
        if (bigger == NULL)
            free(value);
        value = bigger;
    }
}

/* Sends the status and header block, then the body, synchronously. */
static BOOL send_response(EXTENSION_CONTROL_BLOCK *ecb, const char *status, const char *headers,
                          const char *body, size_t body_len)
{
    HSE_SEND_HEADER_EX_INFO header;
    header.pszStatus = status;
    header.cchStatus = (DWORD)strlen(status);
    header.pszHeader = headers;
    header.cchHeader = (DWORD)strlen(headers);
    header.fKeepConn = TRUE; /* safe without a length: the server frames the body */

    ecb->dwHttpStatusCode = (DWORD)atoi(status);
    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &header,
                                    NULL, NULL))
        return FALSE;

    while (body_len > 0) {
        DWORD n = body_len > 0x40000000u ? 0x40000000u : (DWORD)body_len;
        if (!ecb->WriteClient(ecb->ConnID, (LPVOID)body, &n, HSE_IO_SYNC))
            return FALSE;
        if (n == 0) {
            SetLastError(ERROR_WRITE_FAULT);
            return FALSE;
        }
        body += n;
        body_len -= n;
    }
    return TRUE;
}

static const char html_headers[] = "Content-Type: text/html; charset=utf-8\r\n\r\n";

static BOOL page_start(buf_t *page, const char *title)
{
    return buf_puts(page, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>") &&
           buf_puts(page, title) &&
           buf_puts(page, "</title>\n<style>dd { white-space: pre-wrap; }</style>\n"
                          "</head>\n<body>\n");
}

static BOOL send_form(EXTENSION_CONTROL_BLOCK *ecb)
{
    char *self = get_variable(ecb, "SCRIPT_NAME");
    if (self == NULL)
        return FALSE;

    buf_t page = {NULL, 0, 0};
    BOOL ok = page_start(&page, "isapid form example") &&
              buf_puts(&page, "<h1>Leave a message</h1>\n<form method=\"post\" action=\"") &&
              buf_html(&page, self, strlen(self)) &&
              buf_puts(&page,
                       "\">\n"
                       "<p><label>Name <input name=\"name\"></label></p>\n"
                       "<p><label>Message <input name=\"message\"></label></p>\n"
                       "<p><label>Comments<br>\n"
                       "<textarea name=\"comments\" rows=\"6\" cols=\"60\"></textarea>"
                       "</label></p>\n"
                       "<p><button type=\"submit\">Send</button></p>\n"
                       "</form>\n</body>\n</html>\n") &&
              send_response(ecb, "200 OK", html_headers, page.data, page.len);
    free(page.data);
    free(self);
    return ok;
}

/* Reads the whole body: keeps at most KEEP_MAX bytes in *kept, counts all in *total. */
static BOOL read_body(EXTENSION_CONTROL_BLOCK *ecb, buf_t *kept, uint64_t *total)
{
    const BOOL length_known = ecb->cbTotalBytes != 0xFFFFFFFFu;
    char chunk[16384];

    *total = ecb->cbAvailable;
    if (!buf_append(kept, ecb->lpbData, ecb->cbAvailable < KEEP_MAX ? ecb->cbAvailable : KEEP_MAX))
        return FALSE;

    for (;;) {
        DWORD n = sizeof chunk;
        if (length_known) {
            if (*total >= ecb->cbTotalBytes)
                break;
            if (ecb->cbTotalBytes - *total < n)
                n = (DWORD)(ecb->cbTotalBytes - *total);
        }
        if (!ecb->ReadClient(ecb->ConnID, chunk, &n))
            return FALSE;
        if (n == 0)
            break; /* end of a chunked body, or the client stopped sending */
        *total += n;
        size_t room = KEEP_MAX - kept->len;
        if (room > 0 && !buf_append(kept, chunk, n < room ? n : room))
            return FALSE;
    }
    return TRUE;
}

/* Appends <dt>name</dt><dd>value</dd> for each field of a urlencoded body (decoded in place). */
static BOOL echo_fields(buf_t *page, char *body, size_t len)
{
    char *end = body + len;
    for (char *field = body; field < end;) {
        char *amp = (char *)memchr(field, '&', (size_t)(end - field));
        char *field_end = amp ? amp : end;
        if (field_end > field) {
            char *eq = (char *)memchr(field, '=', (size_t)(field_end - field));
            char *value = eq ? eq + 1 : field_end;
            size_t name_len = url_decode(field, (size_t)((eq ? eq : field_end) - field));
            size_t value_len = url_decode(value, (size_t)(field_end - value));
            if (!buf_puts(page, "<dt>") || !buf_html(page, field, name_len) ||
                !buf_puts(page, "</dt><dd>") || !buf_html(page, value, value_len) ||
                !buf_puts(page, "</dd>\n"))
                return FALSE;
        }
        field = field_end + 1;
    }
    return TRUE;
}

static BOOL is_urlencoded(const char *content_type)
{
    static const char form_type[] = "application/x-www-form-urlencoded";
    size_t n = sizeof form_type - 1;
    return strncasecmp(content_type, form_type, n) == 0 &&
           (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

static BOOL handle_post(EXTENSION_CONTROL_BLOCK *ecb)
{
    buf_t body = {NULL, 0, 0}, page = {NULL, 0, 0};
    uint64_t total = 0;
    char *self = NULL;
    BOOL ok = read_body(ecb, &body, &total) && (self = get_variable(ecb, "SCRIPT_NAME")) != NULL &&
              page_start(&page, "isapid form example: received") &&
              buf_puts(&page, "<h1>Received</h1>\n");

    if (ok && is_urlencoded(ecb->lpszContentType)) {
        ok = buf_puts(&page, "<dl>\n") && echo_fields(&page, body.data, body.len) &&
             buf_puts(&page, "</dl>\n");
        if (ok && total > body.len)
            ok = buf_printf(&page, "<p>Only the first %zu bytes were decoded.</p>\n", body.len);
    } else if (ok) {
        ok = buf_puts(&page, "<p>The body is not application/x-www-form-urlencoded (it is \"") &&
             buf_html(&page, ecb->lpszContentType, strlen(ecb->lpszContentType)) &&
             buf_puts(&page, "\"); it was counted but not decoded.</p>\n");
    }

    /* The count stands on a line of its own so that tests can match the whole line. */
    ok = ok && buf_printf(&page, "<p>\nReceived %llu bytes\n</p>\n", (unsigned long long)total) &&
         buf_puts(&page, "<p><a href=\"") && buf_html(&page, self, strlen(self)) &&
         buf_puts(&page, "\">Back to the form</a></p>\n</body>\n</html>\n") &&
         send_response(ecb, "200 OK", html_headers, page.data, page.len);

    free(page.data);
    free(body.data);
    free(self);
    return ok;
}

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(pVer->lpszExtensionDesc, "isapid form example", HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    BOOL ok;
    if (strcmp(pECB->lpszMethod, "GET") == 0 || strcmp(pECB->lpszMethod, "HEAD") == 0) {
        ok = send_form(pECB);
    } else if (strcmp(pECB->lpszMethod, "POST") == 0) {
        ok = handle_post(pECB);
    } else {
        static const char body[] = "Only GET, HEAD and POST are supported.\n";
        char headers[128];
        snprintf(headers, sizeof headers,
                 "Allow: GET, HEAD, POST\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                 sizeof body - 1);
        ok = send_response(pECB, "405 Method Not Allowed", headers, body, sizeof body - 1);
    }
    /* On failure the last error is set; the server logs it and, if no header went out yet,
     * answers 500. */
    return ok ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    (void)dwFlags;
    return TRUE;
}
