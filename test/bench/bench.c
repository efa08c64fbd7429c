/* bench.c - cano's benchmark: cano and the systems a user would pick instead,
 * in one process and one run, on the same data; prints records/s for each
 * and cano's ratio to each, checks the targets, and writes a JSON file.
 *
 *   bench [--records N] [--quick] [--only W1,D1,...] [--dir PATH]
 *         [--json PATH] [--seed N] [--keep] [--strict]
 *
 * The run is a table of workloads x systems: `workloads` lists the
 * workloads, `systems` the systems; a per-system workload is one generic
 * function (cell_*) driving the system's primitive operations (bench_sys).
 * A later workload is one more row in `workloads` and, when it needs a new
 * primitive, one more bench_sys member (systems without it are skipped).
 *
 * Workloads D1 (durable appends, every system; durable.c), S1 (scale.c) and
 * E1, C1, R1 (queue.c; cano only) are `run` functions with their own loops.
 *
 * Honesty rules kept here:
 *  - every system writes and reads the same records in the same order;
 *  - no system fsyncs per append (see each system's settings line), except
 *    in D1, where every system syncs each append (its durable_settings);
 *  - each system gets a fresh directory; sync() runs (untimed) before each
 *    measured section so no one pays for another's dirty pages;
 *  - readers read data their own system wrote in W1, right after all
 *    writes, reopened, so every system's files are equally in page cache;
 *  - every record read is verified; any mismatch aborts the run.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define DEFAULT_RECORDS 1000000u
#define QUICK_RECORDS   100000u
#define DEFAULT_REPEAT  3           /* runs per cell; the median is kept */
#define DEFAULT_SEED    0x63616e6f2d62656eull   /* "cano-ben" */

/* ---- Systems (cano first: its row is the one ratios are taken from) ---- */
static const bench_sys *const systems[] = {
#ifndef BENCH_NO_CANO
    &sys_cano,
#endif
    &sys_raw, &sys_sqlite, &sys_lmdb, &sys_rocksdb,
#ifndef BENCH_NO_CANO
    &sys_cano_parts,
#endif
};
#define NSYS (sizeof systems / sizeof systems[0])

static int loaded[NSYS];          /* W1's data set exists for system i */

size_t bench_systems(const bench_sys *const **out)
{
    *out = systems;
    return NSYS;
}

/* ---- Targets: cano's value / the peer's value must be >= min_ratio ---- */
typedef struct target {
    const char *workload, *peer;
    double min_ratio;
} target;

static const target targets[] = {
    { "W1", "rocksdb", 10.0 }, { "W1", "raw", 4.0 },
    { "W1b", "raw", 0.8 },
    { "W3", "lmdb", 1.5 },     { "W3", "raw", 0.5 },
    { "W4", "lmdb", 1.0 },
};
#define W4_P50_TARGET_US 1.5

/* ---- Helpers ---- */

static size_t sys_index(const bench_sys *s)
{
    for (size_t i = 0; i < NSYS; i++)
        if (systems[i] == s)
            return i;
    fatal("unknown system");
}

static void sys_dir(const bench_cfg *cfg, const bench_sys *s, const char *what,
                    char *out, size_t len)
{
    xpath(out, len, "%s/%s-%s", cfg->rundir, s->name, what);
}

static void fresh_dir(const char *dir)
{
    remove_tree(dir);
    make_dir(dir);
}

/* Untimed: flush everyone's dirty pages before a measured section. */
void quiesce(void)
{
    sync();
    release_free_memory();
}

static void append_all(const bench_sys *s, void *h, uint64_t n, int batched)
{
    if (!batched) {
        for (uint64_t i = 0; i < n; i++)
            s->append_one(h, i);
        return;
    }
    for (uint64_t i = 0; i < n; i += BATCH)
        s->append_batch(h, i, n - i < BATCH ? (size_t)(n - i) : BATCH);
}

/* W3/W4 read what W1 wrote; if W1 was not selected, write it the same way
 * (one record per call), untimed. */
static void ensure_loaded(const bench_cfg *cfg, const bench_sys *s)
{
    size_t k = sys_index(s);
    if (loaded[k])
        return;
    char dir[PATH_MAX];
    sys_dir(cfg, s, "load", dir, sizeof dir);
    fresh_dir(dir);
    printf("(loading %s untimed, one record per call) ", s->name);
    fflush(stdout);
    void *h = s->open(dir, OPEN_NEW, cfg->records);
    append_all(s, h, cfg->records, 0);
    s->close(h);
    loaded[k] = 1;
}

