/*
 * server/test_tls.c - TLS contexts: certificates by SNI, ALPN, versions,
 * session tickets and their rotation, reloads, load errors.
 *
 * The group setup makes a CA and three certificates with the openssl command
 * in a fresh temporary directory (no key is ever committed): "a" (ECDSA P-256,
 * a.test and *.a.test, the default), "b" (RSA, b.test) and "a2" (a new ECDSA
 * key for the same names, for reloads). Each certificate has its own serial
 * number, which is how a test tells which one the server presented.
 *
 * Handshakes are real: the server side is a session from ws_tls_session on one
 * end of a non-blocking socketpair, the client an SSL on the other end that
 * trusts the test CA, both driven in turn by this thread for a bounded number
 * of rounds. The driver counts the server's handshakes with
 * ws_tls_count_handshake as the connection code does.
 *
 * main hands OpenSSL allocation functions that count what it holds (before
 * its first allocation), so the buffer tests can see record buffers come and
 * go.
 */
#include "test_util.h"

#include "conn_env_util.h"
#include "server/conn.h"
#include "server/file_cache.h"
#include "server/log.h"
#include "server/tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

enum { SERIAL_A = 1001, SERIAL_B = 1002, SERIAL_A2 = 1003, SERIAL_ARSA = 1004 };

static char dir[64];

/* dir/name into out (PATH_SIZE bytes). */
#define PATH_SIZE 256
static const char *path(char *out, const char *name)
{
    snprintf(out, PATH_SIZE, "%s/%s", dir, name);
    return out;
}

static const char gen_script[] =
    "set -e\n"
    "cd \"$1\"\n"
    "ec='-newkey ec -pkeyopt ec_paramgen_curve:P-256'\n"
    "openssl req -x509 $ec -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ws-test-ca \\\n"
    "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign\n"
    "issue() { # name, newkey options, subject CN, SAN, serial\n"
    "  openssl req -new $2 -nodes -keyout $1.key -out $1.csr -subj /CN=$3\n"
    "  printf 'subjectAltName=%s\\n' \"$4\" > $1.ext\n"
    "  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -set_serial $5 -days 2 \\\n"
    "    -extfile $1.ext -out $1.pem\n"
    "}\n"
    "issue a \"$ec\" a.test 'DNS:a.test,DNS:*.a.test' 1001\n"
    "issue b '-newkey rsa:2048' b.test DNS:b.test 1002\n"
    "issue a2 \"$ec\" a.test 'DNS:a.test,DNS:*.a.test' 1003\n"
    "issue arsa '-newkey rsa:2048' a.test 'DNS:a.test,DNS:*.a.test' 1004\n"
    "printf 'not a key\\n' > garbage.key\n";

