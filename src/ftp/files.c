/* files.c — verbs on names and directories: PWD CWD CDUP MKD RMD DELE RNFR
 * RNTO SIZE MDTM MLST STAT, each resolved through path.c and done on the
 * helper pool (a metadata operation can wait for a slow disk). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

/* The reply for an -errno: one table for every verb on names (fsverb.c). */
static void fail(struct ftp_session *s, int err) { ftp_fsverb_fail(s, err); }

/* Resolves arg against the working directory, replying on failure. */
static bool resolve(struct ftp_session *s, const char *arg, char *out)
{
	return ftp_fsverb_path(s, arg, out);
}

/* RFC 959's quoting of a path in 257 replies: '"' doubled. */
static void quote_path(const char *p, char *out, size_t cap)
{
	size_t o = 0;
	for (; *p && o + 3 < cap; p++) {
		if (*p == '"')
			out[o++] = '"';
		out[o++] = *p;
	}
	out[o] = '\0';
}

void ftp_cmd_pwd(struct ftp_session *s, char *arg)
{
	(void)arg;
	char q[PATH_MAX * 2];
	quote_path(ftp_session_cwd(s), q, sizeof(q));
	ftp_session_reply(s, 257, "\"%s\" is the current directory", q);
}

/* Every verb below does its file work on the helper pool: a job names the
 * path(s), the work runs there, done replies on the worker. */
struct path_job {
	int root_fd;
	int r;
	bool writable;
	mode_t mode;                /* MKD: 0777 & ~umask */
	struct stat st;
	struct fb_buf out;             /* STAT of a directory */
	char v[PATH_MAX];
	char v2[PATH_MAX];          /* RNTO's target */
};

static struct path_job *path_job_new(struct ftp_session *s, const char *v)
{
	struct path_job *j = ftp_defer_job_new(s, sizeof(*j));
	if (!j)
		return NULL;
	j->root_fd = ftp_session_root(s);
	j->writable = ftp_session_writable(s);
	j->mode = 0777 & ~s->umask;
	snprintf(j->v, sizeof(j->v), "%s", v);
	return j;
}

static void audit(struct ftp_session *s, const char *what, const char *v, int r)
{
	ftp_audit_op(s, what, v, r);    /* escaped, with user and address */
}

/* ---- CWD -------------------------------------------------------------------- */

/* CWD is one io_uring OPENAT2 (O_PATH | O_DIRECTORY) beneath the root. */
static void cwd_done(struct ftp_session *s, int fd, void *ctx)
{
	struct path_job *j = ctx;
	if (fd < 0) {
		fail(s, fd);
		return;
	}
	close(fd);               /* O_PATH: nothing to flush */
	if (!ftp_session_set_cwd(s, j->v))
		ftp_session_reply(s, 451, "Out of memory.");
	else
		ftp_session_reply(s, 250, "Directory successfully changed.");
}

void ftp_cmd_cwd(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	struct path_job *j;
	if (resolve(s, *arg ? arg : "/", v) && (j = path_job_new(s, v)))
		ftp_open_beneath(s, v, O_PATH | O_DIRECTORY | O_CLOEXEC, cwd_done, j);
}

void ftp_cmd_cdup(struct ftp_session *s, char *arg)
{
	(void)arg;
	char up[] = "..";
	ftp_cmd_cwd(s, up);
}

/* ---- MKD RMD DELE: one operation on (parent directory, last name) ---------- */

static int on_parent(struct path_job *j,
		     int (*fn)(int dir, const char *name, const struct path_job *j))
{
	const char *name;
	int dir = ftp_path_parent(j->root_fd, j->v, &name);
	if (dir < 0)
		return dir;
	int r = fn(dir, name, j);
	close(dir);
	return r;
}

static int do_mkdir(int dir, const char *name, const struct path_job *j)
{
	return mkdirat(dir, name, j->mode) < 0 ? -errno : 0;
}

