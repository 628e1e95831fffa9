/*
 * server/static_file.h - mapping a request path to an open file under the document root.
 *
 * Threads: any worker may call these at once. What they share is the root
 * descriptor (only read), the options (fixed after start-up), the watch
 * (watch.h: it locks for itself) and whether openat2 works here (one atomic,
 * set by the first ws_open_beneath_mode; first calls that race probe alike
 * and store the same answer). A file cache passed to ws_static_open is the
 * calling worker's own, and no other thread touches it.
 */
#ifndef WS_STATIC_FILE_H
#define WS_STATIC_FILE_H

#include "http/request_parser.h"

#include <stddef.h>
#include <sys/stat.h>

struct ws_file_cache;
struct ws_mime_map;
struct ws_watch;

/* How requests map to files; fixed after start-up and shared by every worker. */
struct ws_static_opts {
    int root_fd;                    /* the document root */
    int dotfiles;                   /* serve names starting with '.' (else 404) */
    int listing;                    /* list directories that have no index.html */
    const struct ws_mime_map *mime; /* --mime-types overrides, or NULL */
    struct ws_watch *watch;         /* spares cached files their stat (watch.h), or NULL */
    const char *fallback;           /* --fallback: its normalised path under the root, or NULL */
};

struct ws_static_result {
    int status;                   /* 200, 301, 400, 403, 404, 414, 500 or 503 */
    int fd;                       /* with 200: the open regular file, the caller's to close */
    const char *mem;              /* or (fd -1) its contents, from the worker's file cache */
    struct stat st;               /* with 200: its attributes, from that descriptor */
    const char *content_type;     /* with 200 */
    const char *content_encoding; /* with 200: "br", "zstd" or "gzip" for a precompressed sibling */
    int vary;                     /* the response depends on Accept-Encoding */
    int vary_accept;              /* ... on Accept (a listing: HTML or JSON) */
    int missing;                  /* with 404: nothing of that name (ENOENT, ENOTDIR) */
    const char *name;             /* with 200 and a file: its path under the root */
    size_t name_len;
    const char *location; /* with 301: the slashed path, in the caller's buffer */
    char *listing;        /* with 200 and no fd: a listing page, the caller's to free */
    size_t listing_len;
    /*
     * With 200: a file too large for the cache to copy, which it knows
     * unchanged by its identity (st): fd is not open yet, and buf still names
     * it. The caller opens it with ws_static_open_now if it needs the bytes
     * (a compressed copy found by the identity does not).
     */
    int open_later;
};

/*
 * Resolves a request's path against the root: decodes and normalises it,
 * refuses hidden names (unless opts->dotfiles), opens it beneath the root,
 * serves a directory's index.html (or its listing, with opts->listing),
 * redirects a directory named without its trailing slash (the query kept),
 * and swaps in a precompressed sibling (name.br, name.zst, name.gz) that is fit to send
 * (a regular file no older than the file) when the request accepts its coding.
 * A listing is JSON when the request's Accept prefers application/json
 * (ws_site_wants_json). With opts->fallback, a path that does not exist
 * (ENOENT, ENOTDIR: not a refused hidden name, not an escape from the root,
 * not a directory) and looks like a page (ws_site_wants_fallback) is served
 * the fallback file instead, as if it had been asked for.
 * With a cache (the calling worker's own, or NULL), a small file comes back as
 * its cached contents (mem) when the cache knows it unchanged
 * (ws_file_cache_lookup: by the watch's epoch with no system call, else by a
 * stat), and is cached after a slow-path open (ws_file_cache_fill). synced
 * says that the watch was synced after the request's first byte arrived
 * (watch.h), which spares the worker the sync. buf (buf_size bytes) holds the
 * decoded path and the Location value; when it is too small for them the
 * status is 414. Never blocks on a FIFO.
 */
void ws_static_open(const struct ws_static_opts *opts, struct ws_file_cache *cache, int synced,
                    const struct ws_request *req, char *buf, size_t buf_size,
                    struct ws_static_result *out);

/*
 * Opens the file of a result with open_later set (its name is in out->name):
 * 0 with out->fd open and open_later clear, or -1 when it is gone or is no
 * longer the identity out->st says (the caller then resolves the request
 * again without the cache).
 */
int ws_static_open_now(const struct ws_static_opts *opts, struct ws_static_result *out);

/*
 * Opens the custom page for an error status, "<status>.html" beneath dir_fd
 * (the --error-pages directory, -1 for none). Returns the descriptor with *st
 * filled in, or -1 when there is no such regular file.
 */
int ws_static_error_page(int dir_fd, int status, struct stat *st);

/*
 * Opens rel (relative, "" for the root itself) beneath root_fd so that the
 * result is inside the root even if a symlink or a concurrent rename would lead
 * elsewhere: with openat2(RESOLVE_BENEATH) where the kernel has it, otherwise by
 * opening and then checking the opened file's real path. Returns the descriptor
 * or -errno (-EXDEV or -ELOOP for an escape).
 */
int ws_open_beneath(int root_fd, const char *rel, int flags);

/*
 * Which method ws_open_beneath uses: 1 for openat2, 2 for the checked open.
 * The first call (normally at start-up, from one thread) probes the kernel.
 */
int ws_open_beneath_mode(int root_fd);

#endif
