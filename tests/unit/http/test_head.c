/*
 * http/test_head.c - reason phrases, built-in pages and response heads.
 */
#include "test_util.h"

#include "http/head.h"

#include <stdio.h>

#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"

struct reason_case {
    int status;
    const char *reason;
};

/* clang-format off */
static const struct reason_case reason_cases[] = {
    { 100, "Continue" },          { 200, "OK" },                   { 206, "Partial Content" },
    { 301, "Moved Permanently" }, { 304, "Not Modified" },         { 400, "Bad Request" },
    { 403, "Forbidden" },         { 404, "Not Found" },            { 405, "Method Not Allowed" },
    { 408, "Request Timeout" },   { 412, "Precondition Failed" },  { 413, "Content Too Large" },
    { 414, "URI Too Long" },      { 416, "Range Not Satisfiable" }, { 417, "Expectation Failed" },
    { 431, "Request Header Fields Too Large" },                    { 500, "Internal Server Error" },
    { 501, "Not Implemented" },   { 503, "Service Unavailable" },  { 505, "HTTP Version Not Supported" },
    { 0, "Unknown" },             { 299, "Unknown" },              { -404, "Unknown" },
    { 1000, "Unknown" },
};
/* clang-format on */

static void test_status_reason(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(reason_cases); i++) {
        char desc[16];
        snprintf(desc, sizeof(desc), "%d", reason_cases[i].status);
        check_str(desc, ws_status_reason(reason_cases[i].status), reason_cases[i].reason);
    }
}

/* Every status the server sends has a page naming it, and sizes are exact. */
static void test_error_page(void **state)
{
    static const int statuses[] = { 301, 400, 403, 404, 405, 408, 413, 414,
                                    417, 431, 500, 501, 503, 505, 299 };
    for (size_t i = 0; i < ARRAY_LEN(statuses); i++) {
        char page[2048], want[128], desc[16];
        int status = statuses[i];
        size_t n = ws_error_page(status, NULL, page, sizeof(page));

        snprintf(desc, sizeof(desc), "%d", status);
        check_true(desc, n > 0 && n == strlen(page));
        snprintf(want, sizeof(want), "<title>%d %s</title>", status, ws_status_reason(status));
        check_true(desc, strstr(page, want) != NULL);
        snprintf(want, sizeof(want), "<h1>%d %s</h1>", status, ws_status_reason(status));
        check_true(desc, strstr(page, want) != NULL);
        check_true(desc, strncmp(page, "<!DOCTYPE html>", 15) == 0);
        check_true(desc, page[n - 1] == '\n');

        /* Exactly enough room (the page plus its NUL) works; one byte less gives 0. */
        for (size_t size = n - 3; size <= n + 1; size++) {
            char *out = exact_alloc(size);
            size_t m = ws_error_page(status, NULL, out, size);
            check_int(desc, m, size > n ? n : 0);
            if (m > 0)
                check_str(desc, out, page);
            free(out);
        }
    }
}

static void test_error_page_redirect(void **state)
{
    char page[2048];
    size_t n = ws_error_page(301, "/docs/", page, sizeof(page));

    assert_true(n > 0);
    assert_non_null(strstr(page, "<title>301 Moved Permanently</title>"));
    assert_non_null(strstr(page, "<a href=\"/docs/\">"));

    /* Without a location a 301 page still names its status. */
    n = ws_error_page(301, NULL, page, sizeof(page));
    assert_true(n > 0);
    assert_non_null(strstr(page, "301 Moved Permanently"));
    assert_null(strstr(page, "href"));

    assert_int_equal(ws_error_page(404, NULL, page, 0), 0);
}

struct escape_case {
    const char *desc;
    const char *location;
    const char *href; /* the whole link as it must appear in the page */
};

/* clang-format off */
static const struct escape_case escape_cases[] = {
    { "plain location", "/d/?a=1", "<a href=\"/d/?a=1\">" },
    { "double quote", "/d/?q=\"x\"", "<a href=\"/d/?q=&quot;x&quot;\">" },
    { "less and greater than", "/d/?<script>", "<a href=\"/d/?&lt;script&gt;\">" },
    { "ampersand", "/d/?a=1&b=2", "<a href=\"/d/?a=1&amp;b=2\">" },
    { "single quote", "/d/?q='x'", "<a href=\"/d/?q=&#39;x&#39;\">" },
    { "an entity is escaped again", "/d/?&amp;", "<a href=\"/d/?&amp;amp;\">" },
    { "all five at once", "/d/?\"><img src=x onerror='a&b'>",
      "<a href=\"/d/?&quot;&gt;&lt;img src=x onerror=&#39;a&amp;b&#39;&gt;\">" },
};
/* clang-format on */

/*
 * The location holds the query as the client sent it: in the page it is
 * escaped, and however small the buffer, the page is either whole, or whole
 * without its link, or nothing; never a link cut inside an entity.
 */
static void test_error_page_redirect_escapes(void **state)
{
    char plain[2048];
    size_t plain_len = ws_error_page(301, NULL, plain, sizeof(plain));

    check_true("page without a link", plain_len > 0);
    for (size_t i = 0; i < ARRAY_LEN(escape_cases); i++) {
        const struct escape_case *c = &escape_cases[i];
        char page[2048];
        size_t n = ws_error_page(301, c->location, page, sizeof(page));

        check_true(c->desc, n > 0 && n == strlen(page));
        check_true(c->desc, strstr(page, c->href) != NULL);
        /* Outside the markup itself no <, >, " or ' is left unescaped. */
        check_true(c->desc, strstr(page, "<a href=\"") != NULL);
        check_true(c->desc,
                   strchr(strstr(page, "<a href=\"") + 9, '"') == strstr(page, "\">here</a>"));
        check_true(c->desc, strchr(page, '\'') == NULL);
        check_true(c->desc, strstr(page, "<script") == NULL && strstr(page, "<img") == NULL);

        for (size_t size = 0; size <= n + 1; size++) {
            char *out = exact_alloc(size);
            size_t m = ws_error_page(301, c->location, out, size);
            if (size > n) {
                check_int(c->desc, m, n);
                check_str(c->desc, out, page);
            } else if (size > plain_len) {
                check_int(c->desc, m, plain_len);
                check_str(c->desc, out, plain);
            } else {
                check_int(c->desc, m, 0);
            }
            free(out);
        }
    }
}

