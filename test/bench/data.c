/* data.c - the deterministic data set every system writes and reads.
 *
 * Keys: 16 bytes derived from a key id in [0, 100000): 8 pseudo-random bytes
 * of the id followed by the id big-endian, so distinct ids give distinct keys.
 * Each record's key id is drawn uniformly.  Values: 100 pseudo-random bytes
 * (incompressible).  Everything comes from splitmix64 with a fixed seed. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>

#include "bench.h"

const dataset *D;

uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Independent streams of one seed. */
static uint64_t stream_state(uint64_t seed, uint64_t stream)
{
    uint64_t s = seed ^ (stream * 0xD1B54A32D192ED03ull);
    return splitmix64(&s);
}

/* Uniform in [0, range) (Lemire's multiply-shift; bias < 2^-40 here). */
static uint64_t uniform(uint64_t *state, uint64_t range)
{
    return (uint64_t)(((unsigned __int128)splitmix64(state) * range) >> 64);
}

static void key_for_id(uint64_t seed, uint32_t id, unsigned char out[KEY_LEN])
{
    uint64_t s = stream_state(seed, 0x6b6579ull + id);   /* "key" + id */
    uint64_t h = splitmix64(&s);
    memcpy(out, &h, 8);
    be64(out + 8, id);
}

void dataset_init(dataset *d, uint64_t n, uint64_t seed)
{
    d->n = n;
    d->seed = seed;
    d->recs = malloc(n * REC_LEN);
    if (!d->recs)
        fatal("cannot allocate %llu records", (unsigned long long)n);

    unsigned char (*keys)[KEY_LEN] = malloc((size_t)DISTINCT_KEYS * KEY_LEN);
    if (!keys)
        fatal("out of memory");
    for (uint32_t id = 0; id < DISTINCT_KEYS; id++)
        key_for_id(seed, id, keys[id]);

    uint64_t ks = stream_state(seed, 1), vs = stream_state(seed, 2);
    for (uint64_t i = 0; i < n; i++) {
        unsigned char *r = d->recs + i * REC_LEN;
        memcpy(r, keys[uniform(&ks, DISTINCT_KEYS)], KEY_LEN);
        unsigned char *v = r + KEY_LEN;
        for (int b = 0; b < VAL_LEN; b += 8) {
            uint64_t x = splitmix64(&vs);
            memcpy(v + b, &x, VAL_LEN - b < 8 ? (size_t)(VAL_LEN - b) : 8);
        }
    }
    free(keys);
}

void dataset_free(dataset *d)
{
    free(d->recs);
    d->recs = NULL;
}

uint64_t *random_offsets(uint64_t n, uint64_t range, uint64_t stream)
{
    uint64_t *o = malloc(n * sizeof *o);
    if (!o)
        fatal("out of memory");
    uint64_t s = stream_state(D->seed, 100 + stream);
    for (uint64_t i = 0; i < n; i++)
        o[i] = uniform(&s, range);
    return o;
}
