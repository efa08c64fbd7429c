/* check_store.c - opening, locking and closing a store; options; errors. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "testutil.h"

static char dir[64];     /* fresh directory per test */
static char store[TU_PATH_MAX];

static void setup(void)
{
    ck_assert_int_eq(tu_mkdtemp(dir, sizeof dir), 0);
    tu_path(store, "%s/store", dir);
}

static void teardown(void)
{
    tu_rmtree(dir);
}

static int clean_marker(const char *s)
{
    char p[TU_PATH_MAX];
    return tu_exists(tu_path(p, "%s/cano+clean", s));
}

START_TEST(test_store_open_creates_missing_dir)
{
    ck_assert(!tu_exists(store));
    cano_t *db = (cano_t *)0x1;
    ck_assert_int_eq(cano_open(store, NULL, &db), CANO_OK);
    ck_assert_ptr_nonnull(db);
    ck_assert(tu_is_dir(store));
    ck_assert_int_eq(cano_close(db), CANO_OK);
    ck_assert(tu_is_dir(store));
}
END_TEST

START_TEST(test_store_open_existing_empty_dir)
{
    cano_t *db = NULL;
    ck_assert_int_eq(cano_open(dir, NULL, &db), CANO_OK);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_store_must_exist_missing_is_enotfound)
{
    cano_options o;
    ck_assert_int_eq(cano_options_init(&o, sizeof o), CANO_OK);
    o.flags = CANO_OPEN_MUST_EXIST;
    cano_t *db = (cano_t *)0x1;
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_ENOTFOUND);
    ck_assert_ptr_null(db);
    ck_assert(!tu_exists(store));
    ck_assert_ptr_nonnull(cano_last_errmsg());
}
END_TEST

START_TEST(test_store_must_exist_existing_store_opens)
{
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_create(db, "t", NULL);
    tu_append_kv(t, 0, "k", "v", 5);
    ck_assert_int_eq(cano_close(db), CANO_OK);

    cano_options o;
    ck_assert_int_eq(cano_options_init(&o, sizeof o), CANO_OK);
    o.flags = CANO_OPEN_MUST_EXIST;
    db = NULL;
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_OK);
    ck_assert_ptr_nonnull(db);
    t = tu_topic(db, "t");
    ck_assert_int_eq(tu_end_offset(t, 0), 1);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_store_parent_missing_fails)
{
    char p[TU_PATH_MAX];
    tu_path(p, "%s/no/such/parent", dir);
    cano_t *db = (cano_t *)0x1;
    int rc = cano_open(p, NULL, &db);
    ck_assert_int_lt(rc, 0);
    ck_assert_ptr_null(db);
    ck_assert(!tu_exists(p));
    ck_assert(!tu_exists(tu_path(p, "%s/no", dir)));
}
END_TEST

START_TEST(test_store_open_regular_file_fails)
{
    ck_assert_int_eq(tu_write_file(store, "x", 1), 0);
    cano_t *db = (cano_t *)0x1;
    int rc = cano_open(store, NULL, &db);
    ck_assert_int_lt(rc, 0);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(tu_file_size(store), 1);
}
END_TEST

START_TEST(test_store_open_bad_args)
{
    cano_t *db = (cano_t *)0x1;
    ck_assert_int_eq(cano_open(NULL, NULL, &db), CANO_EINVAL);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(cano_open(store, NULL, NULL), CANO_EINVAL);
    ck_assert(!tu_exists(store));
    db = (cano_t *)0x1;
    ck_assert_int_lt(cano_open("", NULL, &db), 0);
    ck_assert_ptr_null(db);
}
END_TEST

START_TEST(test_store_close_null_is_ok)
{
    ck_assert_int_eq(cano_close(NULL), CANO_OK);
}
END_TEST

