/*
 * static_file.c - request path to open file, kept inside the root; see static_file.h.
 *
 * Path safety has two independent walls. ws_path_normalize removes every "."
 * and ".." segment textually (and rejects a ".." above the root), so no name we
 * ask the kernel for contains one. ws_open_beneath then makes the kernel itself
 * refuse any resolution, through symlinks or ".." entries created by renames,
 * that would leave the root.
 */
#include "static_file.h"

#include "mime.h"
#include "path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Whether openat2 works here: 0 not yet known, 1 yes, 2 no (a kernel older than
 * 5.6 answers ENOSYS; some container seccomp filters answer EPERM). Decided once,
 * by the first call, so a later EPERM on a real file is never taken for "no".
 */
static atomic_int openat2_state;

/*
 * The fallback for kernels without openat2: open normally, then ask the kernel
 * where the opened file really is and refuse it unless that is inside the
 * root. Checking the descriptor we hold (not the name) leaves no window for a
 * rename or symlink swap between the check and the use.
 */
static int open_checked(int root_fd, const char *rel, int flags)
{
    char link[64], root_path[PATH_MAX], file_path[PATH_MAX];
    ssize_t rn, fn;
    int fd;

    fd = openat(root_fd, rel[0] ? rel : ".", flags);
    if (fd < 0)
        return -errno;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", root_fd);
    rn = readlink(link, root_path, sizeof(root_path) - 1);
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    fn = readlink(link, file_path, sizeof(file_path) - 1);
    if (rn <= 0 || fn <= 0) {
        close(fd);
        return -EACCES;
    }
    if (fn < rn || memcmp(root_path, file_path, (size_t)rn) != 0 ||
        (fn > rn && file_path[rn] != '/' && !(rn == 1 && root_path[0] == '/'))) {
        close(fd);
        return -EXDEV;
    }
    return fd;
}

static long call_openat2(int dir_fd, const char *rel, int flags)
{
    struct open_how how;

    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return syscall(SYS_openat2, dir_fd, rel[0] ? rel : ".", &how, sizeof(how));
}

int ws_open_beneath_mode(int root_fd)
{
    int state = atomic_load_explicit(&openat2_state, memory_order_relaxed);

    if (state == 0) {
        long fd = call_openat2(root_fd, "", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            close((int)fd);
            state = 1;
        } else {
            state = (errno == ENOSYS || errno == EPERM) ? 2 : 1;
        }
        atomic_store_explicit(&openat2_state, state, memory_order_relaxed);
    }
    return state;
}

int ws_open_beneath(int root_fd, const char *rel, int flags)
{
    if (ws_open_beneath_mode(root_fd) == 1) {
        long fd = call_openat2(root_fd, rel, flags);
        return fd >= 0 ? (int)fd : -errno;
    }
    return open_checked(root_fd, rel, flags);
}

static int status_for_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case ELOOP:
    case EXDEV: /* an escape from the root looks like nothing at all */ return 404;
    case EACCES:
    case EPERM:
    case ENXIO: /* a Unix socket, or a device without its driver */
    case ENODEV: return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM: return 503;
    default: return 500;
    }
}

void ws_static_open(int root_fd, struct ws_view path, struct ws_view query, char *buf,
                    size_t buf_size, struct ws_static_result *out)
{
    static const char index_name[] = "index.html";
    const int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    size_t rel_len;
    int is_dir, rc, fd;

    memset(out, 0, sizeof(*out));
    out->fd = -1;

    rc = ws_path_normalize(path.ptr, path.len, buf, buf_size, &rel_len, &is_dir);
    if (rc < 0) {
        out->status = -rc;
        return;
    }
    fd = ws_open_beneath(root_fd, buf, flags);
    if (fd < 0) {
        out->status = status_for_errno(-fd);
        return;
    }
    if (fstat(fd, &out->st) < 0) {
        close(fd);
        out->status = 500;
        return;
    }

    if (S_ISDIR(out->st.st_mode)) {
        close(fd);
        if (!is_dir) {
            /* The Location goes after the decoded path in buf. */
            char *loc = buf + rel_len + 1;
            size_t room = buf_size - rel_len - 1;
            int n = ws_path_encode(buf, rel_len, 1, loc, room);
            if (n < 0 || (query.len > 0 && (size_t)n + 1 + query.len >= room)) {
                out->status = 414;
                return;
            }
            if (query.len > 0) {
                /* The query was validated by the parser: no spaces or controls. */
                loc[n] = '?';
                memcpy(loc + n + 1, query.ptr, query.len);
                loc[n + 1 + query.len] = '\0';
            }
            out->location = loc;
            out->status = 301;
            return;
        }
        if (rel_len + 1 + sizeof(index_name) > buf_size) {
            out->status = 414;
            return;
        }
        if (rel_len > 0)
            buf[rel_len++] = '/';
        memcpy(buf + rel_len, index_name, sizeof(index_name));
        rel_len += sizeof(index_name) - 1;
        fd = ws_open_beneath(root_fd, buf, flags);
        if (fd < 0) {
            /* A directory without an index is not listed. */
            out->status = (fd == -ENOENT) ? 403 : status_for_errno(-fd);
            return;
        }
        if (fstat(fd, &out->st) < 0) {
            close(fd);
            out->status = 500;
            return;
        }
    }

    if (!S_ISREG(out->st.st_mode)) {
        close(fd);
        out->status = 403; /* FIFOs, sockets, devices, and directories named index.html */
        return;
    }
    out->fd = fd;
    out->status = 200;
    out->content_type = ws_mime_type(buf, rel_len);
}
