/* check_append.c - appending records and batches: offsets, content,
 * timestamps, partitioning, limits and atomicity. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "testutil.h"

static char dir[64];
static char store[TU_PATH_MAX];
static cano_t *db;

static void setup(void)
{
    ck_assert_int_eq(tu_mkdtemp(dir, sizeof dir), 0);
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

START_TEST(test_append_single_offsets_and_partition)
{
    cano_topic_config c = tu_config(2, 0);
    cano_topic_t *t = tu_create(db, "t", &c);
    for (int64_t i = 0; i < 3; i++) {
        cano_record r = tu_rec("k", "v", 100 + i);
        int32_t part = -7;
        int64_t off = -7;
        ck_assert_int_eq(cano_append(t, 0, &r, &part, &off), CANO_OK);
        ck_assert_int_eq(part, 0);
        ck_assert_int_eq(off, i);
    }
    cano_record r = tu_rec("x", "y", 5);
    int32_t part = -7;
    int64_t off = -7;
    ck_assert_int_eq(cano_append(t, 1, &r, &part, &off), CANO_OK);
    ck_assert_int_eq(part, 1);
    ck_assert_int_eq(off, 0);
    /* Outputs may be NULL. */
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append(t, 0, &r, &part, NULL), CANO_OK);
    ck_assert_int_eq(part, 0);
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, &off), CANO_OK);
    ck_assert_int_eq(off, 5);
    ck_assert_int_eq(tu_end_offset(t, 0), 6);
    ck_assert_int_eq(tu_end_offset(t, 1), 1);

    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(got.v[i].offset, (int64_t)i);
        ck_assert_int_eq(got.v[i].partition, 0);
        if (i < 3) {
            tu_assert_kv(&got.v[i], "k", "v");
            ck_assert_int_eq(got.v[i].timestamp, 100 + (int64_t)i);
        } else {
            tu_assert_kv(&got.v[i], "x", "y");
            ck_assert_int_eq(got.v[i].timestamp, 5);
        }
    }
    tu_recs_free(&got);
    ck_assert_int_eq(tu_read_all(t, 1, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 1);
    ck_assert_int_eq(got.v[0].partition, 1);
    ck_assert_int_eq(got.v[0].offset, 0);
    tu_recs_free(&got);
}
END_TEST

START_TEST(test_append_batch_offsets)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(tu_append_kv(t, 0, "s", "single", 10), i);
    char keys[5][8], vals[5][8];
    cano_record recs[5];
    for (int i = 0; i < 5; i++) {
        snprintf(keys[i], sizeof keys[i], "bk%d", i);
        snprintf(vals[i], sizeof vals[i], "bv%d", i);
        recs[i] = tu_rec(keys[i], vals[i], 1000 + i);
        recs[i].offset = 999;       /* ignored */
        recs[i].partition = 77;     /* ignored */
    }
    int64_t first = -1;
    ck_assert_int_eq(cano_append_batch(t, 0, recs, 5, &first), CANO_OK);
    ck_assert_int_eq(first, 3);
    ck_assert_int_eq(tu_append_kv(t, 0, "s", "after", 10), 8);
    ck_assert_int_eq(cano_append_batch(t, 0, recs, 1, NULL), CANO_OK);
    ck_assert_int_eq(cano_append_batch(t, 0, recs, 2, &first), CANO_OK);
    ck_assert_int_eq(first, 10);
    ck_assert_int_eq(tu_end_offset(t, 0), 12);

    for (int round = 0; round < 2; round++) {
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, 12);
        for (int i = 0; i < 12; i++)
            ck_assert_int_eq(got.v[i].offset, i);
        for (int i = 0; i < 5; i++) {
            tu_assert_kv(&got.v[3 + i], keys[i], vals[i]);
            ck_assert_int_eq(got.v[3 + i].timestamp, 1000 + i);
        }
        tu_assert_kv(&got.v[8], "s", "after");
        tu_assert_kv(&got.v[9], "bk0", "bv0");
        tu_assert_kv(&got.v[10], "bk0", "bv0");
        tu_assert_kv(&got.v[11], "bk1", "bv1");
        tu_recs_free(&got);
        reopen();
        t = tu_topic(db, "t");
    }
}
END_TEST

START_TEST(test_append_large_batch)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    enum { N = 5000 };
    cano_record *recs = calloc(N, sizeof *recs);
    char (*vals)[24] = calloc(N, sizeof *vals);
    for (int i = 0; i < N; i++) {
        snprintf(vals[i], sizeof vals[i], "value-%d", i);
        recs[i] = tu_rec(NULL, vals[i], 1000000 + i * 3);
    }
    int64_t first = -1;
    ck_assert_int_eq(cano_append_batch(t, 0, recs, N, &first), CANO_OK);
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(tu_end_offset(t, 0), N);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(got.v[i].offset, i);
        ck_assert_int_eq(got.v[i].timestamp, 1000000 + i * 3);
        tu_assert_kv(&got.v[i], NULL, vals[i]);
    }
    tu_recs_free(&got);
    /* A read starting inside the batch starts at the asked offset. */
    ck_assert_int_eq(cano_read(t, 0, 4321, 3, tu_collect, &got), 3);
    ck_assert_int_eq(got.v[0].offset, 4321);
    tu_assert_kv(&got.v[2], NULL, vals[4323]);
    tu_recs_free(&got);
    free(recs);
    free(vals);
}
END_TEST

