/*
 * http/plan.h - the response plan: every HTTP decision about a response, made
 * once for every protocol. Pure and thread-safe.
 *
 * A request is answered in three steps. The protocol's framing layer (HTTP/1.1
 * today, HTTP/2 next) parses a request and asks ws_plan_route whether the path
 * must be resolved at all (a 405, 501 or an OPTIONS answer needs no file). The
 * server's runtime resolves the path against the document root and describes
 * what it found in a struct ws_resource (metadata only: no descriptor crosses
 * into this module). ws_plan_make then decides the status, every header field,
 * what the body is made of and what happens to the connection, and the framing
 * layer writes that plan as bytes (a status line and fields, or HEADERS and DATA
 * frames). No decision is left to the framing layer but how to frame.
 *
 * The plan's strings point into the plan itself (its buffers), into the
 * request's buffer (views) and into the resource's strings: it is valid while
 * all three are.
 */
#ifndef WS_HTTP_PLAN_H
#define WS_HTTP_PLAN_H

#include "http/head.h"
#include "http/range.h"
#include "http/request_parser.h"
#include "http/site.h"
#include "http/validators.h"

#include <stddef.h>
#include <stdint.h>

/* Room for the part headers and closing delimiter of a multipart/byteranges body. */
#define WS_PLAN_PARTS_MAX 8192
/* Room for a built-in error or redirect page. */
#define WS_PLAN_PAGE_MAX 1024
/* A Location longer than this is answered with 414 instead of 301. */
#define WS_PLAN_LOCATION_MAX 1024
/* Room for a decoded request path, for --header-for's patterns. */
#define WS_PLAN_PATH_MAX 8200
/* ws_plan_route's answer for the --health path: "200 ok" without the disk. */
#define WS_PLAN_HEALTH 1
/*
 * ws_plan_route's answer for the --metrics path: the runtime checks the
 * client and makes the text (the resource's mem, mem_len, content_type).
 */
#define WS_PLAN_METRICS 2

/* What a request's path resolved to, as the runtime found it. */
struct ws_resource {
    int status;                   /* 200, 301, or the error status resolution ended with */
    int listing;                  /* with 200: a generated directory listing (mem, mem_len) */
    int64_t size;                 /* with 200 and a file: its size in bytes */
    int64_t mtime_sec;            /* ... its modification time */
    long mtime_nsec;              /* ... and the nanoseconds of it */
    const char *content_type;     /* with 200 */
    const char *content_encoding; /* with 200: "br", "zstd" or "gzip" (a sibling, or on the fly) */
    const char *coded_tag;        /* compressed on the fly: "gz" or "zst", added to the ETag of */
    int64_t identity_size;        /* ... the file's own size (size is then the body's); no ranges */
    int vary;                     /* the choice depended on Accept-Encoding */
    int vary_accept;              /* ... on Accept (a listing: HTML or JSON) */
    const char *name;             /* with 200 and a file: its path under the root ... */
    size_t name_len;              /* ... for the Cache-Control policy */
    const char *location;         /* with 301: the Location value */
    const char *mem;              /* with a listing or the metrics: its bytes */
    size_t mem_len;
    const char *etag;          /* with a file: its ETag as ws_etag_format makes it from size and */
    size_t etag_len;           /* ... mtime, if the runtime has it made already (else NULL); */
    const char *last_modified; /* ... and Last-Modified. Not with coded_tag. */
};

/* Fixed for the server's life, but for date and boundary_state (the caller's, per thread). */
struct ws_plan_env {
    enum ws_cache_mode cache_mode;
    unsigned cache_max_age;     /* with WS_CACHE_FIXED */
    uint64_t max_body;          /* a request body larger than this: 413 */
    const char *date;           /* IMF-fixdate for the Date field, kept current by the caller */
    uint64_t *boundary_state;   /* xorshift state for multipart boundaries; stepped here */
    int secure;                 /* the request came over TLS */
    unsigned hsts_secs;         /* with secure: Strict-Transport-Security max-age; 0: none */
    int https_redirect_port;    /* nonzero: every request gets a 308 to https:// on this port */
    const struct ws_site *site; /* fields, CORS and --health (site.h), or NULL */
    const char *auth_challenge; /* --auth-file: WWW-Authenticate of a 401 (auth.h), or NULL */
};

enum ws_body_kind {
    WS_BODY_NONE, /* no content: 304, and OPTIONS (Content-Length: 0) */
    WS_BODY_FILE, /* bytes of a file: the resource (offset, length, or the ranges), or the
                     operator's error page after ws_plan_use_file_body */
    WS_BODY_MEM,  /* mem, mem_len: a listing (the resource's) or a built-in page (page) */
};

/* ws_plan.linger: linger only if input is waiting when the response is out. */
#define WS_LINGER_IF_INPUT 2

struct ws_plan {
    int status;
    struct ws_head head; /* every field to send; head.content_length: the body's length, or -1 */

    enum ws_body_kind body;
    int send_body;          /* 0 for HEAD and 304: the fields still describe the body */
    int64_t offset, length; /* WS_BODY_FILE with n_ranges <= 1: the bytes to send */
    int n_ranges;           /* > 1: a multipart/byteranges body over ranges[] */
    struct ws_range ranges[WS_RANGE_MAX];
    const char *mem; /* WS_BODY_MEM */
    size_t mem_len;
    int operator_page; /* an error status whose page the operator may supply */

