/* test_engine.c — the engine on real rings and sockets: UDP echo at volume
 * without loss, multicast heard exactly once among several workers, many TCP
 * connections echoed, timers in order, mail between workers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ferry/engine.h"
#include "ferry/base.h"
#include "ferry/proxy.h"
#include "engine_testlib.h"

static struct fe_engine *start(unsigned workers, int (*init)(struct fe_worker *, void *),
			       void *arg)
{
	struct fe_engine_opts o = { .workers = workers, .worker_init = init, .arg = arg };
	struct fe_engine *e = fe_engine_create(&o);
	assert_non_null(e);
	assert_int_equal(fe_engine_start(e), 0);
	return e;
}

static void finish(struct fe_engine *e, struct fe_stats *st)
{
	fe_engine_stop(e);
	fe_engine_wait(e);
	if (st)
		fe_engine_stats(e, st);
	fe_engine_destroy(e);
}

static uint16_t free_port(int type)
{
	int fd = socket(AF_INET, type, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

/* ---- UDP echo at volume ------------------------------------------------ */

enum { ECHO_TOTAL = 50000, ECHO_WINDOW = 128, ECHO_LEN = 1300 };

struct echo {
	uint16_t port;
	struct fe_udp *client;
	struct sockaddr_storage server;
	uint32_t next_seq;
	uint8_t *seen;
	atomic_int received;
	atomic_int bad;
};

static void echo_server_cb(struct fe_udp *s, const struct fe_datagram *d, void *arg)
{
	(void)arg;
	assert_int_equal(fe_udp_send(s, d->src, d->srclen, d->data, d->len), 0);
}

static void echo_send_next(struct echo *t)
{
	uint8_t buf[ECHO_LEN];
	if (t->next_seq >= ECHO_TOTAL)
		return;
	memset(buf, (int)(t->next_seq & 0xff), sizeof(buf));
	memcpy(buf, &t->next_seq, sizeof(t->next_seq));
	t->next_seq++;
	assert_int_equal(fe_udp_send(t->client, (struct sockaddr *)&t->server,
				     sizeof(struct sockaddr_in), buf, sizeof(buf)), 0);
}

static void echo_client_cb(struct fe_udp *s, const struct fe_datagram *d, void *arg)
{
	struct echo *t = arg;
	(void)s;
	uint32_t seq;
	memcpy(&seq, d->data, sizeof(seq));
	if (d->len != ECHO_LEN || seq >= ECHO_TOTAL || t->seen[seq] ||
	    d->data[ECHO_LEN - 1] != (seq & 0xff))
		atomic_fetch_add(&t->bad, 1);
	else
		t->seen[seq] = 1;
	echo_send_next(t);   /* keep the window full */
	atomic_fetch_add(&t->received, 1);
}

static int echo_init(struct fe_worker *w, void *arg)
{
	struct echo *t = arg;
	int err;
	struct fe_udp_opts o = { .bufsize = 4 << 20 };
	if (fe_worker_index(w) == 0) {
		o.bind = loopback(t->port);
		return fe_udp_open(w, &o, echo_server_cb, t, &err) ? 0 : 2;
	}
	o.bind = loopback(0);
	t->client = fe_udp_open(w, &o, echo_client_cb, t, &err);
	if (!t->client)
		return 2;
	for (int i = 0; i < ECHO_WINDOW; i++)
		echo_send_next(t);
	return 0;
}

static void test_udp_echo_volume(void **state)
{
	(void)state;
	struct echo t = { .port = free_port(SOCK_DGRAM) };
	t.server = loopback(t.port);
	t.seen = calloc(ECHO_TOTAL, 1);
	struct fe_engine *e = start(2, echo_init, &t);
	bool done = wait_until(&t.received, ECHO_TOTAL, 60);
	struct fe_stats st;
	finish(e, &st);
	assert_true(done);
	assert_int_equal(atomic_load(&t.bad), 0);
	for (int i = 0; i < ECHO_TOTAL; i++)
		assert_int_equal(t.seen[i], 1);
	assert_int_equal(st.udp_tx_err, 0);
	assert_int_equal(st.udp_tx_drop, 0);
	/* Every datagram crosses the engine twice (echo and reply) each way. */
	assert_true(st.udp_rx >= 2 * ECHO_TOTAL);
	print_message("udp echo: %llu datagrams in, %llu out, %llu io_uring_enter "
		      "calls (%.3f per datagram), %llu loop turns\n",
		      (unsigned long long)st.udp_rx, (unsigned long long)st.udp_tx,
		      (unsigned long long)st.enters,
		      (double)st.enters / (double)(st.udp_rx + st.udp_tx),
		      (unsigned long long)st.turns);
	free(t.seen);
}

/* ---- a burst costs fewer syscalls than datagrams -------------------------- */

enum { BURST = 2000 };

struct burst {
	uint16_t port;
	atomic_int received;
};

static void burst_cb(struct fe_udp *s, const struct fe_datagram *d, void *arg)
{
	struct burst *b = arg;
	(void)s;
	(void)d;
	atomic_fetch_add(&b->received, 1);
}

static int burst_init(struct fe_worker *w, void *arg)
{
	struct burst *b = arg;
	struct fe_udp_opts o = { .bind = loopback(b->port), .bufsize = 8 << 20 };
	int err;
	(void)w;
	return fe_udp_open(w, &o, burst_cb, b, &err) ? 0 : 2;
}

static void test_udp_burst_batched(void **state)
{
	(void)state;
	struct burst b = { .port = free_port(SOCK_DGRAM) };
	struct fe_engine *e = start(1, burst_init, &b);
	struct fe_stats before, after;
	fe_engine_stats(e, &before);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_storage dst = loopback(b.port);
	struct mmsghdr msgs[BURST];
	struct iovec iov[BURST];
	static uint8_t payload[BURST][64];
	for (int i = 0; i < BURST; i++) {
		iov[i] = (struct iovec){ payload[i], sizeof(payload[i]) };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &dst,
			.msg_namelen = sizeof(struct sockaddr_in), .msg_iov = &iov[i],
			.msg_iovlen = 1 } };
	}
	int sent = 0;
	while (sent < BURST) {
		int r = sendmmsg(fd, msgs + sent, (unsigned)(BURST - sent), 0);
		assert_true(r > 0);
		sent += r;
	}
	close(fd);
	bool done = wait_until(&b.received, BURST, 30);
	fe_worker_stats(fe_engine_worker(e, 0), &after);
	finish(e, NULL);
	assert_true(done);
	uint64_t enters = after.enters - before.enters;
	print_message("burst: %d datagrams received with %llu io_uring_enter calls\n",
		      BURST, (unsigned long long)enters);
	/* Multishot receive: far fewer kernel entries than datagrams. */
	assert_true(enters * 4 < BURST);
}

/* ---- segmented sends: every datagram arrives whole and in order --------- */

enum { GSO_SAME = 150 };

/* What the worker queues in one turn: runs of one size to two receivers
 * interleaved, a shorter one that must end a run, one too big to segment. */
static size_t gso_len(int i)
{
	if (i == GSO_SAME)
		return 700;                   /* shorter: ends the run */
	if (i == GSO_SAME + 1)
		return 3000;                  /* above the MTU: goes alone */
	return 1200;
}

enum { GSO_TOTAL = GSO_SAME + 2 };

struct gso {
	struct sockaddr_storage a, b;
};

static int gso_init(struct fe_worker *w, void *arg)
{
	struct gso *g = arg;
	struct fe_udp_opts o = { .bind = loopback(0) };
	int err;
	struct fe_udp *s = fe_udp_open(w, &o, burst_cb, NULL, &err);
	if (!s)
		return 2;
	static uint8_t buf[3000];
	/* Two receivers, 10 datagrams at a time each, so runs break on the
	 * destination too. */
	for (int i = 0; i < GSO_TOTAL; i++) {
		memset(buf, i, sizeof(buf));
		const struct sockaddr_storage *to = (i / 10) % 2 ? &g->b : &g->a;
		if (fe_udp_send(s, (const struct sockaddr *)to, sizeof(struct sockaddr_in),
				buf, gso_len(i)) < 0)
			return 3;
	}
	return 0;
}

