/* check_compact.c - key-based compaction (cano_compact, cano_maintain with
 * CANO_CLEANUP_COMPACT): the latest record of every key survives at its
 * offset, tombstones live for delete_retention_ms, min_compaction_lag_ms,
 * tiny key maps (many passes), a 200,000-record log, keyless records,
 * the dirty ratio, merged output segments, a crash at every I/O step of a
 * compaction, and readers running while compaction and retention run.
 *
 * Timestamps are given explicitly; nothing passes or fails on timing.  The
 * tombstone horizon is exercised with delete_retention_ms 0 (a second pass
 * removes the tombstone, whatever the clock says) and with one day (no pass
 * in the test can remove it). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "io.h"
#include "testutil.h"

static char dir[64];
static char store[TU_PATH_MAX];

static void setup(void)
{
    ck_assert_int_eq(tu_mkdtemp_fast(dir, sizeof dir), 0);
    tu_path(store, "%s/store", dir);
}

/* On a RAM file system when there is one: the crash loops reopen and
 * fsync a store hundreds of times. */
static void setup_fast(void)
{
    ck_assert_int_eq(tu_mkdtemp_fast(dir, sizeof dir), 0);
    tu_path(store, "%s/store", dir);
}

static void teardown(void)
{
    tu_rmtree(dir);
}

#define T0 1600000000000LL          /* 2020: old, but younger than 100 years */
#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL

/* ---- opening and configuring ---- */

static cano_t *open_map(const char *path, int64_t map_bytes)
{
    cano_options o;
    ck_assert_int_eq(cano_options_init(&o, sizeof o), CANO_OK);
    o.sync_mode = CANO_SYNC_NONE;
    if (map_bytes)
        o.cleaner_map_bytes = map_bytes;
    cano_t *db = NULL;
    int rc = cano_open(path, &o, &db);
    ck_assert_msg(rc == CANO_OK, "cano_open(%s) = %d (%s)", path, rc,
                  cano_last_errmsg());
    return db;
}

static cano_topic_config ccfg(int32_t partitions, int64_t segment_bytes)
{
    cano_topic_config c = tu_config(partitions, segment_bytes);
    c.cleanup_policy = CANO_CLEANUP_COMPACT;
    return c;
}

static void compact_ok(cano_topic_t *t, int32_t p)
{
    int rc = cano_compact(t, p);
    ck_assert_msg(rc == CANO_OK, "cano_compact(p%d) = %d (%s)", p, rc,
                  cano_last_errmsg());
}

static void maintain_ok(cano_t *db)
{
    int rc = cano_maintain(db);
    ck_assert_msg(rc == CANO_OK, "cano_maintain = %d (%s)", rc,
                  cano_last_errmsg());
}

/* Base of the active (last) segment of a partition, from the file names. */
static int64_t active_base_in(const char *st, const char *topic, int32_t p)
{
    int64_t *b;
    int n = tu_segment_bases(st, topic, p, &b);
    ck_assert_int_gt(n, 0);
    int64_t r = b[n - 1];
    free(b);
    return r;
}

static int64_t active_base(const char *topic, int32_t p)
{
    return active_base_in(store, topic, p);
}

/* ---- a model of what was appended to one partition (from offset 0) ---- */

typedef struct mrec {
    char key[40];
    char val[80];
    bool tomb;
    int64_t ts;
} mrec;

typedef struct model {
    mrec *v;
    size_t n, cap;
} model;

static void m_free(model *m)
{
    free(m->v);
    memset(m, 0, sizeof *m);
}

static mrec *m_push(model *m, const char *key, const char *val, int64_t ts)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
        ck_assert_ptr_nonnull(m->v);
    }
    mrec *e = &m->v[m->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    if (val)
        snprintf(e->val, sizeof e->val, "%s", val);
    e->tomb = val == NULL;
    e->ts = ts;
    return e;
}

static cano_record m_rec(const mrec *e)
{
    return tu_rec(e->key, e->tomb ? NULL : e->val, e->ts);
}

/* Appends one record; its offset must be the model's next. */
static int64_t m_append(cano_topic_t *t, int32_t p, model *m, const char *key,
                        const char *val, int64_t ts)
{
    mrec *e = m_push(m, key, val, ts);
    cano_record r = m_rec(e);
    int64_t off = -100;
    int rc = cano_append(t, p, &r, NULL, &off);
    ck_assert_msg(rc == CANO_OK, "append = %d (%s)", rc, cano_last_errmsg());
    ck_assert_int_eq(off, (int64_t)m->n - 1);
    return off;
}

/* Appends the last n model entries (already pushed) as one batch. */
static void m_append_last_as_batch(cano_topic_t *t, int32_t p, model *m,
                                   size_t n)
{
    cano_record *recs = calloc(n, sizeof *recs);
    size_t first = m->n - n;
    for (size_t i = 0; i < n; i++)
        recs[i] = m_rec(&m->v[first + i]);
    int64_t off = -100;
    int rc = cano_append_batch(t, p, recs, n, &off);
    ck_assert_msg(rc == CANO_OK, "append_batch = %d (%s)", rc,
                  cano_last_errmsg());
    ck_assert_int_eq(off, (int64_t)first);
    free(recs);
}

/* The offsets a compaction of [0, mapped_end) must leave: below mapped_end
 * the last record of each key (among those below mapped_end), tombstones
 * dropped when tombs_gone; from mapped_end on, everything. */
static size_t m_expect(const model *m, int64_t mapped_end, bool tombs_gone,
                       int64_t *out)
{
    size_t k = 0;
    for (size_t o = 0; o < m->n; o++) {
        if ((int64_t)o < mapped_end) {
            bool later = false;
            for (size_t j = o + 1; j < m->n && (int64_t)j < mapped_end; j++)
                if (!strcmp(m->v[j].key, m->v[o].key)) {
                    later = true;
                    break;
                }
            if (later || (tombs_gone && m->v[o].tomb))
                continue;
        }
        out[k++] = (int64_t)o;
    }
    return k;
}

/* Checks that a read result is exactly the model records at offs[]. */
static void assert_recs_model(const tu_recs *got, const model *m,
                              const int64_t *offs, size_t n)
{
    ck_assert_msg(got->n == n, "%zu records read, %zu expected", got->n, n);
    for (size_t i = 0; i < n; i++) {
        const tu_rec_copy *c = &got->v[i];
        ck_assert_msg(c->offset == offs[i], "record %zu: offset %" PRId64
                      ", expected %" PRId64, i, c->offset, offs[i]);
        const mrec *e = &m->v[offs[i]];
        tu_assert_kv(c, e->key, e->tomb ? NULL : e->val);
        ck_assert_int_eq(c->timestamp, e->ts);
        ck_assert_uint_eq(c->header_count, 0);
    }
}

static void assert_partition(cano_topic_t *t, int32_t p, const model *m,
                             const int64_t *offs, size_t n)
{
    tu_recs got = { 0 };
    int rc = tu_read_all(t, p, tu_stat(t, p).start_offset, &got);
    ck_assert_msg(rc == CANO_OK, "read: %d (%s)", rc, cano_last_errmsg());
    assert_recs_model(&got, m, offs, n);
    tu_recs_free(&got);
}

static void assert_compacted(cano_topic_t *t, int32_t p, const model *m,
                             int64_t mapped_end, bool tombs_gone)
{
    int64_t *offs = calloc(m->n + 1, sizeof *offs);
    size_t n = m_expect(m, mapped_end, tombs_gone, offs);
    assert_partition(t, p, m, offs, n);
    free(offs);
}

static int recs_equal(const tu_recs *a, const tu_recs *b, char *why,
                      size_t why_len)
{
    if (a->n != b->n) {
        snprintf(why, why_len, "%zu vs %zu records", a->n, b->n);
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        const tu_rec_copy *x = &a->v[i], *y = &b->v[i];
        cano_record r = tu_rec_buf(y->key, y->key_len, y->value, y->value_len,
                                   y->timestamp);
        if (x->offset != y->offset || x->timestamp != y->timestamp ||
            !tu_rec_content_eq(x, &r)) {
            snprintf(why, why_len, "record %zu differs (offsets %" PRId64
                     " / %" PRId64 ")", i, x->offset, y->offset);
            return 0;
        }
    }
    return 1;
}

