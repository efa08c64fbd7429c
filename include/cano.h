/* cano.h - public API of libcano, an embeddable Kafka-style partitioned log.
 *
 * Anything not declared here is private.  Every call returns an int: CANO_OK
 * (0) or a negative CANO_E* code, except where a comment says otherwise.  No
 * call aborts, exits or prints on bad input.
 *
 * Threads: a cano_t and its cano_topic_t handles may be shared by any number
 * of threads.  A cano_reader_t is used by one thread at a time (closing it
 * from another thread to wake a waiting reader is allowed).
 *
 * Full documentation: man 3 cano, and one man3 page per function.
 */
#ifndef CANO_H
#define CANO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#  define CANO_API __attribute__((visibility("default")))
#else
#  define CANO_API
#endif

#define CANO_VERSION_MAJOR 0    /* bumped only for an ABI break (new SONAME) */
#define CANO_VERSION_MINOR 1    /* additions only */
#define CANO_VERSION_PATCH 0
#define CANO_VERSION_NUMBER \
    (CANO_VERSION_MAJOR * 1000000 + CANO_VERSION_MINOR * 1000 + \
     CANO_VERSION_PATCH)

/* ---- Error codes: frozen numbers, never reused. ---- */
#define CANO_OK          0
#define CANO_EINVAL    (-1)   /* bad argument or call out of order */
#define CANO_ENOMEM    (-2)   /* an allocation failed */
#define CANO_EIO       (-3)   /* the OS said no; detail in cano_last_errmsg */
#define CANO_ENOSPC    (-4)   /* the disk (or a quota) is full */
#define CANO_ELOCKED   (-5)   /* the store is open elsewhere */
#define CANO_ENOTFOUND (-6)   /* no such topic, store, or committed offset */
#define CANO_EEXIST    (-7)   /* the topic already exists */
#define CANO_ECORRUPT  (-8)   /* a checksum or framing check failed on disk */
#define CANO_EOFFSET   (-9)   /* offset below the log start or past the end */
#define CANO_ETOOBIG  (-10)   /* record or batch larger than the topic allows */
#define CANO_ETIMEDOUT (-11)  /* no record arrived within the timeout */
#define CANO_ECLOSED  (-12)   /* the store or reader was closed */
#define CANO_EFATAL   (-13)   /* an fsync failed: the store refuses writes
                                 until it is reopened */
#define CANO_ESEQUENCE (-14)  /* idempotent append: sequence out of order */

/* ---- Constants ---- */
#define CANO_PARTITION_AUTO   (-1)  /* choose by key hash, or round-robin */
#define CANO_OFFSET_LATEST    (-1)  /* reader start: the end offset at open */
#define CANO_OFFSET_EARLIEST  (-2)  /* reader start: the log start offset */

#define CANO_SYNC_DEFAULT   0   /* topic: the store's mode; store: INTERVAL */
#define CANO_SYNC_NONE      1   /* the OS writes back; cano_sync on demand */
#define CANO_SYNC_INTERVAL  2   /* a sync every sync_interval_ms */
#define CANO_SYNC_ALWAYS    3   /* an append returns once it is on disk */

#define CANO_CLEANUP_DELETE   1u   /* time/size retention */
#define CANO_CLEANUP_COMPACT  2u   /* keep the latest record per key */

#define CANO_COMPRESSION_NONE 0
#define CANO_COMPRESSION_ZLIB 1

#define CANO_TIMESTAMP_CREATE_TIME     0   /* the caller's (0 = now) */
#define CANO_TIMESTAMP_LOG_APPEND_TIME 1   /* always the append time */

#define CANO_OPEN_MUST_EXIST  1u    /* cano_options.flags: do not create */
#define CANO_READER_DURABLE   1u    /* reader flag: only durable records */

/* ---- Handles ---- */
typedef struct cano cano_t;               /* a store (one directory) */
typedef struct cano_topic cano_topic_t;   /* owned by the store */
typedef struct cano_reader cano_reader_t; /* a cursor over one partition */

