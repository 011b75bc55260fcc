/* layout.c — opening and closing a message body: the function byte, hlen,
 * extension area and what follows hlen, checked the same way for all. */
#include "wire.h"

enum uftp_err wire_open(struct rcur *c, uint8_t func, size_t fixed,
			struct rcur *h)
{
	if (rcur_remaining(c) < 2)
		return UFTP_E_TRUNC;
	if (rcur_peek(c, 0) != func)
		return UFTP_E_FUNC_MISMATCH;
	size_t hbytes = (size_t)rcur_peek(c, 1) * 4;
	if (hbytes < fixed)
		return UFTP_E_HLEN_SHORT;
	if (hbytes > rcur_remaining(c))
		return UFTP_E_HLEN_LONG;
	*h = rcur_sub(c, hbytes);
	rcur_skip(h, 2);
	return UFTP_OK;
}

enum uftp_err wire_field(struct rcur *h, size_t n, struct bview *out)
{
	if (n > rcur_remaining(h))
		return UFTP_E_FIELD_LEN;
	*out = rcur_bytes(h, n);
	return UFTP_OK;
}

enum uftp_err wire_exts(struct rcur *h, struct uftp_exts *e)
{
	/* hlen*4 is a multiple of 4, so the padding is always there. */
	rcur_skip(h, (4 - rcur_offset(h) % 4) % 4);
	return uftp_exts_decode(h, e);
}

enum uftp_err wire_items(struct rcur *c, size_t size, const uint8_t **wire,
			 size_t *count)
{
	size_t n = rcur_remaining(c);
	if (n % size)
		return UFTP_E_LIST_ALIGN;
	*count = n / size;
	*wire = rcur_bytes(c, n).p;
	return UFTP_OK;
}

enum uftp_err wire_uids(struct rcur *c, struct uftp_uids *u)
{
	u->host = NULL;
	return wire_items(c, 4, &u->wire, &u->count);
}

enum uftp_err wire_end(struct rcur *c)
{
	return rcur_remaining(c) ? UFTP_E_TRAILING : UFTP_OK;
}

/* ---- encoding ---------------------------------------------------------- */

size_t wire_begin(struct wcur *w, uint8_t func)
{
	size_t start = wcur_offset(w);
	wcur_u8(w, func);
	wcur_u8(w, 0);          /* hlen, patched by wire_close */
	return start;
}

enum uftp_err wire_result(const struct wcur *w)
{
	return wcur_ok(w) ? UFTP_OK : UFTP_E_NOSPACE;
}

enum uftp_err wire_close(struct wcur *w, size_t start,
			 const struct uftp_exts *e)
{
	wcur_pad4(w, start);
	enum uftp_err err = uftp_exts_encode(w, e);
	if (err)
		return err;
	if (!wcur_ok(w))
		return UFTP_E_NOSPACE;
	size_t words = (wcur_offset(w) - start) / 4;
	if (words > 255)
		return UFTP_E_RANGE;
	wcur_patch_u8(w, start + 1, (uint8_t)words);
	return wire_result(w);
}

enum uftp_err wire_put_uids(struct wcur *w, const struct uftp_uids *u)
{
	if (u->host) {
		for (size_t i = 0; i < u->count; i++)
			wcur_u32(w, u->host[i]);
	} else if (u->count) {
		if (!u->wire || u->count > SIZE_MAX / 4)
			return UFTP_E_RANGE;
		wcur_bytes(w, u->wire, u->count * 4);
	}
	return wire_result(w);
}

enum uftp_err wire_words(struct bview v, uint8_t *words)
{
	if (v.len > 255 * 4)
		return UFTP_E_RANGE;
	*words = (uint8_t)((v.len + 3) / 4);
	return UFTP_OK;
}

void wire_put_padded(struct wcur *w, struct bview v)
{
	wcur_bytes(w, v.p, v.len);
	wcur_zeros(w, (4 - v.len % 4) % 4);
}

enum uftp_err wire_len16(struct bview v, uint16_t *out)
{
	if (v.len > UINT16_MAX)
		return UFTP_E_RANGE;
	*out = (uint16_t)v.len;
	return UFTP_OK;
}

enum uftp_err wire_decode_bare(struct rcur *c, uint8_t func, struct uftp_exts *e)
{
	struct rcur h;
	enum uftp_err r = wire_open(c, func, 4, &h);
	if (r)
		return r;
	rcur_skip(&h, 2);
	return wire_exts(&h, e);
}

enum uftp_err wire_encode_bare(struct wcur *w, uint8_t func,
			       const struct uftp_exts *e)
{
	size_t start = wire_begin(w, func);
	wcur_u16(w, 0);
	return wire_close(w, start, e);
}
