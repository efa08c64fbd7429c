/* check_badinput.c - bad arguments to every public function.
 *
 * table:    one row per bad call (NULL handles and pointers, negative and
 *           huge partitions, offsets, sizes and counts, SIZE_MAX lengths
 *           with real pointers, bad names, bad option and config structs).
 *           Each row runs in a forked child (a crash fails that row only)
 *           and must return the code cano.h documents and change nothing
 *           on disk: the whole test directory is listed, with modes, sizes
 *           and content hashes, before and after.
 * deleted:  calls on the handle of a deleted topic.
 * names:    a name with a NUL in the middle is the C string before it.
 * symlinks: symlinks in the store directory (named like a topic, like the
 *           store's own files, like an interrupted create or delete) never
 *           lead the library to write outside the store.
 * modes:    created files and directories get file_mode and dir_mode
 *           (0644 and 0755 by default), with umask 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "testutil.h"

static char root[64];               /* fresh directory per test */
static char store[TU_PATH_MAX];

static void setup(void)
{
    ck_assert_int_eq(tu_mkdtemp(root, sizeof root), 0);
    tu_path(store, "%s/store", root);
}

static void teardown(void)
{
    tu_rmtree(root);
}

/* ------------------------------------------------------------------ */
/* Snapshots of a directory tree                                        */
/* ------------------------------------------------------------------ */

typedef struct bi_snap {
    char **line;        /* "path type mode size hash", sorted */
    size_t n, cap;
} bi_snap;

static bi_snap *snap_target;
static size_t snap_skip;    /* length of the root prefix */

static uint64_t hash_file(const char *path, off_t size)
{
    uint64_t h = 1469598103934665603ULL;
    if (size > (16 << 20))
        return 0;           /* too big to bother: size and mode only */
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return 1;
    unsigned char buf[65536];
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < got; i++)
            h = (h ^ buf[i]) * 1099511628211ULL;
    close(fd);
    return h;
}

static int snap_one(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    bi_snap *s = snap_target;
    char line[TU_PATH_MAX + 128];
    char type = S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l'
              : S_ISREG(st->st_mode) ? 'f' : '?';
    uint64_t h = 0;
    if (type == 'f')
        h = hash_file(path, st->st_size);
    if (type == 'l') {
        char target[TU_PATH_MAX];
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        for (const char *c = target; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    }
    snprintf(line, sizeof line, "%s %c %04o %lld %016" PRIx64,
             strlen(path) > snap_skip ? path + snap_skip : "/", type,
             (unsigned)(st->st_mode & 07777),
             type == 'd' ? 0LL : (long long)st->st_size, h);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->line = realloc(s->line, s->cap * sizeof *s->line);
        if (!s->line)
            abort();
    }
    s->line[s->n++] = strdup(line);
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void snap_take(bi_snap *s, const char *dir)
{
    memset(s, 0, sizeof *s);
    snap_target = s;
    snap_skip = strlen(dir);
    nftw(dir, snap_one, 32, FTW_PHYS);
    qsort(s->line, s->n, sizeof *s->line, cmp_line);
}

static void snap_free(bi_snap *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->line[i]);
    free(s->line);
    memset(s, 0, sizeof *s);
}

/* Describes the first difference into buf; 0 when equal. */
static int snap_diff(const bi_snap *a, const bi_snap *b, char *buf,
                     size_t cap)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1
              : strcmp(a->line[i], b->line[j]);
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        if (c < 0)
            snprintf(buf, cap, "gone or changed: %s%s%s", a->line[i],
                     j < b->n ? "; now: " : "", j < b->n ? b->line[j] : "");
        else
            snprintf(buf, cap, "new or changed: %s", b->line[j]);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The table                                                            */
/* ------------------------------------------------------------------ */

/* Struct with room for an unknown tail after it. */
typedef struct { cano_options o; unsigned char tail[16]; } big_options;
typedef struct { cano_topic_config c; unsigned char tail[16]; }
    big_config;
typedef struct { cano_partition_info i; unsigned char tail[16]; }
    big_info;

typedef struct bi_ctx {
    cano_t *db;
    cano_topic_t *t;        /* "t": 2 partitions, max_record_bytes 1000,
                               max_batch_bytes 2000, 5 records in p0 */
    cano_topic_t *c;        /* "c": compacted */
    cano_topic_t *in;       /* "__consumer_offsets" */
    cano_reader_t *r;       /* on t/0 at offset 1 */
    int64_t end0;           /* end offset of t/0 */
    char fresh[TU_PATH_MAX];        /* does not exist */
    char afile[TU_PATH_MAX];        /* a regular file */
    char noparent[TU_PATH_MAX];     /* its parent does not exist */
    char long250[300], long1000[1100], group256[300], groups1025[1100];
    big_options ob;
    big_config cb;
    big_info ib;
    cano_record rec, recs[4];
    cano_header hdr;
    char big[4096];
    cano_t *db2;
    cano_topic_t *t2;
    cano_reader_t *r2;
    cano_topic_config cfg_out;
    int64_t off;
} bi_ctx;

#define BI_NONE 1000        /* no alternative code */
#define BI_OUT_NOT_RESET 901  /* a failing call left an out value set */
#define BI_MOVED 902          /* a failing seek moved the reader */

static int count_fn(const char *name, void *p) { (void)name; (void)p; return 0; }
static int rec_fn(void *ctx, const cano_record *r) { (void)ctx; (void)r; return 0; }
static int report_fn(const cano_recovery_info *i, void *p)
{ (void)i; (void)p; return 0; }
static int group_fn(const cano_group_info *i, void *p)
{ (void)i; (void)p; return 0; }

static const cano_options *opt_reset(bi_ctx *x)
{
    memset(&x->ob, 0, sizeof x->ob);
    cano_options_init(&x->ob.o, sizeof x->ob.o);
    return &x->ob.o;
}

static const cano_topic_config *cfg_reset(bi_ctx *x)
{
    memset(&x->cb, 0, sizeof x->cb);
    cano_topic_config_init(&x->cb.c, sizeof x->cb.c);
    return &x->cb.c;
}

static const cano_record *rec_reset(bi_ctx *x)
{
    x->rec = tu_rec("key", "value", 0);
    x->hdr.name = "h";
    x->hdr.name_len = 1;
    x->hdr.value = "v";
    x->hdr.value_len = 1;
    for (int i = 0; i < 4; i++)
        x->recs[i] = tu_rec("k", "v", 0);
    return &x->rec;
}

/* One change to a fresh struct, as an expression: OPT(x->ob.o.flags = 2). */
#define OPT(stmt) (opt_reset(x), (void)(stmt), &x->ob.o)
#define CFG(stmt) (cfg_reset(x), (void)(stmt), &x->cb.c)
#define REC(stmt) (rec_reset(x), (void)(stmt), &x->rec)
#define RECS(stmt) (rec_reset(x), (void)(stmt), x->recs)

static int bi_open(bi_ctx *x, const char *dir, const cano_options *o)
{
    x->db2 = (cano_t *)x;
    int rc = cano_open(dir, o, &x->db2);
    if (rc == CANO_OK) {
        cano_close(x->db2);
        return rc;
    }
    return x->db2 ? BI_OUT_NOT_RESET : rc;
}

static int bi_open_null_out(const char *dir)
{
    return cano_open(dir, NULL, NULL);
}

static int bi_topic_open(bi_ctx *x, cano_t *db, const char *name)
{
    x->t2 = (cano_topic_t *)x;
    int rc = cano_topic_open(db, name, &x->t2);
    return rc < 0 && x->t2 ? BI_OUT_NOT_RESET : rc;
}

