/*
 * http/test_range.c - Range field parsing and multipart/byteranges framing.
 *
 * Every input is copied into a heap block of exactly its length with no
 * terminator (exact_copy), so reading one byte too far is an ASan error. Each
 * table row is also parsed at every prefix, where any answer is allowed but the
 * output must keep the contract's invariants. A generated test compares the
 * parser with a byte-map model of the contract on random lists.
 */
#include "test_util.h"

#include "http/range.h"

#include <stdio.h>

#define BIG  10000 /* the representation size most rows use */
#define MAX  WS_RANGE_MAX
#define NONE (-416)

struct range_case {
    const char *desc;
    const char *input;
    size_t len;
    int64_t size;
    int max;
    int result;
    const char *ranges; /* expected "a-b,c-d" when result > 0 */
};

/* clang-format off */
#define R(d, in, sz, res, rs)         { d, in, LIT_LEN(in), sz, MAX, res, rs }
#define RM(d, in, sz, mx, res, rs)    { d, in, LIT_LEN(in), sz, mx, res, rs }

static const struct range_case range_cases[] = {
    /* description                                   input                                         size  result ranges */
    R("first-last",                                   "bytes=0-499",                                BIG,  1,    "0-499"),
    R("first-last in the middle",                     "bytes=500-999",                              BIG,  1,    "500-999"),
    R("single byte",                                  "bytes=5-5",                                  BIG,  1,    "5-5"),
    R("first- (to the end)",                          "bytes=9500-",                                BIG,  1,    "9500-9999"),
    R("0- is the whole",                              "bytes=0-",                                   BIG,  1,    "0-9999"),
    R("suffix",                                       "bytes=-500",                                 BIG,  1,    "9500-9999"),
    R("suffix of one byte",                           "bytes=-1",                                   BIG,  1,    "9999-9999"),
    R("last byte by position",                        "bytes=9999-",                                BIG,  1,    "9999-9999"),
    R("first and last byte",                          "bytes=0-0,-1",                               BIG,  2,    "0-0,9999-9999"),
    R("unit upper case",                              "BYTES=0-1",                                  BIG,  1,    "0-1"),
    R("unit mixed case",                              "Bytes=0-1",                                  BIG,  1,    "0-1"),
    R("OWS around the comma",                         "bytes=0-1 , 3-4",                            BIG,  2,    "0-1,3-4"),
    R("tab around the comma",                         "bytes=0-1\t,\t3-4",                          BIG,  2,    "0-1,3-4"),
    R("empty elements",                               "bytes=,0-1,,3-4,",                           BIG,  2,    "0-1,3-4"),
    R("empty elements with OWS",                      "bytes=, ,0-1 ,, 3-4 , ,",                    BIG,  2,    "0-1,3-4"),
    R("OWS after = (accepted, as nginx)",             "bytes= 0-1",                                 BIG,  1,    "0-1"),
    R("leading zeros",                                "bytes=0005-0009",                            BIG,  1,    "5-9"),
    R("30 leading zeros",                             "bytes=0000000000000000000000000000005-000000000000000000000000000009", BIG, 1, "5-9"),
    /* syntax errors: the field is ignored */
    R("empty value",                                  "",                                           BIG,  0,    NULL),
    R("unit only",                                    "bytes",                                      BIG,  0,    NULL),
    R("no range-set",                                 "bytes=",                                     BIG,  0,    NULL),
    R("only a comma",                                 "bytes=,",                                    BIG,  0,    NULL),
    R("only empty elements",                          "bytes=, ,\t,",                               BIG,  0,    NULL),
    R("no unit",                                      "=0-1",                                       BIG,  0,    NULL),
    R("another unit",                                 "items=0-1",                                  BIG,  0,    NULL),
    R("unit with a suffix",                           "bytesx=0-1",                                 BIG,  0,    NULL),
    R("unit singular",                                "byte=0-1",                                   BIG,  0,    NULL),
    R("space before =",                               "bytes =0-1",                                 BIG,  0,    NULL),
    R("colon instead of =",                           "bytes:0-1",                                  BIG,  0,    NULL),
    R("no dash",                                      "bytes=5",                                    BIG,  0,    NULL),
    R("dash only",                                    "bytes=-",                                    BIG,  0,    NULL),
    R("dash only among good ranges",                  "bytes=0-1,-,3-4",                            BIG,  0,    NULL),
    R("double dash",                                  "bytes=--5",                                  BIG,  0,    NULL),
    R("suffix followed by a dash",                    "bytes=-5-",                                  BIG,  0,    NULL),
    R("first-last-more",                              "bytes=1-2-3",                                BIG,  0,    NULL),
    R("last before first",                            "bytes=5-3",                                  BIG,  0,    NULL),
    R("last before first among good ranges",          "bytes=0-1,5-3,7-8",                          BIG,  0,    NULL),
    R("last before first, both beyond int64",         "bytes=99999999999999999999-99999999999999999998", BIG, 0, NULL),
    R("space inside a range",                         "bytes=0 -1",                                 BIG,  0,    NULL),
    R("space after the dash",                         "bytes=0- 1",                                 BIG,  0,    NULL),
    R("two ranges without a comma",                   "bytes=0-1 3-4",                              BIG,  0,    NULL),
    R("semicolon separator",                          "bytes=0-1;3-4",                              BIG,  0,    NULL),
    R("letters",                                      "bytes=a-b",                                  BIG,  0,    NULL),
    R("hex",                                          "bytes=0x10-20",                              BIG,  0,    NULL),
    R("plus sign",                                    "bytes=+5-6",                                 BIG,  0,    NULL),
    R("decimal point",                                "bytes=1.5-2",                                BIG,  0,    NULL),
    R("negative last",                                "bytes=5--6",                                 BIG,  0,    NULL),
    R("NUL inside",                                   "bytes=0-1\0",                                BIG,  0,    NULL),
    R("junk after a range",                           "bytes=0-1x",                                 BIG,  0,    NULL),
    R("two units",                                    "bytes=0-1, bytes=3-4",                       BIG,  0,    NULL),
    R("syntax error after an unsatisfiable range",    "bytes=20000-,x",                             BIG,  0,    NULL),
    /* huge numbers are clamped, never wrapped */
    R("last with 23 digits",                          "bytes=0-99999999999999999999999",            BIG,  1,    "0-9999"),
    R("last = INT64_MAX",                             "bytes=1-9223372036854775807",                BIG,  1,    "1-9999"),
    R("last = INT64_MAX + 1",                         "bytes=1-9223372036854775808",                BIG,  1,    "1-9999"),
    R("last = 2^64 (would wrap to 0)",                "bytes=1-18446744073709551616",               BIG,  1,    "1-9999"),
    R("first with 20 digits",                         "bytes=99999999999999999999-",                BIG,  NONE, NULL),
    R("first = INT64_MAX",                            "bytes=9223372036854775807-",                 BIG,  NONE, NULL),
    R("first = 2^64 (would wrap to 0)",               "bytes=18446744073709551616-",                BIG,  NONE, NULL),
    R("both beyond int64, in order",                  "bytes=9223372036854775808-9223372036854775809", BIG, NONE, NULL),
    R("suffix with 20 digits",                        "bytes=-99999999999999999999",                BIG,  1,    "0-9999"),
    R("suffix = 2^64 (would wrap to 0)",              "bytes=-18446744073709551616",                BIG,  1,    "0-9999"),
    R("huge file, last near the end",                 "bytes=9223372036854775800-",                 INT64_MAX, 1, "9223372036854775800-9223372036854775806"),
    R("huge file, suffix",                            "bytes=-7",                                   INT64_MAX, 1, "9223372036854775800-9223372036854775806"),
    R("huge file, clamped last",                      "bytes=0-99999999999999999999",               INT64_MAX, 1, "0-9223372036854775806"),
    /* satisfiability */
    R("first = size",                                 "bytes=10000-",                               BIG,  NONE, NULL),
    R("first = size, with last",                      "bytes=10000-20000",                          BIG,  NONE, NULL),
    R("last clamped to size - 1",                     "bytes=9000-20000",                           BIG,  1,    "9000-9999"),
    R("suffix of 0",                                  "bytes=-0",                                   BIG,  NONE, NULL),
    R("two suffixes of 0",                            "bytes=-0,-0",                                BIG,  NONE, NULL),
    R("suffix 000",                                   "bytes=-000",                                 BIG,  NONE, NULL),
    R("suffix larger than the size",                  "bytes=-20000",                               BIG,  1,    "0-9999"),
    R("suffix equal to the size",                     "bytes=-10000",                               BIG,  1,    "0-9999"),
    R("unsatisfiable range dropped",                  "bytes=0-0,10000-",                           BIG,  1,    "0-0"),
    R("unsatisfiable ranges around a good one",       "bytes=20000-,5-6,-0,10000-10001",            BIG,  1,    "5-6"),
    R("all unsatisfiable",                            "bytes=10000-,20000-30000,-0",                BIG,  NONE, NULL),
    /* sorting and coalescing */
    R("sorted",                                       "bytes=6-9,0-4",                              BIG,  2,    "0-4,6-9"),
    R("overlapping",                                  "bytes=0-5,3-8",                              BIG,  1,    "0-8"),
    R("overlapping, reversed",                        "bytes=3-8,0-5",                              BIG,  1,    "0-8"),
    R("adjacent",                                     "bytes=0-4,5-9",                              BIG,  1,    "0-9"),
    R("adjacent, reversed",                           "bytes=5-9,0-4",                              BIG,  1,    "0-9"),
    R("one byte apart: not adjacent",                 "bytes=0-4,6-9",                              BIG,  2,    "0-4,6-9"),
    R("contained",                                    "bytes=0-100,10-20",                          BIG,  1,    "0-100"),
    R("containing",                                   "bytes=10-20,0-100",                          BIG,  1,    "0-100"),
    R("identical",                                    "bytes=7-9,7-9",                              BIG,  1,    "7-9"),
    R("three singles joined by order",                "bytes=0-0,2-2,1-1",                          BIG,  1,    "0-2"),
    R("one range bridges three",                      "bytes=0-1,4-5,8-9,2-7",                      BIG,  1,    "0-9"),
    R("bridge leaves outliers",                       "bytes=100-200,0-1,4-5,300-400,2-3",          BIG,  3,    "0-5,100-200,300-400"),
    R("0- twice",                                     "bytes=0-,0-",                                BIG,  1,    "0-9999"),
    R("suffix overlaps a range",                      "bytes=100-200,-9900",                        BIG,  1,    "100-9999"),
    R("suffix adjacent to a range",                   "bytes=-10,0-9989",                           BIG,  1,    "0-9999"),
    R("suffix and first- coalesce",                   "bytes=9000-,-500",                           BIG,  1,    "9000-9999"),
    R("clamped ranges coalesce",                      "bytes=9000-99999,9500-999999",               BIG,  1,    "9000-9999"),
    /* size 0: nothing is satisfiable but a suffix, which cannot be sent */
    R("size 0, 0-",                                   "bytes=0-",                                   0,    NONE, NULL),
    R("size 0, 0-0",                                  "bytes=0-0",                                  0,    NONE, NULL),
    R("size 0, suffix: whole (empty) body, 200",      "bytes=-1",                                   0,    0,    NULL),
    R("size 0, suffix 0",                             "bytes=-0",                                   0,    NONE, NULL),
    R("size 0, range and suffix",                     "bytes=0-5,-5",                               0,    0,    NULL),
    R("size 0, syntax error",                         "bytes=5-3",                                  0,    0,    NULL),
    /* size 1 */
    R("size 1, 0-",                                   "bytes=0-",                                   1,    1,    "0-0"),
    R("size 1, 0-0",                                  "bytes=0-0",                                  1,    1,    "0-0"),
    R("size 1, 0-100",                                "bytes=0-100",                                1,    1,    "0-0"),
    R("size 1, suffix 1",                             "bytes=-1",                                   1,    1,    "0-0"),
    R("size 1, suffix 5",                             "bytes=-5",                                   1,    1,    "0-0"),
    R("size 1, 1-",                                   "bytes=1-",                                   1,    NONE, NULL),
    R("size 1, everything at once",                   "bytes=0-0,-1,0-,1-",                         1,    1,    "0-0"),
    /* the cap (max) */
    RM("max 1, one range",                            "bytes=3-4",                                  BIG, 1, 1,  "3-4"),
    RM("max 1, two disjoint",                         "bytes=0-1,3-4",                              BIG, 1, 0,  NULL),
    RM("max 1, two that coalesce",                    "bytes=0-2,3-4",                              BIG, 1, 1,  "0-4"),
    RM("max 1, second unsatisfiable",                 "bytes=0-1,20000-",                           BIG, 1, 1,  "0-1"),
    RM("max 2, three disjoint",                       "bytes=0-0,2-2,4-4",                          BIG, 2, 0,  NULL),
    RM("max 2, three, last joins two",                "bytes=0-0,4-4,1-3",                          BIG, 2, 1,  "0-4"),
    RM("max 2, overflow first, then a join (bounded)", "bytes=0-0,2-2,4-4,0-9",                    BIG, 2, 0,  NULL),
    RM("max 0",                                       "bytes=0-1",                                  BIG, 0, 0,  NULL),
    RM("max negative",                                "bytes=0-1",                                  BIG, -1, 0, NULL),
    R("16 disjoint ranges: at the cap",               "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30", BIG, 16,
      "0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30"),
    R("17 disjoint ranges: over the cap",             "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30,32-32", BIG, 0, NULL),
    R("17 ranges, two of them adjacent",              "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30,31-31", BIG, 16,
      "0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-31"),
    /* negative size is not a representation */
    R("negative size",                                "bytes=0-1",                                  -1,   0,    NULL),
};
/* clang-format on */

