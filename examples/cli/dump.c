/* dump.c - `cano DIR dump [TOPIC [PARTITION]]`: a segment-level view of a
 * store's files, in the manner of Kafka's kafka-dump-log tool.
 *
 * The files are read directly (ondisk.c), never through cano_open: dump
 * works on a store that a running process holds locked and on a damaged
 * one.  Every line starts with a word that says what it describes, and the
 * whole output, with --records, is what examples/python/canodump.py prints
 * from the format description alone, so the two can be compared byte for
 * byte.  The output format is described in usage() below. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "cli.h"
#include "ondisk.h"

static void usage(FILE *f)
{
    fputs(
"Usage: cano DIR dump [--records] [--index] [TOPIC [PARTITION]]\n"
"\n"
"Shows the files of the store DIR as they are on disk: every topic (in\n"
"byte order of the names, internal topics included), partition and segment,\n"
"with each segment's header and batches.  The files are read directly, so\n"
"this works on a store that another process has open and on a damaged one.\n"
"\n"
"  -r, --records   also show every record of every batch\n"
"  -i, --index     also show the offset index and time index entries\n"
"  -h, --help      show this help\n"
"\n"
"Each line starts with what it describes:\n"
"  store:     whether the clean-shutdown marker cano+clean is present\n"
"  topic:     a topic directory;  config: its topic.conf\n"
"  partition: a partition directory, then its state files\n"
"             (log-start-offset:, cleaner-offset:, producer-state:,\n"
"             producer:)\n"
"  segment:   a .log file;  header: its 128-byte header\n"
"  batch:     a batch: position, length, offsets, timestamps, attributes,\n"
"             producer id and sequence, checksum OK or BAD\n"
"  |          a record (--records) or an index entry (--index)\n"
"  tail:      bytes after the last batch: zero (preallocated) or torn\n"
"  end:       where the segment's data ends, with its counts\n"
"  index:, timeindex:  the index files (--index)\n"
"  error:     damage: file, position, offset and what is wrong\n"
"  summary:   counts for everything shown\n"
"Keys, values and header names print as \"text\" (UTF-8 without control\n"
"characters; \\\\ \\\" \\t \\n \\r escaped), as hex:<digits> otherwise, or as\n"
"null when absent.  Timestamps are milliseconds since the epoch.\n"
"\n"
"Exit status: 0; 1 when a file cannot be read or damage was found (a torn\n"
"tail past the flush point of the newest segment after an unclean stop is\n"
"expected, not damage: the next open cuts it); 2 on a usage error.\n"
"`cano DIR verify` checks more (indexes, state files) and explains more.\n",
        f);
}

typedef struct dump {
    const char *dir;
    bool records, index, clean;
    int owner;                /* pid of the process that has it open */
    int64_t topics, partitions, segments, batches, n_records, errors;
    cano_header *hdrs;
    size_t hdr_cap;
    uint8_t *scratch;
    size_t scratch_cap;
} dump;

static void error_line(dump *d, const char *rel, int64_t pos, int64_t offset,
                       const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* error: REL[: position P][: offset O]: what */
static void error_line(dump *d, const char *rel, int64_t pos, int64_t offset,
                       const char *fmt, ...)
{
    va_list ap;
    printf("error: %s", rel);
    if (pos >= 0)
        printf(": position %" PRId64, pos);
    if (offset >= 0)
        printf(": offset %" PRId64, offset);
    fputs(": ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    d->errors++;
}

/* ---- topic.conf ---- */

/* The value of key in a topic.conf text, or "?" (copied into buf). */
static const char *conf_value(const char *text, size_t len, const char *key,
                              char *buf, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = text; p < text + len; ) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        if (ll > kl && !memcmp(p, key, kl) && p[kl] == '=') {
            snprintf(buf, cap, "%.*s", (int)(ll - kl - 1), p + kl + 1);
            return buf;
        }
        p += ll + 1;
    }
    return "?";
}

