/* recovery.c - validating an active segment after an unclean stop.
 *
 * Everything before the header's flush point was on stable storage and is
 * trusted.  From there, batches are checked one by one (framing, checksum,
 * every record, offsets increasing) up to the first that fails.  What
 * follows is cut off; when it holds anything but zeros (the preallocated
 * tail) those bytes are first copied to <base>.log.<pos>.corrupt, so nothing
 * is deleted silently.  The cut must truncate the file: stale bytes left
 * behind could otherwise pass as valid batches after later appends. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include "io.h"
#include "segment.h"

/* Position just after the last non-zero byte in [from, to). */
static uint64_t last_nonzero(const uint8_t *p, uint64_t from, uint64_t to)
{
    while (to > from && p[to - 1] == 0)
        to--;
    return to;
}

static int set_aside(cano__segment *s, uint64_t from, uint64_t to,
                     cano__seg_recovery *rep)
{
    char path[4200];
    int fd;
    snprintf(path, sizeof path, "%s.log.%" PRIu64 ".corrupt", s->stem, from);
    int rc = cano__io_open(path, O_WRONLY | O_CREAT | O_TRUNC,
                           s->lim.file_mode, &fd);
    if (rc == CANO_OK)
        rc = cano__io_pwrite(fd, s->log + from, to - from, 0, path);
    if (rc == CANO_OK)
        rc = cano__io_fsync(fd, path);
    cano__io_close(fd);
    if (rc == CANO_OK)
        rep->files_set_aside++;
    return rc;
}

static int truncate_log(cano__segment *s, uint64_t len)
{
    char path[4200];
    int fd;
    cano__seg_path(s, CANO__SEG_F_LOG, path, sizeof path);
    int rc = cano__io_open(path, O_RDWR, 0, &fd);
    if (rc == CANO_OK)
        rc = cano__io_truncate(fd, len, path);
    if (rc == CANO_OK)
        rc = cano__io_fsync(fd, path);
    cano__io_close(fd);
    if (rc == CANO_OK)
        s->log_size = len;
    return rc;
}

/* Keeps the index entries that describe data before pos (and zeroes the
 * rest, so stale entries can never look valid later); false when an index
 * file cannot be trusted at all and must be rebuilt. */
static bool keep_index_prefix(cano__segment *s, uint64_t pos, int64_t next,
                              int64_t max_ts)
{
    if (!cano__idx_header_ok(s->oidx, s->oidx_size, CANO__OIDX_MAGIC,
                             s->base) ||
        !cano__idx_header_ok(s->tidx, s->tidx_size, CANO__TIDX_MAGIC,
                             s->base))
        return false;
    uint8_t *oe = s->oidx + CANO__IDX_HEADER, *te = s->tidx + CANO__IDX_HEADER;
    uint32_t no = (uint32_t)((s->oidx_size - CANO__IDX_HEADER) /
                             CANO__OIDX_ENTRY);
    uint32_t nt = (uint32_t)((s->tidx_size - CANO__IDX_HEADER) /
                             CANO__TIDX_ENTRY);
    uint32_t vo = cano__oidx_valid(oe, no, (uint32_t)pos);
    uint32_t vt = cano__tidx_valid(te, nt, (uint32_t)(next - s->base),
                                   max_ts);
    memset(oe + (size_t)vo * CANO__OIDX_ENTRY, 0,
           (size_t)(no - vo) * CANO__OIDX_ENTRY);
    memset(te + (size_t)vt * CANO__TIDX_ENTRY, 0,
           (size_t)(nt - vt) * CANO__TIDX_ENTRY);
    atomic_store(&s->n_oidx, vo);
    atomic_store(&s->n_tidx, vt);
    uint64_t last = vo ? cano__oidx_pos(oe, vo - 1) : CANO__SEG_HEADER;
    s->since_index = pos - last;
    s->last_tidx_ts = vt ? cano__tidx_ts(te, vt - 1) : INT64_MIN;
    return true;
}

