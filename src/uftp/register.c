/* register.c — registration: a client's (or proxy's) REGISTER with its
 * key exchange data, and the server's REG_CONF confirming clients. */
#include "wire.h"

enum uftp_err uftp_decode_register(struct rcur *c, struct uftp_register *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_REGISTER, UFTP_MIN_REGISTER, &h);
	if (e)
		return e;
	size_t keylen = rcur_u16(&h);
	m->ts_sec = rcur_u32(&h);
	m->ts_usec = rcur_u32(&h);
	m->rand2 = rcur_bytes(&h, UFTP_RAND_LEN);
	/* uftp's server rejects hlen*4 < 44 + keyinfo length the same way. */
	if ((e = wire_field(&h, keylen, &m->keyinfo)))
		return e;
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	return wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_register(struct wcur *w,
				   const struct uftp_register *m)
{
	uint16_t keylen;
	/* Without encryption the random number is all zeros: len 0 says so. */
	if ((m->rand2.len != UFTP_RAND_LEN && m->rand2.len != 0) ||
	    wire_len16(m->keyinfo, &keylen))
		return UFTP_E_RANGE;
	size_t start = wire_begin(w, UFTP_REGISTER);
	wcur_u16(w, keylen);
	wcur_u32(w, m->ts_sec);
	wcur_u32(w, m->ts_usec);
	if (m->rand2.len)
		wcur_bytes(w, m->rand2.p, UFTP_RAND_LEN);
	else
		wcur_zeros(w, UFTP_RAND_LEN);
	wcur_bytes(w, m->keyinfo.p, keylen);
	enum uftp_err e = wire_close(w, start, &m->ext);
	return e ? e : wire_put_uids(w, &m->uids);
}

enum uftp_err uftp_decode_reg_conf(struct rcur *c, struct uftp_reg_conf *m)
{
	enum uftp_err e = wire_decode_bare(c, UFTP_REG_CONF, &m->ext);
	return e ? e : wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_reg_conf(struct wcur *w,
				   const struct uftp_reg_conf *m)
{
	enum uftp_err e = wire_encode_bare(w, UFTP_REG_CONF, &m->ext);
	return e ? e : wire_put_uids(w, &m->uids);
}
