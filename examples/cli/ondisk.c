/* ondisk.c - listing a store and walking its segment files (see ondisk.h).
 *
 * Files are read with pread, a batch at a time, never mapped: a file that a
 * running process truncates under us then reads short instead of raising
 * SIGBUS, and memory stays bounded by the largest batch. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <xxhash.h>
#include "ondisk.h"

/* ---- listing ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void od_names_free(od_names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int names_push(od_names *l, size_t *cap, const char *name)
{
    if (l->n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        char **v = realloc(l->v, c * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        *cap = c;
    }
    if (!(l->v[l->n] = strdup(name)))
        return -1;
    l->n++;
    return 0;
}

/* Lists dir, keeping the names keep() accepts (NULL: all), sorted. */
static int list_filtered(const char *dir, bool (*keep)(const char *),
                         od_names *out)
{
    out->v = NULL;
    out->n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    errno = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (keep && !keep(e->d_name))
            continue;
        if (names_push(out, &cap, e->d_name)) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && errno)
        rc = -1;
    int saved = errno;
    closedir(d);
    if (rc) {
        od_names_free(out);
        errno = saved;
        return -1;
    }
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return 0;
}

int od_list_dir(const char *dir, od_names *out)
{
    return list_filtered(dir, NULL, out);
}

static bool topic_name(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > 249)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' &&
            *s != '-')
            return false;
    return true;
}

static bool is_dir(const char *parent, const char *name)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", parent, name);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int od_list_topics(const char *store, od_names *out)
{
    if (list_filtered(store, topic_name, out))
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (is_dir(store, out->v[i]))
            out->v[k++] = out->v[i];
        else
            free(out->v[i]);
    }
    out->n = k;
    return 0;
}

static bool part_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 9 || (s[0] == '0' && n > 1))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int od_list_partitions(const char *topic_dir, int32_t **ids, size_t *n)
{
    od_names l;
    *ids = NULL;
    *n = 0;
    if (list_filtered(topic_dir, part_name, &l))
        return -1;
    int32_t *v = malloc((l.n ? l.n : 1) * sizeof *v);
    if (!v) {
        od_names_free(&l);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < l.n; i++)
        if (is_dir(topic_dir, l.v[i]))
            v[k++] = (int32_t)atol(l.v[i]);
    od_names_free(&l);
    qsort(v, k, sizeof *v, cmp_i32);
    *ids = v;
    *n = k;
    return 0;
}

