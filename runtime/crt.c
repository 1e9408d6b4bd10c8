/* libisapi: the MSVC C runtime's string functions (include/isapi/isapi_crt.h) and the bound
 * policy.
 *
 * Every entry point gets the caller's size and `known`, the compiler's idea of the
 * destination's size ((size_t)-1 when it has none). The bound is `known` when it is known and
 * the caller's size otherwise; nothing is ever written at or past the bound. A call that does
 * not fit truncates (NUL-terminated), returns Microsoft's error code, sets errno, and reports
 * one line on stderr (crt_report); it never aborts. _itoa_s is the exception that empties the
 * destination instead: a truncated number is a wrong number.
 *
 * The plain-named definitions (strcpy_s ...) are what a caller gets when it takes a function's
 * address or calls it from code compiled without the header's wrappers: the caller's size is
 * the bound there. */
#define _GNU_SOURCE
#define ISAPI_CRT_NO_WRAPPERS
#include <windows.h>
#include "crt_internal.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- Diagnostics: one line per function per second -------------------------------------- */

/* Slots of the rate limiter, chosen by a hash of the function's name (two functions may share
 * one; they then share its one line per second). Per slot: the monotonic second of its last
 * line, and the lines suppressed since. */
#define CRT_LIMITER_SLOTS 32
static struct {
    atomic_llong last_second;
    atomic_uint suppressed;
} crt_limiter[CRT_LIMITER_SLOTS];

/* The file name of the module that holds `address` (the extension that called), or "?". */
static const char *module_name(const void *address)
{
    Dl_info info;
    if (address == NULL || dladdr(address, &info) == 0 || info.dli_fname == NULL)
        return "?";
    const char *slash = strrchr(info.dli_fname, '/');
    return slash ? slash + 1 : info.dli_fname;
}

static unsigned crt_limiter_slot(const char *fn)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *fn != '\0'; fn++)
        h = (h ^ (unsigned char)*fn) * 16777619u;
    return h % CRT_LIMITER_SLOTS;
}

void crt_report(const char *fn, const void *caller, const char *fmt, ...)
{
    unsigned f = crt_limiter_slot(fn);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long second = (long long)now.tv_sec;
    long long last = atomic_load(&crt_limiter[f].last_second);
    if (last == second || !atomic_compare_exchange_strong(&crt_limiter[f].last_second, &last, second)) {
        atomic_fetch_add(&crt_limiter[f].suppressed, 1);
        return;
    }
    unsigned suppressed = atomic_exchange(&crt_limiter[f].suppressed, 0);

    char line[512];
    int n = snprintf(line, sizeof line, "libisapi: %s called from %s: ", fn, module_name(caller));
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof line && suppressed > 0)
        n += snprintf(line + n, sizeof line - (size_t)n, " (%u similar lines suppressed)", suppressed);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n] = '\n';
    /* One write(2), so lines from several threads do not interleave. */
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n + 1);
    (void)ignored;
}

size_t crt_bound(size_t caller_size, size_t known)
{
    return known != ISAPI_SIZE_UNKNOWN ? known : caller_size;
}

void crt_check_size(const char *fn, const void *caller, size_t caller_size, size_t known,
                           size_t needed)
{
    if (known == ISAPI_SIZE_UNKNOWN || caller_size == known)
        return;
    if (needed > caller_size && needed <= known)
        crt_report(fn, caller, "size argument %zu is wrong (%zu bytes needed); used the destination's size, %zu",
                   caller_size, needed, known);
    else if (caller_size > known && needed > known)
        crt_report(fn, caller, "size argument %zu is larger than the destination (%zu bytes); bounded by it",
                   caller_size, known);
}

static errno_t crt_fail(errno_t code)
{
    errno = code;
    return code;
}

/* ---- strcpy_s, strcat_s, strncpy_s, strncat_s ------------------------------------------ */

/* Appends at most `count` characters of src at dst + used (dst holds `used` characters,
 * bound > used). `count` is _TRUNCATE for "all". The common body of the four functions. */
