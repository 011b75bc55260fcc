/* test_engine_splice.c — the engine's additions for FTP on real rings:
 * zero-copy sendfile and recvfile over connections, outbound connects,
 * aborting a transfer, and handing a connection (with bytes that arrived
 * meanwhile) to another worker by detach, mail and adopt. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ferry/engine.h"
#include "ferry/base.h"
#include "engine_testlib.h"

enum { FILE_BYTES = 5 << 20 };

static int temp_file(const uint8_t *data, size_t len)
{
	char name[] = "/tmp/ferry-splice-XXXXXX";
	int fd = mkstemp(name);
	assert_true(fd >= 0);
	unlink(name);
	if (len)
		assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

struct fx {
	int file_fd;
	bool recv;            /* recvfile instead of sendfile */
	bool paused;          /* receiving, then paused, before the sendfile */
	uint64_t offset;
	atomic_int done;
	atomic_int port;
	int err;
	uint64_t bytes;
};

static void noop_data(struct fe_conn *c, const uint8_t *d, size_t n, void *a)
{
	(void)c, (void)d, (void)n, (void)a;
}
static void noop_close(struct fe_conn *c, int e, void *a) { (void)c, (void)e, (void)a; }
static const struct fe_conn_ops noop_ops = { .on_data = noop_data, .on_close = noop_close };

static void xfer_done(struct fe_conn *c, int err, uint64_t bytes, void *arg)
{
	struct fx *t = arg;
	t->err = err;
	t->bytes = bytes;
	fe_conn_close(c);
	atomic_store(&t->done, 1);
}

static void fx_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	struct fx *t = arg;
	int err;
	if (t->paused) {             /* as a kTLS download: input paused */
		fe_conn_start(c, &noop_ops, t);
		fe_conn_pause(c);
	} else {
		fe_conn_hold(c, &noop_ops, t);
	}
	struct fe_xfer *x = t->recv
		? fe_conn_recvfile(c, t->file_fd, t->offset, xfer_done, t, &err)
		: fe_conn_sendfile(c, t->file_fd, t->offset, UINT64_MAX, xfer_done, t, &err);
	assert_non_null(x);
	fe_listener_close(l);
}

/* Listens on loopback at a port the kernel picks and stores that port;
 * a worker_init's result: 0, or 2 when it cannot. */
static int listen_any(struct fe_worker *w, fe_accept_cb *cb, void *arg, atomic_int *port)
{
	struct sockaddr_storage a = loopback(0), bound;
	int err;
	struct fe_listener *l = fe_tcp_listen(w, &a, false, cb, arg, &err);
	if (!l || fe_listener_local(l, &bound))
		return 2;
	atomic_store(port, ntohs(((struct sockaddr_in *)&bound)->sin_port));
	return 0;
}

static int fx_init(struct fe_worker *w, void *arg)
{
	struct fx *t = arg;
	return listen_any(w, fx_accept, t, &t->port);
}

static int dial(int port)
{
	struct sockaddr_storage a = loopback((uint16_t)port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in)), 0);
	return fd;
}

static struct fe_engine *start(unsigned n, int (*init)(struct fe_worker *, void *), void *arg)
{
	struct fe_engine_opts o = { .workers = n, .worker_init = init, .arg = arg };
	struct fe_engine *e = fe_engine_create(&o);
	assert_non_null(e);
	assert_int_equal(fe_engine_start(e), 0);
	return e;
}

static void finish(struct fe_engine *e)
{
	fe_engine_stop(e);
	fe_engine_wait(e);
	fe_engine_destroy(e);
}

/* Reads fd until the peer closes; the bytes read (at most cap). */
static size_t read_all(int fd, uint8_t *buf, size_t cap)
{
	size_t have = 0;
	ssize_t n;
	while ((n = read(fd, buf + have, cap - have)) > 0)
		have += (size_t)n;
	return have;
}

