/*
 * server/test_loop.c - the parking hand-over (loop.c) under stress: connection
 * records passed between event threads and workers a very large number of
 * times, with no lost and no doubled wake-up.
 *
 * DESIGN
 * The set-up is the server's, cut down to the hand-over: EVENT_THREADS loops
 * (ws__loop_init), each run by its own thread as server.c's event_loop runs
 * it (epoll_wait, ws__loop_take, push the batch into the ring, ws__loop_expire),
 * one shared ring (fdqueue.h) and WORKERS worker threads that pop a record and
 * park it back into its own loop (ws__loop_park, EPOLLOUT one-shot). A record's
 * descriptor is one end of a socketpair, always writable, so every re-arm
 * reports at once and a record goes round as fast as the threads can pass it.
 * Deadlines are set just under each loop's next wake-up now and then, so parks
 * also write the loop's eventfd.
 *
 * What is checked, per record:
 *   - doubled wake-up: the event thread that takes a record from epoll swaps
 *     its `held` word from 0 to 1; the worker puts 0 back just before parking.
 *     Finding 1 already means the record was reported while a worker (or the
 *     ring) held it. Its plain `wakes` and `runs` counters, touched only by the
 *     owner of the moment, also let TSan see two owners at once;
 *   - lost wake-up: `runs` must equal `wakes` when a worker takes the record,
 *     and the test's thread watches each record's atomic count of turns: one
 *     that stops moving for STALL_MS was parked and never reported again.
 * Helper threads never assert (cmocka is not thread-safe): they count, and the
 * test's thread asserts after joining them.
 *
 * Bounded in count and time: each case stops after MAX_HANDOFFS hand-overs or
 * MAX_SECONDS, whichever comes first (fewer under TSan, which is ~10x slower),
 * and must reach MIN_HANDOFFS. A watchdog alarm() ends the program as a last
 * resort.
 */
#include "test_util.h"

#include "server/conn.h"
#include "server/fdqueue.h"
#include "server/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#define EVENT_THREADS 4
#define WORKERS       4
#define MAX_FD        4096
#define MAX_HANDOFFS  (UNDER_TSAN ? 1000000ULL : 2000000ULL)
#define MIN_HANDOFFS  200000ULL
#define MAX_SECONDS   20
#define STALL_MS      3000

/* The test's view of one record; indexed by its descriptor. */
struct probe {
    atomic_int held;      /* 1 from the event thread's take to the worker's park */
    unsigned long wakes;  /* reports taken from epoll: the owner's alone */
    unsigned long runs;   /* turns run by workers: the owner's alone */
    atomic_ulong turns;   /* the same, for the test's thread to watch */
    struct ws_conn *conn; /* the record */
};

struct stress {
    struct ws_loop loops[EVENT_THREADS];
    struct ws_fdqueue *ring;
    struct probe probes[MAX_FD];
    atomic_int stop;
    atomic_ullong handoffs;
    /* What the helper threads found; the test's thread asserts on them. */
    atomic_ulong doubled, mismatched, park_failed, push_failed;
    atomic_ulong reparked; /* deadlines passed and parked on: not a failure */
};

struct loop_arg {
    struct stress *st;
    unsigned index;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *event_thread(void *arg)
{
    struct loop_arg *la = arg;
    struct stress *st = la->st;
    struct ws_loop *l = &st->loops[la->index];
    struct epoll_event events[64];
    struct ws_conn *ready[64], *expired[64];
    int fds[64];
    int wait_ms = 100;

    ws__loop_set_wake_at(l, now_ms() + 1000);
    while (!atomic_load(&st->stop)) {
        unsigned n_ready = 0;
        int n = epoll_wait(l->epoll_fd, events, 64, wait_ms < 100 ? wait_ms : 100);

        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == l->wake_fd) {
                ws__loop_clear_wake(l);
                continue;
            }
            if (atomic_exchange(&st->probes[fd].held, 1) != 0) {
                atomic_fetch_add(&st->doubled, 1);
                atomic_store(&st->stop, 1); /* fail fast */
                continue;                   /* and do not hand it to a second worker */
            }
            ready[n_ready++] = st->probes[fd].conn;
        }
        ws__loop_take(l, ready, n_ready);
        for (unsigned i = 0; i < n_ready; i++) {
            st->probes[ready[i]->fd].wakes++;
            fds[i] = ready[i]->fd;
        }
        if (n_ready > 0 && ws_fdqueue_push_many(st->ring, fds, n_ready) != (int)n_ready)
            atomic_fetch_add(&st->push_failed, 1);
        /* A deadline that passed is treated as a --min-rate window the client kept up with:
         * out of the heap, and back in with a later deadline, still armed in epoll. */
        n = (int)ws__loop_expire(l, now_ms(), expired, 64, &wait_ms);
        for (int i = 0; i < n; i++) {
            expired[i]->deadline_ms = now_ms() + 5000;
            ws__loop_repark(l, expired[i]);
            atomic_fetch_add(&st->reparked, 1);
        }
    }
    return NULL;
}

