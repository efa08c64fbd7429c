/* ondisk.h - reading a store's files without cano_open, for `cano dump`
 * and `cano verify`: the store's topics, partitions and segments in a
 * fixed order, and the walk over a segment's batches that both commands
 * (and examples/python/canodump.py) follow.  See cano-format(5).
 *
 * Nothing here takes the store's lock or writes: the files of a store that
 * a running process holds open can be read (they may change underneath,
 * which then shows as a torn tail or a vanished file). */
#ifndef CANO_CLI_ONDISK_H
#define CANO_CLI_ONDISK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "segment.h"

/* ---- Listing, in the order every tool walks a store ---- */

/* A sorted list of names. */
typedef struct od_names {
    char **v;
    size_t n;
} od_names;

/* The topic directories of a store, sorted by byte value: every directory
 * whose name is made of [A-Za-z0-9._-] (internal "__" topics included, the
 * store's own "cano+..." entries not).  0, or -1 with errno set. */
int od_list_topics(const char *store, od_names *out);
/* The partition directories of a topic (decimal names without leading
 * zeros), ascending.  0, or -1 with errno set. */
int od_list_partitions(const char *topic_dir, int32_t **ids, size_t *n);
/* The segments of a partition (files named by 20 digits + ".log"), by base
 * offset.  0, or -1 with errno set. */
int od_list_segments(const char *part_dir, int64_t **bases, size_t *n);
/* Every entry of a directory, sorted.  0, or -1 with errno set. */
int od_list_dir(const char *dir, od_names *out);
void od_names_free(od_names *l);

/* The process that holds the store's lock, read from /proc/locks (no lock
 * is taken, so this never disturbs the owner or a process opening the
 * store): its pid; 0 when none; -1 when it cannot be told. */
int od_store_owner(const char *store);

/* Whether the store's clean-shutdown marker (cano+clean) is there. */
bool od_store_clean(const char *dir);

/* Reads a whole file of at most max bytes into a malloc'ed, NUL-terminated
 * buffer.  0; -1 with errno set (ENOENT: missing, EFBIG: too large). */
int od_read_file(const char *path, size_t max, char **text, size_t *len);

/* A file's size, or -1 (errno set). */
int64_t od_file_size(const char *path);

/* ---- Small state files (cano-format(5), "Atomic writes" on) ---- */

/* "<tag>=1\n<offset>\n" (log-start-offset, cleaner-offset): the offset, or
 * -1 when the text does not have exactly that form. */
int64_t od_parse_offset_file(const char *text, size_t len, const char *tag);

/* One line of producer-state. */
typedef struct od_producer_line {
    int64_t pid, seq, count, first;
} od_producer_line;
/* Parses producer-state; *lines malloc'ed.  0, or -1 with *bad_line set to
 * the 1-based number of the first malformed line. */
int od_parse_producers(const char *text, size_t len, int64_t *valid_up_to,
                       od_producer_line **lines, size_t *n, int *bad_line);

/* Checks compaction.manifest; 0, or -1 with *bad_line set. */
int od_parse_manifest(const char *text, size_t len, int *bad_line);

/* The checksum of a topic.conf text: its last line must be "checksum="
 * and the XXH3-64 of every byte before that line in 16 lowercase hex
 * digits.  stored (24 bytes) receives what the file says ("missing" when
 * there is no such line, "invalid" when it is too long), computed (17
 * bytes, may be NULL) the hash when there is a checksum line. */
void od_conf_checksum(const char *text, size_t len, char *stored,
                      char *computed, bool *ok);

/* ---- Segments ---- */

/* What od_seg_next found at the current position. */
enum {
    OD_END = 0,       /* the file ends right after the last batch */
    OD_BATCH,         /* a batch whose framing parses (see the flags) */
    OD_TAIL_ZERO,     /* the rest of the file is zero bytes */
    OD_TAIL_TORN,     /* the data ends here: what follows is not a batch */
    OD_IOERR          /* a read failed (errno set) */
};

