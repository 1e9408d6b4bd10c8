/* httpext.h: the ISAPI extension interface, as hosted by isapid (isapid SDK).
 *
 * Names, numeric values and structure field order are those of IIS's httpext.h (IIS 8
 * SDK), so Windows extension sources compile unchanged with `-I include/isapi`. Layouts
 * are the natural C layout of the host ABI; on LP64 EXTENSION_CONTROL_BLOCK is 192 bytes
 * (there are 4 bytes of padding after lpszLogData).
 *
 * An extension is a shared library exporting GetExtensionVersion and HttpExtensionProc,
 * and optionally TerminateExtension and DllMain. Their prototypes below carry default
 * visibility, so they are exported even when the extension is compiled with
 * -fvisibility=hidden, and C linkage, so C++ definitions are found by name. */
#ifndef ISAPI_HTTPEXT_H
#define ISAPI_HTTPEXT_H

#include "windows.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions and sizes ------------------------------------------------------------- */

#define HSE_VERSION_MAJOR 8
#define HSE_VERSION_MINOR 0
/* Major version in the high word; ECB.dwVersion uses the same layout. */
#define HSE_VERSION MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR)

#define HSE_LOG_BUFFER_LEN 80
#define HSE_MAX_EXT_DLL_NAME_LEN 256

/* ---- HttpExtensionProc return values ------------------------------------------------ */

#define HSE_STATUS_SUCCESS 1
#define HSE_STATUS_SUCCESS_AND_KEEP_CONN 2
/* The extension finishes later with HSE_REQ_DONE_WITH_SESSION, from any thread. */
#define HSE_STATUS_PENDING 3
#define HSE_STATUS_ERROR 4

/* ---- ServerSupportFunction requests ------------------------------------------------- */

/* 0..HSE_REQ_END_RESERVED belong to the original interface; the rest are IIS extensions
 * numbered from HSE_REQ_END_RESERVED. Unknown codes fail with ERROR_INVALID_PARAMETER. */
#define HSE_REQ_BASE 0
#define HSE_REQ_SEND_URL_REDIRECT_RESP 1
#define HSE_REQ_SEND_URL 2
#define HSE_REQ_SEND_RESPONSE_HEADER 3 /* superseded by _EX */
#define HSE_REQ_DONE_WITH_SESSION 4
#define HSE_REQ_END_RESERVED 1000

#define HSE_REQ_MAP_URL_TO_PATH 1001
#define HSE_REQ_GET_SSPI_INFO 1002
#define HSE_APPEND_LOG_PARAMETER 1003
#define HSE_REQ_SEND_URL_EX 1004 /* obsolete; old SDKs only */
#define HSE_REQ_IO_COMPLETION 1005
#define HSE_REQ_TRANSMIT_FILE 1006
#define HSE_REQ_REFRESH_ISAPI_ACL 1007
#define HSE_REQ_IS_KEEP_CONN 1008
#define HSE_REQ_ASYNC_READ_CLIENT 1010
#define HSE_REQ_GET_IMPERSONATION_TOKEN 1011
#define HSE_REQ_MAP_URL_TO_PATH_EX 1012
#define HSE_REQ_ABORTIVE_CLOSE 1014
#define HSE_REQ_GET_CERT_INFO_EX 1015
#define HSE_REQ_SEND_RESPONSE_HEADER_EX 1016
#define HSE_REQ_CLOSE_CONNECTION 1017
#define HSE_REQ_IS_CONNECTED 1018
#define HSE_REQ_EXTENSION_TRIGGER 1020 /* pre-IIS 6 SDKs only */
#define HSE_REQ_MAP_UNICODE_URL_TO_PATH 1023
#define HSE_REQ_MAP_UNICODE_URL_TO_PATH_EX 1024
#define HSE_REQ_EXEC_UNICODE_URL 1025
#define HSE_REQ_EXEC_URL 1026
#define HSE_REQ_GET_EXEC_URL_STATUS 1027
#define HSE_REQ_SEND_CUSTOM_ERROR 1028
#define HSE_REQ_IS_IN_PROCESS 1030
#define HSE_REQ_REPORT_UNHEALTHY 1032
#define HSE_REQ_NORMALIZE_URL 1033
#define HSE_REQ_VECTOR_SEND 1037
#define HSE_REQ_GET_ANONYMOUS_TOKEN 1038
#define HSE_REQ_GET_CACHE_INVALIDATION_CALLBACK 1040
#define HSE_REQ_GET_UNICODE_ANONYMOUS_TOKEN 1041
#define HSE_REQ_GET_TRACE_INFO 1042
#define HSE_REQ_SET_FLUSH_FLAG 1043
#define HSE_REQ_GET_TRACE_INFO_EX 1044
#define HSE_REQ_RAISE_TRACE_EVENT 1045
#define HSE_REQ_GET_CONFIG_OBJECT 1046
#define HSE_REQ_GET_WORKER_PROCESS_SETTINGS 1047
#define HSE_REQ_GET_PROTOCOL_MANAGER_CUSTOM_INTERFACE_CALLBACK 1048
#define HSE_REQ_CANCEL_IO 1049
#define HSE_REQ_GET_CHANNEL_BINDING_TOKEN 1050

