/*
 * server/loop.h - one event thread's parking set: its epoll set, its eventfd,
 * its park lock, its deadline heap of parked connections and its graveyard
 * of closed records.
 *
 * DESIGN
 * The server runs one or more event threads (--event-threads); each owns one
 * struct ws_loop. A connection belongs to the loop of the event thread that
 * accepted it for its whole life (conn->loop, set at accept and then only
 * read): a worker always parks it back into that loop, so only that event
 * thread ever watches it, pushes it or judges its deadline.
 *
 * Registration. A connection's socket is added to its loop's epoll set once,
 * at its first park, edge-triggered (EPOLLET | EPOLLRDHUP and the directions
 * it has waited for, conn->armed; data.ptr = the record), and stays there
 * until it is closed. An edge park (below) does not call epoll_ctl: each
 * record has an atomic ownership word (conn->own) instead, which says who
 * owns it and which edges arrived while it was not parked:
 *
 *   WS_OWN_OWNED [| IN | OUT]  a worker, the ring or the event thread owns it;
 *                              IN / OUT: epoll reported that edge since the
 *                              owner's turn began (since the claim, or since
 *                              a park that found what it waits for);
 *   WS_OWN_PARKED              parked: in the heap, waiting for park_events;
 *   WS_OWN_CLOSED              closed, waiting in the graveyard to be freed.
 *
 * Transitions (compare-and-swap; a plain atomic store where no other thread
 * can be changing the word):
 *   OWNED -> OWNED | bits      the event thread, for an edge on a record it
 *                              does not find parked (ws__loop_event, no lock);
 *   OWNED -> PARKED            the owner, under the park lock, with the record
 *                              in the heap, when no bit it waits for is set;
 *   OWNED | wanted -> OWNED    the owner instead, under the park lock, when a
 *                              bit it waits for is set: not parked, the bits
 *                              cleared, and the owner goes on (WS_LOOP_READY);
 *   PARKED -> OWNED            the loop's thread alone, under the park lock,
 *                              taking it out of the heap: for an edge it
 *                              waits for (ws__loop_take), a deadline
 *                              (ws__loop_expire) or a drain (ws__loop_take_if);
 *   OWNED -> PARKED            the loop's thread, parking on a record whose
 *                              deadline was only a --min-rate window
 *                              (ws__loop_repark; no edge handled in between);
 *   OWNED -> CLOSED            the owner, after closing the socket
 *                              (ws__loop_retire).
 * An edge that arrives for a parked record that waits for something else is
 * ignored: every claim clears the bits, so only edges after the claim count.
 *
 * Why no wake-up is lost. A park is an edge park (c->park_edge) only when the
 * owner saw, after its turn began, the socket refuse what it waits for (a
 * read or write that would block, or a short read that emptied the receive
 * queue; over TLS, a read of OpenSSL's with nothing left in OpenSSL, conn.c's
 * input_edge). Readiness that comes after that refusal makes the
 * kernel queue an edge, which is after the turn began; when the event thread
 * handles it, either the word is still OWNED and the bit is set, so the
 * park's compare-and-swap fails and sees it, or the park came first and the
 * event thread finds it PARKED and claims it. Any other park is a level park:
 * it does what the one-shot re-arm did, an epoll_ctl (ADD the first time, MOD
 * after) for what it waits for alone with EPOLLONESHOT, which makes the kernel
 * look at the socket now and queue an edge if it is ready, done before the
 * word becomes PARKED; the one edge it gets is one it waits for, and the
 * socket stays quiet while a worker runs it. A one-shot arm leaves nothing an
 * edge park could rely on (conn->armed 0): the next edge park arms again, for
 * good.
 * Why none is doubled: only a PARKED record is pushed, only by the one event
 * thread that claims it, and it stops being PARKED in the same step; the next
 * push needs the owner to park it again. Why never two owners: OWNED is left
 * only by its owner (park, close), PARKED only by the loop's thread (claim).
 *
 * Memory safety. An epoll_wait may return an edge for a record that a worker
 * closes while the event thread has yet to look at it. A registered record is
 * therefore not freed by the thread that closes it: ws__loop_retire marks it
 * CLOSED (the event thread ignores edges for it) and pushes it on the loop's
 * graveyard, a lock-free list that the loop's thread frees at the top of its
 * next iteration (ws__loop_reap), before its next epoll_wait. Every record
 * there was closed before then, and close(2) removed it from the epoll set,
 * so no later epoll_wait can return it, and every earlier batch has been
 * handled. This relies on close(2) dropping the registration: a connection's
 * socket is never duplicated (no dup, no fork; SOCK_CLOEXEC).
 *
 * Locks: a loop's park lock guards its heap, each parked record's heap_index,
 * `stopped` and `wake_at`, and orders every change of a word from or to
 * PARKED. No other lock is taken while it is held (the park hook runs under
 * it and must take none), and no thread holds two loops' park locks at once.
 */
#ifndef WS_LOOP_H
#define WS_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct ws_conn;

/* The ownership word (conn->own): a state in the low bits, and edge bits. */
#define WS_OWN_PARKED 0u
#define WS_OWN_OWNED  1u
#define WS_OWN_CLOSED 2u
#define WS_OWN_STATE  3u
#define WS_OWN_IN     4u /* a readable edge (or a hang-up) since the turn began */
#define WS_OWN_OUT    8u /* a writable edge (or a hang-up) since the turn began */

/* ws__loop_park: not parked, what the connection waits for has come; the caller goes on. */
#define WS_LOOP_READY 1

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

    /* Closed registered records, linked by grave_next: any thread pushes, the loop's frees. */
    _Atomic(struct ws_conn *) graveyard;
};

