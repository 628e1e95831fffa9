/*
 * server/compress.c - on-the-fly compression and its per-worker cache; see compress.h.
 *
 * DESIGN
 * The cache is its worker's alone: no lock. Slots are direct-mapped by the
 * file's identity and the coding; when a new result would take the cache over
 * its budget, a clock hand frees other slots' results until it fits.
 */
#include "server/compress.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

struct entry {
    char *body; /* NULL when the slot is empty */
    size_t len;
    enum ws_encoding enc;
    int level;
    struct stat st; /* the identity the body was made from */
};

struct ws_compress_cache {
    unsigned slots; /* a power of two */
    size_t budget;
    size_t used;     /* bytes of results held in slots */
    unsigned hand;   /* the next slot to evict for room */
    char *oversized; /* a result larger than the budget, kept until the next call */
    struct entry entries[];
};

struct ws_compress_cache *ws_compress_cache_new(unsigned slots, size_t budget)
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
    return cc;
}

static void clear(struct ws_compress_cache *cc, struct entry *e)
{
    if (e->body != NULL)
        cc->used -= e->len;
    free(e->body);
    memset(e, 0, sizeof(*e));
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

const char *ws_compress_get(struct ws_compress_cache *cc, enum ws_encoding enc, int level,
                            const struct stat *st, const char *mem, int fd, size_t *len, int *hit)
{
    struct entry *e = &cc->entries[slot_index(cc, st, enc)];
    char *contents = NULL, *out;
    size_t size = (size_t)st->st_size;

    free(cc->oversized);
    cc->oversized = NULL;
    *hit = 0;
    if (e->body != NULL && e->enc == enc && e->level == level && same_identity(&e->st, st)) {
        *hit = 1;
        *len = e->len;
        return e->body;
    }
    if (st->st_size < 0 || size > WS_COMPRESS_MAX_FILE)
        return NULL;
    if (mem == NULL) {
        contents = read_whole(fd, size);
        if (contents == NULL)
            return NULL;
        mem = contents;
    }
    out = ws_compress(enc, level, mem, size, len);
    free(contents);
    if (out == NULL)
        return NULL;
    clear(cc, e);
    if (*len > cc->budget) {
        cc->oversized = out;
        return out;
    }
    make_room(cc, *len);
    *e = (struct entry){ out, *len, enc, level, *st };
    cc->used += *len;
    return out;
}
