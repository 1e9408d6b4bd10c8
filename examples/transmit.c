/* transmit: sends a file from the document root between a head and a tail, with
 * HSE_REQ_TRANSMIT_FILE (asynchronous) or, for comparison, synchronous WriteClient calls.
 *
 *     GET /examples/transmit.dll?file=NAME[&mode=async|sync][&headers=1]
 *                               [&offset=O][&bytes=B][&disconnect=1]
 *
 * NAME is a file directly in the document root (letters, digits, '.', '_' and '-'; no '/',
 * no ".."), found with HSE_REQ_MAP_URL_TO_PATH from the URL "/NAME". The answer is
 * 200 text/plain:
 *
 *     ----- begin NAME -----\n      (only without headers=1)
 *     the file's bytes from O (default 0), B of them (default 0 = to the end of the file)
 *     ----- end NAME -----\n
 *
 * headers=1 lets TransmitFile send the response head too (HSE_IO_SEND_HEADERS: the status
 * from pszStatusCode, the header lines from pHead, which then carries no body text); the
 * head includes "X-Transmit-File: NAME". Without it the extension sends the head first with
 * HSE_REQ_SEND_RESPONSE_HEADER_EX and pHead/pTail are raw bytes around the file.
 * disconnect=1 closes the connection after the response (HSE_IO_DISCONNECT_AFTER_SEND).
 * Errors: 400 for a bad parameter, 403 for a file the server will not map (a symlink leading
 * out of the root, a dotfile, a file in a script directory) or that is a symlink when opened,
 * 404 for a missing file, 416 for an offset past the end.
 * No Content-Length is sent: the server frames the response (chunked on HTTP/1.1).
 *
 * mode=async (the default): one HSE_REQ_TRANSMIT_FILE, always asynchronous. The callback is
 * given in HSE_TF_INFO.pfnHseIO (no HSE_REQ_IO_COMPLETION needed); the HSE_TF_INFO, the head
 * and the tail live in a per-request context until the completion, which closes the file
 * (the server never closes it), ends the session with HSE_REQ_DONE_WITH_SESSION and frees
 * the context. The server sends the file with sendfile(2) from its event loop: no thread is
 * held while the client downloads.
 *
 * mode=sync: the same bytes with pread(2) and WriteClient(HSE_IO_SYNC), holding the worker
 * thread until the last byte is taken.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags isapi) -o transmit.so transmit.c */
#ifndef _GNU_SOURCE /* C++ compilers define it */
#define _GNU_SOURCE /* pread, O_CLOEXEC, syscall (open_mapped.h), also under -std=c11 */
#endif

#include <windows.h>
#include <httpext.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "open_mapped.h"

#define NAME_MAX_LEN 200
#define COPY_SIZE (64u * 1024u) /* synchronous mode: bytes per read/write */

/* What one request asks for, parsed from the query string. */
typedef struct {
    char name[NAME_MAX_LEN + 1];
    BOOL async;
    BOOL headers;    /* HSE_IO_SEND_HEADERS */
    BOOL disconnect; /* HSE_IO_DISCONNECT_AFTER_SEND */
    DWORD offset;
    DWORD bytes;     /* 0 = to the end of the file */
} options_t;

/* An asynchronous transmission: everything the server may still read until the completion. */
typedef struct {
    int fd;
    HSE_TF_INFO tf;
    char head[NAME_MAX_LEN + 64]; /* banner, or the header block with headers=1 */
    char tail[NAME_MAX_LEN + 32];
} transmit_t;

static const char content_type[] = "Content-Type: text/plain\r\n";

/* ---- Query string ------------------------------------------------------------------- */

/* Finds NAME=VALUE in a query string and copies the raw (not URL-decoded) VALUE into
 * value[size]. Returns 1 when found, 0 when NAME is absent, -1 when VALUE does not fit. */
