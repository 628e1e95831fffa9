/*
 * server/test_config.c - command-line parsing.
 *
 * Every table row is parsed in the same process, one after another, so the
 * whole file also checks that getopt's state is reset between calls.
 */
#include "test_util.h"

#include "server/config.h"

#include <stdio.h>

#define MAX_ARGS 12

/* Builds argv = { "webserver", args..., NULL } in argv (MAX_ARGS + 2 slots). */
static int make_argv(char *const *args, char **argv)
{
    int argc = 0;
    argv[argc++] = "webserver";
    for (int i = 0; i < MAX_ARGS && args[i] != NULL; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    return argc;
}

static enum ws_config_result parse(char *const *args, struct ws_config *cfg, char *err,
                                   size_t err_size)
{
    char *argv[MAX_ARGS + 2];
    int argc = make_argv(args, argv);
    return ws_config_parse(cfg, argc, argv, err, err_size);
}

enum field {
    F_PORT,
    F_THREADS,
    F_EVENT_THREADS,
    F_QUEUE,
    F_HEADER_TIMEOUT,
    F_KEEPALIVE_TIMEOUT,
    F_SEND_TIMEOUT,
    F_SHUTDOWN_GRACE,
    F_MAX_REQUESTS,
    F_MAX_BODY,
    F_ROOT,
    F_BIND,
    F_ACCESS_LOG,
};

static unsigned long long number_field(const struct ws_config *cfg, enum field f)
{
    switch (f) {
    case F_PORT: return (unsigned long long)cfg->port;
    case F_THREADS: return cfg->threads;
    case F_EVENT_THREADS: return cfg->event_threads;
    case F_QUEUE: return cfg->queue_capacity;
    case F_HEADER_TIMEOUT: return cfg->header_timeout_ms;
    case F_KEEPALIVE_TIMEOUT: return cfg->keepalive_timeout_ms;
    case F_SEND_TIMEOUT: return cfg->send_timeout_ms;
    case F_SHUTDOWN_GRACE: return cfg->shutdown_grace_ms;
    case F_MAX_REQUESTS: return cfg->max_requests;
    case F_MAX_BODY: return cfg->max_body;
    default: fail_msg("not a number field: %d", (int)f);
    }
    return 0;
}

static const char *string_field(const struct ws_config *cfg, enum field f)
{
    switch (f) {
    case F_ROOT: return cfg->root;
    case F_BIND: return cfg->bind;
    case F_ACCESS_LOG: return cfg->access_log;
    default: fail_msg("not a string field: %d", (int)f);
    }
    return NULL;
}

static void test_defaults(void **state)
{
    struct ws_config d, p;
    char err[128] = "";
    char *none[] = { NULL };

    ws_config_defaults(&d);
    assert_int_equal(d.port, 6789);
    assert_int_equal(d.threads, 8);
    assert_int_equal(d.event_threads, 0); /* chosen from the CPUs by the server */
    assert_int_equal(d.queue_capacity, 16384);
    assert_string_equal(d.root, "www");
    assert_null(d.bind);
    assert_string_equal(d.access_log, "-");
    assert_int_equal(d.header_timeout_ms, 15000);
    assert_int_equal(d.keepalive_timeout_ms, 15000);
    assert_int_equal(d.send_timeout_ms, 30000);
    assert_int_equal(d.shutdown_grace_ms, 10000);
    assert_int_equal(d.max_requests, 1000);
    assert_true(d.max_body == 1024 * 1024);
    assert_int_equal(d.n_tls_pairs, 0);
    assert_int_equal(d.tls_port, 6790);
    assert_int_equal(d.tls_min, 12);
    assert_int_equal(d.redirect_https, 0);
    assert_int_equal(d.hsts, 0);

    /* No arguments: exactly the defaults. */
    memset(&p, 0xa5, sizeof(p));
    assert_int_equal(parse(none, &p, err, sizeof(err)), WS_CONFIG_RUN);
    assert_memory_equal(&p, &d, sizeof(d));
}

struct number_case {
    const char *desc;
    char *args[MAX_ARGS];
    enum field field;
    unsigned long long value;
};

/* clang-format off */
static const struct number_case number_cases[] = {
    { "--port VALUE",                   { "--port", "80" },                    F_PORT, 80 },
    { "--port=VALUE",                   { "--port=8080" },                     F_PORT, 8080 },
    { "-p VALUE",                       { "-p", "81" },                        F_PORT, 81 },
    { "-pVALUE",                        { "-p82" },                            F_PORT, 82 },
    { "port 0 lets the kernel choose",  { "-p", "0" },                         F_PORT, 0 },
    { "port 65535",                     { "-p", "65535" },                     F_PORT, 65535 },
    { "abbreviated long option",        { "--po", "83" },                      F_PORT, 83 },
    { "the last value wins",            { "-p", "1", "--port", "2" },          F_PORT, 2 },
    { "--threads VALUE",                { "--threads", "4" },                  F_THREADS, 4 },
    { "--threads=1",                    { "--threads=1" },                     F_THREADS, 1 },
    { "--event-threads VALUE",          { "--event-threads", "4" },            F_EVENT_THREADS, 4 },
    { "--event-threads=64, the most",   { "--event-threads=64" },              F_EVENT_THREADS, 64 },
    { "--event-threads=1",              { "--event-threads=1" },               F_EVENT_THREADS, 1 },
    { "-t 1024",                        { "-t", "1024" },                      F_THREADS, 1024 },
    { "--queue VALUE",                  { "--queue", "16" },                   F_QUEUE, 16 },
    { "-q 1",                           { "-q", "1" },                         F_QUEUE, 1 },
    { "--queue=1048576",                { "--queue=1048576" },                 F_QUEUE, 1048576 },
    { "--header-timeout SECS",          { "--header-timeout", "5" },           F_HEADER_TIMEOUT, 5000 },
    { "--header-timeout=0.5",           { "--header-timeout=0.5" },            F_HEADER_TIMEOUT, 500 },
    { "--header-timeout .25",           { "--header-timeout", ".25" },         F_HEADER_TIMEOUT, 250 },
    { "--header-timeout 0.001 (1 ms)",  { "--header-timeout", "0.001" },       F_HEADER_TIMEOUT, 1 },
    { "--header-timeout 86400 (1 day)", { "--header-timeout", "86400" },       F_HEADER_TIMEOUT, 86400000 },
    { "--keepalive-timeout=2",          { "--keepalive-timeout=2" },           F_KEEPALIVE_TIMEOUT, 2000 },
    { "--keepalive-timeout 1.5",        { "--keepalive-timeout", "1.5" },      F_KEEPALIVE_TIMEOUT, 1500 },
    { "--send-timeout 7",               { "--send-timeout", "7" },             F_SEND_TIMEOUT, 7000 },
    { "--shutdown-grace=0.1",           { "--shutdown-grace=0.1" },            F_SHUTDOWN_GRACE, 100 },
    { "--max-requests 0 (no cap)",      { "--max-requests", "0" },             F_MAX_REQUESTS, 0 },
    { "--max-requests=1000000000",      { "--max-requests=1000000000" },       F_MAX_REQUESTS, 1000000000 },
    { "--max-body=0",                   { "--max-body=0" },                    F_MAX_BODY, 0 },
    { "--max-body 2^40",                { "--max-body", "1099511627776" },     F_MAX_BODY, 1099511627776ULL },
    { "other options leave port alone", { "-t", "2", "-q", "3" },              F_PORT, 6789 },
    { "options after --",               { "-t", "3", "--" },                   F_THREADS, 3 },
};
/* clang-format on */

static void test_number_options(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(number_cases); i++) {
        const struct number_case *c = &number_cases[i];
        struct ws_config cfg;
        char err[128] = "";
        enum ws_config_result r = parse(c->args, &cfg, err, sizeof(err));
        if (r != WS_CONFIG_RUN)
            print_error("case \"%s\": error \"%s\"\n", c->desc, err);
        check_int(c->desc, r, WS_CONFIG_RUN);
        check_int(c->desc, number_field(&cfg, c->field), c->value);
    }
}

