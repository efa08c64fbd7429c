/* verify.c - `cano DIR verify [TOPIC]`: checks every checksum, the framing
 * and offsets of every batch, every record, the segment headers, both
 * indexes of every segment, topic.conf and the partitions' state files,
 * against cano-format(5).  Reads the files directly (ondisk.c), like dump.
 *
 * Each finding is one line: "error:" for damage or an inconsistency the
 * format does not allow, "warning:" for what a crash or a running process
 * leaves and the next cano_open repairs.  The exit status is 1 when there
 * is an error (or, with --strict, a warning).
 *
 * The unflushed tail: after an unclean stop (no cano+clean marker), or
 * while a process has the store open, the newest segment of a partition
 * may end past its flush point (the header's flushed_len) with a batch
 * that was being written: torn, or garbage from a crash.  The library cuts
 * it at the next open (setting non-zero bytes aside in a .corrupt file),
 * and no acknowledged-durable data is in it, so verify reports it as a
 * warning.  The same bytes after a clean shutdown, in an older segment, or
 * below the flush point are errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "ondisk.h"
#include "topic.h"

static void usage(FILE *f)
{
    fputs(
"Usage: cano DIR verify [--strict] [--quiet] [TOPIC]\n"
"\n"
"Checks the files of the store DIR (or of one topic) against the on-disk\n"
"format, cano-format(5): the checksum, framing, offsets and records of\n"
"every batch; every segment header; that every offset index entry points\n"
"at the start of a batch with its offset and every time index entry\n"
"matches the timestamps before it; topic.conf and its checksum; and the\n"
"partitions' log-start-offset, cleaner-offset, producer-state and\n"
"compaction.manifest files.  The files are read directly, without opening\n"
"the store, so verify works on a store that another process has open (a\n"
"file that changes while it is read may then be reported).\n"
"\n"
"  --strict    exit 1 on warnings too\n"
"  -q, --quiet print errors only (no warnings, no summary)\n"
"  -h, --help  show this help\n"
"\n"
"Output: one line per finding,\n"
"  error: FILE[: position P][: offset O]: what is wrong\n"
"  warning: FILE[: position P][: offset O]: what was found\n"
"then a summary line with the topics, partitions, segments, batches,\n"
"records and bytes checked and the numbers of errors and warnings.  A\n"
"progress bar is drawn on stderr when it is a terminal.\n"
"\n"
"Errors are damage or states the format does not allow.  Warnings are what\n"
"a crash or a running process leaves behind and the next open repairs: in\n"
"particular, after an unclean stop (or while the store is open) the newest\n"
"segment of a partition may end past its flush point with a torn batch;\n"
"open cuts it off, so it is a warning, not an error.  The same bytes after\n"
"a clean shutdown, in an older segment, or below the flush point are\n"
"errors.\n"
"\n"
"Exit status: 0 when no error was found, 1 otherwise, 2 on a usage error.\n",
        f);
}

/* What verify knows of a topic from its topic.conf. */
typedef struct topic_rules {
    bool known;               /* topic.conf parsed */
    bool compacted;           /* offsets may have gaps, batches rewritten */
    bool append_time;
    int32_t partitions;
    bool internal_offsets;    /* __consumer_offsets: decode the commits */
} topic_rules;

/* One batch of a segment, for checking its index entries. */
typedef struct batch_ref {
    uint64_t pos;
    int64_t  base_offset;
    int64_t  max_before;      /* largest timestamp of the batches before */
    bool     exact;           /* no damaged batch before it */
} batch_ref;

typedef struct verifier {
    const char *dir;
    bool clean, strict, quiet;
    int owner;                /* pid of the process that has it open */
    int64_t topics, partitions, segments, batches, records, bytes;
    int64_t errors, warnings;
    cli_progress *prog;
    int64_t done, shown;
    cano_header *hdrs;
    size_t hdr_cap;
    uint8_t *scratch;
    size_t scratch_cap;
    batch_ref *refs;
    size_t n_refs, cap_refs;
} verifier;

/* The result of one segment, for the checks across segments. */
typedef struct seg_result {
    bool    has_batches;
    int64_t next;             /* offset after its last batch */
    int64_t flushed_next;     /* from the header, -1 unknown */
    int64_t log_max_ts;       /* from the header, INT64_MIN unknown */
} seg_result;