static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int shell(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

static int make_certificates(void **state)
{
    char p[PATH_SIZE];
    FILE *f;

    snprintf(dir, sizeof(dir), "/tmp/ws_test_tls.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    f = fopen(path(p, "gen.sh"), "w");
    if (f == NULL)
        return -1;
    fputs(gen_script, f);
    fclose(f);
    if (shell("sh %s/gen.sh %s >%s/gen.log 2>&1", dir, dir, dir) != 0) {
        shell("cat %s/gen.log >&2", dir);
        return -1;
    }
    return 0;
}

static int remove_certificates(void **state)
{
    return shell("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

/* ---- OpenSSL's memory, counted ---- */

/* What OpenSSL holds now, and how many blocks of a record buffer's size it has asked for. */
static size_t openssl_bytes;
static unsigned long openssl_big_allocs;

/* Longer than anything but a record buffer (16 KiB of plaintext and the record's overhead). */
#define BIG_ALLOC 16384

union block {
    size_t size;
    max_align_t align;
};

static void *count_malloc(size_t n, const char *file, int line)
{
    union block *b = malloc(sizeof(*b) + n);

    (void)file;
    (void)line;
    if (b == NULL)
        return NULL;
    b->size = n;
    openssl_bytes += n;
    openssl_big_allocs += n >= BIG_ALLOC;
    return b + 1;
}

static void count_free(void *p, const char *file, int line)
{
    union block *b = p != NULL ? (union block *)p - 1 : NULL;

    (void)file;
    (void)line;
    if (b == NULL)
        return;
    openssl_bytes -= b->size;
    free(b);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
    union block *b;
    size_t old;

    if (p == NULL)
        return count_malloc(n, file, line);
    if (n == 0) {
        count_free(p, file, line);
        return NULL;
    }
    old = ((union block *)p - 1)->size;
    b = realloc((union block *)p - 1, sizeof(*b) + n);
    if (b == NULL)
        return NULL;
    b->size = n;
    openssl_bytes = openssl_bytes - old + n;
    openssl_big_allocs += n >= BIG_ALLOC && old < BIG_ALLOC;
    return b + 1;
}

/* ---- the server under test ---- */

/* Whether the next server made offers "h2" by ALPN (--http2). */
static int server_http2 = 1;

static struct ws_tls *server_with(const char *const *names, unsigned n, int min_version)
{
    char cert[8][PATH_SIZE], key[8][PATH_SIZE], name[64], err[512] = "";
    struct ws_tls_pair pairs[8];
    struct ws_tls_config cfg = { pairs, n, min_version, server_http2 };
    struct ws_tls *t;

    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%s.pem", names[i]);
        pairs[i].cert_file = path(cert[i], name);
        snprintf(name, sizeof(name), "%s.key", names[i]);
        pairs[i].key_file = path(key[i], name);
    }
    t = ws_tls_new(&cfg, err, sizeof(err));
    if (t == NULL)
        fail_msg("ws_tls_new: %s", err);
    return t;
}

static struct ws_tls *server_ab(int min_version)
{
    static const char *const names[] = { "a", "b" };
    return server_with(names, 2, min_version);
}

/* ---- the client, and a connection between the two ---- */

static SSL_CTX *client_ctx(int max_version)
{
    char ca[PATH_SIZE];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, path(ca, "ca.pem"), NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (max_version != 0)
        assert_int_equal(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
    return ctx;
}

struct conn {
    int fd[2]; /* [0] the server's end */
    SSL *server, *client;
    int server_ok, client_ok;
};

/* A socketpair and the server's session on it (made now: before a reload, say). */
static void conn_open(struct conn *c, struct ws_tls *t)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, c->fd), 0);
    c->server = ws_tls_session(t, c->fd[0]);
    assert_non_null(c->server);
}

/*
 * The client's session: SNI name (also the name verified, or "a.test" without
 * SNI), a session to resume, an ALPN list in wire format.
 */
static void conn_client(struct conn *c, SSL_CTX *ctx, const char *sni, SSL_SESSION *resume,
                        const char *alpn, size_t alpn_len)
{
    c->client = SSL_new(ctx);
    assert_non_null(c->client);
    assert_int_equal(SSL_set_fd(c->client, c->fd[1]), 1);
    SSL_set_connect_state(c->client);
    if (sni != NULL)
        assert_int_equal(SSL_set_tlsext_host_name(c->client, (char *)(uintptr_t)sni), 1);
    assert_int_equal(SSL_set1_host(c->client, sni != NULL ? sni : "a.test"), 1);
    if (resume != NULL)
        assert_int_equal(SSL_set_session(c->client, resume), 1);
    if (alpn != NULL)
        assert_int_equal(
            SSL_set_alpn_protos(c->client, (const unsigned char *)alpn, (unsigned)alpn_len), 0);
}

/* One handshake step; 1 done, 0 not yet, -1 failed. */
static int step(SSL *ssl)
{
    int r = SSL_do_handshake(ssl), e;

    if (r == 1)
        return 1;
    e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* Runs both sides until both are done or one has failed; 1 when both succeeded. */
static int conn_handshake(struct conn *c, struct ws_tls *t)
{
    int s = 0, cl = 0;

    for (int round = 0; round < 50 && s >= 0 && cl >= 0 && !(s == 1 && cl == 1); round++) {
        if (cl == 0)
            cl = step(c->client);
        if (s == 0)
            s = step(c->server);
    }
    /* Let the side that has not failed read the other's alert. */
    if (cl == 0)
        cl = step(c->client);
    if (s == 0)
        s = step(c->server);
    ws_tls_count_handshake(t, c->server, s == 1);
    ERR_clear_error();
    c->server_ok = s == 1;
    c->client_ok = cl == 1;
    return s == 1 && cl == 1;
}

/* The client's session after a handshake, tickets read (TLS 1.3 sends them after it). */
static SSL_SESSION *conn_session(struct conn *c)
{
    char byte;
    assert_int_equal(SSL_read(c->client, &byte, 1), -1);
    assert_int_equal(SSL_get_error(c->client, -1), SSL_ERROR_WANT_READ);
    return SSL_get1_session(c->client);
}

static long peer_serial(const struct conn *c)
{
    X509 *peer = SSL_get0_peer_certificate(c->client);
    assert_non_null(peer);
    return ASN1_INTEGER_get(X509_get0_serialNumber(peer));
}

/* Closes both sides, with close_notify after a handshake (or the client's session is dropped). */
static void conn_close(struct conn *c)
{
    if (c->client_ok)
        SSL_shutdown(c->client);
    if (c->server_ok)
        SSL_shutdown(c->server);
    SSL_free(c->client);
    SSL_free(c->server);
    close(c->fd[0]);
    close(c->fd[1]);
}

/* A full handshake (optionally resuming) that must succeed; returns the served serial. */
static long handshake_ok(struct ws_tls *t, SSL_CTX *ctx, const char *sni, SSL_SESSION *resume,
                         int *reused, SSL_SESSION **session_out)
{
    struct conn c;
    long serial;

    conn_open(&c, t);
    conn_client(&c, ctx, sni, resume, NULL, 0);
    if (!conn_handshake(&c, t))
        fail_msg("handshake for %s failed", sni ? sni : "(no SNI)");
    assert_int_equal(SSL_get_verify_result(c.client), X509_V_OK);
    serial = peer_serial(&c);
    if (reused != NULL)
        *reused = SSL_session_reused(c.server);
    if (session_out != NULL)
        *session_out = conn_session(&c);
    conn_close(&c);
    return serial;
}

/* ---- the tests ---- */

/* Without SNI the first pair is served, and the handshake is counted. */
static void test_default_certificate(void **state)
{
    struct ws_tls *t = server_ab(12);
    SSL_CTX *ctx = client_ctx(0);
    struct ws_tls_stats st;

    assert_int_equal(handshake_ok(t, ctx, NULL, NULL, NULL, NULL), SERIAL_A);
    ws_tls_stats(t, &st);
    assert_int_equal(st.handshakes, 1);
    assert_int_equal(st.resumed, 0);
    assert_int_equal(st.failed, 0);
    SSL_CTX_free(ctx);
    ws_tls_free(t);
}

/*
 * An ECDSA and an RSA certificate for the same names share one context: a
 * client that can verify only RSA signatures gets the RSA one, any other the
 * ECDSA one (the first pair).
 */
static void test_two_key_types_one_site(void **state)
{
    static const char *const names[] = { "a", "arsa", "b" };
    struct ws_tls *t = server_with(names, 3, 12);
    SSL_CTX *ctx = client_ctx(0), *tls12 = client_ctx(TLS1_2_VERSION);
    struct conn c;

    assert_int_equal(handshake_ok(t, ctx, "a.test", NULL, NULL, NULL), SERIAL_A);
    conn_open(&c, t);
    conn_client(&c, tls12, "a.test", NULL, NULL, 0);
    assert_int_equal(SSL_set1_sigalgs_list(c.client, "RSA+SHA256:RSA-PSS+SHA256"), 1);
    assert_true(conn_handshake(&c, t));
    assert_int_equal(peer_serial(&c), SERIAL_ARSA);
    conn_close(&c);
    assert_int_equal(handshake_ok(t, ctx, "b.test", NULL, NULL, NULL), SERIAL_B);
    assert_non_null(strstr(ws_tls_describe(t), "3 certificates (default a.test)"));

    SSL_CTX_free(tls12);
    SSL_CTX_free(ctx);
    ws_tls_free(t);
}

/* SNI picks the certificate by its names: exact, wildcard, and no match (the default). */
static void test_sni(void **state)
{
    struct ws_tls *t = server_ab(12);
    SSL_CTX *ctx = client_ctx(0), *tls12 = client_ctx(TLS1_2_VERSION);
    struct conn c;

    assert_int_equal(handshake_ok(t, ctx, "b.test", NULL, NULL, NULL), SERIAL_B);
    assert_int_equal(handshake_ok(t, tls12, "b.test", NULL, NULL, NULL), SERIAL_B);
    assert_int_equal(handshake_ok(t, ctx, "x.a.test", NULL, NULL, NULL), SERIAL_A);
    assert_int_equal(handshake_ok(t, ctx, "a.test", NULL, NULL, NULL), SERIAL_A);

    /* b.test's certificate is RSA, a.test's ECDSA. */
    conn_open(&c, t);
    conn_client(&c, tls12, "b.test", NULL, NULL, 0);
    assert_true(conn_handshake(&c, t));
    assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(SSL_get0_peer_certificate(c.client))),
                     EVP_PKEY_RSA);
    assert_non_null(strstr(SSL_get_cipher_name(c.client), "ECDHE-RSA-"));
    conn_close(&c);

    /* An unknown name gets the default certificate (refused by a client that checks the name). */
    conn_open(&c, t);
    conn_client(&c, ctx, "other.test", NULL, NULL, 0);
    assert_false(conn_handshake(&c, t));
    assert_int_equal(SSL_get_verify_result(c.client), X509_V_ERR_HOSTNAME_MISMATCH);
    conn_close(&c);
    conn_open(&c, t);
    conn_client(&c, ctx, "other.test", NULL, NULL, 0);
    assert_int_equal(SSL_set1_host(c.client, "a.test"), 1);
    assert_true(conn_handshake(&c, t));
    assert_int_equal(peer_serial(&c), SERIAL_A);
    conn_close(&c);

    SSL_CTX_free(tls12);
    SSL_CTX_free(ctx);
    ws_tls_free(t);
}

