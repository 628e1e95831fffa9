/*
 * server/test_file_cache.c - the file cache's lookup/fill protocol (file_cache.h)
 * with and without a watch (watch.h), on real files in a fresh temporary
 * directory.
 *
 * A lookup with synced set reads the epoch without a sync, so a change made
 * after the last sync is invisible to the epoch: if such a lookup still
 * returns the old copy, it made no stat (a stat would have seen the change).
 * That is how these tests tell a hit that needs no system call from one a
 * stat confirmed.
 */
#include "test_util.h"

#include "server/file_cache.h"
#include "server/watch.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

struct tree {
    char dir[64];
    int root_fd;
    struct ws_watch *w;
    struct ws_file_cache *fc;
    struct ws_file_origin origin; /* the tree, with the watch */
};

/* The siblings these tests look for, in the shape static_file.c's table has. */
static const struct ws_file_sibling siblings[] = {
    { ".br", WS_ENC_BR, "br" },
    { ".gz", WS_ENC_GZIP, "gzip" },
};
enum { BR = 0, GZ = 1 };

/* What a test's choose callback saw and answers. */
struct chooser {
    int calls;
    unsigned avail; /* as last offered */
    int prefer;     /* the sibling to take when it is available */
};

static int choose_preferred(const void *arg, unsigned avail)
{
    struct chooser *c = (struct chooser *)(uintptr_t)arg;

    c->calls++;
    c->avail = avail;
    return (avail & (1u << c->prefer)) ? c->prefer : -1;
}

static struct ws_file_choice choice_for(struct chooser *c)
{
    struct ws_file_choice choice = {
        .siblings = siblings, .count = 2, .choose = choose_preferred, .arg = c
    };
    return choice;
}

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

/* Replaces rel by a new inode holding text, the way deploy tools do (rename over it). */
static void replace_file(const struct tree *t, const char *rel, const char *text)
{
    char from[256], to[256];

    put_file(t, "new.tmp", text);
    path_of(t, "new.tmp", from, sizeof(from));
    path_of(t, rel, to, sizeof(to));
    assert_int_equal(rename(from, to), 0);
}

/* Sets rel's mtime (and so its ctime) to sec seconds. */
static void set_mtime(const struct tree *t, const char *rel, time_t sec)
{
    struct timespec times[2] = { { sec, 0 }, { sec, 0 } };
    assert_int_equal(utimensat(t->root_fd, rel, times, 0), 0);
}

