/* dispatch.c — whole datagrams: the table from message type to name, size
 * and codec, decoding and encoding header plus body, and error names. */
#include <string.h>

#include "wire.h"

/* Adapters from the typed codecs to table entries over struct uftp_msg. */
#define ADAPT(name, member, func, min) \
	static enum uftp_err dec_##name(struct fb_rcur *c, struct uftp_msg *m) \
	{ \
		return uftp_decode_##name(c, &m->u.member); \
	} \
	static enum uftp_err enc_##name(struct fb_wcur *w, \
					const struct uftp_msg *m) \
	{ \
		return uftp_encode_##name(w, &m->u.member); \
	}
UFTP_MESSAGES(ADAPT)
#undef ADAPT

struct msg_desc {
	const char *name;
	size_t min_body;
	enum uftp_err (*decode)(struct fb_rcur *c, struct uftp_msg *m);
	enum uftp_err (*encode)(struct fb_wcur *w, const struct uftp_msg *m);
};

static const struct msg_desc msg_table[UFTP_FUNC_MAX + 1] = {
#define ENTRY(name, member, func, min) \
	[UFTP_##func] = { #func, min, dec_##name, enc_##name },
	UFTP_MESSAGES(ENTRY)
#undef ENTRY
};

static const struct msg_desc *msg_desc(unsigned func)
{
	return func <= UFTP_FUNC_MAX && msg_table[func].decode ?
	       &msg_table[func] : NULL;
}

const char *uftp_func_name(unsigned func)
{
	const struct msg_desc *d = msg_desc(func);
	return d ? d->name : "?";
}

size_t uftp_min_body(unsigned func)
{
	const struct msg_desc *d = msg_desc(func);
	return d ? d->min_body : 0;
}

enum uftp_err uftp_decode(struct fb_rcur *c, struct uftp_msg *m)
{
	enum uftp_err e = uftp_hdr_decode(c, &m->hdr);
	if (e)
		return e;
	const struct msg_desc *d = msg_desc(m->hdr.func);
	return d ? d->decode(c, m) : UFTP_E_FUNC;
}

enum uftp_err uftp_decode_inner(struct fb_rcur *c, const struct uftp_hdr *outer,
				struct uftp_msg *m)
{
	m->hdr = *outer;
	m->hdr.func = fb_rcur_peek(c, 0);
	if (fb_rcur_remaining(c) == 0)
		return UFTP_E_TRUNC;
	const struct msg_desc *d = msg_desc(m->hdr.func);
	/* An envelope inside an envelope is not a message. */
	if (!d || m->hdr.func == UFTP_ENCRYPTED)
		return UFTP_E_FUNC;
	return d->decode(c, m);
}

static long encode(uint8_t *buf, size_t cap, const struct uftp_msg *m,
		   bool with_hdr)
{
	const struct msg_desc *d = msg_desc(m->hdr.func);
	if (!d)
		return -(long)UFTP_E_FUNC;
	struct fb_wcur w;
	fb_wcur_init(&w, buf, cap);
	if (with_hdr)
		uftp_hdr_encode(&w, &m->hdr);
	enum uftp_err e = d->encode(&w, m);
	if (!e && !fb_wcur_ok(&w))
		e = UFTP_E_NOSPACE;
	return e ? -(long)e : (long)fb_wcur_offset(&w);
}

long uftp_encode(uint8_t *buf, size_t cap, const struct uftp_msg *m)
{
	return encode(buf, cap, m, true);
}

long uftp_encode_body(uint8_t *buf, size_t cap, const struct uftp_msg *m)
{
	return encode(buf, cap, m, false);
}

const struct uftp_uids *uftp_msg_uids(const struct uftp_msg *m)
{
	switch (m->hdr.func) {
	case UFTP_ANNOUNCE:     return &m->u.announce.uids;
	case UFTP_REGISTER:     return &m->u.reg.uids;
	case UFTP_REG_CONF:     return &m->u.reg_conf.uids;
	case UFTP_FILEINFO:     return &m->u.fileinfo.uids;
	case UFTP_FILEINFO_ACK: return &m->u.fileinfo_ack.uids;
	case UFTP_DONE:         return &m->u.done.uids;
	case UFTP_COMPLETE:     return &m->u.complete.uids;
	case UFTP_DONE_CONF:    return &m->u.done_conf.uids;
	default:                return NULL;
	}
}

static const char *const err_names[UFTP_E_COUNT] = {
	[UFTP_OK] = "ok",
	[UFTP_E_SHORT] = "short",
	[UFTP_E_VERSION] = "version",
	[UFTP_E_FUNC] = "func",
	[UFTP_E_FUNC_MISMATCH] = "func_mismatch",
	[UFTP_E_TRUNC] = "trunc",
	[UFTP_E_HLEN_SHORT] = "hlen_short",
	[UFTP_E_HLEN_LONG] = "hlen_long",
	[UFTP_E_FIELD_LEN] = "field_len",
	[UFTP_E_EXT_ZERO] = "ext_zero",
	[UFTP_E_EXT_LONG] = "ext_long",
	[UFTP_E_EXT_SHORT] = "ext_short",
	[UFTP_E_EXT_LEN] = "ext_len",
	[UFTP_E_EXT_DUP] = "ext_dup",
	[UFTP_E_LIST_ALIGN] = "list_align",
	[UFTP_E_TRAILING] = "trailing",
	[UFTP_E_BLOB] = "blob",
	[UFTP_E_NOSPACE] = "nospace",
	[UFTP_E_RANGE] = "range",
};

const char *uftp_strerror(enum uftp_err e)
{
	return (unsigned)e < UFTP_E_COUNT && err_names[e] ? err_names[e] : "?";
}
