/* IniFile.c - reads its settings from IniFile.ini beside the DLL, after looking in the
 * registry first, as extensions of the IIS 5 era did.
 *
 *   /scripts/IniFile.dll?Section,Key       the string value (default "<none>")
 *   /scripts/IniFile.dll?int:Section,Key   GetPrivateProfileInt (default -1)
 *   /scripts/IniFile.dll?bare:Section,Key  the value read through the bare name "inifile.ini"
 *   /scripts/IniFile.dll?sections          the section names, one a line
 *
 * The directory of the DLL comes from GetModuleFileName of the HINSTANCE DllMain received. */
#include <windows.h>
#include <httpext.h>
#include <strsafe.h>
#include <stdio.h>
#include <string.h>

#define INI_NAME "inifile.ini"
#define REG_KEY  "SOFTWARE\\Contoso\\IniFile"

static char g_szLogLevel[32];

static void SendText(EXTENSION_CONTROL_BLOCK *pECB, LPCSTR pszStatus, LPCSTR pszBody)
{
    HSE_SEND_HEADER_EX_INFO hdr;
    DWORD cb = (DWORD)strlen(pszBody);
    ZeroMemory(&hdr, sizeof(hdr));
    hdr.pszStatus = pszStatus;
    hdr.cchStatus = (DWORD)strlen(pszStatus);
    hdr.pszHeader = "Content-Type: text/plain\r\n\r\n";
    hdr.cchHeader = (DWORD)strlen(hdr.pszHeader);
    hdr.fKeepConn = FALSE;
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &hdr, NULL, NULL);
    pECB->WriteClient(pECB->ConnID, (LPVOID)pszBody, &cb, HSE_IO_SYNC);
}

static HINSTANCE g_hInstance;

BOOL WINAPI DllMain(HINSTANCE hinstDLL, DWORD fdwReason, LPVOID lpvReserved)
{
    UNREFERENCED_PARAMETER(lpvReserved);
    if (fdwReason == DLL_PROCESS_ATTACH)
        g_hInstance = hinstDLL;
    return TRUE;
}

/* The INI file's full path: the DLL's directory plus INI_NAME. */
static BOOL GetIniPath(LPSTR pszPath, DWORD cchPath)
{
    char *pSlash;
    DWORD n = GetModuleFileName(g_hInstance, pszPath, cchPath);
    if (n == 0 || n >= cchPath)
        return FALSE;
    pSlash = strrchr(pszPath, '\\');
    if (pSlash == NULL)
        pSlash = strrchr(pszPath, '/');
    if (pSlash == NULL)
        return FALSE;
    pSlash[1] = '\0';
    return SUCCEEDED(StringCchCat(pszPath, cchPath, INI_NAME)) ? TRUE : FALSE;
}

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    HKEY hKey;
    DWORD dwType, cbData = sizeof(g_szLogLevel);
    pVer->dwExtensionVersion = MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    strcpy_s(pVer->lpszExtensionDesc, HSE_MAX_EXT_DLL_NAME_LEN, "IniFile sample");
    strcpy_s(g_szLogLevel, sizeof(g_szLogLevel), "registry-absent");
    if (RegOpenKeyEx(HKEY_LOCAL_MACHINE, REG_KEY, 0, KEY_READ, &hKey) == ERROR_SUCCESS) {
        RegQueryValueEx(hKey, "LogLevel", NULL, &dwType, (LPBYTE)g_szLogLevel, &cbData);
        RegCloseKey(hKey);
    }
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    char szPath[MAX_PATH], szSection[64], szKey[64], szValue[256], szBody[512];
    LPCSTR pszQuery = pECB->lpszQueryString;
    LPCSTR pszFile = szPath;
    BOOL fInt = FALSE;
    const char *pComma;

    if (!GetIniPath(szPath, sizeof(szPath))) {
        SendText(pECB, "500 Internal Server Error", "GetModuleFileName failed\n");
        return HSE_STATUS_SUCCESS;
    }
    if (lstrcmpi(pszQuery, "sections") == 0) {
        DWORD n = GetPrivateProfileString(NULL, NULL, "", szValue, sizeof(szValue), szPath), i;
        for (i = 0; i < n; i++)
            if (szValue[i] == '\0')
                szValue[i] = '\n';
        szValue[n] = '\0';
        SendText(pECB, "200 OK", szValue);
        return HSE_STATUS_SUCCESS;
    }
    if (lstrcmpi(pszQuery, "registry") == 0) {
        SendText(pECB, "200 OK", g_szLogLevel);
        return HSE_STATUS_SUCCESS;
    }
    if (_strnicmp(pszQuery, "int:", 4) == 0) {
        fInt = TRUE;
        pszQuery += 4;
    } else if (_strnicmp(pszQuery, "bare:", 5) == 0) {
        pszFile = INI_NAME;
        pszQuery += 5;
    }
    pComma = strchr(pszQuery, ',');
    if (pComma == NULL) {
        SendText(pECB, "400 Bad Request", "use ?Section,Key\n");
        return HSE_STATUS_SUCCESS;
    }
    lstrcpyn(szSection, pszQuery, (int)min(sizeof(szSection), (size_t)(pComma - pszQuery + 1)));
    strcpy_s(szKey, sizeof(szKey), pComma + 1);
    if (fInt)
        sprintf_s(szBody, sizeof(szBody), "%d", (INT)GetPrivateProfileInt(szSection, szKey, -1, pszFile));
    else {
        GetPrivateProfileString(szSection, szKey, "<none>", szValue, sizeof(szValue), pszFile);
        strcpy_s(szBody, sizeof(szBody), szValue);
    }
    SendText(pECB, "200 OK", szBody);
    return HSE_STATUS_SUCCESS;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    (void)dwFlags;
    return TRUE;
}
