/*
 * server/compress.c - on-the-fly compression and its per-worker cache; see compress.h.
 *
 * DESIGN
 * The cache is its worker's alone: no lock. Slots are direct-mapped by the
 * file's identity and the coding; when a new result would take the cache over
 * its budget, a clock hand frees other slots' results until it fits. A
 * result is a malloc'd block, or (above mem_max) a sealed memfd of which each
 * response gets a descriptor of its own.
 */
#include "server/compress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

struct entry {
    char *body; /* the result in memory, or NULL */
    int fd;     /* or in this sealed memfd; -1 when neither: the slot is empty */
    size_t len;
    enum ws_encoding enc;
    int level;
    struct stat st; /* the identity the result was made from */
};

struct ws_compress_cache {
    unsigned slots; /* a power of two */
    size_t budget;
    size_t mem_max;             /* results up to this size stay in memory, larger go to a memfd */
    size_t used;                /* bytes of results held in slots */
    unsigned hand;              /* the next slot to evict for room */
    char *oversized;            /* a result larger than the budget, in memory until the next call */
    atomic_ullong hits, misses; /* ws_compress_get calls, for the metrics (any thread reads) */
    struct entry entries[];
};

struct ws_compress_cache *ws_compress_cache_new(unsigned slots, size_t budget, size_t mem_max)
{
    struct ws_compress_cache *cc;
    unsigned n = 1;

    while (n < slots && n < (1u << 16))
        n <<= 1;
    cc = calloc(1, sizeof(*cc) + n * sizeof(cc->entries[0]));
    if (cc == NULL)
        return NULL;
    cc->slots = n;
    cc->budget = budget;
    cc->mem_max = mem_max;
    for (unsigned i = 0; i < n; i++)
        cc->entries[i].fd = -1;
    return cc;
}

static int occupied(const struct entry *e)
{
    return e->body != NULL || e->fd >= 0;
}

static void clear(struct ws_compress_cache *cc, struct entry *e)
{
    if (occupied(e))
        cc->used -= e->len;
    free(e->body);
    if (e->fd >= 0)
        close(e->fd);
    memset(e, 0, sizeof(*e));
    e->fd = -1;
}

void ws_compress_cache_free(struct ws_compress_cache *cc)
{
    if (cc == NULL)
        return;
    for (unsigned i = 0; i < cc->slots; i++)
        clear(cc, &cc->entries[i]);
    free(cc->oversized);
    free(cc);
}

static int same_identity(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static unsigned slot_index(const struct ws_compress_cache *cc, const struct stat *st,
                           enum ws_encoding enc)
{
    uint64_t h = (uint64_t)st->st_ino * 0x9e3779b97f4a7c15ULL;

    h ^= (uint64_t)st->st_dev + 0x632be59bd9b4e019ULL + (h << 6) + (h >> 2);
    h ^= (uint64_t)enc * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    return (unsigned)(h & (cc->slots - 1));
}

static char *deflate_gzip(int level, const char *in, size_t in_len, size_t *out_len)
{
    z_stream zs;
    char *out;
    uLong bound;

    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16: a gzip wrapper (RFC 1952), as Content-Encoding: gzip needs. */
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    bound = deflateBound(&zs, (uLong)in_len);
    out = malloc(bound);
    if (out == NULL) {
        deflateEnd(&zs);
        return NULL;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)bound;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&zs);
        free(out);
        return NULL;
    }
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static char *compress_zstd(int level, const char *in, size_t in_len, size_t *out_len)
{
    size_t bound = ZSTD_compressBound(in_len), n;
    char *out = malloc(bound);

    if (out == NULL)
        return NULL;
    n = ZSTD_compress(out, bound, in, in_len, level);
    if (ZSTD_isError(n)) {
        free(out);
        return NULL;
    }
    *out_len = n;
    return out;
}

