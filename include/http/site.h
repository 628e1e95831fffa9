/*
 * http/site.h - what an operator adds to every answer: header fields
 * (--header, --header-for, --security-headers), CORS (--cors), the health
 * path (--health), the metrics path and who may read it (--metrics,
 * --metrics-allow) and the single-page-application fallback (--fallback).
 * Pure and thread-safe: a struct ws_site is filled from the command line at
 * start-up (the ws_site_add_* functions, which validate), then only read by
 * the response plan (plan.c) and the resolver (static_file.c).
 *
 * Every string lives in the struct itself (no allocation, no pointer into
 * argv); a copy must be made with ws_site_copy, which points the copy's
 * strings into its own text.
 */
#ifndef WS_HTTP_SITE_H
#define WS_HTTP_SITE_H

#include "http/forwarded.h"
#include "http/request_parser.h"

#include <stddef.h>

#define WS_SITE_FIELDS_MAX  32   /* --header, --header-for and --security-headers fields */
#define WS_SITE_ORIGINS_MAX 16   /* --cors origins */
#define WS_SITE_TEXT_MAX    2048 /* bytes of names, values, globs and origins together */
#define WS_SITE_PATH_MAX    1024 /* --health and --fallback */
#define WS_SITE_FIELD_BYTES 1024 /* most bytes the configured fields may add to one head */
#define WS_SITE_ALLOW_MAX   16   /* --metrics-allow blocks */

struct ws_site_field {
    const char *glob;  /* fnmatch pattern on the decoded path; NULL: every response */
    const char *name;  /* as given, for HTTP/1.1 */
    const char *lower; /* lowercase, for HTTP/2 */
    size_t name_len;
    const char *value; /* trimmed of surrounding whitespace */
};

struct ws_site {
    struct ws_site_field fields[WS_SITE_FIELDS_MAX];
    unsigned n_fields;
    size_t field_bytes; /* "Name: value\r\n" of every field, the most one head can carry */
    int cache_control;  /* some field is Cache-Control: it replaces the server's own */
    const char *origins[WS_SITE_ORIGINS_MAX]; /* --cors, exactly as browsers serialise them */
    unsigned n_origins;
    int cors_any;                  /* --cors '*': every origin, "Access-Control-Allow-Origin: *" */
    char health[WS_SITE_PATH_MAX]; /* --health: the request path answered "ok"; "" none */
    char fallback[WS_SITE_PATH_MAX]; /* --fallback: its path under the root; "" none */
    char metrics[WS_SITE_PATH_MAX];  /* --metrics: the request path of the metrics; "" none */
    struct ws_cidr metrics_allow[WS_SITE_ALLOW_MAX]; /* --metrics-allow; none: loopback */
    unsigned n_metrics_allow;
    char text[WS_SITE_TEXT_MAX]; /* the strings above point here */
    size_t text_used;
};

/* Copies *src into *dst, its strings pointing into dst->text. */
void ws_site_copy(struct ws_site *dst, const struct ws_site *src);

/*
 * Adds a field "Name: value" (spec) to every response (glob NULL) or to the
 * responses to requests whose decoded path matches glob (fnmatch(3) without
 * flags: '*' matches '/' too, so "/assets/" and a '*' cover every depth). The name
 * must be a token; the value may hold no control byte but HTAB (no CR, LF or
 * NUL); the glob must start with '/' or '*'. Names the server writes itself
 * are refused (ws_site_managed_name). Returns 0, or -1 with *why set to a
 * static message.
 */
int ws_site_add_field(struct ws_site *s, const char *glob, const char *spec, const char **why);

/*
 * Whether a field name (case-insensitive) is one the server manages and an
 * operator may not add: the framing and connection fields (Content-Length,
 * Transfer-Encoding, Connection, Keep-Alive, Upgrade, Proxy-Connection, TE,
 * Trailer), the ones each response computes (Date, Server, Content-Type,
 * Content-Encoding, Content-Range, ETag, Last-Modified, Location, Allow,
 * Accept-Ranges, Vary), and the ones that have their own flag
 * (Strict-Transport-Security: --hsts; Access-Control-*: --cors).
 */
