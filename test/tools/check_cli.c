/* check_cli.c - tests of the `cano` command, run as a separate process.
 *
 * CANO_CLI names the built command (make check-tools sets it).  Each test
 * gets a fresh directory (on /dev/shm when there is one) holding the store
 * ("s") and the files the command's stdin, stdout and stderr go through,
 * and asserts exact outputs and exit statuses.  Where an output depends on
 * the encoding (byte counts), the expected text is computed with libcano
 * from the store the command left. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "testutil.h"

static const char *cli;              /* the command under test */
static char tmp[64];                 /* this test's directory */
static char store[TU_PATH_MAX];      /* tmp/s */
static char *out, *err;              /* the last run's stdout and stderr */
static size_t out_len, err_len;

static void setup(void)
{
    ck_assert_int_eq(tu_mkdtemp_fast(tmp, sizeof tmp), 0);
    tu_path(store, "%s/s", tmp);
}

static void teardown(void)
{
    tu_rmtree(tmp);
    free(out);
    free(err);
    out = err = NULL;
}

/* Reads a whole file, NUL-terminated ("" when missing). */
static char *slurp(const char *path, size_t *len)
{
    unsigned char *b = tu_read_file(path, len);
    if (!b) {
        *len = 0;
        return calloc(1, 1);
    }
    char *s = realloc(b, *len + 1);
    ck_assert_ptr_nonnull(s);
    s[*len] = 0;
    return s;
}

/* Starts the command with argv (argv[0] is replaced by the command) with
 * stdin from in, stdout and stderr into tmp/out and tmp/err.  Returns the
 * child's pid. */
static pid_t start(const void *in, size_t in_len, char **argv)
{
    char inp[TU_PATH_MAX], outp[TU_PATH_MAX], errp[TU_PATH_MAX];
    ck_assert_int_eq(tu_write_file(tu_path(inp, "%s/stdin", tmp),
                                   in ? in : "", in ? in_len : 0), 0);
    tu_path(outp, "%s/stdout", tmp);
    tu_path(errp, "%s/stderr", tmp);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fi = open(inp, O_RDONLY);
        int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fi < 0 || fo < 0 || fe < 0 || dup2(fi, 0) < 0 ||
            dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        argv[0] = (char *)cli;
        execv(cli, argv);
        _exit(127);
    }
    return pid;
}

/* Waits for pid and collects its output; returns its exit status, or 128 +
 * the signal that killed it. */
static int finish(pid_t pid)
{
    int st;
    char p[TU_PATH_MAX];
    while (waitpid(pid, &st, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    free(out);
    free(err);
    out = slurp(tu_path(p, "%s/stdout", tmp), &out_len);
    err = slurp(tu_path(p, "%s/stderr", tmp), &err_len);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define MAX_ARGS 64

/* Runs the command with the NULL-terminated arguments after in_len. */
static int run(const void *in, size_t in_len, ...)
{
    char *argv[MAX_ARGS];
    int n = 1;
    va_list ap;
    va_start(ap, in_len);
    for (char *a; (a = va_arg(ap, char *)) != NULL && n < MAX_ARGS - 1;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return finish(start(in, in_len, argv));
}

/* cano STORE args..., without and with standard input. */
#define CANO(...) run(NULL, 0, store, __VA_ARGS__, (char *)NULL)
#define CANO_IN(in, ...) run(in, strlen(in), store, __VA_ARGS__, (char *)NULL)
#define CANO_INN(in, n, ...) run(in, n, store, __VA_ARGS__, (char *)NULL)
/* cano args... (no store given). */
#define RUN(...) run(NULL, 0, __VA_ARGS__, (char *)NULL)

#define OUT_IS(s) ck_assert_str_eq(out, s)
#define ERR_HAS(s) ck_assert_msg(strstr(err, s) != NULL, \
                                 "stderr lacks \"%s\": %s", s, err)
#define OUT_HAS(s) ck_assert_msg(strstr(out, s) != NULL, \
                                 "stdout lacks \"%s\": %s", s, out)
#define OK(call) ck_assert_msg((call) == 0, "%s failed: %s", #call, err)

/* A topic t with 2 partitions holding records 0..2 on partition 0 (keys
 * k0..k2, values v0..v2, timestamp 1700000000000) and 3 on partition 1. */
static void make_topic(void)
{
    OK(CANO("topic", "create", "t", "--partitions", "2"));
    OK(CANO_IN("k0=v0\nk1=v1\nk2=v2\n", "produce", "t", "-p", "0", "-k", "=",
               "-t", "1700000000000"));
    OK(CANO_IN("k3=v3\n", "produce", "t", "-p", "1", "-k", "=", "-t",
               "1700000000000"));
}

static cano_partition_info pstat(const char *topic, int32_t p)
{
    cano_t *db = tu_open(store);
    cano_partition_info pi = tu_stat(tu_topic(db, topic), p);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    return pi;
}

/* ---- Help, usage errors, missing stores ---- */

START_TEST(test_cli_help_every_command)
{
    static const char *const cmds[][3] = {
        { "topic", NULL }, { "topic", "create" }, { "topic", "list" },
        { "topic", "describe" }, { "topic", "delete" }, { "topic", "config" },
        { "produce" }, { "consume" }, { "stats" }, { "compact" },
        { "retention" }, { "delete-records" },
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "Usage: cano DIR %s%s%s", cmds[i][0],
                 cmds[i][1] ? " " : "", cmds[i][1] ? cmds[i][1] : "");
        for (int h = 0; h < 2; h++) {
            const char *opt = h ? "-h" : "--help";
            int rc = cmds[i][1] ? CANO(cmds[i][0], cmds[i][1], opt)
                                : CANO(cmds[i][0], opt);
            ck_assert_msg(rc == 0, "%s %s: %d", want, opt, rc);
            ck_assert_msg(strncmp(out, want, strlen(want)) == 0,
                          "%s: %s", want, out);
            ck_assert_str_eq(err, "");
        }
    }
    ck_assert(!tu_exists(store));         /* help opens no store */
}
END_TEST

START_TEST(test_cli_help_dump_verify)
{
    ck_assert_int_eq(CANO("dump", "--help"), 0);
    ck_assert_uint_gt(out_len, 0);
    ck_assert_int_eq(CANO("verify", "--help"), 0);
    ck_assert_uint_gt(out_len, 0);
}
END_TEST

START_TEST(test_cli_global_help_and_version)
{
    ck_assert_int_eq(RUN("--help"), 0);
    OUT_HAS("Usage: cano [OPTIONS] DIR COMMAND [ARGS]");
    OUT_HAS("delete-records");
    ck_assert_int_eq(RUN("--version"), 0);
    char want[64];
    snprintf(want, sizeof want, "cano %s (libcano %s)\n", cano_version(),
             cano_version());
    OUT_IS(want);
    ck_assert_int_eq(RUN("help", "consume"), 0);
    OUT_HAS("Usage: cano DIR consume TOPIC");
    ck_assert_int_eq(RUN("produce", "--help"), 0);
    OUT_HAS("Usage: cano DIR produce TOPIC");
    ck_assert_int_eq(RUN("help", "nosuch"), 2);
}
END_TEST

START_TEST(test_cli_bad_options_exit_2)
{
    static const char *const cmds[][2] = {
        { "topic", "create" }, { "topic", "list" }, { "topic", "describe" },
        { "topic", "delete" }, { "topic", "config" }, { "produce", NULL },
        { "consume", NULL }, { "stats", NULL }, { "compact", NULL },
        { "retention", NULL }, { "delete-records", NULL },
    };
    make_topic();
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int rc = cmds[i][1] ? CANO(cmds[i][0], cmds[i][1], "--nope")
                            : CANO(cmds[i][0], "--nope");
        ck_assert_msg(rc == 2, "%s: %d", cmds[i][0], rc);
        ERR_HAS("unknown option '--nope'");
        ERR_HAS("--help");
        ck_assert_str_eq(out, "");
    }
    ck_assert_int_eq(CANO("consume", "t", "-Z"), 2);
    ERR_HAS("unknown option '-Z'");
    ck_assert_int_eq(CANO("consume", "t", "--partition"), 2);
    ERR_HAS("option '--partition' needs an argument");
    ck_assert_int_eq(CANO("consume", "t", "--format", "xml"), 2);
    ck_assert_int_eq(CANO("consume", "t", "--partition", "x"), 2);
    ck_assert_int_eq(CANO("consume"), 2);
    ck_assert_int_eq(CANO("produce", "t", "--batch", "0"), 2);
    ck_assert_int_eq(CANO("delete-records", "t", "0"), 2);
    ck_assert_int_eq(CANO("topic"), 2);
    ck_assert_int_eq(CANO("topic", "frob"), 2);
    ck_assert_int_eq(RUN("--nope"), 2);
    ck_assert_int_eq(RUN(store), 2);
    ck_assert_int_eq(CANO("frob"), 2);
    ERR_HAS("no command 'frob'");
}
END_TEST

