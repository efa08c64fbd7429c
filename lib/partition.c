/* partition.c - one partition: the list of segments, the append path (one
 * writer at a time under `lock`), rolling, syncing, and the cursor that
 * walks records in offset order for readers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "io.h"
#include "compact.h"
#include "retention.h"
#include "store.h"

/* ---- lifetime ---- */

int cano__part_new(struct cano_topic *t, int32_t id, const char *topic_dir,
                   cano__partition **out)
{
    cano__partition *p = cano__calloc(1, sizeof *p);
    size_t n = strlen(topic_dir) + 16;
    if (!p || !(p->dir = cano__malloc(n))) {
        cano__free(p);
        return cano__err(CANO_ENOMEM, "partition");
    }
    snprintf(p->dir, n, "%s/%" PRId32, topic_dir, id);
    p->topic = t;
    p->id = id;
    p->lim.data_cap = (uint64_t)CANO__MAX(t->cfg.segment_bytes,
                                          t->cfg.max_batch_bytes);
    p->lim.index_interval = (uint64_t)t->cfg.index_interval_bytes;
    p->lim.file_mode = t->db->opts.file_mode;
    p->max_ts = -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->maint_lock, NULL);
    pthread_rwlock_init(&p->list_lock, NULL);
    pthread_mutex_init(&p->wait_lock, NULL);
    pthread_cond_init(&p->wait_cond, &ca);
    pthread_mutex_init(&p->sync_lock, NULL);
    pthread_cond_init(&p->gen_cond[0], &ca);
    pthread_cond_init(&p->gen_cond[1], &ca);
    pthread_cond_init(&p->gather_cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = p;
    return CANO_OK;
}

void cano__part_discard_segments(cano__partition *p)
{
    pthread_rwlock_wrlock(&p->list_lock);
    for (size_t i = 0; i < p->n_segs; i++)
        cano__seg_discard(p->segs[i]);
    p->n_segs = 0;
    pthread_rwlock_unlock(&p->list_lock);
}

void cano__part_free(cano__partition *p)
{
    if (!p)
        return;
    cano__part_discard_segments(p);
    cano__free(p->segs);
    cano__free(p->scratch);
    cano__producers_free(&p->producers);
    cano__free(p->dir);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->maint_lock);
    pthread_rwlock_destroy(&p->list_lock);
    pthread_mutex_destroy(&p->wait_lock);
    pthread_cond_destroy(&p->wait_cond);
    pthread_mutex_destroy(&p->sync_lock);
    pthread_cond_destroy(&p->gen_cond[0]);
    pthread_cond_destroy(&p->gen_cond[1]);
    pthread_cond_destroy(&p->gather_cond);
    cano__free(p);
}

static cano__segment *active(cano__partition *p)
{
    return p->n_segs ? p->segs[p->n_segs - 1] : NULL;
}

static int add_segment(cano__partition *p, cano__segment *s)
{
    pthread_rwlock_wrlock(&p->list_lock);
    if (p->n_segs == p->cap_segs) {
        size_t cap = p->cap_segs ? p->cap_segs * 2 : 4;
        cano__segment **n = cano__realloc(p->segs, cap * sizeof *n);
        if (!n) {
            pthread_rwlock_unlock(&p->list_lock);
            return cano__err(CANO_ENOMEM, "segment list");
        }
        p->segs = n;
        p->cap_segs = cap;
    }
    p->segs[p->n_segs++] = s;
    pthread_rwlock_unlock(&p->list_lock);
    return CANO_OK;
}

/* ---- small state files ---- */

int cano__part_offset_file_write(cano__partition *p, const char *name,
                                 const char *tag, int64_t offset)
{
    char buf[96];
    int n = snprintf(buf, sizeof buf, "%s=1\n%" PRId64 "\n", tag, offset);
    return cano__io_write_atomic(p->dir, name, buf, (size_t)n,
                                 p->topic->db->opts.file_mode);
}

int64_t cano__part_offset_file_read(const cano__partition *p,
                                    const char *name, const char *tag)
{
    char path[4200], head[80], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/%s", p->dir, name);
    if (cano__io_read_small(path, 96, &text, &len) != CANO_OK)
        return -1;
    int hl = snprintf(head, sizeof head, "%s=1\n", tag);
    int64_t v = -1;
    if (!strncmp(text, head, (size_t)hl)) {
        char *end;
        long long x = strtoll(text + hl, &end, 10);
        if (end != text + hl && *end == '\n' && end[1] == '\0' && x >= 0)
            v = x;
    }
    cano__free(text);
    return v;
}

/* ---- loading ---- */

typedef struct dir_scan {
    cano__partition *p;
    int64_t *bases;
    size_t n, cap;
    int rc;
} dir_scan;

/* Parses "<20 digits><suffix>"; -1 when the name is something else. */
static int64_t parse_base(const char *name, const char *suffix)
{
    size_t len = strlen(name), sl = strlen(suffix);
    if (len != 20 + sl || strcmp(name + 20, suffix))
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static int collect_segment(const char *name, void *payload)
{
    dir_scan *d = payload;
    size_t len = strlen(name);
    if (len > 4 && !strcmp(name + len - 4, ".tmp")) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", d->p->dir, name);
        return d->rc = cano__io_unlink(path);
    }
    int64_t base = parse_base(name, ".log");
    if (base < 0)
        return 0;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        int64_t *b = cano__realloc(d->bases, cap * sizeof *b);
        if (!b)
            return d->rc = cano__err(CANO_ENOMEM, "segment scan");
        d->bases = b;
        d->cap = cap;
    }
    d->bases[d->n++] = base;
    return 0;
}

