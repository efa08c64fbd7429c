/* queue.c - cano-only workloads of the queue, compaction and retention
 * features:
 *
 *  E1  end-to-end latency, sync mode none: one thread appends a record every
 *      E1_PAUSE_US (its value carries the clock read just before
 *      cano_append); another waits in cano_reader_next(r, &rec, -1).  The
 *      latency is from that clock read to cano_reader_next returning the
 *      record.  Targets: p50 <= 20 us, p99 <= 200 us.
 *  C1  compaction: 1,000,000 records (whatever --records says) over 10,000
 *      keys, 100-byte values (the data set's, cycled when it is smaller),
 *      compacted topic with 16 MiB segments; cano_compact timed: MB/s of
 *      input (the partition's bytes before), records before/after, the
 *      cleaner's peak memory.  Then appends (1 per call) with and without
 *      the cleaner running in another thread.  Targets: >= 200 MB/s;
 *      memory <= cleaner_map_bytes + 8 MiB; appends during a compaction
 *      >= 0.7x their rate without it.
 *  R1  retention of 1,000 segments: cano_delete_records removing all but
 *      the active segment, and cano_maintain with retention_ms 0 doing the
 *      same; the time taken and the open file descriptors after. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_cano.h"

#define E1_RECORDS   20000
#define E1_WARMUP    1000
#define E1_PAUSE_US  100
#define E1_P50_US    20.0
#define E1_P99_US    200.0

#define C1_RECORDS       1000000u
#define C1_KEYS          10000u
#define C1_SEGMENT_BYTES (16 << 20)
#define C1_MIN_MBS       200.0
#define C1_MEM_SLACK_MIB 8.0
#define C1_APPEND_RATIO  0.7

#define R1_SEGMENTS  1000

static result *row(const char *wl, const char *metric, double value, const char *unit)
{
    return result_new(wl, "cano", metric, value, unit);
}

static void store_path(const bench_cfg *cfg, const char *what, char *dir, size_t len)
{
    xpath(dir, len, "%s/%s", cfg->rundir, what);
    remove_tree(dir);
    make_dir(dir);
}

/* Opens a new store at dir/store with sync_mode and creates topic
 * BENCH_TOPIC with config c (NULL: 1 partition, defaults). */
static cano_topic_t *open_new(const char *dir, int sync_mode, const cano_topic_config *c,
                              cano_t **db)
{
    char path[PATH_MAX + 8];
    cano_options o;
    cano_topic_t *t;
    xpath(path, sizeof path, "%s/store", dir);
    cano_bench_options(&o, sync_mode);
    cano_ck(cano_open(path, &o, db), "open");
    if (c)
        cano_ck(cano_topic_create(*db, BENCH_TOPIC, c), "topic_create");
    else
        cano_bench_topic(*db, 1);
    cano_ck(cano_topic_open(*db, BENCH_TOPIC, &t), "topic_open");
    return t;
}

static cano_partition_info stat0(cano_topic_t *t)
{
    cano_partition_info info = { .size = sizeof info };
    cano_ck(cano_partition_stat(t, 0, &info), "partition_stat");
    return info;
}

/* ---- E1 ---- */

typedef struct e1_reader {
    cano_reader_t *r;
    uint32_t *lat;               /* ns, E1_RECORDS of them */
    int failed;
} e1_reader;

static void *e1_read(void *arg)
{
    e1_reader *e = arg;
    for (uint32_t k = 0; k < E1_WARMUP + E1_RECORDS; k++) {
        cano_record rec;
        int rc = cano_reader_next(e->r, &rec, -1);
        uint64_t t = now_ns();
        cano_ck(rc, "reader_next");
        uint64_t sent;
        if (rec.offset != (int64_t)k || rec.value_len != VAL_LEN)
            fatal("VERIFY FAILED: cano: E1 reader got offset %lld, expected %u",
                  (long long)rec.offset, k);
        memcpy(&sent, rec.value, sizeof sent);
        if (k >= E1_WARMUP)
            e->lat[k - E1_WARMUP] = (uint32_t)(t - sent > UINT32_MAX ? UINT32_MAX : t - sent);
    }
    return NULL;
}

