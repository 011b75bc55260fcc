/* msg.c — the proxy's view of a datagram, through the wire module: the
 * header always; the body decoded and checked for the messages a proxy
 * acts on; for the rest (FILESEG and friends) just the minimum size, since
 * they are forwarded as they came. */
#include <netinet/in.h>
#include <string.h>

#include "internal.h"

/* What the proxy reads; everything else it forwards. */
static bool acted_on(uint8_t func)
{
	switch (func) {
	case UFTP_ANNOUNCE: case UFTP_REGISTER: case UFTP_FILEINFO_ACK:
	case UFTP_STATUS: case UFTP_COMPLETE: case UFTP_ABORT:
	case UFTP_HB_REQ: case UFTP_HB_RESP:
		return true;
	default:
		return false;
	}
}

int proxy_pmsg_decode(const uint8_t *data, size_t len, struct pmsg *m)
{
	m->raw = data;
	m->len = len;
	m->decoded = false;
	enum uftp_err e = uftp_peek(data, len, &m->hdr);
	if (e != UFTP_OK)
		return -(int)e;
	size_t min = uftp_min_body(m->hdr.func);
	if (!min)
		return -(int)UFTP_E_FUNC;
	if (len - UFTP_HDR_LEN < min)
		return -(int)UFTP_E_TRUNC;
	if (!acted_on(m->hdr.func)) {
		/* In the clear the body repeats the function; ENCRYPTED hides it. */
		if (m->hdr.func != UFTP_ENCRYPTED && data[UFTP_HDR_LEN] != m->hdr.func)
			return -(int)UFTP_E_FUNC_MISMATCH;
		return 0;
	}
	struct fb_rcur c;
	fb_rcur_init(&c, data, len);
	e = uftp_decode(&c, &m->msg);
	if (e != UFTP_OK)
		return -(int)e;
	m->decoded = true;
	return 0;
}

bool proxy_pmsg_addr(const struct uftp_announce *a, bool priv, struct sockaddr_storage *out)
{
	struct fb_bview v = priv ? a->priv_addr : a->pub_addr;
	memset(out, 0, sizeof(*out));
	if (v.len == 16) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, v.p, 16);
	} else if (v.len == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, v.p, 4);
	} else {
		return false;
	}
	return true;
}
