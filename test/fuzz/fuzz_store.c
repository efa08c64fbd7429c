/* fuzz_store.c - a whole store directory built from the input, opened and
 * used through the public API.
 *
 * Input: 16 control bytes, then sections separated by "#SEC#":
 *    0  topic.conf of topic "t" (a missing checksum line is added)
 *    1  t/0/<base0>.log   2  .index   3  .timeindex
 *    4  t/0/<base1>.log   5  .index   6  .timeindex
 *    7  t/0/<base2>.log   8  .index   9  .timeindex
 *   10  t/0/log-start-offset          11  t/0/cleaner-offset
 *   12  t/0/producer-state            13  t/0/compaction.manifest
 *   14  __consumer_offsets/0/00000000000000000000.log
 *   15  one more file in t/0: its name on the first line, then its bytes
 * An empty or missing section writes no file (an empty .log section: no
 * segment).  Control bytes:
 *    0  A_CLEAN 1: cano+clean marker   A_FIXHDR 2: fix .log headers (magic,
 *       version, base, checksum)       A_FIXLEN 4: flushed_len = data size
 *       A_FIXSUM 8: fix batch checksums A_PAGE 16: pad .log files with zeros
 *       to a multiple of 4096 bytes (a read past the data then faults)
 *       A_GENCONF 32: write a valid topic.conf from byte 1 instead of
 *       section 0   A_APPEND 64: append records   A_MAINTAIN 128
 *    1  generated config: bit0 compact, bit1 delete too, bit2 zlib,
 *       bit3 log-append-time, bits4-5 index interval (4096, 0, 64, 256),
 *       bits6-7 segment_bytes (1 GiB, 256, 4096, 65536)
 *    2  u16 base1 - base0 (0: the offset after seg0's batches)
 *    4  u16 base2 - base1 (0: likewise)
 *    6  base0
 *    7  options: bits0-1 cleaner_map_bytes (64, 256, 4096, 1 MiB), bit2
 *       max_open_files 16, bit3 store sync_mode ALWAYS (else NONE)
 *    8  header fix: bit0 states (last active, others sealed), bit1
 *       flushed_next and bit2 flushed_max_timestamp from the batches,
 *       bit3 log_max_timestamp -1
 *    9  append: bits0-1 records - 1, bit2 tombstone, bit3 a header, bit4
 *       timestamp from bytes 10-11, bit5 idempotent (producer = byte 13)
 *   10  key (2 bytes), 12 value (4 bytes)
 *
 * Then: cano_open, every partition of every topic read with cano_read and a
 * reader (seeks included), cano_offset_for_time, cano_partition_stat,
 * cano_compact, cano_maintain, cano_close, and a second open that must read
 * the same records.  Any return code is fine; crashes, leaks, hangs and
 * broken invariants are not.  The invariants:
 *   - every record handed out is inside [start, end), in offset order, and
 *     its views are readable;
 *   - a reader returns what cano_read returns;
 *   - compaction never changes a record or invents one: what is readable
 *     after it was readable before, with the same content; and when the
 *     store is well formed (its batches valid, in order, inside their
 *     segments, headers describing them) the latest record of every key
 *     survives (tombstones excepted);
 *   - on a well-formed store whose indexes the library built,
 *     cano_offset_for_time returns the first offset with a timestamp >= ts;
 *   - after cano_close and a reopen, the partition reads the same. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz_common.h"
#include "segment.h"
#include "offsets.h"
#include "topic.h"

#define CTL 16u
#define SEP "#SEC#"
#define N_SECTIONS 16
#define STORE_MAX_INPUT (1u << 17)
#define MAX_READ 20000
#define PAGE 4096u

enum {
    A_CLEAN = 1, A_FIXHDR = 2, A_FIXLEN = 4, A_FIXSUM = 8, A_PAGE = 16,
    A_GENCONF = 32, A_APPEND = 64, A_MAINTAIN = 128
};
enum {
    S_CONF = 0, S_SEG = 1, S_START = 10, S_CLEANER = 11, S_PRODUCERS = 12,
    S_MANIFEST = 13, S_OFFSETS = 14, S_EXTRA = 15
};

typedef struct section {
    const uint8_t *p;
    size_t n;
} section;

/* ---- files ---- */

static char base_dir[256];

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup_base(void)
{
    if (base_dir[0])
        rm_tree(base_dir);
}

/* Directories left by fuzz_store processes that died (a crash skips the
 * atexit cleanup): named cano-fuzz-<pid>-*, removed when <pid> is gone. */
static void remove_stale(const char *parent)
{
    DIR *d = opendir(parent);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        char rest[32];
        if (sscanf(e->d_name, "cano-fuzz-%ld-%31s", &pid, rest) != 2 ||
            pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;               /* alive, or not ours to judge */
        char path[600];
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        rm_tree(path);
    }
    closedir(d);
}

