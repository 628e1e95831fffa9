/*
 * server/auth.c - the --auth-file table, crypt and the per-worker cache; see
 * auth.h (DESIGN there).
 */
#include "server/auth.h"

#include "http/auth.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct entry {
    const char *user; /* both point into table.text, NUL-terminated */
    size_t user_len;
    const char *hash;
};

struct table {
    struct entry *entries;
    unsigned n;
    char *text; /* the file, its ':' and newlines turned into NULs */
};

struct ws_auth {
    char *path;
    pthread_rwlock_t lock; /* guards table and generation */
    struct table *table;
    uint64_t generation;
    unsigned char salt[32]; /* for the cache keys; fixed for the process */
};

struct cache_slot {
    unsigned char key[SHA256_DIGEST_LENGTH];
    int64_t expires; /* monotonic seconds; 0: empty */
    uint64_t generation;
};

struct ws_auth_worker {
    struct crypt_data cd;
    struct cache_slot slots[WS_AUTH_CACHE_SLOTS];
    unsigned next; /* the slot the next success replaces */
    char hash[WS_AUTH_HASH_MAX + 1];
};

static void set_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static void table_free(struct table *t)
{
    if (t == NULL)
        return;
    free(t->entries);
    free(t->text);
    free(t);
}

/* Reads the whole file after checking its type and mode. Returns the text (NUL-ended) or NULL. */
static char *read_file(const char *path, size_t *len_out, char *err, size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *text;
    size_t len = 0;
    ssize_t n;

    if (fd < 0) {
        set_error(err, err_size, "cannot read --auth-file '%s': %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > WS_AUTH_FILE_MAX) {
        set_error(err, err_size, "--auth-file '%s' is not a regular file of at most 4 MiB", path);
        close(fd);
        return NULL;
    }
    if (st.st_mode & (S_IROTH | S_IWGRP | S_IWOTH)) {
        set_error(err, err_size,
                  "--auth-file '%s' is %s by others (mode %04o): make it readable by the "
                  "server's user alone (chmod 600, or 640 with a trusted group)",
                  path, (st.st_mode & S_IROTH) ? "readable" : "writable",
                  (unsigned)(st.st_mode & 07777));
        close(fd);
        return NULL;
    }
    text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        set_error(err, err_size, "--auth-file '%s': out of memory", path);
        close(fd);
        return NULL;
    }
    while (len < (size_t)st.st_size &&
           ((n = read(fd, text + len, (size_t)st.st_size - len)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            len += (size_t)n;
    if (len < (size_t)st.st_size) {
        set_error(err, err_size, "cannot read --auth-file '%s': %s", path,
                  errno ? strerror(errno) : "it shrank while being read");
        free(text);
        close(fd);
        return NULL;
    }
    close(fd);
    text[len] = '\0';
    *len_out = len;
    return text;
}

/* Whether libcrypt computes hashes of hash's kind (it returns NULL or "*..." when not). */
static int crypt_supports(const char *hash, struct crypt_data *cd)
{
    const char *out = crypt_rn("webserver", hash, cd, (int)sizeof(*cd));
    return out != NULL && out[0] == '$';
}

static struct table *table_load(const char *path, char *err, size_t err_size)
{
    struct table *t = calloc(1, sizeof(*t));
    struct crypt_data *cd = NULL;
    size_t len = 0, lines = 1;
    unsigned line_no = 0, tested = 0;
    char *p, *end;

    if (t == NULL || (t->text = read_file(path, &len, err, err_size)) == NULL)
        goto fail;
    for (size_t i = 0; i < len; i++)
        lines += t->text[i] == '\n';
    t->entries = calloc(lines, sizeof(*t->entries));
    cd = calloc(1, sizeof(*cd));
    if (t->entries == NULL || cd == NULL) {
        set_error(err, err_size, "--auth-file '%s': out of memory", path);
        goto fail;
    }
    for (p = t->text, end = t->text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        struct ws_view user, hash;
        enum ws_auth_scheme scheme;
        const char *why = NULL;
        int rc;

        line_no++;
        if (memchr(p, '\0', n) != NULL) {
            set_error(err, err_size, "--auth-file '%s': line %u holds a NUL byte", path, line_no);
            goto fail;
        }
        rc = ws_auth_parse_line(p, n, &user, &hash, &scheme, &why);
        if (rc < 0) {
            set_error(err, err_size, "--auth-file '%s': line %u: %s", path, line_no, why);
            goto fail;
        }
        if (rc > 0) {
            if (hash.len > WS_AUTH_HASH_MAX) {
                set_error(err, err_size, "--auth-file '%s': line %u: the hash is too long", path,
                          line_no);
                goto fail;
            }
            for (unsigned i = 0; i < t->n; i++)
                if (t->entries[i].user_len == user.len &&
                    memcmp(t->entries[i].user, user.ptr, user.len) == 0) {
                    set_error(err, err_size, "--auth-file '%s': line %u: user '%.*s' again", path,
                              line_no, (int)user.len, user.ptr);
                    goto fail;
                }
            t->text[user.ptr - t->text + (ptrdiff_t)user.len] = '\0'; /* the ':' */
            t->text[hash.ptr - t->text + (ptrdiff_t)hash.len] = '\0'; /* a CR or newline */
            t->entries[t->n++] = (struct entry){ user.ptr, user.len, hash.ptr };
            if (!(tested & (1u << scheme))) {
                if (!crypt_supports(hash.ptr, cd)) {
                    set_error(err, err_size,
                              "--auth-file '%s': line %u: this system's libcrypt cannot check "
                              "this kind of hash",
                              path, line_no);
                    goto fail;
                }
                tested |= 1u << scheme;
            }
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (t->n == 0) {
        set_error(err, err_size, "--auth-file '%s' holds no user", path);
        goto fail;
    }
    free(cd);
    return t;

fail:
    free(cd);
    table_free(t);
    return NULL;
}

struct ws_auth *ws_auth_load(const char *path, char *err, size_t err_size)
{
    struct ws_auth *a = calloc(1, sizeof(*a));

    if (a == NULL || (a->path = strdup(path)) == NULL) {
        set_error(err, err_size, "out of memory");
        free(a);
        return NULL;
    }
    a->table = table_load(path, err, err_size);
    if (a->table == NULL || RAND_bytes(a->salt, sizeof(a->salt)) != 1) {
        if (a->table != NULL)
            set_error(err, err_size, "no random bytes for the --auth-file cache");
        table_free(a->table);
        free(a->path);
        free(a);
        return NULL;
    }
    pthread_rwlock_init(&a->lock, NULL);
    return a;
}

static void wrlock(struct ws_auth *a)
{
    if (pthread_rwlock_wrlock(&a->lock) != 0)
        abort();
}

static void rdlock(struct ws_auth *a)
{
    if (pthread_rwlock_rdlock(&a->lock) != 0)
        abort();
}

static void unlock(struct ws_auth *a)
{
    if (pthread_rwlock_unlock(&a->lock) != 0)
        abort();
}

int ws_auth_reload(struct ws_auth *a, char *err, size_t err_size)
{
    struct table *t = table_load(a->path, err, err_size), *old;

    if (t == NULL)
        return -1;
    wrlock(a);
    old = a->table;
    a->table = t;
    a->generation++;
    unlock(a);
    table_free(old);
    return 0;
}

unsigned ws_auth_users(struct ws_auth *a)
{
    unsigned n;

    rdlock(a);
    n = a->table->n;
    unlock(a);
    return n;
}

void ws_auth_free(struct ws_auth *a)
{
    if (a == NULL)
        return;
    pthread_rwlock_destroy(&a->lock);
    table_free(a->table);
    free(a->path);
    free(a);
}

struct ws_auth_worker *ws_auth_worker_new(void)
{
    return calloc(1, sizeof(struct ws_auth_worker));
}

void ws_auth_worker_free(struct ws_auth_worker *w)
{
    if (w != NULL)
        explicit_bzero(w, sizeof(*w));
    free(w);
}

static int64_t now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec + 1; /* never 0, the empty slot's mark */
}

/* The cache key of the exact credentials: SHA-256 of salt, user, ':' and password. */
static void cache_key(const struct ws_auth *a, struct ws_view user, struct ws_view pass,
                      unsigned char *key)
{
    unsigned char buf[sizeof(a->salt) + WS_AUTH_CRED_MAX + 2];
    size_t n = sizeof(a->salt);

    memcpy(buf, a->salt, n);
    if (user.len + pass.len + 1 > WS_AUTH_CRED_MAX) {
        memset(key, 0, SHA256_DIGEST_LENGTH); /* cannot come from ws_auth_parse_basic */
        return;
    }
    memcpy(buf + n, user.ptr, user.len);
    n += user.len;
    buf[n++] = ':';
    memcpy(buf + n, pass.ptr, pass.len);
    n += pass.len;
    SHA256(buf, n, key);
    explicit_bzero(buf, n);
}

/*
 * The user whose hash an unknown name is checked against, chosen by a keyed
 * hash of the name: users' hashes may differ in cost (bcrypt's, SHA-crypt's
 * rounds), and an unknown name that always cost the first user's time would
 * stand out. So a name costs the same each time, and unknown names spread
 * over the users' costs as the users do. The key (the process's salt) keeps
 * which user a name maps to unpredictable.
 */
static unsigned decoy(const struct ws_auth *a, struct ws_view user)
{
    unsigned char buf[sizeof(a->salt) + WS_AUTH_CRED_MAX], md[SHA256_DIGEST_LENGTH];
    size_t n = user.len < WS_AUTH_CRED_MAX ? user.len : WS_AUTH_CRED_MAX;
    uint32_t h;

    memcpy(buf, a->salt, sizeof(a->salt));
    memcpy(buf + sizeof(a->salt), user.ptr, n);
    SHA256(buf, sizeof(a->salt) + n, md);
    memcpy(&h, md, sizeof(h));
    return h % a->table->n;
}

int ws_auth_verify(struct ws_auth *a, struct ws_auth_worker *w, struct ws_view user,
                   struct ws_view pass)
{
    unsigned char key[SHA256_DIGEST_LENGTH];
    int64_t now = now_seconds();
    uint64_t generation;
    int found = 0, ok;
    const char *out;
    size_t hlen;

    cache_key(a, user, pass, key);
    rdlock(a);
    generation = a->generation;
    for (unsigned i = 0; i < a->table->n; i++) {
        const struct entry *e = &a->table->entries[i];
        if (!found && e->user_len == user.len && memcmp(e->user, user.ptr, user.len) == 0) {
            found = 1;
            snprintf(w->hash, sizeof(w->hash), "%s", e->hash);
        }
    }
    if (!found) /* a user's hash: the same work, and a result that is ignored */
        snprintf(w->hash, sizeof(w->hash), "%s", a->table->entries[decoy(a, user)].hash);
    unlock(a);

    if (found)
        for (unsigned i = 0; i < WS_AUTH_CACHE_SLOTS; i++) {
            const struct cache_slot *s = &w->slots[i];
            if (s->expires > now && s->generation == generation &&
                CRYPTO_memcmp(s->key, key, sizeof(key)) == 0)
                return 1;
        }

    out = crypt_rn(pass.ptr, w->hash, &w->cd, (int)sizeof(w->cd));
    hlen = strlen(w->hash);
    ok = out != NULL && strlen(out) == hlen && CRYPTO_memcmp(out, w->hash, hlen) == 0;
    ok &= found;
    explicit_bzero(&w->cd, sizeof(w->cd.output) + sizeof(w->cd.setting));
    if (ok) {
        struct cache_slot *s = &w->slots[w->next];
        w->next = (w->next + 1) % WS_AUTH_CACHE_SLOTS;
        memcpy(s->key, key, sizeof(key));
        s->expires = now + WS_AUTH_CACHE_SECS;
        s->generation = generation;
    }
    return ok;
}
