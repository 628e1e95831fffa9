/*
 * http/request_parser.h - the shared HTTP/1.x request parser (RFC 9110, RFC 9112).
 *
 * Pure: bytes in, a parsed request out. The parser never allocates, does no I/O,
 * holds no global state and may be called from any thread at once. Every string
 * it returns is a view (pointer + length) into the caller's buffer, valid for as
 * long as that buffer is.
 *
 * Result convention (ws_http_parse_request):
 *   > 0  bytes consumed (the whole header section, through its empty line),
 *     0  need more bytes (WS_PARSE_AGAIN),
 *   < 0  minus the HTTP status code to answer with: -400, -414, -431, -501, -505.
 * After an error the connection cannot be kept in sync and must be closed once
 * the error response has been sent.
 */
#ifndef WS_HTTP_PARSER_H
#define WS_HTTP_PARSER_H

#include "http/chunked.h" /* ws_chunked_decode, for request bodies */
#include "http/fields.h"

#include <stddef.h>
#include <stdint.h>

#define WS_PARSE_AGAIN 0

/* Upper bound on header fields a request may carry; more is answered with 431. */
#define WS_MAX_HEADERS 100

enum ws_method {
    WS_METHOD_UNKNOWN = 0, /* a valid token we do not implement: 501 */
    WS_METHOD_GET,
    WS_METHOD_HEAD,
    WS_METHOD_POST,
    WS_METHOD_PUT,
    WS_METHOD_DELETE,
    WS_METHOD_CONNECT,
    WS_METHOD_OPTIONS,
    WS_METHOD_TRACE,
    WS_METHOD_PATCH,
};

enum ws_target_form {
    WS_TARGET_ORIGIN = 0, /* /path?query */
    WS_TARGET_ABSOLUTE,   /* http://host/path?query */
    WS_TARGET_AUTHORITY,  /* host:port, only with CONNECT */
    WS_TARGET_ASTERISK,   /* "*", meaningful only with OPTIONS */
};

struct ws_header {
    struct ws_view name;  /* as sent; compare case-insensitively */
    struct ws_view value; /* leading and trailing whitespace removed */
};

struct ws_parse_limits {
    size_t max_request_line; /* longer request line: 414 */
    size_t max_head;         /* longer header section (request line included): 431 */
    size_t max_headers;      /* more header fields: 431; at most WS_MAX_HEADERS */
};

struct ws_request {
    enum ws_method method;
    struct ws_view method_name;
    enum ws_target_form target_form;
    struct ws_view target;       /* the request-target exactly as sent */
    struct ws_view path;         /* "/..." part of the target, still percent-encoded */
    struct ws_view query;        /* after '?', without it; empty when absent */
    struct ws_view host;         /* absolute-form authority, else the Host field */
    int version;                 /* 10 for HTTP/1.0, 11 for HTTP/1.1 (and 1.x, x > 1) */
    int keep_alive;              /* connection persists after the response (RFC 9112 §9.3) */
    int64_t content_length;      /* -1 when absent */
    int chunked;                 /* Transfer-Encoding: chunked */
    int expect_continue;         /* Expect: 100-continue */
    int expect_other;            /* an Expect value we cannot meet: 417 */
    struct ws_view request_line; /* without its line terminator, for logging */
    size_t header_count;
    struct ws_header headers[WS_MAX_HEADERS];
};

/*
 * Parses the header section at the start of buf[0..len).
 *
 * prev_len is how many of these bytes an earlier call on the same request already
 * saw and answered WS_PARSE_AGAIN for (0 on the first call). It lets the parser
 * skip re-parsing when nothing that could complete or reject the request has
 * arrived, which keeps byte-at-a-time clients linear instead of quadratic.
 *
 * On success fills *req (its views point into buf) and returns the length of the
 * header section; a body, if any, follows it. See the top of this file for the
 * other results. *req is unspecified after a result <= 0.
 */
int ws_http_parse_request(const char *buf, size_t len, size_t prev_len,
                          const struct ws_parse_limits *limits, struct ws_request *req);

/*
 * Fills *req from an HTTP/2 request (RFC 9113 §8.3): the caller has put its
 * regular fields in req->headers and set req->header_count, and gives the
 * pseudo-header fields; the framing layer (nghttp2) has already checked field
 * syntax, pseudo-header rules and connection-specific fields. Sets version 20
 * and keep_alive; request_line is left empty for the caller. Returns 0, or
 * -400 for a :path or :authority (or Host) we cannot use, or a bad
 * Content-Length.
 */
int ws_http_request_from_h2(struct ws_request *req, struct ws_view method, struct ws_view authority,
                            struct ws_view path);

/*
 * The first field named `name` (case-insensitive), or NULL. Inline, like
 * ws_view_eq_nocase, so that with a literal name most fields are told apart
 * by their length alone.
 */
static inline const struct ws_header *ws_request_header(const struct ws_request *req,
                                                        const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (ws_view_eq_nocase(req->headers[i].name, name))
            return &req->headers[i];
    return NULL;
}

/*
 * The field named `name` (case-insensitive) if the request has exactly one
 * line of it, else NULL: absent, or repeated, which for a singleton field
 * (Range, If-Range, the date preconditions) means it must be ignored. The
 * result points into req. Inline for the same reason.
 */
static inline const struct ws_header *ws_request_only_header(const struct ws_request *req,
                                                             const char *name)
{
    const struct ws_header *found = NULL;

    for (size_t i = 0; i < req->header_count; i++)
        if (ws_view_eq_nocase(req->headers[i].name, name)) {
            if (found != NULL)
                return NULL;
            found = &req->headers[i];
        }
    return found;
}

#endif
