/*
 * server/loop.c - one event thread's parking set; see loop.h for the design.
 */
#include "server/loop.h"

#include "server/conn.h"
#include "server/sync.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* --- the deadline heap (park lock held) ------------------------------------ */

static void heap_set(struct ws_loop *l, unsigned i, struct ws_conn *c)
{
    l->heap[i] = c;
    c->heap_index = i;
}

static void heap_sift_up(struct ws_loop *l, unsigned i)
{
    struct ws_conn *c = l->heap[i];
    while (i > 0) {
        unsigned parent = (i - 1) / 2;
        if (l->heap[parent]->deadline_ms <= c->deadline_ms)
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, c);
}

static void heap_sift_down(struct ws_loop *l, unsigned i)
{
    struct ws_conn *c = l->heap[i];
    for (;;) {
        unsigned child = 2 * i + 1;
        if (child >= l->heap_len)
            break;
        if (child + 1 < l->heap_len &&
            l->heap[child + 1]->deadline_ms < l->heap[child]->deadline_ms)
            child++;
        if (c->deadline_ms <= l->heap[child]->deadline_ms)
            break;
        heap_set(l, i, l->heap[child]);
        i = child;
    }
    heap_set(l, i, c);
}

static void heap_insert(struct ws_loop *l, struct ws_conn *c)
{
    heap_set(l, l->heap_len++, c);
    heap_sift_up(l, c->heap_index);
}

static void heap_remove(struct ws_loop *l, struct ws_conn *c)
{
    unsigned i = c->heap_index;
    struct ws_conn *last;

    if (i == UINT32_MAX)
        return;
    c->heap_index = UINT32_MAX;
    last = l->heap[--l->heap_len];
    if (last == c)
        return;
    heap_set(l, i, last);
    heap_sift_up(l, i);
    heap_sift_down(l, last->heap_index);
}

/* --- set-up ------------------------------------------------------------------ */

int ws__loop_init(struct ws_loop *l, unsigned index, unsigned capacity)
{
    struct epoll_event ev = { .events = EPOLLIN };

    l->index = index;
    l->heap_len = 0;
    l->heap_cap = capacity;
    l->stopped = 0;
    l->wake_at = 0;
    l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->heap = calloc(capacity > 0 ? capacity : 1, sizeof(*l->heap));
    pthread_mutex_init(&l->park_lock, NULL);
    if (l->epoll_fd < 0 || l->wake_fd < 0)
        return -errno;
    if (l->heap == NULL)
        return -ENOMEM;
    ev.data.fd = l->wake_fd;
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0)
        return -errno;
    return 0;
}

void ws__loop_destroy(struct ws_loop *l)
{
    if (l->epoll_fd >= 0)
        close(l->epoll_fd);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    l->epoll_fd = l->wake_fd = -1;
    free(l->heap);
    l->heap = NULL;
    pthread_mutex_destroy(&l->park_lock);
}

void ws__loop_wake(struct ws_loop *l)
{
    uint64_t one = 1;
    /* EAGAIN: the counter is full, so a wake-up is pending anyway. */
    (void)!write(l->wake_fd, &one, sizeof(one));
}

void ws__loop_clear_wake(struct ws_loop *l)
{
    uint64_t count;
    (void)!read(l->wake_fd, &count, sizeof(count));
}

/* --- the hand-overs ---------------------------------------------------------- */

int ws__loop_park(struct ws_loop *l, struct ws_conn *c, ws_loop_park_hook hook, void *ctx)
{
    struct epoll_event ev;
    int rc, wake;

    ws_mutex_lock(&l->park_lock);
    if (l->stopped || (hook != NULL && hook(ctx, c))) {
        ws_mutex_unlock(&l->park_lock);
        return -ESHUTDOWN;
    }
    heap_insert(l, c);
    ev.events = c->park_events | EPOLLONESHOT;
    ev.data.fd = c->fd;
    rc = epoll_ctl(l->epoll_fd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
    if (rc < 0) {
        rc = -errno;
        heap_remove(l, c);
        ws_mutex_unlock(&l->park_lock);
        return rc;
    }
    c->registered = 1;
    /* A deadline earlier than the loop's next wake-up: wake it now. */
    wake = c->deadline_ms < l->wake_at;
    if (wake)
        l->wake_at = c->deadline_ms;
    ws_mutex_unlock(&l->park_lock);
    if (wake)
        ws__loop_wake(l);
    return 0;
}

void ws__loop_take(struct ws_loop *l, struct ws_conn *const *ready, unsigned n)
{
    ws_mutex_lock(&l->park_lock);
    for (unsigned i = 0; i < n; i++)
        heap_remove(l, ready[i]);
    ws_mutex_unlock(&l->park_lock);
}

unsigned ws__loop_expire(struct ws_loop *l, int64_t now, struct ws_conn **out, unsigned max,
                         int *wait_ms)
{
    unsigned n = 0;
    int wait = 1000;

    ws_mutex_lock(&l->park_lock);
    while (l->heap_len > 0 && n < max && l->heap[0]->deadline_ms <= now) {
        out[n] = l->heap[0];
        heap_remove(l, out[n]);
        n++;
    }
    if (l->heap_len > 0) {
        int64_t d = l->heap[0]->deadline_ms - now;
        wait = d < 0 ? 0 : d > 1000 ? 1000 : (int)d;
    }
    if (n == max)
        wait = 0;
    l->wake_at = now + wait;
    ws_mutex_unlock(&l->park_lock);
    *wait_ms = wait;
    return n;
}

int64_t ws__loop_repark(struct ws_loop *l, struct ws_conn *c)
{
    int64_t wake_at;

    ws_mutex_lock(&l->park_lock);
    heap_insert(l, c);
    if (c->deadline_ms < l->wake_at)
        l->wake_at = c->deadline_ms;
    wake_at = l->wake_at;
    ws_mutex_unlock(&l->park_lock);
    return wake_at;
}

struct ws_conn **ws__loop_take_if(struct ws_loop *l, int (*pick)(void *ctx, struct ws_conn *c),
                                  void *ctx, int stop, unsigned *n)
{
    struct ws_conn **out;

    *n = 0;
    ws_mutex_lock(&l->park_lock);
    if (stop)
        l->stopped = 1;
    out = l->heap_len > 0 ? malloc(l->heap_len * sizeof(*out)) : NULL;
    /* Pick first, remove after: a removal moves other records within the heap. */
    for (unsigned i = 0; out != NULL && i < l->heap_len; i++)
        if (pick == NULL || pick(ctx, l->heap[i]))
            out[(*n)++] = l->heap[i];
    for (unsigned i = 0; i < *n; i++)
        heap_remove(l, out[i]);
    ws_mutex_unlock(&l->park_lock);
    if (out != NULL && *n == 0) {
        free(out);
        out = NULL;
    }
    return out;
}

unsigned ws__loop_parked(struct ws_loop *l)
{
    unsigned n;

    ws_mutex_lock(&l->park_lock);
    n = l->heap_len;
    ws_mutex_unlock(&l->park_lock);
    return n;
}

void ws__loop_set_wake_at(struct ws_loop *l, int64_t when)
{
    ws_mutex_lock(&l->park_lock);
    l->wake_at = when;
    ws_mutex_unlock(&l->park_lock);
}
