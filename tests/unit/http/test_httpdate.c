/*
 * http/test_httpdate.c - IMF-fixdate and Common Log Format dates, and parsing of
 * the three HTTP-date formats.
 *
 * Expected strings and times were computed independently (Python's datetime
 * and calendar.timegm), not with the code under test. Parsed inputs sit in
 * exactly-sized blocks (exact_copy), so reading one byte too far is an ASan
 * error, and every valid row is also parsed at every shorter length.
 */
#include "test_util.h"

#include "http/httpdate.h"

#include <stdio.h>
#include <time.h>

struct date_case {
    const char *desc;
    time_t t;
    const char *http; /* IMF-fixdate */
    const char *log;  /* CLF */
};

/* clang-format off */
static const struct date_case date_cases[] = {
    { "the epoch",                  0,                 "Thu, 01 Jan 1970 00:00:00 GMT", "[01/Jan/1970:00:00:00 +0000]" },
    { "RFC 9110 example",           784111777,         "Sun, 06 Nov 1994 08:49:37 GMT", "[06/Nov/1994:08:49:37 +0000]" },
    { "leap day 1972",              68169600,          "Tue, 29 Feb 1972 00:00:00 GMT", "[29/Feb/1972:00:00:00 +0000]" },
    { "leap day 2000 (400 rule)",   951782400,         "Tue, 29 Feb 2000 00:00:00 GMT", "[29/Feb/2000:00:00:00 +0000]" },
    { "end of leap day 2000",       951868799,         "Tue, 29 Feb 2000 23:59:59 GMT", "[29/Feb/2000:23:59:59 +0000]" },
    { "leap day 2024",              1709251199,        "Thu, 29 Feb 2024 23:59:59 GMT", "[29/Feb/2024:23:59:59 +0000]" },
    { "last 32-bit second",         2147483647,        "Tue, 19 Jan 2038 03:14:07 GMT", "[19/Jan/2038:03:14:07 +0000]" },
    { "first second after 2038",    2147483648LL,      "Tue, 19 Jan 2038 03:14:08 GMT", "[19/Jan/2038:03:14:08 +0000]" },
    { "2100 is not a leap year",    4107542400LL,      "Mon, 01 Mar 2100 00:00:00 GMT", "[01/Mar/2100:00:00:00 +0000]" },
    { "one second before epoch",    -1,                "Wed, 31 Dec 1969 23:59:59 GMT", "[31/Dec/1969:23:59:59 +0000]" },
    { "1900",                       -2208988800LL,     "Mon, 01 Jan 1900 00:00:00 GMT", "[01/Jan/1900:00:00:00 +0000]" },
    { "last second of 9999",        253402300799LL,    "Fri, 31 Dec 9999 23:59:59 GMT", "[31/Dec/9999:23:59:59 +0000]" },
    { "first second of year 0",     -62167219200LL,    "Sat, 01 Jan 0000 00:00:00 GMT", "[01/Jan/0000:00:00:00 +0000]" },
    /* Beyond four-digit years the formats cannot go: the nearest writable date. */
    { "year 10000 clamps",          253402300800LL,    "Fri, 31 Dec 9999 23:59:59 GMT", "[31/Dec/9999:23:59:59 +0000]" },
    { "year 10^6 clamps",           31556889832780799LL, "Fri, 31 Dec 9999 23:59:59 GMT", "[31/Dec/9999:23:59:59 +0000]" },
    { "INT64_MAX clamps",           INT64_MAX,         "Fri, 31 Dec 9999 23:59:59 GMT", "[31/Dec/9999:23:59:59 +0000]" },
    { "before year 0 clamps",       -62167219201LL,    "Sat, 01 Jan 0000 00:00:00 GMT", "[01/Jan/0000:00:00:00 +0000]" },
    { "INT64_MIN clamps",           INT64_MIN,         "Sat, 01 Jan 0000 00:00:00 GMT", "[01/Jan/0000:00:00:00 +0000]" },
};
/* clang-format on */

static void test_date_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(date_cases); i++) {
        const struct date_case *c = &date_cases[i];
        /* Exactly the documented size: the terminator is the last byte. */
        char *http = exact_alloc(WS_HTTPDATE_LEN + 1);
        char *log = exact_alloc(WS_LOGDATE_LEN + 1);

        ws_httpdate_format(c->t, http);
        ws_logdate_format(c->t, log);
        check_mem(c->desc, http, strnlen(http, WS_HTTPDATE_LEN + 1), c->http);
        check_mem(c->desc, log, strnlen(log, WS_LOGDATE_LEN + 1), c->log);
        free(http);
        free(log);
    }
}

