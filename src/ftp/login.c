/* login.c — USER, PASS, ACCT, REIN, QUIT: accounts, anonymous access, the
 * delay after a failed login and lockout, and the SPSV DATACONN login that
 * turns a connection into a data connection for a session on any worker. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

#include "ferry/base.h"
#include "ftp_internal.h"

void ftp_login_reset(struct ftp_session *s)
{
	ftp_transfer_abort(s);
	ftp_data_reset(s);
	ftp_spsv_revoke(s->srv->spsv, s->id);
	if (s->state == ST_READY) {   /* a new login gets the pre-login budget */
		s->prelogin_cmds = 0;
		s->login_by_ms = fe_now_ms(s->fw->w) +
				 (uint64_t)s->set->fc->login_timeout * 1000;
	}
	s->state = ST_USER;
	s->acct = NULL;
	s->anonymous = false;
	s->user[0] = '\0';
	ftp_session_set_cwd(s, "/");
	s->rest = 0;
	s->ascii = false;          /* binary until TYPE A, see ftp_session_accept */
	s->epsv_all = false;
	s->ident[0] = '\0';
}

void ftp_cmd_user(struct ftp_session *s, char *arg)
{
	if (s->state == ST_READY) {
		ftp_session_reply(s, 530, "Can't change to another user.");
		return;
	}
	if (!strcasecmp(arg, SPSV_USER)) {
		s->state = ST_DATAPASS;
		ftp_session_reply(s, 331, "Preparing for a data connection");
		return;
	}
	if (!ftp_tls_login_ok(s))   /* DATACONN is a data connection: exempt */
		return;
	if (s->limited) {
		ftp_session_reply(s, 421, "Too many users connected. Try later.");
		ftp_session_close(s);
		return;
	}
	if (strlen(arg) >= sizeof(s->user)) {
		ftp_session_reply(s, 530, "Login incorrect.");
		return;
	}
	/* A login (also after REIN) takes the newest accounts and limits: a
	 * connection made before a reload does not log in to a removed account.
	 * Not logged in, nothing points into the old snapshot. */
	assert(!s->acct);
	ftp_settings_put(s->set);
	s->set = ftp_settings_get(s->srv);
	strcpy(s->user, arg);
	s->state = ST_PASS;
	ftp_session_reply(s, 331, "Enter password");
}

static void delay_over(struct fe_worker *w, void *arg)
{
	struct ftp_session *s = arg;
	(void)w;
	s->delay_timer = NULL;
	s->delaying = false;
	ftp_session_reply(s, 530, "Login incorrect.");
	ftp_session_resume(s);
}

static void login_failed(struct ftp_session *s, const char *why)
{
	s->fw->st.logins_failed++;
	char what[64];
	snprintf(what, sizeof(what), "failed: %s", why);
	ftp_audit_login(s, s->user, what);
	ftp_lockout_failed(s->srv->lockout, s->user, &s->peer, fe_now_ms(s->fw->w));
	s->state = ST_USER;
	s->delaying = true;
	s->delay_timer = fe_timer_add(s->fw->w, (uint64_t)s->set->fc->login_delay_ms,
				      delay_over, s);
	if (!s->delay_timer)
		delay_over(s->fw->w, s);
}

struct detach_ctx {
	struct ftp_server *srv;
	uint64_t session;
	unsigned worker;
	struct crypto_tls *tls;   /* a DATACONN connection in TLS: its layer */
	size_t len;
	uint8_t early[];        /* control input that followed PASS */
};

static void detached(struct fe_worker *w, int fd, const uint8_t *extra, size_t len,
		     void *arg)
{
	struct detach_ctx *d = arg;
	/* In TLS, what came after the detach is ciphertext: into the layer,
	 * which travels with the descriptor; d->early is plaintext. */
	if (d->tls && len && !crypto_tls_feed(d->tls, extra, len)) {
		crypto_tls_free(d->tls);
		close(fd);
		free(d);
		return;
	}
	if (d->tls)
		len = 0;
	uint8_t *all = malloc(d->len + len + 1);
	if (all) {
		memcpy(all, d->early, d->len);
		if (len)
			memcpy(all + d->len, extra, len);
		ftp_server_deliver(w, d->srv, d->worker, d->session, fd, all, d->len + len,
				   d->tls);
	} else {
		crypto_tls_free(d->tls);
		close(fd);
	}
	free(all);
	free(d);
}

void ftp_handoff_send(struct ftp_session *s, uint64_t session, unsigned worker)
{
	size_t kept = s->stashlen - s->stashoff;
	struct detach_ctx *d = malloc(sizeof(*d) + s->inlen + kept);
	if (!d) {
		ftp_session_reply(s, 504, "Out of memory.");
		ftp_session_close(s);
		return;
	}
	d->srv = s->srv;
	d->session = session;
	d->worker = worker;
	d->len = s->inlen + kept;          /* input kept while paused follows */
	if (s->inlen)
		memcpy(d->early, s->in, s->inlen);
	if (kept)
		memcpy(d->early + s->inlen, s->stash + s->stashoff, kept);
	s->inlen = 0;
	/* The draft shows both "200DATA" and "200 DATA"; RFC 959 replies need the
	 * space, so clients' reply parsers read this one (man ferryd.json(5)). */
	ftp_session_reply(s, 200, "DATA");
	d->tls = s->tls;           /* the reply is in the queue: the layer goes */
	s->tls = NULL;
	fe_conn_detach(s->ctl, detached, d);
	ftp_session_bury(s);
}

