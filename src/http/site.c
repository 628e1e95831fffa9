/*
 * http/site.c - operator fields, CORS, health and fallback; see site.h.
 */
#include "http/site.h"

#include "http/fields.h"
#include "http/path.h"

#include <string.h>

/* Copies s[0..n) and a NUL into the struct's text; NULL when it is full. */
static const char *keep(struct ws_site *s, const char *src, size_t n)
{
    char *p;

    if (n + 1 > sizeof(s->text) - s->text_used)
        return NULL;
    p = s->text + s->text_used;
    memcpy(p, src, n);
    p[n] = '\0';
    s->text_used += n + 1;
    return p;
}

static const char *rebase(const struct ws_site *dst, const struct ws_site *src, const char *p)
{
    return p == NULL ? NULL : dst->text + (p - src->text);
}

void ws_site_copy(struct ws_site *dst, const struct ws_site *src)
{
    if (dst == src)
        return;
    memcpy(dst, src, sizeof(*dst));
    for (unsigned i = 0; i < src->n_fields; i++) {
        dst->fields[i].glob = rebase(dst, src, src->fields[i].glob);
        dst->fields[i].name = rebase(dst, src, src->fields[i].name);
        dst->fields[i].lower = rebase(dst, src, src->fields[i].lower);
        dst->fields[i].value = rebase(dst, src, src->fields[i].value);
    }
    for (unsigned i = 0; i < src->n_origins; i++)
        dst->origins[i] = rebase(dst, src, src->origins[i]);
}

int ws_site_managed_name(const char *name, size_t len)
{
    static const char *const managed[] = {
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "proxy-connection",
        "te",
        "trailer",
        "date",
        "server",
        "content-type",
        "content-encoding",
        "content-range",
        "etag",
        "last-modified",
        "location",
        "allow",
        "accept-ranges",
        "vary",
        "strict-transport-security",
    };
    struct ws_view v = { name, len };

    for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++)
        if (ws_view_eq_nocase(v, managed[i]))
            return 1;
    return len >= 15 && ws_view_eq_nocase((struct ws_view){ name, 15 }, "access-control-");
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int ws_site_add_field(struct ws_site *s, const char *glob, const char *spec, const char **why)
{
    const char *colon = strchr(spec, ':'), *v, *end;
    size_t name_len;
    struct ws_site_field *f;
    char lower[256];

    if (colon == NULL) {
        *why = "expected 'Name: value'";
        return -1;
    }
    name_len = (size_t)(colon - spec);
    if (name_len == 0 || name_len >= sizeof(lower)) {
        *why = "the field name is empty or too long";
        return -1;
    }
    for (size_t i = 0; i < name_len; i++) {
        if (!ws_is_tchar((unsigned char)spec[i])) {
            *why = "the field name is not a token (letters, digits and !#$%&'*+-.^_`|~ only)";
            return -1;
        }
        lower[i] = (char)ws__ascii_lower((unsigned char)spec[i]);
    }
    if (ws_site_managed_name(spec, name_len)) {
        *why = "the server sets this field itself (see --help: --hsts, --cors)";
        return -1;
    }
    for (v = colon + 1; is_ows(*v); v++)
        ;
    for (end = v + strlen(v); end > v && is_ows(end[-1]); end--)
        ;
    for (const char *c = v; c < end; c++)
        if (!ws_is_field_vchar((unsigned char)*c)) {
            *why = "the field value holds a control character (CR, LF, NUL...)";
            return -1;
        }
    if (glob != NULL && glob[0] != '/' && glob[0] != '*') {
        *why = "the path pattern must start with '/' or '*'";
        return -1;
    }
    if (s->n_fields == WS_SITE_FIELDS_MAX) {
        *why = "too many header fields (at most 32)";
        return -1;
    }
    if (s->field_bytes + name_len + 4 + (size_t)(end - v) > WS_SITE_FIELD_BYTES) {
        *why = "the header fields add up to more than 1024 bytes";
        return -1;
    }
    f = &s->fields[s->n_fields];
    f->name = keep(s, spec, name_len);
    f->lower = keep(s, lower, name_len);
    f->value = keep(s, v, (size_t)(end - v));
    f->glob = glob != NULL ? keep(s, glob, strlen(glob)) : NULL;
    if (f->name == NULL || f->lower == NULL || f->value == NULL ||
        (glob != NULL && f->glob == NULL)) {
        *why = "the header fields and origins add up to too many bytes";
        return -1;
    }
    f->name_len = name_len;
    s->field_bytes += name_len + 4 + (size_t)(end - v);
    s->cache_control |= ws_view_eq_nocase((struct ws_view){ spec, name_len }, "cache-control");
    s->n_fields++;
    return 0;
}

