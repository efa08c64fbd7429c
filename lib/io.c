/* io.c - every system call on files, directories and mappings.  Keeping them
 * in one place is what lets tests inject a failure at any I/O step. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io.h"

#ifdef CANO_TESTING
static _Atomic long fault_countdown;
static _Atomic int fault_errno;
static _Atomic bool fault_persist;
static _Atomic long io_count;
static _Atomic long sync_count;

long cano__test_sync_count(void) { return sync_count; }

void cano__test_io_fail_after(long n, int err_no, bool persist)
{
    fault_errno = err_no;
    fault_persist = persist;
    fault_countdown = n > 0 ? n : 0;
}

long cano__test_io_count(void) { return io_count; }

/* Returns the errno to inject into this call, or 0. */
static int injected(void)
{
    io_count++;
    long n = atomic_load(&fault_countdown);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fault_countdown, &n, n - 1)) {
            if (n == 1) {
                if (fault_persist)
                    fault_countdown = 1;
                return fault_errno;
            }
            return 0;
        }
    }
    return 0;
}
#define INJECT(what, path) do { int e_ = injected(); \
        if (e_) return cano__err_os(e_, what, path); } while (0)
#else
#define INJECT(what, path) do { } while (0)
#endif

int cano__io_open(const char *path, int flags, uint32_t mode, int *fd_out)
{
    *fd_out = -1;
    INJECT("open", path);
    int fd;
    do {
        fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        if (errno == ENOENT)
            return cano__err(CANO_ENOTFOUND, "open %s: %s", path,
                             strerror(errno));
        if (errno == EEXIST)
            return cano__err(CANO_EEXIST, "open %s: exists", path);
        return cano__err_os(errno, "open", path);
    }
    *fd_out = fd;
    return CANO_OK;
}

void cano__io_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

int cano__io_pread(int fd, void *buf, size_t n, uint64_t off, size_t *got,
                   const char *path)
{
    size_t done = 0;
    INJECT("read", path);
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return cano__err_os(errno, "read", path);
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return CANO_OK;
}

int cano__io_pwrite(int fd, const void *buf, size_t n, uint64_t off,
                    const char *path)
{
    size_t done = 0;
    INJECT("write", path);
    while (done < n) {
        ssize_t r = pwrite(fd, (const char *)buf + done, n - done,
                           (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return cano__err_os(errno, "write", path);
        done += (size_t)r;
    }
    return CANO_OK;
}

int cano__io_fsync(int fd, const char *path)
{
    INJECT("fsync", path);
#ifdef CANO_TESTING
    sync_count++;
#endif
    if (fsync(fd) != 0)
        return cano__err_os(errno, "fsync", path);
    return CANO_OK;
}

int cano__io_truncate(int fd, uint64_t len, const char *path)
{
    INJECT("truncate", path);
    int r;
    do {
        r = ftruncate(fd, (off_t)len);
    } while (r != 0 && errno == EINTR);
    if (r != 0)
        return cano__err_os(errno, "truncate", path);
    return CANO_OK;
}

/* Reserves blocks so that later stores into a shared mapping cannot fail
 * with SIGBUS on a full disk: the failure comes here, as CANO_ENOSPC. */
int cano__io_allocate(int fd, uint64_t off, uint64_t len, const char *path)
{
    INJECT("allocate", path);
    int r = posix_fallocate(fd, (off_t)off, (off_t)len);
    if (r != 0)
        return cano__err_os(r, "allocate", path);
    return CANO_OK;
}

int cano__io_size(int fd, uint64_t *size_out, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return cano__err_os(errno, "stat", path);
    *size_out = (uint64_t)st.st_size;
    return CANO_OK;
}

int cano__io_rename(const char *from, const char *to)
{
    INJECT("rename", from);
    if (rename(from, to) != 0)
        return cano__err_os(errno, "rename", from);
    return CANO_OK;
}

int cano__io_unlink(const char *path)
{
    INJECT("unlink", path);
    if (unlink(path) != 0 && errno != ENOENT)
        return cano__err_os(errno, "unlink", path);
    return CANO_OK;
}

int cano__io_mkdir(const char *path, uint32_t mode)
{
    INJECT("mkdir", path);
    if (mkdir(path, (mode_t)mode) != 0) {
        if (errno == EEXIST)
            return cano__err(CANO_EEXIST, "mkdir %s: exists", path);
        if (errno == ENOENT)
            return cano__err(CANO_ENOTFOUND, "mkdir %s: parent missing",
                             path);
        return cano__err_os(errno, "mkdir", path);
    }
    return CANO_OK;
}

int cano__io_fsync_dir(const char *path)
{
    int fd;
    int rc = cano__io_open(path, O_RDONLY | O_DIRECTORY, 0, &fd);
    if (rc != CANO_OK)
        return rc;
    rc = cano__io_fsync(fd, path);
    close(fd);
    return rc;
}

int cano__io_lock(int fd, const char *path)
{
    INJECT("lock", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return cano__err(CANO_ELOCKED, "%s is locked by another opener",
                             path);
        return cano__err_os(errno, "lock", path);
    }
    return CANO_OK;
}

int cano__io_stat(const char *path, bool *is_dir_out, uint64_t *size_out)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return CANO_ENOTFOUND;
        return cano__err_os(errno, "stat", path);
    }
    if (is_dir_out)
        *is_dir_out = S_ISDIR(st.st_mode);
    if (size_out)
        *size_out = (uint64_t)st.st_size;
    return CANO_OK;
}

