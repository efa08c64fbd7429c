/* gen_seeds.c - writes the seed corpora of the fuzz targets from real data
 * made by the library: batches encoded by its codec, index files and
 * topic.conf files of real stores, and whole small stores packed in the
 * input format of fuzz_store.c.  Hand-made edge cases are added too.
 *
 *   gen_seeds DIR      writes DIR/{batch,index,config,store}/gen-*
 *
 * Run by `make seeds`; the output is checked in, so the corpus only changes
 * when this program (or the format) does. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz_common.h"
#include "index.h"
#include "segment.h"
#include "topic.h"

static const char *out_dir;
static int n_written;

#define DIE(...) do { fprintf(stderr, "gen_seeds: " __VA_ARGS__); \
                      fputc('\n', stderr); exit(1); } while (0)
#define OK(call) do { int rc_ = (call); if (rc_ != CANO_OK) \
    DIE("%s:%d: %s = %d (%s)", __FILE__, __LINE__, #call, rc_, \
        cano_last_errmsg()); } while (0)

/* ---- buffers and files ---- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap)
            b->cap = b->cap ? b->cap * 2 : 256;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            DIE("out of memory");
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_str(buf *b, const char *s) { put(b, s, strlen(s)); }
static void put_u8(buf *b, uint8_t v) { put(b, &v, 1); }

static void emit(const char *target, const char *name, const void *p,
                 size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/gen-%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f))
        DIE("%s: %s", path, strerror(errno));
    n_written++;
}

static bool read_file(const char *path, buf *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t tmp[8192];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0)
        put(out, tmp, got);
    fclose(f);
    if (!out->p)
        put(out, "", 0);
    return true;
}

static int rm_one(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)st; (void)f; (void)w;
    remove(p);
    return 0;
}

static void rm_tree(const char *p) { nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* ---- batches ---- */

/* Encodes records as the append path does. */
static buf encode(const cano_record *recs, size_t n, int64_t base,
                  bool append_ts, int64_t pid, int32_t seq)
{
    cano__batch_params bp = { base, 1700000000000, append_ts, pid, seq };
    int64_t max_ts;
    uint64_t rsize = cano__records_size(recs, n, &bp, &max_ts, NULL);
    buf b = { 0 };
    b.cap = b.n = CANO__BATCH_HEADER + rsize;
    b.p = calloc(1, b.n);
    cano__batch_write(b.p, recs, n, &bp, rsize, max_ts, NULL);
    return b;
}

static buf deflated(const buf *plain)
{
    buf d = { 0 };
    d.cap = plain->n;
    d.p = malloc(d.cap);
    d.n = cano__batch_deflate(plain->p, d.p, d.cap, 6);
    return d;                   /* n == 0: it did not get smaller */
}

static void emit_batch(const char *name, unsigned mode, const buf *b1,
                       const buf *b2)
{
    buf o = { 0 };
    put_u8(&o, (uint8_t)mode);
    put(&o, b1->p, b1->n);
    if (b2)
        put(&o, b2->p, b2->n);
    emit("batch", name, o.p, o.n);
    free(o.p);
}

static size_t slen(const char *s) { return s ? strlen(s) : 0; }
#define REC(k, v) { k, slen(k), v, slen(v), NULL, 0, 0, 0, 0 }

