/* schedule.c — uftp 4.x's key schedule over the PRF (protocol.txt 4):
 * session and group keys, handshake verify data, the group master in
 * KEYINFO, and the ENCRYPTED envelope's signature and cipher. */
#include <string.h>

#include "internal.h"

#define ENC_FIXED   12               /* IV counter, sig and payload lengths */
#define ENC_HDR     (UFTP_HDR_LEN + ENC_FIXED)
#define SRC_ID_OFF  4                /* in the UFTP header: after version, function, seq */

static int keyset_from(int hashtype, int keytype, const uint8_t *secret,
		       size_t slen, const uint8_t *seed, size_t seedlen,
		       struct crypto_keyset *ks)
{
	uint8_t block[CRYPTO_HASH_MAX + 32 + 4];
	size_t hl = crypto_hash_len(hashtype), kl = crypto_cipher_keylen(keytype);
	if (!hl || !kl || crypto_prf_uftp(hashtype, secret, slen, "key expansion",
					  seed, seedlen, block, hl + kl + 4) != 0)
		return -1;
	memset(ks, 0, sizeof(*ks));
	memcpy(ks->hmac, block, hl);
	memcpy(ks->key, block + hl, kl);
	memcpy(ks->salt, block + hl + kl, 4);
	ks->hmaclen = hl;
	ks->keylen = kl;
	explicit_bzero(block, sizeof(block));
	return 0;
}

int crypto_uftp_session_keys(int hashtype, int keytype, const void *premaster,
			     size_t plen, const uint8_t *rand1, const uint8_t *rand2,
			     struct crypto_keyset *ks)
{
	uint8_t seed[2 * CRYPTO_RAND_LEN], master[CRYPTO_MASTER_LEN];
	memcpy(seed, rand1, CRYPTO_RAND_LEN);
	memcpy(seed + CRYPTO_RAND_LEN, rand2, CRYPTO_RAND_LEN);
	int r = crypto_prf_uftp(hashtype, premaster, plen, "master secret", seed,
				sizeof(seed), master, sizeof(master));
	if (r == 0)
		r = keyset_from(hashtype, keytype, master, sizeof(master), seed,
				sizeof(seed), ks);
	explicit_bzero(master, sizeof(master));
	return r;
}

int crypto_uftp_group_keys(int hashtype, int keytype,
			   const uint8_t master[CRYPTO_MASTER_LEN],
			   const uint8_t *rand1, struct crypto_keyset *ks)
{
	return keyset_from(hashtype, keytype, master, CRYPTO_MASTER_LEN, rand1,
			   CRYPTO_RAND_LEN, ks);
}

long crypto_uftp_handshake(uint8_t *out, size_t cap, uint32_t group_id,
			   const void *addr, size_t addrlen, const uint8_t *rand1,
			   const uint8_t *rand2, const void *premaster, size_t plen,
			   const void *blob, size_t bloblen, const uint8_t *master)
{
	size_t need = 4 + addrlen + 2 * CRYPTO_RAND_LEN + plen +
		      (master ? bloblen + CRYPTO_MASTER_LEN : 0);
	if (need > cap)
		return -1;
	uint8_t *p = out;
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(group_id >> (24 - 8 * i));
	memcpy(p, addr, addrlen), p += addrlen;
	memcpy(p, rand1, CRYPTO_RAND_LEN), p += CRYPTO_RAND_LEN;
	memcpy(p, rand2, CRYPTO_RAND_LEN), p += CRYPTO_RAND_LEN;
	memcpy(p, premaster, plen), p += plen;
	if (master) {
		if (bloblen)
			memcpy(p, blob, bloblen), p += bloblen;
		memcpy(p, master, CRYPTO_MASTER_LEN), p += CRYPTO_MASTER_LEN;
	}
	return (long)(p - out);
}

int crypto_uftp_verify_data(int hashtype, const uint8_t master[CRYPTO_MASTER_LEN],
			    const void *hs, size_t len, uint8_t out[CRYPTO_VERIFY_LEN])
{
	uint8_t h[CRYPTO_HASH_MAX];
	if (crypto_hash(hashtype, hs, len, h) != 0)
		return -1;
	return crypto_prf_uftp(hashtype, master, CRYPTO_MASTER_LEN, "client finished",
			       h, crypto_hash_len(hashtype), out, CRYPTO_VERIFY_LEN);
}