static int bi_append(bi_ctx *x, cano_topic_t *t, int32_t p,
                     const cano_record *r)
{
    int32_t po = -7;
    int64_t oo = -7;
    int rc = cano_append(t, p, r, &po, &oo);
    return rc < 0 && (po != -1 || oo != -1) ? BI_OUT_NOT_RESET : rc;
}

static int bi_batch(bi_ctx *x, cano_topic_t *t, int32_t p,
                    const cano_record *r, size_t n)
{
    int64_t oo = -7;
    int rc = cano_append_batch(t, p, r, n, &oo);
    return rc < 0 && oo != -1 ? BI_OUT_NOT_RESET : rc;
}

static int bi_idem(bi_ctx *x, cano_topic_t *t, int32_t p, int64_t pid,
                   int32_t seq, const cano_record *r, size_t n)
{
    int64_t oo = -7;
    int rc = cano_append_idempotent(t, p, pid, seq, r, n, &oo);
    return rc < 0 && oo != -1 ? BI_OUT_NOT_RESET : rc;
}

static int bi_reader_open(bi_ctx *x, cano_topic_t *t, int32_t p, int64_t off)
{
    x->r2 = (cano_reader_t *)x;
    int rc = cano_reader_open(t, p, off, &x->r2);
    if (rc == CANO_OK)
        cano_reader_close(x->r2);
    return rc < 0 && x->r2 ? BI_OUT_NOT_RESET : rc;
}

static int bi_reader_open_group(bi_ctx *x, cano_topic_t *t, int32_t p,
                                const char *group)
{
    x->r2 = (cano_reader_t *)x;
    int rc = cano_reader_open_group(t, p, group, &x->r2);
    if (rc == CANO_OK)
        cano_reader_close(x->r2);
    return rc < 0 && x->r2 ? BI_OUT_NOT_RESET : rc;
}

static int bi_seek(bi_ctx *x, int64_t off)
{
    int64_t before = cano_reader_position(x->r);
    int rc = cano_reader_seek(x->r, off);
    return rc < 0 && cano_reader_position(x->r) != before ? BI_MOVED : rc;
}

static int bi_next(cano_reader_t *r, cano_record *out)
{
    return cano_reader_next(r, out, 0);
}

static int bi_stat(bi_ctx *x, cano_topic_t *t, int32_t p, uint32_t size)
{
    memset(&x->ib, 0, sizeof x->ib);
    x->ib.i.size = size;
    return cano_partition_stat(t, p, &x->ib.i);
}

static int bi_stat_tail(bi_ctx *x)
{
    /* A larger struct is fine; the tail comes back zeroed. */
    memset(&x->ib, 0xab, sizeof x->ib);
    x->ib.i.size = sizeof x->ib;
    int rc = cano_partition_stat(x->t, 0, &x->ib.i);
    for (size_t i = 0; rc == CANO_OK && i < sizeof x->ib.tail; i++)
        if (x->ib.tail[i])
            return -100;
    return rc;
}

static int bi_config_get(bi_ctx *x, cano_topic_t *t, uint32_t size)
{
    memset(&x->cfg_out, 0, sizeof x->cfg_out);
    x->cfg_out.size = size;
    return cano_topic_config_get(t, &x->cfg_out);
}

static int bi_committed(bi_ctx *x, const char *group, const char *topic,
                        int32_t p)
{
    return cano_committed(x->db, group, topic, p, &x->off);
}

/* options_init / topic_config_init with a too-small size must not write. */
static int bi_opts_init(size_t size)
{
    big_options b;
    memset(&b, 0x5a, sizeof b);
    int rc = cano_options_init(&b.o, size);
    for (size_t i = 0; rc < 0 && i < sizeof b; i++)
        if (((unsigned char *)&b)[i] != 0x5a)
            return -101;
    return rc;
}

static int bi_cfg_init(size_t size)
{
    big_config b;
    memset(&b, 0x5a, sizeof b);
    int rc = cano_topic_config_init(&b.c, size);
    for (size_t i = 0; rc < 0 && i < sizeof b; i++)
        if (((unsigned char *)&b)[i] != 0x5a)
            return -101;
    return rc;
}

#define KB (1 << 10)
#define MB (1 << 20)

/* The rows: CASE(code, alternative code or BI_NONE, call).  The switch is
 * keyed by source line, so a row is one line of this function. */
#define CASE(want, alt, expr) \
    case __LINE__: *w = (want); *a = (alt); *what = #expr; \
        return probe ? 0 : (int)(expr);

