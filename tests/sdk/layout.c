/* The SDK headers against the ABI: type widths and identities, every structure's size and
 * field offsets on LP64, and every constant's value (tables of ISAPI-NOTES §1 and the
 * winerror.h numbers). Extensions are compiled from source, so what must hold is the
 * natural layout of the IIS field order on this ABI; these numbers pin it down. */
#include <windows.h>
#include <httpext.h>
#include <iisext.h>

#include <stddef.h>
#include <stdint.h>

#include "check.h"

#define SAME_TYPE(a, b) __builtin_types_compatible_p(a, b)

#define FIELD(type, field, off, size)                        \
    do {                                                     \
        CHECK_INT(offsetof(type, field), off);               \
        CHECK_INT(sizeof(((type *)0)->field), size);         \
    } while (0)

static void check_types(void)
{
    CHECK_INT(sizeof(DWORD), 4);
    CHECK(SAME_TYPE(DWORD, uint32_t));
    CHECK((DWORD)-1 > 0);
    CHECK_INT(sizeof(WORD), 2);
    CHECK(SAME_TYPE(WORD, uint16_t));
    CHECK_INT(sizeof(BYTE), 1);
    CHECK(SAME_TYPE(BYTE, uint8_t));
    CHECK_INT(sizeof(BOOL), 4);
    CHECK(SAME_TYPE(BOOL, int));
    CHECK(SAME_TYPE(CHAR, char));
    CHECK_INT(sizeof(WCHAR), 2);
    CHECK((WCHAR)-1 > 0);
    CHECK_INT(sizeof(LONG), 4);
    CHECK((LONG)-1 < 0);
    CHECK_INT(sizeof(ULONG), 4);
    CHECK_INT(sizeof(USHORT), 2);
    CHECK_INT(sizeof(ULONGLONG), 8);
    CHECK_INT(sizeof(LONGLONG), 8);
    CHECK_INT(sizeof(HRESULT), 4);
    CHECK((HRESULT)-1 < 0);
    CHECK_INT(sizeof(HANDLE), sizeof(void *));
    CHECK_INT(sizeof(HCONN), sizeof(void *));
    CHECK_INT(sizeof(HMODULE), sizeof(void *));
    CHECK_INT(sizeof(HINSTANCE), sizeof(void *));
    CHECK_INT(sizeof(DWORD_PTR), sizeof(void *));
    CHECK_INT(sizeof(ULONG_PTR), sizeof(void *));
    CHECK_INT(sizeof(UINT_PTR), sizeof(void *));
    CHECK_INT(sizeof(INT_PTR), sizeof(void *));
    CHECK_INT(sizeof(SIZE_T), sizeof(size_t));
    CHECK(SAME_TYPE(LPSTR, char *));
    CHECK(SAME_TYPE(LPCSTR, const char *));
    CHECK(SAME_TYPE(LPWSTR, WCHAR *));
    CHECK(SAME_TYPE(LPCWSTR, const WCHAR *));
    CHECK(SAME_TYPE(LPVOID, void *));
    CHECK(SAME_TYPE(PVOID, void *));
    CHECK(SAME_TYPE(LPCVOID, const void *));
    CHECK(SAME_TYPE(LPBYTE, BYTE *));
    CHECK(SAME_TYPE(LPDWORD, DWORD *));
    CHECK(SAME_TYPE(LPLONG, LONG *));
    CHECK(SAME_TYPE(PCHAR, char *));
    CHECK(INVALID_HANDLE_VALUE == (HANDLE)(intptr_t)-1);
    CHECK_INT(TRUE, 1);
    CHECK_INT(FALSE, 0);
    CHECK(NULL == (void *)0);

    CHECK_INT(MAKELONG(0x1234, 0x5678), 0x56781234);
    CHECK_INT(MAKEWORD(0x12, 0x34), 0x3412);
    CHECK_INT(LOWORD(0x56781234), 0x1234);
    CHECK_INT(HIWORD(0x56781234), 0x5678);
    CHECK_INT(LOBYTE(0x3412), 0x12);
    CHECK_INT(HIBYTE(0x3412), 0x34);
    CHECK_INT(HIWORD(HSE_VERSION), HSE_VERSION_MAJOR);
    CHECK_INT(LOWORD(HSE_VERSION), HSE_VERSION_MINOR);

    /* The callback and entry-point signatures, exactly. */
    EXTENSION_CONTROL_BLOCK *ecb = NULL;
    (void)ecb;
    CHECK(SAME_TYPE(__typeof__(ecb->GetServerVariable), BOOL (*)(HCONN, LPSTR, LPVOID, LPDWORD)));
    CHECK(SAME_TYPE(__typeof__(ecb->WriteClient), BOOL (*)(HCONN, LPVOID, LPDWORD, DWORD)));
    CHECK(SAME_TYPE(__typeof__(ecb->ReadClient), BOOL (*)(HCONN, LPVOID, LPDWORD)));
    CHECK(SAME_TYPE(__typeof__(ecb->ServerSupportFunction),
                    BOOL (*)(HCONN, DWORD, LPVOID, LPDWORD, LPDWORD)));
    CHECK(SAME_TYPE(PFN_HSE_IO_COMPLETION, void (*)(EXTENSION_CONTROL_BLOCK *, PVOID, DWORD, DWORD)));
    CHECK(SAME_TYPE(PFN_GETEXTENSIONVERSION, BOOL (*)(HSE_VERSION_INFO *)));
    CHECK(SAME_TYPE(PFN_HTTPEXTENSIONPROC, DWORD (*)(EXTENSION_CONTROL_BLOCK *)));
    CHECK(SAME_TYPE(PFN_TERMINATEEXTENSION, BOOL (*)(DWORD)));
    CHECK(SAME_TYPE(PFN_HSE_CACHE_INVALIDATION_CALLBACK, HRESULT (*)(WCHAR *)));
    CHECK(SAME_TYPE(__typeof__(&GetExtensionVersion), PFN_GETEXTENSIONVERSION));
    CHECK(SAME_TYPE(__typeof__(&HttpExtensionProc), PFN_HTTPEXTENSIONPROC));
    CHECK(SAME_TYPE(__typeof__(&TerminateExtension), PFN_TERMINATEEXTENSION));
    CHECK(SAME_TYPE(__typeof__(&DllMain), BOOL (*)(HINSTANCE, DWORD, LPVOID)));
    CHECK(SAME_TYPE(__typeof__(&GetLastError), DWORD (*)(void)));
    CHECK(SAME_TYPE(__typeof__(&SetLastError), void (*)(DWORD)));
    CHECK(SAME_TYPE(LPEXTENSION_CONTROL_BLOCK, EXTENSION_CONTROL_BLOCK *));
    CHECK(SAME_TYPE(HCONN, LPVOID));
}

