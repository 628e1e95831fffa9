/*
 * server/server.c - the event thread, parking, deadlines and shutdown; see server.h.
 *
 * DESIGN
 * Threads: --event-threads event threads and cfg->threads workers. Event
 * thread 0 is the caller of ws_server_run; the others (ws-event-N) are
 * started by it. Each event thread owns one parking set (struct ws_loop:
 * epoll set, eventfd, park lock, deadline heap; loop.h) and its own
 * listeners: thread 0 the sockets create_listeners opened (the --listen Unix
 * sockets and socket-activated ones only ever there), every other thread an
 * SO_REUSEPORT twin of each TCP listener, so the kernel spreads new
 * connections over them. All push into the one ring. A connection stays with
 * the loop that accepted it (conn->loop): workers park it back there.
 * A worker finds the record of a descriptor popped from the ring through
 * s->conns, an array indexed by descriptor with atomic slots: the event thread
 * fills a slot when it accepts, the closing owner clears it before close(2).
 * The epoll sets name records themselves (data.ptr), not descriptors.
 *
 * Ownership hand-overs and what orders them:
 *   event thread -> ring -> worker   the ring's mutex (push, pop);
 *   worker -> parked                 the connection's ownership word, moved
 *                                    to PARKED under the loop's park lock;
 *   parked -> event thread           the word moved back to OWNED under the
 *                                    park lock, before the event thread
 *                                    touches a connection it was told is
 *                                    ready or whose deadline passed.
 * Sockets stay in their loop's epoll set, edge-triggered, from the first park
 * to the close; the word (loop.h's DESIGN) makes sure that an edge that comes
 * while a worker owns the connection is neither lost nor pushes it twice:
 * the worker's park finds it and the worker goes on (serve_fd).
 *
 * Thread 0 alone reads the signalfd, writes the close-reason lines and decides
 * when the server stops: on SIGTERM it sets `draining` and wakes the other
 * loops, each of which then closes its own listeners and idle connections
 * (begin_drain); when the last connection is gone or the grace has passed it
 * sets `stopping`, wakes them, and joins them before it stops parking in
 * every loop and closes the ring.
 *
 * The file cache's watch (watch.h) is synced after each epoll_wait that
 * reports readable connections and before they are pushed, so their workers
 * may trust its epoch for the request that was waiting (conn->synced). Its
 * inotify descriptor is in every loop's epoll set (level-triggered): when that
 * epoll_wait did not report it (and did not fill its batch), nothing was
 * queued, and the sync only takes the watch's lock (ws_watch_sync_if) instead
 * of reading. A change wakes every loop; one of them drains the descriptor.
 */
#include "server/server.h"

#include "server/auth.h"
#include "server/conn.h"
#include "server/fdqueue.h"
#include "server/compress.h"
#include "server/file_cache.h"
#include "server/h2.h"
#include "server/log.h"
#include "server/loop.h"
#include "http/mime.h"
#include "server/pool.h"
#include "http/head.h"
#include "server/static_file.h"
#include "server/sync.h"
#include "server/tls.h"
#include "server/watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LISTENERS 8
/* --event-threads by default: one per this many CPUs (see default_event_threads)... */
#define CPUS_PER_EVENT_THREAD 4
/* ... and at most this many. */
#define DEFAULT_EVENT_THREADS_MAX 16
#define EVENT_BATCH               256
#define ACCEPT_BATCH              64
/* Unsent bytes a connection's socket holds before it stops taking more (TCP_NOTSENT_LOWAT). */
#define NOTSENT_LOWAT (128 * 1024)
/* How long accepting pauses when the process or system is out of descriptors. */
#define ACCEPT_BACKOFF_MS 100
/* How long queued descriptors may wait without any being popped before another worker is woken. */
#define STALL_CHECK_MS 5
/* Small files each worker keeps in memory (revalidated on every use: watch.h, file_cache.h). */
#define FILE_CACHE_SLOTS 128
/* Compressed files each worker keeps (compress.h): results, and the bytes they may take. */
#define COMPRESS_CACHE_SLOTS  256
#define COMPRESS_CACHE_BUDGET (4u * 1024 * 1024)
/* Compressed results shared by the workers: the second level of their caches, and the only
 * home of large files' results (compress.h). */
#define COMPRESS_STORE_SLOTS 16384
/* inotify watches the server may place (files and directories); past them, cached files are
 * stat-checked. */
#define MAX_WATCHES 8192
/* Linger (drain input after an error response) at most this long. */
#define LINGER_TIMEOUT_MS 2000
/* --min-rate is judged over windows this long; the first is the grace period. */
#define RATE_WINDOW_MS 5000
/* A reason for closing connections early is logged at most once in this long. */
#define CLOSE_LOG_INTERVAL_MS 60000

/* One event thread: its parking set and its listeners. */
struct ev_thread {
    struct ws_loop loop; /* first: conn->loop leads back here */
    struct ws_server *s;
    pthread_t thread; /* threads 1.. only */
    int started;
    int listeners[MAX_LISTENERS];
    uint8_t listener_tls[MAX_LISTENERS]; /* listeners[i] speaks TLS */
    unsigned n_listeners;

    /* This event thread's alone. */
    int64_t accept_paused_until; /* 0 when accepting */
    int64_t last_emfile_log;
    int64_t last_kick_ms; /* stall watchdog, see kick_due */
    unsigned long long pops_at_kick;
    unsigned queued_at_kick;
    int drained; /* begin_drain has run here */
};

struct ws_server {
    struct ws_config cfg;
    struct ws_log *log;
    int root_fd;
    int error_pages_fd;
    struct ws_mime_map *mime;
    struct ws_auth *auth;   /* --auth-file's table, or NULL */
    struct ws_watch *watch; /* or NULL: cached files are stat-checked on every use */
    struct ev_thread *evs;  /* the event threads; evs[0] runs on ws_server_run's caller */
    unsigned n_evs;
    unsigned n_loops; /* evs[0 .. n_loops) have their loop set up */
    char
        listen_text[512]; /* "[::]:6789 https:[::]:6790 unix:/run/ws.sock", for the start-up line */
    /* The --listen socket files this process bound: removed at exit if still theirs. */
    struct {
        char path[WS_UNIX_PATH_MAX];
        dev_t dev;
        ino_t ino;
    } unix_files[WS_MAX_UNIX_LISTEN];
    unsigned n_unix_files;
    int activated;      /* the listeners came from systemd (adopt_activated) */
    int port;           /* of the first cleartext listener */
    int tls_port;       /* of the first TLS listener */
    struct ws_tls *tls; /* with --tls-cert, else NULL */

    int signal_fd; /* in evs[0]'s epoll set */

    struct ws_fdqueue *queue;
    struct ws_pool *pool;
    struct ws_worker_buf *bufs; /* one per worker */
    struct ws_compress_store
        *zstore; /* compressed results the workers share; NULL without --compress */
    struct ws_conn_env env;

    _Atomic(struct ws_conn *) *conns; /* by descriptor */
    unsigned max_fds;
    atomic_int live; /* connections open */
    atomic_int draining;
    atomic_int stopping; /* set by event thread 0: the other event threads return */

    /* Event thread 0 only. */
    int64_t drain_deadline;
    int signals_seen;
    unsigned long closes_logged[WS_CLOSE_REASONS]; /* closes[r] when r was last logged */
    int64_t close_log_at[WS_CLOSE_REASONS];        /* ... and when */

    /* Any thread (written by the event thread alone but refused: read by --metrics). */
    atomic_ullong refused;                 /* new connections answered 503 */
    atomic_ulong closes[WS_CLOSE_REASONS]; /* early closes by reason (conn.h) */
    atomic_ulong h2_counts[WS_H2_COUNTS];  /* HTTP/2 counters (h2.h) */
};

/* --- connection lifetime --------------------------------------------------- */

