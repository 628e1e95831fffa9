/*
 * server/loop.h - one event thread's parking set: its epoll set, its eventfd,
 * its park lock and its deadline heap of parked connections.
 *
 * DESIGN
 * The server runs one or more event threads (--event-threads); each owns one
 * struct ws_loop. A connection belongs to the loop of the event thread that
 * accepted it for its whole life (conn->loop, set at accept and then only
 * read): a worker always parks it back into that loop, so only that event
 * thread ever watches it, pushes it or judges its deadline.
 *
 * Ownership hand-overs through a loop (the rule itself is in conn.h):
 *   worker -> parked        ws__loop_park: the park lock is held across the
 *                           heap insert and the one-shot epoll re-arm, so the
 *                           loop's thread never sees a half-parked record;
 *   parked -> event thread  ws__loop_take / ws__loop_expire: the park lock is
 *                           taken to remove the record from the heap before
 *                           the event thread touches it.
 * EPOLLONESHOT makes a parked descriptor report once and then stay disarmed
 * until it is parked again, so a connection is never pushed twice.
 *
 * Locks: a loop's park lock guards its heap, each parked record's heap_index,
 * `stopped` and `wake_at`. No other lock is taken while it is held (the park
 * hook runs under it and must take none), and no thread holds two loops'
 * park locks at once.
 */
#ifndef WS_LOOP_H
#define WS_LOOP_H

#include <pthread.h>
#include <stdint.h>

struct ws_conn;

struct ws_loop {
    unsigned index; /* 0 .. event threads - 1; index 0 runs on main's thread */
    int epoll_fd;
    int wake_fd; /* eventfd: makes the loop's epoll_wait return */

    /* Guarded by park_lock. */
    pthread_mutex_t park_lock;
    struct ws_conn **heap; /* min-heap of parked connections by deadline_ms */
    unsigned heap_len;
    unsigned heap_cap;
    int stopped;     /* no more parking: ws__loop_park refuses */
    int64_t wake_at; /* the loop's epoll_wait returns by then at the latest */
};

/*
 * Sets up a loop that can hold `capacity` parked connections (the descriptor
 * limit): an epoll set, an eventfd (already in the set, level-triggered,
 * data.fd = wake_fd) and an empty heap. Returns 0 or -errno; on failure
 * ws__loop_destroy still frees what was set up.
 */
int ws__loop_init(struct ws_loop *l, unsigned index, unsigned capacity);

/* Frees the loop. No thread may use it any more; parked records are not freed. */
void ws__loop_destroy(struct ws_loop *l);

/* Makes the loop's epoll_wait return. Any thread. */
void ws__loop_wake(struct ws_loop *l);

/* Reads the loop's eventfd after epoll reported it. The loop's thread. */
void ws__loop_clear_wake(struct ws_loop *l);

/*
 * Called by ws__loop_park with the park lock held, before the record is
 * parked: returns nonzero to refuse it (the caller then closes it), and may
 * change c->park_events. Must not block or take a lock.
 */
typedef int (*ws_loop_park_hook)(void *ctx, struct ws_conn *c);

/*
 * Parks a connection the calling worker owns in loop l (which must be
 * c->loop): under the park lock, asks hook (if any), inserts the record in the
 * heap by c->deadline_ms and re-arms c->fd for c->park_events | EPOLLONESHOT
 * (added the first time, c->registered then set). Wakes the loop if the
 * deadline is earlier than its next wake-up. Returns 0 (ownership passed to
 * the loop), -ESHUTDOWN (stopped, or refused by the hook) or -errno from
 * epoll_ctl; on failure the caller still owns the record and closes it.
 */
int ws__loop_park(struct ws_loop *l, struct ws_conn *c, ws_loop_park_hook hook, void *ctx);

/*
 * Takes the n records that epoll reported ready out of the heap: the calling
 * event thread owns them from now on. The loop's thread.
 */
void ws__loop_take(struct ws_loop *l, struct ws_conn *const *ready, unsigned n);

/*
 * Takes up to max records whose deadline is at or before now out of the heap
 * into out[] (the caller owns them) and returns how many; *wait_ms becomes the
 * time to the next deadline (0 to 1000; 0 if more have passed than max). The
 * loop's thread.
 */
unsigned ws__loop_expire(struct ws_loop *l, int64_t now, struct ws_conn **out, unsigned max,
                         int *wait_ms);

/*
 * Parks again a record the event thread owns and that is still armed in the
 * epoll set (a --min-rate window passed and the client kept up): only the heap
 * insert, by its new deadline_ms. Returns the loop's new wake-up time. The
 * loop's thread.
 */
int64_t ws__loop_repark(struct ws_loop *l, struct ws_conn *c);

/*
 * Takes out of the heap every record for which pick(ctx, c) says 1 (every
 * record when pick is NULL) and returns them in a malloc'd array of *n (the
 * caller owns them and frees the array; NULL when none, or out of memory).
 * pick runs under the park lock and may re-arm a record it keeps (epoll_ctl
 * on l->epoll_fd). With stop, also sets `stopped` first: from then on every
 * park is refused. The loop's thread, or any thread once it has ended.
 */
struct ws_conn **ws__loop_take_if(struct ws_loop *l, int (*pick)(void *ctx, struct ws_conn *c),
                                  void *ctx, int stop, unsigned *n);

/* How many connections are parked now (takes the park lock). Any thread. */
unsigned ws__loop_parked(struct ws_loop *l);

/* Sets the time by which the loop's epoll_wait returns at the latest. The loop's thread. */
void ws__loop_set_wake_at(struct ws_loop *l, int64_t when);

#endif
