/*
 * client/client.c - a command-line HTTP/1.1 client: `client host port path`.
 *
 * main and I/O only; reading the response is src/http/response_parser.c's job. The socket
 * is non-blocking and every wait on it goes through poll with a deadline taken
 * from -t, so no connect, read or write on the network can take longer than
 * that. The response head must fit in WS_RESP_DEFAULT_MAX_HEAD bytes; the body
 * streams through the same fixed buffer, so memory use does not grow with it.
 *
 * With --tls (or --cacert, --insecure) the same socket carries TLS (OpenSSL 3):
 * SSL_connect, SSL_read and SSL_write run on the non-blocking socket, and each
 * SSL_ERROR_WANT_READ or WANT_WRITE becomes a poll for POLLIN or POLLOUT under
 * the same deadlines, so TLS adds no wait that -t does not bound. A TLS read may
 * need to write (and a write to read), which is why every wait asks OpenSSL
 * which way to wait instead of assuming.
 *
 * Exit status: 0 for a 2xx or 3xx answer, 1 for 4xx or 5xx, 2 for a usage
 * error (a CA file that cannot be loaded included), 3 for a connection, TLS
 * (handshake or certificate verification), protocol or output error. Every
 * failure prints one line, prefixed "client: ", on standard error.
 */
#include "http/fields.h"
#include "http/response_parser.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

enum {
    EXIT_HTTP_OK = 0,
    EXIT_HTTP_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_CONN = 3,
};

/* getopt values of the long-only options: above every byte, so never a short option. */
enum {
    OPT_TLS = 0x100,
    OPT_CACERT,
    OPT_INSECURE,
};

#define DEFAULT_TIMEOUT_S 30
#define MAX_TIMEOUT_S     86400
#define MAX_REPEAT        10000
#define MAX_USER_HEADERS  100
#define MAX_REQUEST       16384
/* 1xx responses tolerated before the final one; a server sending more is broken. */
#define MAX_INTERIM 16
/* Room for a whole head plus a body read that follows it. */
#define READ_BUFFER_SIZE (WS_RESP_DEFAULT_MAX_HEAD + 65536)

static const char help_text[] =
    "Usage: client [OPTION]... HOST PORT PATH\n"
    "Send an HTTP/1.1 GET for PATH to HOST:PORT and print the response: the status\n"
    "line and header fields, then the body.\n"
    "\n"
    "  -I, --head             send HEAD instead of GET (no body is expected)\n"
    "  -o, --output=FILE      write the body to FILE, byte for byte; header sections\n"
    "                         go to standard error\n"
    "  -H, --header='NAME: VALUE'\n"
    "                         add a request header field (repeatable); replaces the\n"
    "                         default Host, User-Agent, Accept or Connection field\n"
    "  -r, --repeat=N         send the request N times on one keep-alive connection\n"
    "                         and print every response (1..10000)\n"
    "  -t, --timeout=SECONDS  longest wait to connect, and for each read or write\n"
    "                         on the connection (default 30)\n"
    "  -q, --quiet            print the body only\n"
    "      --tls              speak TLS (HTTPS): verify the server's certificate\n"
    "                         chain against the system's CA store, and its name\n"
    "                         against HOST\n"
    "      --cacert=FILE      trust the CA certificates in FILE (PEM) instead of\n"
    "                         the system store; implies --tls\n"
    "      --insecure         do not verify the certificate or the name (says so on\n"
    "                         standard error); implies --tls\n"
    "  -h, --help             show this help and exit\n"
    "  -V, --version          show the version and exit\n"
    "\n"
    "HOST is a name, an IPv4 address or an IPv6 address (with or without brackets).\n"
    "Exit status: 0 for a 2xx or 3xx answer, 1 for 4xx or 5xx, 2 for a usage error\n"
    "(a --cacert FILE that cannot be loaded too), 3 for a connection, TLS (handshake\n"
    "or certificate verification), protocol or output error.\n";

