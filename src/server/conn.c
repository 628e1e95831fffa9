/*
 * server/conn.c - the per-connection HTTP state machine; see conn.h for the design.
 *
 * DESIGN
 * ws_conn_run is only ever called by the worker that owns the connection, so
 * nothing here takes a lock except the log's print lock (inside ws_log_access).
 * A turn moves through the phases
 *
 *   HEAD --(request with a body)--> BODY --> SEND --(keep-alive)--> HEAD
 *     \--(request without body)------------>/   \--(close)--> LINGER or close
 *
 * and ends when the socket would block (park) or the connection is finished
 * (close). The input being parsed lives in the worker's buffer for the turn and
 * is copied into the record only if the turn ends with bytes unconsumed.
 */
#include "server/conn.h"

#include "http/validators.h"
#include "http/forwarded.h"
#include "http/httpdate.h"
#include "server/log.h"
#include "http/range.h"
#include "http/head.h"
#include "server/static_file.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* Responses one connection may get in a turn before it yields its worker. */
#define TURN_MAX_RESPONSES 16
/* File bytes one connection may send in a turn before it yields its worker. */
#define TURN_MAX_FILE_BYTES (4 << 20)
/* Reads of unwanted input (body, lingering) in a turn before it yields. */
#define TURN_MAX_DISCARD_READS 64

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

static const char timeout_response[] = "HTTP/1.1 408 Request Timeout\r\n"
                                       "Server: " WS_SERVER_NAME "\r\n"
                                       "Content-Length: 0\r\n"
                                       "Connection: close\r\n"
                                       "\r\n";

void ws_conn_timed_out(struct ws_conn *c, size_t pending)
{
    if (c->phase == WS_PHASE_HEAD && pending > 0)
        (void)!send(c->fd, timeout_response, sizeof(timeout_response) - 1,
                    MSG_NOSIGNAL | MSG_DONTWAIT);
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
    c->file_fd = -1;
    c->segs = &c->seg;
    c->heap_index = UINT32_MAX;
    c->request_start_ms = now_ms;
    if (peer != NULL && peer->sa_family == AF_INET6)
        memcpy(&c->peer.in6, peer, sizeof(c->peer.in6));
    else if (peer != NULL && peer->sa_family == AF_INET)
        memcpy(&c->peer.in4, peer, sizeof(c->peer.in4));
    return c;
}

static void drop_response(struct ws_conn *c)
{
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = -1;
    free(c->out);
    c->out = NULL;
    c->out_len = c->head_len = c->mem_sent = 0;
    if (c->segs != &c->seg)
        free(c->segs);
    c->segs = &c->seg;
    c->n_segs = c->cur_seg = 0;
    c->bytes_sent = 0;
    free(c->log_line);
    c->log_line = NULL;
    c->log_len = 0;
}

