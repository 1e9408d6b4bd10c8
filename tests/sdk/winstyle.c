/* An extension written the way Windows ISAPI sources are, compiled by compile.sh as C and
 * as C++ with -Wall -Wextra -Werror -fvisibility=hidden. It is never run: what
 * is tested is that the SDK headers accept this code and that the entry points (and the
 * __declspec(dllexport) function) are exported while everything else stays hidden.
 *
 * Things Windows code does that need a change here are deliberately absent: printing a
 * DWORD with %lu (DWORD is 32 bits: use %u) and, in C++, passing a string literal where the
 * ABI says LPSTR without a cast. */
#include <windows.h>
#include <httpext.h>
#include <iisext.h>

static DWORD g_dwLoads;
static __declspec(thread) DWORD t_dwCalls;
static __declspec(align(16)) BYTE g_abScratch[64];
static unsigned __int64 g_cbTotal;

BOOL APIENTRY DllMain(HMODULE hModule, DWORD ul_reason_for_call, LPVOID lpReserved)
{
    UNREFERENCED_PARAMETER(hModule);
    UNREFERENCED_PARAMETER(lpReserved);
    switch (ul_reason_for_call) {
    case DLL_PROCESS_ATTACH:
        g_dwLoads++;
        break;
    case DLL_THREAD_ATTACH:
    case DLL_THREAD_DETACH:
    case DLL_PROCESS_DETACH:
        break;
    }
    return TRUE;
}

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    lstrcpyA(pVer->lpszExtensionDesc, "Windows-style extension");
    return TRUE;
}

static VOID WINAPI WriteDone(EXTENSION_CONTROL_BLOCK *pECB, PVOID pContext, DWORD cbIO,
                             DWORD dwError)
{
    DWORD dwStatus = dwError == ERROR_SUCCESS ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;
    UNREFERENCED_PARAMETER(pContext);
    g_cbTotal += cbIO;
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_DONE_WITH_SESSION, &dwStatus, NULL, NULL);
}

static BOOL SendOld(LPEXTENSION_CONTROL_BLOCK pECB)
{
    /* ISAPI 1.0 style: status in lpvBuffer, extra headers in lpdwDataType. */
    return pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_SEND_RESPONSE_HEADER,
                                       (LPVOID) "200 OK", NULL,
                                       (LPDWORD) "Content-Type: text/html\r\n\r\n");
}

