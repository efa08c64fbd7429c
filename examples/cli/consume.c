/* consume.c - `cano DIR consume TOPIC`: print records as text, JSON or raw.
 *
 * Partitions are read one after the other, in partition order.  With
 * --group, positions are committed only after the output up to them was
 * flushed (at least once: a crash or a broken pipe repeats records, never
 * skips them).
 *
 * --follow: a store is locked by one process, so records can only arrive
 * while this command does not hold it.  Once caught up, follow commits,
 * closes the store, sleeps --poll ms and opens it again (waiting as long as
 * another process holds it), resuming every partition at its position. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "util.h"

enum format { FMT_TEXT, FMT_JSON, FMT_RAW };
enum { P_PARTITION = 1, P_OFFSET = 2, P_TIMESTAMP = 4, P_KEY = 8,
       P_HEADERS = 16 };
#define COMMIT_EVERY 1000

typedef struct part_state {
    int32_t partition;
    cano_reader_t *reader;
    int64_t next;               /* the offset to resume at */
    int dirty;                  /* consumed past the last commit */
} part_state;

typedef struct consumer {
    const char *dir, *topic_name, *group;
    int32_t partition;          /* -1: all */
    int64_t offset;             /* when has_offset */
    int has_offset, has_time, follow, no_commit;
    int64_t from_time, max, timeout_ms, poll_ms;
    enum format format;
    unsigned print;
    char *field_sep, *delim;
    size_t field_sep_len, delim_len;
    cano_t *db;
    cano_topic_t *topic;
    part_state *parts;
    int32_t n_parts;
    int64_t printed, uncommitted;
    int broken_pipe;
} consumer;

static const char consume_usage[] =
"Usage: cano DIR consume TOPIC [OPTIONS]\n"
"\n"
"Prints the records of TOPIC, partition after partition, from the log\n"
"start (or the group's committed position) to the end.\n"
"\n"
"Options:\n"
"  -p, --partition N        only partition N (default: all)\n"
"  -o, --offset POS         start at offset POS (needs --partition),\n"
"                           'earliest' or 'latest'\n"
"  -s, --from-time TIME     start at the first record at or after TIME: ms\n"
"                           since the epoch, ISO-8601 (2026-11-23T10:00:00,\n"
"                           local time unless it ends in Z or +HH:MM), or\n"
"                           relative to now (-1d, -2h, -30m, now)\n"
"  -g, --group G            start at group G's committed position and\n"
"                           commit the new position as records are printed\n"
"      --no-commit          with --group: read, but commit nothing\n"
"  -n, --max N              stop after N records\n"
"  -f, --follow             keep waiting for new records (Ctrl-C stops)\n"
"      --timeout MS         with --follow: stop after MS ms without a record\n"
"      --poll MS            with --follow: look for new records every MS ms\n"
"                           (default 250); the store is unlocked in between\n"
"  -F, --format FMT         text (default), json or raw\n"
"      --print-partition, --print-offset, --print-timestamp, --print-key,\n"
"      --print-headers      text: print these fields before the value\n"
"      --field-separator SEP  text: between fields (default \\t)\n"
"  -d, --delimiter SEP      text and raw: after each record (default \\n)\n"
"  -h, --help               print this help\n"
"\n"
"text: one line per record; bytes that are not printable UTF-8 are escaped\n"
"  (\\\\ \\n \\t \\r \\xHH); a missing key or a tombstone prints as null.\n"
"json: one object per line: topic, partition, offset, timestamp, key,\n"
"  value, headers; bytes that are not UTF-8 as {\"base64\": \"...\"}.\n"
"raw: each value's bytes unchanged, then the delimiter.\n";

/* ---- Output ---- */

static void print_text(consumer *c, const cano_record *r)
{
    FILE *f = stdout;
    const char *sep = "";
    size_t sep_len = 0;
#define FIELD() (fwrite(sep, 1, sep_len, f), sep = c->field_sep, \
                 sep_len = c->field_sep_len)
    if (c->print & P_PARTITION) {
        FIELD();
        fprintf(f, "%d", (int)r->partition);
    }
    if (c->print & P_OFFSET) {
        FIELD();
        fprintf(f, "%lld", (long long)r->offset);
    }
    if (c->print & P_TIMESTAMP) {
        FIELD();
        fprintf(f, "%lld", (long long)r->timestamp);
    }
    if (c->print & P_KEY) {
        FIELD();
        if (r->key)
            cli_put_text(f, r->key, r->key_len);
        else
            fputs("null", f);
    }
    if (c->print & P_HEADERS) {
        FIELD();
        if (r->header_count == 0)
            fputs("NO_HEADERS", f);
        for (size_t i = 0; i < r->header_count; i++) {
            const cano_header *h = &r->headers[i];
            if (i)
                putc(',', f);
            cli_put_text(f, h->name, h->name_len);
            if (h->value) {
                putc('=', f);
                cli_put_text(f, h->value, h->value_len);
            }
        }
    }
    FIELD();
