/* status.c — STATUS, a client's NAK bitmap for one section of a file,
 * optionally with its congestion control feedback. */
#include "wire.h"

enum uftp_err uftp_decode_status(struct fb_rcur *c, struct uftp_status *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_STATUS, UFTP_MIN_STATUS, &h);
	if (e)
		return e;
	m->file_id = fb_rcur_u16(&h);
	m->section = fb_rcur_u16(&h);
	fb_rcur_skip(&h, 2);
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	/* uftp sends ceil(blocks in section / 8) bytes: no alignment. */
	m->naks = fb_rcur_bytes(c, fb_rcur_remaining(c));
	return UFTP_OK;
}

enum uftp_err uftp_encode_status(struct fb_wcur *w, const struct uftp_status *m)
{
	size_t start = uftp_wire_begin(w, UFTP_STATUS);
	fb_wcur_u16(w, m->file_id);
	fb_wcur_u16(w, m->section);
	fb_wcur_u16(w, 0);
	enum uftp_err e = uftp_wire_close(w, start, &m->ext);
	if (e)
		return e;
	fb_wcur_bytes(w, m->naks.p, m->naks.len);
	return uftp_wire_result(w);
}
