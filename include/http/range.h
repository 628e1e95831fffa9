/*
 * http/range.h - byte range requests (RFC 9110 §14). Pure and thread-safe.
 */
#ifndef WS_RANGE_H
#define WS_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* Most ranges served in one response (after coalescing); more: the Range is ignored. */
#define WS_RANGE_MAX 16

/* An inclusive span of byte positions, first <= last < size. */
struct ws_range {
    int64_t first;
    int64_t last;
};

/*
 * Parses a Range field value (the bytes after "Range:", whitespace-trimmed) for a
 * representation of `size` bytes (RFC 9110 §14.1.2, §14.2). The unit is
 * case-insensitive; empty list elements and OWS around commas (and after '=')
 * are accepted. Unsatisfiable ranges (first-pos >= size, or a suffix of 0) are
 * dropped; last-pos beyond the end is clamped to size - 1; numbers too large
 * for int64_t are clamped, never wrapped. What remains is sorted by position,
 * with overlapping and adjacent ranges coalesced into one.
 *
 * Ranges are coalesced as they are read, in out (at most max of them), so the
 * work stays bounded: a list that at some point holds more than max disjoint
 * ranges is ignored (0) even if a later range would have joined them.
 *
 * Returns:
 *   n > 0   n ranges written to out (n <= max);
 *   0       ignore the header and send the whole representation: it is not
 *           syntactically valid (an unknown unit, "5-3", junk, an empty list),
 *           or more than max ranges remain after coalescing (see above), or
 *           size is 0 and a suffix range asks for the (empty) whole;
 *   -416    syntactically valid, but no range is satisfiable.
 * out is unspecified after a result <= 0.
 */
int ws_range_parse(const char *value, size_t len, int64_t size, struct ws_range *out, int max);

/*
 * Writes the multipart/byteranges part header that precedes range r:
 *   "\r\n--<boundary>\r\nContent-Type: <type>\r\nContent-Range: bytes a-b/size\r\n\r\n"
 * (the first part, too, starts with CRLF, which is harmless preamble); with
 * content_type NULL the Content-Type line is left out. A NUL follows it. Returns
 * its length, or 0 if it and the NUL do not fit in out (out_size bytes).
 */
size_t ws_range_part_header(char *out, size_t out_size, const char *boundary,
                            const char *content_type, struct ws_range r, int64_t size);

/* Writes the closing delimiter "\r\n--<boundary>--\r\n" and a NUL; returns its length or 0. */
size_t ws_range_multipart_end(char *out, size_t out_size, const char *boundary);

#endif