/* Makes a connection offering ALPN list alpn; the protocol chosen, "" for none, NULL if refused. */
static const char *alpn_choice(struct ws_tls *t, SSL_CTX *ctx, const char *alpn, size_t alpn_len,
                               char *out)
{
    const unsigned char *proto;
    unsigned len;
    struct conn c;
    int ok;

    conn_open(&c, t);
    conn_client(&c, ctx, NULL, NULL, alpn, alpn_len);
    ok = conn_handshake(&c, t) && c.client_ok;
    SSL_get0_alpn_selected(c.client, &proto, &len);
    if (len > 0)
        memcpy(out, proto, len); /* proto is NULL when nothing was chosen */
    out[len] = '\0';
    conn_close(&c);
    return ok ? out : NULL;
}

/*
 * ALPN: h2 is preferred, http/1.1 next; a client offering neither is refused;
 * no ALPN is fine. With http2 off, h2 is never chosen.
 */
static void test_alpn(void **state)
{
    static const char both[] = "\x08http/1.1\x02h2", h2[] = "\x02h2", h1[] = "\x08http/1.1",
                      other[] = "\x06spdy/3";
    SSL_CTX *ctx = client_ctx(0);
    struct ws_tls *t = server_ab(12);
    struct ws_tls_stats st;
    char got[256];

    assert_string_equal(alpn_choice(t, ctx, both, LIT_LEN(both), got), "h2");
    assert_string_equal(alpn_choice(t, ctx, h2, LIT_LEN(h2), got), "h2");
    assert_string_equal(alpn_choice(t, ctx, h1, LIT_LEN(h1), got), "http/1.1");
    assert_null(alpn_choice(t, ctx, other, LIT_LEN(other), got));
    assert_string_equal(alpn_choice(t, ctx, NULL, 0, got), "");
    ws_tls_stats(t, &st);
    assert_int_equal(st.handshakes, 4);
    assert_int_equal(st.failed, 1);
    ws_tls_free(t);

    server_http2 = 0;
    t = server_ab(12);
    server_http2 = 1;
    assert_string_equal(alpn_choice(t, ctx, both, LIT_LEN(both), got), "http/1.1");
    assert_null(alpn_choice(t, ctx, h2, LIT_LEN(h2), got));
    ws_tls_free(t);
    SSL_CTX_free(ctx);
}

/* TLS 1.2 is served by default with an AEAD ECDHE cipher, refused with min_version 13. */
static void test_versions(void **state)
{
    struct ws_tls *t12 = server_ab(12), *t13 = server_ab(13);
    SSL_CTX *tls12 = client_ctx(TLS1_2_VERSION), *any = client_ctx(0);
    struct ws_tls_stats st;
    struct conn c;

    conn_open(&c, t12);
    conn_client(&c, tls12, NULL, NULL, NULL, 0);
    assert_true(conn_handshake(&c, t12));
    assert_int_equal(SSL_version(c.server), TLS1_2_VERSION);
    assert_non_null(strstr(SSL_get_cipher_name(c.server), "ECDHE-ECDSA-"));
    conn_close(&c);

    conn_open(&c, t13);
    conn_client(&c, tls12, NULL, NULL, NULL, 0);
    assert_false(conn_handshake(&c, t13));
    conn_close(&c);
    conn_open(&c, t13);
    conn_client(&c, any, NULL, NULL, NULL, 0);
    assert_true(conn_handshake(&c, t13));
    assert_int_equal(SSL_version(c.server), TLS1_3_VERSION);
    conn_close(&c);

    ws_tls_stats(t13, &st);
    assert_int_equal(st.handshakes, 1);
    assert_int_equal(st.failed, 1);
    assert_non_null(strstr(ws_tls_describe(t13), "TLS 1.3,"));
    assert_non_null(strstr(ws_tls_describe(t12),
                           "TLS 1.2-1.3, ALPN h2,http/1.1, 2 certificates (default a.test)"));
    assert_non_null(strstr(ws_tls_describe(t12), "kTLS"));
    SSL_CTX_free(any);
    SSL_CTX_free(tls12);
    ws_tls_free(t13);
    ws_tls_free(t12);
}

