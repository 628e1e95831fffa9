/*
 * server/h2.c - HTTP/2 on a connection; see h2.h for the design.
 *
 * Everything here runs in the worker that owns the connection (nghttp2's
 * callbacks are called from ws_h2_run, inside nghttp2_session_mem_recv and
 * nghttp2_session_send), but for ws_h2_goaway_now and ws_h2_free, which
 * whoever owns the connection may call and which touch no worker memory.
 */
#include "server/h2.h"

#include "http/fields.h"
#include "http/head.h"
#include "http/plan.h"
#include "server/answer.h"
#include "server/compress.h"
#include "server/file_cache.h"
#include "server/log.h"
#include "server/tls.h"
#include "server/transport.h"

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * nghttp2 1.60 renamed the calls that take or return sizes (ssize_t became
 * nghttp2_ssize) and deprecated the old names; this shim picks whichever the
 * installed version has, so Debian 12's 1.52 and newer distributions build.
 */
#if NGHTTP2_VERSION_NUM >= 0x013c00
typedef nghttp2_ssize h2_ssize;
typedef nghttp2_data_provider2 h2_data_provider;
#define h2_mem_recv          nghttp2_session_mem_recv2
#define h2_submit_response   nghttp2_submit_response2
#define h2_set_send_callback nghttp2_session_callbacks_set_send_callback2
#else
typedef ssize_t h2_ssize;
typedef nghttp2_data_provider h2_data_provider;
#define h2_mem_recv          nghttp2_session_mem_recv
#define h2_submit_response   nghttp2_submit_response
#define h2_set_send_callback nghttp2_session_callbacks_set_send_callback
#endif

/* Bytes one connection may write in a turn before it yields its worker. */
#define TURN_MAX_BYTES (1 << 20)
/* Reads one connection may do in a turn before it yields its worker. */
#define TURN_MAX_READS 16
/* The largest DATA payload we frame (the peer may allow more; this keeps frames in the buffer). */
#define DATA_MAX 16384
/* The output buffer (the worker's): frames are added while it holds less than OUT_HIGH bytes. */
#define OUT_HIGH (64 * 1024)
/* The plaintext of a full TLS record: what one send over TLS takes (transport.h). */
#define TLS_RECORD 16384
#define OUT_CAP    WS_H2_OUT
_Static_assert(WS_H2_OUT >= OUT_HIGH + DATA_MAX + 64, "room for a DATA frame above the mark");
/* nghttp2_error's NGHTTP2_ERR_TOO_MANY_CONTINUATIONS (nghttp2 1.61, and Debian's 1.52). */
#define H2_ERR_TOO_MANY_CONTINUATIONS (-905)

struct h2_field {
    nghttp2_rcbuf *name, *value;
};

/*
 * The worker's allocator for HTTP/2: nghttp2's allocations and our streams.
 * A request costs about seven allocations (the stream twice, nghttp2's
 * outbound items and field copy, ...) and, with ten streams a connection in
 * flight, glibc's per-thread cache overflows into its slow paths. Blocks of
 * up to POOL_MAX bytes are rounded to a power of two and, when freed, kept on
 * the freeing thread's list for their size (at most POOL_KEEP each) instead
 * of going back to malloc. A block is plain malloc'd memory with a header
 * saying its class, so a block allocated by one worker may be freed by
 * another (a connection moves between workers), or by a thread that keeps no
 * lists (the event thread closing a connection: see pool_active). Each
 * worker's lists are freed when it exits (pool_key's destructor).
 */
#define POOL_MIN_SHIFT 6 /* the smallest class: 64 bytes with the header */
#define POOL_CLASSES   6 /* 64, 128, ... 2048 */
#define POOL_MAX       (1u << (POOL_MIN_SHIFT + POOL_CLASSES - 1))
#define POOL_KEEP      64 /* blocks kept per class and thread */
#define POOL_BIG       0xff

union pool_head {
    unsigned char cls; /* 0 .. POOL_CLASSES - 1, or POOL_BIG */
    union pool_head *next;
    max_align_t align;
};

struct pool {
    union pool_head *free[POOL_CLASSES];
    uint16_t n_free[POOL_CLASSES];
    uint8_t registered; /* pool_key's value is set, so the lists go at thread exit */
};

static _Thread_local struct pool pool;
/* Set while this thread runs a turn of a connection (a worker): its frees may be kept. */
static _Thread_local uint8_t pool_active;
static pthread_key_t pool_key;

static void pool_drain(void *arg)
{
    struct pool *pl = arg;

    for (unsigned c = 0; c < POOL_CLASSES; c++) {
        while (pl->free[c] != NULL) {
            union pool_head *b = pl->free[c];
            pl->free[c] = b->next;
            free(b);
        }
        pl->n_free[c] = 0;
    }
}

static void *pool_malloc(size_t size, void *user)
{
    size_t need = size + sizeof(union pool_head);
    union pool_head *b;
    unsigned c = 0;

    (void)user;
    if (need > POOL_MAX) {
        b = malloc(need);
        if (b == NULL)
            return NULL;
        b->cls = POOL_BIG;
        return b + 1;
    }
    if (need > (1u << POOL_MIN_SHIFT))
        c = (unsigned)(64 - __builtin_clzll((unsigned long long)need - 1)) - POOL_MIN_SHIFT;
    b = pool.free[c];
    if (b != NULL) {
        pool.free[c] = b->next;
        pool.n_free[c]--;
    } else {
        b = malloc((size_t)1 << (POOL_MIN_SHIFT + c));
        if (b == NULL)
            return NULL;
    }
    b->cls = (unsigned char)c;
    return b + 1;
}

static void pool_free(void *ptr, void *user)
{
    union pool_head *b;
    unsigned c;

    (void)user;
    if (ptr == NULL)
        return;
    b = (union pool_head *)ptr - 1;
    c = b->cls;
    if (c == POOL_BIG || !pool_active || pool.n_free[c] >= POOL_KEEP) {
        free(b);
        return;
    }
    if (!pool.registered) {
        pool.registered = 1;
        (void)pthread_setspecific(pool_key, &pool);
    }
    b->next = pool.free[c];
    pool.free[c] = b;
    pool.n_free[c]++;
}

