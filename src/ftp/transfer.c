/* transfer.c — a transfer's life, shared by RETR (here), uploads (upload.c)
 * and listings (dirsend.c): start, 150, wait for the data connection, move
 * the bytes (splice in binary mode; ASCII chunks converted on the helper
 * pool, paced by the connection draining), the end with its reply, the
 * transfer log, stalls, ABOR and QUIT during a transfer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

/* Bytes read from the file per pool job: an ASCII chunk (converted into
 * up to twice its size), or a PROT P binary chunk (sealed as 4 records of
 * 16 KiB). 64 KiB, not 128: with two chunks of a transfer in flight (one
 * on the wire, one being sealed) 128 KiB jobs cost 10-30 % more CPU per
 * GiB here (BENCHMARKS.md row 10), the buffers no longer staying in cache. */
enum { ASCII_CHUNK = 65536, TLS_CHUNK = 65536 };

static uint64_t progress(const struct transfer *x)
{
	return x->bytes + (x->fx ? fe_xfer_progress(x->fx) : 0);
}

uint64_t ftp_transfer_progress(const struct transfer *x) { return progress(x); }

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
	ftp_xferlog_write(j->log, &j->r);
}

void ftp_xfer_job_free(struct fe_worker *w, void *arg)
{
	(void)w;
	free(arg);
}

static void log_record(struct ftp_session *s, struct transfer *x, bool complete)
{
	if (ftp_xk_listing(x->kind))
		return;
	s->fw->st.transfers[ftp_xk_incoming(x->kind)][x->ascii]++;
	s->fw->st.bytes[ftp_xk_incoming(x->kind)][x->ascii] += progress(x);
	struct log_job *j = malloc(sizeof(*j));
	if (!j)
		return;
	fb_addr_text(&s->peer, j->host, sizeof(j->host));
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
		.incoming = ftp_xk_incoming(x->kind),
		.anonymous = s->anonymous,
		.complete = complete,
		.user = j->user,
	};
	if (fe_pool_submit(s->fw->w, log_work, ftp_xfer_job_free, j) != 0) {
		log_work(j);      /* the pool is full: this once, here */
		free(j);
	}
}

/* ---- file work on the helper pool ------------------------------------------ */

/* Removes an upload's temporary file; runs on the pool, nobody waits. */

