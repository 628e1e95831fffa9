/*
 * server/test_compress.c - on-the-fly compression (compress.h): each coding
 * decodes back to its input, and the cache returns a result only for the
 * identity and coding it was made from, within its budget.
 */
#include "test_util.h"

#include "server/compress.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define TEXT_LEN 20000

static char *make_text(size_t len, unsigned seed)
{
    char *t = malloc(len);
    assert_non_null(t);
    for (size_t i = 0; i < len; i++)
        t[i] = "the quick brown fox jumps over the lazy dog\n"[(i * 7 + seed) % 44];
    return t;
}

/* Decodes a gzip (RFC 1952) or zstd body; returns its length, into out (cap bytes). */
static size_t decode(enum ws_encoding enc, const char *in, size_t len, char *out, size_t cap)
{
    if (enc == WS_ENC_GZIP) {
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        assert_true(len >= 2 && (unsigned char)in[0] == 0x1f && (unsigned char)in[1] == 0x8b);
        assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
        zs.next_in = (Bytef *)(uintptr_t)in;
        zs.avail_in = (uInt)len;
        zs.next_out = (Bytef *)out;
        zs.avail_out = (uInt)cap;
        assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
        assert_int_equal(zs.avail_in, 0); /* nothing after the stream */
        len = zs.total_out;
        inflateEnd(&zs);
        return len;
    }
    {
        size_t n = ZSTD_decompress(out, cap, in, len);
        assert_false(ZSTD_isError(n));
        return n;
    }
}

static struct stat identity(dev_t dev, ino_t ino, off_t size, time_t mtime, long nsec)
{
    struct stat st;
    memset(&st, 0, sizeof(st));
    st.st_dev = dev;
    st.st_ino = ino;
    st.st_size = size;
    st.st_mode = S_IFREG | 0644;
    st.st_mtim.tv_sec = mtime;
    st.st_mtim.tv_nsec = nsec;
    st.st_ctim = st.st_mtim;
    return st;
}

/*
 * ws_compress_get, with the result's bytes copied into a new buffer whichever
 * way they came (memory, or a descriptor, which is checked and closed).
 * NULL when the call fails.
 */
static char *get(struct ws_compress_cache *cc, enum ws_encoding enc, int level,
                 const struct stat *st, const char *mem, int fd, size_t *len, int *hit)
{
    struct ws_compressed z;
    struct ws_compress_job *job;
    char *copy;

    if (ws_compress_get(cc, enc, level, st, mem, fd, NULL, &z, &job) < 0)
        return NULL;
    assert_null(job);
    copy = malloc(z.len + 1);
    assert_non_null(copy);
    if (z.mem != NULL) {
        assert_int_equal(z.fd, -1);
        memcpy(copy, z.mem, z.len);
    } else {
        struct stat zst;
        assert_true(z.fd >= 0);
        assert_int_equal(fstat(z.fd, &zst), 0);
        assert_int_equal(zst.st_size, (off_t)z.len);
        assert_int_equal(pread(z.fd, copy, z.len, 0), (ssize_t)z.len);
        /* Sealed: nobody can change what other responses are sending. */
        assert_int_equal(pwrite(z.fd, "x", 1, 0), -1);
        close(z.fd);
    }
    *len = z.len;
    *hit = z.hit;
    return copy;
}

static void test_round_trip(void **state)
{
    static const enum ws_encoding encs[] = { WS_ENC_GZIP, WS_ENC_ZSTD };
    static const size_t lens[] = { 0, 1, 511, 512, TEXT_LEN };
    char *text = make_text(TEXT_LEN, 3), *back = malloc(TEXT_LEN + 1);
    (void)state;

    assert_non_null(back);
    for (size_t e = 0; e < ARRAY_LEN(encs); e++) {
        for (size_t l = 0; l < ARRAY_LEN(lens); l++) {
            size_t out_len = 0;
            char *in = exact_copy(text, lens[l]);
            char *out = ws_compress(encs[e], encs[e] == WS_ENC_GZIP ? 6 : 3, in, lens[l], &out_len);
            assert_non_null(out);
            assert_int_equal(decode(encs[e], out, out_len, back, TEXT_LEN + 1), lens[l]);
            assert_memory_equal(back, text, lens[l]);
            if (lens[l] == TEXT_LEN)
                assert_true(out_len < TEXT_LEN / 4);
            free(out);
            free(in);
        }
    }
    /* Not a coding made here. */
    {
        size_t n;
        assert_null(ws_compress(WS_ENC_BR, 5, text, 100, &n));
        assert_null(ws_compress(WS_ENC_IDENTITY, 5, text, 100, &n));
    }
    free(text);
    free(back);
}

