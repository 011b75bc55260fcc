/* tls.c — RFC 4217 FTPS on the control connection: AUTH TLS, PBSZ, PROT
 * and CCC, implicit FTPS's handshake before the greeting, and the control
 * stream through the TLS layer. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/base.h"
#include "ftp_internal.h"

static const char *const policy_names[] = { [TLS_POLICY_UNSET] = "optional",
	[TLS_POLICY_OPTIONAL] = "optional", [TLS_POLICY_LOGIN] = "required for logins",
	[TLS_POLICY_DATA] = "required for logins and data" };

int ftp_tls_load(struct ftp_server *srv)
{
	const struct ftp_config *fc = srv->fc;
	struct crypto_tls_ctx *c;
	int r = ftp_tls_build(fc, NULL, &c);
	if (r || !c)
		return r;
	if (!(srv->tls = crypto_tls_slot_new(c))) {
		crypto_tls_ctx_free(c);
		return FERRY_EXIT_ALLOC;
	}
	srv->tls_on = true;
	char subj[128];
	flog(LOG_LVL_INFO, "ftp: FTPS (AUTH TLS%s) with %zu certificate(s), first %s; TLS %s "
	     "by default; data connections must resume the control session: %s",
	     fc->tls_implicit.n ? ", implicit FTPS listeners" : "",
	     (fc->tls_cert ? 1 : 0) + fc->tls_cert_count,
	     crypto_tls_ctx_subject(c, subj, sizeof(subj)),
	     policy_names[ftp_tls_default_policy(fc)], fc->tls_require_reuse ? "yes" : "no");
	return ftp_ktls_setup(srv);
}

bool ftp_tls_flush(struct ftp_session *s)
{
	if (s->tls_busy)
		return true;        /* the helper owns the TLS object; done() flushes */
	const uint8_t *p;
	size_t n = crypto_tls_out(s->tls, &p);
	if (!n)
		return true;
	if (fe_conn_send(s->ctl, p, n) < 0)
		return false;       /* kept; on_drained sends it */
	crypto_tls_sent(s->tls, n);
	return true;
}

void ftp_ctl_send(struct ftp_session *s, const void *p, size_t len)
{
	if (!s->tls) {
		fe_conn_send(s->ctl, p, len);
		return;
	}
	/* Never in clear once AUTH was answered: before the handshake ends
	 * (a timeout's 421) the reply is dropped. */
	if (s->tls_busy || !crypto_tls_ready(s->tls) || crypto_tls_write(s->tls, p, len) < 0)
		return;
	ftp_tls_flush(s);
}

/* PROT P data connections send no session ticket (tlsdata.c), but the
 * one a client resumed there may be spent (OpenSSL's client cache, so
 * curl's, uses a TLS 1.3 ticket once): the control connection, which the
 * client reads for the transfer's reply anyway, gives it the next one. */
void ftp_tls_next_ticket(struct ftp_session *s)
{
	if (!s->tls || s->tls_busy || !crypto_tls_ready(s->tls))
		return;
	if (crypto_tls_send_ticket(s->tls))
		ftp_tls_flush(s);
}

static void tls_failed(struct ftp_session *s, const char *what)
{
	char host[64];
	ftp_tls_count(s, crypto_tls_ready(s->tls));
	flog(LOG_LVL_WARN, "ftp: session %llu from %s: TLS %s: %s; closing",
	     (unsigned long long)s->id, fb_addr_text(&s->peer, host, sizeof(host)), what,
	     crypto_tls_why(s->tls));
	ftp_tls_flush(s);        /* the alert, if any */
	ftp_session_close(s);
}

