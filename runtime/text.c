/* libisapi: code page conversions and case mapping (include/isapi/isapi_crt.h, "Text").
 *
 * Every narrow code page accepted is UTF-8 and WCHAR strings are UTF-16, so the conversions
 * are UTF-8 <-> UTF-16 transcoders. Both sides count in code units. Each conversion runs in
 * two passes over the same decoder: the first measures, the second (only when the output
 * is big enough) writes, so a failure never leaves a partial result that looks complete. */
#include <windows.h>

#define REPLACEMENT_CHARACTER 0xFFFDu

static int is_utf8_code_page(UINT code_page)
{
    return code_page == CP_ACP || code_page == CP_OEMCP || code_page == CP_THREAD_ACP || code_page == CP_UTF8;
}

static int fail(DWORD error)
{
    SetLastError(error);
    return 0;
}

/* Decodes one code point from s[0..n) (n >= 1) into *cp; returns the bytes used, with *bad set
 * when the sequence was malformed (overlong, a surrogate, above U+10FFFF, or truncated; one
 * byte is then consumed and *cp is U+FFFD). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp, int *bad)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t min, value;
    *bad = 0;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
        len = 2, min = 0x80, value = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3, min = 0x800, value = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4, min = 0x10000, value = b & 0x07;
    } else {
        goto malformed;
    }
    if (len > n)
        goto malformed;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            goto malformed;
        value = (value << 6) | (s[i] & 0x3F);
    }
    if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
        goto malformed;
    *cp = value;
    return len;
malformed:
    *bad = 1;
    *cp = REPLACEMENT_CHARACTER;
    return 1;
}

int WINAPI MultiByteToWideChar(UINT CodePage, DWORD dwFlags, LPCSTR lpMultiByteStr, int cbMultiByte,
                               LPWSTR lpWideCharStr, int cchWideChar)
{
    if (!is_utf8_code_page(CodePage) || lpMultiByteStr == NULL || cbMultiByte == 0 || cbMultiByte < -1 ||
        cchWideChar < 0 || (lpWideCharStr == NULL && cchWideChar != 0) ||
        (void *)lpMultiByteStr == (void *)lpWideCharStr)
        return fail(ERROR_INVALID_PARAMETER);
    DWORD allowed = MB_PRECOMPOSED | MB_ERR_INVALID_CHARS;
    if (CodePage != CP_UTF8)
        allowed |= MB_COMPOSITE | MB_USEGLYPHCHARS;
    if ((dwFlags & ~allowed) != 0 || (dwFlags & (MB_PRECOMPOSED | MB_COMPOSITE)) == (MB_PRECOMPOSED | MB_COMPOSITE))
        return fail(ERROR_INVALID_FLAGS);
    const unsigned char *in = (const unsigned char *)lpMultiByteStr;
    size_t n = cbMultiByte == -1 ? strlen(lpMultiByteStr) + 1 : (size_t)cbMultiByte;

    size_t needed = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int bad;
        i += utf8_decode(in + i, n - i, &cp, &bad);
        if (bad && (dwFlags & MB_ERR_INVALID_CHARS))
            return fail(ERROR_NO_UNICODE_TRANSLATION);
        needed += cp >= 0x10000 ? 2 : 1;
    }
    if (needed > INT32_MAX)
        return fail(ERROR_INVALID_PARAMETER);
    if (cchWideChar == 0)
        return (int)needed;
    if (needed > (size_t)cchWideChar)
        return fail(ERROR_INSUFFICIENT_BUFFER);

    size_t out = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int bad;
        i += utf8_decode(in + i, n - i, &cp, &bad);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            lpWideCharStr[out++] = (WCHAR)(0xD800 + (cp >> 10));
            lpWideCharStr[out++] = (WCHAR)(0xDC00 + (cp & 0x3FF));
        } else {
            lpWideCharStr[out++] = (WCHAR)cp;
        }
    }
    return (int)out;
}

/* Decodes one code point from UTF-16 w[0..n) (n >= 1); a lone surrogate sets *bad and gives
 * U+FFFD. Returns the units used. */
static size_t utf16_decode(const WCHAR *w, size_t n, uint32_t *cp, int *bad)
{
    uint32_t u = w[0];
    *bad = 0;
    if (u >= 0xD800 && u <= 0xDBFF && n >= 2 && w[1] >= 0xDC00 && w[1] <= 0xDFFF) {
        *cp = 0x10000 + ((u - 0xD800) << 10) + (w[1] - 0xDC00u);
        return 2;
    }
    if (u >= 0xD800 && u <= 0xDFFF) {
        *bad = 1;
        *cp = REPLACEMENT_CHARACTER;
        return 1;
    }
    *cp = u;
    return 1;
}

