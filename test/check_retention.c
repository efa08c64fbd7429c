/* check_retention.c - time and size retention (cano_maintain with
 * CANO_CLEANUP_DELETE), cano_delete_records, the persisted log start, and a
 * crash at every I/O step of a retention delete.
 *
 * Record timestamps are set explicitly (hours in the past, or a second ago)
 * so that nothing depends on sleeping or on how fast the test runs.  With
 * segment_bytes 1 every record gets a segment of its own; with segment_bytes
 * 3 * B (B = the encoded size of one single-record batch of equal-sized
 * records) every segment holds exactly three records. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
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
    ck_assert_int_eq(tu_mkdtemp(dir, sizeof dir), 0);
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

#define HOUR_MS 3600000LL
#define T0 1600000000000LL

static cano_t *open_none(const char *path)
{
    return tu_open_opts(path, CANO_SYNC_NONE);
}

/* Topic config: DELETE policy, retention as given. */
static cano_topic_config rcfg(int32_t partitions, int64_t segment_bytes,
                              int64_t retention_ms, int64_t retention_bytes)
{
    cano_topic_config c = tu_config(partitions, segment_bytes);
    c.cleanup_policy = CANO_CLEANUP_DELETE;
    c.retention_ms = retention_ms;
    c.retention_bytes = retention_bytes;
    return c;
}

static void maintain_ok(cano_t *db)
{
    int rc = cano_maintain(db);
    ck_assert_msg(rc == CANO_OK, "cano_maintain = %d (%s)", rc,
                  cano_last_errmsg());
}

/* Record i: key "k%03d", value "v%03d" (equal sizes for i < 1000). */
static cano_record rec_i(int i, int64_t ts, char *k, char *v)
{
    snprintf(k, 8, "k%03d", i);
    snprintf(v, 8, "v%03d", i);
    return tu_rec(k, v, ts);
}

static void append_i(cano_topic_t *t, int32_t p, int i, int64_t ts)
{
    char k[8], v[8];
    cano_record r = rec_i(i, ts, k, v);
    int64_t off = -100;
    int rc = cano_append(t, p, &r, NULL, &off);
    ck_assert_msg(rc == CANO_OK, "append %d = %d (%s)", i, rc,
                  cano_last_errmsg());
    ck_assert_int_eq(off, i);
}

/* Encoded size of one record's batch (all records have this size). */
static int64_t batch_bytes(void)
{
    char k[8], v[8];
    cano_record r = rec_i(0, T0, k, v);
    return tu_batch_size(&r, 1, NULL);
}

/* Reads from `from` to the end; checks offsets from..end-1 are records
 * from..end-1 with the given timestamps (ts[i], or skipped when NULL). */
static void assert_range(cano_topic_t *t, int32_t p, int64_t from, int64_t end,
                         const int64_t *ts)
{
    tu_recs got = { 0 };
    int rc = tu_read_all(t, p, from, &got);
    ck_assert_msg(rc == CANO_OK, "read from %" PRId64 ": %d (%s)", from, rc,
                  cano_last_errmsg());
    ck_assert_msg(got.n == (size_t)(end - from), "%zu records from %" PRId64
                  ", expected %" PRId64, got.n, from, end - from);
    for (size_t i = 0; i < got.n; i++) {
        int64_t o = from + (int64_t)i;
        ck_assert_int_eq(got.v[i].offset, o);
        char k[8], v[8];
        snprintf(k, sizeof k, "k%03d", (int)o);
        snprintf(v, sizeof v, "v%03d", (int)o);
        tu_assert_kv(&got.v[i], k, v);
        if (ts)
            ck_assert_int_eq(got.v[i].timestamp, ts[o]);
    }
    tu_recs_free(&got);
}

static void assert_eoffset(cano_topic_t *t, int32_t p, int64_t offset)
{
    tu_recs got = { 0 };
    int rc = cano_read(t, p, offset, 10, tu_collect, &got);
    ck_assert_msg(rc == CANO_EOFFSET, "read at %" PRId64 " = %d, expected "
                  "CANO_EOFFSET", offset, rc);
    ck_assert_uint_eq(got.n, 0);
    cano_reader_t *r = (cano_reader_t *)1;
    ck_assert_int_eq(cano_reader_open(t, p, offset, &r), CANO_EOFFSET);
    ck_assert_ptr_null(r);
}

static bool seg_files_exist(const char *st, const char *topic, int32_t p,
                            int64_t base, int *how_many)
{
    static const char *const ext[] = { ".log", ".index", ".timeindex" };
    int n = 0;
    for (int i = 0; i < 3; i++) {
        char path[TU_PATH_MAX];
        n += tu_exists(tu_seg_path(path, st, topic, p, base, ext[i]));
    }
    if (how_many)
        *how_many = n;
    return n == 3;
}

