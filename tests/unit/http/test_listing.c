/*
 * http/test_listing.c - the directory listing page.
 *
 * A file name is attacker-controlled text (anyone who can upload can choose
 * it), so besides the table of expected rows a generated test feeds random
 * byte strings as names and checks the two properties that matter: the text
 * contains no markup, and the href is a relative path of safe characters that
 * percent-decodes back to exactly the name.
 */
#include "test_util.h"

#include "http/listing.h"

#include <stdio.h>

#define KIB 1024ULL
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)

/* Builds a page, checks its length and terminator, and returns it. */
static char *page_of(const char *url_path, struct ws_listing_entry *e, size_t n)
{
    size_t len = 0;
    char *page = ws_listing_html(url_path, e, n, &len);

    assert_non_null(page);
    assert_int_equal(strlen(page), len);
    return page;
}

/* The page's first entry row other than "../" (without its newline), in out. */
static void first_row(const char *page, char *out, size_t size)
{
    const char *p = strstr(page, "<tr><td><a href=\"");
    size_t n;

    assert_non_null(p);
    if (strncmp(p, "<tr><td><a href=\"../\"", 21) == 0)
        p = strstr(p + 1, "<tr><td><a href=\"");
    assert_non_null(p);
    n = strcspn(p, "\n");
    assert_true(n < size);
    memcpy(out, p, n);
    out[n] = '\0';
}

struct row_case {
    const char *desc;
    const char *name;
    int is_dir;
    uint64_t size;
    long long mtime;
    const char *row;
};

/* clang-format off */
#define ROW(href, text, size, date) "<tr><td><a href=\"" href "\">" text "</a></td><td class=\"s\">" size "</td><td>" date "</td></tr>"
#define EPOCH "1970-01-01 00:00"
#define FFFD "\xef\xbf\xbd"

