/* ftps.c — ferry-perf ftps: N concurrent explicit-FTPS logins in one epoll
 * loop (connect, 220, AUTH TLS, 234, a full TLS handshake, USER, PASS,
 * QUIT, close_notify, close, again), counted per second.
 *
 * The client side is OpenSSL's libssl, in this tool only: ferryd and its
 * modules stay on wolfSSL. So the load is the same whichever wolfSSL
 * ferryd is built with, and it is the TLS stack the peers' usual clients
 * (curl, lftp) use. Every handshake is full: no session is reused, as from
 * a new client each time. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "perf.h"

enum st { S_CONNECT, S_GREET, S_AUTH, S_HS, S_USER, S_PASS, S_QUIT };
enum { E_CONNECT, E_REPLY, E_TLS, E_CLOSED, E_TIMEOUT, E__N };
static const char *const err_names[E__N] = { "connect", "reply", "tls", "closed",
					      "timeout" };

struct opts {
	struct sockaddr_storage server;
	const char *user, *pass;
	unsigned conc;
	double duration, timeout;
	int cpu, tls_max;             /* 0: the library's highest */
	bool json;
};

struct conn {
	int fd;
	SSL *ssl;
	enum st st;
	uint64_t t0, deadline;
	size_t inlen;
	char in[4096];
	const char *pending;          /* a TLS command SSL_write must retry */
};

struct run {
	const struct opts *o;
	SSL_CTX *ctx;
	int epfd;
	bool stopping;
	uint64_t ops, errors, errs[E__N];
	double lat_sum_ms;
	char tls_desc[96];
	char user_cmd[300], pass_cmd[300];
	char first_err[256];
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: ferry-perf ftps --server ADDR:PORT [options]\n"
"\n"
"N concurrent explicit-FTPS clients (RFC 4217), each repeating: connect,\n"
"AUTH TLS, a full TLS handshake (no resumption), USER, PASS, QUIT,\n"
"close_notify, close. Client TLS is OpenSSL's (this tool only).\n"
"\n"
"  -s, --server ADDR:PORT  the FTP server [port 21]\n"
"  -c, --concurrency N     clients at once [50]\n"
"  -t, --duration SEC      run this long [10]\n"
"  -u, --user NAME         [anonymous]\n"
"  -p, --pass PASSWORD     [ferry-perf@]\n"
"      --tls12             offer TLS 1.2 at most (default: up to 1.3)\n"
"      --timeout SEC       a login with no progress this long fails [30]\n"
"  -A, --cpu N             pin to CPU N\n"
"  -J, --json              one JSON document at the end\n"
"  -h, --help\n"
"\n"
"Exit status: 0 no errors, 1 usage, 2 system failure, 3 errors.\n");
}

static void fail(struct run *r, struct conn *c, int kind, const char *why);
static void start(struct run *r, struct conn *c);

static void note_err(struct run *r, const char *why)
{
	if (!r->first_err[0])
		snprintf(r->first_err, sizeof(r->first_err), "%s", why);
}

static void drop(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);    /* leaves the epoll set with it */
	c->fd = -1;
}

static void fail(struct run *r, struct conn *c, int kind, const char *why)
{
	r->errors++;
	r->errs[kind]++;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s in state %d: %s", err_names[kind], (int)c->st, why);
	note_err(r, buf);
	drop(c);
	if (!r->stopping)
		start(r, c);
}

static void start(struct run *r, struct conn *c)
{
	const struct opts *o = r->o;
	c->st = S_CONNECT;
	c->inlen = 0;
	c->pending = NULL;
	c->t0 = perf_now_ns();
	c->deadline = c->t0 + (uint64_t)(o->timeout * 1e9);
	c->fd = socket(o->server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r->errors++;
		r->errs[E_CONNECT]++;
		note_err(r, strerror(errno));
		return;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.ptr = c };
	if ((connect(c->fd, (const struct sockaddr *)&o->server,
		     perf_addr_len(&o->server)) < 0 && errno != EINPROGRESS) ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		/* Counted, and retried by the main loop's scan (not here: a
		 * refused connect must not recurse). */
		r->errors++;
		r->errs[E_CONNECT]++;
		note_err(r, strerror(errno));
		drop(c);
	}
}

