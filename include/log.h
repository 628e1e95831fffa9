/*
 * log.h - the access log and the error log, behind one print lock.
 *
 * DESIGN
 * A struct ws_log owns the access log descriptor and a mutex, the print lock.
 * Callers format a whole line into their own memory first; under the lock
 * there is only write(2), so lines never interleave or split and the lock is
 * held for one system call. Any thread may call any function here once
 * ws_log_open has returned and until ws_log_close is called.
 */
#ifndef WS_LOG_H
#define WS_LOG_H

#include "http_parser.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct ws_log;

/* Buffer size that always holds a line from ws_log_format_combined. */
#define WS_LOG_LINE_MAX 8192

/*
 * Opens the logs: access_path is a file (appended to, created 0644), "-" for
 * standard output, or NULL for no access log. The error log is standard error.
 * Returns NULL with errno set on failure.
 */
struct ws_log *ws_log_open(const char *access_path);

/* Closes the access log file (not stdout) and frees the handle. */
void ws_log_close(struct ws_log *log);

/* Whether access lines are wanted at all; lets callers skip formatting. */
int ws_log_access_enabled(const struct ws_log *log);

/*
 * Formats the parts of a Combined Log Format line that are known when a response
 * starts, that is everything but the body byte count, into out (size bytes):
 *   client - - [time] "request line" status <bytes> "referer" "user-agent"
 * Untrusted fields are escaped (", \ and bytes outside printable ASCII become
 * \xNN) and long ones truncated, so a line is always one line. *split receives
 * the offset where the byte count belongs. Returns the length written.
 * Pure: usable from any thread.
 */
size_t ws_log_format_combined(char *out, size_t size, const char *client, time_t when,
                              struct ws_view request_line, int status, struct ws_view referer,
                              struct ws_view user_agent, size_t *split);

/* Writes a line made by ws_log_format_combined, with the byte count inserted. */
void ws_log_access(struct ws_log *log, const char *parts, size_t len, size_t split, uint64_t bytes);

/* Writes "webserver: <message>\n" to the error log. */
void ws_log_error(struct ws_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
