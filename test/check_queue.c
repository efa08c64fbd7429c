/* check_queue.c - the queue features: what survives a SIGKILL in each sync
 * mode, group commit, tailing readers (waking, timeouts, closing, durable
 * readers), consumer groups, idempotent appends, and retention that waits
 * for consumer groups.
 *
 * Nothing here passes or fails on timing except generous upper bounds
 * ("returns within 5 s") and the lower bound of a timed wait.  Record
 * timestamps are explicit and old, so retention_ms 0 expires every closed
 * segment no matter how fast the test runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "io.h"           /* cano__test_sync_count (CANO_TESTING) */
#include "testutil.h"

static char dir[64];
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

#define T0 1600000000000LL     /* an old timestamp: expired at once */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *shared_map(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    ck_assert(p != MAP_FAILED);
    memset(p, 0, n);
    return p;
}

/* In a forked child: die with the parent (a failed or timed-out test must
 * not leave a writer behind). */
static void child_init(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(100);
}

/* Generated record i of seed (as tu_gen_*): key "k<i>". */
static cano_record gen_rec(uint32_t seed, int64_t i, char *key, char *val)
{
    snprintf(key, 32, "k%" PRId64, i);
    size_t vl = tu_gen_value(val, 128, seed, i);
    return tu_rec_buf(key, strlen(key), val, vl, tu_gen_ts(seed, i));
}

/* A cano_record_fn checking that records are generated records next,
 * next+1, ... of seed, without copying them. */
typedef struct gen_check {
    uint32_t seed;
    int64_t next;
    int bad;
    char why[256];
} gen_check;

static int gen_check_fn(void *ctx, const cano_record *r)
{
    gen_check *g = ctx;
    char key[32], val[128];
    cano_record want = gen_rec(g->seed, g->next, key, val);
    const char *why = NULL;
    if (r->offset != g->next)
        why = "offset";
    else if (!r->key || r->key_len != want.key_len ||
             memcmp(r->key, want.key, want.key_len) != 0)
        why = "key";
    else if (!r->value || r->value_len != want.value_len ||
             memcmp(r->value, want.value, want.value_len) != 0)
        why = "value";
    else if (r->timestamp != want.timestamp)
        why = "timestamp";
    else if (r->header_count != 0)
        why = "headers";
    else if (r->partition != 0)
        why = "partition";
    if (why) {
        g->bad = 1;
        snprintf(g->why, sizeof g->why, "record at offset %" PRId64
                 " (expected %" PRId64 "): bad %s", r->offset, g->next, why);
        return 1;
    }
    g->next++;
    return 0;
}

/* Asserts partition 0 holds exactly generated records 0..n-1 of seed. */
static void assert_gen_log(cano_topic_t *t, uint32_t seed, int64_t n)
{
    gen_check g;
    memset(&g, 0, sizeof g);
    g.seed = seed;
    for (;;) {
        int rc = cano_read(t, 0, g.next, 50000, gen_check_fn, &g);
        ck_assert_msg(rc >= 0, "cano_read at %" PRId64 " = %d (%s)", g.next,
                      rc, cano_last_errmsg());
        ck_assert_msg(!g.bad, "%s", g.why);
        if (rc == 0)
            break;
    }
    ck_assert_int_eq(g.next, n);
}

/* Copies of one reader's records (offset + key + value as strings). */
static void assert_rec(const tu_rec_copy *c, int64_t offset, const char *key,
                       const char *value)
{
    ck_assert_int_eq(c->offset, offset);
    tu_assert_kv(c, key, value);
}

static int64_t append_s(cano_topic_t *t, int32_t p, const char *key,
                        const char *value)
{
    return tu_append_kv(t, p, key, value, T0);
}

/* ======================================================================
 * SIGKILL in each sync mode
 * ====================================================================== */

typedef struct crash_area {
    atomic_llong acked;     /* records acknowledged: offsets < acked */
    atomic_int ready;
} crash_area;

enum { CRASH_ROUNDS = 7, CRASH_MAX_BATCH = 3 };
static const int crash_modes[3] = { CANO_SYNC_NONE, CANO_SYNC_INTERVAL,
                                    CANO_SYNC_ALWAYS };

/* The child: continues the log of generated records from its end offset
 * (single appends and now and then a batch of 3), publishing each
 * acknowledged end after the call returned, until it is killed. */
static void crash_child(int mode, uint32_t seed, crash_area *a)
{
    cano_options o;
    if (cano_options_init(&o, sizeof o) != CANO_OK)
        _exit(10);
    o.sync_mode = mode;
    o.sync_interval_ms = 5;
    cano_t *db = NULL;
    cano_topic_t *t = NULL;
    if (cano_open(store, &o, &db) != CANO_OK ||
        cano_topic_open(db, "t", &t) != CANO_OK)
        _exit(11);
    cano_partition_info pi;
    memset(&pi, 0, sizeof pi);
    pi.size = sizeof pi;
    if (cano_partition_stat(t, 0, &pi) != CANO_OK ||
        pi.end_offset != atomic_load(&a->acked))
        _exit(12);
    atomic_store(&a->ready, 1);
    int64_t i = pi.end_offset;
    for (;;) {
        char key[CRASH_MAX_BATCH][32], val[CRASH_MAX_BATCH][128];
        if (i % 7 == 3) {
            cano_record b[CRASH_MAX_BATCH];
            for (int j = 0; j < CRASH_MAX_BATCH; j++)
                b[j] = gen_rec(seed, i + j, key[j], val[j]);
            int64_t first = -1;
            if (cano_append_batch(t, 0, b, CRASH_MAX_BATCH, &first) !=
                    CANO_OK || first != i)
                _exit(13);
            i += CRASH_MAX_BATCH;
        } else {
            cano_record r = gen_rec(seed, i, key[0], val[0]);
            int64_t off = -1;
            if (cano_append(t, 0, &r, NULL, &off) != CANO_OK || off != i)
                _exit(14);
            i++;
        }
        atomic_store(&a->acked, i);
    }
}

static void describe_status(int st, char *buf, size_t n)
{
    if (WIFEXITED(st))
        snprintf(buf, n, "exited with %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, n, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(buf, n, "status %#x", st);
}

START_TEST(test_queue_kill_in_each_sync_mode)
{
    int mode = crash_modes[_i];
    uint32_t seed = 500 + (uint32_t)_i;
    uint32_t rng = 0x5eed1234u + 7919u * (uint32_t)_i;
    crash_area *a = shared_map(sizeof *a);
    {
        cano_t *db = tu_open(store);
        cano_topic_config c = tu_config(1, 16 << 10);
        c.index_interval_bytes = 256;
        tu_create(db, "t", &c);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    int64_t end = 0;
    pid_t parent = getpid();
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        atomic_store(&a->acked, end);
        atomic_store(&a->ready, 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            child_init(parent);
            crash_child(mode, seed, a);
        }
        /* Wait (bounded) for the first acknowledged append of the round,
         * then kill at a random moment of the append loop. */
        int64_t t0 = mono_ms();
        int st = 0;
        pid_t w = 0;
        while (atomic_load(&a->acked) == end &&
               (w = waitpid(pid, &st, WNOHANG)) == 0 &&
               mono_ms() - t0 < 20000)
            usleep(200);
        if (w == 0) {
            if (atomic_load(&a->acked) > end)
                usleep(tu_rand(&rng) % 25000);
            kill(pid, SIGKILL);
            ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        }
        char how[64];
        describe_status(st, how, sizeof how);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                      "mode %d round %d: the child %s", mode, round, how);
        int64_t acked = atomic_load(&a->acked);
        ck_assert_msg(acked > end, "mode %d round %d: nothing acknowledged "
                      "within 20 s", mode, round);

        cano_t *db = tu_open(store);
        cano_topic_t *t = tu_topic(db, "t");
        cano_partition_info pi = tu_stat(t, 0);
        ck_assert_int_eq(pi.start_offset, 0);
        ck_assert_msg(pi.end_offset >= acked, "mode %d round %d: end offset "
                      "%" PRId64 " after the kill, %" PRId64 " acknowledged",
                      mode, round, pi.end_offset, acked);
        /* At most the one append in flight can be there beyond the acks. */
        ck_assert_msg(pi.end_offset <= acked + CRASH_MAX_BATCH,
                      "mode %d round %d: end offset %" PRId64 ", only %"
                      PRId64 " acknowledged", mode, round, pi.end_offset,
                      acked);
        /* Every record, acknowledged or not, is exactly generated record
         * <offset>: nothing lost, nothing garbled. */
        assert_gen_log(t, seed, pi.end_offset);
        ck_assert_int_le(pi.durable_offset, pi.end_offset);
        ck_assert_int_eq(cano_sync(db), CANO_OK);
        ck_assert_int_eq(tu_stat(t, 0).durable_offset, pi.end_offset);
        /* Appends go on at the end. */
        int64_t next = pi.end_offset;
        for (int j = 0; j < 2; j++) {
            char key[32], val[128];
            cano_record r = gen_rec(seed, next + j, key, val);
            int64_t off = -1;
            ck_assert_int_eq(cano_append(t, 0, &r, NULL, &off), CANO_OK);
            ck_assert_int_eq(off, next + j);
        }
        assert_gen_log(t, seed, next + 2);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        end = next + 2;
    }
    /* A final clean reopen sees the same log. */
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_topic(db, "t");
    ck_assert_int_eq(tu_end_offset(t, 0), end);
    assert_gen_log(t, seed, end);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    munmap(a, sizeof *a);
}
END_TEST

/* ======================================================================
 * Group commit
 * ====================================================================== */

enum { GC_N = 8, GC_M = 40 };

typedef struct gc_shared {
    cano_topic_t *t;
    pthread_barrier_t start;
    int64_t off[GC_N][GC_M];
    int64_t durable[GC_N][GC_M];
    int err[GC_N];
} gc_shared;

typedef struct gc_arg {
    gc_shared *sh;
    int id;
} gc_arg;

