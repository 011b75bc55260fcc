/* test_kx.c — the client proxy's key exchange steps (src/proxy/kx.c)
 * between a simulated server and client built from src/crypto alone: for
 * each key exchange, signature and cipher kind, the client must accept the
 * proxy's ANNOUNCE, both ends must derive the proxy's keys, the group
 * master must pass server -> proxy -> client, and each side's KEYINFO_ACK
 * must check out; bad signatures, keys and entries are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/proxy/kx.h"
#include "../crypto/rng_fixture.h"

#define SERVER 0x00000001u
#define PROXY  0x00000099u
#define CLIENT 0x000000C1u
#define GROUP  0x12345678u

static struct crypto_key *public_of(const struct crypto_key *k)
{
	uint8_t blob[CRYPTO_BLOB_MAX];
	long n = crypto_key_blob(k, blob, sizeof(blob));
	assert_true(n > 0);
	return crypto_key_from_blob(blob, (size_t)n);
}

struct sim_server {
	struct crypto_key *key, *dh;
	uint8_t rand1[CRYPTO_RAND_LEN], gm[CRYPTO_MASTER_LEN];
	uint8_t dgram[2048];
	size_t len;
};

struct kx_case {
	uint8_t keyextype, sigtype, keytype, hashtype;
	const char *server_key, *server_dh;
	bool client_auth;
};

static size_t sig_offset(const uint8_t *d, size_t len)
{
	struct uftp_msg m;
	struct fb_rcur c;
	fb_rcur_init(&c, d, len);
	assert_int_equal(uftp_decode(&c, &m), UFTP_OK);
	return (size_t)(m.u.announce.ext.enc_info.sig.p - d);
}

/* The server's ANNOUNCE, signed over the whole datagram in ECDH modes. */
static void server_announce(struct sim_server *s, const struct kx_case *kc, bool bad_sig)
{
	static const uint8_t pub[4] = { 230, 4, 4, 1 }, prv[4] = { 239, 1, 2, 3 };
	static const uint8_t zeros[CRYPTO_SIG_MAX];
	uint8_t blob[CRYPTO_BLOB_MAX], dhblob[CRYPTO_BLOB_MAX], sig[CRYPTO_SIG_MAX];
	s->key = gen(kc->server_key);
	s->dh = kc->server_dh ? gen(kc->server_dh) : NULL;
	assert_int_equal(crypto_random(rng, s->rand1, sizeof(s->rand1)), 0);
	long bl = crypto_key_blob(s->key, blob, sizeof(blob));
	long dl = s->dh ? crypto_key_blob(s->dh, dhblob, sizeof(dhblob)) : 0;
	size_t siglen = s->dh ? crypto_sig_len(s->key) : 0;
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_ANNOUNCE,
				       .src_id = SERVER, .group_id = GROUP, .grtt = 127 } };
	m.u.announce = (struct uftp_announce){ .robust = 5, .blocksize = 1300,
		.pub_addr = { pub, 4 }, .priv_addr = { prv, 4 } };
	m.u.announce.ext.present = 1u << UFTP_EXT_ENC_INFO;
	m.u.announce.ext.enc_info = (struct uftp_enc_info){
		.flags = kc->client_auth ? UFTP_F_CLIENT_AUTH : 0,
		.keyextype = kc->keyextype, .sigtype = kc->sigtype,
		.keytype = kc->keytype, .hashtype = kc->hashtype,
		.rand1 = { s->rand1, CRYPTO_RAND_LEN }, .keyblob = { blob, (size_t)bl },
		.dhblob = { dhblob, (size_t)dl }, .sig = { zeros, siglen } };
	long n = uftp_encode(s->dgram, sizeof(s->dgram), &m);
	assert_true(n > 0);
	s->len = (size_t)n;
	if (!siglen)
		return;
	assert_int_equal(crypto_sign(s->key, rng, kc->hashtype, s->dgram, s->len, sig,
				     sizeof(sig)), (long)siglen);
	sig[5] ^= bad_sig;
	memcpy(s->dgram + sig_offset(s->dgram, s->len), sig, siglen);
}

static void setup_proxy(struct proxy_config *pc, struct inst_shared *sh)
{
	memset(pc, 0, sizeof(*pc));
	memset(sh, 0, sizeof(*sh));
	pc->name = "cp";
	pc->role = PROXY_CLIENT;
	sh->pc = pc;
	sh->uid = PROXY;
	sh->keys.key[0] = gen("rsa:1024");
	sh->keys.key[1] = gen("ec:prime256v1");
	sh->keys.n = 2;
}

