/* check_read.c - cano_read, readers, time lookup, segments and partition
 * state. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"

static char dir[64];
static char store[TU_PATH_MAX];
static cano_t *db;

static void setup(void)
{
    ck_assert_int_eq(tu_mkdtemp_fast(dir, sizeof dir), 0);
    tu_path(store, "%s/store", dir);
    db = tu_open(store);
}

static void teardown(void)
{
    cano_close(db);
    db = NULL;
    tu_rmtree(dir);
}

static void reopen(void)
{
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = tu_open(store);
}

/* n records "k<i>" / "v<i>" with timestamp 1000 + i. */
static cano_topic_t *topic_with(const char *name, int n, int64_t seg_bytes)
{
    cano_topic_config c = tu_config(1, seg_bytes);
    cano_topic_t *t = tu_create(db, name, &c);
    for (int i = 0; i < n; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        ck_assert_int_eq(tu_append_kv(t, 0, k, v, 1000 + i), i);
    }
    return t;
}

static void assert_rec_i(const tu_rec_copy *c, int64_t i)
{
    char k[32], v[32];
    snprintf(k, sizeof k, "k%" PRId64, i);
    snprintf(v, sizeof v, "v%" PRId64, i);
    ck_assert_int_eq(c->offset, i);
    ck_assert_int_eq(c->timestamp, 1000 + i);
    tu_assert_kv(c, k, v);
}

START_TEST(test_read_counts_and_max_records)
{
    cano_topic_t *t = topic_with("t", 10, 0);
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(t, 0, 0, 100, tu_collect, &got), 10);
    ck_assert_uint_eq(got.n, 10);
    for (int i = 0; i < 10; i++)
        assert_rec_i(&got.v[i], i);
    tu_recs_free(&got);
    ck_assert_int_eq(cano_read(t, 0, 3, 4, tu_collect, &got), 4);
    ck_assert_uint_eq(got.n, 4);
    for (int i = 0; i < 4; i++)
        assert_rec_i(&got.v[i], 3 + i);
    tu_recs_free(&got);
    ck_assert_int_eq(cano_read(t, 0, 9, 4, tu_collect, &got), 1);
    assert_rec_i(&got.v[0], 9);
    tu_recs_free(&got);
    ck_assert_int_eq(cano_read(t, 0, 0, 1, tu_collect, &got), 1);
    assert_rec_i(&got.v[0], 0);
    tu_recs_free(&got);
    ck_assert_int_eq(cano_read(t, 0, 0, SIZE_MAX, tu_collect, &got), 10);
    tu_recs_free(&got);
}
END_TEST

START_TEST(test_read_callback_stop_counts_the_stopping_call)
{
    cano_topic_t *t = topic_with("t", 10, 0);
    for (int stop = 1; stop <= 10; stop++) {
        tu_recs got = { 0 };
        got.stop_after = stop;
        ck_assert_int_eq(cano_read(t, 0, 0, 100, tu_collect, &got), stop);
        ck_assert_uint_eq(got.n, (size_t)stop);
        assert_rec_i(&got.v[stop - 1], stop - 1);
        tu_recs_free(&got);
    }
    /* max_records and the stop agree. */
    tu_recs got = { 0 };
    got.stop_after = 3;
    ck_assert_int_eq(cano_read(t, 0, 5, 3, tu_collect, &got), 3);
    tu_recs_free(&got);
}
END_TEST