enum { BI_FIRST = __LINE__ };
static int bi_case(bi_ctx *x, int line, bool probe, int *w, int *a,
                   const char **what)
{
    cano_record out;
    switch (line) {
    /* options_init, topic_config_init */
    CASE(CANO_EINVAL, BI_NONE, cano_options_init(NULL, sizeof(cano_options)))
    CASE(CANO_EINVAL, BI_NONE, bi_opts_init(0))
    CASE(CANO_EINVAL, BI_NONE, bi_opts_init(4))
    CASE(CANO_EINVAL, BI_NONE, bi_opts_init(sizeof(cano_options) - 1))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_config_init(NULL, sizeof(cano_topic_config)))
    CASE(CANO_EINVAL, BI_NONE, bi_cfg_init(0))
    CASE(CANO_EINVAL, BI_NONE, bi_cfg_init(4))
    CASE(CANO_EINVAL, BI_NONE, bi_cfg_init(sizeof(cano_topic_config) - 1))
    /* cano_open: arguments */
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, NULL, NULL))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, "", NULL))
    CASE(CANO_EINVAL, BI_NONE, bi_open_null_out(x->fresh))
    CASE(CANO_ENOTFOUND, BI_NONE, bi_open(x, x->noparent, NULL))
    CASE(CANO_ENOTFOUND, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.flags = CANO_OPEN_MUST_EXIST)))
    CASE(CANO_EINVAL, CANO_EIO, bi_open(x, x->afile, NULL))
    CASE(CANO_ELOCKED, BI_NONE, bi_open(x, store, NULL))
    /* cano_open: options */
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.size = 4)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.size = 1)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.size = sizeof(cano_options) - 8)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT((x->ob.o.size = sizeof x->ob, x->ob.tail[5] = 1))))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT((x->ob.o.size = sizeof x->ob, x->ob.tail[15] = 0x80))))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.flags = 2)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.flags = 0x80000000u)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.sync_mode = 4)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.sync_mode = -1)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.sync_mode = INT32_MIN)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.sync_interval_ms = -1)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.max_open_files = -1)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.file_mode = 010000)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.file_mode = 0xffffffffu)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.dir_mode = 0100755)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.reserved0 = 1)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.reserved1 = -1)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.maintenance_interval_ms = -1)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.cleaner_map_bytes = -1)))
    CASE(CANO_EINVAL, BI_NONE, bi_open(x, x->fresh, OPT(x->ob.o.cleaner_map_bytes = INT64_MIN)))
    /* close, sync, recovery report */
    CASE(CANO_OK, BI_NONE, cano_close(NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_sync(NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_recovery_report(NULL, report_fn, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_recovery_report(x->db, NULL, NULL))
    /* topic_create: arguments and names */
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(NULL, "ok", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, NULL, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, ".", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "..", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "a/b", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "/tmp", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "../escape", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "a/../b", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "a\\b", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "a b", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "a\n", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "\t", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "\x01" "ctl", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "del\x7f", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "\xc3\xa9t\xc3\xa9", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "a:b", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "a*", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "cano+lock", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, x->long250, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, x->long1000, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "__x", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "__consumer_offsets", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "__", NULL))
    CASE(CANO_EEXIST, BI_NONE, cano_topic_create(x->db, "t", NULL))
    /* topic_create: configs */
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.size = 4)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.size = 1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.size = sizeof(cano_topic_config) - 8)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG((x->cb.c.size = sizeof x->cb, x->cb.tail[0] = 1))))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG((x->cb.c.size = sizeof x->cb, x->cb.tail[15] = 0xff))))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.partitions = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.partitions = INT32_MIN)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.partitions = 100001)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.partitions = INT32_MAX)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.segment_bytes = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.segment_bytes = (1LL << 31) + 1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.segment_bytes = INT64_MAX)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.segment_ms = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.segment_ms = INT64_MIN)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.index_interval_bytes = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.max_record_bytes = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.max_record_bytes = 256LL * MB + 1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.max_batch_bytes = 63)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.max_batch_bytes = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.max_batch_bytes = 256LL * MB + 1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.compression = 2)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.compression = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.compression_level = 10)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.compression_level = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.timestamp_type = 2)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.timestamp_type = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.sync_mode = 4)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.sync_mode = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.cleanup_policy = 4)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.cleanup_policy = 0x80000001u)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.reserved0 = 1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.retention_ms = -2)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.retention_ms = INT64_MIN)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.retention_bytes = -2)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.delete_retention_ms = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.min_compaction_lag_ms = -1)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.max_compaction_lag_ms = -2)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.min_cleanable_dirty_ratio = -0.01)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.min_cleanable_dirty_ratio = 1.01)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.min_cleanable_dirty_ratio = NAN)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.min_cleanable_dirty_ratio = INFINITY)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.retention_groups = "a,,b")))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.retention_groups = ",")))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.retention_groups = "a,")))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.retention_groups = "a,a")))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.retention_groups = "a\nb")))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.retention_groups = x->groups1025)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_create(x->db, "ok", CFG(x->cb.c.retention_groups_max_bytes = -2)))
    /* topic_open, topic_delete, topic_list */
    CASE(CANO_EINVAL, BI_NONE, bi_topic_open(x, NULL, "t"))
    CASE(CANO_EINVAL, BI_NONE, bi_topic_open(x, x->db, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_open(x->db, "t", NULL))
    CASE(CANO_EINVAL, BI_NONE, bi_topic_open(x, x->db, ""))
    CASE(CANO_EINVAL, BI_NONE, bi_topic_open(x, x->db, ".."))
    CASE(CANO_EINVAL, BI_NONE, bi_topic_open(x, x->db, "t/0"))
    CASE(CANO_EINVAL, BI_NONE, bi_topic_open(x, x->db, "../store/t"))
    CASE(CANO_EINVAL, BI_NONE, bi_topic_open(x, x->db, "cano+lock"))
    CASE(CANO_EINVAL, BI_NONE, bi_topic_open(x, x->db, x->long250))
    CASE(CANO_ENOTFOUND, BI_NONE, bi_topic_open(x, x->db, "missing"))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_delete(NULL, "t"))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_delete(x->db, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_delete(x->db, ""))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_delete(x->db, ".."))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_delete(x->db, "t/0"))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_delete(x->db, "../store"))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_delete(x->db, x->long1000))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_delete(x->db, "__consumer_offsets"))
    CASE(CANO_ENOTFOUND, BI_NONE, cano_topic_delete(x->db, "missing"))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_list(NULL, count_fn, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_list(x->db, NULL, NULL))
    /* topic_config_get, topic_partitions, partition_for_key */
    CASE(CANO_EINVAL, BI_NONE, bi_config_get(x, NULL, sizeof(cano_topic_config)))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_config_get(x->t, NULL))
    CASE(CANO_EINVAL, BI_NONE, bi_config_get(x, x->t, 4))
    CASE(CANO_EINVAL, BI_NONE, bi_config_get(x, x->t, sizeof(cano_topic_config) - 1))
    CASE(CANO_EINVAL, BI_NONE, cano_topic_partitions(NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_partition_for_key(NULL, "k", 1))
    CASE(CANO_EINVAL, BI_NONE, cano_partition_for_key(x->t, NULL, 5))
    CASE(CANO_EINVAL, BI_NONE, cano_partition_for_key(x->t, NULL, SIZE_MAX))
    /* append: handles, partitions */
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, NULL, 0, REC(0)))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 0, NULL))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 2, REC(0)))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, -2, REC(0)))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, INT32_MIN, REC(0)))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, INT32_MAX, REC(0)))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->in, 0, REC(0)))
    /* append: records */
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 0, REC((x->rec.key = NULL, x->rec.key_len = 3))))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 0, REC((x->rec.key = NULL, x->rec.key_len = SIZE_MAX))))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 0, REC((x->rec.value = NULL, x->rec.value_len = 3))))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 0, REC((x->rec.headers = NULL, x->rec.header_count = 1))))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 0, REC((x->rec.headers = NULL, x->rec.header_count = SIZE_MAX))))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 0, REC((x->rec.headers = &x->hdr, x->rec.header_count = 1, x->hdr.name = NULL))))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 0, REC((x->rec.headers = &x->hdr, x->rec.header_count = 1, x->hdr.value = NULL))))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 0, REC(x->rec.timestamp = -1)))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, 0, REC(x->rec.timestamp = INT64_MIN)))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->t, CANO_PARTITION_AUTO, REC((x->rec.key = NULL, x->rec.key_len = 3))))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->c, 0, REC((x->rec.key = NULL, x->rec.key_len = 0))))
    CASE(CANO_EINVAL, BI_NONE, bi_append(x, x->c, CANO_PARTITION_AUTO, REC((x->rec.key = NULL, x->rec.key_len = 0))))
    CASE(CANO_ETOOBIG, BI_NONE, bi_append(x, x->t, 0, REC((x->rec.value = x->big, x->rec.value_len = 1001))))
    CASE(CANO_ETOOBIG, BI_NONE, bi_append(x, x->t, 0, REC((x->rec.headers = &x->hdr, x->rec.header_count = 1, x->hdr.value = x->big, x->hdr.value_len = 1000))))
    /* append: SIZE_MAX lengths with real pointers (never read: the sizes
     * exceed max_record_bytes, so the call must refuse before reading) */
    CASE(CANO_ETOOBIG, BI_NONE, bi_append(x, x->t, 0, REC(x->rec.value_len = (size_t)1 << 40)))
    CASE(CANO_ETOOBIG, CANO_EINVAL, bi_append(x, x->t, 0, REC(x->rec.value_len = SIZE_MAX)))
    CASE(CANO_ETOOBIG, CANO_EINVAL, bi_append(x, x->t, 0, REC(x->rec.key_len = SIZE_MAX)))
    CASE(CANO_ETOOBIG, CANO_EINVAL, bi_append(x, x->t, 0, REC((x->rec.key_len = SIZE_MAX, x->rec.value_len = 2))))
    CASE(CANO_ETOOBIG, CANO_EINVAL, bi_append(x, x->t, 0, REC((x->rec.key_len = SIZE_MAX / 2 + 1, x->rec.value_len = SIZE_MAX / 2 + 1))))
    CASE(CANO_ETOOBIG, CANO_EINVAL, bi_append(x, x->t, 0, REC((x->rec.headers = &x->hdr, x->rec.header_count = 1, x->hdr.name_len = SIZE_MAX))))
    CASE(CANO_ETOOBIG, CANO_EINVAL, bi_append(x, x->t, 0, REC((x->rec.headers = &x->hdr, x->rec.header_count = 1, x->hdr.value_len = SIZE_MAX - 5))))
    CASE(CANO_ETOOBIG, CANO_EINVAL, bi_append(x, x->t, CANO_PARTITION_AUTO, REC(x->rec.value_len = SIZE_MAX)))
    /* append_batch */
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, NULL, 0, RECS(0), 1))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->t, 0, NULL, 1))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->t, 0, RECS(0), 0))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->t, 0, RECS(0), SIZE_MAX))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->t, 0, RECS(0), (size_t)UINT32_MAX + 1))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->t, 2, RECS(0), 2))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->t, -2, RECS(0), 2))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->in, 0, RECS(0), 1))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->t, 0, RECS((x->recs[2].key = NULL, x->recs[2].key_len = 1)), 4))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->t, 0, RECS(x->recs[3].timestamp = -5), 4))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->t, CANO_PARTITION_AUTO, RECS((x->recs[0].key = NULL, x->recs[0].key_len = 1)), 2))
    CASE(CANO_EINVAL, BI_NONE, bi_batch(x, x->c, 0, RECS((x->recs[1].key = NULL, x->recs[1].key_len = 0)), 3))
    CASE(CANO_ETOOBIG, BI_NONE, bi_batch(x, x->t, 0, RECS((x->recs[0].value = x->big, x->recs[0].value_len = 900, x->recs[1].value = x->big, x->recs[1].value_len = 900, x->recs[2].value = x->big, x->recs[2].value_len = 900)), 3))
    CASE(CANO_ETOOBIG, CANO_EINVAL, bi_batch(x, x->t, 0, RECS(x->recs[1].value_len = SIZE_MAX), 2))
    /* append_idempotent */
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, NULL, 0, 1, 0, RECS(0), 1))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->t, 0, -1, 0, RECS(0), 1))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->t, 0, INT64_MIN, 0, RECS(0), 1))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->t, 0, 1, -1, RECS(0), 1))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->t, 0, 1, INT32_MIN, RECS(0), 1))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->t, 0, 1, 0, NULL, 1))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->t, 0, 1, 0, RECS(0), 0))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->t, 0, 1, 0, RECS(0), SIZE_MAX))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->t, CANO_PARTITION_AUTO, 1, 0, RECS(0), 1))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->t, 2, 1, 0, RECS(0), 1))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->in, 0, 1, 0, RECS(0), 1))
    CASE(CANO_EINVAL, BI_NONE, bi_idem(x, x->t, 0, 1, 0, RECS((x->recs[0].value = NULL, x->recs[0].value_len = 1)), 1))
    CASE(CANO_ESEQUENCE, BI_NONE, bi_idem(x, x->t, 0, 7, 5, RECS(0), 1))
    CASE(CANO_ESEQUENCE, BI_NONE, bi_idem(x, x->t, 0, 7, INT32_MAX, RECS(0), 1))
    /* read */
    CASE(CANO_EINVAL, BI_NONE, cano_read(NULL, 0, 0, 10, rec_fn, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_read(x->t, 0, 0, 10, NULL, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_read(x->t, 2, 0, 10, rec_fn, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_read(x->t, -1, 0, 10, rec_fn, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_read(x->t, INT32_MIN, 0, 10, rec_fn, NULL))
    CASE(CANO_EOFFSET, CANO_EINVAL, cano_read(x->t, 0, -1, 10, rec_fn, NULL))
    CASE(CANO_EOFFSET, CANO_EINVAL, cano_read(x->t, 0, CANO_OFFSET_EARLIEST, 10, rec_fn, NULL))
    CASE(CANO_EOFFSET, CANO_EINVAL, cano_read(x->t, 0, INT64_MIN, 10, rec_fn, NULL))
    CASE(CANO_EOFFSET, BI_NONE, cano_read(x->t, 0, x->end0 + 1, 10, rec_fn, NULL))
    CASE(CANO_EOFFSET, BI_NONE, cano_read(x->t, 0, INT64_MAX, 10, rec_fn, NULL))
    CASE((int)x->end0, BI_NONE, cano_read(x->t, 0, 0, SIZE_MAX, rec_fn, NULL))
    CASE((int)x->end0, BI_NONE, cano_read(x->t, 0, 0, (size_t)INT_MAX + 1, rec_fn, NULL))
    CASE(0, BI_NONE, cano_read(x->t, 0, 0, 0, rec_fn, NULL))
    CASE(0, BI_NONE, cano_read(x->t, 0, x->end0, SIZE_MAX, rec_fn, NULL))
    /* readers */
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open(x, NULL, 0, 0))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_open(x->t, 0, 0, NULL))
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open(x, x->t, 2, 0))
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open(x, x->t, -1, 0))
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open(x, x->t, 0, -3))
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open(x, x->t, 0, INT64_MIN))
    CASE(CANO_EOFFSET, BI_NONE, bi_reader_open(x, x->t, 0, x->end0 + 1))
    CASE(CANO_EOFFSET, BI_NONE, bi_reader_open(x, x->t, 0, INT64_MAX))
    CASE(CANO_EINVAL, BI_NONE, bi_next(NULL, &out))
    CASE(CANO_EINVAL, BI_NONE, bi_next(x->r, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_next(NULL, &out, -1))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_next(NULL, &out, INT_MIN))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_next(x->r, NULL, INT_MAX))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_next(x->r, NULL, INT_MIN))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_seek(NULL, 0))
    CASE(CANO_EINVAL, BI_NONE, bi_seek(x, -3))
    CASE(CANO_EINVAL, BI_NONE, bi_seek(x, INT64_MIN))
    CASE(CANO_EOFFSET, BI_NONE, bi_seek(x, x->end0 + 1))
    CASE(CANO_EOFFSET, BI_NONE, bi_seek(x, INT64_MAX))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_set_flags(NULL, 0))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_set_flags(x->r, 2))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_set_flags(x->r, 0xffffffffu))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_position(NULL))
    /* offset_for_time, partition_stat */
    CASE(CANO_EINVAL, BI_NONE, cano_offset_for_time(NULL, 0, 0, &x->off))
    CASE(CANO_EINVAL, BI_NONE, cano_offset_for_time(x->t, 2, 0, &x->off))
    CASE(CANO_EINVAL, BI_NONE, cano_offset_for_time(x->t, -1, 0, &x->off))
    CASE(CANO_EINVAL, BI_NONE, cano_offset_for_time(x->t, 0, 0, NULL))
    CASE(CANO_EINVAL, BI_NONE, bi_stat(x, NULL, 0, sizeof(cano_partition_info)))
    CASE(CANO_EINVAL, BI_NONE, bi_stat(x, x->t, 2, sizeof(cano_partition_info)))
    CASE(CANO_EINVAL, BI_NONE, bi_stat(x, x->t, INT32_MIN, sizeof(cano_partition_info)))
    CASE(CANO_EINVAL, BI_NONE, cano_partition_stat(x->t, 0, NULL))
    CASE(CANO_EINVAL, BI_NONE, bi_stat(x, x->t, 0, 4))
    CASE(CANO_EINVAL, BI_NONE, bi_stat(x, x->t, 0, sizeof(cano_partition_info) - 8))
    CASE(CANO_OK, BI_NONE, bi_stat_tail(x))
    /* delete_records, maintain, compact */
    CASE(CANO_EINVAL, BI_NONE, cano_delete_records(NULL, 0, 0))
    CASE(CANO_EINVAL, BI_NONE, cano_delete_records(x->t, 2, 0))
    CASE(CANO_EINVAL, BI_NONE, cano_delete_records(x->t, -1, 0))
    CASE(CANO_EINVAL, BI_NONE, cano_delete_records(x->t, 0, -1))
    CASE(CANO_EINVAL, BI_NONE, cano_delete_records(x->t, 0, INT64_MIN))
    CASE(CANO_EOFFSET, BI_NONE, cano_delete_records(x->t, 0, x->end0 + 1))
    CASE(CANO_EOFFSET, BI_NONE, cano_delete_records(x->t, 0, INT64_MAX))
    CASE(CANO_EINVAL, BI_NONE, cano_maintain(NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_compact(NULL, 0))
    CASE(CANO_EINVAL, BI_NONE, cano_compact(x->t, 0))
    CASE(CANO_EINVAL, BI_NONE, cano_compact(x->c, 1))
    CASE(CANO_EINVAL, BI_NONE, cano_compact(x->c, -1))
    CASE(CANO_EINVAL, BI_NONE, cano_compact(x->c, INT32_MAX))
    /* commit, committed, reader_open_group, group_list */
    CASE(CANO_EINVAL, BI_NONE, cano_commit(NULL, "g", "t", 0, 1))
    CASE(CANO_EINVAL, BI_NONE, cano_commit(x->db, NULL, "t", 0, 1))
    CASE(CANO_EINVAL, BI_NONE, cano_commit(x->db, "", "t", 0, 1))
    CASE(CANO_EINVAL, BI_NONE, cano_commit(x->db, x->group256, "t", 0, 1))
    CASE(CANO_EINVAL, BI_NONE, cano_commit(x->db, "g", NULL, 0, 1))
    CASE(CANO_EINVAL, CANO_ENOTFOUND, cano_commit(x->db, "g", "a/b", 0, 1))
    CASE(CANO_EINVAL, CANO_ENOTFOUND, cano_commit(x->db, "g", "", 0, 1))
    CASE(CANO_ENOTFOUND, BI_NONE, cano_commit(x->db, "g", "missing", 0, 1))
    CASE(CANO_EINVAL, BI_NONE, cano_commit(x->db, "g", "t", 2, 1))
    CASE(CANO_EINVAL, BI_NONE, cano_commit(x->db, "g", "t", -1, 1))
    CASE(CANO_EOFFSET, BI_NONE, cano_commit(x->db, "g", "t", 0, -1))
    CASE(CANO_EOFFSET, BI_NONE, cano_commit(x->db, "g", "t", 0, INT64_MIN))
    CASE(CANO_EOFFSET, BI_NONE, cano_commit(x->db, "g", "t", 0, x->end0 + 1))
    CASE(CANO_EOFFSET, BI_NONE, cano_commit(x->db, "g", "t", 0, INT64_MAX))
    CASE(CANO_EINVAL, BI_NONE, cano_committed(NULL, "g", "t", 0, &x->off))
    CASE(CANO_EINVAL, BI_NONE, bi_committed(x, NULL, "t", 0))
    CASE(CANO_EINVAL, BI_NONE, bi_committed(x, "", "t", 0))
    CASE(CANO_EINVAL, BI_NONE, bi_committed(x, x->group256, "t", 0))
    CASE(CANO_EINVAL, BI_NONE, bi_committed(x, "g", NULL, 0))
    CASE(CANO_EINVAL, BI_NONE, bi_committed(x, "g", "t", 2))
    CASE(CANO_EINVAL, BI_NONE, bi_committed(x, "g", "t", INT32_MIN))
    CASE(CANO_EINVAL, BI_NONE, cano_committed(x->db, "g", "t", 0, NULL))
    CASE(CANO_ENOTFOUND, BI_NONE, bi_committed(x, "g", "missing", 0))
    CASE(CANO_ENOTFOUND, BI_NONE, bi_committed(x, "nobody", "t", 0))
    CASE(CANO_ENOTFOUND, BI_NONE, bi_committed(x, "g", "t", 1))
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open_group(x, NULL, 0, "g"))
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open_group(x, x->t, 2, "g"))
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open_group(x, x->t, -1, "g"))
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open_group(x, x->t, 0, NULL))
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open_group(x, x->t, 0, ""))
    CASE(CANO_EINVAL, BI_NONE, bi_reader_open_group(x, x->t, 0, x->group256))
    CASE(CANO_EINVAL, BI_NONE, cano_reader_open_group(x->t, 0, "g", NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_group_list(NULL, group_fn, NULL))
    CASE(CANO_EINVAL, BI_NONE, cano_group_list(x->db, NULL, NULL))
    default:
        return -9999;
    }
}
enum { BI_LAST = __LINE__ };