/* The client's side: checks the proxy's ANNOUNCE, makes its premaster. */
struct sim_client {
	struct crypto_key *key, *dh, *proxy_key;
	uint8_t rand2[CRYPTO_RAND_LEN], pm[CRYPTO_MASTER_LEN], keyinfo[CRYPTO_SIG_MAX];
	size_t plen, kilen;
	struct crypto_keyset keys;
};

static void client_register(struct sim_client *c, const struct kx_case *kc,
			    const uint8_t *down, size_t len, const uint8_t *rand1)
{
	uint8_t copy[2048];
	struct uftp_msg m;
	struct fb_rcur rc;
	fb_rcur_init(&rc, down, len);
	assert_int_equal(uftp_decode(&rc, &m), UFTP_OK);
	const struct uftp_enc_info *e = &m.u.announce.ext.enc_info;
	c->proxy_key = crypto_key_from_blob(e->keyblob.p, e->keyblob.len);
	assert_non_null(c->proxy_key);
	if (kc->server_dh) {    /* the proxy's signature, as uftpd checks it */
		memcpy(copy, down, len);
		assert_true(crypto_uftp_check_sig(NULL, kc->hashtype, UFTP_SIG_KEYEX,
						  c->proxy_key, copy, len,
						  (size_t)(e->sig.p - down), e->sig.p,
						  e->sig.len));
		struct crypto_key *pdh = crypto_key_from_blob(e->dhblob.p, e->dhblob.len);
		char spec[40];
		snprintf(spec, sizeof(spec), "ec:%s",
			 crypto_curve_name(crypto_key_curve(pdh)));
		c->dh = gen(spec);
		assert_int_equal(crypto_ecdh(c->dh, rng, pdh, c->pm), 0);
		c->plen = CRYPTO_ECDH_LEN;
		long n = crypto_key_blob(c->dh, c->keyinfo, sizeof(c->keyinfo));
		assert_true(n > 0);
		c->kilen = (size_t)n;
		crypto_key_free(pdh);
	} else {
		c->pm[0] = UFTP_VERSION;
		assert_int_equal(crypto_random(rng, c->pm + 1, CRYPTO_MASTER_LEN - 1), 0);
		c->plen = CRYPTO_MASTER_LEN;
		long n = crypto_rsa_encrypt(c->proxy_key, rng, c->pm, c->plen, c->keyinfo,
					    sizeof(c->keyinfo));
		assert_true(n > 0);
		c->kilen = (size_t)n;
	}
	assert_int_equal(crypto_random(rng, c->rand2, sizeof(c->rand2)), 0);
	assert_int_equal(crypto_uftp_session_keys(kc->hashtype, kc->keytype, c->pm,
						  c->plen, rand1, c->rand2, &c->keys), 0);
	c->key = gen(kc->keyextype == UFTP_KEYEX_ECDH_ECDSA ? "ec:prime256v1" : "rsa:1024");
}

/* The server's view of the proxy's REGISTER: the same premaster and keys. */
static void server_checks_register(struct sim_server *s, const struct kx_case *kc,
				   struct kx_group *g, struct crypto_keyset *ks)
{
	uint8_t ki[CRYPTO_SIG_MAX], pm[CRYPTO_SIG_MAX];
	long n = proxy_kx_register_key(g, rng, ki, sizeof(ki));
	assert_true(n > 0);
	if (s->dh) {
		struct crypto_key *pdh = crypto_key_from_blob(ki, (size_t)n);
		assert_non_null(pdh);
		assert_int_equal(crypto_ecdh(s->dh, rng, pdh, pm), 0);
		assert_memory_equal(pm, g->self.premaster, CRYPTO_ECDH_LEN);
		crypto_key_free(pdh);
	} else {
		assert_int_equal(crypto_rsa_decrypt(s->key, rng, ki, (size_t)n, pm,
						    sizeof(pm)), CRYPTO_MASTER_LEN);
		assert_memory_equal(pm, g->self.premaster, CRYPTO_MASTER_LEN);
		assert_int_equal(pm[0], UFTP_VERSION);
	}
	assert_int_equal(crypto_uftp_session_keys(kc->hashtype, kc->keytype,
						  g->self.premaster, g->self.plen,
						  s->rand1, g->self.rand2, ks), 0);
	assert_memory_equal(ks, &g->self.keys, sizeof(*ks));
}

