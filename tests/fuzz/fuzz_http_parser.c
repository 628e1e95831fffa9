/*
 * fuzz_http_parser.c - ws_http_parse_request and ws_chunked_decode.
 *
 * Invariants checked for every input, under the server's limits and under
 * small ones (so limit paths are reached with short inputs):
 *   - a result is a byte count <= len, 0, or one of -400 -414 -431 -501 -505;
 *   - on success every view lies inside the consumed bytes (the absolute-form
 *     path "/" may be a constant), and header_count <= max_headers;
 *   - feeding the bytes a piece at a time (random split points, and one byte at
 *     a time for short inputs), passing prev_len as the server does, ends with
 *     the answer a single call on those bytes gives;
 *   - the chunked decoder consumes <= len, never counts more data than it
 *     consumed, and gives the same answer however its input is split.
 */
#include "fuzz.h"
#include "http/request_parser.h"

#include <string.h>

static const uint8_t *buf_lo, *buf_hi;

static void check_view(struct ws_view v)
{
    if (v.len == 0)
        return;
    if (v.len == 1 && v.ptr[0] == '/' &&
        ((const uint8_t *)v.ptr < buf_lo || (const uint8_t *)v.ptr >= buf_hi))
        return; /* the constant "/" for an absolute-form target without a path */
    FUZZ_CHECK((const uint8_t *)v.ptr >= buf_lo);
    FUZZ_CHECK((const uint8_t *)v.ptr + v.len <= buf_hi);
}

static void check_result(const uint8_t *data, size_t len, int rc, const struct ws_request *req,
                         const struct ws_parse_limits *lim)
{
    FUZZ_CHECK(rc == 0 || rc == -400 || rc == -414 || rc == -431 || rc == -501 || rc == -505 ||
               (rc > 0 && (size_t)rc <= len));
    if (rc <= 0)
        return;
    FUZZ_CHECK((size_t)rc <= lim->max_head);
    buf_lo = data;
    buf_hi = data + rc;
    check_view(req->method_name);
    check_view(req->target);
    check_view(req->path);
    check_view(req->query);
    check_view(req->host);
    check_view(req->request_line);
    FUZZ_CHECK(req->request_line.len <= lim->max_request_line);
    FUZZ_CHECK(req->header_count <= lim->max_headers);
    for (size_t i = 0; i < req->header_count; i++) {
        FUZZ_CHECK(req->headers[i].name.len > 0);
        check_view(req->headers[i].name);
        check_view(req->headers[i].value);
    }
    FUZZ_CHECK(req->version == 10 || req->version == 11);
    FUZZ_CHECK(req->content_length >= -1);
    FUZZ_CHECK(!(req->chunked && req->content_length >= 0));
}

/*
 * The incremental answer for data[0..at) (prev_len given as the server does)
 * against a single call on the same bytes. A
 * complete head or an error found incrementally is what a single call finds. A
 * single call may see an error sooner: bad bytes inside a line that has not
 * ended yet are only reported when it ends (http_parser.c). Then the line's end
 * must bring the same error: data + "\n", parsed incrementally, must answer
 * what a single call on it answers, and that must be an error.
 */
static void check_same_answer(const uint8_t *data, size_t at, int incremental, int whole,
                              const struct ws_parse_limits *lim)
{
    static struct ws_request req;
    static char more[65536 + 1];
    int single = ws_http_parse_request((const char *)data, at, 0, lim, &req);

    if (incremental != 0) {
        FUZZ_CHECK(single == incremental);
    } else if (single != 0) {
        int a, b;
        FUZZ_CHECK(single < 0);
        if (at >= sizeof(more))
            return;
        memcpy(more, data, at);
        more[at] = '\n';
        a = ws_http_parse_request(more, at + 1, at, lim, &req);
        b = ws_http_parse_request(more, at + 1, 0, lim, &req);
        FUZZ_CHECK(a == b);
        FUZZ_CHECK(a < 0);
    }
    /* A complete head found in a prefix is the one the whole input holds. */
    if (incremental > 0)
        FUZZ_CHECK(whole == incremental);
    if (incremental < 0)
        FUZZ_CHECK(whole < 0);
}

