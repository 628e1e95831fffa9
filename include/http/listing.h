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

#endif
