/* check_topic.c - topic create/open/delete/list, names and configuration. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "io.h"
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

static cano_topic_config get_config(cano_topic_t *t)
{
    cano_topic_config c;
    memset(&c, 0x5a, sizeof c);
    c.size = sizeof c;
    int rc = cano_topic_config_get(t, &c);
    ck_assert_msg(rc == CANO_OK, "config_get = %d (%s)", rc,
                  cano_last_errmsg());
    return c;
}

/* Every field of a config that was given explicitly must come back as
 * given. */
static void assert_config_eq(const cano_topic_config *got,
                             const cano_topic_config *want)
{
    ck_assert_int_eq(got->partitions, want->partitions);
    ck_assert_int_eq(got->segment_bytes, want->segment_bytes);
    ck_assert_int_eq(got->segment_ms, want->segment_ms);
    ck_assert_int_eq(got->index_interval_bytes, want->index_interval_bytes);
    ck_assert_int_eq(got->max_record_bytes, want->max_record_bytes);
    ck_assert_int_eq(got->max_batch_bytes, want->max_batch_bytes);
    ck_assert_int_eq(got->compression, want->compression);
    ck_assert_int_eq(got->compression_level, want->compression_level);
    ck_assert_int_eq(got->timestamp_type, want->timestamp_type);
    ck_assert_int_eq(got->sync_mode, want->sync_mode);
    ck_assert_uint_eq(got->cleanup_policy, want->cleanup_policy);
    ck_assert_int_eq(got->reserved0, 0);
    ck_assert_int_eq(got->retention_ms, want->retention_ms);
    ck_assert_int_eq(got->retention_bytes, want->retention_bytes);
    ck_assert_int_eq(got->delete_retention_ms, want->delete_retention_ms);
    ck_assert_int_eq(got->min_compaction_lag_ms, want->min_compaction_lag_ms);
    ck_assert_int_eq(got->max_compaction_lag_ms, want->max_compaction_lag_ms);
    ck_assert_msg(got->min_cleanable_dirty_ratio ==
                      want->min_cleanable_dirty_ratio,
                  "ratio %.17g != %.17g", got->min_cleanable_dirty_ratio,
                  want->min_cleanable_dirty_ratio);
}

/* A field whose 0 means "the default" may be reported as 0 or resolved. */
#define ASSERT_ZERO_OR(v, d) \
    ck_assert_msg((v) == 0 || (v) == (d), #v " = %lld, want 0 or %lld", \
                  (long long)(v), (long long)(d))

static void assert_default_config(const cano_topic_config *c, int resolved)
{
    if (resolved)
        ck_assert_int_eq(c->partitions, 1);
    else
        ASSERT_ZERO_OR(c->partitions, 1);
    ASSERT_ZERO_OR(c->segment_bytes, 1LL << 30);
    ck_assert_int_eq(c->segment_ms, 7LL * 24 * 3600 * 1000);
    ck_assert_int_eq(c->index_interval_bytes, 4096);
    ASSERT_ZERO_OR(c->max_record_bytes, 1LL << 20);
    ASSERT_ZERO_OR(c->max_batch_bytes, 4LL << 20);
    ck_assert_int_eq(c->compression, CANO_COMPRESSION_NONE);
    ASSERT_ZERO_OR(c->compression_level, 6);
    ck_assert_int_eq(c->timestamp_type, CANO_TIMESTAMP_CREATE_TIME);
    ck_assert_int_eq(c->sync_mode, CANO_SYNC_DEFAULT);
    ASSERT_ZERO_OR(c->cleanup_policy, CANO_CLEANUP_DELETE);
    ck_assert_int_eq(c->reserved0, 0);
    ck_assert_int_eq(c->retention_ms, 7LL * 24 * 3600 * 1000);
    ck_assert_int_eq(c->retention_bytes, -1);
    ck_assert_int_eq(c->delete_retention_ms, 24LL * 3600 * 1000);
    ck_assert_int_eq(c->min_compaction_lag_ms, 0);
    ck_assert_int_eq(c->max_compaction_lag_ms, -1);
    ck_assert(c->min_cleanable_dirty_ratio == 0.5);
}

START_TEST(test_topic_config_init_defaults)
{
    cano_topic_config c;
    memset(&c, 0xab, sizeof c);
    ck_assert_int_eq(cano_topic_config_init(&c, sizeof c), CANO_OK);
    ck_assert_uint_eq(c.size, sizeof c);
    assert_default_config(&c, 0);
    ck_assert_int_eq(cano_topic_config_init(NULL, sizeof c), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_config_init(&c, 0), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_config_init(&c, 4), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_config_init(&c, sizeof c - 1), CANO_EINVAL);
}
END_TEST

