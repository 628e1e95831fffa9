/*
 * httpdate.h - HTTP dates (RFC 9110 §5.6.7). Pure and thread-safe.
 */
#ifndef WS_HTTPDATE_H
#define WS_HTTPDATE_H

#include <stddef.h>
#include <time.h>

/* Length of an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", without the NUL. */
#define WS_HTTPDATE_LEN 29

/* Writes the IMF-fixdate for t into out (at least WS_HTTPDATE_LEN + 1 bytes). */
void ws_httpdate_format(time_t t, char *out);

/*
 * Writes the Common Log Format time "[10/Oct/2000:13:55:36 +0000]" (UTC) for t
 * into out (at least WS_LOGDATE_LEN + 1 bytes).
 */
#define WS_LOGDATE_LEN 28
void ws_logdate_format(time_t t, char *out);

#endif
