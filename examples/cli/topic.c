/* topic.c - `cano DIR topic create|list|describe|delete|config`.
 *
 * A topic's configuration is read and printed under Kafka's names
 * (retention.ms, cleanup.policy, ...), plus a few of cano's own
 * (partitions, sync.mode, max.record.bytes, retention.groups...).  Every
 * line `topic config` prints is accepted back by `topic create --config`. */
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli.h"
#include "util.h"

enum kind { K_INT, K_SIZE, K_MS, K_RATIO, K_POLICY, K_COMPRESSION,
            K_TSTYPE, K_SYNC, K_STRING };

typedef struct cfg_key {
    const char *name;         /* Kafka's name, or cano's own */
    enum kind kind;
    size_t off;               /* of the field in cano_topic_config */
} cfg_key;

#define F(field) offsetof(cano_topic_config, field)
/* Sorted by name: `topic config` prints them in this order. */
static const cfg_key keys[] = {
    { "cleanup.policy", K_POLICY, F(cleanup_policy) },
    { "compression.type", K_COMPRESSION, F(compression) },
    { "compression.zlib.level", K_INT, F(compression_level) },
    { "delete.retention.ms", K_MS, F(delete_retention_ms) },
    { "index.interval.bytes", K_SIZE, F(index_interval_bytes) },
    { "max.compaction.lag.ms", K_MS, F(max_compaction_lag_ms) },
    { "max.message.bytes", K_SIZE, F(max_batch_bytes) },
    { "max.record.bytes", K_SIZE, F(max_record_bytes) },
    { "message.timestamp.type", K_TSTYPE, F(timestamp_type) },
    { "min.cleanable.dirty.ratio", K_RATIO, F(min_cleanable_dirty_ratio) },
    { "min.compaction.lag.ms", K_MS, F(min_compaction_lag_ms) },
    { "partitions", K_INT, F(partitions) },
    { "retention.bytes", K_SIZE, F(retention_bytes) },
    { "retention.groups", K_STRING, F(retention_groups) },
    { "retention.groups.max.bytes", K_SIZE, F(retention_groups_max_bytes) },
    { "retention.ms", K_MS, F(retention_ms) },
    { "segment.bytes", K_SIZE, F(segment_bytes) },
    { "segment.ms", K_MS, F(segment_ms) },
    { "sync.mode", K_SYNC, F(sync_mode) },
};
#undef F
#define N_KEYS (sizeof keys / sizeof keys[0])

/* Other spellings accepted on input. */
static const struct { const char *alias, *name; } aliases[] = {
    { "compression.level", "compression.zlib.level" },
    { "num.partitions", "partitions" },
    { "timestamp.type", "message.timestamp.type" },
};

static const char *const sync_names[] = { "default", "none", "interval",
                                          "always" };

static const cfg_key *find_key(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strlen(aliases[i].alias) == len &&
            memcmp(aliases[i].alias, name, len) == 0) {
            name = aliases[i].name;
            len = strlen(name);
        }
    for (size_t i = 0; i < N_KEYS; i++)
        if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
            return &keys[i];
    return NULL;
}

static int parse_policy(const char *v, uint32_t *out)
{
    uint32_t p = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save, *tok = strtok_r(buf, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        if (strcmp(tok, "delete") == 0)
            p |= CANO_CLEANUP_DELETE;
        else if (strcmp(tok, "compact") == 0)
            p |= CANO_CLEANUP_COMPACT;
        else
            return -1;
    }
    *out = p;
    return p ? 0 : -1;
}

/* Sets one key from its text; value must outlive cfg (K_STRING keeps it).
 * Prints a message and returns CLI_USAGE when the value is not valid. */
