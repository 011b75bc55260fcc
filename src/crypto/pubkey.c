/* pubkey.c — the public-key operations of UFTP's key exchange: RSA
 * encryption of the premaster, RSA and ECDSA signatures in uftp's encoding,
 * and ECDH. Slow: callers run them off the workers. */
#include <string.h>

#include "internal.h"

#include <wolfssl/wolfcrypt/signature.h>


#define OAEP_MIN_BITS 768       /* uftp pads with PKCS#1 v1.5 below this */
#define EC_COORD_MAX  66

/* wolfCrypt keeps per-operation state (and the blinding RNG) in the key
 * itself, public operations included, so every use of a key holds its
 * lock: a key may be shared by the helper threads. */
static void lock(const struct crypto_key *k)
{
	pthread_mutex_lock((pthread_mutex_t *)&k->lock);
}

static void unlock(const struct crypto_key *k)
{
	pthread_mutex_unlock((pthread_mutex_t *)&k->lock);
}

static bool rsa_oaep(const struct crypto_key *k)
{
	return crypto_key_bits(k) >= OAEP_MIN_BITS;
}

long crypto_rsa_encrypt(const struct crypto_key *pub, struct crypto_rng *rng,
			const void *in, size_t len, uint8_t *out, size_t cap)
{
	if (pub->type != UFTP_KEYBLOB_RSA || len > UINT32_MAX || cap > UINT32_MAX)
		return -1;
	RsaKey *k = (RsaKey *)&pub->u.rsa;
	lock(pub);
	int r = rsa_oaep(pub)
		? wc_RsaPublicEncrypt_ex(in, (word32)len, out, (word32)cap, k,
					 &rng->rng, WC_RSA_OAEP_PAD, WC_HASH_TYPE_SHA,
					 WC_MGF1SHA1, NULL, 0)
		: wc_RsaPublicEncrypt(in, (word32)len, out, (word32)cap, k, &rng->rng);
	unlock(pub);
	return r > 0 ? r : -1;
}

long crypto_rsa_decrypt(struct crypto_key *priv, struct crypto_rng *rng,
			const void *in, size_t len, uint8_t *out, size_t cap)
{
	if (priv->type != UFTP_KEYBLOB_RSA || !priv->priv || len > UINT32_MAX ||
	    cap > UINT32_MAX)
		return -1;
	lock(priv);
	int r = wc_RsaSetRNG(&priv->u.rsa, &rng->rng);
	if (r == 0)
		r = rsa_oaep(priv)
			? wc_RsaPrivateDecrypt_ex(in, (word32)len, out, (word32)cap,
						  &priv->u.rsa, WC_RSA_OAEP_PAD,
						  WC_HASH_TYPE_SHA, WC_MGF1SHA1, NULL, 0)
			: wc_RsaPrivateDecrypt(in, (word32)len, out, (word32)cap,
					       &priv->u.rsa);
	wc_RsaSetRNG(&priv->u.rsa, NULL);
	unlock(priv);
	return r > 0 ? r : -1;
}

/* EC signatures are rlen, slen, r, s, zero padded as uftp's EC_keylen:
 * 2 * coordinate bytes rounded up to 4, plus the two lengths. */
size_t crypto_sig_len(const struct crypto_key *k)
{
	if (k->type == UFTP_KEYBLOB_RSA)
		return (size_t)wc_RsaEncryptSize((RsaKey *)&k->u.rsa);
	size_t coords = 2 * crypto_key_bits(k) / 8;
	return 4 + (coords + 3) / 4 * 4;
}

static long rsa_sign(struct crypto_key *priv, struct crypto_rng *rng,
		     enum wc_HashType h, const void *msg, size_t len,
		     uint8_t *sig, size_t cap)
{
	word32 siglen = (word32)cap;
	lock(priv);
	int r = wc_SignatureGenerate(h, WC_SIGNATURE_TYPE_RSA_W_ENC, msg,
				     (word32)len, sig, &siglen, &priv->u.rsa,
				     sizeof(priv->u.rsa), &rng->rng);
	unlock(priv);
	return r == 0 ? (long)siglen : -1;
}

static size_t strip_zeros(uint8_t *v, size_t n)
{
	size_t z = 0;
	while (z + 1 < n && v[z] == 0)
		z++;
	memmove(v, v + z, n - z);
	return n - z;
}

