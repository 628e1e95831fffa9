/*
 * log.c - access and error logs behind the print lock; see log.h for the design.
 */
#include "log.h"

#include "httpdate.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Longest raw field copied into a line, before escaping: three fields escaped
 * at 4 bytes a byte, plus the fixed parts, always fit in WS_LOG_LINE_MAX, so a
 * line is never cut short of its closing quote and newline.
 */
#define LOG_FIELD_MAX 600
_Static_assert(3 * (4 * LOG_FIELD_MAX + 3) + 64 + 46 + WS_LOGDATE_LEN < WS_LOG_LINE_MAX,
               "a formatted access line must fit in WS_LOG_LINE_MAX");

struct ws_log {
    pthread_mutex_t print_lock;
    int access_fd;    /* -1 when off */
    int access_owned; /* we opened it, so we close it */
};

struct ws_log *ws_log_open(const char *access_path)
{
    struct ws_log *log = calloc(1, sizeof(*log));
    int err;

    if (log == NULL)
        return NULL;
    log->access_fd = -1;
    if (access_path != NULL && strcmp(access_path, "-") == 0) {
        log->access_fd = STDOUT_FILENO;
    } else if (access_path != NULL) {
        log->access_fd = open(access_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (log->access_fd < 0) {
            err = errno;
            free(log);
            errno = err;
            return NULL;
        }
        log->access_owned = 1;
    }
    if ((err = pthread_mutex_init(&log->print_lock, NULL)) != 0) {
        if (log->access_owned)
            close(log->access_fd);
        free(log);
        errno = err;
        return NULL;
    }
    return log;
}

void ws_log_close(struct ws_log *log)
{
    if (log == NULL)
        return;
    if (log->access_owned)
        close(log->access_fd);
    pthread_mutex_destroy(&log->print_lock);
    free(log);
}

int ws_log_access_enabled(const struct ws_log *log)
{
    return log->access_fd >= 0;
}

/* Writes all of buf, retrying short writes; a log that fails is dropped silently. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Appends v to out[*w..size) escaped, or "-" when empty; never writes past size - 1. */
static void append_escaped(char *out, size_t size, size_t *w, struct ws_view v)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = v.len > LOG_FIELD_MAX ? LOG_FIELD_MAX : v.len;

    if (v.len == 0) {
        if (*w + 1 < size)
            out[(*w)++] = '-';
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            if (*w + 1 >= size)
                return;
            out[(*w)++] = (char)c;
        } else {
            if (*w + 4 >= size)
                return;
            out[(*w)++] = '\\';
            out[(*w)++] = 'x';
            out[(*w)++] = hex[c >> 4];
            out[(*w)++] = hex[c & 15];
        }
    }
    if (n < v.len && *w + 3 < size) {
        memcpy(out + *w, "...", 3);
        *w += 3;
    }
}

static void append_str(char *out, size_t size, size_t *w, const char *s)
{
    size_t n = strlen(s);
    if (*w + n >= size)
        n = size - *w - 1;
    memcpy(out + *w, s, n);
    *w += n;
}

size_t ws_log_format_combined(char *out, size_t size, const char *client, time_t when,
                              struct ws_view request_line, int status, struct ws_view referer,
                              struct ws_view user_agent, size_t *split)
{
    char date[WS_LOGDATE_LEN + 1], num[16];
    size_t w = 0;

    if (size == 0)
        return 0;
    ws_logdate_format(when, date);
    snprintf(num, sizeof(num), "%d", status);
    append_str(out, size, &w, client);
    append_str(out, size, &w, " - - ");
    append_str(out, size, &w, date);
    append_str(out, size, &w, " \"");
    append_escaped(out, size, &w, request_line);
    append_str(out, size, &w, "\" ");
    append_str(out, size, &w, num);
    append_str(out, size, &w, " ");
    *split = w;
    append_str(out, size, &w, " \"");
    append_escaped(out, size, &w, referer);
    append_str(out, size, &w, "\" \"");
    append_escaped(out, size, &w, user_agent);
    append_str(out, size, &w, "\"\n");
    out[w] = '\0';
    return w;
}

void ws_log_access(struct ws_log *log, const char *parts, size_t len, size_t split, uint64_t bytes)
{
    char line[WS_LOG_LINE_MAX + 32];
    int n;

    if (log->access_fd < 0 || split > len || len > WS_LOG_LINE_MAX)
        return;
    memcpy(line, parts, split);
    if (bytes == 0)
        n = snprintf(line + split, 32, "-");
    else
        n = snprintf(line + split, 32, "%llu", (unsigned long long)bytes);
    memcpy(line + split + (size_t)n, parts + split, len - split);

    ws_mutex_lock(&log->print_lock);
    write_all(log->access_fd, line, len + (size_t)n);
    ws_mutex_unlock(&log->print_lock);
}

void ws_log_error(struct ws_log *log, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n = snprintf(line, sizeof(line), "webserver: ");

    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';

    ws_mutex_lock(&log->print_lock);
    write_all(STDERR_FILENO, line, (size_t)n);
    ws_mutex_unlock(&log->print_lock);
}
