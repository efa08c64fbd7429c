/* internal.h - helpers shared by every file in lib/; never installed. */
#ifndef CANO_INTERNAL_H
#define CANO_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "cano.h"

#define CANO__MIN(a, b) ((a) < (b) ? (a) : (b))
#define CANO__MAX(a, b) ((a) > (b) ? (a) : (b))
#define CANO__LIKELY(x) __builtin_expect(!!(x), 1)
#define CANO__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Little-endian loads and stores; the format is little-endian everywhere and
 * memcpy keeps unaligned access defined. */
static inline uint32_t cano__ld32(const void *p)
{ uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t cano__ld64(const void *p)
{ uint64_t v; memcpy(&v, p, 8); return v; }
static inline void cano__st32(void *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void cano__st64(void *p, uint64_t v) { memcpy(p, &v, 8); }
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cano currently supports little-endian hosts only"
#endif

/* error.c: every failure goes through these so cano_last_errmsg has detail. */
int cano__err(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cano__err_os(int err_no, const char *what, const char *path);
void cano__err_clear(void);

/* alloc.c: the one allocator, with a countdown hook for tests. */
void *cano__malloc(size_t n);
void *cano__calloc(size_t n, size_t size);
void *cano__realloc(void *p, size_t n);
char *cano__strdup(const char *s);
void cano__free(void *p);

/* clock.c */
int64_t cano__now_ms(void);       /* wall clock, ms since the epoch */
int64_t cano__mono_us(void);      /* monotonic, microseconds */

#ifdef CANO_TESTING
void cano__test_fail_alloc_after(long n);   /* n < 0: never fail */
long cano__test_alloc_count(void);
#endif

#endif