/* Segment bases on disk must be exactly want[0..n). */
static void assert_bases(const char *st, const char *topic, int32_t p,
                         const int64_t *want, int n)
{
    int64_t *b;
    int got = tu_segment_bases(st, topic, p, &b);
    ck_assert_msg(got == n, "%d segments on disk, expected %d", got, n);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(b[i], want[i]);
        ck_assert_msg(seg_files_exist(st, topic, p, b[i], NULL),
                      "segment %" PRId64 " lacks an index file", b[i]);
    }
    free(b);
}

/* No .index / .timeindex without its .log. */
static void assert_no_orphans(const char *st, const char *topic, int32_t p)
{
    char pd[TU_PATH_MAX];
    tu_names l;
    ck_assert_int_eq(tu_list_dir(tu_part_dir(pd, st, topic, p), &l), 0);
    for (size_t i = 0; i < l.n; i++) {
        size_t len = strlen(l.v[i]);
        if (len < 20)
            continue;
        const char *ext = l.v[i] + 20;
        if (strcmp(ext, ".index") && strcmp(ext, ".timeindex"))
            continue;
        char log[64];
        snprintf(log, sizeof log, "%.20s.log", l.v[i]);
        ck_assert_msg(tu_names_has(&l, log), "%s without %s", l.v[i], log);
    }
    tu_names_free(&l);
}

static void bases_range(int64_t *out, int64_t first, int64_t step, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = first + step * i;
}

/* ---- time ---- */

START_TEST(test_retention_time_exact_survivors)
{
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 1, HOUR_MS, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    int64_t now = tu_now_ms(), ts[15];
    for (int i = 0; i < 15; i++) {
        ts[i] = i < 10 ? now - 3 * HOUR_MS + i : now - 1000 + i;
        append_i(t, 0, i, ts[i]);
    }
    ck_assert_int_eq(tu_stat(t, 0).segments, 15);
    maintain_ok(db);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 10);
    ck_assert_int_eq(pi.end_offset, 15);
    ck_assert_int_eq(pi.segments, 5);
    int64_t want[5];
    bases_range(want, 10, 1, 5);
    assert_bases(store, "r", 0, want, 5);
    for (int b = 0; b < 10; b++) {
        int n;
        seg_files_exist(store, "r", 0, b, &n);
        ck_assert_msg(n == 0, "segment %d: %d files left", b, n);
    }
    assert_range(t, 0, 10, 15, ts);
    assert_eoffset(t, 0, 9);
    assert_eoffset(t, 0, 0);
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, CANO_OFFSET_EARLIEST, &r), CANO_OK);
    ck_assert_int_eq(cano_reader_position(r), 10);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 10);
    cano_reader_close(r);
    int64_t off = -1;
    ck_assert_int_eq(cano_offset_for_time(t, 0, 0, &off), CANO_OK);
    ck_assert_int_eq(off, 10);
    char pd[TU_PATH_MAX], path[TU_PATH_MAX];
    ck_assert(tu_exists(tu_path(path, "%s/log-start-offset",
                                tu_part_dir(pd, store, "r", 0))));

    /* Again: nothing more has expired. */
    maintain_ok(db);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 10);
    ck_assert_int_eq(tu_stat(t, 0).segments, 5);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* Only a prefix goes: an old segment after a young one stays. */
START_TEST(test_retention_time_prefix_only)
{
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 1, HOUR_MS, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    int64_t now = tu_now_ms(), old = now - 5 * HOUR_MS, young = now - 1000;
    int64_t ts[7] = { old, old, young, old, old, young, old };
    for (int i = 0; i < 7; i++)
        append_i(t, 0, i, ts[i]);
    maintain_ok(db);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 2);
    int64_t want[5];
    bases_range(want, 2, 1, 5);
    assert_bases(store, "r", 0, want, 5);
    assert_range(t, 0, 2, 7, ts);
    assert_eoffset(t, 0, 1);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* The active segment is kept even when everything in it has expired. */
START_TEST(test_retention_time_active_segment_kept)
{
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 1, HOUR_MS, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    int64_t now = tu_now_ms(), ts[7];
    for (int i = 0; i < 5; i++) {
        ts[i] = now - 10 * HOUR_MS;
        append_i(t, 0, i, ts[i]);
    }
    maintain_ok(db);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 4);
    ck_assert_int_eq(pi.end_offset, 5);
    ck_assert_int_eq(pi.segments, 1);
    int64_t want[1] = { 4 };
    assert_bases(store, "r", 0, want, 1);
    assert_range(t, 0, 4, 5, ts);
    maintain_ok(db);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 4);
    /* A new record seals segment 4, which then expires. */
    ts[5] = now - 1000;
    append_i(t, 0, 5, ts[5]);
    maintain_ok(db);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 5);
    assert_range(t, 0, 5, 6, ts);
    assert_eoffset(t, 0, 4);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* retention_ms 0: every closed segment has expired. */
