/* check_faults.c - fault injection and crash torture.
 *
 * io:     a workload (open, topics with small segments, appends and
 *         batches, rolls, retention with retention_ms 0, delete_records,
 *         compaction, commits, sync, close) runs in a forked child with the
 *         Nth fallible I/O call failing (EIO or ENOSPC, once or from then
 *         on), for N = 1, 2, 3 ... until the workload runs untouched.
 * alloc:  a smaller workload with the Nth allocation failing, N = 0, 1, ...
 * crash:  a writer over several topics (delete and compact policies;
 *         always, interval and none sync modes) SIGKILLed at seeded random
 *         moments, round after round.
 *
 * The long version: CANO_TORTURE_ROUNDS=n runs n crash rounds instead of
 * 120 and, like CANO_FAULTS_FULL=1, the larger fault workload (three
 * topics, more rolls).  CANO_TORTURE_SEED picks the seed.  Debugging:
 * CANO_FAULTS_N=n runs only fault point n, CANO_FAULTS_TRACE=1 prints each
 * call the child made, CANO_FAULTS_ALL=1 prints every failure,
 * CANO_FAULTS_JOBS=j runs j fault points at a time.
 *
 * The child reports every call (its code, and for appends the records and
 * offsets) through a pipe; the parent then reopens the store without faults
 * and checks: every acknowledged record is at its offset with its exact
 * key, value and header (unless retention or compaction may have removed
 * it), nothing else is in the log but records the child tried to append,
 * appends that reported "nothing was written" left nothing, acknowledged
 * commits read back, and appends continue at the end offset.  The child
 * itself checks that each code is one cano.h documents for the call, and
 * that after a failed sync every append fails with CANO_EFATAL.  Every
 * record carries its id in a header "id", so any record found in a log can
 * be traced to the append that wrote it. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "testutil.h"
#include "io.h"

/* Provided by the sanitizer runtime in the ASan build; NULL otherwise. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static char dir[64];
static char store[TU_PATH_MAX];

static void setup(void)
{
    ck_assert_int_eq(tu_mkdtemp_fast(dir, sizeof dir), 0);
    tu_path(store, "%s/store", dir);
}

static void teardown(void)
{
    tu_rmtree(dir);
}

/* ------------------------------------------------------------------ */
/* Records: content derived from (topic index, id)                     */
/* ------------------------------------------------------------------ */

static uint64_t fx_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

#define FX_KEYS 13      /* keys of a compacted topic: key00 .. key12 */

typedef struct fx_rec {
    char key[40];
    size_t key_len;
    unsigned char val[80];
    size_t val_len;
    bool tomb;
    unsigned char idb[8];
    cano_header hdr;
    cano_record r;       /* points into this struct: never copy it */
} fx_rec;

static int fx_key_of(int64_t id) { return (int)(id % FX_KEYS); }

static void fx_gen(fx_rec *g, int ti, bool compacted, int64_t id, int64_t ts)
{
    memset(g, 0, sizeof *g);
    uint64_t h = fx_mix((uint64_t)id * 1000003u + (uint64_t)ti);
    if (compacted) {
        g->key_len = (size_t)snprintf(g->key, sizeof g->key, "key%02d",
                                      fx_key_of(id));
        g->tomb = id % 17 == 16;
    } else {
        g->key_len = (size_t)snprintf(g->key, sizeof g->key,
                                      "k%d-%" PRId64, ti, id);
    }
    g->val_len = 1 + h % 70;
    for (size_t j = 0; j < g->val_len; j++)
        g->val[j] = (unsigned char)('a' + fx_mix(h + j) % 26);
    for (int b = 0; b < 8; b++)
        g->idb[b] = (unsigned char)((uint64_t)id >> (8 * b));
    g->hdr.name = "id";
    g->hdr.name_len = 2;
    g->hdr.value = g->idb;
    g->hdr.value_len = 8;
    g->r = tu_rec_buf(g->key, g->key_len, g->tomb ? NULL : g->val,
                      g->tomb ? 0 : g->val_len, ts);
    g->r.headers = &g->hdr;
    g->r.header_count = 1;
}

/* The id a record carries, or -1 when it has no well-formed id header. */
static int64_t fx_id_of(const tu_rec_copy *c)
{
    if (c->header_count != 1 || c->headers[0].name_len != 2 ||
        memcmp(c->headers[0].name, "id", 2) != 0 ||
        c->headers[0].value_len != 8 || !c->headers[0].value)
        return -1;
    uint64_t v = 0;
    for (int b = 0; b < 8; b++)
        v |= (uint64_t)c->headers[0].value[b] << (8 * b);
    return (int64_t)v;
}

/* 1 when c is exactly generated record id of topic ti. */
static int fx_matches(const tu_rec_copy *c, int ti, bool compacted,
                      int64_t id)
{
    fx_rec g;
    fx_gen(&g, ti, compacted, id, 0);
    return tu_rec_content_eq(c, &g.r);
}

/* ------------------------------------------------------------------ */
/* Events: what a child tells the parent                               */
/* ------------------------------------------------------------------ */

enum {
    EV_CALL = 1,    /* any call: call, rc */
    EV_CREATE,      /* topic create: topic, rc */
    EV_APPEND,      /* topic, partition, id, n, rc, offset (first) */
    EV_COMMIT,      /* topic, partition, offset, rc */
    EV_TRIM,        /* retention may run from here on: topic (-1 all) */
    EV_DELREC,      /* topic, partition, offset (before), rc */
    EV_START,       /* writer opened: topic, partition, offset = end */
    EV_BAD,         /* the child saw a broken promise: msg */
    EV_DONE         /* fired (n), leaks (rc) */
};

enum {
    C_OPEN, C_CREATE, C_TOPIC_OPEN, C_APPEND, C_BATCH, C_COMMIT, C_MAINTAIN,
    C_COMPACT, C_DELREC, C_SYNC, C_CLOSE, C_NCALLS
};

static const char *const call_names[C_NCALLS] = {
    "cano_open", "cano_topic_create", "cano_topic_open", "cano_append",
    "cano_append_batch", "cano_commit", "cano_maintain", "cano_compact",
    "cano_delete_records", "cano_sync", "cano_close"
};

#define B(code) (1u << (unsigned)-(code))
/* The negative codes include/cano.h lists for each call. */
static const uint32_t documented[C_NCALLS] = {
    [C_OPEN] = B(CANO_EINVAL) | B(CANO_ENOTFOUND) | B(CANO_ELOCKED) |
               B(CANO_EIO) | B(CANO_ENOSPC) | B(CANO_ENOMEM) |
               B(CANO_ECORRUPT),
    [C_CREATE] = B(CANO_EINVAL) | B(CANO_EEXIST) | B(CANO_EIO) |
                 B(CANO_ENOSPC) | B(CANO_ENOMEM),
    [C_TOPIC_OPEN] = B(CANO_EINVAL) | B(CANO_ENOTFOUND),
    [C_APPEND] = B(CANO_EINVAL) | B(CANO_ENOTFOUND) | B(CANO_ETOOBIG) |
                 B(CANO_ENOSPC) | B(CANO_ENOMEM) | B(CANO_EIO) |
                 B(CANO_EFATAL),
    [C_BATCH] = B(CANO_EINVAL) | B(CANO_ENOTFOUND) | B(CANO_ETOOBIG) |
                B(CANO_ENOSPC) | B(CANO_ENOMEM) | B(CANO_EIO) |
                B(CANO_EFATAL),
    [C_COMMIT] = B(CANO_EINVAL) | B(CANO_ENOTFOUND) | B(CANO_EOFFSET) |
                 B(CANO_EIO) | B(CANO_ENOSPC) | B(CANO_EFATAL),
    [C_MAINTAIN] = B(CANO_EINVAL) | B(CANO_EIO) | B(CANO_ENOSPC) |
                   B(CANO_ENOMEM) | B(CANO_ECORRUPT),
    [C_COMPACT] = B(CANO_EINVAL) | B(CANO_ENOTFOUND) | B(CANO_EIO) |
                  B(CANO_ENOSPC) | B(CANO_ENOMEM) | B(CANO_ECORRUPT),
    [C_DELREC] = B(CANO_EINVAL) | B(CANO_ENOTFOUND) | B(CANO_EOFFSET) |
                 B(CANO_EIO) | B(CANO_ENOSPC),
    [C_SYNC] = B(CANO_EINVAL) | B(CANO_EIO) | B(CANO_EFATAL),
    [C_CLOSE] = 0xffffffffu,    /* "the first error met while syncing" */
};

