/*
 * fuzz_path.c - ws_path_normalize and ws_path_encode.
 *
 * ws_path_normalize (the first wall of path safety) must either reject the
 * path (-400, -414) or produce a relative path: no leading '/', no NUL, no
 * ".", ".." or empty segment, never longer than its input. Normalising the
 * encoded form of that result (as a redirect's Location would be requested)
 * must give it back unchanged.
 *
 * ws_path_encode must never produce "//" at the start (a scheme-relative URL:
 * an open redirect) nor a CTL, space, DEL or non-ASCII byte (header
 * injection), and must respect its buffer size exactly.
 */
#include "fuzz.h"
#include "http/path.h"

#include <string.h>

static void check_relative(const char *out, size_t len)
{
    FUZZ_CHECK(strlen(out) == len); /* no NUL inside */
    if (len == 0)
        return;
    FUZZ_CHECK(out[0] != '/');
    FUZZ_CHECK(out[len - 1] != '/');
    for (size_t s = 0; s < len;) {
        size_t e = s;
        while (e < len && out[e] != '/')
            e++;
        FUZZ_CHECK(e > s); /* no empty segment */
        FUZZ_CHECK(!(e - s == 1 && out[s] == '.'));
        FUZZ_CHECK(!(e - s == 2 && out[s] == '.' && out[s + 1] == '.'));
        s = e + 1;
    }
}

static void check_encoded(const char *enc, int n, size_t out_size)
{
    FUZZ_CHECK(n >= 1);
    FUZZ_CHECK((size_t)n < out_size);
    FUZZ_CHECK(enc[n] == '\0');
    FUZZ_CHECK(enc[0] == '/');
    FUZZ_CHECK(!(n >= 2 && enc[1] == '/'));
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)enc[i];
        FUZZ_CHECK(c > 0x20 && c < 0x7f);
        if (c == '%') {
            FUZZ_CHECK(i + 2 < n);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t out_size = size + 1, out_len = 0, small;
    char *out = malloc(out_size);
    char *enc, *again;
    int is_dir = -1, rc, n;

    if (out == NULL)
        return 0;
    rc = ws_path_normalize((const char *)data, size, out, out_size, &out_len, &is_dir);
    FUZZ_CHECK(rc == 0 || rc == -400 || rc == -414);
    FUZZ_CHECK(rc != -414); /* out_size >= len + 1 always suffices */
    if (rc == 0) {
        FUZZ_CHECK(size > 0 && data[0] == '/');
        FUZZ_CHECK(out_len <= size);
        FUZZ_CHECK(is_dir == 0 || is_dir == 1);
        check_relative(out, out_len);
        FUZZ_CHECK(memchr(data, 0, size) == NULL);

        /* Round trip through a Location: encode, then normalise again. */
        enc = malloc(3 * out_len + 3);
        again = malloc(3 * out_len + 3);
        if (enc != NULL && again != NULL) {
            size_t again_len = 0;
            int again_dir = -1;
            n = ws_path_encode(out, out_len, is_dir, enc, 3 * out_len + 3);
            check_encoded(enc, n, 3 * out_len + 3);
            FUZZ_CHECK(ws_path_normalize(enc, (size_t)n, again, 3 * out_len + 3, &again_len,
                                         &again_dir) == 0);
            FUZZ_CHECK(again_len == out_len && memcmp(again, out, out_len) == 0);
            if (out_len > 0)
                FUZZ_CHECK(again_dir == is_dir);
        }
        free(enc);
        free(again);
    }
    /* Too small an output buffer is refused, never overrun. */
    if (size > 0) {
        small = size / 2;
        if (small > 0) {
            char *tiny = malloc(small);
            if (tiny != NULL) {
                rc = ws_path_normalize((const char *)data, size, tiny, small, &out_len, &is_dir);
                FUZZ_CHECK(rc == -400 || rc == -414);
                free(tiny);
            }
        }
    }
    free(out);

    /* Encoding arbitrary bytes (a name may hold anything but '/' and NUL). */
    for (int dir_slash = 0; dir_slash <= 1; dir_slash++) {
        size_t room = 3 * size + 3;
        size_t cut = size ? (size_t)(fuzz_seed(data, size) % room) : 0;
        enc = malloc(room);
        if (enc == NULL)
            return 0;
        n = ws_path_encode((const char *)data, size, dir_slash, enc, room);
        check_encoded(enc, n, room);
        if (cut >= 2) {
            char *short_buf = malloc(cut);
            if (short_buf != NULL) {
                int m = ws_path_encode((const char *)data, size, dir_slash, short_buf, cut);
                FUZZ_CHECK(m == -1 || (m == n && memcmp(short_buf, enc, (size_t)n + 1) == 0));
                free(short_buf);
            }
        }
        free(enc);
    }
    return 0;
}