/* 1 when every record of sub is in super (same offset and content). */
static int recs_subset(const tu_recs *sub, const tu_recs *super)
{
    size_t j = 0;
    for (size_t i = 0; i < sub->n; i++) {
        while (j < super->n && super->v[j].offset < sub->v[i].offset)
            j++;
        if (j == super->n || super->v[j].offset != sub->v[i].offset)
            return 0;
        const tu_rec_copy *y = &super->v[j];
        cano_record r = tu_rec_buf(y->key, y->key_len, y->value, y->value_len,
                                   y->timestamp);
        if (!tu_rec_content_eq(&sub->v[i], &r) ||
            sub->v[i].timestamp != y->timestamp)
            return 0;
    }
    return 1;
}

static void read_all_ok(cano_topic_t *t, int32_t p, tu_recs *out)
{
    int rc = tu_read_all(t, p, tu_stat(t, p).start_offset, out);
    ck_assert_msg(rc == CANO_OK, "read: %d (%s)", rc, cano_last_errmsg());
}

/* Names in a partition directory that a finished compaction must not
 * leave behind. */
static void assert_no_leftovers(const char *st, const char *topic, int32_t p)
{
    char pd[TU_PATH_MAX];
    tu_names l;
    ck_assert_int_eq(tu_list_dir(tu_part_dir(pd, st, topic, p), &l), 0);
    for (size_t i = 0; i < l.n; i++) {
        size_t len = strlen(l.v[i]);
        ck_assert_msg(!(len > 8 && !strcmp(l.v[i] + len - 8, ".cleaned")),
                      "%s left in %s", l.v[i], pd);
        ck_assert_msg(strcmp(l.v[i], "compaction.manifest") != 0,
                      "compaction.manifest left in %s", pd);
    }
    tu_names_free(&l);
}

/* Dirty ratio computed from the files: sealed .log data bytes of segments
 * whose next base is above cleaned, over all sealed data bytes. */
static double file_dirty_ratio(const char *topic, int32_t p, int64_t cleaned)
{
    int64_t *b;
    int n = tu_segment_bases(store, topic, p, &b);
    int64_t dirty = 0, total = 0;
    for (int i = 0; i + 1 < n; i++) {
        char path[TU_PATH_MAX];
        int64_t sz = tu_file_size(tu_seg_path(path, store, topic, p, b[i],
                                              ".log")) - 128;
        total += sz;
        if (b[i + 1] > cleaned)
            dirty += sz;
    }
    free(b);
    return total ? (double)dirty / (double)total : 0.0;
}

/* ---- basics ---- */

START_TEST(test_compact_latest_value_survives_offsets_kept)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 300);
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    for (int i = 0; i < 60; i++) {
        char k[16], v[32];
        snprintf(k, sizeof k, "key%d", (i * 7) % 5);
        snprintf(v, sizeof v, "value-%d", i);
        m_append(t, 0, &m, k, v, T0 + i);
    }
    int64_t a = active_base("c", 0);
    ck_assert_int_gt(a, 20);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.cleaned_offset, 0);
    ck_assert(pi.dirty_ratio == 1.0);
    int64_t segs_before = pi.segments;
    ck_assert_int_gt(segs_before, 5);

    compact_ok(t, 0);
    assert_compacted(t, 0, &m, a, false);
    pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 0);      /* never moves the start */
    ck_assert_int_eq(pi.end_offset, 60);
    ck_assert_int_eq(pi.cleaned_offset, a);
    ck_assert(pi.dirty_ratio == 0.0);
    ck_assert_int_lt(pi.segments, segs_before);
    ck_assert_int_eq(active_base("c", 0), a);
    assert_no_leftovers(store, "c", 0);

    /* A removed offset reads as the next record, by cano_read and by a
     * reader. */
    int64_t offs[64];
    size_t n = m_expect(&m, a, false, offs);
    ck_assert_int_eq(n, 5 + (60 - a));
    ck_assert_int_gt(offs[0], 0);
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(t, 0, 0, 1, tu_collect, &got), 1);
    ck_assert_int_eq(got.v[0].offset, offs[0]);
    tu_recs_free(&got);
    ck_assert_int_eq(cano_read(t, 0, offs[0] - 1, 1, tu_collect, &got), 1);
    ck_assert_int_eq(got.v[0].offset, offs[0]);
    tu_recs_free(&got);
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, 0, &r), CANO_OK);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, offs[0]);
    for (size_t i = 1; i < n; i++) {
        ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
        ck_assert_int_eq(rec.offset, offs[i]);
    }
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    cano_reader_close(r);

    /* Appends go on at the end offset. */
    ck_assert_int_eq(m_append(t, 0, &m, "key1", "after", T0 + 100), 60);

    /* Survives a clean close, and an idempotent second pass. */
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = open_map(store, 0);
    t = tu_topic(db, "c");
    assert_compacted(t, 0, &m, a, false);
    ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, a);
    int64_t a2 = active_base("c", 0);
    compact_ok(t, 0);
    assert_compacted(t, 0, &m, a2, false);
    compact_ok(t, 0);
    assert_compacted(t, 0, &m, a2, false);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

/* Keys, values, headers and timestamps of survivors are exact. */
START_TEST(test_compact_keeps_headers_and_timestamps)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 200);
    cano_topic_t *t = tu_create(db, "c", &c);
    enum { N = 40 };
    char keys[N][16], vals[N][16], hn[N][16], hv[N][16];
    cano_header hdrs[N][2];
    cano_record recs[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 16, "k%d", i % 6);
        snprintf(vals[i], 16, "val%d", i);
        snprintf(hn[i], 16, "h%d", i);
        snprintf(hv[i], 16, "hv%d", i * 3);
        hdrs[i][0] = (cano_header){ hn[i], strlen(hn[i]), hv[i], strlen(hv[i]) };
        hdrs[i][1] = (cano_header){ "n", 1, NULL, 0 };
        recs[i] = tu_rec(keys[i], vals[i], T0 + 1000 - i * 7);  /* decreasing */
        recs[i].headers = hdrs[i];
        recs[i].header_count = (size_t)(i % 3);
        int64_t off;
        ck_assert_int_eq(cano_append(t, 0, &recs[i], NULL, &off), CANO_OK);
        ck_assert_int_eq(off, i);
    }
    int64_t a = active_base("c", 0);
    compact_ok(t, 0);
    tu_recs got = { 0 };
    read_all_ok(t, 0, &got);
    size_t k = 0;
    for (int i = 0; i < N; i++) {
        bool later = false;
        for (int j = i + 1; j < a && i < a; j++)
            later |= !strcmp(keys[j], keys[i]);
        if (i < a && later)
            continue;
        ck_assert_uint_lt(k, got.n);
        ck_assert_int_eq(got.v[k].offset, i);
        ck_assert_msg(tu_rec_content_eq(&got.v[k], &recs[i]),
                      "record %d content differs", i);
        ck_assert_int_eq(got.v[k].timestamp, recs[i].timestamp);
        ck_assert_int_eq(got.v[k].partition, 0);
        k++;
    }
    ck_assert_uint_eq(k, got.n);
    tu_recs_free(&got);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* _i = 0: delete_retention_ms 0 (a second pass removes tombstones);
 * _i = 1: one day (they stay through any number of passes). */
