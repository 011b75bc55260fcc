/* test_serverlist.c — -S on a response proxy, in a network namespace of its
 * own: an unlisted server and a non-SSM private address are refused with
 * an ABORT upstream; a listed server with a 232/8 address is served; an
 * encrypted ANNOUNCE is checked as uftpproxyd checks it (algorithms, the
 * listed key fingerprint, a matching key of the proxy's own, its ECDH key)
 * and then refused until the key exchange is done here. */
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

#include "ferry/daemon.h"
#include "ferry/crypto.h"
#include "ferry/engine.h"
#include "ferry/base.h"
#include "ferry/proxy.h"
#include "ferry/uftp.h"
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
	daemon_config_init(&r->cfg);
	r->cfg.proxies = calloc(1, sizeof(*r->cfg.proxies));
	r->cfg.proxy_count = 1;
	r->cfg.proxies[0] = (struct proxy_config){
		.name = strdup("rp"), .role = PROXY_RESPONSE, .port = r->port,
		.dest_port = r->port, .ttl = 1, .uid = 0x301, .uid_set = true,
		.udp_buf_size = 262144, .server_list = strdup(r->list) };
	/* -K rsa:512,ec:prime256v1, no -e: no ECDH key */
	struct strlist *ks = &r->cfg.proxies[0].key_specs;
	ks->v = calloc(2, sizeof(char *));
	ks->v[0] = strdup("rsa:512");
	ks->v[1] = strdup("ec:prime256v1");
	ks->n = 2;
	struct fe_engine_opts o = { .workers = 1, .worker_init = rig_worker_init,
				    .worker_fini = rig_worker_fini, .arg = &r->sh,
				    .pool_thread_exit = crypto_thread_done };
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
	daemon_config_free(&r->cfg);
	close(r->up);
	close(r->client);
	unlink(r->list);
}

static void send_msg(struct rig *r, int fd, struct uftp_msg *m)
{
	uint8_t buf[1400];
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

/* An ANNOUNCE with EXT_ENC_INFO carrying key's blob (and dh's for ECDH). */
struct enc_params {
	uint8_t keyextype, sigtype, keytype;
	const struct crypto_key *dh;
};
static const struct enc_params rsa_cbc = { UFTP_KEYEX_RSA, UFTP_SIG_HMAC,
					   UFTP_KEY_AES256_CBC, NULL };

static void announce_enc(struct rig *r, uint32_t server, uint32_t group,
			 const struct crypto_key *key, const struct enc_params *ep)
{
	static uint8_t pub[4], prv[4], rand1[UFTP_RAND_LEN], blob[CRYPTO_BLOB_MAX];
	static uint8_t dhblob[CRYPTO_BLOB_MAX], sig[CRYPTO_SIG_MAX];
	inet_pton(AF_INET, "232.1.1.1", pub);
	inet_pton(AF_INET, "232.1.1.3", prv);
	long n = crypto_key_blob(key, blob, sizeof(blob));
	assert_true(n > 0);
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_ANNOUNCE,
				       .src_id = server, .group_id = group, .grtt = 127 } };
	m.u.announce = (struct uftp_announce){ .robust = 5, .blocksize = 1300,
		.pub_addr = { pub, 4 }, .priv_addr = { prv, 4 } };
	m.u.announce.ext.present = 1u << UFTP_EXT_ENC_INFO;
	long dn = ep->dh ? crypto_key_blob(ep->dh, dhblob, sizeof(dhblob)) : 0;
	size_t siglen = ep->dh ? crypto_sig_len(key) : 0;
	m.u.announce.ext.enc_info = (struct uftp_enc_info){
		.keyextype = ep->keyextype, .sigtype = ep->sigtype,
		.keytype = ep->keytype, .hashtype = UFTP_HASH_SHA256,
		.rand1 = { rand1, sizeof(rand1) }, .keyblob = { blob, (size_t)n },
		.dhblob = { dhblob, (size_t)dn }, .sig = { sig, siglen } };
	send_msg(r, r->up, &m);
}

static void announce_encrypted(struct rig *r, uint32_t server, uint32_t group,
			       const struct crypto_key *key)
{
	announce_enc(r, server, group, key, &rsa_cbc);
}

/* The next message at the fake server, decoded; false after timeout. */
static bool next_up(struct rig *r, uint8_t *buf, size_t cap, struct uftp_msg *m)
{
	struct pollfd p = { .fd = r->up, .events = POLLIN };
	if (poll(&p, 1, 1500) <= 0)
		return false;
	ssize_t n = recv(r->up, buf, cap, 0);
	struct fb_rcur c;
	fb_rcur_init(&c, buf, (size_t)n);
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

/* Client 0xC1 REGISTERs for group: the proxy must pass a REGISTER up,
 * returned in *got (which points into buf). */
static void register_passes(struct rig *r, uint32_t group, uint8_t *buf, size_t cap,
			    struct uftp_msg *got)
{
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_REGISTER,
				       .src_id = 0xC1, .group_id = group } };
	usleep(20000);
	send_msg(r, r->client, &m);
	assert_true(next_up(r, buf, cap, got));
	assert_int_equal(got->hdr.func, UFTP_REGISTER);
}

