/* prefix.c — address prefixes ("198.18.0.0/15", "2001:db8::/32", or a
 * bare address): parsed once from the configuration, then matched against
 * peers, an IPv4-mapped IPv6 peer counting as its IPv4 address. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"

int fb_prefix_parse(const char *text, struct fb_prefix *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = '\0';
	memset(out, 0, sizeof(*out));
	unsigned max;
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	out->bits = max;
	if (slash) {
		char *end;
		long v = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || v < 0 || v > (long)max)
			return -EINVAL;
		out->bits = (unsigned)v;
	}
	return 0;
}

/* The peer's address bytes and family, an IPv4-mapped IPv6 one as IPv4. */
static const uint8_t *peer_bytes(const struct sockaddr_storage *a, int *family)
{
	if (a->ss_family == AF_INET) {
		*family = AF_INET;
		return (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
	}
	if (a->ss_family != AF_INET6)
		return NULL;
	const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(v6)) {
		*family = AF_INET;
		return v6->s6_addr + 12;
	}
	*family = AF_INET6;
	return v6->s6_addr;
}

bool fb_prefix_match(const struct fb_prefix *p, const struct sockaddr_storage *a)
{
	int family;
	const uint8_t *b = peer_bytes(a, &family);
	if (!b || family != p->family)
		return false;
	unsigned whole = p->bits / 8, rest = p->bits % 8;
	if (memcmp(b, p->addr, whole))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (b[whole] & mask) == (p->addr[whole] & mask);
}