START_TEST(test_topic_create_open_with_defaults)
{
    ck_assert_int_eq(cano_topic_create(db, "t", NULL), CANO_OK);
    cano_topic_t *t = (cano_topic_t *)0x1;
    ck_assert_int_eq(cano_topic_open(db, "t", &t), CANO_OK);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(cano_topic_name(t), "t");
    ck_assert_int_eq(cano_topic_partitions(t), 1);
    char p[TU_PATH_MAX];
    ck_assert(tu_is_dir(tu_path(p, "%s/t", store)));
    ck_assert(tu_exists(tu_path(p, "%s/t/topic.conf", store)));
    ck_assert(tu_is_dir(tu_path(p, "%s/t/0", store)));
    ck_assert(!tu_exists(tu_path(p, "%s/t/1", store)));
    cano_topic_config c = get_config(t);
    ck_assert_uint_eq(c.size, sizeof c);
    assert_default_config(&c, 1);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 0);
    ck_assert_int_eq(pi.end_offset, 0);
    ck_assert_int_eq(pi.bytes, 0);
    ck_assert_int_eq(pi.max_timestamp, -1);
    ck_assert_int_eq(pi.durable_offset, 0);
    ck_assert_int_le(pi.segments, 1);
    /* The same handle each time it is opened is fine; a valid one is
     * required. */
    cano_topic_t *t2 = NULL;
    ck_assert_int_eq(cano_topic_open(db, "t", &t2), CANO_OK);
    ck_assert_str_eq(cano_topic_name(t2), "t");
    reopen();
    t = tu_topic(db, "t");
    ck_assert_int_eq(cano_topic_partitions(t), 1);
    c = get_config(t);
    assert_default_config(&c, 1);
}
END_TEST

START_TEST(test_topic_partition_directories)
{
    cano_topic_config c = tu_config(8, 0);
    cano_topic_t *t = tu_create(db, "multi", &c);
    ck_assert_int_eq(cano_topic_partitions(t), 8);
    char p[TU_PATH_MAX];
    for (int i = 0; i < 8; i++) {
        ck_assert(tu_is_dir(tu_part_dir(p, store, "multi", i)));
        cano_partition_info pi = tu_stat(t, i);
        ck_assert_int_eq(pi.end_offset, 0);
    }
    ck_assert(!tu_exists(tu_part_dir(p, store, "multi", 8)));
    tu_append_kv(t, 5, "k", "v", 1);
    ck_assert(tu_exists(tu_seg_path(p, store, "multi", 5, 0, ".log")));
    reopen();
    t = tu_topic(db, "multi");
    ck_assert_int_eq(cano_topic_partitions(t), 8);
    ck_assert_int_eq(tu_end_offset(t, 5), 1);
    ck_assert_int_eq(tu_end_offset(t, 4), 0);
}
END_TEST

static const char *valid_names[] = {
    "LOCK", "a.b-c_D9", "a", "_a", "_", "-", "...", ".a", "a..b", "a_",
    "cano", "abc", "ABC", "0", "9-9", "topic.conf", NULL /* 249 chars */
};

START_TEST(test_topic_valid_names)
{
    char longname[250];
    memset(longname, 'x', 249);
    longname[249] = '\0';
    size_t n = sizeof valid_names / sizeof valid_names[0];
    const char *names[sizeof valid_names / sizeof valid_names[0]];
    for (size_t i = 0; i < n; i++)
        names[i] = valid_names[i] ? valid_names[i] : longname;
    for (size_t i = 0; i < n; i++) {
        int rc = cano_topic_create(db, names[i], NULL);
        ck_assert_msg(rc == CANO_OK, "create \"%.20s\" (len %zu) = %d (%s)",
                      names[i], strlen(names[i]), rc, cano_last_errmsg());
        cano_topic_t *t = tu_topic(db, names[i]);
        ck_assert_str_eq(cano_topic_name(t), names[i]);
        char p[TU_PATH_MAX];
        ck_assert(tu_is_dir(tu_path(p, "%s/%s", store, names[i])));
        tu_append_kv(t, 0, "k", names[i], 1000 + (int64_t)i);
    }
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < n; i++) {
            cano_topic_t *t = tu_topic(db, names[i]);
            tu_recs r = { 0 };
            ck_assert_int_eq(tu_read_all(t, 0, 0, &r), CANO_OK);
            ck_assert_uint_eq(r.n, 1);
            tu_assert_kv(&r.v[0], "k", names[i]);
            tu_recs_free(&r);
        }
        reopen();
    }
}
END_TEST

static int count_names(const char *name, void *payload)
{
    (void)name;
    ++*(int *)payload;
    return 0;
}

static const char *invalid_names[] = {
    "", ".", "..", "a/b", "../x", "/abs", "a b", " a", "a ", "\xc3\xa9",
    "caf\xc3\xa9", "a\nb", "\t", "a\x01", "\x7f", "a\x1b[0m", "__", "__x",
    "__consumer_offsets", "a+b", "cano+lock", "cano+clean", "a:b", "a\\b",
    "a*", "a?", "a\"b", NULL /* 250 chars */
};