START_TEST(test_store_double_open_same_process_is_elocked)
{
    cano_t *db = tu_open(store);
    cano_t *db2 = (cano_t *)0x1;
    ck_assert_int_eq(cano_open(store, NULL, &db2), CANO_ELOCKED);
    ck_assert_ptr_null(db2);
    /* Also through another spelling of the same directory. */
    char p[TU_PATH_MAX];
    db2 = (cano_t *)0x1;
    ck_assert_int_eq(cano_open(tu_path(p, "%s/./store/", dir), NULL, &db2),
                     CANO_ELOCKED);
    ck_assert_ptr_null(db2);
    /* The failed opens did not disturb the first one. */
    cano_topic_t *t = tu_create(db, "t", NULL);
    tu_append_kv(t, 0, "k", "v", 1);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = tu_open(store);
    ck_assert_int_eq(tu_end_offset(tu_topic(db, "t"), 0), 1);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

static int child_expect_locked(void *arg)
{
    cano_t *db = (cano_t *)0x1;
    int rc = cano_open((const char *)arg, NULL, &db);
    if (rc != CANO_ELOCKED)
        return 10 + (rc < 0 ? -rc : rc);
    return db == NULL ? 0 : 2;
}

START_TEST(test_store_double_open_from_child_of_owner_is_elocked)
{
    cano_t *db = tu_open(store);
    ck_assert_int_eq(tu_run_child(child_expect_locked, store, 0), 0);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_store_double_open_while_other_process_holds_is_elocked)
{
    int up[2], down[2];
    ck_assert_int_eq(pipe(up), 0);
    ck_assert_int_eq(pipe(down), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        cano_t *db = NULL;
        char c = cano_open(store, NULL, &db) == CANO_OK ? 'o' : 'x';
        if (write(up[1], &c, 1) != 1)
            _exit(3);
        if (read(down[0], &c, 1) != 1)
            _exit(4);
        _exit(cano_close(db) == CANO_OK ? 0 : 5);
    }
    char c = 0;
    ck_assert_int_eq(read(up[0], &c, 1), 1);
    ck_assert_int_eq(c, 'o');
    cano_t *db = (cano_t *)0x1;
    int rc = cano_open(store, NULL, &db);
    ck_assert_int_eq(rc, CANO_ELOCKED);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(write(down[1], "g", 1), 1);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    /* The lock went away with the other process's close. */
    db = tu_open(store);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

static int child_open_and_die(void *arg)
{
    cano_t *db = NULL;
    return cano_open((const char *)arg, NULL, &db) == CANO_OK ? 0 : 1;
}

START_TEST(test_store_lock_released_when_owner_dies)
{
    ck_assert_int_eq(tu_run_child(child_open_and_die, store, 0), 0);
    cano_t *db = tu_open(store);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    ck_assert_int_eq(tu_run_child(child_open_and_die, store, 1), 0);
    db = tu_open(store);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_store_reopen_after_close_in_same_process)
{
    for (int i = 0; i < 20; i++) {
        cano_t *db = tu_open(store);
        cano_topic_t *t;
        if (i == 0)
            t = tu_create(db, "t", NULL);
        else
            t = tu_topic(db, "t");
        ck_assert_int_eq(tu_end_offset(t, 0), i);
        ck_assert_int_eq(tu_append_kv(t, 0, "k", "v", 100 + i), i);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
}
END_TEST

START_TEST(test_store_clean_marker_only_after_close)
{
    cano_t *db = tu_open(store);
    ck_assert(!clean_marker(store));
    cano_topic_t *t = tu_create(db, "t", NULL);
    tu_append_kv(t, 0, NULL, "v", 0);
    ck_assert(!clean_marker(store));
    ck_assert_int_eq(cano_close(db), CANO_OK);
    ck_assert(clean_marker(store));
    db = tu_open(store);
    ck_assert(!clean_marker(store));
    ck_assert_int_eq(cano_close(db), CANO_OK);
    ck_assert(clean_marker(store));
}
END_TEST

START_TEST(test_store_no_marker_after_unclean_stop)
{
    ck_assert_int_eq(tu_run_child(child_open_and_die, store, 0), 0);
    ck_assert(tu_is_dir(store));
    ck_assert(!clean_marker(store));
}
END_TEST

/* Store-level files use a name no topic can have, so topics such as "LOCK"
 * never collide with them. */
START_TEST(test_store_own_files_are_outside_topic_alphabet)
{
    cano_t *db = tu_open(store);
    tu_names l;
    ck_assert_int_eq(tu_list_dir(store, &l), 0);
    for (size_t i = 0; i < l.n; i++)
        ck_assert_msg(strspn(l.v[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "abcdefghijklmnopqrstuvwxyz0123456789._-")
                          != strlen(l.v[i]),
                      "store file %s could be a topic name", l.v[i]);
    tu_names_free(&l);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    ck_assert_int_eq(tu_list_dir(store, &l), 0);
    for (size_t i = 0; i < l.n; i++)
        ck_assert_msg(strspn(l.v[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "abcdefghijklmnopqrstuvwxyz0123456789._-")
                          != strlen(l.v[i]),
                      "store file %s could be a topic name", l.v[i]);
    tu_names_free(&l);
}
END_TEST

START_TEST(test_store_options_init_defaults)
{
    cano_options o;
    memset(&o, 0xab, sizeof o);
    ck_assert_int_eq(cano_options_init(&o, sizeof o), CANO_OK);
    ck_assert_uint_eq(o.size, sizeof o);
    ck_assert_uint_eq(o.flags, 0);
    ck_assert_int_eq(o.sync_mode, CANO_SYNC_INTERVAL);
    ck_assert_int_eq(o.sync_interval_ms, 1000);
    ck_assert_int_eq(o.max_open_files, 4096);
    ck_assert_uint_eq(o.file_mode, 0644);
    ck_assert_uint_eq(o.dir_mode, 0755);
    ck_assert_int_eq(o.reserved0, 0);
}
END_TEST

START_TEST(test_store_options_init_bad_args)
{
    cano_options o;
    ck_assert_int_eq(cano_options_init(NULL, sizeof o), CANO_EINVAL);
    ck_assert_int_eq(cano_options_init(&o, 0), CANO_EINVAL);
    ck_assert_int_eq(cano_options_init(&o, 4), CANO_EINVAL);
    ck_assert_int_eq(cano_options_init(&o, sizeof o - 1), CANO_EINVAL);
}
END_TEST

/* A caller compiled against a later header passes a larger struct: init
 * fills what it knows and zeroes the rest; open accepts a zero tail and
 * refuses a non-zero one. */
START_TEST(test_store_options_larger_struct)
{
    struct {
        cano_options o;
        uint64_t extra[4];
    } big;
    memset(&big, 0xab, sizeof big);
    ck_assert_int_eq(cano_options_init(&big.o, sizeof big), CANO_OK);
    ck_assert_uint_eq(big.o.size, sizeof big);
    ck_assert_int_eq(big.o.sync_mode, CANO_SYNC_INTERVAL);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(big.extra[i], 0);
    cano_t *db = NULL;
    ck_assert_int_eq(cano_open(store, &big.o, &db), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    big.extra[2] = 7;
    db = (cano_t *)0x1;
    ck_assert_int_eq(cano_open(store, &big.o, &db), CANO_EINVAL);
    ck_assert_ptr_null(db);
}
END_TEST

START_TEST(test_store_options_zero_filled_are_valid)
{
    cano_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    cano_t *db = NULL;
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    memset(&o, 0, sizeof o);   /* size 0: the first published layout */
    db = NULL;
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_store_options_each_sync_mode_opens)
{
    const int32_t modes[] = { CANO_SYNC_DEFAULT, CANO_SYNC_NONE,
                              CANO_SYNC_INTERVAL, CANO_SYNC_ALWAYS };
    for (size_t i = 0; i < 4; i++) {
        cano_t *db = tu_open_opts(store, modes[i]);
        cano_topic_t *t = i == 0 ? tu_create(db, "t", NULL)
                                 : tu_topic(db, "t");
        ck_assert_int_eq(tu_append_kv(t, 0, "k", "v", 10), (int64_t)i);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
}
END_TEST

START_TEST(test_store_options_bad_values_are_einval)
{
    for (int k = 0; k < 5; k++) {
        cano_options o;
        ck_assert_int_eq(cano_options_init(&o, sizeof o), CANO_OK);
        switch (k) {
        case 0: o.sync_mode = 4; break;
        case 1: o.sync_mode = -1; break;
        case 2: o.reserved0 = 1; break;
        case 3: o.size = 4; break;
        case 4: o.sync_interval_ms = -1; break;
        }
        cano_t *db = (cano_t *)0x1;
        int rc = cano_open(store, &o, &db);
        ck_assert_msg(rc == CANO_EINVAL, "case %d: rc %d", k, rc);
        ck_assert_ptr_null(db);
        ck_assert_msg(!tu_exists(store), "case %d created the store", k);
    }
}
END_TEST

START_TEST(test_store_strerror_every_code_distinct)
{
    const int codes[] = { CANO_OK, CANO_EINVAL, CANO_ENOMEM, CANO_EIO,
                          CANO_ENOSPC, CANO_ELOCKED, CANO_ENOTFOUND,
                          CANO_EEXIST, CANO_ECORRUPT, CANO_EOFFSET,
                          CANO_ETOOBIG, CANO_ETIMEDOUT, CANO_ECLOSED,
                          CANO_EFATAL };
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(codes[i], -(int)i);   /* frozen numbers */
        const char *s = cano_strerror(codes[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(strlen(s), 0);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(s, cano_strerror(codes[j])) != 0,
                          "codes %d and %d share \"%s\"", codes[i], codes[j],
                          s);
    }
    const int unknown[] = { -14, -1000, 1, 42, INT_MIN, INT_MAX };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = cano_strerror(unknown[i]);
        ck_assert_ptr_nonnull(s);
        for (size_t j = 0; j < n; j++)
            ck_assert_msg(strcmp(s, cano_strerror(codes[j])) != 0,
                          "unknown code %d reads as code %d", unknown[i],
                          codes[j]);
    }
}
END_TEST

static void *errmsg_thread(void *arg)
{
    (void)arg;
    const char *m = cano_last_errmsg();
    return (void *)(m != NULL && m[0] == '\0' ? (void *)1 : NULL);
}

START_TEST(test_store_last_errmsg_never_null)
{
    ck_assert_ptr_nonnull(cano_last_errmsg());
    cano_t *db = NULL;
    cano_options o;
    ck_assert_int_eq(cano_options_init(&o, sizeof o), CANO_OK);
    o.flags = CANO_OPEN_MUST_EXIST;
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_ENOTFOUND);
    ck_assert_ptr_nonnull(cano_last_errmsg());
    ck_assert_int_eq(cano_open(NULL, NULL, &db), CANO_EINVAL);
    ck_assert_ptr_nonnull(cano_last_errmsg());
    /* A thread that never failed sees "". */
    pthread_t th;
    void *res = NULL;
    ck_assert_int_eq(pthread_create(&th, NULL, errmsg_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(th, &res), 0);
    ck_assert_ptr_eq(res, (void *)1);
}
END_TEST

START_TEST(test_store_version)
{
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", CANO_VERSION_MAJOR,
             CANO_VERSION_MINOR, CANO_VERSION_PATCH);
    ck_assert_ptr_nonnull(cano_version());
    ck_assert_str_eq(cano_version(), want);
    ck_assert_int_eq(cano_version_number(), CANO_VERSION_NUMBER);
    ck_assert_int_eq(CANO_VERSION_NUMBER, CANO_VERSION_MAJOR * 1000000 +
                                          CANO_VERSION_MINOR * 1000 +
                                          CANO_VERSION_PATCH);
}
END_TEST

START_TEST(test_store_sync)
{
    ck_assert_int_eq(cano_sync(NULL), CANO_EINVAL);
    cano_t *db = tu_open_opts(store, CANO_SYNC_NONE);
    cano_topic_t *t = tu_create(db, "t", NULL);
    for (int i = 0; i < 10; i++)
        tu_append_kv(t, 0, "k", "v", 0);
    ck_assert_int_eq(cano_sync(db), CANO_OK);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.durable_offset, 10);
    ck_assert_int_eq(pi.end_offset, 10);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_store_recovery_report_fresh_and_bad_args)
{
    tu_report r;
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(cano_recovery_report(NULL, tu_report_collect, &r),
                     CANO_EINVAL);
    cano_t *db = tu_open(store);
    ck_assert_int_eq(cano_recovery_report(db, tu_report_collect, &r), 0);
    ck_assert_int_eq(r.n, 0);
    tu_create(db, "t", NULL);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = tu_open(store);
    ck_assert_int_eq(cano_recovery_report(db, tu_report_collect, &r), 0);
    ck_assert_int_eq(r.n, 0);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("open");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_open_creates_missing_dir);
    tcase_add_test(tc, test_store_open_existing_empty_dir);
    tcase_add_test(tc, test_store_must_exist_missing_is_enotfound);
    tcase_add_test(tc, test_store_must_exist_existing_store_opens);
    tcase_add_test(tc, test_store_parent_missing_fails);
    tcase_add_test(tc, test_store_open_regular_file_fails);
    tcase_add_test(tc, test_store_open_bad_args);
    tcase_add_test(tc, test_store_close_null_is_ok);
    tcase_add_test(tc, test_store_reopen_after_close_in_same_process);
    tcase_add_test(tc, test_store_sync);
    tcase_add_test(tc, test_store_recovery_report_fresh_and_bad_args);
    suite_add_tcase(s, tc);

    tc = tcase_create("lock");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_double_open_same_process_is_elocked);
    tcase_add_test(tc, test_store_double_open_from_child_of_owner_is_elocked);
    tcase_add_test(tc,
                   test_store_double_open_while_other_process_holds_is_elocked);
    tcase_add_test(tc, test_store_lock_released_when_owner_dies);
    tcase_add_test(tc, test_store_clean_marker_only_after_close);
    tcase_add_test(tc, test_store_no_marker_after_unclean_stop);
    tcase_add_test(tc, test_store_own_files_are_outside_topic_alphabet);
    suite_add_tcase(s, tc);

    tc = tcase_create("options");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_options_init_defaults);
    tcase_add_test(tc, test_store_options_init_bad_args);
    tcase_add_test(tc, test_store_options_larger_struct);
    tcase_add_test(tc, test_store_options_zero_filled_are_valid);
    tcase_add_test(tc, test_store_options_each_sync_mode_opens);
    tcase_add_test(tc, test_store_options_bad_values_are_einval);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_strerror_every_code_distinct);
    tcase_add_test(tc, test_store_last_errmsg_never_null);
    tcase_add_test(tc, test_store_version);
    suite_add_tcase(s, tc);
    return s;
}
