/* ftp_client.c — one load thread of ferry-perf ftp: an epoll loop driving many
 * FTP clients, each a state machine over non-blocking sockets (login, QUIT,
 * PASV/EPSV/SPSV data connections, RETR/STOR, idle sessions with NOOPs). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ftp_load.h"
#include "ftpc.h"
#include "perf.h"

enum {
	CTL_IN = 2048,          /* control input held: replies are short */
	CTL_OUT = 256,
	DATA_IN = 256,          /* SPSV data connection's own login replies */
	IO_CHUNK = 256 * 1024,  /* STOR send size */
	MAX_ERROR_LINES = 10,   /* error messages shown on stderr */
	TICK_MS = 20,           /* timeout and back-off resolution */
	BACKOFF_MS = 50,        /* pause before a failed client tries again */
	CLOSE_GRACE_MS = 1000,  /* after 221: wait this long for the server's FIN */
};

const char *const ftp_err_names[ERR__COUNT] = {
	[ERR_CONNECT] = "connect", [ERR_REPLY] = "reply", [ERR_CLOSED] = "closed",
	[ERR_TIMEOUT] = "timeout", [ERR_DATA] = "data", [ERR_SIZE] = "size",
	[ERR_PROTO] = "protocol",
};

/* Where a client is; each state waits for one thing. */
enum cstate {
	C_PENDING,      /* idle mode: not started yet (ramp) */
	C_CONNECTING,   /* control connect in progress */
	C_GREETING,     /* 220 */
	C_USER,         /* 331 (or 230) */
	C_PASS,         /* 230 */
	C_TYPE,         /* 200 after TYPE I */
	C_DSETUP,       /* 227 / 229 after PASV, EPSV or SPSV */
	C_DWAIT,        /* SPSV: the data connection logs in first */
	C_XSTART,       /* 150 / 125 after RETR or STOR */
	C_XFER,         /* 226 and the data side's end */
	C_QUIT,         /* 221 */
	C_CLOSING,      /* EOF after 221 */
	C_IDLE,         /* idle mode: logged in, holding */
	C_NOOP,         /* idle mode: 200 after NOOP */
	C_BACKOFF,      /* after an error, before the next try */
	C_DONE,         /* finished for good */
};

enum dstate { D_NONE, D_CONNECTING, D_LOGIN, D_OPEN };  /* D_LOGIN: SPSV only */

struct ftp_client {
	struct ftp_thread *t;
	unsigned id;
	enum cstate st;
	bool ending;            /* QUIT sent because no more work: DONE after */
	unsigned index;         /* in its thread's array */
	int ctl, dat;
	uint32_t ctl_gen, dat_gen; /* bumped per descriptor: stale events differ */
	uint64_t deadline_ns;   /* UINT64_MAX: none */
	uint64_t op_ns;         /* start of the operation being timed */
	/* control input and output */
	char in[CTL_IN];
	size_t inlen;
	struct ftpc_reply_reader rr, drr; /* replies in progress (control, data) */
	char out[CTL_OUT];
	size_t outlen, outoff;
	/* data connection */
	enum dstate dst;
	char din[DATA_IN];
	size_t dinlen;
	struct ftpc_spsv cred;  /* from the SPSV reply */
	struct ftpc_dlogin dl;  /* the SPSV data connection's own login */
	uint64_t moved;
	bool got_150, final, data_done;
	bool ticketed;          /* --count: the operation under way holds one */
	unsigned gen;           /* bumped whenever the connections are reset */
};

void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		double *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return;   /* a lost sample, not a lost run */
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

static inline void add(uint64_t *p, uint64_t v) { __atomic_add_fetch(p, v, __ATOMIC_RELAXED); }
static inline bool stopping(const struct ftp_run *r)
{
	return __atomic_load_n(&r->stop, __ATOMIC_RELAXED) || perf_stopping();
}

bool ftp_take_ticket(struct ftp_run *r)
{
	if (!r->o->count)
		return true;
	return __atomic_fetch_add(&r->tickets, 1, __ATOMIC_RELAXED) < r->o->count;
}

static bool tickets_left(struct ftp_run *r)
{
	return !r->o->count || __atomic_load_n(&r->tickets, __ATOMIC_RELAXED) < r->o->count;
}