START_TEST(test_cli_missing_store_exit_1)
{
    static const char *const cmds[][3] = {
        { "topic", "list" }, { "topic", "describe" }, { "consume", "t" },
        { "stats" }, { "compact" }, { "retention" }, { "produce", "t" },
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int rc = cmds[i][1] ? CANO(cmds[i][0], cmds[i][1]) : CANO(cmds[i][0]);
        ck_assert_msg(rc == 1, "%s: %d", cmds[i][0], rc);
        ERR_HAS("cano: open ");
        ERR_HAS(": not found");
        ck_assert(!tu_exists(store));
    }
}
END_TEST

START_TEST(test_cli_locked_store)
{
    make_topic();
    cano_t *db = tu_open(store);
    ck_assert_int_eq(CANO("topic", "list"), 1);
    ERR_HAS("store is locked");
    ERR_HAS("another process has this store open");
    ERR_HAS("--lock-timeout");
    ck_assert_int_eq(run(NULL, 0, "--lock-timeout", "100", store, "stats",
                         (char *)NULL), 1);
    ck_assert_int_eq(cano_close(db), CANO_OK);
    ck_assert_int_eq(run(NULL, 0, "-w", "1s", store, "topic", "list",
                         (char *)NULL), 0);
    OUT_IS("t\n");
}
END_TEST

/* ---- Topics ---- */

START_TEST(test_cli_topic_create_list_delete)
{
    OK(CANO("topic", "create", "b"));
    ck_assert_str_eq(out, "");
    OK(CANO("topic", "create", "a.x-1_"));
    OK(CANO("topic", "list"));
    OUT_IS("a.x-1_\nb\n");
    OK(CANO("topic", "delete", "a.x-1_"));
    OK(CANO("topic", "list"));
    OUT_IS("b\n");
    ck_assert_int_eq(CANO("topic", "delete", "a.x-1_"), 1);
    ERR_HAS("cano: delete topic 'a.x-1_': not found");
    OK(CANO("topic", "delete", "--if-exists", "a.x-1_", "b"));
    OK(CANO("topic", "list"));
    OUT_IS("");
}
END_TEST

START_TEST(test_cli_topic_create_existing)
{
    OK(CANO("topic", "create", "t"));
    ck_assert_int_eq(CANO("topic", "create", "t"), 1);
    ERR_HAS("cano: create topic 't': already exists");
    OK(CANO("topic", "create", "t", "--if-not-exists"));
}
END_TEST

START_TEST(test_cli_topic_bad_names)
{
    static const char *const bad[] = { "../x", "__internal", "", "a b",
                                       "..", "x/y" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(CANO("topic", "create", bad[i]), 1);
        char want[64];
        snprintf(want, sizeof want, "cano: create topic '%s': invalid "
                 "argument", bad[i]);
        ERR_HAS(want);
    }
    OK(CANO("topic", "list"));
    OUT_IS("");
    ck_assert_int_eq(CANO("consume", "../x"), 1);
    ERR_HAS("topic '../x'");
}
END_TEST

START_TEST(test_cli_topic_config_from_options)
{
    OK(CANO("topic", "create", "t", "--partitions", "3", "--segment-bytes",
            "1M", "--segment-ms", "1h", "--retention-ms", "2h",
            "--retention-bytes", "10K", "--cleanup-policy", "compact,delete",
            "--compression", "zlib", "--compression-level", "9", "--sync",
            "always", "--timestamp-type", "log-append"));
    OK(CANO("topic", "config", "t"));
    OUT_IS("cleanup.policy=compact,delete\n"
           "compression.type=zlib\n"
           "compression.zlib.level=9\n"
           "delete.retention.ms=86400000\n"
           "index.interval.bytes=4096\n"
           "max.compaction.lag.ms=-1\n"
           "max.message.bytes=4194304\n"
           "max.record.bytes=1048576\n"
           "message.timestamp.type=LogAppendTime\n"
           "min.cleanable.dirty.ratio=0.5\n"
           "min.compaction.lag.ms=0\n"
           "partitions=3\n"
           "retention.bytes=10240\n"
           "retention.groups=\n"
           "retention.groups.max.bytes=-1\n"
           "retention.ms=7200000\n"
           "segment.bytes=1048576\n"
           "segment.ms=3600000\n"
           "sync.mode=always\n");
}
END_TEST