/* Negotiates with a client limited by configure (a cipher list, groups); 1 on success. */
static int handshake_with(struct ws_tls *t, SSL_CTX *ctx, const char *ciphers, const char *suites,
                          const char *groups, char *cipher, size_t size)
{
    struct conn c;
    int ok;

    conn_open(&c, t);
    conn_client(&c, ctx, NULL, NULL, NULL, 0);
    if (ciphers != NULL)
        assert_int_equal(SSL_set_cipher_list(c.client, ciphers), 1);
    if (suites != NULL)
        assert_int_equal(SSL_set_ciphersuites(c.client, suites), 1);
    if (groups != NULL)
        assert_int_equal(SSL_set1_groups_list(c.client, (char *)(uintptr_t)groups), 1);
    ok = conn_handshake(&c, t);
    snprintf(cipher, size, "%s", ok ? SSL_get_cipher_name(c.server) : "");
    conn_close(&c);
    return ok;
}

/*
 * The intermediate profile: no CBC cipher, our order for TLS 1.2 (the client
 * prefers ChaCha20 here and gets AES-GCM) and the client's for TLS 1.3, no
 * group but X25519 and P-256, no renegotiation.
 */
static void test_policy(void **state)
{
    struct ws_tls *t = server_ab(12);
    SSL_CTX *tls12 = client_ctx(TLS1_2_VERSION), *any = client_ctx(0);
    char cipher[64], byte;
    struct conn c;
    int r, refused = 0;

    assert_false(handshake_with(t, tls12, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384", NULL,
                                NULL, cipher, sizeof(cipher)));
    assert_true(handshake_with(t, tls12,
                               "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256", NULL,
                               NULL, cipher, sizeof(cipher)));
    assert_string_equal(cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_true(handshake_with(t, any, NULL, "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
                               NULL, cipher, sizeof(cipher)));
    assert_string_equal(cipher, "TLS_CHACHA20_POLY1305_SHA256");
    assert_false(handshake_with(t, any, NULL, NULL, "P-384:P-521", cipher, sizeof(cipher)));
    assert_true(handshake_with(t, any, NULL, NULL, "P-384:P-256", cipher, sizeof(cipher)));

    /* A TLS 1.2 client asking to renegotiate never completes a second handshake. */
    conn_open(&c, t);
    conn_client(&c, tls12, NULL, NULL, NULL, 0);
    assert_true(conn_handshake(&c, t));
    assert_int_equal(SSL_renegotiate(c.client), 1);
    for (int round = 0; round < 20 && !refused; round++) {
        r = SSL_do_handshake(c.client);
        assert_int_not_equal(r, 1);
        refused = SSL_get_error(c.client, r) == SSL_ERROR_SSL;
        SSL_read(c.server, &byte, 1);
    }
    assert_true(refused);
    ERR_clear_error();
    c.client_ok = 0;
    conn_close(&c);

    SSL_CTX_free(any);
    SSL_CTX_free(tls12);
    ws_tls_free(t);
}

/* A ticket from a first handshake resumes the session, in TLS 1.3 and in TLS 1.2. */
static void test_resumption(void **state)
{
    struct ws_tls *t = server_ab(12);
    SSL_CTX *ctx13 = client_ctx(0), *ctx12 = client_ctx(TLS1_2_VERSION);
    SSL_CTX *ctxs[] = { ctx13, ctx12 };
    struct ws_tls_stats st;

    for (size_t i = 0; i < ARRAY_LEN(ctxs); i++) {
        SSL_SESSION *s1 = NULL, *s2 = NULL;
        int reused = -1;
        handshake_ok(t, ctxs[i], "b.test", NULL, &reused, &s1);
        assert_int_equal(reused, 0);
        assert_non_null(s1);
        assert_true(SSL_SESSION_is_resumable(s1));
        assert_int_equal(handshake_ok(t, ctxs[i], "b.test", s1, &reused, &s2), SERIAL_B);
        assert_int_equal(reused, 1);
        SSL_SESSION_free(s2);
        SSL_SESSION_free(s1);
    }
    ws_tls_stats(t, &st);
    assert_int_equal(st.handshakes, 4);
    assert_int_equal(st.resumed, 2);
    assert_int_equal(st.failed, 0);
    SSL_CTX_free(ctx12);
    SSL_CTX_free(ctx13);
    ws_tls_free(t);
}

/* After one rotation an old ticket is still accepted; after two it is not. */
static void test_ticket_rotation(void **state)
{
    struct ws_tls *t = server_ab(12);
    SSL_CTX *ctx = client_ctx(0);
    SSL_SESSION *s1 = NULL;
    int reused = -1;

    handshake_ok(t, ctx, NULL, NULL, NULL, &s1);
    ws__tls_rotate_ticket_keys(t);
    handshake_ok(t, ctx, NULL, s1, &reused, NULL);
    assert_int_equal(reused, 1);
    ws__tls_rotate_ticket_keys(t);
    handshake_ok(t, ctx, NULL, s1, &reused, NULL);
    assert_int_equal(reused, 0);
    SSL_SESSION_free(s1);
    SSL_CTX_free(ctx);
    ws_tls_free(t);
}

/* The "live" pair, which the reload tests overwrite: a copy of a. */
static struct ws_tls *live_server(void)
{
    static const char *const names[] = { "live", "b" };
    assert_int_equal(
        shell("cp %s/a.pem %s/live.pem && cp %s/a.key %s/live.key", dir, dir, dir, dir), 0);
    return server_with(names, 2, 12);
}

/* A reload that cannot load its files fails, names the file, and keeps the old pair. */
static void test_reload_refused(void **state)
{
    struct ws_tls *t = live_server();
    SSL_CTX *ctx = client_ctx(0);
    char err[512] = "";

    assert_int_equal(
        shell("cp %s/a2.pem %s/live.pem && cp %s/garbage.key %s/live.key", dir, dir, dir, dir), 0);
    assert_int_equal(ws_tls_reload(t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "live.key"));
    assert_int_equal(handshake_ok(t, ctx, NULL, NULL, NULL, NULL), SERIAL_A);

    /* A key that belongs to another certificate. */
    assert_int_equal(shell("cp %s/a.key %s/live.key", dir, dir), 0);
    assert_int_equal(ws_tls_reload(t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "live.key"));
    assert_non_null(strstr(err, "does not match"));
    assert_int_equal(handshake_ok(t, ctx, NULL, NULL, NULL, NULL), SERIAL_A);
    assert_int_equal(handshake_ok(t, ctx, "b.test", NULL, NULL, NULL), SERIAL_B);
    SSL_CTX_free(ctx);
    ws_tls_free(t);
}

/*
 * A reload with a good new pair serves it to new sessions; a session made
 * before the reload completes with the old pair (and SNI still works for it);
 * a ticket from before the reload still resumes.
 */
static void test_reload_new_pair(void **state)
{
    struct ws_tls *t = live_server();
    SSL_CTX *ctx = client_ctx(0);
    SSL_SESSION *before = NULL;
    struct conn old_plain, old_sni;
    char err[512] = "";
    int reused = -1;

    handshake_ok(t, ctx, NULL, NULL, NULL, &before);
    conn_open(&old_plain, t);
    conn_open(&old_sni, t);
    assert_int_equal(
        shell("cp %s/a2.pem %s/live.pem && cp %s/a2.key %s/live.key", dir, dir, dir, dir), 0);
    assert_int_equal(ws_tls_reload(t, err, sizeof(err)), 0);

    assert_int_equal(handshake_ok(t, ctx, NULL, NULL, NULL, NULL), SERIAL_A2);
    assert_int_equal(handshake_ok(t, ctx, "y.a.test", NULL, NULL, NULL), SERIAL_A2);
    conn_client(&old_plain, ctx, NULL, NULL, NULL, 0);
    assert_true(conn_handshake(&old_plain, t));
    assert_int_equal(peer_serial(&old_plain), SERIAL_A);
    conn_client(&old_sni, ctx, "b.test", NULL, NULL, 0);
    assert_true(conn_handshake(&old_sni, t));
    assert_int_equal(peer_serial(&old_sni), SERIAL_B);

    handshake_ok(t, ctx, NULL, before, &reused, NULL);
    assert_int_equal(reused, 1);

    /* The old set outlives the reload only through these sessions. */
    conn_close(&old_plain);
    conn_close(&old_sni);
    SSL_SESSION_free(before);
    SSL_CTX_free(ctx);
    ws_tls_free(t);
}

/* ws_tls_new refuses a key that does not match, or a missing file, naming the file. */
static void test_load_errors(void **state)
{
    char cert[PATH_SIZE], key[PATH_SIZE], missing[PATH_SIZE], err[512];
    struct ws_tls_pair pair = { path(cert, "a.pem"), path(key, "b.key") };
    struct ws_tls_config cfg = { &pair, 1, 12, 1 };

    memset(err, 0, sizeof(err));
    assert_null(ws_tls_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, key));
    assert_non_null(strstr(err, cert));

    pair.key_file = path(key, "a.key");
    pair.cert_file = path(missing, "missing.pem");
    memset(err, 0, sizeof(err));
    assert_null(ws_tls_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, missing));
    assert_non_null(strstr(err, "No such file"));

    pair.cert_file = path(cert, "a.pem");
    pair.key_file = path(key, "garbage.key");
    memset(err, 0, sizeof(err));
    assert_null(ws_tls_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, key));

    cfg.n_pairs = 0;
    assert_null(ws_tls_new(&cfg, err, sizeof(err)));
    cfg.n_pairs = 1;
    cfg.min_version = 11;
    assert_null(ws_tls_new(&cfg, err, sizeof(err)));
}