#undef FIELD
    if (r->value)
        cli_put_text(f, r->value, r->value_len);
    else
        fputs("null", f);
    fwrite(c->delim, 1, c->delim_len, f);
}

static void print_json(consumer *c, const cano_record *r)
{
    FILE *f = stdout;
    fputs("{\"topic\":", f);
    cli_put_json_string(f, c->topic_name, strlen(c->topic_name));
    fprintf(f, ",\"partition\":%d,\"offset\":%lld,\"timestamp\":%lld,"
            "\"key\":", (int)r->partition, (long long)r->offset,
            (long long)r->timestamp);
    cli_put_json_bytes(f, r->key, r->key_len);
    fputs(",\"value\":", f);
    cli_put_json_bytes(f, r->value, r->value_len);
    fputs(",\"headers\":[", f);
    for (size_t i = 0; i < r->header_count; i++) {
        const cano_header *h = &r->headers[i];
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        cli_put_json_bytes(f, h->name, h->name_len);
        fputs(",\"value\":", f);
        cli_put_json_bytes(f, h->value, h->value_len);
        putc('}', f);
    }
    fputs("]}\n", f);
}

static void print_record(consumer *c, const cano_record *r)
{
    if (c->format == FMT_JSON)
        print_json(c, r);
    else if (c->format == FMT_TEXT)
        print_text(c, r);
    else {
        if (r->value)
            fwrite(r->value, 1, r->value_len, stdout);
        fwrite(c->delim, 1, c->delim_len, stdout);
    }
}

/* ---- Positions ---- */

/* Flushes the output, then commits what it covered.  A failed write stops
 * the command; positions it did not cover are not committed. */
static int commit_all(consumer *c)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno == EPIPE) {
            c->broken_pipe = 1;       /* the reader went away: not an error */
            return CLI_FAIL;
        }
        return cli_fail("consume: write error: %s", strerror(errno));
    }
    c->uncommitted = 0;
    if (!c->group || c->no_commit)
        return CLI_OK;
    for (int32_t i = 0; i < c->n_parts; i++) {
        part_state *ps = &c->parts[i];
        if (!ps->dirty)
            continue;
        int rc = cano_commit(c->db, c->group, c->topic_name, ps->partition,
                             ps->next);
        if (rc != CANO_OK)
            return cli_lib_fail(rc, "commit %s/%d for group '%s'",
                                c->topic_name, (int)ps->partition, c->group);
        ps->dirty = 0;
    }
    return CLI_OK;
}

/* Opens the reader of ps: at its first position (first round), or where
 * the previous round left it. */
static int open_reader(consumer *c, part_state *ps, int first)
{
    int64_t off = CANO_OFFSET_EARLIEST;
    int rc;
    if (!first) {
        rc = cano_reader_open(c->topic, ps->partition, ps->next, &ps->reader);
        if (rc != CANO_EOFFSET)
            goto done;
        fprintf(stderr, "cano: consume: %s/%d: offset %lld is out of range "
                "now; going on at the log start\n", c->topic_name,
                (int)ps->partition, (long long)ps->next);
    } else if (c->has_offset) {
        off = c->offset;
    } else if (c->has_time) {
        rc = cano_offset_for_time(c->topic, ps->partition, c->from_time, &off);
        if (rc != CANO_OK)
            return cli_lib_fail(rc, "find time in %s/%d", c->topic_name,
                                (int)ps->partition);
    } else if (c->group) {
        rc = cano_reader_open_group(c->topic, ps->partition, c->group,
                                    &ps->reader);
        goto done;
    }
    rc = cano_reader_open(c->topic, ps->partition, off, &ps->reader);
done:
    if (rc != CANO_OK)
        return cli_lib_fail(rc, "read %s/%d", c->topic_name,
                            (int)ps->partition);
    ps->next = cano_reader_position(ps->reader);
    return CLI_OK;
}

/* Opens the store, the topic and every reader.  Later rounds wait for the
 * lock for as long as it takes (or until a signal). */
