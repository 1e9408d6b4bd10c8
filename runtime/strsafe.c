/* libisapi: the narrow strsafe functions (include/isapi/strsafe.h), under the bound policy of
 * crt_internal.h. Truncation is not a violation here (strsafe documents it: the result is
 * truncated and STRSAFE_E_INSUFFICIENT_BUFFER returned), so only invalid parameters and
 * caller sizes that changed the outcome are reported. */
#define ISAPI_CRT_NO_WRAPPERS
#include <strsafe.h>

#include "crt_internal.h"

/* Validates the destination; on success *bound is the number of CHARs that may be written. A
 * caller's size is checked only when it is the bound (a known size replaces it). On failure
 * the copy and printf forms (`empty`) empty a destination of size > 0, as the Windows SDK's
 * strsafe.h does; the cat forms leave it. */
static HRESULT strsafe_dest(const char *fn, const void *caller, char *dst, size_t cch, size_t known,
                            BOOL empty, size_t *bound)
{
    *bound = crt_bound(cch, known);
    if (dst == NULL || *bound == 0 || *bound > STRSAFE_MAX_CCH) {
        if (dst != NULL && *bound != 0 && empty)
            dst[0] = '\0';
        crt_report(fn, caller, "%s: returned STRSAFE_E_INVALID_PARAMETER",
                   dst == NULL ? "NULL destination" : *bound == 0 ? "size 0" : "size above STRSAFE_MAX_CCH");
        return STRSAFE_E_INVALID_PARAMETER;
    }
    return S_OK;
}

/* Copies at most `count` characters of src to dst + used (used < bound). */
static HRESULT strsafe_append(const char *fn, const void *caller, char *dst, size_t used, size_t bound,
                              size_t cch, size_t known, const char *src, size_t count)
{
    if (src == NULL) {
        dst[used] = '\0';
        crt_report(fn, caller, "NULL source: returned STRSAFE_E_INVALID_PARAMETER");
        return STRSAFE_E_INVALID_PARAMETER;
    }
    size_t room = bound - used - 1;
    size_t wanted = strnlen(src, count < room + 1 ? count : room + 1);
    if (wanted > room) {
        memcpy(dst + used, src, room);
        dst[bound - 1] = '\0';
        return STRSAFE_E_INSUFFICIENT_BUFFER;
    }
    memcpy(dst + used, src, wanted);
    dst[used + wanted] = '\0';
    crt_check_size(fn, caller, cch, known, used + wanted + 1);
    return S_OK;
}

static HRESULT strsafe_copy(const char *fn, const void *caller, char *dst, size_t cch, const char *src,
                            size_t count, size_t known)
{
    size_t bound;
    HRESULT hr = strsafe_dest(fn, caller, dst, cch, known, TRUE, &bound);
    if (FAILED(hr))
        return hr;
    if (count > STRSAFE_MAX_CCH) { /* StringCchCopyN's cchToCopy */
        dst[0] = '\0';
        crt_report(fn, caller, "count above STRSAFE_MAX_CCH: returned STRSAFE_E_INVALID_PARAMETER");
        return STRSAFE_E_INVALID_PARAMETER;
    }
    return strsafe_append(fn, caller, dst, 0, bound, cch, known, src, count);
}

static HRESULT strsafe_cat(const char *fn, const void *caller, char *dst, size_t cch, const char *src,
                           size_t known)
{
    size_t bound;
    HRESULT hr = strsafe_dest(fn, caller, dst, cch, known, FALSE, &bound);
    if (FAILED(hr))
        return hr;
    size_t used = strnlen(dst, bound);
    if (used == bound) {
        crt_report(fn, caller, "the destination is not NUL-terminated within %zu characters: returned STRSAFE_E_INVALID_PARAMETER",
                   bound);
        return STRSAFE_E_INVALID_PARAMETER;
    }
    return strsafe_append(fn, caller, dst, used, bound, cch, known, src, STRSAFE_MAX_CCH);
}

