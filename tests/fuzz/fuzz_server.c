/*
 * fuzz_server.c - bytes from the fuzzer to a real server, over loopback.
 *
 * DESIGN
 * The first input starts one server in this process, wired as src/main.c does:
 * port 0 on 127.0.0.1, two workers, a fresh document root in a temporary
 * directory, a secret file beside it (and symlinks in the root pointing at
 * it). ws_server_run runs on its own thread; SIGINT, SIGTERM, SIGHUP and
 * SIGUSR1 are blocked in the calling thread first, so every server thread
 * inherits the mask and the signals reach only the server's signalfd.
 *
 * Each input is written to a fresh connection, the write side is shut (so a
 * partial request ends at once instead of waiting for the header timeout), and
 * the answer is read until the server closes or a deadline passes. Then:
 *   - nothing received may contain the secret's marker;
 *   - the server must still answer a well-formed request with the right bytes.
 * A failure aborts, so libFuzzer keeps the input. Memory errors inside the
 * server threads are caught by the sanitizers of the fuzz build.
 *
 * The replay driver calls ws_fuzz_teardown at the end: SIGTERM to ourselves
 * (read by the signalfd), join the server thread, free everything, remove the
 * temporary directory.
 */
#include "fuzz.h"

#include "server/config.h"
#include "server/log.h"
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char hello[] = "<!DOCTYPE html><title>Hello</title><h1>Hello, World!</h1>\n";
static const char marker[] = "WS-FUZZ-SECRET-3c9f1d7e";

static struct ws_server *server;
static struct ws_log *server_log;
static pthread_t server_thread;
static int server_port;
static char base_dir[64];
static int run_result;

static void *run_server(void *arg)
{
    run_result = ws_server_run(arg);
    return NULL;
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[256];
    int fd;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static void make_tree(char *root, size_t root_size)
{
    char path[256], *big;
    size_t big_len = 40000;

    snprintf(base_dir, sizeof(base_dir), "/tmp/ws-fuzz-XXXXXX");
    FUZZ_CHECK(mkdtemp(base_dir) != NULL);
    snprintf(root, root_size, "%s/root", base_dir);
    FUZZ_CHECK(mkdir(root, 0755) == 0);
    write_file(base_dir, "secret.txt", marker, sizeof(marker) - 1);
    write_file(root, "index.html", "index\n", 6);
    write_file(root, "HelloWorld.html", hello, sizeof(hello) - 1);
    snprintf(path, sizeof(path), "%s/sub", root);
    FUZZ_CHECK(mkdir(path, 0755) == 0);
    write_file(path, "index.html", "sub\n", 4);
    big = malloc(big_len);
    FUZZ_CHECK(big != NULL);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    write_file(root, "big.txt", big, big_len);
    free(big);
    snprintf(path, sizeof(path), "%s/escape", root);
    FUZZ_CHECK(symlink("../secret.txt", path) == 0);
    snprintf(path, sizeof(path), "%s/escape-abs", root);
    {
        char target[128];
        snprintf(target, sizeof(target), "%s/secret.txt", base_dir);
        FUZZ_CHECK(symlink(target, path) == 0);
    }
}

static void start_server(void)
{
    static char root[128];
    struct ws_config cfg;
    struct ws_server_resources res = { .root_fd = -1, .error_pages_fd = -1, .mime = NULL };
    char err[256];
    sigset_t mask;

    make_tree(root, sizeof(root));
    ws_config_defaults(&cfg);
    cfg.port = 0;
    cfg.bind = "127.0.0.1";
    cfg.root = root;
    cfg.threads = 2;
    cfg.access_log = NULL;
    cfg.header_timeout_ms = 2000;
    cfg.keepalive_timeout_ms = 2000;
    cfg.send_timeout_ms = 2000;
    cfg.shutdown_grace_ms = 1000;
    cfg.max_body = 65536;

    res.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FUZZ_CHECK(res.root_fd >= 0);
    signal(SIGPIPE, SIG_IGN);
    ws_server_signal_set(&mask);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);

    server_log = ws_log_open(NULL, NULL, WS_LOG_COMBINED);
    FUZZ_CHECK(server_log != NULL);
    server = ws_server_create(&cfg, &res, server_log, err, sizeof(err));
    if (server == NULL) {
        fprintf(stderr, "fuzz_server: %s\n", err);
        abort();
    }
    server_port = ws_server_port(server);
    FUZZ_CHECK(pthread_create(&server_thread, NULL, run_server, server) == 0);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)server_port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;

    FUZZ_CHECK(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        fprintf(stderr, "fuzz_server: connect: %s\n", strerror(errno));
        abort();
    }
    return fd;
}

