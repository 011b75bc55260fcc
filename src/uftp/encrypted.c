/* encrypted.c — ENCRYPTED, the envelope of every message after KEYINFO:
 * IV counter, signature and encrypted payload, with no function byte. */
#include "wire.h"

enum uftp_err uftp_decode_encrypted(struct rcur *c, struct uftp_encrypted *m)
{
	if (rcur_remaining(c) < UFTP_MIN_ENCRYPTED)
		return UFTP_E_TRUNC;
	m->iv_ctr = rcur_u64(c);
	size_t siglen = rcur_u16(c), paylen = rcur_u16(c);
	/* protocol.txt says both are multiples of 4; uftp 4.10 does not pad
	 * them, so only their sum is checked, against the datagram. */
	if (siglen + paylen > rcur_remaining(c))
		return UFTP_E_FIELD_LEN;
	m->sig = rcur_bytes(c, siglen);
	m->payload = rcur_bytes(c, paylen);
	return wire_end(c);
}

enum uftp_err uftp_encode_encrypted(struct wcur *w,
				    const struct uftp_encrypted *m)
{
	uint16_t siglen, paylen;
	if (wire_len16(m->sig, &siglen) || wire_len16(m->payload, &paylen))
		return UFTP_E_RANGE;
	wcur_u64(w, m->iv_ctr);
	wcur_u16(w, siglen);
	wcur_u16(w, paylen);
	wcur_bytes(w, m->sig.p, siglen);
	wcur_bytes(w, m->payload.p, paylen);
	return wire_result(w);
}
