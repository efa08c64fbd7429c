/* fuzz_batch.c - the record batch codec (lib/batch.c) on arbitrary bytes.
 *
 * Input: one mode byte, then batch bytes (one batch or several back to back,
 * as in a .log file after its header).
 *   mode & 1  FIXSUM   recompute each batch's checksum, so mutations reach
 *                      the record decoder instead of failing the checksum
 *   mode & 2  FIXLEN   set the first batch's length (and, uncompressed, its
 *                      records_size) to the bytes available
 *   mode & 4  DEFLATE  treat the bytes after the first batch header as an
 *                      uncompressed records section and store it deflated
 *                      (attributes codec = zlib, records_size = raw size)
 *   mode & 8  ZLIBATTR set the zlib codec bit without compressing anything
 *
 * For every batch: cano__batch_parse and cano__batch_validate must agree
 * with a full iteration by cano__rec_iter_init / cano__rec_next; every view
 * a record hands out must lie inside the batch (or the inflate buffer) and
 * is read byte by byte; offsets must increase within the batch's range.  A
 * valid batch is then re-encoded with cano__batch_rewrite (the cleaner's
 * encoder) and cano__batch_deflate, and both results must validate and
 * decode to the same records. */
#include <zlib.h>
#include "fuzz_common.h"

#define M_FIXSUM   1u
#define M_FIXLEN   2u
#define M_DEFLATE  4u
#define M_ZLIBATTR 8u
#define MAX_BATCHES 64
#define MAX_RECS    4096

typedef struct rec_copy {
    cano_record r;
    size_t first_hdr;
} rec_copy;

typedef struct decoded {
    rec_copy *recs;
    size_t n, cap;
    cano_header *hdrs;            /* all records' headers, copied */
    size_t n_hdrs, hdr_cap;
} decoded;

static void decoded_free(decoded *d)
{
    free(d->recs);
    free(d->hdrs);
    memset(d, 0, sizeof *d);
}

static void push_rec(decoded *d, const cano_record *r)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->recs = realloc(d->recs, d->cap * sizeof *d->recs);
        FZ_CHECK(d->recs, "out of memory");
    }
    if (d->n_hdrs + r->header_count > d->hdr_cap) {
        while (d->n_hdrs + r->header_count > d->hdr_cap)
            d->hdr_cap = d->hdr_cap ? d->hdr_cap * 2 : 16;
        d->hdrs = realloc(d->hdrs, d->hdr_cap * sizeof *d->hdrs);
        FZ_CHECK(d->hdrs, "out of memory");
    }
    rec_copy *c = &d->recs[d->n++];
    c->r = *r;
    c->first_hdr = d->n_hdrs;
    if (r->header_count)
        memcpy(d->hdrs + d->n_hdrs, r->headers,
               r->header_count * sizeof *r->headers);
    d->n_hdrs += r->header_count;
}

/* The records as an array whose headers point into d->hdrs. */
static cano_record *as_records(decoded *d)
{
    cano_record *v = malloc((d->n ? d->n : 1) * sizeof *v);
    FZ_CHECK(v, "out of memory");
    for (size_t i = 0; i < d->n; i++) {
        v[i] = d->recs[i].r;
        v[i].headers = v[i].header_count ? d->hdrs + d->recs[i].first_hdr
                                         : NULL;
    }
    return v;
}

static bool in_range(const void *p, size_t n, const uint8_t *lo,
                     const uint8_t *hi)
{
    const uint8_t *b = p;
    return b >= lo && b <= hi && n <= (size_t)(hi - b);
}

/* Decodes every record of a batch that parsed; returns what the iterator
 * ended with (0 = all records, or an error) and fills d when not NULL. */
