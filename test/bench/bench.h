/* bench.h - shared pieces of the cano benchmark (test/bench).
 *
 * The benchmark is a table of workloads x systems.  Every system implements
 * the same small set of primitive operations (bench_sys); every workload is a
 * generic function that drives those operations over the same deterministic
 * data set (dataset) and records one result row per system (result).
 * Workloads that only make sense for cano (S1) call cano directly.
 */
#ifndef CANO_BENCH_H
#define CANO_BENCH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KEY_LEN        16
#define VAL_LEN        100
#define REC_LEN        (KEY_LEN + VAL_LEN)   /* a record as stored by raw */
#define DISTINCT_KEYS  100000u
#define BATCH          100
#define W4_LOOKUPS     200000u
#define MAX_RUNS       9         /* --repeat limit */

/* ---- The data set ----
 * n materialised records, each KEY_LEN key bytes followed by VAL_LEN value
 * bytes, contiguous.  Record i >= n is record i % n (the 10 M scale runs
 * cycle over the same 1 M records). */
typedef struct dataset {
    uint64_t n;
    uint64_t seed;
    unsigned char *recs;
} dataset;

extern const dataset *D;

static inline const unsigned char *rec_key(uint64_t i)
{
    if (i >= D->n)
        i %= D->n;
    return D->recs + i * REC_LEN;
}
static inline const unsigned char *rec_val(uint64_t i) { return rec_key(i) + KEY_LEN; }

void dataset_init(dataset *d, uint64_t n, uint64_t seed);
void dataset_free(dataset *d);
/* n offsets uniform in [0, range), from a stream of the data set's seed. */
uint64_t *random_offsets(uint64_t n, uint64_t range, uint64_t stream);
uint64_t splitmix64(uint64_t *state);

/* Big-endian 8-byte sequence key (LMDB, RocksDB). */
static inline void be64(unsigned char out[8], uint64_t v)
{
    for (int b = 7; b >= 0; b--) { out[b] = (unsigned char)v; v >>= 8; }
}
static inline uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int b = 0; b < 8; b++) v = v << 8 | p[b];
    return v;
}

/* ---- Verification: every record read is checked; a mismatch aborts. ---- */
void verify_fail(const char *sys, uint64_t i, const char *what);

static inline void verify_rec(const char *sys, uint64_t i, const void *key,
                              size_t key_len, const void *val, size_t val_len)
{
    const unsigned char *e = rec_key(i);
    if (key_len != KEY_LEN || memcmp(key, e, KEY_LEN) != 0)
        verify_fail(sys, i, "key differs");
    if (val_len != VAL_LEN || memcmp(val, e + KEY_LEN, VAL_LEN) != 0)
        verify_fail(sys, i, "value differs");
}

/* ---- Systems ---- */
enum { OPEN_NEW, OPEN_EXISTING };

typedef struct bench_sys {
    const char *name;                 /* short, used in tables and JSON */
    const char *settings;             /* the settings used, printed at the top */
    const char *(*version)(void);
    /* Opens the system in directory dir (which exists; empty for OPEN_NEW).
     * capacity: records that will be written (LMDB sizes its map from it).
     * Any failure is fatal(). */
    void *(*open)(const char *dir, int mode, uint64_t capacity);
    void (*close)(void *h);
    /* Append record i; records arrive in order 0, 1, 2, ... */
    void (*append_one)(void *h, uint64_t i);
    /* Append records first .. first + n - 1 in one call/transaction. */
    void (*append_batch)(void *h, uint64_t first, size_t n);
    /* Read every record in offset order, verifying each; returns the count. */
    uint64_t (*read_all)(void *h);
    /* Read record `offset` and verify it. */
    void (*read_at)(void *h, uint64_t offset);

    /* D1, durable appends from several threads (NULL: the system is not in
     * D1).  open_durable opens a fresh store in the empty directory dir in
     * which an append returns only once its record is on stable storage;
     * append_durable(h, i) appends record i and must be safe to call from
     * many threads at once (each i is used once, in no particular order);
     * count_durable returns the records the store holds.  close() closes. */
    void *(*open_durable)(const char *dir, uint64_t capacity);
    void (*append_durable)(void *h, uint64_t i);
    uint64_t (*count_durable)(void *h);
    const char *durable_settings;     /* printed at the top of D1 */
} bench_sys;

extern const bench_sys sys_raw, sys_sqlite, sys_lmdb, sys_rocksdb;
#ifndef BENCH_NO_CANO
extern const bench_sys sys_cano, sys_cano_parts;
#endif

