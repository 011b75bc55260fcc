/* fileinfo.c — FILEINFO, which describes the next file (name, size, type,
 * link target) to the listed clients, and their FILEINFO_ACK. */
#include "wire.h"

#define SIZE_MAX48 0xFFFFFFFFFFFFull

enum uftp_err uftp_decode_fileinfo(struct fb_rcur *c, struct uftp_fileinfo *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_FILEINFO, UFTP_MIN_FILEINFO, &h);
	if (e)
		return e;
	m->file_id = fb_rcur_u16(&h);
	m->ftype = fb_rcur_u8(&h);
	fb_rcur_skip(&h, 3);
	size_t namelen = (size_t)fb_rcur_u8(&h) * 4;
	size_t linklen = (size_t)fb_rcur_u8(&h) * 4;
	uint64_t hi = fb_rcur_u16(&h);
	m->size = hi << 32 | fb_rcur_u32(&h);
	m->ftstamp = fb_rcur_u32(&h);
	m->ts_sec = fb_rcur_u32(&h);
	m->ts_usec = fb_rcur_u32(&h);
	if ((e = uftp_wire_field(&h, namelen, &m->name)) ||
	    (e = uftp_wire_field(&h, linklen, &m->link)) ||
	    (e = uftp_wire_exts(&h, &m->ext)))
		return e;
	/* Padding is zeros; a name of a multiple of 4 has no terminator. */
	m->name = fb_bview_until_nul(m->name);
	m->link = fb_bview_until_nul(m->link);
	return uftp_wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_fileinfo(struct fb_wcur *w,
				   const struct uftp_fileinfo *m)
{
	uint8_t namewords, linkwords;
	if (m->size > SIZE_MAX48 || uftp_wire_words(m->name, &namewords) ||
	    uftp_wire_words(m->link, &linkwords))
		return UFTP_E_RANGE;
	size_t start = uftp_wire_begin(w, UFTP_FILEINFO);
	fb_wcur_u16(w, m->file_id);
	fb_wcur_u8(w, m->ftype);
	fb_wcur_zeros(w, 3);
	fb_wcur_u8(w, namewords);
	fb_wcur_u8(w, linkwords);
	fb_wcur_u16(w, (uint16_t)(m->size >> 32));
	fb_wcur_u32(w, (uint32_t)m->size);
	fb_wcur_u32(w, m->ftstamp);
	fb_wcur_u32(w, m->ts_sec);
	fb_wcur_u32(w, m->ts_usec);
	uftp_wire_put_padded(w, m->name);
	uftp_wire_put_padded(w, m->link);
	enum uftp_err e = uftp_wire_close(w, start, &m->ext);
	return e ? e : uftp_wire_put_uids(w, &m->uids);
}

enum uftp_err uftp_decode_fileinfo_ack(struct fb_rcur *c,
				       struct uftp_fileinfo_ack *m)
{
	struct fb_rcur h;
	enum uftp_err e = uftp_wire_open(c, UFTP_FILEINFO_ACK, UFTP_MIN_FILEINFO_ACK,
				    &h);
	if (e)
		return e;
	m->file_id = fb_rcur_u16(&h);
	m->flags = fb_rcur_u8(&h);
	fb_rcur_skip(&h, 3);
	m->ts_sec = fb_rcur_u32(&h);
	m->ts_usec = fb_rcur_u32(&h);
	if ((e = uftp_wire_exts(&h, &m->ext)))
		return e;
	return uftp_wire_uids(c, &m->uids);
}

enum uftp_err uftp_encode_fileinfo_ack(struct fb_wcur *w,
				       const struct uftp_fileinfo_ack *m)
{
	size_t start = uftp_wire_begin(w, UFTP_FILEINFO_ACK);
	fb_wcur_u16(w, m->file_id);
	fb_wcur_u8(w, m->flags);
	fb_wcur_zeros(w, 3);
	fb_wcur_u32(w, m->ts_sec);
	fb_wcur_u32(w, m->ts_usec);
	enum uftp_err e = uftp_wire_close(w, start, &m->ext);
	return e ? e : uftp_wire_put_uids(w, &m->uids);
}
