// CppCrt.cpp : a C++ ISAPI extension in the style of the Visual C++ samples that relies on
// the secure CRT's template overloads for arrays: strcpy_s(buf, src) and friends take the
// size from the array's type.
//
// GET /scripts/cppcrt.dll?NAME answers 200, text/plain:
//   sample: CppCrt
//   name: NAME                 (strcpy_s(buf, src); at most 31 characters)
//   name-result: 0             (34 when NAME does not fit)
//   title: Dear NAME           (strcat_s(buf, src), cut by _snprintf_s(buf, _TRUNCATE, ...))
//   prefix: abc                (strncpy_s(buf, src, 3))
//   decimal: -1234             (_itoa_s(value, buf, 10))
//   elements: 32               (_countof)
//   method-is-get: 1           (_stricmp)
//   joined: abcxy              (strncat_s(buf, src, 2))
//   formatted: 7 items         (vsprintf_s(buf, fmt, ap))
//   end

#include <windows.h>
#include <httpext.h>
#include <strsafe.h>
#include <stdarg.h>

class CPage
{
public:
    CPage() { m_szText[0] = '\0'; }

    void Line(const char *pszName, const char *pszValue)
    {
        char szLine[128];
        sprintf_s(szLine, "%s: %s\r\n", pszName, pszValue);
        strcat_s(m_szText, szLine);
    }

    void Line(const char *pszName, int nValue)
    {
        char szNumber[16];
        _itoa_s(nValue, szNumber, 10);
        Line(pszName, szNumber);
    }

    void LineFormat(const char *pszName, const char *pszFormat, ...)
    {
        char szValue[64];
        va_list args;
        va_start(args, pszFormat);
        vsprintf_s(szValue, pszFormat, args);
        va_end(args);
        Line(pszName, szValue);
    }

    void End() { strcat_s(m_szText, sizeof(m_szText), "end\r\n"); }

    const char *Text() const { return m_szText; }

private:
    char m_szText[1024];
};

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    strcpy_s(pVer->lpszExtensionDesc, "CppCrt ISAPI sample");
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    CPage page;
    char szName[32];
    char szTitle[24];
    char szPrefix[8];

    errno_t err = strcpy_s(szName, pECB->lpszQueryString);

    strcpy_s(szTitle, "Dear ");
    if (strcat_s(szTitle, szName) != 0)
        _snprintf_s(szTitle, _TRUNCATE, "Dear %s", szName);

    strncpy_s(szPrefix, "abcdef", 3);

    page.Line("sample", "CppCrt");
    page.Line("name", szName);
    page.Line("name-result", err);
    page.Line("title", szTitle);
    page.Line("prefix", szPrefix);
    page.Line("decimal", -1234);
    page.Line("elements", (int)_countof(szName));
    page.Line("method-is-get", _stricmp(pECB->lpszMethod, "GET") == 0);
    char szJoined[16];
    strcpy_s(szJoined, "abc");
    strncat_s(szJoined, "xyz", 2);
    page.Line("joined", szJoined);
    page.LineFormat("formatted", "%d %s", 7, "items");
    page.End();

    HSE_SEND_HEADER_EX_INFO hdr;
    hdr.pszStatus = "200 OK";
    hdr.pszHeader = "Content-Type: text/plain\r\n\r\n";
    hdr.cchStatus = (DWORD)strlen(hdr.pszStatus);
    hdr.cchHeader = (DWORD)strlen(hdr.pszHeader);
    hdr.fKeepConn = TRUE;
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &hdr, NULL, NULL);

    DWORD cb = (DWORD)strlen(page.Text());
    pECB->WriteClient(pECB->ConnID, (LPVOID)page.Text(), &cb, HSE_IO_SYNC);
    return HSE_STATUS_SUCCESS;
}
