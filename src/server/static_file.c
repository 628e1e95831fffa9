/*
 * server/static_file.c - request path to open file, kept inside the root; see static_file.h.
 *
 * Path safety has two independent walls. ws_path_normalize removes every "."
 * and ".." segment textually (and rejects a ".." above the root), so no name we
 * ask the kernel for contains one. ws_open_beneath then makes the kernel itself
 * refuse any resolution, through symlinks or ".." entries created by renames,
 * that would leave the root.
 */
#include "server/static_file.h"

#include "server/file_cache.h"
#include "server/watch.h"
#include "http/listing.h"
#include "http/mime.h"
#include "http/negotiate.h"
#include "http/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * Whether a rel path has a segment starting with '.', other than
 * ".well-known" (RFC 8615: ACME challenges, security.txt and friends must work).
 */
static int has_hidden_segment(const char *rel, size_t len)
{
    static const char well_known[] = ".well-known";
    size_t i = 0;

    while (i < len) {
        size_t start = i;
        while (i < len && rel[i] != '/')
            i++;
        if (rel[start] == '.' && !(i - start == sizeof(well_known) - 1 &&
                                   memcmp(rel + start, well_known, i - start) == 0))
            return 1;
        i++;
    }
    return 0;
}

/* Types worth looking for a precompressed sibling of; images and archives are not. */
static int compressible(const char *type)
{
    return strncmp(type, "text/", 5) == 0 || strstr(type, "json") != NULL ||
           strstr(type, "xml") != NULL || strstr(type, "javascript") != NULL ||
           strstr(type, "wasm") != NULL || strncmp(type, "font/ttf", 8) == 0 ||
           strncmp(type, "font/otf", 8) == 0;
}

static int not_older(const struct stat *sibling, const struct stat *orig)
{
    if (sibling->st_mtim.tv_sec != orig->st_mtim.tv_sec)
        return sibling->st_mtim.tv_sec > orig->st_mtim.tv_sec;
    return sibling->st_mtim.tv_nsec >= orig->st_mtim.tv_nsec;
}

static const struct {
    const char *suffix; /* 3 characters */
    enum ws_encoding enc;
    const char *name;
} codings[] = { { ".br", WS_ENC_BR, "br" }, { ".gz", WS_ENC_GZIP, "gzip" } };

/* Whether the request accepts any coding we could have a sibling for. */
static int wants_coding(const struct ws_request *req)
{
    return ws_negotiate_encoding(req, (1u << WS_ENC_BR) | (1u << WS_ENC_GZIP)) != WS_ENC_IDENTITY;
}

/*
 * Replaces out->fd with a precompressed sibling (name.br, name.gz) when one
 * exists, is a regular file no older than the original, and the client
 * accepts its coding. Siblings are looked for only when the client accepts a
 * coding; every response of a compressible type says Vary: Accept-Encoding
 * anyway (as nginx's gzip_vary does), so caches are right without the lookup.
 */
static void choose_encoding(const struct ws_static_opts *o, const struct ws_request *req, char *buf,
                            size_t rel_len, size_t buf_size, struct ws_static_result *out)
{
    int fds[2] = { -1, -1 };
    struct stat st[2];
    unsigned available = 0;
    enum ws_encoding chosen;

    out->vary = compressible(out->content_type);
    if (rel_len + 4 > buf_size || !out->vary || !wants_coding(req))
        return;
    for (size_t i = 0; i < 2; i++) {
        memcpy(buf + rel_len, codings[i].suffix, 4);
        fds[i] = ws_open_beneath(o->root_fd, buf, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fds[i] < 0)
            continue;
        if (fstat(fds[i], &st[i]) == 0 && S_ISREG(st[i].st_mode) && not_older(&st[i], &out->st)) {
            available |= 1u << codings[i].enc;
        } else {
            close(fds[i]);
            fds[i] = -1;
        }
    }
    chosen = available ? ws_negotiate_encoding(req, available) : WS_ENC_IDENTITY;
    for (size_t i = 0; i < 2; i++) {
        if (fds[i] < 0)
            continue;
        if (codings[i].enc == chosen) {
            close(out->fd);
            out->fd = fds[i];
            out->st = st[i];
            out->content_encoding = codings[i].name;
            memcpy(buf + rel_len, codings[i].suffix, 4);
            out->name_len = rel_len + 3; /* the cache key is the sibling's name */
        } else {
            close(fds[i]);
        }
    }
    if (chosen == WS_ENC_IDENTITY)
        buf[rel_len] = '\0';
}