static void *pool_calloc(size_t n, size_t size, void *user)
{
    void *p;

    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    p = pool_malloc(n * size, user);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

static void *pool_realloc(void *ptr, size_t size, void *user)
{
    union pool_head *b;
    size_t have;
    void *p;

    if (ptr == NULL)
        return pool_malloc(size, user);
    b = (union pool_head *)ptr - 1;
    if (b->cls == POOL_BIG) {
        b = realloc(b, size + sizeof(*b));
        return b != NULL ? b + 1 : NULL;
    }
    have = ((size_t)1 << (POOL_MIN_SHIFT + b->cls)) - sizeof(*b);
    if (size <= have)
        return ptr;
    p = pool_malloc(size, user);
    if (p == NULL)
        return NULL;
    memcpy(p, ptr, have);
    pool_free(ptr, user);
    return p;
}

static nghttp2_mem pool_mem = { NULL, pool_malloc, pool_free, pool_calloc, pool_realloc };

/* A token bucket in thousandths of a token. */
struct bucket {
    int64_t milli;
    int64_t at_ms;
};

struct h2_stream {
    struct h2_stream *prev, *next; /* the connection's live streams */
    int32_t id;
    uint8_t complete; /* its request header block has ended */
    uint8_t too_big;  /* ... and was over the limits: 431 */
    uint8_t answered; /* a response was submitted */
    uint8_t synced;   /* its header block began in a read that may trust the watch's epoch */

    /* The request, as nghttp2 decoded it: references to its buffers. */
    nghttp2_rcbuf *method, *authority, *path;
    struct h2_field *fields; /* few, or a malloc'd array for more */
    struct h2_field few[16];
    uint16_t n_fields, cap_fields;
    uint32_t list_size;   /* RFC 9113 §6.5.2 size of what has come */
    uint64_t body_seen;   /* request body bytes dropped */
    uint8_t body_refused; /* ... over --max-body: reset once the answer is out */
    uint8_t sent_end;     /* the answer's last frame (END_STREAM) went out */
    uint8_t seen;         /* SEEN_*: which fields the RFC 9113 §8 checks have met */
    uint8_t kind;         /* KIND_*: what they said */
    uint8_t malformed;    /* reset with PROTOCOL_ERROR (RFC 9113 §8.1.1): nothing more counts */
    int64_t length;       /* its Content-Length, with SEEN_LENGTH */

    /*
     * The response body: segments over src and the file fd (owned). src is
     * mem (owned), or a body of the file cache of which held is a reference.
     */
    int fd;
    const char *src;
    char *mem;
    const char *held;
    struct ws_segment seg;   /* the single segment of an ordinary body */
    struct ws_segment *segs; /* &seg, or a malloc'd array for multipart */
    uint16_t n_segs, cur_seg;
    uint32_t mem_done; /* bytes of the current segment's memory part framed */
    uint64_t body_sent;
    int status;                   /* of the answer */
    struct ws_compress_job *zjob; /* the job its answer waits for (compress.h), or NULL */

    /* The access log line, without the numbers known at the end. */
    char *log_line;
    uint32_t log_len, log_split;
    int64_t start_us;

    char content_length[24]; /* the answer's Content-Length value, which nghttp2 reads when it
                                sends the HEADERS frame (answer) */
};

struct ws_h2 {
    nghttp2_session *session;
    struct ws_conn *c;
    /* The turn's, set by ws_h2_run: NULL outside a turn. */
    const struct ws_conn_env *env;
    struct ws_worker_buf *wb;
    int synced;          /* requests from the turn's first read may trust the watch's epoch */
    uint64_t turn_bytes; /* written in this turn */
    /*
     * In the clear, what the socket refused in this turn (EPOLLIN: a read
     * would block; EPOLLOUT: a write would block): a park for it may be an
     * edge park (conn.h's park_edge; loop.h). Not a short read: an EOF may
     * wait behind it, whose edge came before the turn. Over TLS, 0 (OpenSSL
     * may hold input; the TLS parks are tls.c's and conn.c's).
     */
    uint32_t refused;

    struct h2_stream *streams;
    struct h2_stream *receiving; /* the stream whose header block came last, or NULL */
    unsigned n_streams;          /* live */
    unsigned incomplete;         /* of them, with a header block still arriving */
    unsigned compressing;        /* of them, waiting for a compression job (compress.h) */
    int64_t head_start_ms;       /* when the oldest incomplete header block began */
    uint32_t requests;

    /*
     * Output: out[sent, len) first, then the file piece fd [off, +left). out is
     * the worker's buffer during a turn; what a turn leaves unsent is copied
     * into a buffer of the connection's own (saved) while it is parked.
     */
    char *out;
    char *saved;
    uint32_t len, sent;
    int pend_fd;
    int pend_owned; /* the stream closed: the piece owns pend_fd */
    struct h2_stream *pend_stream;
    int64_t pend_off, pend_left;
    uint8_t out_full; /* the last nghttp2_session_send stopped because the buffer was full */

    /*
     * Over TLS, file bytes read ahead: the payloads of the DATA frames that
     * would follow the last one of ahead_stream in the buffer, read with it by
     * one preadv into their places (a 9-byte gap before each for its header).
     * They stand while the next DATA frame is that stream's, at ahead_pos
     * (== len), of ahead_off, as long as read_body makes it; anything else
     * written to the buffer first (a flush, another frame) voids them.
     */
    struct h2_stream *ahead_stream;
    uint32_t ahead_pos, ahead_left; /* ahead_left: bytes read ahead, 0: none */
    int64_t ahead_off;

    /* Limits. */
    uint32_t block_frames, block_bytes; /* the header block being received */
    int32_t max_stream_id;              /* the highest a HEADERS frame has named */
    struct bucket resets, controls;
    uint8_t calm;        /* GOAWAY ENHANCE_YOUR_CALM was submitted */
    uint8_t goaway_sent; /* a graceful GOAWAY was submitted (shutdown) */
    uint8_t goaway_now;  /* ws_h2_goaway_now wrote one */
    uint8_t goaway_out;  /* a GOAWAY went out: the close lingers so that it is read */
    uint8_t broken;      /* the session failed on input: read no more */
};

static void count(const struct ws_conn_env *env, enum ws_h2_count what)
{
    if (env != NULL && env->h2_counts != NULL)
        atomic_fetch_add_explicit(&env->h2_counts[what], 1, memory_order_relaxed);
}

int ws_h2_is_preface(const char *buf, size_t len)
{
    size_t n = len < WS_H2_PREFACE_LEN ? len : WS_H2_PREFACE_LEN;

    if (memcmp(buf, WS_H2_PREFACE, n) != 0)
        return -1;
    return n == WS_H2_PREFACE_LEN;
}

/* Takes a token; 0 when the bucket (burst tokens, refilled at rate a second) is empty. */
static int bucket_take(struct bucket *b, int64_t burst, int64_t rate)
{
    int64_t now = ws_now_ms();

    if (b->at_ms == 0)
        b->milli = burst * 1000;
    else
        b->milli += (now - b->at_ms) * rate;
    if (b->milli > burst * 1000)
        b->milli = burst * 1000;
    b->at_ms = now;
    if (b->milli < 1000)
        return 0;
    b->milli -= 1000;
    return 1;
}

/* Ends the connection with GOAWAY ENHANCE_YOUR_CALM (once). */
static void calm(struct ws_h2 *h)
{
    if (h->calm)
        return;
    h->calm = 1;
    count(h->env, WS_H2_CALM);
    nghttp2_session_terminate_session(h->session, NGHTTP2_ENHANCE_YOUR_CALM);
}

/* ---- streams -------------------------------------------------------------- */

static struct ws_view rcview(nghttp2_rcbuf *rc)
{
    nghttp2_vec v;

    if (rc == NULL)
        return (struct ws_view){ "", 0 };
    v = nghttp2_rcbuf_get_buf(rc);
    return (struct ws_view){ (const char *)v.base, v.len };
}

/* Bytes of the body not yet framed. */
static uint64_t body_left(const struct h2_stream *s)
{
    uint64_t left = 0;

    for (unsigned i = s->cur_seg; i < s->n_segs; i++)
        left += s->segs[i].mem_len + (uint64_t)s->segs[i].file_len;
    return left - s->mem_done;
}

/* Writes the stream's access log line and counts the response. */
static void log_stream(struct ws_h2 *h, struct h2_stream *s)
{
    if (h->wb == NULL || !s->answered)
        return;
    ws_conn_count_response(h->wb, WS_METRICS_H2, s->status, s->body_sent);
    if (s->log_len > 0) {
        int64_t serve_us = s->start_us ? ws_now_us() - s->start_us : 0;
        ws_log_access(h->env->log, &h->wb->log_buffer, s->log_line, s->log_len, s->log_split,
                      s->body_sent, h->c->turn_wait_us, serve_us);
    }
    s->answered = 0;
}

static void free_stream(struct ws_h2 *h, struct h2_stream *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    h->n_streams--;
    if (h->receiving == s)
        h->receiving = NULL;
    if (!s->complete)
        h->incomplete--;
    if (h->ahead_stream == s)
        h->ahead_left = 0;
    if (h->pend_stream == s) {
        /* Its last DATA frame is still on its way: the piece keeps the file. */
        h->pend_stream = NULL;
        h->pend_owned = 1;
        s->fd = -1;
    }
    if (s->fd >= 0)
        close(s->fd);
    if (s->zjob != NULL) {
        ws_compress_job_free(s->zjob);
        h->compressing--;
    }
    nghttp2_rcbuf_decref(s->method);
    nghttp2_rcbuf_decref(s->authority);
    nghttp2_rcbuf_decref(s->path);
    for (unsigned i = 0; i < s->n_fields; i++) {
        nghttp2_rcbuf_decref(s->fields[i].name);
        nghttp2_rcbuf_decref(s->fields[i].value);
    }
    if (s->fields != s->few)
        free(s->fields);
    free(s->mem);
    ws_file_cache_release(s->held);
    if (s->segs != &s->seg)
        free(s->segs);
    free(s->log_line);
    pool_free(s, NULL);
}

/* ---- the answer ----------------------------------------------------------- */

/* Lays out the plan's body as the stream's segments. Returns its length, or -1. */
static int64_t lay_out_body(struct h2_stream *s, const struct ws_plan *p, struct ws_answer *a)
{
    if (!p->send_body || p->body == WS_BODY_NONE)
        return 0;
    if (p->body == WS_BODY_MEM) {
        if (a->listing != NULL && p->mem == a->listing) {
            s->mem = a->listing; /* the listing's own buffer */
            a->listing = NULL;
        } else {
            s->mem = malloc(p->mem_len + 1);
            if (s->mem == NULL)
                return -1;
            memcpy(s->mem, p->mem, p->mem_len);
        }
        s->src = s->mem;
        s->seg = (struct ws_segment){ 0, (uint32_t)p->mem_len, 0, 0 };
        return (int64_t)p->mem_len;
    }
    if (p->n_ranges > 1) {
        uint32_t parts_len = p->end_off + p->end_len;
        int64_t total = parts_len;
        if (a->fd < 0)
            return -1;
        s->mem = malloc(parts_len);
        s->segs = malloc(((size_t)p->n_ranges + 1) * sizeof(*s->segs));
        if (s->mem == NULL || s->segs == NULL) {
            free(s->segs);
            s->segs = &s->seg;
            return -1;
        }
        memcpy(s->mem, p->parts, parts_len);
        s->src = s->mem;
        for (int i = 0; i < p->n_ranges; i++) {
            int64_t len = p->ranges[i].last - p->ranges[i].first + 1;
            s->segs[i] =
                (struct ws_segment){ p->part_off[i], p->part_len[i], p->ranges[i].first, len };
            total += len;
        }
        s->segs[p->n_ranges] = (struct ws_segment){ p->end_off, p->end_len, 0, 0 };
        s->n_segs = (uint16_t)(p->n_ranges + 1);
        s->fd = a->fd;
        a->fd = -1;
        return total;
    }
    if (a->mem != NULL && a->cached) {
        /* A body of the file cache, which the stream holds (answer). */
        s->src = a->mem;
        s->seg = (struct ws_segment){ (uint32_t)p->offset, (uint32_t)p->length, 0, 0 };
        return p->length;
    }
    if (a->mem != NULL) {
        /* Compressed on the fly: the worker's compression cache may drop it, so copy. */
        s->mem = malloc((size_t)p->length + 1);
        if (s->mem == NULL)
            return -1;
        memcpy(s->mem, a->mem + p->offset, (size_t)p->length);
        s->src = s->mem;
        s->seg = (struct ws_segment){ 0, (uint32_t)p->length, 0, 0 };
        return p->length;
    }
    if (a->fd < 0)
        return -1;
    s->seg = (struct ws_segment){ 0, 0, p->offset, p->length };
    s->fd = a->fd;
    a->fd = -1;
    return p->length;
}

static h2_ssize read_body(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
                          uint32_t *flags, nghttp2_data_source *source, void *user);

/* The request line the access log shows: "GET /path HTTP/2.0". */
static struct ws_view request_line(const struct h2_stream *s, char *buf, size_t size)
{
    struct ws_view m = rcview(s->method), p = rcview(s->path);
    int n = snprintf(buf, size, "%.*s %.*s HTTP/2.0", (int)(m.len > 32 ? 32 : m.len), m.ptr,
                     (int)(p.len > 2000 ? 2000 : p.len), p.ptr);
    return (struct ws_view){ buf, n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1 };
}

/*
 * The three digits of every status an answer may have, as :status values
 * that last (filled once, by make_callbacks, before any session exists).
 */
#define STATUS_MIN 100
#define STATUS_MAX 599
static char status_text[STATUS_MAX - STATUS_MIN + 1][4];

static void make_status_text(void)
{
    for (int st = STATUS_MIN; st <= STATUS_MAX; st++) {
        char *t = status_text[st - STATUS_MIN];
        t[0] = (char)('0' + st / 100);
        t[1] = (char)('0' + st / 10 % 10);
        t[2] = (char)('0' + st % 10);
    }
}

/* nghttp2_nv wants writable pointers to what it only reads (and copies). */
static uint8_t *nv_bytes(const char *s)
{
    uint8_t *p;
    memcpy(&p, &s, sizeof(p));
    return p;
}

/* Answers a request whose header block has ended: the plan, as HEADERS and DATA. */
static void answer(struct ws_h2 *h, struct h2_stream *s)
{
    const struct ws_conn_env *env = h->env;
    struct ws_worker_buf *wb = h->wb;
    struct ws_plan *p = &wb->plan;
    struct ws_request req;
    struct ws_answer a;
    struct ws_head_field fields[WS_HEAD_FIELDS_MAX];
    nghttp2_nv nv[WS_HEAD_FIELDS_MAX + 1];
    char status[4], line[2100];
    h2_data_provider body = { .source.ptr = s, .read_callback = read_body };
    int64_t body_len;
    size_t n;
    int st = 431, rc;

    if (h->calm || h->goaway_now)
        return;
    if (!s->too_big) {
        for (unsigned i = 0; i < s->n_fields; i++)
            req.headers[i] =
                (struct ws_header){ rcview(s->fields[i].name), rcview(s->fields[i].value) };
        req.header_count = s->n_fields;
        rc =
            ws_http_request_from_h2(&req, rcview(s->method), rcview(s->authority), rcview(s->path));
        st = rc < 0 ? -rc : 0;
    }
    /* Begun and ended in reads that came after the event thread synced the watch (watch.h). */
    a.job = s->zjob;
    ws_answer(env, wb, st == 0 ? &req : NULL, st, h->c->tls != NULL, 0, s->synced && h->synced,
              &h->c->peer.sa, &a);
    if (s->zjob != NULL) {
        ws_compress_job_free(s->zjob); /* done: the answer has its result, or the file */
        h->compressing--;
    }
    s->zjob = a.job;
    if (s->zjob != NULL) {
        /* The file must be compressed first: ws_h2_run steps the job, then answers again. */
        h->compressing++;
        return;
    }
    h->requests++;
    count(env, WS_H2_STREAMS);

    n = ws_head_fields(&p->head, fields, s->content_length);
    if (p->status >= STATUS_MIN && p->status <= STATUS_MAX) {
        nv[0] = (nghttp2_nv){ nv_bytes(":status"), nv_bytes(status_text[p->status - STATUS_MIN]), 7,
                              3, NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE };
    } else {
        status[0] = (char)('0' + p->status / 100 % 10);
        status[1] = (char)('0' + p->status / 10 % 10);
        status[2] = (char)('0' + p->status % 10);
        nv[0] = (nghttp2_nv){ nv_bytes(":status"), (uint8_t *)status, 7, 3,
                              NGHTTP2_NV_FLAG_NO_COPY_NAME };
    }
    if (a.cached) {
        /* The cached body (and the validators it carries) stays for the stream's life. */
        ws_file_cache_hold(a.mem);
        s->held = a.mem;
    }
    /*
     * The names are static or the site's. nghttp2 reads the values when it
     * sends the HEADERS frame, which may be in a later turn on another
     * worker, or never once the stream has closed: it copies those in the
     * worker's buffer (the plan, Date), and keeps pointers to the rest, which
     * last at least as long as the stream: static strings (:status too, from
     * status_text), the site's configuration and MIME table, the file cache's
     * body held above, and the stream's own (Content-Length) and the
     * request's fields, which the stream holds.
     */
    for (size_t i = 0; i < n; i++) {
        const char *v = fields[i].value;
        int lasting = (uintptr_t)v < (uintptr_t)wb || (uintptr_t)v >= (uintptr_t)(wb + 1);
        nv[i + 1] =
            (nghttp2_nv){ nv_bytes(fields[i].lower), nv_bytes(v), fields[i].name_len, strlen(v),
                          NGHTTP2_NV_FLAG_NO_COPY_NAME |
                              (lasting ? NGHTTP2_NV_FLAG_NO_COPY_VALUE : 0) };
    }

    s->fd = -1;
    body_len = lay_out_body(s, p, &a);
    if (a.fd >= 0)
        close(a.fd);
    free(a.listing);
    if (body_len < 0) {
        nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    if (h2_submit_response(h->session, s->id, nv, n + 1, body_len > 0 ? &body : NULL) != 0) {
        nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    s->answered = 1;
    s->status = p->status;
    if (!ws_log_access_enabled(env->log))
        return;
    s->log_len = ws_conn_format_log(h->c, env, wb, request_line(s, line, sizeof(line)),
                                    st == 0 ? &req : NULL, p->status, s->id, &s->log_split);
    if (s->log_len > 0) {
        s->log_line = malloc(s->log_len);
        if (s->log_line == NULL)
            s->log_len = 0;
        else
            memcpy(s->log_line, wb->log, s->log_len);
        if (ws_log_format(env->log) != WS_LOG_COMBINED)
            s->start_us = ws_now_us();
    }
}

/* ---- nghttp2's callbacks -------------------------------------------------- */

/* The current piece of a body: memory (*mem set) or file bytes at *off. Returns its length. */
static uint64_t body_piece(struct h2_stream *s, const char **mem, int64_t *off)
{
    while (s->cur_seg < s->n_segs) {
        const struct ws_segment *seg = &s->segs[s->cur_seg];
        if (s->mem_done < seg->mem_len) {
            *mem = s->src + seg->mem_off + s->mem_done;
            return seg->mem_len - s->mem_done;
        }
        if (seg->file_len > 0) {
            *mem = NULL;
            *off = seg->file_off;
            return (uint64_t)seg->file_len;
        }
        s->cur_seg++;
        s->mem_done = 0;
    }
    return 0;
}

/* Marks n bytes of the current piece framed. */
static void body_advance(struct h2_stream *s, size_t n)
{
    struct ws_segment *seg = &s->segs[s->cur_seg];

    if (s->mem_done < seg->mem_len) {
        s->mem_done += (uint32_t)n;
    } else {
        seg->file_off += (int64_t)n;
        seg->file_len -= (int64_t)n;
    }
    s->body_sent += n;
}

/* How much of the body the next DATA frame carries: one piece, framed by send_data. */
static h2_ssize read_body(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
                          uint32_t *flags, nghttp2_data_source *source, void *user)
{
    struct h2_stream *s = source->ptr;
    const char *mem = NULL;
    int64_t off;
    uint64_t piece = body_piece(s, &mem, &off);

    (void)session, (void)id, (void)buf, (void)user;
    if (length > DATA_MAX)
        length = DATA_MAX;
    if (piece > length)
        piece = length;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (piece == body_left(s))
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (h2_ssize)piece;
}

/* Frames: copied into the output buffer while it has room. */
static h2_ssize send_frames(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
                            void *user)
{
    struct ws_h2 *h = user;

    (void)session, (void)flags;
    if (h->pend_left > 0 || h->len >= OUT_HIGH) {
        h->out_full = h->len >= OUT_HIGH;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    if (length > OUT_CAP - h->len)
        length = OUT_CAP - h->len; /* nghttp2 sends the rest later */
    memcpy(h->out + h->len, data, length);
    h->len += (uint32_t)length;
    return (h2_ssize)length;
}

/*
 * Whether the payload of the DATA frame about to be written at len (length
 * bytes of s's file at off) was read ahead into its place; voids what was
 * read ahead if not.
 */
static int ahead_take(struct ws_h2 *h, const struct h2_stream *s, int64_t off, size_t length)
{
    uint32_t next = h->ahead_left < DATA_MAX ? h->ahead_left : DATA_MAX;

    if (h->ahead_left == 0 || h->ahead_stream != s || h->ahead_pos != h->len ||
        h->ahead_off != off || length != next) {
        h->ahead_left = 0;
        return 0;
    }
    h->ahead_left -= next;
    h->ahead_pos += 9 + next;
    h->ahead_off += next;
    return 1;
}

/* Whether s is the only stream with an answer still to send. */
static int alone(const struct ws_h2 *h, const struct h2_stream *s)
{
    if (h->n_streams == 1)
        return 1;
    for (const struct h2_stream *t = h->streams; t != NULL; t = t->next)
        if (t != s && t->answered && !t->sent_end)
            return 0;
    return 1;
}

/*
 * Reads the payload of the DATA frame about to be written at len (length
 * bytes of s's file at off, of a piece of piece bytes) behind its header, and
 * with it, in the same preadv, the payloads of the frames of s that would
 * follow it in the buffer: full frames (as read_body makes them) while they
 * would be written below OUT_HIGH, within the piece and the flow-control
 * windows. So a buffer of frames costs one read, not one a frame (64 reads a
 * MiB become 16). Only for a stream that answers alone: nghttp2 takes turns
 * between the streams that have DATA to send, frame by frame, and another
 * stream's frame would void what was read ahead. 0, or -1 when the file has
 * shrunk.
 */
static int read_ahead(struct ws_h2 *h, struct h2_stream *s, int64_t off, size_t length,
                      uint64_t piece)
{
    struct iovec iov[OUT_HIGH / DATA_MAX + 2];
    uint32_t pos = h->len + 9 + (uint32_t)length; /* where the next frame's header goes */
    uint64_t ahead = 0;
    int n = 1;
    ssize_t got;

    iov[0] = (struct iovec){ h->out + h->len + 9, length };
    if (length == DATA_MAX && alone(h, s)) {
        int32_t sw = nghttp2_session_get_stream_remote_window_size(h->session, s->id);
        int32_t cw = nghttp2_session_get_remote_window_size(h->session);
        /* The windows still count this frame: nghttp2 takes it off once it is sent. */
        int64_t window = (int64_t)(sw < cw ? sw : cw) - (int64_t)length;
        uint64_t left = piece - length;
        if (window < 0)
            window = 0;
        if (left > (uint64_t)window)
            left = (uint64_t)window;
        while (left > 0 && pos < OUT_HIGH && n < (int)(sizeof(iov) / sizeof(iov[0]))) {
            uint32_t k = left < DATA_MAX ? (uint32_t)left : DATA_MAX;
            if (OUT_CAP - pos < 9 + k)
                break;
            iov[n++] = (struct iovec){ h->out + pos + 9, k };
            pos += 9 + k;
            ahead += k;
            left -= k;
        }
    }
    got = preadv(s->fd, iov, n, off);
    if (got < (ssize_t)length)
        return -1;
    /* Read ahead only when all of it came (a short read: the file shrank, found out later). */
    h->ahead_left = (uint64_t)got == length + ahead ? (uint32_t)ahead : 0;
    h->ahead_stream = s;
    h->ahead_pos = h->len + 9 + (uint32_t)length;
    h->ahead_off = off + (int64_t)length;
    return 0;
}

/*
 * A DATA frame: its header into the buffer, then its payload: memory copied;
 * file bytes read into the buffer over TLS, or left to sendfile in the clear
 * (the session then pauses until they are out).
 */
static int send_data(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd,
                     size_t length, nghttp2_data_source *source, void *user)
{
    struct ws_h2 *h = user;
    struct h2_stream *s = source->ptr;
    const char *mem = NULL;
    int64_t off = 0;
    uint64_t piece;

    (void)session, (void)frame;
    if (h->pend_left > 0 || h->len >= OUT_HIGH || OUT_CAP - h->len < 9 + length) {
        h->out_full = h->pend_left == 0;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    piece = body_piece(s, &mem, &off);
    if (piece < length)
        return NGHTTP2_ERR_CALLBACK_FAILURE; /* cannot happen: read_body sized the frame */
    memcpy(h->out + h->len, framehd, 9);
    if (mem != NULL) {
        memcpy(h->out + h->len + 9, mem, length);
    } else if (h->c->tls != NULL) {
        if (!ahead_take(h, s, off, length) && read_ahead(h, s, off, length, piece) < 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE; /* the file shrank: the length cannot be met */
    } else {
        h->len += 9;
        h->pend_fd = s->fd;
        h->pend_stream = s;
        h->pend_owned = 0;
        h->pend_off = off;
        h->pend_left = (int64_t)length;
        body_advance(s, length);
        return NGHTTP2_ERR_PAUSE;
    }
    h->len += (uint32_t)(9 + length);
    body_advance(s, length);
    return 0;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    struct ws_h2 *h = user;
    struct h2_stream *s;

    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    s = pool_calloc(1, sizeof(*s), NULL);
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    s->id = frame->hd.stream_id;
    s->fields = s->few;
    s->cap_fields = sizeof(s->few) / sizeof(s->few[0]);
    s->synced = (uint8_t)h->synced;
    s->fd = -1;
    s->segs = &s->seg;
    s->n_segs = 1;
    s->next = h->streams;
    if (h->streams != NULL)
        h->streams->prev = s;
    h->streams = s;
    h->receiving = s;
    h->n_streams++;
    if (h->incomplete++ == 0)
        h->head_start_ms = ws_now_ms();
    nghttp2_session_set_stream_user_data(session, s->id, s);
    return 0;
}

/*
 * The stream of a header block being received: most often the one whose block
 * began last, which saves nghttp2's lookup for every field.
 */
static struct h2_stream *receiving(struct ws_h2 *h, nghttp2_session *session, int32_t id)
{
    if (h->receiving != NULL && h->receiving->id == id)
        return h->receiving;
    return nghttp2_session_get_stream_user_data(session, id);
}

/*
 * RFC 9113 §8's rules for requests, checked here: nghttp2's HTTP messaging
 * (which checked them before) is off, since it cost more than the whole of
 * this (make_callbacks). The rules are nghttp2's for a server that has no
 * on_invalid_header callback: every field that breaks one makes the request
 * malformed, a stream error PROTOCOL_ERROR. Bits of h2_stream.seen:
 */
#define SEEN_METHOD    0x01
#define SEEN_SCHEME    0x02
#define SEEN_PATH      0x04
#define SEEN_AUTHORITY 0x08
#define SEEN_HOST      0x10
#define SEEN_REGULAR   0x20 /* a regular field: no pseudo-header field may follow */
#define SEEN_LENGTH    0x40 /* Content-Length, in h2_stream.length */

/* What the pseudo-header fields said, for the checks at the end of the block (h2_stream.kind). */
#define KIND_HTTP         0x01 /* :scheme http or https */
#define KIND_PATH_REGULAR 0x02 /* :path starts with "/" */
#define KIND_PATH_STAR    0x04 /* :path is "*" */
#define KIND_OPTIONS      0x08
#define KIND_CONNECT      0x10

/*
 * The byte classes of the checks, one bit each in char_class (filled once, by
 * make_callbacks, before any session exists; read-only after).
 */
#define C_NAME      0x01 /* a field name's: tchar but upper case (nghttp2_check_header_name) */
#define C_VALUE     0x02 /* a field value's: VCHAR, obs-text, SP, HTAB (RFC 9113 §8.2.1) */
#define C_PATH      0x04 /* :path's: no control, space or DEL (nghttp2_check_path) */
#define C_AUTHORITY 0x08 /* :authority's and Host's (nghttp2_check_authority) */
#define C_TOKEN     0x10 /* :method's: tchar */
#define C_SCHEME    0x20 /* :scheme's after the first: ALPHA / DIGIT / "+" / "-" / "." */
static uint8_t char_class[256];

static void make_char_classes(void)
{
    for (unsigned c = 0; c < 256; c++) {
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        uint8_t k = 0;

        if (ws_is_tchar((unsigned char)c) && !(c >= 'A' && c <= 'Z'))
            k |= C_NAME;
        if (ws_is_field_vchar((unsigned char)c))
            k |= C_VALUE;
        if (c > 0x20 && c != 0x7f)
            k |= C_PATH;
        if (c > 0x20 && c < 0x7f && strchr("\"#/<>?\\^`{|}", (int)c) == NULL)
            k |= C_AUTHORITY;
        if (ws_is_tchar((unsigned char)c))
            k |= C_TOKEN;
        if (alnum || c == '+' || c == '-' || c == '.')
            k |= C_SCHEME;
        char_class[c] = k;
    }
}

/* Whether every byte of v is of class cls. */
static int all_of(uint8_t cls, struct ws_view v)
{
    const unsigned char *p = (const unsigned char *)v.ptr;
    uint8_t acc = cls;
    size_t i = 0;

    for (; i + 4 <= v.len; i += 4)
        acc &=
            char_class[p[i]] & char_class[p[i + 1]] & char_class[p[i + 2]] & char_class[p[i + 3]];
    for (; i < v.len; i++)
        acc &= char_class[p[i]];
    return acc == cls;
}

/* A field value (RFC 9113 §8.2.1): no NUL, CR, LF or other control but HTAB, nor DEL; no
 * whitespace at either end. */
static int value_ok(struct ws_view v)
{
    if (v.len > 0 && (v.ptr[0] == ' ' || v.ptr[0] == '\t' || v.ptr[v.len - 1] == ' ' ||
                      v.ptr[v.len - 1] == '\t'))
        return 0;
    return all_of(C_VALUE, v);
}

/* :scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1). */
static int scheme_ok(struct ws_view v)
{
    return v.len > 0 && (v.ptr[0] | 0x20) >= 'a' && (v.ptr[0] | 0x20) <= 'z' && all_of(C_SCHEME, v);
}

static int name_is(struct ws_view n, const char *lit, size_t len)
{
    return n.len == len && memcmp(n.ptr, lit, len) == 0;
}

/* Marks a pseudo-header field (or Host) seen: -1 when it was already, or is empty. */
static int once(struct h2_stream *s, uint8_t bit, struct ws_view v)
{
    if ((s->seen & bit) || v.len == 0)
        return -1;
    s->seen |= bit;
    return 0;
}

/*
 * One field of a request's header block (trailer 0) or of its trailers:
 * 0, or -1 when it makes the request malformed (RFC 9113 §8.1.1). Strings
 * from HPACK's static table (static_name, static_value) are known good.
 */
static int check_field(struct h2_stream *s, struct ws_view n, struct ws_view v, int static_name,
                       int static_value, int trailer)
{
    int ok;

    if (!static_name) {
        size_t skip = n.len > 0 && n.ptr[0] == ':';
        if (n.len == skip || !all_of(C_NAME, (struct ws_view){ n.ptr + skip, n.len - skip }))
            return -1;
    }
    if (n.ptr[0] == ':') {
        if (trailer || (s->seen & SEEN_REGULAR))
            return -1;
        if (name_is(n, ":method", 7)) {
            if ((!static_value && !all_of(C_TOKEN, v)) || once(s, SEEN_METHOD, v) < 0)
                return -1;
            if (v.len == 7 && memcmp(v.ptr, "CONNECT", 7) == 0)
                s->kind |= KIND_CONNECT;
            else if (v.len == 7 && memcmp(v.ptr, "OPTIONS", 7) == 0)
                s->kind |= KIND_OPTIONS;
        } else if (name_is(n, ":path", 5)) {
            if ((!static_value && !all_of(C_PATH, v)) || once(s, SEEN_PATH, v) < 0)
                return -1;
            if (v.ptr[0] == '/')
                s->kind |= KIND_PATH_REGULAR;
            else if (v.len == 1 && v.ptr[0] == '*')
                s->kind |= KIND_PATH_STAR;
        } else if (name_is(n, ":scheme", 7)) {
            if ((!static_value && !scheme_ok(v)) || once(s, SEEN_SCHEME, v) < 0)
                return -1;
            if (ws_view_eq_nocase(v, "http") || ws_view_eq_nocase(v, "https"))
                s->kind |= KIND_HTTP;
        } else if (name_is(n, ":authority", 10)) {
            if ((!static_value && !all_of(C_AUTHORITY, v)) || once(s, SEEN_AUTHORITY, v) < 0)
                return -1;
        } else {
            /* :status, :protocol (no SETTINGS_ENABLE_CONNECT_PROTOCOL was sent), any other. */
            return -1;
        }
        return 0;
    }
    s->seen |= SEEN_REGULAR;
    ok = static_value || value_ok(v);
    switch (n.len) {
    case 2: /* te: "trailers" alone (RFC 9113 §8.2.2) */
        return ok && (n.ptr[0] != 't' || n.ptr[1] != 'e' || ws_view_eq_nocase(v, "trailers")) ? 0
                                                                                              : -1;
    case 4:
        if (name_is(n, "host", 4))
            return (static_value || all_of(C_AUTHORITY, v)) && once(s, SEEN_HOST, v) == 0 ? 0 : -1;
        break;
    case 7: /* connection-specific fields (RFC 9113 §8.2.2) */
        if (name_is(n, "upgrade", 7))
            return -1;
        break;
    case 10:
        if (name_is(n, "connection", 10) || name_is(n, "keep-alive", 10))
            return -1;
        break;
    case 14:
        if (name_is(n, "content-length", 14)) {
            int64_t len = 0;
            if (!ok || v.len == 0 || (s->seen & SEEN_LENGTH))
                return -1;
            for (size_t i = 0; i < v.len; i++) {
                int d = v.ptr[i] - '0';
                if (d < 0 || d > 9 || len > (INT64_MAX - d) / 10)
                    return -1;
                len = len * 10 + d;
            }
            s->seen |= SEEN_LENGTH;
            s->length = len;
        }
        break;
    case 16:
        if (name_is(n, "proxy-connection", 16))
            return -1;
        break;
    case 17:
        if (name_is(n, "transfer-encoding", 17))
            return -1;
        break;
    default: break;
    }
    return ok ? 0 : -1;
}

/* The checks at the end of a request's header block (RFC 9113 §8.3.1, §8.5). 0, or -1. */
static int check_request(struct h2_stream *s, int end_stream)
{
    if (s->kind & KIND_CONNECT) {
        if ((s->seen & (SEEN_SCHEME | SEEN_PATH)) || !(s->seen & SEEN_AUTHORITY))
            return -1;
        s->seen &= (uint8_t)~SEEN_LENGTH; /* a tunnel's bytes are not counted */
        return 0;
    }
    if ((s->seen & (SEEN_METHOD | SEEN_SCHEME | SEEN_PATH)) !=
            (SEEN_METHOD | SEEN_SCHEME | SEEN_PATH) ||
        !(s->seen & (SEEN_AUTHORITY | SEEN_HOST)))
        return -1;
    if ((s->kind & KIND_HTTP) && !(s->kind & KIND_PATH_REGULAR) &&
        !((s->kind & KIND_OPTIONS) && (s->kind & KIND_PATH_STAR)))
        return -1;
    return end_stream && (s->seen & SEEN_LENGTH) && s->length != 0 ? -1 : 0;
}

/* A malformed request (RFC 9113 §8.1.1): the stream is reset with PROTOCOL_ERROR. */
static void malformed(nghttp2_session *session, struct h2_stream *s)
{
    if (s->malformed)
        return;
    s->malformed = 1;
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_PROTOCOL_ERROR);
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, nghttp2_rcbuf *name,
                     nghttp2_rcbuf *value, uint8_t flags, void *user)
{
    struct h2_stream *s = receiving(user, session, frame->hd.stream_id);
    struct ws_view n = rcview(name), v = rcview(value);
    nghttp2_rcbuf **pseudo = NULL;

    (void)flags;
    if (s == NULL || s->malformed)
        return 0;
    if (check_field(s, n, v, nghttp2_rcbuf_is_static(name), nghttp2_rcbuf_is_static(value),
                    s->complete) < 0) {
        /* As nghttp2 did: the rest of the block is not looked at (nor answered). */
        malformed(session, s);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (s->complete)
        return 0; /* trailers: checked, not used */
    s->list_size += (uint32_t)(n.len + v.len + 32);
    if (s->list_size > WS_H2_MAX_HEADER_LIST)
        s->too_big = 1;
    if (s->list_size > WS_H2_MAX_DECODED) {
        calm((struct ws_h2 *)user); /* an HPACK bomb: a small block that decodes to a lot */
        return 0;
    }
    if (s->too_big)
        return 0;
    if (n.len > 0 && n.ptr[0] == ':') {
        /* nghttp2 has checked the pseudo-header fields (RFC 9113 §8.3): known, lowercase. */
        if (n.len == 7 && n.ptr[1] == 'm')
            pseudo = &s->method;
        else if (n.len == 10)
            pseudo = &s->authority;
        else if (n.len == 5)
            pseudo = &s->path;
        if (pseudo != NULL && *pseudo == NULL) {
            nghttp2_rcbuf_incref(value);
            *pseudo = value;
        }
        return 0;
    }
    if (s->n_fields == WS_MAX_HEADERS) {
        s->too_big = 1;
        return 0;
    }
    if (s->n_fields == s->cap_fields) {
        struct h2_field *f = s->fields == s->few ? NULL : s->fields;
        f = realloc(f, WS_MAX_HEADERS * sizeof(*f));
        if (f == NULL)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        if (s->fields == s->few)
            memcpy(f, s->few, sizeof(s->few));
        s->fields = f;
        s->cap_fields = WS_MAX_HEADERS;
    }
    nghttp2_rcbuf_incref(name);
    nghttp2_rcbuf_incref(value);
    s->fields[s->n_fields++] = (struct h2_field){ name, value };
    return 0;
}

static int on_begin_frame(nghttp2_session *session, const nghttp2_frame_hd *hd, void *user)
{
    struct ws_h2 *h = user;

    if (hd->type == NGHTTP2_HEADERS) {
        h->block_frames = 0;
        h->block_bytes = (uint32_t)hd->length;
        if ((hd->stream_id & 1) && hd->stream_id <= h->max_stream_id &&
            nghttp2_session_find_stream(session, hd->stream_id) == NULL)
            /* A new stream below one already used (RFC 9113 §5.1.1); nghttp2 would ignore it. */
            nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR);
        if (hd->stream_id > h->max_stream_id)
            h->max_stream_id = hd->stream_id;
    } else if (hd->type == NGHTTP2_CONTINUATION) {
        h->block_bytes += (uint32_t)hd->length;
        if (++h->block_frames > WS_H2_MAX_CONTINUATIONS || h->block_bytes > WS_H2_MAX_HEADER_BLOCK)
            calm(h); /* CVE-2024-27316 and its family */
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    struct ws_h2 *h = user;
    struct h2_stream *s;

    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        s = receiving(h, session, frame->hd.stream_id);
        if (s == NULL || s->malformed)
            break;
        if (s->complete) {
            /* Trailers: they end the stream (RFC 9113 §8.1), which ends the body. */
            if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
                ((s->seen & SEEN_LENGTH) && (uint64_t)s->length != s->body_seen))
                malformed(session, s);
            break;
        }
        if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
            break;
        s->complete = 1;
        h->incomplete--;
        if (check_request(s, frame->hd.flags & NGHTTP2_FLAG_END_STREAM) < 0) {
            malformed(session, s);
            break;
        }
        answer(h, s);
        break;
    case NGHTTP2_DATA:
        s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (s != NULL && !s->malformed && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
            (s->seen & SEEN_LENGTH) && (uint64_t)s->length != s->body_seen)
            malformed(session, s); /* less body than Content-Length said (RFC 9113 §8.1.1) */
        break;
    case NGHTTP2_RST_STREAM:
        if (!bucket_take(&h->resets, WS_H2_RESET_BURST, WS_H2_RESET_RATE))
            calm(h); /* rapid reset, CVE-2023-44487 */
        break;
    case NGHTTP2_PING:
    case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK)
            break;
        /* fallthrough */
    case NGHTTP2_PRIORITY:
        if (!bucket_take(&h->controls, WS_H2_CONTROL_BURST, WS_H2_CONTROL_RATE))
            calm(h);
        break;
    default: break;
    }
    return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    struct ws_h2 *h = user;

    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        count(h->env, WS_H2_RESETS_SENT);
    } else if (frame->hd.type == NGHTTP2_GOAWAY) {
        h->goaway_out = 1;
    } else if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        struct h2_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (s != NULL) {
            s->sent_end = 1;
            if (s->body_refused) /* the answer is out: now stop the body over --max-body */
                nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                          NGHTTP2_CANCEL);
        }
    }
    return 0;
}

