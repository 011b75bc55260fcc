/* clients.c — ferry-perf clients: a simulated UFTP server and N simulated
 * clients on both sides of a response or client proxy; checks that each
 * client's answer reaches the server exactly once per phase and times the
 * aggregation.
 *
 * The server sends ANNOUNCE, REG_CONF, FILEINFO, a DONE to the clients that
 * have NAKs (they answer STATUS), a few NAKed blocks, a DONE to everyone
 * (COMPLETE) and DONE_CONF, each phase once every expected answer is in (or
 * its time is up). Clients answer each phase once, as uftpd does, but never resend:
 * what the server lacks was lost. With a response proxy the clients hear the
 * server directly, so the tool hands them the server's messages itself;
 * with a client proxy they hear the proxy's multicast copies. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ferry/uftp_msg.h"
#include "perf.h"

/* ---- phases ---------------------------------------------------------------- */

enum phase { PH_REGISTER, PH_FILEINFO, PH_STATUS, PH_COMPLETE, PH_COUNT };

static const char *const phase_name[PH_COUNT] = {
	[PH_REGISTER] = "register", [PH_FILEINFO] = "fileinfo_ack",
	[PH_STATUS] = "status", [PH_COMPLETE] = "complete",
};

/* The answer each phase collects, and the server message that asks for it. */
static const uint8_t phase_answer[PH_COUNT] = {
	[PH_REGISTER] = UFTP_REGISTER, [PH_FILEINFO] = UFTP_FILEINFO_ACK,
	[PH_STATUS] = UFTP_STATUS, [PH_COMPLETE] = UFTP_COMPLETE,
};

static int phase_of_answer(uint8_t func)
{
	for (int p = 0; p < PH_COUNT; p++)
		if (phase_answer[p] == func)
			return p;
	return -1;
}

/* Per client flags. */
enum { CL_NAKS = 1, CL_REPAIRED = 2 };   /* + 1 << (4 + phase): answered */
#define CL_ANSWERED(p) ((uint8_t)(1u << (4 + (p))))

enum { FILE_ID = 1, MAXDGRAM = 9216, RECV_BATCH = 64, SEND_BURST = 4096,
       REPAIRS = 8 };

/* ---- options ---------------------------------------------------------------- */

struct opts {
	struct sockaddr_storage proxy, server_bind;
	bool client_mode, closed, json;
	size_t clients, ports;
	struct in_addr *addrs;
	size_t naddrs;
	double rate;                     /* answers per second; 0: unlimited */
	double grtt, delay, settle, timeout, interval;
	int cpu;
	unsigned robust, blocksize, blocks, nak_blocks;
	double nak_fraction;
	uint32_t uid_base, server_uid, group_id;
	uint16_t dest_port;
	struct in_addr pub, priv, mcast_if;
	uint64_t seed;
};

/* ---- state -------------------------------------------------------------------- */

/* What one phase's answers did: sent by the clients, seen by the server. */
struct tally {
	size_t expected;                 /* clients that should answer */
	size_t queued, sent, send_errors;
	size_t distinct, dups, unknown, direct, msgs;
	uint64_t first_sent_ns, last_new_ns, complete_ns;
	uint64_t *sent_ns, *recv_ns;     /* per client */
	uint16_t *count;                 /* per client: UIDs seen */
	bool ran, timed_out;
	double agg_ms, p50, p90, p99, max;
	/* STATUS: the union the clients sent and the one the server got */
	size_t missing_bits, extra_bits, beyond_bits;
};

/* One client answer waiting to be sent. */
struct answer {
	uint64_t rx_ns;                  /* when the client heard the request */
	uint32_t client;
	uint32_t ts_sec, ts_usec;        /* the request's timestamp, to echo */
	uint16_t file_id, section;
	uint8_t func;
};

struct dgram {
	size_t len;
	uint8_t *p;
};

enum sv_state { SV_WAIT, SV_SETTLE, SV_END };

struct ctx {
	struct opts o;
	int ep, server_fd, mcast_fd;
	int *fds;                        /* client sockets */
	size_t nfds;
	uint8_t *flags;                  /* per client */
	struct tally t[PH_COUNT];
	size_t naklen;                   /* bytes of a client's STATUS bitmap */
	uint8_t *nak_expected, *nak_got; /* blocksize bytes each */
	size_t nak_clients;
	/* answers waiting */
	struct answer *q;
	size_t qhead, qtail, qcap;
	double tokens;
	uint64_t last_pump_ns, delay_ns;
	/* server */
	enum phase phase;
	enum sv_state state;
	uint64_t phase_start_ns, deadline_ns, settle_end_ns, keepalive_ns;
	struct dgram *trig;              /* this phase's requests, for keepalives */
	size_t ntrig, captrig;
	uint16_t seq;
	size_t server_sent, keepalives, aborts_up, aborts_down, strays, bad;
	size_t reg_confs, done_confs;
	uint32_t ts_sec, ts_usec;        /* timestamp of this phase's requests */
	char abort_text[128];
	struct perf_report rep;
	uint64_t t0_ns, next_report_ns, last_report_ns;
	size_t last_sent_total, last_uids_total;
};

/* ---- small helpers ---------------------------------------------------------------- */

static uint64_t splitmix(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

static void wall_now(uint32_t *sec, uint32_t *usec)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	*sec = (uint32_t)tv.tv_sec;
	*usec = (uint32_t)tv.tv_usec;
}

static uint64_t secs_ns(double s)
{
	return s <= 0 ? 0 : (uint64_t)(s * 1e9);
}

static bool client_of(const struct ctx *c, uint32_t uid, size_t *idx)
{
	uint32_t off = uid - c->o.uid_base;
	if (off >= c->o.clients)
		return false;
	*idx = off;
	return true;
}

static uint32_t uid_of(const struct ctx *c, size_t idx)
{
	return c->o.uid_base + (uint32_t)idx;
}

static size_t list_max(const struct ctx *c)
{
	size_t n = c->o.blocksize / 4;
	return n ? n : 1;
}

/* Block k (0..nak_blocks-1) that client i NAKs. */
static unsigned nak_block(const struct ctx *c, size_t i, unsigned k)
{
	uint64_t h = splitmix(c->o.seed ^ splitmix(((uint64_t)i << 8) | k | 0x80));
	return (unsigned)(h % c->o.blocks);
}

