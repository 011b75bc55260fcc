/* announce.c — ANNOUNCE, the server's session offer on the public address:
 * parameters, multicast addresses, encryption info and member list. */
#include "wire.h"

static size_t addr_len(uint8_t flags)
{
	return (flags & UFTP_F_IPV6) ? 16 : 4;
}

enum uftp_err uftp_decode_announce(struct rcur *c, struct uftp_announce *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_ANNOUNCE, UFTP_MIN_ANNOUNCE, &h);
	if (e)
		return e;
	m->flags = rcur_u8(&h);
	m->robust = rcur_u8(&h);
	m->cc_type = rcur_u8(&h);
	rcur_skip(&h, 1);
	m->blocksize = rcur_u16(&h);
	m->ts_sec = rcur_u32(&h);
	m->ts_usec = rcur_u32(&h);
	/* The address size comes from a flag, so hlen may not cover them. */
	size_t alen = addr_len(m->flags);
	if (rcur_remaining(&h) < 2 * alen)
		return UFTP_E_HLEN_SHORT;
	m->pub_addr = rcur_bytes(&h, alen);
	m->priv_addr = rcur_bytes(&h, alen);
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	return wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_announce(struct wcur *w,
				   const struct uftp_announce *m)
{
	size_t alen = addr_len(m->flags);
	if (m->pub_addr.len != alen || m->priv_addr.len != alen)
		return UFTP_E_RANGE;
	size_t start = wire_begin(w, UFTP_ANNOUNCE);
	wcur_u8(w, m->flags);
	wcur_u8(w, m->robust);
	wcur_u8(w, m->cc_type);
	wcur_u8(w, 0);
	wcur_u16(w, m->blocksize);
	wcur_u32(w, m->ts_sec);
	wcur_u32(w, m->ts_usec);
	wcur_bytes(w, m->pub_addr.p, alen);
	wcur_bytes(w, m->priv_addr.p, alen);
	enum uftp_err e = wire_close(w, start, &m->ext);
	return e ? e : wire_put_uids(w, &m->uids);
}