/* ---- record buffers: kept while a connection is busy, given back once idle ---- */

/* A request from the client, read by the server, and a response read by the client. */
static void exchange(struct conn *c)
{
    static const char request[] = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
    static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    char buf[256];

    assert_int_equal(SSL_write(c->client, request, LIT_LEN(request)), LIT_LEN(request));
    assert_int_equal(SSL_read(c->server, buf, sizeof(buf)), LIT_LEN(request));
    assert_int_equal(SSL_write(c->server, response, LIT_LEN(response)), LIT_LEN(response));
    assert_int_equal(SSL_read(c->client, buf, sizeof(buf)), LIT_LEN(response));
}

/* A server session after a handshake and a first request: both record buffers allocated. */
static void busy_conn(struct conn *c, struct ws_tls *t, SSL_CTX *ctx)
{
    conn_open(c, t);
    conn_client(c, ctx, "a.test", NULL, NULL, 0);
    assert_true(conn_handshake(c, t));
    exchange(c);
}

/*
 * Parked for input, a session keeps its record buffers for WS_TLS_KEEP_MS (the
 * next request allocates none) and gives them back at ws_tls_idle; a deadline
 * sooner than that gives them back at once.
 */
static void test_parked_session_keeps_buffers_for_a_while(void **state)
{
    struct ws_tls *t = server_ab(12);
    SSL_CTX *ctx = client_ctx(0);
    struct conn c;
    unsigned long allocs;
    size_t busy;

    busy_conn(&c, t, ctx);
    busy = openssl_bytes;
    assert_int_equal(ws_tls_park(c.server, 1000, 1000 + 15000), 1000 + WS_TLS_KEEP_MS);
    assert_int_equal(ws__tls_kept(t), 1);
    assert_true(openssl_bytes == busy);
    allocs = openssl_big_allocs;
    exchange(&c);
    assert_int_equal(openssl_big_allocs, allocs); /* the next request: no new buffer */

    /* Parked again (still counted once), then the keep period ends. */
    assert_int_equal(ws_tls_park(c.server, 2000, 2000 + 15000), 2000 + WS_TLS_KEEP_MS);
    assert_int_equal(ws__tls_kept(t), 1);
    busy = openssl_bytes;
    ws_tls_idle(c.server);
    assert_int_equal(ws__tls_kept(t), 0);
    assert_true(openssl_bytes + 2 * BIG_ALLOC <= busy); /* read and write buffers */

    /* A deadline within the keep period: given back at once, the deadline unchanged. */
    exchange(&c);
    busy = openssl_bytes;
    assert_int_equal(ws_tls_park(c.server, 3000, 3000 + WS_TLS_KEEP_MS), 3000 + WS_TLS_KEEP_MS);
    assert_int_equal(ws__tls_kept(t), 0);
    assert_true(openssl_bytes + 2 * BIG_ALLOC <= busy);
    assert_int_equal(ws_tls_park(NULL, 3000, 5000), 5000); /* plain TCP */

    conn_close(&c);
    SSL_CTX_free(ctx);
    ws_tls_free(t);
}

