/* retention.h - time/size retention, delete-records, the log start. */
#ifndef CANO_RETENTION_H
#define CANO_RETENTION_H
#include "partition.h"

/* Reads the persisted log start (-1 when there is none or it is damaged). */
int64_t cano__start_read(const cano__partition *p);
/* Moves the log start forward durably (partition lock held). */
int  cano__start_write(cano__partition *p, int64_t start);
/* Removes the first k segments (sealed ones only), after persisting the log
 * start they leave behind.  Partition lock held. */
int  cano__drop_prefix(cano__partition *p, size_t k);
/* Applies retention_ms and retention_bytes now. */
int  cano__retention_run(cano__partition *p, int64_t now);
int  cano__delete_records(cano__partition *p, int64_t before);
#endif
