/* vector: sends a whole response — head, memory buffers and part of a file — with a single
 * HSE_REQ_VECTOR_SEND, synchronously or asynchronously.
 *
 *     GET /examples/vector.dll?file=NAME[&mode=async|sync][&offset=O][&bytes=B]
 *
 * NAME (default index.html) is a file directly in the document root (letters, digits, '.',
 * '_' and '-'; no '/', no ".."), found with HSE_REQ_MAP_URL_TO_PATH from "/NAME". The
 * answer is 200 text/plain with "X-Vector-Send: sync" or "X-Vector-Send: async" and the
 * body
 *
 *     ----- begin NAME -----\n      memory element
 *     the file from O, B bytes       file element: cbOffset O, cbSize B (0, or past the
 *                                    end of the file: to the end)
 *     ----- end NAME -----\n        memory element
 *
 * The vector carries HSE_IO_SEND_HEADERS (pszStatus and pszHeaders: the server sends the
 * head) and HSE_IO_FINAL_SEND (nothing follows: the server sends a Content-Length computed
 * from the elements instead of chunking). Errors: 400 for a bad parameter, 403 for a file the
 * server will not map (a symlink leading out of the root, a dotfile, a file in a script
 * directory) or that is a symlink when opened, 404 for a missing file, 416 for an offset past
 * the end.
 *
 * mode=sync: HSE_IO_SYNC. The call returns when everything has been sent; this worker thread
 * waits for the client meanwhile. The vector and its buffers may live on the stack.
 *
 * mode=async (the default): HSE_IO_ASYNC, with a completion callback registered by
 * HSE_REQ_IO_COMPLETION. The call returns at once and HttpExtensionProc returns
 * HSE_STATUS_PENDING; the vector, the elements, the strings they point to and the file stay
 * untouched in a per-request context until the completion, which closes the file (the
 * server never closes it), ends the session with HSE_REQ_DONE_WITH_SESSION and frees the
 * context.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags isapi) -o vector.so vector.c */
#ifndef _GNU_SOURCE /* C++ compilers define it */
#define _GNU_SOURCE /* O_CLOEXEC, syscall (open_mapped.h), also under -std=c11 */
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

enum { ELEMENT_BEGIN, ELEMENT_FILE, ELEMENT_END, ELEMENT_COUNT };

/* One response: the vector and everything it points to. In asynchronous mode the server may
 * read any of it until the completion, so it is allocated per request. */
typedef struct {
    int fd;
    HSE_RESPONSE_VECTOR vector;
    HSE_VECTOR_ELEMENT elements[ELEMENT_COUNT];
    char status[16];
    char headers[96];
    char begin[NAME_MAX_LEN + 32];
    char end[NAME_MAX_LEN + 32];
} response_t;

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

/* The decimal parameter NAME into *out, 0 when absent. FALSE when malformed. */
static BOOL query_u64(const char *query, const char *name, uint64_t *out)
{
    char text[24];
    int found = query_value(query, name, text, sizeof text);
    *out = 0;
    if (found == 0)
        return TRUE;
    if (found < 0 || text[0] < '0' || text[0] > '9')
        return FALSE;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0' || errno != 0)
        return FALSE;
    *out = v;
    return TRUE;
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

/* ---- Plain responses ---------------------------------------------------------------- */

/* A short text/plain error page, sent synchronously; HSE_STATUS_SUCCESS once sent. */
static DWORD answer_error(EXTENSION_CONTROL_BLOCK *ecb, const char *status, const char *text)
{
    char headers[128];
    snprintf(headers, sizeof headers, "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
             strlen(text));
    HSE_SEND_HEADER_EX_INFO header;
    header.pszStatus = status;
    header.cchStatus = (DWORD)strlen(status);
    header.pszHeader = headers;
    header.cchHeader = (DWORD)strlen(headers);
    header.fKeepConn = TRUE;
    ecb->dwHttpStatusCode = (DWORD)atoi(status);
    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &header, NULL,
                                    NULL))
        return HSE_STATUS_ERROR;

    const char *p = text;
    DWORD left = (DWORD)strlen(text);
    while (left > 0) {
        DWORD n = left;
        if (!ecb->WriteClient(ecb->ConnID, (LPVOID)p, &n, HSE_IO_SYNC))
            return HSE_STATUS_ERROR;
        if (n == 0) {
            SetLastError(ERROR_WRITE_FAULT);
            return HSE_STATUS_ERROR;
        }
        p += n;
        left -= n;
    }
    return HSE_STATUS_SUCCESS;
}