static void dump_config(dump *d, const char *topic)
{
    char path[4200], rel[600], v1[64], v2[64], v3[64], v4[64], stored[24];
    snprintf(path, sizeof path, "%s/%s/topic.conf", d->dir, topic);
    snprintf(rel, sizeof rel, "%s/topic.conf", topic);
    char *text;
    size_t len;
    if (od_read_file(path, OD_CONF_MAX, &text, &len)) {
        error_line(d, rel, -1, -1, "%s", errno == ENOENT ? "missing"
                   : errno == EFBIG ? "larger than 8192 bytes"
                   : strerror(errno));
        return;
    }
    bool ok;
    od_conf_checksum(text, len, stored, NULL, &ok);
    printf("config: %s partitions: %s cleanup_policy: %s compression: %s "
           "timestamp_type: %s checksum: %s %s\n", rel,
           conf_value(text, len, "partitions", v1, sizeof v1),
           conf_value(text, len, "cleanup_policy", v2, sizeof v2),
           conf_value(text, len, "compression", v3, sizeof v3),
           conf_value(text, len, "timestamp_type", v4, sizeof v4),
           stored, ok ? "OK" : "BAD");
    if (!ok)
        error_line(d, rel, -1, -1, "checksum mismatch");
    free(text);
}

/* ---- partition state files ---- */

static void dump_offset_file(dump *d, const char *part_rel, const char *name,
                             const char *tag)
{
    char path[4200], rel[700];
    snprintf(rel, sizeof rel, "%s/%s", part_rel, name);
    snprintf(path, sizeof path, "%s/%s", d->dir, rel);
    char *text;
    size_t len;
    if (od_read_file(path, 4096, &text, &len)) {
        if (errno != ENOENT)
            error_line(d, rel, -1, -1, "%s", strerror(errno));
        return;
    }
    int64_t v = od_parse_offset_file(text, len, tag);
    if (v < 0)
        error_line(d, rel, -1, -1, "malformed");
    else
        printf("%s: %" PRId64 "\n", name, v);
    free(text);
}

static void dump_producers(dump *d, const char *part_rel)
{
    char path[4200], rel[700];
    snprintf(rel, sizeof rel, "%s/producer-state", part_rel);
    snprintf(path, sizeof path, "%s/%s", d->dir, rel);
    char *text;
    size_t len, n;
    int64_t upto;
    int bad;
    od_producer_line *l;
    if (od_read_file(path, OD_STATE_MAX, &text, &len)) {
        if (errno != ENOENT)
            error_line(d, rel, -1, -1, "%s", strerror(errno));
        return;
    }
    if (od_parse_producers(text, len, &upto, &l, &n, &bad)) {
        error_line(d, rel, -1, -1, "line %d is malformed", bad);
    } else {
        printf("producer-state: valid_up_to: %" PRId64 " batches: %zu\n",
               upto, n);
        for (size_t i = 0; i < n; i++)
            printf("producer: producer_id: %" PRId64 " sequence: %" PRId64
                   " count: %" PRId64 " first_offset: %" PRId64 "\n",
                   l[i].pid, l[i].seq, l[i].count, l[i].first);
    }
    free(l);
    free(text);
}

/* ---- segments ---- */

static void print_batch(const od_item *it)
{
    const cano__batch_info *b = &it->b;
    unsigned codec = b->attrs & CANO__ATTR_CODEC;
    printf("batch: position: %" PRIu64 " length: %" PRIu32
           " base_offset: %" PRId64 " last_offset: %" PRId64
           " count: %" PRIu32 " base_timestamp: %" PRId64
           " max_timestamp: %" PRId64 " attributes: 0x%02x"
           " compression: %s timestamp_type: %s records_size: %" PRIu32
           " producer_id: %" PRId64 " base_sequence: %" PRId32,
           it->pos, b->length, b->base_offset,
           b->base_offset + (int64_t)b->last_delta, b->count, b->base_ts,
           b->max_ts, b->attrs, codec == CANO__CODEC_ZLIB ? "zlib" : "none",
           (b->attrs & CANO__ATTR_APPEND_TS) ? "log-append-time"
                                             : "create-time",
           b->records_size, b->producer_id, b->base_seq);
    if (b->producer_id >= 0 && b->base_seq >= 0)
        printf(" last_sequence: %" PRId64,
               (int64_t)(((int64_t)b->base_seq + b->last_delta) % 2147483648));
    if (b->attrs & CANO__ATTR_HORIZON)
        printf(" delete_horizon: %" PRId64, b->delete_horizon);
    printf(" checksum: %016" PRIx64, it->stored_sum);
    if (it->sum_ok)
        fputs(" OK\n", stdout);
    else
        printf(" BAD (computed %016" PRIx64 ")\n", it->computed_sum);
}

