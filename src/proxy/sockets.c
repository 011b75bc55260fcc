/* sockets.c — opens each proxy instance's UDP sockets on a worker, joins its
 * public multicast addresses (one worker per address) and passes what
 * arrives to the dispatcher. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "ferry/proxy.h"
#include "internal.h"

unsigned proxy_join_owner(size_t addr_index, unsigned nworkers)
{
	return (unsigned)(addr_index % nworkers);
}

static void on_datagram(struct fe_udp *s, const struct fe_datagram *d, void *arg)
{
	(void)s;
	proxy_intake(arg, d->data, d->len, d->src);
}

/* Whether the configuration names an IPv6 address (then IPv6 is needed). */
static bool wants_v6(const struct proxy_config *pc)
{
	for (size_t i = 0; i < pc->pub_mcast.n; i++)
		if (strchr(pc->pub_mcast.v[i], ':'))
			return true;
	for (size_t i = 0; i < pc->hb_count; i++)
		if (strchr(pc->hb_servers[i].host, ':'))
			return true;
	return pc->dest && strchr(pc->dest, ':');
}

struct fe_udp *proxy_socket_open(struct instance *in, int family)
{
	struct fe_worker *w = in->pw->w;
	const struct proxy_config *pc = in->sh->pc;
	struct fe_udp_opts o = { .reuseport = true, .bufsize = pc->udp_buf_size,
				 .bufforce = pc->udp_buf_force,
				 .ttl = pc->ttl, .dscp = pc->dscp };
	o.bind.ss_family = (sa_family_t)family;
	fb_addr_set_port(&o.bind, pc->port);
	struct fb_iface out;
	if (pc->out_interface && fb_iface_resolve(pc->out_interface, family, &out) == 0) {
		o.mcast_ifindex = out.index;
		o.mcast_ifaddr = out.addr;
	}
	int err;
	struct fe_udp *s = fe_udp_open(w, &o, on_datagram, in, &err);
	if (!s)
		flog(LOG_LVL_ERR, "%s: UDP port %u (%s): %s", pc->name, pc->port,
		     family == AF_INET6 ? "IPv6" : "IPv4", strerror(-err));
	return s;
}

/* With -S, a public address is joined source-specifically for each listed
 * server (uftpproxyd(1)); without it, from any source. */
static int join_for_servers(struct instance *in, const struct sockaddr_storage *g)
{
	const struct peerlist *l = proxy_server_list(in->sh);
	if (!l->n)
		return proxy_membership_join(in, g, NULL);
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].addr.ss_family != g->ss_family)
			continue;
		int r = proxy_membership_join(in, g, &l->v[i].addr);
		if (r < 0)
			return r;
	}
	return 0;
}

static int join_public(struct fe_worker *w, struct instance *in)
{
	const struct proxy_config *pc = in->sh->pc;
	unsigned nw = fe_engine_workers(fe_worker_engine(w));
	for (size_t i = 0; i < pc->pub_mcast.n; i++) {
		if (proxy_join_owner(i, nw) != fe_worker_index(w))
			continue;
		struct sockaddr_storage g;
		if (fb_addr_resolve(pc->pub_mcast.v[i], 0, AF_UNSPEC, &g) < 0)
			return FERRY_EXIT_PARAM;
		int r = join_for_servers(in, &g);
		if (r < 0) {
			flog(LOG_LVL_ERR, "%s: join %s: %s", pc->name, pc->pub_mcast.v[i],
			     strerror(-r));
			return FERRY_EXIT_NET;
		}
		flog(LOG_LVL_VERB, "%s: worker %u joined %s", pc->name,
		     fe_worker_index(w), pc->pub_mcast.v[i]);
	}
	return 0;
}

static bool is_public(const struct proxy_config *pc, const struct sockaddr_storage *a)
{
	for (size_t i = 0; i < pc->pub_mcast.n; i++) {
		struct sockaddr_storage g;
		if (fb_addr_resolve(pc->pub_mcast.v[i], 0, AF_UNSPEC, &g) == 0 &&
		    fb_addr_same_ip((const struct sockaddr *)&g, (const struct sockaddr *)a))
			return true;
	}
	return false;
}