/* Serves a 5 MiB file from offset by sendfile and checks that every byte
 * from there arrives. paused: the receiving connection is paused first (as
 * ftp's kTLS downloads are) and the peer has sent bytes meanwhile, which
 * wait unread while the file goes out. */
static void check_sendfile(uint64_t offset, bool paused)
{
	uint8_t *data = malloc(FILE_BYTES), *got = malloc(FILE_BYTES);
	for (size_t i = 0; i < FILE_BYTES; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 13));
	struct fx t = { .file_fd = temp_file(data, FILE_BYTES), .offset = offset,
			.paused = paused };
	struct fe_engine *e = start(1, fx_init, &t);
	int fd = dial(atomic_load(&t.port));
	if (paused)
		assert_int_equal(write(fd, "unread", 6), 6);
	size_t have = read_all(fd, got, FILE_BYTES);
	assert_true(wait_until(&t.done, 1, 10));
	assert_int_equal(t.err, 0);
	assert_int_equal(have, FILE_BYTES - offset);
	assert_true(t.bytes == FILE_BYTES - offset);
	assert_memory_equal(got, data + offset, have);
	close(fd);
	finish(e);
	close(t.file_fd);
	free(data);
	free(got);
}

static void test_sendfile(void **state)
{
	(void)state;
	check_sendfile(1000, false);
}

/* A receiving connection that was paused may send a file (ftp's kTLS
 * downloads do): what the peer sends meanwhile waits, the file arrives. */
static void test_sendfile_paused(void **state)
{
	(void)state;
	check_sendfile(0, true);
}

/* fe_conn_send_owned queues a buffer it takes (in order with copied
 * sends); kTLS calls on this kernel: the probe's verdict, and a refused
 * TLS_TX leaves the connection as it was. */
struct own_test {
	atomic_int port, done;
	int tx;                 /* fe_conn_ktls_tx's result */
	int alert;              /* fe_conn_ktls_alert's on a plain connection */
	int owned;
};

static void own_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	struct own_test *t = arg;
	fe_conn_hold(c, &noop_ops, t);
	uint8_t info[56] = { 0x03, 0x03, 51 };   /* TLS 1.2, AES-128-GCM, zero key */
	t->tx = fe_conn_ktls_tx(c, info, 40);
	t->alert = fe_conn_ktls(c) ? 0 : fe_conn_ktls_alert(c, 1, 0);
	char *p = malloc(4096);
	assert_non_null(p);
	memcpy(p, "owned bytes", 11);
	t->owned = fe_conn_send_owned(c, p, 11, 4096);
	assert_int_equal(fe_conn_send(c, "+copied", 7), 0);
	fe_conn_close(c);
	fe_listener_close(l);
	atomic_store(&t->done, 1);
}

static int own_init(struct fe_worker *w, void *arg)
{
	struct own_test *t = arg;
	return listen_any(w, own_accept, t, &t->port);
}

static void test_send_owned_and_ktls(void **state)
{
	(void)state;
	char why[128];
	unsigned rx = 0, mask = fe_ktls_probe(why, sizeof(why), &rx);
	if (!mask)
		assert_true(why[0] != '\0');        /* says why not */
	assert_int_equal(rx & ~mask, 0);        /* receiving only where sending works */
	struct own_test t = { 0 };
	struct fe_engine *e = start(1, own_init, &t);
	int fd = dial(atomic_load(&t.port));
	uint8_t got[64];
	size_t have = read_all(fd, got, sizeof(got));
	assert_true(wait_until(&t.done, 1, 10));
	assert_int_equal(t.owned, 0);
	if (t.tx < 0) {                           /* no kTLS: plain bytes, in order */
		assert_int_equal(t.alert, -EINVAL);
		assert_int_equal(have, 18);
		assert_memory_equal(got, "owned bytes+copied", 18);
	} else {
		assert_true(mask & FE_KTLS_TLS12_AES128);
	}
	close(fd);
	finish(e);
}

