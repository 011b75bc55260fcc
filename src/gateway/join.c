/* join.c — a data connection: the token (from PASS after USER DATACONN, or
 * from SPDT, the draft's -00 form) names the one backend passive port it may
 * reach; the gateway connects there from the control connection's own
 * address, answers "200 DATA", and from then on copies bytes both ways. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "gw_internal.h"

/* 504 for credentials, 522 for a protection that does not fit (RFC 4217). */
static void refuse(struct gw_link *l, int code, const char *why)
{
	char host[64];
	flog(LOG_LVL_WARN, "gateway: data login from %s refused: %s",
	     fb_addr_format((const struct sockaddr *)&l->peer, host, sizeof(host)), why);
	if (code == 522)
		gw_reply(l, 522, "Data connection refused: %s.", why);
	else
		gw_reply(l, 504, "Invalid data connection credentials.");
	gw_link_end(l);
}

/* The backend's data connection in TLS, offering the control hop's session
 * (vsftpd's require_ssl_reuse and pure-ftpd demand it). */
static bool backend_tls(struct gw_link *l)
{
	struct gw_server *srv = l->gw->srv;
	l->bt.t = crypto_tls_client_new(srv->btls, srv->backend_host);
	if (!l->bt.t) {
		gw_reply(l, 425, "Cannot open the data connection behind the gateway.");
		gw_link_end(l);
		return false;
	}
	/* Not offered (none, or one wolfSSL will not take): a full handshake,
	 * which a backend that demands reuse refuses, and says so itself. */
	if (!crypto_tls_session_set(l->bt.t, l->join_session))
		flog(LOG_LVL_VERB, "gateway: data connection %llu: no backend TLS session "
		     "to offer; a full handshake", (unsigned long long)l->id);
	crypto_tls_session_free(l->join_session);
	l->join_session = NULL;
	gw_tls_start(l, &l->bt);
	return !l->ending;
}

static void joined(struct fe_conn *c, int err, void *arg)
{
	struct gw_link *l = arg;
	l->connecting = NULL;
	if (!c) {
		char host[64];
		flog(LOG_LVL_WARN, "gateway: data connection %llu from %s: backend data "
		     "port: %s", (unsigned long long)l->id,
		     fb_addr_format((const struct sockaddr *)&l->peer, host, sizeof(host)),
		     strerror(-err));
		gw_reply(l, 425, "Cannot open the data connection behind the gateway.");
		gw_link_end(l);
		return;
	}
	gw_link_attach_backend(l, c);
	gw_link_logged_in(l);
	l->st = GW_PIPE;
	if (l->join_tls && !backend_tls(l))
		return;
	gw_reply(l, 200, "DATA");
	if (l->cin.len) {          /* sent right behind the login */
		gw_send_be(l, l->cin.p, l->cin.len);
		l->cin.len = 0;
	}
	gw_link_input_changed(l);
}

void gw_join(struct gw_link *l, const char *arg, size_t len)
{
	struct gw_server *srv = l->gw->srv;
	char buf[64];
	struct gw_grant g;
	const char *token = gw_token_of(arg, len, buf, sizeof(buf));
	int r = token ? gw_tokens_take(srv->tokens, token, &l->peer, fe_now_ms(l->gw->w), &g)
		      : -ENOENT;
	if (r) {
		refuse(l, 504, r == -ETIMEDOUT ? "expired token"
			  : r == -EPERM ? "token of another client address"
			  : "unknown or used token");
		return;
	}
	l->join_session = g.tls_session;    /* freed with l if not used */
	l->join_tls = g.be_tls;
	const char *why = gw_tls_data_refusal(l, &g);
	if (why) {
		refuse(l, 522, why);
		return;
	}
	char host[64];
	flog(LOG_LVL_VERB, "gateway: data connection %llu from %s joins session %llu "
	     "(backend port %u)", (unsigned long long)l->id,
	     fb_addr_format((const struct sockaddr *)&l->peer, host, sizeof(host)),
	     (unsigned long long)g.session, fb_addr_port((const struct sockaddr *)&g.target));
	int err = 0;
	l->st = GW_JOINING;
	l->connecting = fe_tcp_connect(l->gw->w, &g.target, &g.from, joined, l, &err);
	if (!l->connecting)
		joined(NULL, err ? err : -ENOMEM, l);
	else
		gw_link_input_changed(l);
}
