/*
 * http/chunked.c - the chunked transfer-coding decoder; see chunked.h.
 *
 * One byte-driven state machine for everything outside chunk-data; chunk-data
 * itself is passed over as a span. The decoder reads only buf[0..len): every
 * decision is made on the byte in hand, so input may be cut anywhere.
 */
#include "http/chunked.h"

#include <string.h>

/* Positions in the chunked grammar (RFC 9112 §7.1). The order matters: see the ranges below. */
enum {
    S_SIZE = 0,        /* hex digits of chunk-size */
    S_SIZE_BWS,        /* BWS after the size or an extension value: ';' or the line end next */
    S_EXT_PRE_NAME,    /* after ';': BWS, then an extension name */
    S_EXT_NAME,        /* inside an extension name */
    S_EXT_POST_NAME,   /* BWS after a name: '=', ';' or the line end next */
    S_EXT_PRE_VALUE,   /* after '=': BWS, then a token or a quoted-string */
    S_EXT_TOKEN,       /* inside a token value */
    S_EXT_QUOTED,      /* inside a quoted-string value */
    S_EXT_QUOTED_PAIR, /* after a backslash inside a quoted-string */
    S_SIZE_LF,         /* saw the CR ending the size line */
    S_DATA,            /* inside chunk-data */
    S_DATA_END,        /* expecting the line end after chunk-data */
    S_DATA_LF,         /* saw the CR after chunk-data */
    S_TRAILER,         /* at the start of a trailer line or of the final empty line */
    S_TRAILER_NAME,    /* inside a trailer field name */
    S_TRAILER_VALUE,   /* after the colon of a trailer field */
    S_TRAILER_LF,      /* saw the CR ending a trailer line */
    S_END_LF,          /* saw the CR of the final empty line */
    S_DONE,
};

/* Bytes in these states belong to a chunk-size line, counted against max_size_line. */
static int in_size_line(uint8_t s)
{
    return s <= S_SIZE_LF;
}

/* Bytes in these states belong to the trailer section, counted against max_trailer. */
static int in_trailer(uint8_t s)
{
    return s >= S_TRAILER && s <= S_END_LF;
}

/* Bytes in these states (line ends aside) are extensions or trailer fields: max_meta. */
static int in_meta(uint8_t s)
{
    return (s >= S_SIZE_BWS && s <= S_EXT_QUOTED_PAIR) || (s >= S_TRAILER && s <= S_TRAILER_VALUE);
}

static int is_bws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

void ws_chunked_init_limits(struct ws_chunked *st, const struct ws_chunked_limits *lim)
{
    memset(st, 0, sizeof(*st));
    st->lim = *lim;
}

void ws_chunked_init(struct ws_chunked *st)
{
    static const struct ws_chunked_limits server = { .max_meta = WS_CHUNKED_MAX_META };
    ws_chunked_init_limits(st, &server);
}

int ws_chunked_done(const struct ws_chunked *st)
{
    return st->state == S_DONE;
}

static int count_meta(struct ws_chunked *st)
{
    if (st->lim.max_meta != 0 && ++st->meta > st->lim.max_meta)
        return WS_CHUNKED_ERR_META_TOO_LARGE;
    return 0;
}

/* Applies the byte budgets to c, read in the current state; 0 or an error. */
static int count_byte(struct ws_chunked *st, unsigned char c)
{
    if (in_size_line(st->state) && st->lim.max_size_line != 0 && ++st->line > st->lim.max_size_line)
        return WS_CHUNKED_ERR_LINE_TOO_LONG;
    if (in_trailer(st->state) && st->lim.max_trailer != 0 && ++st->line > st->lim.max_trailer)
        return WS_CHUNKED_ERR_TRAILER_TOO_LARGE;
    if (in_meta(st->state) && c != '\r' && c != '\n')
        return count_meta(st);
    return 0;
}

/* The size line has ended: its data follows, or (size 0) the trailer section. */
static void end_size_line(struct ws_chunked *st)
{
    st->state = st->remaining ? S_DATA : S_TRAILER;
    st->line = 0;
}

/* The line end after chunk-data has been read: the next size line starts. */
static void start_size_line(struct ws_chunked *st)
{
    st->state = S_SIZE;
    st->digits = 0;
    st->line = 0;
}

/* After a size, an extension name or an extension value: ';', or the line end. */
static int after_item(struct ws_chunked *st, unsigned char c)
{
    if (c == ';')
        st->state = S_EXT_PRE_NAME;
    else if (c == '\r')
        st->state = S_SIZE_LF;
    else if (c == '\n')
        end_size_line(st);
    else
        return WS_CHUNKED_ERR_SIZE;
    return 0;
}