START_TEST(test_append_key_null_vs_empty)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    cano_record a = tu_rec_buf(NULL, 0, "v1", 2, 1);
    cano_record b = tu_rec_buf("", 0, "v2", 2, 1);
    cano_record c = tu_rec_buf("k", 1, "v3", 2, 1);
    ck_assert_int_eq(cano_append(t, 0, &a, NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append(t, 0, &b, NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append(t, 0, &c, NULL, NULL), CANO_OK);
    cano_record batch[3] = { b, a, c };
    ck_assert_int_eq(cano_append_batch(t, 0, batch, 3, NULL), CANO_OK);
    for (int round = 0; round < 2; round++) {
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, 6);
        ck_assert_ptr_null(got.v[0].key);
        ck_assert_uint_eq(got.v[0].key_len, 0);
        ck_assert_ptr_nonnull(got.v[1].key);
        ck_assert_uint_eq(got.v[1].key_len, 0);
        tu_assert_kv(&got.v[2], "k", "v3");
        ck_assert_ptr_nonnull(got.v[3].key);
        ck_assert_uint_eq(got.v[3].key_len, 0);
        ck_assert_ptr_null(got.v[4].key);
        tu_assert_kv(&got.v[5], "k", "v3");
        tu_recs_free(&got);
        reopen();
        t = tu_topic(db, "t");
    }
}
END_TEST

START_TEST(test_append_tombstone_vs_empty_value)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    cano_record a = tu_rec_buf("k", 1, NULL, 0, 1);
    cano_record b = tu_rec_buf("k", 1, "", 0, 1);
    cano_record e = tu_rec_buf("", 0, "", 0, 1);   /* both empty */
    cano_record n = tu_rec_buf(NULL, 0, NULL, 0, 1); /* neither */
    ck_assert_int_eq(cano_append(t, 0, &a, NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append(t, 0, &b, NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append(t, 0, &e, NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append(t, 0, &n, NULL, NULL), CANO_OK);
    cano_record batch[4] = { b, a, n, e };
    ck_assert_int_eq(cano_append_batch(t, 0, batch, 4, NULL), CANO_OK);
    for (int round = 0; round < 2; round++) {
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, 8);
        const cano_record *want[8] = { &a, &b, &e, &n, &b, &a, &n, &e };
        for (int i = 0; i < 8; i++) {
            ck_assert_msg(tu_rec_content_eq(&got.v[i], want[i]),
                          "record %d differs", i);
            ck_assert_uint_eq(got.v[i].value_len, 0);
        }
        ck_assert_ptr_null(got.v[0].value);
        ck_assert_ptr_nonnull(got.v[1].value);
        ck_assert_ptr_nonnull(got.v[2].value);
        ck_assert_ptr_null(got.v[3].value);
        ck_assert_ptr_null(got.v[3].key);
        tu_recs_free(&got);
        reopen();
        t = tu_topic(db, "t");
    }
}
END_TEST

/* Checks the views as the callback sees them, not only the copies. */
static int check_views_cb(void *ctx, const cano_record *r)
{
    int *n = ctx;
    if (r->offset == 0) {
        if (r->value != NULL || r->value_len != 0)
            return 100;
    } else if (r->offset == 1) {
        if (r->value == NULL || r->value_len != 0 || r->key == NULL ||
            r->key_len != 0)
            return 101;
    }
    ++*n;
    return 0;
}

START_TEST(test_append_empty_views_are_non_null_in_callback)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    cano_record a = tu_rec_buf("k", 1, NULL, 0, 1);
    cano_record b = tu_rec_buf("", 0, "", 0, 1);
    ck_assert_int_eq(cano_append(t, 0, &a, NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append(t, 0, &b, NULL, NULL), CANO_OK);
    int n = 0;
    ck_assert_int_eq(cano_read(t, 0, 0, 10, check_views_cb, &n), 2);
    ck_assert_int_eq(n, 2);
}
END_TEST

START_TEST(test_append_headers_round_trip)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    static const unsigned char bin[] = { 0, 1, 2, 0, 255, 0 };
    cano_header h[5] = {
        { "a", 1, "1", 1 },
        { "no-value", 8, NULL, 0 },
        { "empty", 5, "", 0 },
        { "bin", 3, bin, sizeof bin },
        { "a", 1, "dup", 3 },          /* duplicate names are kept */
    };
    cano_record r1 = tu_rec("k1", "v1", 11);
    r1.headers = h;
    r1.header_count = 5;
    cano_record r2 = tu_rec("k2", "v2", 12);   /* no headers */
    cano_record r3 = tu_rec("k3", "v3", 13);
    r3.headers = h + 3;                        /* non-NULL, count 0 */
    r3.header_count = 0;
    cano_header eh = { "", 0, "x", 1 };        /* empty name */
    cano_record r4 = tu_rec("k4", NULL, 14);
    r4.headers = &eh;
    r4.header_count = 1;
    ck_assert_int_eq(cano_append(t, 0, &r1, NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append(t, 0, &r2, NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append(t, 0, &r3, NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append(t, 0, &r4, NULL, NULL), CANO_OK);
    cano_record batch[4] = { r4, r3, r2, r1 };
    ck_assert_int_eq(cano_append_batch(t, 0, batch, 4, NULL), CANO_OK);
    const cano_record *want[8] = { &r1, &r2, &r3, &r4, &r4, &r3, &r2, &r1 };
    for (int round = 0; round < 2; round++) {
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, 8);
        for (int i = 0; i < 8; i++) {
            ck_assert_msg(tu_rec_content_eq(&got.v[i], want[i]),
                          "record %d differs", i);
            ck_assert_int_eq(got.v[i].timestamp, want[i]->timestamp);
        }
        ck_assert_uint_eq(got.v[0].header_count, 5);
        ck_assert_ptr_null(got.v[0].headers[1].value);
        ck_assert_ptr_nonnull(got.v[0].headers[2].value);
        ck_assert_uint_eq(got.v[0].headers[2].value_len, 0);
        ck_assert_mem_eq(got.v[0].headers[3].value, bin, sizeof bin);
        ck_assert_uint_eq(got.v[0].headers[4].value_len, 3);
        ck_assert_mem_eq(got.v[0].headers[4].value, "dup", 3);
        ck_assert_uint_eq(got.v[1].header_count, 0);
        tu_recs_free(&got);
        reopen();
        t = tu_topic(db, "t");
    }
}
END_TEST

START_TEST(test_append_binary_content)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    size_t big_len = 200000;
    unsigned char *big = malloc(big_len);
    uint32_t st = 12345;
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)tu_rand(&st);
    cano_record r[3] = {
        tu_rec_buf(all, 256, all + 128, 128, 1),
        tu_rec_buf("\0\0", 2, "\0", 1, 2),
        tu_rec_buf(big, 1000, big, big_len, 3),
    };
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cano_append(t, 0, &r[i], NULL, NULL), CANO_OK);
    ck_assert_int_eq(cano_append_batch(t, 0, r, 3, NULL), CANO_OK);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 6);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(tu_rec_content_eq(&got.v[i], &r[i % 3]),
                      "record %d differs", i);
    tu_recs_free(&got);
    free(big);
}
END_TEST