typedef struct fx_ev {
    int32_t kind, call, topic, partition, rc, n;
    int64_t id, offset;
    int64_t count;      /* I/O calls or allocations so far (tracing) */
    char msg[168];
} fx_ev;

typedef struct fx_evs {
    fx_ev *v;
    size_t n, cap;
} fx_evs;

static void evs_push(fx_evs *e, const fx_ev *ev)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 256;
        e->v = realloc(e->v, e->cap * sizeof *e->v);
        if (!e->v)
            abort();
    }
    e->v[e->n++] = *ev;
}

/* Reads whole events from fd until EOF or the deadline (monotonic ms; -1:
 * none).  Returns 1 at EOF, 0 at the deadline. */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct ev_reader {
    int fd;
    unsigned char buf[sizeof(fx_ev)];
    size_t have;
} ev_reader;

static int evs_read(ev_reader *r, fx_evs *out, int64_t deadline)
{
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - mono_ms();
            if (left <= 0)
                return 0;
            wait = (int)left;
        }
        struct pollfd pfd = { r->fd, POLLIN, 0 };
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return 0;
        ssize_t got = read(r->fd, r->buf + r->have, sizeof r->buf - r->have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 1;
        r->have += (size_t)got;
        if (r->have == sizeof r->buf) {
            fx_ev ev;
            memcpy(&ev, r->buf, sizeof ev);
            evs_push(out, &ev);
            r->have = 0;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Failure collection (many rounds, one message)                       */
/* ------------------------------------------------------------------ */

typedef struct fx_fails {
    char text[6000];
    size_t len;
    int n;
} fx_fails;

static void fail_add(fx_fails *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail_add(fx_fails *f, const char *fmt, ...)
{
    f->n++;
    if (f->n > 12 && getenv("CANO_FAULTS_ALL")) {
        va_list ap;     /* debugging: every failure on stderr */
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    if (f->n > 12 || f->len + 8 >= sizeof f->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(f->text + f->len, sizeof f->text - f->len, fmt, ap);
    va_end(ap);
    if (k > 0)
        f->len = CANO__MIN(f->len + (size_t)k, sizeof f->text - 3);
    f->text[f->len++] = '\n';
    f->text[f->len] = '\0';
}

/* ------------------------------------------------------------------ */
/* The fault workload (child side)                                      */
/* ------------------------------------------------------------------ */

typedef struct fx_topic {
    const char *name;
    uint32_t policy;
    int32_t sync_mode;
    int32_t partitions;
    int64_t segment_bytes;
    int64_t retention_ms;
    int64_t retention_bytes;
} fx_topic;

#define FX_NT 3
/* ad: retention_ms 0, so cano_maintain deletes every closed segment;
 * nc: compacted; nn: keeps everything, so every acknowledged record must
 * be there and batches must be all-or-nothing. */
static const fx_topic FT[FX_NT] = {
    { "ad", CANO_CLEANUP_DELETE, CANO_SYNC_ALWAYS, 2, 300, 0, -1 },
    { "nc", CANO_CLEANUP_COMPACT, CANO_SYNC_NONE, 1, 300, -1, -1 },
    { "nn", CANO_CLEANUP_DELETE, CANO_SYNC_NONE, 1, 800, -1, -1 },
};
#define FX_MAXP 2

/* The long version (CANO_FAULTS_FULL or CANO_TORTURE_ROUNDS set) runs
 * the full workload; the default one fits make check's time. */
static bool fx_full;

static void fx_mode_init(void)
{
    fx_full = getenv("CANO_FAULTS_FULL") || getenv("CANO_TORTURE_ROUNDS");
}

static int fx_ntopics(void)
{
    return fx_full ? 3 : 2;
}

static int32_t fx_parts(int ti)
{
    return ti == 0 && !fx_full ? 1 : FT[ti].partitions;
}

static bool ft_compacted(int ti)
{
    return (FT[ti].policy & CANO_CLEANUP_COMPACT) != 0;
}

static const int64_t FX_TS0 = 1600000000000LL;

typedef struct fx_child {
    int fd;                       /* pipe, write end */
    const char *store;
    uint32_t extra;               /* codes allowed besides documented */
    bool fatal_expected;          /* a sync failed: appends must EFATAL */
    char fatal_why[96];           /* the call that failed its sync */
    cano_t *db;
    cano_topic_t *t[FX_NT];
    int64_t next_id[FX_NT];
    int64_t acked_end[FX_NT][FX_MAXP];
} fx_child;

static long (*ev_counter)(void) = cano__test_io_count;

static void ev_send(int fd, const fx_ev *evp)
{
    fx_ev ev = *evp;
    ev.count = ev_counter();
    const char *p = (const char *)&ev;
    size_t left = sizeof ev;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(90);
        p += w;
        left -= (size_t)w;
    }
}

static void child_bad(fx_child *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void child_bad(fx_child *c, const char *fmt, ...)
{
    fx_ev ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EV_BAD;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev.msg, sizeof ev.msg, fmt, ap);
    va_end(ap);
    ev_send(c->fd, &ev);
}

/* Checks a call's code: documented, and EFATAL once a sync failed. */
static void child_rc(fx_child *c, int call, int rc)
{
    const char *msg = cano_last_errmsg();
    if (!msg) {
        child_bad(c, "%s: cano_last_errmsg() is NULL", call_names[call]);
        msg = "";
    }
    if (rc > 0 || (rc < 0 && (rc < -31 ||
                              !((documented[call] | c->extra) & B(rc)))))
        child_bad(c, "%s returned %d (%s), not a code cano.h documents for "
                  "it [%.80s]", call_names[call], rc, cano_strerror(rc), msg);
    bool write = call == C_APPEND || call == C_BATCH || call == C_SYNC;
    if (write && c->fatal_expected && rc != CANO_EFATAL)
        child_bad(c, "%s returned %d (%s) after an earlier sync failed "
                  "(%s); want CANO_EFATAL", call_names[call], rc,
                  cano_strerror(rc), c->fatal_why);
    if (call == C_CLOSE && c->fatal_expected && rc == CANO_OK)
        child_bad(c, "cano_close returned CANO_OK after a sync failed");
    /* A failed sync of appended data: cano_sync failing at all, an msync
     * of a log failing (always mode), or the library saying the store now
     * refuses writes. */
    bool io_err = rc == CANO_EIO || rc == CANO_ENOSPC;
    if (rc == CANO_EFATAL || (io_err && strstr(msg, "refuses writes")) ||
        (io_err && call == C_SYNC) ||
        (io_err && (write || call == C_COMMIT) && !strncmp(msg, "msync", 5))) {
        if (!c->fatal_expected)
            snprintf(c->fatal_why, sizeof c->fatal_why, "%s: %d [%.60s]",
                     call_names[call], rc, msg);
        c->fatal_expected = true;
    }
}

static void child_call(fx_child *c, int call, int rc)
{
    fx_ev ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EV_CALL;
    ev.call = call;
    ev.rc = rc;
    child_rc(c, call, rc);
    ev_send(c->fd, &ev);
}

static void child_append(fx_child *c, int ti, int32_t p, int n)
{
    if (!c->t[ti])
        return;
    int64_t id = c->next_id[ti];
    c->next_id[ti] += n;
    fx_rec g[8];
    cano_record recs[8];
    for (int i = 0; i < n; i++) {
        fx_gen(&g[i], ti, ft_compacted(ti), id + i, FX_TS0 + id + i);
        recs[i] = g[i].r;
    }
    int64_t off = -7;
    int32_t pout = -7;
    int rc;
    if (n == 1)
        rc = cano_append(c->t[ti], p, &recs[0], &pout, &off);
    else
        rc = cano_append_batch(c->t[ti], p, recs, (size_t)n, &off);
    fx_ev ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EV_APPEND;
    ev.call = n == 1 ? C_APPEND : C_BATCH;
    ev.topic = ti;
    ev.partition = p;
    ev.id = id;
    ev.n = n;
    ev.rc = rc;
    ev.offset = off;
    snprintf(ev.msg, sizeof ev.msg, "%s", cano_last_errmsg());
    child_rc(c, ev.call, rc);
    if (rc == CANO_OK) {
        if (off < c->acked_end[ti][p])
            child_bad(c, "%s/%d: acknowledged offset %" PRId64 " is below "
                      "the previous acknowledged end %" PRId64, FT[ti].name,
                      p, off, c->acked_end[ti][p]);
        if (n == 1 && pout != p)
            child_bad(c, "cano_append: partition_out %d, want %d", pout, p);
        c->acked_end[ti][p] = off + n;
    } else {
        if (off != -1)
            child_bad(c, "%s failed (%d) but set the offset out to %" PRId64
                      ", not -1", call_names[ev.call], rc, off);
        if (n == 1 && pout != -1)
            child_bad(c, "cano_append failed (%d) but set partition_out to "
                      "%d, not -1", rc, pout);
    }
    ev_send(c->fd, &ev);
}

static void child_commit(fx_child *c, const char *group, int ti, int32_t p)
{
    if (!c->t[ti])
        return;
    int64_t off = c->acked_end[ti][p];
    int rc = cano_commit(c->db, group, FT[ti].name, p, off);
    fx_ev ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EV_COMMIT;
    ev.topic = ti;
    ev.partition = p;
    ev.offset = off;
    ev.rc = rc;
    ev.n = group[1] - '0';          /* "g1" -> 1 */
    child_rc(c, C_COMMIT, rc);
    ev_send(c->fd, &ev);
}

static void child_trim(fx_child *c, int ti)
{
    fx_ev ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EV_TRIM;
    ev.topic = ti;
    ev_send(c->fd, &ev);
}

static void child_delrec(fx_child *c, int ti, int32_t p, int64_t before)
{
    if (!c->t[ti])
        return;
    child_trim(c, ti);
    int rc = cano_delete_records(c->t[ti], p, before);
    fx_ev ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EV_DELREC;
    ev.topic = ti;
    ev.partition = p;
    ev.offset = before;
    ev.rc = rc;
    child_rc(c, C_DELREC, rc);
    ev_send(c->fd, &ev);
}

static void fx_config(cano_topic_config *cfg, int ti)
{
    cano_topic_config_init(cfg, sizeof *cfg);
    cfg->partitions = fx_parts(ti);
    cfg->segment_bytes = FT[ti].segment_bytes;
    cfg->cleanup_policy = FT[ti].policy;
    cfg->sync_mode = FT[ti].sync_mode;
    cfg->retention_ms = FT[ti].retention_ms;
    cfg->retention_bytes = FT[ti].retention_bytes;
    cfg->index_interval_bytes = 100;
}

static void fx_create(fx_child *c, int ti)
{
    cano_topic_config cfg;
    fx_config(&cfg, ti);
    int rc = cano_topic_create(c->db, FT[ti].name, &cfg);
    fx_ev ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EV_CREATE;
    ev.topic = ti;
    ev.rc = rc;
    child_rc(c, C_CREATE, rc);
    ev_send(c->fd, &ev);
    if (rc == CANO_OK) {
        rc = cano_topic_open(c->db, FT[ti].name, &c->t[ti]);
        child_call(c, C_TOPIC_OPEN, rc);
        if (rc != CANO_OK)
            c->t[ti] = NULL;
    }
}

/* The quick workload: topics ad (1 partition) and nc; a roll or two in
 * each.  The full one adds a second partition to ad, the topic nn and
 * more appends. */
static void fx_workload(fx_child *c)
{
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = CANO_SYNC_NONE;
    o.cleaner_map_bytes = 1 << 16;  /* the default 16 MiB costs ~0.1 s */
    int rc = cano_open(c->store, &o, &c->db);
    child_call(c, C_OPEN, rc);
    if (rc != CANO_OK) {
        if (c->db)
            child_bad(c, "cano_open failed (%d) but left *out non-NULL", rc);
        return;
    }
    int32_t ap = fx_parts(0);
    for (int ti = 0; ti < fx_ntopics(); ti++)
        fx_create(c, ti);
    for (int i = 0; i < (fx_full ? 5 : 3); i++) {
        child_append(c, 0, i % ap, 1);
        if (fx_full)
            child_append(c, 2, 0, 1);
        child_append(c, 1, 0, 1);
    }
    child_append(c, 0, 0, 3);
    child_append(c, 1, 0, 2);
    if (fx_full) {
        child_append(c, 2, 0, 3);
        child_commit(c, "g1", 2, 0);
    }
    child_commit(c, "g1", 0, 0);
    child_trim(c, -1);
    child_call(c, C_MAINTAIN, cano_maintain(c->db));
    if (c->t[1])
        child_call(c, C_COMPACT, cano_compact(c->t[1], 0));
    child_delrec(c, 0, ap - 1, CANO__MAX(c->acked_end[0][ap - 1] - 1, 0));
    for (int i = 0; i < (fx_full ? 2 : 1); i++) {
        child_append(c, 0, i % ap, 1);
        if (fx_full)
            child_append(c, 2, 0, 1);
        child_append(c, 1, 0, 1);
    }
    child_commit(c, "g1", 0, 0);
    child_commit(c, "g2", 1, 0);
    child_call(c, C_SYNC, cano_sync(c->db));
    rc = cano_close(c->db);
    c->db = NULL;
    child_call(c, C_CLOSE, rc);
}

enum { FAULT_IO, FAULT_ALLOC };

typedef struct fx_run {
    int kind;           /* FAULT_IO or FAULT_ALLOC */
    long n;
    int err;
    bool persist;
    const char *store;
} fx_run;

/* The child: inject, run, report whether the fault fired and leaks. */
static void fx_child_main(int fd, const fx_run *run)
{
    fx_child c;
    memset(&c, 0, sizeof c);
    c.fd = fd;
    c.store = run->store;
    c.extra = run->kind == FAULT_ALLOC ? B(CANO_ENOMEM) : 0;
    alarm(60);      /* a hang becomes SIGALRM, which the parent reports */
    long before;
    ev_counter = run->kind == FAULT_IO ? cano__test_io_count
                                       : cano__test_alloc_count;
    if (run->kind == FAULT_IO) {
        before = cano__test_io_count();
        cano__test_io_fail_after(run->n, run->err, run->persist);
    } else {
        before = cano__test_alloc_count();
        cano__test_fail_alloc_after(run->n);
    }
    fx_workload(&c);
    long used = run->kind == FAULT_IO ? cano__test_io_count() - before
                                      : cano__test_alloc_count() - before;
    cano__test_io_fail_after(0, 0, false);
    cano__test_fail_alloc_after(-1);
    fx_ev ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EV_DONE;
    /* Allocation N (0-based) fails; I/O call N (1-based) fails. */
    ev.n = run->kind == FAULT_IO ? used >= run->n : used > run->n;
    ev.id = used;
    ev.rc = __lsan_do_recoverable_leak_check
                ? __lsan_do_recoverable_leak_check() : 0;
    ev.partition = c.fatal_expected;
    ev_send(fd, &ev);
}

/* ------------------------------------------------------------------ */
/* The fault workload (parent side): reopen and check                   */
/* ------------------------------------------------------------------ */

/* Codes after which an append wrote nothing (cano.h, cano_append). */
static bool nothing_written(int rc)
{
    return rc == CANO_EINVAL || rc == CANO_ENOTFOUND || rc == CANO_ETOOBIG ||
           rc == CANO_ENOSPC || rc == CANO_ENOMEM || rc == CANO_EFATAL;
}

/* The append event that tried record id of topic ti, or NULL. */
static const fx_ev *find_attempt(const fx_evs *e, int ti, int64_t id,
                                 size_t *index)
{
    for (size_t i = 0; i < e->n; i++) {
        const fx_ev *ev = &e->v[i];
        if (ev->kind == EV_APPEND && ev->topic == ti && id >= ev->id &&
            id < ev->id + ev->n) {
            if (index)
                *index = i;
            return ev;
        }
    }
    return NULL;
}

/* Index of the last trim event that affects topic ti, or -1. */
static long last_trim(const fx_evs *e, int ti)
{
    long last = -1;
    for (size_t i = 0; i < e->n; i++)
        if (e->v[i].kind == EV_TRIM &&
            (e->v[i].topic == -1 || e->v[i].topic == ti))
            last = (long)i;
    return last;
}

/* Whether a record of key k, attempted after event index i, may have been
 * written (acknowledged, or failed without "nothing was written"). */
static bool later_same_key(const fx_evs *e, int ti, size_t i, int key)
{
    for (size_t j = i + 1; j < e->n; j++) {
        const fx_ev *ev = &e->v[j];
        if (ev->kind != EV_APPEND || ev->topic != ti ||
            (ev->rc != CANO_OK && nothing_written(ev->rc)))
            continue;
        for (int k = 0; k < ev->n; k++)
            if (fx_key_of(ev->id + k) == key)
                return true;
    }
    return false;
}

static void check_partition(const char *tag, fx_fails *f, const fx_evs *e,
                            cano_topic_t *t, int ti, int32_t p)
{
    cano_partition_info pi;
    memset(&pi, 0, sizeof pi);
    pi.size = sizeof pi;
    int rc = cano_partition_stat(t, p, &pi);
    if (rc != CANO_OK) {
        fail_add(f, "%s %s/%d: stat after reopen: %d", tag, FT[ti].name, p,
                 rc);
        return;
    }
    tu_recs got = { 0 };
    rc = tu_read_all(t, p, pi.start_offset, &got);
    if (rc != CANO_OK) {
        fail_add(f, "%s %s/%d: read after reopen: %d (%s)", tag, FT[ti].name,
                 p, rc, cano_last_errmsg());
        tu_recs_free(&got);
        return;
    }
    bool compacted = ft_compacted(ti);
    int64_t prev_off = pi.start_offset - 1, prev_id = -1;
    /* Which records of each append are in the log. */
    size_t *present = calloc(e->n + 1, sizeof *present);
    int64_t *first_at = calloc(e->n + 1, sizeof *first_at);
    if (!present || !first_at)
        abort();
    for (size_t i = 0; i < got.n; i++) {
        const tu_rec_copy *r = &got.v[i];
        int64_t id = fx_id_of(r);
        size_t at = 0;
        const fx_ev *a = id >= 0 ? find_attempt(e, ti, id, &at) : NULL;
        if (!a || a->partition != p) {
            fail_add(f, "%s %s/%d offset %" PRId64 ": a record no append "
                     "wrote here (id %" PRId64 ")", tag, FT[ti].name, p,
                     r->offset, id);
            continue;
        }
        if (!fx_matches(r, ti, compacted, id))
            fail_add(f, "%s %s/%d offset %" PRId64 ": record id %" PRId64
                     " has the wrong content", tag, FT[ti].name, p,
                     r->offset, id);
        if (r->offset <= prev_off || id <= prev_id)
            fail_add(f, "%s %s/%d offset %" PRId64 ": out of order or "
                     "duplicate (id %" PRId64 " after %" PRId64 ")", tag,
                     FT[ti].name, p, r->offset, id, prev_id);
        if (!compacted && r->offset != prev_off + 1)
            fail_add(f, "%s %s/%d: hole before offset %" PRId64, tag,
                     FT[ti].name, p, r->offset);
        prev_off = r->offset;
        prev_id = id;
        if (a->rc == CANO_OK && r->offset != a->offset + (id - a->id))
            fail_add(f, "%s %s/%d: acknowledged id %" PRId64 " is at offset "
                     "%" PRId64 ", was acknowledged at %" PRId64, tag,
                     FT[ti].name, p, id, r->offset, a->offset + (id - a->id));
        if (a->rc != CANO_OK && nothing_written(a->rc))
            fail_add(f, "%s %s/%d offset %" PRId64 ": %s returned %d (%s), "
                     "which promises nothing was written, but its record "
                     "is in the log", tag, FT[ti].name, p, r->offset,
                     call_names[a->call], a->rc, cano_strerror(a->rc));
        if (!present[at]++)
            first_at[at] = r->offset;
    }
    if (!compacted && got.n &&
        prev_off != pi.end_offset - 1)
        fail_add(f, "%s %s/%d: last record at %" PRId64 ", end offset %"
                 PRId64, tag, FT[ti].name, p, prev_off, pi.end_offset);
    long trim = last_trim(e, ti);
    for (size_t i = 0; i < e->n; i++) {
        const fx_ev *a = &e->v[i];
        if (a->kind == EV_DELREC && a->topic == ti && a->partition == p &&
            a->rc == CANO_OK && pi.start_offset < a->offset)
            fail_add(f, "%s %s/%d: log start %" PRId64 " after reopen, but "
                     "delete_records(%" PRId64 ") was acknowledged", tag,
                     FT[ti].name, p, pi.start_offset, a->offset);
        if (a->kind != EV_APPEND || a->topic != ti || a->partition != p)
            continue;
        /* Batches are atomic: a partial one is only allowed when the
         * missing records are below the log start. */
        if (!compacted && present[i] && present[i] != (size_t)a->n &&
            first_at[i] > pi.start_offset)
            fail_add(f, "%s %s/%d: %zu of the %d records of a batch (id %"
                     PRId64 ") are in the log", tag, FT[ti].name, p,
                     present[i], a->n, a->id);
        if (a->rc != CANO_OK || present[i] == (size_t)a->n)
            continue;
        for (int k = 0; k < a->n; k++) {
            int64_t off = a->offset + k, id = a->id + k;
            bool there = false;
            for (size_t j = 0; j < got.n && !there; j++)
                there = got.v[j].offset == off;
            if (there)
                continue;
            if (off < pi.start_offset && (long)i < trim)
                continue;       /* retention or delete_records */
            if (compacted) {
                fx_rec g;
                fx_gen(&g, ti, true, id, 0);
                if (g.tomb || later_same_key(e, ti, i, fx_key_of(id)))
                    continue;   /* compaction */
            }
            fail_add(f, "%s %s/%d: acknowledged record id %" PRId64 " at "
                     "offset %" PRId64 " is missing after reopen (log %"
                     PRId64 "..%" PRId64 ")", tag, FT[ti].name, p, id, off,
                     pi.start_offset, pi.end_offset);
        }
    }
    free(present);
    free(first_at);
    tu_recs_free(&got);
    /* Appends go on at the end offset. */
    fx_rec g;
    fx_gen(&g, ti, compacted, 999999, FX_TS0);
    int64_t off = -1;
    rc = cano_append(t, p, &g.r, NULL, &off);
    if (rc != CANO_OK || off != pi.end_offset)
        fail_add(f, "%s %s/%d: append after reopen: %d at %" PRId64
                 ", want offset %" PRId64, tag, FT[ti].name, p, rc, off,
                 pi.end_offset);
}

static void check_commits(const char *tag, fx_fails *f, const fx_evs *e,
                          cano_t *db)
{
    for (size_t i = 0; i < e->n; i++) {
        const fx_ev *c = &e->v[i];
        if (c->kind != EV_COMMIT || c->rc != CANO_OK)
            continue;
        bool last = true;   /* the last acknowledged one of its key */
        for (size_t j = i + 1; j < e->n && last; j++)
            last = !(e->v[j].kind == EV_COMMIT && e->v[j].rc == CANO_OK &&
                     e->v[j].topic == c->topic && e->v[j].n == c->n &&
                     e->v[j].partition == c->partition);
        if (!last)
            continue;
        char group[8];
        snprintf(group, sizeof group, "g%d", c->n);
        int64_t got = -1;
        int rc = cano_committed(db, group, FT[c->topic].name, c->partition,
                                &got);
        bool ok = rc == CANO_OK && got == c->offset;
        /* A later failed commit may have reached the log. */
        for (size_t j = i + 1; j < e->n && !ok; j++)
            ok = rc == CANO_OK && e->v[j].kind == EV_COMMIT &&
                 e->v[j].topic == c->topic && e->v[j].n == c->n &&
                 e->v[j].partition == c->partition && e->v[j].offset == got;
        if (!ok)
            fail_add(f, "%s: committed(%s, %s, %d) = %d, %" PRId64 "; the "
                     "acknowledged commit was %" PRId64, tag, group,
                     FT[c->topic].name, c->partition, rc, got, c->offset);
    }
}

/* Runs one fault point.  Returns 1 when the fault fired, 0 when the
 * workload ran untouched, -1 on a failure that stops the loop. */
/* Points where a sync failed, so that the EFATAL rule was checked. */
static long fx_fatal_points;

static int fx_run_one(const fx_run *run, fx_fails *f, long *calls_out)
{
    char tag[64];
    snprintf(tag, sizeof tag, "[%s %s%s N=%ld]",
             run->kind == FAULT_IO ? "io" : "alloc",
             run->kind == FAULT_IO ? (run->err == EIO ? "EIO" : "ENOSPC")
                                   : "ENOMEM",
             run->kind == FAULT_IO ? (run->persist ? " persist" : " once")
                                   : "", run->n);
    tu_rmtree(run->store);
    int fds[2];
    if (pipe(fds) != 0) {
        fail_add(f, "%s pipe: %s", tag, strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fail_add(f, "%s fork: %s", tag, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        fx_child_main(fds[1], run);
        _exit(0);
    }
    close(fds[1]);
    fx_evs e = { 0 };
    ev_reader rd = { fds[0], { 0 }, 0 };
    evs_read(&rd, &e, -1);
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (getenv("CANO_FAULTS_TRACE")) {
        static const char *const kinds[] = { "?", "call", "create", "append",
            "commit", "trim", "delrec", "start", "BAD", "done" };
        for (size_t i = 0; i < e.n; i++) {
            const fx_ev *v = &e.v[i];
            printf("%s %3zu %-6s at %4" PRId64 ": %-19s t%d p%d rc %3d "
                   "id %" PRId64 " n %d off %" PRId64 " %s\n", tag, i,
                   kinds[v->kind], v->count,
                   v->kind == EV_CALL || v->kind == EV_APPEND
                       ? call_names[v->call] : "", v->topic, v->partition,
                   v->rc, v->id, v->n, v->offset, v->msg);
        }
        fflush(stdout);
    }
    int result = 1;
    const fx_ev *done = NULL;
    for (size_t i = 0; i < e.n; i++) {
        if (e.v[i].kind == EV_BAD)
            fail_add(f, "%s %s", tag, e.v[i].msg);
        if (e.v[i].kind == EV_DONE)
            done = &e.v[i];
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !done) {
        const char *last = "none";
        for (size_t i = e.n; i-- > 0;)
            if (e.v[i].kind == EV_CALL || e.v[i].kind == EV_APPEND) {
                last = call_names[e.v[i].call];
                break;
            }
        fail_add(f, "%s the workload child %s %d (after %zu events; last "
                 "call reported: %s)%s", tag,
                 WIFSIGNALED(st) ? "was killed by signal" : "exited with",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), e.n,
                 last, WIFEXITED(st) && WEXITSTATUS(st)
                           ? ": a sanitizer report is on stderr" : "");
        free(e.v);
        return -1;
    }
    if (done->rc)
        fail_add(f, "%s LeakSanitizer found leaks in the workload child",
                 tag);
    *calls_out = (long)done->id;
    if (done->partition)
        fx_fatal_points++;
    if (!done->n)
        result = 0;
    /* Reopen without faults and check. */
    cano_t *db = NULL;
    int rc = cano_open(run->store, NULL, &db);
    if (rc != CANO_OK) {
        fail_add(f, "%s reopen failed: %d (%s)", tag, rc,
                 cano_last_errmsg());
        free(e.v);
        return -1;
    }
    for (int ti = 0; ti < FX_NT; ti++) {
        bool created = false, tried = false;
        for (size_t i = 0; i < e.n; i++)
            if (e.v[i].kind == EV_CREATE && e.v[i].topic == ti) {
                tried = true;
                created = e.v[i].rc == CANO_OK;
            }
        cano_topic_t *t = NULL;
        rc = cano_topic_open(db, FT[ti].name, &t);
        if (rc != CANO_OK) {
            if (created || (rc != CANO_ENOTFOUND))
                fail_add(f, "%s topic %s %s but cano_topic_open after "
                         "reopen: %d", tag, FT[ti].name,
                         created ? "was created" : "create failed", rc);
            continue;
        }
        if (!tried) {
            fail_add(f, "%s topic %s exists but was never created", tag,
                     FT[ti].name);
            continue;
        }
        for (int32_t p = 0; p < fx_parts(ti); p++)
            check_partition(tag, f, &e, t, ti, p);
    }
    check_commits(tag, f, &e, db);
    rc = cano_close(db);
    if (rc != CANO_OK)
        fail_add(f, "%s close after the check: %d", tag, rc);
    free(e.v);
    return result;
}

/* What a runner process hands back. */
typedef struct fx_slot {
    int result;
    long calls;
    long fatal;
    int nfails;
    char text[3000];
} fx_slot;

static void fails_merge(fx_fails *f, const fx_slot *s)
{
    int lines = 0;
    for (const char *l = s->text; *l;) {
        const char *nl = strchr(l, '\n');
        int len = nl ? (int)(nl - l) : (int)strlen(l);
        fail_add(f, "%.*s", len, l);
        lines++;
        l += len + (nl ? 1 : 0);
    }
    if (s->nfails > lines)
        f->n += s->nfails - lines;
}

/* Runner processes at a time: 1, or CANO_FAULTS_JOBS (at most 8).  More
 * is slower on some VMs: the workload is mostly mmap/munmap, whose TLB
 * shootdowns get dearer with every CPU in use. */
static int fx_jobs(void)
{
    const char *env = getenv("CANO_FAULTS_JOBS");
    long n = env ? atol(env) : 1;
    return (int)CANO__MAX(1, CANO__MIN(n, 8));
}

/* Every stride-th fault point: 1, or CANO_FAULTS_STRIDE; 4 for the I/O
 * loop in the sanitizer build, where each point costs ~0.2 s. */
static long fx_stride(int kind)
{
    const char *env = getenv("CANO_FAULTS_STRIDE");
    if (env && atol(env) > 0)
        return atol(env);
    return kind == FAULT_IO && __lsan_do_recoverable_leak_check ? 4 : 1;
}

/* Runs N = first, first+stride, ... until the workload runs untouched,
 * several N at a time (each in its own runner process and store); returns
 * the number of points where the fault fired. */
static long fx_loop(int kind, int err, bool persist, fx_fails *f,
                    long *calls_out)
{
    int jobs = fx_jobs();
    long stride = fx_stride(kind);
    fx_slot *slots = mmap(NULL, (size_t)jobs * sizeof *slots,
                          PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                          -1, 0);
    ck_assert(slots != MAP_FAILED);
    long fired = 0;
    const char *only = getenv("CANO_FAULTS_N");   /* debugging: one N */
    long n = only ? atol(only) : kind == FAULT_IO ? 1 : 0;
    if (only)
        jobs = 1;
    for (bool stop = false; !stop; n += jobs * stride) {
        pid_t pids[8];
        for (int j = 0; j < jobs; j++) {
            memset(&slots[j], 0, sizeof slots[j]);
            slots[j].result = -2;
            fflush(stdout);
            fflush(stderr);
            pids[j] = fork();
            ck_assert_int_ge(pids[j], 0);
            if (pids[j] == 0) {
                char path[TU_PATH_MAX];
                tu_path(path, "%s/store%d", dir, j);
                fx_run run = { kind, n + j * stride, err, persist, path };
                fx_fails lf;
                memset(&lf, 0, sizeof lf);
                long calls = 0;
                fx_fatal_points = 0;
                int r = fx_run_one(&run, &lf, &calls);
                tu_rmtree(path);
                slots[j].calls = calls;
                slots[j].fatal = fx_fatal_points;
                slots[j].nfails = lf.n;
                snprintf(slots[j].text, sizeof slots[j].text, "%.2990s", lf.text);
                slots[j].result = r;
                _exit(0);
            }
        }
        for (int j = 0; j < jobs; j++) {
            int st = 0;
            while (waitpid(pids[j], &st, 0) < 0 && errno == EINTR)
                ;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
                slots[j].result == -2) {
                snprintf(slots[j].text, sizeof slots[j].text,
                         "[N=%ld] the runner process died (status %d)",
                         n + j * stride, st);
                slots[j].nfails = 1;
                slots[j].result = -1;
            }
        }
        for (int j = 0; j < jobs && !stop; j++) {
            fails_merge(f, &slots[j]);
            fx_fatal_points += slots[j].fatal;
            if (slots[j].result == 0 || only) {
                *calls_out = slots[j].calls;
                fired += slots[j].result != 0;
                stop = true;
                break;
            }
            fired++;
            if ((slots[j].result < 0 && f->n > 30) || n > 100000) {
                if (n > 100000)
                    fail_add(f, "the fault loop does not end");
                stop = true;
            }
        }
    }
    munmap(slots, (size_t)jobs * sizeof *slots);
    return fired;
}

START_TEST(test_faults_io_every_call_fails_in_turn)
{
    fx_mode_init();
    fx_fails f = { .n = 0 };
    long total = 0, calls = 0;
    const int errs[2] = { EIO, ENOSPC };
    char line[256] = "";
    for (int ei = 0; ei < 2; ei++)
        for (int persist = 0; persist < 2; persist++) {
            long n = fx_loop(FAULT_IO, errs[ei], persist, &f, &calls);
            total += n;
            size_t l = strlen(line);
            snprintf(line + l, sizeof line - l, " %s/%s=%ld",
                     ei ? "ENOSPC" : "EIO", persist ? "persist" : "once", n);
        }
    printf("faults: I/O fault injection exercised %ld points (%ld fallible "
           "I/O calls in the workload%s;%s); %ld of them failed a sync and "
           "were checked for CANO_EFATAL\n", total, calls,
           fx_stride(FAULT_IO) > 1 ? ", sampled" : "", line,
           fx_fatal_points);
    fflush(stdout);
    teardown();     /* now: a failing check skips the fixture's teardown */
    ck_assert_msg(f.n == 0, "%d failures, first ones:\n%s", f.n, f.text);
    if (!getenv("CANO_FAULTS_N"))
        ck_assert_int_gt(total, 50);
}
END_TEST

START_TEST(test_faults_alloc_every_allocation_fails_in_turn)
{
    fx_mode_init();
    fx_fails f = { .n = 0 };
    long calls = 0;
    long total = fx_loop(FAULT_ALLOC, ENOMEM, false, &f, &calls);
    printf("faults: allocation fault injection exercised %ld points (%ld "
           "allocations in the workload)%s\n", total, calls,
           __lsan_do_recoverable_leak_check ? ", leak-checked" : "");
    fflush(stdout);
    teardown();     /* now: a failing check skips the fixture's teardown */
    ck_assert_msg(f.n == 0, "%d failures, first ones:\n%s", f.n, f.text);
    if (!getenv("CANO_FAULTS_N"))
        ck_assert_int_gt(total, 20);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Crash torture                                                        */
/* ------------------------------------------------------------------ */

typedef struct tt_topic {
    const char *name;
    uint32_t policy;
    int32_t sync_mode;
    int32_t partitions;
    int64_t retention_ms;
    int64_t retention_bytes;
} tt_topic;

#define TT_NT 5
#define TT_MAXP 2
#define TT_SEG 600
#define TT_ID_ROUND 10000000LL   /* ids of round r: r * TT_ID_ROUND + i */
static const tt_topic TT[TT_NT] = {
    { "ad", CANO_CLEANUP_DELETE, CANO_SYNC_ALWAYS, 2, -1, 3000 },
    { "nd", CANO_CLEANUP_DELETE, CANO_SYNC_NONE, 2, 0, -1 },
    { "ac", CANO_CLEANUP_COMPACT, CANO_SYNC_ALWAYS, 1, -1, -1 },
    { "nc", CANO_CLEANUP_COMPACT | CANO_CLEANUP_DELETE, CANO_SYNC_NONE, 1,
      -1, 5000 },
    { "id", CANO_CLEANUP_DELETE, CANO_SYNC_INTERVAL, 1, -1, 4000 },
};

static bool tt_compacted(int ti)
{
    return (TT[ti].policy & CANO_CLEANUP_COMPACT) != 0;
}

static void tt_options(cano_options *o)
{
    cano_options_init(o, sizeof *o);
    o->sync_mode = CANO_SYNC_NONE;
    o->sync_interval_ms = 3;
    o->cleaner_map_bytes = 1 << 16;
}

/* The writer: appends, batches, commits, maintenance, compaction,
 * delete_records and syncs in a seeded random mix, until killed. */
static void tt_writer(int fd, int round, uint32_t seed)
{
    fx_child c;     /* for child_bad */
    memset(&c, 0, sizeof c);
    c.fd = fd;
    alarm(30);
    cano_options o;
    tt_options(&o);
    cano_t *db = NULL;
    int rc = cano_open(store, &o, &db);
    if (rc != CANO_OK) {
        child_bad(&c, "writer: cano_open: %d (%s)", rc, cano_last_errmsg());
        _exit(3);
    }
    cano_topic_t *t[TT_NT];
    int64_t next[TT_NT][TT_MAXP], end[TT_NT][TT_MAXP];
    for (int ti = 0; ti < TT_NT; ti++) {
        rc = cano_topic_open(db, TT[ti].name, &t[ti]);
        if (rc != CANO_OK) {
            child_bad(&c, "writer: topic_open %s: %d", TT[ti].name, rc);
            _exit(3);
        }
        for (int32_t p = 0; p < TT[ti].partitions; p++) {
            next[ti][p] = (int64_t)round * TT_ID_ROUND;
            cano_partition_info pi;
            memset(&pi, 0, sizeof pi);
            pi.size = sizeof pi;
            rc = cano_partition_stat(t[ti], p, &pi);
            if (rc != CANO_OK) {
                child_bad(&c, "writer: stat %s/%d: %d", TT[ti].name, p, rc);
                _exit(3);
            }
            end[ti][p] = pi.end_offset;
            fx_ev ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = EV_START;
            ev.topic = ti;
            ev.partition = p;
            ev.offset = end[ti][p];
            ev_send(fd, &ev);
        }
    }
    uint32_t rs = seed * 2654435761u + (uint32_t)round * 40503u + 1;
    for (long op = 0; op < 10000000; op++) {
        uint32_t x = tu_rand(&rs) % 1000;
        int ti = (int)(tu_rand(&rs) % TT_NT);
        int32_t p = (int32_t)(tu_rand(&rs) % (uint32_t)TT[ti].partitions);
        fx_ev ev;
        memset(&ev, 0, sizeof ev);
        ev.topic = ti;
        ev.partition = p;
        if (x < 850) {
            int n = x < 700 ? 1 : 2 + (int)(tu_rand(&rs) % 4);
            fx_rec g[8];
            cano_record recs[8];
            int64_t id = next[ti][p];
            for (int i = 0; i < n; i++) {
                fx_gen(&g[i], ti, tt_compacted(ti), id + i, 0);
                recs[i] = g[i].r;
            }
            next[ti][p] += n;
            int64_t off = -1;
            rc = n == 1 ? cano_append(t[ti], p, &recs[0], NULL, &off)
                        : cano_append_batch(t[ti], p, recs, (size_t)n, &off);
            if (rc != CANO_OK || off != end[ti][p]) {
                child_bad(&c, "writer: append to %s/%d: %d at %" PRId64
                          ", want %" PRId64 " (%s)", TT[ti].name, p, rc, off,
                          end[ti][p], cano_last_errmsg());
                _exit(4);
            }
            end[ti][p] += n;
            ev.kind = EV_APPEND;
            ev.id = id;
            ev.n = n;
            ev.offset = off;
        } else if (x < 880) {
            if (tt_compacted(ti))
                continue;
            rc = cano_commit(db, "g", TT[ti].name, p, end[ti][p]);
            if (rc != CANO_OK) {
                child_bad(&c, "writer: commit: %d (%s)", rc,
                          cano_last_errmsg());
                _exit(4);
            }
            ev.kind = EV_COMMIT;
            ev.offset = end[ti][p];
        } else if (x < 900) {
            rc = cano_maintain(db);
            if (rc != CANO_OK) {
                child_bad(&c, "writer: maintain: %d (%s)", rc,
                          cano_last_errmsg());
                _exit(4);
            }
            continue;
        } else if (x < 920) {
            ti = tu_rand(&rs) % 2 ? 2 : 3;
            rc = cano_compact(t[ti], 0);
            if (rc != CANO_OK) {
                child_bad(&c, "writer: compact %s: %d (%s)", TT[ti].name, rc,
                          cano_last_errmsg());
                _exit(4);
            }
            continue;
        } else if (x < 930) {
            ti = 1;
            int64_t back = (int64_t)(tu_rand(&rs) % 20);
            int64_t before = CANO__MAX(end[ti][p] - back, 0);
            rc = cano_delete_records(t[ti], p, before);
            if (rc != CANO_OK) {
                child_bad(&c, "writer: delete_records: %d (%s)", rc,
                          cano_last_errmsg());
                _exit(4);
            }
            ev.kind = EV_DELREC;
            ev.topic = ti;
            ev.offset = before;
        } else if (x < 940) {
            rc = cano_sync(db);
            if (rc != CANO_OK) {
                child_bad(&c, "writer: sync: %d (%s)", rc,
                          cano_last_errmsg());
                _exit(4);
            }
            continue;
        } else {
            continue;
        }
        ev_send(fd, &ev);
    }
    _exit(0);       /* ran out of work: an unclean stop all the same */
}

typedef struct tt_part {
    int64_t *off, *ids;     /* the log after the last check */
    size_t n;
    int64_t end;
    int64_t committed;      /* last acknowledged commit, -1: none */
    int64_t min_start;      /* last acknowledged delete_records */
} tt_part;

static int64_t snap_find(const tt_part *s, int64_t off)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->off[mid] == off)
            return s->ids[mid];
        if (s->off[mid] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Checks one partition after round `round`; replaces the snapshot. */
static void tt_check(fx_fails *f, int round, const fx_evs *e, cano_t *db,
                     cano_topic_t *t, int ti, int32_t p, tt_part *s)
{
    char tag[64];
    snprintf(tag, sizeof tag, "[round %d %s/%d]", round, TT[ti].name, p);
    bool compacted = tt_compacted(ti);
    int64_t base = (int64_t)round * TT_ID_ROUND;
    cano_partition_info pi = tu_stat(t, p);
    tu_recs got = { 0 };
    int rc = tu_read_all(t, p, pi.start_offset, &got);
    if (rc != CANO_OK) {
        fail_add(f, "%s read after reopen: %d (%s)", tag, rc,
                 cano_last_errmsg());
        tu_recs_free(&got);
        return;
    }
    if (pi.end_offset < s->end)
        fail_add(f, "%s end offset went back from %" PRId64 " to %" PRId64,
                 tag, s->end, pi.end_offset);
    if (pi.start_offset < s->min_start || pi.start_offset > pi.end_offset)
        fail_add(f, "%s log start %" PRId64 ": acknowledged delete_records "
                 "%" PRId64 ", end %" PRId64, tag, pi.start_offset,
                 s->min_start, pi.end_offset);
    /* Where each key was last seen, for "compaction may remove it". */
    int64_t key_last[FX_KEYS];
    for (int k = 0; k < FX_KEYS; k++)
        key_last[k] = -1;
    int64_t prev_off = pi.start_offset - 1, prev_id = -1;
    for (size_t i = 0; i < got.n; i++) {
        const tu_rec_copy *r = &got.v[i];
        int64_t id = fx_id_of(r);
        if (id < 0 || !fx_matches(r, ti, compacted, id)) {
            fail_add(f, "%s offset %" PRId64 ": garbage (id %" PRId64 ")",
                     tag, r->offset, id);
            continue;
        }
        if (r->offset <= prev_off || id <= prev_id)
            fail_add(f, "%s offset %" PRId64 ": duplicate or out of order",
                     tag, r->offset);
        if (!compacted && r->offset != prev_off + 1)
            fail_add(f, "%s hole before offset %" PRId64, tag, r->offset);
        prev_off = r->offset;
        prev_id = id;
        if (compacted)
            key_last[fx_key_of(id)] = r->offset;
        if (r->offset < s->end) {
            int64_t was = snap_find(s, r->offset);
            if (was != id)
                fail_add(f, "%s offset %" PRId64 " holds id %" PRId64
                         ", held %" PRId64 " before this round", tag,
                         r->offset, id, was);
        } else if (id != base + (r->offset - s->end)) {
            /* The writer's records, in order from the old end: a prefix
             * of what it appended, with nothing lost or repeated. */
            fail_add(f, "%s offset %" PRId64 " holds id %" PRId64 ", want %"
                     PRId64 " (not a prefix of the appends)", tag, r->offset,
                     id, base + (r->offset - s->end));
        }
    }
    if (!compacted && prev_off != pi.end_offset - 1)
        fail_add(f, "%s last record at %" PRId64 ", end offset %" PRId64,
                 tag, prev_off, pi.end_offset);
    /* Everything there before this round, at or above the start, is still
     * there unless compaction superseded it. */
    size_t j = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->off[i] < pi.start_offset)
            continue;
        while (j < got.n && got.v[j].offset < s->off[i])
            j++;
        if (j < got.n && got.v[j].offset == s->off[i])
            continue;
        if (compacted) {
            fx_rec g;
            fx_gen(&g, ti, true, s->ids[i], 0);
            if (g.tomb || key_last[fx_key_of(s->ids[i])] > s->off[i])
                continue;
        }
        fail_add(f, "%s offset %" PRId64 " (id %" PRId64 ") was there before "
                 "this round and is gone", tag, s->off[i], s->ids[i]);
    }
    /* Every acknowledged append of this round. */
    int64_t acked_end = s->end;
    for (size_t i = 0; i < e->n; i++) {
        const fx_ev *a = &e->v[i];
        if (a->topic != ti || a->partition != p)
            continue;
        if (a->kind == EV_START && a->offset != s->end)
            fail_add(f, "%s the writer opened at end offset %" PRId64
                     ", the check before saw %" PRId64, tag, a->offset,
                     s->end);
        if (a->kind == EV_DELREC && a->offset > s->min_start)
            s->min_start = a->offset;
        if (a->kind == EV_COMMIT)
            s->committed = a->offset;
        if (a->kind != EV_APPEND)
            continue;
        if (a->offset != s->end + (a->id - base))
            fail_add(f, "%s id %" PRId64 " was acknowledged at %" PRId64
                     ", want %" PRId64, tag, a->id, a->offset,
                     s->end + (a->id - base));
        acked_end = CANO__MAX(acked_end, a->offset + a->n);
        for (int k = 0; k < a->n; k++) {
            int64_t off = a->offset + k, id = a->id + k;
            if (off < pi.start_offset)
                continue;
            bool there = false;
            size_t lo = 0, hi = got.n;
            while (lo < hi && !there) {
                size_t mid = (lo + hi) / 2;
                if (got.v[mid].offset == off)
                    there = true;
                else if (got.v[mid].offset < off)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (there)
                continue;
            if (compacted) {
                fx_rec g;
                fx_gen(&g, ti, true, id, 0);
                if (g.tomb || key_last[fx_key_of(id)] > off)
                    continue;
            }
            fail_add(f, "%s acknowledged id %" PRId64 " at offset %" PRId64
                     " is missing (log %" PRId64 "..%" PRId64 ")", tag, id,
                     off, pi.start_offset, pi.end_offset);
        }
    }
    if (pi.end_offset < acked_end)
        fail_add(f, "%s end offset %" PRId64 " is below the acknowledged "
                 "end %" PRId64, tag, pi.end_offset, acked_end);
    if (pi.start_offset < s->min_start)
        fail_add(f, "%s log start %" PRId64 " is below the acknowledged "
                 "delete_records(%" PRId64 ")", tag, pi.start_offset,
                 s->min_start);
    if (s->committed >= 0) {
        int64_t c = -1;
        rc = cano_committed(db, "g", TT[ti].name, p, &c);
        if (rc != CANO_OK || c < s->committed || c > pi.end_offset)
            fail_add(f, "%s committed: %d, %" PRId64 "; acknowledged %"
                     PRId64, tag, rc, c, s->committed);
        if (rc == CANO_OK)
            s->committed = c;
    }
    /* The new snapshot. */
    free(s->off);
    free(s->ids);
    s->off = malloc((got.n + 1) * sizeof *s->off);
    s->ids = malloc((got.n + 1) * sizeof *s->ids);
    ck_assert(s->off && s->ids);
    s->n = 0;
    for (size_t i = 0; i < got.n; i++) {
        int64_t id = fx_id_of(&got.v[i]);
        if (id < 0)
            continue;
        s->off[s->n] = got.v[i].offset;
        s->ids[s->n++] = id;
    }
    s->end = pi.end_offset;
    tu_recs_free(&got);
}

static int torture_rounds(void)
{
    const char *env = getenv("CANO_TORTURE_ROUNDS");
    if (env && *env) {
        long n = strtol(env, NULL, 10);
        if (n > 0 && n < 10000000)
            return (int)n;
    }
    return 120;     /* ~8 s */
}

START_TEST(test_faults_crash_torture)
{
    int rounds = torture_rounds();
    const char *seed_env = getenv("CANO_TORTURE_SEED");
    uint32_t seed = seed_env ? (uint32_t)strtoul(seed_env, NULL, 10)
                             : 20240601u;
    {
        cano_options o;
        tt_options(&o);
        cano_t *db = NULL;
        ck_assert_int_eq(cano_open(store, &o, &db), CANO_OK);
        for (int ti = 0; ti < TT_NT; ti++) {
            cano_topic_config cfg;
            cano_topic_config_init(&cfg, sizeof cfg);
            cfg.partitions = TT[ti].partitions;
            cfg.segment_bytes = TT_SEG;
            cfg.cleanup_policy = TT[ti].policy;
            cfg.sync_mode = TT[ti].sync_mode;
            cfg.retention_ms = TT[ti].retention_ms;
            cfg.retention_bytes = TT[ti].retention_bytes;
            cfg.index_interval_bytes = 150;
            cfg.min_cleanable_dirty_ratio = 0.3;
            tu_create(db, TT[ti].name, &cfg);
        }
        ck_assert_int_eq(cano_close(db), CANO_OK);
    }
    tt_part parts[TT_NT][TT_MAXP];
    memset(parts, 0, sizeof parts);
    for (int ti = 0; ti < TT_NT; ti++)
        for (int p = 0; p < TT_MAXP; p++)
            parts[ti][p].committed = -1;
    fx_fails f = { .n = 0 };
    uint32_t rs = seed;
    int done = 0;
    long acked = 0, events = 0;
    int64_t t0 = mono_ms();
    for (int round = 1; round <= rounds && f.n == 0; round++) {
        int delay = 1 + (int)(tu_rand(&rs) % 60);
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            tt_writer(fds[1], round, seed);
            _exit(0);
        }
        close(fds[1]);
        fx_evs e = { 0 };
        ev_reader rd = { fds[0], { 0 }, 0 };
        int eof = evs_read(&rd, &e, mono_ms() + delay);
        kill(pid, SIGKILL);
        if (!eof)
            evs_read(&rd, &e, -1);
        close(fds[0]);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        for (size_t i = 0; i < e.n; i++) {
            if (e.v[i].kind == EV_BAD)
                fail_add(&f, "[round %d] %s", round, e.v[i].msg);
            if (e.v[i].kind == EV_APPEND)
                acked += e.v[i].n;
        }
        events += (long)e.n;
        if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) &&
            !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            fail_add(&f, "[round %d] the writer %s %d", round,
                     WIFSIGNALED(st) ? "died of signal" : "exited with",
                     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        cano_options o;
        tt_options(&o);
        cano_t *db = NULL;
        int rc = cano_open(store, &o, &db);
        if (rc != CANO_OK) {
            fail_add(&f, "[round %d] reopen after the kill: %d (%s)", round,
                     rc, cano_last_errmsg());
            free(e.v);
            break;
        }
        for (int ti = 0; ti < TT_NT; ti++) {
            cano_topic_t *t = tu_topic(db, TT[ti].name);
            for (int32_t p = 0; p < TT[ti].partitions; p++)
                tt_check(&f, round, &e, db, t, ti, p, &parts[ti][p]);
        }
        rc = cano_close(db);
        if (rc != CANO_OK)
            fail_add(&f, "[round %d] close after the check: %d", round, rc);
        free(e.v);
        done = round;
    }
    for (int ti = 0; ti < TT_NT; ti++)
        for (int p = 0; p < TT_MAXP; p++) {
            free(parts[ti][p].off);
            free(parts[ti][p].ids);
        }
    printf("faults: crash torture ran %d of %d rounds (seed %u, %ld "
           "acknowledged records, %ld events, %.1f s)\n", done, rounds, seed,
           acked, events, (double)(mono_ms() - t0) / 1000.0);
    fflush(stdout);
    teardown();     /* now: a failing check skips the fixture's teardown */
    ck_assert_msg(f.n == 0, "%d failures, first ones:\n%s", f.n, f.text);
    ck_assert_int_eq(done, rounds);
}
END_TEST

Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("io");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_faults_io_every_call_fails_in_turn);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_faults_alloc_every_allocation_fails_in_turn);
    suite_add_tcase(s, tc);

    tc = tcase_create("crash");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60 + 5 * torture_rounds());
    tcase_add_test(tc, test_faults_crash_torture);
    suite_add_tcase(s, tc);
    return s;
}
