/*
 * http/head.h - building response heads and built-in pages. Pure and thread-safe.
 */
#ifndef WS_RESPONSE_H
#define WS_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#define WS_SERVER_NAME "webserver/" WS_VERSION

/* The reason phrase for a status code ("Not Found"), or "Unknown". */
const char *ws_status_reason(int status);

/*
 * Writes the built-in HTML page for an error or redirect status, and a
 * terminating NUL, into out (size bytes); returns the page's length, or 0 if
 * it and its NUL do not fit. A 301 page links to location (which may be NULL),
 * escaped for HTML; when the escaped link does not fit, the page has no link.
 */
size_t ws_error_page(int status, const char *location, char *out, size_t size);

struct ws_head_field;

struct ws_head {
    int status;
    const char *date;                      /* IMF-fixdate */
    const char *content_type;              /* NULL: none */
    int64_t content_length;                /* -1: none */
    const char *content_range;             /* NULL: none; e.g. "bytes 0-99/1000" */
    const char *content_encoding;          /* NULL: none */
    const char *etag;                      /* NULL: none; with its quotes */
    const char *last_modified;             /* NULL: none */
    const char *cache_control;             /* NULL: none */
    const char *location;                  /* NULL: none */
    const char *allow;                     /* NULL: none */
    const char *strict_transport_security; /* NULL: none; e.g. "max-age=31536000" */
    int vary_accept_encoding;              /* "Vary: Accept-Encoding" */
    int vary_origin;                       /* ... and/or Origin (CORS) */
    int vary_accept;                       /* ... and/or Accept (listings) */
    const struct ws_head_field *extra;     /* more fields, sent last (site.h): n_extra */
    size_t n_extra;
    int accept_ranges; /* "Accept-Ranges: bytes" */
    int connection;    /* 0: no header, 1: "close", 2: "keep-alive" */
};

/* Most extra fields a head can carry: the operator's (site.h) and CORS's. */
#define WS_HEAD_EXTRA_MAX 40
/* Most fields a head can have (ws_head_fields), the status line and Connection aside. */
#define WS_HEAD_FIELDS_MAX (16 + WS_HEAD_EXTRA_MAX)

struct ws_head_field {
    const char *name;  /* canonical case, for HTTP/1.1: "Content-Length" */
    const char *lower; /* lowercase, for HTTP/2: "content-length" */
    size_t name_len;   /* of either */
    const char *value; /* NUL-terminated */
};

/*
 * The fields of a head in the order they are sent, for every protocol: Server,
 * Date, each field h sets, then h->extra in order; not the status, nor
 * Connection (HTTP/1.1 only).
 * Content-Length's digits are written to length_buf (24 bytes). Returns how
 * many of out[WS_HEAD_FIELDS_MAX] were filled.
 */
size_t ws_head_fields(const struct ws_head *h, struct ws_head_field *out, char *length_buf);

/*
 * Writes a response head (status line, fields in a fixed order, empty line)
 * and a terminating NUL into out; returns the head's length, or 0 if it and
 * its NUL do not fit in size bytes.
 */
size_t ws_head_format(const struct ws_head *h, char *out, size_t size);

#endif
