/* sys_lmdb.c - LMDB with MDB_NOSYNC (commits reach the OS, no fsync),
 * MDB_APPEND, 8-byte big-endian sequence keys, value = key bytes + value
 * bytes.  One write transaction per append call.  Lookups share one
 * read-only transaction (LMDB's cheapest way to do many reads). */
#define _GNU_SOURCE
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct lm_h {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *rtxn;          /* read transaction for read_at, opened lazily */
    uint64_t next_seq;      /* D1: next key, taken inside the write txn */
} lm_h;

static const char *lm_version(void) { return mdb_version(NULL, NULL, NULL); }

static void lm_check(int rc, const char *what)
{
    if (rc != MDB_SUCCESS)
        fatal("lmdb: %s: %s", what, mdb_strerror(rc));
}

static void *lm_open_flags(const char *dir, uint64_t capacity, unsigned flags)
{
    lm_h *h = xcalloc(1, sizeof *h);
    /* Generous map: ~135 bytes/record on disk plus copy-on-write slack. */
    size_t map = (size_t)capacity * 512 + ((size_t)256 << 20);
    lm_check(mdb_env_create(&h->env), "env_create");
    lm_check(mdb_env_set_mapsize(h->env, map), "set_mapsize");
    lm_check(mdb_env_open(h->env, dir, flags, 0644), "env_open");
    MDB_txn *txn;
    lm_check(mdb_txn_begin(h->env, NULL, 0, &txn), "txn_begin");
    lm_check(mdb_dbi_open(txn, NULL, 0, &h->dbi), "dbi_open");
    lm_check(mdb_txn_commit(txn), "txn_commit");
    return h;
}

static void *lm_open(const char *dir, int mode, uint64_t capacity)
{
    (void)mode;
    return lm_open_flags(dir, capacity, MDB_NOSYNC);
}

static void lm_close(void *hp)
{
    lm_h *h = hp;
    if (h->rtxn)
        mdb_txn_abort(h->rtxn);
    mdb_env_close(h->env);
    free(h);
}

static void lm_put(lm_h *h, MDB_txn *txn, uint64_t i)
{
    unsigned char kb[8];
    be64(kb, i);
    MDB_val k = { 8, kb }, v = { REC_LEN, (void *)rec_key(i) };
    lm_check(mdb_put(txn, h->dbi, &k, &v, MDB_APPEND), "put");
}

static void lm_append_batch(void *hp, uint64_t first, size_t n)
{
    lm_h *h = hp;
    MDB_txn *txn;
    lm_check(mdb_txn_begin(h->env, NULL, 0, &txn), "txn_begin");
    for (size_t k = 0; k < n; k++)
        lm_put(h, txn, first + k);
    lm_check(mdb_txn_commit(txn), "txn_commit");
}

static void lm_append_one(void *hp, uint64_t i)
{
    lm_append_batch(hp, i, 1);
}

/* D1: default flags (a commit syncs), a write txn per record; LMDB runs one
 * write txn at a time, so the key taken inside it increases (MDB_APPEND). */
static void *lm_open_durable(const char *dir, uint64_t capacity)
{
    return lm_open_flags(dir, capacity, 0);
}

static void lm_append_durable(void *hp, uint64_t i)
{
    lm_h *h = hp;
    MDB_txn *txn;
    unsigned char kb[8];
    lm_check(mdb_txn_begin(h->env, NULL, 0, &txn), "txn_begin");
    be64(kb, h->next_seq++);
    MDB_val k = { 8, kb }, v = { REC_LEN, (void *)rec_key(i) };
    lm_check(mdb_put(txn, h->dbi, &k, &v, MDB_APPEND), "put");
    lm_check(mdb_txn_commit(txn), "txn_commit");
}

static uint64_t lm_count(void *hp)
{
    lm_h *h = hp;
    MDB_stat st;
    lm_check(mdb_env_stat(h->env, &st), "env_stat");
    return st.ms_entries;
}

static void lm_verify(uint64_t i, const MDB_val *k, const MDB_val *v)
{
    if (k->mv_size != 8 || get_be64(k->mv_data) != i)
        verify_fail("lmdb", i, "sequence key differs");
    if (v->mv_size != REC_LEN)
        verify_fail("lmdb", i, "value size differs");
    const unsigned char *p = v->mv_data;
    verify_rec("lmdb", i, p, KEY_LEN, p + KEY_LEN, VAL_LEN);
}

static uint64_t lm_read_all(void *hp)
{
    lm_h *h = hp;
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t next = 0;
    lm_check(mdb_txn_begin(h->env, NULL, MDB_RDONLY, &txn), "txn_begin");
    lm_check(mdb_cursor_open(txn, h->dbi, &c), "cursor_open");
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        lm_verify(next++, &k, &v);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND)
        lm_check(rc, "cursor_get");
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return next;
}

static void lm_read_at(void *hp, uint64_t off)
{
    lm_h *h = hp;
    if (!h->rtxn)
        lm_check(mdb_txn_begin(h->env, NULL, MDB_RDONLY, &h->rtxn), "txn_begin");
    unsigned char kb[8];
    be64(kb, off);
    MDB_val k = { 8, kb }, v;
    int rc = mdb_get(h->rtxn, h->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        verify_fail("lmdb", off, "record not found");
    lm_check(rc, "get");
    lm_verify(off, &k, &v);
}

const bench_sys sys_lmdb = {
    .name = "lmdb",
    .settings = "MDB_NOSYNC (no fsync), MDB_APPEND, 8-byte big-endian keys, a write txn "
                "per append call, one read txn shared by all lookups",
    .version = lm_version,
    .open = lm_open,
    .close = lm_close,
    .append_one = lm_append_one,
    .append_batch = lm_append_batch,
    .read_all = lm_read_all,
    .read_at = lm_read_at,
    .open_durable = lm_open_durable,
    .append_durable = lm_append_durable,
    .count_durable = lm_count,
    .durable_settings = "default flags (each commit syncs), MDB_APPEND, a write txn per record "
                        "(LMDB serialises write txns)",
};