/* Parses data[0..len) as the server would: growing prefixes ending at cuts[]. */
static int parse_pieces(const uint8_t *data, const size_t *cuts, size_t n_cuts,
                        const struct ws_parse_limits *lim, struct ws_request *req, size_t *at)
{
    size_t prev = 0;
    int rc = 0;
    for (size_t i = 0; i < n_cuts; i++) {
        rc = ws_http_parse_request((const char *)data, cuts[i], prev, lim, req);
        *at = cuts[i];
        if (rc != 0)
            return rc;
        prev = cuts[i];
    }
    return rc;
}

static void fuzz_parser(const uint8_t *data, size_t size, const struct ws_parse_limits *lim)
{
    static struct ws_request req, req2;
    static size_t cuts[64];
    uint64_t rng = fuzz_seed(data, size);
    size_t n_cuts = 0, at = 0;
    int whole, pieces;

    whole = ws_http_parse_request((const char *)data, size, 0, lim, &req);
    check_result(data, size, whole, &req, lim);

    /* Random split points, ascending, ending at size. */
    for (size_t pos = 0; pos < size && n_cuts < 63;) {
        pos += 1 + fuzz_next(&rng) % (size / 8 + 8);
        cuts[n_cuts++] = pos < size ? pos : size;
        if (pos >= size)
            break;
    }
    if (n_cuts == 0 || cuts[n_cuts - 1] != size)
        cuts[n_cuts++] = size;
    pieces = parse_pieces(data, cuts, n_cuts, lim, &req2, &at);
    check_result(data, at, pieces, &req2, lim);
    check_same_answer(data, at, pieces, whole, lim);

    /* One byte at a time (bounded: quadratic in the worst case). */
    if (size <= 4096) {
        size_t prev = 0;
        int rc = 0;
        size_t len;
        for (len = 1; len <= size; len++) {
            rc = ws_http_parse_request((const char *)data, len, prev, lim, &req2);
            if (rc != 0)
                break;
            prev = len;
        }
        if (len > size)
            len = size;
        check_result(data, len, rc, &req2, lim);
        check_same_answer(data, len, rc, whole, lim);
    }
}

static void fuzz_chunked(const uint8_t *data, size_t size)
{
    struct ws_chunked one, split;
    uint64_t bytes_one = 0, bytes_split = 0;
    uint64_t rng = fuzz_seed(data, size) ^ 0x5555;
    size_t used_one = 0, used_split = 0;
    int rc_one, rc_split = 0;

    ws_chunked_init(&one);
    rc_one = ws_chunked_decode(&one, (const char *)data, size, &used_one, &bytes_one);
    FUZZ_CHECK(rc_one == 1 || rc_one == 0 || rc_one == -400);
    if (rc_one >= 0) {
        FUZZ_CHECK(used_one <= size);
        FUZZ_CHECK(bytes_one <= used_one);
        if (rc_one == 0)
            FUZZ_CHECK(used_one == size);
    }

    ws_chunked_init(&split);
    for (size_t pos = 0; pos < size;) {
        size_t n = 1 + fuzz_next(&rng) % 17, used = 0;
        if (n > size - pos)
            n = size - pos;
        rc_split = ws_chunked_decode(&split, (const char *)data + pos, n, &used, &bytes_split);
        if (rc_split < 0)
            break;
        FUZZ_CHECK(used <= n);
        pos += used;
        used_split = pos;
        if (rc_split == 1)
            break;
        FUZZ_CHECK(used == n); /* "need more" means everything was taken */
    }
    FUZZ_CHECK(rc_split == rc_one);
    if (rc_one >= 0) {
        FUZZ_CHECK(used_split == used_one);
        FUZZ_CHECK(bytes_split == bytes_one);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ws_parse_limits server = { 8192, 16384, WS_MAX_HEADERS };
    static const struct ws_parse_limits small = { 48, 160, 4 };
    struct ws_request req;
    int rc;

    fuzz_parser(data, size, &server);
    fuzz_parser(data, size, &small);
    fuzz_chunked(data, size);

    /* The body after a complete head, as the server would decode it. */
    rc = ws_http_parse_request((const char *)data, size, 0, &server, &req);
    if (rc > 0 && req.chunked)
        fuzz_chunked(data + rc, size - (size_t)rc);
    return 0;
}