/* Writes ranges as "a-b,c-d". */
static void format_ranges(const struct ws_range *r, int n, char *out, size_t size)
{
    size_t w = 0;
    out[0] = '\0';
    for (int i = 0; i < n && w < size; i++)
        w += (size_t)snprintf(out + w, size - w, "%s%lld-%lld", i ? "," : "", (long long)r[i].first,
                              (long long)r[i].last);
}

/* The contract's invariants on any positive result. */
static void check_invariants(const char *desc, int rc, const struct ws_range *r, int64_t size,
                             int max)
{
    check_true(desc, rc == 0 || rc == NONE || (rc > 0 && rc <= max));
    for (int i = 0; i < rc; i++) {
        check_true(desc, r[i].first >= 0 && r[i].first <= r[i].last && r[i].last < size);
        if (i > 0)
            check_true(desc, r[i - 1].last + 1 < r[i].first); /* sorted, apart */
    }
}

static int parse_exact(const char *in, size_t len, int64_t size, struct ws_range *out, int max)
{
    char *copy = exact_copy(in, len);
    int rc = ws_range_parse(copy, len, size, out, max);
    free(copy);
    return rc;
}

/* Runs one case: whole, then every prefix (invariants only). */
static void check_case(const char *desc, const char *in, size_t len, int64_t size, int max,
                       int result, const char *ranges)
{
    struct ws_range out[64];
    char got[4096];
    int rc = parse_exact(in, len, size, out, max);

    check_int(desc, rc, result);
    if (rc > 0) {
        format_ranges(out, rc, got, sizeof(got));
        check_str(desc, got, ranges);
    }
    check_invariants(desc, rc, out, size, max);
    for (size_t k = 0; k < len; k++) {
        rc = parse_exact(in, k, size, out, max);
        check_invariants(desc, rc, out, size, max);
    }
}

