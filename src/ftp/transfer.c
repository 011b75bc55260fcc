/* transfer.c — the verbs that move data (RETR STOR APPE STOU LIST NLST MLSD)
 * and ABOR: check the name on the helper pool, answer 150, wait for the data
 * connection, then open and move the bytes (splice in binary mode; ASCII
 * conversion and listings in chunks on the pool, paced by the connection
 * draining), answer 226. Nothing blocking runs on the worker, and an upload
 * touches no file before its data connection exists. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry/log.h"
#include "ftp_internal.h"

enum { ASCII_CHUNK = 65536 };

static bool incoming(enum xfer_kind k)
{
	return k == XK_STOR || k == XK_APPE || k == XK_STOU;
}

static bool is_listing(enum xfer_kind k)
{
	return k == XK_LIST || k == XK_NLST || k == XK_MLSD;
}

static uint64_t progress(const struct transfer *x)
{
	return x->bytes + (x->fx ? fe_xfer_progress(x->fx) : 0);
}

uint64_t transfer_progress(const struct transfer *x) { return progress(x); }

/* The transfer log's line is written on the helper pool: a write(2) to a
 * log file may wait for the disk. */
struct log_job {
	struct xferlog *log;
	struct xfer_record r;
	char host[64];
	char user[64];
	char path[PATH_MAX];
};

static void log_work(void *arg)
{
	struct log_job *j = arg;
	xferlog_write(j->log, &j->r);
}

static void job_free(struct fe_worker *w, void *arg)
{
	(void)w;
	free(arg);
}

static void log_record(struct ftp_session *s, struct transfer *x, bool complete)
{
	if (is_listing(x->kind))
		return;
	struct log_job *j = malloc(sizeof(*j));
	if (!j)
		return;
	addr_text(&s->peer, j->host, sizeof(j->host));
	/* anonymous: the ident given as password, as wu-ftpd logs it */
	snprintf(j->user, sizeof(j->user), "%s", s->anonymous ? s->ident : s->user);
	snprintf(j->path, sizeof(j->path), "%s", x->vpath);
	j->log = s->srv->xlog;
	j->r = (struct xfer_record){
		.end = time(NULL),
		.ms = fe_now_ms(s->fw->w) - x->started_ms,
		.host = j->host,
		.bytes = progress(x),
		.path = j->path,
		.ascii = x->ascii,
		.incoming = incoming(x->kind),
		.anonymous = s->anonymous,
		.complete = complete,
		.user = j->user,
	};
	if (fe_pool_submit(s->fw->w, log_work, job_free, j) != 0) {
		log_work(j);      /* the pool is full: this once, here */
		free(j);
	}
}

/* ---- file work on the helper pool ------------------------------------------ */

/* Removes an upload's temporary file; runs on the pool, nobody waits. */
struct unlink_job {
	int root_fd;
	char vpath[PATH_MAX];
};

static void unlink_work(void *arg)
{
	struct unlink_job *u = arg;
	const char *name;
	int dir = path_parent(u->root_fd, u->vpath, &name);
	if (dir >= 0) {
		unlinkat(dir, name, 0);
		close(dir);
	}
}

static void close_work(void *arg)
{
	close(*(int *)arg);
}

/* close(2) of a written file can wait for the disk (NFS flushes on close). */
static void close_later(struct ftp_session *s, int fd)
{
	int *p = fd >= 0 ? malloc(sizeof(*p)) : NULL;
	if (p) {
		*p = fd;
		if (fe_pool_submit(s->fw->w, close_work, job_free, p) == 0)
			return;
		free(p);
	}
	if (fd >= 0)
		close(fd);
}

static void drop_temp(struct ftp_session *s, struct transfer *x)
{
	if (!x->tmp[0])
		return;
	struct unlink_job *u = malloc(sizeof(*u));
	if (u) {
		u->root_fd = session_root(s);
		snprintf(u->vpath, sizeof(u->vpath), "%s", x->tmp);
		if (fe_pool_submit(s->fw->w, unlink_work, job_free, u) != 0) {
			unlink_work(u);    /* the pool is full: once, here */
			free(u);
		}
	}
	x->tmp[0] = '\0';
}

static void xfer_free(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	s->xfer = NULL;
	fe_timer_cancel(s->fw->w, x->stall);
	if (x->fx)
		fe_xfer_abort(x->fx);
	close_later(s, x->fd);
	drop_temp(s, x);
	buf_free(&x->out);
	free(x);
}

