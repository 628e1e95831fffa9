/*
 * http/test_plan.c - the response plan: routing, preconditions x ranges x methods x
 * encodings, error and redirect pages, and the connection policy.
 *
 * Every request is raw request text parsed by ws_http_parse_request from an
 * exactly-sized copy, so the plan sees what the server sees and ASan catches a
 * read past any view. The resource is built by hand: by default a 1000-byte
 * text/html file last modified at MTIME (Sun, 06 Nov 1994 08:49:37 GMT) plus
 * NSEC nanoseconds. No sockets, no files, no clock.
 */
#include "test_util.h"

#include "http/plan.h"

#include <inttypes.h>
#include <stdio.h>

#define DATE      "Mon, 01 Jan 2024 00:00:00 GMT"
#define MTIME     784111777
#define NSEC      123456789L
#define SIZE      1000
#define HTML      "text/html; charset=utf-8"
#define D_EQ      "Sun, 06 Nov 1994 08:49:37 GMT"
#define D_BEFORE  "Sun, 06 Nov 1994 08:49:36 GMT"
#define D_AFTER   "Sun, 06 Nov 1994 08:49:38 GMT"
#define MAX_BODY  100
#define ALLOWED   "GET, HEAD, OPTIONS"
#define LISTING   "<!DOCTYPE html><title>Index of /</title>\n"
#define BOUNDARY0 7

/* A request for the file with extra field lines (each ending in CRLF). */
#define GET(fields)   "GET /index.html HTTP/1.1\r\nHost: h\r\n" fields "\r\n"
#define HEAD(fields)  "HEAD /index.html HTTP/1.1\r\nHost: h\r\n" fields "\r\n"
#define GET10(fields) "GET /index.html HTTP/1.0\r\n" fields "\r\n"

/* One request and its answer; the plan's views point into raw and res. */
struct exchange {
    char *raw;
    struct ws_request req;
    struct ws_resource res;
    struct ws_plan_env env;
    uint64_t boundary_state;
    struct ws_plan plan;
};

static int setup(void **state)
{
    struct exchange *x = calloc(1, sizeof(*x));

    if (x == NULL)
        return -1;
    x->res = (struct ws_resource){ .status = 200,
                                   .size = SIZE,
                                   .mtime_sec = MTIME,
                                   .mtime_nsec = NSEC,
                                   .content_type = HTML,
                                   .name = "/index.html",
                                   .name_len = LIT_LEN("/index.html") };
    x->boundary_state = BOUNDARY0;
    x->env = (struct ws_plan_env){ .cache_mode = WS_CACHE_AUTO,
                                   .cache_max_age = 60,
                                   .max_body = MAX_BODY,
                                   .date = DATE,
                                   .boundary_state = &x->boundary_state };
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct exchange *x = *state;

    free(x->raw);
    free(x);
    return 0;
}

/* Parses text, which must be one whole header section, into x->req. */
static const struct ws_request *parse(struct exchange *x, const char *text)
{
    static const struct ws_parse_limits limits = { 8192, 16384, 100 };
    size_t len = strlen(text);

    free(x->raw);
    x->raw = exact_copy(text, len);
    assert_int_equal(ws_http_parse_request(x->raw, len, 0, &limits, &x->req), (int)len);
    return &x->req;
}

/* Parses text, routes it and plans the answer to it as the server does. */
static const struct ws_plan *answer_last(struct exchange *x, const char *text, int last_request)
{
    int status = ws_plan_route(parse(x, text), &x->env);

    ws_plan_make(&x->plan, &x->req, status, &x->res, &x->env, last_request);
    return &x->plan;
}

static const struct ws_plan *answer(struct exchange *x, const char *text)
{
    return answer_last(x, text, 0);
}

/* The status ws_plan_route gives text. */
static int route(struct exchange *x, const char *text)
{
    return ws_plan_route(parse(x, text), &x->env);
}

/* A field of the head: NULL when absent, else equal to expected. */
static void field_is(const char *actual, const char *expected)
{
    if (expected == NULL) {
        assert_null(actual);
    } else {
        assert_non_null(actual);
        assert_string_equal(actual, expected);
    }
}

/* The ETag of the default file, as ws_etag_format writes it. */
static const char *file_etag(char *buf)
{
    ws_etag_format(SIZE, MTIME, NSEC, buf);
    return buf;
}

/* The built-in page for status (and location) was planned as the body, whole. */
static void is_page(const struct ws_plan *p, int status, const char *location)
{
    char want[WS_PLAN_PAGE_MAX];
    size_t n = ws_error_page(status, location, want, sizeof(want));

    assert_int_equal(p->status, status);
    assert_int_equal(p->head.status, status);
    assert_int_equal(p->body, WS_BODY_MEM);
    field_is(p->head.content_type, HTML);
    assert_true(n > 0);
    assert_int_equal(p->mem_len, n);
    assert_memory_equal(p->mem, want, n);
    assert_int_equal(p->head.content_length, (int64_t)n);
    assert_null(p->head.etag);
    assert_null(p->head.last_modified);
    assert_null(p->head.cache_control);
    assert_null(p->head.content_encoding);
    assert_int_equal(p->head.accept_ranges, 0);
}

/* A 200 for the whole default file. */
static void is_whole_file(const struct ws_plan *p)
{
    assert_int_equal(p->status, 200);
    assert_int_equal(p->head.status, 200);
    assert_int_equal(p->body, WS_BODY_FILE);
    assert_int_equal(p->offset, 0);
    assert_int_equal(p->length, SIZE);
    assert_int_equal(p->n_ranges, 0);
    assert_int_equal(p->head.content_length, SIZE);
    assert_null(p->head.content_range);
}

