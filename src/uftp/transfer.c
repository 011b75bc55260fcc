/* transfer.c — the data phase from the server: FILESEG blocks and DONE,
 * which asks the listed clients for status (file 0: end of session). */
#include "wire.h"

enum uftp_err uftp_decode_fileseg(struct fb_rcur *c, struct uftp_fileseg *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_FILESEG, UFTP_MIN_FILESEG, &h);
	if (e)
		return e;
	m->file_id = fb_rcur_u16(&h);
	m->section = fb_rcur_u16(&h);
	m->sec_block = fb_rcur_u16(&h);
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	m->data = fb_rcur_bytes(c, fb_rcur_remaining(c));
	return UFTP_OK;
}

enum uftp_err uftp_encode_fileseg(struct fb_wcur *w, const struct uftp_fileseg *m)
{
	size_t start = uftp_wire_begin(w, UFTP_FILESEG);
	fb_wcur_u16(w, m->file_id);
	fb_wcur_u16(w, m->section);
	fb_wcur_u16(w, m->sec_block);
	enum uftp_err e = uftp_wire_close(w, start, &m->ext);
	if (e)
		return e;
	fb_wcur_bytes(w, m->data.p, m->data.len);
	return uftp_wire_result(w);
}

enum uftp_err uftp_decode_done(struct fb_rcur *c, struct uftp_done *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_DONE, UFTP_MIN_DONE, &h);
	if (e)
		return e;
	m->file_id = fb_rcur_u16(&h);
	m->section = fb_rcur_u16(&h);
	fb_rcur_skip(&h, 2);
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_done(struct fb_wcur *w, const struct uftp_done *m)
{
	size_t start = uftp_wire_begin(w, UFTP_DONE);
	fb_wcur_u16(w, m->file_id);
	fb_wcur_u16(w, m->section);
	fb_wcur_u16(w, 0);
	enum uftp_err e = uftp_wire_close(w, start, &m->ext);
	return e ? e : uftp_wire_put_uids(w, &m->uids);
}
