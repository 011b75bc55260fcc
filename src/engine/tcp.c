/* tcp.c — TCP listeners (multishot accept) and connections (one receive
 * into a provided buffer in flight, one send in flight, graceful and forced
 * close, hand-over of the descriptor to another owner). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry/base.h"
#include "internal.h"

enum { ACCEPT_RETRY_MS = 100 };
/* What fe_conn_close_linger reads after our FIN before it gives up: a late
 * ticket or close_notify is far less; a peer still sending a file (a
 * download whose client is gone) then sees the reset it would have seen. */
enum { LINGER_MAX = 64 << 10 };

struct fe_listener {
	struct list_node node;
	struct fe_worker *w;
	int fd;
	fe_accept_cb *cb;
	void *arg;
	unsigned refs;          /* accept in flight plus the owner's */
	bool closing;
	bool armed;
	struct fe_timer *retry; /* backing off after EMFILE */
	struct port_claim *claim; /* shared with our other workers (claim.c) */
	bool ranged;            /* fe_tcp_listen_range: its port is scarce */
};

/* ---- connections ----------------------------------------------------------- */

/* One single-shot receive at a time, re-armed as each completes. Not
 * multishot: a multishot receive goes on filling provided buffers until its
 * cancel takes effect, so a connection paused by its owner could still take
 * a whole batch of the worker's buffers (a flooding client: megabytes) into
 * `held`. One receive in flight bounds what a paused connection holds to
 * one buffer, and keeps one fast sender from emptying the worker's ring
 * under the others. The cost is one SQE per buffer, submitted with the
 * turn's other work. */
static void conn_arm_recv(struct fe_conn *c)
{
	struct io_uring_sqe *sqe = fe_sqe(c->w);
	/* len 0: the buffer's; less when the owner must not get past a point
	 * of the stream (fe_conn_recv_max) */
	io_uring_prep_recv(sqe, c->fd, NULL, (unsigned)c->recv_max, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID_TCP;
	io_uring_sqe_set_data64(sqe, ud_make(OP_TCP_RECV, c));
	c->recv_armed = true;
	c->cancel_sent = false;
	c->refs++;
	c->w->inflight++;
}

static void conn_send_busy(struct fe_conn *c)
{
	struct io_uring_sqe *sqe = fe_sqe(c->w);
	if (c->alert)           /* kTLS: these bytes are an alert record's */
		fe_ktls_prep_alert(sqe, c);
	else
		io_uring_prep_send(sqe, c->fd, c->busy.p + c->busy.off,
				   c->busy.len - c->busy.off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud_make(OP_TCP_SEND, c));
	c->send_busy = true;
	c->refs++;
	c->w->inflight++;
}

/* Start sending `next` if nothing is in flight. */
static void conn_kick(struct fe_conn *c)
{
	if (c->send_busy || !c->next.len)
		return;
	struct obuf t = c->busy;
	c->busy = c->next;
	c->next = t;
	c->next.len = c->next.off = 0;
	conn_send_busy(c);
}

/* close() with unread input resets the connection (RFC 2525 2.17), and the
 * reset drops what we sent that the peer has not received yet: the tail of
 * a file spliced to a connection whose input was paused (a kTLS download
 * the client sent a record to) or not read (a PROT C download). Discarding
 * what waits, without copying it (MSG_TRUNC), ends it with a FIN instead. */
static void conn_discard_input(int fd)
{
	char sink[16384];
	for (int i = 0; i < 64; i++)
		if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT | MSG_TRUNC) <= 0)
			return;
}

static void conn_free(struct fe_conn *c)
{
	list_del(&c->node);
	if (c->detaching && !c->quiet) {
		c->detach_cb(c->w, c->fd, c->extra.p, c->extra.len, c->detach_arg);
	} else {
		if (!c->err)                /* our orderly close: all we sent arrives */
			conn_discard_input(c->fd);
		close(c->fd);
		if (c->started && !c->quiet)
			c->ops->on_close(c, c->err, c->arg);
	}
	fe_ktls_alert_free(c);
	free(c->busy.p);
	free(c->next.p);
	free(c->extra.p);
	free(c->held.p);
	free(c);
}

static void conn_settle(struct fe_conn *c);