static void check_layouts(void)
{
    CHECK_INT(sizeof(HSE_VERSION_INFO), 260);
    FIELD(HSE_VERSION_INFO, dwExtensionVersion, 0, 4);
    FIELD(HSE_VERSION_INFO, lpszExtensionDesc, 4, 256);

    CHECK_INT(sizeof(EXTENSION_CONTROL_BLOCK), 192);
    FIELD(EXTENSION_CONTROL_BLOCK, cbSize, 0, 4);
    FIELD(EXTENSION_CONTROL_BLOCK, dwVersion, 4, 4);
    FIELD(EXTENSION_CONTROL_BLOCK, ConnID, 8, 8);
    FIELD(EXTENSION_CONTROL_BLOCK, dwHttpStatusCode, 16, 4);
    FIELD(EXTENSION_CONTROL_BLOCK, lpszLogData, 20, 80);
    /* 100..104: padding to align the pointer that follows */
    FIELD(EXTENSION_CONTROL_BLOCK, lpszMethod, 104, 8);
    FIELD(EXTENSION_CONTROL_BLOCK, lpszQueryString, 112, 8);
    FIELD(EXTENSION_CONTROL_BLOCK, lpszPathInfo, 120, 8);
    FIELD(EXTENSION_CONTROL_BLOCK, lpszPathTranslated, 128, 8);
    FIELD(EXTENSION_CONTROL_BLOCK, cbTotalBytes, 136, 4);
    FIELD(EXTENSION_CONTROL_BLOCK, cbAvailable, 140, 4);
    FIELD(EXTENSION_CONTROL_BLOCK, lpbData, 144, 8);
    FIELD(EXTENSION_CONTROL_BLOCK, lpszContentType, 152, 8);
    FIELD(EXTENSION_CONTROL_BLOCK, GetServerVariable, 160, 8);
    FIELD(EXTENSION_CONTROL_BLOCK, WriteClient, 168, 8);
    FIELD(EXTENSION_CONTROL_BLOCK, ReadClient, 176, 8);
    FIELD(EXTENSION_CONTROL_BLOCK, ServerSupportFunction, 184, 8);

    CHECK_INT(sizeof(HSE_TF_INFO), 72);
    FIELD(HSE_TF_INFO, pfnHseIO, 0, 8);
    FIELD(HSE_TF_INFO, pContext, 8, 8);
    FIELD(HSE_TF_INFO, hFile, 16, 8);
    FIELD(HSE_TF_INFO, pszStatusCode, 24, 8);
    FIELD(HSE_TF_INFO, BytesToWrite, 32, 4);
    FIELD(HSE_TF_INFO, Offset, 36, 4);
    FIELD(HSE_TF_INFO, pHead, 40, 8);
    FIELD(HSE_TF_INFO, HeadLength, 48, 4);
    FIELD(HSE_TF_INFO, pTail, 56, 8);
    FIELD(HSE_TF_INFO, TailLength, 64, 4);
    FIELD(HSE_TF_INFO, dwFlags, 68, 4);
    CHECK(SAME_TYPE(LPHSE_TF_INFO, HSE_TF_INFO *));

    CHECK_INT(sizeof(HSE_SEND_HEADER_EX_INFO), 32);
    FIELD(HSE_SEND_HEADER_EX_INFO, pszStatus, 0, 8);
    FIELD(HSE_SEND_HEADER_EX_INFO, pszHeader, 8, 8);
    FIELD(HSE_SEND_HEADER_EX_INFO, cchStatus, 16, 4);
    FIELD(HSE_SEND_HEADER_EX_INFO, cchHeader, 20, 4);
    FIELD(HSE_SEND_HEADER_EX_INFO, fKeepConn, 24, 4);

    CHECK_INT(sizeof(HSE_URL_MAPEX_INFO), 280);
    FIELD(HSE_URL_MAPEX_INFO, lpszPath, 0, 260);
    FIELD(HSE_URL_MAPEX_INFO, dwFlags, 260, 4);
    FIELD(HSE_URL_MAPEX_INFO, cchMatchingPath, 264, 4);
    FIELD(HSE_URL_MAPEX_INFO, cchMatchingURL, 268, 4);
    FIELD(HSE_URL_MAPEX_INFO, dwReserved1, 272, 4);
    FIELD(HSE_URL_MAPEX_INFO, dwReserved2, 276, 4);

    CHECK_INT(sizeof(HSE_UNICODE_URL_MAPEX_INFO), 532);
    FIELD(HSE_UNICODE_URL_MAPEX_INFO, lpszPath, 0, 520);
    FIELD(HSE_UNICODE_URL_MAPEX_INFO, dwFlags, 520, 4);
    FIELD(HSE_UNICODE_URL_MAPEX_INFO, cchMatchingPath, 524, 4);
    FIELD(HSE_UNICODE_URL_MAPEX_INFO, cchMatchingURL, 528, 4);

    CHECK_INT(sizeof(HSE_VECTOR_ELEMENT), 32);
    FIELD(HSE_VECTOR_ELEMENT, ElementType, 0, 4);
    FIELD(HSE_VECTOR_ELEMENT, pvContext, 8, 8);
    FIELD(HSE_VECTOR_ELEMENT, cbOffset, 16, 8);
    FIELD(HSE_VECTOR_ELEMENT, cbSize, 24, 8);

    CHECK_INT(sizeof(HSE_RESPONSE_VECTOR), 40);
    FIELD(HSE_RESPONSE_VECTOR, dwFlags, 0, 4);
    FIELD(HSE_RESPONSE_VECTOR, pszStatus, 8, 8);
    FIELD(HSE_RESPONSE_VECTOR, pszHeaders, 16, 8);
    FIELD(HSE_RESPONSE_VECTOR, nElementCount, 24, 4);
    FIELD(HSE_RESPONSE_VECTOR, lpElementArray, 32, 8);
    CHECK(SAME_TYPE(__typeof__(((HSE_RESPONSE_VECTOR *)0)->lpElementArray), HSE_VECTOR_ELEMENT *));

    CHECK_INT(sizeof(HSE_EXEC_URL_USER_INFO), 24);
    FIELD(HSE_EXEC_URL_USER_INFO, hImpersonationToken, 0, 8);
    FIELD(HSE_EXEC_URL_USER_INFO, pszCustomUserName, 8, 8);
    FIELD(HSE_EXEC_URL_USER_INFO, pszCustomAuthType, 16, 8);

    CHECK_INT(sizeof(HSE_EXEC_URL_ENTITY_INFO), 16);
    FIELD(HSE_EXEC_URL_ENTITY_INFO, cbAvailable, 0, 4);
    FIELD(HSE_EXEC_URL_ENTITY_INFO, lpbData, 8, 8);

    CHECK_INT(sizeof(HSE_EXEC_URL_STATUS), 8);
    FIELD(HSE_EXEC_URL_STATUS, uHttpStatusCode, 0, 2);
    FIELD(HSE_EXEC_URL_STATUS, uHttpSubStatus, 2, 2);
    FIELD(HSE_EXEC_URL_STATUS, dwWin32Error, 4, 4);

    CHECK_INT(sizeof(HSE_EXEC_URL_INFO), 48);
    FIELD(HSE_EXEC_URL_INFO, pszUrl, 0, 8);
    FIELD(HSE_EXEC_URL_INFO, pszMethod, 8, 8);
    FIELD(HSE_EXEC_URL_INFO, pszChildHeaders, 16, 8);
    FIELD(HSE_EXEC_URL_INFO, pUserInfo, 24, 8);
    FIELD(HSE_EXEC_URL_INFO, pEntity, 32, 8);
    FIELD(HSE_EXEC_URL_INFO, dwExecUrlFlags, 40, 4);

    CHECK_INT(sizeof(HSE_EXEC_UNICODE_URL_USER_INFO), 24);
    FIELD(HSE_EXEC_UNICODE_URL_USER_INFO, hImpersonationToken, 0, 8);
    FIELD(HSE_EXEC_UNICODE_URL_USER_INFO, pszCustomUserName, 8, 8);
    FIELD(HSE_EXEC_UNICODE_URL_USER_INFO, pszCustomAuthType, 16, 8);
    CHECK(SAME_TYPE(__typeof__(((HSE_EXEC_UNICODE_URL_USER_INFO *)0)->pszCustomUserName), LPWSTR));
    CHECK(SAME_TYPE(__typeof__(((HSE_EXEC_UNICODE_URL_USER_INFO *)0)->pszCustomAuthType), LPSTR));

    CHECK_INT(sizeof(HSE_EXEC_UNICODE_URL_INFO), 48);
    FIELD(HSE_EXEC_UNICODE_URL_INFO, pszUrl, 0, 8);
    FIELD(HSE_EXEC_UNICODE_URL_INFO, pszMethod, 8, 8);
    FIELD(HSE_EXEC_UNICODE_URL_INFO, pszChildHeaders, 16, 8);
    FIELD(HSE_EXEC_UNICODE_URL_INFO, pUserInfo, 24, 8);
    FIELD(HSE_EXEC_UNICODE_URL_INFO, pEntity, 32, 8);
    FIELD(HSE_EXEC_UNICODE_URL_INFO, dwExecUrlFlags, 40, 4);
    CHECK(SAME_TYPE(__typeof__(((HSE_EXEC_UNICODE_URL_INFO *)0)->pszUrl), LPWSTR));
    CHECK(SAME_TYPE(__typeof__(((HSE_EXEC_UNICODE_URL_INFO *)0)->pszMethod), LPSTR));

    CHECK_INT(sizeof(HSE_CUSTOM_ERROR_INFO), 16);
    FIELD(HSE_CUSTOM_ERROR_INFO, pszStatus, 0, 8);
    FIELD(HSE_CUSTOM_ERROR_INFO, uHttpSubError, 8, 2);
    FIELD(HSE_CUSTOM_ERROR_INFO, fAsync, 12, 4);

    CHECK_INT(sizeof(CERT_CONTEXT), 40);
    FIELD(CERT_CONTEXT, dwCertEncodingType, 0, 4);
    FIELD(CERT_CONTEXT, pbCertEncoded, 8, 8);
    FIELD(CERT_CONTEXT, cbCertEncoded, 16, 4);
    FIELD(CERT_CONTEXT, pCertInfo, 24, 8);
    FIELD(CERT_CONTEXT, hCertStore, 32, 8);
    CHECK_INT(sizeof(CERT_CONTEXT_EX), 48);
    FIELD(CERT_CONTEXT_EX, CertContext, 0, 40);
    FIELD(CERT_CONTEXT_EX, cbAllocated, 40, 4);
    FIELD(CERT_CONTEXT_EX, dwCertificateFlags, 44, 4);

    CHECK_INT(sizeof(HSE_TRACE_INFO), 28);
    FIELD(HSE_TRACE_INFO, fTraceRequest, 0, 4);
    FIELD(HSE_TRACE_INFO, TraceContextId, 4, 16);
    FIELD(HSE_TRACE_INFO, dwReserved1, 20, 4);
    FIELD(HSE_TRACE_INFO, dwReserved2, 24, 4);
}

