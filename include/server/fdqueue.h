/*
 * server/fdqueue.h - the bounded ring buffer of socket descriptors that links the
 * event thread to the workers.
 *
 * DESIGN
 * A fixed-capacity FIFO of descriptors guarded by one mutex and two condition
 * variables, not_empty (poppers wait on it) and not_full (pushers wait on it).
 * Waiters always re-check their condition in a while loop, so spurious wake-ups
 * and stolen items are harmless. Closing the queue wakes every waiter: pushers
 * fail at once, poppers drain what is left and then fail. No other lock is ever
 * taken while the queue's mutex is held.
 *
 * Ownership: pushing a descriptor hands its connection to the queue; the thread
 * whose pop returns it owns it next. The queue never closes descriptors.
 */
#ifndef WS_FDQUEUE_H
#define WS_FDQUEUE_H

struct ws_fdqueue;

struct ws_fdqueue_stats {
    unsigned capacity;
    unsigned length;     /* descriptors queued now */
    unsigned high_water; /* the longest the queue has been */
    unsigned waiting;    /* poppers asleep, waiting for a descriptor */
};

/* A queue of `capacity` (>= 1) slots, or NULL with errno set. */
struct ws_fdqueue *ws_fdqueue_create(unsigned capacity);

/* Frees the queue. No thread may be using it any more. */
void ws_fdqueue_destroy(struct ws_fdqueue *q);

/* Appends fd, blocking while the queue is full. 0, or -EPIPE once closed. */
int ws_fdqueue_push(struct ws_fdqueue *q, int fd);

/*
 * Appends fds[0..n) in order under one lock, blocking while the queue is full.
 * Returns how many were appended: n, or fewer if the queue was closed.
 */
int ws_fdqueue_push_many(struct ws_fdqueue *q, const int *fds, unsigned n);

/*
 * Tells the queue how many threads pop from it. From then on a push wakes a
 * sleeping popper only while more descriptors are queued than poppers are
 * awake, instead of on every push: an awake popper takes the next descriptor
 * without sleeping, and waking more threads than there is work for only costs
 * context switches. Without it (0, the default) every push wakes a popper.
 */
void ws_fdqueue_set_consumers(struct ws_fdqueue *q, unsigned consumers);

/*
 * Also caps the poppers woken for queued work at max_awake (0: no cap), which
 * the server sets to the CPUs it may run on: more running workers than CPUs
 * only take turns, at the price of a context switch each. A popper that stalls
 * (a slow disk read) is covered by ws_fdqueue_kick.
 */
void ws_fdqueue_set_max_awake(struct ws_fdqueue *q, unsigned max_awake);

/*
 * Wakes one more sleeping popper if descriptors are queued and none has been
 * popped since the caller's last look (*pops, updated here): the awake poppers
 * are stuck, so the cap of ws_fdqueue_set_max_awake must not leave work
 * waiting. Returns the queue's length.
 */
unsigned ws_fdqueue_kick(struct ws_fdqueue *q, unsigned long long *pops);

/*
 * Appends as many of fds[0..n) as fit, in order, without blocking. Returns how
 * many were appended (0 once closed).
 */
unsigned ws_fdqueue_try_push_many(struct ws_fdqueue *q, const int *fds, unsigned n);

/* Appends fd without blocking. 0, -EAGAIN when full, or -EPIPE once closed. */
int ws_fdqueue_try_push(struct ws_fdqueue *q, int fd);

/*
 * Removes the oldest descriptor into *fd, blocking while the queue is empty and
 * open. 0, or -EPIPE when the queue is closed and empty.
 */
int ws_fdqueue_pop(struct ws_fdqueue *q, int *fd);

/*
 * Removes the oldest descriptor into *fd without blocking. 0, -EAGAIN when the
 * queue is empty but open, or -EPIPE when it is closed and empty.
 */
int ws_fdqueue_try_pop(struct ws_fdqueue *q, int *fd);

/* Closes the queue and wakes every blocked pusher and popper. Idempotent. */
void ws_fdqueue_close(struct ws_fdqueue *q);

/* A consistent snapshot of the queue's counters. */
void ws_fdqueue_stats(struct ws_fdqueue *q, struct ws_fdqueue_stats *out);

/* The ring lock's use by pushes and by pops (measurement builds only, WS_RING_LOCKSTAT). */
enum { WS_RING_PUSH = 0, WS_RING_POP = 1 };
struct ws_fdqueue_lockstat {
    unsigned long long ops;       /* lock acquisitions */
    unsigned long long contended; /* ... that found it taken */
    unsigned long long wait_ns;   /* time spent waiting for it when taken */
    unsigned long long hold_ns;   /* time held (condition waits excluded) */
};

/*
 * Copies the counters of pushes (out[WS_RING_PUSH]) and pops (out[WS_RING_POP])
 * and returns 1 in a build with -DWS_RING_LOCKSTAT=ON; returns 0 otherwise.
 */
int ws_fdqueue_lockstat(struct ws_fdqueue *q, struct ws_fdqueue_lockstat out[2]);

#endif
