/*
 * http/listing.c - the HTML page of a directory listing; see listing.h.
 *
 * A file name is whatever bytes the directory holds, so it is treated as
 * hostile twice over: HTML-escaped wherever it appears as text, and
 * percent-encoded in the href so that it can only ever be a relative path
 * below this directory. The href encoding passes the same set as
 * ws_path_encode minus '/' and ':': without '/' a name cannot become "//host"
 * (another origin) or a path elsewhere, and without ':' it cannot become a
 * scheme ("javascript:..."), which a first path segment with a colon would
 * otherwise be (RFC 3986 §4.2).
 */
#include "http/listing.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing output page; after a failed allocation every append is a no-op. */
struct page {
    char *p;
    size_t len, cap;
    int failed;
};

static void put_mem(struct page *pg, const char *s, size_t n)
{
    if (pg->failed)
        return;
    if (pg->cap - pg->len <= n) { /* keep room for the NUL */
        size_t cap = pg->cap ? pg->cap : 4096;
        char *p;
        while (cap - pg->len <= n)
            cap *= 2;
        p = realloc(pg->p, cap);
        if (p == NULL) {
            pg->failed = 1;
            return;
        }
        pg->p = p;
        pg->cap = cap;
    }
    memcpy(pg->p + pg->len, s, n);
    pg->len += n;
}

static void put_str(struct page *pg, const char *s)
{
    put_mem(pg, s, strlen(s));
}

/*
 * The length of the well-formed UTF-8 sequence of two to four bytes at s (n
 * bytes available), or 0: no overlong forms, no surrogates, nothing past
 * U+10FFFF (RFC 3629 §4, Unicode table 3-7).
 */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;

    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (s[0] == 0xe0)
        lo = 0xa0; /* overlong below U+0800 */
    else if (s[0] == 0xed)
        hi = 0x9f; /* surrogates U+D800..U+DFFF */
    else if (s[0] == 0xf0)
        lo = 0x90; /* overlong below U+10000 */
    else if (s[0] == 0xf4)
        hi = 0x8f; /* past U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/*
 * Appends the byte sequence at s (n bytes left, s[0] >= 0x80): a well-formed
 * UTF-8 sequence as it is, anything else as U+FFFD. Returns the bytes used.
 */
static size_t put_utf8(struct page *pg, const char *s, size_t n)
{
    size_t len = utf8_sequence((const unsigned char *)s, n);

    if (len == 0) {
        put_str(pg, "\xef\xbf\xbd");
        return 1;
    }
    put_mem(pg, s, len);
    return len;
}

/*
 * Appends s[0..n) as HTML text or attribute content. The page says UTF-8, so
 * a byte that is not part of well-formed UTF-8 (a name in Latin-1, say) is
 * shown as U+FFFD, as is a control character; the href keeps the real bytes.
 */
static void put_html(struct page *pg, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            i += put_utf8(pg, s + i, n - i) - 1;
            continue;
        }
        switch (c) {
        case '&': put_str(pg, "&amp;"); break;
        case '<': put_str(pg, "&lt;"); break;
        case '>': put_str(pg, "&gt;"); break;
        case '"': put_str(pg, "&quot;"); break;
        case '\'': put_str(pg, "&#39;"); break;
        default:
            if (c < 0x20 || c == 0x7f)
                put_str(pg, "\xef\xbf\xbd"); /* U+FFFD: a control byte has no glyph */
            else
                put_mem(pg, s + i, 1);
        }
    }
}

static int passes_in_href(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("-._~!$&'()*+,;=@", c) != NULL;
}

/* Appends the relative href of a name, already HTML-escaped for the attribute. */
static void put_href(struct page *pg, const char *name, size_t n, int is_dir)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (passes_in_href(c)) {
            put_html(pg, name + i, 1); /* '&' and '\'' still need it in HTML */
        } else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            put_mem(pg, esc, 3);
        }
    }
    if (is_dir)
        put_str(pg, "/");
}

/* "1023 B", "1.5 KiB", ... "5120.0 GiB": one decimal, rounded half up. */
static void put_size(struct page *pg, uint64_t size)
{
    static const char *const units[] = { "KiB", "MiB", "GiB" };
    char buf[48];
    int u = -1;
    uint64_t unit = 1;

    while (u < 2 && size >= unit * 1024) {
        unit *= 1024;
        u++;
    }
    if (u < 0) {
        snprintf(buf, sizeof(buf), "%" PRIu64 " B", size);
    } else {
        uint64_t whole = size / unit, tenths = (size % unit * 10 + unit / 2) / unit;
        if (tenths == 10) {
            whole++;
            tenths = 0;
        }
        if (whole == 1024 && u < 2) { /* 1023.95 KiB and up: say 1.0 MiB */
            whole = 1;
            u++;
        }
        snprintf(buf, sizeof(buf), "%" PRIu64 ".%" PRIu64 " %s", whole, tenths, units[u]);
    }
    put_str(pg, buf);
}

