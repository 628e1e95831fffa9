/*
 * server/static_file.c - request path to open file, kept inside the root; see static_file.h.
 *
 * Path safety has two independent walls. ws_path_normalize removes every "."
 * and ".." segment textually (and rejects a ".." above the root), so no name we
 * ask the kernel for contains one. ws_open_beneath then makes the kernel itself
 * refuse any resolution, through symlinks or ".." entries created by renames,
 * that would leave the root.
 *
 * A request goes through named steps: resolve_path, then try_cache (the
 * worker's file cache, which owns its freshness protocol), else open_file
 * (redirect, index, listing), choose_encoding and cache_file. Which
 * precompressed sibling is sent is decided by choose_coding alone, over the
 * one table codings[], on both paths.
 */
#include "server/static_file.h"

#include "server/file_cache.h"
#include "server/watch.h"
#include "http/listing.h"
#include "http/mime.h"
#include "http/negotiate.h"
#include "http/path.h"
#include "http/site.h"

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

/* How every file served is opened: a FIFO cannot block a worker. */
static const int open_flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;

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

/*
 * The precompressed siblings looked for, one row each: the one description of
 * the set, for the slow path's opens and the cache's records alike. A new
 * coding is a row here (and its value in negotiate.h).
 */
static const struct ws_file_sibling codings[] = {
    { ".br", WS_ENC_BR, "br" },
    { ".zst", WS_ENC_ZSTD, "zstd" },
    { ".gz", WS_ENC_GZIP, "gzip" },
};

#define N_CODINGS (sizeof(codings) / sizeof(codings[0]))
_Static_assert(N_CODINGS <= WS_FILE_SIBLINGS_MAX, "the file cache's records hold every sibling");

/*
 * The one choice of what to send: given avail (bit i: codings[i]'s sibling is
 * fit to send, ws_file_sibling_fit), the index in codings[] of the sibling
 * the request's Accept-Encoding prefers, or -1 for the file itself.
 */
static int choose_coding(const struct ws_request *req, unsigned avail)
{
    unsigned encodings = 0;
    enum ws_encoding chosen;

    for (unsigned i = 0; i < N_CODINGS; i++)
        if (avail & (1u << i))
            encodings |= 1u << codings[i].enc;
    if (encodings == 0)
        return -1;
    chosen = ws_negotiate_encoding(req, encodings);
    for (unsigned i = 0; i < N_CODINGS; i++)
        if ((avail & (1u << i)) && codings[i].enc == chosen)
            return (int)i;
    return -1;
}

/* choose_coding as the file cache calls it (ws_file_choice). */
static int choose_for_request(const void *req, unsigned avail)
{
    return choose_coding(req, avail);
}

/* Whether the request accepts any coding we could have a sibling for. */
static int wants_coding(const struct ws_request *req)
{
    return choose_coding(req, (1u << N_CODINGS) - 1) >= 0;
}

/*
 * Appends codings[k]'s suffix to the name in buf (len bytes) if buf_size
 * leaves room for it and its NUL. Returns the sibling's name length, or 0.
 */
static size_t with_suffix(char *buf, size_t len, size_t buf_size, unsigned k)
{
    size_t suffix_len = strlen(codings[k].suffix);

    if (len + suffix_len + 1 > buf_size)
        return 0;
    memcpy(buf + len, codings[k].suffix, suffix_len + 1);
    return len + suffix_len;
}

/*
 * Replaces out->fd with a precompressed sibling of the file named in buf
 * (rel_len bytes) when one is fit to send and the client accepts its coding;
 * buf then names the sibling (out->name_len bytes). Siblings are looked for
 * only when the client accepts a coding; every response of a compressible
 * type says Vary: Accept-Encoding anyway (as nginx's gzip_vary does), so
 * caches are right without the lookup.
 */