START_TEST(test_compact_tombstone_lifetime)
{
    bool short_life = _i == 0;
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 1);       /* one record a segment */
    c.delete_retention_ms = short_life ? 0 : DAY_MS;
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    int64_t ts = T0;
    m_append(t, 0, &m, "e", NULL, ts++);       /* 0: superseded tombstone */
    m_append(t, 0, &m, "a", "a1", ts++);       /* 1 */
    m_append(t, 0, &m, "b", "b1", ts++);       /* 2 */
    m_append(t, 0, &m, "a", "a2", ts++);       /* 3 */
    m_append(t, 0, &m, "a", NULL, ts++);       /* 4: a's latest: tombstone */
    m_append(t, 0, &m, "e", "e1", ts++);       /* 5 */
    m_append(t, 0, &m, "b", "b2", ts++);       /* 6 */
    m_append(t, 0, &m, "c", "c1", ts++);       /* 7 */
    m_append(t, 0, &m, "b", NULL, ts++);       /* 8: b's latest: tombstone */
    m_append(t, 0, &m, "z", "z1", ts++);       /* 9 */
    m_append(t, 0, &m, "z", NULL, ts++);       /* 10: active: never touched */
    ck_assert_int_eq(active_base("c", 0), 10);

    compact_ok(t, 0);
    /* First pass: superseded records go, the latest tombstones stay. */
    int64_t want1[] = { 4, 5, 7, 8, 9, 10 };
    assert_partition(t, 0, &m, want1, 6);

    /* The horizon is stored with the batch: it survives a reopen. */
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = open_map(store, 0);
    t = tu_topic(db, "c");
    assert_partition(t, 0, &m, want1, 6);

    compact_ok(t, 0);
    if (short_life) {
        /* Past the horizon: the tombstones and every earlier record of
         * their keys are gone; the one in the active segment stays. */
        int64_t want2[] = { 5, 7, 9, 10 };
        assert_partition(t, 0, &m, want2, 4);
        tu_recs got = { 0 };
        read_all_ok(t, 0, &got);
        for (size_t i = 0; i < got.n; i++)
            ck_assert(!(got.v[i].key_len == 1 &&
                        (got.v[i].key[0] == 'a' || got.v[i].key[0] == 'b')));
        tu_recs_free(&got);
    } else {
        assert_partition(t, 0, &m, want1, 6);
        compact_ok(t, 0);
        assert_partition(t, 0, &m, want1, 6);
    }
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 0);
    ck_assert_int_eq(tu_stat(t, 0).end_offset, 11);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

/* A tombstone written after a first cleaning gets its horizon in the
 * pass that first cleans it, not earlier. */
START_TEST(test_compact_tombstone_horizon_starts_at_first_cleaning)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 1);
    c.delete_retention_ms = 0;
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    m_append(t, 0, &m, "a", "a1", T0);         /* 0 */
    m_append(t, 0, &m, "b", "b1", T0 + 1);     /* 1 */
    m_append(t, 0, &m, "c", "c1", T0 + 2);     /* 2 (active) */
    compact_ok(t, 0);
    assert_compacted(t, 0, &m, 2, false);
    m_append(t, 0, &m, "a", NULL, T0 + 3);     /* 3: tombstone */
    m_append(t, 0, &m, "d", "d1", T0 + 4);     /* 4 (active) */
    compact_ok(t, 0);                          /* first cleaning of 3 */
    int64_t w1[] = { 1, 2, 3, 4 };
    assert_partition(t, 0, &m, w1, 4);
    compact_ok(t, 0);                          /* past its horizon */
    int64_t w2[] = { 1, 2, 4 };
    assert_partition(t, 0, &m, w2, 3);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

/* _i = 0: min_compaction_lag_ms of 100 years: nothing is touched.
 * _i = 1: one hour: only the segments older than that are compacted. */
START_TEST(test_compact_min_compaction_lag)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 1);
    c.min_compaction_lag_ms = _i == 0 ? 100 * 365 * DAY_MS : HOUR_MS;
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    int64_t now = tu_now_ms();
    for (int i = 0; i < 30; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%d", i % 4);
        snprintf(v, sizeof v, "v%d", i);
        int64_t ts = i < 20 ? now - 2 * HOUR_MS + i : now - 1000 + i;
        m_append(t, 0, &m, k, v, ts);
    }
    ck_assert_int_eq(active_base("c", 0), 29);
    tu_names before, after;
    char pd[TU_PATH_MAX];
    tu_part_dir(pd, store, "c", 0);
    ck_assert_int_eq(tu_list_dir_suffix(pd, ".log", &before), 0);
    compact_ok(t, 0);
    if (_i == 0) {
        assert_compacted(t, 0, &m, 0, false);      /* all 30 records */
        ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, 0);
        ck_assert(tu_stat(t, 0).dirty_ratio == 1.0);
        ck_assert_int_eq(tu_list_dir_suffix(pd, ".log", &after), 0);
        ck_assert(tu_names_equal(&before, &after));
        tu_names_free(&after);
        /* cano_maintain with ratio 0 does nothing either. */
        maintain_ok(db);
        assert_compacted(t, 0, &m, 0, false);
    } else {
        assert_compacted(t, 0, &m, 20, false);
        ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, 20);
        ck_assert(tu_stat(t, 0).dirty_ratio > 0.0);
    }
    tu_names_free(&before);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

/* ---- refusals ---- */