START_TEST(test_retention_ms_zero_expires_every_closed_segment)
{
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 1, 0, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    int64_t now = tu_now_ms(), ts[8];
    for (int i = 0; i < 8; i++) {
        ts[i] = now - 1000 + i;
        append_i(t, 0, i, ts[i]);
    }
    maintain_ok(db);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 7);
    ck_assert_int_eq(tu_stat(t, 0).segments, 1);
    assert_range(t, 0, 7, 8, ts);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* Unlimited retention, and a compact-only topic, delete nothing. */
START_TEST(test_retention_unlimited_and_compact_only_keep_everything)
{
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 1, -1, -1);
    cano_topic_t *u = tu_create(db, "u", &c);
    c = rcfg(1, 1, 0, 0);
    c.cleanup_policy = CANO_CLEANUP_COMPACT;
    cano_topic_t *k = tu_create(db, "k", &c);
    int64_t ts[10];
    for (int i = 0; i < 10; i++) {
        ts[i] = T0 + i;
        append_i(u, 0, i, ts[i]);
        append_i(k, 0, i, ts[i]);     /* distinct keys: nothing to compact */
    }
    maintain_ok(db);
    maintain_ok(db);
    ck_assert_int_eq(tu_stat(u, 0).start_offset, 0);
    ck_assert_int_eq(tu_stat(u, 0).segments, 10);
    ck_assert_int_eq(tu_stat(k, 0).start_offset, 0);
    assert_range(u, 0, 0, 10, ts);
    assert_range(k, 0, 0, 10, ts);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* A segment's largest timestamp decides: one young record keeps the whole
 * segment, even with older records after it in offset order. */
START_TEST(test_retention_time_uses_largest_timestamp)
{
    const int64_t B = batch_bytes();
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 3 * B, HOUR_MS, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    int64_t now = tu_now_ms(), old = now - 5 * HOUR_MS, young = now - 1000;
    /* segments [0..2] old, [3..5] one young in the middle, [6..8] old,
     * [9] active */
    int64_t ts[10] = { old, old, old, old, young, old, old, old, old, young };
    for (int i = 0; i < 10; i++)
        append_i(t, 0, i, ts[i]);
    maintain_ok(db);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 3);
    int64_t want[3] = { 3, 6, 9 };
    assert_bases(store, "r", 0, want, 3);
    assert_range(t, 0, 3, 10, ts);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* cleanup_policy DELETE|COMPACT: one cano_maintain applies retention and
 * then compacts what is left (the log start never moves back). */
START_TEST(test_retention_with_compaction_policy)
{
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 1, HOUR_MS, -1);
    c.cleanup_policy = CANO_CLEANUP_DELETE | CANO_CLEANUP_COMPACT;
    c.min_cleanable_dirty_ratio = 0.0;
    cano_topic_t *t = tu_create(db, "r", &c);
    int64_t now = tu_now_ms();
    /* keys cycle over 3; records 0..5 expired */
    char keys[12][8], vals[12][8];
    int64_t ts[12];
    for (int i = 0; i < 12; i++) {
        snprintf(keys[i], 8, "k%d", i % 3);
        snprintf(vals[i], 8, "v%d", i);
        ts[i] = i < 6 ? now - 2 * HOUR_MS : now - 1000 + i;
        cano_record r = tu_rec(keys[i], vals[i], ts[i]);
        int64_t off;
        ck_assert_int_eq(cano_append(t, 0, &r, NULL, &off), CANO_OK);
        ck_assert_int_eq(off, i);
    }
    maintain_ok(db);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 6);
    ck_assert_int_eq(pi.cleaned_offset, 11);
    /* from 6: the latest of each key below 11 (8, 9, 10), then 11 */
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 6, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 4);
    for (int j = 0; j < 4; j++) {
        int o = 8 + j;
        ck_assert_int_eq(got.v[j].offset, o);
        tu_assert_kv(&got.v[j], keys[o], vals[o]);
        ck_assert_int_eq(got.v[j].timestamp, ts[o]);
    }
    tu_recs_free(&got);
    assert_eoffset(t, 0, 5);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- size ---- */

/* _i picks retention_bytes in units of B (the size of one segment):
 * the oldest segments go while what stays is >= retention_bytes. */
