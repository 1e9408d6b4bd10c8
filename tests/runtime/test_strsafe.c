/* strsafe (runtime/strsafe.c): each function's normal, truncation and error HRESULTs, and the
 * bound policy with arrays and with pointers of unknown size. */
#include <windows.h>
#include <strsafe.h>

#include "check.h"

static char *opaque(char *p)
{
    char *volatile laundered = p;
    return laundered;
}

struct guarded {
    char before[8];
    char buf[12];
    char after[8];
};

static int guard_intact(const struct guarded *g)
{
    for (size_t i = 0; i < sizeof g->before; i++)
        if (g->before[i] != 'G' || g->after[i] != 'G')
            return 0;
    return 1;
}

static void test_values(void)
{
    CHECK_INT(STRSAFE_E_INSUFFICIENT_BUFFER, (int32_t)0x8007007Au);
    CHECK_INT(STRSAFE_E_INVALID_PARAMETER, (int32_t)0x80070057u);
    CHECK_INT(STRSAFE_MAX_CCH, 2147483647);
    CHECK(FAILED(STRSAFE_E_INSUFFICIENT_BUFFER) && SUCCEEDED(S_OK));
}

static void test_copy_cat(void)
{
    struct guarded g;
    memset(&g, 'G', sizeof g);
    CHECK_INT(StringCchCopy(g.buf, _countof(g.buf), "abc"), S_OK);
    CHECK_STR(g.buf, "abc");
    CHECK_INT(StringCchCat(g.buf, sizeof g.buf, "def"), S_OK);
    CHECK_STR(g.buf, "abcdef");
    CHECK_INT(StringCchCat(g.buf, sizeof g.buf, "0123456789"), STRSAFE_E_INSUFFICIENT_BUFFER);
    CHECK_STR(g.buf, "abcdef01234");
    CHECK_INT(StringCbCopy(g.buf, sizeof g.buf, "0123456789abcdef"), STRSAFE_E_INSUFFICIENT_BUFFER);
    CHECK_STR(g.buf, "0123456789a");
    CHECK_INT(StringCchCopyN(g.buf, sizeof g.buf, "abcdef", 2), S_OK);
    CHECK_STR(g.buf, "ab");
    CHECK_INT(StringCbCat(g.buf, sizeof g.buf, "cd"), S_OK);
    CHECK_STR(g.buf, "abcd");
    CHECK(guard_intact(&g));

    /* Wrong sizes with a known array: the array's size wins. */
    char *p = g.buf;
    CHECK_INT(StringCchCopy(g.buf, sizeof p, "ten chars!"), S_OK);
    CHECK_STR(g.buf, "ten chars!");
    CHECK_INT(StringCchCopy(g.buf, 0, "x"), S_OK);
    CHECK_INT(StringCchCopy(g.buf, 100, "0123456789abcdef"), STRSAFE_E_INSUFFICIENT_BUFFER);
    CHECK(guard_intact(&g));

    /* Unknown size: the caller's. */
    char *dst = opaque(g.buf);
    CHECK_INT(StringCchCopy(dst, 4, "abcdef"), STRSAFE_E_INSUFFICIENT_BUFFER);
    CHECK_STR(g.buf, "abc");
    strcpy(g.buf, "keep");
    CHECK_INT(StringCchCopy(dst, 0, "x"), STRSAFE_E_INVALID_PARAMETER);
    CHECK_STR(g.buf, "keep");
    /* A size above STRSAFE_MAX_CCH: invalid, and the copy and printf forms empty the
     * destination (cch > 0), as the Windows SDK's do; the cat forms leave it. */
    CHECK_INT(StringCchCopy(dst, (size_t)STRSAFE_MAX_CCH + 1, "x"), STRSAFE_E_INVALID_PARAMETER);
    CHECK_STR(g.buf, "");
    strcpy(g.buf, "keep");
    CHECK_INT(StringCchPrintf(dst, (size_t)STRSAFE_MAX_CCH + 1, "%s", "x"), STRSAFE_E_INVALID_PARAMETER);
    CHECK_STR(g.buf, "");
    strcpy(g.buf, "keep");
    CHECK_INT(StringCchCat(dst, (size_t)STRSAFE_MAX_CCH + 1, "x"), STRSAFE_E_INVALID_PARAMETER);
    CHECK_STR(g.buf, "keep");
    CHECK_INT(StringCchCopyN(dst, 8, "abc", (size_t)STRSAFE_MAX_CCH + 1), STRSAFE_E_INVALID_PARAMETER);
    CHECK_STR(g.buf, "");
    CHECK_INT(StringCchCopyN(dst, 8, "abc", 0), S_OK);
    CHECK_STR(g.buf, "");
    CHECK_INT(StringCchCopy(NULL, 4, "x"), STRSAFE_E_INVALID_PARAMETER);
    CHECK_INT(StringCchCopy(dst, 4, NULL), STRSAFE_E_INVALID_PARAMETER);
    CHECK_STR(g.buf, "");
    memcpy(g.buf, "abcdefgh", 8);
    CHECK_INT(StringCchCat(dst, 4, "x"), STRSAFE_E_INVALID_PARAMETER); /* unterminated */
    CHECK(guard_intact(&g));

    HRESULT (*volatile fn)(STRSAFE_LPSTR, size_t, STRSAFE_LPCSTR) = StringCchCopyA;
    CHECK_INT(fn(g.buf, 3, "abc"), STRSAFE_E_INSUFFICIENT_BUFFER);
    CHECK_STR(g.buf, "ab");
}