static int set_key(cano_topic_config *cfg, const cfg_key *k, const char *v)
{
    char *base = (char *)cfg + k->off;
    int64_t i64;
    int bad = 0;
    switch (k->kind) {
    case K_INT:
        bad = cli_parse_i64(v, 0, INT32_MAX, &i64);
        if (!bad)
            *(int32_t *)(void *)base = (int32_t)i64;
        break;
    case K_SIZE:
        bad = cli_parse_size(v, &i64);
        if (!bad)
            *(int64_t *)(void *)base = i64;
        break;
    case K_MS:
        bad = cli_parse_duration(v, &i64);
        if (!bad)
            *(int64_t *)(void *)base = i64;
        break;
    case K_RATIO: {
        char *end;
        double d = strtod(v, &end);
        bad = !*v || *end || !(d >= 0 && d <= 1);
        if (!bad)
            *(double *)(void *)base = d;
        break;
    }
    case K_POLICY:
        bad = parse_policy(v, (uint32_t *)(void *)base);
        break;
    case K_COMPRESSION:
        if (strcmp(v, "none") == 0 || strcmp(v, "uncompressed") == 0)
            *(int32_t *)(void *)base = CANO_COMPRESSION_NONE;
        else if (strcmp(v, "zlib") == 0)
            *(int32_t *)(void *)base = CANO_COMPRESSION_ZLIB;
        else
            bad = 1;
        break;
    case K_TSTYPE:
        if (strcasecmp(v, "CreateTime") == 0 || strcmp(v, "create") == 0)
            *(int32_t *)(void *)base = CANO_TIMESTAMP_CREATE_TIME;
        else if (strcasecmp(v, "LogAppendTime") == 0 ||
                 strcmp(v, "log-append") == 0)
            *(int32_t *)(void *)base = CANO_TIMESTAMP_LOG_APPEND_TIME;
        else
            bad = 1;
        break;
    case K_SYNC:
        bad = 1;
        for (int32_t m = 0; m < 4; m++)
            if (strcmp(v, sync_names[m]) == 0) {
                *(int32_t *)(void *)base = m;
                bad = 0;
            }
        break;
    case K_STRING:
        *(const char **)(void *)base = v;
        break;
    }
    if (bad)
        return cli_usage_fail("topic create", "bad value '%s' for %s", v,
                              k->name);
    return CLI_OK;
}

static void print_key(FILE *f, const cano_topic_config *cfg, const cfg_key *k)
{
    const char *base = (const char *)cfg + k->off;
    int32_t i32 = 0;
    if (k->kind == K_INT || k->kind == K_COMPRESSION || k->kind == K_TSTYPE ||
        k->kind == K_SYNC)
        i32 = *(const int32_t *)(const void *)base;
    switch (k->kind) {
    case K_INT:
        fprintf(f, "%d", (int)i32);
        break;
    case K_SIZE:
    case K_MS:
        fprintf(f, "%lld", (long long)*(const int64_t *)(const void *)base);
        break;
    case K_RATIO:
        fprintf(f, "%g", *(const double *)(const void *)base);
        break;
    case K_POLICY: {
        uint32_t p = *(const uint32_t *)(const void *)base;
        fputs(p == (CANO_CLEANUP_COMPACT | CANO_CLEANUP_DELETE)
              ? "compact,delete" : p == CANO_CLEANUP_COMPACT ? "compact"
              : "delete", f);
        break;
    }
    case K_COMPRESSION:
        fputs(i32 == CANO_COMPRESSION_ZLIB ? "zlib" : "none", f);
        break;
    case K_TSTYPE:
        fputs(i32 == CANO_TIMESTAMP_LOG_APPEND_TIME ? "LogAppendTime"
              : "CreateTime", f);
        break;
    case K_SYNC:
        fputs(i32 >= 0 && i32 < 4 ? sync_names[i32] : "?", f);
        break;
    case K_STRING: {
        const char *s = *(const char *const *)(const void *)base;
        fputs(s ? s : "", f);
        break;
    }
    }
}

static void print_config(FILE *f, const cano_topic_config *cfg,
                         const char *indent)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        fprintf(f, "%s%s=", indent, keys[i].name);
        print_key(f, cfg, &keys[i]);
        fputc('\n', f);
    }
}

static int get_config(cano_topic_t *t, const char *name,
                      cano_topic_config *cfg)
{
    cano_topic_config_init(cfg, sizeof *cfg);
    int rc = cano_topic_config_get(t, cfg);
    if (rc != CANO_OK)
        return cli_lib_fail(rc, "topic '%s'", name);
    return CLI_OK;
}

/* ---- topic create ---- */

