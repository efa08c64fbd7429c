/* topic.h - a topic: name, config, partitions, partitioner. */
#ifndef CANO_TOPIC_H
#define CANO_TOPIC_H
#include "partition.h"

struct cano_topic {
    struct cano     *db;
    char            *name;
    char            *dir;
    cano_topic_config cfg;           /* retention_groups points at groups */
    char            *groups;
    int32_t          sync_mode;      /* effective: the topic's or the store's */
    cano__partition **parts;
    _Atomic uint32_t round_robin;
    _Atomic bool     deleted;
};

bool cano__topic_name_ok(const char *name, bool allow_internal);
/* Copies a caller's config (NULL = defaults), checking every field. */
int  cano__config_import(cano_topic_config *dst, const cano_topic_config *src);
int  cano__config_write(const char *dir, const cano_topic_config *cfg,
                        uint32_t file_mode);
/* groups: 1025 bytes that receive the retention_groups string, to which
 * cfg->retention_groups then points. */
int  cano__config_read(const char *dir, cano_topic_config *cfg, char *groups);
/* Parses a config file's bytes (exposed for the fuzzer). */
int  cano__config_parse(const char *text, size_t len, cano_topic_config *cfg,
                        char *groups);

int  cano__topic_new(struct cano *db, const char *name, const char *dir,
                     const cano_topic_config *cfg, struct cano_topic **out);
int  cano__topic_load(struct cano_topic *t, bool clean);
void cano__topic_free(struct cano_topic *t);
/* Validates a partition argument; sets *out. */
int  cano__topic_partition(struct cano_topic *t, int32_t partition,
                           cano__partition **out);
#endif
