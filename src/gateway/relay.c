/* relay.c — a control session carried between the client and the backend:
 * the backend's greeting taken in place of the gateway's own, client lines
 * forwarded unchanged in order (the gateway's own verbs wait until every
 * earlier command has its final reply, so replies stay in order), backend
 * replies forwarded line by line, 230 ending the unauthenticated time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "gw_internal.h"

static void connected(struct fe_conn *c, int err, void *arg)
{
	struct gw_link *l = arg;
	struct gw_server *srv = l->gw->srv;
	char host[64], be[64], local[64];
	l->connecting = NULL;
	fb_addr_format((const struct sockaddr *)&l->peer, host, sizeof(host));
	if (!c) {
		flog(LOG_LVL_WARN, "gateway: session %llu from %s: backend %s: %s",
		     (unsigned long long)l->id, host, srv->backend_text, strerror(-err));
		gw_reply(l, 421, "Service not available: the server behind the gateway "
			 "cannot be reached.");
		gw_link_end(l);
		return;
	}
	gw_link_attach_backend(l, c);
	l->st = GW_BGREETING;
	struct sockaddr_storage me;
	if (fe_conn_local(c, &me) == 0)
		fb_addr_format((const struct sockaddr *)&me, local, sizeof(local));
	else
		snprintf(local, sizeof(local), "?");
	/* What the backend logs is the gateway's address: this line maps it. */
	flog(LOG_LVL_INFO, "gateway: session %llu: client %s <-> backend %s from %s",
	     (unsigned long long)l->id, host,
	     fb_addr_format((const struct sockaddr *)&srv->backend, be, sizeof(be)), local);
}

void gw_relay_start(struct gw_link *l)
{
	struct gw_server *srv = l->gw->srv;
	int n = __atomic_add_fetch(&srv->sessions, 1, __ATOMIC_RELAXED);
	l->session = true;
	if (n > srv->gc->max_sessions) {
		char host[64];
		flog(LOG_LVL_WARN, "gateway: session from %s refused: %d sessions "
		     "(gateway.max_sessions)",
		     fb_addr_format((const struct sockaddr *)&l->peer, host, sizeof(host)), n - 1);
		gw_reply(l, 421, "Too many users connected. Try later.");
		gw_link_end(l);
		return;
	}
	int err = 0;
	l->st = GW_CONNECTING;
	l->connecting = fe_tcp_connect(l->gw->w, &srv->backend, NULL, connected, l, &err);
	if (!l->connecting)
		connected(NULL, err ? err : -ENOMEM, l);
	else
		gw_link_input_changed(l);
}

/* The gateway's own verbs (SPSV, FEAT and the refused passive ones) are
 * answered in order: they wait for every reply still owed. */
static bool intercepted(const char *verb)
{
	static const char *const own[] = { "FEAT", "SPSV", "SPDT", "PASV", "EPSV",
					   "PORT", "EPRT", "LPSV", "LPRT", "AUTH", "PBSZ",
					   "PROT", "CCC" };
	for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++)
		if (!strcmp(verb, own[i]))
			return true;
	return false;
}

