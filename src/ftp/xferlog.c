/* xferlog.c — one line per transfer in wu-ftpd's xferlog format, appended
 * with a single write so workers never interleave; reopened on SIGHUP. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

struct xferlog {
	pthread_mutex_t mu;        /* guards fd against a reopen */
	int fd;
	char *path;
};

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	return fd < 0 ? -errno : fd;
}

struct xferlog *ftp_xferlog_open(const char *path, int *err)
{
	struct xferlog *x = calloc(1, sizeof(*x));
	if (!x) {
		*err = -ENOMEM;
		return NULL;
	}
	x->fd = -1;
	if (path && (!(x->path = strdup(path)) || (x->fd = open_log(path)) < 0)) {
		*err = x->path ? x->fd : -ENOMEM;
		free(x->path);
		free(x);
		return NULL;
	}
	pthread_mutex_init(&x->mu, NULL);
	*err = 0;
	return x;
}

int ftp_xferlog_reopen(struct xferlog *x)
{
	if (!x || !x->path)
		return 0;
	int fd = open_log(x->path);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&x->mu);
	int old = x->fd;
	x->fd = fd;
	pthread_mutex_unlock(&x->mu);
	close(old);
	return 0;
}

void ftp_xferlog_close(struct xferlog *x)
{
	if (!x)
		return;
	if (x->fd >= 0)
		close(x->fd);
	pthread_mutex_destroy(&x->mu);
	free(x->path);
	free(x);
}

/* A field of the line: no spaces (they separate fields) and no control
 * bytes (they could forge lines); both become '_'. */
static void field(struct fb_buf *out, const char *p)
{
	if (!*p)
		fb_buf_append(out, "_", 1);
	for (; *p; p++) {
		char ch = (*p == ' ' || (unsigned char)*p < 32 || *p == 127) ? '_' : *p;
		fb_buf_append(out, &ch, 1);
	}
}

/* current-time transfer-time remote-host file-size filename transfer-type
 * special-action direction access-mode username service auth-method
 * auth-user-id completion-status. transfer-time has milliseconds
 * ("0.042"); username is the anonymous user's ident (the PASS string),
 * as wu-ftpd writes it. */
void ftp_xferlog_format(struct fb_buf *out, const struct xfer_record *r)
{
	char when[32];
	struct tm tm;
	localtime_r(&r->end, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
	fb_buf_printf(out, "%s %llu.%03u %s %llu ", when, (unsigned long long)(r->ms / 1000),
		   (unsigned)(r->ms % 1000), r->host, (unsigned long long)r->bytes);
	field(out, r->path);
	fb_buf_printf(out, " %c _ %c %c ", r->ascii ? 'a' : 'b', r->incoming ? 'i' : 'o',
		   r->anonymous ? 'a' : 'r');
	field(out, r->user);
	fb_buf_printf(out, " ftp 0 * %c\n", r->complete ? 'c' : 'i');
}

void ftp_xferlog_write(struct xferlog *x, const struct xfer_record *r)
{
	struct fb_buf b = { 0 };
	ftp_xferlog_format(&b, r);
	if (!b.failed) {
		flog(LOG_LVL_INFO, "xfer: %.*s", (int)(b.len - 1), b.p);
		if (x && x->path) {
			pthread_mutex_lock(&x->mu);
			ssize_t n = write(x->fd, b.p, b.len);
			pthread_mutex_unlock(&x->mu);
			if (n < 0)
				flog(LOG_LVL_WARN, "%s: %s", __func__, strerror(errno));
		}
	}
	fb_buf_free(&b);
}
