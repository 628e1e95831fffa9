/*
 * http/test_auth.c - Basic authentication's pure half: base64, the
 * Authorization field, htpasswd lines and their refusals, --auth-path
 * prefixes and --auth-realm, and the 401 the plan makes of it.
 */
#include "test_util.h"

#include "http/auth.h"
#include "http/head.h"
#include "http/plan.h"

#include <stdio.h>

struct b64_case {
    const char *desc, *in;
    long want; /* -1: refused */
    const char *out;
};

static void test_base64(void **state)
{
    static const struct b64_case cases[] = {
        { "empty", "", 0, "" },
        { "one byte, two pads", "YQ==", 1, "a" },
        { "two bytes, one pad", "YWI=", 2, "ab" },
        { "three bytes", "YWJj", 3, "abc" },
        { "user:pass", "dXNlcjpwYXNz", 9, "user:pass" },
        { "+ and /", "+/+/", 3, "\xfb\xff\xbf" },
        { "not a multiple of 4", "YWJ", -1, NULL },
        { "pad in the middle", "YQ==YWJj", -1, NULL },
        { "digit after pad", "YQ=a", -1, NULL },
        { "three pads", "Y===", -1, NULL },
        { "url-safe alphabet", "-_-_", -1, NULL },
        { "space", "YW Jj", -1, NULL },
    };
    unsigned char out[16];

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct b64_case *c = &cases[i];
        char *in = exact_copy(c->in, strlen(c->in));
        long n = ws_base64_decode(in, strlen(c->in), out, sizeof(out));
        if (n != c->want)
            fail_msg("%s: got %ld, want %ld", c->desc, n, c->want);
        if (n > 0 && memcmp(out, c->out, (size_t)n) != 0)
            fail_msg("%s: wrong bytes", c->desc);
        free(in);
    }
    assert_int_equal(ws_base64_decode("YWJj", 4, out, 2), -1); /* does not fit */
}

struct basic_case {
    const char *desc, *fields; /* header lines of the request */
    int want;
    const char *user, *pass;
};

static void test_parse_basic(void **state)
{
    static const struct basic_case cases[] = {
        { "no field", "", 0, NULL, NULL },
        { "user:pass", "Authorization: Basic dXNlcjpwYXNz\r\n", 1, "user", "pass" },
        { "scheme in any case", "Authorization: bAsIc dXNlcjpwYXNz\r\n", 1, "user", "pass" },
        { "several spaces", "Authorization: Basic    dXNlcjpwYXNz  \r\n", 1, "user", "pass" },
        { "colon in password", "Authorization: Basic dTphOmI=\r\n", 1, "u", "a:b" },
        { "empty user and password", "Authorization: Basic Og==\r\n", 1, "", "" },
        { "no colon", "Authorization: Basic dXNlcg==\r\n", -1, NULL, NULL },
        { "other scheme", "Authorization: Bearer dXNlcjpwYXNz\r\n", -1, NULL, NULL },
        { "no credentials", "Authorization: Basic\r\n", -1, NULL, NULL },
        { "no space", "Authorization: BasicdXNlcjpwYXNz\r\n", -1, NULL, NULL },
        { "bad base64", "Authorization: Basic dXNlcjpwYXN\r\n", -1, NULL, NULL },
        { "control byte", "Authorization: Basic dTpiAWM=\r\n", -1, NULL, NULL },
        { "repeated field",
          "Authorization: Basic dXNlcjpwYXNz\r\nAuthorization: Basic dXNlcjpwYXNz\r\n", -1, NULL,
          NULL },
    };
    static const struct ws_parse_limits limits = { 8192, 16384, 100 };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct basic_case *c = &cases[i];
        char text[512], buf[WS_AUTH_CRED_MAX + 1], *raw;
        struct ws_request req;
        struct ws_view user, pass;
        int n = snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", c->fields);
        int rc;

        raw = exact_copy(text, (size_t)n);
        assert_int_equal(ws_http_parse_request(raw, (size_t)n, 0, &limits, &req), n);
        rc = ws_auth_parse_basic(&req, buf, &user, &pass);
        if (rc != c->want)
            fail_msg("%s: got %d, want %d", c->desc, rc, c->want);
        if (rc == 1 && (user.len != strlen(c->user) || memcmp(user.ptr, c->user, user.len) != 0 ||
                        pass.len != strlen(c->pass) || memcmp(pass.ptr, c->pass, pass.len) != 0 ||
                        pass.ptr[pass.len] != '\0'))
            fail_msg("%s: wrong user or password", c->desc);
        free(raw);
    }
}

