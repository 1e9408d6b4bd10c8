/* A filter written the way Windows ISAPI filter sources are (the shape of the SDK-era samples:
 * a description copied into the version block, a switch on the notification type, headers
 * read into stack buffers), compiled by compile.sh as C and as C++. It is never run: what is
 * tested is that httpfilt.h accepts this code and that the three entry points are exported. */
#include <windows.h>
#include <httpfilt.h>

#include <string.h>

BOOL WINAPI GetFilterVersion(HTTP_FILTER_VERSION *pVer)
{
    pVer->dwFilterVersion = HTTP_FILTER_REVISION;
    lstrcpynA(pVer->lpszFilterDesc, "winfilter compile test", SF_MAX_FILTER_DESC_LEN);
    pVer->dwFlags = SF_NOTIFY_ORDER_DEFAULT | SF_NOTIFY_SECURE_PORT | SF_NOTIFY_NONSECURE_PORT |
                    SF_NOTIFY_PREPROC_HEADERS | SF_NOTIFY_SEND_RESPONSE | SF_NOTIFY_LOG |
                    SF_NOTIFY_END_OF_NET_SESSION;
    return TRUE;
}

static DWORD OnPreprocHeaders(PHTTP_FILTER_CONTEXT pfc, PHTTP_FILTER_PREPROC_HEADERS pHeaders)
{
    CHAR szUrl[1024];
    DWORD cbUrl = sizeof szUrl;
    if (!pHeaders->GetHeader(pfc, (LPSTR) "url", szUrl, &cbUrl))
        return SF_STATUS_REQ_NEXT_NOTIFICATION;
    if (strncmp(szUrl, "/old/", 5) == 0) {
        CHAR szNew[1024];
        lstrcpyA(szNew, "/new/");
        lstrcpynA(szNew + 5, szUrl + 5, (int)sizeof szNew - 5);
        pHeaders->SetHeader(pfc, (LPSTR) "url", szNew);
        return SF_STATUS_REQ_HANDLED_NOTIFICATION;
    }
    if (pfc->pFilterContext == NULL)
        pfc->pFilterContext = pfc->AllocMem(pfc, 16, 0);
    return SF_STATUS_REQ_NEXT_NOTIFICATION;
}

DWORD WINAPI HttpFilterProc(PHTTP_FILTER_CONTEXT pfc, DWORD NotificationType, LPVOID pvNotification)
{
    switch (NotificationType) {
    case SF_NOTIFY_PREPROC_HEADERS:
        return OnPreprocHeaders(pfc, (PHTTP_FILTER_PREPROC_HEADERS)pvNotification);
    case SF_NOTIFY_SEND_RESPONSE: {
        PHTTP_FILTER_SEND_RESPONSE pResp = (PHTTP_FILTER_SEND_RESPONSE)pvNotification;
        if (pResp->HttpStatus == 200)
            pResp->AddHeader(pfc, (LPSTR) "X-Filtered:", (LPSTR) "yes");
        return SF_STATUS_REQ_NEXT_NOTIFICATION;
    }
    case SF_NOTIFY_LOG: {
        PHTTP_FILTER_LOG pLog = (PHTTP_FILTER_LOG)pvNotification;
        pLog->pszClientUserName = "-";
        return SF_STATUS_REQ_NEXT_NOTIFICATION;
    }
    case SF_NOTIFY_END_OF_NET_SESSION:
        pfc->pFilterContext = NULL;
        return SF_STATUS_REQ_NEXT_NOTIFICATION;
    default:
        return SF_STATUS_REQ_NEXT_NOTIFICATION;
    }
}

BOOL WINAPI TerminateFilter(DWORD dwFlags)
{
    UNREFERENCED_PARAMETER(dwFlags);
    return TRUE;
}
