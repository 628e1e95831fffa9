/*
 * http/test_validators.c - entity tags, conditional requests (RFC 9110 §13), If-Range,
 * Cache-Control policy and fingerprinted names.
 *
 * Precondition rows are field lines that the test wraps in a request and
 * parses with ws_http_parse_request from an exactly-sized block, so every
 * view the evaluator reads ends where the buffer ends (ASan catches any
 * over-read) and values arrive trimmed exactly as the server sees them.
 * The representation in most rows has ETag "abc" and was last modified at
 * D_EQ (784111777).
 */
#include "test_util.h"

#include "http/validators.h"
#include "http/request_parser.h"

#include <stdio.h>

#define ETAG  "\"abc\""
#define MTIME 784111777

#define D_EQ         "Sun, 06 Nov 1994 08:49:37 GMT"
#define D_BEFORE     "Sun, 06 Nov 1994 08:49:36 GMT"
#define D_AFTER      "Sun, 06 Nov 1994 08:49:38 GMT"
#define D_EQ_850     "Sunday, 06-Nov-94 08:49:37 GMT"
#define D_EQ_ASC     "Sun Nov  6 08:49:37 1994"
#define D_BEFORE_850 "Sunday, 06-Nov-94 08:49:36 GMT"
#define D_BEFORE_ASC "Sun Nov  6 08:49:36 1994"

#define IM(v)  "If-Match: " v
#define INM(v) "If-None-Match: " v
#define IMS(v) "If-Modified-Since: " v
#define IUS(v) "If-Unmodified-Since: " v
#define IR(v)  "If-Range: " v
#define NL     "\n"

/* Wraps field lines (separated by '\n') in a request, parsed from an exact block. */
struct built {
    struct ws_request req;
    char *copy;
};

static struct built *build(const char *desc, const char *method, const char *fields)
{
    static const struct ws_parse_limits limits = { 8192, 16384, 100 };
    struct built *b = malloc(sizeof(*b));
    char raw[4096];
    size_t w;

    assert_non_null(b);
    w = (size_t)snprintf(raw, sizeof(raw), "%s / HTTP/1.1\r\nHost: h\r\n", method);
    for (const char *p = fields; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        memcpy(raw + w, p, n);
        w += n;
        memcpy(raw + w, "\r\n", 2);
        w += 2;
        p += n + (p[n] == '\n');
    }
    memcpy(raw + w, "\r\n", 2);
    w += 2;
    b->copy = exact_copy(raw, w);
    check_int(desc, ws_http_parse_request(b->copy, w, 0, &limits, &b->req), (int)w);
    return b;
}

static void release(struct built *b)
{
    free(b->copy);
    free(b);
}

static struct ws_view view_of(const char *s)
{
    struct ws_view v = { s, strlen(s) };
    return v;
}

/* ---- ETag ---- */

struct etag_case {
    const char *desc;
    uint64_t size;
    int64_t sec;
    long nsec;
    const char *etag;
};

/* clang-format off */
static const struct etag_case etag_cases[] = {
    { "zero",                          0,          0,          0,         "\"0-0\"" },
    { "size and time in hex",          1234,       1700000000, 123456789, "\"4d2-17979cfe3d85cd15\"" },
    { "one nanosecond",                1,          0,          1,         "\"1-1\"" },
    { "one second",                    0,          1,          0,         "\"0-3b9aca00\"" },
    { "before the epoch",              5,          -1,         0,         "\"5-ffffffffc4653600\"" },
    { "largest size and time",         UINT64_MAX, INT64_MAX,  999999999, "\"ffffffffffffffff-ffffffffffffffff\"" },
};
/* clang-format on */

static void test_etag_format(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(etag_cases); i++) {
        const struct etag_case *c = &etag_cases[i];
        char *out = exact_alloc(WS_ETAG_MAX); /* the documented room, exactly */
        size_t n = ws_etag_format(c->size, c->sec, c->nsec, out);

        check_mem(c->desc, out, n, c->etag);
        check_int(c->desc, out[n], '\0');
        free(out);
    }
}