START_TEST(test_topic_invalid_names_are_einval_and_create_nothing)
{
    char longname[251];
    memset(longname, 'y', 250);
    longname[250] = '\0';
    tu_names before, after;
    ck_assert_int_eq(tu_list_dir(store, &before), 0);
    size_t n = sizeof invalid_names / sizeof invalid_names[0];
    for (size_t i = 0; i < n; i++) {
        const char *name = invalid_names[i] ? invalid_names[i] : longname;
        int rc = cano_topic_create(db, name, NULL);
        ck_assert_msg(rc == CANO_EINVAL, "create name #%zu = %d", i, rc);
        cano_topic_t *t = (cano_topic_t *)0x1;
        rc = cano_topic_open(db, name, &t);
        ck_assert_msg(rc == CANO_EINVAL || rc == CANO_ENOTFOUND,
                      "open name #%zu = %d", i, rc);
        ck_assert_ptr_null(t);
        rc = cano_topic_delete(db, name);
        ck_assert_msg(rc == CANO_EINVAL || rc == CANO_ENOTFOUND,
                      "delete name #%zu = %d", i, rc);
        ck_assert_int_eq(tu_list_dir(store, &after), 0);
        ck_assert_msg(tu_names_equal(&before, &after),
                      "name #%zu changed the store directory", i);
        tu_names_free(&after);
    }
    /* 249 is the limit: the same name one shorter works. */
    longname[249] = '\0';
    ck_assert_int_eq(cano_topic_create(db, longname, NULL), CANO_OK);
    int count = 0;
    ck_assert_int_eq(cano_topic_list(db, count_names, &count), 1);
    ck_assert_int_eq(count, 1);
    ck_assert(!tu_exists(tu_path((char[TU_PATH_MAX]){ 0 }, "%s/x", dir)));
    tu_names_free(&before);
    reopen();
    count = 0;
    ck_assert_int_eq(cano_topic_list(db, count_names, &count), 1);
}
END_TEST

START_TEST(test_topic_create_existing_is_eexist)
{
    cano_topic_config c = tu_config(3, 5000);
    ck_assert_int_eq(cano_topic_create(db, "t", &c), CANO_OK);
    cano_topic_config c2 = tu_config(5, 7000);
    ck_assert_int_eq(cano_topic_create(db, "t", &c2), CANO_EEXIST);
    ck_assert_int_eq(cano_topic_create(db, "t", NULL), CANO_EEXIST);
    cano_topic_t *t = tu_topic(db, "t");
    ck_assert_int_eq(cano_topic_partitions(t), 3);
    ck_assert_int_eq(get_config(t).segment_bytes, 5000);
    reopen();
    ck_assert_int_eq(cano_topic_create(db, "t", &c2), CANO_EEXIST);
    t = tu_topic(db, "t");
    ck_assert_int_eq(cano_topic_partitions(t), 3);
    ck_assert_int_eq(get_config(t).segment_bytes, 5000);
}
END_TEST

START_TEST(test_topic_missing_is_enotfound)
{
    cano_topic_t *t = (cano_topic_t *)0x1;
    ck_assert_int_eq(cano_topic_open(db, "nope", &t), CANO_ENOTFOUND);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(cano_topic_delete(db, "nope"), CANO_ENOTFOUND);
    tu_create(db, "yes", NULL);
    t = (cano_topic_t *)0x1;
    ck_assert_int_eq(cano_topic_open(db, "Yes", &t), CANO_ENOTFOUND);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_topic_bad_args)
{
    cano_topic_t *t = NULL;
    ck_assert_int_eq(cano_topic_create(NULL, "t", NULL), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_create(db, NULL, NULL), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_open(NULL, "t", &t), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_open(db, NULL, &t), CANO_EINVAL);
    tu_create(db, "t", NULL);
    ck_assert_int_eq(cano_topic_open(db, "t", NULL), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_delete(NULL, "t"), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_delete(db, NULL), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_list(NULL, count_names, NULL), CANO_EINVAL);
    ck_assert_ptr_null(cano_topic_name(NULL));
    ck_assert_int_eq(cano_topic_partitions(NULL), CANO_EINVAL);
    cano_topic_config c;
    c.size = sizeof c;
    ck_assert_int_eq(cano_topic_config_get(NULL, &c), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_config_get(tu_topic(db, "t"), NULL),
                     CANO_EINVAL);
}
END_TEST

static cano_topic_config full_config(void)
{
    cano_topic_config c;
    ck_assert_int_eq(cano_topic_config_init(&c, sizeof c), CANO_OK);
    c.partitions = 3;
    c.segment_bytes = 12345;
    c.segment_ms = 6789;
    c.index_interval_bytes = 77;
    c.max_record_bytes = 5000;
    c.max_batch_bytes = 9000;
    c.compression = CANO_COMPRESSION_ZLIB;
    c.compression_level = 3;
    c.timestamp_type = CANO_TIMESTAMP_LOG_APPEND_TIME;
    c.sync_mode = CANO_SYNC_ALWAYS;
    c.cleanup_policy = CANO_CLEANUP_DELETE | CANO_CLEANUP_COMPACT;
    c.retention_ms = 123456;
    c.retention_bytes = 999999;
    c.delete_retention_ms = 4321;
    c.min_compaction_lag_ms = 11;
    c.max_compaction_lag_ms = 22222;
    c.min_cleanable_dirty_ratio = 0.25;
    return c;
}