/* The server's KEYINFO for a stranger and the proxy. */
static void server_keyinfo(struct sim_server *s, const struct kx_case *kc,
			   const struct crypto_keyset *ks, struct uftp_msg *m,
			   uint8_t *buf, size_t cap, bool include_proxy)
{
	static uint8_t w[2][UFTP_MASTER_LEN];
	static struct uftp_destkey keys[2];
	s->gm[0] = UFTP_VERSION;
	assert_int_equal(crypto_random(rng, s->gm + 1, CRYPTO_MASTER_LEN - 1), 0);
	assert_int_equal(crypto_uftp_wrap_master(kc->keytype, ks, SERVER, 5, s->gm, w[0]), 0);
	memcpy(w[1], w[0], sizeof(w[1]));
	keys[0] = (struct uftp_destkey){ 0x77, w[1] };
	keys[1] = (struct uftp_destkey){ include_proxy ? PROXY : 0x78, w[0] };
	struct uftp_msg k = { .hdr = { .version = UFTP_VERSION, .func = UFTP_KEYINFO,
				       .src_id = SERVER, .group_id = GROUP } };
	k.u.keyinfo = (struct uftp_keyinfo){ .iv_ctr = 5, .keys = keys, .count = 2 };
	long n = uftp_encode(buf, cap, &k);
	assert_true(n > 0);
	struct fb_rcur c;
	fb_rcur_init(&c, buf, (size_t)n);
	assert_int_equal(uftp_decode(&c, m), UFTP_OK);
}

static void expected_verify(const struct kx_case *kc, const uint8_t *rand1,
			    const uint8_t *rand2, const uint8_t *pm, size_t plen,
			    const struct crypto_key *blobkey, const uint8_t *gm,
			    uint8_t out[CRYPTO_VERIFY_LEN])
{
	static const uint8_t prv[4] = { 239, 1, 2, 3 };
	uint8_t hs[1024], blob[CRYPTO_BLOB_MAX];
	long bl = kc->client_auth ? crypto_key_blob(blobkey, blob, sizeof(blob)) : 0;
	long n = crypto_uftp_handshake(hs, sizeof(hs), GROUP, prv, 4, rand1, rand2, pm,
				       plen, blob, (size_t)bl, gm);
	assert_true(n > 0);
	assert_int_equal(crypto_uftp_verify_data(kc->hashtype, gm, hs, (size_t)n, out), 0);
}

/* The proxy's KEYINFO_ACK, opened and checked by the server. */
static void server_checks_ack(struct sim_server *s, const struct kx_case *kc,
			      struct kx_group *g, const struct inst_shared *sh)
{
	uint8_t dg[2048], plain[256], want[CRYPTO_VERIFY_LEN];
	struct uftp_hdr h = { .version = UFTP_VERSION, .src_id = PROXY, .group_id = GROUP };
	struct crypto_keyset gk;
	long n = proxy_kx_keyinfo_ack(g, rng, &h, 1, dg, sizeof(dg));
	assert_true(n > 0);
	struct uftp_msg m, inner;
	struct fb_rcur c;
	fb_rcur_init(&c, dg, (size_t)n);
	assert_int_equal(uftp_decode(&c, &m), UFTP_OK);
	assert_int_equal(m.hdr.func, UFTP_ENCRYPTED);
	assert_int_equal(crypto_uftp_group_keys(kc->hashtype, kc->keytype, s->gm,
						s->rand1, &gk), 0);
	struct crypto_key *signer = public_of(g->key);
	long p = crypto_uftp_open(&gk, kc->keytype, kc->hashtype, kc->sigtype, signer, dg,
				  (size_t)n, m.u.encrypted.sig.p, m.u.encrypted.sig.len,
				  m.u.encrypted.payload.p, m.u.encrypted.payload.len,
				  plain, sizeof(plain));
	assert_true(p > 0);
	fb_rcur_init(&c, plain, (size_t)p);
	assert_int_equal(uftp_decode_inner(&c, &m.hdr, &inner), UFTP_OK);
	assert_int_equal(inner.hdr.func, UFTP_KEYINFO_ACK);
	expected_verify(kc, s->rand1, g->self.rand2, g->self.premaster, g->self.plen,
			g->key, s->gm, want);
	assert_memory_equal(inner.u.keyinfo_ack.verify.p, want, sizeof(want));
	crypto_key_free(signer);
	(void)sh;
}

