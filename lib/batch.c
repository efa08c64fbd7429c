/* batch.c - encoding and decoding of record batches (see cano-format(5)).
 *
 * A batch is a 64-byte header, then the records section, which is deflated
 * when the topic asks for compression.  Each record is a varint-framed body
 * holding deltas from the batch's base offset and base timestamp, Kafka's
 * record v2 layout.  An XXH3-64 checksum in the first 8 bytes covers the
 * rest of the batch, so a torn or flipped batch is never returned. */
#include <stdlib.h>
/* Inlined: the checksums are over short inputs, where a call through the
 * shared library's dispatcher costs as much as the hash itself. */
#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zlib.h>
#include "batch.h"

/* ---- varints: unsigned LEB128, signed values zigzag-mapped first ---- */

static inline unsigned uvarint_len(uint64_t v)
{
    unsigned n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline uint8_t *put_uvarint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint8_t *put_varint(uint8_t *p, int64_t v)
{
    return put_uvarint(p, zigzag(v));
}

/* Reads a uvarint of at most 10 bytes; NULL when it runs past end. */
static inline const uint8_t *get_uvarint(const uint8_t *p, const uint8_t *end,
                                         uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70 && p < end; shift += 7) {
        uint8_t b = *p++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return p;
        }
    }
    return NULL;
}

static inline const uint8_t *get_varint(const uint8_t *p, const uint8_t *end,
                                        int64_t *v)
{
    uint64_t u;
    p = get_uvarint(p, end, &u);
    if (p)
        *v = unzigzag(u);
    return p;
}

/* ---- encoding ---- */

static inline int64_t record_ts(const cano_record *r,
                                const cano__batch_params *p)
{
    if (p->log_append_time || r->timestamp == 0)
        return p->now_ts;
    return r->timestamp;
}

static inline int64_t opt_len(const void *ptr, size_t len)
{
    return ptr ? (int64_t)len : -1;
}

uint64_t cano__record_payload(const cano_record *r)
{
    uint64_t n = r->key_len + r->value_len;
    for (size_t i = 0; i < r->header_count; i++)
        n += r->headers[i].name_len + r->headers[i].value_len;
    return n;
}

/* Size of a record body, without its own length prefix. */
static uint64_t body_size(const cano_record *r, int64_t ts_delta,
                          uint64_t off_delta)
{
    uint64_t n = 1 + uvarint_len(zigzag(ts_delta)) + uvarint_len(off_delta);
    n += uvarint_len(zigzag(opt_len(r->key, r->key_len))) + r->key_len;
    n += uvarint_len(zigzag(opt_len(r->value, r->value_len))) + r->value_len;
    n += uvarint_len(r->header_count);
    for (size_t i = 0; i < r->header_count; i++) {
        const cano_header *h = &r->headers[i];
        n += uvarint_len(h->name_len) + h->name_len;
        n += uvarint_len(zigzag(opt_len(h->value, h->value_len))) +
             h->value_len;
    }
    return n;
}

uint64_t cano__records_size(const cano_record *recs, size_t n,
                            const cano__batch_params *p, int64_t *max_ts,
                            uint64_t *bodies)
{
    int64_t base_ts = record_ts(&recs[0], p), mx = base_ts;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = record_ts(&recs[i], p);
        if (ts > mx)
            mx = ts;
        uint64_t body = body_size(&recs[i], ts - base_ts, i);
        if (bodies)
            bodies[i] = body;
        total += uvarint_len(body) + body;
    }
    *max_ts = mx;
    return total;
}

static uint8_t *put_bytes(uint8_t *d, const void *src, size_t len)
{
    d = put_varint(d, opt_len(src, len));
    if (src && len) {
        memcpy(d, src, len);
        d += len;
    }
    return d;
}

/* body: the record's body size when known, else 0 (computed here). */
static uint8_t *write_record(uint8_t *d, const cano_record *r, int64_t ts_delta,
                             uint64_t off_delta, uint64_t body)
{
    d = put_uvarint(d, body ? body : body_size(r, ts_delta, off_delta));
    *d++ = 0;
    d = put_varint(d, ts_delta);
    d = put_uvarint(d, off_delta);
    d = put_bytes(d, r->key, r->key_len);
    d = put_bytes(d, r->value, r->value_len);
    d = put_uvarint(d, r->header_count);
    for (size_t i = 0; i < r->header_count; i++) {
        const cano_header *h = &r->headers[i];
        d = put_uvarint(d, h->name_len);
        if (h->name_len) {
            memcpy(d, h->name, h->name_len);
            d += h->name_len;
        }
        d = put_bytes(d, h->value, h->value_len);
    }
    return d;
}

