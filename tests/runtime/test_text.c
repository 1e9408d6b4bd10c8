/* Code page conversions and case mapping (runtime/text.c): UTF-8 <-> UTF-16 with sizes,
 * NUL handling, surrogate pairs, malformed input with and without the strict flags, and the
 * Win32 errors of bad arguments. */
#include <windows.h>

#include "check.h"

static int wide_equals(const WCHAR *got, const WCHAR *want, int n)
{
    return memcmp(got, want, (size_t)n * sizeof(WCHAR)) == 0;
}

static void test_multibyte_to_wide(void)
{
    /* "aé€😀" = 61 | C3 A9 | E2 82 AC | F0 9F 98 80 */
    const char *text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    const WCHAR want[] = {0x61, 0xE9, 0x20AC, 0xD83D, 0xDE00, 0};
    WCHAR out[16];

    CHECK_INT(MultiByteToWideChar(CP_UTF8, 0, text, -1, NULL, 0), 6);
    CHECK_INT(MultiByteToWideChar(CP_UTF8, 0, text, -1, out, 16), 6);
    CHECK(wide_equals(out, want, 6));
    CHECK_INT(MultiByteToWideChar(CP_ACP, 0, text, 3, out, 16), 2); /* no NUL with a length */
    CHECK(wide_equals(out, want, 2));

    SetLastError(0);
    CHECK_INT(MultiByteToWideChar(CP_UTF8, 0, text, -1, out, 5), 0);
    CHECK_INT(GetLastError(), ERROR_INSUFFICIENT_BUFFER);

    /* Malformed: U+FFFD, or ERROR_NO_UNICODE_TRANSLATION with MB_ERR_INVALID_CHARS. */
    const char *bad = "x\xC0\xAFy\xE2\x82";
    CHECK_INT(MultiByteToWideChar(CP_UTF8, 0, bad, 6, out, 16), 6);
    CHECK(out[0] == 'x' && out[1] == 0xFFFD && out[2] == 0xFFFD && out[3] == 'y' && out[4] == 0xFFFD);
    CHECK_INT(MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, bad, 6, out, 16), 0);
    CHECK_INT(GetLastError(), ERROR_NO_UNICODE_TRANSLATION);
    CHECK_INT(MultiByteToWideChar(CP_UTF8, 0, "\xED\xA0\x80", 3, out, 16), 3); /* encoded surrogate */

    CHECK_INT(MultiByteToWideChar(CP_UTF8, 0, NULL, -1, out, 16), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_INT(MultiByteToWideChar(CP_UTF8, 0, "a", 0, out, 16), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_INT(MultiByteToWideChar(1252, 0, "a", 1, out, 16), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_INT(MultiByteToWideChar(CP_UTF8, 0x100, "a", 1, out, 16), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_FLAGS);
    CHECK_INT(MultiByteToWideChar(CP_UTF8, 0, "a", 1, NULL, 4), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);

    /* The ANSI code page takes Windows's other flags (no-ops for UTF-8), not both forms. */
    CHECK_INT(MultiByteToWideChar(CP_ACP, MB_PRECOMPOSED | MB_USEGLYPHCHARS, text, -1, out, 16), 6);
    CHECK(wide_equals(out, want, 6));
    CHECK_INT(MultiByteToWideChar(CP_ACP, MB_COMPOSITE, "ab", 2, out, 16), 2);
    CHECK_INT(MultiByteToWideChar(CP_ACP, MB_PRECOMPOSED | MB_COMPOSITE, "ab", 2, out, 16), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_FLAGS);
}

static void test_wide_to_multibyte(void)
{
    const WCHAR text[] = {0x61, 0xE9, 0x20AC, 0xD83D, 0xDE00, 0};
    char out[32];
    CHECK_INT(WideCharToMultiByte(CP_UTF8, 0, text, -1, NULL, 0, NULL, NULL), 11);
    CHECK_INT(WideCharToMultiByte(CP_UTF8, 0, text, -1, out, sizeof out, NULL, NULL), 11);
    CHECK_STR(out, "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    CHECK_INT(WideCharToMultiByte(CP_UTF8, 0, text, 2, out, sizeof out, NULL, NULL), 3);

    SetLastError(0);
    CHECK_INT(WideCharToMultiByte(CP_UTF8, 0, text, -1, out, 10, NULL, NULL), 0);
    CHECK_INT(GetLastError(), ERROR_INSUFFICIENT_BUFFER);

    /* A lone surrogate: U+FFFD, the default character (CP_ACP), or an error. */
    const WCHAR lone[] = {'a', 0xDC00, 'b'};
    CHECK_INT(WideCharToMultiByte(CP_UTF8, 0, lone, 3, out, sizeof out, NULL, NULL), 5);
    CHECK(memcmp(out, "a\xEF\xBF\xBD" "b", 5) == 0);
    CHECK_INT(WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, lone, 3, out, sizeof out, NULL, NULL), 0);
    CHECK_INT(GetLastError(), ERROR_NO_UNICODE_TRANSLATION);
    BOOL used = FALSE;
    CHECK_INT(WideCharToMultiByte(CP_ACP, 0, lone, 3, out, sizeof out, "?", &used), 3);
    CHECK(memcmp(out, "a?b", 3) == 0);
    CHECK(used == TRUE);
    CHECK_INT(WideCharToMultiByte(CP_ACP, 0, text, 1, out, sizeof out, "?", &used), 1);
    CHECK(used == FALSE);

    /* CP_UTF8 refuses the default-character arguments, as on Windows. */
    CHECK_INT(WideCharToMultiByte(CP_UTF8, 0, text, -1, out, sizeof out, "?", NULL), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_INT(WideCharToMultiByte(CP_UTF8, 0, NULL, -1, out, sizeof out, NULL, NULL), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_INT(WideCharToMultiByte(CP_UTF8, 0, text, 0, out, sizeof out, NULL, NULL), 0);
    CHECK_INT(WideCharToMultiByte(CP_UTF8, 1, text, 1, out, sizeof out, NULL, NULL), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_FLAGS);
    /* CP_ACP takes the flags Windows code passes it; CP_UTF8 refuses them, as on Windows. */
    CHECK_INT(WideCharToMultiByte(CP_ACP, WC_NO_BEST_FIT_CHARS, text, -1, out, sizeof out, NULL, NULL), 11);
    CHECK_STR(out, "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    CHECK_INT(WideCharToMultiByte(CP_ACP, WC_COMPOSITECHECK | WC_DEFAULTCHAR, lone, 3, out, sizeof out, "?", &used), 3);
    CHECK(memcmp(out, "a?b", 3) == 0);
    CHECK_INT(WideCharToMultiByte(CP_ACP, WC_COMPOSITECHECK | WC_SEPCHARS | WC_DISCARDNS, text, 1, out, sizeof out, NULL, NULL), 1);
    CHECK_INT(WideCharToMultiByte(CP_UTF8, WC_NO_BEST_FIT_CHARS, text, 1, out, sizeof out, NULL, NULL), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_FLAGS);

    /* Round trip of every BMP code point but the surrogates, and one astral one. */
    int mismatches = 0;
    for (uint32_t cp = 1; cp < 0x10000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        WCHAR w = (WCHAR)cp, back[2];
        char utf8[4];
        int n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, &w, 1, utf8, sizeof utf8, NULL, NULL);
        if (n <= 0 || MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, n, back, 2) != 1 || back[0] != w)
            mismatches++;
    }
    CHECK_INT(mismatches, 0);
}

static void test_case(void)
{
    char s[] = "Content-Type: x/Y";
    CHECK(CharUpper(s) == s);
    CHECK_STR(s, "CONTENT-TYPE: X/Y");
    CHECK_STR(CharLowerA(s), "content-type: x/y");
    CHECK_INT((uintptr_t)CharUpperA((LPSTR)(uintptr_t)'q'), 'Q');
    CHECK_INT((uintptr_t)CharLowerA((LPSTR)(uintptr_t)'Q'), 'q');
    char b[] = "abcdef";
    CHECK_INT(CharUpperBuffA(b, 3), 3);
    CHECK_STR(b, "ABCdef");
    CHECK_INT(CharLowerBuffA(b, 2), 2);
    CHECK_STR(b, "abCdef");
    CHECK_INT(lstrcmpi("ReadCli.dll", "READCLI.DLL"), 0);
}

int main(void)
{
    test_multibyte_to_wide();
    test_wide_to_multibyte();
    test_case();
    return check_report("text");
}
