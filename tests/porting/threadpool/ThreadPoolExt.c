// ThreadPoolExt.c - the ISAPI entry points of the ThreadPool sample.
//
//   /threadpool.dll?delay=MS   queued; a pool thread answers after Sleep(MS) (at most 5000):
//                              "served=N thread=TID delay=MS"
//   /threadpool.dll?stats      answered at once: "served=N"

#include "ThreadPool.h"
#include <stdlib.h>

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    lstrcpyn(pVer->lpszExtensionDesc, "ThreadPool ISAPI sample", HSE_MAX_EXT_DLL_NAME_LEN);
    return InitThreadPool();
}

static DWORD SendText(EXTENSION_CONTROL_BLOCK *pECB, LPCSTR pszStatus, LPSTR pszText)
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
    return HSE_STATUS_SUCCESS;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    CHAR  szText[64];
    DWORD dwDelay = 0;
    LPSTR pszQuery = pECB->lpszQueryString;

    if (lstrcmpi(pszQuery, "stats") == 0) {
        wsprintf(szText, "served=%d\r\n", (int)GetServedCount());
        return SendText(pECB, "200 OK", szText);
    }
    if (strncmp(pszQuery, "delay=", 6) == 0)
        dwDelay = (DWORD)atoi(pszQuery + 6);
    if (dwDelay > 5000)
        dwDelay = 5000;

    if (!QueueWorkItem(pECB, dwDelay)) {
        lstrcpy(szText, "queue full\r\n");
        return SendText(pECB, "503 Service Unavailable", szText);
    }
    return HSE_STATUS_PENDING;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    StopThreadPool();
    return TRUE;
}
