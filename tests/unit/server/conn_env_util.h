/*
 * server/conn_env_util.h - the worker context (struct ws_conn_env) the unit
 * tests that run connections with ws_conn_run start from: the files under
 * dir, the default limits and timeouts, a log to /dev/null.
 */
#ifndef WS_TEST_CONN_ENV_UTIL_H
#define WS_TEST_CONN_ENV_UTIL_H

#include "test_util.h"

#include "server/conn.h"
#include "server/log.h"

#include <fcntl.h>
#include <stdatomic.h>

static inline void test_conn_env(struct ws_conn_env *env, const char *dir,
                                 const atomic_int *draining)
{
    env->statics.root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(env->statics.root_fd >= 0);
    env->error_pages_fd = -1;
    env->cache_mode = WS_CACHE_AUTO;
    env->log = ws_log_open(NULL, "/dev/null", WS_LOG_COMBINED);
    assert_non_null(env->log);
    env->draining = draining;
    env->limits = (struct ws_parse_limits){ WS_MAX_REQUEST_LINE, WS_MAX_HEAD, WS_MAX_HEADERS };
    env->header_timeout_ms = env->keepalive_timeout_ms = 15000;
    env->send_timeout_ms = 30000;
    env->linger_timeout_ms = 2000;
    env->max_body = 1 << 20;
}

#endif
