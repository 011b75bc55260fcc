/* passive.c — the verbs the gateway answers itself on a control session:
 * SPSV (a passive port asked of the backend, EPSV first, then PASV, handed
 * to the client as a one-time DATACONN token), FEAT (the backend's list,
 * without the passive verbs the gateway refuses, with SPSV), and PASV,
 * EPSV, PORT, EPRT refused: the single port is the point; AUTH, PBSZ, PROT
 * and CCC go to the gateway's own TLS (tls.c). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "gw_internal.h"

bool gw_passive_intercept(struct gw_link *l, const char *verb, const char *arg, size_t alen)
{
	if (!strcmp(verb, "FEAT")) {
		l->internal = GW_INT_FEAT;
		l->feat_ok = false;
		gw_send_be(l, "FEAT\r\n", 6);
	} else if (!strcmp(verb, "SPSV")) {
		if (!gw_tls_spsv_ok(l))
			return true;
		l->internal = l->no_epsv ? GW_INT_PASV : GW_INT_EPSV;
		gw_send_be(l, l->no_epsv ? "PASV\r\n" : "EPSV\r\n", 6);
	} else if (!strcmp(verb, "AUTH")) {
		/* The gateway's own TLS: it reads the control stream, and the
		 * backend hop has TLS of its own or none (gateway.backend_tls). */
		gw_tls_auth(l, arg, alen);
	} else if (!strcmp(verb, "PBSZ")) {
		gw_tls_pbsz(l);
	} else if (!strcmp(verb, "PROT")) {
		gw_tls_prot(l, arg, alen);
	} else if (!strcmp(verb, "CCC")) {
		gw_tls_ccc(l);
	} else if (!strcmp(verb, "SPDT")) {
		gw_reply(l, 503, "SPDT opens a data connection: send it on a new "
			 "connection, first.");
	} else {
		gw_reply(l, 502, "%s is not available through this gateway: use SPSV "
			 "(single-port mode).", verb);
	}
	return true;
}

/* FEAT lines of verbs the gateway answers or refuses itself. */
static bool hidden_feature(const char *line, size_t len)
{
	static const char *const hide[] = { "PASV", "EPSV", "EPRT", "LPSV", "LPRT",
					    "SPSV", "SPDT", "AUTH", "PBSZ", "PROT",
					    "ESTA", "ESTP" };
	size_t i = 0;
	while (i < len && line[i] == ' ')
		i++;
	size_t w = i;
	while (w < len && isalpha((unsigned char)line[w]))
		w++;
	for (size_t k = 0; k < sizeof(hide) / sizeof(*hide); k++)
		if (w - i == strlen(hide[k]) && !strncasecmp(line + i, hide[k], w - i))
			return true;
	return false;
}

static void feat_line(struct gw_link *l, const char *line, size_t len, int code, bool end)
{
	if (!end) {
		if (!l->feat_ok && code == 211)
			l->feat_ok = true;
		else if (!l->feat_ok || hidden_feature(line, len))
			return;
		gw_send_cli(l, line, len);
		l->cli_mid = true;   /* the rest (and the end) still to come */
		return;
	}
	l->cli_mid = false;        /* the end goes out below, in this call */
	l->internal = GW_INT_NONE;
	static const char tls[] = " AUTH TLS\r\n PBSZ\r\n PROT\r\n";
	if (!l->feat_ok)
		gw_send_cli(l, "211-Features:\r\n", 15);
	if (l->gw->srv->tls_on)
		gw_send_cli(l, tls, sizeof(tls) - 1);
	gw_send_cli(l, " SPSV\r\n", 7);
	if (l->feat_ok)
		gw_send_cli(l, line, len);
	else
		gw_send_cli(l, "211 End\r\n", 9);
}

static void issue(struct gw_link *l, uint16_t port)
{
	struct gw_server *srv = l->gw->srv;
	struct gw_grant g = { .session = l->id, .owner = l->peer, .target = srv->backend,
			      .prot_p = l->prot_p };
	char token[GW_TOKEN_LEN + 1];
	fb_addr_set_port(&g.target, port);
	int r = fe_conn_local(l->be, &g.from);
	if (l->ct.t)      /* what its data connection must resume (tls.c) */
		crypto_tls_origin_of(l->ct.t, &g.client_origin);
	if (r == 0 && l->bt.t && l->be_prot_p) {
		g.be_tls = true;
		g.tls_session = crypto_tls_session_get(l->bt.t);   /* NULL: none to offer */
	}
	if (r == 0) {
		fb_addr_set_port(&g.from, 0);
		r = gw_tokens_issue(srv->tokens, &g, fe_now_ms(l->gw->w),
				    (uint64_t)srv->gc->token_timeout * 1000, token);
	}
	if (r) {
		crypto_tls_session_free(g.tls_session);
		gw_reply(l, 425, "Cannot open a data connection: %s.", strerror(-r));
		return;
	}
	flog(LOG_LVL_VERB, "gateway: session %llu: SPSV for the backend's port %u",
	     (unsigned long long)l->id, port);
	gw_reply(l, 227, "Entering single-port mode (" GW_DATA_USER ":%s)", token);
}

/* EPSV refused as unknown (not for a reason PASV would share, such as 530):
 * PASV from now on. */
static bool epsv_unknown(int code)
{
	return code == 500 || code == 501 || code == 502 || code == 504 || code == 522;
}

void gw_passive_reply_line(struct gw_link *l, const char *line, size_t len,
			   int code, bool end)
{
	if (l->internal == GW_INT_FEAT) {
		feat_line(l, line, len, code, end);
		return;
	}
	if (!end)
		return;
	uint16_t port = 0;
	if (l->internal == GW_INT_EPSV && code == 229)
		port = gw_parse_epsv(line, len);
	else if (l->internal == GW_INT_PASV && code == 227)
		port = gw_parse_pasv(line, len);
	if (port) {
		l->internal = GW_INT_NONE;
		issue(l, port);
		return;
	}
	if (l->internal == GW_INT_EPSV && code != 421 && code != 530) {
		l->no_epsv = l->no_epsv || epsv_unknown(code);
		l->internal = GW_INT_PASV;
		gw_send_be(l, "PASV\r\n", 6);
		return;
	}
	/* The backend's own refusal (530 before login, 421) says it best. */
	l->internal = GW_INT_NONE;
	if (code == 227 || code == 229)
		gw_reply(l, 425, "The server behind the gateway gave no usable port.");
	else
		gw_send_cli(l, line, len);
}