static bool seg_name(const char *s)
{
    if (strlen(s) != 24 || strcmp(s + 20, ".log"))
        return false;
    for (int i = 0; i < 20; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return s[0] == '0';      /* offsets have at most 19 digits */
}

int od_list_segments(const char *part_dir, int64_t **bases, size_t *n)
{
    od_names l;
    *bases = NULL;
    *n = 0;
    if (list_filtered(part_dir, seg_name, &l))
        return -1;
    int64_t *v = malloc((l.n ? l.n : 1) * sizeof *v);
    if (!v) {
        od_names_free(&l);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < l.n; i++) {
        errno = 0;
        long long x = strtoll(l.v[i], NULL, 10);
        if (!errno && x >= 0)
            v[k++] = x;
    }
    od_names_free(&l);
    qsort(v, k, sizeof *v, cmp_i64);
    *bases = v;
    *n = k;
    return 0;
}

/* ---- the store's lock ---- */

int od_store_owner(const char *store)
{
    char path[4200], line[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/cano+lock", store);
    if (stat(path, &st))
        return 0;
    FILE *f = fopen("/proc/locks", "r");
    if (!f)
        return -1;
    int owner = 0;
    while (!owner && fgets(line, sizeof line, f)) {
        unsigned maj, min;
        unsigned long ino;
        int pid;
        /* "1: FLOCK  ADVISORY  WRITE 1234 fe:00:11028435 0 EOF" */
        if (sscanf(line, "%*s FLOCK %*s %*s %d %x:%x:%lu", &pid, &maj, &min,
                   &ino) == 4 && ino == (unsigned long)st.st_ino &&
            maj == major(st.st_dev) && min == minor(st.st_dev))
            owner = pid > 0 ? pid : -1;
    }
    fclose(f);
    return owner;
}

/* ---- whole small files ---- */

static int pread_full(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + done, n - done,
                          (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

int od_read_file(const char *path, size_t max, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        errno = EFBIG;
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    if (!buf || pread_full(fd, buf, (size_t)st.st_size, 0, &got)) {
        int e = buf ? errno : ENOMEM;
        free(buf);
        close(fd);
        errno = e;
        return -1;
    }
    close(fd);
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
}

int64_t od_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (int64_t)st.st_size;
}

/* ---- state files ---- */

/* A decimal number at s (optional '-' when neg_ok) ending at a char in
 * stops; false when malformed.  *end is set past the digits. */
static bool get_dec(const char *s, const char *lim, bool neg_ok, int64_t *v,
                    const char **end)
{
    bool neg = false;
    if (s < lim && *s == '-' && neg_ok) {
        neg = true;
        s++;
    }
    if (s >= lim || *s < '0' || *s > '9')
        return false;
    int64_t x = 0;
    for (; s < lim && *s >= '0' && *s <= '9'; s++) {
        if (x > (INT64_MAX - 9) / 10)
            return false;
        x = x * 10 + (*s - '0');
    }
    *v = neg ? -x : x;
    *end = s;
    return true;
}

int64_t od_parse_offset_file(const char *text, size_t len, const char *tag)
{
    size_t tl = strlen(tag);
    const char *lim = text + len, *e;
    int64_t v;
    if (len < tl + 3 || memcmp(text, tag, tl) || memcmp(text + tl, "=1\n", 3))
        return -1;
    if (!get_dec(text + tl + 3, lim, false, &v, &e) || e + 1 != lim ||
        *e != '\n')
        return -1;
    return v;
}

int od_parse_producers(const char *text, size_t len, int64_t *valid_up_to,
                       od_producer_line **lines, size_t *n, int *bad_line)
{
    const char *p = text, *lim = text + len, *e;
    size_t cap = 0;
    *lines = NULL;
    *n = 0;
    *bad_line = 1;
    if (len < 17 || memcmp(p, "cano-producers=1\n", 17))
        return -1;
    p += 17;
    *bad_line = 2;
    if (!get_dec(p, lim, false, valid_up_to, &e) || e >= lim || *e != '\n')
        return -1;
    p = e + 1;
    for (int line = 3; p < lim; line++) {
        od_producer_line l;
        int64_t *f[4] = { &l.pid, &l.seq, &l.count, &l.first };
        *bad_line = line;
        for (int i = 0; i < 4; i++) {
            if (!get_dec(p, lim, false, f[i], &e) || e >= lim ||
                *e != (i == 3 ? '\n' : ' '))
                return -1;
            p = e + 1;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            od_producer_line *v = realloc(*lines, cap * sizeof *v);
            if (!v)
                return -1;
            *lines = v;
        }
        (*lines)[(*n)++] = l;
    }
    *bad_line = 0;
    return 0;
}

int od_parse_manifest(const char *text, size_t len, int *bad_line)
{
    const char *p = text, *lim = text + len, *e;
    int64_t v;
    *bad_line = 1;
    if (len < 18 || memcmp(p, "cano-compaction=1\n", 18))
        return -1;
    p += 18;
    for (int line = 2; p < lim; line++) {
        *bad_line = line;
        if (lim - p < 4 || (memcmp(p, "old ", 4) && memcmp(p, "new ", 4)))
            return -1;
        if (!get_dec(p + 4, lim, false, &v, &e) || e >= lim || *e != '\n')
            return -1;
        p = e + 1;
    }
    *bad_line = 0;
    return 0;
}

/* ---- topic.conf ---- */

void od_conf_checksum(const char *text, size_t len, char *stored,
                      char *computed, bool *ok)
{
    char c[17];
    *ok = false;
    strcpy(stored, "missing");
    if (computed)
        strcpy(computed, "");
    if (len == 0 || text[len - 1] != '\n')
        return;
    size_t start = len - 1;
    while (start > 0 && text[start - 1] != '\n')
        start--;
    size_t ll = len - 1 - start;
    if (ll < 9 || memcmp(text + start, "checksum=", 9))
        return;
    snprintf(c, sizeof c, "%016" PRIx64, (uint64_t)XXH3_64bits(text, start));
    if (computed)
        strcpy(computed, c);
    if (ll - 9 > 16) {
        strcpy(stored, "invalid");
        return;
    }
    snprintf(stored, 17, "%.*s", (int)(ll - 9), text + start + 9);
    *ok = !strcmp(stored, c);
}

/* ---- segments ---- */

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int od_seg_open(od_seg *s, const char *path, int64_t base)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->base = base;
    s->next = base;
    s->pos = CANO__SEG_HEADER;
    s->flush_end = CANO__SEG_HEADER;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0)
        return -1;
    struct stat st;
    size_t got;
    if (fstat(s->fd, &st) ||
        pread_full(s->fd, s->raw, sizeof s->raw, 0, &got)) {
        int e = errno;
        close(s->fd);
        s->fd = -1;
        errno = e;
        return -1;
    }
    s->size = (uint64_t)st.st_size;
    s->has_header = got == sizeof s->raw;
    if (!s->has_header) {
        s->done = true;
        return 0;
    }
    s->all_zero_header = all_zero(s->raw, sizeof s->raw);
    s->stored_sum = cano__ld64(s->raw + 120);
    s->computed_sum = XXH3_64bits(s->raw, 120);
    s->header_ok = cano__seg_header_decode(s->raw, sizeof s->raw, base,
                                           &s->hdr);
    if (s->header_ok)
        s->flush_end = CANO__SEG_HEADER + s->hdr.flushed_len;
    return 0;
}

const char *od_seg_header_problem(const od_seg *s)
{
    static char msg[160];
    const uint8_t *p = s->raw;
    if (!s->has_header)
        return "file is shorter than the 128-byte header";
    if (s->all_zero_header)
        return "header is all zero bytes";
    if (memcmp(p, CANO__SEG_MAGIC, 8))
        return "bad magic (not \"CANOSEG1\")";
    if (cano__ld32(p + 8) != 1) {
        snprintf(msg, sizeof msg, "unknown version %" PRIu32,
                 cano__ld32(p + 8));
        return msg;
    }
    if (cano__ld32(p + 12) != CANO__SEG_HEADER) {
        snprintf(msg, sizeof msg, "header_size is %" PRIu32 ", not 128",
                 cano__ld32(p + 12));
        return msg;
    }
    if ((int64_t)cano__ld64(p + 16) != s->base) {
        snprintf(msg, sizeof msg, "base_offset %" PRId64 " does not match "
                 "the file name (%" PRId64 ")", (int64_t)cano__ld64(p + 16),
                 s->base);
        return msg;
    }
    if (s->stored_sum != s->computed_sum) {
        snprintf(msg, sizeof msg, "header checksum mismatch (stored "
                 "%016" PRIx64 ", computed %016" PRIx64 ")", s->stored_sum,
                 s->computed_sum);
        return msg;
    }
    if (cano__ld32(p + 48) > CANO__SEG_SEALED) {
        snprintf(msg, sizeof msg, "unknown state %" PRIu32,
                 cano__ld32(p + 48));
        return msg;
    }
    if ((int64_t)cano__ld64(p + 32) < s->base)
        return "flushed_next_offset is below the base offset";
    if (!s->header_ok)
        return "flushed_len is out of range";
    return "";
}

/* 0; 1 when the file is shorter than s->size now (a running process
 * trimmed it: s->size is updated and the caller starts over); -1 when the
 * read failed (errno set). */
static int read_at(od_seg *s, void *buf, size_t n, uint64_t pos)
{
    size_t got;
    struct stat st;
    /* Batches are read in order: serve them from a window read ahead, so
     * that small batches do not cost a system call each. */
    if (pos >= s->win_pos && pos + n <= s->win_pos + s->win_len) {
        memcpy(buf, s->win + (pos - s->win_pos), n);
        return 0;
    }
    if (n < OD_WINDOW && (s->win || (s->win = malloc(OD_WINDOW)))) {
        if (pread_full(s->fd, s->win, OD_WINDOW, pos, &got))
            return -1;
        s->win_pos = pos;
        s->win_len = got;
        if (got >= n) {
            memcpy(buf, s->win, n);
            return 0;
        }
    } else if (pread_full(s->fd, buf, n, pos, &got)) {
        return -1;
    }
    if (got >= n)
        return 0;
    if (fstat(s->fd, &st))
        return -1;
    if ((uint64_t)st.st_size >= s->size) {
        errno = EIO;
        return -1;
    }
    s->size = (uint64_t)st.st_size;
    return 1;
}

static int grow(uint8_t **buf, size_t *cap, size_t n)
{
    if (*cap >= n)
        return 0;
    uint8_t *b = realloc(*buf, n);
    if (!b)
        return -1;
    *buf = b;
    *cap = n;
    return 0;
}

/* The rest of the file from pos: zeros, or not. */
static int tail(od_seg *s, od_item *it, const char *why)
{
    uint8_t chunk[65536];
    it->pos = s->pos;
    it->len = s->size - s->pos;
    it->inside = s->pos < s->flush_end;
    s->done = true;
    if (!why) {
        for (uint64_t at = s->pos; at < s->size; ) {
            size_t n = (size_t)CANO__MIN(sizeof chunk, s->size - at);
            int rc = read_at(s, chunk, n, at);
            if (rc == 1) {
                it->len = s->size > s->pos ? s->size - s->pos : 0;
                continue;
            }
            if (rc) {
                it->kind = OD_IOERR;
                return OD_IOERR;
            }
            if (!all_zero(chunk, n)) {
                it->kind = OD_TAIL_TORN;
                snprintf(it->why, sizeof it->why, "non-zero bytes after an "
                         "all-zero batch header");
                return OD_TAIL_TORN;
            }
            at += n;
        }
        it->kind = OD_TAIL_ZERO;
        return OD_TAIL_ZERO;
    }
    it->kind = OD_TAIL_TORN;
    if (why != it->why)
        snprintf(it->why, sizeof it->why, "%s", why);
    return OD_TAIL_TORN;
}

/* Why the framing of a 64-byte batch header does not parse. */
static const char *framing_problem(const uint8_t *h, uint64_t avail)
{
    static char msg[120];
    uint32_t len = cano__ld32(h + 8);
    uint8_t attrs = h[13];
    if (h[12] != CANO__BATCH_MAGIC) {
        snprintf(msg, sizeof msg, "bad batch magic 0x%02x", h[12]);
        return msg;
    }
    if (attrs & 0xe0)
        return "reserved attribute bits set";
    if ((attrs & CANO__ATTR_CODEC) > CANO__CODEC_ZLIB) {
        snprintf(msg, sizeof msg, "unknown compression %u",
                 attrs & CANO__ATTR_CODEC);
        return msg;
    }
    if (len < CANO__BATCH_HEADER + ((attrs & CANO__ATTR_HORIZON) ? 8 : 0) ||
        len > CANO__BATCH_MAX) {
        snprintf(msg, sizeof msg, "bad batch length %" PRIu32, len);
        return msg;
    }
    if (len > avail) {
        snprintf(msg, sizeof msg, "batch of length %" PRIu32 " runs past "
                 "the end of the file", len);
        return msg;
    }
    int64_t base = (int64_t)cano__ld64(h + 16);
    uint32_t delta = cano__ld32(h + 52), count = cano__ld32(h + 56);
    if (base < 0) {
        snprintf(msg, sizeof msg, "negative base offset %" PRId64, base);
        return msg;
    }
    if (count == 0)
        return "record_count is 0";
    if (delta < count - 1) {
        snprintf(msg, sizeof msg, "last_offset_delta %" PRIu32 " is below "
                 "record_count - 1 (%" PRIu32 ")", delta, count - 1);
        return msg;
    }
    if (INT64_MAX - base <= (int64_t)delta)
        return "last offset overflows";
    return "records_size does not match the batch length";
}

int od_seg_next(od_seg *s, od_item *it)
{
    memset(it, 0, sizeof *it);
    it->pos = s->pos;
    if (s->done || s->pos >= s->size) {
        s->done = true;
        it->kind = OD_END;
        return OD_END;
    }
    uint64_t avail = s->size - s->pos;
    it->inside = s->pos < s->flush_end;
    uint8_t h[CANO__BATCH_HEADER];
    size_t hn = (size_t)CANO__MIN(avail, sizeof h);
    int rrc = read_at(s, h, hn, s->pos);
    if (rrc == 1)
        return od_seg_next(s, it);
    if (rrc) {
        it->kind = OD_IOERR;
        return OD_IOERR;
    }
    if (hn < sizeof h)
        return tail(s, it, all_zero(h, hn) ? NULL : "fewer bytes than a "
                    "batch header");
    if (all_zero(h, sizeof h))
        return tail(s, it, NULL);
    cano__batch_info b;
    uint32_t len = cano__ld32(h + 8);
    int rc = cano__batch_parse(h, sizeof h, &b);
    if (rc == CANO_OK || (rc == 1 && len <= avail)) {
        if (grow(&s->buf, &s->cap, len)) {
            it->kind = OD_IOERR;
            return OD_IOERR;
        }
        rrc = read_at(s, s->buf, len, s->pos);
        if (rrc == 1)
            return od_seg_next(s, it);
        if (rrc) {
            it->kind = OD_IOERR;
            return OD_IOERR;
        }
        rc = cano__batch_parse(s->buf, len, &b);
    }
    if (rc != CANO_OK)
        return tail(s, it, framing_problem(h, avail));
    it->b = b;
    it->bytes = s->buf;
    it->len = b.length;
    it->has_batch = true;
    it->stored_sum = cano__ld64(s->buf);
    it->computed_sum = XXH3_64bits(s->buf + 8, b.length - 8);
    it->sum_ok = it->stored_sum == it->computed_sum;
    if (it->sum_ok) {
        cano__rec_iter ri;
        cano_record r;
        cano_header *hdrs = NULL;
        size_t hcap = 0;
        rc = cano__rec_iter_init(&ri, s->buf, &b, &s->scratch,
                                 &s->scratch_cap);
        while (rc == CANO_OK && (rc = cano__rec_next(&ri, &r, &hdrs, &hcap)) == 1)
            rc = CANO_OK;
        free(hdrs);
        it->records_ok = rc == 0;
        if (!it->records_ok)
            snprintf(it->why, sizeof it->why, "records do not decode");
        it->backwards = b.base_offset < s->next;
        if (it->records_ok && it->backwards)
            snprintf(it->why, sizeof it->why, "base offset %" PRId64
                     " is below the end of the previous batch (%" PRId64 ")",
                     b.base_offset, s->next);
    } else {
        snprintf(it->why, sizeof it->why, "checksum mismatch (stored "
                 "%016" PRIx64 ", computed %016" PRIx64 ")", it->stored_sum,
                 it->computed_sum);
    }
    bool valid = it->sum_ok && it->records_ok && !it->backwards;
    if (!valid && !it->inside)
        return tail(s, it, it->why);
    it->kind = OD_BATCH;
    if (it->sum_ok)
        s->next = CANO__MAX(s->next, b.base_offset + (int64_t)b.last_delta + 1);
    s->pos += b.length;
    return OD_BATCH;
}

void od_seg_close(od_seg *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->buf);
    free(s->scratch);
    free(s->win);
    s->buf = s->scratch = s->win = NULL;
    s->win_len = 0;
    s->cap = s->scratch_cap = 0;
}