static const char create_usage[] =
"Usage: cano DIR topic create TOPIC [OPTIONS]\n"
"\n"
"Creates TOPIC (1..249 characters of [A-Za-z0-9._-]); creates the store\n"
"when DIR has none.  Sizes take a K, M or G suffix; durations ms, s, m, h,\n"
"d or w (a plain number is ms); -1 means unlimited where Kafka allows it.\n"
"\n"
"Options:\n"
"  -p, --partitions N          number of partitions (default 1)\n"
"      --segment-bytes SIZE    roll a segment at this size (default 1G)\n"
"      --segment-ms DURATION   roll a segment at this age (default 7d)\n"
"      --retention-ms DURATION delete segments older than this (default 7d)\n"
"      --retention-bytes SIZE  keep a partition at most about this big\n"
"      --cleanup-policy P      delete, compact or compact,delete\n"
"      --compression C         none or zlib\n"
"      --compression-level N   zlib level 1..9 (default 6)\n"
"      --sync MODE             default (the store's), none, interval, always\n"
"      --timestamp-type T      create (the producer's) or log-append\n"
"  -c, --config KEY=VALUE      any setting by its Kafka name (retention.ms,\n"
"                              cleanup.policy, segment.bytes,\n"
"                              min.cleanable.dirty.ratio, ...); see\n"
"                              'cano DIR topic config TOPIC' for every key\n"
"      --if-not-exists         succeed when the topic already exists\n"
"  -h, --help                  print this help\n";

static int topic_create(const char *dir, int argc, char **argv)
{
    /* Options that name a setting carry the index of their Kafka key. */
    enum { O_IFNX = 256, O_KEY = 512 };
    static const struct { const char *opt, *key; } simple[] = {
        { "segment-bytes", "segment.bytes" },
        { "segment-ms", "segment.ms" },
        { "retention-ms", "retention.ms" },
        { "retention-bytes", "retention.bytes" },
        { "cleanup-policy", "cleanup.policy" },
        { "compression", "compression.type" },
        { "compression-level", "compression.zlib.level" },
        { "sync", "sync.mode" },
        { "timestamp-type", "message.timestamp.type" },
    };
    enum { N_SIMPLE = sizeof simple / sizeof simple[0] };
    struct option opts[N_SIMPLE + 5];
    for (int i = 0; i < N_SIMPLE; i++)
        opts[i] = (struct option){ simple[i].opt, required_argument, NULL,
                                   O_KEY + i };
    opts[N_SIMPLE] = (struct option){ "partitions", required_argument, NULL,
                                      'p' };
    opts[N_SIMPLE + 1] = (struct option){ "config", required_argument, NULL,
                                          'c' };
    opts[N_SIMPLE + 2] = (struct option){ "if-not-exists", no_argument, NULL,
                                          O_IFNX };
    opts[N_SIMPLE + 3] = (struct option){ "help", no_argument, NULL, 'h' };
    opts[N_SIMPLE + 4] = (struct option){ NULL, 0, NULL, 0 };

    cano_topic_config cfg;
    cano_topic_config_init(&cfg, sizeof cfg);
    int if_not_exists = 0, c, rc;
    const char *cmd = "topic create";
    while ((c = getopt_long(argc, argv, ":p:c:h", opts, NULL)) != -1) {
        const cfg_key *k;
        const char *v = optarg;
        switch (c) {
        case 'h':
            fputs(create_usage, stdout);
            return CLI_OK;
        case 'p':
            k = find_key("partitions", 10);
            break;
        case 'c': {
            const char *eq = strchr(optarg, '=');
            if (!eq)
                return cli_usage_fail(cmd, "--config wants KEY=VALUE, not "
                                      "'%s'", optarg);
            k = find_key(optarg, (size_t)(eq - optarg));
            if (!k)
                return cli_usage_fail(cmd, "unknown setting '%.*s' (see "
                                      "'cano DIR topic config TOPIC')",
                                      (int)(eq - optarg), optarg);
            v = eq + 1;
            break;
        }
        case O_IFNX:
            if_not_exists = 1;
            continue;
        case '?':
        case ':':
            return cli_bad_option(cmd, argv, c);
        default:
            k = find_key(simple[c - O_KEY].key,
                         strlen(simple[c - O_KEY].key));
            break;
        }
        if ((rc = set_key(&cfg, k, v)) != CLI_OK)
            return rc;
    }
    if (argc - optind != 1)
        return cli_usage_fail(cmd, argc == optind ? "no topic name given"
                              : "one topic name expected");
    const char *name = argv[optind];
    cano_t *db;
    if (cli_open(dir, 0, &db) != CLI_OK)
        return CLI_FAIL;
    rc = cano_topic_create(db, name, &cfg);
    if (rc == CANO_EEXIST && if_not_exists)
        rc = CANO_OK;
    if (rc != CANO_OK)
        return cli_close(db, cli_lib_fail(rc, "create topic '%s'", name));
    return cli_close(db, CLI_OK);
}

