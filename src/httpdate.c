/*
 * httpdate.c - HTTP and log date formatting; see httpdate.h.
 */
#include "httpdate.h"

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

/*
 * Breaks t down in UTC, clamped to the years these formats can write
 * (0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z). Without the clamp a far
 * timestamp (a file's mtime can be anything) gives a wrong, inconsistent date,
 * or makes gmtime_r fail and leave tm, whose fields index the name tables,
 * uninitialised.
 */
static void utc_clamped(time_t t, struct tm *tm)
{
    const time_t min = (time_t)-62167219200LL, max = (time_t)253402300799LL;

    if (t < min)
        t = min;
    if (t > max)
        t = max;
    gmtime_r(&t, tm);
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
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
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
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
    memcpy(p, " +0000]", 8);
}
