/*
 * server/fdqueue.c - bounded ring buffer of descriptors; see fdqueue.h for the design.
 */
#include "server/fdqueue.h"

#include "server/sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/*
 * WS_RING_LOCKSTAT (cmake -DWS_RING_LOCKSTAT=ON, for measurements only; off by
 * default, when these macros are the plain lock calls): every push and pop
 * first tries the lock, counts a failure as contended and times the wait for
 * it, and times how long it holds the lock (a condition wait is not counted as
 * holding). Counters are updated under the lock; ws_fdqueue_lockstat reads them.
 */
#ifdef WS_RING_LOCKSTAT
static int64_t lockstat_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
#define RING_LOCK(q, kind)                                                                         \
    do {                                                                                           \
        int64_t t0_ = lockstat_ns();                                                               \
        int busy_ = pthread_mutex_trylock(&(q)->lock) != 0;                                        \
        if (busy_)                                                                                 \
            ws_mutex_lock(&(q)->lock);                                                             \
        (q)->held_since = lockstat_ns();                                                           \
        (q)->ls[kind].ops++;                                                                       \
        (q)->ls[kind].contended += (unsigned long long)busy_;                                      \
        if (busy_)                                                                                 \
            (q)->ls[kind].wait_ns += (unsigned long long)((q)->held_since - t0_);                  \
    } while (0)
#define RING_UNLOCK(q, kind)                                                                       \
    do {                                                                                           \
        (q)->ls[kind].hold_ns += (unsigned long long)(lockstat_ns() - (q)->held_since);            \
        ws_mutex_unlock(&(q)->lock);                                                               \
    } while (0)
#define RING_WAIT(q, kind, cond)                                                                   \
    do {                                                                                           \
        (q)->ls[kind].hold_ns += (unsigned long long)(lockstat_ns() - (q)->held_since);            \
        ws_cond_wait((cond), &(q)->lock);                                                          \
        (q)->held_since = lockstat_ns();                                                           \
    } while (0)
#else
#define RING_LOCK(q, kind)       ws_mutex_lock(&(q)->lock)
#define RING_UNLOCK(q, kind)     ws_mutex_unlock(&(q)->lock)
#define RING_WAIT(q, kind, cond) ws_cond_wait((cond), &(q)->lock)
#endif

struct ws_fdqueue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    unsigned capacity;
    unsigned head;   /* index of the oldest item */
    unsigned length; /* items queued */
    unsigned high_water;
    unsigned waiting_poppers; /* inside cond_wait on not_empty */
    unsigned wakes_pending;   /* of those, signalled but not yet running */
    unsigned consumers;       /* 0: wake a popper on every push */
    unsigned max_awake;       /* 0: no limit on poppers woken for queued work */
    unsigned long long pops;  /* descriptors popped so far */
    unsigned waiting_pushers;
    int closed;
#ifdef WS_RING_LOCKSTAT
    int64_t held_since;
    struct ws_fdqueue_lockstat ls[2]; /* WS_RING_PUSH, WS_RING_POP */
#endif
    int slots[]; /* capacity entries */
};

struct ws_fdqueue *ws_fdqueue_create(unsigned capacity)
{
    struct ws_fdqueue *q;
    int err;

