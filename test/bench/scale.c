/* scale.c - S1: how cano behaves as the log grows (cano only).
 *
 *  - open time after a clean close at N (1 M) and at 10 N (10 M) records;
 *    "open" = cano_open + cano_topic_open + cano_partition_stat, median of 3;
 *  - RSS with the store open after N and after 10 N records;
 *  - sequential and random reads at 10 N (information: the cost of a read
 *    must not grow with the log);
 *  - open after SIGKILL at 10 N: a child appends, makes a flush point
 *    (cano_sync), appends an unflushed tail, reports, and is killed; the
 *    parent times the open and reads cano_recovery_report's bytes_scanned;
 *  - appends/s, one record per call (CANO_PARTITION_AUTO by key), with 1 and
 *    with 1,000 partitions.
 * Data is appended in batches of 100 except in the partition test. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_cano.h"

#define OPEN_REPEATS   5
#define RSS_GROWTH_MAX_MIB 16.0
#define SCAN_SLACK_BYTES   (1 << 20)
#define MANY_PARTITIONS    1000

typedef struct opened {
    cano_t *db;
    cano_topic_t *t;
    cano_partition_info info;
    double seconds;
} opened;

static const char *count_label(uint64_t n, char *buf, size_t len)
{
    if (n >= 1000000 && n % 1000000 == 0)
        strfmt(buf, len, "%lluM", (unsigned long long)(n / 1000000));
    else if (n >= 1000 && n % 1000 == 0)
        strfmt(buf, len, "%lluk", (unsigned long long)(n / 1000));
    else
        strfmt(buf, len, "%llu", (unsigned long long)n);
    return buf;
}

static double mib(int64_t bytes) { return (double)bytes / 1048576.0; }

/* Opens store `path` (timed: open + topic_open + partition_stat of p 0). */
static void open_store(const char *path, const cano_options *o, opened *s)
{
    memset(s, 0, sizeof *s);
    double t0 = now_s();
    cano_ck(cano_open(path, o, &s->db), "open");
    cano_ck(cano_topic_open(s->db, BENCH_TOPIC, &s->t), "topic_open");
    s->info.size = sizeof s->info;
    cano_ck(cano_partition_stat(s->t, 0, &s->info), "partition_stat");
    s->seconds = now_s() - t0;
}

static void create_store(const char *path, int32_t partitions, opened *s)
{
    cano_options o;
    cano_bench_options(&o, CANO_SYNC_NONE);
    memset(s, 0, sizeof *s);
    cano_ck(cano_open(path, &o, &s->db), "open");
    cano_bench_topic(s->db, partitions);
    cano_ck(cano_topic_open(s->db, BENCH_TOPIC, &s->t), "topic_open");
}

