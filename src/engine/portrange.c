/* portrange.c — a listening TCP socket on a free port of a given range: the
 * kernel picks one in a single call where it can (IP_LOCAL_PORT_RANGE), and
 * every port is tried in turn from a random start where it cannot. */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry/base.h"
#include "internal.h"

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51   /* Linux 6.3; glibc 2.36 does not name it */
#endif

/* Binds fd to port and listens: 0 or -errno. A listen that fails leaves fd
 * bound (*bound), so the next try needs a new socket. */
static int bind_listen(int fd, const struct sockaddr_storage *a, uint16_t port, bool *bound)
{
	struct sockaddr_storage at = *a;
	fb_addr_set_port(&at, port);
	if (bind(fd, (const struct sockaddr *)&at, fb_family_len(at.ss_family)) < 0)
		return -errno;
	*bound = true;
	return listen(fd, SOMAXCONN) < 0 ? -errno : 0;
}

/* The kernel's choice (Linux >= 6.3): 0 when fd listens inside [lo, hi];
 * -ENOPROTOOPT from an older kernel; -EADDRINUSE when it found no port —
 * it skips ports that only TIME_WAIT connections hold, which a bind of
 * that very port may reuse — or picked one outside the range, as it does
 * for the ends of [lo, hi] outside net.ipv4.ip_local_port_range. */
static int kernel_pick(int fd, const struct sockaddr_storage *a, uint16_t lo, uint16_t hi,
		       bool *bound)
{
	uint32_t range = (uint32_t)lo | (uint32_t)hi << 16;
	if (setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range)) < 0)
		return -errno;
	struct sockaddr_storage got;
	int r = bind_listen(fd, a, 0, bound);
	if (r == 0)
		r = fe_fd_local(fd, &got);
	if (r == 0) {
		uint16_t port = fb_addr_port((const struct sockaddr *)&got);
		r = port >= lo && port <= hi ? 0 : -EADDRINUSE;
	}
	return r;
}

/* Each port once, from a random one, wrapping: 0 when *fd listens. */
static int walk(int *fd, const struct sockaddr_storage *a, uint16_t lo, uint16_t hi,
		bool bound)
{
	uint32_t n = (uint32_t)(hi - lo) + 1, start = 0;
	if (getrandom(&start, sizeof(start), GRND_NONBLOCK) != sizeof(start))
		start = 0;
	int r = -EADDRINUSE;
	for (uint32_t i = 0; i < n && r == -EADDRINUSE; i++) {
		if (bound) {
			close(*fd);
			bound = false;
			if ((*fd = fe_tcp_socket(a->ss_family, false)) < 0)
				return *fd;
		}
		r = bind_listen(*fd, a, (uint16_t)(lo + (start + i) % n), &bound);
	}
	return r;
}

int fe_tcp_listen_in_range(const struct sockaddr_storage *a, uint16_t lo, uint16_t hi)
{
	assert(lo >= 1 && lo <= hi);
	bool bound = false;
	int fd = fe_tcp_socket(a->ss_family, false);
	if (fd < 0)
		return fd;
	int r = kernel_pick(fd, a, lo, hi, &bound);
	if (r == -ENOPROTOOPT || r == -EADDRINUSE)
		r = walk(&fd, a, lo, hi, bound);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}