/* A tag changes with the size and with every nanosecond of the time; it matches itself. */
static void test_etag_distinct(void **state)
{
    uint64_t seed = 5;

    for (int i = 0; i < 10000; i++) {
        uint64_t size = test_rand(&seed) >> (test_rand(&seed) % 64);
        int64_t sec = (int64_t)(test_rand(&seed) % 4000000000ULL);
        long nsec = (long)(test_rand(&seed) % 1000000000);
        char a[WS_ETAG_MAX], b[WS_ETAG_MAX], c[WS_ETAG_MAX], fields[256];
        struct built *req;

        ws_etag_format(size, sec, nsec, a);
        ws_etag_format(size + 1, sec, nsec, b);
        ws_etag_format(size, sec, nsec == 999999999 ? nsec - 1 : nsec + 1, c);
        check_true(a, strcmp(a, b) != 0 && strcmp(a, c) != 0);
        snprintf(fields, sizeof(fields), IM("%s") NL INM("%s, %s") NL IR("%s"), a, b, c, a);
        req = build(a, "GET", fields);
        check_int(a, ws_preconditions(&req->req, view_of(a), 0), 0);
        check_int(a, ws_if_range_allows(&req->req, view_of(a), 0), 1);
        release(req);
    }
}

/* ---- preconditions ---- */

struct pre_case {
    const char *desc;
    const char *method;
    const char *fields;
    const char *etag;
    int result;
};