START_TEST(test_cli_topic_config_kafka_names)
{
    OK(CANO("topic", "create", "t", "--config", "retention.ms=5000",
            "-c", "cleanup.policy=compact", "--config", "segment.bytes=4096",
            "--config", "min.cleanable.dirty.ratio=0.25", "--config",
            "message.timestamp.type=LogAppendTime", "--config",
            "retention.groups=g1,g2", "--config", "num.partitions=2"));
    OK(CANO("topic", "config", "t", "retention.ms", "cleanup.policy",
            "segment.bytes", "min.cleanable.dirty.ratio",
            "message.timestamp.type", "retention.groups", "partitions"));
    OUT_IS("5000\ncompact\n4096\n0.25\nLogAppendTime\ng1,g2\n2\n");
}
END_TEST

START_TEST(test_cli_topic_config_round_trip)
{
    OK(CANO("topic", "create", "a", "-p", "4", "--retention-ms", "-1",
            "--cleanup-policy", "compact", "--sync", "none",
            "--config", "delete.retention.ms=1000"));
    OK(CANO("topic", "config", "a"));
    char *first = strdup(out);
    /* Feed every KEY=VALUE line back as --config. */
    char *argv[MAX_ARGS] = { NULL, store, "topic", "create", "b" };
    int n = 5;
    for (char *save, *l = strtok_r(first, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        argv[n++] = "--config";
        argv[n++] = l;
    }
    argv[n] = NULL;
    ck_assert_int_eq(finish(start(NULL, 0, argv)), 0);
    OK(CANO("topic", "config", "a"));
    char *a = strdup(out);
    OK(CANO("topic", "config", "b"));
    ck_assert_str_eq(out, a);
    OUT_HAS("partitions=4\n");
    OUT_HAS("sync.mode=none\n");
    free(a);
    free(first);
}
END_TEST

START_TEST(test_cli_topic_config_cannot_be_set)
{
    OK(CANO("topic", "create", "t"));
    ck_assert_int_eq(CANO("topic", "config", "t", "retention.ms=1"), 1);
    ERR_HAS("fixed when it is created");
    ck_assert_int_eq(CANO("topic", "config", "t", "no.such.key"), 2);
    ck_assert_int_eq(CANO("topic", "config", "nosuch"), 1);
    ERR_HAS("cano: topic 'nosuch': not found");
}
END_TEST

START_TEST(test_cli_topic_create_bad_values)
{
    ck_assert_int_eq(CANO("topic", "create", "t", "--partitions", "x"), 2);
    ck_assert_int_eq(CANO("topic", "create", "t", "--cleanup-policy", "x"), 2);
    ERR_HAS("bad value 'x' for cleanup.policy");
    ck_assert_int_eq(CANO("topic", "create", "t", "--config", "nokey=1"), 2);
    ERR_HAS("unknown setting 'nokey'");
    ck_assert_int_eq(CANO("topic", "create", "t", "--config", "retention.ms"),
                     2);
    ck_assert_int_eq(CANO("topic", "create", "t", "--retention-ms", "1y"), 2);
    ck_assert_int_eq(CANO("topic", "create", "t", "--config",
                          "min.cleanable.dirty.ratio=2"), 2);
    ck_assert_int_eq(CANO("topic", "create"), 2);
    ck_assert(!tu_exists(store));         /* nothing was opened */
    ck_assert_int_eq(CANO("topic", "create", "t", "--partitions",
                          "200000"), 1);
    ERR_HAS("cano: create topic 't': invalid argument");
}
END_TEST

START_TEST(test_cli_topic_describe)
{
    make_topic();
    cano_partition_info p0 = pstat("t", 0), p1 = pstat("t", 1);
    OK(CANO("topic", "describe", "t"));
    char want[4096], b0[32], b1[32];
    snprintf(b0, sizeof b0, "%lld", (long long)p0.bytes);
    snprintf(b1, sizeof b1, "%lld", (long long)p1.bytes);
    int w = (int)(strlen(b0) > strlen(b1) ? strlen(b0) : strlen(b1));
    if (w < 5)
        w = 5;
    snprintf(want, sizeof want,
             "Topic: t\nConfig:\n"
             "  cleanup.policy=delete\n  compression.type=none\n"
             "  compression.zlib.level=6\n  delete.retention.ms=86400000\n"
             "  index.interval.bytes=4096\n  max.compaction.lag.ms=-1\n"
             "  max.message.bytes=4194304\n  max.record.bytes=1048576\n"
             "  message.timestamp.type=CreateTime\n"
             "  min.cleanable.dirty.ratio=0.5\n  min.compaction.lag.ms=0\n"
             "  partitions=2\n  retention.bytes=-1\n  retention.groups=\n"
             "  retention.groups.max.bytes=-1\n  retention.ms=604800000\n"
             "  segment.bytes=1073741824\n  segment.ms=604800000\n"
             "  sync.mode=default\n"
             "Partitions:\n"
             "  PARTITION  START  END  DURABLE  SEGMENTS  %*s  DIRTY  "
             "MAX-TIMESTAMP\n"
             "          0      0    3        3         1  %*s   0.00  "
             "2023-11-14T22:13:20.000Z\n"
             "          1      0    1        1         1  %*s   0.00  "
             "2023-11-14T22:13:20.000Z\n",
             w, "BYTES", w, b0, w, b1);
    OUT_IS(want);
    /* Without a name: every topic, separated by an empty line. */
    OK(CANO("topic", "create", "u"));
    OK(CANO("topic", "describe"));
    OUT_HAS("Topic: t\n");
    OUT_HAS("\n\nTopic: u\n");
    ck_assert_int_eq(CANO("topic", "describe", "nosuch"), 1);
}
END_TEST

/* ---- produce and consume ---- */

START_TEST(test_cli_produce_lines_to_text)
{
    OK(CANO("topic", "create", "t"));
    OK(CANO_IN("a\nb\n\nlast", "produce", "t"));
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "");
    OK(CANO("consume", "t"));
    OUT_IS("a\nb\n\nlast\n");
    OK(CANO("consume", "t", "--print-offset", "--print-key"));
    OUT_IS("0\tnull\ta\n1\tnull\tb\n2\tnull\t\n3\tnull\tlast\n");
    OK(CANO_IN("", "produce", "t"));        /* no input: nothing appended */
    ck_assert_int_eq(pstat("t", 0).end_offset, 4);
}
END_TEST

