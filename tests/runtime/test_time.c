/* libisapi: tick counts, the performance counter, SYSTEMTIME/FILETIME, GUID. */
#include <windows.h>

#include <time.h>

#include "check.h"

static ULONGLONG filetime_value(const FILETIME *ft)
{
    return ((ULONGLONG)ft->dwHighDateTime << 32) | ft->dwLowDateTime;
}

static void test_counters(void)
{
    LARGE_INTEGER freq, a, b;
    CHECK(QueryPerformanceFrequency(&freq) && freq.QuadPart == 1000000000);
    CHECK(QueryPerformanceCounter(&a));
    ULONGLONG t0 = GetTickCount64();
    DWORD t32 = GetTickCount();
    CHECK(t32 == (DWORD)t0 || t32 == (DWORD)(t0 + 1));
    /* Poll until 20 ms have passed by the tick count (bounded). */
    for (int i = 0; i < 1000000 && GetTickCount64() < t0 + 20; i++)
        Sleep(1);
    CHECK(GetTickCount64() >= t0 + 20);
    CHECK(QueryPerformanceCounter(&b));
    CHECK(b.QuadPart - a.QuadPart >= 19 * 1000000ll);
    SetLastError(0);
    CHECK(!QueryPerformanceCounter(NULL));
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(!QueryPerformanceFrequency(NULL));
}

static void test_known_dates(void)
{
    /* The Unix epoch is 116444736000000000 in FILETIME units; 1970-01-01 was a Thursday. */
    FILETIME ft = {.dwLowDateTime = (DWORD)116444736000000000ull, .dwHighDateTime = (DWORD)(116444736000000000ull >> 32)};
    SYSTEMTIME st;
    CHECK(FileTimeToSystemTime(&ft, &st));
    CHECK(st.wYear == 1970 && st.wMonth == 1 && st.wDay == 1 && st.wDayOfWeek == 4);
    CHECK(st.wHour == 0 && st.wMinute == 0 && st.wSecond == 0 && st.wMilliseconds == 0);

    /* FILETIME 0 is 1601-01-01, a Monday. */
    ft.dwLowDateTime = ft.dwHighDateTime = 0;
    CHECK(FileTimeToSystemTime(&ft, &st));
    CHECK(st.wYear == 1601 && st.wMonth == 1 && st.wDay == 1 && st.wDayOfWeek == 1);

    /* 2000-02-29 12:34:56.789 (a Tuesday) round-trips. */
    SYSTEMTIME leap = {.wYear = 2000, .wMonth = 2, .wDay = 29, .wHour = 12, .wMinute = 34, .wSecond = 56,
                       .wMilliseconds = 789};
    CHECK(SystemTimeToFileTime(&leap, &ft));
    CHECK(filetime_value(&ft) == 116444736000000000ull + (951827696ull * 1000 + 789) * 10000);
    CHECK(FileTimeToSystemTime(&ft, &st));
    CHECK(st.wYear == 2000 && st.wMonth == 2 && st.wDay == 29 && st.wDayOfWeek == 2);
    CHECK(st.wHour == 12 && st.wMinute == 34 && st.wSecond == 56 && st.wMilliseconds == 789);

    /* Bad input: FALSE + ERROR_INVALID_PARAMETER. */
    SYSTEMTIME bad = leap;
    bad.wYear = 1900; /* 1900-02-29 does not exist */
    SetLastError(0);
    CHECK(!SystemTimeToFileTime(&bad, &ft));
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    bad = leap;
    bad.wMonth = 13;
    CHECK(!SystemTimeToFileTime(&bad, &ft));
    bad = leap;
    bad.wYear = 1600;
    CHECK(!SystemTimeToFileTime(&bad, &ft));
    CHECK(!SystemTimeToFileTime(NULL, &ft));
    ft.dwHighDateTime = 0x80000000u;
    CHECK(!FileTimeToSystemTime(&ft, &st));
    CHECK(!FileTimeToSystemTime(NULL, &st));
}

static void test_wall_clock(void)
{
    time_t before = time(NULL);
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft);
    SYSTEMTIME st, from_ft;
    GetSystemTime(&st);
    time_t after = time(NULL);
    ULONGLONG unix_seconds = (filetime_value(&ft) - 116444736000000000ull) / 10000000u;
    CHECK(unix_seconds >= (ULONGLONG)before && unix_seconds <= (ULONGLONG)after);
    CHECK(FileTimeToSystemTime(&ft, &from_ft));
    struct tm tm;
    gmtime_r(&before, &tm);
    CHECK(st.wYear == tm.tm_year + 1900 || st.wYear == tm.tm_year + 1901);
    CHECK(from_ft.wYear == st.wYear || from_ft.wYear + 1 == st.wYear);
    CHECK(st.wMonth >= 1 && st.wMonth <= 12 && st.wMilliseconds < 1000);
    GetLocalTime(&st);
    CHECK(st.wMonth >= 1 && st.wMonth <= 12 && st.wHour < 24);
}

static void test_guid(void)
{
    static const GUID a = {0x12345678, 0x9abc, 0xdef0, {1, 2, 3, 4, 5, 6, 7, 8}};
    GUID b = a;
    CHECK(sizeof(GUID) == 16);
    CHECK(IsEqualGUID(&a, &b));
    b.Data4[7] = 9;
    CHECK(!IsEqualGUID(&a, &b));
}

int main(void)
{
    test_counters();
    test_known_dates();
    test_wall_clock();
    test_guid();
    return check_report("time");
}
