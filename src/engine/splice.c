/* splice.c — file transfers that never copy file data through user space:
 * file → pipe → socket for sending, socket → pipe → file for receiving, one
 * io_uring operation in flight per transfer.
 *
 * io_uring runs every splice in its io-wq worker threads. That suits the
 * file side (a cold file may sleep on the disk) but not the socket side of
 * a send, where a worker would sleep whenever the socket buffer is full, one
 * thread per transfer. So a send fills the pipe with an io_uring splice and
 * empties it into the socket right here, non-blocking (the socket is
 * O_NONBLOCK while the transfer runs), one step per loop turn: a step is
 * the largest whole number of segments (TCP_MAXSEG) up to 64 KiB, and the
 * next step waits for POLLOUT through io_uring, so every transfer gets its
 * turn and a full socket is waited for, not spun on.
 *
 * Why whole segments: a 64 KiB step over loopback (MSS 47616 once warm)
 * made a full segment and a partial one every time; 16 RETRs at once moved
 * 2.5-4.4 GB/s that way and 10.6-11.3 GB/s with whole-segment steps, runs
 * interleaved on one machine. Filling each socket until EAGAIN, as the
 * io-wq splice did, gave 2.0-2.5 GB/s, where pyftpdlib's 64 KiB sendfile()
 * per POLLOUT gives about 5. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

enum {
	PIPE_BYTES = 1 << 20,
	STEP_TARGET = 64 * 1024,   /* a send step: whole segments up to this */
};

struct fe_xfer {
	struct fe_conn *c;
	int file_fd;
	int pipe[2];
	size_t chunk;        /* pipe capacity */
	bool to_socket;      /* file → socket; else socket → file */
	bool in_phase;       /* the splice in flight fills the pipe */
	bool polling;        /* to_socket: a POLLOUT poll is in flight instead */
	bool busy, eof, aborted;
	int sock_flags;      /* to_socket: the socket's flags before O_NONBLOCK */
	uint64_t off;        /* next file offset */
	uint64_t left;       /* still to read from the file (sending) */
	uint64_t done;       /* bytes delivered to the destination */
	size_t in_pipe;
	fe_xfer_cb *cb;
	void *arg;
};

static void xfer_submit(struct fe_xfer *x, bool in, size_t len)
{
	struct fe_conn *c = x->c;
	struct io_uring_sqe *sqe = fe_sqe(c->w);
	if (in && x->to_socket)
		io_uring_prep_splice(sqe, x->file_fd, (int64_t)x->off, x->pipe[1], -1,
				     (unsigned)len, SPLICE_F_MOVE);
	else if (in)
		io_uring_prep_splice(sqe, c->fd, -1, x->pipe[1], -1, (unsigned)len,
				     SPLICE_F_MOVE);
	else              /* pipe → socket is xfer_drain's, not io-wq's */
		io_uring_prep_splice(sqe, x->pipe[0], -1, x->file_fd, (int64_t)x->off,
				     (unsigned)len, SPLICE_F_MOVE);
	io_uring_sqe_set_data64(sqe, ud_make(OP_SPLICE, x));
	x->in_phase = in;
	x->busy = true;
	c->refs++;
	c->w->inflight++;
}

/* Whole segments up to STEP_TARGET; STEP_TARGET if the MSS is unknown.
 * Asked every step: the MSS grows while a connection warms up (over
 * loopback from 32768 to 47616 in the first sends). */
static size_t send_step(int fd)
{
	int mss = 0;
	socklen_t len = sizeof(mss);
	if (getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &len) < 0 || mss <= 0)
		return STEP_TARGET;
	if ((size_t)mss >= STEP_TARGET)
		return (size_t)mss;
	return STEP_TARGET / (size_t)mss * (size_t)mss;
}

/* The one operation in flight is a POLLOUT poll on the socket (same
 * user_data as the splices: the completion handler tells them apart). */
static void xfer_poll(struct fe_xfer *x)
{
	struct fe_conn *c = x->c;
	struct io_uring_sqe *sqe = fe_sqe(c->w);
	io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
	io_uring_sqe_set_data64(sqe, ud_make(OP_SPLICE, x));
	x->polling = true;
	x->busy = true;
	c->refs++;
	c->w->inflight++;
}

/* Moves one step from the pipe into the socket without blocking: 1 when
 * the pipe is empty, 0 when the rest waits for the next POLLOUT (a poll is
 * in flight: this turn's other work goes first, and a full socket is
 * waited for), or -errno. */
static int xfer_drain(struct fe_xfer *x)
{
	struct fe_conn *c = x->c;
	unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
	size_t step = send_step(c->fd);
	size_t len = x->in_pipe < step ? x->in_pipe : step;
	if (x->left > 0 || len < x->in_pipe)
		flags |= SPLICE_F_MORE;     /* more file follows: no push yet */
	ssize_t n;
	do
		n = splice(x->pipe[0], NULL, c->fd, NULL, len, flags);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		x->in_pipe -= (size_t)n;
		x->done += (uint64_t)n;
		c->w->st.tcp_tx_bytes += (uint64_t)n;
	} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		return n == 0 ? -EPIPE : -errno;
	}
	if (!x->in_pipe)
		return 1;
	xfer_poll(x);
	return 0;
}

static void xfer_free(struct fe_xfer *x)
{
	if (x->to_socket && !(x->sock_flags & O_NONBLOCK))
		fcntl(x->c->fd, F_SETFL, x->sock_flags);
	close(x->pipe[0]);
	close(x->pipe[1]);
	if (x->c->xfer == x)
		x->c->xfer = NULL;
	free(x);
}

static void xfer_fail(struct fe_xfer *x, int err);

