/*
 * fuzz_h2.c - bytes into a server-side HTTP/2 session, through TLS on memory
 * BIOs, and on into the response plan.
 *
 * DESIGN
 * Nothing here stands in for the server's code: the connection is a real
 * struct ws_conn (no socket: fd -1) whose TLS session is ws_tls_session's on
 * memory BIOs, and ws_conn_run runs it exactly as a worker does. An
 * in-process OpenSSL client offering ALPN "h2" completes the handshake by
 * shuttling bytes, so the first ws_conn_run sees a finished handshake and h2
 * selected and hands over to ws_h2_run; every request it answers goes through
 * ws_answer, the file cache and the response plan against a small document
 * root made in a temporary directory, and everything the server writes comes
 * back through real TLS records that the client decrypts.
 *
 * The first byte of an input chooses:
 *   bit 0  0: the client preface and an empty SETTINGS frame come first, then
 *             the rest of the input; 1: the rest as is (a wrong preface too)
 *   bit 1  no file cache for this input (every body from the file)
 *   bit 2-3  the access log's format: combined, timing, json, or no log
 *   bit 4  the server is shutting down (draining) from the first turn
 *   bit 5  the client's bytes arrive in four pieces, one per turn, instead
 *          of all before the first turn
 *   bit 6  the client sends close_notify after its last byte
 *   bit 7  TLS 1.2 instead of 1.3
 * and the connection gets at most MAX_TURNS turns; between turns the client
 * reads (and discards) what the server wrote; a connection still parked after
 * the last turn has its deadline pass (ws_conn_deadline_passed, as the event
 * thread calls it: a GOAWAY, perhaps). The client resumes the session
 * of the first handshake of its TLS version (a full handshake costs more than
 * the rest of most inputs; fuzz_tls fuzzes handshakes). FUZZ_H2_TRACE in the
 * environment prints each turn and each frame the server sent. Invariants:
 *   - the handshake completes and ALPN selects h2;
 *   - every turn ends with PARK (for EPOLLIN or EPOLLOUT, with a deadline not
 *     yet passed) or CLOSE, and the connection is in the HTTP/2 phase, or
 *     lingering after its GOAWAY (with fd -1 the lingering recv fails at once:
 *     EBADF, a close), and is counted once as an HTTP/2 connection;
 *   - what the server sends decrypts (no TLS error at the client) and is a
 *     sequence of frames starting with the server's SETTINGS, of types a
 *     server sends (never PUSH_PROMISE or PRIORITY), each on a stream of the
 *     right kind, none longer than the default SETTINGS_MAX_FRAME_SIZE;
 *   - no DATA frame carries the bytes of the dotfile or of the file outside
 *     the root that a symlink in the root points to.
 * Memory errors and leaks are the sanitizers' to find.
 */
#include "fuzz.h"
#include "fuzz_cert.h"

#include "server/compress.h"
#include "server/conn.h"
#include "server/file_cache.h"
#include "server/h2.h"
#include "server/log.h"
#include "server/static_file.h"
#include "server/tls.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TURNS 8
#define PIECES    4
#define FRAME_MAX                                                                                  \
    16384 /* the default SETTINGS_MAX_FRAME_SIZE; our DATA frames are never longer                 \
           */

enum {
    RAW_PREFACE = 1 << 0,
    NO_CACHE = 1 << 1,
    LOG_SHIFT = 2,
    DRAINING = 1 << 4,
    IN_PIECES = 1 << 5,
    CLOSE_NOTIFY = 1 << 6,
    TLS12 = 1 << 7,
};

static const char marker[] = "WS-FUZZ-H2-SECRET-5e0a7c21";

static struct ws_tls *tls;
static SSL_CTX *client_ctx;
static SSL_SESSION *resume[2]; /* a session to resume, for TLS 1.3 and 1.2: a quicker handshake */
static char base_dir[64];
static struct ws_log *logs[4]; /* combined, timing, json, none */
static struct ws_file_cache *cache;
static struct ws_worker_buf *wb;
static struct ws_conn_env env;
static atomic_int draining;
static atomic_ulong closes[WS_CLOSE_REASONS];
static atomic_ulong h2_counts[WS_H2_COUNTS];
static int verbose; /* FUZZ_H2_TRACE set: each turn and each frame the server sent, on stderr */

/* ---- set-up ---------------------------------------------------------------- */

