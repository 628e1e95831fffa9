/*
 * http/test_site.c - the operator's site options: field and origin validation,
 * the fields and CORS decisions as the response plan applies them (HTTP/1.1
 * head and HTTP/2 field list alike), the health route, Accept weights, the
 * fallback's choice, and the JSON listing's escaping.
 *
 * Requests are raw text parsed by ws_http_parse_request from exactly-sized
 * copies, as in test_plan.c. No sockets, no files, no clock.
 */
#include "test_util.h"
#include "req_util.h"

#include "http/head.h"
#include "http/listing.h"
#include "http/plan.h"
#include "http/site.h"

#include <stdio.h>

#define DATE "Mon, 01 Jan 2024 00:00:00 GMT"

/* ---- validation at start ---------------------------------------------------- */

struct field_case {
    const char *desc;
    const char *glob;
    const char *spec;
    int ok;
};

static void test_add_field(void **state)
{
    static const struct field_case cases[] = {
        { "plain", NULL, "X-A: 1", 1 },
        { "no space after the colon", NULL, "X-A:1", 1 },
        { "empty value", NULL, "X-Empty:", 1 },
        { "tab inside the value", NULL, "X-T: a\tb", 1 },
        { "obs-text", NULL, "X-U: \xc3\xa9", 1 },
        { "Cache-Control may be set", "/assets/*", "Cache-Control: max-age=31536000", 1 },
        { "CSP", NULL, "Content-Security-Policy: default-src 'self'", 1 },
        { "no colon", NULL, "X-A 1", 0 },
        { "empty name", NULL, ": 1", 0 },
        { "space in the name", NULL, "X A: 1", 0 },
        { "space before the colon", NULL, "X-A : 1", 0 },
        { "non-ASCII name", NULL, "X-\xc3\xa9: 1", 0 },
        { "CR in the value", NULL, "X-A: 1\r\nX-B: 2", 0 },
        { "LF in the value", NULL, "X-A: 1\nX-B: 2", 0 },
        { "DEL in the value", NULL, "X-A: 1\x7f", 0 },
        { "ESC in the value", NULL, "X-A: \x1b[31m", 0 },
        { "framing: Content-Length", NULL, "Content-Length: 5", 0 },
        { "framing: Transfer-Encoding", NULL, "transfer-encoding: chunked", 0 },
        { "connection-specific", NULL, "Connection: close", 0 },
        { "connection-specific: Keep-Alive", NULL, "Keep-Alive: timeout=5", 0 },
        { "connection-specific: Upgrade", NULL, "Upgrade: h2c", 0 },
        { "TE", NULL, "TE: trailers", 0 },
        { "Date", NULL, "Date: x", 0 },
        { "Server", NULL, "SERVER: x", 0 },
        { "Content-Type", NULL, "Content-Type: text/plain", 0 },
        { "Vary", NULL, "Vary: Cookie", 0 },
        { "ETag", NULL, "ETag: \"x\"", 0 },
        { "HSTS has --hsts", NULL, "Strict-Transport-Security: max-age=1", 0 },
        { "CORS has --cors", NULL, "Access-Control-Allow-Origin: *", 0 },
        { "a glob not starting with / or *", "assets/*", "X-A: 1", 0 },
        { "a glob starting with *", "*.js", "X-A: 1", 1 },
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct ws_site *s = calloc(1, sizeof(*s));
        const char *why = NULL;
        int rc = ws_site_add_field(s, cases[i].glob, cases[i].spec, &why);
        if ((rc == 0) != cases[i].ok)
            fail_msg("%s: got %d (%s)", cases[i].desc, rc, why ? why : "");
        if (rc < 0)
            assert_non_null(why);
        else
            assert_int_equal(s->n_fields, 1);
        free(s);
    }
}