START_TEST(test_read_end_and_out_of_range)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(t, 0, 0, 10, tu_collect, &got), 0);
    ck_assert_int_eq(cano_read(t, 0, 1, 10, tu_collect, &got), CANO_EOFFSET);
    ck_assert_uint_eq(got.n, 0);
    t = topic_with("u", 5, 0);
    ck_assert_int_eq(cano_read(t, 0, 5, 10, tu_collect, &got), 0);
    ck_assert_int_eq(cano_read(t, 0, 6, 10, tu_collect, &got), CANO_EOFFSET);
    ck_assert_int_eq(cano_read(t, 0, 1000000, 10, tu_collect, &got),
                     CANO_EOFFSET);
    ck_assert_int_eq(cano_read(t, 0, INT64_MAX, 10, tu_collect, &got),
                     CANO_EOFFSET);
    const int64_t neg[] = { -1, -2, -3, INT64_MIN };
    for (size_t i = 0; i < 4; i++) {
        int rc = cano_read(t, 0, neg[i], 10, tu_collect, &got);
        ck_assert_msg(rc == CANO_EOFFSET || rc == CANO_EINVAL,
                      "offset %" PRId64 ": rc %d", neg[i], rc);
    }
    ck_assert_uint_eq(got.n, 0);
    reopen();
    t = tu_topic(db, "u");
    ck_assert_int_eq(cano_read(t, 0, 5, 10, tu_collect, &got), 0);
    ck_assert_int_eq(cano_read(t, 0, 6, 10, tu_collect, &got), CANO_EOFFSET);
}
END_TEST

START_TEST(test_read_bad_args)
{
    cano_topic_t *t = topic_with("t", 3, 0);
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(NULL, 0, 0, 10, tu_collect, &got), CANO_EINVAL);
    ck_assert_int_eq(cano_read(t, 0, 0, 10, NULL, NULL), CANO_EINVAL);
    cano_partition_info pi;
    pi.size = sizeof pi;
    ck_assert_int_eq(cano_partition_stat(NULL, 0, &pi), CANO_EINVAL);
    ck_assert_int_eq(cano_partition_stat(t, 0, NULL), CANO_EINVAL);
    int64_t off;
    ck_assert_int_eq(cano_offset_for_time(NULL, 0, 0, &off), CANO_EINVAL);
    ck_assert_int_eq(cano_offset_for_time(t, 0, 0, NULL), CANO_EINVAL);
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(NULL, 0, 0, &r), CANO_EINVAL);
    ck_assert_int_eq(cano_reader_open(t, 0, 0, NULL), CANO_EINVAL);
    r = (cano_reader_t *)0x1;
    int rc = cano_reader_open(t, 0, -3, &r);
    ck_assert(rc == CANO_EINVAL || rc == CANO_EOFFSET);
    ck_assert_ptr_null(r);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(NULL, &rec, 0), CANO_EINVAL);
    ck_assert_int_eq(cano_reader_seek(NULL, 0), CANO_EINVAL);
    ck_assert_int_lt(cano_reader_position(NULL), 0);
    cano_reader_close(NULL);
    ck_assert_int_eq(cano_reader_open(t, 0, 0, &r), CANO_OK);
    ck_assert_int_eq(cano_reader_next(r, NULL, 0), CANO_EINVAL);
    cano_reader_close(r);
}
END_TEST

static void next_ok(cano_reader_t *r, int64_t i)
{
    cano_record rec;
    memset(&rec, 0, sizeof rec);
    int rc = cano_reader_next(r, &rec, 0);
    ck_assert_msg(rc == CANO_OK, "reader_next for %" PRId64 ": %d", i, rc);
    tu_recs c = { 0 };
    tu_recs_push(&c, &rec);
    assert_rec_i(&c.v[0], i);
    ck_assert_int_eq(c.v[0].partition, 0);
    tu_recs_free(&c);
    ck_assert_int_eq(cano_reader_position(r), i + 1);
}

