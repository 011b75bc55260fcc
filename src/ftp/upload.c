/* upload.c — STOR, APPE and STOU: the name is checked before 150, the file
 * opened only once the data connection exists (a temporary name beside the
 * target for an atomic STOR), the bytes written (spliced in binary mode,
 * converted on the helper pool in ASCII mode) and, at the end, the
 * temporary file renamed into place before 226. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

/* Opens the upload's file once the data connection is there (STOU's,
 * created before 150, comes open in h.fd), writes the bytes that came with
 * an SPSV hand-off, and (atomic uploads) makes the temporary name beside
 * the target. */
struct open_job {
	struct xfer_job_head h;
	int root_fd;
	int flags;
	mode_t mode;
	bool atomic, append;
	bool no_replace;        /* upload-only account: a new name only */
	uint64_t offset;        /* in: REST; out: where writing starts */
	int r;
	char vpath[PATH_MAX];
	char tmp[PATH_MAX];     /* out: the temporary name, or "" */
	size_t extra_len;
	uint8_t extra[];
};

int ftp_upload_write(int fd, const uint8_t *p, size_t n, uint64_t *offset)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)*offset);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		*offset += (uint64_t)w;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int open_temp(struct open_job *j)
{
	const char *slash = strrchr(j->vpath, '/');
	for (int i = 0; i < 100; i++) {
		unsigned rnd;
		if (getentropy(&rnd, sizeof(rnd)) < 0)
			rnd = (unsigned)rand();
		int n = snprintf(j->tmp, sizeof(j->tmp), "%.*s/.%.200s.ferry-%08x",
				 (int)(slash - j->vpath), j->vpath, slash + 1, rnd);
		if (n < 0 || (size_t)n >= sizeof(j->tmp))
			return -ENAMETOOLONG;
		int fd = ftp_path_open(j->root_fd, j->tmp,
				   O_WRONLY | O_CREAT | O_EXCL | O_NONBLOCK, j->mode);
		if (fd != -EEXIST) {
			if (fd < 0)
				j->tmp[0] = '\0';
			return fd;
		}
	}
	j->tmp[0] = '\0';
	return -EEXIST;
}

static void open_work(void *ctx)
{
	struct open_job *j = ctx;
	struct stat st;
	if (j->h.fd < 0)
		j->h.fd = j->atomic ? open_temp(j)
				  : ftp_path_open(j->root_fd, j->vpath, j->flags, j->mode);
	j->r = j->h.fd < 0 ? j->h.fd : fstat(j->h.fd, &st) < 0 ? -errno
				 : S_ISREG(st.st_mode) ? 0 : -EISDIR;
	if (j->r == 0 && j->append)
		j->offset = (uint64_t)st.st_size;
	if (j->r == 0 && j->extra_len)
		j->r = ftp_upload_write(j->h.fd, j->extra, j->extra_len, &j->offset);
}

static void open_drop(void *ctx)
{
	struct open_job *j = ctx;
	if (j->h.fd >= 0)
		close(j->h.fd);
	if (j->tmp[0]) {
		struct xfer_unlink_job u = { .root_fd = j->root_fd };
		snprintf(u.vpath, sizeof(u.vpath), "%s", j->tmp);
		ftp_xfer_unlink_work(&u);
	}
}

static void receive(struct ftp_session *s);