static void set_bit(uint8_t *map, unsigned bit)
{
	map[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

/* ---- sockets ------------------------------------------------------------------- */

static void big_buffers(int fd, int bytes)
{
	/* SO_*BUFFORCE passes rmem_max when root; otherwise take what we get. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

static int udp_bound(const struct sockaddr_storage *a, bool reuse, int buf)
{
	int fd = socket(a->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	if (reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (buf)
		big_buffers(fd, buf);
	if (bind(fd, (const struct sockaddr *)a, perf_addr_len(a)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int watch(struct ctx *c, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	return epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev);
}

enum { TAG_SERVER = 1, TAG_MCAST = 2, TAG_CLIENT = 1u << 24 };

static void raise_fd_limit(size_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int join(int fd, struct in_addr grp, struct in_addr ifa)
{
	struct ip_mreq m = { .imr_multiaddr = grp, .imr_interface = ifa };
	return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m));
}

static int open_sockets(struct ctx *c)
{
	const struct opts *o = &c->o;
	char a[64];
	if ((c->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	c->server_fd = udp_bound(&o->server_bind, false, 8 << 20);
	if (c->server_fd < 0) {
		fprintf(stderr, "ferry-perf: server socket %s: %s\n",
			perf_addr_str(&o->server_bind, a, sizeof(a)), strerror(errno));
		return -1;
	}
	watch(c, c->server_fd, TAG_SERVER);
	c->mcast_fd = -1;
	if (o->client_mode) {
		struct sockaddr_in any = { .sin_family = AF_INET,
					   .sin_port = htons(o->dest_port) };
		struct sockaddr_storage ss = { 0 };
		memcpy(&ss, &any, sizeof(any));
		c->mcast_fd = udp_bound(&ss, true, 8 << 20);
		if (c->mcast_fd < 0 || join(c->mcast_fd, o->pub, o->mcast_if) < 0 ||
		    join(c->mcast_fd, o->priv, o->mcast_if) < 0) {
			fprintf(stderr, "ferry-perf: multicast socket on port %u: %s\n",
				o->dest_port, strerror(errno));
			return -1;
		}
		watch(c, c->mcast_fd, TAG_MCAST);
	}
	c->nfds = o->ports;
	raise_fd_limit(c->nfds + 64);
	if (!(c->fds = calloc(c->nfds, sizeof(*c->fds))))
		return -1;
	for (size_t i = 0; i < c->nfds; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr = o->addrs[i % o->naddrs] };
		struct sockaddr_storage ss = { 0 };
		memcpy(&ss, &sin, sizeof(sin));
		if ((c->fds[i] = udp_bound(&ss, false, 0)) < 0) {
			fprintf(stderr, "ferry-perf: client socket %zu on %s: %s\n", i,
				perf_addr_str(&ss, a, sizeof(a)), strerror(errno));
			c->nfds = i;
			return -1;
		}
		watch(c, c->fds[i], TAG_CLIENT + i);
	}
	return 0;
}

static void close_sockets(struct ctx *c)
{
	for (size_t i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	if (c->mcast_fd >= 0)
		close(c->mcast_fd);
	if (c->server_fd >= 0)
		close(c->server_fd);
	if (c->ep >= 0)
		close(c->ep);
}

/* ---- the clients ------------------------------------------------------------------ */

static int queue_push(struct ctx *c, const struct answer *a)
{
	if (c->qtail == c->qcap) {
		if (c->qhead) {                 /* slide down before growing */
			memmove(c->q, c->q + c->qhead,
				(c->qtail - c->qhead) * sizeof(*c->q));
			c->qtail -= c->qhead;
			c->qhead = 0;
		}
		if (c->qtail == c->qcap) {
			size_t cap = c->qcap ? c->qcap * 2 : 1024;
			struct answer *q = realloc(c->q, cap * sizeof(*q));
			if (!q)
				return -1;
			c->q = q;
			c->qcap = cap;
		}
	}
	c->q[c->qtail++] = *a;
	return 0;
}

/* Client i heard req (at rx_ns): queue its answer, once per phase. */
static void client_hear(struct ctx *c, size_t i, const struct uftp_msg *req,
			uint64_t rx_ns)
{
	struct answer a = { .rx_ns = rx_ns, .client = (uint32_t)i };
	uint8_t *f = &c->flags[i];
	switch (req->hdr.func) {
	case UFTP_ANNOUNCE:
		a.func = UFTP_REGISTER;
		a.ts_sec = req->u.announce.ts_sec;
		a.ts_usec = req->u.announce.ts_usec;
		break;
	case UFTP_FILEINFO:
		a.func = UFTP_FILEINFO_ACK;
		a.file_id = req->u.fileinfo.file_id;
		a.ts_sec = req->u.fileinfo.ts_sec;
		a.ts_usec = req->u.fileinfo.ts_usec;
		break;
	case UFTP_DONE:
		/* As uftpd: NAKs outstanding, a STATUS; otherwise COMPLETE. */
		a.file_id = req->u.done.file_id;
		a.section = req->u.done.section;
		a.func = (*f & CL_NAKS) && !(*f & CL_REPAIRED) ? UFTP_STATUS : UFTP_COMPLETE;
		break;
	default:
		return;
	}
	int p = phase_of_answer(a.func);
	if (*f & CL_ANSWERED(p))
		return;
	*f |= CL_ANSWERED(p);
	if (queue_push(c, &a) == 0)
		c->t[p].queued++;
}

/* A server message as the clients hear it. */
static void clients_deliver(struct ctx *c, const uint8_t *buf, size_t len,
			    uint64_t rx_ns)
{
	struct rcur rc;
	struct uftp_msg m;
	rcur_init(&rc, buf, len);
	if (uftp_decode(&rc, &m) != UFTP_OK || m.hdr.group_id != c->o.group_id)
		return;
	switch (m.hdr.func) {
	case UFTP_REG_CONF:
		c->reg_confs++;
		return;
	case UFTP_DONE_CONF:
		c->done_confs++;
		return;
	case UFTP_ABORT:
		c->aborts_down++;
		return;
	case UFTP_FILESEG:
		/* The resent blocks: a client takes any as its repair. */
		for (size_t i = 0; i < c->o.clients; i++)
			c->flags[i] |= CL_REPAIRED;
		return;
	}
	const struct uftp_uids *u = uftp_msg_uids(&m);
	if (!u)
		return;
	if (!u->count) {            /* open group, or everyone */
		for (size_t i = 0; i < c->o.clients; i++)
			client_hear(c, i, &m, rx_ns);
		return;
	}
	uint32_t uid;
	size_t i;
	for (size_t k = 0; uftp_uid_next(u, &k, &uid);)
		if (client_of(c, uid, &i))
			client_hear(c, i, &m, rx_ns);
}

static long encode_answer(struct ctx *c, const struct answer *a, uint64_t now,
			  uint8_t *buf, size_t cap)
{
	static const uint8_t zeros[UFTP_RAND_LEN];
	uint8_t naks[1024];
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr = (struct uftp_hdr){ .version = UFTP_VERSION, .func = a->func,
				   .src_id = uid_of(c, a->client),
				   .group_id = c->o.group_id };
	/* The echoed timestamp grows by the time the client held it. */
	uint64_t held_us = (now - a->rx_ns) / 1000;
	uint64_t us = (uint64_t)a->ts_sec * 1000000 + a->ts_usec + held_us;
	uint32_t sec = (uint32_t)(us / 1000000), usec = (uint32_t)(us % 1000000);
	switch (a->func) {
	case UFTP_REGISTER:
		m.u.reg.ts_sec = sec;
		m.u.reg.ts_usec = usec;
		m.u.reg.rand2 = (struct bview){ zeros, 0 };
		break;
	case UFTP_FILEINFO_ACK:
		m.u.fileinfo_ack = (struct uftp_fileinfo_ack){
			.file_id = a->file_id, .ts_sec = sec, .ts_usec = usec };
		break;
	case UFTP_STATUS:
		memset(naks, 0, c->naklen);
		for (unsigned k = 0; k < c->o.nak_blocks; k++)
			set_bit(naks, nak_block(c, a->client, k));
		m.u.status = (struct uftp_status){ .file_id = a->file_id,
			.section = a->section, .naks = { naks, c->naklen } };
		break;
	case UFTP_COMPLETE:
		m.u.complete = (struct uftp_complete){ .file_id = a->file_id,
						       .status = UFTP_COMP_NORMAL };
		break;
	}
	return uftp_encode(buf, cap, &m);
}

/* Sends the answers that are due, within the rate. */
static void clients_pump(struct ctx *c, uint64_t now)
{
	uint8_t buf[2048];
	if (c->o.rate > 0) {
		c->tokens += (double)(now - c->last_pump_ns) * 1e-9 * c->o.rate;
		double burst = c->o.rate * 0.005 > 32 ? c->o.rate * 0.005 : 32;
		if (c->tokens > burst)
			c->tokens = burst;
	}
	c->last_pump_ns = now;
	for (size_t n = 0; n < SEND_BURST && c->qhead < c->qtail; n++) {
		const struct answer *a = &c->q[c->qhead];
		if (now < a->rx_ns + c->delay_ns || (c->o.rate > 0 && c->tokens < 1))
			break;
		int p = phase_of_answer(a->func);
		struct tally *t = &c->t[p];
		uint64_t ts = perf_now_ns();
		long len = encode_answer(c, a, ts, buf, sizeof(buf));
		int fd = c->fds[a->client % c->nfds];
		if (len > 0 && sendto(fd, buf, (size_t)len, 0,
				      (const struct sockaddr *)&c->o.proxy,
				      perf_addr_len(&c->o.proxy)) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS)
				break;             /* try again on the next turn */
			t->send_errors++;
		} else if (len <= 0) {
			t->send_errors++;
		} else {
			t->sent++;
			t->sent_ns[a->client] = ts;
			if (!t->first_sent_ns)
				t->first_sent_ns = ts;
		}
		c->qhead++;
		if (c->o.rate > 0)
			c->tokens -= 1;
	}
	if (c->qhead == c->qtail)
		c->qhead = c->qtail = 0;
}

/* When the next queued answer may go, in ns (0: now, UINT64_MAX: none). */
static uint64_t clients_next(const struct ctx *c, uint64_t now)
{
	if (c->qhead == c->qtail)
		return UINT64_MAX;
	uint64_t due = c->q[c->qhead].rx_ns + c->delay_ns;
	if (c->o.rate > 0 && c->tokens < 1) {
		uint64_t wait = (uint64_t)((1 - c->tokens) / c->o.rate * 1e9);
		if (now + wait > due)
			due = now + wait;
	}
	return due;
}

/* Messages to a client socket: a proxy's ABORT, most likely. */
static void client_socket_read(struct ctx *c, int fd)
{
	uint8_t buf[MAXDGRAM];
	ssize_t n;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		struct uftp_hdr h;
		if (uftp_peek(buf, (size_t)n, &h) == UFTP_OK && h.func == UFTP_ABORT)
			c->aborts_down++;
		else
			c->strays++;
	}
}

/* ---- the server: what it receives --------------------------------------------- */

static void tally_uid(struct ctx *c, struct tally *t, uint32_t uid, uint64_t now)
{
	size_t i;
	if (!client_of(c, uid, &i)) {
		t->unknown++;
		return;
	}
	if (t->count[i]++ == 0) {
		t->recv_ns[i] = now;
		t->distinct++;
		t->last_new_ns = now;
		if (t->distinct == t->expected)
			t->complete_ns = now;
	} else {
		t->dups++;
	}
}

static bool union_complete(const struct ctx *c)
{
	for (size_t i = 0; i < c->o.blocksize; i++)
		if ((c->nak_got[i] & c->nak_expected[i]) != c->nak_expected[i])
			return false;
	return true;
}

static void server_status(struct ctx *c, const struct uftp_status *st, uint64_t now)
{
	struct tally *t = &c->t[PH_STATUS];
	t->msgs++;
	if (st->file_id != FILE_ID || st->section != 0) {
		t->unknown++;
		return;
	}
	size_t n = st->naks.len < c->o.blocksize ? st->naks.len : c->o.blocksize;
	for (size_t i = 0; i < n; i++)
		c->nak_got[i] |= st->naks.p[i];
	t->last_new_ns = now;
	if (!t->complete_ns && union_complete(c))
		t->complete_ns = now;
}

static void server_abort(struct ctx *c, const struct uftp_abort *a)
{
	if (!c->aborts_up++)
		snprintf(c->abort_text, sizeof(c->abort_text), "%.*s",
			 (int)a->text.len, (const char *)a->text.p);
}

static void server_receive(struct ctx *c, const uint8_t *buf, size_t len, uint64_t now)
{
	struct rcur rc;
	struct uftp_msg m;
	rcur_init(&rc, buf, len);
	if (uftp_decode(&rc, &m) != UFTP_OK) {
		c->bad++;
		return;
	}
	if (m.hdr.group_id != c->o.group_id) {
		c->strays++;
		return;
	}
	if (m.hdr.func == UFTP_STATUS) {
		server_status(c, &m.u.status, now);
		return;
	}
	if (m.hdr.func == UFTP_ABORT) {
		server_abort(c, &m.u.abort);
		return;
	}
	int p = phase_of_answer(m.hdr.func);
	if (p < 0) {
		c->strays++;
		return;
	}
	struct tally *t = &c->t[p];
	t->msgs++;
	const struct uftp_uids *u = uftp_msg_uids(&m);
	size_t i;
	if (!u->count && client_of(c, m.hdr.src_id, &i)) {
		t->direct++;               /* passed on unaggregated */
		tally_uid(c, t, m.hdr.src_id, now);
		return;
	}
	uint32_t uid;
	for (size_t k = 0; uftp_uid_next(u, &k, &uid);)
		tally_uid(c, t, uid, now);
}

static void read_batch(struct ctx *c, int fd, bool server)
{
	static uint8_t bufs[RECV_BATCH][MAXDGRAM];
	struct mmsghdr mm[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	for (;;) {
		for (int i = 0; i < RECV_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], MAXDGRAM };
			mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i],
							       .msg_iovlen = 1 } };
		}
		int n = recvmmsg(fd, mm, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		uint64_t now = perf_now_ns();
		for (int i = 0; i < n; i++) {
			if (server)
				server_receive(c, bufs[i], mm[i].msg_len, now);
			else
				clients_deliver(c, bufs[i], mm[i].msg_len, now);
		}
		if (n < RECV_BATCH)
			return;
	}
}

