/* heartbeat.c — HB_REQ and HB_RESP between proxies: keep-alives that open
 * NAT pinholes, optionally signed to prove the sender's key. */
#include "wire.h"

enum uftp_err uftp_decode_hb_req(struct fb_rcur *c, struct uftp_hb_req *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_HB_REQ, UFTP_MIN_HB_REQ, &h);
	if (e)
		return e;
	fb_rcur_skip(&h, 2);
	size_t bloblen = fb_rcur_u16(&h), siglen = fb_rcur_u16(&h);
	m->nonce = fb_rcur_u32(&h);
	if ((e = uftp_wire_field(&h, bloblen, &m->keyblob)) ||
	    (e = uftp_wire_field(&h, siglen, &m->signed_nonce)) ||
	    (e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_end(c);
}

enum uftp_err uftp_encode_hb_req(struct fb_wcur *w, const struct uftp_hb_req *m)
{
	uint16_t bloblen, siglen;
	if (uftp_wire_len16(m->keyblob, &bloblen) ||
	    uftp_wire_len16(m->signed_nonce, &siglen))
		return UFTP_E_RANGE;
	size_t start = uftp_wire_begin(w, UFTP_HB_REQ);
	fb_wcur_u16(w, 0);
	fb_wcur_u16(w, bloblen);
	fb_wcur_u16(w, siglen);
	fb_wcur_u32(w, m->nonce);
	fb_wcur_bytes(w, m->keyblob.p, bloblen);
	fb_wcur_bytes(w, m->signed_nonce.p, siglen);
	return uftp_wire_close(w, start, &m->ext);
}

enum uftp_err uftp_decode_hb_resp(struct fb_rcur *c, struct uftp_hb_resp *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_HB_RESP, UFTP_MIN_HB_RESP, &h);
	if (e)
		return e;
	m->auth = fb_rcur_u8(&h);
	fb_rcur_skip(&h, 1);
	m->nonce = fb_rcur_u32(&h);
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_end(c);
}

enum uftp_err uftp_encode_hb_resp(struct fb_wcur *w, const struct uftp_hb_resp *m)
{
	size_t start = uftp_wire_begin(w, UFTP_HB_RESP);
	fb_wcur_u8(w, m->auth);
	fb_wcur_u8(w, 0);
	fb_wcur_u32(w, m->nonce);
	return uftp_wire_close(w, start, &m->ext);
}