typedef struct bi_result {
    int rc, want, alt;
} bi_result;

static void bi_fixture(bi_ctx *x)
{
    memset(x, 0, sizeof *x);
    tu_path(x->fresh, "%s/fresh", root);
    tu_path(x->afile, "%s/afile", root);
    tu_path(x->noparent, "%s/no/such/dir", root);
    ck_assert_int_eq(tu_write_file(x->afile, "x", 1), 0);
    memset(x->long250, 'a', 250);
    memset(x->long1000, 'b', 1000);
    memset(x->group256, 'g', 256);
    memset(x->groups1025, 'q', 1025);
    memset(x->big, 'B', sizeof x->big);
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = CANO_SYNC_NONE;
    ck_assert_int_eq(cano_open(store, &o, &x->db), CANO_OK);
    cano_topic_config c = tu_config(2, 4096);
    c.max_record_bytes = 1000;
    c.max_batch_bytes = 2000;
    x->t = tu_create(x->db, "t", &c);
    c = tu_config(1, 4096);
    c.cleanup_policy = CANO_CLEANUP_COMPACT;
    x->c = tu_create(x->db, "c", &c);
    for (int i = 0; i < 4; i++)
        tu_append_kv(x->t, 0, "k", "v", 0);
    tu_append_kv(x->c, 0, "k", "v", 0);
    rec_reset(x);
    int64_t first;
    ck_assert_int_eq(cano_append_idempotent(x->t, 0, 7, 0, x->recs, 1,
                                            &first), CANO_OK);
    x->end0 = tu_end_offset(x->t, 0);
    ck_assert_int_eq(cano_commit(x->db, "g", "t", 0, 2), CANO_OK);
    ck_assert_int_eq(cano_topic_open(x->db, "__consumer_offsets", &x->in),
                     CANO_OK);
    ck_assert_int_eq(cano_reader_open(x->t, 0, 1, &x->r), CANO_OK);
    ck_assert_int_eq(cano_sync(x->db), CANO_OK);
}

