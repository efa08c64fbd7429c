/* topic.c - topic names, configs (and their file), the partitioner, and the
 * per-topic calls of the API. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <locale.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>
#include "io.h"
#include "store.h"

#define CONF_FILE "topic.conf"
#define CONF_MAX  8192

/* ---- names ---- */

/* Kafka's rule: 1..249 of [A-Za-z0-9._-], not "." or "..".  Names starting
 * with "__" are kept for internal topics. */
bool cano__topic_name_ok(const char *name, bool allow_internal)
{
    if (!name)
        return false;
    size_t n = strnlen(name, 250);
    if (n == 0 || n > 249 || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return allow_internal || strncmp(name, "__", 2) != 0;
}

/* ---- configs ---- */

int cano_topic_config_init(cano_topic_config *c, size_t size)
{
    if (!c || size < sizeof *c)
        return cano__err(CANO_EINVAL, "cano_topic_config_init: size %zu "
                         "is smaller than %zu", size, sizeof *c);
    memset(c, 0, size);
    c->size = (uint32_t)CANO__MIN(size, UINT32_MAX);
    c->partitions = 1;
    c->segment_bytes = 1 << 30;
    c->segment_ms = 7LL * 24 * 3600 * 1000;
    c->index_interval_bytes = 4096;
    c->max_record_bytes = 1 << 20;
    c->max_batch_bytes = 4 << 20;
    c->compression = CANO_COMPRESSION_NONE;
    c->compression_level = 6;
    c->timestamp_type = CANO_TIMESTAMP_CREATE_TIME;
    c->sync_mode = CANO_SYNC_DEFAULT;
    c->cleanup_policy = CANO_CLEANUP_DELETE;
    c->retention_ms = 7LL * 24 * 3600 * 1000;
    c->retention_bytes = -1;
    c->delete_retention_ms = 24LL * 3600 * 1000;
    c->min_compaction_lag_ms = 0;
    c->max_compaction_lag_ms = -1;
    c->min_cleanable_dirty_ratio = 0.5;
    c->retention_groups = NULL;
    c->retention_groups_max_bytes = -1;
    return CANO_OK;
}

static bool tail_is_zero(const void *p, size_t from, size_t to)
{
    const uint8_t *b = p;
    for (size_t i = from; i < to; i++)
        if (b[i])
            return false;
    return true;
}

#define BAD(field) cano__err(CANO_EINVAL, "topic config: bad " #field)
#define GROUPS_MAX 1024

/* A group list is stored on one line of topic.conf: printable characters,
 * at most GROUPS_MAX of them. */
static bool groups_list_ok(const char *g)
{
    size_t n = strnlen(g, GROUPS_MAX + 1);
    if (n > GROUPS_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)g[i] < 0x20 || g[i] == 0x7f)
            return false;
    /* Every name must be there to be satisfied: no empty or repeated one. */
    for (const char *a = g; *a; ) {
        size_t la = strcspn(a, ",");
        if (la == 0)
            return false;
        for (const char *b = a + la + (a[la] ? 1 : 0); *b; ) {
            size_t lb = strcspn(b, ",");
            if (lb == la && !strncmp(a, b, la))
                return false;
            b += lb + (b[lb] ? 1 : 0);
        }
        a += la;
        if (*a == ',' && !*++a)
            return false;                    /* trailing comma */
    }
    return true;
}

