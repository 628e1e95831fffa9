/*
 * http/path.h - turning a request path into a file name under the document root.
 *
 * Pure: no I/O, no allocation, no global state. This is the first of two walls
 * against escaping the root; the second is the kernel-checked open in
 * static_file.c (see docs/design.md, "Path safety").
 */
#ifndef WS_PATH_H
#define WS_PATH_H

#include <stddef.h>

/*
 * Percent-decodes path[0..len) (which must start with '/') and resolves its dot
 * segments (RFC 3986 §5.2.4). Writes to out a NUL-terminated path relative to the
 * root: no leading '/', segments joined by single slashes, no ".", ".." or empty
 * segments; the root itself is "". An encoded slash ("%2F") separates segments
 * like a plain one, so it cannot smuggle a ".." past this step.
 *
 * *is_dir is set when the path names a directory form: it ends in '/' or in a
 * "." or ".." segment.
 *
 * Returns 0, or -400 for a malformed escape, a NUL (encoded or raw), or a ".."
 * that would climb above the root, or -414 when out (of out_size bytes) is too
 * small; out_size >= len + 1 always suffices because decoding never lengthens a
 * path.
 */
int ws_path_normalize(const char *path, size_t len, char *out, size_t out_size, size_t *out_len,
                      int *is_dir);

/*
 * Percent-encodes a normalised relative path for use in a Location header or a
 * link, prefixed with '/' and, if dir_slash, suffixed with '/'. Only unreserved
 * characters, sub-delims, ':', '@' and '/' pass unencoded, so the result can
 * never start a scheme-relative URL ("//host") or break a header line.
 * Returns the length written (excluding the NUL), or -1 if out_size is too small.
 */
int ws_path_encode(const char *rel, size_t len, int dir_slash, char *out, size_t out_size);

#endif
