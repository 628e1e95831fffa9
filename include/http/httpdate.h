/*
 * http/httpdate.h - HTTP dates (RFC 9110 §5.6.7). Pure and thread-safe.
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

/*
 * Parses an HTTP-date in any of the three formats a recipient must accept
 * (RFC 9110 §5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", obsolete
 * RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994".
 * A two-digit RFC 850 year yy means 20yy when yy < 70 and 19yy otherwise (the
 * RFC's "not more than 50 years in the future" rule, fixed so the function
 * stays pure; it agrees with the RFC until 2070).
 * The day name is checked for form, not against the date. Leading and trailing
 * whitespace is not accepted. Returns 0 with *out set, or -1 if s[0..len) is not
 * a valid date (bad field, day 31 in a 30-day month, 25:00:00, ...).
 */
int ws_httpdate_parse(const char *s, size_t len, time_t *out);

#endif