int ws_site_add_security_headers(struct ws_site *s, const char **why)
{
    static const char *const fields[] = {
        "X-Content-Type-Options: nosniff",
        "Referrer-Policy: strict-origin-when-cross-origin",
        "X-Frame-Options: SAMEORIGIN",
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (ws_site_add_field(s, NULL, fields[i], why) < 0)
            return -1;
    return 0;
}

int ws_site_add_origin(struct ws_site *s, const char *origin, const char **why)
{
    const char *host;
    size_t len = strlen(origin);

    if (strcmp(origin, "*") == 0 || s->cors_any) {
        if (s->n_origins > 0 || (s->cors_any && strcmp(origin, "*") != 0)) {
            *why = "'*' allows every origin: give it alone";
            return -1;
        }
        s->cors_any = 1;
        return 0;
    }
    if (strncmp(origin, "http://", 7) == 0)
        host = origin + 7;
    else if (strncmp(origin, "https://", 8) == 0)
        host = origin + 8;
    else {
        *why = "expected '*' or an origin such as https://example.com[:port]";
        return -1;
    }
    if (*host == '\0') {
        *why = "the origin has no host";
        return -1;
    }
    for (const char *c = host; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr(".-:[]", *c))) {
            *why = "an origin is scheme://host[:port], lowercase, without a path or a slash";
            return -1;
        }
    if (s->n_origins == WS_SITE_ORIGINS_MAX) {
        *why = "too many origins (at most 16)";
        return -1;
    }
    if (len + 40 > WS_SITE_FIELD_BYTES - s->field_bytes ||
        (s->origins[s->n_origins] = keep(s, origin, len)) == NULL) {
        *why = "the header fields and origins add up to too many bytes";
        return -1;
    }
    s->n_origins++;
    return 0;
}

/* Copies a --health or --metrics path into dst (WS_SITE_PATH_MAX bytes) once it is checked. */
static int set_answered_path(char *dst, const char *other, const char *path, const char **why)
{
    size_t len = strlen(path);

    if (path[0] != '/' || len >= WS_SITE_PATH_MAX) {
        *why = "expected an absolute path such as /healthz";
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)path[i] <= 0x20 || path[i] == 0x7f || path[i] == '?' || path[i] == '#') {
            *why = "the path may hold no space, control, '?' or '#'";
            return -1;
        }
    if (strcmp(path, other) == 0) {
        *why = "--health and --metrics must be different paths";
        return -1;
    }
    memcpy(dst, path, len + 1);
    return 0;
}

int ws_site_set_health(struct ws_site *s, const char *path, const char **why)
{
    return set_answered_path(s->health, s->metrics, path, why);
}

int ws_site_set_metrics(struct ws_site *s, const char *path, const char **why)
{
    return set_answered_path(s->metrics, s->health, path, why);
}

