/* sys_raw.c - the physical limit: one append-only file of fixed 116-byte
 * records (key then value, no framing), written with write(), read with
 * read() in 1 MiB chunks and pread() for random offsets.  No fsync, except
 * in D1: write() + fdatasync() per record. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"

#define READ_RECS 9039            /* records per read(): ~1 MiB */

typedef struct raw_h {
    int fd;
    unsigned char *buf;
} raw_h;

static const char *raw_version(void) { return "write()/read() on one file"; }

static void *raw_open(const char *dir, int mode, uint64_t capacity)
{
    (void)capacity;
    char path[PATH_MAX];
    raw_h *h = xcalloc(1, sizeof *h);
    xpath(path, sizeof path, "%s/log", dir);
    h->fd = mode == OPEN_NEW ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644)
                             : open(path, O_RDONLY);
    if (h->fd < 0)
        fatal("raw: open %s: %s", path, strerror(errno));
    h->buf = malloc((size_t)READ_RECS * REC_LEN);
    if (!h->buf)
        fatal("out of memory");
    return h;
}

static void raw_close(void *hp)
{
    raw_h *h = hp;
    close(h->fd);
    free(h->buf);
    free(h);
}

static void write_all(int fd, const void *p, size_t len)
{
    ssize_t w = write(fd, p, len);
    if (w != (ssize_t)len)
        fatal("raw: write: %s", w < 0 ? strerror(errno) : "short write");
}

static void raw_append_one(void *hp, uint64_t i)
{
    raw_h *h = hp;
    write_all(h->fd, rec_key(i), REC_LEN);
}

/* Records of a batch are contiguous in the data set unless the batch wraps
 * around the end of it (only in the cycled scale runs): then writev. */
static void raw_append_batch(void *hp, uint64_t first, size_t n)
{
    raw_h *h = hp;
    uint64_t start = first % D->n;
    if (start + n <= D->n) {
        write_all(h->fd, D->recs + start * REC_LEN, n * REC_LEN);
        return;
    }
    struct iovec iov[BATCH];
    for (size_t k = 0; k < n; k++) {
        iov[k].iov_base = (void *)rec_key(first + k);
        iov[k].iov_len = REC_LEN;
    }
    ssize_t w = writev(h->fd, iov, (int)n);
    if (w != (ssize_t)(n * REC_LEN))
        fatal("raw: writev: %s", w < 0 ? strerror(errno) : "short write");
}

/* D1: the same file, write() then fdatasync() per record, from any thread
 * (O_APPEND makes each write land whole at the end). */
static void *raw_open_durable(const char *dir, uint64_t capacity)
{
    return raw_open(dir, OPEN_NEW, capacity);
}

static void raw_append_durable(void *hp, uint64_t i)
{
    raw_h *h = hp;
    write_all(h->fd, rec_key(i), REC_LEN);
    if (fdatasync(h->fd) != 0)
        fatal("raw: fdatasync: %s", strerror(errno));
}

static uint64_t raw_count(void *hp)
{
    raw_h *h = hp;
    struct stat st;
    if (fstat(h->fd, &st) != 0)
        fatal("raw: fstat: %s", strerror(errno));
    if (st.st_size % REC_LEN)
        fatal("raw: file size %lld is not a whole number of records", (long long)st.st_size);
    return (uint64_t)st.st_size / REC_LEN;
}

static uint64_t raw_read_all(void *hp)
{
    raw_h *h = hp;
    uint64_t next = 0;
    size_t have = 0;                       /* bytes in buf, < REC_LEN left over */
    if (lseek(h->fd, 0, SEEK_SET) != 0)
        fatal("raw: lseek: %s", strerror(errno));
    for (;;) {
        ssize_t r = read(h->fd, h->buf + have, (size_t)READ_RECS * REC_LEN - have);
        if (r < 0)
            fatal("raw: read: %s", strerror(errno));
        if (r == 0)
            break;
        have += (size_t)r;
        size_t whole = have / REC_LEN;
        for (size_t k = 0; k < whole; k++, next++) {
            const unsigned char *p = h->buf + k * REC_LEN;
            verify_rec("raw", next, p, KEY_LEN, p + KEY_LEN, VAL_LEN);
        }
        have -= whole * REC_LEN;
        memmove(h->buf, h->buf + whole * REC_LEN, have);
    }
    if (have)
        fatal("raw: %zu trailing bytes", have);
    return next;
}

static void raw_read_at(void *hp, uint64_t off)
{
    raw_h *h = hp;
    ssize_t r = pread(h->fd, h->buf, REC_LEN, (off_t)(off * REC_LEN));
    if (r != REC_LEN)
        fatal("raw: pread at record %llu: %s", (unsigned long long)off,
              r < 0 ? strerror(errno) : "short read");
    verify_rec("raw", off, h->buf, KEY_LEN, h->buf + KEY_LEN, VAL_LEN);
}

const bench_sys sys_raw = {
    .name = "raw",
    .settings = "one file, O_APPEND, fixed 116-byte records (no framing, no checksum), "
                "no fsync; reads: read() 1 MiB chunks, pread() per lookup",
    .version = raw_version,
    .open = raw_open,
    .close = raw_close,
    .append_one = raw_append_one,
    .append_batch = raw_append_batch,
    .read_all = raw_read_all,
    .read_at = raw_read_at,
    .open_durable = raw_open_durable,
    .append_durable = raw_append_durable,
    .count_durable = raw_count,
    .durable_settings = "one file shared by all threads, O_APPEND, write() of the 116-byte "
                        "record then fdatasync() per record",
};
