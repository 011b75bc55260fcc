/* ext.c — UFTP header extensions: walking the extension area of a message
 * header and decoding or encoding the seven types uftp 4.x defines. */
#include <string.h>

#include "wire.h"

/* Each decoder gets a cursor after the type and length bytes, over at
 * least the extension's fixed size; bytes is the whole extension. */
struct ext_desc {
	size_t size;     /* fixed size in bytes, with type and length */
	enum uftp_err (*decode)(struct fb_rcur *x, size_t bytes,
				struct uftp_exts *e);
	enum uftp_err (*encode)(struct fb_wcur *w, const struct uftp_exts *e);
};

static enum uftp_err dec_enc_info(struct fb_rcur *x, size_t bytes,
				  struct uftp_exts *e)
{
	struct uftp_enc_info *i = &e->enc_info;
	i->flags = fb_rcur_u8(x);
	uint8_t kx = fb_rcur_u8(x);
	i->keyextype = kx >> 4;
	i->sigtype = kx & 0x0F;
	i->keytype = fb_rcur_u8(x);
	i->hashtype = fb_rcur_u8(x);
	size_t keylen = fb_rcur_u16(x), dhlen = fb_rcur_u16(x), siglen = fb_rcur_u16(x);
	i->rand1 = fb_rcur_bytes(x, UFTP_RAND_LEN);
	if (44 + keylen + dhlen + siglen != bytes)
		return UFTP_E_EXT_LEN;
	i->keyblob = fb_rcur_bytes(x, keylen);
	i->dhblob = fb_rcur_bytes(x, dhlen);
	i->sig = fb_rcur_bytes(x, siglen);
	return fb_rcur_ok(x) ? UFTP_OK : UFTP_E_EXT_LEN;
}

static enum uftp_err enc_enc_info(struct fb_wcur *w, const struct uftp_exts *e)
{
	const struct uftp_enc_info *i = &e->enc_info;
	size_t bytes = 44 + i->keyblob.len + i->dhblob.len + i->sig.len;
	/* uftp clients want the length exact, so no padding is possible. */
	if (bytes % 4 || bytes > 255 * 4 || i->rand1.len != UFTP_RAND_LEN ||
	    i->keyextype > 15 || i->sigtype > 15)
		return UFTP_E_RANGE;
	fb_wcur_u8(w, UFTP_EXT_ENC_INFO);
	fb_wcur_u8(w, (uint8_t)(bytes / 4));
	fb_wcur_u8(w, i->flags);
	fb_wcur_u8(w, (uint8_t)(i->keyextype << 4 | i->sigtype));
	fb_wcur_u8(w, i->keytype);
	fb_wcur_u8(w, i->hashtype);
	fb_wcur_u16(w, (uint16_t)i->keyblob.len);
	fb_wcur_u16(w, (uint16_t)i->dhblob.len);
	fb_wcur_u16(w, (uint16_t)i->sig.len);
	fb_wcur_bytes(w, i->rand1.p, UFTP_RAND_LEN);
	fb_wcur_bytes(w, i->keyblob.p, i->keyblob.len);
	fb_wcur_bytes(w, i->dhblob.p, i->dhblob.len);
	fb_wcur_bytes(w, i->sig.p, i->sig.len);
	return UFTP_OK;
}

static enum uftp_err dec_tfmcc_data(struct fb_rcur *x, size_t bytes,
				    struct uftp_exts *e)
{
	(void)bytes;
	e->tfmcc_data.send_rate = fb_rcur_u16(x);
	e->tfmcc_data.cc_seq = fb_rcur_u16(x);
	e->tfmcc_data.cc_rate = fb_rcur_u16(x);
	return UFTP_OK;
}

static enum uftp_err enc_tfmcc_data(struct fb_wcur *w, const struct uftp_exts *e)
{
	fb_wcur_u8(w, UFTP_EXT_TFMCC_DATA_INFO);
	fb_wcur_u8(w, 2);
	fb_wcur_u16(w, e->tfmcc_data.send_rate);
	fb_wcur_u16(w, e->tfmcc_data.cc_seq);
	fb_wcur_u16(w, e->tfmcc_data.cc_rate);
	return UFTP_OK;
}

