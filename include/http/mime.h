/*
 * http/mime.h - media types for file names. Pure: the built-in table is constant,
 * and an operator's table (--mime-types) is parsed from text the caller read.
 */
#ifndef WS_MIME_H
#define WS_MIME_H

#include <stddef.h>

/*
 * The Content-Type field value for a file name (or path): chosen by the
 * extension after the last '.' of the last segment, case-insensitively; text
 * types carry "; charset=utf-8". Unknown or missing extensions give
 * "application/octet-stream". The result is a static string.
 */
const char *ws_mime_type(const char *name, size_t len);

/* Extension to type entries loaded from an /etc/mime.types style file. */
struct ws_mime_map;

/*
 * Parses text in /etc/mime.types format: one "type/subtype ext1 ext2 ..." per
 * line (fields separated by whitespace, a type may carry ";name=value"
 * parameters), '#' starts a comment, blank lines ignored. Extensions are tokens
 * matched case-insensitively and may contain dots ("tar.gz"). Later lines win
 * over earlier ones for the same extension. Types that are text (text/anything,
 * anything ending in +json or +xml, application/json, application/javascript,
 * application/xml, application/ecmascript) get "; charset=utf-8" appended
 * unless the line already gives parameters. Returns the map, or NULL with
 * errno set: ENOMEM, or EINVAL with *bad_line set to the 1-based number of the
 * first malformed line (a type without exactly one '/', characters outside
 * tokens).
 */
struct ws_mime_map *ws_mime_map_parse(const char *text, size_t len, unsigned *bad_line);

/* Frees a map from ws_mime_map_parse (NULL is fine). */
void ws_mime_map_free(struct ws_mime_map *map);

/* Number of extensions in the map. */
size_t ws_mime_map_size(const struct ws_mime_map *map);

/*
 * Like ws_mime_type, but the map (which may be NULL) is consulted first, for
 * every extension of the last segment, longest first ("a.tar.gz": "tar.gz",
 * then "gz"). Does not allocate; may be called from any thread. The result
 * lives as long as the map or is static.
 */
const char *ws_mime_lookup(const struct ws_mime_map *map, const char *name, size_t len);

/*
 * Whether a Content-Type (as ws_mime_lookup returns it, parameters allowed)
 * is worth compressing: any text type, JSON, XML, JavaScript, WebAssembly, TTF and
 * OTF fonts, SVG; not images, audio, video, archives or WOFF fonts, which are
 * compressed already. 1 or 0.
 */
int ws_mime_compressible(const char *type);

#endif