/* ---- the server: what it sends ------------------------------------------------- */

static void trig_clear(struct ctx *c)
{
	for (size_t i = 0; i < c->ntrig; i++)
		free(c->trig[i].p);
	c->ntrig = 0;
}

static void trig_keep(struct ctx *c, const uint8_t *buf, size_t len)
{
	if (c->ntrig == c->captrig) {
		size_t cap = c->captrig ? c->captrig * 2 : 8;
		struct dgram *v = realloc(c->trig, cap * sizeof(*v));
		if (!v)
			return;
		c->trig = v;
		c->captrig = cap;
	}
	uint8_t *p = malloc(len);
	if (!p)
		return;
	memcpy(p, buf, len);
	c->trig[c->ntrig++] = (struct dgram){ len, p };
}

static void server_send_raw(struct ctx *c, const uint8_t *buf, size_t len)
{
	if (sendto(c->server_fd, buf, len, 0, (const struct sockaddr *)&c->o.proxy,
		   perf_addr_len(&c->o.proxy)) == (ssize_t)len)
		c->server_sent++;
}

/* Sends m (header filled in here) to the proxy; in response mode the
 * clients hear it at the same moment. keep: resend it as keepalive. */
static void server_send(struct ctx *c, struct uftp_msg *m, bool keep)
{
	uint8_t buf[MAXDGRAM];
	m->hdr = (struct uftp_hdr){ .version = UFTP_VERSION, .func = m->hdr.func,
				    .seq = c->seq++, .src_id = c->o.server_uid,
				    .group_id = c->o.group_id,
				    .grtt = uftp_grtt_quantize(c->o.grtt),
				    .gsize = uftp_gsize_quantize((unsigned)c->o.clients) };
	long len = uftp_encode(buf, sizeof(buf), m);
	if (len < 0) {
		fprintf(stderr, "ferry-perf: cannot encode %s: %s\n",
			uftp_func_name(m->hdr.func), uftp_strerror((enum uftp_err)-len));
		return;
	}
	server_send_raw(c, buf, (size_t)len);
	if (keep)
		trig_keep(c, buf, (size_t)len);
	if (!c->o.client_mode)
		clients_deliver(c, buf, (size_t)len, perf_now_ns());
}

