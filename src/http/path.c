/*
 * http/path.c - request path decoding and normalisation; see path.h.
 */
#include "http/path.h"

#include "http/fields.h"

#include <string.h>

/*
 * Whether a path that starts with '/' normalises to itself less its slashes
 * at the ends: no percent-escape, no NUL, and no segment that is empty or
 * starts with '.' (so none is "." or ".."), but perhaps the last, empty
 * one of a trailing slash. Most requests' paths are.
 */
static int is_plain(const char *path, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = path[i];
        if (c == '%' || c == '\0')
            return 0;
        if (c == '/' && i + 1 < len && (path[i + 1] == '/' || path[i + 1] == '.'))
            return 0;
    }
    return 1;
}

int ws_path_normalize(const char *path, size_t len, char *out, size_t out_size, size_t *out_len,
                      int *is_dir)
{
    size_t n = 0, r, w;

    if (len == 0 || path[0] != '/')
        return -400;
    if (out_size < len + 1)
        return -414;
    if (is_plain(path, len)) {
        /* Nothing to decode or drop: the path without its leading (and trailing) slash. */
        n = len - 1;
        *is_dir = path[len - 1] == '/';
        if (*is_dir && n > 0)
            n--;
        memcpy(out, path + 1, n);
        out[n] = '\0';
        *out_len = n;
        return 0;
    }

    /* Pass 1: percent-decode into out. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -400;
            hi = ws_hexval((unsigned char)path[i + 1]);
            lo = ws_hexval((unsigned char)path[i + 2]);
            if (hi < 0 || lo < 0)
                return -400;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return -400; /* encoded or raw: a NUL would cut the file name short */
        out[n++] = (char)c;
    }

    /*
     * Pass 2, in place: split on '/', drop empty and "." segments, let ".." remove
     * the segment before it. w never overtakes r, so reading ahead is safe.
     */
    *is_dir = 1;
    r = 0;
    w = 0;
    while (r < n) {
        size_t s, seg;
        while (r < n && out[r] == '/')
            r++;
        if (r == n)
            break; /* trailing slash(es): a directory form */
        s = r;
        while (r < n && out[r] != '/')
            r++;
        seg = r - s;
        *is_dir = (r < n); /* a later '/' follows this segment */
        if (seg == 1 && out[s] == '.') {
            *is_dir = 1;
            continue;
        }
        if (seg == 2 && out[s] == '.' && out[s + 1] == '.') {
            if (w == 0)
                return -400; /* above the root */
            while (w > 0 && out[w - 1] != '/')
                w--;
            if (w > 0)
                w--; /* the '/' that joined it */
            *is_dir = 1;
            continue;
        }
        if (w > 0)
            out[w++] = '/';
        memmove(out + w, out + s, seg);
        w += seg;
    }
    out[w] = '\0';
    *out_len = w;
    return 0;
}

static int passes_unencoded(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

int ws_path_encode(const char *rel, size_t len, int dir_slash, char *out, size_t out_size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t w = 0;

    if (out_size < 2)
        return -1;
    out[w++] = '/';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)rel[i];
        /* A leading '/' would make "//host", a scheme-relative URL: encode it. */
        if (passes_unencoded(c) && !(i == 0 && c == '/')) {
            if (w + 1 >= out_size)
                return -1;
            out[w++] = (char)c;
        } else {
            if (w + 3 >= out_size)
                return -1;
            out[w++] = '%';
            out[w++] = hex[c >> 4];
            out[w++] = hex[c & 15];
        }
    }
    if (dir_slash && len > 0) {
        if (w + 1 >= out_size)
            return -1;
        out[w++] = '/';
    }
    out[w] = '\0';
    return (int)w;
}