START_TEST(test_reader_open_positions)
{
    cano_topic_t *t = topic_with("t", 5, 0);
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, CANO_OFFSET_EARLIEST, &r),
                     CANO_OK);
    ck_assert_int_eq(cano_reader_position(r), 0);
    for (int i = 0; i < 5; i++)
        next_ok(r, i);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    ck_assert_int_eq(cano_reader_position(r), 5);
    ck_assert_int_eq(cano_reader_next(r, &rec, 20), CANO_ETIMEDOUT);
    ck_assert_int_eq(tu_append_kv(t, 0, "k5", "v5", 1005), 5);
    next_ok(r, 5);
    cano_reader_close(r);

    ck_assert_int_eq(cano_reader_open(t, 0, CANO_OFFSET_LATEST, &r), CANO_OK);
    ck_assert_int_eq(cano_reader_position(r), 6);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    ck_assert_int_eq(tu_append_kv(t, 0, "k6", "v6", 1006), 6);
    next_ok(r, 6);
    cano_reader_close(r);

    ck_assert_int_eq(cano_reader_open(t, 0, 3, &r), CANO_OK);
    ck_assert_int_eq(cano_reader_position(r), 3);
    next_ok(r, 3);
    next_ok(r, 4);
    cano_reader_close(r);

    ck_assert_int_eq(cano_reader_open(t, 0, 7, &r), CANO_OK);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    cano_reader_close(r);

    r = (cano_reader_t *)0x1;
    ck_assert_int_eq(cano_reader_open(t, 0, 8, &r), CANO_EOFFSET);
    ck_assert_ptr_null(r);

    /* An empty partition. */
    cano_topic_t *e = tu_create(db, "empty", NULL);
    ck_assert_int_eq(cano_reader_open(e, 0, CANO_OFFSET_LATEST, &r), CANO_OK);
    ck_assert_int_eq(cano_reader_position(r), 0);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    cano_reader_close(r);
    ck_assert_int_eq(cano_reader_open(e, 0, CANO_OFFSET_EARLIEST, &r),
                     CANO_OK);
    ck_assert_int_eq(cano_reader_position(r), 0);
    cano_reader_close(r);
    ck_assert_int_eq(cano_reader_open(e, 0, 0, &r), CANO_OK);
    cano_reader_close(r);
    ck_assert_int_eq(cano_reader_open(e, 0, 1, &r), CANO_EOFFSET);
}
END_TEST

START_TEST(test_reader_seek_and_position)
{
    cano_topic_t *t = topic_with("t", 10, 0);
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, 4, &r), CANO_OK);
    ck_assert_int_eq(cano_reader_seek(r, 1), CANO_OK);
    ck_assert_int_eq(cano_reader_position(r), 1);
    next_ok(r, 1);
    ck_assert_int_eq(cano_reader_seek(r, 9), CANO_OK);
    next_ok(r, 9);
    ck_assert_int_eq(cano_reader_seek(r, CANO_OFFSET_EARLIEST), CANO_OK);
    ck_assert_int_eq(cano_reader_position(r), 0);
    next_ok(r, 0);
    ck_assert_int_eq(cano_reader_seek(r, CANO_OFFSET_LATEST), CANO_OK);
    ck_assert_int_eq(cano_reader_position(r), 10);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    ck_assert_int_eq(cano_reader_seek(r, 10), CANO_OK);
    ck_assert_int_eq(cano_reader_seek(r, 11), CANO_EOFFSET);
    int rc = cano_reader_seek(r, -3);
    ck_assert(rc == CANO_EINVAL || rc == CANO_EOFFSET);
    /* Backwards and forwards again, many times. */
    for (int i = 9; i >= 0; i--) {
        ck_assert_int_eq(cano_reader_seek(r, i), CANO_OK);
        next_ok(r, i);
    }
    cano_reader_close(r);
}
END_TEST

/* A reader keeps working while segments roll under it and after a reopen. */
START_TEST(test_reader_across_segments)
{
    cano_topic_t *t = topic_with("t", 0, 120);
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, CANO_OFFSET_LATEST, &r), CANO_OK);
    for (int i = 0; i < 60; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        tu_append_kv(t, 0, k, v, 1000 + i);
        if (i % 3 == 2)
            for (int j = i - 2; j <= i; j++)
                next_ok(r, j);
    }
    ck_assert_int_gt(tu_stat(t, 0).segments, 10);
    cano_reader_close(r);
    reopen();
    t = tu_topic(db, "t");
    ck_assert_int_eq(cano_reader_open(t, 0, CANO_OFFSET_EARLIEST, &r),
                     CANO_OK);
    for (int i = 0; i < 60; i++)
        next_ok(r, i);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    cano_reader_close(r);
}
END_TEST

