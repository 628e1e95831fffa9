/*
 * http/validators.h - validators, conditional requests and cache policy (RFC 9110 §8.8,
 * §13; RFC 9111 §5.2). Pure and thread-safe.
 */
#ifndef WS_CACHE_H
#define WS_CACHE_H

#include "http/request_parser.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Room for any ETag ws_etag_format writes, with its quotes and a NUL. */
#define WS_ETAG_MAX 48

/*
 * Writes a strong entity tag for a file of `size` bytes last modified at
 * mtime_sec + mtime_nsec ns: a quoted string of hex fields, "\"<size>-<mtime>\""
 * with the modification time in nanoseconds, so any change of content that
 * changes the size or the time changes the tag. Returns its length.
 */
size_t ws_etag_format(uint64_t size, int64_t mtime_sec, long mtime_nsec, char *out);

/*
 * Makes the tag of a coded form of a file from the file's tag (etag, len bytes,
 * from ws_etag_format, in a buffer of WS_ETAG_MAX): "-<coding>" goes before
 * the closing quote ("\"1f-2a\"" with "gz" gives "\"1f-2a-gz\""), so each
 * coding has its own strong tag. coding is at most 8 characters of etagc.
 * Returns the new length.
 */
size_t ws_etag_add_coding(char *etag, size_t len, const char *coding);

/*
 * Evaluates the preconditions of a request (RFC 9110 §13.2.2, in that order:
 * If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since) against the
 * selected representation's entity tag (with quotes) and modification time.
 * Fields are lists and may be repeated; every line counts. If-Match uses strong
 * comparison, If-None-Match weak comparison; "*" matches any current
 * representation. If-Unmodified-Since is ignored when If-Match is present,
 * If-Modified-Since when If-None-Match is present or the method is not GET or
 * HEAD; an invalid date makes its field ignored, and so does a date field sent
 * on more than one line (its value is then a list). An If-Match or
 * If-None-Match line that is not a valid list matches nothing: If-Match then
 * fails, If-None-Match holds.
 *
 * A representation without a modification date (a generated listing) passes
 * mtime (time_t)-1, and the two date conditions are then ignored; one without an
 * entity tag passes an empty etag, which no tag but "*" matches.
 *
 * Returns 0 to proceed, 304 (Not Modified: GET and HEAD) or 412 (Precondition
 * Failed).
 */
int ws_preconditions(const struct ws_request *req, struct ws_view etag, time_t mtime);

/*
 * Whether a Range may be honoured given If-Range (RFC 9110 §13.1.5): 1 when
 * the request has no If-Range, or its entity tag matches etag by strong
 * comparison (weak tags never match), or its date equals mtime exactly;
 * 0 otherwise (send the whole representation), including an invalid value or
 * more than one If-Range line.
 */
int ws_if_range_allows(const struct ws_request *req, struct ws_view etag, time_t mtime);

enum ws_cache_mode {
    WS_CACHE_AUTO = 0, /* by content: see ws_cache_control */
    WS_CACHE_OFF,      /* no Cache-Control at all */
    WS_CACHE_FIXED,    /* "max-age=N" for everything */
};

/* max-age (seconds) that --cache auto gives to files neither HTML nor fingerprinted. */
#define WS_CACHE_AUTO_SHORT 600

/*
 * The Cache-Control value for a file (its name, or path, and Content-Type), or
 * NULL for none. WS_CACHE_AUTO: "no-cache" for HTML (always revalidate, so a
 * new deploy is seen at once); "public, max-age=31536000, immutable" for a
 * fingerprinted name (see ws_is_fingerprinted); "public, max-age=600"
 * otherwise. HTML is text/html or application/xhtml+xml; with content_type
 * NULL the type is taken from the name (ws_mime_type). WS_CACHE_FIXED:
 * "public, max-age=<max_age>". The result is a static string or is written
 * into buf (at least 64 bytes).
 */
const char *ws_cache_control(enum ws_cache_mode mode, unsigned max_age, const char *name,
                             size_t name_len, const char *content_type, char *buf);

/*
 * Whether a file name carries a content hash, as build tools write them:
 * app.3f9a2c1e.js, chunk-5V4YKJQW.js, index-D3Ff_x9l.css. A token is the text
 * between two of '/', '.', '-' in the last path segment before the final
 * extension; the name is fingerprinted when some token is 8 to 64 characters of
 * [0-9A-Za-z_] with at least one digit and at least one letter, and is either
 * all hexadecimal or contains an upper-case letter. "jquery-3.6.0.min.js",
 * "report2023.pdf" and "logo.png" are not.
 */
int ws_is_fingerprinted(const char *name, size_t len);

#endif
