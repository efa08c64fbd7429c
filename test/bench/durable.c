/* durable.c - D1: durable appends, side by side, with 1, 4 and 16 threads.
 *
 * Every call returns only once its record is on stable storage (each
 * system's settings are its durable_settings line).  For each system and
 * thread count, the threads append records from a shared ticket counter
 * until at least D1_MIN_RECORDS records are done and D1_MIN_SECONDS have
 * passed (or D1_MAX_SECONDS, whichever comes first), on a fresh store after
 * sync().  Reported: records/s over the wall time, and the p50/p99 latency
 * of one append call.  The count the store holds afterwards must equal the
 * appends made.  Each cell runs --repeat times; the median is kept.
 *
 * Targets (issue "durable local message queue"): cano 1 thread >= 0.9x raw;
 * cano 4 threads >= 3.5x cano 1 thread and >= 1.5x RocksDB 4 threads; cano
 * 16 threads >= 10x cano 1 thread. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define D1_MIN_RECORDS 2000
#define D1_MIN_SECONDS 1.0
#define D1_MAX_SECONDS 2.0
#define D1_MAX_LAT     (1u << 21)     /* latencies kept per cell */
#define D1_CAPACITY    2000000u       /* records a store is sized for */

static const int d1_threads[] = { 1, 4, 16 };
#define D1_NTHREADS (sizeof d1_threads / sizeof d1_threads[0])

typedef struct d1_cell {
    const bench_sys *s;
    void *h;
    pthread_barrier_t start;
    double t0;                        /* set before the barrier opens */
    atomic_uint_fast64_t next;        /* ticket: the record to append */
    atomic_size_t done;               /* appends returned */
    atomic_int stop;
    uint32_t *lat;                    /* ns, one per append */
} d1_cell;

static void *d1_thread(void *arg)
{
    d1_cell *c = arg;
    pthread_barrier_wait(&c->start);
    while (!atomic_load(&c->stop)) {
        uint64_t i = atomic_fetch_add(&c->next, 1);
        uint64_t a = now_ns();
        c->s->append_durable(c->h, i);
        uint64_t b = now_ns();
        size_t k = atomic_fetch_add(&c->done, 1);
        if (k < D1_MAX_LAT)
            c->lat[k] = (uint32_t)(b - a > UINT32_MAX ? UINT32_MAX : b - a);
        double elapsed = now_s() - c->t0;
        if ((k + 1 >= D1_MIN_RECORDS && elapsed >= D1_MIN_SECONDS) || elapsed >= D1_MAX_SECONDS)
            atomic_store(&c->stop, 1);
    }
    return NULL;
}

/* One measurement of system s with `threads` threads into *r. */
static void d1_run(const bench_cfg *cfg, const bench_sys *s, int threads, uint32_t *lat,
                   result *r)
{
    char dir[PATH_MAX];
    xpath(dir, sizeof dir, "%s/d1-%s", cfg->rundir, s->name);
    remove_tree(dir);
    make_dir(dir);

    d1_cell c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.lat = lat;
    c.h = s->open_durable(dir, D1_CAPACITY);
    pthread_t tid[16];
    if (pthread_barrier_init(&c.start, NULL, (unsigned)threads + 1) != 0)
        fatal("pthread_barrier_init failed");
    for (int k = 0; k < threads; k++)
        if (pthread_create(&tid[k], NULL, d1_thread, &c) != 0)
            fatal("pthread_create failed");
    quiesce();

    c.t0 = now_s();
    pthread_barrier_wait(&c.start);
    for (int k = 0; k < threads; k++)
        pthread_join(tid[k], NULL);
    double secs = now_s() - c.t0;
    pthread_barrier_destroy(&c.start);

    size_t n = atomic_load(&c.done);
    uint64_t held = s->count_durable(c.h);
    s->close(c.h);
    remove_tree(dir);
    if (held != n)
        fatal("VERIFY FAILED: %s: D1 store holds %llu records after %zu appends", s->name,
              (unsigned long long)held, n);

    size_t nl = n < D1_MAX_LAT ? n : D1_MAX_LAT;
    r->value = (double)n / secs;
    r->seconds = secs;
    r->records = n;
    r->p50_us = percentile_us(lat, nl, 0.50);
    r->p99_us = percentile_us(lat, nl, 0.99);
}

static int cmp_value(const void *a, const void *b)
{
    double x = ((const result *)a)->value, y = ((const result *)b)->value;
    return x < y ? -1 : x > y;
}