/* Index files whose .log is gone belong to a deleted segment. */
static int remove_orphan(const char *name, void *payload)
{
    dir_scan *d = payload;
    int64_t base = parse_base(name, ".index");
    if (base < 0)
        base = parse_base(name, ".timeindex");
    if (base < 0)
        return 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->bases[i] == base)
            return 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", d->p->dir, name);
    return d->rc = cano__io_unlink(path);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A crash between creating the next segment's .log and writing its header
 * leaves a file shorter than a header, or zeros: it holds no data. */
static bool half_created(const cano__partition *p, int64_t base)
{
    char path[4200];
    uint8_t hdr[CANO__SEG_HEADER];
    size_t got = 0;
    int fd;
    snprintf(path, sizeof path, "%s/%020" PRId64 ".log", p->dir, base);
    if (cano__io_open(path, O_RDONLY, 0, &fd) != CANO_OK)
        return false;
    int rc = cano__io_pread(fd, hdr, sizeof hdr, 0, &got, path);
    cano__io_close(fd);
    if (rc != CANO_OK)
        return false;
    if (got < sizeof hdr)
        return true;             /* a real segment starts with a whole header */
    for (size_t i = 0; i < got; i++)
        if (hdr[i])
            return false;
    return true;
}

/* Drops a half-created last segment, so the one before it is the active
 * segment again (it was sealed, or still active, when the crash came). */
static int drop_half_created(cano__partition *p, dir_scan *d)
{
    if (d->n < 2 || !half_created(p, d->bases[d->n - 1]))
        return CANO_OK;
    static const char *const sfx[] = { ".log", ".index", ".timeindex" };
    for (int f = 0; f < 3; f++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%020" PRId64 "%s", p->dir,
                 d->bases[d->n - 1], sfx[f]);
        int rc = cano__io_unlink(path);
        if (rc != CANO_OK)
            return rc;
    }
    d->n--;
    p->recovery.half_created++;
    p->recovered = true;
    return cano__io_fsync_dir(p->dir);
}

static int recover_active(cano__partition *p, cano__segment *s, bool full)
{
    int64_t t0 = cano__mono_us();
    cano__seg_recovery rep;
    int rc = cano__seg_pin(s);
    if (rc != CANO_OK)
        return rc;
    rc = cano__seg_recover(s, full, &rep);
    cano__seg_unpin(s);
    if (rc != CANO_OK)
        return rc;
    cano_recovery_info *r = &p->recovery;
    r->partition = p->id;
    r->indexes_rebuilt += rep.indexes_rebuilt;
    r->bytes_scanned += rep.bytes_scanned;
    r->bytes_cut += rep.bytes_cut;
    r->files_set_aside += rep.files_set_aside;
    r->half_created += rep.half_created;
    r->elapsed_us += cano__mono_us() - t0;
    p->recovered = true;
    return CANO_OK;
}

static int finish_load(cano__partition *p, cano__segment *last, bool clean);
static int load_producers(cano__partition *p, bool clean);

int cano__part_load(cano__partition *p, bool clean)
{
    dir_scan d = { p, NULL, 0, 0, CANO_OK };
    int rc = cano__compact_recover(p);
    if (rc == CANO_OK)
        rc = cano__io_list(p->dir, collect_segment, &d);
    if (rc == CANO_OK && d.rc == CANO_OK)
        rc = cano__io_list(p->dir, remove_orphan, &d);
    if (rc == CANO_OK)
        rc = d.rc;
    if (rc == CANO_OK && d.n)
        qsort(d.bases, d.n, sizeof *d.bases, cmp_i64);
    if (rc == CANO_OK)
        rc = drop_half_created(p, &d);
    for (size_t i = 0; rc == CANO_OK && i < d.n; i++) {
        cano__segment *s;
        rc = cano__seg_new(p->dir, d.bases[i], &p->lim, &p->topic->db->cache,
                           &s);
        if (rc != CANO_OK)
            break;
        s->sealed = i + 1 < d.n;
        rc = add_segment(p, s);
        if (rc != CANO_OK)
            cano__seg_free(s);
    }
    cano__free(d.bases);
    if (rc != CANO_OK)
        return rc;
    cano__segment *last = active(p);
    if (last) {
        rc = clean ? cano__seg_load_clean(last) : CANO_ECORRUPT;
        if (rc == CANO_OK) {
            /* Its indexes are checked when it is first mapped, and a
             * damaged one means a full recovery that may cut the log: do
             * it now, before the end offset is taken from the segment. */
            rc = cano__seg_pin(last);
            if (rc == CANO_OK)
                cano__seg_unpin(last);
        }
        if (rc == CANO_ECORRUPT)
            rc = recover_active(p, last, false);
        if (rc != CANO_OK)
            return rc;
        p->max_ts = CANO__MAX(last->max_ts, last->log_max_ts);
        if (p->max_ts < 0 && p->n_segs > 1) {
            cano__segment *prev = p->segs[p->n_segs - 2];
            if (cano__seg_pin(prev) == CANO_OK) {
                p->max_ts = CANO__MAX(prev->max_ts, prev->log_max_ts);
                cano__seg_unpin(prev);
            }
        }
    }
    return finish_load(p, last, clean);
}