int cano__config_import(cano_topic_config *d, const cano_topic_config *src)
{
    cano_topic_config_init(d, sizeof *d);
    if (!src)
        return CANO_OK;
    size_t size = src->size ? src->size : sizeof *d;
    if (size < sizeof *d || !tail_is_zero(src, sizeof *d, size))
        return cano__err(CANO_EINVAL, "topic config: size %zu not supported",
                         size);
    memcpy(d, src, sizeof *d);
    d->size = sizeof *d;
    if (d->partitions == 0)
        d->partitions = 1;
    if (d->segment_bytes == 0)
        d->segment_bytes = 1 << 30;
    if (d->max_record_bytes == 0)
        d->max_record_bytes = 1 << 20;
    if (d->max_batch_bytes == 0)
        d->max_batch_bytes = 4 << 20;
    if (d->compression_level == 0)
        d->compression_level = 6;
    if (d->cleanup_policy == 0)
        d->cleanup_policy = CANO_CLEANUP_DELETE;
    if (d->partitions < 0 || d->partitions > 100000)
        return BAD(partitions);
    if (d->segment_bytes < 1 || d->segment_bytes > (1LL << 31))
        return BAD(segment_bytes);
    if (d->segment_ms < 0)
        return BAD(segment_ms);
    if (d->index_interval_bytes < 0)
        return BAD(index_interval_bytes);
    if (d->max_record_bytes < 0 || d->max_record_bytes > CANO__BATCH_MAX)
        return BAD(max_record_bytes);
    if (d->max_batch_bytes < CANO__BATCH_HEADER ||
        d->max_batch_bytes > CANO__BATCH_MAX)
        return BAD(max_batch_bytes);
    if (d->compression != CANO_COMPRESSION_NONE &&
        d->compression != CANO_COMPRESSION_ZLIB)
        return BAD(compression);
    if (d->compression_level < 1 || d->compression_level > 9)
        return BAD(compression_level);
    if (d->timestamp_type != CANO_TIMESTAMP_CREATE_TIME &&
        d->timestamp_type != CANO_TIMESTAMP_LOG_APPEND_TIME)
        return BAD(timestamp_type);
    if (d->sync_mode < CANO_SYNC_DEFAULT || d->sync_mode > CANO_SYNC_ALWAYS)
        return BAD(sync_mode);
    if (d->cleanup_policy & ~(CANO_CLEANUP_DELETE | CANO_CLEANUP_COMPACT))
        return BAD(cleanup_policy);
    if (d->reserved0 != 0)
        return BAD(reserved0);
    if (d->retention_ms < -1)
        return BAD(retention_ms);
    if (d->retention_bytes < -1)
        return BAD(retention_bytes);
    if (d->delete_retention_ms < 0)
        return BAD(delete_retention_ms);
    if (d->min_compaction_lag_ms < 0)
        return BAD(min_compaction_lag_ms);
    if (d->max_compaction_lag_ms < -1)
        return BAD(max_compaction_lag_ms);
    if (!(d->min_cleanable_dirty_ratio >= 0.0 &&
          d->min_cleanable_dirty_ratio <= 1.0))
        return BAD(min_cleanable_dirty_ratio);
    if (d->retention_groups && !groups_list_ok(d->retention_groups))
        return BAD(retention_groups);
    if (d->retention_groups_max_bytes < -1)
        return BAD(retention_groups_max_bytes);
    return CANO_OK;
}

static const char *const sync_names[] = { "default", "none", "interval",
                                          "always" };
static const char *const cleanup_names[] = { "", "delete", "compact",
                                             "delete,compact" };

/* The ratio in the "C" locale, whatever LC_NUMERIC the host program set,
 * with 17 significant digits so it reads back exactly. */
static void format_ratio(double v, char *buf, size_t cap)
{
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = c ? uselocale(c) : (locale_t)0;
    snprintf(buf, cap, "%.17g", v);
    if (c) {
        uselocale(old);
        freelocale(c);
    }
}

static bool parse_ratio(const char *s, double *out)
{
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!c)
        return false;
    char *end;
    *out = strtod_l(s, &end, c);
    freelocale(c);
    return end != s && *end == '\0';
}