static void gen_batches(void)
{
    cano_header hs[3] = {
        { "trace", 5, "abc123", 6 }, { "", 0, "", 0 }, { "null", 4, NULL, 0 },
    };
    cano_record one[1] = { REC("key", "value") };
    cano_record mixed[6] = {
        REC("k1", "hello"), REC(NULL, "keyless"), REC("k2", NULL),
        REC("", ""), REC("k3", "with headers"), REC("k1", "again"),
    };
    mixed[4].headers = hs;
    mixed[4].header_count = 3;
    mixed[0].timestamp = 1700000000000;
    mixed[1].timestamp = 1600000000000;     /* out of order: allowed */
    mixed[2].timestamp = 1700000000500;
    cano_record many[40];
    char keys[40][8], vals[40][40];
    for (int i = 0; i < 40; i++) {
        snprintf(keys[i], sizeof keys[i], "key%02d", i % 7);
        snprintf(vals[i], sizeof vals[i], "value value value value %d", i);
        cano_record r = REC(keys[i], vals[i]);
        many[i] = r;
        many[i].timestamp = 1700000000000 + i * 10;
    }

    buf b1 = encode(one, 1, 0, false, -1, -1);
    emit_batch("plain-one", 0, &b1, NULL);
    emit_batch("plain-one-fixsum", 1, &b1, NULL);
    buf bm = encode(mixed, 6, 42, false, -1, -1);
    emit_batch("mixed-headers-tombstone", 0, &bm, NULL);
    emit_batch("mixed-fixsum", 1, &bm, NULL);
    buf ba = encode(mixed, 6, 1000, true, -1, -1);
    emit_batch("log-append-time", 0, &ba, NULL);
    buf bi = encode(many, 10, 7, false, 12345, 99);
    emit_batch("idempotent", 0, &bi, NULL);
    buf bz = encode(many, 40, 100, false, -1, -1);
    buf z = deflated(&bz);
    if (!z.n)
        DIE("40 similar records did not compress");
    emit_batch("zlib", 0, &z, NULL);
    emit_batch("zlib-fixsum", 1, &z, NULL);
    emit_batch("raw-for-deflate", 4, &bz, NULL);
    emit_batch("two-batches", 0, &b1, &bm);
    /* Two batches as in a log: the second follows the first's offsets. */
    buf b2 = encode(mixed, 6, 1, false, -1, -1);
    emit_batch("log-pair", 1, &b1, &b2);

    /* The cleaner's re-encoding: survivors with gaps and a delete horizon. */
    cano__batch_info info;
    uint8_t *scratch = NULL;
    size_t cap = 0;
    OK(cano__batch_validate(bm.p, bm.n, &info, &scratch, &cap));
    cano__rec_iter it;
    cano_record rr[6], r;
    cano_header *hdrs = NULL;
    size_t hcap = 0, k = 0;
    OK(cano__rec_iter_init(&it, bm.p, &info, &scratch, &cap));
    while (cano__rec_next(&it, &r, &hdrs, &hcap) == 1)
        if (r.offset != 42 && r.offset != 45 && r.header_count == 0)
            rr[k++] = r;        /* headers are views: keep headerless ones */
    buf bh = { 0 };
    bh.n = bh.cap = cano__batch_rewrite_size(rr, k, &info, 1800000000000);
    bh.p = malloc(bh.n);
    cano__batch_rewrite(bh.p, rr, k, &info, 1800000000000);
    emit_batch("compacted-horizon", 0, &bh, NULL);
    buf bhz = deflated(&bh);
    if (bhz.n)
        emit_batch("compacted-horizon-zlib", 0, &bhz, NULL);
    free(hdrs);
    free(scratch);

    /* Hand-made edges. */
    uint8_t zero[64] = { 0 };
    buf bz64 = { zero, 64, 64 };
    emit_batch("edge-zero-header", 0, &bz64, NULL);
    buf torn = { b1.p, b1.n - 3, b1.n };
    emit_batch("edge-torn", 0, &torn, NULL);
    buf hdr_only = { 0 };
    put(&hdr_only, b1.p, 64);
    cano__st32(hdr_only.p + 8, 64);
    cano__st32(hdr_only.p + 60, 0);
    emit_batch("edge-header-only", 1, &hdr_only, NULL);
    /* A zlib batch that claims 256 MiB of records: the inflate buffer. */
    buf big = { 0 };
    put(&big, z.p, z.n);
    cano__st32(big.p + 60, 256u << 20);
    emit_batch("edge-zlib-256mib", 1, &big, NULL);
    /* Varints at their limits: a 10-byte length and an overlong key. */
    buf vb = { 0 };
    put(&vb, b1.p, 64);
    static const uint8_t rec[] = {
        0x0d, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x01, 0x00, 0x01, 0x01, 0x00,
    };
    put(&vb, rec, sizeof rec);
    emit_batch("edge-varint-limits", 3, &vb, NULL);
    /* Timestamps at the ends of int64: the deltas wrap. */
    cano_record ext[2] = { REC("a", "1"), REC("b", "2") };
    ext[0].timestamp = 1;
    ext[1].timestamp = INT64_MAX;
    buf be = encode(ext, 2, 0, false, -1, -1);
    emit_batch("edge-ts-extremes", 0, &be, NULL);
    cano__st64(be.p + 24, (uint64_t)INT64_MIN);
    emit_batch("edge-ts-overflow", 1, &be, NULL);

    free(b1.p); free(bm.p); free(ba.p); free(bi.p); free(bz.p); free(z.p);
    free(b2.p); free(bh.p); free(bhz.p); free(hdr_only.p); free(big.p);
    free(vb.p); free(be.p);
}

