/*
 * fuzz_tls.c - bytes into a server-side TLS session (ws_tls, through memory
 * BIOs) and on into the HTTP layer.
 *
 * The first byte chooses the mode:
 *   even  the rest is what a client sent on the wire: records, a ClientHello,
 *         garbage. The server session must end in "need more", a completed
 *         handshake or an error, and never crash, hang or leak.
 *   odd   an in-process client completes a real handshake with the server
 *         (TLS 1.3 or 1.2, by the second byte), then sends the rest as
 *         application data in records of varying size; what the server reads
 *         is parsed as a request head and, when it parses, planned
 *         (ws_plan_route, ws_plan_make) against a file resource.
 * The certificate and key are made once, in memory, and written to a
 * temporary directory for ws_tls_new, which reads files.
 */
#include "fuzz.h"
#include "fuzz_cert.h"
#include "http/plan.h"
#include "http/request_parser.h"
#include "server/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>
#include <unistd.h>

static struct ws_tls *tls;
static SSL_CTX *client_ctx;

static void init(void)
{
    tls = fuzz_tls_server("fuzz_tls");
    client_ctx = SSL_CTX_new(TLS_client_method());
    if (client_ctx == NULL)
        abort();
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
}

void ws_fuzz_teardown(void)
{
    SSL_CTX_free(client_ctx);
    if (tls != NULL)
        ws_tls_free(tls);
}

/* A server session on memory BIOs: *in is what the client sent, *out what the server sent. */
static SSL *server_session(BIO **in, BIO **out)
{
    SSL *s = ws_tls_session(tls, -1);

    if (s == NULL)
        return NULL;
    *in = BIO_new(BIO_s_mem());
    *out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(*in, -1); /* empty: "would block", not the end */
    SSL_set_bio(s, *in, *out);
    SSL_set_accept_state(s);
    return s;
}

/* Moves what one side wrote to the other side's input. */
static void shuttle(BIO *from, BIO *to)
{
    char buf[4096];
    int n;

    while ((n = BIO_read(from, buf, sizeof(buf))) > 0)
        BIO_write(to, buf, n);
}

/* What the server makes of bytes on the wire. */
static void raw_mode(const uint8_t *data, size_t size)
{
    BIO *in, *out;
    SSL *s = server_session(&in, &out);
    char buf[1024];

    if (s == NULL)
        return;
    BIO_write(in, data, (int)size);
    for (int i = 0; i < 8; i++) {
        int r = SSL_read(s, buf, sizeof(buf));
        if (r <= 0) {
            int e = SSL_get_error(s, r);
            FUZZ_CHECK(e != SSL_ERROR_WANT_WRITE); /* memory BIOs never fill */
            break;
        }
    }
    SSL_free(s);
    ERR_clear_error();
}

/* Parses and plans what came out of the TLS session. */
static void http_layer(const char *buf, size_t len)
{
    static const struct ws_parse_limits limits = { 8192, 16384, WS_MAX_HEADERS };
    static struct ws_plan plan;
    struct ws_request req;
    uint64_t boundary = 1;
    struct ws_plan_env env = { WS_CACHE_AUTO, 0,   1 << 20, "Thu, 01 Jan 2026 00:00:00 GMT",
                               &boundary,     1,   60,      0,
                               NULL,          NULL };
    struct ws_resource res = { .status = 200,
                               .size = 1000,
                               .mtime_sec = 1700000000,
                               .content_type = "text/html",
                               .name = "index.html",
                               .name_len = 10 };
    int rc = ws_http_parse_request(buf, len, 0, &limits, &req);

    if (rc < 0) {
        ws_plan_make(&plan, NULL, -rc, &res, &env, 0);
        FUZZ_CHECK(plan.close);
        return;
    }
    if (rc == 0)
        return;
    ws_plan_make(&plan, &req, ws_plan_route(&req, &env), &res, &env, 0);
    FUZZ_CHECK(plan.status >= 200 && plan.status <= 599);
    FUZZ_CHECK(plan.head.strict_transport_security != NULL);
}

/* A real handshake, then the input as application data. */
static void app_mode(const uint8_t *data, size_t size)
{
    BIO *in, *out, *cin = BIO_new(BIO_s_mem()), *cout = BIO_new(BIO_s_mem());
    SSL *s = server_session(&in, &out), *c = SSL_new(client_ctx);
    char got[16384];
    size_t got_len = 0, off = 0;
    int done = 0;

    if (s == NULL || c == NULL) {
        SSL_free(s);
        SSL_free(c);
        BIO_free(cin);
        BIO_free(cout);
        return;
    }
    BIO_set_mem_eof_return(cin, -1);
    SSL_set_bio(c, cin, cout);
    SSL_set_connect_state(c);
    SSL_set_max_proto_version(c, size > 0 && (data[0] & 2) ? TLS1_2_VERSION : 0);
    SSL_set_tlsext_host_name(c, "fuzz.test");
    for (int i = 0; i < 16 && !done; i++) {
        int rc = SSL_do_handshake(c), rs = SSL_do_handshake(s);
        shuttle(cout, in);
        shuttle(out, cin);
        done = rc == 1 && rs == 1;
    }
    FUZZ_CHECK(done); /* the server must complete a handshake with a well-behaved client */
    if (size > 0) {
        data++;
        size--;
    }
    while (off < size) {
        /* Records of 1 to 64 bytes, as the data's own bytes say. */
        size_t n = 1 + data[off] % 64;
        if (n > size - off)
            n = size - off;
        FUZZ_CHECK(SSL_write(c, data + off, (int)n) == (int)n);
        off += n;
        shuttle(cout, in);
        for (;;) {
            int r = SSL_read(s, got + got_len, (int)(sizeof(got) - got_len));
            if (r <= 0)
                break;
            got_len += (size_t)r;
            if (got_len == sizeof(got))
                break;
        }
        if (got_len == sizeof(got))
            break;
    }
    FUZZ_CHECK(got_len == (size < sizeof(got) ? size : got_len));
    http_layer(got, got_len);
    SSL_free(c);
    SSL_free(s);
    ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (tls == NULL)
        init();
    if (size == 0)
        return 0;
    if (data[0] & 1)
        app_mode(data + 1, size - 1);
    else
        raw_mode(data + 1, size - 1);
    return 0;
}