static const struct ftp_opts *opts(const struct ftp_client *c) { return c->t->run->o; }

/* The client has nothing more to do in this run. */
static void finish(struct ftp_client *c)
{
	if (c->st == C_DONE)
		return;
	c->st = C_DONE;
	c->t->done++;
}

static void set_deadline(struct ftp_client *c, uint64_t ms)
{
	c->deadline_ns = ms == UINT64_MAX ? UINT64_MAX : perf_now_ns() + ms * 1000000u;
}

static void wait_reply(struct ftp_client *c, enum cstate st)
{
	c->st = st;
	set_deadline(c, (uint64_t)(opts(c)->timeout * 1000));
}

/* ---- epoll and sockets ------------------------------------------------------ */

/* Event tags: client index, the descriptor's generation, which one. */
static uint64_t tag(const struct ftp_client *c, bool data)
{
	uint32_t gen = data ? c->dat_gen : c->ctl_gen;
	return (uint64_t)c->index << 32 | (uint64_t)(gen & 0x7fffffffu) << 1 | data;
}

/* Edge-triggered, both directions, once per descriptor: no epoll_ctl calls
 * after that, so the client costs the server's peers as little as it can.
 * Every handler therefore reads or writes until EAGAIN. */
static int watch(struct ftp_client *c, bool data)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.u64 = tag(c, data) };
	return epoll_ctl(c->t->epfd, EPOLL_CTL_ADD, data ? c->dat : c->ctl, &ev) < 0 ? -errno : 0;
}

static void close_fd(struct ftp_client *c, bool data)
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

static void close_all(struct ftp_client *c)
{
	close_fd(c, false);
	close_fd(c, true);
	c->gen++;
	c->dst = D_NONE;
	c->inlen = c->outlen = c->outoff = c->dinlen = 0;
	c->rr.multi = c->drr.multi = 0;
}

/* A non-blocking connect to the server, on port (0: the control port). */
static int dial(struct ftp_client *c, unsigned port, int *out)
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

static int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

/* ---- failures ------------------------------------------------------------------ */

static void start_client(struct ftp_client *c);
static void client_settled(struct ftp_client *c);

static const char *state_name(enum cstate s)
{
	static const char *const n[] = {
		"pending", "connect", "greeting", "USER", "PASS", "TYPE", "data setup",
		"SPSV data login", "transfer start", "transfer", "QUIT", "closing", "idle",
		"NOOP", "back-off", "done",
	};
	return n[s];
}

static void fail(struct ftp_client *c, enum ftp_err kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct ftp_client *c, enum ftp_err kind, const char *fmt, ...)
{
	struct ftp_thread *t = c->t;
	struct ftp_run *r = t->run;
	const struct ftp_opts *o = r->o;
	if (stopping(r)) {          /* the run is over: not the server's fault */
		close_all(c);
		finish(c);
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
	close_all(c);
	if (o->mode == MODE_IDLE) {
		/* A session that will not log in, or that the server dropped,
		 * is not tried again: the count of sessions up says it. */
		if (was_up)
			add(&t->up, (uint64_t)-1);
		else
			client_settled(c);
		finish(c);
		return;
	}
	/* --count: a failure uses up an operation, so a broken server ends. */
	bool more = !o->count || c->ticketed || ftp_take_ticket(r);
	c->ticketed = false;
	if (!more || !tickets_left(r)) {
		finish(c);
		return;
	}
	c->st = C_BACKOFF;
	set_deadline(c, BACKOFF_MS);
}

/* ---- control output -------------------------------------------------------------- */

static void flush_out(struct ftp_client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->ctl, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			fail(c, ERR_CLOSED, "send: %s", strerror(errno));
			return;
		}
		c->outoff += (size_t)n;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;     /* else EPOLLOUT brings us back */
}

static void say(struct ftp_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct ftp_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->out + c->outlen, sizeof(c->out) - c->outlen - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(c->out) - c->outlen - 2) {
		fail(c, ERR_PROTO, "command too long");
		return;
	}
	c->outlen += (size_t)n;
	c->out[c->outlen++] = '\r';
	c->out[c->outlen++] = '\n';
	flush_out(c);
}

/* ---- operations: login, transfer, idle ------------------------------------------- */

