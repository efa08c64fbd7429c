/* fuzz_common.h - helpers shared by the fuzz targets in test/fuzz/.
 *
 * The targets link the library's object files directly (built with
 * -DCANO_TESTING), so the internal codec functions of lib/ are reachable. */
#ifndef CANO_FUZZ_COMMON_H
#define CANO_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant the library promises was broken: report and abort, so that
 * libFuzzer (and the replay driver) records the input as a crash. */
#define FZ_CHECK(cond, ...)                                                 \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__,      \
                    __LINE__, #cond);                                       \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* Reads every byte of a view, in instrumented code, so that AddressSanitizer
 * sees a read past the end of a heap buffer and a read past the end of a
 * mapped file faults (the library's own hashing goes through the
 * uninstrumented libxxhash and would not be checked). */
static inline uint64_t fz_touch(const void *p, size_t n)
{
    const volatile uint8_t *b = p;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = s * 31 + b[i];
    return s;
}

/* Gives every batch that starts at p, back to back, a matching checksum,
 * so that mutated batches get past the checksum and into the decoder.  The
 * walk follows the length fields and stops at one that does not fit. */
static inline void fz_fix_batch_sums(uint8_t *p, size_t n)
{
    size_t pos = 0;
    while (n - pos >= CANO__BATCH_HEADER) {
        uint32_t len = cano__ld32(p + pos + 8);
        if (len < CANO__BATCH_HEADER || len > n - pos)
            break;
        cano__st64(p + pos, XXH3_64bits(p + pos + 8, len - 8));
        pos += len;
    }
}

/* a + b for b >= 0, stopping at INT64_MAX (the harness must not overflow
 * where the library might). */
static inline int64_t fz_sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static inline uint64_t fz_rd_u16(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8;
}

#endif
