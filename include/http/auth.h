/*
 * http/auth.h - Basic authentication (RFC 7617), the pure half: which paths
 * are protected (--auth-path), the challenge (--auth-realm), the Authorization
 * field's syntax and base64, and the syntax of an htpasswd line. Pure and
 * thread-safe. Checking a password against a hash needs libcrypt and lives in
 * the runtime (server/auth.h).
 *
 * A struct ws_auth_policy is filled from the command line at start-up, then
 * only read. Its strings live in the struct itself; copy it with memcpy and
 * ws_auth_policy_fix (which points the copy's prefixes into its own text).
 */
#ifndef WS_HTTP_AUTH_H
#define WS_HTTP_AUTH_H

#include "http/request_parser.h"

#include <stddef.h>

#define WS_AUTH_PATHS_MAX     16   /* --auth-path prefixes */
#define WS_AUTH_TEXT_MAX      2048 /* bytes of the prefixes together */
#define WS_AUTH_REALM_MAX     128  /* --auth-realm */
#define WS_AUTH_CRED_MAX      1024 /* longest decoded "user:password" accepted */
#define WS_AUTH_DEFAULT_REALM "webserver"

struct ws_auth_policy {
    const char *paths[WS_AUTH_PATHS_MAX]; /* --auth-path prefixes; none: the whole site */
    unsigned n_paths;
    char realm[WS_AUTH_REALM_MAX + 1];      /* "" until set: WS_AUTH_DEFAULT_REALM */
    char challenge[WS_AUTH_REALM_MAX + 40]; /* the WWW-Authenticate value */
    char text[WS_AUTH_TEXT_MAX];            /* the prefixes point here */
    size_t text_used;
};

/* Points a memcpy'd policy's prefixes into its own text (src is the original). */
void ws_auth_policy_fix(struct ws_auth_policy *dst, const struct ws_auth_policy *src);

/*
 * Adds a protected path prefix: it must start with '/', be a normalised path
 * (no ".", "..", empty segment, '%', '?' or '#', no control byte); a trailing
 * '/' is added when missing, so "/private" protects "/private" and everything
 * under "/private/" but not "/privateer". Returns 0, or -1 with *why set to a
 * static message.
 */
int ws_auth_add_path(struct ws_auth_policy *p, const char *prefix, const char **why);

/*
 * Sets the realm: 1 to WS_AUTH_REALM_MAX bytes of printable ASCII or UTF-8,
 * without '"' or '\' (so it needs no quoting). Returns 0, or -1 with *why set.
 */
int ws_auth_set_realm(struct ws_auth_policy *p, const char *realm, const char **why);

/* Fills p->challenge from the realm (the default one when unset). Call once all options are in. */
void ws_auth_finish(struct ws_auth_policy *p);

/*
 * Whether a request path (as sent, with its escapes) needs credentials:
 * every path without --auth-path; otherwise a path whose percent-decoded,
 * dot-resolved form is under one of the prefixes, or is one without its
 * trailing slash. A path that cannot be normalised is protected (it is
 * refused later anyway, and must not slip past the prefix test). scratch
 * holds at least len + 2 bytes.
 */
int ws_auth_protects(const struct ws_auth_policy *p, const char *path, size_t len, char *scratch,
                     size_t scratch_size);

/*
 * Decodes standard base64 (RFC 4648 §4, padded to a multiple of four) of
 * in[0..len) into out (out_size bytes). Returns the decoded length, or -1 for
 * a byte outside the alphabet, bad padding or an output that does not fit.
 */
long ws_base64_decode(const char *in, size_t len, unsigned char *out, size_t out_size);

/*
 * Parses the request's Authorization field as Basic credentials: exactly one
 * field, scheme "Basic" (any case), one or more spaces, base64 of
 * "user:password" and optional trailing whitespace. The decoded bytes go to
 * buf (WS_AUTH_CRED_MAX + 1 bytes); *user and *pass point into it. The
 * user-id may not contain ':' (the first ':' ends it) and neither part may
 * hold a control byte (RFC 7617 §2). Returns 1 with credentials, 0 when
 * there is no Authorization field, -1 when it is malformed.
 */
int ws_auth_parse_basic(const struct ws_request *req, char *buf, struct ws_view *user,
                        struct ws_view *pass);

/* The password hash schemes of an htpasswd line. */
enum ws_auth_scheme {
    WS_AUTH_BCRYPT,   /* $2y$, $2b$, $2a$ */
    WS_AUTH_SHA256,   /* $5$ */
    WS_AUTH_SHA512,   /* $6$ */
    WS_AUTH_YESCRYPT, /* $y$ */
};

/*
 * Parses one line of an htpasswd file (line[0..len), without its newline; a
 * trailing CR is ignored). Returns 0 for a blank line or a '#' comment, 1 with
 * *user, *hash and *scheme set for "user:hash", or -1 with *why set to a
 * static message: no ':', an empty user, a user with a control byte, or a
 * hash that is not one of the schemes above (a plain-text password, DES
 * crypt, MD5 crypt ($1$, $apr1$) or {SHA} are refused by name).
 */
int ws_auth_parse_line(const char *line, size_t len, struct ws_view *user, struct ws_view *hash,
                       enum ws_auth_scheme *scheme, const char **why);

#endif
