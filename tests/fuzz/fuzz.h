/*
 * fuzz.h - the libFuzzer entry points every target in this directory defines.
 *
 * Each fuzz_<name>.c is built twice: with clang and -fsanitize=fuzzer when
 * WS_FUZZ is ON (libFuzzer supplies main), and always as a plain replay
 * executable linked with replay_main.c, which feeds it every file of its seed
 * corpus and its regression inputs (ctest label fuzz-replay).
 */
#ifndef WS_FUZZ_H
#define WS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional: called once by the replay driver after the last input (fuzz_server stops its server).
 */
void ws_fuzz_teardown(void) __attribute__((weak));

/* An invariant that does not hold: print it and crash, so the input is kept. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A small deterministic generator (xorshift64*), seeded from the input, for split points. */
static inline uint64_t fuzz_seed(const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    return h | 1;
}

static inline uint64_t fuzz_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

#endif