/* ---- topic list ---- */

static int print_name(const char *name, void *payload)
{
    (void)payload;
    puts(name);
    return 0;
}

static int topic_list(const char *dir, int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs("Usage: cano DIR topic list\n\n"
                  "Prints the name of every topic, one a line, sorted.\n",
                  stdout);
            return CLI_OK;
        }
        return cli_bad_option("topic list", argv, c);
    }
    if (optind != argc)
        return cli_usage_fail("topic list", "no arguments expected");
    cano_t *db;
    if (cli_open(dir, 1, &db) != CLI_OK)
        return CLI_FAIL;
    int rc = cano_topic_list(db, print_name, NULL);
    if (rc < 0)
        return cli_close(db, cli_lib_fail(rc, "list topics"));
    return cli_close(db, CLI_OK);
}

/* ---- topic describe ---- */

static int describe_one(cano_t *db, const char *name, int first)
{
    cano_topic_t *t;
    cano_topic_config cfg;
    if (cli_topic_open(db, name, &t) != CLI_OK ||
        get_config(t, name, &cfg) != CLI_OK)
        return CLI_FAIL;
    if (!first)
        putchar('\n');
    printf("Topic: %s\nConfig:\n", name);
    print_config(stdout, &cfg, "  ");
    printf("Partitions:\n");
    cli_table *tab = cli_table_new(8, "rrrrrrrl");
    const char *head[] = { "PARTITION", "START", "END", "DURABLE",
                           "SEGMENTS", "BYTES", "DIRTY", "MAX-TIMESTAMP" };
    for (int i = 0; i < 8; i++)
        cli_table_cell(tab, "%s", head[i]);
    int rc = CLI_OK;
    for (int32_t p = 0; p < cfg.partitions; p++) {
        cano_partition_info pi = { .size = sizeof pi };
        int lrc = cano_partition_stat(t, p, &pi);
        if (lrc != CANO_OK) {
            rc = cli_lib_fail(lrc, "stat %s/%d", name, (int)p);
            break;
        }
        char ts[40];
        cli_format_time(pi.max_timestamp, ts, sizeof ts);
        cli_table_cell(tab, "%d", (int)p);
        cli_table_cell(tab, "%lld", (long long)pi.start_offset);
        cli_table_cell(tab, "%lld", (long long)pi.end_offset);
        cli_table_cell(tab, "%lld", (long long)pi.durable_offset);
        cli_table_cell(tab, "%lld", (long long)pi.segments);
        cli_table_cell(tab, "%lld", (long long)pi.bytes);
        cli_table_cell(tab, "%.2f", pi.dirty_ratio);
        cli_table_cell(tab, "%s", ts);
    }
    cli_table_print(tab, stdout, "  ");
    return rc;
}

typedef struct name_list { char **v; size_t n; } name_list;

static int collect_name(const char *name, void *payload)
{
    name_list *l = payload;
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v)
        return 1;
    l->v = v;
    l->v[l->n] = strdup(name);
    if (l->v[l->n])
        l->n++;
    return 0;
}

static int topic_describe(const char *dir, int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs("Usage: cano DIR topic describe [TOPIC...]\n\n"
                  "Prints each topic's configuration (as 'topic config' "
                  "does) and, per partition,\nits start, end and durable "
                  "offsets, segments, bytes, dirty ratio and largest\n"
                  "timestamp.  Without TOPIC, describes every topic.\n",
                  stdout);
            return CLI_OK;
        }
        return cli_bad_option("topic describe", argv, c);
    }
    cano_t *db;
    if (cli_open(dir, 1, &db) != CLI_OK)
        return CLI_FAIL;
    name_list all = { NULL, 0 };
    int rc = CLI_OK;
    if (optind == argc) {
        int lrc = cano_topic_list(db, collect_name, &all);
        if (lrc < 0)
            rc = cli_lib_fail(lrc, "list topics");
        for (size_t i = 0; i < all.n && rc == CLI_OK; i++)
            rc = describe_one(db, all.v[i], i == 0);
    } else {
        for (int i = optind; i < argc && rc == CLI_OK; i++)
            rc = describe_one(db, argv[i], i == optind);
    }
    for (size_t i = 0; i < all.n; i++)
        free(all.v[i]);
    free(all.v);
    return cli_close(db, rc);
}

