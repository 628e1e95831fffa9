/*
 * server/h2.h - HTTP/2 (RFC 9113) on a connection, over TLS (ALPN "h2") or in
 * the clear with prior knowledge (h2c).
 *
 * DESIGN
 * nghttp2 does the framing, HPACK, stream states and flow control; this module
 * does the I/O, the limits, RFC 9113 §8's request checks (nghttp2's HTTP
 * messaging is off) and the semantics. A connection that speaks HTTP/2
 * is still owned by one worker at a time and parked like any other: a turn
 * reads what has come and feeds it to the session, answers each request whose
 * header block is complete (the same ws_answer and response plan as HTTP/1.1,
 * written as a HEADERS frame and DATA frames), writes what the session has to
 * send until the socket is full or the session has nothing more, and parks the
 * connection for input, or for output when bytes wait. A turn yields its
 * worker after a budget of bytes written while the session has more to
 * write, so one busy multiplexed connection cannot keep a worker from the
 * others.
 *
 * Output goes through one buffer per connection: control frames, frame
 * headers and bodies from memory are copied into it; in the clear, file bytes
 * follow their 9-byte DATA frame header with sendfile (nghttp2's no-copy data
 * mode), so at most one file piece waits behind the buffer; over TLS they are
 * read into the buffer, several frames' payloads in one preadv when a stream
 * answers alone, and written with SSL_write in whole records while more
 * frames follow.
 *
 * Limits against known attacks, on by default: 100 concurrent streams; a
 * request header list over WS_H2_MAX_HEADER_LIST bytes (or more fields than
 * HTTP/1.1 allows) gets 431; a header block of more than WS_H2_MAX_CONTINUATIONS
 * CONTINUATION frames or WS_H2_MAX_HEADER_BLOCK bytes (or that decodes to
 * more than WS_H2_MAX_DECODED: an HPACK bomb), a client that resets
 * streams faster than a token bucket allows (CVE-2023-44487), and a flood of
 * PING, SETTINGS or PRIORITY frames end the connection with GOAWAY
 * ENHANCE_YOUR_CALM. The deadlines are HTTP/1.1's: a header block must
 * complete within --header-timeout, an idle connection closes after
 * --keepalive-timeout (with GOAWAY), and output that makes no progress (a full
 * socket or a zero window) for --send-timeout ends the connection.
 */
#ifndef WS_H2_H
#define WS_H2_H

#include "server/conn.h"

#include <stddef.h>

#define WS_H2_MAX_STREAMS       100   /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define WS_H2_MAX_HEADER_LIST   16384 /* SETTINGS_MAX_HEADER_LIST_SIZE; above it: 431 */
#define WS_H2_MAX_CONTINUATIONS 8     /* CONTINUATION frames in one header block */
#define WS_H2_MAX_HEADER_BLOCK  65536 /* bytes of one (compressed) header block */
#define WS_H2_MAX_DECODED       65536 /* ... and of the header list it decodes to */
#define WS_H2_RESET_BURST       200   /* client RST_STREAMs allowed at once ... */
#define WS_H2_RESET_RATE        100   /* ... and then per second */
#define WS_H2_CONTROL_BURST     1000  /* PING, SETTINGS and PRIORITY frames at once ... */
#define WS_H2_CONTROL_RATE      500   /* ... and then per second */

/* Counters kept in env->h2_counts, reported with the SIGUSR1 stats. */
enum ws_h2_count {
    WS_H2_CONNECTIONS, /* connections that spoke HTTP/2 */
    WS_H2_STREAMS,     /* requests answered */
    WS_H2_RESETS_SENT, /* RST_STREAM frames the server sent */
    WS_H2_CALM,        /* connections ended with GOAWAY ENHANCE_YOUR_CALM */
    WS_H2_COUNTS
};

/* The 24-byte client connection preface (RFC 9113 §3.4). */
#define WS_H2_PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define WS_H2_PREFACE_LEN 24

/*
 * Whether buf (len bytes, the start of a connection) is the preface: 1 when
 * it starts with the whole preface, 0 when it is a proper prefix of it (more
 * must be read to know), -1 when it is not.
 */
int ws_h2_is_preface(const char *buf, size_t len);

/*
 * Runs the connection as HTTP/2 for a turn; see the DESIGN note. The first
 * call makes the session; `in` holds bytes already read and not yet fed (the
 * preface and whatever followed it). synced: the turn's first read may trust
 * the watch's epoch (watch.h). Returns like ws_conn_run, with
 * c->park_events and the deadline set for parking; on a close,
 * ws_h2_linger says whether to close lingering.
 */
enum ws_conn_verdict ws_h2_run(struct ws_conn *c, const struct ws_conn_env *env,
                               struct ws_worker_buf *wb, const char *in, size_t in_len, int synced);

/*
 * Whether a close should linger (shut the write side, drop input for a
 * while): a GOAWAY went out, and closing with unread input would reset the
 * connection and could destroy it before the client reads it.
 */
int ws_h2_linger(const struct ws_h2 *h);

/* Whether the shutdown's GOAWAY has been submitted (a parked connection without it needs a turn).
 */
int ws_h2_told_to_go(const struct ws_h2 *h);

/* Whether streams are open (a graceful shutdown lets them finish). */
int ws_h2_busy(const struct ws_h2 *h);

/*
 * Best effort, never blocking, by whoever owns the connection: a GOAWAY
 * (NO_ERROR, the last stream the session processed) written straight to the
 * socket when no frame is half-written, before a close that is not the
 * session's own (a deadline, the start of a shutdown).
 */
void ws_h2_goaway_now(struct ws_conn *c);

/* Frees the session, its streams and their files. */
void ws_h2_free(struct ws_h2 *h);

#endif