/* ---- stores ---- */

typedef struct gen_store {
    char dir[256];
    cano_t *db;
    cano_topic_t *t;
} gen_store;

static void store_open(gen_store *s, const cano_topic_config *cfg)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/cano-seeds-XXXXXX");
    if (!mkdtemp(s->dir))
        DIE("mkdtemp: %s", strerror(errno));
    strcat(s->dir, "/s");
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = CANO_SYNC_NONE;
    OK(cano_open(s->dir, &o, &s->db));
    OK(cano_topic_create(s->db, "t", cfg));
    OK(cano_topic_open(s->db, "t", &s->t));
}

static void store_close(gen_store *s)
{
    if (s->db)
        OK(cano_close(s->db));
    s->db = NULL;
}

static void store_free(gen_store *s)
{
    store_close(s);
    char *slash = strrchr(s->dir, '/');
    *slash = '\0';
    rm_tree(s->dir);
}

static void append_n(gen_store *s, int n, int keys, int vsize, int tomb_every)
{
    for (int i = 0; i < n; i++) {
        char key[16], val[128];
        snprintf(key, sizeof key, "k%d", i % keys);
        int vl = snprintf(val, sizeof val, "v%d-", i);
        while (vl < vsize && vl < (int)sizeof val - 1)
            val[vl++] = (char)('a' + i % 26);
        cano_record r = { key, strlen(key), val, (size_t)vl, NULL, 0,
                          1700000000000 + i * 1000, 0, 0 };
        if (tomb_every && i % tomb_every == tomb_every - 1) {
            r.value = NULL;
            r.value_len = 0;
        }
        OK(cano_append(s->t, 0, &r, NULL, NULL));
    }
}

/* The segments of a partition directory, sorted by base. */
static int list_bases(const char *dir, int64_t *bases, int max)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len == 24 && !strcmp(e->d_name + 20, ".log")) {
            if (n == max)
                DIE("more than %d segments in %s", max, dir);
            bases[n++] = strtoll(e->d_name, NULL, 10);
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && bases[j - 1] > bases[j]; j--) {
            int64_t t = bases[j];
            bases[j] = bases[j - 1];
            bases[j - 1] = t;
        }
    return n;
}

enum { A_CLEAN = 1, A_FIXHDR = 2, A_FIXLEN = 4, A_FIXSUM = 8, A_PAGE = 16,
       A_GENCONF = 32, A_APPEND = 64, A_MAINTAIN = 128 };
#define SEP "#SEC#"

typedef struct pack {
    uint8_t ctl[16];
    buf sec[16];
    bool have[16];
} pack;

static void pack_set(pack *pk, int i, const void *p, size_t n)
{
    free(pk->sec[i].p);
    memset(&pk->sec[i], 0, sizeof pk->sec[i]);
    put(&pk->sec[i], p, n);
    pk->have[i] = true;
}

static void pack_file(pack *pk, int i, const char *path)
{
    buf b;
    if (read_file(path, &b)) {
        free(pk->sec[i].p);
        pk->sec[i] = b;
        pk->have[i] = true;
    }
}

/* Reads the store's topic "t", partition 0 (at most 3 segments), into a
 * pack; the bases go into the control bytes. */
