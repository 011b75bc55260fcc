/* transfer.c — the verbs that move data (RETR STOR APPE STOU LIST NLST MLSD)
 * and ABOR: open the file, answer 150, wait for the data connection, move
 * the bytes (splice in binary mode, converted in ASCII mode), answer 226. */
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

static void log_record(struct ftp_session *s, struct transfer *x, bool complete)
{
	if (is_listing(x->kind))
		return;
	char host[64];
	struct xfer_record r = {
		.end = time(NULL),
		.ms = fe_now_ms(s->fw->w) - x->started_ms,
		.host = addr_text(&s->peer, host, sizeof(host)),
		.bytes = x->bytes,
		.path = x->vpath,
		.ascii = x->ascii,
		.incoming = incoming(x->kind),
		.anonymous = s->anonymous,
		.complete = complete,
		.user = s->anonymous ? s->ident : s->user,
	};
	xferlog_write(s->srv->xlog, &r);
}

static void xfer_free(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	s->xfer = NULL;
	fe_timer_cancel(s->fw->w, x->stall);
	if (x->fx)
		fe_xfer_abort(x->fx);
	if (x->fd >= 0)
		close(x->fd);
	buf_free(&x->out);
	free(x);
}

/* Ends the transfer with a reply; the data connection is single-use. A
 * transfer refused before its data connection existed is not logged as one. */
static void xfer_end(struct ftp_session *s, int code, const char *text, bool complete,
		     bool logged)
{
	if (!s->xfer)
		return;
	if (logged)
		log_record(s, s->xfer, complete);
	xfer_free(s);
	data_reset(s);
	session_reply(s, code, "%s", text);
	session_resume(s);
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
	log_record(s, s->xfer, false);
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
	else
		session_reply(s, 550, "Failed: %s.", strerror(-err));
}

static struct transfer *start(struct ftp_session *s, enum xfer_kind kind,
			      const char *vpath, int fd)
{
	struct transfer *x = calloc(1, sizeof(*x));
	if (!x) {
		if (fd >= 0)
			close(fd);
		session_reply(s, 451, "Out of memory.");
		return NULL;
	}
	x->kind = kind;
	x->fd = fd;
	x->ascii = s->ascii;
	x->started_ms = fe_now_ms(s->fw->w);
	snprintf(x->vpath, sizeof(x->vpath), "%s", vpath);
	s->xfer = x;
	return x;
}

/* ---- sending -------------------------------------------------------------- */

static void spliced(struct fe_conn *c, int err, uint64_t bytes, void *arg)
{
	struct ftp_session *s = arg;
	(void)c;
	if (!s->xfer)
		return;
	s->xfer->fx = NULL;
	s->xfer->bytes += bytes;
	if (err)
		xfer_done(s, 426, "Connection closed; transfer aborted.", false);
	else
		xfer_done(s, 226, "Transfer complete.", true);
}

static void ascii_next(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	uint8_t in[ASCII_CHUNK];
	ssize_t n = pread(x->fd, in, sizeof(in), (off_t)x->offset);
	if (n <= 0) {
		if (n < 0) {
			xfer_done(s, 451, "Local error in reading the file.", false);
			return;
		}
		x->eof = true;
		fe_conn_close(s->data.conn);   /* on_close completes it */
		return;
	}
	x->out.len = 0;
	char *p = buf_space(&x->out, 2 * (size_t)n);
	if (!p) {
		xfer_done(s, 451, "Out of memory.", false);
		return;
	}
	size_t m = ascii_to_net(in, (size_t)n, (uint8_t *)p, &x->cr_state);
	x->offset += (uint64_t)n;
	x->bytes += m;
	fe_conn_send(s->data.conn, p, m);
}

static void send_listing(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	x->bytes = x->out.len;
	if (x->out.len)
		fe_conn_send(s->data.conn, x->out.p, x->out.len);
	x->eof = true;
	fe_conn_close(s->data.conn);
}

/* ---- receiving ------------------------------------------------------------ */