/*
 * epoll data for a descriptor that is not a connection (listeners, eventfd,
 * signalfd, inotify): the descriptor, tagged odd. A connection's is its
 * record's address (data.ptr), which malloc's alignment makes even.
 */
static inline uint64_t ws__loop_fd_data(int fd)
{
    return ((uint64_t)(unsigned)fd << 1) | 1u;
}

/* The descriptor an event's data names, or -1 when it names a connection record. */
static inline int ws__loop_data_fd(uint64_t data)
{
    return (data & 1u) != 0 ? (int)(data >> 1) : -1;
}

/*
 * Sets up a loop that can hold `capacity` parked connections (the descriptor
 * limit): an epoll set, an eventfd (already in the set, level-triggered,
 * data ws__loop_fd_data(wake_fd)) and an empty heap. Returns 0 or -errno; on
 * failure ws__loop_destroy still frees what was set up.
 */
int ws__loop_init(struct ws_loop *l, unsigned index, unsigned capacity);

/*
 * Frees the loop and the records in its graveyard. No thread may use it any
 * more; parked records are not freed.
 */
void ws__loop_destroy(struct ws_loop *l);

/* Makes the loop's epoll_wait return. Any thread. */
void ws__loop_wake(struct ws_loop *l);

/* Reads the loop's eventfd after epoll reported it. The loop's thread. */
void ws__loop_clear_wake(struct ws_loop *l);

/*
 * Called by ws__loop_park with the park lock held, before the record is
 * parked: returns nonzero to refuse it (the caller then closes it), and may
 * change c->park_events (and must then clear c->park_edge: the wait is a
 * level one). Must not block or take a lock.
 */
typedef int (*ws_loop_park_hook)(void *ctx, struct ws_conn *c);

/*
 * Parks a connection the calling worker owns in loop l (which must be
 * c->loop), waiting for c->park_events until c->deadline_ms; see the DESIGN
 * note. Under the park lock: asks hook (if any), inserts the record in the
 * heap, registers c->fd the first time (c->registered then set) or, for a
 * level park (c->park_edge 0), makes the kernel look at it now (EPOLL_CTL_MOD),
 * and moves the word from OWNED to PARKED unless an edge it waits for came
 * during the turn. Wakes the loop if the deadline is earlier than its next
 * wake-up. Returns 0 (ownership passed to the loop), WS_LOOP_READY (not
 * parked, the edge bits cleared: the caller still owns it, and runs it again
 * or requeues it), -ESHUTDOWN (stopped, or refused by the hook) or -errno
 * from epoll_ctl; on failure the caller still owns the record and closes it.
 */
int ws__loop_park(struct ws_loop *l, struct ws_conn *c, ws_loop_park_hook hook, void *ctx);

/*
 * Handles an edge epoll reported for record c with `events`, without a lock:
 * records it in the word of a record that is not parked (ignored if closed),
 * ignores it for a parked record that waits for something else, and returns
 * 1 when c is parked and waits for it: the caller then claims it with
 * ws__loop_take in the same iteration. The loop's thread.
 */
int ws__loop_event(struct ws_loop *l, struct ws_conn *c, uint32_t events);

/*
 * Claims the n records ws__loop_event said are ready: under the park lock,
 * each goes from PARKED to OWNED and out of the heap; the calling event
 * thread owns them from now on. The loop's thread.
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
 * Parks again a record ws__loop_expire has just given its thread (a
 * --min-rate window passed and the client kept up), with no event handled in
 * between: only the heap insert, by its new deadline_ms, and the word back to
 * PARKED (what it waits for has not come, or it would have been claimed).
 * Returns the loop's new wake-up time. The loop's thread.
 */
int64_t ws__loop_repark(struct ws_loop *l, struct ws_conn *c);

/*
 * Takes out of the heap every record for which pick(ctx, c) says 1 (every
 * record when pick is NULL) and returns them in a malloc'd array of *n (the
 * caller owns them and frees the array; NULL when none, or out of memory).
 * pick runs under the park lock; a record it keeps but whose park_events it
 * changes must be looked at again by the kernel (ws__loop_rearm). With stop,
 * also sets `stopped` first: from then on every park is refused. The loop's
 * thread, or any thread once it has ended.
 */
struct ws_conn **ws__loop_take_if(struct ws_loop *l, int (*pick)(void *ctx, struct ws_conn *c),
                                  void *ctx, int stop, unsigned *n);

/*
 * Makes the kernel look at a parked record's socket now and queue an edge if
 * it is ready (EPOLL_CTL_MOD with the same events): for a record whose
 * park_events was changed while parked. Under the park lock (a take_if pick).
 */
void ws__loop_rearm(struct ws_loop *l, struct ws_conn *c);

/*
 * Gives up a record the caller owned and has closed (ws_conn_close: its
 * socket and all it held are gone; only the bare record is left): a record
 * never registered is freed now; a registered one is marked CLOSED and freed
 * by the loop's thread (ws__loop_reap). Any thread.
 */
void ws__loop_retire(struct ws_loop *l, struct ws_conn *c);

/*
 * Frees the records retired so far: the loop's thread, at the top of an
 * iteration, before it waits (see the DESIGN note).
 */
void ws__loop_reap(struct ws_loop *l);

/* How many connections are parked now (takes the park lock). Any thread. */
unsigned ws__loop_parked(struct ws_loop *l);

/* Sets the time by which the loop's epoll_wait returns at the latest. The loop's thread. */
void ws__loop_set_wake_at(struct ws_loop *l, int64_t when);

#endif