/* ---- Flags -------------------------------------------------------------------------- */

/* TerminateExtension(dwFlags). Advisory unload may be refused by returning FALSE. */
#define HSE_TERM_ADVISORY_UNLOAD 0x00000001
#define HSE_TERM_MUST_UNLOAD 0x00000002

/* WriteClient's dwReserved, HSE_TF_INFO.dwFlags, HSE_RESPONSE_VECTOR.dwFlags and the
 * data type of HSE_REQ_ASYNC_READ_CLIENT. A WriteClient flag of 0 means HSE_IO_SYNC. */
#define HSE_IO_SYNC 0x00000001
#define HSE_IO_ASYNC 0x00000002
#define HSE_IO_DISCONNECT_AFTER_SEND 0x00000004
#define HSE_IO_SEND_HEADERS 0x00000008
#define HSE_IO_FINAL_SEND 0x00000010
#define HSE_IO_CACHE_RESPONSE 0x00000020
#define HSE_IO_TRY_SKIP_CUSTOM_ERRORS 0x00000040
#define HSE_IO_NODELAY 0x00001000

/* HSE_URL_MAPEX_INFO.dwFlags: the access rights of the mapped URL. */
#define HSE_URL_FLAGS_READ 0x00000001
#define HSE_URL_FLAGS_WRITE 0x00000002
#define HSE_URL_FLAGS_EXECUTE 0x00000004
#define HSE_URL_FLAGS_SSL 0x00000008
#define HSE_URL_FLAGS_DONT_CACHE 0x00000010
#define HSE_URL_FLAGS_NEGO_CERT 0x00000020
#define HSE_URL_FLAGS_REQUIRE_CERT 0x00000040
#define HSE_URL_FLAGS_MAP_CERT 0x00000080
#define HSE_URL_FLAGS_SSL128 0x00000100
#define HSE_URL_FLAGS_SCRIPT 0x00000200
#define HSE_URL_FLAGS_MASK 0x000003ff

/* HSE_EXEC_URL_INFO.dwExecUrlFlags (the set shipped in the IIS SDK). */
#define HSE_EXEC_URL_NO_HEADERS 0x02
#define HSE_EXEC_URL_IGNORE_CURRENT_INTERCEPTOR 0x04
#define HSE_EXEC_URL_IGNORE_VALIDATION_AND_RANGE 0x10
#define HSE_EXEC_URL_DISABLE_CUSTOM_ERROR 0x20
#define HSE_EXEC_URL_SSI_CMD 0x40
#define HSE_EXEC_URL_HTTP_CACHE_ELIGIBLE 0x80

/* HSE_VECTOR_ELEMENT.ElementType. */
#define HSE_VECTOR_ELEMENT_TYPE_MEMORY_BUFFER 0
#define HSE_VECTOR_ELEMENT_TYPE_FILE_HANDLE 1

/* Answers to HSE_REQ_IS_IN_PROCESS. */
#define HSE_APP_FLAG_IN_PROCESS 0
#define HSE_APP_FLAG_ISOLATED_OOP 1
#define HSE_APP_FLAG_POOLED_OOP 2

/* ---- Entry-point data --------------------------------------------------------------- */

/* Filled by GetExtensionVersion: the HSE_VERSION the extension was built for and a
 * NUL-terminated description. */
typedef struct _HSE_VERSION_INFO {
    DWORD dwExtensionVersion;
    CHAR lpszExtensionDesc[HSE_MAX_EXT_DLL_NAME_LEN];
} HSE_VERSION_INFO, *LPHSE_VERSION_INFO;

