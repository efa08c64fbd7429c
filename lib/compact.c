/* compact.c - the cleaner: keeps, for every key, at least its latest record.
 *
 * A pass maps key hashes (XXH3-64) to their latest offset in the dirty part
 * of the log (sealed segments from the cleaner checkpoint on), in a table of
 * fixed size (cano_options.cleaner_map_bytes); when the dirty part has more
 * keys than fit, the pass stops early and the next pass goes on from there.
 * Then every sealed segment from the log start to the end of the mapped part
 * is copied without the records a later one of the same key supersedes.
 * Offsets never change; emptied batches vanish, leaving gaps that readers
 * step over.  Consecutive outputs are merged while they fit segment_bytes.
 * A tombstone (NULL value) that is the latest of its key survives until its
 * delete horizon (first cleaning + delete_retention_ms), kept in its batch.
 * The active segment is never touched, and neither is anything younger than
 * min_compaction_lag_ms.
 *
 * Crash safety: the new segments are written as *.cleaned files and synced;
 * then a manifest naming the old and new segments is written atomically:
 * that is the commit point.  Renames and unlinks follow.  Open finishes the
 * swap when the manifest exists and deletes *.cleaned files otherwise. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>
#include "compact.h"
#include "io.h"
#include "retention.h"
#include "store.h"

#define CHECKPOINT_FILE "cleaner-offset"
#define MANIFEST_FILE   "compaction.manifest"
#define CLEANED         ".cleaned"
#define WRITE_BUF       (1u << 20)

/* ---- the key map: open addressing over (hash, offset) pairs ---- */

typedef struct keymap {
    uint64_t *slot;         /* 2 words a slot: hash (0 = empty), offset */
    size_t    cap, used, limit;
} keymap;

static int keymap_init(keymap *m, size_t bytes)
{
    size_t cap = 4;              /* 64 bytes: 4 slots, 3 usable */
    while (cap * 2 * 16 <= bytes)
        cap *= 2;
    m->cap = cap;
    m->used = 0;
    m->limit = cap - CANO__MAX((size_t)1, cap / 8);   /* never full */
    m->slot = cano__calloc(cap * 2, sizeof *m->slot);
    return m->slot ? CANO_OK : cano__err(CANO_ENOMEM, "cleaner key map");
}

static void keymap_clear(keymap *m)
{
    memset(m->slot, 0, m->cap * 2 * sizeof *m->slot);
    m->used = 0;
}

static uint64_t key_hash(const void *key, size_t len)
{
    uint64_t h = XXH3_64bits(key, len);
    return h ? h : 1;
}

/* False when the key is new and the map is full. */
static bool keymap_put(keymap *m, uint64_t h, int64_t offset)
{
    size_t i = (size_t)h & (m->cap - 1);
    while (m->slot[2 * i] && m->slot[2 * i] != h)
        i = (i + 1) & (m->cap - 1);
    if (!m->slot[2 * i]) {
        if (m->used >= m->limit)
            return false;
        m->slot[2 * i] = h;
        m->used++;
    }
    m->slot[2 * i + 1] = (uint64_t)offset;
    return true;
}

