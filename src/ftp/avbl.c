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
	int root;
	int err;
	uint64_t bytes;
	char v[PATH_MAX];
};

static void avbl_work(void *arg)
{
	struct avbl_job *j = arg;
	struct statvfs st;
	int fd = ftp_path_open(j->root, j->v, O_PATH | O_DIRECTORY, 0);
	if (fd < 0) {
		j->err = fd;
		return;
	}
	if (fstatvfs(fd, &st) < 0)
		j->err = -errno;
	else
		j->bytes = (uint64_t)st.f_bavail * st.f_frsize;
	close(fd);
}

static void avbl_done(struct ftp_session *s, void *arg)
{
	struct avbl_job *j = arg;
	if (j->err)
		ftp_fsverb_fail(s, j->err);
	else
		ftp_session_reply(s, 213, "%llu", (unsigned long long)j->bytes);
}

void ftp_cmd_avbl(struct ftp_session *s, char *arg)
{
	if (!ftp_session_writable(s)) {
		ftp_session_reply(s, 550, "Permission denied: this account cannot store files.");
		return;
	}
	struct avbl_job *j = calloc(1, sizeof(*j));
	if (!j) {
		ftp_session_reply(s, 451, "Out of memory.");
		return;
	}
	j->root = ftp_session_root(s);
	if (!ftp_fsverb_path(s, *arg ? arg : ".", j->v)) {
		free(j);
		return;
	}
	ftp_defer(s, avbl_work, avbl_done, j);
}
