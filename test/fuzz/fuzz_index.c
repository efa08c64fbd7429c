/* fuzz_index.c - the sparse offset and time indexes (lib/index.c) and the
 * segment file header (cano__seg_header_decode) on arbitrary bytes.
 *
 * Input: 28 bytes of parameters, then the file's bytes.
 *    0  u32 pos_limit     for cano__oidx_valid
 *    4  u32 rel_limit     for cano__tidx_valid
 *    8  i64 ts_limit      for cano__tidx_valid
 *   16  u32 target rel    one of the offset lookups
 *   20  i64 target ts     one of the time lookups
 *   28  ..  the file: read as a .index, as a .timeindex and as the first
 *           128 bytes of a .log
 *
 * The entries are copied to exact-size heap buffers (a read past them is a
 * heap overflow).  The valid-prefix functions and the binary-search lookups
 * are compared with straightforward linear versions of the rules in
 * cano-format(5); lookups over the unchecked entries must at least return
 * something that is in the index. */
#include "fuzz_common.h"
#include "index.h"
#include "segment.h"

#define PARAMS 28u
#define MAX_TARGETS 16u

static uint32_t ref_oidx_valid(const uint8_t *e, uint32_t n, uint32_t limit)
{
    uint32_t prev_rel = 0, prev_pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t rel = cano__ld32(e + 8 * (size_t)i);
        uint32_t pos = cano__ld32(e + 8 * (size_t)i + 4);
        /* Not zero, strictly increasing in both fields, below the limit. */
        if (rel == 0 || rel <= prev_rel || pos <= prev_pos || pos >= limit)
            return i;
        prev_rel = rel;
        prev_pos = pos;
    }
    return n;
}

static uint32_t ref_tidx_valid(const uint8_t *e, uint32_t n, uint32_t rel_limit,
                               int64_t ts_limit)
{
    uint32_t prev_rel = 0;
    int64_t prev_ts = INT64_MIN;
    for (uint32_t i = 0; i < n; i++) {
        int64_t ts = (int64_t)cano__ld64(e + 12 * (size_t)i);
        uint32_t rel = cano__ld32(e + 12 * (size_t)i + 8);
        if (rel == 0 || rel <= prev_rel || rel >= rel_limit || ts <= prev_ts ||
            ts < 0 || ts > ts_limit)
            return i;
        prev_rel = rel;
        prev_ts = ts;
    }
    return n;
}

/* The last entry whose offset is <= rel, or def. */
static uint32_t ref_oidx_lookup(const uint8_t *e, uint32_t n, uint32_t rel,
                                uint32_t def)
{
    uint32_t r = def;
    for (uint32_t i = 0; i < n; i++)
        if (cano__oidx_rel(e, i) <= rel)
            r = cano__oidx_pos(e, i);
    return r;
}

/* The last entry whose timestamp is below ts, else 0. */
static uint32_t ref_tidx_lookup(const uint8_t *e, uint32_t n, int64_t ts)
{
    uint32_t r = 0;
    for (uint32_t i = 0; i < n; i++)
        if (cano__tidx_ts(e, i) < ts)
            r = cano__tidx_rel(e, i);
    return r;
}

static uint8_t *copy(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    FZ_CHECK(c, "out of memory");
    if (n)
        memcpy(c, p, n);
    return c;
}

static void offset_index(const uint8_t *file, size_t len, const uint8_t *prm)
{
    int64_t base = len >= 16 ? (int64_t)cano__ld64(file + 8) : 0;
    bool ok = cano__idx_header_ok(file, len, CANO__OIDX_MAGIC, base);
    FZ_CHECK(ok == (len >= 16 && !memcmp(file, CANO__OIDX_MAGIC, 8)),
             "offset index header check");
    if (len >= 16)
        FZ_CHECK(!cano__idx_header_ok(file, len, CANO__OIDX_MAGIC,
                                      (int64_t)((uint64_t)base ^ 1)),
                 "header accepted with another base");
    if (len < CANO__IDX_HEADER)
        return;
    uint32_t n = (uint32_t)((len - CANO__IDX_HEADER) / CANO__OIDX_ENTRY);
    uint8_t *e = copy(file + CANO__IDX_HEADER, (size_t)n * CANO__OIDX_ENTRY);
    uint32_t limit = cano__ld32(prm);
    uint32_t v = cano__oidx_valid(e, n, limit);
    FZ_CHECK(v == ref_oidx_valid(e, n, limit), "oidx_valid %u", v);
    /* The index the library really uses: the valid prefix. */
    uint32_t targets[MAX_TARGETS * 3 + 4];
    size_t nt = 0;
    targets[nt++] = cano__ld32(prm + 16);
    targets[nt++] = 0;
    targets[nt++] = 1;
    targets[nt++] = UINT32_MAX;
    for (uint32_t i = 0; i < v && i < MAX_TARGETS; i++) {
        uint32_t rel = cano__oidx_rel(e, i);
        targets[nt++] = rel - 1;
        targets[nt++] = rel;
        targets[nt++] = rel + 1;
    }
    for (size_t i = 0; i < nt; i++) {
        uint32_t got = cano__oidx_lookup(e, v, targets[i], CANO__SEG_HEADER);
        uint32_t want = ref_oidx_lookup(e, v, targets[i], CANO__SEG_HEADER);
        FZ_CHECK(got == want, "oidx_lookup(%u) = %u, want %u", targets[i],
                 got, want);
        /* Over unchecked entries the search is meaningless but must stay
         * inside the array and return one of its positions. */
        got = cano__oidx_lookup(e, n, targets[i], CANO__SEG_HEADER);
        bool found = got == CANO__SEG_HEADER;
        for (uint32_t j = 0; j < n && !found; j++)
            found = cano__oidx_pos(e, j) == got;
        FZ_CHECK(found, "oidx_lookup returned %u, not in the index", got);
    }
    free(e);
}

