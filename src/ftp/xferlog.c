/* xferlog.c — one line per transfer in wu-ftpd's xferlog format, appended
 * with a single write so workers never interleave. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry/log.h"
#include "ftp_internal.h"

struct xferlog {
	int fd;
};

struct xferlog *xferlog_open(const char *path, int *err)
{
	struct xferlog *x = calloc(1, sizeof(*x));
	if (!x) {
		*err = -ENOMEM;
		return NULL;
	}
	x->fd = -1;
	if (path && (x->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
				  0640)) < 0) {
		*err = -errno;
		free(x);
		return NULL;
	}
	*err = 0;
	return x;
}

void xferlog_close(struct xferlog *x)
{
	if (!x)
		return;
	if (x->fd >= 0)
		close(x->fd);
	free(x);
}

/* current-time transfer-time remote-host file-size filename transfer-type
 * special-action direction access-mode username service auth-method
 * auth-user-id completion-status; spaces in the file name become '_'. */
void xferlog_format(struct buf *out, const struct xfer_record *r)
{
	char when[32];
	struct tm tm;
	localtime_r(&r->end, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
	buf_printf(out, "%s %llu %s %llu ", when,
		   (unsigned long long)((r->ms + 999) / 1000), r->host,
		   (unsigned long long)r->bytes);
	for (const char *p = r->path; *p; p++) {
		char ch = (*p == ' ' || (unsigned char)*p < 32) ? '_' : *p;
		buf_append(out, &ch, 1);
	}
	buf_printf(out, " %c _ %c %c %s ftp 0 * %c\n", r->ascii ? 'a' : 'b',
		   r->incoming ? 'i' : 'o', r->anonymous ? 'a' : 'r', r->user,
		   r->complete ? 'c' : 'i');
}

void xferlog_write(struct xferlog *x, const struct xfer_record *r)
{
	struct buf b = { 0 };
	xferlog_format(&b, r);
	if (!b.failed) {
		flog(LOG_LVL_INFO, "xfer: %.*s", (int)(b.len - 1), b.p);
		if (x && x->fd >= 0 && write(x->fd, b.p, b.len) < 0)
			flog(LOG_LVL_WARN, "%s: %s", __func__, strerror(errno));
	}
	buf_free(&b);
}
