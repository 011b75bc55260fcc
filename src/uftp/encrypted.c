/* encrypted.c — ENCRYPTED, the envelope of every message after KEYINFO:
 * IV counter, signature and encrypted payload, with no function byte. */
#include "wire.h"

enum uftp_err uftp_decode_encrypted(struct fb_rcur *c, struct uftp_encrypted *m)
{
	if (fb_rcur_remaining(c) < UFTP_MIN_ENCRYPTED)
		return UFTP_E_TRUNC;
	m->iv_ctr = fb_rcur_u64(c);
	size_t siglen = fb_rcur_u16(c), paylen = fb_rcur_u16(c);
	/* protocol.txt says both are multiples of 4; uftp 4.10 does not pad
	 * them, so only their sum is checked, against the datagram. */
	if (siglen + paylen > fb_rcur_remaining(c))
		return UFTP_E_FIELD_LEN;
	m->sig = fb_rcur_bytes(c, siglen);
	m->payload = fb_rcur_bytes(c, paylen);
	return uftp_wire_end(c);
}

enum uftp_err uftp_encode_encrypted(struct fb_wcur *w,
				    const struct uftp_encrypted *m)
{
	uint16_t siglen, paylen;
	if (uftp_wire_len16(m->sig, &siglen) || uftp_wire_len16(m->payload, &paylen))
		return UFTP_E_RANGE;
	fb_wcur_u64(w, m->iv_ctr);
	fb_wcur_u16(w, siglen);
	fb_wcur_u16(w, paylen);
	fb_wcur_bytes(w, m->sig.p, siglen);
	fb_wcur_bytes(w, m->payload.p, paylen);
	return uftp_wire_result(w);
}
