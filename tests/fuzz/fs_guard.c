/* fs_guard.c — counts the calls that can change a file tree, so a harness
 * rebuilds its tree only after an input changed it: the calls src/ftp makes
 * (mkdirat, unlinkat, renameat, renameat2, utimensat, chmod, fchmodat2 and
 * openat2 that may write, both by syscall(2)) are wrapped at link time
 * (-Wl,--wrap=NAME, tests/fuzz/meson.build) and count before they run.
 * A modifying call src/ftp gains later and this file does not wrap is
 * caught by the harness's spot check of the tree's change times. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs_guard.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static unsigned long changes;

unsigned long fuzz_fs_changes(void)
{
	return changes;
}

int __real_mkdirat(int dirfd, const char *path, mode_t mode);
int __real_unlinkat(int dirfd, const char *path, int flags);
int __real_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __real_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
		     unsigned flags);
int __real_utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags);
int __real_chmod(const char *path, mode_t mode);
long __real_syscall(long n, ...);

int __wrap_mkdirat(int dirfd, const char *path, mode_t mode);
int __wrap_unlinkat(int dirfd, const char *path, int flags);
int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __wrap_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
		     unsigned flags);
int __wrap_utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags);
int __wrap_chmod(const char *path, mode_t mode);
long __wrap_syscall(long n, ...);

int __wrap_mkdirat(int dirfd, const char *path, mode_t mode)
{
	changes++;
	return __real_mkdirat(dirfd, path, mode);
}

int __wrap_unlinkat(int dirfd, const char *path, int flags)
{
	changes++;
	return __real_unlinkat(dirfd, path, flags);
}

int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	changes++;
	return __real_renameat(olddirfd, oldpath, newdirfd, newpath);
}

int __wrap_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
		     unsigned flags)
{
	changes++;
	return __real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

int __wrap_utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
	changes++;
	return __real_utimensat(dirfd, path, ts, flags);
}

int __wrap_chmod(const char *path, mode_t mode)
{
	changes++;
	return __real_chmod(path, mode);
}

/* An open that may create, truncate or write. */
static bool may_write(const struct open_how *how)
{
	return how && (how->flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_TMPFILE));
}

/* The calls made through syscall(2) here take at most five arguments
 * (openat2, fchmodat2, getdents64): five pass on in registers, where a
 * sixth would be read from the caller's stack (ASan: an underflow). */
long __wrap_syscall(long n, ...)
{
	va_list ap;
	long a[5];
	va_start(ap, n);
	for (int i = 0; i < 5; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_fchmodat2 || (n == SYS_openat2 && may_write((const void *)a[2])))
		changes++;
	return __real_syscall(n, a[0], a[1], a[2], a[3], a[4]);
}
