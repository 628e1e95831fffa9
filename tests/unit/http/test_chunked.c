/*
 * http/test_chunked.c - the one chunked decoder, in both of its forms: the span
 * form (ws_chunked_next, the client's) and the counting form
 * (ws_chunked_decode, the server's).
 *
 * Every input is copied into a heap block of exactly its size with no
 * terminator (exact_copy), so reading one byte too far is an ASan error. Each
 * table row is checked in one call, followed by the next message, byte at a
 * time and in two pieces at every split point; every way must give the same
 * result, the same data bytes and the same consumption.
 */
#include "test_util.h"

#include "http/chunked.h"

#include <stdio.h>

#define E_SIZE     WS_CHUNKED_ERR_SIZE
#define E_OVERFLOW WS_CHUNKED_ERR_SIZE_OVERFLOW
#define E_DATA     WS_CHUNKED_ERR_DATA
#define E_TRAILER  WS_CHUNKED_ERR_TRAILER

/* A string literal as the (pointer, length) pair of arguments. */
#define LIT_LEN_ARGS(s) (s), LIT_LEN(s)

struct chunk_case {
    const char *desc;
    const char *body;
    size_t len;
    int result;       /* 1 complete, 0 needs more, or a WS_CHUNKED_ERR_* code */
    const char *data; /* the chunk data (complete or so far), when result >= 0 */
    size_t data_len;
};

/* clang-format off */
/* A row that succeeds or needs more: result, then the data decoded so far. */
#define C(d, b, r, n) { d, b, LIT_LEN(b), r, n, LIT_LEN(n) }
/* A row that fails with the given error. */
#define E(d, b, r)    { d, b, LIT_LEN(b), r, NULL, 0 }

