/* windows.h for ISAPI extensions built on Linux (isapid SDK).
 *
 * The Win32 vocabulary that ISAPI code uses: integer and pointer types with their Windows
 * widths, macros, the Win32 error numbers hosts and extensions exchange, GetLastError/
 * SetLastError; then (isapi_crt.h, isapi_win32.h) the MSVC C runtime and the Win32 functions
 * ported extensions call, implemented by libisapi (docs/porting.md). Not a whole Win32: only
 * what ISAPI extensions use.
 *
 * Width contract (LP64 and ILP32 alike): DWORD, ULONG and LONG are 32 bits — they are not
 * `unsigned long`, which is 64 bits on LP64 Linux. BOOL is int. WCHAR is a 16-bit UTF-16
 * code unit (not wchar_t, which is 32 bits here). HANDLE and the *_PTR types are pointer
 * sized. A file HANDLE given to the server is a POSIX file descriptor cast to HANDLE:
 * (HANDLE)(intptr_t)fd.
 *
 * GetLastError/SetLastError are defined by the server binary, not here: one slot per
 * thread, shared by the server and every extension, holding Win32 error numbers (not errno).
 *
 * Safe to include before or after httpext.h, from C or C++. */
#ifndef ISAPI_WINDOWS_H
#define ISAPI_WINDOWS_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- Calling conventions and storage classes -------------------------------------- */

/* __stdcall only means something on 32-bit x86 Windows; extensions are compiled from
 * source for the host's own C ABI, so these are empty. */
#ifndef WINAPI
#define WINAPI
#endif
#ifndef WINAPIV
#define WINAPIV
#endif
#ifndef APIENTRY
#define APIENTRY
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef __stdcall
#define __stdcall
#endif
#ifndef __cdecl
#define __cdecl
#endif

/* __declspec(x) maps each supported x to its GCC equivalent by token pasting, so
 * __declspec(dllexport) exports the symbol even under -fvisibility=hidden and
 * __declspec(align(16)) aligns. Any other x does not compile (it becomes the unknown
 * identifier isapi_declspec_x) rather than being silently dropped. A compiler that already
 * provides __declspec as a macro (MinGW) keeps its own. */
#ifndef __declspec
#define __declspec(x) isapi_declspec_##x
#define isapi_declspec_dllexport __attribute__((visibility("default")))
#define isapi_declspec_dllimport
#define isapi_declspec_noreturn __attribute__((noreturn))
#define isapi_declspec_noinline __attribute__((noinline))
#define isapi_declspec_nothrow
#define isapi_declspec_novtable
#define isapi_declspec_selectany __attribute__((weak))
#define isapi_declspec_thread __thread
#define isapi_declspec_align(n) __attribute__((aligned(n)))
#endif

/* SAL-style parameter annotations: documentation only. */
#ifndef IN
#define IN
#endif
#ifndef OUT
#define OUT
#endif
#ifndef OPTIONAL
#define OPTIONAL
#endif
#ifndef CONST
#define CONST const
#endif

/* `VOID f(VOID)` must read as a prototype, so VOID is a macro, not a typedef. */
#ifndef VOID
#define VOID void
#endif

/* Marks a parameter or variable as deliberately unused. */
#ifndef UNREFERENCED_PARAMETER
#define UNREFERENCED_PARAMETER(x) ((void)(x))
#endif

#ifndef __int64
#define __int64 long long
#endif

/* ---- Types ------------------------------------------------------------------------- */

typedef uint32_t DWORD;
typedef uint16_t WORD;
typedef uint8_t BYTE;
typedef int BOOL;
typedef BYTE BOOLEAN;
typedef char CHAR;
typedef unsigned char UCHAR;
typedef int16_t SHORT;
typedef uint16_t USHORT;
typedef int INT;
typedef unsigned int UINT;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;
typedef uint64_t DWORD64;
typedef uint16_t WCHAR;

typedef intptr_t INT_PTR;
typedef uintptr_t UINT_PTR;
typedef intptr_t LONG_PTR;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t DWORD_PTR;
typedef size_t SIZE_T;

typedef int32_t HRESULT;

typedef void *PVOID, *LPVOID;
typedef const void *LPCVOID;
typedef CHAR *PCHAR, *PSTR, *LPSTR;
typedef const CHAR *PCSTR, *LPCSTR;
typedef WCHAR *PWCHAR, *PWSTR, *LPWSTR;
typedef const WCHAR *PCWSTR, *LPCWSTR;
typedef BYTE *PBYTE, *LPBYTE;
typedef WORD *PWORD, *LPWORD;
typedef DWORD *PDWORD, *LPDWORD;
typedef LONG *PLONG, *LPLONG;
typedef ULONG *PULONG;
typedef BOOL *PBOOL, *LPBOOL;
typedef INT *PINT, *LPINT;
typedef UINT *PUINT;