static void choose_encoding(const struct ws_static_opts *o, const struct ws_request *req, char *buf,
                            size_t rel_len, size_t buf_size, struct ws_static_result *out)
{
    int fds[N_CODINGS];
    struct stat st[N_CODINGS];
    unsigned avail = 0;
    int k;

    out->vary = ws_mime_compressible(out->content_type);
    if (!out->vary || !wants_coding(req))
        return;
    for (unsigned i = 0; i < N_CODINGS; i++) {
        fds[i] = with_suffix(buf, rel_len, buf_size, i) > 0
                     ? ws_open_beneath(o->root_fd, buf, open_flags)
                     : -1;
        if (fds[i] < 0)
            continue;
        if (fstat(fds[i], &st[i]) == 0 && ws_file_sibling_fit(&st[i], &out->st)) {
            avail |= 1u << i;
        } else {
            close(fds[i]);
            fds[i] = -1;
        }
    }
    k = choose_coding(req, avail);
    for (unsigned i = 0; i < N_CODINGS; i++)
        if (fds[i] >= 0 && (int)i != k)
            close(fds[i]);
    buf[rel_len] = '\0';
    if (k < 0)
        return;
    close(out->fd);
    out->fd = fds[k];
    out->st = st[k];
    out->content_encoding = codings[k].coding;
    out->name_len = with_suffix(buf, rel_len, buf_size, (unsigned)k); /* what is cached */
}

static const char index_name[] = "index.html";

/*
 * Appends "/index.html" (or "index.html" to the root's "") to the directory
 * named in buf, *len bytes, updating *len. 0 when buf_size leaves no room.
 */
static int append_index(char *buf, size_t *len, size_t buf_size)
{
    if (*len + 1 + sizeof(index_name) > buf_size)
        return 0;
    buf[*len] = '/';
    memcpy(buf + *len + (*len > 0), index_name, sizeof(index_name));
    *len += (*len > 0) + sizeof(index_name) - 1;
    return 1;
}