static void *worker(void *arg)
{
    struct stress *st = arg;
    int fd;

    while (ws_fdqueue_pop(st->ring, &fd) == 0) {
        struct probe *p = &st->probes[fd];
        struct ws_conn *c = p->conn;
        unsigned long long done;

        if (++p->runs != p->wakes) {
            atomic_fetch_add(&st->mismatched, 1);
            atomic_store(&st->stop, 1);
        }
        atomic_fetch_add_explicit(&p->turns, 1, memory_order_relaxed);
        done = atomic_fetch_add(&st->handoffs, 1) + 1;
        if (atomic_load(&st->stop) || done >= MAX_HANDOFFS) {
            atomic_store(&st->stop, 1);
            continue; /* kept by the worker's side: the test's thread frees it */
        }
        c->park_events = EPOLLOUT;
        /* Every 8th turn, a deadline before the loop's next wake-up: the park writes its
         * eventfd, and the deadline may pass while parked (the event thread re-parks it). */
        c->deadline_ms = now_ms() + ((p->runs & 7) == 0 ? 1 : 5000);
        atomic_store(&p->held, 0);
        if (ws__loop_park(c->loop, c, NULL, NULL) < 0)
            atomic_fetch_add(&st->park_failed, 1);
    }
    return NULL;
}

/*
 * Runs n_records records (spread over the loops round-robin) until the bound,
 * then checks everything. Returns the hand-overs done, for the caller's message.
 */
