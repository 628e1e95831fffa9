/*
 * server/tls.c - TLS contexts, SNI, ALPN, session tickets and reload; see tls.h.
 *
 * DESIGN
 * A "set" is one SSL_CTX per certificate/key pair, all built at the same time
 * with the same settings. The set's first (default) context owns the set: the
 * set is stored in that context's ex_data under an index of this struct
 * ws_tls, whose free function frees the set (and drops the set's reference to
 * every other context) when OpenSSL frees the default context. Every SSL made
 * by ws_tls_session holds a reference to the default context (as its session
 * context, even after the SNI callback moved it to another context of the
 * set), so a set lives exactly as long as its last session or as long as it is
 * t->current, whichever is longer. Nothing of ours has to track sessions.
 *
 * Locks. t->lock guards only t->current (the default context of the set in
 * use, with one reference held by t): ws_tls_session copies the pointer and
 * takes a reference under it, ws_tls_reload swaps the pointer under it and
 * drops the old reference after unlocking. The ticket key ring has its own
 * lock, taken by the ticket callback (workers, inside SSL_do_handshake) to copy
 * the keys out and, at most every TICKET_ROTATE_SECS, to rotate them. The two
 * locks are never held together. The SNI and ALPN callbacks take no lock: a
 * set never changes once built. The statistics are atomics.
 *
 * Who calls what: main builds the struct with ws_tls_new before dropping
 * privileges and frees it after every worker is joined; the SIGHUP handling
 * calls ws_tls_reload; workers call ws_tls_session and ws_tls_count_handshake
 * and drive the sessions; SIGUSR1 calls ws_tls_stats. A session's own state
 * (its batch and what its read BIO saw, below) is touched only by its
 * connection's owner; what sessions
 * share is atomic (the statistics, the count of sessions keeping buffers).
 */
#include "server/tls.h"

#include "server/sync.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * A ticket key encrypts new tickets for this long and is then kept as the
 * previous key for as long again, so no key lives longer than a day. The
 * session lifetime is the same, so a ticket never outlives its key.
 */
#define TICKET_ROTATE_SECS (12 * 3600)

/* TLS 1.2 ciphers of Mozilla's "intermediate" profile (v5.7), without DHE. */
static const char tls12_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* Not const: OpenSSL's SSL_CTX_set1_groups_list macro casts its argument to char *. */
static char key_groups[] = "X25519:P-256";

/* ALPN protocols we speak, in our order of preference (the HTTP/2 issue adds "h2" first). */
/* Ours, most preferred first; "h2" only with --http2 on. */
static const char *const alpn_protocols[] = { "h2", "http/1.1" };

static const char ulp_file[] = "/proc/sys/net/ipv4/tcp_available_ulp";

struct ticket_key {
    unsigned char name[16];
    unsigned char cipher_key[32]; /* AES-256-CBC */
    unsigned char hmac_key[32];   /* HMAC-SHA256 */
    long long born;               /* CLOCK_BOOTTIME seconds */
    int valid;
};

struct ticket_ring {
    pthread_mutex_t lock;
    struct ticket_key current;  /* encrypts new tickets */
    struct ticket_key previous; /* still decrypts (and the ticket is renewed) */
};

/* The contexts of one set; see DESIGN for who owns what. */
struct ctx_set {
    unsigned n;
    struct {
        SSL_CTX *ctx; /* [0] is the owner of the set (not referenced), the others referenced */
        X509 *leaf;   /* the context's own certificate, borrowed from it */
    } entry[];
};

struct ws_tls {
    pthread_mutex_t lock; /* guards current */
    SSL_CTX *current;     /* default context of the set in use; t holds one reference */
    int set_index;        /* SSL_CTX ex_data index where a default context keeps its set */
    int min_version;      /* TLS1_2_VERSION or TLS1_3_VERSION */
    int ktls;             /* SSL_OP_ENABLE_KTLS on every context */
    int http2;            /* offer "h2" by ALPN */
    unsigned n_pairs;
    struct ws_tls_pair *pairs; /* copies of the configured pairs, with their own strings */
    struct ticket_ring tickets;
    atomic_ulong handshakes, resumed, failed;
    atomic_uint kept; /* sessions keeping their record buffers (ws_tls_park) */
    char description[256];
};

/*
 * Writes "<what>: <OpenSSL's reason for the first error queued>" into err and
 * empties this thread's error queue, so that no stale error confuses a later
 * SSL_get_error on the same thread.
 */
static void tls_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tls_error(char *err, size_t err_size, const char *fmt, ...)
{
    char what[512], reason[256] = "";
    unsigned long e = ERR_get_error();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (e != 0) {
        const char *r = ERR_reason_error_string(e);
        if (r != NULL)
            snprintf(reason, sizeof(reason), "%s", r);
        else
            ERR_error_string_n(e, reason, sizeof(reason));
    }
    ERR_clear_error();
    if (err_size == 0)
        return;
    if (reason[0] != '\0')
        snprintf(err, err_size, "%s: %s", what, reason);
    else
        snprintf(err, err_size, "%s", what);
}