START_TEST(test_topic_config_persisted_field_by_field)
{
    cano_topic_config want = full_config();
    cano_topic_t *t = tu_create(db, "full", &want);
    cano_topic_config got = get_config(t);
    assert_config_eq(&got, &want);
    ck_assert_int_eq(cano_topic_partitions(t), 3);
    for (int i = 0; i < 2; i++) {
        reopen();
        t = tu_topic(db, "full");
        got = get_config(t);
        assert_config_eq(&got, &want);
        ck_assert_int_eq(cano_topic_partitions(t), 3);
    }
}
END_TEST

/* Zeros in the *_ms fields are literal, not "the default". */
START_TEST(test_topic_config_zeros_and_minus_ones_persist)
{
    cano_topic_config want;
    ck_assert_int_eq(cano_topic_config_init(&want, sizeof want), CANO_OK);
    want.partitions = 2;
    want.segment_bytes = 1;
    want.segment_ms = 0;
    want.index_interval_bytes = 0;
    want.max_record_bytes = 1;
    want.max_batch_bytes = 256LL << 20;
    want.compression = CANO_COMPRESSION_NONE;
    want.compression_level = 9;
    want.timestamp_type = CANO_TIMESTAMP_CREATE_TIME;
    want.sync_mode = CANO_SYNC_NONE;
    want.cleanup_policy = CANO_CLEANUP_COMPACT;
    want.retention_ms = 0;
    want.retention_bytes = 0;
    want.delete_retention_ms = 0;
    want.min_compaction_lag_ms = 0;
    want.max_compaction_lag_ms = 0;
    want.min_cleanable_dirty_ratio = 0.0;
    cano_topic_t *t = tu_create(db, "zeros", &want);
    cano_topic_config got = get_config(t);
    assert_config_eq(&got, &want);

    cano_topic_config want2 = want;
    want2.segment_bytes = 1LL << 31;
    want2.segment_ms = 1000000000000000LL;
    want2.index_interval_bytes = 1LL << 31;
    want2.retention_ms = -1;
    want2.retention_bytes = -1;
    want2.max_compaction_lag_ms = -1;
    want2.delete_retention_ms = 1LL << 50;
    want2.min_cleanable_dirty_ratio = 1.0;
    want2.sync_mode = CANO_SYNC_INTERVAL;
    want2.cleanup_policy = CANO_CLEANUP_DELETE;
    t = tu_create(db, "big", &want2);
    got = get_config(t);
    assert_config_eq(&got, &want2);

    reopen();
    got = get_config(tu_topic(db, "zeros"));
    assert_config_eq(&got, &want);
    got = get_config(tu_topic(db, "big"));
    assert_config_eq(&got, &want2);
}
END_TEST

/* The header puts no upper bound on index_interval_bytes (">= 0"): a huge
 * interval just means "no index entries". */
START_TEST(test_topic_config_index_interval_has_no_upper_bound)
{
    cano_topic_config c;
    ck_assert_int_eq(cano_topic_config_init(&c, sizeof c), CANO_OK);
    c.index_interval_bytes = 1LL << 40;
    int rc = cano_topic_create(db, "huge", &c);
    ck_assert_msg(rc == CANO_OK, "create = %d (%s)", rc, cano_last_errmsg());
    cano_topic_t *t = tu_topic(db, "huge");
    ck_assert_int_eq(get_config(t).index_interval_bytes, 1LL << 40);
    tu_append_gen(t, 0, 5, 0, 50);
    reopen();
    t = tu_topic(db, "huge");
    ck_assert_int_eq(get_config(t).index_interval_bytes, 1LL << 40);
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(t, 0, 37, 1, tu_collect, &got), 1);
    ck_assert(tu_gen_matches(&got.v[0], 5, 37));
    tu_recs_free(&got);
}
END_TEST

