/* store.c - opening and closing a store, its lock and clean-shutdown
 * marker, the topic registry, and the interval flusher. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "io.h"
#include "compact.h"
#include "retention.h"
#include "store.h"

#define DEFAULT_MAX_FILES 4096
#define MIN_MAX_FILES     16

/* ---- options ---- */

int cano_options_init(cano_options *o, size_t size)
{
    if (!o || size < sizeof *o)
        return cano__err(CANO_EINVAL, "cano_options_init: size %zu is "
                         "smaller than %zu", size, sizeof *o);
    memset(o, 0, size);
    o->size = (uint32_t)CANO__MIN(size, UINT32_MAX);
    o->sync_mode = CANO_SYNC_INTERVAL;
    o->sync_interval_ms = 1000;
    o->max_open_files = DEFAULT_MAX_FILES;
    o->file_mode = 0644;
    o->dir_mode = 0755;
    o->cleaner_map_bytes = 16 << 20;
    return CANO_OK;
}

static int import_options(cano_options *d, const cano_options *src)
{
    cano_options_init(d, sizeof *d);
    if (!src)
        return CANO_OK;
    size_t size = src->size ? src->size : sizeof *d;
    const uint8_t *raw = (const uint8_t *)src;
    for (size_t i = sizeof *d; i < size; i++)
        if (raw[i])
            return cano__err(CANO_EINVAL, "options: unknown fields set");
    if (size < sizeof *d)
        return cano__err(CANO_EINVAL, "options: size %zu too small", size);
    if ((src->flags & ~CANO_OPEN_MUST_EXIST) || src->reserved0 ||
        src->reserved1 || src->maintenance_interval_ms < 0 ||
        src->cleaner_map_bytes < 0 ||
        src->sync_mode < 0 || src->sync_mode > CANO_SYNC_ALWAYS ||
        src->sync_interval_ms < 0 || src->max_open_files < 0 ||
        (src->file_mode & ~07777u) || (src->dir_mode & ~07777u))
        return cano__err(CANO_EINVAL, "options: bad value");
    d->flags = src->flags;
    if (src->sync_mode)
        d->sync_mode = src->sync_mode;
    if (src->sync_interval_ms)
        d->sync_interval_ms = src->sync_interval_ms;
    if (src->max_open_files)
        d->max_open_files = CANO__MAX(src->max_open_files, MIN_MAX_FILES);
    if (src->file_mode)
        d->file_mode = src->file_mode;
    if (src->dir_mode)
        d->dir_mode = src->dir_mode;
    d->maintenance_interval_ms = src->maintenance_interval_ms;
    if (src->cleaner_map_bytes)
        d->cleaner_map_bytes = CANO__MAX(src->cleaner_map_bytes, 64);
    return CANO_OK;
}

/* ---- paths ---- */

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = cano__malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- registry (db->lock held) ---- */

