/*
 * http/auth.c - Basic authentication's syntax and paths; see auth.h.
 */
#include "http/auth.h"

#include "http/fields.h"
#include "http/path.h"

#include <stdio.h>
#include <string.h>

void ws_auth_policy_fix(struct ws_auth_policy *dst, const struct ws_auth_policy *src)
{
    for (unsigned i = 0; i < src->n_paths; i++)
        dst->paths[i] = dst->text + (src->paths[i] - src->text);
}

int ws_auth_add_path(struct ws_auth_policy *p, const char *prefix, const char **why)
{
    size_t len = strlen(prefix), need;
    char norm[WS_AUTH_TEXT_MAX];
    size_t norm_len;
    int is_dir;

    if (prefix[0] != '/') {
        *why = "it must start with '/'";
        return -1;
    }
    for (const char *c = prefix; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '%' || *c == '?' || *c == '#') {
            *why = "it must be a plain path (no '%', '?', '#' or control byte)";
            return -1;
        }
    if (len >= sizeof(norm) ||
        ws_path_normalize(prefix, len, norm, sizeof(norm), &norm_len, &is_dir) != 0 ||
        norm_len + 1 + (len > 1 && prefix[len - 1] == '/') != len) {
        *why = "it must be a normalised path (no '.', '..' or empty segment)";
        return -1;
    }
    if (p->n_paths == WS_AUTH_PATHS_MAX) {
        *why = "too many --auth-path options (16 at most)";
        return -1;
    }
    need = norm_len + 3; /* '/', the path, '/' and the NUL */
    if (need > sizeof(p->text) - p->text_used) {
        *why = "the --auth-path options are too long together";
        return -1;
    }
    p->paths[p->n_paths] = p->text + p->text_used;
    p->text[p->text_used++] = '/';
    memcpy(p->text + p->text_used, norm, norm_len);
    p->text_used += norm_len;
    if (norm_len > 0)
        p->text[p->text_used++] = '/';
    p->text[p->text_used++] = '\0';
    p->n_paths++;
    return 0;
}

int ws_auth_set_realm(struct ws_auth_policy *p, const char *realm, const char **why)
{
    size_t len = strlen(realm);

    if (len == 0 || len > WS_AUTH_REALM_MAX) {
        *why = "it must be 1 to 128 bytes long";
        return -1;
    }
    for (const char *c = realm; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\') {
            *why = "it may not hold '\"', '\\' or a control byte";
            return -1;
        }
    memcpy(p->realm, realm, len + 1);
    return 0;
}

void ws_auth_finish(struct ws_auth_policy *p)
{
    snprintf(p->challenge, sizeof(p->challenge), "Basic realm=\"%s\", charset=\"UTF-8\"",
             p->realm[0] != '\0' ? p->realm : WS_AUTH_DEFAULT_REALM);
}

int ws_auth_protects(const struct ws_auth_policy *p, const char *path, size_t len, char *scratch,
                     size_t scratch_size)
{
    size_t n;
    int is_dir;

    if (p->n_paths == 0)
        return 1;
    if (len == 0 || path[0] != '/' || scratch_size < len + 2 ||
        ws_path_normalize(path, len, scratch + 1, scratch_size - 2, &n, &is_dir) != 0)
        return 1;
    scratch[0] = '/';
    scratch[1 + n] = '/'; /* compare "/a/b" as "/a/b/", so a prefix "/a/b/" covers it */
    n += 2;
    for (unsigned i = 0; i < p->n_paths; i++) {
        size_t plen = strlen(p->paths[i]);
        if (plen <= n && memcmp(scratch, p->paths[i], plen) == 0)
            return 1;
    }
    return 0;
}

/* The value of a base64 digit, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long ws_base64_decode(const char *in, size_t len, unsigned char *out, size_t out_size)
{
    size_t n = 0;

    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        unsigned long bits;
        for (int k = 0; k < 4; k++) {
            if (in[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad > 0 || (v[k] = b64_value((unsigned char)in[i + k])) < 0) {
                return -1; /* a digit after '=', or not a digit */
            }
        }
        bits = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 | (unsigned long)v[2] << 6 |
               (unsigned long)v[3];
        if (n + 3 - (size_t)pad > out_size)
            return -1;
        out[n++] = (unsigned char)(bits >> 16);
        if (pad < 2)
            out[n++] = (unsigned char)(bits >> 8);
        if (pad < 1)
            out[n++] = (unsigned char)bits;
    }
    return (long)n;
}

static int has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