/*
 * Closes a connection its caller owns, and frees its record (or has its event
 * thread free it, once no event can name it: loop.h). Any thread.
 */
static void release_conn(struct ws_server *s, struct ws_conn *c)
{
    atomic_store_explicit(&s->conns[c->fd], NULL, memory_order_relaxed);
    ws_conn_close(c);
    ws__loop_retire(c->loop, c);
    /* While draining, event thread 0 waits for the last connection to go. */
    if (atomic_fetch_sub(&s->live, 1) == 1 && atomic_load(&s->draining))
        ws__loop_wake(&s->evs[0].loop);
}

/*
 * ws__loop_park's hook, under the park lock. Once draining, only responses in
 * flight (and lingering closes) may wait; a connection that would wait for a
 * request (new, idle, or half-sent) goes now, as begin_drain closed those that
 * were parked when the drain began.
 */
static int refuse_park(void *ctx, struct ws_conn *c)
{
    struct ws_server *s = ctx;

    if (!atomic_load_explicit(&s->draining, memory_order_relaxed))
        return 0;
    if (!ws_conn_in_flight(c))
        return 1;
    if (c->phase == WS_PHASE_H2 && !ws_h2_told_to_go(c->h2)) {
        c->park_events = EPOLLOUT; /* the drain began during its turn: back for the GOAWAY */
        c->park_edge = 0;          /* writable at once, probably: no edge would say so */
    }
    return 0;
}

/*
 * Parks a connection the calling worker owns; ownership passes to its event
 * thread. Returns 1 when the worker still owns it: what it waits for came
 * during the turn (WS_LOOP_READY), so it must run again.
 */
static int park_conn(struct ws_server *s, struct ws_conn *c)
{
    int rc = ws__loop_park(c->loop, c, refuse_park, s);

    if (rc == WS_LOOP_READY)
        return 1;
    if (rc == -ESHUTDOWN) {
        ws_h2_goaway_now(c); /* an idle HTTP/2 connection is told why it closes */
        release_conn(s, c);
    } else if (rc < 0) {
        ws_log_error(s->log, "epoll_ctl: %s", strerror(-rc));
        release_conn(s, c);
    }
    return 0;
}

/*
 * The worker side: run a connection popped from the ring. When its park finds
 * that what it waits for has come (an edge during the turn), the worker runs
 * it again at once, up to GO_ON_MAX times; after that, or when the park was a
 * yield (a level park: the turn's budget ran out, or TLS or HTTP/2 asked to
 * come back), it goes to the back of the ring, as it would have through the
 * event thread, unless the ring is full.
 */
#define GO_ON_MAX 2
static void serve_fd(void *arg, unsigned worker, int fd)
{
    struct ws_server *s = arg;
    struct ws_conn *c = atomic_load_explicit(&s->conns[fd], memory_order_relaxed);

    c->turn_wait_us = ws_now_us() - c->queued_us;
    for (unsigned again = 0;; again++) {
        if (ws_conn_run(c, &s->env, &s->bufs[worker]) != WS_CONN_PARK) {
            release_conn(s, c);
            return;
        }
        if (!park_conn(s, c))
            return;
        if (again >= GO_ON_MAX || !c->park_edge) {
            c->queued_us = ws_now_us(); /* before the push: then it is the ring's */
            if (ws_fdqueue_try_push(s->queue, fd) == 0)
                return;
        }
        c->turn_wait_us = 0;
    }
}

/* The worker side: about to sleep, so write out the access lines it collected. */
static void worker_idle(void *arg, unsigned worker)
{
    struct ws_server *s = arg;
    ws_log_flush(s->log, &s->bufs[worker].log_buffer);
}

/* --- the event thread ------------------------------------------------------- */

