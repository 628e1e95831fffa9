/*
 * http/test_metrics.c - the --metrics page: the text of both formats, its
 * length contract (cut like snprintf), label escaping, the choice of format by
 * Accept, the route and plan of the metrics path, and who may read it
 * (site.c's --metrics-allow). No sockets, no files, no clock.
 */
#include "test_util.h"
#include "req_util.h"

#include "http/metrics.h"
#include "http/plan.h"
#include "http/site.h"

#include <stdio.h>

static void sample_metrics(struct ws_metrics *m)
{
    memset(m, 0, sizeof(*m));
    m->requests[WS_METRICS_HTTP1][1] = 7;
    m->requests[WS_METRICS_H2][3] = 2;
    m->body_bytes[WS_METRICS_HTTP1] = 12345;
    m->open = 3;
    m->workers = 8;
    m->busy_workers = 1;
    m->ring_capacity = 16384;
    m->ring_high_water = 4;
    m->refused_503 = 18446744073709551615u;
    m->n_reasons = 2;
    m->reason_names[0] = "idle";
    m->closes[0] = 5;
    m->reason_names[1] = "we\"ird\\name\n";
    m->closes[1] = 1;
}

static char *format(const struct ws_metrics *m, int openmetrics)
{
    size_t len = ws_metrics_format(m, openmetrics, NULL, 0);
    char *text = malloc(len + 1);

    assert_non_null(text);
    assert_int_equal(ws_metrics_format(m, openmetrics, text, len + 1), len);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_prometheus_text(void **state)
{
    struct ws_metrics m;
    char *text;

    (void)state;
    sample_metrics(&m);
    text = format(&m, 0);
    assert_non_null(strstr(text, "# HELP webserver_http_responses_total "));
    assert_non_null(strstr(text, "# TYPE webserver_http_responses_total counter\n"));
    assert_non_null(strstr(text, "\nwebserver_http_responses_total{protocol=\"http1\","
                                 "class=\"2xx\"} 7\n"));
    assert_non_null(strstr(text, "\nwebserver_http_responses_total{protocol=\"h2\","
                                 "class=\"4xx\"} 2\n"));
    assert_non_null(strstr(text, "\nwebserver_http_response_body_bytes_total{protocol=\"http1\"}"
                                 " 12345\n"));
    assert_non_null(strstr(text, "# TYPE webserver_connections_open gauge\n"
                                 "webserver_connections_open 3\n"));
    assert_non_null(strstr(text, "\nwebserver_connections_refused_total 18446744073709551615\n"));
    assert_non_null(
        strstr(text, "\nwebserver_connections_closed_early_total{reason=\"idle\"} 5\n"));
    assert_non_null(strstr(text, "{reason=\"we\\\"ird\\\\name\\n\"} 1\n"));
    /* Not configured: left out. */
    assert_null(strstr(text, "tls_"));
    assert_null(strstr(text, "h2_"));
    assert_null(strstr(text, "compress_"));
    assert_null(strstr(text, "# EOF"));
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
}

static void test_openmetrics_text(void **state)
{
    struct ws_metrics m;
    char *text;
    size_t len;

    (void)state;
    sample_metrics(&m);
    m.has_tls = m.has_h2 = m.has_compress = 1;
    m.tls_handshakes = 9;
    m.h2_streams = 4;
    text = format(&m, 1);
    len = strlen(text);
    /* Counter families are named without _total; their samples keep it. */
    assert_non_null(strstr(text, "# TYPE webserver_http_responses counter\n"));
    assert_null(strstr(text, "# TYPE webserver_http_responses_total"));
    assert_non_null(strstr(text, "\nwebserver_http_responses_total{protocol=\"http1\","
                                 "class=\"2xx\"} 7\n"));
    assert_non_null(strstr(text, "# TYPE webserver_tls_handshakes counter\n"
                                 "webserver_tls_handshakes_total 9\n"));
    assert_non_null(strstr(text, "webserver_h2_streams_total 4\n"));
    assert_non_null(strstr(text, "webserver_compress_cache_hits_total 0\n"));
    assert_true(len > 6 && strcmp(text + len - 7, "\n# EOF\n") == 0);
    free(text);
}

/* Every room short of the whole text cuts it, NUL-terminated, and says how much it needs. */
static void test_cut_like_snprintf(void **state)
{
    struct ws_metrics m;
    char *whole, *buf;
    size_t len;

    (void)state;
    sample_metrics(&m);
    whole = format(&m, 1);
    len = strlen(whole);
    for (size_t size = 1; size <= len; size += 97) {
        buf = exact_copy(whole, size); /* size bytes: one more is an overflow */
        assert_int_equal(ws_metrics_format(&m, 1, buf, size), len);
        assert_int_equal(strlen(buf), size - 1);
        assert_memory_equal(buf, whole, size - 1);
        free(buf);
    }
    free(whole);
}

struct accept_case {
    const char *desc;
    const char *accept; /* NULL: no Accept field */
    int openmetrics;
};

static void test_wants_openmetrics(void **state)
{
    static const struct accept_case cases[] = {
        { "no Accept", NULL, 0 },
        { "anything", "*/*", 0 },
        { "text/plain", "text/plain; version=0.0.4", 0 },
        { "Prometheus 2's scrape",
          "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
          "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
          1 },
        { "OpenMetrics alone", "application/openmetrics-text", 1 },
        { "OpenMetrics below text", "application/openmetrics-text;q=0.2, text/plain", 0 },
        { "OpenMetrics refused", "application/openmetrics-text;q=0", 0 },
    };
    struct req_buf b = { 0 };
    char raw[512];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        if (cases[i].accept != NULL)
            snprintf(raw, sizeof(raw), "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: %s\r\n\r\n",
                     cases[i].accept);
        else
            snprintf(raw, sizeof(raw), "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
        if (ws_metrics_wants_openmetrics(parse(&b, raw)) != cases[i].openmetrics)
            fail_msg("%s", cases[i].desc);
    }
    free(b.raw);
}

struct allow_case {
    const char *desc;
    const char *client;
    int by_default, with_blocks;
};

static void test_allowed(void **state)
{
    static const struct allow_case cases[] = {
        { "IPv4 loopback", "127.0.0.1", 1, 0 },
        { "elsewhere in 127/8", "127.200.3.4", 1, 0 },
        { "IPv6 loopback", "::1", 1, 0 },
        { "IPv4-mapped loopback", "::ffff:127.0.0.1", 1, 0 },
        { "private", "10.1.2.3", 0, 1 },
        { "IPv4-mapped private", "::ffff:10.1.2.3", 0, 1 },
        { "ULA", "fd12::5", 0, 1 },
        { "public", "203.0.113.9", 0, 0 },
        { "::2", "::2", 0, 0 },
        { "not an address", "unix:", 0, 0 },
        { "a block is not a client", "127.0.0.0/8", 0, 0 },
        { "empty", "", 0, 0 },
    };
    struct ws_site dflt, blocks;
    const char *why = NULL;

    (void)state;
    memset(&dflt, 0, sizeof(dflt));
    memset(&blocks, 0, sizeof(blocks));
    assert_int_equal(ws_site_add_metrics_allow(&blocks, "10.0.0.0/8", &why), 0);
    assert_int_equal(ws_site_add_metrics_allow(&blocks, "fd00::/8", &why), 0);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        if (ws_site_metrics_allowed(&dflt, cases[i].client) != cases[i].by_default)
            fail_msg("%s: by default", cases[i].desc);
        if (ws_site_metrics_allowed(&blocks, cases[i].client) != cases[i].with_blocks)
            fail_msg("%s: with blocks", cases[i].desc);
    }
}