/* The cache: a hit only for the same identity, coding and level; in memory or in a memfd. */
static void check_keyed_by_identity(size_t mem_max)
{
    struct ws_compress_cache *cc = ws_compress_cache_new(16, 1 << 20, mem_max, NULL);
    char *a = make_text(TEXT_LEN, 1), *b = make_text(TEXT_LEN, 2);
    char *back = malloc(TEXT_LEN), *r;
    struct stat st = identity(1, 100, TEXT_LEN, 1000, 5);
    size_t len = 0;
    int hit = 0;

    assert_non_null(cc);
    r = get(cc, WS_ENC_GZIP, 6, &st, a, -1, &len, &hit);
    assert_non_null(r);
    assert_int_equal(hit, 0);
    free(r);
    r = get(cc, WS_ENC_GZIP, 6, &st, a, -1, &len, &hit);
    assert_int_equal(hit, 1);
    assert_int_equal(decode(WS_ENC_GZIP, r, len, back, TEXT_LEN), TEXT_LEN);
    assert_memory_equal(back, a, TEXT_LEN);
    free(r);

    /* Another coding or level of the same file is another result. */
    r = get(cc, WS_ENC_ZSTD, 3, &st, a, -1, &len, &hit);
    assert_int_equal(hit, 0);
    assert_int_equal(decode(WS_ENC_ZSTD, r, len, back, TEXT_LEN), TEXT_LEN);
    free(r);
    free(get(cc, WS_ENC_GZIP, 1, &st, a, -1, &len, &hit));
    assert_int_equal(hit, 0);

    /* The file changed: any field of its identity, and the new contents are compressed. */
    for (int field = 0; field < 6; field++) {
        struct stat changed = st;
        switch (field) {
        case 0: changed.st_mtim.tv_nsec++; break;
        case 1: changed.st_mtim.tv_sec++; break;
        case 2: changed.st_ctim.tv_nsec++; break;
        case 3: changed.st_ino++; break;
        case 4: changed.st_dev++; break;
        case 5: changed.st_size--; break;
        }
        free(get(cc, WS_ENC_GZIP, 6, &st, a, -1, &len, &hit)); /* a back in its slot */
        r = get(cc, WS_ENC_GZIP, 6, &changed, b, -1, &len, &hit);
        assert_int_equal(hit, 0);
        assert_int_equal(decode(WS_ENC_GZIP, r, len, back, TEXT_LEN), (size_t)changed.st_size);
        assert_memory_equal(back, b, (size_t)changed.st_size);
        free(r);
    }
    ws_compress_cache_free(cc);
    free(a);
    free(b);
    free(back);
}

static void test_cache_keyed_by_identity(void **state)
{
    (void)state;
    check_keyed_by_identity(1 << 20); /* results in memory */
    check_keyed_by_identity(0);       /* results in memfds */
}

