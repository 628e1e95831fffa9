/*
 * file_cache.c - per-worker cache of small files; see file_cache.h for the design.
 */
#include "file_cache.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct entry {
    char *name; /* NULL when the slot is empty */
    size_t name_len;
    char *body;
    dev_t dev;
    ino_t ino;
    mode_t mode;
    off_t size;
    struct timespec mtime, ctime;
};

struct ws_file_cache {
    unsigned slots; /* a power of two */
    size_t max_file;
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
    for (unsigned i = 0; i < fc->slots; i++)
        clear(&fc->entries[i]);
    free(fc);
}

/* FNV-1a: names are short, and an attacker gains nothing from collisions but misses. */
static struct entry *slot_for(struct ws_file_cache *fc, const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
    return &fc->entries[(h ^ (h >> 29)) & (fc->slots - 1)];
}

static int same_file(const struct entry *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino && e->mode == st->st_mode &&
           e->size == st->st_size && e->mtime.tv_sec == st->st_mtim.tv_sec &&
           e->mtime.tv_nsec == st->st_mtim.tv_nsec && e->ctime.tv_sec == st->st_ctim.tv_sec &&
           e->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

const char *ws_file_cache_find(struct ws_file_cache *fc, const char *name, size_t len,
                               const struct stat *st)
{
    struct entry *e = slot_for(fc, name, len);

    if (e->name == NULL || e->name_len != len || memcmp(e->name, name, len) != 0)
        return NULL;
    if (!same_file(e, st)) {
        clear(e); /* changed on disk: forget it now rather than at the next put */
        return NULL;
    }
    return e->body;
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
    copy = malloc(len + 1);
    if (body == NULL || copy == NULL)
        goto fail;
    do
        n = pread(fd, body, size, 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)size)
        goto fail; /* changed while we read it: do not remember a torn copy */
    memcpy(copy, name, len);
    copy[len] = '\0';

    clear(e);
    e->name = copy;
    e->name_len = len;
    e->body = body;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->mode = st->st_mode;
    e->size = st->st_size;
    e->mtime = st->st_mtim;
    e->ctime = st->st_ctim;
    return body;

fail:
    free(body);
    free(copy);
    return NULL;
}
