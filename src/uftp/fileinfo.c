/* fileinfo.c — FILEINFO, which describes the next file (name, size, type,
 * link target) to the listed clients, and their FILEINFO_ACK. */
#include "wire.h"

#define SIZE_MAX48 0xFFFFFFFFFFFFull

enum uftp_err uftp_decode_fileinfo(struct rcur *c, struct uftp_fileinfo *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_FILEINFO, UFTP_MIN_FILEINFO, &h);
	if (e)
		return e;
	m->file_id = rcur_u16(&h);
	m->ftype = rcur_u8(&h);
	rcur_skip(&h, 3);
	size_t namelen = (size_t)rcur_u8(&h) * 4;
	size_t linklen = (size_t)rcur_u8(&h) * 4;
	uint64_t hi = rcur_u16(&h);
	m->size = hi << 32 | rcur_u32(&h);
	m->ftstamp = rcur_u32(&h);
	m->ts_sec = rcur_u32(&h);
	m->ts_usec = rcur_u32(&h);
	if ((e = wire_field(&h, namelen, &m->name)) ||
	    (e = wire_field(&h, linklen, &m->link)) ||
	    (e = wire_exts(&h, &m->ext)))
		return e;
	/* Padding is zeros; a name of a multiple of 4 has no terminator. */
	m->name = bview_until_nul(m->name);
	m->link = bview_until_nul(m->link);
	return wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_fileinfo(struct wcur *w,
				   const struct uftp_fileinfo *m)
{
	uint8_t namewords, linkwords;
	if (m->size > SIZE_MAX48 || wire_words(m->name, &namewords) ||
	    wire_words(m->link, &linkwords))
		return UFTP_E_RANGE;
	size_t start = wire_begin(w, UFTP_FILEINFO);
	wcur_u16(w, m->file_id);
	wcur_u8(w, m->ftype);
	wcur_zeros(w, 3);
	wcur_u8(w, namewords);
	wcur_u8(w, linkwords);
	wcur_u16(w, (uint16_t)(m->size >> 32));
	wcur_u32(w, (uint32_t)m->size);
	wcur_u32(w, m->ftstamp);
	wcur_u32(w, m->ts_sec);
	wcur_u32(w, m->ts_usec);
	wire_put_padded(w, m->name);
	wire_put_padded(w, m->link);
	enum uftp_err e = wire_close(w, start, &m->ext);
	return e ? e : wire_put_uids(w, &m->uids);
}

enum uftp_err uftp_decode_fileinfo_ack(struct rcur *c,
				       struct uftp_fileinfo_ack *m)
{
	struct rcur h;
	enum uftp_err e = wire_open(c, UFTP_FILEINFO_ACK, UFTP_MIN_FILEINFO_ACK,
				    &h);
	if (e)
		return e;
	m->file_id = rcur_u16(&h);
	m->flags = rcur_u8(&h);
	rcur_skip(&h, 3);
	m->ts_sec = rcur_u32(&h);
	m->ts_usec = rcur_u32(&h);
	if ((e = wire_exts(&h, &m->ext)))
		return e;
	return wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_fileinfo_ack(struct wcur *w,
				       const struct uftp_fileinfo_ack *m)
{
	size_t start = wire_begin(w, UFTP_FILEINFO_ACK);
	wcur_u16(w, m->file_id);
	wcur_u8(w, m->flags);
	wcur_zeros(w, 3);
	wcur_u32(w, m->ts_sec);
	wcur_u32(w, m->ts_usec);
	enum uftp_err e = wire_close(w, start, &m->ext);
	return e ? e : wire_put_uids(w, &m->uids);
}
