/* forward.c — where a message goes next: a server proxy sends the server's
 * traffic to its downstream proxy, a client proxy re-multicasts it (public
 * address for ANNOUNCE, private for the rest), replies go back upstream. */
#include <string.h>

#include "ferry/base.h"
#include "internal.h"

int proxy_send_to(struct instance *in, const struct sockaddr_storage *dst,
	    const void *data, size_t len)
{
	struct fe_udp *s = dst->ss_family == AF_INET6 ? in->v6 : in->v4;
	if (!s)
		return -1;
	int r = fe_udp_send(s, (const struct sockaddr *)dst,
			    fb_addr_len((const struct sockaddr *)dst), data, len);
	if (r == 0)
		in->forwarded++;
	else
		proxy_drop(in, PROXY_DROP_SEND);
	return r;
}

bool proxy_downstream(struct inst_shared *sh, struct sockaddr_storage *out)
{
	if (sh->down_static) {
		if (out)
			*out = sh->down;
		return true;
	}
	pthread_mutex_lock(&sh->down_lock);
	bool known = sh->down_known;
	if (out)
		*out = sh->down;
	pthread_mutex_unlock(&sh->down_lock);
	return known;
}

void proxy_forward_down(struct group *g, const struct pmsg *m)
{
	struct sockaddr_storage dst;
	switch (g->in->sh->pc->role) {
	case PROXY_SERVER:
		if (proxy_downstream(g->in->sh, &dst))
			proxy_send_to(g->in, &dst, m->raw, m->len);
		break;
	case PROXY_CLIENT:
		proxy_send_to(g->in, m->hdr.func == UFTP_ANNOUNCE ? &g->pub : &g->priv, m->raw, m->len);
		break;
	default:
		break;   /* a response proxy's clients hear the server directly */
	}
}

void proxy_forward_up(struct instance *in, const struct sockaddr_storage *up,
		const struct pmsg *m)
{
	proxy_send_to(in, up, m->raw, m->len);
}
