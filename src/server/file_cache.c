/*
 * server/file_cache.c - per-worker cache of small files; see file_cache.h for the design.
 */
#include "server/file_cache.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct entry {
    char *name; /* NULL when the slot is empty */
    size_t name_len;
    char *body;
    struct stat st; /* identity: device, inode, mode, size, mtime, ctime */
    int watched;    /* the file and its directories are under the watch */
    uint64_t epoch; /* watched: the watch's epoch when the identity last matched */
};

/* What was found of a file's precompressed siblings (see ws_file_codings). */
struct codings {
    char *name; /* the file's name; NULL when the slot is empty */
    size_t name_len;
    struct ws_file_codings found;
    int watched;    /* the file and its present siblings are under the watch */
    uint64_t epoch; /* watched: the epoch as of which `found` is known to hold */
};

struct ws_file_cache {
    unsigned slots; /* a power of two */
    size_t max_file;
    struct codings *codings; /* slots of them, by the same hash as entries */
    struct entry entries[];
};

struct ws_file_cache *ws_file_cache_new(unsigned slots, size_t max_file)
{
    struct ws_file_cache *fc;
    unsigned n = 1;

    while (n < slots && n < (1u << 20))
        n <<= 1;
    fc = calloc(1, sizeof(*fc) + n * sizeof(fc->entries[0]));
    if (fc == NULL)
        return NULL;
    fc->codings = calloc(n, sizeof(*fc->codings));
    if (fc->codings == NULL) {
        free(fc);
        return NULL;
    }
    fc->slots = n;
    fc->max_file = max_file;
    return fc;
}

static void clear(struct entry *e)
{
    free(e->name);
    free(e->body);
    memset(e, 0, sizeof(*e));
}

void ws_file_cache_free(struct ws_file_cache *fc)
{
    if (fc == NULL)
        return;
    for (unsigned i = 0; i < fc->slots; i++) {
        clear(&fc->entries[i]);
        free(fc->codings[i].name);
    }
    free(fc->codings);
    free(fc);
}

/* FNV-1a: names are short, and an attacker gains nothing from collisions but misses. */
static unsigned slot_index(const struct ws_file_cache *fc, const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
    return (unsigned)((h ^ (h >> 29)) & (fc->slots - 1));
}

static struct entry *slot_for(struct ws_file_cache *fc, const char *name, size_t len)
{
    return &fc->entries[slot_index(fc, name, len)];
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
           a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Whether a slot's name (NULL when empty) is name[0..len). */
static int holds(const char *slot_name, size_t slot_len, const char *name, size_t len)
{
    return slot_name != NULL && slot_len == len && memcmp(slot_name, name, len) == 0;
}

/* A NUL-terminated copy of name[0..len), or NULL. */
static char *copy_name(const char *name, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, name, len);
        copy[len] = '\0';
    }
    return copy;
}

/* The entry holding name, or NULL. */
static struct entry *lookup(struct ws_file_cache *fc, const char *name, size_t len)
{
    struct entry *e = slot_for(fc, name, len);

    if (!holds(e->name, e->name_len, name, len))
        return NULL;
    return e;
}

const char *ws_file_cache_find(struct ws_file_cache *fc, const char *name, size_t len,
                               const struct stat *st, uint64_t epoch)
{
    struct entry *e = lookup(fc, name, len);

    if (e == NULL)
        return NULL;
    if (!same_file(&e->st, st)) {
        clear(e); /* changed on disk: forget it now rather than at the next put */
        return NULL;
    }
    e->epoch = epoch;
    return e->body;
}

const char *ws_file_cache_fresh(struct ws_file_cache *fc, const char *name, size_t len,
                                uint64_t epoch, struct stat *st)
{
    struct entry *e = lookup(fc, name, len);

    if (e == NULL || !e->watched || e->epoch != epoch)
        return NULL;
    *st = e->st;
    return e->body;
}

void ws_file_cache_watched(struct ws_file_cache *fc, const char *name, size_t len,
                           const struct stat *st, uint64_t epoch)
{
    struct entry *e = lookup(fc, name, len);

    /*
     * Changed while it was being cached: leave it unwatched, so its next use
     * stat-checks it and replaces it. Not freed here: the caller may be about
     * to send the copy it was just given, which is a version that existed.
     */
    if (e == NULL || !same_file(&e->st, st))
        return;
    e->watched = 1;
    e->epoch = epoch;
}

const char *ws_file_cache_put(struct ws_file_cache *fc, const char *name, size_t len, int fd,
                              const struct stat *st)
{
    struct entry *e = slot_for(fc, name, len);
    size_t size = (size_t)st->st_size;
    char *body, *copy;
    ssize_t n;

    if (!S_ISREG(st->st_mode) || st->st_size < 0 || size > fc->max_file)
        return NULL;
    body = malloc(size > 0 ? size : 1);
    copy = copy_name(name, len);
    if (body == NULL || copy == NULL)
        goto fail;
    do
        n = pread(fd, body, size, 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)size)
        goto fail; /* changed while we read it: do not remember a torn copy */

    clear(e);
    e->name = copy;
    e->name_len = len;
    e->body = body;
    e->st = *st;
    return body;

fail:
    free(body);
    free(copy);
    return NULL;
}

/* The codings record for name, or NULL. */
static struct codings *codings_for(struct ws_file_cache *fc, const char *name, size_t len)
{
    struct codings *c = &fc->codings[slot_index(fc, name, len)];

    if (!holds(c->name, c->name_len, name, len))
        return NULL;
    return c;
}

static int same_codings(const struct ws_file_codings *a, const struct ws_file_codings *b)
{
    if (a->present != b->present || a->avail != b->avail)
        return 0;
    for (unsigned i = 0; i < 3; i++)
        if ((a->present & (1u << i)) && !same_file(&a->st[i], &b->st[i]))
            return 0;
    return 1;
}

int ws_file_cache_codings(struct ws_file_cache *fc, const char *name, size_t len, uint64_t epoch)
{
    const struct codings *c = codings_for(fc, name, len);

    if (c == NULL || !c->watched || c->epoch != epoch)
        return -1;
    return (int)c->found.avail;
}

int ws_file_cache_codings_seen(struct ws_file_cache *fc, const char *name, size_t len,
                               const struct ws_file_codings *found, uint64_t epoch)
{
    struct codings *c = codings_for(fc, name, len);
    char *copy;

    if (c != NULL && same_codings(&c->found, found)) {
        /* The same files: still watched if they were (a watch goes only with its inode). */
        c->epoch = epoch;
        return 0;
    }
    if (c == NULL) {
        copy = copy_name(name, len);
        if (copy == NULL)
            return 0;
        c = &fc->codings[slot_index(fc, name, len)];
        free(c->name);
        c->name = copy;
        c->name_len = len;
    }
    c->found = *found;
    c->watched = 0;
    c->epoch = 0;
    return 1;
}

void ws_file_cache_codings_watched(struct ws_file_cache *fc, const char *name, size_t len,
                                   const struct ws_file_codings *found)
{
    struct codings *c = codings_for(fc, name, len);

    if (c != NULL && same_codings(&c->found, found))
        c->watched = 1;
}