START_TEST(test_read_partitions_are_separate)
{
    cano_topic_config c = tu_config(3, 0);
    cano_topic_t *t = tu_create(db, "t", &c);
    for (int i = 0; i < 30; i++) {
        char v[16];
        snprintf(v, sizeof v, "p%d-%d", i % 3, i / 3);
        ck_assert_int_eq(tu_append_kv(t, i % 3, NULL, v, 1 + i), i / 3);
    }
    for (int p = 0; p < 3; p++) {
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(t, p, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, 10);
        for (int i = 0; i < 10; i++) {
            char v[16];
            snprintf(v, sizeof v, "p%d-%d", p, i);
            tu_assert_kv(&got.v[i], NULL, v);
            ck_assert_int_eq(got.v[i].partition, p);
            ck_assert_int_eq(got.v[i].offset, i);
            ck_assert_int_eq(got.v[i].timestamp, 1 + 3 * i + p);
        }
        tu_recs_free(&got);
    }
}
END_TEST

static int64_t brute_offset_for_time(const int64_t *ts, int64_t n, int64_t q)
{
    for (int64_t i = 0; i < n; i++)
        if (ts[i] >= q)
            return i;
    return n;
}

static void assert_offset_for_time(cano_topic_t *t, int32_t p,
                                   const int64_t *ts, int64_t n, int64_t q)
{
    int64_t off = -77;
    int rc = cano_offset_for_time(t, p, q, &off);
    ck_assert_msg(rc == CANO_OK, "offset_for_time(%" PRId64 ") = %d", q, rc);
    int64_t want = brute_offset_for_time(ts, n, q);
    ck_assert_msg(off == want, "offset_for_time(%" PRId64 ") = %" PRId64
                  ", want %" PRId64, q, off, want);
}

START_TEST(test_read_offset_for_time_exact)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    int64_t off;
    ck_assert_int_eq(cano_offset_for_time(t, 0, 0, &off), CANO_OK);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(cano_offset_for_time(t, 0, 1700000000000LL, &off),
                     CANO_OK);
    ck_assert_int_eq(off, 0);

    const int64_t ts[] = { 100, 200, 200, 300, 250, 400 };
    for (int i = 0; i < 6; i++)
        tu_append_kv(t, 0, "k", "v", ts[i]);
    /* A batch whose records' timestamps go up and down. */
    cano_record b[3] = { tu_rec("a", "1", 410), tu_rec("b", "2", 500),
                         tu_rec("c", "3", 420) };
    ck_assert_int_eq(cano_append_batch(t, 0, b, 3, NULL), CANO_OK);
    tu_append_kv(t, 0, "k", "v", 450);
    const int64_t all[] = { 100, 200, 200, 300, 250, 400, 410, 500, 420, 450 };
    struct { int64_t q, want; } cases[] = {
        { INT64_MIN, 0 }, { -1, 0 }, { 0, 0 }, { 100, 0 }, { 101, 1 },
        { 200, 1 }, { 201, 3 }, { 250, 3 }, { 300, 3 }, { 301, 5 },
        { 400, 5 }, { 401, 6 }, { 410, 6 }, { 411, 7 }, { 420, 7 },
        { 450, 7 }, { 500, 7 }, { 501, 10 }, { INT64_MAX, 10 },
    };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            off = -1;
            ck_assert_int_eq(cano_offset_for_time(t, 0, cases[i].q, &off),
                             CANO_OK);
            ck_assert_msg(off == cases[i].want, "ts %" PRId64 ": got %" PRId64
                          ", want %" PRId64, cases[i].q, off, cases[i].want);
        }
        for (int64_t q = 0; q < 520; q++)
            assert_offset_for_time(t, 0, all, 10, q);
        reopen();
        t = tu_topic(db, "t");
    }
}
END_TEST