/* clang-format off */
static const struct pre_case pre_cases[] = {
    /* description                                      method     fields                                         etag            result */
    { "no conditions",                                  "GET",     "",                                            ETAG,           0 },
    { "unrelated fields",                               "GET",     "Accept: */*" NL "If-Ranged: x",               ETAG,           0 },
    /* If-None-Match */
    { "INM match: 304",                                 "GET",     INM(ETAG),                                     ETAG,           304 },
    { "INM match on HEAD: 304",                         "HEAD",    INM(ETAG),                                     ETAG,           304 },
    { "INM match on POST: 412",                         "POST",    INM(ETAG),                                     ETAG,           412 },
    { "INM match on PUT: 412",                          "PUT",     INM(ETAG),                                     ETAG,           412 },
    { "INM match on DELETE: 412",                       "DELETE",  INM(ETAG),                                     ETAG,           412 },
    { "INM match on OPTIONS: 412",                      "OPTIONS", INM(ETAG),                                     ETAG,           412 },
    { "INM other tag",                                  "GET",     INM("\"xyz\""),                                ETAG,           0 },
    { "INM weak tag matches (weak comparison)",         "GET",     INM("W/" ETAG),                                ETAG,           304 },
    { "INM strong tag matches a weak current tag",      "GET",     INM(ETAG),                                     "W/" ETAG,      304 },
    { "INM weak tag, weak current tag",                 "GET",     INM("W/" ETAG),                                "W/" ETAG,      304 },
    { "INM list, match second",                         "GET",     INM("\"xyz\", " ETAG),                         ETAG,           304 },
    { "INM list without spaces",                        "GET",     INM("\"xyz\"," ETAG),                          ETAG,           304 },
    { "INM list, no match",                             "GET",     INM("\"xyz\", W/\"uvw\", \"ab\""),             ETAG,           0 },
    { "INM list with empty elements",                   "GET",     INM(" , ," ETAG " ,,"),                        ETAG,           304 },
    { "INM list with tabs",                             "GET",     INM("\"x\"\t,\t" ETAG),                        ETAG,           304 },
    { "INM *",                                          "GET",     INM("*"),                                      ETAG,           304 },
    { "INM * on POST",                                  "POST",    INM("*"),                                      ETAG,           412 },
    { "INM * with no current tag",                      "GET",     INM("*"),                                      "",             304 },
    { "INM tag with no current tag",                    "GET",     INM(ETAG),                                     "",             0 },
    { "INM tags compare case-sensitively",              "GET",     INM("\"ABC\""),                                ETAG,           0 },
    { "INM prefix of the tag",                          "GET",     INM("\"ab\""),                                 ETAG,           0 },
    { "INM tag containing a comma",                     "GET",     INM("\"x\", \"a,b\""),                         "\"a,b\"",      304 },
    { "INM comma tag not split",                        "GET",     INM("\"a,b\""),                                "\"a\"",        0 },
    { "INM empty opaque tag",                           "GET",     INM("\"\""),                                   "\"\"",         304 },
    { "INM two lines, match on the second",             "GET",     INM("\"xyz\"") NL INM(ETAG),                   ETAG,           304 },
    { "INM two lines, match on the first",              "GET",     INM(ETAG) NL INM("\"xyz\""),                   ETAG,           304 },
    { "INM name in lower case",                         "GET",     "if-none-match: " ETAG,                        ETAG,           304 },
    { "INM unquoted: malformed",                        "GET",     INM("abc"),                                    ETAG,           0 },
    { "INM lower-case w/: malformed",                   "GET",     INM("w/" ETAG),                                ETAG,           0 },
    { "INM unterminated: malformed",                    "GET",     INM("\"abc"),                                  ETAG,           0 },
    { "INM two tags without a comma: malformed",        "GET",     INM(ETAG " \"xyz\""),                          ETAG,           0 },
    { "INM good tag then junk: the line matches nothing", "GET",   INM(ETAG ", junk"),                            ETAG,           0 },
    { "INM malformed line, good line",                  "GET",     INM("junk") NL INM(ETAG),                      ETAG,           304 },
    { "INM * mixed with junk",                          "GET",     INM("*x"),                                     ETAG,           0 },
    { "INM W/*: malformed",                             "GET",     INM("W/*"),                                    ETAG,           0 },
    { "INM control-free but not etagc (space inside)",  "GET",     INM("\"a c\""),                                "\"a c\"",      0 },
    { "INM empty value",                                "GET",     INM(""),                                       ETAG,           0 },
    /* If-Modified-Since */
    { "IMS equal: 304",                                 "GET",     IMS(D_EQ),                                     ETAG,           304 },
    { "IMS later: 304",                                 "GET",     IMS(D_AFTER),                                  ETAG,           304 },
    { "IMS earlier: 200",                               "GET",     IMS(D_BEFORE),                                 ETAG,           0 },
    { "IMS on HEAD",                                    "HEAD",    IMS(D_EQ),                                     ETAG,           304 },
    { "IMS on POST: ignored",                           "POST",    IMS(D_EQ),                                     ETAG,           0 },
    { "IMS RFC 850 date",                               "GET",     IMS(D_EQ_850),                                 ETAG,           304 },
    { "IMS asctime date",                               "GET",     IMS(D_EQ_ASC),                                 ETAG,           304 },
    { "IMS RFC 850 earlier",                            "GET",     IMS(D_BEFORE_850),                             ETAG,           0 },
    { "IMS asctime earlier",                            "GET",     IMS(D_BEFORE_ASC),                             ETAG,           0 },
    { "IMS compared as times, not strings",             "GET",     IMS("Mon, 07 Nov 1994 00:00:00 GMT"),          ETAG,           304 },
    { "IMS invalid date: ignored",                      "GET",     IMS("yesterday"),                              ETAG,           0 },
    { "IMS lower-case gmt: ignored",                    "GET",     IMS("Sun, 06 Nov 1994 08:49:37 gmt"),          ETAG,           0 },
    { "IMS Feb 30: ignored",                            "GET",     IMS("Sun, 30 Feb 2020 08:49:37 GMT"),          ETAG,           0 },
    { "IMS list of dates: ignored",                     "GET",     IMS(D_EQ ", " D_EQ),                           ETAG,           0 },
    { "IMS two lines: ignored",                         "GET",     IMS(D_EQ) NL IMS(D_EQ),                        ETAG,           0 },
    { "IMS empty: ignored",                             "GET",     IMS(""),                                       ETAG,           0 },
    { "IMS far future: 304",                            "GET",     IMS("Fri, 31 Dec 9999 23:59:59 GMT"),          ETAG,           304 },
    /* If-Match */
    { "IM match",                                       "GET",     IM(ETAG),                                      ETAG,           0 },
    { "IM other tag: 412",                              "GET",     IM("\"xyz\""),                                 ETAG,           412 },
    { "IM weak tag never matches (strong)",             "GET",     IM("W/" ETAG),                                 ETAG,           412 },
    { "IM against a weak current tag",                  "GET",     IM(ETAG),                                      "W/" ETAG,      412 },
    { "IM *",                                           "GET",     IM("*"),                                       ETAG,           0 },
    { "IM * on PUT",                                    "PUT",     IM("*"),                                       ETAG,           0 },
    { "IM list, match second",                          "GET",     IM("\"xyz\", " ETAG),                          ETAG,           0 },
    { "IM two lines, match on the second",              "GET",     IM("\"xyz\"") NL IM(ETAG),                     ETAG,           0 },
    { "IM two lines, no match",                         "GET",     IM("\"xyz\"") NL IM("\"uvw\""),                ETAG,           412 },
    { "IM malformed: 412",                              "GET",     IM("abc"),                                     ETAG,           412 },
    { "IM good tag then junk: 412",                     "GET",     IM(ETAG " junk"),                              ETAG,           412 },
    { "IM empty: 412",                                  "GET",     IM(""),                                        ETAG,           412 },
    { "IM with no current tag: 412",                    "GET",     IM(ETAG),                                      "",             412 },
    { "IM match on POST",                               "POST",    IM(ETAG),                                      ETAG,           0 },
    { "IM no match on HEAD",                            "HEAD",    IM("\"xyz\""),                                 ETAG,           412 },
    /* If-Unmodified-Since */
    { "IUS equal",                                      "GET",     IUS(D_EQ),                                     ETAG,           0 },
    { "IUS later",                                      "GET",     IUS(D_AFTER),                                  ETAG,           0 },
    { "IUS earlier: 412",                               "GET",     IUS(D_BEFORE),                                 ETAG,           412 },
    { "IUS earlier, RFC 850: 412",                      "GET",     IUS(D_BEFORE_850),                             ETAG,           412 },
    { "IUS earlier, asctime: 412",                      "GET",     IUS(D_BEFORE_ASC),                             ETAG,           412 },
    { "IUS earlier on POST: 412",                       "POST",    IUS(D_BEFORE),                                 ETAG,           412 },
    { "IUS invalid: ignored",                           "GET",     IUS("Sun, 06 Nov 1994 08:49:36"),              ETAG,           0 },
    { "IUS two lines: ignored",                         "GET",     IUS(D_BEFORE) NL IUS(D_BEFORE),                ETAG,           0 },
    /* combinations, in the order of RFC 9110 §13.2.2 */
    { "IM match, IUS earlier: IUS ignored",             "GET",     IM(ETAG) NL IUS(D_BEFORE),                     ETAG,           0 },
    { "IM *, IUS earlier: IUS ignored",                 "GET",     IM("*") NL IUS(D_BEFORE),                      ETAG,           0 },
    { "IM malformed, IUS later: still 412",             "GET",     IM("junk") NL IUS(D_AFTER),                    ETAG,           412 },
    { "IM fails before INM matches: 412",               "GET",     IM("\"xyz\"") NL INM(ETAG),                    ETAG,           412 },
    { "IM match, INM match: 304",                       "GET",     IM(ETAG) NL INM(ETAG),                         ETAG,           304 },
    { "IM match, INM match on POST: 412",               "POST",    IM(ETAG) NL INM(ETAG),                         ETAG,           412 },
    { "IUS fails before INM matches: 412",              "GET",     IUS(D_BEFORE) NL INM(ETAG),                    ETAG,           412 },
    { "IUS holds, INM match: 304",                      "GET",     IUS(D_EQ) NL INM(ETAG),                        ETAG,           304 },
    { "IUS invalid, INM match: 304",                    "GET",     IUS("junk") NL INM(ETAG),                      ETAG,           304 },
    { "IUS fails before IMS: 412",                      "GET",     IUS(D_BEFORE) NL IMS(D_EQ),                    ETAG,           412 },
    { "IUS holds, IMS equal: 304",                      "GET",     IUS(D_EQ) NL IMS(D_EQ),                        ETAG,           304 },
    { "INM no match: IMS ignored",                      "GET",     INM("\"xyz\"") NL IMS(D_EQ),                   ETAG,           0 },
    { "IMS before INM on the wire, no match: ignored",  "GET",     IMS(D_EQ) NL INM("\"xyz\""),                   ETAG,           0 },
    { "INM match, IMS earlier: 304",                    "GET",     INM(ETAG) NL IMS(D_BEFORE),                    ETAG,           304 },
    { "INM malformed still present: IMS ignored",       "GET",     INM("junk") NL IMS(D_EQ),                      ETAG,           0 },
    { "INM empty still present: IMS ignored",           "GET",     INM("") NL IMS(D_EQ),                          ETAG,           0 },
    { "IMS invalid, INM absent: 200",                   "GET",     IMS("junk"),                                   ETAG,           0 },
    { "all four, all hold: 200",                        "GET",     IM(ETAG) NL IUS(D_BEFORE) NL INM("\"xyz\"") NL IMS(D_EQ), ETAG, 0 },
    { "all four, INM matches: 304",                     "GET",     IM(ETAG) NL IUS(D_BEFORE) NL INM("*") NL IMS(D_BEFORE), ETAG, 304 },
    { "all four, IM fails: 412",                        "HEAD",    IM("\"x\"") NL IUS(D_AFTER) NL INM(ETAG) NL IMS(D_EQ), ETAG, 412 },
    { "IMS and IUS on DELETE, IUS fails",               "DELETE",  IMS(D_EQ) NL IUS(D_BEFORE),                    ETAG,           412 },
    { "IMS and IUS on DELETE, IUS holds",               "DELETE",  IMS(D_EQ) NL IUS(D_EQ),                        ETAG,           0 },
};
/* clang-format on */

