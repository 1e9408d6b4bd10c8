/* httpfilt.h: the ISAPI filter interface, as hosted by isapid (isapid SDK).
 *
 * Names, numeric values and structure field order are those of IIS's httpfilt.h (filter
 * revision 6.0, IIS 6, which is what isapid reports), so Windows filter sources compile
 * unchanged with `-I include/isapi`. Layouts are the natural C layout of the host ABI; on LP64
 * HTTP_FILTER_CONTEXT is 72 bytes (pFilterContext at 24, the callbacks from 32).
 *
 * A filter is a shared library exporting GetFilterVersion and HttpFilterProc, and optionally
 * TerminateFilter and DllMain (docs/sdk.md, "Filters"). */
#ifndef ISAPI_HTTPFILT_H
#define ISAPI_HTTPFILT_H

#include "windows.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Revision and sizes ------------------------------------------------------------- */

#define HTTP_FILTER_MAJOR 6
#define HTTP_FILTER_MINOR 0
/* Major in the high word, as HSE_VERSION. */
#define HTTP_FILTER_REVISION MAKELONG(HTTP_FILTER_MINOR, HTTP_FILTER_MAJOR)

#define SF_MAX_USERNAME (256 + 1)
#define SF_MAX_PASSWORD (256 + 1)
#define SF_MAX_AUTH_TYPE (32 + 1)
#define SF_MAX_FILTER_DESC_LEN (256 + 1)

/* ---- ServerSupportFunction requests (HTTP_FILTER_CONTEXT.ServerSupportFunction) ---- */

enum SF_REQ_TYPE {
    SF_REQ_SEND_RESPONSE_HEADER,
    SF_REQ_ADD_HEADERS_ON_DENIAL,
    SF_REQ_SET_NEXT_READ_SIZE,
    SF_REQ_SET_PROXY_INFO,
    SF_REQ_GET_CONNID,
    SF_REQ_SET_CERTIFICATE_INFO,
    SF_REQ_GET_PROPERTY,
    SF_REQ_NORMALIZE_URL,
    SF_REQ_DISABLE_NOTIFICATIONS
};

/* SF_REQ_GET_PROPERTY's ul1. */
enum SF_PROPERTY_IIS {
    SF_PROPERTY_SSL_CTXT,
    SF_PROPERTY_INSTANCE_NUM_ID
};

/* ---- HttpFilterProc return values --------------------------------------------------- */

enum SF_STATUS_TYPE {
    SF_STATUS_REQ_FINISHED = 0x8000000,
    SF_STATUS_REQ_FINISHED_KEEP_CONN,
    SF_STATUS_REQ_NEXT_NOTIFICATION,
    SF_STATUS_REQ_HANDLED_NOTIFICATION,
    SF_STATUS_REQ_ERROR,
    SF_STATUS_REQ_READ_NEXT
};

/* ---- Notification flags (HTTP_FILTER_VERSION.dwFlags) and types --------------------- */

#define SF_NOTIFY_SECURE_PORT 0x00000001
#define SF_NOTIFY_NONSECURE_PORT 0x00000002

#define SF_NOTIFY_READ_RAW_DATA 0x00008000
#define SF_NOTIFY_PREPROC_HEADERS 0x00004000
#define SF_NOTIFY_AUTHENTICATION 0x00002000
#define SF_NOTIFY_URL_MAP 0x00001000
#define SF_NOTIFY_ACCESS_DENIED 0x00000800
#define SF_NOTIFY_SEND_RESPONSE 0x00000040
#define SF_NOTIFY_SEND_RAW_DATA 0x00000400
#define SF_NOTIFY_LOG 0x00000200
#define SF_NOTIFY_END_OF_REQUEST 0x00000080
#define SF_NOTIFY_END_OF_NET_SESSION 0x00000100
#define SF_NOTIFY_AUTH_COMPLETE 0x04000000

/* Priority: HIGH runs first; no ORDER bit means DEFAULT, which is LOW. */
#define SF_NOTIFY_ORDER_HIGH 0x00080000
#define SF_NOTIFY_ORDER_MEDIUM 0x00040000
#define SF_NOTIFY_ORDER_LOW 0x00020000
#define SF_NOTIFY_ORDER_DEFAULT SF_NOTIFY_ORDER_LOW
#define SF_NOTIFY_ORDER_MASK (SF_NOTIFY_ORDER_HIGH | SF_NOTIFY_ORDER_MEDIUM | SF_NOTIFY_ORDER_LOW)