static int query_value(const char *query, const char *name, char *value, size_t size)
{
    size_t name_len = strlen(name);
    for (const char *p = query; *p != '\0';) {
        size_t n = strcspn(p, "&");
        if (n > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            size_t len = n - name_len - 1;
            if (len >= size)
                return -1;
            memcpy(value, p + name_len + 1, len);
            value[len] = '\0';
            return 1;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return 0;
}

/* The decimal parameter NAME (a DWORD) into *out, 0 when absent. FALSE when malformed. */
static BOOL query_dword(const char *query, const char *name, DWORD *out)
{
    char text[16];
    int found = query_value(query, name, text, sizeof text);
    *out = 0;
    if (found == 0)
        return TRUE;
    if (found < 0 || text[0] < '0' || text[0] > '9')
        return FALSE;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0' || errno != 0 || v > 0xFFFFFFFFull)
        return FALSE;
    *out = (DWORD)v;
    return TRUE;
}

/* A flag parameter: absent or "0" is FALSE, "1" is TRUE; anything else is malformed. */
static BOOL query_flag(const char *query, const char *name, BOOL *out)
{
    char text[4];
    int found = query_value(query, name, text, sizeof text);
    *out = found == 1 && strcmp(text, "1") == 0;
    return found == 0 || (found == 1 && (strcmp(text, "0") == 0 || strcmp(text, "1") == 0));
}

/* A name of a file directly in the root: no '/', no "..", nothing that needs escaping. */
static BOOL valid_name(const char *name)
{
    if (name[0] == '\0' || strstr(name, "..") != NULL || strcmp(name, ".") == 0)
        return FALSE;
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return FALSE;
    }
    return TRUE;
}

static BOOL parse_options(const char *query, options_t *o)
{
    char mode[8] = "async";
    int mode_found = query_value(query, "mode", mode, sizeof mode);
    o->async = strcmp(mode, "async") == 0;
    return query_value(query, "file", o->name, sizeof o->name) == 1 && valid_name(o->name) &&
           mode_found >= 0 && (o->async || strcmp(mode, "sync") == 0) &&
           query_flag(query, "headers", &o->headers) &&
           query_flag(query, "disconnect", &o->disconnect) &&
           query_dword(query, "offset", &o->offset) && query_dword(query, "bytes", &o->bytes);
}

/* ---- Responses ---------------------------------------------------------------------- */

static BOOL send_head(EXTENSION_CONTROL_BLOCK *ecb, const char *status, const char *headers,
                      BOOL keep_conn)
{
    HSE_SEND_HEADER_EX_INFO header;
    header.pszStatus = status;
    header.cchStatus = (DWORD)strlen(status);
    header.pszHeader = headers;
    header.cchHeader = (DWORD)strlen(headers);
    header.fKeepConn = keep_conn;
    ecb->dwHttpStatusCode = (DWORD)atoi(status);
    return ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &header,
                                      NULL, NULL);
}

/* Writes all len bytes with synchronous WriteClient calls, which may each take fewer. */
static BOOL write_all(EXTENSION_CONTROL_BLOCK *ecb, const void *data, size_t len)
{
    const char *p = (const char *)data;
    while (len > 0) {
        DWORD n = len > 0x40000000u ? 0x40000000u : (DWORD)len;
        if (!ecb->WriteClient(ecb->ConnID, (LPVOID)p, &n, HSE_IO_SYNC))
            return FALSE;
        if (n == 0) {
            SetLastError(ERROR_WRITE_FAULT);
            return FALSE;
        }
        p += n;
        len -= n;
    }
    return TRUE;
}

/* A short text/plain error page; HSE_STATUS_SUCCESS once sent. */
static DWORD answer_error(EXTENSION_CONTROL_BLOCK *ecb, const char *status, const char *text)
{
    char headers[128];
    snprintf(headers, sizeof headers, "%sContent-Length: %zu\r\n\r\n", content_type,
             strlen(text));
    return send_head(ecb, status, headers, TRUE) && write_all(ecb, text, strlen(text))
               ? HSE_STATUS_SUCCESS
               : HSE_STATUS_ERROR;
}

static void log_failure(EXTENSION_CONTROL_BLOCK *ecb, const char *what, DWORD error)
{
    char line[128];
    snprintf(line, sizeof line, "transmit: %s failed, error %u", what, (unsigned)error);
    (void)ecb->ServerSupportFunction(ecb->ConnID, HSE_APPEND_LOG_PARAMETER, line, NULL, NULL);
}