static int bound_receiver(struct sockaddr_storage *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	*addr = loopback(0);
	bind(fd, (struct sockaddr *)addr, sizeof(struct sockaddr_in));
	socklen_t len = sizeof(*addr);
	getsockname(fd, (struct sockaddr *)addr, &len);
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void test_udp_segmented_sends(void **state)
{
	(void)state;
	struct gso g;
	int fa = bound_receiver(&g.a), fb = bound_receiver(&g.b);
	struct fe_engine *e = start(1, gso_init, &g);
	static uint8_t buf[4096];
	int got = 0;
	for (int i = 0; i < GSO_TOTAL; i++) {
		int fd = (i / 10) % 2 ? fb : fa;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			break;
		/* In order per receiver, each exactly as queued. */
		assert_int_equal((size_t)n, gso_len(i));
		for (ssize_t k = 0; k < n; k++)
			assert_int_equal(buf[k], (uint8_t)i);
		got++;
	}
	struct fe_stats st;
	finish(e, &st);
	close(fa);
	close(fb);
	assert_int_equal(got, GSO_TOTAL);
	assert_int_equal(st.udp_tx, GSO_TOTAL);
	print_message("segmented: %d datagrams in %llu segmented sends\n", GSO_TOTAL,
		      (unsigned long long)st.udp_tx_gso);
	/* 16 runs of 10 could go segmented, the big one cannot. */
	assert_true(st.udp_tx_gso >= 10);
}

/* ---- multicast heard exactly once ----------------------------------------- */

enum { MC_WORKERS = 4, MC_COUNT = 200 };

struct mcast {
	uint16_t port;
	struct sockaddr_storage group;
	unsigned ifindex;
	atomic_int per_worker[MC_WORKERS];
	atomic_int received;
	uint8_t seen[MC_COUNT];
	atomic_int dup;
};

static void mc_cb(struct fe_udp *s, const struct fe_datagram *d, void *arg)
{
	struct mcast *m = arg;
	(void)s;
	uint32_t seq;
	memcpy(&seq, d->data, sizeof(seq));
	if (seq < MC_COUNT && m->seen[seq]++)
		atomic_fetch_add(&m->dup, 1);
	atomic_fetch_add(&m->received, 1);
}

static int mc_init(struct fe_worker *w, void *arg)
{
	struct mcast *m = arg;
	struct fe_udp_opts o = { .reuseport = true };
	struct sockaddr_in *a = (struct sockaddr_in *)&o.bind;
	a->sin_family = AF_INET;
	a->sin_port = htons(m->port);
	int err;
	struct fe_udp *s = fe_udp_open(w, &o, mc_cb, m, &err);
	if (!s)
		return 2;
	if (proxy_join_owner(0, MC_WORKERS) == fe_worker_index(w) &&
	    fe_udp_join(s, (struct sockaddr *)&m->group, m->ifindex, NULL) < 0)
		return 2;
	return 0;
}

/* Runs in a network namespace of its own: a loopback with multicast on. */
static bool private_netns(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return false;
	return system("ip link set lo up && ip link set lo multicast on && "
		      "ip route add 224.0.0.0/4 dev lo") == 0;
}

static void test_multicast_once(void **state)
{
	(void)state;
	if (!private_netns()) {
		print_message("needs root for a private network namespace\n");
		skip();
	}
	struct mcast m = { .port = free_port(SOCK_DGRAM), .ifindex = if_nametoindex("lo") };
	struct sockaddr_in *g = (struct sockaddr_in *)&m.group;
	g->sin_family = AF_INET;
	inet_pton(AF_INET, "239.1.2.3", &g->sin_addr);
	struct fe_engine *e = start(MC_WORKERS, mc_init, &m);

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct ip_mreqn via = { .imr_ifindex = (int)m.ifindex };
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &via, sizeof(via));
	g->sin_port = htons(m.port);
	for (uint32_t i = 0; i < MC_COUNT; i++) {
		assert_true(sendto(fd, &i, sizeof(i), 0, (struct sockaddr *)g,
				   sizeof(*g)) == sizeof(i));
		if (i % 50 == 49)
			usleep(1000);
	}
	close(fd);
	wait_until(&m.received, MC_COUNT, 10);
	usleep(200 * 1000);          /* duplicates would arrive by now */
	finish(e, NULL);
	assert_int_equal(atomic_load(&m.received), MC_COUNT);
	assert_int_equal(atomic_load(&m.dup), 0);
	for (int i = 0; i < MC_COUNT; i++)
		assert_int_equal(m.seen[i], 1);
}

/* ---- many TCP connections -------------------------------------------------- */

enum { TCP_CONNS = 400, TCP_WORKERS = 2 };

struct tcp_echo {
	uint16_t port;
	atomic_int closed;
	atomic_int accepted[TCP_WORKERS];
};

static void tcp_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg)
{
	(void)arg;
	assert_int_equal(fe_conn_send(c, data, len), 0);
	if (len && data[len - 1] == '\n')
		fe_conn_close(c);     /* graceful: the echo is flushed first */
}

static void tcp_closed(struct fe_conn *c, int err, void *arg)
{
	struct tcp_echo *t = arg;
	(void)c;
	(void)err;
	atomic_fetch_add(&t->closed, 1);
}

static const struct fe_conn_ops tcp_ops = { tcp_data, tcp_closed };

static void tcp_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	struct tcp_echo *t = arg;
	(void)l;
	atomic_fetch_add(&t->accepted[fe_worker_index(fe_conn_worker(c))], 1);
	fe_conn_start(c, &tcp_ops, t);
}

static int tcp_init(struct fe_worker *w, void *arg)
{
	struct tcp_echo *t = arg;
	struct sockaddr_storage a = loopback(t->port);
	int err;
	return fe_tcp_listen(w, &a, true, tcp_accept, t, &err) ? 0 : 2;
}

static void test_tcp_many(void **state)
{
	(void)state;
	struct tcp_echo t = { .port = free_port(SOCK_STREAM) };
	struct fe_engine *e = start(TCP_WORKERS, tcp_init, &t);
	static int fds[TCP_CONNS];
	struct sockaddr_storage a = loopback(t.port);
	char msg[64];
	for (int i = 0; i < TCP_CONNS; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&a,
					 sizeof(struct sockaddr_in)), 0);
	}
	for (int i = 0; i < TCP_CONNS; i++) {
		int n = snprintf(msg, sizeof(msg), "hello %d\n", i);
		assert_int_equal(write(fds[i], msg, (size_t)n), n);
	}
	for (int i = 0; i < TCP_CONNS; i++) {
		char want[64], got[64] = { 0 };
		int n = snprintf(want, sizeof(want), "hello %d\n", i), have = 0;
		while (have < n) {
			ssize_t r = read(fds[i], got + have, sizeof(got) - 1 - (size_t)have);
			assert_true(r > 0);
			have += (int)r;
		}
		assert_string_equal(got, want);
		assert_int_equal(read(fds[i], got, 1), 0);   /* then EOF */
		close(fds[i]);
	}
	assert_true(wait_until(&t.closed, TCP_CONNS, 10));
	finish(e, NULL);
	assert_int_equal(atomic_load(&t.accepted[0]) + atomic_load(&t.accepted[1]),
			 TCP_CONNS);
	assert_true(atomic_load(&t.accepted[0]) > 0 && atomic_load(&t.accepted[1]) > 0);
}

/* ---- back-pressure: a peer that never reads ---------------------------------- */

enum { BP_LIMIT = 256 << 10, BP_CHUNK = 16 << 10, BP_TICK_MS = 5 };

struct bp {
	uint16_t port;
	struct fe_conn *c;
	uint64_t offset;              /* bytes accepted by fe_conn_send */
	atomic_llong accepted;
	atomic_llong max_queued;
	atomic_int nobufs;
	atomic_int stop;              /* test → worker: stop and close */
	atomic_int stopped;
	atomic_int closed;
};

