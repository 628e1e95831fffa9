/*
 * server/transport.c - plain TCP or TLS under the connection state machine;
 * see transport.h.
 */
#include "server/transport.h"

#include "server/conn.h"
#include "server/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* The most plaintext a TLS record carries. */
#define TLS_RECORD 16384

/*
 * Turns the result of an SSL call that returned n <= 0 into -1 with errno, and
 * sets c->io_want when it would block. A clean close_notify from the peer is
 * 0 (the end of the stream) for a read.
 */
static ssize_t tls_failed(struct ws_conn *c, int n, int reading)
{
    switch (SSL_get_error(c->tls, n)) {
    case SSL_ERROR_WANT_READ:
        c->io_want = EPOLLIN;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        c->io_want = EPOLLOUT;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        if (reading)
            return 0;
        errno = EPIPE;
        return -1;
    case SSL_ERROR_SYSCALL:
        /* errno is the socket's, or 0 for an end of stream without close_notify. */
        if (errno == 0)
            errno = ECONNRESET;
        break;
    default: errno = EPROTO; break;
    }
    ERR_clear_error(); /* this thread's error queue must not leak into the next session */
    c->tls_failed = 1; /* no close_notify after a fatal error */
    return -1;
}

ssize_t ws_transport_recv(struct ws_conn *c, void *buf, size_t len)
{
    ssize_t n;

    if (c->tls != NULL) {
        int r;
        if (ws_transport_flush(c) < 0 && errno != EAGAIN)
            return -1;
        errno = 0;
        r = SSL_read(c->tls, buf, len > INT32_MAX ? INT32_MAX : (int)len);
        if (r > 0)
            return r;
        n = tls_failed(c, r, 1);
        /* Records still unsent must go out before the peer can answer them. */
        if (n < 0 && errno == EAGAIN && ws_tls_unsent(c->tls) > 0)
            c->io_want = EPOLLOUT;
        return n;
    }
    do
        n = recv(c->fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        c->io_want = EPOLLIN;
    return n;
}

ssize_t ws_transport_send(struct ws_conn *c, const void *buf, size_t len, int more)
{
    ssize_t n;

    if (c->tls != NULL) {
        int r;
        /* What follows at once joins this record in one send (ws_tls_cork); a
         * session is never left corked between calls, so only more needs it. */
        if (more)
            ws_tls_cork(c->tls, 1);
        errno = 0;
        r = SSL_write(c->tls, buf, len > INT32_MAX ? INT32_MAX : (int)len);
        if (more)
            ws_tls_cork(c->tls, 0);
        return r > 0 ? r : tls_failed(c, r, 0);
    }
    do
        n = send(c->fd, buf, len, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        c->io_want = EPOLLOUT;
    return n;
}

/*
 * A file's bytes over TLS without kTLS: one pread of up to scratch_len bytes,
 * then one record per 16 KiB, corked (ws_tls_cork) so that about four records
 * go out in each send; the batch may fill across calls. The record that ends
 * the requested length is written uncorked: it goes out with what is still
 * batched in one writev, and is taken only once all of that is on the socket,
 * so a call that takes the last byte leaves nothing behind. A record that
 * would block takes nothing, and the next call reads the same bytes again
 * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows the new buffer, and the piece is
 * at least as long as before).
 */
static ssize_t tls_sendfile(struct ws_conn *c, int fd, int64_t *off, size_t len, char *scratch,
                            size_t scratch_len)
{
    size_t want = len < scratch_len ? len : scratch_len, taken = 0;
    ssize_t n;

    /* Records the socket refused last time go first; while it refuses them, nothing is read. */
    if (ws_tls_blocked(c->tls) && ws_transport_flush(c) < 0)
        return -1;
    do
        n = pread(fd, scratch, want, *off);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n;
    while (taken < (size_t)n) {
        size_t piece = (size_t)n - taken < TLS_RECORD ? (size_t)n - taken : TLS_RECORD;
        int r;
        ws_tls_cork(c->tls, taken + piece < len);
        errno = 0;
        r = SSL_write(c->tls, scratch + taken, (int)piece);
        if (r <= 0) {
            ws_tls_cork(c->tls, 0);
            if (taken > 0) {
                ERR_clear_error();
                break; /* what it took so far counts; the rest is offered again */
            }
            return tls_failed(c, r, 0);
        }
        taken += (size_t)r;
    }
    ws_tls_cork(c->tls, 0);
    *off += (int64_t)taken;
    return (ssize_t)taken;
}

ssize_t ws_transport_sendfile(struct ws_conn *c, int fd, int64_t *off, size_t len, char *scratch,
                              size_t scratch_len)
{
    ssize_t n;

    if (c->tls != NULL && BIO_get_ktls_send(SSL_get_wbio(c->tls))) {
        /* Kernel TLS: the kernel encrypts, the bytes never come to user space. */
        errno = 0;
        n = SSL_sendfile(c->tls, fd, (off_t)*off, len, 0);
        if (n > 0)
            *off += n;
        return n > 0 ? n : tls_failed(c, (int)n, 0);
    }
    if (c->tls != NULL)
        return tls_sendfile(c, fd, off, len, scratch, scratch_len);
    do
        n = sendfile(c->fd, fd, off, len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        c->io_want = EPOLLOUT;
    return n;
}

int ws_transport_flush(struct ws_conn *c)
{
    int r;

    if (c->tls == NULL)
        return 0;
    r = ws_tls_flush(c->tls);
    if (r == 0)
        return 0;
    errno = -r;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        errno = EAGAIN;
        c->io_want = EPOLLOUT;
    } else {
        c->tls_failed = 1; /* the stream is cut: no close_notify */
    }
    return -1;
}

int ws_transport_handshake(struct ws_conn *c)
{
    int r;

    if (c->tls == NULL || SSL_is_init_finished(c->tls))
        return 1;
    errno = 0;
    r = SSL_do_handshake(c->tls);
    if (r == 1)
        return 1;
    return tls_failed(c, r, 0) < 0 && errno == EAGAIN ? 0 : -1;
}

void ws_transport_close_notify(struct ws_conn *c)
{
    if (c->tls == NULL || c->tls_failed || !SSL_is_init_finished(c->tls))
        return;
    /* One call sends our close_notify (or queues it: the socket is non-blocking). */
    (void)SSL_shutdown(c->tls);
    ERR_clear_error();
}
