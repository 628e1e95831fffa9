/*
 * fuzz_cert.h - a throw-away certificate for the fuzz targets that make a
 * server-side TLS session (fuzz_tls.c, fuzz_h2.c): made in memory at start,
 * written as PEM files because ws_tls_new reads files. Never committed.
 */
#ifndef WS_FUZZ_CERT_H
#define WS_FUZZ_CERT_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "server/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A self-signed P-256 certificate for "fuzz.test", written as PEM to dir. */
static inline int make_pair(const char *dir, char *cert_path, char *key_path, size_t size)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *f;
    int ok = key != NULL && x != NULL;

    if (ok) {
        X509_NAME *name = X509_get_subject_name(x);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 86400);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz.test", -1,
                                   -1, 0);
        X509_set_issuer_name(x, name);
        X509_set_pubkey(x, key);
        ok = X509_sign(x, key, EVP_sha256()) > 0;
    }
    snprintf(cert_path, size, "%s/cert.pem", dir);
    snprintf(key_path, size, "%s/key.pem", dir);
    if (ok && (f = fopen(cert_path, "w")) != NULL) {
        ok = PEM_write_X509(f, x);
        fclose(f);
    } else {
        ok = 0;
    }
    if (ok && (f = fopen(key_path, "w")) != NULL) {
        ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
        fclose(f);
    } else {
        ok = 0;
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

/*
 * A server-side TLS set (ALPN h2 and http/1.1) over a throw-away pair made in
 * a temporary directory (removed again); aborts, naming who, if it cannot.
 */
static inline struct ws_tls *fuzz_tls_server(const char *who)
{
    char dir[] = "/tmp/ws-fuzz-tls-XXXXXX", cert[64], key[64], err[256];
    struct ws_tls_pair pair;
    struct ws_tls_config cfg = { &pair, 1, 12, 1 };
    struct ws_tls *t;

    if (mkdtemp(dir) == NULL || make_pair(dir, cert, key, sizeof(cert)) < 0)
        abort();
    pair = (struct ws_tls_pair){ cert, key };
    t = ws_tls_new(&cfg, err, sizeof(err));
    unlink(cert);
    unlink(key);
    rmdir(dir);
    if (t == NULL) {
        fprintf(stderr, "%s: %s\n", who, err);
        abort();
    }
    return t;
}

#endif