/* A whole reply's code once its last line ("ddd ") is in c->in, else 0;
 * the reply is removed from the buffer. */
static int take_reply(struct conn *c)
{
	size_t start = 0;
	for (size_t i = 0; i < c->inlen; i++) {
		if (c->in[i] != '\n')
			continue;
		if (i - start >= 4 && c->in[start + 3] == ' ') {
			int code = atoi(c->in + start);
			memmove(c->in, c->in + i + 1, c->inlen - i - 1);
			c->inlen -= i + 1;
			return code ? code : -1;
		}
		start = i + 1;
	}
	return 0;
}

/* Reads into c->in, in clear or through TLS: > 0 bytes, 0 would block, -1
 * closed or failed (counted). */
static int fill(struct run *r, struct conn *c)
{
	size_t room = sizeof(c->in) - c->inlen;
	if (!room) {
		fail(r, c, E_REPLY, "reply too long");
		return -1;
	}
	if (!c->ssl) {
		ssize_t n = recv(c->fd, c->in + c->inlen, room, 0);
		if (n > 0) {
			c->inlen += (size_t)n;
			return 1;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		fail(r, c, E_CLOSED, n ? strerror(errno) : "server closed");
		return -1;
	}
	int n = SSL_read(c->ssl, c->in + c->inlen, (int)room);
	if (n > 0) {
		c->inlen += (size_t)n;
		return 1;
	}
	int e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	char why[160];
	snprintf(why, sizeof(why), "SSL_read: %d %s", e,
		 ERR_reason_error_string(ERR_get_error()) ?: "");
	ERR_clear_error();
	fail(r, c, e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ? E_CLOSED : E_TLS, why);
	return -1;
}

/* Sends a command: in clear before AUTH, through TLS after. false: failed. */
static bool say(struct run *r, struct conn *c, const char *cmd)
{
	size_t len = strlen(cmd);
	if (!c->ssl) {
		/* A few bytes on a fresh socket: never short in practice. */
		if (send(c->fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len) {
			fail(r, c, E_CLOSED, "send");
			return false;
		}
		return true;
	}
	int n = SSL_write(c->ssl, cmd, (int)len);
	if (n == (int)len) {
		c->pending = NULL;
		return true;
	}
	int e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
		c->pending = cmd;
		return true;
	}
	fail(r, c, E_TLS, "SSL_write");
	return false;
}

static void handshake(struct run *r, struct conn *c)
{
	int n = SSL_connect(c->ssl);
	if (n == 1) {
		if (!r->tls_desc[0])
			snprintf(r->tls_desc, sizeof(r->tls_desc), "%s %s",
				 SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
		c->st = S_USER;
		say(r, c, r->user_cmd);
		return;
	}
	int e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	char why[160];
	snprintf(why, sizeof(why), "handshake: %d %s", e,
		 ERR_reason_error_string(ERR_get_error()) ?: "");
	ERR_clear_error();
	fail(r, c, E_TLS, why);
}

/* One reply in the current state: what it must be and what comes next.
 * false: the connection is gone (failed, or done and restarted). */
static bool on_reply(struct run *r, struct conn *c, int code)
{
	char why[64];
	snprintf(why, sizeof(why), "reply %d", code);
	switch (c->st) {
	case S_GREET:
		if (code != 220)
			break;
		c->st = S_AUTH;
		return say(r, c, "AUTH TLS\r\n");
	case S_AUTH:
		if (code != 234)
			break;
		c->ssl = SSL_new(r->ctx);
		if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
			fail(r, c, E_TLS, "SSL_new");
			return false;
		}
		c->st = S_HS;
		handshake(r, c);
		return c->fd >= 0 && c->st != S_HS;
	case S_USER:
		if (code == 230) {
			c->st = S_QUIT;
			return say(r, c, "QUIT\r\n");
		}
		if (code != 331)
			break;
		c->st = S_PASS;
		return say(r, c, r->pass_cmd);
	case S_PASS:
		if (code != 230)
			break;
		c->st = S_QUIT;
		return say(r, c, "QUIT\r\n");
	case S_QUIT:
		if (code != 221)
			break;
		r->ops++;
		r->lat_sum_ms += (double)(perf_now_ns() - c->t0) / 1e6;
		SSL_shutdown(c->ssl);      /* close_notify; no wait for the server's */
		drop(c);
		if (!r->stopping)
			start(r, c);
		return false;
	default:
		break;
	}
	fail(r, c, E_REPLY, why);
	return false;
}

static void step(struct run *r, struct conn *c, uint32_t events)
{
	if (c->st == S_CONNECT) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			fail(r, c, E_CONNECT, strerror(err));
			return;
		}
		c->st = S_GREET;
	}
	if (c->st == S_HS) {
		handshake(r, c);
		if (c->fd < 0 || c->st == S_HS)
			return;
	}
	if (c->pending && !say(r, c, c->pending))
		return;
	for (;;) {
		int code;
		while ((code = take_reply(c)) != 0)
			if (!on_reply(r, c, code) || c->st == S_HS)
				return;
		int n = fill(r, c);
		if (n <= 0)
			return;
	}
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'u' },
		{ "pass", required_argument, NULL, 'p' },
		{ "tls12", no_argument, NULL, '2' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "cpu", required_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 } };
	*o = (struct opts){ .user = "anonymous", .pass = "ferry-perf@", .conc = 50,
			    .duration = 10, .timeout = 30, .cpu = -1 };
	bool have_server = false;
	double v;
	int ch;
	while ((ch = getopt_long(argc, argv, "s:c:t:u:p:A:Jh", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (perf_parse_addr(optarg, 21, &o->server, "--server") < 0)
				return PERF_USAGE;
			have_server = true;
			break;
		case 'c':
			if (!perf_parse_num(optarg, 1, 100000, &v))
				goto bad;
			o->conc = (unsigned)v;
			break;
		case 't':
			if (!perf_parse_num(optarg, 0.1, 86400, &o->duration))
				goto bad;
			break;
		case 'o':
			if (!perf_parse_num(optarg, 0.1, 3600, &o->timeout))
				goto bad;
			break;
		case 'u': o->user = optarg; break;
		case 'p': o->pass = optarg; break;
		case '2': o->tls_max = TLS1_2_VERSION; break;
		case 'A':
			if (!perf_parse_num(optarg, 0, 4095, &v))
				goto bad;
			o->cpu = (int)v;
			break;
		case 'J': o->json = true; break;
		case 'h': usage(stdout); exit(PERF_OK);
		default: goto bad;
		}
	}
	if (!have_server || optind != argc)
		goto bad;
	if (strlen(o->user) > 250 || strlen(o->pass) > 250) {
		fprintf(stderr, "ferry-perf ftps: user or password too long\n");
		return PERF_USAGE;
	}
	return PERF_OK;
bad:
	usage(stderr);
	return PERF_USAGE;
}