/* ---- kernel TLS ---- */

static pthread_once_t ktls_once = PTHREAD_ONCE_INIT;
static int ktls_on;
static const char *ktls_why = "";

/*
 * kTLS needs both halves: OpenSSL built with it and a kernel offering the
 * "tls" ULP. The machines this project is tested on lack the ULP, so the kTLS
 * path (SSL_OP_ENABLE_KTLS here, SSL_sendfile in the connection) is compiled
 * and guarded but not exercised by the tests or CI. The file lists only ULPs
 * already loaded: where the tls module is built but not loaded yet, run
 * "modprobe tls" before starting the server.
 */
static void ktls_probe(void)
{
#if defined(SSL_OP_ENABLE_KTLS) && !defined(OPENSSL_NO_KTLS)
    char buf[256];
    size_t len;
    FILE *f = fopen(ulp_file, "re");

    if (f == NULL) {
        ktls_why = "cannot read /proc/sys/net/ipv4/tcp_available_ulp";
        return;
    }
    len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    for (char *save = NULL, *w = strtok_r(buf, " \t\n", &save); w != NULL;
         w = strtok_r(NULL, " \t\n", &save))
        if (strcmp(w, "tls") == 0) {
            ktls_on = 1;
            ktls_why = "the kernel has the tls ULP";
            return;
        }
    ktls_why = "the kernel has no tls ULP";
#else
    (void)ulp_file;
    ktls_why = "OpenSSL was built without kTLS";
#endif
}

int ws_tls_ktls_available(void)
{
    pthread_once(&ktls_once, ktls_probe);
    return ktls_on;
}

/* ---- session ticket keys ---- */

static long long boot_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (long long)ts.tv_sec;
}

/* Makes a fresh current key; the old current becomes the previous one. Lock held. */
static int rotate_locked(struct ticket_ring *r, long long now)
{
    struct ticket_key k;

    if (RAND_bytes(k.name, sizeof(k.name)) != 1 ||
        RAND_bytes(k.cipher_key, sizeof(k.cipher_key)) != 1 ||
        RAND_bytes(k.hmac_key, sizeof(k.hmac_key)) != 1) {
        OPENSSL_cleanse(&k, sizeof(k));
        return -1;
    }
    k.born = now;
    k.valid = 1;
    OPENSSL_cleanse(&r->previous, sizeof(r->previous));
    r->previous = r->current;
    r->current = k;
    OPENSSL_cleanse(&k, sizeof(k));
    return 0;
}

/*
 * Copies the keys in use now into *cur and *prev, rotating first when the
 * current key is due; a key older than two periods (the server was idle) is
 * never handed out. -1 when no current key could be made.
 */
static int ticket_keys(struct ticket_ring *r, struct ticket_key *cur, struct ticket_key *prev)
{
    long long now = boot_seconds();
    int rc = 0;

    ws_mutex_lock(&r->lock);
    if (r->previous.valid && now - r->previous.born >= 2 * TICKET_ROTATE_SECS)
        OPENSSL_cleanse(&r->previous, sizeof(r->previous));
    if (!r->current.valid || now - r->current.born >= TICKET_ROTATE_SECS) {
        rc = rotate_locked(r, now);
        if (r->previous.valid && now - r->previous.born >= 2 * TICKET_ROTATE_SECS)
            OPENSSL_cleanse(&r->previous, sizeof(r->previous));
    }
    *cur = r->current;
    *prev = r->previous;
    ws_mutex_unlock(&r->lock);
    return rc == 0 && cur->valid ? 0 : -1;
}

static int set_hmac_key(EVP_MAC_CTX *hctx, const struct ticket_key *k)
{
    OSSL_PARAM params[3];

    params[0] = OSSL_PARAM_construct_octet_string(
        OSSL_MAC_PARAM_KEY, (void *)(uintptr_t)k->hmac_key, sizeof(k->hmac_key));
    params[1] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t) "SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/*
 * OpenSSL's ticket callback. enc 1: a new ticket is sealed with the current
 * key (0: no ticket is sent, the handshake goes on). enc 0: 1 for a ticket of
 * the current key, 2 for one of the previous key (accepted, and a new ticket
 * is sent), 0 for an unknown key (a full handshake), -1 for an error.
 */
