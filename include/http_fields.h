/*
 * http_fields.h - the pieces of HTTP/1.x field syntax (RFC 9110 §5) that the
 * server's request parser and the client's response parser share. Pure and
 * thread-safe.
 */
#ifndef WS_HTTP_FIELDS_H
#define WS_HTTP_FIELDS_H

#include <stddef.h>
#include <stdint.h>

/* A view into a caller's buffer: not NUL-terminated, never owned. */
struct ws_view {
    const char *ptr;
    size_t len;
};

/* Whether c is a tchar (RFC 9110 §5.6.2), the bytes of tokens and field names. */
int ws_is_tchar(unsigned char c);

/* Case-insensitive equality of a view and a NUL-terminated ASCII string. */
int ws_view_eq_nocase(struct ws_view v, const char *s);

/*
 * Steps through a comma-separated list (RFC 9110 §5.6.1) from *pos, skipping
 * the empty elements recipients must tolerate. Returns 1 with *elem set
 * (surrounding whitespace, CR and LF trimmed), or 0 at the end of the list.
 */
int ws_list_next(struct ws_view list, size_t *pos, struct ws_view *elem);

/*
 * Parses a Content-Length field value: 1*DIGIT, or a list of identical values
 * ("5, 5", which merging proxies produce; RFC 9112 §6.3 item 5). An empty
 * element ("3,", ",3"), anything but digits, differing values, or a number
 * beyond INT64_MAX make it invalid. Returns 0 with *out set, or -1.
 */
int ws_content_length_parse(struct ws_view v, int64_t *out);

#endif
