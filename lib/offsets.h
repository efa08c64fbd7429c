/* offsets.h - consumer groups' committed offsets. */
#ifndef CANO_OFFSETS_H
#define CANO_OFFSETS_H
#include <pthread.h>
#include "internal.h"

#define CANO__OFFSETS_TOPIC "__consumer_offsets"

struct cano;

/* One committed position; log_offset orders commits of the same key. */
typedef struct cano__commit {
    char   *group, *topic;
    int32_t partition;
    int64_t offset, log_offset;
} cano__commit;

typedef struct cano__offsets {
    pthread_mutex_t lock;
    cano__commit   *e;               /* sorted by group, topic, partition */
    size_t          n, cap;
} cano__offsets;

void cano__offsets_init(cano__offsets *o);
void cano__offsets_free(cano__offsets *o);
/* Rebuilds the in-memory positions from the offsets topic, if it exists. */
int  cano__offsets_load(struct cano *db);
/* Drops (with tombstones in the offsets topic) the commits of a topic, or
 * with NULL those of every topic that does not exist. */
int  cano__offsets_forget(struct cano *db, const char *topic_or_null);
/* The smallest offset committed for topic/partition by the groups named in
 * `groups` ("*" = every group, else comma-separated names); -1 when none. */
int64_t cano__offsets_min(struct cano *db, const char *groups,
                          const char *topic, int32_t partition);
#endif
