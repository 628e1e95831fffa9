/*
 * response.c - response heads and built-in pages; see response.h.
 */
#include "response.h"

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
    case 301: return "The document has moved";
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

size_t ws_error_page(int status, const char *location, char *out, size_t size)
{
    const char *reason = ws_status_reason(status);
    int n;

    if (status == 301 && location != NULL)
        n = snprintf(out, size,
                     "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title>"
                     "</head>\n<body><h1>%d %s</h1><p>%s <a href=\"%s\">here</a>.</p></body>"
                     "</html>\n",
                     status, reason, status, reason, status_message(status), location);
    else
        n = snprintf(out, size,
                     "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title>"
                     "</head>\n<body><h1>%d %s</h1><p>%s</p><hr><address>" WS_SERVER_NAME
                     "</address></body></html>\n",
                     status, reason, status, reason, status_message(status));
    if (n < 0 || (size_t)n >= size)
        return 0;
    return (size_t)n;
}

size_t ws_head_format(const struct ws_head *h, char *out, size_t size)
{
    size_t w = 0;
    int n;

#define APPEND(...)                                                                                \
    do {                                                                                           \
        n = snprintf(out + w, size - w, __VA_ARGS__);                                              \
        if (n < 0 || (size_t)n >= size - w)                                                        \
            return 0;                                                                              \
        w += (size_t)n;                                                                            \
    } while (0)

    APPEND("HTTP/1.1 %d %s\r\nServer: " WS_SERVER_NAME "\r\nDate: %s\r\n", h->status,
           ws_status_reason(h->status), h->date);
    if (h->content_type != NULL)
        APPEND("Content-Type: %s\r\n", h->content_type);
    APPEND("Content-Length: %lld\r\n", (long long)h->content_length);
    if (h->last_modified != NULL)
        APPEND("Last-Modified: %s\r\n", h->last_modified);
    if (h->location != NULL)
        APPEND("Location: %s\r\n", h->location);
    if (h->allow != NULL)
        APPEND("Allow: %s\r\n", h->allow);
    if (h->connection == 1)
        APPEND("Connection: close\r\n");
    else if (h->connection == 2)
        APPEND("Connection: keep-alive\r\n");
    APPEND("\r\n");
#undef APPEND
    return w;
}