struct line_case {
    const char *desc, *line;
    int want;
    const char *user, *why; /* a word of the refusal */
};

static void test_parse_line(void **state)
{
    static const char sha512[] =
        "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/";
    static const struct line_case cases[] = {
        { "blank", "", 0, NULL, NULL },
        { "spaces", "   \t", 0, NULL, NULL },
        { "comment", "# alice:$6$x$y", 0, NULL, NULL },
        { "indented comment", "  # x", 0, NULL, NULL },
        { "bcrypt $2y$", "a:$2y$05$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", 1, "a",
          NULL },
        { "bcrypt $2b$", "a:$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", 1, "a",
          NULL },
        { "sha-256", "bob:$5$rounds=5000$salt$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", 1,
          "bob", NULL },
        { "yescrypt", "y:$y$j9T$salt$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", 1, "y", NULL },
        { "CR at the end", "a:$6$s$abc\r", 1, "a", NULL },
        { "plain text", "a:hunter2", -1, NULL, "plain-text" },
        { "MD5 apr1", "a:$apr1$salt$abcdefghijklmnopqrstuv", -1, NULL, "MD5" },
        { "MD5 crypt", "a:$1$salt$abcdefghijklmnopqrstuv", -1, NULL, "MD5" },
        { "SHA", "a:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", -1, NULL, "{SHA}" },
        { "DES", "a:abJnggxhB/yWI", -1, NULL, "DES" },
        { "unknown scheme", "a:$7$abc$def", -1, NULL, "unsupported" },
        { "short bcrypt", "a:$2y$05$abc", -1, NULL, "bcrypt" },
        { "sha without hash", "a:$6$salt$", -1, NULL, "malformed" },
        { "empty hash", "a:", -1, NULL, "plain-text" },
        { "empty user", ":$6$s$abc", -1, NULL, "empty user" },
        { "no colon", "alice", -1, NULL, "no ':'" },
        { "control in user", "a\x01:$6$s$abc", -1, NULL, "control" },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct line_case *c = &cases[i];
        struct ws_view user = { NULL, 0 }, hash = { NULL, 0 };
        enum ws_auth_scheme scheme;
        const char *why = NULL;
        char *line = exact_copy(c->line, strlen(c->line));
        int rc = ws_auth_parse_line(line, strlen(c->line), &user, &hash, &scheme, &why);

        if (rc != c->want)
            fail_msg("%s: got %d, want %d", c->desc, rc, c->want);
        if (rc == 1 && (user.len != strlen(c->user) || memcmp(user.ptr, c->user, user.len) != 0 ||
                        hash.ptr[0] != '$' || hash.ptr[hash.len - 1] == '\r'))
            fail_msg("%s: wrong user or hash", c->desc);
        if (rc < 0 && (why == NULL || strstr(why, c->why) == NULL))
            fail_msg("%s: reason '%s' lacks '%s'", c->desc, why ? why : "(none)", c->why);
        free(line);
    }
    {
        struct ws_view u, h;
        enum ws_auth_scheme s;
        const char *why;
        char line[160];
        snprintf(line, sizeof(line), "alice:%s", sha512);
        assert_int_equal(ws_auth_parse_line(line, strlen(line), &u, &h, &s, &why), 1);
        assert_int_equal(s, WS_AUTH_SHA512);
    }
}

struct path_case {
    const char *desc, *path;
    int want;
};

