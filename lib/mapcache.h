/* mapcache.h - bounds how many segment files a store keeps mapped. */
#ifndef CANO_MAPCACHE_H
#define CANO_MAPCACHE_H
#include <pthread.h>
#include "segment.h"

typedef struct cano__mapcache {
    pthread_mutex_t lock;
    cano__segment *hand;        /* clock hand into the ring of mapped ones */
    int files, cap;
} cano__mapcache;

int  cano__cache_init(cano__mapcache *c, int cap);
void cano__cache_destroy(cano__mapcache *c);
/* Makes s mapped and keeps it so until the matching unpin. */
int  cano__seg_pin(cano__segment *s);
void cano__seg_unpin(cano__segment *s);
/* Drops the owner's reference (the segment left its partition): it is
 * freed once the last user unpins it. */
void cano__seg_discard(cano__segment *s);
/* Unmaps and frees s (its last reference is gone). */
void cano__seg_destroy(cano__segment *s);
int  cano__cache_files(cano__mapcache *c);
#endif
