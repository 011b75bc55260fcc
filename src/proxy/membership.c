/* membership.c — the multicast groups a worker has joined, counted by their
 * users, on the instance's own socket until the kernel refuses more
 * (IP_MAX_MEMBERSHIPS: net.ipv4.igmp_max_memberships, 20 per socket by
 * default), then on extra sockets on the same port, closed when empty. */
#include <errno.h>
#include <stdlib.h>

#include "ferry/base.h"
#include "internal.h"

static bool same_source(const struct membership *m,
			const struct sockaddr_storage *source)
{
	if (!source)
		return m->source.ss_family == 0;
	return fb_addr_same_host(&m->source, source);
}

static size_t join_ifs(const struct instance *in)
{
	return in->sh->njoin_if ? in->sh->njoin_if : 1;
}

static unsigned join_if(const struct instance *in, size_t i)
{
	return in->sh->njoin_if ? in->sh->join_if[i] : 0;
}

/* (group, source) on every join interface of socket s, or on none. */
static int join_on(struct instance *in, struct fe_udp *s,
		   const struct sockaddr_storage *grp, const struct sockaddr *src)
{
	for (size_t i = 0; i < join_ifs(in); i++) {
		int r = fe_udp_join(s, (const struct sockaddr *)grp, join_if(in, i), src);
		if (r < 0 && r != -EADDRINUSE) {
			while (i--)
				fe_udp_leave(s, (const struct sockaddr *)grp, join_if(in, i), src);
			return r;
		}
	}
	return 0;
}

/* The instance's socket is full: an extra socket with room, or a new one. */
static int join_extra(struct instance *in, const struct sockaddr_storage *grp,
		      const struct sockaddr *src, struct msock **on)
{
	for (struct msock *x = in->msocks; x; x = x->next) {
		if (x->family != grp->ss_family)
			continue;
		int r = join_on(in, x->s, grp, src);
		if (r != -ENOBUFS) {
			*on = x;
			return r;
		}
	}
	struct msock *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	if (!(x->s = proxy_socket_open(in, grp->ss_family))) {
		free(x);
		return -ENOBUFS;
	}
	x->family = grp->ss_family;
	int r = join_on(in, x->s, grp, src);
	if (r < 0) {
		fe_udp_close(x->s);
		free(x);
		return r;
	}
	x->next = in->msocks;
	in->msocks = x;
	*on = x;
	return 0;
}

int proxy_membership_join(struct instance *in, const struct sockaddr_storage *grp,
			  const struct sockaddr_storage *source)
{
	for (struct membership *m = in->joined; m; m = m->next)
		if (fb_addr_same_host(&m->addr, grp) && same_source(m, source)) {
			m->users++;
			return 0;
		}
	struct fe_udp *s = grp->ss_family == AF_INET6 ? in->v6 : in->v4;
	const struct sockaddr *src = (const struct sockaddr *)source;
	struct msock *on = NULL;
	if (!s)
		return -EAFNOSUPPORT;
	int r = join_on(in, s, grp, src);
	if (r == -ENOBUFS)
		r = join_extra(in, grp, src, &on);
	if (r < 0)
		return r;
	struct membership *m = calloc(1, sizeof(*m));
	if (!m) {
		for (size_t i = 0; i < join_ifs(in); i++)
			fe_udp_leave(on ? on->s : s, (const struct sockaddr *)grp,
				     join_if(in, i), src);
		return -ENOMEM;
	}
	m->addr = *grp;
	if (source)
		m->source = *source;
	m->users = 1;
	m->on = on;
	if (on)
		on->members++;
	m->next = in->joined;
	in->joined = m;
	return 0;
}

static void msock_release(struct instance *in, struct msock *x)
{
	if (--x->members)
		return;
	for (struct msock **p = &in->msocks; *p; p = &(*p)->next)
		if (*p == x) {
			*p = x->next;
			break;
		}
	fe_udp_close(x->s);
	free(x);
}

void proxy_membership_leave(struct instance *in, const struct sockaddr_storage *grp,
			    const struct sockaddr_storage *source)
{
	for (struct membership **p = &in->joined; *p; p = &(*p)->next) {
		struct membership *m = *p;
		if (!fb_addr_same_host(&m->addr, grp) || !same_source(m, source) || --m->users)
			continue;
		struct fe_udp *s = m->on ? m->on->s
					 : grp->ss_family == AF_INET6 ? in->v6 : in->v4;
		const struct sockaddr *src = source ? (const struct sockaddr *)source : NULL;
		for (size_t i = 0; s && i < join_ifs(in); i++)
			fe_udp_leave(s, (const struct sockaddr *)grp, join_if(in, i), src);
		if (m->on)
			msock_release(in, m->on);
		*p = m->next;
		free(m);
		return;
	}
}