/* ---- Per-system workloads ---- */

static void cell_append(const bench_cfg *cfg, const bench_sys *s, result *r, int batched)
{
    char dir[PATH_MAX];
    uint64_t n = cfg->records;
    sys_dir(cfg, s, batched ? "batch" : "load", dir, sizeof dir);
    fresh_dir(dir);
    void *h = s->open(dir, OPEN_NEW, n);
    quiesce();

    rss_probe p;
    rss_probe_start(&p);
    double t0 = now_s();
    append_all(s, h, n, batched);
    double t1 = now_s();
    rss_probe_end(&p, r);

    s->close(h);
    double t2 = now_s();
    r->value = (double)n / (t1 - t0);
    r->seconds = t1 - t0;
    r->records = n;
    snprintf(r->note, sizeof r->note, "close took %.3f s (not timed)", t2 - t1);
    if (batched)
        remove_tree(dir);
    else
        loaded[sys_index(s)] = 1;
}

static void cell_w1(const bench_cfg *cfg, const bench_sys *s, result *r)
{
    cell_append(cfg, s, r, 0);
}

static void cell_w1b(const bench_cfg *cfg, const bench_sys *s, result *r)
{
    cell_append(cfg, s, r, 1);
}

/* W3: the first pass after opening is the measurement (a consumer reads a
 * log once); a second pass in the same handle is reported alongside. */
static double timed_read_all(const bench_cfg *cfg, const bench_sys *s, void *h)
{
    double t0 = now_s();
    uint64_t got = s->read_all(h);
    double t1 = now_s();
    if (got != cfg->records)
        fatal("VERIFY FAILED: %s: sequential read returned %llu records, expected %llu",
              s->name, (unsigned long long)got, (unsigned long long)cfg->records);
    return t1 - t0;
}

static void cell_w3(const bench_cfg *cfg, const bench_sys *s, result *r)
{
    char dir[PATH_MAX];
    ensure_loaded(cfg, s);
    sys_dir(cfg, s, "load", dir, sizeof dir);
    void *h = s->open(dir, OPEN_EXISTING, cfg->records);
    quiesce();

    rss_probe p;
    rss_probe_start(&p);
    double secs = timed_read_all(cfg, s, h);
    rss_probe_end(&p, r);
    double secs2 = timed_read_all(cfg, s, h);
    s->close(h);

    r->value = (double)cfg->records / secs;
    r->seconds = secs;
    r->records = cfg->records;
    r->second = (double)cfg->records / secs2;
    strfmt(r->note, sizeof r->note, "first pass after open; second pass in the same handle "
           "%.0f records/s; every record of both passes verified", r->second);
}

/* Times W4_LOOKUPS lookups; fills lat[] (ns) and returns the seconds taken.
 * One clock read per lookup: lookup k's latency is the time from the end
 * of lookup k-1 to the end of lookup k (the clock's cost is included in
 * every system's numbers alike). */
static double timed_lookups(const bench_sys *s, void *h, const uint64_t *offsets,
                            uint32_t *lat)
{
    uint64_t start = now_ns(), prev = start;
    for (uint32_t k = 0; k < W4_LOOKUPS; k++) {
        s->read_at(h, offsets[k]);
        uint64_t t = now_ns();
        lat[k] = (uint32_t)(t - prev > UINT32_MAX ? UINT32_MAX : t - prev);
        prev = t;
    }
    return (double)(prev - start) * 1e-9;
}

static void cell_w4(const bench_cfg *cfg, const bench_sys *s, result *r)
{
    char dir[PATH_MAX];
    static uint64_t *offsets, *offsets2;   /* the same lookups, same order, for all */
    uint32_t *lat = malloc(W4_LOOKUPS * sizeof *lat);
    if (!lat)
        fatal("out of memory");
    if (!offsets) {
        offsets = random_offsets(W4_LOOKUPS, cfg->records, 4);
        offsets2 = random_offsets(W4_LOOKUPS, cfg->records, 5);
    }
    ensure_loaded(cfg, s);
    sys_dir(cfg, s, "load", dir, sizeof dir);
    void *h = s->open(dir, OPEN_EXISTING, cfg->records);
    quiesce();

    rss_probe p;
    rss_probe_start(&p);
    double secs = timed_lookups(s, h, offsets, lat);
    rss_probe_end(&p, r);
    r->value = W4_LOOKUPS / secs;
    r->seconds = secs;
    r->records = W4_LOOKUPS;
    r->p50_us = percentile_us(lat, W4_LOOKUPS, 0.50);
    r->p99_us = percentile_us(lat, W4_LOOKUPS, 0.99);

    double secs2 = timed_lookups(s, h, offsets2, lat);
    s->close(h);
    r->second = W4_LOOKUPS / secs2;
    strfmt(r->note, sizeof r->note, "first %u lookups after open; %u more in the same handle: "
           "%.0f/s, p50 %.2f us; each verified", W4_LOOKUPS, W4_LOOKUPS, r->second,
           percentile_us(lat, W4_LOOKUPS, 0.50));
    free(lat);
}