static void pack_store(pack *pk, const char *store)
{
    memset(pk, 0, sizeof *pk);
    char path[512], part[400];
    snprintf(path, sizeof path, "%s/t/topic.conf", store);
    pack_file(pk, 0, path);
    snprintf(part, sizeof part, "%s/t/0", store);
    int64_t bases[3];
    int n = list_bases(part, bases, 3);
    if (n == 0)
        DIE("no segments in %s", part);
    if (bases[0] > 255)
        DIE("base %" PRId64 " too large", bases[0]);
    pk->ctl[6] = (uint8_t)bases[0];
    static const char *const sfx[] = { "log", "index", "timeindex" };
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            int64_t d = bases[i] - bases[i - 1];
            if (d <= 0 || d > 65535)
                DIE("segment gap %" PRId64, d);
            pk->ctl[2 + 2 * (i - 1)] = (uint8_t)d;
            pk->ctl[3 + 2 * (i - 1)] = (uint8_t)(d >> 8);
        }
        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/%020" PRId64 ".%s", part,
                     bases[i], sfx[f]);
            pack_file(pk, 1 + 3 * i + f, path);
        }
    }
    static const char *const aux[] = { "log-start-offset", "cleaner-offset",
                                       "producer-state",
                                       "compaction.manifest" };
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", part, aux[i]);
        pack_file(pk, 10 + i, path);
    }
    snprintf(path, sizeof path, "%s/__consumer_offsets/0/%020d.log", store, 0);
    pack_file(pk, 14, path);
}

static void emit_pack(const char *name, const pack *pk)
{
    buf o = { 0 };
    put(&o, pk->ctl, sizeof pk->ctl);
    int last = -1;
    for (int i = 0; i < 16; i++)
        if (pk->have[i])
            last = i;
    for (int i = 0; i <= last; i++) {
        if (i)
            put_str(&o, SEP);
        if (pk->have[i])
            put(&o, pk->sec[i].p, pk->sec[i].n);
    }
    if (o.n > 65536)
        DIE("store seed %s is %zu bytes", name, o.n);
    emit("store", name, o.p, o.n);
    free(o.p);
}

static void pack_free(pack *pk)
{
    for (int i = 0; i < 16; i++)
        free(pk->sec[i].p);
    memset(pk, 0, sizeof *pk);
}

/* Emits a store twice: as it is, and with the harness's fixes on (headers,
 * lengths, checksums recomputed), which keeps mutated inputs loadable and
 * turns on the oracles that need a well-formed store. */
static void emit_both(const char *name, pack *pk, uint8_t flags)
{
    char n2[128];
    pk->ctl[0] = flags;
    pk->ctl[7] = 2;                     /* cleaner map of 4096 bytes */
    emit_pack(name, pk);
    snprintf(n2, sizeof n2, "%s-fixed", name);
    pk->ctl[0] = flags | A_FIXHDR | A_FIXLEN | A_FIXSUM;
    pk->ctl[8] = 7;
    emit_pack(n2, pk);
    /* Without index files the library builds its own, and the harness
     * can check cano_offset_for_time exactly. */
    bool had[16];
    memcpy(had, pk->have, sizeof had);
    for (int i = 1; i < 10; i++)
        if (i % 3 != 1)
            pk->have[i] = false;
    snprintf(n2, sizeof n2, "%s-fixed-noindex", name);
    emit_pack(n2, pk);
    memcpy(pk->have, had, sizeof had);
    pk->ctl[8] = 0;
}

/* Copies the index and config files of a store into the other corpora. */
static void emit_index_files(const char *name, const char *store)
{
    char part[400], path[512];
    snprintf(part, sizeof part, "%s/t/0", store);
    int64_t bases[3];
    int n = list_bases(part, bases, 3);
    for (int i = 0; i < n && i < 2; i++) {
        static const char *const sfx[] = { "index", "timeindex", "log" };
        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/%020" PRId64 ".%s", part, bases[i],
                     sfx[f]);
            buf file;
            if (!read_file(path, &file))
                continue;
            if (f == 2 && file.n > CANO__SEG_HEADER)
                file.n = CANO__SEG_HEADER;   /* just the .log header */
            uint8_t prm[28];
            uint64_t log_size = 0;
            struct stat st;
            snprintf(path, sizeof path, "%s/%020" PRId64 ".log", part,
                     bases[i]);
            if (stat(path, &st) == 0)
                log_size = (uint64_t)st.st_size;
            cano__st32(prm, (uint32_t)log_size);
            cano__st32(prm + 4, 1000);
            cano__st64(prm + 8, 1700000000000 + 1000000);
            cano__st32(prm + 16, 17);
            cano__st64(prm + 20, 1700000030000);
            buf o = { 0 };
            put(&o, prm, sizeof prm);
            put(&o, file.p, file.n);
            char nm[128];
            snprintf(nm, sizeof nm, "%s-seg%d-%s", name, i, sfx[f]);
            emit("index", nm, o.p, o.n);
            free(o.p);
            free(file.p);
        }
    }
    snprintf(path, sizeof path, "%s/t/topic.conf", store);
    buf conf;
    if (read_file(path, &conf)) {
        buf o = { 0 };
        put_u8(&o, 0);
        put(&o, conf.p, conf.n);
        emit("config", name, o.p, o.n);
        o.p[0] = 1;                      /* mutations keep a right checksum */
        char nm[128];
        snprintf(nm, sizeof nm, "%s-fixsum", name);
        emit("config", nm, o.p, o.n);
        free(o.p);
        free(conf.p);
    }
}

