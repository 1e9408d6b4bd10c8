/* Part of the isapid SDK's windows.h: declarations of libisapi (docs/porting.md): modules
 * (GetModuleFileName, LoadLibrary ...), OutputDebugString, and time.
 *
 * An HMODULE/HINSTANCE is a dlopen handle: the one the server passes to DllMain, or one from
 * LoadLibrary. NULL names the process's executable. Paths use '/' (docs/porting.md). */
#ifndef ISAPI_MODULE_H
#define ISAPI_MODULE_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Modules ------------------------------------------------------------------------- */

/* Windows declares FARPROC as returning INT_PTR; here it is void (*)(void), the type GCC lets
 * be cast to any function pointer type without -Wcast-function-type, so the usual
 * (PFN_SOMETHING)GetProcAddress(h, "Name") compiles cleanly under -Werror. */
typedef void(WINAPI *FARPROC)(void);
typedef FARPROC PROC, NEARPROC;

#define GET_MODULE_HANDLE_EX_FLAG_PIN 0x00000001u
#define GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT 0x00000002u
#define GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS 0x00000004u

#define DONT_RESOLVE_DLL_REFERENCES 0x00000001u
#define LOAD_LIBRARY_AS_DATAFILE 0x00000002u
#define LOAD_WITH_ALTERED_SEARCH_PATH 0x00000008u

/* The module's file path into lpFilename; the length without the NUL. A buffer too small
 * gets the truncated, NUL-terminated path, and the call returns nSize with
 * ERROR_INSUFFICIENT_BUFFER, as on Windows. 0 with ERROR_MOD_NOT_FOUND for an unknown handle. */
ISAPI_RUNTIME_API DWORD WINAPI GetModuleFileNameA(HMODULE hModule, LPSTR lpFilename, DWORD nSize);
/* FROM_ADDRESS: lpModuleName is an address inside the module (a function or variable of it).
 * Without UNCHANGED_REFCOUNT the module's reference count is raised: FreeLibrary it. */
ISAPI_RUNTIME_API BOOL WINAPI GetModuleHandleExA(DWORD dwFlags, LPCSTR lpModuleName, HMODULE *phModule);
/* NULL: the executable. A name: an already-loaded module ("x.dll" also finds "x.so"). */
ISAPI_RUNTIME_API HMODULE WINAPI GetModuleHandleA(LPCSTR lpModuleName);
/* dlopen; "name.dll" loads "name.so" (beside the given path when it has a directory). */
ISAPI_RUNTIME_API HMODULE WINAPI LoadLibraryA(LPCSTR lpLibFileName);
ISAPI_RUNTIME_API HMODULE WINAPI LoadLibraryExA(LPCSTR lpLibFileName, HANDLE hFile, DWORD dwFlags);
ISAPI_RUNTIME_API FARPROC WINAPI GetProcAddress(HMODULE hModule, LPCSTR lpProcName);
ISAPI_RUNTIME_API BOOL WINAPI FreeLibrary(HMODULE hLibModule);
/* TRUE; there are no thread notifications to disable. */
ISAPI_RUNTIME_API BOOL WINAPI DisableThreadLibraryCalls(HMODULE hLibModule);
/* One line on the server's error log (stderr), "[debug] MODULE: text", rate-limited per
 * process (docs/porting.md). */
ISAPI_RUNTIME_API VOID WINAPI OutputDebugStringA(LPCSTR lpOutputString);

#ifndef UNICODE
#define GetModuleFileName GetModuleFileNameA
#define GetModuleHandleEx GetModuleHandleExA
#define GetModuleHandle GetModuleHandleA
#define LoadLibrary LoadLibraryA
#define LoadLibraryEx LoadLibraryExA
#define OutputDebugString OutputDebugStringA
#endif

/* ---- Time ------------------------------------------------------------------------------ */

typedef struct _SYSTEMTIME {
    WORD wYear;
    WORD wMonth; /* 1..12 */
    WORD wDayOfWeek; /* 0 = Sunday */
    WORD wDay;
    WORD wHour;
    WORD wMinute;
    WORD wSecond;
    WORD wMilliseconds;
} SYSTEMTIME, *PSYSTEMTIME, *LPSYSTEMTIME;

/* Milliseconds since an arbitrary start (CLOCK_MONOTONIC); the 32-bit one wraps in 49.7 days. */
ISAPI_RUNTIME_API DWORD WINAPI GetTickCount(void);
ISAPI_RUNTIME_API ULONGLONG WINAPI GetTickCount64(void);
/* Nanoseconds of CLOCK_MONOTONIC; the frequency is 1e9. FALSE + ERROR_INVALID_PARAMETER for NULL. */
ISAPI_RUNTIME_API BOOL WINAPI QueryPerformanceCounter(LARGE_INTEGER *lpPerformanceCount);
ISAPI_RUNTIME_API BOOL WINAPI QueryPerformanceFrequency(LARGE_INTEGER *lpFrequency);
ISAPI_RUNTIME_API VOID WINAPI GetSystemTime(LPSYSTEMTIME lpSystemTime); /* UTC */
ISAPI_RUNTIME_API VOID WINAPI GetLocalTime(LPSYSTEMTIME lpSystemTime); /* the TZ zone */
ISAPI_RUNTIME_API VOID WINAPI GetSystemTimeAsFileTime(LPFILETIME lpSystemTimeAsFileTime);
/* FALSE + ERROR_INVALID_PARAMETER for NULL or an out-of-range value (years 1601..30827). */
ISAPI_RUNTIME_API BOOL WINAPI FileTimeToSystemTime(const FILETIME *lpFileTime, LPSYSTEMTIME lpSystemTime);
ISAPI_RUNTIME_API BOOL WINAPI SystemTimeToFileTime(const SYSTEMTIME *lpSystemTime, LPFILETIME lpFileTime);

/* ---- GUID ------------------------------------------------------------------------------ */

#ifndef GUID_DEFINED
#define GUID_DEFINED
typedef struct _GUID {
    DWORD Data1;
    WORD Data2;
    WORD Data3;
    BYTE Data4[8];
} GUID;
#endif
typedef GUID IID, CLSID, *LPGUID;
typedef const GUID *LPCGUID;
#ifdef __cplusplus
#define REFGUID const GUID &
#define IsEqualGUID(a, b) (memcmp(&(a), &(b), sizeof(GUID)) == 0)
#else
#define REFGUID const GUID *
#define IsEqualGUID(a, b) (memcmp((a), (b), sizeof(GUID)) == 0)
#endif

#ifdef __cplusplus
}
#endif

#endif
