/* test_aggregate.c — a real client-proxy instance on a real engine, driven
 * over loopback by a fake upstream and fake clients: REGISTERs merged with
 * the longest-RTT client first, STATUS bitmaps OR-ed, COMPLETEs split by
 * status, a full list sent at once, strangers and garbage dropped. */
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ferry/daemon.h"
#include "ferry/engine.h"
#include "ferry/base.h"
#include "ferry/proxy.h"
#include "rig.h"

enum { GRTT_Q = 127,        /* about 53 ms */
       SLOW_GRTT_Q = 166 };  /* about 1.06 s */

struct rig {
	struct ferry_config cfg;
	struct proxy_shared *sh;
	struct fe_engine *e;
	uint16_t port;
	int up;              /* the fake server proxy */
	int cl[4];           /* fake clients */
};

static void rig_up(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	daemon_config_init(&r->cfg);
	r->cfg.proxies = calloc(1, sizeof(*r->cfg.proxies));
	r->cfg.proxy_count = 1;
	struct proxy_config *pc = &r->cfg.proxies[0];
	r->port = rig_free_port();
	*pc = (struct proxy_config){ .name = strdup("cp"), .role = PROXY_CLIENT,
				     .port = r->port, .dest_port = rig_free_port(),
				     .ttl = 1, .uid = 0x201, .uid_set = true,
				     .udp_buf_size = 262144 };
	struct fe_engine_opts o = { .workers = 2, .worker_init = rig_worker_init,
				    .worker_fini = rig_worker_fini, .arg = &r->sh };
	r->e = fe_engine_create(&o);
	assert_int_equal(proxy_shared_new(&r->cfg, 2, &r->sh), 0);
	assert_int_equal(fe_engine_start(r->e), 0);
	r->up = rig_udp_socket(NULL);
	for (int i = 0; i < 4; i++)
		r->cl[i] = rig_udp_socket(NULL);
	assert_true(r->up >= 0 && r->cl[3] >= 0);
}

static void rig_down(struct rig *r)
{
	fe_engine_stop(r->e);
	fe_engine_destroy(r->e);
	proxy_shared_free(r->sh);
	daemon_config_free(&r->cfg);
	close(r->up);
	for (int i = 0; i < 4; i++)
		close(r->cl[i]);
}

/* ---- message bytes -------------------------------------------------------- */

static size_t put_header_grtt(uint8_t *b, uint8_t func, uint32_t src,
			      uint32_t group, uint8_t grtt)
{
	b[0] = 0x40;
	b[1] = func;
	b[2] = b[3] = 0;
	uint32_t s = htonl(src), g = htonl(group);
	memcpy(b + 4, &s, 4);
	memcpy(b + 8, &g, 4);
	b[12] = 0;
	b[13] = grtt;
	b[14] = b[15] = 0;
	return 16;
}

