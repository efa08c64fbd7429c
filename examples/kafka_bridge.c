/* kafka_bridge.c - forward a cano topic to an Apache Kafka cluster.
 *
 * Usage: kafka_bridge [options] STORE_DIR TOPIC
 *   --brokers HOST:PORT,...  the Kafka cluster (required)
 *   --kafka-topic NAME       the Kafka topic (default: TOPIC)
 *   --partitions 0,2,5       the partitions to forward (default: all)
 *   --group NAME             the cano consumer group (default: kafka-bridge)
 *   --follow                 keep forwarding until SIGINT or SIGTERM
 *   -X KEY=VALUE             a librdkafka producer property (repeatable)
 *   --help
 *
 * Each record keeps its key, value (a tombstone stays a null value),
 * headers and timestamp, and goes to the Kafka partition with the same
 * number as its cano partition, so per-partition order is kept.  The Kafka
 * topic must already exist with at least as many partitions as the cano
 * topic.
 *
 * Delivery is at-least-once.  The bridge reads each partition from the
 * committed position of its consumer group and commits a position only when
 * Kafka has acknowledged every record below it (acks=all, idempotent
 * producer).  A crash, a kill or a failed delivery therefore never loses a
 * record: the next run resends from the last commit, so records that were
 * delivered but not yet committed arrive twice.
 *
 * Without --follow the bridge forwards the records present when it starts,
 * waits for Kafka to acknowledge them, commits and exits.  A store is locked
 * by the one process that has it open, so --follow only sees records that
 * this process appends; it is the loop to copy into a program that embeds
 * both the store and the bridge.  SIGINT or SIGTERM stops reading, waits
 * for Kafka to acknowledge what was sent, commits and exits; a second
 * signal stops waiting (the unacknowledged records go again next run).
 *
 * Exit status: 0 when everything was forwarded and committed, 1 on a failure
 * (or an interrupted run without --follow), 2 on a usage error.
 *
 * Kafka header names are C strings on the consuming side, so a header name
 * holding a zero byte arrives cut at that byte.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>
#include <cano.h>

#define PROG              "kafka_bridge"
#define DEFAULT_GROUP     "kafka-bridge"
#define COMMIT_EVERY_MS   1000      /* commit acknowledged progress so often */
#define READ_BURST        512       /* records read from a partition per turn */
#define RING_MIN          64        /* first size of a partition's ring */
#define RING_MAX          (1u << 20) /* most records in flight per partition */
#define METADATA_MAX_MS   30000     /* cap on the wait for cluster metadata */

/* A signal stops the run: the first one finishes cleanly (stop reading, wait
 * for the records in flight, commit), a second one gives up waiting. */
static volatile sig_atomic_t signals_seen;

/* One record sent to Kafka and not yet known to be acknowledged. */
typedef struct inflight {
    int64_t offset;
    int acked;
} inflight;

/* The state of one forwarded partition.  Records in flight sit in a ring
 * indexed by a per-partition sequence number, which travels with the
 * Kafka message as its opaque; only the low bits matter, so the number fits
 * a pointer on any platform.  The ring gives the invariant the commit relies
 * on: `acked` is the offset after the longest run of acknowledged records
 * from the start, whatever order the delivery reports come in. */
typedef struct part {
    int32_t id;
    cano_reader_t *reader;
    int64_t start;       /* the reader's position when the run began */
    int64_t stop;        /* the end offset at start (without --follow) */
    int64_t committed;   /* the group's committed offset, -1 when none */
    int64_t acked;       /* every record below it was acknowledged */
    int64_t handed;      /* every record below it was handed to Kafka */
    uintptr_t head;      /* sequence number of the oldest record in flight */
    uintptr_t next;      /* sequence number of the next record sent */
    inflight *ring;
    size_t cap;          /* a power of two, or 0 before the first record */
    int64_t sent;
    int64_t delivered;
    int done;            /* nothing more to read */
} part;