static void run_stress(unsigned n_records)
{
    struct stress *st = calloc(1, sizeof(*st));
    pthread_t loop_threads[EVENT_THREADS], workers[WORKERS];
    struct loop_arg args[EVENT_THREADS];
    struct ws_conn *records[EVENT_THREADS * 2];
    unsigned long last_turns[EVENT_THREADS * 2] = { 0 };
    int64_t last_move[EVENT_THREADS * 2];
    int64_t start = now_ms();
    unsigned long lost = 0;
    struct sockaddr_storage peer = { .ss_family = AF_UNIX };

    assert_non_null(st);
    assert_true(n_records <= EVENT_THREADS * 2);
    st->ring = ws_fdqueue_create(64);
    assert_non_null(st->ring);
    ws_fdqueue_set_consumers(st->ring, WORKERS);
    for (unsigned k = 0; k < EVENT_THREADS; k++)
        assert_int_equal(ws__loop_init(&st->loops[k], k, 64), 0);

    for (unsigned i = 0; i < n_records; i++) {
        int sv[2];
        struct ws_conn *c;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_true(sv[0] < MAX_FD);
        close(sv[1]); /* the peer's end gone: still always writable (EPOLLOUT|EPOLLHUP) */
        c = ws_conn_new(sv[0], (struct sockaddr *)&peer, now_ms());
        assert_non_null(c);
        c->loop = &st->loops[i % EVENT_THREADS];
        c->park_events = EPOLLOUT;
        c->deadline_ms = now_ms() + 5000;
        st->probes[c->fd].conn = c;
        records[i] = c;
        last_move[i] = start;
        /* Parked by the test's thread, as a worker parks a connection it accepted. */
        assert_int_equal(ws__loop_park(c->loop, c, NULL, NULL), 0);
    }
    for (unsigned k = 0; k < EVENT_THREADS; k++) {
        args[k] = (struct loop_arg){ st, k };
        assert_int_equal(pthread_create(&loop_threads[k], NULL, event_thread, &args[k]), 0);
    }
    for (unsigned w = 0; w < WORKERS; w++)
        assert_int_equal(pthread_create(&workers[w], NULL, worker, st), 0);

    /* Watch every record move, until the count or the time is up. */
    while (!atomic_load(&st->stop)) {
        int64_t now = now_ms();
        struct timespec tick = { 0, 20 * 1000000L };
        for (unsigned i = 0; i < n_records; i++) {
            unsigned long t = atomic_load(&st->probes[records[i]->fd].turns);
            if (t != last_turns[i]) {
                last_turns[i] = t;
                last_move[i] = now;
            } else if (now - last_move[i] > STALL_MS) {
                lost++;
                last_move[i] = now;
                atomic_store(&st->stop, 1);
            }
        }
        if (now - start >= MAX_SECONDS * 1000)
            atomic_store(&st->stop, 1);
        nanosleep(&tick, NULL);
    }
    for (unsigned k = 0; k < EVENT_THREADS; k++)
        ws__loop_wake(&st->loops[k]);
    for (unsigned k = 0; k < EVENT_THREADS; k++)
        pthread_join(loop_threads[k], NULL);
    ws_fdqueue_close(st->ring); /* workers drain what is queued, then return */
    for (unsigned w = 0; w < WORKERS; w++)
        pthread_join(workers[w], NULL);

    fprintf(stderr,
            "  %u record(s), %d event threads, %d workers: %llu hand-overs in %lld ms "
            "(%lu deadlines passed while parked)\n",
            n_records, EVENT_THREADS, WORKERS, (unsigned long long)atomic_load(&st->handoffs),
            (long long)(now_ms() - start), (unsigned long)atomic_load(&st->reparked));
    assert_int_equal(atomic_load(&st->doubled), 0);
    assert_int_equal(atomic_load(&st->mismatched), 0);
    assert_int_equal(lost, 0);
    assert_int_equal(atomic_load(&st->park_failed), 0);
    assert_int_equal(atomic_load(&st->push_failed), 0);
    assert_true(atomic_load(&st->handoffs) >= MIN_HANDOFFS);

    for (unsigned i = 0; i < n_records; i++)
        ws_conn_free(records[i]);
    for (unsigned k = 0; k < EVENT_THREADS; k++)
        ws__loop_destroy(&st->loops[k]);
    ws_fdqueue_destroy(st->ring);
    free(st);
}

/* One record, going round its own event thread and every worker. */
static void test_one_record(void **state)
{
    (void)state;
    run_stress(1);
}

/* One record per event thread and one more on half of them, sharing the ring and the workers. */
static void test_records_on_every_event_thread(void **state)
{
    (void)state;
    run_stress(EVENT_THREADS + EVENT_THREADS / 2);
}

/* A park into a stopped loop is refused, and the caller keeps the record. */
static void test_park_after_stop_is_refused(void **state)
{
    struct ws_loop l;
    struct sockaddr_storage peer = { .ss_family = AF_UNIX };
    struct ws_conn *c, **taken;
    unsigned n;
    int sv[2];

    (void)state;
    assert_int_equal(ws__loop_init(&l, 0, 4), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    close(sv[1]);
    c = ws_conn_new(sv[0], (struct sockaddr *)&peer, now_ms());
    assert_non_null(c);
    c->loop = &l;
    c->park_events = EPOLLOUT;
    c->deadline_ms = now_ms() + 5000;
    assert_int_equal(ws__loop_park(&l, c, NULL, NULL), 0);
    assert_int_equal(ws__loop_parked(&l), 1);
    taken = ws__loop_take_if(&l, NULL, NULL, 1, &n);
    assert_int_equal(n, 1);
    assert_ptr_equal(taken[0], c);
    free(taken);
    assert_int_equal(ws__loop_parked(&l), 0);
    assert_int_equal(ws__loop_park(&l, c, NULL, NULL), -ESHUTDOWN);
    ws_conn_free(c);
    ws__loop_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_park_after_stop_is_refused),
        cmocka_unit_test(test_one_record),
        cmocka_unit_test(test_records_on_every_event_thread),
    };
    alarm(2 * MAX_SECONDS + 60); /* the last resort, should a join never return */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
