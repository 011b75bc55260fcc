/* ext.c — UFTP header extensions: walking the extension area of a message
 * header and decoding or encoding the seven types uftp 4.x defines. */
#include <string.h>

#include "wire.h"

/* Each decoder gets a cursor after the type and length bytes, over at
 * least the extension's fixed size; bytes is the whole extension. */
struct ext_desc {
	size_t size;     /* fixed size in bytes, with type and length */
	enum uftp_err (*decode)(struct rcur *x, size_t bytes,
				struct uftp_exts *e);
	enum uftp_err (*encode)(struct wcur *w, const struct uftp_exts *e);
};

static enum uftp_err dec_enc_info(struct rcur *x, size_t bytes,
				  struct uftp_exts *e)
{
	struct uftp_enc_info *i = &e->enc_info;
	i->flags = rcur_u8(x);
	uint8_t kx = rcur_u8(x);
	i->keyextype = kx >> 4;
	i->sigtype = kx & 0x0F;
	i->keytype = rcur_u8(x);
	i->hashtype = rcur_u8(x);
	size_t keylen = rcur_u16(x), dhlen = rcur_u16(x), siglen = rcur_u16(x);
	i->rand1 = rcur_bytes(x, UFTP_RAND_LEN);
	if (44 + keylen + dhlen + siglen != bytes)
		return UFTP_E_EXT_LEN;
	i->keyblob = rcur_bytes(x, keylen);
	i->dhblob = rcur_bytes(x, dhlen);
	i->sig = rcur_bytes(x, siglen);
	return rcur_ok(x) ? UFTP_OK : UFTP_E_EXT_LEN;
}

static enum uftp_err enc_enc_info(struct wcur *w, const struct uftp_exts *e)
{
	const struct uftp_enc_info *i = &e->enc_info;
	size_t bytes = 44 + i->keyblob.len + i->dhblob.len + i->sig.len;
	/* uftp clients want the length exact, so no padding is possible. */
	if (bytes % 4 || bytes > 255 * 4 || i->rand1.len != UFTP_RAND_LEN ||
	    i->keyextype > 15 || i->sigtype > 15)
		return UFTP_E_RANGE;
	wcur_u8(w, UFTP_EXT_ENC_INFO);
	wcur_u8(w, (uint8_t)(bytes / 4));
	wcur_u8(w, i->flags);
	wcur_u8(w, (uint8_t)(i->keyextype << 4 | i->sigtype));
	wcur_u8(w, i->keytype);
	wcur_u8(w, i->hashtype);
	wcur_u16(w, (uint16_t)i->keyblob.len);
	wcur_u16(w, (uint16_t)i->dhblob.len);
	wcur_u16(w, (uint16_t)i->sig.len);
	wcur_bytes(w, i->rand1.p, UFTP_RAND_LEN);
	wcur_bytes(w, i->keyblob.p, i->keyblob.len);
	wcur_bytes(w, i->dhblob.p, i->dhblob.len);
	wcur_bytes(w, i->sig.p, i->sig.len);
	return UFTP_OK;
}

static enum uftp_err dec_tfmcc_data(struct rcur *x, size_t bytes,
				    struct uftp_exts *e)
{
	(void)bytes;
	e->tfmcc_data.send_rate = rcur_u16(x);
	e->tfmcc_data.cc_seq = rcur_u16(x);
	e->tfmcc_data.cc_rate = rcur_u16(x);
	return UFTP_OK;
}

static enum uftp_err enc_tfmcc_data(struct wcur *w, const struct uftp_exts *e)
{
	wcur_u8(w, UFTP_EXT_TFMCC_DATA_INFO);
	wcur_u8(w, 2);
	wcur_u16(w, e->tfmcc_data.send_rate);
	wcur_u16(w, e->tfmcc_data.cc_seq);
	wcur_u16(w, e->tfmcc_data.cc_rate);
	return UFTP_OK;
}

static enum uftp_err dec_tfmcc_ack(struct rcur *x, size_t bytes,
				   struct uftp_exts *e)
{
	(void)bytes;
	struct uftp_tfmcc_ack *a = &e->tfmcc_ack;
	a->flags = rcur_u8(x);
	rcur_skip(x, 1);
	a->cc_seq = rcur_u16(x);
	a->cc_rate = rcur_u16(x);
	a->client_id = rcur_u32(x);
	a->ts_sec = rcur_u32(x);
	a->ts_usec = rcur_u32(x);
	return UFTP_OK;
}

static enum uftp_err enc_tfmcc_ack(struct wcur *w, const struct uftp_exts *e)
{
	const struct uftp_tfmcc_ack *a = &e->tfmcc_ack;
	wcur_u8(w, UFTP_EXT_TFMCC_ACK_INFO);
	wcur_u8(w, 5);
	wcur_u8(w, a->flags);
	wcur_u8(w, 0);
	wcur_u16(w, a->cc_seq);
	wcur_u16(w, a->cc_rate);
	wcur_u32(w, a->client_id);
	wcur_u32(w, a->ts_sec);
	wcur_u32(w, a->ts_usec);
	return UFTP_OK;
}

