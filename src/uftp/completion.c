/* completion.c — the end of a file or session: a client's COMPLETE and the
 * server's DONE_CONF confirming the clients it heard from. */
#include "wire.h"

enum uftp_err uftp_decode_complete(struct fb_rcur *c, struct uftp_complete *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_COMPLETE, UFTP_MIN_COMPLETE, &h);
	if (e)
		return e;
	m->file_id = fb_rcur_u16(&h);
	m->status = fb_rcur_u8(&h);
	fb_rcur_skip(&h, 3);
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_complete(struct fb_wcur *w,
				   const struct uftp_complete *m)
{
	size_t start = uftp_wire_begin(w, UFTP_COMPLETE);
	fb_wcur_u16(w, m->file_id);
	fb_wcur_u8(w, m->status);
	fb_wcur_zeros(w, 3);
	enum uftp_err e = uftp_wire_close(w, start, &m->ext);
	return e ? e : uftp_wire_put_uids(w, &m->uids);
}

enum uftp_err uftp_decode_done_conf(struct fb_rcur *c, struct uftp_done_conf *m)
{
	enum uftp_err e = uftp_wire_decode_bare(c, UFTP_DONE_CONF, &m->ext);
	return e ? e : uftp_wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_done_conf(struct fb_wcur *w,
				    const struct uftp_done_conf *m)
{
	enum uftp_err e = uftp_wire_encode_bare(w, UFTP_DONE_CONF, &m->ext);
	return e ? e : uftp_wire_put_uids(w, &m->uids);
}