static void test_recvfile(void **state)
{
	(void)state;
	uint8_t *data = malloc(FILE_BYTES), *got = malloc(FILE_BYTES);
	for (size_t i = 0; i < FILE_BYTES; i++)
		data[i] = (uint8_t)(i * 13 + 1);
	struct fx t = { .file_fd = temp_file(NULL, 0), .recv = true, .offset = 10 };
	struct fe_engine *e = start(1, fx_init, &t);
	int fd = dial(atomic_load(&t.port));
	for (size_t o = 0; o < FILE_BYTES;) {
		ssize_t w = write(fd, data + o, FILE_BYTES - o);
		assert_true(w > 0);
		o += (size_t)w;
	}
	shutdown(fd, SHUT_WR);
	assert_true(wait_until(&t.done, 1, 10));
	assert_int_equal(t.err, 0);
	assert_true(t.bytes == FILE_BYTES);
	assert_int_equal(pread(t.file_fd, got, FILE_BYTES, 10), FILE_BYTES);
	assert_memory_equal(got, data, FILE_BYTES);
	close(fd);
	finish(e);
	close(t.file_fd);
	free(data);
	free(got);
}

/* ---- connect, then abort a transfer nobody reads ---------------------------- */

struct conn_test {
	int port;
	int file_fd;
	atomic_int connected, aborted;
	int err;
};

static void stop_it(struct fe_worker *w, void *arg)
{
	struct fe_xfer *x = arg;
	(void)w;
	fe_xfer_abort(x);
}

static struct conn_test *ct_global;

static void never(struct fe_conn *c, int err, uint64_t bytes, void *arg)
{
	(void)c, (void)err, (void)bytes, (void)arg;
	fail_msg("an aborted transfer's callback ran");
}

static void connected(struct fe_conn *c, int err, void *arg)
{
	struct conn_test *t = arg;
	t->err = err;
	if (!c)
		return;
	fe_conn_hold(c, &noop_ops, t);
	int e2;
	struct fe_xfer *x = fe_conn_sendfile(c, t->file_fd, 0, UINT64_MAX, never, t, &e2);
	assert_non_null(x);
	atomic_store(&t->connected, 1);
	fe_timer_add(fe_conn_worker(c), 200, stop_it, x);
	ct_global = t;
}

static int connect_init(struct fe_worker *w, void *arg)
{
	struct conn_test *t = arg;
	struct sockaddr_storage to = loopback((uint16_t)t->port), from = loopback(0);
	int err;
	return fe_tcp_connect(w, &to, &from, connected, t, &err) ? 0 : 2;
}

static void test_connect_and_abort(void **state)
{
	(void)state;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage a = loopback(0);
	socklen_t len = sizeof(struct sockaddr_in);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, len), 0);
	listen(lfd, 4);
	getsockname(lfd, (struct sockaddr *)&a, &len);
	uint8_t *big = calloc(1, 64 << 20);
	struct conn_test t = { .port = ntohs(((struct sockaddr_in *)&a)->sin_port),
			       .file_fd = temp_file(big, 64 << 20) };
	free(big);
	struct fe_engine *e = start(1, connect_init, &t);
	int fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	assert_true(wait_until(&t.connected, 1, 10));
	char buf[4096];
	assert_true(read(fd, buf, sizeof(buf)) > 0);   /* data flows, nobody reads on */
	usleep(500 * 1000);                            /* the abort timer fires */
	ssize_t n;
	size_t total = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	assert_true(total < (64u << 20));             /* cut short, then closed */
	close(fd);
	close(lfd);
	finish(e);
	close(t.file_fd);
	/* connecting to a closed port reports the error */
	struct conn_test t2 = { .port = t.port };
	e = start(1, connect_init, &t2);
	usleep(300 * 1000);
	finish(e);
	assert_int_equal(t2.err, -ECONNREFUSED);
}

/* ---- detach on worker A, adopt on worker B -------------------------------- */

struct handoff {
	atomic_int port, adopted_on, got;
	char seen[64];
	size_t seen_len;
	struct fe_engine *e;
};