/* ---- The workload table ---- */

typedef struct workload {
    const char *id;
    const char *title;
    const char *unit;
    int reads_load;           /* reads the data set W1 wrote */
    int needs_op;             /* which bench_sys op a system must have */
    void (*cell)(const bench_cfg *, const bench_sys *, result *);
    void (*run)(const bench_cfg *);   /* instead of cell: not per system */
} workload;

enum { OP_APPEND_ONE, OP_APPEND_BATCH, OP_READ_ALL, OP_READ_AT, OP_NONE };

static const workload workloads[] = {
    { "W1", "append, one record per call, no fsync", "records/s", 0, OP_APPEND_ONE,
      cell_w1, NULL },
    { "W1b", "append in batches of 100, no fsync", "records/s", 0, OP_APPEND_BATCH,
      cell_w1b, NULL },
    { "W3", "sequential read of everything in offset order", "records/s", 1, OP_READ_ALL,
      cell_w3, NULL },
    { "W4", "200,000 uniformly random reads by offset", "lookups/s", 1, OP_READ_AT,
      cell_w4, NULL },
#ifndef BENCH_NO_CANO
    { "S1", "scale: open time, partitions, RSS (cano only)", "", 0, OP_NONE, NULL, run_s1 },
#endif
    { "D1", "durable appends (on stable storage when the call returns), 1/4/16 threads",
      "records/s", 0, OP_NONE, NULL, run_d1 },
#ifndef BENCH_NO_CANO
    { "E1", "end-to-end queue latency: cano_append -> cano_reader_next in another thread",
      "us", 0, OP_NONE, NULL, run_e1 },
    { "C1", "compaction: 1 record per key of 10,000 kept (cano only)", "MB/s", 0, OP_NONE,
      NULL, run_c1 },
    { "R1", "retention of 1,000 segments (cano only)", "ms", 0, OP_NONE, NULL, run_r1 },
#endif
};
#define NWL (sizeof workloads / sizeof workloads[0])

static int has_op(const bench_sys *s, int op)
{
    switch (op) {
    case OP_APPEND_ONE: return s->append_one != NULL;
    case OP_APPEND_BATCH: return s->append_batch != NULL;
    case OP_READ_ALL: return s->read_all != NULL;
    case OP_READ_AT: return s->read_at != NULL;
    default: return 1;
    }
}

static int in_list(const char *list, const char *id)
{
    if (!list)
        return 1;
    size_t l = strlen(id);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == l && strncasecmp(p, id, l) == 0)
            return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

static int selected(const bench_cfg *cfg, const char *id)
{
    return in_list(cfg->only, id);
}

int bench_system_selected(const bench_cfg *cfg, const bench_sys *s)
{
    return in_list(cfg->systems, s->name);
}

/* Ratios of cano's row to every peer row of workload `id`, and targets. */
static void apply_targets(const char *id, size_t first_row)
{
    result *cano_row = NULL;
    for (size_t i = first_row; i < results_count(); i++)
        if (strcmp(result_at(i)->system, "cano") == 0)
            cano_row = result_at(i);
    if (!cano_row)
        return;
    for (size_t i = first_row; i < results_count(); i++) {
        result *r = result_at(i);
        if (r == cano_row || !(r->value > 0))
            continue;
        r->ratio = cano_row->value / r->value;
        snprintf(r->ratio_label, sizeof r->ratio_label, "cano/%s", r->system);
        for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++)
            if (strcmp(targets[t].workload, id) == 0 && strcmp(targets[t].peer, r->system) == 0) {
                snprintf(r->target, sizeof r->target, "cano >= %.1fx %s", targets[t].min_ratio,
                         r->system);
                r->status = r->ratio >= targets[t].min_ratio ? ST_MET : ST_MISSED;
            }
    }
    if (strcmp(id, "W4") == 0) {
        snprintf(cano_row->target, sizeof cano_row->target, "p50 <= %.1f us", W4_P50_TARGET_US);
        cano_row->status = cano_row->p50_us <= W4_P50_TARGET_US ? ST_MET : ST_MISSED;
    }
}