static void linger_expired(struct fe_worker *w, void *arg)
{
	struct fe_conn *c = arg;
	(void)w;
	c->linger_timer = NULL;
	c->refs--;
	c->linger_done = true;
	conn_settle(c);
}

/* fe_conn_close_linger, once all is sent: FIN, then a receive armed until
 * the peer's FIN (or error, or the timer). true while that lasts. */
static bool conn_lingers(struct fe_conn *c)
{
	if (!c->linger_ms || c->detaching || c->xfer)
		return false;
	if (c->err || c->linger_done) {
		if (c->linger_timer) {
			fe_timer_cancel(c->w, c->linger_timer);
			c->linger_timer = NULL;
			c->refs--;
		}
		return false;
	}
	if (!c->lingering) {
		c->lingering = true;
		c->linger_timer = fe_timer_add(c->w, c->linger_ms, linger_expired, c);
		if (c->linger_timer)
			c->refs++;
		if (!c->linger_timer || shutdown(c->fd, SHUT_WR) < 0) {
			c->linger_done = true;
			return conn_lingers(c);
		}
	}
	if (!c->recv_armed)
		conn_arm_recv(c);
	return true;
}

/* Once closing and idle, stop the receive; free when the kernel lets go. */
static void conn_settle(struct fe_conn *c)
{
	if (c->closing && c->xfer)
		fe_xfer_abort_quiet(c->xfer);
	if (c->closing && c->resume_timer) {
		fe_timer_cancel(c->w, c->resume_timer);
		c->resume_timer = NULL;
		c->refs--;
	}
	if (!c->closing || c->send_busy || conn_lingers(c))
		return;
	if (c->recv_armed) {
		if (!c->cancel_sent) {
			fe_cancel(c->w, OP_TCP_RECV, c);
			c->cancel_sent = true;
		}
		return;
	}
	if (c->refs == 0)
		conn_free(c);
}

static void conn_fail(struct fe_conn *c, int err)
{
	if (!c->err)
		c->err = err;
	c->closing = true;
	if (err < 0)
		c->next.len = c->next.off = 0; /* the peer is gone: drop output */
	conn_settle(c);
}

void fe_tcp_conn_settle(struct fe_conn *c) { conn_settle(c); }

static int obuf_append(struct obuf *b, const void *data, size_t len);

void fe_tcp_on_recv(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	struct fe_conn *c = ud_ptr(cqe->user_data);
	int res = cqe->res;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (res > 0 && c->detaching) {
			w->st.tcp_rx_bytes += (uint64_t)res;
			if (obuf_append(&c->extra, fe_bufring_at(&w->tcp_bufs, bid),
					(size_t)res))
				c->quiet = true;   /* cannot hand over: drop it */
		} else if (res > 0 && (c->paused || c->resume_timer) && !c->closing) {
			/* Completed before the cancel took effect (at most
			 * one buffer: one receive is in flight), or behind
			 * bytes that wait for delivery: keep it, in order. */
			w->st.tcp_rx_bytes += (uint64_t)res;
			if (obuf_append(&c->held, fe_bufring_at(&w->tcp_bufs, bid),
					(size_t)res))
				conn_fail(c, -ENOMEM);
		} else if (res > 0 && !c->closing) {
			w->st.tcp_rx_bytes += (uint64_t)res;
			c->ops->on_data(c, fe_bufring_at(&w->tcp_bufs, bid), (size_t)res,
					c->arg);
		}
		fe_bufring_put(&w->tcp_bufs, bid);
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	c->recv_armed = false;
	c->refs--;
	w->inflight--;
	if (c->closing) {
		/* lingering: the peer's FIN (0) or an error ends the wait */
		if (c->lingering && res <= 0 && res != -ENOBUFS && res != -ECANCELED)
			c->linger_done = true;
		if (c->lingering && res > 0 && (c->linger_bytes += (size_t)res) > LINGER_MAX)
			c->linger_done = true;   /* still sending: nobody reads it */
		conn_settle(c);
	} else if (c->paused || c->resume_timer) {
		/* Stopped by fe_conn_pause (or ended on its own), or ended
		 * while held bytes wait for their delivery after a resume. An
		 * orderly close waits, behind them: the receive armed on resume
		 * reports it again. */
		if (res < 0 && res != -ECANCELED && res != -ENOBUFS)
			conn_fail(c, res);
	} else if (res == 0) {
		conn_fail(c, 0);                 /* orderly close by the peer */
	} else if (res > 0 || res == -ENOBUFS || res == -ECANCELED) {
		conn_arm_recv(c);                /* next buffer (or a pause was
						  * undone); carry on */
	} else {
		conn_fail(c, res);
	}
}