/* Many segments and every index density: reads by offset and time lookups
 * must be exact whether or not an index entry is near. */
static const int64_t intervals[] = { 0, 1, 100, 4096 };

START_TEST(test_read_index_lookups_exact)
{
    int64_t interval = intervals[_i % 4];
    int64_t seg_bytes = _i < 4 ? 200 : 16384;
    cano_topic_config c = tu_config(1, seg_bytes);
    c.index_interval_bytes = interval;
    cano_topic_t *t = tu_create(db, "t", &c);
    const uint32_t seed = 7;
    enum { N = 600 };
    int64_t ts[N];
    /* Singles, then batches of 1..9 records, with generated content. */
    int64_t i = 0;
    while (i < N) {
        if (i < 200 || (i / 50) % 2 == 0) {
            tu_append_gen(t, 0, seed, i, 1);
            ts[i] = tu_gen_ts(seed, i);
            i++;
            continue;
        }
        int64_t n = 1 + i % 9;
        if (i + n > N)
            n = N - i;
        char keys[9][32], vals[9][128];
        cano_record recs[9];
        for (int64_t j = 0; j < n; j++) {
            snprintf(keys[j], sizeof keys[j], "k%" PRId64, i + j);
            size_t vl = tu_gen_value(vals[j], sizeof vals[j], seed, i + j);
            ts[i + j] = tu_gen_ts(seed, i + j);
            recs[j] = tu_rec_buf(keys[j], strlen(keys[j]), vals[j], vl,
                                 ts[i + j]);
        }
        int64_t first = -1;
        ck_assert_int_eq(cano_append_batch(t, 0, recs, (size_t)n, &first),
                         CANO_OK);
        ck_assert_int_eq(first, i);
        i += n;
    }
    if (seg_bytes == 200)
        ck_assert_int_gt(tu_stat(t, 0).segments, 50);
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(tu_end_offset(t, 0), N);
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, N);
        for (int64_t k = 0; k < N; k++) {
            ck_assert_int_eq(got.v[k].offset, k);
            ck_assert_msg(tu_gen_matches(&got.v[k], seed, k), "record %"
                          PRId64 " differs", k);
        }
        tu_recs_free(&got);
        for (int64_t k = 0; k < N; k++) {
            ck_assert_int_eq(cano_read(t, 0, k, 1, tu_collect, &got), 1);
            ck_assert_int_eq(got.v[0].offset, k);
            ck_assert_msg(tu_gen_matches(&got.v[0], seed, k), "record %"
                          PRId64 " differs", k);
            tu_recs_free(&got);
            int want = k + 3 <= N ? 3 : (int)(N - k);
            ck_assert_int_eq(cano_read(t, 0, k, 3, tu_collect, &got), want);
            ck_assert_int_eq(got.v[want - 1].offset, k + want - 1);
            tu_recs_free(&got);
        }
        cano_reader_t *r = NULL;
        ck_assert_int_eq(cano_reader_open(t, 0, 0, &r), CANO_OK);
        for (int64_t k = N - 1; k >= 0; k -= 7) {
            ck_assert_int_eq(cano_reader_seek(r, k), CANO_OK);
            cano_record rec;
            ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
            ck_assert_int_eq(rec.offset, k);
            tu_recs_push(&got, &rec);
            ck_assert(tu_gen_matches(&got.v[0], seed, k));
            tu_recs_free(&got);
        }
        cano_reader_close(r);
        for (int64_t q = 1600000000000LL - 5; q <= tu_gen_ts(seed, N) + 30; q++)
            assert_offset_for_time(t, 0, ts, N, q);
        reopen();
        t = tu_topic(db, "t");
    }
}
END_TEST