/* Decrypted control input goes to the session until the layer needs more. */
static void tls_read(struct ftp_session *s)
{
	uint8_t plain[16384];
	for (;;) {
		long n = crypto_tls_read(s->tls, plain, sizeof(plain));
		if (n > 0) {
			ftp_session_input(s, plain, (size_t)n);
			if (s->closing || s->state == ST_GONE)
				return;
			continue;
		}
		if (n == CRYPTO_TLS_AGAIN)
			break;
		if (n == CRYPTO_TLS_CLOSED) {   /* close_notify: answer it, close */
			crypto_tls_shutdown(s->tls);
			ftp_tls_flush(s);
			ftp_session_close(s);
			return;
		}
		tls_failed(s, "record");
		return;
	}
	ftp_tls_flush(s);
}

/* The handshake's key operations (an RSA-2048 signature takes tens of
 * milliseconds in the plain Debian wolfSSL) run on the helper pool, so the
 * worker's other sessions never wait for them. */
struct hs_job {
	struct crypto_tls *t;
	int r;
};

static void hs_work(void *ctx)
{
	struct hs_job *j = ctx;
	j->r = crypto_tls_handshake(j->t);
	crypto_thread_done();    /* no EC cache left on a pool thread */
}

static void handshake_step(struct ftp_session *s);

/* The handshake is done: an implicit FTPS session is greeted now. */
static void established(struct ftp_session *s)
{
	ftp_tls_count(s, true);
	if (fb_log_get_level() >= LOG_LVL_DEBUG) {
		char desc[96];
		flog(LOG_LVL_DEBUG, "ftp: session %llu: TLS established (%s)",
		     (unsigned long long)s->id, crypto_tls_desc(s->tls, desc, sizeof(desc)));
	}
	if (s->greet_pending)
		ftp_session_greet(s);
	tls_read(s);
}

static void hs_done(struct ftp_session *s, void *ctx)
{
	struct hs_job *j = ctx;
	s->tls_busy = false;
	if (s->closing || s->state == ST_GONE)
		return;
	if (j->r == CRYPTO_TLS_ERROR) {
		tls_failed(s, "handshake");
		return;
	}
	ftp_tls_flush(s);
	bool more = s->tls_hold.len > 0;
	if (s->tls_hold.failed || (more && !crypto_tls_feed(s->tls, s->tls_hold.p, s->tls_hold.len))) {
		tls_failed(s, "input");
		return;
	}
	fb_buf_free(&s->tls_hold);
	if (j->r == 1)
		established(s);
	else if (more) {
		handshake_step(s);
	}
}

static void handshake_step(struct ftp_session *s)
{
	struct hs_job *j = malloc(sizeof(*j));
	if (j) {
		*j = (struct hs_job){ .t = s->tls };
		s->tls_busy = true;   /* before: done() may not run before return */
		if (ftp_defer_quiet(s, hs_work, hs_done, NULL, j))
			return;
		s->tls_busy = false;
	}
	/* No pool slot: the handshake runs here, once. */
	int r = crypto_tls_handshake(s->tls);
	if (r == CRYPTO_TLS_ERROR)
		tls_failed(s, "handshake");
	else if (r == 1)
		established(s);
	else
		ftp_tls_flush(s);
}

void ftp_tls_input(struct ftp_session *s, const uint8_t *data, size_t len)
{
	if (s->closing || s->state == ST_GONE)
		return;
	if (s->tls_busy) {
		if (s->tls_hold.len + len > CRYPTO_TLS_IN_MAX) {
			ftp_session_close(s);
			return;
		}
		fb_buf_append(&s->tls_hold, data, len);
		return;
	}
	if (!crypto_tls_feed(s->tls, data, len)) {
		tls_failed(s, "input");
		return;
	}
	if (crypto_tls_ready(s->tls))
		tls_read(s);
	else
		handshake_step(s);
}

/* AUTH TLS (AUTH SSL, AUTH TLS-C: the same): 234, then the handshake. What
 * the client sent after AUTH in the same read is dropped, never read as
 * commands (the STARTTLS injection of CVE-2011-0411). */