void fe_tcp_on_sent(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	struct fe_conn *c = ud_ptr(cqe->user_data);
	c->send_busy = false;
	c->refs--;
	w->inflight--;
	if (cqe->res < 0) {
		c->busy.len = c->busy.off = 0;
		fe_ktls_alert_free(c);
		conn_fail(c, cqe->res);
		return;
	}
	w->st.tcp_tx_bytes += (uint64_t)cqe->res;
	c->busy.off += (size_t)cqe->res;
	if (c->busy.off < c->busy.len) {
		conn_send_busy(c);
		return;
	}
	c->busy.len = c->busy.off = 0;
	fe_ktls_alert_free(c);         /* an alert record went whole */
	conn_kick(c);
	if (!c->send_busy) {
		/* All sent: hand the buffers back. A connection that waits
		 * (an idle FTP session) then holds no output memory; the next
		 * send allocates again. */
		free(c->busy.p);
		free(c->next.p);
		c->busy = c->next = (struct obuf){ 0 };
	}
	if (!c->send_busy && !c->closing && c->ops && c->ops->on_drained) {
		c->refs++;            /* the callback may close it */
		c->ops->on_drained(c, c->arg);
		c->refs--;
	}
	conn_settle(c);
}

static int obuf_append(struct obuf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		while (cap < b->len + len)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

size_t fe_conn_queued(const struct fe_conn *c)
{
	return c->busy.len - c->busy.off + c->next.len;
}

size_t fe_conn_held(const struct fe_conn *c) { return c->held.len; }

void fe_conn_set_limit(struct fe_conn *c, size_t bytes) { c->limit = bytes; }

void fe_conn_recv_max(struct fe_conn *c, size_t bytes)
{
	c->recv_max = bytes < FE_TCP_RECV_MAX ? bytes : 0;
}

int fe_conn_send(struct fe_conn *c, const void *data, size_t len)
{
	if (c->closing)
		return -EPIPE;
	size_t queued = fe_conn_queued(c);
	if (len > c->limit || queued > c->limit - len)
		return -ENOBUFS;
	int r = obuf_append(&c->next, data, len);
	if (r == 0)
		conn_kick(c);
	return r;
}

int fe_conn_send_owned(struct fe_conn *c, void *p, size_t len, size_t cap)
{
	if (c->closing)
		return -EPIPE;
	size_t queued = fe_conn_queued(c);
	if (len > c->limit || queued > c->limit - len)
		return -ENOBUFS;
	if (c->next.len || c->alert) {         /* behind other bytes: copied */
		int r = obuf_append(&c->next, p, len);
		if (r)
			return r;
		free(p);
	} else {
		free(c->next.p);
		c->next = (struct obuf){ .p = p, .len = len, .cap = cap };
	}
	conn_kick(c);
	return 0;
}

void fe_conn_start(struct fe_conn *c, const struct fe_conn_ops *ops, void *arg)
{
	fe_conn_hold(c, ops, arg);
	fe_conn_recv_start(c);
}

void fe_conn_hold(struct fe_conn *c, const struct fe_conn_ops *ops, void *arg)
{
	c->ops = ops;
	c->arg = arg;
	c->started = true;
}

void fe_conn_recv_start(struct fe_conn *c)
{
	c->receiving = true;
	if (!c->recv_armed && !c->closing && !c->xfer && !c->paused)
		conn_arm_recv(c);
}

void fe_conn_pause(struct fe_conn *c)
{
	if (c->paused || c->closing)
		return;
	c->paused = true;
	if (c->recv_armed && !c->cancel_sent) {
		fe_cancel(c->w, OP_TCP_RECV, c);
		c->cancel_sent = true;
	}
}

/* Next turn after resume: what completed during the pause, then receive. */
static void conn_resume_now(struct fe_worker *w, void *arg)
{
	struct fe_conn *c = arg;
	(void)w;
	c->resume_timer = NULL;
	c->refs--;
	if (!c->closing && !c->paused && c->held.len) {
		struct obuf h = c->held;
		c->held = (struct obuf){ 0 };
		c->refs++;            /* the callback may close it */
		c->ops->on_data(c, h.p, h.len, c->arg);
		c->refs--;
		free(h.p);
	}
	if (!c->closing && !c->paused && c->receiving && !c->recv_armed && !c->xfer)
		conn_arm_recv(c);
	conn_settle(c);
}

void fe_conn_resume(struct fe_conn *c)
{
	if (!c->paused || c->closing)
		return;
	c->paused = false;
	if (c->resume_timer)
		return;
	if (!c->held.len) {
		/* A receive still being cancelled re-arms itself when it ends. */
		if (c->receiving && !c->recv_armed && !c->xfer)
			conn_arm_recv(c);
		return;
	}
	c->resume_timer = fe_timer_add(c->w, 0, conn_resume_now, c);
	if (c->resume_timer)
		c->refs++;
	else
		conn_fail(c, -ENOMEM);
}

void fe_conn_detach(struct fe_conn *c, fe_detach_cb *cb, void *arg)
{
	if (c->closing)
		return;
	if (c->held.len && obuf_append(&c->extra, c->held.p, c->held.len))
		c->quiet = true;
	c->detaching = true;
	c->detach_cb = cb;
	c->detach_arg = arg;
	c->closing = true;
	conn_settle(c);
}

void fe_conn_close(struct fe_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	conn_settle(c);
}

void fe_conn_close_linger(struct fe_conn *c, uint32_t ms)
{
	if (c->closing)
		return;
	c->linger_ms = ms ? ms : 1;
	fe_conn_close(c);
}

const struct sockaddr_storage *fe_conn_peer(const struct fe_conn *c)
{
	return &c->peer;
}

int fe_conn_local(const struct fe_conn *c, struct sockaddr_storage *out)
{
	return fe_fd_local(c->fd, out);
}

int fe_conn_urgent_inline(struct fe_conn *c)
{
	int one = 1;
	return setsockopt(c->fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) < 0 ? -errno : 0;
}

int fe_conn_nodelay(struct fe_conn *c)
{
	int one = 1;
	return setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ? -errno : 0;
}

struct fe_worker *fe_conn_worker(const struct fe_conn *c) { return c->w; }

struct fe_conn *fe_tcp_conn_new(struct fe_worker *w, int fd)
{
	struct fe_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->w = w;
	c->fd = fd;
	c->limit = FE_CONN_LIMIT;
	socklen_t len = sizeof(c->peer);
	getpeername(fd, (struct sockaddr *)&c->peer, &len);
	list_add(&w->conns, &c->node);
	return c;
}

struct fe_conn *fe_conn_adopt(struct fe_worker *w, int fd)
{
	return fe_tcp_conn_new(w, fd);
}

/* ---- listeners ------------------------------------------------------------- */

static void listener_arm(struct fe_listener *l)
{
	struct io_uring_sqe *sqe = fe_sqe(l->w);
	io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud_make(OP_ACCEPT, l));
	l->armed = true;
	l->refs++;
	l->w->inflight++;
}