static uint8_t pattern(uint64_t i) { return (uint8_t)(i % 251); }

static void bp_pump(struct fe_worker *w, void *arg)
{
	struct bp *b = arg;
	if (atomic_load(&b->stop)) {
		fe_conn_close(b->c);
		atomic_store(&b->stopped, 1);
		return;
	}
	uint8_t chunk[BP_CHUNK];
	for (;;) {
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = pattern(b->offset + i);
		int r = fe_conn_send(b->c, chunk, sizeof(chunk));
		long long q = (long long)fe_conn_queued(b->c);
		if (q > atomic_load(&b->max_queued))
			atomic_store(&b->max_queued, q);
		if (r == -ENOBUFS) {
			atomic_fetch_add(&b->nobufs, 1);
			break;
		}
		assert_int_equal(r, 0);
		b->offset += sizeof(chunk);
		atomic_store(&b->accepted, (long long)b->offset);
	}
	assert_non_null(fe_timer_add(w, BP_TICK_MS, bp_pump, b));
}

static void bp_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg)
{
	(void)c, (void)data, (void)len, (void)arg;
}

static void bp_closed(struct fe_conn *c, int err, void *arg)
{
	struct bp *b = arg;
	(void)c;
	assert_int_equal(err, 0);
	atomic_store(&b->closed, 1);
}

static const struct fe_conn_ops bp_ops = { .on_data = bp_data, .on_close = bp_closed };

static void bp_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	struct bp *b = arg;
	(void)l;
	b->c = c;
	fe_conn_start(c, &bp_ops, b);
	assert_int_equal(fe_conn_queued(c), 0);
	fe_conn_set_limit(c, BP_LIMIT);
	bp_pump(fe_conn_worker(c), b);
}

static int bp_init(struct fe_worker *w, void *arg)
{
	struct bp *b = arg;
	struct sockaddr_storage a = loopback(b->port);
	int err;
	return fe_tcp_listen(w, &a, true, bp_accept, b, &err) ? 0 : 2;
}

static void test_tcp_send_limit(void **state)
{
	(void)state;
	struct bp b = { .port = free_port(SOCK_STREAM) };
	struct fe_engine *e = start(1, bp_init, &b);
	struct sockaddr_storage a = loopback(b.port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in)), 0);
	/* Never read for a while: the kernel's buffers fill, then the queue
	 * stays at the limit and every further send is refused. */
	assert_true(wait_until(&b.nobufs, 40, 20));
	long long before = atomic_load(&b.accepted);
	int nob = atomic_load(&b.nobufs);
	assert_true(wait_until(&b.nobufs, nob + 20, 20));
	long long after = atomic_load(&b.accepted);
	assert_true(atomic_load(&b.max_queued) <= BP_LIMIT);
	assert_true(atomic_load(&b.max_queued) > BP_LIMIT - BP_CHUNK);
	assert_int_equal(before, after);      /* 100 ms of refusals: no growth */
	atomic_store(&b.stop, 1);
	assert_true(wait_until(&b.stopped, 1, 10));
	/* Everything accepted arrives intact, then the graceful close. */
	long long total = atomic_load(&b.accepted), got = 0;
	uint8_t buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern((uint64_t)got + (uint64_t)i))
				fail_msg("byte %lld differs", got + i);
		got += n;
	}
	assert_int_equal(n, 0);
	close(fd);
	assert_true(wait_until(&b.closed, 1, 10));
	finish(e, NULL);
	assert_true(got == total);
	print_message("send limit: %lld bytes accepted, queue at most %lld of %d\n",
		      total, (long long)atomic_load(&b.max_queued), BP_LIMIT);
}

/* ---- pause stops on_data, resume delivers what came meanwhile ------------ */

struct pz {
	uint16_t port;
	struct fe_conn *c;
	atomic_llong got;
	atomic_int bad;
	atomic_int resume;            /* test → worker */
	atomic_int closed;
};

static void pz_poll(struct fe_worker *w, void *arg)
{
	struct pz *z = arg;
	if (atomic_load(&z->resume))
		fe_conn_resume(z->c);
	else
		assert_non_null(fe_timer_add(w, BP_TICK_MS, pz_poll, z));
}

static void pz_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg)
{
	struct pz *z = arg;
	long long at = atomic_load(&z->got);
	for (size_t i = 0; i < len; i++)
		if (data[i] != pattern((uint64_t)at + i))
			atomic_fetch_add(&z->bad, 1);
	if (at == 0) {                /* the first byte: pause until told */
		fe_conn_pause(c);
		assert_non_null(fe_timer_add(fe_conn_worker(c), BP_TICK_MS, pz_poll, z));
	}
	atomic_store(&z->got, at + (long long)len);
}

static void pz_closed(struct fe_conn *c, int err, void *arg)
{
	struct pz *z = arg;
	(void)c;
	assert_int_equal(err, 0);
	atomic_store(&z->closed, 1);
}

static const struct fe_conn_ops pz_ops = { .on_data = pz_data, .on_close = pz_closed };

static void pz_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	struct pz *z = arg;
	(void)l;
	z->c = c;
	fe_conn_start(c, &pz_ops, z);
}

static int pz_init(struct fe_worker *w, void *arg)
{
	struct pz *z = arg;
	struct sockaddr_storage a = loopback(z->port);
	int err;
	return fe_tcp_listen(w, &a, true, pz_accept, z, &err) ? 0 : 2;
}

/* Writes until the socket has not drained for 300 ms; bytes written. */
static long long write_until_stuck(int fd, long long from)
{
	uint8_t buf[65536];
	long long sent = 0;
	for (;;) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pattern((uint64_t)(from + sent) + i);
		ssize_t n = write(fd, buf, sizeof(buf));
		if (n > 0) {
			sent += n;
			assert_true(sent < (256LL << 20));   /* someone is reading */
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 300) == 0)
			return sent;
	}
}

static void test_tcp_pause_resume(void **state)
{
	(void)state;
	struct pz z = { .port = free_port(SOCK_STREAM) };
	struct fe_engine *e = start(1, pz_init, &z);
	struct sockaddr_storage a = loopback(z.port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect(fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in));
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	assert_int_equal(poll(&p, 1, 5000), 1);
	uint8_t first = pattern(0);
	assert_int_equal(write(fd, &first, 1), 1);
	for (int i = 0; i < 5000 && atomic_load(&z.got) < 1; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&z.got), 1);
	/* Paused: nothing is read, so the window closes and writes stop. */
	long long more = write_until_stuck(fd, 1);
	assert_int_equal(atomic_load(&z.got), 1);
	atomic_store(&z.resume, 1);
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 20000 && !atomic_load(&z.closed); i++)
		usleep(1000);
	assert_int_equal(atomic_load(&z.closed), 1);
	assert_true(atomic_load(&z.got) == 1 + more);
	assert_int_equal(atomic_load(&z.bad), 0);
	close(fd);
	finish(e, NULL);
	print_message("pause: %lld bytes waited in the kernel until resume\n", more);
}

/* Pausing at every delivery and resuming a tick later, while the peer
 * writes and then closes: every byte comes before on_close (the close
 * waits behind bytes held for delivery). */
struct pz2 {
	uint16_t port;
	struct fe_conn *c;
	struct fe_turn_hook *hook;
	atomic_llong got;
	atomic_int bad, closed;
};

/* At the end of the turn that paused: a resume while the cancel of the
 * receive is not even submitted, so completions keep coming into the held
 * bytes, and the peer's close may come before they are delivered. */
static void pz2_turn(struct fe_worker *w, void *arg)
{
	struct pz2 *z = arg;
	(void)w;
	if (z->c)
		fe_conn_resume(z->c);
}

static void pz2_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg)
{
	struct pz2 *z = arg;
	long long at = atomic_load(&z->got);
	for (size_t i = 0; i < len; i++)
		if (data[i] != pattern((uint64_t)at + i))
			atomic_fetch_add(&z->bad, 1);
	atomic_store(&z->got, at + (long long)len);
	fe_conn_pause(c);
}