static void test_preconditions_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(pre_cases); i++) {
        const struct pre_case *c = &pre_cases[i];
        struct built *b = build(c->desc, c->method, c->fields);
        /* The server's tag, too, in an exact block. */
        size_t elen = strlen(c->etag);
        char *etag = exact_copy(c->etag, elen);
        struct ws_view v = { etag, elen };

        check_int(c->desc, ws_preconditions(&b->req, v, MTIME), c->result);
        free(etag);
        release(b);
    }
}

/* ---- If-Range ---- */

/* clang-format off */
static const struct pre_case if_range_cases[] = {
    /* description                                      method  fields                                 etag         allows */
    { "no If-Range",                                    "GET",  "",                                    ETAG,        1 },
    { "matching tag",                                   "GET",  IR(ETAG),                              ETAG,        1 },
    { "other tag",                                      "GET",  IR("\"xyz\""),                         ETAG,        0 },
    { "weak tag never matches",                         "GET",  IR("W/" ETAG),                         ETAG,        0 },
    { "current tag weak",                               "GET",  IR(ETAG),                              "W/" ETAG,   0 },
    { "tag compared case-sensitively",                  "GET",  IR("\"ABC\""),                         ETAG,        0 },
    { "no current tag",                                 "GET",  IR(ETAG),                              "",          0 },
    { "list of tags: invalid",                          "GET",  IR(ETAG ", \"xyz\""),                  ETAG,        0 },
    { "*: invalid",                                     "GET",  IR("*"),                               ETAG,        0 },
    { "unquoted tag: invalid",                          "GET",  IR("abc"),                             ETAG,        0 },
    { "tag with junk after it",                         "GET",  IR(ETAG "x"),                          ETAG,        0 },
    { "empty value",                                    "GET",  IR(""),                                ETAG,        0 },
    { "equal date",                                     "GET",  IR(D_EQ),                              ETAG,        1 },
    { "equal date, RFC 850",                            "GET",  IR(D_EQ_850),                          ETAG,        1 },
    { "equal date, asctime",                            "GET",  IR(D_EQ_ASC),                          ETAG,        1 },
    { "earlier date",                                   "GET",  IR(D_BEFORE),                          ETAG,        0 },
    { "later date: not an exact match",                 "GET",  IR(D_AFTER),                           ETAG,        0 },
    { "invalid date",                                   "GET",  IR("Sun, 06 Nov 1994 08:49:37"),       ETAG,        0 },
    { "two lines",                                      "GET",  IR(ETAG) NL IR(ETAG),                  ETAG,        0 },
    { "name in lower case",                             "GET",  "if-range: " ETAG,                     ETAG,        1 },
    { "other conditionals do not count",                "GET",  INM("\"x\"") NL IM(ETAG),              ETAG,        1 },
};
/* clang-format on */

