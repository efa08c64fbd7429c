/* check_threads.c - concurrent writers and readers, waking readers, and a
 * store with many partitions. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* ---- 4 writers on 2 partitions, 2 tailing readers ---- */

enum { W = 4, M = 3000, PER_PART = 2 * M };

typedef struct shared {
    cano_topic_t *t;
    atomic_int writers_done;
    int64_t offsets[W][M];      /* offset each writer got for each seq */
    int write_errors[W];
} shared;

typedef struct writer_arg {
    shared *sh;
    int id;
} writer_arg;

static void *writer(void *arg)
{
    writer_arg *wa = arg;
    shared *sh = wa->sh;
    int w = wa->id, p = w % 2;
    char key[8];
    snprintf(key, sizeof key, "w%d", w);
    int seq = 0;
    while (seq < M) {
        if (seq % 10 == 7 && seq + 3 <= M) {
            char vals[3][32];
            cano_record recs[3];
            for (int j = 0; j < 3; j++) {
                snprintf(vals[j], sizeof vals[j], "w%d:%d", w, seq + j);
                recs[j] = tu_rec(key, vals[j], 0);
            }
            int64_t first = -1;
            if (cano_append_batch(sh->t, p, recs, 3, &first) != CANO_OK) {
                sh->write_errors[w]++;
                return NULL;
            }
            for (int j = 0; j < 3; j++)
                sh->offsets[w][seq + j] = first + j;
            seq += 3;
        } else {
            char val[32];
            snprintf(val, sizeof val, "w%d:%d", w, seq);
            cano_record r = tu_rec(key, val, 0);
            int32_t part = -1;
            int64_t off = -1;
            if (cano_append(sh->t, p, &r, &part, &off) != CANO_OK ||
                part != p) {
                sh->write_errors[w]++;
                return NULL;
            }
            sh->offsets[w][seq] = off;
            seq++;
        }
    }
    return NULL;
}

typedef struct seen {
    int64_t offset;
    int w, seq;
} seen;

typedef struct reader_arg {
    shared *sh;
    int partition;
    seen *got;
    int n;
    int errors;
    int timeouts;
} reader_arg;

static void *reader(void *arg)
{
    reader_arg *ra = arg;
    cano_reader_t *r = NULL;
    if (cano_reader_open(ra->sh->t, ra->partition, CANO_OFFSET_EARLIEST, &r)
        != CANO_OK) {
        ra->errors++;
        return NULL;
    }
    while (ra->n < PER_PART) {
        int done = atomic_load(&ra->sh->writers_done);
        cano_record rec;
        int rc = cano_reader_next(r, &rec, 100);
        if (rc == CANO_ETIMEDOUT) {
            ra->timeouts++;
            if (done)
                break;      /* everything was written and nothing came */
            continue;
        }
        if (rc != CANO_OK) {
            ra->errors++;
            break;
        }
        int w = -1, seq = -1;
        char buf[32];
        size_t l = rec.value_len < sizeof buf - 1 ? rec.value_len
                                                  : sizeof buf - 1;
        memcpy(buf, rec.value, l);
        buf[l] = '\0';
        if (sscanf(buf, "w%d:%d", &w, &seq) != 2 || rec.partition !=
            ra->partition || rec.key_len != 2 ||
            memcmp(rec.key, buf, 2) != 0) {
            ra->errors++;
            break;
        }
        ra->got[ra->n].offset = rec.offset;
        ra->got[ra->n].w = w;
        ra->got[ra->n].seq = seq;
        ra->n++;
    }
    /* Nothing beyond what was written. */
    cano_record rec;
    if (cano_reader_next(r, &rec, 0) != CANO_ETIMEDOUT)
        ra->errors++;
    cano_reader_close(r);
    return NULL;
}

/* A third reader takes cano_read snapshots: always a consistent prefix. */
typedef struct snap_arg {
    shared *sh;
    int bad;
    int snaps;
} snap_arg;

typedef struct snap_state {
    int64_t next;
    int bad;
} snap_state;

static int snap_cb(void *ctx, const cano_record *r)
{
    snap_state *s = ctx;
    if (r->offset != s->next || r->value == NULL || r->value_len < 4)
        s->bad++;
    s->next++;
    return 0;
}

static void *snapshotter(void *arg)
{
    snap_arg *sa = arg;
    while (!atomic_load(&sa->sh->writers_done)) {
        snap_state s = { 0, 0 };
        int rc = cano_read(sa->sh->t, 0, 0, SIZE_MAX, snap_cb, &s);
        if (rc < 0 || rc != s.next || s.bad)
            sa->bad++;
        sa->snaps++;
    }
    return NULL;
}