START_TEST(test_compact_keyless_refused)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(2, 1000);
    cano_topic_t *t = tu_create(db, "c", &c);
    c.cleanup_policy = CANO_CLEANUP_COMPACT | CANO_CLEANUP_DELETE;
    cano_topic_t *both = tu_create(db, "both", &c);
    cano_topic_t *topics[2] = { t, both };
    for (int ti = 0; ti < 2; ti++) {
        cano_topic_t *x = topics[ti];
        tu_append_kv(x, 0, "k", "v", T0);
        cano_record r = tu_rec(NULL, "v", T0);
        int32_t part = 7;
        int64_t off = 7;
        ck_assert_int_eq(cano_append(x, 0, &r, &part, &off), CANO_EINVAL);
        ck_assert_int_eq(off, -1);
        ck_assert_int_eq(cano_append(x, CANO_PARTITION_AUTO, &r, NULL, NULL),
                         CANO_EINVAL);
        cano_record recs[5];
        for (int i = 0; i < 5; i++)
            recs[i] = tu_rec(i == 3 ? NULL : "k", "v", T0);
        off = 7;
        ck_assert_int_eq(cano_append_batch(x, 0, recs, 5, &off), CANO_EINVAL);
        ck_assert_int_eq(cano_append_batch(x, CANO_PARTITION_AUTO, recs, 5,
                                           NULL), CANO_EINVAL);
        recs[3] = tu_rec("k", "v", T0);
        recs[0] = tu_rec(NULL, NULL, T0);
        ck_assert_int_eq(cano_append_batch(x, 1, recs, 5, NULL), CANO_EINVAL);
        /* Nothing of the refused batches is anywhere. */
        ck_assert_int_eq(tu_end_offset(x, 0), 1);
        ck_assert_int_eq(tu_end_offset(x, 1), 0);
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(x, 0, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, 1);
        tu_recs_free(&got);
        /* An empty key is a key. */
        cano_record e = tu_rec_buf("", 0, "ev", 2, T0);
        ck_assert_int_eq(cano_append(x, 0, &e, NULL, &off), CANO_OK);
        ck_assert_int_eq(off, 1);
    }
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_compact_refused_on_non_compacted_topic)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = tu_config(2, 100);
    cano_topic_t *d = tu_create(db, "d", &c);
    for (int i = 0; i < 10; i++)
        tu_append_kv(d, 0, "k", "v", T0 + i);
    ck_assert_int_eq(cano_compact(d, 0), CANO_EINVAL);
    ck_assert_int_eq(tu_stat(d, 0).end_offset, 10);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(d, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 10);
    tu_recs_free(&got);

    c = ccfg(2, 100);
    cano_topic_t *t = tu_create(db, "c", &c);
    ck_assert_int_eq(cano_compact(NULL, 0), CANO_EINVAL);
    ck_assert_int_eq(cano_compact(t, 2), CANO_EINVAL);
    ck_assert_int_eq(cano_compact(t, -1), CANO_EINVAL);
    ck_assert_int_eq(cano_compact(t, 1), CANO_OK);          /* empty */
    ck_assert_int_eq(cano_compact(t, 0), CANO_OK);
    ck_assert_int_eq(cano_topic_delete(db, "c"), CANO_OK);
    ck_assert_int_eq(cano_compact(t, 0), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- key map size: many passes give the one-pass result ---- */

/* Fills a store with 40 keys (some tombstones) either one record a call
 * (batched = false) or in batches of 1..25 records. */
static void fill_keys(cano_topic_t *t, model *m, bool batched, int n)
{
    uint32_t rs = 12345;
    int i = 0;
    while (i < n) {
        int b = batched ? 1 + (int)(tu_rand(&rs) % 25) : 1;
        if (i + b > n)
            b = n - i;
        for (int j = 0; j < b; j++, i++) {
            char k[16], v[32];
            snprintf(k, sizeof k, "key-%u", tu_rand(&rs) % 40);
            snprintf(v, sizeof v, "val-%d", i);
            m_push(m, k, tu_rand(&rs) % 20 == 0 ? NULL : v, T0 + i);
        }
        m_append_last_as_batch(t, 0, m, (size_t)b);
    }
}

/* _i: map bytes {64, 256, 4096} x {single records, batches}. */
START_TEST(test_compact_tiny_map_matches_big_map)
{
    static const int64_t maps[] = { 64, 256, 4096 };
    int64_t map = maps[_i % 3];
    bool batched = _i >= 3;
    char big[TU_PATH_MAX];
    tu_path(big, "%s/big", dir);
    cano_t *db = open_map(store, map);
    cano_t *db2 = open_map(big, 0);
    cano_topic_config c = ccfg(1, 500);
    c.delete_retention_ms = DAY_MS;
    cano_topic_t *t = tu_create(db, "c", &c);
    cano_topic_t *t2 = tu_create(db2, "c", &c);
    model m = { 0 }, m2 = { 0 };
    /* A 64-byte map holds 4 keys: a pass per 4 records, each rewriting
     * the cleaned prefix; keep that case small. */
    int n = map == 64 ? 300 : 600;
    fill_keys(t, &m, batched, n);
    fill_keys(t2, &m2, batched, n);
    int64_t a = active_base("c", 0);
    ck_assert_int_eq(active_base_in(big, "c", 0), a);

    compact_ok(t, 0);
    compact_ok(t2, 0);
    /* cano_compact cleans the whole dirty part, however many passes the
     * map size needs. */
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_msg(pi.cleaned_offset == a && pi.dirty_ratio == 0.0,
                  "map %" PRId64 ": after cano_compact cleaned_offset %" PRId64
                  " (want %" PRId64 "), dirty_ratio %f (want 0)", map,
                  pi.cleaned_offset, a, pi.dirty_ratio);
    assert_compacted(t2, 0, &m2, a, false);
    assert_compacted(t, 0, &m, a, false);
    tu_recs x = { 0 }, y = { 0 };
    read_all_ok(t, 0, &x);
    read_all_ok(t2, 0, &y);
    char why[128];
    ck_assert_msg(recs_equal(&x, &y, why, sizeof why), "%s", why);
    tu_recs_free(&x);
    tu_recs_free(&y);
    ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, a);
    ck_assert(tu_stat(t, 0).dirty_ratio == 0.0);
    assert_no_leftovers(store, "c", 0);

    /* More data, a second run, still identical. */
    for (int i = 0; i < (map == 64 ? 100 : 200); i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "key-%d", (i * 13) % 50);
        snprintf(v, sizeof v, "new-%d", i);
        m_append(t, 0, &m, k, v, T0 + 1000 + i);
        m_append(t2, 0, &m2, k, v, T0 + 1000 + i);
    }
    a = active_base("c", 0);
    compact_ok(t, 0);
    compact_ok(t2, 0);
    assert_compacted(t, 0, &m, a, false);
    assert_compacted(t2, 0, &m2, a, false);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    ck_assert_int_eq(cano_close(db2), CANO_OK);
    m_free(&m);
    m_free(&m2);
}
END_TEST

/* ---- a large log ---- */

START_TEST(test_compact_200k_records_1000_keys)
{
    enum { TOTAL = 200000, KEYS = 1000, BATCH = 100 };
    const int64_t seg = 64 * 1024;
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, seg);
    cano_topic_t *t = tu_create(db, "big", &c);
    static char keys[BATCH][16], vals[BATCH][16];
    cano_record recs[BATCH];
    for (int i = 0; i < TOTAL; i += BATCH) {
        for (int j = 0; j < BATCH; j++) {
            snprintf(keys[j], 16, "key-%04d", (i + j) % KEYS);
            snprintf(vals[j], 16, "val-%06d", i + j);
            recs[j] = tu_rec(keys[j], vals[j], T0 + i + j);
        }
        int64_t off;
        int rc = cano_append_batch(t, 0, recs, BATCH, &off);
        ck_assert_msg(rc == CANO_OK, "batch %d: %d (%s)", i, rc,
                      cano_last_errmsg());
        ck_assert_int_eq(off, i);
    }
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.end_offset, TOTAL);
    ck_assert_int_gt(pi.segments, 50);
    int64_t a = active_base("big", 0);
    ck_assert_int_ge(a, KEYS);

    compact_ok(t, 0);

    tu_recs got = { 0 };
    read_all_ok(t, 0, &got);
    size_t sealed = 0;
    while (sealed < got.n && got.v[sealed].offset < a)
        sealed++;
    ck_assert_uint_eq(sealed, KEYS);
    ck_assert_uint_eq(got.n, KEYS + (size_t)(TOTAL - a));
    static bool seen[KEYS];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < sealed; i++) {
        const tu_rec_copy *r = &got.v[i];
        ck_assert_uint_eq(r->key_len, 8);
        char kbuf[16];
        memcpy(kbuf, r->key, 8);
        kbuf[8] = '\0';
        int k = atoi(kbuf + 4);
        ck_assert_int_lt(k, KEYS);
        ck_assert_msg(!seen[k], "key %d twice", k);
        seen[k] = true;
        /* the latest offset of key k below a */
        int64_t latest = a - 1 - ((a - 1 - k) % KEYS);
        ck_assert_int_eq(r->offset, latest);
        char kk[16], v[32];
        snprintf(kk, sizeof kk, "key-%04d", k);
        snprintf(v, sizeof v, "val-%06" PRId64, latest);
        tu_assert_kv(r, kk, v);
        ck_assert_int_eq(r->timestamp, T0 + latest);
    }
    for (size_t i = sealed; i < got.n; i++) {
        ck_assert_int_eq(got.v[i].offset, a + (int64_t)(i - sealed));
        char k[32], v[32];
        snprintf(k, sizeof k, "key-%04" PRId64, got.v[i].offset % KEYS);
        snprintf(v, sizeof v, "val-%06" PRId64, got.v[i].offset);
        tu_assert_kv(&got.v[i], k, v);
    }
    tu_recs_free(&got);

    /* The survivors were merged into few segments, each within
     * segment_bytes. */
    pi = tu_stat(t, 0);
    int64_t *b;
    int n = tu_segment_bases(store, "big", 0, &b);
    ck_assert_int_eq(n, pi.segments);
    ck_assert_int_eq(b[0], 0);
    int64_t sealed_bytes = 0;
    for (int i = 0; i + 1 < n; i++) {
        char path[TU_PATH_MAX];
        int64_t sz = tu_file_size(tu_seg_path(path, store, "big", 0, b[i],
                                              ".log")) - 128;
        ck_assert_int_le(sz, seg);
        sealed_bytes += sz;
    }
    ck_assert_int_eq(b[n - 1], a);
    free(b);
    ck_assert_int_eq(n - 1, (sealed_bytes + seg - 1) / seg);
    ck_assert_int_le(pi.segments, 3);
    ck_assert_int_eq(pi.cleaned_offset, a);
    ck_assert(pi.dirty_ratio == 0.0);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- cano_maintain and the dirty ratio ---- */

/* _i = 0: ratio 1.0, nothing happens; 1: ratio 0.0, it compacts;
 * 2: ratio 0.5, it compacts exactly when the dirty ratio exceeds 0.5. */