static void test_range_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(range_cases); i++) {
        const struct range_case *c = &range_cases[i];
        check_case(c->desc, c->input, c->len, c->size, c->max, c->result, c->ranges);
    }
}

enum list_shape {
    DISJOINT,      /* 0-0,2-2,4-4,... */
    IDENTICAL,     /* 0-0,0-0,... */
    ADJACENT,      /* 0-0,1-1,2-2,... */
    ADJACENT_BACK, /* ...,2-2,1-1,0-0 */
    OVERLAPPING,   /* 0-05,1-15,2-25,...: i to 10i+5 */
    UNSATISFIABLE, /* 10000-,10001-,... */
    EMPTY_THEN_ONE /* ",,,...,5-6" */
};

/* "bytes=" and n elements of the given shape. */
static char *build_list(enum list_shape shape, int n, size_t *len)
{
    size_t cap = 64 + (size_t)n * 48, w;
    char *buf = malloc(cap);

    assert_non_null(buf);
    w = (size_t)snprintf(buf, cap, "bytes=");
    for (int i = 0; i < n; i++) {
        const char *sep = i ? "," : "";
        int k = shape == ADJACENT_BACK ? n - 1 - i : i;
        switch (shape) {
        case DISJOINT: w += (size_t)snprintf(buf + w, cap - w, "%s%d-%d", sep, 2 * k, 2 * k); break;
        case IDENTICAL: w += (size_t)snprintf(buf + w, cap - w, "%s0-0", sep); break;
        case ADJACENT:
        case ADJACENT_BACK: w += (size_t)snprintf(buf + w, cap - w, "%s%d-%d", sep, k, k); break;
        case OVERLAPPING: w += (size_t)snprintf(buf + w, cap - w, "%s%d-%d5", sep, k, k); break;
        case UNSATISFIABLE: w += (size_t)snprintf(buf + w, cap - w, "%s%d-", sep, BIG + k); break;
        case EMPTY_THEN_ONE: w += (size_t)snprintf(buf + w, cap - w, "%s", sep); break;
        }
    }
    if (shape == EMPTY_THEN_ONE)
        w += (size_t)snprintf(buf + w, cap - w, " , 5-6");
    *len = w;
    return buf;
}

