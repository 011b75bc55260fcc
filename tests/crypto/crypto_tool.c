/* crypto_tool.c — a test aid: runs one src/crypto operation from the
 * command line (hex in, hex out) so test_crypto_cli.py can check it
 * against OpenSSL, Python's cryptography and uftp_keymgt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/crypto.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;
	while (h[0] && h[1] && n < cap && sscanf(h, "%2x", &v) == 1) {
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

static void puthex(const uint8_t *p, long n)
{
	for (long i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static struct crypto_key *load(const char *path)
{
	char why[CRYPTO_ERR_LEN];
	struct crypto_key *k = crypto_key_read_file(path, why);
	if (!k) {
		printf("error: %s: %s\n", path, why);
		exit(3);
	}
	return k;
}

static int cmd_gen(struct crypto_rng *rng, char **a)
{
	char why[CRYPTO_ERR_LEN], line[200];
	struct crypto_key *k = crypto_key_generate(rng, a[0], why);
	if (!k || crypto_key_write_file(k, a[1], why) != 0) {
		printf("error: %s\n", why);
		crypto_key_free(k);
		return 3;
	}
	crypto_key_describe(k, line, sizeof(line));
	printf("%s\n", line);
	crypto_key_free(k);
	return 0;
}

static int cmd_show(struct crypto_rng *rng, char **a)
{
	(void)rng;
	char line[200];
	struct crypto_key *k = load(a[0]);
	crypto_key_describe(k, line, sizeof(line));
	printf("%s\n", line);
	crypto_key_free(k);
	return 0;
}

static int cmd_blob(struct crypto_rng *rng, char **a)
{
	(void)rng;
	uint8_t blob[CRYPTO_BLOB_MAX];
	struct crypto_key *k = load(a[0]);
	puthex(blob, crypto_key_blob(k, blob, sizeof(blob)));
	crypto_key_free(k);
	return 0;
}

static int cmd_sign(struct crypto_rng *rng, char **a)
{
	uint8_t msg[1024], sig[CRYPTO_SIG_MAX];
	struct crypto_key *k = load(a[1]);
	size_t n = unhex(a[2], msg, sizeof(msg));
	long s = crypto_sign(k, rng, atoi(a[0]), msg, n, sig, sizeof(sig));
	puthex(sig, s);
	crypto_key_free(k);
	return s < 0;
}

static int cmd_verify(struct crypto_rng *rng, char **a)
{
	(void)rng;
	uint8_t blob[CRYPTO_BLOB_MAX], msg[1024], sig[2048];
	size_t bl = unhex(a[1], blob, sizeof(blob)), ml = unhex(a[2], msg, sizeof(msg));
	size_t sl = unhex(a[3], sig, sizeof(sig));
	struct crypto_key *k = crypto_key_from_blob(blob, bl);
	bool ok = k && crypto_verify(k, atoi(a[0]), msg, ml, sig, sl);
	printf("%s\n", ok ? "good" : "bad");
	crypto_key_free(k);
	return 0;
}

static int cmd_prf(struct crypto_rng *rng, char **a)
{
	(void)rng;
	uint8_t secret[256], seed[256], out[512];
	size_t sl = unhex(a[1], secret, sizeof(secret)), dl = unhex(a[3], seed, sizeof(seed));
	size_t n = (size_t)atoi(a[4]);
	if (n > sizeof(out) ||
	    crypto_prf_uftp(atoi(a[0]), secret, sl, a[2], seed, dl, out, n) != 0)
		return 1;
	puthex(out, (long)n);
	return 0;
}

static int cmd_enc(struct crypto_rng *rng, char **a)
{
	(void)rng;
	uint8_t key[32], iv[16], aad[256], pt[512], ct[600];
	unhex(a[1], key, sizeof(key));
	unhex(a[2], iv, sizeof(iv));
	size_t al = unhex(a[3], aad, sizeof(aad)), pl = unhex(a[4], pt, sizeof(pt));
	long n = crypto_encrypt(atoi(a[0]), key, iv, aad, al, pt, pl, ct, sizeof(ct));
	puthex(ct, n);
	return n < 0;
}

static int cmd_rsaenc(struct crypto_rng *rng, char **a)
{
	uint8_t blob[CRYPTO_BLOB_MAX], pt[512], ct[512];
	struct crypto_key *k = load(a[0]);
	long bl = crypto_key_blob(k, blob, sizeof(blob));
	struct crypto_key *pub = crypto_key_from_blob(blob, (size_t)bl);
	size_t pl = unhex(a[1], pt, sizeof(pt));
	long n = pub ? crypto_rsa_encrypt(pub, rng, pt, pl, ct, sizeof(ct)) : -1;
	puthex(ct, n);
	crypto_key_free(pub);
	crypto_key_free(k);
	return n < 0;
}

static int cmd_ecdh(struct crypto_rng *rng, char **a)
{
	uint8_t blob[CRYPTO_BLOB_MAX], out[CRYPTO_ECDH_LEN];
	struct crypto_key *k = load(a[0]);
	struct crypto_key *peer = crypto_key_from_blob(blob, unhex(a[1], blob, sizeof(blob)));
	int r = peer ? crypto_ecdh(k, rng, peer, out) : -1;
	if (r == 0)
		puthex(out, sizeof(out));
	crypto_key_free(peer);
	crypto_key_free(k);
	return r != 0;
}

static const struct {
	const char *name;
	int argc;
	int (*fn)(struct crypto_rng *rng, char **argv);
} cmds[] = {
	{ "gen", 2, cmd_gen },   { "show", 1, cmd_show },     { "blob", 1, cmd_blob },
	{ "sign", 3, cmd_sign }, { "verify", 4, cmd_verify }, { "prf", 5, cmd_prf },
	{ "enc", 5, cmd_enc },   { "rsaenc", 2, cmd_rsaenc }, { "ecdh", 2, cmd_ecdh },
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(*cmds); i++) {
		if (strcmp(argv[1], cmds[i].name) || argc - 2 != cmds[i].argc)
			continue;
		struct crypto_rng *rng = crypto_rng_new();
		int rc = rng ? cmds[i].fn(rng, argv + 2) : 1;
		crypto_rng_free(rng);
		return rc;
	}
	fprintf(stderr, "usage: crypto_tool gen|show|blob|sign|verify|prf|enc|rsaenc|ecdh ...\n");
	return 2;
}
