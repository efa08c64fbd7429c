/* check_bridge.c - tests of examples/kafka_bridge against librdkafka's
 * built-in mock cluster.
 *
 * Each test builds a store with the public API, starts a mock Kafka cluster
 * in this process, runs the bridge (the binary named by $CANO_BRIDGE) as a
 * child process against it, consumes the Kafka topic back with a librdkafka
 * consumer and compares record by record: key, value, headers, timestamp,
 * partition and order.  It then reopens the store to check the bridge's
 * consumer-group commits.
 *
 * Run: CANO_BRIDGE=$PWD/build/examples/kafka_bridge ./build/test/check_bridge
 * (CHECK_BRIDGE_VERBOSE=1 also prints the output of every bridge run).
 */
#define _GNU_SOURCE             /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include "testutil.h"

extern char **environ;

#define TOPIC        "events"
#define PARTS        3
#define GROUP        "kafka-bridge"    /* the bridge's default group */
#define TS_BASE      1700000000000LL
#define RUN_LIMIT_MS 60000             /* a bridge run taking longer fails */
#define PRODUCE_API  0                 /* Kafka's ApiKey of Produce */

static const char *bridge_bin;
static char dir[TU_PATH_MAX];           /* fresh per test */
static char store[TU_PATH_MAX];         /* dir/store */
static char log_path[TU_PATH_MAX];      /* the last run's stdout + stderr */

/* ---- The records: record i of partition p, all different ---- */

typedef struct gen_rec {
    char key[32];
    unsigned char value[64];
    char trace[32];
    cano_header headers[3];
    cano_record rec;
} gen_rec;

static int64_t gen_ts(int32_t p, int64_t i)
{
    return TS_BASE + p * 1000000LL + i * 10;
}

/* Covers: keyless records, empty keys, binary values with zero bytes,
 * empty values, tombstones, records without headers, a header without a
 * value, a binary header value, and a distinct timestamp per record. */
static const cano_record *gen(gen_rec *g, int32_t p, int64_t i)
{
    static const unsigned char bin[] = { 0x00, 0x01, 0xff, 0x00 };
    memset(g, 0, sizeof *g);
    cano_record *r = &g->rec;
    if (i % 7 != 3) {
        r->key = g->key;
        r->key_len = i % 11 == 5 ? 0 : (size_t)snprintf(
            g->key, sizeof g->key, "key-%d-%lld", (int)p, (long long)i);
    }
    if (i % 13 != 6) {
        size_t len = i % 17 == 8 ? 0 : (size_t)((i * 7 + p) % 60) + 1;
        for (size_t k = 0; k < len; k++)
            g->value[k] = (unsigned char)((k * 31 + (size_t)i * 7 +
                                           (size_t)p) & 0xff);
        if (len > 2)
            g->value[1] = 0x00;          /* a zero byte inside */
        r->value = g->value;
        r->value_len = len;
    }
    if (i % 3 != 0) {
        size_t n = 0;
        g->headers[n].name = "trace";
        g->headers[n].name_len = 5;
        g->headers[n].value = g->trace;
        g->headers[n++].value_len = (size_t)snprintf(
            g->trace, sizeof g->trace, "t-%d-%lld", (int)p, (long long)i);
        g->headers[n].name = "no-value";
        g->headers[n].name_len = 8;
        g->headers[n].value = NULL;
        g->headers[n++].value_len = 0;
        if (i % 3 == 2) {
            g->headers[n].name = "bin";
            g->headers[n].name_len = 3;
            g->headers[n].value = bin;
            g->headers[n++].value_len = sizeof bin;
        }
        r->headers = g->headers;
        r->header_count = n;
    }
    r->timestamp = gen_ts(p, i);
    return r;
}