void proxy_rejoin_public(struct fe_worker *w, struct instance *in)
{
	if (in->sh->pc->role == PROXY_CLIENT)
		return;
	struct membership *m = in->joined, *next;
	for (; m; m = next) {
		next = m->next;
		if (is_public(in->sh->pc, &m->addr))
			proxy_membership_leave(in, &m->addr,
					       m->source.ss_family ? &m->source : NULL);
	}
	if (join_public(w, in) != 0)
		flog(LOG_LVL_ERR, "reload: %s: worker %u could not join its public "
		     "addresses again for the new server list", in->sh->pc->name,
		     fe_worker_index(w));
}

static int open_instance(struct fe_worker *w, struct instance *in)
{
	const struct proxy_config *pc = in->sh->pc;
	if (pc->out_interface) {
		struct fb_iface probe;
		if (fb_iface_resolve(pc->out_interface, AF_UNSPEC, &probe) < 0) {
			flog(LOG_LVL_ERR, "%s: unknown interface %s (-O)", pc->name,
			     pc->out_interface);
			return FERRY_EXIT_PARAM;
		}
	}
	if (!(in->v4 = proxy_socket_open(in, AF_INET)))
		return FERRY_EXIT_NET;
	/* As uftpproxyd, every proxy also listens on IPv6: a tunnel or a
	 * client may reach it either way. Without IPv6 in the kernel that is
	 * an error only when the configuration names an IPv6 address. */
	if (!(in->v6 = proxy_socket_open(in, AF_INET6))) {
		if (wants_v6(pc))
			return FERRY_EXIT_NET;
		if (fe_worker_index(w) == 0)
			flog(LOG_LVL_WARN, "%s: no IPv6 socket: listening on IPv4 only",
			     pc->name);
	}
	if (fe_worker_index(w) == 0)
		proxy_heartbeat_start(in);
	/* A client proxy hears only unicast from server proxies. */
	return pc->role == PROXY_CLIENT ? 0 : join_public(w, in);
}

int proxy_worker_init(struct fe_worker *w, struct proxy_shared *sh,
		      struct proxy_worker **out)
{
	struct proxy_worker *pw = calloc(1, sizeof(*pw) + sh->count * sizeof(pw->inst[0]));
	if (!pw)
		return FERRY_EXIT_ALLOC;
	pw->w = w;
	pw->shared = sh;
	pw->count = sh->count;
	int r = 0;
	for (size_t i = 0; i < sh->count && !r; i++) {
		pw->inst[i].sh = &sh->inst[i];
		pw->inst[i].pw = pw;
		r = open_instance(w, &pw->inst[i]);
	}
	if (r) {
		proxy_worker_fini(pw);
		return r;
	}
	sh->workers[fe_worker_index(w)] = pw;
	sh->engine = fe_worker_engine(w);
	*out = pw;
	return 0;
}

void proxy_worker_fini(struct proxy_worker *pw)
{
	if (!pw)
		return;
	for (size_t i = 0; i < pw->count; i++) {
		struct instance *in = &pw->inst[i];
		if (!in->sh)
			continue;
		while (in->groups)
			proxy_group_destroy(in->groups);
		while (in->joined)
			proxy_membership_leave(in, &in->joined->addr,
					 in->joined->source.ss_family ? &in->joined->source : NULL);
		fe_timer_cancel(pw->w, in->hb_timer);
		proxy_park_free(in);
		if (in->rx || in->dropped)
			flog(LOG_LVL_INFO, "%s: worker %u: %llu messages in, %llu forwarded, "
			     "%llu handed to other workers, %llu dropped", in->sh->pc->name,
			     fe_worker_index(pw->w), (unsigned long long)in->rx,
			     (unsigned long long)in->forwarded,
			     (unsigned long long)in->handed_off,
			     (unsigned long long)in->dropped);
		fe_udp_close(in->v4);
		fe_udp_close(in->v6);
	}
	if (pw->shared->workers[fe_worker_index(pw->w)] == pw)
		pw->shared->workers[fe_worker_index(pw->w)] = NULL;
	free(pw);
}