static void data_login(struct ftp_session *s, const char *token)
{
	/* In TLS (PROT P, man ferryd.json(5)): the resumption check applies as
	 * on any data connection; the layer is handed over with the descriptor. */
	if (s->tls && !ftp_tls_data_reuse_ok(s, s->tls)) {
		ftp_session_reply(s, 522, "TLS session of data connection not resumed "
			      "(ftp.tls.require_reuse).");
		ftp_session_close(s);
		return;
	}
	uint64_t id;
	unsigned worker;
	uint64_t now = fe_now_ms(s->fw->w);
	int r = ftp_lockout_blocked(s->srv->lockout, SPSV_USER, &s->peer, now, NULL)
			? -EACCES
			: ftp_spsv_take(s->srv->spsv, token,
				    s->set->fc->spsv_bind_address ? &s->peer : NULL, now,
				    &id, &worker);
	if (r == 0) {
		ftp_handoff_send(s, id, worker);
		return;
	}
	char host[64];
	flog(LOG_LVL_WARN, "ftp: rejected DATACONN login from %s: %s",
	     fb_addr_text(&s->peer, host, sizeof(host)),
	     r == -ETIMEDOUT ? "expired" : r == -EACCES ? "locked out"
	     : r == -EPERM ? "not from the control connection's address" : "unknown token");
	if (r != -EACCES)
		ftp_lockout_failed(s->srv->lockout, SPSV_USER, &s->peer, now);
	ftp_session_reply(s, 504, "Invalid data connection credentials.");
	ftp_session_close(s);
}

/* ident: what the transfer log names the user by (anonymous: the PASS
 * string, as wu-ftpd writes it). */
static void login_ok(struct ftp_session *s, const struct ftp_account *a, bool anonymous,
		     const char *ident)
{
	ftp_lockout_succeeded(s->srv->lockout, s->user, &s->peer);
	s->fw->st.logins_ok++;
	s->state = ST_READY;
	s->acct = a;
	s->anonymous = anonymous;
	s->umask = a->umask;
	snprintf(s->ident, sizeof(s->ident), "%s", ident);
	ftp_session_set_cwd(s, "/");
	ftp_audit_login(s, s->user, anonymous ? "ok (anonymous)" : "ok");
	ftp_session_reply(s, 230, "You are logged in");
}

/* A password check on the helper pool: crypt takes milliseconds (yescrypt
 * ~20 ms) that no worker may spend. */
struct pass_check {
	const struct ftp_account *acct;   /* NULL: unknown user, checked anyway */
	const char *hash;
	bool ok;
	char password[];
};

static void pass_work(void *ctx)
{
	struct pass_check *pc = ctx;
	pc->ok = ftp_auth_password_ok(pc->hash, pc->password);
	explicit_bzero(pc->password, strlen(pc->password));
}

static void pass_done(struct ftp_session *s, void *ctx)
{
	struct pass_check *pc = ctx;
	if (pc->acct && pc->ok)
		login_ok(s, pc->acct, false, s->user);
	else
		login_failed(s, pc->acct ? "wrong password" : "unknown user");
}

void ftp_cmd_pass(struct ftp_session *s, char *arg)
{
	if (s->state == ST_DATAPASS) {
		data_login(s, arg);
		return;
	}
	if (s->state == ST_READY) {
		ftp_session_reply(s, 230, "Already logged in.");
		return;
	}
	if (s->state != ST_PASS) {
		ftp_session_reply(s, 503, "Login with USER first.");
		return;
	}
	bool anonymous;
	uint64_t left_ms;
	const struct ftp_account *a = ftp_server_find_account(s->set, s->user, &anonymous);
	if (ftp_lockout_blocked(s->srv->lockout, s->user, &s->peer, fe_now_ms(s->fw->w), &left_ms)) {
		ftp_audit_login(s, s->user, "refused: locked out");
		ftp_session_reply(s, 421, "Too many failed logins; try again in %llu seconds.",
			      (unsigned long long)(left_ms + 999) / 1000);
		ftp_session_close(s);
		return;
	}
	if (a && anonymous) {
		login_ok(s, a, true, arg);
		return;
	}
	/* An unknown name costs the same hash as a known one, so the time to
	 * answer does not tell which accounts exist. */
	const char *hash = a ? a->hash : s->set->dummy_hash;
	if (!hash) {
		login_failed(s, "unknown user");     /* no password accounts at all */
		return;
	}
	size_t n = strlen(arg);
	struct pass_check *pc = malloc(sizeof(*pc) + n + 1);
	if (!pc) {
		ftp_session_reply(s, 451, "Out of memory.");
		return;
	}
	pc->acct = a;
	pc->hash = hash;
	pc->ok = false;
	memcpy(pc->password, arg, n + 1);
	explicit_bzero(arg, n);
	ftp_defer(s, pass_work, pass_done, pc);
}

void ftp_cmd_acct(struct ftp_session *s, char *arg)
{
	(void)arg;
	ftp_session_reply(s, 202, "ACCT not needed.");
}

void ftp_cmd_rein(struct ftp_session *s, char *arg)
{
	(void)arg;
	ftp_login_reset(s);
	ftp_session_reply(s, 220, "Ready for new user.");
}

void ftp_cmd_quit(struct ftp_session *s, char *arg)
{
	(void)arg;
	if (s->xfer) {
		ftp_transfer_quit(s);       /* 226 (or the error), then 221 */
		return;
	}
	ftp_session_reply(s, 221, "Goodbye.");
	ftp_session_close(s);
}
