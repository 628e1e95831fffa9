/*
 * http/test_forwarded.c - trusted proxy blocks and the client behind X-Forwarded-For.
 */
#include "test_util.h"

#include "http/forwarded.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/un.h>

/* --- ws_cidr_parse ------------------------------------------------------------ */

struct cidr_case {
    const char *desc;
    const char *text;
    int ok;
    int family;
    unsigned prefix;
    const char *addr; /* the address bytes, as text for inet_pton; NULL when !ok */
};

/* clang-format off */
static const struct cidr_case cidr_cases[] = {
    { "IPv4 host",                 "192.0.2.7",          1, AF_INET,  32,  "192.0.2.7" },
    { "IPv4 /8",                   "10.0.0.0/8",         1, AF_INET,  8,   "10.0.0.0" },
    { "IPv4 /0",                   "0.0.0.0/0",          1, AF_INET,  0,   "0.0.0.0" },
    { "IPv4 /32",                  "192.0.2.7/32",       1, AF_INET,  32,  "192.0.2.7" },
    { "IPv4 odd /13",              "10.8.0.0/13",        1, AF_INET,  13,  "10.8.0.0" },
    { "IPv4 host bits kept",       "10.1.2.3/8",         1, AF_INET,  8,   "10.1.2.3" },
    { "leading zero in prefix",    "10.0.0.0/08",        1, AF_INET,  8,   "10.0.0.0" },
    { "IPv6 host",                 "::1",                1, AF_INET6, 128, "::1" },
    { "IPv6 /8",                   "fd00::/8",           1, AF_INET6, 8,   "fd00::" },
    { "IPv6 /0",                   "::/0",               1, AF_INET6, 0,   "::" },
    { "IPv6 /128",                 "2001:db8::1/128",    1, AF_INET6, 128, "2001:db8::1" },
    { "IPv6 odd /33",              "2001:db8::/33",      1, AF_INET6, 33,  "2001:db8::" },
    { "IPv6 upper case",           "2001:DB8::A/64",     1, AF_INET6, 64,  "2001:db8::a" },
    { "v4-mapped stays IPv6",      "::ffff:127.0.0.1",   1, AF_INET6, 128, "::ffff:127.0.0.1" },
    { "empty",                     "",                   0, 0, 0, NULL },
    { "prefix only",               "/8",                 0, 0, 0, NULL },
    { "empty prefix",              "10.0.0.0/",          0, 0, 0, NULL },
    { "IPv4 prefix too long",      "10.0.0.0/33",        0, 0, 0, NULL },
    { "IPv6 prefix too long",      "::/129",             0, 0, 0, NULL },
    { "negative prefix",           "10.0.0.0/-1",        0, 0, 0, NULL },
    { "plus sign",                 "10.0.0.0/+8",        0, 0, 0, NULL },
    { "space before prefix",       "10.0.0.0/ 8",        0, 0, 0, NULL },
    { "junk after prefix",         "10.0.0.0/8x",        0, 0, 0, NULL },
    { "two prefixes",              "10.0.0.0/8/8",       0, 0, 0, NULL },
    { "huge prefix",               "10.0.0.0/99999999999999999999", 0, 0, 0, NULL },
    { "three octets",              "10.0.0",             0, 0, 0, NULL },
    { "octet over 255",            "256.0.0.1",          0, 0, 0, NULL },
    { "name",                      "localhost",          0, 0, 0, NULL },
    { "brackets",                  "[::1]",              0, 0, 0, NULL },
    { "trailing space",            "192.0.2.7 ",         0, 0, 0, NULL },
    { "leading space",             " 192.0.2.7",         0, 0, 0, NULL },
    { "port",                      "192.0.2.7:80",       0, 0, 0, NULL },
    { "too long for an address",   "1111:2222:3333:4444:5555:6666:7777:8888:9999/64", 0, 0, 0, NULL },
};
/* clang-format on */