struct options {
    const char *host_arg; /* HOST as given */
    char host[256];       /* HOST for getaddrinfo: brackets removed */
    const char *port;
    const char *path;
    size_t path_len; /* up to a '#' fragment, which is never sent */
    int head;
    int quiet;
    const char *output;
    const char *headers[MAX_USER_HEADERS];
    size_t header_count;
    unsigned repeat; /* 0: no -r, one request with "Connection: close" */
    int timeout_ms;
    double timeout_s;
    int tls;
    int insecure;       /* --insecure: TLS without verification */
    const char *cacert; /* --cacert FILE, or NULL for the system store */
};

struct conn {
    int fd;
    SSL *ssl; /* TLS over fd, or NULL; SSL_free leaves fd open, conn_close closes both */
    int timeout_ms;
    int eof;
    int unclean_eof; /* TLS: the stream ended without a close_notify alert */
    int tls_failed;  /* TLS: a fatal error happened, so no SSL_shutdown may follow */
    char *buf;
    size_t start, end; /* unconsumed input is buf[start..end) */
};

/* Where output goes; -1 means nowhere. */
struct sinks {
    int head_fd;
    int body_fd;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints one "client: ..." line on standard error. */
static void say(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n] = '\n';
    fprintf(stderr, "client: %.*s", n + 1, line);
    fflush(stderr);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits until fd is ready for events or the deadline (CLOCK_MONOTONIC ms; -1 for
 * none) passes. Returns 1 when ready, 0 on timeout, -1 with errno on error.
 */
static int wait_until(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = events };
        int left = -1, n;
        if (deadline >= 0) {
            int64_t d = deadline - now_ms();
            left = d < 0 ? 0 : (int)d;
        }
        n = poll(&pfd, 1, left);
        if (n > 0)
            return 1; /* POLLERR and POLLHUP too: the next call reports them */
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/*
 * Writes all of p[0..n) to an output fd, waiting when it would block (a
 * non-blocking pipe). Returns 0, or -1 with errno set.
 */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_until(fd, POLLOUT, -1) < 0)
                return -1;
            continue;
        }
        if (w == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

/* Writes response bytes to one of the sinks; -1 means discard. Returns 0 or -1. */
static int emit(int fd, const char *p, size_t n)
{
    if (fd < 0 || n == 0)
        return 0;
    if (write_all(fd, p, n) < 0) {
        say("cannot write output: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * The reason for a message, from this thread's OpenSSL error queue (which it
 * empties): a failed system call's errno text if there is one (for a CA file
 * that does not exist, the newest entry only says "system lib"), else the
 * newest entry's reason.
 */
static const char *tls_reason(void)
{
    unsigned long e, last = 0;
    const char *r;

    while ((e = ERR_get_error()) != 0) {
        if (ERR_SYSTEM_ERROR(e)) {
            ERR_clear_error();
            return strerror(ERR_GET_REASON(e));
        }
        last = e;
    }
    r = last != 0 ? ERR_reason_error_string(last) : NULL;
    return r != NULL ? r : "unknown error";
}

/*
 * The poll events a failed non-blocking TLS call (SSL_get_error's answer err)
 * waits for before it is retried, or 0 if it cannot be retried.
 */
static short tls_wants(int err)
{
    if (err == SSL_ERROR_WANT_READ)
        return POLLIN;
    if (err == SSL_ERROR_WANT_WRITE)
        return POLLOUT;
    return 0;
}

/*
 * One non-blocking read into p[0..n). Returns the bytes read, 0 at the end of
 * the stream, or -1: then *want holds the poll events to wait for before
 * trying again, or 0 after an error, which has been printed. A TLS stream that
 * ends without close_notify ends too, but sets c->unclean_eof.
 */
static ssize_t conn_recv(struct conn *c, char *p, size_t n, short *want)
{
    size_t got;
    int err;

    *want = 0;
    while (c->ssl == NULL) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r >= 0)
            return r;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            *want = POLLIN;
        else if (errno != EINTR)
            say("cannot read from the server: %s", strerror(errno));
        if (errno != EINTR)
            return -1;
    }
    ERR_clear_error(); /* SSL_get_error reads the queue: it must hold only this call's errors */
    if (SSL_read_ex(c->ssl, p, n, &got))
        return (ssize_t)got;
    err = SSL_get_error(c->ssl, 0);
    *want = tls_wants(err);
    if (*want != 0)
        return -1;
    if (err == SSL_ERROR_ZERO_RETURN)
        return 0;
    c->tls_failed = 1;
    if (err == SSL_ERROR_SSL &&
        ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        c->unclean_eof = 1;
        return 0;
    }
    if (err == SSL_ERROR_SYSCALL)
        say("cannot read from the server: %s", errno != 0 ? strerror(errno) : "connection lost");
    else
        say("cannot read from the server: TLS error: %s", tls_reason());
    return -1;
}