static const struct chunk_case chunk_cases[] = {
    C("simple",                              "5\r\nhello\r\n0\r\n\r\n",                          1, "hello"),
    C("multiple chunks",                     "3\r\nabc\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n",      1, "abcdef"),
    C("empty body",                          "0\r\n\r\n",                                        1, ""),
    C("data containing CRLF",                "4\r\n\r\n\r\n\r\n0\r\n\r\n",                       1, "\r\n\r\n"),
    C("data with NUL and high bytes",        "3\r\n\0\xff\n\r\n0\r\n\r\n",                       1, "\0\xff\n"),
    C("extension",                           "5;name=val\r\nhello\r\n0\r\n\r\n",                 1, "hello"),
    C("extension without a value",           "5;x\r\nhello\r\n0\r\n\r\n",                        1, "hello"),
    C("several extensions",                  "5;a=1;b=2\r\nhello\r\n0;c\r\n\r\n",                1, "hello"),
    C("BWS before the extension",            "5 \t;a = 1\r\nhello\r\n0\r\n\r\n",                 1, "hello"),
    C("BWS everywhere in extensions",        "5 ; a = \"q\" ; b ; c=d \r\nhello\r\n0\r\n\r\n",   1, "hello"),
    C("quoted-string extension",             "5;a=\"x;y \\\" z\"\r\nhello\r\n0\r\n\r\n",         1, "hello"),
    C("empty quoted-string extension",       "5;a=\"\"\r\nhello\r\n0\r\n\r\n",                   1, "hello"),
    C("obs-text in a quoted extension",      "5;a=\"\xe9\"\r\nhello\r\n0\r\n\r\n",               1, "hello"),
    C("whitespace after the size",           "5 \t\r\nhello\r\n0 \r\n\r\n",                      1, "hello"),
    C("extension on the last chunk",         "0;end=1\r\n\r\n",                                  1, ""),
    C("trailers",                            "5\r\nhello\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n",        1, "hello"),
    C("trailer with an empty value",         "0\r\nX:\r\n\r\n",                                  1, ""),
    C("trailer value with obs-text",         "0\r\nX: \xe9t\xe9\r\n\r\n",                        1, ""),
    C("bare LF everywhere",                  "5\nhello\n0\n\n",                                  1, "hello"),
    C("bare LF with a trailer",              "1\na\n0\nX: y\n\n",                                1, "a"),
    C("uppercase hex",                       "A\r\n0123456789\r\n0\r\n\r\n",                     1, "0123456789"),
    C("lowercase hex",                       "a\r\n0123456789\r\n0\r\n\r\n",                     1, "0123456789"),
    C("mixed-case multi-digit hex",          "1aB\r\n",                                          0, ""),
    C("leading zeros",                       "0005\r\nhello\r\n0000\r\n\r\n",                    1, "hello"),
    C("sixteen digits of leading zeros",     "0000000000000005\r\nhello\r\n0\r\n\r\n",           1, "hello"),
    C("size of 2^59 - 1, data pending",      "7FFFFFFFFFFFFFF\r\nab",                            0, "ab"),
    C("size UINT64_MAX, the largest",        "ffffffffffffffff\r\nab",                           0, "ab"),
    C("UINT64_MAX after leading zeros",      "0000FFFFFFFFFFFFFFFF\r\nab",                       0, "ab"),
    C("nothing yet",                         "",                                                 0, ""),
    C("size line only",                      "5\r\n",                                            0, ""),
    C("inside the data",                     "5\r\nhel",                                         0, "hel"),
    C("data done, CR pending",               "5\r\nhello\r",                                     0, "hello"),
    C("last chunk without the empty line",   "5\r\nhello\r\n0\r\n",                              0, "hello"),
    C("inside a trailer",                    "0\r\nX: y",                                        0, ""),
    C("final CR pending",                    "0\r\n\r",                                          0, ""),
    E("missing CRLF after the data",         "5\r\nhelloX0\r\n\r\n",                             E_DATA),
    E("data longer than its size",           "5\r\nhello!\r\n0\r\n\r\n",                         E_DATA),
    E("data shorter than its size",          "7\r\nhello\r\n0\r\n\r\n",                          E_DATA),
    E("CR after the data without LF",        "5\r\nhello\rX",                                    E_DATA),
    E("CR after the size without LF",        "5\rX",                                             E_SIZE),
    E("bad hex digit",                       "g\r\n",                                            E_SIZE),
    E("bad hex digit after a good one",      "5g\r\nhello\r\n",                                  E_SIZE),
    E("negative size",                       "-5\r\n",                                           E_SIZE),
    E("plus sign",                           "+5\r\n",                                           E_SIZE),
    E("0x prefix",                           "0x5\r\n",                                          E_SIZE),
    E("empty size",                          "\r\nhello\r\n",                                    E_SIZE),
    E("bare LF as the size line",            "\nhello\r\n",                                      E_SIZE),
    E("whitespace before the size",          " 5\r\nhello\r\n",                                  E_SIZE),
    E("only an extension",                   ";a\r\n",                                           E_SIZE),
    E("junk after the size",                 "5x\r\nhello\r\n",                                  E_SIZE),
    E("second number after whitespace",      "5 6\r\nhello\r\n",                                 E_SIZE),
    E("junk after whitespace",               "5 z\r\nhello\r\n",                                 E_SIZE),
    E("size of 2^64",                        "10000000000000000\r\n",                            E_OVERFLOW),
    E("size of seventeen F",                 "FFFFFFFFFFFFFFFFF\r\n",                            E_OVERFLOW),
    E("UINT64_MAX then one more digit",      "ffffffffffffffff0\r\n",                            E_OVERFLOW),
    E("size overflowing by far",             "123456789abcdef0123456789\r\n",                    E_OVERFLOW),
    E("CR inside an extension",              "5;a\rb\r\nhello\r\n",                              E_SIZE),
    E("NUL inside an extension",             "5;a\0b\r\nhello\r\n",                              E_SIZE),
    E("control byte in an extension value",  "5;a=\x01\r\nhello\r\n",                            E_SIZE),
    E("';' with no extension name",          "5;\r\nhello\r\n",                                  E_SIZE),
    E("extension name missing before '='",   "5;=1\r\nhello\r\n",                                E_SIZE),
    E("extension '=' with no value",         "5;a=\r\nhello\r\n",                                E_SIZE),
    E("two words as an extension name",      "5;a b\r\nhello\r\n",                               E_SIZE),
    E("two words as an extension value",     "5;a=b c\r\nhello\r\n",                             E_SIZE),
    E("separator in an extension name",      "5;a/b\r\nhello\r\n",                               E_SIZE),
    E("separator as an extension value",     "5;a=(b)\r\nhello\r\n",                             E_SIZE),
    E("junk after a quoted value",           "5;a=\"b\"c\r\nhello\r\n",                          E_SIZE),
    E("quoted value not closed",             "5;a=\"b\r\nhello\r\n",                             E_SIZE),
    E("control byte in a quoted-pair",       "5;a=\"\\\x01\"\r\nhello\r\n",                      E_SIZE),
    E("obs-fold in the trailers",            "0\r\nX: a\r\n b\r\n\r\n",                          E_TRAILER),
    E("control byte in a trailer",           "0\r\nX: a\x01\r\n\r\n",                            E_TRAILER),
    E("CR in a trailer without LF",          "0\r\nX: a\rb\r\n\r\n",                             E_TRAILER),
    E("trailer without a colon",             "0\r\nbad\r\n\r\n",                                 E_TRAILER),
    E("trailer with an empty name",          "0\r\n: v\r\n\r\n",                                 E_TRAILER),
    E("space before a trailer colon",        "0\r\nX : 1\r\n\r\n",                               E_TRAILER),
    E("space inside a trailer name",         "0\r\nX Y: 1\r\n\r\n",                              E_TRAILER),
    E("separator in a trailer name",         "0\r\nX(: 1\r\n\r\n",                               E_TRAILER),
    E("obs-text in a trailer name",          "0\r\n\xe9: 1\r\n\r\n",                             E_TRAILER),
    E("final CR without LF",                 "0\r\n\rX",                                         E_TRAILER),
};
/* clang-format on */