static int reset_indexes(cano__segment *s, cano__seg_recovery *rep)
{
    /* A file shorter than its header (a crash while creating it) is
     * rewritten first: the mapping must not be touched past the file's end. */
    if (s->oidx_size < CANO__IDX_HEADER || s->tidx_size < CANO__IDX_HEADER) {
        int rc = cano__seg_create_index(s, CANO__SEG_F_OIDX, CANO__OIDX_MAGIC);
        if (rc == CANO_OK)
            rc = cano__seg_create_index(s, CANO__SEG_F_TIDX,
                                        CANO__TIDX_MAGIC);
        if (rc != CANO_OK)
            return rc;
        s->oidx_size = s->tidx_size = CANO__IDX_HEADER;
    }
    memset(s->oidx, 0, CANO__MIN(s->oidx_size, s->oidx_map));
    memset(s->tidx, 0, CANO__MIN(s->tidx_size, s->tidx_map));
    cano__idx_header(s->oidx, CANO__OIDX_MAGIC, s->base);
    cano__idx_header(s->tidx, CANO__TIDX_MAGIC, s->base);
    atomic_store(&s->n_oidx, 0);
    atomic_store(&s->n_tidx, 0);
    s->since_index = 0;
    s->last_tidx_ts = INT64_MIN;
    rep->indexes_rebuilt++;
    return CANO_OK;
}

/* A crash between creating a segment's file and writing its header leaves
 * a file shorter than the header, or one of zeros. */
static bool half_created(const cano__segment *s)
{
    if (s->log_size < CANO__SEG_HEADER)
        return true;
    return last_nonzero(s->log, 0, s->log_size) == 0;
}

int cano__seg_recover(cano__segment *s, bool full, cano__seg_recovery *rep)
{
    memset(rep, 0, sizeof *rep);
    s->indexes_checked = true;
    if (half_created(s)) {
        rep->half_created = 1;
        cano__seg_unmap(s);
        int rc = cano__seg_create(s);
        return rc == CANO_OK ? cano__seg_map(s) : rc;
    }
    cano__seg_header h;
    uint64_t pos = CANO__SEG_HEADER;
    int64_t next = s->base, max_ts = -1;
    if (!full && cano__seg_header_decode(s->log, s->log_size, s->base, &h) &&
        CANO__SEG_HEADER + h.flushed_len <= s->log_size) {
        pos += h.flushed_len;
        next = h.flushed_next;
        max_ts = h.flushed_max_ts;
        s->log_max_ts = CANO__MAX(h.log_max_ts, h.flushed_max_ts);
    }
    if (!keep_index_prefix(s, pos, next, max_ts)) {
        int rc = reset_indexes(s, rep);
        if (rc != CANO_OK)
            return rc;
        pos = CANO__SEG_HEADER;
        next = s->base;
        max_ts = -1;
    }
    uint64_t start = pos;
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    cano__batch_info b;
    atomic_store(&s->end, pos);
    s->next_offset = next;
    s->max_ts = max_ts;
    s->first_ts = -1;
    if (pos > CANO__SEG_HEADER &&
        cano__batch_parse(s->log + CANO__SEG_HEADER,
                          s->log_size - CANO__SEG_HEADER, &b) == CANO_OK)
        s->first_ts = b.base_ts;
    int rc = CANO_OK;
    while (cano__batch_validate(s->log + pos, s->log_size - pos, &b, &scratch,
                                &scratch_cap) == CANO_OK &&
           b.base_offset >= next) {
        rc = cano__seg_index_batch(s, b.base_offset, b.length);
        if (rc != CANO_OK)
            break;
        cano__seg_publish(s, b.length, b.base_offset + b.last_delta + 1,
                          b.base_ts, b.max_ts);
        next = s->next_offset;
        pos += b.length;
    }
    cano__free(scratch);
    if (rc != CANO_OK)
        return rc;
    rep->bytes_scanned = (int64_t)(pos - start);
    uint64_t dirty_end = last_nonzero(s->log, pos, s->log_size);
    if (dirty_end > pos) {
        rc = set_aside(s, pos, dirty_end, rep);
        if (rc == CANO_OK)
            rc = truncate_log(s, pos);
        if (rc != CANO_OK)
            return rc;
        rep->bytes_cut = (int64_t)(dirty_end - pos);
    }
    /* The validated tail may exist only in the page cache: sync it before
     * the header claims it as a flush point. */
    s->synced_end = start;
    s->meta_known = true;
    rc = cano__seg_sync(s);
    if (rc == CANO_OK)
        cano__seg_header_update(s, CANO__SEG_ACTIVE);
    return rc;
}

