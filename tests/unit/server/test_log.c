/*
 * server/test_log.c - Combined, timing and JSON access log lines, the log files,
 * reopening them (SIGHUP), and the print lock under contention.
 *
 * DESIGN
 * Only test_print_lock_* start threads. cmocka is not thread-safe, so those
 * threads never assert: they only write through the log, or copy a FIFO into a
 * file and record an error in their own struct; the test's thread checks the
 * files after joining them, and joins are bounded so a stuck writer fails the
 * test instead of hanging it. While standard error is redirected into a file
 * nothing asserts either, so a failure is never reported into that file.
 */
#include "test_util.h"

#include "http/httpdate.h"
#include "server/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

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

/* --- the timing and JSON formats ---------------------------------------------- */

static const struct ws_access_fields sample = {
    .client = "192.0.2.1",
    .when = WHEN,
    .request_line = { "GET /a?b HTTP/1.1", 17 },
    .status = 200,
    .referer = { "http://r/", 9 },
    .user_agent = { "curl/8", 6 },
};

/* Formats f, then writes it through a fresh log of that format; returns the file's text. */
static void log_through_file(enum ws_log_format format, const struct ws_access_fields *f,
                             uint64_t bytes, int64_t wait_us, int64_t serve_us, char *got,
                             size_t size)
{
    char path[] = "/tmp/ws_test_fmt_XXXXXX";
    char parts[WS_LOG_LINE_MAX];
    size_t split = 99999, len;
    struct ws_log *log;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    len = ws_log_format_start(format, parts, sizeof(parts), f, &split);
    assert_true(split <= len);
    assert_int_equal(strlen(parts), len);
    log = ws_log_open(path, NULL, format);
    assert_non_null(log);
    assert_int_equal(ws_log_format(log), format);
    ws_log_access(log, NULL, parts, len, split, bytes, wait_us, serve_us);
    ws_log_close(log);
    read_file(path, got, size);
    unlink(path);
}

static void test_timing_format(void **state)
{
    char got[WS_LOG_LINE_MAX + 256];

    log_through_file(WS_LOG_TIMING, &sample, 1234, 56, 789, got, sizeof(got));
    assert_string_equal(got,
                        PREFIX "GET /a?b HTTP/1.1\" 200 1234 \"http://r/\" \"curl/8\" 56 789\n");

    /* No body is "-", zero times are 0, big times are whole. */
    log_through_file(WS_LOG_TIMING, &sample, 0, 0, 0, got, sizeof(got));
    assert_string_equal(got, PREFIX "GET /a?b HTTP/1.1\" 200 - \"http://r/\" \"curl/8\" 0 0\n");
    log_through_file(WS_LOG_TIMING, &sample, 1, 9000000000LL, INT64_MAX, got, sizeof(got));
    assert_string_equal(got, PREFIX "GET /a?b HTTP/1.1\" 200 1 \"http://r/\" \"curl/8\" "
                                    "9000000000 9223372036854775807\n");

    /* The start of the line is the Combined one. */
    {
        char a[WS_LOG_LINE_MAX], b[WS_LOG_LINE_MAX];
        size_t sa, sb;
        size_t la = ws_log_format_start(WS_LOG_TIMING, a, sizeof(a), &sample, &sa);
        size_t lb = ws_log_format_start(WS_LOG_COMBINED, b, sizeof(b), &sample, &sb);
        assert_int_equal(la, lb);
        assert_int_equal(sa, sb);
        assert_string_equal(a, b);
    }
}

