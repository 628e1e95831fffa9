/*
 * static_file.h - mapping a request path to an open file under the document root.
 *
 * Thread-safe: no shared state beyond the root descriptor, which is only read.
 */
#ifndef WS_STATIC_FILE_H
#define WS_STATIC_FILE_H

#include "http_parser.h"

#include <stddef.h>
#include <sys/stat.h>

struct ws_static_result {
    int status;               /* 200, 301, 400, 403, 404, 414, 500 or 503 */
    int fd;                   /* with 200: the open regular file, the caller's to close */
    struct stat st;           /* with 200: its attributes, from that descriptor */
    const char *content_type; /* with 200 */
    const char *location;     /* with 301: the slashed path, in the caller's buffer */
};

/*
 * Resolves a request path (percent-encoded, as in the request) against the root:
 * decodes and normalises it, opens it beneath root_fd, serves a directory's
 * index.html, and redirects a directory named without its trailing slash (the
 * query, if any, is kept in the Location). buf (buf_size bytes) holds the
 * decoded path and the Location value; when it is too small for them the
 * status is 414. Returns the status in out->status; never blocks on a FIFO.
 */
void ws_static_open(int root_fd, struct ws_view path, struct ws_view query, char *buf,
                    size_t buf_size, struct ws_static_result *out);

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