/* The UIDs a request lists: clients i with want(i), blocksize/4 a message. */
typedef bool want_fn(const struct ctx *c, size_t i);

static bool want_all(const struct ctx *c, size_t i)
{
	(void)c;
	(void)i;
	return true;
}

static bool want_naks(const struct ctx *c, size_t i)
{
	return c->flags[i] & CL_NAKS;
}

static void send_listed(struct ctx *c, struct uftp_msg *m, struct uftp_uids *list,
			want_fn *want, bool keep)
{
	size_t max = list_max(c), n = 0;
	uint32_t *ids = malloc(max * sizeof(*ids));
	if (!ids)
		return;
	*list = (struct uftp_uids){ .host = ids };
	for (size_t i = 0; i < c->o.clients; i++) {
		if (!want(c, i))
			continue;
		ids[n++] = uid_of(c, i);
		if (n == max) {
			list->count = n;
			server_send(c, m, keep);
			n = 0;
		}
	}
	if (n) {
		list->count = n;
		server_send(c, m, keep);
	}
	free(ids);
}

static void send_announce(struct ctx *c)
{
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.func = UFTP_ANNOUNCE;
	struct uftp_announce *a = &m.u.announce;
	a->robust = (uint8_t)c->o.robust;
	a->cc_type = UFTP_CC_NONE;
	a->blocksize = (uint16_t)c->o.blocksize;
	a->ts_sec = c->ts_sec;
	a->ts_usec = c->ts_usec;
	a->pub_addr = (struct bview){ (const uint8_t *)&c->o.pub, 4 };
	a->priv_addr = (struct bview){ (const uint8_t *)&c->o.priv, 4 };
	if (c->o.closed)
		send_listed(c, &m, &a->uids, want_all, true);
	else
		server_send(c, &m, true);
}

static void send_fileinfo(struct ctx *c)
{
	static const char name[] = "ferry-perf.bin";
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.func = UFTP_FILEINFO;
	struct uftp_fileinfo *f = &m.u.fileinfo;
	f->file_id = FILE_ID;
	f->ftype = UFTP_FTYPE_REG;
	f->size = (uint64_t)c->o.blocks * c->o.blocksize;
	f->ftstamp = c->ts_sec;
	f->ts_sec = c->ts_sec;
	f->ts_usec = c->ts_usec;
	f->name = (struct bview){ (const uint8_t *)name, sizeof(name) - 1 };
	send_listed(c, &m, &f->uids, want_all, true);
}

static void send_done(struct ctx *c, want_fn *want)
{
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.func = UFTP_DONE;
	m.u.done.file_id = FILE_ID;
	m.u.done.section = 0;
	send_listed(c, &m, &m.u.done.uids, want, true);
}

/* Some of the blocks the NAKs asked for, before the final DONE: clients
 * take any FILESEG as their repair, and resending them all (up to 8192
 * blocks of up to 8800 bytes) would flood the path this tool measures. */
static void send_repairs(struct ctx *c)
{
	uint8_t *data = calloc(1, c->o.blocksize);
	if (!data)
		return;
	unsigned sent = 0;
	for (unsigned b = 0; b < c->o.blocks && sent < REPAIRS; b++) {
		if (!(c->nak_expected[b / 8] & (0x80u >> (b % 8))))
			continue;
		struct uftp_msg m;
		memset(&m, 0, sizeof(m));
		m.hdr.func = UFTP_FILESEG;
		m.u.fileseg = (struct uftp_fileseg){ .file_id = FILE_ID, .sec_block = (uint16_t)b,
			.data = { data, c->o.blocksize } };
		server_send(c, &m, false);
		sent++;
	}
	free(data);
}

static void send_confirm(struct ctx *c, uint8_t func)
{
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.func = func;
	send_listed(c, &m, func == UFTP_REG_CONF ? &m.u.reg_conf.uids
						 : &m.u.done_conf.uids,
		    want_all, false);
}

/* ---- the server: phases ------------------------------------------------------------ */

static bool phase_complete(const struct ctx *c)
{
	const struct tally *t = &c->t[c->phase];
	return t->complete_ns != 0;
}

static void phase_start(struct ctx *c, enum phase p, uint64_t now)
{
	struct tally *t = &c->t[p];
	c->phase = p;
	c->state = SV_WAIT;
	t->ran = true;
	trig_clear(c);
	wall_now(&c->ts_sec, &c->ts_usec);
	c->phase_start_ns = now;
	double expect_s = c->o.rate > 0 ? (double)t->expected / c->o.rate : 0;
	c->deadline_ns = now + secs_ns(c->o.timeout + 1.5 * expect_s);
	c->keepalive_ns = now + secs_ns(3 * c->o.grtt);
	switch (p) {
	case PH_REGISTER: send_announce(c); break;
	case PH_FILEINFO: send_fileinfo(c); break;
	case PH_STATUS: send_done(c, want_naks); break;
	case PH_COMPLETE: send_done(c, want_all); break;
	default: break;
	}
}

/* Between phases: the server's confirmations. */
static void phase_end(struct ctx *c, uint64_t now)
{
	struct tally *t = &c->t[c->phase];
	if (!t->complete_ns)
		t->timed_out = true;
	/* answers still queued for this phase will never count */
	c->qhead = c->qtail = 0;
	if (c->phase == PH_REGISTER)
		send_confirm(c, UFTP_REG_CONF);
	if (c->phase == PH_STATUS)
		send_repairs(c);
	enum phase next = (enum phase)(c->phase + 1);
	if (next == PH_STATUS && !c->t[PH_STATUS].expected)
		next = PH_COMPLETE;
	if (next == PH_COUNT) {
		send_confirm(c, UFTP_DONE_CONF);
		trig_clear(c);
		c->state = SV_END;
		return;
	}
	phase_start(c, next, now);
}

