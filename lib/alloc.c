/* alloc.c - every allocation of the library goes through here, so tests can
 * make the Nth one fail and check that the caller gets CANO_ENOMEM. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#ifdef CANO_TESTING
static _Atomic long fail_countdown = -1;
static _Atomic long alloc_count;

void cano__test_fail_alloc_after(long n) { fail_countdown = n; }
long cano__test_alloc_count(void) { return alloc_count; }

/* True when this allocation is the one the test asked to fail. */
static bool should_fail(void)
{
    alloc_count++;
    long n = atomic_load(&fail_countdown);
    while (n >= 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
            return n == 0;
    }
    return false;
}
#else
static inline bool should_fail(void) { return false; }
#endif

void *cano__malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *cano__calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *cano__realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n ? n : 1);
}

char *cano__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cano__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void cano__free(void *p)
{
    free(p);
}