/* The index in codings[] of a coding, or -1 (identity). */
static int coding_index(enum ws_encoding e)
{
    for (int i = 0; i < 2; i++)
        if (codings[i].enc == e)
            return i;
    return -1;
}

/*
 * Appends codings[k]'s suffix to the name in buf (name_len bytes, room for 4
 * more) unless k is -1. Returns the length of the name of what is sent.
 */
static size_t with_suffix(char *buf, size_t name_len, int k)
{
    if (k < 0)
        return name_len;
    memcpy(buf + name_len, codings[k].suffix, 4);
    return name_len + 3;
}

/*
 * Watches a file and those of its siblings that were found (found->present),
 * for the record of what is available; buf holds the file's name, name_len
 * bytes, and room for a suffix. Returns 1 when all of them are watched.
 */
static int watch_codings(const struct ws_static_opts *o, char *buf, size_t name_len,
                         const struct ws_file_codings *found)
{
    int ok = ws_watch_file(o->watch, o->root_fd, buf, &found->st[0]) == 0;

    for (size_t i = 0; ok && i < 2; i++)
        if (found->present & (2u << i)) {
            memcpy(buf + name_len, codings[i].suffix, 4);
            ok = ws_watch_file(o->watch, o->root_fd, buf, &found->st[1 + i]) == 0;
        }
    buf[name_len] = '\0';
    return ok;
}

/*
 * The fast path: the file named by buf[0..name_len) (and, if the client
 * accepts a coding, its fresh sibling) is in the worker's cache and unchanged
 * on disk. While the watch's epoch has not moved since the entry (and, for a
 * request accepting a coding, the record of which siblings are fit to send)
 * was last checked, that needs no system call beyond the watch's sync;
 * otherwise one stat per candidate replaces open, fstat, read and close.
 * Returns 1 with *out filled, or 0 to take the slow path (buf is then as it
 * was).
 */
static int try_cache(const struct ws_static_opts *o, struct ws_file_cache *cache, int synced,
                     const struct ws_request *req, char *buf, size_t name_len, size_t buf_size,
                     struct ws_static_result *out)
{
    struct ws_file_codings found;
    struct stat st;
    const char *type = ws_mime_lookup(o->mime, buf, name_len), *body;
    int vary = compressible(type);
    int coded = vary && name_len + 4 <= buf_size && wants_coding(req);
    enum ws_encoding chosen = WS_ENC_IDENTITY;
    uint64_t epoch = 0;
    int k; /* index in codings[] of what is sent, or -1 for the file itself */

    buf[name_len] = '\0';
    if (o->watch != NULL) {
        /* Read before any stat below: whatever is found unchanged is fresh as of it. */
        epoch = synced ? ws_watch_epoch(o->watch) : ws_watch_sync(o->watch);
        if (coded) {
            int avail = ws_file_cache_codings(cache, buf, name_len, epoch);
            if (avail < 0)
                goto stat_path;
            chosen = avail > 0 ? ws_negotiate_encoding(req, (unsigned)avail) : WS_ENC_IDENTITY;
        }
        k = coding_index(chosen);
        body = ws_file_cache_fresh(cache, buf, with_suffix(buf, name_len, k), epoch, &st);
        buf[name_len] = '\0';
        if (body != NULL)
            goto hit;
    }

stat_path:
    chosen = WS_ENC_IDENTITY;
    if (fstatat(o->root_fd, name_len ? buf : ".", &found.st[0], 0) < 0 ||
        !S_ISREG(found.st[0].st_mode))
        return 0;
    found.present = 1;
    found.avail = 0;
    st = found.st[0];
    if (coded) {
        for (size_t i = 0; i < 2; i++) {
            struct stat *sib = &found.st[1 + i];
            memcpy(buf + name_len, codings[i].suffix, 4);
            if (fstatat(o->root_fd, buf, sib, 0) == 0 && S_ISREG(sib->st_mode)) {
                found.present |= 2u << i;
                if (not_older(sib, &found.st[0]))
                    found.avail |= 1u << codings[i].enc;
            }
        }
        buf[name_len] = '\0';
        chosen = found.avail ? ws_negotiate_encoding(req, found.avail) : WS_ENC_IDENTITY;
        if (o->watch != NULL && ws_file_cache_codings_seen(cache, buf, name_len, &found, epoch) &&
            watch_codings(o, buf, name_len, &found))
            ws_file_cache_codings_watched(cache, buf, name_len, &found);
    }
    k = coding_index(chosen);
    st = found.st[k + 1]; /* the file itself for k = -1 */
    body = ws_file_cache_find(cache, buf, with_suffix(buf, name_len, k), &st, epoch);
    buf[name_len] = '\0';
    if (body == NULL)
        return 0;

hit:
    out->content_encoding = k >= 0 ? codings[k].name : NULL;
    out->status = 200;
    out->mem = body;
    out->st = st;
    out->content_type = type;
    out->vary = vary;
    out->name = buf;
    out->name_len = name_len;
    return 1;
}

