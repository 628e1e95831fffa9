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
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
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

/* Appends "Name: value\r\n" when value is not NULL. */
static void put_field(struct writer *w, const char *name, size_t name_len, const char *value)
{
    if (value == NULL)
        return;
    put(w, name, name_len);
    put_str(w, value);
    put(w, "\r\n", 2);
}

#define FIELD(w, name, value) put_field(w, name, sizeof(name) - 1, value)

size_t ws_head_format(const struct ws_head *h, char *out, size_t size)
{
    /* One byte is kept for a terminating NUL, which callers may rely on. */
    struct writer w = { out, out + (size > 0 ? size - 1 : 0), size == 0 };

    put(&w, "HTTP/1.1 ", 9);
    put_u64(&w, (uint64_t)h->status);
    put(&w, " ", 1);
    put_str(&w, ws_status_reason(h->status));
    put(&w, "\r\nServer: " WS_SERVER_NAME "\r\n", sizeof("\r\nServer: " WS_SERVER_NAME "\r\n") - 1);
    FIELD(&w, "Date: ", h->date);
    FIELD(&w, "Content-Type: ", h->content_type);
    if (h->content_length >= 0) {
        put(&w, "Content-Length: ", 16);
        put_u64(&w, (uint64_t)h->content_length);
        put(&w, "\r\n", 2);
    }
    FIELD(&w, "Content-Range: ", h->content_range);
    FIELD(&w, "Content-Encoding: ", h->content_encoding);
    if (h->vary_accept_encoding)
        put_str(&w, "Vary: Accept-Encoding\r\n");
    FIELD(&w, "ETag: ", h->etag);
    FIELD(&w, "Last-Modified: ", h->last_modified);
    FIELD(&w, "Cache-Control: ", h->cache_control);
    if (h->accept_ranges)
        put_str(&w, "Accept-Ranges: bytes\r\n");
    FIELD(&w, "Location: ", h->location);
    FIELD(&w, "Allow: ", h->allow);
    FIELD(&w, "Strict-Transport-Security: ", h->strict_transport_security);
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