/* The config as text, one key=value a line, ending in a checksum line. */
static size_t config_format(const cano_topic_config *c, char *buf, size_t cap)
{
    char ratio[40];
    format_ratio(c->min_cleanable_dirty_ratio, ratio, sizeof ratio);
    int n = snprintf(buf, cap,
        "cano-topic-config=1\n"
        "partitions=%" PRId32 "\nsegment_bytes=%" PRId64 "\n"
        "segment_ms=%" PRId64 "\nindex_interval_bytes=%" PRId64 "\n"
        "max_record_bytes=%" PRId64 "\nmax_batch_bytes=%" PRId64 "\n"
        "compression=%s\ncompression_level=%" PRId32 "\n"
        "timestamp_type=%s\nsync_mode=%s\ncleanup_policy=%s\n"
        "retention_ms=%" PRId64 "\nretention_bytes=%" PRId64 "\n"
        "delete_retention_ms=%" PRId64 "\nmin_compaction_lag_ms=%" PRId64 "\n"
        "max_compaction_lag_ms=%" PRId64 "\n"
        "min_cleanable_dirty_ratio=%s\n"
        "retention_groups=%s\nretention_groups_max_bytes=%" PRId64 "\n",
        c->partitions, c->segment_bytes, c->segment_ms,
        c->index_interval_bytes, c->max_record_bytes, c->max_batch_bytes,
        c->compression == CANO_COMPRESSION_ZLIB ? "zlib" : "none",
        c->compression_level,
        c->timestamp_type == CANO_TIMESTAMP_LOG_APPEND_TIME
            ? "log-append-time" : "create-time",
        sync_names[c->sync_mode], cleanup_names[c->cleanup_policy],
        c->retention_ms, c->retention_bytes, c->delete_retention_ms,
        c->min_compaction_lag_ms, c->max_compaction_lag_ms, ratio,
        c->retention_groups ? c->retention_groups : "",
        c->retention_groups_max_bytes);
    n += snprintf(buf + n, cap - (size_t)n, "checksum=%016" PRIx64 "\n",
                  (uint64_t)XXH3_64bits(buf, (size_t)n));
    return (size_t)n;
}

int cano__config_write(const char *dir, const cano_topic_config *cfg,
                       uint32_t file_mode)
{
    char buf[CONF_MAX];
    size_t n = config_format(cfg, buf, sizeof buf);
    return cano__io_write_atomic(dir, CONF_FILE, buf, n, file_mode);
}

static bool parse_i64(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    if (neg)
        s++;
    if (!*s)
        return false;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = neg ? -v : v;
    return true;
}

static bool parse_name(const char *s, const char *const *names, int n,
                       int64_t *out)
{
    for (int i = 0; i < n; i++)
        if (names[i][0] && !strcmp(s, names[i])) {
            *out = i;
            return true;
        }
    return false;
}

static const char *const ts_names[] = { "create-time", "log-append-time" };
static const char *const codec_names[] = { "none", "zlib" };

/* Sets one key; false for an unknown key or a bad value.  groups: where
 * the retention_groups string is copied (GROUPS_MAX + 1 bytes). */
static bool config_set(cano_topic_config *c, const char *k, const char *v,
                       char *groups)
{
    if (!strcmp(k, "retention_groups")) {
        if (strlen(v) > GROUPS_MAX)
            return false;
        strcpy(groups, v);
        c->retention_groups = *groups ? groups : NULL;
        return true;
    }
    int64_t x = 0;
    struct { const char *key; int64_t *field; } i64s[] = {
        { "segment_bytes", &c->segment_bytes },
        { "segment_ms", &c->segment_ms },
        { "index_interval_bytes", &c->index_interval_bytes },
        { "max_record_bytes", &c->max_record_bytes },
        { "max_batch_bytes", &c->max_batch_bytes },
        { "retention_ms", &c->retention_ms },
        { "retention_bytes", &c->retention_bytes },
        { "delete_retention_ms", &c->delete_retention_ms },
        { "min_compaction_lag_ms", &c->min_compaction_lag_ms },
        { "max_compaction_lag_ms", &c->max_compaction_lag_ms },
        { "retention_groups_max_bytes", &c->retention_groups_max_bytes },
    };
    for (size_t i = 0; i < sizeof i64s / sizeof *i64s; i++)
        if (!strcmp(k, i64s[i].key))
            return parse_i64(v, i64s[i].field);
    if (!strcmp(k, "min_cleanable_dirty_ratio"))
        return parse_ratio(v, &c->min_cleanable_dirty_ratio);
    bool ok = false;
    if (!strcmp(k, "partitions") || !strcmp(k, "compression_level")) {
        ok = parse_i64(v, &x) && x >= INT32_MIN && x <= INT32_MAX;
        if (ok && k[0] == 'p')
            c->partitions = (int32_t)x;
        else if (ok)
            c->compression_level = (int32_t)x;
    } else if (!strcmp(k, "compression")) {
        ok = parse_name(v, codec_names, 2, &x);
        c->compression = (int32_t)x;
    } else if (!strcmp(k, "timestamp_type")) {
        ok = parse_name(v, ts_names, 2, &x);
        c->timestamp_type = (int32_t)x;
    } else if (!strcmp(k, "sync_mode")) {
        ok = parse_name(v, sync_names, 4, &x);
        c->sync_mode = (int32_t)x;
    } else if (!strcmp(k, "cleanup_policy")) {
        ok = parse_name(v, cleanup_names, 4, &x);
        c->cleanup_policy = (uint32_t)x;
    } else if (!strcmp(k, "cano-topic-config")) {
        ok = !strcmp(v, "1");
    }
    return ok;
}