/* Reading from a descriptor: the whole file, or nothing when it is shorter than its identity. */
static void test_from_descriptor(void **state)
{
    char path[] = "/tmp/ws-test-compress-XXXXXX";
    int fd = mkstemp(path);
    char *text = make_text(TEXT_LEN, 5), *back = malloc(TEXT_LEN), *r;
    struct ws_compress_cache *cc = ws_compress_cache_new(4, 1 << 20, 1 << 20, NULL);
    struct ws_compressed z;
    struct ws_compress_job *job;
    struct stat st;
    size_t len = 0;
    int hit = 0;
    (void)state;

    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, text, TEXT_LEN), TEXT_LEN);
    assert_int_equal(fstat(fd, &st), 0);
    r = get(cc, WS_ENC_ZSTD, 3, &st, NULL, fd, &len, &hit);
    assert_non_null(r);
    assert_int_equal(decode(WS_ENC_ZSTD, r, len, back, TEXT_LEN), TEXT_LEN);
    assert_memory_equal(back, text, TEXT_LEN);
    free(r);

    /* Truncated under us: the identity claims more than there is. */
    st.st_ino++;
    assert_int_equal(ftruncate(fd, TEXT_LEN / 2), 0);
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st, NULL, fd, NULL, &z, &job), -1);
    /* Too large to compress in one go, and no store for jobs: refused. */
    st.st_size = WS_COMPRESS_ONE_GO + 1;
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st, NULL, fd, NULL, &z, &job), -1);
    close(fd);
    ws_compress_cache_free(cc);
    free(text);
    free(back);
}

/* The budget: results are evicted to stay under it; one larger than all of it is not kept. */
static void check_budget(size_t mem_max)
{
    char *text = make_text(TEXT_LEN, 9), *back = malloc(TEXT_LEN);
    size_t one = 0, len = 0;
    struct ws_compress_cache *cc;
    struct stat st;
    char *r;
    int hit = 0, hits = 0;

    free(ws_compress(WS_ENC_ZSTD, 3, text, TEXT_LEN, &one));
    cc = ws_compress_cache_new(64, 3 * one, mem_max, NULL);
    assert_non_null(cc);
    for (ino_t ino = 1; ino <= 20; ino++) {
        st = identity(1, ino, TEXT_LEN, 1, 0);
        r = get(cc, WS_ENC_ZSTD, 3, &st, text, -1, &len, &hit);
        assert_non_null(r);
        free(r);
    }
    for (ino_t ino = 1; ino <= 20; ino++) {
        st = identity(1, ino, TEXT_LEN, 1, 0);
        free(get(cc, WS_ENC_ZSTD, 3, &st, text, -1, &len, &hit));
        hits += hit;
    }
    assert_true(hits <= 3); /* at most three results fit at a time */
    ws_compress_cache_free(cc);

    /* A result larger than the budget is returned, and made again next time. */
    cc = ws_compress_cache_new(4, one / 2, mem_max, NULL);
    st = identity(1, 1, TEXT_LEN, 1, 0);
    r = get(cc, WS_ENC_ZSTD, 3, &st, text, -1, &len, &hit);
    assert_non_null(r);
    assert_int_equal(len, one);
    assert_int_equal(decode(WS_ENC_ZSTD, r, len, back, TEXT_LEN), TEXT_LEN);
    free(r);
    free(get(cc, WS_ENC_ZSTD, 3, &st, text, -1, &len, &hit));
    assert_int_equal(hit, 0);
    ws_compress_cache_free(cc);
    free(text);
    free(back);
}

static void test_budget(void **state)
{
    (void)state;
    check_budget(1 << 20);
    check_budget(0);
}

/* Every descriptor the cache hands out reads the same sealed bytes, at any offset. */
static void test_memfd_shared(void **state)
{
    struct ws_compress_cache *cc = ws_compress_cache_new(4, 1 << 20, 0, NULL);
    char *text = make_text(TEXT_LEN, 4), buf[64];
    struct stat st = identity(1, 7, TEXT_LEN, 1, 0);
    struct ws_compressed z1, z2;
    struct ws_compress_job *job;
    (void)state;

    assert_int_equal(ws_compress_get(cc, WS_ENC_GZIP, 6, &st, text, -1, NULL, &z1, &job), 0);
    assert_int_equal(ws_compress_get(cc, WS_ENC_GZIP, 6, &st, text, -1, NULL, &z2, &job), 0);
    assert_int_equal(z2.hit, 1);
    assert_true(z1.fd >= 0 && z2.fd >= 0 && z1.fd != z2.fd);
    assert_null(z1.mem);
    ws_compress_cache_free(cc); /* the responses' descriptors outlive the cache's */
    assert_int_equal(pread(z1.fd, buf, 2, 0), 2);
    assert_int_equal((unsigned char)buf[0], 0x1f);
    assert_int_equal(pread(z2.fd, buf, 2, 0), 2);
    assert_int_equal((unsigned char)buf[1], 0x8b);
    close(z1.fd);
    close(z2.fd);
    free(text);
}