static void test_paths(void **state)
{
    static const struct path_case cases[] = {
        { "under the prefix", "/private/a.txt", 1 },
        { "the prefix", "/private/", 1 },
        { "the prefix without its slash", "/private", 1 },
        { "encoded letter", "/%70rivate/a", 1 },
        { "dot segments", "/x/../private/a", 1 },
        { "encoded slash", "/private%2Fa", 1 },
        { "second prefix", "/team/docs/x", 1 },
        { "a longer name", "/privateer", 0 },
        { "elsewhere", "/public/a", 0 },
        { "root", "/", 0 },
        { "climbing above the root", "/../private/a", 1 },
        { "bad escape", "/%zz", 1 },
    };
    struct ws_auth_policy *p = calloc(1, sizeof(*p));
    const char *why = NULL;
    char scratch[256];

    assert_int_equal(ws_auth_protects(p, "/any", 4, scratch, sizeof(scratch)), 1); /* no prefix */
    assert_int_equal(ws_auth_add_path(p, "/private/", &why), 0);
    assert_int_equal(ws_auth_add_path(p, "/team/docs", &why), 0);
    assert_string_equal(p->paths[1], "/team/docs/");
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct path_case *c = &cases[i];
        char *path = exact_copy(c->path, strlen(c->path));
        int got = ws_auth_protects(p, path, strlen(c->path), scratch, sizeof(scratch));
        if (got != c->want)
            fail_msg("%s: got %d, want %d", c->desc, got, c->want);
        free(path);
    }
    assert_int_equal(ws_auth_add_path(p, "private/", &why), -1);
    assert_int_equal(ws_auth_add_path(p, "/a/../b/", &why), -1);
    assert_int_equal(ws_auth_add_path(p, "/a//b/", &why), -1);
    assert_int_equal(ws_auth_add_path(p, "/a%2F/", &why), -1);
    assert_int_equal(ws_auth_add_path(p, "/", &why), 0);
    assert_int_equal(ws_auth_protects(p, "/public", 7, scratch, sizeof(scratch)), 1);
    free(p);
}

static void test_realm_and_plan(void **state)
{
    struct ws_auth_policy *p = calloc(1, sizeof(*p));
    struct ws_plan *plan = calloc(1, sizeof(*plan));
    static const struct ws_parse_limits limits = { 8192, 16384, 100 };
    static const char text[] = "GET /private/x HTTP/1.1\r\nHost: x\r\n\r\n";
    char *raw = exact_copy(text, LIT_LEN(text));
    uint64_t boundary = 1;
    const char *why = NULL;
    struct ws_request req;
    struct ws_resource res = { 0 };
    struct ws_plan_env env = { .cache_mode = WS_CACHE_AUTO,
                               .max_body = 1 << 20,
                               .date = "Mon, 01 Jan 2024 00:00:00 GMT",
                               .boundary_state = &boundary };
    char head[2048];
    int found = 0;

    ws_auth_finish(p);
    assert_string_equal(p->challenge, "Basic realm=\"webserver\", charset=\"UTF-8\"");
    assert_int_equal(ws_auth_set_realm(p, "a\"b", &why), -1);
    assert_int_equal(ws_auth_set_realm(p, "a\\b", &why), -1);
    assert_int_equal(ws_auth_set_realm(p, "a\nb", &why), -1);
    assert_int_equal(ws_auth_set_realm(p, "", &why), -1);
    assert_int_equal(ws_auth_set_realm(p, "Staff \xc3\xa9", &why), 0);
    ws_auth_finish(p);
    assert_string_equal(p->challenge, "Basic realm=\"Staff \xc3\xa9\", charset=\"UTF-8\"");

    assert_int_equal(ws_http_parse_request(raw, LIT_LEN(text), 0, &limits, &req),
                     (int)LIT_LEN(text));
    env.auth_challenge = p->challenge;
    ws_plan_make(plan, &req, 401, &res, &env, 0);
    assert_int_equal(plan->status, 401);
    assert_int_equal(plan->close, 0); /* the client retries on the same connection */
    assert_int_equal(plan->body, WS_BODY_MEM);
    assert_non_null(ws_head_format(&plan->head, head, sizeof(head)) ? head : NULL);
    assert_non_null(strstr(head, "HTTP/1.1 401 Unauthorized\r\n"));
    assert_non_null(strstr(
        head, "\r\nWWW-Authenticate: Basic realm=\"Staff \xc3\xa9\", charset=\"UTF-8\"\r\n"));
    for (size_t i = 0; i < plan->head.n_extra; i++)
        found += strcmp(plan->head.extra[i].lower, "www-authenticate") == 0;
    assert_int_equal(found, 1); /* HTTP/2 sends head.extra too */
    ws_plan_make(plan, &req, 404, &res, &env, 0);
    assert_null(
        strstr(ws_head_format(&plan->head, head, sizeof(head)) ? head : "", "WWW-Authenticate"));
    free(raw);
    free(plan);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),         cmocka_unit_test(test_parse_basic),
        cmocka_unit_test(test_parse_line),     cmocka_unit_test(test_paths),
        cmocka_unit_test(test_realm_and_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