START_TEST(test_cli_produce_keys_and_headers)
{
    OK(CANO("topic", "create", "t"));
    OK(CANO_IN("k1::v1\nk2::v::2\n::v3\n", "produce", "t", "-k", "::",
               "-H", "h1=x", "--header", "flag", "-H", "e="));
    OK(CANO("consume", "t", "--print-key", "--print-headers"));
    OUT_IS("k1\th1=x,flag,e=\tv1\n"
           "k2\th1=x,flag,e=\tv::2\n"
           "\th1=x,flag,e=\tv3\n");
    OK(CANO("consume", "t", "--format", "json", "--max", "1"));
    ck_assert_msg(strstr(out, "\"headers\":[{\"name\":\"h1\",\"value\":\"x\"},"
                         "{\"name\":\"flag\",\"value\":null},"
                         "{\"name\":\"e\",\"value\":\"\"}]") != NULL,
                  "%s", out);
    /* A line without the separator stops produce; lines before it stay. */
    ck_assert_int_eq(CANO_IN("k4::v4\nnokey\nk5::v5\n", "produce", "t",
                             "-k", "::"), 1);
    ERR_HAS("line 2: no key separator");
    OK(CANO("consume", "t", "--offset", "3", "-p", "0", "--print-key"));
    OUT_IS("k4\tv4\n");
}
END_TEST

START_TEST(test_cli_produce_partition)
{
    OK(CANO("topic", "create", "t", "-p", "3"));
    OK(CANO_IN("a\nb\n", "produce", "t", "--partition", "2"));
    OK(CANO("consume", "t", "-p", "2"));
    OUT_IS("a\nb\n");
    OK(CANO("consume", "t", "-p", "0"));
    OUT_IS("");
    ck_assert_int_eq(CANO_IN("c\n", "produce", "t", "-p", "3"), 1);
    ERR_HAS("has no partition 3");
    ck_assert_int_eq(CANO("consume", "t", "-p", "3"), 1);
}
END_TEST

START_TEST(test_cli_produce_keys_pick_partitions)
{
    OK(CANO("topic", "create", "t", "-p", "4"));
    OK(CANO_IN("k0 a\nk1 b\nk2 c\nk3 d\nk4 e\nk5 f\nk6 g\nk7 h\n", "produce",
               "t", "-k", " ", "--batch", "8"));
    OK(CANO("consume", "t", "--print-partition", "--print-key",
            "--field-separator", ":"));
    /* Every record is where cano_partition_for_key says, in order. */
    cano_t *db = tu_open(store);
    cano_topic_t *t = tu_topic(db, "t");
    char want[256] = "";
    for (int32_t p = 0; p < 4; p++)
        for (int i = 0; i < 8; i++) {
            char key[8], line[32];
            snprintf(key, sizeof key, "k%d", i);
            if (cano_partition_for_key(t, key, strlen(key)) != p)
                continue;
            snprintf(line, sizeof line, "%d:%s:%c\n", (int)p, key, 'a' + i);
            strcat(want, line);
        }
    ck_assert_int_eq(cano_close(db), CANO_OK);
    OUT_IS(want);
}
END_TEST

START_TEST(test_cli_produce_batch)
{
    OK(CANO("topic", "create", "t"));
    OK(CANO_IN("1\n2\n3\n4\n5\n6\n7\n", "produce", "t", "--batch", "3",
               "--verbose"));
    ck_assert_str_eq(err, "cano: produced 7 records to 't' in 3 batches\n");
    OK(CANO("consume", "t", "--print-offset", "--field-separator", "="));
    OUT_IS("0=1\n1=2\n2=3\n3=4\n4=5\n5=6\n6=7\n");
    /* Keyless lines of a batch go to one partition, round-robin. */
    OK(CANO("topic", "create", "r", "-p", "2"));
    OK(CANO_IN("a\nb\nc\nd\n", "produce", "r", "-b", "2"));
    ck_assert_int_eq(pstat("r", 0).end_offset, 2);
    ck_assert_int_eq(pstat("r", 1).end_offset, 2);
}
END_TEST

START_TEST(test_cli_produce_timestamps)
{
    OK(CANO("topic", "create", "t"));
    OK(CANO_IN("1700000000000\ta\n2023-11-14T22:13:21Z\tb\n"
               "2023-11-14 22:13:22.5+00:00\tc\n2023-11-14T23:13:23+01:00\td\n",
               "produce", "t", "--timestamp-separator", "\\t"));
    OK(CANO("consume", "t", "--print-timestamp"));
    OUT_IS("1700000000000\ta\n1700000001000\tb\n1700000002500\tc\n"
           "1700000003000\td\n");
    /* Local time comes from TZ (UTC here). */
    OK(CANO_IN("2023-11-14T22:13:24|k|e\n", "produce", "t", "-T", "|",
               "-k", "|"));
    OK(CANO("consume", "t", "--offset", "4", "-p", "0", "--print-timestamp",
            "--print-key"));
    OUT_IS("1700000004000\tk\te\n");
    ck_assert_int_eq(CANO_IN("yesterday\tx\n", "produce", "t", "-T", "\\t"),
                     1);
    ERR_HAS("line 1: bad timestamp 'yesterday'");
    ck_assert_int_eq(CANO_IN("x\n", "produce", "t", "-T", "\\t"), 1);
    ERR_HAS("line 1: no timestamp separator");
    ck_assert_int_eq(CANO("produce", "t", "--timestamp", "soon"), 2);
}
END_TEST

START_TEST(test_cli_produce_create)
{
    ck_assert_int_eq(CANO_IN("x\n", "produce", "t"), 1);
    ck_assert(!tu_exists(store));
    OK(CANO_IN("x\n", "produce", "t", "--create"));
    OK(CANO("consume", "t"));
    OUT_IS("x\n");
    ck_assert_int_eq(CANO_IN("y\n", "produce", "u"), 1);
    ERR_HAS("cano: topic 'u': not found");
}
END_TEST

START_TEST(test_cli_produce_from_file)
{
    char path[TU_PATH_MAX];
    tu_path(path, "%s/input", tmp);
    ck_assert_int_eq(tu_write_file(path, "f1\nf2\n", 6), 0);
    OK(CANO("topic", "create", "t"));
    OK(CANO("produce", "t", "--file", path));
    ck_assert_str_eq(err, "");            /* no progress bar off a tty */
    OK(CANO("consume", "t"));
    OUT_IS("f1\nf2\n");
    ck_assert_int_eq(CANO("produce", "t", "-f", "/nonexistent/x"), 1);
    ERR_HAS("/nonexistent/x");
}
END_TEST