static void after_transfer(struct ftp_session *s)
{
	if (s->quit_pending) {       /* QUIT came during the transfer */
		s->quit_pending = false;
		session_reply(s, 221, "Goodbye.");
		session_close(s);
		return;
	}
	session_resume(s);
}

/* Ends the transfer with a reply; the data connection is single-use. A
 * transfer refused before its data connection existed is not logged as one
 * in the transfer log. */
static void xfer_end(struct ftp_session *s, int code, const char *text, bool complete,
		     bool logged)
{
	if (!s->xfer)
		return;
	if (s->xfer->fx)   /* bytes moved so far, before the splice goes */
		s->xfer->bytes = progress(s->xfer);
	if (!complete && !is_listing(s->xfer->kind) && code != 226) {
		char user[4 * 64 + 1], path[4 * 256 + 1];
		flog(LOG_LVL_WARN, "ftp: session %llu: user '%s': %s of %s failed: %d %s",
		     (unsigned long long)s->id, ftp_log_esc(s->user, user, sizeof(user)),
		     incoming(s->xfer->kind) ? "upload" : "download",
		     ftp_log_esc(s->xfer->vpath, path, sizeof(path)), code, text);
	}
	if (logged)
		log_record(s, s->xfer, complete);
	s->xfer->fx = NULL;
	xfer_free(s);
	data_reset(s);
	session_reply(s, code, "%s", text);
	after_transfer(s);
}

static void xfer_done(struct ftp_session *s, int code, const char *text, bool complete)
{
	xfer_end(s, code, text, complete, true);
}

void transfer_failed(struct ftp_session *s, int code, const char *text)
{
	xfer_end(s, code, text, false, false);
}

void transfer_abort(struct ftp_session *s)
{
	if (!s->xfer)
		return;
	if (s->xfer->fx)
		s->xfer->bytes = progress(s->xfer);
	log_record(s, s->xfer, false);
	s->xfer->fx = NULL;
	xfer_free(s);
	data_reset(s);
}

static void errno_reply(struct ftp_session *s, int err)
{
	if (err == -ENOENT)
		session_reply(s, 550, "No such file or directory.");
	else if (err == -EACCES || err == -EPERM || err == -EXDEV || err == -ELOOP)
		session_reply(s, 550, "Permission denied.");
	else if (err == -EISDIR || err == -ENOTDIR)
		session_reply(s, 550, "Not a regular file.");
	else if (err == -ENAMETOOLONG)
		session_reply(s, 553, "File name too long.");
	else if (err == -ENOSPC || err == -EDQUOT)
		session_reply(s, 452, "Insufficient storage space: %s.", strerror(-err));
	else
		session_reply(s, 550, "Failed: %s.", strerror(-err));
	if (err == -EACCES || err == -EPERM || err == -EXDEV || err == -ELOOP) {
		char user[4 * 64 + 1];
		flog(LOG_LVL_WARN, "ftp: session %llu: user '%s': access refused: %s",
		     (unsigned long long)s->id, ftp_log_esc(s->user, user, sizeof(user)),
		     strerror(-err));
	}
}

/* A failed write: the disk's fault (452/451 with the reason) or the
 * connection's (426). */
static void write_failed(struct ftp_session *s, int err)
{
	char text[160];
	if (err == -ENOSPC || err == -EDQUOT) {
		snprintf(text, sizeof(text), "Insufficient storage space: %s.", strerror(-err));
		xfer_done(s, 452, text, false);
	} else if (err == -ECONNRESET || err == -EPIPE || err == -ETIMEDOUT ||
		   err == -ECANCELED || err == -ENOTCONN) {
		xfer_done(s, 426, "Connection closed; transfer aborted.", false);
	} else {
		snprintf(text, sizeof(text), "Local error in writing the file: %s.",
			 strerror(-err));
		xfer_done(s, 451, text, false);
	}
}

static struct transfer *start(struct ftp_session *s, enum xfer_kind kind,
			      const char *vpath)
{
	struct transfer *x = calloc(1, sizeof(*x));
	if (!x) {
		session_reply(s, 451, "Out of memory.");
		return NULL;
	}
	x->kind = kind;
	x->fd = -1;
	x->ascii = s->ascii;
	x->seq = ++s->xfer_seq;
	x->started_ms = fe_now_ms(s->fw->w);
	snprintf(x->vpath, sizeof(x->vpath), "%s", vpath);
	s->xfer = x;
	return x;
}