typedef struct bridge {
    const char *store_dir;
    const char *topic_name;
    const char *kafka_topic;
    const char *brokers;
    const char *group;
    const char *partition_list;   /* NULL: all */
    int follow;

    cano_t *db;
    cano_topic_t *topic;
    int32_t n_topic_parts;
    part *parts;                  /* the forwarded partitions */
    size_t n_parts;
    part **by_id;                 /* partition number -> part, or NULL */

    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    int failed;                   /* a delivery or Kafka fatal error */
    char failure[512];            /* the first one, for the final message */
} bridge;

static void usage(FILE *f)
{
    fprintf(f,
"usage: " PROG " [options] STORE_DIR TOPIC\n"
"Forwards the records of a cano topic to an Apache Kafka topic, partition\n"
"for partition, keeping keys, values, headers and timestamps.  Progress is\n"
"committed as a cano consumer group once Kafka has acknowledged it.\n"
"\n"
"  --brokers HOST:PORT,...  Kafka bootstrap servers (required)\n"
"  --kafka-topic NAME       Kafka topic (default: the cano topic's name);\n"
"                           it must exist with enough partitions\n"
"  --partitions LIST        partitions to forward, e.g. 0,2,5 (default: all)\n"
"  --group NAME             cano consumer group (default: " DEFAULT_GROUP ")\n"
"  --follow                 keep forwarding new records until SIGINT/SIGTERM\n"
"  -X KEY=VALUE             librdkafka producer property, e.g.\n"
"                           -X message.timeout.ms=10000 (repeatable)\n"
"  --help                   show this text\n"
"\n"
"Exit status: 0 done, 1 failed (rerun to resend from the last commit),\n"
"2 usage error.\n");
}

static void on_signal(int sig)
{
    (void)sig;
    if (signals_seen < 2)
        signals_seen++;
}

