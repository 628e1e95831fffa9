/*
 * http/test_mime.c - media types by file name, and operator tables in
 * /etc/mime.types format.
 *
 * The table repeats every entry of src/mime.c on purpose: a type that is
 * dropped or changed there turns this test red, and is then a decision. The
 * map tests use text embedded here (a snippet of the real Debian file and its
 * odd corners), copied into exactly-sized blocks so ASan sees any over-read.
 */
#include "test_util.h"

#include "http/mime.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#define OCTET "application/octet-stream"

struct mime_case {
    const char *desc;
    const char *name;
    const char *type;
};

/* clang-format off */
static const struct mime_case mime_cases[] = {
    { "html",                               "index.html",          "text/html; charset=utf-8" },
    { "htm",                                "index.htm",           "text/html; charset=utf-8" },
    { "css",                                "site.css",            "text/css; charset=utf-8" },
    { "js",                                 "app.js",              "text/javascript; charset=utf-8" },
    { "mjs",                                "mod.mjs",             "text/javascript; charset=utf-8" },
    { "json",                               "data.json",           "application/json; charset=utf-8" },
    { "map",                                "app.js.map",          "application/json; charset=utf-8" },
    { "txt",                                "readme.txt",          "text/plain; charset=utf-8" },
    { "md",                                 "README.md",           "text/markdown; charset=utf-8" },
    { "csv",                                "table.csv",           "text/csv; charset=utf-8" },
    { "xml",                                "feed.xml",            "application/xml; charset=utf-8" },
    { "svg",                                "logo.svg",            "image/svg+xml; charset=utf-8" },
    { "png",                                "a.png",               "image/png" },
    { "jpg",                                "a.jpg",               "image/jpeg" },
    { "jpeg",                               "a.jpeg",              "image/jpeg" },
    { "gif",                                "a.gif",               "image/gif" },
    { "webp",                               "a.webp",              "image/webp" },
    { "avif",                               "a.avif",              "image/avif" },
    { "ico",                                "favicon.ico",         "image/vnd.microsoft.icon" },
    { "wasm",                               "m.wasm",              "application/wasm" },
    { "pdf",                                "doc.pdf",             "application/pdf" },
    { "zip",                                "a.zip",               "application/zip" },
    { "gz",                                 "a.tar.gz",            "application/gzip" },
    { "tar",                                "a.tar",               "application/x-tar" },
    { "mp3",                                "a.mp3",               "audio/mpeg" },
    { "ogg",                                "a.ogg",               "audio/ogg" },
    { "wav",                                "a.wav",               "audio/wav" },
    { "mp4",                                "a.mp4",               "video/mp4" },
    { "webm",                               "a.webm",              "video/webm" },
    { "woff",                               "f.woff",              "font/woff" },
    { "woff2",                              "f.woff2",             "font/woff2" },
    { "ttf",                                "f.ttf",               "font/ttf" },
    { "otf",                                "f.otf",               "font/otf" },
    { "upper case extension",               "A.HTML",              "text/html; charset=utf-8" },
    { "mixed case extension",               "x.HtMl",              "text/html; charset=utf-8" },
    { "in a directory",                     "a/b/c.css",           "text/css; charset=utf-8" },
    { "dotted directory, dotted file",      "v1.2/app.js",         "text/javascript; charset=utf-8" },
    { "only the last extension counts",     "a.html.txt",          "text/plain; charset=utf-8" },
    { "no extension",                       "Makefile",            OCTET },
    { "dot in the directory, not the file", "dir.d/file",          OCTET },
    { "dot in a deeper directory",          "a.html/b/c",          OCTET },
    { "trailing dot",                       "file.",               OCTET },
    { "trailing slash",                     "dir.html/",           OCTET },
    { "hidden file",                        ".bashrc",             OCTET },
    { "hidden file in a directory",         "home/.profile",       OCTET },
    { "hidden file named like a type",      ".html",               "text/html; charset=utf-8" },
    { "unknown extension",                  "a.exe",               OCTET },
    { "prefix of a known extension",        "a.ht",                OCTET },
    { "known extension as a prefix",        "a.htmlx",             OCTET },
    { "known extension as a suffix",        "a.xhtml",             OCTET },
    { "empty name",                         "",                    OCTET },
    { "just a dot",                         ".",                   OCTET },
    { "dot-dot",                            "..",                  OCTET },
};
/* clang-format on */

static void test_mime_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(mime_cases); i++) {
        const struct mime_case *c = &mime_cases[i];
        size_t len = strlen(c->name);
        char *name = exact_copy(c->name, len); /* no terminator: only len may be read */
        check_str(c->desc, ws_mime_type(name, len), c->type);
        free(name);
    }
}

