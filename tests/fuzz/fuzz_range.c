/*
 * fuzz_range.c - ws_range_parse (include/range.h).
 *
 * Input: one mode byte, then (mode-dependent) a representation size, then the
 * Range field value. For every result > 0 the ranges must be sorted, disjoint
 * and non-adjacent (coalesced), each within [0, size), and at most max of
 * them; out is allocated with exactly max entries, so a write past it is
 * caught by ASan. The result is otherwise 0 or -416.
 */
#include "fuzz.h"
#include "http/range.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t rsize;
    int max, n;
    struct ws_range *out;
    size_t hdr;

    if (size < 2)
        return 0;
    max = 1 + data[0] % WS_RANGE_MAX;
    switch ((data[0] >> 4) & 3) {
    case 0:
        rsize = data[1];
        hdr = 2;
        break; /* tiny */
    case 1:
        rsize = 0;
        hdr = 1;
        break; /* empty */
    case 2:
        if (size < 5)
            return 0;
        rsize = (int64_t)data[1] << 16 | (int64_t)data[2] << 8 | data[3];
        hdr = 4;
        break;
    default: {
        uint64_t v = 0;
        if (size < 9)
            return 0;
        for (int i = 1; i < 9; i++)
            v = v << 8 | data[i];
        rsize = (int64_t)(v >> 1); /* up to INT64_MAX */
        hdr = 9;
        break;
    }
    }
    out = malloc((size_t)max * sizeof(*out));
    if (out == NULL)
        return 0;
    n = ws_range_parse((const char *)data + hdr, size - hdr, rsize, out, max);
    FUZZ_CHECK(n == -416 || (n >= 0 && n <= max));
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(out[i].first >= 0);
        FUZZ_CHECK(out[i].first <= out[i].last);
        FUZZ_CHECK(out[i].last < rsize);
        if (i > 0)
            FUZZ_CHECK(out[i].first > out[i - 1].last + 1); /* sorted, disjoint, not adjacent */
    }
    if (n > 0) {
        char part[512];
        size_t len = ws_range_part_header(part, sizeof(part), "0123456789abcdef", "text/plain",
                                          out[0], rsize);
        FUZZ_CHECK(len > 0 && len < sizeof(part) && part[len] == '\0');
    }
    free(out);
    return 0;
}