/*
 * Sends data, shuts the write side, and reads until EOF or the deadline,
 * keeping what arrives in out (up to out_size; the rest is only scanned).
 * Returns the bytes kept; *closed tells whether the server closed.
 */
static size_t converse(const uint8_t *data, size_t size, char *out, size_t out_size, int timeout_ms,
                       int *closed)
{
    int fd = dial();
    size_t sent = 0, kept = 0, tail = 0;
    int64_t deadline = now_ms() + timeout_ms;
    static char window[65536 + sizeof(marker)];
    char scan[sizeof(marker)];
    int shut = 0;

    *closed = 0;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        if (!shut)
            p.events |= POLLOUT;
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            break;
        if ((p.revents & POLLOUT) && !shut) {
            ssize_t n = sent < size ? send(fd, data + sent, size - sent, MSG_NOSIGNAL) : 0;
            if (n > 0)
                sent += (size_t)n;
            if (sent == size || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                shutdown(fd, SHUT_WR);
                shut = 1;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[65536];
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                *closed = 1;
                break;
            }
            if (n > 0) {
                /* The marker may straddle two reads: scan with the previous read's tail. */
                size_t window_len = tail + (size_t)n, keep;
                memcpy(window, scan, tail);
                memcpy(window + tail, buf, (size_t)n);
                FUZZ_CHECK(memmem(window, window_len, marker, sizeof(marker) - 1) == NULL);
                keep = window_len < sizeof(marker) - 2 ? window_len : sizeof(marker) - 2;
                memcpy(scan, window + window_len - keep, keep);
                tail = keep;
                if (kept < out_size) {
                    size_t take = (size_t)n < out_size - kept ? (size_t)n : out_size - kept;
                    memcpy(out + kept, buf, take);
                    kept += take;
                }
            }
        }
    }
    close(fd);
    return kept;
}

static void probe(void)
{
    static const char req[] =
        "GET /HelloWorld.html HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n";
    char out[1024];
    int closed;
    size_t n = converse((const uint8_t *)req, sizeof(req) - 1, out, sizeof(out), 5000, &closed);
    const char *body;

    if (!(closed && n > 12 && memcmp(out, "HTTP/1.1 200 ", 13) == 0)) {
        fprintf(stderr, "fuzz_server: the server no longer answers (%zu bytes, closed %d)\n", n,
                closed);
        abort();
    }
    body = memmem(out, n, "\r\n\r\n", 4);
    FUZZ_CHECK(body != NULL);
    FUZZ_CHECK((size_t)(out + n - (body + 4)) == sizeof(hello) - 1);
    FUZZ_CHECK(memcmp(body + 4, hello, sizeof(hello) - 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned long inputs;
    char out[64];
    int closed;

    if (server == NULL)
        start_server();
    if (size > (1 << 20))
        return 0;
    converse(data, size, out, sizeof(out), 3000, &closed);
    /*
     * The server must have closed: the input ended with our FIN, and every state
     * it can be in then (head, body, lingering, idle) ends at EOF.
     */
    if (!closed) {
        fprintf(stderr, "fuzz_server: connection still open 3 s after the client's FIN\n");
        abort();
    }
    if (++inputs % 8 == 1 || size > 1000)
        probe();
    return 0;
}

void ws_fuzz_teardown(void)
{
    char cmd[128];

    if (server == NULL)
        return;
    probe();
    kill(getpid(), SIGTERM);
    FUZZ_CHECK(pthread_join(server_thread, NULL) == 0);
    FUZZ_CHECK(run_result == 0);
    ws_server_destroy(server);
    ws_log_close(server_log);
    server = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_server: could not remove %s\n", base_dir);
}