/* The connection handle passed back to every callback. isapid sets it to the ECB's own
 * address. */
typedef LPVOID HCONN;

/* One per request; owned by the server and valid from the call to HttpExtensionProc until
 * the session ends (HttpExtensionProc returned anything but HSE_STATUS_PENDING, or
 * HSE_REQ_DONE_WITH_SESSION was called). Strings are never NULL; lpbData holds cbAvailable
 * body bytes already read, followed by a NUL. cbTotalBytes is 0xFFFFFFFF when the body
 * length is unknown (chunked) or 4 GiB or more: then read until ReadClient returns 0 bytes. */
typedef struct _EXTENSION_CONTROL_BLOCK {
    DWORD cbSize;           /* sizeof(EXTENSION_CONTROL_BLOCK) */
    DWORD dwVersion;        /* server's HSE_VERSION */
    HCONN ConnID;
    DWORD dwHttpStatusCode; /* set by the extension, for the log */
    CHAR lpszLogData[HSE_LOG_BUFFER_LEN]; /* set by the extension, for the log */
    LPSTR lpszMethod;
    LPSTR lpszQueryString;  /* not URL-decoded */
    LPSTR lpszPathInfo;
    LPSTR lpszPathTranslated;
    DWORD cbTotalBytes;
    DWORD cbAvailable;
    LPBYTE lpbData;
    LPSTR lpszContentType;

    /* On success *lpdwSize is the number of bytes stored, NUL included. Fails with
     * ERROR_INSUFFICIENT_BUFFER and the size needed in *lpdwSize, ERROR_INVALID_INDEX for
     * an unknown name or an HTTP_/HEADER_ name of a header the request lacks (as IIS). */
    BOOL (WINAPI *GetServerVariable)(HCONN hConn, LPSTR lpszVariableName,
                                     LPVOID lpvBuffer, LPDWORD lpdwSize);
    /* dwReserved: HSE_IO_SYNC (or 0) or HSE_IO_ASYNC. Synchronous: *lpdwBytes becomes the
     * count sent. Asynchronous: the count arrives in the completion callback. */
    BOOL (WINAPI *WriteClient)(HCONN ConnID, LPVOID Buffer, LPDWORD lpdwBytes,
                               DWORD dwReserved);
    /* Reads past the cbAvailable bytes of lpbData. May return fewer bytes than asked;
     * TRUE with *lpdwSize == 0 means the body (or the connection) has ended. */
    BOOL (WINAPI *ReadClient)(HCONN ConnID, LPVOID lpvBuffer, LPDWORD lpdwSize);
    BOOL (WINAPI *ServerSupportFunction)(HCONN hConn, DWORD dwHSERequest,
                                         LPVOID lpvBuffer, LPDWORD lpdwSize,
                                         LPDWORD lpdwDataType);
} EXTENSION_CONTROL_BLOCK, *LPEXTENSION_CONTROL_BLOCK;

/* ---- Callback and entry-point types ------------------------------------------------- */

/* Completion of an asynchronous operation: exactly one call per operation accepted by the
 * server, on a server thread, never inside the call that started it (but possibly before
 * that call has returned). cbIO is the byte count; dwError a Win32 error, 0 on success. */
typedef VOID (WINAPI *PFN_HSE_IO_COMPLETION)(EXTENSION_CONTROL_BLOCK *pECB, PVOID pContext,
                                             DWORD cbIO, DWORD dwError);

typedef BOOL (WINAPI *PFN_GETEXTENSIONVERSION)(HSE_VERSION_INFO *pVer);
typedef DWORD (WINAPI *PFN_HTTPEXTENSIONPROC)(EXTENSION_CONTROL_BLOCK *pECB);
typedef BOOL (WINAPI *PFN_TERMINATEEXTENSION)(DWORD dwFlags);

typedef HRESULT (WINAPI *PFN_HSE_CACHE_INVALIDATION_CALLBACK)(WCHAR *pszUrl);

/* ---- ServerSupportFunction structures ----------------------------------------------- */