/* Strips "timestamp":N from JSON lines, so that exact comparisons do not
 * depend on the clock. */
static void strip_timestamps(char *s)
{
    char *p;
    while ((p = strstr(s, "\"timestamp\":")) != NULL) {
        char *e = p + 12;
        while (*e >= '0' && *e <= '9')
            e++;
        if (*e == ',')
            e++;
        memmove(p, e, strlen(e) + 1);
    }
}

START_TEST(test_cli_produce_null_marker_json)
{
    OK(CANO("topic", "create", "t", "--cleanup-policy", "compact"));
    static const char in[] = "a=multi\nline\0b=NULL\0c=\0";
    OK(CANO_INN(in, sizeof in - 1, "produce", "t", "-k", "=",
                "--delimiter", "\\0", "--null-marker", "NULL"));
    OK(CANO("consume", "t", "--format", "json"));
    strip_timestamps(out);
    OUT_IS("{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"key\":\"a\","
           "\"value\":\"multi\\nline\",\"headers\":[]}\n"
           "{\"topic\":\"t\",\"partition\":0,\"offset\":1,\"key\":\"b\","
           "\"value\":null,\"headers\":[]}\n"
           "{\"topic\":\"t\",\"partition\":0,\"offset\":2,\"key\":\"c\","
           "\"value\":\"\",\"headers\":[]}\n");
    OK(CANO("consume", "t", "--print-key"));
    OUT_IS("a\tmulti\\nline\nb\tnull\nc\t\n");
    ck_assert_int_eq(CANO("produce", "t", "--delimiter", "ab"), 2);
}
END_TEST

START_TEST(test_cli_consume_json)
{
    OK(CANO("topic", "create", "ev"));
    static const char in[] = "k1\tvalue one\n\tbin\x01\xff\n";
    OK(CANO_INN(in, sizeof in - 1, "produce", "ev", "-k", "\\t", "-t",
                "1700000000000", "-H", "src=test"));
    OK(CANO_IN("no key\n", "produce", "ev", "-t", "1700000000001",
               "--header", "\\xff=x"));
    OK(CANO("consume", "ev", "--format", "json"));
    OUT_IS("{\"topic\":\"ev\",\"partition\":0,\"offset\":0,"
           "\"timestamp\":1700000000000,\"key\":\"k1\",\"value\":\"value one\","
           "\"headers\":[{\"name\":\"src\",\"value\":\"test\"}]}\n"
           "{\"topic\":\"ev\",\"partition\":0,\"offset\":1,"
           "\"timestamp\":1700000000000,\"key\":\"\","
           "\"value\":{\"base64\":\"YmluAf8=\"},"
           "\"headers\":[{\"name\":\"src\",\"value\":\"test\"}]}\n"
           "{\"topic\":\"ev\",\"partition\":0,\"offset\":2,"
           "\"timestamp\":1700000000001,\"key\":null,\"value\":\"no key\","
           "\"headers\":[{\"name\":\"\\\\xff\",\"value\":\"x\"}]}\n");
}
END_TEST

START_TEST(test_cli_consume_json_escapes)
{
    OK(CANO("topic", "create", "t"));
    static const char in[] = "q\"b\\s\tt\x01 \xc3\xa9 \xe2\x82\xac\x7f\n"
                             "\xed\xa0\x80\n\xc0\xaf\n";
    OK(CANO_INN(in, sizeof in - 1, "produce", "t"));
    OK(CANO("consume", "t", "--format", "json"));
    strip_timestamps(out);
    /* Surrogates and overlong forms are not UTF-8: base64. */
    OUT_IS("{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"key\":null,"
           "\"value\":\"q\\\"b\\\\s\\tt\\u0001 \xc3\xa9 \xe2\x82\xac\x7f\","
           "\"headers\":[]}\n"
           "{\"topic\":\"t\",\"partition\":0,\"offset\":1,\"key\":null,"
           "\"value\":{\"base64\":\"7aCA\"},\"headers\":[]}\n"
           "{\"topic\":\"t\",\"partition\":0,\"offset\":2,\"key\":null,"
           "\"value\":{\"base64\":\"wK8=\"},\"headers\":[]}\n");
}
END_TEST

START_TEST(test_cli_consume_text_escapes)
{
    OK(CANO("topic", "create", "t"));
    static const char in[] = "back\\slash\ttab\rcr\x01\xff \xc3\xa9|"
                             "two\nlines|";
    OK(CANO_INN(in, sizeof in - 1, "produce", "t", "-d", "|"));
    OK(CANO("consume", "t"));
    OUT_IS("back\\\\slash\\ttab\\rcr\\x01\\xff \xc3\xa9\ntwo\\nlines\n");
    OK(CANO("consume", "t", "--delimiter", ";"));
    OUT_IS("back\\\\slash\\ttab\\rcr\\x01\\xff \xc3\xa9;two\\nlines;");
}
END_TEST

START_TEST(test_cli_consume_raw)
{
    OK(CANO("topic", "create", "t"));
    static const char in[] = "bin\x01\xff\nwith\\escape|two\nlines|";
    OK(CANO_INN(in, sizeof in - 1, "produce", "t", "-d", "|"));
    OK(CANO("consume", "t", "--format", "raw"));
    static const char want[] = "bin\x01\xff\nwith\\escape\ntwo\nlines\n";
    ck_assert_uint_eq(out_len, sizeof want - 1);
    ck_assert_mem_eq(out, want, sizeof want - 1);
    OK(CANO("consume", "t", "--format", "raw", "--delimiter", ""));
    static const char cat[] = "bin\x01\xff\nwith\\escapetwo\nlines";
    ck_assert_uint_eq(out_len, sizeof cat - 1);
    ck_assert_mem_eq(out, cat, sizeof cat - 1);
}
END_TEST

START_TEST(test_cli_consume_raw_round_trip)
{
    OK(CANO("topic", "create", "a"));
    OK(CANO("topic", "create", "b"));
    static const char in[] = "x\ny\0\0\xff\xfe\0\\0\0";
    OK(CANO_INN(in, sizeof in - 1, "produce", "a", "-d", "\\0"));
    OK(CANO("consume", "a", "--format", "raw", "--delimiter", "\\0"));
    ck_assert_uint_eq(out_len, sizeof in - 1);
    ck_assert_mem_eq(out, in, sizeof in - 1);
    char *copy = malloc(out_len);
    size_t n = out_len;
    memcpy(copy, out, n);
    OK(CANO_INN(copy, n, "produce", "b", "-d", "\\0"));
    OK(CANO("consume", "b", "--format", "raw", "--delimiter", "\\0"));
    ck_assert_uint_eq(out_len, n);
    ck_assert_mem_eq(out, copy, n);
    free(copy);
}
END_TEST

