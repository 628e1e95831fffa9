/*
 * http/response_parser.c - HTTP/1.x response parser and body decoder; see response_parser.h
 * for the contract.
 *
 * The parser never reads past buf + len: every look at p[1] or at the byte after
 * a line end is guarded, and a guard that fails answers "need more". The unit
 * tests place each input at the very end of its own allocation, so a read one
 * byte too far is caught by AddressSanitizer.
 */
#include "http/response_parser.h"

#include <limits.h>
#include <string.h>

/* Length of "HTTP/1.1 200": everything in a status line that has a fixed place. */
#define STATUS_FIXED_LEN 12

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Whitespace inside a stored field value: OWS, plus the line ends of obs-fold. */
static int is_value_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

const char *ws_resp_strerror(int err)
{
    switch (err) {
    case WS_RESP_ERR_STATUS_LINE: return "malformed status line";
    case WS_RESP_ERR_VERSION: return "unsupported HTTP version in status line";
    case WS_RESP_ERR_HEADER: return "malformed header field";
    case WS_RESP_ERR_HEAD_TOO_LARGE: return "header section too large";
    case WS_RESP_ERR_TOO_MANY_HEADERS: return "too many header fields";
    case WS_RESP_ERR_CONTENT_LENGTH: return "invalid Content-Length";
    case WS_RESP_ERR_TRANSFER_ENCODING: return "invalid Transfer-Encoding";
    case WS_RESP_ERR_CHUNK_SIZE: return "bad chunk size";
    case WS_RESP_ERR_CHUNK_TOO_LARGE: return "chunk size too large";
    case WS_RESP_ERR_CHUNK_LINE_TOO_LONG: return "chunk-size line too long";
    case WS_RESP_ERR_CHUNK_DATA: return "chunk data not followed by a line end";
    case WS_RESP_ERR_TRAILER: return "malformed trailer field";
    case WS_RESP_ERR_TRAILER_TOO_LARGE: return "trailer section too large";
    case WS_RESP_ERR_TRUNCATED: return "connection closed before the end of the body";
    default: return "unknown error";
    }
}

const struct ws_header *ws_resp_header(const struct ws_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->header_count; i++)
        if (ws_view_eq_nocase(resp->headers[i].name, name))
            return &resp->headers[i];
    return NULL;
}

static int need_more(size_t len, size_t max_head)
{
    return len >= max_head ? WS_RESP_ERR_HEAD_TOO_LARGE : WS_RESP_AGAIN;
}

/*
 * Checks the fixed part of the status line, "HTTP/" DIGIT "." DIGIT SP 3DIGIT,
 * as far as it has arrived. Returns 1 when all of it is there and valid,
 * WS_RESP_AGAIN when a valid prefix is, or an error.
 */
static int check_status_fixed(const char *buf, size_t len)
{
    static const char pattern[] = "HTTP/9.9 999"; /* '9' stands for any digit */
    size_t n = len < STATUS_FIXED_LEN ? len : STATUS_FIXED_LEN;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (pattern[i] == '9' ? !is_digit(c) : c != (unsigned char)pattern[i])
            return WS_RESP_ERR_STATUS_LINE;
        if (i == 5 && c != '1')
            return WS_RESP_ERR_VERSION;
    }
    return n < STATUS_FIXED_LEN ? WS_RESP_AGAIN : 1;
}

/*
 * Reads a line end at *pp: CRLF, or a bare LF (RFC 9112 §2.2). Returns 1 and
 * advances past it, 0 if more bytes are needed, -1 if *pp is not a line end.
 */
static int line_end(const char **pp, const char *end)
{
    const char *p = *pp;
    if (p == end)
        return 0;
    if (*p == '\n') {
        *pp = p + 1;
        return 1;
    }
    if (*p != '\r')
        return -1;
    if (p + 1 == end)
        return 0;
    if (p[1] != '\n')
        return -1; /* bare CR */
    *pp = p + 2;
    return 1;
}

/*
 * The status line, from buf. Returns 1 with *pp just past its line end, else
 * the result to return (WS_RESP_AGAIN or an error).
 */