static size_t topic_slot(const struct cano *db, const char *name, bool *found)
{
    size_t lo = 0, hi = db->n_topics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(db->topics[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return CANO_OK;
    size_t c = *cap ? *cap * 2 : 16;
    void *a = cano__realloc(*arr, c * elem);
    if (!a)
        return cano__err(CANO_ENOMEM, "registry");
    *arr = a;
    *cap = c;
    return CANO_OK;
}

static int registry_insert(struct cano *db, struct cano_topic *t)
{
    bool found;
    size_t i = topic_slot(db, t->name, &found);
    int rc = grow((void **)&db->topics, &db->cap_topics, db->n_topics,
                  sizeof *db->topics);
    if (rc != CANO_OK)
        return rc;
    memmove(db->topics + i + 1, db->topics + i,
            (db->n_topics - i) * sizeof *db->topics);
    db->topics[i] = t;
    db->n_topics++;
    return CANO_OK;
}

/* ---- opening ---- */

static int load_topic(struct cano *db, const char *name, bool clean)
{
    char *dir = join(db->dir, name);
    cano_topic_config cfg;
    char groups[1025];
    struct cano_topic *t = NULL;
    if (!dir)
        return cano__err(CANO_ENOMEM, "path");
    int rc = cano__config_read(dir, &cfg, groups);
    if (rc == CANO_OK)
        rc = cano__topic_new(db, name, dir, &cfg, &t);
    if (rc == CANO_OK)
        rc = cano__topic_load(t, clean);
    if (rc == CANO_OK)
        rc = registry_insert(db, t);
    if (rc != CANO_OK)
        cano__topic_free(t);
    cano__free(dir);
    return rc;
}

typedef struct open_scan {
    struct cano *db;
    bool clean;
    int rc;
} open_scan;

/* Each entry of the store directory: a topic, an interrupted topic create
 * or delete (removed), or one of our own files. */
static int open_entry(const char *name, void *payload)
{
    open_scan *o = payload;
    if (!strncmp(name, CANO__TMP_PREFIX, strlen(CANO__TMP_PREFIX)) ||
        !strncmp(name, CANO__DEL_PREFIX, strlen(CANO__DEL_PREFIX))) {
        char *path = join(o->db->dir, name);
        o->rc = path ? cano__io_remove_tree(path) : CANO_ENOMEM;
        cano__free(path);
        return o->rc;
    }
    if (!cano__topic_name_ok(name, true))
        return 0;
    char *path = join(o->db->dir, name);
    bool is_dir = false;
    int rc = path ? cano__io_stat(path, &is_dir, NULL) : CANO_ENOMEM;
    cano__free(path);
    if (rc == CANO_OK && is_dir)
        rc = load_topic(o->db, name, o->clean);
    return o->rc = rc;
}

static int open_dir(struct cano *db, const char *dir)
{
    bool is_dir = false;
    int rc = cano__io_stat(dir, &is_dir, NULL);
    if (rc == CANO_ENOTFOUND) {
        if (db->opts.flags & CANO_OPEN_MUST_EXIST)
            return cano__err(CANO_ENOTFOUND, "store %s does not exist", dir);
        rc = cano__io_mkdir(dir, db->opts.dir_mode);
        if (rc == CANO_EEXIST)
            rc = CANO_OK;
        else if (rc == CANO_ENOTFOUND)
            return cano__err(CANO_ENOTFOUND, "parent of %s does not exist",
                             dir);
        is_dir = true;
    }
    if (rc != CANO_OK)
        return rc;
    if (!is_dir)
        return cano__err(CANO_EINVAL, "%s is not a directory", dir);
    return CANO_OK;
}

static int take_lock(struct cano *db)
{
    char *path = join(db->dir, CANO__LOCK_FILE);
    if (!path)
        return cano__err(CANO_ENOMEM, "path");
    int rc = cano__io_open(path, O_RDWR | O_CREAT, db->opts.file_mode,
                           &db->lock_fd);
    if (rc == CANO_OK)
        rc = cano__io_lock(db->lock_fd, path);
    cano__free(path);
    return rc;
}

/* The marker is consumed before anything is loaded, so a crash while
 * loading counts as unclean next time. */
static int consume_clean_marker(struct cano *db, bool *clean)
{
    char *path = join(db->dir, CANO__CLEAN_FILE);
    if (!path)
        return cano__err(CANO_ENOMEM, "path");
    int rc = cano__io_stat(path, NULL, NULL);
    *clean = rc == CANO_OK;
    if (rc == CANO_ENOTFOUND)
        rc = CANO_OK;
    if (*clean) {
        rc = cano__io_unlink(path);
        if (rc == CANO_OK)
            rc = cano__io_fsync_dir(db->dir);
    }
    cano__free(path);
    return rc;
}

static void free_store(struct cano *db);
static void flush_tick(struct cano *db);
static void maintain_tick(struct cano *db);

int cano_open(const char *dir, const cano_options *opts, cano_t **out)
{
    cano__err_clear();
    if (out)
        *out = NULL;
    if (!dir || !out || !*dir)
        return cano__err(CANO_EINVAL, "cano_open: NULL or empty argument");
    struct cano *db = cano__calloc(1, sizeof *db);
    if (!db)
        return cano__err(CANO_ENOMEM, "store");
    db->lock_fd = -1;
    atomic_init(&db->refs, 1);
    pthread_mutex_init(&db->lock, NULL);
    bool clean = false;
    cano__offsets_init(&db->offsets);
    int rc = import_options(&db->opts, opts);
    cano__ticker_init(&db->flusher, db, flush_tick, db->opts.sync_interval_ms);
    cano__ticker_init(&db->maintainer, db, maintain_tick,
                db->opts.maintenance_interval_ms);
    if (rc == CANO_OK && !(db->dir = cano__strdup(dir)))
        rc = cano__err(CANO_ENOMEM, "path");
    if (rc == CANO_OK)
        rc = cano__cache_init(&db->cache, db->opts.max_open_files);
    if (rc == CANO_OK)
        rc = open_dir(db, dir);
    if (rc == CANO_OK)
        rc = take_lock(db);
    if (rc == CANO_OK)
        rc = consume_clean_marker(db, &clean);
    if (rc == CANO_OK) {
        open_scan o = { db, clean, CANO_OK };
        rc = cano__io_list(db->dir, open_entry, &o);
        if (rc == CANO_OK)
            rc = o.rc;
    }
    if (rc == CANO_OK)
        rc = cano__offsets_load(db);
    if (rc == CANO_OK)
        rc = cano__store_start_flusher(db);
    if (rc == CANO_OK && db->opts.maintenance_interval_ms > 0)
        rc = cano__ticker_start(&db->maintainer);
    if (rc != CANO_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cano_last_errmsg());
        free_store(db);
        return cano__err(rc, "%s", msg);
    }
    *out = db;
    cano__err_clear();           /* absences met while loading are no error */
    return CANO_OK;
}

/* ---- closing ---- */

static void stop_threads(struct cano *db)
{
    cano__ticker_stop(&db->maintainer);
    cano__ticker_stop(&db->flusher);
}

static void free_topics(struct cano_topic **ts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cano__topic_free(ts[i]);
    cano__free(ts);
}

static void free_store(struct cano *db)
{
    stop_threads(db);
    cano__ticker_destroy(&db->flusher);
    cano__ticker_destroy(&db->maintainer);
    free_topics(db->topics, db->n_topics);
    free_topics(db->dead, db->n_dead);
    cano__offsets_free(&db->offsets);
    if (db->lock_fd >= 0)
        cano__io_close(db->lock_fd);
    if (db->cache.cap)
        cano__cache_destroy(&db->cache);
    pthread_mutex_destroy(&db->lock);
    cano__free(db->dir);
    cano__free(db);
}

void cano__store_unref(struct cano *db)
{
    if (atomic_fetch_sub(&db->refs, 1) == 1)
        free_store(db);
}

static void wake_readers(struct cano *db)
{
    for (size_t i = 0; i < db->n_topics; i++)
        for (int32_t p = 0; p < db->topics[i]->cfg.partitions; p++)
            cano__part_wake_all(db->topics[i]->parts[p]);
}

static int write_clean_marker(struct cano *db)
{
    char *path = join(db->dir, CANO__CLEAN_FILE);
    int fd = -1;
    int rc = path ? cano__io_open(path, O_WRONLY | O_CREAT | O_TRUNC,
                                  db->opts.file_mode, &fd) : CANO_ENOMEM;
    if (rc == CANO_OK)
        rc = cano__io_fsync(fd, path);
    cano__io_close(fd);
    if (rc == CANO_OK)
        rc = cano__io_fsync_dir(db->dir);
    cano__free(path);
    return rc;
}

int cano_close(cano_t *db)
{
    cano__err_clear();
    if (!db)
        return CANO_OK;
    stop_threads(db);
    atomic_store(&db->closed, true);
    wake_readers(db);
    int rc = atomic_load(&db->fatal) ? CANO_EFATAL : CANO_OK;
    for (size_t i = 0; rc == CANO_OK && i < db->n_topics; i++)
        for (int32_t p = 0; rc == CANO_OK && p < db->topics[i]->cfg.partitions;
             p++)
            rc = cano__part_close_clean(db->topics[i]->parts[p]);
    if (rc == CANO_OK)
        rc = write_clean_marker(db);
    /* Unlock now: readers still open keep only memory alive. */
    cano__io_close(db->lock_fd);
    db->lock_fd = -1;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", cano_last_errmsg());
    cano__store_unref(db);
    return rc == CANO_OK ? CANO_OK : cano__err(rc, "%s", msg);
}

/* Always CANO_EIO, even for ENOSPC: what failed to sync is in the log
 * already, so "nothing was written" (CANO_ENOSPC) would be untrue. */
int cano__store_fatal(struct cano *db, int rc)
{
    (void)rc;
    atomic_store(&db->fatal, true);
    return cano__err(CANO_EIO, "%s (the store now refuses writes until "
                     "reopened)", cano_last_errmsg());
}

/* ---- syncing ---- */

static int sync_topics(struct cano *db, bool only_interval)
{
    int rc = CANO_OK;
    pthread_mutex_lock(&db->lock);
    for (size_t i = 0; i < db->n_topics; i++) {
        struct cano_topic *t = db->topics[i];
        if (only_interval && t->sync_mode != CANO_SYNC_INTERVAL)
            continue;
        for (int32_t p = 0; p < t->cfg.partitions; p++) {
            int r = cano__part_sync(t->parts[p]);
            if (rc == CANO_OK)
                rc = r;
        }
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int cano_sync(cano_t *db)
{
    cano__err_clear();
    if (!db)
        return cano__err(CANO_EINVAL, "NULL store");
    if (atomic_load(&db->fatal))
        return cano__err(CANO_EFATAL, "an earlier sync failed; reopen");
    return sync_topics(db, false);
}

static void flush_tick(struct cano *db)
{
    if (!atomic_load(&db->fatal))
        sync_topics(db, true);
}

static void maintain_tick(struct cano *db)
{
    cano_maintain(db);
}

/* The flusher thread runs only while some topic uses the interval mode. */
int cano__store_start_flusher(struct cano *db)
{
    bool needed = false;
    pthread_mutex_lock(&db->lock);
    for (size_t i = 0; i < db->n_topics && !needed; i++)
        needed = db->topics[i]->sync_mode == CANO_SYNC_INTERVAL;
    pthread_mutex_unlock(&db->lock);
    return needed ? cano__ticker_start(&db->flusher) : CANO_OK;
}

/* Topics as they are now; handles stay valid until close, so the list can
 * be used without the lock. */
static int topics_snapshot(struct cano *db, struct cano_topic ***out,
                           size_t *n)
{
    pthread_mutex_lock(&db->lock);
    *n = db->n_topics;
    *out = cano__calloc(*n + 1, sizeof **out);
    if (*out && *n)
        memcpy(*out, db->topics, *n * sizeof **out);
    pthread_mutex_unlock(&db->lock);
    return *out ? CANO_OK : cano__err(CANO_ENOMEM, "topic list");
}

int cano_maintain(cano_t *db)
{
    cano__err_clear();
    if (!db)
        return cano__err(CANO_EINVAL, "NULL store");
    struct cano_topic **ts;
    size_t n;
    int rc = topics_snapshot(db, &ts, &n);
    int64_t now = cano__now_ms();
    for (size_t i = 0; ts && i < n; i++) {
        for (int32_t p = 0; p < ts[i]->cfg.partitions; p++) {
            if (atomic_load(&ts[i]->deleted) || atomic_load(&db->closed))
                break;
            int r = cano__retention_run(ts[i]->parts[p], now);
            if (r == CANO_OK)
                r = cano__compact(ts[i]->parts[p], false, now);
            if (rc == CANO_OK)
                rc = r;
        }
    }
    cano__free(ts);
    if (rc == CANO_OK)
        cano__err_clear();
    return rc;
}

int cano_compact(cano_topic_t *t, int32_t partition)
{
    cano__err_clear();
    cano__partition *p = NULL;
    int rc = cano__topic_partition(t, partition, &p);
    return rc == CANO_OK ? cano__compact(p, true, cano__now_ms()) : rc;
}

int cano_delete_records(cano_topic_t *t, int32_t partition,
                        int64_t before_offset)
{
    cano__err_clear();
    cano__partition *p = NULL;
    int rc = cano__topic_partition(t, partition, &p);
    if (rc == CANO_OK && before_offset < 0)
        rc = cano__err(CANO_EINVAL, "negative offset");
    if (rc == CANO_OK && !strncmp(t->name, "__", 2))
        rc = cano__err(CANO_EINVAL, "topic %s is internal", t->name);
    return rc == CANO_OK ? cano__delete_records(p, before_offset) : rc;
}

/* ---- recovery report ---- */

/* The reports are copied under the lock and handed out after it. */
int cano_recovery_report(cano_t *db, cano_recovery_fn fn, void *payload)
{
    cano__err_clear();
    if (!db || !fn)
        return cano__err(CANO_EINVAL, "NULL argument");
    pthread_mutex_lock(&db->lock);
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < db->n_topics; i++)
        for (int32_t p = 0; p < db->topics[i]->cfg.partitions; p++)
            cap += db->topics[i]->parts[p]->recovered;
    cano_recovery_info *infos = cano__calloc(cap, sizeof *infos);
    char **names = cano__calloc(cap, sizeof *names);
    bool ok = infos && names;
    for (size_t i = 0; ok && i < db->n_topics; i++) {
        struct cano_topic *t = db->topics[i];
        for (int32_t p = 0; ok && p < t->cfg.partitions; p++) {
            if (!t->parts[p]->recovered)
                continue;
            infos[n] = t->parts[p]->recovery;
            ok = (names[n] = cano__strdup(t->name)) != NULL;
            infos[n].topic = names[n];
            n++;
        }
    }
    pthread_mutex_unlock(&db->lock);
    int calls = 0;
    for (size_t i = 0; ok && i < n; i++) {
        calls++;
        if (fn(&infos[i], payload))
            break;
    }
    for (size_t i = 0; names && i < n; i++)
        cano__free(names[i]);
    cano__free(names);
    cano__free(infos);
    return ok ? calls : cano__err(CANO_ENOMEM, "recovery report");
}

/* ---- topics ---- */

/* Each partition starts with an empty segment at offset 0, as in Kafka, so
 * the first append to a partition does not create files.  (A partition
 * without one, after a crash, gets it at its first append.) */
static int first_segment(struct cano *db, const char *dir)
{
    cano__seg_limits lim = { 0, 0, db->opts.file_mode };
    cano__segment *s = NULL;
    int rc = cano__seg_new(dir, 0, &lim, &db->cache, &s);
    if (rc == CANO_OK)
        rc = cano__seg_create(s);
    cano__seg_free(s);
    return rc;
}

static int make_topic_dir(struct cano *db, const char *tmp,
                          const cano_topic_config *cfg)
{
    int rc = cano__io_mkdir(tmp, db->opts.dir_mode);
    if (rc == CANO_EEXIST) {
        rc = cano__io_remove_tree(tmp);
        if (rc == CANO_OK)
            rc = cano__io_mkdir(tmp, db->opts.dir_mode);
    }
    for (int32_t p = 0; rc == CANO_OK && p < cfg->partitions; p++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%" PRId32, tmp, p);
        rc = cano__io_mkdir(path, db->opts.dir_mode);
        if (rc == CANO_OK)
            rc = first_segment(db, path);
    }
    if (rc == CANO_OK)
        rc = cano__config_write(tmp, cfg, db->opts.file_mode);
    return rc;
}

/* A topic is built under a name no topic can have and renamed into place,
 * so a crash leaves either no topic or a complete one. */
int cano_topic_create(cano_t *db, const char *name,
                      const cano_topic_config *cfg)
{
    cano__err_clear();
    if (!db)
        return cano__err(CANO_EINVAL, "NULL store");
    if (!cano__topic_name_ok(name, false))
        return cano__err(CANO_EINVAL, "bad topic name");
    return cano__topic_create(db, name, cfg);
}

int cano__topic_create(struct cano *db, const char *name,
                       const cano_topic_config *cfg)
{
    cano_topic_config c;
    int rc = cano__config_import(&c, cfg);
    if (rc != CANO_OK)
        return rc;
    /* Short enough for any topic name: the directory is only ever
     * renamed into place or, after a crash, removed. */
    char tmp_name[64];
    snprintf(tmp_name, sizeof tmp_name, CANO__TMP_PREFIX "%" PRIu64,
             (uint64_t)atomic_fetch_add(&db->del_seq, 1));
    char *tmp = join(db->dir, tmp_name), *dir = join(db->dir, name);
    struct cano_topic *t = NULL;
    pthread_mutex_lock(&db->lock);
    bool found;
    topic_slot(db, name, &found);
    if (!tmp || !dir)
        rc = cano__err(CANO_ENOMEM, "path");
    else if (found)
        rc = cano__err(CANO_EEXIST, "topic %s exists", name);
    else if (cano__io_stat(dir, NULL, NULL) == CANO_OK)
        rc = cano__err(CANO_EEXIST, "%s exists on disk", dir);
    if (rc == CANO_OK)
        rc = cano__topic_new(db, name, dir, &c, &t);
    if (rc == CANO_OK)
        rc = make_topic_dir(db, tmp, &c);
    if (rc == CANO_OK)
        rc = cano__io_fsync_dir(tmp);
    if (rc == CANO_OK)
        rc = cano__io_rename(tmp, dir);
    if (rc == CANO_OK)
        rc = cano__io_fsync_dir(db->dir);
    if (rc == CANO_OK)
        rc = cano__topic_load(t, true);
    if (rc == CANO_OK)
        rc = registry_insert(db, t);
    if (rc != CANO_OK) {
        cano__topic_free(t);
        if (tmp)
            cano__io_remove_tree(tmp);
    }
    pthread_mutex_unlock(&db->lock);
    if (rc == CANO_OK)
        rc = cano__store_start_flusher(db);
    cano__free(tmp);
    cano__free(dir);
    return rc;
}

int cano_topic_open(cano_t *db, const char *name, cano_topic_t **out)
{
    cano__err_clear();
    if (out)
        *out = NULL;
    if (!db || !name || !out)
        return cano__err(CANO_EINVAL, "NULL argument");
    if (!cano__topic_name_ok(name, true))
        return cano__err(CANO_EINVAL, "bad topic name");
    pthread_mutex_lock(&db->lock);
    bool found;
    size_t i = topic_slot(db, name, &found);
    if (found)
        *out = db->topics[i];
    pthread_mutex_unlock(&db->lock);
    return found ? CANO_OK
                 : cano__err(CANO_ENOTFOUND, "no topic %s", name);
}

/* The handle stays allocated (in db->dead) until close, since callers may
 * still hold it; its partitions stop taking appends at once. */
int cano_topic_delete(cano_t *db, const char *name)
{
    cano__err_clear();
    if (!db || !name)
        return cano__err(CANO_EINVAL, "NULL argument");
    if (!cano__topic_name_ok(name, false))
        return cano__err(CANO_EINVAL, "bad topic name");
    pthread_mutex_lock(&db->lock);
    bool found;
    size_t i = topic_slot(db, name, &found);
    int rc = found ? grow((void **)&db->dead, &db->cap_dead, db->n_dead,
                          sizeof *db->dead)
                   : cano__err(CANO_ENOTFOUND, "no topic %s", name);
    char del_name[320];
    char *del = NULL;
    struct cano_topic *t = found ? db->topics[i] : NULL;
    if (rc == CANO_OK) {
        snprintf(del_name, sizeof del_name, CANO__DEL_PREFIX "%" PRIu64,
                 (uint64_t)atomic_fetch_add(&db->del_seq, 1));
        if (!(del = join(db->dir, del_name)))
            rc = cano__err(CANO_ENOMEM, "path");
    }
    if (rc == CANO_OK) {
        /* Wait for appends in flight, then refuse new ones. */
        for (int32_t p = 0; p < t->cfg.partitions; p++) {
            pthread_mutex_lock(&t->parts[p]->maint_lock);
            pthread_mutex_lock(&t->parts[p]->lock);
        }
        atomic_store(&t->deleted, true);
        for (int32_t p = 0; p < t->cfg.partitions; p++) {
            pthread_mutex_unlock(&t->parts[p]->lock);
            pthread_mutex_unlock(&t->parts[p]->maint_lock);
        }
        rc = cano__io_rename(t->dir, del);
        if (rc != CANO_OK)
            atomic_store(&t->deleted, false);
    }
    /* Once renamed, the topic is gone whatever the directory sync says: its
     * files now sit under a name the next open removes.  A failed sync only
     * means a crash might bring the topic back, so the store refuses writes
     * (as after any failed sync) and the caller hears CANO_EIO. */
    int sync_rc = rc == CANO_OK ? cano__io_fsync_dir(db->dir) : CANO_OK;
    if (sync_rc != CANO_OK)
        sync_rc = cano__store_fatal(db, sync_rc);
    if (rc == CANO_OK) {
        for (int32_t p = 0; p < t->cfg.partitions; p++) {
            cano__part_discard_segments(t->parts[p]);
            cano__part_wake_all(t->parts[p]);
        }
        memmove(db->topics + i, db->topics + i + 1,
                (db->n_topics - i - 1) * sizeof *db->topics);
        db->n_topics--;
        db->dead[db->n_dead++] = t;
        /* Already invisible; a failure here leaves a directory that the
         * next open removes. */
        cano__io_remove_tree(del);
    }
    pthread_mutex_unlock(&db->lock);
    cano__free(del);
    /* Its consumer group commits go too: a topic created later under the
     * same name starts with none. */
    if (rc == CANO_OK && sync_rc == CANO_OK)
        rc = cano__offsets_forget(db, name);
    return rc != CANO_OK ? rc : sync_rc;
}

/* Copies the visible names under the lock, so the callback may call back
 * into the store. */
int cano_topic_list(cano_t *db, cano_topic_fn fn, void *payload)
{
    cano__err_clear();
    if (!db || !fn)
        return cano__err(CANO_EINVAL, "NULL argument");
    pthread_mutex_lock(&db->lock);
    size_t n = 0;
    char **names = cano__calloc(db->n_topics + 1, sizeof *names);
    for (size_t i = 0; names && i < db->n_topics; i++) {
        const char *name = db->topics[i]->name;
        if (strncmp(name, "__", 2) != 0 && !(names[n++] = cano__strdup(name)))
            break;
    }
    bool ok = names && (n == 0 || names[n - 1]);
    pthread_mutex_unlock(&db->lock);
    int calls = 0;
    for (size_t i = 0; ok && i < n; i++) {
        calls++;
        if (fn(names[i], payload))
            break;
    }
    for (size_t i = 0; names && i < n; i++)
        cano__free(names[i]);
    cano__free(names);
    return ok ? calls : cano__err(CANO_ENOMEM, "topic list");
}