void ws_conn_free(struct ws_conn *c)
{
    if (c == NULL)
        return;
    drop_response(c);
    free(c->saved);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

/* Refreshes the worker's cached Date header and log time once a second. */
static void refresh_dates(struct ws_worker_buf *wb)
{
    time_t now = time(NULL);
    if (now != wb->date_second) {
        wb->date_second = now;
        ws_httpdate_format(now, wb->date);
    }
}

/*
 * A turn's view of the input: wb->in[start..len) holds bytes received and not
 * yet consumed, and parsed_len how many of them the parser has already seen
 * without finding a whole header section.
 */
struct input {
    char *buf;
    size_t start, len, parsed_len;
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
    do
        n = recv(c->fd, in->buf + in->len, WS_MAX_HEAD - in->len, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        in->len += (size_t)n;
    return n;
}

/*
 * Ends the turn with the connection parked: copies whatever the turn holds in
 * worker memory (unconsumed input, unsent response bytes, the pending log line)
 * into the record. Closes instead if that memory cannot be had.
 */
static enum ws_conn_verdict park(struct ws_conn *c, struct ws_worker_buf *wb, struct input *in,
                                 uint32_t events, int64_t deadline_ms)
{
    size_t pending = in->len - in->start;

    if (deadline_ms <= ws_now_ms()) {
        /* Trickling bytes never buy time past a deadline that is fixed. */
        ws_conn_timed_out(c, pending);
        return WS_CONN_CLOSE;
    }

    if (pending > 0) {
        c->saved = malloc(pending);
        if (c->saved == NULL)
            return WS_CONN_CLOSE;
        memcpy(c->saved, in->buf + in->start, pending);
        c->saved_len = (uint32_t)pending;
    }
    if (c->out == NULL && c->out_len > 0 && c->cur_seg < c->n_segs) {
        /* The whole buffer, so segment offsets keep their meaning. */
        c->out = malloc(c->out_len);
        if (c->out == NULL)
            return WS_CONN_CLOSE;
        memcpy(c->out, wb->out, c->out_len);
    }
    if (c->log_line == NULL && c->log_len > 0) {
        c->log_line = malloc(c->log_len);
        if (c->log_line == NULL)
            return WS_CONN_CLOSE;
        memcpy(c->log_line, wb->log, c->log_len);
    }
    c->park_events = events;
    c->deadline_ms = deadline_ms;
    return WS_CONN_PARK;
}

/* Writes the access log line of the response that just ended, if any, and counts it. */
static void log_response(struct ws_conn *c, const struct ws_conn_env *env, struct ws_worker_buf *wb)
{
    atomic_fetch_add_explicit(&wb->served, 1, memory_order_relaxed);
    if (c->log_len > 0) {
        const char *line = c->log_line != NULL ? c->log_line : wb->log;
        uint64_t body = c->bytes_sent > c->head_len ? c->bytes_sent - c->head_len : 0;
        int64_t serve_us = c->serve_start_us ? ws_now_us() - c->serve_start_us : 0;
        ws_log_access(env->log, &wb->log_buffer, line, c->log_len, c->log_split, body, c->wait_us,
                      serve_us);
    }
    free(c->log_line);
    c->log_line = NULL;
    c->log_len = 0;
}

/* Formats the access log line for a response into wb->log, without the numbers known at its end. */
static void start_log(struct ws_conn *c, const struct ws_conn_env *env, struct ws_worker_buf *wb,
                      struct ws_view request_line, const struct ws_request *req)
{
    struct ws_access_fields f = { .request_line = request_line, .when = wb->date_second };
    enum ws_log_format format = ws_log_format(env->log);
    char client[INET6_ADDRSTRLEN];
    size_t split;

    c->log_len = 0;
    c->serve_start_us = 0;
    if (!ws_log_access_enabled(env->log))
        return;
    if (format != WS_LOG_COMBINED) {
        c->serve_start_us = ws_now_us();
        c->wait_us = c->turn_wait_us;
    }
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
    f.status = c->status;
    c->log_len = (uint32_t)ws_log_format_start(format, wb->log, sizeof(wb->log), &f, &split);
    c->log_split = (uint32_t)split;
}

/* The field `name` if the request has exactly one line of it, else NULL. */
static const struct ws_header *only_header(const struct ws_request *req, const char *name)
{
    const struct ws_header *found = NULL;
    for (size_t i = 0; i < req->header_count; i++)
        if (ws_view_eq_nocase(req->headers[i].name, name)) {
            if (found != NULL)
                return NULL;
            found = &req->headers[i];
        }
    return found;
}

/* Statuses after which the byte stream can still be trusted: keep the connection. */
static int keeps_connection(int status)
{
    return status < 400 || status == 403 || status == 404 || status == 405 || status == 412 ||
           status == 416 || status == 501;
}

/*
 * The status for a well-formed request, opening the file it names into *sr
 * when there is one.
 */
static int decide(const struct ws_conn_env *env, struct ws_worker_buf *wb, int synced,
                  const struct ws_request *req, struct ws_static_result *sr)
{
    if (req->expect_other)
        return 417;
    if (req->method == WS_METHOD_UNKNOWN)
        return 501;
    if (req->method == WS_METHOD_OPTIONS)
        return 200; /* for "*" and for any path: what we allow does not vary */
    if (req->method != WS_METHOD_GET && req->method != WS_METHOD_HEAD)
        return 405;
    if (req->target_form == WS_TARGET_ASTERISK)
        return 400;
    if (req->content_length > 0 && (uint64_t)req->content_length > env->max_body)
        return 413;
    /* Ranges are cut from the file itself, so those requests skip the cache. */
    ws_static_open(
        &env->statics,
        req->method == WS_METHOD_GET && ws_request_header(req, "range") != NULL ? NULL : wb->cache,
        synced, req, wb->path, sizeof(wb->path), sr);
    return sr->status;
}

/* A multipart boundary: 16 hex digits from the worker's xorshift generator. */
static void make_boundary(struct ws_worker_buf *wb, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t x = wb->boundary_seed;

    if (x == 0)
        x = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)wb;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    wb->boundary_seed = x;
    for (int i = 0; i < 16; i++)
        out[i] = hex[(x >> (4 * i)) & 15];
    out[16] = '\0';
}

/* What the body of a response is made of, before the head is written. */
struct body {
    int fd;           /* file to send from, or -1 */
    int64_t off, len; /* file range */
    const char *mem;  /* or bytes in memory (a page, a listing) */
    size_t mem_len;
    int n_ranges; /* > 1: multipart/byteranges over these */
    struct ws_range ranges[WS_RANGE_MAX];
    int64_t size; /* size of the whole representation, for part headers */
};

/*
 * Builds the response to a request (or to a request that could not be parsed:
 * req NULL, status given) into the worker's out buffer and the record. The
 * response is sent in the SEND phase, after any request body is discarded.
 */
static void prepare_response(struct ws_conn *c, const struct ws_conn_env *env,
                             struct ws_worker_buf *wb, const struct ws_request *req, int status,
                             struct ws_view request_line, int synced)
{
    struct ws_static_result sr = { .fd = -1 };
    struct body body = { .fd = -1 };
    struct ws_head head = { 0 };
    char last_modified[WS_HTTPDATE_LEN + 1], etag[WS_ETAG_MAX], cache_buf[64];
    char content_range[80], content_type[96], boundary[17], page[1024];
    uint32_t part_len[WS_RANGE_MAX];
    int head_only = req != NULL && req->method == WS_METHOD_HEAD;
    size_t head_len, body_mem = 0;
    char *heap_out = NULL;

    refresh_dates(wb);
    drop_response(c);
    c->requests++;
    c->close_after = req == NULL || !req->keep_alive ||
                     atomic_load_explicit(env->draining, memory_order_relaxed) ||
                     (env->max_requests > 0 && c->requests >= env->max_requests);
    c->linger = req == NULL; /* the rest of a bad request may still be arriving */

    if (req != NULL && status == 0)
        status = decide(env, wb, synced, req, &sr);

    /* A request body is discarded before answering, unless it is too large. */
    c->body_left = 0;
    if (req != NULL && (req->content_length > 0 || req->chunked)) {
        if (status == 413 || status == 417) {
            c->close_after = 1;
            c->linger = 1;
        } else {
            c->body_left = req->chunked ? -1 : req->content_length;
            c->body_seen = 0;
            ws_chunked_init(&c->chunked);
        }
    }

    head.date = wb->date;
    if (status == 301 && strlen(sr.location) > WS_HEAD_MAX / 2)
        status = 414; /* a Location this long would not fit the head */

    if (status == 200 && (sr.fd >= 0 || sr.mem != NULL)) {
        /* A file: validators, caching, preconditions, ranges. */
        struct ws_view tag = { etag, ws_etag_format((uint64_t)sr.st.st_size, sr.st.st_mtim.tv_sec,
                                                    sr.st.st_mtim.tv_nsec, etag) };
        const struct ws_header *range = NULL;
        int pre = ws_preconditions(req, tag, sr.st.st_mtime);

        ws_httpdate_format(sr.st.st_mtime, last_modified);
        head.etag = etag;
        head.last_modified = last_modified;
        head.vary_accept_encoding = sr.vary;
        head.cache_control = ws_cache_control(env->cache_mode, env->cache_max_age, sr.name,
                                              sr.name_len, sr.content_type, cache_buf);
        body.fd = sr.fd;
        body.mem = sr.mem;
        body.mem_len = sr.mem != NULL ? (size_t)sr.st.st_size : 0;
        body.size = sr.st.st_size;
        body.len = sr.st.st_size;
        sr.fd = -1;
        if (pre != 0) {
            status = pre; /* 304, or 412 (then an error page, below) */
        } else {
            head.content_type = sr.content_type;
            head.content_encoding = sr.content_encoding;
            head.accept_ranges = 1;
            if (req->method == WS_METHOD_GET && body.fd >= 0)
                range = only_header(req, "range"); /* repeated: ambiguous, ignored */
            if (range != NULL && ws_if_range_allows(req, tag, sr.st.st_mtime)) {
                int n = ws_range_parse(range->value.ptr, range->value.len, body.size, body.ranges,
                                       WS_RANGE_MAX);
                if (n == -416) {
                    status = 416;
                    snprintf(content_range, sizeof(content_range), "bytes */%lld",
                             (long long)body.size);
                    head.content_range = content_range;
                } else if (n == 1) {
                    status = 206;
                    body.off = body.ranges[0].first;
                    body.len = body.ranges[0].last - body.ranges[0].first + 1;
                    snprintf(content_range, sizeof(content_range), "bytes %lld-%lld/%lld",
                             (long long)body.ranges[0].first, (long long)body.ranges[0].last,
                             (long long)body.size);
                    head.content_range = content_range;
                } else if (n > 1) {
                    status = 206;
                    body.n_ranges = n;
                    make_boundary(wb, boundary);
                    snprintf(content_type, sizeof(content_type),
                             "multipart/byteranges; boundary=%s", boundary);
                    head.content_type = content_type;
                }
            }
        }
        if (status != 200 && status != 206) {
            if (body.fd >= 0)
                close(body.fd);
            body.fd = -1;
            body.len = 0;
            body.mem = NULL;
            body.mem_len = 0;
            head.accept_ranges = 0;
        }
    } else if (status == 200 && sr.listing != NULL) {
        /* A listing has no validators, but If-Match and If-None-Match "*" still apply. */
        int pre = ws_preconditions(req, (struct ws_view){ "", 0 }, (time_t)-1);
        if (pre != 0) {
            status = pre;
        } else {
            head.content_type = sr.content_type;
            body.mem = sr.listing;
            body.mem_len = sr.listing_len;
        }
    } else if (status == 200) {
        head.allow = "GET, HEAD, OPTIONS"; /* OPTIONS */
    }

    if (status >= 300 && status != 304) {
        /* An error or a redirect: the operator's page for it, or ours. */
        struct stat st;
        head.etag = head.last_modified = head.cache_control = NULL;
        int fd = status >= 400 ? ws_static_error_page(env->error_pages_fd, status, &st) : -1;
        head.content_type = "text/html; charset=utf-8";
        head.location = status == 301 ? sr.location : NULL;
        head.allow = status == 405 ? "GET, HEAD, OPTIONS" : NULL;
        if (fd >= 0) {
            body.fd = fd;
            body.off = 0;
            body.len = st.st_size;
        } else {
            body.mem = page;
            body.mem_len = ws_error_page(status, head.location, page, sizeof(page));
        }
    }
    if (!keeps_connection(status))
        c->close_after = 1; /* framing may be off; do not trust the stream further */
    c->status = status;
    head.status = status;
    head.connection = c->close_after ? 1 : (req != NULL && req->version == 10) ? 2 : 0;

    /* Content-Length, and for multipart the part headers, laid out after the head. */
    if (status == 304) {
        head.content_length = -1;
    } else if (body.n_ranges > 1) {
        /* Written past the largest head for now, moved up behind it below. */
        char *parts = wb->out + WS_HEAD_MAX;
        size_t room = sizeof(wb->out) - WS_HEAD_MAX;
        int64_t data = 0;
        for (int i = 0; i < body.n_ranges; i++) {
            part_len[i] =
                (uint32_t)ws_range_part_header(parts + body_mem, room - body_mem, boundary,
                                               sr.content_type, body.ranges[i], body.size);
            body_mem += part_len[i];
            data += body.ranges[i].last - body.ranges[i].first + 1;
        }
        body_mem += ws_range_multipart_end(parts + body_mem, room - body_mem, boundary);
        head.content_length = (int64_t)body_mem + data;
    } else {
        head.content_length = body.fd >= 0 ? body.len : (int64_t)body.mem_len;
    }

    head_len = ws_head_format(&head, wb->out, WS_HEAD_MAX);
    if (head_len == 0) {
        /* Cannot happen with the sizes above; if it does, answer nothing and close. */
        if (body.fd >= 0)
            close(body.fd);
        free(sr.listing);
        c->close_after = 1;
        c->linger = 0;
        c->phase = WS_PHASE_SEND;
        return;
    }
    c->head_len = (uint32_t)head_len;
    c->out_len = (uint32_t)head_len;
    c->segs = &c->seg;
    c->n_segs = 1;
    c->seg = (struct ws_segment){ 0, 0, 0, 0 };

    if (head_only || status == 304) {
        if (body.fd >= 0)
            close(body.fd);
        body.fd = -1;
    } else if (body.n_ranges > 1) {
        /* Segment i: part header i, then range i; a last one for the closing delimiter. */
        struct ws_segment *segs = malloc(((size_t)body.n_ranges + 1) * sizeof(*segs));
        uint32_t off = (uint32_t)head_len;
        memmove(wb->out + head_len, wb->out + WS_HEAD_MAX, body_mem);
        if (segs == NULL) {
            close(body.fd);
            body.fd = -1;
            c->close_after = 1;
        } else {
            for (int i = 0; i < body.n_ranges; i++) {
                segs[i] = (struct ws_segment){ off, part_len[i], body.ranges[i].first,
                                               body.ranges[i].last - body.ranges[i].first + 1 };
                off += part_len[i];
            }
            segs[0].mem_off = 0;
            segs[0].mem_len += (uint32_t)head_len;
            segs[body.n_ranges] =
                (struct ws_segment){ off, (uint32_t)(head_len + body_mem - off), 0, 0 };
            c->segs = segs;
            c->n_segs = (uint16_t)(body.n_ranges + 1);
            c->out_len = (uint32_t)(head_len + body_mem);
            c->file_fd = body.fd;
            body.fd = -1;
        }
    } else if (body.fd >= 0 && body.len <= WS_SMALL_FILE_MAX) {
        /* Small file: read it now and send head and body in one write. */
        ssize_t n = pread(body.fd, wb->out + head_len, (size_t)body.len, body.off);
        if (n < (ssize_t)body.len)
            c->close_after = 1; /* truncated under us: the length cannot be met */
        c->out_len += n > 0 ? (uint32_t)n : 0;
        close(body.fd);
        body.fd = -1;
    } else if (body.fd >= 0) {
        c->seg.file_off = body.off;
        c->seg.file_len = body.len;
        c->file_fd = body.fd;
        body.fd = -1;
    } else if (body.mem_len > 0 && head_len + body.mem_len <= sizeof(wb->out)) {
        memcpy(wb->out + head_len, body.mem, body.mem_len);
        c->out_len += (uint32_t)body.mem_len;
    } else if (body.mem_len > 0) {
        /* A listing too big for the worker's buffer gets a buffer of its own. */
        heap_out = malloc(head_len + body.mem_len);
        if (heap_out == NULL) {
            c->close_after = 1;
        } else {
            memcpy(heap_out, wb->out, head_len);
            memcpy(heap_out + head_len, body.mem, body.mem_len);
            c->out = heap_out;
            c->out_len += (uint32_t)body.mem_len;
        }
    }
    free(sr.listing);
    if (c->n_segs == 1)
        c->seg.mem_len = c->out_len;

    start_log(c, env, wb, request_line, req);
    c->phase = c->body_left != 0 ? WS_PHASE_BODY : WS_PHASE_SEND;

    if (c->phase == WS_PHASE_BODY && req->expect_continue && req->version == 11) {
        /* The client waits for this before sending the body (RFC 9110 §10.1.1). */
        ssize_t n =
            send(c->fd, continue_line, sizeof(continue_line) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n != (ssize_t)sizeof(continue_line) - 1) {
            c->phase = WS_PHASE_SEND;
            c->close_after = 1; /* cannot keep in step with this client */
        }
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
    const char *mem = c->out != NULL ? c->out : wb->out;
    int64_t file_sent = 0;

    while (c->cur_seg < c->n_segs) {
        struct ws_segment *seg = &c->segs[c->cur_seg];
        int last = c->cur_seg + 1 == c->n_segs;

        while (c->mem_sent < seg->mem_len) {
            /* MSG_MORE lets the kernel put the head and the file's first bytes in one packet. */
            int more = (seg->file_len > 0 || !last) ? MSG_MORE : 0;
            ssize_t n = send(c->fd, mem + seg->mem_off + c->mem_sent, seg->mem_len - c->mem_sent,
                             MSG_NOSIGNAL | more);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return (errno == EAGAIN || errno == EWOULDBLOCK) ? SEND_BLOCKED : SEND_FAILED;
            }
            c->mem_sent += (uint32_t)n;
            c->bytes_sent += (uint64_t)n;
        }
        while (seg->file_len > 0) {
            size_t chunk = seg->file_len > (1 << 20) ? (size_t)1 << 20 : (size_t)seg->file_len;
            ssize_t n;
            if (file_sent >= TURN_MAX_FILE_BYTES)
                return SEND_YIELD;
            n = sendfile(c->fd, c->file_fd, &seg->file_off, chunk);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return (errno == EAGAIN || errno == EWOULDBLOCK) ? SEND_BLOCKED : SEND_FAILED;
            }
            if (n == 0)
                return SEND_FAILED; /* the file shrank: the promised length cannot be met */
            seg->file_len -= n;
            file_sent += n;
            c->bytes_sent += (uint64_t)n;
        }
        c->cur_seg++;
        c->mem_sent = 0;
    }
    return SEND_DONE;
}

