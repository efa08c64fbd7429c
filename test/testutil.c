/* testutil.c - helpers shared by the Check suites. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "testutil.h"

/* ---- Directories and files ---- */

int tu_mkdtemp(char *buf, size_t n)
{
    if (n < 32) {
        errno = ERANGE;
        return -1;
    }
    snprintf(buf, n, "/tmp/cano-test-XXXXXX");
    return mkdtemp(buf) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st; (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void tu_rmtree(const char *path)
{
    if (path && path[0])
        nftw(path, rm_one, 64, FTW_DEPTH | FTW_PHYS);
}

int tu_copytree(const char *src, const char *dst)
{
    struct stat st;
    if (lstat(src, &st) != 0)
        return -1;
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(dst, 0755) != 0)
            return -1;
        DIR *d = opendir(src);
        if (!d)
            return -1;
        struct dirent *e;
        int rc = 0;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char s[TU_PATH_MAX], t[TU_PATH_MAX];
            snprintf(s, sizeof s, "%s/%s", src, e->d_name);
            snprintf(t, sizeof t, "%s/%s", dst, e->d_name);
            rc = tu_copytree(s, t);
        }
        closedir(d);
        return rc;
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    int in = open(src, O_RDONLY);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, st.st_mode & 0777);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t r;
    int rc = 0;
    while ((r = read(in, buf, sizeof buf)) > 0) {
        if (write(out, buf, (size_t)r) != r) {
            rc = -1;
            break;
        }
    }
    if (r < 0)
        rc = -1;
    close(in);
    close(out);
    return rc;
}

char *tu_path(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, TU_PATH_MAX, fmt, ap);
    va_end(ap);
    return buf;
}

int tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int tu_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int64_t tu_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (int64_t)st.st_size;
}

int tu_truncate(const char *path, int64_t len)
{
    return truncate(path, (off_t)len);
}

int tu_flip_byte(const char *path, int64_t pos, unsigned char mask)
{
    unsigned char b;
    if (tu_pread(path, &b, 1, pos) != 1)
        return -1;
    b ^= mask;
    return tu_pwrite(path, &b, 1, pos);
}

ssize_t tu_pread(const char *path, void *buf, size_t n, int64_t pos)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t r = pread(fd, buf, n, (off_t)pos);
    close(fd);
    return r;
}

int tu_pwrite(const char *path, const void *buf, size_t n, int64_t pos)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t r = pwrite(fd, buf, n, (off_t)pos);
    close(fd);
    return r == (ssize_t)n ? 0 : -1;
}

int tu_write_file(const char *path, const void *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    ssize_t r = n ? write(fd, buf, n) : 0;
    close(fd);
    return r == (ssize_t)n ? 0 : -1;
}

unsigned char *tu_read_file(const char *path, size_t *len)
{
    int64_t sz = tu_file_size(path);
    if (sz < 0)
        return NULL;
    unsigned char *b = malloc((size_t)sz + 1);
    if (!b)
        return NULL;
    ssize_t r = sz ? tu_pread(path, b, (size_t)sz, 0) : 0;
    if (r != (ssize_t)sz) {
        free(b);
        return NULL;
    }
    *len = (size_t)sz;
    return b;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tu_list_dir_suffix(const char *dir, const char *suffix, tu_names *out)
{
    out->v = NULL;
    out->n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t cap = 0;
    size_t sl = suffix ? strlen(suffix) : 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t l = strlen(e->d_name);
        if (sl && (l < sl || strcmp(e->d_name + l - sl, suffix) != 0))
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            out->v = realloc(out->v, cap * sizeof *out->v);
        }
        out->v[out->n++] = strdup(e->d_name);
    }
    closedir(d);
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return 0;
}

int tu_list_dir(const char *dir, tu_names *out)
{
    return tu_list_dir_suffix(dir, NULL, out);
}