/* Agrees with strftime(3) on gmtime_r for a spread of times (C locale names). */
static void test_date_matches_strftime(void **state)
{
    uint64_t seed = 7;

    for (int i = 0; i < 20000; i++) {
        time_t t = (time_t)(test_rand(&seed) % 253402300800ULL) - (time_t)(i % 2) * 2208988800LL;
        char http[WS_HTTPDATE_LEN + 1], log[WS_LOGDATE_LEN + 1], want[64], desc[32];
        struct tm tm;

        snprintf(desc, sizeof(desc), "t=%lld", (long long)t);
        assert_non_null(gmtime_r(&t, &tm));
        ws_httpdate_format(t, http);
        strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        check_str(desc, http, want);
        ws_logdate_format(t, log);
        strftime(want, sizeof(want), "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
        check_str(desc, log, want);
    }
}

#define BAD 0x7fffffffffffffffLL /* expected: rejected */

struct parse_case {
    const char *desc;
    const char *input;
    size_t len;
    long long t; /* or BAD */
};

/* clang-format off */
#define P(d, in, t) { d, in, LIT_LEN(in), t }

static const struct parse_case parse_cases[] = {
    /* description                                  input                                   time */
    P("IMF-fixdate, RFC 9110 example",              "Sun, 06 Nov 1994 08:49:37 GMT",        784111777),
    P("RFC 850, RFC 9110 example",                  "Sunday, 06-Nov-94 08:49:37 GMT",       784111777),
    P("asctime, RFC 9110 example",                  "Sun Nov  6 08:49:37 1994",             784111777),
    P("asctime with a two-digit day 06",            "Sun Nov 06 08:49:37 1994",             784111777),
    P("asctime with day 16",                        "Wed Nov 16 08:49:37 1994",             784975777),
    P("the epoch",                                  "Thu, 01 Jan 1970 00:00:00 GMT",        0),
    P("the epoch, RFC 850",                         "Thursday, 01-Jan-70 00:00:00 GMT",     0),
    P("the epoch, asctime",                         "Thu Jan  1 00:00:00 1970",             0),
    P("one second before the epoch",                "Wed, 31 Dec 1969 23:59:59 GMT",        -1),
    P("leap day 2000 (400 rule)",                   "Tue, 29 Feb 2000 00:00:00 GMT",        951782400),
    P("leap day 2000, RFC 850",                     "Tuesday, 29-Feb-00 12:00:00 GMT",      951825600),
    P("leap day 2020",                              "Sat, 29 Feb 2020 00:00:00 GMT",        1582934400),
    P("leap day 2024, asctime",                     "Thu Feb 29 23:59:59 2024",             1709251199),
    P("leap day 1600",                              "Tue, 29 Feb 1600 00:00:00 GMT",        -11670998400LL),
    P("first second after 2038",                    "Tue, 19 Jan 2038 03:14:08 GMT",        2147483648LL),
    P("last second of 9999",                        "Fri, 31 Dec 9999 23:59:59 GMT",        253402300799LL),
    P("first second of year 0",                     "Sat, 01 Jan 0000 00:00:00 GMT",        -62167219200LL),
    P("1900",                                       "Mon, 01 Jan 1900 00:00:00 GMT",        -2208988800LL),
    P("day name checked for form only",             "Mon, 06 Nov 1994 08:49:37 GMT",        784111777),
    P("RFC 850 year 00 is 2000",                    "Saturday, 01-Jan-00 00:00:00 GMT",     946684800),
    P("RFC 850 year 69 is 2069",                    "Tuesday, 31-Dec-69 23:59:59 GMT",      3155759999LL),
    P("RFC 850 year 99 is 1999",                    "Friday, 31-Dec-99 23:59:59 GMT",       946684799),
    P("RFC 850 Monday",                             "Monday, 07-Nov-94 08:49:37 GMT",       784198177),
    P("RFC 850 Tuesday",                            "Tuesday, 08-Nov-94 08:49:37 GMT",      784284577),
    P("RFC 850 Wednesday",                          "Wednesday, 09-Nov-94 08:49:37 GMT",    784370977),
    P("RFC 850 Thursday",                           "Thursday, 10-Nov-94 08:49:37 GMT",     784457377),
    P("RFC 850 Friday",                             "Friday, 11-Nov-94 08:49:37 GMT",       784543777),
    P("RFC 850 Saturday",                           "Saturday, 12-Nov-94 08:49:37 GMT",     784630177),
    P("end of a 30-day month",                      "Thu, 30 Apr 2020 23:59:59 GMT",        1588291199),
    P("end of a 31-day month",                      "Thu, 31 Dec 2020 23:59:59 GMT",        1609459199),
    /* day and month names */
    P("day name in lower case",                     "sun, 06 Nov 1994 08:49:37 GMT",        BAD),
    P("day name in upper case",                     "SUN, 06 Nov 1994 08:49:37 GMT",        BAD),
    P("misspelt day name",                          "Snu, 06 Nov 1994 08:49:37 GMT",        BAD),
    P("long day name in IMF-fixdate",               "Sunday, 06 Nov 1994 08:49:37 GMT",     BAD),
    P("short day name in RFC 850",                  "Sun, 06-Nov-94 08:49:37 GMT",          BAD),
    P("long day name in lower case",                "sunday, 06-Nov-94 08:49:37 GMT",       BAD),
    P("truncated long day name",                    "Sunda, 06-Nov-94 08:49:37 GMT",        BAD),
    P("long day name in asctime",                   "Sunday Nov  6 08:49:37 1994",          BAD),
    P("month in lower case",                        "Sun, 06 nov 1994 08:49:37 GMT",        BAD),
    P("month in upper case",                        "Sun, 06 NOV 1994 08:49:37 GMT",        BAD),
    P("misspelt month",                             "Sun, 06 Nvo 1994 08:49:37 GMT",        BAD),
    P("month as a number",                          "Sun, 06 011 1994 08:49:37 GMT",        BAD),
    P("full month name",                            "Sun, 06 November 1994 08:49:37 GMT",   BAD),
    /* calendar */
    P("Feb 29 in 2023",                             "Wed, 29 Feb 2023 00:00:00 GMT",        BAD),
    P("Feb 29 in 1900 (100 rule)",                  "Thu, 29 Feb 1900 00:00:00 GMT",        BAD),
    P("Feb 29 in 2100 (100 rule)",                  "Mon, 29 Feb 2100 00:00:00 GMT",        BAD),
    P("Feb 29 in 2023, RFC 850",                    "Wednesday, 29-Feb-23 00:00:00 GMT",    BAD),
    P("Feb 29 in 2023, asctime",                    "Wed Feb 29 00:00:00 2023",             BAD),
    P("Feb 30 in a leap year",                      "Sun, 30 Feb 2020 00:00:00 GMT",        BAD),
    P("Apr 31",                                     "Sat, 31 Apr 2021 00:00:00 GMT",        BAD),
    P("Jun 31",                                     "Sat, 31 Jun 2021 00:00:00 GMT",        BAD),
    P("Sep 31",                                     "Sat, 31 Sep 2021 00:00:00 GMT",        BAD),
    P("Nov 31",                                     "Sat, 31 Nov 2021 00:00:00 GMT",        BAD),
    P("Jan 32",                                     "Sat, 32 Jan 2021 00:00:00 GMT",        BAD),
    P("day 00",                                     "Sat, 00 Jan 2021 00:00:00 GMT",        BAD),
    P("day 0 in asctime",                           "Sat Jan  0 00:00:00 2021",             BAD),
    P("day 99",                                     "Sat, 99 Jan 2021 00:00:00 GMT",        BAD),
    /* time of day */
    P("24:00:00",                                   "Sun, 06 Nov 1994 24:00:00 GMT",        BAD),
    P("25:00:00",                                   "Sun, 06 Nov 1994 25:00:00 GMT",        BAD),
    P("minute 60",                                  "Sun, 06 Nov 1994 23:60:00 GMT",        BAD),
    P("second 60 (leap second: rejected)",          "Sun, 06 Nov 1994 23:59:60 GMT",        BAD),
    P("second 61",                                  "Sun, 06 Nov 1994 23:59:61 GMT",        BAD),
    P("24:00:00 in RFC 850",                        "Sunday, 06-Nov-94 24:00:00 GMT",       BAD),
    P("second 60 in asctime",                       "Sun Nov  6 23:59:60 1994",             BAD),
    P("dots instead of colons",                     "Sun, 06 Nov 1994 08.49.37 GMT",        BAD),
    P("one-digit hour",                             "Sun, 06 Nov 1994 8:49:37 GMT",         BAD),
    P("seconds missing",                            "Sun, 06 Nov 1994 08:49 GMT",           BAD),
    /* zone */
    P("GMT missing",                                "Sun, 06 Nov 1994 08:49:37",            BAD),
    P("GMT missing, RFC 850",                       "Sunday, 06-Nov-94 08:49:37",           BAD),
    P("UTC instead of GMT",                         "Sun, 06 Nov 1994 08:49:37 UTC",        BAD),
    P("gmt in lower case",                          "Sun, 06 Nov 1994 08:49:37 gmt",        BAD),
    P("numeric zone",                               "Sun, 06 Nov 1994 08:49:37 +0000",      BAD),
    P("GMT after an asctime date",                  "Sun Nov  6 08:49:37 1994 GMT",         BAD),
    P("GMT without its space",                      "Sun, 06 Nov 1994 08:49:37GMT",         BAD),
    /* whitespace */
    P("leading space",                              " Sun, 06 Nov 1994 08:49:37 GMT",       BAD),
    P("trailing space",                             "Sun, 06 Nov 1994 08:49:37 GMT ",       BAD),
    P("trailing CRLF",                              "Sun, 06 Nov 1994 08:49:37 GMT\r\n",    BAD),
    P("two spaces after the comma",                 "Sun,  06 Nov 1994 08:49:37 GMT",       BAD),
    P("two spaces before the time",                 "Sun, 06 Nov 1994  08:49:37 GMT",       BAD),
    P("no space after the comma",                   "Sun,06 Nov 1994 08:49:37 GMT",         BAD),
    P("tab instead of a space",                     "Sun,\t06 Nov 1994 08:49:37 GMT",       BAD),
    P("asctime with one space before the day",      "Sun Nov 6 08:49:37 1994",              BAD),
    P("asctime with three spaces before the day",   "Sun Nov   6 08:49:37 1994",            BAD),
    P("asctime with a trailing space",              "Sun Nov  6 08:49:37 1994 ",            BAD),
    P("one-digit day in IMF-fixdate",               "Sun,  6 Nov 1994 08:49:37 GMT",        BAD),
    /* years */
    P("two-digit year in IMF-fixdate",              "Sun, 06 Nov 94 08:49:37 GMT",          BAD),
    P("four-digit year in RFC 850",                 "Sunday, 06-Nov-1994 08:49:37 GMT",     BAD),
    P("five-digit year",                            "Sun, 06 Nov 19940 08:49:37 GMT",       BAD),
    P("signed year",                                "Sun, 06 Nov -994 08:49:37 GMT",        BAD),
    P("signed day",                                 "Sun, +6 Nov 1994 08:49:37 GMT",        BAD),
    P("two-digit year in asctime",                  "Sun Nov  6 08:49:37 94",               BAD),
    /* other junk */
    P("empty",                                      "",                                     BAD),
    P("three letters",                              "Sun",                                  BAD),
    P("NUL inside",                                 "Sun, 06 Nov 1994 08:49:37 G\0T",       BAD),
    P("NUL at the end",                             "Sun, 06 Nov 1994 08:49:37 GMT\0",      BAD),
    P("ISO 8601",                                   "1994-11-06T08:49:37Z",                 BAD),
    P("seconds since the epoch",                    "784111777",                            BAD),
    P("hyphens in IMF-fixdate",                     "Sun, 06-Nov-1994 08:49:37 GMT",        BAD),
    P("a list of two dates",                        "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", BAD),
    P("high bytes",                                 "Sun, 06 Nov 1994 08:49:37 \xc7MT",     BAD),
};
/* clang-format on */

static int parse_exact(const char *in, size_t len, time_t *t)
{
    char *copy = exact_copy(in, len);
    int rc = ws_httpdate_parse(copy, len, t);
    free(copy);
    return rc;
}

static void test_parse_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        time_t t = 12345;
        int rc = parse_exact(c->input, c->len, &t);

        check_int(c->desc, rc, c->t == BAD ? -1 : 0);
        if (c->t != BAD)
            check_int(c->desc, t, c->t);
        /* No shorter piece of a date is a date: truncated at every length. */
        for (size_t k = 0; c->t != BAD && k < c->len; k++) {
            rc = parse_exact(c->input, k, &t);
            if (rc != -1)
                print_error("case \"%s\": accepted when cut to %zu bytes\n", c->desc, k);
            check_int(c->desc, rc, -1);
        }
    }
}

