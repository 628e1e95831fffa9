/*
 * server/compress.h - on-the-fly compression (gzip, zstd) and a per-worker
 * cache of its results, never served stale.
 *
 * DESIGN
 * Each worker owns one cache and is the only thread that touches it, so it has
 * no lock (like the file cache, file_cache.h). An entry is keyed by the
 * identity of the file it was made from (device, inode, size, mtime and ctime
 * to the nanosecond, as fstat or the file cache found them for this request)
 * and by the coding. A file changed on disk has another identity, so its old
 * entry is never returned for it: it is only evicted later. The cache is
 * bounded by a byte budget and a number of slots; a result larger than the
 * whole budget is not kept. Large results live in sealed memfds (see
 * ws_compress_cache_new), so a response in flight holds a descriptor, not a copy.
 *
 * Compression runs in the calling worker. A file up to ws_compress_step
 * bytes (256 KiB at the default levels) is compressed in one go, within the
 * request's turn. A larger one (up to WS_COMPRESS_MAX_FILE) is compressed by
 * a job (struct ws_compress_job) that the connection owns and steps that many
 * bytes of input per turn, yielding the worker between steps, so one request cannot hold a
 * worker for long; its result is a sealed memfd.
 *
 * Every result also goes to a store shared by all workers (struct
 * ws_compress_store, behind a mutex): a worker whose own cache misses asks
 * it before compressing and keeps what it finds, so a file is compressed once
 * for the whole server while each worker's hits take no lock. Large files'
 * results live only in the store. At most WS_COMPRESS_JOBS jobs run at
 * once (each holds its coder's state, some hundreds of KiB), and one at a
 * time for a file, coding and level; past that, or while another request's
 * job is making the same result, the file is sent as it is.
 */
#ifndef WS_COMPRESS_H
#define WS_COMPRESS_H

#include "http/negotiate.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Files below this size are not worth compressing (the saving is smaller than a packet):
 * the default of --compress-min. */
#define WS_COMPRESS_MIN_FILE 512
/* The default of --compress-cache: bytes of results in the shared store. */
#define WS_COMPRESS_CACHE ((uint64_t)64 * 1024 * 1024)
/*
 * Files up to WS_COMPRESS_ONE_GO bytes are compressed in one go, within the
 * request's turn (a few ms at the default levels); larger ones by a job,
 * WS_COMPRESS_STEP bytes of input per turn. Both are for the default levels:
 * the slow levels (gzip 7-9, zstd 10-19, ten to forty times slower) take a
 * quarter or a sixteenth of that (ws_compress_step), so a turn stays near
 * 10 ms of coding whatever the level.
 */
#define WS_COMPRESS_ONE_GO (256 * 1024)
#define WS_COMPRESS_STEP   (256 * 1024)
/* Files above this size are sent as they are. */
#define WS_COMPRESS_MAX_FILE ((int64_t)1 << 30)
/* Jobs running at once, in the whole server. */
#define WS_COMPRESS_JOBS 32
/* Default levels: fast enough to compress on first request, close to the best ratio. */
#define WS_COMPRESS_GZIP_LEVEL 6
#define WS_COMPRESS_ZSTD_LEVEL 3

struct ws_compress_cache;
struct ws_compress_store;
struct ws_compress_job;

/*
 * The second level shared by every worker's cache: up to `slots` results
 * (direct-mapped by the file's identity and coding) and `budget` bytes of
 * them, in memory or sealed memfds as the workers made them; the only home of
 * jobs' results. NULL with errno set on failure. ws_compress_store_free
 * frees it (NULL allowed), once no cache or job uses it.
 */
struct ws_compress_store *ws_compress_store_new(unsigned slots, size_t budget);
void ws_compress_store_free(struct ws_compress_store *st);

/*
 * A cache of up to `slots` results holding at most `budget` bytes of them,
 * over `store` (shared; may be NULL: then no second level and no jobs).
 * Results of up to mem_max bytes are kept in memory (the framing copies them
 * behind the head); larger ones in a sealed memfd, so that each response
 * sends them from a descriptor of its own (sendfile, or pread over TLS) and
 * holds no copy while its client reads: many slow clients of one large
 * compressed file share one copy. NULL with errno set on failure.
 */