static bool keymap_get(const keymap *m, uint64_t h, int64_t *offset)
{
    size_t i = (size_t)h & (m->cap - 1);
    while (m->slot[2 * i]) {
        if (m->slot[2 * i] == h) {
            *offset = (int64_t)m->slot[2 * i + 1];
            return true;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return false;
}

/* ---- checkpoint ---- */

int64_t cano__cleaned_offset_read(const cano__partition *p)
{
    int64_t v = cano__part_offset_file_read(p, CHECKPOINT_FILE,
                                            "cano-cleaner");
    return CANO__MAX(v, atomic_load(&p->start_offset));
}

int64_t cano__cleaned_offset(const cano__partition *p)
{
    return CANO__MAX(atomic_load(&p->cleaned_offset),
                     atomic_load(&p->start_offset));
}

static int checkpoint_write(cano__partition *p, int64_t offset)
{
    int rc = cano__part_offset_file_write(p, CHECKPOINT_FILE, "cano-cleaner",
                                          offset);
    if (rc == CANO_OK)
        atomic_store(&p->cleaned_offset, offset);
    return rc;
}

/* ---- walking the batches of a pinned sealed segment ---- */

typedef struct walk {
    cano__segment *s;
    uint64_t pos, end;
    cano__batch_info b;
    const uint8_t *p;
} walk;

static void walk_init(walk *w, cano__segment *s)
{
    w->s = s;
    w->pos = CANO__SEG_HEADER;
    w->end = cano__seg_end(s);
}

/* 1 with the next batch (checksum verified), 0 at the end, or an error:
 * the cleaner never copies what it cannot verify. */
static int walk_next(walk *w)
{
    if (w->pos >= w->end)
        return 0;
    w->p = w->s->log + w->pos;
    if (cano__batch_parse(w->p, w->end - w->pos, &w->b) != CANO_OK ||
        !cano__batch_checksum_ok(w->p, w->b.length))
        return cano__err(CANO_ECORRUPT, "%s.log at byte %" PRIu64
                         ": damaged batch, not cleaned", w->s->stem, w->pos);
    w->pos += w->b.length;
    return 1;
}

/* ---- one cleaner run ---- */

typedef struct out_seg {
    cano__segment *seg;       /* names and limits only; never mapped */
    int       fd;
    uint64_t  len;            /* data bytes written */
    int64_t   next_offset, max_ts, log_max_ts;
} out_seg;

typedef struct cleaner {
    cano__partition *p;
    int64_t   now;
    keymap    map;
    int64_t   first_dirty, map_end, clean_end;
    bool      map_full;       /* the pass stopped because the map filled */
    cano__segment **segs;     /* pinned sealed segments */
    size_t    n_segs;
    size_t    n_rewrite;      /* segs[0 .. n_rewrite) are rewritten */
    out_seg  *outs;
    size_t    n_outs;
    uint8_t  *wbuf;           /* pending bytes of the current output */
    size_t    wlen;
    uint8_t  *batch_tmp;      /* WRITE_BUF bytes for moving data */
    bool      committed;      /* a manifest names the outputs: keep them */
    uint8_t  *batch, *packed, *scratch;
    size_t    batch_cap, packed_cap, scratch_cap;
    cano_record *recs;
    size_t    rec_cap;
    cano_header *hdrs, *pool;
    size_t    hdr_cap, pool_cap;
} cleaner;

static int grow_buf(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return CANO_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *b = cano__realloc(*buf, c * elem);
    if (!b)
        return cano__err(CANO_ENOMEM, "cleaner buffer");
    *buf = b;
    *cap = c;
    return CANO_OK;
}

/* Pins the sealed segments (everything but the active one). */
static int snapshot(cleaner *c)
{
    cano__partition *p = c->p;
    pthread_mutex_lock(&p->lock);
    size_t n = p->n_segs ? p->n_segs - 1 : 0;
    int rc = CANO_OK;
    c->segs = cano__calloc(n + 1, sizeof *c->segs);
    if (!c->segs)
        rc = cano__err(CANO_ENOMEM, "cleaner");
    for (size_t i = 0; rc == CANO_OK && i < n; i++) {
        rc = cano__seg_pin(p->segs[i]);
        if (rc == CANO_OK)
            c->segs[c->n_segs++] = p->segs[i];
    }
    c->clean_end = n ? p->segs[n]->base : 0;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static void release_snapshot(cleaner *c)
{
    for (size_t i = 0; i < c->n_segs; i++)
        cano__seg_unpin(c->segs[i]);
    cano__free(c->segs);
    c->segs = NULL;
    c->n_segs = 0;
}

static int64_t seg_next_base(const cleaner *c, size_t i)
{
    return i + 1 < c->n_segs ? c->segs[i + 1]->base : c->clean_end;
}

/* Maps the keys of the dirty part, from first_dirty on, until the map is
 * full or a segment younger than min_compaction_lag_ms is reached. */
static int build_map(cleaner *c)
{
    int64_t lag = c->p->topic->cfg.min_compaction_lag_ms;
    c->map_end = c->first_dirty;
    c->map_full = false;
    keymap_clear(&c->map);
    for (size_t i = 0; i < c->n_segs; i++) {
        cano__segment *s = c->segs[i];
        if (seg_next_base(c, i) <= c->first_dirty)
            continue;
        if (s->max_ts > c->now - lag)
            break;                          /* too young to compact */
        walk w;
        walk_init(&w, s);
        int rc;
        while ((rc = walk_next(&w)) == 1) {
            int64_t last = w.b.base_offset + w.b.last_delta;
            if (last < c->first_dirty)
                continue;
            bool started = c->map.used > 0;
            if (started && c->map.used + w.b.count > c->map.limit) {
                c->map_full = true;          /* the next pass goes on */
                return CANO_OK;
            }
            cano__rec_iter it;
            cano_record r;
            rc = cano__rec_iter_init(&it, w.p, &w.b, &c->scratch,
                                     &c->scratch_cap);
            if (rc != CANO_OK)
                return rc;
            while ((rc = cano__rec_next(&it, &r, &c->hdrs, &c->hdr_cap)) == 1) {
                if (r.offset < c->first_dirty || !r.key)
                    continue;
                if (!keymap_put(&c->map, key_hash(r.key, r.key_len),
                                r.offset)) {
                    c->map_full = true;
                    return CANO_OK;
                }
                c->map_end = r.offset + 1;
            }
            if (rc < 0)
                return rc;
            c->map_end = last + 1;
        }
        if (rc < 0)
            return rc;
        c->map_end = CANO__MAX(c->map_end, seg_next_base(c, i));
    }
    return CANO_OK;
}

/* Whether a record of the mapped range survives; *tomb: it is a tombstone
 * that needs a delete horizon. */
static bool keep_record(const cleaner *c, const cano_record *r,
                        const cano__batch_info *b, bool *tomb)
{
    *tomb = false;
    if (r->offset >= c->map_end)
        return true;
    if (!r->key)
        return false;
    int64_t latest;
    if (keymap_get(&c->map, key_hash(r->key, r->key_len), &latest) &&
        latest > r->offset)
        return false;
    if (r->value)
        return true;
    if (b->delete_horizon >= 0)
        return c->now < b->delete_horizon;
    *tomb = true;
    return true;
}

/* ---- writing the cleaned segments ---- */

static int out_flush(cleaner *c)
{
    if (!c->wlen)
        return CANO_OK;
    out_seg *o = &c->outs[c->n_outs - 1];
    char path[4200];
    cano__seg_path(o->seg, CANO__SEG_F_LOG, path, sizeof path);
    int rc = cano__io_pwrite(o->fd, c->wbuf, c->wlen,
                             CANO__SEG_HEADER + o->len - c->wlen, path);
    c->wlen = 0;
    return rc;
}

static int out_close(cleaner *c)
{
    out_seg *o = &c->outs[c->n_outs - 1];
    char path[4200];
    cano__seg_path(o->seg, CANO__SEG_F_LOG, path, sizeof path);
    strcat(path, CLEANED);
    int rc = out_flush(c);
    uint8_t hdr[CANO__SEG_HEADER];
    cano__seg_header h = { o->len, o->next_offset, o->max_ts,
                           CANO__SEG_SEALED, o->log_max_ts };
    cano__seg_header_encode(hdr, o->seg->base, &h);
    if (rc == CANO_OK)
        rc = cano__io_pwrite(o->fd, hdr, sizeof hdr, 0, path);
    if (rc == CANO_OK)
        rc = cano__io_fsync(o->fd, path);
    void *map = NULL;
    if (rc == CANO_OK)
        rc = cano__io_map(o->fd, CANO__SEG_HEADER + o->len, false, &map, path);
    cano__io_close(o->fd);
    o->fd = -1;
    if (rc == CANO_OK)
        rc = cano__seg_rebuild_index(o->seg, map, CANO__SEG_HEADER + o->len,
                                     CLEANED);
    cano__io_unmap(map, CANO__SEG_HEADER + o->len);
    return rc;
}

static int out_open(cleaner *c, int64_t base)
{
    cano__partition *p = c->p;
    if (c->n_outs) {
        int rc = out_close(c);
        if (rc != CANO_OK)
            return rc;
    }
    out_seg *outs = cano__realloc(c->outs, (c->n_outs + 1) * sizeof *outs);
    if (!outs)
        return cano__err(CANO_ENOMEM, "cleaner");
    c->outs = outs;
    out_seg *o = &outs[c->n_outs];
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->max_ts = o->log_max_ts = -1;
    int rc = cano__seg_new(p->dir, base, &p->lim, &p->topic->db->cache,
                           &o->seg);
    if (rc != CANO_OK)
        return rc;
    c->n_outs++;
    char path[4200];
    cano__seg_path(o->seg, CANO__SEG_F_LOG, path, sizeof path);
    strcat(path, CLEANED);
    return cano__io_open(path, O_RDWR | O_CREAT | O_TRUNC,
                         p->topic->db->opts.file_mode, &o->fd);
}

static int out_write(cleaner *c, const uint8_t *bytes, uint32_t len)
{
    out_seg *o = &c->outs[c->n_outs - 1];
    if (c->wlen + len > WRITE_BUF) {
        int rc = out_flush(c);
        if (rc != CANO_OK)
            return rc;
    }
    if (len > WRITE_BUF) {
        o->len += len;
        c->wlen = len;
        const uint8_t *keep = c->wbuf;
        c->wbuf = (uint8_t *)bytes;
        int rc = out_flush(c);
        c->wbuf = (uint8_t *)keep;
        return rc;
    }
    memcpy(c->wbuf + c->wlen, bytes, len);
    c->wlen += len;
    o->len += len;
    return CANO_OK;
}

/* Collects the survivors of one batch (their headers copied into a pool,
 * since the decoder reuses its header array) and writes them. */
static int clean_batch(cleaner *c, const walk *w)
{
    const cano__batch_info *b = &w->b;
    if (b->base_offset >= c->map_end)
        return out_write(c, w->p, b->length);
    cano__rec_iter it;
    cano_record r;
    size_t n = 0, hdr_used = 0;
    bool need_horizon = false, any_tomb = false;
    int rc = cano__rec_iter_init(&it, w->p, b, &c->scratch, &c->scratch_cap);
    if (rc != CANO_OK)
        return rc;
    while ((rc = cano__rec_next(&it, &r, &c->hdrs, &c->hdr_cap)) == 1) {
        bool tomb;
        if (!keep_record(c, &r, b, &tomb))
            continue;
        need_horizon |= tomb;
        any_tomb |= !r.value;
        if (grow_buf((void **)&c->recs, &c->rec_cap, n + 1, sizeof *c->recs) ||
            grow_buf((void **)&c->pool, &c->pool_cap, hdr_used +
                     r.header_count + 1, sizeof *c->pool))
            return CANO_ENOMEM;
        if (r.header_count)
            memcpy(c->pool + hdr_used, r.headers,
                   r.header_count * sizeof *r.headers);
        r.headers = (const cano_header *)(uintptr_t)hdr_used;
        hdr_used += r.header_count;
        c->recs[n++] = r;
    }
    if (rc < 0)
        return rc;
    if (n == 0)
        return CANO_OK;
    for (size_t i = 0; i < n; i++)
        c->recs[i].headers = c->recs[i].header_count
            ? c->pool + (uintptr_t)c->recs[i].headers : NULL;
    int64_t horizon = !any_tomb ? -1 : need_horizon
        ? c->now + c->p->topic->cfg.delete_retention_ms : b->delete_horizon;
    uint64_t size = cano__batch_rewrite_size(c->recs, n, b, horizon);
    if (grow_buf((void **)&c->batch, &c->batch_cap, size, 1) ||
        grow_buf((void **)&c->packed, &c->packed_cap, size, 1))
        return CANO_ENOMEM;
    uint32_t len = cano__batch_rewrite(c->batch, c->recs, n, b, horizon);
    const uint8_t *out = c->batch;
    if ((b->attrs & CANO__ATTR_CODEC) == CANO__CODEC_ZLIB) {
        uint32_t packed = cano__batch_deflate(c->batch, c->packed, size,
                                              c->p->topic->cfg.compression_level);
        if (packed) {
            out = c->packed;
            len = packed;
        }
    }
    return out_write(c, out, len);
}

/* Moves the bytes an output received from position mark on into a new
 * output starting at base: the last input did not fit segment_bytes. */
static int out_split(cleaner *c, uint64_t mark, int64_t base)
{
    int rc = out_flush(c);
    out_seg *o = &c->outs[c->n_outs - 1];
    uint64_t len = o->len;
    int fd = -1;
    char path[4200];
    cano__seg_path(o->seg, CANO__SEG_F_LOG, path, sizeof path);
    strcat(path, CLEANED);
    if (rc == CANO_OK)
        rc = cano__io_open(path, O_RDWR, 0, &fd);
    o->len = mark;              /* out_open seals the old output at mark */
    if (rc == CANO_OK)
        rc = out_open(c, base);
    for (uint64_t pos = mark; rc == CANO_OK && pos < len; ) {
        size_t got = 0, want = (size_t)CANO__MIN(len - pos, WRITE_BUF);
        rc = cano__io_pread(fd, c->batch_tmp, want, CANO__SEG_HEADER + pos,
                            &got, path);
        if (rc == CANO_OK && got != want)
            rc = cano__err(CANO_EIO, "%s: short read", path);
        if (rc == CANO_OK)
            rc = out_write(c, c->batch_tmp, (uint32_t)got);
        pos += got;
    }
    if (rc == CANO_OK)
        rc = cano__io_truncate(fd, CANO__SEG_HEADER + mark, path);
    if (rc == CANO_OK)
        rc = cano__io_fsync(fd, path);
    cano__io_close(fd);
    return rc;
}

/* Copies segs[i] without its superseded records into the current output,
 * or into a new one when the result does not fit beside what is there. */
static int clean_segment(cleaner *c, size_t i)
{
    cano__segment *s = c->segs[i];
    int rc = c->n_outs ? CANO_OK : out_open(c, s->base);
    if (rc != CANO_OK)
        return rc;
    out_seg *o = &c->outs[c->n_outs - 1];
    uint64_t mark = o->len;
    int64_t max_before = o->max_ts;
    walk w;
    walk_init(&w, s);
    while ((rc = walk_next(&w)) == 1) {
        rc = clean_batch(c, &w);
        if (rc != CANO_OK)
            return rc;
    }
    if (rc != CANO_OK)
        return rc;
    o = &c->outs[c->n_outs - 1];
    o->next_offset = seg_next_base(c, i);
    o->max_ts = CANO__MAX(o->max_ts, s->max_ts);
    int64_t log_before = o->log_max_ts;
    o->log_max_ts = CANO__MAX(o->log_max_ts, s->log_max_ts);
    if (mark == 0 || o->len <= (uint64_t)c->p->topic->cfg.segment_bytes)
        return CANO_OK;
    o->next_offset = s->base;
    o->max_ts = max_before;
    o->log_max_ts = log_before;
    rc = out_split(c, mark, s->base);
    if (rc == CANO_OK) {
        o = &c->outs[c->n_outs - 1];
        o->next_offset = seg_next_base(c, i);
        o->max_ts = s->max_ts;
        o->log_max_ts = s->log_max_ts;
    }
    return rc;
}

/* ---- the swap ---- */

static bool is_new_base(const cleaner *c, int64_t base)
{
    for (size_t i = 0; i < c->n_outs; i++)
        if (c->outs[i].seg->base == base)
            return true;
    return false;
}

static int write_manifest(cleaner *c)
{
    size_t cap = 64 + 32 * (c->n_rewrite + c->n_outs);
    char *buf = cano__malloc(cap);
    if (!buf)
        return cano__err(CANO_ENOMEM, "manifest");
    size_t n = (size_t)snprintf(buf, cap, "cano-compaction=1\n");
    for (size_t i = 0; i < c->n_rewrite; i++)
        n += (size_t)snprintf(buf + n, cap - n, "old %" PRId64 "\n",
                              c->segs[i]->base);
    for (size_t i = 0; i < c->n_outs; i++)
        n += (size_t)snprintf(buf + n, cap - n, "new %" PRId64 "\n",
                              c->outs[i].seg->base);
    int rc = cano__io_write_atomic(c->p->dir, MANIFEST_FILE, buf, n,
                                   c->p->topic->db->opts.file_mode);
    cano__free(buf);
    return rc;
}

/* Moves one new segment's files into place (idempotent). */
static int install_new(const char *dir, int64_t base)
{
    static const char *const sfx[] = { ".log", ".index", ".timeindex" };
    for (int f = 0; f < 3; f++) {
        char from[4300], to[4200];
        snprintf(to, sizeof to, "%s/%020" PRId64 "%s", dir, base, sfx[f]);
        snprintf(from, sizeof from, "%s" CLEANED, to);
        if (cano__io_stat(from, NULL, NULL) != CANO_OK)
            continue;
        int rc = cano__io_rename(from, to);
        if (rc != CANO_OK)
            return rc;
    }
    return CANO_OK;
}

static int remove_old(const char *dir, int64_t base)
{
    static const char *const sfx[] = { ".log", ".index", ".timeindex" };
    for (int f = 0; f < 3; f++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%020" PRId64 "%s", dir, base, sfx[f]);
        int rc = cano__io_unlink(path);
        if (rc != CANO_OK)
            return rc;
    }
    return CANO_OK;
}

static int finish_swap_files(cleaner *c)
{
    const char *dir = c->p->dir;
    int rc = CANO_OK;
    for (size_t i = 0; rc == CANO_OK && i < c->n_outs; i++)
        rc = install_new(dir, c->outs[i].seg->base);
    for (size_t i = 0; rc == CANO_OK && i < c->n_rewrite; i++)
        if (!is_new_base(c, c->segs[i]->base))
            rc = remove_old(dir, c->segs[i]->base);
    if (rc == CANO_OK)
        rc = cano__io_fsync_dir(dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/" MANIFEST_FILE, dir);
    if (rc == CANO_OK)
        rc = cano__io_unlink(path);
    if (rc == CANO_OK)
        rc = cano__io_fsync_dir(dir);
    return rc;
}

/* Replaces segs[0 .. n_rewrite) of the partition's list by the outputs. */
static void swap_list(cleaner *c)
{
    cano__partition *p = c->p;
    size_t k = c->n_rewrite, m = c->n_outs;
    pthread_rwlock_wrlock(&p->list_lock);
    memmove(p->segs + m, p->segs + k, (p->n_segs - k) * sizeof *p->segs);
    for (size_t i = 0; i < m; i++) {
        cano__segment *s = c->outs[i].seg;
        s->sealed = true;
        p->segs[i] = s;
        c->outs[i].seg = NULL;
    }
    p->n_segs = p->n_segs - k + m;
    pthread_rwlock_unlock(&p->list_lock);
    for (size_t i = 0; i < k; i++)
        cano__seg_discard(c->segs[i]);
}

static int swap_in(cleaner *c)
{
    cano__partition *p = c->p;
    int rc = cano__io_fsync_dir(p->dir);
    pthread_mutex_lock(&p->lock);
    if (rc == CANO_OK && (p->n_segs < c->n_rewrite ||
                          p->segs[0] != c->segs[0]))
        rc = cano__err(CANO_EIO, "segment list changed under the cleaner");
    /* The cleaner only grows the list by merging fewer segments in. */
    if (rc == CANO_OK && c->n_outs > c->n_rewrite)
        rc = cano__err(CANO_EIO, "cleaner produced more segments");
    if (rc == CANO_OK)
        rc = write_manifest(c);
    if (rc == CANO_OK) {
        rc = finish_swap_files(c);
        if (rc == CANO_OK) {
            swap_list(c);
        } else {
            /* Past the commit point: the next open finishes the swap from
             * the manifest, so the new files must stay; until then this
             * store's view of the segments is stale and it stops. */
            c->committed = true;
            rc = cano__store_fatal(p->topic->db, rc);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static void drop_outputs(cleaner *c)
{
    for (size_t i = 0; i < c->n_outs; i++) {
        out_seg *o = &c->outs[i];
        if (o->fd >= 0)
            cano__io_close(o->fd);
        if (!o->seg)
            continue;
        if (c->committed) {
            cano__seg_free(o->seg);
            continue;
        }
        char path[4200];
        for (int f = 0; f < 3; f++) {
            cano__seg_path(o->seg, f, path, sizeof path);
            strcat(path, CLEANED);
            cano__io_unlink(path);
        }
        cano__seg_free(o->seg);
    }
    cano__free(c->outs);
    c->outs = NULL;
    c->n_outs = 0;
    c->wlen = 0;
}

/* One pass: map, copy, swap, checkpoint. *more: the map filled up. */
static int pass(cleaner *c, bool *more)
{
    *more = false;
    c->first_dirty = cano__cleaned_offset(c->p);
    int rc = build_map(c);
    if (rc != CANO_OK)
        return rc;
    c->n_rewrite = 0;
    while (c->n_rewrite < c->n_segs &&
           c->segs[c->n_rewrite]->base < c->map_end)
        c->n_rewrite++;
    for (size_t i = 0; rc == CANO_OK && i < c->n_rewrite; i++)
        rc = clean_segment(c, i);
    if (rc == CANO_OK && c->n_outs)
        rc = out_close(c);
    if (rc == CANO_OK && c->n_rewrite)
        rc = swap_in(c);
    drop_outputs(c);
    if (rc == CANO_OK && c->map_end > c->first_dirty)
        rc = checkpoint_write(c->p, c->map_end);
    *more = rc == CANO_OK && c->map_full && c->map_end > c->first_dirty &&
            c->map_end < c->clean_end;
    return rc;
}

static void cleaner_free(cleaner *c)
{
    drop_outputs(c);
    release_snapshot(c);
    cano__free(c->map.slot);
    cano__free(c->wbuf);
    cano__free(c->batch_tmp);
    cano__free(c->batch);
    cano__free(c->packed);
    cano__free(c->scratch);
    cano__free(c->recs);
    cano__free(c->hdrs);
    cano__free(c->pool);
}

double cano__dirty_ratio(cano__partition *p)
{
    int64_t first_dirty = cano__cleaned_offset(p);
    int64_t dirty = 0, total = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i + 1 < p->n_segs; i++) {
        int64_t b = cano__part_seg_bytes(p->segs[i]);
        total += b;
        if (p->segs[i + 1]->base > first_dirty)
            dirty += b;
    }
    pthread_mutex_unlock(&p->lock);
    return total ? (double)dirty / (double)total : 0.0;
}

/* Whether cano_maintain should clean p now. */
static bool due(cano__partition *p, int64_t now)
{
    const cano_topic_config *cfg = &p->topic->cfg;
    double ratio = cano__dirty_ratio(p);
    if (ratio <= 0.0)
        return false;
    if (ratio > cfg->min_cleanable_dirty_ratio)
        return true;
    if (cfg->max_compaction_lag_ms < 0)
        return false;
    /* Overdue: the oldest dirty segment waited longer than the max lag. */
    int64_t first_dirty = cano__cleaned_offset(p);
    bool overdue = false;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i + 1 < p->n_segs && !overdue; i++) {
        cano__segment *s = p->segs[i];
        if (p->segs[i + 1]->base <= first_dirty || cano__seg_pin(s))
            continue;
        overdue = s->max_ts >= 0 && now - s->max_ts > cfg->max_compaction_lag_ms;
        cano__seg_unpin(s);
        break;
    }
    pthread_mutex_unlock(&p->lock);
    return overdue;
}

int cano__compact(cano__partition *p, bool force, int64_t now)
{
    if (!(p->topic->cfg.cleanup_policy & CANO_CLEANUP_COMPACT))
        return force ? cano__err(CANO_EINVAL, "topic %s is not compacted",
                                 p->topic->name) : CANO_OK;
    if (!force && !due(p, now))
        return CANO_OK;
    cleaner c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.now = now;
    pthread_mutex_lock(&p->maint_lock);
    int rc = keymap_init(&c.map, p->topic->db->opts.cleaner_map_bytes);
    if (rc == CANO_OK && (!(c.wbuf = cano__malloc(WRITE_BUF)) ||
                          !(c.batch_tmp = cano__malloc(WRITE_BUF))))
        rc = cano__err(CANO_ENOMEM, "cleaner");
    bool more = true;
    for (int passes = 0; rc == CANO_OK && more && passes < 1000000; passes++) {
        rc = snapshot(&c);
        if (rc == CANO_OK)
            rc = pass(&c, &more);
        release_snapshot(&c);
    }
    cleaner_free(&c);
    pthread_mutex_unlock(&p->maint_lock);
    return rc;
}

/* ---- recovery ---- */

static int remove_cleaned(const char *name, void *payload)
{
    cano__partition *p = payload;
    size_t n = strlen(name), k = strlen(CLEANED);
    if (n <= k || strcmp(name + n - k, CLEANED))
        return 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", p->dir, name);
    return cano__io_unlink(path);
}

/* Parses "old N" / "new N" lines; false when the manifest is malformed. */
static bool parse_manifest(char *text, int64_t *olds, size_t *n_old,
                           int64_t *news, size_t *n_new, size_t cap)
{
    *n_old = *n_new = 0;
    if (strncmp(text, "cano-compaction=1\n", 18))
        return false;
    for (char *line = text + 18, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        long long base;
        char kind[4];
        *nl = '\0';
        if (sscanf(line, "%3s %lld", kind, &base) != 2 || base < 0)
            return false;
        if (!strcmp(kind, "old") && *n_old < cap)
            olds[(*n_old)++] = base;
        else if (!strcmp(kind, "new") && *n_new < cap)
            news[(*n_new)++] = base;
        else
            return false;
    }
    return true;
}

int cano__compact_recover(cano__partition *p)
{
    char path[4200], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/" MANIFEST_FILE, p->dir);
    int rc = cano__io_read_small(path, 1 << 20, &text, &len);
    if (rc == CANO_ENOTFOUND)
        rc = CANO_OK;
    else if (rc == CANO_OK) {
        /* Committed: finish the swap.  New segments are renamed into place
         * first (replacing an old one of the same base), then the old
         * segments that no new one replaced are removed. */
        size_t cap = len / 4 + 1, n_old = 0, n_new = 0;
        int64_t *olds = cano__malloc(cap * sizeof *olds);
        int64_t *news = cano__malloc(cap * sizeof *news);
        if (!olds || !news)
            rc = cano__err(CANO_ENOMEM, "manifest");
        else if (!parse_manifest(text, olds, &n_old, news, &n_new, cap))
            rc = cano__err(CANO_ECORRUPT, "%s is damaged", path);
        for (size_t i = 0; rc == CANO_OK && i < n_new; i++)
            rc = install_new(p->dir, news[i]);
        for (size_t i = 0; rc == CANO_OK && i < n_old; i++) {
            bool replaced = false;
            for (size_t j = 0; j < n_new; j++)
                replaced |= news[j] == olds[i];
            if (!replaced)
                rc = remove_old(p->dir, olds[i]);
        }
        if (rc == CANO_OK)
            rc = cano__io_fsync_dir(p->dir);
        if (rc == CANO_OK)
            rc = cano__io_unlink(path);
        cano__free(olds);
        cano__free(news);
    }
    cano__free(text);
    if (rc == CANO_OK)
        rc = cano__io_list(p->dir, remove_cleaned, p);
    return rc;
}
