/* Internals of the filter host (src/isapi/filter_req.c, filter_cb.c, filter_headers.c) and
 * what the ISAPI request code calls of it. Private to src/isapi.
 *
 * Threads: a request's notifications run on the thread that owns the request at that point —
 * the head stage on the connection's loop thread inside loop_call_begin / loop_call_end (or on
 * the call pool), SEND_RESPONSE and SEND_RAW_DATA on whatever thread writes the response (under
 * the request's io_lock), END_OF_REQUEST and LOG on the loop at the end, END_OF_NET_SESSION on
 * the loop when the connection closes. One request at a time per connection, so a session is
 * never used by two threads at once. */
#ifndef ISAPID_FILTER_INTERNAL_H
#define ISAPID_FILTER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "filter.h"
#include "isapi.h"

/* One filter's context on one connection. pfc first: the pfc a filter is given is its slot. */
typedef struct filter_slot {
    HTTP_FILTER_CONTEXT pfc;
    DWORD disabled; /* SF_REQ_DISABLE_NOTIFICATIONS bits, for the current request */
} filter_slot_t;

/* AllocMem blocks, freed with the session (after END_OF_NET_SESSION). */
typedef struct filter_mem {
    struct filter_mem *next;
    _Alignas(16) char data[];
} filter_mem_t;

/* What AllocMem gives one connection at most: a filter that allocates per request on a long
 * keep-alive connection gets NULL (logged) instead of growing the worker without bound. */
#define FILTER_MEM_MAX (64u << 20)

typedef struct filter_session {
    const filters_t *filters;
    pool_t *pool;          /* runs END_OF_NET_SESSION off the loop (filter_session_end) */
    pool_work_t end_work;
    request_t *req; /* the request in progress; NULL between requests */
    filter_mem_t *mem;
    size_t mem_bytes;
    bool secure;           /* HTTPS=on for the connection's first request */
    filter_slot_t slots[]; /* one per filter, in calling order */
} filter_session_t;

/* Strings a request's filters made (header values, the new url), freed with the request. */
typedef struct filter_str {
    struct filter_str *next;
    char s[];
} filter_str_t;

/* The filters' part of one request (request_t.filt), owned by it. */
typedef struct filter_req {
    filter_session_t *s;
    request_end_t end; /* the request's end, from request_finish to the hand-back on the loop
                        * (request_ended, src/isapi/isapi.c): here, not in request_t, which
                        * every parked session holds */
    uint64_t start_ms; /* when the head stage began (LOG's msTimeForProcessing) */
    DWORD current;     /* the notification being delivered, 0 between */
    filter_str_t *strs;
    http_header_t *headers; /* the request's headers once a filter changed them (malloc'ed
                             * table; the strings are the request's or in strs) */
    size_t headers_cap;
    const char *url; /* "url" as the filters left it (raw target form) */
    bool url_changed;
    /* the response head during SEND_RESPONSE (resphead_t of prepare_head) */
    resphead_t *resp;
    char *resp_add; /* AddResponseHeaders text queued for the response, owned */
    size_t resp_add_len;
    char *denial_add; /* SF_REQ_ADD_HEADERS_ON_DENIAL text, owned */
    size_t denial_add_len;
    /* the filter's own answer (SF_REQ_SEND_RESPONSE_HEADER / WriteClient / FINISHED) */
    DWORD finish; /* 0, or SF_STATUS_REQ_FINISHED / _KEEP_CONN / _ERROR */
    DWORD error;  /* GetLastError after SF_STATUS_REQ_ERROR */
    DWORD denied; /* SF_DENIED_* of a denial the server makes (0: by the handler) */
    /* AUTHENTICATION (ISAPI-FILTERS.md §2.11) */
    char user[SF_MAX_USERNAME], password[SF_MAX_PASSWORD], auth_type[SF_MAX_AUTH_TYPE];
    /* SEND_RAW_DATA is being delivered: a plan built meanwhile (a filter's own head) is not
     * shown again */
    bool in_raw;
    bool io_locked; /* the thread delivering the notification holds r->io_lock */
} filter_req_t;