/* --- jobs: files too large to compress in one go ------------------------------ */

#define BIG_LEN (3 * WS_COMPRESS_STEP + 1000) /* four steps */

/* A temporary file holding text (len bytes), unlinked; its identity in *st. */
static int temp_file(const char *text, size_t len, struct stat *st)
{
    char path[] = "/tmp/ws-test-compress-XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(fstat(fd, st), 0);
    return fd;
}

/* A result's bytes, from its descriptor (closed), decoded and compared with text. */
static void check_result(enum ws_encoding enc, struct ws_compressed *z, const char *text,
                         size_t len)
{
    char *coded = malloc(z->len), *back = malloc(len + 1);
    assert_non_null(coded);
    assert_non_null(back);
    assert_null(z->mem);
    assert_true(z->fd >= 0);
    assert_int_equal(pread(z->fd, coded, z->len, 0), (ssize_t)z->len);
    assert_int_equal(pwrite(z->fd, "x", 1, 0), -1); /* sealed */
    assert_int_equal(decode(enc, coded, z->len, back, len + 1), len);
    assert_memory_equal(back, text, len);
    close(z->fd);
    free(coded);
    free(back);
}

/*
 * A large file gets a job, which takes one step per WS_COMPRESS_STEP bytes;
 * its result is then returned, kept in the store, and found there by another
 * worker's cache.
 */
/* A file that is already a compressed format's (an .svgz, say) is sent as it is, small or large. */
static void test_already_compressed(void **state)
{
    static const char *const heads[] = { "\x1f\x8b\x08", "\x28\xb5\x2f\xfd",
                                         "\xfd\x37zXZ", /* 0x37 is '7' */
                                         "BZh9", "PK\x03\x04" };
    (void)state;

    for (unsigned h = 0; h < sizeof(heads) / sizeof(heads[0]); h++)
        for (size_t len = 1000; len <= BIG_LEN; len = len == 1000 ? BIG_LEN : len + 1) {
            char *text = make_text(len, h);
            struct ws_compressed z;
            struct ws_compress_job *job = NULL;
            struct stat st;
            int fd;
            /* Fresh each time: a temporary file's inode and times may be a former one's. */
            struct ws_compress_store *store = ws_compress_store_new(64, 64 << 20);
            struct ws_compress_cache *cc = ws_compress_cache_new(4, 1 << 20, 0, store);

            memcpy(text, heads[h], strlen(heads[h]) + (h == 2)); /* xz's magic ends in a NUL */
            fd = temp_file(text, len, &st);
            assert_int_equal(ws_compress_get(cc, WS_ENC_GZIP, 6, &st, NULL, fd, NULL, &z, &job),
                             -1);
            assert_null(job);
            if (len == 1000)
                assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st, text, -1, NULL, &z, &job),
                                 -1);
            /* The same text without the magic is compressed. */
            memset(text, 't', 6);
            close(fd);
            fd = temp_file(text, len, &st);
            assert_true(ws_compress_get(cc, WS_ENC_GZIP, 6, &st, NULL, fd, NULL, &z, &job) >= 0);
            if (job != NULL)
                ws_compress_job_free(job);
            else if (z.fd >= 0)
                close(z.fd);
            close(fd);
            free(text);
            ws_compress_cache_free(cc);
            ws_compress_store_free(store);
        }
}

