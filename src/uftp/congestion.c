/* congestion.c — TFMCC feedback rounds: the server's CONG_CTRL with its
 * per-client RTT items, and a client's CC_ACK. */
#include "wire.h"

enum { CC_ITEM_LEN = 8 };

enum uftp_err uftp_decode_cong_ctrl(struct fb_rcur *c, struct uftp_cong_ctrl *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_CONG_CTRL, UFTP_MIN_CONG_CTRL, &h);
	if (e)
		return e;
	fb_rcur_skip(&h, 2);
	m->cc_seq = fb_rcur_u16(&h);
	m->cc_rate = fb_rcur_u16(&h);
	m->ts_sec = fb_rcur_u32(&h);
	m->ts_usec = fb_rcur_u32(&h);
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	m->items = NULL;
	return uftp_wire_items(c, CC_ITEM_LEN, &m->wire, &m->count);
}

bool uftp_cc_item_at(const struct uftp_cong_ctrl *cc, size_t i,
		     struct uftp_cc_item *out)
{
	if (i >= cc->count)
		return false;
	if (cc->items) {
		*out = cc->items[i];
		return true;
	}
	struct fb_rcur c;
	fb_rcur_init(&c, cc->wire, cc->count * CC_ITEM_LEN);
	fb_rcur_skip(&c, i * CC_ITEM_LEN);
	out->uid = fb_rcur_u32(&c);
	out->flags = fb_rcur_u8(&c);
	out->rtt = fb_rcur_u8(&c);
	return true;
}

enum uftp_err uftp_encode_cong_ctrl(struct fb_wcur *w,
				    const struct uftp_cong_ctrl *m)
{
	if (!m->items && m->count && !m->wire)
		return UFTP_E_RANGE;
	size_t start = uftp_wire_begin(w, UFTP_CONG_CTRL);
	fb_wcur_u16(w, 0);
	fb_wcur_u16(w, m->cc_seq);
	fb_wcur_u16(w, m->cc_rate);
	fb_wcur_u32(w, m->ts_sec);
	fb_wcur_u32(w, m->ts_usec);
	enum uftp_err e = uftp_wire_close(w, start, &m->ext);
	if (e)
		return e;
	for (size_t i = 0; i < m->count; i++) {
		struct uftp_cc_item it;
		uftp_cc_item_at(m, i, &it);
		fb_wcur_u32(w, it.uid);
		fb_wcur_u8(w, it.flags);
		fb_wcur_u8(w, it.rtt);
		fb_wcur_u16(w, 0);
	}
	return uftp_wire_result(w);
}

enum uftp_err uftp_decode_cc_ack(struct fb_rcur *c, struct uftp_cc_ack *m)
{
	enum uftp_err e = uftp_wire_decode_bare(c, UFTP_CC_ACK, &m->ext);
	return e ? e : uftp_wire_end(c);
}

enum uftp_err uftp_encode_cc_ack(struct fb_wcur *w, const struct uftp_cc_ack *m)
{
	return uftp_wire_encode_bare(w, UFTP_CC_ACK, &m->ext);
}