static void test_field_trimmed_and_lowered(void **state)
{
    struct ws_site *s = calloc(1, sizeof(*s));
    const char *why;

    (void)state;
    assert_int_equal(ws_site_add_field(s, NULL, "X-Powered-By: \t  me too \t", &why), 0);
    assert_string_equal(s->fields[0].name, "X-Powered-By");
    assert_string_equal(s->fields[0].lower, "x-powered-by");
    assert_int_equal(s->fields[0].name_len, 12);
    assert_string_equal(s->fields[0].value, "me too");
    free(s);
}

static void test_field_limits(void **state)
{
    struct ws_site *s = calloc(1, sizeof(*s));
    char spec[64];
    const char *why;
    unsigned i;

    (void)state;
    for (i = 0; i < WS_SITE_FIELDS_MAX; i++) {
        snprintf(spec, sizeof(spec), "X-F%u: v", i);
        assert_int_equal(ws_site_add_field(s, NULL, spec, &why), 0);
    }
    assert_int_equal(ws_site_add_field(s, NULL, "X-One-Too-Many: v", &why), -1);
    free(s);

    /* The bytes a head can carry are bounded too. */
    s = calloc(1, sizeof(*s));
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "X-Big: ", 7);
    assert_int_equal(ws_site_add_field(s, NULL, big, &why), 0);
    assert_int_equal(ws_site_add_field(s, NULL, big, &why), -1);
    free(s);
}

static void test_add_origin(void **state)
{
    static const struct {
        const char *origin;
        int ok;
    } cases[] = {
        { "https://example.com", 1 },
        { "http://localhost:8080", 1 },
        { "https://[::1]:443", 1 },
        { "https://example.com/", 0 },
        { "https://example.com/app", 0 },
        { "ftp://example.com", 0 },
        { "example.com", 0 },
        { "https://", 0 },
        { "https://Example.com", 0 },
        { "null", 0 },
        { "https://a.example\r\nX: 1", 0 },
    };
    const char *why;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct ws_site *s = calloc(1, sizeof(*s));
        if ((ws_site_add_origin(s, cases[i].origin, &why) == 0) != cases[i].ok)
            fail_msg("origin '%s'", cases[i].origin);
        free(s);
    }
}

static void test_origin_star_alone(void **state)
{
    struct ws_site *s = calloc(1, sizeof(*s));
    const char *why;

    (void)state;
    assert_int_equal(ws_site_add_origin(s, "*", &why), 0);
    assert_int_equal(ws_site_add_origin(s, "https://a.example", &why), -1);
    free(s);
    s = calloc(1, sizeof(*s));
    assert_int_equal(ws_site_add_origin(s, "https://a.example", &why), 0);
    assert_int_equal(ws_site_add_origin(s, "*", &why), -1);
    free(s);
}

static void test_health_and_fallback_paths(void **state)
{
    struct ws_site *s = calloc(1, sizeof(*s));
    const char *why;

    (void)state;
    assert_int_equal(ws_site_set_health(s, "/healthz", &why), 0);
    assert_string_equal(s->health, "/healthz");
    assert_int_equal(ws_site_set_health(s, "healthz", &why), -1);
    assert_int_equal(ws_site_set_health(s, "/a b", &why), -1);
    assert_int_equal(ws_site_set_health(s, "/h?x=1", &why), -1);

    assert_int_equal(ws_site_set_fallback(s, "index.html", &why), 0);
    assert_string_equal(s->fallback, "index.html");
    assert_int_equal(ws_site_set_fallback(s, "/app/./x/../index.html", &why), 0);
    assert_string_equal(s->fallback, "app/index.html");
    assert_int_equal(ws_site_set_fallback(s, "../etc/passwd", &why), -1);
    assert_int_equal(ws_site_set_fallback(s, "/", &why), -1);
    assert_int_equal(ws_site_set_fallback(s, "app/", &why), -1);
    assert_int_equal(ws_site_set_fallback(s, ".env", &why), -1);
    assert_int_equal(ws_site_set_fallback(s, "a/.git/x", &why), -1);
    assert_int_equal(ws_site_set_fallback(s, "", &why), -1);
    free(s);
}

