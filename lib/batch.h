/* batch.h - the record batch codec: pure functions, no I/O (fuzzable). */
#ifndef CANO_BATCH_H
#define CANO_BATCH_H
#include "internal.h"

#define CANO__BATCH_HEADER   64u
#define CANO__BATCH_MAGIC    0xC1u
#define CANO__BATCH_MAX      (256u << 20)     /* no batch is ever larger */
#define CANO__ATTR_CODEC     0x07u
#define CANO__ATTR_APPEND_TS 0x08u            /* log-append-time batch */
#define CANO__ATTR_HORIZON   0x10u            /* delete horizon follows */
#define CANO__CODEC_NONE     0u
#define CANO__CODEC_ZLIB     1u

/* The decoded batch header. */
typedef struct cano__batch_info {
    uint32_t length;          /* whole batch */
    uint8_t  attrs;
    int64_t  base_offset, base_ts, max_ts, producer_id, delete_horizon;
    int32_t  base_seq;
    uint32_t last_delta, count, records_size;
    uint32_t records_at;      /* where the records section starts */
} cano__batch_info;

/* How records become a batch: the offsets and timestamps it is given. */
typedef struct cano__batch_params {
    int64_t base_offset;
    int64_t now_ts;           /* used for timestamp 0 and log-append-time */
    bool    log_append_time;
    int64_t producer_id;      /* -1 none */
    int32_t base_seq;         /* -1 none */
} cano__batch_params;

/* Size of one record's body (key + value + headers), the thing
 * max_record_bytes limits. */
uint64_t cano__record_payload(const cano_record *r);
/* Exact size of the uncompressed records section; sets *max_ts, and each
 * record's body size in bodies[] when it is not NULL. */
uint64_t cano__records_size(const cano_record *recs, size_t n,
                            const cano__batch_params *p, int64_t *max_ts,
                            uint64_t *bodies);
/* Writes the header and the uncompressed records at dst and seals it.
 * dst must hold CANO__BATCH_HEADER + records_size bytes; bodies (may be
 * NULL) saves computing the sizes again.  Returns the length. */
uint32_t cano__batch_write(uint8_t *dst, const cano_record *recs, size_t n,
                           const cano__batch_params *p, uint64_t records_size,
                           int64_t max_ts, const uint64_t *bodies);
/* The cleaner's encoder: the survivors of batch b (each with its own offset
 * and timestamp set), under b's header, with a delete horizon when
 * horizon >= 0.  Always uncompressed; returns the length written. */
uint64_t cano__batch_rewrite_size(const cano_record *recs, size_t n,
                                  const cano__batch_info *b, int64_t horizon);
uint32_t cano__batch_rewrite(uint8_t *dst, const cano_record *recs, size_t n,
                             const cano__batch_info *b, int64_t horizon);
/* Rewrites an uncompressed batch at src as a deflated batch at dst (which
 * holds dst_cap bytes).  Returns the new length, or 0 when compressing does
 * not make it smaller (keep src as it is). */
uint32_t cano__batch_deflate(const uint8_t *src, uint8_t *dst, size_t dst_cap,
                             int level);
/* Sets the checksum of a complete batch. */
void cano__batch_seal(uint8_t *batch);

/* Reads the header framing of the batch at p with avail bytes readable.
 * CANO_OK; 1 when the bytes there are all zero (end of data) or too few for
 * a batch (torn); CANO_ECORRUPT when the framing is invalid. No checksum. */
int  cano__batch_parse(const uint8_t *p, size_t avail, cano__batch_info *out);
bool cano__batch_checksum_ok(const uint8_t *p, uint32_t length);
/* Parses, checks the checksum and decodes every record: what recovery and
 * verify use. scratch is a growable buffer for inflating. */
int  cano__batch_validate(const uint8_t *p, size_t avail, cano__batch_info *out,
                          uint8_t **scratch, size_t *scratch_cap);

/* Iterates over the records of a checked batch. */
typedef struct cano__rec_iter {
    const uint8_t *p, *end;
    const cano__batch_info *b;
    uint32_t left;
    int64_t  prev_offset;
} cano__rec_iter;

/* Points *it at the batch's records, inflating into *scratch when needed. */
int cano__rec_iter_init(cano__rec_iter *it, const uint8_t *batch,
                        const cano__batch_info *b, uint8_t **scratch,
                        size_t *scratch_cap);
/* 1 with a record in *out (headers decoded into *hdrs, grown as needed),
 * 0 at the end, CANO_ECORRUPT or CANO_ENOMEM. */
int cano__rec_next(cano__rec_iter *it, cano_record *out, cano_header **hdrs,
                   size_t *hdr_cap);
#endif
