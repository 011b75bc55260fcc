/* test_serverlist.c — -S on a response proxy, in a network namespace of its
 * own: an unlisted server and a non-SSM private address are refused with
 * an ABORT upstream; a listed server with a 232/8 address is served; an
 * encrypted ANNOUNCE is checked against the listed key fingerprint. */
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ferry/config.h"
#include "ferry/crypto.h"
#include "ferry/engine.h"
#include "ferry/log.h"
#include "ferry/proxy.h"
#include "ferry/uftp_msg.h"
#include "rig.h"

/* Server 0x2 is listed with the fingerprint of listed_key. */
static struct crypto_key *listed_key, *other_key;

struct rig {
	struct ferry_config cfg;
	struct proxy_shared *sh;
	struct fe_engine *e;
	uint16_t port;
	int up, client;
	char list[64];
};

static void rig_up(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->list, "/tmp/ferry-slist-XXXXXX");
	int fd = mkstemp(r->list);
	assert_true(fd >= 0);
	uint8_t fp[CRYPTO_FP_LEN];
	char fps[CRYPTO_FP_STR];
	assert_int_equal(crypto_key_fingerprint(listed_key, fp), 0);
	crypto_fingerprint_str(fp, fps);
	dprintf(fd, "0x00000001|127.0.0.1\n0x00000002|127.0.0.1|%s\n", fps);
	close(fd);
	r->port = rig_free_port();
	config_init(&r->cfg);
	r->cfg.proxies = calloc(1, sizeof(*r->cfg.proxies));
	r->cfg.proxy_count = 1;
	r->cfg.proxies[0] = (struct proxy_config){
		.name = strdup("rp"), .role = PROXY_RESPONSE, .port = r->port,
		.dest_port = r->port, .ttl = 1, .uid = 0x301, .uid_set = true,
		.udp_buf_size = 262144, .server_list = strdup(r->list) };
	struct fe_engine_opts o = { .workers = 1, .worker_init = rig_worker_init,
				    .worker_fini = rig_worker_fini, .arg = &r->sh };
	r->e = fe_engine_create(&o);
	assert_int_equal(proxy_shared_new(&r->cfg, 1, &r->sh), 0);
	assert_int_equal(fe_engine_start(r->e), 0);
	r->up = rig_udp_socket(NULL);
	r->client = rig_udp_socket(NULL);
	assert_true(r->up >= 0 && r->client >= 0);
}

static void rig_down(struct rig *r)
{
	fe_engine_stop(r->e);
	fe_engine_destroy(r->e);
	proxy_shared_free(r->sh);
	config_free(&r->cfg);
	close(r->up);
	close(r->client);
	unlink(r->list);
}

static void send_msg(struct rig *r, int fd, struct uftp_msg *m)
{
	uint8_t buf[512];
	long n = uftp_encode(buf, sizeof(buf), m);
	assert_true(n > 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(r->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&a, sizeof(a)), n);
}

static void announce(struct rig *r, uint32_t server, uint32_t group, const char *priv)
{
	static uint8_t pub[4], prv[4];
	inet_pton(AF_INET, "232.1.1.1", pub);
	inet_pton(AF_INET, priv, prv);
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_ANNOUNCE,
				       .src_id = server, .group_id = group, .grtt = 127 } };
	m.u.announce = (struct uftp_announce){ .robust = 5, .blocksize = 1300,
		.pub_addr = { pub, 4 }, .priv_addr = { prv, 4 } };
	send_msg(r, r->up, &m);
}

/* An ANNOUNCE with EXT_ENC_INFO carrying key's blob. */
static void announce_encrypted(struct rig *r, uint32_t server, uint32_t group,
			       const struct crypto_key *key)
{
	static uint8_t pub[4], prv[4], rand1[UFTP_RAND_LEN], blob[CRYPTO_BLOB_MAX];
	inet_pton(AF_INET, "232.1.1.1", pub);
	inet_pton(AF_INET, "232.1.1.3", prv);
	long n = crypto_key_blob(key, blob, sizeof(blob));
	assert_true(n > 0);
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_ANNOUNCE,
				       .src_id = server, .group_id = group, .grtt = 127 } };
	m.u.announce = (struct uftp_announce){ .robust = 5, .blocksize = 1300,
		.pub_addr = { pub, 4 }, .priv_addr = { prv, 4 } };
	m.u.announce.ext.present = 1u << UFTP_EXT_ENC_INFO;
	m.u.announce.ext.enc_info = (struct uftp_enc_info){
		.keyextype = UFTP_KEYEX_RSA, .sigtype = UFTP_SIG_HMAC,
		.keytype = UFTP_KEY_AES256_CBC, .hashtype = UFTP_HASH_SHA256,
		.rand1 = { rand1, sizeof(rand1) }, .keyblob = { blob, (size_t)n } };
	send_msg(r, r->up, &m);
}

