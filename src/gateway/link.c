/* link.c — one connection accepted on a gateway port, from the greeting to
 * its end: the first command decides whether it becomes a relayed control
 * session or a data connection; both connections' events, back-pressure
 * (a side is read only while the other's send queue is short), the login
 * deadline and the counts of unauthenticated connections. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "gw_internal.h"

static void cli_data(struct fe_conn *c, const uint8_t *p, size_t n, void *arg);
static void cli_closed(struct fe_conn *c, int err, void *arg);
static void drained(struct fe_conn *c, void *arg);
static void be_data(struct fe_conn *c, const uint8_t *p, size_t n, void *arg);
static void be_closed(struct fe_conn *c, int err, void *arg);

static const struct fe_conn_ops cli_ops = { .on_data = cli_data, .on_close = cli_closed,
					    .on_drained = drained };
static const struct fe_conn_ops be_ops = { .on_data = be_data, .on_close = be_closed,
					   .on_drained = drained };

static void ignore_data(struct fe_conn *c, const uint8_t *d, size_t n, void *a)
{
	(void)c, (void)d, (void)n, (void)a;
}
static void ignore_close(struct fe_conn *c, int err, void *a) { (void)c, (void)err, (void)a; }
static const struct fe_conn_ops reject_ops = { .on_data = ignore_data,
					       .on_close = ignore_close };

/* ---- back-pressure ------------------------------------------------------- */

/* The client is read while the backend keeps up, while its unanswered input
 * is short, and not while the gateway connects on its behalf. */
static void update_pauses(struct gw_link *l)
{
	if (l->ending)
		return;
	bool hold_cli = (l->be && fe_conn_queued(l->be) > GW_HIGH_WATER) ||
			l->cin.len >= GW_LINE_MAX || l->st == GW_JOINING ||
			l->st == GW_CONNECTING || l->st == GW_BGREETING || l->st == GW_BSETUP ||
			(l->bt.t && (l->bt.busy || !crypto_tls_ready(l->bt.t)));
	bool hold_be = l->cli && fe_conn_queued(l->cli) > GW_HIGH_WATER;
	if (l->cli && hold_cli != l->cli_paused) {
		l->cli_paused = hold_cli;
		if (hold_cli)
			fe_conn_pause(l->cli);
		else
			fe_conn_resume(l->cli);
	}
	if (l->be && hold_be != l->be_paused) {
		l->be_paused = hold_be;
		if (hold_be)
			fe_conn_pause(l->be);
		else
			fe_conn_resume(l->be);
	}
}

void gw_send_cli(struct gw_link *l, const char *p, size_t n)
{
	if (!l->cli || l->ending || !n)
		return;
	if (l->ct.t ? !gw_tls_send(l, &l->ct, p, n) : fe_conn_send(l->cli, p, n) < 0) {
		gw_link_end(l);   /* cannot happen below the limit: a bug's way out */
		return;
	}
	update_pauses(l);
}

void gw_send_be(struct gw_link *l, const char *p, size_t n)
{
	if (!l->be || l->ending || !n)
		return;
	if (l->bt.t ? !gw_tls_send(l, &l->bt, p, n) : fe_conn_send(l->be, p, n) < 0) {
		gw_link_end(l);
		return;
	}
	update_pauses(l);
}