static void *gc_writer(void *arg)
{
    gc_arg *ga = arg;
    gc_shared *sh = ga->sh;
    char key[16], val[32];
    snprintf(key, sizeof key, "w%d", ga->id);
    pthread_barrier_wait(&sh->start);
    for (int j = 0; j < GC_M; j++) {
        snprintf(val, sizeof val, "w%d-%d", ga->id, j);
        cano_record r = tu_rec(key, val, T0);
        int64_t off = -1;
        int rc = cano_append(sh->t, 0, &r, NULL, &off);
        if (rc != CANO_OK) {
            sh->err[ga->id] = rc;
            return NULL;
        }
        cano_partition_info pi;
        memset(&pi, 0, sizeof pi);
        pi.size = sizeof pi;
        rc = cano_partition_stat(sh->t, 0, &pi);
        if (rc != CANO_OK) {
            sh->err[ga->id] = rc - 1000;
            return NULL;
        }
        sh->off[ga->id][j] = off;
        sh->durable[ga->id][j] = pi.durable_offset;
    }
    return NULL;
}

/* _i 0: the topic says always (store none); 1: the store says always. */
START_TEST(test_queue_group_commit)
{
    cano_t *db = tu_open_opts(store, _i ? CANO_SYNC_ALWAYS : CANO_SYNC_NONE);
    cano_topic_config c = tu_config(1, 1 << 20);
    c.sync_mode = _i ? CANO_SYNC_DEFAULT : CANO_SYNC_ALWAYS;
    gc_shared *sh = calloc(1, sizeof *sh);
    ck_assert_ptr_nonnull(sh);
    sh->t = tu_create(db, "t", &c);
    cano_topic_config got;
    memset(&got, 0, sizeof got);
    got.size = sizeof got;
    ck_assert_int_eq(cano_topic_config_get(sh->t, &got), CANO_OK);
    ck_assert_int_eq(got.sync_mode, c.sync_mode);
    /* One append first, so segment creation is not counted. */
    append_s(sh->t, 0, "first", "x");
    ck_assert_int_gt(tu_stat(sh->t, 0).durable_offset, 0);

    ck_assert_int_eq(pthread_barrier_init(&sh->start, NULL, GC_N), 0);
    pthread_t th[GC_N];
    gc_arg args[GC_N];
    long syncs0 = cano__test_sync_count();
    for (int i = 0; i < GC_N; i++) {
        args[i].sh = sh;
        args[i].id = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, gc_writer, &args[i]),
                         0);
    }
    for (int i = 0; i < GC_N; i++)
        pthread_join(th[i], NULL);
    long syncs = cano__test_sync_count() - syncs0;
    pthread_barrier_destroy(&sh->start);
    for (int i = 0; i < GC_N; i++)
        ck_assert_msg(sh->err[i] == 0, "writer %d: error %d", i, sh->err[i]);
    for (int i = 0; i < GC_N; i++)
        for (int j = 0; j < GC_M; j++) {
            ck_assert_msg(sh->durable[i][j] > sh->off[i][j],
                          "writer %d append %d: offset %" PRId64 " returned "
                          "while durable_offset was %" PRId64, i, j,
                          sh->off[i][j], sh->durable[i][j]);
            if (j)
                ck_assert_int_gt(sh->off[i][j], sh->off[i][j - 1]);
        }
    ck_assert_msg(syncs < GC_N * GC_M, "%ld syncs for %d concurrent durable "
                  "appends: no group commit", syncs, GC_N * GC_M);

    /* Every record is where its append said. */
    tu_recs all = { 0 };
    ck_assert_int_eq(tu_read_all(sh->t, 0, 0, &all), CANO_OK);
    ck_assert_uint_eq(all.n, 1 + GC_N * GC_M);
    assert_rec(&all.v[0], 0, "first", "x");
    for (int i = 0; i < GC_N; i++)
        for (int j = 0; j < GC_M; j++) {
            int64_t off = sh->off[i][j];
            ck_assert_int_ge(off, 1);
            ck_assert_int_le(off, GC_N * GC_M);
            char key[16], val[32];
            snprintf(key, sizeof key, "w%d", i);
            snprintf(val, sizeof val, "w%d-%d", i, j);
            assert_rec(&all.v[off], off, key, val);
        }
    tu_recs_free(&all);
    cano_partition_info pi = tu_stat(sh->t, 0);
    ck_assert_int_eq(pi.end_offset, 1 + GC_N * GC_M);
    ck_assert_int_eq(pi.durable_offset, pi.end_offset);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    free(sh);
}
END_TEST

/* In mode none an append does not sync, and durable_offset stays behind
 * until cano_sync. */
START_TEST(test_queue_sync_none_does_not_sync_appends)
{
    cano_t *db = tu_open_opts(store, CANO_SYNC_NONE);
    cano_topic_config c = tu_config(1, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_s(t, 0, "k", "v0");
    ck_assert_int_eq(cano_sync(db), CANO_OK);
    ck_assert_int_eq(tu_stat(t, 0).durable_offset, 1);
    long s0 = cano__test_sync_count();
    for (int i = 1; i <= 200; i++)
        ck_assert_int_eq(append_s(t, 0, "k", "v"), i);
    long syncs = cano__test_sync_count() - s0;
    ck_assert_msg(syncs < 5, "%ld syncs for 200 appends in mode none", syncs);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.end_offset, 201);
    ck_assert_int_eq(pi.durable_offset, 1);
    ck_assert_int_eq(cano_sync(db), CANO_OK);
    ck_assert_int_eq(tu_stat(t, 0).durable_offset, 201);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ======================================================================
 * Tailing readers
 * ====================================================================== */

typedef struct waiter {
    cano_reader_t *r;
    int timeout;
    atomic_int done;
    int rc;
    int64_t elapsed_ms;
    tu_recs got;
} waiter;

static void *waiter_run(void *arg)
{
    waiter *w = arg;
    cano_record rec;
    int64_t t0 = mono_ms();
    w->rc = cano_reader_next(w->r, &rec, w->timeout);
    w->elapsed_ms = mono_ms() - t0;
    if (w->rc == CANO_OK)
        tu_recs_push(&w->got, &rec);
    atomic_store(&w->done, 1);
    return NULL;
}

static void waiter_start(waiter *w, pthread_t *th, cano_reader_t *r,
                         int timeout)
{
    memset(w, 0, sizeof *w);
    w->r = r;
    w->timeout = timeout;
    ck_assert_int_eq(pthread_create(th, NULL, waiter_run, w), 0);
}

/* Waits up to ms for the waiter to return; 1 when it did. */
static int waiter_wait(waiter *w, int ms)
{
    int64_t t0 = mono_ms();
    while (!atomic_load(&w->done) && mono_ms() - t0 < ms)
        tu_sleep_ms(1);
    return atomic_load(&w->done);
}

static cano_reader_t *reader_at(cano_topic_t *t, int32_t p, int64_t offset)
{
    cano_reader_t *r = NULL;
    int rc = cano_reader_open(t, p, offset, &r);
    ck_assert_msg(rc == CANO_OK, "cano_reader_open = %d (%s)", rc,
                  cano_last_errmsg());
    ck_assert_ptr_nonnull(r);
    return r;
}

/* A reader waiting forever (_i 0) or with a long timeout (_i 1) is woken
 * by an append from another thread and returns that record. */
START_TEST(test_queue_tail_wakes_on_append)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(2, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_s(t, 1, "a0", "x0");
    append_s(t, 1, "a1", "x1");
    cano_reader_t *r = reader_at(t, 1, CANO_OFFSET_LATEST);
    ck_assert_int_eq(cano_reader_position(r), 2);
    waiter w;
    pthread_t th;
    waiter_start(&w, &th, r, _i ? 60000 : -1);
    tu_sleep_ms(50);
    ck_assert_msg(!atomic_load(&w.done), "the reader returned %d before any "
                  "append", w.rc);
    /* An append to the other partition does not hand it a record. */
    append_s(t, 0, "other", "p0");
    tu_sleep_ms(20);
    ck_assert_msg(!atomic_load(&w.done), "the reader returned %d after an "
                  "append to another partition", w.rc);
    ck_assert_int_eq(append_s(t, 1, "a2", "x2"), 2);
    ck_assert_msg(waiter_wait(&w, 5000), "the reader did not wake within "
                  "5 s");
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, CANO_OK);
    ck_assert_uint_eq(w.got.n, 1);
    assert_rec(&w.got.v[0], 2, "a2", "x2");
    ck_assert_int_eq(w.got.v[0].partition, 1);
    tu_recs_free(&w.got);
    ck_assert_int_eq(cano_reader_position(r), 3);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    cano_reader_close(r);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_queue_tail_timeouts)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(1, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_s(t, 0, "k0", "v0");
    append_s(t, 0, "k1", "v1");
    cano_reader_t *r = reader_at(t, 0, CANO_OFFSET_EARLIEST);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 0);
    ck_assert_int_eq(cano_reader_next(r, &rec, 50), CANO_OK);
    ck_assert_int_eq(rec.offset, 1);
    /* Timeout 0 at the end: at once. */
    int64_t t0 = mono_ms();
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    ck_assert_int_lt(mono_ms() - t0, 2000);
    ck_assert_int_eq(cano_reader_position(r), 2);
    /* 50 ms with nothing arriving. */
    t0 = mono_ms();
    ck_assert_int_eq(cano_reader_next(r, &rec, 50), CANO_ETIMEDOUT);
    int64_t took = mono_ms() - t0;
    ck_assert_msg(took >= 40, "a 50 ms wait returned after %" PRId64 " ms",
                  took);
    ck_assert_int_lt(took, 5000);
    ck_assert_int_eq(cano_reader_position(r), 2);
    /* The reader still works after the timeouts. */
    append_s(t, 0, "k2", "v2");
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 2);
    ck_assert_uint_eq(rec.key_len, 2);
    ck_assert_mem_eq(rec.key, "k2", 2);
    cano_reader_close(r);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_queue_tail_reader_close_wakes)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(1, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_s(t, 0, "k0", "v0");
    cano_reader_t *r = reader_at(t, 0, CANO_OFFSET_LATEST);
    waiter w;
    pthread_t th;
    waiter_start(&w, &th, r, _i ? 60000 : -1);
    tu_sleep_ms(50);
    ck_assert_msg(!atomic_load(&w.done), "the reader returned %d early",
                  w.rc);
    cano_reader_close(r);       /* from this thread: wakes the waiter */
    ck_assert_msg(waiter_wait(&w, 5000), "cano_reader_close did not wake "
                  "the reader within 5 s");
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, CANO_ECLOSED);
    ck_assert_uint_eq(w.got.n, 0);
    /* The store goes on. */
    ck_assert_int_eq(append_s(t, 0, "k1", "v1"), 1);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_queue_tail_store_close_wakes)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(1, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_s(t, 0, "k0", "v0");
    cano_reader_t *r = reader_at(t, 0, CANO_OFFSET_LATEST);
    if (_i)
        ck_assert_int_eq(cano_reader_set_flags(r, CANO_READER_DURABLE),
                         CANO_OK);
    waiter w;
    pthread_t th;
    waiter_start(&w, &th, r, -1);
    tu_sleep_ms(50);
    ck_assert_msg(!atomic_load(&w.done), "the reader returned %d early",
                  w.rc);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    ck_assert_msg(waiter_wait(&w, 5000), "cano_close did not wake the "
                  "reader within 5 s");
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, CANO_ECLOSED);
    /* The reader stays closed-for-business until cano_reader_close. */
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ECLOSED);
    ck_assert_int_eq(cano_reader_next(r, &rec, 20), CANO_ECLOSED);
    /* cano_close unlocked the store although a reader is still open. */
    cano_t *db2 = NULL;
    int rc = cano_open(store, NULL, &db2);
    ck_assert_msg(rc == CANO_OK, "reopen with a reader of the closed store "
                  "still open: %d (%s)", rc, cano_last_errmsg());
    cano_reader_close(r);
    cano_topic_t *t2 = tu_topic(db2, "t");
    ck_assert_int_eq(tu_end_offset(t2, 0), 1);
    ck_assert_int_eq(cano_close(db2), CANO_OK);
}
END_TEST