START_TEST(test_append_timestamp_zero_is_now)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    int64_t before = tu_now_ms();
    int64_t off = tu_append_kv(t, 0, "k", "v", 0);
    int64_t after = tu_now_ms();
    cano_record b[3] = { tu_rec("a", "1", 0), tu_rec("b", "2", 0),
                         tu_rec("c", "3", 0) };
    int64_t before2 = tu_now_ms();
    ck_assert_int_eq(cano_append_batch(t, 0, b, 3, NULL), CANO_OK);
    int64_t after2 = tu_now_ms();
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, off, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 4);
    ck_assert_int_ge(got.v[0].timestamp, before);
    ck_assert_int_le(got.v[0].timestamp, after);
    for (int i = 1; i < 4; i++) {
        ck_assert_int_ge(got.v[i].timestamp, before2);
        ck_assert_int_le(got.v[i].timestamp, after2);
    }
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_ge(pi.max_timestamp, before2);
    ck_assert_int_le(pi.max_timestamp, after2);
    tu_recs_free(&got);
}
END_TEST

START_TEST(test_append_explicit_timestamps_kept)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    const int64_t ts[] = { 1, 1000, 1700000000000LL, 500, 1700000000000LL,
                           4102444800000LL /* 2100 */, 2, 1 };
    size_t n = sizeof ts / sizeof ts[0];
    for (size_t i = 0; i < n; i++)
        tu_append_kv(t, 0, "k", "v", ts[i]);
    cano_record b[3] = { tu_rec("a", "1", 77), tu_rec("b", "2", 5),
                         tu_rec("c", "3", 1800000000000LL) };
    ck_assert_int_eq(cano_append_batch(t, 0, b, 3, NULL), CANO_OK);
    for (int round = 0; round < 2; round++) {
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, n + 3);
        for (size_t i = 0; i < n; i++)
            ck_assert_int_eq(got.v[i].timestamp, ts[i]);
        ck_assert_int_eq(got.v[n].timestamp, 77);
        ck_assert_int_eq(got.v[n + 1].timestamp, 5);
        ck_assert_int_eq(got.v[n + 2].timestamp, 1800000000000LL);
        ck_assert_int_eq(tu_stat(t, 0).max_timestamp, 4102444800000LL);
        tu_recs_free(&got);
        reopen();
        t = tu_topic(db, "t");
    }
}
END_TEST

START_TEST(test_append_log_append_time_ignores_caller_timestamp)
{
    cano_topic_config c = tu_config(1, 0);
    c.timestamp_type = CANO_TIMESTAMP_LOG_APPEND_TIME;
    cano_topic_t *t = tu_create(db, "t", &c);
    int64_t before = tu_now_ms();
    tu_append_kv(t, 0, "k", "v", 12345);
    tu_append_kv(t, 0, "k", "v", 0);
    tu_append_kv(t, 0, "k", "v", 4102444800000LL);
    cano_record b[3] = { tu_rec("a", "1", 1), tu_rec("b", "2", 99999),
                         tu_rec("c", "3", 0) };
    ck_assert_int_eq(cano_append_batch(t, 0, b, 3, NULL), CANO_OK);
    int64_t after = tu_now_ms();
    for (int round = 0; round < 2; round++) {
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, 6);
        for (int i = 0; i < 6; i++) {
            ck_assert_int_ge(got.v[i].timestamp, before);
            ck_assert_int_le(got.v[i].timestamp, after);
            if (i > 0)
                ck_assert_int_ge(got.v[i].timestamp, got.v[i - 1].timestamp);
        }
        /* A batch has one append time. */
        ck_assert_int_eq(got.v[3].timestamp, got.v[4].timestamp);
        ck_assert_int_eq(got.v[4].timestamp, got.v[5].timestamp);
        ck_assert_int_le(tu_stat(t, 0).max_timestamp, after);
        tu_recs_free(&got);
        reopen();
        t = tu_topic(db, "t");
    }
}
END_TEST

