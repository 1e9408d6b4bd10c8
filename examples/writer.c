/* writer: sends a response in many pieces, synchronously or as a chain of asynchronous
 * writes.
 *
 *     GET /examples/writer.dll?mode=async&chunks=N&size=S   (the default mode)
 *     GET /examples/writer.dll?mode=sync&chunks=N&size=S
 *
 * The body is N chunks of S bytes; every byte of chunk i (counting from 0) is the letter
 * 'a' + i % 26, so the body starts "aaa...bbb...ccc..." and a client can rebuild it and
 * compare. Defaults: chunks=16, size=65536. Limits: chunks <= 1000000, 1 <= size <= 16 MiB.
 * The response is 200 text/plain with Content-Length N*S.
 *
 * Asynchronous mode, the write flow of IIS's "Reading and Writing Asynchronously":
 *   1. HttpExtensionProc sends the head, registers write_completion and a per-request
 *      context with HSE_REQ_IO_COMPLETION,
 *   2. fills the context's buffer with chunk 0 and starts WriteClient(HSE_IO_ASYNC),
 *   3. returns HSE_STATUS_PENDING: no thread waits while the client takes the data,
 *   4. each completion refills the same buffer with the next chunk and starts the next
 *      write, then returns (no loop, no recursion),
 *   5. after the last chunk the completion ends the session with HSE_REQ_DONE_WITH_SESSION
 *      and frees the context.
 * The buffer given to an asynchronous WriteClient belongs to the server until that write's
 * completion: it must not be changed or freed before, so it lives in the context, not on
 * the stack. Only one write is outstanding at a time; starting another before the completion
 * fails with ERROR_BUSY.
 *
 * Synchronous mode does the same with WriteClient(HSE_IO_SYNC) in a loop, holding its
 * worker thread for as long as the client takes to read everything.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags isapi) -o writer.so writer.c */
#include <windows.h>
#include <httpext.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CHUNKS 16u
#define DEFAULT_SIZE 65536u
#define MAX_CHUNKS 1000000u
#define MAX_SIZE (16u * 1024u * 1024u)

/* One response in asynchronous mode. */
typedef struct {
    DWORD chunks;  /* how many chunks to send */
    DWORD size;    /* bytes per chunk */
    DWORD current; /* the chunk being sent */
    DWORD sent;    /* bytes of the current chunk already written */
    BYTE *buffer;  /* size bytes, right after this struct: the current chunk; the server's
                    * while a write is outstanding */
} writer_t;

static void fill_chunk(BYTE *buffer, DWORD size, DWORD index)
{
    memset(buffer, 'a' + (int)(index % 26), size);
}

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

/* Reads the decimal query parameter NAME into *out: dflt when absent, FALSE when it is not
 * a number in [lo, hi]. */
static BOOL query_number(const char *query, const char *name, DWORD dflt, DWORD lo, DWORD hi,
                         DWORD *out)
{
    char text[16];
    int found = query_value(query, name, text, sizeof text);
    if (found == 0) {
        *out = dflt;
        return TRUE;
    }
    if (found < 0 || text[0] < '0' || text[0] > '9')
        return FALSE;
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (*end != '\0' || errno != 0 || v < lo || v > hi)
        return FALSE;
    *out = (DWORD)v;
    return TRUE;
}

/* Sends a status and header block (synchronously). */
static BOOL send_head(EXTENSION_CONTROL_BLOCK *ecb, const char *status, const char *headers)
{
    HSE_SEND_HEADER_EX_INFO header;
    header.pszStatus = status;
    header.cchStatus = (DWORD)strlen(status);
    header.pszHeader = headers;
    header.cchHeader = (DWORD)strlen(headers);
    header.fKeepConn = TRUE;
    ecb->dwHttpStatusCode = (DWORD)atoi(status);
    return ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &header,
                                      NULL, NULL);
}

