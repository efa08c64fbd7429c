/* hello.c - open a store, create a topic, append records, read them back.
 * Usage: hello DIR */
#include <stdio.h>
#include <string.h>
#include <cano.h>

static int print_record(void *ctx, const cano_record *r)
{
    (void)ctx;
    printf("  offset %lld  key %.*s  value %.*s\n", (long long)r->offset,
           (int)r->key_len, (const char *)r->key, (int)r->value_len,
           (const char *)r->value);
    return 0;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s (%s)\n", what, cano_strerror(rc),
            cano_last_errmsg());
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "hello-store";
    cano_t *db;
    cano_topic_t *t;
    int rc = cano_open(dir, NULL, &db);
    if (rc != CANO_OK)
        return fail("open", rc);
    rc = cano_topic_create(db, "greetings", NULL);
    if (rc != CANO_OK && rc != CANO_EEXIST)
        return fail("create", rc);
    if ((rc = cano_topic_open(db, "greetings", &t)) != CANO_OK)
        return fail("topic", rc);

    const char *words[] = { "hello", "hola", "bonjour", "ciao" };
    for (int i = 0; i < 4; i++) {
        cano_record rec;
        memset(&rec, 0, sizeof rec);
        rec.key = "greeting";
        rec.key_len = 8;
        rec.value = words[i];
        rec.value_len = strlen(words[i]);
        int64_t offset;
        if ((rc = cano_append(t, 0, &rec, NULL, &offset)) != CANO_OK)
            return fail("append", rc);
    }
    cano_partition_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    cano_partition_stat(t, 0, &info);
    printf("partition 0 holds offsets %lld..%lld:\n",
           (long long)info.start_offset, (long long)info.end_offset - 1);
    rc = cano_read(t, 0, info.start_offset, 1000, print_record, NULL);
    if (rc < 0)
        return fail("read", rc);
    return cano_close(db) == CANO_OK ? 0 : 1;
}