/* Like conn_recv, for one non-blocking write of p[0..n); never returns 0. */
static ssize_t conn_send(struct conn *c, const char *p, size_t n, short *want)
{
    size_t put;
    int err;

    *want = 0;
    while (c->ssl == NULL) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0)
            return w;
        if (w == 0)
            errno = EIO;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            *want = POLLOUT;
        else if (errno != EINTR)
            say("cannot send the request: %s", strerror(errno));
        if (errno != EINTR)
            return -1;
    }
    /* A retried SSL_write must get the same arguments, and it does: p and n only
     * move after a success, and SSL_write is all-or-nothing by default. */
    ERR_clear_error();
    if (SSL_write_ex(c->ssl, p, n, &put))
        return (ssize_t)put;
    err = SSL_get_error(c->ssl, 0);
    *want = tls_wants(err);
    if (*want != 0)
        return -1;
    c->tls_failed = err != SSL_ERROR_ZERO_RETURN;
    if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN)
        say("cannot send the request: %s",
            errno != 0 && err == SSL_ERROR_SYSCALL ? strerror(errno) : "connection closed");
    else
        say("cannot send the request: TLS error: %s", tls_reason());
    return -1;
}

/* Sends all of p[0..n) within -t. Returns 0, or -1 after printing why. */
static int conn_send_all(struct conn *c, const char *p, size_t n)
{
    int64_t deadline = now_ms() + c->timeout_ms;

    while (n > 0) {
        short want;
        ssize_t w = conn_send(c, p, n, &want);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (want == 0)
            return -1;
        int r = wait_until(c->fd, want, deadline);
        if (r == 0)
            say("timed out after %g s sending the request", c->timeout_ms / 1000.0);
        else if (r < 0)
            say("poll: %s", strerror(errno));
        if (r <= 0)
            return -1;
    }
    return 0;
}

/*
 * Reads more input into c->buf. Returns the bytes read, 0 at end of stream, or
 * -1 after printing why (a timeout says it was waiting for `what`).
 */
static ssize_t conn_fill(struct conn *c, const char *what)
{
    int64_t deadline = now_ms() + c->timeout_ms;

    if (c->start == c->end) {
        c->start = c->end = 0;
    } else if (c->end == READ_BUFFER_SIZE && c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == READ_BUFFER_SIZE) {
        /* Cannot happen: heads are limited below the buffer size, bodies are drained. */
        say("internal error: input buffer full");
        return -1;
    }
    if (c->eof)
        return 0;
    for (;;) {
        short want;
        ssize_t n = conn_recv(c, c->buf + c->end, READ_BUFFER_SIZE - c->end, &want);
        if (n > 0) {
            c->end += (size_t)n;
            return n;
        }
        if (n == 0) {
            c->eof = 1;
            return 0;
        }
        if (want == 0)
            return -1;
        int r = wait_until(c->fd, want, deadline);
        if (r > 0)
            continue;
        if (r == 0)
            say("timed out after %g s waiting for %s", c->timeout_ms / 1000.0, what);
        else
            say("poll: %s", strerror(errno));
        return -1;
    }
}