static void test_range_many(void **state)
{
    static const struct {
        const char *desc;
        enum list_shape shape;
        int result;
        const char *ranges;
    } cases[] = {
        { "1000 disjoint ranges: over the cap", DISJOINT, 0, NULL },
        { "1000 identical ranges coalesce", IDENTICAL, 1, "0-0" },
        { "1000 adjacent ranges coalesce", ADJACENT, 1, "0-999" },
        { "1000 adjacent ranges, backwards", ADJACENT_BACK, 1, "0-999" },
        { "1000 overlapping ranges coalesce", OVERLAPPING, 1, "0-9995" },
        { "1000 unsatisfiable ranges", UNSATISFIABLE, NONE, NULL },
        { "1000 empty elements, then a range", EMPTY_THEN_ONE, 1, "5-6" },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len;
        char *in = build_list(cases[i].shape, 1000, &len);
        struct ws_range out[MAX];
        char got[256];
        int rc = parse_exact(in, len, BIG, out, MAX);

        check_int(cases[i].desc, rc, cases[i].result);
        if (rc > 0) {
            format_ranges(out, rc, got, sizeof(got));
            check_str(cases[i].desc, got, cases[i].ranges);
        }
        free(in);
    }
}

/*
 * A byte-map model of the contract for small sizes: ranges are marked in a map
 * one by one, and the number of runs after each is what the parser's working
 * set holds. Generated lists are always syntactically valid.
 */