static void test_job(void **state)
{
    static const enum ws_encoding encs[] = { WS_ENC_GZIP, WS_ENC_ZSTD };
    char *text = make_text(BIG_LEN, 3);
    struct stat st;
    int fd = temp_file(text, BIG_LEN, &st);
    struct ws_compress_store *store = ws_compress_store_new(64, 64 << 20);
    struct ws_compress_cache *a = ws_compress_cache_new(4, 1 << 20, 0, store);
    struct ws_compress_cache *b = ws_compress_cache_new(4, 1 << 20, 0, store);
    (void)state;

    for (unsigned e = 0; e < 2; e++) {
        struct ws_compressed z;
        struct ws_compress_job *job = NULL, *again;
        int level = encs[e] == WS_ENC_GZIP ? 6 : 3, steps = 0, rc;
        uint64_t hits, misses;

        assert_int_equal(ws_compress_get(a, encs[e], level, &st, NULL, fd, NULL, &z, &job), 1);
        assert_non_null(job);
        while ((rc = ws_compress_job_step(job)) == 0)
            assert_true(++steps < 100);
        assert_int_equal(rc, 1);
        assert_int_equal(steps, 3);                     /* and the fourth finished it */
        assert_int_equal(ws_compress_job_step(job), 1); /* done stays done */

        assert_int_equal(ws_compress_get(a, encs[e], level, &st, NULL, fd, job, &z, &again), 0);
        assert_null(again);
        assert_int_equal(z.hit, 0);
        assert_true(z.len < BIG_LEN / 4);
        check_result(encs[e], &z, text, BIG_LEN);
        ws_compress_job_free(job);

        /* Found by identity alone (the caller has not opened the file). */
        assert_int_equal(ws_compress_find(b, encs[e], level, &st, &z), 0);
        check_result(encs[e], &z, text, BIG_LEN);
        /* Another worker finds it in the store. */
        assert_int_equal(ws_compress_get(b, encs[e], level, &st, NULL, fd, NULL, &z, &again), 0);
        assert_null(again);
        assert_int_equal(z.hit, 1);
        check_result(encs[e], &z, text, BIG_LEN);
        ws_compress_cache_counts(b, &hits, &misses);
        assert_int_equal(hits, 2 * (e + 1)); /* found, then got */
        /* Another level is another result. */
        assert_int_equal(ws_compress_get(b, encs[e], level + 1, &st, NULL, fd, NULL, &z, &again),
                         1);
        ws_compress_job_free(again);
    }
    close(fd);
    ws_compress_cache_free(a);
    ws_compress_cache_free(b);
    ws_compress_store_free(store);
    free(text);
}

/* The slow levels code less per turn: a smaller file is a job, and a job takes more steps. */
static void test_slow_levels_take_smaller_steps(void **state)
{
    static const struct {
        enum ws_encoding enc;
        int level;
        size_t step;
    } cases[] = {
        { WS_ENC_GZIP, 6, WS_COMPRESS_STEP },       { WS_ENC_GZIP, 9, WS_COMPRESS_STEP / 4 },
        { WS_ENC_ZSTD, 3, WS_COMPRESS_STEP },       { WS_ENC_ZSTD, 12, WS_COMPRESS_STEP / 4 },
        { WS_ENC_ZSTD, 19, WS_COMPRESS_STEP / 16 },
    };
    char *text = make_text(BIG_LEN, 5);
    struct stat st;
    int fd = temp_file(text, BIG_LEN, &st);
    (void)state;

    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ws_compress_store *store = ws_compress_store_new(64, 64 << 20);
        struct ws_compress_cache *cc = ws_compress_cache_new(4, 1 << 20, 0, store);
        struct ws_compress_job *job = NULL, *again;
        struct ws_compressed z;
        struct stat part = st;
        int steps = 0, rc;

        assert_int_equal(ws_compress_step(cases[i].enc, cases[i].level), cases[i].step);
        /* One byte over the step: a job; at the step: in one go. */
        part.st_size = (off_t)cases[i].step + 1;
        assert_int_equal(
            ws_compress_get(cc, cases[i].enc, cases[i].level, &part, NULL, fd, NULL, &z, &job), 1);
        ws_compress_job_free(job);
        part.st_size = (off_t)cases[i].step;
        assert_int_equal(
            ws_compress_get(cc, cases[i].enc, cases[i].level, &part, NULL, fd, NULL, &z, &job), 0);
        assert_null(job);
        if (z.fd >= 0)
            close(z.fd);
        /* The whole file: one step per cases[i].step bytes, and the result decodes. */
        assert_int_equal(
            ws_compress_get(cc, cases[i].enc, cases[i].level, &st, NULL, fd, NULL, &z, &job), 1);
        while ((rc = ws_compress_job_step(job)) == 0)
            assert_true(++steps < 1000);
        assert_int_equal(rc, 1);
        assert_int_equal(steps + 1, (BIG_LEN + cases[i].step - 1) / cases[i].step);
        assert_int_equal(
            ws_compress_get(cc, cases[i].enc, cases[i].level, &st, NULL, fd, job, &z, &again), 0);
        assert_null(again);
        check_result(cases[i].enc, &z, text, BIG_LEN);
        ws_compress_job_free(job);
        ws_compress_cache_free(cc);
        ws_compress_store_free(store);
    }
    close(fd);
    free(text);
}

