/* completion.c — the end of a file or session: a client's COMPLETE and the
 * server's DONE_CONF confirming the clients it heard from. */
#include "wire.h"

enum uftp_err uftp_decode_complete(struct rcur *c, struct uftp_complete *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_COMPLETE, UFTP_MIN_COMPLETE, &h);
	if (e)
		return e;
	m->file_id = rcur_u16(&h);
	m->status = rcur_u8(&h);
	rcur_skip(&h, 3);
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	return wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_complete(struct wcur *w,
				   const struct uftp_complete *m)
{
	size_t start = wire_begin(w, UFTP_COMPLETE);
	wcur_u16(w, m->file_id);
	wcur_u8(w, m->status);
	wcur_zeros(w, 3);
	enum uftp_err e = wire_close(w, start, &m->ext);
	return e ? e : wire_put_uids(w, &m->uids);
}

enum uftp_err uftp_decode_done_conf(struct rcur *c, struct uftp_done_conf *m)
{
	enum uftp_err e = wire_decode_bare(c, UFTP_DONE_CONF, &m->ext);
	return e ? e : wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_done_conf(struct wcur *w,
				    const struct uftp_done_conf *m)
{
	enum uftp_err e = wire_encode_bare(w, UFTP_DONE_CONF, &m->ext);
	return e ? e : wire_put_uids(w, &m->uids);
}
