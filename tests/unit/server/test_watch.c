/*
 * server/test_watch.c - the inotify epoch (watch.h), on real files in a fresh
 * temporary directory. The file cache's use of it is in test_file_cache.c.
 *
 * Each change test watches a file, takes the epoch, makes one kind of change
 * and checks that the very next sync sees the epoch move; the negative tests
 * check that a sync with no change keeps it, and that paths the watch cannot
 * vouch for (a symlink on the way, a name that now leads to another inode,
 * the cap reached) are refused rather than half watched.
 */
#include "test_util.h"

#include "server/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

struct tree {
    char dir[64];
    int root_fd;
    struct ws_watch *w;
};

static void path_of(const struct tree *t, const char *rel, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", t->dir, rel);
    assert_true(n > 0 && (size_t)n < size);
}

static void put_file(const struct tree *t, const char *rel, const char *text)
{
    char path[256];
    FILE *f;

    path_of(t, rel, path, sizeof(path));
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void make_dir(const struct tree *t, const char *rel)
{
    char path[256];
    path_of(t, rel, path, sizeof(path));
    assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    strcpy(t->dir, "/tmp/ws-test-watch-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    t->root_fd = open(t->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->root_fd >= 0);
    t->w = ws_watch_new(64);
    assert_non_null(t->w);
    make_dir(t, "a");
    make_dir(t, "a/b");
    put_file(t, "top.txt", "top\n");
    put_file(t, "a/b/c.txt", "deep\n");
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    char cmd[128];

    ws_watch_free(t->w);
    close(t->root_fd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
    free(t);
    return 0;
}

/* ws_watch_file for the file open as fd. */
static int watch_fd(struct ws_watch *w, int root_fd, const char *rel, int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return ws_watch_file(w, root_fd, rel, &st);
}

/* Opens rel under the tree for reading and watches it; returns the descriptor. */
static int watch(struct tree *t, const char *rel, int expect)
{
    int fd = openat(t->root_fd, rel, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(watch_fd(t->w, t->root_fd, rel, fd), expect);
    return fd;
}

static void test_sync_without_changes_keeps_the_epoch(void **state)
{
    struct tree *t = *state;
    int fd = watch(t, "a/b/c.txt", 0);
    uint64_t e = ws_watch_sync(t->w);

    assert_true(e > 0); /* 0 means "never" to the file cache */
    assert_int_equal(ws_watch_sync(t->w), e);
    assert_int_equal(ws_watch_epoch(t->w), e);
    /* Reading the files is not a change. */
    char buf[16];
    assert_true(pread(fd, buf, sizeof(buf), 0) > 0);
    assert_int_equal(ws_watch_sync(t->w), e);
    close(fd);
}

/* Watches a/b/c.txt and top.txt, applies change(), expects the next sync to move on. */
static void expect_moves(struct tree *t, void (*change)(struct tree *), const char *what)
{
    int fd1 = watch(t, "a/b/c.txt", 0), fd2 = watch(t, "top.txt", 0);
    uint64_t before = ws_watch_sync(t->w), after;

    change(t);
    after = ws_watch_sync(t->w);
    if (after <= before)
        fail_msg("%s: epoch %llu -> %llu", what, (unsigned long long)before,
                 (unsigned long long)after);
    /* The epoch sync returned is the one everyone sees. */
    assert_int_equal(ws_watch_epoch(t->w), after);
    close(fd1);
    close(fd2);
}

static void rewrite_in_place(struct tree *t)
{
    put_file(t, "a/b/c.txt", "DEEP\n");
}

static void replace_by_rename(struct tree *t)
{
    char from[256], to[256];
    put_file(t, "a/b/new.tmp", "other\n");
    path_of(t, "a/b/new.tmp", from, sizeof(from));
    path_of(t, "a/b/c.txt", to, sizeof(to));
    assert_int_equal(rename(from, to), 0);
}

static void unlink_file(struct tree *t)
{
    char path[256];
    path_of(t, "a/b/c.txt", path, sizeof(path));
    assert_int_equal(unlink(path), 0);
}

static void rename_grandparent(struct tree *t)
{
    char from[256], to[256];
    path_of(t, "a", from, sizeof(from));
    path_of(t, "a.old", to, sizeof(to));
    assert_int_equal(rename(from, to), 0);
}

static void chmod_directory(struct tree *t)
{
    char path[256];
    path_of(t, "a/b", path, sizeof(path));
    assert_int_equal(chmod(path, 0700), 0);
}

static void touch_file(struct tree *t)
{
    struct timespec times[2] = { { 1, 0 }, { 1, 0 } };
    assert_int_equal(utimensat(t->root_fd, "top.txt", times, 0), 0);
}

static void create_sibling(struct tree *t)
{
    put_file(t, "a/b/c.txt.gz", "not really gzip\n");
}

static void truncate_file(struct tree *t)
{
    char path[256];
    path_of(t, "top.txt", path, sizeof(path));
    assert_int_equal(truncate(path, 0), 0);
}

static void test_each_change_moves_the_epoch(void **state)
{
    static const struct {
        const char *what;
        void (*change)(struct tree *);
    } changes[] = {
        { "rewrite in place", rewrite_in_place },
        { "replace by rename", replace_by_rename },
        { "unlink", unlink_file },
        { "rename of a directory above", rename_grandparent },
        { "chmod of the directory", chmod_directory },
        { "utimes of the file", touch_file },
        { "a new file beside it", create_sibling },
        { "truncate", truncate_file },
    };

    for (size_t i = 0; i < ARRAY_LEN(changes); i++) {
        /* A fresh tree for each change: teardown + setup. */
        teardown(state);
        setup(state);
        expect_moves(*state, changes[i].change, changes[i].what);
    }
}

static void test_symlink_on_the_path_is_refused(void **state)
{
    struct tree *t = *state;
    char target[256];
    int fd;

    path_of(t, "link", target, sizeof(target));
    assert_int_equal(symlink("a", target), 0);
    fd = openat(t->root_fd, "link/b/c.txt", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    /* A change beyond the link would not be seen in the directories on the path. */
    assert_int_equal(watch_fd(t->w, t->root_fd, "link/b/c.txt", fd), -1);
    /* The same file by its plain path is fine. */
    assert_int_equal(watch_fd(t->w, t->root_fd, "a/b/c.txt", fd), 0);
    close(fd);
}

static void test_name_leading_elsewhere_is_refused(void **state)
{
    struct tree *t = *state;
    int fd = openat(t->root_fd, "top.txt", O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(watch_fd(t->w, t->root_fd, "a/b/c.txt", fd), -1);
    assert_int_equal(watch_fd(t->w, t->root_fd, "missing.txt", fd), -1);
    close(fd);
}

static void test_cap_is_respected(void **state)
{
    struct tree *t = *state;
    struct ws_watch *small = ws_watch_new(2); /* the root and one file */
    int fd1 = openat(t->root_fd, "top.txt", O_RDONLY | O_CLOEXEC);
    int fd2 = openat(t->root_fd, "a/b/c.txt", O_RDONLY | O_CLOEXEC);

    assert_non_null(small);
    assert_int_equal(watch_fd(small, t->root_fd, "top.txt", fd1), 0);
    /* Three more watches (the file, a, a/b) would pass the cap. */
    assert_int_equal(watch_fd(small, t->root_fd, "a/b/c.txt", fd2), -1);
    ws_watch_free(small);
    close(fd1);
    close(fd2);
}

static void test_deleted_files_stop_counting_against_the_cap(void **state)
{
    struct tree *t = *state;
    struct ws_watch *small = ws_watch_new(2); /* the root and one file at a time */
    char name[32], path[256];

    assert_non_null(small);
    /* Each round watches a new file and deletes it: without IN_IGNORED freeing its
     * slot, the second round would already be past the cap. Slots of the set are
     * reused many times over, so removal from it is exercised too. */
    for (int i = 0; i < 300; i++) {
        int fd;
        snprintf(name, sizeof(name), "f%d.txt", i);
        put_file(t, name, "x\n");
        fd = openat(t->root_fd, name, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        if (watch_fd(small, t->root_fd, name, fd) != 0)
            fail_msg("round %d: refused although every earlier file is gone", i);
        close(fd);
        path_of(t, name, path, sizeof(path));
        assert_int_equal(unlink(path), 0);
        ws_watch_sync(small); /* reads IN_DELETE_SELF and IN_IGNORED */
    }
    /* Two live files do not fit beside the root. */
    put_file(t, "x.txt", "x\n");
    put_file(t, "y.txt", "y\n");
    int fx = openat(t->root_fd, "x.txt", O_RDONLY | O_CLOEXEC);
    int fy = openat(t->root_fd, "y.txt", O_RDONLY | O_CLOEXEC);
    assert_int_equal(watch_fd(small, t->root_fd, "x.txt", fx), 0);
    assert_int_equal(watch_fd(small, t->root_fd, "y.txt", fy), -1);
    /* Watching x again is no new watch. */
    assert_int_equal(watch_fd(small, t->root_fd, "x.txt", fx), 0);
    close(fx);
    close(fy);
    ws_watch_free(small);
}

/* Start-up check: a local root can be watched; /proc cannot (changes there raise no events). */
static void test_root_check(void **state)
{
    struct tree *t = *state;
    int proc_fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *why;

    assert_null(ws_watch_root(t->w, t->root_fd));
    assert_true(proc_fd >= 0);
    why = ws_watch_root(t->w, proc_fd);
    assert_non_null(why);
    assert_non_null(strstr(why, "local file system"));
    close(proc_fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_without_changes_keeps_the_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_change_moves_the_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_on_the_path_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_leading_elsewhere_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_is_respected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_files_stop_counting_against_the_cap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_root_check, setup, teardown),
    };
    start_watchdog(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