START_TEST(test_threads_writers_and_tailing_readers)
{
    cano_topic_config c = tu_config(2, 8192);
    c.index_interval_bytes = 512;
    shared *sh = calloc(1, sizeof *sh);
    sh->t = tu_create(db, "t", &c);
    pthread_t wt[W], rt[2], st;
    writer_arg wa[W];
    reader_arg ra[2];
    snap_arg sa = { sh, 0, 0 };
    for (int p = 0; p < 2; p++) {
        memset(&ra[p], 0, sizeof ra[p]);
        ra[p].sh = sh;
        ra[p].partition = p;
        ra[p].got = calloc(PER_PART, sizeof *ra[p].got);
        ck_assert_int_eq(pthread_create(&rt[p], NULL, reader, &ra[p]), 0);
    }
    ck_assert_int_eq(pthread_create(&st, NULL, snapshotter, &sa), 0);
    for (int w = 0; w < W; w++) {
        wa[w].sh = sh;
        wa[w].id = w;
        ck_assert_int_eq(pthread_create(&wt[w], NULL, writer, &wa[w]), 0);
    }
    for (int w = 0; w < W; w++)
        pthread_join(wt[w], NULL);
    atomic_store(&sh->writers_done, 1);
    for (int p = 0; p < 2; p++)
        pthread_join(rt[p], NULL);
    pthread_join(st, NULL);

    for (int w = 0; w < W; w++)
        ck_assert_int_eq(sh->write_errors[w], 0);
    ck_assert_int_eq(sa.bad, 0);
    for (int p = 0; p < 2; p++) {
        reader_arg *r = &ra[p];
        ck_assert_int_eq(r->errors, 0);
        ck_assert_int_eq(r->n, PER_PART);
        ck_assert_int_eq(tu_end_offset(sh->t, p), PER_PART);
        int last_seq[W];
        for (int w = 0; w < W; w++)
            last_seq[w] = -1;
        char *once = calloc(W * M, 1);
        for (int i = 0; i < r->n; i++) {
            seen *s = &r->got[i];
            ck_assert_int_eq(s->offset, i);            /* in order, no gaps */
            ck_assert_int_ge(s->w, 0);
            ck_assert_int_lt(s->w, W);
            ck_assert_int_eq(s->w % 2, p);             /* right partition */
            ck_assert_int_ge(s->seq, 0);
            ck_assert_int_lt(s->seq, M);
            ck_assert_int_eq(once[s->w * M + s->seq], 0); /* exactly once */
            once[s->w * M + s->seq] = 1;
            ck_assert_int_gt(s->seq, last_seq[s->w]);  /* per-writer order */
            ck_assert_int_eq(s->seq, last_seq[s->w] + 1);
            last_seq[s->w] = s->seq;
            ck_assert_int_eq(sh->offsets[s->w][s->seq], s->offset);
        }
        for (int w = p; w < W; w += 2)
            ck_assert_int_eq(last_seq[w], M - 1);
        free(once);
        free(r->got);
    }
    /* The same after a reopen. */
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = tu_open(store);
    cano_topic_t *t = tu_topic(db, "t");
    for (int p = 0; p < 2; p++) {
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(t, p, 0, &got), CANO_OK);
        ck_assert_uint_eq(got.n, PER_PART);
        int last_seq[W] = { -1, -1, -1, -1 };
        for (size_t i = 0; i < got.n; i++) {
            int w, seq;
            char buf[32];
            memcpy(buf, got.v[i].value, got.v[i].value_len);
            buf[got.v[i].value_len] = '\0';
            ck_assert_int_eq(sscanf(buf, "w%d:%d", &w, &seq), 2);
            ck_assert_int_eq(seq, last_seq[w] + 1);
            last_seq[w] = seq;
        }
        tu_recs_free(&got);
    }
    free(sh);
}
END_TEST

/* ---- Concurrent appends to one partition in sync-always mode ---- */

typedef struct always_arg {
    cano_topic_t *t;
    int id;
    int64_t offs[300];
    int errors;
} always_arg;

static void *always_writer(void *arg)
{
    always_arg *a = arg;
    for (int i = 0; i < 300; i++) {
        char v[32];
        snprintf(v, sizeof v, "%d:%d", a->id, i);
        cano_record r = tu_rec(NULL, v, 0);
        if (cano_append(a->t, 0, &r, NULL, &a->offs[i]) != CANO_OK)
            a->errors++;
    }
    return NULL;
}

