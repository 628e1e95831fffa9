/*
 * server/tls.h - TLS for the server (OpenSSL 3): certificates chosen by SNI,
 * ALPN, session tickets with rotating keys, and reloading the certificates
 * without a restart.
 *
 * DESIGN
 * A struct ws_tls holds one SSL_CTX per certificate/key pair, the first one the
 * default. Contexts are reference-counted by OpenSSL: ws_tls_session hands a
 * new session the current default context, and the SNI callback may switch a
 * session to the context whose certificate names (SAN, wildcards) match the
 * name the client asked for. ws_tls_reload builds a complete new set of
 * contexts and swaps it in under a mutex (taken only by reload and by
 * ws_tls_session, for a pointer copy and an up-ref); sessions in flight keep
 * the contexts they hold, which OpenSSL frees with the last of them. A new set
 * that fails to load is dropped and the old one stays.
 *
 * Session tickets are encrypted with keys kept only in memory, shared by every
 * context of a set and by the sets that replace it, and rotated at least daily:
 * a ticket made with the previous key is still accepted (and renewed).
 *
 * Thread safety: every function may be called from any thread, but
 * ws_tls_free, which must be called once no session is in use.
 */
#ifndef WS_TLS_H
#define WS_TLS_H

#include <openssl/ssl.h>

#include <stddef.h>
#include <stdint.h>

struct ws_tls_pair {
    const char *cert_file; /* PEM: the certificate, then its chain */
    const char *key_file;  /* PEM: its private key (RSA or ECDSA) */
};

struct ws_tls_config {
    const struct ws_tls_pair *pairs; /* the first pair is the default */
    unsigned n_pairs;
    int min_version; /* 12 (TLS 1.2, the default) or 13 */
    int http2;       /* ALPN offers "h2" before "http/1.1" */
};

struct ws_tls;

/*
 * Loads every pair and builds the contexts with the Mozilla "intermediate"
 * profile: TLS 1.2 and 1.3 only (or 1.3 with min_version 13), AEAD ciphers with
 * ECDHE, groups X25519 and P-256, no compression, no renegotiation, server
 * cipher preference off, ALPN "h2" (with http2) and "http/1.1". Returns NULL with a one-line reason
 * in err (which file, and what OpenSSL said) on failure.
 */
struct ws_tls *ws_tls_new(const struct ws_tls_config *cfg, char *err, size_t err_size);

/* Frees everything; no session made by t may be in use any more. */
void ws_tls_free(struct ws_tls *t);

/*
 * Loads the pairs again from their files. 0 when the new set is in use for
 * every handshake from now on; -1 with the reason in err when a file could not
 * be loaded or a key does not match its certificate: the old set stays.
 */
int ws_tls_reload(struct ws_tls *t, char *err, size_t err_size);

/*
 * A new server-side session on the accepted, non-blocking socket fd (it does
 * not take fd over), or NULL when memory is short. The caller drives it with
 * SSL_do_handshake, SSL_read, SSL_write and frees it with SSL_free.
 */
SSL *ws_tls_session(struct ws_tls *t, int fd);

/* Counts a handshake that ended: ok, and whether it resumed a session. */
void ws_tls_count_handshake(struct ws_tls *t, const SSL *ssl, int ok);

struct ws_tls_stats {
    unsigned long handshakes; /* completed */
    unsigned long resumed;    /* ... of which resumed a session (a ticket) */
    unsigned long failed;     /* ended in an alert, a bad record or a close */
};

void ws_tls_stats(struct ws_tls *t, struct ws_tls_stats *out);

/*
 * Whether bodies can go out with kernel TLS (SSL_sendfile): the kernel offers
 * the "tls" upper-layer protocol (/proc/sys/net/ipv4/tcp_available_ulp) and
 * OpenSSL was built with kTLS. Decided once, at start-up.
 */
int ws_tls_ktls_available(void);

/* One line for the start-up message: versions, how many certificates, kTLS or not. */
const char *ws_tls_describe(struct ws_tls *t);