/* The persisted log start wins over the first segment's base; segments
 * wholly below it are what an interrupted deletion left behind. */
static int finish_load(cano__partition *p, cano__segment *last, bool clean)
{
    int64_t start = p->n_segs ? p->segs[0]->base : 0;
    int64_t saved = cano__start_read(p);
    int64_t end = last ? last->next_offset : CANO__MAX(start, saved);
    int rc = CANO_OK;
    if (saved > end) {
        /* A start past the end: a damaged file, or a log that lost its
         * tail in a power cut.  Data is never deleted on such evidence:
         * the recorded start is replaced by the real one, so that it cannot
         * take effect later, once appends have passed it. */
        saved = -1;
        rc = cano__start_write(p, start);
        if (rc != CANO_OK)
            return rc;
    }
    start = CANO__MAX(start, saved);
    atomic_store(&p->start_offset, start);
    if (rc == CANO_OK && p->n_segs) {
        size_t k = 0;
        while (k + 1 < p->n_segs && p->segs[k + 1]->base <= start)
            k++;
        rc = cano__drop_prefix(p, k);
    }
    if (rc != CANO_OK)
        return rc;
    atomic_store(&p->end_offset, end);
    atomic_store(&p->cleaned_offset, cano__cleaned_offset_read(p));
    rc = load_producers(p, clean);
    if (rc != CANO_OK)
        return rc;
    atomic_store(&p->durable_offset, end);
    p->recovery.end_offset = end;
    return CANO_OK;
}

/* ---- appending ---- */

static int check_record(const cano_record *r, const cano_topic_config *cfg)
{
    if (!r || (!r->key && r->key_len) || (!r->value && r->value_len) ||
        (!r->headers && r->header_count) || r->timestamp < 0)
        return cano__err(CANO_EINVAL, "bad record");
    for (size_t i = 0; i < r->header_count; i++) {
        const cano_header *h = &r->headers[i];
        if ((!h->name && h->name_len) || (!h->value && h->value_len))
            return cano__err(CANO_EINVAL, "bad header %zu", i);
    }
    if ((cfg->cleanup_policy & CANO_CLEANUP_COMPACT) && !r->key)
        return cano__err(CANO_EINVAL, "compacted topics need a key");
    /* Every length is checked on its own first, so their sum cannot wrap
     * around into something small. */
    uint64_t limit = (uint64_t)cfg->max_record_bytes;
    bool huge = r->key_len > limit || r->value_len > limit ||
                r->header_count > limit;
    for (size_t i = 0; !huge && i < r->header_count; i++)
        huge = r->headers[i].name_len > limit ||
               r->headers[i].value_len > limit;
    if (huge)
        return cano__err(CANO_ETOOBIG, "record larger than max_record_bytes "
                         "%" PRId64, cfg->max_record_bytes);
    uint64_t size = cano__record_payload(r);
    if (size > (uint64_t)cfg->max_record_bytes)
        return cano__err(CANO_ETOOBIG, "record of %" PRIu64 " bytes exceeds "
                         "max_record_bytes %" PRId64, size,
                         cfg->max_record_bytes);
    return CANO_OK;
}

static int create_segment(cano__partition *p, int64_t base)
{
    cano__segment *s;
    int rc = cano__seg_new(p->dir, base, &p->lim, &p->topic->db->cache, &s);
    if (rc != CANO_OK)
        return rc;
    s->log_max_ts = p->max_ts;
    rc = cano__seg_create(s);
    if (rc == CANO_OK)
        rc = add_segment(p, s);
    if (rc != CANO_OK) {
        char path[4200];
        for (int i = 0; i < 3; i++)
            cano__io_unlink(cano__seg_path(s, i, path, sizeof path));
        cano__seg_free(s);
    }
    return rc;
}

/* Rolls when the active segment is not empty and the batch would overflow
 * segment_bytes, the segment is older than segment_ms (by record time), or
 * the batch's offsets would not fit the index's 32-bit relative offsets. */
static bool should_roll(const cano__partition *p, const cano__segment *s,
                        uint64_t len, int64_t max_ts, size_t n)
{
    const cano_topic_config *cfg = &p->topic->cfg;
    uint64_t data = atomic_load(&s->end) - CANO__SEG_HEADER;
    if (data == 0)
        return false;
    int64_t end = atomic_load(&p->end_offset);
    return data + len > (uint64_t)cfg->segment_bytes ||
           (max_ts >= s->first_ts &&
            (uint64_t)(max_ts - s->first_ts) > (uint64_t)cfg->segment_ms) ||
           (uint64_t)(end + (int64_t)n - s->base) > UINT32_MAX;
}

/* At a roll and a clean close: the producer state, so open replays only
 * the batches after it. */