static int ticket_key_cb(SSL *ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    struct ws_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    struct ticket_key cur, prev;
    const struct ticket_key *k = NULL;
    int rc;

    if (ticket_keys(&t->tickets, &cur, &prev) < 0) {
        rc = enc ? 0 : -1;
        goto out;
    }
    if (enc) {
        k = &cur;
        memcpy(key_name, k->name, sizeof(k->name));
        if (RAND_bytes(iv, 16) != 1 ||
            EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->cipher_key, iv) != 1 ||
            set_hmac_key(hctx, k) < 0)
            rc = -1;
        else
            rc = 1;
        goto out;
    }
    if (memcmp(key_name, cur.name, sizeof(cur.name)) == 0) {
        k = &cur;
        rc = 1;
    } else if (prev.valid && memcmp(key_name, prev.name, sizeof(prev.name)) == 0) {
        k = &prev;
        rc = 2;
    } else {
        rc = 0;
        goto out;
    }
    if (set_hmac_key(hctx, k) < 0 ||
        EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->cipher_key, iv) != 1)
        rc = -1;
out:
    OPENSSL_cleanse(&cur, sizeof(cur));
    OPENSSL_cleanse(&prev, sizeof(prev));
    return rc;
}

void ws__tls_rotate_ticket_keys(struct ws_tls *t)
{
    ws_mutex_lock(&t->tickets.lock);
    rotate_locked(&t->tickets, boot_seconds());
    ws_mutex_unlock(&t->tickets.lock);
}

/* ---- SNI and ALPN ---- */

/*
 * Moves the session to the context whose certificate names (SAN DNS names,
 * wildcards in the first label, or the subject CN where there is no SAN)
 * match the name the client asked for. No name, or no match, keeps the
 * default certificate: RFC 6066 lets the server go on, and a client that
 * verifies will then refuse the name itself.
 */