/*
 * A request body is read and dropped (the answer never needs it), within
 * --max-body: a stream that sends more is reset with CANCEL once its answer is out (a
 * reset before would drop the answer unsent). (An RST_STREAM NO_ERROR after
 * the answer, which RFC 9113 §8.1 allows, makes curl 7.88 fail the request.)
 */
static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    struct ws_h2 *h = user;
    struct h2_stream *s = nghttp2_session_get_stream_user_data(session, id);

    (void)flags, (void)data;
    if (s == NULL || s->malformed)
        return 0;
    s->body_seen += len;
    if ((s->seen & SEEN_LENGTH) && s->body_seen > (uint64_t)s->length) {
        malformed(session, s); /* more body than Content-Length said (RFC 9113 §8.1.1) */
        return 0;
    }
    if (h->env != NULL && s->body_seen > h->env->max_body && !s->body_refused) {
        s->body_refused = 1;
        /* Once the answer is out (a reset now would drop it unsent); else on_frame_send. */
        if (s->answered && s->sent_end)
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code, void *user)
{
    struct ws_h2 *h = user;
    struct h2_stream *s = nghttp2_session_get_stream_user_data(session, id);

    (void)error_code;
    if (s == NULL)
        return 0;
    log_stream(h, s);
    free_stream(h, s);
    return 0;
}

