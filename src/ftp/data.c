/* data.c — the data connection: PASV/EPSV listeners of a session's own,
 * PORT/EPRT connects (only back to the client's address, ports >= 1024, as
 * RFC 2577 advises), SPSV credentials and the connections they bring in. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/base.h"
#include "ftp_internal.h"

/* ---- links between data connections and sessions ------------------------- */

struct data_link *ftp_link_new(struct ftp_worker *fw, struct ftp_session *s,
			   struct fe_conn *c)
{
	struct data_link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->fw = fw;
	l->s = s;
	l->c = c;
	l->next = fw->links;
	if (fw->links)
		fw->links->prev = l;
	fw->links = l;
	return l;
}

void ftp_link_cut(struct data_link *l)
{
	if (l)
		l->s = NULL;
}

void ftp_link_free(struct data_link *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		l->fw->links = l->next;
	if (l->next)
		l->next->prev = l->prev;
	free(l);
}

static void on_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg)
{
	struct data_link *l = arg;
	if (!l->s || l->s->data.conn != c)
		return;
	if (l->s->data.td)
		ftp_tlsdata_input(l->s, data, len);
	else
		ftp_transfer_on_data(l->s, data, len);
}

static void on_close(struct fe_conn *c, int err, void *arg)
{
	struct data_link *l = arg;
	struct ftp_session *s = l->s;
	ftp_link_free(l);
	if (s && s->data.conn == c) {
		s->data.conn = NULL;
		s->data.link = NULL;
		ftp_transfer_on_close(s, err);
	}
}

static void on_drained(struct fe_conn *c, void *arg)
{
	struct data_link *l = arg;
	if (l->s && l->s->data.conn == c)
		ftp_transfer_on_drained(l->s);
}

static const struct fe_conn_ops data_ops = {
	.on_data = on_data, .on_close = on_close, .on_drained = on_drained,
};

/* Takes a new data connection for the session; false: it is closed. With
 * PROT P the transfer waits for its TLS handshake (tls: an SPSV DATACONN
 * connection's, already done). */
static bool take_conn(struct ftp_session *s, struct fe_conn *c, struct crypto_tls *tls)
{
	struct data_link *l = s->data.conn ? NULL : ftp_link_new(s->fw, s, c);
	if (!l) {
		crypto_tls_free(tls);
		return false;
	}
	fe_conn_hold(c, &data_ops, l);
	s->data.conn = c;
	s->data.link = l;
	fe_timer_cancel(s->fw->w, s->data.timer);
	s->data.timer = NULL;
	if (s->prot_p) {
		if (!ftp_tlsdata_begin(s, tls)) {
			crypto_tls_free(tls);
			ftp_data_close_conn(s);
			if (s->data.want) {
				s->data.want = false;
				ftp_transfer_failed(s, 425, "Out of memory for TLS.");
			}
		}
		return true;          /* ftp_tlsdata_begin's handshake goes on */
	}
	if (s->data.want) {
		s->data.want = false;
		ftp_transfer_ready(s);
	}
	return true;
}

void ftp_data_close_conn(struct ftp_session *s)
{
	if (!s->data.conn)
		return;
	ftp_link_cut(s->data.link);
	fe_conn_close(s->data.conn);
	s->data.conn = NULL;
	s->data.link = NULL;
}

void ftp_data_reset(struct ftp_session *s)
{
	struct data_chan *d = &s->data;
	fe_listener_close(d->listener);
	fe_connect_cancel(d->connecting);
	fe_timer_cancel(s->fw->w, d->timer);
	d->listener = NULL;
	d->connecting = NULL;
	d->timer = NULL;
	ftp_data_close_conn(s);
	ftp_tlsdata_free(s);
	d->refuse_code = 0;
	d->refuse_text = NULL;
	fb_buf_free(&d->extra);
	if (d->mode == DATA_SPSV)
		ftp_spsv_revoke(s->srv->spsv, s->id);
	d->mode = DATA_NONE;
	d->want = false;
}

/* ---- passive: PASV and EPSV ----------------------------------------------- */

static void pasv_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	struct ftp_session *s = arg;
	char host[64];
	if (!fb_addr_same_host(fe_conn_peer(c), &s->peer)) {
		flog(LOG_LVL_WARN, "ftp: session %llu: data connection from %s refused "
		     "(not the client's address)", (unsigned long long)s->id,
		     fb_addr_text(fe_conn_peer(c), host, sizeof(host)));
		return;                  /* not started: the engine closes it */
	}
	/* One connection per PASV. Closed first: taking the connection can end
	 * the transfer at once (no TLS object for PROT P: 425), and that
	 * ftp_data_reset would close the listener a second time. */
	if (s->data.listener == l)
		s->data.listener = NULL;
	fe_listener_close(l);
	(void)take_conn(s, c, NULL);   /* false: the engine closes c */
}

