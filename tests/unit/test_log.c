/*
 * test_log.c - Combined Log Format lines and the access log file.
 */
#include "test_util.h"

#include "httpdate.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#define WHEN   784111777 /* [06/Nov/1994:08:49:37 +0000] */
#define PREFIX "192.0.2.1 - - [06/Nov/1994:08:49:37 +0000] \""

static struct ws_view view(const char *s)
{
    return (struct ws_view){ s, strlen(s) };
}

/* Formats a line and inserts the byte count at the split, as ws_log_access does. */
static size_t format_with_count(char *line, size_t size, struct ws_view req, int status,
                                struct ws_view ref, struct ws_view ua, const char *count)
{
    char parts[WS_LOG_LINE_MAX];
    size_t split = 99999;
    size_t len = ws_log_format_combined(parts, sizeof(parts), "192.0.2.1", WHEN, req, status, ref,
                                        ua, &split);
    assert_true(split <= len);
    assert_true(len < sizeof(parts));
    assert_int_equal(parts[len], '\0');
    assert_true(strlen(count) + len < size);
    memcpy(line, parts, split);
    strcpy(line + split, count);
    memcpy(line + split + strlen(count), parts + split, len - split);
    strcpy(line + len + strlen(count), "\n"); /* the Combined format's end of line */
    return len + strlen(count) + 1;
}

struct escape_case {
    const char *desc;
    const char *field; /* as received */
    size_t len;
    const char *logged; /* as it must appear between the quotes */
};

/* clang-format off */
#define ESC(d, f, l) { d, f, LIT_LEN(f), l }
/* clang-format on */

/* clang-format off */
static const struct escape_case escape_cases[] = {
    ESC("plain text",              "GET /index.html HTTP/1.1",   "GET /index.html HTTP/1.1"),
    ESC("empty field becomes -",   "",                           "-"),
    ESC("double quote",            "a\"b",                       "a\\x22b"),
    ESC("backslash",               "a\\b",                       "a\\x5cb"),
    ESC("already escaped looking", "\\x22",                      "\\x5cx22"),
    ESC("newline",                 "a\nb",                       "a\\x0ab"),
    ESC("CR",                      "a\rb",                       "a\\x0db"),
    ESC("tab",                     "a\tb",                       "a\\x09b"),
    ESC("NUL",                     "a\0b",                       "a\\x00b"),
    ESC("ESC sequence",            "\x1b[2J",                    "\\x1b[2J"),
    ESC("DEL",                     "\x7f",                       "\\x7f"),
    ESC("high bytes",              "caf\xc3\xa9\xff",            "caf\\xc3\\xa9\\xff"),
    ESC("printable punctuation",   "~!@#$%^&*()_+`-={}|[]:;'<>?,./", "~!@#$%^&*()_+`-={}|[]:;'<>?,./"),
    ESC("a lone dash stays",       "-",                          "-"),
};
/* clang-format on */

/* Each escape, in each of the three untrusted fields. */
static void test_escaping(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(escape_cases); i++) {
        const struct escape_case *c = &escape_cases[i];
        struct ws_view f = { c->field, c->len };
        char line[WS_LOG_LINE_MAX + 32], want[1024];

        format_with_count(line, sizeof(line), f, 200, view("http://r/"), view("ua"), "12");
        snprintf(want, sizeof(want), PREFIX "%s\" 200 12 \"http://r/\" \"ua\"\n", c->logged);
        check_str(c->desc, line, want);

        format_with_count(line, sizeof(line), view("GET / HTTP/1.1"), 404, f, view("ua"), "-");
        snprintf(want, sizeof(want), PREFIX "GET / HTTP/1.1\" 404 - \"%s\" \"ua\"\n", c->logged);
        check_str(c->desc, line, want);

        format_with_count(line, sizeof(line), view("GET / HTTP/1.1"), 304, view(""), f, "0");
        snprintf(want, sizeof(want), PREFIX "GET / HTTP/1.1\" 304 0 \"-\" \"%s\"\n", c->logged);
        check_str(c->desc, line, want);
    }
}

/* A line is one line: no raw control byte, quote or backslash from a field survives. */
static void test_every_byte(void **state)
{
    char field[256], line[WS_LOG_LINE_MAX + 32];
    size_t len;

    for (int b = 0; b < 256; b++)
        field[b] = (char)b;
    len = format_with_count(line, sizeof(line), (struct ws_view){ field, 256 }, 200,
                            (struct ws_view){ field, 256 }, (struct ws_view){ field, 256 }, "1");
    assert_int_equal(line[len - 1], '\n');
    assert_int_equal(line[len - 2], '"');
    for (size_t i = 0; i < len - 1; i++)
        assert_true(line[i] >= 0x20 && line[i] < 0x7f);
    /* 3 fields x (95 printable - 2 escaped + 163 x 4) plus the fixed parts. */
    assert_int_equal(len, strlen(PREFIX) + 3 * (93 + 163 * 4) + strlen("\" 200 1 \"\" \"\"\n"));
}

/* Long fields are cut and marked, and the line still ends in its closing quote within the buffer.
 */
