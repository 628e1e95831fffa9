/*
 * http/metrics.h - the --metrics page: a snapshot of the server's counters
 * written as Prometheus text (version 0.0.4) or OpenMetrics 1.0.0. Pure and
 * thread-safe: the runtime fills a struct ws_metrics (server.c, the same
 * collection the SIGUSR1 stats line uses) and this module only formats it.
 */
#ifndef WS_HTTP_METRICS_H
#define WS_HTTP_METRICS_H

#include "http/request_parser.h"

#include <stddef.h>
#include <stdint.h>

/* The protocols responses are counted by: label protocol="http1" or "h2". */
enum ws_metrics_proto { WS_METRICS_HTTP1, WS_METRICS_H2, WS_METRICS_PROTOS };

/* Status classes 1xx..5xx: label class="1xx".."5xx". */
#define WS_METRICS_CLASSES 5
/* Most close reasons a snapshot carries. */
#define WS_METRICS_REASONS_MAX 16

/* Content types of the two formats. */
#define WS_METRICS_PROMETHEUS_TYPE  "text/plain; version=0.0.4; charset=utf-8"
#define WS_METRICS_OPENMETRICS_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* A snapshot of the counters. The has_* flags leave out what is not configured. */
struct ws_metrics {
    uint64_t requests[WS_METRICS_PROTOS][WS_METRICS_CLASSES]; /* responses completed */
    uint64_t body_bytes[WS_METRICS_PROTOS];                   /* ... their body bytes sent */
    uint64_t open, parked, queued;                            /* connections now */
    uint64_t workers, busy_workers;
    uint64_t ring_capacity, ring_high_water;
    uint64_t refused_503; /* connections answered 503 at accept */
    uint64_t file_cache_hits, file_cache_misses;
    int has_compress;
    uint64_t compress_hits, compress_misses;
    int has_tls;
    uint64_t tls_handshakes, tls_resumed, tls_failed;
    int has_h2;
    uint64_t h2_connections, h2_streams, h2_resets_sent, h2_calm;
    unsigned n_reasons; /* connections closed early, by reason (conn.h's names) */
    const char *reason_names[WS_METRICS_REASONS_MAX];
    uint64_t closes[WS_METRICS_REASONS_MAX];
};

/*
 * Writes m to out (size bytes, NUL-terminated when size > 0) as Prometheus
 * text 0.0.4, or as OpenMetrics 1.0.0 (counter families named without
 * "_total", "# EOF" at the end) when openmetrics is set. Every family has
 * HELP and TYPE lines before its samples; label values are escaped. Returns
 * the length the whole text needs, as snprintf does: when it is >= size,
 * the text was cut and the caller should try again with more room.
 */
size_t ws_metrics_format(const struct ws_metrics *m, int openmetrics, char *out, size_t size);

/*
 * Whether the request's Accept weighs application/openmetrics-text above
 * text/plain (Prometheus's scrapers send both, OpenMetrics first).
 */
int ws_metrics_wants_openmetrics(const struct ws_request *req);

#endif