static void pz2_closed(struct fe_conn *c, int err, void *arg)
{
	struct pz2 *z = arg;
	assert_int_equal(err, 0);
	z->c = NULL;
	fe_worker_turn_end_remove(fe_conn_worker(c), z->hook);
	atomic_store(&z->closed, 1);
}

static const struct fe_conn_ops pz2_ops = { .on_data = pz2_data, .on_close = pz2_closed };

static void pz2_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	struct pz2 *z = arg;
	(void)l;
	z->c = c;
	z->hook = fe_worker_on_turn_end(fe_conn_worker(c), pz2_turn, z);
	assert_non_null(z->hook);
	fe_conn_start(c, &pz2_ops, arg);
}

static int pz2_init(struct fe_worker *w, void *arg)
{
	struct pz2 *z = arg;
	struct sockaddr_storage a = loopback(z->port);
	int err;
	return fe_tcp_listen(w, &a, true, pz2_accept, z, &err) ? 0 : 2;
}

static void test_tcp_pause_close_behind_held(void **state)
{
	(void)state;
	for (int round = 0; round < 5; round++) {
		struct pz2 z = { .port = free_port(SOCK_STREAM) };
		struct fe_engine *e = start(1, pz2_init, &z);
		struct sockaddr_storage a = loopback(z.port);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in)), 0);
		uint8_t buf[65536];
		long long total = 8LL << 20;
		/* a write may take less than asked (a signal): exactly total */
		for (long long sent = 0; sent < total;) {
			size_t want = (size_t)(total - sent < (long long)sizeof(buf) ? total - sent
										: (long long)sizeof(buf));
			for (size_t i = 0; i < want; i++)
				buf[i] = pattern((uint64_t)sent + i);
			ssize_t n = write(fd, buf, want);
			assert_true(n > 0);
			sent += n;
		}
		shutdown(fd, SHUT_WR);
		for (int i = 0; i < 20000 && !atomic_load(&z.closed); i++)
			usleep(1000);
		assert_int_equal(atomic_load(&z.closed), 1);
		assert_true(atomic_load(&z.got) == total);
		assert_int_equal(atomic_load(&z.bad), 0);
		close(fd);
		finish(e, NULL);
	}
}

/* ---- many paused connections hold one buffer each at most ------------------ */

enum { PM_CONNS = 32 };

struct pm_conn {
	struct pm *m;
	struct fe_conn *c;
	long long got;                /* worker only */
	atomic_llong total;
	atomic_int bad, closed;
};

struct pm {
	uint16_t port;
	struct pm_conn conn[PM_CONNS];
	atomic_int accepted, paused;
	atomic_int measure, resume;   /* test → worker */
	atomic_llong max_held, sum_held;
	atomic_int measured;
};

static void pm_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg)
{
	struct pm_conn *k = arg;
	for (size_t i = 0; i < len; i++)
		if (data[i] != pattern((uint64_t)k->got + i))
			atomic_fetch_add(&k->bad, 1);
	if (k->got == 0) {            /* the first delivery: pause until told */
		fe_conn_pause(c);
		atomic_fetch_add(&k->m->paused, 1);
	}
	k->got += (long long)len;
	atomic_store(&k->total, k->got);
}

static void pm_closed(struct fe_conn *c, int err, void *arg)
{
	struct pm_conn *k = arg;
	(void)c;
	assert_int_equal(err, 0);
	atomic_store(&k->closed, 1);
}

static const struct fe_conn_ops pm_ops = { .on_data = pm_data, .on_close = pm_closed };

/* On the worker: what every paused connection holds, then resume on cue. */
static void pm_poll(struct fe_worker *w, void *arg)
{
	struct pm *m = arg;
	if (atomic_load(&m->measure) && !atomic_load(&m->measured)) {
		long long max = 0, sum = 0;
		for (int i = 0; i < PM_CONNS; i++) {
			long long h = (long long)fe_conn_held(m->conn[i].c);
			sum += h;
			max = h > max ? h : max;
		}
		atomic_store(&m->max_held, max);
		atomic_store(&m->sum_held, sum);
		atomic_store(&m->measured, 1);
	}
	if (atomic_load(&m->resume)) {
		for (int i = 0; i < PM_CONNS; i++)
			fe_conn_resume(m->conn[i].c);
		return;
	}
	assert_non_null(fe_timer_add(w, BP_TICK_MS, pm_poll, m));
}

static void pm_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	struct pm *m = arg;
	(void)l;
	int i = atomic_fetch_add(&m->accepted, 1);
	assert_true(i < PM_CONNS);
	m->conn[i] = (struct pm_conn){ .m = m, .c = c };
	fe_conn_start(c, &pm_ops, &m->conn[i]);
	if (i == 0)
		assert_non_null(fe_timer_add(fe_conn_worker(c), BP_TICK_MS, pm_poll, m));
}

static int pm_init(struct fe_worker *w, void *arg)
{
	struct pm *m = arg;
	struct sockaddr_storage a = loopback(m->port);
	int err;
	return fe_tcp_listen(w, &a, true, pm_accept, m, &err) ? 0 : 2;
}

/* Writes to every socket until none has drained for 300 ms; bytes per socket. */
static void write_all_until_stuck(const int *fd, long long *sent, int n)
{
	static uint8_t buf[65536];
	for (;;) {
		bool moved = false;
		for (int k = 0; k < n; k++) {
			for (size_t i = 0; i < sizeof(buf); i++)
				buf[i] = pattern((uint64_t)sent[k] + i);
			ssize_t r = write(fd[k], buf, sizeof(buf));
			if (r > 0) {
				sent[k] += r;
				moved = true;
				assert_true(sent[k] < (64LL << 20));   /* someone reads */
			} else {
				assert_true(r < 0 && errno == EAGAIN);
			}
		}
		if (!moved)
			usleep(300 * 1000);
		bool any = false;
		for (int k = 0; k < n && !moved; k++) {
			struct pollfd p = { .fd = fd[k], .events = POLLOUT };
			any |= poll(&p, 1, 0) == 1;
		}
		if (!moved && !any)
			return;
	}
}

/* Clients that flood at once: the worker's completions come in big batches,
 * yet each paused connection keeps at most one receive buffer (a multishot
 * receive kept filling buffers until its cancel took effect). */
static void test_tcp_paused_many(void **state)
{
	(void)state;
	static struct pm m;
	memset(&m, 0, sizeof(m));
	m.port = free_port(SOCK_STREAM);
	struct fe_engine *e = start(1, pm_init, &m);
	struct sockaddr_storage a = loopback(m.port);
	int fd[PM_CONNS];
	long long sent[PM_CONNS] = { 0 };
	for (int k = 0; k < PM_CONNS; k++) {
		fd[k] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fd[k], (struct sockaddr *)&a, sizeof(struct sockaddr_in));
		struct pollfd p = { .fd = fd[k], .events = POLLOUT };
		assert_int_equal(poll(&p, 1, 5000), 1);
	}
	assert_true(wait_until(&m.accepted, PM_CONNS, 10));
	write_all_until_stuck(fd, sent, PM_CONNS);
	assert_true(wait_until(&m.paused, PM_CONNS, 10));
	atomic_store(&m.measure, 1);
	assert_true(wait_until(&m.measured, 1, 10));
	long long max = atomic_load(&m.max_held), sum = atomic_load(&m.sum_held);
	print_message("paused: %d connections hold %lld bytes in all, at most %lld each\n",
		      PM_CONNS, sum, max);
	assert_true(max <= FE_TCP_RECV_MAX);
	/* Resume: every byte arrives, in order, then the orderly close. */
	atomic_store(&m.resume, 1);
	for (int k = 0; k < PM_CONNS; k++)
		shutdown(fd[k], SHUT_WR);
	for (int k = 0; k < PM_CONNS; k++) {
		for (int i = 0; i < 20000 && !atomic_load(&m.conn[k].closed); i++)
			usleep(1000);
		assert_int_equal(atomic_load(&m.conn[k].closed), 1);
		assert_int_equal(atomic_load(&m.conn[k].bad), 0);
	}
	long long total = 0, want = 0;
	for (int k = 0; k < PM_CONNS; k++) {
		total += atomic_load(&m.conn[k].total);
		want += sent[k];
		close(fd[k]);
	}
	assert_true(total == want);
	finish(e, NULL);
}

