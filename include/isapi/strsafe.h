/* strsafe.h for ISAPI extensions built on Linux (isapid SDK): the narrow (A) strsafe functions,
 * implemented by libisapi (runtime/strsafe.c; docs/porting.md, "The C runtime and strsafe").
 *
 * As in the Windows SDK: sizes are counts of characters (Cch) or bytes (Cb; the same for
 * CHAR), the result is always NUL-terminated when the size is not 0, and a result that does
 * not fit is truncated and returns STRSAFE_E_INSUFFICIENT_BUFFER. A size of 0 or above
 * STRSAFE_MAX_CCH, a StringCchCopyN count above it, and (unlike Windows, where it crashes) a
 * NULL pointer, return STRSAFE_E_INVALID_PARAMETER; the Copy and Printf functions then empty
 * a destination whose size is not 0, as Windows's do (the Cat functions leave it).
 *
 * The bound policy of isapi_crt.h applies: when the compiler knows the destination's size,
 * that size is the bound, whatever the caller passed. Without UNICODE the generic names
 * (StringCchCopy ...) are the A functions; the W functions are not provided. */
#ifndef ISAPI_STRSAFE_H
#define ISAPI_STRSAFE_H

#include "windows.h"

#define STRSAFE_MAX_CCH 2147483647
#define STRSAFE_E_INSUFFICIENT_BUFFER ((HRESULT)0x8007007Au)
#define STRSAFE_E_INVALID_PARAMETER ((HRESULT)0x80070057u)
#define STRSAFE_E_END_OF_FILE ((HRESULT)0x80070026u)

typedef char *STRSAFE_LPSTR;
typedef const char *STRSAFE_LPCSTR;

#ifdef __cplusplus
extern "C" {
#endif

/* The library's entry points: the caller's size and the compiler's (known), in CHARs. */
ISAPI_CRT_API HRESULT isapi_strsafe_copy(const char *fn, char *dst, size_t cch, const char *src,
                                         size_t count, size_t known);
ISAPI_CRT_API HRESULT isapi_strsafe_cat(const char *fn, char *dst, size_t cch, const char *src,
                                        size_t known);
ISAPI_CRT_API HRESULT isapi_strsafe_vprintf(const char *fn, char *dst, size_t cch, size_t known,
                                            const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
ISAPI_CRT_API HRESULT isapi_strsafe_printf(const char *fn, char *dst, size_t cch, size_t known,
                                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The Windows SDK's names (libisapi defines each too, with the caller's size as the bound). */
ISAPI_CRT_API HRESULT StringCchCopyA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR src);
ISAPI_CRT_API HRESULT StringCchCopyNA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR src,
                                      size_t cchToCopy);
ISAPI_CRT_API HRESULT StringCchCatA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR src);
ISAPI_CRT_API HRESULT StringCchPrintfA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR fmt, ...)
    __attribute__((format(printf, 3, 4)));
ISAPI_CRT_API HRESULT StringCchVPrintfA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR fmt,
                                        va_list ap) __attribute__((format(printf, 3, 0)));
ISAPI_CRT_API HRESULT StringCbCopyA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR src);
ISAPI_CRT_API HRESULT StringCbCatA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR src);
ISAPI_CRT_API HRESULT StringCbPrintfA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR fmt, ...)
    __attribute__((format(printf, 3, 4)));
ISAPI_CRT_API HRESULT StringCbVPrintfA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR fmt,
                                       va_list ap) __attribute__((format(printf, 3, 0)));
/* The length of psz if it ends within cchMax characters (*pcch, which may be NULL); else
 * STRSAFE_E_INVALID_PARAMETER and *pcch = 0. The Cb form counts bytes. */
ISAPI_CRT_API HRESULT StringCchLengthA(STRSAFE_LPCSTR psz, size_t cchMax, size_t *pcch);
ISAPI_CRT_API HRESULT StringCbLengthA(STRSAFE_LPCSTR psz, size_t cbMax, size_t *pcb);

#if !defined(ISAPI_CRT_NO_WRAPPERS)
ISAPI_CRT_WRAPPER HRESULT StringCchCopyA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR src)
{
    return isapi_strsafe_copy("StringCchCopyA", dst, cchDest, src, STRSAFE_MAX_CCH, ISAPI_DEST_SIZE(dst));
}
ISAPI_CRT_WRAPPER HRESULT StringCchCopyNA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR src,
                                          size_t cchToCopy)
{
    return isapi_strsafe_copy("StringCchCopyNA", dst, cchDest, src, cchToCopy, ISAPI_DEST_SIZE(dst));
}
ISAPI_CRT_WRAPPER HRESULT StringCchCatA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR src)
{
    return isapi_strsafe_cat("StringCchCatA", dst, cchDest, src, ISAPI_DEST_SIZE(dst));
}
#if !defined(__clang__) /* no __builtin_va_arg_pack: the library's definitions (isapi_crt.h) */
ISAPI_CRT_WRAPPER HRESULT StringCchPrintfA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR fmt, ...)
{
    return isapi_strsafe_printf("StringCchPrintfA", dst, cchDest, ISAPI_DEST_SIZE(dst), fmt,
                                __builtin_va_arg_pack());
}
#endif
ISAPI_CRT_WRAPPER HRESULT StringCchVPrintfA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR fmt,
                                            va_list ap)
{
    return isapi_strsafe_vprintf("StringCchVPrintfA", dst, cchDest, ISAPI_DEST_SIZE(dst), fmt, ap);
}
ISAPI_CRT_WRAPPER HRESULT StringCbCopyA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR src)
{
    return isapi_strsafe_copy("StringCbCopyA", dst, cbDest, src, STRSAFE_MAX_CCH, ISAPI_DEST_SIZE(dst));
}
ISAPI_CRT_WRAPPER HRESULT StringCbCatA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR src)
{
    return isapi_strsafe_cat("StringCbCatA", dst, cbDest, src, ISAPI_DEST_SIZE(dst));
}
#if !defined(__clang__)
ISAPI_CRT_WRAPPER HRESULT StringCbPrintfA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR fmt, ...)
{
    return isapi_strsafe_printf("StringCbPrintfA", dst, cbDest, ISAPI_DEST_SIZE(dst), fmt,
                                __builtin_va_arg_pack());
}
#endif
ISAPI_CRT_WRAPPER HRESULT StringCbVPrintfA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR fmt,
                                           va_list ap)
{
    return isapi_strsafe_vprintf("StringCbVPrintfA", dst, cbDest, ISAPI_DEST_SIZE(dst), fmt, ap);
}
#endif /* !ISAPI_CRT_NO_WRAPPERS */

#ifdef __cplusplus
}
#endif

#ifndef UNICODE
#define StringCchCopy StringCchCopyA
#define StringCchCopyN StringCchCopyNA
#define StringCchCat StringCchCatA
#define StringCchPrintf StringCchPrintfA
#define StringCchVPrintf StringCchVPrintfA
#define StringCbCopy StringCbCopyA
#define StringCbCat StringCbCatA
#define StringCbPrintf StringCbPrintfA
#define StringCbVPrintf StringCbVPrintfA
#define StringCchLength StringCchLengthA
#define StringCbLength StringCbLengthA
#endif

#endif /* ISAPI_STRSAFE_H */