/* Keeps the proxy's session alive while answers trickle in (a real server
 * resends its request every 3 GRTT too; clients answer only once). */
static void keepalive(struct ctx *c, uint64_t now)
{
	if (now < c->keepalive_ns || !c->ntrig)
		return;
	server_send_raw(c, c->trig[0].p, c->trig[0].len);
	c->keepalives++;
	c->keepalive_ns = now + secs_ns(3 * c->o.grtt);
}

static void server_tick(struct ctx *c, uint64_t now)
{
	if (c->state == SV_END)
		return;
	keepalive(c, now);
	if (c->state == SV_WAIT && (phase_complete(c) || now >= c->deadline_ns)) {
		c->state = SV_SETTLE;        /* wait for duplicates and stragglers */
		c->settle_end_ns = now + secs_ns(c->o.settle);
	}
	if (c->state == SV_SETTLE && now >= c->settle_end_ns)
		phase_end(c, now);
}

static uint64_t server_next(const struct ctx *c)
{
	switch (c->state) {
	case SV_WAIT: {
		uint64_t t = c->deadline_ns < c->keepalive_ns ? c->deadline_ns : c->keepalive_ns;
		return t;
	}
	case SV_SETTLE:
		return c->settle_end_ns;
	default:
		return UINT64_MAX;
	}
}

/* ---- results -------------------------------------------------------------------------- */

static void tally_finish(struct ctx *c, struct tally *t, enum phase p)
{
	if (!t->ran)
		return;
	if (p == PH_STATUS) {
		/* Only the section's blocks count; a proxy may send the bitmap
		 * padded to the block size, and what it puts there is noted. */
		for (unsigned b = 0; b < c->o.blocksize * 8u; b++) {
			bool want = c->nak_expected[b / 8] & (0x80u >> (b % 8));
			bool got = c->nak_got[b / 8] & (0x80u >> (b % 8));
			if (b >= c->o.blocks)
				t->beyond_bits += got;
			else if (want && !got)
				t->missing_bits++;
			else if (got && !want)
				t->extra_bits++;
		}
		uint64_t end = t->complete_ns ? t->complete_ns : t->last_new_ns;
		t->agg_ms = t->first_sent_ns && end > t->first_sent_ns
			    ? (double)(end - t->first_sent_ns) / 1e6 : 0;
		return;
	}
	double *d = malloc((t->distinct ? t->distinct : 1) * sizeof(*d));
	size_t n = 0;
	for (size_t i = 0; d && i < c->o.clients; i++)
		if (t->count[i] && t->sent_ns[i] && t->recv_ns[i] >= t->sent_ns[i])
			d[n++] = (double)(t->recv_ns[i] - t->sent_ns[i]) / 1e6;
	if (d && n) {
		qsort(d, n, sizeof(*d), perf_cmp_double);
		t->p50 = perf_percentile(d, n, 50);
		t->p90 = perf_percentile(d, n, 90);
		t->p99 = perf_percentile(d, n, 99);
		t->max = d[n - 1];
	}
	free(d);
	uint64_t end = t->complete_ns ? t->complete_ns : t->last_new_ns;
	t->agg_ms = t->first_sent_ns && end > t->first_sent_ns
		    ? (double)(end - t->first_sent_ns) / 1e6 : 0;
}

static bool tally_ok(const struct tally *t, enum phase p)
{
	if (!t->ran)
		return t->expected == 0;
	if (p == PH_STATUS)
		return !t->missing_bits && !t->extra_bits && !t->unknown;
	return t->distinct == t->expected && !t->dups && !t->unknown;
}

static json_t *tally_json(const struct tally *t, enum phase p)
{
	json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:f, s:b}",
			      "ran", t->ran, "expected", (json_int_t)t->expected,
			      "sent", (json_int_t)t->sent,
			      "send_errors", (json_int_t)t->send_errors,
			      "messages", (json_int_t)t->msgs,
			      "aggregation_ms", t->agg_ms, "ok", tally_ok(t, p));
	json_object_set_new(o, "timed_out", json_boolean(t->timed_out));
	if (p == PH_STATUS) {
		json_object_set_new(o, "union_ok",
				    json_boolean(!t->missing_bits && !t->extra_bits));
		json_object_set_new(o, "missing_bits", json_integer((json_int_t)t->missing_bits));
		json_object_set_new(o, "extra_bits", json_integer((json_int_t)t->extra_bits));
		json_object_set_new(o, "bits_past_section",
				    json_integer((json_int_t)t->beyond_bits));
		json_object_set_new(o, "unknown", json_integer((json_int_t)t->unknown));
		return o;
	}
	json_object_set_new(o, "received", json_integer((json_int_t)t->distinct));
	json_object_set_new(o, "duplicates", json_integer((json_int_t)t->dups));
	json_object_set_new(o, "missing", json_integer((json_int_t)(t->expected - t->distinct)));
	json_object_set_new(o, "unknown", json_integer((json_int_t)t->unknown));
	json_object_set_new(o, "direct", json_integer((json_int_t)t->direct));
	json_object_set_new(o, "delay_ms", json_pack("{s:f, s:f, s:f, s:f}",
		"p50", t->p50, "p90", t->p90, "p99", t->p99, "max", t->max));
	return o;
}

static void print_summary(const struct ctx *c)
{
	printf("- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -\n");
	printf("%-13s %8s %8s %6s %7s %7s %6s %9s %8s %8s %8s %8s\n", "phase",
	       "clients", "received", "dups", "missing", "unknown", "msgs", "agg_ms",
	       "p50_ms", "p90_ms", "p99_ms", "max_ms");
	for (int p = 0; p < PH_COUNT; p++) {
		const struct tally *t = &c->t[p];
		if (!t->ran) {
			printf("%-13s %8zu  (not run)\n", phase_name[p], t->expected);
			continue;
		}
		if (p == PH_STATUS) {
			printf("%-13s %8zu  union %-5s %4zu missing %4zu extra %6zu %9.1f"
			       "  (%zu bits set past the section)\n",
			       phase_name[p], t->expected,
			       t->missing_bits || t->extra_bits ? "WRONG" : "ok",
			       t->missing_bits, t->extra_bits, t->msgs, t->agg_ms,
			       t->beyond_bits);
			continue;
		}
		printf("%-13s %8zu %8zu %6zu %7zu %7zu %6zu %9.1f %8.2f %8.2f %8.2f %8.2f%s\n",
		       phase_name[p], t->expected, t->distinct, t->dups,
		       t->expected - t->distinct, t->unknown, t->msgs, t->agg_ms,
		       t->p50, t->p90, t->p99, t->max, t->timed_out ? "  (timed out)" : "");
	}
	if (c->aborts_up || c->aborts_down)
		printf("ABORTs: %zu to the server (first: \"%s\"), %zu to clients\n",
		       c->aborts_up, c->abort_text, c->aborts_down);
}