static void test_if_range_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(if_range_cases); i++) {
        const struct pre_case *c = &if_range_cases[i];
        struct built *b = build(c->desc, c->method, c->fields);
        size_t elen = strlen(c->etag);
        char *etag = exact_copy(c->etag, elen);
        struct ws_view v = { etag, elen };

        check_int(c->desc, ws_if_range_allows(&b->req, v, MTIME), c->result);
        free(etag);
        release(b);
    }
}

/* A date starting with "W" is a date, not a weak tag. */
static void test_if_range_wednesday(void **state)
{
    struct built *b = build("Wednesday", "GET", IR("Wed, 09 Nov 1994 08:49:37 GMT"));
    struct built *c = build("Wednesday", "GET", IR("Wednesday, 09-Nov-94 08:49:37 GMT"));

    check_int("Wed, IMF-fixdate", ws_if_range_allows(&b->req, view_of(ETAG), 784370977), 1);
    check_int("Wednesday, RFC 850", ws_if_range_allows(&c->req, view_of(ETAG), 784370977), 1);
    check_int("Wed, other time", ws_if_range_allows(&b->req, view_of(ETAG), MTIME), 0);
    release(b);
    release(c);
}

/* ---- Cache-Control ---- */

#define HTML   "text/html; charset=utf-8"
#define IMMUT  "public, max-age=31536000, immutable"
#define SHORT  "public, max-age=600"
#define NOCACH "no-cache"