static errno_t crt_append(const char *fn, const void *caller, char *dst, size_t used, size_t size,
                          size_t known, const char *src, size_t count)
{
    size_t bound = crt_bound(size, known);
    size_t room = bound - used - 1; /* characters that fit after `used` */
    size_t wanted = strnlen(src, count == _TRUNCATE ? room + 1 : (count < room + 1 ? count : room + 1));
    if (wanted <= room) {
        memcpy(dst + used, src, wanted);
        dst[used + wanted] = '\0';
        crt_check_size(fn, caller, size, known, used + wanted + 1);
        return 0;
    }
    memcpy(dst + used, src, room);
    dst[bound - 1] = '\0';
    if (count == _TRUNCATE)
        return STRUNCATE;
    /* src need not be NUL-terminated within count (strncpy_s from a fixed-size field). */
    /* count is a length (strncpy_s) or "the whole string" (strcpy_s passes SIZE_MAX - 1). */
    size_t full = used + (count > PTRDIFF_MAX ? strlen(src) : strnlen(src, count)) + 1;
    crt_report(fn, caller, "%zu bytes do not fit the destination's %zu: truncated, returned ERANGE", full, bound);
    return crt_fail(ERANGE);
}

/* Checks the arguments every string function shares; 0 when the call may go on. */
static errno_t crt_check_args(const char *fn, const void *caller, char *dst, size_t size, size_t known,
                              const char *src, size_t count)
{
    size_t bound = crt_bound(size, known);
    if (dst == NULL || bound == 0) {
        crt_report(fn, caller, "%s: returned EINVAL", dst == NULL ? "NULL destination" : "size 0");
        return crt_fail(EINVAL);
    }
    if (src == NULL && count != 0) {
        dst[0] = '\0';
        crt_report(fn, caller, "NULL source: returned EINVAL");
        return crt_fail(EINVAL);
    }
    return 0;
}

static errno_t crt_copy(const char *fn, const void *caller, char *dst, size_t size, const char *src,
                        size_t count, size_t known)
{
    if (count == 0 && dst == NULL && size == 0)
        return 0; /* allowed by MSVC: nothing to do */
    errno_t e = crt_check_args(fn, caller, dst, size, known, src, count);
    if (e != 0)
        return e;
    if (count == 0) {
        dst[0] = '\0';
        return 0;
    }
    return crt_append(fn, caller, dst, 0, size, known, src, count);
}

static errno_t crt_cat(const char *fn, const void *caller, char *dst, size_t size, const char *src,
                       size_t count, size_t known)
{
    if (count == 0 && dst == NULL && size == 0)
        return 0; /* allowed by MSVC: nothing to do */
    errno_t e = crt_check_args(fn, caller, dst, size, known, src, count);
    if (e != 0)
        return e;
    size_t bound = crt_bound(size, known);
    size_t used = strnlen(dst, bound);
    if (used == bound) {
        dst[0] = '\0';
        crt_report(fn, caller, "the destination is not NUL-terminated within %zu bytes: emptied, returned EINVAL",
                   bound);
        return crt_fail(EINVAL);
    }
    if (count == 0)
        return 0;
    return crt_append(fn, caller, dst, used, size, known, src, count);
}

errno_t isapi_crt_strcpy_s(char *dst, rsize_t size, const char *src, size_t known)
{
    return crt_copy("strcpy_s", __builtin_return_address(0), dst, size, src, _TRUNCATE - 1, known);
}

errno_t isapi_crt_strcat_s(char *dst, rsize_t size, const char *src, size_t known)
{
    return crt_cat("strcat_s", __builtin_return_address(0), dst, size, src, _TRUNCATE - 1, known);
}

errno_t isapi_crt_strncpy_s(char *dst, rsize_t size, const char *src, rsize_t count, size_t known)
{
    return crt_copy("strncpy_s", __builtin_return_address(0), dst, size, src, count, known);
}

errno_t isapi_crt_strncat_s(char *dst, rsize_t size, const char *src, rsize_t count, size_t known)
{
    return crt_cat("strncat_s", __builtin_return_address(0), dst, size, src, count, known);
}

errno_t strcpy_s(char *dst, rsize_t size, const char *src)
{
    return crt_copy("strcpy_s", __builtin_return_address(0), dst, size, src, _TRUNCATE - 1,
                    ISAPI_SIZE_UNKNOWN);
}

errno_t strcat_s(char *dst, rsize_t size, const char *src)
{
    return crt_cat("strcat_s", __builtin_return_address(0), dst, size, src, _TRUNCATE - 1,
                   ISAPI_SIZE_UNKNOWN);
}

errno_t strncpy_s(char *dst, rsize_t size, const char *src, rsize_t count)
{
    return crt_copy("strncpy_s", __builtin_return_address(0), dst, size, src, count, ISAPI_SIZE_UNKNOWN);
}

errno_t strncat_s(char *dst, rsize_t size, const char *src, rsize_t count)
{
    return crt_cat("strncat_s", __builtin_return_address(0), dst, size, src, count, ISAPI_SIZE_UNKNOWN);
}