static int model(const int64_t *firsts, const int64_t *lasts, const int *suffix, int n,
                 int64_t size, int max, struct ws_range *out)
{
    unsigned char map[64] = { 0 };
    int runs = 0, empty_suffix = 0;

    for (int i = 0; i < n; i++) {
        int64_t a, b;
        if (suffix[i]) {
            if (lasts[i] == 0)
                continue;
            if (size == 0) {
                empty_suffix = 1;
                continue;
            }
            a = lasts[i] >= size ? 0 : size - lasts[i];
            b = size - 1;
        } else {
            if (firsts[i] >= size)
                continue;
            a = firsts[i];
            b = lasts[i] < 0 || lasts[i] >= size ? size - 1 : lasts[i];
        }
        for (int64_t k = a; k <= b; k++)
            map[k] = 1;
        runs = 0;
        for (int64_t k = 0; k < size; k++) {
            if (map[k] && (k == 0 || !map[k - 1])) {
                if (runs < max)
                    out[runs].first = k;
                runs++;
            }
            if (map[k] && (k + 1 == size || !map[k + 1]) && runs <= max)
                out[runs - 1].last = k;
        }
        if (runs > max)
            return 0;
    }
    if (runs > 0)
        return runs;
    return empty_suffix ? 0 : NONE;
}

