/*
 * http/httpdate.c - HTTP and log date formatting and HTTP-date parsing; see httpdate.h.
 */
#include "http/httpdate.h"

#include <stdint.h>
#include <string.h>

static const char day_names[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char month_names[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static char *put2(char *p, int v)
{
    *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *put4(char *p, int v)
{
    /* utc_clamped keeps years in 0..9999; this only guards the buffer. */
    if (v < 0)
        v = 0;
    if (v > 9999)
        v = 9999;
    p = put2(p, v / 100);
    return put2(p, v % 100);
}

/* Writes "HH:MM:SS" of tm. */
static char *put_time(char *p, const struct tm *tm)
{
    p = put2(p, tm->tm_hour);
    *p++ = ':';
    p = put2(p, tm->tm_min);
    *p++ = ':';
    return put2(p, tm->tm_sec);
}

/*
 * Breaks t down in UTC, clamped to the years these formats can write
 * (0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z). Without the clamp a far
 * timestamp (a file's mtime can be anything) would give a wrong date. Plain
 * arithmetic (the proleptic Gregorian calendar, days to civil date as in
 * H. Hinnant's "chrono-compatible low-level date algorithms"): gmtime_r would
 * take glibc's time-zone lock on every call, and this runs for every response.
 * Fills tm_year, tm_mon, tm_mday, tm_wday, tm_hour, tm_min and tm_sec.
 */
static void utc_clamped(time_t t, struct tm *tm)
{
    const int64_t min = -62167219200LL, max = 253402300799LL;
    int64_t secs = (int64_t)t, days, sod, era, doe, yoe, doy, mp, year;

    if (secs < min)
        secs = min;
    if (secs > max)
        secs = max;
    days = secs / 86400;
    sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    tm->tm_hour = (int)(sod / 3600);
    tm->tm_min = (int)(sod / 60 % 60);
    tm->tm_sec = (int)(sod % 60);
    tm->tm_wday = (int)(((days + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */

    days += 719468; /* from 0000-03-01, so that leap days end a year */
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = days - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    year = yoe + era * 400;
    tm->tm_mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    tm->tm_mon = (int)(mp < 10 ? mp + 2 : mp - 10);
    tm->tm_year = (int)(year + (tm->tm_mon <= 1) - 1900);
}

void ws_httpdate_format(time_t t, char *out)
{
    struct tm tm;
    char *p = out;

    utc_clamped(t, &tm);
    memcpy(p, day_names[tm.tm_wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, tm.tm_mday);
    *p++ = ' ';
    memcpy(p, month_names[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    p = put4(p, tm.tm_year + 1900);
    *p++ = ' ';
    p = put_time(p, &tm);
    memcpy(p, " GMT", 5);
}

void ws_logdate_format(time_t t, char *out)
{
    struct tm tm;
    char *p = out;

    utc_clamped(t, &tm);
    *p++ = '[';
    p = put2(p, tm.tm_mday);
    *p++ = '/';
    memcpy(p, month_names[tm.tm_mon], 3);
    p += 3;
    *p++ = '/';
    p = put4(p, tm.tm_year + 1900);
    *p++ = ':';
    p = put_time(p, &tm);
    memcpy(p, " +0000]", 8);
}

static const char day_names_long[7][10] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
                                            "Thursday", "Friday", "Saturday" };

/* Index of the case-sensitive three-letter name at s in names, or -1. */
static int name3_index(const char *s, const char (*names)[4], int count)
{
    for (int i = 0; i < count; i++)
        if (memcmp(s, names[i], 3) == 0)
            return i;
    return -1;
}

/* Reads exactly n decimal digits at s into *out; returns 0, or -1 if one is not a digit. */
static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Reads "HH:MM:SS" at s. A leap second (60) is rejected, as nginx does. */
static int time_of_day(const char *s, int *secs)
{
    int h, m, sec;
    if (digits(s, 2, &h) || s[2] != ':' || digits(s + 3, 2, &m) || s[5] != ':' ||
        digits(s + 6, 2, &sec))
        return -1;
    if (h > 23 || m > 59 || sec > 59)
        return -1;
    *secs = h * 3600 + m * 60 + sec;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (m 1..12),
 * computed in whole 400-year eras so it needs neither timegm nor the TZ.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365, from March */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
    return era * 146097 + doe - 719468;
}

/* Checks the calendar fields and stores the time; mon is 0..11. */
static int assemble(int year, int mon, int day, int secs, time_t *out)
{
    static const int month_days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int max_day = month_days[mon] + (mon == 1 && is_leap(year));

    if (day < 1 || day > max_day)
        return -1;
    *out = (time_t)(days_from_civil(year, mon + 1, day) * 86400 + secs);
    return 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int parse_imf_fixdate(const char *s, size_t len, time_t *out)
{
    int mon, day, year, secs;

    if (len != 29 || name3_index(s, day_names, 7) < 0 || memcmp(s + 3, ", ", 2) != 0 ||
        digits(s + 5, 2, &day) || s[7] != ' ' || (mon = name3_index(s + 8, month_names, 12)) < 0 ||
        s[11] != ' ' || digits(s + 12, 4, &year) || s[16] != ' ' || time_of_day(s + 17, &secs) ||
        memcmp(s + 25, " GMT", 4) != 0)
        return -1;
    return assemble(year, mon, day, secs, out);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static int parse_rfc850(const char *s, size_t len, time_t *out)
{
    size_t n = 0;
    int mon, day, yy, secs;

    for (int i = 0; i < 7 && n == 0; i++) {
        size_t k = strlen(day_names_long[i]);
        if (len > k && memcmp(s, day_names_long[i], k) == 0 && s[k] == ',')
            n = k;
    }
    if (n == 0 || len != n + 24)
        return -1;
    s += n;
    if (s[1] != ' ' || digits(s + 2, 2, &day) || s[4] != '-' ||
        (mon = name3_index(s + 5, month_names, 12)) < 0 || s[8] != '-' || digits(s + 9, 2, &yy) ||
        s[11] != ' ' || time_of_day(s + 12, &secs) || memcmp(s + 20, " GMT", 4) != 0)
        return -1;
    return assemble(yy < 70 ? 2000 + yy : 1900 + yy, mon, day, secs, out);
}

/* "Sun Nov  6 08:49:37 1994"; the day may also be two digits ("Nov 06", "Nov 16"). */
static int parse_asctime(const char *s, size_t len, time_t *out)
{
    int mon, day, year, secs;

    if (len != 24 || name3_index(s, day_names, 7) < 0 || s[3] != ' ' ||
        (mon = name3_index(s + 4, month_names, 12)) < 0 || s[7] != ' ')
        return -1;
    if (s[8] == ' ') {
        if (digits(s + 9, 1, &day))
            return -1;
    } else if (digits(s + 8, 2, &day)) {
        return -1;
    }
    if (s[10] != ' ' || time_of_day(s + 11, &secs) || s[19] != ' ' || digits(s + 20, 4, &year))
        return -1;
    return assemble(year, mon, day, secs, out);
}

int ws_httpdate_parse(const char *s, size_t len, time_t *out)
{
    if (len < 4)
        return -1;
    if (s[3] == ',')
        return parse_imf_fixdate(s, len, out);
    if (s[3] == ' ')
        return parse_asctime(s, len, out);
    return parse_rfc850(s, len, out);
}
