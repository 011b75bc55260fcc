/* upstream.c — the messages a proxy writes itself, encoded by the wire
 * module: aggregated answers toward the server, ABORT both ways, and
 * heartbeats. */
#include <string.h>

#include "ferry/base.h"
#include "internal.h"

enum { MAXMSG = 9216 + 512 };

/* grtt and gsize are the server's to state; a proxy going upstream sends 0. */
static void header(struct uftp_msg *m, uint8_t func, uint16_t seq, uint32_t src,
		   uint32_t group, uint8_t inst)
{
	m->hdr = (struct uftp_hdr){ .version = UFTP_VERSION, .func = func, .seq = seq,
				    .src_id = src, .group_id = group,
				    .group_inst = inst };
}

static long encode(uint8_t *buf, size_t cap, const struct uftp_msg *m,
		   uint32_t group, uint8_t inst)
{
	long n = uftp_encode(buf, cap, m);
	if (n < 0)
		glog(LOG_LVL_ERR, group, inst, 0, "cannot encode %s: %s",
		     uftp_func_name(m->hdr.func), uftp_strerror((enum uftp_err)-n));
	return n;
}

static struct uftp_uids *list_of(struct uftp_msg *m)
{
	switch (m->hdr.func) {
	case UFTP_REGISTER: return &m->u.reg.uids;
	case UFTP_FILEINFO_ACK: return &m->u.fileinfo_ack.uids;
	case UFTP_COMPLETE: return &m->u.complete.uids;
	default: return NULL;
	}
}

/* m holds a body (see proxy_aggregate_message); the header and list go on here. */
void proxy_send_up(struct group *g, struct uftp_msg *m, const uint32_t *ids, size_t n)
{
	uint8_t buf[MAXMSG];
	uint8_t func = m->hdr.func;
	header(m, func, g->seq_up++, g->in->sh->uid, g->group_id, g->inst);
	struct uftp_uids *l = list_of(m);
	if (l)
		*l = (struct uftp_uids){ .host = ids, .count = n };
	long len = g->kx ? proxy_kxs_encode_up(g, m, l ? n : 0, buf, sizeof(buf))
			 : encode(buf, sizeof(buf), m, g->group_id, g->inst);
	if (len < 0 && g->kx)
		glog(LOG_LVL_ERR, g->group_id, g->inst, 0, "cannot seal %s",
		     uftp_func_name(func));
	uint16_t file = func == UFTP_FILEINFO_ACK ? m->u.fileinfo_ack.file_id :
			func == UFTP_STATUS ? m->u.status.file_id :
			func == UFTP_COMPLETE ? m->u.complete.file_id : 0;
	if (len > 0 && proxy_send_to(g->in, &g->up, buf, (size_t)len) == 0)
		glog(LOG_LVL_INFO, g->group_id, g->inst, file, "Sent %s for %zu client%s",
		     uftp_func_name(func), l ? n : 0, l && n == 1 ? "" : "s");
	if (len > 0 && g->kx && func == UFTP_REGISTER)
		proxy_kxs_after_register(g);
}

static long build_abort(uint8_t *buf, size_t cap, const struct group *g,
			uint16_t seq, uint8_t flags, uint32_t host, const char *text)
{
	struct uftp_msg m = { 0 };
	header(&m, UFTP_ABORT, seq, g->in->sh->uid, g->group_id, g->inst);
	m.u.abort = (struct uftp_abort){
		.flags = flags, .host = host,
		.text = { (const uint8_t *)text,
			  strnlen(text, UFTP_ABORT_TEXT_LEN - 1) } };
	return encode(buf, cap, &m, g->group_id, g->inst);
}

/* host: the client giving up, or 0 for the proxy itself. */
void proxy_send_abort_up(struct group *g, uint32_t host, const char *text)
{
	uint8_t buf[512];
	long n = build_abort(buf, sizeof(buf), g, g->seq_up++, 0, host, text);
	if (n > 0)
		proxy_send_to(g->in, &g->up, buf, (size_t)n);
}

