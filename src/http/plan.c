/*
 * http/plan.c - the response plan; see plan.h.
 *
 * ws_plan_make runs the decisions in the order RFC 9110 gives them: what the
 * path resolved to, then the preconditions (§13.2.2), then Range (§14.2), then
 * the page of an error, then the connection. Each step is one function below.
 */
#include "http/plan.h"

#include "http/fields.h"
#include "http/httpdate.h"
#include "http/path.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char allowed_methods[] = "GET, HEAD, OPTIONS";

int ws_plan_route(const struct ws_request *req, const struct ws_plan_env *env)
{
    if (req->expect_other)
        return 417;
    if (req->method == WS_METHOD_UNKNOWN)
        return 501;
    if (env->site != NULL && env->site->health[0] != '\0' &&
        (req->method == WS_METHOD_GET || req->method == WS_METHOD_HEAD) &&
        req->path.len == strlen(env->site->health) &&
        memcmp(req->path.ptr, env->site->health, req->path.len) == 0)
        return WS_PLAN_HEALTH;
    if (env->site != NULL && env->site->metrics[0] != '\0' &&
        (req->method == WS_METHOD_GET || req->method == WS_METHOD_HEAD) &&
        req->path.len == strlen(env->site->metrics) &&
        memcmp(req->path.ptr, env->site->metrics, req->path.len) == 0)
        return WS_PLAN_METRICS;
    if (env->https_redirect_port != 0)
        return req->target_form == WS_TARGET_ASTERISK ? 400 : 308;
    if (req->method == WS_METHOD_OPTIONS)
        return 200;
    if (req->method != WS_METHOD_GET && req->method != WS_METHOD_HEAD)
        return 405;
    if (req->target_form == WS_TARGET_ASTERISK)
        return 400;
    if (req->content_length > 0 && (uint64_t)req->content_length > env->max_body)
        return 413;
    return 0;
}

int ws_plan_may_range(const struct ws_request *req)
{
    return req->method == WS_METHOD_GET && ws_request_header(req, "range") != NULL;
}

/* Statuses after which the request stream can still be trusted: keep the connection. */
static int keeps_connection(int status)
{
    return status < 400 || status == 401 || status == 403 || status == 404 || status == 405 ||
           status == 412 || status == 416 || status == 501;
}

/* A multipart boundary: 16 hex digits from the caller's xorshift state. */
static void make_boundary(uint64_t *state, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    for (int i = 0; i < 16; i++)
        out[i] = hex[(x >> (4 * i)) & 15];
    out[16] = '\0';
}

/*
 * Lays out the part headers and the closing delimiter of a multipart body in
 * p->parts. Returns the body's length, or -1 when they do not fit (the caller
 * then ignores the Range).
 */
static int64_t layout_parts(struct ws_plan *p, const char *content_type, int64_t size)
{
    size_t used = 0;
    int64_t data = 0;

    for (int i = 0; i < p->n_ranges; i++) {
        size_t n = ws_range_part_header(p->parts + used, sizeof(p->parts) - used, p->boundary,
                                        content_type, p->ranges[i], size);
        if (n == 0)
            return -1;
        p->part_off[i] = (uint32_t)used;
        p->part_len[i] = (uint32_t)n;
        used += n;
        data += p->ranges[i].last - p->ranges[i].first + 1;
    }
    p->end_off = (uint32_t)used;
    p->end_len =
        (uint32_t)ws_range_multipart_end(p->parts + used, sizeof(p->parts) - used, p->boundary);
    if (p->end_len == 0)
        return -1;
    return (int64_t)(used + p->end_len) + data;
}

/*
 * Range (RFC 9110 §14.2) for a file that passed its preconditions: a single
 * Range field on a GET, allowed by If-Range, gives 206 or 416. A repeated
 * Range field is ambiguous and ignored, as is one we cannot lay out.
 */
static void apply_range(struct ws_plan *p, const struct ws_request *req,
                        const struct ws_resource *res, const struct ws_plan_env *env,
                        struct ws_view tag)
{
    const struct ws_header *range;
    int n;

    if (req->method != WS_METHOD_GET || (range = ws_request_only_header(req, "range")) == NULL ||
        !ws_if_range_allows(req, tag, (time_t)res->mtime_sec))
        return;
    n = ws_range_parse(range->value.ptr, range->value.len, res->size, p->ranges, WS_RANGE_MAX);
    if (n == -416) {
        p->status = 416;
        snprintf(p->content_range, sizeof(p->content_range), "bytes */%" PRId64, res->size);
        p->head.content_range = p->content_range;
    } else if (n == 1) {
        p->status = 206;
        p->offset = p->ranges[0].first;
        p->length = p->ranges[0].last - p->ranges[0].first + 1;
        snprintf(p->content_range, sizeof(p->content_range),
                 "bytes %" PRId64 "-%" PRId64 "/%" PRId64, p->ranges[0].first, p->ranges[0].last,
                 res->size);
        p->head.content_range = p->content_range;
    } else if (n > 1) {
        int64_t len;
        p->n_ranges = n;
        make_boundary(env->boundary_state, p->boundary);
        len = layout_parts(p, res->content_type, res->size);
        if (len < 0) {
            p->n_ranges = 0;
            return;
        }
        p->status = 206;
        p->length = len;
        snprintf(p->content_type, sizeof(p->content_type), "multipart/byteranges; boundary=%s",
                 p->boundary);
        p->head.content_type = p->content_type;
    }
}