static void test_range_random(void **state)
{
    uint64_t seed = 42;

    for (int iter = 0; iter < 20000; iter++) {
        int64_t size = (int64_t)(test_rand(&seed) % 40), firsts[20], lasts[20];
        int n = 1 + (int)(test_rand(&seed) % 20), suffix[20];
        int max = 1 + (int)(test_rand(&seed) % MAX), expected, rc;
        char in[1024], desc[1100];
        size_t w = (size_t)sprintf(in, "%s", test_rand(&seed) % 2 ? "bytes=" : "BYTES=");
        struct ws_range want[MAX], got[MAX];

        for (int i = 0; i < n; i++) {
            int form = (int)(test_rand(&seed) % 3);
            const char *sep = i == 0 ? "" : test_rand(&seed) % 4 ? "," : " ,\t, ";
            firsts[i] = (int64_t)(test_rand(&seed) % 45);
            suffix[i] = form == 2;
            if (form == 0) { /* first-last */
                lasts[i] = firsts[i] + (int64_t)(test_rand(&seed) % 10);
                w += (size_t)sprintf(in + w, "%s%lld-%lld", sep, (long long)firsts[i],
                                     (long long)lasts[i]);
            } else if (form == 1) { /* first- */
                lasts[i] = -1;
                w += (size_t)sprintf(in + w, "%s%lld-", sep, (long long)firsts[i]);
            } else { /* -suffix */
                lasts[i] = (int64_t)(test_rand(&seed) % 45);
                w += (size_t)sprintf(in + w, "%s-%lld", sep, (long long)lasts[i]);
            }
        }
        expected = model(firsts, lasts, suffix, n, size, max, want);
        rc = parse_exact(in, w, size, got, max);
        snprintf(desc, sizeof(desc), "size %lld max %d \"%s\"", (long long)size, max, in);
        check_int(desc, rc, expected);
        for (int i = 0; i < rc && i < expected; i++) {
            check_int(desc, got[i].first, want[i].first);
            check_int(desc, got[i].last, want[i].last);
        }
    }
}

static void test_part_header(void **state)
{
    static const char want[] = "\r\n--B0UND\r\nContent-Type: text/plain; charset=utf-8\r\n"
                               "Content-Range: bytes 0-499/10000\r\n\r\n";
    static const char want_no_type[] =
        "\r\n--B0UND\r\nContent-Range: bytes 9500-9999/10000\r\n\r\n";
    static const char want_big[] =
        "\r\n--x\r\nContent-Type: a/b\r\nContent-Range: bytes "
        "9223372036854775805-9223372036854775806/9223372036854775807\r\n\r\n";
    struct ws_range r = { 0, 499 };
    char *out;
    size_t n;

    /* Exactly its length plus the NUL fits; one byte less does not. */
    out = exact_alloc(LIT_LEN(want) + 1);
    n = ws_range_part_header(out, LIT_LEN(want) + 1, "B0UND", "text/plain; charset=utf-8", r, BIG);
    check_int("part header", n, LIT_LEN(want));
    check_mem("part header", out, n, want);
    check_int("part header NUL", out[n], 0);
    free(out);
    out = exact_alloc(LIT_LEN(want));
    n = ws_range_part_header(out, LIT_LEN(want), "B0UND", "text/plain; charset=utf-8", r, BIG);
    check_int("part header one byte short", n, 0);
    free(out);
    n = ws_range_part_header(NULL, 0, "B0UND", "text/plain", r, BIG);
    check_int("part header into nothing", n, 0);

    r.first = 9500;
    r.last = 9999;
    out = exact_alloc(LIT_LEN(want_no_type) + 1);
    n = ws_range_part_header(out, LIT_LEN(want_no_type) + 1, "B0UND", NULL, r, BIG);
    check_int("part header without a type", n, LIT_LEN(want_no_type));
    check_mem("part header without a type", out, n, want_no_type);
    free(out);

    r.first = INT64_MAX - 2;
    r.last = INT64_MAX - 1;
    out = exact_alloc(LIT_LEN(want_big) + 1);
    n = ws_range_part_header(out, LIT_LEN(want_big) + 1, "x", "a/b", r, INT64_MAX);
    check_int("part header with 19-digit numbers", n, LIT_LEN(want_big));
    check_mem("part header with 19-digit numbers", out, n, want_big);
    free(out);
}

static void test_multipart_end(void **state)
{
    static const char want[] = "\r\n--B0UND--\r\n";
    char *out = exact_alloc(LIT_LEN(want) + 1);
    size_t n = ws_range_multipart_end(out, LIT_LEN(want) + 1, "B0UND");

    check_int("end", n, LIT_LEN(want));
    check_mem("end", out, n, want);
    check_int("end NUL", out[n], 0);
    free(out);
    out = exact_alloc(LIT_LEN(want));
    check_int("end one byte short", ws_range_multipart_end(out, LIT_LEN(want), "B0UND"), 0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_table),   cmocka_unit_test(test_range_many),
        cmocka_unit_test(test_range_random),  cmocka_unit_test(test_part_header),
        cmocka_unit_test(test_multipart_end),
    };
    start_watchdog(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