typedef struct od_item {
    int      kind;
    uint64_t pos;            /* byte position in the .log file */
    uint64_t len;            /* batch length, or bytes of the tail */
    bool     inside;         /* pos is below the flush point */
    /* OD_BATCH, and OD_TAIL_TORN when has_batch (an invalid batch past the
     * flush point, which is where the data ends): */
    bool     has_batch;
    cano__batch_info b;
    const uint8_t *bytes;    /* the whole batch, until the next call */
    uint64_t stored_sum, computed_sum;
    bool     sum_ok;
    bool     records_ok;     /* every record decodes (only when sum_ok) */
    bool     backwards;      /* base_offset below the previous batch's end */
    char     why[160];       /* OD_TAIL_TORN, or a batch that is not valid */
} od_item;

typedef struct od_seg {
    char     path[4200];
    int      fd;
    int64_t  base;           /* from the file name */
    uint64_t size;
    bool     has_header;     /* the file holds the 128 header bytes */
    bool     all_zero_header;
    uint8_t  raw[CANO__SEG_HEADER];
    uint64_t stored_sum, computed_sum;
    bool     header_ok;      /* decodes (cano__seg_header_decode) */
    cano__seg_header hdr;
    uint64_t flush_end;      /* 128 + flushed_len; 128 without a header */
    /* the walk */
    uint64_t pos;
    int64_t  next;           /* offset after the last batch with a good sum */
    bool     done;
    uint8_t *buf, *scratch;
    size_t   cap, scratch_cap;
    uint8_t *win;            /* read-ahead window of the file */
    uint64_t win_pos;
    size_t   win_len;
} od_seg;

#define OD_WINDOW (1u << 20)

/* Opens a segment file and reads its header.  0, or -1 (errno set). */
int  od_seg_open(od_seg *s, const char *path, int64_t base);
/* Returns the next item of the walk from position 128, as cano-format(5)
 * describes the data of a segment: batches back to back, up to the end of
 * the file, a 64-byte batch header of zeros (the rest is a zero or torn
 * tail), or a batch that is not valid.  Below the flush point a batch with
 * a bad checksum or bad records is returned as OD_BATCH and the walk goes
 * on after it (its length field parsed); at or past the flush point such a
 * batch is where the data ends (OD_TAIL_TORN with has_batch).  A batch
 * header whose framing does not parse always ends the walk (OD_TAIL_TORN,
 * inside tells whether it was below the flush point). */
int  od_seg_next(od_seg *s, od_item *it);
void od_seg_close(od_seg *s);

/* Why a segment header does not decode ("" when it does). */
const char *od_seg_header_problem(const od_seg *s);

/* ---- Index files ---- */

typedef struct od_index {
    bool     present;
    uint64_t size;
    uint8_t *data;           /* the whole file */
    bool     header_ok;
    uint32_t n;              /* entries before the first all-zero one */
    uint32_t n_slots;        /* whole entries the file holds */
    bool     trailing;       /* (size - 16) is not a multiple of the entry */
    bool     after_end;      /* a non-zero entry after an all-zero one */
} od_index;

/* Reads an index file (which = CANO__SEG_F_OIDX or _TIDX).  0, or -1 with
 * errno set (a missing file is 0 with present false). */
int  od_index_read(od_index *ix, const char *path, int which, int64_t base);
void od_index_free(od_index *ix);

/* ---- Output ---- */

/* Writes a byte string as dump shows it: null when absent; "text" when it
 * is UTF-8 without control characters (\\ \" \t \n \r escaped); otherwise
 * hex:<lowercase hex digits>. */
void od_put_bytes(FILE *f, const void *p, size_t n, bool present);

/* The state file and config names, and their sizes that tools accept. */
#define OD_CONF_MAX   8192
#define OD_STATE_MAX  (64u << 20)
#endif
