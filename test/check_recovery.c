/* check_recovery.c - clean and unclean stops, torn and corrupt tails,
 * damaged indexes, half-created segments, damage found by reads.
 *
 * An "unclean stop" is a child process that opens the store, appends and
 * _exit()s (or is SIGKILLed) without cano_close.  Appended data is in the OS
 * when an append returns, so it survives the process. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "testutil.h"

static char dir[64];
static char store[TU_PATH_MAX];

static void setup(void)
{
    ck_assert_int_eq(tu_mkdtemp_fast(dir, sizeof dir), 0);
    tu_path(store, "%s/store", dir);
}

static void teardown(void)
{
    tu_rmtree(dir);
}

static cano_t *open_store(const char *path)
{
    return tu_open(path);
}

static tu_report get_report(cano_t *db)
{
    tu_report r;
    memset(&r, 0, sizeof r);
    int rc = cano_recovery_report(db, tu_report_collect, &r);
    ck_assert_int_ge(rc, 0);
    ck_assert_int_eq(rc, r.n);
    return r;
}

/* Reads partition p fully and checks it is exactly generated records
 * 0..n-1 of seed. */
static void assert_gen_partition(cano_topic_t *t, int32_t p, uint32_t seed,
                                 int64_t n)
{
    tu_recs got = { 0 };
    int rc = tu_read_all(t, p, 0, &got);
    ck_assert_msg(rc == CANO_OK, "read p%d: %d (%s)", p, rc,
                  cano_last_errmsg());
    ck_assert_msg(got.n == (size_t)n, "p%d: %zu records, want %" PRId64, p,
                  got.n, n);
    for (int64_t i = 0; i < n; i++) {
        ck_assert_int_eq(got.v[i].offset, i);
        ck_assert_msg(tu_gen_matches(&got.v[i], seed, i),
                      "p%d record %" PRId64 " differs", p, i);
    }
    tu_recs_free(&got);
    ck_assert_int_eq(tu_end_offset(t, p), n);
}

/* ---- Clean close ---- */

START_TEST(test_recovery_clean_close_is_intact_and_unreported)
{
    cano_t *db = open_store(store);
    cano_topic_config c = tu_config(2, 200);
    cano_topic_t *t = tu_create(db, "t", &c);
    c = tu_config(1, 500);
    c.compression = CANO_COMPRESSION_ZLIB;
    cano_topic_t *z = tu_create(db, "z", &c);
    for (int p = 0; p < 2; p++)
        tu_append_gen(t, p, 10 + (uint32_t)p, 0, 300);
    tu_append_gen(z, 0, 20, 0, 300);
    cano_partition_info before[3] = { tu_stat(t, 0), tu_stat(t, 1),
                                      tu_stat(z, 0) };
    ck_assert_int_gt(before[0].segments, 20);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    for (int round = 0; round < 2; round++) {
        db = open_store(store);
        tu_report r = get_report(db);
        ck_assert_int_eq(r.n, 0);
        t = tu_topic(db, "t");
        z = tu_topic(db, "z");
        cano_partition_info after[3] = { tu_stat(t, 0), tu_stat(t, 1),
                                         tu_stat(z, 0) };
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(after[i].start_offset, before[i].start_offset);
            ck_assert_int_eq(after[i].end_offset, before[i].end_offset);
            ck_assert_int_eq(after[i].segments, before[i].segments);
            ck_assert_int_eq(after[i].bytes, before[i].bytes);
            ck_assert_int_eq(after[i].durable_offset, after[i].end_offset);
        }
        assert_gen_partition(t, 0, 10, 300);
        assert_gen_partition(t, 1, 11, 300);
        assert_gen_partition(z, 0, 20, 300);
        for (int i = 0; i < 3; i++)
            ck_assert_msg(after[i].max_timestamp == before[i].max_timestamp,
                          "partition %d: max_timestamp %" PRId64 " after "
                          "reopen, %" PRId64 " before", i,
                          after[i].max_timestamp, before[i].max_timestamp);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
}
END_TEST

/* The partition's largest timestamp is over all its segments, not only the
 * last one; it must not shrink across a reopen. */
