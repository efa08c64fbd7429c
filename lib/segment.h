/* segment.h - one segment: a .log file of batches and its two indexes. */
#ifndef CANO_SEGMENT_H
#define CANO_SEGMENT_H
#include "batch.h"
#include "index.h"

#define CANO__SEG_HEADER 128u
#define CANO__SEG_MAGIC  "CANOSEG1"
#define CANO__SEG_ACTIVE 0u
#define CANO__SEG_SEALED 1u

struct cano__mapcache;

/* What a segment's files are created and grown with. */
typedef struct cano__seg_limits {
    uint64_t data_cap;         /* max(segment_bytes, max_batch_bytes) */
    uint64_t index_interval;
    uint32_t file_mode;
} cano__seg_limits;

typedef struct cano__segment {
    int64_t  base;
    char    *stem;              /* "<partition dir>/<20-digit base>" */
    cano__seg_limits lim;
    struct cano__mapcache *cache;

    /* Mapping, managed by mapcache.c: a segment in use is pinned, and only
     * unpinned segments are unmapped when too many files are open. */
    _Atomic int  pins;          /* references: the owner's (1) + users' */
    _Atomic bool mapped;
    _Atomic bool recent;        /* clock bit for approximate LRU */
    struct cano__segment *lru_prev, *lru_next;
    uint8_t *log, *oidx, *tidx;
    size_t   log_map, oidx_map, tidx_map;

    /* Published to readers with release stores. */
    _Atomic uint64_t end;       /* file position after the last whole batch */
    _Atomic uint32_t n_oidx, n_tidx;

    /* Appender state, under the partition lock. */
    _Atomic bool sealed;        /* rolled: files trimmed, read-only */
    bool     meta_known;        /* end/max_ts/first_ts/index counts loaded */
    bool     indexes_checked;   /* active: entries validated since load */
    int64_t  next_offset;       /* offset after the last batch */
    int64_t  max_ts;            /* -1 when empty */
    int64_t  log_max_ts;        /* the partition's largest timestamp up to
                                   this segment's end, -1 when none */
    int64_t  first_ts;          /* first batch's base timestamp, -1 empty */
    uint64_t log_size, oidx_size, tidx_size;   /* allocated file sizes */
    uint64_t since_index;       /* batch bytes since the last index entry */
    int64_t  last_tidx_ts;
    uint64_t synced_end;        /* end known to be on stable storage */
    uint64_t released;          /* pages below were dropped from the map */
    bool     dir_unsynced;      /* created: its directory entry not synced */
    _Atomic int64_t data_bytes; /* sealed: bytes of batches, -1 unknown */
} cano__segment;

/* The 128-byte .log file header. */
typedef struct cano__seg_header {
    uint64_t flushed_len;      /* data bytes known to be on stable storage */
    int64_t  flushed_next;     /* offset after them */
    int64_t  flushed_max_ts;
    uint32_t state;            /* CANO__SEG_ACTIVE or CANO__SEG_SEALED */
    int64_t  log_max_ts;       /* largest timestamp of the partition so far */
} cano__seg_header;
void cano__seg_header_encode(uint8_t *p, int64_t base, const cano__seg_header *h);
bool cano__seg_header_decode(const uint8_t *p, size_t len, int64_t base,
                             cano__seg_header *h);
/* Rewrites the mapped header from synced_end / next_offset / max_ts. */
void cano__seg_header_update(cano__segment *s, uint32_t state);
/* Writes a fresh index file holding only its header. */
int  cano__seg_create_index(cano__segment *s, int which, const char *magic);
char *cano__seg_path(const cano__segment *s, int which, char *buf, size_t n);
#define CANO__SEG_F_LOG  0
#define CANO__SEG_F_OIDX 1
#define CANO__SEG_F_TIDX 2

/* Recovery of one segment: what was found and done. */
typedef struct cano__seg_recovery {
    int64_t bytes_scanned, bytes_cut;
    int32_t files_set_aside, indexes_rebuilt, half_created;
} cano__seg_recovery;

int  cano__seg_new(const char *dir, int64_t base, const cano__seg_limits *lim,
                   struct cano__mapcache *cache, cano__segment **out);
void cano__seg_free(cano__segment *s);
/* Creates the files of a new, empty active segment (durably). */
int  cano__seg_create(cano__segment *s);
/* Loads an active segment's state after a clean close from its header and
 * file sizes, without reading record data.  CANO_ECORRUPT: use recovery. */
int  cano__seg_load_clean(cano__segment *s);
/* Validates the tail of an active segment after an unclean stop (or all of
 * it when its header or indexes cannot be trusted), truncating what is torn
 * and setting damaged bytes aside. */
int  cano__seg_recover(cano__segment *s, bool full, cano__seg_recovery *rep);
/* Rewrites a sealed segment's index files from its .log data, to the
 * usual names with suffix appended ("" for the real ones). */
int  cano__seg_rebuild_index(cano__segment *s, const uint8_t *log,
                             uint64_t end, const char *suffix);

/* Maps the files (called by mapcache.c with its lock held). */
int  cano__seg_map(cano__segment *s);
void cano__seg_unmap(cano__segment *s);
/* Files this segment holds open while mapped. */
int  cano__seg_files(const cano__segment *s);

/* Appender side (partition lock held, segment pinned). */
int  cano__seg_reserve(cano__segment *s, uint64_t len);
uint8_t *cano__seg_tail(cano__segment *s);
int  cano__seg_index_batch(cano__segment *s, int64_t offset, uint64_t len);
void cano__seg_publish(cano__segment *s, uint64_t len, int64_t next_offset,
                       int64_t base_ts, int64_t max_ts);
/* Syncs the directory entry of a new segment (once). */
int  cano__seg_sync_dir(cano__segment *s);
/* Syncs [synced_end, end) and records the flush point in the header. */
int  cano__seg_sync(cano__segment *s);
/* Records that data up to end (next offset, max timestamp there) is on
 * stable storage: the header's flush point moves (partition lock held). */
void cano__seg_mark_synced(cano__segment *s, uint64_t end, int64_t next,
                           int64_t max_ts, int64_t log_max_ts);
/* Syncs, trims the files to their data and marks the segment sealed. */
int  cano__seg_seal(cano__segment *s);
/* Trims an active segment's files for a clean close (it stays active). */
int  cano__seg_close_clean(cano__segment *s);

/* Reader side (segment pinned). */
uint64_t cano__seg_end(const cano__segment *s);
/* File position to start scanning for offset (checked, never garbage). */
uint64_t cano__seg_position(const cano__segment *s, int64_t offset);
/* First offset in this segment whose records may have timestamps >= ts. */
int64_t  cano__seg_time_start(const cano__segment *s, int64_t ts);
#endif
