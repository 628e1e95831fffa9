/*
 * http/range.c - Range field parsing and multipart/byteranges framing; see range.h.
 *
 * The parser reads the field once, left to right, and keeps the satisfiable
 * ranges in out as a sorted set of disjoint, non-adjacent spans, merging each
 * new range into it as it is read. The work is bounded by len * max whatever
 * the client sends, and no number it sends is trusted: every one is clamped.
 */
#include "http/range.h"

#include "http/fields.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A decimal number as sent: its value saturated at INT64_MAX, and its digits. */
struct number {
    int64_t value;
    const char *digits; /* leading zeros skipped */
    size_t len;
};

/*
 * Reads 1*DIGIT at s[*i], saturating at INT64_MAX instead of wrapping. Returns 0,
 * or -1 if there is no digit.
 */
static int read_number(const char *s, size_t len, size_t *i, struct number *num)
{
    size_t start = *i;

    num->value = 0;
    for (; *i < len && is_digit(s[*i]); (*i)++) {
        int d = s[*i] - '0';
        num->value = num->value > (INT64_MAX - d) / 10 ? INT64_MAX : num->value * 10 + d;
    }
    while (start + 1 < *i && s[start] == '0')
        start++;
    num->digits = s + start;
    num->len = *i - start;
    return num->len > 0 ? 0 : -1;
}

/* a < b for numbers of any length: saturated values alone cannot tell. */
static int number_less(const struct number *a, const struct number *b)
{
    if (a->len != b->len)
        return a->len < b->len;
    return memcmp(a->digits, b->digits, a->len) < 0;
}

/*
 * Merges r into set[0..*n), which is sorted and holds no two spans that overlap
 * or touch. Returns 0, or -1 if r would be one span more than max.
 */
static int merge_range(struct ws_range *set, int *n, int max, struct ws_range r)
{
    int k = 0, j;

    /* Every last is below size <= INT64_MAX, so last + 1 cannot overflow. */
    while (k < *n && set[k].last + 1 < r.first)
        k++;
    for (j = k; j < *n && set[j].first <= r.last + 1; j++) {
        if (set[j].first < r.first)
            r.first = set[j].first;
        if (set[j].last > r.last)
            r.last = set[j].last;
    }
    if (j == k) {
        if (*n == max)
            return -1;
        memmove(set + k + 1, set + k, (size_t)(*n - k) * sizeof(*set));
        (*n)++;
    } else {
        memmove(set + k + 1, set + j, (size_t)(*n - j) * sizeof(*set));
        *n -= j - k - 1;
    }
    set[k] = r;
    return 0;
}

int ws_range_parse(const char *value, size_t len, int64_t size, struct ws_range *out, int max)
{
    size_t i = 0;
    int n = 0, specs = 0, empty_suffix = 0;

    if (max <= 0 || size < 0)
        return 0;
    while (i < len && ws_is_tchar((unsigned char)value[i]))
        i++;
    if (i != 5 || strncasecmp(value, "bytes", 5) != 0 || i == len || value[i] != '=')
        return 0;
    i++;

    /*
     * range-set = 1#range-spec, read with the recipient's list rule (RFC 9110
     * §5.6.1.2): empty elements and OWS around commas are accepted. OWS right
     * after '=' is accepted too, as nginx does; nothing can be confused by it.
     */
    for (;;) {
        struct ws_range r;
        struct number a, b;
        int satisfiable;

        while (i < len && (is_ows(value[i]) || value[i] == ','))
            i++;
        if (i == len)
            break;
        if (value[i] == '-') { /* suffix-range: the last b bytes */
            i++;
            if (read_number(value, len, &i, &b) < 0)
                return 0;
            satisfiable = b.value > 0 && size > 0;
            empty_suffix |= b.value > 0 && size == 0;
            r.first = b.value >= size ? 0 : size - b.value;
            r.last = size - 1;
        } else { /* int-range: first-last or first- */
            if (read_number(value, len, &i, &a) < 0 || i == len || value[i] != '-')
                return 0;
            i++;
            b.value = INT64_MAX;
            if (i < len && is_digit(value[i])) {
                read_number(value, len, &i, &b);
                if (number_less(&b, &a))
                    return 0; /* invalid range-spec: the whole field is ignored */
            }
            satisfiable = a.value < size;
            r.first = a.value;
            r.last = b.value < size ? b.value : size - 1;
        }
        specs++;
        while (i < len && is_ows(value[i]))
            i++;
        if (i < len && value[i] != ',')
            return 0;
        if (satisfiable && merge_range(out, &n, max, r) < 0)
            return 0;
    }
    if (specs == 0)
        return 0;
    if (n > 0)
        return n;
    /*
     * A suffix range of an empty representation is satisfiable (RFC 9110
     * §14.1.1) but selects no byte, which no Content-Range can express: the
     * whole, empty representation is sent with 200 instead.
     */
    return empty_suffix ? 0 : -416;
}

size_t ws_range_part_header(char *out, size_t out_size, const char *boundary,
                            const char *content_type, struct ws_range r, int64_t size)
{
    int w;

    if (content_type != NULL)
        w = snprintf(out, out_size,
                     "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRId64 "-%" PRId64
                     "/%" PRId64 "\r\n\r\n",
                     boundary, content_type, r.first, r.last, size);
    else
        w = snprintf(out, out_size,
                     "\r\n--%s\r\nContent-Range: bytes %" PRId64 "-%" PRId64 "/%" PRId64 "\r\n\r\n",
                     boundary, r.first, r.last, size);
    return w < 0 || (size_t)w >= out_size ? 0 : (size_t)w;
}

size_t ws_range_multipart_end(char *out, size_t out_size, const char *boundary)
{
    int w = snprintf(out, out_size, "\r\n--%s--\r\n", boundary);
    return w < 0 || (size_t)w >= out_size ? 0 : (size_t)w;
}
