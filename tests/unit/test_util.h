/*
 * test_util.h - helpers shared by the cmocka unit tests.
 *
 * Table-driven tests report failures through the check_* macros below, which
 * name the table row (its description) and the field that differs, so a red
 * test says which case broke without a debugger. All of them must be called
 * from the test's own thread: cmocka is not thread-safe.
 */
#ifndef WS_TEST_UTIL_H
#define WS_TEST_UTIL_H

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The length of a string literal, which may contain NUL bytes. */
#define LIT_LEN(s) (sizeof(s) - 1)

/*
 * A copy of src[0..len) in a heap block of exactly len bytes and no terminator,
 * so that reading even one byte past the end is caught by AddressSanitizer.
 * Free it with free().
 */
static inline char *exact_copy(const void *src, size_t len)
{
    char *p = malloc(len);
    if (p == NULL && len == 0)
        p = malloc(1);
    if (p == NULL)
        abort();
    if (len > 0)
        memcpy(p, src, len);
    return p;
}

/*
 * An output buffer of exactly size bytes, filled with a marker byte so that a
 * function that forgets to write its terminator is noticed. Free it with free().
 */
static inline char *exact_alloc(size_t size)
{
    char *p = malloc(size);
    if (p == NULL && size == 0)
        p = malloc(1);
    if (p == NULL)
        abort();
    memset(p, 0xa5, size);
    return p;
}

/*
 * Bounds the whole test program: if it is still running after `seconds`, the
 * default SIGALRM action kills it and ctest reports the failure, instead of a
 * deadlock hanging the suite.
 */
static inline void start_watchdog(unsigned seconds)
{
    alarm(seconds);
}

/* Writes v[0..len) into out (size bytes) as a C literal body, for messages. */
static inline const char *printable(const char *v, size_t len, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t w = 0;
    for (size_t i = 0; i < len && w + 5 < size; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[w++] = (char)c;
        } else if (c == '\r' || c == '\n') {
            out[w++] = '\\';
            out[w++] = c == '\r' ? 'r' : 'n';
        } else {
            out[w++] = '\\';
            out[w++] = 'x';
            out[w++] = hex[c >> 4];
            out[w++] = hex[c & 15];
        }
    }
    out[w] = '\0';
    return out;
}

static inline void check_int_at(const char *desc, const char *what, long long actual,
                                long long expected, const char *file, int line)
{
    if (actual != expected) {
        print_error("case \"%s\": %s is %lld, expected %lld\n", desc, what, actual, expected);
        _fail(file, line);
    }
}

/* Compares a (pointer, length) string with a C string; expected NULL skips the check. */
static inline void check_mem_at(const char *desc, const char *what, const char *actual,
                                size_t actual_len, const char *expected, const char *file, int line)
{
    char a[512], e[512];
    if (expected == NULL)
        return;
    if (actual_len != strlen(expected) ||
        (actual_len > 0 && memcmp(actual, expected, actual_len))) {
        print_error("case \"%s\": %s is \"%s\", expected \"%s\"\n", desc, what,
                    printable(actual, actual_len, a, sizeof(a)),
                    printable(expected, strlen(expected), e, sizeof(e)));
        _fail(file, line);
    }
}

static inline void check_true_at(const char *desc, const char *what, int cond, const char *file,
                                 int line)
{
    if (!cond) {
        print_error("case \"%s\": %s does not hold\n", desc, what);
        _fail(file, line);
    }
}

#define check_int(desc, actual, expected)                                                          \
    check_int_at((desc), #actual, (long long)(actual), (long long)(expected), __FILE__, __LINE__)
#define check_mem(desc, ptr, len, expected)                                                        \
    check_mem_at((desc), #ptr, (ptr), (len), (expected), __FILE__, __LINE__)
#define check_str(desc, actual, expected)                                                          \
    check_mem_at((desc), #actual, (actual), strlen(actual), (expected), __FILE__, __LINE__)
#define check_true(desc, cond) check_true_at((desc), #cond, (cond) ? 1 : 0, __FILE__, __LINE__)

/* A small deterministic PRNG (xorshift64*), so generated tests are reproducible. */
static inline uint64_t test_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

#endif