/* Connects to one address within timeout_ms. Returns the socket, or -1 with errno. */
static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int err = 0;
    socklen_t len = sizeof(err);

    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EINTR)
        goto fail;
    switch (wait_until(fd, POLLOUT, now_ms() + timeout_ms)) {
    case 0: errno = ETIMEDOUT; goto fail;
    case -1: goto fail;
    default: break;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        goto fail;
    if (err == 0)
        return fd;
    errno = err;
fail:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

/* Tries each address of the host in turn. Returns a socket, or -1 after printing why. */
static int open_connection(const struct options *o)
{
    struct addrinfo hints, *res = NULL;
    int rc, fd = -1, err = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0) {
        say("cannot resolve '%s': %s", o->host,
            rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = connect_one(ai, o->timeout_ms);
        if (fd < 0)
            err = errno;
    }
    freeaddrinfo(res);
    if (fd >= 0)
        return fd;
    if (err == ETIMEDOUT)
        say("timed out after %g s connecting to %s port %s", o->timeout_s, o->host_arg, o->port);
    else
        say("cannot connect to %s port %s: %s", o->host_arg, o->port, strerror(err));
    return -1;
}

/*
 * Builds the TLS context the options ask for: TLS 1.2 or later, ALPN
 * "http/1.1", and unless --insecure, verification of the peer against --cacert
 * or the system store. Returns it (the caller frees it), or NULL after printing
 * why with *status set to the exit status.
 */
static SSL_CTX *tls_context(const struct options *o, int *status)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    *status = EXIT_CONN;
    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
        say("cannot set up TLS: %s", tls_reason());
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (o->insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        say("warning: --insecure: the server's certificate and name are not verified");
        return ctx;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (o->cacert != NULL && !SSL_CTX_load_verify_locations(ctx, o->cacert, NULL)) {
        say("cannot load CA certificates from '%s': %s", o->cacert, tls_reason());
        *status = EXIT_USAGE;
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (o->cacert == NULL && !SSL_CTX_set_default_verify_paths(ctx)) {
        say("cannot load the system's CA certificates: %s", tls_reason());
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/*
 * Tells ssl which peer to expect. A name goes into SNI and is checked against
 * the certificate's DNS names; an IP address (RFC 6066 keeps it out of SNI) is
 * checked against its IP addresses, without any IPv6 zone ("%eth0"). Returns 0,
 * or -1 with the reason in OpenSSL's error queue.
 */
static int tls_set_peer(SSL *ssl, const struct options *o)
{
    unsigned char addr[sizeof(struct in6_addr)];
    char ip[sizeof(o->host)];

    if (strchr(o->host, ':') != NULL || inet_pton(AF_INET, o->host, addr) == 1) {
        size_t n = strcspn(o->host, "%");
        memcpy(ip, o->host, n);
        ip[n] = '\0';
        return o->insecure || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) ? 0 : -1;
    }
    /* The macro casts its argument to void *; OpenSSL copies the name and never writes it. */
    if (!SSL_set_tlsext_host_name(ssl, (char *)(uintptr_t)o->host))
        return -1;
    if (o->insecure)
        return 0;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, o->host) ? 0 : -1;
}

/* Prints why SSL_connect failed with SSL_get_error's answer err. */
static void tls_handshake_failed(const struct conn *c, const struct options *o, int err)
{
    long verify = SSL_get_verify_result(c->ssl);

    if (!o->insecure && verify != X509_V_OK)
        say("cannot verify the certificate of %s port %s: %s", o->host_arg, o->port,
            X509_verify_cert_error_string(verify));
    else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        say("TLS handshake with %s port %s failed: %s", o->host_arg, o->port,
            errno != 0 ? strerror(errno) : "connection closed by the server");
    else if (err == SSL_ERROR_ZERO_RETURN)
        say("TLS handshake with %s port %s failed: connection closed by the server", o->host_arg,
            o->port);
    else
        say("TLS handshake with %s port %s failed: %s", o->host_arg, o->port, tls_reason());
}

/*
 * Runs the TLS handshake on the connected c->fd, all of it within -t, and
 * leaves c->ssl set for conn_recv and conn_send. Returns 0, or -1 after
 * printing why (a certificate that does not verify says so, with OpenSSL's
 * reason).
 */
static int tls_start(struct conn *c, const struct options *o, SSL_CTX *ctx)
{
    int64_t deadline = now_ms() + o->timeout_ms;

    ERR_clear_error();
    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd) || tls_set_peer(c->ssl, o) < 0) {
        say("cannot set up TLS: %s", tls_reason());
        return -1;
    }
    for (;;) {
        int ret, err, r;
        ERR_clear_error();
        errno = 0;
        ret = SSL_connect(c->ssl);
        if (ret == 1)
            return 0;
        err = SSL_get_error(c->ssl, ret);
        if (tls_wants(err) == 0) {
            tls_handshake_failed(c, o, err);
            return -1;
        }
        r = wait_until(c->fd, tls_wants(err), deadline);
        if (r > 0)
            continue;
        if (r == 0)
            say("timed out after %g s in the TLS handshake with %s port %s", o->timeout_s,
                o->host_arg, o->port);
        else
            say("poll: %s", strerror(errno));
        return -1;
    }
}

