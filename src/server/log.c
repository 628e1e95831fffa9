/*
 * server/log.c - access and error logs behind the print lock; see log.h for the design.
 */
#include "server/log.h"

#include "http/httpdate.h"
#include "server/sync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Longest raw field copied into a line, before escaping: the three long fields
 * (request line, referer, agent) escaped at up to 6 bytes a byte (JSON), plus
 * the fixed parts, always fit in WS_LOG_LINE_MAX, so a line is never cut short
 * of its closing quote.
 */
#define LOG_FIELD_MAX 400
_Static_assert(3 * (6 * LOG_FIELD_MAX + 3) + 256 < WS_LOG_LINE_MAX,
               "a formatted access line must fit in WS_LOG_LINE_MAX");

struct ws_log {
    pthread_mutex_t print_lock;
    enum ws_log_format format;
    int access_fd;     /* -1 when off */
    char *access_path; /* the file's name, or NULL for stdout or off */
    char *error_path;  /* the file's name, or NULL for stderr */
    int error_fd;      /* the error file until it replaces stderr; -1 after, or without one */
};

static int open_append(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

struct ws_log *ws_log_open(const char *access_path, const char *error_path,
                           enum ws_log_format format)
{
    struct ws_log *log = calloc(1, sizeof(*log));
    int err;

    if (log == NULL)
        return NULL;
    log->format = format;
    log->access_fd = -1;
    if (access_path != NULL && strcmp(access_path, "-") == 0) {
        log->access_fd = STDOUT_FILENO;
    } else if (access_path != NULL) {
        log->access_path = strdup(access_path);
        if (log->access_path == NULL || (log->access_fd = open_append(access_path)) < 0)
            goto fail;
    }
    log->error_fd = -1;
    if (error_path != NULL && strcmp(error_path, "-") != 0) {
        log->error_path = strdup(error_path);
        if (log->error_path == NULL || (log->error_fd = open_append(error_path)) < 0)
            goto fail;
    }
    if ((err = pthread_mutex_init(&log->print_lock, NULL)) != 0) {
        errno = err;
        goto fail;
    }
    return log;

fail:
    err = errno;
    if (log->access_path != NULL && log->access_fd >= 0)
        close(log->access_fd);
    if (log->error_fd >= 0)
        close(log->error_fd);
    free(log->access_path);
    free(log->error_path);
    free(log);
    errno = err;
    return NULL;
}

void ws_log_close(struct ws_log *log)
{
    if (log == NULL)
        return;
    if (log->access_path != NULL)
        close(log->access_fd);
    if (log->error_fd >= 0)
        close(log->error_fd);
    free(log->access_path);
    free(log->error_path);
    pthread_mutex_destroy(&log->print_lock);
    free(log);
}

int ws_log_take_stderr(struct ws_log *log)
{
    int rc = 0;

    ws_mutex_lock(&log->print_lock);
    if (log->error_fd >= 0) {
        if (dup2(log->error_fd, STDERR_FILENO) < 0)
            rc = -errno;
        close(log->error_fd);
        log->error_fd = -1;
    }
    ws_mutex_unlock(&log->print_lock);
    return rc;
}

int ws_log_reopen(struct ws_log *log)
{
    int access_fd = -1, error_fd = -1, err = 0;

    if (log->access_path != NULL && (access_fd = open_append(log->access_path)) < 0)
        err = -errno;
    if (log->error_path != NULL && log->error_fd < 0 &&
        (error_fd = open_append(log->error_path)) < 0)
        err = -errno;

    /* dup2 replaces each descriptor in one step, so writers see old or new. */
    ws_mutex_lock(&log->print_lock);
    if (access_fd >= 0)
        dup2(access_fd, log->access_fd);
    if (error_fd >= 0)
        dup2(error_fd, STDERR_FILENO);
    ws_mutex_unlock(&log->print_lock);

    if (access_fd >= 0)
        close(access_fd);
    if (error_fd >= 0)
        close(error_fd);
    return err;
}

int ws_log_access_enabled(const struct ws_log *log)
{
    return log->access_fd >= 0;
}

enum ws_log_format ws_log_format(const struct ws_log *log)
{
    return log->format;
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

/*
 * Appends v to out[*w..size) escaped, or "-" (in JSON: nothing) when empty;
 * never writes past size - 1.
 */
static void append_escaped(char *out, size_t size, size_t *w, struct ws_view v, int json)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = v.len > LOG_FIELD_MAX ? LOG_FIELD_MAX : v.len;

    if (v.len == 0) {
        if (!json && *w + 1 < size)
            out[(*w)++] = '-';
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            if (*w + 1 >= size)
                return;
            out[(*w)++] = (char)c;
        } else if (json) {
            if (*w + 6 >= size)
                return;
            memcpy(out + *w, "\\u00", 4);
            out[*w + 4] = hex[c >> 4];
            out[*w + 5] = hex[c & 15];
            *w += 6;
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

static void iso_time(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

size_t ws_log_format_start(enum ws_log_format format, char *out, size_t size,
                           const struct ws_access_fields *f, size_t *split)
{
    char date[WS_LOGDATE_LEN + 1], num[16];
    struct ws_view client = { f->client, strlen(f->client) };
    size_t w = 0;

    if (size == 0)
        return 0;
    snprintf(num, sizeof(num), "%d", f->status);
    if (format == WS_LOG_JSON) {
        char iso[32];
        iso_time(f->when, iso, sizeof(iso));
        append_str(out, size, &w, "{\"time\":\"");
        append_str(out, size, &w, iso);
        append_str(out, size, &w, "\",\"client\":\"");
        append_escaped(out, size, &w, client, 1);
        if (f->user.len > 0) {
            append_str(out, size, &w, "\",\"user\":\"");
            append_escaped(out, size, &w, f->user, 1);
        }
        append_str(out, size, &w, "\",\"request\":\"");
        append_escaped(out, size, &w, f->request_line, 1);
        append_str(out, size, &w, "\",\"status\":");
        append_str(out, size, &w, num);
        append_str(out, size, &w, ",\"bytes\":");
        *split = w;
        append_str(out, size, &w, ",\"referer\":\"");
        append_escaped(out, size, &w, f->referer, 1);
        append_str(out, size, &w, "\",\"user_agent\":\"");
        append_escaped(out, size, &w, f->user_agent, 1);
        append_str(out, size, &w, "\"");
        if (f->tls_version != NULL) {
            append_str(out, size, &w, ",\"tls_version\":\"");
            append_str(out, size, &w, f->tls_version);
            append_str(out, size, &w, "\",\"tls_cipher\":\"");
            append_str(out, size, &w, f->tls_cipher);
            append_str(out, size, &w, "\"");
        }
        if (f->stream > 0) {
            snprintf(num, sizeof(num), "%d", f->stream);
            append_str(out, size, &w, ",\"stream\":");
            append_str(out, size, &w, num);
        }
    } else {
        ws_logdate_format(f->when, date);
        append_str(out, size, &w, f->client);
        append_str(out, size, &w, " - ");
        append_escaped(out, size, &w, f->user, 0); /* "-" when empty */
        append_str(out, size, &w, " ");
        append_str(out, size, &w, date);
        append_str(out, size, &w, " \"");
        append_escaped(out, size, &w, f->request_line, 0);
        append_str(out, size, &w, "\" ");
        append_str(out, size, &w, num);
        append_str(out, size, &w, " ");
        *split = w;
        append_str(out, size, &w, " \"");
        append_escaped(out, size, &w, f->referer, 0);
        append_str(out, size, &w, "\" \"");
        append_escaped(out, size, &w, f->user_agent, 0);
        append_str(out, size, &w, "\"");
        if (format == WS_LOG_TIMING && f->tls_version != NULL) {
            append_str(out, size, &w, " ");
            append_str(out, size, &w, f->tls_version);
            append_str(out, size, &w, " ");
            append_str(out, size, &w, f->tls_cipher);
        }
        if (format == WS_LOG_TIMING && f->stream > 0) {
            snprintf(num, sizeof(num), "%d", f->stream);
            append_str(out, size, &w, " stream=");
            append_str(out, size, &w, num);
        }
    }
    out[w] = '\0';
    return w;
}

size_t ws_log_format_combined(char *out, size_t size, const char *client, time_t when,
                              struct ws_view request_line, int status, struct ws_view referer,
                              struct ws_view user_agent, size_t *split)
{
    struct ws_access_fields f = { .client = client,
                                  .when = when,
                                  .request_line = request_line,
                                  .status = status,
                                  .referer = referer,
                                  .user_agent = user_agent };
    return ws_log_format_start(WS_LOG_COMBINED, out, size, &f, split);
}

void ws_log_flush(struct ws_log *log, struct ws_log_buffer *buf)
{
    if (buf->len == 0)
        return;
    ws_mutex_lock(&log->print_lock);
    write_all(log->access_fd, buf->data, buf->len);
    ws_mutex_unlock(&log->print_lock);
    buf->len = 0;
}

void ws_log_access(struct ws_log *log, struct ws_log_buffer *buf, const char *parts, size_t len,
                   size_t split, uint64_t bytes, int64_t wait_us, int64_t serve_us)
{
    char one_line[WS_LOG_LINE_MAX + 128], *line;
    size_t w;
    int n;

    if (log->access_fd < 0 || split > len || len > WS_LOG_LINE_MAX)
        return;
    if (buf != NULL && sizeof(buf->data) - buf->len < sizeof(one_line))
        ws_log_flush(log, buf);
    line = buf != NULL ? buf->data + buf->len : one_line;

    memcpy(line, parts, split);
    w = split;
    if (bytes == 0 && log->format != WS_LOG_JSON)
        n = snprintf(line + w, 32, "-");
    else
        n = snprintf(line + w, 32, "%llu", (unsigned long long)bytes);
    w += (size_t)n;
    memcpy(line + w, parts + split, len - split);
    w += len - split;
    if (log->format == WS_LOG_TIMING)
        n = snprintf(line + w, 96, " %lld %lld\n", (long long)wait_us, (long long)serve_us);
    else if (log->format == WS_LOG_JSON)
        n = snprintf(line + w, 96, ",\"wait_us\":%lld,\"serve_us\":%lld}\n", (long long)wait_us,
                     (long long)serve_us);
    else
        n = snprintf(line + w, 96, "\n");
    w += (size_t)n;

    if (buf != NULL) {
        buf->len += w;
        return;
    }
    ws_mutex_lock(&log->print_lock);
    write_all(log->access_fd, line, w);
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
    if (log->error_fd >= 0)
        write_all(log->error_fd, line, (size_t)n); /* still starting: both */
    ws_mutex_unlock(&log->print_lock);
}
