/* header.c — the 16-byte header every UFTP datagram starts with: reading
 * it (also cheaply, for the proxy's hot path), writing it, and rewriting
 * fields of a received datagram in place. */
#include "wire.h"

enum uftp_err uftp_hdr_decode(struct fb_rcur *c, struct uftp_hdr *h)
{
	if (fb_rcur_remaining(c) < UFTP_HDR_LEN)
		return UFTP_E_SHORT;
	h->version = fb_rcur_u8(c);
	h->func = fb_rcur_u8(c);
	h->seq = fb_rcur_u16(c);
	h->src_id = fb_rcur_u32(c);
	h->group_id = fb_rcur_u32(c);
	h->group_inst = fb_rcur_u8(c);
	h->grtt = fb_rcur_u8(c);
	h->gsize = fb_rcur_u8(c);
	h->reserved = fb_rcur_u8(c);
	return h->version == UFTP_VERSION ? UFTP_OK : UFTP_E_VERSION;
}

enum uftp_err uftp_peek(const uint8_t *dgram, size_t len, struct uftp_hdr *h)
{
	struct fb_rcur c;
	fb_rcur_init(&c, dgram, len);
	return uftp_hdr_decode(&c, h);
}

void uftp_hdr_encode(struct fb_wcur *w, const struct uftp_hdr *h)
{
	fb_wcur_u8(w, h->version);
	fb_wcur_u8(w, h->func);
	fb_wcur_u16(w, h->seq);
	fb_wcur_u32(w, h->src_id);
	fb_wcur_u32(w, h->group_id);
	fb_wcur_u8(w, h->group_inst);
	fb_wcur_u8(w, h->grtt);
	fb_wcur_u8(w, h->gsize);
	fb_wcur_u8(w, h->reserved);
}

/* Offsets of the header fields a proxy rewrites. */
enum { OFF_SEQ = 2, OFF_SRC_ID = 4 };

enum uftp_err uftp_set_src_id(uint8_t *dgram, size_t len, uint32_t src_id)
{
	struct fb_wcur w;
	if (len < UFTP_HDR_LEN)
		return UFTP_E_SHORT;
	fb_wcur_over(&w, dgram, len);
	fb_wcur_patch_u32(&w, OFF_SRC_ID, src_id);
	return UFTP_OK;
}

enum uftp_err uftp_set_seq(uint8_t *dgram, size_t len, uint16_t seq)
{
	struct fb_wcur w;
	if (len < UFTP_HDR_LEN)
		return UFTP_E_SHORT;
	fb_wcur_over(&w, dgram, len);
	fb_wcur_patch_u16(&w, OFF_SEQ, seq);
	return UFTP_OK;
}

enum uftp_err uftp_set_hdr(uint8_t *dgram, size_t len,
			   const struct uftp_hdr *h)
{
	struct fb_wcur w;
	if (len < UFTP_HDR_LEN)
		return UFTP_E_SHORT;
	fb_wcur_init(&w, dgram, UFTP_HDR_LEN);
	uftp_hdr_encode(&w, h);
	return UFTP_OK;
}