static void open_done(struct ftp_session *s, void *ctx)
{
	struct open_job *j = ctx;
	struct transfer *x = ftp_xfer_current(s, j->h.seq);
	if (!x) {
		open_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->busy = false;
	snprintf(x->tmp, sizeof(x->tmp), "%s", j->tmp);
	x->offset = j->offset;
	x->bytes += j->extra_len;
	if (j->r) {
		if (j->r == -ENOSPC || j->r == -EDQUOT || j->extra_len)
			ftp_xfer_write_failed(s, j->r);
		else
			ftp_xfer_done(s, 553, "Could not create the file.", false);
		return;
	}
	receive(s);
}

void ftp_upload_open(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	struct fb_buf *extra = &s->data.extra;
	struct open_job *j = calloc(1, sizeof(*j) + extra->len);
	if (!j) {
		ftp_xfer_done(s, 451, "Out of memory.", false);
		return;
	}
	j->h.seq = x->seq;
	j->h.fd = x->fd;   /* STOU's file, open since check_work; else -1 */
	x->fd = -1;        /* the job holds it now (open_drop closes it) */
	j->root_fd = ftp_session_root(s);
	j->mode = 0666 & ~s->umask;
	j->offset = x->offset;
	j->append = x->kind == XK_APPE;
	/* Only a whole new STOR goes to a temporary name; APPE and REST+STOR
	 * continue the file in place (man ferryd.json(5)). */
	j->atomic = s->set->fc->atomic_uploads && x->kind == XK_STOR && x->offset == 0;
	j->flags = O_WRONLY | O_CREAT | O_NONBLOCK;
	if (x->kind == XK_STOR && x->offset == 0)
		j->flags |= O_TRUNC;
	j->no_replace = s->acct->upload_only;
	if (j->no_replace)
		j->flags |= O_EXCL;
	snprintf(j->vpath, sizeof(j->vpath), "%s", x->vpath);
	j->extra_len = extra->len;
	if (extra->len)
		memcpy(j->extra, extra->p, extra->len);
	fb_buf_free(extra);
	x->busy = true;
	if (!ftp_defer_quiet(s, open_work, open_done, open_drop, j))
		ftp_xfer_done(s, 451, "Server busy.", false);
}

/* An ASCII upload chunk, converted and written on the pool; the data
 * connection is paused meanwhile. */
struct store_job {
	struct xfer_job_head h;
	uint64_t offset;
	bool held_cr, final;
	int r;
	size_t len;
	uint8_t data[];
};

static void store_work(void *ctx)
{
	struct store_job *j = ctx;
	uint8_t *out = malloc(j->len + 2);
	if (!out) {
		j->r = -ENOMEM;
		return;
	}
	size_t m = ftp_ascii_from_net(j->data, j->len, out, &j->held_cr);
	if (j->final && j->held_cr) {       /* a CR that ended the file */
		out[m++] = '\r';
		j->held_cr = false;
	}
	j->r = ftp_upload_write(j->h.fd, out, m, &j->offset);
	free(out);
}

static void store_chunk(struct ftp_session *s, const uint8_t *data, size_t len, bool final);

static void store_done(struct ftp_session *s, void *ctx)
{
	struct store_job *j = ctx;
	struct transfer *x = ftp_xfer_current(s, j->h.seq);
	if (!x) {
		ftp_xfer_fd_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->busy = false;
	x->offset = j->offset;
	x->cr_state = j->held_cr;
	if (j->r) {
		ftp_xfer_write_failed(s, j->r);
		return;
	}
	if (x->out.len) {
		struct fb_buf held = x->out;
		x->out = (struct fb_buf){ 0 };
		store_chunk(s, (const uint8_t *)held.p, held.len, false);
		fb_buf_free(&held);
	} else if (x->out.failed) {
		ftp_xfer_done(s, 451, "Out of memory.", false);
	} else if (x->peer_done)
		ftp_upload_finish(s);
	else if (s->data.conn)
		fe_conn_resume(s->data.conn);
}

static void store_chunk(struct ftp_session *s, const uint8_t *data, size_t len, bool final)
{
	struct transfer *x = s->xfer;
	struct store_job *j = ftp_xfer_job_new(s, sizeof(*j) + len);
	if (!j)
		return;
	j->offset = x->offset;
	j->held_cr = x->cr_state;
	j->final = final;
	j->len = len;
	memcpy(j->data, data, len);
	x->bytes += len;
	if (!final && s->data.conn)
		fe_conn_pause(s->data.conn);
	ftp_xfer_job_submit(s, store_work, store_done, ftp_xfer_fd_drop, j);
}

static void receive(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	int err = 0;
	if (s->data.td) {           /* PROT P: decrypted and written on the pool */
		ftp_tlsdata_recv(s);
		return;
	}
	if (!s->data.conn) {        /* gone while the file was opened */
		x->peer_done = true;
		ftp_upload_finish(s);
		return;
	}
	if (x->ascii) {
		fe_conn_recv_start(s->data.conn);
		return;
	}
	x->fx = fe_conn_recvfile(s->data.conn, x->fd, x->offset, ftp_xfer_spliced, s, &err);
	if (err)
		ftp_xfer_done(s, 425, "Can't start the transfer.", false);
}

void ftp_transfer_on_data(struct ftp_session *s, const uint8_t *data, size_t len)
{
	struct transfer *x = s->xfer;
	if (!x || !ftp_xk_incoming(x->kind))
		return;
	if (x->busy)        /* not expected (paused meanwhile); kept, in order */
		fb_buf_append(&x->out, data, len);
	else
		store_chunk(s, data, len, false);
}

/* The upload is complete: rename the temporary file into place (atomic
 * uploads), then 226. */
struct commit_job {
	struct xfer_job_head h;
	int root_fd;
	int r;
	bool no_replace;        /* upload-only account: never over an existing name */
	char tmp[PATH_MAX];
	char vpath[PATH_MAX];
};

static void commit_work(void *ctx)
{
	struct commit_job *j = ctx;
	if (j->h.fd >= 0 && close(j->h.fd) < 0 && (errno == EIO || errno == ENOSPC ||
					       errno == EDQUOT))
		j->r = -errno;     /* e.g. NFS reports the failed write here */
	j->h.fd = -1;
	if (!j->tmp[0])
		return;
	const char *fname, *tname;
	int fd = -1, td = -1;
	if (j->r == 0) {
		fd = ftp_path_parent(j->root_fd, j->tmp, &fname);
		td = fd < 0 ? -1 : ftp_path_parent(j->root_fd, j->vpath, &tname);
		j->r = fd < 0 ? fd : td < 0 ? td
			: renameat2(fd, fname, td, tname, j->no_replace ? RENAME_NOREPLACE : 0) < 0
			? -errno : 0;
	}
	if (j->r) {
		struct xfer_unlink_job u = { .root_fd = j->root_fd };
		snprintf(u.vpath, sizeof(u.vpath), "%s", j->tmp);
		ftp_xfer_unlink_work(&u);
	}
	if (fd >= 0)
		close(fd);
	if (td >= 0)
		close(td);
}

static void commit_done(struct ftp_session *s, void *ctx)
{
	struct commit_job *j = ctx;
	if (!ftp_xfer_current(s, j->h.seq))
		return;
	s->xfer->busy = false;
	if (j->r)
		ftp_xfer_write_failed(s, j->r);
	else
		ftp_xfer_done(s, 226, "Transfer complete.", true);
}

void ftp_upload_finish(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	if (x->ascii && x->cr_state) {
		store_chunk(s, (const uint8_t *)"", 0, true);  /* the held CR */
		return;
	}
	struct commit_job *j = calloc(1, sizeof(*j));
	if (!j) {
		ftp_xfer_done(s, 451, "Out of memory.", false);
		return;
	}
	j->h.seq = x->seq;
	j->h.fd = x->fd;
	j->root_fd = ftp_session_root(s);
	snprintf(j->tmp, sizeof(j->tmp), "%s", x->tmp);
	snprintf(j->vpath, sizeof(j->vpath), "%s", x->vpath);
	j->no_replace = s->acct->upload_only;
	x->fd = -1;
	if (!ftp_defer_quiet(s, commit_work, commit_done, ftp_xfer_fd_drop, j)) {
		ftp_xfer_done(s, 451, "Server busy.", false);  /* removes x->tmp */
		return;
	}
	x->tmp[0] = '\0';            /* the job renames or removes it */
	x->busy = true;
}

struct store_check {
	struct xfer_job_head h;
	int root_fd;
	bool no_replace;        /* upload-only account: an existing name is refused */
	enum xfer_kind kind;
	mode_t mode;
	int r;
	char vpath[PATH_MAX];
	char base[PATH_MAX];
};

static void check_work(void *ctx)
{
	struct store_check *j = ctx;
	if (j->kind == XK_STOU) {
		char v[PATH_MAX];
		for (int i = 0; i < 1000; i++) {
			int n = i ? snprintf(v, sizeof(v), "%s.%d", j->base, i)
				  : snprintf(v, sizeof(v), "%s", j->base);
			if (n < 0 || (size_t)n >= sizeof(v)) {
				j->r = -ENAMETOOLONG;
				return;
			}
			j->h.fd = ftp_path_open(j->root_fd, v, O_WRONLY | O_CREAT | O_EXCL | O_NONBLOCK,
					  j->mode);
			if (j->h.fd != -EEXIST)
				break;
		}
		j->r = j->h.fd < 0 ? j->h.fd : 0;
		if (j->r == 0)
			snprintf(j->vpath, sizeof(j->vpath), "%s", v);
		return;
	}
	/* beneath the root: a symlink out fails here, as it would on open */
	struct stat st;
	int fd = ftp_path_open(j->root_fd, j->vpath, O_PATH, 0);
	if (fd >= 0) {
		j->r = fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EISDIR
			: j->no_replace ? -EEXIST : 0;
		close(fd);
	} else if (fd == -ENOENT) {
		const char *name;
		int dir = ftp_path_parent(j->root_fd, j->vpath, &name);
		j->r = dir < 0 ? dir : 0;
		if (dir >= 0)
			close(dir);
	} else {
		j->r = fd;
	}
}

static void check_done(struct ftp_session *s, void *ctx)
{
	struct store_check *j = ctx;
	char what[PATH_MAX + 64];
	uint64_t rest = s->rest;
	s->rest = 0;
	if (j->r || !ftp_xfer_data_prepared(s)) {   /* STOU checked before */
		ftp_xfer_fd_drop(j);
		if (j->r)
			ftp_xfer_errno_reply(s, j->r);
		return;
	}
	struct transfer *x = ftp_xfer_start(s, j->kind, j->vpath);
	if (!x) {
		ftp_xfer_fd_drop(j);
		return;
	}
	x->fd = j->h.fd;      /* STOU's new file, else -1 until the connection */
	x->offset = j->kind == XK_STOR ? rest : 0;
	if (j->kind == XK_STOU)
		snprintf(what, sizeof(what), "FILE: %s", strrchr(j->vpath, '/') + 1);
	else
		snprintf(what, sizeof(what), "Ok to send data.");
	ftp_xfer_begin(s, what);
}

static void store(struct ftp_session *s, char *arg, enum xfer_kind kind)
{
	char v[PATH_MAX];
	const char *name = kind == XK_STOU && !*arg ? "ftp.upload" : arg;
	/* STOU creates its file at once: only with a data connection prepared */
	if (!ftp_xfer_resolve(s, name, v) || (kind == XK_STOU && !ftp_xfer_data_prepared(s)))
		return;
	struct store_check *j = ftp_defer_job_new(s, sizeof(*j));
	if (!j)
		return;
	j->h.fd = -1;
	j->root_fd = ftp_session_root(s);
	j->kind = kind;
	j->mode = 0666 & ~s->umask;
	j->no_replace = s->acct->upload_only;
	snprintf(j->vpath, sizeof(j->vpath), "%s", v);
	snprintf(j->base, sizeof(j->base), "%s", v);
	ftp_defer_ex(s, check_work, check_done, ftp_xfer_fd_drop, j);
}

void ftp_cmd_stor(struct ftp_session *s, char *arg) { store(s, arg, XK_STOR); }
void ftp_cmd_appe(struct ftp_session *s, char *arg) { store(s, arg, XK_APPE); }
void ftp_cmd_stou(struct ftp_session *s, char *arg) { store(s, arg, XK_STOU); }
