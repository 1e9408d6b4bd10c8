/* ISAPI filters (ISAPI-FILTERS.md §1-2): the loaded list, in calling order, and the
 * per-connection state filters see (pFilterContext, AllocMem). The list is loaded once per worker
 * process at start-up (after the privileges drop), before any connection, and terminated at
 * shutdown after every connection is gone; between the two it does not change, so any thread
 * reads it without a lock.
 *
 * Calling order (§2.5): ORDER_HIGH, then MEDIUM, then LOW (a filter with no order bit is LOW);
 * ties in load order (--filter / [filters] order). SEND_RAW_DATA goes in the reverse order.
 * Port bits: isapid has no TLS, so a connection is "secure" when HTTPS is on (a proxy in front
 * terminated TLS: src/http/forwarded.c); a filter gets a connection's notifications when its
 * flags have the matching SF_NOTIFY_SECURE_PORT / SF_NOTIFY_NONSECURE_PORT bit, and a filter
 * with neither bit gets both kinds (IIS would give it none; every real filter sets both).
 *
 * Ownership: filters_t owns its filter_t array; the name and path strings are the
 * configuration's. A filter_session_t belongs to one connection (conn_session); it is created at
 * the connection's first request and freed by filter_session_end when the connection closes, on
 * its loop, after END_OF_NET_SESSION; the memory AllocMem gave out goes with it. */
#ifndef ISAPID_FILTER_H
#define ISAPID_FILTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <windows.h>
#include <httpfilt.h>

#include "config.h"

typedef DWORD(WINAPI *filter_proc_fn)(PHTTP_FILTER_CONTEXT, DWORD, LPVOID);
typedef BOOL(WINAPI *filter_terminate_fn)(DWORD);
typedef BOOL(WINAPI *filter_dllmain_fn)(HINSTANCE, DWORD, LPVOID);

typedef struct filter {
    const char *name, *path; /* the configuration's */
    void *handle;            /* dlopen's; the HMODULE DllMain got */
    filter_proc_fn proc;
    filter_terminate_fn terminate; /* NULL when not exported */
    filter_dllmain_fn dllmain;     /* NULL when not exported */
    DWORD flags;                   /* HTTP_FILTER_VERSION.dwFlags as GetFilterVersion left them */
    DWORD version;                 /* dwFilterVersion */
    unsigned load_index;           /* position in the configuration */
    char desc[SF_MAX_FILTER_DESC_LEN];
} filter_t;

/* The notifications a request's end may deliver (the head the server still builds, the tail,
 * END_OF_REQUEST, LOG): with none of them wanted, the end runs no filter code. */
#define FILTER_END_NOTIFICATIONS                                                                  \
    (SF_NOTIFY_SEND_RESPONSE | SF_NOTIFY_SEND_RAW_DATA | SF_NOTIFY_END_OF_REQUEST | SF_NOTIFY_LOG)

typedef struct filters {
    filter_t *list; /* calling order */
    size_t n;
    DWORD wanted; /* the notification bits any filter asked for */
    /* Monotonic ms until which the head stage runs on the call pool, not the loop's thread: a
     * head stage had its loop handed off recently (a filter blocked), so the next ones are
     * likely to block too (as for extensions: docs/design.md, "Learning"). Any thread. */
    _Atomic uint64_t pool_until_ms;
    atomic_bool handoff_logged; /* the first such hand-off was logged */
} filters_t;

/* Loads every filter of cfg in order: dlopen, DllMain(DLL_PROCESS_ATTACH), GetFilterVersion
 * (dwServerFilterVersion = HTTP_FILTER_REVISION). NULL when cfg has no filter (nothing is
 * allocated) or on failure, with *failed set and the reason logged: a filter that cannot be
 * loaded, or whose GetFilterVersion returns FALSE, stops the server (IIS 7 aborts the site). The
 * filters loaded before a failure are terminated again. */
filters_t *filters_load(const config_t *cfg, bool *failed);
/* Shutdown, once no connection is left: TerminateFilter(0) then DllMain(DLL_PROCESS_DETACH) for
 * every filter, in load order. The libraries stay mapped (threads they started may still run).
 * Frees f; NULL is ignored. */
void filters_terminate(filters_t *f);

/* Whether filter f takes notification type on a connection that is (not) secure. */
static inline bool filter_wants(const filter_t *f, DWORD type, bool secure)
{
    DWORD ports = f->flags & (SF_NOTIFY_SECURE_PORT | SF_NOTIFY_NONSECURE_PORT);
    if (ports && !(ports & (secure ? SF_NOTIFY_SECURE_PORT : SF_NOTIFY_NONSECURE_PORT)))
        return false;
    return (f->flags & type) != 0;
}

#endif
