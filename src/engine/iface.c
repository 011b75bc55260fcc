/* iface.c — turns interface names, host names and IP literals into
 * addresses and indexes, as the -I, -O and -H flags need. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <string.h>
#include <stdio.h>

#include "ferry/iface.h"

socklen_t addr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

uint16_t addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
}

void addr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

const char *addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	const void *a = sa->sa_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	inet_ntop(sa->sa_family, a, ip, sizeof(ip));
	uint16_t port = addr_port(sa);
	if (!port)
		snprintf(buf, len, "%s", ip);
	else if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
	return buf;
}

int addr_resolve(const char *host, uint16_t port, int family,
		 struct sockaddr_storage *out)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	int r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0)
		return r == EAI_SYSTEM ? -errno : -ENOENT;
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	addr_set_port(out, port);
	return 0;
}

static bool usable(const struct ifaddrs *ifa, int family)
{
	return ifa->ifa_addr && (ifa->ifa_flags & IFF_UP) &&
	       (family == AF_UNSPEC || ifa->ifa_addr->sa_family == family) &&
	       (ifa->ifa_addr->sa_family == AF_INET ||
		ifa->ifa_addr->sa_family == AF_INET6);
}

static void fill(struct fe_iface *out, const struct ifaddrs *ifa)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", ifa->ifa_name);
	out->index = if_nametoindex(ifa->ifa_name);
	memcpy(&out->addr, ifa->ifa_addr, addr_len(ifa->ifa_addr));
}

bool addr_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16);
}

/* By name first; else the spec is an address (or a host name resolving to
 * one) that must belong to a local interface. IPv4 wins under AF_UNSPEC. */
int iface_resolve(const char *spec, int family, struct fe_iface *out)
{
	struct ifaddrs *all, *ifa;
	if (getifaddrs(&all) < 0)
		return -errno;
	int r = -ENOENT;
	for (int pass = 0; pass < 2 && r; pass++) {
		int fam = family != AF_UNSPEC ? family : (pass ? AF_INET6 : AF_INET);
		for (ifa = all; ifa && r; ifa = ifa->ifa_next)
			if (usable(ifa, fam) && !strcmp(ifa->ifa_name, spec)) {
				fill(out, ifa);
				r = 0;
			}
	}
	struct sockaddr_storage want;
	if (r && addr_resolve(spec, 0, family, &want) == 0)
		for (ifa = all; ifa && r; ifa = ifa->ifa_next)
			if (usable(ifa, family) && addr_same_ip(ifa->ifa_addr, (const struct sockaddr *)&want)) {
				fill(out, ifa);
				r = 0;
			}
	freeifaddrs(all);
	return r;
}

int iface_list_multicast(int family, struct fe_iface *out, int max)
{
	struct ifaddrs *all;
	if (getifaddrs(&all) < 0)
		return -errno;
	int n = 0;
	for (struct ifaddrs *ifa = all; ifa && n < max; ifa = ifa->ifa_next) {
		if (!usable(ifa, family) || (ifa->ifa_flags & IFF_LOOPBACK) ||
		    !(ifa->ifa_flags & IFF_MULTICAST))
			continue;
		bool seen = false;
		for (int i = 0; i < n; i++)
			seen |= !strcmp(out[i].name, ifa->ifa_name);
		if (!seen)
			fill(&out[n++], ifa);
	}
	freeifaddrs(all);
	return n;
}

int iface_default_uid(uint32_t *uid)
{
	struct fe_iface f;
	if (iface_list_multicast(AF_UNSPEC, &f, 1) < 1)
		return -ENOENT;
	if (f.addr.ss_family == AF_INET) {
		*uid = ntohl(((struct sockaddr_in *)&f.addr)->sin_addr.s_addr);
	} else {
		const uint8_t *b = ((struct sockaddr_in6 *)&f.addr)->sin6_addr.s6_addr;
		*uid = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
		       (uint32_t)b[14] << 8 | b[15];
	}
	return 0;
}