START_TEST(test_badinput_table)
{
    bi_ctx x;
    bi_fixture(&x);
    bi_snap before, after;
    snap_take(&before, root);
    char fails[8192] = "";
    size_t len = 0;
    int nfail = 0, rows = 0;
    for (int line = BI_FIRST; line <= BI_LAST; line++) {
        int w = 0, a = 0;
        const char *what = NULL;
        if (bi_case(&x, line, true, &w, &a, &what) == -9999)
            continue;           /* no row on this line */
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            /* The row runs here, so a crash fails only this row. */
            close(fds[0]);
            int rc = bi_case(&x, line, false, &w, &a, &what);
            if (write(fds[1], &rc, sizeof rc) != (ssize_t)sizeof rc)
                _exit(3);
            _exit(0);
        }
        close(fds[1]);
        int rc = 0;
        ssize_t got = read(fds[0], &rc, sizeof rc);
        close(fds[0]);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        bi_result res = { rc, w, a };
        const char *desc = what;
        rows++;
        char msg[700] = "";
        if (WIFSIGNALED(st) || got != (ssize_t)sizeof rc) {
            if (WIFSIGNALED(st))
                snprintf(msg, sizeof msg, "%s: crashed (%s)", desc,
                         strsignal(WTERMSIG(st)));
            else
                snprintf(msg, sizeof msg, "%s: died (exit status %d: a "
                         "sanitizer report is above)", desc,
                         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        } else if (res.rc == BI_OUT_NOT_RESET) {
            snprintf(msg, sizeof msg, "%s: failed but left its out "
                     "parameter set (cano.h: NULL / -1 on failure)", desc);
        } else if (res.rc == BI_MOVED) {
            snprintf(msg, sizeof msg, "%s: failed but moved the reader",
                     desc);
        } else if (res.rc != res.want &&
                   (res.alt == BI_NONE || res.rc != res.alt)) {
            snprintf(msg, sizeof msg, "%s = %d (%s), want %d (%s)", desc,
                     res.rc, cano_strerror(res.rc), res.want,
                     cano_strerror(res.want));
        }
        snap_take(&after, root);
        char diff[600];
        bool changed = snap_diff(&before, &after, diff, sizeof diff);
        if (changed) {
            size_t l = strlen(msg);
            snprintf(msg + l, sizeof msg - l, "%s%s changed the disk: %s",
                     l ? "; and it" : desc, l ? "" : ":", diff);
        }
        snap_free(&after);
        if (changed || msg[0]) {
            /* The next rows start from a fresh fixture: a crash in an
             * append can leave damage behind (in the shared mapping). */
            cano_reader_close(x.r);
            cano_close(x.db);
            tu_rmtree(root);
            ck_assert_int_eq(mkdir(root, 0700), 0);
            bi_fixture(&x);
            snap_free(&before);
            snap_take(&before, root);
        }
        if (msg[0]) {
            nfail++;
            if (len + strlen(msg) + 2 < sizeof fails)
                len += (size_t)snprintf(fails + len, sizeof fails - len,
                                        "%s\n", msg);
        }
    }
    snap_free(&before);
    printf("badinput: %d table rows\n", rows);
    fflush(stdout);
    cano_reader_close(x.r);
    ck_assert_int_eq(cano_close(x.db), CANO_OK);
    ck_assert_int_gt(rows, 250);
    teardown();     /* now: a failing check skips the fixture's teardown */
    ck_assert_msg(nfail == 0, "%d of %d rows failed:\n%s", nfail, rows,
                  fails);
}
END_TEST

