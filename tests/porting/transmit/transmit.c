/*
 * transmit.c - sends a file from the web site with TransmitFile.
 *
 *   /transmit.dll?NAME   maps "/NAME" to a file with HSE_REQ_MAP_URL_TO_PATH, opens it with
 *                        CreateFile and sends it with HSE_REQ_TRANSMIT_FILE (asynchronous,
 *                        with the response head): 200, Content-Length = GetFileSize.
 *                        A file that cannot be opened: 404 "CreateFile failed: error N".
 *
 * The completion routine closes the file handle and ends the session.
 */

#include <windows.h>
#include <httpext.h>

typedef struct _TRANSMIT_CONTEXT {
    HANDLE      hFile;
    HSE_TF_INFO TfInfo;
    CHAR        szHead[128];
} TRANSMIT_CONTEXT, *PTRANSMIT_CONTEXT;

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    lstrcpyn(pVer->lpszExtensionDesc, "TransmitFile sample", HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}

static DWORD SendError(EXTENSION_CONTROL_BLOCK *pECB, LPCSTR pszStatus, LPCSTR pszWhat, DWORD dwError)
{
    HSE_SEND_HEADER_EX_INFO HeaderInfo;
    CHAR  szText[128];
    DWORD cbText;

    wsprintf(szText, "%s failed: error %u\r\n", pszWhat, (unsigned)dwError);
    cbText = (DWORD)lstrlen(szText);
    HeaderInfo.pszStatus = pszStatus;
    HeaderInfo.pszHeader = "Content-Type: text/plain\r\n\r\n";
    HeaderInfo.cchStatus = (DWORD)lstrlen(pszStatus);
    HeaderInfo.cchHeader = (DWORD)lstrlen(HeaderInfo.pszHeader);
    HeaderInfo.fKeepConn = TRUE;
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &HeaderInfo, NULL, NULL);
    pECB->WriteClient(pECB->ConnID, szText, &cbText, HSE_IO_SYNC);
    return HSE_STATUS_SUCCESS;
}

static VOID WINAPI TransmitDone(EXTENSION_CONTROL_BLOCK *pECB, PVOID pContext, DWORD cbIO, DWORD dwError)
{
    PTRANSMIT_CONTEXT pCtx = (PTRANSMIT_CONTEXT)pContext;
    DWORD dwStatus = dwError == NO_ERROR ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR;

    CloseHandle(pCtx->hFile);
    HeapFree(GetProcessHeap(), 0, pCtx);
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_DONE_WITH_SESSION, &dwStatus, NULL, NULL);
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    CHAR  szPath[MAX_PATH];
    DWORD cbPath = sizeof(szPath);
    DWORD dwSize, dwSizeHigh;
    PTRANSMIT_CONTEXT pCtx;

    wsprintf(szPath, "/%.*s", (int)(sizeof(szPath) - 2), pECB->lpszQueryString);
    if (!pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_MAP_URL_TO_PATH, szPath, &cbPath, NULL))
        return SendError(pECB, "400 Bad Request", "HSE_REQ_MAP_URL_TO_PATH", GetLastError());

    pCtx = (PTRANSMIT_CONTEXT)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(TRANSMIT_CONTEXT));
    if (pCtx == NULL)
        return SendError(pECB, "500 Server Error", "HeapAlloc", GetLastError());

    pCtx->hFile = CreateFile(szPath, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                             FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, NULL);
    if (pCtx->hFile == INVALID_HANDLE_VALUE) {
        DWORD dwError = GetLastError();
        HeapFree(GetProcessHeap(), 0, pCtx);
        return SendError(pECB, "404 Not Found", "CreateFile", dwError);
    }
    dwSize = GetFileSize(pCtx->hFile, &dwSizeHigh);

    wsprintf(pCtx->szHead, "Content-Type: application/octet-stream\r\nContent-Length: %u\r\n\r\n",
             (unsigned)dwSize);
    pCtx->TfInfo.pfnHseIO = TransmitDone;
    pCtx->TfInfo.pContext = pCtx;
    pCtx->TfInfo.hFile = pCtx->hFile;
    pCtx->TfInfo.pszStatusCode = "200 OK";
    pCtx->TfInfo.BytesToWrite = 0;          /* the whole file */
    pCtx->TfInfo.Offset = 0;
    pCtx->TfInfo.pHead = pCtx->szHead;
    pCtx->TfInfo.HeadLength = (DWORD)lstrlen(pCtx->szHead);
    pCtx->TfInfo.dwFlags = HSE_IO_ASYNC | HSE_IO_SEND_HEADERS;

    if (!pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_TRANSMIT_FILE, &pCtx->TfInfo, NULL, NULL)) {
        DWORD dwError = GetLastError();
        CloseHandle(pCtx->hFile);
        HeapFree(GetProcessHeap(), 0, pCtx);
        return SendError(pECB, "500 Server Error", "HSE_REQ_TRANSMIT_FILE", dwError);
    }
    return HSE_STATUS_PENDING;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    return TRUE;
}
