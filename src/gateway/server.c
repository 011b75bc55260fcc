/* server.c — the gateway shared by all workers: the backend's address
 * (resolved once at start-up), the token table, the counts; on each worker
 * the listeners whose connections become links. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "gw_internal.h"

/* "HOST:PORT" or "[V6]:PORT" into host and port; false when malformed or
 * without a port. */
static bool split_hostport(const char *spec, char *host, size_t cap, uint16_t *port)
{
	bool has_port = false;
	return fb_hostport_split(spec, host, cap, port, &has_port) == 0 && has_port;
}

int gw_server_create(const struct ferry_config *cfg, struct gw_server **out)
{
	const struct gateway_config *gc = &cfg->gateway;
	char host[256];
	uint16_t port;
	*out = NULL;
	struct gw_server *s = calloc(1, sizeof(*s));
	if (!s || !(s->tokens = gw_tokens_create())) {
		free(s);
		return FERRY_EXIT_ALLOC;
	}
	s->gc = gc;
	int err = split_hostport(gc->backend, host, sizeof(host), &port)
			  ? fb_addr_resolve(host, port, AF_UNSPEC, &s->backend) : -EINVAL;
	if (err) {
		flog(LOG_LVL_ERR, "gateway: backend %s: %s", gc->backend, strerror(-err));
		gw_server_destroy(s);
		return FERRY_EXIT_NET;
	}
	fb_addr_format((const struct sockaddr *)&s->backend, s->backend_text,
		    sizeof(s->backend_text));
	snprintf(s->backend_host, sizeof(s->backend_host), "%s", host);
	if ((err = gw_tlsconf_create(s))) {
		gw_server_destroy(s);
		return err;
	}
	*out = s;
	return 0;
}

void gw_server_destroy(struct gw_server *s)
{
	if (!s)
		return;
	gw_tokens_destroy(s->tokens);
	gw_tlsconf_destroy(s);
	free(s);
}

static void on_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	(void)l;
	gw_link_accept(arg, c, false);
}

/* gateway.tls.implicit_listen: TLS from the first byte. */
static void on_accept_implicit(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	(void)l;
	gw_link_accept(arg, c, true);
}

static int listen_one(struct gw_worker *gw, const char *spec, bool implicit)
{
	char host[64];
	uint16_t port;
	struct sockaddr_storage a;
	int err = split_hostport(spec, host, sizeof(host), &port)
			  ? fb_addr_resolve(host, port, AF_UNSPEC, &a) : -EINVAL;
	struct fe_listener *l = NULL;
	if (err == 0 && !(l = fe_tcp_listen(gw->w, &a, true,
					   implicit ? on_accept_implicit : on_accept, gw, &err)))
		err = err ? err : -ENOMEM;
	if (err) {
		flog(LOG_LVL_ERR, "gateway: listen on %s: %s", spec, strerror(-err));
		return FERRY_EXIT_NET;
	}
	gw->listeners[gw->nlisteners++] = l;
	return 0;
}

int gw_worker_init(struct fe_worker *w, struct gw_server *srv, struct gw_worker **out)
{
	const struct gateway_config *gc = srv->gc;
	struct gw_worker *gw = calloc(1, sizeof(*gw));
	*out = NULL;
	size_t n = gc->listen.n + gc->tls_implicit.n;
	if (!gw || !(gw->listeners = calloc(n, sizeof(*gw->listeners)))) {
		free(gw);
		return FERRY_EXIT_ALLOC;
	}
	gw->w = w;
	gw->srv = srv;
	for (size_t i = 0; i < n; i++) {
		bool implicit = i >= gc->listen.n;
		int r = listen_one(gw, implicit ? gc->tls_implicit.v[i - gc->listen.n]
					      : gc->listen.v[i], implicit);
		if (r) {
			gw_worker_fini(gw);
			return r;
		}
	}
	static const char *const policy[] = { [TLS_POLICY_UNSET] = "optional",
		[TLS_POLICY_OPTIONAL] = "optional", [TLS_POLICY_LOGIN] = "required for logins",
		[TLS_POLICY_DATA] = "required for logins and data" };
	static const char *const btls[] = { [GW_BACKEND_TLS_UNSET] = "off",
		[GW_BACKEND_TLS_OFF] = "off", [GW_BACKEND_TLS_AUTO] = "when offered",
		[GW_BACKEND_TLS_REQUIRED] = "required" };
	char subj[128] = "";
	if (fe_worker_index(w) == 0 && srv->tls_on) {
		struct crypto_tls_ctx *c = crypto_tls_slot_get(srv->tls);
		crypto_tls_ctx_subject(c, subj, sizeof(subj));
		crypto_tls_ctx_free(c);
	}
	if (fe_worker_index(w) == 0)
		flog(LOG_LVL_INFO, "gateway: listening on %s%s%s%s, backend %s (%s); FTPS "
		     "toward clients: %s%s%s%s; toward the backend: %s%s", gc->listen.v[0],
		     gc->listen.n > 1 ? " and more" : "",
		     gc->tls_implicit.n ? ", implicit FTPS on " : "",
		     gc->tls_implicit.n ? gc->tls_implicit.v[0] : "", gc->backend, srv->backend_text,
		     srv->tls_on ? policy[gc->tls_policy] : "off",
		     srv->tls_on ? " with " : "", subj,
		     srv->tls_on && gc->tls_require_reuse ? ", data connections resume the "
		     "control session" : "", btls[gc->backend_tls],
		     srv->btls && gc->backend_insecure ? " (certificate NOT verified: "
		     "gateway.backend_insecure)" : "");
	gw_stop_watch(gw);
	*out = gw;
	return 0;
}

void gw_worker_fini(struct gw_worker *gw)
{
	if (!gw)
		return;
	gw_stop_fini(gw);
	for (size_t i = 0; i < gw->nlisteners; i++)
		fe_listener_close(gw->listeners[i]);
	gw_link_free_all(gw);
	free(gw->listeners);
	free(gw);
}
