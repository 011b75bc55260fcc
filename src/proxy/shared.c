/* shared.c — what the proxy's workers share, prepared before they start:
 * each instance's session table, keys, -C/-S lists, downstream and
 * heartbeat addresses, join interfaces and UID. Errors here stop start-up. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "ferry/proxy.h"
#include "internal.h"

static int load_lists(struct inst_shared *sh)
{
	char err[512];
	const struct proxy_config *pc = sh->pc;
	if (pc->client_list && proxy_peerlist_load(pc->client_list, false, &sh->clients,
					     err, sizeof(err)) < 0) {
		flog(LOG_LVL_ERR, "%s: client list (-C): %s", pc->name, err);
		return FERRY_EXIT_PARAM;
	}
	if (pc->server_list && proxy_peerlist_load(pc->server_list, true, &sh->servers,
					     err, sizeof(err)) < 0) {
		flog(LOG_LVL_ERR, "%s: server list (-S): %s", pc->name, err);
		return FERRY_EXIT_PARAM;
	}
	return 0;
}

/* A signed HB_REQ carries the first key's public blob: made once here. */
static int heartbeat_blob(struct inst_shared *sh)
{
	long n = crypto_key_blob(sh->keys.key[0], sh->hb_blob, sizeof(sh->hb_blob));
	if (n <= 0) {
		flog(LOG_LVL_ERR, "%s: cannot export the first key's public blob",
		     sh->pc->name);
		return FERRY_EXIT_CRYPTO;
	}
	sh->hb_bloblen = (size_t)n;
	return 0;
}

static int resolve_peers(struct inst_shared *sh)
{
	const struct proxy_config *pc = sh->pc;
	if (pc->role == PROXY_SERVER && pc->dest) {
		if (fb_addr_resolve(pc->dest, pc->dest_port, AF_UNSPEC, &sh->down) < 0) {
			flog(LOG_LVL_ERR, "%s: cannot resolve downstream proxy %s",
			     pc->name, pc->dest);
			return FERRY_EXIT_PARAM;
		}
		sh->down_known = sh->down_static = true;
	}
	if (pc->role == PROXY_SERVER && pc->dest_fingerprint) {
		if (proxy_hb_parse_fp(pc->dest_fingerprint, sh->down_fp) < 0) {
			flog(LOG_LVL_ERR, "%s: -s fp=%s: not 20 hex pairs joined by ':'",
			     pc->name, pc->dest_fingerprint);
			return FERRY_EXIT_PARAM;
		}
		sh->down_fp_set = true;
		sh->hb_nonce = proxy_hb_nonce();
		flog(LOG_LVL_INFO, "%s: downstream proxy: the sender of a HB_REQ "
		     "signed by the key with fingerprint %s", pc->name,
		     pc->dest_fingerprint);
	}
	for (size_t i = 0; i < pc->hb_count && sh->nhb < 16; i++) {
		const struct hostport *h = &pc->hb_servers[i];
		if (fb_addr_resolve(h->host, h->port, AF_UNSPEC, &sh->hb[sh->nhb]) < 0) {
			flog(LOG_LVL_ERR, "%s: cannot resolve heartbeat proxy %s",
			     pc->name, h->host);
			return FERRY_EXIT_PARAM;
		}
		sh->nhb++;
	}
	return 0;
}

/* -I names the interfaces to join on; without it, every multicast one. */
static int join_interfaces(struct inst_shared *sh)
{
	const struct proxy_config *pc = sh->pc;
	struct fb_iface ifs[64];
	int n;
	if (!pc->interfaces.n) {
		n = fb_iface_list_multicast(AF_UNSPEC, ifs, 64);
		for (int i = 0; i < n; i++)
			sh->join_if[sh->njoin_if++] = ifs[i].index;
		return 0;
	}
	for (size_t i = 0; i < pc->interfaces.n && sh->njoin_if < 64; i++) {
		if (fb_iface_resolve(pc->interfaces.v[i], AF_UNSPEC, &ifs[0]) < 0) {
			flog(LOG_LVL_ERR, "%s: unknown interface %s (-I)", pc->name,
			     pc->interfaces.v[i]);
			return FERRY_EXIT_PARAM;
		}
		sh->join_if[sh->njoin_if++] = ifs[0].index;
	}
	return 0;
}

enum { LOOPBACK_UID = 0x7F000001 };

/* -B beyond net.core.rmem_max gets only rmem_max, as with uftpproxyd (which
 * sets plain SO_RCVBUF); said once at start-up, which uftpproxyd does not. */