/* Calls that take no error path: they still must not crash. */
START_TEST(test_badinput_total_functions)
{
    ck_assert_ptr_nonnull(cano_version());
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", CANO_VERSION_MAJOR,
             CANO_VERSION_MINOR, CANO_VERSION_PATCH);
    ck_assert_str_eq(cano_version(), want);
    ck_assert_int_eq(cano_version_number(), CANO_VERSION_NUMBER);
    const int codes[] = { INT_MIN, -1000, -15, -14, -13, -1, 0, 1, 7,
                          1000, INT_MAX };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = cano_strerror(codes[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_gt((int)strlen(s), 0);
    }
    ck_assert_ptr_nonnull(cano_last_errmsg());
    ck_assert_ptr_null(cano_topic_name(NULL));
    cano_reader_close(NULL);
    ck_assert_int_eq(cano_close(NULL), CANO_OK);
    /* A larger struct with a zero tail is accepted and keeps its tail. */
    big_options bo;
    memset(&bo, 0xcc, sizeof bo);
    ck_assert_int_eq(cano_options_init(&bo.o, sizeof bo), CANO_OK);
    ck_assert_uint_eq(bo.o.size, sizeof bo);
    for (size_t i = 0; i < sizeof bo.tail; i++)
        ck_assert_uint_eq(bo.tail[i], 0);
    cano_t *db = NULL;
    ck_assert_int_eq(cano_open(store, &bo.o, &db), CANO_OK);
    /* A store without topics (the UBSan build checks the copies). */
    ck_assert_int_eq(cano_maintain(db), CANO_OK);
    ck_assert_int_eq(cano_sync(db), CANO_OK);
    ck_assert_int_eq(cano_topic_list(db, count_fn, NULL), 0);
    ck_assert_int_eq(cano_group_list(db, group_fn, NULL), 0);
    ck_assert_int_eq(cano_recovery_report(db, report_fn, NULL), 0);
    big_config bc;
    memset(&bc, 0xcc, sizeof bc);
    ck_assert_int_eq(cano_topic_config_init(&bc.c, sizeof bc), CANO_OK);
    ck_assert_int_eq(cano_topic_create(db, "big", &bc.c), CANO_OK);
    /* size 0 reads as this layout. */
    cano_topic_config c;
    cano_topic_config_init(&c, sizeof c);
    c.size = 0;
    ck_assert_int_eq(cano_topic_create(db, "zero", &c), CANO_OK);
    cano_topic_t *t = tu_topic(db, "zero");
    memset(&bc, 0xcc, sizeof bc);
    bc.c.size = sizeof bc;
    ck_assert_int_eq(cano_topic_config_get(t, &bc.c), CANO_OK);
    for (size_t i = 0; i < sizeof bc.tail; i++)
        ck_assert_uint_eq(bc.tail[i], 0);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- A deleted topic's handle ---- */

static int rec_stop(void *ctx, const cano_record *r)
{
    (void)ctx;
    (void)r;
    return 1;
}

START_TEST(test_badinput_deleted_topic_handle)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(2, 4096);
    cano_topic_t *t = tu_create(db, "gone", &c);
    c.cleanup_policy = CANO_CLEANUP_COMPACT;
    cano_topic_t *k = tu_create(db, "gonec", &c);
    tu_append_kv(t, 0, "k", "v", 0);
    tu_append_kv(k, 0, "k", "v", 0);
    ck_assert_int_eq(cano_commit(db, "g", "gone", 0, 1), CANO_OK);
    cano_reader_t *r = NULL;
    ck_assert_int_eq(cano_reader_open(t, 0, 0, &r), CANO_OK);
    ck_assert_int_eq(cano_topic_delete(db, "gone"), CANO_OK);
    ck_assert_int_eq(cano_topic_delete(db, "gonec"), CANO_OK);
    bi_snap before, after;
    snap_take(&before, root);
    cano_record rec = tu_rec("k", "v", 0), out;
    int32_t po = 5;
    int64_t off = 5;
    ck_assert_int_eq(cano_append(t, 0, &rec, &po, &off), CANO_ENOTFOUND);
    ck_assert_int_eq(po, -1);
    ck_assert_int_eq(off, -1);
    ck_assert_int_eq(cano_append(t, CANO_PARTITION_AUTO, &rec, NULL, NULL),
                     CANO_ENOTFOUND);
    ck_assert_int_eq(cano_append_batch(t, 0, &rec, 1, &off), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_append_idempotent(t, 0, 1, 0, &rec, 1, &off),
                     CANO_ENOTFOUND);
    ck_assert_int_eq(cano_read(t, 0, 0, 10, rec_stop, NULL), CANO_ENOTFOUND);
    cano_reader_t *r2 = (cano_reader_t *)&rec;
    ck_assert_int_eq(cano_reader_open(t, 0, 0, &r2), CANO_ENOTFOUND);
    ck_assert_ptr_null(r2);
    ck_assert_int_eq(cano_reader_open_group(t, 0, "g", &r2), CANO_ENOTFOUND);
    cano_partition_info pi;
    memset(&pi, 0, sizeof pi);
    pi.size = sizeof pi;
    ck_assert_int_eq(cano_partition_stat(t, 0, &pi), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_topic_partitions(t), CANO_ENOTFOUND);
    cano_topic_config got;
    memset(&got, 0, sizeof got);
    got.size = sizeof got;
    ck_assert_int_eq(cano_topic_config_get(t, &got), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_partition_for_key(t, "k", 1), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_offset_for_time(t, 0, 0, &off), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_delete_records(t, 0, 0), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_compact(k, 0), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_commit(db, "g", "gone", 0, 0), CANO_ENOTFOUND);
    ck_assert_int_eq(cano_committed(db, "g", "gone", 0, &off),
                     CANO_ENOTFOUND);
    ck_assert_int_eq(cano_topic_delete(db, "gone"), CANO_ENOTFOUND);
    ck_assert_str_eq(cano_topic_name(t), "gone");
    /* cano.h lists no ENOTFOUND for the reader calls; either "not found"
     * or "closed" is a fair answer, as long as it is an error. */
    int rc = cano_reader_next(r, &out, 0);
    ck_assert_msg(rc == CANO_ENOTFOUND || rc == CANO_ECLOSED,
                  "reader_next on a deleted topic: %d", rc);
    rc = cano_reader_seek(r, 0);
    ck_assert_msg(rc == CANO_ENOTFOUND || rc == CANO_ECLOSED,
                  "reader_seek on a deleted topic: %d", rc);
    ck_assert_int_eq(cano_maintain(db), CANO_OK);
    snap_take(&after, root);
    char diff[600];
    ck_assert_msg(!snap_diff(&before, &after, diff, sizeof diff),
                  "calls on a deleted topic changed the disk: %s", diff);
    snap_free(&before);
    snap_free(&after);
    cano_reader_close(r);
    /* The name is free again. */
    cano_topic_t *again = tu_create(db, "gone", NULL);
    ck_assert_int_eq(tu_end_offset(again, 0), 0);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

/* ---- A length that overflows size_t arithmetic ---- */

typedef struct overflow_arg {
    cano_topic_t *t;
    int variant;
} overflow_arg;

static int overflow_child(void *arg)
{
    overflow_arg *a = arg;
    cano_record r = tu_rec("key", "value", 0);
    cano_header h = { "h", 1, "v", 1 };
    if (a->variant == 0) {
        r.value_len = SIZE_MAX;             /* 3 + SIZE_MAX wraps to 2 */
    } else {
        r.headers = &h;
        r.header_count = 1;
        h.name_len = SIZE_MAX - 3;
    }
    int rc = cano_append(a->t, 0, &r, NULL, NULL);
    return rc == CANO_ETOOBIG || rc == CANO_EINVAL ? 0 : 20;
}

static int kv_intact(cano_topic_t *t, int64_t n, int *rc_out)
{
    tu_recs got = { 0 };
    *rc_out = tu_read_all(t, 0, 0, &got);
    int intact = *rc_out == CANO_OK && got.n == (size_t)n &&
                 tu_end_offset(t, 0) == n;
    cano_record want = tu_rec("k", "v", 0);
    for (size_t i = 0; intact && i < got.n; i++)
        intact = tu_rec_content_eq(&got.v[i], &want);
    tu_recs_free(&got);
    return intact;
}

/* An append whose lengths wrap around must be refused before anything is
 * read or written.  Above all, records acknowledged before it stay intact:
 * the log is a shared mapping of the file, so a stray write reaches the
 * disk even when the process dies at once.  The append runs in a forked
 * child of the process that has the store open (same page cache). */
START_TEST(test_badinput_overflowing_length_leaves_the_log_intact)
{
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = CANO_SYNC_NONE;
    cano_t *db = NULL;
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_OK);
    cano_topic_config c = tu_config(2, 4096);
    c.max_record_bytes = 1000;
    cano_topic_t *t = tu_create(db, "t", &c);
    for (int i = 0; i < 5; i++)
        tu_append_kv(t, 0, "k", "v", 0);
    overflow_arg a = { t, _i };
    int rc = tu_run_child(overflow_child, &a, 0);
    int rc1, rc2;
    int live = kv_intact(t, 5, &rc1);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    db = tu_open(store);
    t = tu_topic(db, "t");
    int disk = kv_intact(t, 5, &rc2);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    teardown();
    ck_assert_msg(rc == 0 && live && disk,
                  "the append with an overflowing length %s %d (want "
                  "CANO_ETOOBIG); after it the 5 acknowledged records are "
                  "%s in the open store (read: %d) and %s after a reopen "
                  "(read: %d)",
                  rc > 128 ? "crashed with signal" : "exited with",
                  rc > 128 ? rc - 128 : rc, live ? "intact" : "DAMAGED", rc1,
                  disk ? "intact" : "DAMAGED", rc2);
}
END_TEST