START_TEST(test_recovery_max_timestamp_survives_reopen)
{
    cano_t *db = open_store(store);
    cano_topic_config c = tu_config(1, 100);
    cano_topic_t *t = tu_create(db, "t", &c);
    const int64_t ts[] = { 5000, 9000, 7000, 6000, 6500 };
    for (int i = 0; i < 5; i++)
        tu_append_kv(t, 0, "k", "v", ts[i]);
    ck_assert_int_gt(tu_stat(t, 0).segments, 1);
    ck_assert_int_eq(tu_stat(t, 0).max_timestamp, 9000);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = open_store(store);
    t = tu_topic(db, "t");
    ck_assert_int_eq(tu_stat(t, 0).max_timestamp, 9000);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- Unclean stop ---- */

typedef struct gen_child {
    const char *store;
    int64_t n;          /* records per partition */
    int partitions;
    int64_t seg_bytes;
    int sync_at_end;    /* cano_sync before dying: a flush point */
} gen_child;

static int gen_child_run(void *arg)
{
    gen_child *g = arg;
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = CANO_SYNC_NONE;
    cano_t *db = NULL;
    if (cano_open(g->store, &o, &db) != CANO_OK)
        return 1;
    cano_topic_config c;
    cano_topic_config_init(&c, sizeof c);
    c.partitions = g->partitions;
    c.segment_bytes = g->seg_bytes;
    c.index_interval_bytes = 50;
    int rc = cano_topic_create(db, "t", &c);
    if (rc != CANO_OK && rc != CANO_EEXIST)
        return 2;
    cano_topic_t *t = NULL;
    if (cano_topic_open(db, "t", &t) != CANO_OK)
        return 3;
    for (int p = 0; p < g->partitions; p++) {
        int64_t have;
        cano_partition_info pi;
        memset(&pi, 0, sizeof pi);
        pi.size = sizeof pi;
        if (cano_partition_stat(t, p, &pi) != CANO_OK)
            return 4;
        have = pi.end_offset;
        for (int64_t i = have; i < g->n; i++) {
            char key[32], val[128];
            snprintf(key, sizeof key, "k%" PRId64, i);
            size_t vl = tu_gen_value(val, sizeof val, 30 + (uint32_t)p, i);
            cano_record r = tu_rec_buf(key, strlen(key), val, vl,
                                       tu_gen_ts(30 + (uint32_t)p, i));
            int64_t off;
            if (cano_append(t, p, &r, NULL, &off) != CANO_OK || off != i)
                return 5;
        }
    }
    if (g->sync_at_end && cano_sync(db) != CANO_OK)
        return 6;
    return 0;   /* no cano_close */
}

START_TEST(test_recovery_unclean_stop_keeps_everything_acknowledged)
{
    int kill_self = _i;
    gen_child g = { store, 400, 3, 700, 0 };
    ck_assert_int_eq(tu_run_child(gen_child_run, &g, kill_self), 0);
    char p[TU_PATH_MAX];
    ck_assert(!tu_exists(tu_path(p, "%s/cano+clean", store)));
    cano_t *db = open_store(store);
    tu_report r = get_report(db);
    ck_assert_int_ge(r.n, 1);
    for (int part = 0; part < 3; part++) {
        const tu_report_row *row = tu_report_find(&r, "t", part);
        ck_assert_msg(row != NULL, "partition %d not reported", part);
        ck_assert_int_eq(row->info.end_offset, 400);
        ck_assert_int_eq(row->info.bytes_cut, 0);
        ck_assert_int_eq(row->info.files_set_aside, 0);
        ck_assert_int_eq(row->info.half_created, 0);
        ck_assert_int_gt(row->info.bytes_scanned, 0);
        ck_assert_int_ge(row->info.elapsed_us, 0);
    }
    /* Rows come in topic, then partition order. */
    for (int i = 1; i < r.n && i < 256; i++) {
        int c = strcmp(r.rows[i - 1].topic, r.rows[i].topic);
        ck_assert(c < 0 || (c == 0 && r.rows[i - 1].info.partition <
                                      r.rows[i].info.partition));
    }
    /* The report is stable. */
    tu_report r2 = get_report(db);
    ck_assert_int_eq(r2.n, r.n);
    cano_topic_t *t = tu_topic(db, "t");
    for (int part = 0; part < 3; part++)
        assert_gen_partition(t, part, 30 + (uint32_t)part, 400);
    /* New appends continue where the log ended. */
    for (int part = 0; part < 3; part++)
        tu_append_gen(t, part, 30 + (uint32_t)part, 400, 10);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = open_store(store);
    ck_assert_int_eq(get_report(db).n, 0);
    t = tu_topic(db, "t");
    for (int part = 0; part < 3; part++)
        assert_gen_partition(t, part, 30 + (uint32_t)part, 410);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* Several unclean stops in a row, each adding to the previous. */
START_TEST(test_recovery_repeated_unclean_stops)
{
    for (int round = 1; round <= 4; round++) {
        gen_child g = { store, 60 * round, 2, 300, 0 };
        ck_assert_int_eq(tu_run_child(gen_child_run, &g, round % 2), 0);
    }
    cano_t *db = open_store(store);
    cano_topic_t *t = tu_topic(db, "t");
    assert_gen_partition(t, 0, 30, 240);
    assert_gen_partition(t, 1, 31, 240);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

static int stop_first(const cano_recovery_info *info, void *payload)
{
    (void)info;
    ++*(int *)payload;
    return 1;
}

START_TEST(test_recovery_report_fn_nonzero_stops)
{
    gen_child g = { store, 50, 3, 0, 0 };
    ck_assert_int_eq(tu_run_child(gen_child_run, &g, 0), 0);
    cano_t *db = open_store(store);
    int calls = 0;
    int rc = cano_recovery_report(db, stop_first, &calls);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(rc, 1);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* A child appends until it is killed, publishing how many appends returned;
 * every acknowledged record must be there afterwards, and nothing else but
 * possibly the one in flight. */
typedef struct ack_area {
    atomic_llong acked;
    atomic_int ready;
} ack_area;

START_TEST(test_recovery_kill_during_appends)
{
    ack_area *a = mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(a != MAP_FAILED);
    atomic_store(&a->acked, 0);
    atomic_store(&a->ready, 0);
    {
        cano_t *db = open_store(store);
        cano_topic_config c = tu_config(1, 4000);
        c.index_interval_bytes = 200;
        tu_create(db, "t", &c);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        cano_options o;
        cano_options_init(&o, sizeof o);
        o.sync_mode = _i % 2 ? CANO_SYNC_NONE : CANO_SYNC_INTERVAL;
        o.sync_interval_ms = 5;
        cano_t *db = NULL;
        cano_topic_t *t = NULL;
        if (cano_open(store, &o, &db) != CANO_OK ||
            cano_topic_open(db, "t", &t) != CANO_OK)
            _exit(1);
        atomic_store(&a->ready, 1);
        for (int64_t i = 0;; i++) {
            char key[32], val[128];
            snprintf(key, sizeof key, "k%" PRId64, i);
            size_t vl = tu_gen_value(val, sizeof val, 40, i);
            cano_record r = tu_rec_buf(key, strlen(key), val, vl,
                                       tu_gen_ts(40, i));
            if (i % 5 == 4) {
                /* Now and then a batch, to tear batches too. */
                cano_record b[3] = { r, r, r };
                int64_t off;
                if (cano_append_batch(t, 0, b, 1, &off) != CANO_OK ||
                    off != i)
                    _exit(2);
            } else if (cano_append(t, 0, &r, NULL, NULL) != CANO_OK) {
                _exit(2);
            }
            atomic_store(&a->acked, i + 1);
        }
    }
    while (!atomic_load(&a->ready))
        tu_sleep_ms(1);
    tu_sleep_ms(20 + 15 * _i);
    kill(pid, SIGKILL);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st));
    int64_t acked = atomic_load(&a->acked);
    ck_assert_int_gt(acked, 0);
    cano_t *db = open_store(store);
    cano_topic_t *t = tu_topic(db, "t");
    int64_t end = tu_end_offset(t, 0);
    ck_assert_int_ge(end, acked);
    ck_assert_int_le(end, acked + 1);
    assert_gen_partition(t, 0, 40, end);
    tu_append_gen(t, 0, 40, end, 5);
    assert_gen_partition(t, 0, 40, end + 5);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    munmap(a, sizeof *a);
}
END_TEST

/* ---- Torn and corrupt tails ---- */

enum { TORN_K = 20, TORN_LAST = 5 };
/* Later than every generated timestamp, but well within segment_ms. */
static const int64_t TORN_LAST_TS = 1600000100000LL;

static cano_record torn_last_rec(int j, char *key, char *val, char *hval,
                                 cano_header *h)
{
    sprintf(key, "last%d", j);
    memset(val, 'A' + j, 100);
    val[100] = '\0';
    sprintf(hval, "x%d", j);
    h->name = "h";
    h->name_len = 1;
    h->value = hval;
    h->value_len = strlen(hval);
    cano_record r = tu_rec(key, val, TORN_LAST_TS + j);
    r.headers = h;
    r.header_count = 1;
    return r;
}

static cano_topic_config torn_config(int variant)
{
    cano_topic_config c = tu_config(1, 0);
    c.index_interval_bytes = 0;       /* every batch gets index entries */
    if (variant == 1)
        c.segment_bytes = 400;        /* the last batch gets a segment */
    if (variant == 2)
        c.compression = CANO_COMPRESSION_ZLIB;
    return c;
}

typedef struct torn_args {
    const char *store;
    int variant;
} torn_args;

static int torn_child(void *arg)
{
    torn_args *a = arg;
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = CANO_SYNC_NONE;
    cano_t *db = NULL;
    if (cano_open(a->store, &o, &db) != CANO_OK)
        return 1;
    cano_topic_config c = torn_config(a->variant);
    cano_topic_t *t = NULL;
    if (cano_topic_create(db, "t", &c) != CANO_OK ||
        cano_topic_open(db, "t", &t) != CANO_OK)
        return 2;
    for (int64_t i = 0; i < TORN_K; i++) {
        char key[32], val[128];
        snprintf(key, sizeof key, "k%" PRId64, i);
        size_t vl = tu_gen_value(val, sizeof val, 50, i);
        cano_record r = tu_rec_buf(key, strlen(key), val, vl,
                                   tu_gen_ts(50, i));
        if (cano_append(t, 0, &r, NULL, NULL) != CANO_OK)
            return 3;
    }
    char keys[TORN_LAST][16], vals[TORN_LAST][101], hv[TORN_LAST][8];
    cano_header hs[TORN_LAST];
    cano_record recs[TORN_LAST];
    for (int j = 0; j < TORN_LAST; j++)
        recs[j] = torn_last_rec(j, keys[j], vals[j], hv[j], &hs[j]);
    int64_t first;
    if (cano_append_batch(t, 0, recs, TORN_LAST, &first) != CANO_OK ||
        first != TORN_K)
        return 4;
    return 0;
}

typedef struct torn_layout {
    char tmpl[TU_PATH_MAX];
    int64_t last_base;      /* base of the segment holding the last batch */
    int64_t start, end;     /* the last batch's byte range in that file */
    unsigned char *bytes;   /* the original last batch */
} torn_layout;

static void torn_prepare(int variant, torn_layout *L)
{
    tu_path(L->tmpl, "%s/tmpl", dir);
    torn_args a = { L->tmpl, variant };
    ck_assert_int_eq(tu_run_child(torn_child, &a, 0), 0);
    int64_t *bases;
    int n = tu_segment_bases(L->tmpl, "t", 0, &bases);
    ck_assert_int_ge(n, 1);
    L->last_base = bases[n - 1];
    free(bases);
    char p[TU_PATH_MAX];
    tu_seg_path(p, L->tmpl, "t", 0, L->last_base, ".log");
    tu_batch_pos *b;
    int nb = tu_log_batches(p, &b);
    ck_assert_int_ge(nb, 1);
    tu_batch_pos last = b[nb - 1];
    free(b);
    ck_assert_int_eq(last.base_offset, TORN_K);
    ck_assert_int_eq(last.last_offset, TORN_K + TORN_LAST - 1);
    ck_assert_int_eq(last.record_count, TORN_LAST);
    ck_assert_int_eq(last.max_timestamp, TORN_LAST_TS + TORN_LAST - 1);
    if (variant == 1) {
        ck_assert_int_eq(L->last_base, TORN_K);
        ck_assert_int_eq(last.pos, 128);
    } else {
        ck_assert_int_eq(L->last_base, 0);     /* one segment */
    }
    if (variant != 2) {
        char keys[TORN_LAST][16], vals[TORN_LAST][101], hv[TORN_LAST][8];
        cano_header hs[TORN_LAST];
        cano_record recs[TORN_LAST];
        for (int j = 0; j < TORN_LAST; j++)
            recs[j] = torn_last_rec(j, keys[j], vals[j], hv[j], &hs[j]);
        ck_assert_int_eq(last.len, tu_batch_size(recs, TORN_LAST, NULL));
    }
    L->start = last.pos;
    L->end = last.pos + last.len;
    L->bytes = malloc((size_t)last.len);
    ck_assert_int_eq(tu_pread(p, L->bytes, (size_t)last.len, last.pos),
                     last.len);
}

/* Finds "<base>.log.<pos>.corrupt" files in the partition directory. */
static int find_corrupt(const char *st, int64_t base, int64_t *pos_out,
                        char *path_out)
{
    char d[TU_PATH_MAX], prefix[64];
    tu_part_dir(d, st, "t", 0);
    snprintf(prefix, sizeof prefix, "%020" PRId64 ".log.", base);
    tu_names l;
    ck_assert_int_eq(tu_list_dir_suffix(d, ".corrupt", &l), 0);
    int found = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (strncmp(l.v[i], prefix, strlen(prefix)) != 0)
            continue;
        found++;
        *pos_out = strtoll(l.v[i] + strlen(prefix), NULL, 10);
        tu_path(path_out, "%s/%s", d, l.v[i]);
    }
    ck_assert_int_eq(found, (int)l.n);   /* no other .corrupt files */
    tu_names_free(&l);
    return found;
}

static void assert_torn_records(cano_topic_t *t, int64_t n)
{
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, (size_t)n);
    for (int64_t i = 0; i < n && i < TORN_K; i++) {
        ck_assert_int_eq(got.v[i].offset, i);
        ck_assert_msg(tu_gen_matches(&got.v[i], 50, i), "record %" PRId64, i);
    }
    for (int64_t i = TORN_K; i < n; i++) {
        char key[16], val[101], hv[8];
        cano_header h;
        cano_record r = torn_last_rec((int)(i - TORN_K), key, val, hv, &h);
        ck_assert(tu_rec_content_eq(&got.v[i], &r));
        ck_assert_int_eq(got.v[i].timestamp, r.timestamp);
    }
    tu_recs_free(&got);
}