/* ---- long turns: counted, told apart from waiting for a CPU ----------------- */

static uint64_t cpu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static atomic_int slow_done;

static void slow_sleeping(struct fe_worker *w, void *arg);

static void slow_working(struct fe_worker *w, void *arg)
{
	(void)arg;
	uint64_t end = cpu_now_ns() + (FE_SLOW_TURN_MS + 5) * 1000000ull;
	while (cpu_now_ns() < end)
		;                      /* CPU work in a turn: a real stall */
	atomic_fetch_add(&slow_done, 1);
	assert_non_null(fe_timer_add(w, 1, slow_sleeping, NULL));   /* a turn of its own */
}

static void slow_sleeping(struct fe_worker *w, void *arg)
{
	(void)w, (void)arg;
	usleep((FE_SLOW_TURN_MS + 5) * 1000);   /* off the CPU, as if preempted */
	atomic_fetch_add(&slow_done, 1);
}

static int slow_init(struct fe_worker *w, void *arg)
{
	(void)arg;
	assert_non_null(fe_timer_add(w, 10, slow_working, NULL));
	return 0;
}

static void test_slow_turns_counted(void **state)
{
	(void)state;
	atomic_store(&slow_done, 0);
	struct fe_engine *e = start(1, slow_init, NULL);
	assert_true(wait_until(&slow_done, 2, 10));
	usleep(20 * 1000);            /* the next turn accounts for the last one */
	struct fe_stats st;
	finish(e, &st);
	assert_true(st.turns_slow >= 1);
	assert_true(st.turns_preempted >= 1);
	assert_true(st.busy_us >= (FE_SLOW_TURN_MS + 5) * 1000);
	print_message("slow turns: %llu running, %llu waiting; busy %llu us\n",
		      (unsigned long long)st.turns_slow, (unsigned long long)st.turns_preempted,
		      (unsigned long long)st.busy_us);
}

/* ---- one process per port ------------------------------------------------------ */

struct owner {
	uint16_t udp_port, tcp_port;
	atomic_int opened;
	int err[4];
};

static void owner_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	(void)l, (void)c, (void)arg;   /* not started: the engine closes it */
}

static void owner_udp_cb(struct fe_udp *s, const struct fe_datagram *d, void *arg)
{
	(void)s, (void)d, (void)arg;
}

static int owner_init(struct fe_worker *w, void *arg)
{
	struct owner *o = arg;
	unsigned i = fe_worker_index(w);
	struct fe_udp_opts u = { .bind = loopback(o->udp_port), .reuseport = true };
	struct sockaddr_storage a = loopback(o->tcp_port);
	if (!fe_udp_open(w, &u, owner_udp_cb, o, &o->err[i]))
		return 2;
	if (!fe_tcp_listen(w, &a, true, owner_accept, o, &o->err[2 + i]))
		return 2;
	atomic_fetch_add(&o->opened, 1);
	return 0;
}

static struct fe_engine *owner_engine(struct owner *o, int *rc)
{
	struct fe_engine_opts eo = { .workers = 2, .worker_init = owner_init, .arg = o };
	struct fe_engine *e = fe_engine_create(&eo);
	assert_non_null(e);
	*rc = fe_engine_start(e);
	return e;
}

