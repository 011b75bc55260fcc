/* abort.c — ABORT, sent by any party to end a session (or one client's
 * part in it) with a reason in a fixed 300-byte text field. */
#include "wire.h"

enum uftp_err uftp_decode_abort(struct fb_rcur *c, struct uftp_abort *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_ABORT, UFTP_MIN_ABORT, &h);
	if (e)
		return e;
	m->flags = fb_rcur_u8(&h);
	fb_rcur_skip(&h, 1);
	m->host = fb_rcur_u32(&h);
	m->text = fb_bview_until_nul(fb_rcur_bytes(&h, UFTP_ABORT_TEXT_LEN));
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_end(c);
}

enum uftp_err uftp_encode_abort(struct fb_wcur *w, const struct uftp_abort *m)
{
	if (m->text.len > UFTP_ABORT_TEXT_LEN)
		return UFTP_E_RANGE;
	size_t start = uftp_wire_begin(w, UFTP_ABORT);
	fb_wcur_u8(w, m->flags);
	fb_wcur_u8(w, 0);
	fb_wcur_u32(w, m->host);
	fb_wcur_bytes(w, m->text.p, m->text.len);
	fb_wcur_zeros(w, UFTP_ABORT_TEXT_LEN - m->text.len);
	return uftp_wire_close(w, start, &m->ext);
}