static enum uftp_err dec_tfmcc_ack(struct fb_rcur *x, size_t bytes,
				   struct uftp_exts *e)
{
	(void)bytes;
	struct uftp_tfmcc_ack *a = &e->tfmcc_ack;
	a->flags = fb_rcur_u8(x);
	fb_rcur_skip(x, 1);
	a->cc_seq = fb_rcur_u16(x);
	a->cc_rate = fb_rcur_u16(x);
	a->client_id = fb_rcur_u32(x);
	a->ts_sec = fb_rcur_u32(x);
	a->ts_usec = fb_rcur_u32(x);
	return UFTP_OK;
}

static enum uftp_err enc_tfmcc_ack(struct fb_wcur *w, const struct uftp_exts *e)
{
	const struct uftp_tfmcc_ack *a = &e->tfmcc_ack;
	fb_wcur_u8(w, UFTP_EXT_TFMCC_ACK_INFO);
	fb_wcur_u8(w, 5);
	fb_wcur_u8(w, a->flags);
	fb_wcur_u8(w, 0);
	fb_wcur_u16(w, a->cc_seq);
	fb_wcur_u16(w, a->cc_rate);
	fb_wcur_u32(w, a->client_id);
	fb_wcur_u32(w, a->ts_sec);
	fb_wcur_u32(w, a->ts_usec);
	return UFTP_OK;
}

static enum uftp_err dec_pgmcc_data(struct fb_rcur *x, size_t bytes,
				    struct uftp_exts *e)
{
	(void)bytes;
	fb_rcur_skip(x, 2);
	e->pgmcc_data.acker = fb_rcur_u32(x);
	return UFTP_OK;
}

static enum uftp_err enc_pgmcc_data(struct fb_wcur *w, const struct uftp_exts *e)
{
	fb_wcur_u8(w, UFTP_EXT_PGMCC_DATA_INFO);
	fb_wcur_u8(w, 2);
	fb_wcur_u16(w, 0);
	fb_wcur_u32(w, e->pgmcc_data.acker);
	return UFTP_OK;
}

static enum uftp_err dec_pgmcc_nak(struct fb_rcur *x, size_t bytes,
				   struct uftp_exts *e)
{
	(void)bytes;
	e->pgmcc_nak.loss = fb_rcur_u16(x);
	e->pgmcc_nak.ts_sec = fb_rcur_u32(x);
	e->pgmcc_nak.ts_usec = fb_rcur_u32(x);
	return UFTP_OK;
}

static enum uftp_err enc_pgmcc_nak(struct fb_wcur *w, const struct uftp_exts *e)
{
	fb_wcur_u8(w, UFTP_EXT_PGMCC_NAK_INFO);
	fb_wcur_u8(w, 3);
	fb_wcur_u16(w, e->pgmcc_nak.loss);
	fb_wcur_u32(w, e->pgmcc_nak.ts_sec);
	fb_wcur_u32(w, e->pgmcc_nak.ts_usec);
	return UFTP_OK;
}

static enum uftp_err dec_pgmcc_ack(struct fb_rcur *x, size_t bytes,
				   struct uftp_exts *e)
{
	(void)bytes;
	struct uftp_pgmcc_ack *a = &e->pgmcc_ack;
	fb_rcur_skip(x, 2);
	a->loss = fb_rcur_u16(x);
	a->max_seq = fb_rcur_u16(x);
	a->ack_bitmap = fb_rcur_u32(x);
	a->ts_sec = fb_rcur_u32(x);
	a->ts_usec = fb_rcur_u32(x);
	return UFTP_OK;
}