static int bound_socket(int type, uint16_t port, bool reuseport)
{
	int one = 1, fd = socket(AF_INET, type, 0);
	struct sockaddr_storage a = loopback(port);
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void test_port_owned(void **state)
{
	(void)state;
	struct owner first = { .udp_port = free_port(SOCK_DGRAM),
			       .tcp_port = free_port(SOCK_STREAM) };
	int rc;
	/* Our own workers share both ports. */
	struct fe_engine *a = owner_engine(&first, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(atomic_load(&first.opened), 2);
	/* A second engine (as a second ferryd would) is refused on each. */
	struct owner second = first;
	atomic_store(&second.opened, 0);
	struct fe_engine *b = owner_engine(&second, &rc);
	assert_int_equal(rc, 2);
	assert_int_equal(second.err[0] ? second.err[0] : second.err[1], -EADDRINUSE);
	fe_engine_destroy(b);
	struct owner tcp_only = first;
	tcp_only.udp_port = free_port(SOCK_DGRAM);
	b = owner_engine(&tcp_only, &rc);
	assert_int_equal(rc, 2);
	assert_int_equal(tcp_only.err[2] ? tcp_only.err[2] : tcp_only.err[3], -EADDRINUSE);
	fe_engine_destroy(b);
	/* The first still owns and serves its port. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage t = loopback(first.tcp_port);
	assert_int_equal(connect(fd, (struct sockaddr *)&t, sizeof(struct sockaddr_in)), 0);
	close(fd);
	finish(a, NULL);
	/* Once it has gone, the ports are free again (nothing leaked). */
	b = owner_engine(&first, &rc);
	assert_int_equal(rc, 0);
	finish(b, NULL);

	/* Another process's SO_REUSEPORT (and SO_REUSEADDR) sockets, which the
	 * kernel alone would let us join: refused too. */
	struct owner third = { .udp_port = free_port(SOCK_DGRAM),
			       .tcp_port = free_port(SOCK_STREAM) };
	int u = bound_socket(SOCK_DGRAM, third.udp_port, true);
	b = owner_engine(&third, &rc);
	assert_int_equal(rc, 2);
	assert_int_equal(third.err[0] ? third.err[0] : third.err[1], -EADDRINUSE);
	fe_engine_destroy(b);
	close(u);
	third.udp_port = free_port(SOCK_DGRAM);
	int l = bound_socket(SOCK_STREAM, third.tcp_port, true);
	b = owner_engine(&third, &rc);
	assert_int_equal(rc, 2);
	assert_int_equal(third.err[2] ? third.err[2] : third.err[3], -EADDRINUSE);
	fe_engine_destroy(b);
	close(l);
	/* A plain UDP socket with SO_REUSEADDR cannot share our port either. */
	third.udp_port = free_port(SOCK_DGRAM);
	third.tcp_port = free_port(SOCK_STREAM);
	b = owner_engine(&third, &rc);
	assert_int_equal(rc, 0);
	int one = 1;
	u = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(u, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_storage ua = loopback(third.udp_port);
	assert_int_equal(bind(u, (struct sockaddr *)&ua, sizeof(struct sockaddr_in)), -1);
	assert_int_equal(errno, EADDRINUSE);
	close(u);
	finish(b, NULL);
	/* Port 0: each worker gets its own port, no probe needed. */
	struct owner any = { 0 };
	b = owner_engine(&any, &rc);
	assert_int_equal(rc, 0);
	finish(b, NULL);
}

/* ---- end-of-turn hooks ------------------------------------------------------- */

struct hooks {
	uint16_t sink_port;
	struct fe_udp *udp;
	struct fe_turn_hook *self_removing, *adder;
	int a_calls, b_calls, c_calls, d_calls;
	int a_turn_of_d;             /* a_calls when d first ran */
	int order_bad;
	int ticks;
	bool tick;
	atomic_int done;
};

static void hook_a(struct fe_worker *w, void *arg)
{
	struct hooks *h = arg;
	(void)w;
	h->a_calls++;
	if (h->a_calls == 1) {       /* leaves with this turn's submit */
		struct sockaddr_storage to = loopback(h->sink_port);
		assert_int_equal(fe_udp_send(h->udp, (struct sockaddr *)&to,
					     sizeof(struct sockaddr_in), "hook", 4), 0);
	}
}

static void hook_b(struct fe_worker *w, void *arg)
{
	struct hooks *h = arg;
	if (h->b_calls != h->a_calls - 1)   /* b runs right after a */
		h->order_bad++;
	if (++h->b_calls == 3)
		fe_worker_turn_end_remove(w, h->self_removing);
}

static void hook_d(struct fe_worker *w, void *arg)
{
	struct hooks *h = arg;
	(void)w;
	if (!h->d_calls++)
		h->a_turn_of_d = h->a_calls;
}

static void hook_c(struct fe_worker *w, void *arg)
{
	struct hooks *h = arg;
	if (++h->c_calls == 2) {
		assert_non_null(fe_worker_on_turn_end(w, hook_d, h));
		fe_worker_turn_end_remove(w, h->adder);
	}
}

static void hooks_tick(struct fe_worker *w, void *arg)
{
	struct hooks *h = arg;
	if (++h->ticks < 10)
		assert_non_null(fe_timer_add(w, 5, hooks_tick, h));
	else
		atomic_store(&h->done, 1);
}

static void hooks_udp_cb(struct fe_udp *s, const struct fe_datagram *d, void *arg)
{
	(void)s, (void)d, (void)arg;
}

static int hooks_init(struct fe_worker *w, void *arg)
{
	struct hooks *h = arg;
	struct fe_udp_opts o = { .bind = loopback(0) };
	int err;
	h->udp = fe_udp_open(w, &o, hooks_udp_cb, h, &err);
	if (!h->udp || !fe_worker_on_turn_end(w, hook_a, h) ||
	    !(h->self_removing = fe_worker_on_turn_end(w, hook_b, h)) ||
	    !(h->adder = fe_worker_on_turn_end(w, hook_c, h)))
		return 2;
	if (h->tick)
		assert_non_null(fe_timer_add(w, 5, hooks_tick, h));
	return 0;
}

static void test_turn_end_hooks(void **state)
{
	(void)state;
	int sink = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_storage a = loopback(0);
	socklen_t len = sizeof(a);
	assert_int_equal(bind(sink, (struct sockaddr *)&a, sizeof(struct sockaddr_in)), 0);
	getsockname(sink, (struct sockaddr *)&a, &len);
	uint16_t port = ntohs(((struct sockaddr_in *)&a)->sin_port);
	struct hooks h = { .sink_port = port };
	struct fe_engine *e = start(1, hooks_init, &h);
	/* The idle worker has no timer to wake it: the datagram a hook queued
	 * arrives only if the engine's flush ran after the hook. */
	struct pollfd p = { .fd = sink, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	char buf[8];
	assert_int_equal(recv(sink, buf, sizeof(buf), 0), 4);
	finish(e, NULL);
	close(sink);

	/* Ten timer turns: every turn runs the hooks in order; a hook that
	 * removes itself stops, one added by a hook starts the turn after. */
	h = (struct hooks){ .sink_port = port, .tick = true };
	e = start(1, hooks_init, &h);
	assert_true(wait_until(&h.done, 1, 10));
	finish(e, NULL);
	assert_true(h.a_calls >= 11);
	assert_int_equal(h.b_calls, 3);
	assert_int_equal(h.c_calls, 2);
	assert_int_equal(h.a_turn_of_d, 3);
	assert_true(h.d_calls >= h.a_calls - 3);
	assert_int_equal(h.order_bad, 0);
}

/* ---- out of descriptors: accept backs off, then recovers ------------------ */

enum { FD_CLIENTS = 40, FD_SPARE = 4 };

struct fdx {
	uint16_t port;
	atomic_int accepted;
	struct fe_listener *l;
};

static void fdx_closed(struct fe_conn *c, int err, void *arg)
{
	(void)c, (void)err, (void)arg;
}

static const struct fe_conn_ops fdx_ops = { .on_data = tcp_data, .on_close = fdx_closed };

static void fdx_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	struct fdx *x = arg;
	(void)l;
	atomic_fetch_add(&x->accepted, 1);
	fe_conn_start(c, &fdx_ops, NULL);   /* echo a line, then close */
}

static int fdx_init(struct fe_worker *w, void *arg)
{
	struct fdx *x = arg;
	struct sockaddr_storage a = loopback(x->port);
	int err;
	x->l = fe_tcp_listen(w, &a, true, fdx_accept, x, &err);
	return x->l ? 0 : 2;
}

/* The descriptor limit that leaves exactly `spare` numbers free. */
static int spare_limit(int spare)
{
	int fd = 0;
	for (; spare > 0; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			spare--;
	return fd;
}

static bool echoed(int fd, int i)
{
	char want[32], got[32] = { 0 };
	int n = snprintf(want, sizeof(want), "hello %d\n", i), have = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (have < n && poll(&p, 1, 10000) == 1) {
		ssize_t r = read(fd, got + have, sizeof(got) - 1 - (size_t)have);
		if (r <= 0)
			break;
		have += (int)r;
	}
	return have == n && !strcmp(got, want);
}

static void test_emfile_backoff(void **state)
{
	(void)state;
	struct fdx x = { .port = free_port(SOCK_STREAM) };
	struct sockaddr_storage a = loopback(x.port);
	int fds[FD_CLIENTS + 1];
	for (int i = 0; i <= FD_CLIENTS; i++)
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
	/* From here the process can open only FD_SPARE more descriptors once
	 * the engine has its two rings and the listener (io_uring's accept
	 * takes the limit when it is armed, so lower it first). */
	struct rlimit was, low;
	getrlimit(RLIMIT_NOFILE, &was);
	low = was;
	low.rlim_cur = (rlim_t)spare_limit(FD_SPARE + 3);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	struct fe_engine *e = start(1, fdx_init, &x);
	char msg[32];
	for (int i = 0; i < FD_CLIENTS; i++)
		assert_int_equal(connect(fds[i], (struct sockaddr *)&a,
					 sizeof(struct sockaddr_in)), 0);
	/* Every client is served in the end: the listener pauses while
	 * descriptors are short and resumes as echoed connections close. */
	int served = 0;
	for (int i = 0; i < FD_CLIENTS; i++) {
		int n = snprintf(msg, sizeof(msg), "hello %d\n", i);
		assert_int_equal(write(fds[i], msg, (size_t)n), n);
		served += echoed(fds[i], i);
		close(fds[i]);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);   /* keep the count */
	}
	struct fe_stats st;
	fe_worker_stats(fe_engine_worker(e, 0), &st);
	uint64_t backoffs = st.accept_backoffs;
	int accepted = atomic_load(&x.accepted);
	/* Exhaust again with connections that stay open, and stop while the
	 * listener is backing off: its timer and descriptor must go too. */
	for (int i = 0; i <= FD_SPARE; i++)
		connect(fds[i], (struct sockaddr *)&a, sizeof(struct sockaddr_in));
	for (int i = 0; i < 200 && atomic_load(&x.accepted) < accepted + FD_SPARE; i++)
		usleep(5000);
	usleep(150 * 1000);
	fe_worker_stats(fe_engine_worker(e, 0), &st);
	uint64_t backing_off = st.accept_backoffs - backoffs;
	finish(e, NULL);
	setrlimit(RLIMIT_NOFILE, &was);
	for (int i = 0; i <= FD_CLIENTS; i++)
		close(fds[i]);
	print_message("emfile: %d clients served with %d spare descriptors, "
		      "%llu back-offs\n", served, FD_SPARE, (unsigned long long)backoffs);
	assert_int_equal(served, FD_CLIENTS);
	assert_int_equal(accepted, FD_CLIENTS);
	assert_true(backoffs > 0);
	assert_true(backing_off > 0);       /* stopped while backing off */
	int one = 1, probe = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* TIME_WAIT */
	assert_int_equal(bind(probe, (struct sockaddr *)&a, sizeof(struct sockaddr_in)), 0);
	assert_int_equal(listen(probe, 1), 0);     /* the listener is gone */
	close(probe);
}

/* ---- a hand-off arriving at a worker that is stopping --------------------- */

enum { LATE_MAILS = 100 };

struct late {
	atomic_int w1_done;
	atomic_int posted, delivered;
};

static void late_cb(struct fe_worker *to, void *arg)
{
	struct late *l = *(struct late **)arg;
	(void)to;
	free(arg);                    /* what only the receiver can release */
	atomic_fetch_add(&l->delivered, 1);
}

static int late_init(struct fe_worker *w, void *arg)
{
	(void)w, (void)arg;
	return 0;
}

static void late_fini(struct fe_worker *w, void *arg)
{
	struct late *l = arg;
	if (fe_worker_index(w) == 1) {
		atomic_store(&l->w1_done, 1);
		return;
	}
	/* Worker 0 posts only once worker 1 has finished its protocol. */
	for (int i = 0; i < 5000 && !atomic_load(&l->w1_done); i++)
		usleep(1000);
	for (int i = 0; i < LATE_MAILS; i++) {
		struct late **m = malloc(sizeof(*m));
		*m = l;
		assert_int_equal(fe_mail_post(w, 1, late_cb, m), 0);
		atomic_fetch_add(&l->posted, 1);
	}
}

static void test_mail_to_stopping_worker(void **state)
{
	(void)state;
	struct late l = { 0 };
	struct fe_engine_opts o = { .workers = 2, .worker_init = late_init,
				    .worker_fini = late_fini, .arg = &l };
	struct fe_engine *e = fe_engine_create(&o);
	assert_non_null(e);
	assert_int_equal(fe_engine_start(e), 0);
	struct fe_stats st;
	finish(e, &st);
	assert_int_equal(atomic_load(&l.w1_done), 1);
	assert_int_equal(atomic_load(&l.posted), LATE_MAILS);
	assert_int_equal(atomic_load(&l.delivered), LATE_MAILS);
}

/* ---- timers ----------------------------------------------------------------- */

struct timers {
	int order[8];
	atomic_int fired;
	uint64_t added_at, fired_at[8];
	struct fe_worker *w;
};

struct targ {
	struct timers *t;
	int id;
};

static void timer_cb(struct fe_worker *w, void *arg)
{
	struct targ *a = arg;
	int i = atomic_load(&a->t->fired);
	a->t->order[i] = a->id;
	a->t->fired_at[i] = fe_now_ms(w);
	atomic_fetch_add(&a->t->fired, 1);
}

static struct targ targs[8];

static int timer_init(struct fe_worker *w, void *arg)
{
	struct timers *t = arg;
	static const uint64_t delays[] = { 120, 40, 80, 40, 0, 200 };
	t->added_at = fe_now_ms(w);
	struct fe_timer *h[6];
	for (int i = 0; i < 6; i++) {
		targs[i] = (struct targ){ t, i };
		h[i] = fe_timer_add(w, delays[i], timer_cb, &targs[i]);
	}
	fe_timer_cancel(w, h[2]);     /* cancelled: never fires */
	return 0;
}

static void test_timers_in_order(void **state)
{
	(void)state;
	struct timers t = { 0 };
	struct fe_engine *e = start(1, timer_init, &t);
	bool done = wait_until(&t.fired, 5, 5);
	usleep(150 * 1000);
	finish(e, NULL);
	assert_true(done);
	assert_int_equal(atomic_load(&t.fired), 5);
	int expect[] = { 4, 1, 3, 0, 5 };
	uint64_t min_delay[] = { 0, 40, 40, 120, 200 };
	for (int i = 0; i < 5; i++) {
		assert_int_equal(t.order[i], expect[i]);
		assert_true(t.fired_at[i] >= t.added_at + min_delay[i]);
	}
}

/* ---- mail between workers -------------------------------------------------- */

enum { MAIL_WORKERS = 4, MAIL_ROUNDS = 2000 };

struct mailtest {
	struct fe_engine *e;
	atomic_int got[MAIL_WORKERS];
	atomic_int total;
	atomic_int wrong;
};

struct token {
	struct mailtest *m;
	unsigned expect_to;
	int hops;
};

static void mail_cb(struct fe_worker *to, void *arg)
{
	struct token *tk = arg;
	struct mailtest *m = tk->m;
	if (fe_worker_index(to) != tk->expect_to)
		atomic_fetch_add(&m->wrong, 1);
	atomic_fetch_add(&m->got[fe_worker_index(to)], 1);
	atomic_fetch_add(&m->total, 1);
	if (--tk->hops <= 0) {
		free(tk);
		return;
	}
	tk->expect_to = (fe_worker_index(to) + 1) % MAIL_WORKERS;
	assert_int_equal(fe_mail_post(to, tk->expect_to, mail_cb, tk), 0);
}

static int mail_init(struct fe_worker *w, void *arg)
{
	struct mailtest *m = arg;
	/* Each worker starts one token that travels the ring of workers. */
	struct token *tk = calloc(1, sizeof(*tk));
	tk->m = m;
	tk->hops = MAIL_ROUNDS;
	tk->expect_to = (fe_worker_index(w) + 1) % MAIL_WORKERS;
	return fe_mail_post(w, tk->expect_to, mail_cb, tk) ? 2 : 0;
}

static void test_mailbox(void **state)
{
	(void)state;
	struct mailtest m = { 0 };
	struct fe_engine *e = start(MAIL_WORKERS, mail_init, &m);
	bool done = wait_until(&m.total, MAIL_WORKERS * MAIL_ROUNDS, 30);
	struct fe_stats st;
	finish(e, &st);
	assert_true(done);
	assert_int_equal(atomic_load(&m.wrong), 0);
	for (int i = 0; i < MAIL_WORKERS; i++)
		assert_int_equal(atomic_load(&m.got[i]), MAIL_ROUNDS);
	assert_int_equal(st.mail_rx, MAIL_WORKERS * MAIL_ROUNDS);
}

/* ---- start-up failure reaches the caller ---------------------------------- */

static int fail_on_one(struct fe_worker *w, void *arg)
{
	(void)arg;
	return fe_worker_index(w) == 1 ? 2 : 0;
}

static void test_start_failure(void **state)
{
	(void)state;
	struct fe_engine_opts o = { .workers = 3, .worker_init = fail_on_one };
	struct fe_engine *e = fe_engine_create(&o);
	assert_int_equal(fe_engine_start(e), 2);
	fe_engine_destroy(e);
}

/* ---- listeners on a port range (ftp.passive_ports) ----------------------- */

struct prange {
	uint16_t lo;            /* lo, lo + 1: below the ephemeral range */
	uint16_t one;           /* a port inside it: the kernel's own pick */
	int port[4], err[4];
};

static void prange_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	(void)l;
	(void)c;
	(void)arg;
	fail_msg("nobody connects to the range's listeners");
}

static int listener_port(struct fe_listener *l)
{
	struct sockaddr_storage a;
	return l && fe_listener_local(l, &a) == 0 ? fb_addr_port((const struct sockaddr *)&a) : -1;
}

static int prange_init(struct fe_worker *w, void *arg)
{
	struct prange *p = arg;
	struct sockaddr_storage a = loopback(0);
	struct fe_listener *l[4];
	for (int i = 0; i < 3; i++) {
		l[i] = fe_tcp_listen_range(w, &a, p->lo, p->lo + 1, prange_accept, p, &p->err[i]);
		p->port[i] = listener_port(l[i]);
	}
	fe_listener_close(l[0]);   /* its port is free again at once */
	l[2] = fe_tcp_listen_range(w, &a, p->lo, p->lo + 1, prange_accept, p, &p->err[2]);
	p->port[2] = listener_port(l[2]);
	l[3] = fe_tcp_listen_range(w, &a, p->one, p->one, prange_accept, p, &p->err[3]);
	p->port[3] = listener_port(l[3]);
	for (int i = 1; i < 4; i++)
		fe_listener_close(l[i]);
	return 0;
}

/* n consecutive ports from first that nothing on 127.0.0.1 holds now. */
static bool ports_free(uint16_t first, int n)
{
	bool ok = true;
	for (int i = 0; i < n && ok; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_storage a = loopback((uint16_t)(first + i));
		ok = bind(fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in)) == 0;
		close(fd);
	}
	return ok;
}

/* Two free ports at 20000-29999, below the usual ephemeral range (32768-):
 * there the kernel's own pick is outside, so ports are tried in turn. */
static uint16_t free_pair(void)
{
	srand((unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)rand());
	for (int tries = 0; tries < 100; tries++) {
		uint16_t lo = (uint16_t)(20000 + rand() % 10000);
		if (ports_free(lo, 2))
			return lo;
	}
	return 0;
}

static void test_listen_range(void **state)
{
	(void)state;
	struct prange p = { 0 };
	p.lo = free_pair();
	/* inside the ephemeral range: the same ports free_port() hands out */
	for (int tries = 0; tries < 100 && !p.one; tries++) {
		uint16_t one = free_port(SOCK_STREAM);
		p.one = ports_free(one, 1) ? one : 0;
	}
	assert_true(p.lo && p.one);
	struct fe_engine *e = start(1, prange_init, &p);
	finish(e, NULL);
	assert_int_equal(p.err[0], 0);
	assert_int_equal(p.err[1], 0);
	assert_true(p.port[0] >= p.lo && p.port[0] <= p.lo + 1);
	assert_int_equal(p.port[0] + p.port[1], 2 * p.lo + 1);   /* both ports */
	assert_int_equal(p.err[2], 0);       /* after the close: the freed port */
	assert_int_equal(p.port[2], p.port[0]);
	assert_int_equal(p.err[3], 0);
	assert_int_equal(p.port[3], p.one);
}

/* The third listener on a range of two ports: -EADDRINUSE. */
static int prange_full_init(struct fe_worker *w, void *arg)
{
	struct prange *p = arg;
	struct sockaddr_storage a = loopback(0);
	struct fe_listener *l[3];
	for (int i = 0; i < 3; i++)
		l[i] = fe_tcp_listen_range(w, &a, p->lo, p->lo + 1, prange_accept, p, &p->err[i]);
	for (int i = 0; i < 3; i++)
		fe_listener_close(l[i]);
	return 0;
}

static void test_listen_range_full(void **state)
{
	(void)state;
	struct prange p = { 0 };
	p.lo = free_pair();
	assert_true(p.lo);
	struct fe_engine *e = start(1, prange_full_init, &p);
	finish(e, NULL);
	assert_int_equal(p.err[0], 0);
	assert_int_equal(p.err[1], 0);
	assert_int_equal(p.err[2], -EADDRINUSE);
}

/* ---- a segmented burst from a peer arrives as separate datagrams -------- */

enum { GRO_COUNT = 40, GRO_SEG = 1000 };

struct gro {
	uint16_t port;
	atomic_int received, bad;
};

static void gro_cb(struct fe_udp *s, const struct fe_datagram *d, void *arg)
{
	struct gro *g = arg;
	(void)s;
	int i = atomic_load(&g->received);
	size_t want = i == GRO_COUNT - 1 ? GRO_SEG / 2 : GRO_SEG;
	if (d->len != want || d->data[0] != (uint8_t)i || d->data[d->len - 1] != (uint8_t)i)
		atomic_fetch_add(&g->bad, 1);
	atomic_fetch_add(&g->received, 1);
}

static int gro_init(struct fe_worker *w, void *arg)
{
	struct gro *g = arg;
	struct fe_udp_opts o = { .bind = loopback(g->port) };
	int err;
	return fe_udp_open(w, &o, gro_cb, g, &err) ? 0 : 2;
}

static void test_udp_gro_receive(void **state)
{
	(void)state;
	struct gro g = { .port = free_port(SOCK_DGRAM) };
	struct fe_engine *e = start(1, gro_init, &g);
	static uint8_t buf[GRO_COUNT * GRO_SEG];
	for (int i = 0; i < GRO_COUNT; i++)
		memset(buf + i * GRO_SEG, i, GRO_SEG);
	/* One sendmsg, UDP_SEGMENT: the kernel hands it to a UDP_GRO socket
	 * whole, and the engine must split it. The last is shorter. */
	struct sockaddr_storage dst = loopback(g.port);
	struct iovec iov = { buf, (GRO_COUNT - 1) * GRO_SEG + GRO_SEG / 2 };
	union { char b[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr a; } ctl;
	struct msghdr m = { .msg_name = &dst, .msg_namelen = sizeof(struct sockaddr_in),
			    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	uint16_t seg = GRO_SEG;
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(sendmsg(fd, &m, 0) > 0);
	close(fd);
	bool done = wait_until(&g.received, GRO_COUNT, 10);
	struct fe_stats st;
	finish(e, &st);
	assert_true(done);
	assert_int_equal(atomic_load(&g.bad), 0);
	assert_int_equal(st.udp_rx, GRO_COUNT);
}

/* ---- a path that refuses segmentation ------------------------------------ */

/* In the private namespace the multicast test made: with lo's MTU at 1000,
 * a 1200-byte segment is refused (EINVAL); the run must go again one
 * datagram at a time (fragmented by IP) and arrive whole. */
static void test_udp_segment_fallback(void **state)
{
	(void)state;
	if (geteuid() != 0 || system("ip link set lo mtu 1000") != 0) {
		print_message("needs root in a private network namespace\n");
		return;
	}
	struct gso g;
	int fd[2] = { bound_receiver(&g.a), bound_receiver(&g.b) };
	struct fe_engine *e = start(1, gso_init, &g);
	static uint8_t buf[4096];
	uint8_t seen[GSO_TOTAL] = { 0 };
	int got = 0;
	/* Runs resent after the refusal may pass datagrams sent alone, so
	 * check each by its content, not its place. Both receivers are read
	 * as datagrams come (one left unread while the other is drained could
	 * overflow its buffer: fragmented datagrams cost more than their
	 * size), until all are in or 10 s pass. */
	struct pollfd pf[2] = { { .fd = fd[0], .events = POLLIN },
				{ .fd = fd[1], .events = POLLIN } };
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < GSO_TOTAL) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = 10000 - ((now.tv_sec - t0.tv_sec) * 1000 +
				     (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(pf, 2, (int)left) <= 0)
			break;
		for (int r = 0; r < 2; r++) {
			if (!(pf[r].revents & POLLIN))
				continue;
			ssize_t n = recv(fd[r], buf, sizeof(buf), MSG_DONTWAIT);
			if (n <= 0)
				continue;
			int i = buf[0];
			assert_true(i < GSO_TOTAL);
			assert_int_equal((size_t)n, gso_len(i));
			assert_int_equal(buf[n - 1], (uint8_t)i);
			assert_int_equal((i / 10) % 2, r);
			assert_false(seen[i]);
			seen[i] = 1;
			got++;
		}
	}
	struct fe_stats st;
	finish(e, &st);
	close(fd[0]);
	close(fd[1]);
	system("ip link set lo mtu 65536");
	assert_int_equal(got, GSO_TOTAL);
	assert_int_equal(st.udp_tx, GSO_TOTAL);
}

int main(void)
{
	fb_log_open(NULL, LOG_LVL_WARN, 0, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_echo_volume),
		cmocka_unit_test(test_udp_burst_batched),
		cmocka_unit_test(test_udp_segmented_sends),
		cmocka_unit_test(test_udp_gro_receive),
		cmocka_unit_test(test_tcp_many),
		cmocka_unit_test(test_tcp_send_limit),
		cmocka_unit_test(test_tcp_pause_resume),
		cmocka_unit_test(test_tcp_pause_close_behind_held),
		cmocka_unit_test(test_tcp_paused_many),
		cmocka_unit_test(test_slow_turns_counted),
		cmocka_unit_test(test_port_owned),
		cmocka_unit_test(test_turn_end_hooks),
		cmocka_unit_test(test_emfile_backoff),
		cmocka_unit_test(test_mail_to_stopping_worker),
		cmocka_unit_test(test_timers_in_order),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_start_failure),
		cmocka_unit_test(test_listen_range),
		cmocka_unit_test(test_listen_range_full),
		cmocka_unit_test(test_multicast_once),   /* enters a netns */
		cmocka_unit_test(test_udp_segment_fallback),  /* in that netns */
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	fb_log_close();
	return r;
}