/* Durable-only readers with sync mode none: a record shows once cano_sync
 * made it durable. */
START_TEST(test_queue_durable_reader_waits_for_sync)
{
    cano_t *db = tu_open_opts(store, CANO_SYNC_NONE);
    cano_topic_config c = tu_config(1, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    cano_reader_t *d = reader_at(t, 0, CANO_OFFSET_EARLIEST);
    cano_reader_t *plain = reader_at(t, 0, CANO_OFFSET_EARLIEST);
    ck_assert_int_eq(cano_reader_set_flags(d, CANO_READER_DURABLE), CANO_OK);
    ck_assert_int_eq(cano_reader_set_flags(NULL, CANO_READER_DURABLE),
                     CANO_EINVAL);
    ck_assert_int_eq(cano_reader_set_flags(d, 2), CANO_EINVAL);
    ck_assert_int_eq(cano_reader_set_flags(d, CANO_READER_DURABLE | 0x80u),
                     CANO_EINVAL);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_ETIMEDOUT);

    ck_assert_int_eq(append_s(t, 0, "a", "1"), 0);
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.end_offset, 1);
    ck_assert_int_eq(pi.durable_offset, 0);
    ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_ETIMEDOUT);
    ck_assert_int_eq(cano_reader_next(d, &rec, 30), CANO_ETIMEDOUT);
    ck_assert_int_eq(cano_reader_position(d), 0);
    /* A plain reader sees it at once. */
    ck_assert_int_eq(cano_reader_next(plain, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 0);

    ck_assert_int_eq(cano_sync(db), CANO_OK);
    ck_assert_int_eq(tu_stat(t, 0).durable_offset, 1);
    ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 0);
    ck_assert_uint_eq(rec.key_len, 1);
    ck_assert_mem_eq(rec.key, "a", 1);
    ck_assert_uint_eq(rec.value_len, 1);
    ck_assert_mem_eq(rec.value, "1", 1);
    ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_ETIMEDOUT);

    /* Two more; only a sync releases them, both together. */
    append_s(t, 0, "b", "2");
    append_s(t, 0, "c", "3");
    ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_ETIMEDOUT);
    /* Clearing the flag: the reader sees everything again. */
    ck_assert_int_eq(cano_reader_set_flags(d, 0), CANO_OK);
    ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 1);
    ck_assert_int_eq(cano_reader_set_flags(d, CANO_READER_DURABLE), CANO_OK);
    ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_ETIMEDOUT);
    ck_assert_int_eq(cano_sync(db), CANO_OK);
    ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 2);
    ck_assert_mem_eq(rec.key, "c", 1);
    ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_ETIMEDOUT);
    cano_reader_close(d);
    cano_reader_close(plain);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* A durable reader blocked in cano_reader_next is not woken by the append
 * (the record is not durable) but by cano_sync from another thread. */
START_TEST(test_queue_durable_reader_woken_by_sync)
{
    cano_t *db = tu_open_opts(store, CANO_SYNC_NONE);
    cano_topic_config c = tu_config(1, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_s(t, 0, "a", "1");
    ck_assert_int_eq(cano_sync(db), CANO_OK);
    cano_reader_t *d = reader_at(t, 0, CANO_OFFSET_LATEST);
    ck_assert_int_eq(cano_reader_set_flags(d, CANO_READER_DURABLE), CANO_OK);
    waiter w;
    pthread_t th;
    waiter_start(&w, &th, d, _i ? 60000 : -1);
    tu_sleep_ms(30);
    ck_assert_int_eq(append_s(t, 0, "b", "2"), 1);
    tu_sleep_ms(100);
    ck_assert_msg(!atomic_load(&w.done), "a durable reader returned %d "
                  "(offset %" PRId64 ") before the record was synced", w.rc,
                  w.got.n ? w.got.v[0].offset : -1);
    ck_assert_int_eq(cano_sync(db), CANO_OK);
    ck_assert_msg(waiter_wait(&w, 5000), "cano_sync did not wake the "
                  "durable reader within 5 s");
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, CANO_OK);
    ck_assert_uint_eq(w.got.n, 1);
    assert_rec(&w.got.v[0], 1, "b", "2");
    tu_recs_free(&w.got);
    cano_reader_close(d);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* A blocked durable reader is woken by the flusher of mode interval (_i 0)
 * and, with sync always, by the append itself (_i 1); no cano_sync. */
START_TEST(test_queue_durable_reader_woken_without_cano_sync)
{
    cano_options o;
    ck_assert_int_eq(cano_options_init(&o, sizeof o), CANO_OK);
    o.sync_mode = _i ? CANO_SYNC_NONE : CANO_SYNC_INTERVAL;
    o.sync_interval_ms = 20;
    cano_t *db = NULL;
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_OK);
    cano_topic_config c = tu_config(1, 1 << 20);
    c.sync_mode = _i ? CANO_SYNC_ALWAYS : CANO_SYNC_DEFAULT;
    cano_topic_t *t = tu_create(db, "t", &c);
    cano_reader_t *d = reader_at(t, 0, CANO_OFFSET_LATEST);
    ck_assert_int_eq(cano_reader_set_flags(d, CANO_READER_DURABLE), CANO_OK);
    waiter w;
    pthread_t th;
    waiter_start(&w, &th, d, -1);
    tu_sleep_ms(30);
    ck_assert_int_eq(append_s(t, 0, "a", "1"), 0);
    ck_assert_msg(waiter_wait(&w, 5000), "the durable reader was not woken "
                  "within 5 s (mode %s)", _i ? "always" : "interval");
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, CANO_OK);
    ck_assert_uint_eq(w.got.n, 1);
    assert_rec(&w.got.v[0], 0, "a", "1");
    tu_recs_free(&w.got);
    ck_assert_int_ge(tu_stat(t, 0).durable_offset, 1);
    cano_reader_close(d);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* A reader waiting on a topic that is then deleted must not wait forever:
 * the topic can never get another record. */
START_TEST(test_queue_tail_topic_delete_wakes)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(1, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_s(t, 0, "k0", "v0");
    cano_reader_t *r = reader_at(t, 0, CANO_OFFSET_LATEST);
    waiter w;
    pthread_t th;
    waiter_start(&w, &th, r, -1);
    tu_sleep_ms(50);
    ck_assert(!atomic_load(&w.done));
    ck_assert_int_eq(cano_topic_delete(db, "t"), CANO_OK);
    int woke = waiter_wait(&w, 5000);
    if (!woke) {
        /* Unblock it so the test can finish, then fail. */
        cano_reader_close(r);
        ck_assert_msg(waiter_wait(&w, 5000), "not even reader_close woke it");
        pthread_join(th, NULL);
        ck_assert_msg(0, "a reader waiting forever was not woken by "
                      "cano_topic_delete within 5 s (cano_reader_close "
                      "then returned %d)", w.rc);
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, CANO_ENOTFOUND);
    cano_record rec;
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ENOTFOUND);
    cano_reader_close(r);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* With sync always every returned append is durable, so a durable reader
 * sees it at once. */
START_TEST(test_queue_durable_reader_sync_always)
{
    cano_t *db = tu_open_opts(store, CANO_SYNC_NONE);
    cano_topic_config c = tu_config(1, 1 << 20);
    c.sync_mode = CANO_SYNC_ALWAYS;
    cano_topic_t *t = tu_create(db, "t", &c);
    cano_reader_t *d = reader_at(t, 0, CANO_OFFSET_EARLIEST);
    ck_assert_int_eq(cano_reader_set_flags(d, CANO_READER_DURABLE), CANO_OK);
    for (int i = 0; i < 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        ck_assert_int_eq(append_s(t, 0, k, "v"), i);
        cano_record rec;
        ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_OK);
        ck_assert_int_eq(rec.offset, i);
        ck_assert_int_eq(cano_reader_next(d, &rec, 0), CANO_ETIMEDOUT);
    }
    cano_reader_close(d);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ======================================================================
 * Consumer groups
 * ====================================================================== */

static void commit_ok(cano_t *db, const char *group, const char *topic,
                      int32_t p, int64_t offset)
{
    int rc = cano_commit(db, group, topic, p, offset);
    ck_assert_msg(rc == CANO_OK, "cano_commit(%s, %s, %d, %" PRId64 ") = %d "
                  "(%s)", group, topic, p, offset, rc, cano_last_errmsg());
}

static int64_t committed(cano_t *db, const char *group, const char *topic,
                         int32_t p)
{
    int64_t off = -100;
    int rc = cano_committed(db, group, topic, p, &off);
    ck_assert_msg(rc == CANO_OK, "cano_committed(%s, %s, %d) = %d (%s)",
                  group, topic, p, rc, cano_last_errmsg());
    return off;
}

static int committed_rc(cano_t *db, const char *group, const char *topic,
                        int32_t p)
{
    int64_t off;
    return cano_committed(db, group, topic, p, &off);
}

