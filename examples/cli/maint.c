/* maint.c - `cano DIR compact`, `cano DIR retention` and
 * `cano DIR delete-records`: the maintenance commands.  Each is silent on
 * success; --verbose prints what changed in each partition. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "util.h"

/* Partition states before and after an operation, for --verbose. */
typedef struct snap {
    char *topic;
    int32_t partition;
    cano_partition_info before, after;
} snap;

typedef struct snaps {
    cano_t *db;
    snap *v;
    size_t n;
    int rc;
} snaps;

static int snap_topic(const char *name, void *payload)
{
    snaps *s = payload;
    cano_topic_t *t;
    if (cano_topic_open(s->db, name, &t) != CANO_OK)
        return 0;
    int32_t n = cano_topic_partitions(t);
    for (int32_t p = 0; p < n; p++) {
        snap *v = realloc(s->v, (s->n + 1) * sizeof *v);
        if (!v) {
            s->rc = cli_fail("out of memory");
            return 1;
        }
        s->v = v;
        v += s->n;
        memset(v, 0, sizeof *v);
        v->topic = strdup(name);
        v->partition = p;
        v->before.size = sizeof v->before;
        if (!v->topic || cano_partition_stat(t, p, &v->before) != CANO_OK) {
            free(v->topic);
            continue;
        }
        s->n++;
    }
    return 0;
}

/* Prints the partitions whose log start, segments or bytes changed. */
static void snaps_report(snaps *s)
{
    for (size_t i = 0; i < s->n; i++) {
        snap *v = &s->v[i];
        cano_topic_t *t;
        v->after.size = sizeof v->after;
        if (cano_topic_open(s->db, v->topic, &t) != CANO_OK ||
            cano_partition_stat(t, v->partition, &v->after) != CANO_OK)
            continue;
        const cano_partition_info *a = &v->before, *b = &v->after;
        if (a->start_offset == b->start_offset &&
            a->segments == b->segments && a->bytes == b->bytes)
            continue;
        printf("%s/%d: start %lld -> %lld, segments %lld -> %lld, "
               "bytes %lld -> %lld\n", v->topic, (int)v->partition,
               (long long)a->start_offset, (long long)b->start_offset,
               (long long)a->segments, (long long)b->segments,
               (long long)a->bytes, (long long)b->bytes);
    }
}

static void snaps_free(snaps *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].topic);
    free(s->v);
}

/* Parses [-v] [-h]; returns -1 after printing help, else CLI_OK or
 * CLI_USAGE. */
static int parse_simple(const char *cmd, const char *usage, int argc,
                        char **argv, int *verbose)
{
    static const struct option opts[] = {
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        if (c != 'v')
            return cli_bad_option(cmd, argv, c);
        *verbose = 1;
    }
    return CLI_OK;
}

/* ---- compact ---- */

static const char compact_usage[] =
"Usage: cano DIR compact [TOPIC [PARTITION]] [OPTIONS]\n"
"\n"
"Compacts now, whatever the dirty ratio: every partition of every topic\n"
"whose cleanup.policy includes compact, or of TOPIC, or one PARTITION.\n"
"For each key, records older than its latest are removed from the sealed\n"
"segments (the active segment is never compacted; offsets never change).\n"
"\n"
"Options:\n"
"  -v, --verbose   print each partition that changed\n"
"  -h, --help      print this help\n";

/* One walk over the partitions to compact: the first measures them (for
 * the progress bar, in bytes), the second compacts them.  cano_compact has
 * no progress of its own, so the bar moves a partition at a time. */
typedef struct compact_run {
    cano_t *db;
    int measure;                  /* 1: only add up the bytes */
    int64_t total, done;
    cli_progress *bar;
    int rc;
} compact_run;

static int64_t partition_bytes(cano_topic_t *t, int32_t p)
{
    cano_partition_info info = { .size = sizeof info };
    return cano_partition_stat(t, p, &info) == CANO_OK ? info.bytes : 0;
}

static int compact_topic(compact_run *run, const char *name, int32_t only,
                         int named)
{
    cano_topic_t *t;
    cano_topic_config cfg;
    if (cli_topic_open(run->db, name, &t) != CLI_OK)
        return CLI_FAIL;
    cano_topic_config_init(&cfg, sizeof cfg);
    int rc = cano_topic_config_get(t, &cfg);
    if (rc != CANO_OK)
        return cli_lib_fail(rc, "topic '%s'", name);
    if (!(cfg.cleanup_policy & CANO_CLEANUP_COMPACT))
        return named ? cli_fail("compact: topic '%s' is not compacted "
                                "(cleanup.policy=delete)", name) : CLI_OK;
    if (only >= cfg.partitions)
        return cli_fail("compact: topic '%s' has no partition %d", name,
                        (int)only);
    for (int32_t p = only >= 0 ? only : 0;
         p < (only >= 0 ? only + 1 : cfg.partitions); p++) {
        int64_t bytes = partition_bytes(t, p);
        if (run->measure) {
            run->total += bytes;
            continue;
        }
        if ((rc = cano_compact(t, p)) != CANO_OK)
            return cli_lib_fail(rc, "compact %s/%d", name, (int)p);
        run->done += bytes;
        cli_progress_update(run->bar, run->done);
    }
    return CLI_OK;
}

static int compact_each(const char *name, void *payload)
{
    compact_run *run = payload;
    run->rc = compact_topic(run, name, -1, 0);
    return run->rc != CLI_OK;
}