/* To one client, unicast: the proxy refuses it (host: its UID). */
void proxy_send_abort_to(struct group *g, uint32_t host, const char *text,
		   const struct sockaddr *to)
{
	uint8_t buf[512];
	struct sockaddr_storage dst = { 0 };
	long n = build_abort(buf, sizeof(buf), g, 0, 0, host, text);
	if (n <= 0)
		return;
	/* A client takes an ABORT only from its server: the proxy speaks for
	 * it here, as it relays the server's own messages. */
	struct uftp_hdr h;
	uftp_peek(buf, (size_t)n, &h);
	h.src_id = g->server_id;
	h.grtt = g->grtt_q;
	h.gsize = g->gsize_q;
	uftp_set_hdr(buf, (size_t)n, &h);
	memcpy(&dst, to, fb_addr_len(to));
	proxy_send_to(g->in, &dst, buf, (size_t)n);
}

/* Downstream the header carries the server's GRTT and group size. */
void proxy_send_abort_down(struct group *g, uint32_t host, const char *text, bool current)
{
	uint8_t buf[512];
	uint8_t flags = (host == 0 && current) ? UFTP_F_CURRENT_FILE : 0;
	long n = build_abort(buf, sizeof(buf), g, 0, flags, host, text);
	if (n <= 0)
		return;
	struct uftp_hdr h;
	uftp_peek(buf, (size_t)n, &h);
	h.grtt = g->grtt_q;
	h.gsize = g->gsize_q;
	uftp_set_hdr(buf, (size_t)n, &h);
	proxy_send_to(g->in, &g->priv, buf, (size_t)n);
}

static const char *hb_result(uint8_t auth)
{
	switch (auth) {
	case UFTP_HB_AUTH_OK: return " (accepted)";
	case UFTP_HB_AUTH_CHALLENGE: return " (challenge)";
	default: return " (authentication failed)";
	}
}

/* HB_REQ or HB_RESP (group 0) in m, sent to one address and logged. */
static void send_hb_msg(struct instance *in, const struct sockaddr_storage *to,
			struct uftp_msg *m, const char *what)
{
	uint8_t buf[64 + CRYPTO_BLOB_MAX + CRYPTO_SIG_MAX];
	char who[64];
	long n = encode(buf, sizeof(buf), m, 0, 0);
	if (n <= 0)
		return;
	fb_addr_format((const struct sockaddr *)to, who, sizeof(who));
	if (proxy_send_to(in, to, buf, (size_t)n) == 0)
		flog(LOG_LVL_INFO, "%s: sent %s to %s%s", in->sh->pc->name,
		     uftp_func_name(m->hdr.func), who, what);
	else
		flog(LOG_LVL_WARN, "%s: could not send %s to %s%s", in->sh->pc->name,
		     uftp_func_name(m->hdr.func), who,
		     to->ss_family == AF_INET6 && !in->v6 ? ": no IPv6 socket" : "");
}

/* HB_REQ: unsigned (empty key blob and signature, nonce 0, as uftpproxyd
 * sends its periodic ones) or answering a challenge with both. */
void proxy_send_hb_req(struct instance *in, const struct sockaddr_storage *to,
		 const struct uftp_hb_req *req)
{
	struct uftp_msg m = { 0 };
	header(&m, UFTP_HB_REQ, 0, in->sh->uid, 0, 0);
	m.u.hb_req = *req;
	send_hb_msg(in, to, &m, req->signed_nonce.len ? " (signed)" : "");
}

/* HB_RESP with its result; nonce only matters for a challenge. */
void proxy_send_hb_resp(struct instance *in, const struct sockaddr_storage *to,
		  uint8_t auth, uint32_t nonce)
{
	struct uftp_msg m = { 0 };
	header(&m, UFTP_HB_RESP, 0, in->sh->uid, 0, 0);
	m.u.hb_resp = (struct uftp_hb_resp){ .auth = auth, .nonce = nonce };
	send_hb_msg(in, to, &m, hb_result(auth));
}
