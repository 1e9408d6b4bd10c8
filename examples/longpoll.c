/* longpoll: requests that wait for an event, parked without holding a thread.
 *
 *     GET /examples/longpoll.dll?wait=ID[&timeout=MS][&mode=async|sync]
 *     GET or POST /examples/longpoll.dll?notify=ID&msg=TEXT
 *     GET /examples/longpoll.dll?count
 *
 * wait=ID waits until someone notifies ID, then answers 200 text/plain with TEXT (URL-decoded)
 * and a newline. After MS milliseconds (default 30000, at most 3600000) without a
 * notification it answers 204 No Content. IDs are 1 to 64 letters, digits, '.', '_' or '-'.
 * notify=ID answers every request waiting for ID and replies "notified=N" (how many).
 * count replies "parked=N" (asynchronous waits) and "blocked=M" (synchronous waits).
 * All answers carry Cache-Control: no-store.
 *
 * mode=async (the default) parks the request: HttpExtensionProc puts it in a table and
 * returns HSE_STATUS_PENDING. No thread is held and no I/O is outstanding, so thousands of
 * clients can wait at once; the server keeps each ECB valid until HSE_REQ_DONE_WITH_SESSION.
 * Parked requests are answered by one background thread of this extension (started in
 * GetExtensionVersion, stopped and joined in TerminateExtension): it sends the response and
 * then calls HSE_REQ_DONE_WITH_SESSION with HSE_STATUS_SUCCESS_AND_KEEP_CONN — from a thread
 * the server knows nothing about, which ISAPI allows. The same thread expires timeouts and,
 * once a second, asks HSE_REQ_IS_CONNECTED about every parked request: a client that went
 * away gets no answer, but its session is still ended (HSE_STATUS_ERROR), or the server
 * would keep it forever.
 *
 * mode=sync is the old way, for comparison: HttpExtensionProc blocks its worker thread on a
 * condition variable until notified or timed out. Each waiting client holds one of the
 * server's worker threads, so only as many can wait as there are workers.
 *
 * When the extension is unloaded, requests still waiting get 503 Service Unavailable.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags isapi) -o longpoll.so longpoll.c -lpthread */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, pthread_condattr_setclock, also under -std=c11 */

#include <windows.h>
#include <httpext.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ID_MAX 64
#define MSG_MAX 1024 /* an answer: the decoded message and its newline */
#define DEFAULT_TIMEOUT_MS 30000u
#define MAX_TIMEOUT_MS 3600000u
#define CHECK_MS 1000u /* how often waiting clients are checked with HSE_REQ_IS_CONNECTED */

/* A waiting request. Asynchronous ones are malloc'ed and owned by the table until the
 * background thread takes them out to answer them; synchronous ones live on the stack of
 * the worker thread that waits. */
typedef struct waiter waiter_t;
struct waiter {
    waiter_t *prev, *next; /* in g.waiters; once taken out, next links an answer list */
    EXTENSION_CONTROL_BLOCK *ecb;
    uint64_t deadline; /* CLOCK_MONOTONIC, milliseconds */
    /* Synchronous waiters only: set by notify, under g.lock. */
    size_t msg_len;
    char *msg; /* MSG_MAX bytes */
    char id[ID_MAX + 1];
    /* One byte each, after id: the struct stays 120 bytes, one 128-byte heap block per parked
     * request. */
    BOOLEAN sync;
    BOOLEAN notified; /* synchronous waiters only, as above */
};

/* One notification for the background thread: the parked requests it matched and the
 * message they get. */
typedef struct batch batch_t;
struct batch {
    batch_t *next;
    waiter_t *sessions; /* linked through next */
    size_t msg_len;
    char msg[MSG_MAX];
};

/* The extension's state. Everything below lock is protected by it. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake_sweeper; /* a batch, an earlier deadline, or stopping */
    pthread_cond_t wake_sync;    /* a notification for synchronous waiters, or stopping */
    pthread_t sweeper;
    BOOL started;

    waiter_t waiters;   /* sentinel of a circular list of every waiting request */
    size_t parked;      /* asynchronous waiters in the list */
    size_t blocked;     /* synchronous waiters in the list */
    batch_t *batches;   /* notifications the background thread has not answered yet */
    uint64_t earliest;  /* no asynchronous deadline is earlier than this */
    BOOL stopping;
} g;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits on cond until it is signalled or the monotonic clock reaches until_ms. */
static void wait_until(pthread_cond_t *cond, uint64_t until_ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(until_ms / 1000u);
    ts.tv_nsec = (long)(until_ms % 1000u) * 1000000L;
    (void)pthread_cond_timedwait(cond, &g.lock, &ts); /* spurious wake-ups are re-checked */
}

