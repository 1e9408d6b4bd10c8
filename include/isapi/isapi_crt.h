/* Part of the isapid SDK's windows.h (include that, not this): the MSVC C runtime names ISAPI
 * code uses (the "secure" string functions, _stricmp, _strdup, _countof, _MAX_PATH ...) and
 * the Win32 text functions (MultiByteToWideChar, CharUpper ...), implemented by libisapi
 * (runtime/crt.c, runtime/text.c; docs/porting.md, "The C runtime and strsafe").
 *
 * Semantics are Microsoft's (return codes, errno, _TRUNCATE), with one deliberate change, the
 * bound policy:
 *
 *   - Each function whose first argument is a destination buffer is an always-inlined wrapper
 *     (the way glibc's _FORTIFY_SOURCE wraps strcpy) that passes the compiler's knowledge of
 *     the destination's size, ISAPI_DEST_SIZE(dst), to the library along with the caller's
 *     size. When the compiler knows the size (an array, a struct member, a malloc'd block it
 *     can see; with optimisation on), that size is the bound, whatever the caller passed:
 *     sizeof(pointer) or strlen(dst) cannot truncate, and a too-large size cannot overflow.
 *     When it does not know, the caller's size is the bound.
 *   - A call that does not fit its bound does not abort (Microsoft calls the invalid-parameter
 *     handler, which ends the process): the result is truncated and NUL-terminated, the
 *     function returns its error code (ERANGE, -1 ...) and sets errno, and the library writes
 *     one line to stderr naming the function and the module that called it, at most one line
 *     per function per second. A caller size that differs from the known size is reported the
 *     same way when it changed the outcome.
 *   - NULL pointers and zero sizes return EINVAL (emptying the destination when there is one),
 *     never a crash.
 *
 * The wrappers keep the functions' names and Microsoft's prototypes, so code may take their
 * address (it gets the library's definition, which uses the caller's size) or declare them
 * itself. In C++, the array template overloads (strcpy_s(buf, src) ...) take the size from the
 * array's type, as in MSVC.
 *
 * Define ISAPI_CRT_NO_WRAPPERS to see the plain declarations only (runtime/crt.c does). */
#ifndef ISAPI_CRT_H
#define ISAPI_CRT_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#ifndef _ERRNO_T_DEFINED
#define _ERRNO_T_DEFINED
typedef int errno_t;
#endif
#ifndef _RSIZE_T_DEFINED
#define _RSIZE_T_DEFINED
typedef size_t rsize_t;
#endif

/* The count that means "copy what fits, then truncate" (strncpy_s, _snprintf_s ...). */
#define _TRUNCATE ((size_t)-1)
/* Returned (instead of 0) when _TRUNCATE truncated; MSVC's value. */
#ifndef STRUNCATE
#define STRUNCATE 80
#endif
/* _stricmp/_strnicmp's answer for a NULL argument. */
#define _NLSCMPERROR 0x7fffffff

#ifndef _MAX_PATH
#define _MAX_PATH 260
#define _MAX_DRIVE 3
#define _MAX_DIR 256
#define _MAX_FNAME 256
#define _MAX_EXT 256
#endif

/* _countof(array): its number of elements. In C++ a pointer argument does not compile. */
#ifndef _countof
#ifdef __cplusplus
template <typename T, size_t N> char (*isapi_countof_helper(T (&)[N]))[N];
#define _countof(a) (sizeof(*isapi_countof_helper(a)))
#else
#define _countof(a) (sizeof(a) / sizeof((a)[0]))
#endif
#endif

/* What the compiler knows of the bytes writable at p, or (size_t)-1 (not known). Object
 * size type 1: a struct member's own size, not the rest of the struct. Optimisation (-O1 or
 * more) is needed for the compiler to see through the inline wrappers. Clang answers type 1
 * with the whole object's remaining size once the wrapper is inlined (more than a member's
 * size: a correct size would be overridden by a larger one), so with clang nothing is known
 * and the caller's size is always the bound. */