static nghttp2_session_callbacks *callbacks;
static nghttp2_option *options;

static void make_callbacks(void)
{
    make_char_classes();
    make_status_text();
    if (pthread_key_create(&pool_key, pool_drain) != 0)
        return;
    if (nghttp2_session_callbacks_new(&callbacks) != 0 || nghttp2_option_new(&options) != 0)
        return;
    h2_set_send_callback(callbacks, send_frames);
    nghttp2_session_callbacks_set_send_data_callback(callbacks, send_data);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback2(callbacks, on_header);
    nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, on_begin_frame);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    /* Our own encoder table stays small: responses repeat few fields. */
    nghttp2_option_set_max_deflate_dynamic_table_size(options, 4096);
    /* A SETTINGS frame with more entries than this is an attack, not a configuration. */
    nghttp2_option_set_max_settings(options, 32);
    /* RFC 9113 §8's checks are ours (check_field): nghttp2's cost some 1,200 instructions a
     * request. */
    nghttp2_option_set_no_http_messaging(options, 1);
}

static struct ws_h2 *h2_new(struct ws_conn *c)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static const nghttp2_settings_entry settings[] = {
        { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, WS_H2_MAX_STREAMS },
        { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, WS_H2_MAX_HEADER_LIST },
    };
    struct ws_h2 *h;

    pthread_once(&once, make_callbacks);
    if (callbacks == NULL || options == NULL)
        return NULL;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->c = c;
    h->pend_fd = -1;
    if (nghttp2_session_server_new3(&h->session, callbacks, h, options, &pool_mem) != 0) {
        free(h);
        return NULL;
    }
    if (nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, settings,
                                sizeof(settings) / sizeof(settings[0])) != 0) {
        nghttp2_session_del(h->session);
        free(h);
        return NULL;
    }
    return h;
}