static void listener_unref(struct fe_listener *l)
{
	if (--l->refs)
		return;
	close(l->fd);
	fe_claim_release(l->w->eng, l->claim);
	free(l);
}

static void listener_retry(struct fe_worker *w, void *arg)
{
	struct fe_listener *l = arg;
	(void)w;
	l->retry = NULL;
	if (!l->closing)
		listener_arm(l);
	listener_unref(l);
}

static void accept_one(struct fe_listener *l, int fd)
{
	struct fe_worker *w = l->w;
	struct fe_conn *c = fe_tcp_conn_new(w, fd);
	if (!c) {
		close(fd);
		return;
	}
	w->st.accepts++;
	c->refs++;                    /* the callback may already close it */
	l->cb(l, c, l->arg);
	c->refs--;
	if (!c->started)              /* the protocol turned it away */
		c->closing = true;
	conn_settle(c);
}

void fe_tcp_on_accept(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	struct fe_listener *l = ud_ptr(cqe->user_data);
	if (cqe->res >= 0) {
		if (l->closing || w->stopping)
			close(cqe->res);
		else
			accept_one(l, cqe->res);
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	l->armed = false;
	w->inflight--;
	int res = cqe->res;
	if (!l->closing && !w->stopping && res != -ECANCELED && res != -EBADF) {
		if (res == -EMFILE || res == -ENFILE || res == -ENOMEM) {
			/* Out of descriptors: back off instead of spinning. */
			flog(LOG_LVL_WARN, "%s: accept: %s", __func__, strerror(-res));
			w->st.accept_backoffs++;
			l->refs++;
			l->retry = fe_timer_add(w, ACCEPT_RETRY_MS, listener_retry, l);
			if (!l->retry)
				l->refs--;
		} else {
			listener_arm(l);
		}
	}
	listener_unref(l);
}

int fe_tcp_socket(int family, bool reuseport)
{
	int one = 1;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
					      sizeof(one)))) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Takes fd (listening) and claim, also when it fails. */