START_TEST(test_retention_size_exact)
{
    const int64_t B = batch_bytes();
    const struct { int64_t bytes; int keep; } cases[] = {
        { 0, 1 }, { 1, 1 }, { B, 1 }, { B + 1, 2 }, { 3 * B, 3 },
        { 3 * B + 1, 4 }, { 10 * B - 1, 10 }, { 10 * B, 10 }, { 100 * B, 10 },
    };
    int64_t rb = cases[_i].bytes;
    int keep = cases[_i].keep;
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 1, -1, rb);
    cano_topic_t *t = tu_create(db, "r", &c);
    int64_t ts[10];
    for (int i = 0; i < 10; i++) {
        ts[i] = T0 + i;
        append_i(t, 0, i, ts[i]);
    }
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.bytes, 10 * B);
    ck_assert_int_eq(pi.segments, 10);
    maintain_ok(db);
    pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 10 - keep);
    ck_assert_int_eq(pi.segments, keep);
    ck_assert_int_eq(pi.bytes, keep * B);
    int64_t want[10];
    bases_range(want, 10 - keep, 1, keep);
    assert_bases(store, "r", 0, want, keep);
    assert_range(t, 0, 10 - keep, 10, ts);
    if (keep < 10)
        assert_eoffset(t, 0, 9 - keep);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* Segments of three records; the active one counts toward the size. */
START_TEST(test_retention_size_multi_record_segments)
{
    const int64_t B = batch_bytes();
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 3 * B, -1, 7 * B);
    cano_topic_t *t = tu_create(db, "r", &c);
    for (int i = 0; i < 20; i++)
        append_i(t, 0, i, T0 + i);
    int64_t want[7];
    bases_range(want, 0, 3, 7);
    assert_bases(store, "r", 0, want, 7);      /* 6 full + 2 records active */
    maintain_ok(db);
    /* 20B: drop 3B while >= 7B stays: 17, 14, 11, 8 -> four go. */
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 12);
    ck_assert_int_eq(pi.bytes, 8 * B);
    ck_assert_int_eq(pi.segments, 3);
    assert_bases(store, "r", 0, want + 4, 3);
    assert_range(t, 0, 12, 20, NULL);
    assert_eoffset(t, 0, 11);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* Time and size together: whichever removes more wins. */
START_TEST(test_retention_time_and_size_together)
{
    const int64_t B = batch_bytes();
    int64_t now = tu_now_ms();
    for (int v = 0; v < 2; v++) {
        char sd[TU_PATH_MAX];
        tu_path(sd, "%s/s%d", dir, v);
        cano_t *db = open_none(sd);
        /* v 0: time removes 6, size 3; v 1: time removes 2, size 5. */
        cano_topic_config c = rcfg(1, 1, HOUR_MS, v == 0 ? 7 * B : 5 * B);
        cano_topic_t *t = tu_create(db, "r", &c);
        int old = v == 0 ? 6 : 2;
        for (int i = 0; i < 10; i++)
            append_i(t, 0, i, i < old ? now - 2 * HOUR_MS : now - 1000);
        maintain_ok(db);
        ck_assert_int_eq(tu_stat(t, 0).start_offset, v == 0 ? 6 : 5);
        assert_range(t, 0, v == 0 ? 6 : 5, 10, NULL);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
}
END_TEST

/* Every partition of every topic is handled by one cano_maintain. */
START_TEST(test_retention_all_partitions_and_topics)
{
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(3, 1, HOUR_MS, -1);
    cano_topic_t *a = tu_create(db, "a", &c);
    cano_topic_t *b = tu_create(db, "b", &c);
    int64_t now = tu_now_ms();
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 6; i++) {
            append_i(a, p, i, i < p + 1 ? now - 2 * HOUR_MS : now - 1000);
            append_i(b, p, i, i < 4 ? now - 2 * HOUR_MS : now - 1000);
        }
    maintain_ok(db);
    for (int p = 0; p < 3; p++) {
        ck_assert_int_eq(tu_stat(a, p).start_offset, p + 1);
        ck_assert_int_eq(tu_stat(b, p).start_offset, 4);
        assert_range(a, p, p + 1, 6, NULL);
        assert_range(b, p, 4, 6, NULL);
    }
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* The background thread applies retention (waits at most a minute). */
START_TEST(test_retention_background_maintenance)
{
    cano_options o;
    ck_assert_int_eq(cano_options_init(&o, sizeof o), CANO_OK);
    o.sync_mode = CANO_SYNC_NONE;
    o.maintenance_interval_ms = 20;
    cano_t *db = NULL;
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_OK);
    cano_topic_config c = rcfg(1, 1, HOUR_MS, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    int64_t now = tu_now_ms();
    for (int i = 0; i < 8; i++)
        append_i(t, 0, i, i < 5 ? now - 2 * HOUR_MS : now - 1000);
    for (int w = 0; w < 6000 && tu_stat(t, 0).start_offset != 5; w++)
        tu_sleep_ms(10);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 5);
    assert_range(t, 0, 5, 8, NULL);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- the persisted log start ---- */

static int delete_records_child(void *arg)
{
    const char *path = arg;
    cano_t *db = NULL;
    if (cano_open(path, NULL, &db) != CANO_OK)
        return 10;
    cano_topic_t *t = NULL;
    if (cano_topic_open(db, "r", &t) != CANO_OK)
        return 11;
    if (cano_delete_records(t, 0, 17) != CANO_OK)
        return 12;
    return 0;                       /* exits without closing */
}

START_TEST(test_retention_start_persisted_across_reopen)
{
    const int64_t B = batch_bytes();
    int64_t now = tu_now_ms();
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 3 * B, HOUR_MS, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    for (int i = 0; i < 30; i++)
        append_i(t, 0, i, i < 6 ? now - 2 * HOUR_MS : now - 1000);
    maintain_ok(db);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 6);
    ck_assert_int_eq(cano_close(db), CANO_OK);

    db = open_none(store);
    t = tu_topic(db, "r");
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 6);
    ck_assert_int_eq(pi.end_offset, 30);
    ck_assert_int_eq(pi.segments, 8);
    assert_eoffset(t, 0, 5);
    assert_range(t, 0, 6, 30, NULL);

    /* A start inside a segment is kept exactly, not rounded down. */
    ck_assert_int_eq(cano_delete_records(t, 0, 13), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = open_none(store);
    t = tu_topic(db, "r");
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 13);
    assert_eoffset(t, 0, 12);
    assert_range(t, 0, 13, 30, NULL);
    int64_t want[6];
    bases_range(want, 12, 3, 6);
    assert_bases(store, "r", 0, want, 6);
    ck_assert_int_eq(cano_close(db), CANO_OK);

    /* And after an unclean stop. */
    ck_assert_int_eq(tu_run_child(delete_records_child, store, 0), 0);
    db = open_none(store);
    t = tu_topic(db, "r");
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 17);
    assert_eoffset(t, 0, 16);
    assert_range(t, 0, 17, 30, NULL);
    bases_range(want, 15, 3, 5);
    assert_bases(store, "r", 0, want, 5);
    assert_no_orphans(store, "r", 0);
    /* Appends go on from the end. */
    append_i(t, 0, 30, now);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* A recorded start past the end (a damaged file) deletes nothing, and is
 * replaced at open: it must not take effect later, once appends pass it. */