START_TEST(test_cli_consume_offsets)
{
    make_topic();
    OK(CANO("consume", "t", "-p", "0", "--offset", "1", "--print-offset"));
    OUT_IS("1\tv1\n2\tv2\n");
    OK(CANO("consume", "t", "--offset", "earliest"));
    OUT_IS("v0\nv1\nv2\nv3\n");
    OK(CANO("consume", "t", "--offset", "latest"));
    OUT_IS("");
    OK(CANO("consume", "t", "-p", "0", "-o", "3"));
    OUT_IS("");
    ck_assert_int_eq(CANO("consume", "t", "-p", "0", "-o", "4"), 1);
    ERR_HAS("cano: read t/0: offset out of range");
    ck_assert_int_eq(CANO("consume", "t", "-o", "1"), 2);
    ERR_HAS("--offset N needs --partition");
    ck_assert_int_eq(CANO("consume", "t", "-o", "first"), 2);
}
END_TEST

START_TEST(test_cli_consume_from_time)
{
    OK(CANO("topic", "create", "t"));
    OK(CANO_IN("1700000000000 a\n1700000060000 b\n1700003600000 c\n",
               "produce", "t", "-T", " "));
    OK(CANO("consume", "t", "--from-time", "1700000000001"));
    OUT_IS("b\nc\n");
    OK(CANO("consume", "t", "-s", "2023-11-14T22:14:20Z"));
    OUT_IS("b\nc\n");
    OK(CANO("consume", "t", "-s", "2023-11-14T23:00"));   /* TZ=UTC */
    OUT_IS("c\n");
    OK(CANO("consume", "t", "-s", "2023-11-15"));
    OUT_IS("");
    OK(CANO("consume", "t", "-s", "-1d"));              /* all in 2023 */
    OUT_IS("");
    /* Relative to now. */
    OK(CANO("topic", "create", "r"));
    OK(CANO_IN("old\n", "produce", "r", "--timestamp", "now-3d"));
    OK(CANO_IN("new\n", "produce", "r", "--timestamp", "-1h"));
    OK(CANO("consume", "r", "--from-time", "-2d"));
    OUT_IS("new\n");
    OK(CANO("consume", "r", "--from-time", "now-4d"));
    OUT_IS("old\nnew\n");
    ck_assert_int_eq(CANO("consume", "r", "-s", "2023-13-01"), 2);
    ck_assert_int_eq(CANO("consume", "r", "-s", "-1y"), 2);
}
END_TEST

START_TEST(test_cli_consume_max)
{
    make_topic();
    OK(CANO("consume", "t", "--max", "2"));
    OUT_IS("v0\nv1\n");
    OK(CANO("consume", "t", "-n", "4", "--print-partition"));
    OUT_IS("0\tv0\n0\tv1\n0\tv2\n1\tv3\n");
    ck_assert_int_eq(CANO("consume", "t", "--max", "0"), 2);
}
END_TEST

START_TEST(test_cli_consume_group_resumes)
{
    make_topic();
    OK(CANO("consume", "t", "--group", "g", "--max", "2"));
    OUT_IS("v0\nv1\n");
    OK(CANO("consume", "t", "-g", "g"));
    OUT_IS("v2\nv3\n");
    OK(CANO("consume", "t", "-g", "g"));
    OUT_IS("");
    OK(CANO_IN("v4\n", "produce", "t", "-p", "1"));
    OK(CANO("consume", "t", "-g", "g", "--no-commit"));
    OUT_IS("v4\n");
    OK(CANO("consume", "t", "-g", "g"));
    OUT_IS("v4\n");
    /* Each group has its own position, and commits are durable. */
    OK(CANO("consume", "t", "-g", "other", "-p", "1"));
    OUT_IS("v3\nv4\n");
    cano_t *db = tu_open(store);
    int64_t off;
    ck_assert_int_eq(cano_committed(db, "g", "t", 0, &off), CANO_OK);
    ck_assert_int_eq(off, 3);
    ck_assert_int_eq(cano_committed(db, "g", "t", 1, &off), CANO_OK);
    ck_assert_int_eq(off, 2);
    ck_assert_int_eq(cano_committed(db, "other", "t", 1, &off), CANO_OK);
    ck_assert_int_eq(off, 2);
    ck_assert_int_eq(cano_committed(db, "other", "t", 0, &off),
                     CANO_ENOTFOUND);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_cli_consume_group_with_start)
{
    make_topic();
    /* An explicit start overrides the committed position. */
    OK(CANO("consume", "t", "-g", "g", "-p", "0", "-o", "2"));
    OUT_IS("v2\n");
    OK(CANO("consume", "t", "-g", "g", "-p", "0"));
    OUT_IS("");
    OK(CANO("consume", "t", "-g", "g", "-p", "0", "-o", "earliest",
            "--max", "1"));
    OUT_IS("v0\n");
    OK(CANO("consume", "t", "-g", "g", "-p", "0"));
    OUT_IS("v1\nv2\n");
}
END_TEST

START_TEST(test_cli_consume_follow_max_returns)
{
    make_topic();
    OK(CANO("consume", "t", "--follow", "--max", "3"));
    OUT_IS("v0\nv1\nv2\n");
    int64_t t0 = tu_now_ms();
    OK(CANO("consume", "t", "--follow", "--timeout", "200", "--poll", "50"));
    OUT_IS("v0\nv1\nv2\nv3\n");
    ck_assert_int_lt(tu_now_ms() - t0, 5000);
}
END_TEST

/* Waits until tmp/stdout holds want (up to 10 s). */
static int wait_output(const char *want)
{
    char p[TU_PATH_MAX];
    tu_path(p, "%s/stdout", tmp);
    for (int i = 0; i < 1000; i++) {
        size_t len;
        char *s = slurp(p, &len);
        int ok = strcmp(s, want) == 0;
        free(s);
        if (ok)
            return 1;
        tu_sleep_ms(10);
    }
    return 0;
}

