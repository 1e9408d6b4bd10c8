/* libisapi: the registry, which Linux does not have (docs/porting.md, "Configuration files and
 * the registry"). Every key is absent: opening or querying answers ERROR_FILE_NOT_FOUND, as
 * Windows does for a missing key, so code written for IIS takes its defaults (or its INI
 * file); creating a key or writing a value answers ERROR_ACCESS_DENIED, as for a key the
 * process may not write. The functions return their code, as the Reg functions do, and leave
 * the last error alone. No HKEY is ever handed out, so only the predefined keys are valid. */
#include <windows.h>

static BOOL is_predefined(HKEY key)
{
    ULONG_PTR value = (ULONG_PTR)key;
    return value >= (ULONG_PTR)HKEY_CLASSES_ROOT && value <= (ULONG_PTR)HKEY_CURRENT_CONFIG;
}

ISAPI_RUNTIME_API LSTATUS WINAPI RegOpenKeyExA(HKEY hKey, LPCSTR lpSubKey, DWORD ulOptions, REGSAM samDesired,
                                               PHKEY phkResult)
{
    (void)lpSubKey, (void)ulOptions, (void)samDesired;
    if (phkResult == NULL)
        return ERROR_INVALID_PARAMETER;
    *phkResult = NULL;
    return is_predefined(hKey) ? ERROR_FILE_NOT_FOUND : ERROR_INVALID_HANDLE;
}

ISAPI_RUNTIME_API LSTATUS WINAPI RegQueryValueExA(HKEY hKey, LPCSTR lpValueName, LPDWORD lpReserved,
                                                  LPDWORD lpType, LPBYTE lpData, LPDWORD lpcbData)
{
    (void)lpValueName, (void)lpReserved, (void)lpType, (void)lpData;
    if (lpData != NULL && lpcbData == NULL)
        return ERROR_INVALID_PARAMETER;
    return is_predefined(hKey) ? ERROR_FILE_NOT_FOUND : ERROR_INVALID_HANDLE;
}

ISAPI_RUNTIME_API LSTATUS WINAPI RegCreateKeyExA(HKEY hKey, LPCSTR lpSubKey, DWORD Reserved, LPSTR lpClass,
                                                 DWORD dwOptions, REGSAM samDesired,
                                                 LPSECURITY_ATTRIBUTES lpSecurityAttributes, PHKEY phkResult,
                                                 LPDWORD lpdwDisposition)
{
    (void)lpSubKey, (void)Reserved, (void)lpClass, (void)dwOptions, (void)samDesired, (void)lpSecurityAttributes,
        (void)lpdwDisposition;
    if (phkResult == NULL)
        return ERROR_INVALID_PARAMETER;
    *phkResult = NULL;
    return is_predefined(hKey) ? ERROR_ACCESS_DENIED : ERROR_INVALID_HANDLE;
}

ISAPI_RUNTIME_API LSTATUS WINAPI RegSetValueExA(HKEY hKey, LPCSTR lpValueName, DWORD Reserved, DWORD dwType,
                                                const BYTE *lpData, DWORD cbData)
{
    (void)lpValueName, (void)Reserved, (void)dwType, (void)lpData, (void)cbData;
    return is_predefined(hKey) ? ERROR_ACCESS_DENIED : ERROR_INVALID_HANDLE;
}

ISAPI_RUNTIME_API LSTATUS WINAPI RegEnumKeyExA(HKEY hKey, DWORD dwIndex, LPSTR lpName, LPDWORD lpcchName,
                                               LPDWORD lpReserved, LPSTR lpClass, LPDWORD lpcchClass,
                                               PFILETIME lpftLastWriteTime)
{
    (void)dwIndex, (void)lpName, (void)lpcchName, (void)lpReserved, (void)lpClass, (void)lpcchClass,
        (void)lpftLastWriteTime;
    return is_predefined(hKey) ? ERROR_NO_MORE_ITEMS : ERROR_INVALID_HANDLE;
}

ISAPI_RUNTIME_API LSTATUS WINAPI RegCloseKey(HKEY hKey)
{
    return is_predefined(hKey) ? ERROR_SUCCESS : ERROR_INVALID_HANDLE;
}