static void test_flag_values(void **state)
{
    struct ws_site s;
    const char *why = NULL;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(ws_site_set_metrics(&s, "metrics", &why), -1);
    assert_int_equal(ws_site_set_metrics(&s, "/a b", &why), -1);
    assert_int_equal(ws_site_set_metrics(&s, "/m?x", &why), -1);
    assert_int_equal(ws_site_set_health(&s, "/same", &why), 0);
    assert_int_equal(ws_site_set_metrics(&s, "/same", &why), -1);
    assert_non_null(strstr(why, "different"));
    assert_int_equal(ws_site_set_metrics(&s, "/metrics", &why), 0);
    assert_string_equal(s.metrics, "/metrics");
    assert_int_equal(ws_site_set_health(&s, "/metrics", &why), -1);
    assert_int_equal(ws_site_add_metrics_allow(&s, "10.0.0.0/33", &why), -1);
    assert_int_equal(ws_site_add_metrics_allow(&s, "example.com", &why), -1);
    assert_int_equal(ws_site_add_metrics_allow(&s, "unix", &why), -1);
    for (int i = 0; i < WS_SITE_ALLOW_MAX; i++)
        assert_int_equal(ws_site_add_metrics_allow(&s, "192.0.2.0/24", &why), 0);
    assert_int_equal(ws_site_add_metrics_allow(&s, "192.0.2.0/24", &why), -1);
    assert_non_null(strstr(why, "too many"));
}