START_TEST(test_topic_config_ratio_round_trips_exactly)
{
    const double ratios[] = { 0.1, 0.3, 0.1234567890123456789, 2.0 / 3.0,
                              1e-300, 0.999999999999999 };
    for (size_t i = 0; i < sizeof ratios / sizeof ratios[0]; i++) {
        cano_topic_config c;
        ck_assert_int_eq(cano_topic_config_init(&c, sizeof c), CANO_OK);
        c.min_cleanable_dirty_ratio = ratios[i];
        char name[16];
        snprintf(name, sizeof name, "r%zu", i);
        tu_create(db, name, &c);
    }
    reopen();
    for (size_t i = 0; i < sizeof ratios / sizeof ratios[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%zu", i);
        cano_topic_config got = get_config(tu_topic(db, name));
        ck_assert_msg(got.min_cleanable_dirty_ratio == ratios[i],
                      "ratio %.17g came back as %.17g", ratios[i],
                      got.min_cleanable_dirty_ratio);
    }
}
END_TEST

#define N_BAD_CONFIGS 29

static void make_bad_config(int k, cano_topic_config *c)
{
    ck_assert_int_eq(cano_topic_config_init(c, sizeof *c), CANO_OK);
    switch (k) {
    case 0: c->partitions = -1; break;
    case 1: c->partitions = 100001; break;
    case 2: c->segment_bytes = -1; break;
    case 3: c->segment_bytes = (1LL << 31) + 1; break;
    case 4: c->segment_ms = -1; break;
    case 5: c->index_interval_bytes = -1; break;
    case 6: c->max_record_bytes = -1; break;
    case 7: c->max_batch_bytes = -1; break;
    case 8: c->max_batch_bytes = (256LL << 20) + 1; break;
    case 9: c->compression = 2; break;
    case 10: c->compression = -1; break;
    case 11: c->compression = CANO_COMPRESSION_ZLIB;
             c->compression_level = 10; break;
    case 12: c->compression = CANO_COMPRESSION_ZLIB;
             c->compression_level = -1; break;
    case 13: c->timestamp_type = 2; break;
    case 14: c->timestamp_type = -1; break;
    case 15: c->sync_mode = 4; break;
    case 16: c->sync_mode = -1; break;
    case 17: c->cleanup_policy = 4; break;
    case 18: c->reserved0 = 1; break;
    case 19: c->retention_ms = -2; break;
    case 20: c->retention_bytes = -2; break;
    case 21: c->delete_retention_ms = -1; break;
    case 22: c->min_compaction_lag_ms = -1; break;
    case 23: c->max_compaction_lag_ms = -2; break;
    case 24: c->min_cleanable_dirty_ratio = -0.1; break;
    case 25: c->min_cleanable_dirty_ratio = 1.5; break;
    case 26: c->min_cleanable_dirty_ratio = NAN; break;
    case 27: c->size = 4; break;
    case 28: c->partitions = INT32_MIN; break;
    }
}

START_TEST(test_topic_bad_config_is_einval_and_creates_nothing)
{
    cano_topic_config c;
    make_bad_config(_i, &c);
    tu_names before, after;
    ck_assert_int_eq(tu_list_dir(store, &before), 0);
    int rc = cano_topic_create(db, "bad", &c);
    ck_assert_msg(rc == CANO_EINVAL, "bad config #%d: rc %d", _i, rc);
    ck_assert_int_eq(tu_list_dir(store, &after), 0);
    ck_assert(tu_names_equal(&before, &after));
    cano_topic_t *t = (cano_topic_t *)0x1;
    ck_assert_int_eq(cano_topic_open(db, "bad", &t), CANO_ENOTFOUND);
    ck_assert_ptr_null(t);
    /* The name is still free. */
    ck_assert_int_eq(cano_topic_create(db, "bad", NULL), CANO_OK);
    tu_names_free(&before);
    tu_names_free(&after);
}
END_TEST

START_TEST(test_topic_edge_configs_are_valid)
{
    for (int k = 0; k < 12; k++) {
        cano_topic_config c;
        ck_assert_int_eq(cano_topic_config_init(&c, sizeof c), CANO_OK);
        switch (k) {
        case 0: c.segment_bytes = 1; break;
        case 1: c.segment_bytes = 1LL << 31; break;
        case 2: c.max_batch_bytes = 256LL << 20; break;
        case 3: c.segment_ms = 0; break;
        case 4: c.retention_ms = -1; break;
        case 5: c.retention_ms = 0; break;
        case 6: c.min_cleanable_dirty_ratio = 0.0; break;
        case 7: c.min_cleanable_dirty_ratio = 1.0; break;
        case 8: c.compression = CANO_COMPRESSION_ZLIB;
                c.compression_level = 1; break;
        case 9: c.compression = CANO_COMPRESSION_ZLIB;
                c.compression_level = 9; break;
        case 10: c.index_interval_bytes = 0; break;
        case 11: c.partitions = 64; break;
        }
        char name[16];
        snprintf(name, sizeof name, "e%d", k);
        int rc = cano_topic_create(db, name, &c);
        ck_assert_msg(rc == CANO_OK, "edge config #%d: rc %d (%s)", k, rc,
                      cano_last_errmsg());
        cano_topic_t *t = tu_topic(db, name);
        ck_assert_int_eq(tu_append_kv(t, 0, "k", "v", 5), 0);
    }
}
END_TEST

START_TEST(test_topic_config_size_zero_and_larger_struct)
{
    /* size 0 reads as the first published layout. */
    cano_topic_config c;
    ck_assert_int_eq(cano_topic_config_init(&c, sizeof c), CANO_OK);
    c.partitions = 2;
    c.size = 0;
    ck_assert_int_eq(cano_topic_create(db, "s0", &c), CANO_OK);
    ck_assert_int_eq(cano_topic_partitions(tu_topic(db, "s0")), 2);

    struct {
        cano_topic_config c;
        uint64_t extra[3];
    } big;
    memset(&big, 0xcd, sizeof big);
    ck_assert_int_eq(cano_topic_config_init(&big.c, sizeof big), CANO_OK);
    ck_assert_uint_eq(big.c.size, sizeof big);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(big.extra[i], 0);
    big.c.partitions = 4;
    ck_assert_int_eq(cano_topic_create(db, "big", &big.c), CANO_OK);
    ck_assert_int_eq(cano_topic_partitions(tu_topic(db, "big")), 4);
    big.extra[1] = 1;
    ck_assert_int_eq(cano_topic_create(db, "big2", &big.c), CANO_EINVAL);
    cano_topic_t *t = NULL;
    ck_assert_int_eq(cano_topic_open(db, "big2", &t), CANO_ENOTFOUND);
}
END_TEST

START_TEST(test_topic_corrupt_config_file_is_ecorrupt)
{
    tu_create(db, "t", NULL);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = NULL;
    char p[TU_PATH_MAX];
    tu_path(p, "%s/t/topic.conf", store);
    int64_t sz = tu_file_size(p);
    ck_assert_int_gt(sz, 30);
    /* Change one digit of a value in the middle of the file. */
    size_t len;
    unsigned char *buf = tu_read_file(p, &len);
    ck_assert_ptr_nonnull(buf);
    char *eq = strstr((char *)buf, "partitions=");
    ck_assert_ptr_nonnull(eq);
    size_t pos = (size_t)(eq - (char *)buf) + strlen("partitions=");
    ck_assert(buf[pos] >= '0' && buf[pos] <= '9');
    unsigned char nd = buf[pos] == '1' ? '2' : '1';
    free(buf);
    ck_assert_int_eq(tu_pwrite(p, &nd, 1, (int64_t)pos), 0);
    cano_t *d2 = (cano_t *)0x1;
    ck_assert_int_eq(cano_open(store, NULL, &d2), CANO_ECORRUPT);
    ck_assert_ptr_null(d2);
}
END_TEST

START_TEST(test_topic_list_empty_and_bad_args)
{
    int count = 0;
    ck_assert_int_eq(cano_topic_list(db, count_names, &count), 0);
    ck_assert_int_eq(count, 0);
    ck_assert_int_eq(cano_topic_list(db, NULL, NULL), CANO_EINVAL);
    ck_assert_int_eq(cano_topic_list(NULL, count_names, &count), CANO_EINVAL);
}
END_TEST

typedef struct name_list {
    char names[32][64];
    int n;
    int stop_at;
} name_list;

static int collect_name(const char *name, void *payload)
{
    name_list *l = payload;
    if (l->n < 32)
        snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    l->n++;
    return l->stop_at && l->n >= l->stop_at;
}

START_TEST(test_topic_list_order_and_stop)
{
    const char *names[] = { "b", "a", "C", "a.b", "_z", "-x", "9", "LOCK",
                            "aa" };
    const char *sorted[] = { "-x", "9", "C", "LOCK", "_z", "a", "a.b", "aa",
                             "b" };
    for (size_t i = 0; i < 9; i++)
        ck_assert_int_eq(cano_topic_create(db, names[i], NULL), CANO_OK);
    for (int round = 0; round < 2; round++) {
        name_list l;
        memset(&l, 0, sizeof l);
        ck_assert_int_eq(cano_topic_list(db, collect_name, &l), 9);
        ck_assert_int_eq(l.n, 9);
        for (int i = 0; i < 9; i++)
            ck_assert_str_eq(l.names[i], sorted[i]);
        memset(&l, 0, sizeof l);
        l.stop_at = 3;
        ck_assert_int_eq(cano_topic_list(db, collect_name, &l), 3);
        ck_assert_int_eq(l.n, 3);
        ck_assert_str_eq(l.names[2], "C");
        reopen();
    }
    ck_assert_int_eq(cano_topic_delete(db, "a"), CANO_OK);
    name_list l;
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(cano_topic_list(db, collect_name, &l), 8);
    ck_assert_str_eq(l.names[5], "a.b");
}
END_TEST

START_TEST(test_topic_deleted_handle_is_enotfound)
{
    cano_topic_config c = tu_config(2, 0);
    cano_topic_t *t = tu_create(db, "t", &c);
    tu_append_kv(t, 0, "k", "v", 10);
    tu_append_kv(t, 1, "k", "v", 10);
    ck_assert_int_eq(cano_topic_delete(db, "t"), CANO_OK);

    cano_record r = tu_rec("k", "v", 0);
    int32_t part;
    int64_t off;
    ck_assert_int_eq(cano_append(t, 0, &r, &part, &off), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_append(t, CANO_PARTITION_AUTO, &r, &part, &off),
                     CANO_ENOTFOUND);
    ck_assert_int_eq(cano_append_batch(t, 1, &r, 1, &off), CANO_ENOTFOUND);
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(t, 0, 0, 10, tu_collect, &got),
                     CANO_ENOTFOUND);
    ck_assert_uint_eq(got.n, 0);
    cano_reader_t *rd = (cano_reader_t *)0x1;
    ck_assert_int_eq(cano_reader_open(t, 0, CANO_OFFSET_EARLIEST, &rd),
                     CANO_ENOTFOUND);
    ck_assert_ptr_null(rd);
    ck_assert_int_eq(cano_offset_for_time(t, 0, 0, &off), CANO_ENOTFOUND);
    cano_partition_info pi;
    pi.size = sizeof pi;
    ck_assert_int_eq(cano_partition_stat(t, 0, &pi), CANO_ENOTFOUND);
    cano_topic_config cfg;
    cfg.size = sizeof cfg;
    ck_assert_int_eq(cano_topic_config_get(t, &cfg), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_partition_for_key(t, "k", 1), CANO_ENOTFOUND);
    ck_assert_str_eq(cano_topic_name(t), "t");
    cano_topic_t *t2 = (cano_topic_t *)0x1;
    ck_assert_int_eq(cano_topic_open(db, "t", &t2), CANO_ENOTFOUND);
    ck_assert_ptr_null(t2);
    ck_assert_int_eq(cano_topic_delete(db, "t"), CANO_ENOTFOUND);
    reopen();
    ck_assert_int_eq(cano_topic_open(db, "t", &t2), CANO_ENOTFOUND);
}
END_TEST