/*
 * Rotates the session ticket keys now, as if the current key were due: the
 * current key becomes the previous one (still accepted), and the previous one
 * is forgotten. For tests; the server rotates by itself every 12 hours.
 */
void ws__tls_rotate_ticket_keys(struct ws_tls *t);

/*
 * The record buffers of a session parked for input (about 34 KiB) are kept
 * this long, then given back: a keep-alive client's next request usually
 * comes sooner, and would otherwise allocate them again. Longer than the
 * event thread's longest sleep (1 s), so a deadline this far off never wakes
 * it early.
 */
#define WS_TLS_KEEP_MS 2000

/*
 * At most this many sessions of one struct ws_tls keep them (about 9 MiB in
 * all); the others give them back as they park.
 */
#define WS_TLS_KEEP_MAX 256

/*
 * The connection's owner parks it waiting for input, until deadline_ms, at
 * now_ms. The batch buffer (ws_tls_cork) is given back now if it is empty;
 * OpenSSL's record buffers are kept until now_ms + WS_TLS_KEEP_MS, unless the
 * deadline comes first, WS_TLS_KEEP_MAX sessions keep theirs already or the
 * session writes through kTLS: then they are given back now. Returns the
 * deadline to park with: the earlier of deadline_ms and the end of the keep
 * period, when the owner (the event thread, conn.c's deadline check) calls
 * ws_tls_idle and parks the connection on until deadline_ms. NULL (plain
 * TCP): returns deadline_ms.
 */
int64_t ws_tls_park(struct ssl_st *ssl, int64_t now_ms, int64_t deadline_ms);

/*
 * Gives back the record buffers (unless they hold bytes) and the batch buffer
 * (unless it holds unsent records), so an idle connection costs its session
 * alone; they are allocated again at the next read or write. Ends the keep
 * period of ws_tls_park. Called by the owner; NULL is allowed.
 */
void ws_tls_idle(struct ssl_st *ssl);

/* How many sessions of t keep their buffers after ws_tls_park now (tests). */
unsigned ws__tls_kept(struct ws_tls *t);

/*
 * Batching writes. Without kTLS a session made by ws_tls_session writes
 * through a BIO of ours: records are sent as SSL_write makes them, except
 * while the session is corked, when they are appended to a per-session buffer
 * of about 64 KiB that goes out in one send when it is full, so a file body
 * costs one send per four records instead of one per record. Records that
 * SSL_write has taken but the socket has not are "unsent": they go out before
 * anything else (an uncorked write first sends them, with its own record, in
 * one writev, and takes nothing while any remain), and the owner must see
 * them out with ws_tls_flush before it waits for input. With kTLS these do
 * nothing (the socket BIO writes every record at once). Called only by the
 * connection's owner.
 */
void ws_tls_cork(struct ssl_st *ssl, int on);

/* Sends the unsent records: 0 when none is left, else -errno (-EAGAIN: the socket is full). */
int ws_tls_flush(struct ssl_st *ssl);

/* How many bytes of records the session holds unsent. */
size_t ws_tls_unsent(struct ssl_st *ssl);

/* Whether it holds them because the socket refused the last send (it waits for EPOLLOUT). */
int ws_tls_blocked(struct ssl_st *ssl);

/*
 * Reads. Without kTLS the session reads its socket through a BIO of ours as
 * well, which counts its recv calls and remembers whether the last one found
 * the socket empty (it would block, or came back short, which over TCP means
 * the receive queue was emptied). Returns that count and sets *drained to
 * that; with kTLS (OpenSSL's socket BIO) 0, and *drained 0. A caller that saw
 * the count move across its SSL_read and then sees no other recv (the count
 * unchanged) and nothing held in OpenSSL (SSL_has_pending 0) knows that any
 * input still to come makes epoll report an edge after that recv: it may
 * park with an edge park (conn.c). Called only by the connection's owner.
 */
unsigned ws_tls_recvs(struct ssl_st *ssl, int *drained);

#endif
