/* segment.c - one segment: <base>.log with its .index and .timeindex.
 *
 * The active segment's .log is mapped shared and writable at its full
 * capacity, so an append is a memcpy into the page cache: it survives the
 * process dying the next instant and costs no system call.  Blocks are
 * reserved with fallocate ahead of the writes, so a full disk is an error
 * code, never a SIGBUS.  The 128-byte file header records the flush point:
 * how much of the data is known to be on stable storage.  It is rewritten
 * only after a sync covered that data, so after a crash only what follows
 * it has to be validated. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>
#include "io.h"
#include "segment.h"

#define PAGE 4096u
#define LOG_GROW_MIN (64u << 10)
#define LOG_GROW_MAX (8u << 20)
#define KEEP_BEHIND  (4u << 20)   /* mapped pages kept behind the tail */

enum { F_LOG, F_OIDX, F_TIDX };
static const char *const suffix[] = { ".log", ".index", ".timeindex" };


static uint64_t round_page(uint64_t n)
{
    return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

void cano__seg_header_encode(uint8_t *p, int64_t base, const cano__seg_header *h)
{
    memset(p, 0, CANO__SEG_HEADER);
    memcpy(p, CANO__SEG_MAGIC, 8);
    cano__st32(p + 8, 1);
    cano__st32(p + 12, CANO__SEG_HEADER);
    cano__st64(p + 16, (uint64_t)base);
    cano__st64(p + 24, h->flushed_len);
    cano__st64(p + 32, (uint64_t)h->flushed_next);
    cano__st64(p + 40, (uint64_t)h->flushed_max_ts);
    cano__st32(p + 48, h->state);
    cano__st64(p + 56, (uint64_t)h->log_max_ts);
    cano__st64(p + 120, XXH3_64bits(p, 120));
}

bool cano__seg_header_decode(const uint8_t *p, size_t len, int64_t base,
                          cano__seg_header *h)
{
    if (len < CANO__SEG_HEADER || memcmp(p, CANO__SEG_MAGIC, 8) ||
        cano__ld32(p + 8) != 1 || cano__ld32(p + 12) != CANO__SEG_HEADER ||
        (int64_t)cano__ld64(p + 16) != base ||
        cano__ld64(p + 120) != XXH3_64bits(p, 120))
        return false;
    h->flushed_len = cano__ld64(p + 24);
    h->flushed_next = (int64_t)cano__ld64(p + 32);
    h->flushed_max_ts = (int64_t)cano__ld64(p + 40);
    h->state = cano__ld32(p + 48);
    h->log_max_ts = (int64_t)cano__ld64(p + 56);
    return h->state <= CANO__SEG_SEALED && h->flushed_next >= base &&
           h->flushed_len <= (uint64_t)CANO__BATCH_MAX * 16;
}

/* ---- paths and lifetime ---- */

char *cano__seg_path(const cano__segment *s, int which, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s", s->stem, suffix[which]);
    return buf;
}
#define PATH(s, which) cano__seg_path((s), (which), pathbuf, sizeof pathbuf)

int cano__seg_new(const char *dir, int64_t base, const cano__seg_limits *lim,
                  struct cano__mapcache *cache, cano__segment **out)
{
    cano__segment *s = cano__calloc(1, sizeof *s);
    size_t n = strlen(dir) + 24;
    if (!s || !(s->stem = cano__malloc(n))) {
        cano__free(s);
        return cano__err(CANO_ENOMEM, "segment");
    }
    snprintf(s->stem, n, "%s/%020" PRId64, dir, base);
    s->base = base;
    s->lim = *lim;
    s->cache = cache;
    s->next_offset = base;
    s->max_ts = s->first_ts = s->log_max_ts = -1;
    s->last_tidx_ts = INT64_MIN;
    atomic_init(&s->end, CANO__SEG_HEADER);
    atomic_init(&s->data_bytes, -1);
    atomic_init(&s->pins, 1);          /* the owner's reference */
    *out = s;
    return CANO_OK;
}

void cano__seg_free(cano__segment *s)
{
    if (!s)
        return;
    cano__seg_unmap(s);
    cano__free(s->stem);
    cano__free(s);
}

/* Capacity of the active mappings: the largest the files can become. */
static uint64_t log_cap(const cano__segment *s)
{
    return round_page(CANO__SEG_HEADER + s->lim.data_cap);
}

static uint64_t idx_cap(const cano__segment *s, uint32_t entry)
{
    uint64_t step = CANO__MAX(s->lim.index_interval, CANO__BATCH_HEADER);
    return round_page(CANO__IDX_HEADER + (s->lim.data_cap / step + 2) * entry);
}

int cano__seg_files(const cano__segment *s)
{
    (void)s;
    return 3;
}

/* ---- creation ---- */

int cano__seg_create_index(cano__segment *s, int which, const char *magic)
{
    char pathbuf[4096];
    uint8_t hdr[CANO__IDX_HEADER];
    int fd;
    cano__idx_header(hdr, magic, s->base);
    int rc = cano__io_open(PATH(s, which), O_RDWR | O_CREAT | O_TRUNC,
                           s->lim.file_mode, &fd);
    if (rc == CANO_OK)
        rc = cano__io_pwrite(fd, hdr, sizeof hdr, 0, pathbuf);
    cano__io_close(fd);
    return rc;
}

static int write_header_fd(cano__segment *s, int fd, const cano__seg_header *h)
{
    char pathbuf[4096];
    uint8_t buf[CANO__SEG_HEADER];
    cano__seg_header_encode(buf, s->base, h);
    return cano__io_pwrite(fd, buf, sizeof buf, 0, PATH(s, F_LOG));
}

int cano__seg_create(cano__segment *s)
{
    char pathbuf[4096];
    int fd;
    cano__seg_header h = { 0, s->base, -1, CANO__SEG_ACTIVE, s->log_max_ts };
    int rc = cano__io_open(PATH(s, F_LOG), O_RDWR | O_CREAT | O_TRUNC,
                           s->lim.file_mode, &fd);
    if (rc != CANO_OK)
        return rc;
    /* No sync here: an empty segment lost in a power cut is no loss (open
     * repairs a half-created file).  The first sync of its data also syncs
     * its header page and its directory entry. */
    rc = write_header_fd(s, fd, &h);
    cano__io_close(fd);
    if (rc == CANO_OK)
        rc = cano__seg_create_index(s, F_OIDX, CANO__OIDX_MAGIC);
    if (rc == CANO_OK)
        rc = cano__seg_create_index(s, F_TIDX, CANO__TIDX_MAGIC);
    if (rc != CANO_OK)
        return rc;
    s->log_size = CANO__SEG_HEADER;
    s->oidx_size = s->tidx_size = CANO__IDX_HEADER;
    s->meta_known = true;
    s->indexes_checked = true;
    s->synced_end = CANO__SEG_HEADER;
    s->dir_unsynced = true;
    return CANO_OK;
}

/* ---- loading after a clean close ---- */

static int pread_at(cano__segment *s, int which, void *buf, size_t n,
                    uint64_t off, uint64_t *size_out)
{
    char pathbuf[4096];
    int fd;
    size_t got = 0;
    int rc = cano__io_open(PATH(s, which), O_RDONLY, 0, &fd);
    if (rc != CANO_OK)
        return rc;
    rc = cano__io_size(fd, size_out, pathbuf);
    if (rc == CANO_OK && n)
        rc = cano__io_pread(fd, buf, n, off, &got, pathbuf);
    cano__io_close(fd);
    if (rc == CANO_OK && got != n)
        rc = CANO_ECORRUPT;
    return rc;
}

/* Reads the last entry of an index file whose size says it has n entries. */
static int load_index_tail(cano__segment *s, int which, const char *magic,
                           uint32_t entry, uint8_t *last, uint32_t *n_out,
                           uint64_t *size_out)
{
    uint8_t hdr[CANO__IDX_HEADER];
    uint64_t size;
    int rc = pread_at(s, which, hdr, sizeof hdr, 0, &size);
    if (rc != CANO_OK)
        return rc;
    if (!cano__idx_header_ok(hdr, sizeof hdr, magic, s->base) ||
        (size - CANO__IDX_HEADER) % entry)
        return CANO_ECORRUPT;
    *n_out = (uint32_t)((size - CANO__IDX_HEADER) / entry);
    *size_out = size;
    if (*n_out)
        rc = pread_at(s, which, last, entry, size - entry, &size);
    return rc;
}

int cano__seg_load_clean(cano__segment *s)
{
    uint8_t buf[CANO__SEG_HEADER];
    uint8_t last_o[CANO__OIDX_ENTRY], last_t[CANO__TIDX_ENTRY];
    cano__seg_header h;
    uint64_t size;
    uint32_t no = 0, nt = 0;
    int rc = pread_at(s, F_LOG, buf, sizeof buf, 0, &size);
    if (rc != CANO_OK)
        return rc;
    if (!cano__seg_header_decode(buf, sizeof buf, s->base, &h) ||
        size != CANO__SEG_HEADER + h.flushed_len)
        return CANO_ECORRUPT;
    rc = load_index_tail(s, F_OIDX, CANO__OIDX_MAGIC, CANO__OIDX_ENTRY, last_o,
                         &no, &s->oidx_size);
    if (rc == CANO_OK)
        rc = load_index_tail(s, F_TIDX, CANO__TIDX_MAGIC, CANO__TIDX_ENTRY,
                             last_t, &nt, &s->tidx_size);
    if (rc != CANO_OK)
        return rc == CANO_ENOTFOUND ? CANO_ECORRUPT : rc;
    uint64_t end = CANO__SEG_HEADER + h.flushed_len;
    uint32_t last_pos = no ? cano__oidx_pos(last_o, 0) : CANO__SEG_HEADER;
    if (last_pos > end || (nt && cano__tidx_ts(last_t, 0) > h.flushed_max_ts))
        return CANO_ECORRUPT;
    if (end > CANO__SEG_HEADER) {
        uint8_t b[CANO__BATCH_HEADER];
        cano__batch_info bi;
        rc = pread_at(s, F_LOG, b, sizeof b, CANO__SEG_HEADER, &size);
        if (rc != CANO_OK)
            return rc;
        if (cano__batch_parse(b, sizeof b, &bi) == CANO_ECORRUPT)
            return CANO_ECORRUPT;
        s->first_ts = (int64_t)cano__ld64(b + 24);
    }
    s->log_size = size;
    atomic_store(&s->end, end);
    atomic_store(&s->n_oidx, no);
    atomic_store(&s->n_tidx, nt);
    s->synced_end = end;
    s->next_offset = h.flushed_next;
    s->max_ts = h.flushed_max_ts;
    s->log_max_ts = CANO__MAX(h.log_max_ts, h.flushed_max_ts);
    s->since_index = end - last_pos;
    s->last_tidx_ts = nt ? cano__tidx_ts(last_t, 0) : INT64_MIN;
    s->sealed = false;
    s->meta_known = true;
    return CANO_OK;
}

/* ---- mapping ---- */

static int map_file(cano__segment *s, int which, bool writable, uint64_t cap,
                    uint8_t **addr, size_t *map_len, uint64_t *size_out)
{
    char pathbuf[4096];
    int fd;
    uint64_t size;
    int flags = writable ? O_RDWR : O_RDONLY;
    if (writable && which != F_LOG)
        flags |= O_CREAT;
    int rc = cano__io_open(PATH(s, which), flags, s->lim.file_mode, &fd);
    if (rc != CANO_OK)
        return rc;
    rc = cano__io_size(fd, &size, pathbuf);
    uint64_t len = writable ? CANO__MAX(cap, round_page(size)) : size;
    void *p = NULL;
    if (rc == CANO_OK && len > 0)
        rc = cano__io_map(fd, (size_t)len, writable, &p, pathbuf);
    cano__io_close(fd);
    if (rc != CANO_OK)
        return rc;
    *addr = p;
    *map_len = (size_t)len;
    *size_out = size;
    return CANO_OK;
}

/* A sealed segment's metadata comes from its header the first time it is
 * mapped; its indexes are trusted only as far as they are well formed. */
static void load_sealed_meta(cano__segment *s)
{
    cano__seg_header h;
    uint64_t end = s->log_size;
    if (cano__seg_header_decode(s->log, s->log_size, s->base, &h) &&
        CANO__SEG_HEADER + h.flushed_len <= s->log_size) {
        end = CANO__SEG_HEADER + h.flushed_len;
        s->next_offset = h.flushed_next;
        s->max_ts = h.flushed_max_ts;
        s->log_max_ts = CANO__MAX(h.log_max_ts, h.flushed_max_ts);
    } else {
        /* No usable header: walk the framing to find the data's end. */
        cano__batch_info b;
        uint64_t pos = CANO__SEG_HEADER;
        while (pos < s->log_size &&
               cano__batch_parse(s->log + pos, s->log_size - pos, &b) ==
               CANO_OK) {
            s->next_offset = b.base_offset + b.last_delta + 1;
            s->max_ts = CANO__MAX(s->max_ts, b.max_ts);
            pos += b.length;
        }
        end = pos;
    }
    atomic_store(&s->end, end);
    atomic_store(&s->data_bytes, (int64_t)(end - CANO__SEG_HEADER));
    s->synced_end = end;
    uint32_t no = 0, nt = 0;
    if (s->oidx && cano__idx_header_ok(s->oidx, s->oidx_size, CANO__OIDX_MAGIC,
                                       s->base))
        no = cano__oidx_valid(s->oidx + CANO__IDX_HEADER,
                              (uint32_t)((s->oidx_size - CANO__IDX_HEADER) /
                                         CANO__OIDX_ENTRY), (uint32_t)end);
    uint64_t rel_limit = (uint64_t)(s->next_offset - s->base);
    if (s->tidx && cano__idx_header_ok(s->tidx, s->tidx_size, CANO__TIDX_MAGIC,
                                       s->base))
        nt = cano__tidx_valid(s->tidx + CANO__IDX_HEADER,
                              (uint32_t)((s->tidx_size - CANO__IDX_HEADER) /
                                         CANO__TIDX_ENTRY),
                              (uint32_t)CANO__MIN(rel_limit, UINT32_MAX),
                              s->max_ts);
    atomic_store(&s->n_oidx, no);
    atomic_store(&s->n_tidx, nt);
    s->meta_known = true;
}

/* The first time an active segment loaded after a clean close is mapped,
 * its index entries are checked; when some are damaged the segment is
 * recovered as after a crash: the entries below the flush point that are
 * still valid are kept and the rest dropped.  The flushed data is trusted
 * as in every open, so the end offset never moves back (damage inside it
 * reads as CANO_ECORRUPT). */
static int check_active_indexes(cano__segment *s)
{
    s->indexes_checked = true;
    uint32_t no = atomic_load(&s->n_oidx), nt = atomic_load(&s->n_tidx);
    uint64_t end = atomic_load(&s->end);
    if (s->oidx_size >= CANO__IDX_HEADER + (uint64_t)no * CANO__OIDX_ENTRY &&
        s->tidx_size >= CANO__IDX_HEADER + (uint64_t)nt * CANO__TIDX_ENTRY &&
        cano__idx_header_ok(s->oidx, s->oidx_size, CANO__OIDX_MAGIC, s->base) &&
        cano__idx_header_ok(s->tidx, s->tidx_size, CANO__TIDX_MAGIC, s->base) &&
        cano__oidx_valid(s->oidx + CANO__IDX_HEADER, no, (uint32_t)end) == no &&
        cano__tidx_valid(s->tidx + CANO__IDX_HEADER, nt,
                         (uint32_t)(s->next_offset - s->base),
                         s->max_ts) == nt)
        return CANO_OK;
    cano__seg_recovery rep;
    return cano__seg_recover(s, false, &rep);
}

/* A sealed index is usable when both files are there, with their headers,
 * and every entry of them was found well formed. */
static bool sealed_indexes_ok(const cano__segment *s)
{
    if (!s->oidx || !s->tidx || s->oidx_size < CANO__IDX_HEADER ||
        s->tidx_size < CANO__IDX_HEADER ||
        !cano__idx_header_ok(s->oidx, s->oidx_size, CANO__OIDX_MAGIC, s->base) ||
        !cano__idx_header_ok(s->tidx, s->tidx_size, CANO__TIDX_MAGIC, s->base))
        return false;
    uint64_t no = (s->oidx_size - CANO__IDX_HEADER) / CANO__OIDX_ENTRY;
    uint64_t nt = (s->tidx_size - CANO__IDX_HEADER) / CANO__TIDX_ENTRY;
    return atomic_load(&s->n_oidx) == no && atomic_load(&s->n_tidx) == nt;
}

static int seg_map(cano__segment *s, bool may_rebuild);

int cano__seg_map(cano__segment *s)
{
    return seg_map(s, true);
}

static int seg_map(cano__segment *s, bool may_rebuild)
{
    bool w = !s->sealed;
    uint64_t size;
    int rc = map_file(s, F_LOG, w, log_cap(s), &s->log, &s->log_map, &size);
    if (rc != CANO_OK)
        return rc;
    if (!w || !s->meta_known)
        s->log_size = size;
    /* A sealed segment's index may be missing or damaged: reads then scan
     * the .log from the start, which is slower but exact. */
    rc = map_file(s, F_OIDX, w, idx_cap(s, CANO__OIDX_ENTRY), &s->oidx,
                  &s->oidx_map, &size);
    if (rc == CANO_OK && (!w || !s->meta_known))
        s->oidx_size = size;
    else if (rc != CANO_OK && (w || rc != CANO_ENOTFOUND))
        goto fail;
    rc = map_file(s, F_TIDX, w, idx_cap(s, CANO__TIDX_ENTRY), &s->tidx,
                  &s->tidx_map, &size);
    if (rc == CANO_OK && (!w || !s->meta_known))
        s->tidx_size = size;
    else if (rc != CANO_OK && (w || rc != CANO_ENOTFOUND))
        goto fail;
    if (!w && s->log_size < CANO__SEG_HEADER) {
        rc = cano__err(CANO_ECORRUPT, "%s.log: too short", s->stem);
        goto fail;
    }
    if (!s->meta_known && !w)
        load_sealed_meta(s);
    if (w && !s->indexes_checked) {
        rc = check_active_indexes(s);
        if (rc != CANO_OK)
            goto fail;
    }
    if (!w && may_rebuild && !sealed_indexes_ok(s)) {
        /* A missing or damaged index is rebuilt from the .log, once: when
         * the .log's batches contradict its header, the rebuilt index may
         * still not pass in full, and its valid prefix is used. */
        rc = cano__seg_rebuild_index(s, s->log, atomic_load(&s->end), "");
        if (rc != CANO_OK)
            goto fail;
        cano__seg_unmap(s);
        s->meta_known = false;
        return seg_map(s, false);
    }
    return CANO_OK;
fail:
    cano__seg_unmap(s);
    return rc;
}

void cano__seg_unmap(cano__segment *s)
{
    cano__io_unmap(s->log, s->log_map);
    cano__io_unmap(s->oidx, s->oidx_map);
    cano__io_unmap(s->tidx, s->tidx_map);
    s->log = s->oidx = s->tidx = NULL;
    s->log_map = s->oidx_map = s->tidx_map = 0;
    s->released = 0;
}

/* ---- appending ---- */

/* Appends touch every page of the log once: map the new pages in one call
 * rather than one fault each, and drop from this process the pages well
 * behind the tail, so its memory does not grow with the log (the data stay
 * in the page cache, and readers fault them back in cheaply). */
static void prefault_and_release(cano__segment *s, uint64_t from, uint64_t to)
{
    cano__io_prefault(s->log + from, (size_t)(to - from));
    uint64_t keep = KEEP_BEHIND;
    uint64_t upto = from > keep ? (from - keep) & ~(uint64_t)(PAGE - 1) : 0;
    if (upto > s->released) {
        cano__io_release(s->log + s->released, (size_t)(upto - s->released));
        s->released = upto;
    }
}

/* Grows a file with reserved, zeroed blocks up to at least need bytes. */
static int grow_file(cano__segment *s, int which, uint64_t *size,
                     uint64_t need, uint64_t cap)
{
    char pathbuf[4096];
    if (need <= *size)
        return CANO_OK;
    if (need > cap)
        return cano__err(CANO_EIO, "%s: segment capacity exceeded",
                         s->stem);
    uint64_t step = CANO__MIN(CANO__MAX(*size, LOG_GROW_MIN), LOG_GROW_MAX);
    uint64_t want = CANO__MIN(round_page(CANO__MAX(need, *size + step)), cap);
    int fd;
    int rc = cano__io_open(PATH(s, which), O_RDWR, 0, &fd);
    if (rc != CANO_OK)
        return rc;
    rc = cano__io_allocate(fd, *size, want - *size, pathbuf);
    cano__io_close(fd);
    if (rc != CANO_OK)
        return rc;
    if (which == F_LOG)
        prefault_and_release(s, *size, want);
    *size = want;
    return CANO_OK;
}

int cano__seg_reserve(cano__segment *s, uint64_t len)
{
    return grow_file(s, F_LOG, &s->log_size, atomic_load(&s->end) + len,
                     s->log_map);
}

uint8_t *cano__seg_tail(cano__segment *s)
{
    return s->log + atomic_load_explicit(&s->end, memory_order_relaxed);
}

/* Adds index entries for a batch about to be written at the end, every
 * index_interval bytes; the first batch of a segment needs none. */
int cano__seg_index_batch(cano__segment *s, int64_t offset, uint64_t len)
{
    uint64_t end = atomic_load_explicit(&s->end, memory_order_relaxed);
    if (end > CANO__SEG_HEADER && s->since_index >= s->lim.index_interval) {
        uint32_t rel = (uint32_t)(offset - s->base);
        uint32_t n = atomic_load_explicit(&s->n_oidx, memory_order_relaxed);
        int rc = grow_file(s, F_OIDX, &s->oidx_size, CANO__IDX_HEADER +
                           (uint64_t)(n + 1) * CANO__OIDX_ENTRY, s->oidx_map);
        if (rc != CANO_OK)
            return rc;
        cano__oidx_put(s->oidx + CANO__IDX_HEADER, n, rel, (uint32_t)end);
        atomic_store_explicit(&s->n_oidx, n + 1, memory_order_release);
        if (s->max_ts > s->last_tidx_ts && s->max_ts >= 0) {
            uint32_t nt = atomic_load_explicit(&s->n_tidx,
                                               memory_order_relaxed);
            rc = grow_file(s, F_TIDX, &s->tidx_size, CANO__IDX_HEADER +
                           (uint64_t)(nt + 1) * CANO__TIDX_ENTRY, s->tidx_map);
            if (rc != CANO_OK)
                return rc;
            cano__tidx_put(s->tidx + CANO__IDX_HEADER, nt, s->max_ts, rel);
            atomic_store_explicit(&s->n_tidx, nt + 1, memory_order_release);
            s->last_tidx_ts = s->max_ts;
        }
        s->since_index = 0;
    }
    s->since_index += len;
    return CANO_OK;
}

void cano__seg_publish(cano__segment *s, uint64_t len, int64_t next_offset,
                       int64_t base_ts, int64_t max_ts)
{
    uint64_t end = atomic_load_explicit(&s->end, memory_order_relaxed);
    if (end == CANO__SEG_HEADER)
        s->first_ts = base_ts;
    s->next_offset = next_offset;
    if (max_ts > s->max_ts)
        s->max_ts = max_ts;
    if (max_ts > s->log_max_ts)
        s->log_max_ts = max_ts;
    atomic_store_explicit(&s->end, end + len, memory_order_release);
}

void cano__seg_header_update(cano__segment *s, uint32_t state)
{
    cano__seg_header h = { s->synced_end - CANO__SEG_HEADER, s->next_offset,
                     s->max_ts, state, s->log_max_ts };
    cano__seg_header_encode(s->log, s->base, &h);
}

int cano__seg_sync_dir(cano__segment *s)
{
    if (!s->dir_unsynced)
        return CANO_OK;
    char dir[4200];
    const char *slash = strrchr(s->stem, '/');
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - s->stem), s->stem);
    int rc = cano__io_fsync_dir(dir);
    if (rc == CANO_OK)
        s->dir_unsynced = false;
    return rc;
}