int cano__config_parse(const char *text, size_t len, cano_topic_config *cfg,
                       char *groups)
{
    cano_topic_config c;
    cano_topic_config_init(&c, sizeof c);
    const char *sum = NULL;
    char line[GROUPS_MAX + 64];
    size_t pos = 0;
    int keys = 0;
    char seen[21][32];
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (!nl || ll >= sizeof line || memchr(text + pos, '\0', ll))
            return cano__err(CANO_ECORRUPT, "topic config: bad line");
        memcpy(line, text + pos, ll);
        line[ll] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            return cano__err(CANO_ECORRUPT, "topic config: bad line");
        *eq = '\0';
        if (!strcmp(line, "checksum")) {
            sum = text + pos;
            uint64_t want = XXH3_64bits(text, pos);
            char hex[17];
            snprintf(hex, sizeof hex, "%016" PRIx64, want);
            if (strcmp(eq + 1, hex) || pos + ll + 1 != len)
                return cano__err(CANO_ECORRUPT, "topic config: checksum");
            break;
        }
        for (int k = 0; k < keys && k < 21; k++)
            if (!strcmp(seen[k], line))
                return cano__err(CANO_ECORRUPT, "topic config: %s twice",
                                 line);
        if (!config_set(&c, line, eq + 1, groups) || keys >= 21)
            return cano__err(CANO_ECORRUPT, "topic config: bad %s", line);
        /* Keys are short (config_set knows them all); keep 31 bytes. */
        memcpy(seen[keys], line, CANO__MIN(strlen(line) + 1, sizeof seen[keys]));
        seen[keys][sizeof seen[keys] - 1] = '\0';
        keys++;
        pos += ll + 1;
    }
    if (!sum || keys != 20)
        return cano__err(CANO_ECORRUPT, "topic config: incomplete");
    int rc = cano__config_import(cfg, &c);
    return rc == CANO_OK ? CANO_OK
                         : cano__err(CANO_ECORRUPT, "topic config: %s",
                                     cano_last_errmsg());
}

int cano__config_read(const char *dir, cano_topic_config *cfg, char *groups)
{
    char path[4200], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/" CONF_FILE, dir);
    int rc = cano__io_read_small(path, CONF_MAX, &text, &len);
    if (rc == CANO_ENOTFOUND)
        return cano__err(CANO_ECORRUPT, "%s is missing", path);
    if (rc != CANO_OK)
        return rc;
    rc = cano__config_parse(text, len, cfg, groups);
    cano__free(text);
    return rc;
}

/* ---- topic objects ---- */

