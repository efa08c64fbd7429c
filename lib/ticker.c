/* ticker.c - a background thread that calls a function on an interval:
 * the interval flusher and the maintenance thread.  Stopping wakes it at
 * once rather than waiting out the interval. */
#include <time.h>
#include "store.h"

static void *ticker_main(void *arg)
{
    cano__ticker *k = arg;
    pthread_mutex_lock(&k->lock);
    while (!k->stop) {
        int64_t deadline = cano__mono_us() + k->interval_us;
        struct timespec ts = { (time_t)(deadline / 1000000),
                               (long)(deadline % 1000000) * 1000 };
        while (!k->stop && cano__mono_us() < deadline)
            pthread_cond_timedwait(&k->cond, &k->lock, &ts);
        if (k->stop)
            break;
        pthread_mutex_unlock(&k->lock);
        k->fn(k->db);
        pthread_mutex_lock(&k->lock);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

void cano__ticker_init(cano__ticker *k, struct cano *db,
                        void (*fn)(struct cano *), int64_t interval_ms)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, &ca);
    pthread_condattr_destroy(&ca);
    k->db = db;
    k->fn = fn;
    k->interval_us = interval_ms * 1000;
}

int cano__ticker_start(cano__ticker *k)
{
    int rc = CANO_OK;
    pthread_mutex_lock(&k->lock);
    if (!k->running) {
        k->stop = false;
        if (pthread_create(&k->thread, NULL, ticker_main, k) != 0)
            rc = cano__err(CANO_ENOMEM, "cannot start a thread");
        else
            k->running = true;
    }
    pthread_mutex_unlock(&k->lock);
    return rc;
}

void cano__ticker_stop(cano__ticker *k)
{
    pthread_mutex_lock(&k->lock);
    bool running = k->running;
    k->stop = true;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
    if (running)
        pthread_join(k->thread, NULL);
    k->running = false;
}

void cano__ticker_destroy(cano__ticker *k)
{
    pthread_mutex_destroy(&k->lock);
    pthread_cond_destroy(&k->cond);
}

