/* HTTP dates, entity tags, byte ranges and reason phrases. No locale is consulted: day and
 * month names come from our own tables, so the output does not change with LC_TIME. */
#include "httputil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char wday_short[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char month_short[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* 9999-12-31T23:59:59Z: the last instant a four-digit year can show. */
#define HTTP_DATE_MAX ((time_t)253402300799LL)

static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

#define DIGIT_ROW(t) #t "0" #t "1" #t "2" #t "3" #t "4" #t "5" #t "6" #t "7" #t "8" #t "9"
const char http_digit_pairs[201] = DIGIT_ROW(0) DIGIT_ROW(1) DIGIT_ROW(2) DIGIT_ROW(3) DIGIT_ROW(4)
    DIGIT_ROW(5) DIGIT_ROW(6) DIGIT_ROW(7) DIGIT_ROW(8) DIGIT_ROW(9);
#undef DIGIT_ROW

const unsigned char http_tchar_table[256] = {
    ['0' ... '9'] = 1, ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1,
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

/* Year, month (0 = January) and day of month of day number days (0 = 1970-01-01, days >= 0),
 * without gmtime_r (which takes the time-zone lock and runs for every static response).
 * Counted in Gregorian 400-year cycles of 146097 days from 2000-03-01: a year that starts in
 * March ends with the leap day, so every month but February keeps its place and the calendar
 * repeats in whole cycles, centuries of 36524 days (the last one has a day more) and four-year
 * blocks of 1461 days (the last one of a century but the fourth has a day less). */
static void civil_from_days(int64_t days, unsigned *year, unsigned *month, unsigned *mday)
{
    static const unsigned char month_len[12] = {31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 29};
    int64_t d = days - 11017; /* 1970-01-01 .. 2000-03-01 */
    int64_t cycles = d / 146097, r = d % 146097;
    if (r < 0) {
        r += 146097;
        cycles--;
    }
    int64_t centuries = r / 36524 < 3 ? r / 36524 : 3;
    r -= centuries * 36524;
    int64_t quads = r / 1461;
    r -= quads * 1461;
    int64_t years = r / 365 < 3 ? r / 365 : 3;
    r -= years * 365;
    unsigned m = 0; /* from March */
    while (r >= month_len[m]) {
        r -= month_len[m];
        m++;
    }
    *year = (unsigned)(2000 + 400 * cycles + 100 * centuries + 4 * quads + years + (m >= 10));
    *month = (m + 2) % 12;
    *mday = (unsigned)r + 1;
}

size_t http_date_format(time_t t, char *out)
{
    if (t < 0)
        t = 0;
    if (t > HTTP_DATE_MAX)
        t = HTTP_DATE_MAX;
    int64_t days = (int64_t)t / 86400;
    unsigned secs = (unsigned)((int64_t)t % 86400), year, month, mday;
    civil_from_days(days, &year, &month, &mday);
    /* Fixed width by construction: the clamp above keeps the year at four digits. */
    char *p = out;
    memcpy(p, wday_short[(days + 4) % 7], 3); /* 1970-01-01 was a Thursday */
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put_digits(p, mday, 2);
    *p++ = ' ';
    memcpy(p, month_short[month], 3);
    p += 3;
    *p++ = ' ';
    p = put_digits(p, year, 4);
    *p++ = ' ';
    p = put_digits(p, secs / 3600, 2);
    *p++ = ':';
    p = put_digits(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, secs % 60, 2);
    memcpy(p, " GMT", 5);
    return HTTP_DATE_LEN;
}

/* A tiny cursor parser: each function consumes its token or returns false. */
static bool lit(const char **p, const char *s)
{
    size_t n = strlen(s);
    if (strncmp(*p, s, n) != 0)
        return false;
    *p += n;
    return true;
}

static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool month(const char **p, int *out)
{
    for (int m = 0; m < 12; m++) {
        if (strncmp(*p, month_short[m], 3) == 0) {
            *p += 3;
            *out = m;
            return true;
        }
    }
    return false;
}

static bool hms(const char **p, struct tm *tm)
{
    return digits(p, 2, &tm->tm_hour) && lit(p, ":") && digits(p, 2, &tm->tm_min) && lit(p, ":") &&
           digits(p, 2, &tm->tm_sec);
}

static bool tm_valid(const struct tm *tm)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm->tm_year + 1900;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (tm->tm_mday < 1 || tm->tm_mday > mdays[tm->tm_mon] ||
        (tm->tm_mon == 1 && tm->tm_mday == 29 && !leap))
        return false;
    return tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 60;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" after the day name */
static bool parse_imf(const char *p, struct tm *tm)
{
    int year;
    if (!(lit(&p, ", ") && digits(&p, 2, &tm->tm_mday) && lit(&p, " ") && month(&p, &tm->tm_mon) &&
          lit(&p, " ") && digits(&p, 4, &year) && lit(&p, " ") && hms(&p, tm) && lit(&p, " GMT")))
        return false;
    tm->tm_year = year - 1900;
    return *p == '\0';
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" after the day name */
static bool parse_rfc850(const char *p, struct tm *tm)
{
    int yy;
    if (!(lit(&p, ", ") && digits(&p, 2, &tm->tm_mday) && lit(&p, "-") && month(&p, &tm->tm_mon) &&
          lit(&p, "-") && digits(&p, 2, &yy) && lit(&p, " ") && hms(&p, tm) && lit(&p, " GMT")))
        return false;
    /* RFC 9110 §5.6.7 wants "more than 50 years in the future → past century"; a fixed pivot
     * gives the same answer for every date this server will see. */
    tm->tm_year = yy < 70 ? yy + 100 : yy;
    return *p == '\0';
}

/* "Sun Nov  6 08:49:37 1994" after the day name */
static bool parse_asctime(const char *p, struct tm *tm)
{
    int year;
    if (!(lit(&p, " ") && month(&p, &tm->tm_mon) && lit(&p, " ")))
        return false;
    if (*p == ' ') {
        p++;
        if (!digits(&p, 1, &tm->tm_mday))
            return false;
    } else if (!digits(&p, 2, &tm->tm_mday)) {
        return false;
    }
    if (!(lit(&p, " ") && hms(&p, tm) && lit(&p, " ") && digits(&p, 4, &year)))
        return false;
    tm->tm_year = year - 1900;
    return *p == '\0';
}

int http_date_parse(const char *s, time_t *out)
{
    if (s == NULL)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    bool ok = false;
    for (int d = 0; d < 7 && !ok; d++) {
        size_t ln = strlen(wday_long[d]);
        if (strncmp(s, wday_long[d], ln) == 0)
            ok = parse_rfc850(s + ln, &tm);
        else if (strncmp(s, wday_short[d], 3) == 0)
            ok = s[3] == ',' ? parse_imf(s + 3, &tm) : parse_asctime(s + 3, &tm);
    }
    if (!ok || !tm_valid(&tm))
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t;
    return 0;
}

static char *put_hex(char *p, uint64_t v)
{
    char digits[16];
    int n = 0;
    do
        digits[n++] = "0123456789abcdef"[v & 15];
    while (v >>= 4);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

size_t http_etag_format(const struct stat *st, char *out, size_t out_size)
{
    char tag[40]; /* two quotes, two 16-digit numbers, a dash */
    char *p = tag;
    *p++ = '"';
    p = put_hex(p, (uint64_t)st->st_mtime);
    *p++ = '-';
    p = put_hex(p, (uint64_t)st->st_size);
    *p++ = '"';
    size_t n = (size_t)(p - tag);
    if (n >= out_size) {
        if (out_size > 0)
            out[0] = '\0';
        return 0;
    }
    memcpy(out, tag, n);
    out[n] = '\0';
    return n;
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool etag_match(const char *header_value, const char *etag, bool weak)
{
    if (header_value == NULL || etag == NULL)
        return false;
    bool etag_weak = etag[0] == 'W' && etag[1] == '/';
    if (etag_weak)
        etag += 2;
    size_t elen = strlen(etag);
    const char *p = header_value;
    for (;;) {
        while (ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            return false;
        if (*p == '*') {
            const char *q = p + 1;
            while (ows(*q))
                q++;
            if (*q == ',' || *q == '\0')
                return true;
        }
        bool tag_weak = p[0] == 'W' && p[1] == '/';
        if (tag_weak)
            p += 2;
        const char *tag = p;
        if (*p == '"') {
            /* opaque-tag: up to the closing quote; an unterminated one runs to the end */
            p++;
            while (*p != '\0' && *p != '"')
                p++;
            if (*p == '"')
                p++;
        } else {
            /* not a valid entity-tag; compare the token as sent (some clients drop quotes) */
            while (*p != '\0' && *p != ',' && !ows(*p))
                p++;
        }
        if ((weak || (!tag_weak && !etag_weak)) && (size_t)(p - tag) == elen && memcmp(tag, etag, elen) == 0)
            return true;
        while (*p != '\0' && *p != ',')
            p++;
    }
}

bool http_etag_match_list(const char *header_value, const char *etag)
{
    return etag_match(header_value, etag, true);
}

bool http_etag_match_list_strong(const char *header_value, const char *etag)
{
    return etag_match(header_value, etag, false);
}

/* Decimal digits into *v, saturating at UINT64_MAX. False when there is no digit. */
static bool parse_u64(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *v = x;
    return true;
}

range_result_t http_range_parse(const char *header_value, uint64_t size, uint64_t *start,
                                uint64_t *length)
{
    if (header_value == NULL)
        return RANGE_NONE;
    const char *p = header_value;
    while (ows(*p))
        p++;
    if (http_ascii_ncasecmp(p, "bytes=", 6) != 0)
        return RANGE_NONE;
    p += 6;
    if (strchr(p, ',') != NULL)
        return RANGE_NONE; /* several ranges: we send the whole file instead */
    while (ows(*p))
        p++;

    uint64_t a = 0, b = 0;
    bool has_a = parse_u64(&p, &a);
    if (*p++ != '-')
        return RANGE_NONE;
    bool has_b = parse_u64(&p, &b);
    while (ows(*p))
        p++;
    if (*p != '\0' || (!has_a && !has_b))
        return RANGE_NONE;

    if (!has_a) {
        if (b == 0 || size == 0)
            return RANGE_UNSATISFIABLE;
        if (b > size)
            b = size;
        *start = size - b;
        *length = b;
        return RANGE_OK;
    }
    if (has_b && b < a)
        return RANGE_NONE; /* invalid range-spec: ignore the header */
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    if (!has_b || b >= size)
        b = size - 1;
    *start = a;
    *length = b - a + 1;
    return RANGE_OK;
}

const char *http_status_reason(unsigned status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

size_t http_error_body(unsigned status, char *buf, size_t size)
{
    const char *reason = http_status_reason(status);
    int n = snprintf(buf, size,
                     "<!DOCTYPE html>\n<html><head><title>%u %s</title></head>"
                     "<body><h1>%u %s</h1></body></html>\n",
                     status, reason, status, reason);
    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

long http_skip_empty_lines(const char *buf, size_t len)
{
    size_t i = 0;
    while (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
        i += 2;
    if (i < len && (buf[i] == '\r' || buf[i] == '\n'))
        return -1;
    return (long)i;
}

size_t http_method_token(const char *p, size_t len)
{
    size_t n = 0;
    while (n < len && http_is_tchar((unsigned char)p[n]))
        n++;
    return n < len && p[n] != ' ' ? 0 : n;
}

int http_ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int d = http_ascii_lower((unsigned char)*a) - http_ascii_lower((unsigned char)*b);
        if (d != 0 || *a == '\0')
            return d;
    }
}

int http_ascii_ncasecmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int d = http_ascii_lower((unsigned char)a[i]) - http_ascii_lower((unsigned char)b[i]);
        if (d != 0 || a[i] == '\0')
            return d;
    }
    return 0;
}
