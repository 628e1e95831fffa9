/*
 * http/test_negotiate.c - Accept-Encoding negotiation.
 *
 * Each row is a set of field lines; the test wraps them in a GET request and
 * parses it with ws_http_parse_request from an exactly-sized block, so the
 * views the negotiator reads end where the buffer ends (ASan catches any
 * over-read), and values arrive trimmed exactly as the server sees them.
 */
#include "test_util.h"

#include "http/request_parser.h"
#include "http/negotiate.h"

#include <stdio.h>

#define ID   WS_ENC_IDENTITY
#define GZ   WS_ENC_GZIP
#define BR   WS_ENC_BR
#define ALL  ((1u << WS_ENC_GZIP) | (1u << WS_ENC_BR))
#define GZO  (1u << WS_ENC_GZIP)
#define BRO  (1u << WS_ENC_BR)
#define ZS   WS_ENC_ZSTD
#define ZSO  (1u << WS_ENC_ZSTD)
#define OTF  ((1u << WS_ENC_GZIP) | (1u << WS_ENC_ZSTD)) /* what is compressed on the fly */
#define ALL3 ((1u << WS_ENC_GZIP) | (1u << WS_ENC_BR) | (1u << WS_ENC_ZSTD))
#define NONE 0u

#define AE(v) "Accept-Encoding: " v

struct neg_case {
    const char *desc;
    const char *fields; /* field lines separated by '\n', or "" */
    unsigned available;
    enum ws_encoding result;
};

