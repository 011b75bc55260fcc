/* keyblob.c — the RSA and EC public key blobs carried in ANNOUNCE,
 * CLIENT_KEY, HB_REQ and PROXY_KEY (protocol.txt 5.2.3.2 and 5.2.3.3). */
#include "wire.h"

enum uftp_err uftp_keyblob_decode(struct fb_bview blob, struct uftp_keyblob *kb)
{
	struct fb_rcur c;
	fb_rcur_init(&c, blob.p, blob.len);
	kb->type = fb_rcur_u8(&c);
	kb->curve = 0;
	kb->exponent = 0;
	if (kb->type == UFTP_KEYBLOB_RSA) {
		fb_rcur_skip(&c, 1);
		size_t modlen = fb_rcur_u16(&c);
		kb->exponent = fb_rcur_u32(&c);
		kb->key = fb_rcur_bytes(&c, modlen);
		if (fb_rcur_remaining(&c))         /* uftp imports only exact */
			return UFTP_E_BLOB;
	} else if (kb->type == UFTP_KEYBLOB_EC) {
		kb->curve = fb_rcur_u8(&c);
		size_t keylen = fb_rcur_u16(&c);
		kb->key = fb_rcur_bytes(&c, keylen);
	} else {
		return UFTP_E_BLOB;
	}
	/* After an EC key comes uftp's padding to a multiple of 4. */
	return fb_rcur_ok(&c) ? UFTP_OK : UFTP_E_BLOB;
}

enum uftp_err uftp_keyblob_encode(struct fb_wcur *w, const struct uftp_keyblob *kb)
{
	if (kb->key.len > UINT16_MAX)
		return UFTP_E_RANGE;
	fb_wcur_u8(w, kb->type);
	if (kb->type == UFTP_KEYBLOB_RSA) {
		fb_wcur_u8(w, 0);
		fb_wcur_u16(w, (uint16_t)kb->key.len);
		fb_wcur_u32(w, kb->exponent);
	} else if (kb->type == UFTP_KEYBLOB_EC) {
		fb_wcur_u8(w, kb->curve);
		fb_wcur_u16(w, (uint16_t)kb->key.len);
	} else {
		return UFTP_E_RANGE;
	}
	fb_wcur_bytes(w, kb->key.p, kb->key.len);
	return uftp_wire_result(w);
}