static void test_json_format(void **state)
{
    char got[WS_LOG_LINE_MAX + 256];
    struct ws_access_fields f = sample;

    log_through_file(WS_LOG_JSON, &f, 1234, 56, 789, got, sizeof(got));
    assert_string_equal(got, "{\"time\":\"1994-11-06T08:49:37Z\",\"client\":\"192.0.2.1\","
                             "\"request\":\"GET /a?b HTTP/1.1\",\"status\":200,\"bytes\":1234,"
                             "\"referer\":\"http://r/\",\"user_agent\":\"curl/8\","
                             "\"wait_us\":56,\"serve_us\":789}\n");

    /* Absent fields are empty strings, no body is 0 (a number, not "-"). */
    f.referer = view("");
    f.user_agent = view("");
    f.status = 304;
    f.client = "2001:db8::1";
    log_through_file(WS_LOG_JSON, &f, 0, 0, 0, got, sizeof(got));
    assert_string_equal(got,
                        "{\"time\":\"1994-11-06T08:49:37Z\",\"client\":\"2001:db8::1\","
                        "\"request\":\"GET /a?b HTTP/1.1\",\"status\":304,\"bytes\":0,"
                        "\"referer\":\"\",\"user_agent\":\"\",\"wait_us\":0,\"serve_us\":0}\n");
}

struct json_escape_case {
    const char *desc;
    const char *field;
    size_t len;
    const char *logged;
};

/* clang-format off */
#define JESC(d, f, l) { d, f, LIT_LEN(f), l }
static const struct json_escape_case json_escape_cases[] = {
    JESC("plain",                  "Mozilla/5.0 (X11)",   "Mozilla/5.0 (X11)"),
    JESC("double quote",           "a\"b",                "a\\u0022b"),
    JESC("backslash",              "a\\b",                "a\\u005cb"),
    JESC("escape-looking text",    "\\u0022\\\"",         "\\u005cu0022\\u005c\\u0022"),
    JESC("JSON injection",         "\",\"status\":999,\"x\":\"", "\\u0022,\\u0022status\\u0022:999,\\u0022x\\u0022:\\u0022"),
    JESC("newline and CR",         "a\r\nb",              "a\\u000d\\u000ab"),
    JESC("tab",                    "a\tb",                "a\\u0009b"),
    JESC("NUL",                    "a\0b",                "a\\u0000b"),
    JESC("ESC",                    "\x1b[2J",             "\\u001b[2J"),
    JESC("DEL",                    "\x7f",                "\\u007f"),
    JESC("UTF-8 bytes one by one", "caf\xc3\xa9",         "caf\\u00c3\\u00a9"),
    JESC("high bytes",             "\x80\xfe\xff",        "\\u0080\\u00fe\\u00ff"),
    JESC("slash and braces stay",  "</script>{}[]",       "</script>{}[]"),
    JESC("a dash is not absent",   "-",                   "-"),
};
/* clang-format on */

static void test_json_escaping(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(json_escape_cases); i++) {
        const struct json_escape_case *c = &json_escape_cases[i];
        struct ws_access_fields f = sample;
        char line[WS_LOG_LINE_MAX], want[2048];
        size_t split;

        f.user_agent = (struct ws_view){ c->field, c->len };
        ws_log_format_start(WS_LOG_JSON, line, sizeof(line), &f, &split);
        snprintf(want, sizeof(want), "\"user_agent\":\"%s\"", c->logged);
        check_true(c->desc, strstr(line, want) != NULL);

        f = sample;
        f.referer = (struct ws_view){ c->field, c->len };
        ws_log_format_start(WS_LOG_JSON, line, sizeof(line), &f, &split);
        snprintf(want, sizeof(want), "\"referer\":\"%s\"", c->logged);
        check_true(c->desc, strstr(line, want) != NULL);

        f = sample;
        f.request_line = (struct ws_view){ c->field, c->len };
        ws_log_format_start(WS_LOG_JSON, line, sizeof(line), &f, &split);
        snprintf(want, sizeof(want), "\"request\":\"%s\"", c->logged);
        check_true(c->desc, strstr(line, want) != NULL);
    }
}

