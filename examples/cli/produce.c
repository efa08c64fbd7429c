/* produce.c - `cano DIR produce TOPIC`: one record per input line.
 *
 * A line is [TIMESTAMP TSEP] [KEY KSEP] VALUE, where the timestamp part is
 * there only with --timestamp-separator and the key part only with
 * --key-separator (each split at the first occurrence of its separator).
 * Lines are read --batch at a time and appended with one cano_append_batch
 * per partition they map to, so each partition's share of a batch is
 * atomic and the order of lines within a partition is kept. */
#define _GNU_SOURCE           /* memmem */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "util.h"

static const char produce_usage[] =
"Usage: cano DIR produce TOPIC [OPTIONS]\n"
"\n"
"Appends one record per line of standard input (or of --file).  A line is\n"
"  [TIMESTAMP TSEP] [KEY KSEP] VALUE\n"
"where the timestamp part is read only with --timestamp-separator and the\n"
"key part only with --key-separator.  Without a key a record goes to the\n"
"partitions round-robin, with one to the key's partition.  Prints nothing\n"
"on success.\n"
"\n"
"Options:\n"
"  -f, --file FILE             read FILE instead of standard input\n"
"  -k, --key-separator SEP     text before the first SEP is the key\n"
"  -T, --timestamp-separator SEP\n"
"                              text before the first SEP is the timestamp\n"
"                              (ms since the epoch or ISO-8601)\n"
"  -t, --timestamp TIME        timestamp of every record (default: now)\n"
"  -H, --header NAME[=VALUE]   add a header to every record (repeatable)\n"
"  -p, --partition N           append to partition N\n"
"  -b, --batch N               append N lines per batch (default 1)\n"
"  -d, --delimiter SEP         records end at this byte (default \\n)\n"
"      --null-marker STR       a value equal to STR is a tombstone\n"
"      --create                create the store and topic when missing\n"
"  -v, --verbose               print a summary on standard error\n"
"  -h, --help                  print this help\n"
"\n"
"SEP, STR and the delimiter take the escapes \\t \\n \\r \\0 \\\\ \\xHH.\n";

typedef struct line {
    char *buf;                  /* owns the bytes the record points into */
    cano_record rec;
    int32_t part;               /* target partition, or AUTO */
    int64_t lineno;
} line;

typedef struct producer {
    cano_topic_t *topic;
    const char *name;
    int32_t partition;          /* --partition, or AUTO */
    char *ksep, *tsep, *null_marker;
    size_t ksep_len, tsep_len, null_len;
    int64_t timestamp;          /* --timestamp, or 0 (now) */
    cano_header *headers;
    size_t n_headers;
    line *lines;
    size_t n_lines;
    int64_t records, batches;
} producer;

/* Appends the buffered lines: one batch per target partition, in order of
 * first appearance. */
static int flush_lines(producer *pr)
{
    int rc = CLI_OK;
    cano_record *recs = malloc((pr->n_lines ? pr->n_lines : 1) * sizeof *recs);
    char *done = calloc(pr->n_lines ? pr->n_lines : 1, 1);
    if (!recs || !done) {
        free(recs);
        free(done);
        return cli_fail("produce: out of memory");
    }
    for (size_t i = 0; i < pr->n_lines && rc == CLI_OK; i++) {
        if (done[i])
            continue;
        size_t n = 0;
        for (size_t j = i; j < pr->n_lines; j++)
            if (!done[j] && pr->lines[j].part == pr->lines[i].part) {
                recs[n++] = pr->lines[j].rec;
                done[j] = 1;
            }
        int lrc = cano_append_batch(pr->topic, pr->lines[i].part, recs, n,
                                    NULL);
        if (lrc != CANO_OK)
            rc = cli_lib_fail(lrc, "append to '%s' (line %lld)", pr->name,
                              (long long)pr->lines[i].lineno);
        else {
            pr->records += (int64_t)n;
            pr->batches++;
        }
    }
    for (size_t i = 0; i < pr->n_lines; i++)
        free(pr->lines[i].buf);
    pr->n_lines = 0;
    free(recs);
    free(done);
    return rc;
}

static const char *find_sep(const char *p, size_t n, const char *sep,
                            size_t sep_len)
{
    return sep_len ? memmem(p, n, sep, sep_len) : NULL;
}