/* ---- Names with a NUL in the middle ---- */

START_TEST(test_badinput_name_with_nul_is_the_c_string)
{
    cano_t *db = tu_open(store);
    static const char name[] = "a\0/../../escape";
    ck_assert_int_eq(cano_topic_create(db, name, NULL), CANO_OK);
    cano_topic_t *t = NULL;
    ck_assert_int_eq(cano_topic_open(db, "a\0zzz", &t), CANO_OK);
    ck_assert_str_eq(cano_topic_name(t), "a");
    ck_assert_int_eq(cano_topic_create(db, "a\0b", NULL), CANO_EEXIST);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    char p[TU_PATH_MAX];
    ck_assert(tu_is_dir(tu_path(p, "%s/a", store)));
    ck_assert(!tu_exists(tu_path(p, "%s/escape", root)));
    ck_assert(!tu_exists(tu_path(p, "%s/../escape", root)));
    /* Nothing but the store's own files and "a". */
    tu_names l;
    ck_assert_int_eq(tu_list_dir(store, &l), 0);
    for (size_t i = 0; i < l.n; i++)
        ck_assert_msg(!strcmp(l.v[i], "a") || strchr(l.v[i], '+'),
                      "unexpected entry %s", l.v[i]);
    tu_names_free(&l);
}
END_TEST

/* ---- Symlinks in the store directory ---- */

static void make_outside(char *outside)
{
    tu_path(outside, "%s/outside", root);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    char p[TU_PATH_MAX];
    ck_assert_int_eq(tu_write_file(tu_path(p, "%s/sentinel", outside),
                                   "keep me", 7), 0);
    /* A complete topic directory, as if it belonged to the store. */
    char q[TU_PATH_MAX];
    ck_assert_int_eq(tu_copytree(tu_path(p, "%s/real", store),
                                 tu_path(q, "%s/evil", outside)), 0);
}

static void seed_store(void)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(1, 4096);
    cano_topic_t *t = tu_create(db, "real", &c);
    for (int i = 0; i < 3; i++)
        tu_append_kv(t, 0, "k", "v", 0);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}

START_TEST(test_badinput_symlink_named_like_a_topic)
{
    seed_store();
    char outside[TU_PATH_MAX], p[TU_PATH_MAX], q[TU_PATH_MAX];
    make_outside(outside);
    ck_assert_int_eq(symlink(tu_path(p, "%s/evil", outside),
                             tu_path(q, "%s/evil", store)), 0);
    ck_assert_int_eq(symlink(outside, tu_path(q, "%s/dirlink", store)), 0);
    ck_assert_int_eq(symlink(tu_path(p, "%s/nothing", outside),
                             tu_path(q, "%s/dangling", store)), 0);
    bi_snap before, after;
    snap_take(&before, outside);
    cano_t *db = NULL;
    int rc = cano_open(store, NULL, &db);
    if (rc == CANO_OK) {
        const char *names[] = { "evil", "dirlink", "dangling" };
        for (int i = 0; i < 3; i++) {
            cano_topic_t *t = NULL;
            rc = cano_topic_open(db, names[i], &t);
            if (rc == CANO_OK) {
                /* Loaded as a topic: then it must not write outside. */
                cano_record r = tu_rec("k", "v", 0);
                cano_append(t, 0, &r, NULL, NULL);
            } else {
                ck_assert_int_eq(rc, CANO_ENOTFOUND);
            }
            cano_topic_config c = tu_config(2, 4096);
            rc = cano_topic_create(db, names[i], &c);
            ck_assert_msg(rc < 0, "creating topic %s over a symlink: %d",
                          names[i], rc);
            rc = cano_topic_delete(db, names[i]);
            ck_assert_msg(rc < 0, "deleting topic %s (a symlink): %d",
                          names[i], rc);
        }
        ck_assert_int_eq(cano_maintain(db), CANO_OK);
        cano_topic_t *real = tu_topic(db, "real");
        tu_append_kv(real, 0, "k", "v", 0);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    } else {
        ck_assert_int_lt(rc, 0);
    }
    snap_take(&after, outside);
    char diff[600];
    ck_assert_msg(!snap_diff(&before, &after, diff, sizeof diff),
                  "the library wrote outside the store through a symlink: "
                  "%s", diff);
    snap_free(&before);
    snap_free(&after);
    ck_assert(tu_exists(tu_path(p, "%s/sentinel", outside)));
    ck_assert(!tu_exists(tu_path(p, "%s/nothing", outside)));
}
END_TEST