/* Every day of every month of a leap and a common year, in all three formats. */
static void test_parse_every_day(void **state)
{
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    static const int month_days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    static const int years[] = { 2023, 2024, 1900, 2000 };

    for (size_t y = 0; y < ARRAY_LEN(years); y++) {
        int year = years[y], leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        for (int m = 0; m < 12; m++) {
            for (int d = 1; d <= 32; d++) {
                int valid = d <= month_days[m] + (m == 1 && leap);
                char imf[64], rfc850[64], asc[64], desc[96];
                struct tm tm = { 0 };
                time_t a, b, c, want;

                tm.tm_year = year - 1900;
                tm.tm_mon = m;
                tm.tm_mday = d;
                tm.tm_hour = 12;
                want = timegm(&tm); /* only the expected value: the parser must not use it */
                snprintf(imf, sizeof(imf), "Mon, %02d %s %04d 12:00:00 GMT", d, months[m], year);
                snprintf(rfc850, sizeof(rfc850), "Monday, %02d-%s-%02d 12:00:00 GMT", d, months[m],
                         year % 100);
                snprintf(asc, sizeof(asc), "Mon %s %2d 12:00:00 %04d", months[m], d, year);
                snprintf(desc, sizeof(desc), "%s", imf);
                check_int(desc, parse_exact(imf, strlen(imf), &a), valid ? 0 : -1);
                check_int(desc, parse_exact(asc, strlen(asc), &c), valid ? 0 : -1);
                if (valid) {
                    check_int(desc, a, want);
                    check_int(desc, c, want);
                }
                /* RFC 850 two-digit years name 1970..2069 only. */
                if (year >= 1970 && year < 2070) {
                    check_int(desc, parse_exact(rfc850, strlen(rfc850), &b), valid ? 0 : -1);
                    if (valid)
                        check_int(desc, b, want);
                }
            }
        }
    }
}