/* HSE_REQ_TRANSMIT_FILE. hFile is a POSIX fd cast to HANDLE and stays the extension's
 * (the server never closes it). BytesToWrite 0 means to the end of the file. pfnHseIO, if
 * set, replaces the HSE_REQ_IO_COMPLETION callback for this call. With HSE_IO_SEND_HEADERS
 * the server sends pszStatusCode as the status and pHead as a NUL-terminated header block;
 * without it pHead and pTail are raw bytes sent around the file. */
typedef struct _HSE_TF_INFO {
    PFN_HSE_IO_COMPLETION pfnHseIO;
    PVOID pContext;
    HANDLE hFile;
    LPCSTR pszStatusCode;
    DWORD BytesToWrite;
    DWORD Offset;
    PVOID pHead;
    DWORD HeadLength;
    PVOID pTail;
    DWORD TailLength;
    DWORD dwFlags;
} HSE_TF_INFO, *LPHSE_TF_INFO;

/* HSE_REQ_SEND_RESPONSE_HEADER_EX. pszHeader is CRLF-terminated header lines followed by
 * an empty line; bytes after the empty line are sent as body. */
typedef struct _HSE_SEND_HEADER_EX_INFO {
    LPCSTR pszStatus; /* "200 OK" */
    LPCSTR pszHeader;
    DWORD cchStatus;
    DWORD cchHeader;
    BOOL fKeepConn;
} HSE_SEND_HEADER_EX_INFO, *LPHSE_SEND_HEADER_EX_INFO;

/* HSE_REQ_MAP_URL_TO_PATH_EX result. */
typedef struct _HSE_URL_MAPEX_INFO {
    CHAR lpszPath[MAX_PATH];
    DWORD dwFlags;         /* HSE_URL_FLAGS_* */
    DWORD cchMatchingPath;
    DWORD cchMatchingURL;
    DWORD dwReserved1;
    DWORD dwReserved2;
} HSE_URL_MAPEX_INFO, *LPHSE_URL_MAPEX_INFO;

/* HSE_REQ_MAP_UNICODE_URL_TO_PATH_EX result. */
typedef struct _HSE_UNICODE_URL_MAPEX_INFO {
    WCHAR lpszPath[MAX_PATH];
    DWORD dwFlags;
    DWORD cchMatchingPath;
    DWORD cchMatchingURL;
} HSE_UNICODE_URL_MAPEX_INFO, *LPHSE_UNICODE_URL_MAPEX_INFO;

/* One piece of an HSE_REQ_VECTOR_SEND response: pvContext is a buffer of cbSize bytes
 * (cbSize 0 is invalid), or a file HANDLE read from cbOffset (cbSize 0 = to the end). */
typedef struct _HSE_VECTOR_ELEMENT {
    DWORD ElementType; /* HSE_VECTOR_ELEMENT_TYPE_* */
    PVOID pvContext;
    ULONGLONG cbOffset;
    ULONGLONG cbSize;
} HSE_VECTOR_ELEMENT, *LPHSE_VECTOR_ELEMENT;

/* HSE_REQ_VECTOR_SEND. pszStatus and pszHeaders are both set with HSE_IO_SEND_HEADERS and
 * both NULL without it. */
typedef struct _HSE_RESPONSE_VECTOR {
    DWORD dwFlags; /* HSE_IO_* */
    LPSTR pszStatus;
    LPSTR pszHeaders;
    DWORD nElementCount;
    LPHSE_VECTOR_ELEMENT lpElementArray;
} HSE_RESPONSE_VECTOR, *LPHSE_RESPONSE_VECTOR;

/* HSE_REQ_EXEC_URL and its parts; always asynchronous. */
typedef struct _HSE_EXEC_URL_USER_INFO {
    HANDLE hImpersonationToken;
    LPSTR pszCustomUserName;
    LPSTR pszCustomAuthType;
} HSE_EXEC_URL_USER_INFO, *LPHSE_EXEC_URL_USER_INFO;

typedef struct _HSE_EXEC_URL_ENTITY_INFO {
    DWORD cbAvailable;
    LPVOID lpbData;
} HSE_EXEC_URL_ENTITY_INFO, *LPHSE_EXEC_URL_ENTITY_INFO;

typedef struct _HSE_EXEC_URL_STATUS {
    USHORT uHttpStatusCode;
    USHORT uHttpSubStatus;
    DWORD dwWin32Error;
} HSE_EXEC_URL_STATUS, *LPHSE_EXEC_URL_STATUS;

