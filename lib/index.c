/* index.c - sparse offset and time indexes.  Both are sorted arrays of
 * fixed-size entries after a 16-byte header; lookups are binary searches.
 * They are hints: the read path checks what an entry points to. */
#include "index.h"

void cano__idx_header(uint8_t *dst, const char *magic, int64_t base)
{
    memcpy(dst, magic, 8);
    cano__st64(dst + 8, (uint64_t)base);
}

bool cano__idx_header_ok(const uint8_t *p, size_t len, const char *magic,
                         int64_t base)
{
    return len >= CANO__IDX_HEADER && !memcmp(p, magic, 8) &&
           (int64_t)cano__ld64(p + 8) == base;
}

void cano__oidx_put(uint8_t *e, uint32_t i, uint32_t rel, uint32_t pos)
{
    cano__st32(e + (size_t)i * CANO__OIDX_ENTRY, rel);
    cano__st32(e + (size_t)i * CANO__OIDX_ENTRY + 4, pos);
}

void cano__tidx_put(uint8_t *e, uint32_t i, int64_t ts, uint32_t rel)
{
    cano__st64(e + (size_t)i * CANO__TIDX_ENTRY, (uint64_t)ts);
    cano__st32(e + (size_t)i * CANO__TIDX_ENTRY + 8, rel);
}

uint32_t cano__oidx_rel(const uint8_t *e, uint32_t i)
{ return cano__ld32(e + (size_t)i * CANO__OIDX_ENTRY); }
uint32_t cano__oidx_pos(const uint8_t *e, uint32_t i)
{ return cano__ld32(e + (size_t)i * CANO__OIDX_ENTRY + 4); }
int64_t cano__tidx_ts(const uint8_t *e, uint32_t i)
{ return (int64_t)cano__ld64(e + (size_t)i * CANO__TIDX_ENTRY); }
uint32_t cano__tidx_rel(const uint8_t *e, uint32_t i)
{ return cano__ld32(e + (size_t)i * CANO__TIDX_ENTRY + 8); }

uint32_t cano__oidx_lookup(const uint8_t *e, uint32_t n, uint32_t rel,
                           uint32_t def)
{
    uint32_t lo = 0, hi = n;      /* first entry with offset > rel */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cano__oidx_rel(e, mid) <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? def : cano__oidx_pos(e, lo - 1);
}

uint32_t cano__tidx_lookup(const uint8_t *e, uint32_t n, int64_t ts)
{
    uint32_t lo = 0, hi = n;      /* first entry with timestamp >= ts */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cano__tidx_ts(e, mid) < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : cano__tidx_rel(e, lo - 1);
}

uint32_t cano__oidx_valid(const uint8_t *e, uint32_t n, uint32_t pos_limit)
{
    uint32_t prev_rel = 0, prev_pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t rel = cano__oidx_rel(e, i), pos = cano__oidx_pos(e, i);
        if (rel == 0 || pos >= pos_limit || rel <= prev_rel ||
            pos <= prev_pos)
            return i;
        prev_rel = rel;
        prev_pos = pos;
    }
    return n;
}

uint32_t cano__tidx_valid(const uint8_t *e, uint32_t n, uint32_t rel_limit,
                          int64_t ts_limit)
{
    uint32_t prev_rel = 0;
    int64_t prev_ts = INT64_MIN;
    for (uint32_t i = 0; i < n; i++) {
        int64_t ts = cano__tidx_ts(e, i);
        uint32_t rel = cano__tidx_rel(e, i);
        if (rel == 0 || rel >= rel_limit || rel <= prev_rel || ts <= prev_ts ||
            ts < 0 || ts > ts_limit)
            return i;
        prev_rel = rel;
        prev_ts = ts;
    }
    return n;
}