/* Every byte in every field: printable ASCII only, and every quote is structural. */
static void test_json_every_byte_and_truncation(void **state)
{
    static char huge[20000];
    char field[256], line[WS_LOG_LINE_MAX];
    struct ws_access_fields f = sample;
    size_t len, split, quotes = 0;

    for (int b = 0; b < 256; b++)
        field[b] = (char)b;
    f.request_line = f.referer = f.user_agent = (struct ws_view){ field, 256 };
    len = ws_log_format_start(WS_LOG_JSON, line, sizeof(line), &f, &split);
    for (size_t i = 0; i < len; i++) {
        assert_true(line[i] >= 0x20 && line[i] < 0x7f);
        quotes += line[i] == '"';
    }
    /* time, client, request, status, bytes, referer, user_agent: 7 keys, 5 string values. */
    assert_int_equal(quotes, 2 * 7 + 2 * 5);
    /* 256 bytes: 93 stay, 163 become six: 93 + 163 * 6 per field. */
    assert_int_equal(strlen(line), len);
    assert_int_equal(len, strlen("{\"time\":\"1994-11-06T08:49:37Z\",\"client\":\"192.0.2.1\","
                                 "\"request\":\"\",\"status\":200,\"bytes\":,\"referer\":\"\","
                                 "\"user_agent\":\"\"") +
                              3 * (93 + 163 * 6));

    /* Long fields are cut, marked, and the object still closes within the buffer. */
    memset(huge, 0x01, sizeof(huge));
    f.request_line = f.referer = f.user_agent = (struct ws_view){ huge, sizeof(huge) };
    len = ws_log_format_start(WS_LOG_JSON, line, sizeof(line), &f, &split);
    assert_true(len < WS_LOG_LINE_MAX);
    assert_int_equal(line[len - 1], '"');
    assert_non_null(strstr(line, "\\u0001...\",\"status\":200,\"bytes\":"));
    assert_memory_equal(line + split - 9, ",\"bytes\":", 9);
}

/* --- reopening (SIGHUP) --------------------------------------------------------- */

/* Writes one access line with the given byte count. */
static void write_line(struct ws_log *log, uint64_t bytes)
{
    char parts[WS_LOG_LINE_MAX];
    size_t split, len = ws_log_format_start(WS_LOG_COMBINED, parts, sizeof(parts), &sample, &split);
    ws_log_access(log, NULL, parts, len, split, bytes, 0, 0);
}

static void test_reopen_after_rename(void **state)
{
    char dir[] = "/tmp/ws_test_reopen_XXXXXX";
    char access[128], access_old[128], error[128], error_old[128];
    static char got[8192];
    struct ws_log *log;
    int saved_stderr;

    assert_non_null(mkdtemp(dir));
    snprintf(access, sizeof(access), "%s/access.log", dir);
    snprintf(access_old, sizeof(access_old), "%s/access.log.1", dir);
    snprintf(error, sizeof(error), "%s/error.log", dir);
    snprintf(error_old, sizeof(error_old), "%s/error.log.1", dir);

    /* The error log file becomes standard error: keep ours to restore it. */
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    log = ws_log_open(access, error, WS_LOG_COMBINED);
    if (log == NULL) {
        dup2(saved_stderr, STDERR_FILENO);
        fail_msg("ws_log_open failed");
    }
    assert_int_equal(ws_log_take_stderr(log), 0); /* as the server does once started */
    write_line(log, 1);
    ws_log_error(log, "before");

    /* logrotate: rename, then signal. Until the reopen, lines follow the old file. */
    rename(access, access_old);
    rename(error, error_old);
    write_line(log, 2);
    int rc = ws_log_reopen(log);
    write_line(log, 3);
    ws_log_error(log, "after");
    int rc_again = ws_log_reopen(log); /* no rename: same file, appended to */
    write_line(log, 4);
    ws_log_close(log);
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO); /* restored before any assertion can print */
    close(saved_stderr);

    assert_int_equal(rc, 0);
    assert_int_equal(rc_again, 0);
    read_file(access_old, got, sizeof(got));
    assert_string_equal(got, PREFIX "GET /a?b HTTP/1.1\" 200 1 \"http://r/\" \"curl/8\"\n" PREFIX
                                    "GET /a?b HTTP/1.1\" 200 2 \"http://r/\" \"curl/8\"\n");
    read_file(access, got, sizeof(got));
    assert_string_equal(got, PREFIX "GET /a?b HTTP/1.1\" 200 3 \"http://r/\" \"curl/8\"\n" PREFIX
                                    "GET /a?b HTTP/1.1\" 200 4 \"http://r/\" \"curl/8\"\n");
    read_file(error_old, got, sizeof(got));
    assert_string_equal(got, "webserver: before\n");
    read_file(error, got, sizeof(got));
    assert_string_equal(got, "webserver: after\n");

    unlink(access);
    unlink(access_old);
    unlink(error);
    unlink(error_old);
    rmdir(dir);
}