/* ---- memcpy_s ------------------------------------------------------------------------- */

static errno_t crt_memcpy(const void *caller, void *dst, size_t size, const void *src, size_t count,
                          size_t known)
{
    if (count == 0)
        return 0;
    size_t bound = crt_bound(size, known);
    if (dst == NULL) {
        crt_report("memcpy_s", caller, "NULL destination: returned EINVAL");
        return crt_fail(EINVAL);
    }
    if (src == NULL) {
        memset(dst, 0, bound);
        crt_report("memcpy_s", caller, "NULL source: destination zeroed, returned EINVAL");
        return crt_fail(EINVAL);
    }
    if (count > bound) {
        memmove(dst, src, bound);
        crt_report("memcpy_s", caller, "%zu bytes do not fit the destination's %zu: truncated, returned ERANGE",
                   count, bound);
        return crt_fail(ERANGE);
    }
    memmove(dst, src, count);
    crt_check_size("memcpy_s", caller, size, known, count);
    return 0;
}

errno_t isapi_crt_memcpy_s(void *dst, rsize_t size, const void *src, rsize_t count, size_t known)
{
    return crt_memcpy(__builtin_return_address(0), dst, size, src, count, known);
}

errno_t memcpy_s(void *dst, rsize_t size, const void *src, rsize_t count)
{
    return crt_memcpy(__builtin_return_address(0), dst, size, src, count, ISAPI_SIZE_UNKNOWN);
}

/* ---- _itoa_s --------------------------------------------------------------------------- */

/* MSVC: a '-' sign for negative values in radix 10 only; other radices print the value's
 * 32-bit two's complement pattern. */
/* The digits of `magnitude` in `radix` (2..36), most significant first, with a '-' when
 * `negative`, into out (66 bytes); returns the length. */