START_TEST(test_retention_start_past_end_is_replaced)
{
    int64_t now = tu_now_ms();
    cano_t *db = open_none(store);
    cano_topic_t *t = tu_create(db, "r", NULL);
    for (int i = 0; i < 5; i++)
        append_i(t, 0, i, now);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    char path[TU_PATH_MAX];
    const char text[] = "cano-log-start=1\n10\n";
    ck_assert_int_eq(tu_write_file(tu_path(path, "%s/r/0/log-start-offset",
                                           store), text, sizeof text - 1), 0);
    for (int round = 0; round < 2; round++) {
        db = open_none(store);
        t = tu_topic(db, "r");
        ck_assert_int_eq(tu_stat(t, 0).start_offset, 0);
        ck_assert_int_eq(tu_stat(t, 0).end_offset, 5 + 6 * round);
        for (int i = 0; i < 6 && round == 0; i++)
            append_i(t, 0, 5 + i, now);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    db = open_none(store);
    assert_range(tu_topic(db, "r"), 0, 0, 11, NULL);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- cano_delete_records ---- */

START_TEST(test_delete_records_exact)
{
    const int64_t B = batch_bytes();
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 3 * B, -1, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    for (int i = 0; i < 20; i++)
        append_i(t, 0, i, T0 + i);
    int64_t all[7];
    bases_range(all, 0, 3, 7);
    assert_bases(store, "r", 0, all, 7);

    ck_assert_int_eq(cano_delete_records(t, 0, 7), CANO_OK);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 7);
    ck_assert_int_eq(pi.end_offset, 20);
    ck_assert_int_eq(pi.segments, 5);
    assert_bases(store, "r", 0, all + 2, 5);
    for (int b = 0; b < 2; b++) {
        int n;
        seg_files_exist(store, "r", 0, all[b], &n);
        ck_assert_int_eq(n, 0);
    }
    /* 6 is in a kept segment, but below the start. */
    assert_eoffset(t, 0, 6);
    assert_eoffset(t, 0, 0);
    assert_range(t, 0, 7, 20, NULL);
    int64_t off = -1;
    ck_assert_int_eq(cano_offset_for_time(t, 0, 0, &off), CANO_OK);
    ck_assert_int_eq(off, 7);

    /* Smaller or equal: no-op. */
    ck_assert_int_eq(cano_delete_records(t, 0, 5), CANO_OK);
    ck_assert_int_eq(cano_delete_records(t, 0, 0), CANO_OK);
    ck_assert_int_eq(cano_delete_records(t, 0, 7), CANO_OK);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 7);
    assert_bases(store, "r", 0, all + 2, 5);

    /* Past the end: CANO_EOFFSET, nothing changes. */
    ck_assert_int_eq(cano_delete_records(t, 0, 21), CANO_EOFFSET);
    ck_assert_int_eq(cano_delete_records(t, 0, INT64_MAX), CANO_EOFFSET);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 7);
    assert_bases(store, "r", 0, all + 2, 5);

    /* Exactly at a segment base: the segments before it go. */
    ck_assert_int_eq(cano_delete_records(t, 0, 12), CANO_OK);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 12);
    assert_bases(store, "r", 0, all + 4, 3);
    assert_eoffset(t, 0, 11);
    assert_range(t, 0, 12, 20, NULL);

    /* At the end offset: everything sealed goes, the active one stays. */
    ck_assert_int_eq(cano_delete_records(t, 0, 20), CANO_OK);
    pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 20);
    ck_assert_int_eq(pi.end_offset, 20);
    ck_assert_int_eq(pi.segments, 1);
    assert_bases(store, "r", 0, all + 6, 1);
    assert_eoffset(t, 0, 19);
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(t, 0, 20, 10, tu_collect, &got), 0);
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, CANO_OFFSET_EARLIEST, &r), CANO_OK);
    ck_assert_int_eq(cano_reader_position(r), 20);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    append_i(t, 0, 20, T0 + 20);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 20);
    cano_reader_close(r);
    ck_assert_int_eq(cano_offset_for_time(t, 0, 0, &off), CANO_OK);
    ck_assert_int_eq(off, 20);
    ck_assert_int_eq(cano_close(db), CANO_OK);

    db = open_none(store);
    t = tu_topic(db, "r");
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 20);
    ck_assert_int_eq(tu_stat(t, 0).end_offset, 21);
    assert_range(t, 0, 20, 21, NULL);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_delete_records_errors)
{
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(2, 100, -1, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    /* Empty partition: the end is 0. */
    ck_assert_int_eq(cano_delete_records(t, 0, 0), CANO_OK);
    ck_assert_int_eq(cano_delete_records(t, 0, 1), CANO_EOFFSET);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 0);
    for (int i = 0; i < 5; i++)
        append_i(t, 0, i, T0 + i);
    ck_assert_int_eq(cano_delete_records(t, 0, -1), CANO_EINVAL);
    ck_assert_int_eq(cano_delete_records(t, 0, CANO_OFFSET_EARLIEST),
                     CANO_EINVAL);
    ck_assert_int_eq(cano_delete_records(t, 2, 1), CANO_EINVAL);
    ck_assert_int_eq(cano_delete_records(t, -1, 1), CANO_EINVAL);
    ck_assert_int_eq(cano_delete_records(NULL, 0, 1), CANO_EINVAL);
    ck_assert_int_eq(cano_delete_records(t, 1, 1), CANO_EOFFSET);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 0);
    assert_range(t, 0, 0, 5, NULL);
    ck_assert_int_eq(cano_topic_delete(db, "r"), CANO_OK);
    ck_assert_int_eq(cano_delete_records(t, 0, 1), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* Only the partition named moves. */
START_TEST(test_delete_records_one_partition)
{
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(3, 1, -1, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 6; i++)
            append_i(t, p, i, T0 + i);
    ck_assert_int_eq(cano_delete_records(t, 1, 4), CANO_OK);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 0);
    ck_assert_int_eq(tu_stat(t, 1).start_offset, 4);
    ck_assert_int_eq(tu_stat(t, 2).start_offset, 0);
    assert_range(t, 0, 0, 6, NULL);
    assert_range(t, 1, 4, 6, NULL);
    assert_range(t, 2, 0, 6, NULL);
    int64_t want[6];
    bases_range(want, 0, 1, 6);
    assert_bases(store, "r", 0, want, 6);
    assert_bases(store, "r", 1, want + 4, 2);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* A reader whose position falls below the start gets CANO_EOFFSET on its
 * next call, and can seek back in. */
START_TEST(test_delete_records_reader_below_start)
{
    const int64_t B = batch_bytes();
    cano_t *db = open_none(store);
    cano_topic_config c = rcfg(1, 3 * B, -1, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    for (int i = 0; i < 20; i++)
        append_i(t, 0, i, T0 + i);
    cano_reader_t *r = NULL, *r2 = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, 0, &r), CANO_OK);
    ck_assert_int_eq(cano_reader_open(t, 0, 10, &r2), CANO_OK);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 0);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 1);

    ck_assert_int_eq(cano_delete_records(t, 0, 10), CANO_OK);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_EOFFSET);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_EOFFSET);
    ck_assert_int_eq(cano_reader_position(r), 2);
    ck_assert_int_eq(cano_reader_seek(r, 5), CANO_EOFFSET);
    ck_assert_int_eq(cano_reader_seek(r, CANO_OFFSET_EARLIEST), CANO_OK);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 10);
    /* A reader exactly at the start is not disturbed. */
    ck_assert_int_eq(cano_reader_next(r2, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 10);

    /* Both readers are below the next start. */
    ck_assert_int_eq(cano_delete_records(t, 0, 16), CANO_OK);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_EOFFSET);
    ck_assert_int_eq(cano_reader_next(r2, &rec, 0), CANO_EOFFSET);
    ck_assert_int_eq(cano_reader_seek(r2, 16), CANO_OK);
    for (int i = 16; i < 20; i++) {
        ck_assert_int_eq(cano_reader_next(r2, &rec, 0), CANO_OK);
        ck_assert_int_eq(rec.offset, i);
    }
    ck_assert_int_eq(cano_reader_next(r2, &rec, 0), CANO_ETIMEDOUT);
    cano_reader_close(r);
    cano_reader_close(r2);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* A reader in the middle of a segment that time retention deletes. */
