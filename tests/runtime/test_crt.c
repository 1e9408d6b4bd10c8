/* The MSVC C runtime functions of libisapi (runtime/crt.c) and the bound policy
 * (include/isapi/isapi_crt.h): normal, truncation and error cases of each, with destinations
 * whose size the compiler knows (arrays) and does not know (opaque pointers). Built with
 * optimisation, as extensions are (the policy needs it to see sizes). */
#include <windows.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"

/* A pointer the compiler cannot trace back to its array: the caller's size is the bound. */
static char *opaque(char *p)
{
    char *volatile laundered = p;
    return laundered;
}

/* Each destination sits between two guard zones that must stay untouched. */
struct guarded {
    char before[8];
    char buf[16];
    char after[8];
};

static void guard_init(struct guarded *g)
{
    memset(g, 'G', sizeof *g);
}

static int guard_intact(const struct guarded *g)
{
    for (size_t i = 0; i < sizeof g->before; i++)
        if (g->before[i] != 'G' || g->after[i] != 'G')
            return 0;
    return 1;
}

static void test_strcpy_s(void)
{
    struct guarded g;
    guard_init(&g);
    CHECK_INT(strcpy_s(g.buf, sizeof g.buf, "hello"), 0);
    CHECK_STR(g.buf, "hello");

    /* Does not fit: truncated to 15 characters, ERANGE, guards intact. */
    errno = 0;
    CHECK_INT(strcpy_s(g.buf, sizeof g.buf, "0123456789abcdefXYZ"), ERANGE);
    CHECK_INT(errno, ERANGE);
    CHECK_STR(g.buf, "0123456789abcde");
    CHECK(guard_intact(&g));

    /* The classic wrong sizes, with the destination's size known: the array's size wins. */
    char *p = g.buf;
    CHECK_INT(strcpy_s(g.buf, sizeof p, "a longer text"), 0); /* sizeof(pointer) = 8 */
    CHECK_STR(g.buf, "a longer text");
    g.buf[0] = '\0';
    CHECK_INT(strcpy_s(g.buf, strlen(g.buf), "from empty"), 0); /* strlen(dst) = 0 */
    CHECK_STR(g.buf, "from empty");
    /* A size larger than the array cannot overflow it. */
    CHECK_INT(strcpy_s(g.buf, 1000, "0123456789abcdefXYZ"), ERANGE);
    CHECK_STR(g.buf, "0123456789abcde");
    CHECK(guard_intact(&g));

    /* Unknown destination: the caller's size is the bound, exactly as Microsoft's. */
    char *dst = opaque(g.buf);
    CHECK_INT(strcpy_s(dst, 8, "a longer text"), ERANGE);
    CHECK_STR(g.buf, "a longe");
    CHECK_INT(strcpy_s(dst, 16, "fits"), 0);
    CHECK_STR(g.buf, "fits");

    /* Errors: EINVAL, no crash; a NULL source empties the destination. */
    CHECK_INT(strcpy_s(NULL, 10, "x"), EINVAL);
    CHECK_INT(strcpy_s(dst, 16, NULL), EINVAL);
    CHECK_STR(g.buf, "");
    strcpy(g.buf, "keep");
    CHECK_INT(strcpy_s(dst, 0, "x"), EINVAL);
    CHECK_STR(g.buf, "keep");
    CHECK(guard_intact(&g));

    /* Taking the address gets the library's definition: the caller's size is the bound. */
    errno_t (*volatile fn)(char *, rsize_t, const char *) = strcpy_s;
    CHECK_INT(fn(g.buf, 4, "abcdef"), ERANGE);
    CHECK_STR(g.buf, "abc");
}

static void test_strcat_s(void)
{
    struct guarded g;
    guard_init(&g);
    strcpy(g.buf, "abc");
    CHECK_INT(strcat_s(g.buf, sizeof g.buf, "def"), 0);
    CHECK_STR(g.buf, "abcdef");
    CHECK_INT(strcat_s(g.buf, sizeof g.buf, "0123456789XYZ"), ERANGE);
    CHECK_STR(g.buf, "abcdef012345678");
    CHECK(guard_intact(&g));

    /* strlen(dst) as the size: the array's size wins. */
    strcpy(g.buf, "abc");
    CHECK_INT(strcat_s(g.buf, strlen(g.buf), "def"), 0);
    CHECK_STR(g.buf, "abcdef");

    /* Unknown destination, unterminated within the size: EINVAL, emptied. */
    char *dst = opaque(g.buf);
    memcpy(g.buf, "abcdefgh", 8);
    CHECK_INT(strcat_s(dst, 4, "x"), EINVAL);
    CHECK_STR(g.buf, "");
    CHECK_INT(strcat_s(NULL, 4, "x"), EINVAL);
    CHECK_INT(strcat_s(dst, 16, NULL), EINVAL);
    CHECK(guard_intact(&g));
}