/* One byte of a chunk-size line; 0 or an error. */
static int size_line_byte(struct ws_chunked *st, unsigned char c)
{
    int v;

    switch (st->state) {
    case S_SIZE:
        v = ws_hexval(c);
        if (v >= 0) {
            if (st->remaining > (UINT64_MAX >> 4))
                return WS_CHUNKED_ERR_SIZE_OVERFLOW; /* 16 * remaining + v would wrap */
            st->remaining = st->remaining * 16 + (uint64_t)v;
            if (st->digits < UINT8_MAX)
                st->digits++; /* saturates: only "any digit yet" matters */
            return 0;
        }
        if (st->digits == 0)
            return WS_CHUNKED_ERR_SIZE;
        if (is_bws(c)) {
            st->state = S_SIZE_BWS;
            return count_meta(st); /* BWS counts as extension bytes */
        }
        return after_item(st, c);
    case S_SIZE_BWS:
        /* BWS is allowed only before ';' or the line end: "5 6" is not a size. */
        return is_bws(c) ? 0 : after_item(st, c);
    case S_EXT_PRE_NAME:
        if (is_bws(c))
            return 0;
        if (!ws_is_tchar(c))
            return WS_CHUNKED_ERR_SIZE;
        st->state = S_EXT_NAME;
        return 0;
    case S_EXT_NAME:
        if (ws_is_tchar(c))
            return 0;
        /* The first byte after a name is judged like the BWS after it. */
        /* fall through */
    case S_EXT_POST_NAME:
        if (is_bws(c))
            st->state = S_EXT_POST_NAME;
        else if (c == '=')
            st->state = S_EXT_PRE_VALUE;
        else
            return after_item(st, c);
        return 0;
    case S_EXT_PRE_VALUE:
        if (is_bws(c))
            return 0;
        if (c == '"')
            st->state = S_EXT_QUOTED;
        else if (ws_is_tchar(c))
            st->state = S_EXT_TOKEN;
        else
            return WS_CHUNKED_ERR_SIZE;
        return 0;
    case S_EXT_TOKEN:
        if (ws_is_tchar(c))
            return 0;
        if (is_bws(c)) {
            st->state = S_SIZE_BWS;
            return 0;
        }
        return after_item(st, c);
    case S_EXT_QUOTED:
        if (c == '"')
            st->state = S_SIZE_BWS;
        else if (c == '\\')
            st->state = S_EXT_QUOTED_PAIR;
        else if (!ws_is_field_vchar(c)) /* qdtext: the rest of the field-value bytes */
            return WS_CHUNKED_ERR_SIZE;
        return 0;
    case S_EXT_QUOTED_PAIR:
        if (!ws_is_field_vchar(c))
            return WS_CHUNKED_ERR_SIZE;
        st->state = S_EXT_QUOTED;
        return 0;
    default: /* S_SIZE_LF */
        if (c != '\n')
            return WS_CHUNKED_ERR_SIZE; /* bare CR (RFC 9112 §2.2) */
        end_size_line(st);
        return 0;
    }
}

/* One byte of the trailer section: field-name ":" field-value line ends, then an empty line. */
static int trailer_byte(struct ws_chunked *st, unsigned char c)
{
    switch (st->state) {
    case S_TRAILER:
        if (c == '\r')
            st->state = S_END_LF;
        else if (c == '\n')
            st->state = S_DONE;
        else if (ws_is_tchar(c))
            st->state = S_TRAILER_NAME;
        else
            return WS_CHUNKED_ERR_TRAILER; /* obs-fold, or junk, in the trailer section */
        return 0;
    case S_TRAILER_NAME:
        if (c == ':')
            st->state = S_TRAILER_VALUE;
        else if (!ws_is_tchar(c))
            return WS_CHUNKED_ERR_TRAILER; /* includes whitespace before the colon */
        return 0;
    case S_TRAILER_VALUE:
        if (c == '\r')
            st->state = S_TRAILER_LF;
        else if (c == '\n')
            st->state = S_TRAILER;
        else if (!ws_is_field_vchar(c))
            return WS_CHUNKED_ERR_TRAILER;
        return 0;
    case S_TRAILER_LF:
        if (c != '\n')
            return WS_CHUNKED_ERR_TRAILER;
        st->state = S_TRAILER;
        return 0;
    default: /* S_END_LF */
        if (c != '\n')
            return WS_CHUNKED_ERR_TRAILER;
        st->state = S_DONE;
        return 0;
    }
}

/* One byte of framing outside chunk-data; 0 or an error. */
static int framing_byte(struct ws_chunked *st, unsigned char c)
{
    int rc = count_byte(st, c);

    if (rc < 0)
        return rc;
    if (in_size_line(st->state))
        return size_line_byte(st, c);
    if (in_trailer(st->state))
        return trailer_byte(st, c);
    if (st->state == S_DATA_END) {
        if (c == '\r')
            st->state = S_DATA_LF;
        else if (c == '\n')
            start_size_line(st);
        else
            return WS_CHUNKED_ERR_DATA;
        return 0;
    }
    if (st->state == S_DATA_LF && c == '\n') {
        start_size_line(st);
        return 0;
    }
    return WS_CHUNKED_ERR_DATA; /* a bare CR after chunk-data (S_DATA and S_DONE never get here) */
}

int ws_chunked_next(struct ws_chunked *st, const char *buf, size_t len, size_t *consumed,
                    struct ws_view *data)
{
    size_t i = 0;

    *data = (struct ws_view){ buf, 0 };
    while (i < len && st->state != S_DONE) {
        if (st->state == S_DATA) {
            size_t take = len - i;
            if ((uint64_t)take > st->remaining)
                take = (size_t)st->remaining;
            *data = (struct ws_view){ buf + i, take };
            st->remaining -= take;
            if (st->remaining == 0)
                st->state = S_DATA_END;
            *consumed = i + take;
            return 0; /* one span per call; the caller comes back for the rest */
        }
        int rc = framing_byte(st, (unsigned char)buf[i]);
        if (rc < 0) {
            *consumed = i;
            return rc;
        }
        i++;
    }
    *consumed = i;
    return st->state == S_DONE ? 1 : 0;
}

int ws_chunked_decode(struct ws_chunked *st, const char *buf, size_t len, size_t *consumed,
                      uint64_t *data_bytes)
{
    size_t off = 0;
    int rc;

    do {
        struct ws_view data;
        size_t used;
        rc = ws_chunked_next(st, buf + off, len - off, &used, &data);
        off += used;
        *data_bytes += data.len;
    } while (rc == 0 && off < len);
    *consumed = off;
    return rc < 0 ? -400 : rc;
}