/* Compacts TOPIC (PARTITION), or every compacted topic when topic is NULL. */
static int compact_walk(compact_run *run, const char *topic, int32_t part)
{
    if (topic)
        return compact_topic(run, topic, part, 1);
    run->rc = CLI_OK;
    int lrc = cano_topic_list(run->db, compact_each, run);
    return lrc < 0 ? cli_lib_fail(lrc, "list topics") : run->rc;
}

int cmd_compact(const char *dir, int argc, char **argv)
{
    int verbose = 0;
    int rc = parse_simple("compact", compact_usage, argc, argv, &verbose);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    int64_t part = -1;
    if (argc - optind > 2)
        return cli_usage_fail("compact", "too many arguments");
    if (argc - optind == 2 &&
        cli_parse_i64(argv[optind + 1], 0, INT32_MAX, &part))
        return cli_usage_fail("compact", "bad partition '%s'",
                              argv[optind + 1]);
    cano_t *db;
    if (cli_open(dir, 1, &db) != CLI_OK)
        return CLI_FAIL;
    snaps s = { db, NULL, 0, CLI_OK };
    if (verbose)
        cano_topic_list(db, snap_topic, &s);
    const char *topic = argc - optind >= 1 ? argv[optind] : NULL;
    compact_run run = { db, 1, 0, 0, NULL, CLI_OK };
    rc = compact_walk(&run, topic, (int32_t)part);
    if (rc == CLI_OK) {
        run.measure = 0;
        run.bar = cli_progress_start("compact", run.total);
        rc = compact_walk(&run, topic, (int32_t)part);
        cli_progress_finish(run.bar);
    }
    if (rc == CLI_OK && verbose)
        snaps_report(&s);
    snaps_free(&s);
    return cli_close(db, rc);
}

/* ---- retention ---- */

static const char retention_usage[] =
"Usage: cano DIR retention [OPTIONS]\n"
"\n"
"Runs everything that is due now in every topic (cano_maintain): time and\n"
"size retention for topics whose cleanup.policy includes delete, and\n"
"compaction where the dirty ratio exceeds min.cleanable.dirty.ratio or\n"
"max.compaction.lag.ms has passed.\n"
"\n"
"Options:\n"
"  -v, --verbose   print each partition that changed\n"
"  -h, --help      print this help\n";

int cmd_retention(const char *dir, int argc, char **argv)
{
    int verbose = 0;
    int rc = parse_simple("retention", retention_usage, argc, argv, &verbose);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if (optind != argc)
        return cli_usage_fail("retention", "no arguments expected");
    cano_t *db;
    if (cli_open(dir, 1, &db) != CLI_OK)
        return CLI_FAIL;
    snaps s = { db, NULL, 0, CLI_OK };
    if (verbose)
        cano_topic_list(db, snap_topic, &s);
    int lrc = cano_maintain(db);
    if (lrc != CANO_OK)
        rc = cli_lib_fail(lrc, "retention");
    else if (verbose)
        snaps_report(&s);
    snaps_free(&s);
    return cli_close(db, rc);
}

/* ---- delete-records ---- */

static const char delete_usage[] =
"Usage: cano DIR delete-records TOPIC PARTITION OFFSET [OPTIONS]\n"
"\n"
"Moves the log start of TOPIC's PARTITION forward to OFFSET (a number, or\n"
"'latest' for the end offset: everything goes), at once and durably.\n"
"Records below it can no longer be read; segments wholly below it are\n"
"deleted.  An OFFSET below the current log start changes nothing.\n"
"\n"
"Options:\n"
"  -v, --verbose   print the old and new log start\n"
"  -h, --help      print this help\n";

int cmd_delete_records(const char *dir, int argc, char **argv)
{
    const char *cmd = "delete-records";
    int verbose = 0;
    int rc = parse_simple(cmd, delete_usage, argc, argv, &verbose);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if (argc - optind != 3)
        return cli_usage_fail(cmd, "TOPIC PARTITION OFFSET expected");
    const char *name = argv[optind];
    int64_t part, off = -1;
    if (cli_parse_i64(argv[optind + 1], 0, INT32_MAX, &part))
        return cli_usage_fail(cmd, "bad partition '%s'", argv[optind + 1]);
    if (strcmp(argv[optind + 2], "latest") != 0 &&
        cli_parse_i64(argv[optind + 2], 0, INT64_MAX, &off))
        return cli_usage_fail(cmd, "bad offset '%s' (a number or latest)",
                              argv[optind + 2]);
    cano_t *db;
    cano_topic_t *t;
    if (cli_open(dir, 1, &db) != CLI_OK)
        return CLI_FAIL;
    if (cli_topic_open(db, name, &t) != CLI_OK)
        return cli_close(db, CLI_FAIL);
    cano_partition_info before = { .size = sizeof before };
    int lrc = cano_partition_stat(t, (int32_t)part, &before);
    if (lrc == CANO_OK) {
        if (off < 0)
            off = before.end_offset;
        lrc = cano_delete_records(t, (int32_t)part, off);
    }
    if (lrc != CANO_OK)
        return cli_close(db, cli_lib_fail(lrc, "delete records of %s/%lld",
                                          name, (long long)part));
    if (verbose) {
        cano_partition_info after = { .size = sizeof after };
        if (cano_partition_stat(t, (int32_t)part, &after) == CANO_OK)
            printf("%s/%lld: start %lld -> %lld\n", name, (long long)part,
                   (long long)before.start_offset,
                   (long long)after.start_offset);
    }
    return cli_close(db, CLI_OK);
}
