/* announce.c — ANNOUNCE, the server's session offer on the public address:
 * parameters, multicast addresses, encryption info and member list. */
#include "wire.h"

static size_t addr_len(uint8_t flags)
{
	return (flags & UFTP_F_IPV6) ? 16 : 4;
}

enum uftp_err uftp_decode_announce(struct fb_rcur *c, struct uftp_announce *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_ANNOUNCE, UFTP_MIN_ANNOUNCE, &h);
	if (e)
		return e;
	m->flags = fb_rcur_u8(&h);
	m->robust = fb_rcur_u8(&h);
	m->cc_type = fb_rcur_u8(&h);
	fb_rcur_skip(&h, 1);
	m->blocksize = fb_rcur_u16(&h);
	m->ts_sec = fb_rcur_u32(&h);
	m->ts_usec = fb_rcur_u32(&h);
	/* The address size comes from a flag, so hlen may not cover them. */
	size_t alen = addr_len(m->flags);
	if (fb_rcur_remaining(&h) < 2 * alen)
		return UFTP_E_HLEN_SHORT;
	m->pub_addr = fb_rcur_bytes(&h, alen);
	m->priv_addr = fb_rcur_bytes(&h, alen);
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_announce(struct fb_wcur *w,
				   const struct uftp_announce *m)
{
	size_t alen = addr_len(m->flags);
	if (m->pub_addr.len != alen || m->priv_addr.len != alen)
		return UFTP_E_RANGE;
	size_t start = uftp_wire_begin(w, UFTP_ANNOUNCE);
	fb_wcur_u8(w, m->flags);
	fb_wcur_u8(w, m->robust);
	fb_wcur_u8(w, m->cc_type);
	fb_wcur_u8(w, 0);
	fb_wcur_u16(w, m->blocksize);
	fb_wcur_u32(w, m->ts_sec);
	fb_wcur_u32(w, m->ts_usec);
	fb_wcur_bytes(w, m->pub_addr.p, alen);
	fb_wcur_bytes(w, m->priv_addr.p, alen);
	enum uftp_err e = uftp_wire_close(w, start, &m->ext);
	return e ? e : uftp_wire_put_uids(w, &m->uids);
}