static void test_strncpy_strncat(void)
{
    struct guarded g;
    guard_init(&g);
    CHECK_INT(strncpy_s(g.buf, sizeof g.buf, "abcdef", 3), 0);
    CHECK_STR(g.buf, "abc");
    CHECK_INT(strncpy_s(g.buf, sizeof g.buf, "abcdef", 0), 0);
    CHECK_STR(g.buf, "");
    CHECK_INT(strncpy_s(g.buf, sizeof g.buf, NULL, 0), 0);
    /* _TRUNCATE: what fits, STRUNCATE; no error. */
    CHECK_INT(strncpy_s(g.buf, sizeof g.buf, "0123456789abcdefXYZ", _TRUNCATE), STRUNCATE);
    CHECK_STR(g.buf, "0123456789abcde");
    CHECK_INT(strncpy_s(g.buf, sizeof g.buf, "short", _TRUNCATE), 0);
    CHECK_STR(g.buf, "short");
    /* count larger than the room: ERANGE, truncated. */
    CHECK_INT(strncpy_s(g.buf, sizeof g.buf, "0123456789abcdefXYZ", 18), ERANGE);
    CHECK_STR(g.buf, "0123456789abcde");
    CHECK(guard_intact(&g));

    strcpy(g.buf, "ab");
    CHECK_INT(strncat_s(g.buf, sizeof g.buf, "cdef", 2), 0);
    CHECK_STR(g.buf, "abcd");
    CHECK_INT(strncat_s(g.buf, sizeof g.buf, "0123456789XYZ", _TRUNCATE), STRUNCATE);
    CHECK_STR(g.buf, "abcd0123456789X");
    CHECK_INT(strncat_s(g.buf, sizeof g.buf, "more", 4), ERANGE);
    CHECK_STR(g.buf, "abcd0123456789X");
    CHECK(guard_intact(&g));

    /* C++-style call through a pointer of unknown size with sizeof(pointer) = 8. */
    char *dst = opaque(g.buf);
    CHECK_INT(strncpy_s(dst, sizeof dst, "0123456789", _TRUNCATE), STRUNCATE);
    CHECK_STR(g.buf, "0123456");
}

/* A source array without a NUL, at the very end of a readable page: strncpy_s/strncat_s
 * with a count read at most count characters of it, also when they fail. */
static void test_unterminated_source(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(pages != MAP_FAILED);
    if (pages == MAP_FAILED)
        return;
    CHECK(mprotect(pages + page, page, PROT_NONE) == 0);
    char *src = pages + page - 8;
    memcpy(src, "abcdefgh", 8);
    char buf[16];
    CHECK_INT(strncpy_s(opaque(buf), 4, src, 8), ERANGE);
    CHECK_STR(buf, "abc");
    CHECK_INT(strncpy_s(opaque(buf), 16, src, 8), 0);
    CHECK_STR(buf, "abcdefgh");
    strcpy(buf, "xy");
    CHECK_INT(strncat_s(opaque(buf), 6, src, 8), ERANGE);
    CHECK_STR(buf, "xyabc");
    munmap(pages, 2 * page);

    /* MSVC's "nothing to do" case: no destination, size 0 and count 0. */
    CHECK_INT(strncpy_s(NULL, 0, "x", 0), 0);
    CHECK_INT(strncat_s(NULL, 0, "x", 0), 0);
    CHECK_INT(_snprintf_s(NULL, 0, 0, "%s", "x"), 0);
}