static int cmp_result_value(const void *a, const void *b)
{
    double x = ((const result *)a)->value, y = ((const result *)b)->value;
    return x < y ? -1 : x > y;
}

/* Runs one cell cfg->repeat times and keeps the median run (by value). */
static void run_cell(const bench_cfg *cfg, const workload *w, const bench_sys *s)
{
    result runs[MAX_RUNS];
    int n = cfg->repeat;
    for (int k = 0; k < n; k++) {
        result_init(&runs[k], w->id, s->name, w->unit, NAN, w->unit);
        w->cell(cfg, s, &runs[k]);
        release_free_memory();
    }
    double values[MAX_RUNS];
    for (int k = 0; k < n; k++)
        values[k] = runs[k].value;
    qsort(runs, (size_t)n, sizeof runs[0], cmp_result_value);
    result *r = result_add(&runs[n / 2]);
    r->nruns = n;
    memcpy(r->runs, values, sizeof values[0] * (size_t)n);
    if (n > 1) {
        char more[160];
        strfmt(more, sizeof more, "median of %d runs (%.0f .. %.0f); %s", n, runs[0].value,
               runs[n - 1].value, r->note);
        strfmt(r->note, sizeof r->note, "%s", more);
    }

    printf("%12.0f %s", r->value, w->unit);
    if (!isnan(r->p50_us))
        printf("  p50 %.2f us  p99 %.2f us", r->p50_us, r->p99_us);
    if (!isnan(r->second))
        printf("  (second pass %.0f)", r->second);
    if (n > 1)
        printf("  [runs %.0f .. %.0f]", runs[0].value, runs[n - 1].value);
    printf("\n");
}

static void run_per_system(const bench_cfg *cfg, const workload *w)
{
    size_t first = results_count();
    for (size_t k = 0; k < NSYS; k++) {
        const bench_sys *s = systems[k];
        if (!has_op(s, w->needs_op) || !in_list(cfg->systems, s->name))
            continue;
        printf("  %-4s %-8s ... ", w->id, s->name);
        fflush(stdout);
        run_cell(cfg, w, s);
    }
    apply_targets(w->id, first);
}

/* Removes the W1 data sets once no later selected workload reads them. */
static void drop_loads_if_done(const bench_cfg *cfg, size_t wl_index)
{
    for (size_t j = wl_index + 1; j < NWL; j++)
        if (workloads[j].reads_load && selected(cfg, workloads[j].id))
            return;
    for (size_t k = 0; k < NSYS; k++)
        if (loaded[k]) {
            char dir[PATH_MAX];
            sys_dir(cfg, systems[k], "load", dir, sizeof dir);
            remove_tree(dir);
            loaded[k] = 0;
        }
}