/* Opens name beneath the root if it still has the identity *id. The descriptor, or -1. */
static int open_known(const struct ws_static_opts *o, const char *name, const struct stat *id)
{
    int fd = ws_open_beneath(o->root_fd, name, open_flags);
    struct stat st;

    if (fd >= 0 && (fstat(fd, &st) < 0 || !ws_file_same_identity(&st, id))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/*
 * A hit on a sibling too large to keep (hit->body NULL): opens it, if it
 * still has the identity the cache knew. The descriptor, or -1. buf names
 * the file again on return.
 */
static int open_sibling_hit(const struct ws_static_opts *o, char *buf, size_t name_len,
                            size_t buf_size, const struct ws_file_hit *hit)
{
    int fd = with_suffix(buf, name_len, buf_size, (unsigned)hit->sibling) > 0
                 ? open_known(o, buf, &hit->st)
                 : -1;

    buf[name_len] = '\0';
    return fd;
}

int ws_static_open_now(const struct ws_static_opts *o, struct ws_static_result *out)
{
    out->fd = open_known(o, out->name, &out->st);
    if (out->fd < 0)
        return -1;
    out->open_later = 0;
    return 0;
}

/*
 * The fast path: the file named by buf[0..rel_len) (the directory form's
 * index.html), or the sibling the request's Accept-Encoding chooses, is in
 * the worker's cache and known to be unchanged (ws_file_cache_lookup). Returns
 * 1 with *out filled, or 0 to take the slow path (buf is then as it was).
 */
static int try_cache(const struct ws_static_opts *o, struct ws_file_cache *cache, int synced,
                     const struct ws_request *req, char *buf, size_t rel_len, int is_dir,
                     size_t buf_size, struct ws_static_result *out)
{
    const struct ws_file_origin origin = { .root_fd = o->root_fd, .watch = o->watch };
    const struct ws_file_choice choice = {
        .siblings = codings,
        .count = N_CODINGS,
        .choose = choose_for_request,
        .arg = req,
    };
    struct ws_file_hit hit;
    size_t name_len = rel_len;
    const char *type;
    int vary;

    if (is_dir && !append_index(buf, &name_len, buf_size))
        return 0;
    type = ws_mime_lookup(o->mime, buf, name_len);
    vary = ws_mime_compressible(type);
    if (!ws_file_cache_lookup(cache, &origin, synced, buf,
                              vary && wants_coding(req) ? &choice : NULL, &hit) ||
        (hit.body == NULL && hit.sibling >= 0 &&
         (out->fd = open_sibling_hit(o, buf, name_len, buf_size, &hit)) < 0)) {
        buf[rel_len] = '\0';
        out->fd = -1;
        return 0;
    }
    out->status = 200;
    out->mem = hit.body;
    out->open_later = hit.body == NULL && hit.sibling < 0; /* the file itself, opened on demand */
    out->st = hit.st;
    out->content_type = type;
    out->content_encoding = hit.sibling >= 0 ? codings[hit.sibling].coding : NULL;
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
static void list_directory(const struct ws_static_opts *o, const struct ws_request *req, int dir_fd,
                           char *buf, size_t rel_len, size_t buf_size, struct ws_static_result *out)
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
        int is_symlink = de->d_type == DT_LNK;

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
            if (de->d_type == DT_UNKNOWN) {
                struct stat lst;
                is_symlink = fstatat(dirfd(dir), de->d_name, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
                             S_ISLNK(lst.st_mode);
            }
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
        entries[n].is_symlink = is_symlink;
        entries[n].is_other = !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode);
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
    out->vary_accept = 1;
    if (ws_site_wants_json(req)) {
        out->listing = ws_listing_json(entries, n, &out->listing_len);
        out->content_type = "application/json";
    } else {
        out->listing = ws_listing_html(title, entries, n, &out->listing_len);
        out->content_type = "text/html; charset=utf-8";
    }
    if (out->listing != NULL)
        out->status = 200;

done:
    for (size_t i = 0; i < n; i++)
        free((char *)(uintptr_t)entries[i].name);
    free(entries);
    free(title);
    closedir(dir);
}

/*
 * Decodes and normalises the request's path into buf (rel_len bytes; is_dir
 * when it ends in a slash) and refuses hidden names. 0 with out->status set
 * when the request ends here.
 */
static int resolve_path(const struct ws_static_opts *o, const struct ws_request *req, char *buf,
                        size_t buf_size, size_t *rel_len, int *is_dir, struct ws_static_result *out)
{
    int rc = ws_path_normalize(req->path.ptr, req->path.len, buf, buf_size, rel_len, is_dir);

    if (rc < 0) {
        out->status = -rc;
        return 0;
    }
    if (!o->dotfiles && has_hidden_segment(buf, *rel_len)) {
        out->status = 404; /* .git/, .env, .htpasswd: as if absent */
        return 0;
    }
    return 1;
}

/*
 * Opens rel beneath the root and fstats it into *st. The descriptor, or
 * -errno of the open (-EIO when the fstat fails: a 500).
 */
static int open_and_stat(const struct ws_static_opts *o, const char *rel, struct stat *st)
{
    int fd = ws_open_beneath(o->root_fd, rel, open_flags);

    if (fd < 0)
        return fd;
    if (fstat(fd, st) < 0) {
        close(fd);
        return -EIO;
    }
    return fd;
}

/*
 * A directory named without its trailing slash (buf, rel_len bytes): 301 to
 * the slashed path, the query kept. The Location goes after the path in buf.
 */
static void redirect_to_directory(const struct ws_request *req, char *buf, size_t rel_len,
                                  size_t buf_size, struct ws_static_result *out)
{
    char *loc = buf + rel_len + 1;
    size_t room = buf_size - rel_len - 1;
    int n = ws_path_encode(buf, rel_len, 1, loc, room);

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
}

/*
 * Serves the directory named in buf (*rel_len bytes) and open as dir_fd
 * (taken over) by its index.html: returns that open, with buf and *rel_len
 * naming it and out->st its fstat. Without one: a listing (opts->listing) or
 * 403. -1 with out set when the response is not a file.
 */
static int open_index(const struct ws_static_opts *o, const struct ws_request *req, int dir_fd,
                      char *buf, size_t *rel_len, size_t buf_size, struct ws_static_result *out)
{
    size_t dir_len = *rel_len;
    int fd;

    if (!append_index(buf, rel_len, buf_size)) {
        close(dir_fd);
        out->status = 414;
        return -1;
    }
    fd = open_and_stat(o, buf, &out->st);
    if (fd == -ENOENT && o->listing) {
        *rel_len = dir_len;
        buf[dir_len] = '\0';
        list_directory(o, req, dir_fd, buf, dir_len, buf_size, out);
        return -1;
    }
    close(dir_fd);
    if (fd < 0) {
        /* A directory without an index is not listed. */
        out->status = fd == -ENOENT ? 403 : status_for_errno(-fd);
        return -1;
    }
    return fd;
}

/*
 * The slow path's open: the regular file the path in buf (*rel_len bytes)
 * names, or a directory's index.html (buf and *rel_len then name it), with
 * out->st its fstat. -1 with out set when the response is not a file: an
 * error, a redirect, a listing.
 */
static int open_file(const struct ws_static_opts *o, const struct ws_request *req, char *buf,
                     size_t *rel_len, int is_dir, size_t buf_size, struct ws_static_result *out)
{
    int fd = open_and_stat(o, buf, &out->st);

    if (fd < 0) {
        out->status = status_for_errno(-fd);
        out->missing = fd == -ENOENT || fd == -ENOTDIR;
        return -1;
    }
    if (is_dir && !S_ISDIR(out->st.st_mode)) {
        /* "/file/" names a directory, and there is none (like ENOTDIR): RFC 3986 §3.3. */
        close(fd);
        out->status = 404;
        return -1;
    }
    if (S_ISDIR(out->st.st_mode)) {
        if (!is_dir) {
            close(fd);
            redirect_to_directory(req, buf, *rel_len, buf_size, out);
            return -1;
        }
        fd = open_index(o, req, fd, buf, rel_len, buf_size, out);
        if (fd < 0)
            return -1;
    }
    if (!S_ISREG(out->st.st_mode)) {
        close(fd);
        out->status = 403; /* FIFOs, sockets, devices, and directories named index.html */
        return -1;
    }
    return fd;
}

/*
 * Caches the small file open as out->fd, named in buf (the sibling's name
 * when one is sent), and swaps the descriptor for the cached contents.
 */
static void cache_file(const struct ws_static_opts *o, struct ws_file_cache *cache, const char *buf,
                       struct ws_static_result *out)
{
    const struct ws_file_origin origin = { .root_fd = o->root_fd, .watch = o->watch };
    const char *body = ws_file_cache_fill(cache, &origin, buf, out->fd, &out->st);

    if (body != NULL) {
        close(out->fd);
        out->fd = -1;
        out->mem = body;
    }
}

void ws_static_open(const struct ws_static_opts *o, struct ws_file_cache *cache, int synced,
                    const struct ws_request *req, char *buf, size_t buf_size,
                    struct ws_static_result *out)
{
    size_t rel_len;
    int is_dir, vary_accept;

    memset(out, 0, sizeof(*out));
    out->fd = -1;
    if (!resolve_path(o, req, buf, buf_size, &rel_len, &is_dir, out))
        return;
    if (cache != NULL && try_cache(o, cache, synced, req, buf, rel_len, is_dir, buf_size, out))
        return;
    out->fd = open_file(o, req, buf, &rel_len, is_dir, buf_size, out);
    /* A dotted name gets the fallback or a 404 by Accept: either says Vary: Accept. */
    vary_accept =
        out->fd < 0 && out->missing && o->fallback != NULL && ws_site_dotted_name(buf, rel_len);
    out->vary_accept |= vary_accept;
    if (out->fd < 0 && out->missing && o->fallback != NULL &&
        ws_site_wants_fallback(req, buf, rel_len)) {
        /* A single-page application's route: its page, with the page's own validators. */
        rel_len = strlen(o->fallback);
        if (rel_len + 1 > buf_size)
            return;
        memcpy(buf, o->fallback, rel_len + 1);
        memset(out, 0, sizeof(*out));
        out->fd = -1;
        out->vary_accept = vary_accept;
        if (cache != NULL && try_cache(o, cache, synced, req, buf, rel_len, 0, buf_size, out))
            return;
        out->fd = open_file(o, req, buf, &rel_len, 0, buf_size, out);
    }
    if (out->fd < 0)
        return;
    out->status = 200;
    out->content_type = ws_mime_lookup(o->mime, buf, rel_len);
    out->name = buf;
    out->name_len = rel_len;
    choose_encoding(o, req, buf, rel_len, buf_size, out);
    if (cache != NULL)
        cache_file(o, cache, buf, out);
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
    fd = ws_open_beneath(dir_fd, name, open_flags);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}
