/* header.c — the 16-byte header every UFTP datagram starts with: reading
 * it (also cheaply, for the proxy's hot path), writing it, and rewriting
 * fields of a received datagram in place. */
#include "wire.h"

enum uftp_err uftp_hdr_decode(struct rcur *c, struct uftp_hdr *h)
{
	if (rcur_remaining(c) < UFTP_HDR_LEN)
		return UFTP_E_SHORT;
	h->version = rcur_u8(c);
	h->func = rcur_u8(c);
	h->seq = rcur_u16(c);
	h->src_id = rcur_u32(c);
	h->group_id = rcur_u32(c);
	h->group_inst = rcur_u8(c);
	h->grtt = rcur_u8(c);
	h->gsize = rcur_u8(c);
	h->reserved = rcur_u8(c);
	return h->version == UFTP_VERSION ? UFTP_OK : UFTP_E_VERSION;
}

enum uftp_err uftp_peek(const uint8_t *dgram, size_t len, struct uftp_hdr *h)
{
	struct rcur c;
	rcur_init(&c, dgram, len);
	return uftp_hdr_decode(&c, h);
}

void uftp_hdr_encode(struct wcur *w, const struct uftp_hdr *h)
{
	wcur_u8(w, h->version);
	wcur_u8(w, h->func);
	wcur_u16(w, h->seq);
	wcur_u32(w, h->src_id);
	wcur_u32(w, h->group_id);
	wcur_u8(w, h->group_inst);
	wcur_u8(w, h->grtt);
	wcur_u8(w, h->gsize);
	wcur_u8(w, h->reserved);
}

/* Offsets of the header fields a proxy rewrites. */
enum { OFF_SEQ = 2, OFF_SRC_ID = 4 };

enum uftp_err uftp_set_src_id(uint8_t *dgram, size_t len, uint32_t src_id)
{
	struct wcur w;
	if (len < UFTP_HDR_LEN)
		return UFTP_E_SHORT;
	wcur_over(&w, dgram, len);
	wcur_patch_u32(&w, OFF_SRC_ID, src_id);
	return UFTP_OK;
}

enum uftp_err uftp_set_seq(uint8_t *dgram, size_t len, uint16_t seq)
{
	struct wcur w;
	if (len < UFTP_HDR_LEN)
		return UFTP_E_SHORT;
	wcur_over(&w, dgram, len);
	wcur_patch_u16(&w, OFF_SEQ, seq);
	return UFTP_OK;
}

enum uftp_err uftp_set_hdr(uint8_t *dgram, size_t len,
			   const struct uftp_hdr *h)
{
	struct wcur w;
	if (len < UFTP_HDR_LEN)
		return UFTP_E_SHORT;
	wcur_init(&w, dgram, UFTP_HDR_LEN);
	uftp_hdr_encode(&w, h);
	return UFTP_OK;
}