static int save_producers(cano__partition *p)
{
    if (!p->producers.n)
        return CANO_OK;
    return cano__producers_save(&p->producers, p->dir,
                                atomic_load(&p->end_offset),
                                p->topic->db->opts.file_mode);
}

static int prepare_segment(cano__partition *p, uint64_t len, int64_t max_ts,
                           size_t n, cano__segment **out)
{
    cano__segment *s = active(p);
    int rc = CANO_OK;
    if (s && should_roll(p, s, len, max_ts, n)) {
        rc = cano__seg_pin(s);
        if (rc == CANO_OK) {
            rc = cano__seg_seal(s);
            cano__seg_unpin(s);
        }
        if (rc != CANO_OK)
            return cano__store_fatal(p->topic->db, rc);
        atomic_store(&p->durable_offset, atomic_load(&p->end_offset));
        rc = save_producers(p);
        if (rc != CANO_OK)
            return rc;
        s = NULL;
    }
    if (!s) {
        rc = create_segment(p, atomic_load(&p->end_offset));
        s = active(p);
    }
    *out = s;
    return rc;
}

/* Encodes and deflates into the partition's scratch buffer; *src is the
 * batch to copy in (NULL: write it in place, uncompressed). */
static int compress_batch(cano__partition *p, const cano_record *recs,
                          size_t n, const cano__batch_params *bp,
                          uint64_t rsize, int64_t max_ts,
                          const uint64_t *bodies, const uint8_t **src,
                          uint32_t *len)
{
    size_t need = 2 * (size_t)(CANO__BATCH_HEADER + rsize);
    if (p->scratch_cap < need) {
        uint8_t *b = cano__realloc(p->scratch, need);
        if (!b)
            return cano__err(CANO_ENOMEM, "compression buffer");
        p->scratch = b;
        p->scratch_cap = need;
    }
    uint32_t plain = cano__batch_write(p->scratch, recs, n, bp, rsize, max_ts,
                                       bodies);
    uint32_t packed = cano__batch_deflate(p->scratch, p->scratch + plain,
                                          plain, p->topic->cfg.compression_level);
    *src = packed ? p->scratch + plain : p->scratch;
    *len = packed ? packed : plain;
    return CANO_OK;
}

static void wake_waiters(cano__partition *p)
{
    if (atomic_load(&p->waiters) > 0)
        cano__part_wake_all(p);
}

/* Returns 1 (and the original first offset) for a producer's retry. */
static int append_locked(cano__partition *p, const cano_record *recs, size_t n,
                         const cano__producer_ref *prod,
                         int64_t *first_offset_out)
{
    struct cano_topic *t = p->topic;
    const cano_topic_config *cfg = &t->cfg;
    if (atomic_load(&t->db->fatal))
        return cano__err(CANO_EFATAL, "an earlier sync failed; reopen");
    if (atomic_load(&t->deleted))
        return cano__err(CANO_ENOTFOUND, "topic %s was deleted", t->name);
    if (prod) {
        int rc = cano__producers_check(&p->producers, prod->pid, prod->seq, n,
                                       first_offset_out);
        if (rc != CANO_OK)
            return rc;
    }
    int64_t base = atomic_load(&p->end_offset);
    if ((uint64_t)n > (uint64_t)(INT64_MAX - base))
        return cano__err(CANO_EOFFSET, "offsets exhausted at %" PRId64, base);
    cano__batch_params bp = {
        base, CANO__MAX(cano__now_ms(), p->max_ts),
        cfg->timestamp_type == CANO_TIMESTAMP_LOG_APPEND_TIME,
        prod ? prod->pid : -1, prod ? prod->seq : -1 };
    int64_t max_ts;
    uint64_t stack_bodies[64], *bodies = n <= 64 ? stack_bodies : NULL;
    uint64_t rsize = cano__records_size(recs, n, &bp, &max_ts, bodies);
    if (CANO__BATCH_HEADER + rsize > (uint64_t)cfg->max_batch_bytes)
        return cano__err(CANO_ETOOBIG, "batch of %" PRIu64 " bytes exceeds "
                         "max_batch_bytes %" PRId64,
                         CANO__BATCH_HEADER + rsize, cfg->max_batch_bytes);
    const uint8_t *src = NULL;
    uint32_t len = (uint32_t)(CANO__BATCH_HEADER + rsize);
    int rc = CANO_OK;
    if (cfg->compression == CANO_COMPRESSION_ZLIB)
        rc = compress_batch(p, recs, n, &bp, rsize, max_ts, bodies, &src,
                            &len);
    cano__segment *s = NULL;
    if (rc == CANO_OK)
        rc = prepare_segment(p, len, max_ts, n, &s);
    if (rc != CANO_OK)
        return rc;
    rc = cano__seg_pin(s);
    if (rc != CANO_OK)
        return rc;
    rc = cano__seg_reserve(s, len);
    if (rc == CANO_OK)
        rc = cano__seg_index_batch(s, base, len);
    if (rc == CANO_OK) {
        uint8_t *dst = cano__seg_tail(s);
        if (src)
            memcpy(dst, src, len);
        else
            cano__batch_write(dst, recs, n, &bp, rsize, max_ts, bodies);
        cano__seg_publish(s, len, base + (int64_t)n,
                          (int64_t)cano__ld64(dst + 24), max_ts);
        if (max_ts > p->max_ts)
            p->max_ts = max_ts;
        atomic_store(&p->end_offset, base + (int64_t)n);
        if (first_offset_out)
            *first_offset_out = base;
        if (prod)
            rc = cano__producers_record(&p->producers, prod->pid, prod->seq,
                                        n, base);
    }
    cano__seg_unpin(s);
    return rc;
}