START_TEST(test_retention_reader_in_deleted_segment)
{
    cano_t *db = open_none(store);
    const int64_t B = batch_bytes();
    cano_topic_config c = rcfg(1, 3 * B, HOUR_MS, -1);
    cano_topic_t *t = tu_create(db, "r", &c);
    int64_t now = tu_now_ms();
    for (int i = 0; i < 12; i++)
        append_i(t, 0, i, i < 6 ? now - 2 * HOUR_MS : now - 1000);
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, 3, &r), CANO_OK);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 3);
    maintain_ok(db);
    ck_assert_int_eq(tu_stat(t, 0).start_offset, 6);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_EOFFSET);
    ck_assert_int_eq(cano_reader_seek(r, CANO_OFFSET_EARLIEST), CANO_OK);
    for (int i = 6; i < 12; i++) {
        ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
        ck_assert_int_eq(rec.offset, i);
        char v[8];
        snprintf(v, sizeof v, "v%03d", i);
        ck_assert_uint_eq(rec.value_len, 4);
        ck_assert_mem_eq(rec.value, v, 4);
    }
    cano_reader_close(r);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- crash at every I/O step of a retention delete ---- */

typedef struct crash_shm {
    int done;
    int rc;
    long ios;
} crash_shm;

typedef struct crash_arg {
    const char *path;
    int op;                 /* 0: cano_maintain, 1: cano_delete_records */
    int64_t before;         /* for op 1 */
    long fail_at;           /* 0: no fault */
    crash_shm *shm;
} crash_arg;

