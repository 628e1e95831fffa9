/*
 * server/conn.h - one client connection and its HTTP state machine.
 *
 * DESIGN
 * A struct ws_conn holds everything about a client socket that must survive
 * between two turns of work: input received but not yet consumed, the response
 * still being sent, the request body still being discarded, and deadlines.
 * Whatever is only needed during a turn (the bytes being parsed, the response
 * head being built) lives in the running worker's struct ws_worker_buf instead,
 * and is copied into the record only when the connection must park with it
 * unfinished. An idle keep-alive connection therefore costs its record alone.
 *
 * Ownership. At every moment exactly one of these owns a connection: the event
 * thread (it is parked: in the epoll set, waiting to be readable or writable),
 * the ring buffer (queued), or one worker (running). Only the owner reads or
 * writes the record or touches its descriptors, and only the owner closes them.
 * Handing the descriptor on (parking, pushing, popping) hands ownership over;
 * the hand-overs go through a mutex, which orders the previous owner's writes
 * before the next owner's reads. The one exception is the ownership word
 * `own` (loop.h): the event thread sets edge bits in it while another owns the
 * record, by compare-and-swap, and touches nothing else of it; and a closed
 * record that was ever registered is freed by its event thread (loop.h's
 * graveyard), not by the owner that closed it.
 *
 * ws_conn_run is called by the worker that owns the connection. It does not
 * block: it runs the connection until the socket has nothing more to give or
 * cannot take more, then says whether to park the connection (and for what) or
 * to close it. It never closes the socket itself.
 */
#ifndef WS_CONN_H
#define WS_CONN_H

#include "http/auth.h"
#include "http/metrics.h"
#include "http/plan.h"
#include "http/validators.h"
#include "http/request_parser.h"
#include "server/log.h"
#include "server/static_file.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Request line longer than this: 414. */
#define WS_MAX_REQUEST_LINE 8192
/* Header section (request line included) longer than this: 431. */
#define WS_MAX_HEAD 16384
/* Files up to this size are read into memory and sent with their head in one write. */
#define WS_SMALL_FILE_MAX 16384
/*
 * Room for a response head: the server's own fields (a Location of up to
 * WS_PLAN_LOCATION_MAX bytes the largest), the operator's (at most
 * WS_SITE_FIELD_BYTES) and CORS's.
 */
#define WS_HEAD_MAX 4096
/* HTTP/2's output buffer (h2.c): 64 KiB of frames, and room for one more DATA frame. */
#define WS_H2_OUT (80 * 1024 + 64)

enum ws_conn_phase {
    WS_PHASE_HEAD = 0, /* waiting for (the rest of) a request header */
    WS_PHASE_BODY,     /* dropping a request body: what has come, then (answered) the rest */
    WS_PHASE_SEND,     /* sending a response */
    WS_PHASE_LINGER,   /* answered and write side shut; draining input before close */
    WS_PHASE_H2,       /* speaking HTTP/2: the session (h2.h) runs the connection */
    WS_PHASE_COMPRESS, /* compressing a large file for the request in the input (compress.h) */
};

/* A piece of a response: out[mem_off, +mem_len), then file bytes [file_off, +file_len). */
struct ws_auth;
struct ws_auth_worker;
struct ws_compress_job;

struct ws_segment {
    uint32_t mem_off, mem_len;
    int64_t file_off, file_len;
};

/*
 * Why a connection was closed before it finished, counted by the server
 * (SIGUSR1 stats) and logged once per reason per interval.
 */
enum ws_close_reason {
    WS_CLOSE_NONE = 0,     /* not a reason to count: a lingering close ending */
    WS_CLOSE_IDLE,         /* no new request within --keepalive-timeout */
    WS_CLOSE_HEAD_TIMEOUT, /* a request head not complete within --header-timeout */
    WS_CLOSE_SLOW_HEAD,    /* a request head arriving slower than --min-rate */
    WS_CLOSE_BODY_BUDGET,  /* a request body not read within its budget of time or bytes */
    WS_CLOSE_SLOW_BODY,    /* a request body arriving slower than --min-rate */
    WS_CLOSE_SEND_STALL,   /* a response not read at all for --send-timeout */
    WS_CLOSE_SLOW_READER,  /* a response read slower than --min-rate */
    WS_CLOSE_REASONS
};

/* A name for the log and the stats: "idle", "head_timeout", ... */
const char *ws_close_reason_name(enum ws_close_reason r);