struct parcel {
	int fd;
	size_t len;
	uint8_t extra[64];
	struct handoff *h;
};

static void adopted_data(struct fe_conn *c, const uint8_t *d, size_t n, void *arg)
{
	struct handoff *h = arg;
	(void)c;
	if (h->seen_len + n <= sizeof(h->seen)) {
		memcpy(h->seen + h->seen_len, d, n);
		h->seen_len += n;
	}
	if (memchr(d, '!', n))
		fe_conn_send(c, "bye\n", 4);
	atomic_store(&h->got, (int)h->seen_len);
}

static const struct fe_conn_ops adopted_ops = { .on_data = adopted_data, .on_close = noop_close };

static void arrive(struct fe_worker *w, void *arg)
{
	struct parcel *p = arg;
	struct fe_conn *c = fe_conn_adopt(w, p->fd);
	assert_non_null(c);
	if (p->len)
		memcpy(p->h->seen, p->extra, p->len);
	p->h->seen_len = p->len;
	fe_conn_start(c, &adopted_ops, p->h);
	atomic_store(&p->h->adopted_on, (int)fe_worker_index(w) + 1);
	free(p);
}

static void detached(struct fe_worker *w, int fd, const uint8_t *extra, size_t len, void *arg)
{
	struct handoff *h = arg;
	struct parcel *p = calloc(1, sizeof(*p));
	p->fd = fd;
	p->h = h;
	p->len = len < sizeof(p->extra) ? len : sizeof(p->extra);
	if (p->len)
		memcpy(p->extra, extra, p->len);
	assert_int_equal(fe_mail_post(w, 1 - fe_worker_index(w), arrive, p), 0);
}

static void first_data(struct fe_conn *c, const uint8_t *d, size_t n, void *arg)
{
	(void)d, (void)n;
	fe_conn_send(c, "200 DATA\r\n", 10);
	fe_conn_detach(c, detached, arg);
}

static const struct fe_conn_ops first_ops = { .on_data = first_data, .on_close = noop_close };

static void h_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	(void)l;
	fe_conn_start(c, &first_ops, arg);
}

static int h_init(struct fe_worker *w, void *arg)
{
	struct handoff *h = arg;
	if (fe_worker_index(w) != 0)
		return 0;
	return listen_any(w, h_accept, h, &h->port);
}

static void test_detach_adopt(void **state)
{
	(void)state;
	struct handoff h = { 0 };
	struct fe_engine *e = start(2, h_init, &h);
	int fd = dial(atomic_load(&h.port));
	assert_int_equal(write(fd, "PASS x\r\n", 8), 8);
	char buf[64] = { 0 };
	size_t have = 0;
	while (have < 10) {
		ssize_t n = read(fd, buf + have, 10 - have);
		assert_true(n > 0);
		have += (size_t)n;
	}
	assert_string_equal(buf, "200 DATA\r\n");     /* sent before the hand-off */
	assert_int_equal(write(fd, "early", 5), 5);    /* may land before adoption */
	assert_true(wait_until(&h.adopted_on, 1, 10));
	assert_int_equal(atomic_load(&h.adopted_on), 2);   /* worker 1 */
	assert_int_equal(write(fd, "late!", 5), 5);
	assert_true(wait_until(&h.got, 10, 10));
	assert_int_equal(h.seen_len, 10);
	assert_memory_equal(h.seen, "earlylate!", 10);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read(fd, buf, 4), 4);          /* the adopted conn sends */
	assert_string_equal(buf, "bye\n");
	close(fd);
	finish(e);
}

int main(void)
{
	fb_log_open(NULL, LOG_LVL_WARN, 0, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sendfile),
		cmocka_unit_test(test_sendfile_paused),
		cmocka_unit_test(test_send_owned_and_ktls),
		cmocka_unit_test(test_recvfile),
		cmocka_unit_test(test_connect_and_abort),
		cmocka_unit_test(test_detach_adopt),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	fb_log_close();
	return r;
}