/* ---- Version and errors ---- */

/** Returns the library version as "MAJOR.MINOR.PATCH"; static storage. */
CANO_API const char *cano_version(void);
/** Returns CANO_VERSION_NUMBER of the library actually linked. */
CANO_API int32_t cano_version_number(void);
/** Returns a static, never NULL description of an error code. */
CANO_API const char *cano_strerror(int err);
/** Returns this thread's detail for its last failed call (file, offset, OS
 *  error text); never NULL, "" when there is none.  Valid until the next
 *  cano_ call on the same thread. */
CANO_API const char *cano_last_errmsg(void);

/* ---- Store options ---- */

/** Store options.  Start from cano_options_init(); zero means "default" for
 *  every field, so a zero-filled struct (with size set) is valid.  Fields are
 *  only ever appended. */
typedef struct cano_options {
    uint32_t size;              /* sizeof the caller's struct; 0 = first layout */
    uint32_t flags;             /* CANO_OPEN_* bits */
    int32_t  sync_mode;         /* CANO_SYNC_*; default CANO_SYNC_INTERVAL */
    int32_t  sync_interval_ms;  /* default 1000 */
    int32_t  max_open_files;    /* cap on segment files kept mapped (3 per
                                   segment); default 4096, smaller values are
                                   raised to 16 */
    uint32_t file_mode;         /* mode of new files; default 0644 */
    uint32_t dir_mode;          /* mode of new directories; default 0755 */
    int32_t  reserved0;         /* must be 0 */
    int32_t  maintenance_interval_ms; /* > 0: a background thread runs
                                   cano_maintain this often; 0: no thread */
    int32_t  reserved1;         /* must be 0 */
    int64_t  cleaner_map_bytes; /* memory of the cleaner's key map (16 bytes
                                   a key); default 16 MiB, minimum 64 */
} cano_options;

/** Fills *o with defaults.  size = sizeof *o as the caller compiled it.
 *  @return CANO_OK, or CANO_EINVAL when o is NULL or size is too small. */
CANO_API int cano_options_init(cano_options *o, size_t size);

/* ---- Topic configuration ---- */

/** Topic configuration.  ALWAYS start from cano_topic_config_init(): the *_ms
 *  fields, retention_bytes, index_interval_bytes and min_cleanable_dirty_ratio
 *  take 0 literally (segment_ms 0 rolls a segment on every new millisecond;
 *  retention_ms 0 expires every closed segment).  Fields where 0 has no
 *  meaning (partitions, segment_bytes, max_*_bytes, compression_level,
 *  cleanup_policy) read 0 as the default.  Sizes count batch bytes, not the
 *  128-byte segment file header.  Kafka's names and meanings are kept.
 *  size 0 reads as this layout; a larger size needs its unknown tail zero. */
