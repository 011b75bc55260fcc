/* test_crypto.c — known-answer vectors and round trips for src/crypto:
 * hashes, HMAC, PRFs, ciphers, IVs, keys, blobs, signatures, ECDH, and
 * hostile blobs and signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "ferry/crypto.h"
#include "ferry/uftp.h"
#include "rng_fixture.h"

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = 0;
	for (; h[0] && h[1]; h += 2) {
		if (*h == ':' || *h == ' ') {
			h--;
			continue;
		}
		unsigned v;
		sscanf(h, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void assert_hex(const uint8_t *got, const char *want)
{
	uint8_t w[512];
	size_t n = unhex(want, w);
	assert_memory_equal(got, w, n);
}

static void test_hashes(void **state)
{
	(void)state;
	uint8_t out[CRYPTO_HASH_MAX];
	assert_int_equal(crypto_hash_len(UFTP_HASH_SHA384), 48);
	assert_int_equal(crypto_hash_len(9), 0);
	assert_int_equal(crypto_hash(UFTP_HASH_MD5, "abc", 3, out), 0);
	assert_hex(out, "900150983cd24fb0d6963f7d28e17f72");
	assert_int_equal(crypto_hash(UFTP_HASH_SHA1, "abc", 3, out), 0);
	assert_hex(out, "a9993e364706816aba3e25717850c26c9cd0d89d");
	assert_int_equal(crypto_hash(UFTP_HASH_SHA256, "abc", 3, out), 0);
	assert_hex(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* RFC 4231 test case 2 */
	assert_int_equal(crypto_hmac(UFTP_HASH_SHA256, "Jefe", 4,
				     "what do ya want for nothing?", 28, out), 0);
	assert_hex(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	assert_int_equal(crypto_hmac(UFTP_HASH_SHA512, "Jefe", 4,
				     "what do ya want for nothing?", 28, out), 0);
	assert_hex(out, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
			"9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

/* Vectors from OpenSSL 3's TLS1-PRF (openssl kdf ... TLS1-PRF). */
static const char *prf_secret = "9bbe436ba940f017b17652849a71db35";
static const char *prf_seed = "a0ba9f936cda311827a6f796ffd5198c";

static void test_prf_tls(void **state)
{
	(void)state;
	uint8_t secret[32], seed[16], out[100];
	size_t sl = unhex(prf_secret, secret), dl = unhex(prf_seed, seed);
	assert_int_equal(crypto_prf_tls12(UFTP_HASH_SHA256, secret, sl, "test label",
					  seed, dl, out, 100), 0);
	assert_hex(out, "E3F229BA727BE17B8D122620557CD453C2AAB21D07C3D495329B52D4E61EDB5A"
			"6B301791E90D35C9C9A46B4E14BAF9AF0FA022F7077DEF17ABFD3797C0564BAB"
			"4FBC91666E9DEF9B97FCE34F796789BAA48082D122EE42C5A72E5A5110FFF701"
			"87347B66");
	assert_int_equal(crypto_prf_tls12(UFTP_HASH_SHA384, secret, sl, "test label",
					  seed, dl, out, 80), 0);
	assert_hex(out, "DD88775CD827187B67A3F7652B5C13F715791CC46E0274A6D3FB16651103DEFC"
			"544CD8AFB68369A219BB918B8B21DDB1764AF0A70339E6DEC085E574F655851B"
			"A692513203536BDFC3675E53768210F0");
	secret[16] = 0xaa;      /* an odd-length secret: the halves overlap */
	assert_int_equal(crypto_prf_tls10(secret, 17, "test label", seed, dl, out, 64), 0);
	assert_hex(out, "D15D261F27F994096FBB4709FF20D231799DCE32219BAAFB6883AF51983E132F"
			"9C83DFEE54EBA38EC8A35879B14B96132A2561599776267547E8C543D4CD86A8");
}

/* uftp's PRF agrees with TLS 1.2 on the first block only. */
static void test_prf_uftp(void **state)
{
	(void)state;
	uint8_t secret[16], seed[16], tls[96], uftp[96];
	unhex(prf_secret, secret);
	unhex(prf_seed, seed);
	for (int h = UFTP_HASH_SHA256; h <= UFTP_HASH_SHA512; h++) {
		size_t hl = crypto_hash_len(h);
		assert_int_equal(crypto_prf_tls12(h, secret, 16, "key expansion",
						  seed, 16, tls, 2 * hl > 96 ? 96 : 2 * hl), 0);
		assert_int_equal(crypto_prf_uftp(h, secret, 16, "key expansion",
						 seed, 16, uftp, 2 * hl > 96 ? 96 : 2 * hl), 0);
		assert_memory_equal(tls, uftp, hl);
		assert_memory_not_equal(tls + hl, uftp + hl, (2 * hl > 96 ? 96 : 2 * hl) - hl);
	}
	/* SHA-1: the TLS 1.1 split, so the first 16 bytes (MD5's first
	 * block xor SHA-1's first) agree with TLS 1.0 as well. */
	assert_int_equal(crypto_prf_tls10(secret, 16, "x", seed, 16, tls, 48), 0);
	assert_int_equal(crypto_prf_uftp(UFTP_HASH_SHA1, secret, 16, "x", seed, 16,
					 uftp, 48), 0);
	assert_memory_equal(tls, uftp, 16);
	assert_memory_not_equal(tls + 20, uftp + 20, 28);
	assert_int_equal(crypto_prf_uftp(0, secret, 16, "x", seed, 16, uftp, 4), -1);
}

static void test_ciphers(void **state)
{
	(void)state;
	uint8_t key[32] = { 0 }, iv[16] = { 0 }, pt[64], ct[96], back[96];
	/* GCM test case 2 (McGrew and Viega) */
	memset(pt, 0, 16);
	assert_int_equal(crypto_encrypt(UFTP_KEY_AES128_GCM, key, iv, NULL, 0, pt, 16,
					ct, sizeof(ct)), 32);
	assert_hex(ct, "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf");
	assert_int_equal(crypto_decrypt(UFTP_KEY_AES128_GCM, key, iv, NULL, 0, ct, 32,
					back, sizeof(back)), 16);
	ct[31] ^= 1;
	assert_int_equal(crypto_decrypt(UFTP_KEY_AES128_GCM, key, iv, NULL, 0, ct, 32,
					back, sizeof(back)), -1);
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i, key[i % 32] = (uint8_t)(3 * i);
	assert_int_equal(crypto_cipher_keylen(UFTP_KEY_DES), 0);  /* uftp cannot either */
	for (int kt = UFTP_KEY_DES_EDE3; kt <= UFTP_KEY_AES256_CCM; kt++) {
		assert_true(crypto_cipher_keylen(kt) > 0);
		for (size_t len = 0; len <= 33; len += 11) {
			long n = crypto_encrypt(kt, key, iv, "aad", 3, pt, len, ct, sizeof(ct));
			assert_true(n >= (long)len);
			assert_int_equal(crypto_decrypt(kt, key, iv, "aad", 3, ct, (size_t)n,
							back, sizeof(back)), (long)len);
			assert_memory_equal(back, pt, len);
			if (crypto_cipher_aead(kt))   /* the AAD is authenticated */
				assert_int_equal(crypto_decrypt(kt, key, iv, "aaD", 3, ct,
						 (size_t)n, back, sizeof(back)), -1);
		}
	}
	/* CBC pads a full block to a whole extra block, as OpenSSL does */
	assert_int_equal(crypto_encrypt(UFTP_KEY_AES256_CBC, key, iv, NULL, 0, pt, 16,
					ct, sizeof(ct)), 32);
	assert_int_equal(crypto_encrypt(UFTP_KEY_AES256_CBC, key, iv, NULL, 0, pt, 16,
					ct, 31), -1);
	assert_int_equal(crypto_decrypt(UFTP_KEY_AES256_CBC, key, iv, NULL, 0, ct, 15,
					back, sizeof(back)), -1);
	assert_int_equal(crypto_cipher_keylen(0), 0);
	assert_int_equal(crypto_cipher_keylen(9), 0);
}

static void test_iv(void **state)
{
	(void)state;
	const uint8_t salt[4] = { 0x11, 0x22, 0x33, 0x44 };
	uint8_t iv[16];
	crypto_cipher_iv(UFTP_KEY_AES128_CBC, salt, 0x01020304, 0x0506070809, iv);
	assert_hex(iv, "11223344010203040000000506070809");
	crypto_cipher_iv(UFTP_KEY_AES256_GCM, salt, 0x01020304, 0x0506070809, iv);
	assert_hex(iv, "102030400000000506070809");
	crypto_cipher_iv(UFTP_KEY_DES_EDE3, salt, 0x01020304, 0x0506070809, iv);
	assert_hex(iv, "1122334107050b0d");
}

/* Blob, fingerprint and PEM round trips; the blob's public key verifies
 * what the private key signed. */
static void check_key(struct crypto_key *k)
{
	uint8_t blob[CRYPTO_BLOB_MAX], blob2[CRYPTO_BLOB_MAX], fp[20], fp2[20];
	uint8_t sig[CRYPTO_SIG_MAX];
	char pem[8192], why[CRYPTO_ERR_LEN];
	long n = crypto_key_blob(k, blob, sizeof(blob));
	assert_true(n > 0);
	assert_int_equal(n % 4, 0);
	struct crypto_key *pub = crypto_key_from_blob(blob, (size_t)n);
	assert_non_null(pub);
	assert_false(crypto_key_private(pub));
	assert_int_equal(crypto_key_blob(pub, blob2, sizeof(blob2)), n);
	assert_memory_equal(blob, blob2, (size_t)n);
	long p = crypto_key_to_pem(k, pem, sizeof(pem));
	assert_true(p > 0);
	struct crypto_key *back = crypto_key_from_pem(pem, (size_t)p, why);
	assert_non_null(back);
	assert_int_equal(crypto_key_fingerprint(k, fp), 0);
	assert_int_equal(crypto_key_fingerprint(back, fp2), 0);
	assert_memory_equal(fp, fp2, 20);
	for (int h = UFTP_HASH_SHA1; h <= UFTP_HASH_SHA512; h++) {
		long s = crypto_sign(back, rng, h, blob, (size_t)n, sig, sizeof(sig));
		/* PKCS#1 v1.5 needs DigestInfo + 11 bytes: RSA-512 cannot sign
		 * SHA-384/512, with OpenSSL (uftp) neither */
		if (crypto_key_type(k) == UFTP_KEYBLOB_RSA && crypto_key_bits(k) == 512 &&
		    h >= UFTP_HASH_SHA384) {
			assert_int_equal(s, -1);
			continue;
		}
		assert_int_equal(s, (long)crypto_sig_len(k));
		assert_true(crypto_verify(pub, h, blob, (size_t)n, sig, (size_t)s));
		assert_false(crypto_verify(pub, h, blob, (size_t)n - 1, sig, (size_t)s));
		sig[s - 1 - (crypto_key_type(k) == UFTP_KEYBLOB_EC ? (s - 4) / 2 : 0)] ^= 0x40;
		assert_false(crypto_verify(pub, h, blob, (size_t)n, sig, (size_t)s));
	}
	assert_int_equal(crypto_sign(pub, rng, UFTP_HASH_SHA256, "x", 1, sig,
				     sizeof(sig)), -1);
	crypto_key_free(back);
	crypto_key_free(pub);
}

static void test_rsa(void **state)
{
	(void)state;
	const char *specs[] = { "rsa:512", "rsa:1024" };
	for (size_t i = 0; i < 2; i++) {
		struct crypto_key *k = gen(specs[i]);
		uint8_t blob[CRYPTO_BLOB_MAX], ct[512], pt[512], premaster[48];
		assert_int_equal(crypto_key_type(k), UFTP_KEYBLOB_RSA);
		assert_int_equal(crypto_key_bits(k), i ? 1024 : 512);
		check_key(k);
		long n = crypto_key_blob(k, blob, sizeof(blob));
		assert_int_equal(n, 8 + (i ? 128 : 64));
		assert_hex(blob, "0100");
		assert_hex(blob + 4, "00010001");
		struct crypto_key *pub = crypto_key_from_blob(blob, (size_t)n);
		memset(premaster, 0x5a, sizeof(premaster));
		long c = crypto_rsa_encrypt(pub, rng, premaster, 48, ct, sizeof(ct));
		assert_int_equal(c, i ? 128 : 64);
		assert_int_equal(crypto_rsa_decrypt(k, rng, ct, (size_t)c, pt, sizeof(pt)), 48);
		assert_memory_equal(pt, premaster, 48);
		ct[5] ^= 1;
		assert_true(crypto_rsa_decrypt(k, rng, ct, (size_t)c, pt, sizeof(pt)) != 48 ||
			    memcmp(pt, premaster, 48));
		crypto_key_free(pub);
		crypto_key_free(k);
	}
}

static void test_ec(void **state)
{
	(void)state;
	const char *curves[] = { "prime256v1", "secp384r1", "secp521r1", "secp224r1",
				 "secp256k1" };
	const size_t bloblen[] = { 4 + 64, 4 + 96, 4 + 132, 4 + 56, 4 + 64 };
	for (size_t i = 0; i < sizeof(curves) / sizeof(*curves); i++) {
		char spec[32];
		snprintf(spec, sizeof(spec), "ec:%s", curves[i]);
		struct crypto_key *a = gen(spec), *b = gen(spec);
		uint8_t blob[CRYPTO_BLOB_MAX], s1[20], s2[20];
		assert_int_equal(crypto_key_curve(a), crypto_curve_by_name(curves[i]));
		check_key(a);
		long n = crypto_key_blob(a, blob, sizeof(blob));
		assert_int_equal(n, (long)bloblen[i]);
		struct crypto_key *apub = crypto_key_from_blob(blob, (size_t)n);
		n = crypto_key_blob(b, blob, sizeof(blob));
		struct crypto_key *bpub = crypto_key_from_blob(blob, (size_t)n);
		assert_int_equal(crypto_ecdh(a, rng, bpub, s1), 0);
		assert_int_equal(crypto_ecdh(b, rng, apub, s2), 0);
		assert_memory_equal(s1, s2, 20);
		assert_int_equal(crypto_ecdh(apub, rng, bpub, s1), -1);
		crypto_key_free(apub);
		crypto_key_free(bpub);
		crypto_key_free(a);
		crypto_key_free(b);
	}
}

static void test_curves_and_specs(void **state)
{
	(void)state;
	char why[CRYPTO_ERR_LEN];
	assert_int_equal(crypto_curve_by_name("prime256v1"), 23);
	assert_int_equal(crypto_curve_by_name("secp256r1"), 23);
	assert_int_equal(crypto_curve_by_name("secp521r1"), 25);
	assert_int_equal(crypto_curve_by_name("sect163k1"), 1);
	assert_int_equal(crypto_curve_by_name("nope"), 0);
	assert_string_equal(crypto_curve_name(19), "prime192v1");
	assert_true(crypto_curve_supported(23));
	assert_false(crypto_curve_supported(1));     /* binary curves */
	assert_null(crypto_key_generate(rng, "ec:sect163k1", why));
	assert_non_null(strstr(why, "not supported"));
	assert_null(crypto_key_generate(rng, "rsa:256", why));
	assert_non_null(strstr(why, "512-4096"));
	assert_null(crypto_key_generate(rng, "rsa:5000", why));
	assert_null(crypto_key_generate(rng, "dsa:1024", why));
	assert_null(crypto_key_generate(rng, "ec:bogus", why));
	assert_non_null(strstr(why, "unknown EC curve"));
}

/* Blobs and signatures whose length fields lie are refused, not read. */
static void test_hostile(void **state)
{
	(void)state;
	struct crypto_key *k = gen("ec:prime256v1"), *r = gen("rsa:512");
	uint8_t blob[CRYPTO_BLOB_MAX], sig[1024];
	long n = crypto_key_blob(k, blob, sizeof(blob));
	struct crypto_key *pub = crypto_key_from_blob(blob, (size_t)n);
	assert_null(crypto_key_from_blob(blob, (size_t)n - 5));
	blob[3] = 66;                    /* key length 66: not a P-256 point */
	assert_null(crypto_key_from_blob(blob, (size_t)n));
	blob[3] = 64;
	blob[10] ^= 0xff;                /* not on the curve */
	assert_null(crypto_key_from_blob(blob, (size_t)n));
	blob[1] = 1;                     /* sect163k1: not here */
	assert_null(crypto_key_from_blob(blob, (size_t)n));
	blob[0] = 7;
	assert_null(crypto_key_from_blob(blob, (size_t)n));
	n = crypto_key_blob(r, blob, sizeof(blob));
	assert_null(crypto_key_from_blob(blob, (size_t)n + 1));
	blob[2] = 0x7f;                  /* modulus length beyond the blob */
	assert_null(crypto_key_from_blob(blob, (size_t)n));
	memset(sig, 0x41, sizeof(sig));
	sig[0] = 0xff, sig[1] = 0xff;    /* rlen 65535 */
	assert_false(crypto_verify(pub, UFTP_HASH_SHA256, "m", 1, sig, 72));
	sig[0] = 0, sig[1] = 32, sig[2] = 0, sig[3] = 200;
	assert_false(crypto_verify(pub, UFTP_HASH_SHA256, "m", 1, sig, 72));
	assert_false(crypto_verify(pub, UFTP_HASH_SHA256, "m", 1, sig, sizeof(sig)));
	assert_false(crypto_verify(pub, UFTP_HASH_SHA256, "m", 1, sig, 3));
	assert_false(crypto_verify(r, UFTP_HASH_SHA256, "m", 1, sig, sizeof(sig)));
	assert_false(crypto_verify(r, UFTP_HASH_SHA256, "m", 1, sig, 64));
	crypto_key_free(pub);
	crypto_key_free(k);
	crypto_key_free(r);
}

static void test_pem_errors(void **state)
{
	(void)state;
	char why[CRYPTO_ERR_LEN];
	const char *enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n"
			  "-----END ENCRYPTED PRIVATE KEY-----\n";
	assert_null(crypto_key_from_pem(enc, strlen(enc), why));
	assert_non_null(strstr(why, "encrypted"));
	assert_null(crypto_key_from_pem("hello", 5, why));
	assert_non_null(strstr(why, "no PEM private key"));
	assert_null(crypto_key_read_file("/nonexistent/key.pem", why));
	assert_string_equal(why, "No such file or directory");
	assert_null(crypto_key_read_file("/", why));
	assert_non_null(strstr(why, "not a regular file"));
}

static void test_fingerprint_str(void **state)
{
	(void)state;
	uint8_t fp[20];
	char s[CRYPTO_FP_STR];
	for (int i = 0; i < 20; i++)
		fp[i] = (uint8_t)(i * 13 + 10);
	crypto_fingerprint_str(fp, s);
	assert_string_equal(s, "0A:17:24:31:3E:4B:58:65:72:7F:8C:99:A6:B3:C0:CD:DA:E7:F4:01");
}

/* The key schedule: what one side seals the other opens, for every
 * signature kind; a flipped bit anywhere is refused. */
static void test_schedule(void **state)
{
	(void)state;
	uint8_t premaster[48], r1[32], r2[32], master[48], back[48], wrapped[48];
	uint8_t hdr[16] = { 0x40, UFTP_FILEINFO, 0, 1, 0, 0, 0, 7, 0xde, 0xad, 0xbe, 0xef };
	uint8_t dg[1024], plain[200], out[1024];
	struct crypto_keyset a, b, g;
	memset(premaster, 3, sizeof(premaster));
	memset(r1, 1, sizeof(r1));
	memset(r2, 2, sizeof(r2));
	memset(master, 9, sizeof(master));
	master[0] = 0x40;
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)i;
	assert_int_equal(crypto_uftp_session_keys(UFTP_HASH_SHA384, UFTP_KEY_AES256_GCM,
						  premaster, 48, r1, r2, &a), 0);
	assert_int_equal(crypto_uftp_session_keys(UFTP_HASH_SHA384, UFTP_KEY_AES256_GCM,
						  premaster, 48, r1, r2, &b), 0);
	assert_int_equal(a.hmaclen, 48);
	assert_int_equal(a.keylen, 32);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(crypto_uftp_wrap_master(UFTP_KEY_AES256_GCM, &a, 7, 99, master,
						 wrapped), 0);
	assert_int_equal(crypto_uftp_unwrap_master(UFTP_KEY_AES256_GCM, &b, 7, 99, 0x40,
						   wrapped, back), 0);
	assert_memory_equal(master, back, 48);
	assert_int_not_equal(crypto_uftp_unwrap_master(UFTP_KEY_AES256_GCM, &b, 8, 99,
						       0x40, wrapped, back) == 0 &&
			     memcmp(master, back, 48) == 0, 1);
	long hs = crypto_uftp_handshake(out, sizeof(out), 0x01020304, "\xe8\x01\x01\x01",
					4, r1, r2, premaster, 48, "blob", 4, master);
	assert_int_equal(hs, 4 + 4 + 32 + 32 + 48 + 4 + 48);
	assert_hex(out, "01020304e8010101");
	uint8_t v1[12], v2[12];
	assert_int_equal(crypto_uftp_verify_data(UFTP_HASH_SHA1, master, out, (size_t)hs, v1), 0);
	out[hs - 1] ^= 1;
	assert_int_equal(crypto_uftp_verify_data(UFTP_HASH_SHA1, master, out, (size_t)hs, v2), 0);
	assert_memory_not_equal(v1, v2, 12);

	struct crypto_key *rsa = gen("rsa:1024"), *ec = gen("ec:secp384r1");
	const struct { int kt, sig; struct crypto_key *k; } cases[] = {
		{ UFTP_KEY_AES128_CBC, UFTP_SIG_HMAC, NULL },
		{ UFTP_KEY_DES_EDE3, UFTP_SIG_HMAC, NULL },
		{ UFTP_KEY_AES256_GCM, UFTP_SIG_AUTHENC, NULL },
		{ UFTP_KEY_AES128_CCM, UFTP_SIG_AUTHENC, NULL },
		{ UFTP_KEY_AES256_CBC, UFTP_SIG_KEYEX, rsa },
		{ UFTP_KEY_AES128_CBC, UFTP_SIG_KEYEX, ec },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int kt = cases[i].kt, st = cases[i].sig;
		assert_int_equal(crypto_uftp_group_keys(UFTP_HASH_SHA256, kt, master, r1, &g), 0);
		long n = crypto_uftp_seal(&g, kt, UFTP_HASH_SHA256, st, cases[i].k, rng, hdr,
					  0x1122334455ULL, plain, sizeof(plain), dg, sizeof(dg));
		assert_true(n > 28);
		assert_int_equal(dg[1], UFTP_ENCRYPTED);
		size_t siglen = (size_t)dg[24] << 8 | dg[25], paylen = (size_t)dg[26] << 8 | dg[27];
		assert_int_equal(28 + siglen + paylen, n);
		assert_int_equal(crypto_uftp_open(&g, kt, UFTP_HASH_SHA256, st, cases[i].k, dg,
						  (size_t)n, dg + 28, siglen, dg + 28 + siglen,
						  paylen, out, sizeof(out)), (long)sizeof(plain));
		assert_memory_equal(out, plain, sizeof(plain));
		for (size_t at = 0; at < (size_t)n; at += 37) {
			if (at >= 28 && at < 28 + siglen && st == UFTP_SIG_KEYEX &&
			    crypto_key_type(cases[i].k) == UFTP_KEYBLOB_EC)
				continue;      /* EC signatures carry zero padding */
			dg[at] ^= 0x10;
			assert_int_equal(crypto_uftp_open(&g, kt, UFTP_HASH_SHA256, st,
							  cases[i].k, dg, (size_t)n, dg + 28,
							  siglen, dg + 28 + siglen, paylen, out,
							  sizeof(out)), -1);
			dg[at] ^= 0x10;
		}
	}
	crypto_key_free(rsa);
	crypto_key_free(ec);
}

static struct crypto_key *public_of(const struct crypto_key *k);

/* A client proxy under KEYEX signatures: the server's signature checked,
 * the proxy's put in (a key of another size or curve moves the payload),
 * the result opens with the proxy's key only; a forgery is not re-signed. */
static void test_resign(void **state)
{
	(void)state;
	uint8_t hdr[16] = { 0x40, UFTP_FILESEG, 0, 2, 0, 0, 0, 9, 1, 2, 3, 4 };
	uint8_t master[48], r1[32], plain[300], dg[2048], re[2048], out[1024];
	struct crypto_keyset g;
	memset(master, 5, sizeof(master));
	memset(r1, 6, sizeof(r1));
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7);
	const struct { const char *server, *proxy; } cases[] = {
		{ "rsa:1024", "rsa:1024" }, { "rsa:1024", "rsa:2048" },
		{ "ec:prime256v1", "ec:prime256v1" }, { "ec:secp521r1", "ec:prime256v1" },
	};
	int kt = UFTP_KEY_AES256_CBC;
	assert_int_equal(crypto_uftp_group_keys(UFTP_HASH_SHA256, kt, master, r1, &g), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct crypto_key *srv = gen(cases[i].server), *px = gen(cases[i].proxy);
		struct crypto_key *srvpub = public_of(srv), *pxpub = public_of(px);
		long n = crypto_uftp_seal(&g, kt, UFTP_HASH_SHA256, UFTP_SIG_KEYEX, srv, rng,
					  hdr, 77, plain, sizeof(plain), dg, sizeof(dg));
		assert_true(n > 28);
		long m = crypto_uftp_resign(srvpub, px, rng, UFTP_HASH_SHA256, dg, (size_t)n,
					    re, sizeof(re));
		assert_true(m > 28);
		size_t siglen = (size_t)re[24] << 8 | re[25], paylen = (size_t)re[26] << 8 | re[27];
		assert_int_equal(siglen, crypto_sig_len(px));
		assert_int_equal(28 + siglen + paylen, m);
		assert_int_equal(crypto_uftp_open(&g, kt, UFTP_HASH_SHA256, UFTP_SIG_KEYEX,
						  pxpub, re, (size_t)m, re + 28, siglen,
						  re + 28 + siglen, paylen, out, sizeof(out)),
				 (long)sizeof(plain));
		assert_memory_equal(out, plain, sizeof(plain));
		assert_int_equal(crypto_uftp_open(&g, kt, UFTP_HASH_SHA256, UFTP_SIG_KEYEX,
						  srvpub, re, (size_t)m, re + 28, siglen,
						  re + 28 + siglen, paylen, out, sizeof(out)), -1);
		dg[n - 1] ^= 1;                 /* a forged payload */
		assert_int_equal(crypto_uftp_resign(srvpub, px, rng, UFTP_HASH_SHA256, dg,
						    (size_t)n, re, sizeof(re)), -1);
		dg[n - 1] ^= 1;
		dg[24] = 0xff;                  /* a signature length past the end */
		assert_int_equal(crypto_uftp_resign(srvpub, px, rng, UFTP_HASH_SHA256, dg,
						    (size_t)n, re, sizeof(re)), -1);
		assert_int_equal(crypto_uftp_resign(srvpub, px, rng, UFTP_HASH_SHA256, dg,
						    27, re, sizeof(re)), -1);
		crypto_key_free(srv);
		crypto_key_free(px);
		crypto_key_free(srvpub);
		crypto_key_free(pxpub);
	}
}