static void test_cidr_parse(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(cidr_cases); i++) {
        const struct cidr_case *c = &cidr_cases[i];
        char *text = exact_copy(c->text, strlen(c->text) + 1); /* ASan sees any over-read */
        struct ws_cidr got;
        int rc = ws_cidr_parse(text, &got);

        check_int(c->desc, rc, c->ok ? 0 : -1);
        if (c->ok) {
            uint8_t want[16] = { 0 };
            check_int(c->desc, inet_pton(c->family, c->addr, want), 1);
            check_int(c->desc, got.family, c->family);
            check_int(c->desc, got.prefix, c->prefix);
            check_true(c->desc, memcmp(got.addr, want, c->family == AF_INET ? 4 : 16) == 0);
        }
        free(text);
    }
}

/* --- ws_cidr_match ------------------------------------------------------------ */

struct match_case {
    const char *desc;
    const char *blocks[4]; /* NULL-terminated */
    const char *addr;      /* IPv4 or IPv6 text */
    int match;
};

/* clang-format off */
static const struct match_case match_cases[] = {
    { "IPv4 host, same",           { "192.0.2.7" },                "192.0.2.7",        1 },
    { "IPv4 host, other",          { "192.0.2.7" },                "192.0.2.8",        0 },
    { "/8 inside",                 { "10.0.0.0/8" },               "10.255.255.255",   1 },
    { "/8 outside",                { "10.0.0.0/8" },               "11.0.0.0",         0 },
    { "/0 takes every IPv4",       { "0.0.0.0/0" },                "203.0.113.9",      1 },
    { "/0 IPv4 not IPv6",          { "0.0.0.0/0" },                "2001:db8::1",      0 },
    { "/13 first",                 { "10.8.0.0/13" },              "10.8.0.0",         1 },
    { "/13 last",                  { "10.8.0.0/13" },              "10.15.255.255",    1 },
    { "/13 just above",            { "10.8.0.0/13" },              "10.16.0.0",        0 },
    { "/13 just below",            { "10.8.0.0/13" },              "10.7.255.255",     0 },
    { "host bits ignored",         { "10.1.2.3/8" },               "10.200.0.1",       1 },
    { "/32 exact only",            { "192.0.2.7/32" },             "192.0.2.6",        0 },
    { "IPv6 /128",                 { "2001:db8::1/128" },          "2001:db8::1",      1 },
    { "IPv6 /128 other",           { "2001:db8::1/128" },          "2001:db8::2",      0 },
    { "IPv6 /33 inside",           { "2001:db8::/33" },            "2001:db8:7fff::1", 1 },
    { "IPv6 /33 outside",          { "2001:db8::/33" },            "2001:db8:8000::",  0 },
    { "IPv6 /0",                   { "::/0" },                     "fe80::1",          1 },
    { "IPv6 /0 not IPv4",          { "::/0" },                     "192.0.2.7",        0 },
    { "v4-mapped as IPv4",         { "127.0.0.1" },                "::ffff:127.0.0.1", 1 },
    { "v4-mapped in a v4 block",   { "10.0.0.0/8" },               "::ffff:10.9.8.7",  1 },
    { "v4-mapped outside",         { "10.0.0.0/8" },               "::ffff:11.0.0.1",  0 },
    { "v4-mapped not in a v6 block", { "::ffff:0:0/96" },          "::ffff:10.0.0.1",  0 },
    { "IPv4 not in a v6 block",    { "::ffff:0:0/96" },            "10.0.0.1",         0 },
    { "loopback v6 is not v4",     { "127.0.0.1" },                "::1",              0 },
    { "second block",              { "10.0.0.0/8", "192.0.2.0/24" }, "192.0.2.200",    1 },
    { "third block, v6",           { "10.0.0.0/8", "192.0.2.0/24", "fd00::/8" }, "fd12::3", 1 },
    { "no block",                  { NULL },                       "10.0.0.1",         0 },
};
/* clang-format on */

/* Parses a NULL-terminated list of blocks; returns how many. */
static size_t parse_blocks(const char *desc, const char *const *texts, struct ws_cidr *out)
{
    size_t n = 0;
    while (n < 4 && texts[n] != NULL) {
        check_int(desc, ws_cidr_parse(texts[n], &out[n]), 0);
        n++;
    }
    return n;
}

