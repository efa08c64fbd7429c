/* partition.h - one partition: its segments, the append path, the read
 * path and the wait for new records. */
#ifndef CANO_PARTITION_H
#define CANO_PARTITION_H
#include <pthread.h>
#include "mapcache.h"
#include "producer.h"

struct cano_topic;

typedef struct cano__partition {
    struct cano_topic *topic;
    int32_t  id;
    char    *dir;
    cano__seg_limits lim;

    /* Appends, rolls and every change of the segment list hold `lock`;
     * readers only take `list_lock` for reading while they find and pin a
     * segment, so they never wait for an append. */
    pthread_mutex_t  lock;
    pthread_mutex_t  maint_lock;      /* one cleaner/retention run at a time */
    pthread_rwlock_t list_lock;
    cano__segment  **segs;
    size_t           n_segs, cap_segs;

    _Atomic int64_t start_offset;
    _Atomic int64_t end_offset;
    _Atomic int64_t durable_offset;
    _Atomic int64_t cleaned_offset;  /* compaction checkpoint */
    int64_t  max_ts;                 /* under lock */
    cano__producers producers;       /* idempotent producers, under lock */
    uint8_t *scratch;                /* compression buffers, under lock */
    size_t   scratch_cap;

    /* Group commit: one thread syncs while the others wait for it. */
    pthread_mutex_t sync_lock;
    pthread_cond_t  gen_cond[2];       /* a sync of this parity ended */
    uint64_t        sync_gen;          /* generation of the next sync */
    pthread_cond_t  gather_cond;       /* a waiter arrived (leader only) */
    bool            gathering;         /* a leader waits in gather() */
    int             gather_target;     /* for this many waiters */
    int             syncs;             /* in flight */
    int64_t         sync_started_upto; /* end offset when the last began */
    int             waiting;           /* callers in cano__part_wait_durable */
    int64_t         last_sync_us;
    int             last_group;        /* waiters the last sync carried */
    _Atomic int     appending;         /* durable appends in progress */

    /* Tailing readers wait here; appenders signal only when someone waits. */
    pthread_mutex_t wait_lock;
    pthread_cond_t  wait_cond;
    _Atomic int     waiters;

    cano_recovery_info recovery;     /* what cano_open did here */
    bool               recovered;
} cano__partition;

/* A position in a partition that walks records in offset order: the state
 * shared by cano_read and cano_reader_t. */
typedef struct cano__cursor {
    cano__partition *part;
    cano__segment   *seg;            /* pinned while set */
    uint64_t  pos;                   /* file position of the next batch */
    uint64_t  ready_upto;            /* read-ahead mapped up to here */
    uint64_t  released_upto;         /* pages before were released */
    uint32_t  batches;               /* loaded since the last seek */
    int64_t   next;                  /* next offset wanted */
    bool      in_batch;
    cano__batch_info batch;
    cano__rec_iter   it;
    uint8_t  *scratch;
    size_t    scratch_cap;
    cano_header *hdrs;
    size_t    hdr_cap;
} cano__cursor;

int  cano__part_new(struct cano_topic *t, int32_t id, const char *topic_dir,
                    cano__partition **out);
/* Loads the segments from disk; clean: the last close was clean. */
int  cano__part_load(cano__partition *p, bool clean);
void cano__part_free(cano__partition *p);
/* prod: the producer of an idempotent append, or NULL. */
int  cano__part_append(cano__partition *p, const cano_record *recs, size_t n,
                       const cano__producer_ref *prod,
                       int64_t *first_offset_out);
/* Syncs everything appended so far. */
int  cano__part_sync(cano__partition *p);
/* Returns once the records below offset are on stable storage; concurrent
 * callers share one sync (group commit). */
int  cano__part_wait_durable(cano__partition *p, int64_t offset);
int  cano__part_close_clean(cano__partition *p);
int  cano__part_stat(cano__partition *p, cano_partition_info *out);
int  cano__part_offset_for_time(cano__partition *p, int64_t ts,
                                int64_t *offset_out);
/* A partition's small state files ("log-start-offset", "cleaner-offset"):
 * "<tag>=1\n<offset>\n", written atomically.  Reading gives -1 when the file
 * is missing or malformed. */
int     cano__part_offset_file_write(cano__partition *p, const char *name,
                                     const char *tag, int64_t offset);
int64_t cano__part_offset_file_read(const cano__partition *p,
                                    const char *name, const char *tag);
/* Data bytes of a segment (sealed ones measured without mapping them). */
int64_t cano__part_seg_bytes(cano__segment *s);
/* Drops every segment (topic delete / store close). */
void cano__part_discard_segments(cano__partition *p);

void cano__cursor_init(cano__cursor *c, cano__partition *p, int64_t offset);
void cano__cursor_seek(cano__cursor *c, int64_t offset);
/* 1 with a record, 0 when the cursor reached `end`, or an error. */
int  cano__cursor_next(cano__cursor *c, int64_t end, cano_record *out);
void cano__cursor_release(cano__cursor *c);

/* Waits until the end offset (durable: the durable offset) passes `offset`
 * or the deadline (monotonic
 * microseconds; < 0 forever) passes. stop is polled after each wakeup. */
int  cano__part_wait(cano__partition *p, int64_t offset, bool durable,
                     int64_t deadline_us, _Atomic bool *stop1,
                     _Atomic bool *stop2);
void cano__part_wake_all(cano__partition *p);
#endif
