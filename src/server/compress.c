/*
 * server/compress.c - on-the-fly compression and its per-worker cache; see compress.h.
 *
 * DESIGN
 * The cache is its worker's alone: no lock. Slots are direct-mapped by the
 * file's identity and the coding; when a new result would take the cache over
 * its budget, a clock hand frees other slots' results until it fits. A
 * result is a malloc'd block, or (above mem_max) a sealed memfd of which each
 * response gets a descriptor of its own.
 *
 * A job compresses a large file with the streaming interfaces of zlib and
 * zstd, ws_compress_step bytes of input per step (fewer at slow levels), into a memfd it seals at
 * the end, after checking that the file's identity did not change while it
 * ran.
 *
 * The store is the second level: a direct-mapped table like a worker's cache,
 * under a mutex, holding every result (small ones in memory, large ones in
 * memfds) so that a file is compressed once for all the workers. A worker
 * asks it only when its own cache misses, and keeps a copy (or a descriptor)
 * of what it finds, so the store's lock is taken about once per result and
 * worker, not per request.
 */
#include "server/compress.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* What same_identity compares, without the rest of a struct stat (the store has many slots). */
struct identity {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim, ctim;
};

struct stored {
    char *body; /* the result in memory, or NULL */
    int fd1;    /* or in the sealed memfd fd1 - 1; 0 when neither: the slot is empty (so a
                   slot never used is all zeros, and its page is never touched) */
    int level;
    size_t len;
    enum ws_encoding enc;
    struct identity id;
};

struct ws_compress_store {
    pthread_mutex_t lock;
    unsigned slots; /* a power of two */
    unsigned hand;  /* the next slot to evict for room */
    size_t budget, used;
    unsigned jobs;                                       /* running */
    const struct ws_compress_job *job[WS_COMPRESS_JOBS]; /* ... these, in no order */
    struct stored entries[];
};

struct ws_compress_job {
    struct ws_compress_store *store;
    enum ws_encoding enc;
    int level;
    struct stat st; /* the identity of the file when the job began */
    int in_fd;      /* the file: a descriptor of the job's own */
    int out_fd;     /* the result being written: a memfd */
    int64_t in_off; /* input compressed so far */
    size_t out_len;
    int state; /* 0 running, 1 done, -1 failed */
    z_stream zs;
    ZSTD_CCtx *zc;
    size_t step;    /* input bytes per step (ws_compress_step) */
    char *in, *out; /* step and JOB_OUT bytes */
};

#define JOB_OUT (64 * 1024)

struct ws_compress_cache {
    struct ws_compress_store *store; /* shared, or NULL */
    unsigned slots;                  /* a power of two */
    size_t budget;
    size_t mem_max;             /* results up to this size stay in memory, larger go to a memfd */
    size_t used;                /* bytes of results held in slots */
    unsigned hand;              /* the next slot to evict for room */
    char *oversized;            /* a result larger than the budget, in memory until the next call */
    atomic_ullong hits, misses; /* ws_compress_get calls, for the metrics (any thread reads) */
    struct entry entries[];
};

struct ws_compress_cache *ws_compress_cache_new(unsigned slots, size_t budget, size_t mem_max,
                                                struct ws_compress_store *store)
{
    struct ws_compress_cache *cc;
    unsigned n = 1;

