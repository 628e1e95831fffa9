/*
 * http/metrics.c - Prometheus and OpenMetrics text; see metrics.h.
 *
 * The two formats differ in three places only: a counter family is named
 * with "_total" in Prometheus's TYPE and HELP lines and without it in
 * OpenMetrics' (its samples carry "_total" in both), OpenMetrics ends with
 * "# EOF", and the content type. Everything else is written once.
 */
#include "http/metrics.h"

#include "http/site.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct text {
    char *p;
    size_t size, len; /* len counts what would have been written, like snprintf */
    int openmetrics;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room = t->len < t->size ? t->size - t->len : 0;

    va_start(ap, fmt);
    n = vsnprintf(room > 0 ? t->p + t->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

/* A label value with '\\', '"' and newline escaped, as both formats require. */
static void put_label_value(struct text *t, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\')
            put(t, "\\\\");
        else if (*v == '"')
            put(t, "\\\"");
        else if (*v == '\n')
            put(t, "\\n");
        else
            put(t, "%c", *v);
    }
}

/* HELP and TYPE of a family; name is without "_total" (counter: with is_counter). */
static void family(struct text *t, const char *name, int is_counter, const char *help)
{
    const char *suffix = is_counter && !t->openmetrics ? "_total" : "";

    put(t, "# HELP webserver_%s%s %s\n", name, suffix, help);
    put(t, "# TYPE webserver_%s%s %s\n", name, suffix, is_counter ? "counter" : "gauge");
}

/* One sample: labels is NULL or pairs "name", "value", ..., NULL. */
static void sample(struct text *t, const char *name, int is_counter, uint64_t value,
                   const char *const *labels)
{
    put(t, "webserver_%s%s", name, is_counter ? "_total" : "");
    if (labels != NULL && labels[0] != NULL) {
        put(t, "{");
        for (size_t i = 0; labels[i] != NULL; i += 2) {
            put(t, "%s%s=\"", i > 0 ? "," : "", labels[i]);
            put_label_value(t, labels[i + 1]);
            put(t, "\"");
        }
        put(t, "}");
    }
    put(t, " %" PRIu64 "\n", value);
}

/* A family of one unlabelled sample. */
static void single(struct text *t, const char *name, int is_counter, const char *help,
                   uint64_t value)
{
    family(t, name, is_counter, help);
    sample(t, name, is_counter, value, NULL);
}

static const char *const protocol_names[WS_METRICS_PROTOS] = { "http1", "h2" };
static const char *const class_names[WS_METRICS_CLASSES] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

static void requests(struct text *t, const struct ws_metrics *m)
{
    family(t, "http_responses", 1, "Responses completed, by protocol and status class.");
    for (int p = 0; p < WS_METRICS_PROTOS; p++)
        for (int c = 0; c < WS_METRICS_CLASSES; c++) {
            const char *const labels[] = { "protocol", protocol_names[p], "class", class_names[c],
                                           NULL };
            sample(t, "http_responses", 1, m->requests[p][c], labels);
        }
    family(t, "http_response_body_bytes", 1, "Bytes of response bodies sent, by protocol.");
    for (int p = 0; p < WS_METRICS_PROTOS; p++) {
        const char *const labels[] = { "protocol", protocol_names[p], NULL };
        sample(t, "http_response_body_bytes", 1, m->body_bytes[p], labels);
    }
}

static void connections(struct text *t, const struct ws_metrics *m)
{
    single(t, "connections_open", 0, "Client connections open.", m->open);
    single(t, "connections_parked", 0, "Connections waiting for the socket in the event thread.",
           m->parked);
    single(t, "connections_queued", 0, "Connections queued for a worker.", m->queued);
    single(t, "workers", 0, "Worker threads.", m->workers);
    single(t, "workers_busy", 0, "Worker threads not waiting for a connection.", m->busy_workers);
    single(t, "queue_capacity", 0, "Connections the worker queue can hold.", m->ring_capacity);
    single(t, "queue_high_water", 0, "The most connections the worker queue has held.",
           m->ring_high_water);
    single(t, "connections_refused", 1, "Connections answered 503 at accept (the queue full).",
           m->refused_503);
    if (m->n_reasons > 0) {
        family(t, "connections_closed_early", 1,
               "Connections closed before they finished, by reason.");
        for (unsigned r = 0; r < m->n_reasons && r < WS_METRICS_REASONS_MAX; r++) {
            const char *const labels[] = { "reason", m->reason_names[r], NULL };
            sample(t, "connections_closed_early", 1, m->closes[r], labels);
        }
    }
}

static void caches(struct text *t, const struct ws_metrics *m)
{
    single(t, "file_cache_hits", 1, "Small-file cache lookups answered from memory.",
           m->file_cache_hits);
    single(t, "file_cache_misses", 1, "Small-file cache lookups that had to open the file.",
           m->file_cache_misses);
    if (!m->has_compress)
        return;
    single(t, "compress_cache_hits", 1, "On-the-fly compressions found in the cache.",
           m->compress_hits);
    single(t, "compress_cache_misses", 1, "On-the-fly compressions made anew.", m->compress_misses);
}

static void protocols(struct text *t, const struct ws_metrics *m)
{
    if (m->has_tls) {
        single(t, "tls_handshakes", 1, "TLS handshakes completed.", m->tls_handshakes);
        single(t, "tls_handshakes_resumed", 1, "TLS handshakes that resumed a session.",
               m->tls_resumed);
        single(t, "tls_handshakes_failed", 1, "TLS handshakes that failed.", m->tls_failed);
    }
    if (m->has_h2) {
        single(t, "h2_connections", 1, "Connections that spoke HTTP/2.", m->h2_connections);
        single(t, "h2_streams", 1, "HTTP/2 requests answered.", m->h2_streams);
        single(t, "h2_resets_sent", 1, "HTTP/2 RST_STREAM frames sent.", m->h2_resets_sent);
        single(t, "h2_calm", 1, "HTTP/2 connections ended with ENHANCE_YOUR_CALM.", m->h2_calm);
    }
}

size_t ws_metrics_format(const struct ws_metrics *m, int openmetrics, char *out, size_t size)
{
    struct text t = { out, size, 0, openmetrics };

    if (size > 0)
        out[0] = '\0';
    requests(&t, m);
    connections(&t, m);
    caches(&t, m);
    protocols(&t, m);
    if (openmetrics)
        put(&t, "# EOF\n");
    return t.len;
}

int ws_metrics_wants_openmetrics(const struct ws_request *req)
{
    int named;

    return ws_accept_weight(req, "application/openmetrics-text", &named) >
           ws_accept_weight(req, "text/plain", &named);
}
