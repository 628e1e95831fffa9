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
    /* Years outside 0..9999 cannot be written in these formats; clamp them. */
    if (v < 0)
        v = 0;
    if (v > 9999)
        v = 9999;
    p = put2(p, v / 100);
    return put2(p, v % 100);
}

void ws_httpdate_format(time_t t, char *out)
{
    struct tm tm;
    char *p = out;

    gmtime_r(&t, &tm);
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

    gmtime_r(&t, &tm);
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