/* On the control connection's address: at an ephemeral port, or at one of
 * ftp.passive_ports (the session's settings, so a reload applies to the
 * sessions that start after it). */
static struct fe_listener *passive_listen(struct ftp_session *s, struct sockaddr_storage *bound)
{
	const struct ftp_config *fc = s->set->fc;
	struct sockaddr_storage a = s->local;
	fb_addr_set_port(&a, 0);
	int err;
	struct fe_listener *l = fc->passive_min ?
		fe_tcp_listen_range(s->fw->w, &a, fc->passive_min, fc->passive_max,
				    pasv_accept, s, &err) :
		fe_tcp_listen(s->fw->w, &a, false, pasv_accept, s, &err);
	if (!l && err == -EADDRINUSE && fc->passive_min)
		flog(LOG_LVL_WARN, "ftp: session %llu: passive port range %u-%u exhausted: "
		     "every port is in use", (unsigned long long)s->id, fc->passive_min,
		     fc->passive_max);
	if (!l || fe_listener_local(l, bound) < 0) {
		fe_listener_close(l);
		ftp_session_reply(s, 425, "Can't open passive connection.");
		return NULL;
	}
	return l;
}

static bool is_v4(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET;
}

void ftp_cmd_pasv(struct ftp_session *s, char *arg)
{
	(void)arg;
	char text[64];
	struct sockaddr_storage bound;
	if (s->epsv_all) {
		ftp_session_reply(s, 503, "PASV not allowed after EPSV ALL.");
		return;
	}
	if (!is_v4(&s->local)) {
		ftp_session_reply(s, 425, "PASV is IPv4 only; use EPSV.");
		return;
	}
	ftp_data_reset(s);
	if (!(s->data.listener = passive_listen(s, &bound)))
		return;
	s->data.mode = DATA_PASV;
	ftp_format_pasv(&bound, text, sizeof(text));
	ftp_session_reply(s, 227, "Entering Passive Mode %s.", text);
}

void ftp_cmd_epsv(struct ftp_session *s, char *arg)
{
	struct sockaddr_storage bound;
	if (!strcasecmp(arg, "ALL")) {
		s->epsv_all = true;
		ftp_session_reply(s, 200, "EPSV ALL ok.");
		return;
	}
	int want = is_v4(&s->local) ? 1 : 2;
	if (*arg && strcmp(arg, want == 1 ? "1" : "2")) {
		ftp_session_reply(s, 522, "Network protocol not supported, use (%d)", want);
		return;
	}
	ftp_data_reset(s);
	if (!(s->data.listener = passive_listen(s, &bound)))
		return;
	s->data.mode = DATA_PASV;
	ftp_session_reply(s, 229, "Entering Extended Passive Mode (|||%u|)",
		      fb_addr_port((const struct sockaddr *)&bound));
}

/* ---- active: PORT and EPRT ------------------------------------------------ */

static void set_active(struct ftp_session *s, const struct sockaddr_storage *to,
		       const char *verb)
{
	if (s->epsv_all) {
		ftp_session_reply(s, 503, "%s not allowed after EPSV ALL.", verb);
		return;
	}
	if (!fb_addr_same_host(to, &s->peer) || fb_addr_port((const struct sockaddr *)to) < 1024) {
		char host[64];
		flog(LOG_LVL_WARN, "ftp: session %llu: %s to %s port %u refused",
		     (unsigned long long)s->id, verb, fb_addr_text(to, host, sizeof(host)),
		     fb_addr_port((const struct sockaddr *)to));
		ftp_session_reply(s, 504, "Active mode only to your own address and a port >= 1024.");
		return;
	}
	ftp_data_reset(s);
	s->data.mode = DATA_PORT;
	s->data.port_to = *to;
	/* an IPv4 target from an IPv4-mapped control connection */
	if (s->local.ss_family == AF_INET6)
		fb_addr_v4_mapped(&s->data.port_to);
	ftp_session_reply(s, 200, "%s command successful. Consider using PASV.", verb);
}

void ftp_cmd_port(struct ftp_session *s, char *arg)
{
	struct sockaddr_storage to;
	if (ftp_parse_port_arg(arg, &to) < 0) {
		ftp_session_reply(s, 501, "Illegal PORT command.");
		return;
	}
	set_active(s, &to, "PORT");
}

