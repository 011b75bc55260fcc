/* congestion.c — TFMCC feedback rounds: the server's CONG_CTRL with its
 * per-client RTT items, and a client's CC_ACK. */
#include "wire.h"

enum { CC_ITEM_LEN = 8 };

enum uftp_err uftp_decode_cong_ctrl(struct rcur *c, struct uftp_cong_ctrl *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_CONG_CTRL, UFTP_MIN_CONG_CTRL, &h);
	if (e)
		return e;
	rcur_skip(&h, 2);
	m->cc_seq = rcur_u16(&h);
	m->cc_rate = rcur_u16(&h);
	m->ts_sec = rcur_u32(&h);
	m->ts_usec = rcur_u32(&h);
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	m->items = NULL;
	return wire_items(c, CC_ITEM_LEN, &m->wire, &m->count);
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
	struct rcur c;
	rcur_init(&c, cc->wire, cc->count * CC_ITEM_LEN);
	rcur_skip(&c, i * CC_ITEM_LEN);
	out->uid = rcur_u32(&c);
	out->flags = rcur_u8(&c);
	out->rtt = rcur_u8(&c);
	return true;
}

enum uftp_err uftp_encode_cong_ctrl(struct wcur *w,
				    const struct uftp_cong_ctrl *m)
{
	if (!m->items && m->count && !m->wire)
		return UFTP_E_RANGE;
	size_t start = wire_begin(w, UFTP_CONG_CTRL);
	wcur_u16(w, 0);
	wcur_u16(w, m->cc_seq);
	wcur_u16(w, m->cc_rate);
	wcur_u32(w, m->ts_sec);
	wcur_u32(w, m->ts_usec);
	enum uftp_err e = wire_close(w, start, &m->ext);
	if (e)
		return e;
	for (size_t i = 0; i < m->count; i++) {
		struct uftp_cc_item it;
		uftp_cc_item_at(m, i, &it);
		wcur_u32(w, it.uid);
		wcur_u8(w, it.flags);
		wcur_u8(w, it.rtt);
		wcur_u16(w, 0);
	}
	return wire_result(w);
}

enum uftp_err uftp_decode_cc_ack(struct rcur *c, struct uftp_cc_ack *m)
{
	enum uftp_err e = wire_decode_bare(c, UFTP_CC_ACK, &m->ext);
	return e ? e : wire_end(c);
}

enum uftp_err uftp_encode_cc_ack(struct wcur *w, const struct uftp_cc_ack *m)
{
	return wire_encode_bare(w, UFTP_CC_ACK, &m->ext);
}