/*
 * Round trip: what the formatter writes, the parser reads back, for random
 * times over the whole four-digit range. RFC 850 and asctime forms written by
 * strftime(3) in the C locale are read back too.
 */
static void test_parse_round_trip(void **state)
{
    uint64_t seed = 11;

    for (int i = 0; i < 100000; i++) {
        time_t t = (time_t)(test_rand(&seed) % 315537897600ULL) - 62167219200LL, back = 0;
        char http[WS_HTTPDATE_LEN + 1], desc[48];

        snprintf(desc, sizeof(desc), "t=%lld", (long long)t);
        ws_httpdate_format(t, http);
        check_int(desc, parse_exact(http, WS_HTTPDATE_LEN, &back), 0);
        check_int(desc, back, t);
    }
    for (int i = 0; i < 20000; i++) {
        /* 1970-01-01 .. 2069-12-31, the years a two-digit RFC 850 year can name */
        time_t t = (time_t)(test_rand(&seed) % 3155760000ULL), back = 0;
        char rfc850[64], asc[64], desc[48];
        struct tm tm;
        size_t n;

        snprintf(desc, sizeof(desc), "t=%lld", (long long)t);
        assert_non_null(gmtime_r(&t, &tm));
        /* "%y" would do, but -Wformat-y2k rightly frowns on it: the year is written apart. */
        n = strftime(rfc850, sizeof(rfc850), "%A, %d-%b-", &tm);
        n += (size_t)snprintf(rfc850 + n, sizeof(rfc850) - n, "%02d", tm.tm_year % 100);
        strftime(rfc850 + n, sizeof(rfc850) - n, " %H:%M:%S GMT", &tm);
        strftime(asc, sizeof(asc), "%a %b %e %H:%M:%S %Y", &tm);
        check_int(rfc850, parse_exact(rfc850, strlen(rfc850), &back), 0);
        check_int(desc, back, t);
        back = 0;
        check_int(asc, parse_exact(asc, strlen(asc), &back), 0);
        check_int(desc, back, t);
    }
}