static void test_memcpy_s(void)
{
    struct guarded g;
    guard_init(&g);
    CHECK_INT(memcpy_s(g.buf, sizeof g.buf, "0123456789", 10), 0);
    CHECK(memcmp(g.buf, "0123456789", 10) == 0);
    CHECK_INT(memcpy_s(g.buf, 1000, "0123456789abcdefXYZ", 19), ERANGE);
    CHECK(memcmp(g.buf, "0123456789abcdef", 16) == 0);
    CHECK_INT(memcpy_s(g.buf, sizeof g.buf, NULL, 4), EINVAL);
    CHECK(g.buf[0] == 0 && g.buf[15] == 0);
    CHECK_INT(memcpy_s(NULL, 4, "x", 1), EINVAL);
    CHECK_INT(memcpy_s(NULL, 0, NULL, 0), 0);
    CHECK(guard_intact(&g));
    void *dst = opaque(g.buf);
    CHECK_INT(memcpy_s(dst, 4, "abcdef", 6), ERANGE);
    CHECK(memcmp(g.buf, "abcd", 4) == 0 && g.buf[4] == 0);
}

static void test_itoa_s(void)
{
    char buf[12];
    CHECK_INT(_itoa_s(-1234, buf, sizeof buf, 10), 0);
    CHECK_STR(buf, "-1234");
    CHECK_INT(_itoa_s(255, buf, sizeof buf, 16), 0);
    CHECK_STR(buf, "ff");
    CHECK_INT(_itoa_s(-1, buf, sizeof buf, 16), 0);
    CHECK_STR(buf, "ffffffff");
    CHECK_INT(_itoa_s(5, buf, sizeof buf, 2), 0);
    CHECK_STR(buf, "101");
    CHECK_INT(_itoa_s(INT32_MIN, buf, sizeof buf, 10), 0);
    CHECK_STR(buf, "-2147483648");
    CHECK_INT(_itoa_s(7, buf, sizeof buf, 1), EINVAL);
    CHECK_STR(buf, "");
    char *dst = opaque(buf);
    CHECK_INT(_itoa_s(123456, dst, 4, 10), ERANGE); /* a number is never truncated */
    CHECK_STR(buf, "");
    CHECK_INT(_itoa_s(1, NULL, 4, 10), EINVAL);
}

static void test_sprintf_family(void)
{
    struct guarded g;
    guard_init(&g);
    CHECK_INT(sprintf_s(g.buf, sizeof g.buf, "%s=%u", "n", 42u), 4);
    CHECK_STR(g.buf, "n=42");
    errno = 0;
    CHECK_INT(sprintf_s(g.buf, sizeof g.buf, "%s", "0123456789abcdefXYZ"), -1);
    CHECK_INT(errno, ERANGE);
    CHECK_STR(g.buf, "0123456789abcde");
    CHECK(guard_intact(&g));
    /* sizeof(pointer) with a known array: the array's size. */
    char *p = g.buf;
    CHECK_INT(sprintf_s(g.buf, sizeof p, "%s", "twelve chars"), 12);
    CHECK_STR(g.buf, "twelve chars");
    CHECK_INT(sprintf_s(NULL, 4, "x"), -1);
    CHECK_INT(sprintf_s(g.buf, sizeof g.buf, NULL), -1);
    CHECK_STR(g.buf, "");

    CHECK_INT(_snprintf_s(g.buf, sizeof g.buf, 3, "%s", "abcdef"), -1); /* count limits: no error */
    CHECK_STR(g.buf, "abc");
    CHECK_INT(_snprintf_s(g.buf, sizeof g.buf, _TRUNCATE, "%s", "0123456789abcdefXYZ"), -1);
    CHECK_STR(g.buf, "0123456789abcde");
    CHECK_INT(_snprintf_s(g.buf, sizeof g.buf, 5, "%d", 42), 2);
    CHECK_STR(g.buf, "42");
    CHECK_INT(_snprintf_s(g.buf, sizeof g.buf, 40, "%s", "0123456789abcdefXYZ"), -1);
    CHECK_STR(g.buf, "0123456789abcde");
    CHECK(guard_intact(&g));

    char *dst = opaque(g.buf);
    CHECK_INT(sprintf_s(dst, 6, "%s", "abcdefgh"), -1);
    CHECK_STR(g.buf, "abcde");

    /* _snprintf: no terminator when the output is count bytes or longer. */
    memset(g.buf, 'Z', sizeof g.buf);
    CHECK_INT(_snprintf(g.buf, 4, "%s", "abcdef"), -1);
    CHECK(memcmp(g.buf, "abcdZ", 5) == 0);
    memset(g.buf, 'Z', sizeof g.buf);
    CHECK_INT(_snprintf(g.buf, 4, "%s", "abcd"), 4);
    CHECK(memcmp(g.buf, "abcdZ", 5) == 0);
    CHECK_INT(_snprintf(g.buf, 4, "%s", "ab"), 2);
    CHECK_STR(g.buf, "ab");
    /* count larger than the known array: bounded and terminated. */
    CHECK_INT(_snprintf(g.buf, 100, "%s", "0123456789abcdefXYZ"), -1);
    CHECK_STR(g.buf, "0123456789abcde");
    CHECK(guard_intact(&g));
    /* No buffer and count 0: the length the output needs (MSVC documents it). */
    CHECK_INT(_snprintf(NULL, 0, "%s", "abc"), 3);
    CHECK_INT(_snprintf(opaque(NULL), 0, "%d", 12345), 5);
    memset(g.buf, 'Z', sizeof g.buf);
    CHECK_INT(_snprintf(g.buf, 0, "%s", "abc"), -1); /* a buffer and count 0: nothing written */
    CHECK(g.buf[0] == 'Z');
}