static int iterate(const uint8_t *batch, const cano__batch_info *b,
                   uint8_t **scratch, size_t *scratch_cap, decoded *d)
{
    cano__rec_iter it;
    int rc = cano__rec_iter_init(&it, batch, b, scratch, scratch_cap);
    FZ_CHECK(rc == CANO_OK || rc == CANO_ECORRUPT || rc == CANO_ENOMEM,
             "rec_iter_init returned %d", rc);
    if (rc != CANO_OK)
        return rc;
    FZ_CHECK(*scratch_cap <= CANO__BATCH_MAX, "scratch of %zu bytes",
             *scratch_cap);
    const uint8_t *lo, *hi;
    if ((b->attrs & CANO__ATTR_CODEC) == CANO__CODEC_ZLIB) {
        lo = *scratch;
        hi = *scratch + b->records_size;
    } else {
        lo = batch + b->records_at;
        hi = batch + b->length;
    }
    cano_header *hdrs = NULL;
    size_t hdr_cap = 0, n = 0;
    int64_t prev = INT64_MIN;
    cano_record r;
    while ((rc = cano__rec_next(&it, &r, &hdrs, &hdr_cap)) == 1) {
        n++;
        FZ_CHECK(n <= b->count, "more records (%zu) than record_count %u", n,
                 b->count);
        FZ_CHECK(r.offset > prev, "offset %lld after %lld",
                 (long long)r.offset, (long long)prev);
        FZ_CHECK(r.offset >= b->base_offset &&
                 r.offset - b->base_offset <= (int64_t)b->last_delta,
                 "offset %lld outside the batch", (long long)r.offset);
        prev = r.offset;
        if (b->attrs & CANO__ATTR_APPEND_TS)
            FZ_CHECK(r.timestamp == b->max_ts, "log-append-time timestamp");
        FZ_CHECK(!r.key || in_range(r.key, r.key_len, lo, hi), "key view");
        FZ_CHECK(r.key || !r.key_len, "NULL key with a length");
        FZ_CHECK(!r.value || in_range(r.value, r.value_len, lo, hi),
                 "value view");
        FZ_CHECK(r.value || !r.value_len, "NULL value with a length");
        FZ_CHECK(r.header_count == 0 || r.headers, "NULL headers");
        FZ_CHECK(r.header_count <= hdr_cap, "header array too small");
        if (r.key)
            fz_touch(r.key, r.key_len);
        if (r.value)
            fz_touch(r.value, r.value_len);
        for (size_t i = 0; i < r.header_count; i++) {
            const cano_header *h = &r.headers[i];
            FZ_CHECK(in_range(h->name, h->name_len, lo, hi), "header name");
            FZ_CHECK(!h->value || in_range(h->value, h->value_len, lo, hi),
                     "header value");
            fz_touch(h->name, h->name_len);
            if (h->value)
                fz_touch(h->value, h->value_len);
        }
        if (d && n <= MAX_RECS)
            push_rec(d, &r);
    }
    FZ_CHECK(rc == 0 || rc == CANO_ECORRUPT || rc == CANO_ENOMEM,
             "rec_next returned %d", rc);
    if (rc == 0)
        FZ_CHECK(n == b->count, "%zu records, record_count %u", n, b->count);
    free(hdrs);
    return rc;
}

static bool same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
    if (!a || !b)
        return !a && !b && an == 0 && bn == 0;
    return an == bn && (an == 0 || !memcmp(a, b, an));
}

static void same_records(const decoded *x, const decoded *y, const char *what)
{
    FZ_CHECK(x->n == y->n, "%s: %zu records, then %zu", what, x->n, y->n);
    for (size_t i = 0; i < x->n; i++) {
        const cano_record *a = &x->recs[i].r, *b = &y->recs[i].r;
        FZ_CHECK(a->offset == b->offset, "%s: offset", what);
        FZ_CHECK(a->timestamp == b->timestamp, "%s: timestamp of offset "
                 "%lld: %lld then %lld", what, (long long)a->offset,
                 (long long)a->timestamp, (long long)b->timestamp);
        FZ_CHECK(same_bytes(a->key, a->key_len, b->key, b->key_len),
                 "%s: key", what);
        FZ_CHECK(same_bytes(a->value, a->value_len, b->value, b->value_len),
                 "%s: value", what);
        FZ_CHECK(a->header_count == b->header_count, "%s: headers", what);
        for (size_t h = 0; h < a->header_count; h++) {
            const cano_header *ha = &x->hdrs[x->recs[i].first_hdr + h];
            const cano_header *hb = &y->hdrs[y->recs[i].first_hdr + h];
            FZ_CHECK(ha->name_len == hb->name_len &&
                     !memcmp(ha->name, hb->name, ha->name_len),
                     "%s: header name", what);
            FZ_CHECK(same_bytes(ha->value, ha->value_len, hb->value,
                                hb->value_len), "%s: header value", what);
        }
    }
}

/* A valid batch re-encoded by the cleaner's encoder (and compressed) must
 * be valid and decode to the same records, with the same header fields. */