static void init_base(void)
{
    if (base_dir[0])
        return;
    const char *env = getenv("CANO_FUZZ_TMPDIR");
    const char *cands[] = { env, "/dev/shm", getenv("TMPDIR"), "/tmp" };
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        if (!cands[i] || !*cands[i] || access(cands[i], W_OK) != 0)
            continue;
        remove_stale(cands[i]);
        snprintf(base_dir, sizeof base_dir, "%s/cano-fuzz-%ld-XXXXXX",
                 cands[i], (long)getpid());
        if (mkdtemp(base_dir))
            break;
        base_dir[0] = '\0';
    }
    FZ_CHECK(base_dir[0], "no writable temporary directory");
    atexit(cleanup_base);
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    FZ_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const uint8_t *)p + done, n - done);
        FZ_CHECK(w > 0, "write %s: %s", path, strerror(errno));
        done += (size_t)w;
    }
    close(fd);
}

static void make_dir(const char *path)
{
    FZ_CHECK(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
             strerror(errno));
}

/* CANO_FUZZ_KEEP=DIR: a copy of the store as built, before the library
 * touches it, for looking at an input with `cano DIR dump` (debugging). */
static void keep_copy(const char *store)
{
    const char *keep = getenv("CANO_FUZZ_KEEP");
    if (!keep || !*keep)
        return;
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", keep, store,
             keep);
    FZ_CHECK(system(cmd) == 0, "keeping a copy in %s failed", keep);
}

/* ---- segments ---- */

/* What the harness sees in a .log file it wrote. */
typedef struct seg_scan {
    int64_t base;
    int64_t first, next;      /* first offset, offset after the batches */
    int64_t max_ts;
    bool    any;
    bool    ordered;          /* every byte after the header is batch
                                 framing with increasing offsets, then
                                 zeros at most */
    bool    well_formed;      /* ordered, and every batch valid with a
                                 max_timestamp that is its largest */
    bool    present;
} seg_scan;

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Walks the batches of a .log image by their framing, and checks each in
 * full as recovery would (and that max_timestamp is the largest record
 * timestamp, which the library does not check). */
static void scan_log(const uint8_t *p, size_t n, int64_t base, seg_scan *s)
{
    memset(s, 0, sizeof *s);
    s->base = base;
    s->first = s->next = base;
    s->max_ts = -1;
    s->present = true;
    s->ordered = s->well_formed = n >= CANO__SEG_HEADER;
    uint8_t *scratch = NULL;
    size_t cap = 0;
    size_t pos = CANO__SEG_HEADER;
    while (s->ordered && pos < n) {
        cano__batch_info b;
        if (cano__batch_parse(p + pos, n - pos, &b) != CANO_OK) {
            s->ordered = all_zero(p + pos, n - pos);
            break;
        }
        if (b.base_offset < s->next) {
            s->ordered = false;
            break;
        }
        int64_t mx = INT64_MIN;
        /* Not well formed (for the oracles) when it claims more than 4 MiB
         * of records: spares the harness a 256 MiB buffer. */
        if (b.records_size <= (4u << 20) &&
            cano__batch_validate(p + pos, n - pos, &b, &scratch, &cap) ==
            CANO_OK) {
            cano__rec_iter it;
            cano_record r;
            cano_header *hdrs = NULL;
            size_t hcap = 0;
            if (cano__rec_iter_init(&it, p + pos, &b, &scratch, &cap) ==
                CANO_OK)
                while (cano__rec_next(&it, &r, &hdrs, &hcap) == 1)
                    mx = r.timestamp > mx ? r.timestamp : mx;
            free(hdrs);
        }
        if (mx != b.max_ts || b.max_ts < 0)
            s->well_formed = false;
        if (!s->any)
            s->first = b.base_offset;
        s->any = true;
        s->next = fz_sat_add(b.base_offset, (int64_t)b.last_delta + 1);
        s->max_ts = b.max_ts > s->max_ts ? b.max_ts : s->max_ts;
        pos += b.length;
    }
    s->well_formed &= s->ordered;
    free(scratch);
}

/* The .log image of a section after the fixes the control bytes ask for. */
static uint8_t *build_log(section sec, int64_t base, const uint8_t *ctl,
                          bool last, size_t *n_out, seg_scan *scan)
{
    size_t n = sec.n;
    if ((ctl[0] & A_FIXHDR) && n < CANO__SEG_HEADER)
        n = CANO__SEG_HEADER;
    if (ctl[0] & A_PAGE)
        n = (n + PAGE - 1) / PAGE * PAGE;
    uint8_t *p = calloc(1, n ? n : 1);
    FZ_CHECK(p, "out of memory");
    if (sec.n)
        memcpy(p, sec.p, sec.n);
    if ((ctl[0] & A_FIXSUM) && n > CANO__SEG_HEADER)
        fz_fix_batch_sums(p + CANO__SEG_HEADER, n - CANO__SEG_HEADER);
    scan_log(p, n, base, scan);
    if (ctl[0] & A_FIXHDR) {
        cano__seg_header h;
        h.flushed_len = cano__ld64(p + 24);
        h.flushed_next = (int64_t)cano__ld64(p + 32);
        h.flushed_max_ts = (int64_t)cano__ld64(p + 40);
        h.state = cano__ld32(p + 48);
        h.log_max_ts = (int64_t)cano__ld64(p + 56);
        if (ctl[0] & A_FIXLEN)
            h.flushed_len = n - CANO__SEG_HEADER;
        if (ctl[8] & 1)
            h.state = last ? CANO__SEG_ACTIVE : CANO__SEG_SEALED;
        if (ctl[8] & 2)
            h.flushed_next = scan->next;
        if (ctl[8] & 4)
            h.flushed_max_ts = scan->max_ts;
        if (ctl[8] & 8)
            h.log_max_ts = -1;
        cano__seg_header_encode(p, base, &h);
    }
    *n_out = n;
    return p;
}

