/* files.c — verbs on names and directories: PWD CWD CDUP MKD RMD DELE RNFR
 * RNTO SIZE MDTM MLST STAT, each resolved through path.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftp_internal.h"

static void fail(struct ftp_session *s, int err)
{
	switch (-err) {
	case ENOENT:
		session_reply(s, 550, "No such file or directory.");
		break;
	case EACCES: case EPERM: case EXDEV: case ELOOP: case EROFS:
		session_reply(s, 550, "Permission denied.");
		break;
	case ENOTDIR:
		session_reply(s, 550, "Not a directory.");
		break;
	case EISDIR:
		session_reply(s, 550, "Is a directory.");
		break;
	case EEXIST:
		session_reply(s, 550, "File exists.");
		break;
	case ENOTEMPTY:
		session_reply(s, 550, "Directory not empty.");
		break;
	case ENAMETOOLONG:
		session_reply(s, 553, "File name too long.");
		break;
	case ENOSPC: case EDQUOT:
		session_reply(s, 452, "Insufficient storage space.");
		break;
	default:
		session_reply(s, 550, "Failed: %s.", strerror(-err));
		break;
	}
}

/* Resolves arg against the working directory, replying on failure. */
static bool resolve(struct ftp_session *s, const char *arg, char *out)
{
	int r = path_join(session_cwd(s), arg, out, PATH_MAX);
	if (r)
		fail(s, r);
	return r == 0;
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

void cmd_pwd(struct ftp_session *s, char *arg)
{
	(void)arg;
	char q[PATH_MAX * 2];
	quote_path(session_cwd(s), q, sizeof(q));
	session_reply(s, 257, "\"%s\" is the current directory", q);
}

void cmd_cwd(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	if (!resolve(s, *arg ? arg : "/", v))
		return;
	int fd = path_open(session_root(s), v, O_PATH | O_DIRECTORY, 0);
	if (fd < 0) {
		fail(s, fd);
		return;
	}
	close(fd);
	if (!session_set_cwd(s, v)) {
		session_reply(s, 451, "Out of memory.");
		return;
	}
	session_reply(s, 250, "Directory successfully changed.");
}

void cmd_cdup(struct ftp_session *s, char *arg)
{
	(void)arg;
	char up[] = "..";
	cmd_cwd(s, up);
}

/* Runs fn on (parent directory, last name) of arg. */
static int on_parent(struct ftp_session *s, const char *vpath,
		     int (*fn)(int dir, const char *name, void *ctx), void *ctx)
{
	const char *name;
	int dir = path_parent(session_root(s), vpath, &name);
	if (dir < 0)
		return dir;
	int r = fn(dir, name, ctx);
	close(dir);
	return r;
}

static int do_mkdir(int dir, const char *name, void *ctx)
{
	const mode_t *umask = ctx;   /* the account's (ftp.users[].umask) */
	return mkdirat(dir, name, 0777 & ~*umask) < 0 ? -errno : 0;
}

static int do_rmdir(int dir, const char *name, void *ctx)
{
	(void)ctx;
	return unlinkat(dir, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int do_unlink(int dir, const char *name, void *ctx)
{
	(void)ctx;
	struct stat st;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		return -EISDIR;
	return unlinkat(dir, name, 0) < 0 ? -errno : 0;
}

void cmd_mkd(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX], q[PATH_MAX * 2];
	if (!resolve(s, arg, v))
		return;
	int r = on_parent(s, v, do_mkdir, &s->umask);
	if (r) {
		fail(s, r);
		return;
	}
	quote_path(v, q, sizeof(q));
	session_reply(s, 257, "\"%s\" created", q);
}

void cmd_rmd(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	if (!resolve(s, arg, v))
		return;
	int r = on_parent(s, v, do_rmdir, NULL);
	if (r)
		fail(s, r);
	else
		session_reply(s, 250, "Remove directory operation successful.");
}

void cmd_dele(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	if (!resolve(s, arg, v))
		return;
	int r = on_parent(s, v, do_unlink, NULL);
	if (r)
		fail(s, r);
	else
		session_reply(s, 250, "Delete operation successful.");
}

void cmd_rnfr(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	free(s->rnfr);
	s->rnfr = NULL;
	if (!resolve(s, arg, v))
		return;
	const char *name;
	int dir = path_parent(session_root(s), v, &name);
	struct stat st;
	int r = dir < 0 ? dir : fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (dir >= 0)
		close(dir);
	if (r) {
		fail(s, r);
		return;
	}
	if (!(s->rnfr = strdup(v))) {
		session_reply(s, 451, "Out of memory.");
		return;
	}
	session_reply(s, 350, "Ready for RNTO.");
}

void cmd_rnto(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	if (!s->rnfr) {
		session_reply(s, 503, "RNFR required first.");
		return;
	}
	char *from = s->rnfr;
	s->rnfr = NULL;
	const char *fname, *tname;
	int r = resolve(s, arg, v) ? 0 : 1;
	if (r) {
		free(from);
		return;
	}
	int fd = path_parent(session_root(s), from, &fname);
	int td = fd < 0 ? -1 : path_parent(session_root(s), v, &tname);
	r = fd < 0 ? fd : td < 0 ? td : renameat(fd, fname, td, tname) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (td >= 0)
		close(td);
	free(from);
	if (r)
		fail(s, r);
	else
		session_reply(s, 250, "Rename successful.");
}

/* RFC 3659: SIZE is the size as transferred in the current TYPE; in ASCII
 * that means counting the line ends that gain a CR (small files only). */
static int ascii_size(int fd, uint64_t *size)
{
	enum { LIMIT = 16 << 20 };
	uint8_t in[65536], out[2 * 65536];
	bool cr = false;
	uint64_t total = 0, read_total = 0;
	for (;;) {
		ssize_t n = read(fd, in, sizeof(in));
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		read_total += (uint64_t)n;
		if (read_total > LIMIT)
			return -EFBIG;
		total += ascii_to_net(in, (size_t)n, out, &cr);
	}
	*size = total;
	return 0;
}

void cmd_size(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	if (!resolve(s, arg, v))
		return;
	int fd = path_open(session_root(s), v, O_RDONLY | O_NONBLOCK, 0);
	struct stat st;
	int r = fd < 0 ? fd : fstat(fd, &st) < 0 ? -errno : 0;
	uint64_t size = r == 0 ? (uint64_t)st.st_size : 0;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = -EISDIR;
	if (r == 0 && s->ascii)
		r = ascii_size(fd, &size);
	if (fd >= 0)
		close(fd);
	if (r == -EFBIG)
		session_reply(s, 550, "SIZE not available in ASCII mode for large files.");
	else if (r)
		fail(s, r);
	else
		session_reply(s, 213, "%llu", (unsigned long long)size);
}

void cmd_mdtm(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	struct stat st;
	if (!resolve(s, arg, v))
		return;
	int r = path_stat(session_root(s), v, &st);
	if (r) {
		fail(s, r);
		return;
	}
	struct tm tm;
	gmtime_r(&st.st_mtime, &tm);
	session_reply(s, 213, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
		      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void cmd_mlst(struct ftp_session *s, char *arg)
{
	char v[PATH_MAX];
	struct stat st;
	if (!resolve(s, *arg ? arg : ".", v))
		return;
	int r = path_stat(session_root(s), v, &st);
	if (r) {
		fail(s, r);
		return;
	}
	struct buf b = { 0 };
	buf_printf(&b, "Listing %s\n ", v);
	mlsx_facts(&b, &st, session_writable(s));
	buf_printf(&b, " %s\nEnd", v);
	if (b.failed)
		session_reply(s, 451, "Out of memory.");
	else
		session_reply(s, 250, "%s", b.p);
	buf_free(&b);
}

/* STAT with a path lists it on the control connection (213); without one it
 * reports the session's state (211). */
void cmd_stat(struct ftp_session *s, char *arg)
{
	char host[64];
	if (!*arg || s->xfer) {
		struct buf b = { 0 };
		buf_printf(&b, "FTP server status:\nConnected to %s\n",
			   addr_text(&s->peer, host, sizeof(host)));
		if (s->state == ST_READY)
			buf_printf(&b, "Logged in as %s\n", s->user);
		buf_printf(&b, "TYPE: %s, STRUcture: File, MODE: Stream\n",
			   s->ascii ? "ASCII" : "BINARY");
		if (s->xfer)
			buf_printf(&b, "Transferring %s: %llu bytes so far\n", s->xfer->vpath,
				   (unsigned long long)s->xfer->bytes);
		buf_printf(&b, "End of status");
		session_reply(s, 211, "%s", b.failed ? "End of status" : b.p);
		buf_free(&b);
		return;
	}
	if (s->state != ST_READY) {
		session_reply(s, 530, "Please login with USER and PASS.");
		return;
	}
	char v[PATH_MAX];
	if (!resolve(s, arg, v))
		return;
	int fd = path_open(session_root(s), v, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		fail(s, fd);
		return;
	}
	struct buf list = { 0 }, b = { 0 };
	int r = list_dir(fd, session_root(s), v, LIST_LONG, session_writable(s), true, &list);
	buf_printf(&b, "Status of %s:\n", v);
	for (size_t i = 0; r == 0 && i < list.len; i++)
		if (list.p[i] != '\r')
			buf_append(&b, &list.p[i], 1);
	buf_printf(&b, "End of status");
	if (r || b.failed)
		fail(s, r ? r : -ENOMEM);
	else
		session_reply(s, 213, "%s", b.p);
	buf_free(&list);
	buf_free(&b);
}