int cano__topic_new(struct cano *db, const char *name, const char *dir,
                    const cano_topic_config *cfg, struct cano_topic **out)
{
    struct cano_topic *t = cano__calloc(1, sizeof *t);
    if (!t)
        return cano__err(CANO_ENOMEM, "topic");
    t->db = db;
    t->cfg = *cfg;
    t->cfg.retention_groups = NULL;
    if (cfg->retention_groups && *cfg->retention_groups &&
        !(t->cfg.retention_groups = t->groups =
          cano__strdup(cfg->retention_groups))) {
        cano__free(t);
        return cano__err(CANO_ENOMEM, "topic");
    }
    t->sync_mode = cfg->sync_mode ? cfg->sync_mode : db->opts.sync_mode;
    t->name = cano__strdup(name);
    t->dir = cano__strdup(dir);
    t->parts = cano__calloc((size_t)cfg->partitions, sizeof *t->parts);
    int rc = t->name && t->dir && t->parts ? CANO_OK : CANO_ENOMEM;
    for (int32_t i = 0; rc == CANO_OK && i < cfg->partitions; i++)
        rc = cano__part_new(t, i, dir, &t->parts[i]);
    if (rc != CANO_OK) {
        cano__topic_free(t);
        return cano__err(rc, "topic %s", name);
    }
    *out = t;
    return CANO_OK;
}

int cano__topic_load(struct cano_topic *t, bool clean)
{
    for (int32_t i = 0; i < t->cfg.partitions; i++) {
        int rc = cano__part_load(t->parts[i], clean);
        if (rc != CANO_OK)
            return rc;
    }
    return CANO_OK;
}

void cano__topic_free(struct cano_topic *t)
{
    if (!t)
        return;
    for (int32_t i = 0; t->parts && i < t->cfg.partitions; i++)
        cano__part_free(t->parts[i]);
    cano__free(t->parts);
    cano__free(t->groups);
    cano__free(t->name);
    cano__free(t->dir);
    cano__free(t);
}

/* Internal topics ("__" names) take no appends from users. */
static int topic_writable(struct cano_topic *t)
{
    if (!strncmp(t->name, "__", 2))
        return cano__err(CANO_EINVAL, "topic %s is internal", t->name);
    return CANO_OK;
}

static int topic_usable(struct cano_topic *t)
{
    if (!t)
        return cano__err(CANO_EINVAL, "NULL topic");
    if (atomic_load(&t->db->closed))
        return cano__err(CANO_ECLOSED, "store is closed");
    if (atomic_load(&t->deleted))
        return cano__err(CANO_ENOTFOUND, "topic %s was deleted", t->name);
    return CANO_OK;
}

int cano__topic_partition(struct cano_topic *t, int32_t partition,
                          cano__partition **out)
{
    int rc = topic_usable(t);
    if (rc != CANO_OK)
        return rc;
    if (partition < 0 || partition >= t->cfg.partitions)
        return cano__err(CANO_EINVAL, "topic %s has no partition %" PRId32,
                         t->name, partition);
    *out = t->parts[partition];
    return CANO_OK;
}

/* ---- API ---- */

int cano_topic_config_get(cano_topic_t *t, cano_topic_config *out)
{
    int rc = topic_usable(t);
    if (rc != CANO_OK)
        return rc;
    if (!out || (out->size && out->size < sizeof *out))
        return cano__err(CANO_EINVAL, "config size too small");
    size_t size = out->size ? out->size : sizeof *out;
    memset(out, 0, size);
    memcpy(out, &t->cfg, sizeof t->cfg);
    out->size = (uint32_t)size;
    return CANO_OK;
}

const char *cano_topic_name(cano_topic_t *t)
{
    return t ? t->name : NULL;
}

int32_t cano_topic_partitions(cano_topic_t *t)
{
    int rc = topic_usable(t);
    return rc == CANO_OK ? t->cfg.partitions : rc;
}

static int32_t key_partition(const struct cano_topic *t, const void *key,
                             size_t key_len)
{
    return (int32_t)(XXH3_64bits(key, key_len) %
                     (uint64_t)t->cfg.partitions);
}

int32_t cano_partition_for_key(cano_topic_t *t, const void *key,
                               size_t key_len)
{
    int rc = topic_usable(t);
    if (rc != CANO_OK)
        return rc;
    if (!key && key_len)
        return cano__err(CANO_EINVAL, "NULL key with a length");
    return key_partition(t, key, key_len);
}

