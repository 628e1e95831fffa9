/*
 * fuzz_http_response.c - the client's response parser and body decoder
 * (include/http_response.h).
 *
 * Invariants: ws_resp_parse returns a count <= len, 0 or a WS_RESP_ERR_* code;
 * on success its views lie inside the head and the status is 100..599; fed in
 * random pieces with prev_len it ends with the single-call answer (an error in
 * an unfinished line at the latest when the line ends). The body
 * decoder, whatever the framing, consumes <= len, hands out a data span inside
 * what it consumed, always makes progress when it returns 0 with input left,
 * and never hands out more than Content-Length bytes.
 */
#include "fuzz.h"
#include "http/response_parser.h"

#include <string.h>

static const char *lo, *hi;

static void check_view(struct ws_view v)
{
    if (v.len == 0)
        return;
    FUZZ_CHECK(v.ptr >= lo && v.ptr + v.len <= hi);
}

static int valid_rc(int rc, size_t len)
{
    return (rc > 0 && (size_t)rc <= len) || rc == 0 ||
           (rc <= WS_RESP_ERR_STATUS_LINE && rc >= WS_RESP_ERR_TRUNCATED);
}

static void decode_body(const char *buf, size_t len, enum ws_resp_framing framing, uint64_t cl,
                        uint64_t *rng)
{
    struct ws_resp_body b;
    size_t pos = 0;
    uint64_t data_total = 0;
    int rc = 0;

    ws_resp_body_init(&b, framing, cl);
    while (pos < len) {
        size_t n = 1 + fuzz_next(rng) % 64, used = 0;
        struct ws_view data = { NULL, 0 };
        if (n > len - pos)
            n = len - pos;
        rc = ws_resp_body_decode(&b, buf + pos, n, &used, &data);
        FUZZ_CHECK(rc == 1 || rc == 0 || (rc < 0 && rc >= WS_RESP_ERR_TRUNCATED));
        if (rc < 0)
            return;
        FUZZ_CHECK(used <= n);
        if (data.len > 0) {
            FUZZ_CHECK(data.ptr >= buf + pos && data.ptr + data.len <= buf + pos + used);
            data_total += data.len;
        }
        if (framing == WS_RESP_LENGTH)
            FUZZ_CHECK(data_total <= cl);
        pos += used;
        if (rc == 1)
            break;
        FUZZ_CHECK(used > 0);
    }
    rc = ws_resp_body_finish(&b);
    FUZZ_CHECK(rc == 1 || rc == WS_RESP_ERR_TRUNCATED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ws_response resp, resp2;
    const struct ws_resp_limits lim = { WS_RESP_DEFAULT_MAX_HEAD, WS_RESP_MAX_HEADERS };
    const char *buf = (const char *)data;
    uint64_t rng = fuzz_seed(data, size);
    size_t prev = 0, at = 0;
    int whole, single, rc = 0;

    whole = ws_resp_parse(buf, size, 0, &lim, &resp);
    FUZZ_CHECK(valid_rc(whole, size));

    /* Growing prefixes with prev_len, as the client reads. */
    while (at < size) {
        at += 1 + fuzz_next(&rng) % (size / 6 + 4);
        if (at > size)
            at = size;
        rc = ws_resp_parse(buf, at, prev, &lim, &resp2);
        FUZZ_CHECK(valid_rc(rc, at));
        if (rc != 0)
            break;
        prev = at;
    }
    /*
     * An answer found incrementally is the single-call answer on those bytes. A
     * single call may report bad bytes in an unfinished line sooner (the
     * incremental parser waits for the line end, http_response.h); the line
     * end must then bring that error.
     */
    single = ws_resp_parse(buf, at, 0, &lim, &resp);
    if (rc != 0) {
        FUZZ_CHECK(single == rc);
    } else if (single != 0) {
        static char more[1 << 17];
        FUZZ_CHECK(single < 0);
        if (at < sizeof(more)) {
            int a, b;
            memcpy(more, buf, at);
            more[at] = '\n';
            a = ws_resp_parse(more, at + 1, at, &lim, &resp);
            b = ws_resp_parse(more, at + 1, 0, &lim, &resp);
            FUZZ_CHECK(a == b && a < 0);
        }
    }
    if (rc > 0)
        FUZZ_CHECK(whole == rc);
    if (rc < 0)
        FUZZ_CHECK(whole < 0);

    whole = ws_resp_parse(buf, size, 0, &lim, &resp);
    if (whole > 0) {
        lo = buf;
        hi = buf + whole;
        FUZZ_CHECK(resp.status >= 100 && resp.status <= 599);
        FUZZ_CHECK(resp.header_count <= WS_RESP_MAX_HEADERS);
        check_view(resp.reason);
        check_view(resp.status_line);
        for (size_t i = 0; i < resp.header_count; i++) {
            check_view(resp.headers[i].name);
            check_view(resp.headers[i].value);
        }
        for (int head_request = 0; head_request <= 1; head_request++) {
            enum ws_resp_framing f = ws_resp_framing(&resp, head_request);
            uint64_t cl = resp.content_length > 0 ? (uint64_t)resp.content_length : 0;
            decode_body(buf + whole, size - (size_t)whole, f, cl, &rng);
        }
    }
    /* Every framing over the raw bytes, too: the decoders must hold up on anything. */
    decode_body(buf, size, WS_RESP_CHUNKED, 0, &rng);
    decode_body(buf, size, WS_RESP_LENGTH, size / 2, &rng);
    decode_body(buf, size, WS_RESP_UNTIL_CLOSE, 0, &rng);
    return 0;
}