/* A file that cannot be opened again: -errno, and the old one keeps every line. */
static void test_reopen_failure_keeps_the_old_file(void **state)
{
    char dir[] = "/tmp/ws_test_reopen_XXXXXX";
    char moved[64], access[128], access_moved[128];
    static char got[8192];
    struct ws_log *log;

    assert_non_null(mkdtemp(dir));
    snprintf(moved, sizeof(moved), "%s.moved", dir);
    snprintf(access, sizeof(access), "%s/access.log", dir);
    snprintf(access_moved, sizeof(access_moved), "%s/access.log", moved);

    log = ws_log_open(access, NULL, WS_LOG_COMBINED);
    assert_non_null(log);
    write_line(log, 1);
    assert_int_equal(rename(dir, moved), 0); /* the directory is gone by that name */
    assert_int_equal(ws_log_reopen(log), -ENOENT);
    write_line(log, 2);
    ws_log_close(log);

    read_file(access_moved, got, sizeof(got));
    assert_string_equal(got, PREFIX "GET /a?b HTTP/1.1\" 200 1 \"http://r/\" \"curl/8\"\n" PREFIX
                                    "GET /a?b HTTP/1.1\" 200 2 \"http://r/\" \"curl/8\"\n");
    unlink(access_moved);
    rmdir(moved);
}