void run_e1(const bench_cfg *cfg)
{
    char dir[PATH_MAX];
    cano_t *db;
    store_path(cfg, "e1", dir, sizeof dir);
    cano_topic_t *t = open_new(dir, CANO_SYNC_NONE, NULL, &db);
    e1_reader e = { NULL, xcalloc(E1_RECORDS, sizeof(uint32_t)), 0 };
    uint32_t *call = xcalloc(E1_RECORDS, sizeof(uint32_t));
    cano_ck(cano_reader_open(t, 0, 0, &e.r), "reader_open");
    pthread_t tid;
    quiesce();
    if (pthread_create(&tid, NULL, e1_read, &e) != 0)
        fatal("pthread_create failed");

    printf("  E1   %u records (after %u warm-up), one every %d us ... ", E1_RECORDS, E1_WARMUP,
           E1_PAUSE_US);
    fflush(stdout);
    unsigned char value[VAL_LEN];
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    double t0 = now_s();
    for (uint32_t k = 0; k < E1_WARMUP + E1_RECORDS; k++) {
        cano_record rec;
        cano_fill(&rec, k);
        memcpy(value, rec_val(k), VAL_LEN);
        rec.value = value;
        uint64_t sent = now_ns();
        memcpy(value, &sent, sizeof sent);
        cano_ck(cano_append(t, 0, &rec, NULL, NULL), "append");
        uint64_t back = now_ns();
        if (k >= E1_WARMUP)
            call[k - E1_WARMUP] = (uint32_t)(back - sent);
        /* Next append E1_PAUSE_US after the previous one was due (no
         * catching up when late). */
        next.tv_nsec += E1_PAUSE_US * 1000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
            next = now;
        else
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    pthread_join(tid, NULL);
    double secs = now_s() - t0;
    cano_reader_close(e.r);
    cano_ck(cano_close(db), "close");
    remove_tree(dir);

    double p50 = percentile_us(e.lat, E1_RECORDS, 0.50);
    double p99 = percentile_us(e.lat, E1_RECORDS, 0.99);
    double p999 = percentile_us(e.lat, E1_RECORDS, 0.999);
    double call50 = percentile_us(call, E1_RECORDS, 0.50);
    double call99 = percentile_us(call, E1_RECORDS, 0.99);
    printf("p50 %.1f us  p99 %.1f us\n", p50, p99);

    const char *what[2] = { "append -> next, p50", "append -> next, p99" };
    double v[2] = { p50, p99 }, lim[2] = { E1_P50_US, E1_P99_US };
    for (int k = 0; k < 2; k++) {
        result *r = row("E1", what[k], v[k], "us");
        r->p50_us = p50;
        r->p99_us = p99;
        r->seconds = secs;
        r->records = E1_RECORDS;
        strfmt(r->target, sizeof r->target, "%s <= %.0f us", k ? "p99" : "p50", lim[k]);
        r->status = v[k] <= lim[k] ? ST_MET : ST_MISSED;
        strfmt(r->note, sizeof r->note, "sync none, reader waits with timeout -1; p99.9 %.1f us;"
               " the cano_append call alone: p50 %.2f us, p99 %.2f us", p999, call50, call99);
    }
    free(e.lat);
    free(call);
}

/* ---- C1 ---- */

static void c1_key(unsigned char out[KEY_LEN], uint32_t id)
{
    char buf[KEY_LEN + 1];
    snprintf(buf, sizeof buf, "c1-key-%09u", id);
    memcpy(out, buf, KEY_LEN);
}

typedef struct c1_check {
    const uint64_t *ids;         /* key id of offset o: ids[o % C1_RECORDS] */
    const uint64_t *latest;      /* each key's latest offset */
    unsigned char *seen;         /* latest record of the key was read */
    uint64_t records;
} c1_check;

static int c1_verify(void *ctx, const cano_record *r)
{
    c1_check *c = ctx;
    unsigned char key[KEY_LEN];
    uint64_t o = (uint64_t)r->offset, id = c->ids[o % C1_RECORDS];
    c1_key(key, (uint32_t)id);
    if (r->key_len != KEY_LEN || memcmp(r->key, key, KEY_LEN) != 0)
        verify_fail("cano", o, "C1: key differs");
    if (r->value_len != VAL_LEN || memcmp(r->value, rec_val(o), VAL_LEN) != 0)
        verify_fail("cano", o, "C1: value differs");
    if (c->latest[id] == o)
        c->seen[id] = 1;
    c->records++;
    return 0;
}

/* Reads the whole partition (one cano_read call goes to the end offset,
 * stepping over compacted-away offsets), verifying every record and that
 * every key's latest record is there; returns the records read. */
static uint64_t c1_read(cano_topic_t *t, c1_check *c)
{
    cano_partition_info info = stat0(t);
    c->records = 0;
    memset(c->seen, 0, C1_KEYS);
    cano_ck(cano_read(t, 0, info.start_offset, (size_t)1 << 30, c1_verify, c), "read");
    for (uint32_t id = 0; id < C1_KEYS; id++)
        if (c->latest[id] != UINT64_MAX && !c->seen[id])
            verify_fail("cano", c->latest[id], "C1: a key's latest record is missing");
    return c->records;
}

static void c1_append(cano_topic_t *t, const uint64_t *ids, uint64_t *latest, uint64_t from,
                      uint64_t to)
{
    unsigned char keys[BATCH][KEY_LEN];
    cano_record recs[BATCH];
    for (uint64_t i = from; i < to; i += BATCH) {
        size_t n = to - i < BATCH ? (size_t)(to - i) : BATCH;
        for (size_t k = 0; k < n; k++) {
            uint64_t id = ids[(i + k) % C1_RECORDS];
            c1_key(keys[k], (uint32_t)id);
            cano_fill(&recs[k], i + k);
            recs[k].key = keys[k];
            latest[id] = i + k;
        }
        int64_t first;
        cano_ck(cano_append_batch(t, 0, recs, n, &first), "append_batch");
        if (first != (int64_t)i)
            fatal("cano: C1 append_batch returned offset %lld, expected %llu",
                  (long long)first, (unsigned long long)i);
    }
}

typedef struct c1_cleaner {
    cano_topic_t *t;
    atomic_int done;
    int rc;
    double secs;
} c1_cleaner;

static void *c1_clean(void *arg)
{
    c1_cleaner *c = arg;
    double t0 = now_s();
    c->rc = cano_compact(c->t, 0);
    c->secs = now_s() - t0;
    atomic_store(&c->done, 1);
    return NULL;
}

/* One record per call (the W1 way) until *stop or n records; returns the
 * count.  Offsets continue from `from`. */
static uint64_t c1_append_one(cano_topic_t *t, const uint64_t *ids, uint64_t *latest,
                              uint64_t from, uint64_t n, atomic_int *stop)
{
    unsigned char key[KEY_LEN];
    uint64_t i = from;
    for (; i < from + n && !(stop && atomic_load(stop)); i++) {
        cano_record rec;
        uint64_t id = ids[i % C1_RECORDS];
        c1_key(key, (uint32_t)id);
        cano_fill(&rec, i);
        rec.key = key;
        cano_ck(cano_append(t, 0, &rec, NULL, NULL), "append");
        latest[id] = i;
    }
    return i - from;
}

void run_c1(const bench_cfg *cfg)
{
    char dir[PATH_MAX], m[48];
    cano_t *db;
    uint64_t n = C1_RECORDS;
    store_path(cfg, "c1", dir, sizeof dir);
    cano_topic_config c;
    cano_ck(cano_topic_config_init(&c, sizeof c), "topic_config_init");
    c.cleanup_policy = CANO_CLEANUP_COMPACT;
    c.segment_bytes = C1_SEGMENT_BYTES;
    cano_topic_t *t = open_new(dir, CANO_SYNC_NONE, &c, &db);
    cano_options o;
    cano_bench_options(&o, CANO_SYNC_NONE);

    /* Key ids: uniform over C1_KEYS (the later append phases reuse them
     * cyclically through ids[i % C1_RECORDS]). */
    uint64_t *ids = random_offsets(C1_RECORDS, C1_KEYS, 7);
    uint64_t *latest = malloc(C1_KEYS * sizeof *latest);
    c1_check chk = { ids, latest, xcalloc(C1_KEYS, 1), 0 };
    if (!latest)
        fatal("out of memory");
    for (uint32_t id = 0; id < C1_KEYS; id++)
        latest[id] = UINT64_MAX;
    printf("  C1   writing %llu records over %u keys ... ", (unsigned long long)n, C1_KEYS);
    fflush(stdout);
    c1_append(t, ids, latest, 0, n);
    cano_ck(cano_sync(db), "sync");
    cano_partition_info before = stat0(t);
    quiesce();

    printf("compacting ... ");
    fflush(stdout);
    rss_probe p;
    rss_probe_start(&p);
    anon_sampler *as = anon_sampler_start();
    double t0 = now_s();
    cano_ck(cano_compact(t, 0), "compact");
    double secs = now_s() - t0;
    double anon_before, anon_peak = anon_sampler_stop(as, &anon_before);
    result probe;
    result_init(&probe, "C1", "cano", "", NAN, "");
    rss_probe_end(&p, &probe);
    cano_partition_info after = stat0(t);
    uint64_t kept = c1_read(t, &chk);       /* verifies every key's latest */
    double mbs = (double)before.bytes / 1e6 / secs;
    printf("%.0f MB/s\n", mbs);

    result *r = row("C1", "compaction throughput", mbs, "MB/s");
    r->seconds = secs;
    r->records = n;
    r->rss_peak_mib = probe.rss_peak_mib;
    r->rss_delta_mib = probe.rss_delta_mib;
    strfmt(r->target, sizeof r->target, ">= %.0f MB/s", C1_MIN_MBS);
    r->status = mbs >= C1_MIN_MBS ? ST_MET : ST_MISSED;
    strfmt(r->note, sizeof r->note, "input %.1f MB (partition bytes before) in %.3f s; "
           "segments %lld -> %lld; bytes after %.1f MB", before.bytes / 1e6, secs,
           (long long)before.segments, (long long)after.segments, after.bytes / 1e6);

    r = row("C1", "records before compaction", (double)n, "records");
    r = row("C1", "records after compaction", (double)kept, "records");
    strfmt(r->note, sizeof r->note, "every key's latest value read back and verified; the "
           "active segment (never compacted) keeps its records");

    double limit = (double)o.cleaner_map_bytes / 1048576.0 + C1_MEM_SLACK_MIB;
    double mem = anon_peak - anon_before;
    r = row("C1", "cleaner memory (anon RSS growth)", mem, "MiB");
    r->rss_peak_mib = probe.rss_peak_mib;
    r->rss_delta_mib = probe.rss_delta_mib;
    strfmt(r->target, sizeof r->target, "<= %.0f MiB (map + %.0f)", limit, C1_MEM_SLACK_MIB);
    r->status = mem <= limit ? ST_MET : ST_MISSED;
    strfmt(r->note, sizeof r->note, "peak RssAnon (sampled every ms) minus RssAnon before; "
           "VmHWM growth %.1f MiB counts mapped log pages too; cleaner_map_bytes %.0f MiB",
           probe.rss_delta_mib, (double)o.cleaner_map_bytes / 1048576.0);

    /* Appends to the active segment with and without the cleaner running.
     * The baseline appends n records; they also dirty the log for the
     * compaction that the second phase runs concurrently. */
    printf("  C1   appends without and during a compaction ... ");
    fflush(stdout);
    uint64_t next = (uint64_t)after.end_offset;
    quiesce();
    t0 = now_s();
    uint64_t base_n = c1_append_one(t, ids, latest, next, n, NULL);
    double base_rate = (double)base_n / (now_s() - t0);
    next += base_n;
    cano_ck(cano_sync(db), "sync");
    quiesce();
    c1_cleaner cl = { t, 0, 0, 0 };
    pthread_t tid;
    t0 = now_s();
    if (pthread_create(&tid, NULL, c1_clean, &cl) != 0)
        fatal("pthread_create failed");
    uint64_t during_n = c1_append_one(t, ids, latest, next, UINT64_MAX / 2, &cl.done);
    double during_s = now_s() - t0;
    pthread_join(tid, NULL);
    cano_ck(cl.rc, "compact (concurrent)");
    double during_rate = (double)during_n / during_s;
    printf("%.0f vs %.0f records/s\n", base_rate, during_rate);
    c1_read(t, &chk);

    strfmt(m, sizeof m, "appends during compaction");
    r = row("C1", m, during_rate, "records/s");
    r->seconds = during_s;
    r->records = during_n;
    r->ratio = during_rate / base_rate;
    strfmt(r->ratio_label, sizeof r->ratio_label, "vs without");
    strfmt(r->target, sizeof r->target, ">= %.1fx without", C1_APPEND_RATIO);
    r->status = r->ratio >= C1_APPEND_RATIO ? ST_MET : ST_MISSED;
    strfmt(r->note, sizeof r->note, "1 record per call, sync none; without a compaction: %.0f "
           "records/s (%llu records); the concurrent compaction took %.2f s; all keys verified "
           "after", base_rate, (unsigned long long)base_n, cl.secs);

    cano_ck(cano_close(db), "close");
    remove_tree(dir);
    free(ids);
    free(latest);
    free(chk.seen);
}

/* ---- R1 ---- */

/* A store whose partition 0 has R1_SEGMENTS sealed segments plus the
 * active one: segment_bytes 1 rolls a segment for every record. */
static cano_topic_t *r1_store(const char *dir, int64_t retention_ms, cano_t **db,
                              double *create_s)
{
    cano_topic_config c;
    cano_ck(cano_topic_config_init(&c, sizeof c), "topic_config_init");
    c.segment_bytes = 1;
    c.retention_ms = retention_ms;
    cano_topic_t *t = open_new(dir, CANO_SYNC_NONE, &c, db);
    double t0 = now_s();
    for (uint64_t i = 0; i <= R1_SEGMENTS; i++) {
        cano_record rec;
        cano_fill(&rec, i);
        cano_ck(cano_append(t, 0, &rec, NULL, NULL), "append");
    }
    *create_s = now_s() - t0;
    cano_partition_info info = stat0(t);
    if (info.segments != R1_SEGMENTS + 1)
        fatal("cano: R1 expected %d segments, the partition has %lld", R1_SEGMENTS + 1,
              (long long)info.segments);
    return t;
}

void run_r1(const bench_cfg *cfg)
{
    char dir[PATH_MAX], m[48];
    cano_t *db;
    double create_s;
    int fds_start = open_fds();

    for (int variant = 0; variant < 2; variant++) {
        store_path(cfg, "r1", dir, sizeof dir);
        cano_topic_t *t = r1_store(dir, variant ? 0 : -1, &db, &create_s);
        int fds_full = open_fds();
        quiesce();
        double t0 = now_s();
        if (variant == 0)
            /* The active segment holds the last record alone. */
            cano_ck(cano_delete_records(t, 0, stat0(t).end_offset - 1), "delete_records");
        else
            cano_ck(cano_maintain(db), "maintain");
        double secs = now_s() - t0;
        cano_partition_info info = stat0(t);
        int fds_after = open_fds();
        cano_ck(cano_close(db), "close");
        int fds_closed = open_fds();
        remove_tree(dir);
        if (info.segments != 1)
            fatal("cano: R1 %s left %lld segments, expected 1",
                  variant ? "cano_maintain" : "cano_delete_records", (long long)info.segments);

        strfmt(m, sizeof m, "%s, %d segments", variant ? "maintain (retention_ms 0)"
                                                        : "delete_records", R1_SEGMENTS);
        result *r = row("R1", m, secs * 1e3, "ms");
        r->seconds = secs;
        r->records = R1_SEGMENTS;
        strfmt(r->note, sizeof r->note, "segments %d -> %lld, log start %lld; creating the "
               "segments took %.0f ms (1 record each, segment_bytes 1)", R1_SEGMENTS + 1,
               (long long)info.segments, (long long)info.start_offset, create_s * 1e3);

        strfmt(m, sizeof m, "open fds after %s", variant ? "maintain" : "delete_records");
        r = row("R1", m, fds_after, "fds");
        strfmt(r->note, sizeof r->note, "process fds: %d before the store was opened, %d with "
               "%d segments, %d after deleting, %d after cano_close", fds_start, fds_full,
               R1_SEGMENTS + 1, fds_after, fds_closed);
        printf("  R1   %-38s %8.1f ms; open fds %d -> %d (before the store: %d)\n",
               variant ? "cano_maintain, retention_ms 0" : "cano_delete_records",
               secs * 1e3, fds_full, fds_after, fds_start);
        fflush(stdout);
    }
}