static int retention_child(void *arg)
{
    crash_arg *a = arg;
    cano_t *db = NULL;
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = CANO_SYNC_NONE;
    if (cano_open(a->path, &o, &db) != CANO_OK)
        return 10;
    cano_topic_t *t = NULL;
    if (cano_topic_open(db, "r", &t) != CANO_OK)
        return 11;
    long before = cano__test_io_count();
    if (a->fail_at > 0)
        cano__test_io_fail_after(a->fail_at, EIO, true);
    int rc = a->op == 0 ? cano_maintain(db)
                        : cano_delete_records(t, 0, a->before);
    a->shm->ios = cano__test_io_count() - before;
    a->shm->rc = rc;
    a->shm->done = 1;
    return 0;                       /* _exit without closing */
}

/* Checks a store after a crashed retention delete: the start is the old or
 * the new one, every record from the start on is intact, no file of a
 * segment wholly below the start is left. */
static void check_after_crash(const char *path, long step, int64_t new_start,
                              const int64_t *bases, int n_bases, int64_t end)
{
    cano_t *db = open_none(path);
    cano_topic_t *t = tu_topic(db, "r");
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_msg(pi.start_offset == 0 || pi.start_offset == new_start,
                  "step %ld: start %" PRId64, step, pi.start_offset);
    ck_assert_int_eq(pi.end_offset, end);
    assert_range(t, 0, pi.start_offset, end, NULL);
    if (pi.start_offset > 0)
        assert_eoffset(t, 0, pi.start_offset - 1);
    int kept = 0;
    for (int i = 0; i < n_bases; i++) {
        int64_t next = i + 1 < n_bases ? bases[i + 1] : INT64_MAX;
        int nf;
        seg_files_exist(path, "r", 0, bases[i], &nf);
        if (next <= pi.start_offset)
            ck_assert_msg(nf == 0, "step %ld: segment %" PRId64 " below the "
                          "start %" PRId64 " has %d files", step, bases[i],
                          pi.start_offset, nf);
        else {
            ck_assert_msg(nf == 3, "step %ld: segment %" PRId64 " has %d "
                          "files", step, bases[i], nf);
            kept++;
        }
    }
    ck_assert_int_eq(pi.segments, kept);
    assert_no_orphans(path, "r", 0);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}

/* _i = 0: time retention by cano_maintain; 1: cano_delete_records inside a
 * segment; 2: size retention by cano_maintain. */
