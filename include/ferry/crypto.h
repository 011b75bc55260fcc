/* crypto.h — the crypto module (src/crypto): the only code that includes
 * wolfSSL headers. */
#ifndef FERRY_CRYPTO_H
#define FERRY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* ---- digest.c: message digests and CRC-32 over a stream of bytes -------- */
enum crypto_digest_alg {
	CRYPTO_MD5, CRYPTO_SHA1, CRYPTO_SHA256, CRYPTO_SHA512, CRYPTO_CRC32,
};
enum { CRYPTO_DIGEST_MAX = 64 };   /* bytes of the longest digest (SHA-512) */

struct crypto_digest;
/* NULL when out of memory or the algorithm is not built into wolfCrypt. */
struct crypto_digest *crypto_digest_new(enum crypto_digest_alg alg);
int crypto_digest_update(struct crypto_digest *d, const void *data, size_t len); /* 0/-1 */
/* Writes the digest (big-endian for CRC-32) to out (CRYPTO_DIGEST_MAX
 * bytes); returns its length, or -1. The object is spent afterwards. */
int crypto_digest_final(struct crypto_digest *d, uint8_t *out);
void crypto_digest_free(struct crypto_digest *d);

#endif