/* ---- sealed segments ---- */

typedef struct index_build {
    uint8_t *oe, *te;
    uint32_t no, nt;
    size_t   cap;            /* entries each array can hold */
} index_build;

static int build_push(index_build *ib, bool time, int64_t ts, uint32_t rel,
                      uint32_t pos)
{
    if ((time ? ib->nt : ib->no) == ib->cap) {
        size_t cap = ib->cap ? ib->cap * 2 : 256;
        uint8_t *o = cano__realloc(ib->oe, cap * CANO__OIDX_ENTRY);
        if (o)
            ib->oe = o;
        uint8_t *t = o ? cano__realloc(ib->te, cap * CANO__TIDX_ENTRY) : NULL;
        if (t)
            ib->te = t;
        if (!o || !t)
            return cano__err(CANO_ENOMEM, "index rebuild");
        ib->cap = cap;
    }
    if (time)
        cano__tidx_put(ib->te, ib->nt++, ts, rel);
    else
        cano__oidx_put(ib->oe, ib->no++, rel, pos);
    return CANO_OK;
}

static int write_index(cano__segment *s, int which, const char *magic,
                       const uint8_t *entries, size_t bytes,
                       const char *suffix)
{
    char path[4200];
    size_t len = CANO__IDX_HEADER + bytes;
    uint8_t *buf = cano__malloc(len);
    if (!buf)
        return cano__err(CANO_ENOMEM, "index rebuild");
    cano__idx_header(buf, magic, s->base);
    if (bytes)
        memcpy(buf + CANO__IDX_HEADER, entries, bytes);
    cano__seg_path(s, which, path, sizeof path);
    strncat(path, suffix, sizeof path - strlen(path) - 1);
    const char *slash = strrchr(path, '/');
    char dir[4200];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int rc = cano__io_write_atomic(dir, slash + 1, buf, len, s->lim.file_mode);
    cano__free(buf);
    return rc;
}

/* Rewrites both indexes of a sealed segment from its mapped .log, with the
 * same rule the append path follows. */
int cano__seg_rebuild_index(cano__segment *s, const uint8_t *log,
                            uint64_t end, const char *suffix)
{
    index_build ib = { NULL, NULL, 0, 0, 0 };
    cano__batch_info b;
    uint64_t pos = CANO__SEG_HEADER, since = 0;
    int64_t max_ts = -1, last_ts = INT64_MIN;
    int rc = CANO_OK;
    while (rc == CANO_OK && pos < end &&
           cano__batch_parse(log + pos, end - pos, &b) == CANO_OK &&
           b.base_offset >= s->base &&
           b.base_offset - s->base <= (int64_t)UINT32_MAX) {
        uint32_t rel = (uint32_t)(b.base_offset - s->base);
        if (pos > CANO__SEG_HEADER && since >= s->lim.index_interval) {
            rc = build_push(&ib, false, 0, rel, (uint32_t)pos);
            if (rc == CANO_OK && max_ts > last_ts && max_ts >= 0) {
                rc = build_push(&ib, true, max_ts, rel, 0);
                last_ts = max_ts;
            }
            since = 0;
        }
        since += b.length;
        max_ts = CANO__MAX(max_ts, b.max_ts);
        pos += b.length;
    }
    if (rc == CANO_OK)
        rc = write_index(s, CANO__SEG_F_OIDX, CANO__OIDX_MAGIC, ib.oe,
                         (size_t)ib.no * CANO__OIDX_ENTRY, suffix);
    if (rc == CANO_OK)
        rc = write_index(s, CANO__SEG_F_TIDX, CANO__TIDX_MAGIC, ib.te,
                         (size_t)ib.nt * CANO__TIDX_ENTRY, suffix);
    cano__free(ib.oe);
    cano__free(ib.te);
    return rc;
}