/* Every type is found through an upper-case extension as well. */
static void test_mime_upper_case(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(mime_cases); i++) {
        const struct mime_case *c = &mime_cases[i];
        size_t len = strlen(c->name);
        char *name = exact_copy(c->name, len);
        for (size_t k = 0; k < len; k++)
            name[k] = (char)toupper((unsigned char)name[k]);
        check_str(c->desc, ws_mime_type(name, len), c->type);
        free(name);
    }
}

/* Only name[0..len) counts, whatever follows it. */
static void test_mime_length_bound(void **state)
{
    assert_string_equal(ws_mime_type("a.html", 4), OCTET); /* "a.ht" */
    assert_string_equal(ws_mime_type("a.css.gz", 5), "text/css; charset=utf-8");
    assert_string_equal(ws_mime_type("a.png", 0), OCTET);
}

/*
 * Lines as the media-types package writes them (tabs, types without
 * extensions, upper-case and dotted extensions), then an operator's additions.
 */
static const char sample[] =
    "###############################################################################\n"
    "#\n"
    "#  Media (MIME) types and the extensions that represent them.\n"
    "#\n"
    "###############################################################################\n"
    "\n"
    "application/1d-interleaved-parityfec\n"
    "application/3gppHal+json\n"
    "application/A2L\t\t\t\t\ta2l\n"
    "application/cwl+json\t\t\t\tcwl.json\n"
    "application/geopackage+sqlite3\t\t\tgpkg gpkg.tar\n"
    "application/json\t\t\t\tjson\n"
    "application/ld+json\t\t\t\tjsonld\n"
    "application/tei+xml\t\t\t\ttei teiCorpus\n"
    "application/vnd.apple.installer+xml\t\tmpkg\n"
    "application/vnd.ms-excel\t\t\txls xlb xlt\n"
    "application/x-eln\t\t\t\tELN\n"
    "image/svg+xml\t\t\t\t\tsvg svgz\n"
    "text/markdown\t\t\t\t\tmd markdown\n"
    "text/plain\t\t\t\t\tasc txt text pot brf srt\n"
    "text/x-c++src\t\t\t\t\tc++ cpp cxx cc\n"
    "video/mp4\t\t\t\t\tmp4 mpg4 m4v\n"
    "\n"
    "# local additions: a later line wins\n"
    "application/x-custom   cc   # the C++ line above loses 'cc'\n"
    "text/html;charset=iso-8859-1 html htm\n"
    "application/javascript js\n"
    "application/ecmascript es\n"
    "application/xml xsd\n"
    "TEXT/X-Shout SHOUT\n"
    "application/x-tar tar.gz\n";

/* Extensions in the sample: 38 named, "cc" twice. */
#define SAMPLE_SIZE 37

struct map_case {
    const char *desc;
    const char *name;
    const char *type;
};