static const char busy_response[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                    "Server: " WS_SERVER_NAME "\r\n"
                                    "Retry-After: 1\r\n"
                                    "Content-Type: text/plain; charset=utf-8\r\n"
                                    "Content-Length: 20\r\n"
                                    "Connection: close\r\n"
                                    "\r\n"
                                    "Server is too busy.\n";

/*
 * Turns a new connection away because the ring is full: a best-effort 503 that
 * never blocks the event thread, then a close that does not reset the
 * connection while the request is still unread (which could destroy the 503).
 */
static void refuse_busy(int fd)
{
    char sink[4096];

    if (send(fd, busy_response, sizeof(busy_response) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
        shutdown(fd, SHUT_WR);
        for (int i = 0; i < 4 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
            ;
    }
    close(fd);
}

static void pause_accepting(struct ev_thread *ev, int64_t now, int err)
{
    for (unsigned i = 0; i < ev->n_listeners; i++)
        epoll_ctl(ev->loop.epoll_fd, EPOLL_CTL_DEL, ev->listeners[i], NULL);
    ev->accept_paused_until = now + ACCEPT_BACKOFF_MS;
    if (now - ev->last_emfile_log >= 1000) {
        ws_log_error(ev->s->log, "accept: %s; pausing new connections for %d ms", strerror(err),
                     ACCEPT_BACKOFF_MS);
        ev->last_emfile_log = now;
    }
}

static void resume_accepting(struct ev_thread *ev)
{
    for (unsigned i = 0; i < ev->n_listeners; i++) {
        struct epoll_event e = { .events = EPOLLIN,
                                 .data.u64 = ws__loop_fd_data(ev->listeners[i]) };
        epoll_ctl(ev->loop.epoll_fd, EPOLL_CTL_ADD, ev->listeners[i], &e);
    }
    ev->accept_paused_until = 0;
}

static void accept_batch(struct ev_thread *ev, int lfd, int tls, int64_t now)
{
    struct ws_server *s = ev->s;
    int fds[ACCEPT_BATCH];
    unsigned n = 0, pushed;
    int64_t now_us = ws_now_us();

    while (n < ACCEPT_BATCH) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        struct ws_conn *c;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(ev, now, errno);
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                ws_log_error(s->log, "accept: %s", strerror(errno));
            break;
        }
        if ((unsigned)fd >= s->max_fds) {
            close(fd);
            continue;
        }
        c = ws_conn_new(fd, (struct sockaddr *)&ss, now);
        if (c != NULL && tls && (c->tls = ws_tls_session(s->tls, fd)) == NULL) {
            ws_conn_free(c); /* closes fd */
            continue;
        }
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->loop = &ev->loop;
        atomic_store_explicit(&s->conns[fd], c, memory_order_relaxed);
        atomic_fetch_add(&s->live, 1);
        c->queued_us = now_us;
        fds[n++] = fd;
    }

    /* Straight to the workers: most new connections already hold their request. */
    pushed = n > 0 ? ws_fdqueue_try_push_many(s->queue, fds, n) : 0;
    for (unsigned i = pushed; i < n; i++) {
        /* The ring is full: turn the rest away now rather than queue without bound. */
        struct ws_conn *c = atomic_load_explicit(&s->conns[fds[i]], memory_order_relaxed);
        atomic_store_explicit(&s->conns[fds[i]], NULL, memory_order_relaxed);
        atomic_fetch_sub(&s->live, 1);
        c->fd = -1; /* the record goes; the socket is refused below */
        ws_conn_free(c);
        if (tls)
            close(fds[i]); /* no 503 in the clear on a TLS port, and no handshake to spare */
        else
            refuse_busy(fds[i]);
        atomic_fetch_add_explicit(&s->refused, 1, memory_order_relaxed);
    }
}

/* Hands parked connections that epoll reported ready to the workers. */
static void dispatch_ready(struct ev_thread *ev, struct ws_conn **ready, unsigned n, int64_t now,
                           int watch_pending)
{
    struct ws_server *s = ev->s;
    int fds[EVENT_BATCH];
    unsigned n_fds = 0, pushed;
    int64_t now_us = ws_now_us();
    int synced = 0;

    ws__loop_take(&ev->loop, ready, n);

    for (unsigned i = 0; i < n; i++) {
        if (ready[i]->deadline_ms <= now && ws_conn_deadline_passed(ready[i], &s->env, now) == 0) {
            /* Ready, but too late: the deadline passed while it was parked. */
            release_conn(s, ready[i]);
            continue;
        }
        ready[i]->queued_us = now_us;
        if (ready[i]->park_events == EPOLLIN && s->watch != NULL) {
            /*
             * Input arrived before epoll_wait returned, so a sync now counts
             * every file change made before the request was sent: its worker
             * can trust the epoch without a sync of its own (watch.h).
             */
            if (!synced)
                ws_watch_sync_if(s->watch, watch_pending);
            synced = 1;
            ready[i]->synced = 1;
        }
        fds[n_fds++] = ready[i]->fd;
    }
    /* One lock for the batch; blocks only while every worker is busy and the ring is full. */
    pushed = n_fds > 0 ? (unsigned)ws_fdqueue_push_many(s->queue, fds, n_fds) : 0;
    for (unsigned i = pushed; i < n_fds; i++)
        release_conn(s, atomic_load_explicit(&s->conns[fds[i]], memory_order_relaxed));
}

/* Closes parked connections whose deadline has passed. Returns ms to the next one. */
static int expire_deadlines(struct ev_thread *ev, int64_t now)
{
    struct ws_server *s = ev->s;
    struct ws_conn *expired[EVENT_BATCH];
    int wait_ms;
    unsigned n = ws__loop_expire(&ev->loop, now, expired, EVENT_BATCH, &wait_ms);

    for (unsigned i = 0; i < n; i++) {
        int64_t next = ws_conn_deadline_passed(expired[i], &s->env, now);
        int64_t wake_at;
        if (next == 0) {
            release_conn(s, expired[i]);
            continue;
        }
        /* A --min-rate window passed and the client kept up, or a TLS session's 2 s
         * keep period ended (its buffers are freed now): parked on (conn.h). */
        wake_at = ws__loop_repark(&ev->loop, expired[i]);
        if (wake_at - now < wait_ms)
            wait_ms = wake_at - now < 0 ? 0 : (int)(wake_at - now);
    }
    return wait_ms;
}

/* begin_drain's choice, under the park lock: what is not in flight goes now. */
static int pick_idle(void *ctx, struct ws_conn *c)
{
    struct ev_thread *ev = ctx;

    if (!ws_conn_in_flight(c))
        return 1;
    if (c->phase == WS_PHASE_H2 && c->park_events == EPOLLIN) {
        /* HTTP/2 streams waiting for input (a window): wake them now, so that
         * a worker sends the GOAWAY (it is writable at once, which only the
         * kernel's fresh look reports: no edge would). */
        c->park_events = EPOLLOUT;
        ws__loop_rearm(&ev->loop, c);
    }
    return 0;
}

/* Shutdown, step 1, in each event thread: stop accepting and close what is idle. */
static void begin_drain(struct ev_thread *ev)
{
    struct ws_server *s = ev->s;
    struct ws_conn **idle;
    unsigned n;

    ev->drained = 1;
    for (unsigned i = 0; i < ev->n_listeners; i++)
        close(ev->listeners[i]); /* also leaves the epoll set */
    ev->n_listeners = 0;
    ev->accept_paused_until = 0;

    /* Idle keep-alive connections, half-received requests and bodies go now. */
    idle = ws__loop_take_if(&ev->loop, pick_idle, ev, 0, &n);
    for (unsigned i = 0; i < n; i++) {
        ws_h2_goaway_now(idle[i]); /* an idle HTTP/2 connection is told why it closes */
        release_conn(s, idle[i]);
    }
    free(idle);
}

/* Shutdown, last step, once every event thread has returned: nothing may park any more in any
 * loop; close everything parked. */
static void stop_parking(struct ws_server *s)
{
    for (unsigned k = 0; k < s->n_loops; k++) {
        unsigned n;
        struct ws_conn **parked = ws__loop_take_if(&s->evs[k].loop, NULL, NULL, 1, &n);
        for (unsigned i = 0; i < n; i++)
            release_conn(s, parked[i]);
        free(parked);
    }
}

/*
 * A snapshot of every counter, for the SIGUSR1 line and the --metrics page
 * alike. Any thread: takes each loop's park lock and the ring's mutex, one
 * after the other, and reads everything else by atomic loads.
 */
static void collect_stats(struct ws_server *s, struct ws_metrics *m)
{
    struct ws_fdqueue_stats q;

    memset(m, 0, sizeof(*m));
    for (unsigned k = 0; k < s->n_loops; k++)
        m->parked += ws__loop_parked(&s->evs[k].loop);
    ws_fdqueue_stats(s->queue, &q);
    m->open = (uint64_t)atomic_load(&s->live);
    m->queued = q.length;
    m->workers = s->cfg.threads;
    m->busy_workers = s->cfg.threads - q.waiting;
    m->ring_capacity = q.capacity;
    m->ring_high_water = q.high_water;
    m->refused_503 = atomic_load_explicit(&s->refused, memory_order_relaxed);
    m->has_compress = s->cfg.compress;
    for (unsigned i = 0; i < s->cfg.threads; i++) {
        struct ws_worker_buf *wb = &s->bufs[i];
        uint64_t hits, misses;
        for (int p = 0; p < WS_METRICS_PROTOS; p++) {
            for (int c = 0; c < WS_METRICS_CLASSES; c++)
                m->requests[p][c] +=
                    atomic_load_explicit(&wb->responses[p][c], memory_order_relaxed);
            m->body_bytes[p] += atomic_load_explicit(&wb->body_bytes[p], memory_order_relaxed);
        }
        ws_file_cache_counts(wb->cache, &hits, &misses);
        m->file_cache_hits += hits;
        m->file_cache_misses += misses;
        if (wb->zcache != NULL) {
            ws_compress_cache_counts(wb->zcache, &hits, &misses);
            m->compress_hits += hits;
            m->compress_misses += misses;
        }
    }
    for (int r = WS_CLOSE_NONE + 1; r < WS_CLOSE_REASONS && m->n_reasons < WS_METRICS_REASONS_MAX;
         r++) {
        m->reason_names[m->n_reasons] = ws_close_reason_name((enum ws_close_reason)r);
        m->closes[m->n_reasons++] = atomic_load_explicit(&s->closes[r], memory_order_relaxed);
    }
    if (s->tls != NULL) {
        struct ws_tls_stats t;
        ws_tls_stats(s->tls, &t);
        m->has_tls = 1;
        m->tls_handshakes = t.handshakes;
        m->tls_resumed = t.resumed;
        m->tls_failed = t.failed;
    }
    if (s->cfg.http2) {
        m->has_h2 = 1;
        m->h2_connections = atomic_load(&s->h2_counts[WS_H2_CONNECTIONS]);
        m->h2_streams = atomic_load(&s->h2_counts[WS_H2_STREAMS]);
        m->h2_resets_sent = atomic_load(&s->h2_counts[WS_H2_RESETS_SENT]);
        m->h2_calm = atomic_load(&s->h2_counts[WS_H2_CALM]);
    }
}

/* --metrics (conn.h's env->metrics): called by a worker. */
static void metrics_snapshot(void *ctx, struct ws_metrics *out)
{
    collect_stats(ctx, out);
}

/* Appends to text (size bytes, *used of them taken) as snprintf would, if it fits. */
static void append(char *text, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *text, size_t size, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int w;

    va_start(ap, fmt);
    w = vsnprintf(text + *used, size - *used, fmt, ap);
    va_end(ap);
    if (w > 0 && (size_t)w < size - *used)
        *used += (size_t)w;
}

/* SIGUSR1: one line of counters to the error log. */
static void log_stats(struct ws_server *s)
{
    struct ws_metrics m;
    unsigned long long served = 0;
    char more[512] = "";
    size_t used = 0;

    collect_stats(s, &m);
    for (int p = 0; p < WS_METRICS_PROTOS; p++)
        for (int c = 0; c < WS_METRICS_CLASSES; c++)
            served += m.requests[p][c];
    for (unsigned r = 0; r < m.n_reasons; r++)
        append(more, sizeof(more), &used, " closed_%s=%llu", m.reason_names[r],
               (unsigned long long)m.closes[r]);
    if (m.has_tls)
        append(more, sizeof(more), &used, " tls_handshakes=%llu tls_resumed=%llu tls_failed=%llu",
               (unsigned long long)m.tls_handshakes, (unsigned long long)m.tls_resumed,
               (unsigned long long)m.tls_failed);
    if (m.has_h2)
        append(more, sizeof(more), &used,
               " h2_connections=%llu h2_streams=%llu h2_resets_sent=%llu h2_calm=%llu",
               (unsigned long long)m.h2_connections, (unsigned long long)m.h2_streams,
               (unsigned long long)m.h2_resets_sent, (unsigned long long)m.h2_calm);
    /* With more than one event thread: how the parked connections are spread over them. */
    for (unsigned k = 0; s->n_evs > 1 && k < s->n_loops; k++)
        append(more, sizeof(more), &used, "%s%u", k == 0 ? " parked_per_event_thread=" : "/",
               ws__loop_parked(&s->evs[k].loop));
    ws_log_error(s->log,
                 "stats: open=%llu parked=%llu queued=%llu busy_workers=%llu/%llu "
                 "queue_high_water=%llu/%llu refused_503=%llu served=%llu%s",
                 (unsigned long long)m.open, (unsigned long long)m.parked,
                 (unsigned long long)m.queued, (unsigned long long)m.busy_workers,
                 (unsigned long long)m.workers, (unsigned long long)m.ring_high_water,
                 (unsigned long long)m.ring_capacity, (unsigned long long)m.refused_503, served,
                 more);
}

/*
 * Says in the error log that connections are being closed early for a reason,
 * at most once per reason per CLOSE_LOG_INTERVAL_MS (a slowloris would
 * otherwise write a line per connection); the stats have the counts.
 */
static void log_closes(struct ws_server *s, int64_t now)
{
    for (int r = WS_CLOSE_NONE + 1; r < WS_CLOSE_REASONS; r++) {
        unsigned long n = atomic_load_explicit(&s->closes[r], memory_order_relaxed);
        if (r == WS_CLOSE_IDLE || n == s->closes_logged[r] ||
            (s->close_log_at[r] != 0 && now - s->close_log_at[r] < CLOSE_LOG_INTERVAL_MS))
            continue;
        ws_log_error(s->log,
                     "closed %lu connection(s) for %s (%lu in all); the next report of it "
                     "comes in %d s at the earliest",
                     n - s->closes_logged[r], ws_close_reason_name((enum ws_close_reason)r), n,
                     CLOSE_LOG_INTERVAL_MS / 1000);
        s->closes_logged[r] = n;
        s->close_log_at[r] = now;
    }
}

/* SIGHUP: new handshakes use the certificates as the files now hold them, if they load. */
static void reload_certificates(struct ws_server *s)
{
    char err[512];

    if (s->tls == NULL)
        return;
    if (ws_tls_reload(s->tls, err, sizeof(err)) < 0)
        ws_log_error(s->log, "SIGHUP: certificates not reloaded, the old ones stay in use: %s",
                     err);
    else
        ws_log_error(s->log, "SIGHUP: certificates reloaded");
}

/* SIGHUP: the --auth-file as it is now, if it is acceptable; else the old table stays. */
static void reload_auth(struct ws_server *s)
{
    char err[512];

    if (s->auth == NULL)
        return;
    if (ws_auth_reload(s->auth, err, sizeof(err)) < 0)
        ws_log_error(s->log, "SIGHUP: --auth-file not reloaded, the old users stay in use: %s",
                     err);
    else
        ws_log_error(s->log, "SIGHUP: --auth-file reloaded (%u users)", ws_auth_users(s->auth));
}

static void handle_signals(struct ws_server *s, int64_t now)
{
    struct signalfd_siginfo si;

    while (read(s->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGINT:
        case SIGTERM:
            if (s->signals_seen++ == 0) {
                ws_log_error(s->log, "%s received; finishing responses in flight (up to %u ms)",
                             si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM",
                             s->cfg.shutdown_grace_ms);
                s->drain_deadline = now + s->cfg.shutdown_grace_ms;
                atomic_store(&s->draining, 1);
                for (unsigned k = 1; k < s->n_evs; k++)
                    ws__loop_wake(&s->evs[k].loop); /* each closes its own listeners and idle */
                begin_drain(&s->evs[0]);
            } else {
                s->drain_deadline = now; /* asked twice: stop now */
            }
            break;
        case SIGHUP: {
            int rc = ws_log_reopen(s->log);
            if (rc < 0)
                ws_log_error(s->log, "SIGHUP: cannot reopen a log file: %s", strerror(-rc));
            else
                ws_log_error(s->log, "SIGHUP: log files reopened");
            reload_certificates(s);
            reload_auth(s);
            break;
        }
        case SIGUSR1: log_stats(s); break;
        default: break;
        }
    }
}

/*
 * The wake-up cap (ws_fdqueue_set_max_awake) relies on awake workers moving on
 * to the next descriptor. If descriptors have waited STALL_CHECK_MS with no pop
 * (a worker stuck on a slow disk), wake another worker. Returns whether
 * descriptors are queued, so the caller keeps looking while they are.
 */
static int kick_due(struct ev_thread *ev, int64_t now)
{
    if (now - ev->last_kick_ms < STALL_CHECK_MS)
        return ev->queued_at_kick > 0;
    ev->last_kick_ms = now;
    ev->queued_at_kick = ws_fdqueue_kick(ev->s->queue, &ev->pops_at_kick);
    return ev->queued_at_kick > 0;
}

/*
 * One event thread's loop: accept, push what is ready, judge deadlines. Event
 * thread 0 also reads the signals, logs the close reasons and decides when to
 * stop; the others return once it has set `stopping`.
 */
static void event_loop(struct ev_thread *ev)
{
    struct ws_server *s = ev->s;
    struct epoll_event events[EVENT_BATCH];
    struct ws_conn *ready[EVENT_BATCH];
    int main_loop = ev->loop.index == 0;
    int wait_ms = 1000;

    ws__loop_set_wake_at(&ev->loop, ws_now_ms() + wait_ms);
    for (;;) {
        int64_t now;
        unsigned n_ready = 0;
        int signalled = 0, watch_ready = 0, n;

        /* Records closed before now: no batch still to come can name them (loop.h). */
        ws__loop_reap(&ev->loop);
        n = epoll_wait(ev->loop.epoll_fd, events, EVENT_BATCH, wait_ms);

        if (n < 0 && errno != EINTR) {
            ws_log_error(s->log, "epoll_wait: %s", strerror(errno));
            break;
        }
        now = ws_now_ms();
        for (int i = 0; i < n; i++) {
            int fd = ws__loop_data_fd(events[i].data.u64);
            int is_listener = 0, tls = 0;

            if (fd < 0) {
                /* A connection's edge: recorded, or the record is ready to claim. */
                struct ws_conn *c = events[i].data.ptr;
                if (ws__loop_event(&ev->loop, c, events[i].events))
                    ready[n_ready++] = c;
                continue;
            }
            for (unsigned k = 0; k < ev->n_listeners; k++)
                if (fd == ev->listeners[k]) {
                    is_listener = 1;
                    tls = ev->listener_tls[k];
                }
            if (is_listener) {
                accept_batch(ev, fd, tls, now);
            } else if (main_loop && fd == s->signal_fd) {
                signalled = 1;
            } else if (s->watch != NULL && fd == ws_watch_fd(s->watch)) {
                watch_ready = 1;
            } else if (fd == ev->loop.wake_fd) {
                ws__loop_clear_wake(&ev->loop);
            }
        }
        /* epoll_wait reported every ready descriptor unless the batch was full, so an
         * unreported inotify descriptor held nothing: the sync need not read it. */
        if (n_ready > 0)
            dispatch_ready(ev, ready, n_ready, now, watch_ready || n == EVENT_BATCH);
        else if (watch_ready)
            ws_watch_sync(s->watch); /* level-triggered: drain it, or it is reported again */
        /* After dispatching: a drain closes parked connections, and ready[] must
         * not hold one it closed. */
        if (signalled)
            handle_signals(s, now);
        if (!ev->drained && atomic_load(&s->draining))
            begin_drain(ev); /* event thread 0 told us (handle_signals) */
        if (!main_loop && atomic_load(&s->stopping))
            break;

        wait_ms = expire_deadlines(ev, now);
        if (main_loop)
            log_closes(s, now);
        if (kick_due(ev, now) && wait_ms > STALL_CHECK_MS)
            wait_ms = STALL_CHECK_MS;
        if (ev->accept_paused_until != 0) {
            if (now >= ev->accept_paused_until)
                resume_accepting(ev);
            else if (ev->accept_paused_until - now < wait_ms)
                wait_ms = (int)(ev->accept_paused_until - now);
        }
        if (main_loop && atomic_load(&s->draining)) {
            if (atomic_load(&s->live) == 0 || now >= s->drain_deadline)
                break;
            if (s->drain_deadline - now < wait_ms)
                wait_ms = (int)(s->drain_deadline - now);
        }
    }
}

/* In a -DWS_RING_LOCKSTAT=ON build: how pushes and pops used the ring's lock, for benchmarks. */
static void log_ring_lock(struct ws_server *s)
{
    struct ws_fdqueue_lockstat ls[2];
    static const char *const names[2] = { "push", "pop" };
    char text[512];
    size_t used = 0;

    if (!ws_fdqueue_lockstat(s->queue, ls))
        return;
    text[0] = '\0';
    for (int k = 0; k < 2; k++) {
        double ops = ls[k].ops > 0 ? (double)ls[k].ops : 1.0;
        append(text, sizeof(text), &used,
               " %s: ops=%llu contended=%.2f%% wait_ns_per_op=%.1f wait_ns_per_contended=%.0f "
               "hold_ns_per_op=%.1f;",
               names[k], ls[k].ops, 100.0 * (double)ls[k].contended / ops,
               (double)ls[k].wait_ns / ops,
               ls[k].contended > 0 ? (double)ls[k].wait_ns / (double)ls[k].contended : 0.0,
               (double)ls[k].hold_ns / ops);
    }
    ws_log_error(s->log, "ring lock:%s", text);
}

/* The start routine of event threads 1.. (named by ws_server_run): SCHED_BATCH, then the loop. */
static void *event_thread_main(void *arg)
{
    struct ev_thread *ev = arg;
    struct sched_param none = { 0 };

    pthread_setschedparam(pthread_self(), SCHED_BATCH, &none);
    event_loop(ev);
    return NULL;
}

/* Puts an event thread's listeners, the watch and (thread 0) the signalfd in its epoll set. */
static int register_fds(struct ws_server *s, struct ev_thread *ev)
{
    struct epoll_event e = { .events = EPOLLIN };

    for (unsigned i = 0; i < ev->n_listeners; i++) {
        e.data.u64 = ws__loop_fd_data(ev->listeners[i]);
        if (epoll_ctl(ev->loop.epoll_fd, EPOLL_CTL_ADD, ev->listeners[i], &e) < 0)
            return -errno;
    }
    if (ev->loop.index == 0) {
        e.data.u64 = ws__loop_fd_data(s->signal_fd);
        if (epoll_ctl(ev->loop.epoll_fd, EPOLL_CTL_ADD, s->signal_fd, &e) < 0)
            return -errno;
    }
    if (s->watch != NULL) {
        e.data.u64 = ws__loop_fd_data(ws_watch_fd(s->watch));
        if (epoll_ctl(ev->loop.epoll_fd, EPOLL_CTL_ADD, ws_watch_fd(s->watch), &e) < 0)
            return -errno;
    }
    return 0;
}

/* Sets `stopping`, wakes event threads 1.. and joins them. Event thread 0. */
static void stop_event_threads(struct ws_server *s)
{
    atomic_store(&s->stopping, 1);
    for (unsigned k = 1; k < s->n_evs; k++)
        if (s->evs[k].started)
            ws__loop_wake(&s->evs[k].loop);
    for (unsigned k = 1; k < s->n_evs; k++)
        if (s->evs[k].started) {
            pthread_join(s->evs[k].thread, NULL);
            s->evs[k].started = 0;
        }
}

int ws_server_run(struct ws_server *s)
{
    int err;

    for (unsigned k = 0; k < s->n_evs; k++)
        if ((err = register_fds(s, &s->evs[k])) < 0)
            return err;
    {
        struct sched_param none = { 0 };
        pthread_setschedparam(pthread_self(), SCHED_BATCH, &none);
    }
    s->pool = ws_pool_start(s->cfg.threads, s->queue, serve_fd, worker_idle, s);
    if (s->pool == NULL) {
        err = errno;
        ws_log_error(s->log, "cannot start worker threads: %s", strerror(err));
        return -err;
    }
    for (unsigned k = 1; k < s->n_evs; k++) {
        err = pthread_create(&s->evs[k].thread, NULL, event_thread_main, &s->evs[k]);
        if (err != 0) {
            ws_log_error(s->log, "cannot start event threads: %s", strerror(err));
            stop_event_threads(s);
            stop_parking(s);
            ws_fdqueue_close(s->queue);
            ws_pool_join(s->pool);
            s->pool = NULL;
            return -err;
        }
        s->evs[k].started = 1;
        {
            /* Named here, so the name is in place before the start-up line says we run. */
            char name[16];
            snprintf(name, sizeof(name), "ws-event-%u", k % 100u); /* k < 64 */
            pthread_setname_np(s->evs[k].thread, name);
        }
    }
    ws_log_error(s->log, "listening on %s (root %s, %u threads, %u event thread%s, queue %u, %s)",
                 s->listen_text, s->cfg.root, s->cfg.threads, s->n_evs, s->n_evs == 1 ? "" : "s",
                 s->cfg.queue_capacity,
                 ws_open_beneath_mode(s->root_fd) == 1 ? "openat2" : "checked open");
    if (s->tls != NULL)
        ws_log_error(s->log, "%s", ws_tls_describe(s->tls));

    event_loop(&s->evs[0]);

    stop_event_threads(s);
    stop_parking(s);
    ws_fdqueue_close(s->queue); /* workers drain what is queued, then return */
    ws_pool_join(s->pool);
    s->pool = NULL;
    log_ring_lock(s);
    ws_log_error(s->log, "stopped");
    return 0;
}

/* --- set-up and tear-down ---------------------------------------------------- */

static void format_addr(const struct sockaddr *sa, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(out, size, "[%s]:%d", host, port);
    } else if (sa->sa_family == AF_UNIX) {
        /* sun_path need not be terminated; an abstract name starts with a NUL, shown '@'. */
        const struct sockaddr_un *a = (const struct sockaddr_un *)sa;
        int abstract = a->sun_path[0] == '\0';
        snprintf(out, size, "unix:%s%.*s", abstract ? "@" : "", (int)sizeof(a->sun_path) - abstract,
                 a->sun_path + abstract);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        snprintf(out, size, "%s:%d", host, port);
    }
}

