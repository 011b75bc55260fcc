/* msg.c — the proxy's view of a datagram: the UFTP header always, and the
 * fields of the messages a proxy acts on. Every length is checked against
 * the datagram first; anything else passes through untouched. */
#include <arpa/inet.h>
#include <math.h>
#include <string.h>

#include "internal.h"

enum { HDR = 16, UFTP_V4 = 0x40, EXT_ENC_INFO = 1, EXT_TFMCC_ACK_INFO = 3,
       ANNOUNCE_FIXED = 16, REGISTER_FIXED = 44, FACK_FIXED = 16,
       STATUS_FIXED = 8, COMPLETE_FIXED = 8, ABORT_FIXED = 308,
       ABORT_TEXT = 300, FLAG_IPV6 = 0x04 };

static const char *const names[M__COUNT] = {
	[M_ANNOUNCE] = "ANNOUNCE", [M_REGISTER] = "REGISTER",
	[M_CLIENT_KEY] = "CLIENT_KEY", [M_REG_CONF] = "REG_CONF",
	[M_KEYINFO] = "KEYINFO", [M_KEYINFO_ACK] = "KEYINFO_ACK",
	[M_FILEINFO] = "FILEINFO", [M_FILEINFO_ACK] = "FILEINFO_ACK",
	[M_FILESEG] = "FILESEG", [M_DONE] = "DONE", [M_STATUS] = "STATUS",
	[M_COMPLETE] = "COMPLETE", [M_DONE_CONF] = "DONE_CONF",
	[M_HB_REQ] = "HB_REQ", [M_HB_RESP] = "HB_RESP", [M_KEY_REQ] = "KEY_REQ",
	[M_PROXY_KEY] = "PROXY_KEY", [M_ENCRYPTED] = "ENCRYPTED",
	[M_ABORT] = "ABORT", [M_CONG_CTRL] = "CONG_CTRL", [M_CC_ACK] = "CC_ACK",
};

const char *pmsg_name(uint8_t func)
{
	return func < M__COUNT && names[func] ? names[func] : "UNKNOWN";
}

/* A view that refuses to read past its end. */
struct view {
	const uint8_t *p;
	size_t len;
};

static bool has(const struct view *v, size_t off, size_t n)
{
	return off <= v->len && n <= v->len - off;
}
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The message body's own header length (in 4-byte words) must cover its
 * fixed part and fit in the datagram. */
static int body_header(const struct view *b, size_t fixed, size_t *hlen)
{
	if (!has(b, 0, 2))
		return -2;
	*hlen = (size_t)b->p[1] * 4;
	return (*hlen >= fixed && has(b, 0, *hlen)) ? 0 : -3;
}

static void set_ip(struct sockaddr_storage *ss, const uint8_t *p, bool v6)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, p, 16);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, p, 4);
	}
}

static int dec_announce(const struct view *b, struct pmsg *m)
{
	size_t hlen;
	int r = body_header(b, ANNOUNCE_FIXED, &hlen);
	if (r)
		return r;
	bool v6 = b->p[2] & FLAG_IPV6;
	size_t iplen = v6 ? 16 : 4;
	if (hlen < ANNOUNCE_FIXED + 2 * iplen)
		return -4;
	m->u.announce.flags = b->p[2];
	m->u.announce.robust = b->p[3];
	m->u.announce.blocksize = be16(b->p + 6);
	set_ip(&m->u.announce.pub, b->p + ANNOUNCE_FIXED, v6);
	set_ip(&m->u.announce.priv, b->p + ANNOUNCE_FIXED + iplen, v6);
	/* Walk the extensions, each sized in words and inside the header. */
	for (size_t off = ANNOUNCE_FIXED + 2 * iplen; off < hlen;) {
		if (off + 2 > hlen || b->p[off + 1] == 0 ||
		    off + (size_t)b->p[off + 1] * 4 > hlen)
			return -5;
		if (b->p[off] == EXT_ENC_INFO)
			m->u.announce.encrypted = true;
		off += (size_t)b->p[off + 1] * 4;
	}
	return 0;
}

static int dec_register(const struct view *b, struct pmsg *m)
{
	size_t hlen;
	int r = body_header(b, REGISTER_FIXED, &hlen);
	if (r)
		return r;
	if ((size_t)be16(b->p + 2) > hlen - REGISTER_FIXED)
		return -4;           /* key info must lie inside the header */
	m->u.reg.ts = (struct tstamp){ be32(b->p + 4), be32(b->p + 8) };
	return 0;
}

