/*
 * server/test_loop.c - the parking hand-over (loop.c) under stress: connection
 * records passed between event threads and workers a very large number of
 * times, with edge-triggered events racing the park, and no lost and no
 * doubled wake-up.
 *
 * DESIGN
 * The set-up is the server's, cut down to the hand-over: EVENT_THREADS loops
 * (ws__loop_init), each run by its own thread as server.c's event_loop runs
 * it (ws__loop_reap, epoll_wait, ws__loop_event for each edge, ws__loop_take,
 * push the batch into the ring, ws__loop_expire), one shared ring (fdqueue.h)
 * and WORKERS worker threads that pop a record, run a turn and park it back
 * into its own loop as server.c's serve_fd does (ws__loop_park; on
 * WS_LOOP_READY run it again, or requeue it). A record's descriptor is one
 * end of a socketpair; the test holds the other end (the client) and writes
 * a byte to it to make the kernel report an edge, as a client's next request
 * would. A turn reads everything (so the socket is drained, as an edge park
 * requires) and then, by turn number (the first two alternately, the third
 * one turn in eight):
 *   - writes the next byte first and then parks for EPOLLIN, edge park: the
 *     edge races the park, and either the park finds it recorded in the word
 *     (WS_LOOP_READY: the worker goes on) or the event thread finds the
 *     record parked and claims it;
 *   - parks for EPOLLIN, edge park, and writes the byte after the park
 *     returns (the record may already be another worker's by then);
 *   - parks for EPOLLOUT, level park: always writable, so the kernel's fresh
 *     look queues an edge at once (a yield);
 *   - every RETIRE_EVERY turns, closes the record (ws_conn_close,
 *     ws__loop_retire: its edges may still be on their way to the event
 *     thread) and parks a fresh one on a new socketpair in its place; the
 *     sanitizers catch an event thread that touches a freed record.
 * Deadlines are set just under each loop's next wake-up now and then, so parks
 * also write the loop's eventfd and deadlines pass while parked (expire, then
 * repark).
 *
 * What is checked, per record:
 *   - doubled wake-up: whoever takes a record (the event thread after its
 *     claim, or the worker whose park said WS_LOOP_READY) swaps its `held`
 *     word from 0 to 1; the worker puts 0 back just before parking. Finding 1
 *     already means two owners. Its plain `wakes` and `runs` counters,
 *     touched only by the owner of the moment, also let TSan see two owners;
 *   - lost wake-up: `runs` must equal `wakes` when a worker runs a turn, and
 *     the test's thread watches each record's atomic count of turns: one that
 *     stops moving for STALL_MS was parked with its edge lost.
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
#define MAX_RECORDS   (EVENT_THREADS * 2)
#define MAX_HANDOFFS  (UNDER_TSAN ? 1000000ULL : 3000000ULL)
#define MIN_HANDOFFS  200000ULL
#define MAX_SECONDS   25
#define STALL_MS      3000
#define GO_ON_MAX     2 /* as server.c's serve_fd */
#define RETIRE_EVERY  509

/* The test's view of one record slot (the record in it changes when it is retired). */
struct probe {
    atomic_int held;                /* 1 from a take to the worker's park */
    unsigned long wakes;            /* takes: the owner's alone */
    unsigned long runs;             /* turns run by workers: the owner's alone */
    atomic_ulong turns;             /* the same, for the test's thread to watch */
    _Atomic(struct ws_conn *) conn; /* the record now in the slot */
    pthread_mutex_t client_lock;    /* guards client: replaced while a worker may write */
    int client;                     /* the test's end of the socketpair */
};