static void gen_stores(void)
{
    cano_topic_config cfg;
    gen_store s;
    pack pk;

    /* Plain: three segments, sparse indexes, closed cleanly. */
    cano_topic_config_init(&cfg, sizeof cfg);
    cfg.segment_bytes = 2048;
    cfg.index_interval_bytes = 256;
    cfg.sync_mode = CANO_SYNC_NONE;
    store_open(&s, &cfg);
    append_n(&s, 60, 10, 20, 0);
    store_close(&s);
    pack_store(&pk, s.dir);
    emit_both("plain", &pk, A_CLEAN);
    pk.ctl[9] = 0x0b;                    /* append 4 records with headers */
    pk.ctl[10] = 'k';
    pk.ctl[11] = '1';
    memcpy(pk.ctl + 12, "vvvv", 4);
    emit_both("plain-append", &pk, A_CLEAN | A_APPEND);
    pk.ctl[9] = 0;
    emit_both("plain-unclean", &pk, 0);
    emit_both("plain-maintain", &pk, A_CLEAN | A_MAINTAIN);
    emit_index_files("plain", s.dir);
    pack_free(&pk);
    store_free(&s);

    /* Crashed: the files as they are while the store is open (preallocated
     * with zeros, header flush point behind the data). */
    cfg.max_batch_bytes = 2048;      /* preallocation stops at 4 KiB */
    store_open(&s, &cfg);
    append_n(&s, 50, 10, 20, 0);
    pack_store(&pk, s.dir);
    emit_both("open-files", &pk, 0);
    emit_index_files("open-files", s.dir);
    pack_free(&pk);
    store_free(&s);

    /* Compacted topic with tombstones, after a compaction (horizons,
     * gaps, merged segments, cleaner-offset). */
    cano_topic_config_init(&cfg, sizeof cfg);
    cfg.cleanup_policy = CANO_CLEANUP_COMPACT;
    cfg.segment_bytes = 2048;
    cfg.index_interval_bytes = 128;
    cfg.sync_mode = CANO_SYNC_NONE;
    store_open(&s, &cfg);
    append_n(&s, 50, 4, 10, 5);
    OK(cano_compact(s.t, 0));
    store_close(&s);
    pack_store(&pk, s.dir);
    emit_both("compacted", &pk, A_CLEAN);
    pk.ctl[9] = 0x05;                    /* append 2, the last a tombstone */
    pk.ctl[10] = 'k';
    pk.ctl[11] = '2';
    emit_both("compacted-append", &pk, A_CLEAN | A_APPEND);
    emit_index_files("compacted", s.dir);
    pack_free(&pk);
    store_free(&s);

    /* Compacted, not compacted yet: the harness compacts it. */
    store_open(&s, &cfg);
    append_n(&s, 45, 5, 12, 7);
    store_close(&s);
    pack_store(&pk, s.dir);
    emit_both("compact-dirty", &pk, A_CLEAN);
    pk.ctl[7] = 0;
    pk.ctl[0] = A_CLEAN | A_FIXHDR | A_FIXLEN | A_FIXSUM;
    pk.ctl[8] = 7;
    emit_pack("compact-dirty-tiny-map", &pk);   /* 64-byte map: many passes */
    pack_free(&pk);
    store_free(&s);

    /* zlib batches with log-append time, and idempotent producers. */
    cano_topic_config_init(&cfg, sizeof cfg);
    cfg.compression = CANO_COMPRESSION_ZLIB;
    cfg.timestamp_type = CANO_TIMESTAMP_LOG_APPEND_TIME;
    cfg.segment_bytes = 1024;
    cfg.index_interval_bytes = 0;
    cfg.sync_mode = CANO_SYNC_NONE;
    store_open(&s, &cfg);
    for (int i = 0; i < 12; i++) {
        cano_record recs[5];
        char val[5][64];
        for (int k = 0; k < 5; k++) {
            snprintf(val[k], sizeof val[k], "zlib value %d %d repeated "
                     "repeated repeated", i, k);
            cano_record r = REC("zk", val[k]);
            recs[k] = r;
        }
        OK(cano_append_idempotent(s.t, 0, 7 + i % 2, i / 2 * 5, recs, 5,
                                  NULL));
    }
    store_close(&s);
    pack_store(&pk, s.dir);
    emit_both("zlib-idempotent", &pk, A_CLEAN);
    pk.ctl[9] = 0x20;                    /* an idempotent append */
    pk.ctl[12] = 30;
    pk.ctl[13] = 7;
    emit_both("zlib-idempotent-append", &pk, A_CLEAN | A_APPEND);
    emit_index_files("zlib", s.dir);
    pack_free(&pk);
    store_free(&s);

    /* Retention: a log start inside the first segment, consumer groups. */
    cano_topic_config_init(&cfg, sizeof cfg);
    cfg.segment_bytes = 2048;
    cfg.index_interval_bytes = 64;
    cfg.sync_mode = CANO_SYNC_NONE;
    cfg.retention_groups = "g1,g2";
    store_open(&s, &cfg);
    append_n(&s, 60, 60, 8, 0);
    OK(cano_delete_records(s.t, 0, 30));
    OK(cano_commit(s.db, "g1", "t", 0, 35));
    OK(cano_commit(s.db, "g2", "t", 0, 50));
    OK(cano_commit(s.db, "g1", "t", 0, 40));
    store_close(&s);
    pack_store(&pk, s.dir);
    emit_both("retention-groups", &pk, A_CLEAN);
    emit_both("retention-groups-maintain", &pk, A_CLEAN | A_MAINTAIN);
    emit_index_files("retention", s.dir);
    pack_free(&pk);
    store_free(&s);
}

