/* keyexchange.c — the encryption handshake after REGISTER: CLIENT_KEY
 * (client's public key and signed verify data), KEYINFO (group master per
 * client) and KEYINFO_ACK (client's verify data). */
#include "wire.h"

enum { DESTKEY_LEN = 4 + UFTP_MASTER_LEN };

enum uftp_err uftp_decode_client_key(struct rcur *c, struct uftp_client_key *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_CLIENT_KEY, UFTP_MIN_CLIENT_KEY,
				    &h);
	if (e)
		return e;
	rcur_skip(&h, 2);
	size_t bloblen = rcur_u16(&h), siglen = rcur_u16(&h);
	if ((e = wire_field(&h, bloblen, &m->keyblob)) ||
	    (e = wire_field(&h, siglen, &m->verify)) ||
	    (e = wire_exts(&h, &m->ext)))
		return e;
	return wire_end(c);
}

enum uftp_err uftp_encode_client_key(struct wcur *w,
				     const struct uftp_client_key *m)
{
	uint16_t bloblen, siglen;
	if (wire_len16(m->keyblob, &bloblen) || wire_len16(m->verify, &siglen))
		return UFTP_E_RANGE;
	size_t start = wire_begin(w, UFTP_CLIENT_KEY);
	wcur_u16(w, 0);
	wcur_u16(w, bloblen);
	wcur_u16(w, siglen);
	wcur_bytes(w, m->keyblob.p, bloblen);
	wcur_bytes(w, m->verify.p, siglen);
	return wire_close(w, start, &m->ext);
}

enum uftp_err uftp_decode_keyinfo(struct rcur *c, struct uftp_keyinfo *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_KEYINFO, UFTP_MIN_KEYINFO, &h);
	if (e)
		return e;
	rcur_skip(&h, 2);
	m->iv_ctr = rcur_u64(&h);
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	m->keys = NULL;
	return wire_items(c, DESTKEY_LEN, &m->wire, &m->count);
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
	struct rcur c;
	rcur_init(&c, k->wire, k->count * DESTKEY_LEN);
	rcur_skip(&c, i * DESTKEY_LEN);
	out->uid = rcur_u32(&c);
	out->master = rcur_bytes(&c, UFTP_MASTER_LEN).p;
	return true;
}

enum uftp_err uftp_encode_keyinfo(struct wcur *w, const struct uftp_keyinfo *m)
{
	size_t start = wire_begin(w, UFTP_KEYINFO);
	wcur_u16(w, 0);
	wcur_u64(w, m->iv_ctr);
	enum uftp_err e = wire_close(w, start, &m->ext);
	if (e)
		return e;
	if (!m->keys && m->count && !m->wire)
		return UFTP_E_RANGE;
	for (size_t i = 0; i < m->count; i++) {
		struct uftp_destkey k;
		uftp_keyinfo_at(m, i, &k);
		wcur_u32(w, k.uid);
		wcur_bytes(w, k.master, UFTP_MASTER_LEN);
	}
	return wire_result(w);
}

enum uftp_err uftp_decode_keyinfo_ack(struct rcur *c,
				      struct uftp_keyinfo_ack *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_KEYINFO_ACK,
				    UFTP_MIN_KEYINFO_ACK, &h);
	if (e)
		return e;
	rcur_skip(&h, 2);
	m->verify = rcur_bytes(&h, UFTP_VERIFY_LEN);
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	return wire_end(c);
}

enum uftp_err uftp_encode_keyinfo_ack(struct wcur *w,
				      const struct uftp_keyinfo_ack *m)
{
	if (m->verify.len != UFTP_VERIFY_LEN)
		return UFTP_E_RANGE;
	size_t start = wire_begin(w, UFTP_KEYINFO_ACK);
	wcur_u16(w, 0);
	wcur_bytes(w, m->verify.p, UFTP_VERIFY_LEN);
	return wire_close(w, start, &m->ext);
}