/* The counting form's answer for a span-form result. */
static int server_result(int result)
{
    return result < 0 ? -400 : result;
}

/* Output of one span-form run. */
struct span_run {
    int rc;
    size_t consumed;
    char data[64];
    size_t data_len;
};

/*
 * Feeds piece[0..len) with ws_chunked_next until it is used up, the body is
 * complete or an error comes, appending the data spans to *out.
 */
static int feed_spans(const char *desc, struct ws_chunked *st, const char *piece, size_t len,
                      struct span_run *out)
{
    size_t off = 0;
    int rc;

    for (;;) {
        struct ws_view d;
        size_t used = 99999;
        rc = ws_chunked_next(st, piece + off, len - off, &used, &d);
        check_true(desc, used <= len - off);
        check_true(desc,
                   d.len <= used && d.ptr >= piece + off && d.ptr + d.len <= piece + off + used);
        check_true(desc, out->data_len + d.len <= sizeof(out->data));
        memcpy(out->data + out->data_len, d.ptr, d.len);
        out->data_len += d.len;
        off += used;
        out->consumed += used;
        if (rc != 0 || off == len)
            return rc;
        check_true(desc, used > 0); /* a call that returns 0 always makes progress */
    }
}

/* Feeds body[0..len) cut at `cut` (0: whole) and at every byte when cut == SIZE_MAX. */
static struct span_run run_spans(const char *desc, const char *body, size_t len, size_t cut)
{
    struct span_run out = { 0 };
    struct ws_chunked st;
    size_t start = 0;

    ws_chunked_init(&st);
    while (start < len || (start == 0 && len == 0)) {
        size_t n = len == 0 ? 0 : cut == SIZE_MAX ? 1 : (start == 0 && cut > 0 ? cut : len - start);
        char *copy = exact_copy(body + start, n);
        out.rc = feed_spans(desc, &st, copy, n, &out);
        free(copy);
        start += n;
        if (out.rc != 0 || n == 0)
            break;
    }
    return out;
}