void ws_h2_free(struct ws_h2 *h)
{
    if (h == NULL)
        return;
    h->wb = NULL; /* no logging: this may be the event thread */
    /* The streams hold buffers of the session's: they go first. */
    while (h->streams != NULL) {
        nghttp2_session_set_stream_user_data(h->session, h->streams->id, NULL);
        free_stream(h, h->streams);
    }
    nghttp2_session_del(h->session);
    if (h->pend_owned && h->pend_fd >= 0)
        close(h->pend_fd);
    free(h->saved);
    free(h);
}

int ws_h2_told_to_go(const struct ws_h2 *h)
{
    return h != NULL && h->goaway_sent;
}

int ws_h2_busy(const struct ws_h2 *h)
{
    return h != NULL && (h->n_streams > 0 || h->sent < h->len || h->pend_left > 0);
}

void ws_h2_goaway_now(struct ws_conn *c)
{
    struct ws_h2 *h = c->h2;
    unsigned char f[17] = { 0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0 };
    int32_t last;

    if (h == NULL || h->sent < h->len || h->pend_left > 0 || h->goaway_now || h->goaway_out ||
        h->calm)
        return;
    h->goaway_now = 1;
    last = nghttp2_session_get_last_proc_stream_id(h->session);
    f[9] = (unsigned char)(last >> 24);
    f[10] = (unsigned char)(last >> 16);
    f[11] = (unsigned char)(last >> 8);
    f[12] = (unsigned char)last;
    (void)ws_transport_send(c, f, sizeof(f), 0); /* NO_ERROR: the last 4 bytes stay 0 */
}