static bool write_all(struct transfer *x, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = pwrite(x->fd, p, n, (off_t)x->offset);
		if (w <= 0)
			return false;
		x->offset += (uint64_t)w;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool store_bytes(struct transfer *x, const uint8_t *data, size_t len)
{
	x->bytes += len;
	if (!x->ascii)
		return write_all(x, data, len);
	uint8_t out[ASCII_CHUNK + 1];
	while (len) {
		size_t n = len < ASCII_CHUNK ? len : ASCII_CHUNK;
		size_t m = ascii_from_net(data, n, out, &x->cr_state);
		if (!write_all(x, out, m))
			return false;
		data += n;
		len -= n;
	}
	return true;
}

void transfer_on_data(struct ftp_session *s, const uint8_t *data, size_t len)
{
	struct transfer *x = s->xfer;
	if (!x || !incoming(x->kind))
		return;
	if (!store_bytes(x, data, len))
		xfer_done(s, 451, "Local error in writing the file.", false);
}

void transfer_on_close(struct ftp_session *s, int err)
{
	struct transfer *x = s->xfer;
	if (!x)
		return;
	if (x->fx) {               /* the splice went with the connection */
		x->fx = NULL;
		xfer_done(s, 426, "Connection closed; transfer aborted.", false);
		return;
	}
	if (incoming(x->kind) && x->ascii && x->cr_state) {
		x->cr_state = false;          /* a CR that ended the file */
		write_all(x, (const uint8_t *)"\r", 1);
	}
	if (err == 0 && (x->eof || incoming(x->kind)))
		xfer_done(s, 226, "Transfer complete.", true);
	else
		xfer_done(s, 426, "Connection closed; transfer aborted.", false);
}

void transfer_on_drained(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	if (x && x->kind == XK_RETR && x->ascii && !x->eof)
		ascii_next(s);
}

static uint64_t progress(const struct transfer *x)
{
	return x->bytes + (x->fx ? fe_xfer_progress(x->fx) : 0);
}

/* A transfer that moves nothing for data_timeout seconds is given up. */
static void stall_check(struct fe_worker *w, void *arg)
{
	struct ftp_session *s = arg;
	struct transfer *x = s->xfer;
	x->stall = NULL;
	uint64_t now = progress(x);
	if (now == x->seen) {
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
	if (is_listing(x->kind)) {
		send_listing(s);
	} else if (x->kind == XK_RETR && x->ascii) {
		ascii_next(s);
	} else if (x->kind == XK_RETR) {
		x->fx = fe_conn_sendfile(c, x->fd, x->offset, UINT64_MAX, spliced, s, &err);
	} else {
		struct buf *extra = &s->data.extra;
		if (extra->len && !store_bytes(x, (const uint8_t *)extra->p, extra->len)) {
			xfer_done(s, 451, "Local error in writing the file.", false);
			return;
		}
		buf_free(extra);
		if (x->ascii)
			fe_conn_recv_start(c);
		else
			x->fx = fe_conn_recvfile(c, x->fd, x->offset, spliced, s, &err);
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

static void begin(struct ftp_session *s, const char *what)
{
	if (s->data.mode == DATA_NONE && !s->data.conn) {
		transfer_failed(s, 425, "Use PORT, EPRT, PASV, EPSV or SPSV first.");
		return;
	}
	session_reply(s, 150, "%s", what);
	data_request(s);
}

/* fd (or the -errno that opening it gave) must be a regular file; if not,
 * it is closed and the client told why. */
static bool regular_file(struct ftp_session *s, int fd, struct stat *st)
{
	int r = fd < 0 ? fd : fstat(fd, st) < 0 ? -errno : S_ISREG(st->st_mode) ? 0 : -EISDIR;
	if (r) {
		if (fd >= 0)
			close(fd);
		errno_reply(s, r);
	}
	return r == 0;
}

void cmd_retr(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX], what[PATH_MAX + 96];
	uint64_t rest = s->rest;
	s->rest = 0;
	if (!resolve(s, arg, v))
		return;
	int fd = path_open(session_root(s), v, O_RDONLY | O_NONBLOCK, 0);
	struct stat st;
	if (!regular_file(s, fd, &st))
		return;
	struct transfer *x = start(s, XK_RETR, v, fd);
	if (!x)
		return;
	x->offset = rest;
	snprintf(what, sizeof(what), "Opening %s mode data connection for %s (%llu bytes).",
		 x->ascii ? "ASCII" : "BINARY", v, (unsigned long long)st.st_size);
	begin(s, what);
}

static void store(struct ftp_session *s, char *arg, enum xfer_kind kind)
{
	char v[PATH_MAX], what[PATH_MAX + 64];
	uint64_t rest = s->rest;
	s->rest = 0;
	int fd = -1;
	if (kind == XK_STOU) {
		const char *base = *arg ? arg : "ftp.upload";
		char name[PATH_MAX];
		for (int i = 0; i < 1000 && fd < 0; i++) {
			if (i == 0)
				snprintf(name, sizeof(name), "%s", base);
			else
				snprintf(name, sizeof(name), "%s.%d", base, i);
			if (!resolve(s, name, v))
				return;
			fd = path_open(session_root(s), v, O_WRONLY | O_CREAT | O_EXCL | O_NONBLOCK,
				       0666 & ~s->umask);
			if (fd < 0 && fd != -EEXIST)
				break;
		}
	} else {
		if (!resolve(s, arg, v))
			return;
		int flags = O_WRONLY | O_CREAT | O_NONBLOCK;
		if (kind == XK_STOR && rest == 0)
			flags |= O_TRUNC;
		if (s->acct->upload_only)   /* a drop box: new names only */
			flags |= O_EXCL;
		fd = path_open(session_root(s), v, flags, 0666 & ~s->umask);
	}
	struct stat st;
	if (!regular_file(s, fd, &st))
		return;
	struct transfer *x = start(s, kind, v, fd);
	if (!x)
		return;
	x->offset = kind == XK_APPE ? (uint64_t)st.st_size : rest;
	if (kind == XK_STOU)
		snprintf(what, sizeof(what), "FILE: %s", strrchr(v, '/') + 1);
	else
		snprintf(what, sizeof(what), "Ok to send data.");
	begin(s, what);
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

static void listing(struct ftp_session *s, char *arg, enum xfer_kind kind)
{
	char v[PATH_MAX];
	bool all = false;
	const char *p = kind == XK_MLSD ? arg : skip_options(arg, &all);
	if (!resolve(s, *p ? p : ".", v))
		return;
	enum list_style style = kind == XK_LIST ? LIST_LONG :
				kind == XK_NLST ? LIST_NAMES : LIST_MLSD;
	struct buf out = { 0 };
	int fd = path_open(session_root(s), v, O_RDONLY | O_DIRECTORY, 0);
	int r = 0;
	if (fd >= 0) {
		r = list_dir(fd, session_root(s), v, style, session_writable(s), all, &out);
	} else if (fd == -ENOTDIR && kind != XK_MLSD) {
		struct stat st;
		r = path_stat(session_root(s), v, &st);
		if (r == 0)
			list_line(&out, style, *p ? p : v, &st, session_writable(s), time(NULL));
	} else {
		r = fd;
	}
	if (r || out.failed) {
		buf_free(&out);
		errno_reply(s, r ? r : -ENOMEM);
		return;
	}
	struct transfer *x = start(s, kind, v, -1);
	if (!x) {
		buf_free(&out);
		return;
	}
	x->out = out;
	begin(s, "Here comes the directory listing.");
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
	char esc[256];
	flog(LOG_LVL_VERB, "ftp: session %llu: transfer of %s aborted",
	     (unsigned long long)s->id, ftp_log_esc(s->xfer->vpath, esc, sizeof(esc)));
	session_reply(s, 426, "Connection closed; transfer aborted.");
	xfer_done(s, 226, "ABOR successful.", false);
}