static size_t crt_digits(unsigned long long magnitude, int negative, int radix, char *out)
{
    char reversed[66];
    size_t n = 0;
    do {
        reversed[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[magnitude % (unsigned)radix];
        magnitude /= (unsigned)radix;
    } while (magnitude != 0);
    if (negative)
        reversed[n++] = '-';
    for (size_t i = 0; i < n; i++)
        out[i] = reversed[n - 1 - i];
    out[n] = '\0';
    return n;
}

static errno_t crt_itoa(const void *caller, int value, char *dst, size_t size, int radix, size_t known)
{
    size_t bound = crt_bound(size, known);
    if (dst == NULL || bound == 0) {
        crt_report("_itoa_s", caller, "%s: returned EINVAL", dst == NULL ? "NULL destination" : "size 0");
        return crt_fail(EINVAL);
    }
    if (radix < 2 || radix > 36) {
        dst[0] = '\0';
        crt_report("_itoa_s", caller, "radix %d is not 2..36: returned EINVAL", radix);
        return crt_fail(EINVAL);
    }
    char digits[66];
    int negative = radix == 10 && value < 0;
    size_t n = crt_digits(negative ? 0u - (uint32_t)value : (uint32_t)value, negative, radix, digits);
    if (n + 1 > bound) {
        dst[0] = '\0';
        crt_report("_itoa_s", caller, "%zu bytes do not fit the destination's %zu: emptied, returned ERANGE",
                   n + 1, bound);
        return crt_fail(ERANGE);
    }
    memcpy(dst, digits, n + 1);
    crt_check_size("_itoa_s", caller, size, known, n + 1);
    return 0;
}

errno_t isapi_crt_itoa_s(int value, char *dst, size_t size, int radix, size_t known)
{
    return crt_itoa(__builtin_return_address(0), value, dst, size, radix, known);
}

errno_t _itoa_s(int value, char *dst, size_t size, int radix)
{
    return crt_itoa(__builtin_return_address(0), value, dst, size, radix, ISAPI_SIZE_UNKNOWN);
}

/* The unbounded forms: a bad radix or NULL gives "" (or NULL), errno EINVAL. Negative values
 * are signed in radix 10 only, as in MSVC. */
static char *crt_toa(const char *fn, unsigned long long magnitude, int negative, char *dst, int radix)
{
    if (dst == NULL || radix < 2 || radix > 36) {
        if (dst != NULL)
            dst[0] = '\0';
        crt_report(fn, __builtin_return_address(0), "%s: returned EINVAL", dst == NULL ? "NULL destination" : "bad radix");
        errno = EINVAL;
        return dst;
    }
    crt_digits(magnitude, negative && radix == 10, radix, dst);
    return dst;
}

char *_itoa(int value, char *dst, int radix)
{
    int negative = radix == 10 && value < 0;
    return crt_toa("_itoa", negative ? 0u - (uint32_t)value : (uint32_t)value, negative, dst, radix);
}

char *_ltoa(int32_t value, char *dst, int radix)
{
    int negative = radix == 10 && value < 0;
    return crt_toa("_ltoa", negative ? 0u - (uint32_t)value : (uint32_t)value, negative, dst, radix);
}

char *_ultoa(uint32_t value, char *dst, int radix)
{
    return crt_toa("_ultoa", value, 0, dst, radix);
}

char *_i64toa(long long value, char *dst, int radix)
{
    int negative = radix == 10 && value < 0;
    unsigned long long u = (unsigned long long)value;
    return crt_toa("_i64toa", negative ? 0ull - u : u, negative, dst, radix);
}

char *_ui64toa(unsigned long long value, char *dst, int radix)
{
    return crt_toa("_ui64toa", value, 0, dst, radix);
}

/* ---- sprintf_s, vsprintf_s, _snprintf_s, _vsnprintf_s ----------------------------------- */

/* count: at most that many characters (_TRUNCATE: what fits, ISAPI_CRT_NO_COUNT: no limit but
 * the bound). Returns the length written, or -1: truncated by count or _TRUNCATE (no error,
 * as in MSVC), or by the bound (ERANGE, reported). */
static int crt_vsnprintf_s(const char *fn, const void *caller, char *dst, size_t size, size_t count,
                           size_t known, const char *fmt, va_list ap) __attribute__((format(printf, 7, 0)));
static int crt_vsnprintf_s(const char *fn, const void *caller, char *dst, size_t size, size_t count,
                           size_t known, const char *fmt, va_list ap)
{
    if (count == 0 && dst == NULL && size == 0)
        return 0; /* _snprintf_s(NULL, 0, 0, ...): allowed by MSVC, nothing to do */
    size_t bound = crt_bound(size, known);
    if (dst == NULL || bound == 0 || fmt == NULL) {
        if (dst != NULL && bound != 0)
            dst[0] = '\0';
        crt_report(fn, caller, "%s: returned -1 (EINVAL)",
                   dst == NULL ? "NULL destination" : bound == 0 ? "size 0" : "NULL format");
        crt_fail(EINVAL);
        return -1;
    }
    /* Limited by count within the bound: a truncation the caller asked for. */
    int count_limits = count == _TRUNCATE || (count != ISAPI_CRT_NO_COUNT && count < bound);
    size_t cap = count == _TRUNCATE || count == ISAPI_CRT_NO_COUNT || count >= bound ? bound : count + 1;
    int length = vsnprintf(dst, cap, fmt, ap);
    if (length < 0) {
        dst[0] = '\0';
        crt_fail(EINVAL);
        return -1;
    }
    if ((size_t)length < cap) {
        crt_check_size(fn, caller, size, known, (size_t)length + 1);
        return length;
    }
    if (count_limits)
        return -1;
    crt_report(fn, caller, "%d bytes do not fit the destination's %zu: truncated, returned -1 (ERANGE)",
               length + 1, bound);
    crt_fail(ERANGE);
    return -1;
}

int isapi_crt_vsnprintf_s(const char *fn, char *dst, size_t size, size_t count, size_t known,
                          const char *fmt, va_list ap)
{
    return crt_vsnprintf_s(fn, __builtin_return_address(0), dst, size, count, known, fmt, ap);
}

int isapi_crt_snprintf_s(const char *fn, char *dst, size_t size, size_t count, size_t known,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = crt_vsnprintf_s(fn, __builtin_return_address(0), dst, size, count, known, fmt, ap);
    va_end(ap);
    return n;
}

int sprintf_s(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = crt_vsnprintf_s("sprintf_s", __builtin_return_address(0), dst, size, ISAPI_CRT_NO_COUNT,
                            ISAPI_SIZE_UNKNOWN, fmt, ap);
    va_end(ap);
    return n;
}

int vsprintf_s(char *dst, size_t size, const char *fmt, va_list ap)
{
    return crt_vsnprintf_s("vsprintf_s", __builtin_return_address(0), dst, size, ISAPI_CRT_NO_COUNT,
                           ISAPI_SIZE_UNKNOWN, fmt, ap);
}

int _snprintf_s(char *dst, size_t size, size_t count, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = crt_vsnprintf_s("_snprintf_s", __builtin_return_address(0), dst, size, count,
                            ISAPI_SIZE_UNKNOWN, fmt, ap);
    va_end(ap);
    return n;
}

int _vsnprintf_s(char *dst, size_t size, size_t count, const char *fmt, va_list ap)
{
    return crt_vsnprintf_s("_vsnprintf_s", __builtin_return_address(0), dst, size, count,
                           ISAPI_SIZE_UNKNOWN, fmt, ap);
}

/* ---- _snprintf, _vsnprintf ------------------------------------------------------------- */

/* MSVC's _snprintf: the output's first `count` bytes, NUL-terminated only when shorter than
 * count; the length, or -1 when longer than count. When the known destination is smaller than
 * count, it is the limit instead and the result is always NUL-terminated (truncated: -1). */
static int crt_vsnprintf(const void *caller, char *dst, size_t count, size_t known, const char *fmt,
                         va_list ap) __attribute__((format(printf, 5, 0)));
static int crt_vsnprintf(const void *caller, char *dst, size_t count, size_t known, const char *fmt,
                         va_list ap)
{
    if (fmt == NULL || (dst == NULL && count != 0)) {
        crt_report("_snprintf", caller, "NULL %s: returned -1 (EINVAL)", fmt == NULL ? "format" : "destination");
        crt_fail(EINVAL);
        return -1;
    }
    va_list again;
    va_copy(again, ap);
    int length = vsnprintf(NULL, 0, fmt, ap);
    if (length < 0) {
        va_end(again);
        return -1;
    }
    int result;
    if (dst == NULL) {
        result = length; /* _snprintf(NULL, 0, ...): the length needed, as MSVC documents */
    } else if (known != ISAPI_SIZE_UNKNOWN && count > known && (size_t)length >= known) {
        vsnprintf(dst, known, fmt, again);
        crt_report("_snprintf", caller, "count %zu is larger than the destination (%zu bytes) and %d bytes do not fit: truncated, returned -1",
                   count, known, length + 1);
        result = -1;
    } else if ((size_t)length < count) {
        vsnprintf(dst, (size_t)length + 1, fmt, again);
        result = length;
    } else if (count > 0) {
        /* The first count bytes, without a terminator: format whole, then copy. */
        char *whole = malloc((size_t)length + 1);
        if (whole != NULL) {
            vsnprintf(whole, (size_t)length + 1, fmt, again);
            memcpy(dst, whole, count);
            free(whole);
        } else {
            vsnprintf(dst, count, fmt, again);
        }
        result = (size_t)length == count ? length : -1;
    } else {
        result = length == 0 ? 0 : -1;
    }
    va_end(again);
    return result;
}

int isapi_crt_vsnprintf(char *dst, size_t count, size_t known, const char *fmt, va_list ap)
{
    return crt_vsnprintf(__builtin_return_address(0), dst, count, known, fmt, ap);
}

int isapi_crt_snprintf(char *dst, size_t count, size_t known, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = crt_vsnprintf(__builtin_return_address(0), dst, count, known, fmt, ap);
    va_end(ap);
    return n;
}

int _snprintf(char *dst, size_t count, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = crt_vsnprintf(__builtin_return_address(0), dst, count, ISAPI_SIZE_UNKNOWN, fmt, ap);
    va_end(ap);
    return n;
}

int _vsnprintf(char *dst, size_t count, const char *fmt, va_list ap)
{
    return crt_vsnprintf(__builtin_return_address(0), dst, count, ISAPI_SIZE_UNKNOWN, fmt, ap);
}

/* ---- _stricmp, _strnicmp, _strdup ------------------------------------------------------ */

int _stricmp(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        errno = EINVAL;
        return _NLSCMPERROR;
    }
    return strcasecmp(a, b);
}

int _strnicmp(const char *a, const char *b, size_t count)
{
    if (a == NULL || b == NULL) {
        errno = EINVAL;
        return _NLSCMPERROR;
    }
    return strncasecmp(a, b, count);
}

char *_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *_strlwr(char *s)
{
    for (char *p = s; p != NULL && *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return s;
}

char *_strupr(char *s)
{
    for (char *p = s; p != NULL && *p != '\0'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return s;
}

int _vscprintf(const char *fmt, va_list ap)
{
    if (fmt == NULL) {
        errno = EINVAL;
        return -1;
    }
    return vsnprintf(NULL, 0, fmt, ap);
}

int _scprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = _vscprintf(fmt, ap);
    va_end(ap);
    return n;
}