/* The median of cfg->repeat runs, added as a row. */
static result *d1_cell_row(const bench_cfg *cfg, const bench_sys *s, int threads, uint32_t *lat)
{
    char metric[48];
    result runs[MAX_RUNS];
    double values[MAX_RUNS];
    strfmt(metric, sizeof metric, "durable append, %d thread%s", threads, threads > 1 ? "s" : "");
    printf("  D1   %-8s %2d thread%s ... ", s->name, threads, threads > 1 ? "s" : " ");
    fflush(stdout);
    for (int k = 0; k < cfg->repeat; k++) {
        result_init(&runs[k], "D1", s->name, metric, NAN, "records/s");
        d1_run(cfg, s, threads, lat, &runs[k]);
        values[k] = runs[k].value;
    }
    qsort(runs, (size_t)cfg->repeat, sizeof runs[0], cmp_value);
    result *r = result_add(&runs[cfg->repeat / 2]);
    r->nruns = cfg->repeat;
    memcpy(r->runs, values, sizeof values[0] * (size_t)cfg->repeat);
    if (cfg->repeat > 1)
        strfmt(r->note, sizeof r->note, "median of %d runs (%.0f .. %.0f); %llu appends in "
               "%.2f s; store count verified", cfg->repeat, runs[0].value,
               runs[cfg->repeat - 1].value, (unsigned long long)r->records, r->seconds);
    else
        strfmt(r->note, sizeof r->note, "%llu appends in %.2f s; store count verified",
               (unsigned long long)r->records, r->seconds);
    printf("%10.0f records/s  p50 %7.1f us  p99 %7.1f us", r->value, r->p50_us, r->p99_us);
    if (cfg->repeat > 1)
        printf("  [runs %.0f .. %.0f]", runs[0].value, runs[cfg->repeat - 1].value);
    printf("\n");
    return r;
}

static void set_target(result *r, double ratio, const char *label, double min, const char *target)
{
    r->ratio = ratio;
    strfmt(r->ratio_label, sizeof r->ratio_label, "%s", label);
    strfmt(r->target, sizeof r->target, "%s", target);
    r->status = ratio >= min ? ST_MET : ST_MISSED;
}

void run_d1(const bench_cfg *cfg)
{
    const bench_sys *const *sys;
    size_t nsys = bench_systems(&sys);
    /* Row indexes (rows may move as more are added: keep indexes). */
    size_t row[D1_NTHREADS][8];
    uint32_t *lat = malloc(D1_MAX_LAT * sizeof *lat);
    if (!lat || nsys > 8)
        fatal("out of memory");
    printf("  (each cell: >= %d records and >= %.1f s, at most %.1f s; fresh store; "
           "latency = one append call)\n", D1_MIN_RECORDS, D1_MIN_SECONDS, D1_MAX_SECONDS);
    for (size_t t = 0; t < D1_NTHREADS; t++)
        for (size_t k = 0; k < nsys; k++) {
            row[t][k] = SIZE_MAX;
            if (!sys[k]->open_durable || !bench_system_selected(cfg, sys[k]))
                continue;
            d1_cell_row(cfg, sys[k], d1_threads[t], lat);
            row[t][k] = results_count() - 1;
        }
    free(lat);

    /* Ratios: cano to each peer at the same thread count, and targets. */
    size_t cano_k = SIZE_MAX;
    for (size_t k = 0; k < nsys; k++)
        if (strcmp(sys[k]->name, "cano") == 0)
            cano_k = k;
    if (cano_k == SIZE_MAX || row[0][cano_k] == SIZE_MAX)
        return;
    double cano1 = result_at(row[0][cano_k])->value;
    for (size_t t = 0; t < D1_NTHREADS; t++) {
        if (row[t][cano_k] == SIZE_MAX)
            continue;
        result *c = result_at(row[t][cano_k]);
        for (size_t k = 0; k < nsys; k++) {
            if (k == cano_k || row[t][k] == SIZE_MAX)
                continue;
            result *p = result_at(row[t][k]);
            char label[24];
            strfmt(label, sizeof label, "cano/%s", p->system);
            p->ratio = c->value / p->value;
            strfmt(p->ratio_label, sizeof p->ratio_label, "%s", label);
            if (d1_threads[t] == 1 && strcmp(p->system, "raw") == 0)
                set_target(p, p->ratio, label, 0.9, "cano >= 0.9x raw");
            if (d1_threads[t] == 4 && strcmp(p->system, "rocksdb") == 0)
                set_target(p, p->ratio, label, 1.5, "cano >= 1.5x rocksdb");
        }
        if (d1_threads[t] == 4)
            set_target(c, c->value / cano1, "vs cano 1 thread", 3.5, ">= 3.5x cano 1 thread");
        if (d1_threads[t] == 16)
            set_target(c, c->value / cano1, "vs cano 1 thread", 10.0, ">= 10x cano 1 thread");
    }
}