START_TEST(test_compact_maintain_respects_dirty_ratio)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 250);
    c.min_cleanable_dirty_ratio = _i == 0 ? 1.0 : _i == 1 ? 0.0 : 0.5;
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    for (int i = 0; i < 50; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%d", i % 3);
        snprintf(v, sizeof v, "v%d", i);
        m_append(t, 0, &m, k, v, T0 + i);
    }
    int64_t a = active_base("c", 0);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.cleaned_offset, 0);
    ck_assert(pi.dirty_ratio == 1.0);
    if (_i == 0) {
        maintain_ok(db);
        maintain_ok(db);
        assert_compacted(t, 0, &m, 0, false);
        pi = tu_stat(t, 0);
        ck_assert_int_eq(pi.cleaned_offset, 0);
        ck_assert(pi.dirty_ratio == 1.0);
        /* cano_compact ignores the ratio. */
        compact_ok(t, 0);
        assert_compacted(t, 0, &m, a, false);
        ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, a);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        m_free(&m);
        return;
    }
    if (_i == 1) {
        maintain_ok(db);
        assert_compacted(t, 0, &m, a, false);
        pi = tu_stat(t, 0);
        ck_assert_int_eq(pi.cleaned_offset, a);
        ck_assert(pi.dirty_ratio == 0.0);
        /* Nothing dirty: another run changes nothing. */
        maintain_ok(db);
        assert_compacted(t, 0, &m, a, false);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        m_free(&m);
        return;
    }
    /* ratio 0.5: everything dirty (1.0 > 0.5) compacts first. */
    maintain_ok(db);
    assert_compacted(t, 0, &m, a, false);
    int64_t cleaned = a;
    ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, cleaned);
    /* Now dirty bytes arrive one record at a time. */
    bool compacted_again = false;
    for (int i = 50; i < 400 && !compacted_again; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%d", i % 3);
        snprintf(v, sizeof v, "v%d", i);
        m_append(t, 0, &m, k, v, T0 + i);
        pi = tu_stat(t, 0);
        ck_assert_int_eq(pi.cleaned_offset, cleaned);
        double want = file_dirty_ratio("c", 0, cleaned);
        ck_assert_msg(pi.dirty_ratio > want - 1e-9 &&
                      pi.dirty_ratio < want + 1e-9,
                      "dirty_ratio %f, files say %f", pi.dirty_ratio, want);
        int64_t act = active_base("c", 0);
        maintain_ok(db);
        cano_partition_info after = tu_stat(t, 0);
        if (pi.dirty_ratio > 0.5) {
            ck_assert_int_eq(after.cleaned_offset, act);
            ck_assert(after.dirty_ratio == 0.0);
            assert_compacted(t, 0, &m, act, false);
            compacted_again = true;
        } else {
            ck_assert_int_eq(after.cleaned_offset, cleaned);
            ck_assert(after.dirty_ratio == pi.dirty_ratio);
            assert_compacted(t, 0, &m, cleaned, false);
        }
    }
    ck_assert(compacted_again);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

/* max_compaction_lag_ms makes cano_maintain compact a log whose dirty
 * ratio is below min_cleanable_dirty_ratio once its oldest dirty segment
 * is older than the lag. _i = 0: lag 1 hour (records 2 hours old):
 * compacts; _i = 1: lag 100 years: does not. */
START_TEST(test_compact_maintain_max_compaction_lag)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 1);
    c.min_cleanable_dirty_ratio = 1.0;
    c.max_compaction_lag_ms = _i == 0 ? HOUR_MS : 100 * 365 * DAY_MS;
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    int64_t now = tu_now_ms();
    for (int i = 0; i < 12; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%d", i % 4);
        snprintf(v, sizeof v, "v%d", i);
        m_append(t, 0, &m, k, v, now - 2 * HOUR_MS + i);
    }
    maintain_ok(db);
    if (_i == 0) {
        assert_compacted(t, 0, &m, 11, false);
        ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, 11);
    } else {
        assert_compacted(t, 0, &m, 0, false);
        ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, 0);
    }
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

/* The background maintenance thread compacts on its own (waits at most a
 * minute for it; the result is checked exactly). */
START_TEST(test_compact_background_maintenance)
{
    cano_options o;
    ck_assert_int_eq(cano_options_init(&o, sizeof o), CANO_OK);
    o.sync_mode = CANO_SYNC_NONE;
    o.maintenance_interval_ms = 20;
    cano_t *db = NULL;
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_OK);
    cano_topic_config c = ccfg(1, 200);
    c.min_cleanable_dirty_ratio = 0.0;
    cano_topic_t *t = tu_create(db, "c", &c);
    cano_record recs[40];
    char vals[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(vals[i], 16, "v%d", i);
        recs[i] = tu_rec(i % 2 ? "odd" : "even", vals[i], T0 + i);
    }
    /* One batch a call, so no compaction can see a half-written set. */
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(cano_append(t, 0, &recs[i], NULL, NULL), CANO_OK);
    int64_t a = active_base("c", 0);
    for (int w = 0; w < 6000 && tu_stat(t, 0).cleaned_offset != a; w++)
        tu_sleep_ms(10);
    ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, a);
    tu_recs got = { 0 };
    read_all_ok(t, 0, &got);
    /* The two survivors below a, then everything from a. */
    ck_assert_uint_eq(got.n, 2 + (size_t)(40 - a));
    ck_assert_int_eq(got.v[0].offset, a - 2);
    ck_assert_int_eq(got.v[1].offset, a - 1);
    tu_recs_free(&got);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- output layout ---- */

START_TEST(test_compact_merges_segments)
{
    cano_t *db = open_map(store, 0);
    const int64_t seg = 4096;
    cano_topic_config c = ccfg(1, seg);
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    for (int i = 0; i < 500; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%d", i % 5);
        snprintf(v, sizeof v, "v%d", i);
        m_append(t, 0, &m, k, v, T0 + i);
    }
    int64_t a = active_base("c", 0);
    ck_assert_int_gt(tu_stat(t, 0).segments, 5);
    compact_ok(t, 0);
    assert_compacted(t, 0, &m, a, false);
    /* Five survivors fit one segment: one sealed segment (base 0, the first
     * old base) and the active one. */
    ck_assert_int_eq(tu_stat(t, 0).segments, 2);
    int64_t *b;
    ck_assert_int_eq(tu_segment_bases(store, "c", 0, &b), 2);
    ck_assert_int_eq(b[0], 0);
    ck_assert_int_eq(b[1], a);
    free(b);
    /* No stray index files of the merged-away segments either. */
    tu_names l;
    char pd[TU_PATH_MAX];
    ck_assert_int_eq(tu_list_dir_suffix(tu_part_dir(pd, store, "c", 0),
                                        "index", &l), 0);
    ck_assert_uint_eq(l.n, 4);       /* 2 x (.index, .timeindex) */
    tu_names_free(&l);

    /* Merging with newly sealed segments, across a reopen. */
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = open_map(store, 0);
    t = tu_topic(db, "c");
    for (int i = 500; i < 1000; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%d", i % 7);
        snprintf(v, sizeof v, "v%d", i);
        m_append(t, 0, &m, k, v, T0 + i);
    }
    a = active_base("c", 0);
    compact_ok(t, 0);
    assert_compacted(t, 0, &m, a, false);
    ck_assert_int_eq(tu_stat(t, 0).segments, 2);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

/* Every surviving record of a multi-record batch is kept, not only the
 * first one of the batch. */
START_TEST(test_compact_multi_record_batch_keeps_every_survivor)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 300);
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    /* Batch b holds keys k<b> .. k<b+4>: each batch supersedes all but the
     * first key of the one before. */
    for (int b = 0; b < 4; b++) {
        for (int i = 0; i < 5; i++) {
            char k[8], v[8];
            snprintf(k, sizeof k, "k%d", b + i);
            snprintf(v, sizeof v, "v%d", b * 5 + i);
            m_push(&m, k, v, T0 + b * 5 + i);
        }
        m_append_last_as_batch(t, 0, &m, 5);
    }
    ck_assert_int_eq(active_base("c", 0), 10);    /* two batches a segment */
    compact_ok(t, 0);
    /* Below 10: k0@0, k1@5, k2@6, k3@7, k4@8, k5@9; then 10..19. */
    int64_t want[] = { 0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
                       19 };
    assert_partition(t, 0, &m, want, 16);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