/* Ends the connection: a close_notify when TLS is up (best effort, no waiting), then close. */
static void conn_close(struct conn *c)
{
    if (c->ssl != NULL) {
        if (SSL_is_init_finished(c->ssl) && !c->tls_failed)
            SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Case-insensitive: does the header line `h` ("Name: value") have this name? */
static int header_named(const char *h, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

static int user_overrides(const struct options *o, const char *name)
{
    for (size_t i = 0; i < o->header_count; i++)
        if (header_named(o->headers[i], name))
            return 1;
    return 0;
}

/* Builds the request into out; returns its length, or 0 if it does not fit. */
static size_t build_request(const struct options *o, char *out, size_t size)
{
    size_t len = 0;
    int n;

#define APPEND(...)                                                                                \
    do {                                                                                           \
        n = snprintf(out + len, size - len, __VA_ARGS__);                                          \
        if (n < 0 || (size_t)n >= size - len)                                                      \
            return 0;                                                                              \
        len += (size_t)n;                                                                          \
    } while (0)

    APPEND("%s %s%.*s HTTP/1.1\r\n", o->head ? "HEAD" : "GET", o->path[0] == '/' ? "" : "/",
           (int)o->path_len, o->path);
    if (!user_overrides(o, "host")) {
        int v6 = strchr(o->host, ':') != NULL;
        APPEND("Host: %s%s%s:%s\r\n", v6 ? "[" : "", o->host, v6 ? "]" : "", o->port);
    }
    if (!user_overrides(o, "user-agent"))
        APPEND("User-Agent: client/%s\r\n", WS_VERSION);
    if (!user_overrides(o, "accept"))
        APPEND("Accept: */*\r\n");
    if (o->repeat == 0 && !user_overrides(o, "connection"))
        APPEND("Connection: close\r\n");
    for (size_t i = 0; i < o->header_count; i++)
        APPEND("%s\r\n", o->headers[i]);
    APPEND("\r\n");
#undef APPEND
    return len;
}

/*
 * Reads response heads until a final one (writing interim 1xx heads to the
 * head sink). Returns the final head's length, its bytes still at c->start, or
 * -1 after printing why.
 */
static int read_head(struct conn *c, const struct options *o, const struct sinks *out,
                     unsigned index, struct ws_response *resp)
{
    static const struct ws_resp_limits limits = {
        .max_head = WS_RESP_DEFAULT_MAX_HEAD,
        .max_headers = WS_RESP_MAX_HEADERS,
    };
    size_t prev = 0;
    int interim = 0, rc;

    for (;;) {
        rc = ws_resp_parse(c->buf + c->start, c->end - c->start, prev, &limits, resp);
        if (rc > 0 && resp->status >= 200)
            return rc;
        if (rc > 0) {
            if (resp->status == 101) {
                say("unexpected 101 Switching Protocols: no upgrade was requested");
                return -1;
            }
            if (++interim > MAX_INTERIM) {
                say("more than %d interim (1xx) responses", MAX_INTERIM);
                return -1;
            }
            if (emit(out->head_fd, c->buf + c->start, (size_t)rc) < 0)
                return -1;
            c->start += (size_t)rc;
            prev = 0;
            continue;
        }
        if (rc < 0) {
            say("bad response: %s", ws_resp_strerror(rc));
            return -1;
        }
        prev = c->end - c->start;
        ssize_t n = conn_fill(c, "the response");
        if (n < 0)
            return -1;
        if (n == 0) {
            if (c->start == c->end && interim == 0 && o->repeat > 1)
                say("server closed the connection before answering request %u of %u", index,
                    o->repeat);
            else if (c->start == c->end && interim == 0)
                say("server closed the connection without answering");
            else
                say("connection closed inside the response header");
            return -1;
        }
    }
}

/* Reads the body of resp, delimited by framing, into the body sink. 0, or -1 after printing why. */
static int read_body(struct conn *c, const struct sinks *out, const struct ws_response *resp,
                     enum ws_resp_framing framing)
{
    struct ws_resp_body body;

    ws_resp_body_init(&body, framing,
                      (uint64_t)(resp->content_length > 0 ? resp->content_length : 0));
    for (;;) {
        struct ws_view data;
        size_t used;
        int rc = ws_resp_body_decode(&body, c->buf + c->start, c->end - c->start, &used, &data);
        c->start += used;
        if (emit(out->body_fd, data.ptr, data.len) < 0)
            return -1;
        if (rc == 1)
            return 0;
        if (rc < 0) {
            say("bad response body: %s", ws_resp_strerror(rc));
            return -1;
        }
        if (c->start < c->end)
            continue;
        ssize_t n = conn_fill(c, "the response body");
        if (n < 0)
            return -1;
        if (n == 0) {
            /* Only framing proves such a body complete: the close itself is all we have. */
            if (framing == WS_RESP_UNTIL_CLOSE && c->unclean_eof) {
                say("connection closed without a TLS close_notify: the body may be truncated");
                return -1;
            }
            if (ws_resp_body_finish(&body) == 1)
                return 0;
            if (framing == WS_RESP_LENGTH)
                say("connection closed after %llu of %lld body bytes",
                    (unsigned long long)body.received, (long long)resp->content_length);
            else
                say("connection closed inside a chunked body, after %llu data bytes",
                    (unsigned long long)body.received);
            return -1;
        }
    }
}

/*
 * Reads one response (skipping interim 1xx ones) and writes it to the sinks.
 * Sets *status to the final status and *reusable to whether the connection can
 * carry another request. Returns 0, or -1 after printing why.
 */
static int read_response(struct conn *c, const struct options *o, const struct sinks *out,
                         unsigned index, int *status, int *reusable)
{
    struct ws_response resp;
    int rc = read_head(c, o, out, index, &resp);

    if (rc < 0)
        return -1;
    if (emit(out->head_fd, c->buf + c->start, (size_t)rc) < 0)
        return -1;
    c->start += (size_t)rc;
    *status = resp.status;
    enum ws_resp_framing framing = ws_resp_framing(&resp, o->head);
    if (read_body(c, out, &resp, framing) < 0)
        return -1;

    *reusable = resp.keep_alive && framing != WS_RESP_UNTIL_CLOSE && !c->eof;
    if (resp.status >= 400)
        say("server answered %.*s", (int)(resp.status_line.len > 9 ? resp.status_line.len - 9 : 0),
            resp.status_line.ptr + 9);
    if (!*reusable && o->repeat > index) {
        if (c->eof)
            say("server closed the connection after response %u of %u", index, o->repeat);
        else if (framing == WS_RESP_UNTIL_CLOSE)
            say("response %u of %u is delimited by closing the connection", index, o->repeat);
        else
            say("server will close the connection after response %u of %u", index, o->repeat);
        return -1;
    }
    return 0;
}

/* A request header given with -H: "Name: value", a token name, no control bytes. */
static int valid_user_header(const char *h)
{
    const char *p = h;
    while (*p != '\0' && *p != ':' &&
           ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            strchr("!#$%&'*+-.^_`|~", *p) != NULL))
        p++;
    if (p == h || *p != ':')
        return 0;
    for (p++; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != '\t' && (c < 0x20 || c == 0x7f))
            return 0; /* CR or LF would inject a header line, or a whole request */
    }
    return 1;
}

/* Applies one option (getopt's answer opt). Returns -1 to go on, or the exit status. */
static int parse_option(struct options *o, int opt, char **argv)
{
    uint64_t v;
    char *end;

    switch (opt) {
    case 'I': o->head = 1; return -1;
    case 'q': o->quiet = 1; return -1;
    case 'o':
        if (optarg[0] == '\0') {
            say("-o needs a file name");
            return EXIT_USAGE;
        }
        o->output = optarg;
        return -1;
    case 'H':
        if (!valid_user_header(optarg)) {
            say("invalid header '%s': want 'Name: value' without control characters",
                strpbrk(optarg, "\r\n") ? "(contains CR or LF)" : optarg);
            return EXIT_USAGE;
        }
        if (o->header_count == MAX_USER_HEADERS) {
            say("too many -H options (at most %d)", MAX_USER_HEADERS);
            return EXIT_USAGE;
        }
        o->headers[o->header_count++] = optarg;
        return -1;
    case 'r':
        if (ws_parse_uint(optarg, 1, MAX_REPEAT, &v) < 0) {
            say("invalid value '%s' for -r: want 1..%d", optarg, MAX_REPEAT);
            return EXIT_USAGE;
        }
        o->repeat = (unsigned)v;
        return -1;
    case 't':
        errno = 0;
        o->timeout_s = strtod(optarg, &end);
        if (errno != 0 || end == optarg || *end != '\0' || !isfinite(o->timeout_s) ||
            o->timeout_s <= 0 || o->timeout_s > MAX_TIMEOUT_S) {
            say("invalid value '%s' for -t: want seconds, more than 0 and at most %d", optarg,
                MAX_TIMEOUT_S);
            return EXIT_USAGE;
        }
        return -1;
    case OPT_TLS: o->tls = 1; return -1;
    case OPT_INSECURE: o->tls = o->insecure = 1; return -1;
    case OPT_CACERT:
        if (optarg[0] == '\0') {
            say("--cacert needs a file name");
            return EXIT_USAGE;
        }
        o->tls = 1;
        o->cacert = optarg;
        return -1;
    case 'h': fputs(help_text, stdout); return EXIT_HTTP_OK;
    case 'V': printf("client %s\n", WS_VERSION); return EXIT_HTTP_OK;
    case ':':
        if (optopt > 0 && optopt < OPT_TLS)
            say("option '-%c' needs a value", optopt);
        else
            say("option '%s' needs a value", argv[optind - 1]);
        return EXIT_USAGE;
    default:
        if (optopt > 0 && optopt < OPT_TLS)
            say("unknown option '-%c' (see --help)", optopt);
        else
            say("unknown option '%s' (see --help)", argv[optind - 1]);
        return EXIT_USAGE;
    }
}

/* Checks HOST and copies it, brackets removed, into o->host. 0, or -1 after a message. */
static int check_host(struct options *o)
{
    const char *h = o->host_arg;
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    int ok = n > 0 && n < sizeof(o->host);
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)h[i] > 0x20 && h[i] != 0x7f && strchr("/?#@[]", h[i]) == NULL;
    if (!ok) {
        say("invalid host '%s'", o->host_arg);
        return -1;
    }
    memcpy(o->host, h, n);
    o->host[n] = '\0';
    return 0;
}

