/*
 * http/response_parser.h - the client side of HTTP/1.x: an incremental response-head
 * parser and a body decoder (RFC 9110, RFC 9112).
 *
 * Pure: bytes in, views out. Nothing here allocates, does I/O or holds global
 * state, so every function may be called from any thread at once (on distinct
 * state structs). Every string returned is a view (pointer + length) into the
 * caller's buffer, valid for as long as that buffer is.
 *
 * Result convention (ws_resp_parse, ws_resp_body_decode):
 *   > 0  ws_resp_parse: bytes consumed, the whole header section through its
 *        empty line; ws_resp_body_decode: 1, the body is complete,
 *     0  need more bytes (WS_RESP_AGAIN),
 *   < 0  one of the WS_RESP_ERR_* codes below; ws_resp_strerror names it.
 * After an error the connection is out of sync and must be closed.
 *
 * Parsing is strict where leniency would let a response be framed two ways
 * (conflicting Content-Length, bare CR, junk in chunk lines) and lenient where
 * RFC 9112 tells a recipient to be: bare LF ends a line (§2.2), obs-fold in a
 * header is whitespace (§5.2), the reason phrase may be missing (§4).
 */
#ifndef WS_HTTP_RESPONSE_H
#define WS_HTTP_RESPONSE_H

#include "http/chunked.h"
#include "http/request_parser.h" /* struct ws_view, struct ws_header: types only */

#include <stddef.h>
#include <stdint.h>

#define WS_RESP_AGAIN 0

/* Room for header fields in struct ws_response; the hard cap on max_headers. */
#define WS_RESP_MAX_HEADERS 128
/* Default and sensible upper bound for the header section, status line included. */
#define WS_RESP_DEFAULT_MAX_HEAD 65536
/* Longest chunk-size line (digits and extensions), in bytes. */
#define WS_RESP_MAX_CHUNK_LINE 4096
/* Longest trailer section, in bytes. */
#define WS_RESP_MAX_TRAILER 65536

enum ws_resp_error {
    WS_RESP_ERR_STATUS_LINE = -1,          /* not "HTTP/1.x NNN reason" */
    WS_RESP_ERR_VERSION = -2,              /* HTTP/0.x or HTTP/2+ on an HTTP/1 connection */
    WS_RESP_ERR_HEADER = -3,               /* malformed header field line */
    WS_RESP_ERR_HEAD_TOO_LARGE = -4,       /* header section longer than max_head */
    WS_RESP_ERR_TOO_MANY_HEADERS = -5,     /* more than max_headers fields */
    WS_RESP_ERR_CONTENT_LENGTH = -6,       /* invalid or conflicting Content-Length */
    WS_RESP_ERR_TRANSFER_ENCODING = -7,    /* invalid Transfer-Encoding, or one in HTTP/1.0 */
    WS_RESP_ERR_CHUNK_SIZE = -8,           /* chunk-size line without a hex size, or junk in it */
    WS_RESP_ERR_CHUNK_TOO_LARGE = -9,      /* chunk size beyond UINT64_MAX */
    WS_RESP_ERR_CHUNK_LINE_TOO_LONG = -10, /* chunk-size line over WS_RESP_MAX_CHUNK_LINE */
    WS_RESP_ERR_CHUNK_DATA = -11,          /* chunk data not followed by a line end */
    WS_RESP_ERR_TRAILER = -12,             /* malformed trailer field */
    WS_RESP_ERR_TRAILER_TOO_LARGE = -13,   /* trailer section over WS_RESP_MAX_TRAILER */
    WS_RESP_ERR_TRUNCATED = -14,           /* the connection ended inside the body */
};

/* A short lower-case description of a WS_RESP_ERR_* code, e.g. "bad chunk size". */
const char *ws_resp_strerror(int err);

struct ws_resp_limits {
    size_t max_head;    /* longer header section: WS_RESP_ERR_HEAD_TOO_LARGE; <= INT_MAX */
    size_t max_headers; /* more fields: WS_RESP_ERR_TOO_MANY_HEADERS; <= WS_RESP_MAX_HEADERS */
};