int cano__part_append(cano__partition *p, const cano_record *recs, size_t n,
                      const cano__producer_ref *prod,
                      int64_t *first_offset_out)
{
    const cano_topic_config *cfg = &p->topic->cfg;
    for (size_t i = 0; i < n; i++) {
        int rc = check_record(&recs[i], cfg);
        if (rc != CANO_OK)
            return rc;
    }
    int64_t first = -1;
    bool durable = p->topic->sync_mode == CANO_SYNC_ALWAYS;
    if (durable)
        atomic_fetch_add(&p->appending, 1);
    pthread_mutex_lock(&p->lock);
    int rc = append_locked(p, recs, n, prod, &first);
    pthread_mutex_unlock(&p->lock);
    if (rc == CANO_OK)
        wake_waiters(p);
    if (rc == 1)
        rc = CANO_OK;       /* a retry: already there, nothing written */
    if (rc == CANO_OK && durable)
        rc = cano__part_wait_durable(p, first + (int64_t)n);
    if (durable)
        atomic_fetch_sub(&p->appending, 1);
    if (rc != CANO_OK)
        return rc;
    if (first_offset_out)
        *first_offset_out = first;
    return rc;
}

/* ---- syncing ---- */

static int sync_segment_dir(cano__partition *p)
{
    return cano__io_fsync_dir(p->dir);
}

/* Syncs the active segment's unsynced tail once.  The partition lock is
 * held only to take a snapshot and to record the result, never while the
 * disk works, so appends go on meanwhile. */
static int sync_once(cano__partition *p)
{
    pthread_mutex_lock(&p->lock);
    cano__segment *s = active(p);
    int64_t end_offset = atomic_load(&p->end_offset);
    if (!s || s->synced_end >= atomic_load(&s->end)) {
        atomic_store(&p->durable_offset, end_offset);
        pthread_mutex_unlock(&p->lock);
        return CANO_OK;
    }
    uint64_t from = s->synced_end, end = atomic_load(&s->end);
    int64_t next = s->next_offset, max_ts = s->max_ts;
    int64_t log_max_ts = s->log_max_ts;
    bool dir = s->dir_unsynced;
    int rc = cano__seg_pin(s);
    pthread_mutex_unlock(&p->lock);
    if (rc != CANO_OK)
        return rc;
    if (dir)
        rc = sync_segment_dir(p);
    if (rc == CANO_OK)
        rc = cano__io_msync(s->log + from, end - from, s->stem);
    pthread_mutex_lock(&p->lock);
    if (rc == CANO_OK) {
        if (dir)
            s->dir_unsynced = false;
        cano__seg_mark_synced(s, end, next, max_ts, log_max_ts);
        if (atomic_load(&p->durable_offset) < end_offset)
            atomic_store(&p->durable_offset, end_offset);
    } else {
        rc = cano__store_fatal(p->topic->db, rc);
    }
    pthread_mutex_unlock(&p->lock);
    cano__seg_unpin(s);
    if (rc == CANO_OK)
        wake_waiters(p);        /* readers limited to durable records */
    return rc;
}

/* Group commit.  A caller whose records are not durable waits when a sync
 * in flight started after they were appended (it will cover them);
 * otherwise it becomes the one syncing.  Before it starts, it gives the
 * appenders inside cano_append, and as many as the last sync carried (they
 * are on their way back with their next record), a moment to arrive, so
 * they ride on this sync instead of forming the next group.  One sync at a
 * time: overlapping ones were measured to make more, smaller groups. */
#define MAX_SYNCS 1

static void gather(cano__partition *p)
{
    /* Who to wait for: appenders inside cano_append now, and as many as
     * the last sync carried (they are on their way back with the next
     * record); never longer than a fraction of the last sync's time. */
    int target = CANO__MAX(atomic_load(&p->appending), p->last_group);
    int64_t wait = CANO__MIN(CANO__MAX(p->last_sync_us / 2, 20), 2000);
    int64_t deadline = cano__mono_us() + wait;
    p->gathering = true;
    p->gather_target = target;
    while (p->waiting < target && cano__mono_us() < deadline) {
        struct timespec ts = { (time_t)(deadline / 1000000),
                               (long)(deadline % 1000000) * 1000 };
        pthread_cond_timedwait(&p->gather_cond, &p->sync_lock, &ts);
    }
    p->gathering = false;
    p->last_group = p->waiting;
}

/* Waiters sleep on the condition of the sync that will cover them: the
 * one running (its records were in when it began) or the next.  A sync's
 * end wakes only its own waiters, plus one of the next generation to lead
 * it; whoever leaves while no sync runs hands that turn on, so it is never
 * lost (the one woken may find itself covered already). */
static pthread_cond_t *gen_cond(cano__partition *p, uint64_t gen)
{
    return &p->gen_cond[gen & 1];
}