START_TEST(test_append_auto_timestamp_never_goes_backwards)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    int64_t future = tu_now_ms() + 10LL * 24 * 3600 * 1000;
    tu_append_kv(t, 0, "k", "future", future);
    int64_t off = tu_append_kv(t, 0, "k", "now", 0);
    cano_record b[2] = { tu_rec("a", "1", 0), tu_rec("b", "2", 0) };
    ck_assert_int_eq(cano_append_batch(t, 0, b, 2, NULL), CANO_OK);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 4);
    ck_assert_int_eq(got.v[0].timestamp, future);
    ck_assert_int_eq(got.v[1].offset, off);
    ck_assert_int_ge(got.v[1].timestamp, future);
    ck_assert_int_ge(got.v[2].timestamp, future);
    ck_assert_int_ge(got.v[3].timestamp, future);
    tu_recs_free(&got);
    /* The same after a reopen: the partition's largest timestamp is
     * remembered. */
    reopen();
    t = tu_topic(db, "t");
    off = tu_append_kv(t, 0, "k", "later", 0);
    ck_assert_int_eq(cano_read(t, 0, off, 1, tu_collect, &got), 1);
    ck_assert_int_ge(got.v[0].timestamp, future);
    tu_recs_free(&got);
}
END_TEST

START_TEST(test_append_auto_partition_by_key)
{
    cano_topic_config c = tu_config(7, 0);
    cano_topic_t *t = tu_create(db, "t", &c);
    int64_t count[7] = { 0 };
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 100; i++) {
            char key[16];
            int kl = snprintf(key, sizeof key, "key-%d", i);
            int32_t want = (int32_t)(XXH3_64bits(key, (size_t)kl) % 7u);
            ck_assert_int_eq(cano_partition_for_key(t, key, (size_t)kl), want);
            cano_record r = tu_rec(key, "v", 1);
            int32_t part = -5;
            int64_t off = -5;
            ck_assert_int_eq(cano_append(t, CANO_PARTITION_AUTO, &r, &part,
                                         &off), CANO_OK);
            ck_assert_int_eq(part, want);
            ck_assert_int_eq(off, count[want]);
            count[want]++;
        }
    }
    for (int p = 0; p < 7; p++)
        ck_assert_int_eq(tu_end_offset(t, p), count[p]);
    /* Binary and empty keys. */
    ck_assert_int_eq(cano_partition_for_key(t, "", 0),
                     (int32_t)(XXH3_64bits("", 0) % 7u));
    unsigned char bin[300];
    for (int i = 0; i < 300; i++)
        bin[i] = (unsigned char)(i * 7);
    ck_assert_int_eq(cano_partition_for_key(t, bin, sizeof bin),
                     (int32_t)(XXH3_64bits(bin, sizeof bin) % 7u));
    cano_record r = tu_rec_buf("", 0, "v", 1, 1);
    int32_t part = -5;
    ck_assert_int_eq(cano_append(t, CANO_PARTITION_AUTO, &r, &part, NULL),
                     CANO_OK);
    ck_assert_int_eq(part, (int32_t)(XXH3_64bits("", 0) % 7u));
    /* One partition: everything maps to 0. */
    cano_topic_t *one = tu_create(db, "one", NULL);
    ck_assert_int_eq(cano_partition_for_key(one, "abc", 3), 0);
    ck_assert_int_eq(cano_partition_for_key(NULL, "abc", 3), CANO_EINVAL);
    /* Stable across a reopen. */
    reopen();
    t = tu_topic(db, "t");
    for (int i = 0; i < 100; i++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "key-%d", i);
        ck_assert_int_eq(cano_partition_for_key(t, key, (size_t)kl),
                         (int32_t)(XXH3_64bits(key, (size_t)kl) % 7u));
    }
}
END_TEST

START_TEST(test_append_auto_keyless_round_robin)
{
    cano_topic_config c = tu_config(4, 0);
    cano_topic_t *t = tu_create(db, "t", &c);
    int seen[4] = { 0 };
    for (int i = 0; i < 4; i++) {
        cano_record r = tu_rec(NULL, "v", 1);
        int32_t part = -5;
        int64_t off = -5;
        ck_assert_int_eq(cano_append(t, CANO_PARTITION_AUTO, &r, &part, &off),
                         CANO_OK);
        ck_assert_int_ge(part, 0);
        ck_assert_int_lt(part, 4);
        ck_assert_int_eq(off, 0);
        seen[part]++;
    }
    for (int p = 0; p < 4; p++) {
        ck_assert_int_eq(seen[p], 1);
        ck_assert_int_eq(tu_end_offset(t, p), 1);
    }
    for (int i = 0; i < 8; i++) {
        cano_record r = tu_rec(NULL, "v", 1);
        ck_assert_int_eq(cano_append(t, CANO_PARTITION_AUTO, &r, NULL, NULL),
                         CANO_OK);
    }
    for (int p = 0; p < 4; p++)
        ck_assert_int_eq(tu_end_offset(t, p), 3);
}
END_TEST