int cano__io_map(int fd, size_t len, bool writable, void **out,
                 const char *path)
{
    *out = NULL;
    INJECT("mmap", path);
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return cano__err_os(errno, "mmap", path);
    *out = p;
    return CANO_OK;
}

void cano__io_unmap(void *addr, size_t len)
{
    if (addr)
        munmap(addr, len);
}

int cano__io_msync(void *addr, size_t len, const char *path)
{
    INJECT("msync", path);
#ifdef CANO_TESTING
    sync_count++;
#endif
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)addr & ~(page - 1);
    if (msync((void *)start, len + ((uintptr_t)addr - start), MS_SYNC) != 0)
        return cano__err_os(errno, "msync", path);
    return CANO_OK;
}

void cano__io_prefault(void *addr, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    if (len)
        madvise(addr, len, MADV_POPULATE_WRITE);
#else
    (void)addr;
    (void)len;
#endif
}

void cano__io_prefetch(const void *addr, size_t len)
{
#ifdef MADV_POPULATE_READ
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)addr & ~(page - 1);
    if (len)
        madvise((void *)start, len + ((uintptr_t)addr - start),
                MADV_POPULATE_READ);
#else
    (void)addr;
    (void)len;
#endif
}

void cano__io_release(void *addr, size_t len)
{
    if (len)
        madvise(addr, len, MADV_DONTNEED);
}

int cano__io_list(const char *dir, int (*fn)(const char *name, void *payload),
                  void *payload)
{
    INJECT("opendir", dir);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return cano__err(CANO_ENOTFOUND, "opendir %s: missing", dir);
        return cano__err_os(errno, "opendir", dir);
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        rc = fn(e->d_name, payload);
        if (rc != 0)
            break;
    }
    closedir(d);
    return rc;
}

struct tree_walk { const char *dir; int rc; };

static int remove_entry(const char *name, void *payload)
{
    struct tree_walk *w = payload;
    size_t n = strlen(w->dir) + strlen(name) + 2;
    char *path = cano__malloc(n);
    if (!path)
        return w->rc = CANO_ENOMEM;
    snprintf(path, n, "%s/%s", w->dir, name);
    int rc = cano__io_remove_tree(path);
    cano__free(path);
    return w->rc = rc;
}

int cano__io_remove_tree(const char *path)
{
    bool is_dir = false;
    int rc = cano__io_stat(path, &is_dir, NULL);
    if (rc == CANO_ENOTFOUND)
        return CANO_OK;
    if (rc != CANO_OK)
        return rc;
    if (!is_dir)
        return cano__io_unlink(path);
    struct tree_walk w = { path, CANO_OK };
    rc = cano__io_list(path, remove_entry, &w);
    if (rc != CANO_OK)
        return rc;
    INJECT("rmdir", path);
    if (rmdir(path) != 0 && errno != ENOENT)
        return cano__err_os(errno, "rmdir", path);
    return CANO_OK;
}

int cano__io_write_atomic(const char *dir, const char *name, const void *data,
                          size_t len, uint32_t mode)
{
    size_t n = strlen(dir) + strlen(name) + 8;
    char *path = cano__malloc(n), *tmp = cano__malloc(n);
    int fd = -1, rc = CANO_ENOMEM;
    if (!path || !tmp)
        goto out;
    snprintf(path, n, "%s/%s", dir, name);
    snprintf(tmp, n, "%s/%s.tmp", dir, name);
    rc = cano__io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode, &fd);
    if (rc == CANO_OK)
        rc = cano__io_pwrite(fd, data, len, 0, tmp);
    if (rc == CANO_OK)
        rc = cano__io_fsync(fd, tmp);
    cano__io_close(fd);
    if (rc == CANO_OK)
        rc = cano__io_rename(tmp, path);
    if (rc == CANO_OK)
        rc = cano__io_fsync_dir(dir);
    else
        unlink(tmp);
out:
    cano__free(path);
    cano__free(tmp);
    return rc;
}

int cano__io_read_small(const char *path, size_t max, char **out,
                        size_t *len_out)
{
    int fd;
    uint64_t size;
    *out = NULL;
    int rc = cano__io_open(path, O_RDONLY, 0, &fd);
    if (rc == CANO_ENOTFOUND)
        cano__err_clear();          /* absence is an answer, not a failure */
    if (rc != CANO_OK)
        return rc;
    rc = cano__io_size(fd, &size, path);
    if (rc == CANO_OK && size > max)
        rc = cano__err(CANO_ECORRUPT, "%s: %llu bytes is too large", path,
                       (unsigned long long)size);
    char *buf = NULL;
    if (rc == CANO_OK && !(buf = cano__malloc((size_t)size + 1)))
        rc = CANO_ENOMEM;
    size_t got = 0;
    if (rc == CANO_OK)
        rc = cano__io_pread(fd, buf, (size_t)size, 0, &got, path);
    cano__io_close(fd);
    if (rc != CANO_OK) {
        cano__free(buf);
        return rc;
    }
    buf[got] = '\0';
    *out = buf;
    *len_out = got;
    return CANO_OK;
}