static void print_records(dump *d, const od_item *it)
{
    cano__rec_iter ri;
    cano_record r;
    if (cano__rec_iter_init(&ri, it->bytes, &it->b, &d->scratch,
                            &d->scratch_cap) != CANO_OK)
        return;
    while (cano__rec_next(&ri, &r, &d->hdrs, &d->hdr_cap) == 1) {
        printf("| offset: %" PRId64 " timestamp: %" PRId64
               " key_size: %" PRId64 " value_size: %" PRId64 " key: ",
               r.offset, r.timestamp, r.key ? (int64_t)r.key_len : -1,
               r.value ? (int64_t)r.value_len : -1);
        od_put_bytes(stdout, r.key, r.key_len, r.key != NULL);
        fputs(" value: ", stdout);
        od_put_bytes(stdout, r.value, r.value_len, r.value != NULL);
        fputs(" headers: [", stdout);
        for (size_t i = 0; i < r.header_count; i++) {
            if (i)
                fputs(", ", stdout);
            od_put_bytes(stdout, r.headers[i].name, r.headers[i].name_len,
                         true);
            fputs(": ", stdout);
            od_put_bytes(stdout, r.headers[i].value, r.headers[i].value_len,
                         r.headers[i].value != NULL);
        }
        fputs("]\n", stdout);
    }
}

static void print_header(const od_seg *s)
{
    const uint8_t *p = s->raw;
    uint32_t state = cano__ld32(p + 48);
    fputs("header: magic: ", stdout);
    od_put_bytes(stdout, p, 8, true);
    printf(" version: %" PRIu32 " header_size: %" PRIu32
           " base_offset: %" PRId64 " flushed_len: %" PRIu64
           " flushed_next_offset: %" PRId64 " flushed_max_timestamp: %" PRId64,
           cano__ld32(p + 8), cano__ld32(p + 12), (int64_t)cano__ld64(p + 16),
           cano__ld64(p + 24), (int64_t)cano__ld64(p + 32),
           (int64_t)cano__ld64(p + 40));
    if (state == CANO__SEG_ACTIVE)
        fputs(" state: active", stdout);
    else if (state == CANO__SEG_SEALED)
        fputs(" state: sealed", stdout);
    else
        printf(" state: %" PRIu32, state);
    printf(" log_max_timestamp: %" PRId64 " checksum: %016" PRIx64,
           (int64_t)cano__ld64(p + 56), s->stored_sum);
    if (s->stored_sum == s->computed_sum)
        fputs(" OK\n", stdout);
    else
        printf(" BAD (computed %016" PRIx64 ")\n", s->computed_sum);
}

static void dump_index(dump *d, const char *part_rel, int64_t base, int which)
{
    char path[4200], rel[700];
    const char *name = which == CANO__SEG_F_OIDX ? "index" : "timeindex";
    snprintf(rel, sizeof rel, "%s/%020" PRId64 ".%s", part_rel, base, name);
    snprintf(path, sizeof path, "%s/%s", d->dir, rel);
    od_index ix;
    if (od_index_read(&ix, path, which, base)) {
        error_line(d, rel, -1, -1, "%s", strerror(errno));
        return;
    }
    if (!ix.present) {
        printf("%s: %s missing\n", name, rel);
        return;
    }
    if (!ix.header_ok) {
        printf("%s: %s size: %" PRIu64 " entries: 0\n", name, rel, ix.size);
        error_line(d, rel, 0, -1, "bad header");
        od_index_free(&ix);
        return;
    }
    printf("%s: %s size: %" PRIu64 " entries: %" PRIu32 "\n", name, rel,
           ix.size, ix.n);
    const uint8_t *e = ix.data + CANO__IDX_HEADER;
    for (uint32_t i = 0; i < ix.n; i++) {
        if (which == CANO__SEG_F_OIDX)
            printf("| relative_offset: %" PRIu32 " offset: %" PRId64
                   " position: %" PRIu32 "\n", cano__oidx_rel(e, i),
                   base + cano__oidx_rel(e, i), cano__oidx_pos(e, i));
        else
            printf("| timestamp: %" PRId64 " relative_offset: %" PRIu32
                   " offset: %" PRId64 "\n", cano__tidx_ts(e, i),
                   cano__tidx_rel(e, i), base + cano__tidx_rel(e, i));
    }
    od_index_free(&ix);
}

