/* ftp_conn.c — a ferry-perf ftp client's sockets: non-blocking connects in
 * the thread's epoll set, commands out, whole replies in, and failures. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ftp_client.h"

/* Event tags: client index, the descriptor's generation, which one. */
uint64_t perf_ftp_tag(const struct ftp_client *c, bool data)
{
	uint32_t gen = data ? c->dat_gen : c->ctl_gen;
	return (uint64_t)c->index << 32 | (uint64_t)(gen & 0x7fffffffu) << 1 | data;
}

/* Edge-triggered, both directions, once per descriptor: no epoll_ctl calls
 * after that, so the client costs the server's peers as little as it can.
 * Every handler therefore reads or writes until EAGAIN. */
int perf_ftp_watch(struct ftp_client *c, bool data)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.u64 = perf_ftp_tag(c, data) };
	return epoll_ctl(c->t->epfd, EPOLL_CTL_ADD, data ? c->dat : c->ctl, &ev) < 0 ? -errno : 0;
}

void perf_ftp_close_fd(struct ftp_client *c, bool data)
{
	int *fd = data ? &c->dat : &c->ctl;
	if (*fd < 0)
		return;
	close(*fd);    /* leaves the epoll set with it */
	*fd = -1;
	if (data)
		c->dat_gen++;
	else
		c->ctl_gen++;
}

void perf_ftp_close_all(struct ftp_client *c)
{
	perf_ftp_close_fd(c, false);
	perf_ftp_close_fd(c, true);
	c->gen++;
	c->dst = D_NONE;
	c->inlen = c->outlen = c->outoff = c->dinlen = 0;
	c->rr.multi = c->drr.multi = 0;
}

/* A non-blocking connect to the server, on port (0: the control port). */
int perf_ftp_dial(struct ftp_client *c, unsigned port, int *out)
{
	struct sockaddr_storage a = opts(c)->server;
	if (port && a.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)port);
	else if (port)
		((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)port);
	int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, perf_addr_len(&a)) < 0 &&
	    errno != EINPROGRESS) {
		int e = -errno;
		close(fd);
		return e;
	}
	*out = fd;
	return 0;
}

int perf_ftp_sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

static const char *state_name(enum cstate s)
{
	static const char *const n[] = {
		"pending", "connect", "greeting", "USER", "PASS", "TYPE", "data setup",
		"SPSV data login", "transfer start", "transfer", "QUIT", "closing", "idle",
		"NOOP", "back-off", "done",
	};
	return n[s];
}

void perf_ftp_fail(struct ftp_client *c, enum ftp_err kind, const char *fmt, ...)
{
	struct ftp_thread *t = c->t;
	struct ftp_run *r = t->run;
	const struct ftp_opts *o = r->o;
	if (stopping(r)) {          /* the run is over: not the server's fault */
		perf_ftp_close_all(c);
		perf_ftp_finish(c);
		return;
	}
	add(&t->errors, 1);
	add(&t->errs[kind], 1);
	if (__atomic_fetch_add(&r->errors_printed, 1, __ATOMIC_RELAXED) < MAX_ERROR_LINES) {
		char msg[512];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		fprintf(stderr, "ferry-perf: client %u: %s error in %s: %s\n", c->id,
			ftp_err_names[kind], state_name(c->st), msg);
	}
	bool was_up = c->st == C_IDLE || c->st == C_NOOP;
	perf_ftp_close_all(c);
	if (o->mode == MODE_IDLE) {
		/* A session that will not log in, or that the server dropped,
		 * is not tried again: the count of sessions up says it. */
		if (was_up)
			add(&t->up, (uint64_t)-1);
		else
			perf_ftp_client_settled(c);
		perf_ftp_finish(c);
		return;
	}
	/* --count: a failure uses up an operation, so a broken server ends. */
	bool more = !o->count || c->ticketed || ftp_take_ticket(r);
	c->ticketed = false;
	if (!more || !perf_ftp_tickets_left(r)) {
		perf_ftp_finish(c);
		return;
	}
	c->st = C_BACKOFF;
	perf_ftp_set_deadline(c, BACKOFF_MS);
}

static void flush_out(struct ftp_client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->ctl, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			perf_ftp_fail(c, ERR_CLOSED, "send: %s", strerror(errno));
			return;
		}
		c->outoff += (size_t)n;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;     /* else EPOLLOUT brings us back */
}

void perf_ftp_say(struct ftp_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->out + c->outlen, sizeof(c->out) - c->outlen - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(c->out) - c->outlen - 2) {
		perf_ftp_fail(c, ERR_PROTO, "command too long");
		return;
	}
	c->outlen += (size_t)n;
	c->out[c->outlen++] = '\r';
	c->out[c->outlen++] = '\n';
	flush_out(c);
}

/* Takes complete lines out of the control input (or the SPSV data
 * connection's login replies) and feeds whole replies to the reply logic:
 * RFC 959 multi-line replies ("123-" ... "123 ") count once, at their last
 * line. false: the client was reset on the way (a failure, a new try). */
bool perf_ftp_take_lines(struct ftp_client *c, bool data)
{
	char *buf = data ? c->din : c->in;
	size_t *len = data ? &c->dinlen : &c->inlen;
	struct ftpc_reply_reader *rr = data ? &c->drr : &c->rr;
	unsigned gen = c->gen;
	char line[CTL_IN];
	while (!(data && c->dst == D_OPEN)) {   /* then the rest is file data */
		char *nl = memchr(buf, '\n', *len);
		if (!nl)
			break;
		size_t n = (size_t)(nl - buf);
		memcpy(line, buf, n);
		line[n] = '\0';
		memmove(buf, nl + 1, *len - n - 1);
		*len -= n + 1;
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		int code = ftpc_reply_line(rr, line);
		if (code < 0) {
			perf_ftp_fail(c, ERR_PROTO, "not a reply: '%.80s'", line);
			return false;
		}
		if (code > 0) {
			if (data)
				perf_ftp_on_data_reply(c, code, line);
			else
				perf_ftp_on_reply(c, code, line);
		}
		if (c->gen != gen || c->st == C_DONE || c->st == C_BACKOFF)
			return false;
	}
	return true;
}

static void on_ctl_eof(struct ftp_client *c)
{
	if (c->st != C_CLOSING) {
		perf_ftp_fail(c, ERR_CLOSED, "control connection closed by the server");
		return;
	}
	perf_ftp_close_all(c);
	if (c->ending || stopping(c->t->run))
		perf_ftp_finish(c);
	else
		perf_ftp_start_client(c);      /* login mode: the next login */
}

static void read_ctl(struct ftp_client *c)
{
	for (;;) {
		ssize_t n = recv(c->ctl, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			perf_ftp_fail(c, ERR_CLOSED, "control: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			on_ctl_eof(c);
			return;
		}
		c->inlen += (size_t)n;
		if (!perf_ftp_take_lines(c, false))
			return;
		if (c->inlen == sizeof(c->in) - 1) {
			perf_ftp_fail(c, ERR_PROTO, "reply line too long");
			return;
		}
	}
}

void perf_ftp_on_ctl_event(struct ftp_client *c, uint32_t ev)
{
	if (c->st == C_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = perf_ftp_sock_error(c->ctl);
		if (err) {
			perf_ftp_fail(c, ERR_CONNECT, "%s", strerror(err));
			return;
		}
		perf_ftp_wait_reply(c, C_GREETING);
	}
	uint32_t gen = c->ctl_gen;
	if (c->outlen && (ev & EPOLLOUT))
		flush_out(c);
	if (c->ctl_gen == gen && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)))
		read_ctl(c);
}