static int dec_fileinfo_ack(const struct view *b, struct pmsg *m)
{
	size_t hlen;
	int r = body_header(b, FACK_FIXED, &hlen);
	if (r)
		return r;
	m->u.fack.file_id = be16(b->p + 2);
	m->u.fack.flags = b->p[4];
	m->u.fack.ts = (struct tstamp){ be32(b->p + 8), be32(b->p + 12) };
	return 0;
}

static int dec_status(const struct view *b, struct pmsg *m)
{
	size_t hlen;
	int r = body_header(b, STATUS_FIXED, &hlen);
	if (r)
		return r;
	m->u.status.file_id = be16(b->p + 2);
	m->u.status.section = be16(b->p + 4);
	m->u.status.naks = b->p + hlen;
	m->u.status.naklen = b->len - hlen;
	for (size_t off = STATUS_FIXED; off < hlen;) {
		size_t elen = off + 2 <= hlen ? (size_t)b->p[off + 1] * 4 : 0;
		if (!elen || off + elen > hlen)
			return -5;
		if (b->p[off] == EXT_TFMCC_ACK_INFO && elen >= 8) {
			m->u.status.cc_ext = b->p + off;
			m->u.status.cc_extlen = elen;
			m->u.status.cc_rate = be16(b->p + off + 6);
		}
		off += elen;
	}
	return 0;
}

static int dec_complete(const struct view *b, struct pmsg *m)
{
	size_t hlen;
	int r = body_header(b, COMPLETE_FIXED, &hlen);
	if (r)
		return r;
	m->u.complete.file_id = be16(b->p + 2);
	m->u.complete.status = b->p[4];
	return 0;
}

static int dec_abort(const struct view *b, struct pmsg *m)
{
	size_t hlen;
	int r = body_header(b, ABORT_FIXED, &hlen);
	if (r)
		return r;
	m->u.abort.flags = b->p[2];
	memcpy(&m->u.abort.host, b->p + 4, 4);        /* kept in network order */
	m->u.abort.text = (const char *)b->p + 8;
	m->u.abort.textlen = strnlen(m->u.abort.text, ABORT_TEXT);
	return 0;
}

typedef int decoder(const struct view *b, struct pmsg *m);

/* Only what the proxy reads is decoded; the rest is forwarded as it came. */
static decoder *const decoders[M__COUNT] = {
	[M_ANNOUNCE] = dec_announce, [M_REGISTER] = dec_register,
	[M_FILEINFO_ACK] = dec_fileinfo_ack, [M_STATUS] = dec_status,
	[M_COMPLETE] = dec_complete, [M_ABORT] = dec_abort,
};

int pmsg_decode(const uint8_t *data, size_t len, struct pmsg *m)
{
	memset(m, 0, sizeof(*m));
	/* uftpproxyd wants the header and at least one word of body. */
	if (len < HDR + 4 || data[0] != UFTP_V4)
		return -1;
	m->raw = data;
	m->len = len;
	m->func = data[1];
	m->seq = be16(data + 2);
	memcpy(&m->src_id, data + 4, 4);              /* network order */
	m->group_id = be32(data + 8);
	m->inst = data[12];
	m->grtt = data[13];
	m->gsize = data[14];
	if (m->func == 0 || m->func >= M__COUNT)
		return -6;
	struct view body = { data + HDR, len - HDR };
	/* In the clear the body repeats the function; ENCRYPTED hides it. */
	if (m->func != M_ENCRYPTED && body.p[0] != m->func)
		return -7;
	decoder *d = decoders[m->func];
	return d ? d(&body, m) : 0;
}

/* RFC 5401 3.7.4: 0-31 are 1-32 microseconds, above that logarithmic up to
 * 1000 s. */
double grtt_seconds(uint8_t q)
{
	if (q <= 31)
		return (q + 1) * 1.0e-6;
	return 1000.0 / exp((255 - q) / 13.0);
}

/* The TFMCC rate: a 12-bit mantissa scaled to 10 and a 4-bit power of 10,
 * so raw values do not sort; compare decoded ones. */
double cc_rate_value(uint16_t q)
{
	double v = (q >> 4) * (10.0 / 4096.0);
	for (int e = q & 0xF; e > 0; e--)
		v *= 10;
	return v;
}