static void write_opt(const char *dir, const char *name, section sec)
{
    if (!sec.n)
        return;
    char path[2100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, sec.p, sec.n);
}

/* Section 15: "<name>\n<bytes>", the name limited to a safe alphabet. */
static void write_extra(const char *dir, section sec)
{
    const uint8_t *nl = memchr(sec.p, '\n', sec.n);
    if (!nl || nl == sec.p || nl - sec.p > 64)
        return;
    char name[80];
    size_t k = (size_t)(nl - sec.p);
    for (size_t i = 0; i < k; i++) {
        char c = (char)sec.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
              c == '+'))
            return;
        name[i] = c;
    }
    name[k] = '\0';
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return;
    section body = { nl + 1, sec.n - k - 1 };
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, body.p, body.n);
}

static void gen_config(const char *dir, unsigned k, bool offsets_topic)
{
    cano_topic_config cfg;
    cano_topic_config_init(&cfg, sizeof cfg);
    static const int64_t intervals[] = { 4096, 0, 64, 256 };
    static const int64_t seg_bytes[] = { 1 << 30, 256, 4096, 65536 };
    if (offsets_topic) {
        cfg.cleanup_policy = CANO_CLEANUP_COMPACT;
        cfg.segment_bytes = 16 << 20;
        cfg.sync_mode = CANO_SYNC_ALWAYS;
    } else {
        cfg.cleanup_policy = (k & 1) ? CANO_CLEANUP_COMPACT : 0;
        if (k & 2)
            cfg.cleanup_policy |= CANO_CLEANUP_DELETE;
        if (!cfg.cleanup_policy)
            cfg.cleanup_policy = CANO_CLEANUP_DELETE;
        cfg.compression = (k & 4) ? CANO_COMPRESSION_ZLIB
                                  : CANO_COMPRESSION_NONE;
        cfg.timestamp_type = (k & 8) ? CANO_TIMESTAMP_LOG_APPEND_TIME
                                     : CANO_TIMESTAMP_CREATE_TIME;
        cfg.index_interval_bytes = intervals[(k >> 4) & 3];
        cfg.segment_bytes = seg_bytes[(k >> 6) & 3];
        cfg.sync_mode = CANO_SYNC_NONE;
    }
    int rc = cano__config_write(dir, &cfg, 0644);
    FZ_CHECK(rc == CANO_OK, "config_write: %s", cano_last_errmsg());
}

/* topic.conf from the input; a checksum line is added when the last line
 * is not one.  Returns the partition count it declares (or 1). */