/* ---- topic delete ---- */

static int topic_delete(const char *dir, int argc, char **argv)
{
    static const struct option opts[] = {
        { "if-exists", no_argument, NULL, 'e' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    int c, if_exists = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs("Usage: cano DIR topic delete [--if-exists] TOPIC...\n\n"
                  "Deletes each TOPIC and all its records.\n\n"
                  "Options:\n"
                  "      --if-exists  succeed when a topic does not exist\n"
                  "  -h, --help       print this help\n", stdout);
            return CLI_OK;
        }
        if (c == 'e') {
            if_exists = 1;
            continue;
        }
        return cli_bad_option("topic delete", argv, c);
    }
    if (optind == argc)
        return cli_usage_fail("topic delete", "no topic name given");
    cano_t *db;
    if (cli_open(dir, 1, &db) != CLI_OK)
        return CLI_FAIL;
    int rc = CLI_OK;
    for (int i = optind; i < argc && rc == CLI_OK; i++) {
        int lrc = cano_topic_delete(db, argv[i]);
        if (lrc == CANO_ENOTFOUND && if_exists)
            continue;
        if (lrc != CANO_OK)
            rc = cli_lib_fail(lrc, "delete topic '%s'", argv[i]);
    }
    return cli_close(db, rc);
}

/* ---- topic config ---- */

static int topic_config(const char *dir, int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    const char *cmd = "topic config";
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs("Usage: cano DIR topic config TOPIC [KEY...]\n\n"
                  "Prints the topic's configuration, defaults resolved, as "
                  "KEY=VALUE lines under\nKafka's names (sorted); with KEY, "
                  "only those values.  A configuration is fixed\nwhen the "
                  "topic is created: there is no way to change it.\n",
                  stdout);
            return CLI_OK;
        }
        return cli_bad_option(cmd, argv, c);
    }
    if (optind == argc)
        return cli_usage_fail(cmd, "no topic name given");
    const char *name = argv[optind];
    for (int i = optind + 1; i < argc; i++) {
        if (strchr(argv[i], '='))
            return cli_fail("topic config: cannot set '%s': a topic's "
                            "configuration is fixed when it is created "
                            "(libcano has no call to change it); create a "
                            "new topic with --config and copy the records",
                            argv[i]);
        if (!find_key(argv[i], strlen(argv[i])))
            return cli_usage_fail(cmd, "unknown setting '%s'", argv[i]);
    }
    cano_t *db;
    cano_topic_t *t;
    cano_topic_config cfg;
    if (cli_open(dir, 1, &db) != CLI_OK)
        return CLI_FAIL;
    if (cli_topic_open(db, name, &t) != CLI_OK ||
        get_config(t, name, &cfg) != CLI_OK)
        return cli_close(db, CLI_FAIL);
    if (optind + 1 == argc)
        print_config(stdout, &cfg, "");
    for (int i = optind + 1; i < argc; i++) {
        print_key(stdout, &cfg, find_key(argv[i], strlen(argv[i])));
        putchar('\n');
    }
    return cli_close(db, CLI_OK);
}

static const char topic_usage[] =
"Usage: cano DIR topic SUBCOMMAND [ARGS]\n"
"\n"
"Subcommands:\n"
"  create TOPIC [OPTIONS]   create a topic (partitions, retention, ...)\n"
"  list                     print every topic's name\n"
"  describe [TOPIC...]      configuration and per-partition offsets\n"
"  delete TOPIC...          delete topics and their records\n"
"  config TOPIC [KEY...]    print the configuration as KEY=VALUE lines\n"
"\n"
"'cano DIR topic SUBCOMMAND --help' describes each.\n";

int cmd_topic(const char *dir, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const char *, int, char **);
    } subs[] = {
        { "create", topic_create }, { "list", topic_list },
        { "describe", topic_describe }, { "delete", topic_delete },
        { "config", topic_config },
    };
    if (argc < 2)
        return cli_usage_fail("topic", "no subcommand given "
                              "(create, list, describe, delete, config)");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(topic_usage, stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0) {
            cli_getopt_reset();
            return subs[i].fn(dir, argc - 1, argv + 1);
        }
    return cli_usage_fail("topic", "no subcommand '%s' (create, list, "
                          "describe, delete, config)", argv[1]);
}