/* The next message at the fake server, decoded; false after timeout. */
static bool next_up(struct rig *r, uint8_t *buf, size_t cap, struct uftp_msg *m)
{
	struct pollfd p = { .fd = r->up, .events = POLLIN };
	if (poll(&p, 1, 1500) <= 0)
		return false;
	ssize_t n = recv(r->up, buf, cap, 0);
	struct rcur c;
	rcur_init(&c, buf, (size_t)n);
	return n > 0 && uftp_decode(&c, m) == UFTP_OK;
}

static void expect_abort(struct rig *r, const char *text)
{
	uint8_t buf[1024];
	struct uftp_msg m;
	assert_true(next_up(r, buf, sizeof(buf), &m));
	assert_int_equal(m.hdr.func, UFTP_ABORT);
	assert_int_equal(m.hdr.src_id, 0x301);
	assert_int_equal(m.u.abort.host, 0);
	assert_int_equal(m.u.abort.text.len, strlen(text));
	assert_memory_equal(m.u.abort.text.p, text, strlen(text));
}

static void test_unlisted_server_refused(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	announce(&r, 0x9, 0x100, "232.1.1.2");
	expect_abort(&r, "server not in server list");
	rig_down(&r);
}

static void test_non_ssm_private_refused(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	announce(&r, 0x1, 0x200, "239.1.1.2");
	expect_abort(&r, "Invalid source specific multicast address");
	rig_down(&r);
}

static void test_listed_server_served(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	announce(&r, 0x1, 0x300, "232.1.1.2");
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_REGISTER,
				       .src_id = 0xC1, .group_id = 0x300 } };
	usleep(20000);
	send_msg(&r, r.client, &m);
	uint8_t buf[1024];
	struct uftp_msg got;
	assert_true(next_up(&r, buf, sizeof(buf), &got));
	assert_int_equal(got.hdr.func, UFTP_REGISTER);
	assert_int_equal(got.u.reg.uids.count, 1);
	assert_int_equal(uftp_uid_at(&got.u.reg.uids, 0), 0xC1);
	/* The private group was joined for that server only (SSM). */
	FILE *f = fopen("/proc/net/mcfilter", "r");
	char line[256];
	bool ssm = false;
	while (f && fgets(line, sizeof(line), f))
		ssm |= strstr(line, "0xe8010102") && strstr(line, "0x7f000001");
	if (f)
		fclose(f);
	assert_true(ssm);
	rig_down(&r);
}

/* -S fingerprints are checked against the key in the ANNOUNCE before the
 * (still unsupported) encrypted session is refused. */
static void test_server_key_fingerprint(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	announce_encrypted(&r, 0x2, 0x400, other_key);
	expect_abort(&r, "server key fingerprint does not match the server list");
	announce_encrypted(&r, 0x2, 0x401, listed_key);
	expect_abort(&r, "encrypted sessions are not supported by this proxy yet");
	rig_down(&r);
}

/* A loopback with multicast on, so joins behave the same everywhere. */
static int private_netns(void **state)
{
	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return -1;
	return system("ip link set lo up && ip link set lo multicast on && "
		      "ip route add 224.0.0.0/4 dev lo") == 0 ? 0 : -1;
}

int main(void)
{
	log_open(NULL, LOG_LVL_ERR, 0, 0);
	if (private_netns(NULL) < 0) {
		printf("skip: needs root for a private network namespace\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlisted_server_refused),
		cmocka_unit_test(test_non_ssm_private_refused),
		cmocka_unit_test(test_listed_server_served),
		cmocka_unit_test(test_server_key_fingerprint),
	};
	char why[CRYPTO_ERR_LEN];
	struct crypto_rng *rng = crypto_rng_new();
	listed_key = rng ? crypto_key_generate(rng, "rsa:512", why) : NULL;
	other_key = rng ? crypto_key_generate(rng, "rsa:512", why) : NULL;
	crypto_rng_free(rng);
	if (!listed_key || !other_key)
		return 1;
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	crypto_key_free(listed_key);
	crypto_key_free(other_key);
	log_close();
	return rc;
}