static int32_t write_config(const char *dir, section sec)
{
    size_t n = sec.n;
    size_t end = n && sec.p[n - 1] == '\n' ? n - 1 : n, start = end;
    while (start && sec.p[start - 1] != '\n')
        start--;
    bool has_sum = end - start >= 9 && !memcmp(sec.p + start, "checksum=", 9);
    char *text = malloc(n + 32);
    FZ_CHECK(text, "out of memory");
    if (n)
        memcpy(text, sec.p, n);
    if (!has_sum) {
        if (n && text[n - 1] != '\n')
            text[n++] = '\n';
        n += (size_t)sprintf(text + n, "checksum=%016" PRIx64 "\n",
                             (uint64_t)XXH3_64bits(text, n));
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/topic.conf", dir);
    write_file(path, text, n);
    cano_topic_config cfg;
    char groups[1025];
    int32_t parts = 1;
    if (cano__config_parse(text, n, &cfg, groups) == CANO_OK)
        parts = cfg.partitions;
    free(text);
    return parts;
}

/* ---- reading ---- */

typedef struct rsum {
    int64_t  off, ts;
    uint64_t h;               /* the whole record */
    uint64_t kh;              /* the key */
    bool     has_key, has_value;
} rsum;

typedef struct rlist {
    rsum   *v;
    size_t  n, cap;
    int     rc;               /* first error, or 0 */
    bool    capped;
    int64_t start, end;
    int32_t partition;
    int64_t want;             /* the offset the callback expects at least */
} rlist;

static void rlist_free(rlist *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void hash_bytes(XXH3_state_t *st, const void *p, size_t n, bool present)
{
    uint64_t len = present ? (uint64_t)n : UINT64_MAX;
    XXH3_64bits_update(st, &len, sizeof len);
    if (present && n)
        XXH3_64bits_update(st, p, n);
}

static rsum summarize(const cano_record *r)
{
    rsum s = { r->offset, r->timestamp, 0, 0, r->key != NULL,
               r->value != NULL };
    XXH3_state_t *st = XXH3_createState();
    FZ_CHECK(st, "out of memory");
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, &r->timestamp, sizeof r->timestamp);
    hash_bytes(st, r->key, r->key_len, r->key != NULL);
    hash_bytes(st, r->value, r->value_len, r->value != NULL);
    uint64_t nh = r->header_count;
    XXH3_64bits_update(st, &nh, sizeof nh);
    for (size_t i = 0; i < r->header_count; i++) {
        hash_bytes(st, r->headers[i].name, r->headers[i].name_len, true);
        hash_bytes(st, r->headers[i].value, r->headers[i].value_len,
                   r->headers[i].value != NULL);
    }
    s.h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    s.kh = r->key ? XXH3_64bits(r->key, r->key_len) : 0;
    return s;
}

static void check_record(const cano_record *r, int64_t start, int64_t end,
                         int32_t partition)
{
    FZ_CHECK(r->offset >= start && r->offset < end,
             "record offset %lld outside [%lld, %lld)", (long long)r->offset,
             (long long)start, (long long)end);
    FZ_CHECK(r->partition == partition, "partition %d", r->partition);
    FZ_CHECK(r->key || !r->key_len, "NULL key with a length");
    FZ_CHECK(r->value || !r->value_len, "NULL value with a length");
    FZ_CHECK(r->headers || !r->header_count, "NULL headers");
    if (r->key)
        fz_touch(r->key, r->key_len);
    if (r->value)
        fz_touch(r->value, r->value_len);
    for (size_t i = 0; i < r->header_count; i++) {
        FZ_CHECK(r->headers[i].name || !r->headers[i].name_len,
                 "NULL header name");
        fz_touch(r->headers[i].name, r->headers[i].name_len);
        if (r->headers[i].value)
            fz_touch(r->headers[i].value, r->headers[i].value_len);
    }
}

static int read_cb(void *ctx, const cano_record *r)
{
    rlist *l = ctx;
    check_record(r, l->start, l->end, l->partition);
    FZ_CHECK(r->offset >= l->want, "record %lld before the offset asked "
             "for or a previous record (%lld)", (long long)r->offset,
             (long long)l->want);
    l->want = r->offset + 1;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        FZ_CHECK(l->v, "out of memory");
    }
    l->v[l->n++] = summarize(r);
    return 0;
}

static bool rc_known(int rc)
{
    return rc <= 0 && rc >= CANO_ESEQUENCE;
}

/* Reads the whole partition with cano_read, in chunks. */
static void read_all(cano_topic_t *t, int32_t p, rlist *l)
{
    memset(l, 0, sizeof *l);
    l->partition = p;
    cano_partition_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    int rc = cano_partition_stat(t, p, &info);
    FZ_CHECK(rc_known(rc), "partition_stat returned %d", rc);
    if (rc != CANO_OK) {
        l->rc = rc;
        return;
    }
    FZ_CHECK(info.start_offset >= 0 && info.start_offset <= info.end_offset &&
             info.durable_offset <= info.end_offset && info.segments >= 1 &&
             info.bytes >= 0 && info.dirty_ratio >= 0.0 &&
             info.dirty_ratio <= 1.0, "partition_stat: start %lld end %lld "
             "durable %lld segments %lld bytes %lld ratio %g",
             (long long)info.start_offset, (long long)info.end_offset,
             (long long)info.durable_offset, (long long)info.segments,
             (long long)info.bytes, info.dirty_ratio);
    l->start = info.start_offset;
    l->end = info.end_offset;
    if (getenv("CANO_FUZZ_DEBUG"))
        fprintf(stderr, "fuzz_store: partition %d: [%lld, %lld) %lld "
                "segments, %lld bytes, durable %lld, max_ts %lld\n", p,
                (long long)info.start_offset, (long long)info.end_offset,
                (long long)info.segments, (long long)info.bytes,
                (long long)info.durable_offset,
                (long long)info.max_timestamp);
    int64_t off = l->start;
    l->want = off;
    while (l->n < MAX_READ) {
        rc = cano_read(t, p, off, 512, read_cb, l);
        FZ_CHECK(rc_known(rc) || rc > 0, "cano_read returned %d", rc);
        if (rc < 0) {
            l->rc = rc;
            return;
        }
        if (rc == 0)
            return;
        off = l->v[l->n - 1].off + 1;
    }
    l->capped = true;
}

static const rsum *find_off(const rlist *l, int64_t off)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < l->n && l->v[lo].off == off ? &l->v[lo] : NULL;
}

static bool same_rsum(const rsum *a, const rsum *b)
{
    return a->off == b->off && a->ts == b->ts && a->h == b->h;
}

