/*
 * http/request_parser.c - HTTP/1.x request parser; see request_parser.h for the contract.
 *
 * The parser is strict where leniency has been used for request smuggling or
 * cache poisoning (whitespace, line folding, bare CR, framing headers) and
 * lenient only where RFC 9112 explicitly allows it (bare LF as a line
 * terminator, empty lines before the request line, empty list elements).
 * docs/conformance.md records each choice with its RFC section.
 */
#include "http/request_parser.h"

#include <string.h>

/* Bytes allowed in a request-target: any visible byte; no SP, CTL or DEL. */
static int is_target_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

static enum ws_method lookup_method(struct ws_view m)
{
    static const struct {
        const char *name;
        enum ws_method method;
    } methods[] = {
        { "GET", WS_METHOD_GET },         { "HEAD", WS_METHOD_HEAD },
        { "POST", WS_METHOD_POST },       { "PUT", WS_METHOD_PUT },
        { "DELETE", WS_METHOD_DELETE },   { "CONNECT", WS_METHOD_CONNECT },
        { "OPTIONS", WS_METHOD_OPTIONS }, { "TRACE", WS_METHOD_TRACE },
        { "PATCH", WS_METHOD_PATCH },
    };
    /* Method names are case-sensitive (RFC 9110 §9.1). */
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strlen(methods[i].name) == m.len && memcmp(methods[i].name, m.ptr, m.len) == 0)
            return methods[i].method;
    return WS_METHOD_UNKNOWN;
}

/*
 * Host: uri-host [ ":" port ] (RFC 9110 §7.2). Accepts reg-names, IPv4 and
 * bracketed IP literals; rejects empty hosts (§4.2.1), userinfo and anything
 * that could change meaning when the value is reused in a URL or a log.
 */
/* The signs a reg-name may hold (RFC 3986 §3.2.2: unreserved, sub-delims, pct-encoded's '%'). */
static int host_sign(unsigned char c)
{
    switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case '%': return 1;
    default: return 0;
    }
}

static int valid_host(struct ws_view h)
{
    size_t i = 0;
    if (h.len == 0)
        return 0;
    if (h.ptr[0] == '[') {
        for (i = 1; i < h.len && h.ptr[i] != ']'; i++) {
            unsigned char c = (unsigned char)h.ptr[i];
            if (!(c == ':' || c == '.' || (c >= '0' && c <= '9') ||
                  (ws__ascii_lower(c) >= 'a' && ws__ascii_lower(c) <= 'z')))
                return 0;
        }
        if (i == h.len || i == 1)
            return 0;
        i++;
    } else {
        for (; i < h.len && h.ptr[i] != ':'; i++) {
            unsigned char c = (unsigned char)h.ptr[i];
            int ok = (c >= '0' && c <= '9') ||
                     (ws__ascii_lower(c) >= 'a' && ws__ascii_lower(c) <= 'z') || host_sign(c);
            if (!ok)
                return 0;
        }
        if (i == 0)
            return 0;
    }
    if (i == h.len)
        return 1;
    if (h.ptr[i] != ':')
        return 0;
    for (i++; i < h.len; i++)
        if (h.ptr[i] < '0' || h.ptr[i] > '9')
            return 0;
    return 1;
}

/* Facts gathered while the fields are read, judged once all are in. */
struct framing {
    struct ws_framing fields; /* Content-Length, Transfer-Encoding, Connection */
    int host_count;
    int host_bad;
};

/* Expect is a list (RFC 9110 §10.1.1) whose empty elements are ignored (§5.6.1). */
static void note_expect(struct ws_request *req, struct ws_view v)
{
    struct ws_view elem;
    size_t pos = 0;
    while (ws_list_next(v, &pos, &elem)) {
        if (ws_view_eq_nocase(elem, "100-continue"))
            req->expect_continue = 1;
        else
            req->expect_other = 1;
    }
}

static void note_field(struct framing *f, struct ws_request *req, const struct ws_header *h)
{
    switch (h->name.len) {
    case 4:
        if (ws_view_eq_nocase(h->name, "host")) {
            f->host_count++;
            if (req->target_form != WS_TARGET_ABSOLUTE)
                req->host = h->value;
            else if (!valid_host(h->value))
                f->host_bad = 1; /* must still be a valid value (RFC 9112 §3.2) */
        }
        break;
    case 6:
        if (ws_view_eq_nocase(h->name, "expect"))
            note_expect(req, h->value);
        break;
    default: ws_framing_note(&f->fields, h->name, h->value); break;
    }
}