START_TEST(test_append_batch_auto_partition)
{
    cano_topic_config c = tu_config(5, 0);
    cano_topic_t *t = tu_create(db, "t", &c);
    /* Keyed: the first record's key decides, whatever the others say. */
    cano_record b[3] = { tu_rec("first", "1", 1), tu_rec("zz", "2", 1),
                         tu_rec(NULL, "3", 1) };
    int32_t want = cano_partition_for_key(t, "first", 5);
    ck_assert_int_ge(want, 0);
    int64_t first = -1;
    ck_assert_int_eq(cano_append_batch(t, CANO_PARTITION_AUTO, b, 3, &first),
                     CANO_OK);
    ck_assert_int_eq(first, 0);
    for (int p = 0; p < 5; p++)
        ck_assert_int_eq(tu_end_offset(t, p), p == want ? 3 : 0);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, want, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 3);
    tu_assert_kv(&got.v[1], "zz", "2");
    tu_assert_kv(&got.v[2], NULL, "3");
    tu_recs_free(&got);
    /* Keyless: all of it goes to one partition. */
    cano_record k[4] = { tu_rec(NULL, "a", 1), tu_rec("x", "b", 1),
                         tu_rec(NULL, "c", 1), tu_rec(NULL, "d", 1) };
    ck_assert_int_eq(cano_append_batch(t, CANO_PARTITION_AUTO, k, 4, &first),
                     CANO_OK);
    int64_t total = 0;
    int with4 = -1;
    for (int p = 0; p < 5; p++) {
        int64_t e = tu_end_offset(t, p);
        total += e;
        if (e == (p == want ? 7 : 4))
            with4 = p;
    }
    ck_assert_int_eq(total, 7);
    ck_assert_int_ge(with4, 0);
    ck_assert_int_eq(first, with4 == want ? 3 : 0);
}
END_TEST

static cano_topic_t *limit_topic(const char *name, int64_t max_record,
                                 int64_t max_batch)
{
    cano_topic_config c = tu_config(1, 0);
    c.max_record_bytes = max_record;
    c.max_batch_bytes = max_batch;
    return tu_create(db, name, &c);
}

static void assert_unchanged(cano_topic_t *t, int64_t end, int64_t bytes)
{
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.end_offset, end);
    ck_assert_int_eq(pi.bytes, bytes);
}

START_TEST(test_append_record_over_max_record_bytes_is_etoobig)
{
    cano_topic_t *t = limit_topic("t", 100, 0);
    char k[11], v[200];
    memset(k, 'k', 10);
    k[10] = '\0';
    memset(v, 'v', sizeof v);
    cano_record r = tu_rec_buf(k, 10, v, 90, 1);
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_OK);
    int64_t bytes = tu_stat(t, 0).bytes;
    r.value_len = 91;
    int64_t off = -3;
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, &off), CANO_ETOOBIG);
    assert_unchanged(t, 1, bytes);
    r = tu_rec_buf(NULL, 0, v, 100, 1);
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_OK);
    bytes = tu_stat(t, 0).bytes;
    r.value_len = 101;
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_ETOOBIG);
    assert_unchanged(t, 2, bytes);
    /* Header names and values count too. */
    cano_header h = { "hdr1", 4, "123456", 6 };
    r = tu_rec_buf(k, 10, v, 80, 1);
    r.headers = &h;
    r.header_count = 1;
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_OK);
    bytes = tu_stat(t, 0).bytes;
    h.value_len = 7;
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_ETOOBIG);
    assert_unchanged(t, 3, bytes);
    h.value_len = 6;
    h.name_len = 5;
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_ETOOBIG);
    assert_unchanged(t, 3, bytes);
    /* In a batch, one record over the limit refuses the whole batch. */
    cano_record ok = tu_rec("a", "b", 1);
    cano_record big = tu_rec_buf(k, 10, v, 91, 1);
    cano_record batch[3] = { ok, big, ok };
    ck_assert_int_eq(cano_append_batch(t, 0, batch, 3, NULL), CANO_ETOOBIG);
    assert_unchanged(t, 3, bytes);
    ck_assert_int_eq(tu_append_kv(t, 0, "a", "b", 1), 3);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 4);
    tu_assert_kv(&got.v[3], "a", "b");
    tu_recs_free(&got);
}
END_TEST