/* A file: validators, caching, preconditions, then ranges. */
static void plan_file(struct ws_plan *p, const struct ws_request *req,
                      const struct ws_resource *res, const struct ws_plan_env *env)
{
    int64_t tag_size = res->coded_tag != NULL ? res->identity_size : res->size;
    struct ws_view tag;
    int pre;

    if (res->etag != NULL && res->last_modified != NULL && res->coded_tag == NULL &&
        res->content_encoding == NULL) {
        /* Made by the runtime when it cached the file (the same functions, the same inputs). */
        tag = (struct ws_view){ res->etag, res->etag_len };
        p->head.etag = res->etag;
        p->head.last_modified = res->last_modified;
    } else {
        tag = (struct ws_view){ p->etag, ws_etag_format((uint64_t)tag_size, res->mtime_sec,
                                                        res->mtime_nsec, p->etag) };
        if (res->coded_tag != NULL)
            tag.len = ws_etag_add_coding(p->etag, tag.len, res->coded_tag);
        else if (res->content_encoding != NULL)
            /* A sibling: gzip -k, zstd -k and brotli -k give each the original's time, and
               two of them (or one and the original) may have the same size. */
            tag.len = ws_etag_add_coding(p->etag, tag.len, res->content_encoding);
        ws_httpdate_format((time_t)res->mtime_sec, p->last_modified);
        p->head.etag = p->etag;
        p->head.last_modified = p->last_modified;
    }
    pre = ws_preconditions(req, tag, (time_t)res->mtime_sec);
    p->head.vary_accept_encoding = res->vary;
    p->head.vary_accept = res->vary_accept; /* a --fallback chosen by Accept */
    p->head.cache_control = ws_cache_control(env->cache_mode, env->cache_max_age, res->name,
                                             res->name_len, res->content_type, p->cache_control);
    if (pre != 0) {
        p->status = pre; /* 304, or 412 (an error page follows) */
        return;
    }
    p->status = 200;
    p->body = WS_BODY_FILE;
    p->offset = 0;
    p->length = res->size;
    p->head.content_type = res->content_type;
    p->head.content_encoding = res->content_encoding;
    /* A coding made on the fly has no ranges: a Range request gets the file itself. */
    p->head.accept_ranges = res->coded_tag == NULL;
    if (res->coded_tag == NULL)
        apply_range(p, req, res, env, tag);
    if (p->status != 200 && p->status != 206) {
        p->body = WS_BODY_NONE;
        p->head.accept_ranges = 0;
    }
}

/* A listing has no validators, but If-Match and If-None-Match "*" still apply. */
static void plan_listing(struct ws_plan *p, const struct ws_request *req,
                         const struct ws_resource *res)
{
    int pre = ws_preconditions(req, (struct ws_view){ "", 0 }, (time_t)-1);

    if (pre != 0) {
        p->status = pre;
        return;
    }
    p->status = 200;
    p->head.content_type = res->content_type;
    p->head.vary_accept = res->vary_accept;
    p->body = WS_BODY_MEM;
    p->mem = res->mem;
    p->mem_len = res->mem_len;
}

/* An error or a redirect: our page for it, which the operator's may replace. */
static void plan_page(struct ws_plan *p, const char *location)
{
    p->head.etag = p->head.last_modified = p->head.cache_control = NULL;
    p->head.content_type = "text/html; charset=utf-8";
    p->head.content_encoding = NULL;
    p->head.accept_ranges = 0;
    p->head.location = p->status == 301 || p->status == 308 ? location : NULL;
    p->head.allow = p->status == 405 ? allowed_methods : NULL;
    p->body = WS_BODY_MEM;
    p->mem = p->page;
    p->mem_len = ws_error_page(p->status, p->head.location, p->page, sizeof(p->page));
    p->operator_page = p->status >= 400;
}

/*
 * The Location of a 308 to https://: the request's host without its port,
 * then the port unless it is 443, then the path and query as sent. NULL when
 * the request names no host or the result would be too long.
 */