/* ---- Options, header, main ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench [options]\n"
            "  --records N   records per data set (default %u)\n"
            "  --quick       %u records, skip the 10x scale parts of S1\n"
            "  --only LIST   run only these workloads (comma list of:",
            DEFAULT_RECORDS, QUICK_RECORDS);
    for (size_t i = 0; i < NWL; i++)
        fprintf(f, " %s", workloads[i].id);
    fprintf(f, ")\n"
               "  --systems L   run only these systems (comma list; ratios need cano)\n"
               "  --dir PATH    work directory (default /tmp/cano-bench); a run-<pid>\n"
               "                directory is made in it and removed afterwards\n"
               "  --json PATH   results file (default <bench dir>/results/latest.json)\n"
               "  --repeat N    runs per workload and system, median kept (default %d;\n"
               "                1 with --quick)\n"
               "  --seed N      data seed (default fixed)\n"
               "  --keep        keep the data directories\n"
               "  --strict      exit 1 when a target is missed\n", DEFAULT_REPEAT);
}

static uint64_t parse_count(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*end == 'k' || *end == 'K') v *= 1e3, end++;
    else if (*end == 'M' || *end == 'm') v *= 1e6, end++;
    if (*end || v < BATCH || v > 1e10) {
        fprintf(stderr, "bench: bad record count '%s' (at least %d)\n", s, BATCH);
        exit(2);
    }
    return (uint64_t)v;
}

static void default_json_path(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(out, len, "bench-results.json");
        return;
    }
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    char dir[PATH_MAX + 16];
    xpath(dir, sizeof dir, "%s/results", exe);
    make_dir(dir);
    xpath(out, len, "%s/latest.json", dir);
}

static int parse_args(int argc, char **argv, bench_cfg *cfg, uint64_t *seed, int *strict)
{
    static char json[PATH_MAX];
    static const struct option opts[] = {
        { "records", required_argument, 0, 'n' }, { "quick", no_argument, 0, 'q' },
        { "only", required_argument, 0, 'o' },    { "systems", required_argument, 0, 'y' },
        { "dir", required_argument, 0, 'd' },     { "json", required_argument, 0, 'j' },
        { "seed", required_argument, 0, 's' },    { "repeat", required_argument, 0, 'r' },
        { "keep", no_argument, 0, 'k' },          { "strict", no_argument, 0, 'S' },
        { "help", no_argument, 0, 'h' },          { 0, 0, 0, 0 },
    };
    int c, records_set = 0;
    memset(cfg, 0, sizeof *cfg);
    cfg->records = DEFAULT_RECORDS;
    cfg->workdir = "/tmp/cano-bench";
    *seed = DEFAULT_SEED;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': cfg->records = parse_count(optarg); records_set = 1; break;
        case 'q': cfg->quick = 1; break;
        case 'o': cfg->only = optarg; break;
        case 'y': cfg->systems = optarg; break;
        case 'r':
            cfg->repeat = atoi(optarg);
            if (cfg->repeat < 1 || cfg->repeat > MAX_RUNS) {
                fprintf(stderr, "bench: --repeat takes 1..%d\n", MAX_RUNS);
                return -1;
            }
            break;
        case 'd': cfg->workdir = optarg; break;
        case 'j': cfg->json_path = optarg; break;
        case 's': *seed = strtoull(optarg, NULL, 0); break;
        case 'k': cfg->keep = 1; break;
        case 'S': *strict = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return -1;
    }
    if (cfg->quick && !records_set)
        cfg->records = QUICK_RECORDS;
    cfg->scale_big = cfg->quick ? 0 : cfg->records * 10;
    if (!cfg->repeat)
        cfg->repeat = cfg->quick ? 1 : DEFAULT_REPEAT;
    if (!cfg->json_path) {
        default_json_path(json, sizeof json);
        cfg->json_path = json;
    }
    return 0;
}

static void print_header(const bench_cfg *cfg, uint64_t seed, double gen_s, char *json,
                         size_t json_len)
{
    char machine[512], fs[512], esc_m[1024], esc_fs[1024], esc_only[512];
    describe_machine(cfg->rundir, machine, sizeof machine, fs, sizeof fs);
    printf("cano benchmark\n");
    printf("machine : %s\n", machine);
    printf("work dir: %s  [%s]\n", cfg->rundir, fs);
    double load = load_average();
    printf("load    : %.2f (1-min average at start)%s\n", load,
           load > 0.5 ? "  WARNING: other processes are using the CPUs; numbers will be noisy" : "");
    printf("versions:");
    for (size_t k = 0; k < NSYS; k++)
        printf(" %s %s%s", systems[k]->name, systems[k]->version(), k + 1 < NSYS ? ";" : "\n");
    printf("data    : %llu records, %d-byte keys over %u distinct keys, %d-byte random values,"
           " seed 0x%llx (generated in %.2f s, %.0f MiB in memory)\n",
           (unsigned long long)cfg->records, KEY_LEN, DISTINCT_KEYS, VAL_LEN,
           (unsigned long long)seed, gen_s, (double)cfg->records * REC_LEN / 1048576.0);
    printf("settings: no system fsyncs per append (except in D1, settings below); sync() runs"
           " (untimed) before each measured section; readers read their own W1 data, reopened,"
           " page cache warm for all\n");
    for (size_t k = 0; k < NSYS; k++)
        printf("  %-8s %s\n", systems[k]->name, systems[k]->settings);
    printf("D1 settings (an append returns once its record is on stable storage):\n");
    for (size_t k = 0; k < NSYS; k++)
        if (systems[k]->durable_settings)
            printf("  %-8s %s\n", systems[k]->name, systems[k]->durable_settings);
    printf("RSS columns: peak RSS of the whole process during the measured section, and its"
           " growth over the RSS just before (the data set is resident throughout)\n\n");
    fflush(stdout);

    json_escape_into(esc_m, sizeof esc_m, machine);
    json_escape_into(esc_fs, sizeof esc_fs, fs);
    json_escape_into(esc_only, sizeof esc_only, cfg->only ? cfg->only : "");
    int o = snprintf(json, json_len,
                     "  \"machine\": {\"description\": \"%s\", \"nproc\": %ld, \"filesystem\": \"%s\", "
                     "\"load_at_start\": %.2f},\n"
                     "  \"config\": {\"records\": %llu, \"scale_big\": %llu, \"quick\": %s, "
                     "\"seed\": %llu, \"key_bytes\": %d, \"distinct_keys\": %u, \"value_bytes\": %d, "
                     "\"batch\": %d, \"lookups\": %u, \"repeat\": %d, \"only\": \"%s\"},\n"
                     "  \"systems\": [",
                     esc_m, sysconf(_SC_NPROCESSORS_ONLN), esc_fs, isnan(load) ? -1.0 : load,
                     (unsigned long long)cfg->records, (unsigned long long)cfg->scale_big,
                     cfg->quick ? "true" : "false", (unsigned long long)seed, KEY_LEN,
                     DISTINCT_KEYS, VAL_LEN, BATCH, W4_LOOKUPS, cfg->repeat,
                     esc_only);
    for (size_t k = 0; k < NSYS && o > 0 && (size_t)o < json_len; k++) {
        char es[512], ed[512];
        json_escape_into(es, sizeof es, systems[k]->settings);
        json_escape_into(ed, sizeof ed, systems[k]->durable_settings ? systems[k]->durable_settings
                                                                     : "");
        o += snprintf(json + o, json_len - (size_t)o,
                      "%s{\"name\": \"%s\", \"version\": \"%s\", \"settings\": \"%s\", "
                      "\"durable_settings\": \"%s\"}",
                      k ? ", " : "", systems[k]->name, systems[k]->version(), es, ed);
    }
    if (o > 0 && (size_t)o < json_len)
        snprintf(json + o, json_len - (size_t)o, "]");
}

int main(int argc, char **argv)
{
    bench_cfg cfg;
    uint64_t seed;
    int strict = 0;
    if (parse_args(argc, argv, &cfg, &seed, &strict) != 0)
        return 2;
    if (cfg.only) {
        int any = 0;
        for (size_t i = 0; i < NWL; i++)
            any |= selected(&cfg, workloads[i].id);
        if (!any) {
            fprintf(stderr, "bench: --only '%s' selects no workload\n", cfg.only);
            return 2;
        }
    }

    make_dir(cfg.workdir);
    remove_stale_runs(cfg.workdir);
    xpath(cfg.rundir, sizeof cfg.rundir, "%s/run-%ld", cfg.workdir, (long)getpid());
    fresh_dir(cfg.rundir);
    if (!cfg.keep)
        fatal_cleanup_dir(cfg.rundir);

    dataset data;
    double g0 = now_s();
    dataset_init(&data, cfg.records, seed);
    D = &data;
    double gen_s = now_s() - g0;

    static char header_json[16384];
    print_header(&cfg, seed, gen_s, header_json, sizeof header_json);

    double t_start = now_s();
    for (size_t i = 0; i < NWL; i++) {
        const workload *w = &workloads[i];
        if (!selected(&cfg, w->id))
            continue;
        printf("%s: %s\n", w->id, w->title);
        fflush(stdout);
        if (w->cell)
            run_per_system(&cfg, w);
        else
            w->run(&cfg);
        drop_loads_if_done(&cfg, i);
    }

    print_table(&cfg);
    printf("\npeak RSS of the process: %.1f MiB (includes the %.0f MiB data set and every"
           " system's memory)\n", peak_rss_process_mib(),
           (double)cfg.records * REC_LEN / 1048576.0);
    printf("total run time: %.1f s; load average at the end %.2f\n", now_s() - t_start,
           load_average());
    if (write_json(&cfg, header_json) == 0)
        printf("results: %s\n", cfg.json_path);

    if (!cfg.keep) {
        remove_tree(cfg.rundir);
        rmdir(cfg.workdir);     /* only if empty */
    } else {
        printf("data kept in %s\n", cfg.rundir);
    }
    dataset_free(&data);

    int missed = 0;
    for (size_t i = 0; i < results_count(); i++)
        missed += result_at(i)->status == ST_MISSED;
    return strict && missed ? 1 : 0;
}
