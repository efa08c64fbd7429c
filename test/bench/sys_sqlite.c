/* sys_sqlite.c - SQLite in WAL mode with synchronous=NORMAL (the usual
 * setting: no fsync per commit; checkpoints fsync).  Table
 * log(seq INTEGER PRIMARY KEY, k BLOB, v BLOB); one transaction per append
 * call (autocommit for single records, BEGIN..COMMIT around a batch);
 * prepared statements; default page cache. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct sq_h {
    sqlite3 *db;
    sqlite3_stmt *ins, *get, *begin, *commit;
    pthread_mutex_t lock;       /* D1: the threads share the connection */
} sq_h;

static const char *sq_version(void) { return sqlite3_libversion(); }

static void sq_check(sq_h *h, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        fatal("sqlite: %s: %s", what, h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc));
}

static void sq_exec(sq_h *h, const char *sql)
{
    sq_check(h, sqlite3_exec(h->db, sql, NULL, NULL, NULL), sql);
}

static sqlite3_stmt *sq_prepare(sq_h *h, const char *sql)
{
    sqlite3_stmt *st = NULL;
    sq_check(h, sqlite3_prepare_v2(h->db, sql, -1, &st, NULL), sql);
    return st;
}

static void *sq_open(const char *dir, int mode, uint64_t capacity)
{
    (void)capacity;
    char path[PATH_MAX];
    sq_h *h = xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    xpath(path, sizeof path, "%s/log.sqlite", dir);
    int flags = SQLITE_OPEN_READWRITE | (mode == OPEN_NEW ? SQLITE_OPEN_CREATE : 0);
    sq_check(h, sqlite3_open_v2(path, &h->db, flags, NULL), path);
    sq_exec(h, "PRAGMA journal_mode=WAL");
    sq_exec(h, "PRAGMA synchronous=NORMAL");
    if (mode == OPEN_NEW)
        sq_exec(h, "CREATE TABLE log(seq INTEGER PRIMARY KEY, k BLOB NOT NULL, v BLOB NOT NULL)");
    h->ins = sq_prepare(h, "INSERT INTO log(seq, k, v) VALUES (?, ?, ?)");
    h->get = sq_prepare(h, "SELECT k, v FROM log WHERE seq = ?");
    h->begin = sq_prepare(h, "BEGIN");
    h->commit = sq_prepare(h, "COMMIT");
    return h;
}

static void sq_close(void *hp)
{
    sq_h *h = hp;
    pthread_mutex_destroy(&h->lock);
    sqlite3_finalize(h->ins);
    sqlite3_finalize(h->get);
    sqlite3_finalize(h->begin);
    sqlite3_finalize(h->commit);
    sq_check(h, sqlite3_close(h->db), "close");
    free(h);
}

static void sq_step_done(sq_h *h, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        sq_check(h, rc == SQLITE_ROW ? SQLITE_ERROR : rc, what);
    sqlite3_reset(st);
}

static void sq_insert(sq_h *h, uint64_t i)
{
    sqlite3_bind_int64(h->ins, 1, (sqlite3_int64)i);
    sqlite3_bind_blob(h->ins, 2, rec_key(i), KEY_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(h->ins, 3, rec_val(i), VAL_LEN, SQLITE_STATIC);
    sq_step_done(h, h->ins, "insert");
}

static void sq_append_one(void *hp, uint64_t i)
{
    sq_insert(hp, i);
}

static void sq_append_batch(void *hp, uint64_t first, size_t n)
{
    sq_h *h = hp;
    sq_step_done(h, h->begin, "BEGIN");
    for (size_t k = 0; k < n; k++)
        sq_insert(h, first + k);
    sq_step_done(h, h->commit, "COMMIT");
}

/* D1: synchronous=FULL (WAL: the WAL is fsynced at every commit), one
 * autocommit transaction per record, the connection shared under a mutex
 * (one writer at a time is all SQLite allows anyway). */
static void *sq_open_durable(const char *dir, uint64_t capacity)
{
    sq_h *h = sq_open(dir, OPEN_NEW, capacity);
    sq_exec(h, "PRAGMA synchronous=FULL");
    return h;
}

static void sq_append_durable(void *hp, uint64_t i)
{
    sq_h *h = hp;
    pthread_mutex_lock(&h->lock);
    sq_insert(h, i);
    pthread_mutex_unlock(&h->lock);
}

static uint64_t sq_count(void *hp)
{
    sq_h *h = hp;
    sqlite3_stmt *st = sq_prepare(h, "SELECT count(*) FROM log");
    if (sqlite3_step(st) != SQLITE_ROW)
        sq_check(h, SQLITE_ERROR, "count");
    uint64_t n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static uint64_t sq_read_all(void *hp)
{
    sq_h *h = hp;
    sqlite3_stmt *st = sq_prepare(h, "SELECT seq, k, v FROM log ORDER BY seq");
    uint64_t next = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((uint64_t)sqlite3_column_int64(st, 0) != next)
            verify_fail("sqlite", next, "sequence number differs");
        const void *k = sqlite3_column_blob(st, 1);
        int kl = sqlite3_column_bytes(st, 1);
        const void *v = sqlite3_column_blob(st, 2);
        int vl = sqlite3_column_bytes(st, 2);
        verify_rec("sqlite", next, k, (size_t)kl, v, (size_t)vl);
        next++;
    }
    sq_check(h, rc, "scan");
    sqlite3_finalize(st);
    return next;
}

static void sq_read_at(void *hp, uint64_t off)
{
    sq_h *h = hp;
    sqlite3_bind_int64(h->get, 1, (sqlite3_int64)off);
    int rc = sqlite3_step(h->get);
    if (rc != SQLITE_ROW) {
        sq_check(h, rc, "lookup");
        verify_fail("sqlite", off, "record not found");
    }
    const void *k = sqlite3_column_blob(h->get, 0);
    int kl = sqlite3_column_bytes(h->get, 0);
    const void *v = sqlite3_column_blob(h->get, 1);
    int vl = sqlite3_column_bytes(h->get, 1);
    verify_rec("sqlite", off, k, (size_t)kl, v, (size_t)vl);
    sqlite3_reset(h->get);
}

const bench_sys sys_sqlite = {
    .name = "sqlite",
    .settings = "journal_mode=WAL, synchronous=NORMAL (no fsync per commit; checkpoints "
                "fsync), seq INTEGER PRIMARY KEY, a transaction per append call, "
                "prepared statements, default cache",
    .version = sq_version,
    .open = sq_open,
    .close = sq_close,
    .append_one = sq_append_one,
    .append_batch = sq_append_batch,
    .read_all = sq_read_all,
    .read_at = sq_read_at,
    .open_durable = sq_open_durable,
    .append_durable = sq_append_durable,
    .count_durable = sq_count,
    .durable_settings = "journal_mode=WAL, synchronous=FULL (WAL fsynced at every commit), "
                        "a transaction per record, one connection shared under a mutex",
};