/* The next step: drain the pipe, else refill it, else report. */
static void xfer_step(struct fe_xfer *x)
{
	if (x->in_pipe && x->to_socket) {
		int r = xfer_drain(x);
		if (r < 0)
			xfer_fail(x, r);
		if (r <= 0)
			return;
	}
	if (x->in_pipe) {
		xfer_submit(x, false, x->in_pipe);
		return;
	}
	if (!x->eof && (!x->to_socket || x->left > 0)) {
		size_t len = x->chunk;
		if (x->to_socket && x->left < len)
			len = (size_t)x->left;
		xfer_submit(x, true, len);
		return;
	}
	struct fe_conn *c = x->c;
	fe_xfer_cb *cb = x->cb;
	void *arg = x->arg;
	uint64_t done = x->done;
	xfer_free(x);
	cb(c, 0, done, arg);
}

static void xfer_fail(struct fe_xfer *x, int err)
{
	struct fe_conn *c = x->c;
	fe_xfer_cb *cb = x->cb;
	void *arg = x->arg;
	uint64_t done = x->done;
	xfer_free(x);
	cb(c, err, done, arg);
}

void fe_splice_on_done(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	struct fe_xfer *x = ud_ptr(cqe->user_data);
	struct fe_conn *c = x->c;
	int res = cqe->res;
	w->inflight--;
	x->busy = false;            /* c->refs drops at the end: cb may close c */
	bool polled = x->polling;
	x->polling = false;
	if (x->aborted) {
		xfer_free(x);
	} else if (res < 0) {
		c->rx_sock_end = !x->to_socket && x->in_phase;
		xfer_fail(x, res);
	} else if (polled) {
		xfer_step(x);            /* POLLOUT (or an error the splice will see) */
	} else if (x->in_phase) {
		if (res == 0) {
			x->eof = true;
		} else {
			x->in_pipe = (size_t)res;
			if (x->to_socket) {
				x->off += (uint64_t)res;
				x->left -= (uint64_t)res;
			}
		}
		xfer_step(x);
	} else {
		if (res == 0) {          /* nothing moved out of a full pipe */
			xfer_fail(x, -EPIPE);
		} else {
			x->in_pipe -= (size_t)res;
			x->done += (uint64_t)res;
			if (x->to_socket)
				w->st.tcp_tx_bytes += (uint64_t)res;
			else {
				x->off += (uint64_t)res;
				w->st.tcp_rx_bytes += (uint64_t)res;
			}
			xfer_step(x);
		}
	}
	c->refs--;
	fe_tcp_conn_settle(c);
}

static struct fe_xfer *xfer_start(struct fe_conn *c, int file_fd, uint64_t offset,
				  uint64_t len, bool to_socket, fe_xfer_cb *cb,
				  void *arg, int *err)
{
	/* a paused connection may send: its receive is being cancelled and
	 * whatever completes is held (a kTLS download pauses its TLS input) */
	if (c->closing || c->xfer || (c->recv_armed && !(to_socket && c->paused)) ||
	    c->send_busy || c->next.len) {
		*err = -EBUSY;
		return NULL;
	}
	struct fe_xfer *x = calloc(1, sizeof(*x));
	if (!x) {
		*err = -ENOMEM;
		return NULL;
	}
	if (pipe2(x->pipe, O_CLOEXEC) < 0) {
		*err = -errno;
		free(x);
		return NULL;
	}
	fcntl(x->pipe[1], F_SETPIPE_SZ, PIPE_BYTES);  /* best effort */
	int size = fcntl(x->pipe[1], F_GETPIPE_SZ);
	x->chunk = size > 0 ? (size_t)size : 65536;
	if (to_socket) {
		x->sock_flags = fcntl(c->fd, F_GETFL);
		if (x->sock_flags < 0 ||
		    (!(x->sock_flags & O_NONBLOCK) &&
		     fcntl(c->fd, F_SETFL, x->sock_flags | O_NONBLOCK) < 0)) {
			*err = -errno;
			close(x->pipe[0]);
			close(x->pipe[1]);
			free(x);
			return NULL;
		}
	}
	x->c = c;
	x->file_fd = file_fd;
	x->to_socket = to_socket;
	x->off = offset;
	x->left = len;
	x->cb = cb;
	x->arg = arg;
	c->xfer = x;
	c->rx_sock_end = false;
	xfer_step(x);
	*err = 0;
	return x;
}

struct fe_xfer *fe_conn_sendfile(struct fe_conn *c, int file_fd, uint64_t offset,
				 uint64_t len, fe_xfer_cb *cb, void *arg, int *err)
{
	return xfer_start(c, file_fd, offset, len, true, cb, arg, err);
}

struct fe_xfer *fe_conn_recvfile(struct fe_conn *c, int file_fd, uint64_t offset,
				 fe_xfer_cb *cb, void *arg, int *err)
{
	return xfer_start(c, file_fd, offset, UINT64_MAX, false, cb, arg, err);
}

/* A splice may sleep in the kernel on the socket: shutting the socket down
 * wakes it, the cancel covers one not yet started. */
void fe_xfer_abort_quiet(struct fe_xfer *x)
{
	if (x->aborted)
		return;
	x->aborted = true;
	shutdown(x->c->fd, SHUT_RDWR);
	if (x->busy)
		fe_cancel(x->c->w, OP_SPLICE, x);
	else
		xfer_free(x);
}

void fe_xfer_abort(struct fe_xfer *x)
{
	if (!x)
		return;
	struct fe_conn *c = x->c;
	fe_xfer_abort_quiet(x);
	fe_tcp_conn_settle(c);
}

uint64_t fe_xfer_progress(const struct fe_xfer *x)
{
	return x->done;
}