static int64_t max_gen_ts(int64_t n)
{
    int64_t m = -1;
    for (int64_t i = 0; i < n; i++)
        if (tu_gen_ts(50, i) > m)
            m = tu_gen_ts(50, i);
    return m;
}

/* Opens the damaged copy and checks what recovery did.  want_end is the end
 * offset recovery must arrive at.  cut >= 0: the file was truncated, and
 * the cut bytes after the last intact batch are L->bytes[0..cut); trailing
 * zeros among them may be taken for preallocated space rather than data, so
 * bytes_cut is either all of them or up to the last non-zero byte.  cut < 0:
 * the batch was damaged in place; some bytes must be cut. */
static void torn_check(const torn_layout *L, const char *work,
                       int64_t want_end, int64_t cut, const char *what)
{
    cano_t *db = open_store(work);
    tu_report r = get_report(db);
    const tu_report_row *row = tu_report_find(&r, "t", 0);
    ck_assert_msg(row != NULL, "%s: partition not reported", what);
    ck_assert_msg(row->info.end_offset == want_end,
                  "%s: report end %" PRId64 ", want %" PRId64, what,
                  row->info.end_offset, want_end);
    int64_t got_cut = row->info.bytes_cut;
    int64_t eff = 0;          /* up to the last non-zero byte */
    if (cut >= 0) {
        for (int64_t i = 0; i < cut; i++)
            if (L->bytes[i])
                eff = i + 1;
        ck_assert_msg(got_cut == cut || got_cut == eff,
                      "%s: bytes_cut %" PRId64 ", want %" PRId64
                      " (or %" PRId64 " without trailing zeros)", what,
                      got_cut, cut, eff);
    } else {
        ck_assert_msg(got_cut > 0, "%s: nothing cut", what);
    }
    int64_t cpos = -1;
    char cpath[TU_PATH_MAX];
    int nc = find_corrupt(work, L->last_base, &cpos, cpath);
    if (cut < 0 || eff > 0)
        ck_assert_msg(row->info.files_set_aside == 1, "%s: set aside %d",
                      what, row->info.files_set_aside);
    if (got_cut == 0)
        ck_assert_msg(row->info.files_set_aside == 0, "%s: set aside %d",
                      what, row->info.files_set_aside);
    ck_assert_msg(nc == row->info.files_set_aside, "%s: %d .corrupt files, "
                  "report says %d", what, nc, row->info.files_set_aside);
    if (nc == 1) {
        ck_assert_int_eq(cpos, L->start);
        size_t len;
        unsigned char *c = tu_read_file(cpath, &len);
        ck_assert_ptr_nonnull(c);
        ck_assert_msg(len == (size_t)got_cut, "%s: .corrupt has %zu bytes, "
                      "bytes_cut %" PRId64, what, len, got_cut);
        if (cut >= 0)
            ck_assert_msg(memcmp(c, L->bytes, len) == 0,
                          "%s: .corrupt content differs", what);
        free(c);
    }
    cano_topic_t *t = tu_topic(db, "t");
    cano_partition_info pi = tu_stat(t, 0);
    ck_assert_int_eq(pi.end_offset, want_end);
    ck_assert_int_eq(pi.start_offset, 0);
    int64_t want_max = want_end > TORN_K ? TORN_LAST_TS + TORN_LAST - 1
                                         : max_gen_ts(TORN_K);
    ck_assert_msg(pi.max_timestamp == want_max, "%s: max_timestamp %" PRId64,
                  what, pi.max_timestamp);
    assert_torn_records(t, want_end);
    /* The time index must not remember the cut batch. */
    int64_t off = -1;
    ck_assert_int_eq(cano_offset_for_time(t, 0, TORN_LAST_TS, &off), CANO_OK);
    ck_assert_int_eq(off, want_end > TORN_K ? TORN_K : want_end);
    /* Appends continue from the recovered end. */
    int64_t o = tu_append_kv(t, 0, "after", "crash", 5);
    ck_assert_int_eq(o, want_end);
    ck_assert_int_eq(cano_offset_for_time(t, 0, TORN_LAST_TS + 100, &off),
                     CANO_OK);
    ck_assert_int_eq(off, want_end + 1);
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(t, 0, want_end, 10, tu_collect, &got), 1);
    tu_assert_kv(&got.v[0], "after", "crash");
    tu_recs_free(&got);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}

