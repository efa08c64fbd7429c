/* io.h - the only door to the OS file API.  Every function returns CANO_OK
 * or a negative code and leaves the OS detail in cano_last_errmsg. */
#ifndef CANO_IO_H
#define CANO_IO_H
#include "internal.h"

int  cano__io_open(const char *path, int flags, uint32_t mode, int *fd_out);
void cano__io_close(int fd);
int  cano__io_pread(int fd, void *buf, size_t n, uint64_t off, size_t *got,
                    const char *path);
int  cano__io_pwrite(int fd, const void *buf, size_t n, uint64_t off,
                     const char *path);
int  cano__io_fsync(int fd, const char *path);
int  cano__io_truncate(int fd, uint64_t len, const char *path);
int  cano__io_allocate(int fd, uint64_t off, uint64_t len, const char *path);
int  cano__io_size(int fd, uint64_t *size_out, const char *path);
int  cano__io_rename(const char *from, const char *to);
int  cano__io_unlink(const char *path);
int  cano__io_mkdir(const char *path, uint32_t mode);
int  cano__io_fsync_dir(const char *path);
int  cano__io_lock(int fd, const char *path);
/* CANO_OK when path exists (is_dir_out may be NULL), CANO_ENOTFOUND if not. */
int  cano__io_stat(const char *path, bool *is_dir_out, uint64_t *size_out);
int  cano__io_map(int fd, size_t len, bool writable, void **out,
                  const char *path);
void cano__io_unmap(void *addr, size_t len);
int  cano__io_msync(void *addr, size_t len, const char *path);
/* Hints for mapped ranges; failures are harmless and ignored.  prefault
 * maps fresh pages writable in one call instead of one fault per page;
 * release drops pages from this process (they stay in the page cache). */
void cano__io_prefault(void *addr, size_t len);
void cano__io_release(void *addr, size_t len);
/* Maps a range readable in one call (read-ahead for sequential readers). */
void cano__io_prefetch(const void *addr, size_t len);
/* Calls fn for each entry name except "." and ".."; nonzero from fn stops
 * and is returned. */
int  cano__io_list(const char *dir, int (*fn)(const char *name, void *payload),
                   void *payload);
int  cano__io_remove_tree(const char *path);
/* Writes a whole small file crash-safely: <path>.tmp, fsync, rename over
 * path, fsync of the directory. */
int  cano__io_write_atomic(const char *dir, const char *name, const void *data,
                           size_t len, uint32_t mode);
/* Reads a whole small file (at most max bytes) into a new buffer. */
int  cano__io_read_small(const char *path, size_t max, char **out,
                         size_t *len_out);

#ifdef CANO_TESTING
/* Makes the nth fallible I/O call from now fail with err_no (n >= 1);
 * n <= 0 turns injection off.  persist: every later call fails too. */
void cano__test_io_fail_after(long n, int err_no, bool persist);
long cano__test_io_count(void);
/* fsync and msync calls made so far. */
long cano__test_sync_count(void);
#endif
#endif