/* A file changed while its job ran: the job fails, or its result is refused for the new file. */
static void test_job_file_changed(void **state)
{
    char *text = make_text(BIG_LEN, 4);
    struct stat st, now;
    int fd = temp_file(text, BIG_LEN, &st);
    struct ws_compress_store *store = ws_compress_store_new(64, 64 << 20);
    struct ws_compress_cache *cc = ws_compress_cache_new(4, 1 << 20, 0, store);
    struct ws_compressed z;
    struct ws_compress_job *job, *again;
    struct timespec times[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };
    int rc;
    (void)state;

    /* Written in place mid-way: the identity it began with is gone at the end. */
    assert_int_equal(ws_compress_get(cc, WS_ENC_GZIP, 6, &st, NULL, fd, NULL, &z, &job), 1);
    assert_int_equal(ws_compress_job_step(job), 0);
    assert_int_equal(pwrite(fd, "CHANGED", 7, 0), 7);
    assert_int_equal(futimens(fd, times), 0);
    while ((rc = ws_compress_job_step(job)) == 0)
        ;
    assert_int_equal(rc, -1);
    assert_int_equal(ws_compress_get(cc, WS_ENC_GZIP, 6, &st, NULL, fd, job, &z, &again), -1);
    ws_compress_job_free(job);

    /* Truncated mid-way: a step reads short. */
    assert_int_equal(fstat(fd, &now), 0);
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &now, NULL, fd, NULL, &z, &job), 1);
    assert_int_equal(ws_compress_job_step(job), 0);
    assert_int_equal(ftruncate(fd, WS_COMPRESS_STEP + 10), 0);
    assert_int_equal(ws_compress_job_step(job), -1);
    assert_int_equal(ws_compress_job_step(job), -1);
    ws_compress_job_free(job);

    /* A finished job for an older identity is not used for the file as it is now. */
    assert_int_equal(ftruncate(fd, BIG_LEN), 0);
    assert_int_equal(pwrite(fd, text, BIG_LEN, 0), BIG_LEN);
    assert_int_equal(fstat(fd, &now), 0);
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &now, NULL, fd, NULL, &z, &job), 1);
    while (ws_compress_job_step(job) == 0)
        ;
    now.st_mtim.tv_nsec ^= 1;
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &now, NULL, fd, job, &z, &again), -1);
    ws_compress_job_free(job);

    close(fd);
    ws_compress_cache_free(cc);
    ws_compress_store_free(store);
    free(text);
}

/*
 * At most WS_COMPRESS_JOBS run at once, one at a time for a file, coding and
 * level; a result over the store's budget is not kept.
 */