/* Keeps the client's first session of each version (TLS 1.3: a ticket, after the handshake). */
static int new_session(SSL *cl, SSL_SESSION *sess)
{
    int v = SSL_version(cl) != TLS1_3_VERSION;

    if (resume[v] != NULL || !SSL_SESSION_is_resumable(sess))
        return 0;
    resume[v] = SSL_SESSION_dup(sess); /* the connection's own may yet be marked unresumable */
    return 0;
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[256];
    int fd;

    FUZZ_CHECK(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static void make_dir(const char *dir, const char *name)
{
    char path[256];

    FUZZ_CHECK(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
    FUZZ_CHECK(mkdir(path, 0755) == 0);
}

/*
 * base/secret.txt (outside the root), base/errors/404.html, and the root:
 * index.html, big.bin (100 KB, over the cache's limit), style.css and a
 * newer style.css.gz, sub/ (no index: listed) with sub/nested/, a dotfile,
 * and a symlink to the secret. Returns the root's descriptor.
 */
static int make_tree(void)
{
    static const char css[] = "body { font-family: sans-serif; margin: 2em; }\n";
    static const char js_line[] = "function f(x) { return x + 1; }\n";
    char root[128], path[256], *big;
    size_t big_len = 100 * 1024;
    int fd;

    snprintf(base_dir, sizeof(base_dir), "/tmp/ws-fuzz-h2-XXXXXX");
    FUZZ_CHECK(mkdtemp(base_dir) != NULL);
    write_file(base_dir, "secret.txt", marker, sizeof(marker) - 1);
    make_dir(base_dir, "errors");
    FUZZ_CHECK(snprintf(path, sizeof(path), "%s/errors", base_dir) < (int)sizeof(path));
    write_file(path, "404.html", "<h1>not here</h1>\n", 18);
    make_dir(base_dir, "root");
    snprintf(root, sizeof(root), "%s/root", base_dir);
    write_file(root, "index.html", "<!DOCTYPE html><title>h2</title><h1>Hello</h1>\n", 47);
    big = malloc(big_len);
    FUZZ_CHECK(big != NULL);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    write_file(root, "big.bin", big, big_len);
    free(big);
    write_file(root, "style.css", css, sizeof(css) - 1);
    big = malloc(4096); /* text worth compressing on the fly (compress.h) */
    FUZZ_CHECK(big != NULL);
    for (size_t i = 0; i < 4096; i++)
        big[i] = js_line[i % (sizeof(js_line) - 1)];
    write_file(root, "app.js", big, 4096);
    free(big);
    write_file(root, "style.css.gz", "\x1f\x8b\x08\x00not-really-gzip", 19);
    make_dir(root, "sub");
    FUZZ_CHECK(snprintf(path, sizeof(path), "%s/sub", root) < (int)sizeof(path));
    write_file(path, "a.txt", "a\n", 2);
    write_file(path, "b&<c>.html", "<p>b</p>\n", 9);
    make_dir(path, "nested");
    write_file(root, ".hidden", marker, sizeof(marker) - 1);
    FUZZ_CHECK(snprintf(path, sizeof(path), "%s/escape", root) < (int)sizeof(path));
    FUZZ_CHECK(symlink("../secret.txt", path) == 0);
    fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    return fd;
}

static void init(void)
{
    char pages[128];
    static const enum ws_log_format formats[3] = { WS_LOG_COMBINED, WS_LOG_TIMING, WS_LOG_JSON };

    signal(SIGPIPE, SIG_IGN);
    verbose = getenv("FUZZ_H2_TRACE") != NULL;
    tls = fuzz_tls_server("fuzz_h2");
    client_ctx = SSL_CTX_new(TLS_client_method());
    FUZZ_CHECK(client_ctx != NULL);
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
    FUZZ_CHECK(SSL_CTX_set_alpn_protos(client_ctx, (const unsigned char *)"\x02h2", 3) == 0);
    SSL_CTX_set_session_cache_mode(client_ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(client_ctx, new_session);

    /* As ws_server_create wires its env, with the defaults of config.c. */
    env.statics.root_fd = make_tree();
    env.statics.dotfiles = 0;
    env.statics.listing = 1;
    (void)ws_open_beneath_mode(env.statics.root_fd);
    snprintf(pages, sizeof(pages), "%s/errors", base_dir);
    env.error_pages_fd = open(pages, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FUZZ_CHECK(env.error_pages_fd >= 0);
    env.cache_mode = WS_CACHE_AUTO;
    for (int i = 0; i < 3; i++) {
        logs[i] = ws_log_open("/dev/null", "/dev/null", formats[i]);
        FUZZ_CHECK(logs[i] != NULL);
    }
    logs[3] = ws_log_open(NULL, "/dev/null", WS_LOG_COMBINED);
    FUZZ_CHECK(logs[3] != NULL);
    env.draining = &draining;
    env.limits = (struct ws_parse_limits){ WS_MAX_REQUEST_LINE, WS_MAX_HEAD, WS_MAX_HEADERS };
    env.header_timeout_ms = 15000;
    env.keepalive_timeout_ms = 15000;
    env.send_timeout_ms = 30000;
    env.linger_timeout_ms = 2000;
    env.min_rate = 240;
    env.rate_window_ms = 5000;
    env.max_requests = 1000;
    env.max_body = 4096; /* not 1 MiB: a body over the limit must fit in an input */
    env.closes = closes;
    env.tls = tls;
    env.http2 = 1;
    env.h2_counts = h2_counts;
    env.hsts_secs = 31536000;

    wb = calloc(1, sizeof(*wb));
    FUZZ_CHECK(wb != NULL);
    cache = ws_file_cache_new(128, WS_SMALL_FILE_MAX);
    FUZZ_CHECK(cache != NULL);
    wb->zcache = ws_compress_cache_new(16, 1 << 20, WS_SMALL_FILE_MAX, NULL);
    FUZZ_CHECK(wb->zcache != NULL);
    env.gzip_level = WS_COMPRESS_GZIP_LEVEL;
    env.zstd_level = WS_COMPRESS_ZSTD_LEVEL;
    atexit(ws_fuzz_teardown); /* libFuzzer does not call it: the temporary directory goes too */
}

static void remove_tree(int dir_fd)
{
    DIR *d = fdopendir(dir_fd);
    struct dirent *de;

    if (d == NULL) {
        close(dir_fd);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        int sub;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
            remove_tree(sub);
            unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
        } else {
            unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    closedir(d);
}

void ws_fuzz_teardown(void)
{
    if (tls == NULL)
        return;
    for (int i = 0; i < 4; i++)
        ws_log_close(logs[i]);
    ws_file_cache_free(cache);
    ws_compress_cache_free(wb->zcache);
    free(wb);
    close(env.statics.root_fd);
    close(env.error_pages_fd);
    remove_tree(open(base_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    rmdir(base_dir);
    SSL_SESSION_free(resume[0]);
    SSL_SESSION_free(resume[1]);
    SSL_CTX_free(client_ctx);
    ws_tls_free(tls);
    tls = NULL;
}

/* ---- the client's view of what the server sent ---------------------------- */

/* A reader of the server's frames, fed the plaintext as it comes. */
struct frames {
    uint8_t hd[9];
    unsigned hd_have;
    uint32_t left; /* payload bytes of the current frame still to come */
    uint8_t type;
    unsigned long count;
};

static int contains_marker(const uint8_t *p, size_t len)
{
    /* A plain loop: libFuzzer's memmem hook would teach it the marker, to echo in a path. */
    size_t m = sizeof(marker) - 1;

    for (size_t i = 0; i + m <= len; i++) {
        size_t k = 0;
        while (k < m && p[i + k] == (uint8_t)marker[k])
            k++;
        if (k == m)
            return 1;
    }
    return 0;
}

static void check_header(struct frames *f)
{
    uint32_t len = (uint32_t)f->hd[0] << 16 | (uint32_t)f->hd[1] << 8 | f->hd[2];
    uint8_t type = f->hd[3], flags = f->hd[4];
    uint32_t stream =
        ((uint32_t)f->hd[5] << 24 | (uint32_t)f->hd[6] << 16 | (uint32_t)f->hd[7] << 8 | f->hd[8]) &
        0x7fffffffu;

    if (verbose)
        fprintf(stderr, "  frame type %u flags 0x%02x stream %u length %u\n", type, flags, stream,
                len);
    if (f->count++ == 0)
        FUZZ_CHECK(type == 4 && stream == 0 && !(flags & 1)); /* the server's preface: SETTINGS */
    FUZZ_CHECK(len <= FRAME_MAX);
    switch (type) {
    case 0:                                         /* DATA */
    case 1:                                         /* HEADERS */
    case 3:                                         /* RST_STREAM */
    case 9:                                         /* CONTINUATION */
        FUZZ_CHECK(stream != 0 && stream % 2 == 1); /* only client-initiated streams */
        break;
    case 4: /* SETTINGS */
    case 6: /* PING */
    case 7: /* GOAWAY */ FUZZ_CHECK(stream == 0); break;
    case 8: /* WINDOW_UPDATE */ FUZZ_CHECK(len == 4); break;
    default: FUZZ_CHECK(!"a frame type a server does not send (PRIORITY, PUSH_PROMISE, unknown)");
    }
    f->type = type;
    f->left = len;
    f->hd_have = 0;
}

static void read_frames(struct frames *f, const uint8_t *p, size_t len)
{
    while (len > 0) {
        if (f->left == 0) {
            size_t n = 9 - f->hd_have < len ? 9 - f->hd_have : len;
            memcpy(f->hd + f->hd_have, p, n);
            f->hd_have += (unsigned)n;
            p += n;
            len -= n;
            if (f->hd_have == 9)
                check_header(f);
        } else {
            size_t n = f->left < len ? f->left : len;
            if (f->type == 0)
                FUZZ_CHECK(!contains_marker(p, n)); /* nothing from outside the root or hidden */
            if (verbose && (f->type == 3 || f->type == 7)) {
                fprintf(stderr, "  payload");
                for (size_t i = 0; i < n && i < 16; i++)
                    fprintf(stderr, " %02x", p[i]);
                fprintf(stderr, "\n");
            }
            f->left -= (uint32_t)n;
            p += n;
            len -= n;
        }
    }
}

/* Moves what one side wrote to the other side's input; returns the bytes moved. */
static size_t shuttle(BIO *from, BIO *to)
{
    char buf[16384];
    size_t moved = 0;
    int n;

    while ((n = BIO_read(from, buf, sizeof(buf))) > 0) {
        FUZZ_CHECK(BIO_write(to, buf, n) == n);
        moved += (size_t)n;
    }
    return moved;
}

/* The client reads everything it has been sent; the server's TLS must be sound. */
static void client_read(SSL *cl, struct frames *f)
{
    static uint8_t buf[16384];

    for (;;) {
        int n = SSL_read(cl, buf, sizeof(buf));
        if (n <= 0) {
            int e = SSL_get_error(cl, n);
            FUZZ_CHECK(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_ZERO_RETURN);
            return;
        }
        read_frames(f, buf, (size_t)n);
    }
}

/* ---- one connection ---------------------------------------------------------- */

/* The HTTP/2 byte stream the client sends: *len bytes, malloc'd. */
static uint8_t *client_stream(uint8_t flags, const uint8_t *data, size_t size, size_t *len)
{
    static const uint8_t settings[9] = { 0, 0, 0, 4, 0, 0, 0, 0, 0 };
    size_t pre = flags & RAW_PREFACE ? 0 : WS_H2_PREFACE_LEN + sizeof(settings);
    uint8_t *s = malloc(pre + size + 1);

    FUZZ_CHECK(s != NULL);
    if (pre > 0) {
        memcpy(s, WS_H2_PREFACE, WS_H2_PREFACE_LEN);
        memcpy(s + WS_H2_PREFACE_LEN, settings, sizeof(settings));
    }
    if (size > 0)
        memcpy(s + pre, data, size);
    *len = pre + size;
    return s;
}

static void run(uint8_t flags, const uint8_t *data, size_t size)
{
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    BIO *cin = BIO_new(BIO_s_mem()), *cout = BIO_new(BIO_s_mem());
    SSL *srv = ws_tls_session(tls, -1), *cl = SSL_new(client_ctx);
    struct ws_log *log = logs[(flags >> LOG_SHIFT) & 3];
    struct frames frames = { .count = 0 };
    struct ws_conn *c;
    const unsigned char *proto = NULL;
    unsigned proto_len = 0;
    size_t stream_len, sent = 0;
    unsigned long conns = atomic_load(&h2_counts[WS_H2_CONNECTIONS]);
    uint8_t *stream = client_stream(flags, data, size, &stream_len);
    int done = 0, notified = 0;
    enum ws_conn_verdict v = WS_CONN_CLOSE;

    FUZZ_CHECK(in != NULL && out != NULL && cin != NULL && cout != NULL);
    FUZZ_CHECK(srv != NULL && cl != NULL);
    BIO_set_mem_eof_return(in, -1); /* empty: "would block", not the end */
    BIO_set_mem_eof_return(cin, -1);
    SSL_set_bio(srv, in, out);
    SSL_set_bio(cl, cin, cout);
    SSL_set_connect_state(cl);
    SSL_set_max_proto_version(cl, flags & TLS12 ? TLS1_2_VERSION : 0);
    SSL_set_tlsext_host_name(cl, "fuzz.test");
    if (resume[(flags & TLS12) != 0] != NULL) {
        /* A copy: OpenSSL may mark the session it resumed unresumable (a TLS 1.3 ticket, a bad
         * end). */
        SSL_SESSION *copy = SSL_SESSION_dup(resume[(flags & TLS12) != 0]);
        SSL_set_session(cl, copy);
        SSL_SESSION_free(copy);
    }
    for (int i = 0; i < 16 && !done; i++) {
        int rc = SSL_do_handshake(cl), rs = SSL_do_handshake(srv);
        shuttle(cout, in);
        shuttle(out, cin);
        done = rc == 1 && rs == 1;
    }
    FUZZ_CHECK(done); /* the server must complete a handshake with a well-behaved client */
    SSL_get0_alpn_selected(srv, &proto, &proto_len);
    FUZZ_CHECK(proto_len == 2 && memcmp(proto, "h2", 2) == 0);
    if (verbose)
        fprintf(stderr, "%s, %s\n", SSL_get_version(srv),
                SSL_session_reused(srv) ? "resumed" : "full handshake");
    ERR_clear_error();

    c = ws_conn_new(-1, NULL, ws_now_ms());
    FUZZ_CHECK(c != NULL);
    c->tls = srv; /* the record owns it now: ws_conn_free frees it */
    env.log = log;
    wb->cache = flags & NO_CACHE ? NULL : cache;
    atomic_store(&draining, (flags & DRAINING) != 0);

    for (int turn = 0; turn < MAX_TURNS; turn++) {
        size_t piece = flags & IN_PIECES ? (stream_len + PIECES - 1) / PIECES : stream_len;
        size_t wrote, fed = 0;
        int64_t now;

        if (sent < stream_len) {
            size_t n = stream_len - sent < piece ? stream_len - sent : piece;
            FUZZ_CHECK(n == 0 || SSL_write(cl, stream + sent, (int)n) == (int)n);
            sent += n;
        } else if (flags & CLOSE_NOTIFY && !notified) {
            (void)SSL_shutdown(cl);
            notified = 1;
        }
        fed = shuttle(cout, in);
        now = ws_now_ms();
        v = ws_conn_run(c, &env, wb);
        FUZZ_CHECK(v == WS_CONN_PARK || v == WS_CONN_CLOSE);
        /* ALPN h2: HTTP/2 from the start, then perhaps a lingering close after a GOAWAY. */
        FUZZ_CHECK(c->h2 != NULL && (c->phase == WS_PHASE_H2 || c->phase == WS_PHASE_LINGER));
        wrote = shuttle(out, cin);
        if (verbose)
            fprintf(stderr, "turn %d: fed %zu, %s (events 0x%x), wrote %zu\n", turn, fed,
                    v == WS_CONN_PARK ? "park" : "close", (unsigned)c->park_events, wrote);
        client_read(cl, &frames);
        if (v == WS_CONN_CLOSE)
            break;
        FUZZ_CHECK(c->park_events == EPOLLIN || c->park_events == EPOLLOUT);
        FUZZ_CHECK(c->deadline_ms > now);
        if (wrote == 0 && fed == 0 && c->park_events == EPOLLIN && sent == stream_len &&
            (notified || !(flags & CLOSE_NOTIFY)))
            break; /* waiting for input that will not come */
    }
    if (v == WS_CONN_PARK) {
        /* Still parked: its deadline passes, as the event thread would find (a GOAWAY, perhaps). */
        int64_t at = c->deadline_ms, next = ws_conn_deadline_passed(c, &env, at);
        FUZZ_CHECK(next == 0 || next > at);
        shuttle(out, cin);
        client_read(cl, &frames);
    }
    FUZZ_CHECK(atomic_load(&h2_counts[WS_H2_CONNECTIONS]) == conns + 1);
    ws_log_flush(log, &wb->log_buffer);
    ws_conn_free(c);
    SSL_free(cl);
    free(stream);
    atomic_store(&draining, 0);
    ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (tls == NULL)
        init();
    if (size == 0)
        return 0;
    run(data[0], data + 1, size - 1);
    return 0;
}