    while (n < slots && n < (1u << 16))
        n <<= 1;
    cc = calloc(1, sizeof(*cc) + n * sizeof(cc->entries[0]));
    if (cc == NULL)
        return NULL;
    cc->store = store;
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

static uint64_t hash_identity(const struct stat *st, enum ws_encoding enc)
{
    uint64_t h = (uint64_t)st->st_ino * 0x9e3779b97f4a7c15ULL;

    h ^= (uint64_t)st->st_dev + 0x632be59bd9b4e019ULL + (h << 6) + (h >> 2);
    h ^= (uint64_t)enc * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    return h;
}

static unsigned slot_index(const struct ws_compress_cache *cc, const struct stat *st,
                           enum ws_encoding enc)
{
    return (unsigned)(hash_identity(st, enc) & (cc->slots - 1));
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

size_t ws_compress_step(enum ws_encoding enc, int level)
{
    /* Measured on text: gzip 9 and zstd 19 code 3-4 and 2-3 MB/s, zstd 3 over 200. */
    if (enc == WS_ENC_GZIP)
        return level <= 6 ? WS_COMPRESS_STEP : WS_COMPRESS_STEP / 4;
    return level <= 9    ? WS_COMPRESS_STEP
           : level <= 15 ? WS_COMPRESS_STEP / 4
                         : WS_COMPRESS_STEP / 16;
}

char *ws_compress(enum ws_encoding enc, int level, const char *in, size_t in_len, size_t *out_len)
{
    char *out = NULL, *shrunk;

    if (in_len > WS_COMPRESS_ONE_GO)
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

/* --- the store: every worker's second level ------------------------------------- */

struct ws_compress_store *ws_compress_store_new(unsigned slots, size_t budget)
{
    struct ws_compress_store *st;
    unsigned n = 1;

    while (n < slots && n < (1u << 20))
        n <<= 1;
    st = calloc(1, sizeof(*st) + n * sizeof(st->entries[0]));
    if (st == NULL)
        return NULL;
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        errno = ENOMEM;
        return NULL;
    }
    st->slots = n;
    st->budget = budget;
    return st;
}

static void store_clear(struct ws_compress_store *st, struct stored *e)
{
    if (e->body != NULL || e->fd1 > 0)
        st->used -= e->len;
    free(e->body);
    if (e->fd1 > 0)
        close(e->fd1 - 1);
    memset(e, 0, sizeof(*e));
}

void ws_compress_store_free(struct ws_compress_store *st)
{
    if (st == NULL)
        return;
    for (unsigned i = 0; i < st->slots; i++)
        if (st->entries[i].body != NULL || st->entries[i].fd1 > 0)
            store_clear(st, &st->entries[i]);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static struct identity identity_of(const struct stat *st)
{
    return (struct identity){ st->st_dev, st->st_ino, st->st_size, st->st_mtim, st->st_ctim };
}

static int stored_is(const struct stored *e, enum ws_encoding enc, int level, const struct stat *st)
{
    const struct identity *a = &e->id;

    return (e->body != NULL || e->fd1 > 0) && e->enc == enc && e->level == level &&
           a->dev == st->st_dev && a->ino == st->st_ino && a->size == st->st_size &&
           a->mtim.tv_sec == st->st_mtim.tv_sec && a->mtim.tv_nsec == st->st_mtim.tv_nsec &&
           a->ctim.tv_sec == st->st_ctim.tv_sec && a->ctim.tv_nsec == st->st_ctim.tv_nsec;
}

static struct stored *store_slot(struct ws_compress_store *st, enum ws_encoding enc,
                                 const struct stat *id)
{
    return &st->entries[hash_identity(id, enc) & (st->slots - 1)];
}

/*
 * The stored result for this file, coding and level, as a copy of its bytes
 * (*body, malloc'd) or a descriptor of its own (*fd), *len bytes. 0, or -1
 * when the store has none (or memory or descriptors are short).
 */
static int store_find(struct ws_compress_store *st, enum ws_encoding enc, int level,
                      const struct stat *id, char **body, int *fd, size_t *len)
{
    struct stored *e = store_slot(st, enc, id);
    int rc = -1;

    *body = NULL;
    *fd = -1;
    pthread_mutex_lock(&st->lock);
    if (stored_is(e, enc, level, id)) {
        *len = e->len;
        if (e->body != NULL && (*body = malloc(e->len > 0 ? e->len : 1)) != NULL)
            memcpy(*body, e->body, e->len);
        else if (e->fd1 > 0)
            *fd = fcntl(e->fd1 - 1, F_DUPFD_CLOEXEC, 0);
        rc = *body != NULL || *fd >= 0 ? 0 : -1;
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/*
 * Keeps a result for the other workers: a copy of body, or a descriptor of
 * fd, len bytes. It replaces what its slot held; the clock hand frees other
 * slots until the budget holds it. A result larger than the budget is not kept.
 */
static void store_put(struct ws_compress_store *st, enum ws_encoding enc, int level,
                      const struct stat *id, const char *body, int fd, size_t len)
{
    struct stored *e = store_slot(st, enc, id);
    char *copy = NULL;
    int copy_fd = -1;

    if (len > st->budget)
        return;
    if (body != NULL && (copy = malloc(len > 0 ? len : 1)) != NULL)
        memcpy(copy, body, len);
    else if (body == NULL)
        copy_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy == NULL && copy_fd < 0)
        return;
    pthread_mutex_lock(&st->lock);
    store_clear(st, e);
    for (unsigned tries = 0; st->used + len > st->budget && tries < st->slots; tries++) {
        struct stored *x = &st->entries[st->hand];
        if (x->body != NULL || x->fd1 > 0)
            store_clear(st, x);
        st->hand = (st->hand + 1) & (st->slots - 1);
    }
    *e = (struct stored){ copy, copy_fd + 1, level, len, enc, identity_of(id) };
    st->used += len;
    pthread_mutex_unlock(&st->lock);
}

/* --- jobs -------------------------------------------------------------------- */

/*
 * Enters job in the store's list of running jobs, unless WS_COMPRESS_JOBS
 * run or one of them is making the same result (this file, coding and
 * level): 0, or -1 and the caller sends the file as it is. So a file is
 * compressed once at a time, however many clients ask for it at once.
 */
static int job_register(struct ws_compress_job *job)
{
    struct ws_compress_store *st = job->store;
    int rc = 0;

    pthread_mutex_lock(&st->lock);
    if (st->jobs == WS_COMPRESS_JOBS)
        rc = -1;
    for (unsigned i = 0; rc == 0 && i < st->jobs; i++)
        if (st->job[i]->enc == job->enc && st->job[i]->level == job->level &&
            same_identity(&st->job[i]->st, &job->st))
            rc = -1;
    if (rc == 0)
        st->job[st->jobs++] = job;
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static void job_unregister(const struct ws_compress_job *job)
{
    struct ws_compress_store *st = job->store;

    pthread_mutex_lock(&st->lock);
    for (unsigned i = 0; i < st->jobs; i++)
        if (st->job[i] == job) {
            st->job[i] = st->job[--st->jobs];
            break;
        }
    pthread_mutex_unlock(&st->lock);
}

void ws_compress_job_free(struct ws_compress_job *job)
{
    if (job == NULL)
        return;
    if (job->enc == WS_ENC_GZIP)
        deflateEnd(&job->zs);
    ZSTD_freeCCtx(job->zc);
    if (job->in_fd >= 0)
        close(job->in_fd);
    if (job->out_fd >= 0)
        close(job->out_fd);
    free(job->in);
    free(job->out);
    job_unregister(job); /* job_new frees a job it could not register itself */
    free(job);
}

/*
 * A job for the file fd (whose identity is *id), or NULL: WS_COMPRESS_JOBS
 * run, another job is compressing this file with this coding and level, or
 * memory is short.
 */
static struct ws_compress_job *job_new(struct ws_compress_store *st, enum ws_encoding enc,
                                       int level, const struct stat *id, int fd)
{
    struct ws_compress_job *job = calloc(1, sizeof(*job));
    int coder;

    if (job == NULL)
        return NULL;
    /* enc, level and st stay as they are while the job is registered: others compare them. */
    *job = (struct ws_compress_job){
        .store = st, .enc = enc, .level = level, .st = *id, .in_fd = -1, .out_fd = -1
    };
    if (job_register(job) < 0) {
        free(job);
        return NULL;
    }
    job->in_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    job->out_fd = memfd_create("ws-compressed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    job->step = ws_compress_step(enc, level);
    job->in = malloc(job->step);
    job->out = malloc(JOB_OUT);
    if (enc == WS_ENC_GZIP) {
        /* Failing, it leaves nothing for deflateEnd to free (which then does nothing). */
        coder = deflateInit2(&job->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    } else {
        job->zc = ZSTD_createCCtx();
        coder = job->zc != NULL &&
                !ZSTD_isError(ZSTD_CCtx_setParameter(job->zc, ZSTD_c_compressionLevel, level));
        /* The size is known: the frame says it, and zstd sizes its window to fit. */
        if (job->zc != NULL)
            (void)ZSTD_CCtx_setPledgedSrcSize(job->zc, (unsigned long long)id->st_size);
    }
    if (job->in_fd < 0 || job->out_fd < 0 || job->in == NULL || job->out == NULL || !coder) {
        ws_compress_job_free(job);
        return NULL;
    }
    return job;
}

/* Writes the job's out buffer (n bytes) to its memfd. */
static int job_write(struct ws_compress_job *job, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = write(job->out_fd, job->out + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    job->out_len += n;
    return 0;
}

/* Codes in[0, n) (the last piece when last), writing every output byte. */
static int job_code(struct ws_compress_job *job, size_t n, int last)
{
    if (job->enc == WS_ENC_GZIP) {
        int rc;
        job->zs.next_in = (Bytef *)job->in;
        job->zs.avail_in = (uInt)n;
        do {
            job->zs.next_out = (Bytef *)job->out;
            job->zs.avail_out = JOB_OUT;
            rc = deflate(&job->zs, last ? Z_FINISH : Z_NO_FLUSH);
            if (rc == Z_STREAM_ERROR || job_write(job, JOB_OUT - job->zs.avail_out) < 0)
                return -1;
        } while (job->zs.avail_out == 0 || (last && rc != Z_STREAM_END));
        return 0;
    } else {
        ZSTD_inBuffer in = { job->in, n, 0 };
        size_t left;
        do {
            ZSTD_outBuffer out = { job->out, JOB_OUT, 0 };
            /*
             * A flush ends each step: zstd otherwise buffers input until it has a
             * whole 128 KiB block, and at level 19 every eighth 16 KiB step took
             * 45-80 ms instead of 7 (and the result was 0.8% smaller).
             */
            left = ZSTD_compressStream2(job->zc, &out, &in, last ? ZSTD_e_end : ZSTD_e_flush);
            if (ZSTD_isError(left) || job_write(job, out.pos) < 0)
                return -1;
        } while (left != 0);
        return 0;
    }
}

/* The job's end: the file must still be the one it began with; then the result is sealed. */
static int job_finish(struct ws_compress_job *job)
{
    struct stat now;

    if (fstat(job->in_fd, &now) < 0 || !same_identity(&now, &job->st))
        return -1;
    if (fcntl(job->out_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) <
        0)
        return -1;
    close(job->in_fd);
    job->in_fd = -1;
    return 1;
}

int ws_compress_job_step(struct ws_compress_job *job)
{
    int64_t size = job->st.st_size, want;
    size_t got = 0;
    int last;

    if (job->state != 0)
        return job->state;
    want = size - job->in_off < (int64_t)job->step ? size - job->in_off : (int64_t)job->step;
    while (got < (size_t)want) {
        ssize_t n = pread(job->in_fd, job->in + got, (size_t)want - got, job->in_off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            job->state = -1; /* shrank under the job */
            return -1;
        }
        got += (size_t)n;
    }
    job->in_off += want;
    last = job->in_off == size;
    if (job_code(job, got, last) < 0)
        job->state = -1;
    else if (last)
        job->state = job_finish(job);
    return job->state;
}

/* --- the cache ------------------------------------------------------------- */

/*
 * Whether bytes (the first n of a file) begin as a compressed format's do:
 * gzip, zstd, xz, bzip2, zip. A file of a compressible type may be one (an
 * .svgz, which a types file may call image/svg+xml), and compressing it again
 * gains nothing and makes the client decode twice. Brotli has no magic.
 */
static int already_compressed(const unsigned char *b, size_t n)
{
    static const struct {
        unsigned char len, magic[6];
    } formats[] = {
        { 2, { 0x1f, 0x8b } },                     /* gzip */
        { 4, { 0x28, 0xb5, 0x2f, 0xfd } },         /* zstd */
        { 6, { 0xfd, '7', 'z', 'X', 'Z', 0x00 } }, /* xz */
        { 3, { 'B', 'Z', 'h' } },                  /* bzip2 */
        { 4, { 'P', 'K', 0x03, 0x04 } },           /* zip */
    };

    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (n >= formats[i].len && memcmp(b, formats[i].magic, formats[i].len) == 0)
            return 1;
    return 0;
}

/*
 * A file too large to compress in one go, whose result the store does not
 * have: a finished job's result (kept in the store), or a new job.
 */
static int get_large(struct ws_compress_cache *cc, enum ws_encoding enc, int level,
                     const struct stat *st, int fd, struct ws_compress_job *done,
                     struct ws_compressed *out, struct ws_compress_job **job)
{
    if (cc->store == NULL || fd < 0 || st->st_size > WS_COMPRESS_MAX_FILE)
        return -1;
    if (done != NULL) {
        /* Its result, if the file is still the one it compressed. */
        if (done->state != 1 || done->enc != enc || done->level != level ||
            !same_identity(&done->st, st))
            return -1;
        store_put(cc->store, enc, level, st, NULL, done->out_fd, done->out_len);
        out->fd = done->out_fd;
        out->len = done->out_len;
        done->out_fd = -1;
        return 0;
    }
    {
        unsigned char head[6];
        ssize_t n = pread(fd, head, sizeof(head), 0);
        if (n > 0 && already_compressed(head, (size_t)n))
            return -1; /* sent as it is */
    }
    atomic_fetch_add_explicit(&cc->misses, 1, memory_order_relaxed);
    *job = job_new(cc->store, enc, level, st, fd);
    return *job != NULL ? 1 : -1;
}

/*
 * Keeps a result (body, or the memfd body_fd, len bytes) in the worker's
 * slot e and hands it out; one larger than the whole budget only for this
 * request.
 */
static int keep(struct ws_compress_cache *cc, struct entry *e, char *body, int body_fd, size_t len,
                enum ws_encoding enc, int level, const struct stat *st, struct ws_compressed *out)
{
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
    return hand_out(body, body_fd, len, out);
}

int ws_compress_find(struct ws_compress_cache *cc, enum ws_encoding enc, int level,
                     const struct stat *st, struct ws_compressed *out)
{
    struct entry *e = &cc->entries[slot_index(cc, st, enc)];
    char *body;
    size_t len;
    int body_fd;

    free(cc->oversized);
    cc->oversized = NULL;
    *out = (struct ws_compressed){ .fd = -1 };
    if (st->st_size <= (off_t)ws_compress_step(enc, level) && occupied(e) && e->enc == enc &&
        e->level == level && same_identity(&e->st, st)) {
        out->hit = 1;
        atomic_fetch_add_explicit(&cc->hits, 1, memory_order_relaxed);
        return hand_out(e->body, e->fd, e->len, out);
    }
    if (cc->store == NULL || store_find(cc->store, enc, level, st, &body, &body_fd, &len) < 0)
        return -1;
    out->hit = 1;
    atomic_fetch_add_explicit(&cc->hits, 1, memory_order_relaxed);
    if (st->st_size > (off_t)ws_compress_step(enc, level)) {
        /* A large file's result lives in the store alone. */
        free(body);
        out->fd = body_fd;
        out->len = len;
        return body_fd >= 0 ? 0 : -1;
    }
    return keep(cc, e, body, body_fd, len, enc, level, st, out);
}

int ws_compress_get(struct ws_compress_cache *cc, enum ws_encoding enc, int level,
                    const struct stat *st, const char *mem, int fd, struct ws_compress_job *done,
                    struct ws_compressed *out, struct ws_compress_job **job)
{
    struct entry *e = &cc->entries[slot_index(cc, st, enc)];
    char *contents = NULL, *body;
    size_t size = (size_t)st->st_size, len;
    int body_fd = -1;

    *job = NULL;
    if (ws_compress_find(cc, enc, level, st, out) == 0)
        return 0;
    if (st->st_size > (off_t)ws_compress_step(enc, level))
        return get_large(cc, enc, level, st, fd, done, out, job);
    if (st->st_size < 0)
        return -1;
    if (mem == NULL) {
        contents = read_whole(fd, size);
        if (contents == NULL)
            return -1;
        mem = contents;
    }
    if (already_compressed((const unsigned char *)mem, size)) {
        free(contents);
        return -1; /* sent as it is */
    }
    atomic_fetch_add_explicit(&cc->misses, 1, memory_order_relaxed);
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
    if (cc->store != NULL)
        store_put(cc->store, enc, level, st, body, body_fd, len);
    return keep(cc, e, body, body_fd, len, enc, level, st, out);
}
