/*
 * test_httpdate.c - IMF-fixdate and Common Log Format dates.
 *
 * Expected strings were computed independently (Python's datetime), not with
 * the code under test.
 */
#include "test_util.h"

#include "httpdate.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_table),
        cmocka_unit_test(test_date_matches_strftime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