static void check_span_run(const char *desc, const struct chunk_case *c, const struct span_run *r)
{
    check_int(desc, r->rc, c->result);
    if (c->result >= 0) {
        check_int(desc, r->consumed, c->len);
        check_int(desc, r->data_len, c->data_len);
        check_true(desc, memcmp(r->data, c->data, c->data_len) == 0);
    }
}

/* Span form: whole, byte at a time and in two pieces give the same answer. */
static void test_spans_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(chunk_cases); i++) {
        const struct chunk_case *c = &chunk_cases[i];
        struct span_run whole = run_spans(c->desc, c->body, c->len, 0);
        struct span_run bytes = run_spans(c->desc, c->body, c->len, SIZE_MAX);

        check_span_run(c->desc, c, &whole);
        check_span_run(c->desc, c, &bytes);
        check_int(c->desc, bytes.consumed, whole.consumed); /* errors stop at the same byte */
        for (size_t k = 1; k < c->len; k++) {
            struct span_run two = run_spans(c->desc, c->body, c->len, k);
            check_span_run(c->desc, c, &two);
            check_int(c->desc, two.consumed, whole.consumed);
        }
    }
}

/* Once done, the decoder stops at the body's end and takes nothing more. */
static void test_spans_stop_at_end(void **state)
{
    static const char wire[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    struct ws_chunked st;
    struct ws_view d;
    size_t used;

    ws_chunked_init(&st);
    assert_int_equal(ws_chunked_next(&st, wire, LIT_LEN(wire), &used, &d), 0);
    assert_int_equal(used, 6);
    assert_int_equal(d.len, 3);
    assert_ptr_equal(d.ptr, wire + 3);
    assert_false(ws_chunked_done(&st));
    assert_int_equal(ws_chunked_next(&st, wire + 6, LIT_LEN(wire) - 6, &used, &d), 1);
    assert_int_equal(used, 7);
    assert_int_equal(d.len, 0);
    assert_true(ws_chunked_done(&st));
    assert_int_equal(ws_chunked_next(&st, wire + 13, LIT_LEN(wire) - 13, &used, &d), 1);
    assert_int_equal(used, 0);
}

/*
 * Counting form: in one call, followed by further bytes, byte at a time and in
 * two pieces at every split point, each from exactly-sized blocks.
 */
static void check_chunked_all_ways(const char *desc, const char *body, size_t len, int result,
                                   uint64_t data)
{
    static const char more[] = "GET / HTTP/1.1\r\n";
    struct ws_chunked st;
    uint64_t got;
    size_t used, total, k;
    char *copy;
    int rc;

    /* In one call. */
    ws_chunked_init(&st);
    got = 0;
    copy = exact_copy(body, len);
    rc = ws_chunked_decode(&st, copy, len, &used, &got);
    free(copy);
    check_int(desc, rc, result);
    if (rc >= 0) {
        check_int(desc, used, len);
        check_int(desc, got, data);
    }

    /* Followed by the next request: consumption stops at the end of the body. */
    if (result == 1) {
        char *both = malloc(len + LIT_LEN(more));
        assert_non_null(both);
        memcpy(both, body, len);
        memcpy(both + len, more, LIT_LEN(more));
        ws_chunked_init(&st);
        got = 0;
        rc = ws_chunked_decode(&st, both, len + LIT_LEN(more), &used, &got);
        free(both);
        check_int(desc, rc, 1);
        check_int(desc, used, len);
        check_int(desc, got, data);
    }

    /* Byte at a time, the next request's bytes after the body. */
    ws_chunked_init(&st);
    got = 0;
    total = 0;
    rc = 0;
    for (k = 0; k < len + LIT_LEN(more) && rc == 0; k++) {
        char b = k < len ? body[k] : more[k - len];
        if (k >= len && result != 1)
            break;
        copy = exact_copy(&b, 1);
        used = 99;
        rc = ws_chunked_decode(&st, copy, 1, &used, &got);
        free(copy);
        if (rc >= 0) {
            check_int(desc, used, 1);
            total += used;
        }
    }
    check_int(desc, rc, result);
    if (result >= 0) {
        check_int(desc, total, len);
        check_int(desc, got, data);
    }
    if (result == 1) {
        /* Once done, the decoder takes nothing more. */
        rc = ws_chunked_decode(&st, more, LIT_LEN(more), &used, &got);
        check_int(desc, rc, 1);
        check_int(desc, used, 0);
    }

    /* Two pieces. */
    for (k = 1; k < len; k++) {
        ws_chunked_init(&st);
        got = 0;
        copy = exact_copy(body, k);
        rc = ws_chunked_decode(&st, copy, k, &used, &got);
        free(copy);
        if (rc != 0) {
            check_int(desc, rc, result); /* an early error, or done early: impossible */
            check_true(desc, rc < 0);
            continue;
        }
        check_int(desc, used, k);
        copy = exact_copy(body + k, len - k);
        rc = ws_chunked_decode(&st, copy, len - k, &used, &got);
        free(copy);
        check_int(desc, rc, result);
        if (rc >= 0) {
            check_int(desc, used, len - k);
            check_int(desc, got, data);
        }
    }
}

static void test_counting_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(chunk_cases); i++) {
        const struct chunk_case *c = &chunk_cases[i];
        check_chunked_all_ways(c->desc, c->body, c->len, server_result(c->result), c->data_len);
    }
}
/* Generated bodies: long runs of leading zeros and the extension/trailer budget. */
enum chunk_shape {
    ZEROS_LAST,  /* n zeros as the last-chunk size */
    ZEROS_FIVE,  /* n zeros then "5" as a chunk size */
    EXT_BYTES,   /* "1;" then n extension bytes */
    TRAILER,     /* one trailer field line "t:vvv..." of n bytes */
    EXT_TRAILER, /* n extension bytes on the first chunk and an n-byte trailer line */
    SIZE_WS,     /* "1" then n bytes of whitespace */
};