static int servername_cb(SSL *ssl, int *alert, void *arg)
{
    const struct ctx_set *set = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

    if (name == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    for (unsigned i = 0; i < set->n; i++) {
        if (X509_check_host(set->entry[i].leaf, name, strlen(name),
                            X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1)
            continue;
        if (SSL_get_SSL_CTX(ssl) != set->entry[i].ctx &&
            SSL_set_SSL_CTX(ssl, set->entry[i].ctx) == NULL) {
            *alert = SSL_AD_INTERNAL_ERROR;
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/*
 * Picks our most preferred protocol among those the client offers. A client
 * that offers ALPN but none of our protocols gets a fatal
 * no_application_protocol alert: RFC 7301, section 3.2, says the server SHALL
 * send it, and going on without ALPN would leave a client that offered only
 * "h2" speaking HTTP/2 to an HTTP/1.1 server. A client that sends no ALPN at
 * all is not asked (this callback is not called) and gets HTTP/1.1.
 */
static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg)
{
    const struct ws_tls *t = arg;

    for (size_t p = t->http2 ? 0 : 1; p < sizeof(alpn_protocols) / sizeof(alpn_protocols[0]); p++) {
        size_t plen = strlen(alpn_protocols[p]);
        for (unsigned i = 0; i < inlen;) {
            unsigned len = in[i];
            if (len == 0 || len > inlen - i - 1)
                return SSL_TLSEXT_ERR_ALERT_FATAL; /* a malformed list */
            if (len == plen && memcmp(in + i + 1, alpn_protocols[p], plen) == 0) {
                *out = (const unsigned char *)alpn_protocols[p];
                *outlen = (unsigned char)plen;
                return SSL_TLSEXT_ERR_OK;
            }
            i += 1 + len;
        }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* ---- contexts ---- */

/* The protocol settings shared by every context (Mozilla "intermediate"). */
/*
 * Called once the version is known and before a TLS 1.2 cipher is chosen:
 * TLS 1.2 takes our order (strongest and fastest first, as testssl.sh and
 * most audits expect), TLS 1.3 the client's (all its suites are strong, and
 * a phone without AES instructions prefers ChaCha20).
 */
static int cipher_order_cb(SSL *ssl, void *arg)
{
    if (SSL_version(ssl) < TLS1_3_VERSION)
        SSL_set_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
    return 1;
}

static int configure_context(struct ws_tls *t, SSL_CTX *ctx)
{
    uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                       /* A peer closing without close_notify is an ordinary EOF for
                        * HTTP, whose framing tells a truncated response anyway. */
                       SSL_OP_IGNORE_UNEXPECTED_EOF;

#if defined(SSL_OP_ENABLE_KTLS) && !defined(OPENSSL_NO_KTLS)
    if (t->ktls)
        options |= SSL_OP_ENABLE_KTLS;
#endif
    if (SSL_CTX_set_min_proto_version(ctx, t->min_version) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1 ||
        SSL_CTX_set1_groups_list(ctx, key_groups) != 1 || SSL_CTX_set_num_tickets(ctx, 1) != 1)
        return -1;
    SSL_CTX_set_options(ctx, options);
    /*
     * Our order for TLS 1.2, the client's for 1.3 (cipher_order_cb). OpenSSL 3
     * refuses a client's renegotiation unless this option is set; never set it.
     */
    SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    SSL_CTX_set_cert_cb(ctx, cipher_order_cb, NULL);
    /*
     * The connection writes what the socket takes and retries with a refilled
     * buffer. The record buffers stay while a connection works (not
     * SSL_MODE_RELEASE_BUFFERS, which frees and allocates them around every
     * record), and for a while when it parks for input (ws_tls_park).
     */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /*
     * One read takes what the socket holds, up to a full record and more,
     * instead of a record's 5-byte header and then its body: one recv per
     * request instead of two. Bytes read ahead are not seen by epoll, so the
     * connection asks SSL_has_pending before it parks.
     */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* Resumption is by ticket only (TLS 1.2 and 1.3): no server-side cache to lock or fill. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_timeout(ctx, TICKET_ROTATE_SECS);
    SSL_CTX_set_app_data(ctx, t);
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb) != 1)
        return -1;
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, t);
    return 0;
}

/* One context for one pair, or NULL with the reason (naming the file) in err. */
/*
 * Loads a pair into ctx: the chain into the slot of its key type (a context
 * holds one certificate per key type, and OpenSSL picks by the client's
 * signature algorithms), then the key. *leaf is the pair's certificate. 0, or
 * -1 with the reason in err.
 */
static int load_pair(SSL_CTX *ctx, const struct ws_tls_pair *p, X509 **leaf, char *err,
                     size_t err_size)
{
    ERR_clear_error(); /* the checks below read the queue */
    if (SSL_CTX_use_certificate_chain_file(ctx, p->cert_file) != 1) {
        tls_error(err, err_size, "cannot load the certificate chain %s", p->cert_file);
        return -1;
    }
    *leaf = SSL_CTX_get0_certificate(ctx);
    /* A key of the certificate's type that is not its key fails here, another type below. */
    if (SSL_CTX_use_PrivateKey_file(ctx, p->key_file, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_error()) != X509_R_KEY_VALUES_MISMATCH) {
        tls_error(err, err_size, "cannot load the private key %s for %s", p->key_file,
                  p->cert_file);
        return -1;
    }
    if (ERR_peek_error() != 0 || SSL_CTX_check_private_key(ctx) != 1) {
        tls_error(err, err_size, "the private key %s does not match the certificate %s",
                  p->key_file, p->cert_file);
        return -1;
    }
    return 0;
}

static SSL_CTX *new_context(struct ws_tls *t, const struct ws_tls_pair *p, X509 **leaf, char *err,
                            size_t err_size)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        tls_error(err, err_size, "cannot create a TLS context");
        return NULL;
    }
    if (configure_context(t, ctx) < 0) {
        tls_error(err, err_size, "cannot configure a TLS context");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (load_pair(ctx, p, leaf, err, err_size) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void certificate_name(X509 *cert, char *out, size_t size);

/*
 * Whether the certificate in cert_file names the same host as leaf (each
 * covers the other's first name) with another type of key: an ECDSA and an
 * RSA certificate for one site, which one context serves together.
 */
static int same_site_other_key(X509 *leaf, const char *cert_file)
{
    FILE *f = fopen(cert_file, "r");
    X509 *other = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    char a[256], b[256];
    int same = 0;

    if (f != NULL)
        fclose(f);
    if (other != NULL) {
        EVP_PKEY *ka = X509_get0_pubkey(leaf), *kb = X509_get0_pubkey(other);
        certificate_name(leaf, a, sizeof(a));
        certificate_name(other, b, sizeof(b));
        same = ka != NULL && kb != NULL && EVP_PKEY_get_base_id(ka) != EVP_PKEY_get_base_id(kb) &&
               X509_check_host(leaf, b, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1 &&
               X509_check_host(other, a, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
    }
    X509_free(other);
    ERR_clear_error();
    return same;
}

/* ex_data free function: the default context of a set is being freed, and the set with it. */
static void free_set(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct ctx_set *set = ptr;

    if (set == NULL)
        return;
    for (unsigned i = 1; i < set->n; i++)
        SSL_CTX_free(set->entry[i].ctx);
    free(set);
}

/*
 * Builds a set from every pair's files and returns its default context (one
 * reference, the caller's), or NULL with the reason in err.
 */
static SSL_CTX *build_set(struct ws_tls *t, char *err, size_t err_size)
{
    struct ctx_set *set = calloc(1, sizeof(*set) + t->n_pairs * sizeof(set->entry[0]));
    unsigned i;

    if (set == NULL) {
        snprintf(err, err_size, "cannot build the TLS contexts: %s", strerror(errno));
        return NULL;
    }
    for (i = 0; i < t->n_pairs; i++) {
        unsigned j = 0;
        X509 *leaf;
        while (j < set->n && !same_site_other_key(set->entry[j].leaf, t->pairs[i].cert_file))
            j++;
        if (j < set->n) {
            /* The same site with another key type: one context, chosen by signature algorithm. */
            if (load_pair(set->entry[j].ctx, &t->pairs[i], &leaf, err, err_size) < 0)
                goto fail;
            continue;
        }
        set->entry[set->n].ctx =
            new_context(t, &t->pairs[i], &set->entry[set->n].leaf, err, err_size);
        if (set->entry[set->n].ctx == NULL)
            goto fail;
        set->n++;
    }
    for (i = 0; i < set->n; i++) {
        SSL_CTX_set_tlsext_servername_callback(set->entry[i].ctx, servername_cb);
        SSL_CTX_set_tlsext_servername_arg(set->entry[i].ctx, set);
    }
    if (SSL_CTX_set_ex_data(set->entry[0].ctx, t->set_index, set) != 1) {
        tls_error(err, err_size, "cannot build the TLS contexts");
        goto fail;
    }
    return set->entry[0].ctx; /* which owns the set from now on */

fail:
    for (i = 0; i < set->n; i++)
        SSL_CTX_free(set->entry[i].ctx);
    free(set);
    return NULL;
}

/* The first DNS name of the certificate, else its subject CN, else "?". */
static void certificate_name(X509 *cert, char *out, size_t size)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);

    snprintf(out, size, "?");
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == GEN_DNS) {
            snprintf(out, size, "%.*s", ASN1_STRING_length(gn->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(gn->d.dNSName));
            break;
        }
    }
    if (names == NULL || strcmp(out, "?") == 0)
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)size);
    GENERAL_NAMES_free(names);
}

static void describe(struct ws_tls *t)
{
    const struct ctx_set *set = SSL_CTX_get_ex_data(t->current, t->set_index);
    char name[128];

    certificate_name(set->entry[0].leaf, name, sizeof(name));
    snprintf(t->description, sizeof(t->description),
             "TLS %s, ALPN %s, %u certificate%s (default %s), kTLS %s: %s",
             t->min_version == TLS1_3_VERSION ? "1.3" : "1.2-1.3",
             t->http2 ? "h2,http/1.1" : "http/1.1", t->n_pairs, t->n_pairs == 1 ? "" : "s", name,
             t->ktls ? "on" : "off", ktls_why);
}

/* Copies the pairs' file names, which must outlive the caller's strings for reloads. */
static int copy_pairs(struct ws_tls *t, const struct ws_tls_config *cfg)
{
    t->pairs = calloc(cfg->n_pairs, sizeof(t->pairs[0]));
    if (t->pairs == NULL)
        return -1;
    t->n_pairs = cfg->n_pairs;
    for (unsigned i = 0; i < cfg->n_pairs; i++) {
        t->pairs[i].cert_file = strdup(cfg->pairs[i].cert_file);
        t->pairs[i].key_file = strdup(cfg->pairs[i].key_file);
        if (t->pairs[i].cert_file == NULL || t->pairs[i].key_file == NULL)
            return -1;
    }
    return 0;
}

static void free_pairs(struct ws_tls *t)
{
    for (unsigned i = 0; t->pairs != NULL && i < t->n_pairs; i++) {
        free((void *)(uintptr_t)t->pairs[i].cert_file);
        free((void *)(uintptr_t)t->pairs[i].key_file);
    }
    free(t->pairs);
}

struct ws_tls *ws_tls_new(const struct ws_tls_config *cfg, char *err, size_t err_size)
{
    struct ws_tls *t;

    if (cfg->n_pairs == 0 || (cfg->min_version != 12 && cfg->min_version != 13)) {
        snprintf(err, err_size, "TLS needs a certificate and TLS 1.2 or 1.3 as the minimum");
        errno = EINVAL;
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL || copy_pairs(t, cfg) < 0) {
        snprintf(err, err_size, "cannot set up TLS: %s", strerror(ENOMEM));
        goto fail_alloc;
    }
    t->min_version = cfg->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    t->http2 = cfg->http2;
    t->ktls = ws_tls_ktls_available();
    t->set_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_set);
    if (t->set_index < 0) {
        tls_error(err, err_size, "cannot set up TLS");
        goto fail_alloc;
    }
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        snprintf(err, err_size, "cannot set up TLS: no mutex");
        goto fail_index;
    }
    if (pthread_mutex_init(&t->tickets.lock, NULL) != 0) {
        snprintf(err, err_size, "cannot set up TLS: no mutex");
        goto fail_lock;
    }
    t->current = build_set(t, err, err_size);
    if (t->current == NULL)
        goto fail_tickets;
    describe(t);
    return t;

