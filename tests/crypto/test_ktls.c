/* test_ktls.c — the keys the kTLS path hands to the kernel, proved right
 * without the kernel: an in-memory handshake (TLS 1.2 and 1.3, AES-128-GCM,
 * AES-256-GCM and ChaCha20-Poly1305), the server's TX crypto_info exported
 * as ftp's kTLS path does, records sealed from it with wolfCrypt the way
 * Linux's tls_sw does (AES-GCM nonce salt||explicit in TLS 1.2, (salt||iv)
 * XOR seq in TLS 1.3; ChaCha20 iv XOR seq in both), and the client's
 * wolfSSL_read must return their plaintext and see close_notify. The
 * receiving side (TLS_RX): the server refuses to export while part of a
 * record is fed, says how much of it is missing, and once every record is
 * read gives the client's write key, salt/IV and next sequence number,
 * the same the client itself would seal its next record with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/tls.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>

#include "ferry/crypto.h"
#include "ferry/uftp.h"
#include "cert_fixture.h"

static int setup(void **state)
{
	(void)state;
	return certs_setup("t", NULL);
}

/* Everything the server sent during the handshake, for the nonce check. */
static uint8_t seen[65536];
static size_t seen_len;

static void move(struct crypto_tls *from, struct crypto_tls *to, bool record)
{
	const uint8_t *p;
	size_t n = crypto_tls_out(from, &p);
	if (!n)
		return;
	if (record) {
		assert_true(seen_len + n <= sizeof(seen));
		memcpy(seen + seen_len, p, n);
		seen_len += n;
	}
	assert_true(crypto_tls_feed(to, p, n));
	crypto_tls_sent(from, n);
}

