/* rig.h — what the proxy tests share: engine callbacks that start and stop
 * the proxy on each worker, and loopback UDP sockets for fake peers. */
#ifndef FERRY_TEST_PROXY_RIG_H
#define FERRY_TEST_PROXY_RIG_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "ferry/engine.h"
#include "ferry/proxy.h"

/* Engine arg: the address of the test's struct proxy_shared pointer, which
 * is set before the engine starts. */
static int rig_worker_init(struct fe_worker *w, void *arg)
{
	struct proxy_worker *pw = NULL;
	int rc = proxy_worker_init(w, *(struct proxy_shared **)arg, &pw);
	fe_worker_set_data(w, pw);
	return rc;
}

static void rig_worker_fini(struct fe_worker *w, void *arg)
{
	(void)arg;
	proxy_worker_fini(fe_worker_data(w));
}

/* A socket bound to 127.0.0.1 on a free port (written to *port if asked). */
static int rig_udp_socket(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	if (port)
		*port = ntohs(a.sin_port);
	return fd;
}

/* A port that was free a moment ago. */
static uint16_t rig_free_port(void)
{
	uint16_t port = 0;
	int fd = rig_udp_socket(&port);
	if (fd >= 0)
		close(fd);
	return port;
}

#endif
