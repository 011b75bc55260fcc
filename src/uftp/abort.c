/* abort.c — ABORT, sent by any party to end a session (or one client's
 * part in it) with a reason in a fixed 300-byte text field. */
#include "wire.h"

enum uftp_err uftp_decode_abort(struct rcur *c, struct uftp_abort *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_ABORT, UFTP_MIN_ABORT, &h);
	if (e)
		return e;
	m->flags = rcur_u8(&h);
	rcur_skip(&h, 1);
	m->host = rcur_u32(&h);
	m->text = bview_until_nul(rcur_bytes(&h, UFTP_ABORT_TEXT_LEN));
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	return wire_end(c);
}

enum uftp_err uftp_encode_abort(struct wcur *w, const struct uftp_abort *m)
{
	if (m->text.len > UFTP_ABORT_TEXT_LEN)
		return UFTP_E_RANGE;
	size_t start = wire_begin(w, UFTP_ABORT);
	wcur_u8(w, m->flags);
	wcur_u8(w, 0);
	wcur_u32(w, m->host);
	wcur_bytes(w, m->text.p, m->text.len);
	wcur_zeros(w, UFTP_ABORT_TEXT_LEN - m->text.len);
	return wire_close(w, start, &m->ext);
}