int cano__seg_sync(cano__segment *s)
{
    uint64_t end = atomic_load(&s->end);
    if (s->synced_end >= end)
        return CANO_OK;
    int rc = cano__seg_sync_dir(s);
    if (rc != CANO_OK)
        return rc;
    rc = cano__io_msync(s->log + s->synced_end, end - s->synced_end,
                        s->stem);
    if (rc != CANO_OK)
        return rc;
    s->synced_end = end;
    /* Only now may the header claim the data: it is on disk. */
    cano__seg_header_update(s, CANO__SEG_ACTIVE);
    return CANO_OK;
}

void cano__seg_mark_synced(cano__segment *s, uint64_t end, int64_t next,
                           int64_t max_ts, int64_t log_max_ts)
{
    if (end <= s->synced_end || s->sealed)
        return;          /* a roll synced it already and sealed the header */
    s->synced_end = end;
    cano__seg_header h = { end - CANO__SEG_HEADER, next, max_ts,
                           CANO__SEG_ACTIVE, log_max_ts };
    cano__seg_header_encode(s->log, s->base, &h);
}

static int trim_file(cano__segment *s, int which, uint64_t len, bool sync)
{
    char pathbuf[4096];
    int fd;
    int rc = cano__io_open(PATH(s, which), O_RDWR, 0, &fd);
    if (rc != CANO_OK)
        return rc;
    rc = cano__io_truncate(fd, len, pathbuf);
    if (rc == CANO_OK && sync)
        rc = cano__io_fsync(fd, pathbuf);
    cano__io_close(fd);
    return rc;
}

