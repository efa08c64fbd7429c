/* producer.c - sequence checks for idempotent appends (as Kafka's
 * idempotent producer).  Each batch of a producer carries its producer id
 * and first sequence number in the batch header; the partition remembers,
 * per producer, the next expected sequence and its last five batches, so a
 * retry after a timeout or a crash returns the original offsets instead of
 * writing again.  The state is snapshotted at every roll and clean close
 * and the batches after the snapshot are replayed at open. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "io.h"
#include "producer.h"

#define SNAPSHOT "producer-state"

static int32_t seq_after(int32_t seq, size_t n)
{
    return (int32_t)(((int64_t)seq + (int64_t)n) % ((int64_t)INT32_MAX + 1));
}

/* Producers are found through a small open-addressing hash, so that
 * loading a snapshot of many producers stays linear. */
static size_t pid_hash(int64_t pid, size_t n_slots)
{
    return (size_t)(((uint64_t)pid * 0x9E3779B97F4A7C15ull) >> 20) &
           (n_slots - 1);
}

static cano__producer *lookup(const cano__producers *ps, int64_t pid)
{
    if (!ps->n_slots)
        return NULL;
    for (size_t i = pid_hash(pid, ps->n_slots); ps->slot[i];
         i = (i + 1) & (ps->n_slots - 1))
        if (ps->e[ps->slot[i] - 1].pid == pid)
            return &ps->e[ps->slot[i] - 1];
    return NULL;
}

/* Rebuilds the hash for n + 1 producers when it is more than half full. */
static int reindex(cano__producers *ps)
{
    if (2 * (ps->n + 1) < ps->n_slots)
        return CANO_OK;
    size_t n_slots = ps->n_slots ? ps->n_slots * 2 : 16;
    while (2 * (ps->n + 1) >= n_slots)
        n_slots *= 2;
    uint32_t *slot = cano__calloc(n_slots, sizeof *slot);
    if (!slot)
        return cano__err(CANO_ENOMEM, "producer state");
    for (size_t j = 0; j < ps->n; j++) {
        size_t i = pid_hash(ps->e[j].pid, n_slots);
        while (slot[i])
            i = (i + 1) & (n_slots - 1);
        slot[i] = (uint32_t)(j + 1);
    }
    cano__free(ps->slot);
    ps->slot = slot;
    ps->n_slots = n_slots;
    return CANO_OK;
}

int cano__producers_check(const cano__producers *ps, int64_t pid,
                          int32_t seq, size_t n, int64_t *first)
{
    const cano__producer *pr = lookup(ps, pid);
    if (!pr || seq == pr->next_seq)
        return CANO_OK;
    for (int i = 0; i < pr->n_recent; i++)
        if (pr->recent[i].seq == seq && pr->recent[i].n == n) {
            *first = pr->recent[i].first;
            return 1;
        }
    return cano__err(CANO_ESEQUENCE, "producer %" PRId64 ": sequence %"
                     PRId32 " but %" PRId32 " expected", pid, seq,
                     pr->next_seq);
}

int cano__producers_record(cano__producers *ps, int64_t pid, int32_t seq,
                           size_t n, int64_t first)
{
    cano__producer *pr = lookup(ps, pid);
    if (!pr) {
        if (ps->n >= UINT32_MAX - 1)
            return cano__err(CANO_ENOMEM, "too many producers");
        int rc = reindex(ps);
        if (rc != CANO_OK)
            return rc;
        if (ps->n == ps->cap) {
            size_t cap = ps->cap ? ps->cap * 2 : 4;
            cano__producer *e = cano__realloc(ps->e, cap * sizeof *e);
            if (!e)
                return cano__err(CANO_ENOMEM, "producer state");
            ps->e = e;
            ps->cap = cap;
        }
        pr = &ps->e[ps->n++];
        memset(pr, 0, sizeof *pr);
        pr->pid = pid;
        size_t i = pid_hash(pid, ps->n_slots);
        while (ps->slot[i])
            i = (i + 1) & (ps->n_slots - 1);
        ps->slot[i] = (uint32_t)ps->n;
    }
    if (pr->n_recent == CANO__RECENT_BATCHES) {
        memmove(pr->recent, pr->recent + 1,
                (CANO__RECENT_BATCHES - 1) * sizeof *pr->recent);
        pr->n_recent--;
    }
    pr->recent[pr->n_recent].seq = seq;
    pr->recent[pr->n_recent].n = (uint32_t)n;
    pr->recent[pr->n_recent].first = first;
    pr->n_recent++;
    pr->next_seq = seq_after(seq, n);
    return CANO_OK;
}

