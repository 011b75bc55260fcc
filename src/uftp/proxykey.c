/* proxykey.c — a response proxy's keys: clients ask with KEY_REQ, the
 * proxy answers (and announces) PROXY_KEY with its public and ECDH keys. */
#include "wire.h"

enum uftp_err uftp_decode_key_req(struct fb_rcur *c, struct uftp_key_req *m)
{
	enum uftp_err e = uftp_wire_decode_bare(c, UFTP_KEY_REQ, &m->ext);
	return e ? e : uftp_wire_end(c);
}

enum uftp_err uftp_encode_key_req(struct fb_wcur *w, const struct uftp_key_req *m)
{
	return uftp_wire_encode_bare(w, UFTP_KEY_REQ, &m->ext);
}

enum uftp_err uftp_decode_proxy_key(struct fb_rcur *c, struct uftp_proxy_key *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_PROXY_KEY, UFTP_MIN_PROXY_KEY, &h);
	if (e)
		return e;
	size_t bloblen = fb_rcur_u16(&h), dhlen = fb_rcur_u16(&h);
	size_t siglen = fb_rcur_u16(&h);
	m->nonce = fb_rcur_u32(&h);
	if ((e = uftp_wire_field(&h, bloblen, &m->keyblob)) ||
	    (e = uftp_wire_field(&h, dhlen, &m->dhblob)) ||
	    (e = uftp_wire_field(&h, siglen, &m->signed_nonce)) ||
	    (e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_end(c);
}

enum uftp_err uftp_encode_proxy_key(struct fb_wcur *w,
				    const struct uftp_proxy_key *m)
{
	uint16_t bloblen, dhlen, siglen;
	if (uftp_wire_len16(m->keyblob, &bloblen) || uftp_wire_len16(m->dhblob, &dhlen) ||
	    uftp_wire_len16(m->signed_nonce, &siglen))
		return UFTP_E_RANGE;
	size_t start = uftp_wire_begin(w, UFTP_PROXY_KEY);
	fb_wcur_u16(w, bloblen);
	fb_wcur_u16(w, dhlen);
	fb_wcur_u16(w, siglen);
	fb_wcur_u32(w, m->nonce);
	fb_wcur_bytes(w, m->keyblob.p, bloblen);
	fb_wcur_bytes(w, m->dhblob.p, dhlen);
	fb_wcur_bytes(w, m->signed_nonce.p, siglen);
	return uftp_wire_close(w, start, &m->ext);
}