/* ---- Partition state, segment rolling ---- */

typedef struct roll_sim {
    int64_t bases[1024];
    int64_t sizes[1024];
    int n;              /* segments */
    int64_t end;
    int64_t bytes;
} roll_sim;

/* DESIGN: roll first when the active segment is non-empty and its data
 * size plus the new batch would exceed segment_bytes. */
static void sim_append(roll_sim *s, int64_t seg_bytes, int64_t batch_bytes,
                       int64_t records)
{
    if (s->n == 0) {
        s->n = 1;
        s->bases[0] = 0;
        s->sizes[0] = 0;
    }
    if (s->sizes[s->n - 1] > 0 &&
        s->sizes[s->n - 1] + batch_bytes > seg_bytes) {
        s->bases[s->n] = s->end;
        s->sizes[s->n] = 0;
        s->n++;
    }
    s->sizes[s->n - 1] += batch_bytes;
    s->end += records;
    s->bytes += batch_bytes;
}

static void assert_matches_sim(cano_topic_t *t, const char *name,
                               const roll_sim *s, int64_t max_ts)
{
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 0);
    ck_assert_int_eq(pi.end_offset, s->end);
    ck_assert_int_eq(pi.segments, s->n);
    ck_assert_int_eq(pi.bytes, s->bytes);
    ck_assert_int_eq(pi.max_timestamp, max_ts);
    int64_t *bases;
    int n = tu_segment_bases(store, name, 0, &bases);
    ck_assert_int_eq(n, s->n);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(bases[i], s->bases[i]);
    free(bases);
}

START_TEST(test_read_stat_roll_rule_and_bytes_exact)
{
    const int64_t seg_bytes = 300;
    cano_topic_config c = tu_config(1, seg_bytes);
    cano_topic_t *t = tu_create(db, "r", &c);
    roll_sim sim;
    memset(&sim, 0, sizeof sim);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.bytes, 0);
    ck_assert_int_eq(pi.max_timestamp, -1);
    uint32_t st = 99;
    int64_t max_ts = -1;
    char buf[1200];
    memset(buf, 'z', sizeof buf);
    for (int i = 0; i < 200; i++) {
        /* Mostly small, sometimes exactly filling, sometimes larger than a
         * whole segment. */
        size_t vl = tu_rand(&st) % 80;
        if (i % 17 == 5)
            vl = 400 + tu_rand(&st) % 700;
        int n = (i % 5 == 0) ? 1 + (int)(tu_rand(&st) % 4) : 1;
        cano_record recs[4];
        for (int j = 0; j < n; j++)
            recs[j] = tu_rec_buf("key", 3, buf, vl, 5000 + i);
        int64_t bsize = tu_batch_size(recs, (size_t)n, NULL);
        int64_t first = -1;
        ck_assert_int_eq(cano_append_batch(t, 0, recs, (size_t)n, &first),
                         CANO_OK);
        ck_assert_int_eq(first, sim.end);
        sim_append(&sim, seg_bytes, bsize, n);
        max_ts = 5000 + i;
        assert_matches_sim(t, "r", &sim, max_ts);
    }
    /* Exactly full: a batch that brings the segment to exactly
     * segment_bytes stays in it; the next byte rolls. */
    cano_topic_config c2 = tu_config(1, 0);
    cano_record one = tu_rec_buf("k", 1, buf, 36, 1);
    int64_t bs = tu_batch_size(&one, 1, NULL);
    c2.segment_bytes = 3 * bs;
    cano_topic_t *x = tu_create(db, "x", &c2);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cano_append(x, 0, &one, NULL, NULL), CANO_OK);
    ck_assert_int_eq(tu_stat(x, 0).segments, 1);
    ck_assert_int_eq(tu_stat(x, 0).bytes, 3 * bs);
    ck_assert_int_eq(cano_append(x, 0, &one, NULL, NULL), CANO_OK);
    ck_assert_int_eq(tu_stat(x, 0).segments, 2);

    reopen();
    t = tu_topic(db, "r");
    assert_matches_sim(t, "r", &sim, max_ts);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = NULL;
    /* Closed: the .log files hold exactly the batches. */
    ck_assert_int_eq(tu_log_data_bytes(store, "r", 0), sim.bytes);
    for (int i = 0; i < sim.n; i++) {
        char p[TU_PATH_MAX];
        ck_assert_int_eq(tu_file_size(tu_seg_path(p, store, "r", 0,
                                                  sim.bases[i], ".log")),
                         128 + sim.sizes[i]);
    }
    db = tu_open(store);
    t = tu_topic(db, "r");
    assert_matches_sim(t, "r", &sim, max_ts);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, (size_t)sim.end);
    tu_recs_free(&got);
}
END_TEST