/* Appends records [from, to) of every partition to the store. */
static void append_records(int64_t from, int64_t to)
{
    cano_t *db = tu_open(store);
    cano_topic_t *t;
    int rc = cano_topic_open(db, TOPIC, &t);
    if (rc == CANO_ENOTFOUND) {
        cano_topic_config cfg = tu_config(PARTS, 0);
        t = tu_create(db, TOPIC, &cfg);
    } else {
        ck_assert_int_eq(rc, CANO_OK);
    }
    for (int32_t p = 0; p < PARTS; p++)
        for (int64_t i = from; i < to; i++) {
            gen_rec g;
            int64_t off;
            rc = cano_append(t, p, gen(&g, p, i), NULL, &off);
            ck_assert_msg(rc == CANO_OK, "append: %s", cano_last_errmsg());
            ck_assert_int_eq(off, i);
        }
    ck_assert_int_eq(cano_close(db), CANO_OK);
}

/* The group's committed offset of partition p, or -1 when none. */
static int64_t committed(const char *group, int32_t p)
{
    cano_t *db = tu_open(store);
    int64_t off = -2;
    int rc = cano_committed(db, group, TOPIC, p, &off);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    if (rc == CANO_ENOTFOUND)
        return -1;
    ck_assert_msg(rc == CANO_OK, "cano_committed = %d", rc);
    return off;
}

/* ---- The mock cluster ---- */

typedef struct mock {
    rd_kafka_t *rk;                  /* the handle that owns the cluster */
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps;
} mock;

static void mock_start(mock *m)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The owner handle never connects anywhere: keep it quiet. */
    ck_assert_int_eq(rd_kafka_conf_set(conf, "log_level", "2", err,
                                       sizeof err), RD_KAFKA_CONF_OK);
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ck_assert_msg(m->rk != NULL, "rd_kafka_new: %s", err);
    m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
    ck_assert_ptr_nonnull(m->mc);
    m->bootstraps = rd_kafka_mock_cluster_bootstraps(m->mc);
}

static void mock_topic(mock *m, const char *name, int partitions)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(m->mc, name, partitions, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void mock_stop(mock *m)
{
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->rk);
}

/* ---- Consuming the Kafka topic back ---- */

typedef struct kmsg {
    int32_t partition;
    int64_t offset;
    void *key;   size_t key_len;      /* key NULL: none */
    void *value; size_t value_len;    /* value NULL: null (tombstone) */
    rd_kafka_headers_t *headers;      /* NULL: none */
    int64_t timestamp;
    rd_kafka_timestamp_type_t ts_type;
} kmsg;

typedef struct kpart {
    kmsg *v;
    size_t n;
} kpart;

static void *dup_mem(const void *p, size_t len)
{
    if (!p)
        return NULL;
    void *d = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(d);
    memcpy(d, p, len);
    return d;
}

static rd_kafka_t *consumer_new(const mock *m)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {
        { "bootstrap.servers", m->bootstraps },
        { "group.id", "check-bridge" },
        { "enable.auto.commit", "false" },
        { "enable.partition.eof", "false" },
        { "auto.offset.reset", "earliest" },
        { "fetch.wait.max.ms", "50" },
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        ck_assert_msg(rd_kafka_conf_set(conf, props[i][0], props[i][1], err,
                                        sizeof err) == RD_KAFKA_CONF_OK,
                      "%s: %s", props[i][0], err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    ck_assert_msg(rk != NULL, "rd_kafka_new: %s", err);
    return rk;
}

/* The number of messages in a partition (its high watermark). */
static int64_t kafka_count(rd_kafka_t *rk, const char *topic, int32_t p)
{
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        rk, topic, p, &lo, &hi, 5000);
    ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "watermarks: %s",
                  rd_kafka_err2str(err));
    ck_assert_int_eq(lo, 0);
    return hi;
}

