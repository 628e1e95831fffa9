/*
 * http/fields.c - shared HTTP field syntax; see fields.h.
 */
#include "http/fields.h"

#include <errno.h>
#include <string.h>

/* tchar per RFC 9110 §5.6.2. */
const unsigned char ws__tchar_table[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* Whitespace around list elements: OWS, and the line ends of an obs-fold. */
static int is_list_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int ws_list_next(struct ws_view list, size_t *pos, struct ws_view *elem)
{
    while (*pos <= list.len) {
        size_t s = *pos, e;
        while (*pos < list.len && list.ptr[*pos] != ',')
            (*pos)++;
        e = (*pos)++;
        while (s < e && is_list_space(list.ptr[s]))
            s++;
        while (e > s && is_list_space(list.ptr[e - 1]))
            e--;
        if (e > s) {
            *elem = (struct ws_view){ list.ptr + s, e - s };
            return 1;
        }
    }
    return 0;
}

int ws_content_length_parse(struct ws_view v, int64_t *out)
{
    size_t i = 0;
    int seen = 0;

    for (;;) {
        int64_t n = 0;
        size_t digits = 0;
        while (i < v.len && is_list_space(v.ptr[i]))
            i++;
        for (; i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9'; i++, digits++) {
            int d = v.ptr[i] - '0';
            if (n > (INT64_MAX - d) / 10)
                return -1; /* does not fit in 63 bits */
            n = n * 10 + d;
        }
        while (i < v.len && is_list_space(v.ptr[i]))
            i++;
        if (digits == 0 || (i < v.len && v.ptr[i] != ','))
            return -1;
        if (seen && n != *out)
            return -1; /* differing values */
        *out = n;
        seen = 1;
        if (i == v.len)
            return 0;
        i++; /* the comma */
    }
}

static void note_content_length(struct ws_framing *f, struct ws_view v)
{
    int64_t n = 0;

    /* "5, 5" is one length sent twice; "5, 6" is two. */
    if (ws_content_length_parse(v, &n) < 0 || (f->cl_seen && n != f->content_length))
        f->cl_bad = 1;
    f->cl_seen = 1;
    f->content_length = n;
}

static void note_transfer_encoding(struct ws_framing *f, struct ws_view v)
{
    struct ws_view elem;
    size_t pos = 0;

    while (ws_list_next(v, &pos, &elem)) {
        size_t n = 0;
        while (n < elem.len && ws_is_tchar((unsigned char)elem.ptr[n]))
            n++;
        int chunked = ws_view_eq_nocase((struct ws_view){ elem.ptr, n }, "chunked");
        f->te_codings++;
        f->te_chunked += chunked;
        f->te_last_chunked = chunked;
        /* Not a coding name, or chunked with parameters, which it never takes (§7.1). */
        if (n == 0 || (chunked && n != elem.len))
            f->te_bad = 1;
    }
    if (!f->te_seen && f->te_codings == 0)
        f->te_first_empty = 1;
    f->te_seen = 1;
}

static void note_connection(struct ws_framing *f, struct ws_view v)
{
    struct ws_view elem;
    size_t pos = 0;

    while (ws_list_next(v, &pos, &elem)) {
        if (ws_view_eq_nocase(elem, "close"))
            f->conn_close = 1;
        else if (ws_view_eq_nocase(elem, "keep-alive"))
            f->conn_keep_alive = 1;
    }
}

void ws_framing_note(struct ws_framing *f, struct ws_view name, struct ws_view value)
{
    /* Most names are told apart by their length alone. */
    switch (name.len) {
    case 10:
        if (ws_view_eq_nocase(name, "connection"))
            note_connection(f, value);
        break;
    case 14:
        if (ws_view_eq_nocase(name, "content-length"))
            note_content_length(f, value);
        break;
    case 17:
        if (ws_view_eq_nocase(name, "transfer-encoding"))
            note_transfer_encoding(f, value);
        break;
    default: break;
    }
}

int ws_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    int overflow = 0;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    for (; *s != '\0'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (*s < '0' || *s > '9')
            return -EINVAL;
        if (v > (UINT64_MAX - d) / 10)
            overflow = 1; /* keep reading: junk after the digits is still -EINVAL */
        else
            v = v * 10 + d;
    }
    if (overflow || v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int ws_parse_qvalue(const char *s, size_t len)
{
    int q, scale = 100;

    if (len == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    q = (s[0] - '0') * 1000;
    if (len == 1)
        return q;
    if (s[1] != '.' || len > 5)
        return -1;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}