START_TEST(test_append_batch_over_max_batch_bytes_is_etoobig)
{
    enum { N = 10 };
    char keys[N][8], val[50];
    memset(val, 'x', sizeof val);
    cano_record recs[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        recs[i] = tu_rec_buf(keys[i], strlen(keys[i]), val, sizeof val,
                             1700000000000LL);
    }
    int64_t size = tu_batch_size(recs, N, NULL);
    /* Exactly at the limit: accepted; and the batch occupies exactly that
     * many bytes. */
    cano_topic_t *t = limit_topic("exact", 0, size);
    int64_t first = -1;
    ck_assert_int_eq(cano_append_batch(t, 0, recs, N, &first), CANO_OK);
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(tu_stat(t, 0).bytes, size);
    /* One byte less: refused, nothing written. */
    cano_topic_t *u = limit_topic("under", 0, size - 1);
    tu_append_kv(u, 0, "a", "b", 1);
    int64_t bytes = tu_stat(u, 0).bytes;
    ck_assert_int_eq(cano_append_batch(u, 0, recs, N, &first), CANO_ETOOBIG);
    assert_unchanged(u, 1, bytes);
    ck_assert_int_eq(cano_append_batch(u, 0, recs, N - 1, &first), CANO_OK);
    ck_assert_int_eq(first, 1);
    /* A single record whose batch is too big. */
    cano_topic_t *s = limit_topic("single", 0, 100);
    char v2[100];
    memset(v2, 'y', sizeof v2);
    cano_record r = tu_rec_buf(NULL, 0, v2, sizeof v2, 1);
    ck_assert_int_eq(cano_append(s, 0, &r, NULL, NULL), CANO_ETOOBIG);
    assert_unchanged(s, 0, 0);
    r.value_len = 29;              /* exactly a 100-byte batch */
    ck_assert_int_eq(tu_batch_size(&r, 1, NULL), 100);
    ck_assert_int_eq(cano_append(s, 0, &r, NULL, NULL), CANO_OK);
}
END_TEST

START_TEST(test_append_default_limits)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    size_t mib = 1 << 20;
    char *v = malloc(5 * mib + 1);
    memset(v, 'q', 5 * mib + 1);
    cano_record r = tu_rec_buf(NULL, 0, v, mib, 1);
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_OK);
    r.value_len = mib + 1;
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_ETOOBIG);
    r = tu_rec_buf("kk", 2, v, mib - 2, 1);
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_OK);
    /* Two 1 MiB records fit the default 4 MiB batch; five do not. */
    cano_record b[5];
    for (int i = 0; i < 5; i++)
        b[i] = tu_rec_buf(NULL, 0, v, mib, 1);
    ck_assert_int_eq(cano_append_batch(t, 0, b, 2, NULL), CANO_OK);
    ck_assert_int_eq(cano_append_batch(t, 0, b, 5, NULL), CANO_ETOOBIG);
    ck_assert_int_eq(tu_end_offset(t, 0), 4);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 4);
    ck_assert_uint_eq(got.v[0].value_len, mib);
    ck_assert_uint_eq(got.v[1].value_len, mib - 2);
    ck_assert_mem_eq(got.v[3].value, v, mib);
    tu_recs_free(&got);
    free(v);
}
END_TEST

START_TEST(test_append_bad_partition_is_einval)
{
    cano_topic_config c = tu_config(4, 0);
    cano_topic_t *t = tu_create(db, "t", &c);
    const int32_t bad[] = { -2, -3, 4, 5, 100, INT32_MIN, INT32_MAX };
    cano_record r = tu_rec("k", "v", 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t p = bad[i];
        ck_assert_int_eq(cano_append(t, p, &r, NULL, NULL), CANO_EINVAL);
        ck_assert_int_eq(cano_append_batch(t, p, &r, 1, NULL), CANO_EINVAL);
        tu_recs got = { 0 };
        ck_assert_int_eq(cano_read(t, p, 0, 1, tu_collect, &got),
                         CANO_EINVAL);
        cano_reader_t *rd = (cano_reader_t *)0x1;
        ck_assert_int_eq(cano_reader_open(t, p, 0, &rd), CANO_EINVAL);
        ck_assert_ptr_null(rd);
        cano_partition_info pi;
        pi.size = sizeof pi;
        ck_assert_int_eq(cano_partition_stat(t, p, &pi), CANO_EINVAL);
        int64_t off;
        ck_assert_int_eq(cano_offset_for_time(t, p, 0, &off), CANO_EINVAL);
    }
    /* AUTO only makes sense for appends. */
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(t, CANO_PARTITION_AUTO, 0, 1, tu_collect, &got),
                     CANO_EINVAL);
    cano_partition_info pi;
    pi.size = sizeof pi;
    ck_assert_int_eq(cano_partition_stat(t, CANO_PARTITION_AUTO, &pi),
                     CANO_EINVAL);
    for (int p = 0; p < 4; p++)
        ck_assert_int_eq(tu_end_offset(t, p), 0);
}
END_TEST

