/* tls.c — RFC 4217 explicit FTPS on the control connection: AUTH TLS,
 * PBSZ, PROT and CCC, and the control stream through the TLS layer. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

/* A file wolfSSL would only call "not PEM": say what open(2) says. */
static bool readable(const char *what, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	flog(LOG_LVL_ERR, "ftp: ftp.tls: %s %s: %s", what, path, strerror(errno));
	return false;
}

int ftp_tls_build(const struct ftp_config *fc, const struct crypto_tls_ctx *inherit,
		  struct crypto_tls_ctx **out)
{
	*out = NULL;
	size_t n = (fc->tls_cert ? 1 : 0) + fc->tls_cert_count;
	if (!n)
		return 0;
	struct crypto_tls_cert *v = calloc(n, sizeof(*v));
	if (!v)
		return FERRY_EXIT_ALLOC;
	size_t k = 0;
	if (fc->tls_cert)
		v[k++] = (struct crypto_tls_cert){ fc->tls_cert, fc->tls_key };
	for (size_t i = 0; i < fc->tls_cert_count; i++)
		v[k++] = (struct crypto_tls_cert){ fc->tls_certs[i].cert, fc->tls_certs[i].key };
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++)
		ok = readable("certificate", v[i].cert_pem) && readable("key", v[i].key_pem);
	char why[CRYPTO_ERR_LEN];
	if (ok && !(*out = crypto_tls_ctx_new_multi(v, n, inherit, why)))
		flog(LOG_LVL_ERR, "ftp: ftp.tls: %s", why);
	free(v);
	return *out ? 0 : FERRY_EXIT_CRYPTO;   /* key data that cannot be read */
}

static const char *const policy_names[] = { [TLS_POLICY_UNSET] = "optional",
	[TLS_POLICY_OPTIONAL] = "optional", [TLS_POLICY_LOGIN] = "required for logins",
	[TLS_POLICY_DATA] = "required for logins and data" };

int ftp_tls_load(struct ftp_server *srv)
{
	const struct ftp_config *fc = srv->fc;
	int r = ftp_tls_build(fc, NULL, &srv->tls);
	if (r || !srv->tls)
		return r;
	srv->tls_on = true;
	char subj[128];
	flog(LOG_LVL_INFO, "ftp: FTPS (AUTH TLS%s) with %zu certificate(s), first %s; TLS %s "
	     "by default; data connections in clear only (PROT P is refused with 536)",
	     fc->tls_implicit.n ? ", implicit FTPS listeners" : "",
	     (fc->tls_cert ? 1 : 0) + fc->tls_cert_count,
	     crypto_tls_ctx_subject(srv->tls, subj, sizeof(subj)),
	     policy_names[ftp_tls_default_policy(fc)]);
	return 0;
}

enum tls_policy ftp_tls_default_policy(const struct ftp_config *fc)
{
	enum tls_policy p = fc->tls_policy ? fc->tls_policy : TLS_POLICY_OPTIONAL;
	return fc->tls_required && p < TLS_POLICY_LOGIN ? TLS_POLICY_LOGIN : p;
}

/* A listener's own policy (ftp.tls.listeners) or the default; an implicit
 * listener is TLS from the first byte, so at least "login". */
static enum tls_policy listener_policy(const struct ftp_config *fc,
				       const struct ftp_listen_opt *lo)
{
	enum tls_policy p = ftp_tls_default_policy(fc);
	for (size_t i = 0; lo && i < fc->tls_listener_count; i++)
		if (fb_listen_same(fc->tls_listeners[i].listen, lo->addr))
			p = fc->tls_listeners[i].policy;
	return lo && lo->implicit && p < TLS_POLICY_LOGIN ? TLS_POLICY_LOGIN : p;
}

enum tls_policy ftp_tls_policy(const struct ftp_session *s, const struct ftp_user *u)
{
	const struct ftp_config *fc = s->set->fc;
	enum tls_policy p = listener_policy(fc, s->lo);
	if (!u && s->acct && !s->anonymous)
		for (size_t i = 0; i < fc->user_count && !u; i++)
			if (!strcmp(fc->users[i].name, s->acct->name))
				u = &fc->users[i];
	return u && u->tls > p ? u->tls : p;
}

struct crypto_tls *ftp_tls_conn_new(struct ftp_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	struct crypto_tls *t = srv->tls ? crypto_tls_new(srv->tls) : NULL;
	pthread_mutex_unlock(&srv->lock);
	return t;
}

int ftp_tls_reload(struct ftp_server *srv, const struct ftp_config *fc,
		   struct crypto_tls_ctx **next)
{
	*next = NULL;
	bool want = fc->tls_cert || fc->tls_cert_count;
	if (want != srv->tls_on) {
		flog(LOG_LVL_ERR, "reload: ftp.tls: turning FTPS %s needs a restart; the "
		     "certificates in force stay", want ? "on" : "off");
		return 0;
	}
	if (!want)
		return 0;
	/* Read by the service user now, not root: a key only root can read is
	 * refused here, and the old certificates stay. */
	pthread_mutex_lock(&srv->lock);
	struct crypto_tls_ctx *old = crypto_tls_ctx_ref(srv->tls);
	pthread_mutex_unlock(&srv->lock);
	int r = ftp_tls_build(fc, old, next);
	crypto_tls_ctx_free(old);
	return r;
}

void ftp_tls_install(struct ftp_server *srv, struct crypto_tls_ctx *next)
{
	if (!next)
		return;
	pthread_mutex_lock(&srv->lock);
	struct crypto_tls_ctx *old = srv->tls;
	srv->tls = next;
	pthread_mutex_unlock(&srv->lock);
	crypto_tls_ctx_free(old);     /* sessions in TLS hold their own reference */
	char subj[128];
	flog(LOG_LVL_INFO, "reload: FTPS certificates reloaded, first %s; sessions in "
	     "progress keep theirs", crypto_tls_ctx_subject(next, subj, sizeof(subj)));
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

static void tls_failed(struct ftp_session *s, const char *what)
{
	char host[64];
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
	if (!strcasecmp(arg, "C"))
		ftp_session_reply(s, 200, "Protection level set to Clear.");
	else if (!strcasecmp(arg, "P"))
		ftp_session_reply(s, 536, "PROT P is not supported yet: data connections are "
			      "in clear (PROT C).");
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
