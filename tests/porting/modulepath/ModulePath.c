// ModulePath.c : an ISAPI extension in the style of the Windows SDK samples that finds its own
// DLL the two ways connectors do, to read a configuration file beside it: the HINSTANCE that
// DllMain receives, passed to GetModuleFileName, and GetModuleHandleEx(FROM_ADDRESS) of one
// of its own functions. It also reports through OutputDebugString, as such code does.
//
// GET /scripts/modulepath.dll answers 200, text/plain, one "name: value" line each:
//   instance-path: PATH       (GetModuleFileName(hInstance from DllMain))
//   address-path: PATH        (GetModuleFileName of GetModuleHandleEx(FROM_ADDRESS, ...))
//   same-module: yes          (both handles are the same module)
//   directory: DIR            (PATH up to its last separator, '\\' or '/')
//   config-name: DIR/ModulePath.ini
//   truncated: N E            (GetModuleFileName into 8 bytes: N = 8, E = 122)
//   end

#include <windows.h>
#include <httpext.h>
#include <stdio.h>
#include <string.h>

static HINSTANCE g_hInstance;

BOOL WINAPI DllMain(HINSTANCE hinstDLL, DWORD fdwReason, LPVOID lpvReserved)
{
    UNREFERENCED_PARAMETER(lpvReserved);
    if (fdwReason == DLL_PROCESS_ATTACH) {
        g_hInstance = hinstDLL;
        DisableThreadLibraryCalls(hinstDLL);
    }
    return TRUE;
}

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = MAKELONG(HSE_VERSION_MINOR, HSE_VERSION_MAJOR);
    lstrcpynA(pVer->lpszExtensionDesc, "ModulePath ISAPI sample", HSE_MAX_EXT_DLL_NAME_LEN);
    OutputDebugString("ModulePath: GetExtensionVersion\n");
    return TRUE;
}

// The directory part of a module path: up to the last '\\' (as written for Windows) or '/'.
static void DirectoryOf(LPCSTR pszPath, LPSTR pszDir, DWORD cchDir)
{
    LPCSTR pszSep = strrchr(pszPath, '\\');
    LPCSTR pszSlash = strrchr(pszPath, '/');
    if (pszSep == NULL || (pszSlash != NULL && pszSlash > pszSep))
        pszSep = pszSlash;
    DWORD cch = pszSep ? (DWORD)(pszSep - pszPath) : 0;
    if (cch >= cchDir)
        cch = cchDir - 1;
    memcpy(pszDir, pszPath, cch);
    pszDir[cch] = '\0';
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    CHAR szInstancePath[MAX_PATH] = "";
    CHAR szAddressPath[MAX_PATH] = "";
    CHAR szDir[MAX_PATH];
    CHAR szSmall[8];
    CHAR szPage[4 * MAX_PATH + 256];
    HMODULE hSelf = NULL;
    DWORD cchSmall, dwSmallError;
    HSE_SEND_HEADER_EX_INFO hdr;
    DWORD cb;

    GetModuleFileName(g_hInstance, szInstancePath, MAX_PATH);
    if (GetModuleHandleEx(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                          (LPCSTR)&HttpExtensionProc, &hSelf))
        GetModuleFileName(hSelf, szAddressPath, MAX_PATH);
    cchSmall = GetModuleFileName(g_hInstance, szSmall, sizeof(szSmall));
    dwSmallError = GetLastError();
    DirectoryOf(szInstancePath, szDir, sizeof(szDir));

    sprintf_s(szPage, sizeof(szPage),
              "instance-path: %s\r\naddress-path: %s\r\nsame-module: %s\r\ndirectory: %s\r\n"
              "config-name: %s/ModulePath.ini\r\ntruncated: %u %u\r\nend\r\n",
              szInstancePath, szAddressPath, hSelf == g_hInstance ? "yes" : "no", szDir, szDir,
              cchSmall, dwSmallError);
    OutputDebugString("ModulePath: answered a request\n");

    hdr.pszStatus = "200 OK";
    hdr.cchStatus = (DWORD)strlen(hdr.pszStatus);
    hdr.pszHeader = "Content-Type: text/plain\r\n\r\n";
    hdr.cchHeader = (DWORD)strlen(hdr.pszHeader);
    hdr.fKeepConn = FALSE;
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &hdr, NULL, NULL);
    cb = (DWORD)strlen(szPage);
    pECB->WriteClient(pECB->ConnID, szPage, &cb, HSE_IO_SYNC);
    return HSE_STATUS_SUCCESS;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    UNREFERENCED_PARAMETER(dwFlags);
    return TRUE;
}