/* One key shared by helper threads: signing, verifying, decrypting and
 * ECDH at once must all succeed (wolfCrypt keeps state in the key). */
struct shared_job {
	struct crypto_key *rsa, *rsapub, *ec, *ecpub, *peer;
	int failures;
};

static void *hammer(void *arg)
{
	struct shared_job *j = arg;
	struct crypto_rng *r = crypto_rng_new();
	uint8_t sig[CRYPTO_SIG_MAX], ct[128], pt[128], s1[20];
	for (int i = 0; r && i < 20; i++) {
		long n = crypto_sign(j->rsa, r, UFTP_HASH_SHA256, "msg", 3, sig, sizeof(sig));
		bool ok = n > 0 && crypto_verify(j->rsapub, UFTP_HASH_SHA256, "msg", 3, sig,
						 (size_t)n);
		n = crypto_sign(j->ec, r, UFTP_HASH_SHA384, "msg", 3, sig, sizeof(sig));
		ok = ok && n > 0 && crypto_verify(j->ecpub, UFTP_HASH_SHA384, "msg", 3, sig,
						  (size_t)n);
		n = crypto_rsa_encrypt(j->rsapub, r, "premaster", 9, ct, sizeof(ct));
		ok = ok && n > 0 && crypto_rsa_decrypt(j->rsa, r, ct, (size_t)n, pt,
						       sizeof(pt)) == 9;
		ok = ok && crypto_ecdh(j->ec, r, j->peer, s1) == 0;
		if (!ok)
			__atomic_add_fetch(&j->failures, 1, __ATOMIC_RELAXED);
	}
	crypto_rng_free(r);
	crypto_thread_done();
	return NULL;
}

