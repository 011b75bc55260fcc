/* transfer.c — the data phase from the server: FILESEG blocks and DONE,
 * which asks the listed clients for status (file 0: end of session). */
#include "wire.h"

enum uftp_err uftp_decode_fileseg(struct rcur *c, struct uftp_fileseg *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_FILESEG, UFTP_MIN_FILESEG, &h);
	if (e)
		return e;
	m->file_id = rcur_u16(&h);
	m->section = rcur_u16(&h);
	m->sec_block = rcur_u16(&h);
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	m->data = rcur_bytes(c, rcur_remaining(c));
	return UFTP_OK;
}

enum uftp_err uftp_encode_fileseg(struct wcur *w, const struct uftp_fileseg *m)
{
	size_t start = wire_begin(w, UFTP_FILESEG);
	wcur_u16(w, m->file_id);
	wcur_u16(w, m->section);
	wcur_u16(w, m->sec_block);
	enum uftp_err e = wire_close(w, start, &m->ext);
	if (e)
		return e;
	wcur_bytes(w, m->data.p, m->data.len);
	return wire_result(w);
}

enum uftp_err uftp_decode_done(struct rcur *c, struct uftp_done *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_DONE, UFTP_MIN_DONE, &h);
	if (e)
		return e;
	m->file_id = rcur_u16(&h);
	m->section = rcur_u16(&h);
	rcur_skip(&h, 2);
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	return wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_done(struct wcur *w, const struct uftp_done *m)
{
	size_t start = wire_begin(w, UFTP_DONE);
	wcur_u16(w, m->file_id);
	wcur_u16(w, m->section);
	wcur_u16(w, 0);
	enum uftp_err e = wire_close(w, start, &m->ext);
	return e ? e : wire_put_uids(w, &m->uids);
}
