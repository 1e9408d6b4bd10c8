// SecureCrt.c : an ISAPI extension in the style of the Windows SDK samples that uses the
// "secure" CRT with the size mistakes such samples made: sizeof of a pointer where the
// buffer's size was meant, and strlen of the destination as its size. Under the Microsoft
// CRT each mistake calls the invalid parameter handler; the isapid runtime bounds each call by
// the destination array's real size instead, so the page comes out whole.
//
// GET /scripts/securecrt.dll?QUERY answers 200, text/plain, one "name: value" line each:
//   sample: SecureCrt
//   method: GET                        (copied with sizeof(pointer) as the size)
//   banner: Hello from the SecureCrt sample, ported unchanged   (truncated to 47 characters)
//   banner-result: 34                  (ERANGE: the banner does not fit MAX_BANNER)
//   query: QUERY                       (at most 127 characters)
//   query-result: 0                    (34 when QUERY is longer than 127 characters)
//   greeting: Hello, world              (strcat_s with strlen(dst) as the size)
//   hex: ff                            (_itoa_s)
//   body: received N bytes             (StringCchPrintf with sizeof(pointer) as the size)
//   get: yes                           (_stricmp of the method against "get")
//   query-length: L                    (StringCchLength)
//   end

#include <windows.h>
#include <httpext.h>
#include <stdio.h>
#include <tchar.h>
#include <strsafe.h>
#include "SecureCrt.h"

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    strcpy_s(pVer->lpszExtensionDesc, HSE_MAX_EXT_DLL_NAME_LEN, "SecureCrt ISAPI sample");
    return TRUE;
}

static void FillRequestInfo(EXTENSION_CONTROL_BLOCK *pECB, PREQUEST_INFO pInfo)
{
    LPSTR pszMethod = pInfo->szMethod;

    // The classic mistake: sizeof(pszMethod) is the size of the pointer.
    strcpy_s(pszMethod, sizeof(pszMethod), pECB->lpszMethod);

    pInfo->dwQueryResult = strcpy_s(pInfo->szQuery, sizeof(pInfo->szQuery),
                                    pECB->lpszQueryString);
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    REQUEST_INFO info;
    CHAR   szPage[PAGE_SIZE];
    CHAR   szGreeting[32];
    CHAR   szHex[16];
    CHAR   szCount[32];
    CHAR   szNumber[16];
    LPSTR  pszCount = szCount;
    DWORD  dwBannerResult;
    DWORD  cbPage;
    size_t cchQuery = 0;
    HSE_SEND_HEADER_EX_INFO hdr;

    ZeroMemory(&info, sizeof(info));
    FillRequestInfo(pECB, &info);

    dwBannerResult = strcpy_s(info.szBanner, sizeof(info.szBanner),
                              "Hello from the SecureCrt sample, ported unchanged");

    // strlen of the destination as its size: 0 for the empty string.
    szGreeting[0] = '\0';
    strcat_s(szGreeting, strlen(szGreeting), "Hello");
    strcat_s(szGreeting, strlen(szGreeting), ", world");

    _itoa_s(255, szHex, _countof(szHex), 16);
    StringCchPrintf(pszCount, sizeof(pszCount), _T("received %lu bytes"),
                    (unsigned long)pECB->cbTotalBytes);
    StringCchLength(info.szQuery, _countof(info.szQuery), &cchQuery);

    szPage[0] = '\0';
    AppendLine(szPage, sizeof(szPage), "sample", "SecureCrt");
    AppendLine(szPage, sizeof(szPage), "method", info.szMethod);
    AppendLine(szPage, sizeof(szPage), "banner", info.szBanner);
    sprintf_s(szNumber, sizeof(szNumber), "%u", dwBannerResult);
    AppendLine(szPage, sizeof(szPage), "banner-result", szNumber);
    AppendLine(szPage, sizeof(szPage), "query", info.szQuery);
    sprintf_s(szNumber, sizeof(szNumber), "%u", info.dwQueryResult);
    AppendLine(szPage, sizeof(szPage), "query-result", szNumber);
    AppendLine(szPage, sizeof(szPage), "greeting", szGreeting);
    AppendLine(szPage, sizeof(szPage), "hex", szHex);
    AppendLine(szPage, sizeof(szPage), "body", szCount);
    AppendLine(szPage, sizeof(szPage), "get", _stricmp(info.szMethod, "get") == 0 ? "yes" : "no");
    _snprintf(szNumber, sizeof(szNumber), "%u", (unsigned)cchQuery);
    AppendLine(szPage, sizeof(szPage), "query-length", szNumber);
    strcat_s(szPage, sizeof(szPage), "end\r\n");

    hdr.pszStatus = "200 OK";
    hdr.pszHeader = "Content-Type: text/plain\r\n\r\n";
    hdr.cchStatus = (DWORD)strlen(hdr.pszStatus);
    hdr.cchHeader = (DWORD)strlen(hdr.pszHeader);
    hdr.fKeepConn = TRUE;
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &hdr, NULL, NULL);

    cbPage = (DWORD)strlen(szPage);
    pECB->WriteClient(pECB->ConnID, szPage, &cbPage, HSE_IO_SYNC);
    return HSE_STATUS_SUCCESS;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    UNREFERENCED_PARAMETER(dwFlags);
    return TRUE;
}
