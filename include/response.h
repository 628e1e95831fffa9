/*
 * response.h - building response heads and built-in pages. Pure and thread-safe.
 */
#ifndef WS_RESPONSE_H
#define WS_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#define WS_SERVER_NAME "webserver/" WS_VERSION

/* The reason phrase for a status code ("Not Found"), or "Unknown". */
const char *ws_status_reason(int status);

/*
 * Writes the built-in HTML page for an error or redirect status into out
 * (size bytes) and returns its length. A 301 page links to location.
 */
size_t ws_error_page(int status, const char *location, char *out, size_t size);

struct ws_head {
    int status;
    const char *date;          /* IMF-fixdate */
    const char *content_type;  /* NULL: no Content-Type */
    int64_t content_length;    /* always sent */
    const char *last_modified; /* NULL: none */
    const char *location;      /* NULL: none */
    const char *allow;         /* NULL: none */
    int connection;            /* 0: no header, 1: "close", 2: "keep-alive" */
};

/* Writes a response head into out; returns its length, or 0 if it does not fit. */
size_t ws_head_format(const struct ws_head *h, char *out, size_t size);

#endif