typedef struct cano_topic_config {
    uint32_t size;                   /* sizeof the caller's struct */
    int32_t  partitions;             /* 1..100000; 0 = 1 */
    int64_t  segment_bytes;          /* roll size, 1..2^31; 0 = 1 GiB */
    int64_t  segment_ms;             /* roll age from the segment's first
                                        record, >= 0; default 7 days */
    int64_t  index_interval_bytes;   /* bytes between index entries, >= 0
                                        (0 = every batch); default 4096 */
    int64_t  max_record_bytes;       /* key + value + header bytes of one
                                        record, up to 256 MiB; 0 = 1 MiB */
    int64_t  max_batch_bytes;        /* encoded batch before compression,
                                        64..256 MiB; 0 = 4 MiB */
    int32_t  compression;            /* CANO_COMPRESSION_* */
    int32_t  compression_level;      /* zlib 1..9; 0 = 6 */
    int32_t  timestamp_type;         /* CANO_TIMESTAMP_* */
    int32_t  sync_mode;              /* CANO_SYNC_*; 0 = the store's */
    uint32_t cleanup_policy;         /* CANO_CLEANUP_* OR-ed; 0 = DELETE */
    int32_t  reserved0;              /* must be 0 */
    int64_t  retention_ms;           /* -1 = unlimited; default 7 days */
    int64_t  retention_bytes;        /* per partition; -1 = unlimited (default) */
    int64_t  delete_retention_ms;    /* tombstone lifetime; default 1 day */
    int64_t  min_compaction_lag_ms;  /* default 0 */
    int64_t  max_compaction_lag_ms;  /* -1 = unlimited (default) */
    double   min_cleanable_dirty_ratio; /* 0..1; default 0.5 */
    const char *retention_groups;    /* NULL or "": off.  Else time and size
                                        retention keep a segment until these
                                        consumer groups have committed past
                                        it: "*" = every group that committed
                                        on the partition, or comma-separated
                                        names (a named group that never
                                        committed holds everything).  Copied */
    int64_t  retention_groups_max_bytes; /* cap: above this many bytes in the
                                        partition retention ignores the groups
                                        (their lag shows it); -1 = none */
} cano_topic_config;

/** Fills *c with defaults.  size = sizeof *c as the caller compiled it.
 *  @return CANO_OK, or CANO_EINVAL when c is NULL or size is too small. */
CANO_API int cano_topic_config_init(cano_topic_config *c, size_t size);

/* ---- Store ---- */

/** Opens (creating it unless CANO_OPEN_MUST_EXIST) the store in directory
 *  dir, whose parent must exist, and locks it.  Runs crash recovery when the
 *  last close was not clean; see cano_recovery_report().
 *  @param opts  NULL for defaults.
 *  @return CANO_OK; CANO_EINVAL, CANO_ENOTFOUND (missing and MUST_EXIST),
 *          CANO_ELOCKED (open here or in another process), CANO_EIO,
 *          CANO_ENOSPC, CANO_ENOMEM, CANO_ECORRUPT (a topic's config file is
 *          unreadable). *out is NULL on failure. */
CANO_API int cano_open(const char *dir, const cano_options *opts, cano_t **out);

/** Syncs everything, leaves a clean-shutdown marker, unlocks and frees the
 *  store.  Waiting readers wake with CANO_ECLOSED; open readers must still be
 *  closed with cano_reader_close.  NULL is a no-op returning CANO_OK.  Must
 *  not race with other calls on the store except waiting readers.
 *  @return CANO_OK, or the first error met while syncing (the store is
 *          freed anyway; the marker is then not written). */
CANO_API int cano_close(cano_t *db);

/** Makes everything appended so far durable (a flush point).
 *  @return CANO_OK, CANO_EINVAL, CANO_EIO (then the store refuses writes),
 *          CANO_EFATAL (an earlier sync failed). */
CANO_API int cano_sync(cano_t *db);

/* ---- Recovery report ---- */

/** What recovery did to one partition during cano_open. */
typedef struct cano_recovery_info {
    const char *topic;          /* valid during the callback */
    int32_t  partition;
    int32_t  indexes_rebuilt;   /* index files rebuilt from the .log */
    int64_t  bytes_scanned;     /* bytes of the unflushed tail validated */
    int64_t  bytes_cut;         /* bytes removed from the end of the log */
    int64_t  end_offset;        /* the end offset after recovery */
    int32_t  files_set_aside;   /* .corrupt files written */
    int32_t  half_created;      /* half-created segment files repaired */
    int64_t  elapsed_us;        /* time spent on this partition */
} cano_recovery_info;

typedef int (*cano_recovery_fn)(const cano_recovery_info *info, void *payload);

/** Calls fn for every partition that cano_open had to recover (scanned,
 *  truncated, rebuilt or repaired), in topic then partition order; fn
 *  returning nonzero stops.  Nothing is reported after a clean close.
 *  @return the number of partitions reported (>= 0), or CANO_EINVAL,
 *          CANO_ENOMEM. */
