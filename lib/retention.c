/* retention.c - deleting old segments (retention_ms, retention_bytes) and
 * moving the log start (cano_delete_records).
 *
 * Crash safety: the new log start is written (atomically, then the
 * directory synced) before any file goes.  A crash in between leaves
 * segments wholly below the persisted start, which the next open deletes;
 * a crash between unlinking a .log and its indexes leaves orphan index
 * files, which open also removes.  Only a prefix of sealed segments is ever
 * deleted; the active segment never is. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "io.h"
#include "retention.h"
#include "store.h"

#define START_FILE "log-start-offset"

int64_t cano__start_read(const cano__partition *p)
{
    return cano__part_offset_file_read(p, START_FILE, "cano-log-start");
}

int cano__start_write(cano__partition *p, int64_t start)
{
    int rc = cano__part_offset_file_write(p, START_FILE, "cano-log-start",
                                          start);
    if (rc == CANO_OK)
        atomic_store(&p->start_offset, start);
    return rc;
}

static void unlink_segment(const cano__segment *s)
{
    char path[4200];
    for (int i = 0; i < 3; i++)
        cano__io_unlink(cano__seg_path(s, i, path, sizeof path));
}

int cano__drop_prefix(cano__partition *p, size_t k)
{
    if (k == 0)
        return CANO_OK;
    if (k >= p->n_segs)
        k = p->n_segs - 1;          /* never the active segment */
    int64_t start = CANO__MAX(atomic_load(&p->start_offset),
                              p->segs[k]->base);
    int rc = CANO_OK;
    if (start != atomic_load(&p->start_offset))
        rc = cano__start_write(p, start);
    if (rc != CANO_OK)
        return rc;
    cano__segment **gone = cano__malloc(k * sizeof *gone);
    if (!gone)
        return cano__err(CANO_ENOMEM, "retention");
    pthread_rwlock_wrlock(&p->list_lock);
    memcpy(gone, p->segs, k * sizeof *gone);
    memmove(p->segs, p->segs + k, (p->n_segs - k) * sizeof *p->segs);
    p->n_segs -= k;
    pthread_rwlock_unlock(&p->list_lock);
    /* Readers still holding one of these keep its mapping until they move
     * on; the files can go now. */
    for (size_t i = 0; i < k; i++) {
        unlink_segment(gone[i]);
        cano__seg_discard(gone[i]);
    }
    cano__free(gone);
    return cano__io_fsync_dir(p->dir);
}

/* Largest timestamp of a sealed segment (mapped to read its header). */
static int seg_max_ts(cano__segment *s, int64_t *out)
{
    int rc = cano__seg_pin(s);
    if (rc != CANO_OK)
        return rc;
    *out = s->max_ts;
    cano__seg_unpin(s);
    return CANO_OK;
}

/* How many leading sealed segments have expired by time. */
static int expired_by_time(cano__partition *p, int64_t now, size_t *k)
{
    int64_t limit = p->topic->cfg.retention_ms;
    *k = 0;
    if (limit < 0)
        return CANO_OK;
    while (*k + 1 < p->n_segs) {
        int64_t ts;
        int rc = seg_max_ts(p->segs[*k], &ts);
        if (rc != CANO_OK)
            return rc;
        if (now - ts < limit)
            break;
        (*k)++;
    }
    return CANO_OK;
}

/* How many leading sealed segments can go while the rest stays at least
 * retention_bytes. */
static size_t expired_by_size(cano__partition *p)
{
    int64_t limit = p->topic->cfg.retention_bytes;
    if (limit < 0)
        return 0;
    int64_t total = 0;
    for (size_t i = 0; i < p->n_segs; i++)
        total += cano__part_seg_bytes(p->segs[i]);
    size_t k = 0;
    while (k + 1 < p->n_segs) {
        int64_t b = cano__part_seg_bytes(p->segs[k]);
        if (total - b < limit)
            break;
        total -= b;
        k++;
    }
    return k;
}

/* How many of the first k segments the consumer groups named by
 * retention_groups have consumed wholly, unless the partition is over the
 * cap, where retention wins. */
static size_t released_by_groups(cano__partition *p, size_t k)
{
    const cano_topic_config *cfg = &p->topic->cfg;
    if (!cfg->retention_groups || k == 0)
        return k;
    if (cfg->retention_groups_max_bytes >= 0) {
        int64_t total = 0;
        for (size_t i = 0; i < p->n_segs; i++)
            total += cano__part_seg_bytes(p->segs[i]);
        if (total > cfg->retention_groups_max_bytes)
            return k;
    }
    int64_t min = cano__offsets_min(p->topic->db, cfg->retention_groups,
                                    p->topic->name, p->id);
    if (min < 0)
        return k;                       /* "*" and no group committed */
    size_t n = 0;
    while (n < k && p->segs[n + 1]->base <= min)
        n++;
    return n;
}

int cano__retention_run(cano__partition *p, int64_t now)
{
    if (!(p->topic->cfg.cleanup_policy & CANO_CLEANUP_DELETE))
        return CANO_OK;
    pthread_mutex_lock(&p->maint_lock);
    pthread_mutex_lock(&p->lock);
    size_t by_time = 0;
    int rc = expired_by_time(p, now, &by_time);
    if (rc == CANO_OK)
        rc = cano__drop_prefix(p, released_by_groups(
                 p, CANO__MAX(by_time, expired_by_size(p))));
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->maint_lock);
    return rc;
}

int cano__delete_records(cano__partition *p, int64_t before)
{
    pthread_mutex_lock(&p->maint_lock);
    pthread_mutex_lock(&p->lock);
    int64_t end = atomic_load(&p->end_offset);
    int rc = CANO_OK;
    if (before > end)
        rc = cano__err(CANO_EOFFSET, "offset %" PRId64 " is past the end "
                       "%" PRId64, before, end);
    else if (before > atomic_load(&p->start_offset))
        rc = cano__start_write(p, before);
    if (rc == CANO_OK) {
        size_t k = 0;
        while (k + 1 < p->n_segs && p->segs[k + 1]->base <= before)
            k++;
        rc = cano__drop_prefix(p, k);
    }
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->maint_lock);
    return rc;
}
