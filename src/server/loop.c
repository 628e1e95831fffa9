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
    atomic_init(&l->graveyard, NULL);
    l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->heap = calloc(capacity > 0 ? capacity : 1, sizeof(*l->heap));
    pthread_mutex_init(&l->park_lock, NULL);
    if (l->epoll_fd < 0 || l->wake_fd < 0)
        return -errno;
    if (l->heap == NULL)
        return -ENOMEM;
    ev.data.u64 = ws__loop_fd_data(l->wake_fd);
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0)
        return -errno;
    return 0;
}

void ws__loop_destroy(struct ws_loop *l)
{
    ws__loop_reap(l);
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

/* --- the ownership word -------------------------------------------------- */

_Static_assert((EPOLLIN | EPOLLOUT) <= UINT8_MAX, "conn->armed holds them in a byte");

/* The word's edge bits for what epoll reported: a hang-up or an error wakes either wait. */
static uint32_t edge_bits(uint32_t events)
{
    uint32_t bits = 0;

    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        bits |= WS_OWN_IN;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        bits |= WS_OWN_OUT;
    return bits;
}

/* The word's edge bits a parked record waits for. */
static uint32_t wanted_bits(uint32_t park_events)
{
    return ((park_events & EPOLLIN) ? WS_OWN_IN : 0) | ((park_events & EPOLLOUT) ? WS_OWN_OUT : 0);
}

/* PARKED -> OWNED, by the loop's thread under the park lock. Returns 0 if it was not parked. */
static int claim(struct ws_conn *c)
{
    uint32_t parked = WS_OWN_PARKED;

    return atomic_compare_exchange_strong_explicit(&c->own, &parked, WS_OWN_OWNED,
                                                   memory_order_acq_rel, memory_order_acquire);
}

/*
 * Registers c->fd (the first time) or changes its registration; either makes
 * the kernel look at the socket now and queue an edge if it is ready.
 *
 * A level wait is armed as the one-shot re-arm was: for what it waits for
 * alone, and EPOLLONESHOT, so that the one edge it gets is one it waits for
 * (the event thread claims it, or the park finds it recorded) and that the
 * socket, disarmed after it, does not wake the event thread while a worker
 * runs the connection (HTTP/2 input arriving mid-turn). It leaves nothing an
 * edge wait could rely on: armed becomes 0.
 *
 * An edge wait for something the registration lacks adds it, for good (with
 * EPOLLRDHUP), so that later edge waits for either need no call.
 *
 * Under the park lock.
 */
static int arm(struct ws_loop *l, struct ws_conn *c, int level)
{
    uint32_t want = level ? c->park_events : c->armed | c->park_events;
    struct epoll_event ev = { .events = want | EPOLLET | (level ? EPOLLONESHOT : EPOLLRDHUP),
                              .data.ptr = c };

    if (epoll_ctl(l->epoll_fd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0)
        return -errno;
    c->registered = 1;
    c->armed = level ? 0 : (uint8_t)want; /* EPOLLIN and EPOLLOUT are 0x001 and 0x004 */
    return 0;
}

/* --- the hand-overs ---------------------------------------------------------- */

int ws__loop_park(struct ws_loop *l, struct ws_conn *c, ws_loop_park_hook hook, void *ctx)
{
    uint32_t want, old, next;
    int rc, wake;

    ws_mutex_lock(&l->park_lock);
    if (l->stopped || (hook != NULL && hook(ctx, c))) {
        ws_mutex_unlock(&l->park_lock);
        return -ESHUTDOWN;
    }
    /*
     * A level wait, or an edge wait the registration does not report: the
     * kernel queues an edge now if the socket is ready, which the word records
     * below if the event thread gets to it first. An edge wait the
     * registration reports needs no call: that is the point of it all.
     */
    if (!c->park_edge || (c->armed & c->park_events) != c->park_events) {
        if ((rc = arm(l, c, !c->park_edge)) < 0) {
            ws_mutex_unlock(&l->park_lock);
            return rc;
        }
    }
    want = wanted_bits(c->park_events);
    old = atomic_load_explicit(&c->own, memory_order_acquire);
    do
        next = (old & want) != 0 ? WS_OWN_OWNED : WS_OWN_PARKED;
    while (!atomic_compare_exchange_weak_explicit(&c->own, &old, next, memory_order_acq_rel,
                                                  memory_order_acquire));
    if (next == WS_OWN_OWNED) {
        /* What it waits for came during the turn: not parked, and a new turn begins. */
        ws_mutex_unlock(&l->park_lock);
        return WS_LOOP_READY;
    }
    /* Parked: the loop's thread may find it so now, but claims it only under this lock. */
    heap_insert(l, c);
    /* A deadline earlier than the loop's next wake-up: wake it now. */
    wake = c->deadline_ms < l->wake_at;
    if (wake)
        l->wake_at = c->deadline_ms;
    ws_mutex_unlock(&l->park_lock);
    if (wake)
        ws__loop_wake(l);
    return 0;
}

int ws__loop_event(struct ws_loop *l, struct ws_conn *c, uint32_t events)
{
    uint32_t bits = edge_bits(events);
    uint32_t old = atomic_load_explicit(&c->own, memory_order_acquire);
    int hup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;

    (void)l;
    for (;;) {
        uint32_t state = old & WS_OWN_STATE;
        if (state == WS_OWN_CLOSED)
            return 0; /* closed while the edge was on its way: in the graveyard, still memory */
        /* Before the claim or the word's update below, which pass it to the next owner. */
        if (hup)
            atomic_store_explicit(&c->hup, 1, memory_order_relaxed);
        if (state == WS_OWN_PARKED)
            /* Stable: only this thread moves a word from PARKED. park_events was written
             * before the word became PARKED (the acquire above pairs with that). */
            return (bits & wanted_bits(c->park_events)) != 0;
        if ((old & bits) == bits && !hup)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&c->own, &old, old | bits, memory_order_acq_rel,
                                                  memory_order_acquire))
            return 0;
    }
}

