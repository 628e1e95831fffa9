/*
 * server/test_fdqueue.c - the bounded descriptor queue.
 *
 * DESIGN
 * cmocka is not thread-safe, so helper threads never assert: each writes its
 * results (return codes, values popped) into its own struct, and the test's
 * thread checks them after joining it.
 *
 * A test of a wake-up first proves that the thread to be woken is asleep in
 * the queue's condition-variable wait, never sleeps and hopes: a popper through
 * the stats (waiting counts poppers inside the wait, and the stats take the
 * queue's lock, which a popper gives up only in the wait); a pusher that has
 * appended part of a batch through the length it left (same argument); any
 * other pusher through /proc (see wait_blocked). Whether a push or a kick woke
 * somebody is decided under the lock inside the call and shows in the stats'
 * waiting count as soon as it returns, so that is checked at once too.
 *
 * Every wait is bounded: polls and joins give up after WAIT_SECONDS and fail
 * the test, and a watchdog alarm() kills the whole program as a last resort.
 */
#include "test_util.h"

#include "server/fdqueue.h"

#include <errno.h>
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>

/* How long any one wait may take before the test fails instead of hanging. */
#define WAIT_SECONDS 10

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static struct timespec deadline(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    ts.tv_sec += WAIT_SECONDS;
    return ts;
}

