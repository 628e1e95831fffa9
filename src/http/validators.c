/*
 * http/validators.c - entity tags, precondition evaluation and Cache-Control; see validators.h.
 *
 * Entity-tag lists are read with the grammar of RFC 9110 §8.8.3 and the
 * recipient's list rule of §5.6.1.2 (empty elements, OWS around commas). A
 * field line that does not follow it matches nothing, its well-formed elements
 * included: the client asked for a condition we cannot read, so If-Match fails
 * (412) and If-None-Match does not hold back the representation (200). Both are
 * the answers that never hand a client a stale or unexpected body as if it
 * were what it asked for.
 */
#include "http/validators.h"

#include "http/httpdate.h"
#include "http/mime.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)

/* Writes v in lower-case hex without leading zeros ("0" for 0). Returns the digits written. */
static size_t put_hex(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;

    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t ws_etag_format(uint64_t size, int64_t mtime_sec, long mtime_nsec, char *out)
{
    /* Wraps modulo 2^64 ns (584 years): two times that far apart may share a tag. */
    uint64_t ns = (uint64_t)mtime_sec * 1000000000u + (uint64_t)mtime_nsec;
    size_t w = 0;

    /* "%" PRIx64 "-%" PRIx64, quoted; by hand, as it is written for every response. */
    out[w++] = '"';
    w += put_hex(out + w, size);
    out[w++] = '-';
    w += put_hex(out + w, ns);
    out[w++] = '"';
    out[w] = '\0';
    return w;
}

size_t ws_etag_add_coding(char *etag, size_t len, const char *coding)
{
    size_t n = strlen(coding);

    if (len < 2 || n > 8 || len + 1 + n + 1 > WS_ETAG_MAX)
        return len;
    etag[len - 1] = '-';
    memcpy(etag + len, coding, n);
    etag[len + n] = '"';
    etag[len + n + 1] = '\0';
    return len + n + 1;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* etagc = %x21 / %x23-7E / obs-text */
static int is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

struct etag {
    int weak;
    struct ws_view opaque; /* with its quotes */
};

/* Reads one entity-tag at s[*i]. Returns 0 and advances *i, or -1. */
static int read_etag(const char *s, size_t len, size_t *i, struct etag *t)
{
    size_t p = *i, start;

    t->weak = 0;
    if (len - p >= 2 && s[p] == 'W' && s[p + 1] == '/') { /* %s"W/": case-sensitive */
        t->weak = 1;
        p += 2;
    }
    if (p == len || s[p] != '"')
        return -1;
    start = p++;
    while (p < len && is_etagc((unsigned char)s[p]))
        p++;
    if (p == len || s[p] != '"')
        return -1;
    p++;
    t->opaque.ptr = s + start;
    t->opaque.len = p - start;
    *i = p;
    return 0;
}

/* Parses the server's own tag; an invalid one is kept as a tag nothing matches. */
static struct etag own_etag(struct ws_view v)
{
    struct etag t = { 0, { NULL, 0 } };
    size_t i = 0;

    if (v.len == 0 || read_etag(v.ptr, v.len, &i, &t) < 0 || i != v.len) {
        t.weak = 0;
        t.opaque.ptr = NULL;
        t.opaque.len = 0;
    }
    return t;
}

/* RFC 9110 §8.8.3.2: strong comparison needs both tags strong; weak ignores W/. */
static int etag_match(const struct etag *a, const struct etag *b, int strong)
{
    if (a->opaque.len == 0 || a->opaque.len != b->opaque.len)
        return 0;
    if (strong && (a->weak || b->weak))
        return 0;
    return memcmp(a->opaque.ptr, b->opaque.ptr, a->opaque.len) == 0;
}

/*
 * Whether one line of If-Match / If-None-Match ("*" / #entity-tag) matches the
 * current representation. "*" matches whenever there is one, which is always
 * the case here. A malformed line matches nothing (see the top of the file).
 */
static int line_matches(struct ws_view v, const struct etag *cur, int strong)
{
    size_t i = 0;
    int matched = 0;

    for (;;) {
        struct etag t;

        while (i < v.len && (is_ows(v.ptr[i]) || v.ptr[i] == ','))
            i++;
        if (i == v.len)
            break;
        if (v.ptr[i] == '*') {
            i++;
            matched = 1;
        } else if (read_etag(v.ptr, v.len, &i, &t) == 0) {
            matched |= etag_match(&t, cur, strong);
        } else {
            return 0;
        }
        while (i < v.len && is_ows(v.ptr[i]))
            i++;
        if (i < v.len && v.ptr[i] != ',')
            return 0;
    }
    return matched;
}

/*
 * Evaluates the entity-tag field `name` over all its lines: -1 when the request
 * has none, 1 when some line matches, 0 otherwise.
 */
static int etag_field(const struct ws_request *req, const char *name, struct ws_view own,
                      int strong)
{
    struct etag cur;
    int result = -1;

    for (size_t i = 0; i < req->header_count; i++) {
        if (!ws_view_eq_nocase(req->headers[i].name, name))
            continue;
        if (result < 0) {
            result = 0;
            cur = own_etag(own); /* parsed only when there is something to compare it with */
        }
        if (line_matches(req->headers[i].value, &cur, strong))
            result = 1;
    }
    return result;
}

/*
 * Reads the date field `name`: 0 with *t set, or -1 when it is absent, not a
 * valid HTTP-date, or sent on more than one line (which makes its value a list
 * of dates, RFC 9110 §13.1.3, §13.1.4): all of these mean "ignore the field".
 */
static int date_field(const struct ws_request *req, const char *name, time_t *t)
{
    const struct ws_header *found = ws_request_only_header(req, name);

    if (found == NULL)
        return -1;
    return ws_httpdate_parse(found->value.ptr, found->value.len, t);
}

int ws_preconditions(const struct ws_request *req, struct ws_view etag, time_t mtime)
{
    int get_or_head = req->method == WS_METHOD_GET || req->method == WS_METHOD_HEAD;
    int m;
    time_t t;

    /* §13.2.2 step 1, else step 2. */
    m = etag_field(req, "If-Match", etag, 1);
    if (m == 0)
        return 412;
    if (m < 0 && mtime != (time_t)-1 && date_field(req, "If-Unmodified-Since", &t) == 0 &&
        mtime > t)
        return 412;

    /* Step 3, else step 4. */
    m = etag_field(req, "If-None-Match", etag, 0);
    if (m == 1)
        return get_or_head ? 304 : 412;
    if (m < 0 && get_or_head && mtime != (time_t)-1 &&
        date_field(req, "If-Modified-Since", &t) == 0 && mtime <= t)
        return 304;
    return 0;
}

int ws_if_range_allows(const struct ws_request *req, struct ws_view etag, time_t mtime)
{
    const struct ws_header *found = ws_request_only_header(req, "If-Range");
    struct etag cur = own_etag(etag), t;
    struct ws_view v;
    size_t i = 0;
    time_t date;

    if (found == NULL)
        /* No If-Range: the range applies. Two lines: not one validator we can evaluate. */
        return ws_request_header(req, "If-Range") == NULL;
    v = found->value;
    /* An entity-tag starts with DQUOTE or "W/"; a date never does ("Wed, ..." neither). */
    if ((v.len > 0 && v.ptr[0] == '"') || (v.len > 1 && v.ptr[0] == 'W' && v.ptr[1] == '/')) {
        if (read_etag(v.ptr, v.len, &i, &t) < 0 || i != v.len)
            return 0;
        return etag_match(&t, &cur, 1);
    }
    if (ws_httpdate_parse(v.ptr, v.len, &date) < 0)
        return 0;
    return date == mtime;
}

/* Whether a media type (parameters allowed) is an HTML page. */
static int is_html_type(const char *type)
{
    static const char *const html[] = { "text/html", "application/xhtml+xml" };

    for (size_t i = 0; i < sizeof(html) / sizeof(html[0]); i++) {
        size_t n = strlen(html[i]);
        if (strncasecmp(type, html[i], n) == 0 &&
            (type[n] == '\0' || type[n] == ';' || is_ows(type[n])))
            return 1;
    }
    return 0;
}

const char *ws_cache_control(enum ws_cache_mode mode, unsigned max_age, const char *name,
                             size_t name_len, const char *content_type, char *buf)
{
    switch (mode) {
    case WS_CACHE_OFF: return NULL;
    case WS_CACHE_FIXED: snprintf(buf, 64, "public, max-age=%u", max_age); return buf;
    case WS_CACHE_AUTO: break;
    }
    if (content_type == NULL)
        content_type = ws_mime_type(name, name_len);
    if (is_html_type(content_type))
        return "no-cache";
    if (ws_is_fingerprinted(name, name_len))
        return "public, max-age=31536000, immutable";
    return "public, max-age=" STRINGIFY(WS_CACHE_AUTO_SHORT);
}

/* Whether token[0..len) looks like a content hash (see validators.h). */
static int is_hash_token(const char *token, size_t len)
{
    int digit = 0, letter = 0, upper = 0, hex = 1;

    if (len < 8 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)token[i];
        if (c >= '0' && c <= '9') {
            digit = 1;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            letter = 1;
            upper |= c <= 'Z';
            hex &= (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        } else if (c == '_') {
            hex = 0;
        } else {
            return 0;
        }
    }
    return digit && letter && (hex || upper);
}

int ws_is_fingerprinted(const char *name, size_t len)
{
    size_t seg = len, ext, start;

    while (seg > 0 && name[seg - 1] != '/')
        seg--;
    ext = len;
    while (ext > seg && name[ext - 1] != '.')
        ext--;
    if (ext == seg)
        return 0; /* no extension: not a build tool's output */
    ext--;        /* the final '.' */
    start = seg;
    for (size_t i = seg; i <= ext; i++) {
        if (i == ext || name[i] == '.' || name[i] == '-') {
            if (is_hash_token(name + start, i - start))
                return 1;
            start = i + 1;
        }
    }
    return 0;
}
