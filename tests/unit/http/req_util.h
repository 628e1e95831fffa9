/*
 * req_util.h - a parsed request for the unit tests of modules that read one
 * (site, metrics): the text is copied into a buffer of exactly its size (so
 * ASan sees a read past it) and must parse as one whole header section.
 * Include after test_util.h and cmocka.h.
 */
#ifndef WS_TEST_REQ_UTIL_H
#define WS_TEST_REQ_UTIL_H

#include "http/request_parser.h"

#include <stdlib.h>
#include <string.h>

struct req_buf {
    char *raw;
    struct ws_request req;
};

/* Parses text into b (freeing what b held before); free(b->raw) when done. */
static inline const struct ws_request *parse(struct req_buf *b, const char *text)
{
    static const struct ws_parse_limits limits = { 8192, 16384, 100 };
    size_t len = strlen(text);

    free(b->raw);
    b->raw = exact_copy(text, len);
    assert_int_equal(ws_http_parse_request(b->raw, len, 0, &limits, &b->req), (int)len);
    return &b->req;
}

#endif