/* ---- index files ---- */

int od_index_read(od_index *ix, const char *path, int which, int64_t base)
{
    memset(ix, 0, sizeof *ix);
    char *text;
    size_t len;
    if (od_read_file(path, (size_t)1 << 31, &text, &len)) {
        if (errno == ENOENT)
            return 0;
        return -1;
    }
    uint32_t entry = which == CANO__SEG_F_OIDX ? CANO__OIDX_ENTRY
                                                : CANO__TIDX_ENTRY;
    ix->present = true;
    ix->data = (uint8_t *)text;
    ix->size = len;
    ix->header_ok = cano__idx_header_ok(ix->data, len, which ==
                                        CANO__SEG_F_OIDX ? CANO__OIDX_MAGIC
                                                         : CANO__TIDX_MAGIC,
                                        base);
    if (len < CANO__IDX_HEADER)
        return 0;
    ix->n_slots = (uint32_t)((len - CANO__IDX_HEADER) / entry);
    ix->trailing = (len - CANO__IDX_HEADER) % entry != 0;
    const uint8_t *e = ix->data + CANO__IDX_HEADER;
    uint32_t i = 0;
    while (i < ix->n_slots && !all_zero(e + (size_t)i * entry, entry))
        i++;
    ix->n = i;
    for (; i < ix->n_slots; i++)
        if (!all_zero(e + (size_t)i * entry, entry))
            ix->after_end = true;
    return 0;
}

