/* fsop.c — single file operations done by io_uring (OPENAT2, STATX, MKDIRAT,
 * UNLINKAT, RENAMEAT, READ, WRITE) with a callback on the worker, so that a
 * slow disk never holds a worker thread. Paths are copied: the caller's
 * strings need to live only during the call. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct fe_fsop {
	fe_fs_cb *cb;
	void *arg;
	struct open_how how;
	char paths[];        /* one or two NUL-terminated paths */
};

static struct fe_fsop *fsop_new(fe_fs_cb *cb, void *arg, const char *p1, const char *p2)
{
	size_t l1 = p1 ? strlen(p1) + 1 : 0, l2 = p2 ? strlen(p2) + 1 : 0;
	struct fe_fsop *op = malloc(sizeof(*op) + l1 + l2);
	if (!op)
		return NULL;
	memset(op, 0, sizeof(*op));
	op->cb = cb;
	op->arg = arg;
	if (p1)
		memcpy(op->paths, p1, l1);
	if (p2)
		memcpy(op->paths + l1, p2, l2);
	return op;
}

static const char *second(const struct fe_fsop *op)
{
	return op->paths + strlen(op->paths) + 1;
}

static struct io_uring_sqe *fsop_sqe(struct fe_worker *w, struct fe_fsop *op)
{
	struct io_uring_sqe *sqe = fe_sqe(w);
	io_uring_sqe_set_data64(sqe, ud_make(OP_FSOP, op));
	w->inflight++;
	return sqe;
}

void fsop_on_done(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	struct fe_fsop *op = ud_ptr(cqe->user_data);
	w->inflight--;
	op->cb(w, cqe->res, op->arg);
	free(op);
}

int fe_fs_openat2(struct fe_worker *w, int dirfd, const char *path,
		  const struct open_how *how, fe_fs_cb *cb, void *arg)
{
	struct fe_fsop *op = fsop_new(cb, arg, path, NULL);
	if (!op)
		return -ENOMEM;
	op->how = *how;
	op->how.flags |= O_CLOEXEC;
	io_uring_prep_openat2(fsop_sqe(w, op), dirfd, op->paths, &op->how);
	return 0;
}

int fe_fs_statx(struct fe_worker *w, int dirfd, const char *path, int flags,
		unsigned mask, struct statx *out, fe_fs_cb *cb, void *arg)
{
	struct fe_fsop *op = fsop_new(cb, arg, path, NULL);
	if (!op)
		return -ENOMEM;
	io_uring_prep_statx(fsop_sqe(w, op), dirfd, op->paths, flags, mask, out);
	return 0;
}

int fe_fs_mkdirat(struct fe_worker *w, int dirfd, const char *path, mode_t mode,
		  fe_fs_cb *cb, void *arg)
{
	struct fe_fsop *op = fsop_new(cb, arg, path, NULL);
	if (!op)
		return -ENOMEM;
	io_uring_prep_mkdirat(fsop_sqe(w, op), dirfd, op->paths, mode);
	return 0;
}

int fe_fs_unlinkat(struct fe_worker *w, int dirfd, const char *path, int flags,
		   fe_fs_cb *cb, void *arg)
{
	struct fe_fsop *op = fsop_new(cb, arg, path, NULL);
	if (!op)
		return -ENOMEM;
	io_uring_prep_unlinkat(fsop_sqe(w, op), dirfd, op->paths, flags);
	return 0;
}

int fe_fs_renameat(struct fe_worker *w, int olddir, const char *oldpath, int newdir,
		   const char *newpath, unsigned flags, fe_fs_cb *cb, void *arg)
{
	struct fe_fsop *op = fsop_new(cb, arg, oldpath, newpath);
	if (!op)
		return -ENOMEM;
	io_uring_prep_renameat(fsop_sqe(w, op), olddir, op->paths, newdir, second(op),
			       flags);
	return 0;
}

int fe_fs_read(struct fe_worker *w, int fd, void *buf, size_t len, uint64_t off,
	       fe_fs_cb *cb, void *arg)
{
	struct fe_fsop *op = fsop_new(cb, arg, NULL, NULL);
	if (!op)
		return -ENOMEM;
	io_uring_prep_read(fsop_sqe(w, op), fd, buf, (unsigned)len, off);
	return 0;
}

int fe_fs_write(struct fe_worker *w, int fd, const void *buf, size_t len, uint64_t off,
		fe_fs_cb *cb, void *arg)
{
	struct fe_fsop *op = fsop_new(cb, arg, NULL, NULL);
	if (!op)
		return -ENOMEM;
	io_uring_prep_write(fsop_sqe(w, op), fd, buf, (unsigned)len, off);
	return 0;
}