static enum uftp_err enc_pgmcc_ack(struct fb_wcur *w, const struct uftp_exts *e)
{
	const struct uftp_pgmcc_ack *a = &e->pgmcc_ack;
	fb_wcur_u8(w, UFTP_EXT_PGMCC_ACK_INFO);
	fb_wcur_u8(w, 5);
	fb_wcur_u16(w, 0);
	fb_wcur_u16(w, a->loss);
	fb_wcur_u16(w, a->max_seq);
	fb_wcur_u32(w, a->ack_bitmap);
	fb_wcur_u32(w, a->ts_sec);
	fb_wcur_u32(w, a->ts_usec);
	return UFTP_OK;
}

static enum uftp_err dec_freespace(struct fb_rcur *x, size_t bytes,
				   struct uftp_exts *e)
{
	(void)bytes;
	fb_rcur_skip(x, 2);
	e->freespace = fb_rcur_u64(x);
	return UFTP_OK;
}

static enum uftp_err enc_freespace(struct fb_wcur *w, const struct uftp_exts *e)
{
	fb_wcur_u8(w, UFTP_EXT_FREESPACE_INFO);
	fb_wcur_u8(w, 3);
	fb_wcur_u16(w, 0);
	fb_wcur_u64(w, e->freespace);
	return UFTP_OK;
}

static const struct ext_desc ext_table[UFTP_EXT_MAX + 1] = {
	[UFTP_EXT_ENC_INFO] = { 44, dec_enc_info, enc_enc_info },
	[UFTP_EXT_TFMCC_DATA_INFO] = { 8, dec_tfmcc_data, enc_tfmcc_data },
	[UFTP_EXT_TFMCC_ACK_INFO] = { 20, dec_tfmcc_ack, enc_tfmcc_ack },
	[UFTP_EXT_PGMCC_DATA_INFO] = { 8, dec_pgmcc_data, enc_pgmcc_data },
	[UFTP_EXT_PGMCC_NAK_INFO] = { 12, dec_pgmcc_nak, enc_pgmcc_nak },
	[UFTP_EXT_PGMCC_ACK_INFO] = { 20, dec_pgmcc_ack, enc_pgmcc_ack },
	[UFTP_EXT_FREESPACE_INFO] = { 12, dec_freespace, enc_freespace },
};

static const struct ext_desc *ext_desc(unsigned type)
{
	return type <= UFTP_EXT_MAX && ext_table[type].decode ?
	       &ext_table[type] : NULL;
}

static enum uftp_err decode_one(struct fb_rcur *c, struct uftp_exts *e)
{
	if (fb_rcur_remaining(c) < 4)      /* an extension is at least a word */
		return UFTP_E_EXT_LONG;
	uint8_t type = fb_rcur_peek(c, 0);
	size_t bytes = (size_t)fb_rcur_peek(c, 1) * 4;
	if (bytes == 0)
		return UFTP_E_EXT_ZERO;
	if (bytes > fb_rcur_remaining(c))
		return UFTP_E_EXT_LONG;
	struct fb_rcur x = fb_rcur_sub(c, bytes);
	fb_rcur_skip(&x, 2);
	const struct ext_desc *d = ext_desc(type);
	if (!d) {
		e->unknown++;
		return UFTP_OK;
	}
	if (bytes < d->size)
		return UFTP_E_EXT_SHORT;
	if (UFTP_HAS_EXT(e, type))
		return UFTP_E_EXT_DUP;
	enum uftp_err err = d->decode(&x, bytes, e);
	if (err == UFTP_OK)
		e->present |= (uint16_t)(1u << type);
	return err;
}

enum uftp_err uftp_exts_decode(struct fb_rcur *c, struct uftp_exts *e)
{
	memset(e, 0, sizeof(*e));
	while (fb_rcur_remaining(c)) {
		enum uftp_err err = decode_one(c, e);
		if (err)
			return err;
	}
	return UFTP_OK;
}

enum uftp_err uftp_exts_encode(struct fb_wcur *w, const struct uftp_exts *e)
{
	for (unsigned type = 1; type <= UFTP_EXT_MAX; type++) {
		if (!UFTP_HAS_EXT(e, type))
			continue;
		enum uftp_err err = ext_table[type].encode(w, e);
		if (err)
			return err;
	}
	return fb_wcur_ok(w) ? UFTP_OK : UFTP_E_NOSPACE;
}