START_TEST(test_read_stat_bytes_grows_and_matches_files)
{
    cano_topic_config c = tu_config(1, 1000);
    cano_topic_t *t = tu_create(db, "t", &c);
    int64_t prev = 0;
    for (int i = 0; i < 100; i++) {
        tu_append_gen(t, 0, 3, i, 1);
        int64_t b = tu_stat(t, 0).bytes;
        ck_assert_int_gt(b, prev);
        prev = b;
    }
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = NULL;
    int64_t *bases;
    int n = tu_segment_bases(store, "t", 0, &bases);
    free(bases);
    ck_assert_int_eq(n, pi.segments);
    ck_assert_int_eq(tu_log_data_bytes(store, "t", 0), pi.bytes);
    db = tu_open(store);
    cano_partition_info p2 = tu_stat(tu_topic(db, "t"), 0);
    ck_assert_int_eq(p2.bytes, pi.bytes);
    ck_assert_int_eq(p2.segments, pi.segments);
    ck_assert_int_eq(p2.end_offset, 100);
}
END_TEST

START_TEST(test_read_segment_bytes_one_gives_each_batch_a_segment)
{
    cano_topic_config c = tu_config(1, 1);
    cano_topic_t *t = tu_create(db, "t", &c);
    cano_record b[2] = { tu_rec("a", "1", 1), tu_rec("b", "2", 1) };
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(cano_append_batch(t, 0, b, 1 + (size_t)(i % 2),
                                           NULL), CANO_OK);
    /* Offsets 0, 1-2, 3, 4-5, 6. */
    const int64_t want[] = { 0, 1, 3, 4, 6 };
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.segments, 5);
    ck_assert_int_eq(pi.end_offset, 7);
    int64_t *bases;
    ck_assert_int_eq(tu_segment_bases(store, "t", 0, &bases), 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(bases[i], want[i]);
    free(bases);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 7);
    tu_assert_kv(&got.v[2], "b", "2");
    tu_recs_free(&got);
}
END_TEST