CANO_API int cano_recovery_report(cano_t *db, cano_recovery_fn fn, void *payload);

/* ---- Topics ---- */

/** Creates a topic.  Names are 1..249 characters of [A-Za-z0-9._-], not "."
 *  or "..", and not starting with "__" (reserved for internal topics).
 *  @param cfg  NULL for defaults; copied.
 *  @return CANO_OK, CANO_EINVAL (bad name or config; nothing is created),
 *          CANO_EEXIST, CANO_EIO, CANO_ENOSPC, CANO_ENOMEM. */
CANO_API int cano_topic_create(cano_t *db, const char *name,
                               const cano_topic_config *cfg);

/** Finds an existing topic.  The handle stays valid until cano_close, even
 *  after the topic is deleted (calls on it then return CANO_ENOTFOUND).
 *  @return CANO_OK, CANO_EINVAL, CANO_ENOTFOUND. */
CANO_API int cano_topic_open(cano_t *db, const char *name, cano_topic_t **out);

/** Deletes a topic and all its data, crash-safely, and the consumer group
 *  commits made on it (a topic created later under the name starts with
 *  none).
 *  @return CANO_OK, CANO_EINVAL, CANO_ENOTFOUND, CANO_ENOMEM; CANO_EIO: the
 *          rename failed (nothing changed) or the sync after it failed (the
 *          topic is gone, but a crash may bring it back; the store then
 *          refuses writes until reopened); CANO_ENOSPC, CANO_EFATAL (the
 *          topic is gone, its group commits could not be removed). */
CANO_API int cano_topic_delete(cano_t *db, const char *name);

typedef int (*cano_topic_fn)(const char *name, void *payload);

/** Calls fn with each topic name in strcmp order (internal "__" topics are
 *  not listed); the name is valid during the call, and fn may call into the
 *  store.  Nonzero from fn stops.
 *  @return the number of calls made, the stopping one included (>= 0), or
 *          CANO_EINVAL (NULL db or fn), CANO_ENOMEM. */
CANO_API int cano_topic_list(cano_t *db, cano_topic_fn fn, void *payload);

/** Copies the topic's configuration, with defaults resolved (partitions is
 *  never 0; sync_mode stays CANO_SYNC_DEFAULT when the topic follows the
 *  store), into *out.  Set out->size to sizeof *out (0 also works).
 *  @return CANO_OK, CANO_EINVAL, CANO_ENOTFOUND (topic deleted). */
CANO_API int cano_topic_config_get(cano_topic_t *t, cano_topic_config *out);

/** Returns the topic's name (owned by the handle), or NULL for NULL. */
CANO_API const char *cano_topic_name(cano_topic_t *t);

/** Returns the number of partitions (> 0), or CANO_EINVAL (NULL),
 *  CANO_ENOTFOUND (topic deleted). */
CANO_API int32_t cano_topic_partitions(cano_topic_t *t);

/* ---- Records ---- */

/** A header: name and value are byte strings; value NULL means no value. */
typedef struct cano_header {
    const void *name;  size_t name_len;
    const void *value; size_t value_len;
} cano_header;

/** A record.  In an append, timestamp 0 means "now"; offset and partition
 *  are ignored.  In a read, every pointer is a view into library memory,
 *  valid until the callback returns or the next call on the same reader. */
typedef struct cano_record {
    const void *key;   size_t key_len;      /* key == NULL: no key */
    const void *value; size_t value_len;    /* value == NULL: tombstone */
    const cano_header *headers; size_t header_count;
    int64_t timestamp;                      /* ms since the epoch */
    int64_t offset;                         /* out */
    int32_t partition;                      /* out */
} cano_record;

/** Returns the partition a key maps to: XXH3_64bits(key, key_len) modulo the
 *  partition count.  This mapping is stable across versions.
 *  @return the partition (>= 0), or CANO_EINVAL, CANO_ENOTFOUND. */
