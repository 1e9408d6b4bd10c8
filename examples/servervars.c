/* servervars: shows what an extension sees of a request, as text/plain.
 *
 * First the ECB fields, one per line:
 *     ECB.lpszMethod=GET            (strings; a NULL pointer prints as "(null)")
 *     ECB.cbTotalBytes=0            (numbers in decimal)
 *     ECB.dwVersion=0x00080000      (hexadecimal)
 * then, for each server variable IIS documents, one of
 *     NAME=value                    GetServerVariable succeeded
 *     NAME!error=N                  it failed; N = GetLastError(), in decimal
 *     NAME:                         for ALL_HTTP and ALL_RAW, whose values are multi-line:
 *     <the value, as returned>      the value follows, ending with a newline
 * With a query string containing var=NAME only that variable's result is printed (NAME as
 * given, not URL-decoded). UNICODE_<VAR> values arrive as UTF-16 and are printed as UTF-8.
 *
 * GetServerVariable is called the way Microsoft recommends: with a small buffer first, then,
 * on ERROR_INSUFFICIENT_BUFFER, again with a buffer of the size the server asked for.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags isapi) -o servervars.so servervars.c */
#include <windows.h>
#include <httpext.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const variables[] = {
    "ALL_HTTP", "ALL_RAW", "APPL_MD_PATH", "APPL_PHYSICAL_PATH", "AUTH_PASSWORD", "AUTH_TYPE",
    "AUTH_USER", "CERT_COOKIE", "CERT_FLAGS", "CERT_ISSUER", "CERT_KEYSIZE",
    "CERT_SECRETKEYSIZE", "CERT_SERIALNUMBER", "CERT_SERVER_ISSUER", "CERT_SERVER_SUBJECT",
    "CERT_SUBJECT", "CONTENT_LENGTH", "CONTENT_TYPE", "DOCUMENT_ROOT", "GATEWAY_INTERFACE",
    "HTTPS", "HTTPS_KEYSIZE", "HTTPS_SECRETKEYSIZE", "HTTPS_SERVER_ISSUER",
    "HTTPS_SERVER_SUBJECT", "HTTP_ACCEPT", "HTTP_HOST", "HTTP_USER_AGENT", "HTTP_METHOD",
    "HTTP_URL", "HTTP_VERSION", "INSTANCE_ID", "INSTANCE_META_PATH", "LOCAL_ADDR", "LOGON_USER",
    "PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST",
    "REMOTE_PORT", "REMOTE_USER", "REQUEST_METHOD", "REQUEST_URI", "SCRIPT_FILENAME",
    "SCRIPT_NAME", "SERVER_ADDR", "SERVER_NAME", "SERVER_PORT", "SERVER_PORT_SECURE",
    "SERVER_PROTOCOL", "SERVER_SOFTWARE", "UNENCODED_URL", "URL",
};

/* A growing text buffer; data is NUL-terminated whenever len > 0. */
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

static BOOL buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static BOOL buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    char *tmp = (char *)malloc((size_t)n + 1);
    if (tmp == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return FALSE;
    }
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    BOOL ok = buf_append(b, tmp, (size_t)n);
    free(tmp);
    return ok;
}

/* Appends UTF-16LE text (n bytes, stopping at a NUL unit) as UTF-8; unpaired surrogates
 * become U+FFFD. */
static BOOL buf_utf16(buf_t *b, const BYTE *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned long c = (unsigned long)p[i] | (unsigned long)p[i + 1] << 8;
        if (c == 0)
            break;
        if (c >= 0xD800 && c <= 0xDBFF && i + 3 < n) {
            unsigned long lo = (unsigned long)p[i + 2] | (unsigned long)p[i + 3] << 8;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            }
        }
        if (c >= 0xD800 && c <= 0xDFFF)
            c = 0xFFFD;

        char u[4];
        size_t len;
        if (c < 0x80) {
            u[0] = (char)c;
            len = 1;
        } else if (c < 0x800) {
            u[0] = (char)(0xC0 | c >> 6);
            u[1] = (char)(0x80 | (c & 0x3F));
            len = 2;
        } else if (c < 0x10000) {
            u[0] = (char)(0xE0 | c >> 12);
            u[1] = (char)(0x80 | (c >> 6 & 0x3F));
            u[2] = (char)(0x80 | (c & 0x3F));
            len = 3;
        } else {
            u[0] = (char)(0xF0 | c >> 18);
            u[1] = (char)(0x80 | (c >> 12 & 0x3F));
            u[2] = (char)(0x80 | (c >> 6 & 0x3F));
            u[3] = (char)(0x80 | (c & 0x3F));
            len = 4;
        }
        if (!buf_append(b, u, len))
            return FALSE;
    }
    return TRUE;
}

