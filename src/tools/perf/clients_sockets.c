/* clients_sockets.c — the sockets of ferry-perf clients: the server's, the
 * clients' ports and addresses, multicast membership, the epoll set. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clients.h"

static void big_buffers(int fd, int bytes)
{
	/* SO_*BUFFORCE passes rmem_max when root; otherwise take what we get. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

static int udp_bound(const struct sockaddr_storage *a, bool reuse, int buf)
{
	int fd = socket(a->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	if (reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (buf)
		big_buffers(fd, buf);
	if (bind(fd, (const struct sockaddr *)a, perf_addr_len(a)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int watch(struct ctx *c, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	return epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev);
}


static void raise_fd_limit(size_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int join(int fd, struct in_addr grp, struct in_addr ifa)
{
	struct ip_mreq m = { .imr_multiaddr = grp, .imr_interface = ifa };
	return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m));
}

int perf_cl_open_sockets(struct ctx *c)
{
	const struct opts *o = &c->o;
	char a[64];
	if ((c->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	c->server_fd = udp_bound(&o->server_bind, false, 8 << 20);
	if (c->server_fd < 0) {
		fprintf(stderr, "ferry-perf: server socket %s: %s\n",
			perf_addr_str(&o->server_bind, a, sizeof(a)), strerror(errno));
		return -1;
	}
	watch(c, c->server_fd, TAG_SERVER);
	c->mcast_fd = -1;
	if (o->client_mode || o->keyex) {   /* PROXY_KEY, KEYINFO: multicast */
		struct sockaddr_in any = { .sin_family = AF_INET,
					   .sin_port = htons(o->dest_port) };
		struct sockaddr_storage ss = { 0 };
		memcpy(&ss, &any, sizeof(any));
		c->mcast_fd = udp_bound(&ss, true, 8 << 20);
		if (c->mcast_fd < 0 || join(c->mcast_fd, o->pub, o->mcast_if) < 0 ||
		    join(c->mcast_fd, o->priv, o->mcast_if) < 0) {
			fprintf(stderr, "ferry-perf: multicast socket on port %u: %s\n",
				o->dest_port, strerror(errno));
			return -1;
		}
		watch(c, c->mcast_fd, TAG_MCAST);
	}
	c->nfds = o->ports;
	raise_fd_limit(c->nfds + 64);
	if (!(c->fds = calloc(c->nfds, sizeof(*c->fds))))
		return -1;
	for (size_t i = 0; i < c->nfds; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr = o->addrs[i % o->naddrs] };
		struct sockaddr_storage ss = { 0 };
		memcpy(&ss, &sin, sizeof(sin));
		if ((c->fds[i] = udp_bound(&ss, false, 0)) < 0) {
			fprintf(stderr, "ferry-perf: client socket %zu on %s: %s\n", i,
				perf_addr_str(&ss, a, sizeof(a)), strerror(errno));
			c->nfds = i;
			return -1;
		}
		watch(c, c->fds[i], TAG_CLIENT + i);
	}
	return 0;
}

void perf_cl_close_sockets(struct ctx *c)
{
	for (size_t i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	if (c->mcast_fd >= 0)
		close(c->mcast_fd);
	if (c->server_fd >= 0)
		close(c->server_fd);
	if (c->ep >= 0)
		close(c->ep);
}