/* Consumes request body bytes from the input. Returns 1 when the body is done, 0, or -1. */
static int discard_body(struct ws_conn *c, const struct ws_conn_env *env, struct input *in)
{
    size_t avail = in->len - in->start;

    if (c->body_left > 0) {
        size_t take = (uint64_t)c->body_left < avail ? (size_t)c->body_left : avail;
        consume(in, take);
        c->body_left -= (int64_t)take;
        return c->body_left == 0;
    } else {
        size_t used = 0;
        int rc = ws_chunked_decode(&c->chunked, in->buf + in->start, avail, &used, &c->body_seen);
        consume(in, used);
        if (rc < 0 || c->body_seen > env->max_body)
            return -1;
        if (rc == 1)
            c->body_left = 0;
        return rc;
    }
}

/* Enters the lingering close: shut our side, then read and drop input until EOF. */
static void begin_linger(struct ws_conn *c, const struct ws_conn_env *env, struct input *in)
{
    shutdown(c->fd, SHUT_WR);
    c->phase = WS_PHASE_LINGER;
    c->deadline_ms = ws_now_ms() + env->linger_timeout_ms;
    in->start = in->len = in->parsed_len = 0;
}

enum ws_conn_verdict ws_conn_run(struct ws_conn *c, const struct ws_conn_env *env,
                                 struct ws_worker_buf *wb)
{
    struct input in = { .buf = wb->in };
    unsigned responses = 0, discard_reads = 0;
    /*
     * The first request of this turn began after the event thread last synced
     * the watch when it starts at the first byte of the input, which was
     * already waiting when epoll reported the connection: nothing was left
     * over from earlier and no body precedes it (watch.h).
     */
    int synced = c->synced && c->saved == NULL && c->phase == WS_PHASE_HEAD;

