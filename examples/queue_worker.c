/* queue_worker.c - a durable local work queue: one producer, four workers.
 *
 * Usage: queue_worker DIR [JOBS]          (JOBS defaults to 4000)
 *
 * The producer thread appends JOBS jobs to topic "jobs" (4 partitions): job n
 * (key "job-<n>") goes to partition n % 4.  Four worker threads, one per
 * partition, read their partition as consumer group "workers", process each
 * job and then commit it (at-least-once: a job is committed only after it
 * was processed).  The program ends by itself when every job is done.
 *
 * Kill it at any moment (kill -9) and run it again with the same arguments:
 *  - the producer continues after the last job the log holds: partition p
 *    holds jobs p, p+4, p+8, ... so its end offset says which were produced.
 *    It appends with cano_append_idempotent (producer id 1, sequence = the
 *    job's place in its partition), so even a retried append never
 *    duplicates a job;
 *  - each worker continues at its group's committed offset.  A job that was
 *    processed but not yet committed when the process died is processed
 *    again: that is what at-least-once means.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cano.h>

#define PARTITIONS  4
#define GROUP       "workers"
#define TOPIC       "jobs"
#define PRODUCER_ID 1

static cano_t *db;
static cano_topic_t *jobs;
static long njobs;
static atomic_int stop;      /* set when the producer fails */

typedef struct worker {
    int32_t partition;
    pthread_t thread;
    int64_t resumed_at;      /* committed offset found at start */
    long done;               /* jobs processed in this run */
    uint64_t checksum;       /* a stand-in for real work */
    int failed;
} worker;

static void report(const char *what, int rc)
{
    fprintf(stderr, "queue_worker: %s: %s (%s)\n", what, cano_strerror(rc),
            cano_last_errmsg());
}

/* Jobs of partition p among jobs 0..njobs-1 (p, p+4, p+8, ...). */
static int64_t jobs_in(int32_t p)
{
    return njobs > p ? (njobs - p + PARTITIONS - 1) / PARTITIONS : 0;
}

static void *producer(void *arg)
{
    int64_t have[PARTITIONS];
    (void)arg;
    for (int32_t p = 0; p < PARTITIONS; p++) {
        cano_partition_info info = { .size = sizeof info };
        int rc = cano_partition_stat(jobs, p, &info);
        if (rc != CANO_OK) {
            report("partition_stat", rc);
            return (void *)1;
        }
        have[p] = info.end_offset;      /* jobs already in the log */
    }
    long produced = 0;
    for (long n = 0; n < njobs; n++) {
        int32_t p = (int32_t)(n % PARTITIONS);
        int32_t seq = (int32_t)(n / PARTITIONS);  /* place in its partition */
        if (seq < have[p])
            continue;                   /* produced by an earlier run */
        char key[32], value[64];
        cano_record rec = { 0 };
        rec.key = key;
        rec.key_len = (size_t)snprintf(key, sizeof key, "job-%ld", n);
        rec.value = value;
        rec.value_len = (size_t)snprintf(value, sizeof value,
                                         "payload of job %ld", n);
        int64_t offset;
        int rc = cano_append_idempotent(jobs, p, PRODUCER_ID, seq, &rec, 1,
                                        &offset);
        if (rc != CANO_OK) {
            report("append", rc);
            return (void *)1;
        }
        produced++;
    }
    printf("producer: %ld jobs appended in this run, %ld were already in the log\n",
           produced, njobs - produced);
    return NULL;
}

/* The "work": checks the job is the one expected at this offset and folds
 * its bytes into a checksum, then sleeps half a millisecond. */
static int process(worker *w, const cano_record *rec)
{
    char want[32];
    long n = (long)(rec->offset * PARTITIONS + w->partition);
    int len = snprintf(want, sizeof want, "job-%ld", n);
    if (rec->key_len != (size_t)len || memcmp(rec->key, want, (size_t)len)) {
        fprintf(stderr, "worker %d: offset %" PRId64 " holds %.*s, expected %s\n",
                (int)w->partition, rec->offset, (int)rec->key_len,
                (const char *)rec->key, want);
        return -1;
    }
    for (size_t i = 0; i < rec->value_len; i++)
        w->checksum = w->checksum * 31 + ((const unsigned char *)rec->value)[i];
    struct timespec pause = { 0, 500 * 1000 };
    nanosleep(&pause, NULL);
    return 0;
}

