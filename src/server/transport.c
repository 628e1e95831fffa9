/*
 * server/transport.c - plain TCP or TLS under the connection state machine;
 * see transport.h.
 */
#include "server/transport.h"

#include "server/conn.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

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
        errno = 0;
        r = SSL_read(c->tls, buf, len > INT32_MAX ? INT32_MAX : (int)len);
        return r > 0 ? r : tls_failed(c, r, 1);
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
        errno = 0;
        r = SSL_write(c->tls, buf, len > INT32_MAX ? INT32_MAX : (int)len);
        return r > 0 ? r : tls_failed(c, r, 0);
    }
    do
        n = send(c->fd, buf, len, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        c->io_want = EPOLLOUT;
    return n;
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
    if (c->tls != NULL) {
        /*
         * A write that would block takes nothing, and the next turn reads the
         * same bytes again (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows the new
         * buffer); a partial write (SSL_MODE_ENABLE_PARTIAL_WRITE) advances by
         * what it took.
         */
        size_t want = len < scratch_len ? len : scratch_len;
        do
            n = pread(fd, scratch, want, *off);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return n;
        n = ws_transport_send(c, scratch, (size_t)n, 0);
        if (n > 0)
            *off += n;
        return n;
    }
    do
        n = sendfile(c->fd, fd, off, len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        c->io_want = EPOLLOUT;
    return n;
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