    /*
     * Multipart: part i is parts[part_off[i], +part_len[i]) and then ranges[i] of
     * the file; the closing delimiter is parts[end_off, +end_len).
     */
    uint32_t part_off[WS_RANGE_MAX], part_len[WS_RANGE_MAX];
    uint32_t end_off, end_len;

    /* The connection. */
    int close;         /* do not read another request on this connection after this one */
    int linger;        /* ... and close it lingering: unread input may follow;
                        * WS_LINGER_IF_INPUT: only if input waits at the close */
    int64_t discard;   /* request body to read and drop: bytes, -1 chunked, 0 none */
    int send_continue; /* send "100 Continue" before reading the body (RFC 9110 §10.1.1) */

    /* Storage the head's strings point into. */
    char etag[WS_ETAG_MAX];
    char last_modified[32];
    char cache_control[64];
    char content_range[80];
    char content_type[96];
    char boundary[17];
    char page[WS_PLAN_PAGE_MAX];
    char redirect[WS_PLAN_LOCATION_MAX + 1]; /* a 308's Location */
    char hsts[32];
    struct ws_head_field extra[WS_HEAD_EXTRA_MAX]; /* head.extra: the site's fields, CORS */
    char cors_headers[256];                        /* Access-Control-Allow-Headers */
    char path[WS_PLAN_PATH_MAX];                   /* the decoded path, for the patterns */
    char parts[WS_PLAN_PARTS_MAX];
};

/*
 * The status a request gets without looking at its path, or 0 when the path
 * must be resolved (a GET or HEAD of an origin-form or absolute-form target):
 * 417 for an Expect we cannot meet, 501 for a method we do not implement,
 * WS_PLAN_HEALTH for a GET or HEAD of exactly the site's --health path (its
 * query aside; before the 308, so a load balancer's check works over
 * cleartext), WS_PLAN_METRICS likewise for the --metrics path, 308
 * for any other request with env->https_redirect_port (400 for "*"), 200
 * for OPTIONS (any target: what we allow does not vary), 405 for any other
 * method, 400 for "*" with GET or HEAD, 413 for a Content-Length above
 * env->max_body.
 */
int ws_plan_route(const struct ws_request *req, const struct ws_plan_env *env);

/*
 * Whether the response may be cut out of the file (a GET with a Range field):
 * the runtime must then resolve to bytes it can address at any offset.
 */
int ws_plan_may_range(const struct ws_request *req);

/*
 * Fills *p for a request. req is NULL for bytes that could not be parsed, and
 * status is then the parser's error status. Otherwise status is
 * ws_plan_route's result, and 0 means that res describes what the path
 * resolved to. last_request says that the connection takes no request after
 * this one whatever the request asks (the server is shutting down, or the
 * connection reached its request limit).
 *
 * A file gets its validators (strong ETag, Last-Modified), Cache-Control by
 * env's policy, Vary: Accept-Encoding when res->vary says the choice
 * depended on it, and the
 * preconditions of RFC 9110 §13.2.2 (304, 412); then, for a GET with exactly one
 * Range field that If-Range allows, 206 with one range or a multipart body, or
 * 416. A file compressed on the fly (res->coded_tag) has the ETag of the file
 * itself (res->identity_size) with "-<coded_tag>" inside the quotes, and no
 * Range or Accept-Ranges: a Range request is resolved to the file itself.
 * A listing passes through If-Match and If-None-Match "*" only. An error
 * or redirect gets the built-in HTML page, which the operator's page may
 * replace (operator_page). A 308 to https:// goes to the request's host (its
 * port replaced) and target; without a host it is a 400. Every response over
 * TLS carries Strict-Transport-Security when env->hsts_secs says so.
 *
 * With env->site: WS_PLAN_HEALTH is "200 ok" (text/plain, no-store);
 * WS_PLAN_METRICS is 200 with res->mem (res->content_type, no-store, Vary:
 * Accept); an
 * OPTIONS with Origin and Access-Control-Request-Method from an allowed
 * origin is a CORS preflight, answered 204 with the Access-Control-Allow-*
 * fields and Max-Age 7200 (Chromium's cap); every other response gets
 * Access-Control-Allow-Origin for an allowed Origin, Vary: Origin when the
 * answer depends on it, and the operator's fields: every --header, and each
 * --header-for whose pattern matches the decoded path ("/" + the path under
 * the root, "/" at the end of a directory form). An operator's Cache-Control
 * replaces the server's own. A 401 (status 401: the runtime found the
 * credentials missing or wrong, http/auth.h) gets WWW-Authenticate:
 * env->auth_challenge, and keeps the connection for the client's retry. Statuses after which the
 * request stream cannot be trusted (400, 408, 413, 414, 417, 431, and 5xx but 501) close the
 * connection; a body that is not answered with 413 or 417 is discarded first.
 */
void ws_plan_make(struct ws_plan *p, const struct ws_request *req, int status,
                  const struct ws_resource *res, const struct ws_plan_env *env, int last_request);

/*
 * Replaces the body of an error response by a file of `size` bytes (the
 * operator's page for the status). Only for a plan with operator_page set.
 */
void ws_plan_use_file_body(struct ws_plan *p, int64_t size);

#endif