void tu_names_free(tu_names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int tu_names_equal(const tu_names *a, const tu_names *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return 0;
    return 1;
}

int tu_names_has(const tu_names *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], name))
            return 1;
    return 0;
}

char *tu_part_dir(char *buf, const char *store, const char *topic,
                  int32_t partition)
{
    return tu_path(buf, "%s/%s/%" PRId32, store, topic, partition);
}

char *tu_seg_path(char *buf, const char *store, const char *topic,
                  int32_t partition, int64_t base, const char *ext)
{
    return tu_path(buf, "%s/%s/%" PRId32 "/%020" PRId64 "%s", store, topic,
                   partition, base, ext);
}

int tu_segment_bases(const char *store, const char *topic, int32_t partition,
                     int64_t **bases)
{
    char dir[TU_PATH_MAX];
    tu_names l;
    *bases = NULL;
    if (tu_list_dir_suffix(tu_part_dir(dir, store, topic, partition), ".log",
                           &l) != 0)
        return -1;
    *bases = calloc(l.n + 1, sizeof **bases);
    int n = 0;
    for (size_t i = 0; i < l.n; i++) {
        /* Only "<20 digits>.log". */
        if (strlen(l.v[i]) != 24)
            continue;
        char *end;
        long long b = strtoll(l.v[i], &end, 10);
        if (end != l.v[i] + 20)
            continue;
        (*bases)[n++] = b;
    }
    tu_names_free(&l);
    return n;
}

int64_t tu_log_data_bytes(const char *store, const char *topic,
                          int32_t partition)
{
    int64_t *bases, sum = 0;
    int n = tu_segment_bases(store, topic, partition, &bases);
    for (int i = 0; i < n; i++) {
        char p[TU_PATH_MAX];
        sum += tu_file_size(tu_seg_path(p, store, topic, partition, bases[i],
                                        ".log")) - 128;
    }
    free(bases);
    return n < 0 ? -1 : sum;
}

/* ---- Format ---- */

static uint32_t ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t ld64(const unsigned char *p)
{
    return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

int tu_log_batches(const char *path, tu_batch_pos **out)
{
    size_t len;
    unsigned char *f = tu_read_file(path, &len);
    *out = NULL;
    if (!f)
        return -1;
    int n = 0, cap = 0;
    size_t pos = 128;
    while (pos + 64 <= len) {
        uint32_t bl = ld32(f + pos + 8);
        if (bl < 64 || pos + bl > len)
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = realloc(*out, (size_t)cap * sizeof **out);
        }
        tu_batch_pos *b = &(*out)[n++];
        b->pos = (int64_t)pos;
        b->len = bl;
        b->base_offset = (int64_t)ld64(f + pos + 16);
        b->max_timestamp = (int64_t)ld64(f + pos + 32);
        b->last_offset = b->base_offset + ld32(f + pos + 52);
        b->record_count = (int32_t)ld32(f + pos + 56);
        pos += bl;
    }
    free(f);
    return n;
}