struct string_case {
    const char *desc;
    char *args[MAX_ARGS];
    enum field field;
    const char *value; /* NULL: the field must be NULL */
};

/* clang-format off */
static const struct string_case string_cases[] = {
    { "--root DIR",                  { "--root", "/srv/www" },          F_ROOT, "/srv/www" },
    { "--root=DIR",                  { "--root=site" },                 F_ROOT, "site" },
    { "-r DIR",                      { "-r", "x" },                     F_ROOT, "x" },
    { "-rDIR",                       { "-ry" },                         F_ROOT, "y" },
    { "--bind ADDR",                 { "--bind", "127.0.0.1" },         F_BIND, "127.0.0.1" },
    { "-b ::1",                      { "-b", "::1" },                   F_BIND, "::1" },
    { "bind defaults to NULL",       { "-p", "1" },                     F_BIND, NULL },
    { "--access-log FILE",           { "--access-log", "/tmp/a.log" },  F_ACCESS_LOG, "/tmp/a.log" },
    { "--access-log=-",              { "--access-log=-" },              F_ACCESS_LOG, "-" },
    { "--access-log off",            { "--access-log", "off" },         F_ACCESS_LOG, NULL },
    { "access log defaults to -",    { "-p", "1" },                     F_ACCESS_LOG, "-" },
};
/* clang-format on */

