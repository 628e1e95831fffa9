/*
 * mime.h - media types for file names. Pure; the table is constant.
 */
#ifndef WS_MIME_H
#define WS_MIME_H

#include <stddef.h>

/*
 * The Content-Type field value for a file name (or path): chosen by the
 * extension after the last '.' of the last segment, case-insensitively; text
 * types carry "; charset=utf-8". Unknown or missing extensions give
 * "application/octet-stream". The result is a static string.
 */
const char *ws_mime_type(const char *name, size_t len);

#endif
