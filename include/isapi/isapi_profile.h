/* Part of the isapid SDK's windows.h: declarations of libisapi (docs/porting.md,
 * "Configuration files and the registry" and "What is not provided"). */
#ifndef ISAPI_PROFILE_H
#define ISAPI_PROFILE_H

#ifdef __cplusplus
extern "C" {
#endif

/* INI files (runtime/profile.c). A relative lpFileName is relative to the directory of the
 * module that calls the function (the extension's .so), where Windows uses its own directory. */
ISAPI_RUNTIME_API DWORD WINAPI GetPrivateProfileStringA(LPCSTR lpAppName, LPCSTR lpKeyName, LPCSTR lpDefault,
                                                        LPSTR lpReturnedString, DWORD nSize, LPCSTR lpFileName);
ISAPI_RUNTIME_API UINT WINAPI GetPrivateProfileIntA(LPCSTR lpAppName, LPCSTR lpKeyName, INT nDefault,
                                                    LPCSTR lpFileName);
ISAPI_RUNTIME_API DWORD WINAPI GetPrivateProfileSectionA(LPCSTR lpAppName, LPSTR lpReturnedString, DWORD nSize,
                                                         LPCSTR lpFileName);
/* Sets a key (lpString), deletes it (lpString NULL) or deletes a section (lpKeyName NULL). */
ISAPI_RUNTIME_API BOOL WINAPI WritePrivateProfileStringA(LPCSTR lpAppName, LPCSTR lpKeyName, LPCSTR lpString,
                                                         LPCSTR lpFileName);
#define WritePrivateProfileString WritePrivateProfileStringA
#define GetPrivateProfileString GetPrivateProfileStringA
#define GetPrivateProfileInt GetPrivateProfileIntA
#define GetPrivateProfileSection GetPrivateProfileSectionA

/* The registry (runtime/registry.c): there is none. Opening or querying a key answers
 * ERROR_FILE_NOT_FOUND, as Windows does for a key that is absent, so code falls back to its
 * defaults; creating or writing one answers ERROR_ACCESS_DENIED. */
typedef struct isapi_hkey *HKEY, **PHKEY;
typedef DWORD REGSAM;
typedef LONG LSTATUS;
#define HKEY_CLASSES_ROOT ((HKEY)(ULONG_PTR)0x80000000u)
#define HKEY_CURRENT_USER ((HKEY)(ULONG_PTR)0x80000001u)
#define HKEY_LOCAL_MACHINE ((HKEY)(ULONG_PTR)0x80000002u)
#define HKEY_USERS ((HKEY)(ULONG_PTR)0x80000003u)
#define HKEY_PERFORMANCE_DATA ((HKEY)(ULONG_PTR)0x80000004u)
#define HKEY_CURRENT_CONFIG ((HKEY)(ULONG_PTR)0x80000005u)
#define REG_NONE 0
#define REG_SZ 1
#define REG_EXPAND_SZ 2
#define REG_BINARY 3
#define REG_DWORD 4
#define REG_MULTI_SZ 7
#define REG_QWORD 11
#define REG_OPTION_NON_VOLATILE 0
#define REG_CREATED_NEW_KEY 1
#define REG_OPENED_EXISTING_KEY 2
#define KEY_QUERY_VALUE 0x0001
#define KEY_SET_VALUE 0x0002
#define KEY_ENUMERATE_SUB_KEYS 0x0008
#define KEY_READ 0x20019
#define KEY_WRITE 0x20006
#define KEY_ALL_ACCESS 0xF003F
ISAPI_RUNTIME_API LSTATUS WINAPI RegOpenKeyExA(HKEY hKey, LPCSTR lpSubKey, DWORD ulOptions, REGSAM samDesired,
                                               PHKEY phkResult);
ISAPI_RUNTIME_API LSTATUS WINAPI RegQueryValueExA(HKEY hKey, LPCSTR lpValueName, LPDWORD lpReserved,
                                                  LPDWORD lpType, LPBYTE lpData, LPDWORD lpcbData);
ISAPI_RUNTIME_API LSTATUS WINAPI RegCreateKeyExA(HKEY hKey, LPCSTR lpSubKey, DWORD Reserved, LPSTR lpClass,
                                                 DWORD dwOptions, REGSAM samDesired,
                                                 LPSECURITY_ATTRIBUTES lpSecurityAttributes, PHKEY phkResult,
                                                 LPDWORD lpdwDisposition);
ISAPI_RUNTIME_API LSTATUS WINAPI RegSetValueExA(HKEY hKey, LPCSTR lpValueName, DWORD Reserved, DWORD dwType,
                                                const BYTE *lpData, DWORD cbData);
ISAPI_RUNTIME_API LSTATUS WINAPI RegEnumKeyExA(HKEY hKey, DWORD dwIndex, LPSTR lpName, LPDWORD lpcchName,
                                               LPDWORD lpReserved, LPSTR lpClass, LPDWORD lpcchClass,
                                               PFILETIME lpftLastWriteTime);
ISAPI_RUNTIME_API LSTATUS WINAPI RegCloseKey(HKEY hKey);
#define RegOpenKeyEx RegOpenKeyExA
#define RegQueryValueEx RegQueryValueExA
#define RegCreateKeyEx RegCreateKeyExA
#define RegSetValueEx RegSetValueExA
#define RegEnumKeyEx RegEnumKeyExA

#ifdef __cplusplus
}
#endif

