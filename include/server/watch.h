/*
 * server/watch.h - knowing, without a stat(2), that no cached file has changed.
 *
 * DESIGN
 * The file cache (file_cache.h) must never serve a file that changed on disk.
 * Revalidating an entry costs one stat of its path per request, the dearest
 * system call on the keep-alive path. A watch replaces it by inotify(7): the
 * cached file and every directory on its path under the root are watched, and
 * any event at all moves a shared counter, the epoch, forward. An entry records
 * the epoch at which its identity was last checked against a stat; while the
 * epoch is unchanged, nothing it depends on has changed, and it is served
 * without a stat. After any change, each entry is stat-checked once again, as
 * before, so inotify only ever decides "maybe changed", never "unchanged".
 *
 * Why that is exact: the kernel queues an inotify event inside the system call
 * that makes the change (write, truncate, rename, unlink, chmod, utimes), before
 * that call returns. A request sent after the change returned is received after
 * the event was queued, so a read of the inotify descriptor made after the
 * request was received finds the event, or finds it consumed by a thread that
 * moved the epoch on before letting go of the lock both hold (ws_watch_sync).
 * The event thread syncs after every epoll_wait that reports readable
 * connections, before handing them over; so for the first request that a turn
 * reads from a connection whose input was empty when it was parked, that sync
 * already happened after the request's first byte arrived, and the worker needs
 * only the current epoch (ws_watch_epoch, no system call). Any other request
 * (pipelined behind another, on a new connection, after a partial read) syncs
 * itself: one read(2) of the inotify descriptor, still cheaper than a stat.
 *
 * A file is watched only when that is known to be complete (ws_watch_file):
 * no symlink or mount point on its path under the root, a local file system
 * (changes on a network file system made by another host raise no inotify
 * event), and room under the watch cap. Otherwise its entry is stat-checked on
 * every use, exactly as without a watch. Changes inotify does not report at
 * all (writes through a shared mmap, a mount placed over a directory while
 * serving) are outside this guarantee, as they largely are for a stat.
 *
 * Threads: any thread may call any function. The epoch is an atomic counter,
 * loaded without a lock. The watch's mutex is held while draining the inotify
 * descriptor and moving the epoch on (ws_watch_sync: non-blocking reads), and
 * while adding a watch (ws_watch_file, ws_watch_root: inotify_add_watch, and
 * inotify_rm_watch past the cap), so that the count of watches in place never
 * misses an add; those calls act on descriptors already open and do not wait
 * for I/O, but a sync may wait for a slow path's add. No other lock is taken
 * while it is held.
 */
#ifndef WS_WATCH_H
#define WS_WATCH_H

#include <stdint.h>
#include <sys/stat.h>

struct ws_watch;

/*
 * A watch with its own inotify instance, or NULL with errno set (inotify not
 * available: the caller then revalidates with stat(2) as before). It keeps at
 * most max_watches watches in place (they are never removed while the server
 * runs, but a deleted file's watch goes away by itself and stops counting).
 */
struct ws_watch *ws_watch_new(unsigned max_watches);

/* Closes the inotify instance and frees the watch. NULL is allowed. */
void ws_watch_free(struct ws_watch *w);

/*
 * Watches the file rel (relative, no leading slash, no "." or ".." segments)
 * beneath the directory root_fd, which must be the inode *st describes (its
 * st_dev and st_ino), and every directory on that path including the root.
 * Returns 0 when the watches are in place and complete, -1 when this file
 * cannot be watched completely (a symlink or a mount point on the path, rel
 * leading to another inode or nowhere, a file system inotify cannot vouch
 * for, the cap reached). Makes a few system calls: for the slow path only.
 */
int ws_watch_file(struct ws_watch *w, int root_fd, const char *rel, const struct stat *st);

/*
 * Watches the root directory (open as root_fd), as every watched file needs,
 * and so checks at start-up that watching can work here at all. NULL when it
 * can, else why not (the caller then does without the watch).
 */
const char *ws_watch_root(struct ws_watch *w, int root_fd);

/*
 * Reads every event queued so far, moves the epoch on if there was any, and
 * returns the epoch. Every change to a watched file or directory that
 * completed before this call is counted in the result. One read(2) when
 * nothing is queued (one more per buffer of events otherwise), under the
 * watch's mutex.
 */
uint64_t ws_watch_sync(struct ws_watch *w);

/*
 * ws_watch_sync for a caller that knows whether the inotify descriptor may
 * hold events: with pending 0 (an epoll_wait that would have reported the
 * descriptor, as a level-triggered member of its set, did not), it only waits
 * for a sync in progress in another thread to move the epoch on (the lock,
 * no system call); otherwise it is ws_watch_sync.
 */
uint64_t ws_watch_sync_if(struct ws_watch *w, int pending);

/* The inotify descriptor, for an epoll set that watches it (level-triggered, EPOLLIN). */
int ws_watch_fd(const struct ws_watch *w);

/* The epoch as of the last ws_watch_sync by any thread. No system call. */
uint64_t ws_watch_epoch(const struct ws_watch *w);

#endif