void ftp_cmd_auth(struct ftp_session *s, char *arg)
{
	if (!s->srv->tls_on) {
		ftp_session_reply(s, 502, "TLS is not configured on this server.");
		return;
	}
	if (s->tls) {
		ftp_session_reply(s, 503, "Already in TLS.");
		return;
	}
	if (strcasecmp(arg, "TLS") && strcasecmp(arg, "SSL") && strcasecmp(arg, "TLS-C")) {
		ftp_session_reply(s, 504, "AUTH TLS or AUTH SSL only.");
		return;
	}
	if (s->state == ST_READY || s->state == ST_PASS) {
		ftp_session_reply(s, 503, "AUTH must come before USER.");
		return;
	}
	struct crypto_tls *t = ftp_tls_conn_new(s->srv);
	if (!t) {
		ftp_session_reply(s, 431, "Out of memory for TLS.");
		return;
	}
	ftp_session_reply(s, 234, "AUTH %s successful.", strcasecmp(arg, "SSL") ? "TLS" : "SSL");
	s->tls = t;
	s->inlen = 0;
	free(s->stash);
	s->stash = NULL;
	s->stashlen = s->stashoff = 0;
	memset(&s->tn, 0, sizeof(s->tn));
}

/* Every connection to an implicit listener starts here, SPSV's DATACONN
 * connections too: the handshake first (the CONTRACT for SPSV in TLS), then
 * USER DATACONN inside TLS, which login.c sees as after AUTH TLS. */
bool ftp_tls_implicit_start(struct ftp_session *s)
{
	if (!(s->tls = ftp_tls_conn_new(s->srv)))
		return false;
	s->greet_pending = true;
	return true;
}

void ftp_cmd_pbsz(struct ftp_session *s, char *arg)
{
	if (!s->tls) {
		ftp_session_reply(s, 503, "PBSZ needs AUTH TLS first.");
		return;
	}
	s->pbsz = true;
	/* RFC 4217: a stream protection buffer is 0; anything else gets 0. */
	ftp_session_reply(s, 200, "PBSZ=0");
	(void)arg;
}

void ftp_cmd_prot(struct ftp_session *s, char *arg)
{
	if (!s->tls || !s->pbsz) {
		ftp_session_reply(s, 503, "PROT needs AUTH TLS and PBSZ first.");
		return;
	}
	if (!strcasecmp(arg, "C") && ftp_tls_data_required(s)) {
		ftp_session_reply(s, 534, "PROT C refused: data connections must be protected.");
	} else if (!strcasecmp(arg, "C")) {
		s->prot_p = false;
		ftp_session_reply(s, 200, "Protection level set to Clear.");
	} else if (!strcasecmp(arg, "P")) {
		s->prot_p = true;
		ftp_session_reply(s, 200, "Protection level set to Private.");
	}
	else if (!strcasecmp(arg, "S") || !strcasecmp(arg, "E"))
		ftp_session_reply(s, 536, "Protection level not supported.");
	else
		ftp_session_reply(s, 504, "PROT C or P.");
}

/* CCC is refused: once encrypted, the control connection stays so (a
 * password-less clear channel helps only NAT helpers, which SPSV makes
 * unnecessary). */
void ftp_cmd_ccc(struct ftp_session *s, char *arg)
{
	(void)arg;
	if (!s->tls)
		ftp_session_reply(s, 533, "Not in TLS.");
	else
		ftp_session_reply(s, 534, "CCC refused: the control connection stays in TLS.");
}

bool ftp_tls_login_ok(struct ftp_session *s, const char *user)
{
	if (s->tls)
		return true;
	/* The account's own policy (ftp.users[].tls) from the newest settings;
	 * a name that is no account gets the listener's, like any other. */
	const struct ftp_config *fc = s->set->fc;
	const struct ftp_user *u = NULL;
	for (size_t i = 0; user && i < fc->user_count && !u; i++)
		if (!strcmp(fc->users[i].name, user))
			u = &fc->users[i];
	if (ftp_tls_policy(s, u) < TLS_POLICY_LOGIN)
		return true;
	ftp_session_reply(s, 530, "TLS required: send AUTH TLS first.");
	return false;
}