static const struct row_case row_cases[] = {
    /* description                              name                      dir size              mtime              row */
    { "plain file",                             "a.txt",                  0, 5,                 0,                 ROW("a.txt", "a.txt", "5 B", EPOCH) },
    { "directory: slash, no size",              "docs",                   1, 4096,              0,                 ROW("docs/", "docs/", "-", EPOCH) },
    { "HTML and URL specials",                  "a\"b<c>&d e%f",          0, 0,                 0,                 ROW("a%22b%3Cc%3E&amp;d%20e%25f", "a&quot;b&lt;c&gt;&amp;d e%f", "0 B", EPOCH) },
    { "apostrophe",                             "it's",                   0, 0,                 0,                 ROW("it&#39;s", "it&#39;s", "0 B", EPOCH) },
    { "script tag",                             "<script>alert(1)</script>", 0, 0,              0,                 ROW("%3Cscript%3Ealert(1)%3C%2Fscript%3E", "&lt;script&gt;alert(1)&lt;/script&gt;", "0 B", EPOCH) },
    { "attribute break-out",                    "\" onclick=\"x",         0, 0,                 0,                 ROW("%22%20onclick=%22x", "&quot; onclick=&quot;x", "0 B", EPOCH) },
    { "javascript: is no scheme",               "javascript:alert(1)",    0, 0,                 0,                 ROW("javascript%3Aalert(1)", "javascript:alert(1)", "0 B", EPOCH) },
    { "JavaScript: as a directory",             "JavaScript:x",           1, 0,                 0,                 ROW("JavaScript%3Ax/", "JavaScript:x/", "-", EPOCH) },
    { "data: URL",                              "data:text/html,x",       0, 0,                 0,                 ROW("data%3Atext%2Fhtml,x", "data:text/html,x", "0 B", EPOCH) },
    { "// cannot reach another host",           "//evil.example",         0, 0,                 0,                 ROW("%2F%2Fevil.example", "//evil.example", "0 B", EPOCH) },
    { "http:// cannot reach another host",      "http://evil.example",    0, 0,                 0,                 ROW("http%3A%2F%2Fevil.example", "http://evil.example", "0 B", EPOCH) },
    { "backslashes",                            "\\\\evil",               0, 0,                 0,                 ROW("%5C%5Cevil", "\\\\evil", "0 B", EPOCH) },
    { "query and fragment characters",          "a?b#c",                  0, 0,                 0,                 ROW("a%3Fb%23c", "a?b#c", "0 B", EPOCH) },
    { "sub-delims, @ and unreserved pass",      "a-._~!$()*+,;=@z",       0, 0,                 0,                 ROW("a-._~!$()*+,;=@z", "a-._~!$()*+,;=@z", "0 B", EPOCH) },
    { "UTF-8 name",                             "caf\xc3\xa9",            0, 0,                 0,                 ROW("caf%C3%A9", "caf\xc3\xa9", "0 B", EPOCH) },
    { "4-byte UTF-8 and the last code point",   "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 0, 0,   0,                 ROW("%F0%9F%98%80%F4%8F%BF%BF", "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", "0 B", EPOCH) },
    { "Latin-1 byte: U+FFFD shown, byte linked", "caf\xe9",               0, 0,                 0,                 ROW("caf%E9", "caf" FFFD, "0 B", EPOCH) },
    { "overlong slash",                         "a\xc0\xaf" "b",             0, 0,                 0,                 ROW("a%C0%AFb", "a" FFFD FFFD "b", "0 B", EPOCH) },
    { "overlong 3-byte",                        "\xe0\x80\xaf",           0, 0,                 0,                 ROW("%E0%80%AF", FFFD FFFD FFFD, "0 B", EPOCH) },
    { "surrogate",                              "\xed\xa0\x80",           0, 0,                 0,                 ROW("%ED%A0%80", FFFD FFFD FFFD, "0 B", EPOCH) },
    { "past U+10FFFF",                          "\xf4\x90\x80\x80",       0, 0,                 0,                 ROW("%F4%90%80%80", FFFD FFFD FFFD FFFD, "0 B", EPOCH) },
    { "sequence cut short at the end",          "ab\xe6\x96",             0, 0,                 0,                 ROW("ab%E6%96", "ab" FFFD FFFD, "0 B", EPOCH) },
    { "lone continuation byte",                 "\x80x",                  0, 0,                 0,                 ROW("%80x", FFFD "x", "0 B", EPOCH) },
    { "control bytes",                          "a\nb\x01\x7f",           0, 0,                 0,                 ROW("a%0Ab%01%7F", "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd", "0 B", EPOCH) },
    { "leading dot",                            ".hidden",                0, 0,                 0,                 ROW(".hidden", ".hidden", "0 B", EPOCH) },
    { "three dots",                             "...",                    1, 0,                 0,                 ROW(".../", ".../", "-", EPOCH) },
    /* sizes */
    { "1023 B",                                 "s",                      0, 1023,              0,                 ROW("s", "s", "1023 B", EPOCH) },
    { "1 KiB",                                  "s",                      0, KIB,               0,                 ROW("s", "s", "1.0 KiB", EPOCH) },
    { "1.5 KiB",                                "s",                      0, 1536,              0,                 ROW("s", "s", "1.5 KiB", EPOCH) },
    { "1.04 KiB rounds down",                   "s",                      0, 1065,              0,                 ROW("s", "s", "1.0 KiB", EPOCH) },
    { "1.05 KiB rounds up",                     "s",                      0, 1076,              0,                 ROW("s", "s", "1.1 KiB", EPOCH) },
    { "1.96 KiB rounds to 2.0",                 "s",                      0, 2007,              0,                 ROW("s", "s", "2.0 KiB", EPOCH) },
    { "just under 1 MiB says 1.0 MiB",          "s",                      0, MIB - 1,           0,                 ROW("s", "s", "1.0 MiB", EPOCH) },
    { "1023.9 KiB",                             "s",                      0, MIB - 150,         0,                 ROW("s", "s", "1023.9 KiB", EPOCH) },
    { "1 MiB",                                  "s",                      0, MIB,               0,                 ROW("s", "s", "1.0 MiB", EPOCH) },
    { "700 MiB",                                "s",                      0, 700 * MIB,         0,                 ROW("s", "s", "700.0 MiB", EPOCH) },
    { "just under 1 GiB says 1.0 GiB",          "s",                      0, GIB - 1,           0,                 ROW("s", "s", "1.0 GiB", EPOCH) },
    { "4.7 GiB",                                "s",                      0, 5046586573ULL,     0,                 ROW("s", "s", "4.7 GiB", EPOCH) },
    { "1 TiB stays in GiB",                     "s",                      0, 1024 * GIB,        0,                 ROW("s", "s", "1024.0 GiB", EPOCH) },
    { "UINT64_MAX",                             "s",                      0, UINT64_MAX,        0,                 ROW("s", "s", "17179869184.0 GiB", EPOCH) },
    /* dates (UTC) */
    { "a date",                                 "d",                      0, 0,                 1795658639,        ROW("d", "d", "0 B", "2026-11-26 02:03") },
    { "before the epoch",                       "d",                      0, 0,                 -1,                ROW("d", "d", "0 B", "1969-12-31 23:59") },
    { "leap day",                               "d",                      0, 0,                 951825600,         ROW("d", "d", "0 B", "2000-02-29 12:00") },
    { "far future clamps",                      "d",                      0, 0,                 INT64_MAX,         ROW("d", "d", "0 B", "9999-12-31 23:59") },
    { "far past clamps",                        "d",                      0, 0,                 INT64_MIN,         ROW("d", "d", "0 B", "0000-01-01 00:00") },
};
/* clang-format on */

static void test_listing_rows(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(row_cases); i++) {
        const struct row_case *c = &row_cases[i];
        size_t len = strlen(c->name);
        /* The name in an exactly-sized block with its NUL: nothing past it is read. */
        char *name = exact_copy(c->name, len + 1);
        struct ws_listing_entry e = { name, c->is_dir, c->size, (time_t)c->mtime, 0, 0 };
        char *page = page_of("/", &e, 1), row[1024];

        first_row(page, row, sizeof(row));
        check_str(c->desc, row, c->row);
        free(page);
        free(name);
    }
}