fail_tickets:
    pthread_mutex_destroy(&t->tickets.lock);
fail_lock:
    pthread_mutex_destroy(&t->lock);
fail_index:
    CRYPTO_free_ex_index(CRYPTO_EX_INDEX_SSL_CTX, t->set_index);
fail_alloc:
    if (t != NULL)
        free_pairs(t);
    free(t);
    errno = EINVAL;
    return NULL;
}

void ws_tls_free(struct ws_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->current); /* frees the set, and with it every other context */
    CRYPTO_free_ex_index(CRYPTO_EX_INDEX_SSL_CTX, t->set_index);
    pthread_mutex_destroy(&t->tickets.lock);
    pthread_mutex_destroy(&t->lock);
    OPENSSL_cleanse(&t->tickets, sizeof(t->tickets));
    free_pairs(t);
    free(t);
}

int ws_tls_reload(struct ws_tls *t, char *err, size_t err_size)
{
    SSL_CTX *fresh = build_set(t, err, err_size), *old;

    if (fresh == NULL)
        return -1;
    ws_mutex_lock(&t->lock);
    old = t->current;
    t->current = fresh;
    ws_mutex_unlock(&t->lock);
    SSL_CTX_free(old); /* sessions still holding it keep it (and its set) alive */
    return 0;
}