/* Drops the first n bytes of the client's input. */
static void consume(struct gw_lines *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void gw_relay_client_lines(struct gw_link *l)
{
	/* What is handled is dropped once, at the end: a receive of many short
	 * lines (16 KiB of them) then costs no move of the rest after each. */
	size_t off = 0;
	while (l->st == GW_RELAY && !l->ending && l->internal == GW_INT_NONE) {
		char *line = l->cin.p + off;
		char *nl = memchr(line, '\n', l->cin.len - off);
		if (!nl)
			break;
		size_t n = (size_t)(nl - line) + 1;
		char verb[16];
		const char *arg;
		size_t alen;
		bool ok = gw_parse_command(line, n, verb, sizeof(verb), &arg, &alen);
		bool user = ok && !strcmp(verb, "USER");
		/* A USER the TLS policy refuses is answered here, in order too. */
		bool own = ok && (intercepted(verb) ||
				  (user && !l->ct.t && l->gw->srv->gc->tls_policy >= TLS_POLICY_LOGIN));
		/* Its own answer waits for the backend's outstanding ones, and
		 * for the end of a reply the backend began unasked (pending 0, a
		 * multi-line reply half relayed): the end of that reply's
		 * backend data calls this again. */
		if (own && (l->pending > 0 || l->cli_mid))
			break;
		off += n;
		if (own) {
			char a[64];
			size_t k = alen < sizeof(a) ? alen : sizeof(a) - 1;
			memcpy(a, arg, k);
			a[k] = '\0';
			if (!strcmp(verb, "AUTH")) {   /* its 234 drops what follows */
				consume(&l->cin, off);
				off = 0;
			}
			if (user)
				gw_tls_login_ok(l);   /* its 530 */
			else
				gw_passive_intercept(l, verb, a, k);
			continue;
		}
		l->user_sent |= user;
		gw_send_be(l, line, n);
		l->pending++;
	}
	consume(&l->cin, off);
	gw_link_input_changed(l);
}

/* The backend's greeting stands behind the gateway's own 220: taken, not
 * forwarded; anything but 120/220 (a 421 when it is full) goes to the
 * client and ends the session. */
static void greeting_line(struct gw_link *l, const char *line, size_t len, int code,
			  bool end)
{
	if (!end || code == 120)
		return;
	if (code == 220) {
		if (!gw_btls_begin(l))
			l->st = GW_RELAY;
		return;
	}
	gw_send_cli(l, line, len);
	gw_link_end(l);
}

static void reply_line(struct gw_link *l, const char *line, size_t len, int code, bool end)
{
	if (end) {
		size_t k = len < sizeof(l->last) - 1 ? len : sizeof(l->last) - 1;
		memcpy(l->last, line, k);
		l->last[k] = '\0';
	}
	if (l->st == GW_BGREETING) {
		greeting_line(l, line, len, code, end);
		return;
	}
	if (l->st == GW_BSETUP) {
		gw_btls_reply_line(l, line, len, code, end);
		return;
	}
	if (l->internal != GW_INT_NONE) {
		gw_passive_reply_line(l, line, len, code, end);
		return;
	}
	gw_send_cli(l, line, len);
	l->cli_mid = l->be_multi;     /* no 421 on a stop until the reply ends */
	if (!end)
		return;
	if (code >= 200 && l->pending > 0)
		l->pending--;
	if (code == 230)
		gw_link_logged_in(l);
}

/* A line's place in the reply it belongs to: its code and whether it ends
 * the reply (a multi-line reply ends at "code " with its first code). */
static int classify(struct gw_link *l, const char *line, size_t len, bool *end)
{
	bool last;
	int code = gw_reply_code(line, len, &last);
	if (l->be_multi) {
		*end = code == l->be_code && last;
		if (*end)
			l->be_multi = false;
		return l->be_code;
	}
	if (code < 0) {
		*end = false;    /* stray text outside a reply: passed on */
		return 0;
	}
	*end = last;
	if (!last) {
		l->be_multi = true;
		l->be_code = code;
	}
	return code;
}

void gw_relay_backend_data(struct gw_link *l, const uint8_t *p, size_t n)
{
	if (!gw_lines_add(&l->bin, p, n)) {
		gw_link_end(l);
		return;
	}
	size_t off = 0;
	bool plain = !l->bt.t;
	while (!l->ending) {
		char *nl = memchr(l->bin.p + off, '\n', l->bin.len - off);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (l->bin.p + off)) + 1;
		bool end;
		int code = classify(l, l->bin.p + off, len, &end);
		reply_line(l, l->bin.p + off, len, code, end);
		off += len;
		if (plain && l->bt.t && !l->ending) {
			/* AUTH TLS's 234: what follows it is the TLS layer's */
			size_t rest = l->bin.len - off;
			l->bin.len = 0;
			if (rest)
				gw_tls_input(l, &l->bt, (const uint8_t *)l->bin.p + off, rest);
			return;
		}
	}
	if (l->ending)
		return;
	memmove(l->bin.p, l->bin.p + off, l->bin.len - off);
	l->bin.len -= off;
	if (l->bin.len >= GW_LINE_MAX) {
		flog(LOG_LVL_WARN, "gateway: session %llu: backend sent a line longer "
		     "than %d bytes", (unsigned long long)l->id, GW_LINE_MAX);
		gw_link_fail(l, 421, "Bad reply from the server behind the gateway.");
		return;
	}
	if (l->st == GW_RELAY && l->internal == GW_INT_NONE)
		gw_relay_client_lines(l);
}
