/*
 * server/conn.c - the per-connection HTTP state machine; see conn.h for the design.
 *
 * DESIGN
 * ws_conn_run is only ever called by the worker that owns the connection, so
 * nothing here takes a lock except the log's print lock (inside ws_log_access).
 * A turn moves through the phases
 *
 *   HEAD --(a body has come with the head)--> BODY --(dropped, or would block)--> SEND
 *     \--(no body, or 100-continue)-------------------------------------------> SEND
 *   SEND --(the rest of a body to drop)--> BODY --(dropped)--> HEAD
 *   SEND --(keep-alive)--> HEAD            SEND --(close)--> LINGER or close
 *
 * and ends when the socket would block (park) or the connection is finished
 * (close); fixed_deadline gives each phase its deadline. The input being parsed lives in the
 * worker's buffer for the turn and is copied into the record only if the turn ends with bytes
 * unconsumed.
 */
#include "server/conn.h"

#include "http/forwarded.h"
#include "http/head.h"
#include "http/httpdate.h"
#include "http/plan.h"
#include "server/answer.h"
#include "server/compress.h"
#include "server/h2.h"
#include "server/log.h"
#include "server/loop.h"
#include "server/static_file.h"
#include "server/tls.h"
#include "server/transport.h"

#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* Responses one connection may get in a turn before it yields its worker. */
#define TURN_MAX_RESPONSES 16
/* File bytes one connection may send in a turn before it yields its worker. */
#define TURN_MAX_FILE_BYTES (4 << 20)
/* Reads of unwanted input (body, lingering) in a turn before it yields. */
#define TURN_MAX_DISCARD_READS 64

static const char timeout_response[] = "HTTP/1.1 408 Request Timeout\r\n"
                                       "Server: " WS_SERVER_NAME "\r\n"
                                       "Content-Length: 0\r\n"
                                       "Connection: close\r\n"
                                       "\r\n";

const char *ws_close_reason_name(enum ws_close_reason r)
{
    static const char *const names[WS_CLOSE_REASONS] = {
        [WS_CLOSE_NONE] = "none",
        [WS_CLOSE_IDLE] = "idle",
        [WS_CLOSE_HEAD_TIMEOUT] = "head_timeout",
        [WS_CLOSE_SLOW_HEAD] = "slow_head",
        [WS_CLOSE_BODY_BUDGET] = "body_budget",
        [WS_CLOSE_SLOW_BODY] = "slow_body",
        [WS_CLOSE_SEND_STALL] = "send_stall",
        [WS_CLOSE_SLOW_READER] = "slow_reader",
    };
    return (unsigned)r < WS_CLOSE_REASONS ? names[r] : "unknown";
}

int64_t ws_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ws_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct ws_conn *ws_conn_new(int fd, const struct sockaddr *peer, int64_t now_ms)
{
    struct ws_conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->heap_index = UINT32_MAX;
    atomic_init(&c->own, WS_OWN_OWNED); /* by whoever accepted it */
    c->phase_start_ms = c->rate_start_ms = now_ms;
    if (peer != NULL && peer->sa_family == AF_INET6)
        memcpy(&c->peer.in6, peer, sizeof(c->peer.in6));
    else if (peer != NULL && peer->sa_family == AF_INET)
        memcpy(&c->peer.in4, peer, sizeof(c->peer.in4));
    else if (peer != NULL && peer->sa_family == AF_UNIX)
        c->peer.sa.sa_family = AF_UNIX; /* its path, if any, is not kept */
    return c;
}

static void drop_response(struct ws_conn *c)
{
    if (c->r->file_fd >= 0)
        close(c->r->file_fd);
    c->r->file_fd = -1;
    free(c->r->out);
    c->r->out = NULL;
    c->r->out_len = c->r->head_len = c->r->mem_sent = 0;
    if (c->r->segs != &c->r->seg)
        free(c->r->segs);
    c->r->segs = &c->r->seg;
    c->r->n_segs = c->r->cur_seg = 0;
    c->r->bytes_sent = 0;
    free(c->r->log_line);
    c->r->log_line = NULL;
    c->r->log_len = 0;
}

/* The worker's response record, empty, for a turn of a connection that has none. */
static struct ws_response *fresh_response(struct ws_worker_buf *wb)
{
    struct ws_response *r = &wb->resp;

    memset(r, 0, sizeof(*r));
    r->file_fd = -1;
    r->segs = &r->seg;
    return r;
}

/*
 * The turn ends parked: a response or a body still in flight moves into a
 * record of the connection's own (the worker's is for its next connection);
 * with neither, the connection keeps nothing. Returns -1 when the memory for
 * it cannot be had.
 */
static int keep_response(struct ws_conn *c)
{
    struct ws_response *r = c->r, *own;

    if (r->n_segs == 0 && r->body_left == 0 && r->file_fd < 0 && r->out == NULL &&
        r->log_line == NULL && r->log_len == 0 && r->segs == &r->seg) {
        if (r->owned)
            free(r);
        c->r = NULL;
        return 0;
    }
    if (r->owned)
        return 0;
    own = malloc(sizeof(*own));
    if (own == NULL)
        return -1;
    *own = *r;
    own->owned = 1;
    if (r->segs == &r->seg)
        own->segs = &own->seg;
    c->r = own;
    return 0;
}