void ftp_xfer_unlink_work(void *arg)
{
	struct xfer_unlink_job *u = arg;
	const char *name;
	int dir = ftp_path_parent(u->root_fd, u->vpath, &name);
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
		if (fe_pool_submit(s->fw->w, close_work, ftp_xfer_job_free, p) == 0)
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
	struct xfer_unlink_job *u = malloc(sizeof(*u));
	if (u) {
		u->root_fd = ftp_session_root(s);
		snprintf(u->vpath, sizeof(u->vpath), "%s", x->tmp);
		if (fe_pool_submit(s->fw->w, ftp_xfer_unlink_work, ftp_xfer_job_free, u) != 0) {
			ftp_xfer_unlink_work(u);    /* the pool is full: once, here */
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
	fb_buf_free(&x->out);
	free(x);
}

static void after_transfer(struct ftp_session *s)
{
	if (s->quit_pending) {       /* QUIT came during the transfer */
		s->quit_pending = false;
		ftp_session_reply(s, 221, "Goodbye.");
		ftp_session_close(s);
		return;
	}
	ftp_session_resume(s);
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
	if (!complete && !ftp_xk_listing(s->xfer->kind) && code != 226) {
		char user[4 * 64 + 1], path[4 * 256 + 1];
		flog(LOG_LVL_WARN, "ftp: session %llu: user '%s': %s of %s failed: %d %s",
		     (unsigned long long)s->id, ftp_log_esc(s->user, user, sizeof(user)),
		     ftp_xk_incoming(s->xfer->kind) ? "upload" : "download",
		     ftp_log_esc(s->xfer->vpath, path, sizeof(path)), code, text);
	}
	if (logged)
		log_record(s, s->xfer, complete);
	s->xfer->fx = NULL;
	xfer_free(s);
	ftp_data_reset(s);
	ftp_session_reply(s, code, "%s", text);
	after_transfer(s);
}

void ftp_xfer_done(struct ftp_session *s, int code, const char *text, bool complete)
{
	xfer_end(s, code, text, complete, true);
}

void ftp_transfer_failed(struct ftp_session *s, int code, const char *text)
{
	xfer_end(s, code, text, false, false);
}

void ftp_transfer_abort(struct ftp_session *s)
{
	if (!s->xfer)
		return;
	if (s->xfer->fx)
		s->xfer->bytes = progress(s->xfer);
	log_record(s, s->xfer, false);
	s->xfer->fx = NULL;
	xfer_free(s);
	ftp_data_reset(s);
}

void ftp_xfer_errno_reply(struct ftp_session *s, int err)
{
	if (err == -ENOENT)
		ftp_session_reply(s, 550, "No such file or directory.");
	else if (err == -EACCES || err == -EPERM || err == -EXDEV || err == -ELOOP)
		ftp_session_reply(s, 550, "Permission denied.");
	else if (err == -EISDIR || err == -ENOTDIR)
		ftp_session_reply(s, 550, "Not a regular file.");
	else if (err == -ENAMETOOLONG)
		ftp_session_reply(s, 553, "File name too long.");
	else if (err == -ENOSPC || err == -EDQUOT)
		ftp_session_reply(s, 452, "Insufficient storage space: %s.", strerror(-err));
	else
		ftp_session_reply(s, 550, "Failed: %s.", strerror(-err));
	if (err == -EACCES || err == -EPERM || err == -EXDEV || err == -ELOOP) {
		char user[4 * 64 + 1];
		flog(LOG_LVL_WARN, "ftp: session %llu: user '%s': access refused: %s",
		     (unsigned long long)s->id, ftp_log_esc(s->user, user, sizeof(user)),
		     strerror(-err));
	}
}

/* A failed write: the disk's fault (452/451 with the reason) or the
 * connection's (426). */
void ftp_xfer_write_failed(struct ftp_session *s, int err)
{
	char text[160];
	if (err == -ENOSPC || err == -EDQUOT) {
		snprintf(text, sizeof(text), "Insufficient storage space: %s.", strerror(-err));
		ftp_xfer_done(s, 452, text, false);
	} else if (err == -ECONNRESET || err == -EPIPE || err == -ETIMEDOUT ||
		   err == -ECANCELED || err == -ENOTCONN) {
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
	} else {
		snprintf(text, sizeof(text), "Local error in writing the file: %s.",
			 strerror(-err));
		ftp_xfer_done(s, 451, text, false);
	}
}

struct transfer *ftp_xfer_start(struct ftp_session *s, enum xfer_kind kind,
			      const char *vpath)
{
	struct transfer *x = calloc(1, sizeof(*x));
	if (!x) {
		ftp_session_reply(s, 451, "Out of memory.");
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
struct transfer *ftp_xfer_current(struct ftp_session *s, unsigned seq)
{
	return s->xfer && s->xfer->seq == seq ? s->xfer : NULL;
}

/* ---- sending: files ------------------------------------------------------- */

struct transfer *ftp_xfer_splice_ended(struct ftp_session *s, uint64_t bytes)
{
	struct transfer *x = s->xfer;
	if (!x)
		return NULL;
	x->fx = NULL;
	x->bytes += bytes;
	return x;
}

void ftp_xfer_spliced(struct fe_conn *c, int err, uint64_t bytes, void *arg)
{
	struct ftp_session *s = arg;
	(void)c;
	if (!ftp_xfer_splice_ended(s, bytes))
		return;
	if (!err && ftp_xk_incoming(s->xfer->kind)) {
		s->xfer->peer_done = true;
		ftp_upload_finish(s);
	} else if (!err)
		ftp_xfer_done(s, 226, "Transfer complete.", true);
	else if (ftp_xk_incoming(s->xfer->kind))
		ftp_xfer_write_failed(s, err);
	else
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
}

/* An ASCII chunk, or any chunk of a PROT P download: read, converted
 * (ASCII) and encrypted (TLS) on the pool. The descriptor and the TLS layer
 * travel with the job and come back to the transfer in done. */
struct ascii_job {
	struct xfer_job_head h;
	struct ftp_tlsdata *td;  /* PROT P, else NULL */
	struct crypto_tls *t;
	uint64_t offset;
	bool cr, convert;
	ssize_t got;             /* bytes read, or -errno */
	size_t outlen;
	int err;
	uint8_t *out;            /* malloc'd, not zeroed: 128 KiB of memset per
				  * job showed as 7 % of a PROT P send's CPU */
};

void ftp_xfer_fd_drop(void *ctx)
{
	struct xfer_job_head *h = ctx;    /* every job struct starts with one */
	if (h->fd >= 0)
		close(h->fd);
}

void *ftp_xfer_job_new(struct ftp_session *s, size_t size)
{
	struct xfer_job_head *h = calloc(1, size);
	if (!h) {
		ftp_xfer_done(s, 451, "Out of memory.", false);
		return NULL;
	}
	h->seq = s->xfer->seq;
	h->fd = s->xfer->fd;
	return h;
}

bool ftp_xfer_job_submit(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done,
			 ftp_drop_fn *drop, void *job)
{
	struct transfer *x = s->xfer;
	x->fd = -1;
	x->busy = true;
	if (ftp_defer_quiet(s, work, done, drop, job))
		return true;
	x->busy = false;
	ftp_xfer_done(s, 451, "Server busy.", false);
	return false;
}

/* A download chunk is prepared ahead while at most this much is queued. */
enum { PUMP_AHEAD = 256 * 1024 };

static void ascii_next(struct ftp_session *s);

/* The next chunk of a download that goes through the pool (ASCII or
 * PROT P) or of a listing, when at most `ahead` bytes wait in the
 * connection's queue (0: it drained; listings only then). */
static void download_pump(struct ftp_session *s, size_t ahead)
{
	struct transfer *x = s->xfer;
	/* in TLS, also the handshake's flights drain: the transfer starts
	 * only once the handshake passed (ftp_tlsdata_ready) */
	if (!x || x->busy || x->eof || x->fx || x->ktls_wait || ftp_xk_incoming(x->kind) ||
	    ftp_tlsdata_busy(s) || !ftp_tlsdata_ready(s) || s->data.want || !s->data.conn)
		return;
	if (!ftp_tlsdata_flush(s))       /* ciphertext the queue did not take */
		return;
	if (ahead && (ftp_xk_listing(x->kind) || fe_conn_queued(s->data.conn) > ahead))
		return;
	if (ftp_xk_listing(x->kind))
		ftp_list_next(s);
	else if (x->ascii || s->data.td)
		ascii_next(s);
}

static void ascii_read_work(void *ctx)
{
	struct ascii_job *j = ctx;
	uint8_t in[ASCII_CHUNK];
	j->got = pread(j->h.fd, j->convert ? in : j->out, j->convert ? ASCII_CHUNK : TLS_CHUNK,
		       (off_t)j->offset);
	if (j->got < 0) {
		j->got = -errno;
		return;
	}
	j->outlen = j->convert ? ftp_ascii_to_net(in, (size_t)j->got, j->out, &j->cr)
			       : (size_t)j->got;
	if (j->t && j->outlen && crypto_tls_write(j->t, j->out, j->outlen) < 0)
		j->err = -EPIPE;
}

static void ascii_drop(void *ctx)
{
	struct ascii_job *j = ctx;
	ftp_xfer_fd_drop(j);
	ftp_tlsdata_drop(j->td);
	free(j->out);
	j->out = NULL;
}

static void read_done(struct ftp_session *s, struct ascii_job *j)
{
	struct transfer *x = ftp_xfer_current(s, j->h.seq);
	bool mine = ftp_tlsdata_back(s, j->td);   /* also sends its ciphertext */
	if (!x || !mine) {
		ftp_xfer_fd_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->busy = false;
	if (j->got < 0) {
		ftp_xfer_done(s, 451, "Local error in reading the file.", false);
		return;
	}
	if (!s->data.conn) {
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
		return;
	}
	if (j->got == 0) {
		x->eof = true;
		ftp_data_finish(s);            /* on_close completes it */
		return;
	}
	x->offset += (uint64_t)j->got;
	x->cr_state = j->cr;
	x->bytes += j->outlen;
	if (j->err || (!j->td && fe_conn_send(s->data.conn, j->out, j->outlen) < 0)) {
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
		return;
	}
	/* The next chunk is read (and encrypted) while this one is on the
	 * wire, as long as little is queued: the pool and the connection work
	 * side by side instead of in turns. */
	download_pump(s, PUMP_AHEAD);
}

static void ascii_read_done(struct ftp_session *s, void *ctx)
{
	struct ascii_job *j = ctx;
	read_done(s, j);
	free(j->out);
}

static void ascii_next(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	struct ascii_job *j = ftp_xfer_job_new(s, sizeof(*j));
	if (!j)
		return;
	if (!(j->out = malloc(x->ascii ? 2 * ASCII_CHUNK : TLS_CHUNK))) {
		free(j);
		ftp_xfer_done(s, 451, "Out of memory.", false);
		return;
	}
	j->offset = x->offset;
	j->cr = x->cr_state;
	j->convert = x->ascii;
	j->t = s->data.td ? ftp_tlsdata_lend(s, &j->td) : NULL;
	ftp_xfer_job_submit(s, ascii_read_work, ascii_read_done, ascii_drop, j);
}

void ftp_transfer_on_close(struct ftp_session *s, int err)
{
	struct transfer *x = s->xfer;
	if (!x || x->peer_done)      /* an upload already complete */
		return;
	if (ftp_tlsdata_on_close(s, err))   /* PROT P uploads: close_notify */
		return;
	if (x->fx) {               /* the splice went with the connection */
		x->bytes = progress(x);
		x->fx = NULL;
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
		return;
	}
	if (ftp_xk_incoming(x->kind)) {
		if (err) {
			ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
			return;
		}
		x->peer_done = true;
		if (!x->busy)
			ftp_upload_finish(s);   /* else the running job's done does */
		return;
	}
	if (err == 0 && x->eof)
		ftp_xfer_done(s, 226, "Transfer complete.", true);
	else
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
}

void ftp_transfer_on_drained(struct ftp_session *s)
{
	if (!ftp_ktls_drained(s))
		download_pump(s, 0);
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
		ftp_xfer_done(s, 426, "Data connection timed out; transfer aborted.", false);
		return;
	}
	x->seen = now;
	x->stall = fe_timer_add(w, (uint64_t)s->set->fc->data_timeout * 1000, stall_check, s);
}

void ftp_transfer_ready(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	if (!x)
		return;
	struct fe_conn *c = s->data.conn;
	int err = 0;
	if (ftp_xk_listing(x->kind) && x->single) {    /* a single file's line */
		x->bytes = x->out.len;
		if (x->out.len && ftp_data_send(s, x->out.p, x->out.len) < 0)
			err = -EPIPE;
		x->eof = true;
		if (!err)
			ftp_data_finish(s);
	} else if (ftp_xk_listing(x->kind)) {
		ftp_list_next(s);
	} else if (x->kind == XK_RETR && s->data.td && ftp_ktls_begin(s)) {
		/* the kernel seals it (ktls.c), or user space after all */
	} else if (x->kind == XK_RETR && (x->ascii || s->data.td)) {
		if (s->data.td)
			s->fw->st.tls_data_sends[0]++;
		ascii_next(s);
	} else if (x->kind == XK_RETR) {
		x->fx = fe_conn_sendfile(c, x->fd, x->offset, UINT64_MAX, ftp_xfer_spliced, s, &err);
	} else {
		ftp_upload_open(s);
	}
	if (err) {
		ftp_xfer_done(s, 425, "Can't start the transfer.", false);
	} else if (s->xfer == x && !x->stall) {
		x->seen = progress(x);
		x->stall = fe_timer_add(s->fw->w, (uint64_t)s->set->fc->data_timeout * 1000,
					stall_check, s);
	}
}

/* ---- the verbs ------------------------------------------------------------ */

bool ftp_xfer_resolve(struct ftp_session *s, const char *arg, char *v)
{
	int r = ftp_path_join(ftp_session_cwd(s), arg, v, PATH_MAX);
	if (r)
		ftp_xfer_errno_reply(s, r);
	return r == 0;
}

/* No data connection prepared: 425 before anything is opened. */
bool ftp_xfer_data_prepared(struct ftp_session *s)
{
	if (!ftp_tls_data_allowed(s))      /* 521: the data must be protected */
		return false;
	if (s->data.mode != DATA_NONE || s->data.conn)
		return true;
	ftp_session_reply(s, 425, "Use PORT, EPRT, PASV, EPSV or SPSV first.");
	return false;
}

void ftp_xfer_begin(struct ftp_session *s, const char *what)
{
	ftp_session_reply(s, 150, "%s", what);
	ftp_data_request(s);
}

/* RETR: the file is opened (and checked to be a regular file) on the pool. */
struct retr_job {
	struct xfer_job_head h;
	int root_fd;
	int r;
	uint64_t size;
	char vpath[PATH_MAX];
};

static void retr_work(void *ctx)
{
	struct retr_job *j = ctx;
	struct stat st;
	j->h.fd = ftp_path_open(j->root_fd, j->vpath, O_RDONLY | O_NONBLOCK, 0);
	j->r = j->h.fd < 0 ? j->h.fd : fstat(j->h.fd, &st) < 0 ? -errno
				 : S_ISREG(st.st_mode) ? 0 : -EISDIR;
	if (j->r == 0)
		j->size = (uint64_t)st.st_size;
}

static void retr_done(struct ftp_session *s, void *ctx)
{
	struct retr_job *j = ctx;
	char what[PATH_MAX + 96];
	if (j->r || !ftp_xfer_data_prepared(s)) {
		ftp_xfer_fd_drop(j);
		s->rest = 0;
		if (j->r)
			ftp_xfer_errno_reply(s, j->r);
		return;
	}
	uint64_t rest = s->rest;
	s->rest = 0;
	struct transfer *x = ftp_xfer_start(s, XK_RETR, j->vpath);
	if (!x) {
		ftp_xfer_fd_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->offset = rest;
	snprintf(what, sizeof(what), "Opening %s mode data connection for %s (%llu bytes).",
		 x->ascii ? "ASCII" : "BINARY", j->vpath, (unsigned long long)j->size);
	ftp_xfer_begin(s, what);
}

void ftp_cmd_retr(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	if (!ftp_xfer_resolve(s, arg, v))
		return;
	struct retr_job *j = ftp_defer_job_new(s, sizeof(*j));
	if (!j)
		return;
	j->h.fd = -1;
	j->root_fd = ftp_session_root(s);
	snprintf(j->vpath, sizeof(j->vpath), "%s", v);
	ftp_defer_ex(s, retr_work, retr_done, ftp_xfer_fd_drop, j);
}

/* STOR/APPE: before 150, the name is checked on the pool (its directory
 * exists, it is not a directory); the file itself is opened only when the
 * data connection is there. STOU creates its unique name at once. */
void ftp_cmd_abor(struct ftp_session *s, char *arg)
{
	(void)arg;
	if (!s->xfer) {
		ftp_session_reply(s, 225, "No transfer to ABOR.");
		return;
	}
	flog(LOG_LVL_VERB, "ftp: session %llu: transfer of %s aborted",
	     (unsigned long long)s->id, s->xfer->vpath);
	ftp_session_reply(s, 426, "Connection closed; transfer aborted.");
	ftp_xfer_done(s, 226, "ABOR successful.", false);
}

/* RFC 959: QUIT during a transfer waits for its result (226 or an error),
 * then 221. */
void ftp_transfer_quit(struct ftp_session *s)
{
	s->quit_pending = true;
}