static enum uftp_err dec_pgmcc_data(struct rcur *x, size_t bytes,
				    struct uftp_exts *e)
{
	(void)bytes;
	rcur_skip(x, 2);
	e->pgmcc_data.acker = rcur_u32(x);
	return UFTP_OK;
}

static enum uftp_err enc_pgmcc_data(struct wcur *w, const struct uftp_exts *e)
{
	wcur_u8(w, UFTP_EXT_PGMCC_DATA_INFO);
	wcur_u8(w, 2);
	wcur_u16(w, 0);
	wcur_u32(w, e->pgmcc_data.acker);
	return UFTP_OK;
}

static enum uftp_err dec_pgmcc_nak(struct rcur *x, size_t bytes,
				   struct uftp_exts *e)
{
	(void)bytes;
	e->pgmcc_nak.loss = rcur_u16(x);
	e->pgmcc_nak.ts_sec = rcur_u32(x);
	e->pgmcc_nak.ts_usec = rcur_u32(x);
	return UFTP_OK;
}

static enum uftp_err enc_pgmcc_nak(struct wcur *w, const struct uftp_exts *e)
{
	wcur_u8(w, UFTP_EXT_PGMCC_NAK_INFO);
	wcur_u8(w, 3);
	wcur_u16(w, e->pgmcc_nak.loss);
	wcur_u32(w, e->pgmcc_nak.ts_sec);
	wcur_u32(w, e->pgmcc_nak.ts_usec);
	return UFTP_OK;
}

static enum uftp_err dec_pgmcc_ack(struct rcur *x, size_t bytes,
				   struct uftp_exts *e)
{
	(void)bytes;
	struct uftp_pgmcc_ack *a = &e->pgmcc_ack;
	rcur_skip(x, 2);
	a->loss = rcur_u16(x);
	a->max_seq = rcur_u16(x);
	a->ack_bitmap = rcur_u32(x);
	a->ts_sec = rcur_u32(x);
	a->ts_usec = rcur_u32(x);
	return UFTP_OK;
}

static enum uftp_err enc_pgmcc_ack(struct wcur *w, const struct uftp_exts *e)
{
	const struct uftp_pgmcc_ack *a = &e->pgmcc_ack;
	wcur_u8(w, UFTP_EXT_PGMCC_ACK_INFO);
	wcur_u8(w, 5);
	wcur_u16(w, 0);
	wcur_u16(w, a->loss);
	wcur_u16(w, a->max_seq);
	wcur_u32(w, a->ack_bitmap);
	wcur_u32(w, a->ts_sec);
	wcur_u32(w, a->ts_usec);
	return UFTP_OK;
}

static enum uftp_err dec_freespace(struct rcur *x, size_t bytes,
				   struct uftp_exts *e)
{
	(void)bytes;
	rcur_skip(x, 2);
	e->freespace = rcur_u64(x);
	return UFTP_OK;
}

static enum uftp_err enc_freespace(struct wcur *w, const struct uftp_exts *e)
{
	wcur_u8(w, UFTP_EXT_FREESPACE_INFO);
	wcur_u8(w, 3);
	wcur_u16(w, 0);
	wcur_u64(w, e->freespace);
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

static enum uftp_err decode_one(struct rcur *c, struct uftp_exts *e)
{
	if (rcur_remaining(c) < 4)      /* an extension is at least a word */
		return UFTP_E_EXT_LONG;
	uint8_t type = rcur_peek(c, 0);
	size_t bytes = (size_t)rcur_peek(c, 1) * 4;
	if (bytes == 0)
		return UFTP_E_EXT_ZERO;
	if (bytes > rcur_remaining(c))
		return UFTP_E_EXT_LONG;
	struct rcur x = rcur_sub(c, bytes);
	rcur_skip(&x, 2);
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

enum uftp_err uftp_exts_decode(struct rcur *c, struct uftp_exts *e)
{
	memset(e, 0, sizeof(*e));
	while (rcur_remaining(c)) {
		enum uftp_err err = decode_one(c, e);
		if (err)
			return err;
	}
	return UFTP_OK;
}

enum uftp_err uftp_exts_encode(struct wcur *w, const struct uftp_exts *e)
{
	for (unsigned type = 1; type <= UFTP_EXT_MAX; type++) {
		if (!UFTP_HAS_EXT(e, type))
			continue;
		enum uftp_err err = ext_table[type].encode(w, e);
		if (err)
			return err;
	}
	return wcur_ok(w) ? UFTP_OK : UFTP_E_NOSPACE;
}