/*
 * Holds a TCP listener's connections (they inherit it) to NOTSENT_LOWAT unsent
 * bytes: a large body is queued as the client's window takes it, in the
 * worker's own sendfile or send, instead of a whole megabyte queued at once
 * and sent later by the client's ACKs (on loopback, on the client's CPU). The
 * socket reports writable again below the mark.
 */
static void limit_unsent(int fd, int family)
{
    static const int notsent_lowat = NOTSENT_LOWAT;

    if (family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &notsent_lowat, sizeof(notsent_lowat));
}

/* Opens, binds and listens; returns the descriptor or -errno. */
static int open_listener(const struct sockaddr *sa, socklen_t len, int v6only, int reuseport,
                         int defer_secs)
{
    static const int one = 1;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err;

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        err = errno;
        close(fd);
        return -err;
    }
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    /*
     * --defer-accept: hand us a connection only once its first bytes have
     * arrived (or after defer_secs): a worker then finds the request waiting
     * instead of reading nothing and parking, and silent connections wait in
     * the kernel, not in our tables.
     */
    if (defer_secs > 0)
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_secs, sizeof(defer_secs));
    limit_unsent(fd, sa->sa_family);
    if (bind(fd, sa, len) < 0 || listen(fd, 4096) < 0) {
        err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

/* Adds a listening socket bound to *bound to the server's set and its start-up line. */
static void record_listener(struct ws_server *s, int fd, const struct sockaddr_storage *bound,
                            int tls)
{
    int *port = tls ? &s->tls_port : &s->port;
    char text[WS_UNIX_PATH_MAX + 8];

    format_addr((const struct sockaddr *)bound, text, sizeof(text));
    if (*port == 0 && bound->ss_family != AF_UNIX)
        *port = bound->ss_family == AF_INET6
                    ? ntohs(((const struct sockaddr_in6 *)bound)->sin6_port)
                    : ntohs(((const struct sockaddr_in *)bound)->sin_port);
    s->evs[0].listener_tls[s->evs[0].n_listeners] = (uint8_t)tls;
    s->evs[0].listeners[s->evs[0].n_listeners++] = fd;
    if (s->listen_text[0] != '\0')
        strncat(s->listen_text, " ", sizeof(s->listen_text) - strlen(s->listen_text) - 1);
    if (tls)
        strncat(s->listen_text, "https:", sizeof(s->listen_text) - strlen(s->listen_text) - 1);
    strncat(s->listen_text, text, sizeof(s->listen_text) - strlen(s->listen_text) - 1);
}

static int add_listener(struct ws_server *s, struct sockaddr *sa, socklen_t len, int v6only,
                        int tls, char *err, size_t err_size)
{
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    int port = tls ? s->tls_port : s->port;
    char text[80];
    int fd;

    /* With --port 0 every address shares the port the kernel chose for the first. */
    if (port != 0 && sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
    else if (port != 0)
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    format_addr(sa, text, sizeof(text));
    if (s->evs[0].n_listeners == MAX_LISTENERS)
        return 0;
    /* More than one event thread: each gets an SO_REUSEPORT twin (add_twin_listeners). */
    fd = open_listener(sa, len, v6only, s->cfg.reuseport || s->n_evs > 1,
                       (int)s->cfg.defer_accept_secs);
    if (fd < 0) {
        snprintf(err, err_size, "cannot listen on %s: %s", text, strerror(-fd));
        return fd;
    }
    getsockname(fd, (struct sockaddr *)&bound, &bound_len);
    record_listener(s, fd, &bound, tls);
    return 0;
}

/* Records an already listening socket (socket activation) as a listener. */
static int adopt_listener(struct ws_server *s, int fd, int tls, char *err, size_t err_size)
{
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    int type = 0, listening = 0;
    socklen_t opt_len = sizeof(type);

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &opt_len) < 0 || type != SOCK_STREAM ||
        (opt_len = sizeof(listening),
         getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &opt_len) < 0) ||
        !listening || getsockname(fd, (struct sockaddr *)&bound, &bound_len) < 0 ||
        (bound.ss_family != AF_INET && bound.ss_family != AF_INET6 && bound.ss_family != AF_UNIX)) {
        snprintf(err, err_size,
                 "socket activation: descriptor %d is not a listening TCP socket (or Unix "
                 "stream socket)",
                 fd);
        return -EINVAL;
    }
    if (s->evs[0].n_listeners == MAX_LISTENERS)
        return 0;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    limit_unsent(fd, bound.ss_family);
    record_listener(s, fd, &bound, tls);
    return 0;
}