/* ---- interval reports ---------------------------------------------------------------- */

static void report_interval(struct ctx *c, uint64_t now)
{
	size_t sent = 0, uids = 0, msgs = 0;
	for (int p = 0; p < PH_COUNT; p++) {
		sent += c->t[p].sent;
		uids += p == PH_STATUS ? 0 : c->t[p].distinct;
		msgs += c->t[p].msgs;
	}
	double from = (double)(c->last_report_ns - c->t0_ns) / 1e9;
	double to = (double)(now - c->t0_ns) / 1e9;
	char line[256];
	snprintf(line, sizeof(line),
		 "[%6.2f-%6.2f s] %-12s answers %8zu (%8.0f/s)  server: UIDs %8zu  msgs %6zu",
		 from, to, c->state == SV_END ? "end" : phase_name[c->phase],
		 sent - c->last_sent_total,
		 (double)(sent - c->last_sent_total) / (to - from > 0 ? to - from : 1),
		 uids - c->last_uids_total, msgs);
	json_t *o = json_pack("{s:f, s:f, s:s, s:I, s:I, s:I}", "start", from, "end", to,
			      "phase", c->state == SV_END ? "end" : phase_name[c->phase],
			      "answers", (json_int_t)(sent - c->last_sent_total),
			      "uids", (json_int_t)(uids - c->last_uids_total),
			      "messages_total", (json_int_t)msgs);
	perf_report_interval(&c->rep, line, o);
	c->last_sent_total = sent;
	c->last_uids_total = uids;
	c->last_report_ns = now;
}

/* ---- the loop -------------------------------------------------------------------------- */

static void handle_events(struct ctx *c, int timeout_ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(c->ep, ev, 64, timeout_ms);
	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		if (tag == TAG_SERVER)
			read_batch(c, c->server_fd, true);
		else if (tag == TAG_MCAST)
			read_batch(c, c->mcast_fd, false);
		else if (tag >= TAG_CLIENT && tag - TAG_CLIENT < c->nfds)
			client_socket_read(c, c->fds[tag - TAG_CLIENT]);
	}
}

static int run(struct ctx *c)
{
	uint64_t now = perf_now_ns();
	c->t0_ns = c->last_report_ns = c->last_pump_ns = now;
	uint64_t interval = secs_ns(c->o.interval);
	c->next_report_ns = interval ? now + interval : UINT64_MAX;
	phase_start(c, PH_REGISTER, now);
	while (c->state != SV_END && !perf_stopping()) {
		now = perf_now_ns();
		clients_pump(c, now);
		server_tick(c, now);
		if (now >= c->next_report_ns) {
			report_interval(c, now);
			c->next_report_ns += interval;
		}
		uint64_t next = clients_next(c, now);
		uint64_t s = server_next(c);
		if (s < next)
			next = s;
		if (c->next_report_ns < next)
			next = c->next_report_ns;
		int ms = 0;
		if (next > now) {
			uint64_t d = (next - now + 999999) / 1000000;
			ms = d > 100 ? 100 : (int)d;
		}
		handle_events(c, ms);
	}
	if (interval)
		report_interval(c, perf_now_ns());
	return perf_stopping() ? -1 : 0;
}

/* ---- set-up -------------------------------------------------------------------------- */

static int alloc_state(struct ctx *c)
{
	size_t n = c->o.clients;
	if (!(c->flags = calloc(n, 1)))
		return -1;
	for (int p = 0; p < PH_COUNT; p++) {
		struct tally *t = &c->t[p];
		t->sent_ns = calloc(n, sizeof(*t->sent_ns));
		t->recv_ns = calloc(n, sizeof(*t->recv_ns));
		t->count = calloc(n, sizeof(*t->count));
		if (!t->sent_ns || !t->recv_ns || !t->count)
			return -1;
		t->expected = n;
	}
	c->naklen = (c->o.blocks + 7) / 8;
	c->nak_expected = calloc(c->o.blocksize, 1);
	c->nak_got = calloc(c->o.blocksize, 1);
	if (!c->nak_expected || !c->nak_got)
		return -1;
	/* Which clients NAK, and the union the server must end up with. */
	uint64_t limit = (uint64_t)(c->o.nak_fraction * 18446744073709551615.0);
	for (size_t i = 0; i < n; i++) {
		if (c->o.nak_fraction <= 0 ||
		    (c->o.nak_fraction < 1 && splitmix(c->o.seed ^ splitmix(i)) >= limit))
			continue;
		c->flags[i] |= CL_NAKS;
		c->nak_clients++;
		for (unsigned k = 0; k < c->o.nak_blocks; k++)
			set_bit(c->nak_expected, nak_block(c, i, k));
	}
	c->t[PH_STATUS].expected = c->nak_clients;
	return 0;
}

static void free_state(struct ctx *c)
{
	free(c->flags);
	for (int p = 0; p < PH_COUNT; p++) {
		free(c->t[p].sent_ns);
		free(c->t[p].recv_ns);
		free(c->t[p].count);
	}
	free(c->nak_expected);
	free(c->nak_got);
	free(c->q);
	trig_clear(c);
	free(c->trig);
	free(c->fds);
	free(c->o.addrs);
}