/* The client's CLIENT_KEY: accepted when signed and listed, else refused. */
static void client_key_checks(const struct kx_case *kc, struct kx_group *g,
			      struct inst_shared *sh, struct kx_peer *cp,
			      const struct sim_client *cl, const uint8_t *rand1)
{
	static const uint8_t prv[4] = { 239, 1, 2, 3 };
	uint8_t hs[512], blob[CRYPTO_BLOB_MAX], sig[CRYPTO_SIG_MAX], fp[CRYPTO_FP_LEN];
	long n = crypto_uftp_handshake(hs, sizeof(hs), GROUP, prv, 4, rand1, cl->rand2,
				       cl->pm, cl->plen, NULL, 0, NULL);
	long bl = crypto_key_blob(cl->key, blob, sizeof(blob));
	long sl = crypto_sign(cl->key, rng, kc->hashtype, hs, (size_t)n, sig, sizeof(sig));
	assert_true(n > 0 && bl > 0 && sl > 0);
	struct uftp_client_key ck = { .keyblob = { blob, (size_t)bl },
				      .verify = { sig, (size_t)sl } };
	/* -C lists the client with another key's fingerprint: refused */
	memset(fp, 0xab, sizeof(fp));
	struct peer listed = { .uid = CLIENT, .has_fp = true };
	memcpy(listed.fp, fp, sizeof(fp));
	sh->clients.v = &listed;
	sh->clients.n = 1;
	assert_string_equal(proxy_kx_client_key(g, sh, cp, &ck),
			    "Failed to verify client key fingerprint");
	crypto_blob_fingerprint(blob, (size_t)bl, listed.fp);
	sig[sl / 2] ^= 1;
	assert_string_equal(proxy_kx_client_key(g, sh, cp, &ck),
			    "Verify data mismatch in CLIENT_KEY");
	sig[sl / 2] ^= 1;
	assert_null(proxy_kx_client_key(g, sh, cp, &ck));
	assert_non_null(cp->pub);
	sh->clients.v = NULL;
	sh->clients.n = 0;
}

/* The proxy's own CLIENT_KEY, as the server checks it. */
static void proxy_checks_own_client_key(const struct kx_case *kc, struct kx_group *g,
					const struct sim_server *s)
{
	static const uint8_t prv[4] = { 239, 1, 2, 3 };
	uint8_t buf[2048], hs[512];
	struct uftp_hdr h = { .version = UFTP_VERSION, .src_id = PROXY, .group_id = GROUP };
	long n = proxy_kx_own_client_key(g, rng, &h, buf, sizeof(buf));
	assert_true(n > 0);
	struct uftp_msg m;
	struct fb_rcur c;
	fb_rcur_init(&c, buf, (size_t)n);
	assert_int_equal(uftp_decode(&c, &m), UFTP_OK);
	assert_int_equal(m.hdr.func, UFTP_CLIENT_KEY);
	struct crypto_key *k = crypto_key_from_blob(m.u.client_key.keyblob.p,
						    m.u.client_key.keyblob.len);
	long hl = crypto_uftp_handshake(hs, sizeof(hs), GROUP, prv, 4, s->rand1,
					g->self.rand2, g->self.premaster, g->self.plen,
					NULL, 0, NULL);
	assert_true(crypto_verify(k, kc->hashtype, hs, (size_t)hl, m.u.client_key.verify.p,
				  m.u.client_key.verify.len));
	crypto_key_free(k);
}