static void op_done(struct ftp_client *c, double ms)
{
	struct ftp_thread *t = c->t;
	c->ticketed = false;
	add(&t->ops, 1);
	samples_add(&t->latency_ms, ms);
	t->last_op_ns = perf_now_ns();
}

static double since_ms(uint64_t ns) { return (double)(perf_now_ns() - ns) / 1e6; }

static void next_transfer(struct ftp_client *c);
static void stor_output(struct ftp_client *c);

static void logged_in(struct ftp_client *c)
{
	switch (opts(c)->mode) {
	case MODE_LOGIN:
		wait_reply(c, C_QUIT);
		say(c, "QUIT");
		break;
	case MODE_IDLE:
		samples_add(&c->t->latency_ms, since_ms(c->op_ns));
		add(&c->t->up, 1);
		client_settled(c);
		c->st = C_IDLE;
		set_deadline(c, opts(c)->noop > 0 ? (uint64_t)(opts(c)->noop * 1000) : UINT64_MAX);
		break;
	case MODE_RETR:
	case MODE_STOR:
		wait_reply(c, C_TYPE);
		say(c, "TYPE I");
		break;
	}
}

static void end_session(struct ftp_client *c)
{
	c->ending = true;
	wait_reply(c, C_QUIT);
	say(c, "QUIT");
}

static void next_transfer(struct ftp_client *c)
{
	if (stopping(c->t->run) || !ftp_take_ticket(c->t->run)) {
		end_session(c);
		return;
	}
	c->ticketed = opts(c)->count != 0;
	c->op_ns = perf_now_ns();
	c->moved = 0;
	c->got_150 = c->final = c->data_done = false;
	static const char *const verbs[] = { "PASV", "EPSV", "SPSV" };
	wait_reply(c, C_DSETUP);
	say(c, "%s", verbs[opts(c)->data]);
}

static void send_transfer_cmd(struct ftp_client *c)
{
	const struct ftp_opts *o = opts(c);
	const char *file = o->file ? o->file : "ferry-perf.dat";
	wait_reply(c, C_XSTART);
	if (o->mode == MODE_RETR)
		say(c, "RETR %s", file);
	else if (o->concurrency > 1)
		say(c, "STOR %s.%u", file, c->id);
	else
		say(c, "STOR %s", file);
}

static void transfer_check(struct ftp_client *c)
{
	if (!c->final || !c->data_done)
		return;
	struct ftp_thread *t = c->t;
	const struct ftp_opts *o = opts(c);
	close_fd(c, true);
	c->dst = D_NONE;
	if (o->mode == MODE_RETR && o->size_given && c->moved != o->size) {
		fail(c, ERR_SIZE, "RETR received %llu bytes, expected %llu",
		     (unsigned long long)c->moved, (unsigned long long)o->size);
		return;
	}
	double ms = since_ms(c->op_ns);
	op_done(c, ms);
	if (ms > 0)
		samples_add(&t->rate_mbps, (double)c->moved * 8 / 1e3 / ms);
	next_transfer(c);
}

/* The data connection's port (PASV, EPSV) or credentials (SPSV); false
 * with the reason said. */
static bool parse_answer(struct ftp_client *c, const char *line, unsigned *port)
{
	switch (opts(c)->data) {
	case DATA_PASV:
		return ftpc_parse_pasv(line, port) == 0;
	case DATA_EPSV:
		return ftpc_parse_epsv(line, port) == 0;
	case DATA_SPSV:
		break;
	}
	switch (ftpc_parse_spsv(line, opts(c)->spsv_form, &c->cred)) {
	case FTPC_SPSV_OK:
		*port = 0;
		return true;
	case FTPC_SPSV_OLD_PUREFTPD:
		fail(c, ERR_PROTO, "'%s' is pure-ftpd's old SPSV, not the single-port draft's",
		     line);
		return false;
	case FTPC_SPSV_BAD:
		break;
	}
	return false;
}

