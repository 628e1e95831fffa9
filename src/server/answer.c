/*
 * server/answer.c - route, resolve, plan; see answer.h.
 */
#include "server/answer.h"

#include "http/forwarded.h"
#include "http/httpdate.h"
#include "http/metrics.h"
#include "http/mime.h"
#include "http/negotiate.h"
#include "http/plan.h"
#include "server/auth.h"
#include "server/compress.h"
#include "server/file_cache.h"
#include "server/static_file.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void ws_answer_refresh_date(struct ws_worker_buf *wb)
{
    time_t now = time(NULL);
    if (now != wb->date_second) {
        wb->date_second = now;
        ws_httpdate_format(now, wb->date);
    }
}

/* The resource as coded on the fly with enc: the fields the plan makes its validators from. */
static void describe_coding(struct ws_resource *res, enum ws_encoding enc, int64_t identity_size)
{
    res->identity_size = identity_size;
    res->content_encoding = enc == WS_ENC_GZIP ? "gzip" : "zstd";
    res->etag = res->last_modified = NULL; /* the file's: the plan makes the coding's */
    res->coded_tag = enc == WS_ENC_GZIP ? "gz" : "zst";
}

/*
 * Compresses a file of a compressible type on the fly when the request
 * accepts gzip or zstd (by Accept-Encoding's weights; zstd on a tie) and no
 * precompressed sibling was chosen: not for a GET that may get a range (it
 * gets the file itself), nor a file under --compress-min or over
 * WS_COMPRESS_MAX_FILE bytes. The result, from the worker's compression cache
 * (keyed by the file's identity, so never stale), replaces the body: its
 * memory, or for a large one a descriptor of its own. A file too large to
 * compress in one go sets *later to the job that will compress it, unless
 * `done` is that job, finished (compress.h).
 */
static void compress_on_the_fly(const struct ws_conn_env *env, struct ws_worker_buf *wb,
                                const struct ws_request *req, struct ws_compress_job *done,
                                struct ws_static_result *sr, struct ws_resource *res,
                                struct ws_compress_job **later)
{
    static const unsigned made_here = (1u << WS_ENC_GZIP) | (1u << WS_ENC_ZSTD);
    enum ws_encoding enc;
    struct ws_compressed z;
    int level, rc;

    if (wb->zcache == NULL || sr->status != 200 || sr->listing != NULL ||
        sr->content_encoding != NULL || !sr->vary || ws_plan_may_range(req) ||
        sr->st.st_size < env->compress_min || sr->st.st_size > WS_COMPRESS_MAX_FILE ||
        (sr->mem == NULL && sr->fd < 0 && !sr->open_later))
        return;
    enc = ws_negotiate_encoding(req, made_here);
    if (enc == WS_ENC_IDENTITY)
        return;
    level = enc == WS_ENC_GZIP ? env->gzip_level : env->zstd_level;
    /* A file the cache knows by its identity is opened only if its result is not found by it. */
    if (!sr->open_later || ws_compress_find(wb->zcache, enc, level, &sr->st, &z) < 0) {
        if (sr->open_later && ws_static_open_now(&env->statics, sr) < 0)
            return; /* changed: resolve() takes the slow path */
        rc = ws_compress_get(wb->zcache, enc, level, &sr->st, sr->mem, sr->fd, done, &z, later);
        if (rc < 0)
            return; /* the file as it is */
        if (rc > 0) {
            /* The body once the job is done; its validators now (ws_answer). */
            describe_coding(res, enc, sr->st.st_size);
            return;
        }
    }
    sr->open_later = 0;
    if (sr->fd >= 0)
        close(sr->fd);
    sr->fd = z.fd; /* a large result's own descriptor, sent as a file is */
    sr->mem = z.mem;
    res->size = (int64_t)z.len;
    describe_coding(res, enc, sr->st.st_size);
}

/* What the plan needs to know of what ws_static_open found; *cached as in resolve(). */
static void describe(const struct ws_static_result *sr, struct ws_resource *res,
                     const char **cached)
{
    *res = (struct ws_resource){
        .status = sr->status,
        .listing = sr->listing != NULL,
        .size = sr->st.st_size,
        .mtime_sec = sr->st.st_mtim.tv_sec,
        .mtime_nsec = sr->st.st_mtim.tv_nsec,
        .content_type = sr->content_type,
        .content_encoding = sr->content_encoding,
        .vary = sr->vary,
        .vary_accept = sr->vary_accept,
        .name = sr->name,
        .name_len = sr->name_len,
        .location = sr->location,
        .mem = sr->listing,
        .mem_len = sr->listing_len,
    };
    if (sr->mem != NULL) {
        /* A body of the file cache, whose validators are formatted already. */
        *cached = sr->mem;
        res->etag = ws_file_cache_etag(sr->mem, &res->etag_len);
        res->last_modified = ws_file_cache_last_modified(sr->mem);
    }
}

/*
 * Resolves a GET or HEAD against the root into *res (metadata for the plan)
 * and *sr (the open file or cached bytes, and a listing to free). Ranges are
 * cut from the file itself, so requests that may get one skip the cache.
 * *cached is set to the file cache's body when the file came from there
 * (sr->mem may then be replaced by a compressed copy).
 */
static void resolve(const struct ws_conn_env *env, struct ws_worker_buf *wb,
                    const struct ws_request *req, int synced, struct ws_compress_job *done,
                    struct ws_static_result *sr, struct ws_resource *res,
                    struct ws_compress_job **later, const char **cached)
{
    struct ws_file_cache *cache = ws_plan_may_range(req) ? NULL : wb->cache;