static void wake_next_leader(cano__partition *p)
{
    if (p->syncs == 0 && p->waiting > 0)
        pthread_cond_signal(gen_cond(p, p->sync_gen));
}

int cano__part_wait_durable(cano__partition *p, int64_t offset)
{
    int rc = CANO_OK;
    pthread_mutex_lock(&p->sync_lock);
    p->waiting++;
    if (p->gathering && p->waiting >= p->gather_target)
        pthread_cond_signal(&p->gather_cond);  /* the group is complete */
    while (rc == CANO_OK && atomic_load(&p->durable_offset) < offset) {
        if (atomic_load(&p->topic->db->fatal)) {
            rc = cano__err(CANO_EFATAL, "an earlier sync failed; reopen");
        } else if (p->sync_started_upto < offset && p->syncs < MAX_SYNCS) {
            p->syncs++;              /* claimed before gather lets go of the lock */
            gather(p);
            p->sync_started_upto = atomic_load(&p->end_offset);
            uint64_t gen = p->sync_gen++;
            pthread_mutex_unlock(&p->sync_lock);
            int64_t t0 = cano__mono_us();
            rc = sync_once(p);
            int64_t took = cano__mono_us() - t0;
            pthread_mutex_lock(&p->sync_lock);
            p->last_sync_us = took;
            p->syncs--;
            if (rc != CANO_OK)       /* nothing covered: the next one retries */
                p->sync_started_upto = atomic_load(&p->durable_offset);
            pthread_cond_broadcast(gen_cond(p, gen));
        } else {
            /* Covered by the running sync, or (during its gather, before
             * the generation moves on) by the one gathering: sync_gen - 1
             * or sync_gen. */
            bool running = p->syncs && !p->gathering;
            uint64_t gen = running && p->sync_started_upto >= offset
                         ? p->sync_gen - 1 : p->sync_gen;
            pthread_cond_wait(gen_cond(p, gen), &p->sync_lock);
        }
    }
    p->waiting--;
    wake_next_leader(p);
    pthread_mutex_unlock(&p->sync_lock);
    return rc;
}

int cano__part_sync(cano__partition *p)
{
    return cano__part_wait_durable(p, atomic_load(&p->end_offset));
}