/* Inputs written by hand around one real store. */
static void gen_store_edges(void)
{
    cano_topic_config cfg;
    cano_topic_config_init(&cfg, sizeof cfg);
    cfg.segment_bytes = 2048;
    cfg.index_interval_bytes = 128;
    cfg.cleanup_policy = CANO_CLEANUP_COMPACT;
    cfg.sync_mode = CANO_SYNC_NONE;
    gen_store s;
    pack pk;
    store_open(&s, &cfg);
    append_n(&s, 40, 6, 16, 0);
    store_close(&s);
    pack_store(&pk, s.dir);

    /* A committed compaction to finish at open. */
    pack e = pk;
    static const char manifest[] = "cano-compaction=1\nold 0\nnew 0\n";
    pack_set(&e, 13, manifest, sizeof manifest - 1);
    char extra[4096];
    int n = snprintf(extra, sizeof extra, "%020d.log.cleaned\n", 0);
    memcpy(extra + n, pk.sec[1].p, pk.sec[1].n);
    pack_set(&e, 15, extra, (size_t)n + pk.sec[1].n);
    e.ctl[0] = A_CLEAN;
    emit_pack("edge-manifest", &e);
    e.sec[13].p = NULL;
    e.sec[15].p = NULL;

    /* A half-created newest segment, as a crash during a roll leaves. */
    pk.ctl[0] = 0;
    uint8_t zeros[100] = { 0 };
    buf keep = pk.sec[7];
    bool had = pk.have[7];
    pk.sec[7].p = zeros;
    pk.sec[7].n = sizeof zeros;
    pk.have[7] = true;
    emit_pack("edge-half-created", &pk);
    pk.sec[7] = keep;
    pk.have[7] = had;

    /* Page-aligned logs: reads past the data fault instead of reading
     * zeros; every header fixed so the clean load trusts the sizes. */
    pk.ctl[0] = A_CLEAN | A_FIXHDR | A_FIXLEN | A_FIXSUM | A_PAGE;
    pk.ctl[8] = 7;
    emit_pack("edge-page-aligned", &pk);

    /* Junk state files. */
    pack j = pk;
    pk.ctl[0] = A_CLEAN;
    j.ctl[0] = A_CLEAN;
    static const char start[] = "cano-log-start=1\n99999999\n";
    static const char cleaner[] = "cano-cleaner=1\n-5\n";
    static const char prod[] = "cano-producers=1\n3\n1 2147483647 4294967295 "
                               "9223372036854775807\n-1 -1 0 -1\n";
    buf s0 = j.sec[10], s1 = j.sec[11], s2 = j.sec[12];
    bool h0 = j.have[10], h1 = j.have[11], h2 = j.have[12];
    memset(&j.sec[10], 0, 3 * sizeof j.sec[10]);
    pack_set(&j, 10, start, sizeof start - 1);
    pack_set(&j, 11, cleaner, sizeof cleaner - 1);
    pack_set(&j, 12, prod, sizeof prod - 1);
    emit_pack("edge-state-files", &j);
    for (int i = 10; i < 13; i++)
        free(j.sec[i].p);
    j.sec[10] = s0; j.sec[11] = s1; j.sec[12] = s2;
    j.have[10] = h0; j.have[11] = h1; j.have[12] = h2;

    /* Generated configs (control byte 1) over the same segments. */
    for (unsigned k = 0; k < 4; k++) {
        static const uint8_t knobs[] = { 0x01, 0x57, 0x9d, 0xe3 };
        pk.ctl[0] = A_CLEAN | A_GENCONF | A_FIXHDR | A_FIXLEN | A_FIXSUM |
                    (k & 1 ? A_APPEND : A_MAINTAIN);
        pk.ctl[1] = knobs[k];
        pk.ctl[8] = 7;
        pk.ctl[9] = (uint8_t)(k * 9);
        pk.ctl[10] = 'k';
        pk.ctl[11] = '3';
        char nm[64];
        snprintf(nm, sizeof nm, "edge-genconf-%u", k);
        emit_pack(nm, &pk);
    }
    pack_free(&pk);
    store_free(&s);

    /* Nothing but control bytes; a store with just a config. */
    uint8_t ctl[16] = { A_GENCONF };
    emit("store", "edge-empty", ctl, sizeof ctl);
    static const char conf_only[] =
        "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
        "cano-topic-config=1\npartitions=2\nsegment_bytes=1073741824\n"
        "segment_ms=604800000\nindex_interval_bytes=4096\n"
        "max_record_bytes=1048576\nmax_batch_bytes=4194304\n"
        "compression=none\ncompression_level=6\ntimestamp_type=create-time\n"
        "sync_mode=none\ncleanup_policy=delete\nretention_ms=604800000\n"
        "retention_bytes=-1\ndelete_retention_ms=86400000\n"
        "min_compaction_lag_ms=0\nmax_compaction_lag_ms=-1\n"
        "min_cleanable_dirty_ratio=0.5\nretention_groups=\n"
        "retention_groups_max_bytes=-1\n";
    emit("store", "edge-config-only", conf_only, sizeof conf_only - 1);
}

