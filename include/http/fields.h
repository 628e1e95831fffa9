/*
 * http/fields.h - the pieces of HTTP/1.x field syntax (RFC 9110 §5) that the
 * server's request parser and the client's response parser share. Pure and
 * thread-safe.
 */
#ifndef WS_HTTP_FIELDS_H
#define WS_HTTP_FIELDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A view into a caller's buffer: not NUL-terminated, never owned. */
struct ws_view {
    const char *ptr;
    size_t len;
};

/* Nonzero for the bytes of tokens and field names (tchar, RFC 9110 §5.6.2). */
extern const unsigned char ws__tchar_table[256];

/* Whether c is a tchar. Inline: the parsers call it for every byte of a name. */
static inline int ws_is_tchar(unsigned char c)
{
    return ws__tchar_table[c];
}

/* Bytes allowed in a field value (RFC 9110 §5.5): VCHAR, obs-text, SP, HTAB. */
static inline int ws_is_field_vchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The value of a hexadecimal digit, either case, or -1 for any other byte. */
static inline int ws_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline int ws__ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/*
 * Case-insensitive equality of a view and a NUL-terminated ASCII string.
 * Inline, so that for a literal name the length is a constant and most field
 * names are told apart by their length alone.
 */
static inline int ws_view_eq_nocase(struct ws_view v, const char *s)
{
    size_t n = strlen(s);
    if (v.len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ws__ascii_lower((unsigned char)v.ptr[i]) != ws__ascii_lower((unsigned char)s[i]))
            return 0;
    return 1;
}

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

/*
 * Parses a command-line number: the whole NUL-terminated s must be 1*DIGIT
 * (no sign, no whitespace) with a value in [min, max]. Returns 0 with *out set,
 * -EINVAL if s is not a decimal number, or -ERANGE if it is out of range
 * (beyond 64 bits included). Pure: touches neither errno nor the locale.
 */
int ws_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * A qvalue (RFC 9110 §12.4.2): ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ),
 * in thousandths (0 to 1000), or -1 when s[0, len) is not one.
 */
int ws_parse_qvalue(const char *s, size_t len);

/*
 * What the framing fields of one message say (RFC 9112 §6), gathered line by
 * line while a header section is read, judged once it is complete. The request
 * and the response parsers share the gathering; each applies its own rules.
 */
struct ws_framing {
    int64_t content_length; /* the last value read; meaningful when cl_seen && !cl_bad */
    int cl_seen;
    int cl_bad;          /* an invalid value, or lines that disagree (RFC 9112 §6.3 item 5) */
    int te_seen;         /* a Transfer-Encoding line was read */
    int te_bad;          /* an element that is not a coding name, or chunked with parameters */
    int te_first_empty;  /* the first Transfer-Encoding line named no coding */
    int te_codings;      /* codings named, in order, across all Transfer-Encoding lines */
    int te_chunked;      /* how many of them are "chunked" */
    int te_last_chunked; /* the last coding named is "chunked" */
    int conn_close;      /* Connection: close */
    int conn_keep_alive; /* Connection: keep-alive */
};

/*
 * Adds one field line to *f (which starts zeroed) if it is Content-Length,
 * Transfer-Encoding or Connection; any other field is ignored.
 */
void ws_framing_note(struct ws_framing *f, struct ws_view name, struct ws_view value);

#endif
