/*
 * server/file_cache.h - a per-worker cache of small files' contents, never served stale.
 *
 * DESIGN
 * Each worker owns one cache and is the only thread that touches it, so the
 * cache has no lock; the watch it consults (watch.h) is shared and locks for
 * itself. The one exception is a body's reference count (ws_file_cache_hold):
 * a body handed out may be held past the turn and released by any thread,
 * so the count is atomic and the last release frees the body. An entry
 * holds a copy of a small regular file and the identity of the inode it was
 * read from (device, inode, mode, size, mtime, ctime, all to the nanosecond).
 * A copy is returned only while that identity is known to be unchanged, so a
 * file changed on disk is never served stale; a hit saves openat2, fstat,
 * pread and close. A file too large to copy gets an entry with its identity
 * alone, kept fresh the same way: a hit then saves the stats of the file and
 * its siblings, and the caller opens the file and checks that it has that
 * identity.
 *
 * How "known to be unchanged" is learnt is the cache's own business, in two
 * calls. ws_file_cache_lookup reads the watch's epoch before anything else.
 * An entry that is watched (its file and every directory on its path are
 * under inotify) and was last found unchanged at exactly that epoch is
 * returned with no system call: nothing it depends on has changed since.
 * Otherwise the lookup stats the file, returns the copy if the identity is
 * unchanged, and marks it fresh as of the epoch it read before that stat.
 * Without a watch every lookup stats. ws_file_cache_fill reads a file the
 * caller opened beneath the root into the cache, puts it under the watch,
 * syncs, and stats the path once more: only if that stat still matches what
 * was read is the entry marked watched, so a change made while the file was
 * being cached is never mistaken for freshness.
 *
 * Precompressed siblings (name.br, name.zst, name.gz: the caller's table of them) are
 * kept the same way. Per file, a record says which siblings were fit to send
 * (a regular file, no older than the file) and with which identities; it is
 * fresh at the epoch read before the stats that found it, provided the file
 * and its present siblings are watched (a sibling appearing is an event in
 * the watched directory). So a request that accepts a coding is served
 * without a stat while nothing has changed, and otherwise with one stat of
 * the file and one of each sibling.
 *
 * Identity also keeps it safe. The cache is filled only from descriptors the
 * caller opened beneath the root; a later stat, even through a path that now
 * leads elsewhere, can only match an entry if it reaches the very inode whose
 * bytes were served before.
 */
#ifndef WS_FILE_CACHE_H
#define WS_FILE_CACHE_H

#include "http/negotiate.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct ws_file_cache;
struct ws_watch;

/*
 * A cache of `slots` entries (direct-mapped by name) for files of at most
 * max_file bytes. NULL with errno set on failure.
 */
struct ws_file_cache *ws_file_cache_new(unsigned slots, size_t max_file);

/* Frees the cache and every copy in it. NULL is allowed. */
void ws_file_cache_free(struct ws_file_cache *fc);

/*
 * Lookups so far that returned 1 (*hits) and 0 (*misses). Any thread (the
 * counters are atomic; the owner alone writes them).
 */
void ws_file_cache_counts(struct ws_file_cache *fc, uint64_t *hits, uint64_t *misses);

/* Where a cache's files are, and how their freshness is learnt. The same on every call. */
struct ws_file_origin {
    int root_fd;            /* names are relative to this directory */
    struct ws_watch *watch; /* or NULL: every lookup stats */
};

/* The most kinds of sibling a file may have. */
#define WS_FILE_SIBLINGS_MAX 4

/*
 * One kind of precompressed sibling: the file named by the file's name
 * followed by suffix, sent with Content-Encoding coding. The caller keeps one
 * table of them (static_file.c's codings[]); the cache reads only suffix.
 */
struct ws_file_sibling {
    const char *suffix;   /* ".br" */
    enum ws_encoding enc; /* for ws_negotiate_encoding */
    const char *coding;   /* "br" */
};