/* ---- the turn ------------------------------------------------------------- */

int ws_h2_linger(const struct ws_h2 *h)
{
    return h != NULL && (h->goaway_out || h->goaway_now);
}

/*
 * Feeds input to the session. When nghttp2 gives up on it (a flood it caught
 * itself: acknowledgements the client does not read, too many CONTINUATION
 * frames; or input it cannot go on with), the client is told why with a
 * GOAWAY, once, and nothing more is read.
 */
static void feed(struct ws_h2 *h, const char *buf, size_t len)
{
    h2_ssize rv = h2_mem_recv(h->session, (const uint8_t *)buf, len);

    if (rv >= 0)
        return;
    h->broken = 1;
    if (rv == NGHTTP2_ERR_FLOODED || rv == H2_ERR_TOO_MANY_CONTINUATIONS)
        calm(h);
    else if (!h->calm)
        nghttp2_session_terminate_session(h->session, NGHTTP2_PROTOCOL_ERROR);
}

/* Writes the buffer, then the file piece. 0: all out; 1: the socket is full; -1: failed. */
static int flush(struct ws_h2 *h)
{
    struct ws_conn *c = h->c;
    uint32_t end = h->len;

    /*
     * Over TLS, when the session stopped only because the buffer was full, the
     * bytes after the last full record wait for the frames that come next:
     * sent now, they would make a short record of their own at every flush (36
     * bytes after four full DATA frames), which costs a call and the sealing
     * of a record as a full one does.
     */
    if (c->tls != NULL && h->out_full)
        end = h->len - (h->len - h->sent) % TLS_RECORD;
    while (h->sent < end) {
        /*
         * Over TLS a send takes one record (16 KiB at most): while more of the
         * buffer follows, the records are batched (transport.h), and the last
         * send, without more, sends them with its own in one go.
         */
        uint32_t left = end - h->sent;
        int more = h->pend_left > 0 || (c->tls != NULL && left > TLS_RECORD);
        ssize_t n = ws_transport_send(c, h->out + h->sent, left, more);
        if (n < 0)
            return errno == EAGAIN ? 1 : -1;
        h->sent += (uint32_t)n;
        h->turn_bytes += (uint64_t)n;
    }
    if (end < h->len) {
        /* The held bytes go to the front; the frames that follow are added behind them. */
        memmove(h->out, h->out + h->sent, h->len - h->sent);
        h->len -= h->sent;
        h->sent = 0;
        h->ahead_left = 0;
        return 0;
    }
    h->sent = h->len = 0;
    h->ahead_left = 0; /* the buffer starts again: what was read ahead is overwritten */
    while (h->pend_left > 0) {
        ssize_t n = ws_transport_sendfile(c, h->pend_fd, &h->pend_off, (size_t)h->pend_left,
                                          h->wb->tls_buf, sizeof(h->wb->tls_buf));
        if (n < 0)
            return errno == EAGAIN ? 1 : -1;
        if (n == 0)
            return -1; /* the file shrank: the frame cannot be completed */
        h->pend_left -= n;
        h->turn_bytes += (uint64_t)n;
    }
    if (h->pend_owned)
        close(h->pend_fd);
    h->pend_fd = -1;
    h->pend_owned = 0;
    h->pend_stream = NULL;
    return 0;
}