START_TEST(test_topic_recreate_after_delete_is_empty)
{
    cano_topic_config c = tu_config(1, 200);
    cano_topic_t *t = tu_create(db, "t", &c);
    tu_append_gen(t, 0, 1, 0, 50);
    ck_assert_int_eq(cano_topic_delete(db, "t"), CANO_OK);
    c = tu_config(2, 0);
    ck_assert_int_eq(cano_topic_create(db, "t", &c), CANO_OK);
    cano_topic_t *t2 = tu_topic(db, "t");
    ck_assert_int_eq(cano_topic_partitions(t2), 2);
    ck_assert_int_eq(get_config(t2).segment_bytes, 1LL << 30);
    for (int p = 0; p < 2; p++) {
        cano_partition_info pi = tu_stat(t2, p);
        ck_assert_int_eq(pi.start_offset, 0);
        ck_assert_int_eq(pi.end_offset, 0);
        ck_assert_int_eq(pi.bytes, 0);
        ck_assert_int_eq(pi.max_timestamp, -1);
    }
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(t2, 0, 0, 10, tu_collect, &got), 0);
    char p[TU_PATH_MAX];
    int64_t *bases;
    int nseg = tu_segment_bases(store, "t", 0, &bases);
    ck_assert_int_le(nseg, 1);
    if (nseg == 1)
        ck_assert_int_eq(bases[0], 0);
    free(bases);
    ck_assert_int_eq(tu_append_kv(t2, 0, "new", "one", 7), 0);
    tu_read_all(t2, 0, 0, &got);
    ck_assert_uint_eq(got.n, 1);
    tu_assert_kv(&got.v[0], "new", "one");
    tu_recs_free(&got);
    reopen();
    t2 = tu_topic(db, "t");
    ck_assert_int_eq(tu_end_offset(t2, 0), 1);
    ck_assert_int_eq(tu_end_offset(t2, 1), 0);
    ck_assert(!tu_exists(tu_seg_path(p, store, "t", 0, 1, ".log")));
}
END_TEST