static size_t utf8_encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* As on Windows, CP_UTF8 refuses lpDefaultChar and lpUsedDefaultChar; for the other (UTF-8)
 * code pages they are accepted, and the default character replaces a lone surrogate. */
int WINAPI WideCharToMultiByte(UINT CodePage, DWORD dwFlags, LPCWSTR lpWideCharStr, int cchWideChar,
                               LPSTR lpMultiByteStr, int cbMultiByte, LPCSTR lpDefaultChar,
                               LPBOOL lpUsedDefaultChar)
{
    if (!is_utf8_code_page(CodePage) || lpWideCharStr == NULL || cchWideChar == 0 || cchWideChar < -1 ||
        cbMultiByte < 0 || (lpMultiByteStr == NULL && cbMultiByte != 0) ||
        (void *)lpMultiByteStr == (void *)lpWideCharStr ||
        (CodePage == CP_UTF8 && (lpDefaultChar != NULL || lpUsedDefaultChar != NULL)))
        return fail(ERROR_INVALID_PARAMETER);
    DWORD allowed = WC_ERR_INVALID_CHARS;
    if (CodePage != CP_UTF8)
        allowed |= WC_COMPOSITECHECK | WC_DISCARDNS | WC_SEPCHARS | WC_DEFAULTCHAR | WC_NO_BEST_FIT_CHARS;
    if ((dwFlags & ~allowed) != 0)
        return fail(ERROR_INVALID_FLAGS);
    size_t n = (size_t)cchWideChar;
    if (cchWideChar == -1) {
        n = 0;
        while (lpWideCharStr[n] != 0)
            n++;
        n++;
    }
    size_t default_length = lpDefaultChar != NULL ? strlen(lpDefaultChar) : 0;
    if (lpUsedDefaultChar != NULL)
        *lpUsedDefaultChar = FALSE;

    size_t needed = 0;
    unsigned char scratch[4];
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int bad;
        i += utf16_decode(lpWideCharStr + i, n - i, &cp, &bad);
        if (bad && (dwFlags & WC_ERR_INVALID_CHARS))
            return fail(ERROR_NO_UNICODE_TRANSLATION);
        needed += bad && lpDefaultChar != NULL ? default_length : utf8_encode(cp, scratch);
    }
    if (needed > INT32_MAX)
        return fail(ERROR_INVALID_PARAMETER);
    if (cbMultiByte == 0)
        return (int)needed;
    if (needed > (size_t)cbMultiByte)
        return fail(ERROR_INSUFFICIENT_BUFFER);

    unsigned char *out = (unsigned char *)lpMultiByteStr;
    size_t used = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int bad;
        i += utf16_decode(lpWideCharStr + i, n - i, &cp, &bad);
        if (bad && lpDefaultChar != NULL) {
            memcpy(out + used, lpDefaultChar, default_length);
            used += default_length;
            if (lpUsedDefaultChar != NULL)
                *lpUsedDefaultChar = TRUE;
        } else {
            used += utf8_encode(cp, out + used);
        }
    }
    return (int)used;
}

/* ---- Case ---------------------------------------------------------------------------- */

static char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Windows: when the pointer's high-order bits are zero, its low word is one character. */
static int is_single_character(LPSTR lpsz)
{
    return ((uintptr_t)lpsz >> 16) == 0;
}

LPSTR WINAPI CharUpperA(LPSTR lpsz)
{
    if (is_single_character(lpsz))
        return (LPSTR)(uintptr_t)(unsigned char)ascii_upper((char)(uintptr_t)lpsz);
    for (char *p = lpsz; *p != '\0'; p++)
        *p = ascii_upper(*p);
    return lpsz;
}

LPSTR WINAPI CharLowerA(LPSTR lpsz)
{
    if (is_single_character(lpsz))
        return (LPSTR)(uintptr_t)(unsigned char)ascii_lower((char)(uintptr_t)lpsz);
    for (char *p = lpsz; *p != '\0'; p++)
        *p = ascii_lower(*p);
    return lpsz;
}

DWORD WINAPI CharUpperBuffA(LPSTR lpsz, DWORD cchLength)
{
    if (lpsz == NULL)
        return 0;
    for (DWORD i = 0; i < cchLength; i++)
        lpsz[i] = ascii_upper(lpsz[i]);
    return cchLength;
}

DWORD WINAPI CharLowerBuffA(LPSTR lpsz, DWORD cchLength)
{
    if (lpsz == NULL)
        return 0;
    for (DWORD i = 0; i < cchLength; i++)
        lpsz[i] = ascii_lower(lpsz[i]);
    return cchLength;
}