static enum ws_conn_verdict close_conn(struct ws_h2 *h);

/*
 * Ends the turn parked for events, with the deadline of what the connection
 * waits for; closes instead if it has passed. The output buffer is given
 * back while it is empty, so an idle connection holds only its session.
 */
static enum ws_conn_verdict park(struct ws_h2 *h, uint32_t events)
{
    struct ws_conn *c = h->c;
    const struct ws_conn_env *env = h->env;
    int64_t now = ws_now_ms(), deadline;
    enum ws_close_reason reason;
    int sending = 0;

    if (events == EPOLLIN && h->compressing > 0)
        events = EPOLLOUT; /* a job to step: writable at once, so back soon */
    for (struct h2_stream *s = h->streams; s != NULL && !sending; s = s->next)
        sending = s->answered && body_left(s) > 0;
    if (events == EPOLLOUT || sending) {
        /* A full socket, or a zero window: output that makes no progress. */
        reason = WS_CLOSE_SEND_STALL;
        deadline = now + env->send_timeout_ms;
    } else if (h->incomplete > 0) {
        reason = WS_CLOSE_HEAD_TIMEOUT;
        deadline = h->head_start_ms + env->header_timeout_ms;
    } else if (h->requests == 0 || h->n_streams > 0) {
        /* The first request (from the accept), or request bodies still coming. */
        reason = WS_CLOSE_HEAD_TIMEOUT;
        deadline = (h->requests == 0 ? c->phase_start_ms : now) + env->header_timeout_ms;
    } else {
        reason = WS_CLOSE_IDLE;
        deadline = now + env->keepalive_timeout_ms;
    }
    if (deadline <= now) {
        if (env->closes != NULL)
            atomic_fetch_add_explicit(&env->closes[reason], 1, memory_order_relaxed);
        return WS_CONN_CLOSE;
    }
    if (h->sent < h->len) {
        h->saved = malloc(h->len - h->sent);
        if (h->saved == NULL)
            return close_conn(h);
        memcpy(h->saved, h->out + h->sent, h->len - h->sent);
        h->len -= h->sent;
        h->sent = 0;
    } else {
        h->len = h->sent = 0;
    }
    h->out = h->saved;
    c->deadline_ms = c->fixed_deadline_ms = deadline;
    c->close_reason = c->fixed_reason = (uint8_t)reason;
    c->slow_reason = WS_CLOSE_NONE;
    c->park_events = events;
    c->park_edge = (uint8_t)((h->refused & events) != 0);
    if (events == EPOLLIN)
        c->deadline_ms = ws_tls_park(c->tls, now, deadline);
    h->env = NULL;
    h->wb = NULL;
    return WS_CONN_PARK;
}