/* clang-format off */
static const struct map_case map_cases[] = {
    { "plain entry",                          "data.xls",           "application/vnd.ms-excel" },
    { "second extension on a line",           "data.xlt",           "application/vnd.ms-excel" },
    { "first of many extensions",             "notes.asc",          "text/plain; charset=utf-8" },
    { "text type gets a charset",             "notes.srt",          "text/plain; charset=utf-8" },
    { "+json gets a charset",                 "doc.jsonld",         "application/ld+json; charset=utf-8" },
    { "+xml gets a charset",                  "a.mpkg",             "application/vnd.apple.installer+xml; charset=utf-8" },
    { "map overrides the built-in svg",       "logo.svgz",          "image/svg+xml; charset=utf-8" },
    { "application/json gets a charset",      "x.json",             "application/json; charset=utf-8" },
    { "application/javascript gets a charset", "x.js",              "application/javascript; charset=utf-8" },
    { "application/ecmascript gets a charset", "x.es",              "application/ecmascript; charset=utf-8" },
    { "application/xml gets a charset",       "x.xsd",              "application/xml; charset=utf-8" },
    { "type case kept, text found anyway",    "x.shout",            "TEXT/X-Shout; charset=utf-8" },
    { "binary type: no charset",              "film.m4v",           "video/mp4" },
    { "type with its own parameters kept",    "index.html",         "text/html;charset=iso-8859-1" },
    { "later line wins",                      "main.cc",            "application/x-custom" },
    { "earlier line keeps the rest",          "main.cpp",           "text/x-c++src; charset=utf-8" },
    { "upper-case extension in the file",     "a.teicorpus",        "application/tei+xml; charset=utf-8" },
    { "upper-case extension, upper-case name", "a.TEICORPUS",       "application/tei+xml; charset=utf-8" },
    { "ELN in the file, eln asked",           "a.eln",              "application/x-eln" },
    { "upper-case name",                      "A.XLS",              "application/vnd.ms-excel" },
    { "mixed-case name",                      "a.Cwl.JSON",         "application/cwl+json; charset=utf-8" },
    { "dotted extension wins over its tail",  "flow.cwl.json",      "application/cwl+json; charset=utf-8" },
    { "tail alone after a dotted miss",       "flow.other.json",    "application/json; charset=utf-8" },
    { "dotted extension, longest first",      "map.gpkg.tar",       "application/geopackage+sqlite3" },
    { "tar.gz from the map over built-in gz", "src.tar.gz",         "application/x-tar" },
    { "gz alone: built-in",                   "a.gz",               "application/gzip" },
    { "in a directory",                       "a/b.c/d.xls",        "application/vnd.ms-excel" },
    { "dot in the directory only",            "a.xls/b",            "application/octet-stream" },
    { "not in the map: built-in",             "a.png",              "image/png" },
    { "not in the map: built-in css",         "a.css",              "text/css; charset=utf-8" },
    { "in neither",                           "a.exe",              "application/octet-stream" },
    { "no extension",                         "Makefile",           "application/octet-stream" },
    { "hidden file named like an extension",  ".xls",               "application/vnd.ms-excel" },
    { "trailing dot",                         "a.xls.",             "application/octet-stream" },
    { "extension longer than any in the map", "a.xlsxlsxlsxlsxls",  "application/octet-stream" },
    { "prefix of an extension",               "a.xl",               "application/octet-stream" },
    { "extension as a prefix",                "a.xlsx",             "application/octet-stream" },
    { "a type line without extensions adds none", "a.3gpphal+json", "application/octet-stream" },
    { "c++ is a token",                       "x.c++",              "text/x-c++src; charset=utf-8" },
    { "empty name",                           "",                   "application/octet-stream" },
};
/* clang-format on */

static struct ws_mime_map *parse_exact(const char *text, size_t len, unsigned *bad_line)
{
    char *copy = exact_copy(text, len);
    struct ws_mime_map *map = ws_mime_map_parse(copy, len, bad_line);
    free(copy); /* the map must not keep pointers into the text */
    return map;
}

static void test_map_lookup(void **state)
{
    unsigned bad = 0;
    struct ws_mime_map *map = parse_exact(sample, LIT_LEN(sample), &bad);

    assert_non_null(map);
    check_int("sample size", ws_mime_map_size(map), SAMPLE_SIZE);
    for (size_t i = 0; i < ARRAY_LEN(map_cases); i++) {
        const struct map_case *c = &map_cases[i];
        size_t len = strlen(c->name);
        char *name = exact_copy(c->name, len);
        check_str(c->desc, ws_mime_lookup(map, name, len), c->type);
        free(name);
    }
    ws_mime_map_free(map);
}

/* Without a map (NULL or empty), lookups are exactly ws_mime_type. */
static void test_map_absent(void **state)
{
    struct ws_mime_map *empty = parse_exact("", 0, NULL);
    struct ws_mime_map *comments = parse_exact("# nothing\n\n  \t\n#\n", 17, NULL);

    assert_non_null(empty);
    assert_non_null(comments);
    check_int("empty text", ws_mime_map_size(empty), 0);
    check_int("comments only", ws_mime_map_size(comments), 0);
    check_int("NULL map", ws_mime_map_size(NULL), 0);
    for (size_t i = 0; i < ARRAY_LEN(mime_cases); i++) {
        const struct mime_case *c = &mime_cases[i];
        size_t len = strlen(c->name);
        check_str(c->desc, ws_mime_lookup(NULL, c->name, len), c->type);
        check_str(c->desc, ws_mime_lookup(empty, c->name, len), c->type);
        check_str(c->desc, ws_mime_lookup(comments, c->name, len), c->type);
    }
    ws_mime_map_free(empty);
    ws_mime_map_free(comments);
    ws_mime_map_free(NULL);
}

struct text_case {
    const char *desc;
    const char *text;
    size_t len;
    unsigned bad_line; /* 0: parses */
    size_t size;       /* extensions, when it parses */
};

/* clang-format off */
#define T(d, t, bad, n) { d, t, LIT_LEN(t), bad, n }