/*
 * systemd socket activation (sd_listen_fds(3), without libsystemd): when
 * LISTEN_PID is our pid, descriptors 3 .. 3 + LISTEN_FDS - 1 are listening
 * sockets passed to us. Returns how many were adopted (0: not activated), or
 * -errno. A socket named "https" in LISTEN_FDNAMES (the unit's
 * FileDescriptorName=https) speaks TLS. The variables are removed so no child
 * could take them for its own.
 */
static int adopt_activated(struct ws_server *s, char *err, size_t err_size)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    char names_copy[256] = "", *name, *save = NULL;
    char *end;
    long n;

    if (pid == NULL || fds == NULL || strtol(pid, &end, 10) != (long)getpid() || *end != '\0')
        return 0;
    n = strtol(fds, &end, 10);
    if (names != NULL)
        snprintf(names_copy, sizeof(names_copy), "%s", names);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (*end != '\0' || n <= 0 || n > MAX_LISTENERS) {
        snprintf(err, err_size, "socket activation: bad LISTEN_FDS '%s'", fds);
        return -EINVAL;
    }
    name = strtok_r(names_copy, ":", &save);
    for (int fd = 3; fd < 3 + n; fd++) {
        int tls = name != NULL && strcmp(name, "https") == 0;
        int rc;
        if (tls && s->tls == NULL) {
            snprintf(err, err_size,
                     "socket activation: descriptor %d is named https, but no "
                     "--tls-cert was given",
                     fd);
            return -EINVAL;
        }
        rc = adopt_listener(s, fd, tls, err, err_size);
        if (rc < 0)
            return rc;
        name = strtok_r(NULL, ":", &save);
    }
    return (int)n;
}