void gw_reply(struct gw_link *l, int code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	char line[600];
	int n = snprintf(line, sizeof(line), "%d %s\r\n", code, text);
	if (n > 0)
		gw_send_cli(l, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The gateway's last word before it ends the link. A client in the middle
 * of a multi-line reply gets none: the gateway relays whole lines only, so
 * its line would be read as text of that reply, never as the reason (the
 * stop's rule, stop.c); the connection just closes. */
void gw_link_fail(struct gw_link *l, int code, const char *text)
{
	if (!l->cli_mid)
		gw_reply(l, code, "%s", text);
	gw_link_end(l);
}

/* ---- life ------------------------------------------------------------------ */

static void link_free(struct gw_link *l)
{
	struct gw_worker *gw = l->gw;
	if (l->prev)
		l->prev->next = l->next;
	else
		gw->links = l->next;
	if (l->next)
		l->next->prev = l->prev;
	gw_tls_free(&l->ct);
	gw_tls_free(&l->bt);
	crypto_tls_session_free(l->join_session);
	free(l->cin.p);
	free(l->bin.p);
	free(l);
}

static void maybe_free(struct gw_link *l)
{
	if (l->ending && !l->in_end && !l->cli && !l->be && !l->connecting && !l->jobs)
		link_free(l);
}

void gw_link_maybe_free(struct gw_link *l)
{
	maybe_free(l);
}

static void release(struct gw_link *l)
{
	struct gw_server *srv = l->gw->srv;
	fe_connect_cancel(l->connecting);
	l->connecting = NULL;
	fe_timer_cancel(l->gw->w, l->deadline);
	l->deadline = NULL;
	if (l->unauth)
		__atomic_sub_fetch(&srv->unauth, 1, __ATOMIC_RELAXED);
	if (l->session) {
		__atomic_sub_fetch(&srv->sessions, 1, __ATOMIC_RELAXED);
		gw_tokens_revoke(srv->tokens, l->id);
	}
	l->unauth = l->session = false;
}

void gw_link_end(struct gw_link *l)
{
	if (l->ending)
		return;
	l->ending = true;
	release(l);
	/* A close may report at once (on_close inside the call): l stays until
	 * both calls are back. */
	l->in_end = true;
	gw_tls_close(l, &l->ct);   /* close_notify before the TCP close */
	gw_tls_close(l, &l->bt);
	/* Each side gets what is queued, our FIN, and then its own close is
	 * awaited before ours (GW_LINGER_MS, 64 KiB read at most: a peer that
	 * keeps sending is cut as before). A close() first would meet a peer's
	 * late bytes with a reset: the backend's TLS ticket or close_notify,
	 * which dropped an upload's unread tail (vsftpd: "426 Failure reading
	 * network stream"); an FTPS client's close_notify after the end of a
	 * download or after 221, which reset every such connection, and would
	 * drop what of our last bytes the client had not received yet. */
	if (l->cli)
		fe_conn_close_linger(l->cli, GW_LINGER_MS);
	if (l->be)
		fe_conn_close_linger(l->be, GW_LINGER_MS);
	l->in_end = false;
	maybe_free(l);
}

void gw_link_logged_in(struct gw_link *l)
{
	if (!l->unauth)
		return;
	l->unauth = false;
	__atomic_sub_fetch(&l->gw->srv->unauth, 1, __ATOMIC_RELAXED);
	fe_timer_cancel(l->gw->w, l->deadline);
	l->deadline = NULL;
}

void gw_link_attach_backend(struct gw_link *l, struct fe_conn *c)
{
	l->be = c;
	fe_conn_start(c, &be_ops, l);
	fe_conn_nodelay(c);
	fe_conn_set_limit(c, GW_QUEUE_LIMIT);
	if (l->cli)
		fe_conn_set_limit(l->cli, GW_QUEUE_LIMIT);
}

static void deadline_fired(struct fe_worker *w, void *arg)
{
	struct gw_link *l = arg;
	(void)w;
	l->deadline = NULL;
	char host[64];
	flog(LOG_LVL_WARN, "gateway: connection %llu from %s: not logged in after %d s",
	     (unsigned long long)l->id,
	     fb_addr_format((const struct sockaddr *)&l->peer, host, sizeof(host)),
	     l->gw->srv->gc->login_timeout);
	gw_link_fail(l, 421, "Login timed out.");
}

static void reject(struct fe_conn *c, const char *why)
{
	char host[64];
	flog(LOG_LVL_WARN, "gateway: connection from %s refused: %s",
	     fb_addr_format((const struct sockaddr *)fe_conn_peer(c), host, sizeof(host)), why);
	fe_conn_hold(c, &reject_ops, NULL);
	static const char full[] = "421 Too many connections; try later.\r\n";
	fe_conn_send(c, full, sizeof(full) - 1);
	fe_conn_close(c);
}

void gw_link_greet(struct gw_link *l)
{
	l->greet_pending = false;
	gw_reply(l, 220, "ferry gateway ready (single-port FTP: SPSV)");
}

void gw_link_accept(struct gw_worker *gw, struct fe_conn *c, bool implicit)
{
	struct gw_server *srv = gw->srv;
	int n = __atomic_add_fetch(&srv->unauth, 1, __ATOMIC_RELAXED);
	struct gw_link *l = n <= srv->gc->max_unauthenticated ? calloc(1, sizeof(*l)) : NULL;
	if (!l) {
		__atomic_sub_fetch(&srv->unauth, 1, __ATOMIC_RELAXED);
		reject(c, n > srv->gc->max_unauthenticated
			  ? "too many connections not logged in (gateway.max_unauthenticated)"
			  : "out of memory");
		return;
	}
	l->gw = gw;
	l->unauth = true;
	l->id = __atomic_add_fetch(&srv->next_id, 1, __ATOMIC_RELAXED);
	l->cli = c;
	l->peer = *fe_conn_peer(c);
	l->st = GW_FRONT;
	l->next = gw->links;
	if (gw->links)
		gw->links->prev = l;
	gw->links = l;
	fe_conn_start(c, &cli_ops, l);
	fe_conn_nodelay(c);
	fe_conn_urgent_inline(c);
	l->deadline = fe_timer_add(gw->w, (uint64_t)srv->gc->login_timeout * 1000,
				   deadline_fired, l);
	/* Implicit FTPS: the handshake first (within login_timeout), then the
	 * 220 inside TLS (tls.c), as ferryd's FTP server does; its SPSV data
	 * connections too, then USER DATACONN as after AUTH TLS. */
	if (!implicit) {
		gw_link_greet(l);
	} else if (!(l->ct.t = crypto_tls_slot_conn(srv->tls))) {
		gw_link_end(l);
	} else {
		l->greet_pending = true;
	}
}

void gw_link_free_all(struct gw_worker *gw)
{
	/* The engine closes the connections quietly after worker_fini. */
	while (gw->links) {
		struct gw_link *l = gw->links;
		release(l);
		link_free(l);
	}
}

/* ---- input ----------------------------------------------------------------- */

static bool lines_add(struct gw_lines *b, const uint8_t *p, size_t n)
{
	char *np = realloc(b->p, b->len + n);
	if (!np)
		return false;
	memcpy(np + b->len, p, n);
	b->p = np;
	b->len += n;
	return true;
}

/* The verbs a connection may send before it is a session or a data
 * connection, answered by the gateway: TLS's (the SPSV-over-TLS order is
 * 220, AUTH TLS, the handshake, then USER DATACONN in TLS) and a USER the
 * TLS policy refuses. true: the line was taken. */
static bool front_own(struct gw_link *l, const char *verb, const char *arg, size_t alen)
{
	if (!strcmp(verb, "AUTH"))
		gw_tls_auth(l, arg, alen);
	else if (!strcmp(verb, "PBSZ"))
		gw_tls_pbsz(l);
	else if (!strcmp(verb, "PROT"))
		gw_tls_prot(l, arg, alen);
	else if (!strcmp(verb, "CCC"))
		gw_tls_ccc(l);
	else if (!strcmp(verb, "USER"))
		return !gw_tls_login_ok(l);
	else
		return false;
	return true;
}

/* What a connection that is not yet a session or a data connection says:
 * USER DATACONN / PASS token, or SPDT token, make it a data connection;
 * anything else starts a control session, and goes to the backend. */
static void front_lines(struct gw_link *l)
{
	while ((l->st == GW_FRONT || l->st == GW_DATAPASS) && !l->ending) {
		char *nl = memchr(l->cin.p, '\n', l->cin.len);
		if (!nl)
			return;
		size_t n = (size_t)(nl - l->cin.p) + 1;
		char line[GW_LINE_MAX + 1], verb[16];
		const char *arg;
		size_t alen;
		memcpy(line, l->cin.p, n);
		line[n] = '\0';
		bool ok = gw_parse_command(line, n, verb, sizeof(verb), &arg, &alen);
		bool data_user = ok && !strcmp(verb, "USER") && alen == sizeof(GW_DATA_USER) - 1 &&
				 !strncasecmp(arg, GW_DATA_USER, alen);
		bool front = l->st == GW_FRONT && ok && !data_user;
		if (front && front_own(l, verb, arg, alen)) {
			if (l->cin.len >= n) {    /* AUTH dropped what followed it */
				memmove(l->cin.p, l->cin.p + n, l->cin.len - n);
				l->cin.len -= n;
			}
			continue;
		}
		if (front && strcmp(verb, "SPDT") && strcmp(verb, "PASS") && strcmp(verb, "QUIT")) {
			gw_relay_start(l);   /* the line stays for the backend */
			return;
		}
		memmove(l->cin.p, l->cin.p + n, l->cin.len - n);
		l->cin.len -= n;
		if (!ok)
			gw_reply(l, 500, "Syntax error, command unrecognized.");
		else if (!strcmp(verb, "QUIT")) {
			gw_reply(l, 221, "Goodbye.");
			gw_link_end(l);
		} else if (l->st == GW_FRONT && data_user) {
			l->st = GW_DATAPASS;
			gw_reply(l, 331, "Preparing for a data connection");
		} else if ((l->st == GW_FRONT && !strcmp(verb, "SPDT")) ||
			   (l->st == GW_DATAPASS && !strcmp(verb, "PASS"))) {
			gw_join(l, arg, alen);
		} else if (l->st == GW_FRONT) {
			gw_reply(l, 503, "Login with USER first.");
		} else {
			gw_reply(l, 504, "Invalid data connection credentials.");
			gw_link_end(l);
		}
	}
}

static void cli_data(struct fe_conn *c, const uint8_t *p, size_t n, void *arg)
{
	struct gw_link *l = arg;
	(void)c;
	if (l->ending)
		return;
	if (!l->ct.t) {
		gw_link_client_input(l, p, n);
		return;
	}
	gw_tls_input(l, &l->ct, p, n);
	update_pauses(l);
}

void gw_link_client_input(struct gw_link *l, const uint8_t *p, size_t n)
{
	if (l->ending)
		return;
	if (l->st == GW_PIPE) {
		gw_send_be(l, (const char *)p, n);
		return;
	}
	if (l->unauth && (l->cli_bytes += n) > GW_UNAUTH_BYTES) {
		char host[64];
		flog(LOG_LVL_WARN, "gateway: connection %llu from %s: more than %d bytes "
		     "before login", (unsigned long long)l->id,
		     fb_addr_format((const struct sockaddr *)&l->peer, host, sizeof(host)),
		     GW_UNAUTH_BYTES);
		gw_link_fail(l, 421, "Too much input before login.");
		return;
	}
	if (!lines_add(&l->cin, p, n)) {
		gw_link_fail(l, 421, "Out of memory.");
		return;
	}
	if (l->st == GW_FRONT || l->st == GW_DATAPASS)
		front_lines(l);
	else if (l->st == GW_RELAY)
		gw_relay_client_lines(l);
	if (!l->ending && l->cin.len >= GW_LINE_MAX && !memchr(l->cin.p, '\n', l->cin.len)) {
		gw_link_fail(l, 500, "Command line too long.");
		return;
	}
	update_pauses(l);
}

static void be_data(struct fe_conn *c, const uint8_t *p, size_t n, void *arg)
{
	struct gw_link *l = arg;
	(void)c;
	if (l->ending)
		return;
	if (l->bt.t) {
		gw_tls_input(l, &l->bt, p, n);
		update_pauses(l);
		return;
	}
	gw_link_backend_input(l, p, n);
}

void gw_link_backend_input(struct gw_link *l, const uint8_t *p, size_t n)
{
	if (l->ending)
		return;
	if (l->st == GW_PIPE)
		gw_send_cli(l, (const char *)p, n);
	else
		gw_relay_backend_data(l, p, n);
}

bool gw_lines_add(struct gw_lines *b, const uint8_t *p, size_t n)
{
	return lines_add(b, p, n);
}

void gw_link_input_changed(struct gw_link *l)
{
	update_pauses(l);
}

/* ---- ends and drains ------------------------------------------------------- */

/* Either side's connection is gone (the caller has forgotten it): the
 * link ends, or, when it was already ending, is freed once nothing is left. */
static void side_closed(struct gw_link *l, const char *side, int err)
{
	if (l->session)
		flog(LOG_LVL_VERB, "gateway: session %llu: %s closed%s%s",
		     (unsigned long long)l->id, side, err ? ": " : "", err ? strerror(-err) : "");
	if (l->ending)
		maybe_free(l);
	else
		gw_link_end(l);   /* frees l when nothing else is left */
}

static void cli_closed(struct fe_conn *c, int err, void *arg)
{
	struct gw_link *l = arg;
	(void)c;
	l->cli = NULL;
	side_closed(l, "client", err);
}

static void be_closed(struct fe_conn *c, int err, void *arg)
{
	struct gw_link *l = arg;
	(void)c;
	l->be = NULL;
	side_closed(l, "backend", err);
}

/* Either side drained what was queued for it: reading may resume. */
static void drained(struct fe_conn *c, void *arg)
{
	(void)c;
	update_pauses(arg);
}
