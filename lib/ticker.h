/* ticker.h - a thread calling a function every interval until stopped. */
#ifndef CANO_TICKER_H
#define CANO_TICKER_H
#include <pthread.h>
#include "internal.h"

struct cano;

/* A thread that calls fn(db) every interval until stopped. */
typedef struct cano__ticker {
    pthread_t       thread;
    bool            running, stop;
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    int64_t         interval_us;
    void          (*fn)(struct cano *db);
    struct cano    *db;
} cano__ticker;

void cano__ticker_init(cano__ticker *k, struct cano *db,
                       void (*fn)(struct cano *), int64_t interval_ms);
int  cano__ticker_start(cano__ticker *k);
/* Stops and joins the thread if it runs; safe to call more than once. */
void cano__ticker_stop(cano__ticker *k);
void cano__ticker_destroy(cano__ticker *k);
#endif
