/* sockets.c — opens each proxy instance's UDP sockets on a worker, joins its
 * public multicast addresses (one worker per address) and takes in what
 * arrives. The role logic (forwarding, aggregation) builds on this intake. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/iface.h"
#include "ferry/log.h"
#include "ferry/proxy.h"

enum { MAX_IFACES = 64, UFTP_VERSION = 0x40, UFTP_HEADER = 16 };

struct instance {
	const struct proxy_config *pc;
	struct fe_udp *v4, *v6;
	uint64_t rx, dropped;
};

struct proxy_worker {
	struct fe_worker *w;
	size_t count;
	struct instance inst[];
};

unsigned proxy_join_owner(size_t addr_index, unsigned nworkers)
{
	return (unsigned)(addr_index % nworkers);
}

/* Until the roles land, a datagram is checked for a UFTP 4 header, counted
 * and dropped; the counters say what would have been handled. */
static void on_datagram(struct fe_udp *s, const struct fe_datagram *d, void *arg)
{
	struct instance *in = arg;
	(void)s;
	char from[64];
	if (d->len < UFTP_HEADER || d->data[0] != UFTP_VERSION) {
		in->dropped++;
		flog(LOG_LVL_DEBUG, "%s: dropped %zu bytes from %s: not UFTP 4",
		     in->pc->name, d->len, addr_format(d->src, from, sizeof(from)));
		return;
	}
	in->rx++;
	uint32_t group;
	memcpy(&group, d->data + 8, sizeof(group));
	glog(LOG_LVL_TRACE, ntohl(group), d->data[12], 0,
	     "%s: message type %u from %s", in->pc->name, d->data[1],
	     addr_format(d->src, from, sizeof(from)));
}

/* The interfaces to join on: -I as given, else every multicast interface. */
static int join_ifaces(const struct proxy_config *pc, int family,
		       struct fe_iface *out)
{
	if (!pc->interfaces.n)
		return iface_list_multicast(family, out, MAX_IFACES);
	int n = 0;
	for (size_t i = 0; i < pc->interfaces.n && n < MAX_IFACES; i++) {
		if (iface_resolve(pc->interfaces.v[i], family, &out[n]) == 0)
			n++;
		else if (iface_resolve(pc->interfaces.v[i], AF_UNSPEC, &out[n]) < 0)
			return -ENOENT;
	}
	return n;
}

static int join_all(struct fe_worker *w, struct instance *in)
{
	const struct proxy_config *pc = in->pc;
	unsigned nw = fe_engine_workers(fe_worker_engine(w));
	for (size_t i = 0; i < pc->pub_mcast.n; i++) {
		if (proxy_join_owner(i, nw) != fe_worker_index(w))
			continue;
		struct sockaddr_storage g;
		if (addr_resolve(pc->pub_mcast.v[i], 0, AF_UNSPEC, &g) < 0)
			return FERRY_EXIT_PARAM;
		struct fe_udp *s = g.ss_family == AF_INET6 ? in->v6 : in->v4;
		struct fe_iface ifs[MAX_IFACES];
		int n = join_ifaces(pc, g.ss_family, ifs);
		if (n < 0) {
			flog(LOG_LVL_ERR, "%s: unknown interface in -I", pc->name);
			return FERRY_EXIT_PARAM;
		}
		for (int k = 0; k < n || (n == 0 && k == 0); k++) {
			int r = fe_udp_join(s, (struct sockaddr *)&g, n ? ifs[k].index : 0, NULL);
			if (r < 0 && r != -EADDRINUSE) {
				flog(LOG_LVL_ERR, "%s: join %s on %s: %s", pc->name,
				     pc->pub_mcast.v[i], n ? ifs[k].name : "default",
				     strerror(-r));
				return FERRY_EXIT_NET;
			}
		}
		flog(LOG_LVL_VERB, "%s: worker %u joined %s", pc->name,
		     fe_worker_index(w), pc->pub_mcast.v[i]);
	}
	return 0;
}

static bool wants_v6(const struct proxy_config *pc)
{
	for (size_t i = 0; i < pc->pub_mcast.n; i++)
		if (strchr(pc->pub_mcast.v[i], ':'))
			return true;
	return false;
}

static struct fe_udp *open_one(struct fe_worker *w, struct instance *in, int family)
{
	const struct proxy_config *pc = in->pc;
	struct fe_udp_opts o = { .reuseport = true, .bufsize = pc->udp_buf_size,
				 .ttl = pc->ttl, .dscp = pc->dscp };
	o.bind.ss_family = (sa_family_t)family;
	addr_set_port(&o.bind, pc->port);
	struct fe_iface out;
	if (pc->out_interface && iface_resolve(pc->out_interface, family, &out) == 0) {
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

static int open_instance(struct fe_worker *w, struct instance *in)
{
	const struct proxy_config *pc = in->pc;
	if (pc->out_interface) {
		struct fe_iface probe;
		if (iface_resolve(pc->out_interface, AF_UNSPEC, &probe) < 0) {
			flog(LOG_LVL_ERR, "%s: unknown interface %s (-O)", pc->name,
			     pc->out_interface);
			return FERRY_EXIT_PARAM;
		}
	}
	in->v4 = open_one(w, in, AF_INET);
	if (!in->v4)
		return FERRY_EXIT_NET;
	if (wants_v6(pc) && !(in->v6 = open_one(w, in, AF_INET6)))
		return FERRY_EXIT_NET;
	if (pc->role == PROXY_CLIENT)
		return 0;   /* a client proxy hears only unicast from server proxies */
	return join_all(w, in);
}

int proxy_worker_init(struct fe_worker *w, const struct ferry_config *cfg,
		      struct proxy_worker **out)
{
	struct proxy_worker *pw = calloc(1, sizeof(*pw) +
					 cfg->proxy_count * sizeof(pw->inst[0]));
	if (!pw)
		return FERRY_EXIT_ALLOC;
	pw->w = w;
	pw->count = cfg->proxy_count;
	int r = 0;
	for (size_t i = 0; i < cfg->proxy_count && !r; i++) {
		pw->inst[i].pc = &cfg->proxies[i];
		r = open_instance(w, &pw->inst[i]);
	}
	if (r) {
		proxy_worker_fini(pw);
		return r;
	}
	*out = pw;
	return 0;
}

void proxy_worker_fini(struct proxy_worker *pw)
{
	if (!pw)
		return;
	for (size_t i = 0; i < pw->count; i++) {
		struct instance *in = &pw->inst[i];
		if (in->rx || in->dropped)
			flog(LOG_LVL_INFO, "%s: worker %u: %llu UFTP messages taken in, "
			     "%llu dropped", in->pc->name, fe_worker_index(pw->w),
			     (unsigned long long)in->rx, (unsigned long long)in->dropped);
		fe_udp_close(in->v4);
		fe_udp_close(in->v6);
	}
	free(pw);
}