/* A 206 for bytes first..last of the default file, in one part. */
static void is_one_range(const struct ws_plan *p, int64_t first, int64_t last)
{
    char want[80];

    snprintf(want, sizeof(want), "bytes %" PRId64 "-%" PRId64 "/%d", first, last, SIZE);
    assert_int_equal(p->status, 206);
    assert_int_equal(p->body, WS_BODY_FILE);
    assert_int_equal(p->n_ranges, 0);
    assert_int_equal(p->offset, first);
    assert_int_equal(p->length, last - first + 1);
    assert_int_equal(p->head.content_length, last - first + 1);
    field_is(p->head.content_range, want);
    field_is(p->head.content_type, HTML);
    assert_int_equal(p->send_body, 1);
}

/* A 304 for the default file: validators and caching fields, no content. */
static void is_not_modified(const struct ws_plan *p)
{
    char etag[WS_ETAG_MAX];

    assert_int_equal(p->status, 304);
    assert_int_equal(p->head.status, 304);
    assert_int_equal(p->body, WS_BODY_NONE);
    assert_int_equal(p->head.content_length, -1);
    assert_int_equal(p->send_body, 0);
    field_is(p->head.etag, file_etag(etag));
    field_is(p->head.last_modified, D_EQ);
    field_is(p->head.cache_control, "no-cache");
    assert_null(p->head.content_type);
    assert_null(p->head.content_encoding);
    assert_null(p->head.content_range);
    assert_int_equal(p->operator_page, 0);
}

/* ---- routing ---- */

/* An Expect other than 100-continue cannot be met: 417. */
static void test_route_expect_other(void **state)
{
    assert_int_equal(route(*state, GET("Expect: something-else\r\n")), 417);
}

/* A method token we do not know: 501. */
static void test_route_unknown_method(void **state)
{
    assert_int_equal(route(*state, "BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n"), 501);
}

/* OPTIONS is answered without the path, for a path and for "*". */
static void test_route_options(void **state)
{
    assert_int_equal(route(*state, "OPTIONS /index.html HTTP/1.1\r\nHost: h\r\n\r\n"), 200);
    assert_int_equal(route(*state, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), 200);
}