START_TEST(test_append_null_pointers_are_einval)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    cano_record r = tu_rec("k", "v", 1);
    int64_t off;
    ck_assert_int_eq(cano_append(NULL, 0, &r, NULL, NULL), CANO_EINVAL);
    ck_assert_int_eq(cano_append(t, 0, NULL, NULL, NULL), CANO_EINVAL);
    ck_assert_int_eq(cano_append_batch(NULL, 0, &r, 1, &off), CANO_EINVAL);
    ck_assert_int_eq(cano_append_batch(t, 0, NULL, 1, &off), CANO_EINVAL);
    ck_assert_int_eq(cano_append_batch(t, 0, &r, 0, &off), CANO_EINVAL);
    /* Headers promised but missing. */
    cano_record h = tu_rec("k", "v", 1);
    h.header_count = 2;
    ck_assert_int_eq(cano_append(t, 0, &h, NULL, NULL), CANO_EINVAL);
    cano_header hd = { NULL, 3, "x", 1 };
    h.headers = &hd;
    h.header_count = 1;
    ck_assert_int_eq(cano_append(t, 0, &h, NULL, NULL), CANO_EINVAL);
    /* A batch with one bad record is refused whole. */
    cano_record batch[2] = { r, h };
    ck_assert_int_eq(cano_append_batch(t, 0, batch, 2, &off), CANO_EINVAL);
    ck_assert_int_eq(tu_end_offset(t, 0), 0);
    /* NULL with a length: refused, or read as "none" (never garbage). */
    cano_record nk = tu_rec_buf(NULL, 5, "v", 1, 1);
    int rc = cano_append(t, 0, &nk, NULL, &off);
    ck_assert(rc == CANO_EINVAL || rc == CANO_OK);
    cano_record nv = tu_rec_buf("k", 1, NULL, 5, 1);
    int rc2 = cano_append(t, 0, &nv, NULL, &off);
    ck_assert(rc2 == CANO_EINVAL || rc2 == CANO_OK);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, (size_t)(rc == CANO_OK) + (rc2 == CANO_OK));
    for (size_t i = 0; i < got.n; i++) {
        if (rc == CANO_OK && i == 0) {
            ck_assert_ptr_null(got.v[i].key);
        } else {
            ck_assert_ptr_null(got.v[i].value);
        }
    }
    tu_recs_free(&got);
}
END_TEST

static void zlib_round_trip(int level)
{
    cano_topic_config c = tu_config(1, 4096);
    c.compression = CANO_COMPRESSION_ZLIB;
    c.compression_level = level;
    char name[16];
    snprintf(name, sizeof name, "z%d", level);
    cano_topic_t *z = tu_create(db, name, &c);
    cano_topic_config p = tu_config(1, 4096);
    snprintf(name, sizeof name, "p%d", level);
    cano_topic_t *plain = tu_create(db, name, &p);

    enum { N = 100 };
    static char vals[N][600];
    static char keys[N][16];
    cano_header hdr[2] = { { "h", 1, "hv", 2 }, { "n", 1, NULL, 0 } };
    cano_record recs[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "key%d", i);
        memset(vals[i], 'a' + i % 3, sizeof vals[i]);
        snprintf(vals[i], 20, "value %d", i);
        recs[i] = tu_rec_buf(keys[i], strlen(keys[i]), vals[i],
                             sizeof vals[i], 1000 + i);
        if (i % 10 == 3)
            recs[i].value = NULL, recs[i].value_len = 0;
        if (i % 10 == 4)
            recs[i].value_len = 0;
        if (i % 10 == 5)
            recs[i].key = NULL, recs[i].key_len = 0;
        if (i % 7 == 0)
            recs[i].headers = hdr, recs[i].header_count = 2;
    }
    for (int b = 0; b < N; b += 20) {
        ck_assert_int_eq(cano_append_batch(z, 0, recs + b, 20, NULL), CANO_OK);
        ck_assert_int_eq(cano_append_batch(plain, 0, recs + b, 20, NULL),
                         CANO_OK);
    }
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(cano_append(z, 0, &recs[i], NULL, NULL), CANO_OK);
        ck_assert_int_eq(cano_append(plain, 0, &recs[i], NULL, NULL), CANO_OK);
    }
    for (int round = 0; round < 2; round++) {
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(z, 0, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, N + 5);
        for (int i = 0; i < N + 5; i++) {
            const cano_record *w = &recs[i < N ? i : i - N];
            ck_assert_int_eq(got.v[i].offset, i);
            ck_assert_msg(tu_rec_content_eq(&got.v[i], w), "record %d", i);
            ck_assert_int_eq(got.v[i].timestamp, w->timestamp);
        }
        tu_recs_free(&got);
        /* Reads starting in the middle of a compressed batch. */
        ck_assert_int_eq(cano_read(z, 0, 47, 2, tu_collect, &got), 2);
        ck_assert_int_eq(got.v[0].offset, 47);
        ck_assert(tu_rec_content_eq(&got.v[1], &recs[48]));
        tu_recs_free(&got);
        ck_assert_int_lt(tu_stat(z, 0).bytes * 2, tu_stat(plain, 0).bytes);
        reopen();
        snprintf(name, sizeof name, "z%d", level);
        z = tu_topic(db, name);
        snprintf(name, sizeof name, "p%d", level);
        plain = tu_topic(db, name);
    }
}

START_TEST(test_append_zlib_round_trip)
{
    zlib_round_trip(0);
    zlib_round_trip(1);
    zlib_round_trip(9);
}
END_TEST