/* Extensions here are narrow-character code: TCHAR is CHAR. */
#ifndef UNICODE
typedef CHAR TCHAR;
typedef LPSTR LPTSTR;
typedef LPCSTR LPCTSTR;
#ifndef TEXT
#define TEXT(s) s
#endif
#endif

typedef void *HANDLE;
typedef HANDLE *PHANDLE, *LPHANDLE;
typedef HANDLE HMODULE;
typedef HANDLE HINSTANCE;

#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

#ifndef MAX_PATH
#define MAX_PATH 260
#endif

/* ---- Word and byte packing ---------------------------------------------------------- */

#define MAKEWORD(lo, hi) ((WORD)(((BYTE)((DWORD_PTR)(lo) & 0xff)) | ((WORD)((BYTE)((DWORD_PTR)(hi) & 0xff))) << 8))
#define MAKELONG(lo, hi) ((LONG)(((WORD)((DWORD_PTR)(lo) & 0xffff)) | ((DWORD)((WORD)((DWORD_PTR)(hi) & 0xffff))) << 16))
#define LOWORD(l) ((WORD)((DWORD_PTR)(l) & 0xffff))
#define HIWORD(l) ((WORD)(((DWORD_PTR)(l) >> 16) & 0xffff))
#define LOBYTE(w) ((BYTE)((DWORD_PTR)(w) & 0xff))
#define HIBYTE(w) ((BYTE)(((DWORD_PTR)(w) >> 8) & 0xff))

/* min/max as in Windows: C only (they would break the C++ standard library), arguments
 * evaluated twice, and NOMINMAX turns them off. */
#if !defined(__cplusplus) && !defined(NOMINMAX)
#ifndef min
#define min(a, b) (((a) < (b)) ? (a) : (b))
#endif
#ifndef max
#define max(a, b) (((a) > (b)) ? (a) : (b))
#endif
#endif

/* ---- DllMain reasons ---------------------------------------------------------------- */

#define DLL_PROCESS_DETACH 0
#define DLL_PROCESS_ATTACH 1
#define DLL_THREAD_ATTACH 2
#define DLL_THREAD_DETACH 3

/* ---- Win32 error numbers (winerror.h values) ---------------------------------------- */

#define ERROR_SUCCESS 0
#define NO_ERROR 0
#define ERROR_INVALID_FUNCTION 1
#define ERROR_FILE_NOT_FOUND 2
#define ERROR_PATH_NOT_FOUND 3
#define ERROR_TOO_MANY_OPEN_FILES 4
#define ERROR_ACCESS_DENIED 5
#define ERROR_INVALID_HANDLE 6
#define ERROR_NOT_ENOUGH_MEMORY 8
#define ERROR_INVALID_DATA 13
#define ERROR_OUTOFMEMORY 14
#define ERROR_WRITE_FAULT 29
#define ERROR_READ_FAULT 30
#define ERROR_HANDLE_EOF 38
#define ERROR_NOT_SUPPORTED 50
#define ERROR_NETNAME_DELETED 64
#define ERROR_INVALID_PARAMETER 87
#define ERROR_BROKEN_PIPE 109
#define ERROR_INSUFFICIENT_BUFFER 122
#define ERROR_MOD_NOT_FOUND 126
#define ERROR_PROC_NOT_FOUND 127
#define ERROR_BAD_PATHNAME 161
#define ERROR_BUSY 170
#define ERROR_ALREADY_EXISTS 183
#define ERROR_FILENAME_EXCED_RANGE 206
#define ERROR_NO_DATA 232
#define ERROR_MORE_DATA 234
#define ERROR_NO_MORE_ITEMS 259
#define ERROR_OPERATION_ABORTED 995
#define ERROR_IO_INCOMPLETE 996
#define ERROR_IO_PENDING 997
#define ERROR_DLL_INIT_FAILED 1114
#define ERROR_NOT_FOUND 1168
#define ERROR_CANCELLED 1223
#define ERROR_CONNECTION_ABORTED 1236
#define ERROR_INTERNAL_ERROR 1359
#define ERROR_INVALID_INDEX 1413
#define ERROR_TIMEOUT 1460

/* Codes the runtime's errno table (runtime/errors.c) and its Win32 functions report. */
#define ERROR_INVALID_ACCESS 12
#define ERROR_NOT_SAME_DEVICE 17
#define ERROR_WRITE_PROTECT 19
#define ERROR_SEEK 25
#define ERROR_GEN_FAILURE 31
#define ERROR_SHARING_VIOLATION 32
#define ERROR_FILE_EXISTS 80
#define ERROR_TOO_MANY_SEMAPHORES 100
#define ERROR_DISK_FULL 112
#define ERROR_INVALID_NAME 123
#define ERROR_NEGATIVE_SEEK 131
#define ERROR_DIR_NOT_EMPTY 145
#define ERROR_FILE_TOO_LARGE 223
#define ERROR_DIRECTORY 267
#define ERROR_NOT_OWNER 288
#define ERROR_TOO_MANY_POSTS 298
#define ERROR_INVALID_ADDRESS 487
#define ERROR_NOACCESS 998
#define ERROR_INVALID_FLAGS 1004
#define ERROR_IO_DEVICE 1117
#define ERROR_CANT_RESOLVE_FILENAME 1921