/* An unencrypted ANNOUNCE from server for group, private group priv, on a
 * fresh proxy: it must be aborted with text. */
static void announce_refused(uint32_t server, uint32_t group, const char *priv, const char *text)
{
	struct rig r;
	rig_up(&r);
	announce(&r, server, group, priv);
	expect_abort(&r, text);
	rig_down(&r);
}

static void test_unlisted_server_refused(void **state)
{
	(void)state;
	announce_refused(0x9, 0x100, "232.1.1.2", "server not in server list (-S): ferryd "
			 "enforces -S also in unencrypted sessions, see ferryd(8)");
}

static void test_non_ssm_private_refused(void **state)
{
	(void)state;
	announce_refused(0x1, 0x200, "239.1.1.2", "Invalid source specific multicast address");
}

static void test_listed_server_served(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r);
	announce(&r, 0x1, 0x300, "232.1.1.2");
	uint8_t buf[1024];
	struct uftp_msg got;
	register_passes(&r, 0x300, buf, sizeof(buf), &got);
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
	expect_abort(&r, "Failed to verify server key fingerprint");
	announce_encrypted(&r, 0x2, 0x401, listed_key);
	/* the listed key is taken: the proxy now waits for its clients */
	uint8_t buf[1024];
	struct uftp_msg m;
	assert_false(next_up(&r, buf, sizeof(buf), &m));
	rig_down(&r);
}

/* uftpproxyd's checks and reasons, before any public-key work. */
static void test_encrypted_announce_checks(void **state)
{
	(void)state;
	char why[CRYPTO_ERR_LEN];
	struct crypto_rng *rng = crypto_rng_new();
	struct crypto_key *rsa1024 = crypto_key_generate(rng, "rsa:1024", why);
	struct crypto_key *p256 = crypto_key_generate(rng, "ec:prime256v1", why);
	struct crypto_key *p384 = crypto_key_generate(rng, "ec:secp384r1", why);
	const struct enc_params des = { UFTP_KEYEX_RSA, UFTP_SIG_HMAC, UFTP_KEY_DES, NULL };
	const struct enc_params authenc_cbc = { UFTP_KEYEX_RSA, UFTP_SIG_AUTHENC,
						UFTP_KEY_AES128_CBC, NULL };
	const struct enc_params ecdsa = { UFTP_KEYEX_ECDH_ECDSA, UFTP_SIG_AUTHENC,
					  UFTP_KEY_AES128_GCM, p256 };
	const struct enc_params ecdh_rsa = { UFTP_KEYEX_ECDH_RSA, UFTP_SIG_HMAC,
					     UFTP_KEY_AES128_CBC, p256 };
	assert_non_null(rsa1024);
	assert_non_null(p384);
	struct rig r;
	rig_up(&r);
	announce_enc(&r, 0x1, 0x500, listed_key, &des);
	expect_abort(&r, "Keytype invalid or not supported here");
	announce_enc(&r, 0x1, 0x501, listed_key, &authenc_cbc);
	expect_abort(&r, "Invalid sigtype specified");
	announce_enc(&r, 0x1, 0x502, rsa1024, &rsa_cbc);   /* ours are 512 and P-256 */
	expect_abort(&r, "No proxy key compatible with server key");
	announce_enc(&r, 0x1, 0x503, p384, &ecdsa);
	expect_abort(&r, "No proxy key compatible with server key");
	/* uftpproxyd 4.10.2 crashes on these without -e */
	announce_enc(&r, 0x1, 0x504, p256, &ecdsa);
	expect_abort(&r, "Proxy has no ECDH key (-e or -r:curve) for an ECDH key exchange");
	announce_enc(&r, 0x1, 0x505, listed_key, &ecdh_rsa);
	expect_abort(&r, "Proxy has no ECDH key (-e or -r:curve) for an ECDH key exchange");
	announce_enc(&r, 0x1, 0x506, p256, &rsa_cbc);       /* an EC key for RSA */
	expect_abort(&r, "Failed to load server public key");
	/* the proxy still serves plain sessions after all that */
	announce(&r, 0x1, 0x507, "232.1.1.2");
	uint8_t buf[1024];
	struct uftp_msg got;
	register_passes(&r, 0x507, buf, sizeof(buf), &got);
	rig_down(&r);
	crypto_key_free(rsa1024);
	crypto_key_free(p256);
	crypto_key_free(p384);
	crypto_rng_free(rng);
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
	fb_log_open(NULL, LOG_LVL_ERR, 0, 0);
	if (private_netns(NULL) < 0) {
		printf("skip: needs root for a private network namespace\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlisted_server_refused),
		cmocka_unit_test(test_non_ssm_private_refused),
		cmocka_unit_test(test_listed_server_served),
		cmocka_unit_test(test_server_key_fingerprint),
		cmocka_unit_test(test_encrypted_announce_checks),
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
	fb_log_close();
	return rc;
}
