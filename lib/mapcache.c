/* mapcache.c - the cap on mapped segment files (cano_options.max_open_files).
 *
 * Mapped segments form a ring walked by a clock hand: a segment used since
 * the hand last passed gets a second chance, an unused one that nobody pins
 * is unmapped.  That approximates least-recently-used without touching a
 * shared list on every read.  Pinning is lock-free when the segment is
 * already mapped: the pinner raises `pins` then checks `mapped`; the evictor
 * clears `mapped` then checks that only the owner's reference is left.
 * With sequentially consistent atomics one of the two always sees the
 * other, so a pinned segment is never unmapped and an unmapping one is
 * never used.
 *
 * `pins` is also the segment's reference count: its owner (the partition's
 * list) holds one from cano__seg_new on, each user one more; whoever drops
 * the last frees it, so a segment removed by retention or compaction lives
 * exactly as long as its last reader needs it. */
#include "io.h"
#include "mapcache.h"

int cano__cache_init(cano__mapcache *c, int cap)
{
    memset(c, 0, sizeof *c);
    c->cap = cap;
    if (pthread_mutex_init(&c->lock, NULL) != 0)
        return cano__err(CANO_ENOMEM, "mutex");
    return CANO_OK;
}

void cano__cache_destroy(cano__mapcache *c)
{
    pthread_mutex_destroy(&c->lock);
}

int cano__cache_files(cano__mapcache *c)
{
    pthread_mutex_lock(&c->lock);
    int n = c->files;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void ring_insert(cano__mapcache *c, cano__segment *s)
{
    if (!c->hand) {
        s->lru_next = s->lru_prev = s;
        c->hand = s;
        return;
    }
    s->lru_next = c->hand;
    s->lru_prev = c->hand->lru_prev;
    s->lru_prev->lru_next = s;
    c->hand->lru_prev = s;
}

static void ring_remove(cano__mapcache *c, cano__segment *s)
{
    if (!s->lru_next)
        return;
    if (s->lru_next == s) {
        c->hand = NULL;
    } else {
        s->lru_prev->lru_next = s->lru_next;
        s->lru_next->lru_prev = s->lru_prev;
        if (c->hand == s)
            c->hand = s->lru_next;
    }
    s->lru_next = s->lru_prev = NULL;
}

/* Tries to unmap s; fails when someone pins it. Lock held. */
static bool try_evict(cano__mapcache *c, cano__segment *s)
{
    atomic_store(&s->mapped, false);
    if (atomic_load(&s->pins) != 1) {
        atomic_store(&s->mapped, true);
        return false;
    }
    ring_remove(c, s);
    cano__seg_unmap(s);
    c->files -= cano__seg_files(s);
    return true;
}

/* Makes room for `need` more files; the cap is soft when everything mapped
 * is pinned (then nothing can be closed and the call goes on). */
static void make_room(cano__mapcache *c, int need, cano__segment *keep)
{
    int steps = 2 * (c->files + 1);
    while (c->hand && c->files + need > c->cap && steps-- > 0) {
        cano__segment *s = c->hand;
        c->hand = s->lru_next;
        if (s == keep)
            continue;
        if (atomic_exchange(&s->recent, false))
            continue;
        try_evict(c, s);
    }
}

int cano__seg_pin(cano__segment *s)
{
    atomic_fetch_add(&s->pins, 1);
    if (CANO__LIKELY(atomic_load(&s->mapped))) {
        if (!atomic_load_explicit(&s->recent, memory_order_relaxed))
            atomic_store_explicit(&s->recent, true, memory_order_relaxed);
        return CANO_OK;
    }
    cano__mapcache *c = s->cache;
    pthread_mutex_lock(&c->lock);
    int rc = CANO_OK;
    if (!atomic_load(&s->mapped)) {
        make_room(c, cano__seg_files(s), s);
        rc = cano__seg_map(s);
        if (rc == CANO_OK) {
            ring_insert(c, s);
            c->files += cano__seg_files(s);
            atomic_store(&s->recent, true);
            atomic_store(&s->mapped, true);
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (rc != CANO_OK)
        cano__seg_unpin(s);
    return rc;
}

void cano__seg_unpin(cano__segment *s)
{
    if (atomic_fetch_sub(&s->pins, 1) == 1)
        cano__seg_destroy(s);
}

void cano__seg_discard(cano__segment *s)
{
    cano__seg_unpin(s);        /* the owner's reference */
}

void cano__seg_destroy(cano__segment *s)
{
    cano__mapcache *c = s->cache;
    pthread_mutex_lock(&c->lock);
    if (atomic_load(&s->mapped)) {
        ring_remove(c, s);
        c->files -= cano__seg_files(s);
        atomic_store(&s->mapped, false);
    }
    pthread_mutex_unlock(&c->lock);
    cano__seg_free(s);
}
