/* offsets.c - consumer groups: committed offsets per (group, topic,
 * partition), kept as records of the internal compacted topic
 * __consumer_offsets, so they share the format, recovery and compaction of
 * every other log.  Key: version byte 1, u16 group length, group, u16 topic
 * length, topic, i32 partition; value: version byte 1, i64 offset, i64
 * commit time (all little-endian).  The latest record of a key is the
 * commit; memory holds one entry per key, rebuilt at open. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "store.h"

#define MAX_NAME 255

void cano__offsets_init(cano__offsets *o)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->lock, NULL);
}

void cano__offsets_free(cano__offsets *o)
{
    for (size_t i = 0; i < o->n; i++) {
        cano__free(o->e[i].group);
        cano__free(o->e[i].topic);
    }
    cano__free(o->e);
    pthread_mutex_destroy(&o->lock);
}

/* ---- the sorted table (lock held) ---- */

static int cmp_key(const cano__commit *c, const char *group, const char *topic,
                   int32_t partition)
{
    int r = strcmp(c->group, group);
    if (!r)
        r = strcmp(c->topic, topic);
    if (!r)
        r = (c->partition > partition) - (c->partition < partition);
    return r;
}

static size_t find(const cano__offsets *o, const char *group,
                   const char *topic, int32_t partition, bool *found)
{
    size_t lo = 0, hi = o->n;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = cmp_key(&o->e[mid], group, topic, partition);
        if (r == 0) {
            *found = true;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Applies one commit (offset < 0: a deletion) unless a later one of the
 * same key is already applied. */
static int apply(cano__offsets *o, const char *group, const char *topic,
                 int32_t partition, int64_t offset, int64_t log_offset)
{
    bool found;
    size_t i = find(o, group, topic, partition, &found);
    if (found) {
        if (o->e[i].log_offset > log_offset)
            return CANO_OK;
        if (offset >= 0) {
            o->e[i].offset = offset;
            o->e[i].log_offset = log_offset;
            return CANO_OK;
        }
        cano__free(o->e[i].group);
        cano__free(o->e[i].topic);
        memmove(o->e + i, o->e + i + 1, (o->n - i - 1) * sizeof *o->e);
        o->n--;
        return CANO_OK;
    }
    if (offset < 0)
        return CANO_OK;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        cano__commit *e = cano__realloc(o->e, cap * sizeof *e);
        if (!e)
            return cano__err(CANO_ENOMEM, "commit table");
        o->e = e;
        o->cap = cap;
    }
    cano__commit c = { cano__strdup(group), cano__strdup(topic), partition,
                       offset, log_offset };
    if (!c.group || !c.topic) {
        cano__free(c.group);
        cano__free(c.topic);
        return cano__err(CANO_ENOMEM, "commit table");
    }
    memmove(o->e + i + 1, o->e + i, (o->n - i) * sizeof *o->e);
    o->e[i] = c;
    o->n++;
    return CANO_OK;
}

/* ---- record encoding ---- */

static size_t encode_key(uint8_t *k, const char *group, const char *topic,
                         int32_t partition)
{
    size_t gl = strlen(group), tl = strlen(topic);
    k[0] = 1;
    k[1] = (uint8_t)gl;
    k[2] = (uint8_t)(gl >> 8);
    memcpy(k + 3, group, gl);
    k[3 + gl] = (uint8_t)tl;
    k[4 + gl] = (uint8_t)(tl >> 8);
    memcpy(k + 5 + gl, topic, tl);
    cano__st32(k + 5 + gl + tl, (uint32_t)partition);
    return 9 + gl + tl;
}

/* Splits a key into NUL-terminated names; false when malformed. */
static bool decode_key(const uint8_t *k, size_t len, char *group, char *topic,
                       int32_t *partition)
{
    if (len < 9 || k[0] != 1)
        return false;
    size_t gl = k[1] | (size_t)k[2] << 8;
    if (gl > MAX_NAME || 5 + gl > len)
        return false;
    size_t tl = k[3 + gl] | (size_t)k[4 + gl] << 8;
    if (tl > MAX_NAME || 9 + gl + tl != len)
        return false;
    memcpy(group, k + 3, gl);
    group[gl] = '\0';
    memcpy(topic, k + 5 + gl, tl);
    topic[tl] = '\0';
    *partition = (int32_t)cano__ld32(k + 5 + gl + tl);
    return !memchr(group, '\0', gl) && !memchr(topic, '\0', tl);
}

/* ---- forgetting a topic ---- */

static int offsets_topic(struct cano *db, bool create, struct cano_topic **out);

/* Appends a tombstone for each commit of topic (gathered by the caller) so
 * that a topic created later under the same name does not inherit them. */
static int write_tombstones(struct cano *db, struct cano_topic *ot,
                            cano__commit *gone, size_t n)
{
    int rc = CANO_OK;
    for (size_t i = 0; rc == CANO_OK && i < n; i++) {
        uint8_t key[9 + 2 * MAX_NAME];
        cano_record r;
        memset(&r, 0, sizeof r);
        r.key = key;
        r.key_len = encode_key(key, gone[i].group, gone[i].topic,
                               gone[i].partition);
        int64_t at;
        rc = cano__part_append(ot->parts[0], &r, 1, NULL, &at);
        if (rc == CANO_OK) {
            pthread_mutex_lock(&db->offsets.lock);
            rc = apply(&db->offsets, gone[i].group, gone[i].topic,
                       gone[i].partition, -1, at);
            pthread_mutex_unlock(&db->offsets.lock);
        }
    }
    return rc;
}

int cano__offsets_forget(struct cano *db, const char *topic_or_null)
{
    struct cano_topic *ot;
    int rc = offsets_topic(db, false, &ot);
    if (rc == CANO_ENOTFOUND) {
        cano__err_clear();
        return CANO_OK;
    }
    if (rc != CANO_OK)
        return rc;
    /* Copies of the commits to drop: those of topic, or (NULL) of every
     * topic that no longer exists. */
    pthread_mutex_lock(&db->offsets.lock);
    cano__commit *gone = cano__calloc(db->offsets.n + 1, sizeof *gone);
    size_t n = 0;
    for (size_t i = 0; gone && i < db->offsets.n; i++) {
        const cano__commit *c = &db->offsets.e[i];
        cano_topic_t *t;
        bool drop = topic_or_null ? !strcmp(c->topic, topic_or_null)
                                  : cano_topic_open(db, c->topic, &t) != CANO_OK;
        if (drop)
            gone[n++] = *c;        /* names stay owned by the table */
    }
    pthread_mutex_unlock(&db->offsets.lock);
    if (!gone)
        return cano__err(CANO_ENOMEM, "commit table");
    /* The table entries are only removed by write_tombstones (apply), so
     * the borrowed names stay valid: copy them first. */
    for (size_t i = 0; i < n; i++) {
        gone[i].group = cano__strdup(gone[i].group);
        gone[i].topic = cano__strdup(gone[i].topic);
        if (!gone[i].group || !gone[i].topic)
            rc = cano__err(CANO_ENOMEM, "commit table");
    }
    if (rc == CANO_OK)
        rc = write_tombstones(db, ot, gone, n);
    for (size_t i = 0; i < n; i++) {
        cano__free(gone[i].group);
        cano__free(gone[i].topic);
    }
    cano__free(gone);
    cano__err_clear();
    return rc;
}

/* ---- loading ---- */

static int offsets_topic(struct cano *db, bool create, struct cano_topic **out)
{
    int rc = cano_topic_open(db, CANO__OFFSETS_TOPIC, out);
    if (rc != CANO_ENOTFOUND || !create)
        return rc;
    cano_topic_config cfg;
    cano_topic_config_init(&cfg, sizeof cfg);
    cfg.cleanup_policy = CANO_CLEANUP_COMPACT;
    cfg.segment_bytes = 16 << 20;
    cfg.sync_mode = CANO_SYNC_ALWAYS;
    rc = cano__topic_create(db, CANO__OFFSETS_TOPIC, &cfg);
    if (rc == CANO_OK || rc == CANO_EEXIST)
        rc = cano_topic_open(db, CANO__OFFSETS_TOPIC, out);
    return rc;
}

int cano__offsets_load(struct cano *db)
{
    struct cano_topic *t;
    int rc = offsets_topic(db, false, &t);
    if (rc == CANO_ENOTFOUND)
        return CANO_OK;
    if (rc != CANO_OK)
        return rc;
    cano__partition *p = t->parts[0];
    cano__cursor c;
    cano_record r;
    char group[MAX_NAME + 1], topic[MAX_NAME + 1];
    int32_t part;
    cano__cursor_init(&c, p, atomic_load(&p->start_offset));
    int64_t end = atomic_load(&p->end_offset);
    pthread_mutex_lock(&db->offsets.lock);
    while ((rc = cano__cursor_next(&c, end, &r)) == 1) {
        if (!r.key || !decode_key(r.key, r.key_len, group, topic, &part))
            continue;
        int64_t offset = -1;
        if (r.value && r.value_len >= 9 && ((const uint8_t *)r.value)[0] == 1)
            offset = (int64_t)cano__ld64((const uint8_t *)r.value + 1);
        rc = apply(&db->offsets, group, topic, part, offset, r.offset);
        if (rc != CANO_OK)
            break;
    }
    pthread_mutex_unlock(&db->offsets.lock);
    cano__cursor_release(&c);
    if (rc < 0)
        return rc;
    /* Commits of topics deleted before a crash could write their
     * tombstones are dropped now. */
    return cano__offsets_forget(db, NULL);
}

/* ---- API ---- */

static bool group_ok(const char *group)
{
    return group && group[0] && strnlen(group, MAX_NAME + 1) <= MAX_NAME;
}

/* Checks the arguments shared by commit and committed. */
static int check_target(cano_t *db, const char *group, const char *topic,
                        int32_t partition, cano__partition **p)
{
    if (!db || !group_ok(group) || !topic)
        return cano__err(CANO_EINVAL, "NULL store or bad group name");
    cano_topic_t *t;
    int rc = cano_topic_open(db, topic, &t);
    if (rc == CANO_OK)
        rc = cano__topic_partition(t, partition, p);
    return rc;
}

int cano_commit(cano_t *db, const char *group, const char *topic,
                int32_t partition, int64_t offset)
{
    cano__err_clear();
    cano__partition *p = NULL;
    int rc = check_target(db, group, topic, partition, &p);
    if (rc != CANO_OK)
        return rc;
    if (offset < 0 || offset > atomic_load(&p->end_offset))
        return cano__err(CANO_EOFFSET, "cannot commit offset %" PRId64,
                         offset);
    struct cano_topic *ot;
    rc = offsets_topic(db, true, &ot);
    if (rc != CANO_OK)
        return rc;
    uint8_t key[9 + 2 * MAX_NAME], value[17];
    cano_record r;
    memset(&r, 0, sizeof r);
    r.key = key;
    r.key_len = encode_key(key, group, topic, partition);
    value[0] = 1;
    cano__st64(value + 1, (uint64_t)offset);
    cano__st64(value + 9, (uint64_t)cano__now_ms());
    r.value = value;
    r.value_len = sizeof value;
    int64_t at;
    /* The offsets topic syncs every append (group commit): a returned
     * commit is durable. */
    rc = cano__part_append(ot->parts[0], &r, 1, NULL, &at);
    if (rc != CANO_OK)
        return rc;
    pthread_mutex_lock(&db->offsets.lock);
    rc = apply(&db->offsets, group, topic, partition, offset, at);
    pthread_mutex_unlock(&db->offsets.lock);
    return rc;
}

int cano_committed(cano_t *db, const char *group, const char *topic,
                   int32_t partition, int64_t *offset_out)
{
    cano__err_clear();
    if (offset_out)
        *offset_out = -1;
    cano__partition *p = NULL;
    int rc = check_target(db, group, topic, partition, &p);
    if (rc != CANO_OK)
        return rc;
    if (!offset_out)
        return cano__err(CANO_EINVAL, "NULL offset_out");
    bool found;
    pthread_mutex_lock(&db->offsets.lock);
    size_t i = find(&db->offsets, group, topic, partition, &found);
    if (found)
        *offset_out = db->offsets.e[i].offset;
    pthread_mutex_unlock(&db->offsets.lock);
    return found ? CANO_OK
                 : cano__err(CANO_ENOTFOUND, "group %s has no commit for "
                             "%s/%" PRId32, group, topic, partition);
}

int cano_reader_open_group(cano_topic_t *t, int32_t partition,
                           const char *group, cano_reader_t **out)
{
    cano__err_clear();
    if (out)
        *out = NULL;
    cano__partition *p = NULL;
    int rc = cano__topic_partition(t, partition, &p);
    if (rc != CANO_OK)
        return rc;
    if (!group_ok(group) || !out)
        return cano__err(CANO_EINVAL, "bad group name or NULL out");
    int64_t offset;
    rc = cano_committed(t->db, group, t->name, partition, &offset);
    int64_t start = atomic_load(&p->start_offset);
    int64_t end = atomic_load(&p->end_offset);
    if (rc == CANO_ENOTFOUND || offset < start)
        offset = start;   /* nothing committed, or retention passed it */
    else if (rc != CANO_OK)
        return rc;
    return cano_reader_open(t, partition, CANO__MIN(offset, end), out);
}

int cano_group_list(cano_t *db, cano_group_fn fn, void *payload)
{
    cano__err_clear();
    if (!db || !fn)
        return cano__err(CANO_EINVAL, "NULL argument");
    pthread_mutex_lock(&db->offsets.lock);
    size_t n = db->offsets.n;
    cano__commit *copy = cano__calloc(n + 1, sizeof *copy);
    bool ok = copy != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        copy[i] = db->offsets.e[i];
        copy[i].group = cano__strdup(db->offsets.e[i].group);
        copy[i].topic = cano__strdup(db->offsets.e[i].topic);
        ok = copy[i].group && copy[i].topic;
    }
    pthread_mutex_unlock(&db->offsets.lock);
    int calls = 0;
    for (size_t i = 0; ok && i < n; i++) {
        cano_topic_t *t;
        cano__partition *p;
        if (cano_topic_open(db, copy[i].topic, &t) != CANO_OK ||
            cano__topic_partition(t, copy[i].partition, &p) != CANO_OK)
            continue;
        cano_group_info info;
        memset(&info, 0, sizeof info);
        info.group = copy[i].group;
        info.topic = copy[i].topic;
        info.partition = copy[i].partition;
        info.committed = copy[i].offset;
        info.end_offset = atomic_load(&p->end_offset);
        info.lag = CANO__MAX(info.end_offset -
                             CANO__MAX(info.committed,
                                       atomic_load(&p->start_offset)), 0);
        calls++;
        if (fn(&info, payload))
            break;
    }
    for (size_t i = 0; copy && i < n; i++) {
        cano__free(copy[i].group);
        cano__free(copy[i].topic);
    }
    cano__free(copy);
    cano__err_clear();
    return ok ? calls : cano__err(CANO_ENOMEM, "group list");
}

/* Whether name is one of the comma-separated names in list ("*": all). */
static bool named(const char *list, const char *name)
{
    if (!strcmp(list, "*"))
        return true;
    size_t n = strlen(name);
    for (const char *s = list; *s; ) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len == n && !strncmp(s, name, n))
            return true;
        s += len + (comma ? 1 : 0);
    }
    return false;
}

int64_t cano__offsets_min(struct cano *db, const char *groups,
                          const char *topic, int32_t partition)
{
    int64_t min = -1;
    size_t matched = 0;
    pthread_mutex_lock(&db->offsets.lock);
    for (size_t i = 0; i < db->offsets.n; i++) {
        const cano__commit *c = &db->offsets.e[i];
        if (c->partition != partition || strcmp(c->topic, topic) ||
            !named(groups, c->group))
            continue;
        matched++;
        if (min < 0 || c->offset < min)
            min = c->offset;
    }
    pthread_mutex_unlock(&db->offsets.lock);
    if (strcmp(groups, "*") != 0) {
        /* Every named group must have committed, or it holds everything. */
        size_t names = 1;
        for (const char *s = groups; *s; s++)
            names += *s == ',';
        if (matched < names)
            return 0;
    }
    return min;
}
