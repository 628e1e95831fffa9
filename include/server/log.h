/*
 * server/log.h - the access log and the error log, behind one print lock.
 *
 * DESIGN
 * A struct ws_log owns the two log descriptors and a mutex, the print lock.
 * Callers format whole lines into their own memory first (a worker collects
 * its access lines in its own struct ws_log_buffer); under the lock there is
 * only write(2) of whole lines, so lines never interleave or split and the
 * lock is held for one system call. ws_log_reopen (SIGHUP, for logrotate) opens the
 * files again and swaps them in under the same lock, so no line is lost or
 * split across the old and the new file. Any thread may call any function here
 * once ws_log_open has returned and until ws_log_close is called.
 */
#ifndef WS_LOG_H
#define WS_LOG_H

#include "http/request_parser.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct ws_log;

/* Buffer size that always holds the start of a line from ws_log_format_start. */
#define WS_LOG_LINE_MAX 8192

enum ws_log_format {
    WS_LOG_COMBINED = 0, /* Combined Log Format */
    WS_LOG_TIMING,       /* Combined, then the ring wait and the service time in µs */
    WS_LOG_JSON,         /* one JSON object per line */
};

/*
 * Opens the logs. access_path is a file (appended to, created 0644), "-" for
 * standard output, or NULL for no access log. error_path is a file, or NULL
 * or "-" for standard error. Until ws_log_take_stderr, error lines go to both
 * the file and standard error, so a server that fails to start says why where
 * it was started. Returns NULL with errno set on failure.
 */
struct ws_log *ws_log_open(const char *access_path, const char *error_path,
                           enum ws_log_format format);

/*
 * Once the server has started: makes the error log file (if any) the
 * process's standard error, so anything else written there (a sanitizer
 * report) lands in it too. Returns 0 or -errno.
 */
int ws_log_take_stderr(struct ws_log *log);

/* Closes the files it opened and frees the handle. */
void ws_log_close(struct ws_log *log);

/*
 * Opens the log files again by name (after logrotate renamed them) and swaps
 * them in under the print lock. Standard output and error are left alone.
 * Returns 0, or -errno if a file could not be opened (the old one stays).
 */
int ws_log_reopen(struct ws_log *log);

/* Whether access lines are wanted at all; lets callers skip formatting. */
int ws_log_access_enabled(const struct ws_log *log);

/* The configured format. */
enum ws_log_format ws_log_format(const struct ws_log *log);

/* What is known of a request's log entry when its response starts. */
struct ws_access_fields {
    const char *client; /* address, as text */
    time_t when;        /* when the request was received */
    struct ws_view request_line;
    int status;
    struct ws_view referer;    /* empty when absent */
    struct ws_view user_agent; /* empty when absent */
    const char *tls_version;   /* "TLSv1.3", or NULL over cleartext */
    const char *tls_cipher;    /* with tls_version: the cipher suite's name */
    int stream;                /* HTTP/2 stream id, or 0 */
    struct ws_view user;       /* the user Basic authentication let in; empty when none */
};

/*
 * Formats the start of an access log line, everything but the numbers known
 * only when the response ends, into out (size bytes):
 *   combined/timing: client - user [time] "request line" status <bytes> "referer" "agent"
 *                    (user "-" when none was authenticated)
 *   json: {"time":"...","client":"...",["user":"...",]"request":"...","status":N,"bytes":<bytes>,
 *                    "referer":"...","user_agent":"..."
 * Over TLS, timing adds " <version> <cipher>" and json ',"tls_version":"...",
 * "tls_cipher":"..."', and for an HTTP/2 stream " stream=N" and ',"stream":N';
 * combined stays the Combined Log Format.
 * Untrusted fields are escaped (", \\ and bytes outside printable ASCII become
 * \\xNN, or \\u00NN in JSON) and long ones truncated, so a line is always one
 * line. *split receives the offset where the byte count belongs. Returns the
 * length written. Pure: usable from any thread.
 */
size_t ws_log_format_start(enum ws_log_format format, char *out, size_t size,
                           const struct ws_access_fields *f, size_t *split);

/* ws_log_format_start for the Combined Log Format (kept for callers and tests). */
size_t ws_log_format_combined(char *out, size_t size, const char *client, time_t when,
                              struct ws_view request_line, int status, struct ws_view referer,
                              struct ws_view user_agent, size_t *split);

/*
 * A worker's own buffer of finished access log lines. Lines are appended
 * without any lock and written in one write(2), under the print lock, when the
 * buffer is nearly full or the worker is about to sleep (ws_log_flush), so
 * a busy server writes its log in large pieces and an idle one promptly.
 */
#define WS_LOG_BUFFER (64 * 1024)
struct ws_log_buffer {
    size_t len;
    char data[WS_LOG_BUFFER];
};

/*
 * Finishes a line started by ws_log_format_start: the byte count goes in at
 * split, and the end of the line depends on the format (timing: the ring wait
 * and the service time in microseconds; json: the same as fields, and "}").
 * With buf, the line is appended to it (flushed first if it might not fit);
 * with NULL, written at once.
 */
void ws_log_access(struct ws_log *log, struct ws_log_buffer *buf, const char *parts, size_t len,
                   size_t split, uint64_t bytes, int64_t wait_us, int64_t serve_us);

/* Writes out and empties a worker's buffer. The worker that owns buf only. */
void ws_log_flush(struct ws_log *log, struct ws_log_buffer *buf);

/* Writes "webserver: <message>\n" to the error log. */
void ws_log_error(struct ws_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
