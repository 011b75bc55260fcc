/* hash.c — message digests, HMAC and the three PRFs (TLS 1.0/1.1, TLS 1.2,
 * and uftp 4.x's variant) used to derive UFTP session keys. */
#include <string.h>

#include "internal.h"

#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/kdf.h>


#define LABEL_MAX 64         /* uftp's labels are "master secret" and such */
#define SEED_MAX  256

static const struct {
	enum wc_HashType wc;
	int mac;               /* wolfCrypt's MAC algorithm number for wc_PRF_TLS */
} hashes[] = {
	[UFTP_HASH_MD5]    = { WC_HASH_TYPE_MD5,    md5_mac },
	[UFTP_HASH_SHA1]   = { WC_HASH_TYPE_SHA,    sha_mac },
	[UFTP_HASH_SHA256] = { WC_HASH_TYPE_SHA256, sha256_mac },
	[UFTP_HASH_SHA384] = { WC_HASH_TYPE_SHA384, sha384_mac },
	[UFTP_HASH_SHA512] = { WC_HASH_TYPE_SHA512, sha512_mac },
};

enum wc_HashType crypto_wc_hash(int hashtype)
{
	if (hashtype <= UFTP_HASH_NONE ||
	    hashtype >= (int)(sizeof(hashes) / sizeof(*hashes)))
		return WC_HASH_TYPE_NONE;
	return hashes[hashtype].wc;
}

size_t crypto_hash_len(int hashtype)
{
	enum wc_HashType t = crypto_wc_hash(hashtype);
	int n = t == WC_HASH_TYPE_NONE ? 0 : wc_HashGetDigestSize(t);
	return n > 0 ? (size_t)n : 0;
}

int crypto_hash(int hashtype, const void *in, size_t len, uint8_t *out)
{
	size_t n = crypto_hash_len(hashtype);
	if (!n || len > UINT32_MAX)
		return -1;
	return wc_Hash(crypto_wc_hash(hashtype), in, (word32)len, out,
		       (word32)n) == 0 ? 0 : -1;
}

int crypto_hmac(int hashtype, const void *key, size_t keylen,
		const void *in, size_t len, uint8_t *out)
{
	Hmac h;
	if (!crypto_hash_len(hashtype) || keylen > UINT32_MAX || len > UINT32_MAX ||
	    wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		return -1;
	int r = wc_HmacSetKey(&h, (int)crypto_wc_hash(hashtype), key, (word32)keylen);
	if (r == 0)
		r = wc_HmacUpdate(&h, in, (word32)len);
	if (r == 0)
		r = wc_HmacFinal(&h, out);
	wc_HmacFree(&h);
	return r == 0 ? 0 : -1;
}

static bool prf_args_ok(size_t slen, const char *label, size_t seedlen, size_t n)
{
	return slen <= UINT32_MAX && strlen(label) <= LABEL_MAX &&
	       seedlen <= SEED_MAX && n <= UINT32_MAX;
}

int crypto_prf_tls10(const void *secret, size_t slen, const char *label,
		     const void *seed, size_t seedlen, uint8_t *out, size_t n)
{
	if (!prf_args_ok(slen, label, seedlen, n))
		return -1;
	return wc_PRF_TLSv1(out, (word32)n, secret, (word32)slen,
			    (const byte *)label, (word32)strlen(label), seed,
			    (word32)seedlen, NULL, INVALID_DEVID) == 0 ? 0 : -1;
}

int crypto_prf_tls12(int hashtype, const void *secret, size_t slen,
		     const char *label, const void *seed, size_t seedlen,
		     uint8_t *out, size_t n)
{
	if (!crypto_hash_len(hashtype) || hashtype == UFTP_HASH_MD5 ||
	    !prf_args_ok(slen, label, seedlen, n))
		return -1;
	return wc_PRF_TLS(out, (word32)n, secret, (word32)slen,
			  (const byte *)label, (word32)strlen(label), seed,
			  (word32)seedlen, 1, hashes[hashtype].mac, NULL,
			  INVALID_DEVID) == 0 ? 0 : -1;
}

/* uftp's P_hash: block(i) = HMAC(A(i) + seed) as in TLS, but the next A is
 * HMAC of what was just hashed (A(i) + seed), which is block(i) itself;
 * TLS takes HMAC(A(i)). Only the first block agrees with RFC 5246. */
static int p_hash_uftp(int hashtype, const uint8_t *secret, size_t slen,
		       const uint8_t *lseed, size_t lslen, uint8_t *out, size_t n)
{
	size_t hl = crypto_hash_len(hashtype);
	uint8_t in[CRYPTO_HASH_MAX + LABEL_MAX + SEED_MAX];
	uint8_t a[CRYPTO_HASH_MAX], block[CRYPTO_HASH_MAX];
	if (crypto_hmac(hashtype, secret, slen, lseed, lslen, a))
		return -1;
	for (size_t done = 0; done < n; done += hl) {
		memcpy(in, a, hl);
		memcpy(in + hl, lseed, lslen);
		if (crypto_hmac(hashtype, secret, slen, in, hl + lslen, block))
			return -1;
		memcpy(out + done, block, n - done < hl ? n - done : hl);
		memcpy(a, block, hl);
	}
	return 0;
}

int crypto_prf_uftp(int hashtype, const void *secret, size_t slen,
		    const char *label, const void *seed, size_t seedlen,
		    uint8_t *out, size_t n)
{
	uint8_t lseed[LABEL_MAX + SEED_MAX], md5[512], sha[512];
	size_t llen = strlen(label);
	if (!prf_args_ok(slen, label, seedlen, n) || !crypto_hash_len(hashtype))
		return -1;
	memcpy(lseed, label, llen);
	memcpy(lseed + llen, seed, seedlen);
	if (hashtype != UFTP_HASH_SHA1)
		return p_hash_uftp(hashtype, secret, slen, lseed, llen + seedlen,
				   out, n);
	/* TLS 1.1: MD5 over the first half, SHA-1 over the second, halves
	 * overlapping by a byte when the secret's length is odd. */
	size_t half = (slen + 1) / 2;
	const uint8_t *s = secret;
	if (n > sizeof(md5) ||
	    p_hash_uftp(UFTP_HASH_MD5, s, half, lseed, llen + seedlen, md5, n) ||
	    p_hash_uftp(UFTP_HASH_SHA1, s + slen - half, half, lseed,
			llen + seedlen, sha, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = md5[i] ^ sha[i];
	return 0;
}
