/* producer.h - idempotent producers: the last sequence numbers per
 * producer id in one partition, so a retried batch is not written twice. */
#ifndef CANO_PRODUCER_H
#define CANO_PRODUCER_H
#include "internal.h"

#define CANO__RECENT_BATCHES 5

typedef struct cano__producer {
    int64_t pid;
    int32_t next_seq;
    int32_t n_recent;              /* entries used in recent[] */
    struct { int32_t seq; uint32_t n; int64_t first; }
            recent[CANO__RECENT_BATCHES];   /* newest last */
} cano__producer;

/* Who appends, for an idempotent append. */
typedef struct cano__producer_ref {
    int64_t pid;
    int32_t seq;
} cano__producer_ref;

typedef struct cano__producers {
    cano__producer *e;
    size_t n, cap;
    uint32_t *slot;            /* hash of pid -> index + 1 (0 = empty) */
    size_t n_slots;            /* a power of two, > 2 n */
} cano__producers;

/* CANO_OK: append it; 1: a retry of one of the last batches (*first set,
 * nothing to write); CANO_ESEQUENCE: a gap or an unknown old sequence. */
int  cano__producers_check(const cano__producers *ps, int64_t pid,
                           int32_t seq, size_t n, int64_t *first);
int  cano__producers_record(cano__producers *ps, int64_t pid, int32_t seq,
                            size_t n, int64_t first);
void cano__producers_free(cano__producers *ps);
/* Snapshot file <dir>/producer-state, valid up to end_offset. */
int  cano__producers_save(const cano__producers *ps, const char *dir,
                          int64_t end_offset, uint32_t file_mode);
/* Loads the snapshot; *upto_out = the offset it is valid up to, -1 when
 * there is none, -2 when it is damaged (replay the whole log). */
int  cano__producers_load(cano__producers *ps, const char *dir,
                          int64_t *upto_out);
#endif