/* ---- options ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
"usage: ferry-perf clients --proxy ADDR[:PORT] [options]\n"
"  Simulates a UFTP server and N clients around a response or client proxy;\n"
"  checks every client's REGISTER, FILEINFO_ACK and COMPLETE reaches the\n"
"  server exactly once and the STATUS NAKs arrive OR-ed; times aggregation.\n\n"
"  -p, --proxy ADDR[:PORT]     proxy under test (port 1044)\n"
"  -m, --mode response|client  response proxy (default) or client proxy\n"
"  -n, --clients N             simulated clients, 1-1000000 (1000)\n"
"      --ports N               client source ports (min(N, 1000))\n"
"      --client-addrs LIST     source addresses: A, A-B, A,B,... (IPv4)\n"
"      --server-bind ADDR[:PORT]  the simulated server's socket (0.0.0.0:0)\n"
"  -r, --rate R                client answers per second, or 'unlimited'\n"
"      --delay SEC             clients wait this long before answering (0.002)\n"
"      --grtt SEC              GRTT the server advertises (0.05)\n"
"      --robust N              ROBUST in the ANNOUNCE (20)\n"
"      --blocksize N           block size: UID lists hold N/4 (1300)\n"
"      --blocks N              blocks in the file's one section (1024)\n"
"      --nak-fraction F        clients with NAKs, 0-1 (0.1)\n"
"      --nak-blocks K          blocks each of them NAKs (4)\n"
"      --closed                closed group: the ANNOUNCE lists the UIDs\n"
"      --uid-base HEX          first client UID (C1000001)\n"
"      --server-uid HEX        the server's UID (5E000001)\n"
"      --group-id HEX          (random)\n"
"      --pub-mcast ADDR        public multicast address (230.4.4.1)\n"
"      --priv-mcast ADDR       private multicast address (239.255.70.1)\n"
"      --dest-port PORT        client mode: port the proxy sends to (1044)\n"
"      --mcast-if ADDR         client mode: interface address to join on\n"
"      --settle SEC            wait after a phase for duplicates (4 GRTT)\n"
"      --timeout SEC           per phase, plus 1.5 x answers / rate (10)\n"
"  -i, --interval SEC          seconds between reports, 0: none (1)\n"
"  -J, --json                  one JSON document at the end\n"
"  -A, --cpu N                 pin to CPU N\n"
"      --seed N                NAK choice (1)\n"
"Exit: 0 every UID once in every phase and the NAK union exact; 3 not;\n"
"1 usage; 2 system error.\n");
}

enum {
	O_PORTS = 256, O_ADDRS, O_BIND, O_DELAY, O_GRTT, O_ROBUST, O_BLOCKSIZE,
	O_BLOCKS, O_NAKF, O_NAKB, O_CLOSED, O_UIDBASE, O_SERVERUID, O_GROUP,
	O_PUB, O_PRIV, O_DPORT, O_MIF, O_SETTLE, O_TIMEOUT, O_SEED,
};

static const struct option long_opts[] = {
	{ "proxy", required_argument, NULL, 'p' },
	{ "mode", required_argument, NULL, 'm' },
	{ "clients", required_argument, NULL, 'n' },
	{ "ports", required_argument, NULL, O_PORTS },
	{ "client-addrs", required_argument, NULL, O_ADDRS },
	{ "server-bind", required_argument, NULL, O_BIND },
	{ "rate", required_argument, NULL, 'r' },
	{ "delay", required_argument, NULL, O_DELAY },
	{ "grtt", required_argument, NULL, O_GRTT },
	{ "robust", required_argument, NULL, O_ROBUST },
	{ "blocksize", required_argument, NULL, O_BLOCKSIZE },
	{ "blocks", required_argument, NULL, O_BLOCKS },
	{ "nak-fraction", required_argument, NULL, O_NAKF },
	{ "nak-blocks", required_argument, NULL, O_NAKB },
	{ "closed", no_argument, NULL, O_CLOSED },
	{ "uid-base", required_argument, NULL, O_UIDBASE },
	{ "server-uid", required_argument, NULL, O_SERVERUID },
	{ "group-id", required_argument, NULL, O_GROUP },
	{ "pub-mcast", required_argument, NULL, O_PUB },
	{ "priv-mcast", required_argument, NULL, O_PRIV },
	{ "dest-port", required_argument, NULL, O_DPORT },
	{ "mcast-if", required_argument, NULL, O_MIF },
	{ "settle", required_argument, NULL, O_SETTLE },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "interval", required_argument, NULL, 'i' },
	{ "json", no_argument, NULL, 'J' },
	{ "cpu", required_argument, NULL, 'A' },
	{ "seed", required_argument, NULL, O_SEED },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static bool parse_hex32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 16);
	if (errno || end == s || *end || v == 0 || v > 0xFFFFFFFEul)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool parse_ip4(const char *s, struct in_addr *out)
{
	return inet_pton(AF_INET, s, out) == 1;
}

/* "A", "A-B" (inclusive), or comma-separated of either. */
static bool parse_addrs(const char *arg, struct opts *o)
{
	char *copy = strdup(arg), *save = NULL;
	if (!copy)
		return false;
	bool ok = true;
	for (char *tok = strtok_r(copy, ",", &save); tok && ok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		struct in_addr a, b;
		if (dash)
			*dash = 0;
		if (!parse_ip4(tok, &a) || (dash && !parse_ip4(dash + 1, &b))) {
			ok = false;
			break;
		}
		uint32_t lo = ntohl(a.s_addr), hi = dash ? ntohl(b.s_addr) : lo;
		if (hi < lo || hi - lo >= 65536) {
			ok = false;
			break;
		}
		struct in_addr *v = realloc(o->addrs, (o->naddrs + (hi - lo + 1)) * sizeof(*v));
		if (!v) {
			ok = false;
			break;
		}
		o->addrs = v;
		for (uint64_t x = lo; x <= hi; x++)
			o->addrs[o->naddrs++].s_addr = htonl((uint32_t)x);
	}
	free(copy);
	return ok && o->naddrs > 0;
}

static void opts_default(struct opts *o)
{
	*o = (struct opts){ .clients = 1000, .grtt = 0.05, .delay = 0.002,
			    .settle = -1, .timeout = 10, .interval = 1, .cpu = -1,
			    .robust = 20, .blocksize = 1300, .blocks = 1024,
			    .nak_blocks = 4, .nak_fraction = 0.1,
			    .uid_base = 0xC1000001u, .server_uid = 0x5E000001u,
			    .dest_port = 1044, .seed = 1 };
	inet_pton(AF_INET, "230.4.4.1", &o->pub);
	inet_pton(AF_INET, "239.255.70.1", &o->priv);
	o->mcast_if.s_addr = htonl(INADDR_ANY);
	struct sockaddr_in any = { .sin_family = AF_INET };
	memcpy(&o->server_bind, &any, sizeof(any));
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "ferry-perf clients: bad %s '%s' (--help)\n", what, arg);
	return -1;
}

static int parse_one(struct opts *o, int ch, const char *arg, bool *have_proxy)
{
	double v;
	switch (ch) {
	case 'p':
		*have_proxy = true;
		return perf_parse_addr(arg, 1044, &o->proxy, "proxy");
	case 'm':
		if (strcmp(arg, "response") && strcmp(arg, "client"))
			return bad("mode", arg);
		o->client_mode = !strcmp(arg, "client");
		return 0;
	case 'n':
		if (!perf_parse_num(arg, 1, 1000000, &v) || v != (size_t)v)
			return bad("client count", arg);
		o->clients = (size_t)v;
		return 0;
	case O_PORTS:
		if (!perf_parse_num(arg, 1, 60000, &v))
			return bad("port count", arg);
		o->ports = (size_t)v;
		return 0;
	case O_ADDRS:
		return parse_addrs(arg, o) ? 0 : bad("client addresses", arg);
	case O_BIND:
		return perf_parse_addr(arg, 0, &o->server_bind, "server bind");
	case 'r':
		if (!strcmp(arg, "unlimited") || !strcmp(arg, "0")) {
			o->rate = 0;
			return 0;
		}
		if ((v = perf_parse_si(arg)) <= 0)
			return bad("rate", arg);
		o->rate = v;
		return 0;
	case O_DELAY: return perf_parse_num(arg, 0, 60, &o->delay) ? 0 : bad("delay", arg);
	case O_GRTT: return perf_parse_num(arg, 0.001, 100, &o->grtt) ? 0 : bad("GRTT", arg);
	case O_SETTLE: return perf_parse_num(arg, 0, 600, &o->settle) ? 0 : bad("settle", arg);
	case O_TIMEOUT: return perf_parse_num(arg, 0.1, 3600, &o->timeout) ? 0 : bad("timeout", arg);
	case 'i': return perf_parse_num(arg, 0, 3600, &o->interval) ? 0 : bad("interval", arg);
	case O_NAKF:
		return perf_parse_num(arg, 0, 1, &o->nak_fraction) ? 0 : bad("NAK fraction", arg);
	case O_ROBUST:
		if (!perf_parse_num(arg, 1, 255, &v))
			return bad("robust", arg);
		o->robust = (unsigned)v;
		return 0;
	case O_BLOCKSIZE:
		if (!perf_parse_num(arg, 64, 8800, &v))
			return bad("block size", arg);
		o->blocksize = (unsigned)v;
		return 0;
	case O_BLOCKS:
		if (!perf_parse_num(arg, 1, 8192, &v))
			return bad("block count", arg);
		o->blocks = (unsigned)v;
		return 0;
	case O_NAKB:
		if (!perf_parse_num(arg, 1, 1000, &v))
			return bad("NAK block count", arg);
		o->nak_blocks = (unsigned)v;
		return 0;
	case O_CLOSED: o->closed = true; return 0;
	case O_UIDBASE: return parse_hex32(arg, &o->uid_base) ? 0 : bad("UID", arg);
	case O_SERVERUID: return parse_hex32(arg, &o->server_uid) ? 0 : bad("UID", arg);
	case O_GROUP: return parse_hex32(arg, &o->group_id) ? 0 : bad("group ID", arg);
	case O_PUB: return parse_ip4(arg, &o->pub) ? 0 : bad("address", arg);
	case O_PRIV: return parse_ip4(arg, &o->priv) ? 0 : bad("address", arg);
	case O_MIF: return parse_ip4(arg, &o->mcast_if) ? 0 : bad("address", arg);
	case O_DPORT:
		if (!perf_parse_num(arg, 1, 65535, &v))
			return bad("port", arg);
		o->dest_port = (uint16_t)v;
		return 0;
	case 'J': o->json = true; return 0;
	case 'A':
		if (!perf_parse_num(arg, 0, 4095, &v))
			return bad("CPU", arg);
		o->cpu = (int)v;
		return 0;
	case O_SEED:
		if (!perf_parse_num(arg, 0, 1e18, &v))
			return bad("seed", arg);
		o->seed = (uint64_t)v;
		return 0;
	default:
		return -1;
	}
}