/* At most WS_TLS_KEEP_MAX sessions keep buffers; the next ones give them back as they park. */
static void test_kept_sessions_are_bounded(void **state)
{
    struct ws_tls *t = server_ab(12);
    SSL *s[WS_TLS_KEEP_MAX + 1];
    int fd[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0);
    for (unsigned i = 0; i < ARRAY_LEN(s); i++) {
        s[i] = ws_tls_session(t, fd[0]);
        assert_non_null(s[i]);
    }
    for (unsigned i = 0; i < WS_TLS_KEEP_MAX; i++)
        assert_int_equal(ws_tls_park(s[i], 0, 15000), WS_TLS_KEEP_MS);
    assert_int_equal(ws__tls_kept(t), WS_TLS_KEEP_MAX);
    assert_int_equal(ws_tls_park(s[WS_TLS_KEEP_MAX], 0, 15000), 15000); /* full: given back */
    assert_int_equal(ws__tls_kept(t), WS_TLS_KEEP_MAX);
    ws_tls_idle(s[0]);
    assert_int_equal(ws_tls_park(s[WS_TLS_KEEP_MAX], 0, 15000), WS_TLS_KEEP_MS);
    assert_int_equal(ws__tls_kept(t), WS_TLS_KEEP_MAX);
    for (unsigned i = 0; i < ARRAY_LEN(s); i++)
        SSL_free(s[i]); /* a session that ends stops counting */
    assert_int_equal(ws__tls_kept(t), 0);
    close(fd[0]);
    close(fd[1]);
    ws_tls_free(t);
}

/*
 * The connection's side (conn.c): a keep-alive connection parked with the
 * deadline ws_tls_park gave it is not closed when that deadline passes: its
 * buffers are given back and it parks on until its own deadline, when it is.
 */
static void test_deadline_check_gives_buffers_back(void **state)
{
    struct ws_tls *t = server_ab(12);
    SSL_CTX *ctx = client_ctx(0);
    struct ws_conn_env env = { .keepalive_timeout_ms = 15000,
                               .rate_window_ms = 5000,
                               .min_rate = 240 };
    struct ws_conn *wc;
    struct conn c;
    size_t busy;

    busy_conn(&c, t, ctx);
    wc = ws_conn_new(c.fd[0], NULL, 1000);
    assert_non_null(wc);
    wc->tls = c.server;
    wc->phase = WS_PHASE_HEAD;
    wc->requests = 1;
    wc->park_events = EPOLLIN;
    /* What end_turn_parked does for an idle keep-alive connection. */
    wc->fixed_deadline_ms = wc->deadline_ms = 1000 + env.keepalive_timeout_ms;
    wc->fixed_reason = wc->close_reason = WS_CLOSE_IDLE;
    wc->slow_reason = WS_CLOSE_NONE;
    wc->deadline_ms = ws_tls_park(wc->tls, 1000, wc->deadline_ms);
    assert_int_equal(wc->deadline_ms, 1000 + WS_TLS_KEEP_MS);

    busy = openssl_bytes;
    assert_int_equal(ws_conn_deadline_passed(wc, &env, 1000 + WS_TLS_KEEP_MS), 16000);
    assert_int_equal(wc->deadline_ms, 16000);
    assert_int_equal(ws__tls_kept(t), 0);
    assert_true(openssl_bytes + 2 * BIG_ALLOC <= busy);
    assert_int_equal(ws_conn_deadline_passed(wc, &env, 16000), 0); /* now it is idle too long */

    wc->tls = NULL; /* the test's to free, with its socket */
    wc->fd = -1;
    ws_conn_free(wc);
    conn_close(&c);
    SSL_CTX_free(ctx);
    ws_tls_free(t);
}

/* ---- the read BIO, and parks for input (conn.c's input_edge) ---- */

/*
 * The read BIO counts its recv calls and tells whether the last one emptied
 * the socket: a read that fills OpenSSL's buffer does not, a short one or one
 * that would block does; a read served from what OpenSSL holds makes none. An
 * end of the stream without close_notify is an EOF to OpenSSL, as with its
 * socket BIO (SSL_OP_IGNORE_UNEXPECTED_EOF: SSL_ERROR_ZERO_RETURN).
 */