static void check_end(const opened *s, uint64_t expect, const char *when)
{
    if (s->info.end_offset != (int64_t)expect)
        fatal("VERIFY FAILED: cano: end offset %lld %s, expected %llu",
              (long long)s->info.end_offset, when, (unsigned long long)expect);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int count_recovered(const cano_recovery_info *ri, void *payload)
{
    (void)ri; (void)payload;
    return 0;
}

/* Median open time (ms) of a cleanly closed store holding `n` records. */
static double clean_open_ms(const char *path, uint64_t n)
{
    double t[OPEN_REPEATS];
    cano_options o;
    cano_bench_options(&o, CANO_SYNC_NONE);
    for (int k = 0; k < OPEN_REPEATS; k++) {
        opened s;
        open_store(path, &o, &s);
        check_end(&s, n, "after a clean close");
        if (cano_recovery_report(s.db, count_recovered, NULL) > 0)
            fprintf(stderr, "bench: note: cano reported recovery after a clean close\n");
        t[k] = s.seconds * 1e3;
        cano_ck(cano_close(s.db), "close");
    }
    qsort(t, OPEN_REPEATS, sizeof t[0], cmp_double);
    return t[OPEN_REPEATS / 2];
}

static result *s1_row(const char *metric, double value, const char *unit)
{
    return result_new("S1", "cano", metric, value, unit);
}

static void skipped_row(const char *metric, const char *target)
{
    result *r = s1_row(metric, NAN, "");
    strfmt(r->target, sizeof r->target, "%s", target);
    r->status = ST_SKIPPED;
    strfmt(r->note, sizeof r->note, "10x scale parts are skipped with --quick");
}

/* Sequential then random reads of a store holding n records (information). */
static void reads_at_scale(opened *s, uint64_t n, const char *label)
{
    char m[48];
    rss_probe p;
    rss_probe_start(&p);
    double t0 = now_s();
    uint64_t got = cano_read_verify(s->t, 0);
    double t1 = now_s();
    if (got != n)
        fatal("VERIFY FAILED: cano: read %llu records at scale, expected %llu",
              (unsigned long long)got, (unsigned long long)n);
    strfmt(m, sizeof m, "sequential read @%s", label);
    result *r = s1_row(m, (double)n / (t1 - t0), "records/s");
    r->seconds = t1 - t0;
    r->records = n;
    rss_probe_end(&p, r);
    strfmt(r->note, sizeof r->note, "information (compare W3); every record verified");

    uint64_t *off = random_offsets(W4_LOOKUPS, n, 41);
    uint32_t *lat = malloc(W4_LOOKUPS * sizeof *lat);
    if (!lat)
        fatal("out of memory");
    rss_probe_start(&p);
    uint64_t start = now_ns(), prev = start;
    for (uint32_t k = 0; k < W4_LOOKUPS; k++) {
        cano_read_one(s->t, off[k]);
        uint64_t t = now_ns();
        lat[k] = (uint32_t)(t - prev);
        prev = t;
    }
    strfmt(m, sizeof m, "random read @%s", label);
    double secs = (double)(prev - start) * 1e-9;
    r = s1_row(m, W4_LOOKUPS / secs, "lookups/s");
    rss_probe_end(&p, r);
    r->seconds = secs;
    r->records = W4_LOOKUPS;
    r->p50_us = percentile_us(lat, W4_LOOKUPS, 0.5);
    r->p99_us = percentile_us(lat, W4_LOOKUPS, 0.99);
    strfmt(r->note, sizeof r->note, "information (compare W4)");
    free(lat);
    free(off);
}

/* Open times and RSS at N and at 10 N records, reads at 10 N. */
static void s1_growth(const bench_cfg *cfg)
{
    char dir[PATH_MAX], path[PATH_MAX + 8], m[48], small_l[16], big_l[16];
    uint64_t small = cfg->records, big = cfg->scale_big;
    count_label(small, small_l, sizeof small_l);
    count_label(big, big_l, sizeof big_l);
    xpath(dir, sizeof dir, "%s/s1-growth", cfg->rundir);
    make_dir(dir);
    xpath(path, sizeof path, "%s/store", dir);

    /* N records; RSS with the store open. */
    release_free_memory();
    double rss_before = rss_now_mib();
    opened s;
    create_store(path, 1, &s);
    cano_append_range(s.t, 0, small);
    double rss_small = rss_now_mib();
    cano_ck(cano_close(s.db), "close");

    double open_small = clean_open_ms(path, small);
    strfmt(m, sizeof m, "open after clean close @%s", small_l);
    result *r_open_small = s1_row(m, open_small, "ms");
    strfmt(r_open_small->note, sizeof r_open_small->note,
             "median of %d; cano_open + cano_topic_open + cano_partition_stat", OPEN_REPEATS);

    strfmt(m, sizeof m, "RSS after %s records", small_l);
    result *r_rss_small = s1_row(m, rss_small, "MiB");
    strfmt(r_rss_small->note, sizeof r_rss_small->note,
             "VmRSS with the store open; %+.1f MiB over the process before the store was opened",
             rss_small - rss_before);

    if (!big) {
        strfmt(m, sizeof m, "open after clean close @%s", "10x");
        skipped_row(m, "<= 2x open @1x");
        skipped_row("RSS after 10x records", "<= RSS @1x + 16 MiB");
        remove_tree(dir);
        return;
    }

    /* Grow to 10 N in a second session. */
    cano_options o;
    cano_bench_options(&o, CANO_SYNC_NONE);
    release_free_memory();
    double rss_before2 = rss_now_mib();
    open_store(path, &o, &s);
    check_end(&s, small, "after reopen");
    double t0 = now_s();
    cano_append_range(s.t, small, big);
    double t1 = now_s();
    double rss_big = rss_now_mib();
    cano_partition_info info = { .size = sizeof info };
    cano_ck(cano_partition_stat(s.t, 0, &info), "partition_stat");
    cano_ck(cano_close(s.db), "close");

    strfmt(m, sizeof m, "append, batches of 100, %s->%s", small_l, big_l);
    result *r = s1_row(m, (double)(big - small) / (t1 - t0), "records/s");
    r->seconds = t1 - t0;
    r->records = big - small;
    strfmt(r->note, sizeof r->note, "information (compare W1b); %.0f MiB of log in %lld segments",
             mib(info.bytes), (long long)info.segments);

    strfmt(m, sizeof m, "RSS after %s records", big_l);
    r = s1_row(m, rss_big, "MiB");
    r->ratio = rss_big - rss_small;
    strfmt(r->ratio_label, sizeof r->ratio_label, "MiB over @%s:", small_l);
    strfmt(r->target, sizeof r->target, "<= RSS @%s + %.0f MiB", small_l, RSS_GROWTH_MAX_MIB);
    r->status = rss_big <= rss_small + RSS_GROWTH_MAX_MIB ? ST_MET : ST_MISSED;
    strfmt(r->note, sizeof r->note, "VmRSS with the store open, after reopening at %s and "
             "appending to %s; %+.1f MiB over the process before that open", small_l, big_l,
             rss_big - rss_before2);

    double open_big = clean_open_ms(path, big);
    strfmt(m, sizeof m, "open after clean close @%s", big_l);
    r = s1_row(m, open_big, "ms");
    r->ratio = open_big / open_small;
    strfmt(r->ratio_label, sizeof r->ratio_label, "@%s/@%s", big_l, small_l);
    strfmt(r->target, sizeof r->target, "<= 2x open @%s", small_l);
    r->status = r->ratio <= 2.0 ? ST_MET : ST_MISSED;
    strfmt(r->note, sizeof r->note, "median of %d", OPEN_REPEATS);

    open_store(path, &o, &s);
    reads_at_scale(&s, big, big_l);
    cano_ck(cano_close(s.db), "close");
    remove_tree(dir);
}

/* ---- Open after SIGKILL ---- */

typedef struct kill_report {
    int64_t flushed_bytes;   /* log bytes at the flush point (cano_sync) */
    int64_t total_bytes;     /* log bytes when killed */
    int64_t end_offset;
} kill_report;

static void write_full(int fd, const void *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w <= 0)
            _exit(3);
        p = (const char *)p + w;
        len -= (size_t)w;
    }
}