static void log_failure(EXTENSION_CONTROL_BLOCK *ecb, const char *what, DWORD error)
{
    char line[128];
    snprintf(line, sizeof line, "vector: %s failed, error %u", what, (unsigned)error);
    (void)ecb->ServerSupportFunction(ecb->ConnID, HSE_APPEND_LOG_PARAMETER, line, NULL, NULL);
}

/* ---- The vector --------------------------------------------------------------------- */

/* Fills r: head, the begin line, the file range, the end line. */
static void build_vector(response_t *r, const char *name, int fd, uint64_t offset,
                         uint64_t bytes, BOOL async)
{
    r->fd = fd;
    snprintf(r->status, sizeof r->status, "200 OK");
    snprintf(r->headers, sizeof r->headers,
             "Content-Type: text/plain\r\nX-Vector-Send: %s\r\n\r\n", async ? "async" : "sync");
    snprintf(r->begin, sizeof r->begin, "----- begin %s -----\n", name);
    snprintf(r->end, sizeof r->end, "----- end %s -----\n", name);

    HSE_VECTOR_ELEMENT *e = r->elements;
    e[ELEMENT_BEGIN].ElementType = HSE_VECTOR_ELEMENT_TYPE_MEMORY_BUFFER;
    e[ELEMENT_BEGIN].pvContext = r->begin;
    e[ELEMENT_BEGIN].cbOffset = 0;
    e[ELEMENT_BEGIN].cbSize = strlen(r->begin);

    e[ELEMENT_FILE].ElementType = HSE_VECTOR_ELEMENT_TYPE_FILE_HANDLE;
    e[ELEMENT_FILE].pvContext = (HANDLE)(intptr_t)fd; /* a descriptor, cast as for Windows */
    e[ELEMENT_FILE].cbOffset = offset;
    e[ELEMENT_FILE].cbSize = bytes; /* 0: to the end of the file */

    e[ELEMENT_END].ElementType = HSE_VECTOR_ELEMENT_TYPE_MEMORY_BUFFER;
    e[ELEMENT_END].pvContext = r->end;
    e[ELEMENT_END].cbOffset = 0;
    e[ELEMENT_END].cbSize = strlen(r->end);

    r->vector.dwFlags = HSE_IO_SEND_HEADERS | HSE_IO_FINAL_SEND | (async ? HSE_IO_ASYNC : HSE_IO_SYNC);
    r->vector.pszStatus = r->status;
    r->vector.pszHeaders = r->headers;
    r->vector.nElementCount = ELEMENT_COUNT;
    r->vector.lpElementArray = r->elements;
}

/* Called once on a server pool thread when the whole vector has been sent (cbIO element
 * bytes) or sending failed. */
static VOID WINAPI vector_completion(EXTENSION_CONTROL_BLOCK *pECB, PVOID pContext, DWORD cbIO,
                                     DWORD dwError)
{
    response_t *r = (response_t *)pContext;
    (void)cbIO;

    close(r->fd); /* the server no longer reads it */
    if (dwError != 0)
        log_failure(pECB, "HSE_REQ_VECTOR_SEND", dwError); /* 995: the client went away */
    free(r);

    DWORD status = dwError == 0 ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
    (void)pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_DONE_WITH_SESSION, &status, NULL,
                                      NULL);
}