static size_t put_header(uint8_t *b, uint8_t func, uint32_t src, uint32_t group)
{
	return put_header_grtt(b, func, src, group, GRTT_Q);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { uint32_t n = htonl(v); memcpy(p, &n, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t n; memcpy(&n, p, 4); return ntohl(n); }

static void send_to_proxy(struct rig *r, int fd, const uint8_t *b, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(r->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(sendto(fd, b, len, 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)len);
}

static void announce_grtt(struct rig *r, uint32_t group, uint16_t blocksize,
			  uint8_t grtt)
{
	uint8_t b[64] = { 0 };
	size_t n = put_header_grtt(b, 1, 0x1, group, grtt);
	uint8_t *m = b + n;
	m[0] = 1;
	m[1] = 6;          /* 24 bytes: fixed part and two IPv4 addresses */
	m[3] = 5;          /* robust */
	put16(m + 6, blocksize);
	put32(m + 16, 0xEF090901);   /* 239.9.9.1 */
	put32(m + 20, 0xEF090902);
	send_to_proxy(r, r->up, b, n + 24);
}

static void announce(struct rig *r, uint32_t group, uint16_t blocksize)
{
	announce_grtt(r, group, blocksize, GRTT_Q);
}

static struct timeval now_tv(void)
{
	struct timeval t;
	gettimeofday(&t, NULL);
	return t;
}

static void reg(struct rig *r, int fd, uint32_t client, uint32_t group, long ago_ms)
{
	uint8_t b[80] = { 0 };
	size_t n = put_header(b, 2, client, group);
	struct timeval t = now_tv();
	long us = t.tv_usec - ago_ms * 1000;
	long sec = t.tv_sec;
	while (us < 0) { us += 1000000; sec--; }
	b[n] = 2;
	b[n + 1] = 11;
	put32(b + n + 4, (uint32_t)sec);
	put32(b + n + 8, (uint32_t)us);
	send_to_proxy(r, fd, b, n + 44);
}

static void status(struct rig *r, int fd, uint32_t client, uint32_t group,
		   uint8_t first_byte)
{
	uint8_t b[16 + 8 + 4] = { 0 };
	size_t n = put_header(b, 11, client, group);
	b[n] = 11;
	b[n + 1] = 2;
	put16(b + n + 2, 1);     /* file 1 */
	put16(b + n + 4, 0);     /* section 0 */
	b[n + 8] = first_byte;
	send_to_proxy(r, fd, b, sizeof(b));
}

static void complete(struct rig *r, int fd, uint32_t client, uint32_t group, uint8_t st)
{
	uint8_t b[24] = { 0 };
	size_t n = put_header(b, 12, client, group);
	b[n] = 12;
	b[n + 1] = 2;
	put16(b + n + 2, 1);
	b[n + 4] = st;
	send_to_proxy(r, fd, b, sizeof(b));
}

/* Next datagram at the fake upstream, or 0 bytes after timeout_ms. */
static ssize_t recv_up(struct rig *r, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = { .fd = r->up, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	return recv(r->up, buf, cap, 0);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_register_longest_rtt_first(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	/* A GRTT of about 1 s, so that on a loaded machine the three
	 * REGISTERs (on two workers) surely fall in the first aggregate's
	 * window; with 53 ms one was once left for the second. */
	announce_grtt(&r, 0x11223344, 1300, SLOW_GRTT_Q);
	usleep(20000);
	reg(&r, r.cl[0], 0xA1, 0x11223344, 10);
	reg(&r, r.cl[1], 0xA2, 0x11223344, 300);   /* slowest */
	reg(&r, r.cl[2], 0xA3, 0x11223344, 50);
	reg(&r, r.cl[0], 0xA1, 0x11223344, 10);    /* a repeat is not listed twice */
	uint8_t b[2048];
	ssize_t n = recv_up(&r, b, sizeof(b), 5000);
	assert_int_equal(n, 16 + 44 + 3 * 4);
	assert_int_equal(b[1], 2);
	assert_int_equal(get32(b + 4), 0x201);         /* the proxy's own ID */
	assert_int_equal(get32(b + 8), 0x11223344);
	assert_int_equal(b[16], 2);
	assert_int_equal(b[17], 11);
	assert_int_equal(get32(b + 60), 0xA2);         /* longest RTT first */
	uint32_t others = get32(b + 64) ^ get32(b + 68);
	assert_int_equal(others, 0xA1 ^ 0xA3);
	/* The echoed timestamp is A2's, moved on by its wait: about 300 ms old. */
	struct timeval t = now_tv();
	double age = (double)t.tv_sec + t.tv_usec / 1e6 -
		     ((double)get32(b + 20) + get32(b + 24) / 1e6);
	assert_true(age > 0.25 && age < 0.45);
	assert_int_equal(recv_up(&r, b, sizeof(b), 300), 0);   /* only one */
	rig_down(&r);
}

static void test_status_merged_and_complete_split(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	announce(&r, 0x55, 1300);
	usleep(20000);
	for (int i = 0; i < 3; i++)
		reg(&r, r.cl[i], 0xB1 + (uint32_t)i, 0x55, 5);
	uint8_t b[2048];
	assert_true(recv_up(&r, b, sizeof(b), 2000) > 0);        /* REGISTER */
	status(&r, r.cl[0], 0xB1, 0x55, 0x01);
	status(&r, r.cl[1], 0xB2, 0x55, 0x80);
	status(&r, r.cl[3], 0xBEEF, 0x55, 0x7E);    /* never registered: ignored */
	ssize_t n = recv_up(&r, b, sizeof(b), 2000);
	assert_int_equal(n, 16 + 8 + 1300);          /* a whole section bitmap */
	assert_int_equal(b[1], 11);
	assert_int_equal(b[24], 0x81);
	for (ssize_t i = 25; i < n; i++)
		assert_int_equal(b[i], 0);
	complete(&r, r.cl[0], 0xB1, 0x55, 0);
	complete(&r, r.cl[1], 0xB2, 0x55, 0);
	complete(&r, r.cl[2], 0xB3, 0x55, 1);        /* skipped: its own message */
	int seen_normal = 0, seen_skipped = 0;
	for (int k = 0; k < 2; k++) {
		n = recv_up(&r, b, sizeof(b), 2000);
		assert_true(n > 0);
		assert_int_equal(b[1], 12);
		if (b[20] == 0) {
			assert_int_equal(n, 24 + 2 * 4);
			seen_normal++;
		} else {
			assert_int_equal(b[20], 1);
			assert_int_equal(n, 24 + 4);
			assert_int_equal(get32(b + 24), 0xB3);
			seen_skipped++;
		}
	}
	assert_int_equal(seen_normal, 1);
	assert_int_equal(seen_skipped, 1);
	rig_down(&r);
}

static void test_full_list_goes_at_once(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	announce_grtt(&r, 0x66, 8, SLOW_GRTT_Q);     /* room for 2 IDs */
	usleep(20000);
	/* The list fills before a GRTT passes, so it leaves at once. */
	reg(&r, r.cl[0], 0xC1, 0x66, 5);
	reg(&r, r.cl[1], 0xC2, 0x66, 5);
	uint8_t b[256];
	struct timeval t0 = now_tv();
	ssize_t n = recv_up(&r, b, sizeof(b), 2000);
	struct timeval t1 = now_tv();
	assert_int_equal(n, 16 + 44 + 8);
	double waited = (t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) / 1e6;
	assert_true(waited < 0.5);                   /* well before the 1 s GRTT */
	reg(&r, r.cl[2], 0xC3, 0x66, 5);
	n = recv_up(&r, b, sizeof(b), 2000);
	assert_int_equal(n, 16 + 44 + 4);
	assert_int_equal(get32(b + 60), 0xC3);
	rig_down(&r);
}

static double since(struct timeval t0)
{
	struct timeval t = now_tv();
	return (t.tv_sec - t0.tv_sec) + (t.tv_usec - t0.tv_usec) / 1e6;
}

/* After a full list left early and nothing else waits, the next answer is
 * held its own GRTT (not what remained of the first one's); an answer
 * repeated after its aggregate left is listed again. */
static void test_after_full_list_a_fresh_grtt(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	announce_grtt(&r, 0x67, 8, SLOW_GRTT_Q);     /* 2 IDs, GRTT about 1.06 s */
	usleep(20000);
	uint8_t b[256];
	reg(&r, r.cl[0], 0xE1, 0x67, 5);
	usleep(600000);
	reg(&r, r.cl[1], 0xE2, 0x67, 5);             /* full: leaves at once */
	/* Both IDs in one message (E1's timer alone would send 16 + 44 + 4):
	 * up to 1 s to come, for a worker slowed by a loaded machine. */
	assert_int_equal(recv_up(&r, b, sizeof(b), 1000), 16 + 44 + 8);
	struct timeval t0 = now_tv();
	reg(&r, r.cl[2], 0xE3, 0x67, 5);
	assert_int_equal(recv_up(&r, b, sizeof(b), 800), 0);  /* not at E1's GRTT */
	ssize_t n = recv_up(&r, b, sizeof(b), 2000);
	assert_int_equal(n, 16 + 44 + 4);
	assert_int_equal(get32(b + 60), 0xE3);
	assert_true(since(t0) > 0.9);
	reg(&r, r.cl[2], 0xE3, 0x67, 5);             /* a resend after it left */
	n = recv_up(&r, b, sizeof(b), 2000);
	assert_int_equal(n, 16 + 44 + 4);
	assert_int_equal(get32(b + 60), 0xE3);
	rig_down(&r);
}

static void test_garbage_is_dropped(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	static const uint8_t junk[][24] = {
		{ 0x30, 1 },                              /* wrong version */
		{ 0x40, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 2, 200 }, /* hlen past end */
		{ 0x40, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 1, 1 },   /* ANNOUNCE too short */
		{ 0x40, 99 },                             /* unknown type */
		{ 0x40, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 7 },      /* body type differs */
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		send_to_proxy(&r, r.cl[0], junk[i], sizeof(junk[i]));
	send_to_proxy(&r, r.cl[0], junk[0], 3);       /* shorter than a header */
	reg(&r, r.cl[0], 0xD1, 0x77, 5);              /* no such group */
	uint8_t b[256];
	assert_int_equal(recv_up(&r, b, sizeof(b), 300), 0);
	/* and it still works afterwards */
	announce(&r, 0x78, 1300);
	usleep(20000);
	reg(&r, r.cl[0], 0xD1, 0x78, 5);
	assert_true(recv_up(&r, b, sizeof(b), 2000) > 0);
	rig_down(&r);
}

int main(void)
{
	fb_log_open(NULL, LOG_LVL_ERR, 0, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_longest_rtt_first),
		cmocka_unit_test(test_status_merged_and_complete_split),
		cmocka_unit_test(test_full_list_goes_at_once),
		cmocka_unit_test(test_after_full_list_a_fresh_grtt),
		cmocka_unit_test(test_garbage_is_dropped),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	fb_log_close();
	return rc;
}