/* Symlinks named like the store's own files and like an interrupted topic
 * create or delete (which open removes): nothing outside may go. */
START_TEST(test_badinput_symlink_named_like_store_files)
{
    seed_store();
    char outside[TU_PATH_MAX], p[TU_PATH_MAX], q[TU_PATH_MAX];
    make_outside(outside);
    const char *dir_links[] = { "cano+tmp.0", "cano+tmp.77", "cano+del.0",
                                "cano+del.5" };
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(symlink(outside, tu_path(q, "%s/%s", store,
                                                  dir_links[i])), 0);
    unlink(tu_path(q, "%s/cano+clean", store));
    ck_assert_int_eq(symlink(tu_path(p, "%s/clean-target", outside), q), 0);
    bi_snap before, after;
    snap_take(&before, outside);
    cano_t *db = NULL;
    int rc = cano_open(store, NULL, &db);
    if (rc == CANO_OK) {
        cano_topic_t *real = tu_topic(db, "real");
        tu_append_kv(real, 0, "k", "v", 0);
        /* Topic create and delete use the tmp and del names too. */
        cano_topic_t *t = tu_create(db, "made", NULL);
        tu_append_kv(t, 0, "k", "v", 0);
        ck_assert_int_eq(cano_topic_delete(db, "made"), CANO_OK);
        ck_assert_int_eq(cano_close(db), CANO_OK);
        db = tu_open(store);
        ck_assert_int_eq(cano_close(db), CANO_OK);
    } else {
        ck_assert_int_lt(rc, 0);
    }
    snap_take(&after, outside);
    char diff[600];
    ck_assert_msg(!snap_diff(&before, &after, diff, sizeof diff),
                  "the library changed a directory outside the store "
                  "through a symlink: %s", diff);
    snap_free(&before);
    snap_free(&after);
}
END_TEST

/* The lock file is a symlink to a file outside: the outside file is
 * neither created nor truncated. */
START_TEST(test_badinput_symlink_lock_file)
{
    seed_store();
    char outside[TU_PATH_MAX], p[TU_PATH_MAX], q[TU_PATH_MAX];
    tu_path(outside, "%s/outside", root);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    ck_assert_int_eq(tu_write_file(tu_path(p, "%s/victim", outside),
                                   "precious", 8), 0);
    tu_path(q, "%s/cano+lock", store);
    unlink(q);
    ck_assert_int_eq(symlink(p, q), 0);
    bi_snap before, after;
    snap_take(&before, outside);
    cano_t *db = NULL;
    int rc = cano_open(store, NULL, &db);
    if (rc == CANO_OK)
        ck_assert_int_eq(cano_close(db), CANO_OK);
    snap_take(&after, outside);
    char diff[600];
    ck_assert_msg(!snap_diff(&before, &after, diff, sizeof diff),
                  "cano_open followed a symlinked lock file: %s", diff);
    snap_free(&before);
    snap_free(&after);
    /* A dangling one: the target must not be created. */
    unlink(q);
    ck_assert_int_eq(symlink(tu_path(p, "%s/created", outside), q), 0);
    rc = cano_open(store, NULL, &db);
    if (rc == CANO_OK)
        ck_assert_int_eq(cano_close(db), CANO_OK);
    ck_assert(!tu_exists(p));
}
END_TEST

/* ---- File modes ---- */

static uint32_t want_file_mode, want_dir_mode;
static char mode_fails[2048];
static size_t mode_len;
static int mode_count;

static int check_mode(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    unsigned m = st->st_mode & 07777;
    unsigned want = S_ISDIR(st->st_mode) ? want_dir_mode : want_file_mode;
    if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
        return 0;
    mode_count++;
    if (m != want && mode_len + 200 < sizeof mode_fails)
        mode_len += (size_t)snprintf(mode_fails + mode_len,
                                     sizeof mode_fails - mode_len,
                                     "%s: %04o, want %04o\n",
                                     path + strlen(root), m, want);
    return 0;
}

START_TEST(test_badinput_file_modes)
{
    static const uint32_t modes[][2] = { { 0, 0 }, { 0600, 0700 },
                                         { 0640, 0750 } };
    uint32_t fm = modes[_i][0], dm = modes[_i][1];
    mode_t old = umask(0);
    cano_options o;
    cano_options_init(&o, sizeof o);
    if (fm) {
        o.file_mode = fm;
        o.dir_mode = dm;
    } else {
        o.file_mode = 0;    /* zero: the defaults */
        o.dir_mode = 0;
    }
    cano_t *db = NULL;
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_OK);
    cano_topic_config c = tu_config(2, 300);
    cano_topic_t *t = tu_create(db, "t", &c);
    c.cleanup_policy = CANO_CLEANUP_COMPACT;
    cano_topic_t *k = tu_create(db, "k", &c);
    for (int i = 0; i < 20; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i % 3);
        tu_append_kv(t, i % 2, key, "some value here", 0);
        tu_append_kv(k, 0, key, "some value here", 0);
    }
    int64_t first;
    cano_record r = tu_rec("k", "v", 0);
    ck_assert_int_eq(cano_append_idempotent(t, 0, 3, 0, &r, 1, &first),
                     CANO_OK);
    ck_assert_int_eq(cano_commit(db, "g", "t", 0, 3), CANO_OK);
    ck_assert_int_eq(cano_delete_records(t, 0, 4), CANO_OK);
    ck_assert_int_eq(cano_compact(k, 0), CANO_OK);
    ck_assert_int_eq(cano_maintain(db), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    /* Again: the clean marker and producer state are written anew. */
    ck_assert_int_eq(cano_open(store, &o, &db), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    umask(old);
    want_file_mode = fm ? fm : 0644;
    want_dir_mode = dm ? dm : 0755;
    mode_len = 0;
    mode_count = 0;
    mode_fails[0] = '\0';
    nftw(store, check_mode, 32, FTW_PHYS);
    ck_assert_int_gt(mode_count, 20);
    ck_assert_msg(mode_len == 0, "modes with file_mode %04o dir_mode %04o:"
                  "\n%s", want_file_mode, want_dir_mode, mode_fails);
}
END_TEST

Suite *badinput_suite(void)
{
    Suite *s = suite_create("badinput");
    TCase *tc = tcase_create("table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_badinput_table);
    tcase_add_test(tc, test_badinput_total_functions);
    tcase_add_test(tc, test_badinput_deleted_topic_handle);
    tcase_add_test(tc, test_badinput_name_with_nul_is_the_c_string);
    tcase_add_loop_test(tc,
                        test_badinput_overflowing_length_leaves_the_log_intact,
                        0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("symlinks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_badinput_symlink_named_like_a_topic);
    tcase_add_test(tc, test_badinput_symlink_named_like_store_files);
    tcase_add_test(tc, test_badinput_symlink_lock_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("modes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_badinput_file_modes, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