#define WSAEINVAL 10022
#define WSAECONNRESET 10054
#define WSAENOTCONN 10057
#define WSAESHUTDOWN 10058
#define WSAEDISCON 10101

/* HRESULT: negative means failure. */
#define S_OK ((HRESULT)0)
#define S_FALSE ((HRESULT)1)
#define E_NOTIMPL ((HRESULT)0x80004001u)
#define E_FAIL ((HRESULT)0x80004005u)
#define E_OUTOFMEMORY ((HRESULT)0x8007000Eu)
#define E_INVALIDARG ((HRESULT)0x80070057u)
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr) (((HRESULT)(hr)) < 0)

/* ---- Memory and string helpers ------------------------------------------------------ */

#define ZeroMemory(dst, n) memset((dst), 0, (n))
#define FillMemory(dst, n, fill) memset((dst), (fill), (n))
#define CopyMemory(dst, src, n) memcpy((dst), (src), (n))
#define MoveMemory(dst, src, n) memmove((dst), (src), (n))
#define RtlZeroMemory ZeroMemory
#define RtlFillMemory FillMemory
#define RtlCopyMemory CopyMemory
#define RtlMoveMemory MoveMemory

/* Zeroes memory the compiler may not skip (a password about to go out of scope); returns dst. */
static inline void *SecureZeroMemory(void *dst, size_t n)
{
    volatile unsigned char *p = (volatile unsigned char *)dst;
    while (n-- > 0)
        *p++ = 0;
    return dst;
}
#define RtlSecureZeroMemory SecureZeroMemory

/* The number of elements of an array (winnt.h's names for _countof, isapi_crt.h). */
#define ARRAYSIZE(a) _countof(a)
#define _ARRAYSIZE(a) _countof(a)
#define RTL_NUMBER_OF(a) _countof(a)

#ifdef __cplusplus
extern "C" {
#endif

/* The calling thread's last-error slot; provided by the server. */
__attribute__((visibility("default"))) DWORD WINAPI GetLastError(void);
__attribute__((visibility("default"))) VOID WINAPI SetLastError(DWORD dwErrCode);

/* The lstr* family on the C library. As on Windows, lstrlenA(NULL) is 0. lstrcmpiA folds
 * ASCII case only (Windows compares by locale). */
static inline int lstrlenA(LPCSTR s)
{
    return s ? (int)strlen(s) : 0;
}

static inline LPSTR lstrcpyA(LPSTR dst, LPCSTR src)
{
    return strcpy(dst, src);
}

/* Copies at most n-1 characters and always terminates (when n > 0), unlike strncpy. */
static inline LPSTR lstrcpynA(LPSTR dst, LPCSTR src, int n)
{
    if (n <= 0)
        return dst;
    int i = 0;
    for (; i < n - 1 && src[i] != '\0'; i++)
        dst[i] = src[i];
    dst[i] = '\0';
    return dst;
}

static inline LPSTR lstrcatA(LPSTR dst, LPCSTR src)
{
    return strcat(dst, src);
}

static inline int lstrcmpA(LPCSTR a, LPCSTR b)
{
    return strcmp(a, b);
}

static inline int lstrcmpiA(LPCSTR a, LPCSTR b)
{
    return strcasecmp(a, b);
}

/* wsprintfA is sprintf with compiler format checking. Windows code that prints a DWORD
 * with %lu must use %u (or %lu with a cast) here: DWORD is 32 bits. Windows caps the
 * output at 1024 bytes; this does not. */
static inline int wvsprintfA(LPSTR dst, LPCSTR fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static inline int wvsprintfA(LPSTR dst, LPCSTR fmt, va_list ap)
{
    return vsprintf(dst, fmt, ap);
}

static inline int wsprintfA(LPSTR dst, LPCSTR fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int wsprintfA(LPSTR dst, LPCSTR fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsprintf(dst, fmt, ap);
    va_end(ap);
    return n;
}

#ifdef __cplusplus
}
#endif

#ifndef UNICODE
#define lstrlen lstrlenA
#define lstrcpy lstrcpyA
#define lstrcpyn lstrcpynA
#define lstrcat lstrcatA
#define lstrcmp lstrcmpA
#define lstrcmpi lstrcmpiA
#define wsprintf wsprintfA
#define wvsprintf wvsprintfA
#endif

/* The rest of the Win32 and MSVC vocabulary, implemented by libisapi (isapi-cc links it;
 * docs/porting.md): the MSVC C runtime and strsafe, then threads, synchronisation, files,
 * memory and the rest of Win32. */
#include "isapi_crt.h"
#include "isapi_win32.h"
#include "isapi_module.h"
#include "isapi_profile.h"

#endif /* ISAPI_WINDOWS_H */
