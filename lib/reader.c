/* reader.c - reading a partition: cano_read (callback) and readers
 * (cursors that can wait for new records). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include "store.h"

struct cano_reader {
    struct cano      *db;
    struct cano_topic *topic;
    cano__partition  *part;
    cano__cursor      cur;
    _Atomic bool      closed;
    _Atomic uint32_t  flags;       /* CANO_READER_* */
    _Atomic int       refs;        /* the handle + a call in progress */
};

static int check_offset(cano__partition *p, int64_t offset, int64_t *start,
                        int64_t *end)
{
    *start = atomic_load(&p->start_offset);
    *end = atomic_load(&p->end_offset);
    if (offset < *start || offset > *end)
        return cano__err(CANO_EOFFSET, "offset %" PRId64 " is outside "
                         "[%" PRId64 ", %" PRId64 "]", offset, *start, *end);
    return CANO_OK;
}

int cano_read(cano_topic_t *t, int32_t partition, int64_t offset,
              size_t max_records, cano_record_fn fn, void *ctx)
{
    cano__err_clear();
    cano__partition *p = NULL;
    int rc = cano__topic_partition(t, partition, &p);
    if (rc != CANO_OK)
        return rc;
    if (!fn)
        return cano__err(CANO_EINVAL, "NULL callback");
    int64_t start, end;
    rc = check_offset(p, offset, &start, &end);
    if (rc != CANO_OK)
        return rc;
    if (max_records > INT_MAX)
        max_records = INT_MAX;
    cano__cursor c;
    cano_record rec;
    cano__cursor_init(&c, p, offset);
    int count = 0;
    while ((size_t)count < max_records &&
           (rc = cano__cursor_next(&c, end, &rec)) == 1) {
        count++;
        if (fn(ctx, &rec))
            break;
    }
    cano__cursor_release(&c);
    return rc < 0 ? rc : count;
}

/* Turns EARLIEST/LATEST into an offset and checks the range. */
static int resolve(cano__partition *p, int64_t offset, int64_t *out)
{
    int64_t start, end;
    if (offset == CANO_OFFSET_EARLIEST)
        offset = atomic_load(&p->start_offset);
    else if (offset == CANO_OFFSET_LATEST)
        offset = atomic_load(&p->end_offset);
    else if (offset < 0)
        return cano__err(CANO_EINVAL, "bad offset %" PRId64, offset);
    int rc = check_offset(p, offset, &start, &end);
    if (rc == CANO_OK)
        *out = offset;
    return rc;
}

int cano_reader_open(cano_topic_t *t, int32_t partition, int64_t offset,
                     cano_reader_t **out)
{
    cano__err_clear();
    if (out)
        *out = NULL;
    cano__partition *p = NULL;
    int rc = cano__topic_partition(t, partition, &p);
    if (rc != CANO_OK)
        return rc;
    if (!out)
        return cano__err(CANO_EINVAL, "NULL out");
    rc = resolve(p, offset, &offset);
    if (rc != CANO_OK)
        return rc;
    struct cano_reader *r = cano__calloc(1, sizeof *r);
    if (!r)
        return cano__err(CANO_ENOMEM, "reader");
    r->db = t->db;
    r->topic = t;
    r->part = p;
    atomic_init(&r->refs, 1);
    cano__cursor_init(&r->cur, p, offset);
    atomic_fetch_add(&t->db->refs, 1);
    *out = r;
    return CANO_OK;
}

static void reader_unref(struct cano_reader *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    struct cano *db = r->db;
    cano__cursor_release(&r->cur);
    cano__free(r);
    cano__store_unref(db);
}

/* Why a reader cannot go on, or CANO_OK. */
static int reader_usable(struct cano_reader *r)
{
    if (atomic_load(&r->closed))
        return cano__err(CANO_ECLOSED, "reader is closed");
    if (atomic_load(&r->db->closed))
        return cano__err(CANO_ECLOSED, "store is closed");
    if (atomic_load(&r->topic->deleted))
        return cano__err(CANO_ENOTFOUND, "topic was deleted");
    return CANO_OK;
}

static int reader_next(struct cano_reader *r, cano_record *out,
                       int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1
                     : cano__mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        int rc = reader_usable(r);
        if (rc != CANO_OK)
            return rc;
        bool durable = atomic_load(&r->flags) & CANO_READER_DURABLE;
        int64_t start = atomic_load(&r->part->start_offset);
        int64_t end = atomic_load(durable ? &r->part->durable_offset
                                          : &r->part->end_offset);
        if (r->cur.next < start)
            return cano__err(CANO_EOFFSET, "position %" PRId64 " is below "
                             "the log start %" PRId64, r->cur.next, start);
        rc = cano__cursor_next(&r->cur, end, out);
        if (rc == 1)
            return CANO_OK;
        if (rc < 0)
            return rc;
        if (timeout_ms == 0)
            return CANO_ETIMEDOUT;
        rc = cano__part_wait(r->part, end, durable, deadline, &r->closed,
                             &r->db->closed);
        if (rc != CANO_OK)
            return rc == CANO_ETIMEDOUT ? rc : reader_usable(r);
    }
}

int cano_reader_next(cano_reader_t *r, cano_record *out, int timeout_ms)
{
    cano__err_clear();
    if (!r || !out)
        return cano__err(CANO_EINVAL, "NULL argument");
    atomic_fetch_add(&r->refs, 1);
    int rc = reader_next(r, out, timeout_ms);
    reader_unref(r);
    return rc;
}

int cano_reader_seek(cano_reader_t *r, int64_t offset)
{
    cano__err_clear();
    if (!r)
        return cano__err(CANO_EINVAL, "NULL reader");
    int rc = reader_usable(r);
    if (rc == CANO_OK)
        rc = resolve(r->part, offset, &offset);
    if (rc == CANO_OK)
        cano__cursor_seek(&r->cur, offset);
    return rc;
}

int cano_reader_set_flags(cano_reader_t *r, uint32_t flags)
{
    cano__err_clear();
    if (!r || (flags & ~CANO_READER_DURABLE))
        return cano__err(CANO_EINVAL, "NULL reader or unknown flags");
    atomic_store(&r->flags, flags);
    return CANO_OK;
}

int64_t cano_reader_position(cano_reader_t *r)
{
    if (!r)
        return cano__err(CANO_EINVAL, "NULL reader");
    return r->cur.next;
}

void cano_reader_close(cano_reader_t *r)
{
    if (!r || atomic_exchange(&r->closed, true))
        return;
    cano__part_wake_all(r->part);
    reader_unref(r);
}