/* Splits a line (ownership of buf passes to pr) into a buffered record. */
static int add_line(producer *pr, char *buf, size_t len, int64_t lineno)
{
    line *l = &pr->lines[pr->n_lines];
    memset(l, 0, sizeof *l);
    l->buf = buf;
    l->lineno = lineno;
    l->rec.timestamp = pr->timestamp;
    char *p = buf;
    size_t n = len;
    if (pr->tsep) {
        const char *s = find_sep(p, n, pr->tsep, pr->tsep_len);
        char ts[64];
        size_t tl = s ? (size_t)(s - p) : 0;
        if (!s || tl >= sizeof ts) {
            free(buf);
            return cli_fail("produce: line %lld: %s", (long long)lineno,
                            s ? "timestamp too long" :
                            "no timestamp separator");
        }
        memcpy(ts, p, tl);
        ts[tl] = 0;
        if (cli_parse_time(ts, &l->rec.timestamp)) {
            free(buf);
            return cli_fail("produce: line %lld: bad timestamp '%s'",
                            (long long)lineno, ts);
        }
        n -= tl + pr->tsep_len;
        p += tl + pr->tsep_len;
    }
    if (pr->ksep) {
        const char *s = find_sep(p, n, pr->ksep, pr->ksep_len);
        if (!s) {
            free(buf);
            return cli_fail("produce: line %lld: no key separator",
                            (long long)lineno);
        }
        l->rec.key = p;
        l->rec.key_len = (size_t)(s - p);
        n -= l->rec.key_len + pr->ksep_len;
        p += l->rec.key_len + pr->ksep_len;
    }
    l->rec.value = p;
    l->rec.value_len = n;
    if (pr->null_marker && n == pr->null_len &&
        memcmp(p, pr->null_marker, n) == 0) {
        l->rec.value = NULL;
        l->rec.value_len = 0;
    }
    l->rec.headers = pr->headers;
    l->rec.header_count = pr->n_headers;
    l->part = pr->partition;
    if (l->part == CANO_PARTITION_AUTO && l->rec.key) {
        int32_t part = cano_partition_for_key(pr->topic, l->rec.key,
                                              l->rec.key_len);
        if (part < 0) {
            free(buf);
            return cli_lib_fail(part, "partition for line %lld",
                                (long long)lineno);
        }
        l->part = part;
    }
    pr->n_lines++;
    return CLI_OK;
}

static int parse_sep(const char *opt, const char *arg, char **out,
                     size_t *len)
{
    if (cli_parse_escapes(arg, out, len) || *len == 0)
        return cli_usage_fail("produce", "bad %s '%s'", opt, arg);
    return CLI_OK;
}

static int produce(cano_t *db, producer *pr, FILE *in, int delim,
                   int64_t batch, int64_t total)
{
    pr->lines = calloc((size_t)batch, sizeof *pr->lines);
    if (!pr->lines)
        return cli_fail("produce: out of memory");
    cli_progress *bar = total > 0 ? cli_progress_start("produce", total)
                                  : NULL;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int64_t lineno = 0, bytes = 0;
    int rc = CLI_OK;
    while (rc == CLI_OK && !cli_stop &&
           (got = getdelim(&buf, &cap, delim, in)) >= 0) {
        lineno++;
        bytes += got;
        size_t len = (size_t)got;
        if (len > 0 && buf[len - 1] == (char)delim)
            len--;
        char *copy = malloc(len + 1);
        if (!copy) {
            rc = cli_fail("produce: out of memory");
            break;
        }
        memcpy(copy, buf, len);
        copy[len] = 0;
        rc = add_line(pr, copy, len, lineno);
        if (rc == CLI_OK && pr->n_lines == (size_t)batch)
            rc = flush_lines(pr);
        cli_progress_update(bar, bytes);
    }
    int read_error = ferror(in) && !cli_stop;
    int flush_rc = flush_lines(pr);     /* complete lines already read */
    if (rc == CLI_OK)
        rc = flush_rc;
    cli_progress_finish(bar);
    free(buf);
    free(pr->lines);
    if (rc == CLI_OK && read_error)
        rc = cli_fail("produce: read error: %s", strerror(errno));
    if (rc == CLI_OK && cli_stop)
        rc = cli_fail("produce: interrupted after %lld records",
                      (long long)pr->records);
    (void)db;
    return rc;
}