struct stress {
    struct ws_loop loops[EVENT_THREADS];
    struct ws_fdqueue *ring;
    struct probe probes[MAX_RECORDS];
    _Atomic(struct probe *) by_fd[MAX_FD];
    atomic_int stop;
    atomic_ullong handoffs;
    /* What the helper threads found; the test's thread asserts on them. */
    atomic_ulong doubled, mismatched, park_failed, push_failed, setup_failed;
    atomic_ulong reparked; /* deadlines passed and parked on: not a failure */
    atomic_ulong ready;    /* parks that found their edge already come (WS_LOOP_READY) */
    atomic_ulong retired;  /* records closed and replaced */
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

/* The client's next request: one byte, an edge on the record's socket. */
static void poke(struct probe *p)
{
    char b = 'x';
    pthread_mutex_lock(&p->client_lock);
    (void)!write(p->client, &b, 1);
    pthread_mutex_unlock(&p->client_lock);
}

/* A new record on a new socketpair, in slot p of loop l; NULL if the set-up failed. */
static struct ws_conn *new_record(struct stress *st, struct probe *p, struct ws_loop *l)
{
    struct sockaddr_storage peer = { .ss_family = AF_UNIX };
    struct ws_conn *c;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return NULL;
    if (sv[0] >= MAX_FD || (c = ws_conn_new(sv[0], (struct sockaddr *)&peer, now_ms())) == NULL) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    c->loop = l;
    c->park_events = EPOLLIN;
    c->deadline_ms = now_ms() + 5000;
    pthread_mutex_lock(&p->client_lock);
    p->client = sv[1];
    pthread_mutex_unlock(&p->client_lock);
    atomic_store(&st->by_fd[sv[0]], p);
    atomic_store(&p->conn, c);
    return c;
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
        int n;

        ws__loop_reap(l);
        n = epoll_wait(l->epoll_fd, events, 64, wait_ms < 100 ? wait_ms : 100);
        for (int i = 0; i < n; i++) {
            int fd = ws__loop_data_fd(events[i].data.u64);
            if (fd >= 0) {
                if (fd == l->wake_fd)
                    ws__loop_clear_wake(l);
                continue;
            }
            if (ws__loop_event(l, events[i].data.ptr, events[i].events))
                ready[n_ready++] = events[i].data.ptr;
        }
        ws__loop_take(l, ready, n_ready);
        for (unsigned i = 0; i < n_ready; i++) {
            struct probe *p = atomic_load(&st->by_fd[ready[i]->fd]);
            if (atomic_exchange(&p->held, 1) != 0) {
                atomic_fetch_add(&st->doubled, 1);
                atomic_store(&st->stop, 1); /* fail fast */
            }
            p->wakes++;
            fds[i] = ready[i]->fd;
        }
        if (n_ready > 0 && ws_fdqueue_push_many(st->ring, fds, n_ready) != (int)n_ready)
            atomic_fetch_add(&st->push_failed, 1);
        /* A deadline that passed is treated as a --min-rate window the client kept up with:
         * out of the heap, and back in with a later deadline, still registered. */
        n = (int)ws__loop_expire(l, now_ms(), expired, 64, &wait_ms);
        for (int i = 0; i < n; i++) {
            expired[i]->deadline_ms = now_ms() + 5000;
            ws__loop_repark(l, expired[i]);
            atomic_fetch_add(&st->reparked, 1);
        }
    }
    return NULL;
}

/* Reads everything the client sent: the socket is empty afterwards (an edge park's premise). */
static void drain(int fd)
{
    char buf[256];
    while (recv(fd, buf, sizeof(buf), 0) > 0)
        ;
}

