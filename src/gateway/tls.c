/* tls.c — explicit FTPS between the gateway and its clients: AUTH TLS,
 * PBSZ, PROT and CCC answered by the gateway, the handshake run on the
 * engine's helper pool, and a client connection's bytes through the TLS
 * layer both ways (control sessions and SPSV data connections alike). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "gw_internal.h"

static struct fe_conn *conn_of(struct gw_link *l, struct gw_tside *ts)
{
	return ts == &l->ct ? l->cli : l->be;
}

static const char *side_name(struct gw_link *l, struct gw_tside *ts)
{
	return ts == &l->ct ? "client" : "backend";
}

/* Encrypted output goes out at once (fe_conn_send copies it). */
static bool flush(struct gw_link *l, struct gw_tside *ts)
{
	const uint8_t *p;
	size_t n;
	struct fe_conn *c = conn_of(l, ts);
	if (ts->busy || !c || !(n = crypto_tls_out(ts->t, &p)))
		return true;
	if (fe_conn_send(c, p, n) < 0)
		return false;
	crypto_tls_sent(ts->t, n);
	return true;
}

bool gw_tls_writable(const struct gw_tside *ts)
{
	return !ts->t || (!ts->busy && crypto_tls_ready(ts->t));
}

bool gw_tls_send(struct gw_link *l, struct gw_tside *ts, const char *p, size_t n)
{
	if (!gw_tls_writable(ts)) {
		/* Toward the backend, what comes before the handshake's end waits
		 * for it (a data connection's first bytes); toward the client a
		 * reply is dropped: never in clear once AUTH was answered. */
		if (ts == &l->bt)
			return ts->early.len + n <= GW_QUEUE_LIMIT &&
			       gw_lines_add(&ts->early, (const uint8_t *)p, n);
		return true;
	}
	if (crypto_tls_write(ts->t, p, n) < 0)
		return false;
	return flush(l, ts);
}

static void failed(struct gw_link *l, struct gw_tside *ts, const char *what)
{
	char host[64];
	flog(LOG_LVL_WARN, "gateway: connection %llu from %s: %s TLS %s: %s; closing",
	     (unsigned long long)l->id,
	     fb_addr_format((const struct sockaddr *)&l->peer, host, sizeof(host)),
	     side_name(l, ts), what, crypto_tls_why(ts->t));
	if (ts == &l->bt && l->session && l->cli && !l->ct.busy)
		gw_reply(l, 421, "TLS with the server behind the gateway failed.");
	flush(l, ts);            /* the alert, if any */
	ts->closed = true;
	gw_link_end(l);
}

static void plain_in(struct gw_link *l, struct gw_tside *ts, const uint8_t *p, size_t n)
{
	if (ts == &l->ct)
		gw_link_client_input(l, p, n);
	else
		gw_link_backend_input(l, p, n);
}

/* Decrypted input goes where plain input would, until the layer needs more. */
static void drain(struct gw_link *l, struct gw_tside *ts)
{
	uint8_t plain[16384];
	while (!l->ending) {
		long n = crypto_tls_read(ts->t, plain, sizeof(plain));
		if (n > 0) {
			plain_in(l, ts, plain, (size_t)n);
			continue;
		}
		if (n == CRYPTO_TLS_AGAIN)
			break;
		if (n == CRYPTO_TLS_CLOSED) {   /* close_notify: answered, then the end */
			crypto_tls_shutdown(ts->t);
			flush(l, ts);
			ts->closed = true;
			gw_link_end(l);
			return;
		}
		failed(l, ts, "record");
		return;
	}
	if (!l->ending && !flush(l, ts))
		gw_link_end(l);
}

/* The handshake's key operations (an RSA signature takes milliseconds) run
 * on the helper pool, so no other session of the worker waits for them. */
struct hs_job {
	struct gw_link *l;
	struct gw_tside *ts;
	int r;
};

static void hs_work(void *arg)
{
	struct hs_job *j = arg;
	j->r = crypto_tls_handshake(j->ts->t);
	crypto_thread_done();    /* no EC cache left on a pool thread */
}

static void handshake_step(struct gw_link *l, struct gw_tside *ts);