/* ---- Configuration ---- */
typedef struct bench_cfg {
    uint64_t records;        /* W1..W4 data set size */
    int repeat;              /* runs per (workload, system) cell; median kept */
    uint64_t scale_big;      /* S1 big size (10 x records); 0 = skipped */
    int quick;
    int keep;                /* keep the data directories */
    const char *only;        /* comma list of workload ids, or NULL */
    const char *systems;     /* comma list of system names, or NULL (all) */
    const char *workdir;     /* --dir */
    char rundir[2048];       /* workdir/run-<pid>, removed at the end */
    const char *json_path;
} bench_cfg;

/* ---- Results: one row per (workload, system, metric) ---- */
enum { ST_NONE, ST_MET, ST_MISSED, ST_SKIPPED };

typedef struct result {
    char workload[8];
    char system[16];
    char metric[48];        /* what value measures, e.g. "records/s" */
    double value;
    char unit[16];
    double p50_us, p99_us;  /* NAN when not measured */
    double rss_peak_mib;    /* peak RSS during the measurement; NAN if unknown */
    double rss_delta_mib;   /* that peak minus RSS just before it */
    double seconds;         /* elapsed time measured */
    uint64_t records;       /* records moved in that time */
    double ratio;           /* cano's value relative to this row; NAN none */
    char ratio_label[24];   /* what ratio means, e.g. "cano/raw" */
    char target[40];        /* "" when there is none */
    int status;             /* ST_* */
    double second;          /* W3/W4: the same measurement again in the same
                               open handle (warm mappings and caches); NAN */
    int nruns;              /* repeated measurements; value is their median */
    double runs[MAX_RUNS];
    char note[160];
} result;

/* Fills *r as an empty row (every optional number NAN). */
void result_init(result *r, const char *workload, const char *system, const char *metric,
                 double value, const char *unit);
/* Appends a row (initialised as result_init) and returns it. */
result *result_new(const char *workload, const char *system, const char *metric,
                   double value, const char *unit);
/* Appends a copy of *r and returns it. */
result *result_add(const result *r);
size_t results_count(void);
result *result_at(size_t i);
void print_table(const bench_cfg *cfg);
/* header_json: the "machine"/"config" members, without braces. */
int write_json(const bench_cfg *cfg, const char *header_json);
void json_escape_into(char *out, size_t len, const char *s);

/* ---- Utilities (util.c) ---- */
void fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void fatal_cleanup_dir(const char *dir);   /* removed by fatal() unless --keep */
double now_s(void);
uint64_t now_ns(void);
void *xcalloc(size_t n, size_t size);
/* snprintf into a path buffer; fatal() if it does not fit. */
void xpath(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* snprintf that may truncate (labels and notes). */
void strfmt(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void make_dir(const char *path);
void remove_tree(const char *path);
/* Removes workdir/run-<pid> directories whose process is gone. */
void remove_stale_runs(const char *workdir);
int path_exists(const char *path);
double rss_now_mib(void);                  /* VmRSS */
double rss_hwm_mib(void);                  /* VmHWM */
int rss_reset_peak(void);                  /* 1 if the peak could be reset */
double peak_rss_process_mib(void);         /* getrusage ru_maxrss */
void release_free_memory(void);            /* malloc_trim between systems */
int cmp_u32(const void *a, const void *b);
double percentile_us(uint32_t *lat_ns, size_t n, double p);  /* sorts lat_ns */
/* The 1-minute load average (other processes compete for the CPUs). */
double load_average(void);
void describe_machine(const char *dir, char *out, size_t out_len, char *fs, size_t fs_len);

/* A measurement of RSS around a timed section. */
typedef struct rss_probe { double before; int peak_ok; } rss_probe;
void rss_probe_start(rss_probe *p);
void rss_probe_end(const rss_probe *p, result *r);

/* The run's systems, cano first (bench.c), and whether --systems keeps s. */
size_t bench_systems(const bench_sys *const **out);
int bench_system_selected(const bench_cfg *cfg, const bench_sys *s);
/* Untimed: sync() and malloc_trim before a measured section. */
void quiesce(void);
/* Open file descriptors of the process (entries of /proc/self/fd). */
int open_fds(void);

/* Peak anonymous RSS (RssAnon) sampled every millisecond by a thread, for
 * memory a section allocates (VmHWM also counts mapped file pages). */
typedef struct anon_sampler anon_sampler;
anon_sampler *anon_sampler_start(void);
/* Stops it; returns the peak RssAnon in MiB and sets *before_mib to the
 * value at start. */
double anon_sampler_stop(anon_sampler *a, double *before_mib);

/* ---- S1 (scale.c), cano only ---- */
void run_s1(const bench_cfg *cfg);

/* ---- D1 (durable.c): durable appends, every system ---- */
void run_d1(const bench_cfg *cfg);

/* ---- E1, C1, R1 (queue.c), cano only ---- */
void run_e1(const bench_cfg *cfg);   /* append -> reader_next latency */
void run_c1(const bench_cfg *cfg);   /* compaction */
void run_r1(const bench_cfg *cfg);   /* retention of 1,000 segments */

#endif
