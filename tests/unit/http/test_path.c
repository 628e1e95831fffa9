/*
 * http/test_path.c - request path normalisation and Location encoding.
 *
 * Besides the table, a generated test compares ws_path_normalize with a small
 * reference model on many random paths built from the bytes that matter
 * ('/', '.', '%', hex digits, backslash), checks the output invariants the
 * static-file code relies on, and checks that encoding a result and
 * normalising it again gives the same file.
 */
#include "test_util.h"

#include "http/path.h"

#include <stdio.h>

struct norm_case {
    const char *desc;
    const char *input;
    size_t len;
    int result;
    const char *out; /* when result is 0 */
    int is_dir;
};

/* clang-format off */
#define N(d, in, r, o, dir) { d, in, LIT_LEN(in), r, o, dir }
#define NERR(d, in, r) { d, in, LIT_LEN(in), r, NULL, 0 }
/* clang-format on */

/* clang-format off */
static const struct norm_case norm_cases[] = {
    N("root",                              "/",                      0, "",            1),
    N("file",                              "/a/b",                   0, "a/b",         0),
    N("directory form",                    "/a/b/",                  0, "a/b",         1),
    N("double slash",                      "/a//b",                  0, "a/b",         0),
    N("many slashes",                      "///a///b///",            0, "a/b",         1),
    N("dot segment first",                 "/./a",                   0, "a",           0),
    N("dot segment last is a directory",   "/a/.",                   0, "a",           1),
    N("dot segments only",                 "/./././",                0, "",            1),
    N("dot-dot removes one segment",       "/a/../b",                0, "b",           0),
    N("dot-dot back to the root",          "/a/..",                  0, "",            1),
    N("dot-dot back to the root, slash",   "/a/../",                 0, "",            1),
    N("two dot-dots",                      "/a/b/c/../../d",         0, "a/d",         0),
    N("dot-dot after double slash",        "/a//b/../c",             0, "a/c",         0),
    NERR("dot-dot above the root",         "/..",                    -400),
    NERR("dot-dot above the root, slash",  "/../",                   -400),
    NERR("climbs above the root later",    "/a/../../b",             -400),
    NERR("climbs after a dot",             "/./../a",                -400),
    NERR("%2e%2e above the root",          "/%2e%2e",                -400),
    NERR("%2E%2E above the root",          "/%2E%2E/a",              -400),
    NERR(".%2e above the root",            "/.%2e/a",                -400),
    NERR("%2e. above the root",            "/%2e./a",                -400),
    NERR("%2E%2e mixed case above root",   "/a/%2E%2e/%2e%2E/etc",   -400),
    N("%2e%2e within the root",            "/a/%2e%2e/b",            0, "b",           0),
    N("%2e is a dot segment",              "/a/%2e/b",               0, "a/b",         0),
    N("%2F separates segments",            "/a%2Fb",                 0, "a/b",         0),
    N("%2f separates segments",            "/a%2fb",                 0, "a/b",         0),
    N("%2F..%2F climbs inside the root",   "/a/b%2F..%2Fc",          0, "a/c",         0),
    NERR("%2F..%2F cannot climb out",      "/a%2F..%2F..%2Fetc",     -400),
    NERR("%2F%2E%2E cannot climb out",     "/%2F%2E%2E%2Fetc",       -400),
    N("%2F at the end is a directory",     "/a%2F",                  0, "a",           1),
    NERR("%00",                            "/a%00b",                 -400),
    NERR("raw NUL",                        "/a\0b",                  -400),
    NERR("%zz",                            "/a%zz",                  -400),
    NERR("%g0",                            "/%g0",                   -400),
    NERR("%0g",                            "/%0g",                   -400),
    NERR("%4 at the end",                  "/a%4",                   -400),
    NERR("trailing %",                     "/a%",                    -400),
    NERR("% with one hex digit then /",    "/a%4/b",                 -400),
    NERR("%%41 is not a double escape",    "/%%41",                  -400),
    N("%252e stays a literal %2e",         "/%252e",                 0, "%2e",         0),
    N("%252e%252e stays literal",          "/%252e%252e/a",          0, "%2e%2e/a",    0),
    N("%252F is not a separator",          "/a%252Fb",               0, "a%2Fb",       0),
    N("escapes decode once",               "/%41%62c",               0, "Abc",         0),
    N("backslash is literal",              "/a\\..\\b",              0, "a\\..\\b",    0),
    N("%5C is a literal backslash",        "/..%5c",                 0, "..\\",        0),
    N("high bytes kept",                   "/caf\xc3\xa9",           0, "caf\xc3\xa9", 0),
    N("encoded high bytes decoded",        "/caf%C3%A9",             0, "caf\xc3\xa9", 0),
    N("three dots are a name",             "/.../a",                 0, ".../a",       0),
    N("dotfile",                           "/.htaccess",             0, ".htaccess",   0),
    N("..a is a name",                     "/..a/b..",               0, "..a/b..",     0),
    N("%20 decoded",                       "/a%20b",                 0, "a b",         0),
    N("control byte decoded",              "/a%0Ab",                 0, "a\nb",        0),
    NERR("empty",                          "",                       -400),
    NERR("no leading slash",               "a/b",                    -400),
    NERR("starts with a dot",              "./a",                    -400),
};
/* clang-format on */