/* A reader sees what cano_read saw; seeks land where they should. */
static void exercise_reader(cano_topic_t *t, int32_t p, const rlist *l,
                            bool ordered)
{
    cano_reader_t *r = NULL;
    int rc = cano_reader_open(t, p, CANO_OFFSET_EARLIEST, &r);
    FZ_CHECK(rc_known(rc), "reader_open returned %d", rc);
    if (rc != CANO_OK)
        return;
    cano_record rec;
    size_t i = 0;
    for (; i < 256; i++) {
        rc = cano_reader_next(r, &rec, 0);
        FZ_CHECK(rc_known(rc), "reader_next returned %d", rc);
        if (rc != CANO_OK)
            break;
        check_record(&rec, l->start, l->end, p);
        if (i < l->n) {
            rsum s = summarize(&rec);
            FZ_CHECK(same_rsum(&s, &l->v[i]), "reader record %zu (offset "
                     "%lld) differs from cano_read's (offset %lld)", i,
                     (long long)rec.offset, (long long)l->v[i].off);
        }
        int64_t pos = cano_reader_position(r);
        FZ_CHECK(pos == rec.offset + 1, "reader position %lld after %lld",
                 (long long)pos, (long long)rec.offset);
    }
    /* When batches are out of offset order (damage), the reader may step
     * over other batches than cano_read did: the first read rebuilds a
     * damaged sealed index from such a .log, and the rebuilt one sends a
     * later cursor elsewhere.  Only ordered logs must agree. */
    if (ordered && i < l->n && l->rc == 0)
        FZ_CHECK(i == 256, "reader stopped (%d) after %zu of %zu records", rc,
                 i, l->n);
    /* In a store whose segments overlap, a seek may land in another copy
     * of an offset than the one a sequential read returned. */
    if (l->n && ordered) {
        const rsum *mid = &l->v[l->n / 2];
        rc = cano_reader_seek(r, mid->off);
        FZ_CHECK(rc == CANO_OK, "seek to %lld: %d", (long long)mid->off, rc);
        rc = cano_reader_next(r, &rec, 0);
        FZ_CHECK(rc_known(rc), "reader_next returned %d", rc);
        if (rc == CANO_OK) {
            rsum s = summarize(&rec);
            FZ_CHECK(same_rsum(&s, mid), "after a seek to %lld the reader "
                     "returned %lld", (long long)mid->off,
                     (long long)rec.offset);
        }
        /* An offset in a gap reads as the next record. */
        if (mid->off > l->start && (l->n / 2 == 0 ||
                                    l->v[l->n / 2 - 1].off < mid->off - 1)) {
            rc = cano_reader_seek(r, mid->off - 1);
            if (rc == CANO_OK && cano_reader_next(r, &rec, 0) == CANO_OK)
                FZ_CHECK(rec.offset == mid->off, "gap at %lld read as %lld",
                         (long long)(mid->off - 1), (long long)rec.offset);
        }
    }
    rc = cano_reader_seek(r, CANO_OFFSET_LATEST);
    FZ_CHECK(rc == CANO_OK, "seek to the end: %d", rc);
    rc = cano_reader_next(r, &rec, 0);
    FZ_CHECK(rc == CANO_ETIMEDOUT || (rc < 0 && rc_known(rc)),
             "a record past the end: %d", rc);
    rc = cano_reader_set_flags(r, CANO_READER_DURABLE);
    FZ_CHECK(rc == CANO_OK, "set_flags: %d", rc);
    if (cano_reader_seek(r, CANO_OFFSET_EARLIEST) == CANO_OK) {
        rc = cano_reader_next(r, &rec, 0);
        FZ_CHECK(rc_known(rc), "reader_next returned %d", rc);
        if (rc == CANO_OK)
            check_record(&rec, l->start, l->end, p);
    }
    if (l->end < INT64_MAX)
        FZ_CHECK(cano_reader_seek(r, l->end + 1) == CANO_EOFFSET,
                 "seek past the end accepted");
    cano_reader_close(r);
}

/* cano_offset_for_time: always a sane answer; the exact one when exact. */
static void exercise_time(cano_topic_t *t, int32_t p, const rlist *l,
                          bool exact)
{
    int64_t tss[8];
    size_t n = 0;
    tss[n++] = 0;
    tss[n++] = INT64_MIN;
    tss[n++] = INT64_MAX;
    if (l->n) {
        tss[n++] = l->v[0].ts;
        tss[n++] = l->v[l->n / 2].ts;
        tss[n++] = l->v[l->n - 1].ts;
        tss[n++] = fz_sat_add(l->v[l->n / 3].ts, 1);
    }
    for (size_t i = 0; i < n; i++) {
        int64_t got = -1;
        int rc = cano_offset_for_time(t, p, tss[i], &got);
        FZ_CHECK(rc_known(rc), "offset_for_time returned %d", rc);
        if (rc != CANO_OK)
            continue;
        FZ_CHECK(got >= l->start && got <= l->end, "offset_for_time(%lld) = "
                 "%lld outside [%lld, %lld]", (long long)tss[i],
                 (long long)got, (long long)l->start, (long long)l->end);
        if (!exact)
            continue;
        int64_t want = l->end;
        for (size_t k = 0; k < l->n; k++)
            if (l->v[k].ts >= tss[i]) {
                want = l->v[k].off;
                break;
            }
        FZ_CHECK(got == want, "offset_for_time(%lld) = %lld, want %lld",
                 (long long)tss[i], (long long)got, (long long)want);
    }
}

