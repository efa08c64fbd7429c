/* util.c - timing, memory, file and machine helpers for the benchmark. */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static char cleanup_dir[PATH_MAX];

void fatal_cleanup_dir(const char *dir)
{
    snprintf(cleanup_dir, sizeof cleanup_dir, "%s", dir ? dir : "");
}

void verify_fail(const char *sys, uint64_t i, const char *what)
{
    fatal("VERIFY FAILED: %s, record at offset %llu: %s", sys,
          (unsigned long long)i, what);
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "bench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nbench: run aborted\n");
    if (cleanup_dir[0]) {
        remove_tree(cleanup_dir);
        cleanup_dir[0] = 0;
    }
    _exit(2);
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        fatal("out of memory");
    return p;
}

void xpath(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len)
        fatal("path too long: %s...", out);
}

void strfmt(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

void make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        fatal("mkdir %s: %s", path, strerror(errno));
}

int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void remove_tree(const char *path)
{
    if (path && path[0] && path_exists(path))
        nftw(path, rm_entry, 64, FTW_DEPTH | FTW_PHYS);
}

void remove_stale_runs(const char *workdir)
{
    DIR *d = opendir(workdir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end;
        if (strncmp(e->d_name, "run-", 4) != 0)
            continue;
        long pid = strtol(e->d_name + 4, &end, 10);
        if (*end || pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            char path[PATH_MAX];
            xpath(path, sizeof path, "%s/%s", workdir, e->d_name);
            fprintf(stderr, "bench: removing %s, left by an earlier run\n", path);
            remove_tree(path);
        }
    }
    closedir(d);
}

/* A "Vm...:  1234 kB" line of /proc/self/status, in MiB; NAN if absent. */
static double status_mib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = NAN;
    size_t fl = strlen(field);
    if (!f)
        return NAN;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            v = strtod(line + fl + 1, NULL) / 1024.0;
            break;
        }
    fclose(f);
    return v;
}

double rss_now_mib(void) { return status_mib("VmRSS"); }
double rss_hwm_mib(void) { return status_mib("VmHWM"); }

/* Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS. */
int rss_reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return 0;
    int ok = fputs("5", f) >= 0;
    ok = (fclose(f) == 0) && ok;
    return ok;
}

double peak_rss_process_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

void release_free_memory(void)
{
    malloc_trim(0);
}

void rss_probe_start(rss_probe *p)
{
    p->peak_ok = rss_reset_peak();
    p->before = rss_now_mib();
}

void rss_probe_end(const rss_probe *p, result *r)
{
    double peak = p->peak_ok ? rss_hwm_mib() : NAN;
    r->rss_peak_mib = peak;
    r->rss_delta_mib = peak - p->before;
}

int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

double percentile_us(uint32_t *lat_ns, size_t n, double p)
{
    if (n == 0)
        return NAN;
    qsort(lat_ns, n, sizeof *lat_ns, cmp_u32);
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return lat_ns[k] / 1000.0;
}

/* The mount (longest mount point that is a prefix of dir) from mountinfo:
 * "... mountpoint ... - fstype source ...". */
static void filesystem_of(const char *dir, char *fs, size_t fs_len)
{
    char real[PATH_MAX], line[4096], best_mp[PATH_MAX] = "";
    FILE *f = fopen("/proc/self/mountinfo", "r");
    snprintf(fs, fs_len, "unknown");
    if (!realpath(dir, real) || !f) {
        if (f)
            fclose(f);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char mp[PATH_MAX], type[64], src[256];
        int n = 0;
        if (sscanf(line, "%*s %*s %*s %*s %4095s%n", mp, &n) != 1)
            continue;
        char *sep = strstr(line + n, " - ");
        if (!sep || sscanf(sep + 3, "%63s %255s", type, src) != 2)
            continue;
        size_t l = strlen(mp);
        int prefix = strcmp(mp, "/") == 0 ||
                     (strncmp(real, mp, l) == 0 && (real[l] == '/' || real[l] == 0));
        if (prefix && strlen(mp) >= strlen(best_mp)) {
            snprintf(best_mp, sizeof best_mp, "%s", mp);
            snprintf(fs, fs_len, "%s on %s (%s)", type, mp, src);
        }
    }
    fclose(f);
}

double load_average(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : NAN;
}

void describe_machine(const char *dir, char *out, size_t out_len, char *fs, size_t fs_len)
{
    char cpu[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    snprintf(cpu, sizeof cpu, "%s", c + 2);
                    cpu[strcspn(cpu, "\n")] = 0;
                }
                break;
            }
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    long mem_mib = sysconf(_SC_PHYS_PAGES) / 1024 * sysconf(_SC_PAGESIZE) / 1024;
    filesystem_of(dir, fs, fs_len);
    snprintf(out, out_len, "nproc %ld, %s, %ld MiB RAM, %s %s", sysconf(_SC_NPROCESSORS_ONLN),
             cpu, mem_mib, u.sysname, u.release);
}

int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;                   /* the directory stream's own fd */
}

struct anon_sampler {
    pthread_t thread;
    atomic_int stop;
    double before, peak;
};

static void *anon_sample(void *arg)
{
    anon_sampler *a = arg;
    while (!atomic_load(&a->stop)) {
        double v = status_mib("RssAnon");
        if (v > a->peak)
            a->peak = v;
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    return NULL;
}

anon_sampler *anon_sampler_start(void)
{
    anon_sampler *a = xcalloc(1, sizeof *a);
    a->before = a->peak = status_mib("RssAnon");
    if (pthread_create(&a->thread, NULL, anon_sample, a) != 0)
        fatal("pthread_create: %s", strerror(errno));
    return a;
}

double anon_sampler_stop(anon_sampler *a, double *before_mib)
{
    atomic_store(&a->stop, 1);
    pthread_join(a->thread, NULL);
    double v = status_mib("RssAnon"), peak = a->peak > v ? a->peak : v;
    if (before_mib)
        *before_mib = a->before;
    free(a);
    return peak;
}
