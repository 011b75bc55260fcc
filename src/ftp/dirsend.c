/* dirsend.c — LIST, NLST and MLSD: the directory (or one file's line) is
 * opened on the helper pool before 150, then streamed in chunks that the
 * pool reads and formats, the next one when the data connection drained. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

struct list_job {
	struct xfer_job_head h;
	struct list_cursor cur;
	struct list_opts o;
	int r;
	struct fb_buf out;
	char vdir[PATH_MAX];
	char prefix[PATH_MAX];
	char pattern[NAME_MAX + 1];
};

static void list_drop(void *ctx)
{
	struct list_job *j = ctx;
	if (j->h.fd >= 0)
		close(j->h.fd);
	fb_buf_free(&j->out);
}

static void list_work(void *ctx)
{
	struct list_job *j = ctx;
	j->o.vdir = j->vdir;
	j->o.prefix = j->prefix[0] ? j->prefix : NULL;
	j->o.pattern = j->pattern[0] ? j->pattern : NULL;
	j->r = ftp_list_chunk(j->h.fd, &j->cur, &j->o, &j->out);
}

static void list_done(struct ftp_session *s, void *ctx)
{
	struct list_job *j = ctx;
	struct transfer *x = ftp_xfer_current(s, j->h.seq);
	if (!x) {
		list_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->busy = false;
	x->cursor = j->cur;
	if (j->r < 0) {
		fb_buf_free(&j->out);
		ftp_xfer_done(s, 451, "Local error in reading the directory.", false);
		return;
	}
	size_t sent = j->out.len;
	x->bytes += sent;
	int r = sent ? ftp_data_send(s, j->out.p, sent) : 0;
	fb_buf_free(&j->out);
	if (r < 0) {
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
	} else if (j->r == 1) {
		x->eof = true;
		ftp_data_finish(s);            /* on_close completes it */
	} else if (!sent && !fe_conn_queued(s->data.conn)) {
		ftp_list_next(s);                  /* no on_drained will come */
	}
}

void ftp_list_next(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	struct list_job *j = ftp_xfer_job_new(s, sizeof(*j));
	if (!j)
		return;
	j->cur = x->cursor;
	j->o = (struct list_opts){ .style = x->style, .writable = ftp_session_writable(s),
				   .all = x->all, .root_fd = ftp_session_root(s) };
	snprintf(j->vdir, sizeof(j->vdir), "%s", x->vpath);
	snprintf(j->prefix, sizeof(j->prefix), "%s", x->prefix);
	snprintf(j->pattern, sizeof(j->pattern), "%s", x->pattern);
	ftp_xfer_job_submit(s, list_work, list_done, list_drop, j);
}

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
	struct xfer_job_head h;
	int root_fd;
	enum xfer_kind kind;
	enum list_style style;
	bool all;
	bool writable;
	int r;
	struct fb_buf line;
	char vpath[PATH_MAX];
	char shown[PATH_MAX];
	char prefix[PATH_MAX];
	char pattern[NAME_MAX + 1];
};

static void listing_drop(void *ctx)
{
	struct listing_job *j = ctx;
	ftp_xfer_fd_drop(j);
	fb_buf_free(&j->line);
}

static void listing_work(void *ctx)
{
	struct listing_job *j = ctx;
	j->h.fd = ftp_path_open(j->root_fd, j->vpath, O_RDONLY | O_DIRECTORY, 0);
	j->r = j->h.fd < 0 ? j->h.fd : 0;
	if (j->h.fd == -ENOTDIR && j->style != LIST_MLSD) {
		struct stat st;
		j->r = ftp_path_stat(j->root_fd, j->vpath, &st);
		if (j->r == 0)
			ftp_list_line(&j->line, j->style, j->shown, &st, j->writable, time(NULL));
		if (j->r == 0 && j->line.failed)
			j->r = -ENOMEM;
	}
}

static void listing_done(struct ftp_session *s, void *ctx)
{
	struct listing_job *j = ctx;
	struct transfer *x = j->r || !ftp_xfer_data_prepared(s) ? NULL : ftp_xfer_start(s, j->kind, j->vpath);
	if (j->r)
		ftp_xfer_errno_reply(s, j->r);
	if (!x) {
		listing_drop(j);
		return;
	}
	x->fd = j->h.fd;
	x->single = j->h.fd < 0;
	x->style = j->style;
	x->out = j->line;
	j->line = (struct fb_buf){ 0 };
	x->all = j->all;
	snprintf(x->prefix, sizeof(x->prefix), "%s", j->prefix);
	snprintf(x->pattern, sizeof(x->pattern), "%s", j->pattern);
	ftp_xfer_begin(s, "Here comes the directory listing.");
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
	bool glob = kind != XK_MLSD && *last && ftp_list_is_glob(last) && strlen(last) <= NAME_MAX;
	snprintf(dirpart, sizeof(dirpart), "%.*s", (int)(glob ? (size_t)(last - p) : strlen(p)), p);
	if (!ftp_xfer_resolve(s, *dirpart ? dirpart : ".", v))
		return;
	struct listing_job *j = ftp_defer_job_new(s, sizeof(*j));
	if (!j)
		return;
	j->kind = kind;
	j->all = all;
	j->h.fd = -1;
	j->root_fd = ftp_session_root(s);
	j->style = kind == XK_LIST ? LIST_LONG : kind == XK_NLST ? LIST_NAMES : LIST_MLSD;
	j->writable = ftp_session_writable(s);
	snprintf(j->vpath, sizeof(j->vpath), "%s", v);
	snprintf(j->shown, sizeof(j->shown), "%s", *p ? p : v);
	/* NLST of a directory named by the client: "dir/name" lines */
	size_t dl = strlen(dirpart);
	if (kind == XK_NLST && dl) {
		if (dl + 2 > sizeof(j->prefix)) {
			free(j);
			ftp_session_reply(s, 553, "File name too long.");
			return;
		}
		memcpy(j->prefix, dirpart, dl + 1);
		if (dirpart[dl - 1] != '/')
			memcpy(j->prefix + dl, "/", 2);
	}
	if (glob)
		snprintf(j->pattern, sizeof(j->pattern), "%s", last);
	ftp_defer_ex(s, listing_work, listing_done, listing_drop, j);
}

void ftp_cmd_list(struct ftp_session *s, char *arg) { listing(s, arg, XK_LIST); }
void ftp_cmd_nlst(struct ftp_session *s, char *arg) { listing(s, arg, XK_NLST); }
void ftp_cmd_mlsd(struct ftp_session *s, char *arg) { listing(s, arg, XK_MLSD); }