/* Writes a batch header; the checksum comes last, in cano__batch_seal. */
static void put_header(uint8_t *dst, uint32_t length, uint8_t attrs,
                       int64_t base_offset, int64_t base_ts, int64_t max_ts,
                       int64_t producer_id, int32_t base_seq,
                       uint32_t last_delta, uint32_t count, uint32_t rsize)
{
    cano__st32(dst + 8, length);
    dst[12] = CANO__BATCH_MAGIC;
    dst[13] = attrs;
    dst[14] = dst[15] = 0;
    cano__st64(dst + 16, (uint64_t)base_offset);
    cano__st64(dst + 24, (uint64_t)base_ts);
    cano__st64(dst + 32, (uint64_t)max_ts);
    cano__st64(dst + 40, (uint64_t)producer_id);
    cano__st32(dst + 48, (uint32_t)base_seq);
    cano__st32(dst + 52, last_delta);
    cano__st32(dst + 56, count);
    cano__st32(dst + 60, rsize);
}

uint32_t cano__batch_write(uint8_t *dst, const cano_record *recs, size_t n,
                           const cano__batch_params *p, uint64_t records_size,
                           int64_t max_ts, const uint64_t *bodies)
{
    int64_t base_ts = record_ts(&recs[0], p);
    uint32_t length = (uint32_t)(CANO__BATCH_HEADER + records_size);
    put_header(dst, length, p->log_append_time ? CANO__ATTR_APPEND_TS : 0,
               p->base_offset, base_ts, max_ts, p->producer_id, p->base_seq,
               (uint32_t)(n - 1), (uint32_t)n, (uint32_t)records_size);
    uint8_t *d = dst + CANO__BATCH_HEADER;
    for (size_t i = 0; i < n; i++)
        d = write_record(d, &recs[i], record_ts(&recs[i], p) - base_ts, i,
                         bodies ? bodies[i] : 0);
    cano__batch_seal(dst);
    return length;
}

/* Records keep their own offset and timestamp fields here: the cleaner
 * re-encodes the survivors of a batch under the batch's original header. */
static uint64_t kept_size(const cano_record *recs, size_t n,
                          const cano__batch_info *b)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t body = body_size(&recs[i], recs[i].timestamp -
                                  recs[0].timestamp,
                                  (uint64_t)(recs[i].offset - b->base_offset));
        total += uvarint_len(body) + body;
    }
    return total;
}

uint64_t cano__batch_rewrite_size(const cano_record *recs, size_t n,
                                  const cano__batch_info *b, int64_t horizon)
{
    return CANO__BATCH_HEADER + (horizon >= 0 ? 8 : 0) +
           kept_size(recs, n, b);
}

uint32_t cano__batch_rewrite(uint8_t *dst, const cano_record *recs, size_t n,
                             const cano__batch_info *b, int64_t horizon)
{
    uint64_t rsize = kept_size(recs, n, b);
    uint32_t at = CANO__BATCH_HEADER + (horizon >= 0 ? 8 : 0);
    uint32_t length = (uint32_t)(at + rsize);
    uint8_t attrs = (uint8_t)(b->attrs & CANO__ATTR_APPEND_TS);
    if (horizon >= 0) {
        attrs |= CANO__ATTR_HORIZON;
        cano__st64(dst + CANO__BATCH_HEADER, (uint64_t)horizon);
    }
    put_header(dst, length, attrs, b->base_offset, recs[0].timestamp,
               b->max_ts, b->producer_id, b->base_seq, b->last_delta,
               (uint32_t)n, (uint32_t)rsize);
    uint8_t *d = dst + at;
    for (size_t i = 0; i < n; i++)
        d = write_record(d, &recs[i], recs[i].timestamp - recs[0].timestamp,
                         (uint64_t)(recs[i].offset - b->base_offset), 0);
    cano__batch_seal(dst);
    return length;
}

uint32_t cano__batch_deflate(const uint8_t *src, uint8_t *dst, size_t dst_cap,
                             int level)
{
    uint32_t src_len = cano__ld32(src + 8);
    uint32_t at = CANO__BATCH_HEADER + ((src[13] & CANO__ATTR_HORIZON) ? 8 : 0);
    uint32_t rsize = src_len - at;
    if (dst_cap <= at)
        return 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *)(src + at);
    z.avail_in = rsize;
    z.next_out = dst + at;
    size_t room = CANO__MIN(dst_cap, src_len) - at;
    z.avail_out = (uInt)room;
    int zr = deflate(&z, Z_FINISH);
    size_t out = room - z.avail_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END || at + out >= src_len)
        return 0;
    memcpy(dst, src, at);
    uint32_t length = (uint32_t)(at + out);
    cano__st32(dst + 8, length);
    dst[13] = (uint8_t)((dst[13] & ~CANO__ATTR_CODEC) | CANO__CODEC_ZLIB);
    cano__batch_seal(dst);
    return length;
}