/* Shared by seal and clean close: data synced first, then the header that
 * describes it, then the files cut to their data and synced again. */
static int finish_files(cano__segment *s, uint32_t state)
{
    int rc = cano__seg_sync(s);
    if (rc != CANO_OK)
        return rc;
    cano__seg_header_update(s, state);
    uint64_t end = atomic_load(&s->end);
    rc = trim_file(s, F_LOG, end, true);
    if (rc != CANO_OK)
        return rc;
    s->log_size = end;
    uint64_t no = atomic_load(&s->n_oidx), nt = atomic_load(&s->n_tidx);
    rc = trim_file(s, F_OIDX, CANO__IDX_HEADER + no * CANO__OIDX_ENTRY, false);
    if (rc == CANO_OK)
        s->oidx_size = CANO__IDX_HEADER + no * CANO__OIDX_ENTRY;
    if (rc == CANO_OK)
        rc = trim_file(s, F_TIDX, CANO__IDX_HEADER + nt * CANO__TIDX_ENTRY,
                       false);
    if (rc == CANO_OK)
        s->tidx_size = CANO__IDX_HEADER + nt * CANO__TIDX_ENTRY;
    return rc;
}

int cano__seg_seal(cano__segment *s)
{
    int rc = finish_files(s, CANO__SEG_SEALED);
    if (rc == CANO_OK) {
        /* Cold from now on: its pages leave this process (not the cache). */
        uint64_t end = round_page(atomic_load(&s->end));
        if (end > s->released)
            cano__io_release(s->log + s->released, (size_t)(end - s->released));
        s->released = end;
        cano__io_release(s->oidx, CANO__MIN(round_page(s->oidx_size), s->oidx_map));
        cano__io_release(s->tidx, CANO__MIN(round_page(s->tidx_size), s->tidx_map));
        s->sealed = true;
        atomic_store(&s->data_bytes,
                     (int64_t)(atomic_load(&s->end) - CANO__SEG_HEADER));
    }
    return rc;
}