static int parse_status_line(const char *buf, size_t len, size_t max_head, struct ws_response *resp,
                             const char **pp)
{
    const char *p, *end = buf + len;
    int rc = check_status_fixed(buf, len);

    if (rc == WS_RESP_AGAIN)
        return need_more(len, max_head);
    if (rc < 0)
        return rc;
    resp->version = buf[7] == '0' ? 10 : 11;
    resp->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (resp->status < 100 || resp->status > 599)
        return WS_RESP_ERR_STATUS_LINE; /* RFC 9110 §15 */

    /* [ SP reason-phrase ] line-end; a missing SP is tolerated, as most clients do. */
    p = buf + STATUS_FIXED_LEN;
    if (p < end && *p == ' ') {
        p++;
        resp->reason.ptr = p;
        while (p < end && ws_is_field_vchar((unsigned char)*p))
            p++;
        resp->reason.len = (size_t)(p - resp->reason.ptr);
    } else {
        resp->reason.ptr = p;
    }
    resp->status_line = (struct ws_view){ buf, (size_t)(p - buf) };
    rc = line_end(&p, end);
    if (rc == 0)
        return need_more(len, max_head);
    if (rc < 0)
        return WS_RESP_ERR_STATUS_LINE;
    *pp = p;
    return 1;
}

/*
 * One field line at *pp, its value running to a line end not followed by SP or
 * HTAB (obs-fold). Returns 1 with *h filled and *pp past the line, else the
 * result to return.
 */
static int parse_field_line(const char *buf, size_t len, size_t max_head, struct ws_header *h,
                            const char **pp)
{
    const char *p = *pp, *end = buf + len, *name, *value, *value_end;
    int rc;

    /* Whitespace here starts a line right after the status line (§2.2). */
    name = p;
    while (p < end && ws_is_tchar((unsigned char)*p))
        p++;
    if (p == end)
        return need_more(len, max_head);
    if (*p != ':' || p == name)
        return WS_RESP_ERR_HEADER;
    h->name = (struct ws_view){ name, (size_t)(p - name) };
    p++;

    value = p;
    for (;;) {
        while (p < end && ws_is_field_vchar((unsigned char)*p))
            p++;
        value_end = p;
        rc = line_end(&p, end);
        if (rc == 0 || p == end)
            return need_more(len, max_head);
        if (rc < 0)
            return WS_RESP_ERR_HEADER; /* a control byte, NUL or bare CR */
        if (*p != ' ' && *p != '\t')
            break;
        if ((size_t)(p - buf) > max_head)
            return WS_RESP_ERR_HEAD_TOO_LARGE;
    }
    while (value < value_end && is_value_space(*value))
        value++;
    while (value_end > value && is_value_space(value_end[-1]))
        value_end--;
    h->value = (struct ws_view){ value, (size_t)(value_end - value) };
    *pp = p;
    return 1;
}

/* Judges the framing fields once all are in: 0, or an error. */
static int judge_framing(const struct ws_framing *f, struct ws_response *resp)
{
    /* Message framing (RFC 9112 §6.1, §6.3). */
    if (f->cl_bad)
        return WS_RESP_ERR_CONTENT_LENGTH;
    if (f->cl_seen)
        resp->content_length = f->content_length;
    resp->transfer_encoding = f->te_seen;
    if (resp->transfer_encoding) {
        /* An HTTP/1.0 message with Transfer-Encoding has faulty framing (§6.1). */
        if (resp->version == 10 || f->te_bad || f->te_codings == 0 || f->te_chunked > 1)
            return WS_RESP_ERR_TRANSFER_ENCODING;
        resp->chunked = f->te_last_chunked;
    }

    if (resp->version == 11)
        resp->keep_alive = !f->conn_close;
    else
        resp->keep_alive = f->conn_keep_alive && !f->conn_close;
    /* Both framings present smells of response splitting: use TE, then close (§6.3). */
    if (resp->transfer_encoding && f->cl_seen)
        resp->keep_alive = 0;
    return 0;
}

int ws_resp_parse(const char *buf, size_t len, size_t prev_len, const struct ws_resp_limits *lim,
                  struct ws_response *resp)
{
    const char *p, *end = buf + len;
    size_t max_head = lim->max_head < (size_t)INT_MAX ? lim->max_head : (size_t)INT_MAX;
    size_t max_headers =
        lim->max_headers < WS_RESP_MAX_HEADERS ? lim->max_headers : WS_RESP_MAX_HEADERS;
    struct ws_framing f;
    int rc;

    /*
     * A head is complete only at a line end. Once the fixed part of the status
     * line has been checked (an earlier call saw it), bytes without a line end
     * cannot finish the head; they can only break a limit.
     */
    if (prev_len >= STATUS_FIXED_LEN && prev_len < len && len < max_head &&
        memchr(buf + prev_len, '\n', len - prev_len) == NULL)
        return WS_RESP_AGAIN;

    memset(resp, 0, offsetof(struct ws_response, headers));
    resp->content_length = -1;
    memset(&f, 0, sizeof(f));

    rc = parse_status_line(buf, len, max_head, resp, &p);
    if (rc != 1)
        return rc;