int cmd_produce(const char *dir, int argc, char **argv)
{
    enum { O_NULL = 256, O_CREATE };
    static const struct option opts[] = {
        { "file", required_argument, NULL, 'f' },
        { "key-separator", required_argument, NULL, 'k' },
        { "timestamp-separator", required_argument, NULL, 'T' },
        { "timestamp", required_argument, NULL, 't' },
        { "header", required_argument, NULL, 'H' },
        { "partition", required_argument, NULL, 'p' },
        { "batch", required_argument, NULL, 'b' },
        { "delimiter", required_argument, NULL, 'd' },
        { "null-marker", required_argument, NULL, O_NULL },
        { "create", no_argument, NULL, O_CREATE },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = "produce", *file = NULL;
    producer pr;
    memset(&pr, 0, sizeof pr);
    pr.partition = CANO_PARTITION_AUTO;
    int64_t batch = 1, part = -1;
    int delim = '\n', create = 0, verbose = 0, c, rc = CLI_OK;
    char *s;
    size_t len = 0;
    while (rc == CLI_OK &&
           (c = getopt_long(argc, argv, ":f:k:T:t:H:p:b:d:vh", opts,
                            NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(produce_usage, stdout);
            rc = -1;
            break;
        case 'f':
            file = optarg;
            break;
        case 'k':
            free(pr.ksep);
            rc = parse_sep("--key-separator", optarg, &pr.ksep, &pr.ksep_len);
            break;
        case 'T':
            free(pr.tsep);
            rc = parse_sep("--timestamp-separator", optarg, &pr.tsep,
                           &pr.tsep_len);
            break;
        case 't':
            if (cli_parse_time(optarg, &pr.timestamp))
                rc = cli_usage_fail(cmd, "bad --timestamp '%s'", optarg);
            break;
        case 'H': {
            cano_header *h = realloc(pr.headers,
                                     (pr.n_headers + 1) * sizeof *h);
            if (!h) {
                rc = cli_fail("produce: out of memory");
                break;
            }
            pr.headers = h;
            const char *eq = strchr(optarg, '=');
            h += pr.n_headers++;
            h->name = optarg;
            h->name_len = eq ? (size_t)(eq - optarg) : strlen(optarg);
            h->value = eq ? eq + 1 : NULL;
            h->value_len = eq ? strlen(eq + 1) : 0;
            if (h->name_len == 0)
                rc = cli_usage_fail(cmd, "bad --header '%s' (NAME[=VALUE])",
                                    optarg);
            break;
        }
        case 'p':
            if (cli_parse_i64(optarg, 0, INT32_MAX, &part))
                rc = cli_usage_fail(cmd, "bad --partition '%s'", optarg);
            pr.partition = (int32_t)part;
            break;
        case 'b':
            if (cli_parse_i64(optarg, 1, 1000000, &batch))
                rc = cli_usage_fail(cmd, "bad --batch '%s' (1..1000000)",
                                    optarg);
            break;
        case 'd':
            s = NULL;
            if (cli_parse_escapes(optarg, &s, &len) || len != 1)
                rc = cli_usage_fail(cmd, "--delimiter wants one byte, not "
                                    "'%s'", optarg);
            else
                delim = (unsigned char)s[0];
            free(s);
            break;
        case O_NULL:
            free(pr.null_marker);
            if (cli_parse_escapes(optarg, &pr.null_marker, &pr.null_len))
                rc = cli_usage_fail(cmd, "bad --null-marker '%s'", optarg);
            break;
        case O_CREATE:
            create = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            rc = cli_bad_option(cmd, argv, c);
        }
    }
    if (rc == CLI_OK && argc - optind != 1)
        rc = cli_usage_fail(cmd, argc == optind ? "no topic given"
                            : "one topic expected");
    FILE *in = stdin;
    int64_t total = 0;
    if (rc == CLI_OK && file && strcmp(file, "-") != 0) {
        in = fopen(file, "rb");
        struct stat st;
        if (!in)
            rc = cli_fail("produce: %s: %s", file, strerror(errno));
        else if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode))
            total = st.st_size;
    }
    cano_t *db = NULL;
    if (rc == CLI_OK) {
        pr.name = argv[optind];
        cli_catch_signals();
        rc = cli_open(dir, !create, &db);
    }
    if (rc == CLI_OK && create) {
        int lrc = cano_topic_create(db, pr.name, NULL);
        if (lrc != CANO_OK && lrc != CANO_EEXIST)
            rc = cli_lib_fail(lrc, "create topic '%s'", pr.name);
    }
    if (rc == CLI_OK) {
        rc = cli_topic_open(db, pr.name, &pr.topic);
        if (rc == CLI_OK && pr.partition != CANO_PARTITION_AUTO &&
            pr.partition >= cano_topic_partitions(pr.topic))
            rc = cli_fail("produce: topic '%s' has no partition %d", pr.name,
                          (int)pr.partition);
        if (rc == CLI_OK)
            rc = produce(db, &pr, in, delim, batch, total);
        rc = cli_close(db, rc);
        if (rc == CLI_OK && verbose)
            fprintf(stderr, "cano: produced %lld records to '%s' in %lld "
                    "batches\n", (long long)pr.records, pr.name,
                    (long long)pr.batches);
    }
    if (in && in != stdin)
        fclose(in);
    free(pr.ksep);
    free(pr.tsep);
    free(pr.null_marker);
    free(pr.headers);
    return rc < 0 ? CLI_OK : rc;
}
