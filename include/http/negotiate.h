/*
 * http/negotiate.h - content-coding negotiation (RFC 9110 §12.5.3). Pure and thread-safe.
 */
#ifndef WS_NEGOTIATE_H
#define WS_NEGOTIATE_H

#include "http/request_parser.h"

enum ws_encoding {
    WS_ENC_IDENTITY = 0,
    WS_ENC_GZIP = 1,
    WS_ENC_BR = 2,
    WS_ENC_ZSTD = 3,
};

/*
 * Chooses among the codings that are available (a bitmask of 1 << WS_ENC_GZIP,
 * 1 << WS_ENC_BR and 1 << WS_ENC_ZSTD) according to the request's Accept-Encoding fields (every
 * line counts). A coding is acceptable when it is named, or matched by "*", with
 * q > 0; an explicit entry overrides "*"; names are case-insensitive; "x-gzip"
 * counts as gzip; q-values follow RFC 9110 §12.4.2 (0 to 1, at most three
 * decimals; a malformed q, or any other parameter, makes that element
 * ignored). A coding named more than once keeps its lowest q. The highest q
 * wins; on a tie br is preferred over zstd, and zstd over gzip. identity competes only when the
 * field gives it a weight (by name or through "*"), and loses a tie with a
 * coding. No Accept-Encoding field means identity only (we never send a coding
 * the client did not ask for). Returns the chosen coding, WS_ENC_IDENTITY when
 * none is acceptable: even with "identity;q=0" or "*;q=0" the server sends
 * identity rather than 406 (RFC 9110 §12.5.3 allows either).
 */
enum ws_encoding ws_negotiate_encoding(const struct ws_request *req, unsigned available);

#endif