static int call_vsprintf_s(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsprintf_s(dst, size, fmt, ap);
    va_end(ap);
    return n;
}

static int call_vsnprintf(char *dst, size_t count, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = _vsnprintf(dst, count, fmt, ap);
    va_end(ap);
    return n;
}

static void test_va_list_forms(void)
{
    char buf[8];
    CHECK_INT(call_vsprintf_s(buf, sizeof buf, "%d-%d", 1, 2), 3);
    CHECK_STR(buf, "1-2");
    CHECK_INT(call_vsprintf_s(opaque(buf), sizeof buf, "%s", "abcdefghij"), -1);
    CHECK_STR(buf, "abcdefg");
    CHECK_INT(call_vsnprintf(buf, sizeof buf, "%s", "ab"), 2);
    CHECK_STR(buf, "ab");
}

static void test_compare_dup(void)
{
    CHECK_INT(_stricmp("Hello", "hELLO"), 0);
    CHECK(_stricmp("a", "B") < 0);
    CHECK_INT(_strnicmp("Content-Type", "content-length", 8), 0);
    CHECK(_strnicmp("Content-Type", "content-length", 9) != 0);
    errno = 0;
    CHECK_INT(_stricmp(NULL, "x"), _NLSCMPERROR);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(_strnicmp("x", NULL, 1), _NLSCMPERROR);
    char *d = _strdup("copy");
    CHECK_STR(d, "copy");
    free(d);
    CHECK(_strdup(NULL) == NULL);
    char arr[_MAX_PATH];
    CHECK_INT(_countof(arr), 260);
    CHECK_INT(_MAX_FNAME, 256);
}

static void test_other_names(void)
{
    char buf[70];
    CHECK_STR(_itoa(-42, buf, 10), "-42");
    CHECK_STR(_itoa(-1, buf, 2), "11111111111111111111111111111111");
    CHECK_STR(_ultoa(4000000000u, buf, 10), "4000000000");
    CHECK_STR(_ltoa(-7, buf, 10), "-7");
    CHECK_STR(_i64toa(-9000000000LL, buf, 10), "-9000000000");
    CHECK_STR(_ui64toa(0xffffffffffffffffULL, buf, 16), "ffffffffffffffff");
    CHECK_STR(_itoa(5, buf, 99), "");
    CHECK_INT(_atoi64("12345678901"), 12345678901LL);
    strcpy(buf, "MiXed-1");
    CHECK_STR(_strlwr(buf), "mixed-1");
    CHECK_STR(_strupr(buf), "MIXED-1");
    CHECK(_strlwr(NULL) == NULL);
    CHECK_INT(_scprintf("%s-%d", "abc", 12), 6);
    CHECK_INT(_scprintf(NULL), -1);
    CHECK_INT(stricmp("ABC", "abc"), 0);
}

/* A malloc'd block the compiler sees is bounded by its size too. */
static void test_heap_destination(void)
{
    char *heap = malloc(10);
    CHECK(heap != NULL);
    if (heap == NULL)
        return;
    CHECK_INT(strcpy_s(heap, 100, "0123456789abc"), ERANGE);
    CHECK_STR(heap, "012345678");
    free(heap);
}

int main(void)
{
    test_strcpy_s();
    test_strcat_s();
    test_strncpy_strncat();
    test_unterminated_source();
    test_memcpy_s();
    test_itoa_s();
    test_sprintf_family();
    test_va_list_forms();
    test_compare_dup();
    test_heap_destination();
    test_other_names();
    return check_report("crt");
}