START_TEST(test_threads_sync_always_concurrent_appends)
{
    cano_topic_config c = tu_config(1, 4096);
    c.sync_mode = CANO_SYNC_ALWAYS;
    cano_topic_t *t = tu_create(db, "t", &c);
    always_arg a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].t = t;
        a[i].id = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, always_writer, &a[i]),
                         0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *used = calloc(1200, 1);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(a[i].errors, 0);
        for (int j = 0; j < 300; j++) {
            int64_t o = a[i].offs[j];
            ck_assert_int_ge(o, 0);
            ck_assert_int_lt(o, 1200);
            ck_assert_int_eq(used[o], 0);
            used[o] = 1;
            if (j)
                ck_assert_int_gt(o, a[i].offs[j - 1]);
        }
    }
    free(used);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.end_offset, 1200);
    ck_assert_int_eq(pi.durable_offset, 1200);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, 1200);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 300; j += 37) {
            char v[32];
            snprintf(v, sizeof v, "%d:%d", i, j);
            tu_assert_kv(&got.v[a[i].offs[j]], NULL, v);
        }
    tu_recs_free(&got);
}
END_TEST

/* ---- Topic creation races ---- */

typedef struct create_arg {
    cano_t *db;
    int id;
    int shared_rc;
    int errors;
} create_arg;

static void *creator(void *arg)
{
    create_arg *c = arg;
    c->shared_rc = cano_topic_create(c->db, "shared", NULL);
    for (int i = 0; i < 25; i++) {
        char name[32];
        snprintf(name, sizeof name, "c%d-%d", c->id, i);
        if (cano_topic_create(c->db, name, NULL) != CANO_OK)
            c->errors++;
        cano_topic_t *t = NULL;
        if (cano_topic_open(c->db, name, &t) != CANO_OK)
            c->errors++;
        else {
            cano_record r = tu_rec("k", name, 1);
            if (cano_append(t, 0, &r, NULL, NULL) != CANO_OK)
                c->errors++;
        }
    }
    return NULL;
}

static int count_cb(const char *name, void *payload)
{
    (void)name;
    ++*(int *)payload;
    return 0;
}

START_TEST(test_threads_concurrent_topic_create)
{
    create_arg a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].db = db;
        a[i].id = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, creator, &a[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(a[i].errors, 0);
        ck_assert(a[i].shared_rc == CANO_OK || a[i].shared_rc == CANO_EEXIST);
        ok += a[i].shared_rc == CANO_OK;
    }
    ck_assert_int_eq(ok, 1);
    int n = 0;
    ck_assert_int_eq(cano_topic_list(db, count_cb, &n), 101);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = tu_open(store);
    n = 0;
    ck_assert_int_eq(cano_topic_list(db, count_cb, &n), 101);
    ck_assert_int_eq(tu_end_offset(tu_topic(db, "c3-24"), 0), 1);
}
END_TEST

/* ---- Waking waiting readers ---- */

typedef struct wait_arg {
    cano_reader_t *r;
    int rc;
    cano_record rec;
    char value[32];
} wait_arg;

static void *wait_forever(void *arg)
{
    wait_arg *w = arg;
    w->rc = cano_reader_next(w->r, &w->rec, -1);
    if (w->rc == CANO_OK) {
        size_t l = w->rec.value_len < 31 ? w->rec.value_len : 31;
        memcpy(w->value, w->rec.value, l);
        w->value[l] = '\0';
    }
    return NULL;
}

START_TEST(test_threads_waiting_reader_wakes_on_append)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    tu_append_kv(t, 0, "k", "old", 1);
    wait_arg w;
    memset(&w, 0, sizeof w);
    ck_assert_int_eq(cano_reader_open(t, 0, CANO_OFFSET_LATEST, &w.r),
                     CANO_OK);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, wait_forever, &w), 0);
    tu_sleep_ms(50);
    tu_append_kv(t, 0, "k", "new", 2);
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, CANO_OK);
    ck_assert_int_eq(w.rec.offset, 1);
    ck_assert_str_eq(w.value, "new");
    cano_reader_close(w.r);
}
END_TEST