static void test_truncation(void **state)
{
    static char huge[20000];
    char *line = malloc(WS_LOG_LINE_MAX + 32);
    char parts[WS_LOG_LINE_MAX];
    size_t len, split;

    assert_non_null(line);
    /* Worst case: every byte expands to four. */
    memset(huge, 0x01, sizeof(huge));
    len = ws_log_format_combined(
        parts, sizeof(parts), "2001:db8::1", WHEN, (struct ws_view){ huge, sizeof(huge) }, 200,
        (struct ws_view){ huge, sizeof(huge) }, (struct ws_view){ huge, sizeof(huge) }, &split);
    assert_true(len < WS_LOG_LINE_MAX);
    assert_int_equal(strlen(parts), len);
    assert_int_equal(parts[len - 1], '"');
    assert_non_null(strstr(parts, "\\x01...\" 200 "));
    assert_memory_equal(parts + split - 5, " 200 ", 5);

    /* Plain long text: cut to the same field length and marked. */
    memset(huge, 'a', sizeof(huge));
    len = format_with_count(line, WS_LOG_LINE_MAX + 32, (struct ws_view){ huge, sizeof(huge) }, 414,
                            view(""), view("ua"), "0");
    assert_memory_equal(line + len - 2, "\"\n", 2);
    assert_non_null(strstr(line, "aaa...\" 414 0 \"-\" \"ua\"\n"));
    free(line);
}

/* Writes lines to a fresh temporary file through the log and returns its contents. */
static void read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;
    assert_true(fd >= 0);
    n = read(fd, buf, size - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
}

static void test_access_file(void **state)
{
    char path[] = "/tmp/ws_test_log_XXXXXX";
    char parts[WS_LOG_LINE_MAX], got[4 * WS_LOG_LINE_MAX];
    struct ws_log *log;
    struct stat st;
    size_t split, len;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    unlink(path); /* ws_log_open must create it */

    log = ws_log_open(path, NULL, WS_LOG_COMBINED);
    assert_non_null(log);
    assert_true(ws_log_access_enabled(log));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777 & ~0022, 0644 & ~0022);

    len = ws_log_format_combined(parts, sizeof(parts), "10.0.0.1", WHEN, view("GET / HTTP/1.1"),
                                 200, view(""), view("curl/8"), &split);
    ws_log_access(log, NULL, parts, len, split, 0, 0, 0);
    ws_log_access(log, NULL, parts, len, split, 12345, 0, 0);
    ws_log_access(log, NULL, parts, len, split, UINT64_MAX, 0, 0);
    ws_log_access(log, NULL, parts, len, len + 1, 7, 0,
                  0); /* a bad split is dropped, not written */
    ws_log_close(log);

    read_file(path, got, sizeof(got));
    assert_string_equal(
        got,
        "10.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 - \"-\" \"curl/8\"\n"
        "10.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 12345 \"-\" \"curl/8\"\n"
        "10.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 "
        "18446744073709551615 \"-\" \"curl/8\"\n");

    /* Appends, never truncates. */
    log = ws_log_open(path, NULL, WS_LOG_COMBINED);
    assert_non_null(log);
    ws_log_access(log, NULL, parts, len, split, 1, 0, 0);
    ws_log_close(log);
    read_file(path, got, sizeof(got));
    assert_non_null(strstr(got, "\" 200 1 \"-\""));
    assert_non_null(strstr(got, "\" 200 12345 \""));
    unlink(path);
}

static void test_open_variants(void **state)
{
    struct ws_log *log = ws_log_open(NULL, NULL, WS_LOG_COMBINED);
    char parts[] = "x\n";

    assert_non_null(log);
    assert_false(ws_log_access_enabled(log));
    ws_log_access(log, NULL, parts, 2, 0, 5, 0, 0); /* off: a no-op */
    ws_log_close(log);

    log = ws_log_open("-", NULL, WS_LOG_COMBINED);
    assert_non_null(log);
    assert_true(ws_log_access_enabled(log));
    ws_log_close(log); /* must not close stdout */
    assert_true(fcntl(STDOUT_FILENO, F_GETFD) >= 0);

    errno = 0;
    assert_null(ws_log_open("/nonexistent-dir-for-ws-tests/access.log", NULL, WS_LOG_COMBINED));
    assert_int_equal(errno, ENOENT);

    ws_log_close(NULL);
}

/* Captures what ws_log_error writes to standard error. */
static void capture_error(struct ws_log *log, const char *msg, char *got, size_t size)
{
    char path[] = "/tmp/ws_test_err_XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);

    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    ws_log_error(log, "%s", msg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO); /* restored before any assertion can print */
    close(saved);
    close(fd);
    read_file(path, got, size);
    unlink(path);
}

static void test_error_log(void **state)
{
    struct ws_log *log = ws_log_open(NULL, NULL, WS_LOG_COMBINED);
    static char msg[3000], got[4096];

    assert_non_null(log);
    capture_error(log, "cannot bind 0.0.0.0:80: Permission denied", got, sizeof(got));
    assert_string_equal(got, "webserver: cannot bind 0.0.0.0:80: Permission denied\n");

    /* A long message is cut, and still one line ending in a newline. */
    memset(msg, 'm', sizeof(msg) - 1);
    capture_error(log, msg, got, sizeof(got));
    assert_int_equal(strlen(got), 1023);
    assert_int_equal(got[1022], '\n');
    assert_null(strchr(got, '\n') == got + 1022 ? NULL : got);
    ws_log_close(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),      cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_truncation),    cmocka_unit_test(test_access_file),
        cmocka_unit_test(test_open_variants), cmocka_unit_test(test_error_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