/* One turn and its park; returns 1 when the worker still owns the record (WS_LOOP_READY). */
static int turn(struct stress *st, struct probe *p, struct ws_conn **cp)
{
    struct ws_conn *c = *cp;
    unsigned mode = p->runs % 8 == 3 ? 2 : (unsigned)(p->runs % 2);
    int rc;

    drain(c->fd);
    if (p->runs % RETIRE_EVERY == 0) {
        /* Closed while its edges may be on their way: then a fresh record in the slot. */
        struct ws_loop *l = c->loop;
        atomic_store(&st->by_fd[c->fd], NULL);
        ws_conn_close(c);
        ws__loop_retire(l, c);
        pthread_mutex_lock(&p->client_lock);
        close(p->client);
        p->client = -1;
        pthread_mutex_unlock(&p->client_lock);
        if ((c = *cp = new_record(st, p, l)) == NULL) {
            atomic_fetch_add(&st->setup_failed, 1);
            atomic_store(&st->stop, 1);
            return 0;
        }
        atomic_fetch_add(&st->retired, 1);
        mode = 0;
    }
    c->park_events = mode == 2 ? EPOLLOUT : EPOLLIN;
    c->park_edge = mode != 2;
    /* Every 8th turn, a deadline before the loop's next wake-up: the park writes its
     * eventfd, and the deadline may pass while parked (the event thread re-parks it). */
    c->deadline_ms = now_ms() + ((p->runs & 7) == 0 ? 1 : 5000);
    if (mode == 0)
        poke(p); /* the next request comes before the park */
    atomic_store(&p->held, 0);
    rc = ws__loop_park(c->loop, c, NULL, NULL);
    if (rc == WS_LOOP_READY) {
        if (atomic_exchange(&p->held, 1) != 0) {
            atomic_fetch_add(&st->doubled, 1);
            atomic_store(&st->stop, 1);
        }
        p->wakes++;
        atomic_fetch_add(&st->ready, 1);
        return 1;
    }
    if (rc < 0) {
        atomic_fetch_add(&st->park_failed, 1);
        atomic_store(&st->stop, 1);
        return 0;
    }
    if (mode == 1)
        poke(p); /* after the park: the record may be another worker's already */
    return 0;
}

static void *worker(void *arg)
{
    struct stress *st = arg;
    int fd;

    while (ws_fdqueue_pop(st->ring, &fd) == 0) {
        struct probe *p = atomic_load(&st->by_fd[fd]);
        struct ws_conn *c = atomic_load(&p->conn);

        for (unsigned again = 0;; again++) {
            unsigned long long done;
            if (++p->runs != p->wakes) {
                atomic_fetch_add(&st->mismatched, 1);
                atomic_store(&st->stop, 1);
            }
            atomic_fetch_add_explicit(&p->turns, 1, memory_order_relaxed);
            done = atomic_fetch_add(&st->handoffs, 1) + 1;
            if (atomic_load(&st->stop) || done >= MAX_HANDOFFS) {
                atomic_store(&st->stop, 1);
                break; /* kept by the worker's side: the test's thread frees it */
            }
            if (!turn(st, p, &c))
                break;
            /* As serve_fd: go on, or after GO_ON_MAX turns or a yield, to the back of the ring. */
            if ((again >= GO_ON_MAX || !c->park_edge) && ws_fdqueue_try_push(st->ring, c->fd) == 0)
                break;
        }
    }
    return NULL;
}

/*
 * Runs n_records records (spread over the loops round-robin) until the bound,
 * then checks everything.
 */