static void test_cidr_match(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(match_cases); i++) {
        const struct match_case *c = &match_cases[i];
        struct ws_cidr blocks[4];
        size_t n = parse_blocks(c->desc, c->blocks, blocks);
        uint8_t addr[16];
        int family = strchr(c->addr, ':') != NULL ? AF_INET6 : AF_INET;

        check_int(c->desc, inet_pton(family, c->addr, addr), 1);
        check_int(c->desc, ws_cidr_match(blocks, n, family, addr), c->match);
    }
}

/* --- ws_forwarded_client ------------------------------------------------------ */

#define MAX_LINES 4

struct fwd_case {
    const char *desc;
    const char *trusted[4]; /* NULL-terminated */
    const char *peer;       /* IPv4 or IPv6 text */
    /* Header fields, "Name: value"; NULL-terminated. */
    const char *fields[MAX_LINES + 1];
    const char *want;
};

/* clang-format off */
static const struct fwd_case fwd_cases[] = {
    { "no trusted proxy: the peer",   { NULL },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9" }, "127.0.0.1" },
    { "untrusted peer: the peer",     { "10.0.0.0/8" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9" }, "127.0.0.1" },
    { "trusted peer, no field",       { "127.0.0.1" },
      "127.0.0.1", { "Host: x" }, "127.0.0.1" },
    { "one element",                  { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9" }, "203.0.113.9" },
    { "rightmost untrusted wins",     { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9, 198.51.100.1" }, "198.51.100.1" },
    { "trusted hops skipped",         { "127.0.0.0/8", "198.51.100.0/24" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9, 198.51.100.1" }, "203.0.113.9" },
    { "spoofed left part ignored",    { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 198.51.100.1" }, "198.51.100.1" },
    { "all trusted: the leftmost",    { "127.0.0.1", "198.51.100.0/24" },
      "127.0.0.1", { "X-Forwarded-For: 198.51.100.3, 198.51.100.2" }, "198.51.100.3" },
    { "junk on the left",             { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: bogus, 203.0.113.9" }, "203.0.113.9" },
    { "junk on the right: the peer",  { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9, bogus" }, "127.0.0.1" },
    { "junk after a trusted hop",     { "127.0.0.1", "198.51.100.0/24" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9, bogus, 198.51.100.1" }, "198.51.100.1" },
    { "only junk",                    { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: bogus" }, "127.0.0.1" },
    { "IPv4 with a port is junk",     { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9:8080" }, "127.0.0.1" },
    { "space-separated is junk",      { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9 198.51.100.1" }, "127.0.0.1" },
    { "bracketed IPv6",               { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: [2001:db8::1]" }, "2001:db8::1" },
    { "bare IPv6, normalised",        { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: 2001:DB8:0:0::0001" }, "2001:db8::1" },
    { "bracketed IPv6 with a port",   { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: [2001:db8::1]:443" }, "127.0.0.1" },
    { "half a bracket",               { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: [2001:db8::1" }, "127.0.0.1" },
    { "empty brackets",               { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: []" }, "127.0.0.1" },
    { "empty elements skipped",       { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: , ,203.0.113.9, ,," }, "203.0.113.9" },
    { "empty value",                  { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: " }, "127.0.0.1" },
    { "tabs and spaces trimmed",      { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: \t203.0.113.9 \t,\t 198.51.100.1\t" }, "198.51.100.1" },
    { "two lines, last line first",   { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9", "X-Forwarded-For: 198.51.100.7, 127.0.0.1" },
      "198.51.100.7" },
    { "two lines, walk continues",    { "127.0.0.1", "198.51.100.0/24" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9", "X-Forwarded-For: 198.51.100.7, 127.0.0.1" },
      "203.0.113.9" },
    { "three lines, others between",  { "127.0.0.0/8" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.1", "Host: x", "X-Forwarded-For: 127.0.0.2",
                     "X-Forwarded-For: 127.0.0.3" }, "203.0.113.1" },
    { "junk line stops the walk",     { "127.0.0.0/8" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.1", "X-Forwarded-For: junk",
                     "X-Forwarded-For: 127.0.0.3" }, "127.0.0.3" },
    { "name case-insensitive",        { "127.0.0.1" },
      "127.0.0.1", { "x-FORWARDED-for: 203.0.113.9" }, "203.0.113.9" },
    { "other fields ignored",         { "127.0.0.1" },
      "127.0.0.1", { "X-Real-IP: 203.0.113.9", "Forwarded: for=203.0.113.9",
                     "X-Forwarded-For-Not: 203.0.113.9" }, "127.0.0.1" },
    { "IPv6 peer trusted",            { "::1" },
      "::1", { "X-Forwarded-For: 203.0.113.9" }, "203.0.113.9" },
    { "IPv6 peer untrusted",          { "127.0.0.1" },
      "::1", { "X-Forwarded-For: 203.0.113.9" }, "::1" },
    { "v4-mapped peer trusted as IPv4", { "127.0.0.1" },
      "::ffff:127.0.0.1", { "X-Forwarded-For: 203.0.113.9" }, "203.0.113.9" },
    { "v4-mapped peer logged as IPv4", { "10.0.0.0/8" },
      "::ffff:127.0.0.1", { "X-Forwarded-For: 203.0.113.9" }, "127.0.0.1" },
    { "v4-mapped element trusted",    { "127.0.0.1", "203.0.113.0/24" },
      "127.0.0.1", { "X-Forwarded-For: 198.51.100.1, ::ffff:203.0.113.9" }, "198.51.100.1" },
    { "very long element is junk",    { "127.0.0.1" },
      "127.0.0.1", { "X-Forwarded-For: 203.0.113.9, 1111:2222:3333:4444:5555:6666:7777:8888:9999" },
      "127.0.0.1" },
};
/* clang-format on */

/* A peer address from text. */
static void make_peer(const char *desc, const char *text, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(40000);
        check_int(desc, inet_pton(AF_INET6, text, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(40000);
        check_int(desc, inet_pton(AF_INET, text, &a->sin_addr), 1);
    }
}

/* The heap blocks a request's views point into; freed by free_fields. */
static char *owned[2 * MAX_LINES];
static size_t n_owned;

static struct ws_view owned_view(const char *s, size_t len)
{
    char *copy = exact_copy(s, len);
    owned[n_owned++] = copy;
    return (struct ws_view){ copy, len };
}

/*
 * A request whose header fields are "Name: value" strings; each name and value is
 * its own exact-size heap block, as the parser's views would point into the input,
 * so reading past a view is caught by AddressSanitizer.
 */
static void make_request(const char *const *fields, struct ws_request *req)
{
    memset(req, 0, sizeof(*req));
    for (size_t i = 0; i < MAX_LINES && fields[i] != NULL; i++) {
        const char *colon = strchr(fields[i], ':');
        const char *value = colon + 1;
        while (*value == ' ')
            value++;
        req->headers[i].name = owned_view(fields[i], (size_t)(colon - fields[i]));
        req->headers[i].value = owned_view(value, strlen(value));
        req->header_count++;
    }
}

static void free_fields(struct ws_request *req)
{
    (void)req;
    while (n_owned > 0)
        free(owned[--n_owned]);
}

static void test_forwarded_client(void **state)
{
    static struct ws_request req; /* big: not on the stack */

    for (size_t i = 0; i < ARRAY_LEN(fwd_cases); i++) {
        const struct fwd_case *c = &fwd_cases[i];
        struct ws_cidr trusted[4];
        size_t n = parse_blocks(c->desc, c->trusted, trusted);
        struct sockaddr_storage peer;
        char out[INET6_ADDRSTRLEN];

        make_peer(c->desc, c->peer, &peer);
        make_request(c->fields, &req);
        memset(out, 'X', sizeof(out));
        ws_forwarded_client(&req, trusted, n, (struct sockaddr *)&peer, out, sizeof(out));
        check_true(c->desc, memchr(out, '\0', sizeof(out)) != NULL);
        check_str(c->desc, out, c->want);
        free_fields(&req);
    }
}

/* No request (a parse error before the header was read): the peer. */
static void test_no_request(void **state)
{
    struct ws_cidr trusted;
    struct sockaddr_storage peer;
    char out[INET6_ADDRSTRLEN];

    assert_int_equal(ws_cidr_parse("127.0.0.1", &trusted), 0);
    make_peer("no request", "127.0.0.1", &peer);
    ws_forwarded_client(NULL, &trusted, 1, (struct sockaddr *)&peer, out, sizeof(out));
    assert_string_equal(out, "127.0.0.1");
}

/*
 * A Unix socket peer is "unix:", and trusted by a "unix" block alone; a peer of
 * another family (neither IPv4, IPv6 nor Unix) is "-", whatever is trusted.
 */
static void test_unix_peer(void **state)
{
    static struct ws_request req;
    static const char *const fields[] = { "X-Forwarded-For: 203.0.113.9", NULL };
    static const char *const unix_chain[] = { "X-Forwarded-For: 198.51.100.1, 127.0.0.1", NULL };
    struct ws_cidr trusted[2];
    struct sockaddr_un peer = { .sun_family = AF_UNIX };
    struct sockaddr other = { .sa_family = AF_PACKET };
    char out[INET6_ADDRSTRLEN];
    uint8_t none[16] = { 0 };

    assert_int_equal(ws_cidr_parse("0.0.0.0/0", &trusted[0]), 0);
    make_request(fields, &req);
    ws_forwarded_client(&req, trusted, 1, (struct sockaddr *)&peer, out, sizeof(out));
    assert_string_equal(out, "unix:");
    ws_forwarded_client(&req, trusted, 1, &other, out, sizeof(out));
    assert_string_equal(out, "-");
    ws_forwarded_client(NULL, trusted, 1, (struct sockaddr *)&peer, out, sizeof(out));
    assert_string_equal(out, "unix:");

    assert_int_equal(ws_cidr_parse("unix", &trusted[1]), 0);
    assert_int_equal(trusted[1].family, AF_UNIX);
    assert_int_equal(ws_cidr_parse("unix/8", &trusted[0]), -1);
    assert_int_equal(ws_cidr_parse("UNIX", &trusted[0]), -1);
    ws_forwarded_client(&req, &trusted[1], 1, (struct sockaddr *)&peer, out, sizeof(out));
    assert_string_equal(out, "203.0.113.9");
    /* No IP address is in the "unix" block: the walk stops at the first. */
    assert_int_equal(ws_cidr_match(&trusted[1], 1, AF_INET, none), 0);
    free_fields(&req);
    make_request(unix_chain, &req);
    ws_forwarded_client(&req, &trusted[1], 1, (struct sockaddr *)&peer, out, sizeof(out));
    assert_string_equal(out, "127.0.0.1");
    assert_int_equal(ws_cidr_parse("127.0.0.1", &trusted[0]), 0);
    ws_forwarded_client(&req, trusted, 2, (struct sockaddr *)&peer, out, sizeof(out));
    assert_string_equal(out, "198.51.100.1");
    free_fields(&req);
}

/* A small output buffer is filled, terminated and never overrun (ASan checks the block). */
static void test_small_buffer(void **state)
{
    static struct ws_request req;
    static const char *const fields[] = { "X-Forwarded-For: 2001:db8:1234:5678::abcd", NULL };
    struct ws_cidr trusted;
    struct sockaddr_storage peer;

    assert_int_equal(ws_cidr_parse("127.0.0.1", &trusted), 0);
    make_peer("small buffer", "127.0.0.1", &peer);
    make_request(fields, &req);
    for (size_t size = 1; size < 24; size++) {
        char *out = exact_alloc(size);
        ws_forwarded_client(&req, &trusted, 1, (struct sockaddr *)&peer, out, size);
        assert_non_null(memchr(out, '\0', size));
        assert_memory_equal(out, "2001:db8:1234:5678::abcd", strlen(out));
        free(out);
    }
    free_fields(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_parse),       cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_forwarded_client), cmocka_unit_test(test_no_request),
        cmocka_unit_test(test_unix_peer),        cmocka_unit_test(test_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