static const struct text_case text_cases[] = {
    T("one line",                                 "a/b x",                             0, 1),
    T("no final newline",                         "a/b x\nc/d y",                      0, 2),
    T("CRLF lines",                               "a/b x\r\nc/d y z\r\n",              0, 3),
    T("spaces and tabs mixed",                    " \t a/b \t x  \t y \t \n",          0, 2),
    T("type without extensions",                  "a/b\n",                             0, 0),
    T("comment after the extensions",             "a/b x # y z\n",                     0, 1),
    T("comment glued to an extension",            "a/b x#y\n",                         0, 1),
    T("comment glued to the type",                "a/b#x y\n",                         0, 0),
    T("indented comment",                         "   # a/b x\n",                      0, 0),
    T("same extension on one line twice",         "a/b x x\n",                         0, 1),
    T("same extension on two lines",              "a/b x\nc/d X\n",                    0, 1),
    T("parameter",                                "a/b;p=v x\n",                       0, 1),
    T("two parameters",                           "a/b;p=v;q=w x\n",                   0, 1),
    T("quoted parameter value",                   "a/b;p=\"v.w\" x\n",                 0, 1),
    T("empty text",                               "",                                  0, 0),
    T("only newlines",                            "\n\n\n",                            0, 0),
    T("tchar symbols",                            "a!$%&'*+.^_`|~-/b!$%&'*+.^_`|~- e!$%&'*+.^_`|~-\n", 0, 1), /* '#' would start a comment */
    T("type without a slash",                     "text x\n",                          1, 0),
    T("bad line counted past comments",           "# c\n\na/b x\nbad x\n",             4, 0),
    T("bad line counted with CRLF",               "a/b x\r\n\r\nbad\r\n",              3, 0),
    T("two slashes",                              "text/html/x y\n",                   1, 0),
    T("empty type",                               "/html y\n",                         1, 0),
    T("empty subtype",                            "text/ y\n",                         1, 0),
    T("slash only",                               "/ y\n",                             1, 0),
    T("space inside the type",                    "te xt/html y\n",                    1, 0),
    T("non-token byte in the type",               "text/ht@ml y\n",                    1, 0),
    T("high byte in the type",                    "text/h\xc3\xa9 y\n",                1, 0),
    T("NUL in the type",                          "text/h\0ml y\n",                    1, 0),
    T("NUL in an extension",                      "text/html h\0ml\n",                 1, 0),
    T("slash in an extension",                    "text/html a/b\n",                   1, 0),
    T("parenthesis in an extension",              "text/html (x)\n",                   1, 0),
    T("parameter without a value",                "a/b;p x\n",                         1, 0),
    T("parameter without a name",                 "a/b;=v x\n",                        1, 0),
    T("empty parameter",                          "a/b; x\n",                          1, 0),
    T("unterminated quoted value",                "a/b;p=\"v x\n",                     1, 0),
    T("parameter with an empty value",            "a/b;p= x\n",                        1, 0),
    T("bad line after good ones",                 "a/b x\nc/d y\ne f\n",               3, 0),
    T("first bad line is reported",               "e f\ng h\n",                        1, 0),
    T("control byte as a separator",              "a/b\x01x\n",                        1, 0),
};
/* clang-format on */

static void test_map_text(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(text_cases); i++) {
        const struct text_case *c = &text_cases[i];
        unsigned bad = 12345;
        struct ws_mime_map *map;

        errno = 0;
        map = parse_exact(c->text, c->len, &bad);
        if (c->bad_line == 0) {
            check_true(c->desc, map != NULL);
            check_int(c->desc, ws_mime_map_size(map), c->size);
            check_int(c->desc, bad, 12345); /* left alone */
        } else {
            check_true(c->desc, map == NULL);
            check_int(c->desc, errno, EINVAL);
            check_int(c->desc, bad, c->bad_line);
        }
        ws_mime_map_free(map);
    }
    /* bad_line may be NULL. */
    assert_null(ws_mime_map_parse("bad\n", 4, NULL));
}

/* The value a later line gives wins, whatever the order of the extensions. */
static void test_map_override_order(void **state)
{
    static const char text[] = "a/one x y z\n"
                               "a/two y\n"
                               "a/three z x\n"
                               "a/four X\n";
    struct ws_mime_map *map = parse_exact(text, LIT_LEN(text), NULL);

    assert_non_null(map);
    check_int("size", ws_mime_map_size(map), 3);
    check_str("x", ws_mime_lookup(map, "f.x", 3), "a/four");
    check_str("y", ws_mime_lookup(map, "f.y", 3), "a/two");
    check_str("z", ws_mime_lookup(map, "f.z", 3), "a/three");
    ws_mime_map_free(map);
}