/* Returns -1 to go on, or the exit status (after printing any message). */
static int parse_args(struct options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "head", no_argument, NULL, 'I' },
        { "output", required_argument, NULL, 'o' },
        { "header", required_argument, NULL, 'H' },
        { "repeat", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 't' },
        { "quiet", no_argument, NULL, 'q' },
        { "tls", no_argument, NULL, OPT_TLS },
        { "cacert", required_argument, NULL, OPT_CACERT },
        { "insecure", no_argument, NULL, OPT_INSECURE },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    uint64_t v;
    int opt, rc;

    memset(o, 0, sizeof(*o));
    o->timeout_s = DEFAULT_TIMEOUT_S;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":Io:H:r:t:qhV", longopts, NULL)) != -1) {
        rc = parse_option(o, opt, argv);
        if (rc >= 0)
            return rc;
    }
    if (o->insecure && o->cacert != NULL) {
        say("--insecure and --cacert contradict each other: verify, or do not");
        return EXIT_USAGE;
    }
    if (argc - optind != 3) {
        say("usage: client [OPTION]... HOST PORT PATH (see --help)");
        return EXIT_USAGE;
    }
    o->host_arg = argv[optind];
    o->port = argv[optind + 1];
    o->path = argv[optind + 2];
    o->timeout_ms = (int)ceil(o->timeout_s * 1000.0);
    if (check_host(o) < 0)
        return EXIT_USAGE;
    if (ws_parse_uint(o->port, 1, 65535, &v) < 0) {
        say("invalid port '%s': want 1..65535", o->port);
        return EXIT_USAGE;
    }
    o->path_len = strcspn(o->path, "#");
    for (size_t i = 0; i < o->path_len; i++) {
        unsigned char c = (unsigned char)o->path[i];
        if (c <= 0x20 || c == 0x7f) {
            say("invalid path: spaces and control characters must be percent-encoded");
            return EXIT_USAGE;
        }
    }
    return -1;
}