/* The header says calls on a deleted topic's handle return ENOTFOUND; a new
 * topic of the same name must not bring the old handle back to life. */
START_TEST(test_topic_old_handle_stays_deleted_after_recreate)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    tu_append_kv(t, 0, "k", "v", 10);
    ck_assert_int_eq(cano_topic_delete(db, "t"), CANO_OK);
    cano_topic_t *t2 = tu_create(db, "t", NULL);
    cano_record r = tu_rec("k", "v", 0);
    int64_t off;
    if (t2 != t) {
        ck_assert_int_eq(cano_append(t, 0, &r, NULL, &off), CANO_ENOTFOUND);
        cano_partition_info pi;
        pi.size = sizeof pi;
        ck_assert_int_eq(cano_partition_stat(t, 0, &pi), CANO_ENOTFOUND);
    }
    ck_assert_int_eq(cano_append(t2, 0, &r, NULL, &off), CANO_OK);
    ck_assert_int_eq(off, 0);
}
END_TEST

START_TEST(test_topic_delete_leaves_no_files)
{
    tu_names before, after;
    ck_assert_int_eq(tu_list_dir(store, &before), 0);
    cano_topic_config c = tu_config(3, 150);
    cano_topic_t *t = tu_create(db, "gone", &c);
    for (int p = 0; p < 3; p++)
        tu_append_gen(t, p, 2, 0, 40);
    tu_create(db, "kept", NULL);
    tu_append_kv(tu_topic(db, "kept"), 0, "k", "v", 1);
    ck_assert_int_eq(cano_topic_delete(db, "gone"), CANO_OK);
    char p[TU_PATH_MAX];
    ck_assert(!tu_exists(tu_path(p, "%s/gone", store)));
    ck_assert_int_eq(tu_list_dir(store, &after), 0);
    /* Only "kept" was added. */
    ck_assert_uint_eq(after.n, before.n + 1);
    ck_assert(tu_names_has(&after, "kept"));
    for (size_t i = 0; i < after.n; i++)
        ck_assert_msg(strstr(after.v[i], "gone") == NULL, "left: %s",
                      after.v[i]);
    tu_names_free(&after);
    reopen();
    ck_assert_int_eq(tu_list_dir(store, &after), 0);
    ck_assert_uint_eq(after.n, before.n + 1);
    for (size_t i = 0; i < after.n; i++)
        ck_assert_msg(strstr(after.v[i], "gone") == NULL, "left: %s",
                      after.v[i]);
    tu_names_free(&after);
    tu_names_free(&before);
    ck_assert_int_eq(tu_end_offset(tu_topic(db, "kept"), 0), 1);
}
END_TEST

