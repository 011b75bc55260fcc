/* backtls.c — TLS toward the backend (gateway.backend_tls), set up between
 * the backend's greeting and the first relayed command: FEAT, AUTH TLS when
 * it is offered, the handshake (tls.c), PBSZ 0 and PROT P, so that the
 * backend's data connections are protected too and resume this session. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "gw_internal.h"

bool gw_btls_begin(struct gw_link *l)
{
	if (!l->gw->srv->btls)
		return false;
	l->st = GW_BSETUP;
	l->internal = GW_INT_BFEAT;
	l->be_feat_tls = false;
	gw_send_be(l, "FEAT\r\n", 6);
	return true;
}

/* The relay starts: with TLS toward the backend, or (auto) without. */
static void ready(struct gw_link *l)
{
	l->internal = GW_INT_NONE;
	l->st = GW_RELAY;
	flog(LOG_LVL_VERB, "gateway: session %llu: backend hop %s%s",
	     (unsigned long long)l->id, l->bt.t ? "in TLS" : "in clear",
	     l->bt.t ? (l->be_prot_p ? ", data PROT P" : ", data in clear (PROT P refused)") : "");
	gw_link_input_changed(l);
}

static void no_tls(struct gw_link *l, const char *why)
{
	struct gw_server *srv = l->gw->srv;
	if (srv->gc->backend_tls != GW_BACKEND_TLS_REQUIRED) {
		flog(LOG_LVL_VERB, "gateway: session %llu: backend %s: %s; in clear "
		     "(gateway.backend_tls \"auto\")", (unsigned long long)l->id,
		     srv->backend_text, why);
		ready(l);
		return;
	}
	flog(LOG_LVL_WARN, "gateway: session %llu: backend %s: %s; session refused "
	     "(gateway.backend_tls \"required\")", (unsigned long long)l->id,
	     srv->backend_text, why);
	gw_reply(l, 421, "Service not available: the server behind the gateway offers "
		 "no TLS, which this gateway requires.");
	gw_link_end(l);
}

static void start_handshake(struct gw_link *l)
{
	struct gw_server *srv = l->gw->srv;
	l->bt.t = crypto_tls_client_new(srv->btls, srv->backend_host);
	if (!l->bt.t) {
		flog(LOG_LVL_WARN, "gateway: session %llu: backend TLS: out of memory",
		     (unsigned long long)l->id);
		gw_reply(l, 421, "TLS with the server behind the gateway failed.");
		gw_link_end(l);
		return;
	}
	l->internal = GW_INT_BHANDSHAKE;
	gw_tls_start(l, &l->bt);
}

void gw_btls_reply_line(struct gw_link *l, const char *line, size_t len, int code, bool end)
{
	if (l->internal == GW_INT_BFEAT && !end) {
		l->be_feat_tls = l->be_feat_tls || gw_parse_feat_tls(line, len);
		return;
	}
	if (!end)
		return;
	char why[160];
	size_t k = len;
	while (k && (line[k - 1] == '\n' || line[k - 1] == '\r'))
		k--;
	switch (l->internal) {
	case GW_INT_BFEAT:
		if (!l->be_feat_tls) {
			no_tls(l, "its FEAT does not list AUTH TLS");
			return;
		}
		l->internal = GW_INT_BAUTH;
		gw_send_be(l, "AUTH TLS\r\n", 10);
		return;
	case GW_INT_BAUTH:
		if (code == 234) {
			start_handshake(l);
			return;
		}
		snprintf(why, sizeof(why), "AUTH TLS answered '%.*s'", (int)(k < 100 ? k : 100), line);
		no_tls(l, why);
		return;
	case GW_INT_BPBSZ:
		if (code != 200) {
			ready(l);       /* TLS on the control hop; its data in clear */
			return;
		}
		l->internal = GW_INT_BPROT;
		gw_send_be(l, "PROT P\r\n", 8);
		return;
	case GW_INT_BPROT:
		l->be_prot_p = code == 200;
		ready(l);
		return;
	default:
		/* A reply the set-up did not ask for (a 421 while the handshake
		 * runs): passed on, the session ends. */
		gw_send_cli(l, line, len);
		gw_link_end(l);
		return;
	}
}

void gw_btls_established(struct gw_link *l)
{
	if (l->st != GW_BSETUP)
		return;          /* a data connection: its bytes flow now */
	l->internal = GW_INT_BPBSZ;
	gw_send_be(l, "PBSZ 0\r\n", 8);
}