static void check_bufsize(const struct proxy_config *pc)
{
	FILE *f = fopen("/proc/sys/net/core/rmem_max", "re");
	long max = 0;
	if (!f)
		return;
	if (fscanf(f, "%ld", &max) != 1)
		max = 0;
	fclose(f);
	if (max > 0 && pc->udp_buf_size > max && !pc->udp_buf_force)
		flog(LOG_LVL_WARN, "%s: -B %d is more than net.core.rmem_max (%ld): the "
		     "kernel gives %ld; raise the sysctl, or as root add --udp-buffer-force",
		     pc->name, pc->udp_buf_size, max, max);
}

static int set_uid(struct inst_shared *sh)
{
	uint32_t uid = sh->pc->uid;
	if (!sh->pc->uid_set && fb_iface_default_uid(&uid) < 0) {
		/* As uftpproxyd: with only the loopback interface, its address. */
		uid = LOOPBACK_UID;
		flog(LOG_LVL_WARN, "%s: no multicast interface to derive a UID from: "
		     "using 0x%08X (127.0.0.1) as uftpproxyd does; give one with -U",
		     sh->pc->name, uid);
	}
	sh->uid = uid;
	flog(LOG_LVL_INFO, "%s: %s proxy, UID 0x%08X, port %u", sh->pc->name,
	     sh->pc->role == PROXY_SERVER ? "server" :
	     sh->pc->role == PROXY_CLIENT ? "client" : "response", uid, sh->pc->port);
	return 0;
}

int proxy_shared_new(const struct ferry_config *cfg, unsigned nworkers,
		     struct proxy_shared **out)
{
	struct proxy_shared *s = calloc(1, sizeof(*s) + cfg->proxy_count * sizeof(s->inst[0]));
	if (!s || !(s->workers = calloc(nworkers, sizeof(*s->workers)))) {
		free(s);
		return FERRY_EXIT_ALLOC;
	}
	s->nworkers = nworkers;
	s->count = cfg->proxy_count;
	int r = 0;
	for (size_t i = 0; i < cfg->proxy_count && !r; i++) {
		struct inst_shared *sh = &s->inst[i];
		sh->pc = &cfg->proxies[i];
		sh->index = (unsigned)i;
		pthread_mutex_init(&sh->down_lock, NULL);
		if (!(sh->groups = proxy_table_new()) ||
		    !(sh->per_source = calloc(SOURCE_BUCKETS, sizeof(*sh->per_source))))
			r = FERRY_EXIT_ALLOC;
		if (!r)
			r = set_uid(sh);
		if (!r)
			check_bufsize(sh->pc);
		if (!r)
			r = proxy_keys_load(sh->pc, &sh->keys);
		if (!r)
			r = heartbeat_blob(sh);
		if (!r)
			r = load_lists(sh);
		if (!r)
			r = resolve_peers(sh);
		if (!r)
			r = join_interfaces(sh);
		if (!r)
			r = proxy_key_prepare(sh);
	}
	if (r) {
		proxy_shared_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void proxy_shared_free(struct proxy_shared *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->count; i++) {
		struct inst_shared *sh = &s->inst[i];
		proxy_table_free(sh->groups);
		free((void *)sh->per_source);
		proxy_peerlist_free(&sh->clients);
		for (struct client_list *c = sh->clients_now, *o; c; c = o) {
			o = c->older;
			proxy_peerlist_free(&c->l);
			free(c);
		}
		proxy_peerlist_free(&sh->servers);
		for (struct client_list *c = sh->servers_now, *o; c; c = o) {
			o = c->older;
			proxy_peerlist_free(&c->l);
			free(c);
		}
		proxy_keys_free(&sh->keys);
		free(sh->proxy_key);
		if (sh->pc)
			pthread_mutex_destroy(&sh->down_lock);
	}
	free(s->workers);
	free(s);
}

/* ---- reload (main thread) ------------------------------------------------ */

const struct peerlist *proxy_client_list(const struct inst_shared *sh)
{
	const struct client_list *c = __atomic_load_n(&sh->clients_now, __ATOMIC_ACQUIRE);
	return c ? &c->l : &sh->clients;
}

static bool same_peer(const struct peer *a, const struct peer *b)
{
	if (a->uid != b->uid || a->has_addr != b->has_addr || a->has_fp != b->has_fp ||
	    (a->has_fp && memcmp(a->fp, b->fp, PEER_FP_LEN)))
		return false;
	if (!a->has_addr)
		return true;
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)&a->addr)->sin_addr,
			       &((const struct sockaddr_in *)&b->addr)->sin_addr, 4);
	return !memcmp(&((const struct sockaddr_in6 *)&a->addr)->sin6_addr,
		       &((const struct sockaddr_in6 *)&b->addr)->sin6_addr, 16);
}