/* Deliberately not provided: each is a compile error that names what to do instead
 * (docs/porting.md, "What is not provided"). GCC's `unavailable` attribute fails the build at
 * every use of the name, in C and C++, with the message. */
#define ISAPI_NOT_PROVIDED(why) __attribute__((unavailable(why)))
#define ISAPI_NO_COM "COM is not provided by isapid: there is no COM runtime on Linux; call the library directly (docs/porting.md, What is not provided)"
#define ISAPI_NO_TOKENS "Windows access tokens and impersonation are not provided by isapid: the extension runs as the server's user; authenticate in the extension or a proxy (docs/porting.md, What is not provided)"
#ifdef __cplusplus
extern "C" {
#endif
typedef struct IUnknown IUnknown ISAPI_NOT_PROVIDED(ISAPI_NO_COM);
typedef struct IDispatch IDispatch ISAPI_NOT_PROVIDED(ISAPI_NO_COM);
LONG WINAPI CoInitialize(LPVOID) ISAPI_NOT_PROVIDED(ISAPI_NO_COM);
LONG WINAPI CoInitializeEx(LPVOID, DWORD) ISAPI_NOT_PROVIDED(ISAPI_NO_COM);
VOID WINAPI CoUninitialize(void) ISAPI_NOT_PROVIDED(ISAPI_NO_COM);
LONG WINAPI CoCreateInstance(const void *, void *, DWORD, const void *, LPVOID *) ISAPI_NOT_PROVIDED(ISAPI_NO_COM);
BOOL WINAPI OpenThreadToken(HANDLE, DWORD, BOOL, HANDLE *) ISAPI_NOT_PROVIDED(ISAPI_NO_TOKENS);
BOOL WINAPI OpenProcessToken(HANDLE, DWORD, HANDLE *) ISAPI_NOT_PROVIDED(ISAPI_NO_TOKENS);
BOOL WINAPI ImpersonateLoggedOnUser(HANDLE) ISAPI_NOT_PROVIDED(ISAPI_NO_TOKENS);
BOOL WINAPI RevertToSelf(void) ISAPI_NOT_PROVIDED(ISAPI_NO_TOKENS);
BOOL WINAPI LogonUserA(LPCSTR, LPCSTR, LPCSTR, DWORD, DWORD, HANDLE *) ISAPI_NOT_PROVIDED(ISAPI_NO_TOKENS);
#define LogonUser LogonUserA
#ifdef __cplusplus
}
#endif

/* SEH. In C the keywords become a _Static_assert with the message. In C++ libstdc++ defines
 * `__try` as `try` for its own use, so only __except, __finally and __leave are caught there. */
#define ISAPI_NO_SEH "structured exception handling (__try/__except/__finally/__leave) is not provided by isapid: a fault in an extension ends the server as on Linux any crash does; check pointers and results instead (docs/porting.md, What is not provided)"
#ifdef __cplusplus
#define __except(filter) static_assert(false, ISAPI_NO_SEH);
#define __finally static_assert(false, ISAPI_NO_SEH);
#define __leave static_assert(false, ISAPI_NO_SEH);
#else
#define __try _Static_assert(0, ISAPI_NO_SEH);
#define __except(filter) _Static_assert(0, ISAPI_NO_SEH);
#define __finally _Static_assert(0, ISAPI_NO_SEH);
#define __leave _Static_assert(0, ISAPI_NO_SEH);
#endif

#endif