static void check_norm(const char *desc, const char *input, size_t len, int result,
                       const char *expect_out, int expect_dir)
{
    char *in = exact_copy(input, len);
    char *out = malloc(len + 1);
    size_t out_len = 12345;
    int is_dir = -1, rc;

    assert_non_null(out);
    rc = ws_path_normalize(in, len, out, len + 1, &out_len, &is_dir);
    check_int(desc, rc, result);
    if (rc == 0) {
        check_mem(desc, out, out_len, expect_out);
        check_int(desc, out[out_len], '\0');
        check_int(desc, is_dir, expect_dir);
    }
    free(out);
    free(in);
}

static void test_normalize_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(norm_cases); i++) {
        const struct norm_case *c = &norm_cases[i];
        check_norm(c->desc, c->input, c->len, c->result, c->out, c->is_dir);
    }
}

/* out_size >= len + 1 always suffices; anything smaller is refused, never overrun. */
static void test_normalize_out_size(void **state)
{
    static const char in[] = "/a/b/../c%41/";
    size_t len = LIT_LEN(in), out_len = 0;
    int is_dir = 0;

    for (size_t size = 0; size <= len; size++) {
        char *out = exact_alloc(size);
        int rc = ws_path_normalize(in, len, out, size, &out_len, &is_dir);
        free(out);
        assert_int_equal(rc, -414);
    }
    {
        char *out = exact_alloc(len + 1);
        assert_int_equal(ws_path_normalize(in, len, out, len + 1, &out_len, &is_dir), 0);
        assert_string_equal(out, "a/cA");
        assert_int_equal(is_dir, 1);
        free(out);
    }
}

/*
 * The reference model: decode into a copy, split on '/', keep a stack of
 * segments. Deliberately written differently from path.c (no in-place
 * compaction) so the two can only agree by both being right.
 */
static int ref_normalize(const char *in, size_t len, char *out, size_t *out_len, int *is_dir)
{
    char dec[256];
    size_t n = 0, seg_start[128], seg_len[128], depth = 0, i, w = 0;
    const char *last;
    size_t last_len;

    if (len == 0 || in[0] != '/')
        return -400;
    for (i = 0; i < len; i++) {
        if (in[i] == '%') {
            char hex[3] = { 0 };
            char *end;
            long v;
            if (len - i < 3 || !strchr("0123456789abcdefABCDEF", in[i + 1]) ||
                !strchr("0123456789abcdefABCDEF", in[i + 2]) || in[i + 1] == '\0' ||
                in[i + 2] == '\0')
                return -400;
            hex[0] = in[i + 1];
            hex[1] = in[i + 2];
            v = strtol(hex, &end, 16);
            if (v == 0)
                return -400;
            dec[n++] = (char)v;
            i += 2;
        } else {
            if (in[i] == '\0')
                return -400;
            dec[n++] = in[i];
        }
    }
    for (i = 0; i <= n;) {
        size_t s = i;
        while (i < n && dec[i] != '/')
            i++;
        size_t sl = i - s;
        if (sl == 0 || (sl == 1 && dec[s] == '.')) {
            /* skip */
        } else if (sl == 2 && dec[s] == '.' && dec[s + 1] == '.') {
            if (depth == 0)
                return -400;
            depth--;
        } else {
            seg_start[depth] = s;
            seg_len[depth] = sl;
            depth++;
        }
        i++;
    }
    /* The directory form: the last raw segment is empty, "." or "..". */
    last = memrchr(dec, '/', n);
    last = last == NULL ? dec : last + 1;
    last_len = (size_t)(dec + n - last);
    *is_dir = last_len == 0 || (last_len == 1 && last[0] == '.') ||
              (last_len == 2 && last[0] == '.' && last[1] == '.');
    for (i = 0; i < depth; i++) {
        if (i > 0)
            out[w++] = '/';
        memcpy(out + w, dec + seg_start[i], seg_len[i]);
        w += seg_len[i];
    }
    out[w] = '\0';
    *out_len = w;
    return 0;
}