static bool same_list(const struct peerlist *a, const struct peerlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!same_peer(&a->v[i], &b->v[i]))
			return false;
	return true;
}

const struct peerlist *proxy_server_list(const struct inst_shared *sh)
{
	const struct client_list *c = __atomic_load_n(&sh->servers_now, __ATOMIC_ACQUIRE);
	return c ? &c->l : &sh->servers;
}

struct rejoin {
	struct proxy_shared *s;
	unsigned index;
};

/* Mail on each worker: its public joins follow the new list. After the
 * worker's fini there is nothing left to join. */
static void rejoin_on_worker(struct fe_worker *w, void *arg)
{
	struct rejoin *rj = arg;
	struct proxy_worker *pw = rj->s->workers[fe_worker_index(w)];
	if (pw && rj->index < pw->count && pw->inst[rj->index].sh)
		proxy_rejoin_public(w, &pw->inst[rj->index]);
	free(rj);
}

static void post_rejoins(struct proxy_shared *s, unsigned index)
{
	for (unsigned i = 0; s->engine && i < s->nworkers; i++) {
		struct rejoin *rj = malloc(sizeof(*rj));
		int r = rj ? 0 : -ENOMEM;
		if (rj) {
			*rj = (struct rejoin){ .s = s, .index = index };
			r = fe_engine_post(s->engine, i, rejoin_on_worker, rj);
		}
		if (r < 0) {
			free(rj);
			flog(LOG_LVL_ERR, "reload: %s: worker %u keeps the old joins: %s",
			     s->inst[index].pc->name, i, strerror(-r));
		}
	}
}

/* A list file read again for a reload (no file: an empty list); NULL when
 * it cannot be used, with the reason logged and the old list kept. */
static struct client_list *reread(const struct proxy_config *pc, const char *path,
				  bool servers)
{
	char err[512];
	const char *what = servers ? "server list (-S)" : "client list (-C)";
	struct client_list *c = calloc(1, sizeof(*c));
	if (!c) {
		flog(LOG_LVL_ERR, "reload: %s: %s: out of memory; kept the old one", pc->name,
		     what);
		return NULL;
	}
	if (path && proxy_peerlist_load(path, servers, &c->l, err, sizeof(err)) < 0) {
		flog(LOG_LVL_ERR, "reload: %s: %s: %s; kept the old one", pc->name, what, err);
		free(c);
		return NULL;
	}
	return c;
}

/* -S: read again; a changed list is used for new sessions at once, and
 * the workers re-join the public addresses for its sources (SSM). */
static void reload_servers(struct proxy_shared *s, struct inst_shared *sh,
			   const struct proxy_config *pc)
{
	struct client_list *c = reread(pc, pc->server_list, true);
	if (!c)
		return;
	if (same_list(&c->l, proxy_server_list(sh))) {
		proxy_peerlist_free(&c->l);
		free(c);
		return;
	}
	c->older = sh->servers_now;
	__atomic_store_n(&sh->servers_now, c, __ATOMIC_RELEASE);
	flog(LOG_LVL_INFO, "reload: %s: server list (-S): %zu server(s)%s", pc->name,
	     c->l.n, c->l.n ? "" : ", any server may announce");
	post_rejoins(s, sh->index);
}

static void reload_clients(struct inst_shared *sh, const struct proxy_config *pc)
{
	struct client_list *c = reread(pc, pc->client_list, false);
	if (!c)
		return;
	c->older = sh->clients_now;
	__atomic_store_n(&sh->clients_now, c, __ATOMIC_RELEASE);
	flog(LOG_LVL_INFO, "reload: %s: client list (-C): %zu client(s)%s", pc->name,
	     c->l.n, c->l.n ? "" : ", anyone may register");
}

void proxy_shared_reload(struct proxy_shared *s, const struct ferry_config *cfg)
{
	for (size_t i = 0; s && i < s->count && i < cfg->proxy_count; i++) {
		reload_clients(&s->inst[i], &cfg->proxies[i]);
		reload_servers(s, &s->inst[i], &cfg->proxies[i]);
	}
}