struct chunk_gen_case {
    const char *desc;
    enum chunk_shape shape;
    size_t n;
    int result;
    uint64_t data;
};

/* clang-format off */
static const struct chunk_gen_case chunk_gen_cases[] = {
    { "255 zeros as the last chunk",        ZEROS_LAST,  255,                    1, 0 },
    { "256 zeros as the last chunk",        ZEROS_LAST,  256,                    1, 0 },
    { "512 zeros as the last chunk",        ZEROS_LAST,  512,                    1, 0 },
    { "255 zeros then 5",                   ZEROS_FIVE,  255,                    1, 5 },
    { "1000 zeros then 5",                  ZEROS_FIVE,  1000,                   1, 5 },
    { "extensions at the budget",           EXT_BYTES,   WS_CHUNKED_MAX_META,     1, 1 },
    { "extensions over the budget",         EXT_BYTES,   WS_CHUNKED_MAX_META + 1, -400, 0 },
    { "trailer at the budget",              TRAILER,     WS_CHUNKED_MAX_META,     1, 0 },
    { "trailer over the budget",            TRAILER,     WS_CHUNKED_MAX_META + 1, -400, 0 },
    { "whitespace after a size at the budget",  SIZE_WS,  WS_CHUNKED_MAX_META,     1, 1 },
    { "whitespace after a size over the budget", SIZE_WS, WS_CHUNKED_MAX_META + 1, -400, 0 },
    { "extensions and trailer share it",    EXT_TRAILER, WS_CHUNKED_MAX_META / 2, 1, 1 },
    { "extensions and trailer exceed it",   EXT_TRAILER, WS_CHUNKED_MAX_META / 2 + 1, -400, 0 },
};
/* clang-format on */

static void put(char *buf, size_t *w, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf + *w, s, n);
    *w += n;
}

/* Appends the field line "t:vvv...v" of n (>= 2) bytes and its CRLF. */
static void put_trailer_line(char *buf, size_t *w, size_t n)
{
    put(buf, w, "t:");
    memset(buf + *w, 'v', n - 2);
    *w += n - 2;
    put(buf, w, "\r\n");
}

