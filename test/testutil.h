/* testutil.h - helpers shared by the Check suites (prefix tu_). */
#ifndef CANO_TESTUTIL_H
#define CANO_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "cano.h"

/* Every suite, run by test/check_main.c. */
Suite *store_suite(void);
Suite *topic_suite(void);
Suite *append_suite(void);
Suite *read_suite(void);
Suite *recovery_suite(void);
Suite *threads_suite(void);

#define TU_PATH_MAX 4096

/* ---- Directories and files ---- */

/** Creates a fresh directory under /tmp and writes its path to buf.
 *  @return 0, or -1 (errno set). */
int tu_mkdtemp(char *buf, size_t n);
/** Removes path and everything below it; a missing path is fine. */
void tu_rmtree(const char *path);
/** Copies the tree src to dst (dst must not exist).  @return 0 or -1. */
int tu_copytree(const char *src, const char *dst);
/** snprintf into buf (TU_PATH_MAX bytes); returns buf. */
char *tu_path(char *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** 1 when path exists (any type), 0 otherwise. */
int tu_exists(const char *path);
/** 1 when path is a directory. */
int tu_is_dir(const char *path);
/** Size of a file, or -1. */
int64_t tu_file_size(const char *path);
/** Truncates (or extends with zeros) a file to len bytes.  @return 0 or -1. */
int tu_truncate(const char *path, int64_t len);
/** XORs the byte at pos with mask.  @return 0 or -1. */
int tu_flip_byte(const char *path, int64_t pos, unsigned char mask);
/** Reads up to n bytes at pos.  @return bytes read or -1. */
ssize_t tu_pread(const char *path, void *buf, size_t n, int64_t pos);
/** Overwrites n bytes at pos (extending the file if needed).  @return 0/-1. */
int tu_pwrite(const char *path, const void *buf, size_t n, int64_t pos);
/** Creates (or replaces) a file with the given content.  @return 0 or -1. */
int tu_write_file(const char *path, const void *buf, size_t n);
/** Reads a whole file into a malloc'ed buffer (*len set).  NULL on error. */
unsigned char *tu_read_file(const char *path, size_t *len);

/** A sorted list of directory entry names (without "." and ".."). */
typedef struct tu_names {
    char **v;
    size_t n;
} tu_names;
/** Lists dir, sorted by strcmp.  @return 0 or -1. */
int tu_list_dir(const char *dir, tu_names *out);
/** Only the names ending in suffix (e.g. ".log"), sorted. */
int tu_list_dir_suffix(const char *dir, const char *suffix, tu_names *out);
void tu_names_free(tu_names *l);
/** 1 when both lists hold the same names. */
int tu_names_equal(const tu_names *a, const tu_names *b);
/** 1 when the list holds name. */
int tu_names_has(const tu_names *l, const char *name);

/** <store>/<topic>/<partition> into buf. */
char *tu_part_dir(char *buf, const char *store, const char *topic,
                  int32_t partition);
/** <store>/<topic>/<partition>/<20-digit base><ext> into buf. */
char *tu_seg_path(char *buf, const char *store, const char *topic,
                  int32_t partition, int64_t base, const char *ext);
/** Base offsets of the .log segments of a partition, ascending; returns the
 *  count (or -1), *bases malloc'ed. */
int tu_segment_bases(const char *store, const char *topic, int32_t partition,
                     int64_t **bases);
/** Sum over the partition's .log files of (file size - 128). */
int64_t tu_log_data_bytes(const char *store, const char *topic,
                          int32_t partition);

/* ---- The on-disk format (see the format spec), for crash tests ---- */

typedef struct tu_batch_pos {
    int64_t pos;          /* byte position in the .log file */
    int64_t len;          /* the batch's length field */
    int64_t base_offset;
    int64_t last_offset;
    int64_t max_timestamp;
    int32_t record_count;
} tu_batch_pos;

/** Walks the batches of a .log file by their length fields (from 128, until
 *  a zero or out-of-file length).  Checks nothing else.  Returns the count
 *  (or -1), *out malloc'ed. */
int tu_log_batches(const char *path, tu_batch_pos **out);

/** The exact encoded size of an uncompressed batch holding recs (with the
 *  timestamps given in ts[], or rec[i].timestamp when ts is NULL). */
int64_t tu_batch_size(const cano_record *recs, size_t n, const int64_t *ts);

/* ---- Records ---- */

/** Builds a record from C strings; NULL key/value stay NULL. */
cano_record tu_rec(const char *key, const char *value, int64_t ts);
/** Builds a record from buffers. */
cano_record tu_rec_buf(const void *key, size_t key_len, const void *value,
                       size_t value_len, int64_t ts);

/** A record copied out of a read. */
typedef struct tu_header_copy {
    unsigned char *name;  size_t name_len;
    unsigned char *value; size_t value_len;   /* value NULL: no value */
} tu_header_copy;

typedef struct tu_rec_copy {
    unsigned char *key;   size_t key_len;     /* NULL: no key */
    unsigned char *value; size_t value_len;   /* NULL: tombstone */
    tu_header_copy *headers; size_t header_count;
    int64_t timestamp;
    int64_t offset;
    int32_t partition;
} tu_rec_copy;

typedef struct tu_recs {
    tu_rec_copy *v;
    size_t n, cap;
    int stop_after;      /* tu_collect returns 1 on this call (1-based); 0 never */
} tu_recs;

/** Deep-copies rec onto the end of recs. */
void tu_recs_push(tu_recs *recs, const cano_record *rec);
/** A cano_record_fn that pushes into a tu_recs (ctx). */
int tu_collect(void *ctx, const cano_record *rec);
void tu_recs_free(tu_recs *recs);
/** Reads everything from offset to the end, in chunks, into out.
 *  @return CANO_OK or the first error from cano_read. */
int tu_read_all(cano_topic_t *t, int32_t partition, int64_t offset,
                tu_recs *out);
/** 1 when a copied record has exactly the content of rec (key, value,
 *  headers; timestamps not compared). */
int tu_rec_content_eq(const tu_rec_copy *c, const cano_record *rec);
/** Asserts (ck_assert) that c has exactly the key/value of the strings. */
void tu_assert_kv(const tu_rec_copy *c, const char *key, const char *value);

/* ---- Store helpers (ck_assert on failure) ---- */

cano_t *tu_open(const char *dir);
cano_t *tu_open_opts(const char *dir, int32_t sync_mode);
cano_topic_t *tu_create(cano_t *db, const char *name,
                        const cano_topic_config *cfg);
cano_topic_t *tu_topic(cano_t *db, const char *name);
/** Topic config from defaults with the given partitions and segment_bytes. */
cano_topic_config tu_config(int32_t partitions, int64_t segment_bytes);
/** Appends (key, value) with timestamp ts to partition p; asserts OK and
 *  returns the offset. */
int64_t tu_append_kv(cano_topic_t *t, int32_t p, const char *key,
                     const char *value, int64_t ts);
/** The partition's end offset (asserts stat succeeds). */
int64_t tu_end_offset(cano_topic_t *t, int32_t p);
cano_partition_info tu_stat(cano_topic_t *t, int32_t p);

/* A deterministic record set: record i of "set" has key "k<i>", value of
 * length tu_val_len(i) derived from i and seed, ts tu_ts(i). */
size_t tu_gen_value(char *buf, size_t cap, uint32_t seed, int64_t i);
int64_t tu_gen_ts(uint32_t seed, int64_t i);
/** Appends n generated records (one per call) to p starting at index first;
 *  returns the offset of the last one. */
int64_t tu_append_gen(cano_topic_t *t, int32_t p, uint32_t seed,
                      int64_t first, int64_t n);
/** Checks that c is generated record i of seed (content and timestamp). */
int tu_gen_matches(const tu_rec_copy *c, uint32_t seed, int64_t i);

/* ---- Processes and time ---- */

/** Forks; the child runs fn(arg) and _exit()s with its return value (or is
 *  killed by SIGKILL when kill_self and fn returned 0).  Returns the child's
 *  exit code, 128+signal when killed by a signal other than the expected
 *  SIGKILL, or -1 on fork/wait failure. */
int tu_run_child(int (*fn)(void *arg), void *arg, int kill_self);

/** Wall clock in ms since the epoch. */
int64_t tu_now_ms(void);
/** Sleeps ms milliseconds. */
void tu_sleep_ms(int ms);
/** A simple PRNG. */
uint32_t tu_rand(uint32_t *state);

/** Recovery report rows collected by tu_report_collect. */
typedef struct tu_report_row {
    char topic[256];
    cano_recovery_info info;
} tu_report_row;
typedef struct tu_report {
    tu_report_row rows[256];
    int n;
} tu_report;
int tu_report_collect(const cano_recovery_info *info, void *payload);
/** The row for (topic, partition), or NULL. */
const tu_report_row *tu_report_find(const tu_report *r, const char *topic,
                                    int32_t partition);

/* ---- Suites added later (appended) ---- */
Suite *retention_suite(void);
Suite *compact_suite(void);

Suite *queue_suite(void);

/* ---- Fault, crash and bad-input suites (appended) ---- */
Suite *faults_suite(void);
Suite *badinput_suite(void);

/** Like tu_mkdtemp, but on a RAM file system (/dev/shm) when there is one,
 *  where fsync costs nothing: for loops that reopen a store thousands of
 *  times.  Falls back to /tmp.  @return 0, or -1 (errno set). */
int tu_mkdtemp_fast(char *buf, size_t n);

#endif