static void established(struct gw_link *l, struct gw_tside *ts)
{
	if (fb_log_get_level() >= LOG_LVL_VERB) {
		char desc[96];
		flog(LOG_LVL_VERB, "gateway: connection %llu: %s TLS established (%s%s)",
		     (unsigned long long)l->id, side_name(l, ts),
		     crypto_tls_desc(ts->t, desc, sizeof(desc)),
		     crypto_tls_resumed(ts->t) ? ", resumed" : "");
	}
	if (ts == &l->bt && ts->early.len) {
		size_t n = ts->early.len;
		ts->early.len = 0;
		if (!gw_tls_send(l, ts, ts->early.p, n)) {
			gw_link_end(l);
			return;
		}
	}
	if (ts == &l->bt)
		gw_btls_established(l);
	if (ts == &l->ct && l->greet_pending)
		gw_link_greet(l);
	if (!l->ending)
		drain(l, ts);
	if (!l->ending)
		gw_link_input_changed(l);
}

static void after_step(struct gw_link *l, struct gw_tside *ts, int r)
{
	if (r == CRYPTO_TLS_ERROR) {
		failed(l, ts, "handshake");
		return;
	}
	if (!flush(l, ts)) {
		gw_link_end(l);
		return;
	}
	bool more = ts->hold.len > 0;
	if (more && !crypto_tls_feed(ts->t, ts->hold.p, ts->hold.len)) {
		failed(l, ts, "input");
		return;
	}
	ts->hold.len = 0;
	if (r == 1)
		established(l, ts);
	else if (more)
		handshake_step(l, ts);
}

static void hs_done(struct fe_worker *w, void *arg)
{
	struct hs_job *j = arg;
	struct gw_link *l = j->l;
	struct gw_tside *ts = j->ts;
	int r = j->r;
	(void)w;
	free(j);
	ts->busy = false;
	l->jobs--;
	if (l->ending) {
		gw_link_maybe_free(l);
		return;
	}
	after_step(l, ts, r);
}

static void handshake_step(struct gw_link *l, struct gw_tside *ts)
{
	struct hs_job *j = malloc(sizeof(*j));
	if (j) {
		*j = (struct hs_job){ .l = l, .ts = ts };
		ts->busy = true;      /* before: done() may not run before return */
		l->jobs++;
		if (fe_pool_submit(l->gw->w, hs_work, hs_done, j) == 0)
			return;
		ts->busy = false;
		l->jobs--;
		free(j);
	}
	/* No pool slot: the handshake step runs here, once. */
	after_step(l, ts, crypto_tls_handshake(ts->t));
}

void gw_tls_start(struct gw_link *l, struct gw_tside *ts)
{
	handshake_step(l, ts);   /* a client's first step writes its ClientHello */
}

void gw_tls_input(struct gw_link *l, struct gw_tside *ts, const uint8_t *p, size_t n)
{
	if (ts->busy) {
		if (ts->hold.len + n > CRYPTO_TLS_IN_MAX || !gw_lines_add(&ts->hold, p, n))
			gw_link_end(l);
		return;
	}
	/* In slices, each drained before the next: the layer holds at most
	 * CRYPTO_TLS_IN_MAX of ciphertext. */
	while (n && !l->ending && !ts->busy) {
		size_t k = n < 16384 ? n : 16384;
		if (!crypto_tls_feed(ts->t, p, k)) {
			failed(l, ts, "input");
			return;
		}
		p += k;
		n -= k;
		if (crypto_tls_ready(ts->t))
			drain(l, ts);
		else
			handshake_step(l, ts);
	}
	if (n && !l->ending && !gw_lines_add(&ts->hold, p, n))   /* behind a handshake */
		gw_link_end(l);
}

void gw_tls_close(struct gw_link *l, struct gw_tside *ts)
{
	if (!ts->t || ts->busy || ts->closed || !crypto_tls_ready(ts->t) || !conn_of(l, ts))
		return;
	ts->closed = true;
	crypto_tls_shutdown(ts->t);
	flush(l, ts);
}

void gw_tls_free(struct gw_tside *ts)
{
	crypto_tls_free(ts->t);
	free(ts->hold.p);
	free(ts->early.p);
	memset(ts, 0, sizeof(*ts));
}