static void run_stress(unsigned n_records)
{
    struct stress *st = calloc(1, sizeof(*st));
    pthread_t loop_threads[EVENT_THREADS], workers[WORKERS];
    struct loop_arg args[EVENT_THREADS];
    unsigned long last_turns[MAX_RECORDS] = { 0 };
    int64_t last_move[MAX_RECORDS];
    int64_t start = now_ms();
    unsigned long lost = 0;

    assert_non_null(st);
    assert_true(n_records <= MAX_RECORDS);
    st->ring = ws_fdqueue_create(64);
    assert_non_null(st->ring);
    ws_fdqueue_set_consumers(st->ring, WORKERS);
    for (unsigned k = 0; k < EVENT_THREADS; k++)
        assert_int_equal(ws__loop_init(&st->loops[k], k, 64), 0);

    for (unsigned i = 0; i < n_records; i++) {
        struct probe *p = &st->probes[i];
        struct ws_conn *c;
        pthread_mutex_init(&p->client_lock, NULL);
        c = new_record(st, p, &st->loops[i % EVENT_THREADS]);
        assert_non_null(c);
        last_move[i] = start;
        /* Parked by the test's thread, as a worker parks a connection it accepted. */
        c->park_edge = 1;
        poke(p);
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
            unsigned long t = atomic_load(&st->probes[i].turns);
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
            "(%lu parks found their edge come, %lu deadlines passed while parked, %lu records "
            "retired)\n",
            n_records, EVENT_THREADS, WORKERS, (unsigned long long)atomic_load(&st->handoffs),
            (long long)(now_ms() - start), (unsigned long)atomic_load(&st->ready),
            (unsigned long)atomic_load(&st->reparked), (unsigned long)atomic_load(&st->retired));
    assert_int_equal(atomic_load(&st->doubled), 0);
    assert_int_equal(atomic_load(&st->mismatched), 0);
    assert_int_equal(lost, 0);
    assert_int_equal(atomic_load(&st->park_failed), 0);
    assert_int_equal(atomic_load(&st->push_failed), 0);
    assert_int_equal(atomic_load(&st->setup_failed), 0);
    assert_true(atomic_load(&st->handoffs) >= MIN_HANDOFFS);
    assert_true(atomic_load(&st->ready) > 0); /* the race was run both ways */

    /* Every record is parked, queued-and-popped (kept by a worker) or in a graveyard. */
    for (unsigned k = 0; k < EVENT_THREADS; k++) {
        unsigned n;
        struct ws_conn **parked = ws__loop_take_if(&st->loops[k], NULL, NULL, 1, &n);
        free(parked);
    }
    for (unsigned i = 0; i < n_records; i++) {
        ws_conn_free(atomic_load(&st->probes[i].conn));
        close(st->probes[i].client);
        pthread_mutex_destroy(&st->probes[i].client_lock);
    }
    for (unsigned k = 0; k < EVENT_THREADS; k++)
        ws__loop_destroy(&st->loops[k]); /* frees the graveyards */
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

/* The word's transitions one at a time, in one thread. */
static void test_ownership_word(void **state)
{
    struct ws_loop l;
    struct sockaddr_storage peer = { .ss_family = AF_UNIX };
    struct ws_conn *c;
    int sv[2];

    (void)state;
    assert_int_equal(ws__loop_init(&l, 0, 4), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    c = ws_conn_new(sv[0], (struct sockaddr *)&peer, now_ms());
    assert_non_null(c);
    c->loop = &l;
    c->deadline_ms = now_ms() + 5000;
    assert_int_equal(atomic_load(&c->own), WS_OWN_OWNED);

    /* The first park registers it, for what it waits for. */
    c->park_events = EPOLLIN;
    c->park_edge = 1;
    assert_int_equal(ws__loop_park(&l, c, NULL, NULL), 0);
    assert_int_equal(c->registered, 1);
    assert_int_equal(c->armed, EPOLLIN);
    assert_int_equal(atomic_load(&c->own), WS_OWN_PARKED);
    /* An edge it does not wait for is ignored; one it waits for makes it ready to claim. */
    assert_int_equal(ws__loop_event(&l, c, EPOLLOUT), 0);
    assert_int_equal(atomic_load(&c->own), WS_OWN_PARKED);
    assert_int_equal(ws__loop_event(&l, c, EPOLLIN | EPOLLOUT), 1);
    ws__loop_take(&l, &c, 1);
    assert_int_equal(atomic_load(&c->own), WS_OWN_OWNED);
    assert_int_equal(ws__loop_parked(&l), 0);
    /* An edge while owned is recorded; a park for it goes on, the bits cleared. */
    assert_int_equal(ws__loop_event(&l, c, EPOLLOUT), 0);
    assert_int_equal(atomic_load(&c->own), WS_OWN_OWNED | WS_OWN_OUT);
    assert_int_equal(ws__loop_event(&l, c, EPOLLRDHUP), 0);
    assert_int_equal(atomic_load(&c->own), WS_OWN_OWNED | WS_OWN_OUT | WS_OWN_IN);
    assert_int_equal(ws__loop_park(&l, c, NULL, NULL), WS_LOOP_READY);
    assert_int_equal(atomic_load(&c->own), WS_OWN_OWNED);
    assert_int_equal(ws__loop_parked(&l), 0);
    /* An edge for the other direction does not stop a park. */
    assert_int_equal(ws__loop_event(&l, c, EPOLLOUT), 0);
    assert_int_equal(ws__loop_park(&l, c, NULL, NULL), 0);
    assert_int_equal(atomic_load(&c->own), WS_OWN_PARKED);
    assert_int_equal(ws__loop_parked(&l), 1);
    assert_int_equal(c->armed, EPOLLIN); /* an edge park the registration covers: no epoll_ctl */

    /* A deadline claims it, a repark parks it again. */
    c->deadline_ms = now_ms() - 1;
    {
        struct ws_conn *out[2];
        int wait_ms;
        assert_int_equal(ws__loop_expire(&l, now_ms() + 10000, out, 2, &wait_ms), 1);
        assert_ptr_equal(out[0], c);
        assert_int_equal(atomic_load(&c->own), WS_OWN_OWNED);
        c->deadline_ms = now_ms() + 5000;
        ws__loop_repark(&l, c);
        assert_int_equal(atomic_load(&c->own), WS_OWN_PARKED);
    }

    /* A level park arms what it waits for alone, one-shot, and leaves nothing for an edge
     * park to rely on; the writable socket is reported at once, and then no more. */
    {
        unsigned n;
        struct ws_conn **taken = ws__loop_take_if(&l, NULL, NULL, 0, &n);
        struct epoll_event ev;
        assert_int_equal(n, 1);
        free(taken);
        c->park_events = EPOLLOUT;
        c->park_edge = 0;
        assert_int_equal(ws__loop_park(&l, c, NULL, NULL), 0);
        assert_int_equal(c->armed, 0);
        assert_int_equal(epoll_wait(l.epoll_fd, &ev, 1, 1000), 1);
        assert_ptr_equal(ev.data.ptr, c);
        assert_int_equal(ws__loop_event(&l, c, ev.events), 1);
        ws__loop_take(&l, &c, 1);
        assert_int_equal(write(sv[1], "x", 1), 1); /* would be an edge, were it armed */
        assert_int_equal(epoll_wait(l.epoll_fd, &ev, 1, 0), 0);
        /* The next edge park must arm again, for good. */
        c->park_events = EPOLLIN;
        c->park_edge = 1;
        assert_int_equal(ws__loop_park(&l, c, NULL, NULL), 0);
        assert_int_equal(c->armed, EPOLLIN);
        assert_int_equal(epoll_wait(l.epoll_fd, &ev, 1, 1000), 1); /* the byte: reported now */
        assert_int_equal(ws__loop_event(&l, c, ev.events), 1);
        ws__loop_take(&l, &c, 1);
    }

    /* Closed: edges still on their way are ignored; the loop frees it. */
    ws_conn_close(c);
    ws__loop_retire(&l, c);
    assert_int_equal(atomic_load(&c->own), WS_OWN_CLOSED);
    assert_int_equal(ws__loop_event(&l, c, EPOLLIN), 0);
    assert_int_equal(atomic_load(&c->own), WS_OWN_CLOSED);
    ws__loop_reap(&l);
    close(sv[1]);
    ws__loop_destroy(&l);
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
        cmocka_unit_test(test_ownership_word),
        cmocka_unit_test(test_park_after_stop_is_refused),
        cmocka_unit_test(test_one_record),
        cmocka_unit_test(test_records_on_every_event_thread),
    };
    alarm(2 * MAX_SECONDS + 60); /* the last resort, should a join never return */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