static void test_string_options(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(string_cases); i++) {
        const struct string_case *c = &string_cases[i];
        struct ws_config cfg;
        char err[128] = "";
        enum ws_config_result r = parse(c->args, &cfg, err, sizeof(err));
        check_int(c->desc, r, WS_CONFIG_RUN);
        if (c->value == NULL)
            check_true(c->desc, string_field(&cfg, c->field) == NULL);
        else
            check_str(c->desc, string_field(&cfg, c->field), c->value);
    }
}

struct error_case {
    const char *desc;
    char *args[MAX_ARGS];
    const char *mention1; /* substrings the message must contain */
    const char *mention2;
};

/* clang-format off */
static const struct error_case error_cases[] = {
    { "port 70000",                      { "-p", "70000" },                      "'70000'", "--port" },
    { "port -1",                         { "--port", "-1" },                     "'-1'", "--port" },
    { "port abc",                        { "--port=abc" },                       "'abc'", "--port" },
    { "port empty",                      { "--port=" },                          "''", "--port" },
    { "port with leading space",         { "-p", " 80" },                        "' 80'", "--port" },
    { "port with trailing junk",         { "-p", "80x" },                        "'80x'", "--port" },
    { "port with a sign",                { "-p", "+80" },                        "'+80'", "--port" },
    { "port overflowing 64 bits",        { "-p", "99999999999999999999999" },    "'99999999999999999999999'", "--port" },
    { "port of exactly 2^64",            { "-p", "18446744073709551616" },       "'18446744073709551616'", "--port" },
    { "port 65536, one over",            { "-p", "65536" },                      "'65536'", "--port" },
    { "2^64 followed by junk",           { "-p", "18446744073709551616x" },      "'18446744073709551616x'", "--port" },
    { "0 threads",                       { "-t", "0" },                          "'0'", "--threads" },
    { "1025 threads",                    { "--threads=1025" },                   "'1025'", "--threads" },
    { "threads 2^32 + 1 (no wrap)",      { "-t", "4294967297" },                 "'4294967297'", "--threads" },
    { "0 event threads",                 { "--event-threads", "0" },             "'0'", "--event-threads: give 1 to 64" },
    { "65 event threads",                { "--event-threads=65" },               "'65'", "--event-threads: give 1 to 64" },
    { "event threads 2^32 + 1",          { "--event-threads", "4294967297" },    "'4294967297'", "--event-threads" },
    { "event threads empty",             { "--event-threads=" },                 "''", "--event-threads" },
    { "queue 0",                         { "-q", "0" },                          "'0'", "--queue" },
    { "queue 2^20 + 1",                  { "--queue", "1048577" },               "'1048577'", "--queue" },
    { "header-timeout 0",                { "--header-timeout", "0" },            "'0'", "--header-timeout" },
    { "header-timeout -1",               { "--header-timeout", "-1" },           "'-1'", "--header-timeout" },
    { "header-timeout abc",              { "--header-timeout=abc" },             "'abc'", "--header-timeout" },
    { "header-timeout 1e9",              { "--header-timeout", "1e9" },          "'1e9'", "--header-timeout" },
    { "header-timeout below 1 ms",       { "--header-timeout", "0.0004" },       "'0.0004'", "--header-timeout" },
    { "header-timeout over a day",       { "--header-timeout", "86401" },        "'86401'", "--header-timeout" },
    { "header-timeout nan",              { "--header-timeout", "nan" },          "'nan'", "--header-timeout" },
    { "header-timeout inf",              { "--header-timeout", "inf" },          "'inf'", "--header-timeout" },
    { "header-timeout empty",            { "--header-timeout=" },                "''", "--header-timeout" },
    { "header-timeout 5s",               { "--header-timeout", "5s" },           "'5s'", "--header-timeout" },
    { "keepalive-timeout 0",             { "--keepalive-timeout", "0" },         "'0'", "--keepalive-timeout" },
    { "send-timeout -1",                 { "--send-timeout=-1" },                "'-1'", "--send-timeout" },
    { "shutdown-grace abc",              { "--shutdown-grace", "abc" },          "'abc'", "--shutdown-grace" },
    { "max-requests -1",                 { "--max-requests", "-1" },             "'-1'", "--max-requests" },
    { "max-requests 10^9 + 1",           { "--max-requests", "1000000001" },     "'1000000001'", "--max-requests" },
    { "max-body 2^40 + 1",               { "--max-body", "1099511627777" },      "'1099511627777'", "--max-body" },
    { "empty root",                      { "--root=" },                          "''", "--root" },
    { "empty bind",                      { "-b", "" },                           "''", "--bind" },
    { "empty access-log",                { "--access-log=" },                    "''", "--access-log" },
    { "missing value, long option",      { "--port" },                           "'--port'", "value" },
    { "missing value, short option",     { "-t" },                               "'-t'", "value" },
    { "missing value after others",      { "-p", "1", "--header-timeout" },      "'--header-timeout'", "value" },
    { "unknown long option",             { "--bogus" },                          "'--bogus", "unknown" },
    { "unknown long option with value",  { "--bogus=1" },                        "--bogus", "unknown" },
    { "unknown short option",            { "-x" },                               "'-x'", "unknown" },
    { "unknown short option in a group", { "-xp", "80" },                        "'-x'", "unknown" },
    { "unknown short option, later",     { "-p", "80", "-Z" },                   "'-Z'", "unknown" },
    { "unknown short after a good one",  { "-Vz" },                              NULL, NULL },
    { "ambiguous abbreviation",          { "--s", "1" },                         "--s", NULL },
    { "--help given a value",            { "--help=1" },                         "--help", NULL },
    { "extra positional argument",       { "extra" },                            "'extra'", "unexpected" },
    { "positional after options",        { "-p", "80", "www" },                  "'www'", "unexpected" },
    { "-- ends the options",             { "-r", "a", "--", "-p" },              "'-p'", "unexpected" },
    { "positional before options",       { "www", "-p", "80" },                  "'www'", "unexpected" },
    { "a certificate without its key",   { "--tls-cert", "a.pem" },              "a.pem", "--tls-key" },
    { "a key without a certificate",     { "--tls-key", "a.key" },               "a.key", "--tls-cert" },
    { "the second certificate's key missing", { "--tls-cert", "a.pem", "--tls-key", "a.key", "--tls-cert", "b.pem" }, "b.pem", "no --tls-key" },
    { "two keys for one certificate",    { "--tls-cert", "a.pem", "--tls-key", "a.key", "--tls-key", "b.key" }, "b.key", "no --tls-cert" },
    { "empty certificate name",          { "--tls-cert=", "--tls-key", "a.key" }, "''", "--tls-cert" },
    { "empty key name",                  { "--tls-cert", "a.pem", "--tls-key=" }, "''", "--tls-key" },
    { "tls-min 1.1",                     { "--tls-min", "1.1" },                 "'1.1'", "--tls-min" },
    { "tls-min 1.2.0",                   { "--tls-min=1.2.0" },                  "'1.2.0'", "--tls-min" },
    { "tls-port 65536",                  { "--tls-port", "65536" },              "'65536'", "--tls-port" },
    { "hsts -1",                         { "--hsts", "-1" },                     "'-1'", "--hsts" },
    { "hsts 2^31",                       { "--hsts", "2147483648" },             "'2147483648'", "--hsts" },
    { "hsts without a certificate",      { "--hsts", "60" },                     "--hsts", "certificate" },
    { "redirect-https without a certificate", { "--redirect-https" },            "--redirect-https", "certificate" },
    { "tls-port without a certificate",  { "--tls-port", "443" },                "--tls-port", "certificate" },
    { "tls-min without a certificate",   { "--tls-min", "1.3" },                 "--tls-min", "certificate" },
    { "tls-port equal to port",          { "--tls-cert", "a.pem", "--tls-key", "a.key", "--tls-port", "6789" }, "6789", "--port" },
};
/* clang-format on */