static DWORD send_async(EXTENSION_CONTROL_BLOCK *ecb, const char *name, int fd, uint64_t offset,
                        uint64_t bytes)
{
    response_t *r = (response_t *)calloc(1, sizeof *r);
    if (r == NULL) {
        close(fd);
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return HSE_STATUS_ERROR;
    }
    build_vector(r, name, fd, offset, bytes, TRUE);

    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_IO_COMPLETION, (LPVOID)vector_completion,
                                    NULL, (LPDWORD)r)) {
        close(fd);
        free(r);
        return HSE_STATUS_ERROR;
    }
    ecb->dwHttpStatusCode = 200;
    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_VECTOR_SEND, &r->vector, NULL, NULL)) {
        /* Nothing started, no completion will come. */
        DWORD error = GetLastError();
        log_failure(ecb, "HSE_REQ_VECTOR_SEND", error);
        close(fd);
        free(r);
        SetLastError(error);
        return HSE_STATUS_ERROR;
    }
    /* r belongs to vector_completion now, which may already have run. */
    return HSE_STATUS_PENDING;
}

static DWORD send_sync(EXTENSION_CONTROL_BLOCK *ecb, const char *name, int fd, uint64_t offset,
                       uint64_t bytes)
{
    response_t r;
    build_vector(&r, name, fd, offset, bytes, FALSE);
    ecb->dwHttpStatusCode = 200;
    BOOL ok = ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_VECTOR_SEND, &r.vector, NULL, NULL);
    DWORD error = GetLastError();
    if (!ok)
        log_failure(ecb, "HSE_REQ_VECTOR_SEND", error);
    close(fd); /* the call has returned: the server is done with everything in r */
    SetLastError(error);
    return ok ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
}

/* ---- Entry points ------------------------------------------------------------------- */

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(pVer->lpszExtensionDesc, "isapid vector example (HSE_REQ_VECTOR_SEND)",
              HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    const char *query = pECB->lpszQueryString;
    char name[NAME_MAX_LEN + 1] = "index.html";
    char mode[8] = "async";
    uint64_t offset, bytes;

    if (query_value(query, "file", name, sizeof name) < 0 || !valid_name(name) ||
        query_value(query, "mode", mode, sizeof mode) < 0 ||
        (strcmp(mode, "async") != 0 && strcmp(mode, "sync") != 0) ||
        !query_u64(query, "offset", &offset) || !query_u64(query, "bytes", &bytes))
        return answer_error(pECB, "400 Bad Request",
                            "usage: ?file=NAME[&mode=async|sync][&offset=O][&bytes=B]\n");

    /* "/NAME" is outside every script prefix, so it maps below the document root. */
    char path[4096];
    DWORD size = sizeof path;
    snprintf(path, sizeof path, "/%s", name);
    if (!pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_MAP_URL_TO_PATH, path, &size, NULL)) {
        DWORD err = GetLastError();
        log_failure(pECB, "HSE_REQ_MAP_URL_TO_PATH", err);
        /* refused: a symlink out of the root, a dotfile, a file in a script directory */
        if (err == ERROR_ACCESS_DENIED)
            return answer_error(pECB, "403 Forbidden", "the file may not be sent\n");
        if (err == ERROR_PATH_NOT_FOUND)
            return answer_error(pECB, "404 Not Found", "no such file\n");
        return answer_error(pECB, "500 Internal Server Error", "cannot map the file name\n");
    }

    int fd = open_mapped(path); /* refusing a symlink swapped in since the mapping */
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? answer_error(pECB, "404 Not Found", "no such file\n")
                   : answer_error(pECB, "403 Forbidden", "the file cannot be opened\n");
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return answer_error(pECB, "404 Not Found", "not a regular file\n");
    }
    if (offset > (uint64_t)st.st_size) {
        close(fd);
        return answer_error(pECB, "416 Range Not Satisfiable", "offset past the end of the file\n");
    }
    if (bytes > (uint64_t)st.st_size - offset)
        bytes = (uint64_t)st.st_size - offset; /* a range past the end stops at the end */

    return strcmp(mode, "sync") == 0 ? send_sync(pECB, name, fd, offset, bytes)
                                     : send_async(pECB, name, fd, offset, bytes);
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    (void)dwFlags; /* no global state */
    return TRUE;
}
