/* keyexchange.c — the encryption handshake after REGISTER: CLIENT_KEY
 * (client's public key and signed verify data), KEYINFO (group master per
 * client) and KEYINFO_ACK (client's verify data). */
#include "wire.h"

enum { DESTKEY_LEN = 4 + UFTP_MASTER_LEN };

enum uftp_err uftp_decode_client_key(struct fb_rcur *c, struct uftp_client_key *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_CLIENT_KEY, UFTP_MIN_CLIENT_KEY,
				    &h);
	if (e)
		return e;
	fb_rcur_skip(&h, 2);
	size_t bloblen = fb_rcur_u16(&h), siglen = fb_rcur_u16(&h);
	if ((e = uftp_wire_field(&h, bloblen, &m->keyblob)) ||
	    (e = uftp_wire_field(&h, siglen, &m->verify)) ||
	    (e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_end(c);
}

enum uftp_err uftp_encode_client_key(struct fb_wcur *w,
				     const struct uftp_client_key *m)
{
	uint16_t bloblen, siglen;
	if (uftp_wire_len16(m->keyblob, &bloblen) || uftp_wire_len16(m->verify, &siglen))
		return UFTP_E_RANGE;
	size_t start = uftp_wire_begin(w, UFTP_CLIENT_KEY);
	fb_wcur_u16(w, 0);
	fb_wcur_u16(w, bloblen);
	fb_wcur_u16(w, siglen);
	fb_wcur_bytes(w, m->keyblob.p, bloblen);
	fb_wcur_bytes(w, m->verify.p, siglen);
	return uftp_wire_close(w, start, &m->ext);
}

enum uftp_err uftp_decode_keyinfo(struct fb_rcur *c, struct uftp_keyinfo *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_KEYINFO, UFTP_MIN_KEYINFO, &h);
	if (e)
		return e;
	fb_rcur_skip(&h, 2);
	m->iv_ctr = fb_rcur_u64(&h);
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	m->keys = NULL;
	return uftp_wire_items(c, DESTKEY_LEN, &m->wire, &m->count);
}

bool uftp_keyinfo_at(const struct uftp_keyinfo *k, size_t i,
		     struct uftp_destkey *out)
{
	if (i >= k->count)
		return false;
	if (k->keys) {
		*out = k->keys[i];
		return true;
	}
	struct fb_rcur c;
	fb_rcur_init(&c, k->wire, k->count * DESTKEY_LEN);
	fb_rcur_skip(&c, i * DESTKEY_LEN);
	out->uid = fb_rcur_u32(&c);
	out->master = fb_rcur_bytes(&c, UFTP_MASTER_LEN).p;
	return true;
}

enum uftp_err uftp_encode_keyinfo(struct fb_wcur *w, const struct uftp_keyinfo *m)
{
	size_t start = uftp_wire_begin(w, UFTP_KEYINFO);
	fb_wcur_u16(w, 0);
	fb_wcur_u64(w, m->iv_ctr);
	enum uftp_err e = uftp_wire_close(w, start, &m->ext);
	if (e)
		return e;
	if (!m->keys && m->count && !m->wire)
		return UFTP_E_RANGE;
	for (size_t i = 0; i < m->count; i++) {
		struct uftp_destkey k;
		uftp_keyinfo_at(m, i, &k);
		fb_wcur_u32(w, k.uid);
		fb_wcur_bytes(w, k.master, UFTP_MASTER_LEN);
	}
	return uftp_wire_result(w);
}

enum uftp_err uftp_decode_keyinfo_ack(struct fb_rcur *c,
				      struct uftp_keyinfo_ack *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_KEYINFO_ACK,
				    UFTP_MIN_KEYINFO_ACK, &h);
	if (e)
		return e;
	fb_rcur_skip(&h, 2);
	m->verify = fb_rcur_bytes(&h, UFTP_VERIFY_LEN);
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_end(c);
}

enum uftp_err uftp_encode_keyinfo_ack(struct fb_wcur *w,
				      const struct uftp_keyinfo_ack *m)
{
	if (m->verify.len != UFTP_VERIFY_LEN)
		return UFTP_E_RANGE;
	size_t start = uftp_wire_begin(w, UFTP_KEYINFO_ACK);
	fb_wcur_u16(w, 0);
	fb_wcur_bytes(w, m->verify.p, UFTP_VERIFY_LEN);
	return uftp_wire_close(w, start, &m->ext);
}