/* Ends the turn with a close: the streams still open are logged as they stand. */
static enum ws_conn_verdict close_conn(struct ws_h2 *h)
{
    for (struct h2_stream *s = h->streams; s != NULL; s = s->next)
        log_stream(h, s);
    h->out = NULL; /* the worker's */
    h->len = h->sent = 0;
    h->env = NULL;
    h->wb = NULL;
    return WS_CONN_CLOSE;
}

/*
 * A step of the first stream's compression job, one a turn (so a turn holds
 * the worker for one step at most); the job done, the stream is answered.
 */
static void step_job(struct ws_h2 *h)
{
    for (struct h2_stream *s = h->streams; s != NULL; s = s->next) {
        if (s->zjob != NULL) {
            if (ws_compress_job_step(s->zjob) != 0)
                answer(h, s);
            return;
        }
    }
}

static enum ws_conn_verdict run(struct ws_conn *c, const struct ws_conn_env *env,
                                struct ws_worker_buf *wb, const char *in, size_t in_len, int synced)
{
    struct ws_h2 *h = c->h2;
    unsigned reads = 0;
    int drained = 0; /* the socket was read until a read came back short */
    int stepped = 0; /* a compression job was stepped in this turn */

    if (h == NULL) {
        h = c->h2 = h2_new(c);
        if (h == NULL)
            return WS_CONN_CLOSE;
        count(env, WS_H2_CONNECTIONS);
    }
    h->env = env;
    h->wb = wb;
    h->turn_bytes = 0;
    h->refused = 0;
    h->synced = synced;
    h->out = wb->h2_out;
    h->ahead_left = 0; /* read into another worker's buffer */
    if (h->saved != NULL) {
        memcpy(h->out, h->saved + h->sent, h->len - h->sent);
        h->len -= h->sent;
        h->sent = 0;
        free(h->saved);
        h->saved = NULL;
    }
    if (in_len > 0) {
        feed(h, in, in_len);
        h->synced = 0;
    }
    for (;;) {
        ssize_t n;
        int rc;

        if (!h->goaway_sent && atomic_load_explicit(env->draining, memory_order_relaxed)) {
            /* Shutting down: no new streams; those in flight may finish. */
            h->goaway_sent = 1;
            nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(h->session),
                                  NGHTTP2_NO_ERROR, NULL, 0);
        }
        if (h->compressing > 0 && !stepped) {
            stepped = 1;
            step_job(h);
        }
        rc = flush(h);

        if (rc < 0)
            return close_conn(h);
        if (rc > 0) {
            if (c->tls == NULL)
                h->refused |= EPOLLOUT;
            return park(h, c->tls != NULL ? c->io_want : EPOLLOUT);
        }
        if (h->turn_bytes >= TURN_MAX_BYTES && nghttp2_session_want_write(h->session))
            /* Yield the worker; writable at once, so back soon. Not for the last bytes
             * of what the session has made (the end of a 1 MiB response): they would
             * wait for the worker's other connections, and the client with them. */
            return park(h, EPOLLOUT);
        h->out_full = 0;
        if (nghttp2_session_send(h->session) != 0)
            return close_conn(h);
        if (h->len > 0 || h->pend_left > 0)
            continue;
        if (!nghttp2_session_want_read(h->session) && !nghttp2_session_want_write(h->session))
            return close_conn(h); /* GOAWAY sent and nothing left in flight */
        if (!nghttp2_session_want_read(h->session) || h->broken)
            return close_conn(h); /* ending, and what is left cannot move without input */
        if (drained)
            /*
             * The last read did not fill the buffer: do not spend a read finding the
             * socket empty; epoll reports what comes (a parked socket that has input
             * already is reported at once). A level park: the end of the stream may
             * be queued behind the bytes that read returned, and its edge may have
             * come before the turn, so only EAGAIN makes an edge park (refused).
             */
            return park(h, EPOLLIN);
        if (++reads > TURN_MAX_READS)
            return park(h, EPOLLOUT); /* yield; and TLS may hold input epoll cannot see */
        n = ws_transport_recv(c, wb->in, sizeof(wb->in));
        if (n > 0) {
            /* In the clear only: TLS reads a record at a time, so a short read says nothing. */
            drained = c->tls == NULL && (size_t)n < sizeof(wb->in);
            feed(h, wb->in, (size_t)n);
            h->synced = 0;
            continue;
        }
        if (n == 0 || errno != EAGAIN)
            return close_conn(h);
        if (c->tls == NULL)
            h->refused |= EPOLLIN;
        return park(h, c->tls != NULL ? c->io_want : EPOLLIN);
    }
}

enum ws_conn_verdict ws_h2_run(struct ws_conn *c, const struct ws_conn_env *env,
                               struct ws_worker_buf *wb, const char *in, size_t in_len, int synced)
{
    enum ws_conn_verdict v;

    pool_active = 1; /* this thread is a worker, in a turn: see struct pool */
    v = run(c, env, wb, in, in_len, synced);
    pool_active = 0;
    return v;
}
