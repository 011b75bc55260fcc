/* connect.c — outbound TCP connections: one io_uring connect, then the socket
 * becomes an ordinary connection handed to the caller. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include "ferry/base.h"
#include "internal.h"

struct fe_connect {
	struct fe_worker *w;
	int fd;
	struct sockaddr_storage to;
	fe_connect_cb *cb;
	void *arg;
	bool cancelled;
};

struct fe_connect *fe_tcp_connect(struct fe_worker *w,
				  const struct sockaddr_storage *to,
				  const struct sockaddr_storage *from,
				  fe_connect_cb *cb, void *arg, int *err)
{
	int one = 1;
	int fd = socket(to->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (from && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		     bind(fd, (const struct sockaddr *)from, fb_addr_len((const struct sockaddr *)from)))) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	struct fe_connect *k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	k->w = w;
	k->fd = fd;
	k->to = *to;
	k->cb = cb;
	k->arg = arg;
	struct io_uring_sqe *sqe = fe_sqe(w);
	io_uring_prep_connect(sqe, fd, (struct sockaddr *)&k->to, fb_addr_len((const struct sockaddr *)&k->to));
	io_uring_sqe_set_data64(sqe, ud_make(OP_CONNECT, k));
	w->inflight++;
	*err = 0;
	return k;
}

void fe_connect_cancel(struct fe_connect *k)
{
	if (!k || k->cancelled)
		return;
	k->cancelled = true;
	fe_cancel(k->w, OP_CONNECT, k);
}

void fe_connect_on_done(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	struct fe_connect *k = ud_ptr(cqe->user_data);
	w->inflight--;
	struct fe_conn *c = NULL;
	int res = cqe->res;
	if (!k->cancelled && res >= 0 && !w->stopping) {
		c = fe_tcp_conn_new(w, k->fd);
		res = c ? 0 : -ENOMEM;
	}
	if (!c)
		close(k->fd);
	if (!k->cancelled) {
		if (c)
			c->refs++;          /* the callback may close it */
		k->cb(c, res < 0 ? res : 0, k->arg);
		if (c) {
			c->refs--;
			if (!c->started)
				c->closing = true;
			fe_tcp_conn_settle(c);
		}
	} else if (c) {
		fe_conn_close(c);
	}
	free(k);
}