CANO_API int32_t cano_partition_for_key(cano_topic_t *t, const void *key,
                                        size_t key_len);

/** Appends one record.  partition may be CANO_PARTITION_AUTO: the key's
 *  partition, or round-robin for keyless records.  When it returns, the
 *  record is in the OS (it survives the process being killed); with
 *  CANO_SYNC_ALWAYS it is also on stable storage.  Timestamps must be >= 0.
 *  @param partition_out, offset_out  may be NULL (set to -1 on failure).
 *  @return CANO_OK; CANO_EINVAL (NULL or bad argument, bad partition, a
 *          keyless record in a compacted topic), CANO_ENOTFOUND (topic
 *          deleted), CANO_ETOOBIG, CANO_ENOSPC, CANO_ENOMEM: nothing was
 *          written.  CANO_EIO: the write or, with CANO_SYNC_ALWAYS, the sync
 *          failed; in the second case the record is in the log but not known
 *          to be durable (the thread that ran the sync gets CANO_EIO,
 *          appenders that waited for it CANO_EFATAL), and the
 *          store refuses further writes with CANO_EFATAL until reopened. */
CANO_API int cano_append(cano_topic_t *t, int32_t partition,
                         const cano_record *rec, int32_t *partition_out,
                         int64_t *offset_out);

/** Appends n >= 1 records atomically to one partition: all of them become
 *  visible together or none do.  With CANO_PARTITION_AUTO the batch goes to
 *  the first record's key partition (round-robin when it has no key); use an
 *  explicit partition when you need to know where a keyless batch went.
 *  @return as cano_append. */
CANO_API int cano_append_batch(cano_topic_t *t, int32_t partition,
                               const cano_record *recs, size_t n,
                               int64_t *first_offset_out);

/** Appends n >= 1 records atomically, like cano_append_batch, as batch
 *  `sequence` of producer `producer_id` (both >= 0) on an explicit
 *  partition.  The first batch of an unknown producer may have any
 *  sequence; after it, a producer's batches must follow on (sequence = the
 *  previous one's + its record count).  A retry of one of its last five
 *  batches (same sequence and count) writes nothing and returns the
 *  original first offset, also after a crash and reopen, so a producer that
 *  retries after a timeout never duplicates.
 *  @return as cano_append_batch, and CANO_ESEQUENCE for a gap or an old
 *          sequence that is not one of the last five batches. */
CANO_API int cano_append_idempotent(cano_topic_t *t, int32_t partition,
                                    int64_t producer_id, int32_t sequence,
                                    const cano_record *recs, size_t n,
                                    int64_t *first_offset_out);

/* ---- Reading ---- */

/** Called for each record; returning nonzero stops the read. */
typedef int (*cano_record_fn)(void *ctx, const cano_record *rec);

/** Calls fn for records from offset on, in offset order, until max_records
 *  calls were made, the end offset is reached, or fn returns nonzero.  An
 *  offset with no record (removed by compaction) reads as the next record.
 *  max_records above INT_MAX counts as INT_MAX; 0 reads nothing.
 *  @return the number of calls to fn, the stopping one included (>= 0; 0 at
 *          the end offset), or CANO_EINVAL (NULL fn, bad partition), or
 *          CANO_EOFFSET (below the log start or past the end),
 *          CANO_ENOTFOUND (topic deleted), CANO_ECORRUPT, CANO_EIO,
 *          CANO_ENOMEM. */
CANO_API int cano_read(cano_topic_t *t, int32_t partition, int64_t offset,
                       size_t max_records, cano_record_fn fn, void *ctx);

/** Opens a reader at offset, CANO_OFFSET_EARLIEST or CANO_OFFSET_LATEST.
 *  @return CANO_OK, CANO_EINVAL, CANO_ENOTFOUND, CANO_EOFFSET, CANO_ENOMEM. */