typedef struct _HSE_EXEC_URL_INFO {
    LPSTR pszUrl;          /* NULL: the current URL */
    LPSTR pszMethod;       /* NULL: the current method */
    LPSTR pszChildHeaders; /* extra request headers, CRLF-terminated */
    LPHSE_EXEC_URL_USER_INFO pUserInfo;
    LPHSE_EXEC_URL_ENTITY_INFO pEntity;
    DWORD dwExecUrlFlags;  /* HSE_EXEC_URL_* */
} HSE_EXEC_URL_INFO, *LPHSE_EXEC_URL_INFO;

/* HSE_REQ_EXEC_UNICODE_URL: as above with UTF-16 URL and user name. */
typedef struct _HSE_EXEC_UNICODE_URL_USER_INFO {
    HANDLE hImpersonationToken;
    LPWSTR pszCustomUserName;
    LPSTR pszCustomAuthType;
} HSE_EXEC_UNICODE_URL_USER_INFO, *LPHSE_EXEC_UNICODE_URL_USER_INFO;

typedef struct _HSE_EXEC_UNICODE_URL_INFO {
    LPWSTR pszUrl;
    LPSTR pszMethod;
    LPSTR pszChildHeaders;
    LPHSE_EXEC_UNICODE_URL_USER_INFO pUserInfo;
    LPHSE_EXEC_URL_ENTITY_INFO pEntity;
    DWORD dwExecUrlFlags;
} HSE_EXEC_UNICODE_URL_INFO, *LPHSE_EXEC_UNICODE_URL_INFO;

/* HSE_REQ_SEND_CUSTOM_ERROR. */
typedef struct _HSE_CUSTOM_ERROR_INFO {
    CHAR *pszStatus; /* "500 Server Error" */
    USHORT uHttpSubError;
    BOOL fAsync;
} HSE_CUSTOM_ERROR_INFO, *LPHSE_CUSTOM_ERROR_INFO;

/* HSE_REQ_GET_CERT_INFO_EX: wincrypt.h's CERT_CONTEXT (pCertInfo and hCertStore opaque here),
 * and the ISAPI wrapper the caller allocates pbCertEncoded for (cbAllocated bytes). */
typedef void *HCERTSTORE;
typedef struct _CERT_INFO *PCERT_INFO;
typedef struct _CERT_CONTEXT {
    DWORD dwCertEncodingType;
    BYTE *pbCertEncoded;
    DWORD cbCertEncoded;
    PCERT_INFO pCertInfo;
    HCERTSTORE hCertStore;
} CERT_CONTEXT, *PCERT_CONTEXT;
typedef const CERT_CONTEXT *PCCERT_CONTEXT;

typedef struct _CERT_CONTEXT_EX {
    CERT_CONTEXT CertContext;
    DWORD cbAllocated;
    DWORD dwCertificateFlags; /* bit 0: a client certificate; bit 1: its CA is not trusted */
} CERT_CONTEXT_EX, *PCERT_CONTEXT_EX;

/* HSE_REQ_GET_TRACE_INFO. */
typedef struct _HSE_TRACE_INFO {
    BOOL fTraceRequest;
    BYTE TraceContextId[16];
    DWORD dwReserved1;
    DWORD dwReserved2;
} HSE_TRACE_INFO, *LPHSE_TRACE_INFO;

/* ---- Entry points an extension defines ---------------------------------------------- */

/* Called once after loading; FALSE fails the load. Required. */
__attribute__((visibility("default"))) BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer);

/* Called for each request, on a server pool thread; returns an HSE_STATUS_* code.
 * Required. */
__attribute__((visibility("default"))) DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB);

/* Called before unloading, with an HSE_TERM_* flag, after every request has ended.
 * Optional. */
__attribute__((visibility("default"))) BOOL WINAPI TerminateExtension(DWORD dwFlags);

/* If exported, isapid calls DllMain(module, DLL_PROCESS_ATTACH, NULL) after loading, before
 * GetExtensionVersion (FALSE fails the load), and DLL_PROCESS_DETACH after
 * TerminateExtension. Optional. */
__attribute__((visibility("default"))) BOOL WINAPI DllMain(HINSTANCE hinstDLL, DWORD fdwReason,
                                                           LPVOID lpvReserved);

#ifdef __cplusplus
}
#endif

#endif /* ISAPI_HTTPEXT_H */