/* A Location as long as the server allows, all quotes: in the server's page buffer it has no link.
 */
static void test_error_page_redirect_too_long(void **state)
{
    char location[1025], page[1024];
    size_t n;

    memset(location, '"', sizeof(location) - 1);
    location[0] = '/';
    location[1] = '?';
    location[sizeof(location) - 1] = '\0';
    n = ws_error_page(301, location, page, sizeof(page));
    assert_true(n > 0 && n == strlen(page));
    assert_non_null(strstr(page, "301 Moved Permanently"));
    assert_null(strstr(page, "href"));
    assert_null(strstr(page, "&quot;"));
}

struct head_case {
    const char *desc;
    struct ws_head head;
    const char *want;
};

#define SERVER "Server: " WS_SERVER_NAME "\r\n"

/* clang-format off */
static const struct head_case head_cases[] = {
    { "minimal: no optional fields",
      { .status = 404, .date = DATE, .content_length = 0 },
      "HTTP/1.1 404 Not Found\r\n" SERVER "Date: " DATE "\r\nContent-Length: 0\r\n\r\n" },
    { "no Content-Length when it is -1 (a 304)",
      { .status = 304, .date = DATE, .content_length = -1, .etag = "\"1-2\"" },
      "HTTP/1.1 304 Not Modified\r\n" SERVER "Date: " DATE "\r\nETag: \"1-2\"\r\n\r\n" },
    { "every optional field, Connection: close",
      { .status = 200, .date = DATE, .content_type = "text/html; charset=utf-8", .content_length = 1234,
        .last_modified = "Sat, 01 Jan 2000 00:00:00 GMT", .location = "/x/", .allow = "GET, HEAD",
        .connection = 1, .content_range = "bytes 0-1233/5000", .content_encoding = "br",
        .etag = "\"4d2-1\"", .cache_control = "no-cache", .vary_accept_encoding = 1,
        .accept_ranges = 1 },
      "HTTP/1.1 200 OK\r\n" SERVER "Date: " DATE "\r\nContent-Type: text/html; charset=utf-8\r\n"
      "Content-Length: 1234\r\nContent-Range: bytes 0-1233/5000\r\nContent-Encoding: br\r\n"
      "Vary: Accept-Encoding\r\nETag: \"4d2-1\"\r\nLast-Modified: Sat, 01 Jan 2000 00:00:00 GMT\r\n"
      "Cache-Control: no-cache\r\nAccept-Ranges: bytes\r\nLocation: /x/\r\n"
      "Allow: GET, HEAD\r\nConnection: close\r\n\r\n" },
    { "Connection: keep-alive",
      { .status = 200, .date = DATE, .content_type = "text/plain", .content_length = 5, .connection = 2 },
      "HTTP/1.1 200 OK\r\n" SERVER "Date: " DATE "\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
      "Connection: keep-alive\r\n\r\n" },
    { "redirect",
      { .status = 301, .date = DATE, .content_type = "text/html", .content_length = 10, .location = "/dir/" },
      "HTTP/1.1 301 Moved Permanently\r\n" SERVER "Date: " DATE "\r\nContent-Type: text/html\r\n"
      "Content-Length: 10\r\nLocation: /dir/\r\n\r\n" },
    { "405 with Allow",
      { .status = 405, .date = DATE, .content_length = 0, .allow = "GET, HEAD", .connection = 1 },
      "HTTP/1.1 405 Method Not Allowed\r\n" SERVER "Date: " DATE "\r\nContent-Length: 0\r\n"
      "Allow: GET, HEAD\r\nConnection: close\r\n\r\n" },
    { "large Content-Length",
      { .status = 200, .date = DATE, .content_length = 1099511627776LL },
      "HTTP/1.1 200 OK\r\n" SERVER "Date: " DATE "\r\nContent-Length: 1099511627776\r\n\r\n" },
    { "unknown status",
      { .status = 299, .date = DATE, .content_length = 0 },
      "HTTP/1.1 299 Unknown\r\n" SERVER "Date: " DATE "\r\nContent-Length: 0\r\n\r\n" },
};
/* clang-format on */

static void test_head_format(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(head_cases); i++) {
        const struct head_case *c = &head_cases[i];
        size_t need = strlen(c->want);
        char big[1024];

        check_int(c->desc, ws_head_format(&c->head, big, sizeof(big)), need);
        check_str(c->desc, big, c->want);

        /* Every buffer too small for the head and its NUL gives 0, and no overrun. */
        for (size_t size = 0; size <= need + 1; size++) {
            char *out = exact_alloc(size);
            size_t n = ws_head_format(&c->head, out, size);
            check_int(c->desc, n, size > need ? need : 0);
            if (n > 0)
                check_str(c->desc, out, c->want);
            free(out);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_reason),
        cmocka_unit_test(test_error_page),
        cmocka_unit_test(test_error_page_redirect),
        cmocka_unit_test(test_error_page_redirect_escapes),
        cmocka_unit_test(test_error_page_redirect_too_long),
        cmocka_unit_test(test_head_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
