/* tlsconf.c — the gateway's TLS contexts: gateway.tls's certificate built at
 * start-up and again on a reload (SIGHUP), put in force by a crypto_tls_slot
 * while connections keep the context they started with; the client context
 * toward the backend. */
#include <stdbool.h>

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
	s->tls_on = gc->tls_cert != NULL;
	if (s->tls_on) {
		struct crypto_tls_ctx *c = build(gc, NULL);
		if (!c)
			return FERRY_EXIT_CRYPTO;
		if (!(s->tls = crypto_tls_slot_new(c))) {
			crypto_tls_ctx_free(c);
			return FERRY_EXIT_ALLOC;
		}
	}
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
	crypto_tls_slot_free(s->tls);
	crypto_tls_ctx_free(s->btls);
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
	struct crypto_tls_ctx *old = crypto_tls_slot_get(s->tls);
	struct crypto_tls_ctx *c = build(gc, old);
	crypto_tls_ctx_free(old);
	if (!c) {
		flog(LOG_LVL_ERR, "reload refused: gateway.tls: the certificate in force stays");
		return FERRY_EXIT_CRYPTO;
	}
	crypto_tls_slot_swap(s->tls, c);
	char subj[128];
	flog(LOG_LVL_INFO, "reload: gateway: certificate reloaded, %s; sessions in progress "
	     "keep theirs", crypto_tls_ctx_subject(c, subj, sizeof(subj)));
	return 0;
}
