/*
 * server/pool.c - worker threads; see pool.h for the design.
 */
#include "server/pool.h"

#include "server/fdqueue.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

struct worker {
    struct ws_pool *pool;
    unsigned index;
    pthread_t thread;
};

struct ws_pool {
    struct ws_fdqueue *queue;
    ws_pool_serve_fn serve;
    ws_pool_idle_fn idle;
    void *arg;
    unsigned started;
    struct worker workers[];
};

static void *worker_main(void *p)
{
    struct worker *w = p;
    struct sched_param none = { 0 };
    int fd;

    pthread_setschedparam(pthread_self(), SCHED_BATCH, &none);
    for (;;) {
        int rc = ws_fdqueue_try_pop(w->pool->queue, &fd);
        if (rc != 0) {
            /* Nothing queued: finish up before sleeping (or returning). */
            if (w->pool->idle != NULL)
                w->pool->idle(w->pool->arg, w->index);
            if (rc == -EPIPE || ws_fdqueue_pop(w->pool->queue, &fd) != 0)
                break;
        }
        w->pool->serve(w->pool->arg, w->index, fd);
    }
    if (w->pool->idle != NULL)
        w->pool->idle(w->pool->arg, w->index);
    return NULL;
}

struct ws_pool *ws_pool_start(unsigned threads, struct ws_fdqueue *q, ws_pool_serve_fn serve,
                              ws_pool_idle_fn idle, void *arg)
{
    struct ws_pool *p = calloc(1, sizeof(*p) + threads * sizeof(p->workers[0]));
    int err;

    if (p == NULL)
        return NULL;
    p->queue = q;
    p->serve = serve;
    p->idle = idle;
    p->arg = arg;
    for (unsigned i = 0; i < threads; i++) {
        char name[16];
        p->workers[i].pool = p;
        p->workers[i].index = i;
        err = pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
        if (err != 0) {
            ws_fdqueue_close(q);
            ws_pool_join(p);
            errno = err;
            return NULL;
        }
        p->started++;
        snprintf(name, sizeof(name), "ws-worker-%u", i % 10000u);
        pthread_setname_np(p->workers[i].thread, name);
    }
    return p;
}

void ws_pool_join(struct ws_pool *p)
{
    if (p == NULL)
        return;
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->workers[i].thread, NULL);
    free(p);
}