struct ws_compress_cache *ws_compress_cache_new(unsigned slots, size_t budget, size_t mem_max,
                                                struct ws_compress_store *store);

/* Frees the cache and every result in it (closes their memfds). NULL is allowed. */
void ws_compress_cache_free(struct ws_compress_cache *cc);

/*
 * ws_compress_get calls so far answered from the cache (*hits) and that
 * compressed (*misses, failures included). Any thread (atomic counters).
 */
void ws_compress_cache_counts(struct ws_compress_cache *cc, uint64_t *hits, uint64_t *misses);

/* A compressed body: in memory, or in a descriptor of the caller's own. */
struct ws_compressed {
    const char *mem; /* len bytes, valid until the next call on the cache; or NULL and: */
    int fd;          /* a descriptor of the result (bytes 0..len), the caller's to close; or -1 */
    size_t len;
    int hit; /* the cache had it */
};

/*
 * The file whose identity is *st compressed with enc (WS_ENC_GZIP or
 * WS_ENC_ZSTD) at `level`: from the cache, or made now from its contents, mem
 * (st->st_size bytes), or when mem is NULL read from fd with pread (fd stays
 * the caller's). Returns 0 with *out set, or -1 when the file cannot be read
 * whole (it changed under us), memory or descriptors are short, the coding
 * fails, or the file begins as a compressed format does (gzip, zstd, xz,
 * bzip2, zip: an .svgz, say): the caller then sends the file as it is. A result larger than the
 * whole budget is made for this request and not kept.
 *
 * A file over ws_compress_step bytes is looked for in the store; when it
 * is not there, and `done` is a finished job for this very file, coding and
 * level, the job's result is taken (kept in the store when it fits) and
 * returned; otherwise *job is set to a new job for it and 1 returned: the
 * caller steps the job over its next turns and asks again with it as
 * `done`. -1 as above when no job can start (WS_COMPRESS_JOBS running, one
 * running for this file, coding and level, no store, a file over
 * WS_COMPRESS_MAX_FILE), or `done` is for another
 * identity (the file changed meanwhile). The calling worker's own cache only.
 */
/*
 * How many bytes of input one turn codes at this coding and level: the
 * largest file compressed in one go, and a job's step (at most
 * WS_COMPRESS_STEP).
 */
size_t ws_compress_step(enum ws_encoding enc, int level);

int ws_compress_get(struct ws_compress_cache *cc, enum ws_encoding enc, int level,
                    const struct stat *st, const char *mem, int fd, struct ws_compress_job *done,
                    struct ws_compressed *out, struct ws_compress_job **job);

/*
 * The result ws_compress_get would return for the file whose identity is *st
 * without compressing anything, for a caller that has not opened the file: 0
 * with *out set (counted as a hit), or -1 when neither this worker's cache nor
 * the store has it (not counted: the caller goes on to ws_compress_get).
 */
int ws_compress_find(struct ws_compress_cache *cc, enum ws_encoding enc, int level,
                     const struct stat *st, struct ws_compressed *out);

/*
 * Compresses the next WS_COMPRESS_STEP bytes of the job's file. Returns 1
 * when the whole file is done, 0 when more remains, -1 on failure (the file
 * changed or shrank under the job, memory is short): the job is then finished
 * and failed, and the caller sends the file as it is. Whoever owns the job.
 */
int ws_compress_job_step(struct ws_compress_job *job);

/* Frees a job, finished or not (closes its descriptors). NULL is allowed. */
void ws_compress_job_free(struct ws_compress_job *job);

/*
 * Compresses in[0, in_len) with enc at level into a new buffer (malloc, the
 * caller's to free), *out_len bytes. NULL on failure. Any thread.
 */
char *ws_compress(enum ws_encoding enc, int level, const char *in, size_t in_len, size_t *out_len);

#endif