/* GCM and CCM keys wrap the group master in CBC mode of the same size. */
static int unauth(int keytype)
{
	switch (keytype) {
	case UFTP_KEY_AES128_GCM:
	case UFTP_KEY_AES128_CCM: return UFTP_KEY_AES128_CBC;
	case UFTP_KEY_AES256_GCM:
	case UFTP_KEY_AES256_CCM: return UFTP_KEY_AES256_CBC;
	default:                  return keytype;
	}
}

int crypto_uftp_wrap_master(int keytype, const struct crypto_keyset *ks,
			    uint32_t src_id, uint64_t iv_ctr,
			    const uint8_t master[CRYPTO_MASTER_LEN], uint8_t out[48])
{
	uint8_t iv[16];
	int kt = unauth(keytype);
	crypto_cipher_iv(kt, ks->salt, src_id, iv_ctr, iv);
	return crypto_encrypt(kt, ks->key, iv, NULL, 0, master + 1,
			      CRYPTO_MASTER_LEN - 1, out, 48) == 48 ? 0 : -1;
}

int crypto_uftp_unwrap_master(int keytype, const struct crypto_keyset *ks,
			      uint32_t src_id, uint64_t iv_ctr, uint8_t version,
			      const uint8_t in[48], uint8_t master[CRYPTO_MASTER_LEN])
{
	uint8_t iv[16], plain[48];
	int kt = unauth(keytype);
	crypto_cipher_iv(kt, ks->salt, src_id, iv_ctr, iv);
	if (crypto_decrypt(kt, ks->key, iv, NULL, 0, in, 48, plain, sizeof(plain)) !=
	    CRYPTO_MASTER_LEN - 1)
		return -1;
	master[0] = version;
	memcpy(master + 1, plain, CRYPTO_MASTER_LEN - 1);
	explicit_bzero(plain, sizeof(plain));
	return 0;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The signature covers the whole datagram with the signature zeroed. */
bool crypto_uftp_check_sig(const struct crypto_keyset *ks, int hashtype,
			   int sigtype, const struct crypto_key *signer,
			   const uint8_t *dgram, size_t len, size_t sigoff,
			   const uint8_t *sig, size_t siglen)
{
	uint8_t copy[16384], mac[CRYPTO_HASH_MAX];   /* UFTP datagrams are smaller */
	if (len > sizeof(copy) || sigoff > len || siglen > len - sigoff)
		return false;
	memcpy(copy, dgram, len);
	memset(copy + sigoff, 0, siglen);
	if (sigtype == UFTP_SIG_HMAC) {
		uint8_t diff = 0;
		if (!ks || siglen != ks->hmaclen ||
		    crypto_hmac(hashtype, ks->hmac, ks->hmaclen, copy, len, mac) != 0)
			return false;
		for (size_t i = 0; i < siglen; i++)
			diff |= (uint8_t)(mac[i] ^ sig[i]);
		return diff == 0;
	}
	return sigtype == UFTP_SIG_KEYEX && signer &&
	       crypto_verify(signer, hashtype, copy, len, sig, siglen);
}

long crypto_uftp_open(const struct crypto_keyset *ks, int keytype, int hashtype,
		      int sigtype, const struct crypto_key *signer,
		      const uint8_t *dgram, size_t len, const uint8_t *sig,
		      size_t siglen, const uint8_t *payload, size_t paylen,
		      uint8_t *out, size_t cap)
{
	uint8_t iv[16];
	bool aead = crypto_cipher_aead(keytype);
	if (len < ENC_HDR || sig != dgram + ENC_HDR || payload != sig + siglen ||
	    payload + paylen != dgram + len || aead != (sigtype == UFTP_SIG_AUTHENC))
		return -1;
	if (!aead && !crypto_uftp_check_sig(ks, hashtype, sigtype, signer, dgram,
					    len, ENC_HDR, sig, siglen))
		return -1;
	uint64_t ctr = (uint64_t)get32(dgram + UFTP_HDR_LEN) << 32 |
		       get32(dgram + UFTP_HDR_LEN + 4);
	crypto_cipher_iv(keytype, ks->salt, get32(dgram + SRC_ID_OFF), ctr, iv);
	return crypto_decrypt(keytype, ks->key, iv, dgram, aead ? ENC_HDR : 0,
			      payload, paylen, out, cap);
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static size_t seal_siglen(const struct crypto_keyset *ks, int sigtype,
			  const struct crypto_key *signer)
{
	switch (sigtype) {
	case UFTP_SIG_HMAC:  return ks->hmaclen;
	case UFTP_SIG_KEYEX: return signer ? crypto_sig_len(signer) : 0;
	default:             return 0;
	}
}

long crypto_uftp_seal(const struct crypto_keyset *ks, int keytype, int hashtype,
		      int sigtype, struct crypto_key *signer, struct crypto_rng *rng,
		      const uint8_t hdr[16], uint64_t iv_ctr, const void *plain,
		      size_t plen, uint8_t *out, size_t cap)
{
	uint8_t iv[16];
	bool aead = crypto_cipher_aead(keytype);
	size_t siglen = seal_siglen(ks, sigtype, signer);
	size_t body = aead ? plen + 16 : (plen / 16 + 1) * 16;
	if (aead != (sigtype == UFTP_SIG_AUTHENC) || (sigtype == UFTP_SIG_KEYEX && !siglen) ||
	    ENC_HDR + siglen + body > cap || body > UINT16_MAX)
		return -1;
	memcpy(out, hdr, UFTP_HDR_LEN);
	out[1] = UFTP_ENCRYPTED;
	for (int i = 0; i < 8; i++)
		out[UFTP_HDR_LEN + i] = (uint8_t)(iv_ctr >> (56 - 8 * i));
	put16(out + UFTP_HDR_LEN + 8, siglen);
	put16(out + UFTP_HDR_LEN + 10, aead ? body : 0);
	uint8_t *payload = out + ENC_HDR + siglen;
	crypto_cipher_iv(keytype, ks->salt, get32(out + SRC_ID_OFF), iv_ctr, iv);
	long n = crypto_encrypt(keytype, ks->key, iv, out, aead ? ENC_HDR : 0, plain,
				plen, payload, cap - ENC_HDR - siglen);
	if (n < 0)
		return -1;
	put16(out + UFTP_HDR_LEN + 10, (size_t)n);
	size_t len = ENC_HDR + siglen + (size_t)n;
	memset(out + ENC_HDR, 0, siglen);
	if (sigtype == UFTP_SIG_HMAC)
		return crypto_hmac(hashtype, ks->hmac, ks->hmaclen, out, len,
				   out + ENC_HDR) == 0 ? (long)len : -1;
	if (sigtype == UFTP_SIG_KEYEX) {
		uint8_t sig[CRYPTO_SIG_MAX];
		long s = crypto_sign(signer, rng, hashtype, out, len, sig, sizeof(sig));
		if (s != (long)siglen)
			return -1;
		memcpy(out + ENC_HDR, sig, siglen);
	}
	return (long)len;
}

long crypto_uftp_resign(const struct crypto_key *from, struct crypto_key *signer,
			struct crypto_rng *rng, int hashtype, const uint8_t *dgram,
			size_t len, uint8_t *out, size_t cap)
{
	if (len < ENC_HDR || dgram[1] != UFTP_ENCRYPTED || !from || !signer)
		return -1;
	size_t oldlen = (size_t)dgram[UFTP_HDR_LEN + 8] << 8 | dgram[UFTP_HDR_LEN + 9];
	size_t siglen = crypto_sig_len(signer);
	if (oldlen > len - ENC_HDR || oldlen > CRYPTO_SIG_MAX ||
	    !crypto_uftp_check_sig(NULL, hashtype, UFTP_SIG_KEYEX, from, dgram, len,
				   ENC_HDR, dgram + ENC_HDR, oldlen))
		return -1;
	size_t paylen = len - ENC_HDR - oldlen, outlen = ENC_HDR + siglen + paylen;
	uint8_t sig[CRYPTO_SIG_MAX];
	if (outlen > cap || siglen > sizeof(sig))
		return -1;
	memcpy(out, dgram, ENC_HDR);
	put16(out + UFTP_HDR_LEN + 8, siglen);
	memset(out + ENC_HDR, 0, siglen);
	memcpy(out + ENC_HDR + siglen, dgram + ENC_HDR + oldlen, paylen);
	if (crypto_sign(signer, rng, hashtype, out, outlen, sig, sizeof(sig)) !=
	    (long)siglen)
		return -1;
	memcpy(out + ENC_HDR, sig, siglen);
	return (long)outlen;
}