static void run_case(const struct kx_case *kc)
{
	struct proxy_config pc;
	struct inst_shared sh;
	struct sim_server s = { 0 };
	struct sim_client cl = { 0 };
	struct kx_group g = { 0 };
	struct kx_peer cp = { 0 };
	uint8_t down[2048], buf[2048];
	size_t downlen = 0;
	struct crypto_keyset ks;
	setup_proxy(&pc, &sh);
	server_announce(&s, kc, false);
	const char *why = proxy_kx_announce(&g, &sh, rng, s.dgram, s.len, down,
					    sizeof(down), &downlen);
	if (why)
		fail_msg("announce: %s", why);
	client_register(&cl, kc, down, downlen, s.rand1);
	struct uftp_register reg = { .rand2 = { cl.rand2, CRYPTO_RAND_LEN },
				     .keyinfo = { cl.keyinfo, cl.kilen } };
	why = proxy_kx_client_register(&g, rng, &cp, CLIENT, &reg);
	if (why)
		fail_msg("client register: %s", why);
	assert_memory_equal(&cp.keys, &cl.keys, sizeof(cl.keys));
	server_checks_register(&s, kc, &g, &ks);
	struct uftp_msg ki;
	server_keyinfo(&s, kc, &ks, &ki, buf, sizeof(buf), true);
	assert_null(proxy_kx_server_keyinfo(&g, PROXY, &ki));
	assert_memory_equal(g.groupmaster, s.gm, CRYPTO_MASTER_LEN);
	server_checks_ack(&s, kc, &g, &sh);

	if (kc->client_auth) {
		client_key_checks(kc, &g, &sh, &cp, &cl, s.rand1);
		proxy_checks_own_client_key(kc, &g, &s);
	}

	/* on to the client: KEYINFO, and its KEYINFO_ACK checked */
	struct kx_peer *list[1] = { &cp };
	struct uftp_hdr h = { .version = UFTP_VERSION, .src_id = PROXY, .group_id = GROUP };
	long n = proxy_kx_keyinfo(&g, &h, 9, list, 1, buf, sizeof(buf));
	assert_true(n > 0);
	struct uftp_msg m;
	struct uftp_destkey dk;
	struct fb_rcur c;
	uint8_t gm[CRYPTO_MASTER_LEN], v[CRYPTO_VERIFY_LEN];
	fb_rcur_init(&c, buf, (size_t)n);
	assert_int_equal(uftp_decode(&c, &m), UFTP_OK);
	assert_true(uftp_keyinfo_at(&m.u.keyinfo, 0, &dk));
	assert_int_equal(dk.uid, CLIENT);
	assert_int_equal(crypto_uftp_unwrap_master(kc->keytype, &cl.keys, m.hdr.src_id,
						   m.u.keyinfo.iv_ctr, UFTP_VERSION,
						   dk.master, gm), 0);
	assert_memory_equal(gm, s.gm, CRYPTO_MASTER_LEN);
	expected_verify(kc, s.rand1, cl.rand2, cl.pm, cl.plen, cl.key, gm, v);
	assert_true(proxy_kx_client_ack(&g, &cp, v));
	v[3] ^= 1;
	assert_false(proxy_kx_client_ack(&g, &cp, v));
	v[3] ^= 1;
	/* That KEYINFO_ACK replayed for another client: its verify data hangs
	 * on the client's own premaster and random, so it is refused. */
	struct sim_client cl2 = { 0 };
	struct kx_peer cp2 = { .pub = cp.pub };
	client_register(&cl2, kc, down, downlen, s.rand1);
	struct uftp_register reg2 = { .rand2 = { cl2.rand2, CRYPTO_RAND_LEN },
				      .keyinfo = { cl2.keyinfo, cl2.kilen } };
	assert_null(proxy_kx_client_register(&g, rng, &cp2, CLIENT + 1, &reg2));
	assert_false(proxy_kx_client_ack(&g, &cp2, v));
	crypto_key_free(cl2.key);
	crypto_key_free(cl2.dh);
	crypto_key_free(cl2.proxy_key);

	crypto_key_free(cp.pub);
	proxy_kx_free(&g);
	proxy_keys_free(&sh.keys);
	crypto_key_free(s.key);
	crypto_key_free(s.dh);
	crypto_key_free(cl.key);
	crypto_key_free(cl.dh);
	crypto_key_free(cl.proxy_key);
}

static void test_rsa_hmac_cbc(void **state)
{
	(void)state;
	const struct kx_case kc = { UFTP_KEYEX_RSA, UFTP_SIG_HMAC, UFTP_KEY_AES256_CBC,
				    UFTP_HASH_SHA256, "rsa:1024", NULL, true };
	run_case(&kc);
}

static void test_rsa_ccm_sha512(void **state)
{
	(void)state;
	const struct kx_case kc = { UFTP_KEYEX_RSA, UFTP_SIG_AUTHENC, UFTP_KEY_AES256_CCM,
				    UFTP_HASH_SHA512, "rsa:1024", NULL, false };
	run_case(&kc);
}

static void test_ecdh_rsa_keyex_sha1(void **state)
{
	(void)state;
	const struct kx_case kc = { UFTP_KEYEX_ECDH_RSA, UFTP_SIG_KEYEX,
				    UFTP_KEY_AES128_CBC, UFTP_HASH_SHA1, "rsa:1024",
				    "ec:secp384r1", true };
	run_case(&kc);
}