int cano__part_close_clean(cano__partition *p)
{
    pthread_mutex_lock(&p->lock);
    cano__segment *s = active(p);
    int rc = CANO_OK;
    if (s) {
        rc = cano__seg_pin(s);
        if (rc == CANO_OK) {
            rc = cano__seg_close_clean(s);
            cano__seg_unpin(s);
        }
    }
    if (rc == CANO_OK)
        rc = save_producers(p);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* ---- finding segments for readers ---- */

/* Index of the segment holding offset: the last with base <= offset, or the
 * first one.  List lock held. */
static size_t seg_index(const cano__partition *p, int64_t offset)
{
    size_t lo = 0, hi = p->n_segs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->segs[mid]->base <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

/* Pins the segment holding offset (after == NULL), or the one following
 * `after`; *out is NULL when there is none. */
static int pin_segment(cano__partition *p, int64_t offset,
                       const cano__segment *after, cano__segment **out)
{
    *out = NULL;
    pthread_rwlock_rdlock(&p->list_lock);
    int rc = CANO_OK;
    if (p->n_segs) {
        size_t i = seg_index(p, after ? after->base : offset);
        if (after && p->segs[i]->base <= after->base)
            i++;
        if (i < p->n_segs) {
            rc = cano__seg_pin(p->segs[i]);
            if (rc == CANO_OK)
                *out = p->segs[i];
        }
    }
    pthread_rwlock_unlock(&p->list_lock);
    return rc;
}

/* ---- cursor ---- */

void cano__cursor_init(cano__cursor *c, cano__partition *p, int64_t offset)
{
    memset(c, 0, sizeof *c);
    c->part = p;
    c->next = offset;
}

void cano__cursor_seek(cano__cursor *c, int64_t offset)
{
    if (c->seg)
        cano__seg_unpin(c->seg);
    c->seg = NULL;
    c->in_batch = false;
    c->next = offset;
    c->batches = 0;
    c->ready_upto = c->released_upto = 0;
}

void cano__cursor_release(cano__cursor *c)
{
    cano__cursor_seek(c, c->next);
    cano__free(c->scratch);
    cano__free(c->hdrs);
    c->scratch = NULL;
    c->hdrs = NULL;
    c->scratch_cap = c->hdr_cap = 0;
}

static int corrupt_at(const cano__cursor *c, const char *what)
{
    return cano__err(CANO_ECORRUPT, "%s.log at byte %" PRIu64 ": %s",
                     c->seg->stem, c->pos, what);
}

/* Moves on from an exhausted segment: to the one now holding the next
 * offset (after a compaction it can be a merged segment that starts below
 * the old one's base), or else to the following one; 0 when there is none
 * yet. */
static int cursor_advance(cano__cursor *c)
{
    cano__segment *n;
    int rc = pin_segment(c->part, c->next, NULL, &n);
    if (rc == CANO_OK && n == c->seg) {
        cano__seg_unpin(n);
        rc = pin_segment(c->part, 0, c->seg, &n);
    }
    if (rc != CANO_OK || !n)
        return rc;
    cano__seg_unpin(c->seg);
    c->seg = n;
    c->ready_upto = c->released_upto = 0;
    if (c->next < n->base)
        c->next = n->base;
    c->pos = cano__seg_position(n, c->next);
    return 1;
}

/* A cursor that keeps reading on maps the next few MiB in one call rather
 * than taking a page fault every 4 KiB; a random read never gets here. */
static void read_ahead(cano__cursor *c, uint64_t seg_end)
{
    enum { WINDOW = 4u << 20, SEQUENTIAL = 32 };
    if (++c->batches < SEQUENTIAL || c->pos < c->ready_upto)
        return;
    uint64_t to = CANO__MIN(c->pos + WINDOW, seg_end);
    cano__io_prefetch(c->seg->log + c->pos, (size_t)(to - c->pos));
    c->ready_upto = to;
    /* And what it read a window ago leaves this process's memory, so a
     * long read does not grow it (the pages stay in the page cache). */
    uint64_t behind = c->pos > 2 * (uint64_t)WINDOW
                    ? (c->pos - WINDOW) & ~(uint64_t)4095 : 0;
    if (behind > c->released_upto) {
        uint64_t from = CANO__MAX(c->released_upto, (uint64_t)4096);
        if (behind > from)
            cano__io_release(c->seg->log + from, (size_t)(behind - from));
        c->released_upto = behind;
    }
}

/* Loads the batch at the cursor's position; 1 when one holding offsets >=
 * next was entered, 2 when the batch was skipped, 0 at the segment's end. */
static int cursor_load_batch(cano__cursor *c, int64_t end)
{
    uint64_t seg_end = cano__seg_end(c->seg);
    if (c->pos >= seg_end)
        return 0;
    read_ahead(c, seg_end);
    /* Batches wholly below the wanted offset are stepped over by their
     * length alone; the one entered is checked in full below. */
    const uint8_t *p = c->seg->log + c->pos;
    /* The header is read only when the segment holds a whole one: past the
     * data the mapping may end, or the file (SIGBUS). */
    if (seg_end - c->pos >= CANO__BATCH_HEADER) {
        uint32_t len = cano__ld32(p + 8);
        /* base + last delta < next, written so that a damaged base
         * offset near INT64_MAX cannot overflow. */
        if (len >= CANO__BATCH_HEADER && len <= seg_end - c->pos &&
            (int64_t)cano__ld64(p + 16) <
            c->next - (int64_t)cano__ld32(p + 52)) {
            c->pos += len;
            return 2;
        }
    }
    cano__batch_info *b = &c->batch;
    if (cano__batch_parse(p, seg_end - c->pos, b) != CANO_OK)
        return corrupt_at(c, "bad batch framing");
    if (!cano__batch_checksum_ok(c->seg->log + c->pos, b->length))
        return corrupt_at(c, "checksum mismatch");
    if (b->base_offset >= end)
        return 0;
    int rc = cano__rec_iter_init(&c->it, c->seg->log + c->pos, b, &c->scratch,
                                 &c->scratch_cap);
    if (rc != CANO_OK)
        return rc;
    c->in_batch = true;
    return 1;
}

int cano__cursor_next(cano__cursor *c, int64_t end, cano_record *out)
{
    for (;;) {
        if (c->in_batch) {
            int rc = cano__rec_next(&c->it, out, &c->hdrs, &c->hdr_cap);
            if (rc == 1) {
                if (out->offset < c->next)
                    continue;
                if (out->offset >= end) {
                    c->in_batch = false;     /* re-read this batch later */
                    return 0;
                }
                c->next = out->offset + 1;
                out->partition = c->part->id;
                return 1;
            }
            c->in_batch = false;
            if (rc != 0)
                return rc;
            c->pos += c->batch.length;
            continue;
        }
        if (c->next >= end)
            return 0;
        if (!c->seg) {
            int rc = pin_segment(c->part, c->next, NULL, &c->seg);
            if (rc != CANO_OK || !c->seg)
                return rc;
            if (c->next < c->seg->base)
                c->next = c->seg->base;
            c->pos = cano__seg_position(c->seg, c->next);
        }
        int rc = cursor_load_batch(c, end);
        if (rc == 0)
            rc = cursor_advance(c);
        if (rc <= 0)
            return rc;
    }
}

/* ---- waiting for appends ---- */

void cano__part_wake_all(cano__partition *p)
{
    pthread_mutex_lock(&p->wait_lock);
    pthread_cond_broadcast(&p->wait_cond);
    pthread_mutex_unlock(&p->wait_lock);
}

int cano__part_wait(cano__partition *p, int64_t offset, bool durable,
                    int64_t deadline_us, _Atomic bool *stop1,
                    _Atomic bool *stop2)
{
    int rc = CANO_ETIMEDOUT;
    _Atomic int64_t *mark = durable ? &p->durable_offset : &p->end_offset;
    pthread_mutex_lock(&p->wait_lock);
    atomic_fetch_add(&p->waiters, 1);
    for (;;) {
        if (atomic_load(mark) > offset) {
            rc = CANO_OK;
            break;
        }
        if (atomic_load(stop1) || atomic_load(stop2) ||
            atomic_load(&p->topic->deleted)) {
            rc = CANO_ECLOSED;           /* the caller tells which */
            break;
        }
        if (deadline_us < 0) {
            pthread_cond_wait(&p->wait_cond, &p->wait_lock);
            continue;
        }
        if (cano__mono_us() >= deadline_us)
            break;
        struct timespec ts = { (time_t)(deadline_us / 1000000),
                               (long)(deadline_us % 1000000) * 1000 };
        pthread_cond_timedwait(&p->wait_cond, &p->wait_lock, &ts);
    }
    atomic_fetch_sub(&p->waiters, 1);
    pthread_mutex_unlock(&p->wait_lock);
    return rc;
}

/* ---- state ---- */

/* Data bytes of a segment; a sealed one not mapped yet is measured by the
 * size of its trimmed file rather than by mapping it. */
int64_t cano__part_seg_bytes(cano__segment *s)
{
    if (!s->sealed)
        return (int64_t)(atomic_load(&s->end) - CANO__SEG_HEADER);
    int64_t b = atomic_load(&s->data_bytes);
    if (b < 0) {
        char path[4200];
        uint64_t size = 0;
        cano__seg_path(s, CANO__SEG_F_LOG, path, sizeof path);
        if (cano__io_stat(path, NULL, &size) == CANO_OK &&
            size >= CANO__SEG_HEADER)
            b = (int64_t)(size - CANO__SEG_HEADER);
        else
            b = 0;
        atomic_store(&s->data_bytes, b);
    }
    return b;
}

int cano__part_stat(cano__partition *p, cano_partition_info *out)
{
    pthread_mutex_lock(&p->lock);
    out->partition = p->id;
    out->start_offset = atomic_load(&p->start_offset);
    out->end_offset = atomic_load(&p->end_offset);
    out->durable_offset = atomic_load(&p->durable_offset);
    out->max_timestamp = p->max_ts;
    out->segments = p->n_segs ? (int64_t)p->n_segs : 1;
    out->bytes = 0;
    for (size_t i = 0; i < p->n_segs; i++)
        out->bytes += cano__part_seg_bytes(p->segs[i]);
    pthread_mutex_unlock(&p->lock);
    out->cleaned_offset = cano__cleaned_offset(p);
    out->dirty_ratio = cano__dirty_ratio(p);
    return CANO_OK;
}

/* True when a sealed segment holds no timestamp >= ts (so the search may
 * skip it without reading it). */
static bool seg_all_before(cano__segment *s, int64_t ts)
{
    return s->sealed && s->meta_known && s->max_ts < ts;
}

int cano__part_offset_for_time(cano__partition *p, int64_t ts,
                               int64_t *offset_out)
{
    int64_t start = atomic_load(&p->start_offset);
    int64_t end = atomic_load(&p->end_offset);
    cano__segment *s;
    int rc = pin_segment(p, start, NULL, &s);
    while (rc == CANO_OK && s && seg_all_before(s, ts)) {
        cano__segment *n;
        rc = pin_segment(p, 0, s, &n);
        cano__seg_unpin(s);
        s = n;
    }
    *offset_out = end;
    if (rc != CANO_OK || !s)
        return rc;
    int64_t from = CANO__MAX(start, cano__seg_time_start(s, ts));
    cano__seg_unpin(s);
    cano__cursor c;
    cano_record r;
    cano__cursor_init(&c, p, from);
    while ((rc = cano__cursor_next(&c, end, &r)) == 1) {
        if (r.timestamp >= ts) {
            *offset_out = r.offset;
            break;
        }
    }
    cano__cursor_release(&c);
    return rc < 0 ? rc : CANO_OK;
}

/* ---- producer state at open ---- */

/* The snapshot, then the producer batches after it: after a clean close
 * there are none; after a crash, at most those since the last roll. */
static int load_producers(cano__partition *p, bool clean)
{
    int64_t upto;
    int rc = cano__producers_load(&p->producers, p->dir, &upto);
    if (rc != CANO_OK)
        return rc;
    int64_t end = atomic_load(&p->end_offset);
    int64_t from = upto >= 0 ? upto : upto == -2 ? 0
                 : clean || !p->n_segs ? end : p->segs[p->n_segs - 1]->base;
    /* Not clamped to the log start: batches below it that are still in a
     * segment count too (delete-records can move the start into the active
     * segment). */
    cano__segment *s = NULL;
    if (from < end)
        rc = pin_segment(p, from, NULL, &s);
    while (rc == CANO_OK && s) {
        uint64_t pos = cano__seg_position(s, from), se = cano__seg_end(s);
        cano__batch_info b;
        while (rc == CANO_OK && pos < se &&
               cano__batch_parse(s->log + pos, se - pos, &b) == CANO_OK) {
            if (b.producer_id >= 0 && b.base_offset >= from)
                rc = cano__producers_record(&p->producers, b.producer_id,
                                            b.base_seq, b.last_delta + 1,
                                            b.base_offset);
            pos += b.length;
        }
        cano__segment *next = NULL;
        if (rc == CANO_OK)
            rc = pin_segment(p, 0, s, &next);
        cano__seg_unpin(s);
        s = next;
    }
    return rc;
}