/* zlib batches of many records: survivors are re-encoded exactly. */
START_TEST(test_compact_compressed_batches)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 2000);
    c.compression = CANO_COMPRESSION_ZLIB;
    c.delete_retention_ms = DAY_MS;
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    fill_keys(t, &m, true, 1500);
    int64_t a = active_base("c", 0);
    compact_ok(t, 0);
    assert_compacted(t, 0, &m, a, false);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = open_map(store, 0);
    t = tu_topic(db, "c");
    assert_compacted(t, 0, &m, a, false);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

START_TEST(test_compact_one_partition_only)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(2, 200);
    cano_topic_t *t = tu_create(db, "c", &c);
    model m0 = { 0 }, m1 = { 0 };
    for (int i = 0; i < 40; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%d", i % 3);
        snprintf(v, sizeof v, "v%d", i);
        m_append(t, 0, &m0, k, v, T0 + i);
        m_append(t, 1, &m1, k, v, T0 + i);
    }
    int64_t a0 = active_base("c", 0);
    compact_ok(t, 0);
    assert_compacted(t, 0, &m0, a0, false);
    assert_compacted(t, 1, &m1, 0, false);
    ck_assert_int_eq(tu_stat(t, 1).cleaned_offset, 0);
    ck_assert(tu_stat(t, 1).dirty_ratio == 1.0);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m0);
    m_free(&m1);
}
END_TEST

/* cano_delete_records works on a compacted topic, and compaction never
 * moves the log start. */
START_TEST(test_compact_with_delete_records)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 1);
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    for (int i = 0; i < 20; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%d", i % 4);
        snprintf(v, sizeof v, "v%d", i);
        m_append(t, 0, &m, k, v, T0 + i);
    }
    ck_assert_int_eq(cano_delete_records(t, 0, 6), CANO_OK);
    char path[TU_PATH_MAX];
    for (int b = 0; b < 6; b++)
        ck_assert(!tu_exists(tu_seg_path(path, store, "c", 0, b, ".log")));
    compact_ok(t, 0);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 6);
    ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, 19);
    /* From 6 on: the latest per key below 19, then 19. */
    int64_t want[] = { 15, 16, 17, 18, 19 };
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 6, &got), CANO_OK);
    assert_recs_model(&got, &m, want, 5);
    tu_recs_free(&got);
    ck_assert_int_eq(cano_read(t, 0, 5, 1, tu_collect, &got), CANO_EOFFSET);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

/* A reader in the middle of the log keeps going across a compaction. */
START_TEST(test_compact_reader_across_compaction)
{
    cano_t *db = open_map(store, 0);
    cano_topic_config c = ccfg(1, 200);
    cano_topic_t *t = tu_create(db, "c", &c);
    model m = { 0 };
    for (int i = 0; i < 80; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%d", i % 6);
        snprintf(v, sizeof v, "v%d", i);
        m_append(t, 0, &m, k, v, T0 + i);
    }
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, CANO_OFFSET_EARLIEST, &r),
                     CANO_OK);
    cano_record rec;
    int64_t last = -1;
    int64_t latest[6];
    for (int i = 0; i < 6; i++)
        latest[i] = -1;
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
        ck_assert_int_eq(rec.offset, i);
    }
    last = 9;
    compact_ok(t, 0);
    int rc;
    while ((rc = cano_reader_next(r, &rec, 0)) == CANO_OK) {
        ck_assert_int_gt(rec.offset, last);
        last = rec.offset;
        const mrec *e = &m.v[rec.offset];
        ck_assert_uint_eq(rec.key_len, strlen(e->key));
        ck_assert_mem_eq(rec.key, e->key, rec.key_len);
        ck_assert_uint_eq(rec.value_len, strlen(e->val));
        ck_assert_mem_eq(rec.value, e->val, rec.value_len);
        latest[rec.offset % 6] = rec.offset;
    }
    ck_assert_int_eq(rc, CANO_ETIMEDOUT);
    ck_assert_int_eq(last, 79);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(latest[i], 79 - (79 - i) % 6);
    cano_reader_close(r);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    m_free(&m);
}
END_TEST

/* ---- crash at every I/O step of a compaction ---- */

typedef struct crash_shm {
    int done;
    int rc;
    long ios;
} crash_shm;

typedef struct crash_arg {
    const char *path;
    int64_t map_bytes;
    long fail_at;           /* 0: no fault */
    crash_shm *shm;
} crash_arg;

/* In a child: open, arm the fault, compact, leave without closing. */
static int compact_child(void *arg)
{
    crash_arg *a = arg;
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = CANO_SYNC_NONE;
    if (a->map_bytes)
        o.cleaner_map_bytes = a->map_bytes;
    cano_t *db = NULL;
    if (cano_open(a->path, &o, &db) != CANO_OK)
        return 10;
    cano_topic_t *t = NULL;
    if (cano_topic_open(db, "c", &t) != CANO_OK)
        return 11;
    long before = cano__test_io_count();
    if (a->fail_at > 0)
        cano__test_io_fail_after(a->fail_at, EIO, true);
    int rc = cano_compact(t, 0);
    a->shm->ios = cano__test_io_count() - before;
    a->shm->rc = rc;
    a->shm->done = 1;
    return 0;
}

/* Every key's latest record (in the whole log) is in got. */
static void assert_latest_present(const tu_recs *got, const model *m)
{
    for (size_t o = 0; o < m->n; o++) {
        bool later = false;
        for (size_t j = o + 1; j < m->n && !later; j++)
            later = !strcmp(m->v[j].key, m->v[o].key);
        if (later)
            continue;
        bool found = false;
        for (size_t i = 0; i < got->n && !found; i++)
            found = got->v[i].offset == (int64_t)o;
        ck_assert_msg(found, "latest record of %s (offset %zu) lost",
                      m->v[o].key, o);
    }
}

/* Strictly increasing offsets, each record the one appended there. */
static void assert_valid_records(const tu_recs *got, const model *m)
{
    for (size_t i = 0; i < got->n; i++) {
        const tu_rec_copy *c = &got->v[i];
        ck_assert_int_ge(c->offset, 0);
        ck_assert_int_lt(c->offset, (int64_t)m->n);
        if (i)
            ck_assert_msg(c->offset > got->v[i - 1].offset,
                          "offset %" PRId64 " after %" PRId64, c->offset,
                          got->v[i - 1].offset);
        const mrec *e = &m->v[c->offset];
        tu_assert_kv(c, e->key, e->tomb ? NULL : e->val);
        ck_assert_int_eq(c->timestamp, e->ts);
    }
}

/* _i = 0: default key map, batches of 1..4 records (one pass: the result is
 * the old log or the new one); _i = 1: a 128-byte key map (several passes:
 * anything between); _i = 2: default map, the second compaction of a log
 * (the cleaned prefix, with tombstone horizons, is rewritten too). */