static void test_route_and_plan(void **state)
{
    static struct ws_plan plan;
    struct ws_site site;
    struct req_buf b = { 0 };
    const char *why = NULL;
    uint64_t seed = 1;
    struct ws_plan_env env = { .date = "Mon, 01 Jan 2024 00:00:00 GMT",
                               .boundary_state = &seed,
                               .max_body = 1024,
                               .site = &site };
    struct ws_resource res = { .mem = "x 1\n",
                               .mem_len = 4,
                               .content_type = WS_METRICS_PROMETHEUS_TYPE };
    const struct ws_request *req;

    (void)state;
    memset(&site, 0, sizeof(site));
    req = parse(&b, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(ws_plan_route(req, &env), 0); /* no --metrics: a path like others */
    assert_int_equal(ws_site_set_metrics(&site, "/metrics", &why), 0);
    assert_int_equal(ws_plan_route(req, &env), WS_PLAN_METRICS);
    assert_int_equal(
        ws_plan_route(parse(&b, "HEAD /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"), &env),
        WS_PLAN_METRICS);
    assert_int_equal(ws_plan_route(parse(&b, "GET /metrics/ HTTP/1.1\r\nHost: a\r\n\r\n"), &env),
                     0);
    assert_int_equal(ws_plan_route(parse(&b, "POST /metrics HTTP/1.1\r\nHost: a\r\n\r\n"), &env),
                     405);
    env.https_redirect_port = 443; /* a scraper over cleartext is not redirected */
    req = parse(&b, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(ws_plan_route(req, &env), WS_PLAN_METRICS);

    ws_plan_make(&plan, req, WS_PLAN_METRICS, &res, &env, 0);
    assert_int_equal(plan.status, 200);
    assert_int_equal(plan.body, WS_BODY_MEM);
    assert_ptr_equal(plan.mem, res.mem);
    assert_int_equal(plan.head.content_length, 4);
    assert_string_equal(plan.head.content_type, WS_METRICS_PROMETHEUS_TYPE);
    assert_string_equal(plan.head.cache_control, "no-store");
    assert_true(plan.head.vary_accept);
    assert_null(plan.head.etag);
    assert_true(plan.send_body);
    ws_plan_make(&plan, parse(&b, "HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n"), WS_PLAN_METRICS,
                 &res, &env, 0);
    assert_false(plan.send_body);
    assert_int_equal(plan.head.content_length, 4);
    free(b.raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_text),   cmocka_unit_test(test_openmetrics_text),
        cmocka_unit_test(test_cut_like_snprintf), cmocka_unit_test(test_wants_openmetrics),
        cmocka_unit_test(test_allowed),           cmocka_unit_test(test_flag_values),
        cmocka_unit_test(test_route_and_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