static void report(const char *what, int rc)
{
    fprintf(stderr, PROG ": %s: %s%s%s\n", what, cano_strerror(rc),
            *cano_last_errmsg() ? ": " : "", cano_last_errmsg());
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Notes the first failure; later ones are usually its consequences. */
static void set_failed(bridge *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_failed(bridge *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    b->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->failure, sizeof b->failure, fmt, ap);
    va_end(ap);
}

/* ---- Partitions ---- */

/* Parses "0,2,5" into a sorted list without duplicates.
 * @return 0, or -1 after printing why. */
static int parse_partitions(const char *list, int32_t n_topic_parts,
                            int32_t **out, size_t *n_out)
{
    size_t n = 1;
    for (const char *c = list; *c; c++)
        n += *c == ',';
    int32_t *v = calloc(n, sizeof *v);
    if (!v) {
        fprintf(stderr, PROG ": out of memory\n");
        return -1;
    }
    const char *c = list;
    for (size_t i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long p = *c >= '0' && *c <= '9' ? strtol(c, &end, 10) : -1;
        if (p < 0 || errno || (*end != ',' && *end != '\0')) {
            fprintf(stderr, PROG ": --partitions: bad list '%s' (expected "
                    "numbers separated by commas, e.g. 0,2,5)\n", list);
            free(v);
            return -1;
        }
        if (p >= n_topic_parts) {
            fprintf(stderr, PROG ": --partitions: partition %ld does not "
                    "exist (the topic has %" PRId32 ")\n", p, n_topic_parts);
            free(v);
            return -1;
        }
        /* Insertion sort: lists are short. */
        size_t j = i;
        while (j > 0 && v[j - 1] > p) {
            v[j] = v[j - 1];
            j--;
        }
        if (j > 0 && v[j - 1] == p) {
            fprintf(stderr, PROG ": --partitions: partition %ld is listed "
                    "twice\n", p);
            free(v);
            return -1;
        }
        v[j] = (int32_t)p;
        c = end + (*end == ',');
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* Opens a reader per forwarded partition at the group's position and
 * records where the run starts and stops. */
static int open_partitions(bridge *b)
{
    for (size_t i = 0; i < b->n_parts; i++) {
        part *p = &b->parts[i];
        int rc = cano_committed(b->db, b->group, b->topic_name, p->id,
                                &p->committed);
        if (rc == CANO_ENOTFOUND)
            p->committed = -1;
        else if (rc != CANO_OK) {
            report("reading the group's committed offset", rc);
            return -1;
        }
        rc = cano_reader_open_group(b->topic, p->id, b->group, &p->reader);
        if (rc != CANO_OK) {
            report("opening a reader", rc);
            return -1;
        }
        cano_partition_info info = { .size = sizeof info };
        rc = cano_partition_stat(b->topic, p->id, &info);
        if (rc != CANO_OK) {
            report("partition_stat", rc);
            return -1;
        }
        p->start = cano_reader_position(p->reader);
        p->acked = p->start;
        p->handed = p->start;
        p->stop = b->follow ? INT64_MAX : info.end_offset;
        p->done = !b->follow && p->start >= p->stop;
    }
    return 0;
}

/* Makes room for one more record in flight.  Growing keeps every sequence
 * number at index seq & (cap - 1).  @return 0, or -1 when the ring is at its
 * limit (or out of memory) and the caller must wait for acknowledgements. */
static int ring_reserve(part *p)
{
    size_t count = p->next - p->head;
    if (count < p->cap)
        return 0;
    if (p->cap >= RING_MAX)
        return -1;
    size_t cap = p->cap ? p->cap * 2 : RING_MIN;
    inflight *ring = calloc(cap, sizeof *ring);
    if (!ring)
        return -1;
    for (uintptr_t s = p->head; s != p->next; s++)
        ring[s & (cap - 1)] = p->ring[s & (p->cap - 1)];
    free(p->ring);
    p->ring = ring;
    p->cap = cap;
    return 0;
}

/* ---- Kafka ---- */

/* Delivery reports, served by rd_kafka_poll and rd_kafka_flush on the main
 * thread, so the partition state needs no lock. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
    bridge *b = opaque;
    (void)rk;
    part *p = m->partition >= 0 && m->partition < b->n_topic_parts
              ? b->by_id[m->partition] : NULL;
    if (!p || !p->cap) {
        set_failed(b, "delivery report for unexpected partition %" PRId32,
                   m->partition);
        return;
    }
    inflight *f = &p->ring[(uintptr_t)m->_private & (p->cap - 1)];
    if (m->err) {
        set_failed(b, "delivery of partition %" PRId32 " offset %" PRId64
                   " failed: %s", p->id, f->offset, rd_kafka_err2str(m->err));
        return;
    }
    f->acked = 1;
    p->delivered++;
    while (p->head != p->next && p->ring[p->head & (p->cap - 1)].acked) {
        inflight *h = &p->ring[p->head & (p->cap - 1)];
        p->acked = h->offset + 1;
        h->acked = 0;
        p->head++;
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    bridge *b = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
        set_failed(b, "Kafka fatal error: %s: %s", rd_kafka_err2name(orig),
                   why);
        return;
    }
    /* Anything else is retried by librdkafka until message.timeout.ms. */
    fprintf(stderr, PROG ": kafka: %s\n", reason);
}

/* Creates the producer: our defaults, then the user's -X properties.
 * @return 0, 1 on a failure, 2 for a bad -X property. */
static int kafka_open(bridge *b, char **props, size_t n_props)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *defaults[][2] = {
        { "bootstrap.servers", b->brokers },
        { "enable.idempotence", "true" },
        { "acks", "all" },
        { "client.id", PROG },
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], err,
                              sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, PROG ": %s\n", err);
            rd_kafka_conf_destroy(conf);
            return -1;
        }
    for (size_t i = 0; i < n_props; i++) {
        char *eq = strchr(props[i], '=');
        *eq = '\0';
        rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, props[i], eq + 1,
                                                    err, sizeof err);
        *eq = '=';
        if (res != RD_KAFKA_CONF_OK) {
            fprintf(stderr, PROG ": -X %s: %s\n", props[i], err);
            rd_kafka_conf_destroy(conf);
            return 2;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, b);
    b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!b->rk) {
        fprintf(stderr, PROG ": cannot create the Kafka producer: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    return 0;
}

/* The wait for metadata: the delivery timeout, capped. */
static int metadata_timeout(rd_kafka_t *rk)
{
    char buf[32];
    size_t len = sizeof buf;
    long ms = 0;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "message.timeout.ms", buf, &len) ==
        RD_KAFKA_CONF_OK)
        ms = strtol(buf, NULL, 10);
    return ms > 0 && ms < METADATA_MAX_MS ? (int)ms : METADATA_MAX_MS;
}