struct constant {
    const char *name;
    long long got, want;
};

#define K(name, value) {#name, (long long)(name), (long long)(value)}

static const struct constant constants[] = {
    K(HSE_VERSION_MAJOR, 8),
    K(HSE_VERSION_MINOR, 0),
    K(HSE_VERSION, 0x00080000),
    K(HSE_LOG_BUFFER_LEN, 80),
    K(HSE_MAX_EXT_DLL_NAME_LEN, 256),
    K(MAX_PATH, 260),

    K(HSE_STATUS_SUCCESS, 1),
    K(HSE_STATUS_SUCCESS_AND_KEEP_CONN, 2),
    K(HSE_STATUS_PENDING, 3),
    K(HSE_STATUS_ERROR, 4),

    K(HSE_REQ_BASE, 0),
    K(HSE_REQ_SEND_URL_REDIRECT_RESP, 1),
    K(HSE_REQ_SEND_URL, 2),
    K(HSE_REQ_SEND_RESPONSE_HEADER, 3),
    K(HSE_REQ_DONE_WITH_SESSION, 4),
    K(HSE_REQ_END_RESERVED, 1000),
    K(HSE_REQ_MAP_URL_TO_PATH, 1001),
    K(HSE_REQ_GET_SSPI_INFO, 1002),
    K(HSE_APPEND_LOG_PARAMETER, 1003),
    K(HSE_REQ_SEND_URL_EX, 1004),
    K(HSE_REQ_IO_COMPLETION, 1005),
    K(HSE_REQ_TRANSMIT_FILE, 1006),
    K(HSE_REQ_REFRESH_ISAPI_ACL, 1007),
    K(HSE_REQ_IS_KEEP_CONN, 1008),
    K(HSE_REQ_ASYNC_READ_CLIENT, 1010),
    K(HSE_REQ_GET_IMPERSONATION_TOKEN, 1011),
    K(HSE_REQ_MAP_URL_TO_PATH_EX, 1012),
    K(HSE_REQ_ABORTIVE_CLOSE, 1014),
    K(HSE_REQ_GET_CERT_INFO_EX, 1015),
    K(HSE_REQ_SEND_RESPONSE_HEADER_EX, 1016),
    K(HSE_REQ_CLOSE_CONNECTION, 1017),
    K(HSE_REQ_IS_CONNECTED, 1018),
    K(HSE_REQ_EXTENSION_TRIGGER, 1020),
    K(HSE_REQ_MAP_UNICODE_URL_TO_PATH, 1023),
    K(HSE_REQ_MAP_UNICODE_URL_TO_PATH_EX, 1024),
    K(HSE_REQ_EXEC_UNICODE_URL, 1025),
    K(HSE_REQ_EXEC_URL, 1026),
    K(HSE_REQ_GET_EXEC_URL_STATUS, 1027),
    K(HSE_REQ_SEND_CUSTOM_ERROR, 1028),
    K(HSE_REQ_IS_IN_PROCESS, 1030),
    K(HSE_REQ_REPORT_UNHEALTHY, 1032),
    K(HSE_REQ_NORMALIZE_URL, 1033),
    K(HSE_REQ_VECTOR_SEND, 1037),
    K(HSE_REQ_GET_ANONYMOUS_TOKEN, 1038),
    K(HSE_REQ_GET_CACHE_INVALIDATION_CALLBACK, 1040),
    K(HSE_REQ_GET_UNICODE_ANONYMOUS_TOKEN, 1041),
    K(HSE_REQ_GET_TRACE_INFO, 1042),
    K(HSE_REQ_SET_FLUSH_FLAG, 1043),
    K(HSE_REQ_GET_TRACE_INFO_EX, 1044),
    K(HSE_REQ_RAISE_TRACE_EVENT, 1045),
    K(HSE_REQ_GET_CONFIG_OBJECT, 1046),
    K(HSE_REQ_GET_WORKER_PROCESS_SETTINGS, 1047),
    K(HSE_REQ_GET_PROTOCOL_MANAGER_CUSTOM_INTERFACE_CALLBACK, 1048),
    K(HSE_REQ_CANCEL_IO, 1049),
    K(HSE_REQ_GET_CHANNEL_BINDING_TOKEN, 1050),

    K(HSE_TERM_ADVISORY_UNLOAD, 1),
    K(HSE_TERM_MUST_UNLOAD, 2),

    K(HSE_IO_SYNC, 0x1),
    K(HSE_IO_ASYNC, 0x2),
    K(HSE_IO_DISCONNECT_AFTER_SEND, 0x4),
    K(HSE_IO_SEND_HEADERS, 0x8),
    K(HSE_IO_FINAL_SEND, 0x10),
    K(HSE_IO_CACHE_RESPONSE, 0x20),
    K(HSE_IO_TRY_SKIP_CUSTOM_ERRORS, 0x40),
    K(HSE_IO_NODELAY, 0x1000),

    K(HSE_URL_FLAGS_READ, 0x1),
    K(HSE_URL_FLAGS_WRITE, 0x2),
    K(HSE_URL_FLAGS_EXECUTE, 0x4),
    K(HSE_URL_FLAGS_SSL, 0x8),
    K(HSE_URL_FLAGS_DONT_CACHE, 0x10),
    K(HSE_URL_FLAGS_NEGO_CERT, 0x20),
    K(HSE_URL_FLAGS_REQUIRE_CERT, 0x40),
    K(HSE_URL_FLAGS_MAP_CERT, 0x80),
    K(HSE_URL_FLAGS_SSL128, 0x100),
    K(HSE_URL_FLAGS_SCRIPT, 0x200),
    K(HSE_URL_FLAGS_MASK, 0x3ff),

    K(HSE_EXEC_URL_NO_HEADERS, 0x02),
    K(HSE_EXEC_URL_IGNORE_CURRENT_INTERCEPTOR, 0x04),
    K(HSE_EXEC_URL_IGNORE_VALIDATION_AND_RANGE, 0x10),
    K(HSE_EXEC_URL_DISABLE_CUSTOM_ERROR, 0x20),
    K(HSE_EXEC_URL_SSI_CMD, 0x40),
    K(HSE_EXEC_URL_HTTP_CACHE_ELIGIBLE, 0x80),

    K(HSE_VECTOR_ELEMENT_TYPE_MEMORY_BUFFER, 0),
    K(HSE_VECTOR_ELEMENT_TYPE_FILE_HANDLE, 1),

    K(HSE_APP_FLAG_IN_PROCESS, 0),
    K(HSE_APP_FLAG_ISOLATED_OOP, 1),
    K(HSE_APP_FLAG_POOLED_OOP, 2),

    K(DLL_PROCESS_DETACH, 0),
    K(DLL_PROCESS_ATTACH, 1),
    K(DLL_THREAD_ATTACH, 2),
    K(DLL_THREAD_DETACH, 3),

    K(ERROR_SUCCESS, 0),
    K(NO_ERROR, 0),
    K(ERROR_INVALID_FUNCTION, 1),
    K(ERROR_FILE_NOT_FOUND, 2),
    K(ERROR_PATH_NOT_FOUND, 3),
    K(ERROR_ACCESS_DENIED, 5),
    K(ERROR_INVALID_HANDLE, 6),
    K(ERROR_NOT_ENOUGH_MEMORY, 8),
    K(ERROR_INVALID_DATA, 13),
    K(ERROR_OUTOFMEMORY, 14),
    K(ERROR_WRITE_FAULT, 29),
    K(ERROR_READ_FAULT, 30),
    K(ERROR_HANDLE_EOF, 38),
    K(ERROR_NOT_SUPPORTED, 50),
    K(ERROR_NETNAME_DELETED, 64),
    K(ERROR_INVALID_PARAMETER, 87),
    K(ERROR_BROKEN_PIPE, 109),
    K(ERROR_INSUFFICIENT_BUFFER, 122),
    K(ERROR_MOD_NOT_FOUND, 126),
    K(ERROR_PROC_NOT_FOUND, 127),
    K(ERROR_BAD_PATHNAME, 161),
    K(ERROR_ALREADY_EXISTS, 183),
    K(ERROR_FILENAME_EXCED_RANGE, 206),
    K(ERROR_NO_DATA, 232),
    K(ERROR_MORE_DATA, 234),
    K(ERROR_NO_MORE_ITEMS, 259),
    K(ERROR_OPERATION_ABORTED, 995),
    K(ERROR_IO_INCOMPLETE, 996),
    K(ERROR_IO_PENDING, 997),
    K(ERROR_DLL_INIT_FAILED, 1114),
    K(ERROR_NOT_FOUND, 1168),
    K(ERROR_CANCELLED, 1223),
    K(ERROR_CONNECTION_ABORTED, 1236),
    K(ERROR_INTERNAL_ERROR, 1359),
    K(ERROR_INVALID_INDEX, 1413),
    K(ERROR_TIMEOUT, 1460),
    K(WSAEINVAL, 10022),
    K(WSAECONNRESET, 10054),
    K(WSAENOTCONN, 10057),
    K(WSAESHUTDOWN, 10058),
    K(WSAEDISCON, 10101),

    K(S_OK, 0),
    K(S_FALSE, 1),
    K(E_NOTIMPL, (int32_t)0x80004001u),
    K(E_FAIL, (int32_t)0x80004005u),
    K(E_OUTOFMEMORY, (int32_t)0x8007000Eu),
    K(E_INVALIDARG, (int32_t)0x80070057u),
};