START_TEST(test_cli_consume_follow_stops_on_sigterm)
{
    make_topic();
    char *argv[] = { NULL, store, "consume", "t", "--follow", "--group", "g",
                     "--poll", "50", NULL };
    pid_t pid = start(NULL, 0, argv);
    ck_assert(wait_output("v0\nv1\nv2\nv3\n"));
    tu_sleep_ms(100);
    kill(pid, SIGTERM);
    ck_assert_int_eq(finish(pid), 0);
    OUT_IS("v0\nv1\nv2\nv3\n");
    /* It committed and closed the store cleanly. */
    cano_t *db = tu_open(store);
    int64_t off;
    ck_assert_int_eq(cano_committed(db, "g", "t", 0, &off), CANO_OK);
    ck_assert_int_eq(off, 3);
    ck_assert_int_eq(cano_committed(db, "g", "t", 1, &off), CANO_OK);
    ck_assert_int_eq(off, 1);
    tu_report rep = { .n = 0 };
    ck_assert_int_eq(cano_recovery_report(db, tu_report_collect, &rep), 0);
    ck_assert_int_eq(cano_close(db), CANO_OK);
}
END_TEST

START_TEST(test_cli_consume_follow_sees_new_records)
{
    make_topic();
    char *argv[] = { NULL, store, "consume", "t", "--follow", "-p", "1",
                     "--poll", "50", NULL };
    pid_t pid = start(NULL, 0, argv);
    ck_assert(wait_output("v3\n"));
    /* A producer gets in while the follower sleeps (it waits for the lock
     * when they collide). */
    char *pargv[] = { NULL, "--lock-timeout", "5s", store, "produce", "t",
                      "-p", "1", NULL };
    char out_copy[TU_PATH_MAX], p[TU_PATH_MAX];
    tu_path(p, "%s/stdout", tmp);
    tu_path(out_copy, "%s/follow.out", tmp);
    ck_assert_int_eq(rename(p, out_copy), 0);    /* the follower keeps it */
    pid_t prod = start("late\n", 5, pargv);
    ck_assert_int_eq(finish(prod), 0);
    int seen = 0;
    for (int i = 0; i < 1000 && !seen; i++) {
        size_t len;
        char *s = slurp(out_copy, &len);
        seen = strcmp(s, "v3\nlate\n") == 0;
        free(s);
        if (!seen)
            tu_sleep_ms(10);
    }
    ck_assert(seen);
    kill(pid, SIGINT);
    ck_assert_int_eq(finish(pid), 0);
}
END_TEST

/* ---- stats ---- */

START_TEST(test_cli_stats_json)
{
    make_topic();
    OK(CANO("topic", "create", "c", "--cleanup-policy", "compact,delete"));
    OK(CANO("consume", "t", "-g", "g1", "--max", "1"));
    OK(CANO("consume", "t", "-g", "g2", "-p", "1"));
    cano_partition_info p0 = pstat("t", 0), p1 = pstat("t", 1),
                        c0 = pstat("c", 0);
    OK(CANO("stats", "--json"));
    char want[2048];
    snprintf(want, sizeof want,
        "{\"topics\":["
        "{\"topic\":\"c\",\"cleanup_policy\":\"compact,delete\","
        "\"partitions\":["
        "{\"partition\":0,\"start_offset\":0,\"end_offset\":0,"
        "\"durable_offset\":0,\"segments\":1,\"bytes\":%lld,"
        "\"max_timestamp\":-1,\"dirty_ratio\":0,\"cleaned_offset\":0}]},"
        "{\"topic\":\"t\",\"cleanup_policy\":\"delete\",\"partitions\":["
        "{\"partition\":0,\"start_offset\":0,\"end_offset\":3,"
        "\"durable_offset\":3,\"segments\":1,\"bytes\":%lld,"
        "\"max_timestamp\":1700000000000,\"dirty_ratio\":0,"
        "\"cleaned_offset\":0},"
        "{\"partition\":1,\"start_offset\":0,\"end_offset\":1,"
        "\"durable_offset\":1,\"segments\":1,\"bytes\":%lld,"
        "\"max_timestamp\":1700000000000,\"dirty_ratio\":0,"
        "\"cleaned_offset\":0}]}],"
        "\"groups\":["
        "{\"group\":\"g1\",\"topic\":\"t\",\"partition\":0,\"committed\":1,"
        "\"end_offset\":3,\"lag\":2},"
        "{\"group\":\"g2\",\"topic\":\"t\",\"partition\":1,\"committed\":1,"
        "\"end_offset\":1,\"lag\":0}]}\n",
        (long long)c0.bytes, (long long)p0.bytes, (long long)p1.bytes);
    OUT_IS(want);
    OK(CANO("stats", "c", "--json"));
    OUT_HAS("\"groups\":[]}");
    ck_assert_int_eq(CANO("stats", "nosuch"), 1);
}
END_TEST

START_TEST(test_cli_stats_table)
{
    OK(CANO("topic", "create", "t", "-p", "2"));
    OK(CANO_IN("a\nb\n", "produce", "t", "-p", "0", "-t", "1700000000000"));
    OK(CANO("consume", "t", "-g", "grp", "-p", "0", "--max", "1"));
    cano_partition_info p0 = pstat("t", 0);
    char b0[32], want[1024];
    snprintf(b0, sizeof b0, "%lld", (long long)p0.bytes);
    int w = (int)strlen(b0) > 5 ? (int)strlen(b0) : 5;
    snprintf(want, sizeof want,
             "TOPIC  PARTITION  START  END  DURABLE  SEGMENTS  %*s  DIRTY\n"
             "t              0      0    2        2         1  %*s   0.00\n"
             "t              1      0    0        0         1  %*s   0.00\n"
             "\n"
             "GROUP  TOPIC  PARTITION  COMMITTED  END  LAG\n"
             "grp    t              0          1    2    1\n",
             w, "BYTES", w, b0, w, "0");
    OK(CANO("stats"));                    /* stdout is a file: no bars */
    OUT_IS(want);
    OK(CANO("stats", "--no-bars"));
    OUT_IS(want);
    OK(CANO("stats", "--bars"));
    /* Partition 0 is the largest: a full 20-cell bar; the lag too. */
    OUT_HAS("0.00  \u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588"
            "\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\n");
    OUT_HAS("    1  \u2588\u2588\u2588");
    OK(CANO("topic", "delete", "t"));
    OK(CANO("stats"));
    OUT_IS("no topics\n");
}
END_TEST

/* ---- Maintenance ---- */

