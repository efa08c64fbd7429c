/* compact.h - key-based log compaction (the cleaner). */
#ifndef CANO_COMPACT_H
#define CANO_COMPACT_H
#include "partition.h"

/* Runs cleaning passes over the sealed segments of p until its dirty part is
 * clean.  force: ignore min_cleanable_dirty_ratio and max_compaction_lag. */
int  cano__compact(cano__partition *p, bool force, int64_t now);
/* Finishes or rolls back a swap a crash interrupted (called by load). */
int  cano__compact_recover(cano__partition *p);
/* The first offset not yet cleaned (the persisted checkpoint, read at load;
 * then kept in memory), and the dirty ratio of sealed bytes. */
int64_t cano__cleaned_offset_read(const cano__partition *p);
int64_t cano__cleaned_offset(const cano__partition *p);
double  cano__dirty_ratio(cano__partition *p);
#endif