/*
 * Whether a and b are the same file unchanged: device, inode, mode, size,
 * mtime and ctime to the nanosecond. What the cache calls an identity.
 */
int ws_file_same_identity(const struct stat *a, const struct stat *b);

/*
 * A sibling is fit to send in place of its file when it is a regular file no
 * older (by mtime, to the nanosecond) than the file. The one rule, for the
 * cache's stats and for the caller's own opens alike.
 */
int ws_file_sibling_fit(const struct stat *sibling, const struct stat *file);

/* Which siblings a lookup considers, and how the caller chooses among them. */
struct ws_file_choice {
    const struct ws_file_sibling *siblings; /* the caller's table, the same on every call */
    unsigned count;                         /* its rows, at most WS_FILE_SIBLINGS_MAX */
    /*
     * What to send, given avail (bit i: siblings[i] is fit to send): an index
     * into siblings, or -1 for the file itself. Called once per lookup.
     */
    int (*choose)(const void *arg, unsigned avail);
    const void *arg;
};

/* What a lookup found. */
struct ws_file_hit {
    /*
     * st.st_size bytes, valid until the next lookup or fill on the cache; or
     * NULL for a file too large to keep (max_file): the cache knows only its
     * identity, and the caller opens it and checks that it still has it.
     */
    const char *body;
    struct stat st; /* the identity of what body holds */
    int sibling;    /* the index in the choice's table of what body is, or -1: the file */
};

/*
 * Looks up the regular file name (NUL-terminated, relative to origin->root_fd)
 * and, with a choice, the sibling the caller chooses. Returns 1 with *hit set
 * when the cached copy is known to be unchanged, 0 when the caller must open
 * the file (and may then ws_file_cache_fill). With a watch, the epoch is
 * taken first: ws_watch_epoch when synced (the watch was synced after the
 * request arrived, watch.h), else ws_watch_sync. With the entry (and, with a
 * choice, the siblings record) fresh at that epoch, no other system call is
 * made; otherwise one stat of the file and, with a choice, one of each
 * sibling (plus, when those are files not recorded before, their watches).
 * The calling worker's own cache only.
 */
int ws_file_cache_lookup(struct ws_file_cache *fc, const struct ws_file_origin *origin, int synced,
                         const char *name, const struct ws_file_choice *choice,
                         struct ws_file_hit *hit);

/*
 * A body a lookup or fill returned stays valid after the next lookup or fill
 * (and on any thread) for as long as a reference to it is held: hold takes
 * one, release drops one (NULL is allowed). Any thread; the count is atomic.
 */
void ws_file_cache_hold(const char *body);
void ws_file_cache_release(const char *body);

/*
 * What responses say of a body's file, formatted when it was cached from its
 * identity (ws_file_hit's st, or the st it was filled with): its ETag (as
 * ws_etag_format writes it, *len bytes, NUL-terminated) and its Last-Modified
 * (IMF-fixdate). Valid as the body is.
 */
const char *ws_file_cache_etag(const char *body, size_t *len);
const char *ws_file_cache_last_modified(const char *body);

/*
 * Caches the regular file open as fd, which the caller opened beneath
 * origin->root_fd by name (NUL-terminated: the file or sibling that is sent)
 * and described by *st (fstat of fd), replacing what its slot held. With a
 * watch it then watches name, syncs, and stats name again; the entry is
 * watched only if that stat matches *st. Returns the cached contents (valid as
 * ws_file_hit's body), or NULL if the file is too large, cannot be read
 * whole, or memory is short: the caller then serves from fd. A file too large
 * to copy is still remembered by its identity (its lookups then need no stat).
 * fd stays the caller's. Makes several system calls: for the slow path.
 */
const char *ws_file_cache_fill(struct ws_file_cache *fc, const struct ws_file_origin *origin,
                               const char *name, int fd, const struct stat *st);

#endif