struct cc_case {
    const char *desc;
    enum ws_cache_mode mode;
    unsigned max_age;
    const char *name;
    const char *type;
    const char *result; /* NULL: no Cache-Control */
};

/* clang-format off */
static const struct cc_case cc_cases[] = {
    { "off: none",                          WS_CACHE_OFF,   0,          "index.html",            HTML,                       NULL },
    { "off: none for assets either",        WS_CACHE_OFF,   0,          "app.3f9a2c1e.js",       "text/javascript",          NULL },
    { "fixed 0",                            WS_CACHE_FIXED, 0,          "index.html",            HTML,                       "public, max-age=0" },
    { "fixed 3600",                         WS_CACHE_FIXED, 3600,       "a.png",                 "image/png",                "public, max-age=3600" },
    { "fixed UINT_MAX",                     WS_CACHE_FIXED, 4294967295u, "a.png",                "image/png",                "public, max-age=4294967295" },
    { "auto: HTML revalidates",             WS_CACHE_AUTO,  0,          "index.html",            HTML,                       NOCACH },
    { "auto: HTML without parameters",      WS_CACHE_AUTO,  0,          "x",                     "text/html",                NOCACH },
    { "auto: HTML type in upper case",      WS_CACHE_AUTO,  0,          "x",                     "TEXT/HTML;charset=utf-8",  NOCACH },
    { "auto: XHTML",                        WS_CACHE_AUTO,  0,          "a.xhtml",               "application/xhtml+xml",    NOCACH },
    { "auto: text/htmlx is not HTML",       WS_CACHE_AUTO,  0,          "x",                     "text/htmlx",               SHORT },
    { "auto: fingerprinted HTML revalidates", WS_CACHE_AUTO, 0,         "index.3f9a2c1e.html",   HTML,                       NOCACH },
    { "auto: fingerprinted script",         WS_CACHE_AUTO,  0,          "app.3f9a2c1e.js",       "text/javascript",          IMMUT },
    { "auto: fingerprinted in a directory", WS_CACHE_AUTO,  0,          "assets/index-D3Ff_x9l.css", "text/css",             IMMUT },
    { "auto: plain image",                  WS_CACHE_AUTO,  0,          "logo.png",              "image/png",                SHORT },
    { "auto: versioned library is not",     WS_CACHE_AUTO,  0,          "jquery-3.6.0.min.js",   "text/javascript",          SHORT },
    { "auto: max_age ignored",              WS_CACHE_AUTO,  5,          "logo.png",              "image/png",                SHORT },
    { "auto: type from the name (HTML)",    WS_CACHE_AUTO,  0,          "docs/index.HTM",        NULL,                       NOCACH },
    { "auto: type from the name (CSS)",     WS_CACHE_AUTO,  0,          "a.css",                 NULL,                       SHORT },
    { "auto: type from the name, fingerprinted", WS_CACHE_AUTO, 0,      "chunk-5V4YKJQW.js",     NULL,                       IMMUT },
};
/* clang-format on */

static void test_cache_control(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(cc_cases); i++) {
        const struct cc_case *c = &cc_cases[i];
        size_t len = strlen(c->name);
        char *name = exact_copy(c->name, len);
        char *buf = exact_alloc(64);
        const char *got = ws_cache_control(c->mode, c->max_age, name, len, c->type, buf);

        if (c->result == NULL)
            check_true(c->desc, got == NULL);
        else if (got == NULL)
            check_true(c->desc, got != NULL);
        else
            check_str(c->desc, got, c->result);
        free(name);
        free(buf);
    }
}