static int do_rmdir(int dir, const char *name, const struct path_job *j)
{
	(void)j;
	return unlinkat(dir, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int do_unlink(int dir, const char *name, const struct path_job *j)
{
	(void)j;
	return unlinkat(dir, name, 0) < 0 ? -errno : 0;   /* a directory: EISDIR */
}

static void mkd_work(void *ctx) { struct path_job *j = ctx; j->r = on_parent(j, do_mkdir); }
static void rmd_work(void *ctx) { struct path_job *j = ctx; j->r = on_parent(j, do_rmdir); }
static void dele_work(void *ctx) { struct path_job *j = ctx; j->r = on_parent(j, do_unlink); }

static void mkd_done(struct ftp_session *s, void *ctx)
{
	struct path_job *j = ctx;
	char q[PATH_MAX * 2];
	audit(s, "mkdir", j->v, j->r);
	if (j->r) {
		fail(s, j->r);
		return;
	}
	quote_path(j->v, q, sizeof(q));
	ftp_session_reply(s, 257, "\"%s\" created", q);
}

static void rmd_done(struct ftp_session *s, void *ctx)
{
	struct path_job *j = ctx;
	audit(s, "rmdir", j->v, j->r);
	if (j->r)
		fail(s, j->r);
	else
		ftp_session_reply(s, 250, "Remove directory operation successful.");
}

static void dele_done(struct ftp_session *s, void *ctx)
{
	struct path_job *j = ctx;
	audit(s, "delete", j->v, j->r);
	if (j->r)
		fail(s, j->r);
	else
		ftp_session_reply(s, 250, "Delete operation successful.");
}

static void on_name(struct ftp_session *s, char *arg, ftp_work_fn *work, ftp_done_fn *done)
{
	char v[PATH_MAX];
	struct path_job *j;
	if (resolve(s, arg, v) && (j = path_job_new(s, v)))
		ftp_defer(s, work, done, j);
}

void ftp_cmd_mkd(struct ftp_session *s, char *arg) { on_name(s, arg, mkd_work, mkd_done); }
void ftp_cmd_rmd(struct ftp_session *s, char *arg) { on_name(s, arg, rmd_work, rmd_done); }
void ftp_cmd_dele(struct ftp_session *s, char *arg) { on_name(s, arg, dele_work, dele_done); }

/* ---- RNFR RNTO -------------------------------------------------------------- */

static int do_lstat(int dir, const char *name, const struct path_job *j)
{
	(void)j;
	struct stat st;
	return fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static void rnfr_work(void *ctx) { struct path_job *j = ctx; j->r = on_parent(j, do_lstat); }

static void rnfr_done(struct ftp_session *s, void *ctx)
{
	struct path_job *j = ctx;
	if (j->r) {
		fail(s, j->r);
		return;
	}
	if (!(s->rnfr = strdup(j->v))) {
		ftp_session_reply(s, 451, "Out of memory.");
		return;
	}
	ftp_session_reply(s, 350, "Ready for RNTO.");
}

void ftp_cmd_rnfr(struct ftp_session *s, char *arg)
{
	free(s->rnfr);
	s->rnfr = NULL;
	on_name(s, arg, rnfr_work, rnfr_done);
}

static void rnto_work(void *ctx)
{
	struct path_job *j = ctx;
	const char *fname, *tname;
	int fd = ftp_path_parent(j->root_fd, j->v, &fname);
	int td = fd < 0 ? -1 : ftp_path_parent(j->root_fd, j->v2, &tname);
	j->r = fd < 0 ? fd : td < 0 ? td : renameat(fd, fname, td, tname) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (td >= 0)
		close(td);
}

static void rnto_done(struct ftp_session *s, void *ctx)
{
	struct path_job *j = ctx;
	char what[PATH_MAX + 8];
	snprintf(what, sizeof(what), "%s ->", j->v);
	audit(s, "rename", what, 0);   /* the line below says how it went */
	audit(s, "rename to", j->v2, j->r);
	if (j->r)
		fail(s, j->r);
	else
		ftp_session_reply(s, 250, "Rename successful.");
}

void ftp_cmd_rnto(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	if (!s->rnfr) {
		ftp_session_reply(s, 503, "RNFR required first.");
		return;
	}
	char *from = s->rnfr;
	s->rnfr = NULL;
	struct path_job *j = resolve(s, arg, v) ? path_job_new(s, from) : NULL;
	free(from);
	if (!j)
		return;
	snprintf(j->v2, sizeof(j->v2), "%s", v);
	ftp_defer(s, rnto_work, rnto_done, j);
}

/* ---- SIZE MDTM MLST: a stat ------------------------------------------------- */

static void stat_work(void *ctx)
{
	struct path_job *j = ctx;
	j->r = ftp_path_stat(j->root_fd, j->v, &j->st);
}

/* SIZE is the file's size in bytes in either TYPE, as vsftpd and pure-ftpd
 * answer (and what ftplib and sync tools expect); RFC 3659's "as
 * transferred" would mean reading the whole file in ASCII mode. */
static void size_done(struct ftp_session *s, void *ctx)
{
	struct path_job *j = ctx;
	if (j->r == 0 && !S_ISREG(j->st.st_mode))
		j->r = -EISDIR;
	if (j->r)
		fail(s, j->r);
	else
		ftp_session_reply(s, 213, "%llu", (unsigned long long)j->st.st_size);
}

static void mdtm_done(struct ftp_session *s, void *ctx)
{
	struct path_job *j = ctx;
	if (j->r) {
		fail(s, j->r);
		return;
	}
	struct tm tm;
	gmtime_r(&j->st.st_mtime, &tm);
	ftp_session_reply(s, 213, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
		      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void mlst_done(struct ftp_session *s, void *ctx)
{
	struct path_job *j = ctx;
	if (j->r) {
		fail(s, j->r);
		return;
	}
	struct fb_buf b = { 0 };
	fb_buf_printf(&b, "Listing %s\n ", j->v);
	ftp_mlsx_facts(&b, &j->st, ftp_session_writable(s));
	fb_buf_printf(&b, " %s\nEnd", j->v);
	if (b.failed)
		ftp_session_reply(s, 451, "Out of memory.");
	else
		ftp_session_reply(s, 250, "%s", b.p);
	fb_buf_free(&b);
}

void ftp_cmd_size(struct ftp_session *s, char *arg) { on_name(s, arg, stat_work, size_done); }
void ftp_cmd_mdtm(struct ftp_session *s, char *arg) { on_name(s, arg, stat_work, mdtm_done); }

void ftp_cmd_mlst(struct ftp_session *s, char *arg)
{
	on_name(s, *arg ? arg : ".", stat_work, mlst_done);
}

/* ---- STAT ------------------------------------------------------------------- */

/* STAT with a path lists it on the control connection (213), at most one
 * listing chunk (LIST_CHUNK_BYTES); without one it reports the session's
 * state (211). */
static void stat_dir_work(void *ctx)
{
	struct path_job *j = ctx;
	int fd = ftp_path_open(j->root_fd, j->v, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		j->r = fd;
		return;
	}
	struct list_cursor cur = { 0 };
	struct list_opts o = { .style = LIST_LONG, .writable = j->writable, .all = true,
			       .root_fd = j->root_fd, .vdir = j->v };
	struct fb_buf list = { 0 };
	int r = ftp_list_chunk(fd, &cur, &o, &list);
	close(fd);
	j->r = r < 0 ? r : 0;
	fb_buf_printf(&j->out, "Status of %s:\n", j->v);
	for (size_t i = 0; r >= 0 && i < list.len; i++)
		if (list.p[i] != '\r')
			fb_buf_append(&j->out, &list.p[i], 1);
	if (r == 0)
		fb_buf_printf(&j->out, "(more entries not shown: use LIST)\n");
	fb_buf_printf(&j->out, "End of status");
	fb_buf_free(&list);
	if (j->r == 0 && j->out.failed)
		j->r = -ENOMEM;
}

static void stat_dir_drop(void *ctx)
{
	struct path_job *j = ctx;
	fb_buf_free(&j->out);
}

static void stat_dir_done(struct ftp_session *s, void *ctx)
{
	struct path_job *j = ctx;
	if (j->r)
		fail(s, j->r);
	else
		ftp_session_reply(s, 213, "%s", j->out.p);
	fb_buf_free(&j->out);
}

void ftp_cmd_stat(struct ftp_session *s, char *arg)
{
	char host[64];
	if (!*arg || s->xfer) {
		struct fb_buf b = { 0 };
		fb_buf_printf(&b, "FTP server status:\nConnected to %s\n",
			   fb_addr_text(&s->peer, host, sizeof(host)));
		if (s->state == ST_READY)
			fb_buf_printf(&b, "Logged in as %s\n", s->user);
		fb_buf_printf(&b, "TYPE: %s, STRUcture: File, MODE: Stream\n",
			   s->ascii ? "ASCII" : "BINARY");
		if (s->xfer)
			fb_buf_printf(&b, "Transferring %s: %llu bytes so far\n", s->xfer->vpath,
				   (unsigned long long)ftp_transfer_progress(s->xfer));
		fb_buf_printf(&b, "End of status");
		ftp_session_reply(s, 211, "%s", b.failed ? "End of status" : b.p);
		fb_buf_free(&b);
		return;
	}
	if (s->state != ST_READY) {
		ftp_session_reply(s, 530, "Please login with USER and PASS.");
		return;
	}
	char v[PATH_MAX];
	struct path_job *j;
	if (resolve(s, arg, v) && (j = path_job_new(s, v)))
		ftp_defer_ex(s, stat_dir_work, stat_dir_done, stat_dir_drop, j);
}