static struct fe_listener *listener_new(struct fe_worker *w, int fd, struct port_claim *claim,
					fe_accept_cb *cb, void *arg, int *err)
{
	struct fe_listener *l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		fe_claim_release(w->eng, claim);
		*err = -ENOMEM;
		return NULL;
	}
	*l = (struct fe_listener){ .w = w, .fd = fd, .cb = cb, .arg = arg, .refs = 1,
				   .claim = claim };
	list_add(&w->listeners, &l->node);
	listener_arm(l);
	*err = 0;
	return l;
}

struct fe_listener *fe_tcp_listen(struct fe_worker *w,
				  const struct sockaddr_storage *addr,
				  bool reuseport, fe_accept_cb *cb, void *arg,
				  int *err)
{
	struct port_claim *claim = NULL;
	int fd = fe_tcp_socket(addr->ss_family, reuseport);
	int r = fd < 0 ? fd : 0;
	if (r == 0 && reuseport)
		r = fe_claim_bind(w, fd, SOCK_STREAM, addr, &claim);
	else if (r == 0 && bind(fd, (const struct sockaddr *)addr,
				fb_family_len(addr->ss_family)) < 0)
		r = -errno;
	if (r == 0 && listen(fd, SOMAXCONN) < 0)
		r = -errno;
	if (r) {
		if (fd >= 0)
			close(fd);
		fe_claim_release(w->eng, claim);
		*err = r;
		return NULL;
	}
	return listener_new(w, fd, claim, cb, arg, err);
}

struct fe_listener *fe_tcp_listen_range(struct fe_worker *w,
					const struct sockaddr_storage *addr,
					uint16_t lo, uint16_t hi, fe_accept_cb *cb,
					void *arg, int *err)
{
	int fd = fe_tcp_listen_in_range(addr, lo, hi);
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	struct fe_listener *l = listener_new(w, fd, NULL, cb, arg, err);
	if (l)
		l->ranged = true;
	return l;
}

int fe_listener_local(const struct fe_listener *l, struct sockaddr_storage *out)
{
	return fe_fd_local(l->fd, out);
}

void fe_listener_close(struct fe_listener *l)
{
	if (!l || l->closing)
		return;
	l->closing = true;
	list_del(&l->node);
	/* The socket lives until the kernel drops the accept in flight; a
	 * listener shut down no longer holds its port against the next bind
	 * of it (SO_REUSEADDR), so a full range frees it now. */
	if (l->ranged)
		shutdown(l->fd, SHUT_RDWR);
	if (l->armed)
		fe_cancel(l->w, OP_ACCEPT, l);
	if (l->retry) {               /* a back-off timer holds a reference */
		fe_timer_cancel(l->w, l->retry);
		l->retry = NULL;
		assert(l->refs > 1);      /* the list's own is dropped below */
		l->refs--;
	}
	listener_unref(l);
}

/* Teardown after worker_fini: no protocol is left to hear on_close. */
void fe_tcp_close_all(struct fe_worker *w)
{
	while (w->listeners.next != &w->listeners)
		fe_listener_close(container_of(w->listeners.next, struct fe_listener, node));
	for (struct list_node *n = w->conns.next, *nx; n != &w->conns; n = nx) {
		nx = n->next;
		struct fe_conn *c = container_of(n, struct fe_conn, node);
		c->quiet = true;
		conn_fail(c, -ECANCELED);
	}
}