/* ---- the batching write BIO ---- */

/*
 * Room for four full records (16 KiB of plaintext each, plus at most 256
 * bytes of header, padding and tag in any version) and a response head: a
 * corked batch goes out in sends of about 64 KiB.
 */
#define BATCH_CAP (4 * (16384 + 256) + 1024)

/*
 * The per-session state of the write BIO. Pending ciphertext is
 * buf[start..end): records that SSL_write has returned success for and that
 * the socket has not taken yet. buf is allocated at the first corked record
 * and freed by ws_tls_park or ws_tls_idle once it is empty. kept: the session
 * counts in t->kept (ws_tls_park) until ws_tls_idle or its end.
 */
struct batch {
    int fd;
    int corked;
    int full; /* the socket refused the last send: pending bytes wait for EPOLLOUT */
    int kept;
    struct ws_tls *t;
    char *buf;
    size_t start, end;
    /* The read BIO's (below): its recv calls so far, and whether the last one found the
     * socket empty. */
    unsigned recvs;
    int drained;
    int refs; /* the BIOs that share this: the write BIO and the read BIO */
};

static BIO_METHOD *batch_method, *recv_method;
static int batch_type;
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;

/* A socket error that means "later": the BIO asks its caller to retry. */
static int would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK;
}

/*
 * Sends what the socket takes of the pending bytes: 0 when none is left, else
 * -1 and errno. A socket that takes only part is full: EAGAIN at once, not a
 * second send to find that out.
 */
static int batch_send(struct batch *b)
{
    while (b->start < b->end) {
        ssize_t n = send(b->fd, b->buf + b->start, b->end - b->start, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            b->full = would_block(errno);
            return -1;
        }
        b->start += (size_t)n;
        if (b->start < b->end) {
            b->full = 1;
            errno = EAGAIN;
            return -1;
        }
    }
    b->start = b->end = 0;
    b->full = 0;
    return 0;
}

/*
 * Corked: appends the record, sending the pending bytes first when it would
 * not fit. Not corked: sends the pending bytes and then the record with one
 * writev, without copying the record; what the socket does not take of the
 * record stays with OpenSSL, which offers it again (a partial write), and
 * nothing is taken while pending bytes remain.
 */
static int batch_write(BIO *bio, const char *in, int inl)
{
    struct batch *b = BIO_get_data(bio);
    size_t len = (size_t)inl;
    ssize_t n;

    BIO_clear_retry_flags(bio);
    if (inl <= 0)
        return 0;
    if (b->corked && len <= BATCH_CAP) {
        if (b->end + len > BATCH_CAP && batch_send(b) < 0 && !would_block(errno))
            return -1;
        if (b->end + len > BATCH_CAP && b->end - b->start + len <= BATCH_CAP) {
            memmove(b->buf, b->buf + b->start, b->end - b->start); /* the socket took most */
            b->end -= b->start;
            b->start = 0;
        }
        if (b->end + len > BATCH_CAP) {
            BIO_set_retry_write(bio);
            return -1;
        }
        if (b->buf == NULL && (b->buf = malloc(BATCH_CAP)) == NULL) {
            errno = ENOMEM;
            return -1;
        }
        memcpy(b->buf + b->end, in, len);
        b->end += len;
        return inl;
    }
    if (b->start == b->end) {
        do
            n = send(b->fd, in, len, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
    } else {
        struct iovec iov[2] = { { b->buf + b->start, b->end - b->start },
                                { (void *)(uintptr_t)in, len } };
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
        do
            n = sendmsg(b->fd, &msg, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n >= 0 && (size_t)n < b->end - b->start) {
            b->start += (size_t)n;
            b->full = 1;
            BIO_set_retry_write(bio);
            return -1;
        }
        if (n >= 0) {
            n -= (ssize_t)(b->end - b->start);
            b->start = b->end = 0;
            if (n == 0) {
                BIO_set_retry_write(bio);
                return -1;
            }
        }
    }
    if (n >= 0)
        return (int)n;
    if (would_block(errno))
        BIO_set_retry_write(bio);
    return -1;
}

/*
 * OpenSSL asks about nine questions per record written, mostly whether the
 * BIO does kTLS: the state is fetched only for the two that need it.
 */
static long batch_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        BIO_clear_retry_flags(bio);
        if (batch_send(BIO_get_data(bio)) == 0)
            return 1;
        if (would_block(errno))
            BIO_set_retry_write(bio);
        return -1;
    case BIO_CTRL_WPENDING: {
        const struct batch *b = BIO_get_data(bio);
        return (long)(b->end - b->start);
    }
    case BIO_CTRL_PENDING: return 0;
    case BIO_CTRL_GET_CLOSE: return BIO_get_shutdown(bio);
    case BIO_CTRL_SET_CLOSE: BIO_set_shutdown(bio, (int)num); return 1;
    default: return 0;
    }
}