/* Checks that the Kafka topic exists with enough partitions.  It asks for
 * every topic's metadata, not for the one topic, because naming a topic in
 * a metadata request makes a broker with auto-creation create it with its
 * default partition count; only then is a topic handle made. */
static int kafka_check_topic(bridge *b)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(b->rk, 1, NULL, &md,
                                                metadata_timeout(b->rk));
    if (err) {
        fprintf(stderr, PROG ": cannot get metadata from %s: %s\n",
                b->brokers, rd_kafka_err2str(err));
        return -1;
    }
    int rc = -1;
    const struct rd_kafka_metadata_topic *t = NULL;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, b->kafka_topic) == 0)
            t = &md->topics[i];
    if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        fprintf(stderr, PROG ": Kafka topic '%s' does not exist; create it "
                "with at least %" PRId32 " partitions\n", b->kafka_topic,
                b->n_topic_parts);
    else if (t->err)
        fprintf(stderr, PROG ": Kafka topic '%s': %s\n", b->kafka_topic,
                rd_kafka_err2str(t->err));
    else if (t->partition_cnt < b->n_topic_parts)
        fprintf(stderr, PROG ": Kafka topic '%s' has %d partitions, fewer "
                "than the %" PRId32 " of cano topic '%s' (partitions map one "
                "to one)\n", b->kafka_topic, t->partition_cnt,
                b->n_topic_parts, b->topic_name);
    else
        rc = 0;
    rd_kafka_metadata_destroy(md);
    if (rc == 0 && !(b->rkt = rd_kafka_topic_new(b->rk, b->kafka_topic,
                                                 NULL))) {
        fprintf(stderr, PROG ": Kafka topic '%s': %s\n", b->kafka_topic,
                rd_kafka_err2str(rd_kafka_last_error()));
        rc = -1;
    }
    return rc;
}

/* Hands one record to librdkafka (which copies it).
 * @return 0 sent, 1 queue full (retry after a poll), -1 failed. */
static int produce(bridge *b, part *p, const cano_record *rec)
{
    if (ring_reserve(p) != 0)
        return 1;
    rd_kafka_headers_t *hdrs = NULL;
    if (rec->header_count) {
        hdrs = rd_kafka_headers_new(rec->header_count);
        for (size_t i = 0; i < rec->header_count; i++) {
            const cano_header *h = &rec->headers[i];
            rd_kafka_header_add(hdrs, h->name, (ssize_t)h->name_len,
                                h->value, (ssize_t)h->value_len);
        }
    }
    uintptr_t seq = p->next;
    rd_kafka_vu_t vu[8];
    size_t n = 0;
    vu[n].vtype = RD_KAFKA_VTYPE_RKT;
    vu[n++].u.rkt = b->rkt;
    vu[n].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[n++].u.i32 = p->id;
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
    vu[n].vtype = RD_KAFKA_VTYPE_KEY;
    vu[n].u.mem.ptr = (void *)rec->key;
    vu[n++].u.mem.size = rec->key ? rec->key_len : 0;
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[n].u.mem.ptr = (void *)rec->value;
    vu[n++].u.mem.size = rec->value ? rec->value_len : 0;
    vu[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
    vu[n++].u.i64 = rec->timestamp;
    vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[n++].u.ptr = (void *)seq;
    if (hdrs) {
        vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
        vu[n++].u.headers = hdrs;
    }
    rd_kafka_error_t *error = rd_kafka_produceva(b->rk, vu, n);
    if (error) {
        rd_kafka_resp_err_t err = rd_kafka_error_code(error);
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);   /* not taken on failure */
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_error_destroy(error);
            return 1;
        }
        set_failed(b, "cannot send partition %" PRId32 " offset %" PRId64
                   ": %s", p->id, rec->offset, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return -1;
    }
    inflight *f = &p->ring[seq & (p->cap - 1)];
    f->offset = rec->offset;
    f->acked = 0;
    p->next++;
    p->sent++;
    p->handed = cano_reader_position(p->reader);
    return 0;
}