/* "2026-11-26 02:03" in UTC; times beyond the years 0..9999 are clamped to them. */
static void put_date(struct page *pg, time_t t)
{
    const time_t min = (time_t)-62167219200LL, max = (time_t)253402300799LL;
    struct tm tm;
    char buf[64]; /* room for any int the compiler cannot rule out */

    if (t < min)
        t = min;
    if (t > max)
        t = max;
    if (gmtime_r(&t, &tm) == NULL)
        return;
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min);
    put_str(pg, buf);
}

static int entry_order(const void *pa, const void *pb)
{
    const struct ws_listing_entry *a = pa, *b = pb;

    if (!a->is_dir != !b->is_dir)
        return a->is_dir ? -1 : 1;
    return strcmp(a->name, b->name); /* compares as unsigned char: byte order */
}

static int is_dot_entry(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

char *ws_listing_html(const char *url_path, struct ws_listing_entry *entries, size_t n,
                      size_t *out_len)
{
    struct page pg = { NULL, 0, 0, 0 };
    size_t path_len = strlen(url_path);

    if (n > 0)
        qsort(entries, n, sizeof(*entries), entry_order);
    put_str(&pg, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Index of ");
    put_html(&pg, url_path, path_len);
    put_str(&pg, "</title>\n<style>td{padding:0 1em 0 0}td.s{text-align:right}</style>\n"
                 "</head>\n<body>\n<h1>Index of ");
    put_html(&pg, url_path, path_len);
    put_str(&pg, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n");
    if (strcmp(url_path, "/") != 0)
        put_str(&pg, "<tr><td><a href=\"../\">../</a></td><td class=\"s\">-</td><td></td></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const struct ws_listing_entry *e = &entries[i];
        size_t len = strlen(e->name);

        if (is_dot_entry(e->name))
            continue;
        put_str(&pg, "<tr><td><a href=\"");
        put_href(&pg, e->name, len, e->is_dir);
        put_str(&pg, "\">");
        put_html(&pg, e->name, len);
        if (e->is_dir)
            put_str(&pg, "/");
        put_str(&pg, "</a></td><td class=\"s\">");
        if (e->is_dir)
            put_str(&pg, "-");
        else
            put_size(&pg, e->size);
        put_str(&pg, "</td><td>");
        put_date(&pg, e->mtime);
        put_str(&pg, "</td></tr>\n");
    }
    put_str(&pg, "</table>\n</body>\n</html>\n");
    if (pg.failed) {
        free(pg.p);
        return NULL; /* realloc set errno to ENOMEM */
    }
    pg.p[pg.len] = '\0';
    *out_len = pg.len;
    return pg.p;
}

static int name_order(const void *pa, const void *pb)
{
    const struct ws_listing_entry *a = pa, *b = pb;

    return strcmp(a->name, b->name);
}

/* Appends s[0..n) as the inside of a JSON string (RFC 8259 §7); see ws_listing_json. */
static void put_json(struct page *pg, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            i += put_utf8(pg, s + i, n - i) - 1;
        } else if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            put_mem(pg, esc, 2);
        } else if (c == '\n') {
            put_str(pg, "\\n");
        } else if (c == '\t') {
            put_str(pg, "\\t");
        } else if (c == '\r') {
            put_str(pg, "\\r");
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            put_mem(pg, esc, 6);
        } else {
            put_mem(pg, s + i, 1);
        }
    }
}

/* Appends the percent-encoded relative URL of a name (put_href without HTML escaping). */
static void put_url(struct page *pg, const char *name, size_t n, int is_dir)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (passes_in_href(c) && c != '"' && c != '\\') {
            put_mem(pg, name + i, 1);
        } else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            put_mem(pg, esc, 3);
        }
    }
    if (is_dir)
        put_str(pg, "/");
}

char *ws_listing_json(struct ws_listing_entry *entries, size_t n, size_t *out_len)
{
    const time_t min = (time_t)-62167219200LL, max = (time_t)253402300799LL;
    struct page pg = { NULL, 0, 0, 0 };
    int first = 1;

    if (n > 0)
        qsort(entries, n, sizeof(*entries), name_order);
    put_str(&pg, "[");
    for (size_t i = 0; i < n; i++) {
        const struct ws_listing_entry *e = &entries[i];
        size_t len = strlen(e->name);
        time_t t = e->mtime < min ? min : e->mtime > max ? max : e->mtime;
        struct tm tm;
        char buf[128];

        if (is_dot_entry(e->name) || gmtime_r(&t, &tm) == NULL)
            continue;
        put_str(&pg, first ? "\n{\"name\":\"" : ",\n{\"name\":\"");
        first = 0;
        put_json(&pg, e->name, len);
        put_str(&pg, "\",\"url\":\"");
        put_url(&pg, e->name, len, e->is_dir);
        snprintf(buf, sizeof(buf),
                 "\",\"type\":\"%s\",\"symlink\":%s,\"size\":%" PRIu64
                 ",\"mtime\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\"}",
                 e->is_dir     ? "dir"
                 : e->is_other ? "other"
                               : "file",
                 e->is_symlink ? "true" : "false", e->is_dir ? (uint64_t)0 : e->size,
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        put_str(&pg, buf);
    }
    put_str(&pg, first ? "]\n" : "\n]\n");
    if (pg.failed) {
        free(pg.p);
        return NULL;
    }
    pg.p[pg.len] = '\0';
    *out_len = pg.len;
    return pg.p;
}
