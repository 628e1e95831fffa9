/*
 * test_fdqueue.c - the bounded descriptor queue.
 *
 * DESIGN
 * cmocka is not thread-safe, so helper threads never assert: each writes its
 * results (return codes, values popped) into its own struct, and the test's
 * thread checks them after pthread_join. Nothing here can hang the suite: a
 * watchdog alarm() kills the whole program if any wait goes wrong. Tests that
 * need a thread to be blocked inside the queue give it time to get there; if
 * it has not, the test still passes for the right reason (the result it checks
 * is the same), it just exercises less.
 */
#include "test_util.h"

#include "fdqueue.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

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
};

static void *pop_one(void *arg)
{
    struct worker *w = arg;
    w->rc = ws_fdqueue_pop(w->q, &w->value);
    return NULL;
}

static void *push_one(void *arg)
{
    struct worker *w = arg;
    w->rc = ws_fdqueue_push(w->q, w->value);
    return NULL;
}

static void start(struct worker *w, struct ws_fdqueue *q, void *(*fn)(void *), int value)
{
    w->q = q;
    w->value = value;
    w->rc = 12345;
    assert_int_equal(pthread_create(&w->thread, NULL, fn, w), 0);
}

static void join(struct worker *w)
{
    assert_int_equal(pthread_join(w->thread, NULL), 0);
}

static void test_close_wakes_poppers(void **state)
{
    struct ws_fdqueue *q = create(2);
    struct worker w[3];

    for (int i = 0; i < 3; i++)
        start(&w[i], q, pop_one, -1);
    sleep_ms(50); /* let them block on the empty queue */
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
    sleep_ms(50); /* let them block on the full queue */
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
    sleep_ms(50);
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
    sleep_ms(50);
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
        assert_int_equal(pthread_join(prod[i].thread, NULL), 0);
    ws_fdqueue_close(q); /* consumers drain what is left, then stop */
    for (int i = 0; i < CONSUMERS; i++)
        assert_int_equal(pthread_join(cons[i].thread, NULL), 0);

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
        cmocka_unit_test(test_create_zero),         cmocka_unit_test(test_fifo_and_full),
        cmocka_unit_test(test_high_water),          cmocka_unit_test(test_close_drains_first),
        cmocka_unit_test(test_close_wakes_poppers), cmocka_unit_test(test_close_wakes_pushers),
        cmocka_unit_test(test_push_wakes_popper),   cmocka_unit_test(test_pop_wakes_pusher),
        cmocka_unit_test(test_stress_capacity_8),   cmocka_unit_test(test_stress_capacity_1),
    };
    start_watchdog(30);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