int cano__seg_close_clean(cano__segment *s)
{
    return finish_files(s, CANO__SEG_ACTIVE);
}

/* ---- reading ---- */

uint64_t cano__seg_end(const cano__segment *s)
{
    return atomic_load_explicit(&s->end, memory_order_acquire);
}

uint64_t cano__seg_position(const cano__segment *s, int64_t offset)
{
    if (offset <= s->base || !s->oidx)
        return CANO__SEG_HEADER;
    uint64_t rel64 = (uint64_t)(offset - s->base);
    uint32_t rel = rel64 > UINT32_MAX ? UINT32_MAX : (uint32_t)rel64;
    uint32_t n = atomic_load_explicit(&s->n_oidx, memory_order_acquire);
    uint64_t pos = cano__oidx_lookup(s->oidx + CANO__IDX_HEADER, n, rel,
                                     CANO__SEG_HEADER);
    uint64_t end = cano__seg_end(s);
    cano__batch_info b;
    if (pos < CANO__SEG_HEADER || pos >= end ||
        cano__batch_parse(s->log + pos, end - pos, &b) != CANO_OK ||
        b.base_offset > offset || b.base_offset < s->base)
        return CANO__SEG_HEADER;
    return pos;
}

int64_t cano__seg_time_start(const cano__segment *s, int64_t ts)
{
    if (!s->tidx)
        return s->base;
    uint32_t n = atomic_load_explicit(&s->n_tidx, memory_order_acquire);
    return s->base + cano__tidx_lookup(s->tidx + CANO__IDX_HEADER, n, ts);
}
