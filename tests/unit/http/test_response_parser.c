/*
 * http/test_response_parser.c - the response parser and body decoder against tables of
 * good and hostile inputs.
 *
 * Every input is copied into a malloc'd buffer of exactly its length, so under
 * AddressSanitizer a read one byte past the end fails the test. Each table row
 * runs as its own cmocka test, named by its description, and is also fed in
 * pieces (every prefix, byte by byte, split in two) to check that the
 * incremental paths reach the same answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/response_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK 1 /* head tables: expect the whole `head` string consumed */

/* Fails the running test with the row's description and both values. */
#define CHECK_EQ(desc, what, got, want)                                                            \
    do {                                                                                           \
        long long got_ = (long long)(got), want_ = (long long)(want);                              \
        if (got_ != want_)                                                                         \
            fail_msg("%s: %s is %lld, want %lld", (desc), (what), got_, want_);                    \
    } while (0)

/* A copy of s[0..n) in an allocation of exactly n bytes. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    /* For n == 0 nothing may be read: hand out the end of a 1-byte block. */
    return n > 0 ? p : p + 1;
}

static void exact_free(char *p, size_t n)
{
    free(n > 0 ? p : p - 1);
}

static int view_is(struct ws_view v, const char *s)
{
    return v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

/* ------------------------------------------------------------------------ */
/* Response heads                                                           */

struct head_case {
    const char *desc;
    const char *head; /* the bytes that should form the head */
    const char *rest; /* bytes after it (a body, the next response) */
    int result;       /* OK, WS_RESP_AGAIN or a WS_RESP_ERR_* code */
    int status;       /* for OK: expected fields... */
    int version;      /* 10 or 11 */
    int64_t content_length;
    enum ws_resp_framing framing; /* for a GET; a HEAD always has no body */
    int keep_alive;
    size_t headers;     /* header_count */
    const char *name;   /* optional: a field to look up... */
    const char *value;  /* ...and its exact value */
    size_t max_head;    /* 0: WS_RESP_DEFAULT_MAX_HEAD */
    size_t max_headers; /* 0: WS_RESP_MAX_HEADERS */
};

#define NONE  WS_RESP_NO_BODY
#define LEN   WS_RESP_LENGTH
#define CHUNK WS_RESP_CHUNKED
#define CLOSE WS_RESP_UNTIL_CLOSE
#define AGAIN WS_RESP_AGAIN
#define H200  "HTTP/1.1 200 OK\r\n"
/* Rows that expect an error or need-more, whose other columns do not matter. */
#define BAD(desc, head, err)                                                                       \
    {                                                                                              \
        desc, head, "", err, 0, 0, 0, NONE, 0, 0, NULL, NULL, 0, 0                                 \
    }
#define BAD_LIMIT(desc, head, err, max_head, max_headers)                                          \
    {                                                                                              \
        desc, head, "", err, 0, 0, 0, NONE, 0, 0, NULL, NULL, max_head, max_headers                \
    }
#define MORE(desc, head) BAD(desc, head, AGAIN)

/* clang-format off */
static struct head_case head_cases[] = {
    /* desc, head, rest, result, status, version, content_length, framing, keep_alive, headers, name, value, max_head, max_headers */
    { "200 with Content-Length", H200 "Content-Length: 5\r\n\r\n", "hello", OK, 200, 11, 5, LEN, 1, 1, "content-length", "5", 0, 0 },
    { "status line only, no SP or reason", "HTTP/1.1 204\r\n\r\n", "", OK, 204, 11, -1, NONE, 1, 0, NULL, NULL, 0, 0 },
    { "SP and empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "", OK, 200, 11, 0, LEN, 1, 1, NULL, NULL, 0, 0 },
    { "reason with spaces, tab and obs-text", "HTTP/1.1 404 Not\tF\xe9und here\r\nContent-Length: 0\r\n\r\n", "", OK, 404, 11, 0, LEN, 1, 1, NULL, NULL, 0, 0 },
    { "status 100 is interim, next response follows", "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", OK, 100, 11, -1, NONE, 1, 0, NULL, NULL, 0, 0 },
    { "103 Early Hints with a field", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n", "HTTP/1.1 200", OK, 103, 11, -1, NONE, 1, 1, "link", "</s.css>", 0, 0 },
    { "status 599 is the highest", "HTTP/1.1 599 X\r\n\r\n", "", OK, 599, 11, -1, CLOSE, 1, 0, NULL, NULL, 0, 0 },
    { "HTTP/1.0 without length: until close", "HTTP/1.0 200 OK\r\n\r\n", "body", OK, 200, 10, -1, CLOSE, 0, 0, NULL, NULL, 0, 0 },
    { "HTTP/1.0 keep-alive with length", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n", "hi", OK, 200, 10, 2, LEN, 1, 2, NULL, NULL, 0, 0 },
    { "HTTP/1.1 Connection: close", H200 "Connection: close\r\nContent-Length: 0\r\n\r\n", "", OK, 200, 11, 0, LEN, 0, 2, NULL, NULL, 0, 0 },
    { "close anywhere in a Connection list", H200 "Connection: foo, ,CLOSE\r\nContent-Length: 0\r\n\r\n", "", OK, 200, 11, 0, LEN, 0, 2, NULL, NULL, 0, 0 },
    { "HTTP/1.2 is read as 1.1", "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", "", OK, 200, 11, 0, LEN, 1, 1, NULL, NULL, 0, 0 },
    { "no framing fields: until close", H200 "Server: x\r\n\r\n", "abc", OK, 200, 11, -1, CLOSE, 1, 1, "server", "x", 0, 0 },
    { "chunked", H200 "Transfer-Encoding: chunked\r\n\r\n", "0\r\n\r\n", OK, 200, 11, -1, CHUNK, 1, 1, NULL, NULL, 0, 0 },
    { "chunked, any case", H200 "transfer-encoding: ChUnKeD\r\n\r\n", "", OK, 200, 11, -1, CHUNK, 1, 1, NULL, NULL, 0, 0 },
    { "gzip, chunked: chunked is final", H200 "Transfer-Encoding: gzip, chunked\r\n\r\n", "", OK, 200, 11, -1, CHUNK, 1, 1, NULL, NULL, 0, 0 },
    { "chunked in a second TE field", H200 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", "", OK, 200, 11, -1, CHUNK, 1, 2, NULL, NULL, 0, 0 },
    { "TE without chunked: until close", H200 "Transfer-Encoding: gzip\r\n\r\n", "", OK, 200, 11, -1, CLOSE, 1, 1, NULL, NULL, 0, 0 },
    { "chunked not final: until close", H200 "Transfer-Encoding: chunked, gzip\r\n\r\n", "", OK, 200, 11, -1, CLOSE, 1, 1, NULL, NULL, 0, 0 },
    { "TE overrides CL, and ends keep-alive", H200 "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n", "", OK, 200, 11, 10, CHUNK, 0, 2, NULL, NULL, 0, 0 },
    { "204 has no body despite Content-Length", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", "", OK, 204, 11, 10, NONE, 1, 1, NULL, NULL, 0, 0 },
    { "304 has no body despite Content-Length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n", "", OK, 304, 11, 1000, NONE, 1, 1, NULL, NULL, 0, 0 },
    { "304 has no body despite chunked", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", "", OK, 304, 11, -1, NONE, 1, 1, NULL, NULL, 0, 0 },
    { "Content-Length sent twice, equal", H200 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", "hello", OK, 200, 11, 5, LEN, 1, 2, NULL, NULL, 0, 0 },
    { "Content-Length list, equal", H200 "Content-Length: 5, 5\r\n\r\n", "hello", OK, 200, 11, 5, LEN, 1, 1, NULL, NULL, 0, 0 },
    { "Content-Length, any case, huge", H200 "content-LENGTH: 9223372036854775807\r\n\r\n", "", OK, 200, 11, INT64_MAX, LEN, 1, 1, NULL, NULL, 0, 0 },
    { "obs-fold continues a value", H200 "X-Long: a\r\n b\r\n\r\n", "", OK, 200, 11, -1, CLOSE, 1, 1, "x-long", "a\r\n b", 0, 0 },
    { "obs-fold after an empty first line, tab", H200 "X: \r\n\tb\r\nY: c\r\n\r\n", "", OK, 200, 11, -1, CLOSE, 1, 2, "x", "b", 0, 0 },
    { "obs-fold over two lines, bare LF", H200 "X: a\n b\n  c\n\n", "", OK, 200, 11, -1, CLOSE, 1, 1, "x", "a\n b\n  c", 0, 0 },
    { "obs-fold inside Connection is whitespace", H200 "Connection: keep-alive,\r\n close\r\nContent-Length: 0\r\n\r\n", "", OK, 200, 11, 0, LEN, 0, 2, NULL, NULL, 0, 0 },
    { "bare LF line ends throughout", "HTTP/1.1 200 OK\nContent-Length: 1\n\n", "x", OK, 200, 11, 1, LEN, 1, 1, NULL, NULL, 0, 0 },
    { "mixed CRLF and LF", "HTTP/1.1 200 OK\nA: 1\r\nContent-Length: 1\n\r\n", "x", OK, 200, 11, 1, LEN, 1, 2, "a", "1", 0, 0 },
    { "value whitespace trimmed", H200 "X: \t v w \t\r\n\r\n", "", OK, 200, 11, -1, CLOSE, 1, 1, "x", "v w", 0, 0 },
    { "empty value", H200 "X:\r\n\r\n", "", OK, 200, 11, -1, CLOSE, 1, 1, "x", "", 0, 0 },
    { "head exactly max_head bytes", H200 "A: b\r\n\r\n", "", OK, 200, 11, -1, CLOSE, 1, 1, NULL, NULL, 25, 0 },
    { "exactly max_headers fields", H200 "A: 1\r\nB: 2\r\n\r\n", "", OK, 200, 11, -1, CLOSE, 1, 2, "b", "2", 0, 2 },

    BAD("garbage", "garbage\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("HTML instead of a response (HTTP/0.9)", "<html>hello</html>", WS_RESP_ERR_STATUS_LINE),
    BAD("lower-case protocol name", "http/1.1 200 OK\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("empty line before the status line", "\r\nHTTP/1.1 200 OK\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", WS_RESP_ERR_VERSION),
    BAD("HTTP/0.9", "HTTP/0.9 200 OK\r\n\r\n", WS_RESP_ERR_VERSION),
    BAD("version without minor", "HTTP/1 200 OK\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("status 099", "HTTP/1.1 099 X\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("status 600", "HTTP/1.1 600 X\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("letter in status", "HTTP/1.1 2x0 OK\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("tab instead of SP", "HTTP/1.1\t200 OK\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("two SP before status", "HTTP/1.1  200 OK\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("bare CR after status line", "HTTP/1.1 200 OK\rX: y\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", WS_RESP_ERR_STATUS_LINE),
    BAD("whitespace before the first field", H200 " X: y\r\n\r\n", WS_RESP_ERR_HEADER),
    BAD("space before colon", H200 "X : y\r\n\r\n", WS_RESP_ERR_HEADER),
    BAD("field without colon", H200 "Xy\r\n\r\n", WS_RESP_ERR_HEADER),
    BAD("empty field name", H200 ": y\r\n\r\n", WS_RESP_ERR_HEADER),
    BAD("non-token field name", H200 "X(y): z\r\n\r\n", WS_RESP_ERR_HEADER),
    BAD("bare CR in a value", H200 "X: a\rb\r\n\r\n", WS_RESP_ERR_HEADER),
    BAD("control byte in a value", H200 "X: a\x7f" "b\r\n\r\n", WS_RESP_ERR_HEADER),
    BAD("bare CR instead of the empty line", H200 "X: y\r\n\rZ", WS_RESP_ERR_HEADER),
    BAD("Content-Length with a letter", H200 "Content-Length: 5a\r\n\r\n", WS_RESP_ERR_CONTENT_LENGTH),
    BAD("negative Content-Length", H200 "Content-Length: -1\r\n\r\n", WS_RESP_ERR_CONTENT_LENGTH),
    BAD("empty Content-Length", H200 "Content-Length: \r\n\r\n", WS_RESP_ERR_CONTENT_LENGTH),
    BAD("Content-Length list, conflicting", H200 "Content-Length: 5, 6\r\n\r\n", WS_RESP_ERR_CONTENT_LENGTH),
    BAD("Content-Length with a trailing comma", H200 "Content-Length: 3,\r\n\r\n", WS_RESP_ERR_CONTENT_LENGTH),
    BAD("Content-Length with a leading comma", H200 "Content-Length: ,3\r\n\r\n", WS_RESP_ERR_CONTENT_LENGTH),
    BAD("Content-Length list with an empty element", H200 "Content-Length: 5,,5\r\n\r\n", WS_RESP_ERR_CONTENT_LENGTH),
    BAD("Content-Length fields, conflicting", H200 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", WS_RESP_ERR_CONTENT_LENGTH),
    BAD("Content-Length overflowing int64", H200 "Content-Length: 9223372036854775808\r\n\r\n", WS_RESP_ERR_CONTENT_LENGTH),
    BAD("Content-Length overflowing by far", H200 "Content-Length: 99999999999999999999999\r\n\r\n", WS_RESP_ERR_CONTENT_LENGTH),
    BAD("Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", WS_RESP_ERR_TRANSFER_ENCODING),
    BAD("empty Transfer-Encoding", H200 "Transfer-Encoding: \r\n\r\n", WS_RESP_ERR_TRANSFER_ENCODING),
    BAD("Transfer-Encoding of commas only", H200 "Transfer-Encoding: , ,\r\n\r\n", WS_RESP_ERR_TRANSFER_ENCODING),
    BAD("Transfer-Encoding not a token", H200 "Transfer-Encoding: @x\r\n\r\n", WS_RESP_ERR_TRANSFER_ENCODING),
    BAD("chunked twice", H200 "Transfer-Encoding: chunked, chunked\r\n\r\n", WS_RESP_ERR_TRANSFER_ENCODING),
    BAD("chunked with a parameter", H200 "Transfer-Encoding: chunked;q=1\r\n\r\n", WS_RESP_ERR_TRANSFER_ENCODING),
    BAD_LIMIT("head one byte over max_head", H200 "A: b\r\n\r\n", WS_RESP_ERR_HEAD_TOO_LARGE, 24, 0),
    BAD_LIMIT("unfinished head reaching max_head", H200 "A: bbbbbbbbbbbbbbbbbbbb", WS_RESP_ERR_HEAD_TOO_LARGE, 30, 0),
    BAD_LIMIT("unfinished status line reaching max_head", "HTTP/1.1 200 OOOOOOOOOOOOOOOOOOOOOOO", WS_RESP_ERR_HEAD_TOO_LARGE, 20, 0),
    BAD_LIMIT("fold pushing the head over max_head", H200 "A: b\r\n cccccccccc\r\n\r\n", WS_RESP_ERR_HEAD_TOO_LARGE, 30, 0),
    BAD_LIMIT("one field over max_headers", H200 "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", WS_RESP_ERR_TOO_MANY_HEADERS, 0, 2),

    MORE("nothing yet", ""),
    MORE("part of the protocol name", "HTT"),
    MORE("fixed part of the status line", "HTTP/1.1 200"),
    MORE("status line without its end", "HTTP/1.1 200 OK"),
    MORE("status line ending in CR", "HTTP/1.1 200 OK\r"),
    MORE("field line ended: fold or not is undecided", H200 "X: y\r\n"),
    MORE("field line ending in CR", H200 "X: y\r"),
    MORE("empty line's CR only", H200 "X: y\r\n\r"),
};
/* clang-format on */

static void check_head_ok(const struct head_case *c, const struct ws_response *r, int rc)
{
    size_t head_len = strlen(c->head);

    CHECK_EQ(c->desc, "result", rc, (int)head_len);
    CHECK_EQ(c->desc, "status", r->status, c->status);
    CHECK_EQ(c->desc, "version", r->version, c->version);
    CHECK_EQ(c->desc, "content_length", r->content_length, c->content_length);
    CHECK_EQ(c->desc, "framing", ws_resp_framing(r, 0), c->framing);
    CHECK_EQ(c->desc, "framing after HEAD", ws_resp_framing(r, 1), WS_RESP_NO_BODY);
    CHECK_EQ(c->desc, "keep_alive", r->keep_alive, c->keep_alive);
    CHECK_EQ(c->desc, "header_count", r->header_count, c->headers);
    if (!(r->status_line.ptr != NULL && r->status_line.len >= 12 &&
          memcmp(r->status_line.ptr, c->head, r->status_line.len) == 0 &&
          (c->head[r->status_line.len] == '\r' || c->head[r->status_line.len] == '\n')))
        fail_msg("%s: status_line is not the first line", c->desc);
    if (c->name != NULL) {
        const struct ws_header *h = ws_resp_header(r, c->name);
        if (h == NULL)
            fail_msg("%s: no field %s", c->desc, c->name);
        if (!view_is(h->value, c->value))
            fail_msg("%s: %s is '%.*s', want '%s'", c->desc, c->name, (int)h->value.len,
                     h->value.ptr, c->value);
    }
}

static void run_head_case(void **state)
{
    const struct head_case *c = *state;
    struct ws_resp_limits lim = {
        .max_head = c->max_head ? c->max_head : WS_RESP_DEFAULT_MAX_HEAD,
        .max_headers = c->max_headers ? c->max_headers : WS_RESP_MAX_HEADERS,
    };
    size_t head_len = strlen(c->head), rest_len = strlen(c->rest), len = head_len + rest_len;
    struct ws_response *r = malloc(sizeof(*r));
    char *whole = malloc(len > 0 ? len : 1);
    char *buf;
    int rc;

    assert_non_null(r);
    assert_non_null(whole);
    memcpy(whole, c->head, head_len);
    memcpy(whole + head_len, c->rest, rest_len);

    /* All at once, with whatever follows the head. */
    buf = exact_copy(whole, len);
    rc = ws_resp_parse(buf, len, 0, &lim, r);
    if (c->result == OK)
        check_head_ok(c, r, rc);
    else
        CHECK_EQ(c->desc, "result", rc, c->result);
    exact_free(buf, len);

    /* The head alone, when something followed it. */
    if (rest_len > 0) {
        buf = exact_copy(whole, head_len);
        rc = ws_resp_parse(buf, head_len, 0, &lim, r);
        if (c->result == OK)
            check_head_ok(c, r, rc);
        else
            CHECK_EQ(c->desc, "result without rest", rc, c->result);
        exact_free(buf, head_len);
    }

    /*
     * Growing prefixes of the head, as a server sending a byte at a time would
     * deliver them, twice: re-parsed from scratch, and with the prev_len hint.
     * A strict prefix of a good head needs more; of a bad one, it needs more or
     * already shows the same error.
     */
    for (int hinted = 0; hinted <= 1; hinted++) {
        size_t prev = 0;
        for (size_t k = 0; k <= head_len; k++) {
            buf = exact_copy(whole, k);
            rc = ws_resp_parse(buf, k, hinted ? prev : 0, &lim, r);
            if (k == head_len && c->result == OK)
                check_head_ok(c, r, rc);
            else if (k == head_len || c->result < 0)
                assert_true(rc == WS_RESP_AGAIN || rc == c->result);
            else if (rc != WS_RESP_AGAIN)
                fail_msg("%s: prefix of %zu bytes gives %d, want need-more", c->desc, k, rc);
            /*
             * With the hint, bad bytes in a line not yet ended may still answer
             * need-more; without it, the whole input must give the error.
             */
            if (k == head_len && c->result != OK && !hinted)
                CHECK_EQ(c->desc, "result of the last prefix", rc, c->result);
            exact_free(buf, k);
            if (rc != WS_RESP_AGAIN)
                break;
            prev = k;
        }
    }
    free(whole);
    free(r);
}

/* ------------------------------------------------------------------------ */
/* Bodies                                                                   */

struct body_case {
    const char *desc;
    enum ws_resp_framing framing;
    uint64_t length;   /* Content-Length, for LEN */
    const char *input; /* the body bytes */
    const char *rest;  /* bytes after the body (the next response) */
    int result;        /* 1 complete, 0 needs more, or a WS_RESP_ERR_* code */
    const char *data;  /* expected body data (complete or so far) */
    int finish;        /* ws_resp_body_finish afterwards, when not an error */
};

#define TRUNC WS_RESP_ERR_TRUNCATED
#define BODY_BAD(desc, input, err)                                                                 \
    {                                                                                              \
        desc, CHUNK, 0, input, "", err, "", 0                                                      \
    }
#define BODY_BAD(desc, input, err)                                                                 \
    {                                                                                              \
        desc, CHUNK, 0, input, "", err, "", 0                                                      \
    }

/* clang-format off */
static struct body_case body_cases[] = {
    /* desc, framing, length, input, rest, result, data, finish */
    { "one chunk", CHUNK, 0, "5\r\nhello\r\n0\r\n\r\n", "", 1, "hello", 1 },
    { "two chunks, next response after", CHUNK, 0, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "HTTP/1.1 200 OK\r\n", 1, "hello world", 1 },
    { "upper- and lower-case hex", CHUNK, 0, "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n", "", 1, "0123456789abcdefghijk", 1 },
    { "leading zeros beyond 16 digits", CHUNK, 0, "00000000000000000005\r\nhello\r\n000\r\n\r\n", "", 1, "hello", 1 },
    { "chunk data holding CRLF and digits", CHUNK, 0, "6\r\n\r\n0\r\n\r\n0\r\n\r\n", "", 1, "\r\n0\r\n\r", 1 },
    { "extension with a value", CHUNK, 0, "5;name=value\r\nhello\r\n0\r\n\r\n", "", 1, "hello", 1 },
    { "extensions, quoted, several", CHUNK, 0, "5;a=\"b c;d\";e\r\nhello\r\n0\r\n\r\n", "", 1, "hello", 1 },
    { "whitespace before an extension", CHUNK, 0, "5 \t;a=b\r\nhello\r\n0\r\n\r\n", "", 1, "hello", 1 },
    { "whitespace after the size", CHUNK, 0, "5  \r\nhello\r\n0\r\n\r\n", "", 1, "hello", 1 },
    { "extension on the last chunk", CHUNK, 0, "5\r\nhello\r\n0;end=1\r\n\r\n", "", 1, "hello", 1 },
    { "trailers", CHUNK, 0, "5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:2\r\n\r\n", "next", 1, "hello", 1 },
    { "trailer with an empty value", CHUNK, 0, "0\r\nX:\r\n\r\n", "", 1, "", 1 },
    { "empty body", CHUNK, 0, "0\r\n\r\n", "", 1, "", 1 },
    { "bare LF throughout", CHUNK, 0, "5\nhello\n0\nX: 1\n\n", "", 1, "hello", 1 },
    { "chunk cut inside its data", CHUNK, 0, "5\r\nhel", "", 0, "hel", TRUNC },
    { "cut after the data, before CRLF", CHUNK, 0, "5\r\nhello", "", 0, "hello", TRUNC },
    { "cut inside the size", CHUNK, 0, "1", "", 0, "", TRUNC },
    { "cut in the trailer section", CHUNK, 0, "0\r\nX: 1\r\n", "", 0, "", TRUNC },
    { "cut before the final CRLF", CHUNK, 0, "5\r\nhello\r\n0\r\n", "", 0, "hello", TRUNC },
    { "nothing yet", CHUNK, 0, "", "", 0, "", TRUNC },
    { "largest chunk size that fits", CHUNK, 0, "ffffffffffffffff\r\nabc", "", 0, "abc", TRUNC },
    BODY_BAD("no hex digits", "zz\r\n", WS_RESP_ERR_CHUNK_SIZE),
    BODY_BAD("empty size line", "\r\n", WS_RESP_ERR_CHUNK_SIZE),
    BODY_BAD("negative size", "-5\r\nhello\r\n", WS_RESP_ERR_CHUNK_SIZE),
    BODY_BAD("0x prefix", "0x5\r\nhello\r\n", WS_RESP_ERR_CHUNK_SIZE),
    BODY_BAD("plus sign", "+5\r\nhello\r\n", WS_RESP_ERR_CHUNK_SIZE),
    BODY_BAD("space inside the size", "5 5\r\n", WS_RESP_ERR_CHUNK_SIZE),
    BODY_BAD("extension without a size", ";a\r\n", WS_RESP_ERR_CHUNK_SIZE),
    BODY_BAD("junk after the size", "5x\r\nhello\r\n", WS_RESP_ERR_CHUNK_SIZE),
    BODY_BAD("bare CR after the size", "5\rhello\r\n", WS_RESP_ERR_CHUNK_SIZE),
    BODY_BAD("control byte in an extension", "5;a\x01\r\nhello\r\n", WS_RESP_ERR_CHUNK_SIZE),
    BODY_BAD("size overflowing 64 bits", "10000000000000000\r\n", WS_RESP_ERR_CHUNK_TOO_LARGE),
    BODY_BAD("size of 17 f", "fffffffffffffffff\r\n", WS_RESP_ERR_CHUNK_TOO_LARGE),
    BODY_BAD("size overflowing by far", "123456789abcdef0123456789\r\n", WS_RESP_ERR_CHUNK_TOO_LARGE),
    BODY_BAD("data longer than its size", "5\r\nhello!\r\n0\r\n\r\n", WS_RESP_ERR_CHUNK_DATA),
    BODY_BAD("data shorter than its size", "7\r\nhello\r\n0\r\n\r\n", WS_RESP_ERR_CHUNK_DATA),
    BODY_BAD("bare CR after the data", "5\r\nhello\rX", WS_RESP_ERR_CHUNK_DATA),
    BODY_BAD("obs-fold in the trailers", "0\r\nX: 1\r\n folded\r\n\r\n", WS_RESP_ERR_TRAILER),
    BODY_BAD("trailer without a colon", "0\r\nbad\r\n\r\n", WS_RESP_ERR_TRAILER),
    BODY_BAD("space before a trailer colon", "0\r\nX : 1\r\n\r\n", WS_RESP_ERR_TRAILER),
    BODY_BAD("bare CR in a trailer", "0\r\nX: 1\rY\r\n\r\n", WS_RESP_ERR_TRAILER),
    BODY_BAD("control byte in a trailer", "0\r\nX: \x01\r\n\r\n", WS_RESP_ERR_TRAILER),
    BODY_BAD("bare CR instead of the final CRLF", "0\r\n\rX", WS_RESP_ERR_TRAILER),

    { "length body, next response after", LEN, 5, "hello", "HTTP/1.1", 1, "hello", 1 },
    { "zero length completes at once", LEN, 0, "", "HTTP/1.1", 1, "", 1 },
    { "length body cut short", LEN, 10, "hello", "", 0, "hello", TRUNC },
    { "length body, nothing yet", LEN, 3, "", "", 0, "", TRUNC },
    { "until close takes everything", CLOSE, 0, "a\r\n0\r\n\r\nb", "", 0, "a\r\n0\r\n\r\nb", 1 },
    { "until close, empty", CLOSE, 0, "", "", 0, "", 1 },
    { "no body takes nothing", NONE, 0, "", "HTTP/1.1 200 OK", 1, "", 1 },
};
/* clang-format on */

/* Output of a decoding run. */
struct body_run {
    int rc;
    size_t consumed;
    char data[256];
    size_t data_len;
};

/* Appends one data span, checking that it lies inside the piece fed. */
static void collect(struct body_run *out, const char *desc, struct ws_view d, const char *piece,
                    size_t used)
{
    if (d.len == 0)
        return;
    if (d.ptr < piece || d.ptr + d.len > piece + used)
        fail_msg("%s: data span outside the consumed bytes", desc);
    if (out->data_len + d.len > sizeof(out->data))
        fail_msg("%s: more data than expected", desc);
    memcpy(out->data + out->data_len, d.ptr, d.len);
    out->data_len += d.len;
}

/*
 * Feeds piece[0..len) (an exact allocation) to the decoder until it is used up,
 * the body completes or an error comes. Returns the last result.
 */
static int feed(struct ws_resp_body *b, const char *desc, const char *piece, size_t len,
                struct body_run *out)
{
    size_t off = 0;
    int rc;

    /* Each round uses at least one byte or ends: at most len + 1 rounds. */
    for (size_t round = 0; round <= len; round++) {
        struct ws_view d;
        size_t used;
        rc = ws_resp_body_decode(b, piece + off, len - off, &used, &d);
        if (used > len - off)
            fail_msg("%s: consumed %zu of %zu bytes", desc, used, len - off);
        collect(out, desc, d, piece + off, used);
        off += used;
        out->consumed += used;
        if (rc != 0 || off == len)
            return rc;
        if (used == 0)
            fail_msg("%s: no progress with %zu bytes left", desc, len - off);
    }
    fail_msg("%s: decoder did not finish the piece", desc);
    return -1000;
}

/* Decodes whole[0..len) cut into pieces at the given offsets (ascending, < len). */
static void run_split(const struct body_case *c, const char *whole, size_t len, const size_t *cuts,
                      size_t ncuts, struct body_run *out, struct ws_resp_body *b)
{
    size_t start = 0;

    memset(out, 0, sizeof(*out));
    ws_resp_body_init(b, c->framing, c->length);
    out->rc = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        char *piece = exact_copy(whole + start, end - start);
        out->rc = feed(b, c->desc, piece, end - start, out);
        exact_free(piece, end - start);
        if (out->rc != 0)
            return; /* later pieces are not fed, so not consumed */
        start = end;
    }
}

static void check_body_run(const struct body_case *c, const struct body_run *out,
                           const struct ws_resp_body *b, const char *how)
{
    size_t input_len = strlen(c->input), want_len = strlen(c->data);

    if (out->rc != c->result)
        fail_msg("%s (%s): result %d, want %d", c->desc, how, out->rc, c->result);
    if (c->result < 0)
        return;
    if (out->data_len != want_len || memcmp(out->data, c->data, want_len) != 0)
        fail_msg("%s (%s): data '%.*s', want '%s'", c->desc, how, (int)out->data_len, out->data,
                 c->data);
    CHECK_EQ(c->desc, "received", b->received, want_len);
    /* Once complete, what follows the body is left alone. */
    if (c->result == 1)
        CHECK_EQ(c->desc, "consumed", out->consumed, input_len);
    CHECK_EQ(c->desc, "finish", ws_resp_body_finish(b), c->finish);
}

static void run_body_case(void **state)
{
    const struct body_case *c = *state;
    size_t input_len = strlen(c->input), rest_len = strlen(c->rest);
    size_t len = input_len + rest_len;
    char *whole = malloc(len + 1);
    struct body_run *out = malloc(sizeof(*out));
    struct ws_resp_body b;
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));

    assert_non_null(whole);
    assert_non_null(out);
    assert_non_null(cuts);
    memcpy(whole, c->input, input_len);
    memcpy(whole + input_len, c->rest, rest_len);

    run_split(c, whole, len, NULL, 0, out, &b);
    check_body_run(c, out, &b, "whole");

    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    run_split(c, whole, len, cuts, len > 0 ? len - 1 : 0, out, &b);
    check_body_run(c, out, &b, "byte by byte");

    for (size_t cut = 1; cut < len; cut++) {
        char how[32];
        snprintf(how, sizeof(how), "cut at %zu", cut);
        run_split(c, whole, len, &cut, 1, out, &b);
        check_body_run(c, out, &b, how);
    }
    free(cuts);
    free(out);
    free(whole);
}

/* ------------------------------------------------------------------------ */
/* Inputs too big for a table row                                           */

/* A head with n fields "X-Field-i: <fill>" of about field_len bytes each. */
static char *make_head(size_t n, size_t field_len, size_t *len)
{
    size_t cap = 64 + n * (field_len + 32);
    char *s = malloc(cap);
    size_t pos = 0;

    assert_non_null(s);
    pos += (size_t)snprintf(s, cap, "HTTP/1.1 200 OK\r\n");
    for (size_t i = 0; i < n; i++) {
        pos += (size_t)snprintf(s + pos, cap - pos, "X-Field-%zu: ", i);
        memset(s + pos, 'v', field_len);
        pos += field_len;
        memcpy(s + pos, "\r\n", 2);
        pos += 2;
    }
    memcpy(s + pos, "\r\n", 2);
    pos += 2;
    *len = pos;
    return s;
}

/*
 * Parses s[0..len) from an exact copy. The views in *r point into that copy,
 * so it is kept in *keep (free it with exact_free(*keep, len)) or, if keep is
 * NULL, freed at once and only the numbers in *r may be looked at.
 */
static int parse_exact(const char *s, size_t len, size_t prev, struct ws_response *r, char **keep)
{
    static const struct ws_resp_limits lim = { WS_RESP_DEFAULT_MAX_HEAD, WS_RESP_MAX_HEADERS };
    char *buf = exact_copy(s, len);
    int rc = ws_resp_parse(buf, len, prev, &lim, r);
    if (keep != NULL)
        *keep = buf;
    else
        exact_free(buf, len);
    return rc;
}

static void test_default_head_limit(void **state)
{
    struct ws_response *r = malloc(sizeof(*r));
    size_t len;
    char *s;

    (void)state;
    assert_non_null(r);
    s = make_head(60, 1000, &len); /* about 61 KiB: fits */
    assert_true(len < WS_RESP_DEFAULT_MAX_HEAD);
    assert_int_equal(parse_exact(s, len, 0, r, NULL), (int)len);
    assert_int_equal(r->header_count, 60);
    free(s);
    s = make_head(70, 1000, &len); /* about 71 KiB */
    assert_int_equal(parse_exact(s, len, 0, r, NULL), WS_RESP_ERR_HEAD_TOO_LARGE);
    /* Unfinished: just below the limit it may still end; at the limit it cannot. */
    assert_int_equal(parse_exact(s, WS_RESP_DEFAULT_MAX_HEAD - 1, 0, r, NULL), WS_RESP_AGAIN);
    assert_int_equal(parse_exact(s, WS_RESP_DEFAULT_MAX_HEAD, 0, r, NULL),
                     WS_RESP_ERR_HEAD_TOO_LARGE);
    assert_int_equal(
        parse_exact(s, WS_RESP_DEFAULT_MAX_HEAD, WS_RESP_DEFAULT_MAX_HEAD - 1, r, NULL),
        WS_RESP_ERR_HEAD_TOO_LARGE);
    free(s);
    free(r);
}

static void test_default_header_count(void **state)
{
    struct ws_response *r = malloc(sizeof(*r));
    size_t len;
    char *s, *kept;

    (void)state;
    assert_non_null(r);
    s = make_head(WS_RESP_MAX_HEADERS, 4, &len);
    assert_int_equal(parse_exact(s, len, 0, r, &kept), (int)len);
    assert_int_equal(r->header_count, WS_RESP_MAX_HEADERS);
    assert_true(view_is(r->headers[WS_RESP_MAX_HEADERS - 1].value, "vvvv"));
    exact_free(kept, len);
    free(s);
    s = make_head(WS_RESP_MAX_HEADERS + 1, 4, &len);
    assert_int_equal(parse_exact(s, len, 0, r, NULL), WS_RESP_ERR_TOO_MANY_HEADERS);
    free(s);
    free(r);
}

/* The prev_len hint must not change answers for a big head fed a byte at a time. */
static void test_hinted_byte_at_a_time(void **state)
{
    struct ws_response *r = malloc(sizeof(*r));
    size_t len, prev = 0;
    char *s;
    int rc = WS_RESP_AGAIN;

    (void)state;
    assert_non_null(r);
    s = make_head(40, 100, &len);
    for (size_t k = 1; k <= len && rc == WS_RESP_AGAIN; k++) {
        rc = parse_exact(s, k, prev, r, NULL);
        if (k < len)
            assert_int_equal(rc, WS_RESP_AGAIN);
        prev = k;
    }
    assert_int_equal(rc, (int)len);
    assert_int_equal(r->header_count, 40);
    free(s);
    free(r);
}

/* Decodes body[0..len) in one exact piece; returns the result. */
static int decode_exact(struct ws_resp_body *b, const char *body, size_t len, size_t *received)
{
    char *buf = exact_copy(body, len);
    size_t off = 0;
    int rc = 0;

    while (off < len) {
        struct ws_view d;
        size_t used;
        rc = ws_resp_body_decode(b, buf + off, len - off, &used, &d);
        off += used;
        *received += d.len;
        if (rc != 0)
            break;
    }
    exact_free(buf, len);
    return rc;
}

static void test_chunk_line_limit(void **state)
{
    char *s = malloc(WS_RESP_MAX_CHUNK_LINE + 16);
    struct ws_resp_body b;
    size_t received = 0;

    (void)state;
    assert_non_null(s);
    /* "1;aaa...a\r\n" of exactly WS_RESP_MAX_CHUNK_LINE bytes, then "x\r\n0\r\n\r\n". */
    s[0] = '1';
    s[1] = ';';
    memset(s + 2, 'a', WS_RESP_MAX_CHUNK_LINE - 4);
    memcpy(s + WS_RESP_MAX_CHUNK_LINE - 2, "\r\nx\r\n0\r\n\r\n", 10);
    ws_resp_body_init(&b, WS_RESP_CHUNKED, 0);
    assert_int_equal(decode_exact(&b, s, WS_RESP_MAX_CHUNK_LINE + 8, &received), 1);
    assert_int_equal(received, 1);

    /* One more byte of extension. */
    s[0] = '1';
    s[1] = ';';
    memset(s + 2, 'a', WS_RESP_MAX_CHUNK_LINE - 3);
    memcpy(s + WS_RESP_MAX_CHUNK_LINE - 1, "\r\nx\r\n0\r\n\r\n", 10);
    ws_resp_body_init(&b, WS_RESP_CHUNKED, 0);
    assert_int_equal(decode_exact(&b, s, WS_RESP_MAX_CHUNK_LINE + 9, &received),
                     WS_RESP_ERR_CHUNK_LINE_TOO_LONG);

    /* Leading zeros count too: they cannot stretch a line for ever. */
    memset(s, '0', WS_RESP_MAX_CHUNK_LINE + 1);
    ws_resp_body_init(&b, WS_RESP_CHUNKED, 0);
    assert_int_equal(decode_exact(&b, s, WS_RESP_MAX_CHUNK_LINE + 1, &received),
                     WS_RESP_ERR_CHUNK_LINE_TOO_LONG);
    free(s);
}

static void test_trailer_limit(void **state)
{
    size_t cap = WS_RESP_MAX_TRAILER + 64;
    char *s = malloc(cap);
    struct ws_resp_body b;
    size_t received = 0;

    (void)state;
    assert_non_null(s);
    /* "0\r\n" + "X: vvv...v\r\n" + "\r\n": a trailer section of exactly the limit. */
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t trailer = WS_RESP_MAX_TRAILER + extra, pos = 0;
        memcpy(s, "0\r\nX: ", 6);
        pos = 6;
        memset(s + pos, 'v', trailer - 7);
        pos += trailer - 7;
        memcpy(s + pos, "\r\n\r\n", 4);
        pos += 4;
        assert_int_equal(pos, 3 + trailer);
        ws_resp_body_init(&b, WS_RESP_CHUNKED, 0);
        assert_int_equal(decode_exact(&b, s, pos, &received),
                         extra ? WS_RESP_ERR_TRAILER_TOO_LARGE : 1);
    }
    free(s);
}

/* Every byte value survives chunked decoding, in chunks of many sizes. */
static void test_binary_chunks(void **state)
{
    enum { DATA = 70000 };
    char *data = malloc(DATA), *wire = malloc(DATA * 2), *got = malloc(DATA);
    size_t pos = 0, off = 0, got_len = 0;
    uint32_t seed = 12345;
    struct ws_resp_body b;

    (void)state;
    assert_non_null(data);
    assert_non_null(wire);
    assert_non_null(got);
    for (size_t i = 0; i < DATA; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (char)(seed >> 16);
    }
    while (off < DATA) {
        size_t n = 1 + (off * 7919) % 5000;
        if (n > DATA - off)
            n = DATA - off;
        pos += (size_t)sprintf(wire + pos, "%zx\r\n", n);
        memcpy(wire + pos, data + off, n);
        pos += n;
        memcpy(wire + pos, "\r\n", 2);
        pos += 2;
        off += n;
    }
    memcpy(wire + pos, "0\r\n\r\n", 5);
    pos += 5;

    /* Fed in reads of varying size, as a socket would deliver them. */
    ws_resp_body_init(&b, WS_RESP_CHUNKED, 0);
    int rc = 0;
    for (size_t start = 0, step = 1; start < pos && rc == 0; step = step * 3 % 4099 + 1) {
        size_t n = step < pos - start ? step : pos - start;
        char *piece = exact_copy(wire + start, n);
        size_t o = 0;
        while (o < n) {
            struct ws_view d;
            size_t used;
            rc = ws_resp_body_decode(&b, piece + o, n - o, &used, &d);
            assert_true(got_len + d.len <= DATA);
            memcpy(got + got_len, d.ptr, d.len);
            got_len += d.len;
            o += used;
            if (rc != 0)
                break;
        }
        assert_int_equal(o, n);
        exact_free(piece, n);
        start += n;
    }
    assert_int_equal(rc, 1);
    assert_int_equal(got_len, DATA);
    assert_memory_equal(got, data, DATA);
    assert_int_equal(b.received, DATA);
    free(got);
    free(wire);
    free(data);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = WS_RESP_ERR_TRUNCATED; e <= WS_RESP_ERR_STATUS_LINE; e++)
        assert_string_not_equal(ws_resp_strerror(e), "unknown error");
    assert_string_equal(ws_resp_strerror(-1000), "unknown error");
}

static void test_header_lookup(void **state)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nA: 1\r\nb: 2\r\nA: 3\r\n\r\n";
    struct ws_response *r = malloc(sizeof(*r));
    char *kept;

    (void)state;
    assert_non_null(r);
    assert_int_equal(parse_exact(head, sizeof(head) - 1, 0, r, &kept), (int)sizeof(head) - 1);
    assert_true(view_is(ws_resp_header(r, "a")->value, "1")); /* the first of two */
    assert_true(view_is(ws_resp_header(r, "B")->value, "2"));
    assert_null(ws_resp_header(r, "c"));
    assert_true(view_is(r->reason, "OK"));
    assert_true(view_is(r->status_line, "HTTP/1.1 200 OK"));
    exact_free(kept, sizeof(head) - 1);
    free(r);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int main(void)
{
    static struct CMUnitTest head_tests[COUNT(head_cases)];
    static struct CMUnitTest body_tests[COUNT(body_cases)];
    static const struct CMUnitTest other_tests[] = {
        cmocka_unit_test(test_default_head_limit),
        cmocka_unit_test(test_default_header_count),
        cmocka_unit_test(test_hinted_byte_at_a_time),
        cmocka_unit_test(test_chunk_line_limit),
        cmocka_unit_test(test_trailer_limit),
        cmocka_unit_test(test_binary_chunks),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_header_lookup),
    };
    int failed = 0;

    for (size_t i = 0; i < COUNT(head_cases); i++)
        head_tests[i] = (struct CMUnitTest){ .name = head_cases[i].desc,
                                             .test_func = run_head_case,
                                             .initial_state = &head_cases[i] };
    for (size_t i = 0; i < COUNT(body_cases); i++)
        body_tests[i] = (struct CMUnitTest){ .name = body_cases[i].desc,
                                             .test_func = run_body_case,
                                             .initial_state = &body_cases[i] };
    failed += _cmocka_run_group_tests("response heads", head_tests, COUNT(head_tests), NULL, NULL);
    failed += _cmocka_run_group_tests("response bodies", body_tests, COUNT(body_tests), NULL, NULL);
    failed += cmocka_run_group_tests_name("limits and helpers", other_tests, NULL, NULL);
    return failed == 0 ? 0 : 1;
}