static void say(verifier *v, bool error, const char *rel, int64_t pos,
                int64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void say(verifier *v, bool error, const char *rel, int64_t pos,
                int64_t offset, const char *fmt, ...)
{
    if (error)
        v->errors++;
    else
        v->warnings++;
    if (!error && v->quiet)
        return;
    va_list ap;
    if (v->prog)
        fputs("\r\033[K", stderr);      /* the bar is redrawn later */
    printf("%s: %s%s%s", error ? "error" : "warning", v->dir,
           rel[0] ? "/" : "", rel);
    if (pos >= 0)
        printf(": position %" PRId64, pos);
    if (offset >= 0)
        printf(": offset %" PRId64, offset);
    fputs(": ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

#define ERR(v, rel, pos, off, ...)  say((v), true, (rel), (pos), (off), __VA_ARGS__)
#define WARN(v, rel, pos, off, ...) say((v), false, (rel), (pos), (off), __VA_ARGS__)

static void progress(verifier *v, int64_t n)
{
    v->done += n;
    v->bytes += n;
    if (v->done - v->shown >= (1 << 20)) {
        cli_progress_update(v->prog, v->done);
        v->shown = v->done;
    }
}

static int64_t size_of(const char *dir, const char *rel)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int64_t n = od_file_size(path);
    return n < 0 ? 0 : n;
}

/* ---- records of __consumer_offsets ---- */

static bool commit_key_ok(const cano_record *r)
{
    const uint8_t *k = r->key;
    if (!k || r->key_len < 9 || k[0] != 1)
        return false;
    size_t g = (size_t)k[1] | (size_t)k[2] << 8;
    if (g < 1 || g > 255 || r->key_len < 9 + g)
        return false;
    size_t t = (size_t)k[3 + g] | (size_t)k[4 + g] << 8;
    return t >= 1 && t <= 249 && r->key_len == 9 + g + t;
}

/* ---- one batch ---- */

/* The checks of a valid batch beyond what the codec checks: its records'
 * timestamps and offsets against its header, and the topic's rules. */
static void check_batch(verifier *v, const topic_rules *tr, const char *rel,
                        const od_item *it, int64_t seg_base, int64_t expect,
                        int64_t next_base)
{
    const cano__batch_info *b = &it->b;
    int64_t pos = (int64_t)it->pos, off = b->base_offset;
    int64_t last = b->base_offset + (int64_t)b->last_delta;
    bool lenient = !tr->known || tr->compacted;
    if (b->base_offset < seg_base)
        ERR(v, rel, pos, off, "batch starts below the segment's base "
            "offset %" PRId64, seg_base);
    else if (b->base_offset > expect && !lenient)
        ERR(v, rel, pos, off, "offset gap: the batch should start at "
            "offset %" PRId64 " (no compaction in this topic)", expect);
    if (last >= next_base)
        ERR(v, rel, pos, off, "batch ends at offset %" PRId64 ", inside the "
            "next segment (base %" PRId64 ")", last, next_base);
    if (!lenient && b->count != b->last_delta + 1)
        ERR(v, rel, pos, off, "record_count %" PRIu32 " but last_offset_delta "
            "%" PRIu32 " (only compaction removes records)", b->count,
            b->last_delta);
    if ((b->producer_id == -1) != (b->base_seq == -1) ||
        b->producer_id < -1 || b->base_seq < -1)
        ERR(v, rel, pos, off, "producer_id %" PRId64 " with base_sequence "
            "%" PRId32, b->producer_id, b->base_seq);
    if (tr->known && tr->append_time != !!(b->attrs & CANO__ATTR_APPEND_TS))
        ERR(v, rel, pos, off, "timestamp type %s but the topic uses %s",
            (b->attrs & CANO__ATTR_APPEND_TS) ? "log-append-time"
                                              : "create-time",
            tr->append_time ? "log-append-time" : "create-time");
    if (tr->known && !tr->compacted && (b->attrs & CANO__ATTR_HORIZON))
        ERR(v, rel, pos, off, "delete horizon in a topic that is not "
            "compacted");
    if (b->max_ts < 0)
        ERR(v, rel, pos, off, "negative max_timestamp %" PRId64, b->max_ts);

    cano__rec_iter ri;
    cano_record r;
    if (cano__rec_iter_init(&ri, it->bytes, b, &v->scratch,
                            &v->scratch_cap) != CANO_OK)
        return;                   /* od_seg_next decoded it already */
    int64_t max_rec = -1, n = 0;
    while (cano__rec_next(&ri, &r, &v->hdrs, &v->hdr_cap) == 1) {
        if (n == 0 && !(b->attrs & CANO__ATTR_APPEND_TS) &&
            r.timestamp != b->base_ts)
            ERR(v, rel, pos, r.offset, "first record's timestamp %" PRId64
                " differs from base_timestamp %" PRId64, r.timestamp,
                b->base_ts);
        if (n == 0 && !lenient && r.offset != b->base_offset)
            ERR(v, rel, pos, r.offset, "first record is not at the batch's "
                "base offset");
        if (r.timestamp > b->max_ts)
            ERR(v, rel, pos, r.offset, "record timestamp %" PRId64 " is above "
                "the batch's max_timestamp %" PRId64, r.timestamp, b->max_ts);
        if (tr->internal_offsets && !commit_key_ok(&r))
            WARN(v, rel, pos, r.offset, "consumer group commit whose key "
                 "does not decode (libcano ignores it)");
        else if (tr->internal_offsets && r.value &&
                 (r.value_len != 17 || ((const uint8_t *)r.value)[0] != 1))
            WARN(v, rel, pos, r.offset, "consumer group commit whose value "
                 "does not decode (read as a deletion)");
        max_rec = CANO__MAX(max_rec, r.timestamp);
        n++;
    }
    v->records += n;
    if (!lenient && !(b->attrs & CANO__ATTR_APPEND_TS) && max_rec != b->max_ts)
        ERR(v, rel, pos, off, "max_timestamp %" PRId64 " but the largest "
            "record timestamp is %" PRId64, b->max_ts, max_rec);
}

/* ---- indexes ---- */

static const batch_ref *ref_at_pos(const verifier *v, uint64_t pos)
{
    size_t lo = 0, hi = v->n_refs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->refs[mid].pos < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n_refs && v->refs[lo].pos == pos ? &v->refs[lo] : NULL;
}

static const batch_ref *ref_at_offset(const verifier *v, int64_t off)
{
    size_t lo = 0, hi = v->n_refs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->refs[mid].base_offset < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n_refs && v->refs[lo].base_offset == off ? &v->refs[lo]
                                                           : NULL;
}

/* What a segment's walk found, for its index checks. */
typedef struct seg_data {
    int64_t  base;
    uint64_t data_end;        /* position after the last valid batch */
    uint64_t flush_end;
    bool     may_tear;        /* newest segment of an unclean store */
    bool     trimmed;         /* files should be exactly their data */
} seg_data;

/* What the offset and time index checks share: reads the file and checks
 * its header, size and zero tail.  Returns true when the entries are
 * there to be checked (then ix must be freed); rel names the file. */
static bool index_load(verifier *v, const char *part_rel, const seg_data *sd,
                       int which, od_index *ix, char *rel, size_t rel_cap)
{
    bool oidx = which == CANO__SEG_F_OIDX;
    char path[4200];
    snprintf(rel, rel_cap, "%s/%020" PRId64 "%s", part_rel, sd->base,
             oidx ? ".index" : ".timeindex");
    snprintf(path, sizeof path, "%s/%s", v->dir, rel);
    if (od_index_read(ix, path, which, sd->base)) {
        ERR(v, rel, -1, -1, "cannot read: %s", strerror(errno));
        return false;
    }
    if (!ix->present) {
        WARN(v, rel, -1, -1, "missing (libcano rebuilds it from the .log)");
        return false;
    }
    progress(v, (int64_t)ix->size);
    if (!ix->header_ok) {
        ERR(v, rel, 0, -1, "bad header (not \"%s\" and the segment's base "
            "offset)", oidx ? "CANOOIX1" : "CANOTIX1");
        od_index_free(ix);
        return false;
    }
    unsigned entry = oidx ? CANO__OIDX_ENTRY : CANO__TIDX_ENTRY;
    if (sd->trimmed && ix->trailing)
        ERR(v, rel, -1, -1, "size %" PRIu64 " is not 16 + %u * entries",
            ix->size, entry);
    if (ix->after_end)
        ERR(v, rel, -1, -1, "non-zero entries after an all-zero entry");
    else if (sd->trimmed && ix->n < ix->n_slots)
        WARN(v, rel, (int64_t)(CANO__IDX_HEADER + (uint64_t)ix->n * entry), -1,
             "zero entries at the end of a trimmed index");
    return true;
}

static void check_oidx(verifier *v, const char *part_rel, const seg_data *sd)
{
    char rel[700];
    od_index ix;
    if (!index_load(v, part_rel, sd, CANO__SEG_F_OIDX, &ix, rel, sizeof rel))
        return;
    const uint8_t *e = ix.data + CANO__IDX_HEADER;
    uint32_t prev_rel = 0, prev_pos = 0;
    for (uint32_t i = 0; i < ix.n; i++) {
        uint32_t r = cano__oidx_rel(e, i), p = cano__oidx_pos(e, i);
        int64_t at = CANO__IDX_HEADER + (int64_t)i * CANO__OIDX_ENTRY;
        int64_t off = sd->base + r;
        if (r == 0) {
            ERR(v, rel, at, off, "entry %" PRIu32 " has relative offset 0 (the "
                "first batch never gets an entry)", i);
            continue;
        }
        if (i && (r <= prev_rel || p <= prev_pos))
            ERR(v, rel, at, off, "entry %" PRIu32 " (relative offset %" PRIu32
                ", position %" PRIu32 ") does not increase over the previous "
                "one (%" PRIu32 ", %" PRIu32 ")", i, r, p, prev_rel, prev_pos);
        prev_rel = r;
        prev_pos = p;
        const batch_ref *br = ref_at_pos(v, p);
        if (!br && p >= sd->data_end && p >= sd->flush_end && sd->may_tear)
            WARN(v, rel, at, off, "entry %" PRIu32 " points at position "
                 "%" PRIu32 ", past the valid data in the unflushed tail "
                 "(dropped at the next open)", i, p);
        else if (!br)
            ERR(v, rel, at, off, "entry %" PRIu32 " points at position "
                "%" PRIu32 ", which is not the start of a batch", i, p);
        else if (br->base_offset != off)
            ERR(v, rel, at, off, "entry %" PRIu32 " says offset %" PRId64
                " but the batch at position %" PRIu32 " starts at offset "
                "%" PRId64, i, off, p, br->base_offset);
    }
    od_index_free(&ix);
}

static void check_tidx(verifier *v, const char *part_rel, const seg_data *sd)
{
    char rel[700];
    od_index ix;
    if (!index_load(v, part_rel, sd, CANO__SEG_F_TIDX, &ix, rel, sizeof rel))
        return;
    const uint8_t *e = ix.data + CANO__IDX_HEADER;
    uint32_t prev_rel = 0;
    int64_t prev_ts = INT64_MIN;
    for (uint32_t i = 0; i < ix.n; i++) {
        uint32_t r = cano__tidx_rel(e, i);
        int64_t ts = cano__tidx_ts(e, i);
        int64_t at = CANO__IDX_HEADER + (int64_t)i * CANO__TIDX_ENTRY;
        int64_t off = sd->base + r;
        if (r == 0) {
            ERR(v, rel, at, off, "entry %" PRIu32 " has relative offset 0", i);
            continue;
        }
        if (ts < 0)
            ERR(v, rel, at, off, "entry %" PRIu32 " has a negative timestamp "
                "%" PRId64, i, ts);
        if (i && (r <= prev_rel || ts <= prev_ts))
            ERR(v, rel, at, off, "entry %" PRIu32 " (timestamp %" PRId64
                ", relative offset %" PRIu32 ") does not increase over the "
                "previous one (%" PRId64 ", %" PRIu32 ")", i, ts, r, prev_ts,
                prev_rel);
        prev_rel = r;
        prev_ts = ts;
        const batch_ref *br = ref_at_offset(v, off);
        if (!br && sd->may_tear && (v->n_refs == 0 ||
                                    off > v->refs[v->n_refs - 1].base_offset))
            WARN(v, rel, at, off, "entry %" PRIu32 " is past the valid data, "
                 "in the unflushed tail (dropped at the next open)", i);
        else if (!br)
            ERR(v, rel, at, off, "entry %" PRIu32 ": no batch starts at offset "
                "%" PRId64, i, off);
        else if (ts < br->max_before)
            ERR(v, rel, at, off, "entry %" PRIu32 " says the records before "
                "offset %" PRId64 " are at most %" PRId64 ", but one has "
                "timestamp %" PRId64, i, off, ts, br->max_before);
        else if (ts != br->max_before && br->exact)
            ERR(v, rel, at, off, "entry %" PRIu32 " has timestamp %" PRId64
                ", not the largest timestamp before offset %" PRId64
                " (%" PRId64 ")", i, ts, off, br->max_before);
    }
    od_index_free(&ix);
}

/* ---- segments ---- */

static void push_ref(verifier *v, uint64_t pos, int64_t base_offset,
                     int64_t max_before, bool exact)
{
    if (v->n_refs == v->cap_refs) {
        size_t cap = v->cap_refs ? v->cap_refs * 2 : 256;
        batch_ref *r = realloc(v->refs, cap * sizeof *r);
        if (!r)
            return;            /* the index checks then see fewer batches */
        v->refs = r;
        v->cap_refs = cap;
    }
    v->refs[v->n_refs++] = (batch_ref){ pos, base_offset, max_before, exact };
}

static void check_header(verifier *v, const char *rel, const od_seg *s,
                         bool newest, bool only)
{
    const char *why = od_seg_header_problem(s);
    if (!s->has_header || s->all_zero_header) {
        if (newest && !v->clean)
            WARN(v, rel, 0, -1, "half-created segment (%s): the next open "
                 "%s it", why, only ? "recreates" : "removes");
        else
            ERR(v, rel, 0, -1, "%s", why);
        return;
    }
    if (!s->header_ok) {
        ERR(v, rel, 0, -1, "segment header: %s", why);
        return;
    }
    const uint8_t *p = s->raw;
    /* Written as zeros, never read: a later version may use them. */
    for (int i = 64; i < 120; i++)
        if (p[i]) {
            WARN(v, rel, i, -1, "reserved header bytes are not zero");
            break;
        }
    if (cano__ld32(p + 52))
        WARN(v, rel, 52, -1, "reserved header bytes are not zero");
    if (s->flush_end > s->size)
        ERR(v, rel, 24, -1, "flushed_len %" PRIu64 " claims more than the "
            "file holds (%" PRIu64 " bytes of data)", s->hdr.flushed_len,
            s->size - CANO__SEG_HEADER);
    if (s->hdr.state == CANO__SEG_ACTIVE && !newest)
        ERR(v, rel, 48, -1, "state is active but a newer segment follows");
    if (s->hdr.log_max_ts < -1 || s->hdr.flushed_max_ts < -1)
        ERR(v, rel, 40, -1, "negative timestamps in the header");
    else if (s->hdr.log_max_ts < s->hdr.flushed_max_ts)
        ERR(v, rel, 56, -1, "log_max_timestamp %" PRId64 " is below "
            "flushed_max_timestamp %" PRId64, s->hdr.log_max_ts,
            s->hdr.flushed_max_ts);
}

static void check_segment(verifier *v, const topic_rules *tr,
                          const char *part_rel, int64_t base, bool newest,
                          bool only, int64_t next_base, seg_result *res)
{
    char rel[700], path[4200];
    snprintf(rel, sizeof rel, "%s/%020" PRId64 ".log", part_rel, base);
    snprintf(path, sizeof path, "%s/%s", v->dir, rel);
    memset(res, 0, sizeof *res);
    res->next = base;
    res->flushed_next = -1;
    res->log_max_ts = INT64_MIN;
    v->segments++;
    od_seg s;
    if (od_seg_open(&s, path, base)) {
        if (errno == ENOENT && v->owner > 0)
            WARN(v, rel, -1, -1, "deleted by process %d while verify ran",
                 v->owner);
        else
            ERR(v, rel, -1, -1, "cannot read: %s", strerror(errno));
        return;
    }
    check_header(v, rel, &s, newest, only);
    if (!s.has_header || s.all_zero_header) {
        progress(v, (int64_t)s.size);
        od_seg_close(&s);
        return;
    }
    if (s.header_ok) {
        res->flushed_next = s.hdr.flushed_next;
        res->log_max_ts = s.hdr.log_max_ts;
    }
    progress(v, CANO__SEG_HEADER);
    bool lenient = !tr->known || tr->compacted;
    bool may_tear = newest && !v->clean;
    seg_data sd = { base, CANO__SEG_HEADER, s.flush_end, may_tear,
                    !newest || v->clean };
    v->n_refs = 0;
    od_item it;
    int k;
    int64_t max_ts = -1, flushed_max = -1, flushed_next = base;
    int64_t unflushed = 0;
    bool boundary = s.flush_end == CANO__SEG_HEADER;
    bool damaged = false;     /* a batch before was unreadable */
    bool after_damage = false;   /* ... the one just before */
    while ((k = od_seg_next(&s, &it)) != OD_END) {
        progress(v, (int64_t)it.len);
        if (k == OD_IOERR) {
            ERR(v, rel, (int64_t)it.pos, -1, "read failed: %s",
                strerror(errno));
            break;
        }
        if (k == OD_BATCH) {
            v->batches++;
            int64_t pos = (int64_t)it.pos, off = it.b.base_offset;
            if (!it.sum_ok) {
                ERR(v, rel, pos, off, "batch %s", it.why);
                damaged = after_damage = true;
            } else if (!it.records_ok) {
                ERR(v, rel, pos, off, "batch records do not decode: %s",
                    cano_last_errmsg());
                damaged = after_damage = true;
            } else if (it.backwards) {
                ERR(v, rel, pos, off, "offsets go backwards: %s", it.why);
                damaged = after_damage = true;
            } else {
                /* After a damaged batch the expected offset is unknown. */
                check_batch(v, tr, rel, &it, base,
                            after_damage ? it.b.base_offset : res->next,
                            next_base);
                after_damage = false;
                push_ref(v, it.pos, it.b.base_offset, max_ts, !damaged);
                res->has_batches = true;
                res->next = it.b.base_offset + (int64_t)it.b.last_delta + 1;
                max_ts = CANO__MAX(max_ts, it.b.max_ts);
                sd.data_end = it.pos + it.len;
                if (it.pos + it.len <= s.flush_end) {
                    flushed_max = max_ts;
                    flushed_next = res->next;
                } else {
                    unflushed++;
                }
            }
            if (it.pos + it.len == s.flush_end)
                boundary = true;
            else if (it.pos < s.flush_end && it.pos + it.len > s.flush_end &&
                     s.header_ok)
                ERR(v, rel, pos, off, "the flush point (position %" PRIu64
                    ") falls inside this batch", s.flush_end);
            continue;
        }
        /* A tail: the data ends at it.pos. */
        int64_t pos = (int64_t)it.pos, off = it.has_batch ? it.b.base_offset
                                                          : -1;
        bool zero = k == OD_TAIL_ZERO;
        if (it.inside && s.header_ok)
            ERR(v, rel, pos, off, "the data ends before the flush point "
                "(position %" PRIu64 "): %s", s.flush_end,
                zero ? "zero bytes follow" : it.why);
        else if (zero && sd.trimmed)
            WARN(v, rel, pos, -1, "%" PRIu64 " zero bytes after the last "
                 "batch of a %s segment (not trimmed)", it.len,
                 newest ? "cleanly closed" : "closed");
        else if (!zero && may_tear && v->owner > 0)
            WARN(v, rel, pos, off, "the unflushed tail is being written by "
                 "process %d or is torn: %s", v->owner, it.why);
        else if (!zero && may_tear)
            WARN(v, rel, pos, off, "torn unflushed tail: %s; the next open "
                 "cuts off these %" PRIu64 " bytes and sets them aside",
                 it.why, it.len);
        else if (!zero)
            ERR(v, rel, pos, off, "torn data after the last batch of %s: %s "
                "(%" PRIu64 " bytes)",
                newest ? "a cleanly closed store" : "a closed segment",
                it.why, it.len);
        if (it.inside && s.header_ok)
            boundary = true;   /* reported already */
    }
    if (s.header_ok && !boundary && s.flush_end <= s.size)
        ERR(v, rel, (int64_t)s.flush_end, -1, "the flush point does not fall "
            "on a batch boundary");
    if (unflushed && v->clean && s.header_ok)
        WARN(v, rel, -1, -1, "%" PRId64 " valid batches past the flush point "
             "after a clean shutdown", unflushed);
    if (s.header_ok && !lenient && s.flush_end <= s.size && !damaged) {
        if (s.hdr.flushed_next != flushed_next)
            ERR(v, rel, 32, -1, "flushed_next_offset is %" PRId64 " but the "
                "flushed batches end at offset %" PRId64,
                s.hdr.flushed_next, flushed_next);
        if (s.hdr.flushed_max_ts != flushed_max)
            ERR(v, rel, 40, -1, "flushed_max_timestamp is %" PRId64 " but the "
                "flushed batches' largest timestamp is %" PRId64,
                s.hdr.flushed_max_ts, flushed_max);
    } else if (s.header_ok && s.flush_end <= s.size && !damaged) {
        if (s.hdr.flushed_next < flushed_next)
            ERR(v, rel, 32, -1, "flushed_next_offset %" PRId64 " is below the "
                "end of the flushed batches (%" PRId64 ")",
                s.hdr.flushed_next, flushed_next);
        if (s.hdr.flushed_max_ts < flushed_max)
            ERR(v, rel, 40, -1, "flushed_max_timestamp %" PRId64 " is below "
                "the flushed batches' largest timestamp %" PRId64,
                s.hdr.flushed_max_ts, flushed_max);
    }
    od_seg_close(&s);
    check_oidx(v, part_rel, &sd);
    check_tidx(v, part_rel, &sd);
}

/* ---- partitions ---- */

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* Reads a small state file; NULL when it is missing (or unreadable, which
 * is reported). */
static char *state_file(verifier *v, const char *rel, size_t *len)
{
    char path[4200], *text;
    snprintf(path, sizeof path, "%s/%s", v->dir, rel);
    if (od_read_file(path, OD_STATE_MAX, &text, len)) {
        if (errno != ENOENT)
            ERR(v, rel, -1, -1, "cannot read: %s", strerror(errno));
        return NULL;
    }
    progress(v, (int64_t)*len);
    return text;
}

/* The files of a partition directory that are not segments. */
static void check_part_files(verifier *v, const char *part_rel,
                             const int64_t *bases, size_t n_bases)
{
    char path[4200], rel[900];
    od_names l;
    snprintf(path, sizeof path, "%s/%s", v->dir, part_rel);
    if (od_list_dir(path, &l))
        return;
    for (size_t i = 0; i < l.n; i++) {
        const char *f = l.v[i];
        size_t n = strlen(f);
        snprintf(rel, sizeof rel, "%s/%s", part_rel, f);
        if (!strcmp(f, "log-start-offset") || !strcmp(f, "cleaner-offset") ||
            !strcmp(f, "producer-state") ||
            !strcmp(f, "compaction.manifest"))
            continue;
        if ((n == 24 && has_suffix(f, ".log") && digits(f, 20)))
            continue;
        if ((n == 26 && has_suffix(f, ".index") && digits(f, 20)) ||
            (n == 30 && has_suffix(f, ".timeindex") && digits(f, 20))) {
            bool found = false;
            int64_t b = strtoll(f, NULL, 10);
            for (size_t j = 0; j < n_bases && !found; j++)
                found = bases[j] == b;
            if (!found)
                WARN(v, rel, -1, -1, "index file without its .log file "
                     "(removed at the next open)");
            continue;
        }
        if (has_suffix(f, ".corrupt"))
            WARN(v, rel, -1, -1, "%" PRId64 " bytes that recovery cut off a "
                 "torn segment and set aside", size_of(v->dir, rel));
        else if (has_suffix(f, ".cleaned"))
            WARN(v, rel, -1, -1, "output of an unfinished compaction "
                 "(finished or removed at the next open)");
        else if (has_suffix(f, ".tmp"))
            WARN(v, rel, -1, -1, "temporary file left by a crash (removed "
                 "at the next open)");
        else
            WARN(v, rel, -1, -1, "unknown file");
    }
    od_names_free(&l);
}

static void check_state(verifier *v, const char *part_rel, int64_t end,
                        bool has_segments,
                        const int64_t *bases, size_t n)
{
    char rel[700];
    size_t len;
    char *text;

    snprintf(rel, sizeof rel, "%s/log-start-offset", part_rel);
    if ((text = state_file(v, rel, &len))) {
        int64_t start = od_parse_offset_file(text, len, "cano-log-start");
        if (start < 0)
            ERR(v, rel, -1, -1, "malformed (libcano ignores it, so the log "
                "start falls back to the oldest segment)");
        else if (has_segments && start > end)
            WARN(v, rel, -1, start, "log start offset %" PRId64 " is past the "
                 "end offset %" PRId64 " (data lost in an OS crash: the next "
                 "open empties the partition)", start, end);
        else
            for (size_t i = 0; i + 1 < n && bases[i + 1] <= start; i++)
                WARN(v, rel, -1, bases[i], "segment %020" PRId64 " lies wholly "
                     "below the log start offset %" PRId64 " (removed at the "
                     "next open)", bases[i], start);
        free(text);
    }

    snprintf(rel, sizeof rel, "%s/cleaner-offset", part_rel);
    if ((text = state_file(v, rel, &len))) {
        int64_t c = od_parse_offset_file(text, len, "cano-cleaner");
        if (c < 0)
            ERR(v, rel, -1, -1, "malformed (libcano reads it as 0)");
        else if (has_segments && c > end)
            WARN(v, rel, -1, c, "checkpoint %" PRId64 " is past the end "
                 "offset %" PRId64 " (data lost in an OS crash?)", c, end);
        free(text);
    }

    snprintf(rel, sizeof rel, "%s/producer-state", part_rel);
    if ((text = state_file(v, rel, &len))) {
        int64_t upto;
        od_producer_line *l;
        size_t nl;
        int bad;
        if (od_parse_producers(text, len, &upto, &l, &nl, &bad)) {
            ERR(v, rel, -1, -1, "line %d is malformed (libcano ignores %s)",
                bad, bad <= 2 ? "the file" : "it and the lines after it");
        } else {
            if (has_segments && upto > end)
                WARN(v, rel, -1, upto, "valid up to offset %" PRId64 ", past "
                     "the end offset %" PRId64, upto, end);
            int run = 0;
            for (size_t i = 0; i < nl; i++) {
                const od_producer_line *x = &l[i];
                run = i && l[i - 1].pid == x->pid ? run + 1 : 1;
                for (size_t j = 0; j + 1 < i && run == 1; j++)
                    if (l[j].pid == x->pid) {
                        ERR(v, rel, -1, -1, "line %zu: the lines of producer "
                            "%" PRId64 " are not consecutive", i + 3, x->pid);
                        break;
                    }
                if (run > CANO__RECENT_BATCHES)
                    ERR(v, rel, -1, -1, "line %zu: more than %d batches of "
                        "producer %" PRId64, i + 3, CANO__RECENT_BATCHES,
                        x->pid);
                if (x->seq > INT32_MAX || x->count < 1 ||
                    x->count > (int64_t)UINT32_MAX + 1 || x->first > upto)
                    ERR(v, rel, -1, -1, "line %zu: batch out of range "
                        "(sequence %" PRId64 ", count %" PRId64 ", offset "
                        "%" PRId64 ")", i + 3, x->seq, x->count, x->first);
            }
        }
        free(l);
        free(text);
    }

    snprintf(rel, sizeof rel, "%s/compaction.manifest", part_rel);
    if ((text = state_file(v, rel, &len))) {
        int bad;
        if (od_parse_manifest(text, len, &bad))
            ERR(v, rel, -1, -1, "line %d is malformed (cano_open fails with "
                "CANO_ECORRUPT)", bad);
        else
            WARN(v, rel, -1, -1, "a committed compaction was not finished "
                 "(the next open finishes it)");
        free(text);
    }
}

static void check_partition(verifier *v, const topic_rules *tr,
                            const char *topic, int32_t p)
{
    char part_rel[600], path[4200];
    snprintf(part_rel, sizeof part_rel, "%s/%" PRId32, topic, p);
    snprintf(path, sizeof path, "%s/%s", v->dir, part_rel);
    v->partitions++;
    int64_t *bases;
    size_t n;
    if (od_list_segments(path, &bases, &n)) {
        ERR(v, part_rel, -1, -1, "cannot list: %s", strerror(errno));
        return;
    }
    check_part_files(v, part_rel, bases, n);
    if (n == 0)
        WARN(v, part_rel, -1, -1, "no segment files (libcano creates one at "
             "the next append)");
    bool lenient = !tr->known || tr->compacted;
    int64_t expect = n ? bases[0] : 0, prev_log_max = -1;
    bool prev_batches = false;
    for (size_t i = 0; i < n; i++) {
        char rel[700];
        snprintf(rel, sizeof rel, "%s/%020" PRId64 ".log", part_rel, bases[i]);
        if (i && bases[i] < expect)
            ERR(v, rel, -1, bases[i], "segment starts at offset %" PRId64
                ", below the end of the previous segment (%" PRId64 ")",
                bases[i], expect);
        else if (i && bases[i] > expect && !lenient && prev_batches)
            ERR(v, rel, -1, bases[i], "offset gap: the previous segment ends "
                "at offset %" PRId64, expect);
        seg_result r;
        check_segment(v, tr, part_rel, bases[i], i + 1 == n, n == 1,
                      i + 1 < n ? bases[i + 1] : INT64_MAX, &r);
        if (r.log_max_ts != INT64_MIN) {
            if (r.log_max_ts < prev_log_max)
                ERR(v, rel, 56, -1, "log_max_timestamp %" PRId64 " is below "
                    "the previous segment's (%" PRId64 ")", r.log_max_ts,
                    prev_log_max);
            prev_log_max = CANO__MAX(prev_log_max, r.log_max_ts);
        }
        if (i + 1 < n && r.flushed_next >= 0 && r.flushed_next > bases[i + 1])
            ERR(v, rel, 32, -1, "flushed_next_offset %" PRId64 " is past the "
                "next segment's base offset %" PRId64, r.flushed_next,
                bases[i + 1]);
        prev_batches = r.has_batches;
        expect = CANO__MAX(r.next, bases[i]);
    }
    check_state(v, part_rel, expect, n > 0, bases, n);
    free(bases);
}

/* ---- topics ---- */

static void check_topic(verifier *v, const char *topic)
{
    char path[4200], rel[600], groups[1100];
    topic_rules tr;
    memset(&tr, 0, sizeof tr);
    tr.internal_offsets = !strcmp(topic, "__consumer_offsets");
    v->topics++;
    snprintf(rel, sizeof rel, "%s/topic.conf", topic);
    snprintf(path, sizeof path, "%s/%s", v->dir, rel);
    char *text;
    size_t len;
    if (od_read_file(path, OD_CONF_MAX, &text, &len)) {
        ERR(v, rel, -1, -1, "%s", errno == ENOENT ? "missing (cano_open "
            "fails with CANO_ECORRUPT)" : errno == EFBIG ? "larger than "
            "8192 bytes" : strerror(errno));
    } else {
        cano_topic_config cfg;
        char stored[24], computed[17];
        bool ok;
        progress(v, (int64_t)len);
        od_conf_checksum(text, len, stored, computed, &ok);
        if (!ok && computed[0]) {
            ERR(v, rel, -1, -1, "checksum mismatch (stored %s, computed %s): "
                "cano_open fails with CANO_ECORRUPT", stored, computed);
        } else if (!ok) {
            ERR(v, rel, -1, -1, "no checksum line at the end: cano_open "
                "fails with CANO_ECORRUPT");
        } else if (cano__config_parse(text, len, &cfg, groups) != CANO_OK) {
            ERR(v, rel, -1, -1, "invalid, cano_open fails with CANO_ECORRUPT: "
                "%s", cano_last_errmsg());
        } else {
            tr.known = true;
            tr.compacted = (cfg.cleanup_policy & CANO_CLEANUP_COMPACT) != 0;
            tr.append_time =
                cfg.timestamp_type == CANO_TIMESTAMP_LOG_APPEND_TIME;
            tr.partitions = cfg.partitions;
        }
        free(text);
    }
    snprintf(path, sizeof path, "%s/%s", v->dir, topic);
    int32_t *ids;
    size_t n;
    if (od_list_partitions(path, &ids, &n)) {
        ERR(v, topic, -1, -1, "cannot list: %s", strerror(errno));
        return;
    }
    for (size_t i = 0, j = 0; tr.known && i < (size_t)tr.partitions; i++) {
        while (j < n && ids[j] < (int32_t)i)
            j++;
        if (j == n || ids[j] != (int32_t)i) {
            char prel[600];
            snprintf(prel, sizeof prel, "%s/%zu", topic, i);
            ERR(v, prel, -1, -1, "partition directory is missing");
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (tr.known && ids[i] >= tr.partitions) {
            char prel[600];
            snprintf(prel, sizeof prel, "%s/%" PRId32, topic, ids[i]);
            ERR(v, prel, -1, -1, "partition directory beyond the %" PRId32
                " partitions of topic.conf", tr.partitions);
        }
        check_partition(v, &tr, topic, ids[i]);
        cli_progress_update(v->prog, v->done);
    }
    free(ids);
    snprintf(path, sizeof path, "%s/%s/topic.conf.tmp", v->dir, topic);
    if (od_file_size(path) >= 0) {
        snprintf(rel, sizeof rel, "%s/topic.conf.tmp", topic);
        WARN(v, rel, -1, -1, "temporary file left by a crash");
    }
}

/* ---- the store ---- */

/* Bytes verify will read, for the progress bar. */
static int64_t total_bytes(const char *dir, const od_names *topics,
                           const char *only)
{
    int64_t total = 0;
    for (size_t t = 0; t < topics->n; t++) {
        if (only && strcmp(only, topics->v[t]))
            continue;
        char tdir[4200];
        snprintf(tdir, sizeof tdir, "%s/%s", dir, topics->v[t]);
        int32_t *ids;
        size_t n;
        if (od_list_partitions(tdir, &ids, &n))
            continue;
        for (size_t i = 0; i < n; i++) {
            char pdir[4300];
            od_names l;
            snprintf(pdir, sizeof pdir, "%s/%" PRId32, tdir, ids[i]);
            if (od_list_dir(pdir, &l))
                continue;
            for (size_t j = 0; j < l.n; j++) {
                char rel[4600];
                snprintf(rel, sizeof rel, "%s/%s", pdir, l.v[j]);
                if (has_suffix(l.v[j], ".log") ||
                    has_suffix(l.v[j], ".index") ||
                    has_suffix(l.v[j], ".timeindex")) {
                    int64_t sz = od_file_size(rel);
                    total += sz > 0 ? sz : 0;
                }
            }
            od_names_free(&l);
        }
        free(ids);
    }
    return total;
}

static void check_store_files(verifier *v)
{
    od_names l;
    if (od_list_dir(v->dir, &l))
        return;
    for (size_t i = 0; i < l.n; i++) {
        const char *f = l.v[i];
        if (!strncmp(f, "cano+tmp.", 9))
            WARN(v, f, -1, -1, "a topic whose creation was interrupted "
                 "(removed at the next open)");
        else if (!strncmp(f, "cano+del.", 9))
            WARN(v, f, -1, -1, "a topic whose deletion was interrupted "
                 "(removed at the next open)");
    }
    od_names_free(&l);
}

int cmd_verify(const char *dir, int argc, char **argv)
{
    verifier v;
    memset(&v, 0, sizeof v);
    v.dir = dir;
    const char *only = NULL;
    bool opts_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || !a[1]) {
            if (only) {
                fprintf(stderr, "cano verify: too many arguments\n");
                fputs("Try 'cano DIR verify --help'.\n", stderr);
                return CLI_USAGE;
            }
            only = a;
        } else if (!strcmp(a, "--")) {
            opts_done = true;
        } else if (!strcmp(a, "--strict")) {
            v.strict = true;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            v.quiet = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        } else {
            fprintf(stderr, "cano verify: unknown option %s\n", a);
            fputs("Try 'cano DIR verify --help'.\n", stderr);
            return CLI_USAGE;
        }
    }
    od_names topics;
    if (od_list_topics(dir, &topics)) {
        fprintf(stderr, "cano verify: %s: %s\n", dir, strerror(errno));
        return CLI_FAIL;
    }
    v.clean = od_store_clean(dir);
    v.owner = od_store_owner(dir);
    if (v.owner > 0 && !v.quiet)
        printf("note: %s is open in process %d: files may change while they "
               "are read, and what is in flight shows as warnings\n", dir,
               v.owner);
    v.prog = cli_progress_start("verify", total_bytes(dir, &topics, only));
    if (!only)
        check_store_files(&v);
    bool found = false;
    for (size_t i = 0; i < topics.n; i++) {
        if (only && strcmp(only, topics.v[i]))
            continue;
        found = true;
        check_topic(&v, topics.v[i]);
    }
    cli_progress_update(v.prog, v.done);
    cli_progress_finish(v.prog);
    if (only && !found)
        ERR(&v, only, -1, -1, "no such topic");
    od_names_free(&topics);
    if (!v.quiet)
        printf("summary: topics: %" PRId64 " partitions: %" PRId64
               " segments: %" PRId64 " batches: %" PRId64 " records: %" PRId64
               " bytes: %" PRId64 " errors: %" PRId64 " warnings: %" PRId64
               " clean-shutdown marker: %s\n", v.topics, v.partitions,
               v.segments, v.batches, v.records, v.bytes, v.errors,
               v.warnings, v.clean ? "present" : "absent");
    free(v.hdrs);
    free(v.scratch);
    free(v.refs);
    if (fflush(stdout) || ferror(stdout))
        return CLI_FAIL;
    return v.errors || (v.strict && v.warnings) ? CLI_FAIL : CLI_OK;
}