/* AUTH TLS (AUTH SSL, TLS-C: the same): 234 in clear, then the handshake.
 * What the client sent behind AUTH in the same read is dropped, never read
 * as commands (the STARTTLS injection of CVE-2011-0411). */
void gw_tls_auth(struct gw_link *l, const char *arg, size_t len)
{
	struct gw_server *srv = l->gw->srv;
	if (!srv->tls_on) {
		gw_reply(l, 502, "TLS is not configured on this gateway.");
	} else if (l->ct.t) {
		gw_reply(l, 503, "Already in TLS.");
	} else if (!((len == 3 && (!strncasecmp(arg, "TLS", 3) || !strncasecmp(arg, "SSL", 3))) ||
		     (len == 5 && !strncasecmp(arg, "TLS-C", 5)))) {
		gw_reply(l, 504, "AUTH TLS or AUTH SSL only.");
	} else if (l->user_sent) {
		gw_reply(l, 503, "AUTH must come before USER.");
	} else if (!(l->ct.t = crypto_tls_slot_conn(srv->tls))) {
		gw_reply(l, 431, "Out of memory for TLS.");
	} else {
		struct crypto_tls *t = l->ct.t;
		l->ct.t = NULL;          /* the 234 goes in clear */
		gw_reply(l, 234, "AUTH %s successful.", strncasecmp(arg, "SSL", 3) ? "TLS" : "SSL");
		l->ct.t = t;
		l->cin.len = 0;
	}
}

void gw_tls_pbsz(struct gw_link *l)
{
	if (!l->ct.t) {
		gw_reply(l, 503, "PBSZ needs AUTH TLS first.");
		return;
	}
	l->pbsz = true;
	gw_reply(l, 200, "PBSZ=0");   /* RFC 4217: 0 for a stream, whatever asked */
}

void gw_tls_prot(struct gw_link *l, const char *arg, size_t len)
{
	char c = len == 1 ? (char)(arg[0] & ~0x20) : 0;
	if (!l->ct.t || !l->pbsz)
		gw_reply(l, 503, "PROT needs AUTH TLS and PBSZ first.");
	else if (c == 'C' && l->gw->srv->gc->tls_policy >= TLS_POLICY_DATA)
		gw_reply(l, 534, "PROT C refused: data connections must be protected.");
	else if (c == 'C' || c == 'P') {
		l->prot_p = c == 'P';
		gw_reply(l, 200, "Protection level set to %s.", l->prot_p ? "Private" : "Clear");
	} else if (c == 'S' || c == 'E')
		gw_reply(l, 536, "Protection level not supported.");
	else
		gw_reply(l, 504, "PROT C or P.");
}

/* CCC is refused: once encrypted, the control connection stays so (the
 * gateway reads it, and SPSV needs no NAT helper that would read it). */
void gw_tls_ccc(struct gw_link *l)
{
	if (!l->ct.t)
		gw_reply(l, 533, "Not in TLS.");
	else
		gw_reply(l, 534, "CCC refused: the control connection stays in TLS.");
}

bool gw_tls_login_ok(struct gw_link *l)
{
	if (l->ct.t || l->gw->srv->gc->tls_policy < TLS_POLICY_LOGIN)
		return true;
	gw_reply(l, 530, "TLS required: send AUTH TLS first.");
	return false;
}

bool gw_tls_spsv_ok(struct gw_link *l)
{
	if (l->prot_p || l->gw->srv->gc->tls_policy < TLS_POLICY_DATA)
		return true;
	gw_reply(l, 521, "Data connections must be protected: send PROT P.");
	return false;
}

const char *gw_tls_data_refusal(const struct gw_link *l, const struct gw_grant *g)
{
	if (g->prot_p && !l->ct.t)
		return "a clear data connection for a PROT P session";
	if (!g->prot_p && l->ct.t)
		return "a TLS data connection for a PROT C session";
	/* The FTP server's rule (crypto_tls_reuse_refusal): in TLS 1.2 the
	 * control connection's own session, in TLS 1.3 a ticket of this
	 * gateway's (one ticket key for every worker). */
	if (l->ct.t && l->gw->srv->gc->tls_require_reuse)
		return crypto_tls_reuse_refusal(l->ct.t, &g->client_origin);
	return NULL;
}