static void test_job_limits(void **state)
{
    char *text = make_text(BIG_LEN, 5);
    struct stat st;
    int fd = temp_file(text, BIG_LEN, &st);
    struct ws_compress_store *store = ws_compress_store_new(64, 10); /* smaller than any result */
    struct ws_compress_cache *cc = ws_compress_cache_new(4, 1 << 20, 0, store);
    struct ws_compress_job *jobs[WS_COMPRESS_JOBS], *job;
    struct ws_compressed z;
    struct stat other = st;
    (void)state;

    /* One job at a time for a file, coding and level; another coding or level is another job. */
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st, NULL, fd, NULL, &z, &jobs[0]), 1);
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st, NULL, fd, NULL, &z, &job), -1);
    assert_null(job);
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 4, &st, NULL, fd, NULL, &z, &jobs[1]), 1);
    assert_int_equal(ws_compress_get(cc, WS_ENC_GZIP, 6, &st, NULL, fd, NULL, &z, &jobs[2]), 1);
    /* A file of another identity (here the same bytes under another inode number). */
    for (unsigned i = 3; i < WS_COMPRESS_JOBS; i++) {
        other.st_ino = st.st_ino + i;
        assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &other, NULL, fd, NULL, &z, &jobs[i]),
                         1);
        assert_non_null(jobs[i]);
    }
    /* WS_COMPRESS_JOBS run: no more, of any file. */
    other.st_ino = st.st_ino + WS_COMPRESS_JOBS;
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &other, NULL, fd, NULL, &z, &job), -1);
    assert_null(job);
    for (unsigned i = 1; i < WS_COMPRESS_JOBS; i++)
        ws_compress_job_free(jobs[i]);
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &other, NULL, fd, NULL, &z, &job), 1);
    ws_compress_job_free(job);
    /* jobs[0] still runs: its file is still sent as it is. */
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st, NULL, fd, NULL, &z, &job), -1);
    assert_null(job);

    /* jobs[0] done: its result is this request's, but not kept. */
    while (ws_compress_job_step(jobs[0]) == 0)
        ;
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st, NULL, fd, jobs[0], &z, &job), 0);
    check_result(WS_ENC_ZSTD, &z, text, BIG_LEN);
    ws_compress_job_free(jobs[0]);
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st, NULL, fd, NULL, &z, &job), 1);
    ws_compress_job_free(job);

    /* Over the largest file compressed at all: sent as it is. */
    st.st_size = WS_COMPRESS_MAX_FILE + 1;
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st, NULL, fd, NULL, &z, &job), -1);
    close(fd);
    ws_compress_cache_free(cc);
    ws_compress_store_free(store);
    free(text);
}

/* The store keeps results within its budget, the newest always. */
static void test_store_evicts(void **state)
{
    char *text = make_text(BIG_LEN, 6);
    struct stat st[3];
    int fds[3], found = 0;
    struct ws_compress_store *store;
    struct ws_compress_cache *cc;
    struct ws_compressed z;
    struct ws_compress_job *job, *again;
    size_t one;
    (void)state;

    for (int i = 0; i < 3; i++)
        fds[i] = temp_file(text, BIG_LEN, &st[i]);
    /* Learn the size of one result, then make the store hold two. */
    store = ws_compress_store_new(64, 64 << 20);
    cc = ws_compress_cache_new(4, 1 << 20, 0, store);
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st[0], NULL, fds[0], NULL, &z, &job), 1);
    while (ws_compress_job_step(job) == 0)
        ;
    assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st[0], NULL, fds[0], job, &z, &again), 0);
    one = z.len;
    close(z.fd);
    ws_compress_job_free(job);
    ws_compress_cache_free(cc);
    ws_compress_store_free(store);

    store = ws_compress_store_new(64, 2 * one + one / 2);
    cc = ws_compress_cache_new(4, 1 << 20, 0, store);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st[i], NULL, fds[i], NULL, &z, &job),
                         1);
        while (ws_compress_job_step(job) == 0)
            ;
        assert_int_equal(ws_compress_get(cc, WS_ENC_ZSTD, 3, &st[i], NULL, fds[i], job, &z, &again),
                         0);
        close(z.fd);
        ws_compress_job_free(job);
    }
    /* The newest is there; of the other two, at most one (two fit, not three). */
    for (int i = 0; i < 3; i++) {
        int rc = ws_compress_get(cc, WS_ENC_ZSTD, 3, &st[i], NULL, fds[i], NULL, &z, &job);
        if (rc == 0) {
            found++;
            close(z.fd);
        } else {
            assert_int_equal(rc, 1);
            assert_true(i < 2);
            ws_compress_job_free(job);
        }
    }
    assert_true(found >= 1 && found <= 2);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    ws_compress_cache_free(cc);
    ws_compress_store_free(store);
    free(text);
}