/* Most entries a listing shows; a larger directory is listed in part. */
#define LISTING_MAX_ENTRIES 10000

/*
 * Builds the listing of the directory rel (open as dir_fd, which this takes
 * over) into out->listing. Hidden entries are left out unless dotfiles are
 * served; a symlink is shown only if it resolves inside the root.
 */
static void list_directory(const struct ws_static_opts *o, int dir_fd, char *buf, size_t rel_len,
                           size_t buf_size, struct ws_static_result *out)
{
    struct ws_listing_entry *entries = NULL;
    size_t n = 0, cap = 0;
    char *title = NULL;
    struct dirent *de;
    DIR *dir = fdopendir(dir_fd);

    out->status = 500;
    if (dir == NULL) {
        close(dir_fd);
        return;
    }
    while (n < LISTING_MAX_ENTRIES && (de = readdir(dir)) != NULL) {
        struct stat st;
        size_t name_len = strlen(de->d_name);

        if (de->d_name[0] == '.' && (name_len <= 2 && (name_len == 1 || de->d_name[1] == '.')))
            continue; /* "." and ".." */
        if (de->d_name[0] == '.' && !o->dotfiles)
            continue;
        if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) {
            /* Resolve it the way a request would, so nothing outside the root shows. */
            int fd;
            if (rel_len + 1 + name_len + 1 > buf_size)
                continue;
            buf[rel_len] = rel_len > 0 ? '/' : '\0';
            memcpy(buf + rel_len + (rel_len > 0), de->d_name, name_len + 1);
            fd = ws_open_beneath(o->root_fd, buf, O_PATH | O_CLOEXEC);
            buf[rel_len] = '\0';
            if (fd < 0)
                continue;
            if (fstat(fd, &st) < 0) {
                close(fd);
                continue;
            }
            close(fd);
        } else if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (n == cap) {
            size_t new_cap = cap ? cap * 2 : 64;
            struct ws_listing_entry *grown = realloc(entries, new_cap * sizeof(*entries));
            if (grown == NULL)
                goto done;
            entries = grown;
            cap = new_cap;
        }
        entries[n].name = strdup(de->d_name);
        if (entries[n].name == NULL)
            goto done;
        entries[n].is_dir = S_ISDIR(st.st_mode);
        entries[n].size = (uint64_t)st.st_size;
        entries[n].mtime = st.st_mtime;
        n++;
    }

    /* The title is the directory's URL path: "/" + rel + "/". */
    title = malloc(rel_len + 3);
    if (title == NULL)
        goto done;
    title[0] = '/';
    memcpy(title + 1, buf, rel_len);
    if (rel_len > 0)
        title[1 + rel_len++] = '/';
    title[1 + rel_len] = '\0';
    out->listing = ws_listing_html(title, entries, n, &out->listing_len);
    if (out->listing != NULL) {
        out->status = 200;
        out->content_type = "text/html; charset=utf-8";
    }

done:
    for (size_t i = 0; i < n; i++)
        free((char *)(uintptr_t)entries[i].name);
    free(entries);
    free(title);
    closedir(dir);
}

void ws_static_open(const struct ws_static_opts *o, struct ws_file_cache *cache, int synced,
                    const struct ws_request *req, char *buf, size_t buf_size,
                    struct ws_static_result *out)
{
    static const char index_name[] = "index.html";
    const int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    size_t rel_len;
    int is_dir, rc, fd;

    memset(out, 0, sizeof(*out));
    out->fd = -1;

