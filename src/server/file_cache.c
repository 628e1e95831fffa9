/*
 * server/file_cache.c - per-worker cache of small files; see file_cache.h for the design.
 *
 * DESIGN
 * The cache belongs to one worker and has no lock. What it shares is the
 * watch (its own mutex, watch.h), and the order in which the two are used is
 * what makes a hit exact, so it is written here once:
 *
 *   lookup: epoch first, then any stat; an entry or siblings record found
 *           unchanged by a stat is fresh as of that epoch, and is served
 *           without a stat while the epoch stays there, if it is watched.
 *   fill:   read the copy, then place the watches, then sync, then stat the
 *           path; the entry is watched only if that stat matches the copy.
 *   record: the file's and siblings' stats, then, for a set of files not
 *           recorded before, the watches; such a record is not fresh at any
 *           epoch until a later lookup finds the same set again, after the
 *           watches were in place.
 */
#include "server/file_cache.h"

#include "server/watch.h"

#include "http/httpdate.h"
#include "http/validators.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * A cached copy and what every response of it says about it, formatted once.
 * The entry holds one reference and each holder (ws_file_cache_hold) one
 * more; any thread may drop one, and the last frees the block.
 */
struct body {
    atomic_uint refs;
    uint32_t etag_len;
    char etag[WS_ETAG_MAX];
    char last_modified[32];
    _Alignas(max_align_t) char data[];
};

/* The block whose data is data (which the cache hands out as const). */
static struct body *body_of(const char *data)
{
    uintptr_t at = (uintptr_t)data - offsetof(struct body, data);
    return (struct body *)at;
}

void ws_file_cache_hold(const char *body)
{
    atomic_fetch_add_explicit(&body_of(body)->refs, 1, memory_order_relaxed);
}