/*
 * Small results are shared too: a worker whose own cache misses finds what
 * another worker made, and keeps it (its later hits take no lock).
 */
static void test_second_level(void **state)
{
    static const size_t mem_maxes[] = { 1 << 20, 0 }; /* results in memory, then in memfds */
    char *text = make_text(TEXT_LEN, 8);
    (void)state;

    for (unsigned m = 0; m < 2; m++) {
        struct ws_compress_store *store = ws_compress_store_new(64, 1 << 20);
        struct ws_compress_cache *a = ws_compress_cache_new(16, 1 << 20, mem_maxes[m], store);
        struct ws_compress_cache *b = ws_compress_cache_new(16, 1 << 20, mem_maxes[m], store);
        struct stat st = identity(1, 42, TEXT_LEN, 1, 0), other = st;
        uint64_t hits, misses;
        size_t len_a, len_b;
        int hit;
        char *ra = get(a, WS_ENC_GZIP, 6, &st, text, -1, &len_a, &hit);
        char *rb;

        assert_int_equal(hit, 0);
        {
            /* Found by identity alone, without the file: in b's own cache after this. */
            struct ws_compress_cache *c = ws_compress_cache_new(16, 1 << 20, mem_maxes[m], store);
            struct ws_compressed z;
            struct stat unknown = identity(1, 43, TEXT_LEN, 1, 0);
            assert_int_equal(ws_compress_find(c, WS_ENC_GZIP, 6, &unknown, &z), -1);
            assert_int_equal(ws_compress_find(c, WS_ENC_GZIP, 6, &st, &z), 0);
            assert_int_equal(z.hit, 1);
            assert_int_equal(z.len, len_a);
            if (z.fd >= 0)
                close(z.fd);
            assert_int_equal(ws_compress_find(c, WS_ENC_GZIP, 6, &st, &z), 0);
            if (z.fd >= 0)
                close(z.fd);
            ws_compress_cache_free(c);
        }
        rb = get(b, WS_ENC_GZIP, 6, &st, text, -1, &len_b, &hit);
        assert_int_equal(hit, 1); /* from the store: b compressed nothing */
        assert_int_equal(len_a, len_b);
        assert_memory_equal(ra, rb, len_a);
        free(rb);
        rb = get(b, WS_ENC_GZIP, 6, &st, text, -1, &len_b, &hit);
        assert_int_equal(hit, 1);
        free(rb);
        ws_compress_cache_counts(b, &hits, &misses);
        assert_int_equal(hits, 2);
        assert_int_equal(misses, 0);
        /* Not for another identity, coding or level. */
        other.st_mtim.tv_nsec = 1;
        free(get(b, WS_ENC_GZIP, 6, &other, text, -1, &len_b, &hit));
        assert_int_equal(hit, 0);
        free(get(b, WS_ENC_GZIP, 5, &st, text, -1, &len_b, &hit));
        assert_int_equal(hit, 0);
        free(get(b, WS_ENC_ZSTD, 6, &st, text, -1, &len_b, &hit));
        assert_int_equal(hit, 0);
        free(ra);
        ws_compress_cache_free(a);
        ws_compress_cache_free(b);
        ws_compress_store_free(store);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_cache_keyed_by_identity),
        cmocka_unit_test(test_from_descriptor),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_memfd_shared),
        cmocka_unit_test(test_job),
        cmocka_unit_test(test_already_compressed),
        cmocka_unit_test(test_slow_levels_take_smaller_steps),
        cmocka_unit_test(test_job_file_changed),
        cmocka_unit_test(test_job_limits),
        cmocka_unit_test(test_store_evicts),
        cmocka_unit_test(test_second_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