/* HTTP_FILTER_ACCESS_DENIED.dwReason */
#define SF_DENIED_LOGON 0x00000001
#define SF_DENIED_RESOURCE 0x00000002
#define SF_DENIED_FILTER 0x00000004
#define SF_DENIED_APPLICATION 0x00000008
#define SF_DENIED_BY_CONFIG 0x00010000

/* ---- Structures --------------------------------------------------------------------- */

/* One per (connection, filter), passed to every callback. Only pFilterContext is the
 * filter's to write: NULL on a new connection, kept across its requests. */
typedef struct _HTTP_FILTER_CONTEXT {
    DWORD cbSize;
    DWORD Revision;
    PVOID ServerContext;
    DWORD ulReserved;
    BOOL fIsSecurePort;
    PVOID pFilterContext;

    BOOL(WINAPI *GetServerVariable)(struct _HTTP_FILTER_CONTEXT *pfc, LPSTR lpszVariableName,
                                    LPVOID lpvBuffer, LPDWORD lpdwSize);
    BOOL(WINAPI *AddResponseHeaders)(struct _HTTP_FILTER_CONTEXT *pfc, LPSTR lpszHeaders,
                                     DWORD dwReserved);
    BOOL(WINAPI *WriteClient)(struct _HTTP_FILTER_CONTEXT *pfc, LPVOID Buffer, LPDWORD lpdwBytes,
                              DWORD dwReserved);
    VOID *(WINAPI *AllocMem)(struct _HTTP_FILTER_CONTEXT *pfc, DWORD cbSize, DWORD dwReserved);
    BOOL(WINAPI *ServerSupportFunction)(struct _HTTP_FILTER_CONTEXT *pfc, enum SF_REQ_TYPE sfReq,
                                        PVOID pData, ULONG_PTR ul1, ULONG_PTR ul2);
} HTTP_FILTER_CONTEXT, *PHTTP_FILTER_CONTEXT;

/* READ_RAW_DATA and SEND_RAW_DATA: to change the data, point pvInData at new bytes (AllocMem or
 * the filter's own, valid until the next notification) and set cbInData / cbInBuffer. */
typedef struct _HTTP_FILTER_RAW_DATA {
    PVOID pvInData;
    DWORD cbInData;
    DWORD cbInBuffer;
    DWORD dwReserved;
} HTTP_FILTER_RAW_DATA, *PHTTP_FILTER_RAW_DATA;

/* PREPROC_HEADERS (request headers) and SEND_RESPONSE (response headers). Names end in a colon
 * ("Host:"), except the pseudo-headers "method", "url", "version" and, for a response,
 * "status". SetHeader with "" removes the header. */
typedef struct _HTTP_FILTER_PREPROC_HEADERS {
    BOOL(WINAPI *GetHeader)(struct _HTTP_FILTER_CONTEXT *pfc, LPSTR lpszName, LPVOID lpvBuffer,
                            LPDWORD lpdwSize);
    BOOL(WINAPI *SetHeader)(struct _HTTP_FILTER_CONTEXT *pfc, LPSTR lpszName, LPSTR lpszValue);
    BOOL(WINAPI *AddHeader)(struct _HTTP_FILTER_CONTEXT *pfc, LPSTR lpszName, LPSTR lpszValue);
    DWORD HttpStatus; /* SEND_RESPONSE: the status about to go out */
    DWORD dwReserved;
} HTTP_FILTER_PREPROC_HEADERS, *PHTTP_FILTER_PREPROC_HEADERS;

typedef HTTP_FILTER_PREPROC_HEADERS HTTP_FILTER_SEND_RESPONSE;
typedef HTTP_FILTER_PREPROC_HEADERS *PHTTP_FILTER_SEND_RESPONSE;