START_TEST(test_cli_compact)
{
    OK(CANO("topic", "create", "c", "--cleanup-policy", "compact",
            "--segment-bytes", "100"));
    OK(CANO_IN("a=1\nb=1\na=2\nb=2\na=3\nc=1\nb=3\nz=end\n", "produce", "c",
               "-k", "="));
    OK(CANO("consume", "c", "--print-key", "--print-offset"));
    ck_assert_int_eq(pstat("c", 0).segments, 8);
    OK(CANO("compact", "c", "0", "--verbose"));
    OUT_HAS("c/0: start 0 -> 0, segments 8 -> ");
    /* The active segment (z) is never compacted; below it, the latest
     * record of each key stays, at its offset. */
    OK(CANO("consume", "c", "--print-key", "--print-offset"));
    OUT_IS("4\ta\t3\n5\tc\t1\n6\tb\t3\n7\tz\tend\n");
    ck_assert_int_eq(CANO("compact", "c", "1"), 1);
    ERR_HAS("has no partition 1");
    ck_assert_int_eq(CANO("compact", "c", "x"), 2);
    OK(CANO("topic", "create", "d"));
    ck_assert_int_eq(CANO("compact", "d"), 1);
    ERR_HAS("topic 'd' is not compacted");
    OK(CANO("compact"));                  /* every compacted topic */
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(CANO("compact", "nosuch"), 1);
}
END_TEST

START_TEST(test_cli_retention)
{
    OK(CANO("topic", "create", "r", "--retention-ms", "1d",
            "--segment-bytes", "50"));
    OK(CANO("topic", "create", "keep", "--retention-ms", "-1",
            "--segment-bytes", "50"));
    OK(CANO_IN("old1\nold2\n", "produce", "r", "--timestamp", "now-3d"));
    OK(CANO_IN("new1\nnew2\n", "produce", "r"));
    OK(CANO_IN("old1\nold2\nnew\n", "produce", "keep", "-t", "now-3d"));
    OK(CANO("retention", "-v"));
    OUT_HAS("r/0: start 0 -> 2, segments 4 -> 2, bytes ");
    ck_assert(strstr(out, "keep") == NULL);
    OK(CANO("consume", "r"));
    OUT_IS("new1\nnew2\n");
    OK(CANO("consume", "keep"));
    OUT_IS("old1\nold2\nnew\n");
    ck_assert_int_eq(CANO("retention", "extra"), 2);
}
END_TEST

START_TEST(test_cli_delete_records)
{
    make_topic();
    OK(CANO("delete-records", "t", "0", "2"));
    ck_assert_str_eq(out, "");
    OK(CANO("consume", "t", "-p", "0"));
    OUT_IS("v2\n");
    ck_assert_int_eq(pstat("t", 0).start_offset, 2);
    OK(CANO("delete-records", "t", "0", "1", "-v"));   /* no change */
    OUT_IS("t/0: start 2 -> 2\n");
    OK(CANO("delete-records", "t", "1", "latest", "--verbose"));
    OUT_IS("t/1: start 0 -> 1\n");
    OK(CANO("consume", "t"));
    OUT_IS("v2\n");
    ck_assert_int_eq(CANO("delete-records", "t", "0", "9"), 1);
    ERR_HAS("cano: delete records of t/0: offset out of range");
    ck_assert_int_eq(CANO("delete-records", "t", "5", "0"), 1);
    ck_assert_int_eq(CANO("delete-records", "t", "0", "-1"), 2);
    ck_assert_int_eq(CANO("delete-records", "nosuch", "0", "0"), 1);
    /* A group behind the new start resumes at the log start. */
    OK(CANO("consume", "t", "-g", "g", "-p", "0"));
    OUT_IS("v2\n");
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("usage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cli_help_every_command);
    tcase_add_test(tc, test_cli_help_dump_verify);
    tcase_add_test(tc, test_cli_global_help_and_version);
    tcase_add_test(tc, test_cli_bad_options_exit_2);
    tcase_add_test(tc, test_cli_missing_store_exit_1);
    tcase_add_test(tc, test_cli_locked_store);
    suite_add_tcase(s, tc);

    tc = tcase_create("topic");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cli_topic_create_list_delete);
    tcase_add_test(tc, test_cli_topic_create_existing);
    tcase_add_test(tc, test_cli_topic_bad_names);
    tcase_add_test(tc, test_cli_topic_config_from_options);
    tcase_add_test(tc, test_cli_topic_config_kafka_names);
    tcase_add_test(tc, test_cli_topic_config_round_trip);
    tcase_add_test(tc, test_cli_topic_config_cannot_be_set);
    tcase_add_test(tc, test_cli_topic_create_bad_values);
    tcase_add_test(tc, test_cli_topic_describe);
    suite_add_tcase(s, tc);

    tc = tcase_create("produce");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cli_produce_lines_to_text);
    tcase_add_test(tc, test_cli_produce_keys_and_headers);
    tcase_add_test(tc, test_cli_produce_partition);
    tcase_add_test(tc, test_cli_produce_keys_pick_partitions);
    tcase_add_test(tc, test_cli_produce_batch);
    tcase_add_test(tc, test_cli_produce_timestamps);
    tcase_add_test(tc, test_cli_produce_create);
    tcase_add_test(tc, test_cli_produce_from_file);
    tcase_add_test(tc, test_cli_produce_null_marker_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("consume");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cli_consume_json);
    tcase_add_test(tc, test_cli_consume_json_escapes);
    tcase_add_test(tc, test_cli_consume_text_escapes);
    tcase_add_test(tc, test_cli_consume_raw);
    tcase_add_test(tc, test_cli_consume_raw_round_trip);
    tcase_add_test(tc, test_cli_consume_offsets);
    tcase_add_test(tc, test_cli_consume_from_time);
    tcase_add_test(tc, test_cli_consume_max);
    tcase_add_test(tc, test_cli_consume_group_resumes);
    tcase_add_test(tc, test_cli_consume_group_with_start);
    tcase_add_test(tc, test_cli_consume_follow_max_returns);
    tcase_add_test(tc, test_cli_consume_follow_stops_on_sigterm);
    tcase_add_test(tc, test_cli_consume_follow_sees_new_records);
    suite_add_tcase(s, tc);

    tc = tcase_create("admin");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cli_stats_json);
    tcase_add_test(tc, test_cli_stats_table);
    tcase_add_test(tc, test_cli_compact);
    tcase_add_test(tc, test_cli_retention);
    tcase_add_test(tc, test_cli_delete_records);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    cli = getenv("CANO_CLI");
    if (!cli || !*cli) {
        fprintf(stderr, "check_cli: set CANO_CLI to the built cano command "
                "(make check-tools does)\n");
        return 1;
    }
    if (access(cli, X_OK) != 0) {
        fprintf(stderr, "check_cli: CANO_CLI=%s: %s\n", cli, strerror(errno));
        return 1;
    }
    setenv("TZ", "UTC", 1);               /* ISO times without a zone */
    tzset();
    SRunner *sr = srunner_create(cli_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
