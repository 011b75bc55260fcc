/* make_uftp_corpus.c — writes the UFTP seed corpora from the project's own
 * encoders: every message of tests/uftp/vectors.c built as a struct and
 * encoded with uftp_encode (corpus/uftp_decode), its body alone with
 * uftp_encode_body (corpus/uftp_inner), and RSA and EC key blobs with
 * uftp_keyblob_encode (corpus/uftp_keyblob), and small throw-away private
 * keys made by crypto_key_generate written by crypto_key_to_pem
 * (corpus/crypto_pem; make_corpus.py adds their PKCS#8 forms).
 * Usage: make_uftp_corpus CORPUS_DIR */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry/crypto.h"
#include "ferry/base.h"
#include "ferry/uftp.h"
#include "vectors.h"

static int put(const char *dir, const char *sub, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "make_uftp_corpus: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int keyblobs(const char *dir)
{
	static uint8_t modulus[256], point[133];
	for (size_t i = 0; i < sizeof(modulus); i++)
		modulus[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(point); i++)
		point[i] = (uint8_t)(i * 13 + 4);
	const struct { const char *name; struct uftp_keyblob kb; } blobs[] = {
		{ "rsa2048", { .type = UFTP_KEYBLOB_RSA, .exponent = 65537,
			       .key = { modulus, 256 } } },
		{ "rsa512", { .type = UFTP_KEYBLOB_RSA, .exponent = 3, .key = { modulus, 64 } } },
		{ "ec_p256", { .type = UFTP_KEYBLOB_EC, .curve = 23, .key = { point, 65 } } },
		{ "ec_p521", { .type = UFTP_KEYBLOB_EC, .curve = 25, .key = { point, 133 } } },
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof(blobs) / sizeof(blobs[0]); i++) {
		uint8_t buf[512];
		struct fb_wcur w;
		fb_wcur_init(&w, buf, sizeof(buf));
		if (uftp_keyblob_encode(&w, &blobs[i].kb) || !fb_wcur_ok(&w)) {
			fprintf(stderr, "make_uftp_corpus: key blob %s does not encode\n",
				blobs[i].name);
			rc = -1;
			continue;
		}
		rc |= put(dir, "uftp_keyblob", blobs[i].name, buf, fb_wcur_offset(&w));
	}
	return rc;
}

/* Test keys for the corpus only, the smallest of each kind: a fuzzer
 * mutates text, and a 512-bit key parses as fast as it can be. */
static int pem_keys(const char *dir)
{
	static const struct { const char *name, *spec; } keys[] = {
		{ "rsa512", "rsa:512" },
		{ "ec_p256", "ec:prime256v1" },
		{ "ec_p384", "ec:secp384r1" },
		{ "ec_p521", "ec:secp521r1" },
	};
	struct crypto_rng *rng = crypto_rng_new();
	int rc = rng ? 0 : -1;
	for (size_t i = 0; rng && i < sizeof(keys) / sizeof(keys[0]); i++) {
		char why[CRYPTO_ERR_LEN], pem[8192];
		struct crypto_key *k = crypto_key_generate(rng, keys[i].spec, why);
		long n = k ? crypto_key_to_pem(k, pem, sizeof(pem)) : -1;
		if (n <= 0) {
			fprintf(stderr, "make_uftp_corpus: key %s: %s\n", keys[i].spec,
				k ? "does not write as PEM" : why);
			rc = -1;
		} else {
			rc |= put(dir, "crypto_pem", keys[i].name, pem, (size_t)n);
		}
		crypto_key_free(k);
	}
	crypto_rng_free(rng);
	crypto_thread_done();
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_uftp_corpus CORPUS_DIR\n");
		return 2;
	}
	int rc = 0;
	for (size_t i = 0; i < n_vectors; i++) {
		static uint8_t buf[70000];
		struct uftp_msg m;
		memset(&m, 0, sizeof(m));
		vectors[i].build(&m);
		long n = uftp_encode(buf, sizeof(buf), &m);
		if (n <= 0) {
			fprintf(stderr, "make_uftp_corpus: %s does not encode\n", vectors[i].name);
			rc = 1;
			continue;
		}
		rc |= put(argv[1], "uftp_decode", vectors[i].name, buf, (size_t)n) ? 1 : 0;
		if (m.hdr.func == UFTP_ENCRYPTED)
			continue;
		n = uftp_encode_body(buf, sizeof(buf), &m);
		if (n > 0)
			rc |= put(argv[1], "uftp_inner", vectors[i].name, buf, (size_t)n) ? 1 : 0;
	}
	rc |= keyblobs(argv[1]) ? 1 : 0;
	rc |= pem_keys(argv[1]) ? 1 : 0;
	return rc;
}
