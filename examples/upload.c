/* upload: reads a request body of any size, synchronously or asynchronously, and answers
 * with its size and checksum.
 *
 *     POST /examples/upload.dll?mode=async     (the default) HSE_REQ_ASYNC_READ_CLIENT
 *     POST /examples/upload.dll?mode=sync      ReadClient in a loop
 *     ...&checksum=none                        count the bytes only (bench/run.sh: the
 *                                              server's cost, not the checksum's)
 *
 * Both modes answer 200 text/plain with three lines:
 *
 *     bytes=N          the size of the whole body (lpbData plus everything read after it)
 *     fnv1a=xxxxxxxx   32-bit FNV-1a of the whole body, 8 lower-case hex digits
 *     reads=K          the reads that delivered data (the read-ahead in lpbData is not one;
 *                      the final read that reports the end of the body is not counted)
 *
 * so a client can check that every byte arrived in order (with checksum=none the fnv1a line
 * is left out). Content-Length and chunked bodies
 * both work: when cbTotalBytes is 0xFFFFFFFF (chunked, or 4 GiB and more) the extension
 * reads until a read returns 0 bytes. Any method is accepted; without a body the answer is
 * bytes=0.
 *
 * The asynchronous mode is the flow of IIS's "Reading and Writing Asynchronously":
 *   1. HttpExtensionProc registers a completion callback and a per-request context with
 *      HSE_REQ_IO_COMPLETION,
 *   2. starts one read with HSE_REQ_ASYNC_READ_CLIENT into the context's buffer,
 *   3. returns HSE_STATUS_PENDING: no thread waits for the client while the body arrives,
 *   4. the server calls read_completion when the read is done; it hashes the bytes and starts
 *      the next read, then returns — it never loops or recurses, because the server never
 *      calls a completion inside the call that started the operation,
 *   5. after the last read it sends the answer and ends the session with
 *      HSE_REQ_DONE_WITH_SESSION, then frees the context.
 * Only one asynchronous operation may be outstanding per request (a second fails with
 * ERROR_BUSY), which this flow never attempts.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags isapi) -o upload.so upload.c */
#include <windows.h>
#include <httpext.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_SIZE (64u * 1024u) /* bytes asked for per read */
#define UNKNOWN_LENGTH 0xFFFFFFFFu /* cbTotalBytes of a chunked (or >= 4 GiB) body */

#define FNV1A_OFFSET 2166136261u
#define FNV1A_PRIME 16777619u

/* Everything one upload needs, allocated per request (several uploads run at once). In
 * asynchronous mode it lives from HttpExtensionProc to the last completion, which frees it
 * before ending the session. */
typedef struct {
    uint64_t total;  /* body bytes seen so far */
    uint32_t hash;   /* FNV-1a of those bytes */
    BOOL hashing;    /* FALSE with checksum=none: the bytes are counted only */
    DWORD reads;     /* reads that delivered data */
    BYTE buffer[READ_SIZE]; /* the server writes into it while a read is outstanding */
} upload_t;

static void upload_init(upload_t *u, BOOL hashing)
{
    u->hashing = hashing;
    u->total = 0;
    u->hash = FNV1A_OFFSET;
    u->reads = 0;
}

static void upload_add(upload_t *u, const BYTE *data, DWORD n)
{
    u->total += n;
    if (!u->hashing)
        return;
    uint32_t h = u->hash;
    for (DWORD i = 0; i < n; i++) {
        h ^= data[i];
        h *= FNV1A_PRIME;
    }
    u->hash = h;
}

/* Whether every byte of a body of known length has been seen. A body of unknown length ends
 * only when a read returns 0 bytes. */
static BOOL upload_complete(const EXTENSION_CONTROL_BLOCK *ecb, const upload_t *u)
{
    return ecb->cbTotalBytes != UNKNOWN_LENGTH && u->total >= ecb->cbTotalBytes;
}

/* How much to ask for next: the buffer, or less when fewer bytes remain. */
static DWORD upload_next_size(const EXTENSION_CONTROL_BLOCK *ecb, const upload_t *u)
{
    DWORD n = READ_SIZE;
    if (ecb->cbTotalBytes != UNKNOWN_LENGTH && ecb->cbTotalBytes - u->total < n)
        n = (DWORD)(ecb->cbTotalBytes - u->total);
    return n;
}