static struct crypto_key *public_of(const struct crypto_key *k)
{
	uint8_t blob[CRYPTO_BLOB_MAX];
	long n = crypto_key_blob(k, blob, sizeof(blob));
	return n > 0 ? crypto_key_from_blob(blob, (size_t)n) : NULL;
}

static void test_shared_keys(void **state)
{
	(void)state;
	struct shared_job j = { .rsa = gen("rsa:1024"), .ec = gen("ec:prime256v1") };
	struct crypto_key *other = gen("ec:prime256v1");
	uint8_t s1[20], s2[20];
	j.rsapub = public_of(j.rsa);
	j.ecpub = public_of(j.ec);
	j.peer = public_of(other);
	assert_int_equal(crypto_ecdh(j.ec, rng, j.ec, s1), -1);   /* peers are public */
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &j), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(j.failures, 0);
	assert_int_equal(crypto_ecdh(j.ec, rng, j.peer, s1), 0);
	assert_int_equal(crypto_ecdh(other, rng, j.ecpub, s2), 0);
	assert_memory_equal(s1, s2, 20);
	crypto_key_free(j.rsa);
	crypto_key_free(j.rsapub);
	crypto_key_free(j.ec);
	crypto_key_free(j.ecpub);
	crypto_key_free(j.peer);
	crypto_key_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hashes),
		cmocka_unit_test(test_prf_tls),
		cmocka_unit_test(test_prf_uftp),
		cmocka_unit_test(test_ciphers),
		cmocka_unit_test(test_iv),
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_ec),
		cmocka_unit_test(test_curves_and_specs),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_pem_errors),
		cmocka_unit_test(test_fingerprint_str),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_shared_keys),
		cmocka_unit_test(test_resign),
	};
	return cmocka_run_group_tests(tests, rng_setup, rng_teardown);
}
