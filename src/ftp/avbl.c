/* avbl.c — AVBL [dir]: the bytes a writable account may still store there
 * (draft-peterson-streamlined-ftp-command-extensions), statvfs on the
 * helper pool. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ftp_internal.h"

struct avbl_job {
	struct fsverb_job h;
	uint64_t bytes;
};

static void avbl_work(void *arg)
{
	struct avbl_job *j = arg;
	struct statvfs st;
	int fd = ftp_fsverb_open(&j->h, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return;
	if (fstatvfs(fd, &st) < 0)
		j->h.err = -errno;
	else
		j->bytes = (uint64_t)st.f_bavail * st.f_frsize;
	close(fd);
}

static void avbl_done(struct ftp_session *s, void *arg)
{
	struct avbl_job *j = arg;
	if (j->h.err)
		ftp_fsverb_fail(s, j->h.err);
	else
		ftp_session_reply(s, 213, "%llu", (unsigned long long)j->bytes);
}

void ftp_cmd_avbl(struct ftp_session *s, char *arg)
{
	if (!ftp_session_writable(s)) {
		ftp_session_reply(s, 550, "Permission denied: this account cannot store files.");
		return;
	}
	struct avbl_job *j = ftp_fsverb_job(s, sizeof(*j), *arg ? arg : ".");
	if (j)
		ftp_defer(s, avbl_work, avbl_done, j);
}