int ws_site_add_metrics_allow(struct ws_site *s, const char *block, const char **why)
{
    if (s->n_metrics_allow == WS_SITE_ALLOW_MAX) {
        *why = "too many blocks (at most 16)";
        return -1;
    }
    /* "unix" (which --trusted-proxy takes) names no address a client could be. */
    if (ws_cidr_parse(block, &s->metrics_allow[s->n_metrics_allow]) < 0 ||
        s->metrics_allow[s->n_metrics_allow].family == AF_UNIX) {
        *why = "expected an address or a block such as 10.0.0.0/8 or fd00::/8";
        return -1;
    }
    s->n_metrics_allow++;
    return 0;
}

int ws_site_metrics_allowed(const struct ws_site *s, const char *client)
{
    static const struct ws_cidr loopback[] = {
        { AF_INET, { 127 }, 8 },
        { AF_INET6, { [15] = 1 }, 128 },
    };
    struct ws_cidr addr;

    if (ws_cidr_parse(client, &addr) < 0 || (addr.family == AF_INET && addr.prefix != 32) ||
        (addr.family == AF_INET6 && addr.prefix != 128))
        return 0;
    if (s->n_metrics_allow == 0)
        return ws_cidr_match(loopback, 2, addr.family, addr.addr);
    return ws_cidr_match(s->metrics_allow, s->n_metrics_allow, addr.family, addr.addr);
}

int ws_site_set_fallback(struct ws_site *s, const char *path, const char **why)
{
    char slashed[WS_SITE_PATH_MAX + 1];
    size_t len = strlen(path), rel_len;
    int is_dir;

    if (len == 0 || len >= WS_SITE_PATH_MAX) {
        *why = "expected a file under the root, such as index.html";
        return -1;
    }
    /* Normalised as a request path is, so it names what a request for it would. */
    slashed[0] = '/';
    memcpy(slashed + (path[0] != '/'), path, len + 1);
    if (ws_path_normalize(slashed, strlen(slashed), s->fallback, sizeof(s->fallback), &rel_len,
                          &is_dir) < 0 ||
        is_dir || rel_len == 0) {
        s->fallback[0] = '\0';
        *why = "expected a file under the root, such as index.html";
        return -1;
    }
    for (size_t i = 0; i < rel_len; i++)
        if (s->fallback[i] == '.' && (i == 0 || s->fallback[i - 1] == '/')) {
            s->fallback[0] = '\0';
            *why = "the file may not be hidden (a name starting with '.')";
            return -1;
        }
    return 0;
}

int ws_site_cors(const struct ws_site *s, const struct ws_request *req, struct ws_view *allow,
                 int *vary)
{
    const struct ws_header *origin;

    *vary = s->n_origins > 0;
    if (s->cors_any) {
        *allow = (struct ws_view){ "*", 1 };
        return 1;
    }
    if (s->n_origins == 0 || req == NULL ||
        (origin = ws_request_only_header(req, "origin")) == NULL)
        return 0;
    for (unsigned i = 0; i < s->n_origins; i++)
        if (origin->value.len == strlen(s->origins[i]) &&
            memcmp(origin->value.ptr, s->origins[i], origin->value.len) == 0) {
            *allow = (struct ws_view){ s->origins[i], origin->value.len };
            return 1;
        }
    return 0;
}

size_t ws_site_cors_headers(const struct ws_request *req, char *out, size_t size)
{
    static const char *const harmless[] = {
        "accept",        "accept-language", "content-language",  "content-type",        "range",
        "if-match",      "if-none-match",   "if-modified-since", "if-unmodified-since", "if-range",
        "cache-control", "pragma",          "x-requested-with",
    };
    size_t n = 0;

    if (size == 0)
        return 0;
    out[0] = '\0';
    for (size_t h = 0; h < req->header_count; h++) {
        struct ws_view elem;
        size_t pos = 0;

        if (!ws_view_eq_nocase(req->headers[h].name, "access-control-request-headers"))
            continue;
        while (ws_list_next(req->headers[h].value, &pos, &elem)) {
            size_t i;
            for (i = 0; i < sizeof(harmless) / sizeof(harmless[0]); i++)
                if (ws_view_eq_nocase(elem, harmless[i]))
                    break;
            if (i == sizeof(harmless) / sizeof(harmless[0]))
                continue;
            if (n + 2 + elem.len + 1 > size)
                return n;
            if (n > 0) {
                memcpy(out + n, ", ", 2);
                n += 2;
            }
            memcpy(out + n, harmless[i], elem.len);
            n += elem.len;
            out[n] = '\0';
        }
    }
    return n;
}