/* Splits the request-target into form, path, query and (absolute-form) host. */
static int classify_target(struct ws_request *req)
{
    const char *t = req->target.ptr;
    size_t n = req->target.len, path_start = 0, i;

    if (memchr(t, '#', n) != NULL)
        return -400; /* a fragment is never sent (RFC 9110 §4.2.4) */
    if (t[0] == '/') {
        req->target_form = WS_TARGET_ORIGIN;
    } else if (n == 1 && t[0] == '*') {
        req->target_form = WS_TARGET_ASTERISK;
        req->path = req->target;
        return 0;
    } else if ((n >= 7 && ws_view_eq_nocase((struct ws_view){ t, 7 }, "http://")) ||
               (n >= 8 && ws_view_eq_nocase((struct ws_view){ t, 8 }, "https://"))) {
        size_t a = (t[4] == ':') ? 7 : 8;
        req->target_form = WS_TARGET_ABSOLUTE;
        for (i = a; i < n && t[i] != '/' && t[i] != '?'; i++)
            ;
        req->host = (struct ws_view){ t + a, i - a };
        if (!valid_host(req->host))
            return -400;
        path_start = i;
        if (path_start == n) {
            req->path = (struct ws_view){ "/", 1 };
            return 0;
        }
        if (t[path_start] == '?') {
            /* "http://host?q": the path is empty, which means "/" (RFC 9110 §4.2.3). */
            req->path = (struct ws_view){ "/", 1 };
            req->query = (struct ws_view){ t + path_start + 1, n - path_start - 1 };
            return 0;
        }
    } else if (req->method == WS_METHOD_CONNECT) {
        req->target_form = WS_TARGET_AUTHORITY;
        req->path = req->target;
        return valid_host(req->target) ? 0 : -400;
    } else {
        return -400;
    }

    for (i = path_start; i < n && t[i] != '?'; i++)
        ;
    req->path = (struct ws_view){ t + path_start, i - path_start };
    if (i < n)
        req->query = (struct ws_view){ t + i + 1, n - i - 1 };
    return 0;
}

/*
 * The need-more answer for buf[0..end), unless the bytes seen already break a
 * limit. A request line (from line_start, after any leading empty lines) still
 * unterminated beyond its limit is 414; a CR at the very end may be the start of
 * its terminator, so it does not count. A header section that fills the whole
 * head allowance without ending is 431.
 */
static int need_more(const char *buf, const char *line_start, const char *end, int line_done,
                     const struct ws_parse_limits *lim)
{
    size_t line = (size_t)(end - line_start);
    if (line > 0 && end[-1] == '\r')
        line--;
    if (!line_done && line > lim->max_request_line)
        return -414;
    if ((size_t)(end - buf) >= lim->max_head)
        return -431;
    return WS_PARSE_AGAIN;
}

/* Returns the number of leading empty lines' bytes (RFC 9112 §2.2 allows them). */
static size_t skip_leading_empty_lines(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')))
        i += (buf[i] == '\r') ? 2 : 1;
    return i;
}

/*
 * Nothing decisive arrived since the last call: no new line ended, and no
 * limit can have been crossed. A request is complete or wrong only at the end
 * of some line (or at a limit), except for bad bytes inside a line, which are
 * then caught when that line ends.
 */
static int nothing_decisive(const char *buf, size_t len, size_t prev_len,
                            const struct ws_parse_limits *lim)
{
    if (prev_len > 0 && prev_len < len && len < lim->max_head &&
        memchr(buf + prev_len, '\n', len - prev_len) == NULL) {
        /* Leading empty lines end no request line (RFC 9112 §2.2). */
        size_t skip = skip_leading_empty_lines(buf, prev_len);
        int line_done = memchr(buf + skip, '\n', prev_len - skip) != NULL;
        if (line_done || len - skip <= lim->max_request_line)
            return 1;
    }
    return 0;
}

/*
 * HTTP-version and its line end, at *pp (in the request line that starts at
 * line_start). Returns 1 with *pp past the line end, else the parse result to
 * return (WS_PARSE_AGAIN or an error).
 */