START_TEST(test_compact_crash_at_every_step)
{
    int64_t map = _i == 1 ? 128 : 0;    /* 128: 7 keys a pass */
    int n_recs = _i == 1 ? 28 : 48;     /* 7 or 12 segments */
    char pristine[TU_PATH_MAX], work[TU_PATH_MAX], ref[TU_PATH_MAX];
    tu_path(pristine, "%s/pristine", dir);
    tu_path(work, "%s/work", dir);
    tu_path(ref, "%s/ref", dir);
    model m = { 0 };
    int64_t first_clean = 0;    /* _i = 2: the end of the first cleaning */
    {
        cano_t *db = open_map(pristine, map);
        cano_topic_config c = ccfg(1, 400);
        c.delete_retention_ms = DAY_MS;
        cano_topic_t *t = tu_create(db, "c", &c);
        uint32_t rs = 777;
        for (int i = 0; i < n_recs; ) {
            /* _i = 0: batches of 1..4 records; otherwise single ones. */
            int b = _i == 0 ? 1 + (int)(tu_rand(&rs) % 4) : 1;
            if (i + b > n_recs)
                b = n_recs - i;
            for (int j = 0; j < b; j++, i++) {
                char k[8], v[16];
                snprintf(k, sizeof k, "k%u", tu_rand(&rs) % 12);
                snprintf(v, sizeof v, "v%d", i);
                m_push(&m, k, i % 17 == 5 ? NULL : v, T0 + i);
            }
            m_append_last_as_batch(t, 0, &m, (size_t)b);
            if (_i == 2 && i == 28) {
                /* a log that was compacted before: the crash hits the
                 * rewrite of an already cleaned prefix */
                first_clean = active_base_in(pristine, "c", 0);
                compact_ok(t, 0);
                assert_compacted(t, 0, &m, first_clean, false);
            }
        }
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    int64_t a = active_base_in(pristine, "c", 0);
    ck_assert_int_ge(a, n_recs / 2);
    ck_assert_int_gt(a, first_clean);

    /* The old and the new (fully compacted) contents. */
    tu_recs old_recs = { 0 }, new_recs = { 0 };
    int64_t ref_cleaned;
    {
        ck_assert_int_eq(tu_copytree(pristine, ref), 0);
        cano_t *db = open_map(ref, map);
        cano_topic_t *t = tu_topic(db, "c");
        read_all_ok(t, 0, &old_recs);
        assert_compacted(t, 0, &m, first_clean, false);
        ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, first_clean);
        compact_ok(t, 0);
        read_all_ok(t, 0, &new_recs);
        assert_compacted(t, 0, &m, a, false);
        ref_cleaned = tu_stat(t, 0).cleaned_offset;
        ck_assert_int_eq(ref_cleaned, a);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        tu_rmtree(ref);
    }
    ck_assert_uint_lt(new_recs.n, old_recs.n);

    crash_shm *shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(shm != MAP_FAILED);
    crash_arg arg = { work, map, 0, shm };

    /* Un-faulted, to know how many I/O calls a compaction makes. */
    ck_assert_int_eq(tu_copytree(pristine, work), 0);
    memset(shm, 0, sizeof *shm);
    ck_assert_int_eq(tu_run_child(compact_child, &arg, 0), 0);
    ck_assert(shm->done);
    ck_assert_int_eq(shm->rc, CANO_OK);
    long total = shm->ios;
    ck_assert_int_gt(total, 10);
    tu_rmtree(work);

    long n;
    for (n = 1; n <= total + 1; n++) {
        ck_assert_int_eq(tu_copytree(pristine, work), 0);
        memset(shm, 0, sizeof *shm);
        arg.fail_at = n;
        ck_assert_int_eq(tu_run_child(compact_child, &arg, 0), 0);
        ck_assert_msg(shm->done, "step %ld: the child did not finish", n);
        bool hit = shm->ios >= n;
        if (!hit)
            ck_assert_msg(shm->rc == CANO_OK, "step %ld: rc %d without a "
                          "fault", n, shm->rc);

        cano_t *db = open_map(work, map);
        cano_topic_t *t = tu_topic(db, "c");
        assert_no_leftovers(work, "c", 0);
        tu_recs got = { 0 };
        read_all_ok(t, 0, &got);
        assert_valid_records(&got, &m);
        assert_latest_present(&got, &m);
        char why[128];
        if (map == 0) {
            ck_assert_msg(recs_equal(&got, &old_recs, why, sizeof why) ||
                          recs_equal(&got, &new_recs, why, sizeof why),
                          "step %ld: neither the old nor the new log (%zu "
                          "records)", n, got.n);
        } else {
            ck_assert_msg(recs_subset(&new_recs, &got), "step %ld: a record "
                          "of the compacted log is missing", n);
            ck_assert_msg(recs_subset(&got, &old_recs), "step %ld: a record "
                          "that was never there", n);
        }
        tu_recs_free(&got);
        cano_partition_info pi = tu_stat(t, 0);
        ck_assert_int_eq(pi.start_offset, 0);
        ck_assert_int_eq(pi.end_offset, (int64_t)m.n);

        /* A later compaction succeeds and gives the reference result. */
        int rc = cano_compact(t, 0);
        ck_assert_msg(rc == CANO_OK, "step %ld: compact after the crash: %d "
                      "(%s)", n, rc, cano_last_errmsg());
        read_all_ok(t, 0, &got);
        ck_assert_msg(recs_equal(&got, &new_recs, why, sizeof why),
                      "step %ld: after recompaction: %s", n, why);
        tu_recs_free(&got);
        ck_assert_int_eq(tu_stat(t, 0).cleaned_offset, ref_cleaned);
        ck_assert(tu_stat(t, 0).dirty_ratio == 0.0);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        assert_no_leftovers(work, "c", 0);
        tu_rmtree(work);
        if (!hit)
            break;
    }
    ck_assert_int_eq(n, total + 1);
    munmap(shm, sizeof *shm);
    tu_recs_free(&old_recs);
    tu_recs_free(&new_recs);
    m_free(&m);
}
END_TEST

/* ---- a reader while compaction and retention run in other threads ---- */

enum { CK = 20, CROUNDS = 150 };

typedef struct conc {
    cano_t *db;
    cano_topic_t *t;
    atomic_int rounds_done;
    atomic_bool writer_done, maint_done;
    atomic_int errors;
    char err[256];
    pthread_mutex_t err_lock;
    atomic_long scans_complete, scans_restarted;
    long maint_runs;
} conc;

