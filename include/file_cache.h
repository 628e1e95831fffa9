/*
 * file_cache.h - a per-worker cache of small files' contents, revalidated on
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
 * Identity also keeps it safe. The cache is filled only from descriptors
 * opened beneath the root; a later lookup, even through a path that now leads
 * elsewhere, can only return bytes of the same inode that was served before.
 */
#ifndef WS_FILE_CACHE_H
#define WS_FILE_CACHE_H

#include <stddef.h>
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
 * its identity equals *st, a fresh stat of the file; else NULL. The pointer
 * stays valid until the next ws_file_cache_put on this cache.
 */
const char *ws_file_cache_find(struct ws_file_cache *fc, const char *name, size_t len,
                               const struct stat *st);

/*
 * Reads the regular file open as fd (described by *st, from fstat on fd) into
 * the cache under name, replacing what its slot held. Returns the cached
 * contents, or NULL if the file is too large, cannot be read whole, or memory
 * is short (the caller then serves from fd).
 */
const char *ws_file_cache_put(struct ws_file_cache *fc, const char *name, size_t len, int fd,
                              const struct stat *st);

#endif