START_TEST(test_retention_crash_at_every_step)
{
    const int64_t B = batch_bytes();
    char pristine[TU_PATH_MAX], work[TU_PATH_MAX];
    tu_path(pristine, "%s/pristine", dir);
    tu_path(work, "%s/work", dir);
    int64_t now = tu_now_ms(), end = 30, new_start;
    {
        cano_t *db = open_none(pristine);
        cano_topic_config c = _i == 0 ? rcfg(1, 1, HOUR_MS, -1)
                            : _i == 1 ? rcfg(1, 3 * B, -1, -1)
                                      : rcfg(1, 2 * B, -1, 9 * B);
        cano_topic_t *t = tu_create(db, "r", &c);
        for (int i = 0; i < end; i++)
            append_i(t, 0, i, i < 20 ? now - 2 * HOUR_MS : now - 1000);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    /* 0: 20 old one-record segments go; 1: start 25 (segments 0..21 go);
     * 2: 15 segments of 2B, keep >= 9B: 5 segments (10B) stay. */
    new_start = _i == 0 ? 20 : _i == 1 ? 25 : 20;
    int64_t *bases;
    int n_bases = tu_segment_bases(pristine, "r", 0, &bases);
    ck_assert_int_eq(n_bases, _i == 0 ? 30 : _i == 1 ? 10 : 15);

    crash_shm *shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(shm != MAP_FAILED);
    crash_arg arg = { work, _i == 1, new_start, 0, shm };

    ck_assert_int_eq(tu_copytree(pristine, work), 0);
    memset(shm, 0, sizeof *shm);
    ck_assert_int_eq(tu_run_child(retention_child, &arg, 0), 0);
    ck_assert(shm->done);
    ck_assert_int_eq(shm->rc, CANO_OK);
    long total = shm->ios;
    ck_assert_int_gt(total, 5);
    check_after_crash(work, 0, new_start, bases, n_bases, end);
    tu_rmtree(work);

    long n;
    for (n = 1; n <= total + 1; n++) {
        ck_assert_int_eq(tu_copytree(pristine, work), 0);
        memset(shm, 0, sizeof *shm);
        arg.fail_at = n;
        ck_assert_int_eq(tu_run_child(retention_child, &arg, 0), 0);
        ck_assert_msg(shm->done, "step %ld: the child did not finish", n);
        bool hit = shm->ios >= n;
        if (!hit)
            ck_assert_msg(shm->rc == CANO_OK, "step %ld: rc %d", n, shm->rc);
        check_after_crash(work, n, new_start, bases, n_bases, end);

        /* Running it again finishes the job exactly. */
        cano_t *db = open_none(work);
        cano_topic_t *t = tu_topic(db, "r");
        int rc = _i == 1 ? cano_delete_records(t, 0, new_start)
                         : cano_maintain(db);
        ck_assert_msg(rc == CANO_OK, "step %ld: rerun: %d (%s)", n, rc,
                      cano_last_errmsg());
        ck_assert_int_eq(tu_stat(t, 0).start_offset, new_start);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        check_after_crash(work, n, new_start, bases, n_bases, end);
        tu_rmtree(work);
        if (!hit)
            break;
    }
    ck_assert_int_eq(n, total + 1);
    free(bases);
    munmap(shm, sizeof *shm);
}
END_TEST

Suite *retention_suite(void)
{
    Suite *s = suite_create("retention");
    TCase *tc = tcase_create("time_size");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_retention_time_exact_survivors);
    tcase_add_test(tc, test_retention_time_prefix_only);
    tcase_add_test(tc, test_retention_time_uses_largest_timestamp);
    tcase_add_test(tc, test_retention_with_compaction_policy);
    tcase_add_test(tc, test_retention_time_active_segment_kept);
    tcase_add_test(tc, test_retention_ms_zero_expires_every_closed_segment);
    tcase_add_test(tc,
                   test_retention_unlimited_and_compact_only_keep_everything);
    tcase_add_loop_test(tc, test_retention_size_exact, 0, 9);
    tcase_add_test(tc, test_retention_size_multi_record_segments);
    tcase_add_test(tc, test_retention_time_and_size_together);
    tcase_add_test(tc, test_retention_all_partitions_and_topics);
    tcase_add_test(tc, test_retention_background_maintenance);
    tcase_add_test(tc, test_retention_reader_in_deleted_segment);
    suite_add_tcase(s, tc);

    tc = tcase_create("delete_records");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_retention_start_persisted_across_reopen);
    tcase_add_test(tc, test_retention_start_past_end_is_replaced);
    tcase_add_test(tc, test_delete_records_exact);
    tcase_add_test(tc, test_delete_records_errors);
    tcase_add_test(tc, test_delete_records_one_partition);
    tcase_add_test(tc, test_delete_records_reader_below_start);
    suite_add_tcase(s, tc);

    tc = tcase_create("crash");
    tcase_add_checked_fixture(tc, setup_fast, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_retention_crash_at_every_step, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