    if (capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    q = calloc(1, sizeof(*q) + (size_t)capacity * sizeof(q->slots[0]));
    if (q == NULL)
        return NULL;
    q->capacity = capacity;
    if ((err = pthread_mutex_init(&q->lock, NULL)) != 0)
        goto fail;
    if ((err = pthread_cond_init(&q->not_empty, NULL)) != 0)
        goto fail_mutex;
    if ((err = pthread_cond_init(&q->not_full, NULL)) != 0)
        goto fail_cond;
    return q;

fail_cond:
    pthread_cond_destroy(&q->not_empty);
fail_mutex:
    pthread_mutex_destroy(&q->lock);
fail:
    free(q);
    errno = err;
    return NULL;
}

void ws_fdqueue_destroy(struct ws_fdqueue *q)
{
    if (q == NULL)
        return;
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

void ws_fdqueue_set_consumers(struct ws_fdqueue *q, unsigned consumers)
{
    ws_mutex_lock(&q->lock);
    q->consumers = consumers;
    ws_mutex_unlock(&q->lock);
}

/*
 * Wakes a waiting popper if the queue needs one: always when the number of
 * consumers is unknown, else only while more descriptors are queued than
 * consumers are awake (running, or signalled and about to run). A worker that
 * is awake pops the next descriptor without sleeping, so waking another for it
 * would only add a context switch. Lock held.
 */
static void wake_popper_locked(struct ws_fdqueue *q)
{
    unsigned idle = q->waiting_poppers - q->wakes_pending;

    if (idle == 0)
        return;
    if (q->consumers > 0 && q->length <= q->consumers - idle)
        return;
    if (q->consumers > 0 && q->max_awake > 0 && q->consumers - idle >= q->max_awake)
        return;
    q->wakes_pending++;
    pthread_cond_signal(&q->not_empty);
}

/*
 * A full queue means the awake poppers are not keeping up (or are stuck): before
 * a pusher sleeps, every sleeping popper is woken, whatever the cap. Lock held.
 */
static void wake_all_poppers_locked(struct ws_fdqueue *q)
{
    if (q->waiting_poppers > q->wakes_pending) {
        q->wakes_pending = q->waiting_poppers;
        pthread_cond_broadcast(&q->not_empty);
    }
}

void ws_fdqueue_set_max_awake(struct ws_fdqueue *q, unsigned max_awake)
{
    ws_mutex_lock(&q->lock);
    q->max_awake = max_awake;
    ws_mutex_unlock(&q->lock);
}

unsigned ws_fdqueue_kick(struct ws_fdqueue *q, unsigned long long *pops)
{
    unsigned length;

    ws_mutex_lock(&q->lock);
    length = q->length;
    if (length > 0 && q->pops == *pops && q->waiting_poppers > q->wakes_pending) {
        q->wakes_pending++;
        pthread_cond_signal(&q->not_empty);
    }
    *pops = q->pops;
    ws_mutex_unlock(&q->lock);
    return length;
}

/* Appends fd; the caller holds the lock and has checked there is room. */
static void append_locked(struct ws_fdqueue *q, int fd)
{
    unsigned tail = q->head + q->length;
    if (tail >= q->capacity)
        tail -= q->capacity;
    q->slots[tail] = fd;
    q->length++;
    if (q->length > q->high_water)
        q->high_water = q->length;
    wake_popper_locked(q);
}

int ws_fdqueue_push(struct ws_fdqueue *q, int fd)
{
    return ws_fdqueue_push_many(q, &fd, 1) == 1 ? 0 : -EPIPE;
}

int ws_fdqueue_push_many(struct ws_fdqueue *q, const int *fds, unsigned n)
{
    unsigned done = 0;

    RING_LOCK(q, WS_RING_PUSH);
    while (done < n) {
        while (!q->closed && q->length == q->capacity) {
            wake_all_poppers_locked(q);
            q->waiting_pushers++;
            RING_WAIT(q, WS_RING_PUSH, &q->not_full);
            q->waiting_pushers--;
        }
        if (q->closed)
            break;
        while (done < n && q->length < q->capacity)
            append_locked(q, fds[done++]);
    }
    RING_UNLOCK(q, WS_RING_PUSH);
    return (int)done;
}

unsigned ws_fdqueue_try_push_many(struct ws_fdqueue *q, const int *fds, unsigned n)
{
    unsigned done = 0;

    RING_LOCK(q, WS_RING_PUSH);
    while (!q->closed && done < n && q->length < q->capacity)
        append_locked(q, fds[done++]);
    RING_UNLOCK(q, WS_RING_PUSH);
    return done;
}

int ws_fdqueue_try_push(struct ws_fdqueue *q, int fd)
{
    int rc = 0;

    RING_LOCK(q, WS_RING_PUSH);
    if (q->closed)
        rc = -EPIPE;
    else if (q->length == q->capacity)
        rc = -EAGAIN;
    else
        append_locked(q, fd);
    RING_UNLOCK(q, WS_RING_PUSH);
    return rc;
}

/* Takes the oldest descriptor; the caller holds the lock and has checked length > 0. */
static int take_locked(struct ws_fdqueue *q)
{
    int fd = q->slots[q->head];
    q->head = (q->head + 1 == q->capacity) ? 0 : q->head + 1;
    q->length--;
    q->pops++;
    if (q->waiting_pushers > 0)
        pthread_cond_signal(&q->not_full);
    return fd;
}

int ws_fdqueue_try_pop(struct ws_fdqueue *q, int *fd)
{
    int rc = 0;

    RING_LOCK(q, WS_RING_POP);
    if (q->length > 0)
        *fd = take_locked(q);
    else
        rc = q->closed ? -EPIPE : -EAGAIN;
    RING_UNLOCK(q, WS_RING_POP);
    return rc;
}

int ws_fdqueue_pop(struct ws_fdqueue *q, int *fd)
{
    int rc = 0;

    RING_LOCK(q, WS_RING_POP);
    while (!q->closed && q->length == 0) {
        q->waiting_poppers++;
        RING_WAIT(q, WS_RING_POP, &q->not_empty);
        q->waiting_poppers--;
        if (q->wakes_pending > 0)
            q->wakes_pending--; /* (a spurious wake-up may take another's: harmless) */
    }
    if (q->length == 0) {
        rc = -EPIPE; /* closed and drained */
    } else {
        *fd = take_locked(q);
    }
    RING_UNLOCK(q, WS_RING_POP);
    return rc;
}

void ws_fdqueue_close(struct ws_fdqueue *q)
{
    ws_mutex_lock(&q->lock);
    q->closed = 1;
    q->wakes_pending = q->waiting_poppers;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    ws_mutex_unlock(&q->lock);
}

void ws_fdqueue_stats(struct ws_fdqueue *q, struct ws_fdqueue_stats *out)
{
    ws_mutex_lock(&q->lock);
    out->capacity = q->capacity;
    out->length = q->length;
    out->high_water = q->high_water;
    out->waiting = q->waiting_poppers - q->wakes_pending;
    ws_mutex_unlock(&q->lock);
}

int ws_fdqueue_lockstat(struct ws_fdqueue *q, struct ws_fdqueue_lockstat out[2])
{
#ifdef WS_RING_LOCKSTAT
    ws_mutex_lock(&q->lock);
    out[WS_RING_PUSH] = q->ls[WS_RING_PUSH];
    out[WS_RING_POP] = q->ls[WS_RING_POP];
    ws_mutex_unlock(&q->lock);
    return 1;
#else
    (void)q;
    (void)out;
    return 0;
#endif
}
