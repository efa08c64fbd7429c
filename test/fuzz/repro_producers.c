/* repro_producers.c - shows that cano_open takes time quadratic in the
 * number of producers in a partition's producer-state file (the file may
 * be 64 MiB, about 6 million producers: hours), a bug found while writing
 * the fuzz targets; see README.md.  Not part of any test run.
 *
 *   make repro-producers      (or: repro_producers N...)
 *
 * For each N it creates a store with one topic, closes it, writes a
 * producer-state of N producers (one batch each) and times cano_open. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cano.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        long n = atol(argv[a]);
        char dir[] = "/tmp/cano-repro-XXXXXX", store[64], path[128];
        if (!mkdtemp(dir))
            return 1;
        snprintf(store, sizeof store, "%s/s", dir);
        cano_t *db;
        if (cano_open(store, NULL, &db) != CANO_OK ||
            cano_topic_create(db, "t", NULL) != CANO_OK ||
            cano_close(db) != CANO_OK)
            return 1;
        snprintf(path, sizeof path, "%s/t/0/producer-state", store);
        FILE *f = fopen(path, "w");
        if (!f)
            return 1;
        fprintf(f, "cano-producers=1\n0\n");
        for (long i = 0; i < n; i++)
            fprintf(f, "%ld 0 1 0\n", i + 1);
        long bytes = ftell(f);
        fclose(f);
        double t0 = now();
        int rc = cano_open(store, NULL, &db);
        double t1 = now();
        printf("%8ld producers (%8ld bytes): cano_open = %d in %7.2f s\n", n,
               bytes, rc, t1 - t0);
        if (rc == CANO_OK)
            cano_close(db);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            return 1;
    }
    return 0;
}