/* Standard output and error are left alone, and off stays off. */
static void test_reopen_std_streams(void **state)
{
    struct ws_log *log = ws_log_open("-", NULL, WS_LOG_JSON);
    struct stat before, after;

    assert_non_null(log);
    assert_int_equal(fstat(STDOUT_FILENO, &before), 0);
    assert_int_equal(ws_log_reopen(log), 0);
    assert_int_equal(fstat(STDOUT_FILENO, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(ws_log_format(log), WS_LOG_JSON);
    ws_log_close(log);

    log = ws_log_open(NULL, NULL, WS_LOG_TIMING);
    assert_non_null(log);
    assert_int_equal(ws_log_reopen(log), 0);
    assert_false(ws_log_access_enabled(log));
    ws_log_close(log);
}

/* --- a worker's buffer ------------------------------------------------------------ */

/* Counts the lines of a file and checks each is a whole Combined line with count 1..n in order. */
static void check_numbered_lines(const char *path, int n)
{
    static char got[1 << 20];
    char *line = got, *end;
    int i = 0;

    read_file(path, got, sizeof(got));
    while ((end = strchr(line, '\n')) != NULL) {
        char want[32];
        i++;
        snprintf(want, sizeof(want), "\" 200 %d \"", i);
        *end = '\0';
        assert_true(strncmp(line, PREFIX, strlen(PREFIX)) == 0);
        assert_non_null(strstr(line, want));
        assert_int_equal(line[end - line - 1], '"');
        line = end + 1;
    }
    assert_int_equal(*line, '\0'); /* nothing after the last newline */
    assert_int_equal(i, n);
}

static void test_buffered_lines(void **state)
{
    static struct ws_log_buffer buf;
    static char agent[400];
    char path[] = "/tmp/ws_test_buf_XXXXXX";
    char parts[WS_LOG_LINE_MAX];
    struct ws_access_fields f = sample;
    struct ws_log *log;
    struct stat st;
    size_t split, len;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    log = ws_log_open(path, NULL, WS_LOG_COMBINED);
    assert_non_null(log);
    /* Long lines (an agent of 400 escaped bytes, 1600 characters): the buffer fills. */
    memset(agent, 0x01, sizeof(agent));
    f.user_agent = (struct ws_view){ agent, sizeof(agent) };
    len = ws_log_format_start(WS_LOG_COMBINED, parts, sizeof(parts), &f, &split);

    buf.len = 0;
    ws_log_access(log, &buf, parts, len, split, 1, 0, 0);
    ws_log_access(log, &buf, parts, len, split, 2, 0, 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0); /* held in the buffer */
    ws_log_flush(log, &buf);
    assert_int_equal(buf.len, 0);
    check_numbered_lines(path, 2);
    ws_log_flush(log, &buf); /* empty: nothing */
    check_numbered_lines(path, 2);

    /* Many more than fit: written whole as the buffer fills, in order, none split. */
    for (int i = 3; i <= 200; i++)
        ws_log_access(log, &buf, parts, len, split, (uint64_t)i, 0, 0);
    assert_true(buf.len > 0 && buf.len <= sizeof(buf.data));
    ws_log_flush(log, &buf);
    check_numbered_lines(path, 200);
    ws_log_close(log);
    unlink(path);
}

/* Lines still in a buffer when the files are reopened go to the new file, whole. */
static void test_buffered_lines_across_reopen(void **state)
{
    static struct ws_log_buffer buf;
    char dir[] = "/tmp/ws_test_bufre_XXXXXX";
    char access[128], access_old[128];
    char parts[WS_LOG_LINE_MAX];
    struct ws_log *log;
    size_t split, len;

    assert_non_null(mkdtemp(dir));
    snprintf(access, sizeof(access), "%s/access.log", dir);
    snprintf(access_old, sizeof(access_old), "%s/access.log.1", dir);
    log = ws_log_open(access, NULL, WS_LOG_COMBINED);
    assert_non_null(log);
    len = ws_log_format_start(WS_LOG_COMBINED, parts, sizeof(parts), &sample, &split);

    buf.len = 0;
    ws_log_access(log, &buf, parts, len, split, 1, 0, 0);
    ws_log_flush(log, &buf);
    ws_log_access(log, &buf, parts, len, split, 2, 0, 0); /* buffered across the rotation */
    assert_int_equal(rename(access, access_old), 0);
    assert_int_equal(ws_log_reopen(log), 0);
    ws_log_access(log, &buf, parts, len, split, 3, 0, 0);
    ws_log_flush(log, &buf);
    ws_log_close(log);

    check_numbered_lines(access_old, 1);
    {
        static char got[4096];
        read_file(access, got, sizeof(got));
        assert_string_equal(got,
                            PREFIX "GET /a?b HTTP/1.1\" 200 2 \"http://r/\" \"curl/8\"\n" PREFIX
                                   "GET /a?b HTTP/1.1\" 200 3 \"http://r/\" \"curl/8\"\n");
    }
    unlink(access);
    unlink(access_old);
    rmdir(dir);
}

/* --- the print lock under contention ---------------------------------------------- */

/*
 * Eight threads write at once: access lines through their own buffers (flushed
 * in writes of up to 64 KiB) and directly, and error lines. Every line names
 * its thread and its sequence number, so afterwards each (thread, seq) must be
 * found exactly once, as a whole line equal to the one that was written.
 */
#define LOCK_THREADS      8
#define LOCK_BUFFERED     1500                          /* access lines through the buffer */
#define LOCK_DIRECT       (LOCK_BUFFERED / 10)          /* access lines written at once */
#define LOCK_ERRORS       (LOCK_BUFFERED / 10)          /* error lines */
#define LOCK_ACCESS       (LOCK_BUFFERED + LOCK_DIRECT) /* access lines in all, per thread */
#define LOCK_JOIN_SECONDS 60

struct lock_writer {
    pthread_t thread;
    struct ws_log *log;
    int id;
    int with_errors;
    struct ws_log_buffer buf;
};

/* The fields of access line seq of thread id; req and agent are the caller's. */
static struct ws_access_fields lock_fields(int id, int seq, char *req, size_t req_size, char *agent,
                                           size_t agent_size)
{
    struct ws_access_fields f = sample;
    int n = snprintf(req, req_size, "GET /t%02d/s%06d HTTP/1.1", id, seq);

    /* A long agent makes long lines, so the buffers flush often and in big writes. */
    memset(agent, 'a' + id, agent_size - 1);
    agent[agent_size - 1] = '\0';
    f.request_line = (struct ws_view){ req, (size_t)n };
    f.user_agent = (struct ws_view){ agent, agent_size - 1 };
    f.referer = (struct ws_view){ "", 0 };
    return f;
}

static const char error_pad[] = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
                                "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

/* A writer thread: only calls into the log, never asserts. */
static void *lock_write(void *arg)
{
    struct lock_writer *w = arg;
    char parts[WS_LOG_LINE_MAX], req[64], agent[300];
    size_t split, len;

    w->buf.len = 0;
    for (int i = 0; i < LOCK_BUFFERED; i++) {
        struct ws_access_fields f = lock_fields(w->id, i, req, sizeof(req), agent, sizeof(agent));
        len = ws_log_format_start(WS_LOG_COMBINED, parts, sizeof(parts), &f, &split);
        ws_log_access(w->log, &w->buf, parts, len, split, (uint64_t)i + 1, 0, 0);
        if (i % 10 == 0) {
            int seq = LOCK_BUFFERED + i / 10;
            f = lock_fields(w->id, seq, req, sizeof(req), agent, sizeof(agent));
            len = ws_log_format_start(WS_LOG_COMBINED, parts, sizeof(parts), &f, &split);
            ws_log_access(w->log, NULL, parts, len, split, (uint64_t)seq + 1, 0, 0);
            if (w->with_errors)
                ws_log_error(w->log, "t%02d s%06d %s", w->id, i / 10, error_pad);
        }
    }
    ws_log_flush(w->log, &w->buf);
    return NULL;
}

/* Copies a FIFO into a file until every writer has closed it; never asserts. */
struct fifo_copier {
    pthread_t thread;
    int from, to;
    int err; /* errno of a failed read or write, else 0 */
};

static void *copy_fifo(void *arg)
{
    struct fifo_copier *c = arg;
    char chunk[16384];
    ssize_t n;

    while ((n = read(c->from, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            c->err = errno;
            return NULL;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t m = write(c->to, chunk + off, (size_t)(n - off));
            if (m < 0 && errno != EINTR) {
                c->err = errno;
                return NULL;
            }
            off += m > 0 ? m : 0;
        }
    }
    return NULL;
}

/* Joins t within LOCK_JOIN_SECONDS; 0, or the error (ETIMEDOUT: it is stuck). */
static int timed_join(pthread_t t)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += LOCK_JOIN_SECONDS;
    return pthread_timedjoin_np(t, NULL, &until);
}

/* The whole of a file, NUL-terminated, in a heap block; *len its length. */
static char *slurp(const char *path, size_t *len)
{
    struct stat st;
    char *data;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    data = malloc((size_t)st.st_size + 1);
    assert_non_null(data);
    *len = 0;
    while (*len < (size_t)st.st_size) {
        ssize_t n = read(fd, data + *len, (size_t)st.st_size - *len);
        assert_true(n > 0);
        *len += (size_t)n;
    }
    data[*len] = '\0';
    close(fd);
    return data;
}

/*
 * Checks that the file holds exactly LOCK_THREADS * per_thread lines, each the
 * whole line that was written for its (thread, seq), each (thread, seq) once.
 */
static void check_lock_lines(const char *path, int error_lines)
{
    const int per_thread = error_lines ? LOCK_ERRORS : LOCK_ACCESS;
    static int seen[LOCK_THREADS][LOCK_ACCESS];
    int foreign = 0, missing = 0, twice = 0;
    size_t trailing;
    char want[WS_LOG_LINE_MAX + 64], first_foreign[160] = "";
    size_t len;
    char *data = slurp(path, &len), *line = data, *end;

    memset(seen, 0, sizeof(seen));
    while ((end = memchr(line, '\n', len - (size_t)(line - data))) != NULL) {
        size_t n = (size_t)(end - line) + 1, want_len = 0;
        int id = -1, seq = -1;
        char head[128]; /* the line's start, where its tag is, as a short C string */
        const char *tag;

        memcpy(head, line, n < sizeof(head) ? n : sizeof(head) - 1);
        head[n < sizeof(head) ? n : sizeof(head) - 1] = '\0';
        tag = error_lines ? head : strstr(head, "\"GET /t");

        if (error_lines && sscanf(tag, "webserver: t%2d s%6d ", &id, &seq) == 2 && id >= 0 &&
            id < LOCK_THREADS && seq >= 0 && seq < per_thread) {
            want_len = (size_t)snprintf(want, sizeof(want), "webserver: t%02d s%06d %s\n", id, seq,
                                        error_pad);
        } else if (!error_lines && tag != NULL &&
                   sscanf(tag, "\"GET /t%2d/s%6d ", &id, &seq) == 2 && id >= 0 &&
                   id < LOCK_THREADS && seq >= 0 && seq < per_thread) {
            char req[64], agent[300], count[16];
            struct ws_access_fields f =
                lock_fields(id, seq, req, sizeof(req), agent, sizeof(agent));
            snprintf(count, sizeof(count), "%d", seq + 1);
            want_len = format_with_count(want, sizeof(want), f.request_line, f.status, f.referer,
                                         f.user_agent, count);
        }
        if (want_len == n && memcmp(line, want, n) == 0) {
            seen[id][seq]++;
        } else if (foreign++ == 0) {
            printable(line, n > 60 ? 60 : n, first_foreign, sizeof(first_foreign));
        }
        line = end + 1;
    }
    trailing = len - (size_t)(line - data);
    free(data);
    for (int id = 0; id < LOCK_THREADS; id++) {
        for (int seq = 0; seq < per_thread; seq++) {
            missing += seen[id][seq] == 0;
            twice += seen[id][seq] > 1;
        }
    }
    if (foreign > 0 || missing > 0 || twice > 0 || trailing > 0)
        print_error("%s: %d lines split or mixed (the first: \"%s\"), %d lost, %d written twice, "
                    "%zu bytes after the last newline\n",
                    path, foreign, first_foreign, missing, twice, trailing);
    assert_int_equal(foreign, 0);
    assert_int_equal(missing, 0);
    assert_int_equal(twice, 0);
    assert_int_equal(trailing, 0);
}

/* Starts the writers on log, joins them and closes log; returns how many did not end. */
static int run_lock_writers(struct ws_log *log, struct lock_writer *w, int with_errors)
{
    int started = 0, stuck = 0;

    for (int i = 0; i < LOCK_THREADS; i++) {
        w[i].log = log;
        w[i].id = i;
        w[i].with_errors = with_errors;
        if (pthread_create(&w[i].thread, NULL, lock_write, &w[i]) != 0)
            break;
        started++;
    }
    for (int i = 0; i < started; i++)
        stuck += timed_join(w[i].thread) != 0;
    if (stuck == 0)
        ws_log_close(log); /* not under a writer that may still use it */
    return stuck + (LOCK_THREADS - started);
}

/*
 * Regular files, as deployed: the access log and the error log (which also
 * goes to standard error while the server starts, so that is captured too).
 * Linux already makes each write(2) to a file opened O_APPEND whole, so this
 * one cannot see the print lock go; it checks that no line is lost, doubled or
 * cut on the way (buffers, flushes, the error log's two copies). The pipe test
 * below is the one that fails without the lock.
 */
static void test_print_lock_files(void **state)
{
    static struct lock_writer w[LOCK_THREADS];
    char dir[] = "/tmp/ws_test_lock_XXXXXX";
    char access[128], error[128], stderr_copy[128];
    struct ws_log *log;
    int saved, fd, failed = -1;

    assert_non_null(mkdtemp(dir));
    snprintf(access, sizeof(access), "%s/access.log", dir);
    snprintf(error, sizeof(error), "%s/error.log", dir);
    snprintf(stderr_copy, sizeof(stderr_copy), "%s/stderr", dir);
    fd = open(stderr_copy, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    saved = dup(STDERR_FILENO);
    assert_true(fd >= 0 && saved >= 0);

    fflush(stderr);
    dup2(fd, STDERR_FILENO); /* no assertion until it is restored */
    log = ws_log_open(access, error, WS_LOG_COMBINED);
    if (log != NULL)
        failed = run_lock_writers(log, w, 1);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);

    assert_non_null(log);
    assert_int_equal(failed, 0);
    check_lock_lines(access, 0);
    check_lock_lines(error, 1);
    check_lock_lines(stderr_copy, 1);
    unlink(access);
    unlink(error);
    unlink(stderr_copy);
    rmdir(dir);
}

/*
 * The access log as a pipe (a FIFO copied into a file by a reader thread). A
 * regular file opened O_APPEND is written by Linux one write(2) at a time
 * anyway, but a write of more than PIPE_BUF bytes to a pipe may be split and
 * mixed with another's: here only the print lock keeps flushed buffers whole.
 */
static void test_print_lock_pipe(void **state)
{
    static struct lock_writer w[LOCK_THREADS];
    struct fifo_copier copier = { .err = 0 };
    char dir[] = "/tmp/ws_test_lock_XXXXXX";
    char fifo[128], copy[128];
    struct ws_log *log;

    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/access.fifo", dir);
    snprintf(copy, sizeof(copy), "%s/access.log", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* Open for reading first (without blocking), so that ws_log_open's open does not block. */
    copier.from = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(copier.from >= 0);
    copier.to = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(copier.to >= 0);
    log = ws_log_open(fifo, NULL, WS_LOG_COMBINED);
    assert_non_null(log);
    assert_int_equal(fcntl(copier.from, F_SETFL, 0), 0); /* now block until data or EOF */
    assert_int_equal(pthread_create(&copier.thread, NULL, copy_fifo, &copier), 0);

    assert_int_equal(run_lock_writers(log, w, 0), 0);
    assert_int_equal(timed_join(copier.thread), 0); /* EOF once the log closed the FIFO */
    assert_int_equal(copier.err, 0);
    close(copier.from);
    close(copier.to);

    check_lock_lines(copy, 0);
    unlink(fifo);
    unlink(copy);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_access_file),
        cmocka_unit_test(test_open_variants),
        cmocka_unit_test(test_error_log),
        cmocka_unit_test(test_timing_format),
        cmocka_unit_test(test_json_format),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_json_every_byte_and_truncation),
        cmocka_unit_test(test_reopen_after_rename),
        cmocka_unit_test(test_reopen_failure_keeps_the_old_file),
        cmocka_unit_test(test_reopen_std_streams),
        cmocka_unit_test(test_buffered_lines),
        cmocka_unit_test(test_buffered_lines_across_reopen),
        cmocka_unit_test(test_print_lock_files),
        cmocka_unit_test(test_print_lock_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
