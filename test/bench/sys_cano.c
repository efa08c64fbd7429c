/* sys_cano.c - cano: one store per directory, one topic with one partition,
 * default topic config, store sync mode CANO_SYNC_NONE (appends reach the
 * OS, no fsync).  Sequential reads through cano_read with a callback;
 * random reads through cano_read(t, 0, offset, 1, ...). */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_cano.h"

typedef struct cano_h {
    cano_t *db;
    cano_topic_t *t;
    cano_record batch[BATCH];
} cano_h;

typedef struct read_ctx {
    uint64_t next;          /* offset the next callback must carry */
} read_ctx;

void cano_ck(int rc, const char *what)
{
    if (rc < 0)
        fatal("cano: %s: %s (%s)", what, cano_strerror(rc), cano_last_errmsg());
}

void cano_fill(cano_record *r, uint64_t i)
{
    memset(r, 0, sizeof *r);
    r->key = rec_key(i);
    r->key_len = KEY_LEN;
    r->value = rec_val(i);
    r->value_len = VAL_LEN;
}

void cano_bench_options(cano_options *o, int sync_mode)
{
    cano_ck(cano_options_init(o, sizeof *o), "options_init");
    o->sync_mode = sync_mode;
}

void cano_bench_topic(cano_t *db, int32_t partitions)
{
    cano_topic_config c;
    cano_ck(cano_topic_config_init(&c, sizeof c), "topic_config_init");
    c.partitions = partitions;
    cano_ck(cano_topic_create(db, BENCH_TOPIC, &c), "topic_create");
}

void cano_append_range(cano_topic_t *t, uint64_t from, uint64_t to)
{
    cano_record recs[BATCH];
    for (uint64_t i = from; i < to; i += BATCH) {
        size_t n = to - i < BATCH ? (size_t)(to - i) : BATCH;
        int64_t first = -1;
        for (size_t k = 0; k < n; k++)
            cano_fill(&recs[k], i + k);
        cano_ck(cano_append_batch(t, 0, recs, n, &first), "append_batch");
        if (first != (int64_t)i)
            fatal("cano: append_batch returned first offset %lld, expected %llu",
                  (long long)first, (unsigned long long)i);
    }
}

static int verify_cb(void *ctx, const cano_record *r)
{
    read_ctx *c = ctx;
    if (r->offset != (int64_t)c->next)
        verify_fail("cano", c->next, "offset differs");
    verify_rec("cano", c->next, r->key, r->key_len, r->value, r->value_len);
    c->next++;
    return 0;
}

uint64_t cano_read_verify(cano_topic_t *t, uint64_t from)
{
    read_ctx c = { from };
    for (;;) {
        int n = cano_read(t, 0, (int64_t)c.next, (size_t)1 << 30, verify_cb, &c);
        cano_ck(n, "read");
        if (n == 0)
            break;
    }
    return c.next - from;
}

void cano_read_one(cano_topic_t *t, uint64_t off)
{
    read_ctx c = { off };
    int n = cano_read(t, 0, (int64_t)off, 1, verify_cb, &c);
    cano_ck(n, "read one");
    if (n != 1)
        verify_fail("cano", off, "cano_read returned no record");
}

/* ---- bench_sys operations ---- */

static const char *cn_version(void) { return cano_version(); }

static void *cn_open(const char *dir, int mode, uint64_t capacity)
{
    (void)capacity;
    char path[PATH_MAX];
    cano_options o;
    cano_h *h = xcalloc(1, sizeof *h);
    xpath(path, sizeof path, "%s/store", dir);
    cano_bench_options(&o, CANO_SYNC_NONE);
    cano_ck(cano_open(path, &o, &h->db), "open");
    if (mode == OPEN_NEW)
        cano_bench_topic(h->db, 1);
    cano_ck(cano_topic_open(h->db, BENCH_TOPIC, &h->t), "topic_open");
    return h;
}

static void cn_close(void *hp)
{
    cano_h *h = hp;
    cano_ck(cano_close(h->db), "close");
    free(h);
}

static void cn_append_one(void *hp, uint64_t i)
{
    cano_h *h = hp;
    cano_record r;
    int64_t off = -1;
    cano_fill(&r, i);
    cano_ck(cano_append(h->t, 0, &r, NULL, &off), "append");
    if (off != (int64_t)i)
        fatal("cano: append returned offset %lld, expected %llu", (long long)off,
              (unsigned long long)i);
}

/* D1: a store in CANO_SYNC_ALWAYS, every thread appending to partition 0
 * (the appends of concurrent threads share a sync: group commit). */