static void test_revalidate(void **state)
{
    struct ws_config cfg;
    char err[128] = "";
    char *none[] = { NULL };
    char *stat_mode[] = { "--revalidate=stat", NULL };
    char *both[] = { "--revalidate=stat", "--revalidate", "inotify", NULL };
    char *bad[] = { "--revalidate=mtime", NULL };

    assert_int_equal(parse(none, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.stat_every_request, 0); /* inotify by default */
    assert_int_equal(parse(stat_mode, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.stat_every_request, 1);
    assert_int_equal(parse(both, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.stat_every_request, 0); /* the last one wins */
    assert_int_equal(parse(bad, &cfg, err, sizeof(err)), WS_CONFIG_ERROR);
    assert_non_null(strstr(err, "--revalidate"));
    assert_non_null(strstr(err, "mtime"));
}

static void test_errors(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(error_cases); i++) {
        const struct error_case *c = &error_cases[i];
        struct ws_config cfg;
        char err[256];
        enum ws_config_result r;

        memset(err, 0, sizeof(err));
        r = parse(c->args, &cfg, err, sizeof(err));
        if (c->mention1 == NULL) {
            /* -V is handled before the unknown z is looked at. */
            check_int(c->desc, r, WS_CONFIG_VERSION);
            continue;
        }
        if (r != WS_CONFIG_ERROR || !strstr(err, c->mention1) ||
            (c->mention2 && !strstr(err, c->mention2)))
            print_error("case \"%s\": message \"%s\"\n", c->desc, err);
        check_int(c->desc, r, WS_CONFIG_ERROR);
        check_true(c->desc, strlen(err) > 10);
        check_true(c->desc, strchr(err, '\n') == NULL);
        check_true(c->desc, strstr(err, c->mention1) != NULL);
        check_true(c->desc, c->mention2 == NULL || strstr(err, c->mention2) != NULL);
    }
}

struct result_case {
    const char *desc;
    char *args[MAX_ARGS];
    enum ws_config_result result;
};

/* clang-format off */
static const struct result_case result_cases[] = {
    { "--help",                       { "--help" },                    WS_CONFIG_HELP },
    { "-h",                           { "-h" },                        WS_CONFIG_HELP },
    { "--version",                    { "--version" },                 WS_CONFIG_VERSION },
    { "-V",                           { "-V" },                        WS_CONFIG_VERSION },
    { "--help after good options",    { "-p", "80", "--help" },        WS_CONFIG_HELP },
    { "the first of help and version", { "-V", "-h" },                 WS_CONFIG_VERSION },
    { "--help before a bad option",   { "--help", "--bogus" },         WS_CONFIG_HELP },
    { "a bad value before --help",    { "-p", "x", "--help" },         WS_CONFIG_ERROR },
    { "--help before a positional",   { "--help", "extra" },           WS_CONFIG_HELP },
};
/* clang-format on */

static void test_results(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(result_cases); i++) {
        const struct result_case *c = &result_cases[i];
        struct ws_config cfg;
        char err[128] = "";
        check_int(c->desc, parse(c->args, &cfg, err, sizeof(err)), c->result);
    }
    assert_non_null(strstr(ws_config_help(), "--port"));
    assert_non_null(strstr(ws_config_help(), "--max-body"));
    assert_non_null(strstr(ws_config_help(), "--tls-cert"));
}

/* Certificates pair with keys by position; the other TLS options need a certificate. */
static void test_tls_options(void **state)
{
    char *two_pairs[] = { "--tls-cert",       "a.pem",           "--tls-key", "a.key",
                          "--tls-cert=b.pem", "--tls-key=b.key", NULL };
    char *certs_first[] = { "--tls-cert", "a.pem",     "--tls-cert", "b.pem", "--tls-key",
                            "a.key",      "--tls-key", "b.key",      NULL };
    char *all[] = { "--tls-cert",       "a.pem",    "--tls-key", "a.key", "--tls-port", "443",
                    "--redirect-https", "--hsts=0", "--tls-min", "1.3",   NULL };
    char *ports_0[] = { "-p", "0", "--tls-port", "0", "--tls-cert", "a", "--tls-key", "k", NULL };
    char *many[2 * 2 * (WS_MAX_TLS_PAIRS + 1) + 1];
    struct ws_config cfg;
    char err[256] = "";

    assert_int_equal(parse(two_pairs, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.n_tls_pairs, 2);
    assert_string_equal(cfg.tls_pairs[0].cert_file, "a.pem");
    assert_string_equal(cfg.tls_pairs[0].key_file, "a.key");
    assert_string_equal(cfg.tls_pairs[1].cert_file, "b.pem");
    assert_string_equal(cfg.tls_pairs[1].key_file, "b.key");
    assert_int_equal(cfg.tls_port, 6790);
    assert_int_equal(cfg.tls_min, 12);
    assert_int_equal(cfg.redirect_https, 0);
    assert_int_equal(cfg.hsts, 0);

    assert_int_equal(parse(certs_first, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.n_tls_pairs, 2);
    assert_string_equal(cfg.tls_pairs[0].key_file, "a.key");
    assert_string_equal(cfg.tls_pairs[1].cert_file, "b.pem");
    assert_string_equal(cfg.tls_pairs[1].key_file, "b.key");

    assert_int_equal(parse(all, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.n_tls_pairs, 1);
    assert_int_equal(cfg.tls_port, 443);
    assert_int_equal(cfg.redirect_https, 1);
    assert_int_equal(cfg.hsts, 1); /* max-age=0 is sent: it makes browsers forget */
    assert_int_equal(cfg.hsts_secs, 0);
    assert_int_equal(cfg.tls_min, 13);

    assert_int_equal(parse(ports_0, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.tls_port, 0);

    /* WS_MAX_TLS_PAIRS pairs are accepted, one more is refused (argv built by hand). */
    many[0] = "webserver";
    for (int i = 0; i < WS_MAX_TLS_PAIRS + 1; i++) {
        many[1 + 4 * i] = "--tls-cert";
        many[2 + 4 * i] = "c.pem";
        many[3 + 4 * i] = "--tls-key";
        many[4 + 4 * i] = "k.pem";
    }
    assert_int_equal(ws_config_parse(&cfg, 1 + 4 * WS_MAX_TLS_PAIRS, many, err, sizeof(err)),
                     WS_CONFIG_RUN);
    assert_int_equal(cfg.n_tls_pairs, WS_MAX_TLS_PAIRS);
    assert_int_equal(ws_config_parse(&cfg, 1 + 4 * (WS_MAX_TLS_PAIRS + 1), many, err, sizeof(err)),
                     WS_CONFIG_ERROR);
    assert_non_null(strstr(err, "--tls-cert"));
}

/* An error inside a group of short options must not leave getopt mid-group. */
static void test_repeated_parsing(void **state)
{
    char *bad[] = { "-xt", "3", NULL };
    char *good[] = { "-t", "5", "-p", "7", NULL };
    char *bad_value[] = { "-t0", NULL };
    struct ws_config cfg;
    char err[128];

    for (int round = 0; round < 3; round++) {
        assert_int_equal(parse(bad, &cfg, err, sizeof(err)), WS_CONFIG_ERROR);
        assert_int_equal(parse(good, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
        assert_int_equal(cfg.threads, 5);
        assert_int_equal(cfg.port, 7);
        assert_int_equal(parse(bad_value, &cfg, err, sizeof(err)), WS_CONFIG_ERROR);
        assert_int_equal(parse(good, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
        assert_int_equal(cfg.threads, 5);
    }
}

/* The message is cut to the buffer and stays terminated; a zero-size buffer is untouched. */
static void test_error_buffer(void **state)
{
    char *args[] = { "--port", "123456789", NULL };
    struct ws_config cfg;
    char err[12];

    memset(err, 'z', sizeof(err));
    assert_int_equal(parse(args, &cfg, err, sizeof(err)), WS_CONFIG_ERROR);
    assert_int_equal(strlen(err), sizeof(err) - 1);

    memset(err, 'z', sizeof(err));
    assert_int_equal(parse(args, &cfg, err, 0), WS_CONFIG_ERROR);
    for (size_t i = 0; i < sizeof(err); i++)
        assert_int_equal(err[i], 'z');
}

/* --- --listen unix:PATH[:MODE] (ws_listen_parse) ------------------------------ */

struct listen_case {
    const char *desc;
    const char *spec;
    int ok;
    const char *path; /* when ok */
    unsigned mode;    /* when ok */
};

/* clang-format off */
static const struct listen_case listen_cases[] = {
    { "path alone, default mode",     "unix:/run/ws.sock",          1, "/run/ws.sock", 0660 },
    { "path and mode",                "unix:/run/ws.sock:0666",     1, "/run/ws.sock", 0666 },
    { "three-digit mode",             "unix:/run/ws.sock:600",      1, "/run/ws.sock", 0600 },
    { "mode 0",                       "unix:/tmp/s:0",              1, "/tmp/s", 0 },
    { "mode 0777",                    "unix:/tmp/s:0777",           1, "/tmp/s", 0777 },
    { "colon inside the path",        "unix:/tmp/a:b/s",            1, "/tmp/a:b/s", 0660 },
    { "colon in path, then mode",     "unix:/tmp/a:b/s:0640",       1, "/tmp/a:b/s", 0640 },
    { "non-octal tail is path",       "unix:/tmp/s:08",             1, "/tmp/s:08", 0660 },
    { "trailing colon is path",       "unix:/tmp/s:",               1, "/tmp/s:", 0660 },
    { "107-byte path",                "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1,
                                      "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0660 },
    { "108-byte path is too long",    "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, NULL, 0 },
    { "mode over 0777",               "unix:/tmp/s:1000",           0, NULL, 0 },
    { "mode of five digits",          "unix:/tmp/s:00600",          0, NULL, 0 },
    { "relative path",                "unix:run/ws.sock",           0, NULL, 0 },
    { "empty path",                   "unix:",                      0, NULL, 0 },
    { "mode without a path",          "unix::0660",                 0, NULL, 0 },
    { "directory",                    "unix:/run/",                 0, NULL, 0 },
    { "no scheme",                    "/run/ws.sock",               0, NULL, 0 },
    { "TCP address",                  "127.0.0.1:80",               0, NULL, 0 },
    { "upper-case scheme",            "UNIX:/run/ws.sock",          0, NULL, 0 },
};
/* clang-format on */

static void test_listen_parse(void **state)
{
    for (size_t i = 0; i < sizeof(listen_cases) / sizeof(listen_cases[0]); i++) {
        const struct listen_case *c = &listen_cases[i];
        struct ws_unix_listen got;
        const char *why = NULL;
        int rc = ws_listen_parse(c->spec, &got, &why);
        check_int(c->desc, rc, c->ok ? 0 : -1);
        if (c->ok) {
            check_str(c->desc, got.path, c->path);
            check_int(c->desc, got.mode, c->mode);
        } else {
            check_int(c->desc, why != NULL, 1);
        }
    }
}

/* --listen alone replaces the TCP port; --port or --bind keep it; --port off drops it. */
static void test_listen_and_port(void **state)
{
    struct ws_config cfg;
    char err[256] = "";
    char *alone[] = { "--listen", "unix:/run/a.sock", NULL };
    char *with_port[] = { "--listen=unix:/run/a.sock:0600", "--port", "0", NULL };
    char *port_first[] = { "-p", "8080", "--listen", "unix:/run/a.sock", NULL };
    char *with_bind[] = { "--listen", "unix:/run/a.sock", "-b", "127.0.0.1", NULL };
    char *two[] = { "--listen", "unix:/run/a.sock", "--listen", "unix:/run/b.sock:0666", NULL };
    char *same[] = { "--listen", "unix:/run/a.sock", "--listen", "unix:/run/a.sock:0600", NULL };
    char *off[] = { "--port", "off", NULL };
    char *off_then_on[] = { "--port", "off", "--port", "80", NULL };
    char *bad[] = { "--listen", "tcp:80", NULL };
    char *too_many[] = { "--listen", "unix:/a", "--listen", "unix:/b", "--listen", "unix:/c",
                         "--listen", "unix:/d", "--listen", "unix:/e", NULL };
    char *trusted[] = { "--trusted-proxy", "unix", "--trusted-proxy", "10.0.0.0/8", NULL };

    assert_int_equal(parse(alone, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.n_unix_listen, 1);
    assert_string_equal(cfg.unix_listen[0].path, "/run/a.sock");
    assert_int_equal(cfg.unix_listen[0].mode, WS_UNIX_LISTEN_MODE);
    assert_int_equal(cfg.port, -1);
    assert_int_equal(parse(with_port, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.port, 0);
    assert_int_equal(cfg.unix_listen[0].mode, 0600);
    assert_int_equal(parse(port_first, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.port, 8080);
    assert_int_equal(parse(with_bind, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.port, 6789);
    assert_int_equal(parse(two, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.n_unix_listen, 2);
    assert_string_equal(cfg.unix_listen[1].path, "/run/b.sock");
    assert_int_equal(cfg.unix_listen[1].mode, 0666);
    assert_int_equal(parse(same, &cfg, err, sizeof(err)), WS_CONFIG_ERROR);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(parse(off, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.port, -1);
    assert_int_equal(cfg.n_unix_listen, 0);
    assert_int_equal(parse(off_then_on, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.port, 80);
    assert_int_equal(parse(bad, &cfg, err, sizeof(err)), WS_CONFIG_ERROR);
    assert_non_null(strstr(err, "--listen 'tcp:80'"));
    assert_non_null(strstr(err, "unix:PATH"));
    assert_int_equal(parse(too_many, &cfg, err, sizeof(err)), WS_CONFIG_ERROR);
    assert_non_null(strstr(err, "at most 4 --listen"));
    assert_int_equal(parse(trusted, &cfg, err, sizeof(err)), WS_CONFIG_RUN);
    assert_int_equal(cfg.n_trusted, 2);
    assert_int_equal(cfg.trusted[0].family, AF_UNIX);
    assert_non_null(strstr(ws_config_help(), "--listen=unix:PATH[:MODE]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_number_options),
        cmocka_unit_test(test_string_options),  cmocka_unit_test(test_revalidate),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_results),
        cmocka_unit_test(test_tls_options),     cmocka_unit_test(test_repeated_parsing),
        cmocka_unit_test(test_error_buffer),    cmocka_unit_test(test_listen_parse),
        cmocka_unit_test(test_listen_and_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