/* The whole page for a small directory, to pin its structure. */
static void test_listing_page(void **state)
{
    static const char want[] =
        "<!DOCTYPE html>\n"
        "<html>\n"
        "<head>\n"
        "<meta charset=\"utf-8\">\n"
        "<title>Index of /docs/&lt;x&gt;/</title>\n"
        "<style>td{padding:0 1em 0 0}td.s{text-align:right}</style>\n"
        "</head>\n"
        "<body>\n"
        "<h1>Index of /docs/&lt;x&gt;/</h1>\n"
        "<table>\n"
        "<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n"
        "<tr><td><a href=\"../\">../</a></td><td class=\"s\">-</td><td></td></tr>\n"
        "<tr><td><a href=\"sub/\">sub/</a></td><td class=\"s\">-</td><td>1970-01-02 00:00</td></tr>\n"
        "<tr><td><a href=\"a.txt\">a.txt</a></td><td class=\"s\">0 B</td><td>1970-01-01 "
        "00:00</td></tr>\n"
        "<tr><td><a href=\"zeta.txt\">zeta.txt</a></td><td class=\"s\">1.5 KiB</td><td>2026-11-26 "
        "02:03</td></tr>\n"
        "</table>\n"
        "</body>\n"
        "</html>\n";
    struct ws_listing_entry e[] = {
        { "zeta.txt", 0, 1536, 1795658639, 0, 0 },
        { "a.txt", 0, 0, 0, 0, 0 },
        { "..", 1, 0, 0, 0, 0 },
        { "sub", 1, 0, 86400, 0, 0 },
        { ".", 1, 0, 0, 0, 0 },
    };
    size_t len = 0;
    char *page = ws_listing_html("/docs/<x>/", e, ARRAY_LEN(e), &len);

    assert_non_null(page);
    check_mem("page", page, len, want);
    free(page);
}

/* "../" for every directory but the root; "." and ".." entries never listed. */
static void test_listing_parent(void **state)
{
    struct ws_listing_entry e[] = { { "..", 1, 0, 0, 0, 0 },
                                    { ".", 1, 0, 0, 0, 0 },
                                    { "f", 0, 1, 0, 0, 0 } };
    char *root = page_of("/", e, ARRAY_LEN(e));
    char *sub = page_of("/a/", e, ARRAY_LEN(e));
    char *empty = page_of("/a/", NULL, 0);

    check_true("root has no ../", strstr(root, "href=\"../\"") == NULL);
    check_true("root lists f", strstr(root, "href=\"f\"") != NULL);
    check_true("no ./ entry", strstr(root, "href=\"./\"") == NULL);
    check_true("subdirectory has ../", strstr(sub, "href=\"../\"") != NULL);
    check_true("only one ../", strstr(strstr(sub, "href=\"../\"") + 1, "href=\"../\"") == NULL);
    check_true("empty directory has ../", strstr(empty, "href=\"../\"") != NULL);
    check_true("empty directory lists nothing else", strstr(empty, "</tr>\n</table>") != NULL);
    free(root);
    free(sub);
    free(empty);
}

/* Directories first, then byte order (upper case before lower, UTF-8 last); sorted in place. */
static void test_listing_order(void **state)
{
    static const char *const want[] = { "B/", "a/", "z/", "A", "Z", "a", "a.txt", "b", "\xc3\xa9" };
    struct ws_listing_entry e[] = {
        { "b", 0, 0, 0, 0, 0 },     { "\xc3\xa9", 0, 0, 0, 0, 0 }, { "z", 1, 0, 0, 0, 0 },
        { "a.txt", 0, 0, 0, 0, 0 }, { "a", 1, 0, 0, 0, 0 },        { "A", 0, 0, 0, 0, 0 },
        { "Z", 0, 0, 0, 0, 0 },     { "B", 1, 0, 0, 0, 0 },        { "a", 0, 0, 0, 0, 0 },
    };
    char *page = page_of("/", e, ARRAY_LEN(e));
    const char *p = page;

    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "\">%s</a>", want[i]);
        p = strstr(p, needle);
        check_true(want[i], p != NULL);
        if (p == NULL)
            break;
    }
    for (size_t i = 0; i + 1 < ARRAY_LEN(e); i++)
        check_true("sorted in place",
                   (e[i].is_dir && !e[i + 1].is_dir) ||
                       (e[i].is_dir == e[i + 1].is_dir && strcmp(e[i].name, e[i + 1].name) <= 0));
    free(page);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lower-case hex is not what we write */
}