static void conc_error(conc *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void conc_error(conc *s, const char *fmt, ...)
{
    pthread_mutex_lock(&s->err_lock);
    if (atomic_fetch_add(&s->errors, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err, sizeof s->err, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&s->err_lock);
}

static void *conc_writer(void *arg)
{
    conc *s = arg;
    for (int r = 0; r < CROUNDS && !atomic_load(&s->errors); r++) {
        for (int k = 0; k < CK; k++) {
            char key[16], val[32];
            snprintf(key, sizeof key, "k%d", k);
            snprintf(val, sizeof val, "r%d-k%d", r, k);
            cano_record rec = tu_rec(key, val, T0 + r);
            int64_t off;
            int rc = cano_append(s->t, 0, &rec, NULL, &off);
            if (rc != CANO_OK || off != (int64_t)r * CK + k) {
                conc_error(s, "append r%d k%d: rc %d off %" PRId64, r, k, rc,
                           off);
                break;
            }
        }
        atomic_store(&s->rounds_done, r + 1);
        if (r % 10 == 0)
            tu_sleep_ms(1);
    }
    atomic_store(&s->writer_done, true);
    return NULL;
}

static void maint_once(conc *s)
{
    int rc = cano_compact(s->t, 0);
    if (rc != CANO_OK)
        conc_error(s, "compact: %d (%s)", rc, cano_last_errmsg());
    rc = cano_maintain(s->db);
    if (rc != CANO_OK)
        conc_error(s, "maintain: %d (%s)", rc, cano_last_errmsg());
    int done = atomic_load(&s->rounds_done);
    if (done >= 2) {
        /* Only records every key has a newer one of. */
        rc = cano_delete_records(s->t, 0, (int64_t)(done - 1) * CK);
        if (rc != CANO_OK)
            conc_error(s, "delete_records: %d (%s)", rc, cano_last_errmsg());
    }
    s->maint_runs++;
}

static void *conc_maint(void *arg)
{
    conc *s = arg;
    while (!atomic_load(&s->writer_done) && !atomic_load(&s->errors))
        maint_once(s);
    maint_once(s);
    atomic_store(&s->maint_done, true);
    return NULL;
}

/* Checks one record of a scan; updates the per-key rounds seen. */
static bool conc_check(conc *s, int64_t offset, const void *key,
                       size_t key_len, const void *val, size_t val_len,
                       int64_t *last, int *seen)
{
    if (offset <= *last) {
        conc_error(s, "offset %" PRId64 " after %" PRId64, offset, *last);
        return false;
    }
    *last = offset;
    int r = (int)(offset / CK), k = (int)(offset % CK);
    char want_k[16], want_v[32];
    snprintf(want_k, sizeof want_k, "k%d", k);
    snprintf(want_v, sizeof want_v, "r%d-k%d", r, k);
    if (!key || key_len != strlen(want_k) || memcmp(key, want_k, key_len) ||
        !val || val_len != strlen(want_v) || memcmp(val, want_v, val_len)) {
        conc_error(s, "offset %" PRId64 ": wrong record", offset);
        return false;
    }
    seen[k] = r;
    return true;
}

static void conc_scan_end(conc *s, int c0, const int *seen)
{
    for (int k = 0; k < CK; k++)
        if (c0 >= 1 && seen[k] < c0 - 1)
            conc_error(s, "scan from round %d: key %d last seen in round %d",
                       c0, k, seen[k]);
    s->scans_complete++;
}

/* One scan with a reader: 1 when complete, 0 when restarted, -1 error. */
static int conc_scan_reader(conc *s)
{
    int c0 = atomic_load(&s->rounds_done);
    int seen[CK];
    for (int k = 0; k < CK; k++)
        seen[k] = -1;
    cano_reader_t *r = NULL;
    int rc = cano_reader_open(s->t, 0, CANO_OFFSET_EARLIEST, &r);
    if (rc == CANO_EOFFSET)
        return 0;           /* the start moved between resolve and check */
    if (rc != CANO_OK) {
        conc_error(s, "reader_open: %d (%s)", rc, cano_last_errmsg());
        return -1;
    }
    int64_t last = -1;
    cano_record rec;
    while ((rc = cano_reader_next(r, &rec, 0)) == CANO_OK) {
        if (!conc_check(s, rec.offset, rec.key, rec.key_len, rec.value,
                        rec.value_len, &last, seen)) {
            cano_reader_close(r);
            return -1;
        }
    }
    int64_t pos = cano_reader_position(r);
    cano_reader_close(r);
    if (rc == CANO_EOFFSET) {
        cano_partition_info pi = tu_stat(s->t, 0);
        if (pos >= pi.start_offset) {
            conc_error(s, "EOFFSET at %" PRId64 ", start %" PRId64, pos,
                       pi.start_offset);
            return -1;
        }
        return 0;
    }
    if (rc != CANO_ETIMEDOUT) {
        conc_error(s, "reader_next: %d (%s)", rc, cano_last_errmsg());
        return -1;
    }
    conc_scan_end(s, c0, seen);
    return 1;
}

typedef struct scan_ctx {
    conc *s;
    int64_t last;
    int *seen;
    bool bad;
} scan_ctx;

static int conc_read_cb(void *ctx, const cano_record *rec)
{
    scan_ctx *x = ctx;
    if (!conc_check(x->s, rec->offset, rec->key, rec->key_len, rec->value,
                    rec->value_len, &x->last, x->seen)) {
        x->bad = true;
        return 1;
    }
    return 0;
}

/* One scan with cano_read in chunks. */
static int conc_scan_read(conc *s)
{
    int c0 = atomic_load(&s->rounds_done);
    int seen[CK];
    for (int k = 0; k < CK; k++)
        seen[k] = -1;
    scan_ctx x = { s, -1, seen, false };
    int64_t pos = tu_stat(s->t, 0).start_offset;
    for (;;) {
        int rc = cano_read(s->t, 0, pos, 37, conc_read_cb, &x);
        if (x.bad)
            return -1;
        if (rc == CANO_EOFFSET) {
            if (pos >= tu_stat(s->t, 0).start_offset) {
                conc_error(s, "cano_read EOFFSET at %" PRId64, pos);
                return -1;
            }
            return 0;
        }
        if (rc < 0) {
            conc_error(s, "cano_read: %d (%s)", rc, cano_last_errmsg());
            return -1;
        }
        if (rc == 0)
            break;
        pos = x.last + 1;
    }
    conc_scan_end(s, c0, seen);
    return 1;
}

static void *conc_reader(void *arg)
{
    conc *s = arg;
    for (long i = 0; !atomic_load(&s->errors); i++) {
        bool finished = atomic_load(&s->maint_done) &&
                        atomic_load(&s->writer_done);
        int rc = i % 2 ? conc_scan_read(s) : conc_scan_reader(s);
        if (rc < 0)
            break;
        if (rc == 0)
            s->scans_restarted++;
        if (rc == 1 && finished)
            break;
    }
    return NULL;
}

START_TEST(test_compact_reader_during_compaction_and_retention)
{
    conc *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->err_lock, NULL);
    s->db = open_map(store, _i == 0 ? 0 : 256);
    cano_topic_config c = ccfg(1, 600);
    c.cleanup_policy = CANO_CLEANUP_COMPACT | CANO_CLEANUP_DELETE;
    c.retention_ms = -1;
    c.retention_bytes = -1;
    c.min_cleanable_dirty_ratio = 0.0;
    s->t = tu_create(s->db, "c", &c);
    pthread_t w, mt, rd[2];
    ck_assert_int_eq(pthread_create(&w, NULL, conc_writer, s), 0);
    ck_assert_int_eq(pthread_create(&mt, NULL, conc_maint, s), 0);
    ck_assert_int_eq(pthread_create(&rd[0], NULL, conc_reader, s), 0);
    ck_assert_int_eq(pthread_create(&rd[1], NULL, conc_reader, s), 0);
    pthread_join(w, NULL);
    pthread_join(mt, NULL);
    pthread_join(rd[0], NULL);
    pthread_join(rd[1], NULL);
    ck_assert_msg(atomic_load(&s->errors) == 0, "%d errors; first: %s",
                  atomic_load(&s->errors), s->err);
    ck_assert_int_eq(atomic_load(&s->rounds_done), CROUNDS);
    ck_assert_int_gt(s->scans_complete, 0);

    /* Final state: the start is at the last round, whose records all
     * survive. */
    cano_partition_info pi = tu_stat(s->t, 0);
    ck_assert_int_eq(pi.start_offset, (int64_t)(CROUNDS - 1) * CK);
    ck_assert_int_eq(pi.end_offset, (int64_t)CROUNDS * CK);
    tu_recs got = { 0 };
    read_all_ok(s->t, 0, &got);
    ck_assert_uint_eq(got.n, CK);
    for (int k = 0; k < CK; k++) {
        char key[16], val[32];
        snprintf(key, sizeof key, "k%d", k);
        snprintf(val, sizeof val, "r%d-k%d", CROUNDS - 1, k);
        ck_assert_int_eq(got.v[k].offset, (int64_t)(CROUNDS - 1) * CK + k);
        tu_assert_kv(&got.v[k], key, val);
    }
    tu_recs_free(&got);
    ck_assert_int_eq(cano_close(s->db), CANO_OK);
    pthread_mutex_destroy(&s->err_lock);
    free(s);
}
END_TEST

Suite *compact_suite(void)
{
    Suite *s = suite_create("compact");
    TCase *tc = tcase_create("basics");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_compact_latest_value_survives_offsets_kept);
    tcase_add_test(tc, test_compact_keeps_headers_and_timestamps);
    tcase_add_loop_test(tc, test_compact_tombstone_lifetime, 0, 2);
    tcase_add_test(tc, test_compact_tombstone_horizon_starts_at_first_cleaning);
    tcase_add_loop_test(tc, test_compact_min_compaction_lag, 0, 2);
    tcase_add_test(tc, test_compact_keyless_refused);
    tcase_add_test(tc, test_compact_refused_on_non_compacted_topic);
    tcase_add_loop_test(tc, test_compact_maintain_respects_dirty_ratio, 0, 3);
    tcase_add_loop_test(tc, test_compact_maintain_max_compaction_lag, 0, 2);
    tcase_add_test(tc, test_compact_background_maintenance);
    tcase_add_test(tc, test_compact_merges_segments);
    tcase_add_test(tc, test_compact_multi_record_batch_keeps_every_survivor);
    tcase_add_test(tc, test_compact_compressed_batches);
    tcase_add_test(tc, test_compact_one_partition_only);
    tcase_add_test(tc, test_compact_with_delete_records);
    tcase_add_test(tc, test_compact_reader_across_compaction);
    suite_add_tcase(s, tc);

    tc = tcase_create("keymap");
    tcase_add_checked_fixture(tc, setup_fast, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_compact_tiny_map_matches_big_map, 0, 6);
    suite_add_tcase(s, tc);

    tc = tcase_create("large");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_compact_200k_records_1000_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("crash");
    tcase_add_checked_fixture(tc, setup_fast, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_compact_crash_at_every_step, 0, 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("concurrent");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_compact_reader_during_compaction_and_retention,
                        0, 2);
    suite_add_tcase(s, tc);
    return s;
}
