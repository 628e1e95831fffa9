/*
 * server/server.h - the server: listening sockets, the event thread, the ring, the workers.
 *
 * DESIGN
 * The thread that calls ws_server_run becomes event thread 0; with
 * cfg->event_threads > 1 it starts the others (server.c's DESIGN says how they
 * share the work). An event thread owns its listening sockets and its parking
 * set (loop.h: one epoll set, an eventfd, the deadline heap of parked
 * connections); thread 0 also reads the signalfd. It accepts connections and pushes their
 * descriptors into the ring (struct ws_fdqueue); the workers (struct ws_pool)
 * pop them and run each connection (ws_conn_run) until it would block, then
 * park it: put it in the deadline heap and mark it parked in its ownership
 * word (its socket stays in the epoll set, edge-triggered; loop.h).
 * When epoll reports a parked connection ready, the event thread takes it out
 * of the heap and pushes it into the ring again. Deadlines that pass close the
 * connection on the event thread, but for the end of a --min-rate window that
 * the client kept up with, which parks it on with the next window's deadline
 * (ws_conn_deadline_passed).
 *
 * Locks: the ring has its own mutex (fdqueue.h); the park lock guards the
 * deadline heap, each parked connection's heap slot and the "stopped" flag, and
 * is held across the epoll_ctl that re-arms a connection, so the event thread
 * can never see a connection half-parked. The log has the print lock. No thread
 * ever holds two of these at once, so there is no lock order to get wrong.
 *
 * Shutdown (SIGINT or SIGTERM, read from the signalfd): close the listeners,
 * close idle parked connections, let every response in flight finish within the
 * grace period (a second signal cuts it short), then mark the park lock
 * "stopped" (a worker that would park closes instead), close what is still
 * parked, close the ring, join every worker and return. ws_server_destroy frees
 * the rest.
 */
#ifndef WS_SERVER_H
#define WS_SERVER_H

#include "server/config.h"

#include <signal.h>

struct ws_server;
struct ws_log;

/* What main opened and loaded for the server; the server owns it from ws_server_create on. */
struct ws_server_resources {
    int root_fd;                       /* the document root directory */
    int error_pages_fd;                /* the --error-pages directory, or -1 */
    struct ws_mime_map *mime;          /* --mime-types entries, or NULL */
    struct ws_auth *auth;              /* --auth-file's table (auth.h), or NULL */
    const struct passwd *socket_owner; /* --user: the --listen socket files become its */
};

/*
 * Creates the listening sockets for cfg but starts no thread. Takes over res
 * (even on failure). On failure returns NULL and writes one line saying why
 * into err (err_size bytes).
 * Signals SIGINT, SIGTERM, SIGHUP and SIGUSR1 must already be blocked in the
 * calling thread (main does this before any thread exists), and SIGPIPE ignored.
 */
struct ws_server *ws_server_create(const struct ws_config *cfg,
                                   const struct ws_server_resources *res, struct ws_log *log,
                                   char *err, size_t err_size);

/* The port of the first listening socket (useful with --port 0). */
int ws_server_port(const struct ws_server *s);

/*
 * Starts the workers and runs the event loop on the calling thread until a
 * shutdown signal has been handled and every thread joined. Returns 0, or
 * -errno if the server could not start.
 */
int ws_server_run(struct ws_server *s);

/*
 * Fills *set with the signals the server handles through its signalfd:
 * SIGINT, SIGTERM (shutdown), SIGHUP and SIGUSR1. main blocks this set before
 * any thread exists, and ws_server_create reads it from the signalfd.
 */
void ws_server_signal_set(sigset_t *set);

/* Frees everything the server owns. After ws_server_run returned, or instead of it. */
void ws_server_destroy(struct ws_server *s);

#endif