void cano__batch_seal(uint8_t *batch)
{
    uint32_t length = cano__ld32(batch + 8);
    cano__st64(batch, XXH3_64bits(batch + 8, length - 8));
}

/* ---- decoding ---- */

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int cano__batch_parse(const uint8_t *p, size_t avail, cano__batch_info *b)
{
    if (avail < CANO__BATCH_HEADER)
        return 1;
    b->length = cano__ld32(p + 8);
    if (b->length == 0 && all_zero(p, CANO__BATCH_HEADER))
        return 1;
    b->attrs = p[12 + 1];
    if (p[12] != CANO__BATCH_MAGIC || (b->attrs & 0xe0) ||
        (b->attrs & CANO__ATTR_CODEC) > CANO__CODEC_ZLIB ||
        b->length < CANO__BATCH_HEADER || b->length > CANO__BATCH_MAX)
        return CANO_ECORRUPT;
    if (b->length > avail)
        return 1;
    b->base_offset = (int64_t)cano__ld64(p + 16);
    b->base_ts = (int64_t)cano__ld64(p + 24);
    b->max_ts = (int64_t)cano__ld64(p + 32);
    b->producer_id = (int64_t)cano__ld64(p + 40);
    b->base_seq = (int32_t)cano__ld32(p + 48);
    b->last_delta = cano__ld32(p + 52);
    b->count = cano__ld32(p + 56);
    b->records_size = cano__ld32(p + 60);
    b->records_at = CANO__BATCH_HEADER;
    b->delete_horizon = -1;
    if (b->attrs & CANO__ATTR_HORIZON) {
        if (b->length < CANO__BATCH_HEADER + 8)
            return CANO_ECORRUPT;
        b->delete_horizon = (int64_t)cano__ld64(p + CANO__BATCH_HEADER);
        b->records_at += 8;
    }
    if (b->base_offset < 0 || b->count == 0 || b->last_delta < b->count - 1 ||
        b->records_size > CANO__BATCH_MAX ||
        INT64_MAX - b->base_offset <= (int64_t)b->last_delta)
        return CANO_ECORRUPT;
    /* Deflate expands at most about 1032:1: a larger claimed size is a lie
     * that would only make readers allocate for nothing. */
    if ((b->attrs & CANO__ATTR_CODEC) == CANO__CODEC_ZLIB &&
        (uint64_t)b->records_size >
        1032 * (uint64_t)(b->length - b->records_at) + 64)
        return CANO_ECORRUPT;
    if ((b->attrs & CANO__ATTR_CODEC) == CANO__CODEC_NONE &&
        b->records_size != b->length - b->records_at)
        return CANO_ECORRUPT;
    return CANO_OK;
}

bool cano__batch_checksum_ok(const uint8_t *p, uint32_t length)
{
    return cano__ld64(p) == XXH3_64bits(p + 8, length - 8);
}

static int inflate_records(const uint8_t *src, size_t src_len, uint8_t *dst,
                           size_t dst_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK)
        return CANO_ENOMEM;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)src_len;
    z.next_out = dst;
    z.avail_out = (uInt)dst_len;
    int zr = inflate(&z, Z_FINISH);
    bool ok = zr == Z_STREAM_END && z.avail_out == 0 && z.avail_in == 0;
    inflateEnd(&z);
    return ok ? CANO_OK : CANO_ECORRUPT;
}

int cano__rec_iter_init(cano__rec_iter *it, const uint8_t *batch,
                        const cano__batch_info *b, uint8_t **scratch,
                        size_t *scratch_cap)
{
    const uint8_t *rec = batch + b->records_at;
    if ((b->attrs & CANO__ATTR_CODEC) == CANO__CODEC_ZLIB) {
        if (*scratch_cap < b->records_size) {
            uint8_t *n = cano__realloc(*scratch, b->records_size);
            if (!n)
                return cano__err(CANO_ENOMEM, "inflate buffer");
            *scratch = n;
            *scratch_cap = b->records_size;
        }
        int rc = inflate_records(rec, b->length - b->records_at, *scratch,
                                 b->records_size);
        if (rc != CANO_OK)
            return rc == CANO_ECORRUPT
                ? cano__err(rc, "batch at offset %lld does not inflate",
                            (long long)b->base_offset) : rc;
        rec = *scratch;
    }
    it->p = rec;
    it->end = rec + b->records_size;
    it->b = b;
    it->left = b->count;
    it->prev_offset = b->base_offset - 1;
    return CANO_OK;
}

