/* claim.c — one process per port: before this engine's workers first share
 * an address through SO_REUSEPORT, a probe bound without it proves that no
 * other process holds the address (a second ferryd would otherwise join the
 * port group and silently take part of the traffic). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/base.h"
#include "internal.h"

/* An address some of our sockets share: same type, family and port. The
 * workers' later binds (and other addresses on the same port, e.g. a
 * specific address beside the wildcard) need no probe: the port is ours. */
struct port_claim {
	struct port_claim *next;
	int type, family;
	uint16_t port;
	unsigned refs;          /* sockets bound under this claim */
};

/* Bound without SO_REUSEPORT (and, for UDP, without SO_REUSEADDR, which
 * lets UDP sockets share a port too), the probe fails with EADDRINUSE when
 * anyone holds the address. TCP keeps SO_REUSEADDR so that our own
 * connections left in TIME_WAIT do not block a restart: it never lets a
 * bind share a port with a listener. */
static int probe(int type, const struct sockaddr_storage *a)
{
	int one = 1;
	int fd = socket(a->ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = 0;
	if ((type == SOCK_STREAM &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
	    (a->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)a, fb_addr_len((const struct sockaddr *)a)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static struct port_claim *find(struct fe_engine *e, int type,
			       const struct sockaddr_storage *a)
{
	for (struct port_claim *c = e->claims; c; c = c->next)
		if (c->type == type && c->family == a->ss_family &&
		    c->port == fb_addr_port((const struct sockaddr *)a))
			return c;
	return NULL;
}

int fe_claim_bind(struct fe_worker *w, int fd, int type,
	       const struct sockaddr_storage *a, struct port_claim **out)
{
	struct fe_engine *e = w->eng;
	*out = NULL;
	if (fb_addr_port((const struct sockaddr *)a) == 0)          /* the kernel picks a free port */
		return bind(fd, (const struct sockaddr *)a, fb_addr_len((const struct sockaddr *)a)) < 0 ? -errno : 0;
	pthread_mutex_lock(&e->claim_lock);
	struct port_claim *c = find(e, type, a);
	int r = c ? 0 : probe(type, a);
	if (r == -EADDRINUSE) {
		char host[INET6_ADDRSTRLEN];
		fb_addr_text(a, host, sizeof(host));
		flog(LOG_LVL_ERR, "%s: %s %s port %u: address already in use "
		     "(another process holds it)", __func__,
		     type == SOCK_STREAM ? "TCP" : "UDP", host, fb_addr_port((const struct sockaddr *)a));
	}
	if (r == 0 && !c && !(c = calloc(1, sizeof(*c))))
		r = -ENOMEM;
	if (r == 0 && bind(fd, (const struct sockaddr *)a, fb_addr_len((const struct sockaddr *)a)) < 0)
		r = -errno;
	if (r == 0) {
		if (!c->refs++) {
			c->type = type;
			c->family = a->ss_family;
			c->port = fb_addr_port((const struct sockaddr *)a);
			c->next = e->claims;
			e->claims = c;
		}
		*out = c;
	} else if (c && !c->refs) {
		free(c);
	}
	pthread_mutex_unlock(&e->claim_lock);
	return r;
}

void fe_claim_release(struct fe_engine *e, struct port_claim *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&e->claim_lock);
	if (--c->refs == 0) {
		for (struct port_claim **p = &e->claims; *p; p = &(*p)->next)
			if (*p == c) {
				*p = c->next;
				break;
			}
		free(c);
	}
	pthread_mutex_unlock(&e->claim_lock);
}