void cano__producers_free(cano__producers *ps)
{
    cano__free(ps->e);
    cano__free(ps->slot);
    memset(ps, 0, sizeof *ps);
}

/* Text: "cano-producers=1", the offset it is valid up to, then per batch
 * remembered "pid seq n first" in order (the last one gives next_seq). */
int cano__producers_save(const cano__producers *ps, const char *dir,
                         int64_t end_offset, uint32_t file_mode)
{
    size_t cap = 64 + ps->n * CANO__RECENT_BATCHES * 80;
    char *buf = cano__malloc(cap);
    if (!buf)
        return cano__err(CANO_ENOMEM, "producer snapshot");
    size_t len = (size_t)snprintf(buf, cap, "cano-producers=1\n%" PRId64 "\n",
                                  end_offset);
    for (size_t i = 0; i < ps->n; i++)
        for (int j = 0; j < ps->e[i].n_recent; j++)
            len += (size_t)snprintf(buf + len, cap - len,
                                    "%" PRId64 " %" PRId32 " %" PRIu32
                                    " %" PRId64 "\n", ps->e[i].pid,
                                    ps->e[i].recent[j].seq,
                                    ps->e[i].recent[j].n,
                                    ps->e[i].recent[j].first);
    int rc = cano__io_write_atomic(dir, SNAPSHOT, buf, len, file_mode);
    cano__free(buf);
    return rc;
}

int cano__producers_load(cano__producers *ps, const char *dir,
                         int64_t *upto_out)
{
    char path[4200], *text;
    size_t len;
    *upto_out = -1;
    snprintf(path, sizeof path, "%s/" SNAPSHOT, dir);
    int rc = cano__io_read_small(path, 64 << 20, &text, &len);
    if (rc == CANO_ENOTFOUND)
        return CANO_OK;
    if (rc != CANO_OK)
        return rc;
    long long upto = 0;
    /* A damaged snapshot is reported (-2), and the caller replays the whole
     * log instead.  strtoll, not sscanf: sscanf measures the whole remaining text on
     * every call, which made a large snapshot quadratic to load. */
    const char *s = text;
    char *end;
    bool ok = !strncmp(s, "cano-producers=1\n", 17);
    if (ok) {
        upto = strtoll(s + 17, &end, 10);
        ok = end != s + 17 && *end == '\n' && upto >= 0;
        s = end + 1;
    }
    while (ok && rc == CANO_OK && *s) {
        long long pid = strtoll(s, &end, 10), seq = 0, n = 0, first = 0;
        ok = end != s && *end == ' ';
        if (ok)
            seq = strtoll(s = end + 1, &end, 10), ok = end != s && *end == ' ';
        if (ok)
            n = strtoll(s = end + 1, &end, 10), ok = end != s && *end == ' ';
        if (ok)
            first = strtoll(s = end + 1, &end, 10),
            ok = end != s && *end == '\n';
        ok = ok && pid >= 0 && seq >= 0 && seq <= INT32_MAX && n > 0 &&
             n <= UINT32_MAX && first >= 0;
        if (ok)
            rc = cano__producers_record(ps, pid, (int32_t)seq, (size_t)n,
                                        first);
        s = end + 1;
    }
    if (ok && rc == CANO_OK && s == text + len)
        *upto_out = upto;
    if (rc == CANO_OK && *upto_out < 0)
        *upto_out = -2;          /* damaged: the caller replays it all */
    cano__free(text);
    return rc;
}