CANO_API int cano_reader_open(cano_topic_t *t, int32_t partition,
                              int64_t offset, cano_reader_t **out);

/** Returns the next record in *out (views valid until the next call on r).
 *  Waits up to timeout_ms for one (0: no wait, negative: forever), woken by
 *  appends from other threads.
 *  @return CANO_OK; CANO_ETIMEDOUT (none yet), CANO_EOFFSET (the position fell
 *          below the log start), CANO_ECLOSED (store or reader closed),
 *          CANO_ENOTFOUND (topic deleted),
 *          CANO_ECORRUPT, CANO_EIO, CANO_EINVAL, CANO_ENOMEM. */
CANO_API int cano_reader_next(cano_reader_t *r, cano_record *out,
                              int timeout_ms);

/** Moves the reader to offset (or CANO_OFFSET_EARLIEST / _LATEST).
 *  @return CANO_OK, CANO_EINVAL, CANO_EOFFSET, CANO_ECLOSED,
 *          CANO_ENOTFOUND (topic deleted). */
CANO_API int cano_reader_seek(cano_reader_t *r, int64_t offset);

/** Sets reader flags.  CANO_READER_DURABLE: return only records known to
 *  be on stable storage (below cano_partition_info.durable_offset: Kafka's
 *  high-watermark idea), so nothing a power loss could take back is ever
 *  seen; a waiting cano_reader_next then wakes when a sync completes.  By
 *  default a reader sees every appended record at once.
 *  @return CANO_OK, CANO_EINVAL (NULL, unknown flag). */
CANO_API int cano_reader_set_flags(cano_reader_t *r, uint32_t flags);

/** Returns the offset the next cano_reader_next will look at (the record
 *  returned may be later when offsets were compacted away), or CANO_EINVAL
 *  for NULL. */
CANO_API int64_t cano_reader_position(cano_reader_t *r);

/** Closes a reader; NULL is a no-op.  May be called from another thread to
 *  wake a reader waiting in cano_reader_next (it returns CANO_ECLOSED); the
 *  memory is released when that call has returned.  As with any handle, no
 *  call on r may start once cano_reader_close has begun: a thread that may
 *  still be on its way into cano_reader_next must be stopped some other way
 *  (a flag and a timeout, or cano_close of the store). */
CANO_API void cano_reader_close(cano_reader_t *r);

/** Sets *offset_out to the first offset at or after the log start whose
 *  timestamp is >= ts, or to the end offset when there is none.
 *  @return CANO_OK, CANO_EINVAL, CANO_ENOTFOUND, CANO_ECORRUPT, CANO_EIO. */
CANO_API int cano_offset_for_time(cano_topic_t *t, int32_t partition,
                                  int64_t ts, int64_t *offset_out);

/* ---- Partition state ---- */

typedef struct cano_partition_info {
    uint32_t size;            /* sizeof the caller's struct (0 = this one) */
    int32_t  partition;       /* out */
    int64_t  start_offset;    /* first readable offset */
    int64_t  end_offset;      /* offset the next record gets */
    int64_t  segments;        /* number of segments, active included */
    int64_t  bytes;           /* sum of the segments' .log data sizes */
    int64_t  durable_offset;  /* records below it are on stable storage */
    int64_t  max_timestamp;   /* largest record timestamp, -1 when empty */
    double   dirty_ratio;     /* compaction: uncleaned / all sealed bytes */
    int64_t  cleaned_offset;  /* compaction: offsets below it were cleaned */
} cano_partition_info;

/** Fills *out (out->size must be set, as sizeof *out).
 *  @return CANO_OK, CANO_EINVAL, CANO_ENOTFOUND. */
CANO_API int cano_partition_stat(cano_topic_t *t, int32_t partition,
                                 cano_partition_info *out);

/* ---- Retention and compaction ---- */