static void torn_reopen_check(const char *work, int64_t want_end)
{
    cano_t *db = open_store(work);
    ck_assert_int_eq(get_report(db).n, 0);
    cano_topic_t *t = tu_topic(db, "t");
    ck_assert_int_eq(tu_end_offset(t, 0), want_end + 1);
    tu_recs got = { 0 };
    ck_assert_int_eq(tu_read_all(t, 0, 0, &got), CANO_OK);
    ck_assert_uint_eq(got.n, (size_t)want_end + 1);
    tu_assert_kv(&got.v[want_end], "after", "crash");
    tu_recs_free(&got);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}

START_TEST(test_recovery_torn_tail_every_byte)
{
    torn_layout L;
    torn_prepare(_i, &L);
    char work[TU_PATH_MAX], p[TU_PATH_MAX], what[64];
    tu_path(work, "%s/work", dir);
    for (int64_t c = L.start; c <= L.end; c++) {
        tu_rmtree(work);
        ck_assert_int_eq(tu_copytree(L.tmpl, work), 0);
        tu_seg_path(p, work, "t", 0, L.last_base, ".log");
        ck_assert_int_eq(tu_truncate(p, c), 0);
        snprintf(what, sizeof what, "variant %d cut at %" PRId64, _i, c);
        int64_t cut = c < L.end ? c - L.start : 0;
        torn_check(&L, work, c < L.end ? TORN_K : TORN_K + TORN_LAST, cut,
                   what);
        if ((c - L.start) % 16 == 0 || c == L.end)
            torn_reopen_check(work, c < L.end ? TORN_K : TORN_K + TORN_LAST);
    }
    free(L.bytes);
}
END_TEST