static int open_round(consumer *c, int first)
{
    int rc;
    if (first) {
        if (cli_open(c->dir, 1, &c->db) != CLI_OK)
            return CLI_FAIL;
    } else {
        cano_options o;
        cano_options_init(&o, sizeof o);
        o.flags = CANO_OPEN_MUST_EXIST;
        while ((rc = cano_open(c->dir, &o, &c->db)) == CANO_ELOCKED &&
               !cli_stop)
            cli_sleep_ms((int)(c->poll_ms < 50 ? c->poll_ms : 50));
        if (rc != CANO_OK) {
            c->db = NULL;
            return cli_stop ? CLI_OK : cli_lib_fail(rc, "open %s", c->dir);
        }
    }
    if (cli_topic_open(c->db, c->topic_name, &c->topic) != CLI_OK)
        return CLI_FAIL;
    if (first) {
        int32_t n = cano_topic_partitions(c->topic);
        if (n < 0)
            return cli_lib_fail(n, "topic '%s'", c->topic_name);
        if (c->partition >= n)
            return cli_fail("consume: topic '%s' has no partition %d",
                            c->topic_name, (int)c->partition);
        c->n_parts = c->partition >= 0 ? 1 : n;
        c->parts = calloc((size_t)c->n_parts, sizeof *c->parts);
        if (!c->parts)
            return cli_fail("consume: out of memory");
        for (int32_t i = 0; i < c->n_parts; i++)
            c->parts[i].partition = c->partition >= 0 ? c->partition : i;
    }
    for (int32_t i = 0; i < c->n_parts; i++)
        if ((rc = open_reader(c, &c->parts[i], first)) != CLI_OK)
            return rc;
    return CLI_OK;
}

static int close_round(consumer *c, int rc)
{
    if (c->parts)
        for (int32_t i = 0; i < c->n_parts; i++) {
            cano_reader_close(c->parts[i].reader);
            c->parts[i].reader = NULL;
        }
    if (!c->db)
        return rc;
    rc = cli_close(c->db, rc);
    c->db = NULL;
    c->topic = NULL;
    return rc;
}

static int done(const consumer *c)
{
    return cli_stop || (c->max > 0 && c->printed >= c->max);
}

/* Prints every record available now.  *got is set to the number printed. */
static int drain(consumer *c, int64_t *got)
{
    *got = 0;
    for (int32_t i = 0; i < c->n_parts && !done(c); i++) {
        part_state *ps = &c->parts[i];
        while (!done(c)) {
            cano_record rec;
            int rc = cano_reader_next(ps->reader, &rec, 0);
            if (rc == CANO_ETIMEDOUT)
                break;
            if (rc == CANO_EOFFSET) {
                fprintf(stderr, "cano: consume: %s/%d: retention passed "
                        "offset %lld; going on at the log start\n",
                        c->topic_name, (int)ps->partition,
                        (long long)cano_reader_position(ps->reader));
                rc = cano_reader_seek(ps->reader, CANO_OFFSET_EARLIEST);
            }
            if (rc != CANO_OK)
                return cli_lib_fail(rc, "read %s/%d", c->topic_name,
                                    (int)ps->partition);
            print_record(c, &rec);
            ps->next = rec.offset + 1;
            ps->dirty = 1;
            c->printed++;
            (*got)++;
            if (++c->uncommitted >= COMMIT_EVERY &&
                (rc = commit_all(c)) != CLI_OK)
                return rc;
        }
    }
    return commit_all(c);
}

static int consume(consumer *c)
{
    int rc = open_round(c, 1);
    int64_t idle_ms = 0;
    while (rc == CLI_OK) {
        int64_t got;
        rc = drain(c, &got);
        if (rc != CLI_OK || !c->follow || done(c))
            break;
        idle_ms = got ? 0 : idle_ms + c->poll_ms;
        if (c->timeout_ms >= 0 && idle_ms >= c->timeout_ms)
            break;
        /* Let producers in: unlock the store until the next look. */
        rc = close_round(c, CLI_OK);
        if (rc != CLI_OK)
            break;
        if (!cli_stop)
            cli_sleep_ms((int)c->poll_ms);
        if (cli_stop)
            break;
        rc = open_round(c, 0);
        if (!c->db)
            break;                  /* stopped while waiting for the lock */
    }
    if (c->broken_pipe)
        rc = CLI_OK;
    return close_round(c, rc);
}

static int parse_sep(const char *opt, const char *arg, char **out,
                     size_t *len)
{
    free(*out);
    *out = NULL;
    if (cli_parse_escapes(arg, out, len))
        return cli_usage_fail("consume", "bad %s '%s'", opt, arg);
    return CLI_OK;
}