/* The job's transfer, if it is still the session's current one. */
static struct transfer *current(struct ftp_session *s, unsigned seq)
{
	return s->xfer && s->xfer->seq == seq ? s->xfer : NULL;
}

/* ---- sending: files ------------------------------------------------------- */

static void finish_upload(struct ftp_session *s);

static void spliced(struct fe_conn *c, int err, uint64_t bytes, void *arg)
{
	struct ftp_session *s = arg;
	(void)c;
	if (!s->xfer)
		return;
	s->xfer->fx = NULL;
	s->xfer->bytes += bytes;
	if (!err && incoming(s->xfer->kind)) {
		s->xfer->peer_done = true;
		finish_upload(s);
	} else if (!err)
		xfer_done(s, 226, "Transfer complete.", true);
	else if (incoming(s->xfer->kind))
		write_failed(s, err);
	else
		xfer_done(s, 426, "Connection closed; transfer aborted.", false);
}

/* Every job below starts with this: the transfer it belongs to (a job
 * whose transfer ended meanwhile is discarded) and the descriptor, which
 * travels with the job and comes back to the transfer in done. */
struct job_head {
	unsigned seq;
	int fd;
};

/* An ASCII chunk: read and converted on the pool. The descriptor travels
 * with the job and comes back to the transfer in done. */
struct ascii_job {
	struct job_head h;
	uint64_t offset;
	bool cr;
	ssize_t got;             /* bytes read, or -errno */
	size_t outlen;
	int err;
	uint8_t out[2 * ASCII_CHUNK];
};

static void fd_drop(void *ctx)
{
	struct job_head *h = ctx;    /* every job struct starts with one */
	if (h->fd >= 0)
		close(h->fd);
}

static void ascii_read_work(void *ctx)
{
	struct ascii_job *j = ctx;
	uint8_t in[ASCII_CHUNK];
	j->got = pread(j->h.fd, in, sizeof(in), (off_t)j->offset);
	if (j->got < 0)
		j->got = -errno;
	else
		j->outlen = ascii_to_net(in, (size_t)j->got, j->out, &j->cr);
}