/* 0 to run, 1 for --help, -1 on a usage error. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	bool have_proxy = false;
	int ch;
	opts_default(o);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:m:n:r:i:JA:h", long_opts, NULL)) != -1) {
		if (ch == 'h')
			return 1;
		if (ch == '?' || parse_one(o, ch, optarg, &have_proxy) < 0)
			return -1;
	}
	if (optind < argc)
		return bad("argument", argv[optind]);
	if (!have_proxy) {
		fprintf(stderr, "ferry-perf clients: --proxy is required\n");
		return -1;
	}
	if (o->proxy.ss_family != AF_INET || o->server_bind.ss_family != AF_INET) {
		fprintf(stderr, "ferry-perf clients: IPv4 only\n");
		return -1;
	}
	if (o->uid_base + (uint64_t)o->clients > 0xFFFFFFFFu ||
	    (o->server_uid >= o->uid_base && o->server_uid - o->uid_base < o->clients)) {
		fprintf(stderr, "ferry-perf clients: client UIDs overflow or hold the server's\n");
		return -1;
	}
	if (o->blocks > o->blocksize * 8u) {
		fprintf(stderr, "ferry-perf clients: --blocks above blocksize * 8\n");
		return -1;
	}
	if (!o->naddrs) {
		o->addrs = malloc(sizeof(*o->addrs));
		if (!o->addrs)
			return -1;
		o->addrs[0] = ((const struct sockaddr_in *)&o->server_bind)->sin_addr;
		o->naddrs = 1;
	}
	if (!o->ports)
		o->ports = o->clients < 1000 ? o->clients : 1000;
	if (o->ports > o->clients)
		o->ports = o->clients;
	if (o->settle < 0)
		o->settle = 4 * o->grtt < 0.05 ? 0.05 : 4 * o->grtt;
	if (!o->group_id) {
		uint64_t r = splitmix(perf_now_ns() ^ (uint64_t)getpid() << 32);
		o->group_id = (uint32_t)r ? (uint32_t)r : 1;
	}
	return 0;
}

static json_t *start_json(const struct opts *o)
{
	char proxy[64];
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:f, s:I, s:f, s:I, s:b}",
		"mode", o->client_mode ? "client" : "response",
		"proxy", perf_addr_str(&o->proxy, proxy, sizeof(proxy)),
		"clients", (json_int_t)o->clients, "ports", (json_int_t)o->ports,
		"addresses", (json_int_t)o->naddrs, "rate", o->rate, "grtt", o->grtt,
		"blocksize", (json_int_t)o->blocksize, "nak_fraction", o->nak_fraction,
		"group_id", (json_int_t)o->group_id, "closed", o->closed);
}

static json_t *end_json(const struct ctx *c, bool ok)
{
	json_t *ph = json_object();
	for (int p = 0; p < PH_COUNT; p++)
		json_object_set_new(ph, phase_name[p], tally_json(&c->t[p], (enum phase)p));
	return json_pack("{s:o, s:b, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I}",
		"phases", ph, "ok", ok,
		"nak_clients", (json_int_t)c->nak_clients,
		"server_sent", (json_int_t)c->server_sent,
		"keepalives", (json_int_t)c->keepalives,
		"aborts_to_server", (json_int_t)c->aborts_up,
		"aborts_to_clients", (json_int_t)c->aborts_down,
		"first_abort", c->abort_text,
		"stray", (json_int_t)c->strays, "undecodable", (json_int_t)c->bad);
}

int perf_clients(int argc, char **argv)
{
	struct ctx c;
	memset(&c, 0, sizeof(c));
	c.ep = c.server_fd = c.mcast_fd = -1;
	int r = parse_opts(argc, argv, &c.o);
	if (r) {
		usage(r > 0 ? stdout : stderr);
		free(c.o.addrs);
		return r > 0 ? PERF_OK : PERF_USAGE;
	}
	int rc = PERF_SYS;
	c.delay_ns = secs_ns(c.o.delay);
	if (perf_pin(c.o.cpu) < 0 || alloc_state(&c) < 0 || open_sockets(&c) < 0)
		goto out;
	perf_trap_signals();
	perf_report_begin(&c.rep, c.o.json, start_json(&c.o));
	if (!c.o.json) {
		char a[64];
		printf("ferry-perf clients: %zu %s-proxy clients -> %s, %zu ports, "
		       "%zu addresses, group %08X, %zu with NAKs\n", c.o.clients,
		       c.o.client_mode ? "client" : "response",
		       perf_addr_str(&c.o.proxy, a, sizeof(a)), c.o.ports, c.o.naddrs,
		       c.o.group_id, c.nak_clients);
	}
	int stopped = run(&c);
	bool ok = stopped == 0;
	for (int p = 0; p < PH_COUNT; p++) {
		tally_finish(&c, &c.t[p], (enum phase)p);
		ok = ok && tally_ok(&c.t[p], (enum phase)p);
	}
	if (!c.o.json)
		print_summary(&c);
	perf_report_end(&c.rep, end_json(&c, ok));
	rc = ok ? PERF_OK : PERF_FAILED;
out:
	close_sockets(&c);
	free_state(&c);
	return rc;
}