void ws__loop_take(struct ws_loop *l, struct ws_conn *const *ready, unsigned n)
{
    ws_mutex_lock(&l->park_lock);
    for (unsigned i = 0; i < n; i++) {
        if (!claim(ready[i]))
            abort(); /* ws__loop_event said parked, and only this thread unparks */
        heap_remove(l, ready[i]);
    }
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
        if (!claim(out[n]))
            abort(); /* in the heap means parked */
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
    /* No edge bit: none can have been recorded since ws__loop_expire's claim cleared them. */
    atomic_store_explicit(&c->own, WS_OWN_PARKED, memory_order_release);
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
    for (unsigned i = 0; i < *n; i++) {
        heap_remove(l, out[i]);
        if (!claim(out[i]))
            abort(); /* in the heap means parked */
    }
    ws_mutex_unlock(&l->park_lock);
    if (out != NULL && *n == 0) {
        free(out);
        out = NULL;
    }
    return out;
}

void ws__loop_rearm(struct ws_loop *l, struct ws_conn *c)
{
    (void)arm(l, c, 1); /* failing, the record waits for its deadline */
}

void ws__loop_retire(struct ws_loop *l, struct ws_conn *c)
{
    struct ws_conn *head;

    if (!c->registered) {
        ws_conn_free(c); /* never in an epoll set: no edge can name it */
        return;
    }
    head = atomic_load_explicit(&l->graveyard, memory_order_relaxed);
    atomic_store_explicit(&c->own, WS_OWN_CLOSED, memory_order_release);
    do
        c->grave_next = head;
    while (!atomic_compare_exchange_weak_explicit(&l->graveyard, &head, c, memory_order_release,
                                                  memory_order_relaxed));
}

void ws__loop_reap(struct ws_loop *l)
{
    struct ws_conn *c = atomic_exchange_explicit(&l->graveyard, NULL, memory_order_acquire);

    while (c != NULL) {
        struct ws_conn *next = c->grave_next;
        /* ws_conn_close freed all it held, and grave_next shares h2's place: the bare record. */
        free(c);
        c = next;
    }
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
