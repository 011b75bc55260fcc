/* tlsconf.c — FTPS certificates and policies: the TLS contexts built at
 * start-up and on a reload (put in force by a crypto_tls_slot while sessions
 * keep theirs), and which policy a session's listener and account ask for. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
	return crypto_tls_slot_conn(srv->tls);
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
	struct crypto_tls_ctx *old = crypto_tls_slot_get(srv->tls);
	int r = ftp_tls_build(fc, old, next);
	crypto_tls_ctx_free(old);
	return r;
}

void ftp_tls_install(struct ftp_server *srv, struct crypto_tls_ctx *next)
{
	if (!next)
		return;
	crypto_tls_slot_swap(srv->tls, next);   /* sessions in TLS keep theirs */
	char subj[128];
	flog(LOG_LVL_INFO, "reload: FTPS certificates reloaded, first %s; sessions in "
	     "progress keep theirs", crypto_tls_ctx_subject(next, subj, sizeof(subj)));
}