/* ---- the oracles ---- */

/* Compaction only removes records: everything after was there before. */
static void check_subset(const rlist *before, const rlist *after)
{
    if (before->capped || after->capped)
        return;
    for (size_t i = 0; i < after->n; i++) {
        const rsum *a = &after->v[i];
        const rsum *b = find_off(before, a->off);
        if (!b && before->rc != 0)
            continue;          /* the first read stopped early */
        FZ_CHECK(b, "after compaction offset %lld appeared", (long long)a->off);
        FZ_CHECK(same_rsum(a, b), "compaction changed the record at %lld",
                 (long long)a->off);
    }
    if (before->rc == 0)
        FZ_CHECK(after->rc == 0, "the partition read fine before compaction "
                 "but fails after it: %d (%s)", after->rc, cano_last_errmsg());
}

static int cmp_key_off(const void *x, const void *y)
{
    const rsum *a = *(const rsum *const *)x, *b = *(const rsum *const *)y;
    if (a->kh != b->kh)
        return a->kh < b->kh ? -1 : 1;
    return (a->off > b->off) - (a->off < b->off);
}

/* On a well-formed store the latest record of each key survives. */
static void check_latest_kept(const rlist *before, const rlist *after)
{
    if (before->capped || after->capped || before->rc || after->rc)
        return;
    const rsum **v = malloc((before->n ? before->n : 1) * sizeof *v);
    FZ_CHECK(v, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < before->n; i++)
        if (before->v[i].has_key)
            v[n++] = &before->v[i];
    qsort(v, n, sizeof *v, cmp_key_off);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && v[i + 1]->kh == v[i]->kh)
            continue;               /* not the latest of its key */
        if (!v[i]->has_value)
            continue;               /* tombstones may go */
        FZ_CHECK(find_off(after, v[i]->off), "compaction removed the latest "
                 "record of its key, at offset %lld", (long long)v[i]->off);
    }
    free(v);
}

