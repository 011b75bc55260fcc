/* register.c — registration: a client's (or proxy's) REGISTER with its
 * key exchange data, and the server's REG_CONF confirming clients. */
#include "wire.h"

enum uftp_err uftp_decode_register(struct fb_rcur *c, struct uftp_register *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_REGISTER, UFTP_MIN_REGISTER, &h);
	if (e)
		return e;
	size_t keylen = fb_rcur_u16(&h);
	m->ts_sec = fb_rcur_u32(&h);
	m->ts_usec = fb_rcur_u32(&h);
	m->rand2 = fb_rcur_bytes(&h, UFTP_RAND_LEN);
	/* uftp's server rejects hlen*4 < 44 + keyinfo length the same way. */
	if ((e = uftp_wire_field(&h, keylen, &m->keyinfo)))
		return e;
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_register(struct fb_wcur *w,
				   const struct uftp_register *m)
{
	uint16_t keylen;
	/* Without encryption the random number is all zeros: len 0 says so. */
	if ((m->rand2.len != UFTP_RAND_LEN && m->rand2.len != 0) ||
	    uftp_wire_len16(m->keyinfo, &keylen))
		return UFTP_E_RANGE;
	size_t start = uftp_wire_begin(w, UFTP_REGISTER);
	fb_wcur_u16(w, keylen);
	fb_wcur_u32(w, m->ts_sec);
	fb_wcur_u32(w, m->ts_usec);
	if (m->rand2.len)
		fb_wcur_bytes(w, m->rand2.p, UFTP_RAND_LEN);
	else
		fb_wcur_zeros(w, UFTP_RAND_LEN);
	fb_wcur_bytes(w, m->keyinfo.p, keylen);
	enum uftp_err e = uftp_wire_close(w, start, &m->ext);
	return e ? e : uftp_wire_put_uids(w, &m->uids);
}

enum uftp_err uftp_decode_reg_conf(struct fb_rcur *c, struct uftp_reg_conf *m)
{
	enum uftp_err e = uftp_wire_decode_bare(c, UFTP_REG_CONF, &m->ext);
	return e ? e : uftp_wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_reg_conf(struct fb_wcur *w,
				   const struct uftp_reg_conf *m)
{
	enum uftp_err e = uftp_wire_encode_bare(w, UFTP_REG_CONF, &m->ext);
	return e ? e : uftp_wire_put_uids(w, &m->uids);
}
