/*
 * http/head.c - response heads and built-in pages; see head.h.
 */
#include "http/head.h"

#include <stdio.h>
#include <string.h>

const char *ws_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static const char *status_message(int status)
{
    switch (status) {
    case 301:
    case 308: return "The document has moved";
    case 400: return "The server could not understand this request.";
    case 401: return "This resource needs a valid user name and password.";
    case 403: return "You do not have permission to access this resource.";
    case 404: return "The requested URL was not found on this server.";
    case 405: return "This method is not allowed for the requested resource.";
    case 408: return "The request took too long to arrive.";
    case 413: return "The request body is larger than this server accepts.";
    case 414: return "The request target is longer than this server accepts.";
    case 417: return "The expectation given in the Expect header cannot be met.";
    case 431: return "The request header section is larger than this server accepts.";
    case 500: return "The server failed to complete this request.";
    case 501: return "The request method is not implemented by this server.";
    case 503: return "The server is busy; please retry shortly.";
    case 505: return "This HTTP version is not supported; use HTTP/1.1.";
    default: return "";
    }
}

/*
 * A bounded writer: appends fail softly and the length is checked at the end.
 * After the first append that does not fit nothing more is written, so what
 * is in the buffer is always a prefix of the intended text.
 */
struct writer {
    char *p, *end;
    int overflow;
};

static void put(struct writer *w, const char *s, size_t n)
{
    if (w->overflow || (size_t)(w->end - w->p) < n) {
        w->overflow = 1;
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

static void put_str(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_u64(struct writer *w, uint64_t v)
{
    char digits[24];
    size_t n = sizeof(digits);
    do
        digits[--n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(w, digits + n, sizeof(digits) - n);
}

/*
 * Appends s escaped for HTML text and for a double- or single-quoted
 * attribute value. Each entity is one append, so none is ever cut in half.
 */
static void put_html(struct writer *w, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': put(w, "&amp;", 5); break;
        case '<': put(w, "&lt;", 4); break;
        case '>': put(w, "&gt;", 4); break;
        case '"': put(w, "&quot;", 6); break;
        case '\'': put(w, "&#39;", 5); break;
        default: put(w, s, 1); break;
        }
    }
}

size_t ws_error_page(int status, const char *location, char *out, size_t size)
{
    const char *reason = ws_status_reason(status);
    int n;

    if ((status == 301 || status == 308) && location != NULL) {
        /*
         * The location carries the request's query as the client sent it, so
         * it is escaped here. One byte is kept for the NUL, as snprintf would.
         */
        struct writer w = { out, out + (size > 0 ? size - 1 : 0), size == 0 };

        put_str(&w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
        put_u64(&w, (uint64_t)status);
        put_str(&w, " ");
        put_str(&w, reason);
        put_str(&w, "</title></head>\n<body><h1>");
        put_u64(&w, (uint64_t)status);
        put_str(&w, " ");
        put_str(&w, reason);
        put_str(&w, "</h1><p>");
        put_str(&w, status_message(status));
        put_str(&w, " <a href=\"");
        put_html(&w, location);
        put_str(&w, "\">here</a>.</p></body></html>\n");
        if (!w.overflow) {
            *w.p = '\0';
            return (size_t)(w.p - out);
        }
        /* Too long to link to: the page without the link; the Location field still has it. */
    }
    n = snprintf(out, size,
                 "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title>"
                 "</head>\n<body><h1>%d %s</h1><p>%s</p><hr><address>" WS_SERVER_NAME
                 "</address></body></html>\n",
                 status, reason, status, reason, status_message(status));
    if (n < 0 || (size_t)n >= size)
        return 0;
    return (size_t)n;
}

/* The Vary value for each set of bits: 1 Accept-Encoding, 2 Origin, 4 Accept. */
static const char *const vary_values[8] = {
    NULL,     "Accept-Encoding",         "Origin",         "Accept-Encoding, Origin",
    "Accept", "Accept-Encoding, Accept", "Origin, Accept", "Accept-Encoding, Origin, Accept",
};

size_t ws_head_fields(const struct ws_head *h, struct ws_head_field *out, char *length_buf)
{
    size_t n = 0;

#define ADD(name, lower, value)                                                                    \
    do {                                                                                           \
        if ((value) != NULL)                                                                       \
            out[n++] = (struct ws_head_field){ name, lower, sizeof(name) - 1, value };             \
    } while (0)
    ADD("Server", "server", WS_SERVER_NAME);
    ADD("Date", "date", h->date);
    ADD("Content-Type", "content-type", h->content_type);
    if (h->content_length >= 0) {
        char digits[24];
        size_t k = sizeof(digits);
        uint64_t v = (uint64_t)h->content_length;
        do
            digits[--k] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        memcpy(length_buf, digits + k, sizeof(digits) - k);
        length_buf[sizeof(digits) - k] = '\0';
        ADD("Content-Length", "content-length", length_buf);
    }
    ADD("Content-Range", "content-range", h->content_range);
    ADD("Content-Encoding", "content-encoding", h->content_encoding);
    ADD("Vary", "vary",
        vary_values[(h->vary_accept_encoding ? 1 : 0) | (h->vary_origin ? 2 : 0) |
                    (h->vary_accept ? 4 : 0)]);
    ADD("ETag", "etag", h->etag);
    ADD("Last-Modified", "last-modified", h->last_modified);
    ADD("Cache-Control", "cache-control", h->cache_control);
    ADD("Accept-Ranges", "accept-ranges", h->accept_ranges ? "bytes" : NULL);
    ADD("Location", "location", h->location);
    ADD("Allow", "allow", h->allow);
    ADD("Strict-Transport-Security", "strict-transport-security", h->strict_transport_security);
#undef ADD
    for (size_t i = 0; i < h->n_extra && n < WS_HEAD_FIELDS_MAX; i++)
        out[n++] = h->extra[i];
    return n;
}

size_t ws_head_format(const struct ws_head *h, char *out, size_t size)
{
    /* One byte is kept for a terminating NUL, which callers may rely on. */
    struct writer w = { out, out + (size > 0 ? size - 1 : 0), size == 0 };
    struct ws_head_field fields[WS_HEAD_FIELDS_MAX];
    char length[24];
    size_t n = ws_head_fields(h, fields, length);

    put(&w, "HTTP/1.1 ", 9);
    put_u64(&w, (uint64_t)h->status);
    put(&w, " ", 1);
    put_str(&w, ws_status_reason(h->status));
    put(&w, "\r\n", 2);
    for (size_t i = 0; i < n; i++) {
        put(&w, fields[i].name, fields[i].name_len);
        put(&w, ": ", 2);
        put_str(&w, fields[i].value);
        put(&w, "\r\n", 2);
    }
    if (h->connection == 1)
        put_str(&w, "Connection: close\r\n");
    else if (h->connection == 2)
        put_str(&w, "Connection: keep-alive\r\n");
    put(&w, "\r\n", 2);
    if (w.overflow)
        return 0;
    *w.p = '\0';
    return (size_t)(w.p - out);
}