    ws_static_open(&env->statics, cache, synced, req, wb->path, sizeof(wb->path), sr);
    describe(sr, res, cached);
    compress_on_the_fly(env, wb, req, done, sr, res, later);
    if (sr->open_later && ws_static_open_now(&env->statics, sr) < 0) {
        /* Changed since the cache knew it unchanged: the slow path, as on a miss. */
        ws_static_open(&env->statics, NULL, 0, req, wb->path, sizeof(wb->path), sr);
        *cached = NULL;
        describe(sr, res, cached);
        compress_on_the_fly(env, wb, req, done, sr, res, later);
    }
}

/*
 * Basic authentication, before the path is resolved (so a request without
 * credentials learns nothing of what exists): 0 when the path needs none or
 * the credentials are right, 401 when they are missing, malformed (RFC 9110
 * §11.6.2 leaves no place for a 400 here) or wrong.
 */
static int authorize(const struct ws_conn_env *env, struct ws_worker_buf *wb,
                     const struct ws_request *req)
{
    char cred[WS_AUTH_CRED_MAX + 1];
    struct ws_view user, pass;
    int ok;

    if (!ws_auth_protects(env->auth_policy, req->path.ptr, req->path.len, wb->path,
                          sizeof(wb->path)))
        return 0;
    if (ws_auth_parse_basic(req, cred, &user, &pass) != 1)
        return 401;
    ok = ws_auth_verify(env->auth, wb->auth, user, pass);
    if (ok) {
        /* For the access log's user field (%u), as Apache and nginx log $remote_user. */
        size_t n = user.len < sizeof(wb->auth_user) ? user.len : sizeof(wb->auth_user);
        memcpy(wb->auth_user, user.ptr, n);
        wb->auth_user_len = (uint16_t)n;
    }
    explicit_bzero(cred, sizeof(cred));
    return ok ? 0 : 401;
}

/*
 * The --metrics page for a client, into *res and *sr (sr->listing owns the
 * text): the status to plan with, WS_PLAN_METRICS, or 404 for a client that
 * may not read them (the path then looks like one that does not exist), or
 * 503 when memory is short. The client is the one the access log names: the
 * peer, or behind a --trusted-proxy the X-Forwarded-For client, so that a
 * proxy on loopback does not open the metrics to everyone it forwards.
 */
static int metrics(const struct ws_conn_env *env, const struct ws_request *req,
                   const struct sockaddr *peer, struct ws_static_result *sr,
                   struct ws_resource *res)
{
    struct ws_metrics m = { 0 };
    char client[INET6_ADDRSTRLEN];
    int openmetrics = ws_metrics_wants_openmetrics(req);
    size_t size = 16384, len;

    ws_forwarded_client(req, env->trusted, env->n_trusted, peer, client, sizeof(client));
    if (env->metrics == NULL || !ws_site_metrics_allowed(env->site, client))
        return 404;
    env->metrics(env->metrics_ctx, &m);
    for (;;) {
        sr->listing = malloc(size);
        if (sr->listing == NULL)
            return 503;
        len = ws_metrics_format(&m, openmetrics, sr->listing, size);
        if (len < size)
            break;
        free(sr->listing);
        size = len + 1;
    }
    res->mem = sr->listing;
    res->mem_len = len;
    res->content_type = openmetrics ? WS_METRICS_OPENMETRICS_TYPE : WS_METRICS_PROMETHEUS_TYPE;
    return WS_PLAN_METRICS;
}

void ws_answer(const struct ws_conn_env *env, struct ws_worker_buf *wb,
               const struct ws_request *req, int status, int secure, int last, int synced,
               const struct sockaddr *peer, struct ws_answer *a)
{
    struct ws_plan *p = &wb->plan;
    struct ws_static_result sr = { .fd = -1 };
    struct ws_resource res = { 0 };
    struct ws_compress_job *done = a->job, *later = NULL;
    const char *cached = NULL;
    struct ws_plan_env penv = {
        env->cache_mode,    env->cache_max_age,
        env->max_body,      wb->date,
        &wb->boundary_seed, secure,
        env->hsts_secs,     secure ? 0 : env->https_redirect_port,
        env->site,          env->auth != NULL ? env->auth_policy->challenge : NULL
    };

    ws_answer_refresh_date(wb);
    wb->auth_user_len = 0;
    if (req != NULL && status == 0) {
        status = ws_plan_route(req, &penv);
        if (status == 0 && env->auth != NULL && wb->auth != NULL)
            status = authorize(env, wb, req);
        if (status == 0)
            resolve(env, wb, req, synced, done, &sr, &res, &later, &cached);
        else if (status == WS_PLAN_METRICS)
            status = metrics(env, req, peer, &sr, &res);
    }
    ws_plan_make(p, req, status, &res, &penv, last);
    if (later != NULL) {
        /*
         * The coding's validators do not depend on its bytes: a request that
         * its preconditions answer (304, 412) is answered now, and the job
         * is not run for it. Otherwise no plan yet: the caller runs the job,
         * then asks again.
         */
        if (p->status != 304 && p->status != 412) {
            if (sr.fd >= 0)
                close(sr.fd);
            free(sr.listing);
            *a = (struct ws_answer){ .fd = -1, .job = later };
            return;
        }
        ws_compress_job_free(later);
    }

    /* Still the cache's body, unless compression replaced it. */
    *a = (struct ws_answer){ .fd = sr.fd,
                             .mem = sr.mem,
                             .listing = sr.listing,
                             .cached = sr.mem != NULL && sr.mem == cached };
    if (p->operator_page && env->error_pages_fd >= 0) {
        struct stat st;
        int fd = ws_static_error_page(env->error_pages_fd, p->status, &st);
        if (fd >= 0) {
            if (a->fd >= 0)
                close(a->fd);
            a->fd = fd;
            a->mem = NULL;
            ws_plan_use_file_body(p, st.st_size);
        }
    }
}