START_TEST(test_recovery_corrupt_tail_byte_flips)
{
    torn_layout L;
    torn_prepare(_i, &L);
    char work[TU_PATH_MAX], p[TU_PATH_MAX], what[64];
    tu_path(work, "%s/work", dir);
    int64_t len = L.end - L.start;
    for (int64_t k = 0; k < len; k++) {
        /* Every header byte, then a sample of the records section. */
        if (k >= 64 && k % 5 != 0 && k != len - 1)
            continue;
        tu_rmtree(work);
        ck_assert_int_eq(tu_copytree(L.tmpl, work), 0);
        tu_seg_path(p, work, "t", 0, L.last_base, ".log");
        unsigned char mask = (unsigned char)(k % 3 == 0 ? 0x01 :
                                             k % 3 == 1 ? 0x80 : 0xff);
        ck_assert_int_eq(tu_flip_byte(p, L.start + k, mask), 0);
        snprintf(what, sizeof what, "variant %d flip at +%" PRId64, _i, k);
        torn_check(&L, work, TORN_K, -1, what);
        if (k % 16 == 0)
            torn_reopen_check(work, TORN_K);
    }
    free(L.bytes);
}
END_TEST

/* ---- Damaged indexes ---- */

enum { IDX_N = 500 };

static void make_indexed_store(void)
{
    cano_t *db = open_store(store);
    cano_topic_config c = tu_config(1, 2000);
    c.index_interval_bytes = 100;
    cano_topic_t *t = tu_create(db, "t", &c);
    tu_append_gen(t, 0, 60, 0, IDX_N);
    ck_assert_int_gt(tu_stat(t, 0).segments, 5);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}

static void damage_index_file(const char *path, int how, uint32_t *rnd)
{
    int64_t sz = tu_file_size(path);
    switch (how) {
    case 0:
        ck_assert_int_eq(unlink(path), 0);
        break;
    case 1:
        ck_assert_int_eq(tu_truncate(path, 3), 0);
        break;
    case 2:
        ck_assert_int_eq(tu_pwrite(path, "XXXXXXXX", 8, 0), 0);
        break;
    case 3:
        for (int64_t i = 16; i < sz; i++)
            ck_assert_int_eq(tu_pwrite(path, "\xff", 1, i), 0);
        break;
    case 4:
        for (int64_t i = 16; i < sz; i++) {
            unsigned char b = (unsigned char)tu_rand(rnd);
            ck_assert_int_eq(tu_pwrite(path, &b, 1, i), 0);
        }
        break;
    case 5: {
        static const unsigned char zeros[100];
        ck_assert_int_eq(tu_pwrite(path, zeros, sizeof zeros, sz), 0);
        break;
    }
    case 6:
        ck_assert_int_eq(tu_truncate(path, 0), 0);
        break;
    case 7: /* half an entry at the end */
        ck_assert_int_eq(tu_pwrite(path, "\x01\x02\x03", 3, sz), 0);
        break;
    }
}