static size_t build_chunk_body(const struct chunk_gen_case *c, char *buf)
{
    size_t w = 0;

    switch (c->shape) {
    case ZEROS_LAST:
        memset(buf, '0', c->n);
        w = c->n;
        put(buf, &w, "\r\n\r\n");
        break;
    case ZEROS_FIVE:
        memset(buf, '0', c->n);
        w = c->n;
        put(buf, &w, "5\r\nhello\r\n0\r\n\r\n");
        break;
    case EXT_BYTES:
    case EXT_TRAILER:
        put(buf, &w, "1;");
        memset(buf + w, 'e', c->n);
        w += c->n;
        put(buf, &w, "\r\na\r\n0\r\n");
        if (c->shape == EXT_TRAILER)
            put_trailer_line(buf, &w, c->n);
        put(buf, &w, "\r\n");
        break;
    case SIZE_WS:
        put(buf, &w, "1");
        memset(buf + w, ' ', c->n);
        w += c->n;
        put(buf, &w, "\r\na\r\n0\r\n\r\n");
        break;
    case TRAILER:
        put(buf, &w, "0\r\n");
        put_trailer_line(buf, &w, c->n);
        put(buf, &w, "\r\n");
        break;
    }
    return w;
}

static void test_chunked_generated(void **state)
{
    static char buf[2 * WS_CHUNKED_MAX_META + 64];

    for (size_t i = 0; i < ARRAY_LEN(chunk_gen_cases); i++) {
        const struct chunk_gen_case *c = &chunk_gen_cases[i];
        size_t len = build_chunk_body(c, buf);
        struct ws_chunked st;
        uint64_t got = 0;
        size_t used = 0;
        int rc;

        /* The split-point sweep is quadratic; one call and byte-at-a-time suffice here. */
        ws_chunked_init(&st);
        char *copy = exact_copy(buf, len);
        rc = ws_chunked_decode(&st, copy, len, &used, &got);
        free(copy);
        check_int(c->desc, rc, c->result);
        if (rc == 1) {
            check_int(c->desc, used, len);
            check_int(c->desc, got, c->data);
        }

        ws_chunked_init(&st);
        got = 0;
        rc = 0;
        for (size_t k = 0; k < len && rc == 0; k++)
            rc = ws_chunked_decode(&st, buf + k, 1, &used, &got);
        check_int(c->desc, rc, c->result);
        if (rc == 1)
            check_int(c->desc, got, c->data);
    }
}

/* Chunk data is counted, not stored: a chunk over 4 GiB goes through in slices. */
static void test_chunked_large_chunk(void **state)
{
    static char slice[65536];
    struct ws_chunked st;
    uint64_t got = 0;
    size_t used;
    int rc;

    ws_chunked_init(&st);
    rc = ws_chunked_decode(&st, "100000001\r\n", 11, &used, &got);
    assert_int_equal(rc, 0);
    assert_int_equal(used, 11);
    for (unsigned i = 0; i < 65536; i++) {
        rc = ws_chunked_decode(&st, slice, sizeof(slice), &used, &got);
        assert_int_equal(rc, 0);
        assert_int_equal(used, sizeof(slice));
    }
    assert_true(got == 0x100000000ULL);
    rc = ws_chunked_decode(&st, "x\r\n0\r\n\r\nGET", 11, &used, &got);
    assert_int_equal(rc, 1);
    assert_int_equal(used, 8);
    assert_true(got == 0x100000001ULL);
}

/* A decoder with the given limits run over body[0..len), whole and byte at a time. */
static int run_limited(const struct ws_chunked_limits *lim, const char *body, size_t len)
{
    struct ws_chunked st;
    struct ws_view d;
    size_t used = 0, off = 0;
    int whole, rc = 0;
    char *copy = exact_copy(body, len);

    ws_chunked_init_limits(&st, lim);
    do {
        whole = ws_chunked_next(&st, copy + off, len - off, &used, &d);
        off += used;
    } while (whole == 0 && off < len);
    ws_chunked_init_limits(&st, lim);
    for (size_t k = 0; k < len && rc == 0; k++)
        rc = ws_chunked_next(&st, copy + k, 1, &used, &d);
    free(copy);
    assert_int_equal(rc, whole);
    return whole;
}