    c->synced = 0;
    if (c->saved != NULL) {
        memcpy(wb->in, c->saved, c->saved_len);
        in.len = c->saved_len;
        free(c->saved);
        c->saved = NULL;
        c->saved_len = 0;
    }

    for (;;) {
        switch (c->phase) {
        case WS_PHASE_HEAD: {
            struct ws_request req;
            ssize_t n;
            int rc = WS_PARSE_AGAIN;

            if (in.len > in.start) {
                rc = ws_http_parse_request(in.buf + in.start, in.len - in.start, in.parsed_len,
                                           &env->limits, &req);
                if (rc > 0) {
                    consume(&in, (size_t)rc);
                    prepare_response(c, env, wb, &req, 0, req.request_line, synced);
                    synced = 0;
                    continue;
                }
                if (rc < 0) {
                    prepare_response(c, env, wb, NULL, -rc,
                                     first_line(in.buf + in.start, in.len - in.start), 0);
                    consume(&in, in.len - in.start);
                    continue;
                }
                in.parsed_len = in.len - in.start;
            }
            if (in.len == in.start && c->requests > 0 &&
                atomic_load_explicit(env->draining, memory_order_relaxed))
                return WS_CONN_CLOSE; /* shutting down: no new requests */
            n = read_more(c, &in);
            if (n > 0) {
                if (in.len == (size_t)n && c->requests > 0)
                    c->request_start_ms = ws_now_ms(); /* first byte of a new request */
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                return WS_CONN_CLOSE;
            if (in.len == 0 && c->requests > 0)
                return park(c, wb, &in, EPOLLIN, ws_now_ms() + env->keepalive_timeout_ms);
            return park(c, wb, &in, EPOLLIN, c->request_start_ms + env->header_timeout_ms);
        }

        case WS_PHASE_BODY: {
            int rc = discard_body(c, env, &in);
            ssize_t n;
            if (rc < 0) {
                /* A malformed or oversized chunked body: answer that instead. */
                int status = c->body_seen > env->max_body ? 413 : 400;
                drop_response(c);
                c->requests--;
                prepare_response(c, env, wb, NULL, status, (struct ws_view){ "-", 1 }, 0);
                continue;
            }
            if (rc == 1) {
                c->phase = WS_PHASE_SEND;
                continue;
            }
            if (++discard_reads > TURN_MAX_DISCARD_READS)
                return park(c, wb, &in, EPOLLIN, ws_now_ms() + env->header_timeout_ms);
            n = read_more(c, &in);
            if (n > 0)
                continue;
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                return WS_CONN_CLOSE;
            return park(c, wb, &in, EPOLLIN, ws_now_ms() + env->header_timeout_ms);
        }

        case WS_PHASE_SEND:
            switch (send_response(c, wb)) {
            case SEND_BLOCKED:
                return park(c, wb, &in, EPOLLOUT, ws_now_ms() + env->send_timeout_ms);
            case SEND_YIELD: return park(c, wb, &in, EPOLLOUT, ws_now_ms() + env->send_timeout_ms);
            case SEND_FAILED: log_response(c, env, wb); return WS_CONN_CLOSE;
            case SEND_DONE: break;
            }
            log_response(c, env, wb);
            drop_response(c);
            if (c->close_after) {
                if (!c->linger && in.len == in.start)
                    return WS_CONN_CLOSE;
                begin_linger(c, env, &in);
                continue;
            }
            c->phase = WS_PHASE_HEAD;
            c->request_start_ms = ws_now_ms();
            if (!c->nodelay) {
                /*
                 * Kept alive: from now on a small response may follow one still
                 * unacknowledged, and Nagle would hold it for the client's delayed
                 * ACK. Set here, not at accept, so one-request connections skip it.
                 */
                static const int one = 1;
                setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c->nodelay = 1;
            }
            if (++responses >= TURN_MAX_RESPONSES && in.len > in.start)
                return park(c, wb, &in, EPOLLOUT, ws_now_ms() + env->send_timeout_ms);
            if (in.len == in.start)
                /* Nothing buffered: the next request has not arrived, so do not
                 * spend a read finding that out; epoll reports it when it does. */
                return park(c, wb, &in, EPOLLIN, ws_now_ms() + env->keepalive_timeout_ms);
            continue;

        case WS_PHASE_LINGER:
            for (;;) {
                ssize_t n = recv(c->fd, wb->in, WS_MAX_HEAD, 0);
                if (n > 0) {
                    if (++discard_reads > TURN_MAX_DISCARD_READS)
                        return park(c, wb, &in, EPOLLIN, c->deadline_ms);
                    continue;
                }
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    return park(c, wb, &in, EPOLLIN, c->deadline_ms);
                return WS_CONN_CLOSE;
            }
        }
        return WS_CONN_CLOSE;
    }
}