static void list_link(waiter_t *w)
{
    w->prev = g.waiters.prev;
    w->next = &g.waiters;
    g.waiters.prev->next = w;
    g.waiters.prev = w;
}

static void list_unlink(waiter_t *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
}

/* Whether the client of a waiting request is still there. Called under g.lock, on an ECB
 * whose session has not ended (only this extension ends it). */
static BOOL is_connected(EXTENSION_CONTROL_BLOCK *ecb)
{
    BOOL connected = TRUE;
    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_IS_CONNECTED, &connected, NULL, NULL))
        return TRUE; /* cannot tell: keep waiting, the timeout still applies */
    return connected;
}

/* ---- Responses ---------------------------------------------------------------------- */

/* Sends a complete response synchronously. The answers here are small: they fit in the
 * socket's send buffer, so the background thread does not wait for slow clients. */
static BOOL send_answer(EXTENSION_CONTROL_BLOCK *ecb, const char *status, const char *body,
                        size_t len)
{
    char headers[128];
    if (strncmp(status, "204", 3) == 0)
        snprintf(headers, sizeof headers, "Cache-Control: no-store\r\n\r\n");
    else
        snprintf(headers, sizeof headers,
                 "Content-Type: text/plain\r\nCache-Control: no-store\r\nContent-Length: %zu\r\n\r\n",
                 len);

    HSE_SEND_HEADER_EX_INFO header;
    header.pszStatus = status;
    header.cchStatus = (DWORD)strlen(status);
    header.pszHeader = headers;
    header.cchHeader = (DWORD)strlen(headers);
    header.fKeepConn = TRUE;
    ecb->dwHttpStatusCode = (DWORD)atoi(status);
    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &header, NULL,
                                    NULL))
        return FALSE;

    const char *p = body;
    while (len > 0) {
        DWORD n = (DWORD)len;
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

/* As send_answer, with a NUL-terminated body; returns what HttpExtensionProc returns. */
static DWORD answer_now(EXTENSION_CONTROL_BLOCK *ecb, const char *status, const char *text)
{
    return send_answer(ecb, status, text, strlen(text)) ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
}

static void log_text(EXTENSION_CONTROL_BLOCK *ecb, const char *text)
{
    (void)ecb->ServerSupportFunction(ecb->ConnID, HSE_APPEND_LOG_PARAMETER, (LPVOID)text, NULL,
                                     NULL);
}

/* Ends the session of a parked request; the server may free the ECB at once. */
static void end_session(EXTENSION_CONTROL_BLOCK *ecb, DWORD status)
{
    (void)ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_DONE_WITH_SESSION, &status, NULL, NULL);
}

/* Answers a parked request and ends its session; frees w. Called without g.lock. */
static void finish_parked(waiter_t *w, const char *status, const char *body, size_t len)
{
    EXTENSION_CONTROL_BLOCK *ecb = w->ecb;
    free(w);
    if (send_answer(ecb, status, body, len)) {
        end_session(ecb, HSE_STATUS_SUCCESS_AND_KEEP_CONN);
        return;
    }
    char line[64];
    snprintf(line, sizeof line, "longpoll: answer failed, error %u", (unsigned)GetLastError());
    log_text(ecb, line);
    end_session(ecb, HSE_STATUS_ERROR);
}

/* Ends the session of a parked request whose client went away, without an answer; frees w.
 * Called without g.lock. */
static void drop_parked(waiter_t *w)
{
    EXTENSION_CONTROL_BLOCK *ecb = w->ecb;
    free(w);
    log_text(ecb, "longpoll: client went away");
    end_session(ecb, HSE_STATUS_ERROR);
}

/* ---- The background thread ---------------------------------------------------------- */

/* Answers notifications, expires timeouts and drops clients that went away; at stop,
 * answers every parked request with 503 and exits. */
