/* check_dump.c - tests of `cano DIR dump`, `cano DIR verify` and the
 * reference reader examples/python/canodump.py.
 *
 * Each test builds a store with the public API (or damages one), closes
 * it, and runs the command ($CANO_CLI) and the Python reader as child
 * processes: the outputs of `cano DIR dump --records` and of
 * `python3 canodump.py DIR` must be identical byte for byte and hold the
 * records written; verify must pass clean stores and name the file and
 * byte position of every kind of damage.
 *
 * Run: CANO_CLI=$PWD/build/bin/cano CANO_TOP=$PWD ./build/test/check_dump
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include "testutil.h"

#define TS 1700000000000LL

static const char *cli;                 /* $CANO_CLI */
static char reader[TU_PATH_MAX];        /* $CANO_TOP/examples/python/... */
static char dir[TU_PATH_MAX - 64];      /* fresh per test */
static char store[TU_PATH_MAX];         /* dir/store */

static void setup(void)
{
    ck_assert_int_eq(tu_mkdtemp(dir, sizeof dir), 0);
    snprintf(store, sizeof store, "%s/store", dir);
}

static void teardown(void)
{
    tu_rmtree(dir);
}

/* ---- running the tools ---- */

typedef struct out {
    char  *text;        /* stdout, NUL-terminated */
    size_t len;
    int    status;      /* exit status, or 128 + signal */
} out;

/* Runs argv (NULL-terminated), capturing stdout; stderr is inherited. */
static out run_argv(char *const argv[])
{
    out o = { NULL, 0, -1 };
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 0;
    for (;;) {
        if (o.len + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 17;
            o.text = realloc(o.text, cap);
            ck_assert_ptr_nonnull(o.text);
        }
        ssize_t n = read(fds[0], o.text + o.len, cap - o.len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        o.len += (size_t)n;
    }
    close(fds[0]);
    o.text[o.len] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return o;
}

/* Collects the variadic (NULL-terminated) arguments after a fixed head. */
static out run_list(const char *a0, const char *a1, const char *a2,
                    va_list ap)
{
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)a0;
    argv[n++] = (char *)a1;
    if (a2)
        argv[n++] = (char *)a2;
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 38)
        argv[n++] = (char *)a;
    argv[n] = NULL;
    return run_argv(argv);
}

/* cano STORE ARGS... */
static out cano(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    out o = run_list(cli, store, first, ap);
    va_end(ap);
    return o;
}

/* python3 canodump.py ARGS... (the store is among them) */
static out py(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    out o = run_list("python3", reader, first, ap);
    va_end(ap);
    return o;
}

static void out_free(out *o)
{
    free(o->text);
    o->text = NULL;
}