static void test_ecdh_ecdsa_gcm(void **state)
{
	(void)state;
	const struct kx_case kc = { UFTP_KEYEX_ECDH_ECDSA, UFTP_SIG_AUTHENC,
				    UFTP_KEY_AES128_GCM, UFTP_HASH_SHA384, "ec:prime256v1",
				    "ec:prime256v1", false };
	run_case(&kc);
}

static void test_ecdh_ecdsa_keyex_3des(void **state)
{
	(void)state;
	const struct kx_case kc = { UFTP_KEYEX_ECDH_ECDSA, UFTP_SIG_KEYEX,
				    UFTP_KEY_DES_EDE3, UFTP_HASH_SHA256, "ec:prime256v1",
				    "ec:secp521r1", true };
	run_case(&kc);
}

/* What the steps refuse, with uftpproxyd's reasons. */
static void test_refusals(void **state)
{
	(void)state;
	struct proxy_config pc;
	struct inst_shared sh;
	uint8_t down[2048], buf[2048];
	size_t downlen;
	const struct kx_case sig = { UFTP_KEYEX_ECDH_RSA, UFTP_SIG_HMAC, UFTP_KEY_AES128_CBC,
				     UFTP_HASH_SHA256, "rsa:1024", "ec:prime256v1", false };
	const struct kx_case big = { UFTP_KEYEX_RSA, UFTP_SIG_HMAC, UFTP_KEY_AES128_CBC,
				     UFTP_HASH_SHA256, "rsa:2048", NULL, false };
	const struct kx_case ok = { UFTP_KEYEX_RSA, UFTP_SIG_HMAC, UFTP_KEY_AES128_CBC,
				    UFTP_HASH_SHA256, "rsa:1024", NULL, false };
	setup_proxy(&pc, &sh);

	struct sim_server s = { 0 };
	struct kx_group g = { 0 };
	server_announce(&s, &sig, true);
	assert_string_equal(proxy_kx_announce(&g, &sh, rng, s.dgram, s.len, down,
					      sizeof(down), &downlen),
			    "Signature verification failed");
	proxy_kx_free(&g);
	crypto_key_free(s.key);
	crypto_key_free(s.dh);

	memset(&s, 0, sizeof(s));
	server_announce(&s, &big, false);
	assert_string_equal(proxy_kx_announce(&g, &sh, rng, s.dgram, s.len, down,
					      sizeof(down), &downlen),
			    "No proxy key compatible with server key");
	proxy_kx_free(&g);
	crypto_key_free(s.key);

	memset(&s, 0, sizeof(s));
	server_announce(&s, &ok, false);
	assert_null(proxy_kx_announce(&g, &sh, rng, s.dgram, s.len, down, sizeof(down),
				      &downlen));
	uint8_t junk[128] = { 1, 2, 3 }, r2[CRYPTO_RAND_LEN] = { 0 };
	struct kx_peer cp = { 0 };
	struct uftp_register reg = { .rand2 = { r2, sizeof(r2) }, .keyinfo = { junk, sizeof(junk) } };
	assert_string_equal(proxy_kx_client_register(&g, rng, &cp, CLIENT, &reg),
			    "Failed to decrypt premaster secret");
	reg.rand2.len = 5;
	assert_string_equal(proxy_kx_client_register(&g, rng, &cp, CLIENT, &reg),
			    "Invalid REGISTER");
	struct crypto_keyset ks;
	struct uftp_msg ki;
	server_checks_register(&s, &ok, &g, &ks);
	server_keyinfo(&s, &ok, &ks, &ki, buf, sizeof(buf), false);
	assert_string_equal(proxy_kx_server_keyinfo(&g, PROXY, &ki),
			    "No entry for this proxy in KEYINFO");
	assert_false(g.have_group);
	struct uftp_hdr h = { .version = UFTP_VERSION, .src_id = PROXY, .group_id = GROUP };
	assert_int_equal(proxy_kx_keyinfo_ack(&g, rng, &h, 1, buf, sizeof(buf)), -1);
	proxy_kx_free(&g);
	crypto_key_free(s.key);
	proxy_keys_free(&sh.keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa_hmac_cbc),
		cmocka_unit_test(test_rsa_ccm_sha512),
		cmocka_unit_test(test_ecdh_rsa_keyex_sha1),
		cmocka_unit_test(test_ecdh_ecdsa_gcm),
		cmocka_unit_test(test_ecdh_ecdsa_keyex_3des),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, rng_setup, rng_teardown);
}