static int64_t uvarint_size(uint64_t v)
{
    int64_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static int64_t varint_size(int64_t v)
{
    return uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int64_t tu_batch_size(const cano_record *recs, size_t n, const int64_t *ts)
{
    int64_t total = 64;
    int64_t base_ts = ts ? ts[0] : recs[0].timestamp;
    for (size_t i = 0; i < n; i++) {
        const cano_record *r = &recs[i];
        int64_t t = ts ? ts[i] : r->timestamp;
        int64_t body = 1 + varint_size(t - base_ts) + uvarint_size(i);
        body += varint_size(r->key ? (int64_t)r->key_len : -1);
        body += r->key ? (int64_t)r->key_len : 0;
        body += varint_size(r->value ? (int64_t)r->value_len : -1);
        body += r->value ? (int64_t)r->value_len : 0;
        body += uvarint_size(r->header_count);
        for (size_t h = 0; h < r->header_count; h++) {
            const cano_header *hd = &r->headers[h];
            body += uvarint_size(hd->name_len) + (int64_t)hd->name_len;
            body += varint_size(hd->value ? (int64_t)hd->value_len : -1);
            body += hd->value ? (int64_t)hd->value_len : 0;
        }
        total += uvarint_size((uint64_t)body) + body;
    }
    return total;
}

/* ---- Records ---- */

cano_record tu_rec(const char *key, const char *value, int64_t ts)
{
    return tu_rec_buf(key, key ? strlen(key) : 0, value,
                      value ? strlen(value) : 0, ts);
}

cano_record tu_rec_buf(const void *key, size_t key_len, const void *value,
                       size_t value_len, int64_t ts)
{
    cano_record r;
    memset(&r, 0, sizeof r);
    r.key = key;
    r.key_len = key_len;
    r.value = value;
    r.value_len = value_len;
    r.timestamp = ts;
    return r;
}

static unsigned char *dup_bytes(const void *p, size_t n)
{
    if (!p)
        return NULL;
    unsigned char *d = malloc(n ? n : 1);
    if (n)
        memcpy(d, p, n);
    return d;
}

void tu_recs_push(tu_recs *recs, const cano_record *rec)
{
    if (recs->n == recs->cap) {
        recs->cap = recs->cap ? recs->cap * 2 : 64;
        recs->v = realloc(recs->v, recs->cap * sizeof *recs->v);
    }
    tu_rec_copy *c = &recs->v[recs->n++];
    memset(c, 0, sizeof *c);
    c->key = dup_bytes(rec->key, rec->key_len);
    c->key_len = rec->key_len;
    c->value = dup_bytes(rec->value, rec->value_len);
    c->value_len = rec->value_len;
    c->header_count = rec->header_count;
    if (rec->header_count) {
        c->headers = calloc(rec->header_count, sizeof *c->headers);
        for (size_t i = 0; i < rec->header_count; i++) {
            const cano_header *h = &rec->headers[i];
            c->headers[i].name = dup_bytes(h->name ? h->name : "",
                                           h->name_len);
            c->headers[i].name_len = h->name_len;
            c->headers[i].value = dup_bytes(h->value, h->value_len);
            c->headers[i].value_len = h->value_len;
        }
    }
    c->timestamp = rec->timestamp;
    c->offset = rec->offset;
    c->partition = rec->partition;
}

int tu_collect(void *ctx, const cano_record *rec)
{
    tu_recs *recs = ctx;
    tu_recs_push(recs, rec);
    return recs->stop_after > 0 && (int)recs->n >= recs->stop_after;
}

void tu_recs_free(tu_recs *recs)
{
    for (size_t i = 0; i < recs->n; i++) {
        tu_rec_copy *c = &recs->v[i];
        free(c->key);
        free(c->value);
        for (size_t h = 0; h < c->header_count; h++) {
            free(c->headers[h].name);
            free(c->headers[h].value);
        }
        free(c->headers);
    }
    free(recs->v);
    memset(recs, 0, sizeof *recs);
}

int tu_read_all(cano_topic_t *t, int32_t partition, int64_t offset,
                tu_recs *out)
{
    for (;;) {
        size_t before = out->n;
        int rc = cano_read(t, partition, offset, 1000, tu_collect, out);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return CANO_OK;
        if (out->n != before + (size_t)rc)
            return -1000;  /* the count does not match the calls */
        offset = out->v[out->n - 1].offset + 1;
    }
}

static int bytes_eq(const void *a, size_t al, const void *b, size_t bl)
{
    if ((a == NULL) != (b == NULL))
        return 0;
    if (!a)
        return 1;
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

int tu_rec_content_eq(const tu_rec_copy *c, const cano_record *rec)
{
    if (!bytes_eq(c->key, c->key_len, rec->key, rec->key_len))
        return 0;
    if (!bytes_eq(c->value, c->value_len, rec->value, rec->value_len))
        return 0;
    if (c->header_count != rec->header_count)
        return 0;
    for (size_t i = 0; i < c->header_count; i++) {
        const cano_header *h = &rec->headers[i];
        if (c->headers[i].name_len != h->name_len ||
            (h->name_len &&
             memcmp(c->headers[i].name, h->name, h->name_len) != 0))
            return 0;
        if (!bytes_eq(c->headers[i].value, c->headers[i].value_len,
                      h->value, h->value_len))
            return 0;
    }
    return 1;
}

void tu_assert_kv(const tu_rec_copy *c, const char *key, const char *value)
{
    if (key) {
        ck_assert_ptr_nonnull(c->key);
        ck_assert_uint_eq(c->key_len, strlen(key));
        ck_assert_mem_eq(c->key, key, strlen(key));
    } else {
        ck_assert_ptr_null(c->key);
    }
    if (value) {
        ck_assert_ptr_nonnull(c->value);
        ck_assert_uint_eq(c->value_len, strlen(value));
        ck_assert_mem_eq(c->value, value, strlen(value));
    } else {
        ck_assert_ptr_null(c->value);
    }
}

/* ---- Store helpers ---- */

cano_t *tu_open(const char *dir)
{
    cano_t *db = NULL;
    int rc = cano_open(dir, NULL, &db);
    ck_assert_msg(rc == CANO_OK, "cano_open(%s) = %d (%s)", dir, rc,
                  cano_last_errmsg());
    ck_assert_ptr_nonnull(db);
    return db;
}

cano_t *tu_open_opts(const char *dir, int32_t sync_mode)
{
    cano_options o;
    ck_assert_int_eq(cano_options_init(&o, sizeof o), CANO_OK);
    o.sync_mode = sync_mode;
    cano_t *db = NULL;
    int rc = cano_open(dir, &o, &db);
    ck_assert_msg(rc == CANO_OK, "cano_open(%s) = %d (%s)", dir, rc,
                  cano_last_errmsg());
    ck_assert_ptr_nonnull(db);
    return db;
}

cano_topic_t *tu_create(cano_t *db, const char *name,
                        const cano_topic_config *cfg)
{
    int rc = cano_topic_create(db, name, cfg);
    ck_assert_msg(rc == CANO_OK, "cano_topic_create(%s) = %d (%s)", name, rc,
                  cano_last_errmsg());
    return tu_topic(db, name);
}

cano_topic_t *tu_topic(cano_t *db, const char *name)
{
    cano_topic_t *t = NULL;
    int rc = cano_topic_open(db, name, &t);
    ck_assert_msg(rc == CANO_OK, "cano_topic_open(%s) = %d (%s)", name, rc,
                  cano_last_errmsg());
    ck_assert_ptr_nonnull(t);
    return t;
}

cano_topic_config tu_config(int32_t partitions, int64_t segment_bytes)
{
    cano_topic_config c;
    ck_assert_int_eq(cano_topic_config_init(&c, sizeof c), CANO_OK);
    c.partitions = partitions;
    c.segment_bytes = segment_bytes;
    return c;
}

int64_t tu_append_kv(cano_topic_t *t, int32_t p, const char *key,
                     const char *value, int64_t ts)
{
    cano_record r = tu_rec(key, value, ts);
    int32_t part = -100;
    int64_t off = -100;
    int rc = cano_append(t, p, &r, &part, &off);
    ck_assert_msg(rc == CANO_OK, "cano_append = %d (%s)", rc,
                  cano_last_errmsg());
    if (p >= 0)
        ck_assert_int_eq(part, p);
    ck_assert_int_ge(off, 0);
    return off;
}

cano_partition_info tu_stat(cano_topic_t *t, int32_t p)
{
    cano_partition_info pi;
    memset(&pi, 0, sizeof pi);
    pi.size = sizeof pi;
    int rc = cano_partition_stat(t, p, &pi);
    ck_assert_msg(rc == CANO_OK, "cano_partition_stat = %d (%s)", rc,
                  cano_last_errmsg());
    ck_assert_int_eq(pi.partition, p);
    return pi;
}

int64_t tu_end_offset(cano_topic_t *t, int32_t p)
{
    return tu_stat(t, p).end_offset;
}

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

size_t tu_gen_value(char *buf, size_t cap, uint32_t seed, int64_t i)
{
    uint32_t h = mix32(seed * 2654435761U ^ (uint32_t)i);
    int n = snprintf(buf, cap, "v%u-%" PRId64 "-", seed, i);
    size_t len = (size_t)n + h % 40;
    if (len >= cap)
        len = cap - 1;
    for (size_t j = (size_t)n; j < len; j++)
        buf[j] = (char)('a' + (h + j) % 26);
    buf[len] = '\0';
    return len;
}

int64_t tu_gen_ts(uint32_t seed, int64_t i)
{
    /* Mostly increasing, with some records older than their predecessor. */
    return 1600000000000LL + i * 5 + (int64_t)(mix32(seed ^ (uint32_t)i * 31U) % 23);
}

int64_t tu_append_gen(cano_topic_t *t, int32_t p, uint32_t seed,
                      int64_t first, int64_t n)
{
    int64_t off = -1;
    for (int64_t i = first; i < first + n; i++) {
        char key[32], val[128];
        snprintf(key, sizeof key, "k%" PRId64, i);
        size_t vl = tu_gen_value(val, sizeof val, seed, i);
        cano_record r = tu_rec_buf(key, strlen(key), val, vl,
                                   tu_gen_ts(seed, i));
        int rc = cano_append(t, p, &r, NULL, &off);
        ck_assert_msg(rc == CANO_OK, "append %" PRId64 " = %d (%s)", i, rc,
                      cano_last_errmsg());
    }
    return off;
}

int tu_gen_matches(const tu_rec_copy *c, uint32_t seed, int64_t i)
{
    char key[32], val[128];
    snprintf(key, sizeof key, "k%" PRId64, i);
    size_t vl = tu_gen_value(val, sizeof val, seed, i);
    cano_record r = tu_rec_buf(key, strlen(key), val, vl, 0);
    return tu_rec_content_eq(c, &r) && c->timestamp == tu_gen_ts(seed, i);
}

/* ---- Processes and time ---- */

int tu_run_child(int (*fn)(void *arg), void *arg, int kill_self)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int rc = fn(arg);
        if (kill_self && rc == 0)
            raise(SIGKILL);
        _exit(rc);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) {
        if (kill_self && WTERMSIG(st) == SIGKILL)
            return 0;
        return 128 + WTERMSIG(st);
    }
    return -1;
}

int64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tu_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

uint32_t tu_rand(uint32_t *state)
{
    uint32_t x = *state ? *state : 0x9e3779b9U;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

int tu_report_collect(const cano_recovery_info *info, void *payload)
{
    tu_report *r = payload;
    if (r->n < (int)(sizeof r->rows / sizeof r->rows[0])) {
        tu_report_row *row = &r->rows[r->n];
        snprintf(row->topic, sizeof row->topic, "%s",
                 info->topic ? info->topic : "(null)");
        row->info = *info;
        row->info.topic = NULL;
    }
    r->n++;
    return 0;
}

const tu_report_row *tu_report_find(const tu_report *r, const char *topic,
                                    int32_t partition)
{
    int n = r->n < 256 ? r->n : 256;
    for (int i = 0; i < n; i++)
        if (!strcmp(r->rows[i].topic, topic) &&
            r->rows[i].info.partition == partition)
            return &r->rows[i];
    return NULL;
}

int tu_mkdtemp_fast(char *buf, size_t n)
{
    if (n < 32) {
        errno = ERANGE;
        return -1;
    }
    snprintf(buf, n, "/dev/shm/cano-test-XXXXXX");
    if (mkdtemp(buf))
        return 0;
    return tu_mkdtemp(buf, n);
}