/* Listens on port (0: a free one) on the --bind addresses, or on every interface. */
static int listen_on(struct ws_server *s, int port_number, int tls, char *err, size_t err_size)
{
    struct addrinfo hints = { 0 }, *res, *ai;
    char port[8];
    int rc;

    if (s->cfg.bind == NULL) {
        /* Every interface: one dual-stack IPv6 socket, or IPv4 where IPv6 is off. */
        struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
        struct sockaddr_in any4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
        any6.sin6_port = any4.sin_port = htons((uint16_t)port_number);
        rc = add_listener(s, (struct sockaddr *)&any6, sizeof(any6), 0, tls, err, err_size);
        if (rc == -EAFNOSUPPORT)
            rc = add_listener(s, (struct sockaddr *)&any4, sizeof(any4), 0, tls, err, err_size);
        return rc;
    }

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", port_number);
    rc = getaddrinfo(s->cfg.bind, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_size, "cannot resolve bind address '%s': %s", s->cfg.bind,
                 gai_strerror(rc));
        return -EINVAL;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        rc = add_listener(s, ai->ai_addr, ai->ai_addrlen, 1, tls, err, err_size);
        if (rc < 0)
            break;
    }
    freeaddrinfo(res);
    return rc;
}

/*
 * Makes way for a --listen socket at path: nothing there, or a socket file that
 * nothing accepts on (left by a process that died), which is removed. Anything
 * else, a live socket included, is refused: returns 0, or -1 with err set.
 */