/* Sends status, headers and body with synchronous calls. FALSE with the last error set. */
static BOOL send_text(EXTENSION_CONTROL_BLOCK *ecb, const char *status, const char *text)
{
    char headers[128];
    size_t len = strlen(text);
    snprintf(headers, sizeof headers,
             "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n", len);

    HSE_SEND_HEADER_EX_INFO header;
    header.pszStatus = status;
    header.cchStatus = (DWORD)strlen(status);
    header.pszHeader = headers;
    header.cchHeader = (DWORD)strlen(headers);
    header.fKeepConn = TRUE;

    ecb->dwHttpStatusCode = (DWORD)atoi(status);
    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &header,
                                    NULL, NULL))
        return FALSE;

    /* A synchronous WriteClient may accept less than asked: loop until all is out. */
    while (len > 0) {
        DWORD n = (DWORD)len;
        if (!ecb->WriteClient(ecb->ConnID, (LPVOID)text, &n, HSE_IO_SYNC))
            return FALSE;
        if (n == 0) {
            SetLastError(ERROR_WRITE_FAULT);
            return FALSE;
        }
        text += n;
        len -= n;
    }
    return TRUE;
}

static BOOL send_result(EXTENSION_CONTROL_BLOCK *ecb, const upload_t *u)
{
    char text[128];
    if (u->hashing)
        snprintf(text, sizeof text, "bytes=%llu\nfnv1a=%08x\nreads=%u\n",
                 (unsigned long long)u->total, (unsigned)u->hash, (unsigned)u->reads);
    else
        snprintf(text, sizeof text, "bytes=%llu\nreads=%u\n", (unsigned long long)u->total,
                 (unsigned)u->reads);
    return send_text(ecb, "200 OK", text);
}

/* Adds "upload: WHAT failed, error N after M bytes" to the request's access-log line. */
static void log_failure(EXTENSION_CONTROL_BLOCK *ecb, const char *what, DWORD error,
                        uint64_t total)
{
    char line[128];
    snprintf(line, sizeof line, "upload: %s failed, error %u after %llu bytes", what,
             (unsigned)error, (unsigned long long)total);
    /* Nothing more can be done if logging fails too: the request is failing anyway. */
    (void)ecb->ServerSupportFunction(ecb->ConnID, HSE_APPEND_LOG_PARAMETER, line, NULL, NULL);
}

/* Ends a pending session with the given HSE_STATUS_* code. After this call the ECB may be
 * gone at any moment: the caller must not touch it again. */
static void end_session(EXTENSION_CONTROL_BLOCK *ecb, DWORD status)
{
    /* DONE_WITH_SESSION only fails for a bad ConnID, which this ECB's is not. */
    (void)ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_DONE_WITH_SESSION, &status, NULL,
                                     NULL);
}

/* ---- Asynchronous mode -------------------------------------------------------------- */

/* Starts one asynchronous read into u->buffer. TRUE: the completion will be called exactly
 * once, possibly before this function returns, so the caller must not touch u after it
 * (the completion owns it now). FALSE: no read started, no completion will come, the caller
 * still owns u; the last error says why. */
static BOOL start_read(EXTENSION_CONTROL_BLOCK *ecb, upload_t *u)
{
    DWORD size = upload_next_size(ecb, u);
    DWORD flags = HSE_IO_ASYNC;
    return ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_ASYNC_READ_CLIENT, u->buffer, &size,
                                      &flags);
}

/* Called by the server on one of its pool threads when a read has finished: cbIO bytes are
 * in the buffer, dwError is 0 or the Win32 error that ended the read. */