static void test_read_bio_counts_recvs_and_tells_drained(void **state)
{
    struct ws_tls *t = server_ab(12);
    SSL_CTX *ctx = client_ctx(0);
    static char big[16384];
    char buf[16384];
    unsigned n0, n;
    int drained;
    struct conn c;

    busy_conn(&c, t, ctx); /* exchange: one short read of a request */
    n0 = ws_tls_recvs(c.server, &drained);
    assert_true(n0 > 0);
    assert_true(drained);

    /* Two records at once: one recv, short; the second record comes from OpenSSL. */
    assert_int_equal(SSL_write(c.client, "one", 3), 3);
    assert_int_equal(SSL_write(c.client, "two", 3), 3);
    assert_int_equal(SSL_read(c.server, buf, sizeof(buf)), 3);
    n = ws_tls_recvs(c.server, &drained);
    assert_int_equal(n, n0 + 1);
    assert_true(drained);
    assert_true(SSL_has_pending(c.server));
    assert_int_equal(SSL_read(c.server, buf, sizeof(buf)), 3);
    assert_int_equal(ws_tls_recvs(c.server, &drained), n);
    assert_false(SSL_has_pending(c.server));

    /* More than OpenSSL's buffer takes: the first recv is full, so not drained. */
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 3; i++)
        assert_int_equal(SSL_write(c.client, big, sizeof(big)), sizeof(big));
    assert_int_equal(SSL_read(c.server, buf, sizeof(buf)), sizeof(buf));
    assert_int_equal(ws_tls_recvs(c.server, &drained), n + 1);
    assert_false(drained);
    while (SSL_read(c.server, buf, sizeof(buf)) > 0)
        ;
    assert_int_equal(SSL_get_error(c.server, -1), SSL_ERROR_WANT_READ);
    assert_true(ws_tls_recvs(c.server, &drained) > n + 1);
    assert_true(drained);

    /* The peer goes without close_notify: an EOF, not an error. */
    assert_int_equal(shutdown(c.fd[1], SHUT_WR), 0);
    assert_int_equal(SSL_read(c.server, buf, sizeof(buf)), 0);
    assert_int_equal(SSL_get_error(c.server, 0), SSL_ERROR_ZERO_RETURN);
    ERR_clear_error();
    c.server_ok = c.client_ok = 0; /* no close_notify on a half-closed socket */
    conn_close(&c);
    SSL_CTX_free(ctx);
    ws_tls_free(t);
}

/* A connection served by ws_conn_run over a TLS session, as a worker runs it. */
struct served {
    struct ws_tls *t;
    SSL_CTX *ctx;
    struct conn c;
    struct ws_conn_env env;
    atomic_int draining;
    struct ws_worker_buf *wb;
    struct ws_conn *wc;
};

static void served_open(struct served *s)
{
    char p[PATH_SIZE];
    FILE *f = fopen(path(p, "small.txt"), "w");

    assert_non_null(f);
    fputs("small\n", f);
    fclose(f);
    memset(s, 0, sizeof(*s));
    s->t = server_ab(12);
    s->ctx = client_ctx(0);
    conn_open(&s->c, s->t);
    conn_client(&s->c, s->ctx, "a.test", NULL, NULL, 0);
    assert_true(conn_handshake(&s->c, s->t));
    test_conn_env(&s->env, dir, &s->draining);
    s->env.tls = s->t;
    s->wb = calloc(1, sizeof(*s->wb));
    assert_non_null(s->wb);
    s->wc = ws_conn_new(s->c.fd[0], NULL, ws_now_ms()); /* accepted now */
    assert_non_null(s->wc);
    s->wc->tls = s->c.server;
}

static void served_close(struct served *s)
{
    s->wc->tls = NULL; /* the test's to free, with its socket */
    s->wc->fd = -1;
    ws_conn_free(s->wc);
    free(s->wb);
    ws_log_close(s->env.log);
    close(s->env.statics.root_fd);
    conn_close(&s->c);
    SSL_CTX_free(s->ctx);
    ws_tls_free(s->t);
}

/*
 * A worker's turn, which must end in a park for input. An edge park is only
 * right when no input the connection could use waits unseen: none in the
 * socket (this thread is the client, so nothing arrives meanwhile) and none
 * in OpenSSL; otherwise no edge would ever come for it, and the connection
 * would hang. Returns park_edge.
 */
static int turn(struct served *s)
{
    int queued = -1;

    assert_int_equal(ws_conn_run(s->wc, &s->env, s->wb), WS_CONN_PARK);
    assert_int_equal(s->wc->park_events, EPOLLIN);
    if (s->wc->park_edge) {
        assert_int_equal(ioctl(s->c.fd[0], FIONREAD, &queued), 0);
        assert_int_equal(queued, 0);
        assert_false(SSL_has_pending(s->wc->tls));
    }
    return s->wc->park_edge;
}

/* How many responses the client gets now (each a 200 for small.txt). */
static int responses(struct served *s)
{
    char buf[16384], *at;
    size_t len = 0;
    int r, n = 0;

    while ((r = SSL_read(s->c.client, buf + len, (int)(sizeof(buf) - 1 - len))) > 0)
        len += (size_t)r;
    assert_int_equal(SSL_get_error(s->c.client, r), SSL_ERROR_WANT_READ);
    ERR_clear_error();
    buf[len] = '\0';
    for (at = buf; (at = strstr(at, "HTTP/1.1 200 OK\r\n")) != NULL; at++)
        n++;
    return n;
}

static const char small_request[] = "GET /small.txt HTTP/1.1\r\nHost: a.test\r\n\r\n";

/*
 * A keep-alive HTTPS request ends in an edge park (no epoll_ctl), as in the
 * clear: the read of its record came back short, and OpenSSL holds nothing.
 */
static void test_keep_alive_parks_are_edge_parks(void **state)
{
    struct served s;

    served_open(&s);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(SSL_write(s.c.client, small_request, LIT_LEN(small_request)),
                         LIT_LEN(small_request));
        assert_true(turn(&s));
        assert_int_equal(responses(&s), 1);
    }
    /* A turn with nothing to read: the read would block, an edge park too. */
    assert_true(turn(&s));
    served_close(&s);
}

/* Two requests in two records that one recv takes: both are answered in the turn. */
static void test_two_records_in_one_read_both_answered(void **state)
{
    struct served s;

    served_open(&s);
    for (int i = 0; i < 2; i++)
        assert_int_equal(SSL_write(s.c.client, small_request, LIT_LEN(small_request)),
                         LIT_LEN(small_request));
    assert_true(turn(&s));
    assert_int_equal(responses(&s), 2);
    served_close(&s);
}