/* A map of many extensions: every one is found (the binary search has no gaps). */
static void test_map_many(void **state)
{
    size_t cap = 4000 * 32, w = 0;
    char *text = malloc(cap);
    struct ws_mime_map *map;

    assert_non_null(text);
    for (int i = 0; i < 4000; i++)
        w += (size_t)snprintf(text + w, cap - w, "t/n%d e%d f%dx\n", i, i, 3999 - i);
    map = parse_exact(text, w, NULL);
    assert_non_null(map);
    check_int("size", ws_mime_map_size(map), 8000);
    for (int i = 0; i < 4000; i++) {
        char name[32], want[32];
        int n = snprintf(name, sizeof(name), "file.E%d", i);
        snprintf(want, sizeof(want), "t/n%d", i);
        check_str(name, ws_mime_lookup(map, name, (size_t)n), want);
        n = snprintf(name, sizeof(name), "file.f%dx", 3999 - i);
        check_str(name, ws_mime_lookup(map, name, (size_t)n), want);
    }
    check_str("miss", ws_mime_lookup(map, "file.e4000", 10), "application/octet-stream");
    ws_mime_map_free(map);
    free(text);
}

/* The real file, when this machine has it: it must parse, whatever its version. */
static void test_map_system_file(void **state)
{
    FILE *f = fopen("/etc/mime.types", "r");
    char *text;
    size_t len;
    unsigned bad = 0;
    struct ws_mime_map *map;

    if (f == NULL) {
        skip();
        return;
    }
    text = malloc(4 << 20);
    assert_non_null(text);
    len = fread(text, 1, 4 << 20, f);
    fclose(f);
    map = parse_exact(text, len, &bad);
    if (map == NULL)
        print_error("/etc/mime.types: line %u\n", bad);
    assert_non_null(map);
    assert_true(ws_mime_map_size(map) > 100);
    check_str("system pdf", ws_mime_lookup(map, "a.pdf", 5), "application/pdf");
    ws_mime_map_free(map);
    free(text);
}

struct compressible_case {
    const char *type;
    int compressible;
};

/* clang-format off */
static const struct compressible_case compressible_cases[] = {
    { "text/html; charset=utf-8",                1 },
    { "text/css; charset=utf-8",                 1 },
    { "text/plain",                              1 },
    { "TEXT/PLAIN",                              1 },
    { "text/javascript; charset=utf-8",          1 },
    { "application/javascript",                  1 },
    { "application/ecmascript",                  1 },
    { "application/json; charset=utf-8",         1 },
    { "application/ld+json",                     1 },
    { "application/manifest+json",               1 },
    { "application/xml; charset=utf-8",          1 },
    { "application/atom+xml",                    1 },
    { "image/svg+xml; charset=utf-8",            1 },
    { "application/wasm",                        1 },
    { "font/ttf",                                1 },
    { "font/otf",                                1 },
    { "image/png",                               0 },
    { "image/jpeg",                              0 },
    { "image/webp",                              0 },
    { "font/woff2",                              0 },
    { "font/woff",                               0 },
    { "font/ttfx",                               0 },
    { "application/gzip",                        0 },
    { "application/zstd",                        0 },
    { "application/zip",                         0 },
    { "application/pdf",                         0 },
    { "video/mp4",                               0 },
    { "application/octet-stream",                0 },
    { "application/octet-stream; note=json",     0 }, /* a parameter names nothing */
    { "image/png;charset=xml",                   0 },
    { "",                                        0 },
};
/* clang-format on */

static void test_compressible(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(compressible_cases); i++) {
        const struct compressible_case *c = &compressible_cases[i];
        size_t len = strlen(c->type);
        char *copy = exact_copy(c->type, len + 1); /* with its NUL: ASan sees a read past it */
        check_int(c->type, ws_mime_compressible(copy), c->compressible);
        free(copy);
    }
    /* Every built-in type of a text-like file is compressible. */
    check_int("index.html", ws_mime_compressible(ws_mime_type("index.html", 10)), 1);
    check_int("app.wasm", ws_mime_compressible(ws_mime_type("app.wasm", 8)), 1);
    check_int("a.png", ws_mime_compressible(ws_mime_type("a.png", 5)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mime_table),         cmocka_unit_test(test_mime_upper_case),
        cmocka_unit_test(test_mime_length_bound),  cmocka_unit_test(test_map_lookup),
        cmocka_unit_test(test_map_absent),         cmocka_unit_test(test_map_text),
        cmocka_unit_test(test_map_override_order), cmocka_unit_test(test_map_many),
        cmocka_unit_test(test_map_system_file),    cmocka_unit_test(test_compressible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
