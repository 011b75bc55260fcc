/* keyblob.c — public keys to and from uftp's key blobs (protocol.txt
 * 5.2.3.2/5.2.3.3), fingerprints, and uftp's "Loaded ... key" line. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define EC_POINT_MAX (1 + 2 * 66)      /* 04 || X || Y on secp521r1 */

static long rsa_blob(const struct crypto_key *k, uint8_t *out, size_t cap)
{
	uint8_t n[CRYPTO_RSA_MAX / 8], e[8];
	word32 nlen = sizeof(n), elen = sizeof(e);
	if (wc_RsaFlattenPublicKey((RsaKey *)&k->u.rsa, e, &elen, n, &nlen) != 0 ||
	    elen > 4)
		return -1;
	uint32_t exp = 0;
	for (word32 i = 0; i < elen; i++)
		exp = exp << 8 | e[i];
	struct uftp_keyblob kb = { .type = UFTP_KEYBLOB_RSA, .exponent = exp,
				   .key = { n, nlen } };
	struct fb_wcur w;
	fb_wcur_init(&w, out, cap);
	return uftp_keyblob_encode(&w, &kb) == UFTP_OK ? (long)fb_wcur_offset(&w) : -1;
}

/* uftp exports X || Y without OpenSSL's leading 04, padded with zeros to a
 * multiple of 4 (the key length field does not count the padding). */
static long ec_blob(const struct crypto_key *k, uint8_t *out, size_t cap)
{
	uint8_t pt[EC_POINT_MAX];
	word32 len = sizeof(pt);
	if (wc_ecc_export_x963((ecc_key *)&k->u.ec, pt, &len) != 0 || len < 3 ||
	    pt[0] != 4)
		return -1;
	struct uftp_keyblob kb = { .type = UFTP_KEYBLOB_EC, .curve = (uint8_t)k->curve,
				   .key = { pt + 1, len - 1 } };
	struct fb_wcur w;
	fb_wcur_init(&w, out, cap);
	if (uftp_keyblob_encode(&w, &kb) != UFTP_OK)
		return -1;
	fb_wcur_pad4(&w, 0);
	return fb_wcur_ok(&w) ? (long)fb_wcur_offset(&w) : -1;
}

long crypto_key_blob(const struct crypto_key *k, uint8_t *out, size_t cap)
{
	return k->type == UFTP_KEYBLOB_RSA ? rsa_blob(k, out, cap)
					   : ec_blob(k, out, cap);
}

static struct crypto_key *rsa_from(const struct uftp_keyblob *kb)
{
	uint8_t e[4] = { (uint8_t)(kb->exponent >> 24), (uint8_t)(kb->exponent >> 16),
			 (uint8_t)(kb->exponent >> 8), (uint8_t)kb->exponent };
	struct crypto_key *k = crypto_key_alloc(UFTP_KEYBLOB_RSA, false);
	size_t bits = kb->key.len * 8;
	if (k && bits >= CRYPTO_RSA_MIN && bits <= CRYPTO_RSA_MAX &&
	    wc_RsaPublicKeyDecodeRaw(kb->key.p, (word32)kb->key.len, e, 4,
				     &k->u.rsa) == 0)
		return k;
	crypto_key_free(k);
	return NULL;
}

static struct crypto_key *ec_from(const struct uftp_keyblob *kb)
{
	uint8_t pt[EC_POINT_MAX];
	int id = crypto_wc_curve(kb->curve);
	if (!crypto_curve_supported(kb->curve) || kb->key.len + 1 > sizeof(pt) ||
	    kb->key.len != 2 * (size_t)wc_ecc_get_curve_size_from_id(id))
		return NULL;
	pt[0] = 4;
	memcpy(pt + 1, kb->key.p, kb->key.len);
	struct crypto_key *k = crypto_key_alloc(UFTP_KEYBLOB_EC, false);
	if (k && wc_ecc_import_x963_ex(pt, (word32)kb->key.len + 1, &k->u.ec, id) == 0 &&
	    wc_ecc_check_key(&k->u.ec) == 0) {
		k->curve = kb->curve;
		return k;
	}
	crypto_key_free(k);
	return NULL;
}

struct crypto_key *crypto_key_from_blob(const void *blob, size_t len)
{
	struct uftp_keyblob kb;
	if (uftp_keyblob_decode((struct fb_bview){ blob, len }, &kb) != UFTP_OK)
		return NULL;
	return kb.type == UFTP_KEYBLOB_RSA ? rsa_from(&kb) : ec_from(&kb);
}

void crypto_blob_fingerprint(const void *blob, size_t len,
			     uint8_t fp[CRYPTO_FP_LEN])
{
	if (crypto_hash(UFTP_HASH_SHA1, blob, len, fp) != 0)
		memset(fp, 0, CRYPTO_FP_LEN);
}

void crypto_fingerprint_str(const uint8_t fp[CRYPTO_FP_LEN],
			    char out[CRYPTO_FP_STR])
{
	size_t at = 0;
	for (size_t i = 0; i < CRYPTO_FP_LEN; i++)
		at += (size_t)snprintf(out + at, CRYPTO_FP_STR - at,
				       i ? ":%02X" : "%02X", fp[i]);
}

int crypto_key_fingerprint(const struct crypto_key *k, uint8_t fp[CRYPTO_FP_LEN])
{
	uint8_t blob[CRYPTO_BLOB_MAX];
	long n = crypto_key_blob(k, blob, sizeof(blob));
	if (n < 0)
		return -1;
	crypto_blob_fingerprint(blob, (size_t)n, fp);
	return 0;
}

int crypto_key_describe(const struct crypto_key *k, char *out, size_t cap)
{
	uint8_t fp[CRYPTO_FP_LEN];
	char s[CRYPTO_FP_STR];
	if (crypto_key_fingerprint(k, fp) != 0)
		return -1;
	crypto_fingerprint_str(fp, s);
	if (k->type == UFTP_KEYBLOB_RSA)
		snprintf(out, cap, "Loaded %u bit RSA key with fingerprint %s",
			 crypto_key_bits(k), s);
	else
		snprintf(out, cap, "Loaded ECDSA key with curve %s and fingerprint %s",
			 crypto_curve_name(k->curve), s);
	return 0;
}