/* The rename succeeded, the directory sync after it failed: the topic is
 * gone (its files sit under a name the next open removes), the caller
 * hears CANO_EIO, and the store refuses writes until reopened. */
START_TEST(test_topic_delete_sync_failure_after_rename)
{
    cano_topic_t *t = tu_create(db, "gone", NULL);
    tu_append_kv(t, 0, "k", "v", 1);
    tu_create(db, "kept", NULL);
    cano__test_io_fail_after(2, EIO, false);   /* 1 rename, 2 fsync_dir */
    ck_assert_int_eq(cano_topic_delete(db, "gone"), CANO_EIO);
    cano__test_io_fail_after(0, 0, false);
    cano_topic_t *h;
    ck_assert_int_eq(cano_topic_open(db, "gone", &h), CANO_ENOTFOUND);
    cano_record r = tu_rec("k", "v", 0);
    ck_assert_int_eq(cano_append(tu_topic(db, "kept"), 0, &r, NULL, NULL),
                     CANO_EFATAL);
    ck_assert_int_eq(cano_close(db), CANO_EFATAL);
    db = tu_open(store);
    ck_assert_int_eq(cano_topic_open(db, "gone", &h), CANO_ENOTFOUND);
    char path[TU_PATH_MAX];
    ck_assert(!tu_exists(tu_path(path, "%s/gone", store)));
    ck_assert_int_eq(tu_end_offset(tu_topic(db, "kept"), 0), 0);
}
END_TEST

START_TEST(test_topic_delete_all_then_reopen)
{
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        tu_append_kv(tu_create(db, name, NULL), 0, "k", name, 1);
    }
    for (int i = 0; i < 10; i += 2) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        ck_assert_int_eq(cano_topic_delete(db, name), CANO_OK);
    }
    reopen();
    name_list l;
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(cano_topic_list(db, collect_name, &l), 5);
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", 2 * i + 1);
        ck_assert_str_eq(l.names[i], name);
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(tu_topic(db, name), 0, 0, &got),
                         CANO_OK);
        ck_assert_uint_eq(got.n, 1);
        tu_assert_kv(&got.v[0], "k", name);
        tu_recs_free(&got);
    }
}
END_TEST

Suite *topic_suite(void)
{
    Suite *s = suite_create("topic");
    TCase *tc = tcase_create("names");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_topic_create_open_with_defaults);
    tcase_add_test(tc, test_topic_partition_directories);
    tcase_add_test(tc, test_topic_valid_names);
    tcase_add_test(tc, test_topic_invalid_names_are_einval_and_create_nothing);
    tcase_add_test(tc, test_topic_create_existing_is_eexist);
    tcase_add_test(tc, test_topic_missing_is_enotfound);
    tcase_add_test(tc, test_topic_bad_args);
    tcase_add_test(tc, test_topic_list_empty_and_bad_args);
    tcase_add_test(tc, test_topic_list_order_and_stop);
    suite_add_tcase(s, tc);

    tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_topic_config_init_defaults);
    tcase_add_test(tc, test_topic_config_persisted_field_by_field);
    tcase_add_test(tc, test_topic_config_zeros_and_minus_ones_persist);
    tcase_add_test(tc, test_topic_config_ratio_round_trips_exactly);
    tcase_add_test(tc, test_topic_config_index_interval_has_no_upper_bound);
    tcase_add_loop_test(tc, test_topic_bad_config_is_einval_and_creates_nothing,
                        0, N_BAD_CONFIGS);
    tcase_add_test(tc, test_topic_edge_configs_are_valid);
    tcase_add_test(tc, test_topic_config_size_zero_and_larger_struct);
    tcase_add_test(tc, test_topic_corrupt_config_file_is_ecorrupt);
    suite_add_tcase(s, tc);

    tc = tcase_create("delete");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_topic_deleted_handle_is_enotfound);
    tcase_add_test(tc, test_topic_recreate_after_delete_is_empty);
    tcase_add_test(tc, test_topic_old_handle_stays_deleted_after_recreate);
    tcase_add_test(tc, test_topic_delete_leaves_no_files);
    tcase_add_test(tc, test_topic_delete_sync_failure_after_rename);
    tcase_add_test(tc, test_topic_delete_all_then_reopen);
    suite_add_tcase(s, tc);
    return s;
}
