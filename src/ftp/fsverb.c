/* fsverb.c — what the verbs on one path that run off the worker (SITE,
 * MFMT, HASH, AVBL) share: resolving the argument, the reply for an errno,
 * and naming an already-opened file by its descriptor. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ftp_internal.h"

void ftp_fsverb_fail(struct ftp_session *s, int err)
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
	case ENAMETOOLONG:
		session_reply(s, 553, "File name too long.");
		break;
	case ENOMEM:
		session_reply(s, 451, "Out of memory.");
		break;
	default:
		session_reply(s, 550, "Failed: %s.", strerror(-err));
		break;
	}
}

bool ftp_fsverb_path(struct ftp_session *s, const char *arg, char *out)
{
	int r = path_join(session_cwd(s), arg, out, PATH_MAX);
	if (r)
		ftp_fsverb_fail(s, r);
	return r == 0;
}

/* An O_PATH descriptor opened beneath the root cannot be chmod'ed or have
 * its times set directly; its /proc/self/fd link names that very inode, so
 * no path is resolved again (no race with a rename or a new symlink). */
const char *ftp_fsverb_fd_path(int fd, char out[32])
{
	snprintf(out, 32, "/proc/self/fd/%d", fd);
	return out;
}
