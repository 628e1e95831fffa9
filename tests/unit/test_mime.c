/*
 * test_mime.c - media types by file name.
 *
 * The table repeats every entry of src/mime.c on purpose: a type that is
 * dropped or changed there turns this test red, and is then a decision.
 */
#include "test_util.h"

#include "mime.h"

#include <ctype.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mime_table),
        cmocka_unit_test(test_mime_upper_case),
        cmocka_unit_test(test_mime_length_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