DWORD WINAPI HttpExtensionProc(LPEXTENSION_CONTROL_BLOCK pECB)
{
    CHAR szServer[MAX_PATH];
    CHAR szBody[512];
    TCHAR szMethod[16];
    LPCTSTR pszHello = TEXT("Hello");
    DWORD dwSize = sizeof(szServer);
    DWORD dwLen;
    HSE_SEND_HEADER_EX_INFO hei;
    HSE_TF_INFO tfi;
    HSE_URL_MAPEX_INFO mapex;
    HSE_VECTOR_ELEMENT elem;
    HSE_RESPONSE_VECTOR vec;
    HSE_EXEC_URL_INFO exec;
    HSE_EXEC_URL_STATUS execStatus;
    HSE_CUSTOM_ERROR_INFO cerr;
    HANDLE hFile = INVALID_HANDLE_VALUE;
    PFN_HSE_IO_COMPLETION pfn = WriteDone;
    BOOL fKeep = FALSE;

    t_dwCalls++;
    ZeroMemory(g_abScratch, sizeof(g_abScratch));

    if (!pECB->GetServerVariable(pECB->ConnID, (LPSTR) "SERVER_NAME", szServer, &dwSize)) {
        if (GetLastError() == ERROR_INSUFFICIENT_BUFFER)
            lstrcpyn(szServer, "unknown", sizeof(szServer));
        else
            return HSE_STATUS_ERROR;
    }
    lstrcpynA(szMethod, pECB->lpszMethod, 16);
    if (lstrcmpi(szMethod, "POST") == 0 && pECB->cbTotalBytes == 0xFFFFFFFF)
        SetLastError(ERROR_NOT_SUPPORTED);

    if (pECB->dwVersion < HSE_VERSION)
        return SendOld(pECB) ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;

    dwLen = (DWORD)wsprintfA(szBody, "<p>%s from %s: %d of %u bytes, calls %u, loads %u</p>",
                             pszHello, szServer, (int)pECB->cbAvailable, pECB->cbTotalBytes,
                             t_dwCalls, g_dwLoads);

    ZeroMemory(&hei, sizeof(hei));
    hei.pszStatus = "200 OK";
    hei.cchStatus = lstrlenA(hei.pszStatus);
    hei.pszHeader = "Content-Type: text/html\r\n\r\n";
    hei.cchHeader = lstrlen(hei.pszHeader);
    hei.fKeepConn = TRUE;
    if (!pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &hei,
                                     NULL, NULL))
        return HSE_STATUS_ERROR;

    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_IS_KEEP_CONN, &fKeep, NULL, NULL);
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_IO_COMPLETION, (LPVOID)pfn, NULL,
                                (LPDWORD)pECB);

    dwSize = sizeof(mapex.lpszPath);
    CopyMemory(mapex.lpszPath, "/", 2);
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_MAP_URL_TO_PATH_EX, mapex.lpszPath,
                                &dwSize, (LPDWORD)&mapex);

    FillMemory(&tfi, sizeof(tfi), 0);
    tfi.pfnHseIO = WriteDone;
    tfi.hFile = hFile;
    tfi.dwFlags = HSE_IO_ASYNC | HSE_IO_DISCONNECT_AFTER_SEND;
    if (tfi.hFile != INVALID_HANDLE_VALUE)
        pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_TRANSMIT_FILE, &tfi, NULL, NULL);

    elem.ElementType = HSE_VECTOR_ELEMENT_TYPE_MEMORY_BUFFER;
    elem.pvContext = szBody;
    elem.cbOffset = 0;
    elem.cbSize = dwLen;
    vec.dwFlags = HSE_IO_SYNC | HSE_IO_FINAL_SEND;
    vec.pszStatus = NULL;
    vec.pszHeaders = NULL;
    vec.nElementCount = 1;
    vec.lpElementArray = &elem;
    (void)vec;

    ZeroMemory(&exec, sizeof(exec));
    exec.dwExecUrlFlags = HSE_EXEC_URL_NO_HEADERS | HSE_EXEC_URL_DISABLE_CUSTOM_ERROR;
    ZeroMemory(&execStatus, sizeof(execStatus));
    cerr.pszStatus = (CHAR *)"500 Server Error";
    cerr.uHttpSubError = 13;
    cerr.fAsync = FALSE;
    (void)exec;
    (void)cerr;
    (void)execStatus;

    if (!pECB->WriteClient(pECB->ConnID, szBody, &dwLen, 0))
        return HSE_STATUS_ERROR;
    pECB->dwHttpStatusCode = 200;
    lstrcpynA(pECB->lpszLogData, "ok", HSE_LOG_BUFFER_LEN);
    return fKeep ? HSE_STATUS_SUCCESS_AND_KEEP_CONN : HSE_STATUS_SUCCESS;
}

__declspec(dllexport) BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    return (dwFlags & HSE_TERM_MUST_UNLOAD) ? TRUE : (g_cbTotal == 0);
}

/* Not an ISAPI entry point: exported only by __declspec(dllexport). */
#ifdef __cplusplus
extern "C"
#endif
__declspec(dllexport) int WINAPI ExtraExport(void);
#ifdef __cplusplus
extern "C"
#endif
__declspec(dllexport) int WINAPI ExtraExport(void)
{
    return (int)g_dwLoads;
}

/* Must not be exported under -fvisibility=hidden. */
int HiddenHelper(void);
int HiddenHelper(void)
{
    return 42;
}