int ws_auth_parse_basic(const struct ws_request *req, char *buf, struct ws_view *user,
                        struct ws_view *pass)
{
    const struct ws_header *h = ws_request_only_header(req, "authorization");
    const char *v, *end, *colon;
    size_t len;
    long n;

    if (h == NULL)
        return ws_request_header(req, "authorization") == NULL ? 0 : -1; /* repeated: malformed */
    v = h->value.ptr;
    len = h->value.len;
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len < 6 || !ws_view_eq_nocase((struct ws_view){ v, 5 }, "basic") || v[5] != ' ')
        return -1;
    end = v + len;
    v += 5;
    while (v < end && *v == ' ')
        v++;
    n = ws_base64_decode(v, (size_t)(end - v), (unsigned char *)buf, WS_AUTH_CRED_MAX);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    colon = memchr(buf, ':', (size_t)n);
    if (colon == NULL || has_control(buf, (size_t)n))
        return -1;
    *user = (struct ws_view){ buf, (size_t)(colon - buf) };
    *pass = (struct ws_view){ colon + 1, (size_t)(buf + n - colon - 1) };
    return 1;
}

/* Whether s[0..len) holds only the characters of crypt's salt and hash alphabet. */
static int crypt_alphabet(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '/'))
            return 0;
    return 1;
}

static int starts(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* The scheme of a hash, or -1 with *why set. */
static int hash_scheme(const char *h, size_t len, const char **why)
{
    if (starts(h, len, "$2y$") || starts(h, len, "$2b$") || starts(h, len, "$2a$")) {
        /* "$2y$" cost "$" then 53 characters of salt and hash. */
        if (len == 60 && h[4] >= '0' && h[4] <= '3' && h[5] >= '0' && h[5] <= '9' && h[6] == '$' &&
            crypt_alphabet(h + 7, 53))
            return WS_AUTH_BCRYPT;
        *why = "a malformed bcrypt hash";
        return -1;
    }
    if (starts(h, len, "$5$") || starts(h, len, "$6$") || starts(h, len, "$y$")) {
        const char *last = h + len;
        while (last > h && last[-1] != '$')
            last--;
        if (last - h > 3 && last < h + len && crypt_alphabet(last, (size_t)(h + len - last)))
            return h[1] == '5' ? WS_AUTH_SHA256 : h[1] == '6' ? WS_AUTH_SHA512 : WS_AUTH_YESCRYPT;
        *why = "a malformed crypt hash";
        return -1;
    }
    if (starts(h, len, "$1$") || starts(h, len, "$apr1$"))
        *why = "an MD5 crypt hash ($1$, $apr1$), which is too weak: use bcrypt "
               "(htpasswd -B) or SHA-512 crypt (openssl passwd -6)";
    else if (starts(h, len, "{SHA}"))
        *why = "an unsalted {SHA} hash, which is too weak: use bcrypt (htpasswd -B) or "
               "SHA-512 crypt (openssl passwd -6)";
    else if (len > 0 && h[0] == '$')
        *why = "an unsupported hash scheme (bcrypt $2y$/$2b$, SHA-crypt $5$/$6$ and "
               "yescrypt $y$ are supported)";
    else if (len == 13 && crypt_alphabet(h, len))
        *why = "a DES crypt hash, which is too weak: use bcrypt (htpasswd -B) or "
               "SHA-512 crypt (openssl passwd -6)";
    else
        *why = "a plain-text password, not a hash: use bcrypt (htpasswd -B) or "
               "SHA-512 crypt (openssl passwd -6)";
    return -1;
}

int ws_auth_parse_line(const char *line, size_t len, struct ws_view *user, struct ws_view *hash,
                       enum ws_auth_scheme *scheme, const char **why)
{
    const char *colon;
    size_t i = 0;
    int s;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len || line[i] == '#')
        return 0;
    colon = memchr(line, ':', len);
    if (colon == NULL) {
        *why = "no ':' between the user and the hash";
        return -1;
    }
    *user = (struct ws_view){ line, (size_t)(colon - line) };
    *hash = (struct ws_view){ colon + 1, (size_t)(line + len - colon - 1) };
    if (user->len == 0) {
        *why = "an empty user name";
        return -1;
    }
    if (has_control(user->ptr, user->len)) {
        *why = "a control byte in the user name";
        return -1;
    }
    s = hash_scheme(hash->ptr, hash->len, why);
    if (s < 0)
        return -1;
    *scheme = (enum ws_auth_scheme)s;
    return 1;
}