/* What every append call checks first; clears its outputs. */
static int append_start(struct cano_topic *t, int64_t *offset_out)
{
    cano__err_clear();
    if (offset_out)
        *offset_out = -1;
    int rc = topic_usable(t);
    return rc == CANO_OK ? topic_writable(t) : rc;
}

/* The partition a record goes to under CANO_PARTITION_AUTO. */
static int32_t auto_partition(struct cano_topic *t, const cano_record *r)
{
    if (r->key)
        return key_partition(t, r->key, r->key_len);
    return (int32_t)(atomic_fetch_add(&t->round_robin, 1) %
                     (uint32_t)t->cfg.partitions);
}

int cano_append_batch(cano_topic_t *t, int32_t partition,
                      const cano_record *recs, size_t n,
                      int64_t *first_offset_out)
{
    int rc = append_start(t, first_offset_out);
    if (rc != CANO_OK)
        return rc;
    if (!recs || n == 0 || n > UINT32_MAX)
        return cano__err(CANO_EINVAL, "need 1 or more records");
    if (partition == CANO_PARTITION_AUTO) {
        if (!recs[0].key && recs[0].key_len)
            return cano__err(CANO_EINVAL, "NULL key with a length");
        partition = auto_partition(t, &recs[0]);
    }
    cano__partition *p = NULL;
    rc = cano__topic_partition(t, partition, &p);
    if (rc != CANO_OK)
        return rc;
    return cano__part_append(p, recs, n, NULL, first_offset_out);
}

int cano_append_idempotent(cano_topic_t *t, int32_t partition,
                           int64_t producer_id, int32_t sequence,
                           const cano_record *recs, size_t n,
                           int64_t *first_offset_out)
{
    int rc = append_start(t, first_offset_out);
    if (rc != CANO_OK)
        return rc;
    if (!recs || n == 0 || n > INT32_MAX || producer_id < 0 || sequence < 0)
        return cano__err(CANO_EINVAL, "bad records, producer or sequence");
    cano__partition *p = NULL;
    rc = cano__topic_partition(t, partition, &p);
    if (rc != CANO_OK)
        return rc;
    cano__producer_ref prod = { producer_id, sequence };
    return cano__part_append(p, recs, n, &prod, first_offset_out);
}

int cano_append(cano_topic_t *t, int32_t partition, const cano_record *rec,
                int32_t *partition_out, int64_t *offset_out)
{
    if (partition_out)
        *partition_out = -1;
    int rc = append_start(t, offset_out);
    if (rc != CANO_OK)
        return rc;
    if (!rec)
        return cano__err(CANO_EINVAL, "NULL record");
    if (partition == CANO_PARTITION_AUTO) {
        if (!rec->key && rec->key_len)
            return cano__err(CANO_EINVAL, "NULL key with a length");
        partition = auto_partition(t, rec);
    }
    cano__partition *p = NULL;
    rc = cano__topic_partition(t, partition, &p);
    if (rc == CANO_OK)
        rc = cano__part_append(p, rec, 1, NULL, offset_out);
    if (rc == CANO_OK && partition_out)
        *partition_out = partition;
    return rc;
}

int cano_partition_stat(cano_topic_t *t, int32_t partition,
                        cano_partition_info *out)
{
    cano__partition *p = NULL;
    int rc = cano__topic_partition(t, partition, &p);
    if (rc != CANO_OK)
        return rc;
    if (!out || (out->size && out->size < sizeof *out))
        return cano__err(CANO_EINVAL, "partition info size too small");
    size_t size = out->size ? out->size : sizeof *out;
    memset(out, 0, size);
    out->size = (uint32_t)size;
    return cano__part_stat(p, out);
}

int cano_offset_for_time(cano_topic_t *t, int32_t partition, int64_t ts,
                         int64_t *offset_out)
{
    cano__partition *p = NULL;
    int rc = cano__topic_partition(t, partition, &p);
    if (rc != CANO_OK)
        return rc;
    if (!offset_out)
        return cano__err(CANO_EINVAL, "NULL offset_out");
    return cano__part_offset_for_time(p, ts, offset_out);
}