/* The invariants static_file.c relies on, checked on the output alone. */
static int output_is_clean(const char *out, size_t len)
{
    size_t s = 0;

    if (strlen(out) != len || (len > 0 && (out[0] == '/' || out[len - 1] == '/')))
        return 0;
    while (s < len) {
        const char *slash = memchr(out + s, '/', len - s);
        size_t e = slash == NULL ? len : (size_t)(slash - out);
        size_t sl = e - s;
        if (sl == 0 || (sl == 1 && out[s] == '.') ||
            (sl == 2 && out[s] == '.' && out[s + 1] == '.'))
            return 0;
        s = e + 1;
    }
    return 1;
}

/* Percent-decodes an encoded path back, for the round-trip check. */
static size_t percent_decode(const char *in, size_t len, char *out)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%' && i + 2 < len) {
            char hex[3] = { in[i + 1], in[i + 2], 0 };
            out[w++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[w++] = in[i];
        }
    }
    return w;
}

static void test_normalize_generated(void **state)
{
    static const char alphabet[] = "/././/..%%2eE2fF0a5c\\\x80zz";
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    unsigned ok = 0, rejected = 0;

    for (int iter = 0; iter < 200000; iter++) {
        char in[40], ref[256], enc[256], again[256], desc[160], *out;
        size_t len = 1 + test_rand(&seed) % 32, out_len = 0, ref_len = 0, again_len = 0;
        int is_dir = -1, ref_dir = -1, again_dir = -1, rc, ref_rc, n;

        for (size_t i = 0; i < len; i++)
            in[i] = alphabet[test_rand(&seed) % (sizeof(alphabet) - 1)];
        if (test_rand(&seed) % 16 != 0)
            in[0] = '/';
        if (test_rand(&seed) % 64 == 0)
            in[test_rand(&seed) % len] = '\0';
        printable(in, len, desc, sizeof(desc));

        char *copy = exact_copy(in, len);
        out = exact_alloc(len + 1);
        rc = ws_path_normalize(copy, len, out, len + 1, &out_len, &is_dir);
        free(copy);
        ref_rc = ref_normalize(in, len, ref, &ref_len, &ref_dir);
        check_int(desc, rc, ref_rc);
        if (rc != 0) {
            free(out);
            rejected++;
            continue;
        }
        ok++;
        check_mem(desc, out, out_len, ref);
        check_int(desc, is_dir, ref_dir);
        check_true(desc, output_is_clean(out, out_len));

        /* Encoding the result for a Location and resolving it again names the same file. */
        n = ws_path_encode(out, out_len, is_dir, enc, sizeof(enc));
        check_true(desc, n > 0);
        check_true(desc, enc[0] == '/' && enc[1] != '/' && enc[1] != '\\');
        rc = ws_path_normalize(enc, (size_t)n, again, sizeof(again), &again_len, &again_dir);
        check_int(desc, rc, 0);
        check_mem(desc, again, again_len, out);
        check_int(desc, again_dir, is_dir);
        free(out);
    }
    /* The generator must exercise both outcomes heavily to mean anything. */
    assert_true(ok > 20000);
    assert_true(rejected > 20000);
}

/* ---- ws_path_encode ---- */

struct encode_case {
    const char *desc;
    const char *rel;
    size_t len;
    int dir_slash;
    const char *out;
};