char *ws_compress(enum ws_encoding enc, int level, const char *in, size_t in_len, size_t *out_len)
{
    char *out = NULL, *shrunk;

    if (in_len > WS_COMPRESS_MAX_FILE)
        return NULL;
    if (enc == WS_ENC_GZIP)
        out = deflate_gzip(level, in, in_len, out_len);
    else if (enc == WS_ENC_ZSTD)
        out = compress_zstd(level, in, in_len, out_len);
    if (out == NULL)
        return NULL;
    /* Give back what the bound reserved beyond the result; keep the larger block on failure. */
    shrunk = realloc(out, *out_len > 0 ? *out_len : 1);
    return shrunk != NULL ? shrunk : out;
}

/* Reads the whole file from fd into a new buffer, or NULL if it is not st_size bytes now. */
static char *read_whole(int fd, size_t size)
{
    char *buf = malloc(size > 0 ? size : 1);
    size_t got = 0;

    if (buf == NULL)
        return NULL;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    return buf;
}

/* Makes room for len more bytes of results, evicting other slots from the clock hand on. */
static void make_room(struct ws_compress_cache *cc, size_t len)
{
    for (unsigned tries = 0; cc->used + len > cc->budget && tries < cc->slots; tries++) {
        clear(cc, &cc->entries[cc->hand]);
        cc->hand = (cc->hand + 1) & (cc->slots - 1);
    }
}

/*
 * A sealed memfd holding data (len bytes): nobody can change it, so every
 * descriptor of it reads the same bytes. -1 when memfds are refused (an old
 * kernel, a seccomp filter) or memory is short.
 */
static int sealed_memfd(const char *data, size_t len)
{
    int fd = memfd_create("ws-compressed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    size_t done = 0;

    if (fd < 0)
        return -1;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* What an entry (or a result not kept) gives the caller: its memory, or a descriptor of its own. */
static int hand_out(const char *body, int fd, size_t len, struct ws_compressed *out)
{
    out->len = len;
    out->mem = body;
    out->fd = -1;
    if (body != NULL)
        return 0;
    out->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return out->fd >= 0 ? 0 : -1;
}

void ws_compress_cache_counts(struct ws_compress_cache *cc, uint64_t *hits, uint64_t *misses)
{
    *hits = atomic_load_explicit(&cc->hits, memory_order_relaxed);
    *misses = atomic_load_explicit(&cc->misses, memory_order_relaxed);
}

int ws_compress_get(struct ws_compress_cache *cc, enum ws_encoding enc, int level,
                    const struct stat *st, const char *mem, int fd, struct ws_compressed *out)
{
    struct entry *e = &cc->entries[slot_index(cc, st, enc)];
    char *contents = NULL, *body;
    size_t size = (size_t)st->st_size, len;
    int body_fd = -1, rc;

    free(cc->oversized);
    cc->oversized = NULL;
    out->hit = 0;
    if (occupied(e) && e->enc == enc && e->level == level && same_identity(&e->st, st)) {
        out->hit = 1;
        atomic_fetch_add_explicit(&cc->hits, 1, memory_order_relaxed);
        return hand_out(e->body, e->fd, e->len, out);
    }
    atomic_fetch_add_explicit(&cc->misses, 1, memory_order_relaxed);
    if (st->st_size < 0 || size > WS_COMPRESS_MAX_FILE)
        return -1;
    if (mem == NULL) {
        contents = read_whole(fd, size);
        if (contents == NULL)
            return -1;
        mem = contents;
    }
    body = ws_compress(enc, level, mem, size, &len);
    free(contents);
    if (body == NULL)
        return -1;
    if (len > cc->mem_max) {
        body_fd = sealed_memfd(body, len);
        if (body_fd >= 0) {
            free(body);
            body = NULL;
        }
    }
    clear(cc, e);
    if (len > cc->budget) {
        /* Not kept: this request's alone. */
        if (body_fd < 0) {
            cc->oversized = body;
            return hand_out(body, -1, len, out);
        }
        out->len = len;
        out->mem = NULL;
        out->fd = body_fd;
        return 0;
    }
    make_room(cc, len);
    *e = (struct entry){ body, body_fd, len, enc, level, *st };
    cc->used += len;
    rc = hand_out(body, body_fd, len, out);
    return rc;
}
