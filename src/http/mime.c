/*
 * http/mime.c - the built-in extension to media type table, and operator tables in
 * /etc/mime.types format; see mime.h.
 */
#include "http/mime.h"

#include "http/fields.h"

#include <errno.h>
#include <stdlib.h>
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

/*
 * The operator's table: extensions (lower-cased) sorted by byte order for a
 * binary search, each pointing at its type in the same arena. Built once, then
 * only read, so lookups may run on any number of threads at once.
 */
struct map_entry {
    const char *ext;
    size_t ext_len;
    const char *type;
    size_t order; /* position in the file: a later line wins */
};

struct ws_mime_map {
    struct map_entry *entries;
    size_t count;
    size_t longest_ext;
    char *arena;
};

static const char charset_suffix[] = "; charset=utf-8";

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static size_t token_len(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && ws_is_tchar((unsigned char)s[i]))
        i++;
    return i;
}

/* Whether s[0..len) equals the lower-case ASCII string lit, ignoring case. */
static int eq_nocase(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

static int ends_nocase(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len >= n && strncasecmp(s + len - n, lit, n) == 0;
}

/*
 * Checks a media type field, "type/subtype" followed by any number of
 * ";name=value" parameters (value a token or a quoted string; the field holds
 * no whitespace, which separates fields in this format). Sets *params when
 * there are parameters and *text when the type is one that gets a charset.
 * Returns 0, or -1 if the field is not such a type.
 */
static int check_type(const char *s, size_t len, int *params, int *text)
{
    size_t type = token_len(s, len), sub, i;

    if (type == 0 || type == len || s[type] != '/')
        return -1;
    sub = token_len(s + type + 1, len - type - 1);
    if (sub == 0)
        return -1;
    i = type + 1 + sub;
    *params = i < len;
    *text = eq_nocase(s, type, "text") || ends_nocase(s + type + 1, sub, "+json") ||
            ends_nocase(s + type + 1, sub, "+xml") ||
            (eq_nocase(s, type, "application") &&
             (eq_nocase(s + type + 1, sub, "json") || eq_nocase(s + type + 1, sub, "javascript") ||
              eq_nocase(s + type + 1, sub, "xml") || eq_nocase(s + type + 1, sub, "ecmascript")));
    while (i < len) {
        size_t n;
        if (s[i++] != ';')
            return -1;
        n = token_len(s + i, len - i);
        if (n == 0 || i + n == len || s[i + n] != '=')
            return -1;
        i += n + 1;
        if (i < len && s[i] == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\' || (unsigned char)s[i] < 0x21 || s[i] == 0x7f)
                    return -1;
            if (i == len)
                return -1;
            i++;
        } else {
            n = token_len(s + i, len - i);
            if (n == 0)
                return -1;
            i += n;
        }
    }
    return 0;
}

/* Reads the next whitespace-separated field of line[*i..len); returns 0 at the end. */
static int next_field(const char *line, size_t len, size_t *i, const char **f, size_t *flen)
{
    while (*i < len && is_space(line[*i]))
        (*i)++;
    if (*i == len)
        return 0;
    *f = line + *i;
    while (*i < len && !is_space(line[*i]))
        (*i)++;
    *flen = (size_t)(line + *i - *f);
    return 1;
}

/*
 * One pass over the text. With map == NULL it only validates and counts the
 * entries and the arena bytes they need; with a map it fills entries and arena,
 * which the counting pass sized. Returns 0, or the 1-based number of the first
 * malformed line.
 */
static unsigned scan(const char *text, size_t len, struct ws_mime_map *map, size_t *entries,
                     size_t *bytes)
{
    size_t pos = 0, n_entries = 0, n_bytes = 0;
    unsigned line_no = 0;

    while (pos < len) {
        const char *line = text + pos, *f, *type_out = NULL;
        size_t line_len = 0, cut, i = 0, flen;
        int params, text_type;

        line_no++;
        while (pos + line_len < len && text[pos + line_len] != '\n')
            line_len++;
        pos += line_len + (pos + line_len < len); /* past the '\n' */
        for (cut = 0; cut < line_len && line[cut] != '#'; cut++)
            ;
        if (!next_field(line, cut, &i, &f, &flen))
            continue; /* blank or comment */
        if (check_type(f, flen, &params, &text_type) < 0)
            return line_no;
        if (map != NULL) {
            char *t = map->arena + n_bytes;
            memcpy(t, f, flen);
            if (text_type && !params) {
                memcpy(t + flen, charset_suffix, sizeof(charset_suffix));
            } else {
                t[flen] = '\0';
            }
            type_out = t;
        }
        n_bytes += flen + (text_type && !params ? sizeof(charset_suffix) - 1 : 0) + 1;
        while (next_field(line, cut, &i, &f, &flen)) {
            if (token_len(f, flen) != flen)
                return line_no;
            if (map != NULL) {
                char *e = map->arena + n_bytes;
                struct map_entry *me = &map->entries[n_entries];
                for (size_t k = 0; k < flen; k++)
                    e[k] = (char)lower((unsigned char)f[k]);
                e[flen] = '\0';
                me->ext = e;
                me->ext_len = flen;
                me->type = type_out;
                me->order = n_entries;
                if (flen > map->longest_ext)
                    map->longest_ext = flen;
            }
            n_bytes += flen + 1;
            n_entries++;
        }
    }
    *entries = n_entries;
    *bytes = n_bytes;
    return 0;
}

/* Byte order of ext (already lower case) against s[0..len) folded to lower case. */
static int compare_ext(const char *ext, size_t ext_len, const char *s, size_t len)
{
    size_t n = ext_len < len ? ext_len : len;
    for (size_t i = 0; i < n; i++) {
        int a = (unsigned char)ext[i], b = lower((unsigned char)s[i]);
        if (a != b)
            return a < b ? -1 : 1;
    }
    return ext_len < len ? -1 : ext_len > len;
}

static int entry_order(const void *pa, const void *pb)
{
    const struct map_entry *a = pa, *b = pb;
    int c = compare_ext(a->ext, a->ext_len, b->ext, b->ext_len);
    if (c != 0)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

struct ws_mime_map *ws_mime_map_parse(const char *text, size_t len, unsigned *bad_line)
{
    struct ws_mime_map *map;
    size_t entries, bytes, w = 0;
    unsigned bad = scan(text, len, NULL, &entries, &bytes);

    if (bad != 0) {
        if (bad_line != NULL)
            *bad_line = bad;
        errno = EINVAL;
        return NULL;
    }
    map = calloc(1, sizeof(*map));
    if (map == NULL)
        return NULL;
    map->entries = malloc(entries > 0 ? entries * sizeof(*map->entries) : 1);
    map->arena = malloc(bytes > 0 ? bytes : 1);
    if (map->entries == NULL || map->arena == NULL) {
        ws_mime_map_free(map);
        errno = ENOMEM;
        return NULL;
    }
    scan(text, len, map, &entries, &bytes);

    /* Sort by extension, then by line; keep only the last entry of each run. */
    qsort(map->entries, entries, sizeof(*map->entries), entry_order);
    for (size_t r = 0; r < entries; r++) {
        const struct map_entry *e = &map->entries[r];
        if (r + 1 < entries && compare_ext(e->ext, e->ext_len, e[1].ext, e[1].ext_len) == 0)
            continue;
        map->entries[w++] = *e;
    }
    map->count = w;
    return map;
}

void ws_mime_map_free(struct ws_mime_map *map)
{
    if (map == NULL)
        return;
    free(map->entries);
    free(map->arena);
    free(map);
}

size_t ws_mime_map_size(const struct ws_mime_map *map)
{
    return map == NULL ? 0 : map->count;
}

static const char *map_find(const struct ws_mime_map *map, const char *ext, size_t len)
{
    size_t lo = 0, hi = map->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_ext(map->entries[mid].ext, map->entries[mid].ext_len, ext, len);
        if (c == 0)
            return map->entries[mid].type;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *ws_mime_lookup(const struct ws_mime_map *map, const char *name, size_t len)
{
    size_t seg = len;

    if (map == NULL || map->count == 0)
        return ws_mime_type(name, len);
    while (seg > 0 && name[seg - 1] != '/')
        seg--;
    /*
     * Every extension of the last segment, longest first, so that an entry such
     * as "tar.gz" or "cwl.json" (the real /etc/mime.types has these) wins over
     * "gz" or "json". Extensions longer than any in the map are not looked up.
     */
    for (size_t i = seg; i < len; i++) {
        const char *type;
        if (name[i] != '.' || len - i - 1 > map->longest_ext || i + 1 == len)
            continue;
        type = map_find(map, name + i + 1, len - i - 1);
        if (type != NULL)
            return type;
    }
    return ws_mime_type(name, len);
}

/* Whether the media type's subtype (or whole type) contains word, case-insensitively. */
static int type_has(const char *type, size_t len, const char *word)
{
    size_t n = strlen(word);

    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(type + i, word, n) == 0)
            return 1;
    return 0;
}

int ws_mime_compressible(const char *type)
{
    size_t len = 0;

    /* Only "type/subtype" counts: a parameter such as charset names nothing compressible. */
    while (type[len] != '\0' && type[len] != ';' && type[len] != ' ' && type[len] != '\t')
        len++;
    if (len >= 5 && strncasecmp(type, "text/", 5) == 0)
        return 1;
    return type_has(type, len, "json") || type_has(type, len, "xml") ||
           type_has(type, len, "javascript") || type_has(type, len, "ecmascript") ||
           type_has(type, len, "wasm") || (len == 8 && strncasecmp(type, "font/ttf", 8) == 0) ||
           (len == 8 && strncasecmp(type, "font/otf", 8) == 0);
}