static void ascii_read_done(struct ftp_session *s, void *ctx)
{
	struct ascii_job *j = ctx;
	struct transfer *x = current(s, j->h.seq);
	if (!x) {
		fd_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->busy = false;
	if (j->got < 0) {
		xfer_done(s, 451, "Local error in reading the file.", false);
		return;
	}
	if (j->got == 0) {
		x->eof = true;
		fe_conn_close(s->data.conn);   /* on_close completes it */
		return;
	}
	x->offset += (uint64_t)j->got;
	x->cr_state = j->cr;
	x->bytes += j->outlen;
	if (fe_conn_send(s->data.conn, j->out, j->outlen) < 0)
		xfer_done(s, 426, "Connection closed; transfer aborted.", false);
}

static void ascii_next(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	struct ascii_job *j = malloc(sizeof(*j));
	if (!j) {
		xfer_done(s, 451, "Out of memory.", false);
		return;
	}
	j->h.seq = x->seq;
	j->h.fd = x->fd;
	j->offset = x->offset;
	j->cr = x->cr_state;
	x->fd = -1;
	x->busy = true;
	if (!ftp_defer_ex(s, ascii_read_work, ascii_read_done, fd_drop, j))
		xfer_done(s, 451, "Server busy.", false);
}

/* ---- sending: listings ---------------------------------------------------- */

static void list_next(struct ftp_session *s);

struct list_job {
	struct job_head h;
	struct list_cursor cur;
	struct list_opts o;
	int r;
	struct buf out;
	char vdir[PATH_MAX];
	char prefix[PATH_MAX];
	char pattern[NAME_MAX + 1];
};

static void list_drop(void *ctx)
{
	struct list_job *j = ctx;
	if (j->h.fd >= 0)
		close(j->h.fd);
	buf_free(&j->out);
}

static void list_work(void *ctx)
{
	struct list_job *j = ctx;
	j->o.vdir = j->vdir;
	j->o.prefix = j->prefix[0] ? j->prefix : NULL;
	j->o.pattern = j->pattern[0] ? j->pattern : NULL;
	j->r = list_chunk(j->h.fd, &j->cur, &j->o, &j->out);
}

static void list_done(struct ftp_session *s, void *ctx)
{
	struct list_job *j = ctx;
	struct transfer *x = current(s, j->h.seq);
	if (!x) {
		list_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->busy = false;
	x->cursor = j->cur;
	if (j->r < 0) {
		buf_free(&j->out);
		xfer_done(s, 451, "Local error in reading the directory.", false);
		return;
	}
	size_t sent = j->out.len;
	x->bytes += sent;
	int r = sent ? fe_conn_send(s->data.conn, j->out.p, sent) : 0;
	buf_free(&j->out);
	if (r < 0) {
		xfer_done(s, 426, "Connection closed; transfer aborted.", false);
	} else if (j->r == 1) {
		x->eof = true;
		fe_conn_close(s->data.conn);   /* on_close completes it */
	} else if (!sent && !fe_conn_queued(s->data.conn)) {
		list_next(s);                  /* no on_drained will come */
	}
}

static void list_next(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	struct list_job *j = calloc(1, sizeof(*j));
	if (!j) {
		xfer_done(s, 451, "Out of memory.", false);
		return;
	}
	j->h.seq = x->seq;
	j->h.fd = x->fd;
	j->cur = x->cursor;
	j->o = (struct list_opts){ .style = x->style, .writable = session_writable(s),
				   .all = x->all, .root_fd = session_root(s) };
	snprintf(j->vdir, sizeof(j->vdir), "%s", x->vpath);
	snprintf(j->prefix, sizeof(j->prefix), "%s", x->prefix);
	snprintf(j->pattern, sizeof(j->pattern), "%s", x->pattern);
	x->fd = -1;
	x->busy = true;
	if (!ftp_defer_ex(s, list_work, list_done, list_drop, j))
		xfer_done(s, 451, "Server busy.", false);
}

/* ---- receiving ------------------------------------------------------------ */

/* Opens the upload's file once the data connection is there, writes the
 * bytes that came with an SPSV hand-off, and (atomic uploads) makes the
 * temporary name beside the target. */
struct open_job {
	struct job_head h;
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

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t *offset)
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
		int fd = path_open(j->root_fd, j->tmp,
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
	j->h.fd = j->atomic ? open_temp(j)
			  : path_open(j->root_fd, j->vpath, j->flags, j->mode);
	j->r = j->h.fd < 0 ? j->h.fd : fstat(j->h.fd, &st) < 0 ? -errno
				 : S_ISREG(st.st_mode) ? 0 : -EISDIR;
	if (j->r == 0 && j->append)
		j->offset = (uint64_t)st.st_size;
	if (j->r == 0 && j->extra_len)
		j->r = write_all(j->h.fd, j->extra, j->extra_len, &j->offset);
}

static void open_drop(void *ctx)
{
	struct open_job *j = ctx;
	if (j->h.fd >= 0)
		close(j->h.fd);
	if (j->tmp[0]) {
		struct unlink_job u = { .root_fd = j->root_fd };
		snprintf(u.vpath, sizeof(u.vpath), "%s", j->tmp);
		unlink_work(&u);
	}
}

static void receive(struct ftp_session *s);

static void open_done(struct ftp_session *s, void *ctx)
{
	struct open_job *j = ctx;
	struct transfer *x = current(s, j->h.seq);
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
			write_failed(s, j->r);
		else
			xfer_done(s, 553, "Could not create the file.", false);
		return;
	}
	receive(s);
}

static void open_upload(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	struct buf *extra = &s->data.extra;
	struct open_job *j = calloc(1, sizeof(*j) + extra->len);
	if (!j) {
		xfer_done(s, 451, "Out of memory.", false);
		return;
	}
	j->h.seq = x->seq;
	j->h.fd = -1;
	j->root_fd = session_root(s);
	j->mode = 0666 & ~s->umask;
	j->offset = x->offset;
	j->append = x->kind == XK_APPE;
	/* Only a whole new STOR goes to a temporary name; APPE and REST+STOR
	 * continue the file in place (man ferryd.json(5)). */
	j->atomic = s->srv->fc->atomic_uploads && x->kind == XK_STOR && x->offset == 0;
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
	buf_free(extra);
	x->busy = true;
	if (!ftp_defer_ex(s, open_work, open_done, open_drop, j))
		xfer_done(s, 451, "Server busy.", false);
}

/* An ASCII upload chunk, converted and written on the pool; the data
 * connection is paused meanwhile. */
struct store_job {
	struct job_head h;
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
	size_t m = ascii_from_net(j->data, j->len, out, &j->held_cr);
	if (j->final && j->held_cr) {       /* a CR that ended the file */
		out[m++] = '\r';
		j->held_cr = false;
	}
	j->r = write_all(j->h.fd, out, m, &j->offset);
	free(out);
}

static void store_chunk(struct ftp_session *s, const uint8_t *data, size_t len, bool final);

static void store_done(struct ftp_session *s, void *ctx)
{
	struct store_job *j = ctx;
	struct transfer *x = current(s, j->h.seq);
	if (!x) {
		fd_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->busy = false;
	x->offset = j->offset;
	x->cr_state = j->held_cr;
	if (j->r) {
		write_failed(s, j->r);
		return;
	}
	if (x->out.len) {
		struct buf held = x->out;
		x->out = (struct buf){ 0 };
		store_chunk(s, (const uint8_t *)held.p, held.len, false);
		buf_free(&held);
	} else if (x->out.failed) {
		xfer_done(s, 451, "Out of memory.", false);
	} else if (x->peer_done)
		finish_upload(s);
	else if (s->data.conn)
		fe_conn_resume(s->data.conn);
}

static void store_chunk(struct ftp_session *s, const uint8_t *data, size_t len, bool final)
{
	struct transfer *x = s->xfer;
	struct store_job *j = malloc(sizeof(*j) + len);
	if (!j) {
		xfer_done(s, 451, "Out of memory.", false);
		return;
	}
	j->h.seq = x->seq;
	j->h.fd = x->fd;
	j->offset = x->offset;
	j->held_cr = x->cr_state;
	j->final = final;
	j->r = 0;
	j->len = len;
	memcpy(j->data, data, len);
	x->bytes += len;
	x->fd = -1;
	x->busy = true;
	if (!final && s->data.conn)
		fe_conn_pause(s->data.conn);
	if (!ftp_defer_ex(s, store_work, store_done, fd_drop, j))
		xfer_done(s, 451, "Server busy.", false);
}

static void receive(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	int err = 0;
	if (!s->data.conn) {        /* gone while the file was opened */
		x->peer_done = true;
		finish_upload(s);
		return;
	}
	if (x->ascii) {
		fe_conn_recv_start(s->data.conn);
		return;
	}
	x->fx = fe_conn_recvfile(s->data.conn, x->fd, x->offset, spliced, s, &err);
	if (err)
		xfer_done(s, 425, "Can't start the transfer.", false);
}

void transfer_on_data(struct ftp_session *s, const uint8_t *data, size_t len)
{
	struct transfer *x = s->xfer;
	if (!x || !incoming(x->kind))
		return;
	if (x->busy)        /* not expected (paused meanwhile); kept, in order */
		buf_append(&x->out, data, len);
	else
		store_chunk(s, data, len, false);
}

/* The upload is complete: rename the temporary file into place (atomic
 * uploads), then 226. */
struct commit_job {
	struct job_head h;
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
		fd = path_parent(j->root_fd, j->tmp, &fname);
		td = fd < 0 ? -1 : path_parent(j->root_fd, j->vpath, &tname);
		j->r = fd < 0 ? fd : td < 0 ? td
			: renameat2(fd, fname, td, tname, j->no_replace ? RENAME_NOREPLACE : 0) < 0
			? -errno : 0;
	}
	if (j->r) {
		struct unlink_job u = { .root_fd = j->root_fd };
		snprintf(u.vpath, sizeof(u.vpath), "%s", j->tmp);
		unlink_work(&u);
	}
	if (fd >= 0)
		close(fd);
	if (td >= 0)
		close(td);
}

static void commit_done(struct ftp_session *s, void *ctx)
{
	struct commit_job *j = ctx;
	if (!current(s, j->h.seq))
		return;
	s->xfer->busy = false;
	if (j->r)
		write_failed(s, j->r);
	else
		xfer_done(s, 226, "Transfer complete.", true);
}

static void finish_upload(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	if (x->ascii && x->cr_state) {
		store_chunk(s, (const uint8_t *)"", 0, true);  /* the held CR */
		return;
	}
	struct commit_job *j = calloc(1, sizeof(*j));
	if (!j) {
		xfer_done(s, 451, "Out of memory.", false);
		return;
	}
	j->h.seq = x->seq;
	j->h.fd = x->fd;
	j->root_fd = session_root(s);
	snprintf(j->tmp, sizeof(j->tmp), "%s", x->tmp);
	snprintf(j->vpath, sizeof(j->vpath), "%s", x->vpath);
	j->no_replace = s->acct->upload_only;
	x->fd = -1;
	x->tmp[0] = '\0';            /* the job renames or removes it */
	x->busy = true;
	if (!ftp_defer_ex(s, commit_work, commit_done, NULL, j)) {
		if (j->tmp[0]) {
			snprintf(x->tmp, sizeof(x->tmp), "%s", j->tmp);
		}
		xfer_done(s, 451, "Server busy.", false);
	}
}

void transfer_on_close(struct ftp_session *s, int err)
{
	struct transfer *x = s->xfer;
	if (!x || x->peer_done)      /* an upload already complete */
		return;
	if (x->fx) {               /* the splice went with the connection */
		x->bytes = progress(x);
		x->fx = NULL;
		xfer_done(s, 426, "Connection closed; transfer aborted.", false);
		return;
	}
	if (incoming(x->kind)) {
		if (err) {
			xfer_done(s, 426, "Connection closed; transfer aborted.", false);
			return;
		}
		x->peer_done = true;
		if (!x->busy)
			finish_upload(s);   /* else the running job's done does */
		return;
	}
	if (err == 0 && x->eof)
		xfer_done(s, 226, "Transfer complete.", true);
	else
		xfer_done(s, 426, "Connection closed; transfer aborted.", false);
}

void transfer_on_drained(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	if (!x || x->busy || x->eof || incoming(x->kind))
		return;
	if (is_listing(x->kind))
		list_next(s);
	else if (x->ascii)
		ascii_next(s);
}

/* A transfer that moves nothing for data_timeout seconds is given up. */
static void stall_check(struct fe_worker *w, void *arg)
{
	struct ftp_session *s = arg;
	struct transfer *x = s->xfer;
	x->stall = NULL;
	uint64_t now = progress(x);
	if (now == x->seen && !x->busy) {
		flog(LOG_LVL_WARN, "ftp: session %llu: data connection stalled",
		     (unsigned long long)s->id);
		xfer_done(s, 426, "Data connection timed out; transfer aborted.", false);
		return;
	}
	x->seen = now;
	x->stall = fe_timer_add(w, (uint64_t)s->srv->fc->data_timeout * 1000, stall_check, s);
}

void transfer_ready(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	if (!x)
		return;
	struct fe_conn *c = s->data.conn;
	int err = 0;
	if (is_listing(x->kind) && x->single) {    /* a single file's line */
		x->bytes = x->out.len;
		if (x->out.len && fe_conn_send(c, x->out.p, x->out.len) < 0)
			err = -EPIPE;
		x->eof = true;
		if (!err)
			fe_conn_close(c);
	} else if (is_listing(x->kind)) {
		list_next(s);
	} else if (x->kind == XK_RETR && x->ascii) {
		ascii_next(s);
	} else if (x->kind == XK_RETR) {
		x->fx = fe_conn_sendfile(c, x->fd, x->offset, UINT64_MAX, spliced, s, &err);
	} else {
		open_upload(s);
	}
	if (err) {
		xfer_done(s, 425, "Can't start the transfer.", false);
	} else if (s->xfer == x && !x->stall) {
		x->seen = progress(x);
		x->stall = fe_timer_add(s->fw->w, (uint64_t)s->srv->fc->data_timeout * 1000,
					stall_check, s);
	}
}

/* ---- the verbs ------------------------------------------------------------ */

static bool resolve(struct ftp_session *s, const char *arg, char *v)
{
	int r = path_join(session_cwd(s), arg, v, PATH_MAX);
	if (r)
		errno_reply(s, r);
	return r == 0;
}

/* No data connection prepared: 425 before anything is opened. */
static bool data_prepared(struct ftp_session *s)
{
	if (s->data.mode != DATA_NONE || s->data.conn)
		return true;
	session_reply(s, 425, "Use PORT, EPRT, PASV, EPSV or SPSV first.");
	return false;
}

static void begin(struct ftp_session *s, const char *what)
{
	session_reply(s, 150, "%s", what);
	data_request(s);
}

/* RETR: the file is opened (and checked to be a regular file) on the pool. */
struct retr_job {
	struct job_head h;
	int root_fd;
	int r;
	uint64_t size;
	char vpath[PATH_MAX];
};

static void retr_work(void *ctx)
{
	struct retr_job *j = ctx;
	struct stat st;
	j->h.fd = path_open(j->root_fd, j->vpath, O_RDONLY | O_NONBLOCK, 0);
	j->r = j->h.fd < 0 ? j->h.fd : fstat(j->h.fd, &st) < 0 ? -errno
				 : S_ISREG(st.st_mode) ? 0 : -EISDIR;
	if (j->r == 0)
		j->size = (uint64_t)st.st_size;
}

static void retr_done(struct ftp_session *s, void *ctx)
{
	struct retr_job *j = ctx;
	char what[PATH_MAX + 96];
	if (j->r || !data_prepared(s)) {
		fd_drop(j);
		s->rest = 0;
		if (j->r)
			errno_reply(s, j->r);
		return;
	}
	uint64_t rest = s->rest;
	s->rest = 0;
	struct transfer *x = start(s, XK_RETR, j->vpath);
	if (!x) {
		fd_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->offset = rest;
	snprintf(what, sizeof(what), "Opening %s mode data connection for %s (%llu bytes).",
		 x->ascii ? "ASCII" : "BINARY", j->vpath, (unsigned long long)j->size);
	begin(s, what);
}

void cmd_retr(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	if (!resolve(s, arg, v))
		return;
	struct retr_job *j = calloc(1, sizeof(*j));
	if (!j) {
		session_reply(s, 451, "Out of memory.");
		return;
	}
	j->h.fd = -1;
	j->root_fd = session_root(s);
	snprintf(j->vpath, sizeof(j->vpath), "%s", v);
	ftp_defer_ex(s, retr_work, retr_done, fd_drop, j);
}

/* STOR/APPE: before 150, the name is checked on the pool (its directory
 * exists, it is not a directory); the file itself is opened only when the
 * data connection is there. STOU creates its unique name at once. */
struct store_check {
	struct job_head h;
	int root_fd;
	enum xfer_kind kind;
	mode_t mode;
	bool no_replace;        /* upload-only account: an existing name is refused */
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
			j->h.fd = path_open(j->root_fd, v, O_WRONLY | O_CREAT | O_EXCL | O_NONBLOCK,
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
	int fd = path_open(j->root_fd, j->vpath, O_PATH, 0);
	if (fd >= 0) {
		j->r = fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EISDIR
			: j->no_replace ? -EEXIST : 0;
		close(fd);
	} else if (fd == -ENOENT) {
		const char *name;
		int dir = path_parent(j->root_fd, j->vpath, &name);
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
	if (j->r || !data_prepared(s)) {   /* STOU checked before */
		fd_drop(j);
		if (j->r)
			errno_reply(s, j->r);
		return;
	}
	struct transfer *x = start(s, j->kind, j->vpath);
	if (!x) {
		fd_drop(j);
		return;
	}
	x->fd = j->h.fd;      /* STOU's new file, else -1 until the connection */
	x->offset = j->kind == XK_STOR ? rest : 0;
	if (j->kind == XK_STOU)
		snprintf(what, sizeof(what), "FILE: %s", strrchr(j->vpath, '/') + 1);
	else
		snprintf(what, sizeof(what), "Ok to send data.");
	begin(s, what);
}

static void store(struct ftp_session *s, char *arg, enum xfer_kind kind)
{
	char v[PATH_MAX];
	const char *name = kind == XK_STOU && !*arg ? "ftp.upload" : arg;
	/* STOU creates its file at once: only with a data connection prepared */
	if (!resolve(s, name, v) || (kind == XK_STOU && !data_prepared(s)))
		return;
	struct store_check *j = calloc(1, sizeof(*j));
	if (!j) {
		session_reply(s, 451, "Out of memory.");
		return;
	}
	j->h.fd = -1;
	j->root_fd = session_root(s);
	j->kind = kind;
	j->mode = 0666 & ~s->umask;
	j->no_replace = s->acct->upload_only;
	snprintf(j->vpath, sizeof(j->vpath), "%s", v);
	snprintf(j->base, sizeof(j->base), "%s", v);
	ftp_defer_ex(s, check_work, check_done, fd_drop, j);
}

void cmd_stor(struct ftp_session *s, char *arg) { store(s, arg, XK_STOR); }
void cmd_appe(struct ftp_session *s, char *arg) { store(s, arg, XK_APPE); }
void cmd_stou(struct ftp_session *s, char *arg) { store(s, arg, XK_STOU); }

/* LIST and NLST take ls-style options ("-la") before an optional path. */
static const char *skip_options(const char *arg, bool *all)
{
	*all = false;
	while (*arg == '-') {
		for (; *arg && *arg != ' '; arg++)
			if (*arg == 'a' || *arg == 'A')
				*all = true;
		while (*arg == ' ')
			arg++;
	}
	return arg;
}

/* Opening the directory (or, for LIST/NLST of a file, its one line). */
struct listing_job {
	struct job_head h;
	int root_fd;
	enum xfer_kind kind;
	enum list_style style;
	bool all;
	bool writable;
	int r;
	struct buf line;
	char vpath[PATH_MAX];
	char shown[PATH_MAX];
	char prefix[PATH_MAX];
	char pattern[NAME_MAX + 1];
};

static void listing_drop(void *ctx)
{
	struct listing_job *j = ctx;
	fd_drop(j);
	buf_free(&j->line);
}

static void listing_work(void *ctx)
{
	struct listing_job *j = ctx;
	j->h.fd = path_open(j->root_fd, j->vpath, O_RDONLY | O_DIRECTORY, 0);
	j->r = j->h.fd < 0 ? j->h.fd : 0;
	if (j->h.fd == -ENOTDIR && j->style != LIST_MLSD) {
		struct stat st;
		j->r = path_stat(j->root_fd, j->vpath, &st);
		if (j->r == 0)
			list_line(&j->line, j->style, j->shown, &st, j->writable, time(NULL));
		if (j->r == 0 && j->line.failed)
			j->r = -ENOMEM;
	}
}

static void listing_done(struct ftp_session *s, void *ctx)
{
	struct listing_job *j = ctx;
	struct transfer *x = j->r || !data_prepared(s) ? NULL : start(s, j->kind, j->vpath);
	if (j->r)
		errno_reply(s, j->r);
	if (!x) {
		listing_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->single = j->h.fd < 0;
	x->style = j->style;
	x->out = j->line;
	j->line = (struct buf){ 0 };
	x->all = j->all;
	snprintf(x->prefix, sizeof(x->prefix), "%s", j->prefix);
	snprintf(x->pattern, sizeof(x->pattern), "%s", j->pattern);
	begin(s, "Here comes the directory listing.");
}

/* "NLST dir/a*.txt": a wildcard in the last name only; the names that match
 * go out as "dir/name", as vsftpd and pure-ftpd send them. */
static void listing(struct ftp_session *s, char *arg, enum xfer_kind kind)
{
	char v[PATH_MAX], dirpart[PATH_MAX];
	bool all = false;
	const char *p = kind == XK_MLSD ? arg : skip_options(arg, &all);
	const char *slash = strrchr(p, '/');
	const char *last = slash ? slash + 1 : p;
	bool glob = kind != XK_MLSD && *last && list_is_glob(last) && strlen(last) <= NAME_MAX;
	snprintf(dirpart, sizeof(dirpart), "%.*s", (int)(glob ? (size_t)(last - p) : strlen(p)), p);
	if (!resolve(s, *dirpart ? dirpart : ".", v))
		return;
	struct listing_job *j = calloc(1, sizeof(*j));
	if (!j) {
		session_reply(s, 451, "Out of memory.");
		return;
	}
	j->kind = kind;
	j->all = all;
	j->h.fd = -1;
	j->root_fd = session_root(s);
	j->style = kind == XK_LIST ? LIST_LONG : kind == XK_NLST ? LIST_NAMES : LIST_MLSD;
	j->writable = session_writable(s);
	snprintf(j->vpath, sizeof(j->vpath), "%s", v);
	snprintf(j->shown, sizeof(j->shown), "%s", *p ? p : v);
	/* NLST of a directory named by the client: "dir/name" lines */
	if (kind == XK_NLST && *dirpart)
		snprintf(j->prefix, sizeof(j->prefix), "%s%s", dirpart,
			 dirpart[strlen(dirpart) - 1] == '/' ? "" : "/");
	if (glob)
		snprintf(j->pattern, sizeof(j->pattern), "%s", last);
	ftp_defer_ex(s, listing_work, listing_done, listing_drop, j);
}

void cmd_list(struct ftp_session *s, char *arg) { listing(s, arg, XK_LIST); }
void cmd_nlst(struct ftp_session *s, char *arg) { listing(s, arg, XK_NLST); }
void cmd_mlsd(struct ftp_session *s, char *arg) { listing(s, arg, XK_MLSD); }

void cmd_abor(struct ftp_session *s, char *arg)
{
	(void)arg;
	if (!s->xfer) {
		session_reply(s, 225, "No transfer to ABOR.");
		return;
	}
	flog(LOG_LVL_VERB, "ftp: session %llu: transfer of %s aborted",
	     (unsigned long long)s->id, s->xfer->vpath);
	session_reply(s, 426, "Connection closed; transfer aborted.");
	xfer_done(s, 226, "ABOR successful.", false);
}

/* RFC 959: QUIT during a transfer waits for its result (226 or an error),
 * then 221. */
void transfer_quit(struct ftp_session *s)
{
	s->quit_pending = true;
}