/* 1 when text holds line as a whole line. */
static int has_line(const out *o, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = o->text; (p = strstr(p, line)); p++)
        if ((p == o->text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
            return 1;
    return 0;
}

static int count_prefix(const out *o, const char *prefix)
{
    int n = 0;
    size_t l = strlen(prefix);
    for (const char *p = o->text; *p; ) {
        if (!strncmp(p, prefix, l))
            n++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

#define ASSERT_LINE(o, line) \
    ck_assert_msg(has_line((o), (line)), "no line\n  %s\nin output:\n%s", \
                  (line), (o)->text)
#define ASSERT_HAS(o, s) \
    ck_assert_msg(strstr((o)->text, (s)) != NULL, "no \"%s\" in output:\n%s", \
                  (s), (o)->text)

/* The first line where a and b differ, for the failure message. */
static void first_difference(const out *a, const out *b, char *msg, size_t n)
{
    const char *p = a->text, *q = b->text;
    int line = 1;
    while (*p && *p == *q) {
        if (*p == '\n')
            line++;
        p++;
        q++;
    }
    while (p > a->text && p[-1] != '\n')
        p--, q--;
    snprintf(msg, n, "line %d:\n  cano:   %.*s\n  python: %.*s", line,
             (int)strcspn(p, "\n"), p, (int)strcspn(q, "\n"), q);
}

/* `cano STORE dump --records [extra]` and `canodump.py [pyextra] STORE`
 * print the same bytes and exit alike; returns the dump's output. */
static out same_dump(const char *extra, const char *pyextra,
                     int want_status)
{
    out c = extra ? cano("dump", "--records", extra, NULL)
                  : cano("dump", "--records", NULL);
    out p = pyextra ? py(pyextra, store, NULL) : py(store, NULL);
    char msg[2048] = "";
    if (c.len != p.len || memcmp(c.text, p.text, c.len))
        first_difference(&c, &p, msg, sizeof msg);
    ck_assert_msg(!msg[0], "dump and canodump.py differ at %s", msg);
    ck_assert_int_eq(c.status, want_status);
    ck_assert_int_eq(p.status, want_status);
    ck_assert_msg(c.len > 100, "output too short:\n%s", c.text);
    out_free(&p);
    return c;
}

static void verify_ok(void)
{
    out v = cano("verify", NULL);
    ck_assert_msg(v.status == 0, "verify failed on a clean store:\n%s",
                  v.text);
    ASSERT_HAS(&v, " errors: 0 ");
    ck_assert_msg(!strstr(v.text, "warning:"), "warnings:\n%s", v.text);
    out_free(&v);
}

/* ---- building stores ---- */

static cano_record rec(const void *key, size_t key_len, const void *value,
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

static void append(cano_topic_t *t, int32_t p, const char *key,
                   const char *value, int64_t ts)
{
    cano_record r = rec(key, key ? strlen(key) : 0, value,
                        value ? strlen(value) : 0, ts);
    int rc = cano_append(t, p, &r, NULL, NULL);
    ck_assert_msg(rc == CANO_OK, "append: %s", cano_last_errmsg());
}

/* The store of cano-format(5)'s EXAMPLES: one batch of two records. */
static void build_man_example(void)
{
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_create(db, "t", NULL);
    cano_header h = { "h", 1, NULL, 0 };
    cano_record r[2] = { rec("k1", 2, "hello", 5, TS),
                         rec(NULL, 0, "", 0, TS + 5) };
    r[1].headers = &h;
    r[1].header_count = 1;
    ck_assert_int_eq(cano_append_batch(t, 0, r, 2, NULL), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}

/* A topic "d" with several sealed segments, each with index entries:
 * record i has key "key<i>", value "value-<i>-..." and timestamp TS + i. */
static void build_segments(int n)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(1, 600);
    c.index_interval_bytes = 100;
    cano_topic_t *t = tu_create(db, "d", &c);
    for (int i = 0; i < n; i++) {
        char k[16], v[64];
        snprintf(k, sizeof k, "key%d", i);
        snprintf(v, sizeof v, "value-%d-abcdefghijklmnopqrstuvwxyz", i);
        append(t, 0, k, v, TS + i);
    }
    ck_assert_int_eq(cano_close(db), CANO_OK);
}

static char *seg(char *buf, const char *topic, int32_t p, int64_t base,
                 const char *ext)
{
    return tu_seg_path(buf, store, topic, p, base, ext);
}

/* Batch k of a .log file (asserting there is one). */
static tu_batch_pos batch_at(const char *path, int k)
{
    tu_batch_pos *b;
    int n = tu_log_batches(path, &b);
    ck_assert_msg(n > k, "%s has %d batches, not %d", path, n, k + 1);
    tu_batch_pos r = b[k];
    free(b);
    return r;
}

/* ---- dump: exact lines ---- */

START_TEST(test_dump_man_example_exact_lines)
{
    build_man_example();
    out o = same_dump(NULL, NULL, 0);
    ASSERT_LINE(&o, "store: clean-shutdown marker: present");
    ASSERT_LINE(&o, "topic: t");
    ASSERT_LINE(&o, "partition: t/0");
    ASSERT_LINE(&o, "segment: t/0/00000000000000000000.log size: 216");
    ASSERT_LINE(&o, "header: magic: \"CANOSEG1\" version: 1 header_size: 128 "
                "base_offset: 0 flushed_len: 88 flushed_next_offset: 2 "
                "flushed_max_timestamp: 1700000000005 state: active "
                "log_max_timestamp: 1700000000005 checksum: 8cb1d9d07bcb9469 "
                "OK");
    ASSERT_LINE(&o, "batch: position: 128 length: 88 base_offset: 0 "
                "last_offset: 1 count: 2 base_timestamp: 1700000000000 "
                "max_timestamp: 1700000000005 attributes: 0x00 compression: "
                "none timestamp_type: create-time records_size: 24 "
                "producer_id: -1 base_sequence: -1 checksum: "
                "f9cf47247bf43f0d OK");
    ASSERT_LINE(&o, "| offset: 0 timestamp: 1700000000000 key_size: 2 "
                "value_size: 5 key: \"k1\" value: \"hello\" headers: []");
    ASSERT_LINE(&o, "| offset: 1 timestamp: 1700000000005 key_size: -1 "
                "value_size: 0 key: null value: \"\" headers: [\"h\": null]");
    ASSERT_LINE(&o, "end: position: 216 batches: 1 records: 2");
    ASSERT_LINE(&o, "summary: topics: 1 partitions: 1 segments: 1 "
                "batches: 1 records: 2 errors: 0");
    ck_assert_int_eq(count_prefix(&o, "config: t/topic.conf partitions: 1 "
                     "cleanup_policy: delete compression: none "
                     "timestamp_type: create-time checksum: "), 1);
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_without_records_shows_no_records)
{
    build_man_example();
    out o = cano("dump", NULL);
    ck_assert_int_eq(o.status, 0);
    ck_assert_int_eq(count_prefix(&o, "| "), 0);
    ck_assert_int_eq(count_prefix(&o, "batch: "), 1);
    out p = py("--no-records", store, NULL);
    ck_assert_str_eq(o.text, p.text);
    out_free(&o);
    out_free(&p);
}
END_TEST

START_TEST(test_dump_order_of_topics_partitions_segments)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(12, 200);
    const char *names[] = { "zeta", "Alpha", "beta.2", "beta-1", "b_3" };
    for (int i = 0; i < 5; i++) {
        cano_topic_t *t = tu_create(db, names[i], &c);
        for (int32_t p = 0; p < 12; p++)
            for (int k = 0; k < 4; k++) {
                char v[64];
                snprintf(v, sizeof v, "%s/%d/%d with some padding bytes",
                         names[i], p, k);
                append(t, p, NULL, v, TS + k);
            }
    }
    ck_assert_int_eq(cano_close(db), CANO_OK);
    out o = same_dump(NULL, NULL, 0);
    /* Byte order of names; numeric order of partitions and segments. */
    const char *order[] = { "topic: Alpha", "topic: b_3", "topic: beta-1",
                            "topic: beta.2", "topic: zeta" };
    const char *prev = o.text;
    for (int i = 0; i < 5; i++) {
        const char *at = strstr(o.text, order[i]);
        ck_assert_msg(at && at >= prev, "%s out of order", order[i]);
        prev = at;
    }
    const char *p2 = strstr(o.text, "partition: zeta/2\n");
    const char *p10 = strstr(o.text, "partition: zeta/10\n");
    ck_assert(p2 && p10 && p2 < p10);
    const char *s2 = strstr(o.text, "segment: Alpha/0/00000000000000000002.log");
    const char *s0 = strstr(o.text, "segment: Alpha/0/00000000000000000000.log");
    ck_assert(s0 && s2 && s0 < s2);
    ck_assert_int_eq(count_prefix(&o, "partition: "), 60);
    ck_assert_int_eq(count_prefix(&o, "| offset: "), 240);
    ck_assert_int_gt(count_prefix(&o, "segment: "), 60);
    ASSERT_HAS(&o, "value: \"zeta/11/3 with some padding bytes\"");
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_keys_values_escaping_and_binary)
{
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_create(db, "bytes", NULL);
    static const unsigned char bin[] = { 0x00, 0x01, 0xff, 0x80 };
    cano_record r[8] = {
        rec("plain", 5, "a \"quoted\" \\ back", 17, TS),
        rec("tab\tnl\ncr\r", 10, "", 0, TS + 1),
        rec(bin, 4, bin, 1, TS + 2),
        rec("", 0, "caf\xc3\xa9 \xe2\x82\xac", 9, TS + 3),       /* UTF-8 */
        rec("bad\xc3", 4, "\xed\xa0\x80", 3, TS + 4),   /* not UTF-8 */
        rec("esc\x1b", 4, "del\x7f", 4, TS + 5),        /* controls */
        rec(NULL, 0, "c1\xc2\x85", 4, TS + 6),           /* C1 control */
        rec("\xc2\x9f", 2, "nb\xc2\xa0sp", 6, TS + 7),   /* U+009F, U+00A0 */
    };
    ck_assert_int_eq(cano_append_batch(t, 0, r, 8, NULL), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    out o = same_dump(NULL, NULL, 0);
    ASSERT_HAS(&o, "key: \"plain\" value: \"a \\\"quoted\\\" \\\\ back\"");
    ASSERT_HAS(&o, "key: \"tab\\tnl\\ncr\\r\" value: \"\"");
    ASSERT_HAS(&o, "key_size: 4 value_size: 1 key: hex:0001ff80 value: hex:00");
    ASSERT_HAS(&o, "key_size: 0 value_size: 9 key: \"\" value: "
               "\"caf\xc3\xa9 \xe2\x82\xac\"");
    ASSERT_HAS(&o, "key: hex:626164c3 value: hex:eda080");
    ASSERT_HAS(&o, "key: hex:6573631b value: hex:64656c7f");
    ASSERT_HAS(&o, "key: null value: hex:6331c285");
    ASSERT_HAS(&o, "key: hex:c29f value: \"nb\xc2\xa0sp\"");
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_headers_and_tombstones)
{
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_create(db, "h", NULL);
    cano_header hs[3] = { { "trace", 5, "abc", 3 }, { "empty", 5, "", 0 },
                          { "\x01", 1, NULL, 0 } };
    cano_record r = rec("k", 1, "v", 1, TS);
    r.headers = hs;
    r.header_count = 3;
    ck_assert_int_eq(cano_append(t, 0, &r, NULL, NULL), CANO_OK);
    append(t, 0, "k", NULL, TS + 1);                 /* tombstone */
    ck_assert_int_eq(cano_close(db), CANO_OK);
    out o = same_dump(NULL, NULL, 0);
    ASSERT_LINE(&o, "| offset: 0 timestamp: 1700000000000 key_size: 1 "
                "value_size: 1 key: \"k\" value: \"v\" headers: [\"trace\": "
                "\"abc\", \"empty\": \"\", hex:01: null]");
    ASSERT_LINE(&o, "| offset: 1 timestamp: 1700000000001 key_size: 1 "
                "value_size: -1 key: \"k\" value: null headers: []");
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_zlib_batches)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(2, 4000);
    c.compression = CANO_COMPRESSION_ZLIB;
    cano_topic_t *t = tu_create(db, "z", &c);
    for (int b = 0; b < 10; b++) {
        cano_record r[25];
        char v[25][80];
        for (int i = 0; i < 25; i++) {
            snprintf(v[i], sizeof v[i], "compressible value %d %d %d", b, i,
                     b * i);
            r[i] = rec(NULL, 0, v[i], strlen(v[i]), TS + b * 100 + i);
        }
        ck_assert_int_eq(cano_append_batch(t, b % 2, r, 25, NULL), CANO_OK);
    }
    ck_assert_int_eq(cano_close(db), CANO_OK);
    out o = same_dump(NULL, NULL, 0);
    ck_assert_int_eq(count_prefix(&o, "batch: "), 10);
    ck_assert_int_eq(count_prefix(&o, "| offset: "), 250);
    ASSERT_HAS(&o, " attributes: 0x01 compression: zlib ");
    ASSERT_HAS(&o, "value: \"compressible value 9 24 216\"");
    ck_assert_ptr_null(strstr(o.text, "compression: none timestamp"));
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_many_segments_and_index_entries)
{
    build_segments(60);
    out o = same_dump("--index", "--index", 0);
    int segs = count_prefix(&o, "segment: ");
    ck_assert_int_gt(segs, 4);
    ck_assert_int_eq(count_prefix(&o, "index: "), segs);
    ck_assert_int_eq(count_prefix(&o, "timeindex: "), segs);
    ck_assert_int_gt(count_prefix(&o, "| relative_offset: "), 5);
    ck_assert_int_gt(count_prefix(&o, "| timestamp: "), 5);
    ck_assert_int_eq(count_prefix(&o, "| offset: "), 60);
    ASSERT_HAS(&o, "state: sealed");
    ASSERT_HAS(&o, "key: \"key59\" value: "
               "\"value-59-abcdefghijklmnopqrstuvwxyz\"");
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_compacted_topic)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(1, 400);
    c.cleanup_policy = CANO_CLEANUP_COMPACT;
    c.delete_retention_ms = 100LL * 365 * 24 * 3600 * 1000;
    c.index_interval_bytes = 100;
    cano_topic_t *t = tu_create(db, "kv", &c);
    for (int i = 0; i < 60; i++) {
        char k[8], v[16];
        snprintf(k, sizeof k, "k%d", i % 6);
        snprintf(v, sizeof v, "v%d", i);
        append(t, 0, k, v, TS + i * 10);
    }
    append(t, 0, "k2", NULL, TS + 700);     /* the last word on k2 */
    for (int i = 0; i < 30; i++)
        append(t, 0, "k1", "newer", TS + 800 + i);
    ck_assert_int_eq(cano_compact(t, 0), CANO_OK);
    for (int i = 0; i < 12; i++)
        append(t, 0, "k3", "newest", TS + 900 + i);
    ck_assert_int_eq(cano_compact(t, 0), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    out o = same_dump("--index", "--index", 0);
    ASSERT_HAS(&o, "cleanup_policy: compact");
    ASSERT_HAS(&o, " delete_horizon: ");
    ASSERT_HAS(&o, "key: \"k2\" value: null");
    ck_assert_int_eq(count_prefix(&o, "cleaner-offset: "), 1);
    ck_assert_int_lt(count_prefix(&o, "| offset: "), 103);
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_idempotent_producer_batches)
{
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_create(db, "idem", NULL);
    for (int s = 0; s < 4; s++) {
        cano_record r[3] = { rec(NULL, 0, "a", 1, TS + s),
                             rec(NULL, 0, "b", 1, TS + s),
                             rec(NULL, 0, "c", 1, TS + s) };
        ck_assert_int_eq(cano_append_idempotent(t, 0, 77, 100 + 3 * s, r, 3,
                                                NULL), CANO_OK);
    }
    append(t, 0, NULL, "plain", TS + 9);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    out o = same_dump(NULL, NULL, 0);
    ASSERT_HAS(&o, "base_offset: 9 last_offset: 11 count: 3 ");
    ASSERT_HAS(&o, "producer_id: 77 base_sequence: 109 last_sequence: 111 "
               "checksum: ");
    ASSERT_HAS(&o, "base_offset: 12 last_offset: 12 count: 1 ");
    ASSERT_LINE(&o, "producer-state: valid_up_to: 13 batches: 4");
    ASSERT_LINE(&o, "producer: producer_id: 77 sequence: 109 count: 3 "
                "first_offset: 9");
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_log_append_time)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(3, 300);
    c.timestamp_type = CANO_TIMESTAMP_LOG_APPEND_TIME;
    cano_topic_t *t = tu_create(db, "lat", &c);
    int64_t before = tu_now_ms();
    for (int i = 0; i < 24; i++)
        append(t, i % 3, "key", "value", 5);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    out o = same_dump(NULL, NULL, 0);
    ASSERT_HAS(&o, "attributes: 0x08 compression: none timestamp_type: "
               "log-append-time");
    ck_assert_ptr_null(strstr(o.text, " timestamp: 5 "));
    const char *at = strstr(o.text, "| offset: 0 timestamp: ");
    ck_assert_ptr_nonnull(at);      /* the append time, not the caller's */
    ck_assert_int_ge(strtoll(at + 23, NULL, 10), before);
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_after_delete_records)
{
    build_segments(50);
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_topic(db, "d");
    ck_assert_int_eq(cano_delete_records(t, 0, 23), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    out o = same_dump(NULL, NULL, 0);
    ASSERT_LINE(&o, "log-start-offset: 23");
    ck_assert_ptr_null(strstr(o.text, "key: \"key0\""));
    ASSERT_HAS(&o, "key: \"key23\"");
    ASSERT_HAS(&o, "key: \"key49\"");
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_consumer_offsets_topic)
{
    build_man_example();
    cano_t *db = tu_open(store);
    ck_assert_int_eq(cano_commit(db, "g", "t", 0, 2), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    out o = same_dump(NULL, NULL, 0);
    ASSERT_LINE(&o, "topic: __consumer_offsets");
    ASSERT_HAS(&o, "config: __consumer_offsets/topic.conf partitions: 1 "
               "cleanup_policy: compact");
    /* The commit's key: version 1, group "g", topic "t", partition 0. */
    ASSERT_HAS(&o, "key_size: 11 value_size: 17 key: "
               "hex:0101006701007400000000 value: hex:010200000000000000");
    ck_assert(strstr(o.text, "topic: __consumer_offsets") <
              strstr(o.text, "topic: t\n"));
    out_free(&o);
    verify_ok();
}
END_TEST

START_TEST(test_dump_topic_and_partition_filters)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(3, 1000);
    cano_topic_t *a = tu_create(db, "a", &c), *b = tu_create(db, "b", &c);
    for (int32_t p = 0; p < 3; p++) {
        append(a, p, "ka", "va", TS + p);
        append(b, p, "kb", "vb", TS + p);
    }
    ck_assert_int_eq(cano_close(db), CANO_OK);
    out c1 = cano("dump", "--records", "b", "2", NULL);
    out p1 = py(store, "b", "2", NULL);
    ck_assert_int_eq(c1.status, 0);
    ck_assert_str_eq(c1.text, p1.text);
    ck_assert_int_eq(count_prefix(&c1, "partition: "), 1);
    ASSERT_LINE(&c1, "partition: b/2");
    ck_assert_ptr_null(strstr(c1.text, "topic: a"));
    out_free(&c1);
    out_free(&p1);
    out c2 = cano("dump", "a", NULL);
    ck_assert_int_eq(count_prefix(&c2, "partition: a/"), 3);
    ck_assert_int_eq(count_prefix(&c2, "topic: "), 1);
    out_free(&c2);
    out c3 = cano("dump", "nosuch", NULL);
    out p3 = py(store, "nosuch", NULL);
    ck_assert_int_eq(c3.status, 1);
    ck_assert_int_eq(p3.status, 1);
    ck_assert_str_eq(c3.text, p3.text);
    ASSERT_LINE(&c3, "error: nosuch: no such topic");
    out_free(&c3);
    out_free(&p3);
}
END_TEST

START_TEST(test_dump_and_verify_usage)
{
    build_man_example();
    out h = cano("dump", "--help", NULL);
    ck_assert_int_eq(h.status, 0);
    ASSERT_HAS(&h, "Usage: cano DIR dump");
    out_free(&h);
    out bad = cano("dump", "--bogus", NULL);
    ck_assert_int_eq(bad.status, 2);
    out_free(&bad);
    out vh = cano("verify", "--help", NULL);
    ck_assert_int_eq(vh.status, 0);
    ASSERT_HAS(&vh, "Usage: cano DIR verify");
    ASSERT_HAS(&vh, "torn");
    out_free(&vh);
    out vb = cano("verify", "a", "b", NULL);
    ck_assert_int_eq(vb.status, 2);
    out_free(&vb);
    snprintf(store, sizeof store, "%s/missing", dir);
    out m = cano("dump", NULL);
    ck_assert_int_eq(m.status, 1);
    out_free(&m);
    out mv = cano("verify", NULL);
    ck_assert_int_eq(mv.status, 1);
    out_free(&mv);
}
END_TEST

/* ---- the reader's hash ---- */

START_TEST(test_python_xxh3_matches_libxxhash)
{
    /* Every branch of XXH3: the short lengths, the mid sizes, one or more
     * 1024-byte blocks, with and without a partial stripe. */
    static const int lens[] = { 0, 1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 31, 32,
                                33, 64, 65, 96, 97, 127, 128, 129, 200, 239,
                                240, 241, 255, 256, 1023, 1024, 1025, 1088,
                                2048, 2049, 5000, 65537 };
    char prog[16384];
    int n = snprintf(prog, sizeof prog,
                     "import sys, importlib.util as u\n"
                     "s = u.spec_from_file_location('canodump', '%s')\n"
                     "m = u.module_from_spec(s); s.loader.exec_module(m)\n"
                     "for n in (", reader);
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        n += snprintf(prog + n, sizeof prog - (size_t)n, "%d,", lens[i]);
    snprintf(prog + n, sizeof prog - (size_t)n,
             "):\n    print('%%016x' %% m.xxh3_64(bytes((i * 7 + 3) %% 256 "
             "for i in range(n))))\n");
    char *argv[] = { "python3", "-c", prog, NULL };
    out o = run_argv(argv);
    ck_assert_int_eq(o.status, 0);
    const char *p = o.text;
    unsigned char *buf = malloc(65537);
    for (int i = 0; i < 65537; i++)
        buf[i] = (unsigned char)((i * 7 + 3) % 256);
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        char want[17];
        snprintf(want, sizeof want, "%016" PRIx64,
                 (uint64_t)XXH3_64bits(buf, (size_t)lens[i]));
        ck_assert_msg(!strncmp(p, want, 16), "length %d: python %.16s, "
                      "libxxhash %s", lens[i], p, want);
        p = strchr(p, '\n') + 1;
    }
    free(buf);
    out_free(&o);
}
END_TEST

/* ---- verify on stores that are not closed cleanly ---- */

static int crash_child(void *arg)
{
    (void)arg;
    cano_options o;
    cano_options_init(&o, sizeof o);
    o.sync_mode = CANO_SYNC_NONE;
    cano_t *db;
    if (cano_open(store, &o, &db))
        return 1;
    cano_topic_config c;
    cano_topic_config_init(&c, sizeof c);
    c.index_interval_bytes = 100;
    cano_topic_t *t;
    if (cano_topic_create(db, "u", &c) || cano_topic_open(db, "u", &t))
        return 1;
    for (int i = 0; i < 30; i++) {
        char v[32];
        snprintf(v, sizeof v, "value %d", i);
        cano_record r = rec("k", 1, v, strlen(v), TS + i);
        if (cano_append(t, 0, &r, NULL, NULL))
            return 1;
        if (i == 14 && cano_sync(db))
            return 1;
    }
    return 0;                   /* killed by SIGKILL: no close */
}

START_TEST(test_verify_unflushed_torn_tail_is_a_warning)
{
    ck_assert_int_eq(tu_run_child(crash_child, NULL, 1), 0);
    char path[TU_PATH_MAX];
    seg(path, "u", 0, 0, ".log");
    out o = same_dump(NULL, NULL, 0);
    ck_assert_int_eq(count_prefix(&o, "| offset: "), 30);
    ASSERT_LINE(&o, "store: clean-shutdown marker: absent");
    ASSERT_HAS(&o, " zero\n");          /* the preallocated tail */
    out_free(&o);
    verify_ok();
    /* A batch torn by the crash past the flush point. */
    tu_batch_pos last = batch_at(path, 29);
    ck_assert_int_eq(tu_flip_byte(path, last.pos + last.len - 1, 0x40), 0);
    o = same_dump(NULL, NULL, 0);
    ASSERT_HAS(&o, "torn: checksum mismatch");
    ck_assert_int_eq(count_prefix(&o, "| offset: "), 29);
    out_free(&o);
    out v = cano("verify", NULL);
    ck_assert_msg(v.status == 0, "%s", v.text);
    char want[TU_PATH_MAX + 64];
    snprintf(want, sizeof want, "warning: %s: position %" PRId64
             ": offset 29: torn unflushed tail", path, last.pos);
    ASSERT_HAS(&v, want);
    out_free(&v);
    out s = cano("verify", "--strict", NULL);
    ck_assert_int_eq(s.status, 1);
    out_free(&s);
    /* The same damage below the flush point is an error. */
    tu_batch_pos b3 = batch_at(path, 3);
    ck_assert_int_eq(tu_flip_byte(path, b3.pos + b3.len - 1, 0x40), 0);
    v = cano("verify", NULL);
    ck_assert_int_eq(v.status, 1);
    snprintf(want, sizeof want, "error: %s: position %" PRId64 ": offset 3: "
             "batch checksum mismatch", path, b3.pos);
    ASSERT_HAS(&v, want);
    out_free(&v);
}
END_TEST

START_TEST(test_verify_and_dump_work_while_the_store_is_open)
{
    cano_t *db = tu_open(store);
    cano_topic_config c = tu_config(2, 500);
    c.index_interval_bytes = 100;
    cano_topic_t *t = tu_create(db, "open", &c);
    for (int i = 0; i < 40; i++)
        append(t, i % 2, "key", "a value that fills the segments", TS + i);
    /* The store is locked by this process: the tools read it anyway. */
    out v = cano("verify", NULL);
    ck_assert_msg(v.status == 0, "%s", v.text);
    if (access("/proc/locks", R_OK) == 0) {    /* how the owner is found */
        ASSERT_HAS(&v, "note: ");
        ASSERT_HAS(&v, " is open in process ");
    }
    ASSERT_HAS(&v, "segments: ");
    out_free(&v);
    out d = cano("dump", "--records", NULL);
    ck_assert_int_eq(d.status, 0);
    ASSERT_LINE(&d, "store: clean-shutdown marker: absent");
    ck_assert_int_eq(count_prefix(&d, "| offset: "), 40);
    out_free(&d);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    verify_ok();
}
END_TEST

/* ---- damage ---- */

/* verify exits 1 and says want (a line fragment) about file `path`. */
static void verify_finds(const char *path, const char *want)
{
    out v = cano("verify", NULL);
    char line[TU_PATH_MAX + 256];
    snprintf(line, sizeof line, "error: %s: %s", path, want);
    ck_assert_msg(v.status == 1, "verify exit %d:\n%s", v.status, v.text);
    ASSERT_HAS(&v, line);
    ck_assert_msg(!strstr(v.text, " errors: 0 "), "%s", v.text);
    out_free(&v);
}

START_TEST(test_damage_batch_payload)
{
    build_segments(30);
    char path[TU_PATH_MAX], want[256];
    tu_batch_pos b = batch_at(seg(path, "d", 0, 0, ".log"), 2);
    ck_assert_int_eq(tu_flip_byte(path, b.pos + b.len - 3, 0x01), 0);
    snprintf(want, sizeof want, "position %" PRId64 ": offset %" PRId64
             ": batch checksum mismatch (stored ", b.pos, b.base_offset);
    verify_finds(path, want);
    /* Both readers see the bad checksum, alike, and skip the batch. */
    out o = same_dump(NULL, NULL, 1);
    ASSERT_HAS(&o, " BAD (computed ");
    snprintf(want, sizeof want, "error: d/0/00000000000000000000.log: "
             "position %" PRId64 ": offset %" PRId64 ": checksum mismatch",
             b.pos, b.base_offset);
    ASSERT_HAS(&o, want);
    ck_assert_int_eq(count_prefix(&o, "| offset: "), 29);
    out_free(&o);
}
END_TEST

START_TEST(test_damage_batch_header)
{
    build_segments(30);
    char path[TU_PATH_MAX], want[256];
    tu_batch_pos b = batch_at(seg(path, "d", 0, 0, ".log"), 1);
    ck_assert_int_eq(tu_flip_byte(path, b.pos + 26, 0x10), 0); /* base_ts */
    snprintf(want, sizeof want, "position %" PRId64 ": offset %" PRId64
             ": batch checksum mismatch", b.pos, b.base_offset);
    verify_finds(path, want);
    out o = same_dump(NULL, NULL, 1);
    out_free(&o);
    out p = py(store, NULL);
    ck_assert_int_eq(p.status, 1);
    ASSERT_HAS(&p, "BAD");
    out_free(&p);
}
END_TEST

START_TEST(test_damage_batch_length_field)
{
    build_segments(30);
    char path[TU_PATH_MAX], want[256];
    tu_batch_pos b = batch_at(seg(path, "d", 0, 0, ".log"), 1);
    ck_assert_int_eq(tu_flip_byte(path, b.pos + 9, 0x7f), 0);
    snprintf(want, sizeof want, "position %" PRId64 ": the data ends before "
             "the flush point", b.pos);
    verify_finds(path, want);
    out o = same_dump(NULL, NULL, 1);
    ASSERT_HAS(&o, "runs past the end of the file");
    out_free(&o);
}
END_TEST

START_TEST(test_damage_truncated_segment)
{
    build_segments(30);
    char path[TU_PATH_MAX], want[256];
    tu_batch_pos b = batch_at(seg(path, "d", 0, 0, ".log"), 2);
    ck_assert_int_eq(tu_truncate(path, b.pos + b.len / 2), 0);
    snprintf(want, sizeof want, "position %" PRId64 ": the data ends before "
             "the flush point", b.pos);
    verify_finds(path, want);
    verify_finds(path, "position 24: flushed_len ");
    out o = same_dump(NULL, NULL, 1);
    ASSERT_HAS(&o, "is beyond the end of the file");
    out_free(&o);
}
END_TEST

START_TEST(test_damage_truncated_active_segment_after_clean_close)
{
    build_segments(30);
    int64_t *bases;
    int n = tu_segment_bases(store, "d", 0, &bases);
    ck_assert_int_gt(n, 1);
    char path[TU_PATH_MAX], want[256];
    seg(path, "d", 0, bases[n - 1], ".log");
    free(bases);
    tu_batch_pos b = batch_at(path, 0);
    ck_assert_int_eq(tu_truncate(path, b.pos + 40), 0);
    snprintf(want, sizeof want, "position %" PRId64 ": the data ends before "
             "the flush point", b.pos);
    verify_finds(path, want);
    out o = same_dump(NULL, NULL, 1);
    out_free(&o);
}
END_TEST

START_TEST(test_damage_segment_header)
{
    build_segments(30);
    char path[TU_PATH_MAX];
    seg(path, "d", 0, 0, ".log");
    ck_assert_int_eq(tu_flip_byte(path, 30, 0x01), 0);   /* flushed_len */
    verify_finds(path, "position 0: segment header: header checksum "
                 "mismatch");
    out o = same_dump(NULL, NULL, 1);
    ASSERT_HAS(&o, "error: d/0/00000000000000000000.log: position 0: header "
               "checksum mismatch");
    out_free(&o);
}
END_TEST

START_TEST(test_damage_offset_index_entry)
{
    build_segments(30);
    char path[TU_PATH_MAX];
    seg(path, "d", 0, 0, ".index");
    ck_assert_int_ge(tu_file_size(path), 24);
    ck_assert_int_eq(tu_flip_byte(path, 16 + 4, 0x02), 0);  /* position */
    verify_finds(path, "position 16: offset ");
    out v = cano("verify", NULL);
    ASSERT_HAS(&v, "which is not the start of a batch");
    out_free(&v);
    /* dump shows the entries as they are; it does not judge them. */
    out o = same_dump("--index", "--index", 0);
    out_free(&o);
}
END_TEST

START_TEST(test_damage_offset_index_wrong_offset)
{
    build_segments(30);
    char path[TU_PATH_MAX];
    seg(path, "d", 0, 0, ".index");
    ck_assert_int_ge(tu_file_size(path), 24);
    ck_assert_int_eq(tu_flip_byte(path, 16, 0x40), 0);  /* relative offset */
    verify_finds(path, "position 16: offset ");
    out v = cano("verify", NULL);
    ASSERT_HAS(&v, "but the batch at position");
    out_free(&v);
}
END_TEST

START_TEST(test_damage_time_index_entry)
{
    build_segments(30);
    char path[TU_PATH_MAX];
    seg(path, "d", 0, 0, ".timeindex");
    ck_assert_int_ge(tu_file_size(path), 28);
    ck_assert_int_eq(tu_flip_byte(path, 16, 0x04), 0);  /* timestamp */
    verify_finds(path, "position 16: offset ");
    out v = cano("verify", NULL);
    ASSERT_HAS(&v, "not the largest timestamp before offset");
    out_free(&v);
}
END_TEST

START_TEST(test_damage_topic_conf)
{
    build_segments(10);
    char path[TU_PATH_MAX];
    tu_path(path, "%s/d/topic.conf", store);
    ck_assert_int_eq(tu_flip_byte(path, 40, 0x01), 0);
    verify_finds(path, "checksum mismatch (stored ");
    out o = same_dump(NULL, NULL, 1);
    ASSERT_LINE(&o, "error: d/topic.conf: checksum mismatch");
    out_free(&o);
    /* A config that passes its checksum but is not valid. */
    char text[] = "cano-topic-config=1\npartitions=0\n";
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%schecksum=%016" PRIx64 "\n", text,
                     (uint64_t)XXH3_64bits(text, strlen(text)));
    ck_assert_int_eq(tu_write_file(path, buf, (size_t)n), 0);
    verify_finds(path, "invalid, cano_open fails with CANO_ECORRUPT");
}
END_TEST

START_TEST(test_damage_state_files)
{
    build_segments(30);
    cano_t *db = tu_open(store);
    ck_assert_int_eq(cano_delete_records(tu_topic(db, "d"), 0, 5), CANO_OK);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    verify_ok();
    char path[TU_PATH_MAX];
    tu_path(path, "%s/d/0/log-start-offset", store);
    ck_assert_int_eq(tu_write_file(path, "cano-log-start=1\n5x\n", 20), 0);
    verify_finds(path, "malformed");
    out o = same_dump(NULL, NULL, 1);
    out_free(&o);
    ck_assert_int_eq(tu_write_file(path, "cano-log-start=1\n5\n", 19), 0);
    tu_path(path, "%s/d/0/compaction.manifest", store);
    ck_assert_int_eq(tu_write_file(path, "cano-compaction=1\nold x\n", 24), 0);
    verify_finds(path, "line 2 is malformed");
    ck_assert_int_eq(tu_write_file(path, "cano-compaction=1\nold 0\nnew 0\n",
                                   30), 0);
    out v = cano("verify", NULL);
    ck_assert_int_eq(v.status, 0);
    ASSERT_HAS(&v, "warning: ");
    ASSERT_HAS(&v, "compaction.manifest: a committed compaction");
    out_free(&v);
}
END_TEST

START_TEST(test_verify_topic_argument_checks_only_that_topic)
{
    build_segments(20);
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_create(db, "other", NULL);
    append(t, 0, "k", "v", TS);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    char path[TU_PATH_MAX];
    tu_batch_pos b = batch_at(seg(path, "d", 0, 0, ".log"), 0);
    ck_assert_int_eq(tu_flip_byte(path, b.pos + b.len - 1, 0x01), 0);
    out v = cano("verify", "other", NULL);
    ck_assert_msg(v.status == 0, "%s", v.text);
    ASSERT_HAS(&v, "summary: topics: 1 partitions: 1 segments: 1 batches: 1 "
               "records: 1 ");
    out_free(&v);
    v = cano("verify", "d", NULL);
    ck_assert_int_eq(v.status, 1);
    out_free(&v);
    v = cano("verify", "nosuch", NULL);
    ck_assert_int_eq(v.status, 1);
    out_free(&v);
}
END_TEST

START_TEST(test_verify_summary_counts)
{
    build_segments(40);
    out v = cano("verify", NULL);
    ck_assert_int_eq(v.status, 0);
    int64_t bases_bytes = tu_log_data_bytes(store, "d", 0);
    int64_t *bases;
    int n = tu_segment_bases(store, "d", 0, &bases);
    free(bases);
    char want[256];
    snprintf(want, sizeof want, "summary: topics: 1 partitions: 1 segments: "
             "%d batches: 40 records: 40 bytes: ", n);
    ASSERT_HAS(&v, want);
    const char *b = strstr(v.text, " bytes: ");
    ck_assert_int_gt(strtoll(b + 8, NULL, 10), bases_bytes);
    ASSERT_HAS(&v, " errors: 0 warnings: 0 clean-shutdown marker: present");
    out_free(&v);
}
END_TEST

static Suite *dump_suite(void)
{
    Suite *s = suite_create("dump");
    TCase *tc = tcase_create("dump");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_dump_man_example_exact_lines);
    tcase_add_test(tc, test_dump_without_records_shows_no_records);
    tcase_add_test(tc, test_dump_order_of_topics_partitions_segments);
    tcase_add_test(tc, test_dump_keys_values_escaping_and_binary);
    tcase_add_test(tc, test_dump_headers_and_tombstones);
    tcase_add_test(tc, test_dump_zlib_batches);
    tcase_add_test(tc, test_dump_many_segments_and_index_entries);
    tcase_add_test(tc, test_dump_compacted_topic);
    tcase_add_test(tc, test_dump_idempotent_producer_batches);
    tcase_add_test(tc, test_dump_log_append_time);
    tcase_add_test(tc, test_dump_after_delete_records);
    tcase_add_test(tc, test_dump_consumer_offsets_topic);
    tcase_add_test(tc, test_dump_topic_and_partition_filters);
    tcase_add_test(tc, test_dump_and_verify_usage);
    tcase_add_test(tc, test_python_xxh3_matches_libxxhash);
    suite_add_tcase(s, tc);

    tc = tcase_create("verify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_verify_unflushed_torn_tail_is_a_warning);
    tcase_add_test(tc, test_verify_and_dump_work_while_the_store_is_open);
    tcase_add_test(tc, test_verify_topic_argument_checks_only_that_topic);
    tcase_add_test(tc, test_verify_summary_counts);
    suite_add_tcase(s, tc);

    tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_damage_batch_payload);
    tcase_add_test(tc, test_damage_batch_header);
    tcase_add_test(tc, test_damage_batch_length_field);
    tcase_add_test(tc, test_damage_truncated_segment);
    tcase_add_test(tc, test_damage_truncated_active_segment_after_clean_close);
    tcase_add_test(tc, test_damage_segment_header);
    tcase_add_test(tc, test_damage_offset_index_entry);
    tcase_add_test(tc, test_damage_offset_index_wrong_offset);
    tcase_add_test(tc, test_damage_time_index_entry);
    tcase_add_test(tc, test_damage_topic_conf);
    tcase_add_test(tc, test_damage_state_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    cli = getenv("CANO_CLI");
    const char *top = getenv("CANO_TOP");
    if (!cli || !*cli || !top || !*top) {
        fprintf(stderr, "check_dump: set CANO_CLI to the built cano command "
                "and CANO_TOP to the top of the source tree (make check "
                "does): CANO_CLI=$PWD/build/bin/cano CANO_TOP=$PWD "
                "./build/test/check_dump\n");
        return 1;
    }
    if (access(cli, X_OK) != 0) {
        fprintf(stderr, "check_dump: CANO_CLI=%s: %s\n", cli,
                strerror(errno));
        return 1;
    }
    snprintf(reader, sizeof reader, "%s/examples/python/canodump.py", top);
    if (access(reader, R_OK) != 0) {
        fprintf(stderr, "check_dump: %s: %s\n", reader, strerror(errno));
        return 1;
    }
    SRunner *sr = srunner_create(dump_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
