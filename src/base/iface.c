/* iface.c — turns interface names, host names and IP literals into
 * addresses and indexes, as the -I, -O and -H flags need. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <string.h>
#include <stdio.h>

#include "ferry/base.h"

static bool usable(const struct ifaddrs *ifa, int family)
{
	return ifa->ifa_addr && (ifa->ifa_flags & IFF_UP) &&
	       (family == AF_UNSPEC || ifa->ifa_addr->sa_family == family) &&
	       (ifa->ifa_addr->sa_family == AF_INET ||
		ifa->ifa_addr->sa_family == AF_INET6);
}

static void fill(struct fb_iface *out, const struct ifaddrs *ifa)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", ifa->ifa_name);
	out->index = if_nametoindex(ifa->ifa_name);
	memcpy(&out->addr, ifa->ifa_addr, fb_addr_len(ifa->ifa_addr));
}

/* By name first; else the spec is an address (or a host name resolving to
 * one) that must belong to a local interface. IPv4 wins under AF_UNSPEC. */
int fb_iface_resolve(const char *spec, int family, struct fb_iface *out)
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
	if (r && fb_addr_resolve(spec, 0, family, &want) == 0)
		for (ifa = all; ifa && r; ifa = ifa->ifa_next)
			if (usable(ifa, family) && fb_addr_same_ip(ifa->ifa_addr, (const struct sockaddr *)&want)) {
				fill(out, ifa);
				r = 0;
			}
	freeifaddrs(all);
	return r;
}

int fb_iface_list_multicast(int family, struct fb_iface *out, int max)
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

int fb_iface_default_uid(uint32_t *uid)
{
	struct fb_iface f;
	if (fb_iface_list_multicast(AF_UNSPEC, &f, 1) < 1)
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
