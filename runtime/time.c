/* libisapi: time as Win32 gives it. Tick counts and the performance counter read
 * CLOCK_MONOTONIC; wall-clock calls read CLOCK_REALTIME. A FILETIME counts 100-nanosecond
 * intervals since 1601-01-01 UTC; the Unix epoch lies UNIX_EPOCH_IN_FILETIME of them later. */
#include <windows.h>

#include <stdbool.h>
#include <time.h>

#define FILETIME_PER_SECOND 10000000ull
#define UNIX_EPOCH_IN_FILETIME 116444736000000000ull
/* SYSTEMTIME's year range on Windows. */
#define SYSTEMTIME_MIN_YEAR 1601
#define SYSTEMTIME_MAX_YEAR 30827

static struct timespec clock_now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts;
}

ULONGLONG WINAPI GetTickCount64(void)
{
    struct timespec ts = clock_now(CLOCK_MONOTONIC);
    return (ULONGLONG)ts.tv_sec * 1000u + (ULONGLONG)ts.tv_nsec / 1000000u;
}

DWORD WINAPI GetTickCount(void)
{
    return (DWORD)GetTickCount64(); /* wraps, as on Windows */
}

BOOL WINAPI QueryPerformanceCounter(LARGE_INTEGER *lpPerformanceCount)
{
    if (lpPerformanceCount == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    struct timespec ts = clock_now(CLOCK_MONOTONIC);
    lpPerformanceCount->QuadPart = (LONGLONG)ts.tv_sec * 1000000000 + ts.tv_nsec;
    return TRUE;
}

BOOL WINAPI QueryPerformanceFrequency(LARGE_INTEGER *lpFrequency)
{
    if (lpFrequency == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    lpFrequency->QuadPart = 1000000000; /* the counter is in nanoseconds */
    return TRUE;
}

static void systemtime_from_tm(const struct tm *tm, long nsec, LPSYSTEMTIME st)
{
    st->wYear = (WORD)(tm->tm_year + 1900);
    st->wMonth = (WORD)(tm->tm_mon + 1);
    st->wDayOfWeek = (WORD)tm->tm_wday;
    st->wDay = (WORD)tm->tm_mday;
    st->wHour = (WORD)tm->tm_hour;
    st->wMinute = (WORD)tm->tm_min;
    st->wSecond = (WORD)tm->tm_sec;
    st->wMilliseconds = (WORD)(nsec / 1000000);
}

VOID WINAPI GetSystemTime(LPSYSTEMTIME lpSystemTime)
{
    if (lpSystemTime == NULL)
        return;
    struct timespec ts = clock_now(CLOCK_REALTIME);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    systemtime_from_tm(&tm, ts.tv_nsec, lpSystemTime);
}

VOID WINAPI GetLocalTime(LPSYSTEMTIME lpSystemTime)
{
    if (lpSystemTime == NULL)
        return;
    struct timespec ts = clock_now(CLOCK_REALTIME);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    systemtime_from_tm(&tm, ts.tv_nsec, lpSystemTime);
}

static void filetime_set(LPFILETIME ft, ULONGLONG value)
{
    ft->dwLowDateTime = (DWORD)value;
    ft->dwHighDateTime = (DWORD)(value >> 32);
}

static ULONGLONG filetime_get(const FILETIME *ft)
{
    return ((ULONGLONG)ft->dwHighDateTime << 32) | ft->dwLowDateTime;
}

VOID WINAPI GetSystemTimeAsFileTime(LPFILETIME lpSystemTimeAsFileTime)
{
    if (lpSystemTimeAsFileTime == NULL)
        return;
    struct timespec ts = clock_now(CLOCK_REALTIME);
    filetime_set(lpSystemTimeAsFileTime, UNIX_EPOCH_IN_FILETIME + (ULONGLONG)ts.tv_sec * FILETIME_PER_SECOND +
                                             (ULONGLONG)ts.tv_nsec / 100u);
}

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian; H. Hinnant's algorithm),
 * negative before 1970. */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long long)yoe + era * 400 + (*m <= 2);
}

static const long long SECONDS_1601_TO_1970 = 11644473600ll;

BOOL WINAPI FileTimeToSystemTime(const FILETIME *lpFileTime, LPSYSTEMTIME lpSystemTime)
{
    if (lpFileTime == NULL || lpSystemTime == NULL || (filetime_get(lpFileTime) >> 63) != 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    ULONGLONG value = filetime_get(lpFileTime);
    long long seconds = (long long)(value / FILETIME_PER_SECOND) - SECONDS_1601_TO_1970;
    unsigned sub = (unsigned)(value % FILETIME_PER_SECOND);
    long long days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
    long long in_day = seconds - days * 86400;
    long long year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    if (year > SYSTEMTIME_MAX_YEAR) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    lpSystemTime->wYear = (WORD)year;
    lpSystemTime->wMonth = (WORD)month;
    lpSystemTime->wDay = (WORD)day;
    lpSystemTime->wDayOfWeek = (WORD)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    lpSystemTime->wHour = (WORD)(in_day / 3600);
    lpSystemTime->wMinute = (WORD)(in_day / 60 % 60);
    lpSystemTime->wSecond = (WORD)(in_day % 60);
    lpSystemTime->wMilliseconds = (WORD)(sub / 10000);
    return TRUE;
}

static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

BOOL WINAPI SystemTimeToFileTime(const SYSTEMTIME *lpSystemTime, LPFILETIME lpFileTime)
{
    static const unsigned char month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const SYSTEMTIME *st = lpSystemTime;
    if (st == NULL || lpFileTime == NULL || st->wYear < SYSTEMTIME_MIN_YEAR || st->wYear > SYSTEMTIME_MAX_YEAR ||
        st->wMonth < 1 || st->wMonth > 12 || st->wDay < 1 ||
        st->wDay > month_days[st->wMonth - 1] + (st->wMonth == 2 && is_leap(st->wYear)) || st->wHour > 23 ||
        st->wMinute > 59 || st->wSecond > 59 || st->wMilliseconds > 999) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    /* wDayOfWeek is ignored, as on Windows. */
    long long days = days_from_civil(st->wYear, st->wMonth, st->wDay);
    long long seconds = days * 86400 + st->wHour * 3600 + st->wMinute * 60 + st->wSecond + SECONDS_1601_TO_1970;
    filetime_set(lpFileTime, (ULONGLONG)seconds * FILETIME_PER_SECOND + st->wMilliseconds * 10000ull);
    return TRUE;
}