static void *sweeper_main(void *arg)
{
    (void)arg;
    uint64_t next_check = now_ms() + CHECK_MS;

    pthread_mutex_lock(&g.lock);
    for (;;) {
        BOOL stopping = g.stopping;
        uint64_t now = now_ms();
        batch_t *batches = g.batches;
        waiter_t *expired = NULL, *gone = NULL;
        g.batches = NULL;

        if (stopping || now >= g.earliest || now >= next_check) {
            BOOL check = now >= next_check;
            if (check)
                next_check = now + CHECK_MS;
            g.earliest = UINT64_MAX;
            for (waiter_t *w = g.waiters.next, *next; w != &g.waiters; w = next) {
                next = w->next;
                if (w->sync)
                    continue; /* synchronous waiters watch their own clock */
                if (stopping || w->deadline <= now) {
                    list_unlink(w);
                    g.parked--;
                    w->next = expired;
                    expired = w;
                } else if (check && !is_connected(w->ecb)) {
                    list_unlink(w);
                    g.parked--;
                    w->next = gone;
                    gone = w;
                } else if (w->deadline < g.earliest) {
                    g.earliest = w->deadline;
                }
            }
        }

        if (batches != NULL || expired != NULL || gone != NULL) {
            /* Answer without the lock: waits and notifications go on meanwhile. */
            pthread_mutex_unlock(&g.lock);
            while (batches != NULL) {
                batch_t *b = batches;
                batches = b->next;
                while (b->sessions != NULL) {
                    waiter_t *w = b->sessions;
                    b->sessions = w->next;
                    finish_parked(w, "200 OK", b->msg, b->msg_len);
                }
                free(b);
            }
            while (expired != NULL) {
                waiter_t *w = expired;
                expired = w->next;
                if (stopping)
                    finish_parked(w, "503 Service Unavailable", "shutting down\n", 14);
                else
                    finish_parked(w, "204 No Content", "", 0);
            }
            while (gone != NULL) {
                waiter_t *w = gone;
                gone = w->next;
                drop_parked(w);
            }
            pthread_mutex_lock(&g.lock);
            continue; /* more may have arrived meanwhile */
        }
        if (stopping)
            break; /* nothing parked, nothing left to answer */
        wait_until(&g.wake_sweeper, g.earliest < next_check ? g.earliest : next_check);
    }
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

/* ---- Query string ------------------------------------------------------------------- */

/* Finds NAME=VALUE in a query string and copies the raw (not URL-decoded) VALUE into
 * value[size]. Returns 1 when found, 0 when NAME is absent, -1 when VALUE does not fit. A
 * bare NAME counts as found with an empty value. */
static int query_value(const char *query, const char *name, char *value, size_t size)
{
    size_t name_len = strlen(name);
    for (const char *p = query; *p != '\0';) {
        size_t n = strcspn(p, "&");
        if (n >= name_len && strncmp(p, name, name_len) == 0 &&
            (n == name_len || p[name_len] == '=')) {
            size_t len = n == name_len ? 0 : n - name_len - 1;
            if (len >= size)
                return -1;
            memcpy(value, p + n - len, len);
            value[len] = '\0';
            return 1;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return 0;
}

static BOOL valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > ID_MAX)
        return FALSE;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return FALSE;
    }
    return TRUE;
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

/* Decodes a urlencoded value ('+' is a space, %XX a byte; a malformed escape is kept) into
 * out[size]. Returns the length, or -1 when it does not fit. */
static long url_decode(const char *s, char *out, size_t size)
{
    size_t len = 0;
    for (; *s != '\0'; s++) {
        if (len == size)
            return -1;
        if (*s == '+') {
            out[len++] = ' ';
        } else if (*s == '%' && hex_value(s[1]) >= 0 && hex_value(s[2]) >= 0) {
            out[len++] = (char)(hex_value(s[1]) * 16 + hex_value(s[2]));
            s += 2;
        } else {
            out[len++] = *s;
        }
    }
    return (long)len;
}

/* ---- Requests ----------------------------------------------------------------------- */

/* Parks the request and returns HSE_STATUS_PENDING: the background thread ends it. */
static DWORD wait_async(EXTENSION_CONTROL_BLOCK *ecb, const char *id, DWORD timeout)
{
    waiter_t *w = (waiter_t *)calloc(1, sizeof *w);
    if (w == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return HSE_STATUS_ERROR;
    }
    w->ecb = ecb;
    w->sync = FALSE;
    w->deadline = now_ms() + timeout;
    snprintf(w->id, sizeof w->id, "%s", id);

    pthread_mutex_lock(&g.lock);
    if (g.stopping) {
        pthread_mutex_unlock(&g.lock);
        free(w);
        return answer_now(ecb, "503 Service Unavailable", "shutting down\n");
    }
    list_link(w);
    g.parked++;
    if (w->deadline < g.earliest) {
        g.earliest = w->deadline;
        pthread_cond_signal(&g.wake_sweeper);
    }
    pthread_mutex_unlock(&g.lock);
    /* w is the background thread's now, and the session may already be over: touch
     * neither. */
    return HSE_STATUS_PENDING;
}

/* Blocks this worker thread until notified, timed out, stopped or disconnected. */
static DWORD wait_sync(EXTENSION_CONTROL_BLOCK *ecb, const char *id, DWORD timeout)
{
    enum { NOTIFIED, TIMED_OUT, STOPPING, GONE } outcome;
    char msg[MSG_MAX];
    waiter_t w;
    memset(&w, 0, sizeof w);
    w.ecb = ecb;
    w.sync = TRUE;
    w.deadline = now_ms() + timeout;
    w.msg = msg;
    snprintf(w.id, sizeof w.id, "%s", id);

    pthread_mutex_lock(&g.lock);
    list_link(&w);
    g.blocked++;
    for (;;) {
        uint64_t now = now_ms();
        if (w.notified) {
            outcome = NOTIFIED;
            break;
        }
        if (g.stopping) {
            outcome = STOPPING;
            break;
        }
        if (now >= w.deadline) {
            outcome = TIMED_OUT;
            break;
        }
        wait_until(&g.wake_sync, w.deadline < now + CHECK_MS ? w.deadline : now + CHECK_MS);
        if (!w.notified && !g.stopping && !is_connected(ecb)) {
            outcome = GONE;
            break;
        }
    }
    list_unlink(&w);
    g.blocked--;
    pthread_mutex_unlock(&g.lock);

    switch (outcome) {
    case NOTIFIED:
        return send_answer(ecb, "200 OK", msg, w.msg_len) ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
    case TIMED_OUT:
        return send_answer(ecb, "204 No Content", "", 0) ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
    case STOPPING:
        return answer_now(ecb, "503 Service Unavailable", "shutting down\n");
    case GONE:
    default:
        log_text(ecb, "longpoll: client went away");
        SetLastError(ERROR_NETNAME_DELETED);
        return HSE_STATUS_ERROR;
    }
}

/* Hands every asynchronous waiter for id to the background thread and wakes the
 * synchronous ones; replies with how many were found. */
static DWORD notify(EXTENSION_CONTROL_BLOCK *ecb, const char *id, const char *raw_msg)
{
    batch_t *b = (batch_t *)malloc(sizeof *b);
    if (b == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return HSE_STATUS_ERROR;
    }
    /* The answer is the message and a newline. */
    long len = url_decode(raw_msg, b->msg, MSG_MAX - 1);
    if (len < 0) {
        free(b);
        return answer_now(ecb, "400 Bad Request", "msg is too long\n");
    }
    b->msg[len++] = '\n';
    b->msg_len = (size_t)len;
    b->sessions = NULL;

    size_t found = 0;
    BOOL wake_sync = FALSE;
    pthread_mutex_lock(&g.lock);
    for (waiter_t *w = g.waiters.next, *next; w != &g.waiters; w = next) {
        next = w->next;
        if (strcmp(w->id, id) != 0)
            continue;
        if (w->sync) {
            if (w->notified)
                continue; /* already has a message it has not picked up yet */
            memcpy(w->msg, b->msg, b->msg_len);
            w->msg_len = b->msg_len;
            w->notified = TRUE;
            wake_sync = TRUE;
        } else {
            list_unlink(w);
            g.parked--;
            w->next = b->sessions;
            b->sessions = w;
        }
        found++;
    }
    if (b->sessions != NULL) {
        b->next = g.batches;
        g.batches = b;
        pthread_cond_signal(&g.wake_sweeper);
        b = NULL; /* the background thread's now */
    }
    if (wake_sync)
        pthread_cond_broadcast(&g.wake_sync);
    pthread_mutex_unlock(&g.lock);
    free(b);

    char text[64];
    snprintf(text, sizeof text, "notified=%zu\n", found);
    return answer_now(ecb, "200 OK", text);
}

static DWORD count(EXTENSION_CONTROL_BLOCK *ecb)
{
    char text[64];
    pthread_mutex_lock(&g.lock);
    snprintf(text, sizeof text, "parked=%zu\nblocked=%zu\n", g.parked, g.blocked);
    pthread_mutex_unlock(&g.lock);
    return answer_now(ecb, "200 OK", text);
}

/* ---- Entry points ------------------------------------------------------------------- */

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(pVer->lpszExtensionDesc, "isapid long-poll example", HSE_MAX_EXT_DLL_NAME_LEN);

    pthread_condattr_t attr;
    if (pthread_mutex_init(&g.lock, NULL) != 0 || pthread_condattr_init(&attr) != 0) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return FALSE;
    }
    /* Deadlines use the monotonic clock, which setting the date does not move. */
    BOOL ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&g.wake_sweeper, &attr) == 0 &&
              pthread_cond_init(&g.wake_sync, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!ok) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return FALSE;
    }
    g.waiters.prev = g.waiters.next = &g.waiters;
    g.earliest = UINT64_MAX;

    int err = pthread_create(&g.sweeper, NULL, sweeper_main, NULL);
    if (err != 0) {
        SetLastError(err == EAGAIN ? ERROR_NOT_ENOUGH_MEMORY : ERROR_INTERNAL_ERROR);
        return FALSE;
    }
    g.started = TRUE;
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    const char *query = pECB->lpszQueryString;
    char id[ID_MAX + 1], mode[8] = "async", number[16], msg[3 * MSG_MAX + 1] = "";

    if (query_value(query, "count", number, sizeof number) != 0)
        return count(pECB);

    if (query_value(query, "notify", id, sizeof id) == 1 && valid_id(id)) {
        if (query_value(query, "msg", msg, sizeof msg) < 0)
            return answer_now(pECB, "400 Bad Request", "msg is too long\n");
        return notify(pECB, id, msg);
    }

    if (query_value(query, "wait", id, sizeof id) == 1 && valid_id(id)) {
        DWORD timeout = DEFAULT_TIMEOUT_MS;
        int found = query_value(query, "timeout", number, sizeof number);
        if (found != 0) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(number, &end, 10);
            if (found < 0 || number[0] < '0' || number[0] > '9' || *end != '\0' || errno != 0 ||
                v == 0 || v > MAX_TIMEOUT_MS)
                return answer_now(pECB, "400 Bad Request", "timeout must be 1 to 3600000 ms\n");
            timeout = (DWORD)v;
        }
        if (query_value(query, "mode", mode, sizeof mode) < 0 ||
            (strcmp(mode, "async") != 0 && strcmp(mode, "sync") != 0))
            return answer_now(pECB, "400 Bad Request", "mode must be sync or async\n");
        return strcmp(mode, "sync") == 0 ? wait_sync(pECB, id, timeout)
                                         : wait_async(pECB, id, timeout);
    }

    return answer_now(pECB, "400 Bad Request",
                      "usage: ?wait=ID[&timeout=MS][&mode=async|sync] | ?notify=ID&msg=TEXT"
                      " | ?count\n");
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    if (!g.started)
        return TRUE;

    pthread_mutex_lock(&g.lock);
    if (dwFlags == HSE_TERM_ADVISORY_UNLOAD && (g.parked > 0 || g.blocked > 0)) {
        pthread_mutex_unlock(&g.lock); /* requests are waiting: refuse an optional unload */
        return FALSE;
    }
    g.stopping = TRUE;
    pthread_cond_signal(&g.wake_sweeper);
    pthread_cond_broadcast(&g.wake_sync);
    pthread_mutex_unlock(&g.lock);

    /* The background thread answers what is still parked, then exits. */
    pthread_join(g.sweeper, NULL);
    g.started = FALSE;
    /* The lock and conditions are not destroyed: a synchronous waiter that the server gave
     * up on may still be on its way out. The library is never unloaded, so that is safe. */
    return TRUE;
}