static const char *https_location(struct ws_plan *p, const struct ws_request *req, int port)
{
    struct ws_view host = req->host;
    size_t n;
    int w;

    /* Strip ":port" from "name:port" and "[v6]:port", not the colons of "[v6]". */
    for (size_t i = host.len; i > 0; i--) {
        char ch = host.ptr[i - 1];
        if (ch == ':') {
            host.len = i - 1;
            break;
        }
        if (ch < '0' || ch > '9')
            break;
    }
    if (host.len == 0)
        return NULL;
    w = snprintf(p->redirect, sizeof(p->redirect), "https://%.*s", (int)host.len, host.ptr);
    if (w > 0 && (size_t)w < sizeof(p->redirect) && port != 443)
        w += snprintf(p->redirect + w, sizeof(p->redirect) - (size_t)w, ":%d", port);
    if (w < 0 || (size_t)w >= sizeof(p->redirect))
        return NULL;
    n = (size_t)w;
    if (n + req->path.len + 1 + req->query.len >= sizeof(p->redirect))
        return NULL;
    memcpy(p->redirect + n, req->path.ptr, req->path.len);
    n += req->path.len;
    if (req->query.len > 0) {
        p->redirect[n++] = '?';
        memcpy(p->redirect + n, req->query.ptr, req->query.len);
        n += req->query.len;
    }
    p->redirect[n] = '\0';
    return p->redirect;
}

/*
 * What happens to the connection and to a request body. The answer never
 * waits for a body (the runtime drops what has come, answers, then drops the
 * rest within a fixed budget). A body that the client sends only when told
 * to (Expect: 100-continue) is asked for only when the answer is a success;
 * otherwise, and for a body larger than max_body, the answer closes the
 * connection instead of reading it.
 */
static void plan_connection(struct ws_plan *p, const struct ws_request *req,
                            const struct ws_plan_env *env, int last_request)
{
    p->close = req == NULL || !req->keep_alive || last_request;
    p->linger = req == NULL; /* the rest of a bad request may still be arriving */
    if (!keeps_connection(p->status))
        p->close = 1; /* framing may be off; do not trust the stream further */
    if (req != NULL && (req->content_length > 0 || req->chunked)) {
        int expect = req->expect_continue && req->version == 11;
        int too_large = req->content_length > 0 && (uint64_t)req->content_length > env->max_body;
        if (too_large || p->status == 413 || p->status == 417 || (expect && p->status >= 300)) {
            p->close = 1;
            p->linger = 1;
        } else {
            p->discard = req->chunked ? -1 : req->content_length;
            p->send_continue = expect;
            p->linger |= p->close; /* what is not dropped before the close may still come */
        }
    }
    /* The server ends a connection the client meant to keep (a shutdown,
     * --max-requests, a status that ends it): the client's next request may
     * be on its way, and a close with input unread is a reset that can
     * destroy this response's end. */
    if (req != NULL && req->keep_alive && p->close && !p->linger)
        p->linger = WS_LINGER_IF_INPUT;
    p->head.connection = p->close ? 1 : (req != NULL && req->version == 10) ? 2 : 0;
}

/* Adds a field to head.extra (the plan has room for every one the site can add). */
static void add_extra(struct ws_plan *p, const char *name, const char *lower, const char *value)
{
    if (p->head.n_extra < WS_HEAD_EXTRA_MAX)
        p->extra[p->head.n_extra++] = (struct ws_head_field){ name, lower, strlen(name), value };
}

/*
 * CORS (the Fetch standard's CORS protocol): a preflight from an allowed
 * origin becomes a 204 that allows our methods and the harmless request
 * headers it asks for; any other response to an allowed origin names it.
 */
static void plan_cors(struct ws_plan *p, const struct ws_request *req, const struct ws_site *site,
                      int route_status)
{
    struct ws_view allow;
    int vary;

    if (ws_site_cors(site, req, &allow, &vary)) {
        add_extra(p, "Access-Control-Allow-Origin", "access-control-allow-origin", allow.ptr);
        if (req != NULL && route_status == 200 && req->method == WS_METHOD_OPTIONS &&
            ws_request_header(req, "origin") != NULL &&
            ws_request_header(req, "access-control-request-method") != NULL) {
            p->status = 204;
            add_extra(p, "Access-Control-Allow-Methods", "access-control-allow-methods",
                      allowed_methods);
            if (ws_site_cors_headers(req, p->cors_headers, sizeof(p->cors_headers)) > 0)
                add_extra(p, "Access-Control-Allow-Headers", "access-control-allow-headers",
                          p->cors_headers);
            add_extra(p, "Access-Control-Max-Age", "access-control-max-age", "7200");
        }
    }
    p->head.vary_origin = vary;
}