/* Writes all len bytes with synchronous WriteClient calls, which may each take fewer. */
static BOOL write_all(EXTENSION_CONTROL_BLOCK *ecb, const BYTE *p, DWORD len)
{
    while (len > 0) {
        DWORD n = len;
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

static BOOL send_error(EXTENSION_CONTROL_BLOCK *ecb, const char *status, const char *text)
{
    char headers[128];
    snprintf(headers, sizeof headers, "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
             strlen(text));
    return send_head(ecb, status, headers) && write_all(ecb, (const BYTE *)text, (DWORD)strlen(text));
}

/* Adds "writer: WHAT failed, error N in chunk I" to the request's access-log line. */
static void log_failure(EXTENSION_CONTROL_BLOCK *ecb, const char *what, DWORD error, DWORD chunk)
{
    char line[128];
    snprintf(line, sizeof line, "writer: %s failed, error %u in chunk %u", what, (unsigned)error,
             (unsigned)chunk);
    (void)ecb->ServerSupportFunction(ecb->ConnID, HSE_APPEND_LOG_PARAMETER, line, NULL, NULL);
}

/* Ends a pending session; the ECB must not be touched afterwards. */
static void end_session(EXTENSION_CONTROL_BLOCK *ecb, DWORD status)
{
    (void)ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_DONE_WITH_SESSION, &status, NULL,
                                     NULL);
}

/* ---- Asynchronous mode -------------------------------------------------------------- */

/* Starts an asynchronous write of the rest of the current chunk. TRUE: exactly one
 * completion will follow, possibly before this returns — the caller must leave w alone.
 * FALSE: nothing started, no completion, the last error says why. */
static BOOL start_write(EXTENSION_CONTROL_BLOCK *ecb, writer_t *w)
{
    DWORD n = w->size - w->sent; /* ignored on return: the count arrives in the completion */
    return ecb->WriteClient(ecb->ConnID, w->buffer + w->sent, &n, HSE_IO_ASYNC);
}

/* Called on a server pool thread when a write has finished: cbIO bytes were sent. */
static VOID WINAPI write_completion(EXTENSION_CONTROL_BLOCK *pECB, PVOID pContext, DWORD cbIO,
                                    DWORD dwError)
{
    writer_t *w = (writer_t *)pContext;

    if (dwError != 0) {
        /* 995: the client went away; 1460: it stopped reading for the send timeout. */
        log_failure(pECB, "WriteClient(HSE_IO_ASYNC)", dwError, w->current);
        free(w);
        end_session(pECB, HSE_STATUS_ERROR);
        return;
    }

    /* A successful completion reports the whole count; should it ever be short, the rest of
     * the chunk is simply written next. */
    w->sent += cbIO;
    if (w->sent >= w->size) {
        w->current++;
        w->sent = 0;
        if (w->current == w->chunks) {
            free(w);
            end_session(pECB, HSE_STATUS_SUCCESS);
            return;
        }
        /* The previous write has completed, so the buffer is the extension's again. */
        fill_chunk(w->buffer, w->size, w->current);
    }

    if (!start_write(pECB, w)) {
        log_failure(pECB, "WriteClient(HSE_IO_ASYNC)", GetLastError(), w->current);
        free(w);
        end_session(pECB, HSE_STATUS_ERROR);
    }
}

static DWORD writer_async(EXTENSION_CONTROL_BLOCK *ecb, DWORD chunks, DWORD size)
{
    if (chunks == 0)
        return HSE_STATUS_SUCCESS; /* the head said Content-Length: 0 */

    writer_t *w = (writer_t *)malloc(sizeof *w + size);
    if (w == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return HSE_STATUS_ERROR;
    }
    w->buffer = (BYTE *)(w + 1);
    w->chunks = chunks;
    w->size = size;
    w->current = 0;
    w->sent = 0;
    fill_chunk(w->buffer, size, 0);

    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_IO_COMPLETION, (LPVOID)write_completion,
                                    NULL, (LPDWORD)w)) {
        free(w);
        return HSE_STATUS_ERROR;
    }
    if (!start_write(ecb, w)) {
        DWORD error = GetLastError();
        log_failure(ecb, "WriteClient(HSE_IO_ASYNC)", error, 0);
        free(w);
        SetLastError(error);
        return HSE_STATUS_ERROR;
    }
    return HSE_STATUS_PENDING; /* write_completion ends the session */
}

/* ---- Synchronous mode --------------------------------------------------------------- */

static DWORD writer_sync(EXTENSION_CONTROL_BLOCK *ecb, DWORD chunks, DWORD size)
{
    BYTE *buffer = (BYTE *)malloc(size);
    if (buffer == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return HSE_STATUS_ERROR;
    }
    for (DWORD i = 0; i < chunks; i++) {
        fill_chunk(buffer, size, i);
        /* Returns once the server has taken the bytes: the buffer may be reused at once. */
        if (!write_all(ecb, buffer, size)) {
            DWORD error = GetLastError();
            log_failure(ecb, "WriteClient(HSE_IO_SYNC)", error, i);
            free(buffer);
            SetLastError(error);
            return HSE_STATUS_ERROR;
        }
    }
    free(buffer);
    return HSE_STATUS_SUCCESS;
}

/* ---- Entry points ------------------------------------------------------------------- */

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(pVer->lpszExtensionDesc, "isapid writer example (sync and async writes)",
              HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    const char *query = pECB->lpszQueryString;
    char mode[16] = "async"; /* the default */
    DWORD chunks, size;

    BOOL valid = query_value(query, "mode", mode, sizeof mode) >= 0 &&
                 (strcmp(mode, "sync") == 0 || strcmp(mode, "async") == 0) &&
                 query_number(query, "chunks", DEFAULT_CHUNKS, 0, MAX_CHUNKS, &chunks) &&
                 query_number(query, "size", DEFAULT_SIZE, 1, MAX_SIZE, &size);
    if (!valid)
        return send_error(pECB, "400 Bad Request",
                          "usage: ?mode=sync|async&chunks=N&size=S "
                          "(N <= 1000000, 1 <= S <= 16777216)\n")
                   ? HSE_STATUS_SUCCESS
                   : HSE_STATUS_ERROR;

    char headers[128];
    snprintf(headers, sizeof headers, "Content-Type: text/plain\r\nContent-Length: %llu\r\n\r\n",
             (unsigned long long)chunks * size);
    if (!send_head(pECB, "200 OK", headers))
        return HSE_STATUS_ERROR;

    return strcmp(mode, "sync") == 0 ? writer_sync(pECB, chunks, size)
                                     : writer_async(pECB, chunks, size);
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    (void)dwFlags; /* no global state */
    return TRUE;
}
