/* store.h - the store: directory, lock, topic registry, flusher. */
#ifndef CANO_STORE_H
#define CANO_STORE_H
#include <pthread.h>
#include "offsets.h"
#include "ticker.h"
#include "topic.h"

#define CANO__LOCK_FILE  "cano+lock"
#define CANO__CLEAN_FILE "cano+clean"
#define CANO__TMP_PREFIX "cano+tmp."
#define CANO__DEL_PREFIX "cano+del."

struct cano {
    char        *dir;
    int          lock_fd;
    cano_options opts;
    cano__mapcache cache;

    pthread_mutex_t lock;           /* the registry below */
    struct cano_topic **topics;     /* sorted by name */
    size_t       n_topics, cap_topics;
    struct cano_topic **dead;       /* deleted topics, freed at close */
    size_t       n_dead, cap_dead;
    _Atomic uint64_t del_seq;       /* names of in-flight topic dirs */

    _Atomic bool fatal;             /* an fsync failed: refuse writes */
    _Atomic bool closed;
    _Atomic int  refs;              /* 1 + open readers */

    cano__offsets offsets;          /* consumer groups' committed offsets */
    cano__ticker flusher;           /* interval sync mode */
    cano__ticker maintainer;        /* maintenance_interval_ms */
};

/* Creates a topic; the name is checked by the caller (internal topics). */
int  cano__topic_create(struct cano *db, const char *name,
                        const cano_topic_config *cfg);
/* Records that an fsync failed: from now on the store refuses writes. */
int  cano__store_fatal(struct cano *db, int rc);
void cano__store_unref(struct cano *db);
int  cano__store_start_flusher(struct cano *db);
#endif