static void test_copy_rebases(void **state)
{
    struct ws_site *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    const char *why;

    (void)state;
    assert_int_equal(ws_site_add_field(a, "/x/*", "X-A: 1", &why), 0);
    assert_int_equal(ws_site_add_origin(a, "https://a.example", &why), 0);
    ws_site_copy(b, a);
    memset(a, 0, sizeof(*a));
    free(a);
    assert_string_equal(b->fields[0].name, "X-A");
    assert_string_equal(b->fields[0].glob, "/x/*");
    assert_string_equal(b->origins[0], "https://a.example");
    assert_true(b->fields[0].value >= b->text && b->fields[0].value < b->text + sizeof(b->text));
    free(b);
}

/* ---- Accept, fallback and JSON choices --------------------------------------- */

static void test_accept_weight(void **state)
{
    struct req_buf b = { 0 };
    int named;

    (void)state;
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(ws_accept_weight(&b.req, "text/html", &named), 1000);
    assert_false(named);
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html,application/xhtml+xml,"
              "application/xml;q=0.9,*/*;q=0.8\r\n\r\n");
    assert_int_equal(ws_accept_weight(&b.req, "text/html", &named), 1000);
    assert_true(named);
    assert_int_equal(ws_accept_weight(&b.req, "application/json", &named), 800);
    assert_false(named);
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: image/*;q=0.5, Image/PNG\r\n\r\n");
    assert_int_equal(ws_accept_weight(&b.req, "image/webp", &named), 500);
    assert_int_equal(ws_accept_weight(&b.req, "image/png", &named), 1000);
    assert_int_equal(ws_accept_weight(&b.req, "text/html", &named), 0);
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html;q=0, */*\r\n\r\n");
    assert_int_equal(ws_accept_weight(&b.req, "text/html", &named), 0);
    assert_false(named);
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html;q=2\r\nAccept: */*;q=0.1\r\n\r\n");
    assert_int_equal(ws_accept_weight(&b.req, "text/html", &named), 100); /* bad q: ignored */
    free(b.raw);
}