/*
 * Random names of any bytes but NUL (with '/' too, which a directory cannot
 * hold but a careless caller might pass): the href percent-decodes to exactly
 * the name, holds only safe characters, and the text holds no markup.
 */
static void test_listing_random_names(void **state)
{
    static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                               "-._~!$()*+,;=@%&#";
    uint64_t seed = 3;

    for (int iter = 0; iter < 5000; iter++) {
        char name[40], decoded[40], row[1024], desc[160];
        size_t n = 1 + test_rand(&seed) % 30, d = 0;
        struct ws_listing_entry e;
        const char *href, *text, *end;
        char *page;

        for (size_t k = 0; k < n; k++) {
            uint64_t r = test_rand(&seed);
            /* Mostly the interesting ASCII punctuation, sometimes any byte. */
            name[k] = r % 3 ? "/:\"'<>&%# ?\\.a"[r / 3 % 14] : (char)(1 + r / 3 % 255);
        }
        name[n] = '\0';
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        printable(name, n, desc, sizeof(desc));
        e.name = name;
        e.is_dir = (int)(test_rand(&seed) % 2);
        e.size = 0;
        e.mtime = 0;
        page = page_of("/x/", &e, 1);
        first_row(page, row, sizeof(row));
        href = row + strlen("<tr><td><a href=\"");
        end = strchr(href, '"');
        check_true(desc, end != NULL);
        text = end + 2;
        /* The href: safe characters only; '&' only as "&amp;", '\'' as "&#39;". */
        for (const char *p = href; p < end - (e.is_dir ? 1 : 0); p++) {
            check_true(desc, strchr(safe, *p) != NULL);
            if (*p == '&') {
                if (strncmp(p, "&amp;", 5) == 0) {
                    decoded[d++] = '&';
                    p += 4;
                } else {
                    check_true(desc, strncmp(p, "&#39;", 5) == 0);
                    decoded[d++] = '\'';
                    p += 4;
                }
            } else if (*p == '%') {
                int hi = hexval(p[1]), lo = hexval(p[2]);
                check_true(desc, hi >= 0 && lo >= 0);
                decoded[d++] = (char)(hi * 16 + lo);
                p += 2;
            } else {
                check_true(desc, *p != '#' && *p != ':' && *p != '/');
                decoded[d++] = *p;
            }
        }
        if (e.is_dir)
            check_true(desc, end[-1] == '/');
        check_mem(desc, decoded, d, name);
        /* The text: no markup characters at all until the closing tag. */
        end = strstr(text, "</a>");
        check_true(desc, end != NULL);
        for (const char *p = text; p < end; p++)
            check_true(desc, *p != '<' && *p != '>' && *p != '"' && *p != '\'' &&
                                 (unsigned char)*p >= 0x20 && *p != 0x7f);
        free(page);
    }
}

/* A large directory: the page grows as needed and every entry appears once. */
static void test_listing_large(void **state)
{
    enum { N = 20000 };
    struct ws_listing_entry *e = calloc(N, sizeof(*e));
    char(*names)[16] = calloc(N, sizeof(*names));
    char *page;
    size_t rows = 0;

    assert_non_null(e);
    assert_non_null(names);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "f%05d", N - 1 - i);
        e[i].name = names[i];
        e[i].size = (uint64_t)i * 1000;
    }
    page = page_of("/big/", e, N);
    /* One pass by lines: strstr in a loop is quadratic under ASan, which measures the haystack. */
    for (const char *p = page; *p != '\0'; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != '\0'))
        rows += strncmp(p, "<tr><td><a href=\"f", 18) == 0;
    check_int("rows", rows, N);
    check_true("first", strstr(page, "href=\"f00000\"") < strstr(page, "href=\"f00001\""));
    check_true("last", strstr(page, "href=\"f19999\"") != NULL);
    free(page);
    free(names);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listing_rows),         cmocka_unit_test(test_listing_page),
        cmocka_unit_test(test_listing_parent),       cmocka_unit_test(test_listing_order),
        cmocka_unit_test(test_listing_random_names), cmocka_unit_test(test_listing_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