/*
 * One Accept element, "type/subtype *( OWS ; OWS param )": sets *range to the
 * media range and returns its weight, or -1 when it is malformed.
 */
static int parse_range(struct ws_view e, struct ws_view *range)
{
    size_t i = 0;
    int q = 1000;

    while (i < e.len && e.ptr[i] != ';' && !is_ows(e.ptr[i]))
        i++;
    *range = (struct ws_view){ e.ptr, i };
    while (i < e.len) {
        size_t start, end;
        while (i < e.len && (is_ows(e.ptr[i]) || e.ptr[i] == ';'))
            i++;
        start = i;
        while (i < e.len && e.ptr[i] != ';')
            i++;
        end = i;
        while (end > start && is_ows(e.ptr[end - 1]))
            end--;
        if (end - start >= 2 && (e.ptr[start] == 'q' || e.ptr[start] == 'Q') &&
            e.ptr[start + 1] == '=') {
            q = ws_parse_qvalue(e.ptr + start + 2, end - start - 2);
            if (q < 0)
                return -1;
        }
    }
    return q;
}

static int same_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ws__ascii_lower((unsigned char)a[i]) != ws__ascii_lower((unsigned char)b[i]))
            return 0;
    return 1;
}

int ws_accept_weight(const struct ws_request *req, const char *type, int *named)
{
    const char *slash = strchr(type, '/');
    size_t major = slash != NULL ? (size_t)(slash - type) : strlen(type);
    int best = -1, best_rank = -1, seen = 0;

    *named = 0;
    for (size_t h = 0; h < req->header_count; h++) {
        struct ws_view elem, range;
        size_t pos = 0;

        if (!ws_view_eq_nocase(req->headers[h].name, "accept"))
            continue;
        seen = 1;
        while (ws_list_next(req->headers[h].value, &pos, &elem)) {
            int q = parse_range(elem, &range), rank;
            if (q < 0)
                continue;
            if (ws_view_eq_nocase(range, type))
                rank = 2;
            else if (range.len == major + 2 && range.ptr[major] == '/' &&
                     range.ptr[major + 1] == '*' && major > 0 &&
                     same_nocase(range.ptr, type, major))
                rank = 1;
            else if (range.len == 3 && memcmp(range.ptr, "*/*", 3) == 0)
                rank = 0;
            else
                continue;
            if (rank == 2)
                *named = q > 0 ? 1 : *named;
            /* The most specific range decides; among equals, the lowest weight. */
            if (rank > best_rank || (rank == best_rank && q < best)) {
                best_rank = rank;
                best = q;
            }
        }
    }
    if (!seen)
        return 1000;
    return best < 0 ? 0 : best;
}

int ws_site_dotted_name(const char *rel, size_t len)
{
    while (len > 0 && rel[len - 1] != '/')
        if (rel[--len] == '.')
            return 1;
    return 0;
}

int ws_site_wants_fallback(const struct ws_request *req, const char *rel, size_t len)
{
    int named;

    if (!ws_site_dotted_name(rel, len))
        return 1; /* no '.' in the last segment: a route */
    return ws_accept_weight(req, "text/html", &named) > 0 && named;
}

int ws_site_wants_json(const struct ws_request *req)
{
    int named;

    return ws_accept_weight(req, "application/json", &named) >
           ws_accept_weight(req, "text/html", &named);
}