static cano_reader_t *group_reader(cano_topic_t *t, int32_t p,
                                   const char *group)
{
    cano_reader_t *r = NULL;
    int rc = cano_reader_open_group(t, p, group, &r);
    ck_assert_msg(rc == CANO_OK, "cano_reader_open_group(%s) = %d (%s)",
                  group, rc, cano_last_errmsg());
    ck_assert_ptr_nonnull(r);
    return r;
}

/* Appends n records "k<i>" / "v<i>" to partition p. */
static void append_n(cano_topic_t *t, int32_t p, int n)
{
    for (int i = 0; i < n; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        ck_assert_int_eq(append_s(t, p, k, v), i);
    }
}

static int commit_and_die(void *arg)
{
    (void)arg;
    cano_t *db = NULL;
    if (cano_open(store, NULL, &db) != CANO_OK)
        return 1;
    if (cano_commit(db, "crashy", "t", 2, 9) != CANO_OK)
        return 2;
    if (cano_commit(db, "g1", "t", 1, 3) != CANO_OK)
        return 3;
    return 0;       /* then SIGKILL, no cano_close */
}

START_TEST(test_queue_group_commit_survives_reopen)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(3, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    for (int p = 0; p < 3; p++)
        append_n(t, p, 10);
    commit_ok(db, "g1", "t", 0, 4);
    commit_ok(db, "g1", "t", 1, 10);
    commit_ok(db, "g2", "t", 0, 0);
    commit_ok(db, "g1", "t", 0, 7);    /* replaces 4 */
    ck_assert_int_eq(committed(db, "g1", "t", 0), 7);
    ck_assert_int_eq(committed(db, "g1", "t", 1), 10);
    ck_assert_int_eq(committed(db, "g2", "t", 0), 0);
    ck_assert_int_eq(committed_rc(db, "g1", "t", 2), CANO_ENOTFOUND);
    ck_assert_int_eq(committed_rc(db, "g3", "t", 0), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_close(db), CANO_OK);

    for (int round = 0; round < 2; round++) {
        db = tu_open(store);
        ck_assert_int_eq(committed(db, "g1", "t", 0), 7);
        ck_assert_int_eq(committed(db, "g1", "t", 1), round ? 3 : 10);
        ck_assert_int_eq(committed(db, "g2", "t", 0), 0);
        ck_assert_int_eq(committed_rc(db, "g1", "t", 2), CANO_ENOTFOUND);
        ck_assert_int_eq(committed_rc(db, "g3", "t", 0), CANO_ENOTFOUND);
        if (round)
            ck_assert_int_eq(committed(db, "crashy", "t", 2), 9);
        else
            ck_assert_int_eq(committed_rc(db, "crashy", "t", 2),
                             CANO_ENOTFOUND);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        if (!round)
            /* A process that commits and is killed: its commits stay. */
            ck_assert_int_eq(tu_run_child(commit_and_die, NULL, 1), 0);
    }
}
END_TEST

START_TEST(test_queue_group_reader_resumes)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(2, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_n(t, 0, 10);
    append_n(t, 1, 4);
    cano_record rec;

    /* Nothing committed: the log start. */
    cano_reader_t *r = group_reader(t, 0, "fresh");
    ck_assert_int_eq(cano_reader_position(r), 0);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 0);
    ck_assert_mem_eq(rec.key, "k0", 2);
    cano_reader_close(r);

    commit_ok(db, "g", "t", 0, 6);
    commit_ok(db, "g", "t", 1, 2);
    r = group_reader(t, 0, "g");
    ck_assert_int_eq(cano_reader_position(r), 6);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 6);
    ck_assert_uint_eq(rec.key_len, 2);
    ck_assert_mem_eq(rec.key, "k6", 2);
    ck_assert_mem_eq(rec.value, "v6", 2);
    cano_reader_close(r);
    r = group_reader(t, 1, "g");
    ck_assert_int_eq(cano_reader_position(r), 2);
    cano_reader_close(r);
    ck_assert_int_eq(cano_close(db), CANO_OK);

    db = tu_open(store);
    t = tu_topic(db, "t");
    r = group_reader(t, 0, "g");
    ck_assert_int_eq(cano_reader_position(r), 6);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 6);
    cano_reader_close(r);
    /* Another group and another partition are independent. */
    r = group_reader(t, 1, "fresh");
    ck_assert_int_eq(cano_reader_position(r), 0);
    cano_reader_close(r);

    /* The log start moves past the commit: the log start. */
    ck_assert_int_eq(cano_delete_records(t, 0, 8), CANO_OK);
    r = group_reader(t, 0, "g");
    ck_assert_int_eq(cano_reader_position(r), 8);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 8);
    cano_reader_close(r);
    r = group_reader(t, 0, "fresh");
    ck_assert_int_eq(cano_reader_position(r), 8);
    cano_reader_close(r);
    ck_assert_int_eq(committed(db, "g", "t", 0), 6);   /* unchanged */

    /* Committed at the end: nothing to read yet, then the next append. */
    commit_ok(db, "g", "t", 0, 10);
    r = group_reader(t, 0, "g");
    ck_assert_int_eq(cano_reader_position(r), 10);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_ETIMEDOUT);
    ck_assert_int_eq(append_s(t, 0, "k10", "v10"), 10);
    ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
    ck_assert_int_eq(rec.offset, 10);
    cano_reader_close(r);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

static int nop_group_fn(const cano_group_info *info, void *payload)
{
    (void)info;
    (void)payload;
    return 0;
}

