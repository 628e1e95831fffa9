/*
 * test_conn.c - what a connection's record holds between turns.
 *
 * A worker runs a connection (ws_conn_run) on one end of a socketpair, the
 * test is the client on the other. An idle keep-alive connection must keep
 * no response record (conn.r NULL: the memory an idle connection costs); one
 * parked in the middle of a response must keep it in a record of its own,
 * not in the worker's buffers, which the worker's next connection reuses;
 * and that record goes once the response is done, or with the connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "conn_env_util.h"
#include "server/conn.h"
#include "server/file_cache.h"
#include "server/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BIG (1 << 20)

struct fixture {
    char dir[64];
    struct ws_conn_env env;
    atomic_int draining;
    struct ws_worker_buf *wb;
    struct ws_worker_buf *other; /* a second worker's buffers */
    int client;
    struct ws_conn *c;
};

static void write_file(const char *dir, const char *name, size_t len)
{
    char path[128];
    char *data = malloc(len);
    FILE *f;

    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)('a' + i % 26);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    int sv[2];

    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ws-test-conn-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    write_file(fx->dir, "small.txt", 100);
    write_file(fx->dir, "big.bin", BIG);
    test_conn_env(&fx->env, fx->dir, &fx->draining);
    fx->wb = calloc(1, sizeof(*fx->wb));
    fx->other = calloc(1, sizeof(*fx->other));
    assert_non_null(fx->wb);
    assert_non_null(fx->other);
    /* Small socket buffers, so that a 1 MiB response cannot go out in one turn. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    for (int i = 0; i < 2; i++) {
        int size = 16384;
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    fx->client = sv[1];
    fx->c = ws_conn_new(sv[0], NULL, 0);
    assert_non_null(fx->c);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char path[128];

    ws_conn_free(fx->c);
    close(fx->client);
    close(fx->env.statics.root_fd);
    ws_log_close(fx->env.log);
    free(fx->wb);
    free(fx->other);
    snprintf(path, sizeof(path), "%s/small.txt", fx->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/big.bin", fx->dir);
    unlink(path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void send_request(struct fixture *fx, const char *path)
{
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);

    assert_int_equal(write(fx->client, req, (size_t)n), n);
}

/* Reads what the server has sent so far; returns the byte count. */
static size_t drain(struct fixture *fx)
{
    char buf[65536];
    size_t total = 0;
    ssize_t n;

    while ((n = read(fx->client, buf, sizeof(buf))) > 0)
        total += (size_t)n;
    assert_true(n < 0 && errno == EAGAIN);
    return total;
}

/* A small response goes out within the turn: the idle connection keeps no response record. */
static void test_idle_connection_keeps_no_response(void **state)
{
    struct fixture *fx = *state;

    send_request(fx, "/small.txt");
    assert_int_equal(ws_conn_run(fx->c, &fx->env, fx->wb), WS_CONN_PARK);
    assert_int_equal(fx->c->phase, WS_PHASE_HEAD);
    assert_null(fx->c->r);
    assert_true(drain(fx) > 100);
    /* And again: a second request on the same connection. */
    send_request(fx, "/small.txt");
    assert_int_equal(ws_conn_run(fx->c, &fx->env, fx->wb), WS_CONN_PARK);
    assert_null(fx->c->r);
}

/*
 * A response parked half-sent keeps its state in a record of its own, which a
 * turn on another worker (other buffers) carries on to the end; then it goes.
 */
static void test_parked_response_has_its_own_record(void **state)
{
    struct fixture *fx = *state;
    size_t got = 0;
    int turns = 0;

    send_request(fx, "/big.bin");
    assert_int_equal(ws_conn_run(fx->c, &fx->env, fx->wb), WS_CONN_PARK);
    assert_int_equal(fx->c->phase, WS_PHASE_SEND);
    assert_non_null(fx->c->r);
    assert_true(fx->c->r->owned);
    assert_ptr_not_equal(fx->c->r, &fx->wb->resp);
    assert_ptr_equal(fx->c->r->segs, &fx->c->r->seg);
    /* The worker's record is reused by its next connection: scribble on it. */
    memset(&fx->wb->resp, 0x5a, sizeof(fx->wb->resp));
    while (fx->c->phase == WS_PHASE_SEND) {
        assert_true(++turns < 100000);
        got += drain(fx);
        assert_int_equal(ws_conn_run(fx->c, &fx->env, turns % 2 ? fx->other : fx->wb),
                         WS_CONN_PARK);
    }
    got += drain(fx);
    assert_true(got > BIG);
    assert_int_equal(fx->c->phase, WS_PHASE_HEAD);
    assert_null(fx->c->r);
}

/* A connection closed while its response is parked frees the record (leaks: ASan, valgrind). */
static void test_close_with_a_parked_response(void **state)
{
    struct fixture *fx = *state;

    send_request(fx, "/big.bin");
    assert_int_equal(ws_conn_run(fx->c, &fx->env, fx->wb), WS_CONN_PARK);
    assert_non_null(fx->c->r);
    assert_true(fx->c->r->owned);
    assert_true(fx->c->r->file_fd >= 0);
    ws_conn_free(fx->c);
    fx->c = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idle_connection_keeps_no_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parked_response_has_its_own_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_a_parked_response, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
