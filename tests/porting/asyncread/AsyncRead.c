// AsyncRead.c - reads a POST body asynchronously into memory from VirtualAlloc.
//
//   POST /asyncread.dll   (Content-Length up to BUFFER_SIZE)
//       200 "bytes=N sum=S reads=R": N the body size, S the sum of its bytes mod 2^32,
//       R the HSE_REQ_ASYNC_READ_CLIENT completions that delivered data.
//   411 for a body without Content-Length, 413 for one larger than BUFFER_SIZE.
//
// The whole body is gathered in one VirtualAlloc'd buffer (the read-ahead from lpbData
// first), each asynchronous read filling the next part; the last completion answers, frees
// the buffer with VirtualFree(MEM_RELEASE) and ends the session.

#include <windows.h>
#include <httpext.h>

#define BUFFER_SIZE (256 * 1024)

typedef struct _READ_CONTEXT {
    LPBYTE pBuffer;      // VirtualAlloc'd, BUFFER_SIZE bytes
    DWORD  cbReceived;
    DWORD  dwReads;
} READ_CONTEXT, *PREAD_CONTEXT;

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    lstrcpyn(pVer->lpszExtensionDesc, "AsyncRead sample", HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}

static void SendText(EXTENSION_CONTROL_BLOCK *pECB, LPCSTR pszStatus, LPSTR pszText)
{
    HSE_SEND_HEADER_EX_INFO HeaderInfo;
    DWORD cbText = (DWORD)lstrlen(pszText);

    HeaderInfo.pszStatus = pszStatus;
    HeaderInfo.pszHeader = "Content-Type: text/plain\r\n\r\n";
    HeaderInfo.cchStatus = (DWORD)lstrlen(pszStatus);
    HeaderInfo.cchHeader = (DWORD)lstrlen(HeaderInfo.pszHeader);
    HeaderInfo.fKeepConn = TRUE;
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &HeaderInfo, NULL, NULL);
    pECB->WriteClient(pECB->ConnID, pszText, &cbText, HSE_IO_SYNC);
}

static void FinishRequest(EXTENSION_CONTROL_BLOCK *pECB, PREAD_CONTEXT pCtx, DWORD dwError)
{
    CHAR  szText[96];
    DWORD dwStatus = HSE_STATUS_SUCCESS;
    DWORD i, dwSum = 0;

    if (dwError == NO_ERROR) {
        for (i = 0; i < pCtx->cbReceived; i++)
            dwSum += pCtx->pBuffer[i];
        wsprintf(szText, "bytes=%u sum=%u reads=%u\r\n", (unsigned)pCtx->cbReceived,
                 (unsigned)dwSum, (unsigned)pCtx->dwReads);
        SendText(pECB, "200 OK", szText);
    } else {
        dwStatus = HSE_STATUS_ERROR;
    }
    VirtualFree(pCtx->pBuffer, 0, MEM_RELEASE);
    HeapFree(GetProcessHeap(), 0, pCtx);
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_DONE_WITH_SESSION, &dwStatus, NULL, NULL);
}

static BOOL StartRead(EXTENSION_CONTROL_BLOCK *pECB, PREAD_CONTEXT pCtx)
{
    DWORD cbRead = pECB->cbTotalBytes - pCtx->cbReceived;
    DWORD dwFlags = HSE_IO_ASYNC;
    return pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_ASYNC_READ_CLIENT,
                                       pCtx->pBuffer + pCtx->cbReceived, &cbRead, &dwFlags);
}

static VOID WINAPI ReadCompletion(EXTENSION_CONTROL_BLOCK *pECB, PVOID pContext, DWORD cbIO, DWORD dwError)
{
    PREAD_CONTEXT pCtx = (PREAD_CONTEXT)pContext;

    if (dwError == NO_ERROR && cbIO > 0) {
        pCtx->cbReceived += cbIO;
        pCtx->dwReads++;
        if (pCtx->cbReceived < pECB->cbTotalBytes) {
            if (StartRead(pECB, pCtx))
                return;         // the next completion carries on
            dwError = GetLastError();
        }
    } else if (dwError == NO_ERROR) {
        dwError = ERROR_HANDLE_EOF;  // the client stopped early
    }
    FinishRequest(pECB, pCtx, dwError);
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    PREAD_CONTEXT pCtx;
    CHAR szText[64];

    if (pECB->cbTotalBytes == 0xFFFFFFFF) {
        lstrcpy(szText, "Content-Length required\r\n");
        SendText(pECB, "411 Length Required", szText);
        return HSE_STATUS_SUCCESS;
    }
    if (pECB->cbTotalBytes > BUFFER_SIZE) {
        lstrcpy(szText, "too large\r\n");
        SendText(pECB, "413 Payload Too Large", szText);
        return HSE_STATUS_SUCCESS;
    }

    pCtx = (PREAD_CONTEXT)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(READ_CONTEXT));
    if (pCtx == NULL)
        return HSE_STATUS_ERROR;
    pCtx->pBuffer = (LPBYTE)VirtualAlloc(NULL, BUFFER_SIZE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (pCtx->pBuffer == NULL) {
        HeapFree(GetProcessHeap(), 0, pCtx);
        return HSE_STATUS_ERROR;
    }
    CopyMemory(pCtx->pBuffer, pECB->lpbData, pECB->cbAvailable);
    pCtx->cbReceived = pECB->cbAvailable;

    if (pCtx->cbReceived >= pECB->cbTotalBytes) {
        FinishRequest(pECB, pCtx, NO_ERROR);
        return HSE_STATUS_PENDING;   // FinishRequest ended the session
    }
    if (!pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_IO_COMPLETION, (LPVOID)ReadCompletion,
                                     NULL, (LPDWORD)pCtx) ||
        !StartRead(pECB, pCtx)) {
        VirtualFree(pCtx->pBuffer, 0, MEM_RELEASE);
        HeapFree(GetProcessHeap(), 0, pCtx);
        return HSE_STATUS_ERROR;
    }
    return HSE_STATUS_PENDING;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    return TRUE;
}
