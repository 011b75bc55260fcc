/* upstream.c — the messages a proxy writes itself: aggregated REGISTER,
 * FILEINFO_ACK, STATUS and COMPLETE toward the server, ABORT both ways, and
 * heartbeats. Every write is bounded by the buffer it goes into. */
#include <arpa/inet.h>
#include <string.h>

#include "ferry/log.h"
#include "internal.h"

enum { HDR = 16, MAXMSG = 9216 + 64, ABORT_TEXT = 300, FLAG_PARTIAL = 0x01,
       FLAG_CURRENT_FILE = 0x01 };

/* A writer that stops (and remembers it) at the end of its buffer. */
struct out {
	uint8_t *p;
	size_t cap, len;
	bool full;
};

static void put(struct out *o, const void *src, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, src, n);
	o->len += n;
}
static void put8(struct out *o, uint8_t v) { put(o, &v, 1); }
static void put16(struct out *o, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(o, b, 2);
}
static void put32(struct out *o, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(o, b, 4);
}
static void put_raw32(struct out *o, uint32_t v) { put(o, &v, 4); } /* already network order */
static void zero(struct out *o, size_t n)
{
	static const uint8_t z[64];
	while (n && !o->full) {
		size_t k = n < sizeof(z) ? n : sizeof(z);
		put(o, z, k);
		n -= k;
	}
}

/* The common header; grtt and gsize are the server's to set, so 0 here. */
static void header(struct out *o, uint8_t func, uint16_t seq, uint32_t src_id,
		   uint32_t group_id, uint8_t inst, uint8_t grtt, uint8_t gsize)
{
	put8(o, 0x40);
	put8(o, func);
	put16(o, seq);
	put_raw32(o, src_id);
	put32(o, group_id);
	put8(o, inst);
	put8(o, grtt);
	put8(o, gsize);
	put8(o, 0);
}

static void ids(struct out *o, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_raw32(o, v[i]);
}

static void tstamp(struct out *o, struct tstamp ts)
{
	put32(o, ts.sec);
	put32(o, ts.usec);
}

/* Body layouts of protocol.txt 5.2.4, 5.2.10, 5.2.13 and 5.2.14. */
static void body_register(struct out *o, const struct pending *p)
{
	put8(o, M_REGISTER);
	put8(o, 44 / 4);
	put16(o, 0);                     /* no key info without encryption */
	tstamp(o, aggregate_timestamp(p));
	zero(o, 32);                     /* client random: unused in the clear */
}

static void body_fileinfo_ack(struct out *o, const struct pending *p)
{
	put8(o, M_FILEINFO_ACK);
	put8(o, 16 / 4);
	put16(o, pending_file(p));
	put8(o, pending_partial(p) ? FLAG_PARTIAL : 0);
	zero(o, 3);
	tstamp(o, aggregate_timestamp(p));
}

static void body_status(struct out *o, const struct pending *p)
{
	size_t extlen, naklen;
	const uint8_t *ext = pending_cc_ext(p, &extlen);
	const uint8_t *naks = pending_naks(p, &naklen);
	put8(o, M_STATUS);
	put8(o, (uint8_t)((8 + extlen) / 4));
	put16(o, pending_file(p));
	put16(o, pending_section(p));
	put16(o, 0);
	if (ext)
		put(o, ext, extlen);
	put(o, naks, naklen);
}

static void body_complete(struct out *o, const struct pending *p)
{
	put8(o, M_COMPLETE);
	put8(o, 8 / 4);
	put16(o, pending_file(p));
	put8(o, pending_status(p));
	zero(o, 3);
}

void send_aggregate(struct group *g, uint8_t func, const struct pending *p,
		    const uint32_t *list, size_t n)
{
	uint8_t buf[MAXMSG];
	struct out o = { buf, sizeof(buf), 0, false };
	header(&o, func, g->seq_up++, g->in->sh->uid, g->group_id, g->inst, 0, 0);
	switch (func) {
	case M_REGISTER:
		body_register(&o, p);
		break;
	case M_FILEINFO_ACK:
		body_fileinfo_ack(&o, p);
		break;
	case M_STATUS:
		body_status(&o, p);
		break;
	case M_COMPLETE:
		body_complete(&o, p);
		break;
	default:
		return;
	}
	if (func != M_STATUS)
		ids(&o, list, n);
	if (o.full) {
		glog(LOG_LVL_ERR, g->group_id, g->inst, 0, "%s too large to send",
		     pmsg_name(func));
		return;
	}
	if (send_to(g->in, &g->up, buf, o.len) == 0)
		glog(LOG_LVL_INFO, g->group_id, g->inst, func == M_REGISTER ? 0 : pending_file(p),
		     "Sent %s for %zu client%s", pmsg_name(func), n, n == 1 ? "" : "s");
}

static size_t build_abort(uint8_t *buf, size_t cap, const struct group *g,
			  uint16_t seq, uint8_t grtt, uint8_t gsize, uint8_t flags,
			  uint32_t host, const char *text)
{
	struct out o = { buf, cap, 0, false };
	char msg[ABORT_TEXT] = { 0 };
	strncpy(msg, text, sizeof(msg) - 1);
	header(&o, M_ABORT, seq, g->in->sh->uid, g->group_id, g->inst, grtt, gsize);
	put8(&o, M_ABORT);
	put8(&o, 308 / 4);
	put8(&o, flags);
	put8(&o, 0);
	put_raw32(&o, host);
	put(&o, msg, sizeof(msg));
	return o.full ? 0 : o.len;
}

/* host: the client giving up (network order), or 0 for the proxy itself;
 * the proxy then leaves the group. */
void send_abort_up(struct group *g, uint32_t host, const char *text)
{
	uint8_t buf[HDR + 320];
	size_t n = build_abort(buf, sizeof(buf), g, g->seq_up++, 0, 0, 0, host, text);
	if (n)
		send_to(g->in, &g->up, buf, n);
}

void send_abort_down(struct group *g, uint32_t host, const char *text, bool current)
{
	uint8_t buf[HDR + 320];
	uint8_t flags = (host == 0 && current) ? FLAG_CURRENT_FILE : 0;
	size_t n = build_abort(buf, sizeof(buf), g, 0, g->grtt_q, g->gsize_q, flags,
			       host, text);
	if (n)
		send_to(g->in, &g->priv, buf, n);
}

size_t build_hb_req(uint8_t *buf, size_t cap, uint32_t uid, uint32_t nonce)
{
	struct out o = { buf, cap, 0, false };
	header(&o, M_HB_REQ, 0, uid, 0, 0, 0, 0);
	put8(&o, M_HB_REQ);
	put8(&o, 12 / 4);
	put16(&o, 0);
	put16(&o, 0);                    /* no key blob: unsigned */
	put16(&o, 0);                    /* no signature */
	put32(&o, nonce);
	return o.full ? 0 : o.len;
}

size_t build_hb_resp(uint8_t *buf, size_t cap, uint32_t uid, uint8_t auth,
		     uint32_t nonce)
{
	struct out o = { buf, cap, 0, false };
	header(&o, M_HB_RESP, 0, uid, 0, 0, 0, 0);
	put8(&o, M_HB_RESP);
	put8(&o, 8 / 4);
	put8(&o, auth);
	put8(&o, 0);
	put32(&o, nonce);
	return o.full ? 0 : o.len;
}