void od_index_free(od_index *ix)
{
    free(ix->data);
    ix->data = NULL;
}

/* ---- output ---- */

/* Strict UTF-8 (RFC 3629) without C0 controls other than tab, newline and
 * carriage return, DEL, or C1 controls (U+0080..U+009F). */
static bool is_text(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
                c == 0x7f)
                return false;
            i++;
            continue;
        }
        size_t k;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            k = 1;
        else if (c == 0xe0)
            k = 2, lo = 0xa0;
        else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
            k = 2;
        else if (c == 0xed)
            k = 2, hi = 0x9f;
        else if (c == 0xf0)
            k = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3)
            k = 3;
        else if (c == 0xf4)
            k = 3, hi = 0x8f;
        else
            return false;
        if (n - i <= k || p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t j = 2; j <= k; j++)
            if (p[i + j] < 0x80 || p[i + j] > 0xbf)
                return false;
        if (c == 0xc2 && p[i + 1] <= 0x9f)
            return false;      /* C1 control */
        i += k + 1;
    }
    return true;
}

void od_put_bytes(FILE *f, const void *ptr, size_t n, bool present)
{
    const uint8_t *p = ptr;
    if (!present) {
        fputs("null", f);
        return;
    }
    if (!is_text(p, n)) {
        static const char hex[] = "0123456789abcdef";
        fputs("hex:", f);
        for (size_t i = 0; i < n; i++) {
            putc(hex[p[i] >> 4], f);
            putc(hex[p[i] & 15], f);
        }
        return;
    }
    putc('"', f);
    for (size_t i = 0; i < n; i++) {
        switch (p[i]) {
        case '"':  fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        default:   putc(p[i], f);
        }
    }
    putc('"', f);
}

bool od_store_clean(const char *dir)
{
    char marker[4200];
    snprintf(marker, sizeof marker, "%s/cano+clean", dir);
    return od_file_size(marker) >= 0;
}