/* clang-format off */
static const struct neg_case neg_cases[] = {
    /* description                                      fields                                            available result */
    { "no Accept-Encoding: identity only",              "",                                               ALL, ID },
    { "other fields only",                              "Accept: gzip\nTE: gzip",                         ALL, ID },
    { "empty value: no coding wanted",                  AE(""),                                           ALL, ID },
    { "only commas",                                    AE(",, ,"),                                       ALL, ID },
    { "gzip",                                           AE("gzip"),                                       ALL, GZ },
    { "br",                                             AE("br"),                                         ALL, BR },
    { "gzip, br: tie, br preferred",                    AE("gzip, br"),                                   ALL, BR },
    { "br, gzip: tie, br preferred",                    AE("br, gzip"),                                   ALL, BR },
    { "browser default",                                AE("gzip, deflate, br, zstd"),                    ALL, BR },
    { "curl --compressed",                              AE("deflate, gzip, br, zstd"),                    ALL, BR },
    { "only gzip available",                            AE("gzip, br"),                                   GZO, GZ },
    { "only br available",                              AE("gzip, br"),                                   BRO, BR },
    { "nothing available",                              AE("gzip, br"),                                   NONE, ID },
    { "br wanted, only gzip available",                 AE("br"),                                         GZO, ID },
    { "gzip wanted, only br available",                 AE("gzip"),                                       BRO, ID },
    { "empty elements and OWS",                         AE(" , gzip ,, \t,"),                             ALL, GZ },
    /* q-values */
    { "higher q wins: gzip",                            AE("br;q=0.5, gzip"),                             ALL, GZ },
    { "higher q wins: gzip 0.5 over br 0.4",            AE("gzip;q=0.5, br;q=0.4"),                       ALL, GZ },
    { "equal q: br",                                    AE("br;q=0.5, gzip;q=0.500"),                     ALL, BR },
    { "q=1.000 is 1",                                   AE("gzip;q=1.000, br;q=0.999"),                   ALL, GZ },
    { "q=1. is 1",                                      AE("br;q=1., gzip"),                              ALL, BR },
    { "q=0. is 0",                                      AE("gzip;q=0."),                                  ALL, ID },
    { "q=0.001 is acceptable",                          AE("gzip;q=0.001"),                               ALL, GZ },
    { "q=0 refuses",                                    AE("gzip;q=0"),                                   ALL, ID },
    { "q=0.000 refuses",                                AE("gzip;q=0.000"),                               ALL, ID },
    { "br refused, gzip taken",                         AE("br;q=0, gzip"),                               ALL, GZ },
    { "gzip 0.5, br 0",                                 AE("gzip;q=0.5, br;q=0"),                         ALL, GZ },
    { "Q in upper case",                                AE("gzip;Q=0.5, br;q=0.4"),                       ALL, GZ },
    { "OWS around the semicolon",                       AE("gzip ; q=0.5 , br\t;\tq=0.4"),                ALL, GZ },
    { "q=1.0001 (four decimals) ignored",               AE("gzip;q=1.0001"),                              ALL, ID },
    { "q=0.0001 ignored",                               AE("gzip;q=0.0001"),                              ALL, ID },
    { "q=abc ignored",                                  AE("gzip;q=abc"),                                 ALL, ID },
    { "q=1.5 ignored",                                  AE("gzip;q=1.5"),                                 ALL, ID },
    { "q=1.001 ignored",                                AE("gzip;q=1.001"),                               ALL, ID },
    { "q=2 ignored",                                    AE("gzip;q=2"),                                   ALL, ID },
    { "q=-1 ignored",                                   AE("gzip;q=-1"),                                  ALL, ID },
    { "q=.5 ignored",                                   AE("gzip;q=.5"),                                  ALL, ID },
    { "q= ignored",                                     AE("gzip;q="),                                    ALL, ID },
    { "q=0,5 is q=0 and a coding named 5",              AE("gzip;q=0,5"),                                 ALL, ID },
    { "quoted q ignored",                               AE("gzip;q=\"1\""),                               ALL, ID },
    { "space around = ignored",                         AE("gzip;q = 0.5"),                               ALL, ID },
    { "q twice ignored",                                AE("gzip;q=0.5;q=0.6"),                           ALL, ID },
    { "other parameter ignored",                        AE("gzip;level=9"),                               ALL, ID },
    { "trailing semicolon ignored",                     AE("gzip;"),                                      ALL, ID },
    { "malformed element does not spoil others",        AE("br;q=abc, gzip;q=0.3"),                       ALL, GZ },
    { "malformed explicit entry leaves * in force",     AE("br;q=abc, *;q=0.1"),                          BRO, BR },
    /* "*" */
    { "* takes br",                                     AE("*"),                                          ALL, BR },
    { "* takes gzip when only gzip exists",             AE("*"),                                          GZO, GZ },
    { "*;q=0 refuses all",                              AE("*;q=0"),                                      ALL, ID },
    { "*;q=0 with explicit gzip",                       AE("*;q=0, gzip"),                                ALL, GZ },
    { "explicit gzip before *;q=0",                     AE("gzip, *;q=0"),                                ALL, GZ },
    { "explicit gzip;q=0 overrides *",                  AE("*, gzip;q=0"),                                GZO, ID },
    { "explicit gzip;q=0, * gives br",                  AE("gzip;q=0, *"),                                ALL, BR },
    { "* weight lower than explicit gzip",              AE("gzip;q=0.6, *;q=0.5"),                        ALL, GZ },
    { "* weight higher than explicit gzip",             AE("gzip;q=0.4, *;q=0.5"),                        ALL, BR },
    /* identity */
    { "identity;q=0 and nothing else: identity anyway", AE("identity;q=0"),                               ALL, ID },
    { "*;q=0, identity;q=0: identity anyway",           AE("*;q=0, identity;q=0"),                        ALL, ID },
    { "identity;q=0, gzip",                             AE("identity;q=0, gzip"),                         ALL, GZ },
    { "identity alone",                                 AE("identity"),                                   ALL, ID },
    { "identity preferred over gzip",                   AE("identity, gzip;q=0.5"),                       ALL, ID },
    { "identity ties with gzip: gzip",                  AE("identity;q=0.5, gzip;q=0.5"),                 ALL, GZ },
    { "unnamed identity does not compete",              AE("gzip;q=0.5"),                                 ALL, GZ },
    { "identity through * beats gzip 0.5",              AE("*;q=0.8, gzip;q=0.5"),                        GZO, ID },
    { "* also gives br 0.8, which wins the tie",        AE("*;q=0.8, gzip;q=0.5"),                        ALL, BR },
    /* names */
    { "GZIP in upper case",                             AE("GZIP"),                                       ALL, GZ },
    { "Br in mixed case",                               AE("Br"),                                         ALL, BR },
    { "x-gzip",                                         AE("x-gzip"),                                     ALL, GZ },
    { "X-GZIP",                                         AE("X-GZIP"),                                     GZO, GZ },
    { "x-gzip;q=0 refuses gzip",                        AE("x-gzip;q=0"),                                 GZO, ID },
    { "IDENTITY;Q=0 in upper case, gzip",               AE("IDENTITY;Q=0, gzip"),                         GZO, GZ },
    { "unknown codings only",                           AE("deflate, compress, zstd"),                    ALL, ID },
    { "gzipx is not gzip",                              AE("gzipx"),                                      ALL, ID },
    { "gzi is not gzip",                                AE("gzi"),                                        ALL, ID },
    { "brotli is not br",                               AE("brotli"),                                     ALL, ID },
    { "x-br is not br",                                 AE("x-br"),                                       ALL, ID },
    { "gzip inside a quoted string is nothing",         AE("\"gzip\""),                                   ALL, ID },
    { "field name in lower case",                       "accept-encoding: gzip",                          ALL, GZ },
    { "field name in upper case",                       "ACCEPT-ENCODING: br",                            ALL, BR },
    /* several lines, several mentions */
    { "two lines: gzip and br weights",                 AE("gzip;q=0.1") "\n" AE("br;q=0.2"),             ALL, BR },
    { "two lines: deflate, then gzip",                  AE("deflate") "\n" AE("gzip"),                    ALL, GZ },
    { "empty line, then gzip",                          AE("") "\n" AE("gzip"),                           ALL, GZ },
    { "gzip, then gzip;q=0 on a second line",           AE("gzip") "\n" AE("gzip;q=0"),                   ALL, ID },
    { "x-gzip;q=0, then gzip",                          AE("x-gzip;q=0") "\n" AE("gzip"),                 ALL, ID },
    { "*;q=0 on the second line, gzip on the first",    AE("gzip") "\n" AE("*;q=0"),                      ALL, GZ },
    { "gzip twice: the lower weight counts",            AE("gzip;q=0.5, gzip"),                           GZO, GZ },
    { "br named twice, lower weight loses to gzip",     AE("br;q=0.6, gzip;q=0.5, br;q=0.4"),             ALL, GZ },
    /* zstd */
    { "zstd",                                           AE("zstd"),                                       ALL3, ZS },
    { "ZSTD in upper case",                             AE("ZSTD"),                                       OTF, ZS },
    { "zstd unavailable",                               AE("zstd"),                                       ALL, ID },
    { "zstd, gzip: tie, zstd preferred",                AE("gzip, zstd"),                                 OTF, ZS },
    { "br, zstd: tie, br preferred",                    AE("zstd, br"),                                   ALL3, BR },
    { "browser default, on the fly",                    AE("gzip, deflate, br, zstd"),                    OTF, ZS },
    { "gzip weighed above zstd",                        AE("zstd;q=0.5, gzip;q=0.6"),                     OTF, GZ },
    { "zstd weighed above br",                          AE("br;q=0.5, zstd"),                             ALL3, ZS },
    { "zstd;q=0 refuses zstd",                          AE("zstd;q=0, gzip"),                             OTF, GZ },
    { "zstd;q=0 alone",                                 AE("zstd;q=0"),                                   ZSO, ID },
    { "* takes zstd over gzip",                         AE("*"),                                          OTF, ZS },
    { "* with zstd;q=0 gives gzip",                     AE("*, zstd;q=0"),                                OTF, GZ },
    { "*;q=0 with explicit zstd",                       AE("*;q=0, zstd;q=0.1"),                          OTF, ZS },
    { "zstdx is not zstd",                              AE("zstdx"),                                      OTF, ID },
    { "x-zstd is not zstd",                             AE("x-zstd"),                                     OTF, ID },
    { "other fields around",                            "Accept: */*\n" AE("br") "\nUser-Agent: x",       ALL, BR },
};
/* clang-format on */