int cmd_consume(const char *dir, int argc, char **argv)
{
    enum { O_NOCOMMIT = 256, O_TIMEOUT, O_POLL, O_FSEP,
           O_PRINT = 512 /* + P_* bit */ };
    static const struct option opts[] = {
        { "partition", required_argument, NULL, 'p' },
        { "offset", required_argument, NULL, 'o' },
        { "from-time", required_argument, NULL, 's' },
        { "group", required_argument, NULL, 'g' },
        { "no-commit", no_argument, NULL, O_NOCOMMIT },
        { "max", required_argument, NULL, 'n' },
        { "follow", no_argument, NULL, 'f' },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "poll", required_argument, NULL, O_POLL },
        { "format", required_argument, NULL, 'F' },
        { "print-partition", no_argument, NULL, O_PRINT + P_PARTITION },
        { "print-offset", no_argument, NULL, O_PRINT + P_OFFSET },
        { "print-timestamp", no_argument, NULL, O_PRINT + P_TIMESTAMP },
        { "print-key", no_argument, NULL, O_PRINT + P_KEY },
        { "print-headers", no_argument, NULL, O_PRINT + P_HEADERS },
        { "field-separator", required_argument, NULL, O_FSEP },
        { "delimiter", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = "consume";
    consumer c;
    memset(&c, 0, sizeof c);
    c.dir = dir;
    c.partition = -1;
    c.timeout_ms = -1;
    c.poll_ms = 250;
    int rc = CLI_OK, opt;
    int64_t v;
    while (rc == CLI_OK &&
           (opt = getopt_long(argc, argv, ":p:o:s:g:n:fF:d:h", opts,
                              NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(consume_usage, stdout);
            rc = -1;
            break;
        case 'p':
            if (cli_parse_i64(optarg, 0, INT32_MAX, &v))
                rc = cli_usage_fail(cmd, "bad --partition '%s'", optarg);
            c.partition = (int32_t)v;
            break;
        case 'o':
            c.has_offset = 1;
            if (strcmp(optarg, "earliest") == 0)
                c.offset = CANO_OFFSET_EARLIEST;
            else if (strcmp(optarg, "latest") == 0)
                c.offset = CANO_OFFSET_LATEST;
            else if (cli_parse_i64(optarg, 0, INT64_MAX, &c.offset))
                rc = cli_usage_fail(cmd, "bad --offset '%s' (a number, "
                                    "earliest or latest)", optarg);
            break;
        case 's':
            c.has_time = 1;
            if (cli_parse_time(optarg, &c.from_time))
                rc = cli_usage_fail(cmd, "bad --from-time '%s'", optarg);
            break;
        case 'g':
            c.group = optarg;
            break;
        case O_NOCOMMIT:
            c.no_commit = 1;
            break;
        case 'n':
            if (cli_parse_i64(optarg, 1, INT64_MAX, &c.max))
                rc = cli_usage_fail(cmd, "bad --max '%s'", optarg);
            break;
        case 'f':
            c.follow = 1;
            break;
        case O_TIMEOUT:
            if (cli_parse_duration(optarg, &c.timeout_ms) || c.timeout_ms < 0)
                rc = cli_usage_fail(cmd, "bad --timeout '%s'", optarg);
            break;
        case O_POLL:
            if (cli_parse_duration(optarg, &c.poll_ms) || c.poll_ms < 1 ||
                c.poll_ms > 3600000)
                rc = cli_usage_fail(cmd, "bad --poll '%s'", optarg);
            break;
        case 'F':
            if (strcmp(optarg, "text") == 0)
                c.format = FMT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                c.format = FMT_JSON;
            else if (strcmp(optarg, "raw") == 0)
                c.format = FMT_RAW;
            else
                rc = cli_usage_fail(cmd, "bad --format '%s' (text, json or "
                                    "raw)", optarg);
            break;
        case O_FSEP:
            rc = parse_sep("--field-separator", optarg, &c.field_sep,
                           &c.field_sep_len);
            break;
        case 'd':
            rc = parse_sep("--delimiter", optarg, &c.delim, &c.delim_len);
            break;
        default:
            if (opt > O_PRINT && opt <= O_PRINT + P_HEADERS)
                c.print |= (unsigned)(opt - O_PRINT);
            else
                rc = cli_bad_option(cmd, argv, opt);
        }
    }
    if (rc == CLI_OK && argc - optind != 1)
        rc = cli_usage_fail(cmd, argc == optind ? "no topic given"
                            : "one topic expected");
    if (rc == CLI_OK && c.has_offset && c.offset >= 0 && c.partition < 0)
        rc = cli_usage_fail(cmd, "--offset N needs --partition");
    if (rc == CLI_OK && c.has_offset && c.has_time)
        rc = cli_usage_fail(cmd, "--offset and --from-time exclude each "
                            "other");
    if (rc == CLI_OK && !c.field_sep)
        rc = parse_sep("--field-separator", "\\t", &c.field_sep,
                       &c.field_sep_len);
    if (rc == CLI_OK && !c.delim)
        rc = parse_sep("--delimiter", "\\n", &c.delim, &c.delim_len);
    if (rc == CLI_OK) {
        c.topic_name = argv[optind];
        cli_catch_signals();
        rc = consume(&c);
    }
    free(c.parts);
    free(c.field_sep);
    free(c.delim);
    return rc < 0 ? CLI_OK : rc;
}
