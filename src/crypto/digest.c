/* digest.c — message digests (MD5, SHA-1, SHA-256, SHA-512) by wolfCrypt's
 * generic hash interface, and the CRC-32 of XCRC, behind one small API. */
#include <stdlib.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "ferry/crypto.h"

struct crypto_digest {
	enum crypto_digest_alg alg;
	enum wc_HashType type;
	uint32_t crc;
	wc_HashAlg h;
};

static enum wc_HashType wc_type(enum crypto_digest_alg alg)
{
	switch (alg) {
	case CRYPTO_MD5: return WC_HASH_TYPE_MD5;
	case CRYPTO_SHA1: return WC_HASH_TYPE_SHA;
	case CRYPTO_SHA256: return WC_HASH_TYPE_SHA256;
	case CRYPTO_SHA512: return WC_HASH_TYPE_SHA512;
	case CRYPTO_CRC32: break;
	}
	return WC_HASH_TYPE_NONE;
}

struct crypto_digest *crypto_digest_new(enum crypto_digest_alg alg)
{
	struct crypto_digest *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->alg = alg;
	d->type = wc_type(alg);
	d->crc = 0xffffffffu;
	if (alg != CRYPTO_CRC32 && wc_HashInit(&d->h, d->type) != 0) {
		free(d);
		return NULL;
	}
	return d;
}

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bitwise: XCRC is
 * rare and bounded by max_hash_jobs, so no table is kept. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return crc;
}

int crypto_digest_update(struct crypto_digest *d, const void *data, size_t len)
{
	if (d->alg == CRYPTO_CRC32) {
		d->crc = crc32_update(d->crc, data, len);
		return 0;
	}
	const uint8_t *p = data;
	while (len) {      /* wolfCrypt takes 32-bit lengths */
		word32 n = len > 0x40000000u ? 0x40000000u : (word32)len;
		if (wc_HashUpdate(&d->h, d->type, p, n) != 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int crypto_digest_final(struct crypto_digest *d, uint8_t *out)
{
	if (d->alg == CRYPTO_CRC32) {
		uint32_t c = ~d->crc;
		out[0] = (uint8_t)(c >> 24);
		out[1] = (uint8_t)(c >> 16);
		out[2] = (uint8_t)(c >> 8);
		out[3] = (uint8_t)c;
		return 4;
	}
	int n = wc_HashGetDigestSize(d->type);
	if (n <= 0 || n > CRYPTO_DIGEST_MAX || wc_HashFinal(&d->h, d->type, out) != 0)
		return -1;
	return n;
}

void crypto_digest_free(struct crypto_digest *d)
{
	if (!d)
		return;
	if (d->alg != CRYPTO_CRC32)
		wc_HashFree(&d->h, d->type);
	free(d);
}
