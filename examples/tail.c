/* tail.c - follow a topic like tail -f.
 *
 * Usage: tail [--from-beginning] [--demo] DIR TOPIC [PARTITION]
 *
 * Prints every record (partition, offset, timestamp, key, value) as it is
 * appended, starting at the end of the log (or at its start with
 * --from-beginning).  Without PARTITION it follows every partition, one
 * thread each.  Ctrl-C stops it and closes the store cleanly.
 *
 * A store is locked by the one process that has it open, so tail follows
 * appends made by its own process: --demo starts a thread that appends a
 * record every half second (to a topic it creates when missing) so you can
 * watch it work.  Run it on a store nobody else has open.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cano.h>

#define MAX_FOLLOWED 256          /* threads; name a partition beyond this */

static atomic_int stop;          /* lock-free: safe in a signal handler */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct follower {
    cano_topic_t *topic;
    int32_t partition;
    int64_t start;                /* CANO_OFFSET_LATEST or _EARLIEST */
    pthread_t thread;
} follower;

static void on_signal(int sig) { (void)sig; stop = 1; }

static void report(const char *what, int rc)
{
    fprintf(stderr, "tail: %s: %s (%s)\n", what, cano_strerror(rc),
            cano_last_errmsg());
}

/* Prints bytes as text, escaping anything unprintable. */
static void print_bytes(const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i] >= 32 && b[i] < 127 && b[i] != '\\')
            putchar(b[i]);
        else
            printf("\\x%02x", b[i]);
}

static void print_record(const cano_record *r)
{
    time_t secs = (time_t)(r->timestamp / 1000);
    struct tm tm;
    char when[32];
    localtime_r(&secs, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    pthread_mutex_lock(&out_lock);
    printf("p%d  offset %-8" PRId64 " %s.%03d  ", (int)r->partition, r->offset,
           when, (int)(r->timestamp % 1000));
    if (r->key) {
        print_bytes(r->key, r->key_len);
    } else {
        printf("(no key)");
    }
    printf("  =  ");
    if (r->value) {
        print_bytes(r->value, r->value_len);
    } else {
        printf("(tombstone)");
    }
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static void *follow(void *arg)
{
    follower *f = arg;
    cano_reader_t *r;
    int rc = cano_reader_open(f->topic, f->partition, f->start, &r);
    if (rc != CANO_OK) {
        report("reader_open", rc);
        stop = 1;
        return (void *)1;
    }
    while (!stop) {
        cano_record rec;
        /* Wait up to 250 ms, then look at the stop flag again. */
        rc = cano_reader_next(r, &rec, 250);
        if (rc == CANO_OK) {
            print_record(&rec);
        } else if (rc == CANO_EOFFSET) {
            /* Retention deleted records we had not read yet: skip them. */
            fprintf(stderr, "tail: p%d: records were deleted, skipping ahead\n",
                    (int)f->partition);
            cano_reader_seek(r, CANO_OFFSET_EARLIEST);
        } else if (rc != CANO_ETIMEDOUT) {
            report("reader_next", rc);
            stop = 1;
            break;
        }
    }
    cano_reader_close(r);
    return rc == CANO_OK || rc == CANO_ETIMEDOUT || rc == CANO_EOFFSET ? NULL : (void *)1;
}

/* --demo: appends "tick <n>" every half second, round-robin. */
static void *demo(void *arg)
{
    cano_topic_t *t = arg;
    for (long n = 0; !stop; n++) {
        char key[32], value[64];
        cano_record rec = { 0 };
        rec.key = key;
        rec.key_len = (size_t)snprintf(key, sizeof key, "demo-%ld", n % 3);
        rec.value = value;
        rec.value_len = (size_t)snprintf(value, sizeof value, "tick %ld", n);
        int rc = cano_append(t, CANO_PARTITION_AUTO, &rec, NULL, NULL);
        if (rc != CANO_OK) {
            report("demo append", rc);
            break;
        }
        usleep(500 * 1000);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int64_t start = CANO_OFFSET_LATEST;
    int with_demo = 0, argi = 1;
    for (; argi < argc && argv[argi][0] == '-'; argi++) {
        if (strcmp(argv[argi], "--from-beginning") == 0)
            start = CANO_OFFSET_EARLIEST;
        else if (strcmp(argv[argi], "--demo") == 0)
            with_demo = 1;
        else
            break;
    }
    if (argc - argi < 2 || argc - argi > 3) {
        fprintf(stderr, "usage: tail [--from-beginning] [--demo] DIR TOPIC [PARTITION]\n");
        return 2;
    }
    const char *dir = argv[argi], *name = argv[argi + 1];
    int32_t only = -1;
    if (argc - argi == 3) {
        char *end;
        long v = strtol(argv[argi + 2], &end, 10);
        if (*end || end == argv[argi + 2] || v < 0 || v > INT32_MAX) {
            fprintf(stderr, "tail: bad partition '%s'\n", argv[argi + 2]);
            return 2;
        }
        only = (int32_t)v;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;        /* no SA_RESTART: waits end early */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    cano_t *db;
    cano_options o;
    cano_options_init(&o, sizeof o);
    if (!with_demo)
        o.flags = CANO_OPEN_MUST_EXIST;   /* do not create stores by typo */
    int rc = cano_open(dir, &o, &db);
    if (rc != CANO_OK) {
        report("open", rc);
        if (rc == CANO_ELOCKED)
            fprintf(stderr, "tail: another process has the store open; a store "
                            "belongs to one process at a time\n");
        return 1;
    }
    if (with_demo) {
        rc = cano_topic_create(db, name, NULL);
        if (rc != CANO_OK && rc != CANO_EEXIST)
            report("topic_create", rc);
    }
    cano_topic_t *t;
    if ((rc = cano_topic_open(db, name, &t)) != CANO_OK) {
        report("topic_open", rc);
        cano_close(db);
        return 1;
    }
    int32_t nparts = cano_topic_partitions(t);
    if (only >= nparts || (only < 0 && nparts > MAX_FOLLOWED)) {
        fprintf(stderr, "tail: %s has %d partitions; name one of them\n", name,
                (int)nparts);
        cano_close(db);
        return 2;
    }

    follower f[MAX_FOLLOWED];
    int n = 0;
    for (int32_t p = only < 0 ? 0 : only; p < (only < 0 ? nparts : only + 1); p++) {
        f[n] = (follower){ .topic = t, .partition = p, .start = start };
        if (pthread_create(&f[n].thread, NULL, follow, &f[n]) != 0) {
            fprintf(stderr, "tail: cannot start a thread\n");
            stop = 1;
            break;
        }
        n++;
    }
    pthread_t demo_thread;
    int demo_started = with_demo && !stop &&
                       pthread_create(&demo_thread, NULL, demo, t) == 0;

    int failed = 0;
    for (int i = 0; i < n; i++) {
        void *res;
        pthread_join(f[i].thread, &res);
        failed |= res != NULL;
    }
    stop = 1;                     /* a follower failed: stop the demo too */
    if (demo_started)
        pthread_join(demo_thread, NULL);
    rc = cano_close(db);
    if (rc != CANO_OK) {
        report("close", rc);
        return 1;
    }
    return failed;
}