/* The answer to a failed HSE_REQ_MAP_URL_TO_PATH: the server refuses a name that leads out of
 * the root, is a dotfile or lies in a script directory (ERROR_ACCESS_DENIED). */
static DWORD map_error_answer(EXTENSION_CONTROL_BLOCK *ecb, DWORD err)
{
    if (err == ERROR_ACCESS_DENIED)
        return answer_error(ecb, "403 Forbidden", "the file may not be sent\n");
    if (err == ERROR_PATH_NOT_FOUND)
        return answer_error(ecb, "404 Not Found", "no such file\n");
    return answer_error(ecb, "500 Internal Server Error", "cannot map the file name\n");
}

/* Maps "/NAME" to a path below the document root and opens it. Returns the descriptor, or
 * -1 after answering the client itself (*status then holds what to return). */
static int open_file(EXTENSION_CONTROL_BLOCK *ecb, const options_t *o, struct stat *st,
                     DWORD *status)
{
    char path[4096];
    DWORD size = sizeof path;
    snprintf(path, sizeof path, "/%s", o->name);
    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_MAP_URL_TO_PATH, path, &size, NULL)) {
        DWORD err = GetLastError();
        log_failure(ecb, "HSE_REQ_MAP_URL_TO_PATH", err);
        *status = map_error_answer(ecb, err);
        return -1;
    }

    int fd = open_mapped(path); /* refusing a symlink swapped in since the mapping */
    if (fd < 0) {
        *status = errno == ENOENT || errno == ENOTDIR
                      ? answer_error(ecb, "404 Not Found", "no such file\n")
                      : answer_error(ecb, "403 Forbidden", "the file cannot be opened\n");
        return -1;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        *status = answer_error(ecb, "404 Not Found", "not a regular file\n");
        return -1;
    }
    if ((uint64_t)o->offset > (uint64_t)st->st_size) {
        close(fd);
        *status = answer_error(ecb, "416 Range Not Satisfiable", "offset past the end of the file\n");
        return -1;
    }
    return fd;
}

/* ---- Asynchronous mode -------------------------------------------------------------- */

/* Called once on a server pool thread when head, file and tail have been sent (cbIO bytes
 * of them) or the transmission failed. */
static VOID WINAPI transmit_completion(EXTENSION_CONTROL_BLOCK *pECB, PVOID pContext, DWORD cbIO,
                                       DWORD dwError)
{
    transmit_t *t = (transmit_t *)pContext;
    (void)cbIO;

    close(t->fd); /* the server is done with it */
    if (dwError != 0)
        log_failure(pECB, "HSE_REQ_TRANSMIT_FILE", dwError); /* 995: the client went away */
    free(t);

    DWORD status = dwError == 0 ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
    (void)pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_DONE_WITH_SESSION, &status, NULL,
                                      NULL);
}

