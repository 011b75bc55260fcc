/* times.c — setting modification times: MFMT (draft-somers-ftp-mfxx) and
 * MDTM with a time argument (as vsftpd and ProFTPD accept it); plain MDTM
 * stays in files.c. The utimensat runs on the helper pool. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ftp_internal.h"

/* "YYYYMMDDHHMMSS[.sss]" in UTC (RFC 3659's time-val); *len is the number
 * of characters it took. */
bool ftp_parse_timeval(const char *s, struct timespec *out, size_t *len)
{
	int f[6];
	static const int width[6] = { 4, 2, 2, 2, 2, 2 };
	const char *p = s;
	for (int i = 0; i < 6; i++) {
		f[i] = 0;
		for (int k = 0; k < width[i]; k++, p++) {
			if (*p < '0' || *p > '9')
				return false;
			f[i] = f[i] * 10 + (*p - '0');
		}
	}
	long ns = 0;
	if (*p == '.') {
		long scale = 100000000;
		p++;
		if (*p < '0' || *p > '9')
			return false;
		for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ns += scale ? (*p - '0') * scale : 0;
	}
	if (f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 ||
	    f[3] > 23 || f[4] > 59 || f[5] > 60)
		return false;
	struct tm tm = { .tm_year = f[0] - 1900, .tm_mon = f[1] - 1, .tm_mday = f[2],
			 .tm_hour = f[3], .tm_min = f[4], .tm_sec = f[5] };
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != f[2])   /* 31 February */
		return false;
	out->tv_sec = t;
	out->tv_nsec = ns;
	*len = (size_t)(p - s);
	return true;
}

struct time_job {
	struct fsverb_job h;
	struct timespec when;
	bool mfmt;
};

static void time_work(void *arg)
{
	struct time_job *j = arg;
	char proc[32];
	int fd = ftp_fsverb_open(&j->h, O_PATH);
	if (fd < 0)
		return;
	/* atime is left as it is; only the modification time is asked for. */
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, j->when };
	j->h.err = ftp_fsverb_utimens(fd, ts, proc);
	close(fd);
}

static void time_done(struct ftp_session *s, void *arg)
{
	struct time_job *j = arg;
	ftp_audit_op(s, "set mtime of", j->h.v, j->h.err);
	if (j->h.err) {
		ftp_fsverb_fail(s, j->h.err);
		return;
	}
	if (!j->mfmt) {
		ftp_session_reply(s, 213, "File modification time set.");
		return;
	}
	struct tm tm;
	gmtime_r(&j->when.tv_sec, &tm);
	ftp_session_reply(s, 213, "Modify=%04d%02d%02d%02d%02d%02d; %s", tm.tm_year + 1900,
		      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, j->h.v);
}

/* "TIME path": queues the change, or replies why not. */
static void set_time(struct ftp_session *s, char *arg, bool mfmt)
{
	struct timespec when;
	size_t n;
	if (!ftp_parse_timeval(arg, &when, &n) || arg[n] != ' ' || !arg[n + 1]) {
		ftp_session_reply(s, 501, "Usage: %s YYYYMMDDHHMMSS[.sss] <path>.",
			      mfmt ? "MFMT" : "MDTM");
		return;
	}
	if (!ftp_session_writable(s) || s->acct->upload_only) {
		ftp_session_reply(s, 550, "Permission denied.");
		return;
	}
	struct time_job *j = ftp_fsverb_job(s, sizeof(*j), arg + n + 1);
	if (!j)
		return;
	j->when = when;
	j->mfmt = mfmt;
	ftp_defer(s, time_work, time_done, j);
}

void ftp_cmd_mfmt(struct ftp_session *s, char *arg)
{
	set_time(s, arg, true);
}

/* MDTM with 14 digits and a space first sets the time (vsftpd's rule); a
 * file whose name starts that way is reached as "./name". */
void ftp_cmd_mdtm_any(struct ftp_session *s, char *arg)
{
	struct timespec when;
	size_t n;
	if (ftp_parse_timeval(arg, &when, &n) && arg[n] == ' ')
		set_time(s, arg, false);
	else
		ftp_cmd_mdtm(s, arg);
}