enum ws_conn_verdict {
    WS_CONN_PARK,  /* park: wait for conn->park_events, until conn->deadline_ms */
    WS_CONN_CLOSE, /* done: the owner closes and frees the connection */
};

/* Context shared by every worker: read-only but for draining and the closes counters. */
struct ws_conn_env {
    struct ws_static_opts statics; /* root, dotfiles, listings, MIME overrides */
    int error_pages_fd;            /* --error-pages directory, or -1 */
    enum ws_cache_mode cache_mode;
    unsigned cache_max_age; /* with WS_CACHE_FIXED */
    struct ws_log *log;
    const struct ws_cidr *trusted; /* --trusted-proxy blocks, n_trusted of them */
    unsigned n_trusted;
    const atomic_int *draining; /* nonzero once shutdown began: finish, do not keep alive */
    struct ws_parse_limits limits;
    unsigned header_timeout_ms;
    unsigned keepalive_timeout_ms;
    unsigned send_timeout_ms;
    unsigned linger_timeout_ms;
    unsigned min_rate;       /* bytes per second a transfer must keep up; 0: no minimum */
    unsigned rate_window_ms; /* ... measured over windows this long (the first one is the grace) */
    unsigned max_requests;
    uint64_t max_body;
    atomic_ulong *closes;       /* WS_CLOSE_REASONS counters, or NULL */
    struct ws_tls *tls;         /* counts handshakes (tls.h), or NULL */
    int http2;                  /* --http2: h2 by ALPN, h2c by the preface */
    atomic_ulong *h2_counts;    /* WS_H2_COUNTS counters (h2.h), or NULL */
    unsigned hsts_secs;         /* Strict-Transport-Security over TLS; 0: none */
    const struct ws_site *site; /* --header, --cors, --health, --fallback (site.h), or NULL */
    int https_redirect_port;    /* --redirect-https: cleartext requests get 308 to this port */
    int gzip_level;             /* --compress-level (compress.h) */
    int zstd_level;
    int64_t compress_min;                     /* --compress-min */
    struct ws_auth *auth;                     /* --auth-file's table (server/auth.h), or NULL */
    const struct ws_auth_policy *auth_policy; /* ... its paths and challenge (http/auth.h) */
    /*
     * With --metrics: fills a snapshot of the server's counters (server.c).
     * Called by a worker while it answers; takes the park lock and the
     * ring's mutex for a moment, so the caller may hold neither.
     */
    void (*metrics)(void *ctx, struct ws_metrics *out);
    void *metrics_ctx;
};

/*
 * A response on its way out, and the request body being dropped around it:
 * what a connection needs only between a request and the end of its answer.
 * During a turn it is the worker's (ws_worker_buf.resp); a turn that parks
 * with a response or a body still in flight moves it into a record of its
 * own (malloc, `owned`), freed once they are done. An idle connection holds
 * none (ws_conn.r is NULL): its record is then 200 bytes in all.
 */
struct ws_response {
    /*
     * The response being sent: a list of segments, each some bytes of the
     * response buffer followed by a range of the file. An ordinary response is
     * one segment (head, maybe a small body; then the file); a multipart range
     * response has one per range. The buffer is the worker's out buffer during
     * the turn that built it, and `out` (owned) once it must outlive a turn.
     */
    char *out;
    uint32_t out_len;  /* bytes in the response buffer */
    uint32_t head_len; /* the first head_len of them are the response head */
    uint32_t mem_sent; /* bytes of the current segment's memory part already sent */
    uint16_t n_segs, cur_seg;
    struct ws_segment seg;   /* the single segment of an ordinary response */
    struct ws_segment *segs; /* &seg, or a malloc'd array for multipart */
    int file_fd;
    uint64_t bytes_sent; /* head and body bytes written, for the access log */
    int status;

    /* Access log line of the response being sent, kept only while parked. */
    char *log_line;
    uint32_t log_len, log_split;
    int64_t wait_us;        /* ring wait of the turn in which the current response began */
    int64_t serve_start_us; /* when the current response began, if timing is logged */

    /* Request body being dropped: what came with the head, then the rest after the answer. */
    int64_t body_left; /* bytes left with Content-Length; -1 while chunked */
    uint64_t body_seen;
    struct ws_chunked chunked;
    uint8_t owned; /* the connection's own (malloc), not the worker's */
};