/*
 * Requests whose records fill OpenSSL's read buffer exactly, and one more
 * behind them: the recv that took them was full, so the turn, done with what
 * OpenSSL held, must not edge-park with the last request still in the socket
 * (no edge would come for it). The turn after serves it.
 */
static void test_a_full_read_leaves_a_level_park(void **state)
{
    struct served s;
    static char big[16384], req[4096];
    char buf[16384];
    uint64_t before, room, overhead;
    BIO *w;
    int len;

    served_open(&s);
    w = SSL_get_wbio(s.c.client);
    /* How much one recv asks for: more than that is waiting. */
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 3; i++)
        assert_int_equal(SSL_write(s.c.client, big, sizeof(big)), sizeof(big));
    before = BIO_number_read(SSL_get_rbio(s.c.server));
    assert_int_equal(SSL_read(s.c.server, buf, sizeof(buf)), sizeof(buf));
    room = BIO_number_read(SSL_get_rbio(s.c.server)) - before;
    assert_true(room > sizeof(big) && room < 2 * sizeof(big));
    while (SSL_read(s.c.server, buf, sizeof(buf)) > 0)
        ;
    assert_int_equal(SSL_get_error(s.c.server, -1), SSL_ERROR_WANT_READ);
    ERR_clear_error();

    /* Seven padded requests, then an eighth sized so that the eight fill room exactly. */
    before = BIO_number_written(w);
    overhead = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t left = room - (BIO_number_written(w) - before);
        size_t pad = i < 7 ? (size_t)room / 8 - 100
                           : (size_t)(left - overhead) - (LIT_LEN(small_request) + 9);
        assert_true(pad < sizeof(req) - 100);
        len = snprintf(req, sizeof(req),
                       "GET /small.txt HTTP/1.1\r\nHost: a.test\r\nX-Pad: %*s\r\n\r\n", (int)pad,
                       "p");
        assert_int_equal(len, LIT_LEN(small_request) + 9 + pad);
        assert_int_equal(SSL_write(s.c.client, req, len), len);
        if (i == 0)
            overhead = BIO_number_written(w) - before - (uint64_t)len;
    }
    assert_int_equal(BIO_number_written(w) - before, room);
    assert_int_equal(SSL_write(s.c.client, small_request, LIT_LEN(small_request)),
                     LIT_LEN(small_request));

    assert_false(turn(&s)); /* a level park: the ninth waits in the socket */
    assert_int_equal(responses(&s), 8);
    assert_true(turn(&s));
    assert_int_equal(responses(&s), 1);
    served_close(&s);
}

/*
 * A request record that comes in pieces, each turn parking for the next
 * (OpenSSL holds part of it meanwhile); and a request split across two
 * records that come one by one.
 */
static void test_a_record_in_pieces(void **state)
{
    struct served s;
    BIO *mem = BIO_new(BIO_s_mem());
    char *rec;
    long len;

    assert_non_null(mem);
    served_open(&s);
    /* The client's records go to memory from now on, and the test sends them in pieces. */
    SSL_set0_wbio(s.c.client, mem);
    assert_int_equal(SSL_write(s.c.client, small_request, LIT_LEN(small_request)),
                     LIT_LEN(small_request));
    len = BIO_get_mem_data(mem, &rec);
    assert_true(len > 20);
    assert_int_equal(write(s.c.fd[1], rec, 3), 3); /* part of the record header */
    turn(&s);
    assert_int_equal(responses(&s), 0);
    assert_int_equal(write(s.c.fd[1], rec + 3, 10), 10); /* the header and some of the body */
    turn(&s);
    assert_int_equal(responses(&s), 0);
    assert_int_equal(write(s.c.fd[1], rec + 13, (size_t)len - 13), len - 13);
    /* OpenSSL asks for just the bytes the record lacks, and gets them all: the socket
     * may hold more, so this park is a level park; the next read that would block
     * makes them edge parks again. */
    turn(&s);
    assert_int_equal(responses(&s), 1);
    assert_true(turn(&s));
    (void)BIO_reset(mem);

    /* Half a request in one record, the rest in the next. */
    assert_int_equal(SSL_write(s.c.client, small_request, 20), 20);
    len = BIO_get_mem_data(mem, &rec);
    assert_int_equal(write(s.c.fd[1], rec, (size_t)len), len);
    (void)BIO_reset(mem);
    assert_true(turn(&s));
    assert_int_equal(responses(&s), 0);
    assert_int_equal(SSL_write(s.c.client, small_request + 20, LIT_LEN(small_request) - 20),
                     LIT_LEN(small_request) - 20);
    len = BIO_get_mem_data(mem, &rec);
    assert_int_equal(write(s.c.fd[1], rec, (size_t)len), len);
    assert_true(turn(&s));
    assert_int_equal(responses(&s), 1);
    served_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_certificate),
        cmocka_unit_test(test_sni),
        cmocka_unit_test(test_two_key_types_one_site),
        cmocka_unit_test(test_alpn),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_resumption),
        cmocka_unit_test(test_ticket_rotation),
        cmocka_unit_test(test_reload_refused),
        cmocka_unit_test(test_reload_new_pair),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_parked_session_keeps_buffers_for_a_while),
        cmocka_unit_test(test_kept_sessions_are_bounded),
        cmocka_unit_test(test_deadline_check_gives_buffers_back),
        cmocka_unit_test(test_read_bio_counts_recvs_and_tells_drained),
        cmocka_unit_test(test_keep_alive_parks_are_edge_parks),
        cmocka_unit_test(test_two_records_in_one_read_both_answered),
        cmocka_unit_test(test_a_full_read_leaves_a_level_park),
        cmocka_unit_test(test_a_record_in_pieces),
    };

    /* Before OpenSSL's first allocation, or it refuses. */
    if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) != 1) {
        fprintf(stderr, "CRYPTO_set_mem_functions refused\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, make_certificates, remove_certificates);
}