static int clear_stale_socket(const char *path, char *err, size_t err_size)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct stat st;
    int fd, rc, e;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, err_size, "cannot listen on unix:%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, err_size, "cannot listen on unix:%s: the path exists and is not a socket",
                 path);
        return -1;
    }
    /* Non-blocking, so a live server with a full backlog answers EAGAIN, not a wait. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_size, "cannot listen on unix:%s: %s", path, strerror(errno));
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
        snprintf(err, err_size, "cannot listen on unix:%s: another process is listening on it",
                 path);
        return -1;
    }
    if (e != ECONNREFUSED && e != ENOENT) {
        snprintf(err, err_size, "cannot listen on unix:%s: %s", path, strerror(e));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, err_size, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Listens on a --listen Unix socket. The file gets its mode and owner before
 * listen(2), so no connection is accepted under the umask's mode. Neither
 * --reuseport nor --defer-accept applies: both are TCP's. Returns 0 or -errno.
 */
static int add_unix_listener(struct ws_server *s, const struct ws_unix_listen *u,
                             const struct passwd *owner, char *err, size_t err_size)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct sockaddr_storage bound = { 0 };
    socklen_t bound_len = sizeof(bound);
    struct stat st;
    int fd, e;

    if (s->evs[0].n_listeners == MAX_LISTENERS) {
        snprintf(err, err_size, "cannot listen on unix:%s: more than %d listeners", u->path,
                 MAX_LISTENERS);
        return -EMFILE;
    }
    if (clear_stale_socket(u->path, err, err_size) < 0)
        return -EADDRINUSE;
    memcpy(sun.sun_path, u->path, strlen(u->path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        e = errno;
        snprintf(err, err_size, "cannot listen on unix:%s: %s", u->path, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    if (stat(u->path, &st) == 0) { /* ours now: removed at exit, even if what follows fails */
        memcpy(s->unix_files[s->n_unix_files].path, u->path, sizeof(u->path));
        s->unix_files[s->n_unix_files].dev = st.st_dev;
        s->unix_files[s->n_unix_files++].ino = st.st_ino;
    }
    if (chmod(u->path, u->mode) < 0 ||
        (owner != NULL && chown(u->path, owner->pw_uid, owner->pw_gid) < 0) ||
        listen(fd, 4096) < 0 || getsockname(fd, (struct sockaddr *)&bound, &bound_len) < 0) {
        e = errno;
        snprintf(err, err_size, "cannot listen on unix:%s: %s", u->path, strerror(e));
        close(fd);
        return -e;
    }
    record_listener(s, fd, &bound, 0);
    return 0;
}

/* Removes the --listen socket files, unless another process has put its own in their place. */
static void remove_unix_files(struct ws_server *s)
{
    for (unsigned i = 0; i < s->n_unix_files; i++) {
        const char *path = s->unix_files[i].path;
        struct stat st;
        if (lstat(path, &st) < 0 || st.st_dev != s->unix_files[i].dev ||
            st.st_ino != s->unix_files[i].ino)
            continue;
        if (unlink(path) < 0 && errno != ENOENT)
            ws_log_error(s->log, "cannot remove the socket %s: %s", path, strerror(errno));
    }
    s->n_unix_files = 0;
}

/*
 * The --listen sockets, the cleartext TCP listeners (unless --port off) and with
 * a certificate the TLS ones; or those passed by systemd.
 */
static int create_listeners(struct ws_server *s, const struct passwd *owner, char *err,
                            size_t err_size)
{
    int rc = adopt_activated(s, err, err_size);

    s->activated = rc > 0;
    if (rc != 0)
        return rc < 0 ? rc : 0;
    for (unsigned i = 0; rc == 0 && i < s->cfg.n_unix_listen; i++)
        rc = add_unix_listener(s, &s->cfg.unix_listen[i], owner, err, err_size);
    if (rc == 0 && s->cfg.port >= 0) {
        s->port = s->cfg.port;
        rc = listen_on(s, s->cfg.port, 0, err, err_size);
    }
    if (rc == 0 && s->tls != NULL) {
        s->tls_port = s->cfg.tls_port;
        rc = listen_on(s, s->cfg.tls_port, 1, err, err_size);
    }
    if (rc == 0 && s->evs[0].n_listeners == 0) {
        snprintf(err, err_size, "nothing to listen on: --port off, and no --listen");
        rc = -EINVAL;
    }
    return rc;
}

/*
 * Gives event thread ev (1..) a twin of each TCP listener of event thread 0: a
 * socket bound to the same address and port with SO_REUSEPORT, so the kernel
 * spreads new connections over the threads by their addresses' hash. Unix
 * sockets cannot be twinned this way and stay with thread 0 alone. Returns 0 or
 * -errno with err set.
 */
static int add_twin_listeners(struct ws_server *s, struct ev_thread *ev, char *err, size_t err_size)
{
    struct ev_thread *first = &s->evs[0];

    for (unsigned i = 0; i < first->n_listeners; i++) {
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound), opt_len;
        int v6only = 0, fd;
        char text[80];

        if (getsockname(first->listeners[i], (struct sockaddr *)&bound, &len) < 0 ||
            (bound.ss_family != AF_INET && bound.ss_family != AF_INET6))
            continue;
        opt_len = sizeof(v6only);
        if (bound.ss_family == AF_INET6)
            getsockopt(first->listeners[i], IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &opt_len);
        fd =
            open_listener((struct sockaddr *)&bound, len, v6only, 1, (int)s->cfg.defer_accept_secs);
        if (fd < 0) {
            format_addr((struct sockaddr *)&bound, text, sizeof(text));
            snprintf(err, err_size, "cannot listen on %s for event thread %u: %s", text,
                     ev->loop.index, strerror(-fd));
            return fd;
        }
        ev->listener_tls[ev->n_listeners] = first->listener_tls[i];
        ev->listeners[ev->n_listeners++] = fd;
    }
    return 0;
}

/*
 * --event-threads when not given: one per CPUS_PER_EVENT_THREAD CPUs the
 * process may run on (so 1 up to 7 CPUs), at most DEFAULT_EVENT_THREADS_MAX
 * (docs/design.md, "Event threads", says why).
 */
static unsigned default_event_threads(void)
{
    cpu_set_t cpus;
    unsigned n = 1;

    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
        n = (unsigned)CPU_COUNT(&cpus) / CPUS_PER_EVENT_THREAD;
    return n < 1 ? 1 : n > DEFAULT_EVENT_THREADS_MAX ? DEFAULT_EVENT_THREADS_MAX : n;
}

/* Raises the descriptor limit to its hard maximum; returns the limit in force. */
static unsigned raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_max > (1u << 20))
        rl.rlim_max = 1u << 20;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > (1u << 20) ? (1u << 20) : (unsigned)rl.rlim_cur;
}