static VOID WINAPI read_completion(EXTENSION_CONTROL_BLOCK *pECB, PVOID pContext, DWORD cbIO,
                                   DWORD dwError)
{
    upload_t *u = (upload_t *)pContext;

    if (dwError != 0) {
        /* 995: the client went away; 1460: it stopped sending; 13: bad chunked framing or a
         * body over the server's limit. The bytes read before the failure are of no use. */
        log_failure(pECB, "read", dwError, u->total + cbIO);
        free(u);
        end_session(pECB, HSE_STATUS_ERROR);
        return;
    }

    if (cbIO > 0) {
        upload_add(u, u->buffer, cbIO);
        u->reads++;
    }

    if (cbIO > 0 && !upload_complete(pECB, u)) {
        /* More to come: start the next read and return. Its completion is a new call of
         * this function, on whichever pool thread the server picks. */
        if (start_read(pECB, u))
            return;
        log_failure(pECB, "HSE_REQ_ASYNC_READ_CLIENT", GetLastError(), u->total);
        free(u);
        end_session(pECB, HSE_STATUS_ERROR);
        return;
    }

    /* The end of the body: cbTotalBytes reached, or a read returned 0 bytes. */
    DWORD status = HSE_STATUS_SUCCESS;
    if (!send_result(pECB, u)) {
        log_failure(pECB, "sending the answer", GetLastError(), u->total);
        status = HSE_STATUS_ERROR;
    }
    free(u);
    end_session(pECB, status);
}

static DWORD upload_async(EXTENSION_CONTROL_BLOCK *ecb, BOOL hashing)
{
    upload_t *u = (upload_t *)malloc(sizeof *u);
    if (u == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return HSE_STATUS_ERROR;
    }
    upload_init(u, hashing);

    /* The server has already read the first part of the body (up to its read-ahead size). */
    upload_add(u, ecb->lpbData, ecb->cbAvailable);
    if (upload_complete(ecb, u)) {
        /* Nothing left to read (a small body, or none): answer right away. */
        BOOL ok = send_result(ecb, u);
        free(u);
        return ok ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
    }

    /* Step 1: the callback, and the context the server hands back to it. */
    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_IO_COMPLETION, (LPVOID)read_completion,
                                    NULL, (LPDWORD)u)) {
        free(u);
        return HSE_STATUS_ERROR;
    }

    /* Step 2: the first read. */
    if (!start_read(ecb, u)) {
        DWORD error = GetLastError();
        log_failure(ecb, "HSE_REQ_ASYNC_READ_CLIENT", error, u->total);
        free(u);
        SetLastError(error);
        return HSE_STATUS_ERROR;
    }

    /* Step 3: the completion ends the session (it may already have). */
    return HSE_STATUS_PENDING;
}

/* ---- Synchronous mode --------------------------------------------------------------- */

/* The same work with ReadClient, which holds this worker thread until each read is done. */
static DWORD upload_sync(EXTENSION_CONTROL_BLOCK *ecb, BOOL hashing)
{
    upload_t *u = (upload_t *)malloc(sizeof *u);
    if (u == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return HSE_STATUS_ERROR;
    }
    upload_init(u, hashing);
    upload_add(u, ecb->lpbData, ecb->cbAvailable);

    while (!upload_complete(ecb, u)) {
        DWORD n = upload_next_size(ecb, u);
        if (!ecb->ReadClient(ecb->ConnID, u->buffer, &n)) {
            DWORD error = GetLastError();
            log_failure(ecb, "ReadClient", error, u->total);
            free(u);
            SetLastError(error);
            return HSE_STATUS_ERROR;
        }
        if (n == 0)
            break; /* the end of a body of unknown length */
        upload_add(u, u->buffer, n);
        u->reads++;
    }

    BOOL ok = send_result(ecb, u);
    free(u);
    return ok ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
}

/* ---- Entry points ------------------------------------------------------------------- */

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

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(pVer->lpszExtensionDesc, "isapid upload example (sync and async reads)",
              HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    char mode[16] = "async"; /* the defaults */
    char checksum[16] = "fnv1a";
    if (query_value(pECB->lpszQueryString, "checksum", checksum, sizeof checksum) >= 0 &&
        (strcmp(checksum, "fnv1a") == 0 || strcmp(checksum, "none") == 0) &&
        query_value(pECB->lpszQueryString, "mode", mode, sizeof mode) >= 0) {
        BOOL hashing = strcmp(checksum, "fnv1a") == 0;
        if (strcmp(mode, "async") == 0)
            return upload_async(pECB, hashing);
        if (strcmp(mode, "sync") == 0)
            return upload_sync(pECB, hashing);
    }
    return send_text(pECB, "400 Bad Request",
                     "mode must be sync or async, checksum fnv1a or none\n")
               ? HSE_STATUS_SUCCESS
               : HSE_STATUS_ERROR;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    (void)dwFlags; /* no global state: every upload frees its own context */
    return TRUE;
}