static void *open_durable_parts(const char *dir, int32_t partitions)
{
    char path[PATH_MAX];
    cano_options o;
    cano_h *h = xcalloc(1, sizeof *h);
    xpath(path, sizeof path, "%s/store", dir);
    cano_bench_options(&o, CANO_SYNC_ALWAYS);
    cano_ck(cano_open(path, &o, &h->db), "open");
    cano_bench_topic(h->db, partitions);
    cano_ck(cano_topic_open(h->db, BENCH_TOPIC, &h->t), "topic_open");
    return h;
}

static void *cn_open_durable(const char *dir, uint64_t capacity)
{
    (void)capacity;
    return open_durable_parts(dir, 1);
}

static void cn_append_durable(void *hp, uint64_t i)
{
    cano_h *h = hp;
    cano_record r;
    cano_fill(&r, i);
    cano_ck(cano_append(h->t, 0, &r, NULL, NULL), "append (sync always)");
}

static uint64_t cn_count(void *hp)
{
    cano_h *h = hp;
    cano_partition_info info = { .size = sizeof info };
    cano_ck(cano_partition_stat(h->t, 0, &info), "partition_stat");
    if (info.durable_offset != info.end_offset)
        fatal("cano: sync always: durable offset %lld < end offset %lld after every append "
              "returned", (long long)info.durable_offset, (long long)info.end_offset);
    return (uint64_t)info.end_offset;
}

static void cn_append_batch(void *hp, uint64_t first, size_t n)
{
    cano_h *h = hp;
    int64_t got = -1;
    for (size_t k = 0; k < n; k++)
        cano_fill(&h->batch[k], first + k);
    cano_ck(cano_append_batch(h->t, 0, h->batch, n, &got), "append_batch");
    if (got != (int64_t)first)
        fatal("cano: append_batch returned first offset %lld, expected %llu",
              (long long)got, (unsigned long long)first);
}

static uint64_t cn_read_all(void *hp)
{
    return cano_read_verify(((cano_h *)hp)->t, 0);
}

static void cn_read_at(void *hp, uint64_t off)
{
    cano_read_one(((cano_h *)hp)->t, off);
}

const bench_sys sys_cano = {
    .name = "cano",
    .settings = "store sync_mode CANO_SYNC_NONE (no fsync), one topic, 1 partition, "
                "default topic config, timestamp 0 (now), cano_read callback",
    .version = cn_version,
    .open = cn_open,
    .close = cn_close,
    .append_one = cn_append_one,
    .append_batch = cn_append_batch,
    .read_all = cn_read_all,
    .read_at = cn_read_at,
    .open_durable = cn_open_durable,
    .append_durable = cn_append_durable,
    .count_durable = cn_count,
    .durable_settings = "store sync_mode CANO_SYNC_ALWAYS (group commit), one topic, 1 "
                        "partition shared by all threads, cano_append per record",
};

/* D1 across partitions: the same store settings, a topic of D1_PARTS
 * partitions, record i appended to partition i % D1_PARTS, so concurrent
 * threads mostly append to different partitions (different files). */
#define D1_PARTS 8

static void *cnp_open_durable(const char *dir, uint64_t capacity)
{
    (void)capacity;
    return open_durable_parts(dir, D1_PARTS);
}

static void cnp_append_durable(void *hp, uint64_t i)
{
    cano_h *h = hp;
    cano_record r;
    cano_fill(&r, i);
    cano_ck(cano_append(h->t, (int32_t)(i % D1_PARTS), &r, NULL, NULL),
            "append (sync always)");
}

static uint64_t cnp_count(void *hp)
{
    cano_h *h = hp;
    uint64_t n = 0;
    for (int32_t p = 0; p < D1_PARTS; p++) {
        cano_partition_info info = { .size = sizeof info };
        cano_ck(cano_partition_stat(h->t, p, &info), "partition_stat");
        if (info.durable_offset != info.end_offset)
            fatal("cano-8p: durable offset %lld < end offset %lld in partition %d",
                  (long long)info.durable_offset, (long long)info.end_offset, (int)p);
        n += (uint64_t)info.end_offset;
    }
    return n;
}

const bench_sys sys_cano_parts = {
    .name = "cano-8p",
    .settings = "D1 only",
    .version = cn_version,
    .close = cn_close,
    .open_durable = cnp_open_durable,
    .append_durable = cnp_append_durable,
    .count_durable = cnp_count,
    .durable_settings = "as cano, but a topic of 8 partitions and record i appended to "
                        "partition i % 8: concurrent appends go to different files",
};
