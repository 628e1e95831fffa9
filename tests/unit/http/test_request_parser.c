/*
 * http/test_request_parser.c - the request parser (the chunked decoder: test_chunked.c).
 *
 * Every input is copied into a heap block of exactly its size with no
 * terminator (exact_copy), so reading one byte too far is an ASan error. Each
 * row is checked four ways: in one call; every prefix (which must not
 * complete early and may only fail with the row's own status); fed byte by
 * byte with prev_len, as a slow client would send it; and in two pieces at
 * every split point with prev_len. The last two must reach the same answer as
 * the single call.
 */
#include "test_util.h"

#include "http/request_parser.h"

#include <stdio.h>

#define WHOLE 1000000 /* expected result: the whole input is the header section */
#define AGAIN WS_PARSE_AGAIN

#define M_UNKNOWN WS_METHOD_UNKNOWN
#define M_GET     WS_METHOD_GET
#define M_HEAD    WS_METHOD_HEAD
#define M_POST    WS_METHOD_POST
#define M_PUT     WS_METHOD_PUT
#define M_DELETE  WS_METHOD_DELETE
#define M_CONNECT WS_METHOD_CONNECT
#define M_OPTIONS WS_METHOD_OPTIONS
#define M_TRACE   WS_METHOD_TRACE
#define M_PATCH   WS_METHOD_PATCH
#define ORIG      WS_TARGET_ORIGIN
#define ABS       WS_TARGET_ABSOLUTE
#define AUTH      WS_TARGET_AUTHORITY
#define STAR      WS_TARGET_ASTERISK

struct parse_case {
    const char *desc;
    const char *input;
    size_t len;
    int result;  /* WHOLE, a byte count, AGAIN or -status */
    int checked; /* the fields below are meaningful (success rows) */
    int method;
    int form;
    const char *target, *path, *query, *host;
    int version;
    int keep_alive;
    long long content_length;
    int chunked;
};

/* clang-format off */
/* A success row: result, then the fields the parse must produce. */
#define OK(d, in, res, m, f, t, p, q, h, v, ka, cl, ch) { d, in, LIT_LEN(in), res, 1, m, f, t, p, q, h, v, ka, cl, ch }
/* A row checked by its result alone: an error status or AGAIN. */
#define R(d, in, res) { .desc = d, .input = in, .len = LIT_LEN(in), .result = res }
/* clang-format on */

#define L1    "GET / HTTP/1.1\r\n"
#define L10   "GET / HTTP/1.0\r\n"
#define H     "Host: h\r\n"
#define REQ1  "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
#define POST1 "POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"

static const struct ws_parse_limits default_limits = { 8192, 16384, 100 };

