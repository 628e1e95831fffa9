/*
 * server/answer.h - the runtime half of answering a request, for every protocol.
 *
 * DESIGN
 * The response plan (http/plan.h) is pure; this is the part of an answer that
 * touches the disk. ws_answer routes a request, resolves its path against the
 * document root (ws_static_open, through the worker's file cache) or makes
 * the --metrics text (through env->metrics), asks
 * ws_plan_make for the plan, and swaps in the operator's error page. The
 * framing layer then writes wb->plan as HTTP/1.1 (conn.c) or as HTTP/2 frames
 * (h2.c): what it does with the body's source is its own business, nothing
 * else is.
 */
#ifndef WS_ANSWER_H
#define WS_ANSWER_H

#include "http/request_parser.h"
#include "server/conn.h"

/*
 * Where the bytes of a plan's body come from, besides the plan itself: a
 * descriptor (the resource's, or the operator's error page), or, for a
 * cached small file, the worker's cache memory (valid during this turn
 * only). listing is a generated listing (the plan's mem points into it).
 * The caller owns fd and listing. cached: mem is a body of the file cache,
 * which the caller may keep beyond the turn by holding a reference to it
 * (ws_file_cache_hold); otherwise (a compressed copy) it must copy it.
 *
 * job, going in: a finished compression job the caller ran for this very
 * request, or NULL (the caller still owns and frees it). Coming out, when not
 * NULL: no plan was made, because the file must first be compressed over
 * several turns (compress.h); the caller owns the job, steps it with
 * ws_compress_job_step, yielding the worker between steps, and asks again
 * with it when it is done or failed (a failed one gets the file as it is).
 */
struct ws_answer {
    int fd;
    const char *mem;
    char *listing;
    struct ws_compress_job *job;
    int cached;
};

/*
 * Plans the answer to req in wb->plan (req NULL: bytes that could not be
 * parsed, answered with status), or asks for a compression job first (a->job
 * on both ways: see struct ws_answer). secure: the request came over TLS. last:
 * the connection takes no request after this one. synced: the request may
 * trust the watch's epoch (watch.h). peer: the connection's peer address,
 * for who may read the metrics. Refreshes the worker's Date first.
 */
void ws_answer(const struct ws_conn_env *env, struct ws_worker_buf *wb,
               const struct ws_request *req, int status, int secure, int last, int synced,
               const struct sockaddr *peer, struct ws_answer *a);

/* Refreshes the worker's cached Date header once a second. */
void ws_answer_refresh_date(struct ws_worker_buf *wb);

#endif