static void assert_index_reads(cano_topic_t *t)
{
    int64_t ts[IDX_N];
    for (int64_t i = 0; i < IDX_N; i++)
        ts[i] = tu_gen_ts(60, i);
    assert_gen_partition(t, 0, 60, IDX_N);
    tu_recs got = { 0 };
    for (int64_t k = 0; k < IDX_N; k++) {
        ck_assert_int_eq(cano_read(t, 0, k, 1, tu_collect, &got), 1);
        ck_assert_int_eq(got.v[0].offset, k);
        ck_assert(tu_gen_matches(&got.v[0], 60, k));
        tu_recs_free(&got);
    }
    for (int64_t q = 1600000000000LL - 3; q <= tu_gen_ts(60, IDX_N) + 25;
         q += 1) {
        int64_t want = IDX_N;
        for (int64_t i = 0; i < IDX_N; i++)
            if (ts[i] >= q) {
                want = i;
                break;
            }
        int64_t off = -1;
        ck_assert_int_eq(cano_offset_for_time(t, 0, q, &off), CANO_OK);
        ck_assert_msg(off == want, "ts %" PRId64 ": %" PRId64 " want %"
                      PRId64, q, off, want);
    }
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, IDX_N - 1, &r), CANO_OK);
    for (int64_t k = IDX_N - 1; k >= 0; k -= 13) {
        ck_assert_int_eq(cano_reader_seek(r, k), CANO_OK);
        cano_record rec;
        ck_assert_int_eq(cano_reader_next(r, &rec, 0), CANO_OK);
        ck_assert_int_eq(rec.offset, k);
    }
    cano_reader_close(r);
}