/* ---- The run ---- */

/* When nothing is in flight every record handed to Kafka was acknowledged,
 * so the position may move past offsets that had no record (compaction),
 * up to the stop offset once the partition is done.  A record read but not
 * handed over (the run was cut short) keeps the position below it. */
static void settle(bridge *b, part *p)
{
    if (b->failed || p->head != p->next)
        return;
    int64_t upto = p->done && !b->follow ? p->stop : p->handed;
    if (upto > p->acked)
        p->acked = upto;
}

/* Commits every partition's acknowledged position that moved.  A position
 * equal to the start is committed only at the end of a good run, so a
 * failed run leaves a group that had no commit without one. */
static int commit_progress(bridge *b, int final_ok)
{
    int rc = 0;
    for (size_t i = 0; i < b->n_parts; i++) {
        part *p = &b->parts[i];
        settle(b, p);
        if (p->acked <= p->committed || (p->acked == p->start && !final_ok))
            continue;
        int crc = cano_commit(b->db, b->group, b->topic_name, p->id,
                              p->acked);
        if (crc != CANO_OK) {
            report("commit", crc);
            rc = -1;
            continue;
        }
        p->committed = p->acked;
    }
    return rc;
}

/* Reads up to READ_BURST records of p and sends them.
 * @return 1 when something was sent or p finished, 0 when idle, -1 failed. */
static int pump(bridge *b, part *p)
{
    int moved = 0;
    for (int i = 0; i < READ_BURST && !p->done && !b->failed; i++) {
        if (cano_reader_position(p->reader) >= p->stop) {
            p->done = 1;
            return 1;
        }
        cano_record rec;
        int rc = cano_reader_next(p->reader, &rec, 0);
        if (rc == CANO_ETIMEDOUT) {
            /* Nothing else appends to the store while we hold its lock, so
             * without --follow this is the end (the last offsets may have
             * had their records compacted away). */
            if (!b->follow) {
                p->done = 1;
                moved = 1;
            }
            break;
        }
        if (rc != CANO_OK) {
            report("reading", rc);
            set_failed(b, "reading partition %" PRId32 " failed", p->id);
            return -1;
        }
        if (rec.offset >= p->stop) {   /* gaps let a read jump past stop */
            p->done = 1;
            return 1;
        }
        int sent;
        while ((sent = produce(b, p, &rec)) == 1) {
            /* Kafka's queue or our ring is full: serve delivery reports. */
            rd_kafka_poll(b->rk, 50);
            if (signals_seen >= 2 || b->failed)
                return -1;
        }
        if (sent < 0)
            return -1;
        moved = 1;
    }
    return moved;
}