static void test_wants_json(void **state)
{
    struct req_buf b = { 0 };

    (void)state;
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: application/json\r\n\r\n");
    assert_true(ws_site_wants_json(&b.req));
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html;q=0.5, application/json\r\n\r\n");
    assert_true(ws_site_wants_json(&b.req));
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html, application/json\r\n\r\n");
    assert_false(ws_site_wants_json(&b.req)); /* a tie keeps HTML */
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html,*/*;q=0.8\r\n\r\n");
    assert_false(ws_site_wants_json(&b.req));
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_false(ws_site_wants_json(&b.req));
    free(b.raw);
}

static void test_wants_fallback(void **state)
{
    struct req_buf b = { 0 };

    (void)state;
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: image/png,*/*\r\n\r\n");
    assert_true(ws_site_wants_fallback(&b.req, "app/users/42", 12));
    assert_true(ws_site_wants_fallback(&b.req, "v1.2/users", 10)); /* a dot earlier only */
    assert_false(ws_site_wants_fallback(&b.req, "logo.png", 8));
    assert_false(ws_site_wants_fallback(&b.req, "a/b/app.js", 10));
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html,*/*;q=0.8\r\n\r\n");
    assert_true(ws_site_wants_fallback(&b.req, "docs/page.html", 14));
    assert_true(ws_site_wants_fallback(&b.req, "user/jane.doe", 13));
    parse(&b, "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n");
    assert_false(ws_site_wants_fallback(&b.req, "user/jane.doe", 13));
    free(b.raw);
}

static void test_cors_headers(void **state)
{
    struct req_buf b = { 0 };
    char out[256];

    (void)state;
    parse(&b, "OPTIONS / HTTP/1.1\r\nHost: h\r\n"
              "Access-Control-Request-Headers: Range, x-evil, content-type\r\n"
              "Access-Control-Request-Headers: authorization,X-Requested-With\r\n\r\n");
    assert_int_equal(ws_site_cors_headers(&b.req, out, sizeof(out)),
                     strlen("range, content-type, x-requested-with"));
    assert_string_equal(out, "range, content-type, x-requested-with");
    parse(&b, "OPTIONS / HTTP/1.1\r\nHost: h\r\nAccess-Control-Request-Headers: cookie\r\n\r\n");
    assert_int_equal(ws_site_cors_headers(&b.req, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    free(b.raw);
}

/* ---- the plan with a site ---------------------------------------------------- */

struct site_exchange {
    struct req_buf b;
    struct ws_site site;
    struct ws_plan_env env;
    struct ws_resource res;
    uint64_t boundary;
    struct ws_plan plan;
    char head[8192];
};

static int setup(void **state)
{
    struct site_exchange *x = calloc(1, sizeof(*x));

    if (x == NULL)
        return -1;
    x->res = (struct ws_resource){ .status = 200,
                                   .size = 10,
                                   .mtime_sec = 784111777,
                                   .content_type = "text/javascript",
                                   .name = "assets/app.js",
                                   .name_len = 13 };
    x->env = (struct ws_plan_env){ .cache_mode = WS_CACHE_AUTO,
                                   .max_body = 100,
                                   .date = DATE,
                                   .boundary_state = &x->boundary,
                                   .site = &x->site };
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct site_exchange *x = *state;

    free(x->b.raw);
    free(x);
    return 0;
}

/* Plans the answer to text; returns the HTTP/1.1 head, checked against the HTTP/2 list. */
static const char *answer(struct site_exchange *x, const char *text)
{
    struct ws_head_field fields[WS_HEAD_FIELDS_MAX];
    char length[24];
    const struct ws_request *req = parse(&x->b, text);
    int status = ws_plan_route(req, &x->env);
    size_t n;

    ws_plan_make(&x->plan, req, status, &x->res, &x->env, 0);
    assert_true(ws_head_format(&x->plan.head, x->head, sizeof(x->head)) > 0);
    /* Every field of the HTTP/1.1 head is in the HTTP/2 list, same value, lowercase name. */
    n = ws_head_fields(&x->plan.head, fields, length);
    for (size_t i = 0; i < n; i++) {
        char line[1200];
        snprintf(line, sizeof(line), "\r\n%s: %s\r\n", fields[i].name, fields[i].value);
        assert_non_null(strstr(x->head, line));
        for (size_t k = 0; k < fields[i].name_len; k++)
            assert_true(fields[i].lower[k] ==
                        (char)((fields[i].name[k] >= 'A' && fields[i].name[k] <= 'Z')
                                   ? fields[i].name[k] + 32
                                   : fields[i].name[k]));
    }
    return x->head;
}

static void has(const char *head, const char *line)
{
    char want[1200];

    snprintf(want, sizeof(want), "\r\n%s\r\n", line);
    if (strstr(head, want) == NULL)
        fail_msg("missing '%s' in:\n%s", line, head);
}

static void lacks(const char *head, const char *name)
{
    char want[256];

    snprintf(want, sizeof(want), "\r\n%s:", name);
    if (strstr(head, want) != NULL)
        fail_msg("unexpected '%s' in:\n%s", name, head);
}

#define GET_JS(fields) "GET /assets/app.js HTTP/1.1\r\nHost: h\r\n" fields "\r\n"

static void test_plan_fields_every_response(void **state)
{
    struct site_exchange *x = *state;
    const char *why;
    const char *h;

    assert_int_equal(ws_site_add_field(&x->site, NULL, "X-A: 1", &why), 0);
    assert_int_equal(ws_site_add_security_headers(&x->site, &why), 0);
    h = answer(x, GET_JS(""));
    has(h, "X-A: 1");
    has(h, "X-Content-Type-Options: nosniff");
    has(h, "Referrer-Policy: strict-origin-when-cross-origin");
    has(h, "X-Frame-Options: SAMEORIGIN");
    lacks(h, "Vary"); /* no --cors: nothing depends on the Origin */
    x->res.status = 404;
    h = answer(x, GET_JS(""));
    assert_int_equal(x->plan.status, 404);
    has(h, "X-A: 1");
    h = answer(x, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    has(h, "X-A: 1");
    /* A request that could not be parsed gets them too. */
    ws_plan_make(&x->plan, NULL, 400, &x->res, &x->env, 0);
    assert_true(ws_head_format(&x->plan.head, x->head, sizeof(x->head)) > 0);
    has(x->head, "X-A: 1");
}

static void test_plan_fields_by_glob(void **state)
{
    struct site_exchange *x = *state;
    const char *why;
    const char *h;

    assert_int_equal(ws_site_add_field(&x->site, "/assets/*", "Cache-Control: max-age=99", &why),
                     0);
    assert_int_equal(ws_site_add_field(&x->site, "/caf\xc3\xa9/*", "X-Cafe: 1", &why), 0);
    assert_int_equal(ws_site_add_field(&x->site, "*.js", "X-Js: 1", &why), 0);
    assert_int_equal(ws_site_add_field(&x->site, "/dir/", "X-Dir: 1", &why), 0);
    h = answer(x, GET_JS(""));
    has(h, "Cache-Control: max-age=99"); /* replaces the server's own */
    assert_null(strstr(h, "no-cache"));
    has(h, "X-Js: 1");
    lacks(h, "X-Cafe");
    /* Nested, percent-encoded, dot segments: matched on the decoded, normalised path. */
    h = answer(x, "GET /x/../%61ssets/deep/er/b.css HTTP/1.1\r\nHost: h\r\n\r\n");
    has(h, "Cache-Control: max-age=99");
    lacks(h, "X-Js");
    h = answer(x, "GET /caf%C3%A9/menu HTTP/1.1\r\nHost: h\r\n\r\n");
    has(h, "X-Cafe: 1");
    lacks(h, "Cache-Control: max-age=99");
    h = answer(x, "GET /dir/ HTTP/1.1\r\nHost: h\r\n\r\n");
    has(h, "X-Dir: 1");
    h = answer(x, "GET /dir HTTP/1.1\r\nHost: h\r\n\r\n");
    lacks(h, "X-Dir");
    h = answer(x, "GET /assetsx HTTP/1.1\r\nHost: h\r\n\r\n");
    lacks(h, "Cache-Control: max-age=99");
}

static void test_plan_cors_listed(void **state)
{
    struct site_exchange *x = *state;
    const char *why;
    const char *h;

    assert_int_equal(ws_site_add_origin(&x->site, "https://a.example", &why), 0);
    assert_int_equal(ws_site_add_origin(&x->site, "http://localhost:3000", &why), 0);
    h = answer(x, GET_JS("Origin: https://a.example\r\n"));
    has(h, "Access-Control-Allow-Origin: https://a.example");
    has(h, "Vary: Origin");
    h = answer(x, GET_JS("Origin: http://localhost:3000\r\nAccept-Encoding: gzip\r\n"));
    has(h, "Access-Control-Allow-Origin: http://localhost:3000");
    /* Not allowed, or none: no CORS field, but the answer still varies by Origin. */
    h = answer(x, GET_JS("Origin: https://evil.example\r\n"));
    lacks(h, "Access-Control-Allow-Origin");
    has(h, "Vary: Origin");
    assert_int_equal(x->plan.status, 200);
    h = answer(x, GET_JS("Origin: https://a.example.evil\r\n"));
    lacks(h, "Access-Control-Allow-Origin");
    h = answer(x, GET_JS(""));
    lacks(h, "Access-Control-Allow-Origin");
    has(h, "Vary: Origin");
    x->res.vary = 1;
    h = answer(x, GET_JS("Origin: https://a.example\r\n"));
    has(h, "Vary: Accept-Encoding, Origin");
}

static void test_plan_cors_any(void **state)
{
    struct site_exchange *x = *state;
    const char *why;
    const char *h;

    assert_int_equal(ws_site_add_origin(&x->site, "*", &why), 0);
    h = answer(x, GET_JS("Origin: https://whoever.example\r\n"));
    has(h, "Access-Control-Allow-Origin: *");
    lacks(h, "Vary");
    h = answer(x, GET_JS(""));
    has(h, "Access-Control-Allow-Origin: *");
}

static void test_plan_preflight(void **state)
{
    struct site_exchange *x = *state;
    const char *why;
    const char *h;

    assert_int_equal(ws_site_add_origin(&x->site, "https://a.example", &why), 0);
    h = answer(x, "OPTIONS /assets/app.js HTTP/1.1\r\nHost: h\r\nOrigin: https://a.example\r\n"
                  "Access-Control-Request-Method: GET\r\n"
                  "Access-Control-Request-Headers: range,x-secret\r\n\r\n");
    assert_int_equal(x->plan.status, 204);
    assert_int_equal(x->plan.head.content_length, -1); /* RFC 9110 §8.6: none on a 204 */
    lacks(h, "Content-Length");
    assert_false(x->plan.send_body);
    has(h, "Access-Control-Allow-Origin: https://a.example");
    has(h, "Access-Control-Allow-Methods: GET, HEAD, OPTIONS");
    has(h, "Access-Control-Allow-Headers: range");
    has(h, "Access-Control-Max-Age: 7200");
    has(h, "Vary: Origin");
    /* Not a preflight (no Access-Control-Request-Method), or a disallowed origin: plain OPTIONS. */
    h = answer(x, "OPTIONS /x HTTP/1.1\r\nHost: h\r\nOrigin: https://a.example\r\n\r\n");
    assert_int_equal(x->plan.status, 200);
    has(h, "Access-Control-Allow-Origin: https://a.example");
    lacks(h, "Access-Control-Allow-Methods");
    h = answer(x, "OPTIONS /x HTTP/1.1\r\nHost: h\r\nOrigin: https://b.example\r\n"
                  "Access-Control-Request-Method: GET\r\n\r\n");
    assert_int_equal(x->plan.status, 200);
    lacks(h, "Access-Control-Allow-Origin");
    lacks(h, "Access-Control-Allow-Methods");
    has(h, "Allow: GET, HEAD, OPTIONS");
}

static void test_plan_health(void **state)
{
    struct site_exchange *x = *state;
    const char *why;

    assert_int_equal(ws_site_set_health(&x->site, "/healthz", &why), 0);
    assert_int_equal(
        ws_plan_route(parse(&x->b, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"), &x->env),
        WS_PLAN_HEALTH);
    assert_int_equal(
        ws_plan_route(parse(&x->b, "GET /healthz?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"), &x->env),
        WS_PLAN_HEALTH);
    assert_int_equal(
        ws_plan_route(parse(&x->b, "GET /healthz/ HTTP/1.1\r\nHost: h\r\n\r\n"), &x->env), 0);
    assert_int_equal(
        ws_plan_route(parse(&x->b, "GET /Healthz HTTP/1.1\r\nHost: h\r\n\r\n"), &x->env), 0);
    assert_int_equal(
        ws_plan_route(parse(&x->b, "POST /healthz HTTP/1.1\r\nHost: h\r\n\r\n"), &x->env), 405);
    x->env.https_redirect_port = 443; /* the check still works over cleartext */
    answer(x, "HEAD /healthz HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(x->plan.status, 200);
    assert_false(x->plan.send_body);
    assert_int_equal(x->plan.head.content_length, 2);
    answer(x, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(x->plan.status, 200);
    assert_int_equal(x->plan.body, WS_BODY_MEM);
    assert_int_equal(x->plan.mem_len, 2);
    assert_memory_equal(x->plan.mem, "ok", 2);
    assert_string_equal(x->plan.head.content_type, "text/plain; charset=utf-8");
    assert_string_equal(x->plan.head.cache_control, "no-store");
    assert_null(x->plan.head.etag);
    assert_null(x->plan.head.last_modified);
}

static void test_plan_listing_varies_by_accept(void **state)
{
    struct site_exchange *x = *state;
    const char *h;

    x->res.listing = 1;
    x->res.vary_accept = 1;
    x->res.content_type = "application/json";
    x->res.mem = "[]\n";
    x->res.mem_len = 3;
    h = answer(x, "GET / HTTP/1.1\r\nHost: h\r\nAccept: application/json\r\n\r\n");
    has(h, "Vary: Accept");
    has(h, "Content-Type: application/json");
}

/* ---- the JSON listing --------------------------------------------------------- */

static void test_listing_json(void **state)
{
    struct ws_listing_entry e[] = {
        { "z dir", 1, 4096, 0, 0, 0 },
        { "quote\"back\\slash", 0, 5, 1614834367, 0, 0 },
        { "ctl\x01\n\t\x7f", 0, 0, 0, 0, 0 },
        { "latin1-\xe9.txt", 0, 1, 0, 1, 0 },
        { "\xc3\xbcnic\xc3\xb6"
          "de",
          0, 2, 0, 0, 0 },
        { "..", 1, 0, 0, 0, 0 },
        { "fifo", 0, 0, 0, 0, 1 },
    };
    size_t len = 0;
    char *doc = ws_listing_json(e, ARRAY_LEN(e), &len);
    static const char want[] =
        "[\n"
        "{\"name\":\"ctl\\u0001\\n\\t\\u007f\",\"url\":\"ctl%01%0A%09%7F\",\"type\":\"file\","
        "\"symlink\":false,\"size\":0,\"mtime\":\"1970-01-01T00:00:00Z\"},\n"
        "{\"name\":\"fifo\",\"url\":\"fifo\",\"type\":\"other\",\"symlink\":false,\"size\":0,"
        "\"mtime\":\"1970-01-01T00:00:00Z\"},\n"
        "{\"name\":\"latin1-\xef\xbf\xbd.txt\",\"url\":\"latin1-%E9.txt\",\"type\":\"file\","
        "\"symlink\":true,\"size\":1,\"mtime\":\"1970-01-01T00:00:00Z\"},\n"
        "{\"name\":\"quote\\\"back\\\\slash\",\"url\":\"quote%22back%5Cslash\",\"type\":\"file\","
        "\"symlink\":false,\"size\":5,\"mtime\":\"2021-03-04T05:06:07Z\"},\n"
        "{\"name\":\"z dir\",\"url\":\"z%20dir/\",\"type\":\"dir\",\"symlink\":false,\"size\":0,"
        "\"mtime\":\"1970-01-01T00:00:00Z\"},\n"
        "{\"name\":\"\xc3\xbcnic\xc3\xb6"
        "de\",\"url\":\"%C3%BCnic%C3%B6de\",\"type\":\"file\","
        "\"symlink\":false,\"size\":2,\"mtime\":\"1970-01-01T00:00:00Z\"}\n"
        "]\n";

    (void)state;
    assert_non_null(doc);
    assert_int_equal(strlen(doc), len);
    assert_string_equal(doc, want);
    free(doc);
    doc = ws_listing_json(NULL, 0, &len);
    assert_string_equal(doc, "[]\n");
    free(doc);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_field),
        cmocka_unit_test(test_field_trimmed_and_lowered),
        cmocka_unit_test(test_field_limits),
        cmocka_unit_test(test_add_origin),
        cmocka_unit_test(test_origin_star_alone),
        cmocka_unit_test(test_health_and_fallback_paths),
        cmocka_unit_test(test_copy_rebases),
        cmocka_unit_test(test_accept_weight),
        cmocka_unit_test(test_wants_json),
        cmocka_unit_test(test_wants_fallback),
        cmocka_unit_test(test_cors_headers),
        T(test_plan_fields_every_response),
        T(test_plan_fields_by_glob),
        T(test_plan_cors_listed),
        T(test_plan_cors_any),
        T(test_plan_preflight),
        T(test_plan_health),
        T(test_plan_listing_varies_by_accept),
        cmocka_unit_test(test_listing_json),
    };

    start_watchdog(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