/** Moves the log start offset of a partition forward to before_offset, at
 *  once and durably: reads below it get CANO_EOFFSET, and segments wholly
 *  below it are deleted, whatever the cleanup policy.  A smaller offset than
 *  the current start changes nothing.
 *  @return CANO_OK, CANO_EINVAL, CANO_ENOTFOUND, CANO_EOFFSET (past the end
 *          offset), CANO_EIO, CANO_ENOSPC, CANO_ENOMEM. */
CANO_API int cano_delete_records(cano_topic_t *t, int32_t partition,
                                 int64_t before_offset);

/** Runs everything that is due now in every topic: time and size retention
 *  (cleanup policy DELETE) and compaction where the dirty ratio exceeds
 *  min_cleanable_dirty_ratio or max_compaction_lag_ms has passed (policy
 *  COMPACT).  Thread-safe; readers are never disturbed.
 *  @return CANO_OK, or the first error met (the other partitions are still
 *          processed): CANO_EINVAL, CANO_EIO, CANO_ENOSPC, CANO_ENOMEM,
 *          CANO_ECORRUPT (a damaged batch is never copied). */
CANO_API int cano_maintain(cano_t *db);

/** Compacts one partition now, ignoring min_cleanable_dirty_ratio: for each
 *  key, records older than its latest are removed from sealed segments
 *  (offsets are kept; the active segment is never compacted).
 *  @return CANO_OK, CANO_EINVAL (not a compacted topic, bad partition),
 *          CANO_ENOTFOUND, CANO_EIO, CANO_ENOSPC, CANO_ENOMEM,
 *          CANO_ECORRUPT. */
CANO_API int cano_compact(cano_topic_t *t, int32_t partition);

/* ---- Consumer groups ---- */

/** Records durably (the call returns after a sync) that group has consumed
 *  topic/partition up to offset: the next record it wants is at offset.
 *  Commits are records of the internal compacted topic __consumer_offsets.
 *  Group names are 1..255 bytes.
 *  @return CANO_OK, CANO_EINVAL (NULL, bad group, bad partition),
 *          CANO_ENOTFOUND (no such topic), CANO_EOFFSET (offset < 0 or past
 *          the end offset), CANO_EIO, CANO_ENOSPC, CANO_EFATAL, CANO_ENOMEM. */
CANO_API int cano_commit(cano_t *db, const char *group, const char *topic,
                         int32_t partition, int64_t offset);

/** Sets *offset_out to group's committed offset for topic/partition.
 *  @return CANO_OK, CANO_ENOTFOUND (nothing committed, or no such topic),
 *          CANO_EINVAL. */
CANO_API int cano_committed(cano_t *db, const char *group, const char *topic,
                            int32_t partition, int64_t *offset_out);

/** Opens a reader at group's committed offset, or at the log start when the
 *  group has committed nothing (or retention has passed its commit).
 *  @return as cano_reader_open. */
CANO_API int cano_reader_open_group(cano_topic_t *t, int32_t partition,
                                    const char *group, cano_reader_t **out);

/** One committed position and how far behind the end it is. */
typedef struct cano_group_info {
    const char *group;          /* valid during the callback */
    const char *topic;          /* valid during the callback */
    int32_t  partition;
    int32_t  reserved;
    int64_t  committed;         /* the committed offset */
    int64_t  end_offset;        /* the partition's end offset now */
    int64_t  lag;               /* records from max(committed, log start)
                                   to the end */
} cano_group_info;

typedef int (*cano_group_fn)(const cano_group_info *info, void *payload);

/** Calls fn for every committed (group, topic, partition) of existing topics,
 *  sorted by group, topic and partition; nonzero from fn stops.
 *  @return the number of calls (>= 0), or CANO_EINVAL, CANO_ENOMEM. */
CANO_API int cano_group_list(cano_t *db, cano_group_fn fn, void *payload);

#ifdef __cplusplus
}
#endif
#endif /* CANO_H */
