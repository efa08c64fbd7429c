/* stats.c - `cano DIR stats`: per partition offsets, segments, bytes and
 * dirty ratio, and every consumer group's position and lag; as aligned
 * tables (with bars on a terminal) or as one JSON document. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "util.h"

#define BAR_WIDTH 20

typedef struct topic_stat {
    char *name;
    uint32_t policy;
    int32_t n_parts;
    cano_partition_info *parts;
} topic_stat;

typedef struct group_stat {
    char *group, *topic;
    int32_t partition;
    int64_t committed, end_offset, lag;
} group_stat;

typedef struct stats {
    topic_stat *topics;
    size_t n_topics;
    group_stat *groups;
    size_t n_groups;
    int oom;
} stats;

static int add_topic(const char *name, void *payload)
{
    stats *s = payload;
    topic_stat *t = realloc(s->topics, (s->n_topics + 1) * sizeof *t);
    if (!t) {
        s->oom = 1;
        return 1;
    }
    s->topics = t;
    memset(&t[s->n_topics], 0, sizeof *t);
    if (!(t[s->n_topics].name = strdup(name))) {
        s->oom = 1;
        return 1;
    }
    s->n_topics++;
    return 0;
}

static int wanted(const stats *s, const char *topic)
{
    for (size_t i = 0; i < s->n_topics; i++)
        if (strcmp(s->topics[i].name, topic) == 0)
            return 1;
    return 0;
}

static int add_group(const cano_group_info *gi, void *payload)
{
    stats *s = payload;
    if (!wanted(s, gi->topic))
        return 0;
    group_stat *g = realloc(s->groups, (s->n_groups + 1) * sizeof *g);
    if (!g) {
        s->oom = 1;
        return 1;
    }
    s->groups = g;
    g += s->n_groups;
    g->group = strdup(gi->group);
    g->topic = strdup(gi->topic);
    g->partition = gi->partition;
    g->committed = gi->committed;
    g->end_offset = gi->end_offset;
    g->lag = gi->lag;
    s->n_groups++;
    if (!g->group || !g->topic)
        s->oom = 1;
    return s->oom;
}

static int collect(cano_t *db, stats *s)
{
    for (size_t i = 0; i < s->n_topics; i++) {
        topic_stat *ts = &s->topics[i];
        cano_topic_t *t;
        cano_topic_config cfg;
        if (cli_topic_open(db, ts->name, &t) != CLI_OK)
            return CLI_FAIL;
        cano_topic_config_init(&cfg, sizeof cfg);
        int rc = cano_topic_config_get(t, &cfg);
        if (rc != CANO_OK)
            return cli_lib_fail(rc, "topic '%s'", ts->name);
        ts->policy = cfg.cleanup_policy;
        ts->n_parts = cfg.partitions;
        ts->parts = calloc((size_t)cfg.partitions, sizeof *ts->parts);
        if (!ts->parts)
            return cli_fail("stats: out of memory");
        for (int32_t p = 0; p < cfg.partitions; p++) {
            ts->parts[p].size = sizeof ts->parts[p];
            rc = cano_partition_stat(t, p, &ts->parts[p]);
            if (rc != CANO_OK)
                return cli_lib_fail(rc, "stat %s/%d", ts->name, (int)p);
        }
    }
    int rc = cano_group_list(db, add_group, s);
    if (rc < 0)
        return cli_lib_fail(rc, "list consumer groups");
    if (s->oom)
        return cli_fail("stats: out of memory");
    return CLI_OK;
}

static const char *policy_name(uint32_t p)
{
    if (p == (CANO_CLEANUP_DELETE | CANO_CLEANUP_COMPACT))
        return "compact,delete";
    return p == CANO_CLEANUP_COMPACT ? "compact" : "delete";
}

static void print_json(const stats *s)
{
    fputs("{\"topics\":[", stdout);
    for (size_t i = 0; i < s->n_topics; i++) {
        const topic_stat *t = &s->topics[i];
        fputs(i ? ",{\"topic\":" : "{\"topic\":", stdout);
        cli_put_json_string(stdout, t->name, strlen(t->name));
        printf(",\"cleanup_policy\":\"%s\",\"partitions\":[",
               policy_name(t->policy));
        for (int32_t p = 0; p < t->n_parts; p++) {
            const cano_partition_info *pi = &t->parts[p];
            printf("%s{\"partition\":%d,\"start_offset\":%lld,"
                   "\"end_offset\":%lld,\"durable_offset\":%lld,"
                   "\"segments\":%lld,\"bytes\":%lld,\"max_timestamp\":%lld,"
                   "\"dirty_ratio\":%.4g,\"cleaned_offset\":%lld}",
                   p ? "," : "", (int)p, (long long)pi->start_offset,
                   (long long)pi->end_offset, (long long)pi->durable_offset,
                   (long long)pi->segments, (long long)pi->bytes,
                   (long long)pi->max_timestamp, pi->dirty_ratio,
                   (long long)pi->cleaned_offset);
        }
        fputs("]}", stdout);
    }
    fputs("],\"groups\":[", stdout);
    for (size_t i = 0; i < s->n_groups; i++) {
        const group_stat *g = &s->groups[i];
        fputs(i ? ",{\"group\":" : "{\"group\":", stdout);
        cli_put_json_bytes(stdout, g->group, strlen(g->group));
        fputs(",\"topic\":", stdout);
        cli_put_json_string(stdout, g->topic, strlen(g->topic));
        printf(",\"partition\":%d,\"committed\":%lld,\"end_offset\":%lld,"
               "\"lag\":%lld}", (int)g->partition, (long long)g->committed,
               (long long)g->end_offset, (long long)g->lag);
    }
    fputs("]}\n", stdout);
}

static void print_tables(const stats *s, int bars)
{
    char bar[3 * BAR_WIDTH + 8];
    double max = 0;
    for (size_t i = 0; i < s->n_topics; i++)
        for (int32_t p = 0; p < s->topics[i].n_parts; p++)
            if (s->topics[i].parts[p].bytes > max)
                max = (double)s->topics[i].parts[p].bytes;
    int nc = bars ? 9 : 8;
    cli_table *t = cli_table_new(nc, "lrrrrrrrl");
    const char *head[] = { "TOPIC", "PARTITION", "START", "END", "DURABLE",
                           "SEGMENTS", "BYTES", "DIRTY", "" };
    for (int i = 0; i < nc; i++)
        cli_table_cell(t, "%s", head[i]);
    for (size_t i = 0; i < s->n_topics; i++)
        for (int32_t p = 0; p < s->topics[i].n_parts; p++) {
            const cano_partition_info *pi = &s->topics[i].parts[p];
            cli_table_cell(t, "%s", s->topics[i].name);
            cli_table_cell(t, "%d", (int)p);
            cli_table_cell(t, "%lld", (long long)pi->start_offset);
            cli_table_cell(t, "%lld", (long long)pi->end_offset);
            cli_table_cell(t, "%lld", (long long)pi->durable_offset);
            cli_table_cell(t, "%lld", (long long)pi->segments);
            cli_table_cell(t, "%lld", (long long)pi->bytes);
            cli_table_cell(t, "%.2f", pi->dirty_ratio);
            if (bars) {
                cli_bar(bar, sizeof bar, (double)pi->bytes, max, BAR_WIDTH);
                cli_table_cell(t, "%s", bar);
            }
        }
    if (s->n_topics == 0)
        puts("no topics");
    else
        cli_table_print(t, stdout, "");
    if (s->n_topics == 0)
        cli_table_print(t, NULL, "");        /* frees it */
    if (s->n_groups == 0)
        return;

    max = 0;
    for (size_t i = 0; i < s->n_groups; i++)
        if (s->groups[i].lag > max)
            max = (double)s->groups[i].lag;
    nc = bars ? 7 : 6;
    t = cli_table_new(nc, "llrrrrl");
    const char *ghead[] = { "GROUP", "TOPIC", "PARTITION", "COMMITTED", "END",
                            "LAG", "" };
    for (int i = 0; i < nc; i++)
        cli_table_cell(t, "%s", ghead[i]);
    for (size_t i = 0; i < s->n_groups; i++) {
        const group_stat *g = &s->groups[i];
        cli_table_cell(t, "%s", g->group);
        cli_table_cell(t, "%s", g->topic);
        cli_table_cell(t, "%d", (int)g->partition);
        cli_table_cell(t, "%lld", (long long)g->committed);
        cli_table_cell(t, "%lld", (long long)g->end_offset);
        cli_table_cell(t, "%lld", (long long)g->lag);
        if (bars) {
            cli_bar(bar, sizeof bar, (double)g->lag, max, BAR_WIDTH);
            cli_table_cell(t, "%s", bar);
        }
    }
    putchar('\n');
    cli_table_print(t, stdout, "");
}