struct ws_response {
    int version;                /* 10 for HTTP/1.0, 11 for HTTP/1.1 (and 1.x, x > 1) */
    int status;                 /* 100..599 */
    struct ws_view reason;      /* may be empty */
    struct ws_view status_line; /* without its line terminator */
    int64_t content_length;     /* -1 when absent */
    int transfer_encoding;      /* a Transfer-Encoding field is present */
    int chunked;                /* ... and chunked is its final coding */
    int keep_alive;             /* the server means to keep the connection open (§9.3) */
    size_t header_count;
    /*
     * Values have surrounding whitespace removed but may still contain obs-fold
     * (a line end followed by SP or HTAB), which means a single SP.
     */
    struct ws_header headers[WS_RESP_MAX_HEADERS];
};

/*
 * Parses the response head at the start of buf[0..len).
 *
 * prev_len is how many of these bytes an earlier call on the same head already
 * saw and answered WS_RESP_AGAIN for (0 on the first call). When no line has
 * ended since, the parser answers WS_RESP_AGAIN at once, which keeps a server
 * that sends a byte at a time from making the client quadratic. Bad bytes in
 * an unfinished line are therefore reported when the line ends (or the head
 * limit is reached), not necessarily when they arrive.
 *
 * On success fills *resp (its views point into buf) and returns the length of
 * the head. *resp is unspecified after a result <= 0. An interim response
 * (1xx) is parsed like any other; the caller skips it and parses again.
 */
int ws_resp_parse(const char *buf, size_t len, size_t prev_len, const struct ws_resp_limits *lim,
                  struct ws_response *resp);

/* The first header field named `name` (case-insensitive), or NULL. */
const struct ws_header *ws_resp_header(const struct ws_response *resp, const char *name);

/* How the body after a parsed head is delimited (RFC 9112 §6.3). */
enum ws_resp_framing {
    WS_RESP_NO_BODY = 0, /* HEAD response, 1xx, 204, 304 */
    WS_RESP_LENGTH,      /* Content-Length bytes */
    WS_RESP_CHUNKED,     /* Transfer-Encoding: chunked */
    WS_RESP_UNTIL_CLOSE, /* everything until the server closes the connection */
};

/*
 * The framing of the body that follows resp; head_request says whether the
 * request was HEAD. After WS_RESP_UNTIL_CLOSE, or with a Transfer-Encoding and a
 * Content-Length both present, the connection cannot carry another response;
 * resp->keep_alive is already 0 in the latter case.
 */
enum ws_resp_framing ws_resp_framing(const struct ws_response *resp, int head_request);

/* Body decoder state; the caller owns it, one per response. */
struct ws_resp_body {
    enum ws_resp_framing framing;
    struct ws_chunked chunked; /* CHUNKED: the shared decoder, with the limits above */
    uint64_t remaining;        /* LENGTH: bytes left in the body */
    uint64_t received;         /* body data bytes handed out so far */
};

/* Starts decoding a body; content_length matters only for WS_RESP_LENGTH. */
void ws_resp_body_init(struct ws_resp_body *b, enum ws_resp_framing framing,
                       uint64_t content_length);

/*
 * Feeds buf[0..len) to the decoder. Sets *consumed to the bytes it used and
 * *data to the body data among them: at most one span, into buf, possibly
 * empty. Framing bytes (chunk-size lines, extensions, trailers) are checked and
 * skipped; trailers are not returned.
 *
 * Returns 1 when the body is complete (bytes after *consumed belong to the next
 * response), 0 when it is not: call again with the rest of buf if *consumed <
 * len, else with more input. A call with len > 0 that returns 0 always
 * consumes at least one byte. Returns a WS_RESP_ERR_* code on a framing error.
 * WS_RESP_NO_BODY completes at once; WS_RESP_UNTIL_CLOSE completes only at
 * ws_resp_body_finish.
 */
int ws_resp_body_decode(struct ws_resp_body *b, const char *buf, size_t len, size_t *consumed,
                        struct ws_view *data);

/*
 * Tells the decoder the connection has ended. Returns 1 if the body is complete
 * (always for WS_RESP_UNTIL_CLOSE), or WS_RESP_ERR_TRUNCATED.
 */
int ws_resp_body_finish(const struct ws_resp_body *b);

#endif