struct ws_server *ws_server_create(const struct ws_config *cfg,
                                   const struct ws_server_resources *res, struct ws_log *log,
                                   char *err, size_t err_size)
{
    struct ws_server *s = calloc(1, sizeof(*s));
    sigset_t mask;

    if (s == NULL) {
        snprintf(err, err_size, "out of memory");
        close(res->root_fd);
        if (res->error_pages_fd >= 0)
            close(res->error_pages_fd);
        ws_mime_map_free(res->mime);
        ws_auth_free(res->auth);
        return NULL;
    }
    s->cfg = *cfg;
    ws_site_copy(&s->cfg.site, &cfg->site);
    s->log = log;
    s->root_fd = res->root_fd;
    s->error_pages_fd = res->error_pages_fd;
    s->mime = res->mime;
    s->auth = res->auth;
    ws_auth_policy_fix(&s->cfg.auth, &cfg->auth);
    s->signal_fd = -1;
    s->n_evs = cfg->event_threads > 0 ? cfg->event_threads : default_event_threads();
    s->evs = calloc(s->n_evs, sizeof(*s->evs));
    if (s->evs == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    for (unsigned k = 0; k < s->n_evs; k++)
        s->evs[k].s = s;

    s->max_fds = raise_fd_limit();
    s->conns = calloc(s->max_fds, sizeof(*s->conns));
    s->bufs = calloc(cfg->threads, sizeof(*s->bufs));
    s->queue = ws_fdqueue_create(cfg->queue_capacity);
    if (s->queue != NULL) {
        cpu_set_t cpus;
        ws_fdqueue_set_consumers(s->queue, cfg->threads);
        /* No more workers awake at once than CPUs we may run on (see fdqueue.h). */
        if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
            ws_fdqueue_set_max_awake(s->queue, (unsigned)CPU_COUNT(&cpus));
    }
    if (s->conns == NULL || s->bufs == NULL || s->queue == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    if (cfg->compress && (s->zstore = ws_compress_store_new(COMPRESS_STORE_SLOTS,
                                                            (size_t)cfg->compress_cache)) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < cfg->threads; i++) {
        s->bufs[i].cache = ws_file_cache_new(FILE_CACHE_SLOTS, WS_SMALL_FILE_MAX);
        if (cfg->compress)
            s->bufs[i].zcache = ws_compress_cache_new(COMPRESS_CACHE_SLOTS, COMPRESS_CACHE_BUDGET,
                                                      WS_SMALL_FILE_MAX, s->zstore);
        if (s->auth != NULL)
            s->bufs[i].auth = ws_auth_worker_new();
        if (s->bufs[i].cache == NULL || (cfg->compress && s->bufs[i].zcache == NULL) ||
            (s->auth != NULL && s->bufs[i].auth == NULL)) {
            snprintf(err, err_size, "out of memory");
            goto fail;
        }
    }

    ws_server_signal_set(&mask);
    s->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->signal_fd < 0) {
        snprintf(err, err_size, "cannot set up the event loop: %s", strerror(errno));
        goto fail;
    }
    if (cfg->n_tls_pairs > 0) {
        /* Loaded here, before main drops privileges: the keys may be readable by root alone. */
        struct ws_tls_config tc = { cfg->tls_pairs, cfg->n_tls_pairs, cfg->tls_min, cfg->http2 };
        s->tls = ws_tls_new(&tc, err, err_size);
        if (s->tls == NULL)
            goto fail;
    }
    if (create_listeners(s, res->socket_owner, err, err_size) < 0)
        goto fail;
    if (s->activated && s->n_evs > 1) {
        /* Sockets passed by systemd cannot be twinned: one event thread serves them. */
        if (cfg->event_threads > 1)
            ws_log_error(log,
                         "socket activation: --event-threads %u ignored, one event thread "
                         "serves the sockets systemd passed",
                         cfg->event_threads);
        s->n_evs = 1;
    }
    for (unsigned k = 1; k < s->n_evs; k++)
        if (add_twin_listeners(s, &s->evs[k], err, err_size) < 0)
            goto fail;
    for (; s->n_loops < s->n_evs; s->n_loops++) {
        int rc = ws__loop_init(&s->evs[s->n_loops].loop, s->n_loops, s->max_fds);
        if (rc < 0) {
            s->n_loops++; /* destroyed with the others */
            snprintf(err, err_size, "cannot set up the event loop: %s", strerror(-rc));
            goto fail;
        }
    }

    s->env.statics.root_fd = s->root_fd;
    s->env.statics.dotfiles = cfg->dotfiles;
    s->env.statics.listing = cfg->listing;
    s->env.statics.mime = s->mime;
    s->env.statics.fallback = s->cfg.site.fallback[0] != '\0' ? s->cfg.site.fallback : NULL;
    s->env.site = &s->cfg.site;
    s->env.auth = s->auth;
    s->env.auth_policy = &s->cfg.auth;
    if (!cfg->stat_every_request) {
        const char *why;
        s->watch = ws_watch_new(MAX_WATCHES);
        why = s->watch == NULL ? strerror(errno) : ws_watch_root(s->watch, s->root_fd);
        if (why != NULL) {
            ws_log_error(log,
                         "inotify cannot be used (%s): cached files are stat-checked on "
                         "every request",
                         why);
            ws_watch_free(s->watch);
            s->watch = NULL;
        }
    }
    s->env.statics.watch = s->watch;
    s->env.error_pages_fd = s->error_pages_fd;
    s->env.cache_mode = (enum ws_cache_mode)cfg->cache_mode;
    s->env.cache_max_age = cfg->cache_max_age;
    s->env.log = log;
    s->env.trusted = s->cfg.trusted;
    s->env.n_trusted = s->cfg.n_trusted;
    s->env.draining = &s->draining;
    s->env.limits.max_request_line = WS_MAX_REQUEST_LINE;
    s->env.limits.max_head = WS_MAX_HEAD;
    s->env.limits.max_headers = WS_MAX_HEADERS;
    s->env.header_timeout_ms = cfg->header_timeout_ms;
    s->env.keepalive_timeout_ms = cfg->keepalive_timeout_ms;
    s->env.send_timeout_ms = cfg->send_timeout_ms;
    s->env.linger_timeout_ms = LINGER_TIMEOUT_MS;
    s->env.min_rate = cfg->min_rate;
    s->env.rate_window_ms = RATE_WINDOW_MS;
    s->env.closes = s->closes;
    s->env.tls = s->tls;
    s->env.http2 = cfg->http2;
    s->env.h2_counts = s->h2_counts;
    s->env.hsts_secs = cfg->hsts ? cfg->hsts_secs : 0;
    s->env.https_redirect_port = !cfg->redirect_https ? 0 : s->tls != NULL ? s->tls_port : 443;
    s->env.max_requests = cfg->max_requests;
    s->env.max_body = cfg->max_body;
    s->env.gzip_level = cfg->gzip_level;
    s->env.zstd_level = cfg->zstd_level;
    s->env.compress_min = (int64_t)cfg->compress_min;
    if (s->cfg.site.metrics[0] != '\0') {
        s->env.metrics = metrics_snapshot;
        s->env.metrics_ctx = s;
    }
    return s;

fail:
    ws_server_destroy(s);
    return NULL;
}

int ws_server_port(const struct ws_server *s)
{
    return s->port;
}

void ws_server_destroy(struct ws_server *s)
{
    if (s == NULL)
        return;
    /* Connections still open here were never handed to a thread (run failed). */
    for (unsigned fd = 0; s->conns != NULL && fd < s->max_fds; fd++) {
        struct ws_conn *c = atomic_load_explicit(&s->conns[fd], memory_order_relaxed);
        if (c != NULL)
            ws_conn_free(c);
    }
    for (unsigned k = 0; s->evs != NULL && k < s->n_evs; k++)
        for (unsigned i = 0; i < s->evs[k].n_listeners; i++)
            close(s->evs[k].listeners[i]);
    remove_unix_files(s);
    for (unsigned k = 0; k < s->n_loops; k++)
        ws__loop_destroy(&s->evs[k].loop);
    free(s->evs);
    if (s->signal_fd >= 0)
        close(s->signal_fd);
    if (s->root_fd >= 0)
        close(s->root_fd);
    if (s->error_pages_fd >= 0)
        close(s->error_pages_fd);
    ws_mime_map_free(s->mime);
    ws_auth_free(s->auth);
    if (s->tls != NULL)
        ws_tls_free(s->tls);
    ws_watch_free(s->watch);
    ws_fdqueue_destroy(s->queue);
    for (unsigned i = 0; s->bufs != NULL && i < s->cfg.threads; i++) {
        ws_file_cache_free(s->bufs[i].cache);
        ws_compress_cache_free(s->bufs[i].zcache);
        ws_auth_worker_free(s->bufs[i].auth);
    }
    free(s->bufs);
    ws_compress_store_free(s->zstore);
    free(s->conns);
    free(s);
}

void ws_server_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
}