/* Appends the result line(s) for one variable. FALSE only when out of memory. */
static BOOL print_variable(EXTENSION_CONTROL_BLOCK *ecb, buf_t *out, const char *name)
{
    DWORD size = 64;
    char *value = (char *)malloc(size);
    DWORD len;
    for (;;) {
        if (value == NULL) {
            SetLastError(ERROR_NOT_ENOUGH_MEMORY);
            return FALSE;
        }
        len = size;
        if (ecb->GetServerVariable(ecb->ConnID, (LPSTR)name, value, &len))
            break;
        DWORD err = GetLastError();
        if (err != ERROR_INSUFFICIENT_BUFFER || len <= size) {
            free(value);
            return buf_printf(out, "%s!error=%u\n", name, (unsigned)err);
        }
        size = len; /* the size the value needs, NUL included */
        char *bigger = (char *)realloc(value, size);
        if (bigger == NULL)
            free(value);
        value = bigger;
    }

    BOOL ok;
    if (strncmp(name, "UNICODE_", 8) == 0) {
        ok = buf_printf(out, "%s=", name) && buf_utf16(out, (const BYTE *)value, len) &&
             buf_append(out, "\n", 1);
    } else {
        /* len counts the NUL; never trust it to be there. */
        size_t n = 0;
        while (n < len && value[n] != '\0')
            n++;
        if (strcmp(name, "ALL_HTTP") == 0 || strcmp(name, "ALL_RAW") == 0)
            ok = buf_printf(out, "%s:\n", name) && buf_append(out, value, n) &&
                 (n == 0 || value[n - 1] == '\n' || buf_append(out, "\n", 1));
        else
            ok = buf_printf(out, "%s=", name) && buf_append(out, value, n) &&
                 buf_append(out, "\n", 1);
    }
    free(value);
    return ok;
}

static const char *str(const char *s)
{
    return s ? s : "(null)";
}

static BOOL print_ecb(EXTENSION_CONTROL_BLOCK *ecb, buf_t *out)
{
    return buf_printf(out,
                      "ECB.lpszMethod=%s\n"
                      "ECB.lpszQueryString=%s\n"
                      "ECB.lpszPathInfo=%s\n"
                      "ECB.lpszPathTranslated=%s\n"
                      "ECB.lpszContentType=%s\n"
                      "ECB.cbTotalBytes=%u\n"
                      "ECB.cbAvailable=%u\n"
                      "ECB.cbSize=%u\n"
                      "ECB.dwVersion=0x%08x\n",
                      str(ecb->lpszMethod), str(ecb->lpszQueryString), str(ecb->lpszPathInfo),
                      str(ecb->lpszPathTranslated), str(ecb->lpszContentType),
                      (unsigned)ecb->cbTotalBytes, (unsigned)ecb->cbAvailable,
                      (unsigned)ecb->cbSize, (unsigned)ecb->dwVersion);
}

/* Finds var=NAME in the query string and copies NAME to name[size]. */
static BOOL query_var(const char *query, char *name, size_t size)
{
    if (query == NULL)
        return FALSE;
    for (const char *p = query; *p != '\0';) {
        size_t n = strcspn(p, "&");
        if (n > 4 && strncmp(p, "var=", 4) == 0 && n - 4 < size) {
            memcpy(name, p + 4, n - 4);
            name[n - 4] = '\0';
            return TRUE;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return FALSE;
}

static BOOL send_text(EXTENSION_CONTROL_BLOCK *ecb, const buf_t *text)
{
    char headers[128];
    snprintf(headers, sizeof headers,
             "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n\r\n", text->len);

    HSE_SEND_HEADER_EX_INFO header;
    header.pszStatus = "200 OK";
    header.cchStatus = (DWORD)strlen(header.pszStatus);
    header.pszHeader = headers;
    header.cchHeader = (DWORD)strlen(headers);
    header.fKeepConn = TRUE;

    ecb->dwHttpStatusCode = 200;
    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &header,
                                    NULL, NULL))
        return FALSE;

    const char *p = text->data;
    size_t left = text->len;
    while (left > 0) {
        DWORD n = left > 0x40000000u ? 0x40000000u : (DWORD)left;
        if (!ecb->WriteClient(ecb->ConnID, (LPVOID)p, &n, HSE_IO_SYNC))
            return FALSE;
        if (n == 0) {
            SetLastError(ERROR_WRITE_FAULT);
            return FALSE;
        }
        p += n;
        left -= n;
    }
    return TRUE;
}

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(pVer->lpszExtensionDesc, "isapid server variables example",
              HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    buf_t out = {NULL, 0, 0};
    char name[256];
    BOOL ok;

    if (query_var(pECB->lpszQueryString, name, sizeof name)) {
        ok = print_variable(pECB, &out, name);
    } else {
        ok = print_ecb(pECB, &out);
        for (size_t i = 0; ok && i < sizeof variables / sizeof variables[0]; i++)
            ok = print_variable(pECB, &out, variables[i]);
    }
    ok = ok && send_text(pECB, &out);
    free(out.data);
    return ok ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    (void)dwFlags;
    return TRUE;
}