static DWORD transmit_async(EXTENSION_CONTROL_BLOCK *ecb, const options_t *o, int fd)
{
    transmit_t *t = (transmit_t *)calloc(1, sizeof *t);
    if (t == NULL) {
        close(fd);
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return HSE_STATUS_ERROR;
    }
    t->fd = fd;
    snprintf(t->tail, sizeof t->tail, "----- end %s -----\n", o->name);

    HSE_TF_INFO *tf = &t->tf;
    tf->pfnHseIO = transmit_completion;
    tf->pContext = t;
    tf->hFile = (HANDLE)(intptr_t)fd;
    tf->Offset = o->offset;
    tf->BytesToWrite = o->bytes;
    tf->pHead = t->head;
    tf->pTail = t->tail;
    tf->TailLength = (DWORD)strlen(t->tail);
    tf->dwFlags = HSE_IO_ASYNC | (o->disconnect ? HSE_IO_DISCONNECT_AFTER_SEND : 0);

    if (o->headers) {
        /* TransmitFile sends the head: status line from pszStatusCode, header lines from
         * pHead (NUL-terminated). */
        snprintf(t->head, sizeof t->head, "%sX-Transmit-File: %s\r\n\r\n", content_type, o->name);
        tf->pszStatusCode = "200 OK";
        tf->dwFlags |= HSE_IO_SEND_HEADERS;
        ecb->dwHttpStatusCode = 200;
    } else {
        /* The head goes out first; pHead is then raw body bytes before the file. */
        char headers[64];
        snprintf(headers, sizeof headers, "%s\r\n", content_type);
        if (!send_head(ecb, "200 OK", headers, TRUE)) {
            DWORD error = GetLastError();
            close(fd);
            free(t);
            SetLastError(error);
            return HSE_STATUS_ERROR;
        }
        snprintf(t->head, sizeof t->head, "----- begin %s -----\n", o->name);
    }
    tf->HeadLength = (DWORD)strlen(t->head);

    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_TRANSMIT_FILE, tf, NULL, NULL)) {
        /* Nothing was started and no completion will come: clean up here. */
        DWORD error = GetLastError();
        log_failure(ecb, "HSE_REQ_TRANSMIT_FILE", error);
        close(fd);
        free(t);
        SetLastError(error);
        return HSE_STATUS_ERROR;
    }
    /* From here on t belongs to transmit_completion, which may already have run. */
    return HSE_STATUS_PENDING;
}

/* ---- Synchronous mode --------------------------------------------------------------- */

static DWORD transmit_sync(EXTENSION_CONTROL_BLOCK *ecb, const options_t *o, int fd,
                           const struct stat *st)
{
    char text[NAME_MAX_LEN + 64];
    BOOL ok;

    /* The same head as in asynchronous mode; disconnect=1 becomes fKeepConn = FALSE. */
    if (o->headers) {
        snprintf(text, sizeof text, "%sX-Transmit-File: %s\r\n\r\n", content_type, o->name);
        ok = send_head(ecb, "200 OK", text, !o->disconnect);
    } else {
        snprintf(text, sizeof text, "%s\r\n", content_type);
        ok = send_head(ecb, "200 OK", text, !o->disconnect);
        snprintf(text, sizeof text, "----- begin %s -----\n", o->name);
        ok = ok && write_all(ecb, text, strlen(text));
    }

    /* The range TransmitFile would send: BytesToWrite 0 or past the end stops at the end. */
    uint64_t pos = o->offset;
    uint64_t end = (uint64_t)st->st_size;
    if (o->bytes != 0 && pos + o->bytes < end)
        end = pos + o->bytes;

    char *buffer = ok ? (char *)malloc(COPY_SIZE) : NULL;
    if (ok && buffer == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        ok = FALSE;
    }
    while (ok && pos < end) {
        size_t want = end - pos < COPY_SIZE ? (size_t)(end - pos) : COPY_SIZE;
        ssize_t n = pread(fd, buffer, want, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* a read error, or the file shrank */
            SetLastError(ERROR_READ_FAULT);
            ok = FALSE;
            break;
        }
        ok = write_all(ecb, buffer, (size_t)n);
        pos += (uint64_t)n;
    }
    free(buffer);

    if (ok) {
        snprintf(text, sizeof text, "----- end %s -----\n", o->name);
        ok = write_all(ecb, text, strlen(text));
    }
    if (!ok)
        log_failure(ecb, "sending the file", GetLastError());
    close(fd);
    return ok ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
}

/* ---- Entry points ------------------------------------------------------------------- */

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(pVer->lpszExtensionDesc, "isapid transmit example (HSE_REQ_TRANSMIT_FILE)",
              HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    options_t o;
    if (!parse_options(pECB->lpszQueryString, &o))
        return answer_error(pECB, "400 Bad Request",
                            "usage: ?file=NAME[&mode=async|sync][&headers=1][&offset=O]"
                            "[&bytes=B][&disconnect=1]\n");

    struct stat st;
    DWORD status;
    int fd = open_file(pECB, &o, &st, &status);
    if (fd < 0)
        return status;
    return o.async ? transmit_async(pECB, &o, fd) : transmit_sync(pECB, &o, fd, &st);
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    (void)dwFlags; /* no global state */
    return TRUE;
}
