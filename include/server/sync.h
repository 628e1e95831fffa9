/*
 * server/sync.h - pthread wrappers that treat a failing lock operation as the bug it is.
 *
 * pthread_mutex_lock can only fail here through misuse (an uninitialised or
 * destroyed mutex, a relock of a non-recursive mutex); carrying on would corrupt
 * shared state, so these abort with a message instead.
 */
#ifndef WS_SYNC_H
#define WS_SYNC_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void ws__sync_fail(const char *what, int err)
{
    fprintf(stderr, "webserver: fatal: %s: %s\n", what, strerror(err));
    abort();
}

static inline void ws_mutex_lock(pthread_mutex_t *m)
{
    int err = pthread_mutex_lock(m);
    if (err != 0)
        ws__sync_fail("pthread_mutex_lock", err);
}

static inline void ws_mutex_unlock(pthread_mutex_t *m)
{
    int err = pthread_mutex_unlock(m);
    if (err != 0)
        ws__sync_fail("pthread_mutex_unlock", err);
}

static inline void ws_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    int err = pthread_cond_wait(c, m);
    if (err != 0)
        ws__sync_fail("pthread_cond_wait", err);
}

#endif