/* Per-worker scratch memory, reused for every connection that worker runs. */
struct ws_worker_buf {
    char in[WS_MAX_HEAD];                      /* request bytes */
    char out[WS_HEAD_MAX + WS_SMALL_FILE_MAX]; /* response head (+ small body) */
    char path[WS_MAX_REQUEST_LINE + 16];       /* decoded request path */
    char log[8192];                            /* access log line being built */
    char tls_buf[65536];                       /* file bytes on their way into TLS records */
    char h2_out[WS_H2_OUT];                    /* HTTP/2 frames on their way out (h2.c) */
    struct ws_plan plan;                       /* the response being prepared */
    time_t date_second;                        /* second the cached dates are for */
    char date[32];                             /* IMF-fixdate of date_second */
    uint64_t boundary_seed;                    /* for multipart boundaries */
    struct ws_file_cache *cache;               /* this worker's own cache of small files */
    struct ws_compress_cache *zcache;          /* ... and of compressed ones, or NULL */
    struct ws_auth_worker *auth;               /* crypt state and recent checks, or NULL */
    char auth_user[256];    /* the user the last answer authenticated, for the access log */
    uint16_t auth_user_len; /* ... or 0 */
    /* Responses completed, by protocol and status class, and their body bytes: read by the
     * stats report and the metrics (ws_conn_count_response) */
    atomic_ullong responses[WS_METRICS_PROTOS][WS_METRICS_CLASSES];
    atomic_ullong body_bytes[WS_METRICS_PROTOS];
    struct ws_log_buffer log_buffer; /* finished access log lines not yet written */
    struct ws_response resp;         /* the response of the connection in its turn */
};

/*
 * The record of a connection. Its fields are grouped by who may touch them;
 * "the owner" is whoever owns the connection at the time (conn.h's DESIGN).
 */
struct ws_conn {
    /* Set at accept, then only read until the record is freed. */
    int fd;
    union { /* of an AF_UNIX peer (a --listen socket), only sa.sa_family is set */
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } peer;
    /*
     * The event thread's parking set (loop.h) that accepted the connection: a
     * worker always parks it back there, so that one thread alone watches it.
     */
    struct ws_loop *loop;

    /*
     * The parking hand-over (server.c): written by the worker that parks the
     * connection and read by the event thread, or written by the event thread
     * before it pushes; the park lock or the ring's mutex orders each hand-over.
     * heap_index is guarded by the park lock itself.
     */
    uint32_t park_events; /* EPOLLIN or EPOLLOUT, for the next park */
    /*
     * The ownership word (loop.h): WS_OWN_OWNED, _PARKED or _CLOSED, and the
     * edges epoll reported while it was not parked. Atomic: see Ownership.
     */
    _Atomic uint32_t own;
    int64_t deadline_ms; /* monotonic ms after which a parked conn is closed */
    uint32_t heap_index; /* slot in the event thread's deadline heap, or UINT32_MAX */
    uint8_t registered;  /* fd is in its loop's epoll set (edge-triggered, for good) */
    uint8_t armed;       /* ... for these of EPOLLIN and EPOLLOUT (loop.c's arm) */
    /*
     * The next park is an edge park: since the turn began, the socket refused
     * what park_events asks for (a read or write that would block, or a short
     * read; over TLS, for input only, the last recv OpenSSL made, with nothing
     * left in OpenSSL: conn.c's input_edge), so an edge comes when it is
     * ready. 0: a level park, the kernel is asked to look now (loop.h). Set by
     * ws_conn_run.
     */
    uint8_t park_edge;
    uint8_t synced;       /* pushed for input, after the event thread synced the watch */
    int64_t queued_us;    /* when it was last pushed into the ring (ws_now_us) */
    int64_t turn_wait_us; /* how long this turn waited in the ring */

    /*
     * TLS (transport.h), or NULL for plain TCP. The server sets it right after
     * accept; then the owner's alone, freed with the record.
     */
    struct ssl_st *tls;
    uint8_t tls_failed;  /* a fatal TLS error: no close_notify */
    uint8_t tls_checked; /* the first byte was seen to start a TLS record */
    /*
     * epoll reported a hang-up (EPOLLRDHUP, EPOLLHUP or EPOLLERR): set by the
     * event thread before the hand-over that passes it on (loop.c), never
     * cleared. A read that came back short may have left the client's FIN
     * behind it, whose edge is spent: the next park for input is a level park.
     */
    _Atomic uint8_t hup;
    uint32_t io_want; /* EPOLLIN or EPOLLOUT: what the last call that would block waits for */