    /* field-line line-end, until an empty line */
    for (;;) {
        struct ws_header h;

        if ((size_t)(p - buf) > max_head)
            return WS_RESP_ERR_HEAD_TOO_LARGE;
        rc = line_end(&p, end);
        if (rc == 0)
            return need_more(len, max_head);
        if (rc > 0)
            break;
        rc = parse_field_line(buf, len, max_head, &h, &p);
        if (rc != 1)
            return rc;
        if (resp->header_count >= max_headers)
            return WS_RESP_ERR_TOO_MANY_HEADERS;
        resp->headers[resp->header_count++] = h;
        ws_framing_note(&f, h.name, h.value);
    }
    if ((size_t)(p - buf) > max_head)
        return WS_RESP_ERR_HEAD_TOO_LARGE;

    rc = judge_framing(&f, resp);
    if (rc < 0)
        return rc;
    return (int)(p - buf);
}

enum ws_resp_framing ws_resp_framing(const struct ws_response *resp, int head_request)
{
    if (head_request || resp->status < 200 || resp->status == 204 || resp->status == 304)
        return WS_RESP_NO_BODY;
    if (resp->transfer_encoding)
        return resp->chunked ? WS_RESP_CHUNKED : WS_RESP_UNTIL_CLOSE;
    if (resp->content_length >= 0)
        return WS_RESP_LENGTH;
    return WS_RESP_UNTIL_CLOSE;
}

/* The client's budgets: one chunk-size line, one trailer section; extensions are not summed. */
static const struct ws_chunked_limits client_chunked_limits = {
    .max_size_line = WS_RESP_MAX_CHUNK_LINE,
    .max_trailer = WS_RESP_MAX_TRAILER,
};

void ws_resp_body_init(struct ws_resp_body *b, enum ws_resp_framing framing,
                       uint64_t content_length)
{
    memset(b, 0, sizeof(*b));
    b->framing = framing;
    if (framing == WS_RESP_LENGTH)
        b->remaining = content_length;
    ws_chunked_init_limits(&b->chunked, &client_chunked_limits);
}

/* The client's name for a decoder error. */
static int resp_chunked_error(int err)
{
    switch (err) {
    case WS_CHUNKED_ERR_SIZE: return WS_RESP_ERR_CHUNK_SIZE;
    case WS_CHUNKED_ERR_SIZE_OVERFLOW: return WS_RESP_ERR_CHUNK_TOO_LARGE;
    case WS_CHUNKED_ERR_LINE_TOO_LONG: return WS_RESP_ERR_CHUNK_LINE_TOO_LONG;
    case WS_CHUNKED_ERR_TRAILER: return WS_RESP_ERR_TRAILER;
    case WS_CHUNKED_ERR_TRAILER_TOO_LARGE:
    case WS_CHUNKED_ERR_META_TOO_LARGE: /* not reached: the client sets no max_meta */
        return WS_RESP_ERR_TRAILER_TOO_LARGE;
    default: return WS_RESP_ERR_CHUNK_DATA;
    }
}

static int chunked_decode(struct ws_resp_body *b, const char *buf, size_t len, size_t *consumed,
                          struct ws_view *data)
{
    int rc = ws_chunked_next(&b->chunked, buf, len, consumed, data);

    b->received += data->len;
    return rc < 0 ? resp_chunked_error(rc) : rc;
}

int ws_resp_body_decode(struct ws_resp_body *b, const char *buf, size_t len, size_t *consumed,
                        struct ws_view *data)
{
    size_t take;

    *consumed = 0;
    *data = (struct ws_view){ buf, 0 };
    switch (b->framing) {
    case WS_RESP_NO_BODY: return 1;
    case WS_RESP_LENGTH:
        take = len;
        if ((uint64_t)take > b->remaining)
            take = (size_t)b->remaining;
        *data = (struct ws_view){ buf, take };
        *consumed = take;
        b->remaining -= take;
        b->received += take;
        return b->remaining == 0 ? 1 : 0;
    case WS_RESP_CHUNKED: return chunked_decode(b, buf, len, consumed, data);
    case WS_RESP_UNTIL_CLOSE:
        *data = (struct ws_view){ buf, len };
        *consumed = len;
        b->received += len;
        return 0;
    }
    return WS_RESP_ERR_TRUNCATED; /* not a framing this decoder was initialised with */
}

int ws_resp_body_finish(const struct ws_resp_body *b)
{
    switch (b->framing) {
    case WS_RESP_NO_BODY:
    case WS_RESP_UNTIL_CLOSE: return 1;
    case WS_RESP_LENGTH: return b->remaining == 0 ? 1 : WS_RESP_ERR_TRUNCATED;
    case WS_RESP_CHUNKED: return ws_chunked_done(&b->chunked) ? 1 : WS_RESP_ERR_TRUNCATED;
    }
    return WS_RESP_ERR_TRUNCATED;
}