static void kill_child(const char *path, uint64_t total, uint64_t tail, int fd)
{
    opened s;
    kill_report rep;
    cano_partition_info info = { .size = sizeof info };
    create_store(path, 1, &s);
    cano_append_range(s.t, 0, total - tail);
    cano_ck(cano_sync(s.db), "sync");
    cano_ck(cano_partition_stat(s.t, 0, &info), "partition_stat");
    rep.flushed_bytes = info.bytes;
    cano_append_range(s.t, total - tail, total);
    cano_ck(cano_partition_stat(s.t, 0, &info), "partition_stat");
    rep.total_bytes = info.bytes;
    rep.end_offset = info.end_offset;
    write_full(fd, &rep, sizeof rep);
    for (;;)
        pause();              /* killed here, store still open */
}

typedef struct scan_sum {
    int64_t scanned, cut, rebuilt, partitions;
} scan_sum;

static int sum_recovery(const cano_recovery_info *ri, void *payload)
{
    scan_sum *s = payload;
    s->scanned += ri->bytes_scanned;
    s->cut += ri->bytes_cut;
    s->rebuilt += ri->indexes_rebuilt;
    s->partitions++;
    return 0;
}

static void s1_kill(const bench_cfg *cfg)
{
    char dir[PATH_MAX], path[PATH_MAX + 8], m[48], label[16];
    uint64_t total = cfg->scale_big ? cfg->scale_big : cfg->records;
    uint64_t tail = total / 10 < 100000 ? total / 10 : 100000;
    count_label(total, label, sizeof label);
    xpath(dir, sizeof dir, "%s/s1-kill", cfg->rundir);
    make_dir(dir);
    xpath(path, sizeof path, "%s/store", dir);

    int fds[2];
    if (pipe(fds) != 0)
        fatal("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);      /* never outlive the benchmark */
        close(fds[0]);
        fatal_cleanup_dir(NULL);
        kill_child(path, total, tail, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    kill_report rep;
    size_t got = 0;
    while (got < sizeof rep) {
        ssize_t n = read(fds[0], (char *)&rep + got, sizeof rep - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    if (got != sizeof rep)
        fatal("S1: the appending child failed (status %d)", status);
    if (rep.end_offset != (int64_t)total)
        fatal("S1: the child's end offset is %lld, expected %llu", (long long)rep.end_offset,
              (unsigned long long)total);

    opened s;
    open_store(path, NULL, &s);        /* default options */
    scan_sum sum = { 0 };
    cano_ck(cano_recovery_report(s.db, sum_recovery, &sum), "recovery_report");
    check_end(&s, total, "after SIGKILL (every returned append must survive)");
    uint64_t read = cano_read_verify(s.t, total - tail);
    if (read != tail)
        fatal("VERIFY FAILED: cano: read %llu tail records after SIGKILL, expected %llu",
              (unsigned long long)read, (unsigned long long)tail);
    cano_ck(cano_close(s.db), "close");
    remove_tree(dir);

    int64_t unflushed = rep.total_bytes - rep.flushed_bytes;
    strfmt(m, sizeof m, "open after SIGKILL @%s", label);
    result *r = s1_row(m, s.seconds * 1e3, "ms");
    r->ratio = mib(sum.scanned);
    strfmt(r->ratio_label, sizeof r->ratio_label, "MiB scanned:");
    strfmt(r->target, sizeof r->target, "scan <= tail %.1f MiB", mib(unflushed));
    r->status = sum.scanned <= unflushed + SCAN_SLACK_BYTES ? ST_MET : ST_MISSED;
    strfmt(r->note, sizeof r->note,
             "recovery: %lld partition(s), scanned %.2f MiB, cut %lld B, %lld index(es) rebuilt; "
             "log %.0f MiB, unflushed tail %.2f MiB (%llu records); tail verified%s",
             (long long)sum.partitions, mib(sum.scanned), (long long)sum.cut,
             (long long)sum.rebuilt, mib(rep.total_bytes), mib(unflushed),
             (unsigned long long)tail, sum.scanned == 0 ? "; NOTHING WAS SCANNED" : "");
}

/* ---- Appends with 1 and with 1,000 partitions ---- */

/* One run: n single-record appends to a fresh store; returns records/s and
 * the RSS probe in *probe_row. */
static double partition_rate(const bench_cfg *cfg, int32_t partitions, result *probe_row)
{
    char dir[PATH_MAX], path[PATH_MAX + 8];
    uint64_t n = cfg->records;
    xpath(dir, sizeof dir, "%s/s1-p%d", cfg->rundir, (int)partitions);
    remove_tree(dir);
    make_dir(dir);
    xpath(path, sizeof path, "%s/store", dir);
    opened s;
    create_store(path, partitions, &s);
    sync();

    rss_probe p;
    rss_probe_start(&p);
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        cano_record rec;
        cano_fill(&rec, i);
        cano_ck(cano_append(s.t, CANO_PARTITION_AUTO, &rec, NULL, NULL), "append");
    }
    double t1 = now_s();
    rss_probe_end(&p, probe_row);

    int64_t sum = 0;
    for (int32_t k = 0; k < partitions; k++) {
        cano_partition_info info = { .size = sizeof info };
        cano_ck(cano_partition_stat(s.t, k, &info), "partition_stat");
        sum += info.end_offset;
    }
    cano_ck(cano_close(s.db), "close");
    remove_tree(dir);
    if (sum != (int64_t)n)
        fatal("VERIFY FAILED: cano: %d partitions hold %lld records, expected %llu",
              (int)partitions, (long long)sum, (unsigned long long)n);
    return (double)n / (t1 - t0);
}

/* The median of cfg->repeat runs as a row. */
static result *partition_row(const bench_cfg *cfg, int32_t partitions)
{
    char m[48];
    double v[MAX_RUNS], sorted[MAX_RUNS];
    result probe;
    strfmt(m, sizeof m, "append 1/call, %d partition%s", (int)partitions,
           partitions > 1 ? "s" : "");
    result *r = s1_row(m, NAN, "records/s");
    for (int k = 0; k < cfg->repeat; k++) {
        result_init(&probe, "S1", "cano", m, NAN, "");
        v[k] = sorted[k] = partition_rate(cfg, partitions, &probe);
        if (k == 0 || probe.rss_peak_mib > r->rss_peak_mib) {
            r->rss_peak_mib = probe.rss_peak_mib;
            r->rss_delta_mib = probe.rss_delta_mib;
        }
    }
    qsort(sorted, (size_t)cfg->repeat, sizeof sorted[0], cmp_double);
    r->value = sorted[cfg->repeat / 2];
    r->records = cfg->records;
    r->seconds = (double)cfg->records / r->value;
    r->nruns = cfg->repeat;
    memcpy(r->runs, v, sizeof v[0] * (size_t)cfg->repeat);
    strfmt(r->note, sizeof r->note, "median of %d runs (%.0f .. %.0f); CANO_PARTITION_AUTO "
           "(by key), sync none; end offsets sum to %llu", cfg->repeat, sorted[0],
           sorted[cfg->repeat - 1], (unsigned long long)cfg->records);
    return r;
}

static void s1_partitions(const bench_cfg *cfg)
{
    double one = partition_row(cfg, 1)->value;     /* rows may move: keep the value */
    result *many = partition_row(cfg, MANY_PARTITIONS);
    many->ratio = many->value / one;
    strfmt(many->ratio_label, sizeof many->ratio_label, "vs 1 partition");
    strfmt(many->target, sizeof many->target, ">= 0.5x 1 partition");
    many->status = many->ratio >= 0.5 ? ST_MET : ST_MISSED;
}

void run_s1(const bench_cfg *cfg)
{
    struct { const char *what; void (*fn)(const bench_cfg *); } parts[] = {
        { "open time and RSS as the log grows", s1_growth },
        { "open after SIGKILL", s1_kill },
        { "appends with 1 and 1,000 partitions", s1_partitions },
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t before = results_count();
        printf("  S1   %s ...\n", parts[i].what);
        fflush(stdout);
        double t0 = now_s();
        parts[i].fn(cfg);
        for (size_t k = before; k < results_count(); k++) {
            const result *r = result_at(k);
            if (isnan(r->value))
                continue;
            printf("       %-38s %14.2f %s\n", r->metric, r->value, r->unit);
        }
        printf("       (%.1f s)\n", now_s() - t0);
        release_free_memory();
    }
}