/* Reads an optional byte string: length -1 is NULL. */
static const uint8_t *get_bytes(const uint8_t *p, const uint8_t *end,
                                const void **ptr, size_t *len)
{
    int64_t n;
    p = get_varint(p, end, &n);
    if (!p || n < -1 || n > end - p)
        return NULL;
    *ptr = n < 0 ? NULL : p;
    *len = n < 0 ? 0 : (size_t)n;
    return p + (n < 0 ? 0 : n);
}

static int grow_headers(cano_header **hdrs, size_t *cap, uint64_t n)
{
    size_t want = *cap ? *cap : 4;
    while (want < n)
        want *= 2;
    cano_header *h = cano__realloc(*hdrs, want * sizeof *h);
    if (!h)
        return cano__err(CANO_ENOMEM, "header array");
    *hdrs = h;
    *cap = want;
    return CANO_OK;
}

static int bad_record(const cano__rec_iter *it)
{
    return cano__err(CANO_ECORRUPT, "batch at offset %lld: bad record",
                     (long long)it->b->base_offset);
}

int cano__rec_next(cano__rec_iter *it, cano_record *out, cano_header **hdrs,
                   size_t *hdr_cap)
{
    if (it->left == 0)
        return it->p == it->end ? 0 : bad_record(it);
    uint64_t body, off_delta, nh;
    int64_t ts_delta;
    const uint8_t *p = get_uvarint(it->p, it->end, &body);
    if (!p || body > (uint64_t)(it->end - p) || body < 1)
        return bad_record(it);
    const uint8_t *end = p + body;
    p++;   /* record attributes, always 0 */
    p = get_varint(p, end, &ts_delta);
    if (p)
        p = get_uvarint(p, end, &off_delta);
    if (p)
        p = get_bytes(p, end, &out->key, &out->key_len);
    if (p)
        p = get_bytes(p, end, &out->value, &out->value_len);
    if (p)
        p = get_uvarint(p, end, &nh);
    if (!p || off_delta > it->b->last_delta || nh > (uint64_t)(end - p) / 2)
        return bad_record(it);
    int64_t offset = it->b->base_offset + (int64_t)off_delta;
    if (offset <= it->prev_offset)
        return bad_record(it);
    if (nh > *hdr_cap && grow_headers(hdrs, hdr_cap, nh) != CANO_OK)
        return CANO_ENOMEM;
    for (uint64_t i = 0; i < nh; i++) {
        cano_header *h = &(*hdrs)[i];
        uint64_t name_len;
        p = get_uvarint(p, end, &name_len);
        if (!p || name_len > (uint64_t)(end - p))
            return bad_record(it);
        h->name = p;
        h->name_len = (size_t)name_len;
        p = get_bytes(p + name_len, end, &h->value, &h->value_len);
        if (!p)
            return bad_record(it);
    }
    if (p != end)
        return bad_record(it);
    /* An empty key or value must read back non-NULL; p points into the
     * batch, so it is a valid address for a zero-length view. */
    out->headers = nh ? *hdrs : NULL;
    out->header_count = (size_t)nh;
    out->offset = offset;
    int64_t ts = it->b->max_ts;
    /* Record timestamps are >= 0 (as appends require), so the cleaner's
     * differences between them cannot overflow either. */
    if (!(it->b->attrs & CANO__ATTR_APPEND_TS) &&
        (__builtin_add_overflow(it->b->base_ts, ts_delta, &ts) || ts < 0))
        return bad_record(it);
    out->timestamp = ts;
    it->prev_offset = offset;
    it->p = end;
    it->left--;
    return 1;
}

int cano__batch_validate(const uint8_t *p, size_t avail, cano__batch_info *b,
                         uint8_t **scratch, size_t *scratch_cap)
{
    int rc = cano__batch_parse(p, avail, b);
    if (rc != CANO_OK)
        return rc;
    if (!cano__batch_checksum_ok(p, b->length))
        return CANO_ECORRUPT;
    cano__rec_iter it;
    rc = cano__rec_iter_init(&it, p, b, scratch, scratch_cap);
    if (rc != CANO_OK)
        return rc;
    cano_record r;
    cano_header *hdrs = NULL;
    size_t cap = 0;
    while ((rc = cano__rec_next(&it, &r, &hdrs, &cap)) == 1)
        ;
    cano__free(hdrs);
    return rc;
}