static enum ws_encoding negotiate(const char *desc, const char *fields, unsigned available)
{
    static const struct ws_parse_limits limits = { 8192, 16384, 100 };
    struct ws_request *req = malloc(sizeof(*req));
    char raw[2048], *copy;
    size_t w = 0;
    enum ws_encoding enc;
    int rc;

    assert_non_null(req);
    w += (size_t)snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: h\r\n");
    for (const char *p = fields; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        memcpy(raw + w, p, n);
        w += n;
        memcpy(raw + w, "\r\n", 2);
        w += 2;
        p += n + (p[n] == '\n');
    }
    memcpy(raw + w, "\r\n", 2);
    w += 2;
    copy = exact_copy(raw, w);
    rc = ws_http_parse_request(copy, w, 0, &limits, req);
    check_int(desc, rc, (int)w);
    enc = ws_negotiate_encoding(req, available);
    free(copy);
    free(req);
    return enc;
}

static void test_negotiate_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(neg_cases); i++) {
        const struct neg_case *c = &neg_cases[i];
        check_int(c->desc, negotiate(c->desc, c->fields, c->available), c->result);
    }
}

/* Every qvalue the grammar allows parses to its weight: 0.000 to 1.000 in steps of 0.001. */
static void test_negotiate_every_qvalue(void **state)
{
    for (int q = 0; q <= 1000; q++) {
        char fields[128], desc[64];
        /* gzip gets q, br gets q - 1 thousandth (clamped): gzip must win when q > 0. */
        snprintf(fields, sizeof(fields), AE("br;q=%d.%03d, gzip;q=%d.%03d"), (q ? q - 1 : 0) / 1000,
                 (q ? q - 1 : 0) % 1000, q / 1000, q % 1000);
        snprintf(desc, sizeof(desc), "q=%d/1000", q);
        check_int(desc, negotiate(desc, fields, ALL), q == 0 ? ID : GZ);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiate_table),
        cmocka_unit_test(test_negotiate_every_qvalue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