static void *work(void *arg)
{
    worker *w = arg;
    cano_reader_t *r;
    int rc = cano_reader_open_group(jobs, w->partition, GROUP, &r);
    if (rc != CANO_OK) {
        report("reader_open_group", rc);
        w->failed = 1;
        return NULL;
    }
    w->resumed_at = cano_reader_position(r);
    int64_t last = jobs_in(w->partition);
    printf("worker %d: starting at offset %" PRId64 " of %" PRId64 "\n",
           (int)w->partition, w->resumed_at, last);
    while (!atomic_load(&stop) && cano_reader_position(r) < last) {
        cano_record rec;
        rc = cano_reader_next(r, &rec, 200);  /* wait up to 200 ms for a job */
        if (rc == CANO_ETIMEDOUT)
            continue;                          /* the producer is behind */
        if (rc != CANO_OK) {
            report("reader_next", rc);
            w->failed = 1;
            break;
        }
        if (process(w, &rec) != 0) {
            w->failed = 1;
            break;
        }
        /* Processed: now record that the next job wanted is offset + 1. */
        rc = cano_commit(db, GROUP, TOPIC, w->partition, rec.offset + 1);
        if (rc != CANO_OK) {
            report("commit", rc);
            w->failed = 1;
            break;
        }
        if (++w->done % 250 == 0)
            printf("worker %d: %ld jobs done, at offset %" PRId64 " of %" PRId64 "\n",
                   (int)w->partition, w->done, rec.offset + 1, last);
    }
    cano_reader_close(r);
    return NULL;
}

static int show_group(const cano_group_info *g, void *payload)
{
    (void)payload;
    printf("  group %s, %s/%d: committed %" PRId64 ", end %" PRId64 ", lag %" PRId64 "\n",
           g->group, g->topic, (int)g->partition, g->committed, g->end_offset,
           g->lag);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: queue_worker DIR [JOBS]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);    /* progress survives a kill -9 */
    char *end = "";
    njobs = argc == 3 ? strtol(argv[2], &end, 10) : 4000;
    if (*end || njobs < 0 || njobs / PARTITIONS >= INT32_MAX) {
        fprintf(stderr, "queue_worker: bad job count\n");
        return 2;
    }
    int rc = cano_open(argv[1], NULL, &db);
    if (rc != CANO_OK) {
        report("open", rc);
        return 1;
    }
    /* A durable queue: an append returns once the job is on stable storage,
     * so a committed offset can never point past jobs lost in a power cut. */
    cano_topic_config cfg;
    cano_topic_config_init(&cfg, sizeof cfg);
    cfg.partitions = PARTITIONS;
    cfg.sync_mode = CANO_SYNC_ALWAYS;
    rc = cano_topic_create(db, TOPIC, &cfg);
    if (rc != CANO_OK && rc != CANO_EEXIST) {
        report("topic_create", rc);
        cano_close(db);
        return 1;
    }
    if ((rc = cano_topic_open(db, TOPIC, &jobs)) != CANO_OK) {
        report("topic_open", rc);
        cano_close(db);
        return 1;
    }

    pthread_t prod;
    worker w[PARTITIONS];
    memset(w, 0, sizeof w);
    void *prod_failed = NULL;
    if (pthread_create(&prod, NULL, producer, NULL) != 0) {
        fprintf(stderr, "queue_worker: cannot start the producer\n");
        cano_close(db);
        return 1;
    }
    int started = 0;
    for (; started < PARTITIONS; started++) {
        w[started].partition = started;
        if (pthread_create(&w[started].thread, NULL, work, &w[started]) != 0)
            break;
    }
    pthread_join(prod, &prod_failed);
    int failed = prod_failed != NULL || started < PARTITIONS;
    if (started < PARTITIONS)
        fprintf(stderr, "queue_worker: cannot start worker %d\n", started);
    if (prod_failed)
        atomic_store(&stop, 1);   /* the workers would wait for jobs forever */

    for (int i = 0; i < started; i++)
        pthread_join(w[i].thread, NULL);

    long done = 0;
    printf("\nsummary (%ld jobs):\n", njobs);
    for (int i = 0; i < started; i++) {
        failed |= w[i].failed;
        done += w[i].done;
        printf("  worker %d: resumed at offset %" PRId64 ", processed %ld jobs "
               "in this run, checksum %016" PRIx64 "%s\n", i, w[i].resumed_at,
               w[i].done, w[i].checksum, w[i].failed ? "  FAILED" : "");
    }
    printf("  %ld jobs processed in this run\n", done);
    cano_group_list(db, show_group, NULL);
    rc = cano_close(db);
    if (rc != CANO_OK) {
        report("close", rc);
        failed = 1;
    }
    return failed ? 1 : 0;
}
