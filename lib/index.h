/* index.h - the sparse offset index and time index of a segment: pure
 * functions over their mapped entry arrays (see cano-format(5)). */
#ifndef CANO_INDEX_H
#define CANO_INDEX_H
#include "internal.h"

#define CANO__IDX_HEADER   16u
#define CANO__OIDX_ENTRY   8u     /* u32 relative offset, u32 position */
#define CANO__TIDX_ENTRY   12u    /* i64 timestamp, u32 relative offset */
#define CANO__OIDX_MAGIC   "CANOOIX1"
#define CANO__TIDX_MAGIC   "CANOTIX1"

void cano__idx_header(uint8_t *dst, const char *magic, int64_t base);
bool cano__idx_header_ok(const uint8_t *p, size_t len, const char *magic,
                         int64_t base);

void cano__oidx_put(uint8_t *entries, uint32_t i, uint32_t rel, uint32_t pos);
void cano__tidx_put(uint8_t *entries, uint32_t i, int64_t ts, uint32_t rel);
uint32_t cano__oidx_rel(const uint8_t *entries, uint32_t i);
uint32_t cano__oidx_pos(const uint8_t *entries, uint32_t i);
int64_t  cano__tidx_ts(const uint8_t *entries, uint32_t i);
uint32_t cano__tidx_rel(const uint8_t *entries, uint32_t i);

/* Position of the batch to start scanning from for relative offset rel:
 * the entry with the largest offset <= rel, or def when there is none. */
uint32_t cano__oidx_lookup(const uint8_t *entries, uint32_t n, uint32_t rel,
                           uint32_t def);
/* Relative offset to start scanning from for the first record with a
 * timestamp >= ts: the last entry whose timestamp is below ts, else 0. */
uint32_t cano__tidx_lookup(const uint8_t *entries, uint32_t n, int64_t ts);

/* How many leading entries are well formed: strictly increasing, not zero,
 * and (offset index) at a position below pos_limit, (time index) at a
 * relative offset below rel_limit with a timestamp in [0, ts_limit].  Used to drop what a crash left. */
uint32_t cano__oidx_valid(const uint8_t *entries, uint32_t n,
                          uint32_t pos_limit);
uint32_t cano__tidx_valid(const uint8_t *entries, uint32_t n,
                          uint32_t rel_limit, int64_t ts_limit);
#endif