static void roundtrip(const cano__batch_info *b, decoded *d)
{
    if (d->n == 0 || d->n != b->count)
        return;
    cano_record *recs = as_records(d);
    int64_t horizon = b->delete_horizon;
    uint64_t size = cano__batch_rewrite_size(recs, d->n, b, horizon);
    if (size > CANO__BATCH_MAX) {
        free(recs);
        return;
    }
    uint8_t *out = malloc(size);
    FZ_CHECK(out, "out of memory");
    uint32_t len = cano__batch_rewrite(out, recs, d->n, b, horizon);
    FZ_CHECK(len == size, "rewrite wrote %u of %llu bytes", len,
             (unsigned long long)size);
    cano__batch_info b2;
    uint8_t *scratch = NULL;
    size_t cap = 0;
    int rc = cano__batch_validate(out, len, &b2, &scratch, &cap);
    FZ_CHECK(rc == CANO_OK, "rewritten batch does not validate: %d", rc);
    FZ_CHECK(b2.base_offset == b->base_offset &&
             b2.last_delta == b->last_delta && b2.max_ts == b->max_ts &&
             b2.producer_id == b->producer_id &&
             b2.base_seq == b->base_seq && b2.count == b->count &&
             (b2.attrs & CANO__ATTR_APPEND_TS) ==
             (b->attrs & CANO__ATTR_APPEND_TS),
             "rewritten batch header differs");
    decoded d2 = { 0 };
    rc = iterate(out, &b2, &scratch, &cap, &d2);
    FZ_CHECK(rc == 0, "rewritten batch does not decode: %d", rc);
    same_records(d, &d2, "rewrite");
    decoded_free(&d2);

    /* Deflated into an exact-size buffer: a write past the cap is a heap
     * overflow. */
    uint8_t *packed = malloc(len);
    FZ_CHECK(packed, "out of memory");
    uint32_t plen = cano__batch_deflate(out, packed, len, 1);
    FZ_CHECK(plen == 0 || plen < len, "deflate grew %u to %u", len, plen);
    if (plen) {
        rc = cano__batch_validate(packed, plen, &b2, &scratch, &cap);
        FZ_CHECK(rc == CANO_OK, "deflated batch does not validate: %d", rc);
        FZ_CHECK((b2.attrs & CANO__ATTR_CODEC) == CANO__CODEC_ZLIB &&
                 b2.records_size == len - b2.records_at,
                 "deflated batch header");
        rc = iterate(packed, &b2, &scratch, &cap, &d2);
        FZ_CHECK(rc == 0, "deflated batch does not decode: %d", rc);
        same_records(d, &d2, "deflate");
        decoded_free(&d2);
    }
    free(packed);
    free(scratch);
    free(out);
    free(recs);
}

static bool same_info(const cano__batch_info *a, const cano__batch_info *b)
{
    return a->length == b->length && a->attrs == b->attrs &&
           a->base_offset == b->base_offset && a->base_ts == b->base_ts &&
           a->max_ts == b->max_ts && a->producer_id == b->producer_id &&
           a->delete_horizon == b->delete_horizon &&
           a->base_seq == b->base_seq && a->last_delta == b->last_delta &&
           a->count == b->count && a->records_size == b->records_size &&
           a->records_at == b->records_at;
}