static void check_constants(void)
{
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
        check_count++;
        if (constants[i].got != constants[i].want) {
            check_failures++;
            fprintf(stderr, "constant %s = %lld, want %lld\n", constants[i].name, constants[i].got,
                    constants[i].want);
        }
    }
    CHECK(FAILED(E_FAIL));
    CHECK(SUCCEEDED(S_FALSE));
}

/* The string helpers behave as their Windows namesakes. */
static void check_helpers(void)
{
    char buf[16];
    CHECK_INT(lstrlenA(NULL), 0);
    CHECK_INT(lstrlenA("abc"), 3);
    CHECK_STR(lstrcpynA(buf, "abcdef", 4), "abc");
    CHECK_STR(lstrcpynA(buf, "ab", 4), "ab");
    CHECK_INT(lstrcmpiA("Content-Type", "content-TYPE"), 0);
    CHECK(lstrcmpA("a", "b") < 0);
    CHECK_INT(wsprintfA(buf, "%u-%s", (unsigned)ERROR_NO_DATA, "x"), 5);
    CHECK_STR(buf, "232-x");
    ZeroMemory(buf, sizeof buf);
    CHECK_INT(buf[0], 0);
    FillMemory(buf, 3, 'z');
    CHECK_STR(buf, "zzz");
    CHECK_INT(min(3, 4), 3);
    CHECK_INT(max(3, 4), 4);
}

int main(void)
{
    if (sizeof(void *) != 8) {
        printf("sdk.layout: the expected offsets are those of LP64; skipped\n");
        return 77;
    }
    check_types();
    check_layouts();
    check_constants();
    check_helpers();
    return check_report("sdk.layout");
}