#if defined(__clang__)
#define ISAPI_DEST_SIZE(p) ((void)(p), (size_t)-1)
#elif defined(__has_builtin)
#if __has_builtin(__builtin_dynamic_object_size)
#define ISAPI_DEST_SIZE(p) __builtin_dynamic_object_size((p), 1)
#endif
#endif
#ifndef ISAPI_DEST_SIZE
#define ISAPI_DEST_SIZE(p) __builtin_object_size((p), 1)
#endif
#define ISAPI_SIZE_UNKNOWN ((size_t)-1)
/* The count argument of sprintf_s/vsprintf_s, which have none: the bound alone limits them. */
#define ISAPI_CRT_NO_COUNT ((size_t)-2)

#ifdef __cplusplus
extern "C" {
#endif

#define ISAPI_CRT_API __attribute__((visibility("default")))

/* ---- The library's entry points: the caller's size and the compiler's (known) --------- */

ISAPI_CRT_API errno_t isapi_crt_strcpy_s(char *dst, rsize_t size, const char *src, size_t known);
ISAPI_CRT_API errno_t isapi_crt_strcat_s(char *dst, rsize_t size, const char *src, size_t known);
ISAPI_CRT_API errno_t isapi_crt_strncpy_s(char *dst, rsize_t size, const char *src, rsize_t count,
                                          size_t known);
ISAPI_CRT_API errno_t isapi_crt_strncat_s(char *dst, rsize_t size, const char *src, rsize_t count,
                                          size_t known);
ISAPI_CRT_API errno_t isapi_crt_memcpy_s(void *dst, rsize_t size, const void *src, rsize_t count,
                                         size_t known);
ISAPI_CRT_API errno_t isapi_crt_itoa_s(int value, char *dst, size_t size, int radix, size_t known);
ISAPI_CRT_API int isapi_crt_vsnprintf_s(const char *fn, char *dst, size_t size, size_t count,
                                        size_t known, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));
ISAPI_CRT_API int isapi_crt_vsnprintf(char *dst, size_t count, size_t known, const char *fmt,
                                      va_list ap) __attribute__((format(printf, 4, 0)));

/* ---- Microsoft's names and prototypes (libisapi defines each, with the caller's size) ---- */