/* Waits for everything in flight; a second signal gives up and drops it. */
static void drain(bridge *b)
{
    while (rd_kafka_outq_len(b->rk) > 0 && signals_seen < 2)
        rd_kafka_flush(b->rk, 200);
    if (rd_kafka_outq_len(b->rk) > 0) {
        fprintf(stderr, PROG ": not waiting for %d Kafka messages and "
                "requests; they will be resent by the next run\n",
                rd_kafka_outq_len(b->rk));
        rd_kafka_purge(b->rk, RD_KAFKA_PURGE_F_QUEUE |
                              RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(b->rk, 0);
    }
}

static int run(bridge *b)
{
    int64_t last_commit = now_ms();
    int interrupted = 0;
    for (;;) {
        if (signals_seen) {
            interrupted = 1;
            break;
        }
        int moved = 0, pending = 0;
        for (size_t i = 0; i < b->n_parts && !b->failed; i++) {
            part *p = &b->parts[i];
            if (p->done)
                continue;
            if (pump(b, p) > 0)
                moved = 1;
            pending |= !p->done;
        }
        if (b->failed || !pending)
            break;
        rd_kafka_poll(b->rk, moved ? 0 : 100);
        if (now_ms() - last_commit >= COMMIT_EVERY_MS) {
            if (commit_progress(b, 0) != 0) {
                set_failed(b, "cannot commit the group's progress");
                break;
            }
            last_commit = now_ms();
        }
    }
    drain(b);
    int ok = !b->failed && (!interrupted || b->follow);
    for (size_t i = 0; ok && i < b->n_parts; i++)
        ok = b->parts[i].head == b->parts[i].next;
    int crc = commit_progress(b, ok);

    int64_t sent = 0, delivered = 0;
    for (size_t i = 0; i < b->n_parts; i++) {
        part *p = &b->parts[i];
        sent += p->sent;
        delivered += p->delivered;
        printf(PROG ": %s/%" PRId32 " -> %s/%" PRId32 ": %" PRId64
               " records delivered from offset %" PRId64 ", committed %"
               PRId64 "\n", b->topic_name, p->id, b->kafka_topic, p->id,
               p->delivered, p->start, p->committed);
    }
    if (b->failed) {
        fprintf(stderr, PROG ": %s\n", b->failure);
        fprintf(stderr, PROG ": %" PRId64 " of %" PRId64 " records sent were "
                "acknowledged; progress is committed only up to the first "
                "record not acknowledged, rerun to resend the rest\n",
                delivered, sent);
    } else if (!ok) {
        fprintf(stderr, PROG ": interrupted before the end; rerun to "
                "continue from the last commit\n");
    }
    return ok && crc == 0 ? 0 : 1;
}

/* ---- Setup ---- */

static int setup_partitions(bridge *b)
{
    int32_t *ids = NULL;
    size_t n = 0;
    if (b->partition_list) {
        if (parse_partitions(b->partition_list, b->n_topic_parts, &ids,
                             &n) != 0)
            return 2;
    } else {
        n = (size_t)b->n_topic_parts;
        if ((ids = calloc(n, sizeof *ids)) != NULL)
            for (size_t i = 0; i < n; i++)
                ids[i] = (int32_t)i;
    }
    b->parts = calloc(n ? n : 1, sizeof *b->parts);
    b->by_id = calloc((size_t)b->n_topic_parts, sizeof *b->by_id);
    if (!ids || !b->parts || !b->by_id) {
        fprintf(stderr, PROG ": out of memory\n");
        free(ids);
        return 1;
    }
    b->n_parts = n;
    for (size_t i = 0; i < n; i++) {
        b->parts[i].id = ids[i];
        b->by_id[ids[i]] = &b->parts[i];
    }
    free(ids);
    return 0;
}

static int bridge_main(bridge *b, char **props, size_t n_props)
{
    cano_options opts;
    cano_options_init(&opts, sizeof opts);
    opts.flags = CANO_OPEN_MUST_EXIST;
    int rc = cano_open(b->store_dir, &opts, &b->db);
    if (rc != CANO_OK) {
        fprintf(stderr, PROG ": cannot open store '%s': %s%s%s\n",
                b->store_dir, cano_strerror(rc),
                *cano_last_errmsg() ? ": " : "", cano_last_errmsg());
        return 1;
    }
    if ((rc = cano_topic_open(b->db, b->topic_name, &b->topic)) != CANO_OK) {
        fprintf(stderr, PROG ": topic '%s': %s\n", b->topic_name,
                cano_strerror(rc));
        return 1;
    }
    b->n_topic_parts = cano_topic_partitions(b->topic);
    if (b->n_topic_parts <= 0) {
        report("topic_partitions", b->n_topic_parts);
        return 1;
    }
    if ((rc = setup_partitions(b)) != 0)
        return rc;
    if ((rc = kafka_open(b, props, n_props)) != 0)
        return rc < 0 ? 1 : rc;
    if (kafka_check_topic(b) != 0)
        return 1;
    if (open_partitions(b) != 0)
        return 1;
    return run(b);
}

static void bridge_free(bridge *b)
{
    if (b->rkt)
        rd_kafka_topic_destroy(b->rkt);
    if (b->rk)
        rd_kafka_destroy(b->rk);
    for (size_t i = 0; i < b->n_parts; i++) {
        cano_reader_close(b->parts[i].reader);
        free(b->parts[i].ring);
    }
    free(b->parts);
    free(b->by_id);
    if (b->db) {
        int rc = cano_close(b->db);
        if (rc != CANO_OK)
            report("close", rc);
    }
}

int main(int argc, char **argv)
{
    enum { OPT_BROKERS = 256, OPT_KTOPIC, OPT_PARTS, OPT_GROUP, OPT_FOLLOW,
           OPT_HELP };
    static const struct option longopts[] = {
        { "brokers", required_argument, NULL, OPT_BROKERS },
        { "kafka-topic", required_argument, NULL, OPT_KTOPIC },
        { "partitions", required_argument, NULL, OPT_PARTS },
        { "group", required_argument, NULL, OPT_GROUP },
        { "follow", no_argument, NULL, OPT_FOLLOW },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    bridge b;
    memset(&b, 0, sizeof b);
    b.group = DEFAULT_GROUP;
    char **props = calloc((size_t)argc, sizeof *props);
    size_t n_props = 0;
    if (!props) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "X:", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_BROKERS: b.brokers = optarg; break;
        case OPT_KTOPIC:  b.kafka_topic = optarg; break;
        case OPT_PARTS:   b.partition_list = optarg; break;
        case OPT_GROUP:   b.group = optarg; break;
        case OPT_FOLLOW:  b.follow = 1; break;
        case OPT_HELP:
            usage(stdout);
            free(props);
            return 0;
        case 'X':
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                fprintf(stderr, PROG ": -X %s: expected KEY=VALUE\n", optarg);
                free(props);
                return 2;
            }
            props[n_props++] = optarg;
            break;
        default:
            if (optopt > 0 && optopt < 128 && optopt != '?')
                fprintf(stderr, PROG ": option -%c: unknown or missing its "
                        "argument\n", optopt);
            else
                fprintf(stderr, PROG ": %s: unknown option or missing "
                        "argument\n", argv[optind - 1]);
            fprintf(stderr, "Try '" PROG " --help'.\n");
            free(props);
            return 2;
        }
    }
    const char *why = NULL;
    if (argc - optind != 2)
        why = "expected STORE_DIR and TOPIC";
    else if (!b.brokers || !*b.brokers)
        why = "--brokers is required";
    else if (b.kafka_topic && !*b.kafka_topic)
        why = "--kafka-topic is empty";
    if (why) {
        fprintf(stderr, PROG ": %s\nTry '" PROG " --help'.\n", why);
        free(props);
        return 2;
    }
    b.store_dir = argv[optind];
    b.topic_name = argv[optind + 1];
    if (!b.kafka_topic)
        b.kafka_topic = b.topic_name;
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int rc = bridge_main(&b, props, n_props);
    bridge_free(&b);
    free(props);
    return rc;
}