/* Changing any one byte of a valid date to a byte outside its grammar is an error. */
static void test_parse_one_byte_changed(void **state)
{
    static const char *const dates[] = { "Sun, 06 Nov 1994 08:49:37 GMT",
                                         "Sunday, 06-Nov-94 08:49:37 GMT",
                                         "Sun Nov  6 08:49:37 1994" };
    static const char junk[] = { '\0', '\t', 'x', '/', '~', '\x80', '\xff' };

    for (size_t d = 0; d < ARRAY_LEN(dates); d++) {
        size_t len = strlen(dates[d]);
        for (size_t k = 0; k < len; k++) {
            for (size_t j = 0; j < ARRAY_LEN(junk); j++) {
                char buf[64], desc[96];
                time_t t;
                memcpy(buf, dates[d], len);
                buf[k] = junk[j];
                snprintf(desc, sizeof(desc), "%s, byte %zu = 0x%02x", dates[d], k,
                         (unsigned char)junk[j]);
                check_int(desc, parse_exact(buf, len, &t), -1);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_table),       cmocka_unit_test(test_date_matches_strftime),
        cmocka_unit_test(test_parse_table),      cmocka_unit_test(test_parse_every_day),
        cmocka_unit_test(test_parse_round_trip), cmocka_unit_test(test_parse_one_byte_changed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
