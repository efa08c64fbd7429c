/* sys_rocksdb.c - RocksDB through its C API with default options, WAL on,
 * sync=false (the WAL is written to the OS on every write, no fsync);
 * 8-byte big-endian sequence keys, value = key bytes + value bytes.
 * Single puts, and WriteBatches of 100. */
#define _GNU_SOURCE
#include <limits.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct rk_h {
    rocksdb_t *db;
    rocksdb_options_t *opt;
    rocksdb_writeoptions_t *wo;
    rocksdb_readoptions_t *ro;
    rocksdb_writebatch_t *wb;
} rk_h;

/* The C API has no version call; the Makefile reads rocksdb/version.h. */
#ifndef BENCH_ROCKSDB_VERSION
#define BENCH_ROCKSDB_VERSION "unknown"
#endif
static const char *rk_version(void) { return BENCH_ROCKSDB_VERSION; }

static void rk_check(char *err, const char *what)
{
    if (err)
        fatal("rocksdb: %s: %s", what, err);
}

static void *rk_open(const char *dir, int mode, uint64_t capacity)
{
    (void)capacity;
    char path[PATH_MAX], *err = NULL;
    rk_h *h = xcalloc(1, sizeof *h);
    xpath(path, sizeof path, "%s/db", dir);
    h->opt = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(h->opt, mode == OPEN_NEW);
    h->db = rocksdb_open(h->opt, path, &err);
    rk_check(err, "open");
    h->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(h->wo, 0);
    rocksdb_writeoptions_disable_WAL(h->wo, 0);
    h->ro = rocksdb_readoptions_create();
    h->wb = rocksdb_writebatch_create();
    return h;
}

static void rk_close(void *hp)
{
    rk_h *h = hp;
    rocksdb_close(h->db);
    rocksdb_writebatch_destroy(h->wb);
    rocksdb_readoptions_destroy(h->ro);
    rocksdb_writeoptions_destroy(h->wo);
    rocksdb_options_destroy(h->opt);
    free(h);
}

static void rk_append_one(void *hp, uint64_t i)
{
    rk_h *h = hp;
    unsigned char kb[8];
    char *err = NULL;
    be64(kb, i);
    rocksdb_put(h->db, h->wo, (const char *)kb, 8, (const char *)rec_key(i), REC_LEN, &err);
    rk_check(err, "put");
}

static void rk_append_batch(void *hp, uint64_t first, size_t n)
{
    rk_h *h = hp;
    char *err = NULL;
    rocksdb_writebatch_clear(h->wb);
    for (size_t k = 0; k < n; k++) {
        unsigned char kb[8];
        be64(kb, first + k);
        rocksdb_writebatch_put(h->wb, (const char *)kb, 8, (const char *)rec_key(first + k),
                               REC_LEN);
    }
    rocksdb_write(h->db, h->wo, h->wb, &err);
    rk_check(err, "write batch");
}

/* D1: the same options with sync=true; Put per record from every thread
 * (RocksDB groups concurrent writers into one WAL write and sync). */
static void *rk_open_durable(const char *dir, uint64_t capacity)
{
    rk_h *h = rk_open(dir, OPEN_NEW, capacity);
    rocksdb_writeoptions_set_sync(h->wo, 1);
    return h;
}

static uint64_t rk_count(void *hp)
{
    rk_h *h = hp;
    rocksdb_iterator_t *it = rocksdb_create_iterator(h->db, h->ro);
    uint64_t n = 0;
    char *err = NULL;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it))
        n++;
    rocksdb_iter_get_error(it, &err);
    rk_check(err, "iterate");
    rocksdb_iter_destroy(it);
    return n;
}

static void rk_verify(uint64_t i, const char *k, size_t kl, const char *v, size_t vl)
{
    if (kl != 8 || get_be64((const unsigned char *)k) != i)
        verify_fail("rocksdb", i, "sequence key differs");
    if (vl != REC_LEN)
        verify_fail("rocksdb", i, "value size differs");
    verify_rec("rocksdb", i, v, KEY_LEN, v + KEY_LEN, VAL_LEN);
}

static uint64_t rk_read_all(void *hp)
{
    rk_h *h = hp;
    rocksdb_iterator_t *it = rocksdb_create_iterator(h->db, h->ro);
    uint64_t next = 0;
    char *err = NULL;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        const char *v = rocksdb_iter_value(it, &vl);
        rk_verify(next++, k, kl, v, vl);
    }
    rocksdb_iter_get_error(it, &err);
    rk_check(err, "iterate");
    rocksdb_iter_destroy(it);
    return next;
}

static void rk_read_at(void *hp, uint64_t off)
{
    rk_h *h = hp;
    unsigned char kb[8];
    char *err = NULL;
    be64(kb, off);
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned(h->db, h->ro, (const char *)kb, 8, &err);
    rk_check(err, "get");
    if (!ps)
        verify_fail("rocksdb", off, "record not found");
    size_t vl;
    const char *v = rocksdb_pinnableslice_value(ps, &vl);
    rk_verify(off, (const char *)kb, 8, v, vl);
    rocksdb_pinnableslice_destroy(ps);
}

const bench_sys sys_rocksdb = {
    .name = "rocksdb",
    .settings = "default options, WAL on, sync=false (no fsync), 8-byte big-endian keys, "
                "Put per record / WriteBatch of 100, pinned gets",
    .version = rk_version,
    .open = rk_open,
    .close = rk_close,
    .append_one = rk_append_one,
    .append_batch = rk_append_batch,
    .read_all = rk_read_all,
    .read_at = rk_read_at,
    .open_durable = rk_open_durable,
    .append_durable = rk_append_one,
    .count_durable = rk_count,
    .durable_settings = "default options, WAL on, sync=true, Put per record from every thread, "
                        "8-byte big-endian keys",
};
