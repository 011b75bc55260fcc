/* heartbeat.c — HB_REQ and HB_RESP between proxies: keep-alives that open
 * NAT pinholes, optionally signed to prove the sender's key. */
#include "wire.h"

enum uftp_err uftp_decode_hb_req(struct rcur *c, struct uftp_hb_req *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_HB_REQ, UFTP_MIN_HB_REQ, &h);
	if (e)
		return e;
	rcur_skip(&h, 2);
	size_t bloblen = rcur_u16(&h), siglen = rcur_u16(&h);
	m->nonce = rcur_u32(&h);
	if ((e = wire_field(&h, bloblen, &m->keyblob)) ||
	    (e = wire_field(&h, siglen, &m->signed_nonce)) ||
	    (e = wire_exts(&h, &m->ext)))
		return e;
	return wire_end(c);
}

enum uftp_err uftp_encode_hb_req(struct wcur *w, const struct uftp_hb_req *m)
{
	uint16_t bloblen, siglen;
	if (wire_len16(m->keyblob, &bloblen) ||
	    wire_len16(m->signed_nonce, &siglen))
		return UFTP_E_RANGE;
	size_t start = wire_begin(w, UFTP_HB_REQ);
	wcur_u16(w, 0);
	wcur_u16(w, bloblen);
	wcur_u16(w, siglen);
	wcur_u32(w, m->nonce);
	wcur_bytes(w, m->keyblob.p, bloblen);
	wcur_bytes(w, m->signed_nonce.p, siglen);
	return wire_close(w, start, &m->ext);
}

enum uftp_err uftp_decode_hb_resp(struct rcur *c, struct uftp_hb_resp *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_HB_RESP, UFTP_MIN_HB_RESP, &h);
	if (e)
		return e;
	m->auth = rcur_u8(&h);
	rcur_skip(&h, 1);
	m->nonce = rcur_u32(&h);
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	return wire_end(c);
}

enum uftp_err uftp_encode_hb_resp(struct wcur *w, const struct uftp_hb_resp *m)
{
	size_t start = wire_begin(w, UFTP_HB_RESP);
	wcur_u8(w, m->auth);
	wcur_u8(w, 0);
	wcur_u32(w, m->nonce);
	return wire_close(w, start, &m->ext);
}
