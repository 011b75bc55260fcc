/* ecpeer.c — a peer's one-time public key (a client's ECDH key in
 * REGISTER, its CLIENT_KEY) from its blob; an EC key is checked to lie on
 * its curve, without a scalar multiplication. With wolfCrypt's fixed-point
 * cache (FP_ECC, as Debian builds it) the order check of wc_ecc_check_key
 * counts as the point's first use, so the ECDH or signature check that
 * follows is its second and builds a precomputed table for a point never
 * seen again: about 10 ms per client instead of 2. On the cofactor-1
 * curves uftp uses (secp*, prime*) a point on the curve is in the group
 * of prime order, so the on-curve check is a full validation. */
#include <string.h>

#include "internal.h"

#define EC_POINT_MAX (1 + 2 * 66)      /* 04 || X || Y on secp521r1 */

struct crypto_key *crypto_key_from_peer_blob(const void *blob, size_t len)
{
	struct uftp_keyblob kb;
	uint8_t pt[EC_POINT_MAX];
	if (uftp_keyblob_decode((struct fb_bview){ blob, len }, &kb) != UFTP_OK)
		return NULL;
	if (kb.type != UFTP_KEYBLOB_EC)
		return crypto_key_from_blob(blob, len);    /* RSA: no such cost */
	int id = crypto_wc_curve(kb.curve);
	if (!crypto_curve_supported(kb.curve) || kb.key.len + 1 > sizeof(pt) ||
	    kb.key.len != 2 * (size_t)wc_ecc_get_curve_size_from_id(id))
		return NULL;
	pt[0] = 4;
	memcpy(pt + 1, kb.key.p, kb.key.len);
	struct crypto_key *k = crypto_key_alloc(UFTP_KEYBLOB_EC, false);
	if (k && wc_ecc_import_x963_ex(pt, (word32)kb.key.len + 1, &k->u.ec, id) == 0 &&
	    !wc_ecc_point_is_at_infinity(&k->u.ec.pubkey) &&
	    wc_ecc_point_is_on_curve(&k->u.ec.pubkey, k->u.ec.idx) == 0) {
		k->curve = kb.curve;
		return k;
	}
	crypto_key_free(k);
	return NULL;
}