static void time_index(const uint8_t *file, size_t len, const uint8_t *prm)
{
    int64_t base = len >= 16 ? (int64_t)cano__ld64(file + 8) : 0;
    bool ok = cano__idx_header_ok(file, len, CANO__TIDX_MAGIC, base);
    FZ_CHECK(ok == (len >= 16 && !memcmp(file, CANO__TIDX_MAGIC, 8)),
             "time index header check");
    if (len < CANO__IDX_HEADER)
        return;
    uint32_t n = (uint32_t)((len - CANO__IDX_HEADER) / CANO__TIDX_ENTRY);
    uint8_t *e = copy(file + CANO__IDX_HEADER, (size_t)n * CANO__TIDX_ENTRY);
    uint32_t rel_limit = cano__ld32(prm + 4);
    int64_t ts_limit = (int64_t)cano__ld64(prm + 8);
    uint32_t v = cano__tidx_valid(e, n, rel_limit, ts_limit);
    FZ_CHECK(v == ref_tidx_valid(e, n, rel_limit, ts_limit), "tidx_valid %u",
             v);
    int64_t targets[MAX_TARGETS * 3 + 4];
    size_t nt = 0;
    targets[nt++] = (int64_t)cano__ld64(prm + 20);
    targets[nt++] = INT64_MIN;
    targets[nt++] = 0;
    targets[nt++] = INT64_MAX;
    for (uint32_t i = 0; i < v && i < MAX_TARGETS; i++) {
        int64_t ts = cano__tidx_ts(e, i);   /* in [0, ts_limit] */
        targets[nt++] = ts - 1;
        targets[nt++] = ts;
        targets[nt++] = ts == INT64_MAX ? ts : ts + 1;
    }
    for (size_t i = 0; i < nt; i++) {
        uint32_t got = cano__tidx_lookup(e, v, targets[i]);
        uint32_t want = ref_tidx_lookup(e, v, targets[i]);
        FZ_CHECK(got == want, "tidx_lookup(%lld) = %u, want %u",
                 (long long)targets[i], got, want);
        got = cano__tidx_lookup(e, n, targets[i]);
        bool found = got == 0;
        for (uint32_t j = 0; j < n && !found; j++)
            found = cano__tidx_rel(e, j) == got;
        FZ_CHECK(found, "tidx_lookup returned %u, not in the index", got);
    }
    free(e);
}

/* The .log file header: what decodes re-encodes to the same fields. */
static void log_header(const uint8_t *file, size_t len)
{
    uint8_t *p = copy(file, len);
    int64_t base = len >= 24 ? (int64_t)cano__ld64(p + 16) : 0;
    cano__seg_header h;
    if (cano__seg_header_decode(p, len, base, &h)) {
        FZ_CHECK(len >= CANO__SEG_HEADER && h.state <= CANO__SEG_SEALED &&
                 h.flushed_next >= base, "decoded header fields");
        uint8_t again[CANO__SEG_HEADER];
        cano__seg_header_encode(again, base, &h);
        cano__seg_header h2;
        FZ_CHECK(cano__seg_header_decode(again, sizeof again, base, &h2),
                 "re-encoded header does not decode");
        FZ_CHECK(h2.flushed_len == h.flushed_len &&
                 h2.flushed_next == h.flushed_next &&
                 h2.flushed_max_ts == h.flushed_max_ts &&
                 h2.state == h.state && h2.log_max_ts == h.log_max_ts,
                 "header fields changed in a round trip");
        FZ_CHECK(!cano__seg_header_decode(p, len, base ^ 1, &h2) ||
                 base == (base ^ 1), "header accepted with another base");
    }
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < PARAMS || size > (1u << 20))
        return 0;
    const uint8_t *file = data + PARAMS;
    size_t len = size - PARAMS;
    offset_index(file, len, data);
    time_index(file, len, data);
    log_header(file, len);
    return 0;
}