START_TEST(test_threads_reader_close_wakes_waiter)
{
    cano_topic_t *t = tu_create(db, "t", NULL);
    wait_arg w;
    memset(&w, 0, sizeof w);
    ck_assert_int_eq(cano_reader_open(t, 0, CANO_OFFSET_LATEST, &w.r),
                     CANO_OK);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, wait_forever, &w), 0);
    tu_sleep_ms(50);
    cano_reader_close(w.r);
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, CANO_ECLOSED);
    /* The store is unaffected. */
    ck_assert_int_eq(tu_append_kv(t, 0, "k", "v", 1), 0);
}
END_TEST

START_TEST(test_threads_store_close_wakes_waiters)
{
    cano_topic_config c = tu_config(2, 0);
    cano_topic_t *t = tu_create(db, "t", &c);
    wait_arg w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&w[i], 0, sizeof w[i]);
        ck_assert_int_eq(cano_reader_open(t, i, CANO_OFFSET_LATEST, &w[i].r),
                         CANO_OK);
        ck_assert_int_eq(pthread_create(&th[i], NULL, wait_forever, &w[i]),
                         0);
    }
    tu_sleep_ms(50);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = NULL;
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(w[i].rc, CANO_ECLOSED);
    }
    /* A closed store's reader keeps answering ECLOSED until it is closed. */
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(w[0].r, &rec, 0), CANO_ECLOSED);
    for (int i = 0; i < 2; i++)
        cano_reader_close(w[i].r);
    db = tu_open(store);
}
END_TEST

/* ---- Many partitions ---- */

enum { MANY_TOPICS = 1000, MANY_PARTS = 4 };

static void many_append(cano_t *d, int round)
{
    for (int i = 0; i < MANY_TOPICS; i++) {
        char name[16];
        snprintf(name, sizeof name, "topic%04d", i);
        cano_topic_t *t = tu_topic(d, name);
        for (int p = 0; p < MANY_PARTS; p++) {
            char v[48];
            snprintf(v, sizeof v, "%s/%d/%d", name, p, round);
            ck_assert_int_eq(tu_append_kv(t, p, name, v, 1000 + round),
                             round);
        }
    }
}

static void many_verify(cano_t *d, int rounds)
{
    for (int i = 0; i < MANY_TOPICS; i++) {
        char name[16];
        snprintf(name, sizeof name, "topic%04d", i);
        cano_topic_t *t = tu_topic(d, name);
        ck_assert_int_eq(cano_topic_partitions(t), MANY_PARTS);
        for (int p = 0; p < MANY_PARTS; p++) {
            tu_recs got = { 0 };
            ck_assert_int_eq(tu_read_all(t, p, 0, &got), CANO_OK);
            ck_assert_uint_eq(got.n, (size_t)rounds);
            for (int r = 0; r < rounds; r++) {
                char v[48];
                snprintf(v, sizeof v, "%s/%d/%d", name, p, r);
                tu_assert_kv(&got.v[r], name, v);
                ck_assert_int_eq(got.v[r].timestamp, 1000 + r);
            }
            tu_recs_free(&got);
        }
    }
}

START_TEST(test_threads_many_partitions)
{
    /* Use what the system allows: the library caps its own files. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    cano_topic_config c = tu_config(MANY_PARTS, 4096);
    c.index_interval_bytes = 0;
    for (int i = 0; i < MANY_TOPICS; i++) {
        char name[16];
        snprintf(name, sizeof name, "topic%04d", i);
        int rc = cano_topic_create(db, name, &c);
        ck_assert_msg(rc == CANO_OK, "create %s: %d (%s)", name, rc,
                      cano_last_errmsg());
    }
    many_append(db, 0);
    many_append(db, 1);
    many_append(db, 2);
    many_verify(db, 3);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = NULL;
    cano_t *d = NULL;
    ck_assert_int_eq(cano_open(store, NULL, &d), CANO_OK);
    db = d;
    int n = 0;
    ck_assert_int_eq(cano_topic_list(db, count_cb, &n), MANY_TOPICS);
    many_verify(db, 3);
    many_append(db, 3);
    many_verify(db, 4);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = tu_open(store);
    many_verify(db, 4);
}
END_TEST

Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("concurrency");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_threads_writers_and_tailing_readers);
    tcase_add_test(tc, test_threads_sync_always_concurrent_appends);
    tcase_add_test(tc, test_threads_concurrent_topic_create);
    tcase_add_test(tc, test_threads_waiting_reader_wakes_on_append);
    tcase_add_test(tc, test_threads_reader_close_wakes_waiter);
    tcase_add_test(tc, test_threads_store_close_wakes_waiters);
    suite_add_tcase(s, tc);

    tc = tcase_create("scale");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_threads_many_partitions);
    suite_add_tcase(s, tc);
    return s;
}
