/*
 * http/listing.h - the HTML page for a directory listing (--listing). Pure: the
 * caller reads the directory; this module sorts, escapes and formats.
 */
#ifndef WS_LISTING_H
#define WS_LISTING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct ws_listing_entry {
    const char *name; /* one path segment, as stored on disk (any bytes but '/' and NUL) */
    int is_dir;
    uint64_t size; /* ignored for directories */
    time_t mtime;
    int is_symlink; /* the entry is a symlink (is_dir, size and mtime are its target's) */
    int is_other;   /* neither a regular file nor a directory (FIFO, socket, device) */
};

/*
 * Builds the listing page for the directory at url_path (the decoded path, for
 * the title, e.g. "/docs/"): entries sorted directories first, then by name
 * (byte order); a "../" link unless url_path is "/"; each name HTML-escaped in
 * the text and percent-encoded in the href (ws_path_encode rules, relative
 * links, directories with a trailing slash); sizes human-readable (B, KiB, MiB,
 * GiB with one decimal) and dates as "2026-11-26 02:03" UTC. Entries named "."
 * or ".." are skipped. Hrefs also encode ':' (a first segment with a colon
 * would read as a scheme) and '/'. Sorts entries in place. Returns a malloc'd
 * NUL-terminated page with its length in *out_len, or NULL (ENOMEM).
 */
char *ws_listing_html(const char *url_path, struct ws_listing_entry *entries, size_t n,
                      size_t *out_len);

/*
 * The listing as JSON (Accept: application/json): an array of objects
 * {"name", "url", "type", "symlink", "size", "mtime"} sorted by name (byte
 * order), as Caddy and lighttpd offer. name is the entry as a JSON string:
 * well-formed UTF-8 as it is, '"', '\\' and control bytes escaped (\n, \t,
 * \u001f...), and a byte that is not part of well-formed UTF-8 as U+FFFD, so
 * the document is always valid UTF-8 JSON; url is the exact name,
 * percent-encoded as the HTML listing's href is (relative, "/" after a
 * directory), so any entry can be fetched. type is "file", "dir" or "other";
 * size is in bytes (0 for a directory); mtime is ISO 8601 UTC,
 * "2021-03-04T05:06:07Z". Entries "." and ".." are skipped. Sorts entries in
 * place. Returns a malloc'd NUL-terminated document with its length in
 * *out_len, or NULL (ENOMEM).
 */
char *ws_listing_json(struct ws_listing_entry *entries, size_t n, size_t *out_len);

#endif
