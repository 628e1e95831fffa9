/*
 * server/transport.h - a connection's byte stream: plain TCP, or TLS over it.
 *
 * The connection state machine (conn.c) reads and writes through these, so it
 * is the same for both: every call is non-blocking, and "would block" is
 * -1 with errno EAGAIN and c->io_want set to what the connection must wait
 * for (EPOLLIN or EPOLLOUT). Over TLS that is not always the direction of the
 * call: a read may need to write (a key update), a write may need to read.
 * Called only by the connection's owner.
 */
#ifndef WS_TRANSPORT_H
#define WS_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ws_conn;

/* Reads up to len bytes: > 0, 0 at the end of the stream, or -1 with errno. */
ssize_t ws_transport_recv(struct ws_conn *c, void *buf, size_t len);

/*
 * Writes up to len bytes: how many were taken (> 0), or -1 with errno. more
 * says that more bytes follow at once (plain TCP: MSG_MORE; TLS: the record
 * waits to go out with what follows, see ws_transport_flush).
 */
ssize_t ws_transport_send(struct ws_conn *c, const void *buf, size_t len, int more);

/*
 * Writes up to len bytes of file fd from *off, advancing *off: sendfile over
 * plain TCP (or kernel TLS), otherwise a pread into scratch (scratch_len
 * bytes, best 64 KiB) and TLS records sent about four at a time. Returns the
 * bytes taken (> 0), 0 when the file ended before them, or -1 with errno.
 */
ssize_t ws_transport_sendfile(struct ws_conn *c, int fd, int64_t *off, size_t len, char *scratch,
                              size_t scratch_len);

/*
 * Over TLS, output may be held back after a call returns success: records
 * batched (ws_tls_cork) after a send with more set, or after a sendfile that
 * did not reach the end of its len; more is expected at once. A send without
 * more, or a sendfile that takes its last byte, returns only once nothing is
 * held back. This sends what is held: 0 when nothing is left (and always over
 * plain TCP), or -1 with errno (EAGAIN: c->io_want). The owner calls it when
 * it stops writing before a call of the second kind (a response ends), and a
 * read sends it first, asking for EPOLLOUT while any is left.
 */
int ws_transport_flush(struct ws_conn *c);

/*
 * Over TLS, runs the handshake on: 1 when it is done (or the connection is
 * plain TCP), 0 when it would block (c->io_want), -1 when it failed (the
 * connection must be closed).
 */
int ws_transport_handshake(struct ws_conn *c);

/* Over TLS, sends close_notify if the handshake was done; never blocks. */
void ws_transport_close_notify(struct ws_conn *c);

#endif