static HRESULT call_vprintf(char *dst, size_t cch, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    HRESULT hr = StringCchVPrintf(dst, cch, fmt, ap);
    va_end(ap);
    return hr;
}

static void test_printf(void)
{
    struct guarded g;
    memset(&g, 'G', sizeof g);
    CHECK_INT(StringCchPrintf(g.buf, sizeof g.buf, "%u-%s", 7u, "x"), S_OK);
    CHECK_STR(g.buf, "7-x");
    CHECK_INT(StringCbPrintf(g.buf, sizeof g.buf, "%s", "0123456789abcdef"), STRSAFE_E_INSUFFICIENT_BUFFER);
    CHECK_STR(g.buf, "0123456789a");
    char *p = g.buf;
    CHECK_INT(StringCbPrintf(g.buf, sizeof p, "%s", "nine char"), S_OK);
    CHECK_STR(g.buf, "nine char");
    CHECK_INT(StringCchPrintf(opaque(g.buf), 5, "%d", 123456), STRSAFE_E_INSUFFICIENT_BUFFER);
    CHECK_STR(g.buf, "1234");
    CHECK_INT(call_vprintf(g.buf, sizeof g.buf, "%d%d", 1, 2), S_OK);
    CHECK_STR(g.buf, "12");
    CHECK_INT(StringCchPrintf(NULL, 5, "x"), STRSAFE_E_INVALID_PARAMETER);
    CHECK(guard_intact(&g));
}

static void test_length(void)
{
    size_t n = 99;
    CHECK_INT(StringCchLength("hello", STRSAFE_MAX_CCH, &n), S_OK);
    CHECK_INT(n, 5);
    CHECK_INT(StringCchLength("hello", 5, &n), STRSAFE_E_INVALID_PARAMETER);
    CHECK_INT(n, 0);
    CHECK_INT(StringCchLength("hello", 6, NULL), S_OK);
    CHECK_INT(StringCchLength(NULL, 6, &n), STRSAFE_E_INVALID_PARAMETER);
    CHECK_INT(StringCbLength("abc", 0, &n), STRSAFE_E_INVALID_PARAMETER);
    CHECK_INT(StringCbLength("abc", 4, &n), S_OK);
    CHECK_INT(n, 3);
}

int main(void)
{
    test_values();
    test_copy_cat();
    test_printf();
    test_length();
    return check_report("strsafe");
}