static int passed(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Joins t, failing the test (not hanging it) if t has not ended within WAIT_SECONDS. */
static void join_thread_at(pthread_t t, const char *file, int line)
{
    struct timespec until = deadline(CLOCK_REALTIME);
    int rc = pthread_timedjoin_np(t, NULL, &until);
    if (rc != 0) {
        if (rc == ETIMEDOUT)
            print_error("a thread has not ended within %d s: was it never woken?\n", WAIT_SECONDS);
        else
            print_error("pthread_timedjoin_np: %s\n", strerror(rc));
        _fail(file, line);
    }
}

#define join_thread(t) join_thread_at((t), __FILE__, __LINE__)

static struct ws_fdqueue *create(unsigned capacity)
{
    struct ws_fdqueue *q = ws_fdqueue_create(capacity);
    assert_non_null(q);
    return q;
}

static void check_stats(struct ws_fdqueue *q, unsigned capacity, unsigned length,
                        unsigned high_water)
{
    struct ws_fdqueue_stats s;
    ws_fdqueue_stats(q, &s);
    assert_int_equal(s.capacity, capacity);
    assert_int_equal(s.length, length);
    assert_int_equal(s.high_water, high_water);
}

static void test_create_zero(void **state)
{
    errno = 0;
    assert_null(ws_fdqueue_create(0));
    assert_int_equal(errno, EINVAL);
    ws_fdqueue_destroy(NULL);
}

static void test_fifo_and_full(void **state)
{
    struct ws_fdqueue *q = create(4);
    int fd = -1;

    check_stats(q, 4, 0, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ws_fdqueue_try_push(q, 10 + i), 0);
    assert_int_equal(ws_fdqueue_try_push(q, 14), -EAGAIN);
    check_stats(q, 4, 4, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
        assert_int_equal(fd, 10 + i);
    }
    check_stats(q, 4, 0, 4);

    /* Many laps around the ring, at every fill level: order is kept across the wrap. */
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {
        int fill = 1 + round % 4;
        for (int i = 0; i < fill; i++)
            assert_int_equal(ws_fdqueue_push(q, next_in++), 0);
        for (int i = 0; i < fill; i++) {
            assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
            assert_int_equal(fd, next_out++);
        }
    }
    ws_fdqueue_destroy(q);
}

static void test_high_water(void **state)
{
    struct ws_fdqueue *q = create(8);
    int fd;

    for (int i = 0; i < 3; i++)
        assert_int_equal(ws_fdqueue_push(q, i), 0);
    check_stats(q, 8, 3, 3);
    assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
    assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
    check_stats(q, 8, 1, 3);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ws_fdqueue_push(q, i), 0);
    check_stats(q, 8, 5, 5);
    while (ws_fdqueue_try_push(q, 99) == 0)
        ;
    check_stats(q, 8, 8, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
    check_stats(q, 8, 0, 8);
    ws_fdqueue_destroy(q);
}

static void test_close_drains_first(void **state)
{
    struct ws_fdqueue *q = create(4);
    int fd = -1;

    assert_int_equal(ws_fdqueue_push(q, 7), 0);
    assert_int_equal(ws_fdqueue_push(q, 8), 0);
    ws_fdqueue_close(q);
    ws_fdqueue_close(q); /* idempotent */
    assert_int_equal(ws_fdqueue_push(q, 9), -EPIPE);
    assert_int_equal(ws_fdqueue_try_push(q, 9), -EPIPE);
    assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
    assert_int_equal(fd, 7);
    assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
    assert_int_equal(fd, 8);
    fd = -1;
    assert_int_equal(ws_fdqueue_pop(q, &fd), -EPIPE);
    assert_int_equal(fd, -1); /* untouched on failure */
    assert_int_equal(ws_fdqueue_pop(q, &fd), -EPIPE);
    check_stats(q, 4, 0, 2);
    ws_fdqueue_destroy(q);
}

/* What one helper thread did; read by the test only after joining it. */
struct worker {
    pthread_t thread;
    struct ws_fdqueue *q;
    int value; /* to push, or popped */
    int rc;
    atomic_int tid; /* its kernel thread id, once running; read by wait_blocked */
};

static void *pop_one(void *arg)
{
    struct worker *w = arg;
    atomic_store(&w->tid, (int)syscall(SYS_gettid));
    w->rc = ws_fdqueue_pop(w->q, &w->value);
    return NULL;
}

static void *push_one(void *arg)
{
    struct worker *w = arg;
    atomic_store(&w->tid, (int)syscall(SYS_gettid));
    w->rc = ws_fdqueue_push(w->q, w->value);
    return NULL;
}

static void start(struct worker *w, struct ws_fdqueue *q, void *(*fn)(void *), int value)
{
    w->q = q;
    w->value = value;
    w->rc = 12345;
    atomic_init(&w->tid, 0);
    assert_int_equal(pthread_create(&w->thread, NULL, fn, w), 0);
}

#define join(w) join_thread((w)->thread)

/* Polls until `waiting` poppers are asleep in the queue (or WAIT_SECONDS pass); returns it. */
static unsigned wait_sleepers(struct ws_fdqueue *q, unsigned waiting)
{
    struct timespec until = deadline(CLOCK_MONOTONIC);
    struct ws_fdqueue_stats s;
    for (;;) {
        ws_fdqueue_stats(q, &s);
        if (s.waiting == waiting || passed(&until))
            return s.waiting;
        sleep_ms(1);
    }
}

/*
 * Polls until w's thread is asleep in a wait on one of q's condition variables
 * (or WAIT_SECONDS pass); returns whether it is. The stats count sleeping
 * poppers but not pushers, so this asks the kernel: the thread must be in a
 * futex wait of the kind glibc's pthread_cond_wait makes (FUTEX_WAIT_BITSET; a
 * mutex wait is a plain FUTEX_WAIT) on a word inside q's own memory block. A
 * pusher waits on nothing else there but not_full.
 */
static int wait_blocked(struct ws_fdqueue *q, struct worker *w)
{
    struct timespec until = deadline(CLOCK_MONOTONIC);
    uintptr_t lo = (uintptr_t)q, hi = lo + malloc_usable_size(q);
    char path[64], line[256];

    for (;; sleep_ms(1)) {
        int tid = atomic_load(&w->tid);
        unsigned long addr, op;
        long nr;
        FILE *f;

        if (passed(&until))
            return 0;
        if (tid == 0)
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
        if ((f = fopen(path, "r")) == NULL)
            return 0;
        if (fgets(line, sizeof(line), f) == NULL)
            line[0] = '\0';
        fclose(f);
        /* "nr arg1 arg2 ...", or "running" when not in a system call. */
        if (sscanf(line, "%ld %lx %lx", &nr, &addr, &op) == 3 && nr == SYS_futex &&
            (op & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET && addr >= lo && addr < hi)
            return 1;
    }
}

static void test_close_wakes_poppers(void **state)
{
    struct ws_fdqueue *q = create(2);
    struct worker w[3];

    for (int i = 0; i < 3; i++)
        start(&w[i], q, pop_one, -1);
    assert_int_equal(wait_sleepers(q, 3), 3); /* all blocked on the empty queue */
    ws_fdqueue_close(q);
    for (int i = 0; i < 3; i++) {
        join(&w[i]);
        assert_int_equal(w[i].rc, -EPIPE);
        assert_int_equal(w[i].value, -1);
    }
    ws_fdqueue_destroy(q);
}

static void test_close_wakes_pushers(void **state)
{
    struct ws_fdqueue *q = create(1);
    struct worker w[2];
    int fd;

    assert_int_equal(ws_fdqueue_push(q, 1), 0);
    start(&w[0], q, push_one, 2);
    start(&w[1], q, push_one, 3);
    assert_true(wait_blocked(q, &w[0])); /* both blocked on the full queue */
    assert_true(wait_blocked(q, &w[1]));
    ws_fdqueue_close(q);
    for (int i = 0; i < 2; i++) {
        join(&w[i]);
        assert_int_equal(w[i].rc, -EPIPE);
    }
    /* Only what was queued before the close comes out. */
    assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
    assert_int_equal(fd, 1);
    assert_int_equal(ws_fdqueue_pop(q, &fd), -EPIPE);
    ws_fdqueue_destroy(q);
}

static void test_push_wakes_popper(void **state)
{
    struct ws_fdqueue *q = create(2);
    struct worker w;

    start(&w, q, pop_one, -1);
    assert_int_equal(wait_sleepers(q, 1), 1);
    assert_int_equal(ws_fdqueue_push(q, 42), 0);
    join(&w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(w.value, 42);
    ws_fdqueue_destroy(q);
}

static void test_pop_wakes_pusher(void **state)
{
    struct ws_fdqueue *q = create(2);
    struct worker w;
    int fd;

    assert_int_equal(ws_fdqueue_push(q, 1), 0);
    assert_int_equal(ws_fdqueue_push(q, 2), 0);
    start(&w, q, push_one, 3);
    assert_true(wait_blocked(q, &w));
    assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
    assert_int_equal(fd, 1);
    join(&w);
    assert_int_equal(w.rc, 0);
    for (int i = 2; i <= 3; i++) {
        assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
        assert_int_equal(fd, i);
    }
    ws_fdqueue_destroy(q);
}

/* --- push_many ------------------------------------------------------------------- */

static void test_push_many_order(void **state)
{
    struct ws_fdqueue *q = create(8);
    const int a[] = { 10, 11, 12 }, b[] = { 13, 14, 15, 16, 17 };
    int fd;

    assert_int_equal(ws_fdqueue_push_many(q, a, 0), 0);
    check_stats(q, 8, 0, 0);
    assert_int_equal(ws_fdqueue_push_many(q, a, 3), 3);
    assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
    assert_int_equal(fd, 10);
    /* Around the end of the ring: 2 queued + 5, wrapping. */
    assert_int_equal(ws_fdqueue_push_many(q, b, 5), 5);
    check_stats(q, 8, 7, 7);
    for (int want = 11; want <= 17; want++) {
        assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
        assert_int_equal(fd, want);
    }
    check_stats(q, 8, 0, 7);
    ws_fdqueue_destroy(q);
}

/* What a thread calling push_many did; read by the test only after joining it. */
struct many_pusher {
    pthread_t thread;
    struct ws_fdqueue *q;
    const int *fds;
    unsigned n;
    int rc;
};

static void *push_many_thread(void *arg)
{
    struct many_pusher *p = arg;
    p->rc = ws_fdqueue_push_many(p->q, p->fds, p->n);
    return NULL;
}

/* Polls the queue's length until it is `length` (or WAIT_SECONDS pass); returns it. */
static unsigned wait_length(struct ws_fdqueue *q, unsigned length)
{
    struct timespec until = deadline(CLOCK_MONOTONIC);
    struct ws_fdqueue_stats s;
    for (;;) {
        ws_fdqueue_stats(q, &s);
        if (s.length == length || passed(&until))
            return s.length;
        sleep_ms(1);
    }
}

/* A batch bigger than the room blocks until poppers make room, and keeps its order. */
static void test_push_many_blocks_when_full(void **state)
{
    struct ws_fdqueue *q = create(2);
    static const int fds[] = { 1, 2, 3, 4, 5, 6, 7 };
    struct many_pusher p = { .q = q, .fds = fds, .n = 7, .rc = -12345 };
    int fd, got[7];

    assert_int_equal(pthread_create(&p.thread, NULL, push_many_thread, &p), 0);
    /*
     * Full, with five still to push: the pusher appended under the lock and gives
     * the lock up only in the wait for room, so the stats' seeing it proves the wait.
     */
    assert_int_equal(wait_length(q, 2), 2);
    check_stats(q, 2, 2, 2);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
        got[i] = fd;
    }
    join_thread(p.thread);
    assert_int_equal(p.rc, 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(got[i], i + 1);
    check_stats(q, 2, 0, 2);
    ws_fdqueue_destroy(q);
}

/* Closing while a batch waits for room: the part that fit is counted and stays poppable. */
static void test_push_many_partial_on_close(void **state)
{
    struct ws_fdqueue *q = create(3);
    static const int fds[] = { 21, 22, 23, 24, 25 };
    struct many_pusher p = { .q = q, .fds = fds, .n = 5, .rc = -12345 };
    int fd;

    assert_int_equal(pthread_create(&p.thread, NULL, push_many_thread, &p), 0);
    assert_int_equal(wait_length(q, 3), 3); /* so it waits on not_full, as above */
    ws_fdqueue_close(q);
    join_thread(p.thread);
    assert_int_equal(p.rc, 3);
    for (int want = 21; want <= 23; want++) {
        assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
        assert_int_equal(fd, want);
    }
    assert_int_equal(ws_fdqueue_pop(q, &fd), -EPIPE);
    /* Closed: nothing more goes in. */
    assert_int_equal(ws_fdqueue_push_many(q, fds, 5), 0);
    ws_fdqueue_destroy(q);
}

/* --- set_consumers: who gets woken ------------------------------------------------ */

/*
 * Two consumers asleep. The first push wakes one (one item, no consumer awake); that
 * one pops it and, as far as the queue knows, is awake from then on (a worker comes
 * back for more). So a second push wakes nobody: one item, one consumer awake. A
 * third makes two items for one awake consumer, and wakes the other sleeper.
 */
static void test_consumers_wake_only_when_needed(void **state)
{
    struct ws_fdqueue *q = create(8);
    struct ws_fdqueue_stats s;
    struct worker w[2];
    int fd;

    ws_fdqueue_set_consumers(q, 2);
    start(&w[0], q, pop_one, -1);
    start(&w[1], q, pop_one, -1);
    assert_int_equal(wait_sleepers(q, 2), 2);

    assert_int_equal(ws_fdqueue_push(q, 100), 0);
    assert_int_equal(wait_sleepers(q, 1), 1); /* one woke (at once: stats count it awake) */
    assert_int_equal(wait_length(q, 0), 0);   /* and took the item */

    assert_int_equal(ws_fdqueue_push(q, 101), 0);
    ws_fdqueue_stats(q, &s);
    assert_int_equal(s.waiting, 1); /* nobody was woken for it (a wake counts at once) */
    assert_int_equal(s.length, 1);

    assert_int_equal(ws_fdqueue_push(q, 102), 0);
    join(&w[0]);
    join(&w[1]);
    assert_int_equal(w[0].rc, 0);
    assert_int_equal(w[1].rc, 0);
    /* One popped 100; the other the oldest left, 101. */
    assert_true((w[0].value == 100 && w[1].value == 101) ||
                (w[0].value == 101 && w[1].value == 100));
    ws_fdqueue_stats(q, &s);
    assert_int_equal(s.waiting, 0);
    assert_int_equal(s.length, 1);
    assert_int_equal(ws_fdqueue_pop(q, &fd), 0);
    assert_int_equal(fd, 102);
    ws_fdqueue_destroy(q);
}

/* Without set_consumers, every push wakes a sleeper: two pushes, two woken. */
static void test_default_wakes_on_every_push(void **state)
{
    struct ws_fdqueue *q = create(8);
    struct ws_fdqueue_stats s;
    struct worker w[2];

    start(&w[0], q, pop_one, -1);
    start(&w[1], q, pop_one, -1);
    assert_int_equal(wait_sleepers(q, 2), 2);
    assert_int_equal(ws_fdqueue_push(q, 200), 0);
    assert_int_equal(wait_length(q, 0), 0);
    assert_int_equal(ws_fdqueue_push(q, 201), 0); /* with set_consumers(2): nobody woken */
    join(&w[0]);
    join(&w[1]);
    assert_int_equal(w[0].value + w[1].value, 401);
    ws_fdqueue_stats(q, &s);
    assert_int_equal(s.waiting, 0);
    assert_int_equal(s.length, 0);
    ws_fdqueue_destroy(q);
}

/* A batch wakes as many sleepers as it has items beyond the consumers awake. */
static void test_consumers_push_many_wakes_enough(void **state)
{
    struct ws_fdqueue *q = create(8);
    struct ws_fdqueue_stats s;
    struct worker w[3];
    static const int fds[] = { 300, 301, 302 };

    ws_fdqueue_set_consumers(q, 3);
    for (int i = 0; i < 3; i++)
        start(&w[i], q, pop_one, -1);
    assert_int_equal(wait_sleepers(q, 3), 3);
    assert_int_equal(ws_fdqueue_push_many(q, fds, 3), 3);
    for (int i = 0; i < 3; i++)
        join(&w[i]);
    assert_int_equal(w[0].value + w[1].value + w[2].value, 903);
    ws_fdqueue_stats(q, &s);
    assert_int_equal(s.waiting, 0);
    assert_int_equal(s.length, 0);
    ws_fdqueue_destroy(q);
}

/* Close wakes sleepers whatever the policy, and the stats see none waiting. */
static void test_consumers_close_wakes_all(void **state)
{
    struct ws_fdqueue *q = create(4);
    struct ws_fdqueue_stats s;
    struct worker w[3];

    ws_fdqueue_set_consumers(q, 3);
    for (int i = 0; i < 3; i++)
        start(&w[i], q, pop_one, -1);
    assert_int_equal(wait_sleepers(q, 3), 3);
    ws_fdqueue_close(q);
    ws_fdqueue_stats(q, &s);
    assert_int_equal(s.waiting, 0);
    for (int i = 0; i < 3; i++) {
        join(&w[i]);
        assert_int_equal(w[i].rc, -EPIPE);
    }
    ws_fdqueue_destroy(q);
}

/*
 * With the cap at one awake consumer, a batch of three wakes only one sleeper;
 * ws_fdqueue_kick wakes another once nothing has been popped since its last look.
 */
static void test_max_awake_and_kick(void **state)
{
    struct ws_fdqueue *q = create(8);
    struct ws_fdqueue_stats s;
    struct worker w[3];
    static const int fds[] = { 400, 401, 402 };
    unsigned long long pops = 0;

    ws_fdqueue_set_consumers(q, 3);
    ws_fdqueue_set_max_awake(q, 1);
    for (int i = 0; i < 3; i++)
        start(&w[i], q, pop_one, -1);
    assert_int_equal(wait_sleepers(q, 3), 3);
    assert_int_equal(ws_fdqueue_push_many(q, fds, 3), 3);
    assert_int_equal(wait_length(q, 2), 2); /* one woke and took one */
    ws_fdqueue_stats(q, &s);
    assert_int_equal(s.waiting, 2); /* the cap held: nobody else was woken */
    assert_int_equal(s.length, 2);

    assert_int_equal(ws_fdqueue_kick(q, &pops), 2); /* first look: pops moved from 0 to 1 */
    ws_fdqueue_stats(q, &s);
    assert_int_equal(s.waiting, 2);                 /* so nobody was woken */
    assert_int_equal(ws_fdqueue_kick(q, &pops), 2); /* no pop since: stuck, wake one */
    ws_fdqueue_stats(q, &s);
    assert_true(s.waiting == 1 && s.length >= 1); /* the wake counts at once */
    assert_int_equal(wait_length(q, 1), 1);
    assert_int_equal(ws_fdqueue_kick(q, &pops), 1); /* that one popped: not stuck */
    ws_fdqueue_stats(q, &s);
    assert_int_equal(s.waiting, 1); /* so the last sleeper was left alone */
    assert_int_equal(s.length, 1);

    ws_fdqueue_close(q); /* the third sleeper wakes, takes the last item */
    for (int i = 0; i < 3; i++) {
        join(&w[i]);
        assert_int_equal(w[i].rc, 0);
    }
    assert_int_equal(w[0].value + w[1].value + w[2].value, 400 + 401 + 402);
    ws_fdqueue_destroy(q);
}

/*
 * A full queue overrides the cap: a pusher about to wait for room first wakes
 * every sleeper (the awake one may be stuck). Without that, the pusher never
 * returns and the bounded join fails the test.
 */
static void test_full_queue_wakes_everyone(void **state)
{
    static const int fds[] = { 500, 501, 502, 503 };
    struct ws_fdqueue *q = create(2);
    struct many_pusher p = { .q = q, .fds = fds, .n = 4 };
    struct worker w[3];
    int fd, sum;

    ws_fdqueue_set_consumers(q, 3);
    ws_fdqueue_set_max_awake(q, 1);
    for (int i = 0; i < 3; i++)
        start(&w[i], q, pop_one, -1);
    assert_int_equal(wait_sleepers(q, 3), 3);
    assert_int_equal(pthread_create(&p.thread, NULL, push_many_thread, &p), 0);
    join_thread(p.thread); /* the point: it does not hang */
    assert_int_equal(p.rc, 4);
    /*
     * These test consumers pop once and leave, where a worker would come back for
     * more, so a sleeper may still wait with items queued: close to release it.
     */
    ws_fdqueue_close(q);
    sum = 0;
    for (int i = 0; i < 3; i++) {
        join(&w[i]);
        assert_int_equal(w[i].rc, 0);
        sum += w[i].value;
    }
    while (ws_fdqueue_pop(q, &fd) == 0)
        sum += fd;
    assert_int_equal(sum, 500 + 501 + 502 + 503);
    ws_fdqueue_destroy(q);
}

/*
 * Multi-producer, multi-consumer stress. Each producer sends its own range of
 * values; half of them use try_push (spinning with sched_yield on -EAGAIN),
 * half the blocking push. Each consumer records what it popped, in order.
 * Afterwards: every value was seen exactly once, and each consumer saw any one
 * producer's values in increasing order (FIFO).
 */
#define PRODUCERS 4
#define CONSUMERS 4
#define MAX_TOTAL 200000

struct producer {
    pthread_t thread;
    struct ws_fdqueue *q;
    int id;
    int per_producer;
    int failures; /* pushes that returned an error */
    long full;    /* -EAGAIN answers seen */
};

struct consumer {
    pthread_t thread;
    struct ws_fdqueue *q;
    int *got; /* room for every value */
    int count;
    int end_rc; /* the result that ended its loop */
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < p->per_producer; i++) {
        int fd = p->id * p->per_producer + i, rc;
        if (p->id % 2 == 0) {
            rc = ws_fdqueue_push(p->q, fd);
        } else {
            while ((rc = ws_fdqueue_try_push(p->q, fd)) == -EAGAIN) {
                p->full++;
                sched_yield();
            }
        }
        if (rc != 0)
            p->failures++;
    }
    return NULL;
}

static void *consume(void *arg)
{
    struct consumer *c = arg;
    int fd, rc;
    while ((rc = ws_fdqueue_pop(c->q, &fd)) == 0)
        c->got[c->count++] = fd;
    c->end_rc = rc;
    return NULL;
}

static void run_stress(unsigned capacity, int total_items)
{
    struct ws_fdqueue *q = create(capacity);
    struct producer prod[PRODUCERS];
    struct consumer cons[CONSUMERS];
    const int per = total_items / PRODUCERS;
    unsigned char *seen = calloc((size_t)total_items, 1);
    struct ws_fdqueue_stats s;
    int total = 0;

    assert_non_null(seen);
    for (int i = 0; i < CONSUMERS; i++) {
        cons[i] = (struct consumer){ .q = q, .got = malloc((size_t)total_items * sizeof(int)) };
        assert_non_null(cons[i].got);
        assert_int_equal(pthread_create(&cons[i].thread, NULL, consume, &cons[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        prod[i] = (struct producer){ .q = q, .id = i, .per_producer = per };
        assert_int_equal(pthread_create(&prod[i].thread, NULL, produce, &prod[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        join_thread(prod[i].thread);
    ws_fdqueue_close(q); /* consumers drain what is left, then stop */
    for (int i = 0; i < CONSUMERS; i++)
        join_thread(cons[i].thread);

    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(prod[i].failures, 0);
    for (int i = 0; i < CONSUMERS; i++) {
        int last[PRODUCERS];
        for (int p = 0; p < PRODUCERS; p++)
            last[p] = -1;
        assert_int_equal(cons[i].end_rc, -EPIPE);
        for (int k = 0; k < cons[i].count; k++) {
            int fd = cons[i].got[k];
            assert_in_range(fd, 0, total_items - 1);
            assert_int_equal(seen[fd], 0); /* never delivered twice */
            seen[fd] = 1;
            assert_true(fd > last[fd / per]); /* FIFO per producer */
            last[fd / per] = fd;
        }
        total += cons[i].count;
        free(cons[i].got);
    }
    assert_int_equal(total, total_items); /* and none lost */
    ws_fdqueue_stats(q, &s);
    assert_int_equal(s.length, 0);
    assert_true(s.high_water >= 1 && s.high_water <= capacity);
    free(seen);
    ws_fdqueue_destroy(q);
}

static void test_stress_capacity_8(void **state)
{
    run_stress(8, MAX_TOTAL);
}

/* One slot: every operation contends, so fewer items keep it fast. */
static void test_stress_capacity_1(void **state)
{
    run_stress(1, MAX_TOTAL / 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_zero),
        cmocka_unit_test(test_fifo_and_full),
        cmocka_unit_test(test_high_water),
        cmocka_unit_test(test_close_drains_first),
        cmocka_unit_test(test_close_wakes_poppers),
        cmocka_unit_test(test_close_wakes_pushers),
        cmocka_unit_test(test_push_wakes_popper),
        cmocka_unit_test(test_pop_wakes_pusher),
        cmocka_unit_test(test_push_many_order),
        cmocka_unit_test(test_push_many_blocks_when_full),
        cmocka_unit_test(test_push_many_partial_on_close),
        cmocka_unit_test(test_consumers_wake_only_when_needed),
        cmocka_unit_test(test_default_wakes_on_every_push),
        cmocka_unit_test(test_consumers_push_many_wakes_enough),
        cmocka_unit_test(test_consumers_close_wakes_all),
        cmocka_unit_test(test_max_awake_and_kick),
        cmocka_unit_test(test_full_queue_wakes_everyone),
        cmocka_unit_test(test_stress_capacity_8),
        cmocka_unit_test(test_stress_capacity_1),
    };
    start_watchdog(60); /* a last resort: each wait fails its own test after WAIT_SECONDS */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