/* The operator's fields: --header on every response, --header-for where the path matches. */
static void plan_site_fields(struct ws_plan *p, const struct ws_request *req,
                             const struct ws_site *site)
{
    int decoded = 0;

    for (unsigned i = 0; i < site->n_fields; i++) {
        const struct ws_site_field *f = &site->fields[i];
        if (f->glob != NULL) {
            if (decoded == 0) {
                size_t len;
                int is_dir;
                decoded = -1;
                if (req != NULL && req->path.len > 0 &&
                    ws_path_normalize(req->path.ptr, req->path.len, p->path + 1,
                                      sizeof(p->path) - 2, &len, &is_dir) == 0) {
                    p->path[0] = '/';
                    if (is_dir && len > 0)
                        p->path[1 + len++] = '/';
                    p->path[1 + len] = '\0';
                    decoded = 1;
                }
            }
            if (decoded < 0 || fnmatch(f->glob, p->path, 0) != 0)
                continue;
        }
        if (site->cache_control &&
            ws_view_eq_nocase((struct ws_view){ f->name, f->name_len }, "cache-control"))
            p->head.cache_control = NULL;
        p->extra[p->head.n_extra] =
            (struct ws_head_field){ f->name, f->lower, f->name_len, f->value };
        if (p->head.n_extra < WS_HEAD_EXTRA_MAX)
            p->head.n_extra++;
    }
}

/* The body's length as the fields announce it. */
static int64_t content_length(const struct ws_plan *p)
{
    switch (p->body) {
    case WS_BODY_FILE: return p->length;
    case WS_BODY_MEM: return (int64_t)p->mem_len;
    case WS_BODY_NONE: break;
    }
    return p->status == 304 || p->status == 204 ? -1 : 0; /* RFC 9110 §8.6 */
}

void ws_plan_make(struct ws_plan *p, const struct ws_request *req, int status,
                  const struct ws_resource *res, const struct ws_plan_env *env, int last_request)
{
    const char *location = NULL;

    memset(&p->head, 0, sizeof(p->head));
    p->status = status;
    p->body = WS_BODY_NONE;
    p->offset = p->length = 0;
    p->n_ranges = 0;
    p->mem = NULL;
    p->mem_len = 0;
    p->operator_page = 0;
    p->close = p->linger = p->send_continue = 0;
    p->discard = 0;
    p->head.date = env->date;

    if (req != NULL && status == 0) {
        p->status = res->status;
        p->head.vary_accept = res->vary_accept; /* a 404 that Accept decided (--fallback) */
        if (res->status == 200 && res->listing)
            plan_listing(p, req, res);
        else if (res->status == 200)
            plan_file(p, req, res, env);
        location = res->location;
        if (p->status == 301 && strlen(location) > WS_PLAN_LOCATION_MAX)
            p->status = 414; /* a Location this long would not fit a response head */
    } else if (req != NULL && status == WS_PLAN_HEALTH) {
        p->status = 200;
        p->head.content_type = "text/plain; charset=utf-8";
        p->head.cache_control = "no-store";
        p->body = WS_BODY_MEM;
        p->mem = "ok";
        p->mem_len = 2;
    } else if (req != NULL && status == WS_PLAN_METRICS) {
        p->status = 200;
        p->head.content_type = res->content_type;
        p->head.cache_control = "no-store";
        p->head.vary_accept = 1;
        p->body = WS_BODY_MEM;
        p->mem = res->mem;
        p->mem_len = res->mem_len;
    } else if (req != NULL && status == 200) {
        p->head.allow = allowed_methods; /* OPTIONS */
    } else if (req != NULL && status == 308) {
        location = https_location(p, req, env->https_redirect_port);
        if (location == NULL)
            p->status = req->host.len == 0 ? 400 : 414;
    }
    if (p->status >= 300 && p->status != 304)
        plan_page(p, location);
    p->head.extra = p->extra;
    if (p->status == 401 && env->auth_challenge != NULL)
        add_extra(p, "WWW-Authenticate", "www-authenticate", env->auth_challenge);
    if (env->site != NULL) {
        plan_cors(p, req, env->site, status);
        plan_site_fields(p, req, env->site);
    }

    plan_connection(p, req, env, last_request);
    p->head.status = p->status;
    p->head.content_length = content_length(p);
    if (env->secure && env->hsts_secs > 0) {
        snprintf(p->hsts, sizeof(p->hsts), "max-age=%u", env->hsts_secs);
        p->head.strict_transport_security = p->hsts;
    }
    p->send_body = p->body != WS_BODY_NONE && p->status != 304 &&
                   !(req != NULL && req->method == WS_METHOD_HEAD);
}

void ws_plan_use_file_body(struct ws_plan *p, int64_t size)
{
    p->body = WS_BODY_FILE;
    p->offset = 0;
    p->length = size;
    p->mem = NULL;
    p->mem_len = 0;
    p->head.content_length = size;
}