/* _i: which file (0 .index, 1 .timeindex, 2 both) x how (8 ways). */
START_TEST(test_recovery_damaged_indexes_still_exact)
{
    int which = _i % 3, how = _i / 3;
    make_indexed_store();
    int64_t *bases;
    int n = tu_segment_bases(store, "t", 0, &bases);
    uint32_t rnd = 1234 + (uint32_t)_i;
    for (int i = 0; i < n; i++) {
        char p[TU_PATH_MAX];
        if (which != 1) {
            tu_seg_path(p, store, "t", 0, bases[i], ".index");
            if (tu_exists(p))
                damage_index_file(p, how, &rnd);
        }
        if (which != 0) {
            tu_seg_path(p, store, "t", 0, bases[i], ".timeindex");
            if (tu_exists(p))
                damage_index_file(p, how, &rnd);
        }
    }
    free(bases);
    for (int round = 0; round < 2; round++) {
        cano_t *db = open_store(store);
        cano_topic_t *t = tu_topic(db, "t");
        assert_index_reads(t);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    /* Appends after the repair are readable. */
    cano_t *db = open_store(store);
    cano_topic_t *t = tu_topic(db, "t");
    tu_append_gen(t, 0, 61, IDX_N, 3);
    tu_recs got = { 0 };
    ck_assert_int_eq(cano_read(t, 0, IDX_N - 1, 10, tu_collect, &got), 4);
    ck_assert(tu_gen_matches(&got.v[0], 60, IDX_N - 1));
    ck_assert(tu_gen_matches(&got.v[3], 61, IDX_N + 2));
    tu_recs_free(&got);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* One segment's indexes swapped for another's (a wrong base offset). */
START_TEST(test_recovery_swapped_indexes_still_exact)
{
    make_indexed_store();
    int64_t *bases;
    int n = tu_segment_bases(store, "t", 0, &bases);
    ck_assert_int_ge(n, 3);
    const char *exts[2] = { ".index", ".timeindex" };
    for (int e = 0; e < 2; e++) {
        char a[TU_PATH_MAX], b[TU_PATH_MAX], tmp[TU_PATH_MAX];
        tu_seg_path(a, store, "t", 0, bases[0], exts[e]);
        tu_seg_path(b, store, "t", 0, bases[1], exts[e]);
        tu_path(tmp, "%s/swap", dir);
        if (!tu_exists(a) || !tu_exists(b))
            continue;
        ck_assert_int_eq(rename(a, tmp), 0);
        ck_assert_int_eq(rename(b, a), 0);
        ck_assert_int_eq(rename(tmp, b), 0);
    }
    free(bases);
    cano_t *db = open_store(store);
    assert_index_reads(tu_topic(db, "t"));
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* The same after an unclean stop: the active segment's indexes are gone. */
START_TEST(test_recovery_unclean_stop_with_missing_indexes)
{
    gen_child g = { store, 300, 1, 1500, 0 };
    ck_assert_int_eq(tu_run_child(gen_child_run, &g, 0), 0);
    int64_t *bases;
    int n = tu_segment_bases(store, "t", 0, &bases);
    ck_assert_int_ge(n, 3);
    char p[TU_PATH_MAX];
    for (int i = 0; i < n; i++) {
        unlink(tu_seg_path(p, store, "t", 0, bases[i], ".index"));
        if (i % 2)
            unlink(tu_seg_path(p, store, "t", 0, bases[i], ".timeindex"));
    }
    free(bases);
    cano_t *db = open_store(store);
    tu_report r = get_report(db);
    const tu_report_row *row = tu_report_find(&r, "t", 0);
    ck_assert_ptr_nonnull(row);
    ck_assert_int_eq(row->info.end_offset, 300);
    cano_topic_t *t = tu_topic(db, "t");
    assert_gen_partition(t, 0, 30, 300);
    int64_t ts[300];
    for (int i = 0; i < 300; i++)
        ts[i] = tu_gen_ts(30, i);
    for (int64_t q = 1600000000000LL - 3; q <= tu_gen_ts(30, 300) + 25; q++) {
        int64_t want = 300;
        for (int i = 0; i < 300; i++)
            if (ts[i] >= q) {
                want = i;
                break;
            }
        int64_t off = -1;
        ck_assert_int_eq(cano_offset_for_time(t, 0, q, &off), CANO_OK);
        ck_assert_int_eq(off, want);
    }
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- Half-created segments ---- */

/* _i % 3: an empty file, 10 bytes of a header, 10 bytes of junk.
 * _i / 3: 0 after an unclean stop with an unflushed tail in the segment
 * before it, 1 after an unclean stop right after cano_sync, 2 after a clean
 * close. */
START_TEST(test_recovery_half_created_segment_is_repaired)
{
    int how = _i % 3, mode = _i / 3, unclean = mode < 2;
    enum { N = 120 };
    if (unclean) {
        gen_child g = { store, N, 1, 800, mode == 1 };
        ck_assert_int_eq(tu_run_child(gen_child_run, &g, 0), 0);
    } else {
        cano_t *db = open_store(store);
        cano_topic_config c = tu_config(1, 800);
        c.index_interval_bytes = 50;
        cano_topic_t *t = tu_create(db, "t", &c);
        for (int64_t i = 0; i < N; i++) {
            char key[32], val[128];
            snprintf(key, sizeof key, "k%" PRId64, i);
            size_t vl = tu_gen_value(val, sizeof val, 30, i);
            cano_record r = tu_rec_buf(key, strlen(key), val, vl,
                                       tu_gen_ts(30, i));
            ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_OK);
        }
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    int64_t *bases;
    int nseg = tu_segment_bases(store, "t", 0, &bases);
    free(bases);
    char p[TU_PATH_MAX];
    tu_seg_path(p, store, "t", 0, N, ".log");
    ck_assert(!tu_exists(p));
    static const unsigned char hdr10[10] = { 'C', 'A', 'N', 'O', 'S', 'E',
                                             'G', '1', 1, 0 };
    static const unsigned char junk10[10] = { 0x13, 0x99, 0, 7, 0xfe, 1, 2,
                                              3, 4, 5 };
    if (how == 0)
        ck_assert_int_eq(tu_write_file(p, "", 0), 0);
    else if (how == 1)
        ck_assert_int_eq(tu_write_file(p, hdr10, 10), 0);
    else
        ck_assert_int_eq(tu_write_file(p, junk10, 10), 0);

    cano_t *db = open_store(store);
    if (unclean) {
        tu_report r = get_report(db);
        const tu_report_row *row = tu_report_find(&r, "t", 0);
        ck_assert_ptr_nonnull(row);
        ck_assert_int_eq(row->info.half_created, 1);
        ck_assert_int_eq(row->info.end_offset, N);
    }
    cano_topic_t *t = tu_topic(db, "t");
    assert_gen_partition(t, 0, 30, N);
    tu_append_gen(t, 0, 30, N, 30);
    assert_gen_partition(t, 0, 30, N + 30);
    ck_assert_int_eq(cano_close(db), CANO_OK);

    db = open_store(store);
    ck_assert_int_eq(get_report(db).n, 0);
    t = tu_topic(db, "t");
    assert_gen_partition(t, 0, 30, N + 30);
    ck_assert_int_ge(tu_stat(t, 0).segments, nseg);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    /* Every remaining .log is a real segment. */
    int n = tu_segment_bases(store, "t", 0, &bases);
    for (int i = 0; i < n; i++) {
        tu_seg_path(p, store, "t", 0, bases[i], ".log");
        ck_assert_int_ge(tu_file_size(p), 128);
        char magic[8];
        ck_assert_int_eq(tu_pread(p, magic, 8, 0), 8);
        ck_assert_mem_eq(magic, "CANOSEG1", 8);
    }
    free(bases);
}
END_TEST

/* ---- Damage in a closed segment, found by a read ---- */

/* Checks one damaged copy in a child (so a crash is one result, not the end
 * of the test); returns 0, or which check failed. */
typedef struct damage_args {
    const char *work;
    int64_t vo;          /* first offset of the damaged batch */
    int64_t next_base;   /* base of the segment after it */
    int64_t n;           /* records in the partition */
} damage_args;

static int damage_child(void *arg)
{
    damage_args *a = arg;
    cano_t *db = NULL;
    cano_topic_t *t = NULL;
    if (cano_open(a->work, NULL, &db) != CANO_OK ||
        cano_topic_open(db, "t", &t) != CANO_OK)
        return 1;
    /* The damaged batch itself: an error, never a record. */
    tu_recs got = { 0 };
    int rc = cano_read(t, 0, a->vo, 1, tu_collect, &got);
    if (rc != CANO_ECORRUPT || got.n != 0)
        return 2;
    cano_reader_t *r = NULL;
    if (cano_reader_open(t, 0, a->vo, &r) != CANO_OK)
        return 3;
    cano_record rec;
    if (cano_reader_next(r, &rec, 0) != CANO_ECORRUPT)
        return 4;
    cano_reader_close(r);
    /* Reading through it: what comes before is delivered intact, then the
     * error. */
    rc = tu_read_all(t, 0, 0, &got);
    if (rc != CANO_ECORRUPT || got.n > (size_t)a->vo)
        return 5;
    for (size_t i = 0; i < got.n; i++)
        if (got.v[i].offset != (int64_t)i ||
            !tu_gen_matches(&got.v[i], 70, (int64_t)i))
            return 6;
    tu_recs_free(&got);
    /* Other segments are unaffected. */
    if (tu_read_all(t, 0, a->next_base, &got) != CANO_OK ||
        got.n != (size_t)(a->n - a->next_base))
        return 7;
    for (size_t i = 0; i < got.n; i++)
        if (!tu_gen_matches(&got.v[i], 70, a->next_base + (int64_t)i))
            return 8;
    tu_recs_free(&got);
    if (cano_read(t, 0, 0, 1, tu_collect, &got) != 1 ||
        !tu_gen_matches(&got.v[0], 70, 0))
        return 9;
    tu_recs_free(&got);
    return cano_close(db) == CANO_OK ? 0 : 10;
}

START_TEST(test_recovery_damage_in_closed_segment_is_ecorrupt)
{
    enum { N = 100 };
    cano_t *db = open_store(store);
    cano_topic_config c = tu_config(1, 600);
    c.index_interval_bytes = 100;
    cano_topic_t *t = tu_create(db, "t", &c);
    tu_append_gen(t, 0, 70, 0, N);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    int64_t *bases;
    int nseg = tu_segment_bases(store, "t", 0, &bases);
    ck_assert_int_ge(nseg, 4);
    int64_t seg_base = bases[1], next_base = bases[2];
    free(bases);
    char work[TU_PATH_MAX], p[TU_PATH_MAX];
    tu_path(work, "%s/work", dir);
    tu_batch_pos *b;
    int nb = tu_log_batches(tu_seg_path(p, store, "t", 0, seg_base, ".log"),
                            &b);
    ck_assert_int_ge(nb, 3);
    tu_batch_pos victim = b[nb / 2];
    free(b);
    ck_assert_int_eq(victim.record_count, 1);
    damage_args a = { work, victim.base_offset, next_base, N };
    /* Every header field, then bytes of the records section. */
    const int64_t ks[] = { 0, 3, 7, 8, 9, 11, 12, 13, 14, 16, 17, 20, 23, 24,
                           31, 32, 39, 40, 48, 52, 56, 60, 63, 64, 65, 66,
                           -2, -1 };
    char failures[1024] = "";
    int nfail = 0;
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        int64_t k = ks[ki] < 0 ? victim.len + ks[ki] : ks[ki];
        if (k >= victim.len)
            continue;
        tu_rmtree(work);
        ck_assert_int_eq(tu_copytree(store, work), 0);
        tu_seg_path(p, work, "t", 0, seg_base, ".log");
        ck_assert_int_eq(tu_flip_byte(p, victim.pos + k, 0x5a), 0);
        int rc = tu_run_child(damage_child, &a, 0);
        if (rc != 0) {
            size_t l = strlen(failures);
            snprintf(failures + l, sizeof failures - l, " +%" PRId64 ":%d",
                     k, rc);
            nfail++;
        }
    }
    ck_assert_msg(nfail == 0, "flipped byte:check failed (2 read, 3-4 "
                  "reader, 5-6 read through, 7-9 other data, >128 signal):%s",
                  failures);
}
END_TEST

/* Damage inside the flushed region of the active segment (a bad disk, not
 * a torn write) is treated alike whichever way the store was closed: the
 * end offset never goes back (offsets already handed out are not given
 * again), the damaged batch reads as CANO_ECORRUPT, later batches read. */
static void reopen_keeps_end(int64_t n, int64_t damaged, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        cano_t *db = open_store(store);
        cano_topic_t *t = tu_topic(db, "t");
        ck_assert_int_eq(tu_end_offset(t, 0), n);
        tu_recs got = { 0 };
        ck_assert_int_eq(tu_read_all(t, 0, damaged, &got), CANO_ECORRUPT);
        tu_recs_free(&got);
        ck_assert_int_eq(tu_read_all(t, 0, damaged + 1, &got), CANO_OK);
        ck_assert_int_eq((int64_t)got.n, n - damaged - 1);
        tu_recs_free(&got);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
}

START_TEST(test_recovery_damage_inside_flush_point_keeps_end_offset)
{
    enum { N = 20 };
    for (int clean = 0; clean <= 1; clean++) {
        tu_rmtree(store);
        cano_t *db = open_store(store);
        cano_topic_config c = tu_config(1, 1 << 20);
        c.index_interval_bytes = 0;
        cano_topic_t *t = tu_create(db, "t", &c);
        tu_append_gen(t, 0, 5, 0, N);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        char p[TU_PATH_MAX], marker[TU_PATH_MAX];
        tu_batch_pos *b;
        int nb = tu_log_batches(tu_seg_path(p, store, "t", 0, 0, ".log"), &b);
        ck_assert_int_eq(nb, N);
        int64_t victim = clean ? 0 : 7;      /* the first batch, or one inside */
        /* Its magic byte: a framing check fails, not only the checksum. */
        ck_assert_int_eq(tu_flip_byte(p, b[victim].pos + 12, 0x5a), 0);
        free(b);
        if (!clean)
            unlink(tu_path(marker, "%s/cano+clean", store));
        reopen_keeps_end(N, victim, 2);
    }
}
END_TEST

Suite *recovery_suite(void)
{
    Suite *s = suite_create("recovery");
    TCase *tc = tcase_create("stops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_recovery_clean_close_is_intact_and_unreported);
    tcase_add_test(tc, test_recovery_max_timestamp_survives_reopen);
    tcase_add_loop_test(tc,
                        test_recovery_unclean_stop_keeps_everything_acknowledged,
                        0, 2);
    tcase_add_test(tc, test_recovery_repeated_unclean_stops);
    tcase_add_test(tc, test_recovery_report_fn_nonzero_stops);
    tcase_add_loop_test(tc, test_recovery_kill_during_appends, 0, 6);
    suite_add_tcase(s, tc);

    tc = tcase_create("tails");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_recovery_torn_tail_every_byte, 0, 3);
    tcase_add_loop_test(tc, test_recovery_corrupt_tail_byte_flips, 0, 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("repair");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_recovery_damaged_indexes_still_exact, 0, 24);
    tcase_add_test(tc, test_recovery_swapped_indexes_still_exact);
    tcase_add_test(tc, test_recovery_unclean_stop_with_missing_indexes);
    tcase_add_loop_test(tc, test_recovery_half_created_segment_is_repaired,
                        0, 9);
    tcase_add_test(tc, test_recovery_damage_in_closed_segment_is_ecorrupt);
    tcase_add_test(tc, test_recovery_damage_inside_flush_point_keeps_end_offset);
    suite_add_tcase(s, tc);
    return s;
}