static double cpu_self(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void report(const struct run *r, double secs, double cpu)
{
	const struct opts *o = r->o;
	double rate = (double)r->ops / secs;
	double lat = r->ops ? r->lat_sum_ms / (double)r->ops : 0;
	if (o->json) {
		printf("{\"end\": {\"ops\": %llu, \"ops_per_second\": %.1f, \"errors\": %llu, "
		       "\"seconds\": %.3f, \"mean_ms\": %.3f, \"client_cpu_s\": %.3f, "
		       "\"tls\": \"%s\", \"errs\": {",
		       (unsigned long long)r->ops, rate, (unsigned long long)r->errors, secs,
		       lat, cpu, r->tls_desc);
		for (int i = 0; i < E__N; i++)
			printf("%s\"%s\": %llu", i ? ", " : "", err_names[i],
			       (unsigned long long)r->errs[i]);
		printf("}}}\n");
	} else {
		printf("[FTPS] %llu logins in %.2f s: %.1f/s, mean %.2f ms, %llu errors, "
		       "client CPU %.2f s, %s\n", (unsigned long long)r->ops, secs, rate, lat,
		       (unsigned long long)r->errors, cpu, r->tls_desc);
	}
	if (r->first_err[0])
		fprintf(stderr, "ferry-perf ftps: first error: %s\n", r->first_err);
}

int perf_ftps(int argc, char **argv)
{
	struct opts o;
	int rc = parse(argc, argv, &o);
	if (rc != PERF_OK)
		return rc;
	if (perf_pin(o.cpu) < 0)
		return PERF_SYS;
	struct rlimit rl = { o.conc + 64, o.conc + 64 };
	struct rlimit cur;
	if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_cur < rl.rlim_cur)
		setrlimit(RLIMIT_NOFILE, &rl);
	struct run r = { .o = &o };
	snprintf(r.user_cmd, sizeof(r.user_cmd), "USER %s\r\n", o.user);
	snprintf(r.pass_cmd, sizeof(r.pass_cmd), "PASS %s\r\n", o.pass);
	r.ctx = SSL_CTX_new(TLS_client_method());
	if (!r.ctx) {
		fprintf(stderr, "ferry-perf ftps: SSL_CTX_new failed\n");
		return PERF_SYS;
	}
	SSL_CTX_set_verify(r.ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(r.ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(r.ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_min_proto_version(r.ctx, TLS1_2_VERSION);
	if (o.tls_max)
		SSL_CTX_set_max_proto_version(r.ctx, o.tls_max);
	r.epfd = epoll_create1(EPOLL_CLOEXEC);
	struct conn *cs = calloc(o.conc, sizeof(*cs));
	if (r.epfd < 0 || !cs) {
		perror("ferry-perf ftps");
		return PERF_SYS;
	}
	double cpu0 = cpu_self();
	uint64_t t0 = perf_now_ns(), end = t0 + (uint64_t)(o.duration * 1e9);
	for (unsigned i = 0; i < o.conc; i++) {
		cs[i].fd = -1;
		start(&r, &cs[i]);
	}
	struct epoll_event evs[256];
	uint64_t next_scan = t0 + 100000000ull;
	for (;;) {
		uint64_t now = perf_now_ns();
		if (now >= end)
			break;
		int n = epoll_wait(r.epfd, evs, 256, 50);
		if (n < 0 && errno != EINTR) {
			perror("ferry-perf ftps: epoll_wait");
			return PERF_SYS;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->fd >= 0)
				step(&r, c, evs[i].events);
		}
		now = perf_now_ns();
		if (now >= next_scan) {
			next_scan = now + 100000000ull;
			for (unsigned i = 0; i < o.conc; i++)
				if (cs[i].fd >= 0 && now > cs[i].deadline)
					fail(&r, &cs[i], E_TIMEOUT, "no reply");
				else if (cs[i].fd < 0)
					start(&r, &cs[i]);   /* after a failed connect */
		}
	}
	double secs = (double)(perf_now_ns() - t0) / 1e9;
	double cpu = cpu_self() - cpu0;
	r.stopping = true;
	for (unsigned i = 0; i < o.conc; i++)
		drop(&cs[i]);           /* in flight at the end: neither counted nor errors */
	report(&r, secs, cpu);
	free(cs);
	close(r.epfd);
	SSL_CTX_free(r.ctx);
	return r.errors ? PERF_FAILED : PERF_OK;
}