static void dump_segment(dump *d, const char *part_rel, int64_t base,
                         bool newest)
{
    char path[4200], rel[700];
    snprintf(rel, sizeof rel, "%s/%020" PRId64 ".log", part_rel, base);
    snprintf(path, sizeof path, "%s/%s", d->dir, rel);
    od_seg s;
    d->segments++;
    if (od_seg_open(&s, path, base)) {
        if (errno == ENOENT && d->owner > 0)
            printf("segment: %s deleted by process %d while dump ran\n",
                   rel, d->owner);
        else
            error_line(d, rel, -1, -1, "%s", strerror(errno));
        return;
    }
    printf("segment: %s size: %" PRIu64 "\n", rel, s.size);
    /* A newest segment without a header after an unclean stop is one that
     * was being created: open removes or recreates it. */
    bool expected = newest && !d->clean;
    if (!s.has_header) {
        printf("header: none (half-created segment)\n");
        if (!expected)
            error_line(d, rel, 0, -1, "file is shorter than the 128-byte "
                       "header");
    } else if (s.all_zero_header) {
        printf("header: all zero (half-created segment)\n");
        if (!expected)
            error_line(d, rel, 0, -1, "header is all zero bytes");
    } else {
        print_header(&s);
        if (!s.header_ok)
            error_line(d, rel, 0, -1, "%s", od_seg_header_problem(&s));
        else if (s.flush_end > s.size)
            error_line(d, rel, 0, -1, "flushed_len %" PRIu64 " is beyond "
                       "the end of the file", s.hdr.flushed_len);
    }
    od_item it;
    int64_t n_batches = 0, n_recs = 0;
    uint64_t end = CANO__SEG_HEADER;
    int k;
    while (s.has_header && !s.all_zero_header &&
           (k = od_seg_next(&s, &it)) != OD_END) {
        if (k == OD_IOERR) {
            error_line(d, rel, (int64_t)it.pos, -1, "%s", strerror(errno));
            break;
        }
        if (k == OD_BATCH) {
            print_batch(&it);
            n_batches++;
            end = it.pos + it.len;
            if (!it.sum_ok || !it.records_ok || it.backwards) {
                error_line(d, rel, (int64_t)it.pos, it.b.base_offset, "%s",
                           it.why);
                continue;
            }
            n_recs += it.b.count;
            if (d->records)
                print_records(d, &it);
            continue;
        }
        if (it.has_batch)
            print_batch(&it);
        bool zero = k == OD_TAIL_ZERO;
        printf("tail: position: %" PRIu64 " bytes: %" PRIu64 " %s%s%s\n",
               it.pos, it.len, zero ? "zero" : "torn", zero ? "" : ": ",
               zero ? "" : it.why);
        if (it.inside)
            error_line(d, rel, (int64_t)it.pos, -1, "the data ends before "
                       "the flush point (position %" PRIu64 ")", s.flush_end);
        else if (!zero && !expected)
            error_line(d, rel, (int64_t)it.pos, -1, "torn data after the "
                       "last batch%s", newest ? " after a clean shutdown"
                                              : " of a closed segment");
    }
    if (s.has_header && !s.all_zero_header) {
        printf("end: position: %" PRIu64 " batches: %" PRId64
               " records: %" PRId64 "\n", end, n_batches, n_recs);
    }
    d->batches += n_batches;
    d->n_records += n_recs;
    od_seg_close(&s);
}

