/*
 * server/file_cache.h - a per-worker cache of small files' contents, revalidated on
 * every use.
 *
 * DESIGN
 * Each worker owns one cache and is the only thread that touches it, so there
 * is no lock. An entry holds a copy of a small regular file and the identity of
 * the inode it was read from (device, inode, mode, size, mtime, ctime, all to
 * the nanosecond). A lookup is given a stat(2) of the file taken for this very
 * request and returns the copy only if the identity is unchanged; otherwise the
 * caller opens and reads the file again and replaces the entry. So a file
 * changed on disk is never served stale: the cache saves open, fstat, pread and
 * close, never the stat.
 *
 * With a watch (watch.h) an entry can also be marked watched: its file and
 * every directory on its path are under inotify, and the entry remembers the
 * epoch at which its identity last matched a stat. While the watch's epoch has
 * not moved, ws_file_cache_fresh returns it without a stat; once it moves, the
 * next use is stat-checked as above and, if unchanged, takes the new epoch.
 *
 * Identity also keeps it safe. The cache is filled only from descriptors
 * opened beneath the root; a later lookup, even through a path that now leads
 * elsewhere, can only return bytes of the same inode that was served before.
 */
#ifndef WS_FILE_CACHE_H
#define WS_FILE_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct ws_file_cache;

/*
 * A cache of `slots` entries (direct-mapped by name) for files of at most
 * max_file bytes. NULL with errno set on failure.
 */
struct ws_file_cache *ws_file_cache_new(unsigned slots, size_t max_file);

/* Frees the cache and every copy in it. */
void ws_file_cache_free(struct ws_file_cache *fc);

/*
 * The cached contents of name (st->st_size bytes) if an entry for it exists and
 * its identity equals *st, a fresh stat of the file; else NULL. A watched entry
 * found unchanged is marked fresh as of epoch, which the caller read from the
 * watch before taking that stat (0 without a watch). The pointer stays valid
 * until the next ws_file_cache_put on this cache.
 */
const char *ws_file_cache_find(struct ws_file_cache *fc, const char *name, size_t len,
                               const struct stat *st, uint64_t epoch);

/*
 * The cached contents of name if its entry is watched and was last found
 * unchanged at exactly this epoch (nothing it depends on has changed since),
 * with *st set to the stat it was found with; else NULL. No system call.
 */
const char *ws_file_cache_fresh(struct ws_file_cache *fc, const char *name, size_t len,
                                uint64_t epoch, struct stat *st);

/*
 * Marks name's entry watched and fresh as of epoch, if its identity equals *st:
 * a stat taken after the watches were in place and epoch was read. An entry
 * whose identity differs (it changed while it was being cached) is left
 * unwatched, to be stat-checked and replaced at its next use; its contents
 * stay valid as ws_file_cache_put's result says.
 */
void ws_file_cache_watched(struct ws_file_cache *fc, const char *name, size_t len,
                           const struct stat *st, uint64_t epoch);

/*
 * Reads the regular file open as fd (described by *st, from fstat on fd) into
 * the cache under name, replacing what its slot held. Returns the cached
 * contents, or NULL if the file is too large, cannot be read whole, or memory
 * is short (the caller then serves from fd).
 */
const char *ws_file_cache_put(struct ws_file_cache *fc, const char *name, size_t len, int fd,
                              const struct stat *st);

/*
 * Precompressed siblings (static_file.c). What stats of a file and of its
 * siblings (name.br, name.gz) found, so that a request accepting a coding can
 * choose without them while nothing watched has changed: the same epoch rule
 * as for entries, kept beside them in the cache, keyed by the file's name.
 */
struct ws_file_codings {
    struct stat st[3]; /* the file, then its siblings in the caller's order: those present */
    unsigned present;  /* bit i: st[i] is a regular file (bit 0, the file itself, is always set) */
    unsigned avail;    /* what the caller may choose from, in its own bits */
};

/*
 * avail as found for name at exactly this epoch, with the file and each
 * present sibling watched; -1 when not known. No system call.
 */
int ws_file_cache_codings(struct ws_file_cache *fc, const char *name, size_t len, uint64_t epoch);

/*
 * Records what stats of name and its siblings found, taken after epoch was
 * read from the watch. If they are the files already recorded and watched,
 * the record is fresh as of epoch and this returns 0. Otherwise it records
 * them, unwatched, and returns 1: the caller should watch the file and each
 * present sibling and, if that succeeds, call ws_file_cache_codings_watched.
 */
int ws_file_cache_codings_seen(struct ws_file_cache *fc, const char *name, size_t len,
                               const struct ws_file_codings *found, uint64_t epoch);

/* Marks name's record watched, if it still holds exactly *found (not fresh yet). */
void ws_file_cache_codings_watched(struct ws_file_cache *fc, const char *name, size_t len,
                                   const struct ws_file_codings *found);

#endif
