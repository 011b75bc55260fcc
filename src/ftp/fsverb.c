/* fsverb.c — what the verbs on one path that run off the worker (SITE,
 * MFMT, HASH, AVBL) share: a job on the resolved path, the reply for an
 * errno, and naming an already-opened file by its descriptor. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452     /* Linux 6.6; glibc 2.36 does not name it */
#endif

#include "ftp_internal.h"

void ftp_fsverb_fail(struct ftp_session *s, int err)
{
	switch (-err) {
	case ENOENT:
		ftp_session_reply(s, 550, "No such file or directory.");
		break;
	case EACCES: case EPERM: case EXDEV: case ELOOP: case EROFS:
		ftp_session_reply(s, 550, "Permission denied.");
		break;
	case ENOTDIR:
		ftp_session_reply(s, 550, "Not a directory.");
		break;
	case EISDIR:
		ftp_session_reply(s, 550, "Is a directory.");
		break;
	case EEXIST:
		ftp_session_reply(s, 550, "File exists.");
		break;
	case ENOTEMPTY:
		ftp_session_reply(s, 550, "Directory not empty.");
		break;
	case ENAMETOOLONG:
		ftp_session_reply(s, 553, "File name too long.");
		break;
	case ENOSPC: case EDQUOT:
		ftp_session_reply(s, 452, "Insufficient storage space: %s.", strerror(-err));
		break;
	case ENOMEM:
		ftp_session_reply(s, 451, "Out of memory.");
		break;
	default:
		ftp_session_reply(s, 550, "Failed: %s.", strerror(-err));
		break;
	}
}

bool ftp_fsverb_path(struct ftp_session *s, const char *arg, char *out)
{
	int r = ftp_path_join(ftp_session_cwd(s), arg, out, PATH_MAX);
	if (r)
		ftp_fsverb_fail(s, r);
	return r == 0;
}

void *ftp_fsverb_job(struct ftp_session *s, size_t size, const char *arg)
{
	assert(size >= sizeof(struct fsverb_job));
	struct fsverb_job *h = ftp_defer_job_new(s, size);
	if (!h)
		return NULL;
	h->root = ftp_session_root(s);
	if (!ftp_fsverb_path(s, arg, h->v)) {
		free(h);
		return NULL;
	}
	return h;
}

int ftp_fsverb_open(struct fsverb_job *h, int flags)
{
	int fd = ftp_path_open(h->root, h->v, flags, 0);
	if (fd < 0)
		h->err = fd;
	return fd < 0 ? -1 : fd;
}

/* An O_PATH descriptor opened beneath the root is changed through the
 * descriptor itself (fchmodat2 and utimensat with AT_EMPTY_PATH), so no
 * path is resolved again: no race with a rename or a new symlink, and no
 * /proc, which the sandbox does not open. Kernels before 6.6 have no
 * fchmodat2: there its /proc/self/fd link names the same inode. */
const char *ftp_fsverb_fd_path(int fd, char out[32])
{
	snprintf(out, 32, "/proc/self/fd/%d", fd);
	return out;
}

int ftp_fsverb_fchmod(int fd, mode_t mode, char proc[32])
{
	if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	return chmod(ftp_fsverb_fd_path(fd, proc), mode) < 0 ? -errno : 0;
}

int ftp_fsverb_utimens(int fd, const struct timespec ts[2], char proc[32])
{
	if (utimensat(fd, "", ts, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	return utimensat(AT_FDCWD, ftp_fsverb_fd_path(fd, proc), ts, 0) < 0 ? -errno : 0;
}