static void data_open(struct ftp_client *c, const char *line)
{
	unsigned port = 0;
	bool spsv = opts(c)->data == DATA_SPSV;
	unsigned gen = c->gen;
	if (!parse_answer(c, line, &port)) {
		if (c->gen == gen)
			fail(c, ERR_PROTO, "cannot parse '%s'", line);
		return;
	}
	int r = dial(c, port, &c->dat);
	if (r < 0) {
		fail(c, ERR_DATA, "data connect: %s", strerror(-r));
		return;
	}
	c->dst = D_CONNECTING;
	if ((r = watch(c, true)) < 0) {
		fail(c, ERR_DATA, "epoll: %s", strerror(-r));
		return;
	}
	if (spsv)
		c->st = C_DWAIT;          /* the deadline still runs */
	else
		send_transfer_cmd(c);
}

/* A whole reply (its last line) on the control connection. */
static void on_reply(struct ftp_client *c, int code, const char *line)
{
	bool stor = opts(c)->mode == MODE_STOR;
	switch (c->st) {
	case C_GREETING:
		if (code == 120)
			return;           /* "ready in nnn minutes": wait for the 220 */
		if (code != 220)
			break;
		wait_reply(c, C_USER);
		say(c, "USER %s", opts(c)->user);
		return;
	case C_USER:
		if (code == 230) {
			logged_in(c);
			return;
		}
		if (code != 331)
			break;
		wait_reply(c, C_PASS);
		say(c, "PASS %s", opts(c)->pass);
		return;
	case C_PASS:
		if (code != 230 && code != 202)
			break;
		logged_in(c);
		return;
	case C_TYPE:
		if (code != 200)
			break;
		next_transfer(c);
		return;
	case C_DSETUP:
		if (code != (opts(c)->data == DATA_EPSV ? 229 : 227))
			break;
		data_open(c, line);
		return;
	case C_XSTART:
		if (code == 150 || code == 125) {
			c->got_150 = true;
			c->st = C_XFER;
			if (stor && c->dst == D_OPEN)
				stor_output(c);
			return;
		}
		break;
	case C_XFER:
		if (code != 226 && code != 250)
			break;
		c->final = true;
		transfer_check(c);
		return;
	case C_QUIT:
		if (code != 221)
			break;
		if (!c->ending && opts(c)->mode == MODE_LOGIN)
			op_done(c, since_ms(c->op_ns));
		c->st = C_CLOSING;
		set_deadline(c, CLOSE_GRACE_MS);
		return;
	case C_NOOP:
		if (code != 200)
			break;
		c->st = C_IDLE;
		set_deadline(c, (uint64_t)(opts(c)->noop * 1000));
		return;
	default:
		break;
	}
	fail(c, ERR_REPLY, "'%s'", line);
}

static void on_data_reply(struct ftp_client *c, int code, const char *line);

/* ---- control input ---------------------------------------------------------------- */

/* Takes complete lines out of the control input (or the SPSV data
 * connection's login replies) and feeds whole replies to the reply logic:
 * RFC 959 multi-line replies ("123-" ... "123 ") count once, at their last
 * line. false: the client was reset on the way (a failure, a new try). */
static bool take_lines(struct ftp_client *c, bool data)
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
			fail(c, ERR_PROTO, "not a reply: '%.80s'", line);
			return false;
		}
		if (code > 0) {
			if (data)
				on_data_reply(c, code, line);
			else
				on_reply(c, code, line);
		}
		if (c->gen != gen || c->st == C_DONE || c->st == C_BACKOFF)
			return false;
	}
	return true;
}

static void on_ctl_eof(struct ftp_client *c)
{
	if (c->st != C_CLOSING) {
		fail(c, ERR_CLOSED, "control connection closed by the server");
		return;
	}
	close_all(c);
	if (c->ending || stopping(c->t->run))
		finish(c);
	else
		start_client(c);      /* login mode: the next login */
}

