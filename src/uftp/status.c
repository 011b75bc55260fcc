/* status.c — STATUS, a client's NAK bitmap for one section of a file,
 * optionally with its congestion control feedback. */
#include "wire.h"

enum uftp_err uftp_decode_status(struct rcur *c, struct uftp_status *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_STATUS, UFTP_MIN_STATUS, &h);
	if (e)
		return e;
	m->file_id = rcur_u16(&h);
	m->section = rcur_u16(&h);
	rcur_skip(&h, 2);
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	/* uftp sends ceil(blocks in section / 8) bytes: no alignment. */
	m->naks = rcur_bytes(c, rcur_remaining(c));
	return UFTP_OK;
}

enum uftp_err uftp_encode_status(struct wcur *w, const struct uftp_status *m)
{
	size_t start = wire_begin(w, UFTP_STATUS);
	wcur_u16(w, m->file_id);
	wcur_u16(w, m->section);
	wcur_u16(w, 0);
	enum uftp_err e = wire_close(w, start, &m->ext);
	if (e)
		return e;
	wcur_bytes(w, m->naks.p, m->naks.len);
	return wire_result(w);
}
