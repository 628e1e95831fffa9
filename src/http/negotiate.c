/*
 * http/negotiate.c - Accept-Encoding negotiation; see negotiate.h.
 *
 * Weights are kept in thousandths (0..1000), so comparison is exact integer
 * arithmetic: "q=0.5" and "q=0.500" are the same weight.
 */
#include "http/negotiate.h"

#include "http/fields.h"

#include <string.h>

#define NO_WEIGHT (-1) /* the coding was not named */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * Parses one list element, `coding *( OWS ";" OWS "q=" qvalue )` with exactly
 * zero or one weight (RFC 9110 §12.5.3 allows no other parameter). Returns its
 * weight and sets *coding, or -1 if the element is malformed.
 */
static int parse_element(const char *s, size_t len, const char **coding, size_t *coding_len)
{
    size_t i = 0;
    int q = 1000, seen_q = 0;

    while (i < len && ws_is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0)
        return -1;
    *coding = s;
    *coding_len = i;
    for (;;) {
        size_t start;

        while (i < len && is_ows(s[i]))
            i++;
        if (i == len)
            return q;
        if (s[i] != ';' || seen_q)
            return -1;
        i++;
        while (i < len && is_ows(s[i]))
            i++;
        /* "q=" is case-insensitive, as every ABNF literal. */
        if (len - i < 2 || (s[i] != 'q' && s[i] != 'Q') || s[i + 1] != '=')
            return -1;
        i += 2;
        start = i;
        while (i < len && !is_ows(s[i]) && s[i] != ';')
            i++;
        q = ws_parse_qvalue(s + start, i - start);
        if (q < 0)
            return -1;
        seen_q = 1;
    }
}

static int name_is(const char *s, size_t len, const char *name)
{
    struct ws_view v = { s, len };
    return ws_view_eq_nocase(v, name);
}

/*
 * Records weight q for a coding. A coding named more than once keeps its lowest
 * weight: we never send what the client refused in any element.
 */
static void note(int *slot, int q)
{
    if (*slot == NO_WEIGHT || q < *slot)
        *slot = q;
}

enum ws_encoding ws_negotiate_encoding(const struct ws_request *req, unsigned available)
{
    int gzip = NO_WEIGHT, br = NO_WEIGHT, zstd = NO_WEIGHT, identity = NO_WEIGHT, star = NO_WEIGHT;
    int any = 0, q_gzip, q_br, q_zstd, q_identity, best_q = 0;
    enum ws_encoding best = WS_ENC_IDENTITY;

    for (size_t h = 0; h < req->header_count; h++) {
        struct ws_view v = req->headers[h].value;
        size_t i = 0;

        if (!ws_view_eq_nocase(req->headers[h].name, "Accept-Encoding"))
            continue;
        any = 1;
        while (i < v.len) {
            size_t start, end;
            const char *coding;
            size_t coding_len;
            int q;

            while (i < v.len && (is_ows(v.ptr[i]) || v.ptr[i] == ','))
                i++;
            start = i;
            while (i < v.len && v.ptr[i] != ',')
                i++;
            end = i;
            while (end > start && is_ows(v.ptr[end - 1]))
                end--;
            if (end == start)
                continue;
            q = parse_element(v.ptr + start, end - start, &coding, &coding_len);
            if (q < 0)
                continue;
            if (name_is(coding, coding_len, "gzip") || name_is(coding, coding_len, "x-gzip"))
                note(&gzip, q);
            else if (name_is(coding, coding_len, "br"))
                note(&br, q);
            else if (name_is(coding, coding_len, "zstd"))
                note(&zstd, q);
            else if (name_is(coding, coding_len, "identity"))
                note(&identity, q);
            else if (name_is(coding, coding_len, "*"))
                note(&star, q);
        }
    }
    if (!any)
        return WS_ENC_IDENTITY;

    /* An explicit entry overrides "*"; a coding matched by neither is not acceptable. */
    q_gzip = gzip != NO_WEIGHT ? gzip : star != NO_WEIGHT ? star : 0;
    q_br = br != NO_WEIGHT ? br : star != NO_WEIGHT ? star : 0;
    q_zstd = zstd != NO_WEIGHT ? zstd : star != NO_WEIGHT ? star : 0;
    /*
     * identity is always acceptable as the fall-back, but it only competes on
     * weight when the field gives it one, by name or through "*"; otherwise
     * "gzip;q=0.5" would lose to an identity the client never mentioned.
     */
    q_identity = identity != NO_WEIGHT ? identity : star != NO_WEIGHT ? star : 0;

    if ((available & (1u << WS_ENC_BR)) && q_br > best_q) {
        best = WS_ENC_BR;
        best_q = q_br;
    }
    if ((available & (1u << WS_ENC_ZSTD)) && q_zstd > best_q) {
        best = WS_ENC_ZSTD;
        best_q = q_zstd;
    }
    if ((available & (1u << WS_ENC_GZIP)) && q_gzip > best_q) {
        best = WS_ENC_GZIP;
        best_q = q_gzip;
    }
    /* A coding wins a tie with identity: the client accepts both equally. */
    if (best != WS_ENC_IDENTITY && q_identity > best_q)
        best = WS_ENC_IDENTITY;
    return best;
}