static void gen_config_edges(void)
{
    static const char *const cases[][2] = {
        { "empty", "" },
        { "no-newline", "cano-topic-config=1" },
        { "bad-line", "cano-topic-config=1\nno equals sign\n" },
        { "nul", "cano-topic-config=1\npartitions=1\0\n" },
        { "unknown-key", "cano-topic-config=1\nfrobnicate=1\n" },
        { "numbers", "cano-topic-config=1\npartitions=-0\nsegment_bytes="
          "9223372036854775807\nretention_ms=-9223372036854775808\n"
          "min_cleanable_dirty_ratio=1e-320\ncompression_level=2147483648\n" },
        { "ratio-nan", "cano-topic-config=1\nmin_cleanable_dirty_ratio=nan\n" },
        { "checksum-only", "checksum=2d06800538d394c2\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        buf o = { 0 };
        put_u8(&o, 1);
        put(&o, cases[i][1], strlen(cases[i][1]) +
            (!strcmp(cases[i][0], "nul") ? 16 : 0));
        char nm[64];
        snprintf(nm, sizeof nm, "edge-%s", cases[i][0]);
        emit("config", nm, o.p, o.n);
        free(o.p);
    }
    /* retention_groups at 1024 characters, and one over. */
    for (int len = 1024; len <= 1025; len++) {
        buf o = { 0 };
        put_u8(&o, 1);
        cano_topic_config cfg;
        cano_topic_config_init(&cfg, sizeof cfg);
        char *g = malloc((size_t)len + 1);
        memset(g, 'g', (size_t)len);
        g[len] = '\0';
        char tmp[] = "/tmp/cano-seeds-conf-XXXXXX";
        if (!mkdtemp(tmp))
            DIE("mkdtemp");
        cfg.retention_groups = g;
        if (len == 1024) {
            OK(cano__config_write(tmp, &cfg, 0644));
        } else {
            cfg.retention_groups = NULL;
            OK(cano__config_write(tmp, &cfg, 0644));
        }
        char path[256];
        snprintf(path, sizeof path, "%s/topic.conf", tmp);
        buf conf;
        if (!read_file(path, &conf))
            DIE("%s", path);
        if (len == 1025) {
            /* Splice the too-long list in; FIXSUM mode re-signs it. */
            char *at = memmem(conf.p, conf.n, "retention_groups=\n", 18);
            size_t pre = (size_t)(at - (char *)conf.p) + 17;
            put(&o, conf.p, pre);
            put(&o, g, (size_t)len);
            put(&o, conf.p + pre, conf.n - pre);
        } else {
            put(&o, conf.p, conf.n);
        }
        char nm[64];
        snprintf(nm, sizeof nm, "edge-groups-%d", len);
        emit("config", nm, o.p, o.n);
        free(o.p);
        free(conf.p);
        free(g);
        rm_tree(tmp);
    }
}

static void gen_index_edges(void)
{
    uint8_t prm[28] = { 0 };
    cano__st32(prm, 100000);
    cano__st32(prm + 4, 100000);
    cano__st64(prm + 8, INT64_MAX);
    buf o = { 0 };
    put(&o, prm, sizeof prm);
    emit("index", "edge-empty", o.p, o.n);
    uint8_t hdr[16];
    cano__idx_header(hdr, CANO__OIDX_MAGIC, 0);
    put(&o, hdr, 16);
    emit("index", "edge-header-only", o.p, o.n);
    /* Entries out of order, a zero entry, then more. */
    uint8_t e[8 * 6];
    uint32_t rels[] = { 5, 9, 7, 0, 12, 30 }, poss[] = { 200, 400, 300, 0,
                                                         500, 900 };
    for (int i = 0; i < 6; i++)
        cano__oidx_put(e, (uint32_t)i, rels[i], poss[i]);
    put(&o, e, sizeof e);
    emit("index", "edge-unsorted-offsets", o.p, o.n);
    free(o.p);
    memset(&o, 0, sizeof o);
    put(&o, prm, sizeof prm);
    cano__idx_header(hdr, CANO__TIDX_MAGIC, 77);
    put(&o, hdr, 16);
    uint8_t t[12 * 5];
    int64_t tss[] = { 10, 10, -5, INT64_MAX, 3 };
    for (int i = 0; i < 5; i++)
        cano__tidx_put(t, (uint32_t)i, tss[i], (uint32_t)(i + 1));
    put(&o, t, sizeof t);
    put(&o, "xyz", 3);                  /* a torn entry at the end */
    emit("index", "edge-time-dups-torn", o.p, o.n);
    free(o.p);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        DIE("usage: gen_seeds DIR");
    out_dir = argv[1];
    static const char *const sub[] = { "batch", "index", "config", "store" };
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", out_dir, sub[i]);
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            DIE("%s: %s", path, strerror(errno));
    }
    gen_batches();
    gen_stores();
    gen_store_edges();
    gen_config_edges();
    gen_index_edges();
    printf("gen_seeds: %d files written under %s\n", n_written, out_dir);
    return 0;
}