    rc = ws_path_normalize(req->path.ptr, req->path.len, buf, buf_size, &rel_len, &is_dir);
    if (rc < 0) {
        out->status = -rc;
        return;
    }
    if (!o->dotfiles && has_hidden_segment(buf, rel_len)) {
        out->status = 404; /* .git/, .env, .htpasswd: as if absent */
        return;
    }
    if (cache != NULL && !(is_dir && rel_len + 1 + sizeof(index_name) > buf_size)) {
        /* A directory form is served by its index: look that up. */
        size_t name_len = rel_len;
        if (is_dir) {
            buf[rel_len] = '/';
            memcpy(buf + rel_len + (rel_len > 0), index_name, sizeof(index_name));
            name_len += (rel_len > 0) + sizeof(index_name) - 1;
        }
        if (try_cache(o, cache, synced, req, buf, name_len, buf_size, out))
            return;
        buf[rel_len] = '\0';
    }
    fd = ws_open_beneath(o->root_fd, buf, flags);
    if (fd < 0) {
        out->status = status_for_errno(-fd);
        return;
    }
    if (fstat(fd, &out->st) < 0) {
        close(fd);
        out->status = 500;
        return;
    }

    if (is_dir && !S_ISDIR(out->st.st_mode)) {
        /* "/file/" names a directory, and there is none (like ENOTDIR): RFC 3986 §3.3. */
        close(fd);
        out->status = 404;
        return;
    }
    if (S_ISDIR(out->st.st_mode)) {
        if (!is_dir) {
            /* The Location goes after the decoded path in buf. */
            char *loc = buf + rel_len + 1;
            size_t room = buf_size - rel_len - 1;
            int n = ws_path_encode(buf, rel_len, 1, loc, room);
            close(fd);
            if (n < 0 || (req->query.len > 0 && (size_t)n + 1 + req->query.len >= room)) {
                out->status = 414;
                return;
            }
            if (req->query.len > 0) {
                /* The query was validated by the parser: no spaces or controls. */
                loc[n] = '?';
                memcpy(loc + n + 1, req->query.ptr, req->query.len);
                loc[n + 1 + req->query.len] = '\0';
            }
            out->location = loc;
            out->status = 301;
            return;
        }
        if (rel_len + 1 + sizeof(index_name) > buf_size) {
            close(fd);
            out->status = 414;
            return;
        }
        buf[rel_len] = '/';
        memcpy(buf + rel_len + (rel_len > 0), index_name, sizeof(index_name));
        rc = ws_open_beneath(o->root_fd, buf, flags);
        if (rc == -ENOENT && o->listing) {
            buf[rel_len] = '\0';
            list_directory(o, fd, buf, rel_len, buf_size, out);
            return;
        }
        close(fd);
        fd = rc;
        if (fd < 0) {
            /* A directory without an index is not listed. */
            out->status = (fd == -ENOENT) ? 403 : status_for_errno(-fd);
            return;
        }
        rel_len += (rel_len > 0) + sizeof(index_name) - 1;
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
    out->content_type = ws_mime_lookup(o->mime, buf, rel_len);
    out->name = buf;
    out->name_len = rel_len;
    choose_encoding(o, req, buf, rel_len, buf_size, out);
    if (cache != NULL) {
        /* Remember a small file (under the name of what is sent) for next time. */
        const char *body = ws_file_cache_put(cache, buf, out->name_len, out->fd, &out->st);
        if (body != NULL && o->watch != NULL &&
            ws_watch_file(o->watch, o->root_fd, buf, &out->st) == 0) {
            /* Watched from now on; was it changed before the watches were in place? */
            uint64_t epoch = ws_watch_sync(o->watch);
            struct stat now;
            if (fstatat(o->root_fd, buf, &now, 0) == 0)
                ws_file_cache_watched(cache, buf, out->name_len, &now, epoch);
        }
        buf[rel_len] = '\0';
        out->name_len = rel_len;
        if (body != NULL) {
            close(out->fd);
            out->fd = -1;
            out->mem = body;
        }
    }
    buf[rel_len] = '\0';
    out->name_len = rel_len;
}

int ws_static_error_page(int dir_fd, int status, struct stat *st)
{
    char name[16];
    int fd;

    if (dir_fd < 0)
        return -1;
    snprintf(name, sizeof(name), "%d.html", status);
    fd = ws_open_beneath(dir_fd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}
