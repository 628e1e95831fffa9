/*
 * http/chunked.h - the one chunked transfer-coding decoder (RFC 9112 §7.1),
 * used by the server for request bodies and by the client for response bodies.
 *
 * Pure: it never allocates, does no I/O and holds no global state; distinct
 * decoders may run on any threads at once. It is incremental: bytes may arrive
 * split anywhere, even one at a time, and the answer is the same as when they
 * arrive whole. Chunk data is handed back as spans into the caller's buffer,
 * so the client can use the bytes and the server can count and drop them.
 *
 * Grammar checked:
 *   chunk-size  1*HEXDIG, at most UINT64_MAX (the exact 64-bit bound)
 *   chunk-ext   *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ),
 *               and BWS alone before the line end, as senders do write "5 \r\n"
 *   trailers    field-name ":" field-value lines; obs-fold is rejected
 *   line ends   CRLF, or a bare LF (RFC 9112 §2.2); a bare CR is an error
 */
#ifndef WS_HTTP_CHUNKED_H
#define WS_HTTP_CHUNKED_H

#include "http/fields.h"

#include <stddef.h>
#include <stdint.h>

/* The server's default cap on chunk-ext plus trailer bytes in one body. */
#define WS_CHUNKED_MAX_META 16384

/* Results of ws_chunked_next besides 1 (done) and 0 (need more). */
enum ws_chunked_error {
    WS_CHUNKED_ERR_SIZE = -1,              /* no hex digits, junk, bad extension or bare CR */
    WS_CHUNKED_ERR_SIZE_OVERFLOW = -2,     /* a chunk-size beyond UINT64_MAX */
    WS_CHUNKED_ERR_LINE_TOO_LONG = -3,     /* a chunk-size line over max_size_line */
    WS_CHUNKED_ERR_DATA = -4,              /* chunk-data not followed by a line end */
    WS_CHUNKED_ERR_TRAILER = -5,           /* a trailer line that is not a field line */
    WS_CHUNKED_ERR_TRAILER_TOO_LARGE = -6, /* a trailer section over max_trailer */
    WS_CHUNKED_ERR_META_TOO_LARGE = -7,    /* extension and trailer bytes over max_meta */
};

/*
 * Limits a decoder enforces; 0 means "no limit". The grammar is the same for
 * every caller; only these budgets differ between the server and the client.
 */
struct ws_chunked_limits {
    uint32_t max_size_line; /* bytes of one chunk-size line, digits through its LF */
    uint32_t max_trailer;   /* bytes of the trailer section, line ends included */
    uint32_t max_meta;      /* chunk-ext bytes (BWS after the size included, the
                               first ';' not) plus trailer-line bytes (line ends
                               not), summed over the whole body */
};

/* Decoder state; the caller owns it, one per body. Fields are private. */
struct ws_chunked {
    uint8_t state;
    uint8_t digits;     /* hex digits in the current chunk-size, saturating */
    uint32_t line;      /* bytes in the current size line or in the trailer section */
    uint32_t meta;      /* bytes counted against lim.max_meta so far */
    uint64_t remaining; /* data bytes left in the current chunk */
    struct ws_chunked_limits lim;
};

/*
 * Starts a decoder with the server's limits: no size-line or trailer-section
 * cap of their own, WS_CHUNKED_MAX_META bytes of extensions plus trailers.
 */
void ws_chunked_init(struct ws_chunked *st);

/* Starts a decoder with the given limits (copied). */
void ws_chunked_init_limits(struct ws_chunked *st, const struct ws_chunked_limits *lim);

/*
 * Decodes from buf[0..len) up to the end of the body or the end of the next
 * span of chunk data, whichever comes first. Sets *consumed to the bytes used
 * and *data to the chunk data among them: at most one span, into buf, possibly
 * empty; framing bytes are checked and skipped, trailers are not returned.
 *
 * Returns 1 when the body is complete (the bytes after *consumed belong to the
 * next message; later calls consume nothing and return 1 again), 0 when it is
 * not (call again with the rest of buf if *consumed < len, else with more
 * input; a call with len > 0 that returns 0 consumes at least one byte), or a
 * negative enum ws_chunked_error, after which the decoder stays failed only in
 * the sense that the stream is out of sync: the caller must close it.
 */
int ws_chunked_next(struct ws_chunked *st, const char *buf, size_t len, size_t *consumed,
                    struct ws_view *data);

/* Whether the body has been decoded completely (its final line end seen). */
int ws_chunked_done(const struct ws_chunked *st);

/*
 * The server's form: feeds all of buf[0..len), stopping early only at the end
 * of the body or at an error. Sets *consumed to the bytes that belong to the
 * body and adds the chunk-data bytes among them to *data_bytes (the data
 * itself is discarded). Returns 1 when the body (trailers included) is
 * complete, 0 when it needs more, -400 on any framing error (the connection
 * must then be closed).
 */
int ws_chunked_decode(struct ws_chunked *st, const char *buf, size_t len, size_t *consumed,
                      uint64_t *data_bytes);

#endif