START_TEST(test_append_compacted_topic_refuses_null_key)
{
    const uint32_t policies[] = { CANO_CLEANUP_COMPACT,
                                  CANO_CLEANUP_COMPACT | CANO_CLEANUP_DELETE };
    for (int k = 0; k < 2; k++) {
        cano_topic_config c = tu_config(1, 0);
        c.cleanup_policy = policies[k];
        char name[8];
        snprintf(name, sizeof name, "c%d", k);
        cano_topic_t *t = tu_create(db, name, &c);
        cano_record nk = tu_rec(NULL, "v", 1);
        ck_assert_int_eq(cano_append(t, 0, &nk, NULL, NULL), CANO_EINVAL);
        cano_record b[3] = { tu_rec("a", "1", 1), nk, tu_rec("b", "2", 1) };
        ck_assert_int_eq(cano_append_batch(t, 0, b, 3, NULL), CANO_EINVAL);
        ck_assert_int_eq(tu_end_offset(t, 0), 0);
        /* An empty key is a key; a tombstone is fine. */
        cano_record ek = tu_rec("", "v", 1);
        cano_record ts = tu_rec("a", NULL, 1);
        ck_assert_int_eq(cano_append(t, 0, &ek, NULL, NULL), CANO_OK);
        ck_assert_int_eq(cano_append(t, 0, &ts, NULL, NULL), CANO_OK);
        ck_assert_int_eq(cano_append_batch(t, 0, b, 1, NULL), CANO_OK);
        ck_assert_int_eq(tu_end_offset(t, 0), 3);
    }
}
END_TEST

/* ---- Batch atomicity under a concurrent reader ---- */

enum { ATOM_BATCHES = 300, ATOM_N = 10 };

typedef struct atom_ctx {
    cano_topic_t *t;
    atomic_int done;
    int errors;
} atom_ctx;

static void *atom_writer(void *arg)
{
    atom_ctx *c = arg;
    for (int b = 0; b < ATOM_BATCHES; b++) {
        char vals[ATOM_N][16];
        cano_record recs[ATOM_N];
        for (int j = 0; j < ATOM_N; j++) {
            snprintf(vals[j], sizeof vals[j], "%d", b * ATOM_N + j);
            recs[j] = tu_rec(NULL, vals[j], 1);
        }
        int64_t first;
        if (cano_append_batch(c->t, 0, recs, ATOM_N, &first) != CANO_OK ||
            first != (int64_t)b * ATOM_N)
            c->errors++;
    }
    atomic_store(&c->done, 1);
    return NULL;
}

typedef struct atom_read {
    int64_t next;
    int bad;
} atom_read;

static int atom_cb(void *ctx, const cano_record *r)
{
    atom_read *a = ctx;
    char want[16];
    snprintf(want, sizeof want, "%" PRId64, a->next);
    if (r->offset != a->next || r->value_len != strlen(want) ||
        memcmp(r->value, want, r->value_len) != 0)
        a->bad++;
    a->next++;
    return 0;
}

START_TEST(test_append_batch_visible_all_or_nothing)
{
    cano_topic_config c = tu_config(1, 2000);
    atom_ctx ctx = { tu_create(db, "t", &c), 0, 0 };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, atom_writer, &ctx), 0);
    int looks = 0;
    for (;;) {
        int done = atomic_load(&ctx.done);
        atom_read a = { 0, 0 };
        /* One read delivers everything visible at one moment. */
        int rc = cano_read(ctx.t, 0, 0, 100000, atom_cb, &a);
        ck_assert_int_ge(rc, 0);
        ck_assert_int_eq(rc, a.next);
        ck_assert_int_eq(a.bad, 0);
        ck_assert_msg(a.next % ATOM_N == 0, "saw %" PRId64 " records",
                      a.next);
        cano_partition_info pi = tu_stat(ctx.t, 0);
        ck_assert_int_eq(pi.end_offset % ATOM_N, 0);
        looks++;
        if (done)
            break;
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(ctx.errors, 0);
    ck_assert_int_eq(tu_end_offset(ctx.t, 0), ATOM_BATCHES * ATOM_N);
    ck_assert_int_gt(looks, 0);
}
END_TEST

Suite *append_suite(void)
{
    Suite *s = suite_create("append");
    TCase *tc = tcase_create("content");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_append_single_offsets_and_partition);
    tcase_add_test(tc, test_append_batch_offsets);
    tcase_add_test(tc, test_append_large_batch);
    tcase_add_test(tc, test_append_key_null_vs_empty);
    tcase_add_test(tc, test_append_tombstone_vs_empty_value);
    tcase_add_test(tc, test_append_empty_views_are_non_null_in_callback);
    tcase_add_test(tc, test_append_headers_round_trip);
    tcase_add_test(tc, test_append_binary_content);
    tcase_add_test(tc, test_append_zlib_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("timestamps");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_append_timestamp_zero_is_now);
    tcase_add_test(tc, test_append_explicit_timestamps_kept);
    tcase_add_test(tc, test_append_log_append_time_ignores_caller_timestamp);
    tcase_add_test(tc, test_append_auto_timestamp_never_goes_backwards);
    suite_add_tcase(s, tc);

    tc = tcase_create("partitioning");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_append_auto_partition_by_key);
    tcase_add_test(tc, test_append_auto_keyless_round_robin);
    tcase_add_test(tc, test_append_batch_auto_partition);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_append_record_over_max_record_bytes_is_etoobig);
    tcase_add_test(tc, test_append_batch_over_max_batch_bytes_is_etoobig);
    tcase_add_test(tc, test_append_default_limits);
    tcase_add_test(tc, test_append_bad_partition_is_einval);
    tcase_add_test(tc, test_append_null_pointers_are_einval);
    tcase_add_test(tc, test_append_compacted_topic_refuses_null_key);
    tcase_add_test(tc, test_append_batch_visible_all_or_nothing);
    suite_add_tcase(s, tc);
    return s;
}
