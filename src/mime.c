/*
 * mime.c - the built-in extension to media type table; see mime.h.
 */
#include "mime.h"

#include <string.h>
#include <strings.h>

struct mime_entry {
    const char *ext;
    const char *type;
};

/* Text types name their charset so browsers never have to sniff. */
static const struct mime_entry mime_table[] = {
    { "html", "text/html; charset=utf-8" },
    { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },
    { "js", "text/javascript; charset=utf-8" }, /* RFC 9239 */
    { "mjs", "text/javascript; charset=utf-8" },
    { "json", "application/json; charset=utf-8" },
    { "map", "application/json; charset=utf-8" },
    { "txt", "text/plain; charset=utf-8" },
    { "md", "text/markdown; charset=utf-8" },
    { "csv", "text/csv; charset=utf-8" },
    { "xml", "application/xml; charset=utf-8" },
    { "svg", "image/svg+xml; charset=utf-8" },
    { "png", "image/png" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },
    { "webp", "image/webp" },
    { "avif", "image/avif" },
    { "ico", "image/vnd.microsoft.icon" },
    { "wasm", "application/wasm" },
    { "pdf", "application/pdf" },
    { "zip", "application/zip" },
    { "gz", "application/gzip" },
    { "tar", "application/x-tar" },
    { "mp3", "audio/mpeg" },
    { "ogg", "audio/ogg" },
    { "wav", "audio/wav" },
    { "mp4", "video/mp4" },
    { "webm", "video/webm" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "ttf", "font/ttf" },
    { "otf", "font/otf" },
};

const char *ws_mime_type(const char *name, size_t len)
{
    size_t dot = len, ext_len;

    while (dot > 0 && name[dot - 1] != '.' && name[dot - 1] != '/')
        dot--;
    if (dot == 0 || name[dot - 1] != '.')
        return "application/octet-stream";
    ext_len = len - dot;
    for (size_t i = 0; i < sizeof(mime_table) / sizeof(mime_table[0]); i++)
        if (strlen(mime_table[i].ext) == ext_len &&
            strncasecmp(mime_table[i].ext, name + dot, ext_len) == 0)
            return mime_table[i].type;
    return "application/octet-stream";
}
