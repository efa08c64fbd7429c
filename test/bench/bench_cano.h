/* bench_cano.h - cano helpers shared by sys_cano.c and scale.c. */
#ifndef CANO_BENCH_CANO_H
#define CANO_BENCH_CANO_H

#include "bench.h"
#include "cano.h"

#define BENCH_TOPIC "bench"

/* fatal() with cano's error name and detail when rc < 0. */
void cano_ck(int rc, const char *what);
/* Record i of the data set as a cano_record (timestamp 0: "now"). */
void cano_fill(cano_record *r, uint64_t i);
/* Options used for every cano store of the benchmark (sync_mode given). */
void cano_bench_options(cano_options *o, int sync_mode);
/* Creates topic BENCH_TOPIC with `partitions` partitions, default config. */
void cano_bench_topic(cano_t *db, int32_t partitions);
/* Appends records [from, to) to partition 0 in batches of BATCH. */
void cano_append_range(cano_topic_t *t, uint64_t from, uint64_t to);
/* Reads partition 0 from `from` to its end, verifying; returns the count. */
uint64_t cano_read_verify(cano_topic_t *t, uint64_t from);
/* Reads the record at `off` from partition 0 and verifies it. */
void cano_read_one(cano_topic_t *t, uint64_t off);

#endif