static const char stats_usage[] =
"Usage: cano DIR stats [TOPIC...] [OPTIONS]\n"
"\n"
"Prints, for every partition of every topic (or of each TOPIC), its start,\n"
"end and durable offsets, segments, bytes and dirty ratio; then every\n"
"consumer group's committed offset and lag.  On a terminal, partition sizes\n"
"and lags are also drawn as bars scaled to the largest.\n"
"\n"
"Options:\n"
"  -j, --json      print one JSON document instead (see cano(1))\n"
"      --bars      draw bars even when not on a terminal\n"
"      --no-bars   never draw bars\n"
"  -h, --help      print this help\n";

int cmd_stats(const char *dir, int argc, char **argv)
{
    enum { O_BARS = 256, O_NOBARS };
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "bars", no_argument, NULL, O_BARS },
        { "no-bars", no_argument, NULL, O_NOBARS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int json = 0, bars = isatty(STDOUT_FILENO), c;
    while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(stats_usage, stdout);
            return CLI_OK;
        case 'j':
            json = 1;
            break;
        case O_BARS:
            bars = 1;
            break;
        case O_NOBARS:
            bars = 0;
            break;
        default:
            return cli_bad_option("stats", argv, c);
        }
    }
    cano_t *db;
    if (cli_open(dir, 1, &db) != CLI_OK)
        return CLI_FAIL;
    stats s;
    memset(&s, 0, sizeof s);
    int rc = CLI_OK;
    if (optind == argc) {
        int lrc = cano_topic_list(db, add_topic, &s);
        if (lrc < 0)
            rc = cli_lib_fail(lrc, "list topics");
    }
    for (int i = optind; i < argc; i++)
        add_topic(argv[i], &s);
    if (rc == CLI_OK && s.oom)
        rc = cli_fail("stats: out of memory");
    if (rc == CLI_OK)
        rc = collect(db, &s);
    rc = cli_close(db, rc);
    if (rc == CLI_OK) {
        if (json)
            print_json(&s);
        else
            print_tables(&s, bars);
    }
    for (size_t i = 0; i < s.n_topics; i++) {
        free(s.topics[i].name);
        free(s.topics[i].parts);
    }
    for (size_t i = 0; i < s.n_groups; i++) {
        free(s.groups[i].group);
        free(s.groups[i].topic);
    }
    free(s.topics);
    free(s.groups);
    return rc;
}