/* Methods we know but do not allow: 405. */
static void test_route_not_allowed(void **state)
{
    assert_int_equal(route(*state, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n"), 405);
    assert_int_equal(route(*state, "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n"), 405);
    assert_int_equal(route(*state, "DELETE / HTTP/1.1\r\nHost: h\r\n\r\n"), 405);
}

/* The parser accepts "GET *"; the plan answers it with 400. */
static void test_route_get_asterisk(void **state)
{
    assert_int_equal(route(*state, "GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(route(*state, "HEAD * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

/* A Content-Length above max_body is 413; exactly max_body is not. */
static void test_route_body_too_large(void **state)
{
    assert_int_equal(route(*state, GET("Content-Length: 101\r\n")), 413);
    assert_int_equal(route(*state, GET("Content-Length: 100\r\n")), 0);
}

/* A plain GET or HEAD (origin- or absolute-form) must be resolved: 0. */
static void test_route_resolve(void **state)
{
    assert_int_equal(route(*state, GET("")), 0);
    assert_int_equal(route(*state, HEAD("")), 0);
    assert_int_equal(route(*state, "GET http://h/index.html HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
}

/* Only a GET with a Range may be cut out of the file. */
static void test_may_range(void **state)
{
    assert_int_equal(ws_plan_may_range(parse(*state, GET("Range: bytes=0-9\r\n"))), 1);
    assert_int_equal(ws_plan_may_range(parse(*state, HEAD("Range: bytes=0-9\r\n"))), 0);
    assert_int_equal(ws_plan_may_range(parse(*state, GET(""))), 0);
}

/* ---- a file: methods, caching, encodings ---- */

/* GET of a file: 200, validators, type, caching, the whole file as body. */
static void test_file_get(void **state)
{
    const struct ws_plan *p = answer(*state, GET(""));
    char etag[WS_ETAG_MAX];

    is_whole_file(p);
    field_is(p->head.etag, file_etag(etag));
    assert_int_equal(etag[0], '"');
    field_is(p->head.last_modified, D_EQ);
    field_is(p->head.content_type, HTML);
    field_is(p->head.cache_control, "no-cache");
    field_is(p->head.date, DATE);
    assert_null(p->head.content_encoding);
    assert_null(p->head.location);
    assert_null(p->head.allow);
    assert_int_equal(p->head.accept_ranges, 1);
    assert_int_equal(p->head.vary_accept_encoding, 0);
    assert_int_equal(p->send_body, 1);
    assert_int_equal(p->operator_page, 0);
}

/* HEAD of a file: the fields and length of the GET, no body sent. */
static void test_file_head(void **state)
{
    const struct ws_plan *p = answer(*state, HEAD(""));
    char etag[WS_ETAG_MAX];

    is_whole_file(p);
    field_is(p->head.etag, file_etag(etag));
    field_is(p->head.last_modified, D_EQ);
    field_is(p->head.content_type, HTML);
    field_is(p->head.cache_control, "no-cache");
    assert_int_equal(p->head.accept_ranges, 1);
    assert_int_equal(p->send_body, 0);
}

/* A gzip sibling: Content-Encoding passes through, with Vary. */
static void test_file_gzip(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    x->res.content_encoding = "gzip";
    x->res.vary = 1;
    p = answer(x, GET("Accept-Encoding: gzip\r\n"));
    is_whole_file(p);
    field_is(p->head.content_encoding, "gzip");
    assert_int_equal(p->head.vary_accept_encoding, 1);
}

/* A br sibling on HEAD: the same fields. */
static void test_file_br_head(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    x->res.content_encoding = "br";
    x->res.vary = 1;
    p = answer(x, HEAD("Accept-Encoding: br\r\n"));
    is_whole_file(p);
    field_is(p->head.content_encoding, "br");
    assert_int_equal(p->head.vary_accept_encoding, 1);
    assert_int_equal(p->send_body, 0);
}

/* Compressed on the fly: the resource's size is the body's; the ETag is the file's plus "-gz". */
static void coded_on_the_fly(struct exchange *x, const char *coding, const char *tag)
{
    x->res.content_encoding = coding;
    x->res.coded_tag = tag;
    x->res.identity_size = SIZE;
    x->res.size = 321;
    x->res.vary = 1;
}

static void test_file_coded_on_the_fly(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;
    char etag[WS_ETAG_MAX], want[WS_ETAG_MAX + 8];

    coded_on_the_fly(x, "gzip", "gz");
    p = answer(x, GET("Accept-Encoding: gzip\r\n"));
    snprintf(want, sizeof(want), "%.*s-gz\"", (int)strlen(file_etag(etag)) - 1, etag);
    assert_int_equal(p->status, 200);
    assert_int_equal(p->body, WS_BODY_FILE);
    assert_int_equal(p->offset, 0);
    assert_int_equal(p->length, 321);
    assert_int_equal(p->head.content_length, 321);
    field_is(p->head.content_encoding, "gzip");
    field_is(p->head.etag, want);
    field_is(p->head.last_modified, D_EQ);
    assert_int_equal(p->head.vary_accept_encoding, 1);
    assert_int_equal(p->head.accept_ranges, 0); /* no ranges of a coding made on the fly */
    assert_int_equal(p->send_body, 1);

    /* HEAD: the same fields, no body. */
    p = answer(x, HEAD("Accept-Encoding: gzip\r\n"));
    assert_int_equal(p->head.content_length, 321);
    field_is(p->head.etag, want);
    assert_int_equal(p->send_body, 0);

    /* Its own tag gives 304; the file's does not, nor does another coding's. */
    p = answer(x, GET("Accept-Encoding: gzip\r\nIf-None-Match: \"x-gz\", \"x\"\r\n"));
    assert_int_equal(p->status, 200);
    x->res.coded_tag = "zst";
    snprintf(want, sizeof(want), "%.*s-zst\"", (int)strlen(etag) - 1, etag);
    {
        char text[256];
        snprintf(text, sizeof(text), GET("If-None-Match: %s\r\n"), want);
        p = answer(x, text);
        assert_int_equal(p->status, 304);
        field_is(p->head.etag, want);
        assert_int_equal(p->head.vary_accept_encoding, 1);
        snprintf(text, sizeof(text), GET("If-None-Match: %s\r\n"), etag);
        p = answer(x, text);
        assert_int_equal(p->status, 200);
    }
}

/* A Range on a coding made on the fly is ignored (the runtime never makes one for it). */
static void test_file_coded_no_range(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    coded_on_the_fly(x, "zstd", "zst");
    p = answer(x, GET("Range: bytes=0-9\r\n"));
    assert_int_equal(p->status, 200);
    assert_int_equal(p->length, 321);
    assert_null(p->head.content_range);
    assert_int_equal(p->head.accept_ranges, 0);
}

/* Identity chosen among codings: no Content-Encoding, but still Vary. */
static void test_file_identity_vary(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    x->res.vary = 1;
    p = answer(x, GET(""));
    is_whole_file(p);
    assert_null(p->head.content_encoding);
    assert_int_equal(p->head.vary_accept_encoding, 1);
}

/* Cache-Control auto: a fingerprinted script is immutable. */
static void test_cache_auto_fingerprinted(void **state)
{
    struct exchange *x = *state;

    x->res.content_type = "text/javascript";
    x->res.name = "/app.3f9a2c1e.js";
    x->res.name_len = strlen(x->res.name);
    field_is(answer(x, GET(""))->head.cache_control, "public, max-age=31536000, immutable");
}

/* Cache-Control auto: anything else gets a short max-age. */
static void test_cache_auto_other(void **state)
{
    struct exchange *x = *state;

    x->res.content_type = "image/png";
    x->res.name = "/logo.png";
    x->res.name_len = strlen(x->res.name);
    field_is(answer(x, GET(""))->head.cache_control, "public, max-age=600");
}

/* Cache-Control fixed: max-age from the environment, HTML included. */
static void test_cache_fixed(void **state)
{
    struct exchange *x = *state;

    x->env.cache_mode = WS_CACHE_FIXED;
    field_is(answer(x, GET(""))->head.cache_control, "public, max-age=60");
}

/* Cache-Control off: no field. */
static void test_cache_off(void **state)
{
    struct exchange *x = *state;

    x->env.cache_mode = WS_CACHE_OFF;
    assert_null(answer(x, GET(""))->head.cache_control);
}

/* ---- preconditions (RFC 9110 §13.2.2) ---- */

/* If-None-Match with our tag: 304 with the validators, no content. */
static void test_inm_match(void **state)
{
    char etag[WS_ETAG_MAX], text[256];

    snprintf(text, sizeof(text), GET("If-None-Match: %s\r\n"), file_etag(etag));
    is_not_modified(answer(*state, text));
}

/* If-None-Match compares weakly: W/ of our tag matches too. */
static void test_inm_weak_match(void **state)
{
    char etag[WS_ETAG_MAX], text[256];

    snprintf(text, sizeof(text), GET("If-None-Match: \"x\", W/%s\r\n"), file_etag(etag));
    is_not_modified(answer(*state, text));
}

/* If-None-Match: * matches any current file. */
static void test_inm_star(void **state)
{
    is_not_modified(answer(*state, GET("If-None-Match: *\r\n")));
}

/* If-None-Match on HEAD: 304 as well. */
static void test_inm_head(void **state)
{
    is_not_modified(answer(*state, HEAD("If-None-Match: *\r\n")));
}

/* If-None-Match with another tag: the file. */
static void test_inm_other(void **state)
{
    is_whole_file(answer(*state, GET("If-None-Match: \"other\"\r\n")));
}

/* A 304 keeps Vary and Cache-Control (RFC 9110 §15.4.5) but not Content-Encoding. */
static void test_inm_keeps_vary(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;
    char etag[WS_ETAG_MAX];

    x->res.content_encoding = "gzip";
    x->res.vary = 1;
    p = answer(x, GET("If-None-Match: *\r\n"));
    assert_int_equal(p->status, 304);
    assert_int_equal(p->head.vary_accept_encoding, 1);
    /* A sibling's tag names its coding: two siblings may share a size and a time. */
    ws_etag_add_coding(etag, strlen(file_etag(etag)), "gzip");
    field_is(p->head.etag, etag);
}

/* If-Match with another tag: 412 with the page, no validators. */
static void test_im_other(void **state)
{
    const struct ws_plan *p = answer(*state, GET("If-Match: \"other\"\r\n"));

    is_page(p, 412, NULL);
    assert_int_equal(p->operator_page, 1);
    assert_int_equal(p->send_body, 1);
    assert_int_equal(p->close, 0);
}

/* If-Match compares strongly: W/ of our tag fails. */
static void test_im_weak(void **state)
{
    char etag[WS_ETAG_MAX], text[256];

    snprintf(text, sizeof(text), GET("If-Match: W/%s\r\n"), file_etag(etag));
    is_page(answer(*state, text), 412, NULL);
}

/* If-Match with our tag, or *: the file. */
static void test_im_match(void **state)
{
    char etag[WS_ETAG_MAX], text[256];

    snprintf(text, sizeof(text), GET("If-Match: %s\r\n"), file_etag(etag));
    is_whole_file(answer(*state, text));
    is_whole_file(answer(*state, GET("If-Match: *\r\n")));
}

/* If-Match failing on HEAD: 412, its page not sent. */
static void test_im_head(void **state)
{
    const struct ws_plan *p = answer(*state, HEAD("If-Match: \"other\"\r\n"));

    is_page(p, 412, NULL);
    assert_int_equal(p->send_body, 0);
}

/* If-Modified-Since at or after the modification time: 304; before it: the file. */
static void test_ims(void **state)
{
    is_not_modified(answer(*state, GET("If-Modified-Since: " D_EQ "\r\n")));
    is_not_modified(answer(*state, GET("If-Modified-Since: " D_AFTER "\r\n")));
    is_whole_file(answer(*state, GET("If-Modified-Since: " D_BEFORE "\r\n")));
}

/* If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2 step 4). */
static void test_inm_over_ims(void **state)
{
    is_whole_file(
        answer(*state, GET("If-None-Match: \"other\"\r\nIf-Modified-Since: " D_AFTER "\r\n")));
}

/* If-Unmodified-Since before the modification time: 412; at it: the file. */
static void test_ius(void **state)
{
    is_page(answer(*state, GET("If-Unmodified-Since: " D_BEFORE "\r\n")), 412, NULL);
    is_whole_file(answer(*state, GET("If-Unmodified-Since: " D_EQ "\r\n")));
}

/* ---- ranges (RFC 9110 §14) ---- */

/* One range: 206 with Content-Range, validators kept. */
static void test_range_one(void **state)
{
    const struct ws_plan *p = answer(*state, GET("Range: bytes=0-9\r\n"));
    char etag[WS_ETAG_MAX];

    is_one_range(p, 0, 9);
    field_is(p->head.etag, file_etag(etag));
    field_is(p->head.last_modified, D_EQ);
    assert_int_equal(p->head.accept_ranges, 1);
}

/* A suffix range: the last 5 bytes. */
static void test_range_suffix(void **state)
{
    is_one_range(answer(*state, GET("Range: bytes=-5\r\n")), SIZE - 5, SIZE - 1);
}

/* An open range from the middle, and one past the end clamped. */
static void test_range_open_and_clamped(void **state)
{
    is_one_range(answer(*state, GET("Range: bytes=990-\r\n")), 990, SIZE - 1);
    is_one_range(answer(*state, GET("Range: bytes=995-5000\r\n")), 995, SIZE - 1);
}

/* Overlapping ranges coalesce into one: a single-part 206. */
static void test_range_coalesced(void **state)
{
    is_one_range(answer(*state, GET("Range: bytes=0-9,5-19\r\n")), 0, 19);
}

/* Nothing satisfiable: 416 with the size in Content-Range, the page, no Accept-Ranges. */
static void test_range_unsatisfiable(void **state)
{
    const struct ws_plan *p = answer(*state, GET("Range: bytes=1000-\r\n"));

    is_page(p, 416, NULL);
    field_is(p->head.content_range, "bytes */1000");
    assert_int_equal(p->operator_page, 1);
    assert_int_equal(p->send_body, 1);
    assert_int_equal(p->close, 0);
}

/* A Range that is not valid syntax is ignored: the whole file. */
static void test_range_invalid(void **state)
{
    is_whole_file(answer(*state, GET("Range: bytes=5-3\r\n")));
    is_whole_file(answer(*state, GET("Range: lines=1-2\r\n")));
}

/* Two ranges: a multipart/byteranges body whose parts and length are exact. */
static void test_range_multipart(void **state)
{
    const struct ws_plan *p = answer(*state, GET("Range: bytes=0-9, 20-29\r\n"));
    static const char prefix[] = "multipart/byteranges; boundary=";
    char want[256], boundary[17];
    int64_t total = 0;

    assert_int_equal(p->status, 206);
    assert_int_equal(p->body, WS_BODY_FILE);
    assert_int_equal(p->n_ranges, 2);
    assert_int_equal(p->ranges[0].first, 0);
    assert_int_equal(p->ranges[0].last, 9);
    assert_int_equal(p->ranges[1].first, 20);
    assert_int_equal(p->ranges[1].last, 29);
    assert_non_null(p->head.content_type);
    assert_int_equal(strncmp(p->head.content_type, prefix, LIT_LEN(prefix)), 0);
    assert_int_equal(strlen(p->head.content_type + LIT_LEN(prefix)), 16);
    memcpy(boundary, p->head.content_type + LIT_LEN(prefix), sizeof(boundary));
    assert_null(p->head.content_range); /* each part has its own (RFC 9110 §14.6) */

    for (int i = 0; i < 2; i++) {
        int64_t first = i == 0 ? 0 : 20, last = i == 0 ? 9 : 29;
        int n = snprintf(want, sizeof(want),
                         "\r\n--%s\r\nContent-Type: " HTML "\r\nContent-Range: bytes %" PRId64
                         "-%" PRId64 "/1000\r\n\r\n",
                         boundary, first, last);
        assert_int_equal(p->part_len[i], n);
        assert_true(p->part_off[i] + p->part_len[i] <= sizeof(p->parts));
        assert_memory_equal(p->parts + p->part_off[i], want, (size_t)n);
        total += n + (last - first + 1);
    }
    snprintf(want, sizeof(want), "\r\n--%s--\r\n", boundary);
    assert_int_equal(p->end_len, strlen(want));
    assert_memory_equal(p->parts + p->end_off, want, p->end_len);
    total += (int64_t)strlen(want);

    assert_int_equal(p->head.content_length, total);
    assert_int_equal(p->head.content_length,
                     (int64_t)p->part_len[0] + p->part_len[1] + p->end_len + 10 + 10);
    assert_int_equal(p->send_body, 1);
}

/* Part headers that do not fit WS_PLAN_PARTS_MAX: the Range is ignored, the whole file sent. */
static void test_range_multipart_too_big(void **state)
{
    struct exchange *x = *state;
    char type[600], text[512];
    size_t w;

    memset(type, 'x', sizeof(type) - 1);
    memcpy(type, "text/", 5);
    type[sizeof(type) - 1] = '\0';
    x->res.content_type = type;
    w = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-0");
    for (int i = 1; i < WS_RANGE_MAX; i++)
        w += (size_t)snprintf(text + w, sizeof(text) - w, ",%d-%d", 2 * i, 2 * i);
    snprintf(text + w, sizeof(text) - w, "\r\n\r\n");
    assert_true(WS_RANGE_MAX * (sizeof(type) + 40) > WS_PLAN_PARTS_MAX);

    is_whole_file(answer(x, text));
    field_is(x->plan.head.content_type, type);
}

/* Each multipart answer steps the caller's state and gets a new boundary. */
static void test_range_boundary_steps(void **state)
{
    struct exchange *x = *state;
    char first[17];

    answer(x, GET("Range: bytes=0-1,5-6\r\n"));
    assert_true(x->boundary_state != BOUNDARY0);
    memcpy(first, x->plan.boundary, sizeof(first));
    answer(x, GET("Range: bytes=0-1,5-6\r\n"));
    assert_int_equal(x->plan.n_ranges, 2);
    assert_string_not_equal(first, x->plan.boundary);
}

/* Range on HEAD is ignored (RFC 9110 §14.2: GET only). */
static void test_range_head(void **state)
{
    const struct ws_plan *p = answer(*state, HEAD("Range: bytes=0-9\r\n"));

    is_whole_file(p);
    assert_int_equal(p->send_body, 0);
    assert_int_equal(p->head.accept_ranges, 1);
}

/* A Range field sent twice is ambiguous and ignored. */
static void test_range_repeated(void **state)
{
    is_whole_file(answer(*state, GET("Range: bytes=0-9\r\nRange: bytes=10-19\r\n")));
}

/* If-Range with our tag allows the range. */
static void test_if_range_match(void **state)
{
    char etag[WS_ETAG_MAX], text[256];

    snprintf(text, sizeof(text), GET("Range: bytes=0-9\r\nIf-Range: %s\r\n"), file_etag(etag));
    is_one_range(answer(*state, text), 0, 9);
}

/* If-Range with another (or a weak) tag: the whole file. */
static void test_if_range_other(void **state)
{
    char etag[WS_ETAG_MAX], text[256];

    is_whole_file(answer(*state, GET("Range: bytes=0-9\r\nIf-Range: \"other\"\r\n")));
    snprintf(text, sizeof(text), GET("Range: bytes=0-9\r\nIf-Range: W/%s\r\n"), file_etag(etag));
    is_whole_file(answer(*state, text));
}

/* If-Range with the exact modification date allows the range; another date does not. */
static void test_if_range_date(void **state)
{
    is_one_range(answer(*state, GET("Range: bytes=0-9\r\nIf-Range: " D_EQ "\r\n")), 0, 9);
    is_whole_file(answer(*state, GET("Range: bytes=0-9\r\nIf-Range: " D_BEFORE "\r\n")));
}

/* Preconditions come before Range: a matching If-None-Match gives 304. */
static void test_range_after_inm(void **state)
{
    is_not_modified(answer(*state, GET("Range: bytes=0-9\r\nIf-None-Match: *\r\n")));
}

/* Preconditions come before Range: a failing If-Match gives 412, not 206 or 416. */
static void test_range_after_im(void **state)
{
    is_page(answer(*state, GET("Range: bytes=1000-\r\nIf-Match: \"other\"\r\n")), 412, NULL);
}

/* A range of a gzip sibling: bytes of the encoded file, Content-Encoding and Vary kept. */
static void test_range_gzip(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    x->res.content_encoding = "gzip";
    x->res.vary = 1;
    p = answer(x, GET("Range: bytes=0-9\r\n"));
    is_one_range(p, 0, 9);
    field_is(p->head.content_encoding, "gzip");
    assert_int_equal(p->head.vary_accept_encoding, 1);
}

/* ---- a listing ---- */

static void make_listing(struct exchange *x)
{
    x->res = (struct ws_resource){ .status = 200,
                                   .listing = 1,
                                   .content_type = HTML,
                                   .mem = LISTING,
                                   .mem_len = LIT_LEN(LISTING) };
}

/* A listing: 200 with its bytes from memory, no validators, no ranges. */
static void test_listing_get(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    make_listing(x);
    p = answer(x, GET("Range: bytes=0-9\r\nIf-Modified-Since: " D_AFTER "\r\n"));
    assert_int_equal(p->status, 200);
    assert_int_equal(p->body, WS_BODY_MEM);
    assert_ptr_equal(p->mem, x->res.mem);
    assert_int_equal(p->mem_len, LIT_LEN(LISTING));
    assert_int_equal(p->head.content_length, LIT_LEN(LISTING));
    field_is(p->head.content_type, HTML);
    assert_null(p->head.etag);
    assert_null(p->head.last_modified);
    assert_null(p->head.content_range);
    assert_int_equal(p->head.accept_ranges, 0);
    assert_int_equal(p->send_body, 1);
    assert_int_equal(p->operator_page, 0);
}

/* HEAD of a listing: its length, nothing sent. */
static void test_listing_head(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    make_listing(x);
    p = answer(x, HEAD(""));
    assert_int_equal(p->status, 200);
    assert_int_equal(p->head.content_length, LIT_LEN(LISTING));
    assert_int_equal(p->send_body, 0);
}

/* A listing passes If-None-Match: * (304) and If-Match with a tag (412). */
static void test_listing_preconditions(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    make_listing(x);
    p = answer(x, GET("If-None-Match: *\r\n"));
    assert_int_equal(p->status, 304);
    assert_int_equal(p->body, WS_BODY_NONE);
    assert_int_equal(p->head.content_length, -1);
    assert_int_equal(p->send_body, 0);
    is_page(answer(x, GET("If-Match: \"x\"\r\n")), 412, NULL);
    assert_int_equal(answer(x, GET("If-Match: *\r\n"))->status, 200);
}

/* ---- errors, redirects and other answers ---- */

/* A path that was not found: the 404 page, which the operator may replace. */
static void test_not_found(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    x->res = (struct ws_resource){ .status = 404 };
    p = answer(x, GET(""));
    is_page(p, 404, NULL);
    assert_non_null(strstr(p->mem, "404 Not Found"));
    assert_int_equal(p->operator_page, 1);
    assert_int_equal(p->send_body, 1);
    assert_int_equal(p->close, 0);
    assert_int_equal(p->head.connection, 0);
}

/* HEAD of a missing path: the page's length, nothing sent. */
static void test_not_found_head(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    x->res = (struct ws_resource){ .status = 404 };
    p = answer(x, HEAD(""));
    is_page(p, 404, NULL);
    assert_int_equal(p->send_body, 0);
}

/* A redirect: Location, and a page linking to it that is ours alone. */
static void test_redirect(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    x->res = (struct ws_resource){ .status = 301, .location = "/docs/" };
    p = answer(x, GET(""));
    is_page(p, 301, "/docs/");
    field_is(p->head.location, "/docs/");
    assert_non_null(strstr(p->mem, "/docs/"));
    assert_int_equal(p->operator_page, 0);
    assert_int_equal(p->close, 0);
}

/* A Location of exactly WS_PLAN_LOCATION_MAX bytes is still a 301. */
static void test_redirect_longest(void **state)
{
    struct exchange *x = *state;
    char location[WS_PLAN_LOCATION_MAX + 1];

    memset(location, 'a', WS_PLAN_LOCATION_MAX);
    location[0] = '/';
    location[WS_PLAN_LOCATION_MAX] = '\0';
    x->res = (struct ws_resource){ .status = 301, .location = location };
    assert_int_equal(answer(x, GET(""))->status, 301);
    field_is(x->plan.head.location, location);
}

/* A longer Location: 414, no Location field, and the connection closes. */
static void test_redirect_too_long(void **state)
{
    struct exchange *x = *state;
    char location[WS_PLAN_LOCATION_MAX + 2];
    const struct ws_plan *p;

    memset(location, 'a', WS_PLAN_LOCATION_MAX + 1);
    location[0] = '/';
    location[WS_PLAN_LOCATION_MAX + 1] = '\0';
    x->res = (struct ws_resource){ .status = 301, .location = location };
    p = answer(x, GET(""));
    is_page(p, 414, NULL);
    assert_null(p->head.location);
    assert_int_equal(p->close, 1);
    assert_int_equal(p->head.connection, 1);
}

/* POST: 405 with Allow and the page; its body is discarded. */
static void test_method_not_allowed(void **state)
{
    const struct ws_plan *p =
        answer(*state, "POST /index.html HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n");

    is_page(p, 405, NULL);
    field_is(p->head.allow, ALLOWED);
    assert_int_equal(p->operator_page, 1);
    assert_int_equal(p->close, 0);
    assert_int_equal(p->discard, 3);
}

/* An unknown method: 501, the connection kept. */
static void test_not_implemented(void **state)
{
    const struct ws_plan *p = answer(*state, "BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n");

    is_page(p, 501, NULL);
    assert_null(p->head.allow);
    assert_int_equal(p->close, 0);
}

/* An unmet Expect: 417, and the connection closes. */
static void test_expectation_failed(void **state)
{
    const struct ws_plan *p = answer(*state, GET("Expect: something-else\r\n"));

    is_page(p, 417, NULL);
    assert_int_equal(p->close, 1);
}

/* OPTIONS: 200 with Allow and no content (Content-Length: 0). */
static void test_options(void **state)
{
    const struct ws_plan *p = answer(*state, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");

    assert_int_equal(p->status, 200);
    field_is(p->head.allow, ALLOWED);
    assert_int_equal(p->body, WS_BODY_NONE);
    assert_int_equal(p->head.content_length, 0);
    assert_int_equal(p->send_body, 0);
    assert_null(p->head.content_type);
    assert_null(p->head.etag);
    assert_int_equal(p->close, 0);
}

/* "GET *": 400 and close. */
static void test_get_asterisk(void **state)
{
    const struct ws_plan *p = answer(*state, "GET * HTTP/1.1\r\nHost: h\r\n\r\n");

    is_page(p, 400, NULL);
    assert_int_equal(p->close, 1);
}

/* The operator's page replaces ours as a file of the given size. */
static void test_use_file_body(void **state)
{
    struct exchange *x = *state;
    struct ws_plan *p = &x->plan;

    x->res = (struct ws_resource){ .status = 404 };
    answer(x, GET(""));
    assert_int_equal(p->operator_page, 1);
    ws_plan_use_file_body(p, 4321);
    assert_int_equal(p->body, WS_BODY_FILE);
    assert_int_equal(p->offset, 0);
    assert_int_equal(p->length, 4321);
    assert_int_equal(p->head.content_length, 4321);
    assert_int_equal(p->status, 404);
    field_is(p->head.content_type, HTML);
    assert_int_equal(p->send_body, 1);
}

/* ---- the connection ---- */

/* HTTP/1.1 persists by default, with no Connection field. */
static void test_conn_default(void **state)
{
    const struct ws_plan *p = answer(*state, GET(""));

    assert_int_equal(p->close, 0);
    assert_int_equal(p->linger, 0);
    assert_int_equal(p->discard, 0);
    assert_int_equal(p->send_continue, 0);
    assert_int_equal(p->head.connection, 0);
}

/* Connection: close closes, and says so. */
static void test_conn_close(void **state)
{
    const struct ws_plan *p = answer(*state, GET("Connection: close\r\n"));

    assert_int_equal(p->close, 1);
    assert_int_equal(p->linger, 0);
    assert_int_equal(p->head.connection, 1);
}

/* HTTP/1.0 without keep-alive closes. */
static void test_conn_http10(void **state)
{
    const struct ws_plan *p = answer(*state, GET10(""));

    assert_int_equal(p->status, 200);
    assert_int_equal(p->close, 1);
    assert_int_equal(p->head.connection, 1);
}

/* HTTP/1.0 with Connection: keep-alive persists, and says keep-alive. */
static void test_conn_http10_keep_alive(void **state)
{
    const struct ws_plan *p = answer(*state, GET10("Connection: keep-alive\r\n"));

    assert_int_equal(p->close, 0);
    assert_int_equal(p->head.connection, 2);
}

/* The connection's last request closes it whatever the request asks; the
 * client meant to keep it, so its next request may be on the way: the close
 * lingers if input waits. One that asked for the close gets no linger. */
static void test_conn_last_request(void **state)
{
    const struct ws_plan *p = answer_last(*state, GET(""), 1);

    assert_int_equal(p->status, 200);
    assert_int_equal(p->close, 1);
    assert_int_equal(p->linger, WS_LINGER_IF_INPUT);
    assert_int_equal(p->head.connection, 1);
    p = answer_last(*state, GET("Connection: close\r\n"), 1);
    assert_int_equal(p->close, 1);
    assert_int_equal(p->linger, 0);
    p = answer_last(*state, GET10(""), 1);
    assert_int_equal(p->close, 1);
    assert_int_equal(p->linger, 0);
}

/* Bytes that did not parse: the page, close, lingering. */
static void test_conn_unparsed(void **state)
{
    struct exchange *x = *state;

    ws_plan_make(&x->plan, NULL, 400, &x->res, &x->env, 0);
    is_page(&x->plan, 400, NULL);
    assert_int_equal(x->plan.close, 1);
    assert_int_equal(x->plan.linger, 1);
    assert_int_equal(x->plan.discard, 0);
    assert_int_equal(x->plan.head.connection, 1);
    assert_int_equal(x->plan.send_body, 1);
    field_is(x->plan.head.date, DATE);
}

/* A GET with a body: the body is discarded and the connection kept. */
static void test_conn_discard_length(void **state)
{
    const struct ws_plan *p = answer(*state, GET("Content-Length: 5\r\n"));

    assert_int_equal(p->status, 200);
    assert_int_equal(p->discard, 5);
    assert_int_equal(p->close, 0);
    assert_int_equal(p->linger, 0);
    assert_int_equal(p->send_continue, 0);
}

/* A chunked body: discarded to its end (-1). */
static void test_conn_discard_chunked(void **state)
{
    const struct ws_plan *p = answer(*state, GET("Transfer-Encoding: chunked\r\n"));

    assert_int_equal(p->discard, -1);
    assert_int_equal(p->close, 0);
}

/* Expect: 100-continue with a body on HTTP/1.1: send 100 Continue first. */
static void test_conn_continue(void **state)
{
    const struct ws_plan *p = answer(*state, GET("Expect: 100-continue\r\nContent-Length: 5\r\n"));

    assert_int_equal(p->status, 200);
    assert_int_equal(p->send_continue, 1);
    assert_int_equal(p->discard, 5);
}

/* Expect: 100-continue without a body: nothing to continue. */
static void test_conn_continue_no_body(void **state)
{
    assert_int_equal(answer(*state, GET("Expect: 100-continue\r\n"))->send_continue, 0);
}

/* HTTP/1.0 expectations of 100-continue are ignored (RFC 9110 §10.1.1). */
static void test_conn_continue_http10(void **state)
{
    const struct ws_plan *p =
        answer(*state, GET10("Expect: 100-continue\r\nContent-Length: 5\r\n"));

    assert_int_equal(p->status, 200);
    assert_int_equal(p->send_continue, 0);
    assert_int_equal(p->discard, 5);
}

/* A body too large: 413, closed lingering, nothing discarded, no 100 Continue. */
static void test_conn_too_large(void **state)
{
    const struct ws_plan *p =
        answer(*state, GET("Expect: 100-continue\r\nContent-Length: 101\r\n"));

    is_page(p, 413, NULL);
    assert_int_equal(p->close, 1);
    assert_int_equal(p->linger, 1);
    assert_int_equal(p->discard, 0);
    assert_int_equal(p->send_continue, 0);
    assert_int_equal(p->head.connection, 1);
}

/* An unmet Expect with a body: 417, closed lingering, nothing discarded. */
static void test_conn_expect_other_body(void **state)
{
    const struct ws_plan *p = answer(*state, GET("Expect: foo\r\nContent-Length: 5\r\n"));

    assert_int_equal(p->status, 417);
    assert_int_equal(p->close, 1);
    assert_int_equal(p->linger, 1);
    assert_int_equal(p->discard, 0);
}

/* After these statuses the stream cannot be trusted: close; after these it can: keep. */
static void test_conn_by_status(void **state)
{
    static const int closing[] = { 400, 408, 413, 414, 417, 431, 500, 503 };
    static const int keeping[] = { 403, 404, 405, 412, 416, 501 };
    struct exchange *x = *state;
    char desc[16];

    for (size_t i = 0; i < ARRAY_LEN(closing) + ARRAY_LEN(keeping); i++) {
        int keep = i >= ARRAY_LEN(closing);
        int status = keep ? keeping[i - ARRAY_LEN(closing)] : closing[i];

        snprintf(desc, sizeof(desc), "%d", status);
        x->res = (struct ws_resource){ .status = status };
        answer(x, GET(""));
        check_int(desc, x->plan.status, status);
        check_int(desc, x->plan.close, !keep);
        check_int(desc, x->plan.head.connection, !keep);
        check_int(desc, x->plan.operator_page, 1);
    }
}

/* Expect: 100-continue on an answer that is not a success: no 100, and the answer closes. */
static void test_conn_continue_refused(void **state)
{
    struct exchange *x = *state;
    const struct ws_plan *p;

    x->res = (struct ws_resource){ .status = 404 };
    p = answer(x, GET("Expect: 100-continue\r\nContent-Length: 5\r\n"));
    is_page(p, 404, NULL);
    assert_int_equal(p->send_continue, 0);
    assert_int_equal(p->discard, 0);
    assert_int_equal(p->close, 1);
    assert_int_equal(p->linger, 1);
}

/* A 405 for a body-carrying method without Expect: the body is dropped, the connection kept. */
static void test_conn_post_body_kept(void **state)
{
    const struct ws_plan *p = answer(*state, "POST /index.html HTTP/1.1\r\nHost: h\r\n"
                                             "Content-Length: 7\r\n\r\n");

    is_page(p, 405, NULL);
    assert_int_equal(p->discard, 7);
    assert_int_equal(p->close, 0);
    assert_int_equal(p->linger, 0);
}

/* A body larger than max_body on a method answered 405: closed lingering, not read. */
static void test_conn_post_body_too_large(void **state)
{
    const struct ws_plan *p = answer(*state, "POST /index.html HTTP/1.1\r\nHost: h\r\n"
                                             "Content-Length: 101\r\n\r\n");

    is_page(p, 405, NULL);
    assert_int_equal(p->discard, 0);
    assert_int_equal(p->close, 1);
    assert_int_equal(p->linger, 1);
}

/* A body on a connection that closes after the answer: dropped first, and the close lingers. */
static void test_conn_close_with_body_lingers(void **state)
{
    const struct ws_plan *p = answer(*state, GET("Connection: close\r\nContent-Length: 5\r\n"));

    assert_int_equal(p->status, 200);
    assert_int_equal(p->discard, 5);
    assert_int_equal(p->close, 1);
    assert_int_equal(p->linger, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_route_expect_other),
        T(test_route_unknown_method),
        T(test_route_options),
        T(test_route_not_allowed),
        T(test_route_get_asterisk),
        T(test_route_body_too_large),
        T(test_route_resolve),
        T(test_may_range),
        T(test_file_get),
        T(test_file_head),
        T(test_file_gzip),
        T(test_file_coded_on_the_fly),
        T(test_file_coded_no_range),
        T(test_file_br_head),
        T(test_file_identity_vary),
        T(test_cache_auto_fingerprinted),
        T(test_cache_auto_other),
        T(test_cache_fixed),
        T(test_cache_off),
        T(test_inm_match),
        T(test_inm_weak_match),
        T(test_inm_star),
        T(test_inm_head),
        T(test_inm_other),
        T(test_inm_keeps_vary),
        T(test_im_other),
        T(test_im_weak),
        T(test_im_match),
        T(test_im_head),
        T(test_ims),
        T(test_inm_over_ims),
        T(test_ius),
        T(test_range_one),
        T(test_range_suffix),
        T(test_range_open_and_clamped),
        T(test_range_coalesced),
        T(test_range_unsatisfiable),
        T(test_range_invalid),
        T(test_range_multipart),
        T(test_range_multipart_too_big),
        T(test_range_boundary_steps),
        T(test_range_head),
        T(test_range_repeated),
        T(test_if_range_match),
        T(test_if_range_other),
        T(test_if_range_date),
        T(test_range_after_inm),
        T(test_range_after_im),
        T(test_range_gzip),
        T(test_listing_get),
        T(test_listing_head),
        T(test_listing_preconditions),
        T(test_not_found),
        T(test_not_found_head),
        T(test_redirect),
        T(test_redirect_longest),
        T(test_redirect_too_long),
        T(test_method_not_allowed),
        T(test_not_implemented),
        T(test_expectation_failed),
        T(test_options),
        T(test_get_asterisk),
        T(test_use_file_body),
        T(test_conn_default),
        T(test_conn_close),
        T(test_conn_http10),
        T(test_conn_http10_keep_alive),
        T(test_conn_last_request),
        T(test_conn_unparsed),
        T(test_conn_discard_length),
        T(test_conn_discard_chunked),
        T(test_conn_continue),
        T(test_conn_continue_no_body),
        T(test_conn_continue_http10),
        T(test_conn_too_large),
        T(test_conn_continue_refused),
        T(test_conn_post_body_kept),
        T(test_conn_post_body_too_large),
        T(test_conn_close_with_body_lingers),
        T(test_conn_expect_other_body),
        T(test_conn_by_status),
    };

    start_watchdog(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