/* Builds a zlib batch from a header and a raw records section. */
static uint8_t *deflate_input(const uint8_t *in, size_t n, size_t *out_n)
{
    if (n < CANO__BATCH_HEADER)
        return NULL;
    uint32_t at = (in[13] & CANO__ATTR_HORIZON) ? 72 : 64;
    if (n < at)
        return NULL;
    size_t raw = n - at;
    uLong bound = compressBound((uLong)raw) + 64;
    uint8_t *out = malloc(at + bound);
    FZ_CHECK(out, "out of memory");
    memcpy(out, in, at);
    z_stream z;
    memset(&z, 0, sizeof z);
    FZ_CHECK(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) ==
             Z_OK, "deflateInit2");
    z.next_in = (Bytef *)(in + at);
    z.avail_in = (uInt)raw;
    z.next_out = out + at;
    z.avail_out = (uInt)bound;
    FZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
    size_t packed = bound - z.avail_out;
    deflateEnd(&z);
    out[13] = (uint8_t)((out[13] & ~CANO__ATTR_CODEC) | CANO__CODEC_ZLIB);
    cano__st32(out + 8, (uint32_t)(at + packed));
    cano__st32(out + 60, (uint32_t)raw);
    *out_n = at + packed;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    unsigned mode = data[0];
    size_t n = size - 1;
    uint8_t *buf;
    if ((mode & M_DEFLATE) && n >= CANO__BATCH_HEADER) {
        buf = deflate_input(data + 1, n, &n);
        if (!buf)
            return 0;
    } else {
        /* An exact-size copy: a read past the end is a heap overflow. */
        buf = malloc(n ? n : 1);
        FZ_CHECK(buf, "out of memory");
        if (n)
            memcpy(buf, data + 1, n);
    }
    if ((mode & M_ZLIBATTR) && n >= CANO__BATCH_HEADER)
        buf[13] = (uint8_t)((buf[13] & ~CANO__ATTR_CODEC) | CANO__CODEC_ZLIB);
    if ((mode & M_FIXLEN) && n >= CANO__BATCH_HEADER && n <= UINT32_MAX) {
        cano__st32(buf + 8, (uint32_t)n);
        if (!(buf[13] & CANO__ATTR_CODEC)) {
            uint32_t at = (buf[13] & CANO__ATTR_HORIZON) ? 72 : 64;
            cano__st32(buf + 60, n >= at ? (uint32_t)(n - at) : 0);
        }
    }
    if (mode & (M_FIXSUM | M_DEFLATE))
        fz_fix_batch_sums(buf, n);

    /* Inflate buffers: a fresh one per input (so ASan sees its exact end),
     * except for batches that claim more than 1 MiB of records (up to 256
     * MiB is allowed): one buffer kept for the whole run, as a cursor keeps
     * one, else every such input would cost a 256 MiB allocation. */
    uint8_t *small = NULL;
    size_t small_cap = 0;
    static uint8_t *big;
    static size_t big_cap;
    size_t pos = 0;
    for (int k = 0; k < MAX_BATCHES && pos <= n; k++) {
        const uint8_t *p = buf + pos;
        size_t avail = n - pos;
        cano__batch_info b, bv;
        int prc = cano__batch_parse(p, avail, &b);
        bool use_big = prc == CANO_OK && b.records_size > (1u << 20);
        uint8_t **scratch = use_big ? &big : &small;
        size_t *scratch_cap = use_big ? &big_cap : &small_cap;
        FZ_CHECK(prc == CANO_OK || prc == 1 || prc == CANO_ECORRUPT,
                 "batch_parse returned %d", prc);
        int vrc = cano__batch_validate(p, avail, &bv, scratch, scratch_cap);
        FZ_CHECK(vrc == CANO_OK || vrc == 1 || vrc == CANO_ECORRUPT ||
                 vrc == CANO_ENOMEM, "batch_validate returned %d", vrc);
        FZ_CHECK(*scratch_cap <= CANO__BATCH_MAX, "scratch of %zu bytes",
                 *scratch_cap);
        if (prc != CANO_OK) {
            FZ_CHECK(vrc == prc, "validate %d but parse %d", vrc, prc);
            break;
        }
        FZ_CHECK(b.length >= CANO__BATCH_HEADER && b.length <= avail &&
                 b.length <= CANO__BATCH_MAX, "parsed length %u of %zu",
                 b.length, avail);
        FZ_CHECK(b.records_at == CANO__BATCH_HEADER ||
                 b.records_at == CANO__BATCH_HEADER + 8, "records_at %u",
                 b.records_at);
        FZ_CHECK(b.records_at <= b.length, "records_at past the end");
        FZ_CHECK(b.count >= 1 && b.base_offset >= 0, "count / base_offset");
        FZ_CHECK((b.attrs & CANO__ATTR_CODEC) != CANO__CODEC_NONE ||
                 b.records_size == b.length - b.records_at, "records_size");
        bool sum_ok = cano__batch_checksum_ok(p, b.length);
        if (vrc == CANO_OK)
            FZ_CHECK(sum_ok && same_info(&b, &bv),
                     "validate accepted what parse did not");
        /* Iterate whether or not the checksum matched: a forged checksum
         * is one XXH3 call away, so the decoder must hold on its own. */
        decoded d = { 0 };
        int irc = iterate(p, &b, scratch, scratch_cap,
                          vrc == CANO_OK ? &d : NULL);
        if (sum_ok && irc == 0)
            FZ_CHECK(vrc == CANO_OK, "batch decodes but validate says %d",
                     vrc);
        if (vrc == CANO_OK) {
            FZ_CHECK(irc == 0, "validate OK but iteration %d", irc);
            roundtrip(&b, &d);
        }
        decoded_free(&d);
        pos += b.length;
    }
    free(small);
    free(buf);
    return 0;
}