ISAPI_CRT_API errno_t strcpy_s(char *dst, rsize_t size, const char *src);
ISAPI_CRT_API errno_t strcat_s(char *dst, rsize_t size, const char *src);
ISAPI_CRT_API errno_t strncpy_s(char *dst, rsize_t size, const char *src, rsize_t count);
ISAPI_CRT_API errno_t strncat_s(char *dst, rsize_t size, const char *src, rsize_t count);
ISAPI_CRT_API errno_t memcpy_s(void *dst, rsize_t size, const void *src, rsize_t count);
ISAPI_CRT_API errno_t _itoa_s(int value, char *dst, size_t size, int radix);
/* sprintf_s: the length written, or -1 (EINVAL/ERANGE; truncated output). */
ISAPI_CRT_API int sprintf_s(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ISAPI_CRT_API int vsprintf_s(char *dst, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* _snprintf_s: at most count characters (or what fits, with _TRUNCATE); -1 when truncated. */
ISAPI_CRT_API int _snprintf_s(char *dst, size_t size, size_t count, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
ISAPI_CRT_API int _vsnprintf_s(char *dst, size_t size, size_t count, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* _snprintf: writes at most count bytes, NUL-terminated only if it fits; returns the length,
 * or -1 when the output was longer than count (MSVC's behaviour, not C99 snprintf's). With
 * a NULL buffer and count 0 it returns the length the output needs, as MSVC documents. */
ISAPI_CRT_API int _snprintf(char *dst, size_t count, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ISAPI_CRT_API int _vsnprintf(char *dst, size_t count, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* ASCII case folding, as strcasecmp; a NULL argument returns _NLSCMPERROR (errno EINVAL). */
ISAPI_CRT_API int _stricmp(const char *a, const char *b);
ISAPI_CRT_API int _strnicmp(const char *a, const char *b, size_t count);
/* malloc'd copy (free() it); NULL for NULL. */
ISAPI_CRT_API char *_strdup(const char *s);
/* In place, ASCII only; return s (NULL for NULL). */
ISAPI_CRT_API char *_strlwr(char *s);
ISAPI_CRT_API char *_strupr(char *s);
/* The length the output would have (without the NUL), or -1; what code sizes buffers with. */
ISAPI_CRT_API int _scprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
ISAPI_CRT_API int _vscprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* The unbounded MSVC conversions (radix 2..36, as _itoa_s); dst must hold 33 characters
 * (65 for the 64-bit ones). They return dst. */
ISAPI_CRT_API char *_itoa(int value, char *dst, int radix);
ISAPI_CRT_API char *_ltoa(int32_t value, char *dst, int radix);
ISAPI_CRT_API char *_ultoa(uint32_t value, char *dst, int radix);
ISAPI_CRT_API char *_i64toa(long long value, char *dst, int radix);
ISAPI_CRT_API char *_ui64toa(unsigned long long value, char *dst, int radix);
#define _atoi64(s) atoll(s)
#define _strtoi64 strtoll
#define _strtoui64 strtoull
/* The old names MSVC still accepts. */
#define stricmp _stricmp
#define strnicmp _strnicmp
#define strlwr _strlwr
#define strupr _strupr
#define itoa _itoa

/* ---- Text: code pages and case (Win32 functions, implemented in runtime/text.c) ---------- */

/* Every "ANSI" code page is UTF-8 here: CP_ACP, CP_OEMCP, CP_THREAD_ACP and CP_UTF8 all mean
 * UTF-8, and WCHAR strings are UTF-16. Other code pages fail with ERROR_INVALID_PARAMETER. */
#define CP_ACP 0
#define CP_OEMCP 1
#define CP_THREAD_ACP 3
#define CP_UTF8 65001
#define MB_PRECOMPOSED 0x00000001
#define MB_COMPOSITE 0x00000002
#define MB_USEGLYPHCHARS 0x00000004
#define MB_ERR_INVALID_CHARS 0x00000008
#define WC_DISCARDNS 0x00000010
#define WC_SEPCHARS 0x00000020
#define WC_DEFAULTCHAR 0x00000040
#define WC_ERR_INVALID_CHARS 0x00000080
#define WC_COMPOSITECHECK 0x00000200
#define WC_NO_BEST_FIT_CHARS 0x00000400
#ifndef ERROR_INVALID_FLAGS
#define ERROR_INVALID_FLAGS 1004
#endif
#ifndef ERROR_NO_UNICODE_TRANSLATION
#define ERROR_NO_UNICODE_TRANSLATION 1113
#endif

/* As documented by Microsoft: a length of -1 means NUL-terminated (the NUL is converted and
 * counted); an output size of 0 returns the size needed; 0 on failure, with
 * ERROR_INSUFFICIENT_BUFFER, ERROR_INVALID_PARAMETER, ERROR_INVALID_FLAGS or (with the
 * *_ERR_INVALID_CHARS flag) ERROR_NO_UNICODE_TRANSLATION. Without that flag, malformed input
 * becomes U+FFFD. Flags: CP_UTF8 takes MB_ERR_INVALID_CHARS (and MB_PRECOMPOSED) or
 * WC_ERR_INVALID_CHARS; the other code pages also take the flags Windows accepts for an ANSI
 * code page (MB_COMPOSITE or MB_PRECOMPOSED, MB_USEGLYPHCHARS; WC_COMPOSITECHECK,
 * WC_DISCARDNS, WC_SEPCHARS, WC_DEFAULTCHAR, WC_NO_BEST_FIT_CHARS), which change nothing
 * in UTF-8. Anything else is ERROR_INVALID_FLAGS. */
ISAPI_CRT_API int WINAPI MultiByteToWideChar(UINT CodePage, DWORD dwFlags, LPCSTR lpMultiByteStr,
                                             int cbMultiByte, LPWSTR lpWideCharStr, int cchWideChar);
ISAPI_CRT_API int WINAPI WideCharToMultiByte(UINT CodePage, DWORD dwFlags, LPCWSTR lpWideCharStr,
                                             int cchWideChar, LPSTR lpMultiByteStr, int cbMultiByte,
                                             LPCSTR lpDefaultChar, LPBOOL lpUsedDefaultChar);
/* ASCII case mapping in place; a pointer whose high bits are 0 is one character (returned
 * converted, as on Windows). The Buff forms convert cch characters and return cch. */
ISAPI_CRT_API LPSTR WINAPI CharUpperA(LPSTR lpsz);
ISAPI_CRT_API LPSTR WINAPI CharLowerA(LPSTR lpsz);
ISAPI_CRT_API DWORD WINAPI CharUpperBuffA(LPSTR lpsz, DWORD cchLength);
ISAPI_CRT_API DWORD WINAPI CharLowerBuffA(LPSTR lpsz, DWORD cchLength);
#ifndef UNICODE
#define CharUpper CharUpperA
#define CharLower CharLowerA
#define CharUpperBuff CharUpperBuffA
#define CharLowerBuff CharLowerBuffA
#endif

/* ---- The bound policy's wrappers (see the top of this file) ------------------------------ */

#if !defined(ISAPI_CRT_NO_WRAPPERS)
#define ISAPI_CRT_WRAPPER extern __inline __attribute__((__always_inline__, __gnu_inline__, __artificial__))

ISAPI_CRT_WRAPPER errno_t strcpy_s(char *dst, rsize_t size, const char *src)
{
    return isapi_crt_strcpy_s(dst, size, src, ISAPI_DEST_SIZE(dst));
}
ISAPI_CRT_WRAPPER errno_t strcat_s(char *dst, rsize_t size, const char *src)
{
    return isapi_crt_strcat_s(dst, size, src, ISAPI_DEST_SIZE(dst));
}
ISAPI_CRT_WRAPPER errno_t strncpy_s(char *dst, rsize_t size, const char *src, rsize_t count)
{
    return isapi_crt_strncpy_s(dst, size, src, count, ISAPI_DEST_SIZE(dst));
}
ISAPI_CRT_WRAPPER errno_t strncat_s(char *dst, rsize_t size, const char *src, rsize_t count)
{
    return isapi_crt_strncat_s(dst, size, src, count, ISAPI_DEST_SIZE(dst));
}
ISAPI_CRT_WRAPPER errno_t memcpy_s(void *dst, rsize_t size, const void *src, rsize_t count)
{
    return isapi_crt_memcpy_s(dst, size, src, count, ISAPI_DEST_SIZE(dst));
}
ISAPI_CRT_WRAPPER errno_t _itoa_s(int value, char *dst, size_t size, int radix)
{
    return isapi_crt_itoa_s(value, dst, size, radix, ISAPI_DEST_SIZE(dst));
}
ISAPI_CRT_WRAPPER int vsprintf_s(char *dst, size_t size, const char *fmt, va_list ap)
{
    return isapi_crt_vsnprintf_s("vsprintf_s", dst, size, ISAPI_CRT_NO_COUNT, ISAPI_DEST_SIZE(dst), fmt, ap);
}
ISAPI_CRT_WRAPPER int _vsnprintf_s(char *dst, size_t size, size_t count, const char *fmt, va_list ap)
{
    return isapi_crt_vsnprintf_s("_vsnprintf_s", dst, size, count, ISAPI_DEST_SIZE(dst), fmt, ap);
}
ISAPI_CRT_WRAPPER int _vsnprintf(char *dst, size_t count, const char *fmt, va_list ap)
{
    return isapi_crt_vsnprintf(dst, count, ISAPI_DEST_SIZE(dst), fmt, ap);
}
/* The variadic ones forward their arguments with __builtin_va_arg_pack, which only an
 * always-inlined gnu_inline function may use; the library's vsnprintf-style entry point is
 * reached through a variadic helper. */
ISAPI_CRT_API int isapi_crt_snprintf_s(const char *fn, char *dst, size_t size, size_t count,
                                       size_t known, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
ISAPI_CRT_API int isapi_crt_snprintf(char *dst, size_t count, size_t known, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Clang has no __builtin_va_arg_pack: with clang these three calls reach the library's
 * definitions, bounded by the caller's size. */
#if !defined(__clang__)
ISAPI_CRT_WRAPPER int sprintf_s(char *dst, size_t size, const char *fmt, ...)
{
    return isapi_crt_snprintf_s("sprintf_s", dst, size, ISAPI_CRT_NO_COUNT, ISAPI_DEST_SIZE(dst), fmt,
                                __builtin_va_arg_pack());
}
ISAPI_CRT_WRAPPER int _snprintf_s(char *dst, size_t size, size_t count, const char *fmt, ...)
{
    return isapi_crt_snprintf_s("_snprintf_s", dst, size, count, ISAPI_DEST_SIZE(dst), fmt,
                                __builtin_va_arg_pack());
}
ISAPI_CRT_WRAPPER int _snprintf(char *dst, size_t count, const char *fmt, ...)
{
    return isapi_crt_snprintf(dst, count, ISAPI_DEST_SIZE(dst), fmt, __builtin_va_arg_pack());
}
#endif /* !__clang__ */
#endif /* !ISAPI_CRT_NO_WRAPPERS */

#ifdef __cplusplus
}

/* MSVC's C++ overloads for arrays: the size is the array's. */
template <size_t N> inline errno_t strcpy_s(char (&dst)[N], const char *src)
{
    return isapi_crt_strcpy_s(dst, N, src, N);
}
template <size_t N> inline errno_t strcat_s(char (&dst)[N], const char *src)
{
    return isapi_crt_strcat_s(dst, N, src, N);
}
template <size_t N> inline errno_t strncpy_s(char (&dst)[N], const char *src, size_t count)
{
    return isapi_crt_strncpy_s(dst, N, src, count, N);
}
template <size_t N> inline errno_t strncat_s(char (&dst)[N], const char *src, size_t count)
{
    return isapi_crt_strncat_s(dst, N, src, count, N);
}
template <size_t N> inline errno_t _itoa_s(int value, char (&dst)[N], int radix)
{
    return isapi_crt_itoa_s(value, dst, N, radix, N);
}
template <size_t N> inline int vsprintf_s(char (&dst)[N], const char *fmt, va_list ap)
{
    return isapi_crt_vsnprintf_s("vsprintf_s", dst, N, ISAPI_CRT_NO_COUNT, N, fmt, ap);
}
template <size_t N> inline int sprintf_s(char (&dst)[N], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
template <size_t N> inline int sprintf_s(char (&dst)[N], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = isapi_crt_vsnprintf_s("sprintf_s", dst, N, ISAPI_CRT_NO_COUNT, N, fmt, ap);
    va_end(ap);
    return n;
}
template <size_t N> inline int _snprintf_s(char (&dst)[N], size_t count, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
template <size_t N> inline int _snprintf_s(char (&dst)[N], size_t count, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = isapi_crt_vsnprintf_s("_snprintf_s", dst, N, count, N, fmt, ap);
    va_end(ap);
    return n;
}
template <size_t N> inline int _vsnprintf_s(char (&dst)[N], size_t count, const char *fmt, va_list ap)
{
    return isapi_crt_vsnprintf_s("_vsnprintf_s", dst, N, count, N, fmt, ap);
}
#endif /* __cplusplus */

#endif /* ISAPI_CRT_H */