int ws_site_managed_name(const char *name, size_t len);

/* Adds the --security-headers fields. Returns 0, or -1 with *why set. */
int ws_site_add_security_headers(struct ws_site *s, const char **why);

/*
 * Adds an origin CORS allows: "*" (every origin; then it must be the only
 * one), or a serialised origin "scheme://host[:port]" with scheme http or
 * https, no path, no trailing slash, lowercase as browsers send it. Returns 0,
 * or -1 with *why set.
 */
int ws_site_add_origin(struct ws_site *s, const char *origin, const char **why);

/*
 * Sets --health (an absolute path without query, e.g. "/healthz") or
 * --fallback (a file under the root, "index.html" or "/app/index.html",
 * normalised; no hidden segment, not the root itself). Returns 0, or -1 with
 * *why set.
 */
int ws_site_set_health(struct ws_site *s, const char *path, const char **why);
int ws_site_set_fallback(struct ws_site *s, const char *path, const char **why);

/*
 * Sets --metrics, a path as --health's (and not the same one). Returns 0, or
 * -1 with *why set.
 */
int ws_site_set_metrics(struct ws_site *s, const char *path, const char **why);

/*
 * Adds a block of client addresses allowed to read the metrics ("10.0.0.0/8",
 * "::1"; ws_cidr_parse). Returns 0, or -1 with *why set.
 */
int ws_site_add_metrics_allow(struct ws_site *s, const char *block, const char **why);

/*
 * Whether the client at address `client` (text, as ws_forwarded_client
 * writes it) may read the metrics: it lies in a --metrics-allow block, or,
 * with none given, in 127.0.0.0/8 or is ::1. A client that is not an IP
 * address (a Unix-domain socket's) is refused.
 */
int ws_site_metrics_allowed(const struct ws_site *s, const char *client);

/*
 * The CORS answer to a request's Origin: 1 with *allow set to the value of
 * Access-Control-Allow-Origin ("*", or the request's own Origin when it is
 * one of the configured origins), or 0 for no CORS fields (no --cors, no
 * Origin, or an origin not allowed). *vary says whether the answer depends on
 * the Origin (every configuration but "*" alone), whatever the result.
 */
int ws_site_cors(const struct ws_site *s, const struct ws_request *req, struct ws_view *allow,
                 int *vary);

/*
 * Fills out (size bytes, NUL-terminated) with the request headers a
 * preflight may be allowed: the elements of Access-Control-Request-Headers
 * that are on our list of harmless request headers (Accept,
 * Accept-Language, Content-Language, Content-Type, Range, If-Match,
 * If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range,
 * Cache-Control, Pragma, X-Requested-With), lowercased, comma-separated, in
 * the order asked. Others are left out, so the browser refuses the request.
 * Returns the length (0: none).
 */
size_t ws_site_cors_headers(const struct ws_request *req, char *out, size_t size);

/*
 * The weight, in thousandths (0..1000), that the request's Accept fields give
 * the media type `type` ("text/html"), by the most specific matching range
 * (type/subtype, then type/ *, then * / *; RFC 9110 §12.5.1); media type
 * parameters other than q are ignored. No Accept field: 1000. *named is set
 * when an Accept range names the type exactly.
 */
int ws_accept_weight(const struct ws_request *req, const char *type, int *named);

/*
 * Whether a missing path (decoded, under the root: rel, len bytes) gets the
 * --fallback file: its last segment has no '.' (a route, not an asset), or
 * the request's Accept names text/html with q > 0 (a browser's navigation).
 */
int ws_site_wants_fallback(const struct ws_request *req, const char *rel, size_t len);

/* Whether the last segment of rel (len bytes) has a '.': an asset's name, for which
 * Accept decides between the --fallback file and a 404 (so the answer says Vary: Accept). */
int ws_site_dotted_name(const char *rel, size_t len);

/*
 * Whether a directory listing should be JSON: the Accept fields weigh
 * application/json above text/html.
 */
int ws_site_wants_json(const struct ws_request *req);

#endif