static int batch_destroy(BIO *bio)
{
    struct batch *b = BIO_get_data(bio);

    if (b != NULL && --b->refs == 0) {
        if (b->kept)
            atomic_fetch_sub_explicit(&b->t->kept, 1, memory_order_relaxed);
        free(b->buf);
        free(b);
    }
    BIO_set_data(bio, NULL);
    return 1;
}

/* ---- the read BIO ---- */

/*
 * The session's reads go through a BIO of ours too, which does what
 * OpenSSL's socket BIO does (one recv; EAGAIN asks to retry, 0 is the end of
 * the stream) and also records, in the state it shares with the write BIO,
 * how many recv calls it made and whether the last one found the socket
 * empty: it would block, or came back short (TCP then emptied its receive
 * queue, so any byte that comes after it makes epoll report an edge). With
 * SSL_has_pending, that tells the connection whether a park for input may
 * be an edge park (ws_tls_recvs).
 */
static int recv_read(BIO *bio, char *out, int outl)
{
    struct batch *b = BIO_get_data(bio);
    ssize_t n;

    BIO_clear_retry_flags(bio);
    if (outl <= 0)
        return 0;
    do
        n = recv(b->fd, out, (size_t)outl, 0);
    while (n < 0 && errno == EINTR);
    b->recvs++;
    b->drained = n > 0 ? n < outl : n < 0 && would_block(errno);
    if (n > 0)
        return (int)n;
    if (n == 0)
        BIO_set_flags(bio, BIO_FLAGS_IN_EOF); /* BIO_eof: OpenSSL tells an EOF from an error */
    else if (would_block(errno))
        BIO_set_retry_read(bio);
    return n == 0 ? 0 : -1;
}

static long recv_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_EOF: return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0;
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_GET_CLOSE: return BIO_get_shutdown(bio);
    case BIO_CTRL_SET_CLOSE: BIO_set_shutdown(bio, (int)num); return 1;
    default: return 0;
    }
}

static void batch_method_init(void)
{
    int type = BIO_get_new_index(), rtype = BIO_get_new_index();
    BIO_METHOD *m = type < 0 ? NULL : BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "ws batch");
    BIO_METHOD *r = rtype < 0 ? NULL : BIO_meth_new(rtype | BIO_TYPE_SOURCE_SINK, "ws recv");

    if (m == NULL || r == NULL || BIO_meth_set_write(m, batch_write) != 1 ||
        BIO_meth_set_ctrl(m, batch_ctrl) != 1 || BIO_meth_set_destroy(m, batch_destroy) != 1 ||
        BIO_meth_set_read(r, recv_read) != 1 || BIO_meth_set_ctrl(r, recv_ctrl) != 1 ||
        BIO_meth_set_destroy(r, batch_destroy) != 1) {
        BIO_meth_free(m);
        BIO_meth_free(r);
        m = r = NULL;
    }
    batch_type = type | BIO_TYPE_SOURCE_SINK;
    batch_method = m;
    recv_method = r;
}

/* The session's batching BIO state, or NULL when its writes go straight to a socket BIO (kTLS). */
static struct batch *batch_of(SSL *ssl)
{
    BIO *w = SSL_get_wbio(ssl);

    return w != NULL && batch_method != NULL && BIO_method_type(w) == batch_type ? BIO_get_data(w)
                                                                                 : NULL;
}

/*
 * The two BIOs of a session of t on fd: *wbio writes into fd through the
 * batching layer, *rbio reads from it; they share one struct batch, freed
 * with the second of them. 0, or -1 with neither made.
 */
static int batch_new(struct ws_tls *t, int fd, BIO **rbio, BIO **wbio)
{
    struct batch *b;

    pthread_once(&batch_once, batch_method_init);
    if (batch_method == NULL || (b = calloc(1, sizeof(*b))) == NULL)
        return -1;
    *wbio = BIO_new(batch_method);
    *rbio = BIO_new(recv_method);
    if (*wbio == NULL || *rbio == NULL) {
        BIO_free(*wbio);
        BIO_free(*rbio);
        free(b);
        return -1;
    }
    b->fd = fd;
    b->t = t;
    b->refs = 2;
    BIO_set_data(*wbio, b);
    BIO_set_init(*wbio, 1);
    BIO_set_data(*rbio, b);
    BIO_set_init(*rbio, 1);
    return 0;
}