/* filter_req.c */
/* Loop thread (or a pool thread for a pipelined request): the head stage, then the route. */
loop_kept_t filter_request_start(request_t *r);
/* Delivers type to every filter that takes it, in calling order (reverse for SEND_RAW_DATA):
 * SF_STATUS_REQ_NEXT_NOTIFICATION when the notification went through (or a filter said
 * HANDLED), else the FINISHED / FINISHED_KEEP_CONN / ERROR a filter returned. */
DWORD filter_notify(request_t *r, filter_session_t *s, DWORD type, void *notification);
/* handler_t.session_end: END_OF_NET_SESSION, then the session is freed. */
void filter_session_end(conn_t *c, void *session);
char *filter_strdup(filter_req_t *fr, const char *s, size_t n);
/* The request's end (isapi_request_end): END_OF_REQUEST, then LOG over *log; frees r->filt. */
void filter_request_end(request_t *r, accesslog_entry_t *log);
void filter_request_free(request_t *r);
/* URL_MAP of a mapping an extension asked for (HSE_REQ_MAP_URL_TO_PATH[_EX]): path (cap bytes,
 * NUL-terminated) may be changed by the filters. */
void filter_url_map(request_t *r, const char *url, char *path, size_t cap, DWORD flags);

/* filter_headers.c: the GetHeader / SetHeader / AddHeader of PREPROC_HEADERS and AUTH_COMPLETE
 * (request head) and SEND_RESPONSE (response head, fr->resp). */
BOOL WINAPI filter_get_header(PHTTP_FILTER_CONTEXT pfc, LPSTR name, LPVOID buf, LPDWORD size);
BOOL WINAPI filter_set_header(PHTTP_FILTER_CONTEXT pfc, LPSTR name, LPSTR value);
BOOL WINAPI filter_add_header(PHTTP_FILTER_CONTEXT pfc, LPSTR name, LPSTR value);
/* n bytes of v and a NUL into buf (*size bytes): TRUE with *size = n + 1, or FALSE with the last
 * error ERROR_INSUFFICIENT_BUFFER (buf NULL or too small; *size = n + 1, the size needed) or
 * ERROR_INVALID_PARAMETER (size NULL). GetHeader's and the filters' GetServerVariable's copy. */
BOOL filter_copy_out(const char *v, size_t n, LPVOID buf, LPDWORD size);
/* Header text ("Name: value\r\n"...) into the response head h; FALSE on bad text. */
BOOL filter_resp_add_lines(resphead_t *h, const char *text, size_t len);

/* filter_raw.c: SEND_RAW_DATA over a built plan (under io_lock: the shown segments are replaced
 * by the filters' bytes, owned by the plan) and over the loop's tail; READ_RAW_DATA of the head
 * and the read-ahead (observe only). */
BOOL filter_send_raw_plan(request_t *r, out_plan_t *p);
void filter_send_raw_tail(request_t *r, char **tail, size_t *len);
void filter_read_raw_head(request_t *r);

/* filter_cb.c: the HTTP_FILTER_CONTEXT callbacks. */
void filter_slot_init(filter_slot_t *slot, filter_session_t *s);
/* The request a filter callback is about, or NULL (between requests). */
static inline request_t *filter_pfc_request(PHTTP_FILTER_CONTEXT pfc)
{
    filter_session_t *s = pfc ? pfc->ServerContext : NULL;
    return s ? s->req : NULL;
}
/* GetServerVariable's names the filters decide (AUTH_*, REMOTE_USER, LOGON_USER as the filters
 * left them; for_filter: also HEADER_<Name>, a filter's own): true when name was one of them,
 * with *result. */
bool filter_server_variable(request_t *r, const char *name, LPVOID buf, LPDWORD size,
                            bool for_filter, BOOL *result);
/* SEND_RESPONSE for the head in h, about to be built (prepare_head, under io_lock). */
void filter_send_response(request_t *r, resphead_t *h);

#endif