/*
 * Connects (speaking TLS when tls_ctx is not NULL), sends the request and reads
 * the responses; returns the exit status.
 */
static int run(const struct options *o, const struct sinks *out, SSL_CTX *tls_ctx,
               const char *request, size_t request_len)
{
    struct conn c = { .fd = -1, .timeout_ms = o->timeout_ms };
    unsigned count = o->repeat ? o->repeat : 1;
    int http_error = 0, rc = EXIT_CONN;

    c.buf = malloc(READ_BUFFER_SIZE);
    if (c.buf == NULL) {
        say("out of memory");
        return EXIT_CONN;
    }
    c.fd = open_connection(o);
    if (c.fd < 0)
        goto out;
    if (tls_ctx != NULL && tls_start(&c, o, tls_ctx) < 0)
        goto out;
    for (unsigned i = 1; i <= count; i++) {
        int status = 0, reusable = 0;
        if (conn_send_all(&c, request, request_len) < 0)
            goto out;
        if (read_response(&c, o, out, i, &status, &reusable) < 0)
            goto out;
        if (status >= 400)
            http_error = 1;
    }
    rc = http_error ? EXIT_HTTP_ERROR : EXIT_HTTP_OK;
out:
    conn_close(&c);
    free(c.buf);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    struct sinks out = { .head_fd = STDOUT_FILENO, .body_fd = STDOUT_FILENO };
    SSL_CTX *tls_ctx = NULL;
    char request[MAX_REQUEST];
    size_t request_len;
    int rc;

    rc = parse_args(&o, argc, argv);
    if (rc >= 0)
        return rc;
    request_len = build_request(&o, request, sizeof(request));
    if (request_len == 0) {
        say("request too large (more than %d bytes)", MAX_REQUEST);
        return EXIT_USAGE;
    }

    signal(SIGPIPE, SIG_IGN);
    /* Before the output file, so a CA file that cannot be loaded truncates nothing. */
    if (o.tls && (tls_ctx = tls_context(&o, &rc)) == NULL)
        return rc;
    if (o.output != NULL) {
        out.head_fd = STDERR_FILENO;
        if (strcmp(o.output, "-") != 0) {
            out.body_fd = open(o.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (out.body_fd < 0) {
                say("cannot open '%s': %s", o.output, strerror(errno));
                SSL_CTX_free(tls_ctx);
                return EXIT_USAGE;
            }
        }
    }
    if (o.quiet)
        out.head_fd = -1;

    rc = run(&o, &out, tls_ctx, request, request_len);
    SSL_CTX_free(tls_ctx);
    if (out.body_fd != STDOUT_FILENO && close(out.body_fd) < 0 && rc != EXIT_CONN) {
        say("cannot write '%s': %s", o.output, strerror(errno));
        rc = EXIT_CONN;
    }
    return rc;
}
