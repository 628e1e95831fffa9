/*
 * server/watch.c - change detection for the file cache by inotify; see watch.h.
 *
 * DESIGN
 * One inotify instance for the whole server. Events are not told apart: any
 * event read from the descriptor (of any kind, IN_IGNORED, IN_Q_OVERFLOW)
 * moves the epoch on, and the cache re-stats what it holds. Reading and moving
 * the epoch happen under `lock`, so a thread that finds the queue empty knows
 * that whoever emptied it has already published the new epoch.
 *
 * The cap counts watches in place, not watches ever added: a set of live
 * watch descriptors gains one when inotify_add_watch returns a new one and
 * loses one when its IN_IGNORED event is read (the file was deleted or its
 * file system unmounted). Adding and reading both happen under `lock`, so an
 * IN_IGNORED is never read before the add it undoes was counted. So `lock` is
 * held across inotify_add_watch (and, past the cap, inotify_rm_watch) as well
 * as across the reads: system calls on descriptors already open (the path
 * added is /proc/self/fd/N), which do not wait for I/O. It is never held
 * together with another lock.
 */
#include "server/watch.h"

#include "server/sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define WS_HAVE_OPENAT2 1
#endif
#endif

/* What can change a file's bytes, attributes or existence. */
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_MASK_ADD)
/* What can change where a name leads, or whether the directory may be searched. */
#define DIR_MASK                                                                                   \
    (IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |            \
     IN_MOVE_SELF | IN_ONLYDIR | IN_MASK_ADD)

struct ws_watch {
    int fd;
    unsigned max_watches;
    atomic_uint_fast64_t epoch;
    pthread_mutex_t lock; /* guards what follows, and reading fd */
    unsigned live;        /* watches in place */
    unsigned slots;       /* size of wds: a power of two, more than twice max_watches */
    int *wds;             /* open-addressing set of live watch descriptors (0: empty slot) */
};

struct ws_watch *ws_watch_new(unsigned max_watches)
{
    struct ws_watch *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        int err = errno;
        free(w);
        errno = err;
        return NULL;
    }
    w->max_watches = max_watches;
    w->slots = 16;
    while (w->slots <= 2 * (size_t)max_watches)
        w->slots *= 2;
    w->wds = calloc(w->slots, sizeof(*w->wds));
    if (w->wds == NULL) {
        close(w->fd);
        free(w);
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&w->epoch, 1);
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

/* --- the set of live watch descriptors (lock held) ------------------------- */

static unsigned slot_of(const struct ws_watch *w, int wd)
{
    return ((unsigned)wd * 2654435761u) & (w->slots - 1);
}

/* Adds wd (> 0) to the set. Returns 1 if it was not there. */
static int set_add(struct ws_watch *w, int wd)
{
    unsigned i = slot_of(w, wd);

    while (w->wds[i] != 0) {
        if (w->wds[i] == wd)
            return 0;
        i = (i + 1) & (w->slots - 1);
    }
    w->wds[i] = wd;
    w->live++;
    return 1;
}

