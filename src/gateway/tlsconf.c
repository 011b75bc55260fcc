/* tlsconf.c — the gateway's TLS contexts: gateway.tls's certificate built at
 * start-up and again on a reload (SIGHUP), swapped under the server's lock
 * while connections keep the context they started with; the client context
 * toward the backend. */
#include <stdio.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "gw_internal.h"

/* inherit: the context in force (a reload), whose ticket key the new one
 * takes, so the data connections of sessions in progress still resume. */
static struct crypto_tls_ctx *build(const struct gateway_config *gc,
				    const struct crypto_tls_ctx *inherit)
{
	char why[CRYPTO_ERR_LEN];
	const struct crypto_tls_cert cert = { gc->tls_cert, gc->tls_key };
	struct crypto_tls_ctx *c = crypto_tls_ctx_new_multi(&cert, 1, inherit, why);
	if (!c)
		flog(LOG_LVL_ERR, "gateway: gateway.tls: %s", why);
	return c;
}

int gw_tlsconf_create(struct gw_server *s)
{
	const struct gateway_config *gc = s->gc;
	char why[CRYPTO_ERR_LEN];
	if (pthread_mutex_init(&s->tls_lock, NULL))
		return FERRY_EXIT_ALLOC;
	s->tls_lock_made = true;
	s->tls_on = gc->tls_cert != NULL;
	if (s->tls_on && !(s->tls = build(gc, NULL)))
		return FERRY_EXIT_CRYPTO;
	bool btls = gc->backend_tls == GW_BACKEND_TLS_AUTO ||
		    gc->backend_tls == GW_BACKEND_TLS_REQUIRED;
	if (btls && !(s->btls = crypto_tls_client_ctx_new(gc->backend_ca, !gc->backend_insecure,
							 why))) {
		flog(LOG_LVL_ERR, "gateway: gateway.backend_ca: %s", why);
		return FERRY_EXIT_CRYPTO;
	}
	return 0;
}

void gw_tlsconf_destroy(struct gw_server *s)
{
	crypto_tls_ctx_free(s->tls);
	crypto_tls_ctx_free(s->btls);
	if (s->tls_lock_made)
		pthread_mutex_destroy(&s->tls_lock);
}

struct crypto_tls_ctx *gw_tlsconf_get(struct gw_server *s)
{
	pthread_mutex_lock(&s->tls_lock);
	struct crypto_tls_ctx *c = crypto_tls_ctx_ref(s->tls);
	pthread_mutex_unlock(&s->tls_lock);
	return c;
}

struct crypto_tls *gw_tlsconf_conn_new(struct gw_server *s)
{
	pthread_mutex_lock(&s->tls_lock);
	struct crypto_tls *t = s->tls ? crypto_tls_new(s->tls) : NULL;
	pthread_mutex_unlock(&s->tls_lock);
	return t;
}

/* Main thread. Only the certificate and key change: turning FTPS on or off,
 * the policy and the backend's TLS need a restart (daemon/reload.c names
 * them). A file that cannot be read keeps the context in force. */
int gw_server_reload(struct gw_server *s, const struct ferry_config *next)
{
	const struct gateway_config *gc = &next->gateway;
	if ((gc->tls_cert != NULL) != s->tls_on) {
		flog(LOG_LVL_ERR, "reload: gateway.tls: turning FTPS %s needs a restart; the "
		     "certificate in force stays", gc->tls_cert ? "on" : "off");
		return 0;
	}
	if (!s->tls_on)
		return 0;
	struct crypto_tls_ctx *old = gw_tlsconf_get(s);
	struct crypto_tls_ctx *c = build(gc, old);
	crypto_tls_ctx_free(old);
	if (!c) {
		flog(LOG_LVL_ERR, "reload refused: gateway.tls: the certificate in force stays");
		return FERRY_EXIT_CRYPTO;
	}
	pthread_mutex_lock(&s->tls_lock);
	old = s->tls;
	s->tls = c;
	pthread_mutex_unlock(&s->tls_lock);
	crypto_tls_ctx_free(old);     /* connections in TLS hold their own reference */
	char subj[128];
	flog(LOG_LVL_INFO, "reload: gateway: certificate reloaded, %s; sessions in progress "
	     "keep theirs", crypto_tls_ctx_subject(c, subj, sizeof(subj)));
	return 0;
}
