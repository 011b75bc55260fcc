/* layout.c — opening and closing a message body: the function byte, hlen,
 * extension area and what follows hlen, checked the same way for all. */
#include "wire.h"

enum uftp_err uftp_wire_open(struct fb_rcur *c, uint8_t func, size_t fixed,
			struct fb_rcur *h)
{
	if (fb_rcur_remaining(c) < 2)
		return UFTP_E_TRUNC;
	if (fb_rcur_peek(c, 0) != func)
		return UFTP_E_FUNC_MISMATCH;
	size_t hbytes = (size_t)fb_rcur_peek(c, 1) * 4;
	if (hbytes < fixed)
		return UFTP_E_HLEN_SHORT;
	if (hbytes > fb_rcur_remaining(c))
		return UFTP_E_HLEN_LONG;
	*h = fb_rcur_sub(c, hbytes);
	fb_rcur_skip(h, 2);
	return UFTP_OK;
}

enum uftp_err uftp_wire_field(struct fb_rcur *h, size_t n, struct fb_bview *out)
{
	if (n > fb_rcur_remaining(h))
		return UFTP_E_FIELD_LEN;
	*out = fb_rcur_bytes(h, n);
	return UFTP_OK;
}

enum uftp_err uftp_wire_exts(struct fb_rcur *h, struct uftp_exts *e)
{
	/* hlen*4 is a multiple of 4, so the padding is always there. */
	fb_rcur_skip(h, (4 - fb_rcur_offset(h) % 4) % 4);
	return uftp_exts_decode(h, e);
}

enum uftp_err uftp_wire_items(struct fb_rcur *c, size_t size, const uint8_t **wire,
			 size_t *count)
{
	size_t n = fb_rcur_remaining(c);
	if (n % size)
		return UFTP_E_LIST_ALIGN;
	*count = n / size;
	*wire = fb_rcur_bytes(c, n).p;
	return UFTP_OK;
}

enum uftp_err uftp_wire_uids(struct fb_rcur *c, struct uftp_uids *u)
{
	u->host = NULL;
	return uftp_wire_items(c, 4, &u->wire, &u->count);
}

enum uftp_err uftp_wire_end(struct fb_rcur *c)
{
	return fb_rcur_remaining(c) ? UFTP_E_TRAILING : UFTP_OK;
}

/* ---- encoding ---------------------------------------------------------- */

size_t uftp_wire_begin(struct fb_wcur *w, uint8_t func)
{
	size_t start = fb_wcur_offset(w);
	fb_wcur_u8(w, func);
	fb_wcur_u8(w, 0);          /* hlen, patched by uftp_wire_close */
	return start;
}

enum uftp_err uftp_wire_result(const struct fb_wcur *w)
{
	return fb_wcur_ok(w) ? UFTP_OK : UFTP_E_NOSPACE;
}

enum uftp_err uftp_wire_close(struct fb_wcur *w, size_t start,
			 const struct uftp_exts *e)
{
	fb_wcur_pad4(w, start);
	enum uftp_err err = uftp_exts_encode(w, e);
	if (err)
		return err;
	if (!fb_wcur_ok(w))
		return UFTP_E_NOSPACE;
	size_t words = (fb_wcur_offset(w) - start) / 4;
	if (words > 255)
		return UFTP_E_RANGE;
	fb_wcur_patch_u8(w, start + 1, (uint8_t)words);
	return uftp_wire_result(w);
}

enum uftp_err uftp_wire_put_uids(struct fb_wcur *w, const struct uftp_uids *u)
{
	if (u->host) {
		for (size_t i = 0; i < u->count; i++)
			fb_wcur_u32(w, u->host[i]);
	} else if (u->count) {
		if (!u->wire || u->count > SIZE_MAX / 4)
			return UFTP_E_RANGE;
		fb_wcur_bytes(w, u->wire, u->count * 4);
	}
	return uftp_wire_result(w);
}

enum uftp_err uftp_wire_words(struct fb_bview v, uint8_t *words)
{
	if (v.len > 255 * 4)
		return UFTP_E_RANGE;
	*words = (uint8_t)((v.len + 3) / 4);
	return UFTP_OK;
}

void uftp_wire_put_padded(struct fb_wcur *w, struct fb_bview v)
{
	fb_wcur_bytes(w, v.p, v.len);
	fb_wcur_zeros(w, (4 - v.len % 4) % 4);
}

enum uftp_err uftp_wire_len16(struct fb_bview v, uint16_t *out)
{
	if (v.len > UINT16_MAX)
		return UFTP_E_RANGE;
	*out = (uint16_t)v.len;
	return UFTP_OK;
}

enum uftp_err uftp_wire_decode_bare(struct fb_rcur *c, uint8_t func, struct uftp_exts *e)
{
	struct fb_rcur h;
	enum uftp_err r = uftp_wire_open(c, func, 4, &h);
	if (r)
		return r;
	fb_rcur_skip(&h, 2);
	return uftp_wire_exts(&h, e);
}

enum uftp_err uftp_wire_encode_bare(struct fb_wcur *w, uint8_t func,
			       const struct uftp_exts *e)
{
	size_t start = uftp_wire_begin(w, func);
	fb_wcur_u16(w, 0);
	return uftp_wire_close(w, start, e);
}