void ws_conn_close(struct ws_conn *c)
{
    if (c->r != NULL) {
        drop_response(c);
        if (c->r->owned)
            free(c->r);
        c->r = NULL;
    }
    free(c->saved);
    c->saved = NULL;
    c->saved_len = 0;
    ws_compress_job_free(c->zjob);
    c->zjob = NULL;
    ws_h2_free(c->h2);
    c->h2 = NULL;
    if (c->tls != NULL) {
        ws_transport_close_notify(c);
        SSL_free(c->tls);
        c->tls = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void ws_conn_free(struct ws_conn *c)
{
    if (c == NULL)
        return;
    ws_conn_close(c);
    free(c);
}

/*
 * A turn's view of the input: wb->in[start..len) holds bytes received and not
 * yet consumed, and parsed_len how many of them the parser has already seen
 * without finding a whole header section.
 */
struct input {
    char *buf;
    size_t start, len, parsed_len;
    /* The last read found the socket empty (it would block, or came back short): any input
     * after it makes epoll report an edge (conn.h's park_edge). Over TLS, the last recv that
     * OpenSSL made in a read_more of this turn (our read BIO tells), and tls_recvs the BIO's
     * count of recv calls after it: another recv since makes it void (input_edge). */
    int drained;
    unsigned tls_recvs;
};

static void consume(struct input *in, size_t n)
{
    in->start += n;
    in->parsed_len = 0;
    if (in->start == in->len)
        in->start = in->len = 0;
}

/* Reads from the socket into the free end of the buffer. Returns recv's result. */
static ssize_t read_more(struct ws_conn *c, struct input *in)
{
    ssize_t n;

    if (in->start > 0) {
        memmove(in->buf, in->buf + in->start, in->len - in->start);
        in->len -= in->start;
        in->start = 0;
    }
    if (c->tls == NULL) {
        n = ws_transport_recv(c, in->buf + in->len, WS_MAX_HEAD - in->len);
        in->drained = n > 0 ? (size_t)n < WS_MAX_HEAD - in->len : errno == EAGAIN;
    } else {
        /*
         * TLS reads records, and reads ahead of them: what SSL_read returns says
         * nothing of the socket, but the recv calls it made do. None (it had what
         * it returns): the last one of this turn still stands.
         */
        int drained;
        unsigned before = ws_tls_recvs(c->tls, &drained), after;
        n = ws_transport_recv(c, in->buf + in->len, WS_MAX_HEAD - in->len);
        after = ws_tls_recvs(c->tls, &drained);
        if (after != before) {
            in->drained = drained;
            in->tls_recvs = after;
        }
    }
    if (n > 0)
        in->len += (size_t)n;
    return n;
}

void ws_conn_count_response(struct ws_worker_buf *wb, enum ws_metrics_proto proto, int status,
                            uint64_t body_bytes)
{
    int class = status < 200 ? 0 : status >= 500 ? 4 : status / 100 - 1;

    atomic_fetch_add_explicit(&wb->responses[proto][class], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&wb->body_bytes[proto], body_bytes, memory_order_relaxed);
}

/* Writes the access log line of the response that just ended, if any, and counts it. */
static void log_response(struct ws_conn *c, const struct ws_conn_env *env, struct ws_worker_buf *wb)
{
    uint64_t body = c->r->bytes_sent > c->r->head_len ? c->r->bytes_sent - c->r->head_len : 0;

    ws_conn_count_response(wb, WS_METRICS_HTTP1, c->r->status, body);
    if (c->r->log_len > 0) {
        const char *line = c->r->log_line != NULL ? c->r->log_line : wb->log;
        int64_t serve_us = c->r->serve_start_us ? ws_now_us() - c->r->serve_start_us : 0;
        ws_log_access(env->log, &wb->log_buffer, line, c->r->log_len, c->r->log_split, body,
                      c->r->wait_us, serve_us);
    }
    free(c->r->log_line);
    c->r->log_line = NULL;
    c->r->log_len = 0;
}

uint32_t ws_conn_format_log(const struct ws_conn *c, const struct ws_conn_env *env,
                            struct ws_worker_buf *wb, struct ws_view request_line,
                            const struct ws_request *req, int status, int stream, uint32_t *split)
{
    struct ws_access_fields f = { .request_line = request_line, .when = wb->date_second };
    char client[INET6_ADDRSTRLEN];
    size_t len, at;

    if (!ws_log_access_enabled(env->log))
        return 0;
    if (req != NULL) {
        const struct ws_header *h = ws_request_header(req, "referer");
        if (h != NULL)
            f.referer = h->value;
        h = ws_request_header(req, "user-agent");
        if (h != NULL)
            f.user_agent = h->value;
    }
    ws_forwarded_client(req, env->trusted, env->n_trusted, &c->peer.sa, client, sizeof(client));
    f.client = client;
    f.status = status;
    f.stream = stream;
    f.user = (struct ws_view){ wb->auth_user, wb->auth_user_len };
    if (c->tls != NULL) {
        f.tls_version = SSL_get_version(c->tls);
        f.tls_cipher = SSL_get_cipher_name(c->tls);
    }
    len = ws_log_format_start(ws_log_format(env->log), wb->log, sizeof(wb->log), &f, &at);
    *split = (uint32_t)at;
    return (uint32_t)len;
}

/* Formats the access log line for a response into wb->log, without the numbers known at its end. */
static void start_log(struct ws_conn *c, const struct ws_conn_env *env, struct ws_worker_buf *wb,
                      struct ws_view request_line, const struct ws_request *req)
{
    c->r->serve_start_us = 0;
    c->r->log_len =
        ws_conn_format_log(c, env, wb, request_line, req, c->r->status, 0, &c->r->log_split);
    if (c->r->log_len > 0 && ws_log_format(env->log) != WS_LOG_COMBINED) {
        c->r->serve_start_us = ws_now_us();
        c->r->wait_us = c->turn_wait_us;
    }
}

/* The request line of an unparseable request, for the log: its first line, trimmed. */
static struct ws_view first_line(const char *buf, size_t len)
{
    const char *nl = memchr(buf, '\n', len);
    size_t n = nl != NULL ? (size_t)(nl - buf) : len;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    return (struct ws_view){ buf, n };
}

enum send_result { SEND_DONE, SEND_BLOCKED, SEND_YIELD, SEND_FAILED };

/* Sends what is left of the response, segment by segment. */
static enum send_result send_response(struct ws_conn *c, struct ws_worker_buf *wb)
{
    const char *mem = c->r->out != NULL ? c->r->out : wb->out;
    int64_t file_sent = 0;

    while (c->r->cur_seg < c->r->n_segs) {
        struct ws_segment *seg = &c->r->segs[c->r->cur_seg];
        int last = c->r->cur_seg + 1 == c->r->n_segs;
        /*
         * The last bytes of a response after which the connection closes are
         * held back ("more") in the clear: the close that follows at once sends
         * them with the FIN in one packet, a packet fewer for both ends.
         */
        int hold = last && c->close_after && c->tls == NULL;

        while (c->r->mem_sent < seg->mem_len) {
            /* "More" lets the kernel put the head and the file's first bytes in one packet. */
            ssize_t n = ws_transport_send(c, mem + seg->mem_off + c->r->mem_sent,
                                          seg->mem_len - c->r->mem_sent,
                                          seg->file_len > 0 || !last || hold);
            if (n < 0)
                return errno == EAGAIN ? SEND_BLOCKED : SEND_FAILED;
            c->r->mem_sent += (uint32_t)n;
            c->r->bytes_sent += (uint64_t)n;
        }
        while (seg->file_len > 0) {
            size_t chunk = seg->file_len > (1 << 20) ? (size_t)1 << 20 : (size_t)seg->file_len;
            ssize_t n;
            if (file_sent >= TURN_MAX_FILE_BYTES)
                return SEND_YIELD;
            n = ws_transport_sendfile(c, c->r->file_fd, &seg->file_off, chunk, wb->tls_buf,
                                      sizeof(wb->tls_buf));
            if (n < 0)
                return errno == EAGAIN ? SEND_BLOCKED : SEND_FAILED;
            if (n == 0)
                return SEND_FAILED; /* the file shrank: the promised length cannot be met */
            seg->file_len -= n;
            file_sent += n;
            c->r->bytes_sent += (uint64_t)n;
        }
        c->r->cur_seg++;
        c->r->mem_sent = 0;
    }
    /* Nothing is held back after a last write; this keeps it so whatever the segments were. */
    if (ws_transport_flush(c) < 0)
        return errno == EAGAIN ? SEND_BLOCKED : SEND_FAILED;
    return SEND_DONE;
}

/*
 * The state of one turn: the connection, its environment, the worker's memory
 * and the turn's budgets.
 */
struct turn {
    struct ws_conn *c;
    const struct ws_conn_env *env;
    struct ws_worker_buf *wb;
    struct input in;
    unsigned responses;     /* responses completed in this turn */
    unsigned discard_reads; /* reads of unwanted input in this turn */
    int synced;             /* the next request may trust the watch's epoch (watch.h) */
    int fresh;              /* the event thread synced the watch before it pushed this turn */
    int out_blocked;        /* the last send would block, in the clear (conn.h's park_edge) */
    int64_t first_start_ms; /* phase_start_ms at the start of the turn */
};

/* What a phase step asks of the turn. */
enum step {
    STEP_NEXT,     /* go on: the phase changed or has more to do */
    STEP_WAIT_IN,  /* park until readable */
    STEP_WAIT_OUT, /* park until writable */
    STEP_CLOSE,    /* the connection is finished */
    STEP_PARKED,   /* parked already: HTTP/2 set the wait and the deadline itself */
};

/*
 * The --min-rate rule. The bytes a phase moves (read from the client; for a
 * response, taken by the client: sent less what the kernel still queues, so a
 * burst into its buffers counts only as it is read) are judged in windows. A
 * window is judged once it is rate_window_ms old, at the next progress or at
 * the deadline it sets, and fails when its average rate is below min_rate; a
 * new window then starts. So the first window is a grace period, and a client
 * well above the rate is never cut off however slow it is.
 */
static uint64_t bytes_moved(const struct ws_conn *c)
{
    int queued = 0;

    if (c->phase != WS_PHASE_SEND || c->r == NULL)
        return c->rate_in;
    if (ioctl(c->fd, SIOCOUTQ, &queued) < 0 || queued < 0)
        queued = 0;
    if (c->tls != NULL)
        queued += (int)ws_tls_unsent(c->tls); /* records batched, not yet sent */
    return c->r->bytes_sent > (uint64_t)queued ? c->r->bytes_sent - (uint64_t)queued : 0;
}

/* Judges the current window if it is old enough. Returns -1 when it failed. */
static int rate_judge(struct ws_conn *c, const struct ws_conn_env *env, int64_t now)
{
    int64_t elapsed = now - c->rate_start_ms;
    uint64_t moved;

    if (env->min_rate == 0 || elapsed < (int64_t)env->rate_window_ms)
        return 0;
    moved = bytes_moved(c);
    if (moved < c->rate_base ||
        (moved - c->rate_base) * 1000 < (uint64_t)env->min_rate * (uint64_t)elapsed)
        return -1;
    c->rate_start_ms = now;
    c->rate_base = moved;
    return 0;
}

/* Starts a phase: the fixed deadlines and the --min-rate window count from now. */
static void enter_phase(struct ws_conn *c, enum ws_conn_phase phase)
{
    c->phase = (uint8_t)phase;
    c->phase_start_ms = c->rate_start_ms = ws_now_ms();
    c->rate_in = 0;
    c->rate_base = 0; /* a response starts at bytes_sent 0: what it has moved is 0 too */
}

/*
 * The deadline of the phase the connection is in, with pending bytes of input
 * unconsumed: the one place that says how long each state may take.
 *   HEAD    a keep-alive connection may stay idle for the keep-alive timeout;
 *           once a request's first byte has come, the whole head must arrive
 *           within the header timeout of it (trickling never moves that), and
 *           at --min-rate.
 *   BODY    the body of a request already answered is read and dropped
 *           within the header timeout of its start, at --min-rate.
 *   SEND    a response may stall (no progress at all) for the send timeout,
 *           and must be read at --min-rate.
 *   LINGER  a lingering close ends at its fixed deadline.
 * Returns the deadline that no progress moves (for SEND, counted from now)
 * with its reason, and sets *slow to the reason to give when the --min-rate
 * rule applies (else WS_CLOSE_NONE).
 */
static int64_t fixed_deadline(const struct ws_conn *c, const struct ws_conn_env *env,
                              size_t pending, int64_t now, enum ws_close_reason *reason,
                              enum ws_close_reason *slow)
{
    *slow = WS_CLOSE_NONE;
    switch ((enum ws_conn_phase)c->phase) {
    case WS_PHASE_HEAD:
        if (pending == 0 && c->requests > 0) {
            *reason = WS_CLOSE_IDLE;
            return now + env->keepalive_timeout_ms;
        }
        *reason = WS_CLOSE_HEAD_TIMEOUT;
        /* A quiet new connection (a browser's pre-connect) is not slow; a started handshake is. */
        if (pending > 0 || (c->tls_checked && !SSL_is_init_finished(c->tls)))
            *slow = WS_CLOSE_SLOW_HEAD;
        return c->phase_start_ms + env->header_timeout_ms;
    case WS_PHASE_BODY:
        *reason = WS_CLOSE_BODY_BUDGET;
        *slow = WS_CLOSE_SLOW_BODY;
        return c->phase_start_ms + env->header_timeout_ms;
    case WS_PHASE_SEND:
        *reason = WS_CLOSE_SEND_STALL;
        *slow = WS_CLOSE_SLOW_READER;
        return now + env->send_timeout_ms;
    case WS_PHASE_COMPRESS:
        /* Parked only to yield, writable: back at once unless the ring is stuck. */
        *reason = WS_CLOSE_SEND_STALL;
        return now + env->send_timeout_ms;
    case WS_PHASE_LINGER: break;
    case WS_PHASE_H2: break; /* h2.c sets its own deadlines */
    }
    *reason = WS_CLOSE_NONE;
    return c->phase_start_ms + env->linger_timeout_ms;
}

/*
 * The deadline a parked connection waits under, with its reason: the fixed
 * deadline, or the end of the current --min-rate window when that comes first
 * (it is then judged, and may be extended: ws_conn_deadline_passed).
 */
static void own_deadline(struct ws_conn *c, const struct ws_conn_env *env)
{
    int64_t window_end = c->rate_start_ms + env->rate_window_ms;

    c->deadline_ms = c->fixed_deadline_ms;
    c->close_reason = c->fixed_reason;
    if (c->slow_reason != WS_CLOSE_NONE && env->min_rate > 0 && window_end < c->fixed_deadline_ms) {
        c->deadline_ms = window_end;
        c->close_reason = c->slow_reason;
    }
}

/* Sets the record's deadline for parking now (own_deadline, from the phase's fixed deadline). */
static void set_deadline(struct ws_conn *c, const struct ws_conn_env *env, size_t pending,
                         int64_t now)
{
    enum ws_close_reason reason, slow;

    c->fixed_deadline_ms = fixed_deadline(c, env, pending, now, &reason, &slow);
    c->fixed_reason = (uint8_t)reason;
    c->slow_reason = (uint8_t)slow;
    own_deadline(c, env);
}

/* Counts a close by its reason. */
static void count_close(const struct ws_conn_env *env, enum ws_close_reason r)
{
    if (env->closes != NULL && r != WS_CLOSE_NONE)
        atomic_fetch_add_explicit(&env->closes[r], 1, memory_order_relaxed);
}

/*
 * Gives up on a connection for a reason: counts it, and answers a half-sent
 * head with 408. A response nobody reads is aborted: the close then resets
 * the connection and frees what the kernel still holds for it at once,
 * instead of leaving an orphan that trickles it out to the same slow reader.
 */
static void give_up(struct ws_conn *c, const struct ws_conn_env *env, enum ws_close_reason r,
                    size_t pending)
{
    count_close(env, r);
    if (c->phase == WS_PHASE_H2 && r != WS_CLOSE_SLOW_READER && r != WS_CLOSE_SEND_STALL)
        ws_h2_goaway_now(c);
    if (c->phase == WS_PHASE_HEAD && pending > 0)
        (void)ws_transport_send(c, timeout_response, sizeof(timeout_response) - 1, 0);
    if (r == WS_CLOSE_SLOW_READER || r == WS_CLOSE_SEND_STALL) {
        static const struct linger abort_on_close = { 1, 0 };
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
    }
}

/*
 * A parked deadline has passed, with pending bytes of a request head
 * unconsumed: extends it (returns the new one) when it was only the end of
 * TLS's keep period or of a --min-rate window the client kept up with, else
 * gives up and returns 0.
 */
static int64_t deadline_passed(struct ws_conn *c, const struct ws_conn_env *env, int64_t now,
                               size_t pending)
{
    int64_t parked_until = c->deadline_ms;

    own_deadline(c, env);
    if (parked_until < c->deadline_ms) {
        /* ws_tls_park's keep period ended first: give the buffers back, and wait on. */
        ws_tls_idle(c->tls);
        if (now < c->deadline_ms)
            return c->deadline_ms;
    }
    if (now < c->fixed_deadline_ms && c->slow_reason != WS_CLOSE_NONE &&
        rate_judge(c, env, now) == 0) {
        /* Only a --min-rate window ended, and the client kept up: wait on. */
        own_deadline(c, env);
        return c->deadline_ms;
    }
    give_up(c, env, (enum ws_close_reason)c->close_reason, pending);
    return 0;
}

int ws_conn_in_flight(const struct ws_conn *c)
{
    /* A lingering close is a response's last step: cut short, the reset it
     * becomes can destroy the response's end before the client reads it. */
    return c->phase == WS_PHASE_SEND || c->phase == WS_PHASE_COMPRESS ||
           c->phase == WS_PHASE_LINGER || (c->phase == WS_PHASE_H2 && ws_h2_busy(c->h2));
}

int64_t ws_conn_deadline_passed(struct ws_conn *c, const struct ws_conn_env *env, int64_t now)
{
    return deadline_passed(c, env, now, c->saved_len);
}

/*
 * Whether a park for input may be an edge park (conn.h's park_edge): the
 * turn's last read found the socket empty, epoll never reported a hang-up,
 * and over TLS (but for a lingering close, which reads the socket itself)
 * OpenSSL has made no recv since and holds no input, whole or part of a
 * record: all it could still use comes after that read, so it makes epoll
 * report an edge. A record split across TCP segments whose first part
 * OpenSSL holds is a level park.
 */
static int input_edge(const struct turn *t)
{
    const struct ws_conn *c = t->c;
    int drained;

    /* After a hang-up a short read may have left the FIN unread, its edge spent (conn.h). */
    if (!t->in.drained || atomic_load_explicit(&c->hup, memory_order_relaxed))
        return 0;
    if (c->tls == NULL || c->phase == WS_PHASE_LINGER)
        return 1;
    return ws_tls_recvs(c->tls, &drained) == t->in.tls_recvs && !SSL_has_pending(c->tls);
}

/*
 * Ends the turn with the connection to be parked until `events` or its phase's
 * deadline: copies whatever the turn holds in worker memory (unconsumed input,
 * unsent response bytes, the pending log line) into the record. Closes instead
 * if the deadline has passed or that memory cannot be had.
 */
static enum ws_conn_verdict end_turn_parked(struct turn *t, uint32_t events)
{
    struct ws_conn *c = t->c;
    struct ws_worker_buf *wb = t->wb;
    size_t pending = t->in.len - t->in.start;
    int64_t now = ws_now_ms();

    set_deadline(c, t->env, pending, now);
    if (c->deadline_ms <= now && deadline_passed(c, t->env, now, pending) == 0)
        return WS_CONN_CLOSE; /* trickling bytes never buy time past a fixed deadline */
    if (pending > 0) {
        c->saved = malloc(pending);
        if (c->saved == NULL)
            return WS_CONN_CLOSE;
        memcpy(c->saved, t->in.buf + t->in.start, pending);
        c->saved_len = (uint32_t)pending;
    }
    if (c->r->out == NULL && c->r->out_len > 0 && c->r->cur_seg < c->r->n_segs) {
        /* The whole buffer, so segment offsets keep their meaning. */
        c->r->out = malloc(c->r->out_len);
        if (c->r->out == NULL)
            return WS_CONN_CLOSE;
        memcpy(c->r->out, wb->out, c->r->out_len);
    }
    if (c->r->log_line == NULL && c->r->log_len > 0) {
        c->r->log_line = malloc(c->r->log_len);
        if (c->r->log_line == NULL)
            return WS_CONN_CLOSE;
        memcpy(c->r->log_line, wb->log, c->r->log_len);
    }
    if (keep_response(c) < 0)
        return WS_CONN_CLOSE;
    if (events == EPOLLIN)
        c->deadline_ms = ws_tls_park(c->tls, now, c->deadline_ms);
    c->park_events = events;
    c->park_edge = (uint8_t)(events == EPOLLIN ? input_edge(t) : t->out_blocked);
    return WS_CONN_PARK;
}

/* --- the answer: resolve, plan, lay out as HTTP/1.1 ------------------------- */

/* Multipart: segment i is part header i and then range i; a last one for the delimiter. */
static int lay_out_multipart(struct ws_conn *c, struct ws_worker_buf *wb, const struct ws_plan *p,
                             int fd)
{
    uint32_t head_len = c->r->head_len, parts_len = p->end_off + p->end_len;
    struct ws_segment *segs;

    if (fd < 0 || head_len + parts_len > sizeof(wb->out))
        return -1;
    segs = malloc(((size_t)p->n_ranges + 1) * sizeof(*segs));
    if (segs == NULL)
        return -1;
    memcpy(wb->out + head_len, p->parts, parts_len);
    for (int i = 0; i < p->n_ranges; i++)
        segs[i] =
            (struct ws_segment){ head_len + p->part_off[i], p->part_len[i], p->ranges[i].first,
                                 p->ranges[i].last - p->ranges[i].first + 1 };
    segs[0].mem_off = 0;
    segs[0].mem_len += head_len;
    segs[p->n_ranges] = (struct ws_segment){ head_len + p->end_off, p->end_len, 0, 0 };
    c->r->segs = segs;
    c->r->n_segs = (uint16_t)(p->n_ranges + 1);
    c->r->out_len = head_len + parts_len;
    c->r->file_fd = fd;
    return 0;
}

/* Bytes in memory after the head: in the worker's buffer, or a buffer of their own. */
static int lay_out_mem(struct ws_conn *c, struct ws_worker_buf *wb, const char *mem, size_t len)
{
    char *heap;

    if (c->r->head_len + len <= sizeof(wb->out)) {
        memcpy(wb->out + c->r->head_len, mem, len);
        c->r->out_len += (uint32_t)len;
        return 0;
    }
    heap = malloc(c->r->head_len + len); /* a large listing */
    if (heap == NULL)
        return -1;
    memcpy(heap, wb->out, c->r->head_len);
    memcpy(heap + c->r->head_len, mem, len);
    c->r->out = heap;
    c->r->out_len += (uint32_t)len;
    return 0;
}

/*
 * Lays out the body of a plan behind its head in wb->out: small files and
 * pages are copied so that head and body go out in one write; a larger file
 * becomes a sendfile segment. Takes over src->fd. Returns 0, or -1 when the
 * promised body cannot be sent (the connection must then close after it).
 */
static int lay_out_body(struct ws_conn *c, struct ws_worker_buf *wb, const struct ws_plan *p,
                        struct ws_answer *src)
{
    int fd = src->fd, rc = 0;

    src->fd = -1;
    if (!p->send_body) {
        /* HEAD, 304: the fields describe a body that is not sent. */
    } else if (p->body == WS_BODY_MEM) {
        rc = lay_out_mem(c, wb, p->mem, p->mem_len);
    } else if (p->n_ranges > 1) {
        rc = lay_out_multipart(c, wb, p, fd);
        if (rc == 0)
            fd = -1;
    } else if (src->mem != NULL) {
        rc = lay_out_mem(c, wb, src->mem + p->offset, (size_t)p->length);
    } else if (p->length <= WS_SMALL_FILE_MAX) {
        ssize_t n =
            fd >= 0 ? pread(fd, wb->out + c->r->head_len, (size_t)p->length, p->offset) : -1;
        if (n < (ssize_t)p->length)
            rc = -1; /* truncated under us: the length cannot be met */
        c->r->out_len += n > 0 ? (uint32_t)n : 0;
    } else {
        c->r->seg.file_off = p->offset;
        c->r->seg.file_len = p->length;
        c->r->file_fd = fd;
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    if (c->r->n_segs == 1)
        c->r->seg.mem_len = c->r->out_len;
    return rc;
}

/*
 * Writes a plan as an HTTP/1.1 response into the worker's out buffer and the
 * record's segments, after "100 Continue" when the plan asks the client for
 * its body. Takes over src->fd.
 */
static void lay_out_response(struct ws_conn *c, struct ws_worker_buf *wb, const struct ws_plan *p,
                             struct ws_answer *src)
{
    static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    size_t pre = p->send_continue ? sizeof(continue_line) - 1 : 0;
    size_t head_len = ws_head_format(&p->head, wb->out + pre, WS_HEAD_MAX - pre);

    c->r->segs = &c->r->seg;
    c->r->seg = (struct ws_segment){ 0, 0, 0, 0 };
    c->r->n_segs = 1;
    if (head_len == 0) {
        /* Cannot happen with the plan's limits; if it does, answer nothing and close. */
        if (src->fd >= 0)
            close(src->fd);
        src->fd = -1;
        c->r->n_segs = 0;
        c->close_after = 1;
        c->linger = 0;
        return;
    }
    memcpy(wb->out, continue_line, pre);
    c->r->head_len = c->r->out_len = (uint32_t)(pre + head_len);
    if (lay_out_body(c, wb, p, src) < 0)
        c->close_after = 1;
}

/*
 * Answers a request (or bytes that could not be parsed: req NULL, status
 * given): plans the response, lays it out for sending, and moves to the send
 * phase, or to the body phase to drop first whatever of a request body has
 * already come (body_phase). Returns 0, or 1 when the answer needs a large
 * file compressed first: the request is then not answered, and the caller
 * leaves it in the input and enters the COMPRESS phase, which answers it
 * again once the job is done.
 */
static int respond(struct turn *t, const struct ws_request *req, int status,
                   struct ws_view request_line)
{
    struct ws_conn *c = t->c;
    const struct ws_conn_env *env = t->env;
    struct ws_worker_buf *wb = t->wb;
    struct ws_plan *p = &wb->plan;
    struct ws_answer src;
    int last;

    drop_response(c);
    c->requests++;
    last = atomic_load_explicit(env->draining, memory_order_relaxed) ||
           (env->max_requests > 0 && c->requests >= env->max_requests);
    src.job = c->zjob;
    ws_answer(env, wb, req, status, c->tls != NULL, last, t->synced, &c->peer.sa, &src);
    ws_compress_job_free(c->zjob); /* the request it was for is answered now, or has a new one */
    c->zjob = src.job;
    if (c->zjob != NULL) {
        c->requests--;
        enter_phase(c, WS_PHASE_COMPRESS);
        return 1;
    }
    t->synced = 0;
    c->r->status = p->status;
    c->close_after = (uint8_t)p->close;
    c->linger = (uint8_t)p->linger;
    c->r->body_left = p->discard;
    c->r->body_seen = 0;
    if (p->discard != 0)
        ws_chunked_init(&c->r->chunked);
    lay_out_response(c, wb, p, &src);
    free(src.listing);

    start_log(c, env, wb, request_line, req);
    /* A body the client is not waiting to be asked for: drop what has come first. */
    c->answered = c->r->body_left == 0 || p->send_continue || c->r->n_segs == 0;
    enter_phase(c, c->answered ? WS_PHASE_SEND : WS_PHASE_BODY);
    return 0;
}

/* --- the phases ------------------------------------------------------------ */

/* The step that waits for what the last call that would block needs (transport.h). */
static enum step wait_for_io(const struct ws_conn *c)
{
    return c->io_want == EPOLLOUT ? STEP_WAIT_OUT : STEP_WAIT_IN;
}

/*
 * Reads more input. Returns STEP_NEXT with bytes, else what the turn must do;
 * input below --min-rate closes the connection (slow is the reason to count).
 */
static enum step read_step(struct turn *t, enum ws_close_reason slow)
{
    ssize_t n = read_more(t->c, &t->in);

    if (n > 0) {
        t->c->rate_in += (uint64_t)n;
        if (rate_judge(t->c, t->env, ws_now_ms()) < 0) {
            give_up(t->c, t->env, slow, t->in.len - t->in.start);
            return STEP_CLOSE;
        }
        return STEP_NEXT;
    }
    if (n == 0 || errno != EAGAIN)
        return STEP_CLOSE;
    return wait_for_io(t->c);
}

/*
 * Whether input waits unread in the socket: a close now would reset the
 * connection, and the reset can destroy response bytes not yet delivered.
 */
static int input_waiting(const struct ws_conn *c)
{
    int n = 0;

    return ioctl(c->fd, FIONREAD, &n) == 0 && n > 0;
}

/* Enters the lingering close: shut our side, then read and drop input until EOF. */
static void begin_linger(struct turn *t)
{
    ws_transport_close_notify(t->c);
    shutdown(t->c->fd, SHUT_WR);
    enter_phase(t->c, WS_PHASE_LINGER);
    t->in.start = t->in.len = t->in.parsed_len = 0;
}

/* Said in the clear to a client that speaks HTTP to the TLS port, as nginx does. */
#define HTTPS_ONLY_BODY "This port speaks HTTPS: use an https:// address.\n"
_Static_assert(sizeof(HTTPS_ONLY_BODY) - 1 == 49, "Content-Length below must match the body");
static const char https_only_response[] = "HTTP/1.1 400 Bad Request\r\n"
                                          "Server: " WS_SERVER_NAME "\r\n"
                                          "Content-Type: text/plain; charset=utf-8\r\n"
                                          "Content-Length: 49\r\n"
                                          "Connection: close\r\n"
                                          "\r\n" HTTPS_ONLY_BODY;

/*
 * The TLS handshake, before the first request. Its first byte must start a
 * TLS handshake record (22); a request line in the clear gets a plain 400
 * that says why, anything else a close. The deadline is the head's.
 */
static enum step handshake_step(struct turn *t)
{
    struct ws_conn *c = t->c;
    int rc;

    if (!c->tls_checked) {
        unsigned char first;
        ssize_t n = recv(c->fd, &first, 1, MSG_PEEK);
        if (n < 0 && errno == EAGAIN)
            return STEP_WAIT_IN;
        if (n <= 0)
            return STEP_CLOSE;
        if (first != 22) {
            ws_tls_count_handshake(t->env->tls, c->tls, 0);
            c->tls_failed = 1;
            if (first < 'A' || first > 'Z')
                return STEP_CLOSE;
            (void)!send(c->fd, https_only_response, sizeof(https_only_response) - 1, MSG_NOSIGNAL);
            begin_linger(t); /* the rest of the request may still come: no reset */
            return STEP_NEXT;
        }
        c->tls_checked = 1;
    }
    rc = ws_transport_handshake(c);
    if (rc == 0) {
        /* A handshake that trickles is a slow head (--min-rate): count what it has read. */
        c->rate_in = BIO_number_read(SSL_get_rbio(c->tls));
        if (rate_judge(c, t->env, ws_now_ms()) < 0) {
            give_up(c, t->env, WS_CLOSE_SLOW_HEAD, 0);
            return STEP_CLOSE;
        }
        return wait_for_io(c);
    }
    ws_tls_count_handshake(t->env->tls, c->tls, rc == 1);
    return rc == 1 ? STEP_NEXT : STEP_CLOSE;
}

/* Whether TLS holds input already read from the socket, which epoll will not report. */
static int tls_input_pending(const struct ws_conn *c)
{
    return c->tls != NULL && SSL_has_pending(c->tls);
}

/* Turns Nagle's algorithm off, on TCP: a Unix socket has none (and no TCP options). */
static void set_nodelay(struct ws_conn *c)
{
    static const int one = 1;

    if (c->peer.sa.sa_family != AF_UNIX)
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->nodelay = 1;
}

/* The connection speaks HTTP/2 from here on: the input read so far goes to the session. */
static enum step enter_h2(struct turn *t)
{
    /* Many responses share the connection, each flushed when a turn ends: Nagle
     * would hold the last small frame of one for the client's delayed ACK. */
    set_nodelay(t->c);
    enter_phase(t->c, WS_PHASE_H2);
    t->c->phase_start_ms = t->first_start_ms; /* the first request's timeout, from the accept */
    return STEP_NEXT;
}

/* H2: a turn of the HTTP/2 session (h2.h), then, after a GOAWAY, a lingering close. */
static enum step h2_phase(struct turn *t)
{
    struct input *in = &t->in;
    enum ws_conn_verdict v =
        ws_h2_run(t->c, t->env, t->wb, in->buf + in->start, in->len - in->start, t->fresh);

    in->start = in->len = in->parsed_len = 0;
    if (v == WS_CONN_PARK)
        return STEP_PARKED;
    if (!ws_h2_linger(t->c->h2))
        return STEP_CLOSE;
    begin_linger(t);
    return STEP_NEXT;
}

/* HEAD: parse the next request from the input and answer it, or read more. */
static enum step head_phase(struct turn *t)
{
    struct ws_conn *c = t->c;
    struct input *in = &t->in;
    enum step step;
    size_t pending;

    if (c->tls != NULL && !SSL_is_init_finished(c->tls))
        return handshake_step(t);
    if (c->requests == 0 && t->env->http2 && in->start == 0) {
        if (c->tls != NULL) {
            const unsigned char *proto;
            unsigned len;
            SSL_get0_alpn_selected(c->tls, &proto, &len);
            if (len == 2 && memcmp(proto, "h2", 2) == 0)
                return enter_h2(t);
        } else if (in->len > 0) {
            int rc = ws_h2_is_preface(in->buf, in->len);
            if (rc > 0)
                return enter_h2(t);
            if (rc == 0)
                return read_step(t, WS_CLOSE_SLOW_HEAD); /* the start of a preface */
        }
    }

    if (in->len > in->start) {
        struct ws_request req;
        int rc = ws_http_parse_request(in->buf + in->start, in->len - in->start, in->parsed_len,
                                       &t->env->limits, &req);
        if (rc > 0) {
            if (respond(t, &req, 0, req.request_line) == 0)
                consume(in, (size_t)rc);
            return STEP_NEXT;
        }
        if (rc < 0) {
            respond(t, NULL, -rc, first_line(in->buf + in->start, in->len - in->start));
            consume(in, in->len - in->start);
            return STEP_NEXT;
        }
        in->parsed_len = in->len - in->start;
    }
    if (in->len == in->start && c->requests > 0 &&
        atomic_load_explicit(t->env->draining, memory_order_relaxed)) {
        /* Shutting down: no new requests. A close with a request unread would
         * be a reset that can destroy the end of the response before: then the
         * close lingers (RFC 9112 §9.6). */
        if (!input_waiting(c))
            return STEP_CLOSE;
        begin_linger(t);
        return STEP_NEXT;
    }
    pending = in->len - in->start;
    if (pending == 0) {
        /* The first byte of a request may come now: its head's deadlines count from it
         * (the first request's header timeout, from the accept). */
        int64_t start = c->phase_start_ms;
        enter_phase(c, WS_PHASE_HEAD);
        if (c->requests == 0)
            c->phase_start_ms = start;
    }
    step = read_step(t, WS_CLOSE_SLOW_HEAD);
    return step;
}

/* Consumes request body bytes from the input. Returns 1 when the body is done, 0, or -1. */
static int discard_body(struct ws_conn *c, const struct ws_conn_env *env, struct input *in)
{
    size_t avail = in->len - in->start;

    if (c->r->body_left > 0) {
        size_t take = (uint64_t)c->r->body_left < avail ? (size_t)c->r->body_left : avail;
        consume(in, take);
        c->r->body_left -= (int64_t)take;
        return c->r->body_left == 0;
    } else {
        size_t used = 0;
        int rc =
            ws_chunked_decode(&c->r->chunked, in->buf + in->start, avail, &used, &c->r->body_seen);
        consume(in, used);
        if (rc < 0 || c->r->body_seen > env->max_body)
            return -1;
        if (rc == 1)
            c->r->body_left = 0;
        return rc;
    }
}

/*
 * BODY: read and drop a request body. The answer never waits for it: before
 * the answer is sent, this drops only what has already come (so a malformed
 * or oversized body sent with its head still gets its 400 or 413), and the
 * first read that would block sends the answer; the rest is dropped after it,
 * within the budget of fixed_deadline and max_body, and a malformed or
 * oversized rest ends the connection with a lingering close.
 */
static enum step body_phase(struct turn *t)
{
    struct ws_conn *c = t->c;
    int rc = discard_body(c, t->env, &t->in);
    enum step step;

    if (rc < 0 && !c->answered) {
        int status = c->r->body_seen > t->env->max_body ? 413 : 400;
        drop_response(c);
        c->requests--;
        respond(t, NULL, status, (struct ws_view){ "-", 1 });
        return STEP_NEXT;
    }
    if (rc < 0) {
        if (c->r->body_seen > t->env->max_body)
            count_close(t->env, WS_CLOSE_BODY_BUDGET);
        begin_linger(t);
        return STEP_NEXT;
    }
    if (rc == 1) {
        enter_phase(c, c->answered ? WS_PHASE_HEAD : WS_PHASE_SEND);
        c->answered = 1;
        return STEP_NEXT;
    }
    if (++t->discard_reads > TURN_MAX_DISCARD_READS)
        /* Yield the worker: writable at once, so back soon (and TLS may hold input). */
        step = c->answered ? STEP_WAIT_OUT : STEP_WAIT_IN;
    else
        step = read_step(t, WS_CLOSE_SLOW_BODY);
    if (step == STEP_WAIT_IN && !c->answered) {
        enter_phase(c, WS_PHASE_SEND); /* the rest has not come: answer now */
        c->answered = 1;
        return STEP_NEXT;
    }
    return step;
}

/* The response has been sent: close, linger, or wait for the next request. */
static enum step response_done(struct turn *t)
{
    struct ws_conn *c = t->c;
    struct input *in = &t->in;

    log_response(c, t->env, t->wb);
    drop_response(c);
    if (c->close_after) {
        if (in->len == in->start &&
            (!c->linger || (c->linger == WS_LINGER_IF_INPUT && !input_waiting(c))))
            return STEP_CLOSE;
        begin_linger(t);
        return STEP_NEXT;
    }
    enter_phase(c, c->r->body_left != 0 ? WS_PHASE_BODY : WS_PHASE_HEAD);
    if (!c->nodelay) {
        /*
         * Kept alive: from now on a small response may follow one still
         * unacknowledged, and Nagle would hold it for the client's delayed
         * ACK. Set here, not at accept, so one-request connections skip it.
         */
        set_nodelay(c);
    }
    if (in->len == in->start && c->phase == WS_PHASE_HEAD && !tls_input_pending(c) &&
        !atomic_load_explicit(t->env->draining, memory_order_relaxed))
        /* Nothing buffered: the next request has not arrived, so do not
         * spend a read finding that out; epoll reports it when it does.
         * (Shutting down, head_phase closes, lingering if input waits.) */
        return STEP_WAIT_IN;
    if (++t->responses >= TURN_MAX_RESPONSES)
        return STEP_WAIT_OUT; /* yield the worker; writable at once, so back soon */
    return STEP_NEXT;
}

/* SEND: send what is left of the response, at --min-rate. */
static enum step send_phase(struct turn *t)
{
    enum send_result r = send_response(t->c, t->wb);

    t->out_blocked = r == SEND_BLOCKED && t->c->tls == NULL && t->c->io_want == EPOLLOUT;
    if (r != SEND_DONE && rate_judge(t->c, t->env, ws_now_ms()) < 0) {
        give_up(t->c, t->env, WS_CLOSE_SLOW_READER, 0);
        log_response(t->c, t->env, t->wb);
        return STEP_CLOSE;
    }
    switch (r) {
    case SEND_BLOCKED: return wait_for_io(t->c);
    case SEND_YIELD: return STEP_WAIT_OUT;
    case SEND_FAILED: log_response(t->c, t->env, t->wb); return STEP_CLOSE;
    case SEND_DONE: break;
    }
    return response_done(t);
}

/*
 * COMPRESS: a step of the job that compresses the file the request in the
 * input asks for; then the worker yields (writable at once, so back soon),
 * or, the job done, the request is answered again (head_phase) with it.
 */
static enum step compress_phase(struct turn *t)
{
    if (ws_compress_job_step(t->c->zjob) == 0)
        return STEP_WAIT_OUT;
    enter_phase(t->c, WS_PHASE_HEAD);
    return STEP_NEXT;
}

/* LINGER: read and drop input until EOF or the deadline. */
static enum step linger_phase(struct turn *t)
{
    for (;;) {
        ssize_t n = recv(t->c->fd, t->wb->in, WS_MAX_HEAD, 0);
        /* The socket itself, TLS or not: its bytes are dropped unread. */
        t->in.drained = n > 0 ? n < WS_MAX_HEAD : n < 0 && errno == EAGAIN;
        if (n > 0) {
            if (++t->discard_reads > TURN_MAX_DISCARD_READS)
                return STEP_WAIT_IN;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return STEP_WAIT_IN;
        return STEP_CLOSE;
    }
}

enum ws_conn_verdict ws_conn_run(struct ws_conn *c, const struct ws_conn_env *env,
                                 struct ws_worker_buf *wb)
{
    /*
     * The first request of this turn began after the event thread last synced
     * the watch when it starts at the first byte of the input, which was
     * already waiting when epoll reported the connection: nothing was left
     * over from earlier and no body precedes it (watch.h).
     */
    struct turn t = { .c = c,
                      .env = env,
                      .wb = wb,
                      .in = { .buf = wb->in },
                      .synced = c->synced && c->saved == NULL && c->phase == WS_PHASE_HEAD,
                      .fresh = c->synced,
                      .first_start_ms = c->phase_start_ms };

    c->synced = 0;
    c->park_edge = 0; /* a level park unless the park says otherwise (h2.c's park for HTTP/2) */
    if (c->r == NULL)
        c->r = fresh_response(wb);
    if (c->saved != NULL) {
        memcpy(wb->in, c->saved, c->saved_len);
        t.in.len = c->saved_len;
        free(c->saved);
        c->saved = NULL;
        c->saved_len = 0;
    }
    for (;;) {
        enum step step = STEP_CLOSE;
        switch ((enum ws_conn_phase)c->phase) {
        case WS_PHASE_HEAD: step = head_phase(&t); break;
        case WS_PHASE_BODY: step = body_phase(&t); break;
        case WS_PHASE_SEND: step = send_phase(&t); break;
        case WS_PHASE_LINGER: step = linger_phase(&t); break;
        case WS_PHASE_H2: step = h2_phase(&t); break;
        case WS_PHASE_COMPRESS: step = compress_phase(&t); break;
        }
        switch (step) {
        case STEP_NEXT: continue;
        case STEP_WAIT_IN: return end_turn_parked(&t, EPOLLIN);
        case STEP_WAIT_OUT: return end_turn_parked(&t, EPOLLOUT);
        case STEP_CLOSE: return WS_CONN_CLOSE;
        case STEP_PARKED: return keep_response(c) == 0 ? WS_CONN_PARK : WS_CONN_CLOSE;
        }
    }
}