void ftp_cmd_eprt(struct ftp_session *s, char *arg)
{
	struct sockaddr_storage to;
	int r = ftp_parse_eprt_arg(arg, &to);
	if (r == -EAFNOSUPPORT)
		ftp_session_reply(s, 522, "Network protocol not supported, use (1,2)");
	else if (r < 0)
		ftp_session_reply(s, 501, "Illegal EPRT command.");
	else
		set_active(s, &to, "EPRT");
}

static void port_connected(struct fe_conn *c, int err, void *arg)
{
	struct ftp_session *s = arg;
	s->data.connecting = NULL;
	if (err || !take_conn(s, c, NULL)) {
		s->data.want = false;
		fe_timer_cancel(s->fw->w, s->data.timer);
		s->data.timer = NULL;
		ftp_transfer_failed(s, 425, "Can't open data connection.");
	}
}

/* ---- SPSV --------------------------------------------------------------- */

void ftp_cmd_spsv(struct ftp_session *s, char *arg)
{
	(void)arg;
	char token[SPSV_TOKEN_LEN + 1];
	ftp_data_reset(s);
	int r = ftp_spsv_issue(s->srv->spsv, s->id, fe_worker_index(s->fw->w), &s->peer,
			   fe_now_ms(s->fw->w), (uint64_t)s->set->fc->spsv_timeout * 1000,
			   token);
	if (r) {
		ftp_session_reply(s, 425, "Can't create data credentials.");
		return;
	}
	s->data.mode = DATA_SPSV;
	ftp_session_reply(s, 227, "Entering single-port mode (" SPSV_USER ":%s)", token);
}

void ftp_data_adopt(struct ftp_session *s, struct fe_conn *c, const uint8_t *extra,
		size_t len, struct crypto_tls *tls)
{
	if (s->data.mode != DATA_SPSV || s->data.conn) {
		crypto_tls_free(tls);
		fe_conn_close(c);
		return;
	}
	if (!tls != !s->prot_p) {     /* the protection the session asked for, only */
		flog(LOG_LVL_WARN, "ftp: session %llu: DATACONN connection %s TLS refused "
		     "(the session is in PROT %c)", (unsigned long long)s->id,
		     tls ? "in" : "without", s->prot_p ? 'P' : 'C');
		crypto_tls_free(tls);
		fe_conn_close(c);
		if (s->xfer && s->data.want) {
			s->data.want = false;
			ftp_transfer_failed(s, 522, "The DATACONN connection's protection does "
				       "not match PROT.");
		}
		return;
	}
	fb_buf_append(&s->data.extra, extra, len);
	if (!take_conn(s, c, tls))
		fe_conn_close(c);
}

/* ---- asking for the connection ------------------------------------------- */

static void data_timeout(struct fe_worker *w, void *arg)
{
	struct ftp_session *s = arg;
	(void)w;
	s->data.timer = NULL;
	s->data.want = false;
	fe_connect_cancel(s->data.connecting);
	s->data.connecting = NULL;
	ftp_transfer_failed(s, 425, "Can't open data connection.");
}

void ftp_data_request(struct ftp_session *s)
{
	struct data_chan *d = &s->data;
	if (d->refuse_code) {            /* refused before the transfer asked */
		int code = d->refuse_code;
		const char *text = d->refuse_text;
		d->refuse_code = 0;
		ftp_transfer_failed(s, code, text);
		return;
	}
	if (d->conn && !ftp_tlsdata_ready(s)) {
		d->want = true;              /* the handshake's end calls ready */
		return;
	}
	if (d->conn) {
		ftp_transfer_ready(s);
		return;
	}
	if (d->mode == DATA_NONE) {
		ftp_transfer_failed(s, 425, "Use PORT, EPRT, PASV, EPSV or SPSV first.");
		return;
	}
	d->want = true;
	if (d->mode == DATA_PORT && !d->connecting) {
		struct sockaddr_storage from = s->local;
		fb_addr_set_port(&from, 0);
		int err;
		d->connecting = fe_tcp_connect(s->fw->w, &d->port_to, &from, port_connected,
					       s, &err);
		if (!d->connecting) {
			d->want = false;
			ftp_transfer_failed(s, 425, "Can't open data connection.");
			return;
		}
	}
	d->timer = fe_timer_add(s->fw->w, (uint64_t)s->set->fc->data_timeout * 1000,
				data_timeout, s);
}
