/* proxykey.c — a response proxy's keys: clients ask with KEY_REQ, the
 * proxy answers (and announces) PROXY_KEY with its public and ECDH keys. */
#include "wire.h"

enum uftp_err uftp_decode_key_req(struct rcur *c, struct uftp_key_req *m)
{
	enum uftp_err e = wire_decode_bare(c, UFTP_KEY_REQ, &m->ext);
	return e ? e : wire_end(c);
}

enum uftp_err uftp_encode_key_req(struct wcur *w, const struct uftp_key_req *m)
{
	return wire_encode_bare(w, UFTP_KEY_REQ, &m->ext);
}

enum uftp_err uftp_decode_proxy_key(struct rcur *c, struct uftp_proxy_key *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_PROXY_KEY, UFTP_MIN_PROXY_KEY, &h);
	if (e)
		return e;
	size_t bloblen = rcur_u16(&h), dhlen = rcur_u16(&h);
	size_t siglen = rcur_u16(&h);
	m->nonce = rcur_u32(&h);
	if ((e = wire_field(&h, bloblen, &m->keyblob)) ||
	    (e = wire_field(&h, dhlen, &m->dhblob)) ||
	    (e = wire_field(&h, siglen, &m->signed_nonce)) ||
	    (e = wire_exts(&h, &m->ext)))
		return e;
	return wire_end(c);
}

enum uftp_err uftp_encode_proxy_key(struct wcur *w,
				    const struct uftp_proxy_key *m)
{
	uint16_t bloblen, dhlen, siglen;
	if (wire_len16(m->keyblob, &bloblen) || wire_len16(m->dhblob, &dhlen) ||
	    wire_len16(m->signed_nonce, &siglen))
		return UFTP_E_RANGE;
	size_t start = wire_begin(w, UFTP_PROXY_KEY);
	wcur_u16(w, bloblen);
	wcur_u16(w, dhlen);
	wcur_u16(w, siglen);
	wcur_u32(w, m->nonce);
	wcur_bytes(w, m->keyblob.p, bloblen);
	wcur_bytes(w, m->dhblob.p, dhlen);
	wcur_bytes(w, m->signed_nonce.p, siglen);
	return wire_close(w, start, &m->ext);
}
