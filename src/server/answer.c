/*
 * server/answer.c - route, resolve, plan; see answer.h.
 */
#include "server/answer.h"

#include "http/httpdate.h"
#include "http/plan.h"
#include "server/static_file.h"

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

/*
 * Resolves a GET or HEAD against the root into *res (metadata for the plan)
 * and *sr (the open file or cached bytes, and a listing to free). Ranges are
 * cut from the file itself, so requests that may get one skip the cache.
 */
static void resolve(const struct ws_conn_env *env, struct ws_worker_buf *wb,
                    const struct ws_request *req, int synced, struct ws_static_result *sr,
                    struct ws_resource *res)
{
    struct ws_file_cache *cache = ws_plan_may_range(req) ? NULL : wb->cache;

    ws_static_open(&env->statics, cache, synced, req, wb->path, sizeof(wb->path), sr);
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
}

void ws_answer(const struct ws_conn_env *env, struct ws_worker_buf *wb, const struct ws_request *req,
               int status, int secure, int last, int synced, struct ws_answer *a)
{
    struct ws_plan *p = &wb->plan;
    struct ws_static_result sr = { .fd = -1 };
    struct ws_resource res = { 0 };
    struct ws_plan_env penv = { env->cache_mode,    env->cache_max_age,
                                env->max_body,      wb->date,
                                &wb->boundary_seed, secure,
                                env->hsts_secs,     secure ? 0 : env->https_redirect_port,
                                env->site };

    ws_answer_refresh_date(wb);
    if (req != NULL && status == 0) {
        status = ws_plan_route(req, &penv);
        if (status == 0)
            resolve(env, wb, req, synced, &sr, &res);
    }
    ws_plan_make(p, req, status, &res, &penv, last);

    *a = (struct ws_answer){ sr.fd, sr.mem, sr.listing };
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