static int setup(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    strcpy(t->dir, "/tmp/ws-test-cache-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    t->root_fd = open(t->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->root_fd >= 0);
    t->w = ws_watch_new(64);
    assert_non_null(t->w);
    t->fc = ws_file_cache_new(8, 4096);
    assert_non_null(t->fc);
    t->origin.root_fd = t->root_fd;
    t->origin.watch = t->w;
    put_file(t, "top.txt", "top\n");
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    char cmd[128];

    ws_file_cache_free(t->fc);
    ws_watch_free(t->w);
    close(t->root_fd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
    free(t);
    return 0;
}

/* Opens rel beneath the tree (as the slow path would) and fills the cache from it. */
static const char *fill(struct tree *t, const struct ws_file_origin *origin, const char *rel)
{
    struct stat st;
    const char *body;
    int fd = openat(t->root_fd, rel, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    body = ws_file_cache_fill(t->fc, origin, rel, fd, &st);
    close(fd);
    return body;
}

/* A lookup of rel without siblings: the body, or NULL on a miss. */
static const char *lookup(struct tree *t, const struct ws_file_origin *origin, int synced,
                          const char *rel)
{
    struct ws_file_hit hit;

    if (!ws_file_cache_lookup(t->fc, origin, synced, rel, NULL, &hit))
        return NULL;
    assert_int_equal(hit.sibling, -1);
    return hit.body;
}

static void test_watched_entry_is_fresh_without_a_stat(void **state)
{
    struct tree *t = *state;
    const char *body = fill(t, &t->origin, "top.txt");

    assert_non_null(body);
    assert_memory_equal(body, "top\n", 4);
    assert_ptr_equal(lookup(t, &t->origin, 0, "top.txt"), body);
    assert_ptr_equal(lookup(t, &t->origin, 1, "top.txt"), body);

    /* Changed, and no sync since: the epoch still vouches for the copy, and no stat is made. */
    replace_file(t, "top.txt", "new top\n");
    assert_ptr_equal(lookup(t, &t->origin, 1, "top.txt"), body);
    /* The request's own sync sees the change; the stat then finds another inode. */
    assert_null(lookup(t, &t->origin, 0, "top.txt"));
    assert_null(lookup(t, &t->origin, 1, "top.txt"));
    /* Filled again from the new file, it is fresh again. */
    body = fill(t, &t->origin, "top.txt");
    assert_non_null(body);
    assert_memory_equal(body, "new top\n", 8);
    assert_ptr_equal(lookup(t, &t->origin, 1, "top.txt"), body);
}

/*
 * Fills top.txt from a descriptor opened before change() ran, as a slow path
 * that lost a race with a deploy would, and checks that no later lookup gets
 * that copy, even with the epoch unmoved.
 */
static void fill_across_a_change(struct tree *t, void (*change)(struct tree *))
{
    struct stat st;
    const char *body;
    int fd = openat(t->root_fd, "top.txt", O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    change(t); /* before the fill's watches are in place: no event */
    body = ws_file_cache_fill(t->fc, &t->origin, "top.txt", fd, &st);
    close(fd);
    /* The caller may send what it opened, a version that existed... */
    assert_non_null(body);
    /* ...but no later request gets it. */
    assert_null(lookup(t, &t->origin, 1, "top.txt"));
    assert_null(lookup(t, &t->origin, 0, "top.txt"));
}

/* The same inode, another identity: the fill's watches go in, its second stat must catch it. */
static void touch_top(struct tree *t)
{
    set_mtime(t, "top.txt", 1000);
}

/* Another inode under the name: the fill's watch must refuse it. */
static void replace_top(struct tree *t)
{
    replace_file(t, "top.txt", "replaced\n");
}

static void test_change_during_fill_is_never_served_stale(void **state)
{
    fill_across_a_change(*state, touch_top);
    teardown(state);
    setup(state);
    fill_across_a_change(*state, replace_top);
}

static void test_without_a_watch_every_lookup_stats(void **state)
{
    struct tree *t = *state;
    const struct ws_file_origin plain = { .root_fd = t->root_fd, .watch = NULL };
    const char *body = fill(t, &plain, "top.txt");

    assert_non_null(body);
    assert_ptr_equal(lookup(t, &plain, 1, "top.txt"), body);
    set_mtime(t, "top.txt", 1000); /* the same bytes, another identity */
    assert_null(lookup(t, &plain, 1, "top.txt"));
    /* Dropped for good, not just skipped once: its identity is no longer known. */
    assert_null(lookup(t, &plain, 1, "top.txt"));
    assert_null(lookup(t, &plain, 0, "missing.txt"));
}

static void test_entry_answers_only_for_its_inode(void **state)
{
    struct tree *t = *state;
    char target[256];
    const char *body = fill(t, &t->origin, "top.txt");

    assert_non_null(body);
    put_file(t, "other.txt", "other\n");
    /* The name now leads, through a symlink, to another file: never the cached bytes. */
    path_of(t, "top.txt", target, sizeof(target));
    assert_int_equal(unlink(target), 0);
    assert_int_equal(symlink("other.txt", target), 0);
    assert_null(lookup(t, &t->origin, 0, "top.txt"));
}

static void test_sibling_age_decides_availability(void **state)
{
    struct tree *t = *state;
    struct chooser c = { .prefer = GZ };
    struct ws_file_choice choice = choice_for(&c);
    struct ws_file_hit hit;
    char path[256];

    put_file(t, "p.txt", "plain\n");
    put_file(t, "p.txt.br", "br\n");
    put_file(t, "p.txt.gz", "gz\n");
    set_mtime(t, "p.txt", 2000);
    set_mtime(t, "p.txt.br", 1999); /* older than the file: stale */
    set_mtime(t, "p.txt.gz", 2000); /* as old as the file: fit */
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "p.txt", &choice, &hit), 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.avail, 1u << GZ);

    set_mtime(t, "p.txt.br", 2001);
    set_mtime(t, "p.txt.gz", 1000);
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "p.txt", &choice, &hit), 0);
    assert_int_equal(c.avail, 1u << BR);

    /* Not a regular file: not available, whatever its age. */
    path_of(t, "p.txt.br", path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "p.txt", &choice, &hit), 0);
    assert_int_equal(c.avail, 0);
    assert_int_equal(c.calls, 3);
}

static void test_coded_lookup_is_fresh_without_a_stat(void **state)
{
    struct tree *t = *state;
    struct chooser c = { .prefer = GZ };
    struct ws_file_choice choice = choice_for(&c);
    struct ws_file_hit hit;
    const char *gz;

    put_file(t, "p.txt", "plain\n");
    put_file(t, "p.txt.gz", "gz\n");
    /* The first lookup finds the sibling, but nothing is cached yet. */
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "p.txt", &choice, &hit), 0);
    assert_int_equal(c.avail, 1u << GZ);
    gz = fill(t, &t->origin, "p.txt.gz");
    assert_non_null(gz);
    /* The record is watched now; this lookup's stats make it fresh. */
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "p.txt", &choice, &hit), 1);
    assert_ptr_equal(hit.body, gz);
    assert_int_equal(hit.sibling, GZ);

    /* The sibling replaced, no sync since: served from the record and entry, no stat. */
    replace_file(t, "p.txt.gz", "new gz\n");
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 1, "p.txt", &choice, &hit), 1);
    assert_ptr_equal(hit.body, gz);
    /* Once synced, the change is seen. */
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "p.txt", &choice, &hit), 0);
    assert_int_equal(c.calls, 4); /* one choice per lookup */
}