static void read_ctl(struct ftp_client *c)
{
	for (;;) {
		ssize_t n = recv(c->ctl, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			fail(c, ERR_CLOSED, "control: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			on_ctl_eof(c);
			return;
		}
		c->inlen += (size_t)n;
		if (!take_lines(c, false))
			return;
		if (c->inlen == sizeof(c->in) - 1) {
			fail(c, ERR_PROTO, "reply line too long");
			return;
		}
	}
}

/* ---- the data connection ------------------------------------------------------- */

/* SPSV: the data connection's own login (either form of the draft). */
static void on_data_reply(struct ftp_client *c, int code, const char *line)
{
	char cmd[FTPC_IDENT_MAX + 16];
	int n = ftpc_dlogin_step(&c->dl, code, line, cmd, sizeof(cmd));
	if (n < 0) {
		fail(c, ERR_DATA, "SPSV data login: '%s'", line);
		return;
	}
	if (n > 0 && send(c->dat, cmd, (size_t)n, MSG_NOSIGNAL) != n) {
		fail(c, ERR_DATA, "SPSV data login: send failed");
		return;
	}
	if (c->dl.st == FTPC_DL_OPEN) {
		c->dst = D_OPEN;
		send_transfer_cmd(c);
	}
}

static void data_login_input(struct ftp_client *c)
{
	while (c->dst != D_OPEN) {
		ssize_t n = recv(c->dat, c->din + c->dinlen, sizeof(c->din) - 1 - c->dinlen, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			fail(c, ERR_DATA, "SPSV data connection closed during its login");
			return;
		}
		c->dinlen += (size_t)n;
		if (!take_lines(c, true))
			return;
		if (c->dst != D_OPEN && c->dinlen == sizeof(c->din) - 1) {
			fail(c, ERR_DATA, "SPSV data login: reply too long");
			return;
		}
	}
	/* Bytes after "200 DATA" already belong to the file. */
	c->moved += c->dinlen;
	add(&c->t->bytes, c->dinlen);
	c->dinlen = 0;
}

static void retr_input(struct ftp_client *c)
{
	static char sink[IO_CHUNK];
	for (;;) {
		/* MSG_TRUNC: TCP discards the bytes instead of copying them; the
		 * client counts them. The server's costs are what is measured. */
		ssize_t n = recv(c->dat, sink, sizeof(sink), MSG_TRUNC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			fail(c, ERR_DATA, "RETR data: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			close_fd(c, true);
			c->data_done = true;
			transfer_check(c);
			return;
		}
		c->moved += (uint64_t)n;
		add(&c->t->bytes, (uint64_t)n);
	}
}

static void stor_output(struct ftp_client *c)
{
	static char pattern[IO_CHUNK];
	uint64_t size = opts(c)->size;
	while (c->moved < size) {
		size_t want = size - c->moved < sizeof(pattern) ? (size_t)(size - c->moved)
								 : sizeof(pattern);
		ssize_t n = send(c->dat, pattern, want, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			fail(c, ERR_DATA, "STOR data: %s", strerror(errno));
			return;
		}
		c->moved += (uint64_t)n;
		add(&c->t->bytes, (uint64_t)n);
	}
	if (c->moved == size) {
		close_fd(c, true);   /* end of file for the server */
		c->data_done = true;
		transfer_check(c);
	}
}

static void on_data_event(struct ftp_client *c, uint32_t ev)
{
	if (c->dst == D_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = sock_error(c->dat);
		if (err) {
			fail(c, ERR_DATA, "data connect: %s", strerror(err));
			return;
		}
		c->dst = opts(c)->data == DATA_SPSV ? D_LOGIN : D_OPEN;
		if (c->dst == D_LOGIN)
			ftpc_dlogin_start(&c->dl, opts(c)->spsv_form, &c->cred);
	}
	if (c->dst != D_OPEN) {
		data_login_input(c);
		if (c->dst != D_OPEN || c->st == C_DONE || c->st == C_BACKOFF)
			return;
	}
	/* A transfer that moves is not stuck, however long it takes. */
	set_deadline(c, (uint64_t)(opts(c)->timeout * 1000));
	if (opts(c)->mode == MODE_RETR)
		retr_input(c);
	else if (c->got_150)      /* STOR: write once the server said go */
		stor_output(c);
	else if (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
		fail(c, ERR_DATA, "STOR data connection closed by the server");
}

static void on_ctl_event(struct ftp_client *c, uint32_t ev)
{
	if (c->st == C_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = sock_error(c->ctl);
		if (err) {
			fail(c, ERR_CONNECT, "%s", strerror(err));
			return;
		}
		wait_reply(c, C_GREETING);
	}
	uint32_t gen = c->ctl_gen;
	if (c->outlen && (ev & EPOLLOUT))
		flush_out(c);
	if (c->ctl_gen == gen && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)))
		read_ctl(c);
}

/* ---- a client's life ----------------------------------------------------------- */

static void start_client(struct ftp_client *c)
{
	bool login = opts(c)->mode == MODE_LOGIN;
	if (stopping(c->t->run) || (login && !ftp_take_ticket(c->t->run))) {
		finish(c);
		return;
	}
	c->ticketed = login && opts(c)->count;
	c->ending = false;
	c->op_ns = perf_now_ns();
	int r = dial(c, 0, &c->ctl);
	if (r < 0) {
		c->st = C_CONNECTING;
		fail(c, ERR_CONNECT, "%s", strerror(-r));
		return;
	}
	wait_reply(c, C_CONNECTING);
	if ((r = watch(c, false)) < 0)
		fail(c, ERR_CONNECT, "epoll: %s", strerror(-r));
}

/* Idle mode: a client got its session up, or gave up; the next one starts. */
static void client_settled(struct ftp_client *c)
{
	struct ftp_thread *t = c->t;
	add(&t->settled, 1);
	t->logins_in_flight--;
	if (t->next_pending < t->nclients) {
		t->logins_in_flight++;
		start_client(&t->clients[t->next_pending++]);
	}
}

static void on_deadline(struct ftp_client *c)
{
	switch (c->st) {
	case C_IDLE:
		wait_reply(c, C_NOOP);
		say(c, "NOOP");
		break;
	case C_BACKOFF:
		start_client(c);
		break;
	case C_CLOSING:             /* no FIN after 221: close ours */
		close_all(c);
		if (c->ending || stopping(c->t->run))
			finish(c);
		else
			start_client(c);
		break;
	default:
		fail(c, ERR_TIMEOUT, "no progress for %.0f s", opts(c)->timeout);
		break;
	}
}

static void check_deadlines(struct ftp_thread *t, uint64_t now)
{
	for (unsigned i = 0; i < t->nclients; i++) {
		struct ftp_client *c = &t->clients[i];
		if (c->st != C_DONE && c->st != C_PENDING && c->deadline_ns <= now)
			on_deadline(c);
	}
}

void *ftp_thread_main(void *arg)
{
	struct ftp_thread *t = arg;
	struct ftp_run *r = t->run;
	const struct ftp_opts *o = r->o;
	if (perf_pin(o->cpu) < 0) {
		t->sys_err = EINVAL;
		goto out;
	}
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->clients = calloc(t->nclients, sizeof(*t->clients));
	if (t->epfd < 0 || !t->clients) {
		t->sys_err = errno ? errno : ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < t->nclients; i++) {
		struct ftp_client *c = &t->clients[i];
		c->t = t;
		c->id = t->first_id + i;
		c->index = i;
		c->ctl = c->dat = -1;
		c->deadline_ns = UINT64_MAX;
	}
	/* Idle mode ramps up: at most `ramp` logins in flight per thread. */
	unsigned first = t->nclients;
	if (o->mode == MODE_IDLE && o->ramp < first)
		first = o->ramp;
	for (unsigned i = 0; i < first; i++) {
		t->logins_in_flight++;
		t->next_pending++;
		start_client(&t->clients[i]);
	}

	struct epoll_event ev[256];
	uint64_t next_tick = perf_now_ns();
	while (t->done < t->nclients) {
		int n = epoll_wait(t->epfd, ev, 256, TICK_MS);
		if (n < 0 && errno != EINTR) {
			t->sys_err = errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t u = ev[i].data.u64;
			bool data = u & 1;
			struct ftp_client *c = &t->clients[u >> 32];
			if (c->st == C_DONE || (data ? c->dat : c->ctl) < 0 || tag(c, data) != u)
				continue;     /* stale: from a descriptor since closed */
			if (data)
				on_data_event(c, ev[i].events);
			else
				on_ctl_event(c, ev[i].events);
		}
		uint64_t now = perf_now_ns();
		if (stopping(r))
			break;
		if (now >= next_tick) {
			next_tick = now + TICK_MS * 1000000u;
			check_deadlines(t, now);
		}
	}
	for (unsigned i = 0; i < t->nclients; i++)
		close_all(&t->clients[i]);
out:
	if (t->epfd >= 0)
		close(t->epfd);
	free(t->clients);
	t->clients = NULL;
	__atomic_store_n(&t->finished, true, __ATOMIC_RELEASE);
	return NULL;
}