static HRESULT strsafe_vprintf(const char *fn, const void *caller, char *dst, size_t cch, size_t known,
                               const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static HRESULT strsafe_vprintf(const char *fn, const void *caller, char *dst, size_t cch, size_t known,
                               const char *fmt, va_list ap)
{
    size_t bound;
    HRESULT hr = strsafe_dest(fn, caller, dst, cch, known, TRUE, &bound);
    if (FAILED(hr))
        return hr;
    if (fmt == NULL) {
        dst[0] = '\0';
        crt_report(fn, caller, "NULL format: returned STRSAFE_E_INVALID_PARAMETER");
        return STRSAFE_E_INVALID_PARAMETER;
    }
    int length = vsnprintf(dst, bound, fmt, ap);
    if (length < 0) {
        dst[0] = '\0';
        return STRSAFE_E_INVALID_PARAMETER;
    }
    if ((size_t)length >= bound)
        return STRSAFE_E_INSUFFICIENT_BUFFER;
    crt_check_size(fn, caller, cch, known, (size_t)length + 1);
    return S_OK;
}

static HRESULT strsafe_length(const char *psz, size_t max, size_t *pcch)
{
    if (psz == NULL || max == 0 || max > STRSAFE_MAX_CCH) {
        if (pcch != NULL)
            *pcch = 0;
        return STRSAFE_E_INVALID_PARAMETER;
    }
    size_t length = strnlen(psz, max);
    if (pcch != NULL)
        *pcch = length == max ? 0 : length;
    return length == max ? STRSAFE_E_INVALID_PARAMETER : S_OK;
}

/* ---- Entry points of the header's wrappers ------------------------------------------- */

HRESULT isapi_strsafe_copy(const char *fn, char *dst, size_t cch, const char *src, size_t count,
                           size_t known)
{
    return strsafe_copy(fn, __builtin_return_address(0), dst, cch, src, count, known);
}

HRESULT isapi_strsafe_cat(const char *fn, char *dst, size_t cch, const char *src, size_t known)
{
    return strsafe_cat(fn, __builtin_return_address(0), dst, cch, src, known);
}

HRESULT isapi_strsafe_vprintf(const char *fn, char *dst, size_t cch, size_t known, const char *fmt,
                              va_list ap)
{
    return strsafe_vprintf(fn, __builtin_return_address(0), dst, cch, known, fmt, ap);
}

HRESULT isapi_strsafe_printf(const char *fn, char *dst, size_t cch, size_t known, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    HRESULT hr = strsafe_vprintf(fn, __builtin_return_address(0), dst, cch, known, fmt, ap);
    va_end(ap);
    return hr;
}

/* ---- The Windows SDK's names: the caller's size is the bound ------------------------- */

HRESULT StringCchCopyA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR src)
{
    return strsafe_copy("StringCchCopyA", __builtin_return_address(0), dst, cchDest, src, STRSAFE_MAX_CCH,
                        ISAPI_SIZE_UNKNOWN);
}

HRESULT StringCchCopyNA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR src, size_t cchToCopy)
{
    return strsafe_copy("StringCchCopyNA", __builtin_return_address(0), dst, cchDest, src, cchToCopy,
                        ISAPI_SIZE_UNKNOWN);
}

HRESULT StringCchCatA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR src)
{
    return strsafe_cat("StringCchCatA", __builtin_return_address(0), dst, cchDest, src, ISAPI_SIZE_UNKNOWN);
}

HRESULT StringCchPrintfA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    HRESULT hr = strsafe_vprintf("StringCchPrintfA", __builtin_return_address(0), dst, cchDest,
                                 ISAPI_SIZE_UNKNOWN, fmt, ap);
    va_end(ap);
    return hr;
}

HRESULT StringCchVPrintfA(STRSAFE_LPSTR dst, size_t cchDest, STRSAFE_LPCSTR fmt, va_list ap)
{
    return strsafe_vprintf("StringCchVPrintfA", __builtin_return_address(0), dst, cchDest,
                           ISAPI_SIZE_UNKNOWN, fmt, ap);
}

HRESULT StringCbCopyA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR src)
{
    return strsafe_copy("StringCbCopyA", __builtin_return_address(0), dst, cbDest, src, STRSAFE_MAX_CCH,
                        ISAPI_SIZE_UNKNOWN);
}

HRESULT StringCbCatA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR src)
{
    return strsafe_cat("StringCbCatA", __builtin_return_address(0), dst, cbDest, src, ISAPI_SIZE_UNKNOWN);
}

HRESULT StringCbPrintfA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    HRESULT hr = strsafe_vprintf("StringCbPrintfA", __builtin_return_address(0), dst, cbDest,
                                 ISAPI_SIZE_UNKNOWN, fmt, ap);
    va_end(ap);
    return hr;
}

HRESULT StringCbVPrintfA(STRSAFE_LPSTR dst, size_t cbDest, STRSAFE_LPCSTR fmt, va_list ap)
{
    return strsafe_vprintf("StringCbVPrintfA", __builtin_return_address(0), dst, cbDest,
                           ISAPI_SIZE_UNKNOWN, fmt, ap);
}

HRESULT StringCchLengthA(STRSAFE_LPCSTR psz, size_t cchMax, size_t *pcch)
{
    return strsafe_length(psz, cchMax, pcch);
}

HRESULT StringCbLengthA(STRSAFE_LPCSTR psz, size_t cbMax, size_t *pcb)
{
    return strsafe_length(psz, cbMax, pcb);
}