START_TEST(test_queue_group_bad_args)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(2, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_n(t, 0, 5);
    char g255[256], g256[257];
    memset(g255, 'g', 255);
    g255[255] = '\0';
    memset(g256, 'g', 256);
    g256[256] = '\0';
    int64_t off = -100;

    /* cano_commit */
    ck_assert_int_eq(cano_commit(NULL, "h", "t", 0, 1), CANO_EINVAL);
    ck_assert_int_eq(cano_commit(db, NULL, "t", 0, 1), CANO_EINVAL);
    ck_assert_int_eq(cano_commit(db, "", "t", 0, 1), CANO_EINVAL);
    ck_assert_int_eq(cano_commit(db, g256, "t", 0, 1), CANO_EINVAL);
    ck_assert_int_eq(cano_commit(db, "h", NULL, 0, 1), CANO_EINVAL);
    ck_assert_int_eq(cano_commit(db, "h", "nope", 0, 1), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_commit(db, "h", "t", -1, 1), CANO_EINVAL);
    ck_assert_int_eq(cano_commit(db, "h", "t", 2, 1), CANO_EINVAL);
    ck_assert_int_eq(cano_commit(db, "h", "t", 0, -1), CANO_EOFFSET);
    ck_assert_int_eq(cano_commit(db, "h", "t", 0, 6), CANO_EOFFSET);
    ck_assert_int_eq(cano_commit(db, "h", "t", 1, 1), CANO_EOFFSET);
    /* None of them committed anything. */
    ck_assert_int_eq(committed_rc(db, "h", "t", 0), CANO_ENOTFOUND);
    ck_assert_int_eq(committed_rc(db, "h", "t", 1), CANO_ENOTFOUND);
    /* The limits themselves are fine. */
    commit_ok(db, g255, "t", 0, 5);     /* 255 bytes, the end offset */
    commit_ok(db, "h", "t", 1, 0);      /* 0 in an empty partition */
    ck_assert_int_eq(committed(db, g255, "t", 0), 5);
    ck_assert_int_eq(committed(db, "h", "t", 1), 0);

    /* cano_committed */
    ck_assert_int_eq(cano_committed(NULL, "h", "t", 1, &off), CANO_EINVAL);
    ck_assert_int_eq(cano_committed(db, NULL, "t", 1, &off), CANO_EINVAL);
    ck_assert_int_eq(cano_committed(db, "", "t", 1, &off), CANO_EINVAL);
    ck_assert_int_eq(cano_committed(db, g256, "t", 0, &off), CANO_EINVAL);
    ck_assert_int_eq(cano_committed(db, "h", NULL, 1, &off), CANO_EINVAL);
    ck_assert_int_eq(cano_committed(db, "h", "nope", 1, &off),
                     CANO_ENOTFOUND);
    ck_assert_int_eq(cano_committed(db, "h", "t", -1, &off), CANO_EINVAL);
    ck_assert_int_eq(cano_committed(db, "h", "t", 2, &off), CANO_EINVAL);
    ck_assert_int_eq(cano_committed(db, "h", "t", 1, NULL), CANO_EINVAL);
    ck_assert_int_eq(cano_committed(db, "h", "t", 0, &off), CANO_ENOTFOUND);

    /* cano_reader_open_group */
    cano_reader_t *r = (cano_reader_t *)&off;
    ck_assert_int_eq(cano_reader_open_group(NULL, 0, "h", &r), CANO_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(cano_reader_open_group(t, 0, NULL, &r), CANO_EINVAL);
    ck_assert_int_eq(cano_reader_open_group(t, 0, "", &r), CANO_EINVAL);
    ck_assert_int_eq(cano_reader_open_group(t, 0, g256, &r), CANO_EINVAL);
    ck_assert_int_eq(cano_reader_open_group(t, -1, "h", &r), CANO_EINVAL);
    ck_assert_int_eq(cano_reader_open_group(t, 2, "h", &r), CANO_EINVAL);
    ck_assert_int_eq(cano_reader_open_group(t, 0, "h", NULL), CANO_EINVAL);
    ck_assert_ptr_null(r);
    r = group_reader(t, 0, g255);
    ck_assert_int_eq(cano_reader_position(r), 5);
    cano_reader_close(r);

    /* cano_group_list */
    ck_assert_int_eq(cano_group_list(NULL, nop_group_fn, NULL), CANO_EINVAL);
    ck_assert_int_eq(cano_group_list(db, NULL, NULL), CANO_EINVAL);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

typedef struct glist_row {
    char group[256];
    char topic[256];
    int32_t partition;
    int64_t committed, end_offset, lag;
} glist_row;

typedef struct glist {
    glist_row rows[32];
    int n;
    int stop_at;        /* return 1 on this call (1-based); 0: never */
} glist;

static int glist_fn(const cano_group_info *info, void *payload)
{
    glist *l = payload;
    if (l->n < 32) {
        glist_row *row = &l->rows[l->n];
        snprintf(row->group, sizeof row->group, "%s", info->group);
        snprintf(row->topic, sizeof row->topic, "%s", info->topic);
        row->partition = info->partition;
        row->committed = info->committed;
        row->end_offset = info->end_offset;
        row->lag = info->lag;
    }
    l->n++;
    return l->stop_at > 0 && l->n >= l->stop_at;
}

static void assert_row(const glist *l, int i, const char *group,
                       const char *topic, int32_t p, int64_t committed_off,
                       int64_t end, int64_t lag)
{
    ck_assert_int_lt(i, l->n);
    const glist_row *r = &l->rows[i];
    ck_assert_msg(!strcmp(r->group, group) && !strcmp(r->topic, topic) &&
                  r->partition == p && r->committed == committed_off &&
                  r->end_offset == end && r->lag == lag,
                  "row %d: (%s, %s, %d, committed %" PRId64 ", end %" PRId64
                  ", lag %" PRId64 "), want (%s, %s, %d, %" PRId64 ", %"
                  PRId64 ", %" PRId64 ")", i, r->group, r->topic,
                  r->partition, r->committed, r->end_offset, r->lag, group,
                  topic, p, committed_off, end, lag);
}

static void assert_full_list(cano_t *db, int with_b)
{
    glist l;
    memset(&l, 0, sizeof l);
    int rc = cano_group_list(db, glist_fn, &l);
    ck_assert_int_eq(rc, l.n);
    ck_assert_int_eq(rc, with_b ? 6 : 4);
    int i = 0;
    /* strcmp order of groups: g1 < g10 < g2 */
    assert_row(&l, i++, "g1", "a", 0, 5, 5, 0);
    assert_row(&l, i++, "g1", "a", 1, 1, 3, 2);
    if (with_b)
        assert_row(&l, i++, "g1", "b", 0, 7, 8, 1);
    assert_row(&l, i++, "g10", "a", 1, 3, 3, 0);
    assert_row(&l, i++, "g2", "a", 0, 0, 5, 5);
    if (with_b)     /* committed 2 is below the log start 6 */
        assert_row(&l, i++, "g2", "b", 0, 2, 8, 2);
}

START_TEST(test_queue_group_list)
{
    cano_t *db = tu_open(store);
    glist l;
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(cano_group_list(db, glist_fn, &l), 0);
    ck_assert_int_eq(l.n, 0);
    cano_topic_config c = tu_config(2, 1 << 20);
    cano_topic_t *a = tu_create(db, "a", &c);
    c = tu_config(1, 1 << 20);
    cano_topic_t *b = tu_create(db, "b", &c);
    append_n(a, 0, 5);
    append_n(a, 1, 3);
    append_n(b, 0, 8);
    ck_assert_int_eq(cano_delete_records(b, 0, 6), CANO_OK);
    commit_ok(db, "g2", "b", 0, 2);
    commit_ok(db, "g10", "a", 1, 3);
    commit_ok(db, "g1", "a", 1, 2);
    commit_ok(db, "g1", "a", 0, 5);
    commit_ok(db, "g2", "a", 0, 0);
    commit_ok(db, "g1", "b", 0, 7);
    commit_ok(db, "g1", "a", 1, 1);     /* replaces 2 */
    assert_full_list(db, 1);

    /* Nonzero from fn stops; the stopping call counts. */
    memset(&l, 0, sizeof l);
    l.stop_at = 2;
    ck_assert_int_eq(cano_group_list(db, glist_fn, &l), 2);
    ck_assert_int_eq(l.n, 2);
    assert_row(&l, 1, "g1", "a", 1, 1, 3, 2);

    /* Lag follows the end offset. */
    ck_assert_int_eq(append_s(a, 1, "k3", "v3"), 3);
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(cano_group_list(db, glist_fn, &l), 6);
    assert_row(&l, 1, "g1", "a", 1, 1, 4, 3);
    assert_row(&l, 3, "g10", "a", 1, 3, 4, 1);
    ck_assert_int_eq(cano_close(db), CANO_OK);

    /* The same after a reopen (offsets from the log). */
    db = tu_open(store);
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(cano_group_list(db, glist_fn, &l), 6);
    assert_row(&l, 0, "g1", "a", 0, 5, 5, 0);
    assert_row(&l, 1, "g1", "a", 1, 1, 4, 3);
    assert_row(&l, 2, "g1", "b", 0, 7, 8, 1);
    assert_row(&l, 3, "g10", "a", 1, 3, 4, 1);
    assert_row(&l, 4, "g2", "a", 0, 0, 5, 5);
    assert_row(&l, 5, "g2", "b", 0, 2, 8, 2);

    /* Commits of a deleted topic are not listed. */
    ck_assert_int_eq(cano_topic_delete(db, "b"), CANO_OK);
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(cano_group_list(db, glist_fn, &l), 4);
    assert_row(&l, 0, "g1", "a", 0, 5, 5, 0);
    assert_row(&l, 1, "g1", "a", 1, 1, 4, 3);
    assert_row(&l, 2, "g10", "a", 1, 3, 4, 1);
    assert_row(&l, 3, "g2", "a", 0, 0, 5, 5);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

static int decode_commit(const tu_rec_copy *c, char *group, char *topic,
                         int32_t *p, int64_t *offset);

/* Commits belong to the topic they were made on: a deleted topic's commits
 * do not come back when a topic of the same name is created, or a group's
 * reader on the new topic would silently skip its first records. */
START_TEST(test_queue_group_commits_of_deleted_topic)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(1, 1 << 20);
    cano_topic_t *t = tu_create(db, "b", &c);
    append_n(t, 0, 8);
    commit_ok(db, "g", "b", 0, 7);
    ck_assert_int_eq(cano_topic_delete(db, "b"), CANO_OK);
    ck_assert_int_eq(committed_rc(db, "g", "b", 0), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_commit(db, "g", "b", 0, 0), CANO_ENOTFOUND);
    glist l;
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(cano_group_list(db, glist_fn, &l), 0);

    t = tu_create(db, "b", &c);
    append_n(t, 0, 10);
    int64_t off = -100;
    int rc = cano_committed(db, "g", "b", 0, &off);
    ck_assert_msg(rc == CANO_ENOTFOUND, "the recreated topic has the old "
                  "topic's commit: cano_committed = %d, offset %" PRId64,
                  rc, off);
    cano_reader_t *r = group_reader(t, 0, "g");
    ck_assert_msg(cano_reader_position(r) == 0, "a group reader on the "
                  "recreated topic starts at %" PRId64 " (the old topic's "
                  "commit), skipping records", cano_reader_position(r));
    cano_reader_close(r);
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(cano_group_list(db, glist_fn, &l), 0);
    ck_assert_int_eq(cano_close(db), CANO_OK);

    db = tu_open(store);
    ck_assert_int_eq(committed_rc(db, "g", "b", 0), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* A process committing in a loop is killed at random moments: the commit
 * after the reopen is the last acknowledged one (or the one in flight). */
typedef struct commit_area {
    atomic_llong acked;         /* last offset whose commit returned */
    atomic_int ready;
} commit_area;

static void commit_child(commit_area *a)
{
    cano_t *db = NULL;
    if (cano_open(store, NULL, &db) != CANO_OK)
        _exit(20);
    atomic_store(&a->ready, 1);
    for (int64_t i = atomic_load(&a->acked) + 1; i <= 1000; i++) {
        if (cano_commit(db, "g0", "t", 0, i) != CANO_OK)
            _exit(21);
        atomic_store(&a->acked, i);
    }
    for (;;)
        pause();
}

START_TEST(test_queue_group_commit_kill)
{
    commit_area *a = shared_map(sizeof *a);
    uint32_t rng = 0xc0ffee;
    {
        cano_t *db = tu_open(store);
        cano_topic_config c = tu_config(1, 1 << 20);
        cano_topic_t *t = tu_create(db, "t", &c);
        tu_append_gen(t, 0, 3, 0, 1000);
        commit_ok(db, "g0", "t", 0, 0);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    int64_t have = 0;
    pid_t parent = getpid();
    for (int round = 0; round < 4; round++) {
        atomic_store(&a->acked, have);
        atomic_store(&a->ready, 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            child_init(parent);
            commit_child(a);
        }
        int64_t t0 = mono_ms();
        int st = 0;
        pid_t w = 0;
        while (atomic_load(&a->acked) == have &&
               (w = waitpid(pid, &st, WNOHANG)) == 0 &&
               mono_ms() - t0 < 20000)
            usleep(200);
        if (w == 0) {
            if (atomic_load(&a->acked) > have)
                usleep(tu_rand(&rng) % 20000);
            kill(pid, SIGKILL);
            ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        }
        char how[64];
        describe_status(st, how, sizeof how);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                      "round %d: the child %s", round, how);
        int64_t acked = atomic_load(&a->acked);
        ck_assert_int_gt(acked, have);
        cano_t *db = tu_open(store);
        int64_t got = committed(db, "g0", "t", 0);
        ck_assert_msg(got == acked || got == acked + 1, "round %d: committed "
                      "%" PRId64 " after the kill, last acknowledged %" PRId64,
                      round, got, acked);
        /* The offsets log holds well-formed commits, in order. */
        cano_topic_t *ot = tu_topic(db, "__consumer_offsets");
        tu_recs all = { 0 };
        ck_assert_int_eq(tu_read_all(ot, 0, tu_stat(ot, 0).start_offset,
                                     &all), CANO_OK);
        ck_assert_uint_eq(all.n, (size_t)got + 1);
        for (size_t i = 0; i < all.n; i++) {
            char group[256], topic[256];
            int32_t p;
            int64_t off;
            ck_assert_msg(decode_commit(&all.v[i], group, topic, &p, &off),
                          "record %zu of __consumer_offsets is not a commit",
                          i);
            ck_assert_str_eq(group, "g0");
            ck_assert_str_eq(topic, "t");
            ck_assert_int_eq(p, 0);
            ck_assert_int_eq(off, (int64_t)i);
        }
        tu_recs_free(&all);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        have = got;
    }
    munmap(a, sizeof *a);
}
END_TEST

static int list_names(const char *name, void *payload)
{
    tu_names *l = payload;
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = strdup(name);
    return 0;
}

START_TEST(test_queue_offsets_topic_is_internal)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(1, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_n(t, 0, 3);
    commit_ok(db, "g", "t", 0, 2);
    for (int round = 0; round < 2; round++) {
        tu_names l = { 0 };
        ck_assert_int_eq(cano_topic_list(db, list_names, &l), 1);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.v[0], "t");
        tu_names_free(&l);

        cano_topic_t *ot = NULL;
        ck_assert_int_eq(cano_topic_open(db, "__consumer_offsets", &ot),
                         CANO_OK);
        int64_t end = tu_end_offset(ot, 0);
        ck_assert_int_ge(end, 1);
        cano_record r = tu_rec("key", "value", 0);
        int64_t off = 77;
        ck_assert_int_eq(cano_append(ot, 0, &r, NULL, &off), CANO_EINVAL);
        ck_assert_int_eq(off, -1);
        ck_assert_int_eq(cano_append(ot, CANO_PARTITION_AUTO, &r, NULL,
                                     NULL), CANO_EINVAL);
        ck_assert_int_eq(cano_append_batch(ot, 0, &r, 1, NULL), CANO_EINVAL);
        ck_assert_int_eq(cano_append_idempotent(ot, 0, 1, 0, &r, 1, NULL),
                         CANO_EINVAL);
        ck_assert_int_eq(tu_end_offset(ot, 0), end);
        ck_assert_int_eq(cano_topic_create(db, "__consumer_offsets", NULL),
                         CANO_EINVAL);
        ck_assert_int_eq(committed(db, "g", "t", 0), 2);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        db = tu_open(store);
    }
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* Decodes a commit record of __consumer_offsets (key: version 1, u16 group
 * length, group, u16 topic length, topic, i32 partition; value: version 1,
 * i64 offset, i64 time; little-endian).  0 when malformed. */
static uint64_t ld_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int decode_commit(const tu_rec_copy *c, char *group, char *topic,
                         int32_t *p, int64_t *offset)
{
    const unsigned char *k = c->key;
    if (!k || c->key_len < 9 || k[0] != 1)
        return 0;
    size_t gl = (size_t)ld_le(k + 1, 2);
    if (gl > 255 || 5 + gl > c->key_len)
        return 0;
    size_t tl = (size_t)ld_le(k + 3 + gl, 2);
    if (tl > 255 || 9 + gl + tl != c->key_len)
        return 0;
    memcpy(group, k + 3, gl);
    group[gl] = '\0';
    memcpy(topic, k + 5 + gl, tl);
    topic[tl] = '\0';
    *p = (int32_t)ld_le(k + 5 + gl + tl, 4);
    const unsigned char *v = c->value;
    if (!v || c->value_len != 17 || v[0] != 1)
        return 0;
    *offset = (int64_t)ld_le(v + 1, 8);
    return 1;
}

/* The offsets topic keeps, per key, a latest record equal to the commit. */
static void assert_offsets_log(cano_t *db, const int64_t *want, int ngroups,
                               int64_t want_records)
{
    cano_topic_t *ot = tu_topic(db, "__consumer_offsets");
    cano_partition_info pi = tu_stat(ot, 0);
    ck_assert_int_eq(pi.durable_offset, pi.end_offset);
    tu_recs all = { 0 };
    ck_assert_int_eq(tu_read_all(ot, 0, pi.start_offset, &all), CANO_OK);
    if (want_records >= 0)
        ck_assert_uint_eq(all.n, (size_t)want_records);
    int64_t latest[8];
    int64_t latest_at[8];
    for (int g = 0; g < 8; g++)
        latest[g] = latest_at[g] = -1;
    for (size_t i = 0; i < all.n; i++) {
        char group[256], topic[256];
        int32_t p;
        int64_t off;
        ck_assert_msg(decode_commit(&all.v[i], group, topic, &p, &off),
                      "record %zu of __consumer_offsets is not a commit", i);
        ck_assert_str_eq(topic, "t");
        ck_assert_int_eq(p, 0);
        ck_assert_int_eq(strlen(group), 2);
        ck_assert_int_eq(group[0], 'g');
        int g = group[1] - '0';
        ck_assert(g >= 0 && g < ngroups);
        ck_assert_int_gt(all.v[i].offset, latest_at[g]);
        latest[g] = off;
        latest_at[g] = all.v[i].offset;
    }
    for (int g = 0; g < ngroups; g++) {
        char name[8];
        snprintf(name, sizeof name, "g%d", g);
        ck_assert_msg(latest[g] == want[g], "%s: latest record %" PRId64
                      ", last commit %" PRId64, name, latest[g], want[g]);
        ck_assert_int_eq(committed(db, name, "t", 0), want[g]);
    }
    tu_recs_free(&all);
}

START_TEST(test_queue_offsets_topic_latest_per_key)
{
    enum { G = 3, COMMITS = 30 };
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(1, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    append_n(t, 0, 100);
    int64_t want[G];
    for (int i = 0; i < COMMITS; i++) {
        char name[8];
        snprintf(name, sizeof name, "g%d", i % G);
        int64_t off = (i * 37) % 101;
        commit_ok(db, name, "t", 0, off);
        want[i % G] = off;
        ck_assert_int_eq(committed(db, name, "t", 0), off);
    }
    assert_offsets_log(db, want, G, COMMITS);
    /* Compacting the offsets topic (its only segment is active: nothing
     * to do) keeps the commits. */
    cano_topic_t *ot = tu_topic(db, "__consumer_offsets");
    int rc = cano_compact(ot, 0);
    ck_assert_msg(rc == CANO_OK, "cano_compact(__consumer_offsets) = %d (%s)",
                  rc, cano_last_errmsg());
    ck_assert_int_eq(cano_maintain(db), CANO_OK);
    assert_offsets_log(db, want, G, -1);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = tu_open(store);
    assert_offsets_log(db, want, G, -1);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ======================================================================
 * Idempotent appends
 * ====================================================================== */

/* Record j of a batch of producer pid at sequence seq. */
static cano_record idem_rec(int64_t pid, int32_t seq, int j, char *key,
                            char *val)
{
    snprintf(key, 32, "p%" PRId64, pid);
    snprintf(val, 32, "s%" PRId32, seq + j);
    return tu_rec(key, val, T0);
}

/* Appends batch (pid, seq, n) and returns its rc; *first set. */
static int idem(cano_topic_t *t, int64_t pid, int32_t seq, int n,
                int64_t *first)
{
    char key[4][32], val[4][32];
    cano_record recs[4];
    ck_assert_int_le(n, 4);
    for (int j = 0; j < n; j++)
        recs[j] = idem_rec(pid, seq, j, key[j], val[j]);
    *first = -100;
    return cano_append_idempotent(t, 0, pid, seq, recs, (size_t)n, first);
}

static int64_t idem_ok(cano_topic_t *t, int64_t pid, int32_t seq, int n)
{
    int64_t first;
    int rc = idem(t, pid, seq, n, &first);
    ck_assert_msg(rc == CANO_OK, "idempotent (%" PRId64 ", %d, %d) = %d (%s)",
                  pid, seq, n, rc, cano_last_errmsg());
    return first;
}

static void idem_rc(cano_topic_t *t, int64_t pid, int32_t seq, int n,
                    int want)
{
    int64_t end = tu_end_offset(t, 0), first;
    int rc = idem(t, pid, seq, n, &first);
    ck_assert_msg(rc == want, "idempotent (%" PRId64 ", %d, %d) = %d, want %d",
                  pid, seq, n, rc, want);
    ck_assert_int_eq(tu_end_offset(t, 0), end);     /* nothing written */
}

/* A retry returns the original first offset and writes nothing. */
static void idem_retry(cano_topic_t *t, int64_t pid, int32_t seq, int n,
                       int64_t want_first)
{
    int64_t end = tu_end_offset(t, 0);
    int64_t first = idem_ok(t, pid, seq, n);
    ck_assert_msg(first == want_first, "retry (%" PRId64 ", %d, %d) gave %"
                  PRId64 ", first append %" PRId64, pid, seq, n, first,
                  want_first);
    ck_assert_int_eq(tu_end_offset(t, 0), end);
}

START_TEST(test_queue_idempotent_basics)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(2, 1 << 20);
    cano_topic_t *t = tu_create(db, "t", &c);
    ck_assert_int_eq(idem_ok(t, 7, 0, 3), 0);
    idem_retry(t, 7, 0, 3, 0);
    ck_assert_int_eq(idem_ok(t, 7, 3, 2), 3);
    idem_retry(t, 7, 0, 3, 0);
    idem_retry(t, 7, 3, 2, 3);
    /* A gap, an old sequence with another count, a sequence inside an
     * earlier batch: CANO_ESEQUENCE, nothing written. */
    idem_rc(t, 7, 6, 1, CANO_ESEQUENCE);
    idem_rc(t, 7, 100, 1, CANO_ESEQUENCE);
    idem_rc(t, 7, 0, 2, CANO_ESEQUENCE);
    idem_rc(t, 7, 1, 1, CANO_ESEQUENCE);
    idem_rc(t, 7, 4, 1, CANO_ESEQUENCE);
    ck_assert_int_eq(idem_ok(t, 7, 5, 1), 5);

    /* An unknown producer starts at any sequence; producers are
     * independent. */
    ck_assert_int_eq(idem_ok(t, 99, 1000, 2), 6);
    ck_assert_int_eq(idem_ok(t, 0, 0, 1), 8);
    ck_assert_int_eq(idem_ok(t, 99, 1002, 1), 9);
    idem_retry(t, 99, 1000, 2, 6);
    idem_rc(t, 99, 0, 1, CANO_ESEQUENCE);
    ck_assert_int_eq(idem_ok(t, 7, 6, 1), 10);

    /* Only the last five batches are remembered. */
    int64_t firsts[6];
    for (int i = 0; i < 6; i++)
        firsts[i] = idem_ok(t, 5, 10 + i, 1);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(firsts[i], 11 + i);
    idem_rc(t, 5, 10, 1, CANO_ESEQUENCE);
    for (int i = 1; i < 6; i++)
        idem_retry(t, 5, 10 + i, 1, firsts[i]);

    /* Bad arguments. */
    cano_record r = tu_rec("k", "v", T0);
    int64_t f;
    ck_assert_int_eq(cano_append_idempotent(t, 0, -1, 0, &r, 1, &f),
                     CANO_EINVAL);
    ck_assert_int_eq(cano_append_idempotent(t, 0, 1, -1, &r, 1, &f),
                     CANO_EINVAL);
    ck_assert_int_eq(cano_append_idempotent(t, 0, 1, 0, &r, 0, &f),
                     CANO_EINVAL);
    ck_assert_int_eq(cano_append_idempotent(t, 0, 1, 0, NULL, 1, &f),
                     CANO_EINVAL);
    ck_assert_int_eq(cano_append_idempotent(t, 2, 1, 0, &r, 1, &f),
                     CANO_EINVAL);
    ck_assert_int_eq(cano_append_idempotent(t, CANO_PARTITION_AUTO, 1, 0, &r,
                                            1, &f), CANO_EINVAL);
    ck_assert_int_eq(cano_append_idempotent(NULL, 0, 1, 0, &r, 1, &f),
                     CANO_EINVAL);
    ck_assert_int_eq(tu_end_offset(t, 0), 17);
    ck_assert_int_eq(tu_end_offset(t, 1), 0);
    /* Producer 1 was never recorded by those failures. */
    ck_assert_int_eq(idem_ok(t, 1, 40, 1), 17);

    /* Exactly the records written once, in order. */
    tu_recs all = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &all), CANO_OK);
    ck_assert_uint_eq(all.n, 18);
    static const struct { const char *k, *v; } want[18] = {
        { "p7", "s0" }, { "p7", "s1" }, { "p7", "s2" }, { "p7", "s3" },
        { "p7", "s4" }, { "p7", "s5" }, { "p99", "s1000" },
        { "p99", "s1001" }, { "p0", "s0" }, { "p99", "s1002" },
        { "p7", "s6" }, { "p5", "s10" }, { "p5", "s11" }, { "p5", "s12" },
        { "p5", "s13" }, { "p5", "s14" }, { "p5", "s15" }, { "p1", "s40" },
    };
    for (int i = 0; i < 18; i++)
        assert_rec(&all.v[i], i, want[i].k, want[i].v);
    tu_recs_free(&all);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* Partition offsets of the idempotent child's batches. */
typedef struct idem_area {
    int64_t first5[16];     /* producer 5: batch b = (seq 2b, 2 records) */
    int64_t first6[16];     /* producer 6: batch b = (seq 100+b, 1 record) */
    int done;
} idem_area;

enum { IDEM_BATCHES = 12 };

static idem_area *idem_shared;
static int idem_clean;

static int idem_child(void *arg)
{
    (void)arg;
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = CANO_SYNC_NONE;
    cano_t *db = NULL;
    cano_topic_t *t = NULL;
    if (cano_open(store, &o, &db) != CANO_OK ||
        cano_topic_open(db, "t", &t) != CANO_OK)
        return 1;
    for (int b = 0; b < IDEM_BATCHES; b++) {
        char key[2][32], val[2][32];
        cano_record recs[2] = { idem_rec(5, 2 * b, 0, key[0], val[0]),
                                idem_rec(5, 2 * b, 1, key[1], val[1]) };
        if (cano_append_idempotent(t, 0, 5, 2 * b, recs, 2,
                                   &idem_shared->first5[b]) != CANO_OK)
            return 2;
        recs[0] = idem_rec(6, 100 + b, 0, key[0], val[0]);
        if (cano_append_idempotent(t, 0, 6, 100 + b, recs, 1,
                                   &idem_shared->first6[b]) != CANO_OK)
            return 3;
        /* A retry inside the run changes nothing. */
        int64_t again = -1;
        if (cano_append_idempotent(t, 0, 6, 100 + b, recs, 1, &again) !=
                CANO_OK || again != idem_shared->first6[b])
            return 4;
    }
    idem_shared->done = 1;
    if (idem_clean)
        return cano_close(db) == CANO_OK ? 0 : 5;
    return 0;       /* killed by tu_run_child: no close */
}

/* _i 0: SIGKILL, one segment; 1: SIGKILL with rolls (snapshots + replay);
 * 2: clean close with rolls. */
START_TEST(test_queue_idempotent_after_restart)
{
    idem_shared = shared_map(sizeof *idem_shared);
    idem_clean = _i == 2;
    {
        cano_t *db = tu_open(store);
        cano_topic_config c = tu_config(1, _i ? 150 : 1 << 20);
        tu_create(db, "t", &c);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    ck_assert_int_eq(tu_run_child(idem_child, NULL, !idem_clean), 0);
    ck_assert_int_eq(idem_shared->done, 1);
    const int64_t total = 3 * IDEM_BATCHES;
    for (int b = 0; b < IDEM_BATCHES; b++) {
        ck_assert_int_eq(idem_shared->first5[b], 3 * b);
        ck_assert_int_eq(idem_shared->first6[b], 3 * b + 2);
    }
    for (int round = 0; round < 2; round++) {
        cano_t *db = tu_open(store);
        cano_topic_t *t = tu_topic(db, "t");
        if (_i)
            ck_assert_int_gt(tu_stat(t, 0).segments, 3);
        ck_assert_int_eq(tu_end_offset(t, 0), total + round);
        /* The last five batches of each producer retry to their offsets
         * (in round 1 producer 5 has one more batch since). */
        int lo5 = IDEM_BATCHES - 5 + round;
        for (int b = IDEM_BATCHES - 5; b < IDEM_BATCHES; b++) {
            if (b >= lo5)
                idem_retry(t, 5, 2 * b, 2, idem_shared->first5[b]);
            idem_retry(t, 6, 100 + b, 1, idem_shared->first6[b]);
        }
        /* Older ones, gaps and changed counts are refused. */
        idem_rc(t, 5, 2 * (lo5 - 1), 2, CANO_ESEQUENCE);
        idem_rc(t, 6, 100 + IDEM_BATCHES - 6, 1, CANO_ESEQUENCE);
        idem_rc(t, 5, 2 * IDEM_BATCHES + round + 1, 1, CANO_ESEQUENCE);
        idem_rc(t, 5, 2 * (IDEM_BATCHES - 1), 1, CANO_ESEQUENCE);
        idem_rc(t, 6, 100 + IDEM_BATCHES + 5, 1, CANO_ESEQUENCE);
        ck_assert_int_eq(tu_end_offset(t, 0), total + round);
        if (round == 0) {
            /* The sequence goes on; this retry too survives a close. */
            ck_assert_int_eq(idem_ok(t, 5, 2 * IDEM_BATCHES, 1), total);
            idem_retry(t, 5, 2 * IDEM_BATCHES, 1, total);
        } else {
            idem_retry(t, 5, 2 * IDEM_BATCHES, 1, total);
            idem_rc(t, 5, 2 * IDEM_BATCHES, 2, CANO_ESEQUENCE);
            ck_assert_int_eq(idem_ok(t, 5, 2 * IDEM_BATCHES + 1, 1),
                             total + 1);
            ck_assert_int_eq(idem_ok(t, 6, 100 + IDEM_BATCHES, 1),
                             total + 2);
        }
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    /* Every record once. */
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_topic(db, "t");
    tu_recs all = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &all), CANO_OK);
    ck_assert_uint_eq(all.n, (size_t)total + 3);
    for (int b = 0; b < IDEM_BATCHES; b++) {
        char v[32];
        snprintf(v, sizeof v, "s%d", 2 * b);
        assert_rec(&all.v[3 * b], 3 * b, "p5", v);
        snprintf(v, sizeof v, "s%d", 2 * b + 1);
        assert_rec(&all.v[3 * b + 1], 3 * b + 1, "p5", v);
        snprintf(v, sizeof v, "s%d", 100 + b);
        assert_rec(&all.v[3 * b + 2], 3 * b + 2, "p6", v);
    }
    tu_recs_free(&all);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    munmap(idem_shared, sizeof *idem_shared);
}
END_TEST

/* The producer's batches are all below the log start (cano_delete_records
 * into the active segment) when the process is killed: a retry after the
 * reopen must still not write the batch a second time. */
static int idem_delete_child(void *arg)
{
    (void)arg;
    cano_t *db = NULL;
    cano_topic_t *t = NULL;
    if (cano_open(store, NULL, &db) != CANO_OK ||
        cano_topic_open(db, "t", &t) != CANO_OK)
        return 1;
    for (int32_t seq = 0; seq < 5; seq++) {
        char key[32], val[32];
        cano_record r = idem_rec(5, seq, 0, key, val);
        int64_t first = -1;
        if (cano_append_idempotent(t, 0, 5, seq, &r, 1, &first) != CANO_OK ||
            first != seq)
            return 2;
    }
    if (cano_delete_records(t, 0, 5) != CANO_OK)
        return 3;
    return 0;       /* SIGKILL */
}

START_TEST(test_queue_idempotent_retry_after_delete_records_and_kill)
{
    {
        cano_t *db = tu_open(store);
        cano_topic_config c = tu_config(1, 1 << 20);
        tu_create(db, "t", &c);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    ck_assert_int_eq(tu_run_child(idem_delete_child, NULL, 1), 0);
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_topic(db, "t");
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.start_offset, 5);
    ck_assert_int_eq(pi.end_offset, 5);
    int64_t first;
    int rc = idem(t, 5, 4, 1, &first);
    int64_t end = tu_end_offset(t, 0);
    ck_assert_msg(end == 5, "the retry of (producer 5, sequence 4) wrote the "
                  "batch again: rc %d, first offset %" PRId64 " (originally "
                  "4), end offset %" PRId64, rc, first, end);
    if (rc == CANO_OK)
        ck_assert_int_eq(first, 4);
    else
        ck_assert_int_eq(rc, CANO_ESEQUENCE);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ======================================================================
 * Retention that waits for consumer groups
 * ====================================================================== */

enum { RG_RECORDS = 50, RG_PER_SEG = 3 };

/* The encoded size of one single-record batch of the retention records
 * ("k%02d" / "value-%02d", timestamp T0). */
static int64_t rg_batch_bytes(void)
{
    cano_record r = tu_rec("k00", "value-00", T0);
    return tu_batch_size(&r, 1, NULL);
}

/* A DELETE topic, retention_ms 0, three records a segment, 50 records with
 * an old timestamp: 17 segments, bases 0, 3, ..., 48 (48 active). */
static cano_topic_t *rg_topic(cano_t *db, const char *name,
                              const char *groups, int64_t max_bytes)
{
    int64_t bs = rg_batch_bytes();
    cano_topic_config c = tu_config(1, RG_PER_SEG * bs);
    c.cleanup_policy = CANO_CLEANUP_DELETE;
    c.retention_ms = 0;
    c.retention_groups = groups;
    c.retention_groups_max_bytes = max_bytes;
    cano_topic_t *t = tu_create(db, name, &c);
    for (int i = 0; i < RG_RECORDS; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%02d", i);
        snprintf(v, sizeof v, "value-%02d", i);
        ck_assert_int_eq(tu_append_kv(t, 0, k, v, T0), i);
    }
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.segments, 17);
    ck_assert_int_eq(pi.bytes, RG_RECORDS * bs);
    int64_t *bases;
    ck_assert_int_eq(tu_segment_bases(store, name, 0, &bases), 17);
    for (int i = 0; i < 17; i++)
        ck_assert_int_eq(bases[i], RG_PER_SEG * i);
    free(bases);
    return t;
}

/* Asserts the log starts at start, in the segment with that base, and the
 * records from there on are intact. */
static void rg_assert_start(cano_topic_t *t, const char *name, int64_t start)
{
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_msg(pi.start_offset == start, "%s: log start %" PRId64
                  ", want %" PRId64, name, pi.start_offset, start);
    ck_assert_int_eq(pi.end_offset, RG_RECORDS);
    int64_t nseg = (RG_RECORDS - 1) / RG_PER_SEG - start / RG_PER_SEG + 1;
    ck_assert_int_eq(pi.segments, nseg);
    int64_t *bases;
    ck_assert_int_eq(tu_segment_bases(store, name, 0, &bases), nseg);
    ck_assert_int_eq(bases[0], start);
    free(bases);
    tu_recs got = { 0 };
    if (start > 0)
        ck_assert_int_eq(cano_read(t, 0, start - 1, 1, tu_collect, &got),
                         CANO_EOFFSET);
    ck_assert_int_eq(tu_read_all(t, 0, start, &got), CANO_OK);
    ck_assert_uint_eq(got.n, (size_t)(RG_RECORDS - start));
    for (size_t i = 0; i < got.n; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%02d", (int)(start + (int64_t)i));
        snprintf(v, sizeof v, "value-%02d", (int)(start + (int64_t)i));
        assert_rec(&got.v[i], start + (int64_t)i, k, v);
    }
    tu_recs_free(&got);
}

static void maintain_ok(cano_t *db)
{
    int rc = cano_maintain(db);
    ck_assert_msg(rc == CANO_OK, "cano_maintain = %d (%s)", rc,
                  cano_last_errmsg());
}

START_TEST(test_queue_retention_waits_for_named_group)
{
    cano_t *db = tu_open_opts(store, CANO_SYNC_NONE);
    cano_topic_t *t = rg_topic(db, "t", "g1", -1);
    /* g1 never committed: it holds everything. */
    maintain_ok(db);
    rg_assert_start(t, "t", 0);
    /* A group not named does not release anything. */
    commit_ok(db, "other", "t", 0, 40);
    maintain_ok(db);
    rg_assert_start(t, "t", 0);
    /* g1 at 10: segments wholly below 10 go; [9, 12) holds 10 and stays. */
    commit_ok(db, "g1", "t", 0, 10);
    maintain_ok(db);
    rg_assert_start(t, "t", 9);
    /* Exactly at a segment base. */
    commit_ok(db, "g1", "t", 0, 12);
    maintain_ok(db);
    rg_assert_start(t, "t", 12);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    /* The commit and the start survive a reopen; nothing more goes. */
    db = tu_open_opts(store, CANO_SYNC_NONE);
    t = tu_topic(db, "t");
    maintain_ok(db);
    rg_assert_start(t, "t", 12);
    /* g1 consumed everything: every closed segment expires. */
    commit_ok(db, "g1", "t", 0, RG_RECORDS);
    maintain_ok(db);
    rg_assert_start(t, "t", 48);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* Size retention waits for the groups too. */
START_TEST(test_queue_retention_by_size_waits_for_group)
{
    cano_t *db = tu_open_opts(store, CANO_SYNC_NONE);
    int64_t bs = rg_batch_bytes();
    cano_topic_config c = tu_config(1, RG_PER_SEG * bs);
    c.cleanup_policy = CANO_CLEANUP_DELETE;
    c.retention_ms = -1;
    c.retention_bytes = 1;
    c.retention_groups = "g1";
    cano_topic_t *t = tu_create(db, "t", &c);
    for (int i = 0; i < RG_RECORDS; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%02d", i);
        snprintf(v, sizeof v, "value-%02d", i);
        ck_assert_int_eq(tu_append_kv(t, 0, k, v, 0), i);   /* now */
    }
    ck_assert_int_eq(tu_stat(t, 0).segments, 17);
    maintain_ok(db);
    rg_assert_start(t, "t", 0);
    commit_ok(db, "g1", "t", 0, 16);
    maintain_ok(db);
    rg_assert_start(t, "t", 15);
    commit_ok(db, "g1", "t", 0, 49);
    maintain_ok(db);
    rg_assert_start(t, "t", 48);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_queue_retention_waits_for_every_named_group)
{
    cano_t *db = tu_open_opts(store, CANO_SYNC_NONE);
    cano_topic_t *t = rg_topic(db, "t", "g1,g2", -1);
    commit_ok(db, "g1", "t", 0, 30);
    maintain_ok(db);
    rg_assert_start(t, "t", 0);         /* g2 holds everything */
    commit_ok(db, "g2", "t", 0, 20);
    maintain_ok(db);
    rg_assert_start(t, "t", 18);        /* min(30, 20) in [18, 21) */
    commit_ok(db, "g2", "t", 0, 45);
    maintain_ok(db);
    rg_assert_start(t, "t", 30);        /* now g1 (30) is the minimum */
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_queue_retention_star)
{
    cano_t *db = tu_open_opts(store, CANO_SYNC_NONE);
    cano_topic_t *none = rg_topic(db, "none", "*", -1);
    cano_topic_t *some = rg_topic(db, "some", "*", -1);
    cano_topic_t *plain = rg_topic(db, "plain", NULL, -1);
    /* Commits on another topic do not count for "none". */
    commit_ok(db, "ga", "some", 0, 20);
    commit_ok(db, "gb", "some", 0, 10);
    commit_ok(db, "ga", "plain", 0, 5);
    maintain_ok(db);
    rg_assert_start(none, "none", 48);      /* no group: retention as usual */
    rg_assert_start(some, "some", 9);       /* min(20, 10) in [9, 12) */
    rg_assert_start(plain, "plain", 48);    /* groups not asked for */
    commit_ok(db, "gb", "some", 0, 50);
    maintain_ok(db);
    rg_assert_start(some, "some", 18);      /* ga at 20 */
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_queue_retention_groups_max_bytes)
{
    cano_t *db = tu_open_opts(store, CANO_SYNC_NONE);
    int64_t total = RG_RECORDS * rg_batch_bytes();
    cano_topic_t *eq = rg_topic(db, "eq", "g1", total);
    cano_topic_t *over = rg_topic(db, "over", "g1", total - 1);
    cano_topic_t *tiny = rg_topic(db, "tiny", "g1", 0);
    commit_ok(db, "g1", "tiny", 0, 5);
    maintain_ok(db);
    rg_assert_start(eq, "eq", 0);           /* at the cap: groups rule */
    rg_assert_start(over, "over", 48);      /* over it: retention wins */
    rg_assert_start(tiny, "tiny", 48);
    /* The group's reader starts at the log start, its lag shows it. */
    cano_reader_t *r = group_reader(tiny, 0, "g1");
    ck_assert_int_eq(cano_reader_position(r), 48);
    cano_reader_close(r);
    ck_assert_int_eq(committed(db, "g1", "tiny", 0), 5);
    glist l;
    memset(&l, 0, sizeof l);
    ck_assert_int_eq(cano_group_list(db, glist_fn, &l), 1);
    assert_row(&l, 0, "g1", "tiny", 0, 5, 50, 2);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("crash");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_queue_kill_in_each_sync_mode, 0, 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("group_commit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_queue_group_commit, 0, 2);
    tcase_add_test(tc, test_queue_sync_none_does_not_sync_appends);
    suite_add_tcase(s, tc);

    tc = tcase_create("tailing");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_queue_tail_wakes_on_append, 0, 2);
    tcase_add_test(tc, test_queue_tail_timeouts);
    tcase_add_loop_test(tc, test_queue_tail_reader_close_wakes, 0, 2);
    tcase_add_loop_test(tc, test_queue_tail_store_close_wakes, 0, 2);
    tcase_add_test(tc, test_queue_durable_reader_waits_for_sync);
    tcase_add_loop_test(tc, test_queue_durable_reader_woken_by_sync, 0, 2);
    tcase_add_test(tc, test_queue_durable_reader_sync_always);
    tcase_add_loop_test(tc, test_queue_durable_reader_woken_without_cano_sync,
                        0, 2);
    tcase_add_test(tc, test_queue_tail_topic_delete_wakes);
    suite_add_tcase(s, tc);

    tc = tcase_create("groups");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_queue_group_commit_survives_reopen);
    tcase_add_test(tc, test_queue_group_reader_resumes);
    tcase_add_test(tc, test_queue_group_bad_args);
    tcase_add_test(tc, test_queue_group_list);
    tcase_add_test(tc, test_queue_offsets_topic_is_internal);
    tcase_add_test(tc, test_queue_offsets_topic_latest_per_key);
    tcase_add_test(tc, test_queue_group_commits_of_deleted_topic);
    tcase_add_test(tc, test_queue_group_commit_kill);
    suite_add_tcase(s, tc);

    tc = tcase_create("idempotent");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_queue_idempotent_basics);
    tcase_add_loop_test(tc, test_queue_idempotent_after_restart, 0, 3);
    tcase_add_test(tc,
                   test_queue_idempotent_retry_after_delete_records_and_kill);
    suite_add_tcase(s, tc);

    tc = tcase_create("retention");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_queue_retention_waits_for_named_group);
    tcase_add_test(tc, test_queue_retention_by_size_waits_for_group);
    tcase_add_test(tc, test_queue_retention_waits_for_every_named_group);
    tcase_add_test(tc, test_queue_retention_star);
    tcase_add_test(tc, test_queue_retention_groups_max_bytes);
    suite_add_tcase(s, tc);
    return s;
}