static int parse_version(const char *buf, const char *line_start, const char *end,
                         const struct ws_parse_limits *lim, struct ws_request *req, const char **pp)
{
    static const char proto[] = "HTTP/";
    const char *p = *pp;
    size_t avail = (size_t)(end - p);
    size_t cmp = avail < 5 ? avail : 5;

    /* The name is case-sensitive (RFC 9112 §2.3). */
    if (memcmp(p, proto, cmp) != 0)
        return -400;
    if (avail < 8)
        return need_more(buf, line_start, end, 0, lim);
    if (p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
        return -400;
    if (p[5] != '1')
        return -505;
    req->version = p[7] == '0' ? 10 : 11;
    p += 8;
    if (p == end)
        return need_more(buf, line_start, end, 0, lim);
    if (*p == '\r') {
        if (p + 1 == end)
            return need_more(buf, line_start, end, 0, lim);
        if (p[1] != '\n')
            return -400;
        req->request_line = (struct ws_view){ line_start, (size_t)(p - line_start) };
        p += 2;
    } else if (*p == '\n') {
        req->request_line = (struct ws_view){ line_start, (size_t)(p - line_start) };
        p += 1;
    } else {
        return -400;
    }
    if (req->request_line.len > lim->max_request_line)
        return -414;
    *pp = p;
    return 1;
}

/*
 * The request line, method SP request-target SP HTTP-version line-end, from
 * line_start. Returns 1 with *pp just past it, else the parse result to return.
 */
static int parse_request_line(const char *buf, const char *line_start, const char *end,
                              const struct ws_parse_limits *lim, struct ws_request *req,
                              const char **pp)
{
    const char *p = line_start;
    int rc;

    if (p < end && *p == '\r' && p + 1 == end)
        return need_more(buf, line_start, end, 0, lim);

    /* method SP */
    while (p < end && ws_is_tchar((unsigned char)*p))
        p++;
    if (p == end)
        return need_more(buf, line_start, end, 0, lim);
    if (*p != ' ' || p == line_start)
        return -400;
    req->method_name = (struct ws_view){ line_start, (size_t)(p - line_start) };
    req->method = lookup_method(req->method_name);
    p++;

    /* request-target SP */
    req->target.ptr = p;
    while (p < end && is_target_char((unsigned char)*p))
        p++;
    if ((size_t)(p - line_start) > lim->max_request_line)
        return -414;
    if (p == end)
        return need_more(buf, line_start, end, 0, lim);
    if (*p != ' ' || p == req->target.ptr)
        return -400; /* a second SP, HTAB, CTL, or HTTP/0.9 (no version) */
    req->target.len = (size_t)(p - req->target.ptr);
    p++;

    rc = parse_version(buf, line_start, end, lim, req, &p);
    if (rc != 1)
        return rc;
    *pp = p;
    return 1;
}

/*
 * The field lines from *pp through the empty line that ends the header
 * section. Returns 1 with *pp just past it, else the parse result to return.
 */
static int parse_fields(const char *buf, const char *line_start, const char *end,
                        const struct ws_parse_limits *lim, struct ws_request *req,
                        struct framing *f, const char **pp)
{
    const char *p = *pp;

    /* field-line CRLF, until an empty line */
    for (;;) {
        struct ws_header h;
        const char *name, *value;

        if ((size_t)(p - buf) > lim->max_head)
            return -431;
        if (p == end)
            return need_more(buf, line_start, end, 1, lim);
        if (*p == '\r') {
            if (p + 1 == end)
                return need_more(buf, line_start, end, 1, lim);
            if (p[1] != '\n')
                return -400;
            p += 2;
            break;
        }
        if (*p == '\n') {
            p++;
            break;
        }
        /* Leading whitespace: obs-fold, or whitespace after the start line. */
        if (*p == ' ' || *p == '\t')
            return -400;

        name = p;
        while (p < end && ws_is_tchar((unsigned char)*p))
            p++;
        if (p == end)
            return need_more(buf, line_start, end, 1, lim);
        if (*p != ':' || p == name)
            return -400; /* includes whitespace before the colon (RFC 9112 §5.1) */
        h.name = (struct ws_view){ name, (size_t)(p - name) };
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        value = p;
        while (p < end && ws_is_field_vchar((unsigned char)*p))
            p++;
        if (p == end)
            return need_more(buf, line_start, end, 1, lim);
        h.value = (struct ws_view){ value, (size_t)(p - value) };
        while (h.value.len > 0 &&
               (h.value.ptr[h.value.len - 1] == ' ' || h.value.ptr[h.value.len - 1] == '\t'))
            h.value.len--;
        if (*p == '\r') {
            if (p + 1 == end)
                return need_more(buf, line_start, end, 1, lim);
            if (p[1] != '\n')
                return -400; /* bare CR (RFC 9112 §2.2) */
            p += 2;
        } else if (*p == '\n') {
            p++;
        } else {
            return -400; /* NUL or another control byte in the value */
        }
        if (req->header_count >= lim->max_headers || req->header_count >= WS_MAX_HEADERS)
            return -431;
        req->headers[req->header_count++] = h;
        note_field(f, req, &h);
    }
    if ((size_t)(p - buf) > lim->max_head)
        return -431;
    *pp = p;
    return 1;
}

/* Judges Host and the framing fields once all are in: 0, or the error status. */
static int judge_fields(const struct framing *f, struct ws_request *req)
{
    const struct ws_framing *fr = &f->fields;

    /* Host (RFC 9112 §3.2): exactly one, valid, in HTTP/1.1. */
    if (f->host_count > 1 || f->host_bad || (req->version == 11 && f->host_count == 0))
        return -400;
    if (f->host_count == 1 && req->target_form != WS_TARGET_ABSOLUTE && !valid_host(req->host))
        return -400;

    /* Message framing (RFC 9112 §6.1, §6.3). */
    if (fr->cl_bad)
        return -400;
    if (fr->cl_seen)
        req->content_length = fr->content_length;
    if (fr->te_seen) {
        if (req->version == 10 || fr->cl_seen)
            return -400;
        if (fr->te_bad || fr->te_first_empty || !fr->te_last_chunked || fr->te_chunked != 1)
            return -400;
        if (fr->te_codings > 1)
            return -501; /* a coding before chunked that we do not implement */
        req->chunked = 1;
    }

    if (req->version == 11)
        req->keep_alive = !fr->conn_close;
    else
        req->keep_alive = fr->conn_keep_alive && !fr->conn_close;
    return 0;
}

int ws_http_parse_request(const char *buf, size_t len, size_t prev_len,
                          const struct ws_parse_limits *lim, struct ws_request *req)
{
    const char *p, *end = buf + len, *line_start;
    struct framing f;
    int rc;

    if (nothing_decisive(buf, len, prev_len, lim))
        return WS_PARSE_AGAIN;

    memset(req, 0, offsetof(struct ws_request, headers));
    req->content_length = -1;
    memset(&f, 0, sizeof(f));

    line_start = buf + skip_leading_empty_lines(buf, len);
    rc = parse_request_line(buf, line_start, end, lim, req, &p);
    if (rc != 1)
        return rc;
    rc = classify_target(req);
    if (rc < 0)
        return rc;
    rc = parse_fields(buf, line_start, end, lim, req, &f, &p);
    if (rc != 1)
        return rc;
    rc = judge_fields(&f, req);
    if (rc < 0)
        return rc;
    return (int)(p - buf);
}

int ws_http_request_from_h2(struct ws_request *req, struct ws_view method, struct ws_view authority,
                            struct ws_view path)
{
    struct ws_framing fr;
    const struct ws_header *host = NULL;
    int rc;

    memset(req, 0, offsetof(struct ws_request, header_count));
    req->content_length = -1;
    req->version = 20;
    req->keep_alive = 1;
    req->method_name = method;
    req->method = lookup_method(method);
    req->target = path;
    memset(&fr, 0, sizeof(fr));
    for (size_t i = 0; i < req->header_count; i++) {
        const struct ws_header *h = &req->headers[i];
        if (ws_view_eq_nocase(h->name, "host")) {
            if (host != NULL)
                return -400;
            host = h;
        } else if (ws_view_eq_nocase(h->name, "expect")) {
            note_expect(req, h->value);
        } else if (ws_view_eq_nocase(h->name, "content-length")) {
            ws_framing_note(&fr, h->name, h->value);
        }
    }
    if (fr.cl_bad)
        return -400;
    if (fr.cl_seen)
        req->content_length = fr.content_length;
    req->expect_continue = 0; /* HTTP/2 has no interim 100 here: the body is simply sent */
    if (req->method == WS_METHOD_CONNECT) {
        /* RFC 9113 §8.5: only :method and :authority. */
        req->target = authority;
        req->target_form = WS_TARGET_AUTHORITY;
        req->path = authority;
        req->host = authority;
        return valid_host(authority) ? 0 : -400;
    }
    if (path.len == 0)
        return -400;
    rc = classify_target(req);
    if (rc < 0)
        return rc;
    if (req->target_form != WS_TARGET_ORIGIN && req->target_form != WS_TARGET_ASTERISK)
        return -400; /* :path is origin-form, or "*" for OPTIONS (RFC 9113 §8.3.1) */
    /* :authority, else Host (RFC 9113 §8.3.1); when both, they must agree. */
    if (authority.len > 0) {
        if (!valid_host(authority))
            return -400;
        req->host = authority;
    } else if (host != NULL) {
        if (!valid_host(host->value))
            return -400;
        req->host = host->value;
    }
    return 0;
}
