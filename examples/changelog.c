/* changelog.c - a compacted topic as a key-value changelog.
 *
 * Usage: changelog DIR
 *
 * Every change to a small table (fruit -> price) is appended to the
 * compacted topic "prices": the key is the row, the value its new price, a
 * tombstone (NULL value) deletes the row.  Compaction keeps only the latest
 * record of each key, so the topic stays about as big as the table while
 * still rebuilding it exactly: read from the start, apply every record.
 *
 * The program writes 2,000 updates to 5 keys, deletes one key, compacts, and
 * rebuilds the table from the topic, printing the record counts before and
 * after compaction.  Segments are tiny (1 KiB) so that there are many of
 * them: compaction only touches sealed segments, never the active one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <cano.h>

#define TOPIC   "prices"
#define NKEYS   5
#define UPDATES 2000

static const char *const fruits[NKEYS] = { "apple", "banana", "cherry", "durian",
                                           "elderberry" };

/* The table rebuilt from the topic.  An empty value: the row was deleted. */
typedef struct table {
    char key[NKEYS][16];
    char value[NKEYS][16];
    int rows;
    long records;                 /* records read to build it */
    long tombstones;
} table;

static int fail(const char *what, int rc)
{
    fprintf(stderr, "changelog: %s: %s (%s)\n", what, cano_strerror(rc),
            cano_last_errmsg());
    return 1;
}

static int append(cano_topic_t *t, const char *key, const char *value)
{
    cano_record rec = { 0 };
    rec.key = key;
    rec.key_len = strlen(key);
    rec.value = value;                      /* NULL: a tombstone */
    rec.value_len = value ? strlen(value) : 0;
    return cano_append(t, 0, &rec, NULL, NULL);
}

/* cano_read callback: applies one change to the table. */
static int apply(void *ctx, const cano_record *r)
{
    table *tb = ctx;
    int i = 0;
    tb->records++;
    tb->tombstones += r->value == NULL;
    while (i < tb->rows && (strlen(tb->key[i]) != r->key_len ||
                            memcmp(tb->key[i], r->key, r->key_len) != 0))
        i++;
    if (i == tb->rows) {                    /* a key not seen yet */
        if (i == NKEYS || r->key_len >= sizeof tb->key[i])
            return 1;                       /* not one of ours: stop */
        memcpy(tb->key[i], r->key, r->key_len);
        tb->key[i][r->key_len] = 0;
        tb->rows++;
    }
    size_t n = r->value ? r->value_len : 0;
    if (n >= sizeof tb->value[i])
        n = sizeof tb->value[i] - 1;
    memcpy(tb->value[i], r->value ? r->value : "", n);
    tb->value[i][n] = 0;
    return 0;
}

/* The value of key in the table, "" when absent or deleted. */
static const char *value_of(const table *tb, const char *key)
{
    for (int i = 0; i < tb->rows; i++)
        if (strcmp(tb->key[i], key) == 0)
            return tb->value[i];
    return "";
}

/* Rebuilds the table from the log start, like a process starting up.  One
 * cano_read call goes to the end, stepping over compacted-away offsets. */
static int rebuild(cano_topic_t *t, table *tb)
{
    cano_partition_info info = { .size = sizeof info };
    int rc = cano_partition_stat(t, 0, &info);
    if (rc != CANO_OK)
        return rc;
    memset(tb, 0, sizeof *tb);
    rc = cano_read(t, 0, info.start_offset, (size_t)-1, apply, tb);
    return rc < 0 ? rc : CANO_OK;
}

static void print_state(const char *when, cano_topic_t *t, const table *tb)
{
    cano_partition_info info = { .size = sizeof info };
    cano_partition_stat(t, 0, &info);
    printf("%s: %ld records (%ld tombstones) in offsets %" PRId64 "..%" PRId64
           ", %" PRId64 " segments, %" PRId64 " bytes\n", when, tb->records,
           tb->tombstones, info.start_offset, info.end_offset - 1, info.segments,
           info.bytes);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: changelog DIR\n");
        return 2;
    }
    cano_t *db;
    int rc = cano_open(argv[1], NULL, &db);
    if (rc != CANO_OK)
        return fail("open", rc);

    /* Start from an empty topic each run. */
    rc = cano_topic_delete(db, TOPIC);
    if (rc != CANO_OK && rc != CANO_ENOTFOUND)
        return fail("topic_delete", rc);
    cano_topic_config cfg;
    cano_topic_config_init(&cfg, sizeof cfg);
    cfg.cleanup_policy = CANO_CLEANUP_COMPACT;
    cfg.segment_bytes = 1024;        /* tiny segments: many to compact */
    cfg.delete_retention_ms = 0;     /* drop tombstones once compacted */
    if ((rc = cano_topic_create(db, TOPIC, &cfg)) != CANO_OK)
        return fail("topic_create", rc);
    cano_topic_t *t;
    if ((rc = cano_topic_open(db, TOPIC, &t)) != CANO_OK)
        return fail("topic_open", rc);

    /* 2,000 price changes, then "durian" is deleted, then a few more
     * changes so that the tombstone ends up in a sealed segment. */
    uint32_t rnd = 12345;
    for (int i = 0; i < UPDATES + 40; i++) {
        if (i == UPDATES) {
            if ((rc = append(t, "durian", NULL)) != CANO_OK)
                return fail("append tombstone", rc);
            continue;
        }
        rnd = rnd * 1103515245u + 12345u;
        int k = (int)((rnd >> 16) % NKEYS);
        if (i > UPDATES && k == 3)
            k = 0;                   /* durian stays deleted */
        char price[16];
        snprintf(price, sizeof price, "%u.%02u", 1 + (rnd >> 8) % 9, (rnd >> 4) % 100);
        if ((rc = append(t, fruits[k], price)) != CANO_OK)
            return fail("append", rc);
    }

    table before, after;
    if ((rc = rebuild(t, &before)) != CANO_OK)
        return fail("read", rc);
    print_state("before compaction", t, &before);

    if ((rc = cano_compact(t, 0)) != CANO_OK)
        return fail("compact", rc);
    if ((rc = rebuild(t, &after)) != CANO_OK)
        return fail("read", rc);
    print_state("after compaction ", t, &after);

    /* The first pass keeps the tombstone (readers part-way through must
     * still see the delete) and starts its delete_retention_ms clock; a
     * later pass, after that time, removes it. */
    if ((rc = cano_compact(t, 0)) != CANO_OK)
        return fail("compact", rc);
    if ((rc = rebuild(t, &after)) != CANO_OK)
        return fail("read", rc);
    print_state("second compaction", t, &after);

    /* Live rows must be the same; a deleted key may have lost its
     * tombstone too, so "absent" and "deleted" are the same thing. */
    printf("\nthe table rebuilt from the compacted topic:\n");
    int same = 1;
    for (int k = 0; k < NKEYS; k++) {
        const char *b = value_of(&before, fruits[k]), *a = value_of(&after, fruits[k]);
        printf("  %-12s %s\n", fruits[k], a[0] ? a : "(deleted)");
        same &= strcmp(a, b) == 0;
    }
    printf("%s\n", same ? "identical to the table rebuilt before compaction"
                        : "DIFFERENT from the table rebuilt before compaction");
    rc = cano_close(db);
    if (rc != CANO_OK)
        return fail("close", rc);
    return same ? 0 : 1;
}