typedef struct _HTTP_FILTER_AUTH_COMPLETE_INFO {
    BOOL(WINAPI *GetHeader)(struct _HTTP_FILTER_CONTEXT *pfc, LPSTR lpszName, LPVOID lpvBuffer,
                            LPDWORD lpdwSize);
    BOOL(WINAPI *SetHeader)(struct _HTTP_FILTER_CONTEXT *pfc, LPSTR lpszName, LPSTR lpszValue);
    BOOL(WINAPI *AddHeader)(struct _HTTP_FILTER_CONTEXT *pfc, LPSTR lpszName, LPSTR lpszValue);
    BOOL(WINAPI *GetUserToken)(struct _HTTP_FILTER_CONTEXT *pfc, HANDLE *phToken);
    DWORD HttpStatus;
    BOOL fResetAuth;
    DWORD dwReserved;
} HTTP_FILTER_AUTH_COMPLETE_INFO, *PHTTP_FILTER_AUTH_COMPLETE_INFO;

/* AUTHENTICATION: writable buffers of cbUserBuff / cbPasswordBuff bytes (at least
 * SF_MAX_USERNAME / SF_MAX_PASSWORD); an empty user is an anonymous request. */
typedef struct _HTTP_FILTER_AUTHENT {
    CHAR *pszUser;
    DWORD cbUserBuff;
    CHAR *pszPassword;
    DWORD cbPasswordBuff;
} HTTP_FILTER_AUTHENT, *PHTTP_FILTER_AUTHENT;

/* URL_MAP: pszPhysicalPath (cbPathBuff bytes) may be rewritten in place. */
typedef struct _HTTP_FILTER_URL_MAP {
    const CHAR *pszURL;
    CHAR *pszPhysicalPath;
    DWORD cbPathBuff;
} HTTP_FILTER_URL_MAP, *PHTTP_FILTER_URL_MAP;

/* The URL_MAP superset: the host may always pass this form. */
typedef struct _HTTP_FILTER_URL_MAP_EX {
    const CHAR *pszURL;
    CHAR *pszPhysicalPath;
    DWORD cbPathBuff;
    DWORD dwFlags;            /* HSE_URL_FLAGS_* */
    DWORD cchMatchingPath;
    DWORD cchMatchingURL;
    const CHAR *pszScriptMapEntry; /* NULL: no script map */
} HTTP_FILTER_URL_MAP_EX, *PHTTP_FILTER_URL_MAP_EX;

typedef struct _HTTP_FILTER_ACCESS_DENIED {
    const CHAR *pszURL;
    const CHAR *pszPhysicalPath;
    DWORD dwReason; /* SF_DENIED_* */
} HTTP_FILTER_ACCESS_DENIED, *PHTTP_FILTER_ACCESS_DENIED;

/* LOG: the strings are read-only; a pointer may be redirected to memory of the filter's that
 * stays valid until the next notification. */
typedef struct _HTTP_FILTER_LOG {
    const CHAR *pszClientHostName;
    const CHAR *pszClientUserName;
    const CHAR *pszServerName;
    const CHAR *pszOperation;
    const CHAR *pszTarget;
    const CHAR *pszParameters;
    DWORD dwHttpStatus;
    DWORD dwWin32Status;
    DWORD dwBytesSent;
    DWORD dwBytesRecvd;
    DWORD msTimeForProcessing;
} HTTP_FILTER_LOG, *PHTTP_FILTER_LOG;

/* The server fills dwServerFilterVersion; the filter the rest. */
typedef struct _HTTP_FILTER_VERSION {
    DWORD dwServerFilterVersion;
    DWORD dwFilterVersion;
    CHAR lpszFilterDesc[SF_MAX_FILTER_DESC_LEN];
    DWORD dwFlags;
} HTTP_FILTER_VERSION, *PHTTP_FILTER_VERSION;

/* ---- Entry points a filter defines -------------------------------------------------- */

/* Called once after loading, in every worker process; FALSE: the filter is not loaded. */
__attribute__((visibility("default"))) BOOL WINAPI GetFilterVersion(PHTTP_FILTER_VERSION pVer);

/* Called for each notification the filter asked for; returns an SF_STATUS_* value. */
__attribute__((visibility("default"))) DWORD WINAPI HttpFilterProc(PHTTP_FILTER_CONTEXT pfc,
                                                                  DWORD NotificationType,
                                                                  LPVOID pvNotification);

/* Called once at shutdown, with 0. Optional. */
__attribute__((visibility("default"))) BOOL WINAPI TerminateFilter(DWORD dwFlags);

#ifdef __cplusplus
}
#endif

#endif /* ISAPI_HTTPFILT_H */
