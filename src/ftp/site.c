/* site.c — SITE and its sub-commands (CHMOD, UMASK, HELP), dispatched from
 * a table; CHMOD runs on the helper pool. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftp_internal.h"

/* 1-4 octal digits. Callers allow at most 0777: never setuid, setgid or
 * sticky, since the files belong to the service user (root, unless it
 * drops privileges), and a setuid upload would be a way in. */
static bool parse_mode(const char *s, size_t n, mode_t *out)
{
	if (n < 1 || n > 4)
		return false;
	mode_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return false;
		m = m * 8 + (mode_t)(s[i] - '0');
	}
	*out = m;
	return true;
}

struct chmod_job {
	struct fsverb_job h;
	mode_t mode;
};

static void chmod_work(void *arg)
{
	struct chmod_job *j = arg;
	char proc[32];
	int fd = ftp_fsverb_open(&j->h, O_PATH);
	if (fd < 0)
		return;
	j->h.err = ftp_fsverb_fchmod(fd, j->mode, proc);
	close(fd);
}

static void chmod_done(struct ftp_session *s, void *arg)
{
	struct chmod_job *j = arg;
	ftp_audit_op(s, "chmod", j->h.v, j->h.err);
	if (j->h.err)
		ftp_fsverb_fail(s, j->h.err);
	else
		ftp_session_reply(s, 200, "SITE CHMOD command ok.");
}

static void site_chmod(struct ftp_session *s, char *arg)
{
	char *sp = strchr(arg, ' ');
	mode_t mode;
	if (!sp || !sp[1] || !parse_mode(arg, (size_t)(sp - arg), &mode) || mode > 0777) {
		ftp_session_reply(s, 501, "Usage: SITE CHMOD <octal mode, at most 777> <path>.");
		return;
	}
	if (!ftp_session_writable(s) || s->acct->upload_only) {
		ftp_session_reply(s, 550, "Permission denied.");
		return;
	}
	struct chmod_job *j = ftp_fsverb_job(s, sizeof(*j), sp + 1);
	if (!j)
		return;
	j->mode = mode;
	ftp_defer(s, chmod_work, chmod_done, j);
}

static void site_umask(struct ftp_session *s, char *arg)
{
	mode_t m;
	if (!*arg) {
		ftp_session_reply(s, 200, "Your current UMASK is %04o.", (unsigned)s->umask);
		return;
	}
	if (!parse_mode(arg, strlen(arg), &m) || m > 0777) {
		ftp_session_reply(s, 501, "Usage: SITE UMASK <octal umask, at most 777>.");
		return;
	}
	s->umask = m;
	ftp_session_reply(s, 200, "UMASK set to %04o.", (unsigned)m);
}

static void site_help(struct ftp_session *s, char *arg);

static const struct {
	const char *name;
	void (*fn)(struct ftp_session *s, char *arg);
	const char *usage;
} subs[] = {
	{ "CHMOD", site_chmod, "CHMOD <octal mode> <path>" },
	{ "HELP", site_help, "HELP" },
	{ "UMASK", site_umask, "UMASK [<octal umask>]" },
};

static void site_help(struct ftp_session *s, char *arg)
{
	(void)arg;
	struct fb_buf b = { 0 };
	fb_buf_printf(&b, "SITE commands:\n");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		fb_buf_printf(&b, "%s\n", subs[i].usage);
	fb_buf_printf(&b, "End.");
	ftp_session_reply(s, 214, "%s", b.failed ? "End." : b.p);
	fb_buf_free(&b);
}

void ftp_cmd_site(struct ftp_session *s, char *arg)
{
	size_t n = strcspn(arg, " ");
	char *rest = arg[n] ? arg + n + 1 : arg + n;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strlen(subs[i].name) == n && !strncasecmp(arg, subs[i].name, n)) {
			subs[i].fn(s, rest);
			return;
		}
	}
	ftp_session_reply(s, 500, "Unknown SITE command.");
}