/* Removes wd from the set if it is there (linear probing: shift the run back). */
static void set_remove(struct ws_watch *w, int wd)
{
    unsigned i = slot_of(w, wd), j;

    while (w->wds[i] != wd) {
        if (w->wds[i] == 0)
            return;
        i = (i + 1) & (w->slots - 1);
    }
    w->wds[i] = 0;
    w->live--;
    for (j = (i + 1) & (w->slots - 1); w->wds[j] != 0; j = (j + 1) & (w->slots - 1)) {
        unsigned home = slot_of(w, w->wds[j]);
        /* Move wds[j] into the hole unless its home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            w->wds[i] = w->wds[j];
            w->wds[j] = 0;
            i = j;
        }
    }
}

void ws_watch_free(struct ws_watch *w)
{
    if (w == NULL)
        return;
    close(w->fd);
    pthread_mutex_destroy(&w->lock);
    free(w->wds);
    free(w);
}

/*
 * File systems on which every change passes through this kernel, so inotify
 * sees it. Network and FUSE file systems can change under us unannounced.
 */
static int local_fs(long type)
{
    static const long local[] = {
        0xEF53,     /* ext2, ext3, ext4 */
        0x58465342, /* xfs */
        0x9123683E, /* btrfs */
        0x01021994, /* tmpfs */
        0x858458F6, /* ramfs */
        0x794C7630, /* overlayfs */
        0xF2F52010, /* f2fs */
        0x2FC12FC1, /* zfs */
        0xCA451A4E, /* bcachefs */
    };
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
        if (type == local[i])
            return 1;
    return 0;
}

/*
 * Opens rel beneath root_fd as an O_PATH descriptor, refusing any symlink or
 * mount point on the way: then the directories watched are exactly the ones a
 * lookup of rel passes through. -1 when that cannot be had.
 */
static int open_plain(int root_fd, const char *rel, int flags)
{
#ifdef WS_HAVE_OPENAT2
    struct open_how how = {
        .flags = (uint64_t)(O_PATH | O_CLOEXEC | flags),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, root_fd, rel[0] != '\0' ? rel : ".", &how, sizeof(how));
    return fd < 0 ? -1 : (int)fd;
#else
    (void)root_fd;
    (void)rel;
    (void)flags;
    return -1; /* without openat2 the path cannot be checked this way: stat instead */
#endif
}

/* Adds a watch on what fd refers to. 0, or -errno (-ENOSPC past the cap). */
static int add_watch(struct ws_watch *w, int fd, uint32_t mask)
{
    char proc_path[32];
    int wd, rc = 0;

    snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
    ws_mutex_lock(&w->lock);
    wd = inotify_add_watch(w->fd, proc_path, mask);
    if (wd < 0) {
        rc = -errno;
    } else if (w->live >= w->max_watches && set_add(w, wd)) {
        /* A new watch past the cap: take it back (its IN_IGNORED removes it from the set). */
        inotify_rm_watch(w->fd, wd);
        rc = -ENOSPC;
    } else {
        set_add(w, wd);
    }
    ws_mutex_unlock(&w->lock);
    return rc;
}

int ws_watch_file(struct ws_watch *w, int root_fd, const char *rel, const struct stat *st)
{
    struct stat st_path;
    struct statfs sfs;
    char dir[4096];
    size_t len = strlen(rel);
    int path_fd, rc;

    if (len >= sizeof(dir))
        return -1;
    /* The name must lead to st's inode with no symlink or mount point on the way. */
    path_fd = open_plain(root_fd, rel, 0);
    if (path_fd < 0)
        return -1;
    rc = fstat(path_fd, &st_path) == 0 && st_path.st_dev == st->st_dev &&
                 st_path.st_ino == st->st_ino && fstatfs(path_fd, &sfs) == 0 &&
                 local_fs((long)sfs.f_type)
             ? add_watch(w, path_fd, FILE_MASK)
             : -1;
    close(path_fd);
    if (rc < 0)
        return -1;

    /* Every directory from the root down to the file's own. */
    memcpy(dir, rel, len + 1);
    for (;;) {
        char *slash = strrchr(dir, '/');
        int dir_fd;

        if (slash != NULL)
            *slash = '\0';
        else
            dir[0] = '\0';
        dir_fd = open_plain(root_fd, dir, O_DIRECTORY);
        if (dir_fd < 0)
            return -1;
        rc = add_watch(w, dir_fd, DIR_MASK);
        close(dir_fd);
        if (rc < 0)
            return -1;
        if (dir[0] == '\0')
            return 0;
    }
}

const char *ws_watch_root(struct ws_watch *w, int root_fd)
{
    struct statfs sfs;

    if (fstatfs(root_fd, &sfs) < 0 || !local_fs((long)sfs.f_type))
        return "the root is not on a local file system";
    switch (add_watch(w, root_fd, DIR_MASK)) {
    case 0: return NULL;
    case -ENOENT:
    case -EACCES: return "/proc/self/fd is not available";
    case -ENOSPC: return "no inotify watches left (fs.inotify.max_user_watches)";
    default: return "inotify_add_watch failed";
    }
}

uint64_t ws_watch_sync(struct ws_watch *w)
{
    /* Big enough for many events per read; events are counted, not parsed. */
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int changed = 0;
    ssize_t n;

    ws_mutex_lock(&w->lock);
    while ((n = read(w->fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
        const char *p = buf;
        while (n > 0 && p < buf + n) {
            const struct inotify_event *ev = (const struct inotify_event *)(const void *)p;
            if (ev->mask & IN_IGNORED)
                set_remove(w, ev->wd);
            p += sizeof(*ev) + ev->len;
        }
        changed |= n > 0;
    }
    if (changed)
        atomic_fetch_add_explicit(&w->epoch, 1, memory_order_release);
    ws_mutex_unlock(&w->lock);
    return atomic_load_explicit(&w->epoch, memory_order_acquire);
}

uint64_t ws_watch_sync_if(struct ws_watch *w, int pending)
{
    if (pending)
        return ws_watch_sync(w);
    /*
     * Nothing was queued when epoll_wait looked. A thread that read the last
     * events before then moves the epoch on before it lets go of the lock:
     * taking the lock waits for that.
     */
    ws_mutex_lock(&w->lock);
    ws_mutex_unlock(&w->lock);
    return atomic_load_explicit(&w->epoch, memory_order_acquire);
}

int ws_watch_fd(const struct ws_watch *w)
{
    return w->fd;
}

uint64_t ws_watch_epoch(const struct ws_watch *w)
{
    return atomic_load_explicit(&w->epoch, memory_order_acquire);
}