/* clang-format off */
#define ENC(d, r, dir, o) { d, r, LIT_LEN(r), dir, o }
/* clang-format on */

/* clang-format off */
static const struct encode_case encode_cases[] = {
    ENC("root",                                 "",                    0, "/"),
    ENC("root as a directory: one slash",       "",                    1, "/"),
    ENC("file",                                 "a/b.txt",             0, "/a/b.txt"),
    ENC("directory slash appended",             "a/b",                 1, "/a/b/"),
    ENC("space",                                "a b",                 0, "/a%20b"),
    ENC("query and fragment delimiters",        "a?b#c",               0, "/a%3Fb%23c"),
    ENC("percent sign",                         "100%",                0, "/100%25"),
    ENC("quote and angle brackets",             "\"<>`{}|^[]",         0, "/%22%3C%3E%60%7B%7D%7C%5E%5B%5D"),
    ENC("CR LF cannot split a header",          "a\r\nSet-Cookie: x",  0, "/a%0D%0ASet-Cookie:%20x"),
    ENC("NUL, controls and DEL",                "\0\x01\x1f\x7f",      0, "/%00%01%1F%7F"),
    ENC("high bytes",                           "caf\xc3\xa9",         0, "/caf%C3%A9"),
    ENC("unreserved, sub-delims, : @ / pass",   "-._~!$&'()*+,;=:@/",  0, "/-._~!$&'()*+,;=:@/"),
    ENC("digits and letters pass",              "AZaz09",              0, "/AZaz09"),
    ENC("backslash cannot make /\\host",        "\\evil",              0, "/%5Cevil"),
    ENC("leading slash cannot make //host",     "/evil",               0, "/%2Fevil"),
    ENC("leading slashes cannot make //host",   "//evil",              0, "/%2F/evil"),
    ENC("slash-only directory",                 "/",                   1, "/%2F/"),
    ENC("inner double slash is harmless",       "a//b",                0, "/a//b"),
};
/* clang-format on */

static void test_encode_table(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(encode_cases); i++) {
        const struct encode_case *c = &encode_cases[i];
        size_t need = strlen(c->out) + 1;
        char *rel = exact_copy(c->rel, c->len);

        /* Exactly enough room works; every smaller buffer is refused without an overrun. */
        for (size_t size = 0; size <= need; size++) {
            char *out = exact_alloc(size);
            int n = ws_path_encode(rel, c->len, c->dir_slash, out, size);
            if (size < need) {
                check_int(c->desc, n, -1);
            } else {
                check_int(c->desc, n, need - 1);
                check_str(c->desc, out, c->out);
            }
            free(out);
        }
        free(rel);
    }
}

/* Any bytes at all: the result is a safe absolute path that decodes back to the input. */
static void test_encode_generated(void **state)
{
    uint64_t seed = 42;

    for (int iter = 0; iter < 20000; iter++) {
        char rel[24], out[128], back[128], desc[128];
        size_t len = test_rand(&seed) % sizeof(rel), blen;
        int dir = (int)(test_rand(&seed) & 1), n;

        for (size_t i = 0; i < len; i++)
            rel[i] = (char)(test_rand(&seed) % 8 == 0 ? '/' : test_rand(&seed) & 0xff);
        printable(rel, len, desc, sizeof(desc));
        n = ws_path_encode(rel, len, dir, out, sizeof(out));
        check_true(desc, n > 0 && (size_t)n == strlen(out));
        check_true(desc, out[0] == '/' && out[1] != '/' && out[1] != '\\');
        for (int i = 0; i < n; i++)
            check_true(desc, (unsigned char)out[i] > 0x20 && (unsigned char)out[i] < 0x7f &&
                                 !strchr("\"<>\\^`{|}#?", out[i]));
        blen = percent_decode(out, (size_t)n, back);
        check_int(desc, back[0], '/');
        if (dir && len > 0) {
            check_int(desc, blen, len + 2);
            check_int(desc, back[blen - 1], '/');
        } else {
            check_int(desc, blen, len + 1);
        }
        check_true(desc, memcmp(back + 1, rel, len) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_table),     cmocka_unit_test(test_normalize_out_size),
        cmocka_unit_test(test_normalize_generated), cmocka_unit_test(test_encode_table),
        cmocka_unit_test(test_encode_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