/* Reads every message of partitions [0, n_parts) of topic into out[p]. */
static void consume_all(const mock *m, const char *topic, int n_parts,
                        kpart *out)
{
    rd_kafka_t *rk = consumer_new(m);
    int64_t want[16], total = 0;
    ck_assert_int_le(n_parts, 16);
    rd_kafka_topic_partition_list_t *tps =
        rd_kafka_topic_partition_list_new(n_parts);
    for (int p = 0; p < n_parts; p++) {
        want[p] = kafka_count(rk, topic, p);
        total += want[p];
        out[p].n = 0;
        out[p].v = calloc((size_t)want[p] + 1, sizeof *out[p].v);
        ck_assert_ptr_nonnull(out[p].v);
        rd_kafka_topic_partition_list_add(tps, topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    ck_assert_int_eq(rd_kafka_assign(rk, tps), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(tps);

    int64_t got = 0, deadline = tu_now_ms() + 20000;
    while (got < total) {
        ck_assert_msg(tu_now_ms() < deadline, "consumed %lld of %lld "
                      "messages", (long long)got, (long long)total);
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (!msg)
            continue;
        ck_assert_msg(msg->err == RD_KAFKA_RESP_ERR_NO_ERROR, "consume: %s",
                      rd_kafka_message_errstr(msg));
        int32_t p = msg->partition;
        ck_assert(p >= 0 && p < n_parts);
        ck_assert_msg((int64_t)out[p].n < want[p], "more messages than the "
                      "high watermark in partition %d", (int)p);
        kmsg *k = &out[p].v[out[p].n++];
        k->partition = p;
        k->offset = msg->offset;
        k->key = dup_mem(msg->key, msg->key_len);
        k->key_len = msg->key_len;
        k->value = dup_mem(msg->payload, msg->len);
        k->value_len = msg->len;
        rd_kafka_headers_t *h;
        if (rd_kafka_message_headers(msg, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
            k->headers = rd_kafka_headers_copy(h);
        k->timestamp = rd_kafka_message_timestamp(msg, &k->ts_type);
        rd_kafka_message_destroy(msg);
        got++;
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void kparts_free(kpart *parts, int n_parts)
{
    for (int p = 0; p < n_parts; p++) {
        for (size_t i = 0; i < parts[p].n; i++) {
            free(parts[p].v[i].key);
            free(parts[p].v[i].value);
            if (parts[p].v[i].headers)
                rd_kafka_headers_destroy(parts[p].v[i].headers);
        }
        free(parts[p].v);
        parts[p].v = NULL;
        parts[p].n = 0;
    }
}

static int mem_eq(const void *a, size_t a_len, const void *b, size_t b_len)
{
    if (!a || !b)
        return a == b;
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

/* Asserts that a Kafka message is exactly record i of partition p. */
static void assert_msg_is(const kmsg *k, int32_t p, int64_t i)
{
    gen_rec g;
    const cano_record *r = gen(&g, p, i);
    ck_assert_int_eq(k->partition, p);
    ck_assert_msg(k->ts_type == RD_KAFKA_TIMESTAMP_CREATE_TIME &&
                  k->timestamp == r->timestamp,
                  "partition %d record %lld: timestamp %lld (type %d), "
                  "expected %lld", (int)p, (long long)i,
                  (long long)k->timestamp, (int)k->ts_type,
                  (long long)r->timestamp);
    ck_assert_msg(mem_eq(k->key, k->key_len, r->key, r->key_len),
                  "partition %d record %lld: key differs (%s)", (int)p,
                  (long long)i, k->key ? "present" : "none");
    ck_assert_msg(mem_eq(k->value, k->value_len, r->value, r->value_len),
                  "partition %d record %lld: value differs (%s, %zu bytes)",
                  (int)p, (long long)i, k->value ? "present" : "null",
                  k->value_len);
    size_t n = k->headers ? rd_kafka_header_cnt(k->headers) : 0;
    ck_assert_msg(n == r->header_count, "partition %d record %lld: %zu "
                  "headers, expected %zu", (int)p, (long long)i, n,
                  r->header_count);
    for (size_t h = 0; h < n; h++) {
        const char *name;
        const void *value;
        size_t size;
        ck_assert_int_eq(rd_kafka_header_get_all(k->headers, h, &name,
                                                 &value, &size),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        const cano_header *want = &r->headers[h];
        ck_assert(strlen(name) == want->name_len &&
                  memcmp(name, want->name, want->name_len) == 0);
        ck_assert_msg(mem_eq(value, size, want->value, want->value_len),
                      "partition %d record %lld: header %s differs",
                      (int)p, (long long)i, name);
    }
}

/* Asserts that each Kafka partition holds exactly records [0, n[p]). */
static void assert_kafka_exact(const mock *m, const char *topic,
                               const int64_t *n)
{
    kpart got[PARTS];
    consume_all(m, topic, PARTS, got);
    for (int32_t p = 0; p < PARTS; p++) {
        ck_assert_msg((int64_t)got[p].n == n[p], "Kafka partition %d holds "
                      "%zu messages, expected %lld", (int)p, got[p].n,
                      (long long)n[p]);
        for (size_t i = 0; i < got[p].n; i++) {
            ck_assert_int_eq(got[p].v[i].offset, (int64_t)i);
            assert_msg_is(&got[p].v[i], p, (int64_t)i);
        }
    }
    kparts_free(got, PARTS);
}

/* Everything forwarded: Kafka holds exactly n[p] records of partition p,
 * and the bridge's group has committed the end of each partition. */
static void assert_forwarded(const mock *m, const int64_t n[PARTS])
{
    assert_kafka_exact(m, TOPIC, n);
    for (int32_t p = 0; p < PARTS; p++)
        ck_assert_int_eq(committed(GROUP, p), n[p]);
}

/* The record index of a message (timestamps are distinct), or -1. */
static int64_t msg_index(const kmsg *k)
{
    int64_t i = (k->timestamp - gen_ts(k->partition, 0)) / 10;
    return i >= 0 && k->timestamp == gen_ts(k->partition, i) ? i : -1;
}

/* ---- Running the bridge ---- */

/* Starts the bridge with args (NULL-terminated, without argv[0]); its
 * stdout and stderr go to log_path. */
static pid_t bridge_start(const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = bridge_bin;
    for (; *args; args++) {
        ck_assert_uint_lt(n, 31);
        argv[n++] = *args;
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
    ck_assert_int_eq(posix_spawn_file_actions_addopen(
        &fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
    ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, 1, 2), 0);
    pid_t pid;
    int rc = posix_spawn(&pid, bridge_bin, &fa, NULL, (char *const *)argv,
                         environ);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(rc == 0, "cannot start %s: %s", bridge_bin, strerror(rc));
    return pid;
}

/* Prints the bridge's output, to make a failure readable. */
static void show_log(void)
{
    size_t len = 0;
    unsigned char *text = tu_read_file(log_path, &len);
    if (text) {
        fprintf(stderr, "---- bridge output ----\n%.*s-----------------------"
                "\n", (int)len, (const char *)text);
        free(text);
    }
}

/* Waits for the bridge; returns its exit status (128+n for signal n). */
static int bridge_wait(pid_t pid)
{
    int64_t deadline = tu_now_ms() + RUN_LIMIT_MS;
    int status;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        ck_assert_msg(w == 0 || errno == EINTR, "waitpid: %s",
                      strerror(errno));
        if (tu_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            show_log();
            ck_abort_msg("the bridge ran longer than %d ms", RUN_LIMIT_MS);
        }
        tu_sleep_ms(10);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status)
                             : 128 + WTERMSIG(status);
}

/* Runs the bridge to its end; asserts its exit status. */
static void bridge_run(const char *const *args, int want_status)
{
    int status = bridge_wait(bridge_start(args));
    if (status != want_status || getenv("CHECK_BRIDGE_VERBOSE"))
        show_log();
    ck_assert_msg(status == want_status, "bridge exit status %d, expected "
                  "%d", status, want_status);
}

static int log_has(const char *needle)
{
    size_t len = 0;
    unsigned char *text = tu_read_file(log_path, &len);
    ck_assert_ptr_nonnull(text);
    int found = memmem(text, len, needle, strlen(needle)) != NULL;
    free(text);
    if (!found)
        show_log();
    return found;
}

/* A local TCP port nothing listens on: connecting to it is refused. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- Fixture ---- */

static void setup(void)
{
    ck_assert_int_eq(tu_mkdtemp(dir, sizeof dir), 0);
    tu_path(store, "%s/store", dir);
    tu_path(log_path, "%s/bridge.log", dir);
}

static void teardown(void)
{
    tu_rmtree(dir);
}

/* ---- Tests ---- */

START_TEST(test_bridge_forwards_every_partition_exactly)
{
    const int64_t n[PARTS] = { 40, 40, 40 };
    append_records(0, 40);
    mock m;
    mock_start(&m);
    mock_topic(&m, TOPIC, PARTS);
    const char *args[] = { "--brokers", m.bootstraps, store, TOPIC, NULL };
    bridge_run(args, 0);
    assert_forwarded(&m, n);
    mock_stop(&m);
}
END_TEST

START_TEST(test_bridge_forwards_chosen_partitions_only)
{
    const int64_t n[PARTS] = { 25, 0, 25 };
    append_records(0, 25);
    mock m;
    mock_start(&m);
    mock_topic(&m, "remote", PARTS + 1);     /* more partitions is fine */
    const char *args[] = { "--brokers", m.bootstraps, "--partitions", "2,0",
                           "--kafka-topic", "remote", "--group", "g2",
                           store, TOPIC, NULL };
    bridge_run(args, 0);
    assert_kafka_exact(&m, "remote", n);
    ck_assert_int_eq(committed("g2", 0), 25);
    ck_assert_int_eq(committed("g2", 1), -1);
    ck_assert_int_eq(committed("g2", 2), 25);
    ck_assert_int_eq(committed(GROUP, 0), -1);
    mock_stop(&m);
}
END_TEST

START_TEST(test_bridge_resume_sends_only_new_records)
{
    append_records(0, 20);
    mock m;
    mock_start(&m);
    mock_topic(&m, TOPIC, PARTS);
    const char *args[] = { "--brokers", m.bootstraps, store, TOPIC, NULL };
    bridge_run(args, 0);
    append_records(20, 33);
    bridge_run(args, 0);
    const int64_t n[PARTS] = { 33, 33, 33 };
    assert_forwarded(&m, n);
    /* A third run has nothing to send. */
    bridge_run(args, 0);
    assert_kafka_exact(&m, TOPIC, n);
    mock_stop(&m);
}
END_TEST

START_TEST(test_bridge_refuses_kafka_topic_with_too_few_partitions)
{
    append_records(0, 10);
    mock m;
    mock_start(&m);
    mock_topic(&m, TOPIC, PARTS - 1);
    const char *args[] = { "--brokers", m.bootstraps, store, TOPIC, NULL };
    bridge_run(args, 1);
    ck_assert(log_has("has 2 partitions, fewer than the 3"));
    rd_kafka_t *rk = consumer_new(&m);
    for (int32_t p = 0; p < PARTS - 1; p++)
        ck_assert_int_eq(kafka_count(rk, TOPIC, p), 0);
    rd_kafka_destroy(rk);
    for (int32_t p = 0; p < PARTS; p++)
        ck_assert_int_eq(committed(GROUP, p), -1);
    mock_stop(&m);
}
END_TEST

START_TEST(test_bridge_refuses_missing_kafka_topic)
{
    append_records(0, 5);
    mock m;
    mock_start(&m);
    const char *args[] = { "--brokers", m.bootstraps, "--kafka-topic",
                           "absent", store, TOPIC, NULL };
    bridge_run(args, 1);
    ck_assert(log_has("'absent' does not exist"));
    for (int32_t p = 0; p < PARTS; p++)
        ck_assert_int_eq(committed(GROUP, p), -1);
    mock_stop(&m);
}
END_TEST

START_TEST(test_bridge_unreachable_broker_commits_nothing)
{
    append_records(0, 15);
    char brokers[64];
    snprintf(brokers, sizeof brokers, "127.0.0.1:%d", closed_port());
    const char *args[] = { "--brokers", brokers, "-X",
                           "message.timeout.ms=1500", store, TOPIC, NULL };
    int64_t t0 = tu_now_ms();
    bridge_run(args, 1);
    ck_assert_int_lt(tu_now_ms() - t0, 15000);
    ck_assert(log_has("kafka_bridge: "));
    for (int32_t p = 0; p < PARTS; p++)
        ck_assert_int_eq(committed(GROUP, p), -1);

    /* At least once: a run against a working cluster sends everything. */
    mock m;
    mock_start(&m);
    mock_topic(&m, TOPIC, PARTS);
    const char *args2[] = { "--brokers", m.bootstraps, store, TOPIC, NULL };
    bridge_run(args2, 0);
    const int64_t n[PARTS] = { 15, 15, 15 };
    assert_forwarded(&m, n);
    mock_stop(&m);
}
END_TEST

/* Kafka refuses produce requests after the first few: the bridge exits 1,
 * and every record below a committed offset is in Kafka.  A second run
 * sends the rest; records acknowledged but not committed may come twice. */
START_TEST(test_bridge_delivery_failure_commits_only_acknowledged)
{
    const int64_t total = 300;
    append_records(0, total);
    mock m;
    mock_start(&m);
    mock_topic(&m, TOPIC, PARTS);
    rd_kafka_resp_err_t errs[64];
    for (size_t i = 0; i < 64; i++)
        errs[i] = i < 2 ? RD_KAFKA_RESP_ERR_NO_ERROR
                        : RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
    rd_kafka_mock_push_request_errors_array(m.mc, PRODUCE_API, 64, errs);
    const char *args[] = { "--brokers", m.bootstraps, "-X", "linger.ms=0",
                           "-X", "batch.num.messages=10",
                           "-X", "message.timeout.ms=3000", store, TOPIC,
                           NULL };
    bridge_run(args, 1);
    ck_assert(log_has("failed"));

    int64_t first[PARTS];
    kpart got[PARTS];
    consume_all(&m, TOPIC, PARTS, got);
    for (int32_t p = 0; p < PARTS; p++) {
        int64_t c = committed(GROUP, p);
        ck_assert_int_lt(c, total);      /* the failure stopped the commit */
        first[p] = c < 0 ? 0 : c;
        /* Every committed record was delivered. */
        for (int64_t i = 0; i < first[p]; i++) {
            size_t k = 0;
            while (k < got[p].n && msg_index(&got[p].v[k]) != i)
                k++;
            ck_assert_msg(k < got[p].n, "partition %d: record %lld is "
                          "committed but not in Kafka", (int)p, (long long)i);
            assert_msg_is(&got[p].v[k], p, i);
        }
    }
    kparts_free(got, PARTS);

    rd_kafka_mock_clear_request_errors(m.mc, PRODUCE_API);
    const char *args2[] = { "--brokers", m.bootstraps, store, TOPIC, NULL };
    bridge_run(args2, 0);
    consume_all(&m, TOPIC, PARTS, got);
    for (int32_t p = 0; p < PARTS; p++) {
        ck_assert_int_eq(committed(GROUP, p), total);
        /* The second run appended records first[p].. in order. */
        int64_t resent = total - first[p];
        ck_assert_int_ge((int64_t)got[p].n, resent);
        size_t base = got[p].n - (size_t)resent;
        for (int64_t i = 0; i < resent; i++)
            assert_msg_is(&got[p].v[base + (size_t)i], p, first[p] + i);
    }
    kparts_free(got, PARTS);
    mock_stop(&m);
}
END_TEST

/* Kafka answers the first produce request after the delivery timeout: the
 * records may well be stored in Kafka, but unacknowledged, so nothing is
 * committed and the next run sends everything again. */
START_TEST(test_bridge_delivery_timeout_commits_nothing)
{
    const int64_t total = 15;
    append_records(0, total);
    mock m;
    mock_start(&m);
    mock_topic(&m, TOPIC, PARTS);
    ck_assert_int_eq(rd_kafka_mock_broker_push_request_error_rtts(
                         m.mc, 1, PRODUCE_API, 1,
                         RD_KAFKA_RESP_ERR_NO_ERROR, 3000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    const char *args[] = { "--brokers", m.bootstraps, "-X",
                           "message.timeout.ms=1000", store, TOPIC, NULL };
    int64_t t0 = tu_now_ms();
    bridge_run(args, 1);
    ck_assert_int_lt(tu_now_ms() - t0, 15000);
    ck_assert(log_has("timed out"));
    for (int32_t p = 0; p < PARTS; p++)
        ck_assert_int_eq(committed(GROUP, p), -1);

    const char *args2[] = { "--brokers", m.bootstraps, store, TOPIC, NULL };
    bridge_run(args2, 0);
    kpart got[PARTS];
    consume_all(&m, TOPIC, PARTS, got);
    for (int32_t p = 0; p < PARTS; p++) {
        ck_assert_int_eq(committed(GROUP, p), total);
        ck_assert_int_ge((int64_t)got[p].n, total);
        size_t base = got[p].n - (size_t)total;
        for (int64_t i = 0; i < total; i++)
            assert_msg_is(&got[p].v[base + (size_t)i], p, i);
    }
    kparts_free(got, PARTS);
    mock_stop(&m);
}
END_TEST

START_TEST(test_bridge_follow_stops_cleanly_on_sigterm)
{
    append_records(0, 30);
    mock m;
    mock_start(&m);
    mock_topic(&m, TOPIC, PARTS);
    const char *args[] = { "--brokers", m.bootstraps, "--follow", store,
                           TOPIC, NULL };
    pid_t pid = bridge_start(args);
    /* Wait until Kafka has everything, then stop the bridge. */
    rd_kafka_t *rk = consumer_new(&m);
    int64_t deadline = tu_now_ms() + 20000;
    for (;;) {
        int64_t have = 0;
        for (int32_t p = 0; p < PARTS; p++)
            have += kafka_count(rk, TOPIC, p);
        if (have == 30 * PARTS)
            break;
        ck_assert_msg(tu_now_ms() < deadline, "Kafka has %lld records",
                      (long long)have);
        tu_sleep_ms(20);
    }
    rd_kafka_destroy(rk);
    tu_sleep_ms(100);
    ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);   /* still running */
    kill(pid, SIGTERM);
    int status = bridge_wait(pid);
    if (status != 0)
        show_log();
    ck_assert_int_eq(status, 0);
    const int64_t n[PARTS] = { 30, 30, 30 };
    assert_forwarded(&m, n);
    mock_stop(&m);
}
END_TEST

/* kill -9 at any time loses nothing: the rerun resends from the commit.
 * _i is the time in ms between the start and the kill. */
START_TEST(test_bridge_killed_then_rerun_loses_nothing)
{
    const int64_t total = 500;
    append_records(0, total);
    mock m;
    mock_start(&m);
    mock_topic(&m, TOPIC, PARTS);
    const char *args[] = { "--brokers", m.bootstraps, "--follow", store,
                           TOPIC, NULL };
    pid_t pid = bridge_start(args);
    tu_sleep_ms(_i);
    kill(pid, SIGKILL);
    ck_assert_int_eq(bridge_wait(pid), 128 + SIGKILL);

    int64_t first[PARTS];
    for (int32_t p = 0; p < PARTS; p++) {
        int64_t c = committed(GROUP, p);
        first[p] = c < 0 ? 0 : c;
    }
    const char *args2[] = { "--brokers", m.bootstraps, store, TOPIC, NULL };
    bridge_run(args2, 0);
    kpart got[PARTS];
    consume_all(&m, TOPIC, PARTS, got);
    for (int32_t p = 0; p < PARTS; p++) {
        ck_assert_int_eq(committed(GROUP, p), total);
        int64_t resent = total - first[p];
        ck_assert_int_ge((int64_t)got[p].n, total);
        /* What the killed run delivered is in order and a prefix... */
        size_t base = got[p].n - (size_t)resent;
        for (size_t k = 0; k < base; k++)
            assert_msg_is(&got[p].v[k], p, (int64_t)k);
        /* ...reaching at least its commit, and the rerun sent the rest. */
        ck_assert_int_ge((int64_t)base, first[p]);
        for (int64_t i = 0; i < resent; i++)
            assert_msg_is(&got[p].v[base + (size_t)i], p, first[p] + i);
    }
    kparts_free(got, PARTS);
    mock_stop(&m);
}
END_TEST

START_TEST(test_bridge_command_line)
{
    const char *help[] = { "--help", NULL };
    bridge_run(help, 0);
    ck_assert(log_has("usage: kafka_bridge"));
    const char *bad[] = { "--no-such-option", store, TOPIC, NULL };
    bridge_run(bad, 2);
    const char *no_brokers[] = { store, TOPIC, NULL };
    bridge_run(no_brokers, 2);
    ck_assert(log_has("--brokers is required"));
    const char *no_topic[] = { "--brokers", "127.0.0.1:9", store, NULL };
    bridge_run(no_topic, 2);
    const char *bad_x[] = { "--brokers", "127.0.0.1:9", "-X", "novalue",
                            store, TOPIC, NULL };
    bridge_run(bad_x, 2);

    append_records(0, 1);
    const char *bad_list[] = { "--brokers", "127.0.0.1:9", "--partitions",
                               "0,x", store, TOPIC, NULL };
    bridge_run(bad_list, 2);
    const char *out_of_range[] = { "--brokers", "127.0.0.1:9",
                                   "--partitions", "0,3", store, TOPIC,
                                   NULL };
    bridge_run(out_of_range, 2);
    ck_assert(log_has("partition 3 does not exist"));
    const char *unknown_prop[] = { "--brokers", "127.0.0.1:9", "-X",
                                   "no.such.property=1", store, TOPIC, NULL };
    bridge_run(unknown_prop, 2);
    const char *no_cano_topic[] = { "--brokers", "127.0.0.1:9", store,
                                    "nosuch", NULL };
    bridge_run(no_cano_topic, 1);
    char missing[TU_PATH_MAX];
    tu_path(missing, "%s/missing", dir);
    const char *no_store[] = { "--brokers", "127.0.0.1:9", missing, TOPIC,
                               NULL };
    bridge_run(no_store, 1);
    ck_assert(!tu_exists(missing));
}
END_TEST

static Suite *bridge_suite(void)
{
    Suite *s = suite_create("bridge");
    TCase *tc = tcase_create("kafka");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bridge_forwards_every_partition_exactly);
    tcase_add_test(tc, test_bridge_forwards_chosen_partitions_only);
    tcase_add_test(tc, test_bridge_resume_sends_only_new_records);
    tcase_add_test(tc, test_bridge_refuses_kafka_topic_with_too_few_partitions);
    tcase_add_test(tc, test_bridge_refuses_missing_kafka_topic);
    tcase_add_test(tc, test_bridge_unreachable_broker_commits_nothing);
    tcase_add_test(tc, test_bridge_delivery_failure_commits_only_acknowledged);
    tcase_add_test(tc, test_bridge_delivery_timeout_commits_nothing);
    tcase_add_test(tc, test_bridge_follow_stops_cleanly_on_sigterm);
    /* Killed early (maybe before any delivery) and after a commit. */
    tcase_add_loop_test(tc, test_bridge_killed_then_rerun_loses_nothing,
                        20, 21);
    tcase_add_loop_test(tc, test_bridge_killed_then_rerun_loses_nothing,
                        1500, 1501);
    tcase_add_test(tc, test_bridge_command_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    bridge_bin = getenv("CANO_BRIDGE");
    if (!bridge_bin || !*bridge_bin) {
        fprintf(stderr, "check_bridge: set CANO_BRIDGE to the path of the "
                "built kafka_bridge (make check does)\n");
        return 1;
    }
    if (access(bridge_bin, X_OK) != 0) {
        fprintf(stderr, "check_bridge: CANO_BRIDGE=%s: %s\n", bridge_bin,
                strerror(errno));
        return 1;
    }
    SRunner *sr = srunner_create(bridge_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