    union {
        /* HTTP/2 (h2.h) once the connection speaks it, or NULL; the owner's, freed by
         * ws_conn_close. */
        struct ws_h2 *h2;
        /* Once closed (ws_conn_close), the next record in its loop's graveyard (loop.h). */
        struct ws_conn *grave_next;
    };
    struct ws_compress_job *zjob; /* COMPRESS: the job, kept until its request is answered */

    /* The state machine: the owner's alone. */
    uint8_t phase;          /* enum ws_conn_phase */
    uint8_t close_after;    /* close once the current response has been sent */
    uint8_t linger;         /* ... with a lingering close (unread input may follow) */
    uint8_t nodelay;        /* TCP_NODELAY is set (once the connection is kept alive) */
    uint8_t answered;       /* the response to the current request is sent or being sent */
    uint32_t requests;      /* responses started on this connection */
    int64_t phase_start_ms; /* monotonic ms a fixed deadline counts from (fixed_deadline) */
    int64_t rate_start_ms;  /* start of the current --min-rate window */
    uint64_t rate_base;     /* bytes the phase had moved then (bytes_moved) */
    uint64_t rate_in;       /* bytes read in this phase */

    /* The deadline a parked connection waits under (set_deadline), the owner's. */
    int64_t fixed_deadline_ms; /* the part that no progress moves */
    uint8_t fixed_reason;      /* enum ws_close_reason if it passes */
    uint8_t slow_reason;       /* ... if a --min-rate window fails; WS_CLOSE_NONE: no rate */
    uint8_t close_reason;      /* ... for deadline_ms, the earlier of the two */

    /* Input received but not yet consumed; owned (malloc) only while parked. */
    char *saved;
    uint32_t saved_len;

    /* The response in flight (struct ws_response), or NULL while none is. */
    struct ws_response *r;
};

/* A new record for an accepted socket, or NULL (errno ENOMEM). */
struct ws_conn *ws_conn_new(int fd, const struct sockaddr *peer, int64_t now_ms);

/* Closes the socket and any open file, and frees the record. Owner only. */
void ws_conn_free(struct ws_conn *c);

/*
 * Closes the socket and any open file and frees what the record holds, but
 * not the record itself: ws__loop_retire (loop.h) frees it when no event can
 * name it any more. Owner only; ws_conn_free may follow.
 */
void ws_conn_close(struct ws_conn *c);

/* Runs the connection until it would block; see the DESIGN note above. */
enum ws_conn_verdict ws_conn_run(struct ws_conn *c, const struct ws_conn_env *env,
                                 struct ws_worker_buf *wb);

/*
 * Called by the owner (the event thread) when a parked connection's deadline
 * has passed at monotonic ms `now`. When that deadline was only the end of a
 * --min-rate window and the client kept up, or only the end of TLS's keep
 * period (ws_tls_park: the buffers are given back now), returns the new
 * deadline (> now, also stored in deadline_ms): the connection stays parked.
 * Otherwise counts the close by its reason in env->closes, gives a connection
 * that has received part of a request head a best-effort 408 (never blocks),
 * and returns 0: the caller closes it.
 */
int64_t ws_conn_deadline_passed(struct ws_conn *c, const struct ws_conn_env *env, int64_t now);

/*
 * Whether a parked connection has work in flight that a graceful shutdown
 * lets finish (a response being sent, HTTP/2 streams open, a lingering close,
 * which its fixed deadline bounds); the others close at once when it begins.
 */
int ws_conn_in_flight(const struct ws_conn *c);

/*
 * Formats the start of the access log line of a response into wb->log
 * (ws_log_format_start, with the client as --trusted-proxy says and TLS
 * details): returns its length, 0 when the access log is off; *split is
 * where the byte count goes. stream: the HTTP/2 stream id, or 0.
 */
uint32_t ws_conn_format_log(const struct ws_conn *c, const struct ws_conn_env *env,
                            struct ws_worker_buf *wb, struct ws_view request_line,
                            const struct ws_request *req, int status, int stream, uint32_t *split);

/*
 * Counts a completed response in wb by protocol and status class (below
 * 200: 1xx, 500 and above: 5xx), with its body bytes, for the stats and the metrics. The worker's
 * own wb only; any thread may read the counters.
 */
void ws_conn_count_response(struct ws_worker_buf *wb, enum ws_metrics_proto proto, int status,
                            uint64_t body_bytes);

/* Monotonic microseconds, precise: for the timing the access log reports. */
int64_t ws_now_us(void);

/* Monotonic milliseconds (coarse clock; deadlines need no finer grain). */
int64_t ws_now_ms(void);

#endif