static void handshake(struct crypto_tls *cli, struct crypto_tls *srv)
{
	seen_len = 0;
	for (int round = 0; round < 10; round++) {
		int c = crypto_tls_handshake(cli);
		move(cli, srv, false);
		int s = crypto_tls_handshake(srv);
		move(srv, cli, true);
		assert_int_not_equal(c, CRYPTO_TLS_ERROR);
		assert_int_not_equal(s, CRYPTO_TLS_ERROR);
		if (c == 1 && s == 1)
			return;
	}
	fail_msg("handshake did not finish");
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be64(uint64_t v, uint8_t *p)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The kernel's view of one connection: the crypto_info's fields and the
 * counters it advances per record (tls_advance_record_sn). */
struct ktx {
	int version, keytype;   /* keytype 0: ChaCha20-Poly1305 */
	uint8_t key[32], salt[4], iv[12];
	uint64_t seq, explicit_iv;
};

static void load(const struct crypto_ktls *k, struct ktx *x)
{
	const struct tls_crypto_info *info = (const void *)k->info.bytes;
	memset(x, 0, sizeof(*x));
	if (info->cipher_type == TLS_CIPHER_CHACHA20_POLY1305) {
		const struct tls12_crypto_info_chacha20_poly1305 *c = (const void *)k->info.bytes;
		assert_int_equal(k->len, sizeof(*c));
		memcpy(x->key, c->key, 32);
		memcpy(x->iv, c->iv, 12);
		x->seq = get_be64(c->rec_seq);
		x->keytype = 0;
	} else if (info->cipher_type == TLS_CIPHER_AES_GCM_128) {
		const struct tls12_crypto_info_aes_gcm_128 *a = (const void *)k->info.bytes;
		assert_int_equal(k->len, sizeof(*a));
		memcpy(x->key, a->key, 16);
		memcpy(x->salt, a->salt, 4);
		memcpy(x->iv, a->iv, 8);
		x->seq = get_be64(a->rec_seq);
		x->keytype = UFTP_KEY_AES128_GCM;
	} else {
		assert_int_equal(info->cipher_type, TLS_CIPHER_AES_GCM_256);
		const struct tls12_crypto_info_aes_gcm_256 *b = (const void *)k->info.bytes;
		assert_int_equal(k->len, sizeof(*b));
		memcpy(x->key, b->key, 32);
		memcpy(x->salt, b->salt, 4);
		memcpy(x->iv, b->iv, 8);
		x->seq = get_be64(b->rec_seq);
		x->keytype = UFTP_KEY_AES256_GCM;
	}
	x->version = info->version;
	x->explicit_iv = get_be64(x->iv);
}

/* AEAD with the connection's cipher: ciphertext and tag into out; their length. */
static long aead(const struct ktx *x, const uint8_t nonce[12], const uint8_t *aad,
		 size_t aadlen, const uint8_t *in, size_t n, uint8_t *out)
{
	if (x->keytype)
		return crypto_encrypt(x->keytype, x->key, nonce, aad, aadlen, in, n, out, 600);
	if (wc_ChaCha20Poly1305_Encrypt(x->key, nonce, aad, (word32)aadlen, in, (word32)n, out,
					out + n))
		return -1;
	return (long)n + 16;
}

/* ChaCha20-Poly1305, both versions (RFC 7905, 8446): the nonce is the IV
 * XOR the sequence number, nothing explicit on the wire. */
static size_t seal_chacha(struct ktx *x, uint8_t type, const void *data, size_t n,
			  uint8_t *out)
{
	uint8_t nonce[12], aad[13], inner[512], s[8];
	memcpy(nonce, x->iv, 12);
	put_be64(x->seq, s);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= s[i];
	out[1] = out[2] = 3;
	size_t body;
	long c;
	if (x->version == TLS_1_2_VERSION) {
		out[0] = type;
		put_be64(x->seq, aad);
		aad[8] = type;
		aad[9] = aad[10] = 3;
		aad[11] = (uint8_t)(n >> 8);
		aad[12] = (uint8_t)n;
		c = aead(x, nonce, aad, 13, data, n, out + 5);
	} else {
		memcpy(inner, data, n);
		inner[n] = type;
		out[0] = 23;
		out[3] = (uint8_t)((n + 17) >> 8);
		out[4] = (uint8_t)(n + 17);
		c = aead(x, nonce, out, 5, inner, n + 1, out + 5);
	}
	assert_true(c > 0);
	body = (size_t)c;
	out[3] = (uint8_t)(body >> 8);
	out[4] = (uint8_t)body;
	x->seq++;
	return 5 + body;
}

/* One record of `type` as the kernel seals it; its length. */
static size_t seal(struct ktx *x, uint8_t type, const void *data, size_t n, uint8_t *out)
{
	if (!x->keytype)
		return seal_chacha(x, type, data, n, out);
	uint8_t nonce[12], aad[13], inner[512];
	assert_true(n + 1 <= sizeof(inner));
	memcpy(nonce, x->salt, 4);
	size_t hdr = 5, body;
	long c;
	out[1] = 3;
	out[2] = 3;
	if (x->version == TLS_1_2_VERSION) {
		put_be64(x->explicit_iv, nonce + 4);
		memcpy(out + 5, nonce + 4, 8);          /* the explicit nonce */
		out[0] = type;
		put_be64(x->seq, aad);
		aad[8] = type;
		aad[9] = 3;
		aad[10] = 3;
		aad[11] = (uint8_t)(n >> 8);
		aad[12] = (uint8_t)n;
		c = crypto_encrypt(x->keytype, x->key, nonce, aad, 13, data, n, out + 13, 600);
		body = 8 + (size_t)c;
		x->explicit_iv++;
	} else {
		assert_int_equal(x->version, TLS_1_3_VERSION);
		memcpy(nonce + 4, x->iv, 8);
		uint8_t s[8];
		put_be64(x->seq, s);
		for (int i = 0; i < 8; i++)
			nonce[4 + i] ^= s[i];
		memcpy(inner, data, n);
		inner[n] = type;                        /* TLSInnerPlaintext */
		out[0] = 23;                            /* every record: application_data */
		size_t len = n + 1 + 16;
		out[3] = (uint8_t)(len >> 8);
		out[4] = (uint8_t)len;
		c = crypto_encrypt(x->keytype, x->key, nonce, out, 5, inner, n + 1, out + 5, 600);
		body = (size_t)c;
	}
	assert_true(c > 0);
	out[3] = (uint8_t)(body >> 8);
	out[4] = (uint8_t)body;
	x->seq++;
	return hdr + body;
}

/* TLS 1.2: the kernel's first explicit nonce follows the one of the
 * server's last sealed record (its Finished, after ChangeCipherSpec):
 * wolfSSL starts them at a random value and counts up, so no nonce is used
 * twice under the key. */
static void check_nonce_fresh(const struct ktx *x)
{
	size_t off = 0;
	bool after_ccs = false, found = false;
	uint64_t last = 0;
	while (off + 5 <= seen_len) {
		size_t len = (size_t)seen[off + 3] << 8 | seen[off + 4];
		assert_true(off + 5 + len <= seen_len);
		if (seen[off] == 20)
			after_ccs = true;
		else if (after_ccs && len >= 8) {
			last = get_be64(seen + off + 5);
			found = true;
		}
		off += 5 + len;
	}
	assert_true(found);
	assert_true(last + 1 == x->explicit_iv);
}

/* The client sends two records; the server gets them in pieces. */
static void receiving_side(struct crypto_tls *cli, struct crypto_tls *srv)
{
	char why[CRYPTO_ERR_LEN];
	static const char msg[] = "an upload's first records";
	struct crypto_tls_cursor c, d;
	crypto_tls_cursor_init(srv, &c);
	assert_int_equal(crypto_tls_cursor_need(&c), 0);         /* at a boundary */
	assert_int_equal(crypto_tls_write(cli, msg, sizeof(msg)), 0);
	assert_int_equal(crypto_tls_write(cli, msg, sizeof(msg)), 0);
	const uint8_t *p;
	size_t n = crypto_tls_out(cli, &p);
	size_t first = 5 + (size_t)(p[3] << 8 | p[4]);
	assert_true(n == 2 * first);
	crypto_tls_cursor_add(&c, p, 3);
	assert_int_equal(crypto_tls_cursor_need(&c), 2);         /* in the header */
	crypto_tls_cursor_add(&c, p + 3, 11);
	assert_int_equal(crypto_tls_cursor_need(&c), first - 14);
	assert_true(crypto_tls_feed(srv, p, 3));                 /* from the layer: the same */
	crypto_tls_cursor_init(srv, &d);
	assert_int_equal(crypto_tls_cursor_need(&d), 2);
	assert_true(crypto_tls_feed(srv, p + 3, 7));
	crypto_tls_cursor_init(srv, &d);
	assert_int_equal(crypto_tls_cursor_need(&d), first - 10);   /* the nonce too */
	crypto_tls_cursor_add(&d, p + 10, 4);
	assert_int_equal(crypto_tls_cursor_need(&d), first - 14);
	crypto_tls_cursor_add(&c, p + 14, first - 14 + 5);       /* the next header */
	assert_int_equal(crypto_tls_cursor_need(&c), first - 5);
	crypto_tls_cursor_add(&c, p + first + 5, first - 5);
	assert_int_equal(crypto_tls_cursor_need(&c), 0);
	static const uint8_t empty[] = { 23, 3, 3, 0, 0, 23, 3 };   /* empty records */
	crypto_tls_cursor_add(&c, empty, sizeof(empty));
	assert_int_equal(crypto_tls_cursor_need(&c), 3);
	struct crypto_ktls k, mine;
	assert_int_equal(crypto_tls_ktls_rx(srv, &k, why), -1);
	assert_non_null(strstr(why, "waiting to be read"));
	assert_true(crypto_tls_feed(srv, p + 10, n - 10));
	crypto_tls_sent(cli, n);
	crypto_tls_cursor_init(srv, &d);
	assert_int_equal(crypto_tls_cursor_need(&d), 0);
	uint8_t got[64];
	assert_int_equal(crypto_tls_read(srv, got, 10), 10);    /* plaintext pending */
	assert_int_equal(crypto_tls_ktls_rx(srv, &k, why), -1);
	long r;
	while ((r = crypto_tls_read(srv, got, sizeof(got))) > 0)
		;
	assert_int_equal(r, CRYPTO_TLS_AGAIN);
	assert_int_equal(crypto_tls_ktls_rx(srv, &k, why), 0);
	assert_int_equal(crypto_tls_ktls_tx(cli, &mine, why), 0);
	struct ktx rx, tx;
	load(&k, &rx);
	load(&mine, &tx);
	assert_int_equal(rx.version, tx.version);
	assert_int_equal(rx.keytype, tx.keytype);
	assert_memory_equal(rx.key, tx.key, sizeof(rx.key));
	assert_memory_equal(rx.salt, tx.salt, sizeof(rx.salt));
	assert_true(rx.seq == tx.seq && rx.seq > 0);
	if (rx.version == TLS_1_3_VERSION || !rx.keytype)   /* TLS 1.2 GCM: per record */
		assert_memory_equal(rx.iv, tx.iv, sizeof(rx.iv));
	crypto_tls_kernel_rx(srv);
	assert_int_equal(crypto_tls_read(srv, got, sizeof(got)), CRYPTO_TLS_ERROR);
	crypto_ktls_wipe(&k);
	crypto_ktls_wipe(&mine);
}

static void run(int max_minor, const char *ciphers, int keytype, int version)
{
	char why[CRYPTO_ERR_LEN];
	struct crypto_tls_ctx *sc = crypto_tls_ctx_new(cert, key, why);
	struct crypto_tls_ctx *cc = crypto_tls_client_ctx_new(NULL, false, why);
	assert_non_null(sc);
	assert_non_null(cc);
	assert_int_equal(crypto_tls_ctx_limit(cc, max_minor, ciphers), 0);
	struct crypto_tls *cli = crypto_tls_client_new(cc, NULL), *srv = crypto_tls_new(sc);
	assert_non_null(cli);
	assert_non_null(srv);
	handshake(cli, srv);
	receiving_side(cli, srv);

	struct crypto_ktls k;
	assert_int_equal(crypto_tls_ktls_tx(srv, &k, why), 0);
	struct ktx x;
	load(&k, &x);
	assert_int_equal(x.keytype, keytype);
	assert_int_equal(x.version, version);
	assert_int_equal(k.version, version == TLS_1_3_VERSION ? 13 : 12);
	assert_int_equal(k.cipher, keytype == UFTP_KEY_AES128_GCM ? CRYPTO_KTLS_AES128_GCM
				   : keytype == UFTP_KEY_AES256_GCM ? CRYPTO_KTLS_AES256_GCM
				   : CRYPTO_KTLS_CHACHA20_POLY1305);
	if (version == TLS_1_2_VERSION && keytype)
		check_nonce_fresh(&x);
	crypto_tls_kernel_tx(srv);
	/* The layer sends nothing of its own any more. */
	assert_int_equal(crypto_tls_write(srv, "x", 1), CRYPTO_TLS_ERROR);
	crypto_tls_shutdown(srv);
	const uint8_t *p;
	assert_int_equal(crypto_tls_out(srv, &p), 0);

	/* Two records, as the kernel sends a file: the counters advance. */
	static const char a[] = "first record from the kernel", b[] = "and a second one";
	uint8_t rec[700], got[256];
	size_t n = seal(&x, 23, a, sizeof(a) - 1, rec);
	assert_true(crypto_tls_feed(cli, rec, n));
	assert_int_equal(crypto_tls_read(cli, got, sizeof(got)), sizeof(a) - 1);
	assert_memory_equal(got, a, sizeof(a) - 1);
	n = seal(&x, 23, b, sizeof(b) - 1, rec);
	assert_true(crypto_tls_feed(cli, rec, n));
	assert_int_equal(crypto_tls_read(cli, got, sizeof(got)), sizeof(b) - 1);
	assert_memory_equal(got, b, sizeof(b) - 1);
	/* close_notify as a record of type alert (TLS_SET_RECORD_TYPE 21). */
	n = seal(&x, 21, "\x01\x00", 2, rec);
	assert_true(crypto_tls_feed(cli, rec, n));
	assert_int_equal(crypto_tls_read(cli, got, sizeof(got)), CRYPTO_TLS_CLOSED);

	crypto_ktls_wipe(&k);
	crypto_tls_free(cli);
	crypto_tls_free(srv);
	crypto_tls_ctx_free(cc);
	crypto_tls_ctx_free(sc);
}

static void test_tls12_aes128(void **state)
{
	(void)state;
	run(2, "ECDHE-ECDSA-AES128-GCM-SHA256", UFTP_KEY_AES128_GCM, TLS_1_2_VERSION);
}

static void test_tls12_aes256(void **state)
{
	(void)state;
	run(2, "ECDHE-ECDSA-AES256-GCM-SHA384", UFTP_KEY_AES256_GCM, TLS_1_2_VERSION);
}

static void test_tls13_aes128(void **state)
{
	(void)state;
	run(3, "TLS13-AES128-GCM-SHA256", UFTP_KEY_AES128_GCM, TLS_1_3_VERSION);
}

static void test_tls13_aes256(void **state)
{
	(void)state;
	run(3, "TLS13-AES256-GCM-SHA384", UFTP_KEY_AES256_GCM, TLS_1_3_VERSION);
}

static void test_tls12_chacha(void **state)
{
	(void)state;
	run(2, "ECDHE-ECDSA-CHACHA20-POLY1305", 0, TLS_1_2_VERSION);
}

static void test_tls13_chacha(void **state)
{
	(void)state;
	run(3, "TLS13-CHACHA20-POLY1305-SHA256", 0, TLS_1_3_VERSION);
}

/* A cipher the kernel path does not take, and a connection not yet
 * established: refused with a reason, nothing handed over. */
static void test_refusals(void **state)
{
	(void)state;
	char why[CRYPTO_ERR_LEN];
	struct crypto_tls_ctx *sc = crypto_tls_ctx_new(cert, key, why);
	struct crypto_tls_ctx *cc = crypto_tls_client_ctx_new(NULL, false, why);
	assert_non_null(sc);
	assert_non_null(cc);
	struct crypto_tls *srv = crypto_tls_new(sc);
	struct crypto_ktls k;
	assert_int_equal(crypto_tls_ktls_tx(srv, &k, why), -1);
	assert_non_null(strstr(why, "handshake"));
	crypto_tls_free(srv);

	assert_int_equal(crypto_tls_ctx_limit(cc, 2, "ECDHE-ECDSA-AES128-SHA256"), 0);   /* CBC */
	struct crypto_tls *cli = crypto_tls_client_new(cc, NULL);
	srv = crypto_tls_new(sc);
	handshake(cli, srv);
	assert_int_equal(crypto_tls_ktls_tx(srv, &k, why), -1);
	assert_non_null(strstr(why, "AES"));
	/* user space goes on as before */
	assert_int_equal(crypto_tls_write(srv, "ok", 2), 0);
	crypto_tls_free(cli);
	crypto_tls_free(srv);
	crypto_tls_ctx_free(cc);
	crypto_tls_ctx_free(sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls12_aes128),
		cmocka_unit_test(test_tls12_aes256),
		cmocka_unit_test(test_tls13_aes128),
		cmocka_unit_test(test_tls13_aes256),
		cmocka_unit_test(test_tls12_chacha),
		cmocka_unit_test(test_tls13_chacha),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, setup, certs_teardown);
}