void ws_file_cache_release(const char *body)
{
    struct body *b;

    if (body == NULL)
        return;
    b = body_of(body);
    /* acq_rel: every holder's reads happen before the free. */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

const char *ws_file_cache_etag(const char *body, size_t *len)
{
    *len = body_of(body)->etag_len;
    return body_of(body)->etag;
}

const char *ws_file_cache_last_modified(const char *body)
{
    return body_of(body)->last_modified;
}

struct entry {
    char *name; /* NULL when the slot is empty */
    size_t name_len;
    char *body;     /* the data of a struct body */
    struct stat st; /* identity: device, inode, mode, size, mtime, ctime */
    int watched;    /* the file and its directories are under the watch */
    uint64_t epoch; /* the watch's epoch when the identity last matched a stat */
};

/* What stats of a file and of its siblings found. */
struct found {
    struct stat file;
    struct stat sib[WS_FILE_SIBLINGS_MAX]; /* sib[i] is meaningful when present has bit i */
    unsigned present;                      /* bit i: sibling i is a regular file */
    unsigned avail;                        /* bit i: sibling i is fit to send */
};

/* A file's siblings record. */
struct record {
    char *name; /* the file's name; NULL when the slot is empty */
    size_t name_len;
    struct found found;
    int watched;    /* the file and its present siblings are under the watch */
    uint64_t epoch; /* watched: the epoch as of which `found` is known to hold; 0 never */
};

struct ws_file_cache {
    unsigned slots; /* a power of two */
    size_t max_file;
    struct record *records; /* slots of them, by the same hash as entries */
    char sibling_name[PATH_MAX];
    atomic_ullong hits, misses; /* lookups, for the metrics (any thread reads) */
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
    fc->records = calloc(n, sizeof(*fc->records));
    if (fc->records == NULL) {
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
    ws_file_cache_release(e->body);
    memset(e, 0, sizeof(*e));
}

void ws_file_cache_free(struct ws_file_cache *fc)
{
    if (fc == NULL)
        return;
    for (unsigned i = 0; i < fc->slots; i++) {
        clear(&fc->entries[i]);
        free(fc->records[i].name);
    }
    free(fc->records);
    free(fc);
}

int ws_file_sibling_fit(const struct stat *sibling, const struct stat *file)
{
    if (!S_ISREG(sibling->st_mode))
        return 0;
    if (sibling->st_mtim.tv_sec != file->st_mtim.tv_sec)
        return sibling->st_mtim.tv_sec > file->st_mtim.tv_sec;
    return sibling->st_mtim.tv_nsec >= file->st_mtim.tv_nsec;
}

/* --- slots --------------------------------------------------------------- */

/* FNV-1a: names are short, and an attacker gains nothing from collisions but misses. */
static unsigned slot_index(const struct ws_file_cache *fc, const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
    return (unsigned)((h ^ (h >> 29)) & (fc->slots - 1));
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
static struct entry *entry_for(struct ws_file_cache *fc, const char *name, size_t len)
{
    struct entry *e = &fc->entries[slot_index(fc, name, len)];

    return holds(e->name, e->name_len, name, len) ? e : NULL;
}

/* The siblings record for the file name, or NULL. */
static struct record *record_for(struct ws_file_cache *fc, const char *name, size_t len)
{
    struct record *r = &fc->records[slot_index(fc, name, len)];

    return holds(r->name, r->name_len, name, len) ? r : NULL;
}

int ws_file_same_identity(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
           a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int same_found(const struct found *a, const struct found *b, unsigned count)
{
    if (a->present != b->present || a->avail != b->avail ||
        !ws_file_same_identity(&a->file, &b->file))
        return 0;
    for (unsigned i = 0; i < count; i++)
        if ((a->present & (1u << i)) && !ws_file_same_identity(&a->sib[i], &b->sib[i]))
            return 0;
    return 1;
}

/* --- names ----------------------------------------------------------------- */

/* How many siblings a choice has (none without one); never more than a record holds. */
static unsigned sibling_count(const struct ws_file_choice *choice)
{
    if (choice == NULL)
        return 0;
    return choice->count < WS_FILE_SIBLINGS_MAX ? choice->count : WS_FILE_SIBLINGS_MAX;
}

/* Whether every sibling's name of the file name (len bytes) fits the cache's buffer. */
static int sibling_names_fit(const struct ws_file_choice *choice, size_t len)
{
    for (unsigned i = 0; i < sibling_count(choice); i++)
        if (len + strlen(choice->siblings[i].suffix) >= PATH_MAX)
            return 0;
    return 1;
}

/*
 * The NUL-terminated name of what is sent: the file name itself for k = -1,
 * else sibling k's name, built in the cache's buffer (valid until the next
 * call), with its length in *out_len.
 */
static const char *name_of(struct ws_file_cache *fc, const char *name, size_t len,
                           const struct ws_file_choice *choice, int k, size_t *out_len)
{
    const char *suffix;
    size_t suffix_len;

    if (k < 0) {
        *out_len = len;
        return name;
    }
    suffix = choice->siblings[k].suffix;
    suffix_len = strlen(suffix);
    memcpy(fc->sibling_name, name, len);
    memcpy(fc->sibling_name + len, suffix, suffix_len + 1);
    *out_len = len + suffix_len;
    return fc->sibling_name;
}

/* The caller's choice given avail: a sibling whose bit is set, or -1. */
static int choose(const struct ws_file_choice *choice, unsigned avail)
{
    int k = choice->choose(choice->arg, avail);

    return k >= 0 && k < (int)sibling_count(choice) && (avail & (1u << k)) ? k : -1;
}

/* --- the siblings record ----------------------------------------------------- */

/* Stats each sibling of the file name, whose own stat is in f->file. */
static void stat_siblings(struct ws_file_cache *fc, const struct ws_file_origin *origin,
                          const char *name, size_t len, const struct ws_file_choice *choice,
                          struct found *f)
{
    for (unsigned i = 0; i < sibling_count(choice); i++) {
        struct stat *sib = &f->sib[i];
        size_t sib_len;
        const char *sib_name = name_of(fc, name, len, choice, (int)i, &sib_len);

        if (fstatat(origin->root_fd, sib_name, sib, 0) == 0 && S_ISREG(sib->st_mode)) {
            f->present |= 1u << i;
            if (ws_file_sibling_fit(sib, &f->file))
                f->avail |= 1u << i;
        }
    }
}

/* Watches the file name and each sibling f found present. 1 when all are watched. */
static int watch_found(struct ws_file_cache *fc, const struct ws_file_origin *origin,
                       const char *name, size_t len, const struct ws_file_choice *choice,
                       const struct found *f)
{
    if (ws_watch_file(origin->watch, origin->root_fd, name, &f->file) != 0)
        return 0;
    for (unsigned i = 0; i < sibling_count(choice); i++) {
        size_t sib_len;
        if ((f->present & (1u << i)) &&
            ws_watch_file(origin->watch, origin->root_fd,
                          name_of(fc, name, len, choice, (int)i, &sib_len), &f->sib[i]) != 0)
            return 0;
    }
    return 1;
}

/*
 * Records what stats taken after epoch was read found of the file name and
 * its siblings. The same files as recorded keep their watched state and
 * become fresh as of epoch; another set is recorded and watched, but is not
 * fresh until it is found again: a change between those stats and the
 * watches would have raised no event.
 */
static void note_found(struct ws_file_cache *fc, const struct ws_file_origin *origin,
                       const char *name, size_t len, const struct ws_file_choice *choice,
                       const struct found *f, uint64_t epoch)
{
    struct record *r = record_for(fc, name, len);

    if (r != NULL && same_found(&r->found, f, sibling_count(choice))) {
        r->epoch = epoch; /* still watched if it was: a watch goes only with its inode */
        return;
    }
    if (r == NULL) {
        char *copy = copy_name(name, len);
        if (copy == NULL)
            return;
        r = &fc->records[slot_index(fc, name, len)];
        free(r->name);
        r->name = copy;
        r->name_len = len;
    }
    r->found = *f;
    r->epoch = 0;
    r->watched = watch_found(fc, origin, name, len, choice, f);
}

/* --- lookup ---------------------------------------------------------------- */

static void set_hit(struct ws_file_hit *hit, const struct entry *e, int k)
{
    hit->body = e->body;
    hit->st = e->st;
    hit->sibling = k;
}

/*
 * The hit that needs no system call: the siblings record (with a choice) and
 * the chosen entry are watched and were found unchanged at exactly epoch.
 */
static int fresh_hit(struct ws_file_cache *fc, const char *name, size_t len,
                     const struct ws_file_choice *choice, uint64_t epoch, struct ws_file_hit *hit)
{
    const struct entry *e;
    const char *key;
    size_t key_len;
    int k = -1;

    if (sibling_count(choice) > 0) {
        const struct record *r = record_for(fc, name, len);
        if (r == NULL || !r->watched || r->epoch != epoch)
            return 0;
        k = choose(choice, r->found.avail);
    }
    key = name_of(fc, name, len, choice, k, &key_len);
    e = entry_for(fc, key, key_len);
    if (e == NULL || !e->watched || e->epoch != epoch)
        return 0;
    set_hit(hit, e, k);
    return 1;
}

/*
 * The hit a stat confirms: stats the file (and each sibling, with a choice),
 * all taken after epoch was read, and returns the chosen entry if its
 * identity is unchanged, marking it found at epoch. An entry that changed is
 * dropped at once rather than at the next fill.
 */
static int checked_hit(struct ws_file_cache *fc, const struct ws_file_origin *origin,
                       const char *name, size_t len, const struct ws_file_choice *choice,
                       uint64_t epoch, struct ws_file_hit *hit)
{
    struct found f; /* sib[i] is read only where present says it was filled */
    struct entry *e;
    const char *key;
    size_t key_len;
    int k = -1;

    f.present = f.avail = 0;
    if (fstatat(origin->root_fd, len > 0 ? name : ".", &f.file, 0) < 0 || !S_ISREG(f.file.st_mode))
        return 0;
    if (sibling_count(choice) > 0) {
        stat_siblings(fc, origin, name, len, choice, &f);
        if (origin->watch != NULL)
            note_found(fc, origin, name, len, choice, &f, epoch);
        k = choose(choice, f.avail);
    }
    key = name_of(fc, name, len, choice, k, &key_len);
    e = entry_for(fc, key, key_len);
    if (e == NULL)
        return 0;
    if (!ws_file_same_identity(&e->st, k < 0 ? &f.file : &f.sib[k])) {
        clear(e);
        return 0;
    }
    e->epoch = epoch;
    set_hit(hit, e, k);
    return 1;
}

void ws_file_cache_counts(struct ws_file_cache *fc, uint64_t *hits, uint64_t *misses)
{
    *hits = atomic_load_explicit(&fc->hits, memory_order_relaxed);
    *misses = atomic_load_explicit(&fc->misses, memory_order_relaxed);
}

static int lookup(struct ws_file_cache *fc, const struct ws_file_origin *origin, int synced,
                  const char *name, const struct ws_file_choice *choice, struct ws_file_hit *hit)
{
    size_t len = strlen(name);
    uint64_t epoch = 0;

    if (!sibling_names_fit(choice, len))
        return 0;
    if (origin->watch != NULL) {
        /* Read before any stat below: whatever is found unchanged is fresh as of it. */
        epoch = synced ? ws_watch_epoch(origin->watch) : ws_watch_sync(origin->watch);
        if (fresh_hit(fc, name, len, choice, epoch, hit))
            return 1;
    }
    return checked_hit(fc, origin, name, len, choice, epoch, hit);
}

int ws_file_cache_lookup(struct ws_file_cache *fc, const struct ws_file_origin *origin, int synced,
                         const char *name, const struct ws_file_choice *choice,
                         struct ws_file_hit *hit)
{
    int found = lookup(fc, origin, synced, name, choice, hit);

    atomic_fetch_add_explicit(found ? &fc->hits : &fc->misses, 1, memory_order_relaxed);
    return found;
}

/* --- fill ------------------------------------------------------------------ */

/* Reads fd (described by *st) into name's slot, replacing what it held. The entry, or NULL. */
static struct entry *put(struct ws_file_cache *fc, const char *name, size_t len, int fd,
                         const struct stat *st)
{
    struct entry *e = &fc->entries[slot_index(fc, name, len)];
    size_t size = (size_t)st->st_size;
    struct body *body;
    char *copy;
    ssize_t n;

    if (!S_ISREG(st->st_mode) || st->st_size < 0)
        return NULL;
    if (size > fc->max_file) {
        /* Too large to copy: the entry knows the identity alone, which saves a hit its stats. */
        copy = copy_name(name, len);
        if (copy == NULL)
            return NULL;
        clear(e);
        e->name = copy;
        e->name_len = len;
        e->st = *st;
        return e;
    }
    body = malloc(sizeof(*body) + (size > 0 ? size : 1));
    copy = copy_name(name, len);
    if (body == NULL || copy == NULL)
        goto fail;
    do
        n = pread(fd, body->data, size, 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)size)
        goto fail; /* changed while we read it: do not remember a torn copy */
    atomic_init(&body->refs, 1);
    body->etag_len = (uint32_t)ws_etag_format((uint64_t)st->st_size, st->st_mtim.tv_sec,
                                              st->st_mtim.tv_nsec, body->etag);
    ws_httpdate_format(st->st_mtim.tv_sec, body->last_modified);

    clear(e);
    e->name = copy;
    e->name_len = len;
    e->body = body->data;
    e->st = *st;
    return e;

fail:
    free(body);
    free(copy);
    return NULL;
}

const char *ws_file_cache_fill(struct ws_file_cache *fc, const struct ws_file_origin *origin,
                               const char *name, int fd, const struct stat *st)
{
    struct entry *e = put(fc, name, strlen(name), fd, st);
    struct stat now;
    uint64_t epoch;

    if (e == NULL)
        return NULL;
    if (origin->watch == NULL || ws_watch_file(origin->watch, origin->root_fd, name, st) != 0)
        return e->body; /* stat-checked at every use */
    /*
     * Watched from now on; was it changed before the watches were in place?
     * If so it stays unwatched, so its next use stat-checks it and drops it.
     * Not dropped here: the caller is about to send the copy it is given,
     * which is a version that existed.
     */
    epoch = ws_watch_sync(origin->watch);
    if (fstatat(origin->root_fd, name, &now, 0) == 0 && ws_file_same_identity(&e->st, &now)) {
        e->watched = 1;
        e->epoch = epoch;
    }
    return e->body;
}