static long ec_sign(struct crypto_key *priv, struct crypto_rng *rng,
		    int hashtype, const void *msg, size_t len, uint8_t *sig,
		    size_t cap)
{
	uint8_t dig[CRYPTO_HASH_MAX], der[2 * EC_COORD_MAX + 16];
	uint8_t r[EC_COORD_MAX + 1], s[EC_COORD_MAX + 1];
	word32 derlen = sizeof(der), rlen = sizeof(r), slen = sizeof(s);
	size_t need = crypto_sig_len(priv);
	if (cap < need || crypto_hash(hashtype, msg, len, dig) != 0)
		return -1;
	lock(priv);
	int rc = wc_ecc_sign_hash(dig, (word32)crypto_hash_len(hashtype), der,
				  &derlen, &rng->rng, &priv->u.ec);
	unlock(priv);
	if (rc != 0 || wc_ecc_sig_to_rs(der, derlen, r, &rlen, s, &slen) != 0)
		return -1;
	rlen = (word32)strip_zeros(r, rlen);
	slen = (word32)strip_zeros(s, slen);
	if (4 + rlen + slen > need)
		return -1;
	memset(sig, 0, need);
	sig[0] = (uint8_t)(rlen >> 8), sig[1] = (uint8_t)rlen;
	sig[2] = (uint8_t)(slen >> 8), sig[3] = (uint8_t)slen;
	memcpy(sig + 4, r, rlen);
	memcpy(sig + 4 + rlen, s, slen);
	return (long)need;
}

long crypto_sign(struct crypto_key *priv, struct crypto_rng *rng, int hashtype,
		 const void *msg, size_t len, uint8_t *sig, size_t cap)
{
	enum wc_HashType h = crypto_wc_hash(hashtype);
	if (!priv->priv || h == WC_HASH_TYPE_NONE || len > UINT32_MAX ||
	    cap > UINT32_MAX)
		return -1;
	return priv->type == UFTP_KEYBLOB_RSA
		? rsa_sign(priv, rng, h, msg, len, sig, cap)
		: ec_sign(priv, rng, hashtype, msg, len, sig, cap);
}

static bool ec_verify(const struct crypto_key *pub, int hashtype,
		      const void *msg, size_t len, const uint8_t *sig,
		      size_t siglen)
{
	uint8_t dig[CRYPTO_HASH_MAX], der[2 * EC_COORD_MAX + 16];
	word32 derlen = sizeof(der);
	int ok = 0;
	if (siglen < 4)
		return false;
	size_t rlen = (size_t)sig[0] << 8 | sig[1], slen = (size_t)sig[2] << 8 | sig[3];
	if (rlen == 0 || slen == 0 || rlen > EC_COORD_MAX || slen > EC_COORD_MAX ||
	    4 + rlen + slen > siglen ||
	    crypto_hash(hashtype, msg, len, dig) != 0 ||
	    wc_ecc_rs_raw_to_sig(sig + 4, (word32)rlen, sig + 4 + rlen,
				 (word32)slen, der, &derlen) != 0)
		return false;
	lock(pub);
	int r = wc_ecc_verify_hash(der, derlen, dig, (word32)crypto_hash_len(hashtype),
				   &ok, (ecc_key *)&pub->u.ec);
	unlock(pub);
	return r == 0 && ok == 1;
}

bool crypto_verify(const struct crypto_key *pub, int hashtype,
		   const void *msg, size_t len, const void *sig, size_t siglen)
{
	enum wc_HashType h = crypto_wc_hash(hashtype);
	if (h == WC_HASH_TYPE_NONE || len > UINT32_MAX || siglen > CRYPTO_SIG_MAX)
		return false;
	if (pub->type == UFTP_KEYBLOB_EC)
		return ec_verify(pub, hashtype, msg, len, sig, siglen);
	if (siglen != crypto_sig_len(pub))
		return false;
	lock(pub);
	int r = wc_SignatureVerify(h, WC_SIGNATURE_TYPE_RSA_W_ENC, msg, (word32)len,
				   sig, (word32)siglen, (RsaKey *)&pub->u.rsa,
				   sizeof(pub->u.rsa));
	unlock(pub);
	return r == 0;
}

int crypto_ecdh(struct crypto_key *priv, struct crypto_rng *rng,
		const struct crypto_key *peer, uint8_t out[CRYPTO_ECDH_LEN])
{
	uint8_t secret[EC_COORD_MAX];
	word32 len = sizeof(secret);
	if (priv->type != UFTP_KEYBLOB_EC || peer->type != UFTP_KEYBLOB_EC ||
	    !priv->priv || priv->curve != peer->curve)
		return -1;
	if (peer->priv)       /* a peer's key is public: locks go private, public */
		return -1;
	lock(priv);
	lock(peer);
	int r = wc_ecc_set_rng(&priv->u.ec, &rng->rng);
	if (r == 0)
		r = wc_ecc_shared_secret(&priv->u.ec, (ecc_key *)&peer->u.ec,
					 secret, &len);
	wc_ecc_set_rng(&priv->u.ec, NULL);
	unlock(peer);
	unlock(priv);
	r = r == 0 ? crypto_hash(UFTP_HASH_SHA1, secret, len, out) : -1;
	explicit_bzero(secret, sizeof(secret));
	return r;
}