/* ---- sessions ---- */

SSL *ws_tls_session(struct ws_tls *t, int fd)
{
    SSL_CTX *ctx;
    SSL *ssl;

    ws_mutex_lock(&t->lock);
    ctx = t->current;
    SSL_CTX_up_ref(ctx);
    ws_mutex_unlock(&t->lock);
    ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the session holds its own reference */
    if (ssl == NULL)
        goto fail;
    if (t->ktls) {
        /* kTLS is switched on in OpenSSL's own socket BIO, so it must be the write BIO. */
        if (SSL_set_fd(ssl, fd) != 1) {
            SSL_free(ssl);
            goto fail;
        }
    } else {
        BIO *rbio, *wbio;
        if (batch_new(t, fd, &rbio, &wbio) < 0) {
            SSL_free(ssl);
            goto fail;
        }
        SSL_set_bio(ssl, rbio, wbio); /* the session owns both from now on */
    }
    SSL_set_accept_state(ssl);
    return ssl;

fail:
    ERR_clear_error();
    errno = ENOMEM;
    return NULL;
}

void ws_tls_count_handshake(struct ws_tls *t, const SSL *ssl, int ok)
{
    if (!ok) {
        atomic_fetch_add_explicit(&t->failed, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&t->handshakes, 1, memory_order_relaxed);
    if (SSL_session_reused(ssl))
        atomic_fetch_add_explicit(&t->resumed, 1, memory_order_relaxed);
}

void ws_tls_stats(struct ws_tls *t, struct ws_tls_stats *out)
{
    out->handshakes = atomic_load_explicit(&t->handshakes, memory_order_relaxed);
    out->resumed = atomic_load_explicit(&t->resumed, memory_order_relaxed);
    out->failed = atomic_load_explicit(&t->failed, memory_order_relaxed);
}

const char *ws_tls_describe(struct ws_tls *t)
{
    return t->description;
}

void ws_tls_cork(SSL *ssl, int on)
{
    struct batch *b = batch_of(ssl);

    if (b != NULL)
        b->corked = on;
}

int ws_tls_flush(SSL *ssl)
{
    struct batch *b = batch_of(ssl);

    if (b == NULL || b->start == b->end)
        return 0;
    return batch_send(b) == 0 ? 0 : -errno;
}

size_t ws_tls_unsent(SSL *ssl)
{
    struct batch *b = batch_of(ssl);

    return b != NULL ? b->end - b->start : 0;
}

int ws_tls_blocked(SSL *ssl)
{
    struct batch *b = batch_of(ssl);

    return b != NULL && b->start != b->end && b->full;
}

unsigned ws_tls_recvs(SSL *ssl, int *drained)
{
    const struct batch *b = batch_of(ssl);

    if (b == NULL) {
        *drained = 0;
        return 0;
    }
    *drained = b->drained;
    return b->recvs;
}

/* Frees the batch buffer while it holds no unsent records. */
static void batch_release(struct batch *b)
{
    if (b->start == b->end) {
        free(b->buf);
        b->buf = NULL;
        b->start = b->end = 0;
    }
}

int64_t ws_tls_park(SSL *ssl, int64_t now_ms, int64_t deadline_ms)
{
    int64_t keep_until = now_ms + WS_TLS_KEEP_MS;
    struct batch *b;

    if (ssl == NULL)
        return deadline_ms;
    b = batch_of(ssl);
    if (b == NULL || deadline_ms <= keep_until) {
        ws_tls_idle(ssl);
        return deadline_ms;
    }
    batch_release(b);
    if (!b->kept) {
        if (atomic_fetch_add_explicit(&b->t->kept, 1, memory_order_relaxed) >= WS_TLS_KEEP_MAX) {
            atomic_fetch_sub_explicit(&b->t->kept, 1, memory_order_relaxed);
            ws_tls_idle(ssl);
            return deadline_ms;
        }
        b->kept = 1;
    }
    return keep_until;
}

void ws_tls_idle(SSL *ssl)
{
    struct batch *b;

    if (ssl == NULL)
        return;
    (void)SSL_free_buffers(ssl); /* refused (0) while a buffer holds data: kept then */
    b = batch_of(ssl);
    if (b == NULL)
        return;
    batch_release(b);
    if (b->kept) {
        b->kept = 0;
        atomic_fetch_sub_explicit(&b->t->kept, 1, memory_order_relaxed);
    }
}

unsigned ws__tls_kept(struct ws_tls *t)
{
    return atomic_load_explicit(&t->kept, memory_order_relaxed);
}