static void assert_bases(const char *name, const int64_t *want, int n)
{
    int64_t *bases;
    int got = tu_segment_bases(store, name, 0, &bases);
    ck_assert_int_eq(got, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(bases[i] == want[i], "segment %d: base %" PRId64
                      ", want %" PRId64, i, bases[i], want[i]);
    free(bases);
}

/* segment_ms is measured between record timestamps: the new batch's
 * timestamp minus the segment's first record timestamp; it rolls when that
 * exceeds segment_ms (so 0 rolls on every new millisecond). */
START_TEST(test_read_segment_ms_roll_by_record_timestamps)
{
    cano_topic_config c = tu_config(1, 0);
    c.segment_ms = 1000;
    cano_topic_t *t = tu_create(db, "t", &c);
    const int64_t ts[] = { 1000, 2000, 2001, 2001, 3001, 3002, 500, 3002 };
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(tu_append_kv(t, 0, "k", "v", ts[i]), i);
    const int64_t want[] = { 0, 2, 5 };
    ck_assert_int_eq(tu_stat(t, 0).segments, 3);
    assert_bases("t", want, 3);

    c.segment_ms = 0;
    cano_topic_t *z = tu_create(db, "z", &c);
    const int64_t ts0[] = { 5, 5, 6, 6, 7, 3, 7, 8 };
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(tu_append_kv(z, 0, "k", "v", ts0[i]), i);
    const int64_t want0[] = { 0, 2, 4, 7 };
    ck_assert_int_eq(tu_stat(z, 0).segments, 4);
    assert_bases("z", want0, 4);

    /* The rule survives a reopen: the active segment's first timestamp is
     * remembered. */
    reopen();
    t = tu_topic(db, "t");
    ck_assert_int_eq(tu_append_kv(t, 0, "k", "v", 4002), 8);
    ck_assert_int_eq(tu_stat(t, 0).segments, 3);
    ck_assert_int_eq(tu_append_kv(t, 0, "k", "v", 4003), 9);
    ck_assert_int_eq(tu_stat(t, 0).segments, 4);
    const int64_t want2[] = { 0, 2, 5, 9 };
    assert_bases("t", want2, 4);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 10);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(got.v[i].timestamp, ts[i]);
    tu_recs_free(&got);
}
END_TEST

START_TEST(test_read_stat_durable_offset)
{
    cano_topic_config c = tu_config(1, 500);
    c.sync_mode = CANO_SYNC_ALWAYS;
    cano_topic_t *a = tu_create(db, "always", &c);
    for (int i = 0; i < 20; i++) {
        tu_append_gen(a, 0, 1, i, 1);
        cano_partition_info pi = tu_stat(a, 0);
        ck_assert_int_eq(pi.durable_offset, i + 1);
        ck_assert_int_eq(pi.end_offset, i + 1);
    }
    c.sync_mode = CANO_SYNC_NONE;
    cano_topic_t *n = tu_create(db, "none", &c);
    tu_append_gen(n, 0, 1, 0, 20);
    cano_partition_info pi = tu_stat(n, 0);
    ck_assert_int_ge(pi.durable_offset, 0);
    ck_assert_int_le(pi.durable_offset, 20);
    ck_assert_int_eq(cano_sync(db), CANO_OK);
    ck_assert_int_eq(tu_stat(n, 0).durable_offset, 20);
    reopen();
    ck_assert_int_eq(tu_stat(tu_topic(db, "none"), 0).durable_offset, 20);
    ck_assert_int_eq(tu_stat(tu_topic(db, "always"), 0).durable_offset, 20);
}
END_TEST

Suite *read_suite(void)
{
    Suite *s = suite_create("read");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_read_counts_and_max_records);
    tcase_add_test(tc, test_read_callback_stop_counts_the_stopping_call);
    tcase_add_test(tc, test_read_end_and_out_of_range);
    tcase_add_test(tc, test_read_bad_args);
    tcase_add_test(tc, test_read_partitions_are_separate);
    suite_add_tcase(s, tc);

    tc = tcase_create("reader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_reader_open_positions);
    tcase_add_test(tc, test_reader_seek_and_position);
    tcase_add_test(tc, test_reader_across_segments);
    suite_add_tcase(s, tc);

    tc = tcase_create("lookup");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_read_offset_for_time_exact);
    tcase_add_loop_test(tc, test_read_index_lookups_exact, 0, 8);
    suite_add_tcase(s, tc);

    tc = tcase_create("stat");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_read_stat_roll_rule_and_bytes_exact);
    tcase_add_test(tc, test_read_stat_bytes_grows_and_matches_files);
    tcase_add_test(tc, test_read_segment_bytes_one_gives_each_batch_a_segment);
    tcase_add_test(tc, test_read_segment_ms_roll_by_record_timestamps);
    tcase_add_test(tc, test_read_stat_durable_offset);
    suite_add_tcase(s, tc);
    return s;
}