/* ---- fingerprinted names ---- */

struct fp_case {
    const char *desc;
    const char *name;
    int result;
};

/* clang-format off */
static const struct fp_case fp_cases[] = {
    { "webpack hex hash",                       "app.3f9a2c1e.js",                        1 },
    { "esbuild base32 hash",                    "chunk-5V4YKJQW.js",                      1 },
    { "vite hash with _",                       "index-D3Ff_x9l.css",                     1 },
    { "hash alone before the extension",        "3f9a2c1e.js",                            1 },
    { "in a directory",                         "assets/js/app.3f9a2c1e.js",              1 },
    { "dotted directory",                       "v1.2/app.3f9a2c1e.js",                   1 },
    { "upper-case hex",                         "app.3F9A2C1E.js",                        1 },
    { "20-character hash",                      "main.0123456789abcdef0123.css",          1 },
    { "64 characters",                          "a.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.js", 1 },
    { "hash before .min",                       "app.3f9a2c1e.min.js",                    1 },
    { "hash after .min",                        "app.min.3f9a2c1e.js",                    1 },
    { "hash between dashes",                    "a-3f9a2c1e-b.js",                        1 },
    { "other junk token, then a hash",          "vendor~main.3f9a2c1e.js",                1 },
    { "digits and upper case, not hex",         "app.ZZ9ZZZZZ.js",                        1 },
    { "exactly 8",                              "a.1234567a.js",                          1 },
    { "versioned library",                      "jquery-3.6.0.min.js",                    0 },
    { "year in the name",                       "report2023.pdf",                         0 },
    { "plain name",                             "logo.png",                               0 },
    { "no token long enough",                   "app.js",                                 0 },
    { "7 characters",                           "app.3f9a2c1.js",                         0 },
    { "65 characters",                          "a.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0.js", 0 },
    { "hex letters but no digit",               "deadbeef.js",                            0 },
    { "digits but no letter",                   "12345678.js",                            0 },
    { "date",                                   "backup-20231105.tar",                    0 },
    { "lower case, not hex",                    "bundle.2023abcx.js",                     0 },
    { "underscore joins a word",                "app_3f9a2c1e.js",                        0 },
    { "hash is the extension itself",           "app.3f9a2c1e",                           0 },
    { "no extension at all",                    "3f9a2c1e4b5d",                           0 },
    { "hash in the directory only",             "3f9a2c1e/app.js",                        0 },
    { "hash in a dotted directory only",        "x.3f9a2c1e/app.js",                      0 },
    { "trailing slash: no segment",             "app.3f9a2c1e.js/",                       0 },
    { "hidden file",                            ".3f9a2c1e",                              0 },
    { "non-ASCII in the token",                 "app.3f9a2c1\xc3\xa9.js",                 0 },
    { "tilde in the token",                     "app.3f9a~2c1e.js",                       0 },
    { "empty",                                  "",                                       0 },
    { "dots only",                              "...",                                    0 },
    { "words with digits, lower case",          "chapter10-section2.html",                0 },
    { "uuid-like dashed pieces (short)",        "f47ac10b-58cc-4372.json",                1 },
};
/* clang-format on */

static void test_fingerprinted(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(fp_cases); i++) {
        const struct fp_case *c = &fp_cases[i];
        size_t len = strlen(c->name);
        char *name = exact_copy(c->name, len);
        check_int(c->desc, ws_is_fingerprinted(name, len), c->result);
        free(name);
    }
    /* Only name[0..len) counts. */
    check_int("length bound", ws_is_fingerprinted("app.3f9a2c1e.js", 12), 0);
    check_int("length bound, hash kept", ws_is_fingerprinted("app.3f9a2c1e.js.map", 15), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_format),         cmocka_unit_test(test_etag_distinct),
        cmocka_unit_test(test_preconditions_table), cmocka_unit_test(test_if_range_table),
        cmocka_unit_test(test_if_range_wednesday),  cmocka_unit_test(test_cache_control),
        cmocka_unit_test(test_fingerprinted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