/* The size-line and trailer-section caps the client uses, at and over their boundary. */
static void test_size_line_and_trailer_caps(void **state)
{
    static const struct ws_chunked_limits lim = { .max_size_line = 10, .max_trailer = 12 };

    /* A size line of exactly 10 bytes, digits through LF, then one of 11. */
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("1;abcdef\r\nx\r\n0\r\n\r\n")), 1);
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("1;abcdefg\r\nx\r\n0\r\n\r\n")),
                     WS_CHUNKED_ERR_LINE_TOO_LONG);
    /* Leading zeros count too: they cannot stretch a line for ever. */
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("00000001\r\nx\r\n0\r\n\r\n")), 1);
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("000000001\r\nx\r\n0\r\n\r\n")),
                     WS_CHUNKED_ERR_LINE_TOO_LONG);
    /* The cap is per line: many lines of 10 bytes each pass. */
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("1;abcdef\r\nx\r\n1;abcdef\r\ny\r\n0\r\n\r\n")),
                     1);
    /* A trailer section of exactly 12 bytes, line ends included, then one of 13. */
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("0\r\nA: 1\r\nB:\r\n\r\n")), 1);
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("0\r\nA: 1\r\nB:2\r\n\r\n")),
                     WS_CHUNKED_ERR_TRAILER_TOO_LARGE);
    /* The meta budget is off here: long extensions over many lines pass. */
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("1;abcdef\r\nx\r\n1;abcdef\r\nx\r\n"
                                                    "1;abcdef\r\nx\r\n0\r\n\r\n")),
                     1);
}

/* The meta budget with a small cap: extensions and trailer bytes add up over the body. */
static void test_meta_budget(void **state)
{
    static const struct ws_chunked_limits lim = { .max_meta = 8 };

    /* "a=12" (4) + "b=34" (4): 8 bytes of extensions, the ';' after each size not counted. */
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("1;a=12\r\nx\r\n1;b=34\r\ny\r\n0\r\n\r\n")), 1);
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("1;a=12\r\nx\r\n1;b=345\r\ny\r\n0\r\n\r\n")),
                     WS_CHUNKED_ERR_META_TOO_LARGE);
    /* "a=1" (3) + "T: 12" (5), line ends not counted. */
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("1;a=1\r\nx\r\n0\r\nT: 12\r\n\r\n")), 1);
    assert_int_equal(run_limited(&lim, LIT_LEN_ARGS("1;a=1\r\nx\r\n0\r\nT: 123\r\n\r\n")),
                     WS_CHUNKED_ERR_META_TOO_LARGE);
}

/* The counting form answers -400 for every kind of error, and counts data it discards. */
static void test_counting_maps_errors(void **state)
{
    static const char *const bad[] = { "g\r\n", "10000000000000000\r\n", "1\r\nxy",
                                       "0\r\nbad\r\n\r\n" };
    struct ws_chunked st;
    uint64_t got = 7;
    size_t used;

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        ws_chunked_init(&st);
        assert_int_equal(ws_chunked_decode(&st, bad[i], strlen(bad[i]), &used, &got), -400);
    }
    got = 7;
    ws_chunked_init(&st);
    assert_int_equal(ws_chunked_decode(&st, "2\r\nab\r\n1\r\nc\r\n", 13, &used, &got), 0);
    assert_int_equal(used, 13);
    assert_int_equal(got, 10); /* added to, not overwritten */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans_table),
        cmocka_unit_test(test_spans_stop_at_end),
        cmocka_unit_test(test_counting_table),
        cmocka_unit_test(test_chunked_generated),
        cmocka_unit_test(test_chunked_large_chunk),
        cmocka_unit_test(test_size_line_and_trailer_caps),
        cmocka_unit_test(test_meta_budget),
        cmocka_unit_test(test_counting_maps_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