/* clang-format off */
static const struct parse_case parse_cases[] = {
    /* description                                  input                                                             result        method     form  target                    path      query     host          ver ka cl  ch */
    OK("simple GET",                                L1 H "\r\n",                                                      WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("HEAD with path and query",                  "HEAD /a/b?x=1&y HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",     WHOLE,        M_HEAD,    ORIG, "/a/b?x=1&y",             "/a/b",   "x=1&y",  "example.com:8080", 11, 1, -1, 0),
    OK("empty query after ?",                       "GET /a? HTTP/1.1\r\n" H "\r\n",                                  WHOLE,        M_GET,     ORIG, "/a?",                    "/a",     "",       "h",          11, 1, -1, 0),
    OK("second ? belongs to the query",             "GET /a?b?c HTTP/1.1\r\n" H "\r\n",                               WHOLE,        M_GET,     ORIG, "/a?b?c",                 "/a",     "b?c",    "h",          11, 1, -1, 0),
    OK("target kept percent-encoded, obs-text ok",  "GET /%41%2F\x80\xff HTTP/1.1\r\n" H "\r\n",                      WHOLE,        M_GET,     ORIG, "/%41%2F\x80\xff",        "/%41%2F\x80\xff", "", "h",      11, 1, -1, 0),
    OK("HTTP/1.0 without Host",                     L10 "\r\n",                                                       WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "",           10, 0, -1, 0),
    OK("HTTP/1.0 with Host",                        L10 H "\r\n",                                                     WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          10, 0, -1, 0),
    OK("HTTP/1.0 Connection: keep-alive",           L10 "Connection: keep-alive\r\n\r\n",                             WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "",           10, 1, -1, 0),
    OK("HTTP/1.0 Keep-Alive in any case",           L10 "connection: Keep-Alive\r\n\r\n",                             WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "",           10, 1, -1, 0),
    OK("HTTP/1.0 keep-alive, close: close wins",    L10 "Connection: keep-alive, close\r\n\r\n",                      WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "",           10, 0, -1, 0),
    OK("HTTP/1.0 keep-alive on a second line",      L10 "Connection: foo\r\nConnection: keep-alive\r\n\r\n",          WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "",           10, 1, -1, 0),
    OK("HTTP/1.0 other Connection token",           L10 "Connection: upgrade\r\n\r\n",                                WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "",           10, 0, -1, 0),
    OK("HTTP/1.1 Connection: close",                L1 H "Connection: close\r\n\r\n",                                 WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 0, -1, 0),
    OK("HTTP/1.1 Connection: CLOSE in any case",    L1 H "Connection: CLOSE\r\n\r\n",                                 WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 0, -1, 0),
    OK("Connection: close,, (empty elements)",      L1 H "Connection: close,,\r\n\r\n",                               WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 0, -1, 0),
    OK("Connection: ,, keep-alive ,\\tclose",       L1 H "Connection: ,, keep-alive ,\tclose\r\n\r\n",                WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 0, -1, 0),
    OK("Connection: close on a second line",        L1 H "Connection: te\r\nConnection: close\r\n\r\n",               WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 0, -1, 0),
    OK("Connection: Upgrade, foo stays open",       L1 H "Connection: Upgrade, foo\r\n\r\n",                          WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("Connection: closed is not close",           L1 H "Connection: closed\r\n\r\n",                                WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("HTTP/1.1 Connection: keep-alive",           L1 H "Connection: keep-alive\r\n\r\n",                            WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("HTTP/1.2 is treated as HTTP/1.1",           "GET / HTTP/1.2\r\n" H "\r\n",                                    WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("HTTP/1.9 is treated as HTTP/1.1",           "GET / HTTP/1.9\r\n" H "\r\n",                                    WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("bare LF line endings",                      "GET / HTTP/1.1\nHost: h\n\n",                                    WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("mixed CRLF and LF",                         "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\n",                          WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("leading CRLF lines",                        "\r\n\r\n" L1 H "\r\n",                                           WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("leading LF lines",                          "\n\n" L1 H "\r\n",                                               WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("pipelined: stops at the end of the first",  REQ1 "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n",                        LIT_LEN(REQ1), M_GET,    ORIG, "/1",                     "/1",     "",       "h",          11, 1, -1, 0),
    OK("pipelined: partial second request",         REQ1 "GET /2 HT",                                                 LIT_LEN(REQ1), M_GET,    ORIG, "/1",                     "/1",     "",       "h",          11, 1, -1, 0),
    OK("pipelined: garbage after the first",        REQ1 "\x01\x02 junk\r\n\r\n",                                     LIT_LEN(REQ1), M_GET,    ORIG, "/1",                     "/1",     "",       "h",          11, 1, -1, 0),
    OK("body bytes are not consumed",               POST1 "hello",                                                    LIT_LEN(POST1), M_POST,  ORIG, "/f",                     "/f",     "",       "h",          11, 1,  5, 0),
    OK("Content-Length: 0",                         L1 H "Content-Length: 0\r\n\r\n",                                 WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1,  0, 0),
    OK("Content-Length: 5, 5 is 5",                 L1 H "Content-Length: 5, 5\r\n\r\n",                              WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1,  5, 0),
    OK("two equal Content-Length lines",            L1 H "Content-Length: 5\r\ncontent-length: 5\r\n\r\n",            WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1,  5, 0),
    OK("Content-Length with leading zeros",         L1 H "Content-Length: 007\r\n\r\n",                               WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1,  7, 0),
    OK("Content-Length with OWS",                   L1 H "Content-Length: \t 7 \t\r\n\r\n",                           WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1,  7, 0),
    OK("Content-Length INT64_MAX",                  L1 H "Content-Length: 9223372036854775807\r\n\r\n",           WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, INT64_MAX, 0),
    OK("Content-Length with 18 digits",             L1 H "Content-Length: 123456789012345678\r\n\r\n",                WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, 123456789012345678LL, 0),
    OK("Transfer-Encoding: chunked",                "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n",    WHOLE,        M_POST,    ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 1),
    OK("Transfer-Encoding: CHUNKED in any case",    "POST / HTTP/1.1\r\n" H "transfer-encoding: CHUNKED\r\n\r\n",    WHOLE,        M_POST,    ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 1),
    OK("Transfer-Encoding: , chunked ,",            "POST / HTTP/1.1\r\n" H "Transfer-Encoding: , chunked ,\r\n\r\n", WHOLE,       M_POST,    ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 1),
    OK("unknown method token: success",             "BREW /pot HTTP/1.1\r\n" H "\r\n",                                WHOLE,        M_UNKNOWN, ORIG, "/pot",                   "/pot",   "",       "h",          11, 1, -1, 0),
    OK("method names are case-sensitive",           "get / HTTP/1.1\r\n" H "\r\n",                                    WHOLE,        M_UNKNOWN, ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("GETX is not GET",                           "GETX / HTTP/1.1\r\n" H "\r\n",                                   WHOLE,        M_UNKNOWN, ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("method with tchar symbols",                 "M-SEARCH * HTTP/1.1\r\n" H "\r\n",                               WHOLE,        M_UNKNOWN, STAR, "*",                      "*",      "",       "h",          11, 1, -1, 0),
    OK("POST",                                      "POST / HTTP/1.1\r\n" H "\r\n",                                   WHOLE,        M_POST,    ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("PUT",                                       "PUT / HTTP/1.1\r\n" H "\r\n",                                    WHOLE,        M_PUT,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("DELETE",                                    "DELETE / HTTP/1.1\r\n" H "\r\n",                                 WHOLE,        M_DELETE,  ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("TRACE",                                     "TRACE / HTTP/1.1\r\n" H "\r\n",                                  WHOLE,        M_TRACE,   ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("PATCH",                                     "PATCH / HTTP/1.1\r\n" H "\r\n",                                  WHOLE,        M_PATCH,   ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("OPTIONS asterisk-form",                     "OPTIONS * HTTP/1.1\r\n" H "\r\n",                                WHOLE,        M_OPTIONS, STAR, "*",                      "*",      "",       "h",          11, 1, -1, 0),
    OK("OPTIONS origin-form",                       "OPTIONS /x HTTP/1.1\r\n" H "\r\n",                               WHOLE,        M_OPTIONS, ORIG, "/x",                     "/x",     "",       "h",          11, 1, -1, 0),
    OK("CONNECT authority-form",                    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", WHOLE,     M_CONNECT, AUTH, "example.com:443",        "example.com:443", "", "example.com:443", 11, 1, -1, 0),
    OK("CONNECT IPv6 authority",                    "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",          WHOLE,        M_CONNECT, AUTH, "[::1]:443",              "[::1]:443", "",    "[::1]:443",  11, 1, -1, 0),
    OK("absolute-form: host from the target",       "GET http://example.com/a?b HTTP/1.1\r\nHost: other\r\n\r\n",     WHOLE,        M_GET,     ABS,  "http://example.com/a?b", "/a",     "b",      "example.com", 11, 1, -1, 0),
    OK("absolute-form without a path",              "GET http://example.com HTTP/1.1\r\n" H "\r\n",                   WHOLE,        M_GET,     ABS,  "http://example.com",     "/",      "",       "example.com", 11, 1, -1, 0),
    OK("absolute-form with a query but no path",    "GET http://example.com?q HTTP/1.1\r\n" H "\r\n",                 WHOLE,        M_GET,     ABS,  "http://example.com?q",   "/",      "q",      "example.com", 11, 1, -1, 0),
    OK("absolute-form https, scheme in any case",   "GET HTTPS://Example.COM:8443/x HTTP/1.1\r\n" H "\r\n",           WHOLE,        M_GET,     ABS,  "HTTPS://Example.COM:8443/x", "/x", "",     "Example.COM:8443", 11, 1, -1, 0),
    OK("absolute-form IPv6 literal",                "GET http://[::1]:8080/ HTTP/1.1\r\n" H "\r\n",                   WHOLE,        M_GET,     ABS,  "http://[::1]:8080/",     "/",      "",       "[::1]:8080", 11, 1, -1, 0),
    OK("absolute-form in HTTP/1.0 without Host",    "GET http://h/x HTTP/1.0\r\n\r\n",                                WHOLE,        M_GET,     ABS,  "http://h/x",             "/x",     "",       "h",          10, 0, -1, 0),
    OK("Host without space after the colon",        L1 "Host:h\r\n\r\n",                                              WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("Host value OWS trimmed",                    L1 "Host: \t h \t\r\n\r\n",                                       WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("Host field name in any case",               L1 "hOsT: h\r\n\r\n",                                             WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("Host IPv4 with port",                       L1 "Host: 127.0.0.1:80\r\n\r\n",                                  WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "127.0.0.1:80", 11, 1, -1, 0),
    OK("Host IPv6 literal",                         L1 "Host: [::1]\r\n\r\n",                                         WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "[::1]",      11, 1, -1, 0),
    OK("Host with an empty port (RFC 3986)",        L1 "Host: h:\r\n\r\n",                                            WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h:",         11, 1, -1, 0),
    OK("Host reg-name with sub-delims",             L1 "Host: a-b_c~d.example\r\n\r\n",                               WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "a-b_c~d.example", 11, 1, -1, 0),
    OK("obs-text in a field value",                 L1 H "X: caf\xc3\xa9\r\n\r\n",                                    WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),
    OK("empty field value",                         L1 H "X:\r\nY: \r\n\r\n",                                         WHOLE,        M_GET,     ORIG, "/",                      "/",      "",       "h",          11, 1, -1, 0),

    /* bare CR, folding and whitespace (RFC 9112 §2.2, §5.1, §5.2) */
    R("bare CR ends the request line",              "GET / HTTP/1.1\rHost: h\r\n\r\n",                                -400),
    R("bare CR inside a field value",               L1 "X: a\rb\r\n" H "\r\n",                                        -400),
    R("CR CR LF after a field",                     L1 "Host: h\r\r\n\r\n",                                           -400),
    R("bare CR as the empty line",                  L1 H "\r\r\n",                                                    -400),
    R("bare CR before the request line",            "\rGET / HTTP/1.1\r\n" H "\r\n",                                  -400),
    R("obs-fold with SP",                           L1 H "X: a\r\n b\r\n\r\n",                                        -400),
    R("obs-fold with HTAB",                         L1 H "X: a\r\n\tb\r\n\r\n",                                       -400),
    R("whitespace before the first field line",     L1 " Host: h\r\n\r\n",                                            -400),
    R("SP before the colon",                        L1 "Host : h\r\n\r\n",                                            -400),
    R("HTAB before the colon",                      L1 "Host\t: h\r\n\r\n",                                           -400),
    R("field line without a colon",                 L1 H "Xyz\r\n\r\n",                                               -400),
    R("empty field name",                           L1 H ": v\r\n\r\n",                                               -400),
    R("non-tchar in a field name",                  L1 H "X(Y: v\r\n\r\n",                                            -400),
    R("NUL in a field name",                        L1 H "X\0Y: v\r\n\r\n",                                           -400),
    R("NUL in a field value",                       L1 H "X: a\0b\r\n\r\n",                                           -400),
    R("CTL 0x01 in a field value",                  L1 H "X: a\x01" "b\r\n\r\n",                                      -400),
    R("ESC in a field value",                       L1 H "X: \x1b[31m\r\n\r\n",                                       -400),
    R("DEL in a field value",                       L1 H "X: a\x7f\r\n\r\n",                                          -400),
    /* request line (RFC 9112 §3) */
    R("HTAB between method and target",             "GET\t/ HTTP/1.1\r\n" H "\r\n",                                   -400),
    R("HTAB between target and version",            "GET /\tHTTP/1.1\r\n" H "\r\n",                                   -400),
    R("HTAB inside the target",                     "GET /a\tb HTTP/1.1\r\n" H "\r\n",                                -400),
    R("two SP after the method",                    "GET  / HTTP/1.1\r\n" H "\r\n",                                   -400),
    R("two SP after the target",                    "GET /  HTTP/1.1\r\n" H "\r\n",                                   -400),
    R("SP after the version",                       "GET / HTTP/1.1 \r\n" H "\r\n",                                   -400),
    R("SP before the method",                       " GET / HTTP/1.1\r\n" H "\r\n",                                   -400),
    R("NUL in the target",                          "GET /a\0b HTTP/1.1\r\n" H "\r\n",                                -400),
    R("DEL in the target",                          "GET /a\x7f HTTP/1.1\r\n" H "\r\n",                               -400),
    R("missing target",                             "GET HTTP/1.1\r\n" H "\r\n",                                      -400),
    R("HTTP/0.9 request line",                      "GET /\r\n",                                                      -400),
    R("HTTP/0.9 request line with bare LF",         "GET /\n",                                                        -400),
    R("lowercase http/1.1",                         "GET / http/1.1\r\n" H "\r\n",                                    -400),
    R("mixed-case Http/1.1",                        "GET / Http/1.1\r\n" H "\r\n",                                    -400),
    R("HTTP/2.0",                                   "GET / HTTP/2.0\r\n" H "\r\n",                                    -505),
    R("HTTP/3.0",                                   "GET / HTTP/3.0\r\n" H "\r\n",                                    -505),
    R("HTTP/0.9 spelled out",                       "GET / HTTP/0.9\r\n\r\n",                                         -505),
    R("version without a minor",                    "GET / HTTP/1\r\n" H "\r\n",                                      -400),
    R("two-digit minor version",                    "GET / HTTP/1.10\r\n" H "\r\n",                                   -400),
    R("two-digit major version",                    "GET / HTTP/11.1\r\n" H "\r\n",                                   -400),
    R("letter as minor version",                    "GET / HTTP/1.x\r\n" H "\r\n",                                    -400),
    R("junk after the version",                     "GET / HTTP/1.1x\r\n" H "\r\n",                                   -400),
    R("invalid byte in the method",                 "GE(T / HTTP/1.1\r\n" H "\r\n",                                   -400),
    R("@ in the method",                            "GET@ / HTTP/1.1\r\n" H "\r\n",                                   -400),
    R("NUL in the method",                          "G\0T / HTTP/1.1\r\n" H "\r\n",                                   -400),
    R("obs-text in the method",                     "G\xc3\xa9T / HTTP/1.1\r\n" H "\r\n",                             -400),
    /* Host (RFC 9112 §3.2, RFC 9110 §7.2) */
    R("missing Host in HTTP/1.1",                   L1 "\r\n",                                                        -400),
    R("missing Host in HTTP/1.2",                   "GET / HTTP/1.2\r\n\r\n",                                         -400),
    R("duplicate Host",                             L1 H H "\r\n",                                                    -400),
    R("duplicate Host, other case, same value",     L1 "Host: h\r\nHOST: h\r\n\r\n",                                  -400),
    R("duplicate Host in HTTP/1.0",                 L10 H H "\r\n",                                                   -400),
    R("empty Host",                                 L1 "Host:\r\n\r\n",                                               -400),
    R("whitespace-only Host",                       L1 "Host:  \t \r\n\r\n",                                          -400),
    R("Host with SP inside",                        L1 "Host: a b\r\n\r\n",                                           -400),
    R("Host with a path",                           L1 "Host: h/p\r\n\r\n",                                           -400),
    R("Host with userinfo",                         L1 "Host: u@h\r\n\r\n",                                           -400),
    R("Host with a non-digit port",                 L1 "Host: h:8o\r\n\r\n",                                          -400),
    R("Host with two colons",                       L1 "Host: h:1:2\r\n\r\n",                                         -400),
    R("Host with a port but no name",               L1 "Host: :80\r\n\r\n",                                           -400),
    R("Host with an unclosed IPv6 literal",         L1 "Host: [::1\r\n\r\n",                                          -400),
    R("Host with an empty IPv6 literal",            L1 "Host: []\r\n\r\n",                                            -400),
    R("Host with junk after the IPv6 literal",      L1 "Host: [::1]x\r\n\r\n",                                        -400),
    R("Host with obs-text",                         L1 "Host: h\xc3\xa9\r\n\r\n",                                     -400),
    R("Host in HTTP/1.0 must be valid too",         L10 "Host: a b\r\n\r\n",                                          -400),
    R("absolute-form still needs Host in 1.1",      "GET http://h/ HTTP/1.1\r\n\r\n",                                 -400),
    R("absolute-form with an invalid Host",         "GET http://h/ HTTP/1.1\r\nHost: a/b\r\n\r\n",                    -400),
    R("absolute-form with an empty Host",           "GET http://h/ HTTP/1.1\r\nHost:\r\n\r\n",                        -400),
    R("absolute-form with two Host fields",         "GET http://h/ HTTP/1.1\r\n" H H "\r\n",                          -400),
    R("absolute-form with an empty authority",      "GET http:///a HTTP/1.1\r\n" H "\r\n",                            -400),
    R("absolute-form with userinfo",                "GET http://u:p@h/ HTTP/1.1\r\n" H "\r\n",                        -400),
    R("absolute-form with an unknown scheme",       "GET ftp://h/ HTTP/1.1\r\n" H "\r\n",                             -400),
    R("authority-form without CONNECT",             "GET h:80 HTTP/1.1\r\n" H "\r\n",                                 -400),
    R("CONNECT with an invalid authority",          "CONNECT u@h:443 HTTP/1.1\r\n" H "\r\n",                          -400),
    R("asterisk followed by more",                  "OPTIONS *x HTTP/1.1\r\n" H "\r\n",                               -400),
    R("relative target",                            "GET a/b HTTP/1.1\r\n" H "\r\n",                                  -400),
    R("fragment in the path",                       "GET /a#b HTTP/1.1\r\n" H "\r\n",                                 -400),
    R("fragment in the query",                      "GET /a?b#c HTTP/1.1\r\n" H "\r\n",                               -400),
    R("fragment in absolute-form",                  "GET http://h/#x HTTP/1.1\r\n" H "\r\n",                          -400),
    /* Content-Length (RFC 9110 §8.6, RFC 9112 §6.3) */
    R("Content-Length: 5, 6",                       L1 H "Content-Length: 5, 6\r\n\r\n",                              -400),
    R("two Content-Length lines differ",            L1 H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",            -400),
    R("second Content-Length list differs",         L1 H "Content-Length: 5\r\nContent-Length: 5, 6\r\n\r\n",         -400),
    R("Content-Length not a number",                L1 H "Content-Length: abc\r\n\r\n",                               -400),
    R("Content-Length digit then letter",           L1 H "Content-Length: 5a\r\n\r\n",                                -400),
    R("Content-Length negative",                    L1 H "Content-Length: -1\r\n\r\n",                                -400),
    R("Content-Length with plus sign",              L1 H "Content-Length: +5\r\n\r\n",                                -400),
    R("Content-Length empty",                       L1 H "Content-Length:\r\n\r\n",                                   -400),
    R("Content-Length only commas",                 L1 H "Content-Length: , ,\r\n\r\n",                               -400),
    R("Content-Length empty element 5,,5",          L1 H "Content-Length: 5,,5\r\n\r\n",                              -400),
    R("Content-Length trailing comma",              L1 H "Content-Length: 3,\r\n\r\n",                                -400),
    R("Content-Length leading comma",               L1 H "Content-Length: ,3\r\n\r\n",                                -400),
    R("Content-Length with inner space",            L1 H "Content-Length: 5 5\r\n\r\n",                               -400),
    R("Content-Length hex",                         L1 H "Content-Length: 0x10\r\n\r\n",                              -400),
    R("Content-Length with a decimal point",        L1 H "Content-Length: 1.0\r\n\r\n",                               -400),
    R("Content-Length 2^63 overflows int64",        L1 H "Content-Length: 9223372036854775808\r\n\r\n",               -400),
    R("Content-Length 2^64 would wrap to 0",        L1 H "Content-Length: 18446744073709551616\r\n\r\n",              -400),
    R("Content-Length with 30 digits",              L1 H "Content-Length: 123456789012345678901234567890\r\n\r\n",    -400),
    /* Transfer-Encoding (RFC 9112 §6.1) */
    R("Content-Length and Transfer-Encoding",       "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -400),
    R("Transfer-Encoding and Content-Length",       "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", -400),
    R("Transfer-Encoding in HTTP/1.0",              "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",         -400),
    R("Transfer-Encoding: gzip, chunked",           "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", -501),
    R("gzip and chunked on two lines",              "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", -501),
    R("Transfer-Encoding: chunked, gzip",           "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", -400),
    R("Transfer-Encoding: chunked, chunked",        "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n", -400),
    R("chunked on two lines",                       "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", -400),
    R("Transfer-Encoding: gzip alone",              "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n",       -400),
    R("Transfer-Encoding: identity",                "POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n",   -400),
    R("chunked with a parameter",                   "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;q=1\r\n\r\n", -400),
    R("empty Transfer-Encoding",                    "POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n",            -400),
    R("Transfer-Encoding not a token",              "POST / HTTP/1.1\r\n" H "Transfer-Encoding: \"chunked\"\r\n\r\n", -400),
    /* incomplete */
    R("nothing yet",                                "",                                                               AGAIN),
    R("method only",                                "GET",                                                            AGAIN),
    R("version cut short",                          "GET / HTTP/1.",                                                  AGAIN),
    R("request line only",                          L1,                                                               AGAIN),
    R("fields without the empty line",              L1 H,                                                             AGAIN),
    R("final CR without its LF",                    L1 H "\r",                                                        AGAIN),
    R("leading empty line only",                    "\r\n",                                                           AGAIN),
    R("lone CR",                                    "\r",                                                             AGAIN),
    R("field value cut short",                      L1 "Host: ex",                                                    AGAIN),
};
/* clang-format on */

/* A view lies inside buf[0..len), or is empty. */
static int view_in(struct ws_view v, const char *buf, size_t len)
{
    return v.len == 0 || (v.ptr >= buf && v.ptr + v.len <= buf + len);
}

static void check_fields(const struct parse_case *c, const struct ws_request *req, const char *buf,
                         size_t len)
{
    const char *d = c->desc;

    if (!c->checked)
        return;
    check_int(d, req->method, c->method);
    check_int(d, req->target_form, c->form);
    check_mem(d, req->target.ptr, req->target.len, c->target);
    check_mem(d, req->path.ptr, req->path.len, c->path);
    check_mem(d, req->query.ptr, req->query.len, c->query);
    check_mem(d, req->host.ptr, req->host.len, c->host);
    check_int(d, req->version, c->version);
    check_int(d, req->keep_alive, c->keep_alive);
    check_int(d, req->content_length, c->content_length);
    check_int(d, req->chunked, c->chunked);

    /* Views point into the caller's buffer (the implied "/" path excepted). */
    check_true(d, view_in(req->method_name, buf, len));
    check_true(d, view_in(req->target, buf, len));
    check_true(d, view_in(req->query, buf, len));
    check_true(d, view_in(req->host, buf, len));
    check_true(d, view_in(req->request_line, buf, len));
    check_true(d, req->request_line.ptr == req->method_name.ptr);
    check_true(d, req->request_line.len > 0 &&
                      req->request_line.ptr[req->request_line.len - 1] != '\r');
    for (size_t i = 0; i < req->header_count; i++) {
        check_true(d, view_in(req->headers[i].name, buf, len));
        check_true(d, view_in(req->headers[i].value, buf, len));
    }
}

/* One parse of buf[0..len) placed in an exactly-sized block. */
static int parse_exact(const char *buf, size_t len, size_t prev_len,
                       const struct ws_parse_limits *lim, struct ws_request *req, char **copy)
{
    *copy = exact_copy(buf, len);
    return ws_http_parse_request(*copy, len, prev_len, lim, req);
}

/*
 * Runs the four checks described at the top of this file. c supplies the
 * expected fields of a success (c->checked), or NULL.
 */
static void check_all_ways(const char *desc, const char *input, size_t len, int expected,
                           const struct ws_parse_limits *lim, const struct parse_case *c)
{
    struct ws_request req;
    char *copy;
    size_t prev = 0, k;
    int rc;

    if (expected == WHOLE)
        expected = (int)len;

    /* 1: one call */
    rc = parse_exact(input, len, 0, lim, &req, &copy);
    check_int(desc, rc, expected);
    if (rc > 0 && c != NULL)
        check_fields(c, &req, copy, len);
    free(copy);

    /* 2: every prefix */
    for (k = 0; k < len; k++) {
        rc = parse_exact(input, k, 0, lim, &req, &copy);
        free(copy);
        if (expected > 0) {
            check_int(desc, rc, (int)k < expected ? AGAIN : expected);
        } else if (rc != AGAIN && rc != expected) {
            print_error("case \"%s\": prefix of %zu bytes gives %d, not %d or AGAIN\n", desc, k, rc,
                        expected);
            fail();
        }
    }

    /* 3: byte by byte with prev_len, stopping at the first answer */
    rc = AGAIN;
    for (k = 1; k <= len; k++) {
        rc = parse_exact(input, k, prev, lim, &req, &copy);
        if (rc != AGAIN) {
            if (rc > 0 && c != NULL)
                check_fields(c, &req, copy, k);
            free(copy);
            break;
        }
        free(copy);
        prev = k;
    }
    check_int(desc, rc, expected);

    /* 4: two pieces, the second with prev_len at every split point */
    for (k = 1; k < len; k++) {
        rc = parse_exact(input, k, 0, lim, &req, &copy);
        free(copy);
        if (rc != AGAIN)
            continue; /* the prefix answered by itself: checked in step 2 */
        rc = parse_exact(input, len, k, lim, &req, &copy);
        if (rc != expected)
            print_error("case \"%s\": split at %zu\n", desc, k);
        check_int(desc, rc, expected);
        if (rc > 0 && c != NULL)
            check_fields(c, &req, copy, len);
        free(copy);
    }
}

static void test_parse_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        check_all_ways(c->desc, c->input, c->len, c->result, &default_limits, c);
    }
}

/* Limits: inputs are built to a length relative to the limit under test. */
#define RL 64  /* max_request_line */
#define HD 256 /* max_head */
#define NH 4   /* max_headers */

static const struct ws_parse_limits small_limits = { RL, HD, NH };
static const struct ws_parse_limits cap_limits = { 8192, 16384, 1000 };

enum shape {
    LINE,              /* request line of n bytes, then Host and the empty line */
    LINE_LF,           /* the same with bare LF terminators */
    LINE_LEADING,      /* "\r\n\r\n" first, then as LINE */
    LINE_OPEN,         /* a request line of n bytes, still unterminated */
    LINE_OPEN_CR,      /* a request line of n bytes and the CR of its terminator */
    LINE_OPEN_LEADING, /* "\r\n" then an unterminated request line of n bytes */
    METHOD_OPEN,       /* n method bytes and nothing else */
    HEAD,              /* a complete header section of n bytes */
    HEAD_OPEN,         /* n bytes of complete field lines, no empty line yet */
    HEAD_OPEN_MID,     /* n bytes ending inside a field value */
    FIELDS,            /* Host plus n - 1 other field lines: n fields */
};

struct limit_case {
    const char *desc;
    enum shape shape;
    size_t n;
    const struct ws_parse_limits *lim;
    int result;
};

/* clang-format off */
static const struct limit_case limit_cases[] = {
    { "request line at limit - 1",                         LINE,              RL - 1, &small_limits, WHOLE },
    { "request line at limit",                             LINE,              RL,     &small_limits, WHOLE },
    { "request line at limit + 1",                         LINE,              RL + 1, &small_limits, -414 },
    { "request line at limit, bare LF",                    LINE_LF,           RL,     &small_limits, WHOLE },
    { "request line at limit + 1, bare LF",                LINE_LF,           RL + 1, &small_limits, -414 },
    { "leading empty lines do not count, at limit",        LINE_LEADING,      RL,     &small_limits, WHOLE },
    { "leading empty lines do not count, at limit + 1",    LINE_LEADING,      RL + 1, &small_limits, -414 },
    { "unterminated request line at limit",                LINE_OPEN,         RL,     &small_limits, AGAIN },
    { "unterminated request line at limit + 1",            LINE_OPEN,         RL + 1, &small_limits, -414 },
    { "unterminated request line far over the limit",      LINE_OPEN,         3 * RL, &small_limits, -414 },
    { "request line at limit, only its CR arrived",        LINE_OPEN_CR,      RL,     &small_limits, AGAIN },
    { "request line at limit + 1, only its CR arrived",    LINE_OPEN_CR,      RL + 1, &small_limits, -414 },
    { "after an empty line, unterminated at limit",        LINE_OPEN_LEADING, RL,     &small_limits, AGAIN },
    { "after an empty line, unterminated at limit + 1",    LINE_OPEN_LEADING, RL + 1, &small_limits, -414 },
    { "method without SP at limit",                        METHOD_OPEN,       RL,     &small_limits, AGAIN },
    { "method without SP at limit + 1",                    METHOD_OPEN,       RL + 1, &small_limits, -414 },
    { "header section at limit - 1",                       HEAD,              HD - 1, &small_limits, WHOLE },
    { "header section at limit",                           HEAD,              HD,     &small_limits, WHOLE },
    { "header section at limit + 1",                       HEAD,              HD + 1, &small_limits, -431 },
    { "unterminated header section at limit - 1",          HEAD_OPEN,         HD - 1, &small_limits, AGAIN },
    { "unterminated header section at limit",              HEAD_OPEN,         HD,     &small_limits, -431 },
    { "unterminated header section at limit + 1",          HEAD_OPEN,         HD + 1, &small_limits, -431 },
    { "header section ending mid-value at limit - 1",      HEAD_OPEN_MID,     HD - 1, &small_limits, AGAIN },
    { "header section ending mid-value at limit",          HEAD_OPEN_MID,     HD,     &small_limits, -431 },
    { "header section ending mid-value far over the limit", HEAD_OPEN_MID,    4 * HD, &small_limits, -431 },
    { "field lines at limit - 1",                          FIELDS,            NH - 1, &small_limits, WHOLE },
    { "field lines at limit",                              FIELDS,            NH,     &small_limits, WHOLE },
    { "field lines at limit + 1",                          FIELDS,            NH + 1, &small_limits, -431 },
    { "field lines at WS_MAX_HEADERS",                     FIELDS,            WS_MAX_HEADERS,     &cap_limits, WHOLE },
    { "field lines beyond WS_MAX_HEADERS (cap)",           FIELDS,            WS_MAX_HEADERS + 1, &cap_limits, -431 },
};
/* clang-format on */

/* Appends s to buf at *w. */
static void put(char *buf, size_t *w, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf + *w, s, n);
    *w += n;
}

/* Appends "GET /aaa... HTTP/1.1" of exactly n (>= 14) bytes. */
static void put_request_line(char *buf, size_t *w, size_t n)
{
    put(buf, w, "GET /");
    memset(buf + *w, 'a', n - 14);
    *w += n - 14;
    put(buf, w, " HTTP/1.1");
}

static size_t build_limit_input(const struct limit_case *c, char *buf)
{
    size_t w = 0, k;

    switch (c->shape) {
    case LINE:
        put_request_line(buf, &w, c->n);
        put(buf, &w, "\r\nHost: h\r\n\r\n");
        break;
    case LINE_LF:
        put_request_line(buf, &w, c->n);
        put(buf, &w, "\nHost: h\n\n");
        break;
    case LINE_LEADING:
        put(buf, &w, "\r\n\r\n");
        put_request_line(buf, &w, c->n);
        put(buf, &w, "\r\nHost: h\r\n\r\n");
        break;
    case LINE_OPEN: put_request_line(buf, &w, c->n); break;
    case LINE_OPEN_CR:
        put_request_line(buf, &w, c->n);
        put(buf, &w, "\r");
        break;
    case LINE_OPEN_LEADING:
        put(buf, &w, "\r\n");
        put_request_line(buf, &w, c->n);
        break;
    case METHOD_OPEN:
        memset(buf, 'M', c->n);
        w = c->n;
        break;
    case HEAD: /* 32 fixed bytes around the X value */
    case HEAD_OPEN:
    case HEAD_OPEN_MID:
        put(buf, &w, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
        k = c->n - 32 + (c->shape == HEAD_OPEN ? 2 : c->shape == HEAD_OPEN_MID ? 4 : 0);
        memset(buf + w, 'v', k);
        w += k;
        if (c->shape == HEAD)
            put(buf, &w, "\r\n\r\n");
        else if (c->shape == HEAD_OPEN)
            put(buf, &w, "\r\n");
        break;
    case FIELDS:
        put(buf, &w, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (k = 1; k < c->n; k++)
            put(buf, &w, "X: 1\r\n");
        put(buf, &w, "\r\n");
        break;
    }
    return w;
}

static void test_parse_limits(void **state)
{
    static char buf[8192];

    for (size_t i = 0; i < ARRAY_LEN(limit_cases); i++) {
        const struct limit_case *c = &limit_cases[i];
        size_t len = build_limit_input(c, buf);
        if (c->shape == HEAD || c->shape == HEAD_OPEN || c->shape == HEAD_OPEN_MID)
            check_int(c->desc, len, c->n);
        check_all_ways(c->desc, buf, len, c->result, c->lim, NULL);
    }
}

/* Expect (RFC 9110 §10.1.1): 100-continue, or an expectation we cannot meet. */
struct expect_case {
    const char *desc;
    const char *input;
    size_t len;
    int expect_continue;
    int expect_other;
};

/* clang-format off */
#define X(d, in, cont, other) { d, in, LIT_LEN(in), cont, other }
/* clang-format on */

/* clang-format off */
static const struct expect_case expect_cases[] = {
    X("no Expect",                      L1 H "\r\n",                                   0, 0),
    X("Expect: 100-continue",           L1 H "Expect: 100-continue\r\n\r\n",           1, 0),
    X("Expect: 100-Continue any case",  L1 H "expect: 100-Continue\r\n\r\n",           1, 0),
    X("Expect with OWS",                L1 H "Expect: \t100-continue \r\n\r\n",        1, 0),
    X("Expect with an empty element",   L1 H "Expect: 100-continue,\r\n\r\n",          1, 0),
    X("Expect: 200-ok",                 L1 H "Expect: 200-ok\r\n\r\n",                 0, 1),
    X("Expect: 100-continue, foo",      L1 H "Expect: 100-continue, foo\r\n\r\n",      1, 1),
    X("Expect: 100-continued",          L1 H "Expect: 100-continued\r\n\r\n",          0, 1),
};
/* clang-format on */

static void test_parse_expect(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(expect_cases); i++) {
        const struct expect_case *c = &expect_cases[i];
        struct ws_request req;
        char *copy;
        int rc = parse_exact(c->input, c->len, 0, &default_limits, &req, &copy);
        check_int(c->desc, rc, c->len);
        check_int(c->desc, req.expect_continue, c->expect_continue);
        check_int(c->desc, req.expect_other, c->expect_other);
        free(copy);
    }
}

static void test_headers_and_lookup(void **state)
{
    static const char in[] =
        "GET / HTTP/1.1\r\nHost: h\r\nX-A:  one \r\nx-a: two\r\nEmpty:\r\n\r\n";
    struct ws_request req;
    char *copy;
    const struct ws_header *h;
    int rc = parse_exact(in, LIT_LEN(in), 0, &default_limits, &req, &copy);

    assert_int_equal(rc, LIT_LEN(in));
    assert_int_equal(req.header_count, 4);
    check_mem("headers", req.headers[1].name.ptr, req.headers[1].name.len, "X-A");
    check_mem("headers", req.headers[1].value.ptr, req.headers[1].value.len, "one");
    check_mem("headers", req.request_line.ptr, req.request_line.len, "GET / HTTP/1.1");
    check_mem("headers", req.method_name.ptr, req.method_name.len, "GET");
    h = ws_request_header(&req, "x-A");
    assert_non_null(h);
    check_mem("lookup returns the first", h->value.ptr, h->value.len, "one");
    h = ws_request_header(&req, "empty");
    assert_non_null(h);
    assert_int_equal(h->value.len, 0);
    assert_null(ws_request_header(&req, "X-B"));
    assert_null(ws_request_header(&req, "X-"));
    free(copy);
}

/* ws_request_only_header: the field when it has exactly one line, else NULL. */
static void test_only_header(void **state)
{
    static const char in[] =
        "GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nX-A: one\r\nx-a: two\r\n\r\n";
    struct ws_request req;
    char *copy;
    const struct ws_header *h;

    assert_int_equal(parse_exact(in, LIT_LEN(in), 0, &default_limits, &req, &copy), LIT_LEN(in));
    h = ws_request_only_header(&req, "RANGE");
    assert_ptr_equal(h, &req.headers[1]);                  /* one line: that line, any case */
    assert_null(ws_request_only_header(&req, "x-a"));      /* two lines: ambiguous */
    assert_null(ws_request_only_header(&req, "If-Range")); /* none */
    assert_null(ws_request_only_header(&req, "Rang"));
    free(copy);
}

static void test_view_eq_nocase(void **state)
{
    assert_true(ws_view_eq_nocase((struct ws_view){ "Chunked", 7 }, "cHUNKED"));
    assert_false(ws_view_eq_nocase((struct ws_view){ "chunke", 6 }, "chunked"));
    assert_false(ws_view_eq_nocase((struct ws_view){ "chunkee", 7 }, "chunked"));
    assert_true(ws_view_eq_nocase((struct ws_view){ "", 0 }, ""));
}

/*
 * A slow client that sends one byte at a time with prev_len must be served in
 * linear time and get the same request: spot-check one long, valid request.
 */
static void test_prev_len_long_request(void **state)
{
    static char buf[16384];
    struct ws_request req;
    size_t w = 0;
    int rc = AGAIN;

    put(buf, &w, "GET /long HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < 80; i++) {
        put(buf, &w, "X-Padding: ");
        memset(buf + w, 'p', 140);
        w += 140;
        put(buf, &w, "\r\n");
    }
    put(buf, &w, "\r\n");
    for (size_t k = 1; k <= w; k++) {
        rc = ws_http_parse_request(buf, k, k - 1, &default_limits, &req);
        if (rc != AGAIN)
            break;
    }
    assert_int_equal(rc, (int)w);
    check_mem("long", req.path.ptr, req.path.len, "/long");
    assert_int_equal(req.header_count, 81);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),           cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_parse_expect),          cmocka_unit_test(test_headers_and_lookup),
        cmocka_unit_test(test_prev_len_long_request), cmocka_unit_test(test_only_header),
        cmocka_unit_test(test_view_eq_nocase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