static void test_sibling_appearing_is_seen(void **state)
{
    struct tree *t = *state;
    struct chooser c = { .prefer = BR };
    struct ws_file_choice choice = choice_for(&c);
    struct ws_file_hit hit;
    const char *plain;

    put_file(t, "p.txt", "plain\n");
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "p.txt", &choice, &hit), 0);
    plain = fill(t, &t->origin, "p.txt");
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "p.txt", &choice, &hit), 1);
    assert_ptr_equal(hit.body, plain);
    assert_int_equal(hit.sibling, -1);
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 1, "p.txt", &choice, &hit), 1);

    /* A new sibling is an event in the watched directory: the next synced lookup chooses it. */
    put_file(t, "p.txt.br", "br\n");
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "p.txt", &choice, &hit), 0);
    assert_int_equal(c.avail, 1u << BR);
    /* A lookup that does not consider siblings still has the file itself... */
    assert_ptr_equal(lookup(t, &t->origin, 0, "p.txt"), plain);
    /* ...but one that does never gets it from the record of before. */
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 1, "p.txt", &choice, &hit), 0);
    assert_int_equal(c.avail, 1u << BR);
}

static void test_unwatchable_record_is_stat_checked(void **state)
{
    struct tree *t = *state;
    struct chooser c = { .prefer = GZ };
    struct ws_file_choice choice = choice_for(&c);
    struct ws_file_hit hit;
    char path[256];
    const char *plain;

    put_file(t, "p.txt", "plain\n");
    put_file(t, "real.gz", "gz\n");
    set_mtime(t, "p.txt", 2000);
    set_mtime(t, "real.gz", 1000); /* stale for now */
    path_of(t, "p.txt.gz", path, sizeof(path));
    assert_int_equal(symlink("real.gz", path), 0); /* a symlink cannot be watched */
    plain = fill(t, &t->origin, "p.txt");
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "p.txt", &choice, &hit), 1);
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 1, "p.txt", &choice, &hit), 1);
    assert_ptr_equal(hit.body, plain);
    assert_int_equal(c.avail, 0);

    /* The file's entry is still fresh, but the record was never watched: it is stat-checked. */
    set_mtime(t, "real.gz", 3000);
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 1, "p.txt", &choice, &hit), 0);
    assert_int_equal(c.avail, 1u << GZ);
}

/*
 * A file larger than the cache copies is remembered by its identity alone:
 * the fill returns no body, and lookups hit with none (and no stat while the
 * watch vouches for it), until the file changes.
 */
static void test_large_file_is_known_by_identity(void **state)
{
    struct tree *t = *state;
    char big[6000];
    struct ws_file_hit hit;
    struct stat st;
    struct chooser c = { .prefer = GZ };
    struct ws_file_choice choice = choice_for(&c);

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put_file(t, "big.txt", big);
    assert_int_equal(fstatat(t->root_fd, "big.txt", &st, 0), 0);
    assert_null(fill(t, &t->origin, "big.txt"));

    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "big.txt", NULL, &hit), 1);
    assert_null(hit.body);
    assert_int_equal(hit.sibling, -1);
    assert_true(ws_file_same_identity(&hit.st, &st));
    /* With a choice: no sibling is there, so the file itself, known without a stat. */
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "big.txt", &choice, &hit), 1);
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 1, "big.txt", &choice, &hit), 1);
    assert_null(hit.body);
    assert_int_equal(hit.sibling, -1);

    /* Changed, and no sync since: the epoch still vouches (no stat is made)... */
    replace_file(t, "big.txt", "now small\n");
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 1, "big.txt", NULL, &hit), 1);
    /* ...and the caller's open finds another identity (static_file.c's open_hit). */
    assert_int_equal(fstatat(t->root_fd, "big.txt", &st, 0), 0);
    assert_false(ws_file_same_identity(&hit.st, &st));
    /* The request's own sync sees the change. */
    assert_int_equal(ws_file_cache_lookup(t->fc, &t->origin, 0, "big.txt", NULL, &hit), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watched_entry_is_fresh_without_a_stat, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_change_during_fill_is_never_served_stale, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_without_a_watch_every_lookup_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_answers_only_for_its_inode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sibling_age_decides_availability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coded_lookup_is_fresh_without_a_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sibling_appearing_is_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwatchable_record_is_stat_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_file_is_known_by_identity, setup, teardown),
    };
    start_watchdog(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
