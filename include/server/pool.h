/*
 * server/pool.h - the fixed set of worker threads that serve connections from the ring.
 *
 * DESIGN
 * Each worker loops: pop a descriptor from the fdqueue, hand it to the serve
 * callback, repeat; when the queue is empty it calls the idle callback, then
 * blocks in pop until there is work. The pool never cancels a
 * thread: it stops when the queue is closed and drained, and ws_pool_join then
 * joins every worker. Workers are named "ws-worker-N" for debuggers and top.
 */
#ifndef WS_POOL_H
#define WS_POOL_H

struct ws_fdqueue;
struct ws_pool;

/*
 * Called on a worker thread with a descriptor it now owns; `worker` is the
 * worker's index in [0, threads), for per-worker scratch memory.
 */
typedef void (*ws_pool_serve_fn)(void *arg, unsigned worker, int fd);

/*
 * Called on a worker thread when it finds the queue empty and is about to
 * sleep, and once more before it returns: the moment to write out what it
 * buffered (its access log lines).
 */
typedef void (*ws_pool_idle_fn)(void *arg, unsigned worker);

/*
 * Starts `threads` workers popping from q. Returns NULL with errno set if a
 * thread cannot be created; the queue is then closed and the workers already
 * started are joined before returning.
 */
struct ws_pool *ws_pool_start(unsigned threads, struct ws_fdqueue *q, ws_pool_serve_fn serve,
                              ws_pool_idle_fn idle, void *arg);

/* Waits for every worker to return (the queue must be closed), then frees the pool. */
void ws_pool_join(struct ws_pool *p);

#endif