static void dump_partition(dump *d, const char *topic, int32_t p)
{
    char part_rel[600], path[4200];
    snprintf(part_rel, sizeof part_rel, "%s/%" PRId32, topic, p);
    snprintf(path, sizeof path, "%s/%s", d->dir, part_rel);
    d->partitions++;
    printf("partition: %s\n", part_rel);
    dump_offset_file(d, part_rel, "log-start-offset", "cano-log-start");
    dump_offset_file(d, part_rel, "cleaner-offset", "cano-cleaner");
    dump_producers(d, part_rel);
    int64_t *bases;
    size_t n;
    if (od_list_segments(path, &bases, &n)) {
        error_line(d, part_rel, -1, -1, "%s", strerror(errno));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        dump_segment(d, part_rel, bases[i], i + 1 == n);
        if (d->index) {
            dump_index(d, part_rel, bases[i], CANO__SEG_F_OIDX);
            dump_index(d, part_rel, bases[i], CANO__SEG_F_TIDX);
        }
    }
    free(bases);
}

static void dump_topic(dump *d, const char *topic, const char *only_part)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", d->dir, topic);
    d->topics++;
    printf("topic: %s\n", topic);
    dump_config(d, topic);
    int32_t *ids;
    size_t n;
    if (od_list_partitions(path, &ids, &n)) {
        error_line(d, topic, -1, -1, "%s", strerror(errno));
        return;
    }
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        char num[16];
        snprintf(num, sizeof num, "%" PRId32, ids[i]);
        if (only_part && strcmp(num, only_part))
            continue;
        found = true;
        dump_partition(d, topic, ids[i]);
    }
    if (only_part && !found)
        error_line(d, topic, -1, -1, "no partition %s", only_part);
    free(ids);
}

int cmd_dump(const char *dir, int argc, char **argv)
{
    dump d;
    memset(&d, 0, sizeof d);
    d.dir = dir;
    /* Options may come before or after the topic and partition. */
    const char *pos[2] = { NULL, NULL };
    int n_pos = 0;
    bool opts_done = false;
    for (int i = 1; i < argc; i++) {
        if (opts_done || argv[i][0] != '-' || !argv[i][1]) {
            if (n_pos == 2) {
                fprintf(stderr, "cano dump: too many arguments\n");
                fputs("Try 'cano DIR dump --help'.\n", stderr);
                return CLI_USAGE;
            }
            pos[n_pos++] = argv[i];
        } else if (!strcmp(argv[i], "--")) {
            opts_done = true;
        } else if (!strcmp(argv[i], "--records") || !strcmp(argv[i], "-r")) {
            d.records = true;
        } else if (!strcmp(argv[i], "--index") || !strcmp(argv[i], "-i")) {
            d.index = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return CLI_OK;
        } else {
            fprintf(stderr, "cano dump: unknown option %s\n", argv[i]);
            fputs("Try 'cano DIR dump --help'.\n", stderr);
            return CLI_USAGE;
        }
    }
    od_names topics;
    if (od_list_topics(dir, &topics)) {
        fprintf(stderr, "cano dump: %s: %s\n", dir, strerror(errno));
        return CLI_FAIL;
    }
    d.clean = od_store_clean(dir);
    d.owner = od_store_owner(dir);
    printf("store: clean-shutdown marker: %s\n",
           d.clean ? "present" : "absent");
    bool found = false;
    for (size_t i = 0; i < topics.n; i++) {
        if (pos[0] && strcmp(pos[0], topics.v[i]))
            continue;
        found = true;
        dump_topic(&d, topics.v[i], pos[1]);
    }
    if (pos[0] && !found)
        error_line(&d, pos[0], -1, -1, "no such topic");
    od_names_free(&topics);
    printf("summary: topics: %" PRId64 " partitions: %" PRId64
           " segments: %" PRId64 " batches: %" PRId64 " records: %" PRId64
           " errors: %" PRId64 "\n", d.topics, d.partitions, d.segments,
           d.batches, d.n_records, d.errors);
    free(d.hdrs);
    free(d.scratch);
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "cano dump: writing the output failed\n");
        return CLI_FAIL;
    }
    return d.errors ? CLI_FAIL : CLI_OK;
}