static void same_lists(const rlist *a, const rlist *b, const char *what)
{
    FZ_CHECK(a->start == b->start && a->end == b->end,
             "%s: [%lld, %lld) then [%lld, %lld)", what, (long long)a->start,
             (long long)a->end, (long long)b->start, (long long)b->end);
    if (a->capped || b->capped)
        return;
    FZ_CHECK(a->rc == b->rc, "%s: read ended with %d then %d", what, a->rc,
             b->rc);
    FZ_CHECK(a->n == b->n, "%s: %zu records then %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        FZ_CHECK(same_rsum(&a->v[i], &b->v[i]), "%s: record %zu (offset "
                 "%lld) differs", what, i, (long long)a->v[i].off);
}

/* ---- the run ---- */

static int rep_cb(const cano_recovery_info *info, void *payload)
{
    (void)payload;
    FZ_CHECK(info->topic && info->bytes_scanned >= 0 && info->bytes_cut >= 0,
             "recovery report");
    return 0;
}

static int list_cb(const char *name, void *payload)
{
    (void)payload;
    fz_touch(name, strlen(name));
    return 0;
}

static int group_cb(const cano_group_info *g, void *payload)
{
    (void)payload;
    fz_touch(g->group, strlen(g->group));
    fz_touch(g->topic, strlen(g->topic));
    return 0;
}

static void append_some(cano_topic_t *t, const uint8_t *ctl)
{
    unsigned k = ctl[9];
    size_t n = (k & 3) + 1;
    cano_record recs[4];
    cano_header h = { "h", 1, ctl + 14, 2 };
    memset(recs, 0, sizeof recs);
    for (size_t i = 0; i < n; i++) {
        recs[i].key = ctl + 10;
        recs[i].key_len = 2;
        recs[i].value = (k & 4) && i == n - 1 ? NULL : ctl + 12;
        recs[i].value_len = recs[i].value ? 4 : 0;
        recs[i].headers = (k & 8) ? &h : NULL;
        recs[i].header_count = (k & 8) ? 1 : 0;
        recs[i].timestamp = (k & 16) ? (int64_t)fz_rd_u16(ctl + 10) : 0;
    }
    int64_t first = -1;
    int rc = (k & 32)
        ? cano_append_idempotent(t, 0, ctl[13], ctl[12], recs, n, &first)
        : cano_append_batch(t, 0, recs, n, &first);
    FZ_CHECK(rc_known(rc), "append returned %d", rc);
    if (rc == CANO_OK) {
        /* A retry of the same batch appends nothing and says where it is. */
        int64_t again = -1;
        if (k & 32) {
            rc = cano_append_idempotent(t, 0, ctl[13], ctl[12], recs, n,
                                        &again);
            FZ_CHECK(rc != CANO_OK || again == first, "idempotent retry "
                     "landed at %lld, first at %lld", (long long)again,
                     (long long)first);
        }
    }
}

static void exercise_other(cano_t *db, const char *name)
{
    cano_topic_t *t;
    if (cano_topic_open(db, name, &t) != CANO_OK)
        return;
    int32_t np = cano_topic_partitions(t);
    for (int32_t p = 0; p < np && p < 4; p++) {
        rlist l;
        read_all(t, p, &l);
        exercise_time(t, p, &l, false);
        rlist_free(&l);
    }
}

static void run(const char *dir, const uint8_t *ctl, bool ordered,
                bool well_formed, bool exact_time)
{
    static const int64_t map_bytes[] = { 64, 256, 4096, 1 << 20 };
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = (ctl[7] & 8) ? CANO_SYNC_ALWAYS : CANO_SYNC_NONE;
    o.max_open_files = (ctl[7] & 4) ? 16 : 0;
    o.cleaner_map_bytes = map_bytes[ctl[7] & 3];
    cano_t *db = NULL;
    int rc = cano_open(dir, &o, &db);
    FZ_CHECK(rc_known(rc), "cano_open returned %d", rc);
    if (getenv("CANO_FUZZ_DEBUG"))
        fprintf(stderr, "fuzz_store: cano_open: %d %s (actions 0x%02x, "
                "options 0x%02x, append 0x%02x)\n", rc, cano_last_errmsg(),
                ctl[0], ctl[7], ctl[9]);
    if (rc != CANO_OK) {
        FZ_CHECK(!db, "cano_open failed but set *out");
        return;
    }
    FZ_CHECK(cano_recovery_report(db, rep_cb, NULL) >= 0, "recovery_report");
    FZ_CHECK(cano_topic_list(db, list_cb, NULL) >= 0, "topic_list");
    FZ_CHECK(cano_group_list(db, group_cb, NULL) >= 0, "group_list");

    rlist last = { 0 };
    bool have_last = false;
    cano_topic_t *t = NULL;
    if (cano_topic_open(db, "t", &t) == CANO_OK) {
        if (ctl[0] & A_APPEND)
            append_some(t, ctl);
        rlist before, after;
        read_all(t, 0, &before);
        exercise_reader(t, 0, &before, ordered);
        exercise_time(t, 0, &before, exact_time && before.rc == 0 &&
                      !before.capped);
        rc = cano_compact(t, 0);
        FZ_CHECK(rc_known(rc), "cano_compact returned %d", rc);
        if (getenv("CANO_FUZZ_DEBUG"))
            fprintf(stderr, "fuzz_store: cano_compact: %d %s\n", rc,
                    cano_last_errmsg());
        read_all(t, 0, &after);
        if (ordered)
            check_subset(&before, &after);
        if (rc == CANO_OK && well_formed)
            check_latest_kept(&before, &after);
        if (rc == CANO_OK)
            exercise_time(t, 0, &after, exact_time && after.rc == 0 &&
                          !after.capped);
        rlist_free(&before);
        last = after;
        if (ctl[0] & A_MAINTAIN) {
            rc = cano_maintain(db);
            FZ_CHECK(rc_known(rc), "cano_maintain returned %d", rc);
            rlist_free(&last);
            read_all(t, 0, &last);
        }
        have_last = true;
        int32_t np = cano_topic_partitions(t);
        for (int32_t p = 1; p < np && p < 4; p++) {
            rlist l;
            read_all(t, p, &l);
            rlist_free(&l);
        }
    }
    exercise_other(db, CANO__OFFSETS_TOPIC);
    rc = cano_close(db);
    FZ_CHECK(rc_known(rc), "cano_close returned %d", rc);

    /* A clean close keeps everything as it was. */
    if (rc == CANO_OK && have_last) {
        rc = cano_open(dir, &o, &db);
        FZ_CHECK(rc == CANO_OK, "reopen after a clean close failed: %d (%s)",
                 rc, cano_last_errmsg());
        FZ_CHECK(cano_topic_open(db, "t", &t) == CANO_OK, "topic lost");
        rlist again;
        read_all(t, 0, &again);
        /* Damage too: a reopen treats it as the first open did. */
        same_lists(&last, &again, "reopen");
        rlist_free(&again);
        rc = cano_close(db);
        FZ_CHECK(rc_known(rc), "cano_close returned %d", rc);
    }
    rlist_free(&last);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > STORE_MAX_INPUT)
        return 0;
    init_base();
    uint8_t ctl[CTL] = { 0 };
    memcpy(ctl, data, size < CTL ? size : CTL);
    section secs[N_SECTIONS];
    memset(secs, 0, sizeof secs);
    if (size > CTL) {
        const uint8_t *p = data + CTL, *end = data + size;
        for (int i = 0; i < N_SECTIONS && p <= end; i++) {
            const uint8_t *s = memmem(p, (size_t)(end - p), SEP,
                                      sizeof SEP - 1);
            const uint8_t *e = s ? s : end;
            secs[i].p = p;
            secs[i].n = (size_t)(e - p);
            if (!s)
                break;
            p = s + sizeof SEP - 1;
        }
    }

    char store[300], topic[340], part[360], path[1024];
    snprintf(store, sizeof store, "%s/s", base_dir);
    rm_tree(store);
    make_dir(store);
    snprintf(topic, sizeof topic, "%s/t", store);
    snprintf(part, sizeof part, "%s/0", topic);
    make_dir(topic);
    make_dir(part);
    int32_t parts = 1;
    if (ctl[0] & A_GENCONF)
        gen_config(topic, ctl[1], false);
    else
        parts = write_config(topic, secs[S_CONF]);
    for (int32_t p = 1; p < parts && p < 8; p++) {
        snprintf(path, sizeof path, "%s/%d", topic, p);
        make_dir(path);
    }

    /* The segments, in base order; the last one present is the active. */
    int last = -1;
    for (int i = 0; i < 3; i++)
        if (secs[S_SEG + 3 * i].n)
            last = i;
    seg_scan scans[3];
    memset(scans, 0, sizeof scans);
    int64_t base = ctl[6];
    bool ordered = true, well_formed = true, indexes_given = false,
         headers_exact =
        (ctl[0] & A_FIXHDR) && (ctl[0] & A_FIXLEN) && (ctl[8] & 7) == 7;
    int64_t prev_next = -1;
    for (int i = 0; i < 3; i++) {
        section log = secs[S_SEG + 3 * i];
        if (i > 0) {
            uint64_t delta = fz_rd_u16(ctl + 2 + 2 * (i - 1));
            int64_t prev = scans[i - 1].present ? scans[i - 1].next : base;
            base = delta ? fz_sat_add(base, (int64_t)delta)
                         : prev > base ? prev : fz_sat_add(base, 1);
        }
        if (!log.n)
            continue;
        size_t n;
        uint8_t *img = build_log(log, base, ctl, i == last, &n, &scans[i]);
        snprintf(path, sizeof path, "%s/%020" PRId64 ".log", part, base);
        write_file(path, img, n);
        free(img);
        snprintf(path, sizeof path, "%020" PRId64 ".index", base);
        write_opt(part, path, secs[S_SEG + 3 * i + 1]);
        snprintf(path, sizeof path, "%020" PRId64 ".timeindex", base);
        write_opt(part, path, secs[S_SEG + 3 * i + 2]);
        indexes_given |= secs[S_SEG + 3 * i + 1].n || secs[S_SEG + 3 * i + 2].n;
        ordered &= scans[i].ordered && scans[i].first >= base &&
                   (!scans[i].any || scans[i].first > prev_next);
        well_formed &= scans[i].well_formed;
        for (int j = 0; j < i; j++)
            if (scans[j].present)
                ordered &= scans[j].next <= base;
        prev_next = scans[i].next - 1;
    }
    write_opt(part, "log-start-offset", secs[S_START]);
    write_opt(part, "cleaner-offset", secs[S_CLEANER]);
    write_opt(part, "producer-state", secs[S_PRODUCERS]);
    write_opt(part, "compaction.manifest", secs[S_MANIFEST]);
    if (secs[S_EXTRA].n)
        write_extra(part, secs[S_EXTRA]);
    /* A manifest or an extra file (say a .cleaned one) changes the
     * segments at open, so the scan above no longer describes them. */
    ordered &= !secs[S_MANIFEST].n && !secs[S_EXTRA].n;
    well_formed &= ordered && !secs[S_START].n && headers_exact;
    if (secs[S_OFFSETS].n) {
        char odir[600];
        snprintf(odir, sizeof odir, "%s/" CANO__OFFSETS_TOPIC, store);
        make_dir(odir);
        gen_config(odir, 0, true);
        snprintf(odir, sizeof odir, "%s/" CANO__OFFSETS_TOPIC "/0", store);
        make_dir(odir);
        size_t n;
        seg_scan sc;
        uint8_t *img = build_log(secs[S_OFFSETS], 0, ctl, true, &n, &sc);
        snprintf(path, sizeof path, "%s/%020d.log", odir, 0);
        write_file(path, img, n);
        free(img);
    }
    if (ctl[0] & A_CLEAN) {
        snprintf(path, sizeof path, "%s/cano+clean", store);
        write_file(path, "", 0);
    }
    if (getenv("CANO_FUZZ_DEBUG"))
        fprintf(stderr, "fuzz_store: ordered %d well_formed %d exact_time %d\n",
                ordered, well_formed, well_formed && !indexes_given);
    keep_copy(store);
    run(store, ctl, ordered, well_formed, well_formed && !indexes_given);
    rm_tree(store);
    return 0;
}
